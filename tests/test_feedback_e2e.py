"""/feedback end to end: requests (with refusals), answering, declining, nudging, anonymity
searched for in every Slack payload and log line, the access rules from outside, bad input."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.feedback.anonymity import release_slot
from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack, FakeUser
from bot.text import escape_mrkdwn
from handlers.ids import ActionId, BlockId
from storage.db import Database
from storage.models import (
    CoachAnswer,
    CoachAudience,
    CoachingDraft,
    DraftReaction,
    DraftState,
    Feedback,
    FeedbackRequest,
    Person,
    RequestState,
)
from tests.harness import ALICE, BOB, CAROL, GONE, MAYA, ROBOT, AppProcess, current_home, start_app
from tests.slackcheck import mrkdwn_texts
from tests.test_debrief_e2e import FULL_ANSWERS, shown

CONCRETE_NOTE = "In Tuesday's outage review Bob wrote the rollback checklist and walked support through it."


def m(user: Any) -> str:
    """How Slack sends a picked person in a command with should_escape on."""
    return f"<@{user.id}|{user.name}>"


def answer_after(slack: FakeSlack, count: int) -> str:
    """The next answer through a response_url (where command answers go: any channel)."""
    return str(slack.wait_for("response_url", count=count + 1)[-1].args["text"])


def request(driver: SlackDriver, slack: FakeSlack, who: Any, text: str) -> str:
    before = len(slack.calls_to("response_url"))
    response = driver.as_user(who.id).command("/feedback", text)
    assert response.status == 200 and not response.too_slow
    return answer_after(slack, before)


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


def next_release(user: FakeUser) -> datetime:
    """The next 09:00 where ``user`` is: when held anonymous feedback about them is released."""
    return release_slot(datetime.now(UTC) + timedelta(days=1), user.tz)


def test_anonymous_givers_are_never_revealed(quiet_app: AppProcess, slack: FakeSlack, db: Database) -> None:
    driver = SlackDriver(quiet_app.events_url, quiet_app.env["SLACK_SIGNING_SECRET"], slack)
    # Maya asks Carol and Bob; Carol will answer anonymously, Bob will not answer at all.
    request(driver, slack, MAYA, f"request {m(CAROL)} {m(BOB)} about the offsite")
    carol_dm = slack.last_dm(CAROL.id)
    assert carol_dm is not None
    form = open_modal_by_click(driver, slack, CAROL, carol_dm, "give_feedback")
    # Maya knows whom she asked; from here on, nothing may tell her who answered anonymously.
    slack.reset_calls()
    seen_before = len(slack.ephemerals(MAYA.id)), len(slack.messages(MAYA.id))
    mine_before = shown(driver.as_user(MAYA.id).command("/feedback", "mine"))
    secret = "She listened to both teams before deciding on the rollback."
    values = {**FULL_ANSWERS, "What went well": secret, "Anonymity": ["anonymous"]}
    assert driver.as_user(CAROL.id).submit(form, values).status == 200
    slack.wait_for("chat.update", where=lambda c: c.args.get("channel") == slack.dm_channel(CAROL.id))
    # Nothing reaches Maya now: no notice, nothing new in what she reads.
    assert [
        c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == slack.dm_channel(MAYA.id)
    ] == []
    assert shown(driver.as_user(MAYA.id).command("/feedback", "mine")) == mine_before

    # Two more anonymous answers about Maya, unasked: still nothing until the 09:00 batch.
    give(driver, slack, ALICE, MAYA, anonymous=True, notes="Clear priorities at every Monday planning.")
    give(driver, slack, BOB, MAYA, anonymous=True, notes="Shared credit for the launch with support.")
    assert shown(driver.as_user(MAYA.id).command("/feedback", "mine")) == mine_before
    release = next_release(MAYA)
    assert "anonymous feedback released: 0" in quiet_app.tick(release - timedelta(minutes=1))
    assert "anonymous feedback released: 3" in quiet_app.tick(release)
    notice = slack.wait_for(
        "chat.postMessage", where=lambda c: c.args["channel"] == slack.dm_channel(MAYA.id)
    )
    assert notice[-1].args["text"] == "You have new anonymous feedback" and "from 3 people" in json.dumps(
        notice[-1].args["blocks"]
    )
    mine = shown(driver.as_user(MAYA.id).command("/feedback", "mine"))
    assert (
        mine.count("_anonymous_") == 3
        and secret in mine
        and "Clear priorities at every Monday planning." in mine
    )
    # Not how it arrived ("on request" would say: from someone Maya asked), the topic or the day.
    assert "on request" not in mine and "the offsite" not in mine

    # The search: Carol's id and name, in everything Slack received that was not for Carol,
    # and in the whole log.
    carol_dm_channel = slack.dm_channel(CAROL.id)
    for call in slack.calls:
        if call.args.get("channel") in (carol_dm_channel, CAROL.id) or CAROL.id in (
            call.args.get("user"),
            call.args.get("user_id"),
        ):
            continue  # Carol's own DMs, modals and Home
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
        args = call.args
        if call.method == "views.publish" and args.get("user_id") == MAYA.id:
            # Maya's Home lists whom she asked under "Your open requests": those rows are
            # checked below to read alike for Carol and Bob; the rest may not name Carol.
            view = json.loads(args["view"]) if isinstance(args["view"], str) else args["view"]
            kept = [
                b
                for b in view["blocks"]
                if not str(b.get("block_id", "")).startswith(BlockId.OPEN_REQUEST_PREFIX)
            ]
            args = {**args, "view": {**view, "blocks": kept}}
        payload = json.dumps(args, ensure_ascii=False)
        where = max(payload.find("Carol"), payload.find(CAROL.id))
        assert where == -1, (call.method, payload[max(0, where - 200) : where + 100])
    for item in [*slack.ephemerals(MAYA.id)[seen_before[0] :], *slack.messages(MAYA.id)[seen_before[1] :]]:
        assert "Carol" not in json.dumps(item, ensure_ascii=False)
    assert CAROL.id not in quiet_app.log() and "Carol" not in quiet_app.log()
    assert len([f for f in rows(db, Feedback) if f.anonymous]) == 3

    # Maya's own listings name whom she asked, but Carol (answered anonymously) must read
    # exactly like Bob (did not answer): in /feedback requests, the export, the nudge, a new
    # request, and when the two weeks are over.
    carol_row, bob_row = sent_rows(driver, MAYA, CAROL, BOB)
    assert carol_row == bob_row == (" on *the offsite* · waiting", False)
    carol_home, bob_home = home_rows(driver, slack, MAYA, CAROL, BOB)
    assert carol_home == bob_home and carol_home is not None and not carol_home[1]
    carol_json, bob_json = exported_requests(driver, slack, MAYA, CAROL, BOB)
    assert carol_json == bob_json and carol_json["state"] == "open"

    with db.transaction() as session:  # asked two days ago: a nudge is due for both
        for row in session.exec(select(FeedbackRequest)):
            row.created_at = row.created_at - timedelta(days=2)
            session.add(row)
    carol_row, bob_row = sent_rows(driver, MAYA, CAROL, BOB)
    assert carol_row == bob_row == (" on *the offsite* · waiting", True)
    carol_home, bob_home = home_rows(driver, slack, MAYA, CAROL, BOB)
    assert carol_home == bob_home and carol_home is not None and carol_home[1]
    listing = driver.as_user(MAYA.id).command("/feedback", "requests").json()
    container = {"channel": "C0GENERAL", "ts": "1.1", "blocks": listing["blocks"]}
    for user in (CAROL, BOB):
        request_id = one_request(db, MAYA, user).id
        posts = len(slack.calls_to("chat.postMessage"))
        done = open_modal_by_click(driver, slack, MAYA, container, "nudge_request", value=str(request_id))
        assert f"Nudged {escape_mrkdwn(user.real_name)}." in json.dumps(done["blocks"], ensure_ascii=False)
        if user is BOB:  # Bob is nudged; Carol, who answered, is not bothered, and Maya cannot tell
            slack.wait_for("chat.postMessage", count=posts + 1)
    assert [c.args["channel"] for c in slack.calls_to("chat.postMessage")[-1:]] == [slack.dm_channel(BOB.id)]
    carol_row, bob_row = sent_rows(driver, MAYA, CAROL, BOB)
    assert carol_row == bob_row == (" on *the offsite* · waiting", False)  # nudged today
    again = request(driver, slack, MAYA, f"request {m(CAROL)} {m(BOB)} about the offsite")
    assert "*Carol &lt;b&gt;Díaz&lt;/b&gt;*: you already have an open request to them" in again
    assert "*Bob Müller*: you already have an open request to them" in again

    with db.transaction() as session:  # the two weeks are over: both close on the same day
        for row in session.exec(select(FeedbackRequest)):
            row.created_at = row.created_at - timedelta(days=13)
            session.add(row)
    carol_row, bob_row = sent_rows(driver, MAYA, CAROL, BOB)
    assert carol_row == bob_row == (" on *the offsite* · closed", False)
    assert home_rows(driver, slack, MAYA, CAROL, BOB) == [None, None]
    carol_json, bob_json = exported_requests(driver, slack, MAYA, CAROL, BOB)
    assert carol_json == bob_json and carol_json["state"] == "closed"
    # Carol's own view still says what she did.
    carol_listing = json.dumps(driver.as_user(CAROL.id).command("/feedback", "requests").json())
    assert "answered" in carol_listing


def one_request(db: Database, requester: Any, giver: Any) -> FeedbackRequest:
    with db.transaction() as session:
        people = {p.slack_user_id: p.id for p in session.exec(select(Person))}
        return session.exec(
            select(FeedbackRequest).where(
                FeedbackRequest.requester_id == people[requester.id],
                FeedbackRequest.giver_id == people[giver.id],
            )
        ).one()


def listed_rows(blocks: list[dict[str, Any]], prefix: str, *givers: Any) -> list[tuple[str, bool] | None]:
    """Each giver's row among the blocks whose id starts with ``prefix``, their name taken
    out: (text, has a button), or None when not listed."""
    listed = [b for b in blocks if str(b.get("block_id", "")).startswith(prefix)]
    found: list[tuple[str, bool] | None] = []
    for giver in givers:
        name = f"*{escape_mrkdwn(giver.real_name)}*"
        matches = [b for b in listed if b["text"]["text"].startswith(name)]
        assert len(matches) <= 1
        found.append(
            (matches[0]["text"]["text"].removeprefix(name), "accessory" in matches[0]) if matches else None
        )
    return found


def sent_rows(driver: SlackDriver, requester: Any, *givers: Any) -> list[tuple[str, bool] | None]:
    """Each giver's row under "You asked" in /feedback requests."""
    listing = driver.as_user(requester.id).command("/feedback", "requests").json()
    return listed_rows(listing["blocks"], BlockId.SENT_REQUEST_PREFIX, *givers)


