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
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slack_sdk import WebClient

from bot.demo import ALICE, BOB, MAYA, button_beside, running_stack
from bot.timekeeping import local_date

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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
