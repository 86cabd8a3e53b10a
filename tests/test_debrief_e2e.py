"""The debrief, end to end: signed HTTP into ``brickwork serve``, ``brickwork tick`` to move time,
the stand-in for Slack validating every payload, the real database checked afterwards."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.debriefs.schedule import debrief_schedule
from bot.demo import button_beside
from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack
from bot.timekeeping import MONDAY_TO_FRIDAY, local_date, zone
from storage.db import Database
from storage.models import DebriefTask, Feedback, Job, JobState, OutboxMessage, Project, ProjectState, Rating
from tests.harness import ALICE, BOB, CAROL, GONE, MAYA, ROBOT, AppProcess
from tests.slackcheck import mrkdwn_texts

DEFAULT_WINDOW_DAYS = 7  # BRICKWORK_DEBRIEF_WINDOW_DAYS's default
FULL_ANSWERS = {
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


def today() -> date:
    return local_date(datetime.now(UTC), MAYA.tz)


def new_project(driver: SlackDriver, slack: FakeSlack, **values: Any) -> Any:
    """Maya runs /debrief and submits the modal with ``values`` over sensible defaults."""
    opened = len(slack.calls_to("views.open"))
    response = driver.as_user(MAYA.id).command("/debrief")
    assert response.status == 200 and not response.too_slow
    slack.wait_for("views.open", count=opened + 1)
    modal = slack.open_modal(MAYA.id)
    assert modal is not None and modal["callback_id"] == "new_project"
    answers = {
        "Project name": "Apollo",
        "Team members": [ALICE.id, BOB.id],
        "End date": today(),
        "Run the debrief": "1",
        "Do members give feedback on the lead?": "none",
    }
    answers.update({k.replace("_", " "): v for k, v in values.items()})
    return driver.as_user(MAYA.id).submit(modal, answers, strict=False), modal


def prompt_at(project: Project, person: Any) -> datetime:
    """When ``person`` is prompted for ``project``: 10:00 their time on the prompt day."""
    schedule = debrief_schedule(project.end_date, project.debrief_offset_days, DEFAULT_WINDOW_DAYS)
    return schedule.prompt_at(person.tz)


def everyone_prompted(project: Project) -> datetime:
    """When every test person has had their prompt (the last of their 10:00s)."""
    return max(prompt_at(project, p) for p in (MAYA, ALICE, BOB, CAROL))


def everyone_reminded(project: Project) -> datetime:
    """When every test person's reminder is due (two working days after their prompt)."""
    schedule = debrief_schedule(project.end_date, project.debrief_offset_days, DEFAULT_WINDOW_DAYS)
    return max(schedule.reminder_at(p.tz) for p in (MAYA, ALICE, BOB, CAROL))


def only_project(db: Database) -> Project:
    with db.transaction() as session:
        projects = list(session.exec(select(Project)))
    assert len(projects) == 1
    return projects[0]


def count(db: Database, model: Any) -> int:
    with db.transaction() as session:
        return len(list(session.exec(select(model))))


def open_form(
    driver: SlackDriver, slack: FakeSlack, user: str, dm: dict[str, Any], name: str
) -> dict[str, Any]:
    opened = len(slack.calls_to("views.open"))
    response = driver.as_user(user).click(dm, value=button_beside(dm, name))
    assert response.status == 200
    slack.wait_for("views.open", count=opened + 1)
    modal = slack.open_modal(user)
    assert modal is not None
    return modal


def shown(response: Any) -> str:
    """What Slack shows for an ack: a JSON message, or plain text (Bolt's ack(text=...) alone)."""
    body = response.json()
    return json.dumps(body, ensure_ascii=False) if body is not None else response.text


