"""The talent review: leadership readiness and the delivery x leadership map, on demonstrated
behaviour, with its evidence, its uncertainty and its bias in view.

- ``rules`` — the talent file (``bot/data/talent.toml`` or ``BRICKWORK_TALENT_FILE``): readiness
  thresholds, the map's cuts, succession roles;
- ``evidence`` — everyone's figures at once, as arrays: per KPI raw and calibrated levels with
  their evidence, per dimension a level with its interval, ratings by rater kind per team;
- ``readiness`` — a category and the rule behind it in words; a person's cell on the map;
- ``bias`` — rater habits (named ratings only) and personality words in notes;
- ``chart`` — the map as a PNG; ``report`` — the CSV, the map as text, the bias report's lines;
- ``service`` — the review from the database, a manager's team, HR's review, succession;
- ``sample`` — a synthetic company written into the database (demo, tests, bench).
"""
