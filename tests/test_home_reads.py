"""The App Home's reads: counted and summed by the database in a fixed number of statements,
exactly as the rows would say (anonymity included), and refreshes coalesced per person."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from statistics import fmean
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import event

from bot.app import Brickwork, build_app
from bot.feedback.cards import (
    MIN_RATERS,
    OPEN_REQUEST_WINDOW,
    SNAPSHOT_WEEKS,
    KpiStat,
    Snapshot,
    shown_at,
    shown_to_requester,
)
from bot.people.directory import PersonRef
from bot.settings import load_settings
from bot.standin.webapi import FakeSlack
from storage.db import Database
from storage.models import (
    DebriefTask,
    Feedback,
    FeedbackRequest,
    FeedbackSource,
    Person,
    Project,
    ProjectState,
    RequestState,
    TaskKind,
    id_of,
)
from storage.repositories import feedback as feedback_repo
from storage.repositories import org as org_repo
from storage.repositories import people as people_repo
from storage.repositories import projects as projects_repo
from storage.repositories import requests as requests_repo
from tests.harness import ALICE, BOB, CAROL, MAYA

NOW = datetime(2026, 5, 13, 15, 30, tzinfo=UTC)  # a Wednesday afternoon


class HeldPool:
    """A background pool that runs nothing until told: what is queued can be looked at."""

    def __init__(self) -> None:
        self.queued: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self.queued.append((fn, args))

    def run_all(self) -> None:
        while self.queued:
            fn, args = self.queued.pop(0)
            fn(*args)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.queued.clear()


@pytest.fixture
def brickwork(slack: FakeSlack, database_url: str) -> Iterator[Brickwork]:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": "xoxb-test-0000",
            "SLACK_API_URL": slack.url,
            "DATABASE_URL": database_url,
            "BRICKWORK_COACH": "offline",
        }
    )
    app = build_app(settings, WebClient(token="xoxb-test-0000", base_url=slack.url), clock=lambda: NOW)
    yield app
    app.close()


def add_person(db: Database, slack_id: str, name: str, *, manager_id: int | None = None) -> int:
    with db.transaction() as session:
        person = people_repo.upsert(
            session,
            slack_user_id=slack_id,
            name=name,
            tz="UTC",
            is_bot=False,
            deleted=False,
            refreshed_at=NOW,
        )
        person.manager_id = manager_id
        session.add(person)
        return id_of(person)


def add_feedback(
    app: Brickwork,
    giver: int,
    subject: int,
    *,
    at: datetime,
    score: Callable[[str], int | None] = lambda kpi: 4,
    anonymous: bool = False,
    released_at: datetime | None = None,
) -> int:
    """Feedback as the services store it: named is released when given; anonymous when
    ``released_at`` says (None: still held)."""
    framework = app.services.framework
    with app.services.db.transaction() as session:
        record = Feedback(
            giver_id=giver,
            subject_id=subject,
            source=FeedbackSource.GIVEN,
            source_view_id=f"V{uuid.uuid4().hex[:12]}",
            framework_version=framework.version,
            anonymous=anonymous,
            released_at=released_at if anonymous else at,
            created_at=at,
            updated_at=at,
        )
        scores = {k.key: (k.dimension.value, score(k.key)) for k in framework.kpis}
        return id_of(feedback_repo.save(session, record, scores))


def reference_snapshot(app: Brickwork, viewer: int, subject: int, since: datetime | None = None) -> Snapshot:
    """The snapshot as it was computed before the database summed it: from every row."""
    with app.services.db.transaction() as session:
        records = [
            r for r in feedback_repo.about(session, subject, reader_id=viewer) if r.released_at is not None
        ]
        if since is not None:
            records = [r for r in records if shown_at(r) >= since]
        ratings = feedback_repo.ratings_for(session, [id_of(r) for r in records])
        person = people_repo.get(session, subject)
        assert person is not None
    start = NOW - timedelta(weeks=SNAPSHOT_WEEKS)
    stats = []
    for kpi in app.services.framework.kpis:
        scored = [(r, ratings[id_of(r)].get(kpi.key)) for r in records]
        scored = [(r, s) for r, s in scored if s is not None]
        raters = len({r.giver_id for r, _ in scored})
        weekly: list[float | None] = []
        for week in range(SNAPSHOT_WEEKS):
            lo, hi = start + timedelta(weeks=week), start + timedelta(weeks=week + 1)
            last = week == SNAPSHOT_WEEKS - 1
            in_week = [s for r, s in scored if lo <= shown_at(r) and (shown_at(r) < hi or last)]
            weekly.append(fmean(in_week) if in_week else None)
        stats.append(
            KpiStat(
                kpi=kpi,
                average=fmean(s for _, s in scored) if raters >= MIN_RATERS else None,
                count=len(scored),
                raters=raters,
                weekly=tuple(weekly),
            )
        )
    return Snapshot(person=PersonRef.of(person), stats=tuple(stats), items=len(records))


@pytest.fixture
def statements(brickwork: Brickwork) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(brickwork.services.db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(brickwork.services.db.engine, "before_cursor_execute", count)


def test_snapshots_summed_by_the_database_match_the_rows(brickwork: Brickwork) -> None:
    db = brickwork.services.db
    maya = add_person(db, MAYA.id, "Maya")
    alice = add_person(db, ALICE.id, "Alice", manager_id=maya)
    givers = [add_person(db, f"U0G{i}", f"Giver {i}") for i in range(6)]
    weeks = [NOW - timedelta(weeks=w, hours=w) for w in range(11)]  # some before the sparkline
    for i, at in enumerate(weeks):
        # Odd scores and "not observed" by KPI and week, so sums, counts and raters all differ.
        add_feedback(
            brickwork,
            givers[i % 4],
            alice,
            at=at,
            score=lambda kpi, i=i: None if (len(kpi) + i) % 4 == 0 else 1 + (len(kpi) * 7 + i) % 5,
        )
    add_feedback(brickwork, givers[0], alice, at=NOW - timedelta(weeks=8))  # on the sparkline's edge
    add_feedback(brickwork, givers[1], alice, at=NOW)  # this very moment: the last week
    # An anonymous batch, released; and held anonymous answers, one of them the reader's own.
    batch = NOW - timedelta(days=3, hours=6)
    for giver in givers[3:6]:
        add_feedback(brickwork, giver, alice, at=batch - timedelta(days=1), anonymous=True, released_at=batch)
    add_feedback(brickwork, givers[5], alice, at=NOW - timedelta(hours=2), anonymous=True, score=lambda k: 1)
    add_feedback(brickwork, maya, alice, at=NOW - timedelta(hours=1), anonymous=True, score=lambda k: 1)
    # A KPI only one person rated: no average.
    add_feedback(
        brickwork, givers[4], maya, at=NOW - timedelta(days=1), score=lambda k: 5 if k == "quality" else None
    )

    reading = brickwork.services.reading
    for since in (None, NOW - timedelta(days=30), NOW - timedelta(weeks=8)):
        assert reading.snapshot(MAYA.id, alice, since=since) == reference_snapshot(
            brickwork, maya, alice, since
        )
        assert reading.snapshot(ALICE.id, since=since) == reference_snapshot(brickwork, alice, alice, since)
    mine = reading.snapshot(MAYA.id)
    assert mine == reference_snapshot(brickwork, maya, maya)
    assert next(s for s in mine.stats if s.kpi.key == "quality").average is None  # one rater
    assert reading.snapshots(MAYA.id, [maya, alice]) == {maya: mine, alice: reading.snapshot(MAYA.id, alice)}
    # Held anonymous answers count nowhere, not even for the manager who gave one.
    assert reading.snapshot(MAYA.id, alice).items == len(weeks) + 2 + 3


def test_a_remembered_snapshot_is_read_again_whenever_the_feedback_about_the_person_changes(
    brickwork: Brickwork, statements: list[str]
) -> None:
    """The Home remembers a person's snapshot while the feedback about them is unchanged: each
    change readers could see (a new item, an edit, a release, a deletion) shows at the next read,
    and a held anonymous answer changes nothing."""
    db, reading = brickwork.services.db, brickwork.services.reading
    alice = add_person(db, ALICE.id, "Alice")
    givers = [add_person(db, f"U0G{i}", f"Giver {i}") for i in range(4)]
    first = add_feedback(brickwork, givers[0], alice, at=NOW - timedelta(days=3))
    later = add_feedback(brickwork, givers[1], alice, at=NOW - timedelta(days=2), score=lambda k: 2)

    def read() -> Snapshot:
        snapshot = reading.snapshot(ALICE.id)
        assert snapshot == reference_snapshot(brickwork, alice, alice)
        return snapshot

    before = read()
    statements.clear()
    assert read() == before
    remembered = len(statements)
    held = [
        add_feedback(brickwork, g, alice, at=NOW - timedelta(hours=1), anonymous=True, score=lambda k: 1)
        for g in givers[1:4]
    ]
    statements.clear()
    assert read() == before  # held: nothing to see, nothing read again
    assert len(statements) == remembered
    with db.transaction() as session:  # an edit of the first item's scores
        record = session.get(Feedback, first)
        assert record is not None
        record.updated_at = NOW - timedelta(minutes=5)
        scores = {k.key: (k.dimension.value, 5) for k in brickwork.services.framework.kpis}
        feedback_repo.save(session, record, scores)
    edited = read()
    assert edited != before and len(statements) > remembered
    # An edit stamped before the latest change (two edits that committed out of their order).
    with db.transaction() as session:
        record = session.get(Feedback, later)
        assert record is not None
        record.updated_at = NOW - timedelta(days=1)
        scores = {k.key: (k.dimension.value, 1) for k in brickwork.services.framework.kpis}
        feedback_repo.save(session, record, scores)
    assert read() != edited  # and equal to the rows (``read`` checks)
    with db.transaction() as session:  # the held batch released
        for item in held:
            record = session.get(Feedback, item)
            assert record is not None
            record.released_at = NOW - timedelta(minutes=1)
            session.add(record)
    released = read()
    assert released.items == edited.items + 3
    with db.transaction() as session:  # an item taken away (its giver left)
        org_repo.delete_feedback(session, feedback_ids=[first])
    assert read().items == released.items - 1


def test_a_home_costs_the_same_statements_for_a_little_feedback_as_for_a_lot(
    brickwork: Brickwork, slack: FakeSlack, statements: list[str]
) -> None:
    db, home = brickwork.services.db, brickwork.services.home
    maya = add_person(db, MAYA.id, "Maya")
    add_person(db, ALICE.id, "Alice", manager_id=maya)
    givers = [add_person(db, f"U0G{i:02d}", f"Giver {i}") for i in range(40)]
    asked = iter(givers)  # one open request per pair: a new person each time

    def grow(items: int, requests: int, projects: int, reports: int) -> None:
        for i in range(items):
            at = NOW - timedelta(days=i, hours=1)
            anonymous = i % 5 == 0  # some released in a batch, some still held
            add_feedback(
                brickwork,
                givers[i % len(givers)],
                maya,
                at=at,
                anonymous=anonymous,
                released_at=at if i % 10 == 0 else None,
            )
        with db.transaction() as session:
            for i in range(requests):
                other = next(asked)
                requester, giver = (maya, other) if i % 2 else (other, maya)
                state = RequestState.OPEN if i % 3 else RequestState.ANSWERED
                at = NOW - timedelta(days=i)
                session.add(
                    FeedbackRequest(
                        requester_id=requester,
                        giver_id=giver,
                        subject_id=requester,
                        state=state,
                        created_at=at,
                    )
                )
            for i in range(projects):
                project = projects_repo.add_project(
                    session,
                    Project(
                        name=f"Project {uuid.uuid4().hex[:6]}",
                        lead_id=maya,
                        created_by_id=maya,
                        end_date=(NOW - timedelta(days=i)).date(),
                        state=ProjectState.CLOSED,
                        debrief_due_at=NOW,
                        reminder_due_at=NOW,
                        window_closes_at=NOW,
                        source_view_id=uuid.uuid4().hex,
                    ),
                    givers[:3],
                )
                for giver in givers[:3]:
                    projects_repo.add_task(
                        session,
                        DebriefTask(
                            project_id=id_of(project),
                            giver_id=maya,
                            subject_id=giver,
                            kind=TaskKind.LEAD_REVIEW,
                        ),
                    )
        for i in range(reports):
            add_person(db, f"U0R{uuid.uuid4().hex[:8]}", f"Report {i}", manager_id=maya)

    def cost(slack_id: str) -> int:
        home.publish(slack_id)  # warm: the first contact, caches
        statements.clear()
        home.publish(slack_id)
        return len(statements)

    grow(items=3, requests=16, projects=1, reports=1)  # enough to fill each list the Home shows
    little = cost(MAYA.id), cost(ALICE.id)
    assert little[0] <= 34  # (the growth summary's three reads included)
    grow(items=60, requests=24, projects=8, reports=20)  # more reports than the Home shows
    assert (cost(MAYA.id), cost(ALICE.id)) == little
    published = json.dumps(slack.home(MAYA.id), ensure_ascii=False)
    assert "Your open requests* (14)" in published and "Waiting for your feedback* (13)" in published
    assert "10 more people report to you" in published and slack.invalid_calls() == []


def test_open_requests_are_counted_as_the_requester_may_see_them(brickwork: Brickwork) -> None:
    db, reading = brickwork.services.db, brickwork.services.reading
    maya = add_person(db, MAYA.id, "Maya")
    givers = [add_person(db, f"U0G{i:02d}", f"Giver {i}") for i in range(12)]
    recent, old = NOW - timedelta(days=2), NOW - OPEN_REQUEST_WINDOW - timedelta(hours=1)
    cases = [  # (state, asked at, answer: None / "named" / "anonymous", the giver left)
        (RequestState.OPEN, recent, None, False),
        (RequestState.OPEN, old, None, False),  # past the window: closed
        (RequestState.ANSWERED, recent, "named", False),
        (RequestState.ANSWERED, recent, "anonymous", False),  # reads as silence: open
        (RequestState.ANSWERED, old, "anonymous", False),
        (RequestState.ANSWERED, recent - timedelta(hours=1), None, False),  # its answer was deleted
        (RequestState.DECLINED, recent, None, False),
        (RequestState.WITHDRAWN, recent, None, False),
        (RequestState.UNDELIVERED, recent, None, False),
        (RequestState.OPEN, recent - timedelta(hours=2), None, True),  # the giver left the programme
        (RequestState.OPEN, recent - timedelta(hours=3), None, False),
    ]
    with db.transaction() as session:
        for giver, (state, at, answer, left) in zip(givers, cases, strict=False):
            request = requests_repo.add(
                session,
                FeedbackRequest(
                    requester_id=maya, giver_id=giver, subject_id=maya, state=state, created_at=at
                ),
            )
            if answer is not None:
                session.add(
                    Feedback(
                        giver_id=giver,
                        subject_id=maya,
                        source=FeedbackSource.REQUESTED,
                        request_id=id_of(request),
                        anonymous=answer == "anonymous",
                        released_at=None if answer == "anonymous" else at,
                        framework_version="1",
                    )
                )
            if left:
                row = session.get(Person, giver)
                assert row is not None
                row.left_programme_at = recent
                session.add(row)
        for giver in givers[:3]:  # asked of Maya: two open, one declined
            requests_repo.add(
                session,
                FeedbackRequest(
                    requester_id=giver,
                    giver_id=maya,
                    subject_id=giver,
                    state=RequestState.DECLINED if giver == givers[2] else RequestState.OPEN,
                    created_at=recent,
                ),
            )
    with db.transaction() as session:
        sent = requests_repo.sent_by(session, maya)
        people = people_repo.by_ids(session, [maya, *givers])
        rule = [
            r
            for r in sent
            if shown_to_requester(
                r, feedback_repo.by_request(session, id_of(r)), [people[r.giver_id], people[maya]], NOW
            )
            is RequestState.OPEN
        ]
    assert len(rule) == 4
    for limit in (1, 2, 5, 20):
        shown = reading.open_requests(MAYA.id, limit=limit)
        assert shown.mine_total == len(rule)
        assert [c.request_id for c in shown.mine] == [id_of(r) for r in rule[:limit]]
        assert all(c.state is RequestState.OPEN for c in shown.mine)
        assert shown.waiting_total == 2 and len(shown.waiting) == min(2, limit)


def test_the_latest_few_are_the_first_of_all_however_they_are_cut(brickwork: Brickwork) -> None:
    db = brickwork.services.db
    maya = add_person(db, MAYA.id, "Maya")
    alice = add_person(db, ALICE.id, "Alice", manager_id=maya)
    givers = [add_person(db, f"U0G{i:02d}", f"Giver {i}") for i in range(8)]
    batch = NOW - timedelta(days=2)
    for i, giver in enumerate(givers):
        add_feedback(brickwork, giver, alice, at=NOW - timedelta(days=i, hours=1))
        add_feedback(brickwork, giver, maya, at=batch - timedelta(hours=i), anonymous=True, released_at=batch)
    for i in range(3):  # the manager's own, held: listed first, to them only
        add_feedback(brickwork, maya, alice, at=NOW - timedelta(hours=i), anonymous=True)
    with db.transaction() as session:
        for subject, reader in ((alice, maya), (alice, alice), (maya, maya)):
            everything = feedback_repo.about(session, subject, reader_id=reader)
            for limit in range(1, len(everything) + 2):
                assert (
                    feedback_repo.about(session, subject, reader_id=reader, limit=limit) == everything[:limit]
                )


def test_refreshes_are_coalesced_per_person(brickwork: Brickwork, slack: FakeSlack) -> None:
    db, services = brickwork.services.db, brickwork.services
    pool = HeldPool()
    home = services.home
    home._background = pool  # type: ignore[assignment]  # the real service, a pool held still
    for user, name in ((MAYA, "Maya"), (ALICE, "Alice"), (BOB, "Bob")):
        add_person(db, user.id, name)

    def published(user: Any) -> int:
        return len([c for c in slack.calls_to("views.publish") if c.args.get("user_id") == user.id])

    for _ in range(5):  # five changes while nothing ran: one refresh each, whatever the order
        home.refresh([MAYA.id, ALICE.id])
        home.refresh([ALICE.id, MAYA.id, ALICE.id, ""])
    assert len(pool.queued) == 2
    pool.run_all()
    assert (published(MAYA), published(ALICE), published(BOB)) == (1, 1, 0)

    # A change while Maya's refresh is publishing (it has read the database already): one more.
    changed_meanwhile = lambda call: home.refresh([MAYA.id, CAROL.id])  # noqa: E731
    slack.on_call("views.publish", published(MAYA) + published(ALICE) + 1, changed_meanwhile)
    home.refresh([MAYA.id])
    pool.run_all()
    assert published(MAYA) == 3 and published(ALICE) == 1
    assert not pool.queued and slack.hook_errors == []
    # Carol is unknown to Brickwork: refreshed nobody, and not stuck as queued.
    home.refresh([CAROL.id])
    assert len(pool.queued) == 1
