"""Queries for growth: the ratings the analytics read, and self-assessments."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    Boolean,
    Float,
    Integer,
    Row,
    String,
    case,
    cast,
    delete,
    func,
    literal_column,
    type_coerce,
)
from sqlmodel import Session, col, select

from storage.models import (
    Feedback,
    FeedbackMark,
    FeedbackRequest,
    GrowthStep,
    MessageKind,
    OutboxMessage,
    Person,
    Rating,
    Relation,
    RequestState,
    SelfAssessment,
    SelfRating,
)
from storage.upsert import insert_ignore

FloatArray = npt.NDArray[np.float64]


VISIBLE_RATING_COLUMNS = (
    "giver_id",
    "subject_id",
    "kpi",  # its position in the KPIs asked for
    "relation",  # its position in the relations asked for; -1 for another
    "anonymous",  # 1 or 0
    "at",  # when it became visible (an anonymous one: its batch's release), seconds since the epoch
    "score",
)


def _visible_feedback(since: datetime) -> tuple[Any, ...]:
    """Feedback readers may see (named feedback, released anonymous feedback) about someone
    else, that became visible at or after ``since``."""
    return (
        col(Feedback.released_at).is_not(None),
        since <= _VISIBLE_AT,
        Feedback.giver_id != Feedback.subject_id,
    )


def _visible(query: Any, since: datetime) -> Any:
    """Only ratings of visible feedback (``_visible_feedback``), rated (not "not observed")."""
    return query.join(Rating, col(Rating.feedback_id) == Feedback.id).where(
        col(Rating.score).is_not(None), *_visible_feedback(since)
    )


_VISIBLE_AT = case((col(Feedback.anonymous).is_(True), Feedback.released_at), else_=Feedback.updated_at)


def visible_ratings(
    session: Session,
    *,
    since: datetime,
    now: datetime,
    subject_ids: Iterable[int],
    kpis: Sequence[str],
    relations: Sequence[Relation],
) -> FloatArray:
    """The visible ratings (see ``_visible``) of ``kpis`` about ``subject_ids`` from ``since`` to
    ``now``: an array with a row per rating and the columns ``VISIBLE_RATING_COLUMNS``. An
    anonymous rating is dated by its batch's release, never by when it was given. One query,
    every column a number read straight from the driver, and not grouped: the database sorting
    them into groups costs more than reading them (the analytics sum them as arrays)."""
    query = _visible(
        select(
            Feedback.giver_id,
            Feedback.subject_id,
            _position(col(Rating.kpi), kpis),
            _position(col(Feedback.relation), relations),
            cast(type_coerce(Feedback.anonymous, Boolean), Integer),
            _epoch(session, _VISIBLE_AT),
            Rating.score,
        ),
        since,
    ).where(col(Feedback.subject_id).in_(list(subject_ids)), col(Rating.kpi).in_(kpis), now >= _VISIBLE_AT)
    return np.concatenate([*_numbers(session, query), np.zeros((0, len(VISIBLE_RATING_COLUMNS)))])


def _position(column: Any, values: Sequence[Any]) -> Any:
    """Where ``column``'s value is in ``values`` (-1: not there), computed by the database."""
    return case({v: i for i, v in enumerate(values)}, value=column, else_=-1)


def _numbers(session: Session, query: Any, chunk: int = 50_000) -> Iterator[FloatArray]:
    """The rows of a query whose columns are all numbers (None read as NaN), as float arrays of
    up to ``chunk`` rows each, straight from the driver's cursor: no object per row but the
    driver's own tuple. (SQLite's cursor reads as it goes; psycopg's holds the whole result: a
    server-side cursor streams, but PostgreSQL then plans for the first rows, and reading
    through it took five times as long.)"""
    result = session.connection().execute(query)
    try:
        while rows := result.cursor.fetchmany(chunk):
            yield np.asarray(rows, dtype=np.float64)
    finally:
        result.close()


