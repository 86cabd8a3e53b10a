"""Notes worth coaching from, end to end: a vague or personality note answers the modal once
with a hint under that note and stores nothing; the same form submitted again is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.feedback.note_quality import PERSONALITY_HINT, VAGUE_HINT, note_hint
from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack
from storage.db import Database
from storage.models import Feedback, NoteHint
from storage.repositories import hints as hints_repo
from tests.harness import ALICE, BOB, MAYA, AppProcess, start_app
from tests.test_debrief_e2e import FULL_ANSWERS, new_project, only_project, open_form
from tests.test_feedback_e2e import m, rows

VAGUE = "Great job, really awesome!"
CONCRETE = "In the launch review she named the billing risk first, so we moved the date early."


def give_form(driver: SlackDriver, slack: FakeSlack, giver: Any, subject: Any) -> dict[str, Any]:
    """``/feedback give`` up to the open modal (``give`` in test_feedback_e2e also submits it)."""
    before = len(slack.calls_to("views.open"))
    driver.as_user(giver.id).command("/feedback", f"give {m(subject)} about the launch")
    slack.wait_for("views.open", count=before + 1)
    form = slack.open_modal(giver.id)
    assert form is not None and form["callback_id"] == "feedback_form"
    return form


def debrief_form(app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database) -> dict[str, Any]:
    """Maya's debrief form about Alice, once the debrief has started."""
    new_project(driver, slack)
    app.tick(only_project(db).debrief_due_at)
    dm = slack.last_dm(MAYA.id)
    assert dm is not None
    form = open_form(driver, slack, MAYA.id, dm, "Alice Chen")
    assert form["callback_id"] == "debrief_form"
    return form


def errors_of(response: Any) -> dict[str, str]:
    body = response.json()
    assert body is not None and body["response_action"] == "errors", response.text
    return dict(body["errors"])


def test_vague_feedback_is_hinted_once_then_stored(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    form = give_form(driver, slack, ALICE, BOB)
    values = {**FULL_ANSWERS, "What went well": VAGUE, "What to try next": CONCRETE}
    first = driver.as_user(ALICE.id).submit(form, values)
    assert first.status == 200
    assert errors_of(first) == {"strengths_note": VAGUE_HINT}  # under that note, nothing else
    assert rows(db, Feedback) == []
    assert [h.view_id for h in rows(db, NoteHint)] == [f"{ALICE.id}:{form['id']}"]  # per person and form

    again = driver.as_user(ALICE.id).submit(form, values)  # unchanged: accepted as it is
    assert again.status == 200 and again.text == "", again.text
    stored = rows(db, Feedback)
    assert len(stored) == 1 and stored[0].strengths_note == VAGUE
    assert len(rows(db, NoteHint)) == 1
    assert slack.invalid_calls() == []  # the error named a real input block


def test_concrete_feedback_is_stored_at_once(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    form = give_form(driver, slack, ALICE, BOB)
    response = driver.as_user(ALICE.id).submit(form, {**FULL_ANSWERS, "What went well": CONCRETE})
    assert response.status == 200 and response.text == "", response.text
    assert len(rows(db, Feedback)) == 1 and rows(db, NoteHint) == []


def test_personality_word_in_a_debrief_is_hinted_once_then_accepted(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    form = debrief_form(app, driver, slack, db)
    note = "Too emotional when the release slipped."
    first = driver.as_user(MAYA.id).submit(form, {**FULL_ANSWERS, "One thing to grow": note})
    assert errors_of(first) == {"growth_note": PERSONALITY_HINT.format(word="too emotional")}
    assert rows(db, Feedback) == []

    # Changed, and still not concrete: the form was hinted already, so it is accepted.
    updates = len(slack.calls_to("chat.update"))
    changed = "Too emotional, honestly."
    assert note_hint(changed) is not None  # a fresh form would be hinted
    saved = driver.as_user(MAYA.id).submit(form, {**FULL_ANSWERS, "One thing to grow": changed})
    assert saved.status == 200 and saved.text == "", saved.text
    slack.wait_for("chat.update", count=updates + 1)  # the debrief DM shows it done
    stored = rows(db, Feedback)
    assert len(stored) == 1 and stored[0].growth_note == changed
    assert slack.invalid_calls() == []


def test_a_missing_rating_comes_first_and_does_not_use_up_the_hint(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    form = give_form(driver, slack, MAYA, ALICE)
    partial = {k: v for k, v in FULL_ANSWERS.items() if k != "Delegates"}
    refused = driver.as_user(MAYA.id).submit(form, {**partial, "What went well": VAGUE}, strict=False)
    assert set(errors_of(refused)) == {"kpi_delegates"}
    assert rows(db, NoteHint) == [] and rows(db, Feedback) == []

    fixed = {**FULL_ANSWERS, "What went well": VAGUE}
    hinted = driver.as_user(MAYA.id).submit(form, fixed)
    assert errors_of(hinted) == {"strengths_note": VAGUE_HINT}
    assert rows(db, Feedback) == []

    saved = driver.as_user(MAYA.id).submit(form, fixed)
    assert saved.status == 200 and saved.text == "", saved.text
    assert len(rows(db, Feedback)) == 1
    assert slack.invalid_calls() == []


def test_the_hint_is_remembered_across_a_restart(
    app: AppProcess, slack: FakeSlack, database_url: str, db: Database, tmp_path: Path
) -> None:
    driver = SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)
    form = give_form(driver, slack, BOB, MAYA)
    values = {**FULL_ANSWERS, "Notes on delivery": "Good work."}
    assert errors_of(driver.as_user(BOB.id).submit(form, values)) == {"delivery_note": VAGUE_HINT}
    app.stop()

    workdir = tmp_path / "restarted"
    workdir.mkdir()
    restarted = start_app(slack, database_url, workdir)
    try:
        driver = SlackDriver(restarted.events_url, restarted.env["SLACK_SIGNING_SECRET"], slack)
        saved = driver.as_user(BOB.id).submit(form, values)
        assert saved.status == 200 and saved.text == "", saved.text
    finally:
        restarted.stop()
    assert [f.delivery_note for f in rows(db, Feedback)] == ["Good work."]


def test_claim_is_once_per_view(db: Database) -> None:
    at = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    with db.transaction() as session:
        assert hints_repo.claim(session, view_id="V1", at=at)
        assert not hints_repo.claim(session, view_id="V1", at=at)  # the session stays usable
        assert hints_repo.claim(session, view_id="V2", at=at)
    with db.transaction() as session:
        assert not hints_repo.claim(session, view_id="V2", at=at)
    assert {h.view_id for h in rows(db, NoteHint)} == {"V1", "V2"}
    assert all(h.hinted_at == at for h in rows(db, NoteHint))
