"""``brickwork``: the console script (also ``python -m bot``).

The entry point loads ``.env`` once, builds the settings, and turns a settings problem into
one line and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from dotenv import load_dotenv

from bot.coaching.catalog import CatalogError
from bot.errors import BrickworkError
from bot.framework import FrameworkError
from bot.settings import Need, Settings, SettingsError, load_settings
from bot.text import is_slack_user_id

if TYPE_CHECKING:  # the CLI imports the app lazily so `--help` and settings errors stay fast
    from bot.app import Brickwork

log = logging.getLogger("brickwork")

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brickwork",
        description="Brickwork: post-project debriefs, feedback and leadership growth, in Slack.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("demo", help="run the whole product offline against a local stand-in for Slack")
    commands.add_parser("run", help="connect to Slack over Socket Mode, with the scheduler")
    serve = commands.add_parser(
        "serve", help="serve Slack's HTTP requests (POST /slack/events, GET /healthz)"
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=None, help="port (default $PORT, else 3000; 0 picks one)")
    serve.add_argument("--no-scheduler", action="store_true", help="do not tick in this process")
    commands.add_parser("scheduler", help="tick alone: the clock process of the Procfile")
    tick = commands.add_parser("tick", help="do all work due at NOW once, then exit")
    tick.add_argument(
        "--now", default=None, help="ISO-8601 time (default: the current time); naive means UTC"
    )
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", help="apply the migrations")
    people = commands.add_parser("people", help="the org chart and people's data (admins)")
    people_commands = people.add_subparsers(dest="people_command", metavar="ACTION", required=True)
    import_csv = people_commands.add_parser(
        "import", help="set managers from a CSV file with the header email,manager_email"
    )
    import_csv.add_argument("file", metavar="FILE.csv", type=Path, help="UTF-8 CSV: email,manager_email")
    forget = people_commands.add_parser(
        "forget",
        help="delete the feedback a person gave, withdraw their requests, take them off the org chart",
    )
    forget.add_argument("user_id", metavar="USER_ID", help="their Slack user id, such as U012AB3CD")
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
    try:
        settings = load_settings()
        _configure_logging(settings)
        return _dispatch(args, settings)
    except (SettingsError, FrameworkError, CatalogError, BrickworkError) as error:
        name = ""
        if isinstance(error, FrameworkError):
            name = "BRICKWORK_FRAMEWORK_FILE: "
        elif isinstance(error, CatalogError):
            name = "BRICKWORK_LEARNING_FILE: "
        print(f"brickwork: {name}{error}", file=sys.stderr)
        return EXIT_USAGE


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
    if args.command == "serve":
        settings.require(Need.BOT_TOKEN | Need.SIGNING_SECRET)
        return _serve(settings, args)
    if args.command == "run":
        settings.require(Need.BOT_TOKEN | Need.APP_TOKEN)
        return _socket_mode(settings)
    raise AssertionError(args.command)


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
    elif not migrate.is_current(settings.database_url):
        raise SettingsError("DATABASE_URL: the database is not migrated: run `brickwork db upgrade` first")
    return build_app(settings)


# What Slack answers when a token is wrong, as opposed to Slack being unreachable for a moment.
REFUSED = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
}


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("error", "")) if response is not None else ""


def _check_bot_token(brickwork: Brickwork) -> None:
    """Ask Slack who we are before serving, so a wrong token is one clear line at start."""
    from slack_sdk.errors import SlackApiError

    try:
        identity = brickwork.services.gateway.client.auth_test()
    except SlackApiError as error:
        code = _error_code(error)
        if code in REFUSED:
            raise SettingsError(f"SLACK_BOT_TOKEN was refused by Slack ({code})") from None
        log.warning("auth.test failed (%s); starting anyway", code or error)
    except OSError as error:
        log.warning("Slack is unreachable (%s); starting anyway", type(error).__name__)
    else:
        log.info("connected to Slack as %s in %s", identity.get("user_id"), identity.get("team"))


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


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.scheduler import make_scheduler
    from bot.server import HttpServer

    brickwork = _built(settings, migrate_first=True)
    _check_bot_token(brickwork)
    server = HttpServer(brickwork.wsgi(), args.host, settings.port if args.port is None else args.port)
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
    from slack_sdk.errors import SlackApiError

    from bot.scheduler import make_scheduler

    brickwork = _built(settings, migrate_first=True)
    _check_bot_token(brickwork)
    scheduler = make_scheduler(
        brickwork.services.ticker.tick,
        brickwork.services.clock,
        seconds=settings.brickwork_tick_seconds,
        blocking=False,
    )
    scheduler.start()
    handler = SocketModeHandler(brickwork.bolt, settings.slack_app_token)
    try:
        handler.start()
    except SlackApiError as error:
        code = _error_code(error)
        if code in REFUSED:
            raise SettingsError(f"SLACK_APP_TOKEN was refused by Slack ({code})") from None
        raise
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        scheduler.shutdown(wait=False)
        brickwork.close()
    return 0


def _exit_on_sigterm() -> None:
    """Turn a process manager's SIGTERM into a clean shutdown (the finally blocks run)."""

    def handle(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, handle)


if __name__ == "__main__":
    sys.exit(main())
