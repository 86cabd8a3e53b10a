"""A failed delivery is never a dead end: when the DM of ``/feedback request`` cannot be sent,
the asker is told plainly, and the request is either delivered later (once) or not kept, so it
can be made again. A modal that opened is never followed by "Something went wrong"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.slack_gateway import METADATA_EVENT
from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack
from storage.db import Database
from storage.models import FeedbackRequest, Person, RequestState
from tests.harness import ALICE, BOB, CAROL, MAYA, AppProcess, start_app
from tests.test_feedback_e2e import m, request

FAST = {"BRICKWORK_SLACK_TIMEOUT_SECONDS": "1"}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def fast_app(slack: FakeSlack, database_url: str, tmp_path: Path) -> Iterator[AppProcess]:
    """The app with a one-second Slack timeout: a DM whose answer never comes costs a second."""
    process = start_app(slack, database_url, tmp_path, **FAST)
    yield process
    process.stop()


def requests_to(db: Database, giver: Any) -> list[FeedbackRequest]:
    with db.transaction() as session:
        person = session.exec(select(Person).where(Person.slack_user_id == giver.id)).one()
        return list(session.exec(select(FeedbackRequest).where(FeedbackRequest.giver_id == person.id)))


def dms(slack: FakeSlack, user: Any) -> int:
    return len(slack.messages_with_metadata(user.id, METADATA_EVENT))


def no_failure_shown(slack: FakeSlack, user: Any) -> None:
    shown = [e["text"] for e in slack.ephemerals(user.id)] + [m["text"] for m in slack.messages(user.id)]
    assert not any("Something went wrong" in text for text in shown), shown


def test_a_dm_slack_refuses_for_good_is_told_and_can_be_asked_again(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    slack.fail_next("chat.postMessage", error="user_disabled")
    text = request(driver, slack, MAYA, f"request {m(ALICE)} {m(BOB)} about the launch")
    assert "Asked *Bob Müller*" in text
    assert "Not delivered to *Alice Chen*: their Slack account is deactivated" in text
    assert "you can ask again later" in text
    [refused] = requests_to(db, ALICE)
    assert refused.state is RequestState.UNDELIVERED and dms(slack, ALICE) == 0
    # Not a dead end: the request was not kept as open, so asking again asks.
    again = request(driver, slack, MAYA, f"request {m(ALICE)} about the launch")
    assert "Asked *Alice Chen*" in again and "already have an open request" not in again
    assert dms(slack, ALICE) == 1
    no_failure_shown(slack, MAYA)


def test_a_dm_slack_did_not_take_is_delivered_later_once(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    slack.fail_next("chat.postMessage", status=500, retry_after=None, times=3)
    text = request(driver, slack, MAYA, f"request {m(ALICE)} about the launch")
    assert "Asked *Alice Chen*: Slack has not taken the DM yet" in text and "deliver it shortly" in text
    [waiting] = requests_to(db, ALICE)
    assert waiting.state is RequestState.OPEN and dms(slack, ALICE) == 0
    now = datetime.now(UTC)
    for minutes in (2, 10, 30):  # a 500 may have posted it: each retry looks before it posts
        app.tick(now + timedelta(minutes=minutes))
    assert dms(slack, ALICE) == 1
    assert len([c for c in slack.calls_to("chat.postMessage") if c.ok]) == 1
    [delivered] = requests_to(db, ALICE)
    assert delivered.state is RequestState.OPEN and delivered.dm_ts is not None
    no_failure_shown(slack, MAYA)


def test_a_dm_whose_answer_never_came_is_found_not_sent_again(
    fast_app: AppProcess, slack: FakeSlack, db: Database
) -> None:
    driver = SlackDriver(fast_app.events_url, fast_app.env["SLACK_SIGNING_SECRET"], slack)
    slack.answer_late("chat.postMessage", delay=None)  # Slack stores it; the answer never comes
    text = request(driver, slack, MAYA, f"request {m(ALICE)} about the launch")
    assert "Slack has not taken the DM yet" in text
    assert dms(slack, ALICE) == 1  # it did arrive
    fast_app.tick(datetime.now(UTC) + timedelta(minutes=2), **FAST)
    assert dms(slack, ALICE) == 1 and len(slack.calls_to("conversations.history")) == 1
    [request_row] = requests_to(db, ALICE)
    assert request_row.dm_ts is not None  # found, recorded: its buttons can be updated later
    no_failure_shown(slack, MAYA)


def test_a_dm_that_fails_for_good_later_tells_the_asker_by_dm(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    slack.fail_next("chat.postMessage", status=503, retry_after=None)
    assert "deliver it shortly" in request(driver, slack, MAYA, f"request {m(CAROL)} about the launch")
    slack.fail_next("chat.postMessage", error="account_inactive")
    app.tick(datetime.now(UTC) + timedelta(minutes=2))
    [gone] = requests_to(db, CAROL)
    assert gone.state is RequestState.UNDELIVERED and dms(slack, CAROL) == 0
    app.tick(datetime.now(UTC) + timedelta(minutes=3))
    notice = slack.last_dm(MAYA.id)
    assert notice is not None and "could not be delivered" in notice["text"]
    assert "ask again" in str(notice["blocks"])
    no_failure_shown(slack, MAYA)
