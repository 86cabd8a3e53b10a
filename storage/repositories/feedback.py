"""Queries about feedback records and their ratings."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from storage.models import Feedback, Rating


def find(session: Session, *, giver_id: int, subject_id: int, project_id: int | None) -> Feedback | None:
    query = select(Feedback).where(Feedback.giver_id == giver_id, Feedback.subject_id == subject_id)
    query = (
        query.where(Feedback.project_id == project_id)
        if project_id is not None
        else query.where(
            Feedback.project_id.is_(None)  # type: ignore[union-attr]
        )
    )
    return session.exec(query).first()


def ratings(session: Session, feedback_id: int) -> dict[str, int | None]:
    rows = session.exec(select(Rating).where(Rating.feedback_id == feedback_id))
    return {row.kpi: row.score for row in rows}


def save(session: Session, feedback: Feedback, scores: Mapping[str, tuple[str, int | None]]) -> Feedback:
    """Insert or update ``feedback`` and make its ratings exactly ``scores`` (kpi -> (dimension, score))."""
    session.add(feedback)
    session.flush()
    assert feedback.id is not None
    existing = {row.kpi: row for row in session.exec(select(Rating).where(Rating.feedback_id == feedback.id))}
    for kpi, (dimension, score) in scores.items():
        row = existing.pop(kpi, None) or Rating(feedback_id=feedback.id, kpi=kpi, dimension=dimension)
        row.dimension, row.score = dimension, score
        session.add(row)
    for stale in existing.values():  # a KPI the framework no longer has
        session.delete(stale)
    session.flush()
    return feedback


def about(session: Session, subject_id: int, *, reader_id: int, limit: int | None = None) -> list[Feedback]:
    """Feedback about a person that ``reader_id`` may see exist: what was released (named
    feedback at once, anonymous in batches: ``bot.feedback.anonymity``) and what the reader gave
    themself. Newest release first; items released at the same instant (a batch) in an order
    that has nothing to do with when each was given, and a ``limit`` that would cut a batch
    cuts it by that order too, so neither the order nor the cut says who answered last."""
    visible = and_(
        Feedback.subject_id == subject_id,
        or_(col(Feedback.released_at).is_not(None), Feedback.giver_id == reader_id),
    )
    query = select(Feedback).where(visible)
    if limit:
        cutoff = session.exec(
            select(Feedback.released_at)
            .where(visible)
            .order_by(col(Feedback.released_at).desc().nulls_first())
            .offset(limit - 1)
            .limit(1)
        ).first()
        if cutoff is not None:
            query = query.where(or_(col(Feedback.released_at).is_(None), col(Feedback.released_at) >= cutoff))
    rows = sorted(session.exec(query), key=_unordered_within_a_release)
    return rows[:limit] if limit else rows


def _unordered_within_a_release(record: Feedback) -> tuple[int, int, str]:
    held = record.released_at is None  # the reader's own, not released yet: first
    at = -int(record.released_at.timestamp() * 1_000_000) if record.released_at else 0
    return (0 if held else 1, at, hashlib.sha256(f"brickwork-feedback:{record.id}".encode()).hexdigest())


def held_anonymous(session: Session) -> list[tuple[int, int, int, datetime]]:
    """(id, subject, giver, last saved) of anonymous feedback not released yet."""
    rows = session.exec(
        select(Feedback.id, Feedback.subject_id, Feedback.giver_id, Feedback.updated_at).where(
            col(Feedback.anonymous).is_(True), col(Feedback.released_at).is_(None)
        )
    ).all()
    return [
        (int(fid), int(subject), int(giver), saved) for fid, subject, giver, saved in rows if fid is not None
    ]


def release(session: Session, feedback_ids: Sequence[int], *, at: datetime) -> None:
    session.execute(
        update(Feedback)
        .where(col(Feedback.id).in_(list(feedback_ids)), col(Feedback.released_at).is_(None))
        .values(released_at=at)
        .execution_options(synchronize_session=False)
    )


def givers_released_at(session: Session, subject_id: int, at: datetime) -> int:
    """How many different people are in the anonymous batch released about a person at ``at``."""
    return int(
        session.exec(
            select(func.count(func.distinct(Feedback.giver_id))).where(
                Feedback.subject_id == subject_id,
                col(Feedback.anonymous).is_(True),
                Feedback.released_at == at,
            )
        ).one()
    )


def given_by(session: Session, giver_id: int) -> list[Feedback]:
    return list(
        session.exec(select(Feedback).where(Feedback.giver_id == giver_id).order_by(col(Feedback.id)))
    )


def ratings_for(session: Session, feedback_ids: Sequence[int]) -> dict[int, dict[str, int | None]]:
    found: dict[int, dict[str, int | None]] = {fid: {} for fid in feedback_ids}
    if not feedback_ids:
        return found
    for row in session.exec(select(Rating).where(col(Rating.feedback_id).in_(list(feedback_ids)))):
        found[row.feedback_id][row.kpi] = row.score
    return found


def by_request(session: Session, request_id: int) -> Feedback | None:
    return session.exec(select(Feedback).where(Feedback.request_id == request_id)).first()


def by_source_view(session: Session, view_id: str) -> Feedback | None:
    return session.exec(select(Feedback).where(Feedback.source_view_id == view_id)).first()
