"""Fixtures shared by every test.

The database is real: a fresh SQLite file per test, or — when ``TEST_DATABASE_URL`` is set —
a fresh schema on that PostgreSQL server per test, migrated with our own Alembic migrations
and dropped afterwards.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.settings import normalise_database_url
from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack
from storage import migrate
from storage.db import Database
from tests.harness import EVERYONE, AppProcess, start_app

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray token or setting from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "OPENAI_", "BRICKWORK_")) or name in {"DATABASE_URL", "PORT"}:
            monkeypatch.delenv(name, raising=False)


@functools.cache
def _migrated_sqlite_file() -> Path:
    """One SQLite file migrated with our migrations, per test process: each test gets a copy
    (a copy is a millisecond, running the migrations a fifth of a second)."""
    directory = tempfile.mkdtemp(prefix="brickwork-template-")
    atexit.register(shutil.rmtree, directory, True)
    path = Path(directory) / "brickwork.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _fresh_database(directory: Path) -> Iterator[str]:
    if not TEST_DATABASE_URL:
        path = directory / "brickwork.db"
        shutil.copyfile(_migrated_sqlite_file(), path)
        yield f"sqlite:///{path}"
        return
    base = make_url(normalise_database_url(TEST_DATABASE_URL))
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield from _fresh_database(tmp_path)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(users=EVERYONE) as fake:
        yield fake


@pytest.fixture
def app(slack: FakeSlack, database_url: str, tmp_path: Path) -> Iterator[AppProcess]:
    process = start_app(slack, database_url, tmp_path)
    yield process
    process.stop()


@pytest.fixture
def driver(app: AppProcess, slack: FakeSlack) -> SlackDriver:
    return SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)


# One app per module, for tests that do not interfere: each works with people and projects of
# its own, so the order they run in does not matter. Starting ``brickwork serve`` takes seconds;
# a module of twenty tests that each started one spent most of its time waiting for it.


@pytest.fixture(scope="module")
def shared_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _fresh_database(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
def shared_slack() -> Iterator[FakeSlack]:
    with FakeSlack(users=EVERYONE) as fake:
        yield fake


@pytest.fixture(scope="module")
def shared_app(
    shared_slack: FakeSlack, shared_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppProcess]:
    process = start_app(shared_slack, shared_database_url, tmp_path_factory.mktemp("app"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def shared_driver(shared_app: AppProcess, shared_slack: FakeSlack) -> SlackDriver:
    return SlackDriver(shared_app.events_url, shared_app.env["SLACK_SIGNING_SECRET"], shared_slack)


@pytest.fixture(scope="module")
def shared_db(shared_database_url: str) -> Iterator[Database]:
    database = Database(shared_database_url)
    yield database
    database.dispose()
