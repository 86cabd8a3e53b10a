"""One engine per process; one session per unit of work, owned by the caller.

``Database.transaction()`` commits when the block ends cleanly and rolls back otherwise, so
several repository calls inside one block land together or not at all.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import Session, create_engine

CONNECT_TIMEOUT_SECONDS = 5  # PostgreSQL: a server that does not answer is unreachable, not a hang


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url, echo=echo)
        self._writers = _Writers() if self.engine.dialect.name == "sqlite" else None
        if self._writers is not None:
            event.listen(self.engine, "before_cursor_execute", self._writers.before_statement)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        session = Session(self.engine, expire_on_commit=False)
        if self._writers is not None:
            self._writers.begin()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            try:
                session.close()
            finally:
                if self._writers is not None:
                    self._writers.end()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()


class _Writers:
    """SQLite lets one transaction write at a time. One that finds the file locked waits in
    SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and so leaves the file
    idle after the writer before it is done: under twenty concurrent form submissions, most of
    an ack's time. So this process's writers queue on a lock of their own instead: a transaction
    takes it before its first write and gives it back once it has committed or rolled back. (Other
    processes, a second ticker say, still meet SQLite's own lock, as before.)"""

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
    WAIT_SECONDS = 30  # as long as SQLite's own busy timeout; then on without it, as before

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()

    def _held(self) -> list[bool]:
        """This thread's open transactions, innermost last: whether each took the lock."""
        held: list[bool] | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = []
        return held

    def begin(self) -> None:
        self._held().append(False)

    def before_statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        held = self._held()
        if not held or any(held) or not statement.lstrip()[:7].upper().startswith(self.WRITES):
            return  # outside ``transaction``, already holding it, or a read
        held[-1] = self._lock.acquire(timeout=self.WAIT_SECONDS)

    def end(self) -> None:
        if self._held().pop():
            self._lock.release()


def _make_engine(url: str, *, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        # Bolt runs listeners on worker threads and the web server has its own: SQLite must
        # allow that, wait for the writer instead of failing at once, and use WAL so readers
        # do not block the writer.
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,  # an error's text would otherwise quote the row: notes, names
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )


# -- when the database is down or unusable ---------------------------------------------------

_MISSING_TABLE = (
    re.compile(r"no such table: (?P<table>[\w.]+)"),  # SQLite
    re.compile(r'relation "(?P<table>[^"]+)" does not exist'),  # PostgreSQL
)


def _driver_words(error: BaseException) -> str:
    """The driver's first line about ``error``, on one line and short. Only for connection and
    file errors, whose text names a host, a database, a user or a file, never a row."""
    original = getattr(error, "orig", None) or error
    first = str(original).strip().split("\n", 1)[0]
    first = first.removeprefix("connection failed: ")
    return re.sub(r"\s+", " ", first)[:200]


def missing_table(error: BaseException) -> str | None:
    """The table a query found missing (a database that was not migrated), else None."""
    if not isinstance(error, DBAPIError):
        return None
    for pattern in _MISSING_TABLE:
        found = pattern.search(str(getattr(error, "orig", None) or error))
        if found:
            return found.group("table")
    return None


def unavailable(error: BaseException) -> str | None:
    """A few words on why the database could not be used ("unreachable", "locked", "not
    migrated") when ``error`` is the database being down or unusable rather than a bug in a
    query; None for any other error. Safe for a log line: it quotes nothing."""
    if not isinstance(error, DBAPIError):
        return None
    if missing_table(error):
        return "not migrated"
    words = _driver_words(error).lower()
    if "database is locked" in words:
        return "locked"
    if error.connection_invalidated or isinstance(error, OperationalError | InterfaceError):
        return "unreachable"
    return None


def explain(error: BaseException, url: str) -> str | None:
    """One line for the operator: what is wrong with the database ``url`` names and what to do,
    when ``error`` is the database being down, unreachable, unusable or not migrated; else None."""
    if not isinstance(error, DBAPIError):
        return None
    table = missing_table(error)
    if table:
        return f"the database has no table {table}: run `brickwork db upgrade` first"
    words = _driver_words(error)
    lowered = words.lower()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ":memory:"
        if "unable to open database file" in lowered:
            return (
                f"cannot open the SQLite file {path}: check that its folder exists and that "
                "Brickwork may write there"
            )
        if "file is not a database" in lowered:
            return f"{path} is not a SQLite database: point DATABASE_URL at your database or at a new file"
        if "readonly" in lowered:
            return f"the SQLite file {path} is read-only: let Brickwork write to it and to its folder"
        if "database is locked" in lowered:
            return f"the SQLite file {path} is locked by another program: stop it, then try again"
        if "disk i/o error" in lowered or "disk is full" in lowered:
            return f"the SQLite file {path} could not be written ({words}): check the disk"
        return None
    if isinstance(error, OperationalError | InterfaceError):
        return (
            f"cannot use the database ({words}): check that the server is running and that "
            "DATABASE_URL names the right host, port, database, user and password"
        )
    return None
