"""How fast Brickwork acknowledges Slack, against a baseline measured in the same run.

Slack gives an app 3 seconds. This starts the real app on loopback (waitress, SQLite, the
stand-in for Slack) and times, over signed HTTP:

- baseline: ``GET /healthz`` (one HTTP round trip and a database ping);
- ``/debrief list`` (a query, answered in the ack);
- ``/debrief`` (ack, then views.open after the ack);
- submitting the "New project" modal (validation, users.info, inserts, all before the ack);
- submitting a debrief form (validation and the upsert before the ack; DM update after).

and, for due work, the time per project of a tick that sends prompts, against the baseline of
one bare chat.postMessage to the same stand-in.

Run: ``.venv/bin/python bench/ack_latency.py [--rounds N]``. Prints figures; asserts nothing.

``--load``: acks under load instead. ``brickwork serve`` (its own process, waitress, the
stand-in for Slack, a SQLite file or ``--database-url``) and a bare Bolt app (a minimal
``slack_bolt.App`` with one view-submission listener that acks, behind the same waitress
server, in a process of its own) run side by side on this machine; ``--clients`` threads
(20) submit feedback forms for ``--seconds`` (60) to each in turn, each form a new one, about
four people who have ``--items`` (1,000) feedback items each and a manager: every submission
stores an answer and republishes two App Homes after the ack. Printed: ack p50, p99 and max,
timeouts (over 3 s, or no 200), throughput, and Brickwork's ratios to the bare app's.
``--app-dir DIR`` serves a different source tree of Brickwork (e.g. an export of the last
commit) with the same bench, for before/after figures.
"""

from __future__ import annotations

import argparse
import copy
import os
import queue
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import func, insert
from sqlmodel import select

from bot.demo import ALICE, BOB, MAYA, button_beside, running_stack
from bot.standin.driver import SlackDriver, build_state_values
from bot.standin.webapi import FakeSlack, FakeUser
from bot.timekeeping import local_date
from storage.db import Database
from storage.models import Feedback, ModalView

ROOT = Path(__file__).resolve().parent.parent
SLACK_DEADLINE = 3.0  # seconds Slack waits for an ack

