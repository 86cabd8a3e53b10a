"""/growth end to end: a person's reading, a manager's reading of a report, rating oneself — and
that a self-rating is never counted in what others think."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.growth.digests import digest_slot
from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack
from bot.timekeeping import MONDAY_TO_FRIDAY, local_date, local_to_utc
from storage.db import Database
from storage.models import Feedback, GrowthStep, Person, Project, SelfAssessment, SelfRating, StepOutcome
from tests.cli import brickwork
from tests.harness import ALICE, BOB, CAROL, MAYA, AppProcess, start_app
from tests.test_coach_e2e import NOTES, coach, give, make_manager
from tests.test_concurrency import eventually
from tests.test_debrief_e2e import FULL_ANSWERS, new_project, only_project, shown
from tests.test_feedback_e2e import m
from tests.test_home_e2e import home

SELF_HIGH = {**FULL_ANSWERS, "Timeliness": "5", "Quality": "2"}


def growth(driver: SlackDriver, slack: FakeSlack, who: Any, text: str = "") -> tuple[str, str]:
    """The answer to ``/growth TEXT``: (the ack's text, the response_url's blocks as text)."""
    before = len(slack.calls_to("response_url"))
    response = driver.as_user(who.id).command("/growth", text)
    assert response.status == 200 and not response.too_slow
    if response.text:
        return response.text, ""
    answer = slack.wait_for("response_url", count=before + 1)[-1]
    return "", str(answer.args.get("text")) + json.dumps(answer.args.get("blocks"), ensure_ascii=False)


def rate_myself(driver: SlackDriver, slack: FakeSlack, who: Any, values: dict[str, Any]) -> dict[str, Any]:
    opened = len(slack.calls_to("views.open"))
    response = driver.as_user(who.id).command("/growth", "self")
    assert response.status == 200 and response.text == ""
    slack.wait_for("views.open", count=opened + 1)
    form = slack.open_modal(who.id)
    assert form is not None and form["callback_id"] == "self_assessment"
    result = driver.as_user(who.id).submit(form, values).json()
    return result


def home_texts(view: dict[str, Any]) -> list[str]:
    """What the App Home says (block ids are made fresh at every publish)."""
    return [json.dumps(b.get("text") or b.get("elements"), sort_keys=True) for b in view["blocks"]]


def feedback_rows(db: Database) -> list[tuple[Any, ...]]:
    with db.transaction() as session:
        return [(f.id, f.giver_id, f.subject_id) for f in session.exec(select(Feedback))]


def test_growth_reads_the_feedback_calibrated_and_a_self_rating_shows_blind_spots(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    _, empty = growth(driver, slack, ALICE)
    assert "Not enough feedback yet" in empty and "/feedback request" in empty

    give(driver, slack, BOB, ALICE, timeliness="2", note=NOTES[BOB.id], Quality="4")
    give(driver, slack, CAROL, ALICE, timeliness="1", note=NOTES[CAROL.id], Quality="5")
    _, text = growth(driver, slack, ALICE)
    assert "Your growth" in text and "*Delivery*" in text and "*Leadership*" in text
    assert "*Timeliness*: 1.5" in text and "2 ratings from 2 people (2 peers)" in text
    assert "*Growth areas*" in text and "below “as expected”" in text
    assert "Drives innovation and culture*: no ratings yet" in text  # both said "Not observed"
    assert "Bob" not in text and "Carol" not in text
    assert "`/growth self` to rate yourself" in text and "Blind spots" not in text

    mine_before = shown(driver.as_user(ALICE.id).command("/feedback", "mine"))
    home_before = home_texts(home(driver, slack, ALICE))
    saved = rate_myself(driver, slack, ALICE, SELF_HIGH)
    assert saved["response_action"] == "update" and "Saved" in json.dumps(saved["view"])
    with db.transaction() as session:
        [assessment] = session.exec(select(SelfAssessment)).all()
        scores = {r.kpi: r.score for r in session.exec(select(SelfRating))}
    assert scores["timeliness"] == 5 and scores["quality"] == 2 and scores["innovates"] is None
    # Never counted in what others think: not a feedback record, not in /feedback mine or the Home.
    assert all(giver != subject for _, giver, subject in feedback_rows(db))
    assert shown(driver.as_user(ALICE.id).command("/feedback", "mine")) == mine_before
    home_after = home_texts(home(driver, slack, ALICE))
    # Only the Home's growth summary changes: her self-rating shows her a blind spot there.
    growth_line = next(i for i, text in enumerate(home_after) if "Your growth" in text)
    assert "Blind spot: Timeliness" in home_after[growth_line]
    assert "Blind spot" not in home_before[growth_line]
    assert home_after[:growth_line] + home_after[growth_line + 1 :] == (
        home_before[:growth_line] + home_before[growth_line + 1 :]
    )

    _, text = growth(driver, slack, ALICE)
    assert "*Blind spots*" in text and "you rate yourself 5; others, calibrated, 1.5" in text
    assert "*Hidden strengths*" in text and "*Quality*: you rate yourself 2; others, calibrated, 4.5" in text
    assert "*Timeliness*: 1.5" in text  # the reading of others is unchanged

    # The form opens again with what she answered; saving again keeps both (the latest counts).
    again = rate_myself(driver, slack, ALICE, {**SELF_HIGH, "Timeliness": "2"})
    assert again["response_action"] == "update"
    _, text = growth(driver, slack, ALICE)
    assert "Blind spots" not in text
    with db.transaction() as session:
        assert len(session.exec(select(SelfAssessment)).all()) == 2
    assert assessment.person_id is not None


def test_a_manager_reads_a_reports_growth_but_not_their_self_ratings(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give(driver, slack, BOB, ALICE, timeliness="2", note=NOTES[BOB.id])
    give(driver, slack, CAROL, ALICE, timeliness="1", note=NOTES[CAROL.id])
    rate_myself(driver, slack, ALICE, SELF_HIGH)
    shown(driver.as_user(MAYA.id).command("/feedback", "mine"))  # Maya is known to Brickwork
    _, refused = growth(driver, slack, MAYA, m(ALICE))
    assert "people who report to you" in refused and "Timeliness" not in refused
    make_manager(db, MAYA, ALICE)
    _, text = growth(driver, slack, MAYA, m(ALICE))
    assert "Alice Chen's growth" in text and "*Timeliness*: 1.5" in text
    assert "Blind spots" not in text and "you rate yourself" not in text
    assert "has rated themself; self-ratings are theirs alone" in text
    # Bob is not her manager: refused, and nothing about her is shown.
    _, bob_sees = growth(driver, slack, BOB, m(ALICE))
    assert "people who report to you" in bob_sees and "Timeliness" not in bob_sees


def test_growth_words_help_and_bad_input(app: AppProcess, driver: SlackDriver, slack: FakeSlack) -> None:
    help_text, _ = growth(driver, slack, ALICE, "help")
    assert "/growth self" in help_text and "/growth @someone" in help_text and "/growth coach" in help_text
    unknown, _ = growth(driver, slack, ALICE, "frobnicate")
    assert "I don't know `frobnicate`" in unknown and "/growth self" in unknown
    who, _ = growth(driver, slack, ALICE, "@bob")
    assert "I couldn't tell who `@bob` is" in who
    two, _ = growth(driver, slack, ALICE, f"{m(BOB)} {m(CAROL)}")
    assert "/growth self" in two
    assert slack.calls_to("views.open") == []


def test_a_forged_self_form_changes_nothing(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    """The form's metadata names a project Alice was not part of, or is not ours at all."""
    opened = len(slack.calls_to("views.open"))
    driver.as_user(ALICE.id).command("/growth", "self")
    slack.wait_for("views.open", count=opened + 1)
    form = slack.open_modal(ALICE.id)
    assert form is not None
    with db.transaction() as session:
        assert session.exec(select(Project)).all() == []
    for metadata in ('{"project_id": 999}', '{"project_id": "1"}', '{"subject_id": 3}', "not json"):
        forged = {**form, "private_metadata": metadata}
        result = driver.as_user(ALICE.id).submit(forged, SELF_HIGH, strict=False)
        assert result.status == 200
        assert "Saved" not in result.text
    # Bob submitting Alice's form: refused by the modal check.
    bob = driver.as_user(BOB.id).submit(form, SELF_HIGH, strict=False)
    assert "Saved" not in bob.text
    with db.transaction() as session:
        assert session.exec(select(SelfAssessment)).all() == []


