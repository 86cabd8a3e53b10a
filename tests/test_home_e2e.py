"""The App Home: its blocks validated and counted, "My team" with the report's consent,
requests for a report, vacation and the digest setting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.errors import NotAllowed
from bot.feedback.anonymity import release_slot
from bot.home.service import TEAM_PICKER_MAX, HomeService
from bot.outbox import Outbox
from bot.people.org_chart import OrgService
from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack, FakeUser
from bot.timekeeping import local_date
from handlers.ids import BlockId
from storage.db import Database
from storage.models import FeedbackRequest, Person
from storage.repositories import people as people_repo
from tests.harness import ALICE, BOB, CAROL, MAYA, AppProcess, current_home
from tests.test_debrief_e2e import FULL_ANSWERS, shown
from tests.test_feedback_e2e import give, m, open_modal_by_click, request
from tests.test_operator_failures import wait_for_log


def home(driver: SlackDriver, slack: FakeSlack, user: Any, showing: str | None = None) -> dict[str, Any]:
    return current_home(driver, slack, user, showing)


def publishes(slack: FakeSlack, user: Any) -> int:
    return len([c for c in slack.calls_to("views.publish") if c.args.get("user_id") == user.id])


def republished(slack: FakeSlack, user: Any, count: int) -> str:
    """The user's Home once it has been published ``count`` times, with no tab opened."""
    slack.wait_for("views.publish", count=count, where=lambda c: c.args.get("user_id") == user.id)
    return json.dumps(slack.home(user.id), ensure_ascii=False)


def after(slack: FakeSlack, method: str, action: Any) -> None:
    before = len(slack.calls_to(method))
    action()
    slack.wait_for(method, count=before + 1)


def published_after(slack: FakeSlack, user: Any, action: Any) -> None:
    """Do ``action`` and wait for the user's own Home: others' Homes may be republished too."""
    before = publishes(slack, user)
    action()
    republished(slack, user, before + 1)


def ask_for_report(
    driver: SlackDriver, slack: FakeSlack, user: Any, modal: dict[str, Any], values: dict[str, Any]
) -> tuple[float, str]:
    """Submit "Request feedback" for a report: the time the ack took, and the outcome modal
    that replaces the "Asking…" one afterwards (by views.update on the same view)."""
    response = driver.as_user(user.id).submit(modal, values)
    body = response.json()
    assert body["response_action"] == "update" and "Asking" in json.dumps(body["view"]), body
    update = slack.wait_for("views.update", where=lambda c: c.args.get("view_id") == modal["id"])[-1]
    view = update.args["view"]
    return response.elapsed, json.dumps(
        json.loads(view) if isinstance(view, str) else view, ensure_ascii=False
    )


def person(db: Database, user: Any) -> Person:
    with db.transaction() as session:
        return session.exec(select(Person).where(Person.slack_user_id == user.id)).one()


def test_home_shows_the_snapshot_and_is_valid(app: AppProcess, driver: SlackDriver, slack: FakeSlack) -> None:
    give(driver, slack, ALICE, MAYA, anonymous=False)
    view = home(driver, slack, MAYA)
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Your snapshot" in text and "Quality: not enough evidence yet (1 from 1 person)" in text
    give(driver, slack, BOB, MAYA, anonymous=False)
    shown = home(driver, slack, MAYA, showing="Quality: 4.0 · 2 ratings from 2 people")
    text = json.dumps(shown["blocks"], ensure_ascii=False)
    assert "Quality: 4.0 · 2 ratings from 2 people" in text
    assert "Latest feedback you received" in text and "Alice Chen" in text
    assert len(view["blocks"]) <= 100 and slack.invalid_calls() == []