ANSWERS = {
    "Target met": "yes",
    "Quality": "4",
    "Timeliness": "5",
    "Inspires and retains people": "4",
    "Decides well under pressure": "5",
    "Drives innovation and culture": "Not observed",
    "Collaborates across teams, includes people": "4",
    "Delegates": "3",
    "Motivates": "4",
}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(0.99 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--load", action="store_true", help="acks under load, beside a bare Bolt app")
    parser.add_argument("--seconds", type=float, default=60.0, help="--load: how long each server is loaded")
    parser.add_argument("--clients", type=int, default=20, help="--load: concurrent clients")
    parser.add_argument("--items", type=int, default=1000, help="--load: feedback items about each subject")
    parser.add_argument("--database-url", default=None, help="--load: PostgreSQL (default: a SQLite file)")
    parser.add_argument(
        "--app-dir", type=Path, default=ROOT, help="--load: the Brickwork source tree to serve"
    )
    parser.add_argument(
        "--bare-server", nargs=2, metavar=("SIGNING_SECRET", "SLACK_API_URL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(*args.bare_server)
        return
    if args.load:
        load(args)
        return
    now = [datetime.now(UTC)]
    results: dict[str, list[float]] = {}

    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(Path(tmp), lambda: now[0]) as (app, slack, driver),
    ):
        base = driver.app_url.rsplit("/slack/events", 1)[0]
        maya = driver.as_user(MAYA.id)
        for _ in range(5):  # warm up: imports, connections, the first users.info
            urllib.request.urlopen(f"{base}/healthz").read()
            maya.command("/debrief", "list")

        results["GET /healthz (baseline)"] = [
            timed(lambda: urllib.request.urlopen(f"{base}/healthz").read()) for _ in range(args.rounds)
        ]
        results["/debrief list"] = [
            timed(lambda: maya.command("/debrief", "list")) for _ in range(args.rounds)
        ]

        opens, submits = [], []
        for i in range(args.rounds):
            before = len(slack.calls_to("views.open"))
            opens.append(maya.command("/debrief").elapsed * 1000)
            slack.wait_for("views.open", count=before + 1)
            form = slack.open_modal(MAYA.id)
            assert form is not None
            values = {
                "Project name": f"Project {i}",
                "Team members": [ALICE.id, BOB.id],
                "End date": local_date(now[0], MAYA.tz),
                "Run the debrief": "1",
                "Do members give feedback on the lead?": "none",
            }
            submits.append(maya.submit(form, values).elapsed * 1000)
        results["/debrief (open the modal)"] = opens
        results["submit New project"] = submits

        projects = app.services.debriefs.projects_for(MAYA.id)
        due = max(p.due_at for p in projects)
        now[0] = due
        posts_before = len(slack.calls_to("chat.postMessage"))
        started = time.perf_counter()
        report = app.services.ticker.tick(due)
        tick_ms = (time.perf_counter() - started) * 1000
        dms = len(slack.calls_to("chat.postMessage")) - posts_before

        debriefs = []
        for message in slack.messages(MAYA.id)[: args.rounds]:
            before = len(slack.calls_to("views.open"))
            maya.click(message, value=button_beside(message, ALICE.real_name))
            slack.wait_for("views.open", count=before + 1)
            form = slack.open_modal(MAYA.id)
            assert form is not None
            debriefs.append(maya.submit(form, ANSWERS).elapsed * 1000)
        results["submit a debrief"] = debriefs

        bare = WebClient(token="xoxb-bench", base_url=slack.url)
        post_ms = [
            timed(lambda: bare.chat_postMessage(channel=MAYA.id, text="x")) for _ in range(args.rounds)
        ]
        now[0] = due + timedelta(seconds=1)

    base_p50, _ = summary(results["GET /healthz (baseline)"])
    print(f"Acknowledgement times over {args.rounds} rounds each (ms; Slack allows 3000):")
    print(f"{'request':32} {'p50':>8} {'p99':>8} {'p50 / baseline':>15}")
    for name, samples in results.items():
        p50, p99 = summary(samples)
        print(f"{name:32} {p50:8.1f} {p99:8.1f} {p50 / base_p50:14.1f}x")
    per_dm = tick_ms / max(dms, 1)
    post_p50, _ = summary(post_ms)
    print(f"\nDue work: one tick ran {report.claimed} prompt jobs and sent {dms} DMs in {tick_ms:.0f} ms:")
    print(f"  {per_dm:.1f} ms per DM, {per_dm / post_p50:.1f}x one bare chat.postMessage ({post_p50:.1f} ms)")


# -- under load -----------------------------------------------------------------------

SUBJECTS = tuple(
    FakeUser(id=f"U0SUBJECT{i}", name=f"subject{i}", real_name=f"Subject {i}", tz="Europe/Berlin")
    for i in range(4)
)
MANAGER = FakeUser(id="U0LOADMGR", name="manager", real_name="Load Manager", tz="Europe/Berlin")
FORM_ANSWERS = {**ANSWERS, "Target met": "yes", "What went well": "Ran the incident review calmly."}


def serve_bare(signing_secret: str, slack_api_url: str) -> None:
    """The bare Bolt app: one view-submission listener that acks, behind the same server."""
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from bot.server import HttpServer

    client = WebClient(token="xoxb-bare-0000", base_url=slack_api_url)
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=False)

    @app.view_submission("feedback_form")
    def submitted(ack: Any) -> None:
        ack()

    server = HttpServer(SlackRequestHandler(app), "127.0.0.1", 0)  # type: ignore[arg-type]
    print(f"bare listening on http://{server.host}:{server.port}", flush=True)
    server.serve_forever()


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    url: str
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(name: str, command: list[str], env: dict[str, str], workdir: Path) -> Server:
    log = workdir / f"{name}.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=err, text=True
        )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    out = process.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in out], daemon=True).start()
    try:
        line = lines.get(timeout=60)
    except queue.Empty:
        process.kill()
        raise SystemExit(f"{name} did not start:\n{log.read_text()}") from None
    if "listening on" not in line:
        process.kill()
        raise SystemExit(f"{name}: unexpected first line {line!r}:\n{log.read_text()}")
    return Server(name=name, process=process, url=line.split()[-1].rstrip("/") + "/slack/events", log=log)


