"""/feedback end to end: requests (with refusals), answering, declining, nudging, anonymity
searched for in every Slack payload and log line, the access rules from outside, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack
from storage.db import Database
from storage.models import Feedback, FeedbackRequest, Person, RequestState
from tests.harness import ALICE, BOB, CAROL, GONE, MAYA, ROBOT, AppProcess, start_app
from tests.test_debrief_e2e import FULL_ANSWERS, shown


def m(user: Any) -> str:
    """How Slack sends a picked person in a command with should_escape on."""
    return f"<@{user.id}|{user.name}>"


def ephemeral_after(slack: FakeSlack, count: int) -> str:
    return slack.wait_for("chat.postEphemeral", count=count + 1)[-1].args["text"]


def request(driver: SlackDriver, slack: FakeSlack, who: Any, text: str) -> str:
    before = len(slack.calls_to("chat.postEphemeral"))
    response = driver.as_user(who.id).command("/feedback", text)
    assert response.status == 200 and not response.too_slow
    return ephemeral_after(slack, before)


def open_modal_by_click(
    driver: SlackDriver,
    slack: FakeSlack,
    user: Any,
    container: dict[str, Any],
    action_id: str,
    value: str | None = None,
) -> dict[str, Any]:
    before = len(slack.calls_to("views.open"))
    driver.as_user(user.id).click(container, action_id, value=value)
    slack.wait_for("views.open", count=before + 1)
    modal = slack.open_modal(user.id)
    assert modal is not None
    return modal


def give(
    driver: SlackDriver,
    slack: FakeSlack,
    giver: Any,
    subject: Any,
    *,
    anonymous: bool,
    notes: str = "Ran the incident review calmly.",
) -> None:
    before = len(slack.calls_to("views.open"))
    driver.as_user(giver.id).command("/feedback", f"give {m(subject)} about the launch")
    slack.wait_for("views.open", count=before + 1)
    form = slack.open_modal(giver.id)
    assert form is not None and form["callback_id"] == "feedback_form"
    values = {**FULL_ANSWERS, "What went well": notes}
    if anonymous:
        values["Anonymity"] = ["anonymous"]
    response = driver.as_user(giver.id).submit(form, values)
    assert response.status == 200 and response.text == "", response.text


def rows(db: Database, model: Any) -> list[Any]:
    with db.transaction() as session:
        return list(session.exec(select(model)))


@pytest.fixture
def quiet_app(slack: FakeSlack, database_url: str, tmp_path: Path) -> Iterator[AppProcess]:
    """The app at the log level operators run (INFO), for searching its log."""
    process = start_app(slack, database_url, tmp_path, BRICKWORK_LOG_LEVEL="INFO")
    yield process
    process.stop()


def test_request_answer_decline(app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database) -> None:
    text = request(
        driver,
        slack,
        MAYA,
        f"request {m(ALICE)} {m(BOB)} {m(ROBOT)} {m(MAYA)} {m(GONE)} about the <Q3> launch",
    )
    assert "Asked *Alice Chen*, *Bob Müller* for feedback on *the &lt;Q3&gt; launch*" in text
    assert "*Deploy Bot*: that is a bot" in text
    assert "*Maya Okafor*: you cannot ask yourself" in text
    assert "*Former Colleague*: that account is deactivated" in text
    assert len(rows(db, FeedbackRequest)) == 2
    alice_dm = slack.last_dm(ALICE.id)
    assert alice_dm is not None
    assert "*Maya Okafor* asks for your feedback on *the &lt;Q3&gt; launch*" in json.dumps(alice_dm["blocks"])

    # Asking again within 14 days is refused per person; the rest is still asked.
    text = request(driver, slack, MAYA, f"request {m(ALICE)} {m(CAROL)}")
    assert "*Alice Chen*: you already have an open request to them" in text
    assert "Asked *Carol &lt;b&gt;Díaz&lt;/b&gt;*" in text

    # Alice answers with her name.
    form = open_modal_by_click(driver, slack, ALICE, alice_dm, "give_feedback")
    notices = len(slack.calls_to("chat.postMessage"))
    assert driver.as_user(ALICE.id).submit(form, FULL_ANSWERS).status == 200
    notice = slack.wait_for("chat.postMessage", count=notices + 1)[-1]
    assert notice.args["channel"] == slack.dm_channel(MAYA.id)
    assert "Alice Chen answered your feedback request" in notice.args["text"]
    slack.wait_for("chat.update", where=lambda c: c.args["channel"] == slack.dm_channel(ALICE.id))
    updated = slack.last_dm(ALICE.id)
    assert updated is not None and "You answered" in json.dumps(updated["blocks"])
    assert '"button"' not in json.dumps(updated["blocks"])
    answered = [r for r in rows(db, FeedbackRequest) if r.state is RequestState.ANSWERED]
    assert len(answered) == 1
    # A second click on the old button: politely refused, nothing stored twice.
    notice_modal = open_modal_by_click(driver, slack, ALICE, alice_dm, "give_feedback")
    assert "answered already" in json.dumps(notice_modal["blocks"])
    assert len(rows(db, Feedback)) == 1

    # Bob declines, with a reason the requester sees.
    bob_dm = slack.last_dm(BOB.id)
    assert bob_dm is not None
    decline_form = open_modal_by_click(driver, slack, BOB, bob_dm, "decline_request")
    notices = len(slack.calls_to("chat.postMessage"))
    assert (
        driver.as_user(BOB.id)
        .submit(decline_form, {"A reason for them (optional)": "On leave <!here>"})
        .status
        == 200
    )
    declined = slack.wait_for("chat.postMessage", count=notices + 1)[-1]
    assert "Bob Müller* can't give feedback on *the &lt;Q3&gt; launch* right now" in json.dumps(
        declined.args["blocks"], ensure_ascii=False
    )
    assert "On leave &lt;!here&gt;" in json.dumps(declined.args["blocks"])

    # /feedback requests: both sides, with their states.
    overview = json.dumps(driver.as_user(MAYA.id).command("/feedback", "requests").json(), ensure_ascii=False)
    assert "Alice Chen* on *the &lt;Q3&gt; launch* · answered" in overview
    assert "Bob Müller* on *the &lt;Q3&gt; launch* · declined" in overview
    assert "Carol &lt;b&gt;Díaz&lt;/b&gt;* · waiting" in overview
    assert slack.invalid_calls() == []


def test_nudge_once_a_day(app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database) -> None:
    request(driver, slack, MAYA, f"request {m(BOB)}")
    listing = driver.as_user(MAYA.id).command("/feedback", "requests").json()
    assert "Nudge" not in json.dumps(listing)  # not on the day of asking
    with db.transaction() as session:  # the request was made two days ago
        row = session.exec(select(FeedbackRequest)).one()
        row.created_at = row.created_at - timedelta(days=2)
        session.add(row)
    listing = driver.as_user(MAYA.id).command("/feedback", "requests").json()
    assert "Nudge" in json.dumps(listing)
    container = {"channel": "C0GENERAL", "ts": "1.1", "blocks": listing["blocks"]}
    posts = len(slack.calls_to("chat.postMessage"))
    done = open_modal_by_click(driver, slack, MAYA, container, "nudge_request")
    assert "Nudged Bob Müller" in json.dumps(done["blocks"], ensure_ascii=False)
    nudge = slack.wait_for("chat.postMessage", count=posts + 1)[-1]
    assert nudge.args["channel"] == slack.dm_channel(BOB.id) and "would still value" in nudge.args["text"]
    again = open_modal_by_click(driver, slack, MAYA, container, "nudge_request")
    assert "once a day" in json.dumps(again["blocks"])
    assert len(slack.calls_to("chat.postMessage")) == posts + 1


def test_anonymous_givers_are_never_revealed(quiet_app: AppProcess, slack: FakeSlack, db: Database) -> None:
    driver = SlackDriver(quiet_app.events_url, quiet_app.env["SLACK_SIGNING_SECRET"], slack)
    request(driver, slack, MAYA, f"request {m(CAROL)} about the offsite")
    carol_dm = slack.last_dm(CAROL.id)
    assert carol_dm is not None
    form = open_modal_by_click(driver, slack, CAROL, carol_dm, "give_feedback")
    # Maya knows whom she asked; from here on, nothing may tell her who answered anonymously.
    slack.reset_calls()
    seen_before = len(slack.ephemerals(MAYA.id)), len(slack.messages(MAYA.id))
    posts = 0
    secret = "She listened before deciding."
    values = {**FULL_ANSWERS, "What went well": secret, "Anonymity": ["anonymous"]}
    assert driver.as_user(CAROL.id).submit(form, values).status == 200
    notice = slack.wait_for("chat.postMessage", count=posts + 1)[-1]
    assert notice.args["text"] == "You have new anonymous feedback."

    mine = shown(driver.as_user(MAYA.id).command("/feedback", "mine"))
    assert "_anonymous_" in mine and secret not in mine and "appear once three anonymous" in mine

    # Two more anonymous answers about Maya: now the written notes show, still without names.
    give(driver, slack, ALICE, MAYA, anonymous=True, notes="Clear priorities.")
    give(driver, slack, BOB, MAYA, anonymous=True, notes="Shared credit.")
    mine = shown(driver.as_user(MAYA.id).command("/feedback", "mine"))
    assert secret in mine and "Clear priorities." in mine

    # The search: Carol's id and name, in everything Slack received that was not for Carol,
    # and in the whole log.
    carol_dm_channel = slack.dm_channel(CAROL.id)
    for call in slack.calls:
        if call.args.get("channel") in (carol_dm_channel, CAROL.id) or call.args.get("user") == CAROL.id:
            continue  # Carol's own DMs and modals
        if call.method in {
            "views.open",
            "views.update",
            "response_action",
            "users.info",
            "conversations.open",
        }:
            if CAROL.id in json.dumps(call.args) and call.method != "users.info":
                opened_for = call.response or {}
                assert "Carol" not in json.dumps(opened_for)
            continue
        payload = json.dumps(call.args, ensure_ascii=False)
        assert CAROL.id not in payload and "Carol" not in payload, (call.method, payload[:300])
    for item in [*slack.ephemerals(MAYA.id)[seen_before[0] :], *slack.messages(MAYA.id)[seen_before[1] :]]:
        assert "Carol" not in json.dumps(item, ensure_ascii=False)
    assert CAROL.id not in quiet_app.log() and "Carol" not in quiet_app.log()
    assert len([f for f in rows(db, Feedback) if f.anonymous]) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("request", "Name at least one person"),
        ("request @bob", "I couldn't tell who `@bob` is"),
        ("request bob about x", "I couldn't tell who `bob` is"),
        (f"request {m(ALICE)} about", "Say what the feedback is about"),
        (f"request {m(ALICE)} about " + "x" * 151, "150 characters"),
        ("request " + " ".join(f"<@U0P{i:04d}|p{i}>" for i in range(11)), "at most 10 people"),
        (f"give {m(ALICE)} {m(BOB)}", "one person at a time"),
        ("give", "Name at least one person"),
        ("frobnicate", "I don't know `frobnicate`"),
        ("", "/feedback request @a @b"),
        ("help", "/feedback mine"),
    ],
)
def test_malformed_commands_get_the_usage_and_send_nothing(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database, text: str, expected: str
) -> None:
    response = driver.as_user(MAYA.id).command("/feedback", text)
    assert response.status == 200
    assert expected in shown(response)
    assert slack.calls_to("chat.postMessage") == [] and slack.calls_to("views.open") == []
    assert rows(db, FeedbackRequest) == []


def test_who_sees_what_from_outside(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give(driver, slack, ALICE, BOB, anonymous=False, notes="Alice about Bob")
    give(driver, slack, CAROL, MAYA, anonymous=False, notes="Carol about Maya")
    # Each person's /feedback mine shows what is about them, and nothing else.
    assert "Alice about Bob" in shown(driver.as_user(BOB.id).command("/feedback", "mine"))
    for other in (ALICE, CAROL, MAYA):
        assert "Alice about Bob" not in shown(driver.as_user(other.id).command("/feedback", "mine"))
    assert "Carol about Maya" in shown(driver.as_user(MAYA.id).command("/feedback", "mine"))
    # A giver cannot reopen someone else's request, nor submit into it.
    request(driver, slack, MAYA, f"request {m(ALICE)}")
    alice_dm = slack.last_dm(ALICE.id)
    assert alice_dm is not None
    notice = open_modal_by_click(driver, slack, BOB, alice_dm, "give_feedback")
    assert "not yours" in json.dumps(notice["blocks"])
    with db.transaction() as session:
        assert (
            session.exec(select(Person).where(Person.slack_user_id == BOB.id)).one().left_programme_at is None
        )


def test_export_sends_everything_about_me_without_anonymous_givers(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack
) -> None:
    give(driver, slack, CAROL, MAYA, anonymous=True, notes="Carol's anonymous note")
    give(driver, slack, ALICE, MAYA, anonymous=False, notes="Alice's named note")
    give(driver, slack, MAYA, BOB, anonymous=False, notes="Maya about Bob")
    request(driver, slack, MAYA, f"request {m(BOB)} about the export")
    response = driver.as_user(MAYA.id).command("/feedback", "export")
    assert "Preparing your export" in shown(response)
    slack.wait_for("files.completeUploadExternal")
    files = slack.files(MAYA.id)
    assert len(files) == 1 and files[0]["filename"] == "brickwork-export.json"
    raw = files[0]["content"].decode()
    data = json.loads(raw)
    assert data["person"]["slack_user_id"] == MAYA.id
    about_me = {item["giver"]: item for item in data["feedback_about_me"]}
    assert set(about_me) == {"anonymous", ALICE.id}
    assert about_me[ALICE.id]["notes"]["strengths_note"] == "Alice's named note"
    assert about_me["anonymous"]["notes"] == "withheld until 3 anonymous items exist"
    assert about_me["anonymous"]["scores"]["delivery"]["quality"] == 4
    assert [i["notes"]["strengths_note"] for i in data["feedback_i_gave"]] == ["Maya about Bob"]
    assert [r["about"] for r in data["requests_i_sent"]] == ["the export"]
    assert CAROL.id not in raw and "Carol" not in raw


def test_delete_removes_what_i_gave_and_takes_me_out(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give(driver, slack, CAROL, MAYA, anonymous=True)
    give(driver, slack, CAROL, ALICE, anonymous=False)
    give(driver, slack, ALICE, CAROL, anonymous=False, notes="about Carol stays with Carol")
    before = len(slack.calls_to("views.open"))
    driver.as_user(CAROL.id).command("/feedback", "delete")
    slack.wait_for("views.open", count=before + 1)
    confirm = slack.open_modal(CAROL.id)
    assert confirm is not None and "cannot be undone" in json.dumps(confirm["blocks"])
    assert rows(db, Feedback) and len(rows(db, Feedback)) == 3
    done = driver.as_user(CAROL.id).submit(confirm, {}).json()
    assert done["response_action"] == "update"
    assert "Deleted 2 feedback records" in json.dumps(done["view"])
    with db.transaction() as session:
        carol = session.exec(select(Person).where(Person.slack_user_id == CAROL.id)).one()
        remaining = list(session.exec(select(Feedback)))
    assert carol.left_programme_at is not None
    assert [f.giver_id for f in remaining] != [] and all(f.giver_id != carol.id for f in remaining)
    # Nobody can ask Carol any more, and she cannot give.
    assert "*Carol &lt;b&gt;Díaz&lt;/b&gt;*: they left the feedback programme" in request(
        driver, slack, MAYA, f"request {m(CAROL)}"
    )
