"""Concurrency is not an error: first contact, claims and toggles under real parallel requests.

Each case sends real signed HTTP from several threads that a ``threading.Barrier`` releases
together, then checks what the person sees (every ack, everything sent to a ``response_url``,
ephemerals, DMs and modals: never "Something went wrong", never an error id) and the rows.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlmodel import select

from bot.standin.driver import Response, SlackDriver
from bot.standin.webapi import Call, FakeSlack, FakeUser
from bot.timekeeping import local_date
from storage.db import Database
from storage.models import (
    CoachingDraft,
    DraftState,
    Feedback,
    FeedbackRequest,
    OutboxMessage,
    Person,
    Project,
    RequestState,
)
from storage.repositories import modals as modals_repo
from tests.harness import ALICE, BOB, MAYA, AppProcess, current_home
from tests.test_coach_e2e import coach, evidence_for_alice
from tests.test_debrief_e2e import FULL_ANSWERS, today
from tests.test_feedback_e2e import m, open_modal_by_click

T = TypeVar("T")
FAILURE_WORDS = ("Something went wrong", "error id")
CONCRETE_NOTE = "In Tuesday's outage review she wrote the rollback checklist and walked support through it."


def together(*actions: Callable[[], T], timeout: float = 20) -> list[T]:
    """Run each action on its own thread, all released at once by a barrier; their results in order."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)
    errors: list[BaseException] = []

    def run(index: int, action: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = action()
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, a), daemon=True) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a request never came back"
    if errors:
        raise errors[0]
    return results


