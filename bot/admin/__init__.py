"""What Brickwork's admins (``BRICKWORK_ADMINS``) can do in Slack, and the trail it leaves.

- ``service``: importing the org chart from a CSV shared with the bot in a DM, forgetting a
  person who left, and the programme's health in counts (never a count small enough to point
  at anyone). Each is authorised by ``bot.people.access`` and recorded.
- ``audit``: the record of every admin action and every refused attempt — who, what, to whom
  or what, when, how it ended — and its summary for admins.
"""