def test_rate_yourself_on_a_project_from_its_debrief_dm(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    new_project(driver, slack)
    project = only_project(db)
    app.tick(project.debrief_due_at)
    dm = slack.last_dm(MAYA.id)
    assert dm is not None and "Rate yourself on this project" in json.dumps(dm["blocks"])
    opened = len(slack.calls_to("views.open"))
    driver.as_user(MAYA.id).click(dm, "rate_myself_on_project")
    slack.wait_for("views.open", count=opened + 1)
    form = slack.open_modal(MAYA.id)
    assert form is not None and form["callback_id"] == "self_assessment"
    assert json.loads(form["private_metadata"]) == {"project_id": project.id}
    assert "Saved" in json.dumps(driver.as_user(MAYA.id).submit(form, SELF_HIGH).json())
    # Again from the same DM: the form shows her answer, and saving replaces it.
    opened = len(slack.calls_to("views.open"))
    driver.as_user(MAYA.id).click(dm, "rate_myself_on_project")
    slack.wait_for("views.open", count=opened + 1)
    again = slack.open_modal(MAYA.id)
    assert again is not None and "Saving replaces your earlier answer" in json.dumps(again["blocks"])
    driver.as_user(MAYA.id).submit(again, {**SELF_HIGH, "Quality": "3"})
    with db.transaction() as session:
        [assessment] = session.exec(select(SelfAssessment)).all()
        quality = session.exec(select(SelfRating).where(SelfRating.kpi == "quality")).one()
    assert assessment.project_id == project.id and quality.score == 3
    # Carol was not part of it: the same button from her gets a refusal, and no form.
    opened = len(slack.calls_to("views.open"))
    driver.as_user(CAROL.id).click(dm, "rate_myself_on_project")
    notice = slack.wait_for("views.open", count=opened + 1)[-1]
    assert "only on projects you were part of" in json.dumps(notice.args["view"])
    with db.transaction() as session:
        assert len(session.exec(select(SelfAssessment)).all()) == 1


def digests(slack: FakeSlack, user: Any) -> list[Any]:
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.ok and c.args["channel"] == slack.dm_channel(user.id) and "week in growth" in c.args["text"]
    ]


