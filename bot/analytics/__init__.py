"""Growth analytics: what the ratings say about a person, read the way a careful analyst would.

Pure functions over plain data (no database, no Slack): the callers hand in ratings already on
the 1-5 scale and already filtered to what the reader may see (anonymous ratings only once
released), and get back readings they can show.

- ``calibration`` — each rating read against its rater's habits: an additive facets model
  (rating = the person's level on the KPI + the rater's leniency + noise), fitted jointly over
  all ratings, each leniency shrunk toward zero by how little the rater has been seen;
- ``readings`` — per person and KPI: raw and calibrated averages, the trend, the evidence; and
  from them growth areas, strengths, blind spots and hidden strengths, or "not enough
  feedback yet";
- ``synthetic`` — a company with known true levels and known rater habits, for the tests, the
  benchmarks and the demo.
"""
