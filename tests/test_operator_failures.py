"""When Slack or the database is down, or the operator's setup is wrong: end to end, through the
real command line and real HTTP, with the stand-in for Slack (its faults) or a closed port.

- ``brickwork serve`` acknowledges every request inside Slack's three seconds whatever Slack
  does, logs one line per failure (never a traceback), and tells the person once Slack answers;
- ``GET /healthz`` names the database and Slack, and asks Slack at most once per cache period;
- every problem an operator can fix is one line on stderr, naming the cause and what to do, exit
  status 2: a database that is down, missing, not SQLite, not migrated or migrated by a newer
  version; a port in use; Slack unreachable for ``run``; a placeholder from ``.env.example``;
- ``--version``, and every command's ``--help`` says what it does and what it needs.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.settings import ENV_EXAMPLE_PLACEHOLDERS, Need, SettingsError, load_settings
from bot.standin.driver import VERIFICATION_TOKEN, SlackDriver
from bot.standin.webapi import FakeSlack
from handlers.errors import DATABASE_DOWN, SLACK_DOWN, STILL_WORKING
from tests.cli import brickwork
from tests.conftest import TEST_DATABASE_URL
from tests.harness import ALICE, BOB, MAYA, AppProcess, start_app

ROOT = Path(__file__).resolve().parent.parent
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthz(app: AppProcess) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{app.url}/healthz")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read())


def wait_for_log(app: AppProcess, needle: str, timeout: float = 10.0) -> str:
    """The server's log once ``needle`` is in it. The log is a file, which notifies nobody: it is
    read again every 20 ms until then."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while needle not in (log := app.log()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} never appeared in the log:\n{log}")
        tick.wait(0.02)
    return log


def assert_clean_log(log: str) -> None:
    """One record, one line; no traceback, no ERROR: an outage is not a bug."""
    assert "Traceback" not in log, log
    for line in log.splitlines():
        assert LOG_LINE.match(line), f"a line that is not a record of its own: {line!r}\n{log}"
        assert " ERROR " not in line, log


