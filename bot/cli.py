"""``brickwork``: the console script (also ``python -m bot``).

The entry point loads ``.env`` once, builds the settings, and turns every problem the operator
can fix (a setting, the database, Slack, the port) into one line on stderr and exit status 2
(``main``): no traceback. A traceback means a bug.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from dotenv import load_dotenv

from bot.coaching.catalog import CatalogError
from bot.errors import BrickworkError
from bot.framework import FrameworkError
from bot.settings import Need, Settings, SettingsError, load_settings
from bot.talent.rules import TalentRulesError
from bot.text import is_slack_user_id

if TYPE_CHECKING:  # the CLI imports the app lazily so `--help` and settings errors stay fast
    from bot.app import Brickwork
    from bot.server import HttpServer, WSGIApp

log = logging.getLogger("brickwork")

EXIT_USAGE = 2
SETTINGS_NOTE = (
    "Settings come from the environment and from .env in the current folder (see .env.example). "
    "A problem an operator can fix (a setting, the database, Slack, the port) stops brickwork with "
    "one line on stderr and exit status 2."
)
NEEDS_DATABASE = "DATABASE_URL (default sqlite:///brickwork.db), migrated with `brickwork db upgrade`"


def _version() -> str:
    try:
        return version("brickwork")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brickwork",
        description="Brickwork: post-project debriefs, feedback and leadership growth, in Slack.",
        epilog=SETTINGS_NOTE,
    )
    parser.add_argument("--version", action="version", version=f"brickwork {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, help: str, description: str, parent: argparse._SubParsersAction = commands
    ) -> argparse.ArgumentParser:
        return parent.add_parser(name, help=help, description=description, epilog=SETTINGS_NOTE)

    command(
        "demo",
        "run the whole product offline against a local stand-in for Slack",
        "Run the whole product offline: a local stand-in for Slack on loopback, a temporary SQLite "
        "database and the offline coach. Creates a project, runs its debrief, and prints what each "
        "person would see. Needs no token, no network and no setting.",
    )
    command(
        "run",
        "connect to Slack over Socket Mode, with the scheduler",
        "Connect to Slack over Socket Mode (no public URL needed) and run the scheduler in the "
        "same process; applies the database migrations first. Needs SLACK_BOT_TOKEN (xoxb-) and "
        "SLACK_APP_TOKEN (xapp-); uses DATABASE_URL (default sqlite:///brickwork.db).",
    )
    serve = command(
        "serve",
        "serve Slack's HTTP requests (POST /slack/events, GET /healthz)",
        "Serve Slack's HTTP requests: POST /slack/events (events, slash commands, interactivity) "
        "and GET /healthz (200 when the database and Slack answer, 503 naming what is down). "
        "Applies the database migrations first and runs the scheduler unless --no-scheduler. "
        "Needs SLACK_BOT_TOKEN (xoxb-) and SLACK_SIGNING_SECRET; uses DATABASE_URL and PORT.",
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=None, help="port (default $PORT, else 3000; 0 picks one)")
    serve.add_argument("--no-scheduler", action="store_true", help="do not tick in this process")
    command(
        "scheduler",
        "tick alone: the clock process of the Procfile",
        "Tick alone, every BRICKWORK_TICK_SECONDS: claim the work that is due (debrief prompts, "
        "reminders, DMs, anonymous feedback releases) and do it; the clock process of the "
        f"Procfile. Needs SLACK_BOT_TOKEN (xoxb-) and {NEEDS_DATABASE}.",
    )
    tick = command(
        "tick",
        "do all work due at NOW once, then exit",
        "Do all work due at NOW once, then exit: for cron-style deployments and operations. "
        "Exit status 0 when everything due was done, 1 when some of it failed (it is tried again "
        f"later). Needs SLACK_BOT_TOKEN (xoxb-) and {NEEDS_DATABASE}.",
    )
    tick.add_argument(
        "--now", default=None, help="ISO-8601 time (default: the current time); naive means UTC"
    )
    db = command(
        "db",
        "database maintenance",
        "Database maintenance on the database DATABASE_URL names (default sqlite:///brickwork.db). "
        "Needs no Slack token.",
    )
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    command(
        "upgrade",
        "apply the migrations",
        "Apply the database migrations to DATABASE_URL (run and serve do it at start; the release "
        "process of the Procfile does it once per deploy). Needs no Slack token.",
        db_commands,
    )
    people = command(
        "people",
        "the org chart and people's data (admins)",
        f"The org chart and people's data, for admins. Needs SLACK_BOT_TOKEN (xoxb-) and {NEEDS_DATABASE}.",
    )
    people_commands = people.add_subparsers(dest="people_command", metavar="ACTION", required=True)
    import_csv = command(
        "import",
        "set managers from a CSV file with the header email,manager_email",
        "Set managers from a UTF-8 CSV file with the header email,manager_email (an empty "
        "manager_email removes one); people are matched by email with users.lookupByEmail. Prints "
        "the rows it could not apply and exits 1 if there were any. Needs SLACK_BOT_TOKEN (xoxb-) "
        f"and {NEEDS_DATABASE}.",
        people_commands,
    )
    import_csv.add_argument("file", metavar="FILE.csv", type=Path, help="UTF-8 CSV: email,manager_email")
    forget = command(
        "forget",
        "delete the feedback a person gave, withdraw their requests, take them off the org chart",
        "For a person who left: delete the feedback they gave and the coaching drafts about them, "
        "by them or drawn from it, withdraw their open requests and take them off the org chart. "
        f"Needs SLACK_BOT_TOKEN (xoxb-) and {NEEDS_DATABASE}.",
        people_commands,
    )
    forget.add_argument("user_id", metavar="USER_ID", help="their Slack user id, such as U012AB3CD")
    digest = command(
        "digest",
        "the weekly growth digest",
        f"The weekly growth digest. Needs SLACK_BOT_TOKEN (xoxb-) and {NEEDS_DATABASE}.",
    )
    digest_commands = digest.add_subparsers(dest="digest_command", metavar="ACTION", required=True)
    preview = command(
        "preview",
        "print a person's digest for this week as text, without sending it",
        "Print the digest USER_ID would get this week (or the week of --now) as plain text, "
        f"without sending anything. Needs SLACK_BOT_TOKEN (xoxb-) and {NEEDS_DATABASE}.",
        digest_commands,
    )
    preview.add_argument("user_id", metavar="USER_ID", help="their Slack user id, such as U012AB3CD")
    preview.add_argument("--now", default=None, help="ISO-8601 time (default: the current time)")
    export = command(
        "export",
        "export data for HR",
        f"Export data for HR. Needs {NEEDS_DATABASE}.",
    )
    export_commands = export.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    talent = command(
        "talent-review",
        "write the talent review: one CSV row per person, and the map as a PNG",
        "Write the talent review as CSV (one row per person: manager, readiness and its reason, "
        "the map's cell, per-KPI levels raw and calibrated with their evidence; no giver of "
        "anything) and, with --png, the delivery x leadership map. Files are written readable by "
        "their owner alone, and every export is recorded in the audit trail. The rules are "
        f"BRICKWORK_TALENT_FILE's (default: the shipped talent.toml). Needs {NEEDS_DATABASE}.",
        export_commands,
    )
    talent.add_argument(
        "--csv", dest="csv_path", metavar="FILE", type=Path, required=True, help="the CSV to write"
    )
    talent.add_argument(
        "--png", dest="png_path", metavar="FILE", type=Path, default=None, help="the map to draw"
    )
    return parser


def parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SettingsError(
            f"--now is invalid: expected an ISO-8601 time such as 2026-12-01T10:00:00Z (got {text!r})"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from bot.demo import run_demo

        return run_demo()
    # The .env of the directory brickwork runs in (find_dotenv would search from this file's
    # folder instead); the environment wins over it.
    load_dotenv(Path.cwd() / ".env", override=False)
    settings: Settings | None = None
    try:
        settings = load_settings()
        _configure_logging(settings)
        return _dispatch(args, settings)
    except Exception as error:
        line = _operator_line(error, settings)
        if line is None:
            raise  # not the operator's to fix: a bug, with its traceback
        print(f"brickwork: {line}", file=sys.stderr)
        return EXIT_USAGE


def _operator_line(error: Exception, settings: Settings | None) -> str | None:
    """The one line an operator reads about ``error`` (naming the variable or thing, and what to
    do), or None when it is not theirs to fix. Every command's failures come through here."""
    from bot.slack_gateway import describe_outage, outage
    from storage.db import explain
    from storage.migrate import MigrationError

    if isinstance(error, FrameworkError):
        return f"BRICKWORK_FRAMEWORK_FILE: {error}"
    if isinstance(error, CatalogError):
        return f"BRICKWORK_LEARNING_FILE: {error}"
    if isinstance(error, TalentRulesError):
        return f"BRICKWORK_TALENT_FILE: {error}"
    if isinstance(error, SettingsError | BrickworkError):
        return str(error)
    if settings is None:
        return None
    if isinstance(error, MigrationError):
        return f"DATABASE_URL: {error}"
    database = explain(error, settings.database_url)
    if database is not None:
        return f"DATABASE_URL: {database}"
    if getattr(error, "slack_method", None) and outage(error):
        return _slack_down(describe_outage(error), settings)
    return None


