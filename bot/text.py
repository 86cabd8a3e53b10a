"""User text is data: what a person typed is escaped before it goes into mrkdwn."""

from __future__ import annotations


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as control characters in message text.

    With ``&``, ``<`` and ``>`` escaped, ``<!channel>`` or ``<https://evil|bank>`` typed by a
    person shows as typed and pings or links nobody.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def user_mention(slack_user_id: str) -> str:
    return f"<@{slack_user_id}>"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def slack_date(moment_unix: int, fmt: str, fallback: str) -> str:
    """Slack's date token: every reader sees ``moment`` in their own time zone."""
    return f"<!date^{moment_unix}^{fmt}|{fallback}>"