def one_line_exit_2(result: Any, *needles: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("brickwork: "), lines[0]
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def command_fields(slack: FakeSlack, user: str, command: str, response_url: str) -> dict[str, str]:
    """A slash command as Slack sends it, with a ``response_url`` of the test's choosing."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": slack.team_id,
        "team_domain": slack.team_domain,
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": "",
        "api_app_id": slack.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": slack.issue_trigger_id(user),
    }


# -- serve while Slack is down or slow ----------------------------------------------------------


def test_serve_acknowledges_in_time_with_slack_unreachable(
    slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    """The reviewer's case: SLACK_API_URL at a closed port, a signed /debrief. Before, Bolt asked
    auth.test on the first request, before any ack: HTTP 500 after 4.35 s, three tracebacks."""
    down = f"http://127.0.0.1:{closed_port()}"
    app = start_app(slack, database_url, tmp_path, SLACK_API_URL=f"{down}/api/", BRICKWORK_LOG_LEVEL="INFO")
    try:
        assert "Slack did not answer auth.test (connection refused)" in app.log(), app.log()
        driver = SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)
        for n in range(2):  # the first request (no auth.test yet) and the next
            fields = command_fields(slack, MAYA.id, "/debrief", f"{down}/response/r{n}")
            response = driver.send_form(fields)
            assert response.status == 200, response
            assert response.elapsed < 3.0, response.elapsed
        log = wait_for_log(app, "telling the person about /debrief again in 2 s")
        # One WARNING per failure; the retries of the notice say so at INFO.
        assert log.count("WARNING brickwork.errors: Slack unavailable (views.open: connection refused)") == 2
        assert log.count("WARNING brickwork.slack: Slack unavailable (response_url: connection refused)") == 2
        status, body = healthz(app)
        assert status == 503
        assert body == {"ok": False, "database": "ok", "slack": "unreachable: connection refused"}
        assert_clean_log(app.log())
    finally:
        app.stop()


def test_serve_tells_the_person_once_slack_answers_again(
    slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    app = start_app(slack, database_url, tmp_path, BRICKWORK_LOG_LEVEL="INFO")
    try:
        driver = SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)
        slack.fail_next("views.open", status=503, retry_after=None)
        slack.fail_next("response_url", status=503, retry_after=None, times=2)
        response = driver.as_user(MAYA.id).command("/debrief")
        assert response.status == 200 and not response.too_slow
        told = slack.wait_for("response_url", count=3, timeout=15)
        assert [c.status for c in told] == [503, 503, 200]
        assert told[-1].args["text"] == SLACK_DOWN
        assert [m.get("text") for m in slack.ephemerals(MAYA.id)] == [SLACK_DOWN]
        log = wait_for_log(app, "done once Slack answered again (try 3)")
        assert log.count("WARNING brickwork.errors: Slack unavailable (views.open: HTTP 503)") == 1
        assert log.count("WARNING brickwork.slack: Slack unavailable (response_url: HTTP 503)") == 1
        assert log.count("INFO brickwork.slack: Slack unavailable (response_url: HTTP 503)") == 1
        assert_clean_log(log)
    finally:
        app.stop()


def test_no_request_waits_for_auth_test(slack: FakeSlack, database_url: str, tmp_path: Path) -> None:
    """auth.test fails at start and never answers after: requests are acknowledged at once, and
    nothing on their way to the ack asks Slack anything."""
    slack.fail_next("auth.test", status=503, retry_after=None)
    app = start_app(slack, database_url, tmp_path, BRICKWORK_LOG_LEVEL="INFO")
    try:
        slack.answer_late("auth.test", delay=None, times=10)
        slack.answer_late("users.info", delay=None, times=10)
        driver = SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)
        for _ in range(3):
            listed = driver.as_user(MAYA.id).command("/debrief", "list")
            assert listed.status == 200 and not listed.too_slow, listed
            assert "no projects yet" in listed.json()["text"]
        assert len(slack.calls_to("auth.test")) == 1  # the check at start; /healthz reads its answer
        assert not slack.calls_to("users.info")
    finally:
        app.stop()
    assert_clean_log(app.log())


def test_a_form_is_acknowledged_while_slack_is_slow(
    slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    """Creating a project checks its members with users.info before the ack; Slack takes 4 s.
    The form gets a holding answer in time, and its window shows the result once it is done."""
    app = start_app(slack, database_url, tmp_path, BRICKWORK_LOG_LEVEL="INFO")
    try:
        driver = SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)
        assert driver.as_user(MAYA.id).command("/debrief").status == 200
        slack.wait_for("views.open")
        modal = slack.open_modal(MAYA.id)
        assert modal is not None and modal["callback_id"] == "new_project"
        slack.answer_late("users.info", delay=4.0, times=2)  # Alice and Bob, new to Brickwork
        submitted = driver.as_user(MAYA.id).submit(
            modal,
            {"Project name": "Slowpoke", "Team members": [ALICE.id, BOB.id], "Run the debrief": "1"},
            strict=False,
        )
        assert submitted.status == 200 and not submitted.too_slow, submitted.elapsed
        assert submitted.json()["response_action"] == "update"
        assert STILL_WORKING in json.dumps(submitted.json()["view"])
        updated = slack.wait_for("views.update", timeout=15)
        assert updated[-1].ok and updated[-1].args["view_id"] == modal["id"]
        shown = json.dumps(slack.view(modal["id"]))
        assert "Slowpoke" in shown and STILL_WORKING not in shown
    finally:
        app.stop()
    assert_clean_log(app.log())


# -- /healthz --------------------------------------------------------------------------------


def test_healthz_reports_the_database_and_slack_without_hammering_slack(
    slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    app = start_app(slack, database_url, tmp_path, BRICKWORK_LOG_LEVEL="INFO")
    try:
        asked = len(slack.calls_to("auth.test"))
        for _ in range(10):
            assert healthz(app) == (200, {"ok": True, "database": "ok", "slack": "ok"})
        assert len(slack.calls_to("auth.test")) == asked  # the answer at start is still fresh
    finally:
        app.stop()


def test_healthz_names_slack_when_it_is_down(slack: FakeSlack, database_url: str, tmp_path: Path) -> None:
    slack.fail_next("auth.test", status=503, retry_after=None, times=5)
    app = start_app(slack, database_url, tmp_path, BRICKWORK_LOG_LEVEL="INFO")
    try:
        for _ in range(5):
            status, body = healthz(app)
            assert status == 503
            assert body == {"ok": False, "database": "ok", "slack": "unreachable: HTTP 503"}
        assert len(slack.calls_to("auth.test")) == 1  # cached: a polling load balancer asks once
        log = app.log()
        assert "Slack did not answer auth.test (HTTP 503)" in log
        assert log.count("health check: slack unreachable: HTTP 503") == 1  # on the change only
    finally:
        app.stop()
    assert_clean_log(app.log())


class TcpProxy:
    """A loopback TCP forwarder a test can cut, like a database server going away."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.open:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() above (Linux)
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@pytest.fixture
def proxied_database_url(database_url: str) -> Iterator[tuple[str, TcpProxy]]:
    if not TEST_DATABASE_URL:
        pytest.skip(
            "needs PostgreSQL (TEST_DATABASE_URL): a SQLite file cannot go away under an open connection"
        )
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
    proxy.cut()


def test_healthz_and_commands_when_the_database_goes_away(
    slack: FakeSlack, proxied_database_url: tuple[str, TcpProxy], tmp_path: Path
) -> None:
    url, proxy = proxied_database_url
    app = start_app(slack, url, tmp_path, BRICKWORK_LOG_LEVEL="INFO")
    try:
        assert healthz(app) == (200, {"ok": True, "database": "ok", "slack": "ok"})
        proxy.cut()
        started = time.monotonic()
        assert healthz(app) == (503, {"ok": False, "database": "unreachable", "slack": "ok"})
        assert time.monotonic() - started < 3
        driver = SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)
        listed = driver.as_user(MAYA.id).command("/debrief", "list")
        assert listed.status == 200 and not listed.too_slow
        assert listed.json() == {"text": DATABASE_DOWN}
        log = wait_for_log(app, "could not handle /debrief: database unreachable")
        assert "health check: database unreachable" in log
        assert_clean_log(log)
    finally:
        app.stop()