def parsed_by_slack(slack: FakeSlack) -> list[str]:
    texts: list[str] = []
    for call in slack.calls:
        args = dict(call.args)
        for key in ("blocks", "view"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        texts += mrkdwn_texts(args)
    return texts


@pytest.fixture
def db(database_url: str) -> Any:
    database = Database(database_url)
    yield database
    database.dispose()


def test_the_whole_debrief(app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database) -> None:
    response, _ = new_project(
        driver,
        slack,
        **{
            "Do members give feedback on the lead?": "anonymous",
            "Team members": [ALICE.id, BOB.id, CAROL.id],
        },
    )
    assert response.status == 200
    body = response.json()
    assert body["response_action"] == "update"  # the confirmation replaces the form
    assert "Apollo" in json.dumps(body["view"])

    project = only_project(db)
    assert project.state is ProjectState.SCHEDULED
    # 10:00 in Maya's Berlin, the day after the end date (or the next working day after it).
    due_local = project.debrief_due_at.astimezone(zone(MAYA.tz))
    prompt_day = MONDAY_TO_FRIDAY.on_or_after(today() + timedelta(days=1))
    assert (due_local.date(), due_local.hour, due_local.minute) == (prompt_day, 10, 0)
    assert count(db, DebriefTask) == 6  # Maya on Alice, Bob and Carol, and the three on Maya
    assert slack.calls_to("chat.postMessage") == []

    # Each giver is prompted at 10:00 their own time: Bob in Kolkata first, Carol in LA last.
    times = {p.id: prompt_at(project, p) for p in (MAYA, ALICE, BOB, CAROL)}
    assert sorted(times, key=times.__getitem__) == [BOB.id, MAYA.id, ALICE.id, CAROL.id]
    assert all(t.astimezone(zone(p.tz)).hour == 10 for p in (MAYA, ALICE, BOB, CAROL) for t in [times[p.id]])
    # A minute before the first: nothing.
    assert "0 due" in app.tick(times[BOB.id] - timedelta(minutes=1))
    assert slack.calls_to("chat.postMessage") == []
    # Bob's 10:00: the job runs, and only Bob's DM is due.
    assert "1 due, 1 done, 0 failed" in app.tick(times[BOB.id])
    assert [c.args["channel"] for c in slack.calls_to("chat.postMessage")] == [slack.dm_channel(BOB.id)]
    assert "0 due" in app.tick(times[MAYA.id])
    assert slack.last_dm(MAYA.id) is not None and slack.last_dm(CAROL.id) is None
    # Carol's 10:00 in Los Angeles: everyone has their DM, each once.
    app.tick(times[CAROL.id])
    posts = slack.calls_to("chat.postMessage")
    assert sorted(c.args["channel"] for c in posts) == sorted(
        slack.dm_channel(p.id) for p in (MAYA, ALICE, BOB, CAROL)
    )
    lead_dm = slack.last_dm(MAYA.id)
    assert lead_dm is not None
    assert "Alice Chen" in json.dumps(lead_dm["blocks"], ensure_ascii=False) and "Bob Müller" in json.dumps(
        lead_dm["blocks"], ensure_ascii=False
    )
    alice_dm = slack.last_dm(ALICE.id)
    assert alice_dm is not None and "anonymous" in json.dumps(alice_dm["blocks"])

    # The same instant again sends nothing.
    assert "0 due" in app.tick(times[CAROL.id])
    assert len(slack.calls_to("chat.postMessage")) == 4

    # Maya debriefs Alice; a missing rating is refused on its field, nothing stored.
    form = open_form(driver, slack, MAYA.id, lead_dm, "Alice Chen")
    assert form["callback_id"] == "debrief_form"
    partial = {k: v for k, v in FULL_ANSWERS.items() if k != "Delegates"}
    refused = driver.as_user(MAYA.id).submit(form, partial, strict=False)
    assert refused.json()["response_action"] == "errors"
    assert set(refused.json()["errors"]) == {"kpi_delegates"}
    assert count(db, Feedback) == 0

    updates = len(slack.calls_to("chat.update"))
    saved = driver.as_user(MAYA.id).submit(
        form, {**FULL_ANSWERS, "Strengths you saw": "Made a calm rollback call at 2am."}
    )
    assert saved.status == 200 and saved.text == ""  # an empty ack closes the modal
    slack.wait_for("chat.update", count=updates + 1)
    with db.transaction() as session:
        record = session.exec(select(Feedback)).one()
        scores = {r.kpi: r.score for r in session.exec(select(Rating).where(Rating.feedback_id == record.id))}
    assert record.strengths_note == "Made a calm rollback call at 2am." and not record.anonymous
    assert scores["target"] == 2 and scores["quality"] == 4 and scores["innovates"] is None
    assert len(scores) == 9
    updated = slack.last_dm(MAYA.id)
    assert updated is not None
    assert ":white_check_mark: *Alice Chen* — debriefed" in json.dumps(updated["blocks"], ensure_ascii=False)
    assert "1 of 3 done" in json.dumps(updated["blocks"])

    # Answering again replaces the earlier answer: the form opens pre-filled, one record stays.
    form = open_form(driver, slack, MAYA.id, updated, "Alice Chen")
    assert "Saving replaces your earlier answer" in json.dumps(form["blocks"])
    again = driver.as_user(MAYA.id).submit(form, {"Quality": "2"})
    assert again.status == 200
    with db.transaction() as session:
        assert len(list(session.exec(select(Feedback)))) == 1
        record = session.exec(select(Feedback)).one()
        quality = session.exec(
            select(Rating).where(Rating.feedback_id == record.id, Rating.kpi == "quality")
        ).one()
    assert quality.score == 2

    # Alice's upward feedback on Maya is stored as anonymous, held for a batch (bot.feedback.anonymity).
    form = open_form(driver, slack, ALICE.id, alice_dm, "Maya Okafor")
    assert driver.as_user(ALICE.id).submit(form, FULL_ANSWERS).status == 200
    with db.transaction() as session:
        upward = session.exec(select(Feedback).where(Feedback.subject_id == project.lead_id)).one()
    assert upward.anonymous and upward.released_at is None

    assert slack.invalid_calls() == []


def test_double_submission_and_retry_store_one_answer(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    new_project(driver, slack)
    project = only_project(db)
    app.tick(project.debrief_due_at)
    dm = slack.last_dm(MAYA.id)
    assert dm is not None
    form = open_form(driver, slack, MAYA.id, dm, "Bob Müller")

    # Two identical submissions at the same moment (a double click), then a third (a retry).
    results: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(driver.as_user(MAYA.id).submit(form, FULL_ANSWERS).status)
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.append(driver.as_user(MAYA.id).submit(form, FULL_ANSWERS, strict=False).status)
    assert results == [200, 200, 200]
    assert count(db, Feedback) == 1
    assert count(db, Rating) == 9

    # Creating a project is idempotent too: the same modal submitted twice makes one project.
    response, modal = new_project(driver, slack, Project_name="Gemini")
    assert response.status == 200
    again = driver.as_user(MAYA.id).submit(
        modal,
        {
            "Project name": "Gemini",
            "Team members": [ALICE.id],
            "Run the debrief": "1",
            "Do members give feedback on the lead?": "none",
        },
        strict=False,
    )
    assert again.status == 200
    with db.transaction() as session:
        assert [p.name for p in session.exec(select(Project).order_by(Project.id))] == ["Apollo", "Gemini"]


def test_a_project_ending_on_a_friday_is_debriefed_on_monday(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    friday = today() + timedelta(days=(4 - today().weekday()) % 7)
    response, _ = new_project(driver, slack, End_date=friday, Run_the_debrief="1")
    assert response.status == 200, response.text
    project = only_project(db)
    berlin = zone(MAYA.tz)
    monday = friday + timedelta(days=3)
    assert project.debrief_due_at.astimezone(berlin).replace(tzinfo=None) == datetime.combine(
        monday, datetime.min.time().replace(hour=10)
    )
    # The confirmation says Monday, in Slack's own date formatting.
    assert str(int(project.debrief_due_at.timestamp())) in json.dumps(response.json()["view"])
    saturday_ten = datetime.combine(friday + timedelta(days=1), datetime.min.time().replace(hour=10), berlin)
    assert "0 due" in app.tick(saturday_ten.astimezone(UTC))
    assert slack.calls_to("chat.postMessage") == []
    app.tick(project.debrief_due_at)
    assert slack.last_dm(MAYA.id) is not None
    # The reminder counts working days: Wednesday, not Monday + 2 calendar days on a weekend.
    assert project.reminder_due_at.astimezone(berlin).date() == monday + timedelta(days=2)
    before = len(slack.calls_to("chat.postMessage"))
    assert "0 due" in app.tick(project.reminder_due_at - timedelta(minutes=1))
    app.tick(project.reminder_due_at)
    [reminder] = slack.calls_to("chat.postMessage")[before:]
    assert "reminder" in reminder.args["text"].lower()
    # The window ends a week after Monday, at 10:00 in Berlin, on a working day.
    closes = project.window_closes_at.astimezone(berlin)
    assert (closes.date(), closes.hour) == (monday + timedelta(days=7), 10)


def test_one_reminder_and_none_after_the_window(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    new_project(driver, slack)
    project = only_project(db)
    app.tick(project.debrief_due_at)
    dm = slack.last_dm(MAYA.id)
    assert dm is not None
    # Maya answers for both people: nothing stays open for her, so no reminder.
    for name in ("Alice Chen", "Bob Müller"):
        form = open_form(driver, slack, MAYA.id, slack.last_dm(MAYA.id) or dm, name)
        assert driver.as_user(MAYA.id).submit(form, FULL_ANSWERS).status == 200
    slack.wait_for("chat.update", count=2)
    posts_before = len(slack.calls_to("chat.postMessage"))
    assert "1 due, 1 done" in app.tick(project.reminder_due_at)
    assert len(slack.calls_to("chat.postMessage")) == posts_before

    # A second project, still open when its reminder falls due: Maya gets exactly one reminder.
    response, _ = new_project(driver, slack, Project_name="Gemini", Team_members=[CAROL.id])
    assert response.status == 200
    with db.transaction() as session:
        gemini = session.exec(select(Project).where(Project.name == "Gemini")).one()
    app.tick(gemini.debrief_due_at)
    posts_before = len(slack.calls_to("chat.postMessage"))
    app.tick(gemini.reminder_due_at)
    app.tick(gemini.reminder_due_at + timedelta(hours=1))
    reminders = slack.calls_to("chat.postMessage")[posts_before:]
    assert len(reminders) == 1
    assert "Reminder" in reminders[0].args["text"]

    # The window closes: DMs lose their buttons, and a form left open is refused politely.
    late_form = open_form(driver, slack, MAYA.id, slack.last_dm(MAYA.id) or dm, "Carol")
    app.tick(gemini.window_closes_at)
    late = driver.as_user(MAYA.id).submit(late_form, FULL_ANSWERS).json()
    assert late["response_action"] == "update" and "has closed" in json.dumps(late["view"])
    with db.transaction() as session:
        assert session.exec(select(Feedback).where(Feedback.project_id == gemini.id)).all() == []
    with db.transaction() as session:
        assert (
            session.exec(select(Project).where(Project.name == "Gemini")).one().state is ProjectState.CLOSED
        )
    closed_dm = slack.last_dm(MAYA.id)
    assert closed_dm is not None and "has closed" in json.dumps(closed_dm["blocks"])
    assert '"type": "button"' not in json.dumps(closed_dm["blocks"])


def test_no_reminder_when_the_tick_comes_after_the_window(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    new_project(driver, slack)
    project = only_project(db)
    app.tick(project.debrief_due_at)
    posts = len(slack.calls_to("chat.postMessage"))
    # The scheduler was down for the whole window: reminder and close fall due together.
    assert "2 due, 2 done" in app.tick(project.window_closes_at + timedelta(hours=1))
    assert len(slack.calls_to("chat.postMessage")) == posts
    with db.transaction() as session:
        states = {j.kind: j.state for j in session.exec(select(Job))}
    assert set(states.values()) == {JobState.DONE}


@pytest.mark.parametrize(
    ("values", "block", "message"),
    [
        ({"Team members": []}, "members", "at least one team member"),
        ({"Team members": [MAYA.id]}, "members", "at least one team member"),
        ({"Team members": [ALICE.id, ROBOT.id]}, "members", "Bots and deactivated accounts"),
        ({"Team members": [GONE.id]}, "members", "Former Colleague"),
        ({"End date": "2099-01-01"}, "end_date", "more than a year away"),
        ({"End date": "2001-01-01"}, "end_date", "more than 90 days ago"),
        ({"Project name": "x" * 81}, "project_name", "80 characters"),
        ({"Project name": "   "}, "project_name", "it is empty, or only invisible characters"),
        ({"Project name": "\u200b\u2060\u3164"}, "project_name", "only invisible characters"),
        ({"Project name": "Q3\u202egnp.exe"}, "project_name", "reverses how text is shown"),
        ({"Project name": "Q3\nlaunch"}, "project_name", "a line break"),
        (
            {"Do members give feedback on the lead?": "anonymous"},
            "upward",
            "needs at least 3 members",
        ),
        ({"Lead": ROBOT.id}, "lead", "not a bot"),
    ],
)
def test_new_project_bad_input_is_refused_on_its_field(
    shared_app: AppProcess,
    shared_driver: SlackDriver,
    shared_slack: FakeSlack,
    shared_db: Database,
    values: dict[str, Any],
    block: str,
    message: str,
) -> None:
    """(One app for all of them: each is refused and stores nothing, so none can see another.)"""
    response, _ = new_project(shared_driver, shared_slack, **values)
    body = response.json()
    assert body["response_action"] == "errors", body
    assert block in body["errors"] and message in body["errors"][block]
    assert count(shared_db, Project) == 0 and count(shared_db, Job) == 0
    assert shared_slack.invalid_calls() == []  # the errors name real input blocks


def test_notes_over_3000_characters_are_refused(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    new_project(driver, slack)
    app.tick(only_project(db).debrief_due_at)
    dm = slack.last_dm(MAYA.id)
    assert dm is not None
    form = open_form(driver, slack, MAYA.id, dm, "Alice Chen")
    response = driver.as_user(MAYA.id).submit(
        form, {**FULL_ANSWERS, "One thing to grow": "y" * 3001}, strict=False
    )
    assert response.json() == {
        "response_action": "errors",
        "errors": {"growth_note": "Keep this to 3000 characters (it has 3001)."},
    }
    assert count(db, Feedback) == 0


def test_user_text_is_escaped_everywhere(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    name = "<!channel> launch & <https://evil.example|your bank>"
    response, _ = new_project(driver, slack, Project_name=name, Team_members=[CAROL.id])
    assert response.status == 200
    app.tick(only_project(db).debrief_due_at)
    dm = slack.last_dm(MAYA.id)
    assert dm is not None
    form = open_form(driver, slack, MAYA.id, dm, "Carol &lt;b&gt;Díaz&lt;/b&gt;")
    driver.as_user(MAYA.id).submit(
        form, {**FULL_ANSWERS, "Strengths you saw": "<!here> <@U0BOB> did it: he paged on-call at once."}
    )
    driver.as_user(MAYA.id).command("/debrief", "list")
    driver.as_user(MAYA.id).command("/debrief", "cancel #999 <!channel>")
    slack.wait_for("response_url")
    texts = parsed_by_slack(slack)
    assert len(texts) > 10
    leaks = [t for t in texts if "<!channel>" in t or "<!here>" in t or "<https://evil" in t or "<b>" in t]
    assert leaks == []
    everything = "\n".join(texts)
    assert "&lt;!channel&gt; launch &amp; &lt;https://evil.example|your bank&gt;" in everything
    assert "Carol &lt;b&gt;Díaz&lt;/b&gt;" in everything
    assert slack.invalid_calls() == []


def test_subcommands_help_list_cancel(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    maya = driver.as_user(MAYA.id)
    for text in ("help", "HELP"):
        assert "/debrief list" in shown(maya.command("/debrief", text))
    unknown = shown(maya.command("/debrief", "frobnicate <!channel>"))
    assert "I don't know `frobnicate`" in unknown and "/debrief list" in unknown
    assert "no projects yet" in shown(maya.command("/debrief", "list"))

    new_project(driver, slack)
    listing = maya.command("/debrief", "list").json()
    assert "Apollo" in json.dumps(listing["blocks"]) and "scheduled" in json.dumps(listing["blocks"])
    # Alice is a member, so she sees it too; Carol does not.
    assert "Apollo" in json.dumps(driver.as_user(ALICE.id).command("/debrief", "list").json())
    assert "no projects" in shown(driver.as_user(CAROL.id).command("/debrief", "list"))

    # Only the lead or the creator can cancel; a name that matches nothing says so. The answers
    # come through the command's response_url, which works wherever the command was typed.
    answers = len(slack.calls_to("response_url"))
    driver.as_user(ALICE.id).command("/debrief", "cancel Apollo")
    slack.wait_for("response_url", count=answers + 1)
    assert "no scheduled or open project called that" in slack.calls_to("response_url")[-1].args["text"]
    maya.command("/debrief", "cancel")
    slack.wait_for("response_url", count=answers + 2)
    assert "Name the project to cancel" in slack.calls_to("response_url")[-1].args["text"]
    maya.command("/debrief", "cancel apollo")
    slack.wait_for("response_url", count=answers + 3)
    assert "Cancelled the debrief of #" in slack.calls_to("response_url")[-1].args["text"]
    assert slack.calls_to("chat.postEphemeral") == []
    project = only_project(db)
    assert project.state is ProjectState.CANCELLED
    assert "0 due" in app.tick(project.debrief_due_at)
    assert slack.calls_to("chat.postMessage") == []

    assert "drafts coaching about you" in shown(maya.command("/growth", "help"))
    assert "drafts coaching for someone who reports to you" in shown(maya.command("/coach", "help"))


def test_buttons_are_checked_against_the_database(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    new_project(driver, slack)
    project = only_project(db)
    app.tick(project.debrief_due_at)
    dm = slack.last_dm(MAYA.id)
    assert dm is not None
    # Carol presses a copy of Maya's button: she owes no such answer.
    opened = len(slack.calls_to("views.open"))
    driver.as_user(CAROL.id).click(dm, value=button_beside(dm, "Alice Chen"))
    slack.wait_for("views.open", count=opened + 1)
    notice = slack.open_modal(CAROL.id)
    assert notice is not None and "not yours to answer" in json.dumps(notice["blocks"])
    # A submission forged for someone else's debrief stores nothing.
    form = open_form(driver, slack, MAYA.id, dm, "Alice Chen")
    slack.wait_for("views.open", count=opened + 2)
    forged = driver.as_user(CAROL.id).submit(form, FULL_ANSWERS, strict=False).json()
    assert forged["response_action"] == "update"
    assert "This form is not yours" in json.dumps(forged["view"])
    assert count(db, Feedback) == 0


def test_slack_rate_limits_and_outages_lose_nothing(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    new_project(driver, slack, Team_members=[ALICE.id])
    project = only_project(db)
    # A 429 with Retry-After is honoured and retried inside the same tick.
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    assert "1 due, 1 done, 0 failed" in app.tick(project.debrief_due_at)
    statuses = [c.status for c in slack.calls_to("chat.postMessage")]
    assert statuses == [429, 200]

    # A 503 may mean Slack posted it: the job is done, the DM waits, and the next tick looks for
    # it in the DM's history before it sends again. It sends once.
    second, _ = new_project(driver, slack, Project_name="Gemini", Team_members=[BOB.id])
    assert second.status == 200
    with db.transaction() as session:
        gemini = session.exec(select(Project).where(Project.name == "Gemini")).one()
    slack.fail_next("chat.postMessage", status=503, retry_after=None, times=1)
    report = app.tick(gemini.debrief_due_at)
    assert "1 due, 1 done, 0 failed" in report and "1 to retry" in report
    with db.transaction() as session:
        waiting = session.exec(select(OutboxMessage).where(OutboxMessage.ref_id == gemini.id)).one()
        assert waiting.uncertain and waiting.ts is None
    assert "0 sent" in app.tick(gemini.debrief_due_at + timedelta(seconds=5))  # settling
    history = len(slack.calls_to("conversations.history"))
    assert "1 sent" in app.tick(gemini.debrief_due_at + timedelta(minutes=6))
    assert len(slack.calls_to("conversations.history")) == history + 1
    gemini_posts = [c for c in slack.calls_to("chat.postMessage") if "Gemini" in c.args["text"]]
    assert len([c for c in gemini_posts if c.ok]) == 1


def test_retried_events_are_handled_once(app: AppProcess, driver: SlackDriver, slack: FakeSlack) -> None:
    maya = driver.as_user(MAYA.id)
    event = {
        "type": "app_home_opened",
        "user": MAYA.id,
        "channel": "D0MAYA",
        "tab": "home",
        "event_ts": "1700000000.000100",
    }
    first = maya.event(event, event_id="Ev0001")
    retry = maya.event(event, event_id="Ev0001", retry_num=1)
    assert first.status == 200 and retry.status == 200
    slack.wait_for("views.publish", count=1)
    maya.event(event, event_id="Ev0002")
    slack.wait_for("views.publish", count=2)
    assert len(slack.calls_to("views.publish")) == 2
    home = slack.home(MAYA.id)
    assert home is not None and "New project" in json.dumps(home["blocks"])


def test_http_edge(app: AppProcess, driver: SlackDriver) -> None:
    import urllib.error
    import urllib.request

    with urllib.request.urlopen(f"{app.url}/healthz") as response:
        assert json.loads(response.read()) == {"ok": True, "database": "ok", "slack": "ok"}
    unsigned = driver.send_raw(
        b"command=/debrief&user_id=U0MAYA", "application/x-www-form-urlencoded", sign=False
    )
    assert unsigned.status == 401
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{app.url}/nope")
    assert missing.value.code == 404


def test_an_unexpected_failure_gives_the_user_an_error_id_that_is_in_the_log(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack
) -> None:
    # A refusal that is not Slack being down (an outage is one line and "try again": see
    # tests/test_operator_failures.py): a bug on our side, as far as anyone can tell.
    slack.fail_next("views.open", error="invalid_arguments")
    response = driver.as_user(MAYA.id).command("/debrief")
    assert response.status == 200  # acknowledged at once; the failure comes after the ack
    slack.wait_for("response_url")  # through the command's response_url: it works in any channel
    ephemeral = slack.ephemerals(MAYA.id)[-1]
    text = ephemeral["text"]
    assert "Something went wrong" in text
    error_id = text.rsplit("error id ", 1)[1].rstrip(".")
    assert len(error_id) == 8
    deadline = time.monotonic() + 5
    while f"error id {error_id}" not in app.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"error id {error_id}" in app.log()
    assert "Traceback" in app.log()  # the operator gets the whole story, the user only the id


def test_who_left_the_programme_is_not_debriefed(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    new_project(driver, slack, **{"Do members give feedback on the lead?": "named"})
    project = only_project(db)
    # Alice leaves the feedback programme (/feedback delete) before the debrief starts.
    opened = len(slack.calls_to("views.open"))
    driver.as_user(ALICE.id).command("/feedback", "delete")
    slack.wait_for("views.open", count=opened + 1)
    confirm = slack.open_modal(ALICE.id)
    assert confirm is not None
    assert driver.as_user(ALICE.id).submit(confirm, {}).json()["response_action"] == "update"

    app.tick(project.debrief_due_at)
    assert slack.last_dm(ALICE.id) is None  # not prompted
    lead_dm, bob_dm = slack.last_dm(MAYA.id), slack.last_dm(BOB.id)
    assert lead_dm is not None and bob_dm is not None
    # The lead cannot debrief her, and she cannot answer with a copy of Bob's button.
    notice = open_form(driver, slack, MAYA.id, lead_dm, "Alice Chen")
    assert "Alice Chen left the feedback programme" in json.dumps(notice["blocks"])
    notice = open_form(driver, slack, ALICE.id, bob_dm, "Maya Okafor")
    assert "You left the feedback programme" in json.dumps(notice["blocks"])
    assert count(db, Feedback) == 0
    # A new project with her is refused on the members field, naming her.
    response, _ = new_project(driver, slack, **{"Project name": "Gemini"})
    assert response.json()["response_action"] == "errors"
    assert "left the feedback programme" in response.json()["errors"]["members"]
    assert "Alice Chen" in response.json()["errors"]["members"]
