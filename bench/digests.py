"""What building every weekly digest costs, against one aggregate query over the same rows.

Seeds a company — ``--people`` people in teams of 20, each with ``--items`` feedback items from
3-8 of their teammates (ratings on every KPI, some "not observed", some anonymous and
released, raters with their own leniency), a few open requests and self-assessments — into a
temporary SQLite database (or the PostgreSQL database ``--database-url`` names: its tables are
dropped and made again), then prints, per size:

- seconds to build every digest (the growth readings, calibration fitted once, the digest
  card and its Block Kit message) without sending any, to enqueue them (who is due), and to
  build those due for a tick's sending (``prepare_digests``, as the scheduler does);
- SQL statements issued for each, and per 1,000 people;
- the peak RSS of the process while building;
- the floor: one aggregate SQL query over the same ratings (the mean per person and KPI),
  timed in the same run, and the ratio.

Run: ``.venv/bin/python bench/digests.py [--people 10000 100000] [--database-url URL]``.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import event, func, insert, text, update
from sqlmodel import SQLModel, select

from bot.app import build_app
from bot.settings import load_settings
from handlers.views import growth as growth_views
from storage.migrate import upgrade
from storage.models import (
    Feedback,
    FeedbackRequest,
    FeedbackSource,
    Person,
    Project,
    ProjectState,
    Rating,
    Relation,
    RequestState,
    SelfAssessment,
    SelfRating,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday, after everyone's 09:00
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "America/Los_Angeles")
TEAM = 20
SCALE = (
    "quality",
    "timeliness",
    "inspires",
    "decides",
    "innovates",
    "collaborates",
    "delegates",
    "motivates",
)
LEADERSHIP = {"inspires", "decides", "innovates", "collaborates", "delegates", "motivates"}


PROJECTS_PER_TEAM = 8


def project_of(team: int, item: int, raters: int) -> int:
    """The project of a subject's ``item``: each of a rater's items from another of the team's."""
    return team // TEAM * PROJECTS_PER_TEAM + (item // raters) % PROJECTS_PER_TEAM + 1


