"""Logs carry no feedback: every flow that carries text, at DEBUG and at INFO, with Slack
refusing, failing, rate limiting and answering late, leaves no note, name of a project, reason,
token or signing secret in the log of ``brickwork serve`` or of ``brickwork tick``; every line is
ours (a timestamp, a level, a logger) or an indented traceback line, so text from outside can
never start a line of its own; and at DEBUG the Slack client says which method ran and how it
ended."""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlmodel import select

from bot.logs import QUIET_LIBRARIES, SafeFormatter, configure_logging
from bot.standin.driver import SlackDriver
from bot.standin.llm import FakeLLM
from bot.standin.webapi import FakeSlack
from storage.db import Database
from storage.models import FeedbackRequest, Project, RequestState
from tests.cli import brickwork
from tests.harness import ALICE, BOB, CAROL, MAYA, AppProcess, start_app
from tests.test_coach_e2e import coach, good_answer, make_manager
from tests.test_coach_e2e import give as coach_give
from tests.test_concurrency import recorded_as
from tests.test_debrief_e2e import (
    FULL_ANSWERS,
    everyone_prompted,
    everyone_reminded,
    new_project,
    open_form,
    shown,
)
from tests.test_feedback_e2e import m, open_modal_by_click

FORGED = "2026-01-01 00:00:00,000 ERROR brickwork: forged"
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")
CONTINUATION = "  | "


def concrete(canary: str, what: str) -> str:
    """A note specific enough that no hint asks for more, carrying ``canary``."""
    return (
        f"In the Tuesday outage review {canary}-{what} she wrote the rollback checklist "
        "and walked support through each step before the release."
    )


# -- running the flows --------------------------------------------------------------------------


def tick(app: AppProcess, now: datetime) -> str:
    """``brickwork tick --now`` like ``AppProcess.tick``, keeping stderr (its log) apart to check
    its lines; both streams go to ``app.ticks`` as well."""
    result = brickwork("tick", "--now", now.isoformat(), env=app.env, cwd=app.workdir)
    assert result.returncode in (0, 1), result.stderr
    app.ticks.append(result.stdout + result.stderr)
    assert_every_line_is_ours(result.stderr, "brickwork tick")
    return result.stdout


def submit_note(driver: SlackDriver, user: Any, form: dict[str, Any], values: dict[str, Any]) -> Any:
    """Submit; a hint about a note is answered once, and the same form again is accepted."""
    response = driver.as_user(user.id).submit(form, values)
    if response.text and (response.json() or {}).get("response_action") == "errors":
        response = driver.as_user(user.id).submit(form, values)
    assert response.status == 200, response.text
    return response


def notes(canary: str, who: str) -> dict[str, str]:
    return {
        "delivery_note": concrete(canary, f"{who}-delivery"),
        "strengths_note": concrete(canary, f"{who}-strength") + "\n" + FORGED,
        "growth_note": concrete(canary, f"{who}-growth"),
    }


def give(
    driver: SlackDriver, slack: FakeSlack, giver: Any, subject: Any, canary: str, *, anonymous: bool
) -> None:
    opened = len(slack.calls_to("views.open"))
    response = driver.as_user(giver.id).command("/feedback", f"give {m(subject)} about {canary}-give-about")
    assert response.status == 200
    slack.wait_for("views.open", count=opened + 1)
    form = slack.open_modal(giver.id)
    assert form is not None and form["callback_id"] == "feedback_form"
    # Late handovers: evidence enough for the offline coach to draft a growth area.
    values: dict[str, Any] = {**FULL_ANSWERS, "Timeliness": "2", **notes(canary, f"give-{giver.name}")}
    if anonymous:
        values["Anonymity"] = ["anonymous"]
    submit_note(driver, giver, form, values)


def answered(slack: FakeSlack, count: int) -> str:
    """The text of the next answer through a response_url."""
    return str(slack.wait_for("response_url", count=count + 1, timeout=10)[-1].args.get("text"))