def home_rows(
    driver: SlackDriver, slack: FakeSlack, user: Any, *givers: Any
) -> list[tuple[str, bool] | None]:
    """Each giver's row under "Your open requests" on the App Home, as the database has it now."""
    view = current_home(driver, slack, user)
    return listed_rows(view["blocks"], BlockId.OPEN_REQUEST_PREFIX, *givers)


def exported_requests(
    driver: SlackDriver, slack: FakeSlack, requester: Any, *givers: Any
) -> list[dict[str, Any]]:
    """Each giver's entry in the requester's export, without the request id and the giver."""
    uploads = len(slack.calls_to("files.completeUploadExternal"))
    driver.as_user(requester.id).command("/feedback", "export")
    slack.wait_for("files.completeUploadExternal", count=uploads + 1)
    data = json.loads(slack.files(requester.id)[-1]["content"].decode())
    sent = {r["giver"]: r for r in data["requests_i_sent"]}
    return [{k: v for k, v in sent[g.id].items() if k not in {"id", "giver"}} for g in givers]


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
    shared_app: AppProcess,
    shared_driver: SlackDriver,
    shared_slack: FakeSlack,
    shared_db: Database,
    text: str,
    expected: str,
) -> None:
    """(One app for all of them: each sends and stores nothing, so none can see another.)"""
    response = shared_driver.as_user(MAYA.id).command("/feedback", text)
    assert response.status == 200
    assert expected in shown(response)
    assert shared_slack.calls_to("chat.postMessage") == [] and shared_slack.calls_to("views.open") == []
    assert rows(shared_db, FeedbackRequest) == []


