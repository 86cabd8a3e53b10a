"""``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL alike: a first contact, a claim
or an enqueue that two requests (or replicas) make at the same moment lands once, and neither
fails."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def insert_ignore(
    session: Session, table: type[SQLModel], values: dict[str, Any], *, conflict: str | tuple[str, ...]
) -> bool:
    """Insert ``values`` unless a row with the same ``conflict`` column(s) exists; True if inserted."""
    return insert_ignore_many(session, table, [values], conflict=conflict) > 0


def insert_ignore_many(
    session: Session,
    table: type[SQLModel],
    rows: Sequence[dict[str, Any]],
    *,
    conflict: str | tuple[str, ...],
) -> int:
    """``insert_ignore`` for many rows in one statement (all with the same columns); how many
    were inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    columns = [conflict] if isinstance(conflict, str) else list(conflict)
    statement = module.insert(table).values(list(rows)).on_conflict_do_nothing(index_elements=columns)
    # Counted from RETURNING: a driver may split a long VALUES list and report no row count.
    inserted = session.execute(statement.returning(*table.__table__.primary_key.columns))  # type: ignore[attr-defined]
    return len(inserted.all())