def seed(url: str, people: int, items: int, seed_value: int = 7, *, org: bool = False) -> int:
    """The company, written with a few bulk inserts; the number of ratings. ``org``: also each
    team's first person as everyone else's confirmed manager, and feedback from the team's
    projects (``PROJECTS_PER_TEAM`` each) instead of outside projects."""
    rng = random.Random(seed_value)
    engine = build_database(url)
    true_level = [[rng.gauss(3.4, 0.6) for _ in SCALE] for _ in range(people)]
    leniency = [rng.choice((1.0, -1.0)) if rng.random() < 0.1 else rng.gauss(0, 0.2) for _ in range(people)]
    ratings = 0
    with engine.begin() as connection:
        connection.execute(
            insert(Person),
            [
                {
                    "id": i + 1,
                    "slack_user_id": f"U{i + 1:09d}",
                    "name": f"Person {i + 1}",
                    "tz": ZONES[i % len(ZONES)],
                    "is_bot": False,
                    "deleted": False,
                    "digest_enabled": True,
                    "refreshed_at": NOW,
                    "created_at": NOW,
                }
                for i in range(people)
            ],
        )
        if org:
            connection.execute(
                update(Person)
                .where(Person.id != 1 + (Person.id - 1) // TEAM * TEAM)  # type: ignore[operator]
                .values(manager_id=1 + (Person.id - 1) // TEAM * TEAM)  # type: ignore[operator]
            )
            connection.execute(
                insert(Project),
                [
                    {
                        "id": team // TEAM * PROJECTS_PER_TEAM + n + 1,
                        "name": f"Project {team // TEAM}-{n}",
                        "lead_id": team + 1,
                        "created_by_id": team + 1,
                        "end_date": (NOW - timedelta(days=20 * n + 5)).date(),
                        "state": ProjectState.CLOSED,
                        "debrief_due_at": NOW - timedelta(days=20 * n + 5),
                        "reminder_due_at": NOW - timedelta(days=20 * n + 5),
                        "window_closes_at": NOW - timedelta(days=20 * n - 9),
                        "source_view_id": f"bench-{team}-{n}",
                        "created_at": NOW - timedelta(days=20 * n + 30),
                        "upward_feedback": "none",
                    }
                    for team in range(0, people, TEAM)
                    for n in range(PROJECTS_PER_TEAM)
                ],
            )
        feedback_id = 0
        for start in range(0, people, 500):
            feedback: list[dict[str, Any]] = []
            rows: list[dict[str, Any]] = []
            for subject in range(start, min(start + 500, people)):
                team = subject - subject % TEAM
                mates = [m for m in range(team, min(team + TEAM, people)) if m != subject]
                raters = rng.sample(mates, min(len(mates), rng.randint(3, 8)))
                for n in range(items):
                    giver = raters[n % len(raters)]
                    feedback_id += 1
                    anonymous = rng.random() < 0.1
                    at = NOW - timedelta(days=rng.uniform(0, 170))
                    feedback.append(
                        {
                            "id": feedback_id,
                            "giver_id": giver + 1,
                            "subject_id": subject + 1,
                            # Each rater's items come from different projects of the team.
                            "project_id": team // TEAM * PROJECTS_PER_TEAM
                            + (n // len(raters)) % PROJECTS_PER_TEAM
                            + 1
                            if org
                            else None,
                            "source": FeedbackSource.GIVEN,
                            "relation": Relation.MANAGER if giver == team else Relation.PEER,
                            "anonymous": anonymous,
                            "released_at": at,
                            "framework_version": "1",
                            "delivery_note": "",
                            "strengths_note": "",
                            "growth_note": "",
                            "about": "",
                            "created_at": at,
                            "updated_at": at,
                        }
                    )
                    rows.append(
                        {"feedback_id": feedback_id, "dimension": "delivery", "kpi": "target", "score": 2}
                    )
                    for k, kpi in enumerate(SCALE):
                        score = None
                        if kpi not in LEADERSHIP or rng.random() > 0.2:
                            value = true_level[subject][k] + leniency[giver] + rng.gauss(0, 0.5)
                            score = min(5, max(1, round(value)))
                        dimension = "leadership" if kpi in LEADERSHIP else "delivery"
                        rows.append(
                            {"feedback_id": feedback_id, "dimension": dimension, "kpi": kpi, "score": score}
                        )
            connection.execute(insert(Feedback), feedback)
            connection.execute(insert(Rating), rows)
            ratings += len(rows)
        connection.execute(
            insert(FeedbackRequest),
            [
                {
                    "requester_id": i + 1,
                    "giver_id": (i + 1) % people + 1,
                    "subject_id": i + 1,
                    "state": RequestState.OPEN,
                    "about": "",
                    "decline_reason": "",
                    "created_at": NOW - timedelta(days=3),
                }
                for i in range(0, people, 3)
            ],
        )
        selves = list(range(0, people, 4))
        connection.execute(
            insert(SelfAssessment),
            [
                {
                    "id": n + 1,
                    "person_id": i + 1,
                    "framework_version": "1",
                    "delivery_note": "",
                    "strengths_note": "",
                    "growth_note": "",
                    "created_at": NOW - timedelta(days=10),
                    "updated_at": NOW - timedelta(days=10),
                }
                for n, i in enumerate(selves)
            ],
        )
        connection.execute(
            insert(SelfRating),
            [
                {"assessment_id": n + 1, "dimension": "leadership", "kpi": kpi, "score": 5}
                for n, _ in enumerate(selves)
                for kpi in ("motivates", "delegates")
            ],
        )
    engine.dispose()
    return ratings


def build_database(url: str) -> Any:
    from sqlmodel import create_engine

    engine = create_engine(url)
    if url.startswith("postgresql"):
        with engine.begin() as connection:
            SQLModel.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(url)
    return engine


@contextmanager
def counted(engine: Any) -> Iterator[list[int]]:
    count = [0]

    def before(*_args: Any) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", before)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str, people: int, items: int) -> None:
    started = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        ratings = pool.submit(seed, url, people, items).result()  # its memory is not ours
    seeded = time.perf_counter() - started
    settings = load_settings(
        {},
        database_url=url,
        slack_bot_token="xoxb-bench",
        slack_signing_secret="bench",
        brickwork_weekly_digest=True,
    )
    app = build_app(settings, WebClient(token="xoxb-bench", base_url="http://127.0.0.1:9/"))
    digests, engine = app.services.digests, app.services.db.engine
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
        with counted(engine) as statements:
            started = time.perf_counter()
            built = sum(1 for card in digests.digests(NOW) if growth_views.digest_message(card))
            seconds = time.perf_counter() - started
        with counted(engine) as enqueue_statements:
            started = time.perf_counter()
            queued = digests.enqueue_digests(NOW)
            enqueue_seconds = time.perf_counter() - started
        with counted(engine) as prepare_statements:  # what a tick builds before sending them
            started = time.perf_counter()
            prepared = digests.prepare_digests(NOW + timedelta(minutes=61))
            prepare_seconds = time.perf_counter() - started
        print(
            f"{people:>7} people, {ratings:>9,} ratings (seeded in {seeded:.0f} s): "
            f"{built:,} digests built in {seconds:.2f} s, {statements[0]} statements "
            f"({statements[0] * 1000 / people:.1f} per 1,000 people); floor (one aggregate query) "
            f"{floor:.2f} s, ratio {seconds / floor:.1f}x; peak RSS {peak_rss_mb():.0f} MB "
            f"(before building {rss_before:.0f} MB); enqueued {queued:,} in {enqueue_seconds:.2f} s, "
            f"{enqueue_statements[0]} statements; built for sending {prepared:,} in {prepare_seconds:.2f} s, "
            f"{prepare_statements[0]} statements"
        )
    finally:
        app.close()


def run(description: str, measure: Callable[[str, int, int], None]) -> None:
    """The command line of a bench over this company: ``measure(url, people, items)`` per size,
    on a temporary SQLite database or the PostgreSQL one ``--database-url`` names."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--people", type=int, nargs="*", default=[10_000])
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL (its tables are dropped); default SQLite"
    )
    args = parser.parse_args()
    for people in args.people:
        if args.database_url:
            measure(args.database_url, people, args.items)
            continue
        with tempfile.TemporaryDirectory() as workdir:
            measure(f"sqlite:///{Path(workdir) / 'bench.db'}", people, args.items)


def main() -> None:
    run(__doc__.splitlines()[0], measure)


if __name__ == "__main__":
    main()
