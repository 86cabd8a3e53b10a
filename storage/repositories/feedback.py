"""Queries about feedback records and their ratings."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import TextClause, case, func, insert, text, update
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
    """Insert or update ``feedback`` and make its ratings exactly ``scores`` (kpi -> (dimension, score)).

    A new record's ratings go in as one multi-row INSERT: on SQLite the writer holds the file
    from its first write to its commit, so the fewer statements (and the less Python) between
    them, the sooner the next writer goes."""
    if feedback.id is None:  # new: it has no ratings yet, nothing to read back
        table = Feedback.__table__  # type: ignore[attr-defined]
        row = {column.name: getattr(feedback, column.name) for column in table.columns if column.name != "id"}
        ratings = [
            {"kpi": kpi, "dimension": dimension, "score": score} for kpi, (dimension, score) in scores.items()
        ]
        feedback.id = session.execute(insert(table), row).inserted_primary_key[0]
        if ratings:
            params = {
                f"{name}_{i}": value for i, rating in enumerate(ratings) for name, value in rating.items()
            }
            session.execute(_ratings_insert(len(ratings)), {"feedback_id": feedback.id, **params})
        return feedback
    session.add(feedback)
    session.flush()
    existing = {row.kpi: row for row in session.exec(select(Rating).where(Rating.feedback_id == feedback.id))}
    for kpi, (dimension, score) in scores.items():
        row = existing.pop(kpi, None) or Rating(feedback_id=feedback.id, kpi=kpi, dimension=dimension)
        row.dimension, row.score = dimension, score
        session.add(row)
    for stale in existing.values():  # a KPI the framework no longer has
        session.delete(stale)
    session.flush()
    return feedback


@functools.cache
def _ratings_insert(count: int) -> TextClause:
    """One INSERT of ``count`` ratings of one record, with bound parameters (``kpi_0``,
    ``dimension_0``, ``score_0``, …): written once per count, since SQLAlchemy compiles a
    multi-row ``insert().values([...])`` anew at every execution (about a millisecond)."""
    rows = ", ".join(f"(:feedback_id, :kpi_{i}, :dimension_{i}, :score_{i})" for i in range(count))
    table = Rating.__tablename__
    return text(f"INSERT INTO {table} (feedback_id, kpi, dimension, score) VALUES {rows}")


def about(session: Session, subject_id: int, *, reader_id: int, limit: int | None = None) -> list[Feedback]:
    """Feedback about a person that ``reader_id`` may see exist: what was released (named
    feedback at once, anonymous in batches: ``bot.feedback.anonymity``) and what the reader gave
    themself. Newest release first; items released at the same instant (a batch) in an order
    that has nothing to do with when each was given, and a ``limit`` that would cut a batch
    cuts it by that order too, so neither the order nor the cut says who answered last.

    With a ``limit``, only the rows that can be among the first ``limit`` are loaded: the
    reader's own held ones, and the released ones from the ``limit``-th newest release on
    (the whole batch at that release, so the cut is made by the order above)."""
    subject = Feedback.subject_id == subject_id
    released = col(Feedback.released_at).is_not(None)
    own_held = select(Feedback).where(
        subject, col(Feedback.released_at).is_(None), Feedback.giver_id == reader_id
    )
    query = select(Feedback).where(subject, released)
    rows = list(session.exec(own_held))
    if limit:
        if len(rows) >= limit:
            return sorted(rows, key=_unordered_within_a_release)[:limit]
        cutoff = session.exec(
            select(Feedback.released_at)
            .where(subject, released)
            .order_by(col(Feedback.released_at).desc())
            .offset(limit - len(rows) - 1)
            .limit(1)
        ).first()
        if cutoff is not None:
            query = query.where(col(Feedback.released_at) >= cutoff)
    rows += session.exec(query)
    rows.sort(key=_unordered_within_a_release)
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


@dataclass(frozen=True)
class Tally:
    """Ratings of one KPI: how many (a "not observed" is none), their sum, and from how many
    different people."""

    ratings: int = 0
    total: int = 0
    raters: int = 0


def released_counts(
    session: Session, subject_ids: Collection[int], *, since: datetime | None = None
) -> dict[int, int]:
    """How many released feedback records there are about each person (since ``since``)."""
    query = (
        select(Feedback.subject_id, func.count())
        .where(col(Feedback.subject_id).in_(list(subject_ids)), col(Feedback.released_at).is_not(None))
        .group_by(col(Feedback.subject_id))
    )
    if since is not None:
        query = query.where(col(Feedback.released_at) >= since)
    found = dict.fromkeys(subject_ids, 0)
    found.update({int(subject): int(n) for subject, n in session.exec(query)})
    return found


def released_tallies(
    session: Session, subject_ids: Collection[int], *, since: datetime | None = None
) -> dict[int, dict[str, Tally]]:
    """Per person and KPI, the ratings in the released feedback about them (since ``since``),
    counted by the database: held anonymous feedback counts nowhere (``bot.feedback.anonymity``)."""
    query = (
        select(
            Feedback.subject_id,
            Rating.kpi,
            func.count(),
            func.sum(Rating.score),
            func.count(func.distinct(Feedback.giver_id)),
        )
        .join(Rating, col(Rating.feedback_id) == col(Feedback.id))
        .where(
            col(Feedback.subject_id).in_(list(subject_ids)),
            col(Feedback.released_at).is_not(None),
            col(Rating.score).is_not(None),
        )
        .group_by(col(Feedback.subject_id), col(Rating.kpi))
    )
    if since is not None:
        query = query.where(col(Feedback.released_at) >= since)
    found: dict[int, dict[str, Tally]] = {subject: {} for subject in subject_ids}
    for subject, kpi, ratings, total, raters in session.exec(query):
        found[int(subject)][kpi] = Tally(ratings=int(ratings), total=int(total or 0), raters=int(raters))
    return found


def released_by_period(
    session: Session,
    subject_ids: Collection[int],
    *,
    bounds: Sequence[datetime],
    since: datetime | None = None,
) -> dict[int, dict[str, dict[int, Tally]]]:
    """Per person, KPI and period, the ratings in the feedback released in that period (and
    since ``since``): period ``i`` runs from ``bounds[i]`` to ``bounds[i + 1]``, the last one
    from ``bounds[-1]`` on (``raters`` is not counted here)."""
    released_at = col(Feedback.released_at)
    period = case(
        *((released_at < upper, index) for index, upper in enumerate(bounds[1:])), else_=len(bounds) - 1
    ).label("period")
    query = (
        select(Feedback.subject_id, Rating.kpi, period, func.count(), func.sum(Rating.score))
        .join(Rating, col(Rating.feedback_id) == col(Feedback.id))
        .where(
            col(Feedback.subject_id).in_(list(subject_ids)),
            released_at >= (bounds[0] if since is None else max(bounds[0], since)),
            col(Rating.score).is_not(None),
        )
        .group_by(col(Feedback.subject_id), col(Rating.kpi), period)
    )
    found: dict[int, dict[str, dict[int, Tally]]] = {subject: {} for subject in subject_ids}
    for subject, kpi, index, ratings, total in session.exec(query):
        found[int(subject)].setdefault(kpi, {})[int(index)] = Tally(
            ratings=int(ratings), total=int(total or 0)
        )
    return found


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


def by_requests(session: Session, request_ids: Collection[int]) -> dict[int, Feedback]:
    """The answer to each of these requests that has one."""
    if not request_ids:
        return {}
    rows = session.exec(select(Feedback).where(col(Feedback.request_id).in_(list(request_ids))))
    return {row.request_id: row for row in rows if row.request_id is not None}


def by_request(session: Session, request_id: int) -> Feedback | None:
    return session.exec(select(Feedback).where(Feedback.request_id == request_id)).first()


def by_source_view(session: Session, view_id: str) -> Feedback | None:
    return session.exec(select(Feedback).where(Feedback.source_view_id == view_id)).first()
