"""Queries about projects, their members and debrief tasks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from storage.models import DebriefTask, Project, ProjectMember, ProjectState, TaskKind


def add_project(session: Session, project: Project, member_ids: Sequence[int]) -> Project:
    session.add(project)
    session.flush()
    assert project.id is not None
    for person_id in member_ids:
        session.add(ProjectMember(project_id=project.id, person_id=person_id))
    session.flush()
    return project


def get(session: Session, project_id: int) -> Project | None:
    return session.get(Project, project_id)


def get_for_update(session: Session, project_id: int) -> Project | None:
    return session.exec(select(Project).where(Project.id == project_id).with_for_update()).first()


def by_source_view(session: Session, view_id: str) -> Project | None:
    return session.exec(select(Project).where(Project.source_view_id == view_id)).first()


def member_ids(session: Session, project_id: int) -> list[int]:
    rows = session.exec(
        select(ProjectMember.person_id)
        .where(ProjectMember.project_id == project_id)
        .order_by(ProjectMember.id)
    )
    return list(rows)


def involving(session: Session, person_id: int, *, limit: int = 20) -> list[Project]:
    """Projects the person leads, created, or is a member of; newest end date first."""
    member_of = select(ProjectMember.project_id).where(ProjectMember.person_id == person_id)
    query = (
        select(Project)
        .where(
            or_(
                Project.lead_id == person_id,
                Project.created_by_id == person_id,
                col(Project.id).in_(member_of),
            )
        )
        .order_by(col(Project.end_date).desc(), col(Project.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))


def by_ids(session: Session, project_ids: Iterable[int]) -> dict[int, Project]:
    ids = set(project_ids)
    if not ids:
        return {}
    return {
        p.id: p for p in session.exec(select(Project).where(col(Project.id).in_(ids))) if p.id is not None
    }


def task_counts(session: Session, project_ids: Sequence[int]) -> dict[int, dict[tuple[TaskKind, bool], int]]:
    """Per project, how many debrief tasks there are of each kind, done and not done."""
    found: dict[int, dict[tuple[TaskKind, bool], int]] = {pid: {} for pid in project_ids}
    if not project_ids:
        return found
    done = col(DebriefTask.done_at).is_not(None)
    rows = session.exec(
        select(DebriefTask.project_id, DebriefTask.kind, done, func.count())
        .where(col(DebriefTask.project_id).in_(list(project_ids)))
        .group_by(col(DebriefTask.project_id), col(DebriefTask.kind), done)
    )
    for project_id, kind, is_done, n in rows:
        found[int(project_id)][(TaskKind(kind), bool(is_done))] = int(n)
    return found


def set_state(session: Session, project: Project, state: ProjectState, *, at: datetime | None = None) -> None:
    project.state = state
    if state is ProjectState.CANCELLED:
        project.cancelled_at = at
    session.add(project)


def add_task(session: Session, task: DebriefTask) -> None:
    session.add(task)


def tasks(session: Session, project_id: int) -> list[DebriefTask]:
    return list(
        session.exec(select(DebriefTask).where(DebriefTask.project_id == project_id).order_by(DebriefTask.id))
    )


def task(session: Session, project_id: int, giver_id: int, subject_id: int) -> DebriefTask | None:
    return session.exec(
        select(DebriefTask).where(
            DebriefTask.project_id == project_id,
            DebriefTask.giver_id == giver_id,
            DebriefTask.subject_id == subject_id,
        )
    ).first()
