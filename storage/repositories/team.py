"""Queries about who reports to whom, as readers need them."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, col, select

from storage.models import Person, Relation


def report_ids(session: Session, manager_id: int) -> frozenset[int]:
    """Confirmed direct reports; a pending claim grants nothing."""
    return frozenset(
        pid
        for pid in session.exec(select(Person.id).where(Person.manager_id == manager_id))
        if pid is not None
    )


def reports(session: Session, manager_id: int, *, limit: int | None = None) -> list[Person]:
    """Confirmed direct reports by name (the first ``limit``)."""
    query = select(Person).where(Person.manager_id == manager_id).order_by(col(Person.name), col(Person.id))
    return list(session.exec(query.limit(limit) if limit is not None else query))


def team_slack_ids(session: Session, manager_id: int) -> tuple[list[str], list[str]]:
    """The Slack ids of the confirmed reports, and of the people claimed and not confirmed yet,
    each by name as ``reports`` and ``pending_reports`` list them."""
    rows = session.exec(
        select(Person.slack_user_id, Person.manager_id, Person.pending_manager_id)
        .where(or_(Person.manager_id == manager_id, Person.pending_manager_id == manager_id))
        .order_by(col(Person.name), col(Person.id))
    ).all()
    return (
        [uid for uid, manager, _ in rows if manager == manager_id],
        [uid for uid, _, pending in rows if pending == manager_id],
    )


def pending_reports(session: Session, manager_id: int, *, limit: int | None = None) -> list[Person]:
    """People the manager claimed who have not confirmed yet, by name (the first ``limit``)."""
    query = (
        select(Person)
        .where(Person.pending_manager_id == manager_id)
        .order_by(col(Person.name), col(Person.id))
    )
    return list(session.exec(query.limit(limit) if limit is not None else query))


def relation(session: Session, giver_id: int, subject_id: int) -> Relation:
    """What the giver is to the subject in the org chart now."""
    if giver_id == subject_id:
        return Relation.SELF
    giver, subject = session.get(Person, giver_id), session.get(Person, subject_id)
    if subject is not None and subject.manager_id == giver_id:
        return Relation.MANAGER
    if giver is not None and giver.manager_id == subject_id:
        return Relation.REPORT
    return Relation.PEER
