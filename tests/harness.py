"""The app as a user starts it: ``brickwork serve`` in its own process, talking to the stand-in.

``AppProcess.tick(now)`` runs ``brickwork tick --now`` the same way, against the same database.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack, FakeUser
from tests import warm
from tests.cli import brickwork

MAYA = FakeUser(
    id="U0MAYA", name="maya", real_name="Maya Okafor", tz="Europe/Berlin", email="maya@example.com"
)
ALICE = FakeUser(id="U0ALICE", name="alice", real_name="Alice Chen", tz="America/New_York")
BOB = FakeUser(id="U0BOB", name="bob", real_name="Bob Müller", tz="Asia/Kolkata")
CAROL = FakeUser(id="U0CAROL", name="carol", real_name="Carol <b>Díaz</b>", tz="America/Los_Angeles")
ROBOT = FakeUser(id="U0ROBOT", name="deploybot", real_name="Deploy Bot", is_bot=True)
GONE = FakeUser(id="U0GONE", name="gone", real_name="Former Colleague", deleted=True)
EVERYONE = (MAYA, ALICE, BOB, CAROL, ROBOT, GONE)


@dataclass
class AppProcess:
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[str] | warm.WarmProcess
    url: str
    log_path: Path
    ticks: list[str] = field(default_factory=list)

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def tick(self, now: datetime, **extra_env: str) -> str:
        result = brickwork("tick", "--now", now.isoformat(), env={**self.env, **extra_env}, cwd=self.workdir)
        assert result.returncode in (0, 1), result.stderr
        self.ticks.append(result.stdout + result.stderr)
        return result.stdout.strip()

    def start_tick(self, now: datetime, **extra_env: str) -> subprocess.Popen[str]:
        """``brickwork tick --now`` as its own process, not waited for: a test may kill it."""
        return warm.popen(  # type: ignore[return-value]
            ["tick", "--now", now.isoformat()],
            env={**self.env, **extra_env},
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_size(self) -> int:
        """Where the log ends now, in bytes: a mark for :meth:`log_since`."""
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        """What the log gained since ``offset`` (from :meth:`log_size`), without reading it all."""
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_app(slack: FakeSlack, database_url: str, workdir: Path, **extra_env: str) -> AppProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}},
        "SLACK_BOT_TOKEN": "xoxb-test-0000",
        "SLACK_SIGNING_SECRET": secrets.token_hex(16),
        "SLACK_API_URL": slack.url,
        "DATABASE_URL": database_url,
        "BRICKWORK_LOG_LEVEL": "DEBUG",
        # Digests are on by default; a test that is not about them counts DMs without them.
        "BRICKWORK_WEEKLY_DIGEST": "off",
        **extra_env,
    }
    log_path = workdir / "server.log"
    with log_path.open("w") as log:
        process = warm.popen(
            ["serve", "--host", "127.0.0.1", "--port", "0", "--no-scheduler"],
            env=env,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        line = lines.get(timeout=30)
    except queue.Empty:
        process.kill()
        raise AssertionError(f"brickwork serve did not start:\n{log_path.read_text()}") from None
    if "listening on" not in line:
        process.kill()
        raise AssertionError(f"unexpected first line {line!r}:\n{log_path.read_text()}")
    return AppProcess(env=env, workdir=workdir, process=process, url=line.split()[-1], log_path=log_path)


def current_home(
    driver: SlackDriver, slack: FakeSlack, user: Any, showing: str | None = None
) -> dict[str, Any]:
    """The user's App Home as the database has it now, once they open it.

    A refresh that read the database before the test's latest change can still be publishing
    (one publish at a time per person, each reading under the same lock), so the first publish
    seen may be that one. So the Home is opened twice: every publish after the first one seen
    read the database later, and the one after the second opening is current. ``showing``
    instead: the first publish that shows that text."""
    mine = lambda c: c.args.get("user_id") == user.id  # noqa: E731 (another person's Home may republish)
    if showing is not None:
        driver.as_user(user.id).open_home()
        shows = lambda c: mine(c) and showing in json.dumps(c.args["view"], ensure_ascii=False)  # noqa: E731
        slack.wait_for("views.publish", where=shows)
    else:
        for _ in range(2):
            before = len([c for c in slack.calls_to("views.publish") if mine(c)])
            driver.as_user(user.id).open_home()
            slack.wait_for("views.publish", count=before + 1, where=mine)
    view = slack.home(user.id)
    assert view is not None
    return view