# -- the command line: one line, exit status 2 ---------------------------------------------------


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}", "SLACK_BOT_TOKEN": "xoxb-1", **extra}


def test_database_down_or_missing_is_one_line(tmp_path: Path) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{closed_port()}/brickwork"
    line = one_line_exit_2(
        brickwork("db", "upgrade", env=_env(tmp_path, DATABASE_URL=closed)), "DATABASE_URL:"
    )
    assert "Connection refused" in line and "check that the server is running" in line
    one_line_exit_2(
        brickwork("tick", env=_env(tmp_path, DATABASE_URL=closed)), "DATABASE_URL:", "Connection refused"
    )
    nowhere = "postgresql://postgres@brickwork-db.invalid:5432/brickwork"
    one_line_exit_2(
        brickwork("db", "upgrade", env=_env(tmp_path, DATABASE_URL=nowhere)), "DATABASE_URL:", "resolve"
    )
    # A file where a folder should be: SQLite cannot open (or create) the file.
    (tmp_path / "a-file").write_text("")
    unwritable = f"sqlite:///{tmp_path / 'a-file' / 'b.db'}"
    line = one_line_exit_2(
        brickwork("db", "upgrade", env=_env(tmp_path, DATABASE_URL=unwritable)), "DATABASE_URL:"
    )
    assert "cannot open the SQLite file" in line and "folder exists" in line
    (tmp_path / "notes.db").write_text("not a database, just text that is long enough to be read\n" * 100)
    not_sqlite = f"sqlite:///{tmp_path / 'notes.db'}"
    one_line_exit_2(
        brickwork("db", "upgrade", env=_env(tmp_path, DATABASE_URL=not_sqlite)), "is not a SQLite database"
    )


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_a_postgresql_database_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    missing = make_url(TEST_DATABASE_URL or "").set(database=f"nope_{secrets.token_hex(4)}")
    env = _env(tmp_path, DATABASE_URL=missing.render_as_string(hide_password=False))
    one_line_exit_2(brickwork("db", "upgrade", env=env), "DATABASE_URL:", "does not exist")