def _per_rater_batch(session: Session) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The columns ``(giver_id, subject_id, kpi, relation, anonymous, batch)`` and what to group
    them by: ratings summed per rater, person, KPI, relation and release batch (an anonymous
    rating's release in seconds since the epoch; None for named ones)."""
    batch = case((col(Feedback.anonymous).is_(True), _epoch(session, _VISIBLE_AT)), else_=None)
    columns = (
        Feedback.giver_id,
        Feedback.subject_id,
        Rating.kpi,
        type_coerce(Feedback.relation, String),
        type_coerce(Feedback.anonymous, Boolean),
        type_coerce(batch, Float).label("rating_batch"),
    )
    groups = (
        col(Feedback.giver_id),
        col(Feedback.subject_id),
        col(Rating.kpi),
        col(Feedback.relation),
        col(Feedback.anonymous),
        literal_column("rating_batch"),  # by name: the same expression, bound once
    )
    return columns, groups


def _epoch(session: Session, moment: Any) -> Any:
    """``moment`` in seconds since the epoch, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", moment), Float)  # a float, not a Decimal per row
    return (func.julianday(moment) - 2440587.5) * 86400.0


def rating_sums(
    session: Session, *, since: datetime, kpis: Sequence[str], chunk: int = 50_000
) -> Iterator[FloatArray]:
    """The visible named ratings of ``kpis`` since ``since`` summed by rater, person and KPI,
    as arrays of up to ``chunk`` rows ``(giver_id, subject_id, kpi, count, sum, sum of
    squares)`` (``kpi``: its position in ``kpis``): what calibration needs (it is fitted over
    named ratings: an anonymous one must move no one's habits), without a row per rating
    crossing into Python. One query."""
    score = col(Rating.score)
    query = (
        _visible(
            select(
                Feedback.giver_id,
                Feedback.subject_id,
                _position(col(Rating.kpi), kpis),
                func.count(score),
                func.sum(score),
                func.sum(score * score),
            ),
            since,
        )
        .where(col(Feedback.anonymous).is_(False), col(Rating.kpi).in_(kpis))
        .group_by(col(Feedback.giver_id), col(Feedback.subject_id), col(Rating.kpi))
    )
    yield from _numbers(session, query, chunk)


Mark = int


def visible_ratings_mark(session: Session) -> tuple[int, int]:
    """What moves whenever any feedback or rating does, so whenever the visible ratings do (and
    at other changes too): the people with feedback about them and the changes to it, counted by
    the database (``FeedbackMark``). A cheap check before fitting calibration again: a row per
    person, none per item."""
    row = session.exec(select(func.count(), func.coalesce(func.sum(FeedbackMark.changes), 0))).one()
    return int(row[0]), int(row[1])


def visible_marks(session: Session, subject_ids: Iterable[int]) -> dict[int, Mark]:
    """Per person, what moves whenever the feedback about them or its ratings change (and so
    whenever the visible ratings about them do): the changes the database counted
    (``FeedbackMark``). A person nothing was ever given about has none. One query, a row each."""
    rows = session.exec(
        select(FeedbackMark.subject_id, FeedbackMark.changes).where(
            col(FeedbackMark.subject_id).in_(list(subject_ids))
        )
    )
    return {int(subject): int(changes) for subject, changes in rows}


# -- self-assessments ----------------------------------------------------------------------


def save_self_assessment(
    session: Session, assessment: SelfAssessment, scores: Mapping[str, tuple[str, int | None]]
) -> SelfAssessment:
    """Insert or update ``assessment`` and make its ratings exactly ``scores`` (kpi -> (dimension, score))."""
    session.add(assessment)
    session.flush()
    assert assessment.id is not None
    existing = {
        row.kpi: row
        for row in session.exec(select(SelfRating).where(SelfRating.assessment_id == assessment.id))
    }
    for kpi, (dimension, score) in scores.items():
        row = existing.pop(kpi, None) or SelfRating(assessment_id=assessment.id, kpi=kpi, dimension=dimension)
        row.dimension, row.score = dimension, score
        session.add(row)
    for stale in existing.values():
        session.delete(stale)
    session.flush()
    return assessment


def self_assessment_by_view(session: Session, view_id: str) -> SelfAssessment | None:
    return session.exec(select(SelfAssessment).where(SelfAssessment.source_view_id == view_id)).first()


def self_assessment_for_project(session: Session, person_id: int, project_id: int) -> SelfAssessment | None:
    return session.exec(
        select(SelfAssessment).where(
            SelfAssessment.person_id == person_id, SelfAssessment.project_id == project_id
        )
    ).first()


def self_assessments(session: Session, person_id: int) -> list[tuple[SelfAssessment, dict[str, int | None]]]:
    """The person's self-assessments, oldest first, each with its scores."""
    assessments = list(
        session.exec(
            select(SelfAssessment)
            .where(SelfAssessment.person_id == person_id)
            .order_by(col(SelfAssessment.updated_at), col(SelfAssessment.id))
        )
    )
    ids = [a.id for a in assessments]
    scores: dict[int, dict[str, int | None]] = {i: {} for i in ids if i is not None}
    if ids:
        for row in session.exec(select(SelfRating).where(col(SelfRating.assessment_id).in_(ids))):
            scores[row.assessment_id][row.kpi] = row.score
    return [(a, scores.get(a.id or 0, {})) for a in assessments]


def latest_self_scores(
    session: Session, person_ids: Iterable[int]
) -> dict[int, dict[str, tuple[int, datetime]]]:
    """person id -> kpi -> (score, when) of their latest self-rating of that KPI."""
    rows = session.exec(
        select(SelfAssessment.person_id, SelfRating.kpi, SelfRating.score, SelfAssessment.updated_at)
        .join(SelfRating, col(SelfRating.assessment_id) == SelfAssessment.id)
        .where(col(SelfAssessment.person_id).in_(list(person_ids)), col(SelfRating.score).is_not(None))
        .order_by(col(SelfAssessment.updated_at), col(SelfAssessment.id))
    )
    latest: dict[int, dict[str, tuple[int, datetime]]] = {}
    for person_id, kpi, score, at in rows:
        latest.setdefault(person_id, {})[kpi] = (score, at)
    return latest


def delete_self_assessments(session: Session, person_id: int) -> int:
    """Delete the person's self-assessments and their ratings; the number of assessments."""
    ids = list(session.exec(select(SelfAssessment.id).where(SelfAssessment.person_id == person_id)))
    if not ids:
        return 0
    session.execute(delete(SelfRating).where(col(SelfRating.assessment_id).in_(ids)))
    result = session.execute(delete(SelfAssessment).where(col(SelfAssessment.id).in_(ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- the weekly digest ---------------------------------------------------------------------


@dataclass(frozen=True)
class DigestCandidate:
    """What deciding whether someone's digest is due needs, and nothing more."""

    person_id: int
    tz: str
    paused_until: date | None
    digest_paused_until: date | None
    digest_weekday: int | None
    digest_hour: int | None


def digest_candidates(session: Session, *, chunk: int = 2_000) -> Iterator[list[DigestCandidate]]:
    """Everyone who may get a digest (digests on, an active human still in the programme), in
    chunks. One query."""
    query = select(
        Person.id,
        Person.tz,
        Person.paused_until,
        Person.digest_paused_until,
        Person.digest_weekday,
        Person.digest_hour,
    ).where(
        col(Person.digest_enabled).is_(True),
        col(Person.is_bot).is_(False),
        col(Person.deleted).is_(False),
        col(Person.left_programme_at).is_(None),
    )
    for rows in session.execute(
        query.order_by(col(Person.id)).execution_options(yield_per=chunk)
    ).partitions():
        yield [DigestCandidate(*row) for row in rows]


def newly_visible(session: Session, subject_ids: Iterable[int], *, since: datetime) -> dict[int, int]:
    """Per person, the feedback about them that readers could first see at or after ``since``:
    named feedback saved since, anonymous feedback released since. One query."""
    rows = session.exec(
        select(Feedback.subject_id, func.count(col(Feedback.id)))
        .where(col(Feedback.subject_id).in_(list(subject_ids)), *_visible_feedback(since))
        .group_by(col(Feedback.subject_id))
    )
    return {subject: int(n) for subject, n in rows}


def requests_waiting(
    session: Session, giver_ids: Iterable[int], *, since: datetime
) -> dict[int, tuple[int, int]]:
    """Per person, the open feedback requests waiting for their answer: (all, made at or after
    ``since``). One query."""
    recent = func.sum(case((col(FeedbackRequest.created_at) >= since, 1), else_=0))
    rows = session.exec(
        select(FeedbackRequest.giver_id, func.count(col(FeedbackRequest.id)), recent)
        .where(col(FeedbackRequest.giver_id).in_(list(giver_ids)), FeedbackRequest.state == RequestState.OPEN)
        .group_by(col(FeedbackRequest.giver_id))
    )
    return {giver: (int(n), int(r or 0)) for giver, n, r in rows}


def digest_keys_since(session: Session, since: datetime) -> set[str]:
    """The outbox keys of digests due since ``since``: one query, so a tick does not insert
    again what is already there."""
    return set(
        session.exec(
            select(OutboxMessage.key).where(
                OutboxMessage.kind == MessageKind.GROWTH_DIGEST, OutboxMessage.due_at >= since
            )
        )
    )


# -- growth steps: the digest's thing to try, and how it went --------------------------------


def record_step(session: Session, *, person_id: int, week: str, kpi: str, text: str, at: datetime) -> None:
    """The week's thing to try, kept once per person and week (a resend keeps the first)."""
    insert_ignore(
        session,
        GrowthStep,
        {"person_id": person_id, "week": week, "kpi": kpi, "text": text, "created_at": at},
        conflict=("person_id", "week"),
    )


def steps_since(session: Session, person_ids: Iterable[int], week: str) -> dict[int, list[GrowthStep]]:
    """Per person, their steps of ``week`` (an ISO week such as "2026-W49") and after, newest
    first. One query."""
    query = (
        select(GrowthStep)
        .where(col(GrowthStep.person_id).in_(list(person_ids)), col(GrowthStep.week) >= week)
        .order_by(col(GrowthStep.week).desc())
    )
    steps: dict[int, list[GrowthStep]] = {}
    for row in session.exec(query):
        steps.setdefault(row.person_id, []).append(row)
    return steps


def step(session: Session, step_id: int) -> GrowthStep | None:
    return session.get(GrowthStep, step_id)


def delete_steps(session: Session, person_id: int) -> None:
    session.execute(delete(GrowthStep).where(col(GrowthStep.person_id) == person_id))


def recent_steps(session: Session, person_id: int, *, limit: int = 2) -> list[GrowthStep]:
    """The person's latest steps, newest first."""
    query = select(GrowthStep).where(GrowthStep.person_id == person_id)
    return list(session.exec(query.order_by(col(GrowthStep.week).desc()).limit(limit)))


# -- the talent review ---------------------------------------------------------------------------


def feedback_sources(
    session: Session, subject_ids: Iterable[int] | None, *, since: datetime
) -> dict[int, list[int | None]]:
    """Per person (of ``subject_ids``, or everyone), the projects their visible named feedback
    since ``since`` came from, each once; None for feedback outside projects and for anonymous
    feedback, whose project is never said (it would point at whom was asked). One query."""
    project = case((col(Feedback.anonymous).is_(True), None), else_=Feedback.project_id)
    query = select(Feedback.subject_id, project).where(*_visible_feedback(since)).distinct()
    if subject_ids is not None:
        query = query.where(col(Feedback.subject_id).in_(list(subject_ids)))
    sources: dict[int, list[int | None]] = {}
    for subject, project in session.exec(query):
        sources.setdefault(subject, []).append(project)
    return sources


def visible_notes(
    session: Session, subject_ids: Iterable[int] | None, *, since: datetime
) -> Iterator[tuple[int, str]]:
    """The notes of the visible feedback about ``subject_ids`` (or everyone) since ``since``:
    (subject, note), one per non-empty note, streamed. No giver: only what the notes say, and
    about whom."""
    query = select(Feedback.subject_id, Feedback.delivery_note, Feedback.strengths_note, Feedback.growth_note)
    query = query.where(*_visible_feedback(since))
    if subject_ids is not None:
        query = query.where(col(Feedback.subject_id).in_(list(subject_ids)))
    for subject, *notes in session.execute(query.execution_options(yield_per=5_000)):
        for note in notes:
            if note:
                yield subject, note


def rater_cells(
    session: Session,
    *,
    since: datetime,
    now: datetime,
    subject_ids: Iterable[int] | None = None,
    chunk: int = 20_000,
) -> Iterator[Sequence[Row[Any]]]:
    """The visible ratings (see ``_visible``) from ``since`` to ``now`` — of ``subject_ids``, or of
    everyone — summed per giver, person, KPI, relation and release batch, streamed in chunks of
    rows ``(giver_id, subject_id, kpi, relation, anonymous, batch, count, sum, sum of squares)``:
    ``batch`` is an anonymous rating's release in seconds since the epoch (its batch), None for
    named ones. What the talent review reads, without a row per rating or per week crossing into
    Python."""
    columns, groups = _per_rater_batch(session)
    score = col(Rating.score)
    query = _visible(
        select(*columns, func.count(score), func.sum(score), func.sum(score * score)), since
    ).where(now >= _VISIBLE_AT)
    if subject_ids is not None:
        query = query.where(col(Feedback.subject_id).in_(list(subject_ids)))
    query = query.group_by(*groups)
    yield from session.execute(query.execution_options(yield_per=chunk)).partitions()


def rater_periods(
    session: Session,
    *,
    now: datetime,
    weeks: int,
    scales: Mapping[str, tuple[float, float]],
    subject_ids: Iterable[int] | None = None,
    chunk: int = 20_000,
) -> Iterator[Sequence[Row[Any]]]:
    """The visible ratings of the last ``2 * weeks`` weeks before ``now`` (of ``subject_ids``, or
    everyone), on the 1-5 scale (``scales``: each KPI's ``a * score + b``; other KPIs left out),
    summed per giver, person, dimension and period — 0 for the last ``weeks`` weeks, 1 for the
    ``weeks`` before — streamed in chunks of rows ``(giver_id, subject_id, dimension, anonymous,
    period, count, sum)``. What a trend per dimension needs, in a fraction of the rows per KPI would be."""
    at = _VISIBLE_AT
    recent = now - timedelta(weeks=weeks)
    period = case((at >= recent, 0), else_=1)
    score = col(Rating.score)
    # One WHEN per distinct scale (outcome KPIs, say), not per KPI: it runs for every rating.
    by_scale: dict[tuple[float, float], list[str]] = {}
    for kpi, scale in scales.items():
        by_scale.setdefault(scale, []).append(kpi)
    identity = by_scale.pop((1.0, 0.0), None) is not None
    scaled = case(
        *((col(Rating.kpi).in_(kpis), score * a + b) for (a, b), kpis in by_scale.items()),
        else_=score if identity else None,
    )
    query = (
        _visible(
            select(
                Feedback.giver_id,
                Feedback.subject_id,
                Rating.dimension,
                type_coerce(Feedback.anonymous, Boolean),
                period.label("rating_period"),
                func.count(scaled),
                func.sum(scaled),
            ),
            now - timedelta(weeks=2 * weeks),
        )
        .where(now >= at, col(Rating.kpi).in_(list(scales)))
        .group_by(
            col(Feedback.giver_id),
            col(Feedback.subject_id),
            col(Rating.dimension),
            col(Feedback.anonymous),
            literal_column("rating_period"),
        )
    )
    if subject_ids is not None:
        query = query.where(col(Feedback.subject_id).in_(list(subject_ids)))
    yield from session.execute(query.execution_options(yield_per=chunk)).partitions()
