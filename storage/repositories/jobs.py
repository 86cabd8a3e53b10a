"""Due work: rows with a due time, claimed atomically so two replicas never run one job twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from storage.models import Job, JobKind, JobState

MAX_ATTEMPTS = 5


def schedule(session: Session, *, kind: JobKind, project_id: int, due_at: datetime) -> Job:
    job = Job(kind=kind, project_id=project_id, due_at=due_at)
    session.add(job)
    return job


def claim_one(session: Session, *, now: datetime, worker: str) -> Job | None:
    """Claim one due job inside the caller's transaction, which then runs it and finishes it.

    Jobs only change the database (they enqueue DMs; the outbox sends them), so claim, work
    and finish commit together or not at all: a crash leaves the job pending, with nothing
    half done, and no lease is needed. The claim is a conditional UPDATE, so two tickers never
    run one job; on PostgreSQL the candidate is locked with ``SKIP LOCKED`` so they do not wait.
    """
    candidates = (
        select(Job.id)
        .where(col(Job.state) == JobState.PENDING, col(Job.due_at) <= now)
        .order_by(col(Job.due_at), col(Job.id))
        .limit(8)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    for job_id in session.exec(candidates).all():
        taken = session.execute(
            update(Job)
            .where(col(Job.id) == job_id, col(Job.state) == JobState.PENDING)
            .values(state=JobState.RUNNING, claimed_by=worker, claimed_at=now, attempts=Job.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            job = session.get(Job, job_id)
            assert job is not None
            session.refresh(job)
            return job
    return None


def finish(session: Session, job_id: int, *, at: datetime) -> None:
    job = session.get(Job, job_id)
    if job is not None:
        job.state, job.finished_at, job.last_error, job.claimed_by = JobState.DONE, at, None, None
        session.add(job)


def fail(session: Session, job_id: int, *, at: datetime, error: str) -> Job | None:
    """Put the job back with a backoff, or give up after ``MAX_ATTEMPTS``."""
    job = session.get(Job, job_id)
    if job is None:
        return None
    job.last_error = error[:500]
    job.claimed_by = None
    if job.attempts >= MAX_ATTEMPTS:
        job.state, job.finished_at = JobState.FAILED, at
    else:
        job.state = JobState.PENDING
        job.due_at = at + timedelta(minutes=5 * job.attempts)
    session.add(job)
    return job


def cancel_for_project(session: Session, project_id: int) -> None:
    session.execute(
        update(Job)
        .where(col(Job.project_id) == project_id, col(Job.state).in_([JobState.PENDING, JobState.RUNNING]))
        .values(state=JobState.CANCELLED)
        .execution_options(synchronize_session=False)
    )


def for_project(session: Session, project_id: int) -> list[Job]:
    return list(session.exec(select(Job).where(Job.project_id == project_id).order_by(col(Job.due_at))))


def next_due(session: Session) -> datetime | None:
    return session.exec(
        select(Job.due_at).where(Job.state == JobState.PENDING).order_by(col(Job.due_at)).limit(1)
    ).first()