def test_a_database_url_with_a_bad_driver_is_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, DATABASE_URL="postgresql+asyncpg://brickwork:hunter2@db:5432/brickwork")
    line = one_line_exit_2(brickwork("db", "upgrade", env=env), "DATABASE_URL is invalid", "asyncpg")
    assert "hunter2" not in line  # the password is never shown
    env = _env(tmp_path, DATABASE_URL="mysql://u@h/brickwork")
    one_line_exit_2(brickwork("db", "upgrade", env=env), "DATABASE_URL is invalid", "mysql is not supported")


def test_an_unmigrated_or_newer_or_broken_database_is_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path)
    one_line_exit_2(brickwork("people", "forget", "U0GONE", env=env), "not migrated", "brickwork db upgrade")
    assert brickwork("db", "upgrade", env=env).returncode == 0
    engine = create_engine(env["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE person"))
    line = one_line_exit_2(brickwork("people", "forget", "U0GONE", env=env), "DATABASE_URL:")
    assert "has no table person" in line and "brickwork db upgrade" in line
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    for args in (("db", "upgrade"), ("tick",), ("serve", "--port", "0")):
        env_serve = {**env, "SLACK_SIGNING_SECRET": "s3cr3t"}
        line = one_line_exit_2(brickwork(*args, env=env_serve), "DATABASE_URL:", "revision 9999")
        assert "newer version" in line


def test_serve_on_a_port_in_use_is_one_line(slack: FakeSlack, tmp_path: Path) -> None:
    env = _env(tmp_path, SLACK_SIGNING_SECRET="s3cr3t", SLACK_API_URL=slack.url)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        result = brickwork("serve", "--host", "127.0.0.1", "--port", port, env=env)
        one_line_exit_2(result, f"--port {port} is already in use on 127.0.0.1", "--port or PORT")
        result = brickwork("serve", "--host", "127.0.0.1", env={**env, "PORT": port})
        one_line_exit_2(result, f"PORT {port} is already in use")
    result = brickwork("serve", "--host", "192.0.2.1", "--port", "0", env=env)  # TEST-NET: not ours
    one_line_exit_2(result, "--host 192.0.2.1 is not an address of this machine")
    assert not slack.calls_to("auth.test")  # the port is taken before Slack is asked


def test_run_with_slack_unreachable_is_one_line(slack: FakeSlack, tmp_path: Path) -> None:
    env = _env(
        tmp_path, SLACK_APP_TOKEN="xapp-1-test", SLACK_API_URL=f"http://127.0.0.1:{closed_port()}/api/"
    )
    line = one_line_exit_2(brickwork("run", env=env, timeout=30), "SLACK_API_URL: Slack did not answer")
    assert "auth.test: connection refused" in line and "check the network" in line
    # auth.test answers, then opening the Socket Mode connection meets an outage.
    slack.fail_next("apps.connections.open", status=503, retry_after=None)
    env = _env(
        tmp_path, SLACK_APP_TOKEN="xapp-1-test", SLACK_API_URL=slack.url, BRICKWORK_LOG_LEVEL="WARNING"
    )
    one_line_exit_2(brickwork("run", env=env, timeout=30), "apps.connections.open: HTTP 503")


def test_people_import_with_slack_unreachable_is_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, SLACK_API_URL=f"http://127.0.0.1:{closed_port()}/api/")
    assert brickwork("db", "upgrade", env=env).returncode == 0
    (tmp_path / "org.csv").write_text("email,manager_email\nalice@example.com,maya@example.com\n")
    result = brickwork("people", "import", str(tmp_path / "org.csv"), env=env, cwd=tmp_path)
    # slack_sdk's line per attempt ("Failed to send a request to Slack API server") is not there.
    one_line_exit_2(result, "Slack is unreachable", "nothing was imported")


