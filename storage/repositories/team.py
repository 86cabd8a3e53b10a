"""Queries about who reports to whom, as readers need them."""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.models import Person, Relation


def report_ids(session: Session, manager_id: int) -> frozenset[int]:
    """Confirmed direct reports; a pending claim grants nothing."""
    return frozenset(
        pid
        for pid in session.exec(select(Person.id).where(Person.manager_id == manager_id))
        if pid is not None
    )


def reports(session: Session, manager_id: int) -> list[Person]:
    return list(
        session.exec(select(Person).where(Person.manager_id == manager_id).order_by(col(Person.name)))
    )


def pending_reports(session: Session, manager_id: int) -> list[Person]:
    return list(
        session.exec(select(Person).where(Person.pending_manager_id == manager_id).order_by(col(Person.name)))
    )


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