@dataclass
class Run:
    name: str
    seconds: float
    acks: list[float]  # seconds, of those answered 200
    failures: int  # no 200 (a timeout in Bolt is a 404), or no answer at all
    slow: int  # answered 200, after Slack's 3 seconds

    @property
    def timeouts(self) -> int:
        return self.failures + self.slow

    @property
    def throughput(self) -> float:
        return len(self.acks) / self.seconds


def hammer(name: str, driver: SlackDriver, payloads: list[Iterator[dict[str, Any]]], seconds: float) -> Run:
    """Each client submits its forms one after another until the time is up."""
    acks: list[float] = []
    failures = [0]
    guard = threading.Lock()
    deadline = time.monotonic() + seconds
    start = threading.Barrier(len(payloads) + 1)

    def client(forms: Iterator[dict[str, Any]]) -> None:
        start.wait()
        while time.monotonic() < deadline:
            payload = next(forms)
            try:
                response = driver.send_payload(payload)
                ok = response.status == 200
            except OSError:  # no answer within the driver's timeout
                ok = False
            with guard:
                if ok:
                    acks.append(response.elapsed)
                else:
                    failures[0] += 1

    threads = [threading.Thread(target=client, args=(forms,)) for forms in payloads]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    return Run(name, elapsed, acks, failures[0], sum(1 for a in acks if a > SLACK_DEADLINE))