def news_for_alice(app: AppProcess, slack: FakeSlack) -> SlackDriver:
    """A driver for ``app``, and two pieces of named feedback about Alice: her digest's news."""
    driver = SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)
    give(driver, slack, BOB, ALICE, timeliness="2", note=NOTES[BOB.id])
    give(driver, slack, CAROL, ALICE, timeliness="1", note=NOTES[CAROL.id])
    return driver


def nudge_week(now: datetime, tz: str) -> bool:
    """Whether this week's slot falls in the first seven days of a month (a nudge instead)."""
    slot = digest_slot(now, tz, MONDAY_TO_FRIDAY)
    return local_date(slot, tz).day <= 7


@pytest.fixture
def digest_app(slack: FakeSlack, database_url: str, tmp_path: Path) -> Iterator[AppProcess]:
    process = start_app(slack, database_url, tmp_path, BRICKWORK_WEEKLY_DIGEST="on")
    yield process
    process.stop()


def test_no_digest_is_sent_while_the_setting_is_off(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give(driver, slack, BOB, ALICE, timeliness="2", note=NOTES[BOB.id])
    give(driver, slack, CAROL, ALICE, timeliness="1", note=NOTES[CAROL.id])
    app.tick(datetime.now(UTC))
    assert digests(slack, ALICE) == []
    _, preview = growth(driver, slack, ALICE, "digest")  # what it would say: still shown
    assert "week in growth" in preview


def test_the_weekly_digest_comes_once_says_what_is_new_and_can_be_paused_or_stopped(
    digest_app: AppProcess, slack: FakeSlack, db: Database
) -> None:
    app = digest_app
    driver = news_for_alice(app, slack)
    shown(driver.as_user(MAYA.id).command("/feedback", "mine"))  # Maya: known, nothing new
    now = datetime.now(UTC)
    app.tick(now)
    [digest] = digests(slack, ALICE)
    text = json.dumps(digest.args["blocks"], ensure_ascii=False)
    assert "2 new pieces of feedback" in text and "*Growth areas*" in text and "Timeliness" in text
    assert "One thing to try this week" in text and "Pause for 2 weeks" in text and "Stop digests" in text
    assert "Bob" not in text and "Carol" not in text
    # Nothing new for Maya: no digest (a short nudge instead, in a month's first week).
    maya = [c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == slack.dm_channel(MAYA.id)]
    assert len(maya) == (1 if nudge_week(now, MAYA.tz) else 0)
    # Ticking again that week sends nothing more.
    app.tick(now + timedelta(minutes=5))
    assert len(digests(slack, ALICE)) == 1
    # What /growth digest and the CLI preview show is that digest.
    _, preview = growth(driver, slack, ALICE, "digest")
    assert "week in growth" in preview and "One thing to try this week" in preview
    printed = brickwork("digest", "preview", ALICE.id, env=app.env, cwd=app.workdir)
    assert (
        printed.returncode == 0
        and "Your week in growth" in printed.stdout
        and "[Stop digests]" in printed.stdout
    )
    refused = brickwork("digest", "preview", "U0NOBODY", env=app.env, cwd=app.workdir)
    assert (
        refused.returncode == 2 and "nothing stored" in refused.stderr and "Traceback" not in refused.stderr
    )
    # Request feedback from the digest: whom to ask, about her; Maya gets the request.
    dm = slack.last_dm(ALICE.id)
    assert dm is not None
    opened = len(slack.calls_to("views.open"))
    driver.as_user(ALICE.id).click(dm, "digest_request")
    slack.wait_for("views.open", count=opened + 1)
    ask = slack.open_modal(ALICE.id)
    assert ask is not None and "feedback about you" in json.dumps(ask["blocks"])
    assert driver.as_user(ALICE.id).submit(ask, {"Whom to ask": [MAYA.id]}).status == 200
    request = slack.wait_for(
        "chat.postMessage",
        where=lambda c: (
            c.args["channel"] == slack.dm_channel(MAYA.id) and "asks for your feedback" in c.args["text"]
        ),
    )[-1]
    assert "Alice Chen" in request.args["text"]
    # The next week's digest asks how last week's thing to try went; her answer is kept.
    with db.transaction() as session:
        [step] = session.exec(select(GrowthStep)).all()
    assert step.kpi == "timeliness" and step.outcome is None and step.text in text
    app.tick(now + timedelta(days=7))
    second = digests(slack, ALICE)[-1]
    assert len(digests(slack, ALICE)) == 2
    assert "Last week you planned to try" in json.dumps(second.args["blocks"], ensure_ascii=False)
    dm = slack.last_dm(ALICE.id)
    assert dm is not None
    driver.as_user(BOB.id).click(dm, "step_tried")  # not his: refused, nothing kept
    driver.as_user(ALICE.id).click(dm, "step_tried")
    slack.wait_for("response_url", where=lambda c: "Noted: you tried it" in str(c.args.get("text")))
    with db.transaction() as session:
        [step] = session.exec(select(GrowthStep).where(GrowthStep.week == step.week)).all()
    assert step.outcome is StepOutcome.TRIED
    _, mine = growth(driver, slack, ALICE)
    assert "Your things to try" in mine and "you tried it" in mine and "no answer yet" in mine
    # Her manager sees how it went once he has shared coaching with her, not before.
    make_manager(db, MAYA, ALICE)
    _, before_sharing = growth(driver, slack, MAYA, m(ALICE))
    assert "Alice Chen's growth" in before_sharing and "things to try" not in before_sharing
    draft = coach(driver, slack, MAYA, m(ALICE))
    assert driver.as_user(MAYA.id).submit(draft, {}).status == 200
    slack.wait_for("chat.postMessage", where=lambda c: "shared coaching" in json.dumps(c.args.get("blocks")))
    _, after_sharing = growth(driver, slack, MAYA, m(ALICE))
    assert "Their things to try" in after_sharing and "they tried it" in after_sharing
    # Pause, then stop, from the digest itself.
    driver.as_user(ALICE.id).click(dm, "digest_pause")
    paused = slack.wait_for("response_url", where=lambda c: "Paused" in str(c.args.get("text")))[-1]
    assert "no digest until" in paused.args["text"]
    driver.as_user(ALICE.id).click(dm, "digest_stop")
    slack.wait_for("response_url", where=lambda c: "Stopped" in str(c.args.get("text")))
    with db.transaction() as session:
        alice = session.exec(select(Person).where(Person.slack_user_id == ALICE.id)).one()
    assert alice.digest_enabled is False and alice.digest_paused_until is not None
    # The week after: nothing for Alice, though there is news.
    give(driver, slack, MAYA, ALICE, timeliness="2", note=NOTES[CAROL.id])
    app.tick(now + timedelta(days=14))
    assert len(digests(slack, ALICE)) == 2


def test_each_person_chooses_the_digest_day_and_hour_on_the_app_home_and_forged_choices_change_nothing(
    digest_app: AppProcess, slack: FakeSlack, db: Database
) -> None:
    app = digest_app
    driver = news_for_alice(app, slack)
    view = home(driver, slack, ALICE)
    assert "Mondays at 09:00 your time" in json.dumps(view["blocks"])

    def published(text: str) -> dict[str, Any]:
        slack.wait_for(
            "views.publish", where=lambda c: text in json.dumps(c.args.get("view"), ensure_ascii=False)
        )
        shown = slack.home(ALICE.id)
        assert shown is not None
        return shown

    assert driver.as_user(ALICE.id).select(view, "digest_day", "Wednesday").status == 200
    view = published("Wednesdays at 09:00 your time")
    assert driver.as_user(ALICE.id).select(view, "digest_hour", "07:00").status == 200
    view = published("Wednesdays at 07:00 your time")
    # Forged choices (the option values are the sender's to write): refused, nothing changed.
    forged_choices = (("digest_day", "7"), ("digest_hour", "24"), ("digest_day", "-1"), ("digest_hour", "٣"))
    for action_id, forged in forged_choices:
        crafted = {**view, "blocks": [forged_select(action_id, forged)]}
        assert driver.as_user(ALICE.id).select(crafted, action_id, forged).status == 200
    too_long = "0" * 4999 + "7"  # refused at the door, before anything reads it
    crafted = {**view, "blocks": [forged_select("digest_hour", too_long)]}
    assert driver.as_user(ALICE.id).select(crafted, "digest_hour", too_long).status == 400
    with db.transaction() as session:
        alice = session.exec(select(Person).where(Person.slack_user_id == ALICE.id)).one()
    assert (alice.digest_weekday, alice.digest_hour) == (2, 7)
    # Due on Wednesday at 07:00 in her zone, not on Monday at 09:00.
    today = local_date(datetime.now(UTC), ALICE.tz)
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)  # next week: all ahead
    app.tick(local_to_utc(monday, time(9), ALICE.tz))
    assert digests(slack, ALICE) == []
    wednesday_7 = local_to_utc(monday + timedelta(days=2), time(7), ALICE.tz)
    app.tick(wednesday_7 - timedelta(seconds=1))
    assert digests(slack, ALICE) == []
    app.tick(wednesday_7)
    assert len(digests(slack, ALICE)) == 1


