"""Queries about feedback records and their ratings."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, select

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
