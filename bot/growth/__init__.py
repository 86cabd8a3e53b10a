"""Growth: what the feedback says for a person now, read through the growth analytics
(``bot.analytics``), and a person's ratings of themself.

- ``service`` — ``/growth``: a person's reading (calibrated levels, trends, evidence, growth
  areas, strengths, and for the person alone their blind spots and hidden strengths); a
  manager's reading of a report; self-assessments (``/growth self``).
"""