def _slack_down(what: str, settings: Settings) -> str:
    return (
        f"SLACK_API_URL: Slack did not answer ({what}): check the network and that SLACK_API_URL "
        f"({settings.slack_api_url}) is right, then start again"
    )


def _configure_logging(settings: Settings) -> None:
    from bot.logs import configure_logging

    # Libraries (Alembic's set-up narration included) speak at WARNING and above only.
    configure_logging(settings.brickwork_log_level)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from storage import migrate

    if args.command == "db":
        migrate.upgrade(settings.database_url)
        print(f"database upgraded to {', '.join(sorted(migrate.current_heads(settings.database_url)))}")
        return 0
    if args.command == "tick":
        settings.require(Need.BOT_TOKEN)
        now = parse_now(args.now)
        brickwork = _built(settings, migrate_first=False)
        report = brickwork.services.ticker.tick(now)
        print(f"tick at {now.isoformat()}: {report}")
        return 0 if report.failed == 0 else 1
    if args.command == "scheduler":
        settings.require(Need.BOT_TOKEN)
        return _scheduler(settings)
    if args.command == "people":
        return _people(settings, args)
    if args.command == "digest":
        return _digest_preview(settings, args)
    if args.command == "export":
        return _export_talent_review(settings, args)
    if args.command == "serve":
        settings.require(Need.BOT_TOKEN | Need.SIGNING_SECRET)
        return _serve(settings, args)
    if args.command == "run":
        settings.require(Need.BOT_TOKEN | Need.APP_TOKEN)
        return _socket_mode(settings)
    raise AssertionError(args.command)


