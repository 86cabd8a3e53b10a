"""Queries about feedback records and their ratings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import func
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


def about(session: Session, subject_id: int, *, limit: int | None = None) -> list[Feedback]:
    """Feedback about a person, newest first."""
    query = (
        select(Feedback)
        .where(Feedback.subject_id == subject_id)
        .order_by(col(Feedback.updated_at).desc(), col(Feedback.id).desc())
    )
    return list(session.exec(query.limit(limit) if limit else query))


def given_by(session: Session, giver_id: int) -> list[Feedback]:
    return list(
        session.exec(select(Feedback).where(Feedback.giver_id == giver_id).order_by(col(Feedback.id)))
    )


def anonymous_givers(session: Session, subject_id: int) -> int:
    """How many different people gave anonymous feedback about the subject: people, not
    records, so one colleague's three anonymous forms count once."""
    return int(
        session.exec(
            select(func.count(func.distinct(Feedback.giver_id))).where(
                Feedback.subject_id == subject_id, col(Feedback.anonymous).is_(True)
            )
        ).one()
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
