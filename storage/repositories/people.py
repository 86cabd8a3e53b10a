"""Queries about people."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import Person, utcnow
from storage.upsert import insert_ignore


def get(session: Session, person_id: int) -> Person | None:
    return session.get(Person, person_id)


def by_slack_id(session: Session, slack_user_id: str) -> Person | None:
    return session.exec(select(Person).where(Person.slack_user_id == slack_user_id)).first()


def account_flags(session: Session, slack_user_id: str) -> tuple[bool, bool] | None:
    """(is a bot, is deactivated) of the person with this Slack id, if we know them: two columns,
    no entity, for the check every request makes."""
    row = session.execute(
        select(Person.is_bot, Person.deleted).where(Person.slack_user_id == slack_user_id)
    ).first()
    return (bool(row[0]), bool(row[1])) if row is not None else None


def by_ids(session: Session, person_ids: Iterable[int]) -> dict[int, Person]:
    ids = set(person_ids)
    if not ids:
        return {}
    return {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(ids))) if p.id is not None}


def upsert(
    session: Session,
    *,
    slack_user_id: str,
    name: str,
    tz: str,
    is_bot: bool,
    deleted: bool,
    refreshed_at: datetime,
    email: str | None = None,
) -> Person:
    """Create or refresh a person; ``email=None`` keeps the stored email (Slack omits it
    without the users:read.email scope, which is no reason to forget it).

    Safe when two requests meet the same new person at once: the row is inserted unless it
    exists (``ON CONFLICT DO NOTHING``), then updated, so neither fails."""
    insert_ignore(
        session,
        Person,
        {
            "slack_user_id": slack_user_id,
            "name": name,
            "tz": tz,
            "refreshed_at": refreshed_at,
            "created_at": utcnow(),
        },
        conflict="slack_user_id",
    )
    person = by_slack_id(session, slack_user_id)
    assert person is not None
    person.name, person.tz, person.is_bot, person.deleted = name, tz, is_bot, deleted
    if email is not None:
        person.email = email
    person.refreshed_at = refreshed_at
    session.add(person)
    session.flush()
    return person


def add_placeholder(session: Session, *, slack_user_id: str, name: str, refreshed_at: datetime) -> Person:
    """A person known only by id and handle until ``users.info`` fills them in; the existing
    row when someone else made it first."""
    insert_ignore(
        session,
        Person,
        {
            "slack_user_id": slack_user_id,
            "name": name,
            "tz": "UTC",
            "refreshed_at": refreshed_at,
            "created_at": utcnow(),
        },
        conflict="slack_user_id",
    )
    person = by_slack_id(session, slack_user_id)
    assert person is not None
    return person


def set_dm_channel(session: Session, person_id: int, channel_id: str | None) -> None:
    person = session.get(Person, person_id)
    if person is not None:
        person.dm_channel_id = channel_id
        session.add(person)


def all_names(session: Session) -> list[str]:
    """Everyone's name, to take people out of text before it reaches an LLM."""
    return [name for name in session.exec(select(Person.name)) if name]


def reviewable(session: Session, *, manager_id: int | None = None) -> list[Person]:
    """The people a talent review covers: everyone active (no bot, nobody deleted), or the
    confirmed reports of ``manager_id``; by name."""
    query = select(Person).where(col(Person.is_bot).is_(False), col(Person.deleted).is_(False))
    if manager_id is not None:
        query = query.where(Person.manager_id == manager_id)
    return list(session.exec(query.order_by(col(Person.name), col(Person.id))))