def _digest_preview(settings: Settings, args: argparse.Namespace) -> int:
    from handlers.views import growth as growth_views

    if not is_slack_user_id(args.user_id):
        raise BrickworkError(
            f"USER_ID is invalid: expected a Slack user id such as U012AB3CD (got {args.user_id[:40]!r})"
        )
    settings.require(Need.BOT_TOKEN)
    services = _built(settings, migrate_first=False).services
    if not services.people.stored(args.user_id):
        raise BrickworkError(f"Brickwork has nothing stored for the Slack user {args.user_id}.")
    card = services.digests.digest(args.user_id, now=parse_now(args.now))
    _, blocks = growth_views.digest_message(card)
    print(growth_views.as_plain_text(blocks))
    if not card.anything_new:
        print("(nothing new this week: this digest would not be sent)")
    return 0


def _export_talent_review(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from bot.talent.chart import render_map
    from bot.talent.report import category_counts, csv_text, map_points, map_text
    from bot.talent.service import TalentReview
    from storage.models import AUDIT_TARGET_MAX

    for option, path in (("--csv", args.csv_path), ("--png", args.png_path)):
        if path is not None and not path.parent.is_dir():
            raise BrickworkError(f"{option} {path}: no such folder; name a file in a folder that exists")
    services = _built(settings, migrate_first=False).services
    operator = f"cli:{getpass.getuser()}"[:32]
    written: list[str] = []

    def write(review: TalentReview) -> None:
        _write_private(args.csv_path, csv_text(review).encode())
        written.append(f"wrote {args.csv_path}: {len(review.subjects)} people")
        if args.png_path is not None:
            image = render_map(map_points(review), review.rules, title=f"Talent review, {review.at:%d %B %Y}")
            _write_private(args.png_path, image.png)
            written.append(f"wrote {args.png_path}: the map, {image.width}x{image.height}")

    # The audit names where it went: the path's end, as much as the record holds.
    target = str(args.csv_path.resolve())[-AUDIT_TARGET_MAX:]
    review = services.talent.export(operator, destination=target, deliver=write)
    print("\n".join(written))
    print(", ".join(f"{category.value}: {n}" for category, n in category_counts(review).items()))
    print(map_text(review, names=False))
    return 0


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner alone, whole or not at all."""
    import os
    import tempfile

    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        raise BrickworkError(f"{path}: cannot write it ({error.strerror or error})") from None


def _people(settings: Settings, args: argparse.Namespace) -> int:
    if args.people_command == "forget" and not is_slack_user_id(args.user_id):
        raise BrickworkError(
            f"USER_ID is invalid: expected a Slack user id such as U012AB3CD (got {args.user_id[:40]!r})"
        )
    settings.require(Need.BOT_TOKEN)
    org = _built(settings, migrate_first=False).services.org
    if args.people_command == "import":
        report = org.import_csv(args.file)
        print(report.summary())
        for row in report.refused:
            print(f"line {row.line}: {row.email}: {row.reason}")
        return 0 if report.all_applied else 1
    if args.people_command == "forget":
        done = org.forget(args.user_id)
        print(
            f"{done.slack_user_id} has left the feedback programme "
            f"(since {done.left_programme_at.isoformat(timespec='seconds')}): "
            f"deleted {done.feedback_deleted} feedback records they gave "
            f"and {done.drafts_deleted} coaching drafts, "
            f"withdrew {done.requests_withdrawn} open requests, "
            f"removed them as manager of {done.reports_unlinked} people"
            + (", removed their own manager" if done.manager_unlinked else "")
        )
        return 0
    raise AssertionError(args.people_command)


def _built(settings: Settings, *, migrate_first: bool) -> Brickwork:
    from bot.app import build_app
    from storage import migrate

    settings.check_coach()
    if migrate_first:
        migrate.upgrade(settings.database_url)
    else:
        migrate.check_current(settings.database_url)
    return build_app(settings)


def _check_slack(brickwork: Brickwork, *, must_answer: bool) -> None:
    """Ask Slack who we are before serving (one ``auth.test``, a few seconds at most), so that a
    wrong token is one clear line at start. A Slack that does not answer stops ``run`` (Socket
    Mode has nothing to do without it) and is one warning for ``serve``, which acknowledges
    requests meanwhile and tells people when Slack answers again."""
    settings = brickwork.services.settings
    check = brickwork.services.gateway.status.refresh()
    if check.refused:
        raise SettingsError(f"SLACK_BOT_TOKEN was refused by Slack ({check.status})")
    if check.ok:
        identity = brickwork.services.gateway.status.identity
        assert identity is not None
        log.info("connected to Slack as %s in %s", identity.user_id, identity.team_id)
        return
    if check.answered:  # Slack is up and said something else: not the token, not an outage
        log.warning("auth.test answered %s; going on", check.status)
        return
    if must_answer:
        raise SettingsError(_slack_down(f"auth.test: {check.status}", settings))
    log.warning(
        "Slack did not answer auth.test (%s) at %s: serving anyway; /healthz says so until it answers",
        check.status,
        settings.slack_api_url,
    )


def _scheduler(settings: Settings) -> int:
    from bot.scheduler import make_scheduler

    brickwork = _built(settings, migrate_first=False)
    scheduler = make_scheduler(
        brickwork.services.ticker.tick,
        brickwork.services.clock,
        seconds=settings.brickwork_tick_seconds,
        blocking=True,
    )
    _exit_on_sigterm()
    log.info("scheduler ticking every %ss", settings.brickwork_tick_seconds)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    return 0


def _listen(app: WSGIApp, host: str, port: int, *, named: str) -> HttpServer:
    """The HTTP server, bound; a port or host that cannot be used is one line naming it."""
    from bot.server import HttpServer

    try:
        return HttpServer(app, host, port)
    except OSError as error:
        if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
            line = (
                f"--host {host} is not an address of this machine: use 0.0.0.0 (every address) "
                "or one of its own"
            )
        elif error.errno == errno.EADDRINUSE:
            line = (
                f"{named} {port} is already in use on {host}: stop what listens there, or choose "
                "another port with --port or PORT"
            )
        elif error.errno == errno.EACCES:
            line = (
                f"{named} {port} may not be opened by this user: choose a port above 1023 with --port or PORT"
            )
        else:
            line = f"cannot listen on {host}:{port} ({error.strerror or type(error).__name__})"
        raise SettingsError(line) from None


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.scheduler import make_scheduler

    brickwork = _built(settings, migrate_first=True)
    port, named = (settings.port, "PORT") if args.port is None else (args.port, "--port")
    server = _listen(brickwork.wsgi(), args.host, port, named=named)
    _check_slack(brickwork, must_answer=False)
    scheduler = None
    if not args.no_scheduler:
        scheduler = make_scheduler(
            brickwork.services.ticker.tick,
            brickwork.services.clock,
            seconds=settings.brickwork_tick_seconds,
            blocking=False,
        )
        scheduler.start()
    _exit_on_sigterm()
    # Tests and process managers read this line to learn the port (``--port 0``).
    print(f"brickwork listening on http://{server.host}:{server.port}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        brickwork.close()
    return 0


def _socket_mode(settings: Settings) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.scheduler import make_scheduler
    from bot.slack_gateway import TOKEN_REFUSED, error_code

    brickwork = _built(settings, migrate_first=True)
    _check_slack(brickwork, must_answer=True)
    scheduler = make_scheduler(
        brickwork.services.ticker.tick,
        brickwork.services.clock,
        seconds=settings.brickwork_tick_seconds,
        blocking=False,
    )
    scheduler.start()
    handler = SocketModeHandler(brickwork.bolt, settings.slack_app_token, logger=_socket_mode_logger())
    try:
        handler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    except Exception as error:
        if error_code(error) in TOKEN_REFUSED:
            raise SettingsError(f"SLACK_APP_TOKEN was refused by Slack ({error_code(error)})") from None
        raise  # Slack not answering: one line from main
    finally:
        scheduler.shutdown(wait=False)
        brickwork.close()
    return 0


class _NoWssUrlLine(logging.Filter):
    """slack_sdk logs "Failed to retrieve WSS URL" and raises; what it raises is reported once
    (one line from ``main`` at start, the client's own reconnect line later)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to retrieve WSS URL")


def _socket_mode_logger() -> logging.Logger:
    # Under Bolt's logger: held at WARNING and cut to its first clause, like Bolt (bot.logs).
    logger = logging.getLogger("brickwork.bolt.socket_mode")
    if not any(isinstance(f, _NoWssUrlLine) for f in logger.filters):
        logger.addFilter(_NoWssUrlLine())
    return logger


def _exit_on_sigterm() -> None:
    """Turn a process manager's SIGTERM into a clean shutdown (the finally blocks run)."""

    def handle(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, handle)


if __name__ == "__main__":
    sys.exit(main())
