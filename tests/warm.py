"""Warm starts: ``brickwork ...`` in a process of its own, without paying for Python's imports.

Most of the suite's time went into starting processes: ``brickwork serve`` for an end-to-end
test, ``brickwork tick`` to move time on, a CLI command — each a fresh interpreter importing
Bolt, SQLAlchemy, pydantic and Alembic again (1.2 of the 2 s a ``tick`` takes). Here one
process per test run imports them once and then, for each start, **forks**: the child takes the
environment, working directory and standard streams it is given, and runs ``bot.cli.main`` with
the arguments, exactly as ``python -m bot ARGS`` would after its imports. It is a separate
process with its own pid: it can be killed (SIGKILL included), it exits with ``main``'s status,
and it reads its settings from the environment it was given, as a cold start does. (That
works because importing Brickwork does nothing: no settings are read, no thread is started,
nothing is connected until ``main`` runs — the house rule this relies on, and checks.)

``TESTS_COLD_START=1`` runs every process cold instead (``python -m bot``), for comparison or
suspicion.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

COLD_START = os.environ.get("TESTS_COLD_START") == "1"
ROOT = Path(__file__).resolve().parent.parent
# What the children will import anyway: imported once, before any fork.
PRELOAD = (
    "bot.cli",
    "bot.app",
    "bot.demo",
    "bot.scheduler",
    "storage.migrate",
    "alembic.command",
    "alembic.runtime.migration",
    "alembic.script",
    "sqlalchemy.dialects.sqlite",
    "psycopg",
    "waitress",
    "slack_bolt.adapter.socket_mode",
    "apscheduler.schedulers.background",
)


def serve(path: str) -> None:
    """The warm process: import once, then fork one child per start asked on ``path``."""
    import importlib

    for name in PRELOAD:
        with contextlib.suppress(ImportError):  # an optional extra: the child imports what it needs
            importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    parent = os.getppid()
    waiting: dict[int, socket.socket] = {}  # child pid -> the connection that asked for it
    while True:
        if os.getppid() != parent:  # the test process died without stopping us: stop too
            os._exit(0)
        readable, _, _ = select.select([listener], [], [], 0.02)
        if readable:
            connection, _ = listener.accept()
            message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
            request = json.loads(message)
            pid = os.fork()
            if pid == 0:
                listener.close()
                connection.close()
                for other in waiting.values():
                    other.close()
                _run_child(request, fds)
            for fd in fds:
                os.close(fd)
            connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            waiting[pid] = connection
        while waiting:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            connection = waiting.pop(pid, None)
            if connection is not None:
                code = os.waitstatus_to_exitcode(status)
                with contextlib.suppress(OSError):  # the test gave up on it
                    connection.sendall(json.dumps({"exit": code}).encode() + b"\n")
                connection.close()


def _run_child(request: dict[str, Any], fds: list[int]) -> None:
    code = 1
    try:
        os.setpgid(0, 0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["brickwork", *request["argv"]]
        from bot.cli import main

        try:
            code = main(request["argv"])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


@functools.cache
def _warm_socket() -> str:
    directory = tempfile.mkdtemp(prefix="brickwork-warm-")
    path = os.path.join(directory, "warm.sock")
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    process = subprocess.Popen(
        [sys.executable, "-c", f"from tests.warm import serve; serve({path!r})"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready = process.stdout.readline()
    if ready.strip() != "ready":
        process.kill()
        raise RuntimeError(f"the warm process did not start: {ready!r}")

    def stop() -> None:
        process.kill()
        process.wait()

    atexit.register(stop)
    return path


class WarmProcess:
    """A ``brickwork`` process forked from the warm one; what tests use of ``Popen``."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path | str | None,
        stdout: IO[Any] | int | None,
        stderr: IO[Any] | int | None,
        text: bool,
    ) -> None:
        self.args = list(argv)
        self.returncode: int | None = None
        self.stdout: IO[Any] | None = None
        self.stderr: IO[Any] | None = None
        ends: list[int] = [os.open(os.devnull, os.O_RDONLY)]
        for stream, name in ((stdout, "stdout"), (stderr, "stderr")):
            if stream == subprocess.PIPE:
                read, write = os.pipe()
                setattr(self, name, os.fdopen(read, "r" if text else "rb"))
                ends.append(write)
            elif stream == subprocess.DEVNULL:
                ends.append(os.open(os.devnull, os.O_WRONLY))
            elif stream == subprocess.STDOUT:
                ends.append(os.dup(ends[1]))
            elif stream is None:
                ends.append(os.dup(1 if name == "stdout" else 2))
            elif isinstance(stream, int):
                ends.append(os.dup(stream))
            else:
                ends.append(os.dup(stream.fileno()))
        self._connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._connection.connect(_warm_socket())
        request = {"argv": self.args, "env": dict(env), "cwd": str(cwd or os.getcwd())}
        try:
            socket.send_fds(self._connection, [json.dumps(request).encode()], ends)
        finally:
            for fd in ends:
                os.close(fd)
        self._reader = self._connection.makefile("r")
        self.pid: int = json.loads(self._reader.readline())["pid"]

    def poll(self) -> int | None:
        if self.returncode is None:
            ready, _, _ = select.select([self._connection], [], [], 0)
            if ready:
                self._read_exit()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            ready, _, _ = select.select([self._connection], [], [], timeout)
            if not ready:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self._read_exit()
        assert self.returncode is not None
        return self.returncode

    def _read_exit(self) -> None:
        line = self._reader.readline()
        self.returncode = json.loads(line)["exit"] if line else -signal.SIGKILL
        self._reader.close()
        self._connection.close()

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: float | None = None) -> tuple[Any, Any]:
        """Read both pipes to their end (together: one full pipe must not block the other)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        chunks: dict[int, list[bytes]] = {}
        streams = {s.fileno(): s for s in (self.stdout, self.stderr) if s is not None}
        for fd in streams:
            chunks[fd] = []
        open_fds = set(streams)
        while open_fds:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            ready, _, _ = select.select(list(open_fds), [], [], left)
            for fd in ready:
                data = os.read(fd, 1 << 16)
                if data:
                    chunks[fd].append(data)
                else:
                    open_fds.discard(fd)
        results = []
        for stream in (self.stdout, self.stderr):
            if stream is None:
                results.append(None)
                continue
            data = b"".join(chunks[stream.fileno()])
            binary = "b" in getattr(stream, "mode", "")
            stream.close()
            results.append(data if binary else data.decode("utf-8", errors="replace"))
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return results[0], results[1]


def popen(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | str | None = None,
    stdout: IO[Any] | int | None = None,
    stderr: IO[Any] | int | None = None,
    text: bool = True,
    cold: bool = COLD_START,
) -> subprocess.Popen[str] | WarmProcess:
    """``brickwork ARGV`` as a process: warm, or cold (``TESTS_COLD_START=1``, or ``cold``)."""
    if cold:
        command = [sys.executable, "-m", "bot", *argv]
        return subprocess.Popen(command, env=dict(env), cwd=cwd, stdout=stdout, stderr=stderr, text=text)
    return WarmProcess(argv, env, cwd, stdout, stderr, text)


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | str | None = None,
    timeout: float = 60,
    cold: bool = COLD_START,
) -> subprocess.CompletedProcess[str]:
    """``brickwork ARGV`` to completion, its output captured (``subprocess.run``'s answer)."""
    process = popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cold=cold)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    return subprocess.CompletedProcess(["brickwork", *argv], process.wait(), out, err)