def every_flow(app: AppProcess, slack: FakeSlack, db: Database, canary: str) -> None:
    """Every flow that carries what people wrote, each text carrying ``canary``."""
    driver = SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)
    maya, alice, bob = (driver.as_user(u.id) for u in (MAYA, ALICE, BOB))

    # A project named with the canary; its debrief answered with notes, upward feedback too.
    response, _ = new_project(
        driver,
        slack,
        **{
            "Project name": f"Apollo {canary}-project",
            "Team members": [ALICE.id, BOB.id],
            "Do members give feedback on the lead?": "named",
        },
    )
    assert response.status == 200 and response.json()["response_action"] == "update", response.text
    with db.transaction() as session:
        project = session.exec(select(Project)).one()
    tick(app, everyone_prompted(project))
    lead_dm = slack.last_dm(MAYA.id)
    assert lead_dm is not None
    updates = len(slack.calls_to("chat.update"))
    form = open_form(driver, slack, MAYA.id, lead_dm, "Alice Chen")
    submit_note(driver, MAYA, form, {**FULL_ANSWERS, **notes(canary, "debrief")})
    slack.wait_for("chat.update", count=updates + 1)
    bob_dm = slack.last_dm(BOB.id)
    assert bob_dm is not None
    form = open_form(driver, slack, BOB.id, bob_dm, "Maya Okafor")
    submit_note(driver, BOB, form, {**FULL_ANSWERS, **notes(canary, "upward")})
    assert "Apollo" in shown(maya.command("/debrief", "list"))

    # Feedback given, named and anonymous.
    give(driver, slack, CAROL, ALICE, canary, anonymous=False)
    give(driver, slack, BOB, ALICE, canary, anonymous=False)
    give(driver, slack, ALICE, CAROL, canary, anonymous=True)

    # A request answered, one declined with a reason.
    before = len(slack.calls_to("response_url"))
    assert maya.command("/feedback", f"request {m(ALICE)} {m(BOB)} about {canary}-about").status == 200
    assert "Asked" in answered(slack, before)
    alice_dm = slack.last_dm(ALICE.id)
    assert alice_dm is not None
    form = open_modal_by_click(driver, slack, ALICE, alice_dm, "give_feedback")
    submit_note(driver, ALICE, form, {**FULL_ANSWERS, **notes(canary, "answer")})
    bob_dm = slack.last_dm(BOB.id)
    assert bob_dm is not None
    form = open_modal_by_click(driver, slack, BOB, bob_dm, "decline_request")
    posts = len(slack.calls_to("chat.postMessage"))
    reason = f"On leave {canary}-reason until the audit is over.\n{FORGED}"
    assert bob.submit(form, {"A reason for them (optional)": reason}).status == 200
    slack.wait_for("chat.postMessage", count=posts + 1)
    with db.transaction() as session:
        states = sorted(r.state.value for r in session.exec(select(FeedbackRequest)))
    assert states == sorted([RequestState.ANSWERED.value, RequestState.DECLINED.value])

    # Coaching drafted by the offline coach, edited and shared; the report finds it useful.
    make_manager(db, MAYA, ALICE)
    draft = coach(driver, slack, MAYA, m(ALICE))
    recorded_as(db, draft)  # the app knows the form is a draft now (see test_concurrency)
    first_step = next(
        b["block_id"] for b in draft["blocks"] if str(b.get("block_id", "")).endswith("_first_step")
    )
    shared = len(slack.calls_to("chat.postMessage"))
    response = maya.submit(draft, {first_step: f"Agree one date with support {canary}-coaching.\n{FORGED}"})
    assert response.json()["response_action"] == "update", response.text
    slack.wait_for("chat.postMessage", count=shared + 1, timeout=10)
    # Shared once the modal says so (the DM's ts is recorded by then, for the reaction's update).
    slack.wait_for(
        "views.update",
        where=lambda c: c.args.get("view_id") == draft["id"] and "Shared with" in json.dumps(c.args["view"]),
    )
    coaching_dm = slack.last_dm(ALICE.id)
    assert coaching_dm is not None and f"{canary}-coaching" in json.dumps(coaching_dm)
    updates = len(slack.calls_to("chat.update"))
    alice.click(coaching_dm, "coach_useful")
    slack.wait_for("chat.update", count=updates + 1)

    # What people read back: listings, the export.
    assert canary in shown(alice.command("/feedback", "mine"))
    assert f"{canary}-about" in shown(maya.command("/feedback", "requests"))
    for user in (MAYA, ALICE):
        uploads = len(slack.calls_to("files.completeUploadExternal"))
        driver.as_user(user.id).command("/feedback", "export")
        slack.wait_for("files.completeUploadExternal", count=uploads + 1, timeout=10)
    assert canary in slack.files(ALICE.id)[-1]["content"].decode()
    before = len(slack.calls_to("response_url"))
    maya.command("/debrief", f"cancel {canary}-no-such-project")
    assert "no scheduled or open project" in answered(slack, before)

    # Text that tries to start a line of its own, in every command and a note.
    for command, text in (
        ("/feedback", f"mine\n{FORGED}"),
        ("/feedback", f"{canary}-word\n{FORGED}"),
        ("/feedback", f"request <@U0ALICE|alice>\n{FORGED}"),
        ("/feedback", f"give {m(CAROL)} about {canary}-x\n{FORGED}"),
        ("/debrief", f"cancel {canary}-forged\n{FORGED}"),
        ("/debrief", f"{canary}\n{FORGED}"),
        ("/growth", f"{canary}\n{FORGED}"),
        ("/coach", f"{canary}\n{FORGED}"),
    ):
        assert driver.as_user(CAROL.id).command(command, text).status == 200
    # And in what no listener handles, whatever the app answers (Bolt would quote the whole
    # payload in its warning): a message event (the manifest subscribes to none, but a request
    # URL gets what it gets), a button and a form the app does not know.
    carol = driver.as_user(CAROL.id)
    carol.say(f"{canary}-message\n{FORGED}")
    unknown_button = {
        "type": "button",
        "action_id": "no_such_action",
        "text": {"type": "plain_text", "text": "Unknown"},
        "value": f"{canary}-value",
    }
    container = {
        "channel": "C0GENERAL",
        "ts": "1.1",
        "blocks": [{"type": "actions", "block_id": f"{canary}-block", "elements": [unknown_button]}],
    }
    carol.click(container, "no_such_action")
    note_input = {"type": "plain_text_input", "action_id": "input", "multiline": True}
    unknown_form = {
        "type": "modal",
        "id": "V0UNKNOWN",
        "callback_id": "no_such_form",
        "title": {"type": "plain_text", "text": "Unknown"},
        "blocks": [
            {
                "type": "input",
                "block_id": "note",
                "label": {"type": "plain_text", "text": "Note"},
                "element": note_input,
            }
        ],
    }
    carol.submit(unknown_form, {"note": f"{canary}-unknown-form\n{FORGED}"})

    # Time moves on: reminders, the window closing, anonymous feedback released.
    tick(app, everyone_reminded(project))
    tick(app, project.window_closes_at)
    tick(app, project.window_closes_at + timedelta(days=2))
    assert slack.invalid_calls() == []


