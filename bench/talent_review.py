"""What building the talent review for everyone costs, against one aggregate query over the
same rows.

Seeds the company of ``bench/digests.py`` with its org chart and projects (``--people`` people
in teams of 20 under their first person, each with ``--items`` feedback items from 3-8
teammates across the team's projects, some anonymous, raters with their own leniency) into a
temporary SQLite database (or the PostgreSQL database ``--database-url`` names: its tables are
dropped and made again), then prints, per size:

- seconds to build HR's review (every person's calibrated levels, intervals, readiness and cell,
  the bias report with rater habits fitted over named ratings, teams by rater kind and the
  personality-word shares of every note), to write its CSV and to draw the map;
- SQL statements issued;
- the peak RSS of the process (the seeding runs in a process of its own);
- the floor: one aggregate SQL query over the same ratings (the mean per person and KPI), timed
  in the same run, and the ratio.

Target (issue 10): under 30 s and under 300 MB for 10,000 people on this machine.

Run: ``.venv/bin/python bench/talent_review.py [--people 10000] [--database-url URL]``.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from slack_sdk import WebClient
from sqlmodel import func, select

sys.path.insert(0, str(Path(__file__).parent))

from digests import NOW, counted, peak_rss_mb, run, seed

from bot.app import build_app
from bot.settings import load_settings
from bot.talent.chart import render_map
from bot.talent.report import category_counts, csv_text, map_points
from storage.models import Feedback, Rating


def measure(url: str, people: int, items: int) -> None:
    started = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        ratings = pool.submit(seed, url, people, items, org=True).result()  # its memory is not ours
    seeded = time.perf_counter() - started
    settings = load_settings({}, database_url=url, slack_bot_token="xoxb-bench", slack_signing_secret="bench")
    app = build_app(
        settings, WebClient(token="xoxb-bench", base_url="http://127.0.0.1:9/"), clock=lambda: NOW
    )
    try:
        with app.services.db.transaction() as session:  # the floor: one aggregate query
            started = time.perf_counter()
            session.exec(
                select(Feedback.subject_id, Rating.kpi, func.avg(Rating.score))
                .join(Rating, Rating.feedback_id == Feedback.id)  # type: ignore[arg-type]
                .where(Feedback.released_at.is_not(None))  # type: ignore[union-attr]
                .group_by(Feedback.subject_id, Rating.kpi)
            ).all()
            floor = time.perf_counter() - started
        rss_before = peak_rss_mb()
        with counted(app.services.db.engine) as statements:
            started = time.perf_counter()
            review = app.services.talent.review(with_bias=True)
            built = time.perf_counter() - started
        started = time.perf_counter()
        table = csv_text(review)
        written = time.perf_counter() - started
        started = time.perf_counter()
        image = render_map(map_points(review), review.rules, title="bench")
        drawn = time.perf_counter() - started
        counts = ", ".join(f"{c.value} {n:,}" for c, n in category_counts(review).items())
        assert review.bias is not None
        print(
            f"{people:>7} people, {ratings:>9,} ratings (seeded in {seeded:.0f} s): review built in "
            f"{built:.2f} s ({statements[0]} statements), CSV {len(table) / 1e6:.1f} MB in {written:.2f} s, "
            f"map {len(image.png) / 1e3:.0f} kB in {drawn:.2f} s; total {built + written + drawn:.2f} s; "
            f"floor (one aggregate query) {floor:.2f} s, ratio {(built + written + drawn) / floor:.1f}x; "
            f"peak RSS {peak_rss_mb():.0f} MB (before building {rss_before:.0f} MB)\n"
            f"        categories: {counts}; rater habits sure: "
            f"{sum(1 for _, h in review.bias.habits if h.sure):,} of {len(review.bias.habits):,} measured"
        )
    finally:
        app.close()


def main() -> None:
    run(__doc__.splitlines()[0], measure)


if __name__ == "__main__":
    main()