def test_who_sees_what_from_outside(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give(driver, slack, ALICE, BOB, anonymous=False, notes="Alice about Bob: he wrote the rollback plan.")
    give(
        driver,
        slack,
        CAROL,
        MAYA,
        anonymous=False,
        notes="Carol about Maya: she unblocked the vendor contract.",
    )
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
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    # Carol reports to Maya, her only report: "relation: report" alone would name Carol.
    for user in (CAROL, MAYA):
        driver.as_user(user.id).command("/feedback", "mine")  # first contact
    with db.transaction() as session:
        people = {p.slack_user_id: p for p in session.exec(select(Person))}
        people[CAROL.id].manager_id = people[MAYA.id].id
        session.add(people[CAROL.id])
    give(
        driver,
        slack,
        CAROL,
        MAYA,
        anonymous=True,
        notes="An anonymous note: Maya ran the offsite agenda.",
    )
    # Two more people's anonymous answers, so the batch is released at 09:00 (bot.feedback.anonymity).
    for other in (BOB, ALICE):
        give(driver, slack, other, MAYA, anonymous=True, notes="Kept the team calm during the outage.")
    assert "anonymous feedback released: 3" in app.tick(next_release(MAYA))
    give(driver, slack, ALICE, MAYA, anonymous=False, notes="Alice's named note: Maya ran the launch review.")
    give(driver, slack, MAYA, BOB, anonymous=False, notes="Maya about Bob: he fixed the flaky deploy.")
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
    assert about_me[ALICE.id]["notes"]["strengths_note"] == "Alice's named note: Maya ran the launch review."
    assert (
        about_me["anonymous"]["notes"]["strengths_note"] == "An anonymous note: Maya ran the offsite agenda."
    )
    assert about_me["anonymous"]["scores"]["delivery"]["quality"] == 4
    # Nothing that narrows down the anonymous giver: no relation, source, id, exact time.
    assert set(about_me["anonymous"]) == {"giver", "month", "scores", "notes"}
    assert "report" not in json.dumps(about_me["anonymous"])
    assert about_me["anonymous"]["month"] == f"{next_release(MAYA):%Y-%m}"  # the batch's month, not the day
    assert {"id", "at", "source", "relation"} <= set(about_me[ALICE.id])  # a named giver's item keeps them
    assert [i["notes"]["strengths_note"] for i in data["feedback_i_gave"]] == [
        "Maya about Bob: he fixed the flaky deploy."
    ]
    assert [r["about"] for r in data["requests_i_sent"]] == ["the export"]
    assert CAROL.id not in raw and "Carol" not in raw


def test_delete_removes_what_i_gave_and_takes_me_out(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give(driver, slack, CAROL, MAYA, anonymous=True)
    give(driver, slack, CAROL, ALICE, anonymous=False)
    give(driver, slack, ALICE, CAROL, anonymous=False, notes="about Carol stays with Carol")
    before = len(slack.calls_to("views.open"))
    driver.as_user(CAROL.id).command("/feedback", f"give {m(BOB)} about the launch")
    slack.wait_for("views.open", count=before + 1)
    open_form = slack.open_modal(CAROL.id)  # still open when she leaves
    assert open_form is not None
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
    forms = len(slack.calls_to("views.open"))
    refusal = request(driver, slack, CAROL, f"give {m(BOB)} about the launch")
    assert "You left the feedback programme, so you cannot give feedback any more." in refusal
    assert len(slack.calls_to("views.open")) == forms  # no form opened
    # Nor through the form she had open when she left.
    late = driver.as_user(CAROL.id).submit(open_form, {**FULL_ANSWERS, "What went well": CONCRETE_NOTE})
    assert late.json()["response_action"] == "update"
    assert "You left the feedback programme" in json.dumps(late.json()["view"])
    assert len(rows(db, Feedback)) == len(remaining)


def export_of(driver: SlackDriver, slack: FakeSlack, user: Any) -> dict[str, Any]:
    before = len(slack.files(user.id))
    driver.as_user(user.id).command("/feedback", "export")
    slack.wait_until(lambda: len(slack.files(user.id)) > before)
    files = slack.files(user.id)
    assert len(files) == before + 1
    data: dict[str, Any] = json.loads(files[-1]["content"].decode())
    return data


def test_coaching_is_exported_and_goes_with_what_a_person_gave(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give(driver, slack, CAROL, MAYA, anonymous=False, notes="Carol's: Maya ran the planning well.")
    give(driver, slack, ALICE, MAYA, anonymous=False, notes="Alice's: Maya wrote the launch plan.")
    give(driver, slack, MAYA, BOB, anonymous=False)
    shared_at = datetime(2026, 11, 20, 10, tzinfo=UTC)

    def content(evidence: list[int], step: str) -> str:
        area = {"kpi": "decides", "observation": "o", "suggestion": "s", "first_step": step}
        learning = [
            {"item": "L1", "reason": "r", "chosen": True},
            {"item": "L2", "reason": "r", "chosen": False},
        ]
        return json.dumps(
            {"areas": [{**area, "evidence": evidence, "sources": "2 peers"}], "learning": learning}
        )

    with db.transaction() as session:
        ids = {p.slack_user_id: p.id for p in session.exec(select(Person))}
        given = {f.giver_id: f.id for f in session.exec(select(Feedback))}
        answer = CoachAnswer(evidence_key="k" * 64, coach="llm", prompt_version="v1", answer_json="{}")
        session.add(answer)
        session.flush()

        def draft(subject: Any, by: Any, state: DraftState, evidence: list[int], step: str) -> None:
            session.add(
                CoachingDraft(
                    subject_id=ids[subject.id],
                    requested_by_id=ids[by.id],
                    audience=CoachAudience.MANAGER,
                    state=state,
                    coach="llm",
                    answer_id=answer.id,
                    content_json=content(evidence, step),
                    shared_at=shared_at if state is DraftState.SHARED else None,
                    reaction=DraftReaction.USEFUL if state is DraftState.SHARED else None,
                )
            )

        draft(MAYA, ALICE, DraftState.SHARED, [given[ids[CAROL.id]]], "cites Carol")  # goes
        draft(MAYA, ALICE, DraftState.SHARED, [given[ids[ALICE.id]]], "cites Alice")  # stays
        draft(MAYA, ALICE, DraftState.DRAFT, [given[ids[ALICE.id]]], "not shared")  # stays, not exported
        draft(CAROL, MAYA, DraftState.DRAFT, [], "about Carol")  # goes
        draft(BOB, CAROL, DraftState.DRAFT, [given[ids[ALICE.id]]], "by Carol")  # goes

    maya = export_of(driver, slack, MAYA)
    shared = maya["coaching_shared_with_me"]
    assert [d["areas"][0]["first_step"] for d in shared] == ["cites Carol", "cites Alice"]
    assert shared[0] == {
        "shared_at": "2026-11-20",
        "manager": ALICE.real_name,
        "areas": [{"kpi": "decides", "observation": "o", "suggestion": "s", "first_step": "cites Carol"}],
        "chosen_learning": ["L1"],
        "my_reaction": "useful",
    }
    drafted = maya["coaching_i_drafted"]
    assert [(d["subject"], d["state"], d["coach"]) for d in drafted] == [(CAROL.real_name, "draft", "llm")]
    assert drafted[0]["areas"][0]["first_step"] == "about Carol" and "created_at" in drafted[0]
    assert "evidence" not in json.dumps(maya["coaching_shared_with_me"] + drafted)
    carol = export_of(driver, slack, CAROL)
    assert [d["subject"] for d in carol["coaching_i_drafted"]] == [BOB.real_name]

    before = len(slack.calls_to("views.open"))
    driver.as_user(CAROL.id).command("/feedback", "delete")
    slack.wait_for("views.open", count=before + 1)
    confirm = slack.open_modal(CAROL.id)
    assert confirm is not None
    done = driver.as_user(CAROL.id).submit(confirm, {}).json()
    assert "Deleted 1 feedback records you gave and 3 coaching drafts" in json.dumps(done["view"])
    left = rows(db, CoachingDraft)
    assert sorted(json.loads(d.content_json)["areas"][0]["first_step"] for d in left) == [
        "cites Alice",
        "not shared",
    ]
    assert rows(db, CoachAnswer) == [] and all(d.answer_id is None for d in left)


def test_one_giver_cannot_unlock_their_own_anonymous_notes(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    notes = [
        "Carol's first: Maya chaired the incident call and kept it calm.",
        "Carol's second: Maya split the migration into reviewable steps.",
        "Carol's third: Maya asked the quiet people for their view first.",
    ]
    for note in notes:  # three forms, three records, one person
        give(driver, slack, CAROL, MAYA, anonymous=True, notes=note)
    assert len([f for f in rows(db, Feedback) if f.anonymous]) == 3
    # A batch needs three different people: one person's three forms stay held, unseen, uncounted.
    release = next_release(MAYA)
    assert "anonymous feedback released: 0" in app.tick(release)
    mine = shown(driver.as_user(MAYA.id).command("/feedback", "mine"))
    assert "_anonymous_" not in mine and not any(note in mine for note in notes)
    assert "no ratings yet" in mine  # not even counted
    # Two more people: now three different anonymous givers, and the next batch holds all five.
    give(
        driver, slack, ALICE, MAYA, anonymous=True, notes="Alice's: Maya wrote the launch plan with support."
    )
    assert "anonymous feedback released: 0" in app.tick(release + timedelta(days=1))
    give(
        driver, slack, BOB, MAYA, anonymous=True, notes="Bob's: Maya unblocked the vendor contract in a day."
    )
    mine = shown(driver.as_user(MAYA.id).command("/feedback", "mine"))
    assert not any(note in mine for note in notes)  # released at 09:00, not at once
    assert "anonymous feedback released: 5" in app.tick(release + timedelta(days=2))
    mine = shown(driver.as_user(MAYA.id).command("/feedback", "mine"))
    assert all(note in mine for note in notes)


@pytest.mark.parametrize(("word", "answer"), [("mine", "Nothing yet"), ("requests", "Nobody yet")])
def test_first_contact_is_answered_in_time_while_users_info_waits_out_a_429(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database, word: str, answer: str
) -> None:
    newcomer = FakeUser(id="U0NEWBIE", name="newbie", real_name="Nadia New", tz="Europe/Paris")
    slack.add_user(newcomer)
    slack.fail_next("users.info", status=429, retry_after=2)
    started = time.monotonic()
    response = driver.as_user(newcomer.id).command("/feedback", word)
    elapsed = time.monotonic() - started
    assert response.status == 200 and elapsed < 1.5, elapsed  # Retry-After is 2 s: it was not waited for
    assert answer in shown(response)
    # The profile arrives afterwards, once Slack lets users.info through.
    slack.wait_for("users.info", where=lambda c: c.ok and c.args.get("user") == newcomer.id, timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with db.transaction() as session:
            row = session.exec(select(Person).where(Person.slack_user_id == newcomer.id)).one()
        if row.name == "Nadia New":
            break
        time.sleep(0.05)
    assert (row.name, row.tz) == ("Nadia New", "Europe/Paris")
    assert len(slack.calls_to("users.info")) == 2  # the 429, then the answer


def test_the_same_form_submitted_twice_stores_one_answer_and_tells_once(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    request(driver, slack, MAYA, f"request {m(ALICE)} about the launch")
    alice_dm = slack.last_dm(ALICE.id)
    assert alice_dm is not None
    form = open_modal_by_click(driver, slack, ALICE, alice_dm, "give_feedback")
    values = {**FULL_ANSWERS, "What went well": CONCRETE_NOTE}
    to_maya = lambda c: c.args["channel"] == slack.dm_channel(MAYA.id)  # noqa: E731
    for _ in range(2):  # a double click, or Slack retrying: the same view id twice
        assert driver.as_user(ALICE.id).submit(form, values).status == 200
    slack.wait_for("chat.postMessage", where=to_maya)
    # A second notice would come within half a second: wait that long for one, no longer.
    notices = lambda: [c for c in slack.calls_to("chat.postMessage") if to_maya(c)]  # noqa: E731
    assert not slack.wait_until(lambda: len(notices()) > 1, timeout=0.5)
    assert len(rows(db, Feedback)) == 1
    assert len([c for c in slack.calls_to("chat.postMessage") if to_maya(c)]) == 1
    # Feedback given unasked: the same, keyed by the view.
    before = len(slack.calls_to("views.open"))
    driver.as_user(BOB.id).command("/feedback", f"give {m(MAYA)} about the launch")
    slack.wait_for("views.open", count=before + 1)
    unasked = slack.open_modal(BOB.id)
    assert unasked is not None
    for _ in range(2):
        assert driver.as_user(BOB.id).submit(unasked, values).status == 200
    assert len(rows(db, Feedback)) == 2


def test_the_feedback_form_names_the_field_at_fault(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    before = len(slack.calls_to("views.open"))
    driver.as_user(ALICE.id).command("/feedback", f"give {m(MAYA)}")
    slack.wait_for("views.open", count=before + 1)
    form = slack.open_modal(ALICE.id)
    assert form is not None
    no_quality = {k: v for k, v in FULL_ANSWERS.items() if k != "Quality"}
    refused = driver.as_user(ALICE.id).submit(
        form, {**no_quality, "What went well": CONCRETE_NOTE}, strict=False
    )
    assert refused.json()["response_action"] == "errors"
    assert set(refused.json()["errors"]) == {"kpi_quality"}
    long_note = (CONCRETE_NOTE + " ") * 40  # over 3,000 characters, and concrete
    assert len(long_note) > 3000
    refused = driver.as_user(ALICE.id).submit(
        form, {**FULL_ANSWERS, "What went well": long_note}, strict=False
    )
    assert refused.json()["response_action"] == "errors"
    assert set(refused.json()["errors"]) == {"strengths_note"}
    assert "3000 characters" in refused.json()["errors"]["strengths_note"]
    assert rows(db, Feedback) == []


def test_a_note_cannot_ping_the_channel_through_feedback_mine(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack
) -> None:
    note = "<!channel> In Monday's launch review Maya walked support through <https://evil.example|the plan>."
    give(driver, slack, ALICE, MAYA, anonymous=False, notes=note)
    texts = mrkdwn_texts(driver.as_user(MAYA.id).command("/feedback", "mine").json())
    shown_note = [t for t in texts if "launch review" in t]
    assert shown_note and all("<!channel>" not in t and "<https://evil" not in t for t in texts)
    assert "&lt;!channel&gt;" in shown_note[0] and "&lt;https://evil.example|the plan&gt;" in shown_note[0]


@pytest.fixture
def admin_app(slack: FakeSlack, database_url: str, tmp_path: Path) -> Iterator[AppProcess]:
    """The app with Maya as an admin (BRICKWORK_ADMINS)."""
    process = start_app(slack, database_url, tmp_path, BRICKWORK_ADMINS=MAYA.id)
    yield process
    process.stop()


def test_an_admin_reads_no_feedback_of_someone_they_do_not_manage(
    admin_app: AppProcess, slack: FakeSlack, db: Database
) -> None:
    driver = SlackDriver(admin_app.events_url, admin_app.env["SLACK_SIGNING_SECRET"], slack)
    note = "Alice about Bob: he wrote the rollback plan for the billing migration."
    give(driver, slack, ALICE, BOB, anonymous=False, notes=note)
    assert "Alice about Bob" not in shown(driver.as_user(MAYA.id).command("/feedback", "mine"))
    with db.transaction() as session:
        people = {p.slack_user_id: p for p in session.exec(select(Person))}
    bob_id = people[BOB.id].id
    # A "View feedback" click for Bob, as a crafted request would send it: refused.
    container = {
        "channel": "C0GENERAL",
        "ts": "1.1",
        "blocks": [
            {
                "type": "actions",
                "block_id": "crafted",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "View feedback"},
                        "action_id": ActionId.VIEW_REPORT_FEEDBACK.value,
                        "value": str(bob_id),
                    }
                ],
            }
        ],
    }
    refused = open_modal_by_click(driver, slack, MAYA, container, ActionId.VIEW_REPORT_FEEDBACK.value)
    assert "not yours to read" in json.dumps(refused["blocks"]) and "Alice about Bob" not in json.dumps(
        refused
    )
    # Being his confirmed manager is what opens it, admin or not.
    with db.transaction() as session:
        bob = session.exec(select(Person).where(Person.slack_user_id == BOB.id)).one()
        bob.manager_id = people[MAYA.id].id
        session.add(bob)
    allowed = open_modal_by_click(driver, slack, MAYA, container, ActionId.VIEW_REPORT_FEEDBACK.value)
    assert "Alice about Bob" in json.dumps(allowed["blocks"])