# -- what the log may say ---------------------------------------------------------------------


def assert_every_line_is_ours(log: str, where: str) -> None:
    for number, line in enumerate(log.splitlines(), 1):
        assert LINE.match(line) or line.startswith(CONTINUATION), f"{where}, line {number}: {line!r}"
        assert not line.startswith(FORGED), f"{where}, line {number}: {line!r}"
        assert line != FORGED


def assert_nothing_leaked(app: AppProcess, canary: str) -> None:
    """No canary, token, signing secret or API key in the log of ``serve`` or of any tick, and
    every line of ``serve``'s log is ours."""
    log = app.log()
    secrets_ = {
        "a canary": canary,
        "the bot token": app.env["SLACK_BOT_TOKEN"],
        "a token": "xoxb-",
        "the signing secret": app.env["SLACK_SIGNING_SECRET"],
    }
    if "OPENAI_API_KEY" in app.env:
        secrets_["the OpenAI key"] = app.env["OPENAI_API_KEY"]
    logs = [("brickwork serve", log), *((f"brickwork tick #{i}", t) for i, t in enumerate(app.ticks))]
    for where, text in logs:
        for what, secret in secrets_.items():
            at = text.find(secret)
            assert at == -1, f"{what} in the log of {where}: {text[max(0, at - 300) : at + 100]!r}"
    assert "forged" not in log  # nothing of what was typed
    assert_every_line_is_ours(log, "brickwork serve")
    for text in (log, *app.ticks):
        assert_slack_lines_name_only_the_call(text)


OURS = ("brickwork", "bot", "handlers", "storage")


def below_warning_from_libraries(log: str) -> list[str]:
    """Lines below WARNING that a library wrote: the policy holds every library at WARNING."""
    found = []
    for line in log.splitlines():
        match = LINE.match(line)
        if match is None or match.group(1) not in ("DEBUG", "INFO"):
            continue
        name = line[match.end(1) + 1 :].split(":", 1)[0]
        ours = name.split(".", 1)[0] in OURS and not name.startswith(
            ("brickwork.bolt", "brickwork.slack.sdk")
        )
        if not ours:
            found.append(line)
    return found


