"""People: who someone is in Slack (``directory``), who manages whom and leaving the programme
(``org_chart``), and who may see what (``access``, the one authorisation function)."""
