"""Counts over the whole programme, for the admins' health view: aggregates only, no rows
about anyone's feedback leave here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, not_
from sqlmodel import Session, col, select

from storage.models import (
    DebriefTask,
    Feedback,
    FeedbackRequest,
    Person,
    Project,
    ProjectState,
    TaskKind,
    UpwardFeedback,
)


@dataclass(frozen=True)
class PeopleCounts:
    in_programme: int  # people (not bots, not deactivated) who have not left
    with_manager: int  # of those, with a confirmed manager
    left: int  # who left the programme


def people(session: Session) -> PeopleCounts:
    active = and_(
        not_(col(Person.is_bot)), not_(col(Person.deleted)), col(Person.left_programme_at).is_(None)
    )
    in_programme = session.exec(select(func.count()).select_from(Person).where(active)).one()
    with_manager = session.exec(
        select(func.count()).select_from(Person).where(active, col(Person.manager_id).is_not(None))
    ).one()
    left = session.exec(
        select(func.count()).select_from(Person).where(col(Person.left_programme_at).is_not(None))
    ).one()
    return PeopleCounts(int(in_programme), int(with_manager), int(left))


def projects_by_state(session: Session) -> dict[ProjectState, int]:
    rows = session.exec(select(Project.state, func.count()).group_by(Project.state))
    return {ProjectState(state): int(n) for state, n in rows}


def named_debrief_parts(session: Session) -> tuple[int, int]:
    """(answered, asked) debrief parts of projects that were not cancelled, named parts only:
    the upward parts of a project with anonymous upward feedback are not counted, as in every
    other progress counter (a count that moved when one was answered would point at its giver)."""
    anonymous_upward = and_(
        col(Project.upward_feedback) == UpwardFeedback.ANONYMOUS, col(DebriefTask.kind) == TaskKind.UPWARD
    )
    query = (
        select(func.count(), func.count(col(DebriefTask.done_at)))
        .select_from(DebriefTask)
        .join(Project, col(Project.id) == col(DebriefTask.project_id))
        .where(col(Project.state) != ProjectState.CANCELLED, not_(anonymous_upward))
    )
    asked, answered = session.exec(query).one()
    return int(answered), int(asked)


def released_feedback(session: Session) -> int:
    """Feedback readers may see: named at once, anonymous only once released in its batch."""
    return int(
        session.exec(
            select(func.count()).select_from(Feedback).where(col(Feedback.released_at).is_not(None))
        ).one()
    )


def requests_since(session: Session, since: datetime) -> list[FeedbackRequest]:
    return list(session.exec(select(FeedbackRequest).where(col(FeedbackRequest.created_at) >= since)))


def answers_to(session: Session, request_ids: Sequence[int]) -> dict[int, Feedback]:
    if not request_ids:
        return {}
    rows = session.exec(select(Feedback).where(col(Feedback.request_id).in_(list(request_ids))))
    return {f.request_id: f for f in rows if f.request_id is not None}