SLACK_LINE = re.compile(
    r" brickwork\.slack: (?:[a-z]+\.[A-Za-z]+: (?:ok \(\d+ ms\)|[a-z_]+ \(HTTP \d+, \d+ ms\)|\w+ \(\d+ ms\))"
    r"|response_url: HTTP \d+ \(\d+ ms\))$"
)


def assert_slack_lines_name_only_the_call(log: str) -> None:
    """Every line of the Slack client: the method, how it ended, how long it took. Nothing else."""
    for line in log.splitlines():
        if " brickwork.slack: " in line:
            assert SLACK_LINE.search(line), line


def wait_for_log(app: AppProcess, needle: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in app.log():
        assert time.monotonic() < deadline, f"{needle!r} not in the log:\n{app.log()}"
        time.sleep(0.02)


@pytest.fixture
def canary() -> str:
    return f"CANARY{secrets.token_hex(6)}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_every_flow_leaves_no_text_in_the_log(
    slack: FakeSlack, database_url: str, tmp_path: Path, db: Database, canary: str, level: str
) -> None:
    app = start_app(slack, database_url, tmp_path, BRICKWORK_LOG_LEVEL=level)
    try:
        every_flow(app, slack, db, canary)
    except AssertionError as error:  # a flow that stalled: what the app said meanwhile
        tail = "\n".join(app.log().splitlines()[-40:])
        raise AssertionError(f"{error}\n--- the end of the server's log ---\n{tail}") from None
    finally:
        app.stop()
    assert_nothing_leaked(app, canary)
    log = app.log()
    assert below_warning_from_libraries(log) == [] and below_warning_from_libraries("".join(app.ticks)) == []
    debug = re.findall(r" DEBUG brickwork\.slack: ([\w.]+): ok \(\d+ ms\)$", log, flags=re.MULTILINE)
    if level == "DEBUG":
        wanted = {
            "auth.test",
            "users.info",
            "chat.postMessage",
            "chat.update",
            "views.open",
            "views.update",
            "views.publish",
            "files.completeUploadExternal",
        }
        assert wanted <= set(debug), sorted(set(debug))
        assert re.search(r" DEBUG brickwork\.slack: response_url: HTTP 200 \(\d+ ms\)$", log, re.M)
        # The tick's own client speaks the same way.
        for method in ("conversations.open", "chat.postMessage"):
            assert any(f" DEBUG brickwork.slack: {method}: ok (" in t for t in app.ticks), method
    else:
        assert " DEBUG " not in log and not any(" DEBUG " in t for t in app.ticks)