# -- placeholders from .env.example ------------------------------------------------------------


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_env_example_and_the_placeholder_table_agree() -> None:
    """Every placeholder .env.example shows is one Brickwork recognises, and the other way round:
    the credentials' values, and the example PostgreSQL URL in a comment."""
    example = _env_example()
    whole_file = (ROOT / ".env.example").read_text()
    credentials = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")
    assert {name: example[name] for name in credentials} == {
        name: ENV_EXAMPLE_PLACEHOLDERS[name] for name in credentials
    }
    assert f"# {ENV_EXAMPLE_PLACEHOLDERS['DATABASE_URL']} " in whole_file
    # The file as it is loads (everything else in it is a real default), and each credential
    # a command needs is named as the placeholder it still is.
    settings = load_settings(example)
    assert settings.slack_bot_token is None and settings.slack_app_token is None
    for need, name in zip((Need.BOT_TOKEN, Need.SIGNING_SECRET, Need.APP_TOKEN), credentials, strict=True):
        with pytest.raises(SettingsError, match=rf"^{name} is still the placeholder from \.env\.example"):
            settings.require(need)


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["tick"], {"SLACK_BOT_TOKEN": "xoxb-your-token"}, "SLACK_BOT_TOKEN is still the placeholder"),
        (["serve"], {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "your-signing-secret"},
         "SLACK_SIGNING_SECRET is still the placeholder"),
        (["run"], {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-your-token"},
         "SLACK_APP_TOKEN is still the placeholder"),
        (["tick"], {"SLACK_BOT_TOKEN": "xoxb-…"}, "SLACK_BOT_TOKEN is a placeholder, not a real value"),
        (["db", "upgrade"], {"DATABASE_URL": ENV_EXAMPLE_PLACEHOLDERS["DATABASE_URL"]},
         "DATABASE_URL is still the placeholder from .env.example"),
        (["tick"], {"SLACK_BOT_TOKEN": "xoxb-1", "BRICKWORK_COACH": "llm", "OPENAI_API_KEY": "sk-your-key"},
         "OPENAI_API_KEY is a placeholder"),
    ],
)  # fmt: skip
def test_a_placeholder_is_named_as_one(
    args: list[str], env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    line = one_line_exit_2(brickwork(*args, env={**_env(tmp_path), **env}, cwd=tmp_path), expected)
    assert "must start with" not in line and "your-" not in line.split(":", 1)[1].split("(")[0]


def test_a_copy_of_env_example_runs_what_needs_no_token(tmp_path: Path) -> None:
    """Copied as it is, .env.example is enough for `db upgrade`; `serve` names the first
    placeholder it needs."""
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}
    upgraded = brickwork("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    one_line_exit_2(brickwork("serve", env=env, cwd=tmp_path), "SLACK_BOT_TOKEN is still the placeholder")


# -- --version and --help -------------------------------------------------------------------


def test_version_comes_from_the_package() -> None:
    result = brickwork("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"brickwork {version('brickwork')}"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["demo"], ["offline", "no token"]),
        (["run"], ["Socket Mode", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DATABASE_URL"]),
        (["serve"], ["/slack/events", "/healthz", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "PORT"]),
        (["scheduler"], ["BRICKWORK_TICK_SECONDS", "SLACK_BOT_TOKEN", "DATABASE_URL"]),
        (["tick"], ["due", "SLACK_BOT_TOKEN", "DATABASE_URL", "--now"]),
        (["db"], ["DATABASE_URL", "upgrade"]),
        (["db", "upgrade"], ["migrations", "DATABASE_URL", "no Slack token"]),
        (["people"], ["org chart", "SLACK_BOT_TOKEN", "DATABASE_URL"]),
        (["people", "import"], ["email,manager_email", "SLACK_BOT_TOKEN", "DATABASE_URL"]),
        (["people", "forget"], ["USER_ID", "SLACK_BOT_TOKEN", "DATABASE_URL"]),
    ],
)
def test_every_help_says_what_it_does_and_needs(args: list[str], says: list[str]) -> None:
    result = brickwork(*args, "--help")
    assert result.returncode == 0, result.stderr
    flat = " ".join(result.stdout.split())
    for words in says:
        assert words in flat, (words, result.stdout)
