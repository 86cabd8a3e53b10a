"""Growth: what the feedback says for a person now, read through the growth analytics
(``bot.analytics``), a person's ratings of themself, and the weekly digest.

- ``service`` — ``/growth``: a person's reading (calibrated levels, trends, evidence, growth
  areas, strengths, and for the person alone their blind spots and hidden strengths); a
  manager's reading of a report; self-assessments (``/growth self``); the things to try and
  how they went.
- ``digests`` — the weekly DM digest: when it is due in each person's own time, what it says,
  enqueued once per person and week and built in batches for the outbox to send.
"""
