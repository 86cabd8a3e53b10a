"""Queries about coaching drafts and the coach's cached answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import CoachAnswer, CoachAudience, CoachingDraft, DraftState, Feedback


def answer(session: Session, evidence_key: str) -> CoachAnswer | None:
    return session.exec(select(CoachAnswer).where(CoachAnswer.evidence_key == evidence_key)).first()


def answer_by_id(session: Session, answer_id: int) -> CoachAnswer | None:
    return session.get(CoachAnswer, answer_id)


def remember_answer(session: Session, row: CoachAnswer) -> CoachAnswer:
    """Store an answer once per key; when another process stored it first, theirs stands."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = answer(session, row.evidence_key)
        assert existing is not None
        return existing
    return row


def start_drafting(session: Session, draft: CoachingDraft) -> int | None:
    """Claim the one draft in the making per (subject, reader, audience): its id, or None when
    another is being made (the partial unique index ``uq_drafting`` decides)."""
    try:
        with session.begin_nested():
            session.add(draft)
            session.flush()
    except IntegrityError:
        return None
    return draft.id


def expire_drafting(
    session: Session, *, subject_id: int, requested_by_id: int, audience: CoachAudience, before: datetime
) -> None:
    """A draft still "drafting" since before ``before`` was lost (a crash): it failed."""
    session.execute(
        update(CoachingDraft)
        .where(
            col(CoachingDraft.subject_id) == subject_id,
            col(CoachingDraft.requested_by_id) == requested_by_id,
            col(CoachingDraft.audience) == audience,
            col(CoachingDraft.state) == DraftState.DRAFTING,
            col(CoachingDraft.created_at) < before,
        )
        .values(state=DraftState.FAILED, updated_at=before)
    )


def get(session: Session, draft_id: int) -> CoachingDraft | None:
    return session.get(CoachingDraft, draft_id)


def latest_open(
    session: Session, *, subject_id: int, requested_by_id: int, audience: CoachAudience
) -> CoachingDraft | None:
    """The newest draft that has not been shared, for reopening."""
    return session.exec(
        select(CoachingDraft)
        .where(
            CoachingDraft.subject_id == subject_id,
            CoachingDraft.requested_by_id == requested_by_id,
            CoachingDraft.audience == audience,
            col(CoachingDraft.state).in_([DraftState.DRAFT, DraftState.DRAFTING]),
        )
        .order_by(col(CoachingDraft.id).desc())
    ).first()


def claim_for_sharing(session: Session, draft_id: int, *, at: datetime) -> bool:
    """Move a draft to shared exactly once: a double click or a retry finds it shared."""
    result = session.execute(
        update(CoachingDraft)
        .where(col(CoachingDraft.id) == draft_id, col(CoachingDraft.state) == DraftState.DRAFT)
        .values(state=DraftState.SHARED, shared_at=at, updated_at=at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def unshare(session: Session, draft_id: int, *, at: datetime) -> None:
    """Back to a draft when the DM that shared it could not be sent."""
    session.execute(
        update(CoachingDraft)
        .where(col(CoachingDraft.id) == draft_id, col(CoachingDraft.shared_ts).is_(None))
        .values(state=DraftState.DRAFT, shared_at=None, updated_at=at)
    )


def finish(session: Session, draft_id: int, *, state: DraftState, at: datetime) -> None:
    session.execute(
        update(CoachingDraft).where(col(CoachingDraft.id) == draft_id).values(state=state, updated_at=at)
    )


def newest_evidence_at(session: Session, subject_id: int) -> datetime | None:
    """When readers last saw feedback about the person change: a draft from before it is stale.
    Held anonymous feedback does not count (it is not there for readers yet: ``bot.feedback.anonymity``)."""
    # max() keeps the column's type, so the value comes back as an aware UTC datetime.
    return session.exec(select(func.max(Feedback.released_at)).where(Feedback.subject_id == subject_id)).one()


def drafts_by(session: Session, requested_by_id: int, *, limit: int = 10) -> list[CoachingDraft]:
    return list(
        session.exec(
            select(CoachingDraft)
            .where(CoachingDraft.requested_by_id == requested_by_id)
            .order_by(col(CoachingDraft.id).desc())
            .limit(limit)
        )
    )