def test_slack_failing_leaves_no_text_in_the_log(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database, canary: str
) -> None:
    maya, bob = driver.as_user(MAYA.id), driver.as_user(BOB.id)

    # A request whose DM Slack refuses for good (invalid_blocks): told, logged by its code.
    slack.fail_next("chat.postMessage", error="invalid_blocks")
    before = len(slack.calls_to("response_url"))
    maya.command("/feedback", f"request {m(CAROL)} about {canary}-refused")
    assert "Carol" in answered(slack, before)
    wait_for_log(app, "refused by Slack for good: invalid_blocks")

    # A request whose DM gets a 500 (not retried: it may have been posted).
    slack.fail_next("chat.postMessage", status=500)
    before = len(slack.calls_to("response_url"))
    maya.command("/feedback", f"request {m(BOB)} about {canary}-500")
    answered(slack, before)
    # Then one rate limited (429: retried after Retry-After), whose retry is answered late.
    posts = slack.call_count("chat.postMessage")
    slack.fail_call("chat.postMessage", posts + 1, status=429, retry_after=1)
    slack.answer_late("chat.postMessage", number=posts + 2, delay=0.5)
    before = len(slack.calls_to("response_url"))
    maya.command("/feedback", f"request {m(ALICE)} about {canary}-late")
    assert "Asked *Alice Chen*" in answered(slack, before)
    tried = slack.calls_to("chat.postMessage")[posts : posts + 2]
    assert [(c.status, c.answer) for c in tried] == [(429, "sent"), (200, "late")]

    # A form opened through a 429 (retried after Retry-After), submitted with notes.
    slack.fail_next("views.open", status=429, retry_after=1)
    opened = len(slack.calls_to("views.open"))
    bob.command("/feedback", f"give {m(MAYA)} about {canary}-429")
    slack.wait_for("views.open", count=opened + 2, timeout=10)
    form = slack.open_modal(BOB.id)
    assert form is not None
    # The Homes republished after it are refused.
    slack.fail_next("views.publish", error="internal_error", times=3)
    submit_note(driver, BOB, form, {**FULL_ANSWERS, **notes(canary, "failing")})

    # A decline whose notice to the requester gets a 500 after Slack posted it (the outbox
    # finds it in the history), and whose DM update keeps failing (retried, then given up).
    alice_dm = slack.last_dm(ALICE.id)
    assert alice_dm is not None
    form = open_modal_by_click(driver, slack, ALICE, alice_dm, "decline_request")
    slack.fail_after_apply("chat.postMessage")
    slack.fail_next("chat.update", status=500, times=3)
    posts = len(slack.calls_to("chat.postMessage"))
    reason = f"Away {canary}-decline for the offsite.\n{FORGED}"
    assert driver.as_user(ALICE.id).submit(form, {"A reason for them (optional)": reason}).status == 200
    slack.wait_for("chat.postMessage", count=posts + 1)

    # A command whose answer through the response_url is refused; one whose form Slack refuses.
    slack.fail_next("response_url", status=500)
    maya.command("/feedback", f"request {m(BOB)} about {canary}-response-url")
    slack.wait_for("response_url", where=lambda c: c.status == 500)
    slack.fail_next("views.open", error="invalid_arguments")
    before = len(slack.calls_to("response_url"))
    bob.command("/feedback", f"give {m(CAROL)} about {canary}-invalid")
    # (The refused answer above is retried as a "try again" notice meanwhile: wait for Bob's.)
    slack.wait_for(
        "response_url",
        timeout=10,
        where=lambda c: c.number > before and "Something went wrong" in str(c.args.get("text")),
    )
    wait_for_log(app, "Traceback")
    # The export's upload fails.
    slack.fail_next("files.completeUploadExternal", status=500)
    maya.command("/feedback", "export")
    slack.wait_for("files.completeUploadExternal")
    # The tick sends what is due (the 500'd DM is settled through conversations.history); the
    # connection is closed on one of its posts without an answer.
    slack.drop_after_apply("chat.postMessage")
    tick(app, datetime.now().astimezone() + timedelta(minutes=5))
    tick(app, datetime.now().astimezone() + timedelta(hours=1))

    app.stop()
    assert_nothing_leaked(app, canary)
    log = app.log()
    assert below_warning_from_libraries(log) == [] and below_warning_from_libraries("".join(app.ticks)) == []
    # At DEBUG, one line per call: the method and how it ended, refusals and 5xx included.
    for method, outcome in [
        ("chat.postMessage", r"invalid_blocks \(HTTP 200, \d+ ms\)"),
        ("chat.postMessage", r"internal_error \(HTTP 500, \d+ ms\)"),
        ("chat.postMessage", r"ok \(\d+ ms\)"),
        ("files.completeUploadExternal", r"internal_error \(HTTP 500, \d+ ms\)"),
    ]:
        pattern = rf" DEBUG brickwork\.slack: {re.escape(method)}: (?:{outcome})$"
        assert re.search(pattern, log, re.M), pattern
    assert re.search(r"^  \| Traceback \(most recent call last\):$", log, re.M)


def test_the_llm_coach_leaves_no_text_in_the_log(
    slack: FakeSlack, database_url: str, tmp_path: Path, db: Database, canary: str
) -> None:
    """The prompt carries notes and the openai client logs whole requests at DEBUG: at DEBUG, a
    draft, an LLM failing with a 500 and one answering nonsense leave none of it in the log."""
    with FakeLLM() as llm:
        app = start_app(
            slack,
            database_url,
            tmp_path,
            BRICKWORK_COACH="llm",
            OPENAI_API_KEY="sk-test-key",
            OPENAI_BASE_URL=llm.url,
            OPENAI_TIMEOUT_SECONDS="2",
            OPENAI_MAX_RETRIES="1",
        )
        try:
            driver = SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)
            reports = (ALICE, BOB, CAROL)
            for number, report in enumerate(reports):
                givers = [u for u in (ALICE, BOB, CAROL) if u is not report]
                for other, giver in enumerate(givers):
                    # Names are taken out of a prompt: the notes differ by number, or the three
                    # prompts would be one (and answered from the cache).
                    note = concrete(canary, f"llm{number}{other}")
                    coach_give(driver, slack, giver, report, timeliness="2", note=note)
            driver.as_user(MAYA.id).command("/feedback", "mine")  # Maya is known
            for report in reports:
                make_manager(db, MAYA, report)
            llm.respond_with(good_answer)
            assert "AI model" in json.dumps(coach(driver, slack, MAYA, m(ALICE)))
            llm.fail_next(status=503, times=2)  # the first try and its retry (a 503 is retried)
            assert "offline coach" in json.dumps(coach(driver, slack, MAYA, m(BOB)))

            def echoing(body: dict[str, Any]) -> dict[str, Any]:
                """A model that puts a note it was given where the KPI key belongs (as a note
                written to steer it could ask for)."""
                prompt = body["messages"][-1]["content"]
                answer = good_answer(body)
                answer["growth_areas"][0]["kpi"] = prompt[prompt.index(canary) : prompt.index(canary) + 40]
                return answer

            llm.respond_with(echoing)
            assert "offline coach" in json.dumps(coach(driver, slack, MAYA, m(CAROL)))
            assert len(llm.calls_to_completions()) == 4
        finally:
            app.stop()
    assert_nothing_leaked(app, canary)