def eventually(what: str, check: Callable[[], bool], timeout: float = 10) -> None:
    """Wait for a condition the app reaches after its ack (Slack calls run after it)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def newcomer(slack: FakeSlack, tag: str) -> FakeUser:
    """A person the app has never met."""
    suffix = secrets.token_hex(3).upper()
    user = FakeUser(id=f"U0{tag}{suffix}", name=f"new{suffix.lower()}", real_name=f"New {tag} {suffix}")
    slack.add_user(user)
    return user


def assert_no_failure_shown(
    app: AppProcess, slack: FakeSlack, responses: list[Response], *users: Any
) -> None:
    """Nobody was told something went wrong: not in an ack, not in anything sent to Slack (a
    response_url, a DM, a modal, an ack shown as an ephemeral), not in what ``users`` have in
    front of them, and nothing went wrong in the log."""
    for response in responses:
        assert response.status == 200, (response.status, response.text)
        for word in FAILURE_WORDS:
            assert word not in response.text, response.text
    for call in slack.calls:
        said = json.dumps(call.args, ensure_ascii=False)
        for word in FAILURE_WORDS:
            assert word not in said, call.summary()
    for user in users:
        shown = [*slack.ephemerals(user.id), *slack.messages(user.id), *slack.modal_stack(user.id)]
        for word in FAILURE_WORDS:
            assert word not in json.dumps(shown, ensure_ascii=False), (user.id, shown)
    log = app.log()
    assert " ERROR " not in log and "Traceback" not in log, log[-3000:]


def people_rows(db: Database, user: Any) -> list[Person]:
    with db.transaction() as session:
        return list(session.exec(select(Person).where(Person.slack_user_id == user.id)))


def rows(db: Database, model: Any) -> list[Any]:
    with db.transaction() as session:
        return list(session.exec(select(model)))


def person(db: Database, user: Any) -> Person:
    [row] = people_rows(db, user)
    return row


def dms_with(slack: FakeSlack, user: Any, text: str) -> list[dict[str, Any]]:
    return [msg for msg in slack.messages(user.id) if text in json.dumps(msg, ensure_ascii=False)]


def recorded_as(db: Database, view: dict[str, Any]) -> None:
    """Wait until the app has recorded ``view`` as the form it now shows (``bot.modals``): it
    does so after Slack answers its views.update, a moment after the person sees it."""
    eventually(
        f"{view['id']} recorded as {view['callback_id']}",
        lambda: _owner_callback(db, view["id"]) == view["callback_id"],
    )


def _owner_callback(db: Database, view_id: str) -> str | None:
    with db.transaction() as session:
        record = modals_repo.owner(session, view_id)
        return None if record is None else record.callback_id


# -- (a) first contact --------------------------------------------------------------------------


def first_contact_commands(user: FakeUser) -> list[tuple[str, str]]:
    """What a newcomer types in their first seconds: the brief's five, then the commands that
    open a modal, draft coaching and send a file."""
    return [
        ("/feedback", "mine"),
        ("/feedback", "requests"),
        ("/debrief", "list"),
        ("/growth", "help"),
        ("/feedback", f"request {m(ALICE)} about the launch"),
        ("/debrief", ""),
        ("/feedback", "export"),
        ("/growth", "coach"),
    ]


@pytest.mark.parametrize("size", [3, 8])
def test_a_newcomers_commands_at_once_make_one_person_and_no_error(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database, size: int
) -> None:
    for round_ in range(3):  # each round a person the app has not met
        user = newcomer(slack, f"R{round_}")
        actor = driver.as_user(user.id)
        commands = first_contact_commands(user)[:size]
        texts = [text for _, text in commands]
        answers, opened = len(slack.calls_to("response_url")), slack.call_count("views.open")
        responses = together(*(lambda c=c, t=t, a=actor: a.command(c, t) for c, t in commands))
        assert len(people_rows(db, user)) == 1
        # Each is acknowledged with something to read, but those that open a modal.
        for response, text in zip(responses, texts, strict=True):
            assert bool(response.text) == (text not in ("", "coach")), (text, response.text)

        # What each command does after its ack arrives, and nothing else.
        def said(since: int = answers) -> list[str]:
            return [str(c.args.get("text")) for c in slack.calls_to("response_url")[since:]]

        if "request <@U0ALICE|alice> about the launch" in texts:
            eventually("the request's outcome", lambda s=said: any("Asked *Alice Chen*" in t for t in s()))
        if "" in texts:
            _opened(slack, opened, "new_project")
        if "export" in texts:
            # A file, or (when it ran before any other command had stored something) that there
            # is nothing to send.
            eventually(
                "the export",
                lambda u=user, s=said: len(slack.files(u.id)) == 1 or "nothing stored about you." in str(s()),
            )
        if "coach" in texts:
            drafting = _opened(slack, opened, "coach_drafting")
            # The draft replaces the "drafting…" modal — unless the /debrief modal, opened at the
            # same moment, took its place: then Slack has no such view any more (not_found), and
            # the draft waits for the next /growth coach. Either way, nothing goes wrong.
            [update] = slack.wait_for(
                "views.update", where=lambda c, v=drafting: c.args.get("view_id") == v["id"]
            )
            assert update.ok or update.error == "not_found", update.summary()
        assert_no_failure_shown(app, slack, responses, user)
        # users.info filled the row in afterwards.
        eventually("the profile", lambda user=user: person(db, user).name == user.real_name)
        assert len(people_rows(db, user)) == 1
    with db.transaction() as session:
        asked = list(session.exec(select(FeedbackRequest)))
    assert len(asked) == (3 if size == 8 else 0)


def _opened(slack: FakeSlack, since: int, callback_id: str) -> dict[str, Any]:
    """The modal with ``callback_id`` that a views.open after the first ``since`` opened."""
    calls = slack.wait_for(
        "views.open",
        where=lambda c: (
            c.number > since and c.ok and (c.response or {})["view"]["callback_id"] == callback_id
        ),
    )
    view: dict[str, Any] = (calls[-1].response or {})["view"]
    return view


# -- (b) the App Home opened at the same moment ---------------------------------------------------


def test_opening_the_home_while_commands_run_is_one_person_and_no_error(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    for round_ in range(3):
        user = newcomer(slack, f"H{round_}")
        actor = driver.as_user(user.id)
        responses = together(
            actor.open_home,
            actor.open_home,
            lambda actor=actor: actor.command("/feedback", "mine"),
            lambda actor=actor: actor.command("/feedback", "requests"),
            lambda actor=actor: actor.command("/debrief", "list"),
        )
        mine = lambda c, user=user: c.args.get("user_id") == user.id  # noqa: E731
        slack.wait_for("views.publish", count=2, where=mine)
        assert all(c.ok for c in slack.calls_to("views.publish") if mine(c))
        home = slack.home(user.id)
        assert home is not None and "Your snapshot" in json.dumps(home)
        assert len(people_rows(db, user)) == 1
        eventually("three answers", lambda user=user: len(slack.ephemerals(user.id)) >= 3)
        assert slack.messages(user.id) == []  # nothing told by DM either
        assert_no_failure_shown(app, slack, responses, user)

    # Slack delivering the same event twice at once (a retry that overtakes the first): one Home.
    user = newcomer(slack, "E")
    actor = driver.as_user(user.id)
    event = {"type": "app_home_opened", "user": user.id, "channel": slack.dm_channel(user.id), "tab": "home"}
    responses = together(
        lambda: actor.event(event, event_id="Ev0SAME"),
        lambda: actor.event(event, event_id="Ev0SAME", retry_num=1),
    )
    mine = lambda c: c.args.get("user_id") == user.id  # noqa: E731
    slack.wait_for("views.publish", where=mine)
    # The second was answered by the middleware, before any listener (it says so before its ack).
    assert app.log().count("event Ev0SAME already handled; acknowledging the retry") == 1
    assert len([c for c in slack.calls_to("views.publish") if mine(c)]) == 1
    assert len(people_rows(db, user)) == 1
    assert_no_failure_shown(app, slack, responses, user)


# -- (c) the same request twice at once -----------------------------------------------------------


def test_the_same_request_twice_at_once_asks_once(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    for round_ in range(3):
        # A requester the app has not met either: first contact and the request race together.
        requester = newcomer(slack, f"Q{round_}")
        giver = newcomer(slack, f"G{round_}") if round_ else BOB
        actor = driver.as_user(requester.id)
        text = f"request {m(giver)} about the offsite"
        answers = len(slack.calls_to("response_url"))
        twice = [lambda a=actor, t=text: a.command("/feedback", t)] * 2
        responses = together(*twice)
        outcomes = [
            str(c.args.get("text")) for c in slack.wait_for("response_url", count=answers + 2)[answers:]
        ]
        with db.transaction() as session:
            ids = {p.slack_user_id: p.id for p in session.exec(select(Person))}
            open_requests = list(
                session.exec(
                    select(FeedbackRequest).where(
                        FeedbackRequest.requester_id == ids[requester.id],
                        FeedbackRequest.state == RequestState.OPEN,
                    )
                )
            )
        assert len(open_requests) == 1
        assert len(dms_with(slack, giver, "asks for your feedback")) == 1
        assert sorted(("Asked" in o, "already have an open request" in o) for o in outcomes) == [
            (False, True),
            (True, False),
        ], outcomes
        assert_no_failure_shown(app, slack, responses, requester, giver)


# -- (d) toggles and claims on the App Home -------------------------------------------------------


def home(driver: SlackDriver, slack: FakeSlack, user: Any) -> dict[str, Any]:
    return current_home(driver, slack, user)


def with_buttons(view: dict[str, Any], *action_ids: str) -> dict[str, Any]:
    """The Home as stored, with a row holding every one of ``action_ids`` (as an older Home
    in another window would still show them)."""
    row = {
        "type": "actions",
        "block_id": "older_settings",
        "elements": [
            {"type": "button", "action_id": a, "text": {"type": "plain_text", "text": a}, "value": a}
            for a in action_ids
        ],
    }
    return {**view, "blocks": [*view["blocks"], row]}


def publishes(slack: FakeSlack, user: Any) -> list[Call]:
    return [c for c in slack.calls_to("views.publish") if c.args.get("user_id") == user.id]


def test_settings_pressed_at_once_all_land(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    maya = driver.as_user(MAYA.id)
    view = home(driver, slack, MAYA)
    until = local_date(datetime.now(UTC), MAYA.tz) + timedelta(days=5)
    before = len(publishes(slack, MAYA))
    maya.select(view, "pause_until", until)
    slack.wait_for("views.publish", count=before + 1, where=lambda c: c.args.get("user_id") == MAYA.id)
    assert person(db, MAYA).paused_until == until and person(db, MAYA).digest_enabled

    view = with_buttons(home(driver, slack, MAYA), "digest_off", "resume")
    before = len(publishes(slack, MAYA))
    responses = together(
        lambda: maya.click(view, "digest_off", text="Turn digest off"),
        lambda: maya.click(view, "digest_off", value="digest_off"),
        lambda: maya.click(view, "resume", text="Resume now"),
        lambda: maya.click(view, "resume", value="resume"),
    )
    slack.wait_for("views.publish", count=before + 4, where=lambda c: c.args.get("user_id") == MAYA.id)
    row = person(db, MAYA)
    assert (row.digest_enabled, row.paused_until) == (False, None)
    assert slack.open_modal(MAYA.id) is None  # nothing to tell
    assert_no_failure_shown(app, slack, responses, MAYA)

    view = with_buttons(home(driver, slack, MAYA), "digest_on")
    before = len(publishes(slack, MAYA))
    responses = together(
        lambda: maya.click(view, "digest_on", text="Turn digest on"),
        lambda: maya.click(view, "digest_on", value="digest_on"),
        lambda: maya.click(view, "digest_on", text="Turn digest on"),
    )
    slack.wait_for("views.publish", count=before + 3, where=lambda c: c.args.get("user_id") == MAYA.id)
    assert person(db, MAYA).digest_enabled
    assert_no_failure_shown(app, slack, responses, MAYA)
    # The Home shown at the end is what is stored.
    assert "Weekly digest: *on*" in json.dumps(home(driver, slack, MAYA))


def test_a_manager_claim_confirmed_twice_at_once(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    view = home(driver, slack, MAYA)
    posts = len(slack.calls_to("chat.postMessage"))
    driver.as_user(MAYA.id).select(view, "my_team", [ALICE.id])
    slack.wait_for("chat.postMessage", count=posts + 1)
    claim = slack.last_dm(ALICE.id)
    assert claim is not None and "says you report to them" in json.dumps(claim)
    opened = len(slack.calls_to("views.open"))
    alice = driver.as_user(ALICE.id)
    responses = together(
        lambda: alice.click(claim, "confirm_manager"), lambda: alice.click(claim, "confirm_manager")
    )
    notices = [json.dumps(c.args["view"]) for c in slack.wait_for("views.open", count=opened + 2)[opened:]]
    # The first says so; the second the same, or that the claim is settled (as a second click
    # after the first would hear): never a failure.
    assert any("Maya Okafor is now your manager." in n for n in notices), notices
    assert all("is now your manager." in n or "no longer pending" in n for n in notices), notices
    assert person(db, ALICE).manager_id == person(db, MAYA).id
    assert person(db, ALICE).pending_manager_id is None
    assert_no_failure_shown(app, slack, responses, ALICE, MAYA)


def test_nudge_double_clicked_at_once_nudges_once(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    maya = driver.as_user(MAYA.id)
    answers = len(slack.calls_to("response_url"))
    maya.command("/feedback", f"request {m(BOB)} about the audit")
    assert "Asked *Bob Müller*" in str(slack.wait_for("response_url", count=answers + 1)[-1].args["text"])
    with db.transaction() as session:  # asked two days ago: a nudge is due
        request = session.exec(select(FeedbackRequest)).one()
        request.created_at = request.created_at - timedelta(days=2)
        session.add(request)
    listing = maya.command("/feedback", "requests").json()
    container = {"channel": "C0GENERAL", "ts": "1.1", "blocks": listing["blocks"]}
    opened = len(slack.calls_to("views.open"))
    responses = together(
        lambda: maya.click(container, "nudge_request"), lambda: maya.click(container, "nudge_request")
    )
    notices = [
        json.dumps(c.args["view"], ensure_ascii=False)
        for c in slack.wait_for("views.open", count=opened + 2)[opened:]
    ]
    assert sorted(("Nudged Bob Müller" in n, "once a day" in n) for n in notices) == [
        (False, True),
        (True, False),
    ], notices
    assert len(dms_with(slack, BOB, "would still value")) == 1
    with db.transaction() as session:
        assert len([o for o in session.exec(select(OutboxMessage)) if o.kind.value == "request_nudge"]) == 1
    assert_no_failure_shown(app, slack, responses, MAYA, BOB)


# -- (e) the same modal submitted twice at once ----------------------------------------------------


def test_the_feedback_form_submitted_twice_at_once_stores_one_answer(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    values = {**FULL_ANSWERS, "What went well": CONCRETE_NOTE}
    # Given unasked, by someone the app meets for the first time.
    giver = newcomer(slack, "F")
    opened = len(slack.calls_to("views.open"))
    driver.as_user(giver.id).command("/feedback", f"give {m(MAYA)} about the launch")
    slack.wait_for("views.open", count=opened + 1)
    form = slack.open_modal(giver.id)
    assert form is not None and form["callback_id"] == "feedback_form"
    actor = driver.as_user(giver.id)
    responses = together(lambda: actor.submit(form, values), lambda: actor.submit(form, values))
    assert [r.text for r in responses] == ["", ""]
    assert len(rows(db, Feedback)) == 1

    # Answering a request: one answer, one notice to the requester, one DM update.
    answers = len(slack.calls_to("response_url"))
    driver.as_user(MAYA.id).command("/feedback", f"request {m(ALICE)} about the audit")
    slack.wait_for("response_url", count=answers + 1)
    alice_dm = slack.last_dm(ALICE.id)
    assert alice_dm is not None
    form = open_modal_by_click(driver, slack, ALICE, alice_dm, "give_feedback")
    alice = driver.as_user(ALICE.id)
    to_maya = lambda c: c.args.get("channel") == slack.dm_channel(MAYA.id)  # noqa: E731
    responses += together(lambda: alice.submit(form, values), lambda: alice.submit(form, values))
    slack.wait_for("chat.postMessage", where=to_maya)
    slack.wait_for("chat.update", where=lambda c: c.args.get("channel") == slack.dm_channel(ALICE.id))
    assert len(rows(db, Feedback)) == 2
    assert [r.state for r in rows(db, FeedbackRequest)] == [RequestState.ANSWERED]
    # The notice is sent from the outbox exactly once, whichever submission got there first.
    with db.transaction() as session:
        notices = [o for o in session.exec(select(OutboxMessage)) if o.kind.value == "request_answered"]
    assert len(notices) == 1
    assert len(dms_with(slack, MAYA, "answered your feedback request")) == 1
    assert_no_failure_shown(app, slack, responses, giver, ALICE, MAYA)


def test_the_new_project_form_submitted_twice_at_once_makes_one_project(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    lead = newcomer(slack, "P")
    actor = driver.as_user(lead.id)
    opened = len(slack.calls_to("views.open"))
    assert actor.command("/debrief").status == 200
    slack.wait_for("views.open", count=opened + 1)
    modal = slack.open_modal(lead.id)
    assert modal is not None and modal["callback_id"] == "new_project"
    answers = {
        "Project name": "Apollo",
        "Team members": [ALICE.id, BOB.id],
        "End date": today(),
        "Run the debrief": "1",
        "Do members give feedback on the lead?": "none",
    }
    responses = together(
        lambda: actor.submit(modal, answers, strict=False), lambda: actor.submit(modal, answers, strict=False)
    )
    assert [r.json()["response_action"] for r in responses] == ["update", "update"], [
        r.text for r in responses
    ]
    assert all("Apollo" in json.dumps(r.json()["view"]) for r in responses)
    assert [p.name for p in rows(db, Project)] == ["Apollo"]
    assert_no_failure_shown(app, slack, responses, lead)


def test_a_decline_submitted_twice_at_once_tells_once(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    answers = len(slack.calls_to("response_url"))
    driver.as_user(MAYA.id).command("/feedback", f"request {m(BOB)} about the audit")
    slack.wait_for("response_url", count=answers + 1)
    bob_dm = slack.last_dm(BOB.id)
    assert bob_dm is not None
    form = open_modal_by_click(driver, slack, BOB, bob_dm, "decline_request")
    bob = driver.as_user(BOB.id)
    values = {"A reason for them (optional)": "On leave until the audit is over."}
    responses = together(lambda: bob.submit(form, values), lambda: bob.submit(form, values))
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("channel") == slack.dm_channel(MAYA.id))
    assert [r.state for r in rows(db, FeedbackRequest)] == [RequestState.DECLINED]
    eventually("the DM update", lambda: "declined" in json.dumps(slack.last_dm(BOB.id) or {}).lower())
    assert len(dms_with(slack, MAYA, "can't give feedback")) == 1
    assert_no_failure_shown(app, slack, responses, BOB, MAYA)


def test_coaching_shared_twice_at_once_is_sent_once(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    evidence_for_alice(driver, slack, db)
    draft = coach(driver, slack, MAYA, m(ALICE))
    recorded_as(db, draft)
    maya = driver.as_user(MAYA.id)
    same_modal = lambda c: c.args.get("view_id") == draft["id"]  # noqa: E731
    updates = len([c for c in slack.calls_to("views.update") if same_modal(c)])
    responses = together(lambda: maya.submit(draft, {}), lambda: maya.submit(draft, {}))
    assert [r.json()["response_action"] for r in responses] == ["update", "update"]
    results = [
        json.dumps(c.args["view"], ensure_ascii=False)
        for c in slack.wait_for("views.update", count=updates + 2, where=same_modal)[updates:]
    ]
    assert all("Shared with Alice Chen" in r for r in results), results
    assert len(dms_with(slack, ALICE, "shared coaching with you")) == 1
    assert [d.state for d in rows(db, CoachingDraft)] == [DraftState.SHARED]
    assert_no_failure_shown(app, slack, responses, MAYA, ALICE)


# -- what the App Home shows after two settings at once -------------------------------------------


def test_a_home_rendered_before_a_concurrent_change_does_not_overwrite_the_newer_one(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    maya = driver.as_user(MAYA.id)
    view = home(driver, slack, MAYA)
    until = local_date(datetime.now(UTC), MAYA.tz) + timedelta(days=5)
    before = len(publishes(slack, MAYA))
    maya.select(view, "pause_until", until)
    slack.wait_for("views.publish", count=before + 1, where=lambda c: c.args.get("user_id") == MAYA.id)
    paused = f"paused until *{until:%a %d %b}*"
    assert paused in json.dumps(slack.home(MAYA.id))
    view = slack.home(MAYA.id)
    assert view is not None

    # "Turn digest off", then "Resume now" a moment later: the first Home (rendered while still
    # paused) is slower on its way to Slack than the second, as two requests in flight can be.
    held, release = threading.Event(), threading.Event()

    def slow(_: Call) -> None:
        held.set()
        release.wait(10)

    slack.on_call("views.publish", slack.call_count("views.publish") + 1, slow, when="received")
    shown = len(publishes(slack, MAYA))
    responses = [maya.click(view, "digest_off")]
    assert held.wait(5), "the first Home was never published"
    responses.append(maya.click(view, "resume"))
    # The second Home may overtake the held one (that is the race), or wait its turn behind it:
    # publishes for one person go one at a time.
    with contextlib.suppress(AssertionError):
        slack.wait_for(
            "views.publish", count=shown + 1, where=lambda c: c.args.get("user_id") == MAYA.id, timeout=1
        )
    release.set()
    slack.wait_for("views.publish", count=shown + 2, where=lambda c: c.args.get("user_id") == MAYA.id)
    row = person(db, MAYA)
    assert (row.digest_enabled, row.paused_until) == (False, None)
    assert_no_failure_shown(app, slack, responses, MAYA)
    # What Maya sees is what is stored: not paused, digest off.
    shows = lambda: json.dumps(slack.home(MAYA.id), ensure_ascii=False)  # noqa: E731
    try:
        eventually("the Home to show what is stored", lambda: paused not in shows(), timeout=1)
    except AssertionError:
        raise AssertionError(f"the Home still says {paused!r} after Resume") from None
    assert "Weekly digest: *off*" in shows()


def test_a_draft_shared_before_slack_answers_its_update_is_not_refused(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    evidence_for_alice(driver, slack, db)
    # Slack applies the update that turns "drafting…" into the draft at once (Maya sees it) but
    # its answer to the app takes a second, as under load.
    slack.answer_late("views.update", delay=1.5)
    opened = slack.call_count("views.open")
    assert driver.as_user(MAYA.id).command("/coach", m(ALICE)).status == 200
    drafting = _opened(slack, opened, "coach_drafting")
    slack.wait_for("views.update", where=lambda c: c.args.get("view_id") == drafting["id"])
    draft = slack.view(drafting["id"])
    assert draft is not None and draft["callback_id"] == "coach_draft"
    response = driver.as_user(MAYA.id).submit(draft, {})
    assert "not yours" not in response.text, response.text
    assert response.json()["response_action"] == "update" and "Sharing with Alice Chen" in response.text
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("channel") == slack.dm_channel(ALICE.id))
