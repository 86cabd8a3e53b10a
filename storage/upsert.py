"""``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL alike: a first contact, a claim
or an enqueue that two requests (or replicas) make at the same moment lands once, and neither
fails."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def insert_ignore(
    session: Session, table: type[SQLModel], values: dict[str, Any], *, conflict: str | tuple[str, ...]
) -> bool:
    """Insert ``values`` unless a row with the same ``conflict`` column(s) exists; True if inserted."""
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    columns = [conflict] if isinstance(conflict, str) else list(conflict)
    statement = module.insert(table).values(**values).on_conflict_do_nothing(index_elements=columns)
    result = session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]