# -- the formatter itself ---------------------------------------------------------------------


def record(name: str, message: str, *args: Any, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, exc_info)


def test_the_formatter_writes_one_line_per_record_and_indents_tracebacks() -> None:
    formatter = SafeFormatter()
    line = formatter.format(record("brickwork.x", "said %s", f"a\n{FORGED}\r\u2028b"))
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert LINE.match(line) and line.endswith(f"said a\\n{FORGED}\\r\\u2028b")

    try:
        raise ValueError(f"bad value\n{FORGED}\nthird line")
    except ValueError:
        exc_info = sys.exc_info()
    text = formatter.format(record("brickwork.x", f"failed\n{FORGED}", exc_info=exc_info))
    first, *rest = text.split("\n")
    assert LINE.match(first) and first.endswith(f"failed\\n{FORGED}")
    assert rest and all(r.startswith(CONTINUATION) for r in rest), rest
    assert rest[0] == "  | Traceback (most recent call last):"
    # The exception's own words: on their line, escaped (or withheld, for a library's).
    assert rest[-1].startswith("  | builtins.ValueError")
    assert FORGED not in rest[-1] or f"\\n{FORGED}\\n" in rest[-1]
    assert not any(r.startswith(FORGED) for r in text.split("\n"))

    # A library's words about a request are cut before the body they quote.
    said = formatter.format(record("slack_bolt.App", 'Unhandled request ({"note": "%s"})', "secret note"))
    assert "secret note" not in said and "(details withheld)" in said
    sdk = formatter.format(
        record("slack_sdk.web.base_client", "Received the following response: {'text': 'x'}")
    )
    assert LINE.match(sdk) and "'x'" not in sdk


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


def test_configure_logging_holds_libraries_at_warning_and_keeps_lines_whole(restored_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    logging.getLogger("brickwork.test").debug("chat.postMessage: ok (%d ms)", 3)
    logging.getLogger("slack_sdk.web.base_client").debug("Sending a request - body: {'text': 'a note'}")
    logging.getLogger("slack_bolt.App").info("payload %s", {"note": "a note"})
    logging.getLogger("urllib3.connectionpool").debug("POST /api/chat.postMessage text=a note")
    try:
        {}["missing"]
    except KeyError:
        logging.getLogger("brickwork.test").exception("failed on\n%s", FORGED)
    logging.getLogger("slack_bolt.App").warning("Unhandled request ({'text': 'a note\n%s'})", FORGED)
    out = stream.getvalue()
    assert "a note" not in out
    assert "DEBUG brickwork.test: chat.postMessage: ok (3 ms)" in out
    assert_every_line_is_ours(out, "configure_logging")
    assert out.count(" ERROR brickwork.test: failed on\\n") == 1
    assert "WARNING slack_bolt.App: Unhandled request (details withheld)" in out


def test_the_llm_clients_own_libraries_are_held_at_warning(restored_logging: None, canary: str) -> None:
    """The client as ``bot.coach.LLMCoach`` makes it, in this process, at DEBUG: nothing below
    WARNING from any library, and neither the prompt nor the key at any level."""
    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    with FakeLLM() as llm:
        llm.respond_with(lambda body: {"growth_areas": []})
        llm.fail_next(status=500)  # retried by the client: its retry path logs too
        client = openai.OpenAI(base_url=llm.url, api_key="sk-test-key", timeout=5, max_retries=1)
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"a note {canary}"}]
        )
        client.close()
        assert len(llm.calls_to_completions()) == 2
    out = stream.getvalue()
    assert canary not in out and "sk-test-key" not in out
    assert_every_line_is_ours(out, "the LLM client")
    assert below_warning_from_libraries(out) == [], below_warning_from_libraries(out)[:5]