def test_my_team_needs_the_reports_consent(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give(driver, slack, CAROL, ALICE, anonymous=False, notes="Carol about Alice: she chaired the retro.")
    view = home(driver, slack, MAYA)
    published_after(slack, MAYA, lambda: driver.as_user(MAYA.id).select(view, "my_team", [ALICE.id, BOB.id]))
    assert person(db, ALICE).pending_manager_id == person(db, MAYA).id
    assert person(db, ALICE).manager_id is None
    claim = slack.last_dm(ALICE.id)
    assert claim is not None and "says you report to them" in json.dumps(claim["blocks"])
    # Before Alice confirms, Maya sees nothing of hers.
    maya_home = json.dumps(slack.home(MAYA.id), ensure_ascii=False)
    assert "Waiting for confirmation: Alice Chen, Bob Müller" in maya_home
    assert "Carol about Alice" not in maya_home and "Request feedback" not in maya_home

    after(slack, "views.open", lambda: driver.as_user(ALICE.id).click(claim, "confirm_manager"))
    assert person(db, ALICE).manager_id == person(db, MAYA).id
    bob_claim = slack.last_dm(BOB.id)
    assert bob_claim is not None
    after(slack, "views.open", lambda: driver.as_user(BOB.id).click(bob_claim, "reject_manager"))
    assert person(db, BOB).pending_manager_id is None and person(db, BOB).manager_id is None

    # Now Maya sees Alice's row, and can ask for feedback about her.
    maya_home_view = home(driver, slack, MAYA)
    assert "Alice Chen" in json.dumps(maya_home_view["blocks"]) and "Request feedback" in json.dumps(
        maya_home_view["blocks"]
    )
    after(slack, "views.open", lambda: driver.as_user(MAYA.id).click(maya_home_view, "request_for_report"))
    modal = slack.open_modal(MAYA.id)
    assert modal is not None
    _, outcome = ask_for_report(driver, slack, MAYA, modal, {"Whom to ask": [CAROL.id], "About": "the audit"})
    assert "Asked *Carol" in outcome
    carol_dm = slack.last_dm(CAROL.id)
    assert carol_dm is not None
    assert "*Maya Okafor* asks for your feedback about *Alice Chen* on *the audit*" in json.dumps(
        carol_dm["blocks"]
    )
    with db.transaction() as session:
        req = session.exec(select(FeedbackRequest)).one()
    assert req.subject_id == person(db, ALICE).id and req.requester_id == person(db, MAYA).id

    # Carol (not anyone's manager) cannot use the report button with Alice's id.
    after(slack, "views.open", lambda: driver.as_user(CAROL.id).click(maya_home_view, "request_for_report"))
    notice = slack.open_modal(CAROL.id)
    assert notice is not None and "do not report to you" in json.dumps(notice["blocks"])
    # Taking Alice off the team removes the link at once.
    view = home(driver, slack, MAYA)
    published_after(slack, MAYA, lambda: driver.as_user(MAYA.id).select(view, "my_team", []))
    assert person(db, ALICE).manager_id is None


def test_pause_and_digest_settings(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    today = local_date(datetime.now(UTC), MAYA.tz)
    view = home(driver, slack, MAYA)
    until = today + timedelta(days=5)
    published_after(slack, MAYA, lambda: driver.as_user(MAYA.id).select(view, "pause_until", until))
    assert person(db, MAYA).paused_until == until
    assert f"paused until *{until:%a %d %b}*" in json.dumps(slack.home(MAYA.id))
    text = request(driver, slack, ALICE, f"request {m(MAYA)}")
    assert f"*Maya Okafor*: they are away until {until:%a %d %b}" in text
    # A day in the past, or too far ahead, is refused with the reason.
    for bad, reason in (
        (today - timedelta(days=1), "from today on"),
        (today + timedelta(days=91), "at most 90"),
    ):
        seen = publishes(slack, MAYA)
        after(slack, "views.open", lambda bad=bad: driver.as_user(MAYA.id).select(view, "pause_until", bad))
        notice = slack.open_modal(MAYA.id)
        assert notice is not None and reason in json.dumps(notice["blocks"])
        republished(slack, MAYA, seen + 1)  # after the notice: or it would count as the next one
    assert person(db, MAYA).paused_until == until
    published_after(slack, MAYA, lambda: driver.as_user(MAYA.id).click(view, "resume"))
    assert person(db, MAYA).paused_until is None

    assert person(db, MAYA).digest_enabled
    published_after(slack, MAYA, lambda: driver.as_user(MAYA.id).click(view, "digest_off"))
    assert not person(db, MAYA).digest_enabled
    assert "Weekly digest: *off*" in json.dumps(slack.home(MAYA.id))


def test_a_busy_home_stays_within_100_blocks(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    colleagues = [FakeUser(id=f"U0C{i:03d}", name=f"c{i}", real_name=f"Colleague {i}") for i in range(20)]
    for colleague in colleagues:
        slack.add_user(colleague)
    for colleague in colleagues[:12]:  # twelve people ask Maya for feedback
        request(driver, slack, colleague, f"request {m(MAYA)}")
    request(driver, slack, MAYA, "request " + " ".join(m(c) for c in colleagues[:10]))
    maya = person(db, MAYA)
    for colleague in colleagues[12:]:  # first contact: the rest exist too
        assert "Nothing yet" in shown(driver.as_user(colleague.id).command("/feedback", "mine"))
    with db.transaction() as session:  # twenty people report to Maya (as an admin import would set)
        for colleague in colleagues:
            row = session.exec(select(Person).where(Person.slack_user_id == colleague.id)).one()
            row.manager_id = maya.id
            session.add(row)
    view = home(driver, slack, MAYA)
    assert [b for b in view["blocks"] if b.get("block_id") == BlockId.SETTINGS]  # the end is never cut
    text = json.dumps(view["blocks"])
    assert "Waiting for your feedback* (12)" in text and "More in `/feedback requests`" in text
    assert "8 more people report to you" in text
    assert slack.invalid_calls() == []
    assert "Colleague 0" in shown(driver.as_user(MAYA.id).command("/feedback", "requests"))


def test_a_team_bigger_than_the_picker_keeps_the_people_not_in_it(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    view = home(driver, slack, MAYA)  # Maya exists
    team = [FakeUser(id=f"U0T{i:03d}", name=f"t{i}", real_name=f"Teammate {i:03d}") for i in range(55)]
    with db.transaction() as session:  # a CSV import made 55 people report to Maya
        maya_id = person(db, MAYA).id
        for user in team:
            slack.add_user(user)
            row = people_repo.upsert(
                session,
                slack_user_id=user.id,
                name=user.real_name,
                tz="UTC",
                is_bot=False,
                deleted=False,
                refreshed_at=datetime.now(UTC),
            )
            row.manager_id = maya_id
            session.add(row)
    view = home(driver, slack, MAYA)
    assert slack.invalid_calls() == []
    picker = next(b for b in view["blocks"] if b.get("block_id") == BlockId.TEAM)["elements"][0]
    shown_ids = picker["initial_users"]
    assert shown_ids == [u.id for u in team[:TEAM_PICKER_MAX]]
    assert "the other 5 on your team are managed by the org chart import" in json.dumps(view["blocks"])
    # Maya takes one person out of the picker: only that one leaves; the five not in it stay.
    published_after(slack, MAYA, lambda: driver.as_user(MAYA.id).select(view, "my_team", shown_ids[1:]))
    with db.transaction() as session:
        managed = {p.slack_user_id for p in session.exec(select(Person).where(Person.manager_id == maya_id))}
    assert managed == {u.id for u in team[1:]}


def test_homes_follow_requests_and_answers_without_opening_the_tab(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack
) -> None:
    assert "Asked *Maya Okafor*" in request(driver, slack, ALICE, f"request {m(MAYA)} about the launch")
    assert not [c for c in slack.calls if c.method == "views.publish" and "app_home_opened" in str(c.args)]
    maya_home = republished(slack, MAYA, 1)  # Maya never opened the tab
    assert "Waiting for your feedback* (1)" in maya_home and "*Alice Chen* on *the launch*" in maya_home
    alice_home = republished(slack, ALICE, 1)
    assert "Your open requests* (1)" in alice_home and "*Maya Okafor* on *the launch*" in alice_home

    # Maya answers from her Home, with her name: both Homes follow.
    before = publishes(slack, MAYA), publishes(slack, ALICE)
    view = slack.home(MAYA.id)
    assert view is not None
    form = open_modal_by_click(driver, slack, MAYA, view, "give_feedback")
    assert driver.as_user(MAYA.id).submit(form, FULL_ANSWERS).status == 200
    alice_home = republished(slack, ALICE, before[1] + 1)
    assert "Your open requests* (0)" in alice_home and "on *the launch* · asked" not in alice_home
    assert "Latest feedback you received" in alice_home and "*Maya Okafor* · on request" in alice_home
    assert "Waiting for your feedback* (0)" in republished(slack, MAYA, before[0] + 1)
    assert slack.invalid_calls() == []


def test_a_failed_republish_is_logged_and_never_shown(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack
) -> None:
    slack.fail_next("views.publish", error="internal_error", times=2)  # Alice's and Maya's
    assert "Asked *Maya Okafor*" in request(driver, slack, ALICE, f"request {m(MAYA)}")
    slack.wait_for("views.publish", count=2)
    assert [c for c in slack.calls_to("views.publish") if c.ok] == []
    dm = slack.last_dm(MAYA.id)
    assert dm is not None and "asks for your feedback" in json.dumps(dm["blocks"])
    assert "Something went wrong" not in json.dumps(slack.ephemerals(ALICE.id))
    # Each Home is refreshed on its own (bot.home.service): the line may follow Slack's answer.
    log = wait_for_log(app, "could not republish an App Home: SlackApiError internal_error")
    assert MAYA.id not in next(line for line in log.splitlines() if "republish" in line)
    # The next open publishes as usual.
    assert "Waiting for your feedback* (1)" in json.dumps(home(driver, slack, MAYA)["blocks"])


def test_a_manager_reads_a_reports_feedback_from_the_home(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give(driver, slack, CAROL, ALICE, anonymous=False, notes="Carol about Alice: she chaired the retro.")
    give(driver, slack, BOB, ALICE, anonymous=True, notes="An anonymous word: she shared the credit.")
    give(driver, slack, MAYA, BOB, anonymous=False)  # Maya exists
    # Bob's anonymous answer is held until a batch holds three people's: Carol and Maya add theirs.
    give(driver, slack, CAROL, ALICE, anonymous=True, notes="An anonymous second word on Alice.")
    give(driver, slack, MAYA, ALICE, anonymous=True, notes="Maya's own anonymous word on Alice.")
    assert "anonymous feedback released: 3" in app.tick(
        release_slot(datetime.now(UTC) + timedelta(days=1), ALICE.tz)
    )
    maya = person(db, MAYA)
    with db.transaction() as session:  # Alice reports to Maya (confirmed)
        row = session.exec(select(Person).where(Person.slack_user_id == ALICE.id)).one()
        row.manager_id = maya.id
        session.add(row)
    alice_id = str(person(db, ALICE).id)
    view = home(driver, slack, MAYA)
    report_row = next(b for b in view["blocks"] if b.get("block_id") == f"report_{alice_id}")
    buttons = {e["action_id"]: e["value"] for e in report_row["elements"]}
    assert buttons == {
        "request_for_report": alice_id,
        "view_report_feedback": alice_id,
        "draft_coaching": alice_id,
    }

    modal = open_modal_by_click(driver, slack, MAYA, view, "view_report_feedback", alice_id)
    text = json.dumps(modal["blocks"], ensure_ascii=False)
    assert modal["callback_id"] == "report_feedback" and "Feedback about Alice Chen" in text
    assert "*Carol &lt;b&gt;Díaz&lt;/b&gt;* · given unasked" in text and "she chaired the retro" in text
    assert "_anonymous_" in text and "Bob" not in text and "she shared the credit" in text
    assert slack.invalid_calls() == []

    # Carol, who manages nobody, gets a refusal for the same button with Alice's id.
    notice = open_modal_by_click(driver, slack, CAROL, view, "view_report_feedback", alice_id)
    text = json.dumps(notice["blocks"], ensure_ascii=False)
    assert "do not report to you" in text and "chaired" not in text

    # Asked about Alice, Maya is pointed to this button, not to /feedback mine.
    modal = open_modal_by_click(driver, slack, MAYA, view, "request_for_report", alice_id)
    _, outcome = ask_for_report(driver, slack, MAYA, modal, {"Whom to ask": [CAROL.id]})
    assert "Asked *Carol" in outcome
    assert "Waiting for your feedback* (1)" in republished(slack, CAROL, 1)  # after that ack
    carol_dm = slack.last_dm(CAROL.id)
    assert carol_dm is not None
    form = open_modal_by_click(driver, slack, CAROL, carol_dm, "give_feedback")
    posts = len(slack.calls_to("chat.postMessage"))
    assert driver.as_user(CAROL.id).submit(form, FULL_ANSWERS).status == 200
    notice_call = slack.wait_for("chat.postMessage", count=posts + 1)[-1]
    assert notice_call.args["channel"] == slack.dm_channel(MAYA.id)
    body = json.dumps(notice_call.args["blocks"], ensure_ascii=False)
    assert "*View feedback* beside *Alice Chen* on the App Home" in body and "/feedback mine" not in body


def test_asking_about_a_report_acks_before_slack_is_asked(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    newcomer = FakeUser(id="U0NEWBIE", name="newbie", real_name="Nadia New", tz="Europe/Paris")
    slack.add_user(newcomer)
    give(driver, slack, MAYA, BOB, anonymous=False)  # Maya exists
    give(driver, slack, ALICE, BOB, anonymous=False)  # Alice exists
    with db.transaction() as session:  # Alice reports to Maya (confirmed)
        row = session.exec(select(Person).where(Person.slack_user_id == ALICE.id)).one()
        row.manager_id = person(db, MAYA).id
        session.add(row)
    alice_id = str(person(db, ALICE).id)
    view = home(driver, slack, MAYA)
    modal = open_modal_by_click(driver, slack, MAYA, view, "request_for_report", alice_id)
    # Nadia is new: asking her starts with users.info, which waits out a 429 of 2 s.
    slack.fail_next("users.info", status=429, retry_after=2)
    elapsed, outcome = ask_for_report(driver, slack, MAYA, modal, {"Whom to ask": [newcomer.id]})
    assert elapsed < 1.5, elapsed
    assert "Asked *Nadia New*" in outcome
    assert slack.last_dm(newcomer.id) is not None and slack.invalid_calls() == []

    # What is refused without Slack is refused in the ack: Alice no longer reports to Maya.
    modal = open_modal_by_click(driver, slack, MAYA, view, "request_for_report", alice_id)
    with db.transaction() as session:
        row = session.exec(select(Person).where(Person.slack_user_id == ALICE.id)).one()
        row.manager_id = None
        session.add(row)
    refused = driver.as_user(MAYA.id).submit(modal, {"Whom to ask": [CAROL.id]}).json()
    assert refused["response_action"] == "update"
    assert "someone who reports to you" in json.dumps(refused["view"])
    assert slack.last_dm(CAROL.id) is None


def test_a_claim_that_would_close_a_cycle_is_refused(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    # Maya manages Alice, confirmed by Alice; Maya's Home follows without her opening it.
    view = home(driver, slack, MAYA)
    published_after(slack, MAYA, lambda: driver.as_user(MAYA.id).select(view, "my_team", [ALICE.id]))
    to_alice = lambda c: c.ok and c.args["channel"] == slack.dm_channel(ALICE.id)  # noqa: E731
    slack.wait_for("chat.postMessage", where=to_alice)
    claim = slack.last_dm(ALICE.id)
    assert claim is not None
    seen = publishes(slack, MAYA)
    after(slack, "views.open", lambda: driver.as_user(ALICE.id).click(claim, "confirm_manager"))
    assert person(db, ALICE).manager_id == person(db, MAYA).id
    assert "View feedback" in republished(slack, MAYA, seen + 1)

    # Alice adds Maya to her team; Maya confirming would make each the other's manager.
    alice_view = home(driver, slack, ALICE)
    driver.as_user(ALICE.id).select(alice_view, "my_team", [MAYA.id])
    to_maya = lambda c: c.ok and c.args["channel"] == slack.dm_channel(MAYA.id)  # noqa: E731
    slack.wait_for("chat.postMessage", where=to_maya)  # the claim's DM: the exact event, not any Home
    assert person(db, MAYA).pending_manager_id == person(db, ALICE).id
    maya_claim = slack.last_dm(MAYA.id)
    assert maya_claim is not None and "says you report to them" in json.dumps(maya_claim["blocks"])
    notice = open_modal_by_click(driver, slack, MAYA, maya_claim, "confirm_manager")
    text = json.dumps(notice["blocks"], ensure_ascii=False)
    assert "Alice Chen already reports to Maya Okafor, directly or through others" in text
    # Nothing changed: Alice still reports to Maya, Maya to nobody; the claim waits to be rejected.
    assert person(db, ALICE).manager_id == person(db, MAYA).id
    assert person(db, MAYA).manager_id is None
    assert person(db, MAYA).pending_manager_id == person(db, ALICE).id


def test_a_claim_withdrawn_while_being_confirmed_is_refused(db: Database) -> None:
    """The race in answer_claim: the claim is checked, then withdrawn, then the confirmation
    lands. The org chart change itself must see that it is no longer pending."""
    with db.transaction() as session:
        maya = people_repo.upsert(
            session,
            slack_user_id=MAYA.id,
            name="Maya",
            tz="UTC",
            is_bot=False,
            deleted=False,
            refreshed_at=datetime.now(UTC),
        )
        alice = people_repo.upsert(
            session,
            slack_user_id=ALICE.id,
            name="Alice",
            tz="UTC",
            is_bot=False,
            deleted=False,
            refreshed_at=datetime.now(UTC),
        )
        alice.pending_manager_id = maya.id
        maya_id, alice_id = maya.id, alice.id
    assert maya_id is not None and alice_id is not None

    class WithdrawnMeanwhile(OrgService):
        def assign_manager(self, **kwargs: Any) -> None:
            with db.transaction() as session:  # Maya takes Alice off "My team" just now
                row = session.get(Person, alice_id)
                assert row is not None
                row.pending_manager_id = None
                session.add(row)
            super().assign_manager(**kwargs)

    clock = lambda: datetime.now(UTC)  # noqa: E731
    unused: Any = None  # no Slack, no views: the claim fails before either is needed
    org = WithdrawnMeanwhile(db, unused, unused, clock)
    service = HomeService(
        db=db,
        gateway=unused,
        people=unused,
        outbox=Outbox(db, unused, clock),
        reading=unused,
        debriefs=unused,
        org=org,
        views=unused,
        clock=clock,
        background=unused,
    )
    with pytest.raises(NotAllowed, match="no longer pending"):
        service.answer_claim(ALICE.id, maya_id, accept=True)
    assert person(db, ALICE).manager_id is None
    # A claim still pending goes through.
    with db.transaction() as session:
        row = session.get(Person, alice_id)
        assert row is not None
        row.pending_manager_id = maya_id
        session.add(row)
    OrgService(db, unused, unused, clock).assign_manager(
        person_id=alice_id, manager_id=maya_id, claimed_by=maya_id
    )
    assert person(db, ALICE).manager_id == maya_id and person(db, ALICE).pending_manager_id is None


def test_leaving_the_programme_republishes_the_homes_it_changes(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack
) -> None:
    request(driver, slack, MAYA, f"request {m(ALICE)} about the audit")
    assert "Your open requests* (1)" in republished(slack, MAYA, 1)
    seen = publishes(slack, MAYA)
    opened = len(slack.calls_to("views.open"))
    driver.as_user(ALICE.id).command("/feedback", "delete")
    slack.wait_for("views.open", count=opened + 1)
    confirm = slack.open_modal(ALICE.id)
    assert confirm is not None and confirm["callback_id"] == "confirm_delete"
    response = driver.as_user(ALICE.id).submit(confirm)
    assert "You have left the feedback programme" in json.dumps(response.json())
    # Maya's request to Alice is closed: her Home says so without her opening it.
    assert "Your open requests* (0)" in republished(slack, MAYA, seen + 1)