def load(args: argparse.Namespace) -> None:
    from home_render import Seeder, fresh_database  # bench/ is on sys.path when run as a script

    givers = [
        FakeUser(id=f"U0GIVER{i:02d}", name=f"giver{i}", real_name=f"Giver {i}", tz="Europe/Berlin")
        for i in range(args.clients)
    ]
    now = datetime.now(UTC)
    secret = secrets.token_hex(16)
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(args.database_url, migrated=False) as url,
        FakeSlack(users=[*givers, *SUBJECTS, MANAGER]) as slack,
    ):
        workdir = Path(tmp)
        base_env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
        env = {
            **base_env,
            "PYTHONPATH": str(args.app_dir),
            "SLACK_BOT_TOKEN": "xoxb-load-0000",
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_API_URL": slack.url,
            "DATABASE_URL": url,
            "BRICKWORK_COACH": "offline",
            "BRICKWORK_LOG_LEVEL": "WARNING",
        }
        python = sys.executable
        # The served tree's own migrations: its schema, whichever tree it is.
        subprocess.run([python, "-m", "bot", "db", "upgrade"], env=env, cwd=workdir, check=True)
        db = Database(url)
        seeder = Seeder(db.engine, now, 26, _kpis())
        (manager_id,) = seeder.people(
            [{"slack_user_id": MANAGER.id, "name": MANAGER.real_name, "tz": MANAGER.tz}]
        )
        subject_ids = seeder.people(
            [
                {"slack_user_id": s.id, "name": s.real_name, "tz": s.tz, "manager_id": manager_id}
                for s in SUBJECTS
            ]
        )
        seeder.people([{"slack_user_id": g.id, "name": g.real_name, "tz": g.tz} for g in givers])
        history = seeder.people(
            [{"slack_user_id": f"U0PAST{i:03d}", "name": f"Past {i}"} for i in range(200)]
        )
        for pid in subject_ids:
            seeder.feedback(pid, history, args.items)

        brickwork = start_server(
            "brickwork",
            [python, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", "0", "--no-scheduler"],
            env,
            workdir,
        )
        bare = start_server(
            "bare",
            [python, str(Path(__file__).resolve()), "--bare-server", secret, slack.url],
            {**base_env, "PYTHONPATH": str(ROOT)},
            workdir,
        )
        try:
            driver = SlackDriver(brickwork.url, secret, slack, timeout=30)
            forms = []
            per_client = int(args.seconds * 60) + 100  # more than a client can submit in the time
            for i, giver in enumerate(givers):
                subject = SUBJECTS[i % len(SUBJECTS)]
                before = len(slack.calls_to("views.open"))
                driver.as_user(giver.id).command(
                    "/feedback", f"give <@{subject.id}|{subject.name}> about the launch"
                )
                slack.wait_for("views.open", count=before + 1, timeout=30)
                view = slack.open_modal(giver.id)
                assert view is not None and view["callback_id"] == "feedback_form", view
                ids = [f"VL{i:02d}{n:07d}" for n in range(per_client)]
                with db.engine.begin() as connection:  # as if each had opened a form of their own
                    connection.execute(
                        insert(ModalView),
                        [
                            {
                                "view_id": v,
                                "slack_user_id": giver.id,
                                "callback_id": "feedback_form",
                                "opened_at": now,
                            }
                            for v in ids
                        ],
                    )
                forms.append((driver.as_user(giver.id), view, build_state_values(view, FORM_ANSWERS), ids))

            def submissions(
                actor: Any, view: dict[str, Any], state: dict[str, Any], ids: list[str]
            ) -> Iterator[dict[str, Any]]:
                for view_id in ids:
                    payload = actor._base_payload("view_submission")
                    payload["trigger_id"] = f"{secrets.randbelow(10**9)}.{view_id}"
                    payload["view"] = {**copy.deepcopy(view), "id": view_id, "state": {"values": state}}
                    payload["response_urls"] = []
                    yield payload

            def streams() -> list[Iterator[dict[str, Any]]]:
                return [submissions(*form) for form in forms]

            warm = SlackDriver(bare.url, secret, slack, timeout=30)
            for stream in streams():  # warm up both: imports, connections, the first auth
                payload = next(stream)
                warm.send_payload(payload)
            publishes_before = len(slack.calls_to("views.publish"))
            runs = [
                hammer(
                    "bare Bolt app", SlackDriver(bare.url, secret, slack, timeout=30), streams(), args.seconds
                )
            ]
            runs.append(hammer("brickwork serve", driver, streams(), args.seconds))
            with db.transaction() as session:
                stored = session.exec(select(func.count()).select_from(Feedback)).one()
            publishes = len(slack.calls_to("views.publish")) - publishes_before
            time.sleep(2)
            publishes_late = len(slack.calls_to("views.publish")) - publishes_before
        finally:
            brickwork.stop()
            bare.stop()
            db.dispose()
        errors = [
            line for line in brickwork.log.read_text().splitlines() if "ERROR" in line or "Traceback" in line
        ]

    where = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"Acks under load: {args.clients} clients submitting feedback forms for {args.seconds:.0f} s to each "
        f"server in turn ({where}; {len(SUBJECTS)} subjects with {args.items:,} items each; "
        f"serving {args.app_dir})"
    )
    print(
        f"{'server':18} {'acks':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'>3 s/failed':>12} "
        f"{'acks/s':>8}"
    )
    for run in runs:
        ordered = sorted(run.acks) or [0.0]
        p50, p99 = summary([a * 1000 for a in ordered])
        print(
            f"{run.name:18} {len(run.acks):6d} {p50:8.1f} {p99:8.1f} {ordered[-1] * 1000:8.1f} "
            f"{run.timeouts:12d} {run.throughput:8.1f}"
        )
    bare_run, app_run = runs
    bare_p50, bare_p99 = summary([a * 1000 for a in bare_run.acks])
    app_p50, app_p99 = summary([a * 1000 for a in app_run.acks])
    print(
        f"brickwork / bare: p50 {app_p50 / bare_p50:.2f}x, p99 {app_p99 / bare_p99:.2f}x, "
        f"throughput {app_run.throughput / bare_run.throughput:.2f}x; "
        f"max ack {max(app_run.acks) * 1000:.0f} ms; timeouts {app_run.timeouts}"
    )
    print(
        f"Brickwork stored {stored} feedback items in all; App Home publishes while loaded: {publishes} "
        f"({publishes_late} two seconds later) for {2 * len(app_run.acks)} Homes changed; "
        f"{len(errors)} error lines in its log"
    )


def _kpis() -> list[tuple[str, str, tuple[int, int]]]:
    from bot.framework import load_framework

    return [
        (k.dimension.value, k.key, (0, 2) if k.kind.value == "outcome" else (1, 5))
        for k in load_framework(None).kpis
    ]


if __name__ == "__main__":
    main()
