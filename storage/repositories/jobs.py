"""Due work: rows with a due time, claimed atomically so two replicas never run one job twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from storage.models import Job, JobKind, JobState

MAX_ATTEMPTS = 5
# A job claimed longer ago than this belongs to a process that died; it may be claimed again.
LEASE = timedelta(minutes=15)


def schedule(session: Session, *, kind: JobKind, project_id: int, due_at: datetime) -> Job:
    job = Job(kind=kind, project_id=project_id, due_at=due_at)
    session.add(job)
    return job


def claim_due(session: Session, *, now: datetime, worker: str, limit: int = 50) -> list[Job]:
    """Mark up to ``limit`` due jobs as ours in one atomic UPDATE, then return them.

    ``worker`` must be unique per call (the ticker uses a fresh uuid).

    On PostgreSQL the candidate rows are locked with ``FOR UPDATE SKIP LOCKED`` so concurrent
    tickers split the work instead of waiting; SQLite serialises writers, so the single
    UPDATE is atomic there as it is.
    """
    due = (col(Job.state) == JobState.PENDING) & (col(Job.due_at) <= now)
    stale = (col(Job.state) == JobState.RUNNING) & (col(Job.claimed_at) < now - LEASE)
    candidates = select(Job.id).where(due | stale).order_by(col(Job.due_at)).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    session.execute(
        update(Job)
        .where(col(Job.id).in_(candidates.scalar_subquery()))
        .values(state=JobState.RUNNING, claimed_by=worker, claimed_at=now, attempts=Job.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return list(
        session.exec(
            select(Job)
            .where(Job.claimed_by == worker, Job.state == JobState.RUNNING)
            .order_by(col(Job.due_at), col(Job.id))
        )
    )


def finish(session: Session, job_id: int, *, at: datetime) -> None:
    job = session.get(Job, job_id)
    if job is not None:
        job.state, job.finished_at, job.last_error = JobState.DONE, at, None
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
