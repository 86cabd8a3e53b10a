"""The App Home: its blocks validated and counted, "My team" with the report's consent,
requests for a report, vacation and the digest setting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

from bot.schedule import local_date
from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack, FakeUser
from storage.db import Database
from storage.models import FeedbackRequest, Person
from tests.harness import ALICE, BOB, CAROL, MAYA, AppProcess
from tests.test_debrief_e2e import shown
from tests.test_feedback_e2e import give, m, request


def home(driver: SlackDriver, slack: FakeSlack, user: Any) -> dict[str, Any]:
    before = len(slack.calls_to("views.publish"))
    driver.as_user(user.id).open_home()
    slack.wait_for("views.publish", count=before + 1)
    view = slack.home(user.id)
    assert view is not None
    return view


def after(slack: FakeSlack, method: str, action: Any) -> None:
    before = len(slack.calls_to(method))
    action()
    slack.wait_for(method, count=before + 1)


def person(db: Database, user: Any) -> Person:
    with db.transaction() as session:
        return session.exec(select(Person).where(Person.slack_user_id == user.id)).one()


def test_home_shows_the_snapshot_and_is_valid(app: AppProcess, driver: SlackDriver, slack: FakeSlack) -> None:
    give(driver, slack, ALICE, MAYA, anonymous=False)
    view = home(driver, slack, MAYA)
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Your snapshot" in text and "Quality: not enough evidence yet (1 from 1 person)" in text
    give(driver, slack, BOB, MAYA, anonymous=False)
    text = json.dumps(home(driver, slack, MAYA)["blocks"], ensure_ascii=False)
    assert "Quality: 4.0 · 2 ratings from 2 people" in text
    assert "Latest feedback you received" in text and "Alice Chen" in text
    assert len(view["blocks"]) <= 100 and slack.invalid_calls() == []


def test_my_team_needs_the_reports_consent(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give(driver, slack, CAROL, ALICE, anonymous=False, notes="Carol about Alice")
    view = home(driver, slack, MAYA)
    after(slack, "views.publish", lambda: driver.as_user(MAYA.id).select(view, "my_team", [ALICE.id, BOB.id]))
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
    response = driver.as_user(MAYA.id).submit(modal, {"Whom to ask": [CAROL.id], "About": "the audit"})
    assert "Asked *Carol" in json.dumps(response.json())
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
    after(slack, "views.publish", lambda: driver.as_user(MAYA.id).select(view, "my_team", []))
    assert person(db, ALICE).manager_id is None


def test_pause_and_digest_settings(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    today = local_date(datetime.now(UTC), MAYA.tz)
    view = home(driver, slack, MAYA)
    until = today + timedelta(days=5)
    after(slack, "views.publish", lambda: driver.as_user(MAYA.id).select(view, "pause_until", until))
    assert person(db, MAYA).paused_until == until
    assert f"paused until *{until:%a %d %b}*" in json.dumps(slack.home(MAYA.id))
    text = request(driver, slack, ALICE, f"request {m(MAYA)}")
    assert f"*Maya Okafor*: they are away until {until:%a %d %b}" in text
    # A day in the past, or too far ahead, is refused with the reason.
    for bad, reason in (
        (today - timedelta(days=1), "from today on"),
        (today + timedelta(days=91), "at most 90"),
    ):
        after(slack, "views.open", lambda bad=bad: driver.as_user(MAYA.id).select(view, "pause_until", bad))
        notice = slack.open_modal(MAYA.id)
        assert notice is not None and reason in json.dumps(notice["blocks"])
    assert person(db, MAYA).paused_until == until
    after(slack, "views.publish", lambda: driver.as_user(MAYA.id).click(view, "resume"))
    assert person(db, MAYA).paused_until is None

    assert person(db, MAYA).digest_enabled
    after(slack, "views.publish", lambda: driver.as_user(MAYA.id).click(view, "digest_off"))
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
    assert len(view["blocks"]) <= 100
    text = json.dumps(view["blocks"])
    assert "Waiting for your feedback* (12)" in text and "More in `/feedback requests`" in text
    assert "8 more people report to you" in text
    assert slack.invalid_calls() == []
    assert "Colleague 0" in shown(driver.as_user(MAYA.id).command("/feedback", "requests"))
