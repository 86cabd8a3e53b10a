"""Repositories, constraints and migrations against the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from storage import migrate
from storage.db import Database
from storage.models import (
    Feedback,
    FeedbackSource,
    Job,
    JobKind,
    JobState,
    MessageKind,
    MessageState,
    Project,
    ProjectState,
)
from storage.repositories import events as events_repo
from storage.repositories import feedback as feedback_repo
from storage.repositories import growth as growth_repo
from storage.repositories import jobs as jobs_repo
from storage.repositories import outbox as outbox_repo
from storage.repositories import people as people_repo
from storage.repositories import projects as projects_repo

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def _project(db: Database, view_id: str = "V1") -> int:
    with db.transaction() as session:
        lead = people_repo.upsert(
            session,
            slack_user_id="ULEAD",
            name="Lead",
            tz="Europe/Berlin",
            is_bot=False,
            deleted=False,
            refreshed_at=NOW,
        )
        member = people_repo.upsert(
            session,
            slack_user_id="UMEM",
            name="Member",
            tz="UTC",
            is_bot=False,
            deleted=False,
            refreshed_at=NOW,
        )
        assert lead.id and member.id
        project = projects_repo.add_project(
            session,
            Project(
                name="Apollo",
                lead_id=lead.id,
                created_by_id=lead.id,
                end_date=date(2026, 12, 1),
                debrief_due_at=NOW,
                reminder_due_at=NOW,
                window_closes_at=NOW + timedelta(days=7),
                source_view_id=view_id,
            ),
            [member.id],
        )
        assert project.id
        return project.id


def test_migrations_create_exactly_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_timestamps_come_back_aware_utc(db: Database) -> None:
    pid = _project(db)
    with db.transaction() as session:
        project = projects_repo.get(session, pid)
        assert project is not None
        assert project.debrief_due_at == NOW and project.debrief_due_at.tzinfo is not None
        assert project.state is ProjectState.SCHEDULED  # an enum, not a bare string


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive"), db.transaction() as session:
        people_repo.upsert(
            session,
            slack_user_id="UX",
            name="X",
            tz="UTC",
            is_bot=False,
            deleted=False,
            refreshed_at=datetime(2026, 1, 1),
        )


def test_each_job_is_claimed_once_even_with_two_tickers(db: Database) -> None:
    project_ids = [_project(db, f"V{i}") for i in range(14)]
    with db.transaction() as session:
        for i, pid in enumerate(project_ids):
            for kind in JobKind:
                session.add(Job(kind=kind, project_id=pid, due_at=NOW - timedelta(seconds=i)))
    results: list[list[int]] = []
    barrier = threading.Barrier(2)

    def claimer(name: str) -> None:
        barrier.wait()
        got: list[int] = []
        while True:
            with db.transaction() as s:
                job = jobs_repo.claim_one(s, now=NOW, worker=name)
                if job is None:
                    break
                assert job.id is not None
                got.append(job.id)
                jobs_repo.finish(s, job.id, at=NOW)
        results.append(got)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = results[0] + results[1]
    assert len(claimed) == len(set(claimed)) == 14 * len(JobKind)


def test_a_job_rolled_back_with_its_work_is_due_again(db: Database) -> None:
    """Claim, work and finish share one transaction: a crash between them leaves the job pending,
    with none of its work done, for the next tick (no lease to wait out)."""
    pid = _project(db)
    with db.transaction() as session:
        future = jobs_repo.schedule(
            session, kind=JobKind.DEBRIEF_CLOSE, project_id=pid, due_at=NOW + timedelta(1)
        )
        due = jobs_repo.schedule(session, kind=JobKind.DEBRIEF_PROMPT, project_id=pid, due_at=NOW)
        session.flush()
        future_id, due_id = future.id, due.id
    with pytest.raises(RuntimeError), db.transaction() as session:
        claimed = jobs_repo.claim_one(session, now=NOW, worker="w1")
        assert claimed is not None and claimed.id == due_id
        raise RuntimeError("the process dies mid-job")
    with db.transaction() as session:
        claimed = jobs_repo.claim_one(session, now=NOW, worker="w2")
        assert claimed is not None and claimed.id == due_id
        jobs_repo.finish(session, due_id, at=NOW)  # type: ignore[arg-type]
    with db.transaction() as session:
        assert jobs_repo.claim_one(session, now=NOW, worker="w3") is None  # done; the other is not due
        assert future_id is not None


def test_failed_jobs_back_off_then_give_up(db: Database) -> None:
    pid = _project(db)
    with db.transaction() as session:
        scheduled = jobs_repo.schedule(session, kind=JobKind.DEBRIEF_PROMPT, project_id=pid, due_at=NOW)
        session.flush()
        job_id = scheduled.id
    now = NOW
    for attempt in range(1, jobs_repo.MAX_ATTEMPTS + 1):
        with db.transaction() as session:
            claimed = jobs_repo.claim_one(session, now=now, worker=f"w{attempt}")
            assert claimed is not None and claimed.attempts == attempt
            job = jobs_repo.fail(session, claimed.id, at=now, error="boom")  # type: ignore[arg-type]
            assert job is not None
        if attempt < jobs_repo.MAX_ATTEMPTS:
            assert job.state is JobState.PENDING and job.due_at == now + timedelta(minutes=5 * attempt)
            now = job.due_at
    assert job.state is JobState.FAILED and job.last_error == "boom" and job_id


def test_one_job_of_a_kind_per_project(db: Database) -> None:
    pid = _project(db)
    with pytest.raises(IntegrityError), db.transaction() as session:
        jobs_repo.schedule(session, kind=JobKind.DEBRIEF_PROMPT, project_id=pid, due_at=NOW)
        jobs_repo.schedule(session, kind=JobKind.DEBRIEF_PROMPT, project_id=pid, due_at=NOW)


def test_a_dm_is_enqueued_once_and_claimed_by_one_worker(db: Database) -> None:
    pid = _project(db)
    lease = timedelta(seconds=60)
    with db.transaction() as session:
        first = outbox_repo.enqueue(
            session, kind=MessageKind.DEBRIEF_PROMPT, key="k1", recipient_id=1, due_at=NOW, ref_id=pid
        )
        again = outbox_repo.enqueue(
            session, kind=MessageKind.DEBRIEF_PROMPT, key="k1", recipient_id=1, due_at=NOW, ref_id=pid
        )
        assert first == again
    with db.transaction() as session:
        claim = outbox_repo.claim(session, now=NOW, lease=lease, worker="w1")
        assert claim is not None and claim.message_id == first and not claim.check_first
    with db.transaction() as session:  # held: nobody else gets it while the lease runs
        assert outbox_repo.claim(session, now=NOW + lease / 2, lease=lease, worker="w2") is None
    with db.transaction() as session:  # the holder died: past the lease it is taken, uncertain
        taken = outbox_repo.claim(session, now=NOW + 2 * lease, lease=lease, worker="w3")
        assert taken is not None and taken.check_first
    with db.transaction() as session:  # the first holder's late outcome changes nothing
        assert not outbox_repo.mark_sent(session, claim, channel_id="D1", ts="1.0", at=NOW)
        assert outbox_repo.mark_sent(session, taken, channel_id="D1", ts="2.0", at=NOW)
    with db.transaction() as session:
        message = outbox_repo.get(session, first)
        assert message is not None and (message.state, message.ts, message.uncertain) == (
            MessageState.SENT,
            "2.0",
            False,
        )
        assert outbox_repo.claim(session, now=NOW + 3 * lease, lease=lease, worker="w4") is None


def test_two_workers_claim_each_dm_once(db: Database) -> None:
    pid = _project(db)
    with db.transaction() as session:
        for n in range(40):
            outbox_repo.enqueue(
                session, kind=MessageKind.DEBRIEF_PROMPT, key=f"k{n}", recipient_id=1, due_at=NOW, ref_id=pid
            )
    results: list[list[int]] = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        barrier.wait()
        got: list[int] = []
        while True:
            with db.transaction() as s:
                claim = outbox_repo.claim(s, now=NOW, lease=timedelta(seconds=60), worker=name)
            if claim is None:
                break
            got.append(claim.message_id)
            with db.transaction() as s:
                assert outbox_repo.mark_sent(s, claim, channel_id="D1", ts=str(claim.message_id), at=NOW)
        results.append(got)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = results[0] + results[1]
    assert len(claimed) == len(set(claimed)) == 40


def test_feedback_is_unique_per_giver_subject_project_and_save_replaces_ratings(db: Database) -> None:
    pid = _project(db)
    with db.transaction() as session:
        record = Feedback(
            giver_id=1, subject_id=2, project_id=pid, source=FeedbackSource.DEBRIEF, framework_version="1"
        )
        feedback_repo.save(session, record, {"quality": ("delivery", 4), "gone": ("leadership", 2)})
        fid = record.id
    with db.transaction() as session:
        record = feedback_repo.find(session, giver_id=1, subject_id=2, project_id=pid)
        assert record is not None and record.id == fid
        feedback_repo.save(session, record, {"quality": ("delivery", 5), "decides": ("leadership", None)})
    with db.transaction() as session:
        assert feedback_repo.ratings(session, fid) == {"quality": 5, "decides": None}  # type: ignore[arg-type]
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(
            Feedback(
                giver_id=1, subject_id=2, project_id=pid, source=FeedbackSource.DEBRIEF, framework_version="1"
            )
        )


def _saved(
    db: Database, giver: int, subject: int, scores: dict[str, tuple[str, int | None]], **fields: object
) -> int:
    """A feedback record (from a debrief unless ``fields`` say otherwise) and its ratings, saved
    through the repository; its id."""
    with db.transaction() as session:
        record = Feedback.model_validate(
            {
                "source": FeedbackSource.DEBRIEF,
                "framework_version": "1",
                **fields,
                "giver_id": giver,
                "subject_id": subject,
            }
        )
        saved = feedback_repo.save(session, record, scores).id
    assert saved is not None
    return saved


def test_the_database_counts_each_change_readers_could_see_to_the_feedback_about_a_person(
    db: Database,
) -> None:
    """The marks that tell a remembered snapshot or reading is stale are kept by the database
    (triggers), so a change made by any code, here plain SQL, moves them; a held anonymous
    answer moves nothing (no reader's read may change because of it), nor does a rollback."""
    pid = _project(db)
    lead, member = 1, 2

    def marks() -> tuple[dict[int, int], tuple[int, int]]:
        with db.transaction() as session:
            return growth_repo.visible_marks(session, [lead, member]), growth_repo.visible_ratings_mark(
                session
            )

    def run(sql: str, **params: object) -> None:
        with db.engine.begin() as connection:
            connection.execute(text(sql), params)

    def moved(before: tuple[dict[int, int], tuple[int, int]], *people: int) -> bool:
        now = marks()
        return all(now[0].get(p, 0) > before[0].get(p, 0) for p in people) and now[1] != before[1]

    assert marks() == ({}, (0, 0))
    scores = {"quality": ("delivery", 4), "decides": ("leadership", 2)}
    held = _saved(db, lead, member, scores, project_id=pid, anonymous=True)  # held: not yet released
    run("UPDATE rating SET score = 1 WHERE feedback_id = :id", id=held)
    run("UPDATE feedback SET about = 'edited' WHERE id = :id", id=held)
    assert marks() == ({}, (0, 0))
    before = marks()
    run("UPDATE feedback SET released_at = :at WHERE id = :id", at=NOW, id=held)
    assert moved(before, member)
    for sql in (
        "UPDATE rating SET score = 3 WHERE feedback_id = :id",
        "DELETE FROM rating WHERE feedback_id = :id AND kpi = 'decides'",
        "INSERT INTO rating (feedback_id, dimension, kpi, score) VALUES (:id, 'leadership', 'decides', 5)",
        "UPDATE feedback SET about = 'edited again' WHERE id = :id",
    ):
        before = marks()
        run(sql, id=held)
        assert moved(before, member), sql
    before = marks()
    with pytest.raises(RuntimeError), db.engine.begin() as connection:  # rolled back: nothing
        connection.execute(text("UPDATE feedback SET about = 'never' WHERE id = :id"), {"id": held})
        raise RuntimeError
    assert marks() == before
    run("UPDATE feedback SET subject_id = :to WHERE id = :id", to=lead, id=held)  # both people
    assert moved(before, lead, member)
    # Named, about the member: released at once.
    other = _saved(
        db, lead, member, {"quality": ("delivery", 2)}, source=FeedbackSource.GIVEN, released_at=NOW
    )
    before = marks()  # a rating moved from one person's feedback to another's: both
    run("UPDATE rating SET feedback_id = :to WHERE feedback_id = :id AND kpi = 'decides'", to=other, id=held)
    assert moved(before, lead, member)
    before = marks()
    run("DELETE FROM rating WHERE feedback_id = :id", id=held)
    run("DELETE FROM feedback WHERE id = :id", id=held)
    assert moved(before, lead) and marks()[0][member] == before[0][member]


def test_the_change_marks_migration_counts_what_is_there_and_goes_back_cleanly(database_url: str) -> None:
    """Migration 0010 counts the released feedback already stored; going back to 0009 takes its
    table and triggers away (feedback is written as before), and forward again works."""
    config = migrate.alembic_config(database_url)
    command.downgrade(config, "0009")
    db = Database(database_url)
    try:
        pid = _project(db)
        for giver, subject, released in ((1, 2, NOW), (2, 1, None)):
            _saved(db, giver, subject, {"quality": ("delivery", 4)}, project_id=pid, released_at=released)
        migrate.upgrade(database_url)
        with db.transaction() as session:
            assert growth_repo.visible_marks(session, [1, 2]) == {2: 1}  # the held one counts nothing
        command.downgrade(config, "0009")
        assert "feedbackmark" not in inspect(db.engine).get_table_names()
        with db.transaction() as session:  # no trigger left behind to write to a missing table
            held = feedback_repo.find(session, giver_id=2, subject_id=1, project_id=pid)
            assert held is not None
            held.released_at = NOW
            feedback_repo.save(session, held, {"quality": ("delivery", 5)})
        migrate.upgrade(database_url)
        with db.transaction() as session:
            assert growth_repo.visible_marks(session, [1, 2]) == {1: 1, 2: 1}
    finally:
        db.dispose()


def test_a_rating_changed_while_its_feedback_is_being_released_counts_once_both_commit(db: Database) -> None:
    """PostgreSQL: one transaction releases a held answer while another changes its ratings.
    The second waits for the first and then sees it released, so its change counts too (read
    as still held, the mark would stop one change short of what readers then see)."""
    if not db.is_postgresql:
        pytest.skip("SQLite has one writer at a time: two writes never interleave")
    pid = _project(db)
    held = _saved(db, 1, 2, {"quality": ("delivery", 4)}, project_id=pid)

    def mark() -> int:
        with db.transaction() as session:
            return growth_repo.visible_marks(session, [2]).get(2, 0)

    rated = threading.Event()
    with db.engine.connect() as releasing:
        releasing.execute(text("BEGIN"))
        releasing.execute(
            text("UPDATE feedback SET released_at = :at WHERE id = :id"), {"at": NOW, "id": held}
        )

        def rate() -> None:
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE rating SET score = 1 WHERE feedback_id = :id"), {"id": held})
            rated.set()

        worker = threading.Thread(target=rate)
        worker.start()
        assert not rated.wait(0.5)  # it waits for the release to commit
        releasing.execute(text("COMMIT"))
    worker.join(10)
    assert rated.is_set() and mark() == 2  # the release, and the rating changed after it


def test_the_change_marks_triggers_are_all_there(db: Database) -> None:
    """A later migration that rebuilds ``feedback`` or ``rating`` (SQLite's batch mode copies a
    table, and its triggers are lost with the old one) must fail here, not leave marks frozen."""
    with db.engine.connect() as connection:
        if db.is_postgresql:
            query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'feedbackmark%'"
            expected = {"feedbackmark_feedback", "feedbackmark_rating"}
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'feedbackmark%'"
            expected = {
                f"feedbackmark_{t}_{e}"
                for t in ("feedback", "rating")
                for e in ("insert", "update", "delete")
            }
        assert set(connection.execute(text(query)).scalars()) == expected


def test_an_event_is_claimed_once_per_team(db: Database) -> None:
    with db.transaction() as session:
        assert events_repo.claim(session, team_id="T1", event_id="Ev1", at=NOW)
        assert not events_repo.claim(session, team_id="T1", event_id="Ev1", at=NOW)
        assert events_repo.claim(session, team_id="T2", event_id="Ev1", at=NOW)


@contextmanager
def _writing(db: Database, slack_id: str) -> Iterator[Session]:
    """A write transaction: a person stored and flushed, the transaction still open."""
    with db.transaction() as session:
        people_repo.upsert(
            session,
            slack_user_id=slack_id,
            name=slack_id,
            tz="UTC",
            is_bot=False,
            deleted=False,
            refreshed_at=NOW,
        )
        session.flush()
        yield session


def _add_person(
    db: Database, slack_id: str, *, wrote: threading.Event | None = None, held: threading.Event | None = None
) -> None:
    """One write transaction; it says when its write is made and, with ``held``, stays open
    until that is set."""
    with _writing(db, slack_id):
        if wrote is not None:
            wrote.set()
        if held is not None:
            assert held.wait(30)


def _people_named(db: Database, *slack_ids: str) -> list[str]:
    with db.transaction() as session:
        found = [people_repo.by_slack_id(session, s) for s in slack_ids]
        return sorted(p.slack_user_id for p in found if p is not None)


def test_writers_take_turns_and_readers_never_wait_for_them(db: Database) -> None:
    """SQLite writes one transaction at a time. The app's writers queue for their turn (rather
    than sleep in SQLite's busy handler), each going on once the one before committed or rolled
    back, none failing as "database is locked"; readers are not in that queue; and a transaction
    nested in a writing one of the same thread is not stuck behind it."""
    if db.is_postgresql:
        pytest.skip("PostgreSQL lets writers of different rows go at once: nothing queues")
    wrote, release = threading.Event(), threading.Event()
    first = threading.Thread(
        target=_add_person, args=(db, "UFIRST"), kwargs={"wrote": wrote, "held": release}
    )
    first.start()
    assert wrote.wait(30)
    errors: list[BaseException] = []

    def second() -> None:
        try:
            _add_person(db, "USECOND")
        except BaseException as error:  # reported below
            errors.append(error)

    waiting = threading.Thread(target=second)
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive()  # its turn has not come: it waits in the queue, not in SQLite's busy handler
    assert waiting.ident is not None
    frame = sys._current_frames()[waiting.ident]
    assert "before_statement" in {f.f_code.co_name for f, _ in traceback.walk_stack(frame)}
    assert _people_named(db, "UFIRST", "USECOND") == []  # a reader goes on meanwhile
    release.set()
    first.join(30)
    waiting.join(30)
    assert not errors and not waiting.is_alive()
    assert _people_named(db, "UFIRST", "USECOND") == ["UFIRST", "USECOND"]

    with pytest.raises(RuntimeError), _writing(db, "UGONE"):  # a writer that fails …
        raise RuntimeError("rolled back")
    assert not db._writers._lock.locked()  # type: ignore[union-attr]  # … hands the turn on too
    _add_person(db, "UTHIRD")
    with _writing(db, "UFOURTH"):  # nested in the same thread: an outer write, an inner read
        assert _people_named(db, "UFIRST") == ["UFIRST"]
    assert _people_named(db, "UGONE", "UTHIRD", "UFOURTH") == ["UFOURTH", "UTHIRD"]
