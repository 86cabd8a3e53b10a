"""Every DM exactly once, through what Slack and the machine can do to a send.

Real processes: ``brickwork serve`` creates the projects, ``brickwork tick`` sends the prompts,
and the stand-in for Slack answers late, never, with a 5xx after doing the work, or with a 429
— or kills the ticking process with SIGKILL at the exact moment a test names. What is checked
is what Slack holds in the end: each person's DM carries exactly one prompt (counted by the
metadata Brickwork puts on every message), and every message Brickwork sent is recorded with
its ts, so it can be updated later.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.slack_gateway import METADATA_EVENT
from bot.standin.driver import SlackDriver
from bot.standin.webapi import Call, FakeSlack, FakeUser
from storage.db import Database
from storage.models import MessageState, OutboxMessage, Project
from tests.harness import ALICE, MAYA, AppProcess

TEAM = tuple(
    FakeUser(id=f"U0P{n:03d}", name=f"p{n}", real_name=f"Person {n}", tz="Europe/Berlin") for n in range(49)
)
FAST = {"BRICKWORK_SLACK_TIMEOUT_SECONDS": "1"}  # a hung answer costs a second, not ten


@pytest.fixture
def db(database_url: str) -> Any:
    database = Database(database_url)
    yield database
    database.dispose()


def schedule(driver: SlackDriver, slack: FakeSlack, lead: FakeUser, members: list[str], name: str) -> None:
    actor = driver.as_user(lead.id)
    opened = len(slack.calls_to("views.open"))
    actor.command("/debrief")
    slack.wait_for("views.open", count=opened + 1)
    modal = slack.open_modal(lead.id)
    assert modal is not None
    response = actor.submit(
        modal,
        {
            "Project name": name,
            "Lead": lead.id,
            "Team members": members,
            "End date": date.today(),
            "Run the debrief": "1",
            "Do members give feedback on the lead?": "named",  # so every member is prompted too
        },
        strict=False,
    )
    assert response.json()["response_action"] == "update", response.text


def fifty_prompts(driver: SlackDriver, slack: FakeSlack, db: Database) -> tuple[datetime, list[str]]:
    """Two projects, 51 people to prompt (two leads, 49 members); the moment all are due."""
    for user in TEAM:
        slack.add_user(user)
    ids = [u.id for u in TEAM]
    schedule(driver, slack, MAYA, ids[:25], "Apollo")
    schedule(driver, slack, ALICE, ids[25:], "Gemini")
    with db.transaction() as session:
        due = max(p.debrief_due_at for p in session.exec(select(Project)))
    slack.reset_calls()
    return due, [MAYA.id, ALICE.id, *ids]


def prompts_in(slack: FakeSlack, user_id: str) -> int:
    return len(slack.messages_with_metadata(user_id, METADATA_EVENT))


def assert_each_once(slack: FakeSlack, db: Database, people: list[str]) -> None:
    counts = {person: prompts_in(slack, person) for person in people}
    assert counts == dict.fromkeys(people, 1), {p: n for p, n in counts.items() if n != 1}
    with db.transaction() as session:
        messages = list(session.exec(select(OutboxMessage)))
    assert len(messages) == len(people)
    assert all(m.state is MessageState.SENT and m.ts for m in messages), [
        (m.id, m.state, m.last_error) for m in messages if m.state is not MessageState.SENT
    ]
    # Every ts we recorded is the message Slack holds: each DM can be updated later.
    for message in messages:
        assert message.channel_id is not None
        held = [m["ts"] for m in slack.messages(message.channel_id)]
        assert message.ts in held


@pytest.mark.parametrize("when", ["received", "applied", "answered"])
def test_a_tick_killed_at_any_point_of_a_send_loses_nothing_and_sends_nothing_twice(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database, when: str
) -> None:
    due, people = fifty_prompts(driver, slack, db)
    process = app.start_tick(due, **FAST)
    killed = threading.Event()

    def kill(_call: Call) -> None:
        os.kill(process.pid, signal.SIGKILL)
        killed.set()

    # The 21st prompt: before Slack has it, once Slack has stored it, or once it has answered.
    slack.on_call("chat.postMessage", 21, kill, when=when)  # type: ignore[arg-type]
    out, err = process.communicate(timeout=60)
    assert killed.is_set() and process.returncode == -signal.SIGKILL, (out, err[-2000:])
    sent_before_restart = sum(prompts_in(slack, p) for p in people)
    assert sent_before_restart in (20, 21)

    # A restart a second later sends everything nobody had claimed; only the one message whose
    # fate is unknown waits, for the dead worker's lease.
    report = app.tick(due + timedelta(seconds=1), **FAST)
    assert "1 due" not in report  # the job itself was done before the kill: no half of it
    in_doubt = [p for p in people if prompts_in(slack, p) == 0]
    assert len(in_doubt) <= 1
    # Past the lease, the message in doubt is looked for in its DM before anything is sent.
    history = len(slack.calls_to("conversations.history"))
    app.tick(due + timedelta(minutes=2), **FAST)
    assert len(slack.calls_to("conversations.history")) == history + 1
    assert_each_once(slack, db, people)


def test_late_lost_failed_and_limited_answers_send_each_dm_once(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    due, people = fifty_prompts(driver, slack, db)
    slack.answer_late("chat.postMessage", number=3, delay=None)  # stored; the answer never comes
    slack.answer_late("chat.postMessage", number=5, delay=3)  # stored; answered after the timeout
    slack.fail_after_apply("chat.postMessage", number=7, status=500)  # stored, then a 500
    slack.drop_after_apply("chat.postMessage", number=9)  # stored, then the connection closes
    slack.fail_call("chat.postMessage", 11, status=503, retry_after=None)  # a 5xx, not stored
    slack.fail_call("chat.postMessage", 13, status=429, retry_after=1)  # rate limited: not stored
    slack.fail_call("chat.postMessage", 15, error="internal_error")  # ok: false, maybe stored
    report = app.tick(due, **FAST)
    # The 429 came back to the outbox (one "to retry"), which waited out its Retry-After and sent
    # it inside the tick; the six with an unknown outcome wait to settle.
    assert "2 due, 2 done, 0 failed" in report and "45 sent, 7 to retry" in report, report
    assert slack.calls_to("conversations.history") == []
    report = app.tick(due + timedelta(minutes=2), **FAST)
    assert "6 sent" in report, report
    assert len(slack.calls_to("conversations.history")) == 6  # each looked for before a resend
    assert_each_once(slack, db, people)


def test_two_tickers_at_once_send_each_dm_once(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    due, people = fifty_prompts(driver, slack, db)
    first, second = app.start_tick(due, **FAST), app.start_tick(due, **FAST)
    for process in (first, second):
        process.wait(timeout=60)
        assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    assert_each_once(slack, db, people)
    assert len([c for c in slack.calls_to("chat.postMessage") if c.ok]) == len(people)
