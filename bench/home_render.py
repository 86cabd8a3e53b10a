"""What an App Home costs to render as a person's feedback grows, against a floor measured in
the same run.

The real app (``build_app``) publishes the Home to the stand-in for Slack over loopback HTTP;
the database is a fresh SQLite file, or a fresh schema on the PostgreSQL server named by
``--database-url``. Seeded directly (bulk inserts, as years of use would leave them):

- people with 0, 100, 1,000 and 10,000 feedback items about them, from 200 different givers,
  released over the last ``--spread-weeks`` weeks (15% anonymous, released in batches; a few
  still held), with one request sent and one received for every ten items and a project for
  every hundred;
- a manager with 50 confirmed reports, each with 100 items.

For each, beside the Home, ``/growth`` (``GrowthService.card`` and its message) the same way:
read again (a person's reading is remembered until the ratings about them, their self-rating or
the calibration change) and the first read after a change.
For each: SQL statements per render (a ``before_cursor_execute`` listener on the engine), the
p50 of ``HomeService.data`` (the reads) and of ``HomeService.publish`` (reads, the pure view,
and ``views.publish`` to the stand-in), against the floor of one aggregate query over the same
rows (per KPI: count, sum and raters of the released ratings about the person, or about the
manager and their reports), and the ratio to the 100-item render.

Run: ``.venv/bin/python bench/home_render.py [--database-url URL] [--rounds N]``.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlmodel import col

from bot.app import build_app
from bot.settings import load_settings, normalise_database_url
from bot.standin.webapi import FakeSlack, FakeUser
from handlers.views import growth as growth_views
from storage import migrate
from storage.models import (
    DebriefTask,
    Feedback,
    FeedbackRequest,
    FeedbackSource,
    Person,
    Project,
    ProjectMember,
    ProjectState,
    Rating,
    Relation,
    RequestState,
    TaskKind,
    UpwardFeedback,
)

SIZES = (0, 100, 1_000, 10_000)
GIVERS = 200
REPORTS = 50
REPORT_ITEMS = 100
KPIS = (
    ("delivery", "target_met", (0, 2)),
    ("delivery", "quality", (1, 5)),
    ("delivery", "timeliness", (1, 5)),
    ("leadership", "inspires", (1, 5)),
    ("leadership", "decides", (1, 5)),
    ("leadership", "innovates", (1, 5)),
    ("leadership", "collaborates", (1, 5)),
    ("leadership", "delegates", (1, 5)),
    ("leadership", "motivates", (1, 5)),
)


@contextmanager
def fresh_database(url: str | None, *, migrated: bool = True) -> Iterator[str]:
    """A new SQLite file, or a new schema on the PostgreSQL server at ``url``; dropped after."""
    if url is None:
        with tempfile.TemporaryDirectory() as tmp:
            path = f"sqlite:///{Path(tmp) / 'home.db'}"
            if migrated:
                migrate.upgrade(path)
            yield path
        return
    base = make_url(normalise_database_url(url))
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    try:
        if migrated:
            migrate.upgrade(scoped)
        yield scoped
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def framework_kpis(services: Any) -> list[tuple[str, str, tuple[int, int]]]:
    """The framework's KPIs with their score ranges (the bench's table is only a fallback)."""
    found = []
    for kpi in services.framework.kpis:
        low, high = (0, 2) if kpi.kind.value == "outcome" else (1, 5)
        found.append((kpi.dimension.value, kpi.key, (low, high)))
    return found or list(KPIS)


class Seeder:
    def __init__(self, engine: Any, now: datetime, spread_weeks: int, kpis: list[Any]) -> None:
        self.engine, self.now, self.kpis = engine, now, kpis
        self.spread = timedelta(weeks=spread_weeks)
        self.random = random.Random(7)
        self.views = 0

    def people(self, rows: list[dict[str, Any]]) -> list[int]:
        with self.engine.begin() as connection:
            for row in rows:
                row.setdefault("tz", "UTC")
                row.setdefault("refreshed_at", self.now)  # fresh: no users.info while rendering
                row.setdefault("created_at", self.now)
            connection.execute(insert(Person), rows)
            ids = connection.execute(
                select(Person.id, Person.slack_user_id).where(
                    col(Person.slack_user_id).in_([r["slack_user_id"] for r in rows])
                )
            ).all()
        by_slack = {slack_id: pid for pid, slack_id in ids}
        return [by_slack[r["slack_user_id"]] for r in rows]

    def feedback(self, subject_id: int, givers: list[int], count: int) -> None:
        if not count:
            return
        rows, ratings = [], []
        for i in range(count):
            at = self.now - self.spread * self.random.random()
            anonymous = self.random.random() < 0.15
            held = anonymous and self.random.random() < 0.05
            released = None
            if not held:
                released = at if not anonymous else at.replace(hour=9, minute=0, second=0, microsecond=0)
                released = min(released, self.now)
            self.views += 1
            rows.append(
                {
                    "giver_id": givers[i % len(givers)],
                    "subject_id": subject_id,
                    "source": FeedbackSource.GIVEN,
                    "relation": Relation.PEER,
                    "source_view_id": f"V{self.views:09d}",
                    "about": "the quarterly launch",
                    "anonymous": anonymous,
                    "released_at": released,
                    "framework_version": "1",
                    "delivery_note": "Shipped on time, careful rollout." if i % 3 == 0 else "",
                    "strengths_note": "Runs a calm incident review." if i % 4 == 0 else "",
                    "growth_note": "",
                    "created_at": at,
                    "updated_at": at,
                }
            )
        with self.engine.begin() as connection:
            first = connection.execute(select(func.coalesce(func.max(Feedback.id), 0))).scalar_one()
            connection.execute(insert(Feedback), rows)
            ids = connection.execute(
                select(Feedback.id).where(col(Feedback.id) > first).order_by(col(Feedback.id))
            ).scalars()
            for fid in ids:
                for dimension, kpi, (low, high) in self.kpis:
                    score = None if self.random.random() < 0.1 else self.random.randint(low, high)
                    ratings.append({"feedback_id": fid, "dimension": dimension, "kpi": kpi, "score": score})
            connection.execute(insert(Rating), ratings)

    def requests(self, person_id: int, others: list[int], count: int) -> None:
        rows = []
        states = [RequestState.ANSWERED, RequestState.DECLINED, RequestState.WITHDRAWN, RequestState.OPEN]
        for i in range(count):
            other = others[i % len(others)]
            requester, giver = (person_id, other) if i % 2 == 0 else (other, person_id)
            recent = i % 5 == 0 and i < len(others)  # at most one open per pair (a unique index)
            at = self.now - (timedelta(days=self.random.randint(0, 10)) if recent else self.spread / 2)
            state = RequestState.OPEN if recent else states[i % len(states)]
            if state is RequestState.OPEN and not recent:
                state = RequestState.WITHDRAWN  # an old open request: past the window, reads closed
            rows.append(
                {
                    "requester_id": requester,
                    "giver_id": giver,
                    "subject_id": requester,
                    "about": "the design review",
                    "state": state,
                    "decline_reason": "",
                    "created_at": at,
                }
            )
        if rows:
            with self.engine.begin() as connection:
                connection.execute(insert(FeedbackRequest), rows)

    def projects(self, person_id: int, others: list[int], count: int) -> None:
        for i in range(count):
            end = (self.now - self.spread * (i / max(count, 1))).date()
            due = datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=1)
            lead = others[i % len(others)]
            members = [person_id, *self.random.sample([o for o in others if o != lead], 4)]
            with self.engine.begin() as connection:
                pid = connection.execute(
                    insert(Project)
                    .values(
                        name=f"Project {i}",
                        lead_id=lead,
                        created_by_id=lead,
                        end_date=end,
                        upward_feedback=UpwardFeedback.NAMED,
                        state=ProjectState.CLOSED,
                        debrief_due_at=due,
                        reminder_due_at=due + timedelta(days=1),
                        window_closes_at=due + timedelta(days=5),
                        source_view_id=f"P{uuid.uuid4().hex[:20]}",
                        created_at=self.now,
                    )
                    .returning(Project.id)
                ).scalar_one()
                connection.execute(
                    insert(ProjectMember), [{"project_id": pid, "person_id": m} for m in members]
                )
                tasks = [
                    {"project_id": pid, "giver_id": lead, "subject_id": m, "kind": TaskKind.LEAD_REVIEW}
                    for m in members
                ] + [
                    {"project_id": pid, "giver_id": m, "subject_id": lead, "kind": TaskKind.UPWARD}
                    for m in members
                ]
                connection.execute(insert(DebriefTask), tasks)


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (default: a SQLite file)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--spread-weeks", type=int, default=52, help="feedback spread over this many weeks")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)

    subjects = [FakeUser(id=f"U0SUBJ{n}", name=f"subject{n}", real_name=f"Subject {n}") for n in SIZES]
    manager = FakeUser(id="U0MANAGER", name="manager", real_name="Manny Manager")
    with fresh_database(args.database_url) as url, FakeSlack(users=[*subjects, manager]) as slack:
        settings = load_settings(
            {
                "SLACK_BOT_TOKEN": "xoxb-bench-0000",
                "SLACK_SIGNING_SECRET": "bench",
                "SLACK_API_URL": slack.url,
                "DATABASE_URL": url,
                "BRICKWORK_COACH": "offline",
            }
        )
        app = build_app(settings, clock=lambda: now)
        services = app.services
        engine = services.db.engine
        seeder = Seeder(engine, now, args.spread_weeks, framework_kpis(services))
        started = time.perf_counter()

        givers = seeder.people(
            [{"slack_user_id": f"U0GIVER{i:04d}", "name": f"Giver {i}"} for i in range(GIVERS)]
        )
        subject_ids = seeder.people([{"slack_user_id": s.id, "name": s.real_name} for s in subjects])
        for size, pid in zip(SIZES, subject_ids, strict=True):
            seeder.feedback(pid, givers, size)
            seeder.requests(pid, givers, size // 10)
            seeder.projects(pid, givers, size // 100)
        (manager_id,) = seeder.people([{"slack_user_id": manager.id, "name": manager.real_name}])
        reports = seeder.people(
            [
                {"slack_user_id": f"U0REPORT{i:03d}", "name": f"Report {i:02d}", "manager_id": manager_id}
                for i in range(REPORTS)
            ]
        )
        seeder.feedback(manager_id, givers, 100)
        seeder.requests(manager_id, givers, 10)
        seeder.projects(manager_id, givers, 1)
        for report in reports:
            seeder.feedback(report, givers, REPORT_ITEMS)
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        seeded = time.perf_counter() - started

        statements = [0]

        def count(*_: Any) -> None:
            statements[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        released = col(Feedback.released_at).is_not(None)

        def floor(ids: list[int]) -> Callable[[], object]:
            query = (
                select(
                    Rating.kpi,
                    func.count(Rating.score),
                    func.sum(Rating.score),
                    func.count(func.distinct(Feedback.giver_id)),
                )
                .join(Feedback, col(Feedback.id) == Rating.feedback_id)
                .where(col(Feedback.subject_id).in_(ids), released, col(Rating.score).is_not(None))
                .group_by(Rating.kpi)
            )

            def run() -> object:
                with engine.connect() as connection:
                    return connection.execute(query).all()

            return run

        cases = [
            (f"person, {size:,} items", s.id, [pid])
            for size, s, pid in zip(SIZES, subjects, subject_ids, strict=True)
        ]
        cases.append((f"manager, {REPORTS} reports x {REPORT_ITEMS}", manager.id, [manager_id, *reports]))
        rows = []
        for name, slack_id, floor_ids in cases:
            home = services.home
            for _ in range(3):  # warm up: connections, statement caches, the stand-in
                home.publish(slack_id)
            statements[0] = 0
            publish_ms = [timed(lambda: home.publish(slack_id)) for _ in range(args.rounds)]  # noqa: B023
            per_render = statements[0] / args.rounds
            data_ms = [timed(lambda: home.data(slack_id)) for _ in range(args.rounds)]  # noqa: B023
            growth = services.growth  # ``/growth``: the reading and its message, a pure view
            statements[0] = 0
            growth_ms = [
                timed(lambda: growth_views.growth_message(growth.card(slack_id)))  # noqa: B023
                for _ in range(args.rounds)
            ]
            growth_statements = statements[0] / args.rounds

            def cold() -> object:  # the first read after a change: nothing remembered
                growth._readings.clear()  # noqa: B023 (the bench reaches in: no change to make)
                return growth_views.growth_message(growth.card(slack_id))  # noqa: B023

            growth_cold_ms = [timed(cold) for _ in range(args.rounds)]
            run_floor = floor(floor_ids)
            run_floor()
            floor_ms = [timed(run_floor) for _ in range(args.rounds)]
            rows.append(
                (
                    name,
                    per_render,
                    p50(data_ms),
                    p50(publish_ms),
                    p50(floor_ms),
                    growth_statements,
                    p50(growth_ms),
                    p50(growth_cold_ms),
                )
            )
        event.remove(engine, "before_cursor_execute", count)
        published = len(slack.calls_to("views.publish"))
        invalid = len(slack.invalid_calls())
        app.close()

    where = engine.dialect.name
    print(
        f"App Home render on {where}, {args.rounds} rounds each (p50, ms); feedback spread over "
        f"{args.spread_weeks} weeks; seeded in {seeded:.1f} s; {published} views.publish, {invalid} invalid"
    )
    base = next(r for r in rows if r[0].startswith("person, 100 "))
    print(
        f"{'case':28} {'stmts':>6} {'data':>8} {'publish':>8} {'floor':>7} {'publish/floor':>14} "
        f"{'vs 100 items':>13} | {'/growth stmts':>13} {'/growth':>8} {'vs 100 items':>13} "
        f"{'after a change':>15} {'vs 100 items':>13}"
    )
    for name, per_render, data_p50, publish_p50, floor_p50, growth_statements, growth_p50, cold_p50 in rows:
        print(
            f"{name:28} {per_render:6.1f} {data_p50:8.1f} {publish_p50:8.1f} {floor_p50:7.2f} "
            f"{publish_p50 / floor_p50:13.1f}x {publish_p50 / base[3]:12.2f}x | "
            f"{growth_statements:13.1f} {growth_p50:8.1f} {growth_p50 / base[6]:12.2f}x "
            f"{cold_p50:15.1f} {cold_p50 / base[7]:12.2f}x"
        )


if __name__ == "__main__":
    main()