def forged_select(action_id: str, value: str) -> dict[str, Any]:
    """An actions block holding one select whose only option carries ``value``."""
    option = {"text": {"type": "plain_text", "text": value}, "value": value}
    return {
        "type": "actions",
        "block_id": "crafted",
        "elements": [{"type": "static_select", "action_id": action_id, "options": [option]}],
    }


def test_a_move_to_another_zone_moves_the_digest_read_from_users_info_not_from_the_event(
    digest_app: AppProcess, slack: FakeSlack, db: Database
) -> None:
    app = digest_app
    driver = news_for_alice(app, slack)
    slack.add_user(replace(ALICE, tz="Asia/Tokyo"))  # Alice moves; Slack tells the app
    infos = len(slack.calls_to("users.info"))
    forged = {"id": ALICE.id, "tz": "Pacific/Kiritimati", "real_name": "Mallory"}  # not read
    assert driver.as_user(ALICE.id).event({"type": "user_change", "user": forged}).status == 200
    slack.wait_for("users.info", count=infos + 1)
    for malformed in ("U0ALICE", {"id": "not an id"}, {"name": "alice"}, None):  # refused, nothing read
        answer = driver.as_user(ALICE.id).event({"type": "user_change", "user": malformed})
        assert answer.status == 400, (malformed, answer.status)
    # (someone Brickwork does not know yet is not made from a profile change)
    assert driver.as_user(ALICE.id).event({"type": "user_change", "user": {"id": "U0STRANGER"}}).status == 200

    def stored() -> tuple[str, str]:
        with db.transaction() as session:
            alice = session.exec(select(Person).where(Person.slack_user_id == ALICE.id)).one()
            return alice.tz, alice.name

    eventually("her new zone", lambda: stored()[0] == "Asia/Tokyo")  # the upsert follows the call
    assert stored() == ("Asia/Tokyo", "Alice Chen")
    with db.transaction() as session:
        assert session.exec(select(Person).where(Person.slack_user_id == "U0STRANGER")).first() is None
    # Her digest now comes at 09:00 in Tokyo: not at 09:00 in New York.
    today = local_date(datetime.now(UTC), "Asia/Tokyo")
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    tokyo_9 = local_to_utc(monday, time(9), "Asia/Tokyo")
    app.tick(tokyo_9 - timedelta(seconds=1))
    assert digests(slack, ALICE) == []
    app.tick(tokyo_9)
    assert len(digests(slack, ALICE)) == 1
