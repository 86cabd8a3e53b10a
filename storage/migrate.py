"""Alembic, driven from code: ``brickwork db upgrade`` and the start of ``run``/``serve``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class MigrationError(Exception):
    """The database's schema is not one this version can use; ``str(error)`` is one line saying
    what to do."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser treats % as interpolation; URLs may carry %-escaped passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    _refuse_unknown(current_heads(url))
    try:
        command.upgrade(alembic_config(url), revision)
    except CommandError as error:  # what the check above cannot foresee: say it in one line
        raise MigrationError(f"the migration failed: {str(error).splitlines()[0][:200]}") from None


def current_heads(url: str) -> set[str]:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def head_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {
        script.revision
        for script in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
    }


def _refuse_unknown(heads: set[str]) -> None:
    unknown = sorted(heads - known_revisions())
    if unknown:
        raise MigrationError(
            f"the database is at revision {', '.join(unknown)}, which this version of Brickwork does "
            "not know (a newer version migrated it): run that version, or restore a backup taken "
            "before it"
        )


def is_current(url: str) -> bool:
    return current_heads(url) == head_revisions()


def check_current(url: str) -> None:
    """Refuse (``MigrationError``) a database this version cannot use as it is: not migrated yet,
    migrated only in part, or migrated by a newer version."""
    heads = current_heads(url)
    _refuse_unknown(heads)
    if heads != head_revisions():
        raise MigrationError("the database is not migrated: run `brickwork db upgrade` first")
