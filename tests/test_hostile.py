"""A hostile client, end to end: what reaches ``POST /slack/events`` when the sender is not Slack,
or is Slack carrying what a person forged.

One ``brickwork serve`` for the module (starting one per case would take minutes), with a world
made through the real flows: Maya leads "Secret Apollo" (Alice, Bob, Carol), has a debrief form,
a "give feedback" form and a "New project" form open, asked Alice for feedback, and shared
coaching with Alice, who reports to her. Every attack is checked from outside: the HTTP answer,
what the stand-in for Slack received, the row count of every table and the server's log.

Listeners run after the ack, so "nothing happened" is checked after a harmless request by Bob
(``/debrief cancel`` of a project that does not exist, answered through its response_url):
once its answer arrived, anything the attack set off before it had its turn too.

Tests marked ``xfail(strict=True, reason="BUG: ...")`` show bugs found here; each reason says
what to fix.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import http.client
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
import sqlalchemy
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel, select

from bot.demo import button_beside
from bot.home.service import PUBLISH_DONE, PUBLISH_STARTED, REFRESH_DONE, REFRESH_QUEUED
from bot.inbound import Refused, verify_signature
from bot.settings import normalise_database_url
from bot.standin.driver import Actor, SlackDriver, build_state_values
from bot.standin.webapi import Call, FakeSlack, FakeUser
from handlers.forms import OUT_OF_DATE
from handlers.ids import ActionId
from storage import migrate
from storage.db import Database
from storage.models import (
    CoachingDraft,
    Feedback,
    FeedbackRequest,
    ModalView,
    Person,
    Project,
    RequestState,
)
from tests.harness import ALICE, BOB, CAROL, EVERYONE, GONE, MAYA, ROBOT, AppProcess, start_app
from tests.test_coach_e2e import coach, give, make_manager
from tests.test_concurrency import eventually
from tests.test_debrief_e2e import FULL_ANSWERS, everyone_prompted

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
ON_POSTGRES = bool(TEST_DATABASE_URL)
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
PROJECT = "Secret Apollo"
FORGED_LINE = "\n2026-01-01 00:00:00,000 ERROR brickwork: forged"
WENT_WRONG = "Something went wrong"
# What the stand-in records when the driver shows the app's HTTP answer: not calls the app made.
DRIVER_RECORDS = frozenset({"command_response", "response_action"})
SETTLED = "You have no scheduled or open project called that"
INVISIBLE = "\u200b\u2060\u3164\ufeff"
ARABIC_INDIC = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")
DANA = FakeUser(id="U0DANA", name="dana", real_name="Dana Reyes", tz="Europe/Lisbon")


# ---------------------------------------------------------------------------------------
# The world, made once
# ---------------------------------------------------------------------------------------


@dataclass
class World:
    slack: FakeSlack
    app: AppProcess
    driver: SlackDriver
    db: Database
    ids: dict[str, int]  # Slack user id -> person id
    new_project_done: dict[str, Any]  # Maya's New project form, submitted: it made PROJECT
    new_project_open: dict[str, Any]  # another New project form of Maya's, still open
    debrief_form: dict[str, Any]  # Maya's debrief form about Alice, open
    give_form: dict[str, Any]  # Maya's "give feedback" form about Bob, open
    carol_form: dict[str, Any]  # a form Carol opened (and submitted)
    draft_id: int  # Maya's coaching about Alice, shared with Alice
    draft_view: dict[str, Any]  # the modal Maya reviewed it in
    shared_dm: dict[str, Any]  # Alice's DM with the coaching and its Useful / Not useful buttons
    maya_dm: dict[str, Any]  # Maya's debrief DM (someone else's message, for Alice)

    def actor(self, user: Any) -> Actor:
        return self.driver.as_user(user.id)


def _module_database_url(tmp_path: Path) -> Iterator[str]:
    """As ``tests.conftest.database_url``, once for the module."""
    if not TEST_DATABASE_URL:
        url = f"sqlite:///{tmp_path / 'brickwork.db'}"
        migrate.upgrade(url)
        yield url
        return
    base = make_url(normalise_database_url(TEST_DATABASE_URL))
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def await_recorded(db: Database, view_id: str) -> None:
    """Wait until Brickwork has recorded the modal it opened (a moment after views.open answers)."""
    deadline = time.monotonic() + 5
    while True:
        with db.transaction() as session:
            if session.exec(select(ModalView).where(ModalView.view_id == view_id)).first() is not None:
                return
        assert time.monotonic() < deadline, f"modal {view_id} was never recorded"
        time.sleep(0.01)


def _opened(slack: FakeSlack, db: Database, user: Any, before: int) -> dict[str, Any]:
    """The modal that opened for ``user`` (the ``before + 1``-th views.open), once recorded."""
    slack.wait_for("views.open", count=before + 1)
    modal = slack.open_modal(user.id)
    assert modal is not None
    await_recorded(db, modal["id"])
    return modal


def _command_opening(
    slack: FakeSlack, db: Database, actor: Actor, command: str, text: str = ""
) -> dict[str, Any]:
    before = len(slack.calls_to("views.open"))
    assert actor.command(command, text).status == 200
    return _opened(slack, db, actor.slack.user(actor.user_id), before)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("hostile")
    urls = _module_database_url(workdir)
    url = next(urls)
    with FakeSlack(users=(*EVERYONE, DANA)) as slack:
        app = start_app(slack, url, workdir)
        db = Database(url)
        try:
            driver = SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)
            yield _make_world(slack, app, driver, db)
        finally:
            app.stop()
            db.dispose()
            next(urls, None)


def _make_world(slack: FakeSlack, app: AppProcess, driver: SlackDriver, db: Database) -> World:
    maya = driver.as_user(MAYA.id)
    # Maya asks Alice (the bot and the deactivated account are refused, and so become known).
    maya.command("/feedback", "request <@U0ALICE|alice> <@U0ROBOT|deploybot> <@U0GONE|gone> about the launch")
    slack.wait_for("chat.postMessage", where=lambda c: c.args["channel"] == slack.dm_channel(ALICE.id))
    # Evidence about Alice, then Maya becomes her manager.
    give(driver, slack, BOB, ALICE, timeliness="2", note="In the March release she missed the handover.")
    before = len(slack.calls_to("views.open"))
    driver.as_user(CAROL.id).command("/feedback", "give <@U0ALICE|alice>")
    carol_form = _opened(slack, db, CAROL, before)
    values = {
        **FULL_ANSWERS,
        "Timeliness": "1",
        "What went well": "The audit report reached us two days late.",
    }
    response = driver.as_user(CAROL.id).submit(carol_form, values)
    if response.text:  # a hint about the note: the same form again is accepted
        driver.as_user(CAROL.id).submit(carol_form, values)
    with db.transaction() as session:
        assert len(list(session.exec(select(Feedback)))) == 2
    make_manager(db, MAYA, ALICE)
    # A project: Maya leads, the three are members; the debrief starts.
    new_project_done = _command_opening(slack, db, maya, "/debrief")
    response = maya.submit(
        new_project_done,
        {
            "Project name": PROJECT,
            "Team members": [ALICE.id, BOB.id, CAROL.id],
            "End date": date.today(),
            "Run the debrief": "1",
            "Do members give feedback on the lead?": "named",
        },
        strict=False,
    )
    assert response.json()["response_action"] == "update", response.text
    with db.transaction() as session:
        project = session.exec(select(Project)).one()
    app.tick(everyone_prompted(project))
    maya_dm = slack.last_dm(MAYA.id)
    assert maya_dm is not None
    before = len(slack.calls_to("views.open"))
    maya.click(maya_dm, value=button_beside(maya_dm, "Alice Chen"))
    debrief_form = _opened(slack, db, MAYA, before)
    give_form = _command_opening(slack, db, maya, "/feedback", "give <@U0BOB|bob> about the launch")
    new_project_open = _command_opening(slack, db, maya, "/debrief")
    # Coaching about Alice, drafted, reviewed and shared with her.
    draft_view = coach(driver, slack, MAYA, "<@U0ALICE|alice>")
    assert draft_view["callback_id"] == "coach_draft", draft_view
    to_alice = lambda c: c.args["channel"] == slack.dm_channel(ALICE.id)  # noqa: E731
    posts = len([c for c in slack.calls_to("chat.postMessage") if to_alice(c)])
    maya.submit(draft_view, {})
    slack.wait_for("chat.postMessage", count=posts + 1, where=to_alice)
    shared_dm = slack.last_dm(ALICE.id)
    assert shared_dm is not None and ActionId.COACH_USEFUL.value in json.dumps(shared_dm["blocks"])
    with db.transaction() as session:
        draft_id = session.exec(select(CoachingDraft)).one().id
        ids = {p.slack_user_id: p.id for p in session.exec(select(Person))}
    assert draft_id is not None and {ROBOT.id, GONE.id} <= set(ids)
    driver.as_user(DANA.id).command("/feedback", "mine")  # Dana is known too
    world = World(
        slack=slack,
        app=app,
        driver=driver,
        db=db,
        ids={k: v for k, v in ids.items() if v is not None},
        new_project_done=new_project_done,
        new_project_open=new_project_open,
        debrief_form=debrief_form,
        give_form=give_form,
        carol_form=carol_form,
        draft_id=draft_id,
        draft_view=draft_view,
        shared_dm=shared_dm,
        maya_dm=maya_dm,
    )
    quiet(world)
    settle(world)
    return world


# ---------------------------------------------------------------------------------------
# Watching what happens
# ---------------------------------------------------------------------------------------


def row_counts(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        return {
            table.name: session.execute(
                sqlalchemy.select(sqlalchemy.func.count()).select_from(table)
            ).scalar_one()
            for table in SQLModel.metadata.sorted_tables
        }


@dataclass(frozen=True)
class Mark:
    calls: int
    rows: dict[str, int]
    log: int


def mark(world: World) -> Mark:
    return Mark(len(world.slack.calls), row_counts(world.db), world.app.log_size())


def settle(world: World) -> None:
    """A harmless request, answered after the ack: once its answer is in, whatever an earlier
    request set off after its own ack has had its turn — and then every App Home refresh it
    queued (run in a background pool) and every publish started (a Home action publishes on its
    listener's thread) is over, as the app's DEBUG log says."""
    answered = lambda c: SETTLED in str(c.args.get("text"))  # noqa: E731
    before = len([c for c in world.slack.calls_to("response_url") if answered(c)])
    world.actor(BOB).command("/debrief", f"cancel no-such-project-{uuid.uuid4().hex[:6]}")
    world.slack.wait_for("response_url", count=before + 1, where=answered)
    refreshes = _REFRESHES.setdefault(id(world), [0, 0, 0, 0, 0])  # log offset, queued, done, started, done

    def drained() -> bool:
        size = world.app.log_size()
        new = world.app.log_since(refreshes[0])[: size - refreshes[0]]
        complete = new[: new.rfind("\n") + 1]  # a line still being written waits its turn
        refreshes[0] += len(complete.encode())
        for i, line in enumerate((REFRESH_QUEUED, REFRESH_DONE, PUBLISH_STARTED, PUBLISH_DONE), 1):
            refreshes[i] += complete.count(line)
        return refreshes[2] >= refreshes[1] and refreshes[4] >= refreshes[3]

    eventually("the App Home refreshes queued and publishes started so far", drained)


_REFRESHES: dict[int, list[int]] = {}


def calls_since(world: World, since: Mark) -> list[Call]:
    """What the app sent Slack since ``since``, but the answers to ``settle``."""
    return [
        c
        for c in world.slack.calls[since.calls :]
        if not (c.method == "response_url" and SETTLED in str(c.args.get("text")))
        and c.method not in DRIVER_RECORDS
    ]


def new_log(world: World, since: Mark) -> str:
    return world.app.log_since(since.log)


def assert_nothing_happened(world: World, since: Mark) -> None:
    settle(world)
    assert [c.summary() for c in calls_since(world, since)] == []
    assert row_counts(world.db) == since.rows
    assert "Traceback" not in new_log(world, since)


def told(world: World, since: Mark) -> list[str]:
    """What the app said through response_urls since ``since`` (not the answers to ``settle``)."""
    return [str(c.args.get("text")) for c in calls_since(world, since) if c.method == "response_url"]


def wait_until(world: World, since: Mark, wanted: Callable[[Call], bool], timeout: float = 5.0) -> Call:
    """The first call since ``since`` that is ``wanted``, once it arrives."""
    deadline = time.monotonic() + timeout
    while True:
        found = [c for c in calls_since(world, since) if wanted(c)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, [c.summary() for c in calls_since(world, since)]
        time.sleep(0.01)


def wait_log(world: World, since: Mark, needle: str, timeout: float = 1.0) -> str:
    """The log since ``since`` once it holds ``needle``, or after ``timeout``: a short window,
    only where the assertion is that something is not logged."""
    deadline = time.monotonic() + timeout
    while needle not in new_log(world, since) and time.monotonic() < deadline:
        time.sleep(0.02)
    return new_log(world, since)


def quiet(world: World, window: float = 0.3, timeout: float = 10.0) -> None:
    """Wait until the app has made no Slack call for ``window`` seconds (the end of setup only:
    Home refreshes run in a background pool after whatever set them off)."""
    deadline = time.monotonic() + timeout
    seen, since = len(world.slack.calls), time.monotonic()
    while time.monotonic() - since < window and time.monotonic() < deadline:
        time.sleep(0.02)
        if len(world.slack.calls) != seen:
            seen, since = len(world.slack.calls), time.monotonic()


def rows(world: World, model: Any) -> list[Any]:
    with world.db.transaction() as session:
        return list(session.exec(select(model)))


# ---------------------------------------------------------------------------------------
# Sending exactly what a hostile client sends
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def post(world: World, body: bytes, headers: list[tuple[str, str | bytes]]) -> Answer:
    """POST ``body`` with exactly ``headers`` (and Host, Content-Length): no Content-Type unless
    given, header values as bytes when they are not Latin-1."""
    url = urlsplit(world.app.events_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        connection.putrequest("POST", url.path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Answer(response.status, response.read().decode("utf-8", "replace"))
    finally:
        connection.close()


def send_signed(world: World, body: bytes, content_type: str | None) -> Answer:
    timestamp = str(int(time.time()))
    headers: list[tuple[str, str | bytes]] = [
        ("X-Slack-Request-Timestamp", timestamp),
        ("X-Slack-Signature", world.driver.signature(body, timestamp)),
    ]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    return post(world, body, headers)


def form(fields: Mapping[str, str]) -> bytes:
    return urlencode(dict(fields)).encode()


def payload_body(payload: Mapping[str, Any] | str) -> bytes:
    return form({"payload": payload if isinstance(payload, str) else json.dumps(payload)})


def command_fields(world: World, user: Any, command: str, text: str) -> dict[str, str]:
    """A slash command's form fields as Slack sends them, with a fresh trigger and response_url."""
    slack = world.slack
    return {
        "token": "fake-verification-token",
        "team_id": slack.team_id,
        "team_domain": slack.team_domain,
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": slack.app_id,
        "is_enterprise_install": "false",
        "response_url": slack.new_response_url(user.id, "C0GENERAL"),
        "trigger_id": slack.issue_trigger_id(user.id),
    }


def submission(world: World, user: Any, view: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``view_submission`` payload Slack sends when ``user`` submits ``view`` with ``values``."""
    actor = world.actor(user)
    payload = actor._base_payload("view_submission")
    payload["trigger_id"] = actor._trigger()
    full = copy.deepcopy(dict(view))
    full["state"] = {"values": build_state_values(view, values, strict=False)}
    payload["view"] = full
    payload["response_urls"] = []
    return payload


def event_envelope(world: World, event: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "token": "fake-verification-token",
        "team_id": world.slack.team_id,
        "api_app_id": world.slack.app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        **extra,
    }


def crafted_button(action_id: str, value: str) -> dict[str, Any]:
    """A message holding one button, as a forged request would present it."""
    return {
        "channel": "C0GENERAL",
        "ts": "1700000000.000100",
        "blocks": [
            {
                "type": "actions",
                "block_id": "crafted",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Forged"},
                        "action_id": action_id,
                        "value": value,
                    }
                ],
            }
        ],
    }


def notice_text(view: Mapping[str, Any] | str | None) -> str:
    if isinstance(view, str):
        view = json.loads(view)
    return json.dumps((view or {}).get("blocks"), ensure_ascii=False)


# =======================================================================================
# 1. Nothing happens without a valid signature
# =======================================================================================


def _canary_command(world: World, canary: str) -> tuple[bytes, str]:
    text = f"give <@U0BOB|bob> about {canary}{FORGED_LINE}"
    return form(command_fields(world, MAYA, "/feedback", text)), FORM


def _canary_interaction(world: World, canary: str) -> tuple[bytes, str]:
    values = {**FULL_ANSWERS, "What went well": f"{canary}{FORGED_LINE}"}
    return payload_body(submission(world, MAYA, world.give_form, values)), FORM


def _canary_event(world: World, canary: str) -> tuple[bytes, str]:
    event = {"type": "app_home_opened", "user": MAYA.id, "channel": "D0MAYA", "tab": "home"}
    envelope = event_envelope(world, event, token=f"{canary}{FORGED_LINE}")
    return json.dumps(envelope).encode(), JSON


BODIES: dict[str, Callable[[World, str], tuple[bytes, str]]] = {
    "command": _canary_command,
    "interaction": _canary_interaction,
    "event": _canary_event,
}
# A harmless request of each kind whose good signature a replay reuses (it does nothing itself).
HARMLESS: dict[str, Callable[[World], tuple[bytes, str]]] = {
    "command": lambda w: (form(command_fields(w, MAYA, "/feedback", "help")), FORM),
    "interaction": lambda w: (
        payload_body(
            {**w.actor(MAYA)._base_payload("view_closed"), "view": {"id": "V0NONE", "type": "modal"}}
        ),
        FORM,
    ),
    "event": lambda w: (json.dumps({"type": "url_verification", "challenge": "c"}).encode(), JSON),
}

Headers = list[tuple[str, str | bytes]]


def _now() -> int:
    return int(time.time())


def _signed_with(timestamp: str | bytes) -> Callable[[World, bytes], Headers]:
    """Headers whose signature is right for ``timestamp``: only the timestamp can be refused."""

    def headers(world: World, body: bytes) -> Headers:
        shown = timestamp.decode() if isinstance(timestamp, bytes) else timestamp
        base = b"v0:" + shown.encode("utf-8") + b":" + body
        digest = hmac.new(world.app.env["SLACK_SIGNING_SECRET"].encode(), base, hashlib.sha256).hexdigest()
        return [("X-Slack-Request-Timestamp", timestamp), ("X-Slack-Signature", f"v0={digest}")]

    return headers


def _late(seconds: int) -> Callable[[World, bytes], Headers]:
    return lambda world, body: _signed_with(str(_now() + seconds))(world, body)


def _signature(world: World, body: bytes, timestamp: str, secret: str | None = None) -> str:
    key = (secret or world.app.env["SLACK_SIGNING_SECRET"]).encode()
    return hmac.new(key, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


SIGNATURE_CASES: dict[str, Callable[[World, bytes], Headers]] = {
    "no headers": lambda w, b: [],
    "no timestamp": lambda w, b: [("X-Slack-Signature", "v0=" + _signature(w, b, str(_now())))],
    "no signature": lambda w, b: [("X-Slack-Request-Timestamp", str(_now()))],
    "timestamp abc": lambda w, b: _signed_with("abc")(w, b),
    "timestamp 1e9": lambda w, b: _signed_with("1e9")(w, b),
    "timestamp with a space": lambda w, b: _signed_with(f" {_now()}")(w, b),
    "timestamp in Arabic-Indic digits": lambda w, b: _signed_with(
        str(_now()).translate(ARABIC_INDIC).encode("utf-8")
    )(w, b),
    "timestamp -5": lambda w, b: _signed_with("-5")(w, b),
    "timestamp of 30 digits": lambda w, b: _signed_with("9" * 30)(w, b),
    "timestamp empty": lambda w, b: _signed_with("")(w, b),
    "timestamp with a fraction": lambda w, b: _signed_with(f"{_now()}.5")(w, b),
    "timestamp 10 minutes old": _late(-600),
    "timestamp 10 minutes ahead": _late(600),
    "wrong signature": lambda w, b: [
        ("X-Slack-Request-Timestamp", str(_now())),
        ("X-Slack-Signature", "v0=" + "0" * 64),
    ],
    "signed with another secret": lambda w, b: [
        ("X-Slack-Request-Timestamp", str(_now())),
        ("X-Slack-Signature", "v0=" + _signature(w, b, str(_now()), secret="another-secret")),
    ],
    "signature in uppercase hex": lambda w, b: [
        ("X-Slack-Request-Timestamp", str(_now())),
        ("X-Slack-Signature", "v0=" + _signature(w, b, str(_now())).upper()),
    ],
    "signature as v1=": lambda w, b: [
        ("X-Slack-Request-Timestamp", str(_now())),
        ("X-Slack-Signature", "v1=" + _signature(w, b, str(_now()))),
    ],
    "signature of another body": lambda w, b: [
        ("X-Slack-Request-Timestamp", str(_now())),
        ("X-Slack-Signature", "v0=" + _signature(w, b + b" ", str(_now()))),
    ],
}


@pytest.mark.parametrize("kind", list(BODIES))
@pytest.mark.parametrize("case", [*SIGNATURE_CASES, "a good signature replayed on another body"])
def test_an_unverifiable_request_is_401_and_changes_nothing(world: World, case: str, kind: str) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    body, content_type = BODIES[kind](world, canary)
    since = mark(world)
    if case in SIGNATURE_CASES:
        headers = SIGNATURE_CASES[case](world, body)
    else:  # a request Slack signed, sent again (its headers captured) with a body of ours
        harmless, harmless_type = HARMLESS[kind](world)
        headers = _signed_with(str(_now()))(world, harmless)
        assert post(world, harmless, [*headers, ("Content-Type", harmless_type)]).status in (200, 404)
        settle(world)
        since = mark(world)
    answer = post(world, body, [*headers, ("Content-Type", content_type)])
    assert answer.status == 401, answer
    assert canary not in answer.text
    settle(world)
    # The old bug: a timestamp that is not a number was a 500, after which the person the body
    # named got "Something went wrong" in a DM.
    messages = {"chat.postMessage", "chat.postEphemeral", "response_url"}
    assert [c.summary() for c in calls_since(world, since) if c.method in messages] == []
    assert [c.summary() for c in calls_since(world, since)] == []
    assert row_counts(world.db) == since.rows
    log = new_log(world, since)
    assert canary not in log and "ERROR brickwork: forged" not in log and "Traceback" not in log
    assert "(HTTP 401)" in log  # refused, and said so without quoting it


@pytest.mark.parametrize("kind", list(BODIES))
def test_the_same_bodies_properly_signed_are_acted_on(world: World, kind: str) -> None:
    """The control for the test above: each body does something once Slack signed it (so its 401
    was the signature's doing), and even then its content stays out of the log."""
    canary = f"canary-{uuid.uuid4().hex}"
    body, content_type = BODIES[kind](world, canary)
    feedback_before, homes_before = len(rows(world, Feedback)), homes(world, MAYA, BOB)
    since = mark(world)
    answer = send_signed(world, body, content_type)
    assert answer.status == 200, answer
    if kind == "command":  # the form opens ("about" on one line), or the person is told why not
        answered = wait_until(world, since, lambda c: c.method in {"views.open", "response_url"})
        if answered.method == "views.open" and answered.ok:
            await_recorded(world.db, answered.response["view"]["id"])
    elif kind == "event":
        await_homes(world, {MAYA.id: homes_before[MAYA.id]})
    elif len(rows(world, Feedback)) == feedback_before + 1:  # stored: Bob's Home shows it
        await_homes(world, {BOB.id: homes_before[BOB.id]})
    else:  # or answered with a hint about the note: it was read
        assert answer.json()["response_action"] == "errors", answer
    settle(world)
    log = new_log(world, since)
    assert canary not in log and "ERROR brickwork: forged" not in log and "Traceback" not in log


def test_a_timestamp_in_other_digits_is_refused_even_when_signed_for() -> None:
    """Python's ``int`` reads digits of any script (Arabic-Indic ones are 1800000000 too), and
    strips spaces and a sign: the gate must not be that lenient."""
    now = 1_800_000_000
    for shown in (str(now).translate(ARABIC_INDIC), f"{now}.0", f"+{now}", f" {now}", f"{now} "):
        body = b"payload=%7B%7D"
        digest = hmac.new(b"s3cret", b"v0:" + shown.encode() + b":" + body, hashlib.sha256).hexdigest()
        headers = {"x-slack-request-timestamp": shown, "x-slack-signature": f"v0={digest}"}
        with pytest.raises(Refused) as refused:
            verify_signature("s3cret", headers, body, now=lambda: float(now))
        assert refused.value.status == 401


def test_a_timestamp_with_a_trailing_newline_is_refused() -> None:
    now = 1_800_000_000
    shown, body = f"{now}\n", b"payload=%7B%7D"
    digest = hmac.new(b"s3cret", b"v0:" + shown.encode() + b":" + body, hashlib.sha256).hexdigest()
    headers = {"x-slack-request-timestamp": shown, "x-slack-signature": f"v0={digest}"}
    with pytest.raises(Refused):
        verify_signature("s3cret", headers, body, now=lambda: float(now))


# =======================================================================================
# 2. A malformed signed body is 4xx, never a 500, never a traceback
# =======================================================================================


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _submission_with(world: World, change: Callable[[dict[str, Any]], None]) -> bytes:
    payload = submission(world, MAYA, world.give_form, FULL_ANSWERS)
    change(payload)
    return payload_body(payload)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = payload
        for key in parents:
            node = node[key]
        node[last] = value

    return change


def _block_actions(world: World, **override: Any) -> bytes:
    actor = world.actor(MAYA)
    payload = actor._base_payload("block_actions")
    payload["trigger_id"] = actor._trigger()
    payload["actions"] = [{"action_id": ActionId.RESUME.value, "block_id": "settings", "type": "button"}]
    payload.update(override)
    return payload_body(payload)


MALFORMED: dict[str, Callable[[World], tuple[bytes, str | None]]] = {
    "payload that is not JSON": lambda w: (payload_body("{not json"), FORM),
    "payload a JSON array": lambda w: (payload_body("[1, 2]"), FORM),
    "payload a JSON string": lambda w: (payload_body('"block_actions"'), FORM),
    "payload a number": lambda w: (payload_body("42"), FORM),
    "payload null": lambda w: (payload_body("null"), FORM),
    "form with invalid UTF-8": lambda w: (b"command=%2Ffeedback&text=\xff\xfe&user_id=U0MAYA", FORM),
    "payload with invalid UTF-8": lambda w: (b"payload=%7B%22type%22%3A%22\xc3%22%7D", FORM),
    "JSON with invalid UTF-8": lambda w: (b'{"type": "url_verification", "challenge": "\xff"}', JSON),
    "text/plain": lambda w: (_block_actions(w), "text/plain"),
    "multipart/form-data": lambda w: (
        b'--x\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{}\r\n--x--\r\n',
        "multipart/form-data; boundary=x",
    ),
    "application/xml": lambda w: (b"<payload><type>block_actions</type></payload>", "application/xml"),
    "no content type": lambda w: (form(command_fields(w, MAYA, "/feedback", "help")), None),
    "a form field given twice": lambda w: (
        form(command_fields(w, MAYA, "/feedback", "help")) + b"&user_id=U0BOB",
        FORM,
    ),
    "payload given twice": lambda w: (_block_actions(w) + b"&" + _block_actions(w), FORM),
    "10,000 levels of nesting in a payload": lambda w: (
        payload_body(json.dumps({"type": "block_actions", "x": "@@"}).replace('"@@"', _nested(10_000))),
        FORM,
    ),
    "10,000 levels of nesting in an event": lambda w: (
        json.dumps(event_envelope(w, {"type": "app_home_opened", "user": MAYA.id}, x="@@"))
        .replace('"@@"', _nested(10_000))
        .encode(),
        JSON,
    ),
    "a 5,000-digit number": lambda w: (
        payload_body(json.dumps({"type": "block_actions", "x": 1}).replace("1}", "9" * 5000 + "}")),
        FORM,
    ),
    "a 5,000-digit event_time": lambda w: (
        json.dumps(event_envelope(w, {"type": "app_home_opened", "user": MAYA.id}, event_time=1))
        .replace('"event_time": 1', '"event_time": ' + "9" * 5000)
        .encode(),
        JSON,
    ),
    "an infinite event_time": lambda w: (
        json.dumps(event_envelope(w, {"type": "app_home_opened", "user": MAYA.id}, event_time=1))
        .replace('"event_time": 1', '"event_time": 1e999')
        .encode(),
        JSON,
    ),
    "user as a string": lambda w: (_submission_with(w, _set("user", MAYA.id)), FORM),
    "user as an int": lambda w: (_submission_with(w, _set("user", 7)), FORM),
    "user as a list": lambda w: (_submission_with(w, _set("user", [MAYA.id])), FORM),
    "user.id as a huge int": lambda w: (_submission_with(w, _set("user.id", 10**30)), FORM),
    "actions as a dict": lambda w: (
        _block_actions(w, actions={"action_id": ActionId.RESUME.value, "block_id": "b", "type": "button"}),
        FORM,
    ),
    "actions empty": lambda w: (_block_actions(w, actions=[]), FORM),
    "state.values a list": lambda w: (_submission_with(w, _set("view.state.values", [])), FORM),
    "state.values a string": lambda w: (_submission_with(w, _set("view.state.values", "x")), FORM),
    "state.values of lists": lambda w: (_submission_with(w, _set("view.state.values", {"b": []})), FORM),
    "state.values of strings": lambda w: (
        _submission_with(w, _set("view.state.values", {"b": {"input": "x"}})),
        FORM,
    ),
    "state.values without element types": lambda w: (
        _submission_with(w, _set("view.state.values", {"b": {"input": {"value": "x"}}})),
        FORM,
    ),
    "view as a string": lambda w: (_submission_with(w, _set("view", "V0")), FORM),
    "private_metadata holding a lone surrogate": lambda w: (
        payload_body(
            json.dumps(submission(w, MAYA, w.give_form, FULL_ANSWERS)).replace("request_id", "x\\ud800", 1)
        ),
        FORM,
    ),
    "payload type shortcut": lambda w: (_submission_with(w, _set("type", "shortcut")), FORM),
    "payload type message_action": lambda w: (_submission_with(w, _set("type", "message_action")), FORM),
    "payload type unknown": lambda w: (_submission_with(w, _set("type", "frobnicate")), FORM),
    "payload without a type": lambda w: (
        payload_body({k: v for k, v in submission(w, MAYA, w.give_form, {}).items() if k != "type"}),
        FORM,
    ),
    "event body an array": lambda w: (b"[]", JSON),
    "event body a string": lambda w: (b'"event_callback"', JSON),
    "event body a number": lambda w: (b"7", JSON),
    "event body null": lambda w: (b"null", JSON),
    "event body not JSON": lambda w: (b"{type: event_callback}", JSON),
    "event of an unknown envelope type": lambda w: (
        json.dumps(event_envelope(w, {"type": "app_home_opened", "user": MAYA.id}, type="bogus")).encode(),
        JSON,
    ),
    "event without an event": lambda w: (
        json.dumps({k: v for k, v in event_envelope(w, {}).items() if k != "event"}).encode(),
        JSON,
    ),
    "event whose user is a list": lambda w: (
        json.dumps(event_envelope(w, {"type": "app_home_opened", "user": [MAYA.id]})).encode(),
        JSON,
    ),
    "a command without user_id": lambda w: (
        form({k: v for k, v in command_fields(w, MAYA, "/feedback", "help").items() if k != "user_id"}),
        FORM,
    ),
    "a command with a lowercase user_id": lambda w: (
        form({**command_fields(w, MAYA, "/feedback", "help"), "user_id": "u0maya"}),
        FORM,
    ),
    "an empty form": lambda w: (b"", FORM),
    "a form that is neither command nor payload": lambda w: (b"hello=world", FORM),
    "a form without =": lambda w: (b"hello", FORM),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_signed_body_is_4xx_and_changes_nothing(world: World, case: str) -> None:
    body, content_type = MALFORMED[case](world)
    since = mark(world)
    answer = send_signed(world, body, content_type)
    assert 400 <= answer.status < 500, answer
    assert_nothing_happened(world, since)


def test_a_form_body_that_starts_with_a_brace_is_4xx(world: World) -> None:
    payload = submission(world, MAYA, world.give_form, FULL_ANSWERS)
    body = b'{"x":1}=1&' + payload_body(payload)
    since = mark(world)
    answer = send_signed(world, body, FORM)
    assert answer.status != 500, answer
    assert 400 <= answer.status < 500, answer
    assert_nothing_happened(world, since)


def test_a_form_body_cannot_smuggle_another_payload_past_the_gate(world: World) -> None:
    checked = json.loads(parse_qs(_block_actions(world).decode())["payload"][0])
    smuggled = world.actor(BOB)._base_payload("block_actions")
    smuggled["trigger_id"] = world.slack.issue_trigger_id(BOB.id)
    smuggled["actions"] = [{"action_id": ActionId.DIGEST_OFF.value, "block_id": "settings", "type": "button"}]
    # Valid JSON (Bolt's reading) and a valid strict form (the gate's reading) at once.
    body = (
        '{"k": "=x&payload=' + quote(json.dumps(checked), safe="") + '&z=", ' + json.dumps(smuggled)[1:]
    ).encode()
    assert isinstance(json.loads(body), dict)
    for_bob = lambda c: c.args.get("user_id") == BOB.id  # noqa: E731
    bobs_homes = len([c for c in world.slack.calls_to("views.publish") if for_bob(c)])
    since = mark(world)
    answer = send_signed(world, body, FORM)
    if answer.status == 200:  # what Bolt did with it: Bob's setting changed, his Home republished
        world.slack.wait_for("views.publish", count=bobs_homes + 1, where=for_bob)
    assert 400 <= answer.status < 500, f"HTTP {answer.status}: Bolt acted on a payload the gate never saw"
    assert_nothing_happened(world, since)


@pytest.mark.parametrize(
    "extra",
    [{"authorizations": "x"}, {"authorizations": [5]}, {"response_urls": 5}, {"response_urls": [5]}],
    ids=[
        "authorizations a string",
        "authorizations of numbers",
        "response_urls a number",
        "response_urls of numbers",
    ],
)
def test_a_field_bolt_reads_of_another_shape_never_reaches_bolt(world: World, extra: dict[str, Any]) -> None:
    """Bolt gets the body as the gate checked it, with only the fields the gate knows: a field
    Bolt would read while it builds its context, of a shape Slack never sends, is dropped."""
    actor = world.actor(MAYA)
    payload = {**actor._base_payload("block_actions"), "trigger_id": actor._trigger(), **extra}
    payload["actions"] = [{"action_id": ActionId.DIGEST_ON.value, "block_id": "settings", "type": "button"}]
    for_maya = lambda c: c.args.get("user_id") == MAYA.id  # noqa: E731
    homes = len([c for c in world.slack.calls_to("views.publish") if for_maya(c)])
    since = mark(world)
    answer = send_signed(world, payload_body(payload), FORM)
    assert answer.status == 200, answer
    world.slack.wait_for("views.publish", count=homes + 1, where=for_maya)  # the button was pressed
    assert "Traceback" not in new_log(world, since)


def test_an_app_home_opened_event_without_a_user_is_refused_quietly(world: World) -> None:
    envelope = event_envelope(world, {"type": "app_home_opened", "tab": "home", "channel": "D0MAYA"})
    since = mark(world)
    answer = send_signed(world, json.dumps(envelope).encode(), JSON)
    assert answer.status < 500
    settle(world)
    assert "Traceback" not in wait_log(world, since, "Traceback")
    assert [c.summary() for c in calls_since(world, since)] == []


def test_a_command_whose_text_says_payload_is_answered(world: World) -> None:
    response = world.actor(MAYA).command("/feedback", "give <@U0BOB|bob> about the payload service")
    assert response.status == 200, response.text
    opened = world.slack.wait_for(
        "views.open", where=lambda c: "payload service" in json.dumps(c.args.get("view"))
    )[-1]
    await_recorded(world.db, opened.response["view"]["id"])


@pytest.mark.parametrize("channel_id", ["Cabc", "C" + "A" * 30, "G_1", "D-"])
def test_a_command_from_a_channel_id_of_another_shape_is_not_an_error(world: World, channel_id: str) -> None:
    fields = {**command_fields(world, MAYA, "/debrief", ""), "channel_id": channel_id}
    since = mark(world)
    answer = send_signed(world, form(fields), FORM)
    assert answer.status < 500
    # Either the New project form opens (the channel left out), or the person is told something.
    answered = wait_until(world, since, lambda c: c.method == "views.open" or c.method == "response_url")
    if answered.method == "views.open" and answered.ok:
        await_recorded(world.db, answered.response["view"]["id"])
    settle(world)
    assert not any(WENT_WRONG in text for text in told(world, since)), told(world, since)
    log = new_log(world, since)
    assert "Traceback" not in log and channel_id not in log


@pytest.mark.parametrize(("command", "text"), [("/debrief", ""), ("/feedback", "give <@U0BOB|bob>")])
def test_a_trigger_id_slack_does_not_know_is_not_an_error(world: World, command: str, text: str) -> None:
    fields = {**command_fields(world, MAYA, command, text), "trigger_id": "12345.67890.forged"}
    since = mark(world)
    answer = send_signed(world, form(fields), FORM)
    assert answer.status == 200
    wait_until(world, since, lambda c: c.method == "response_url")  # the person is told what happened
    settle(world)
    assert not any(WENT_WRONG in text for text in told(world, since)), told(world, since)
    assert "Traceback" not in new_log(world, since)


def test_a_response_url_that_is_not_slacks_is_refused_quietly(world: World) -> None:
    """A response_url is where Brickwork would POST its answer: one that is not Slack's is a body
    Slack never sends, refused at the door, with no request to the foreign host."""
    fields = {
        **command_fields(world, MAYA, "/feedback", "request <@U0ROBOT|deploybot>"),  # the bot: refused
        "response_url": "https://evil.example/hooks/1",
    }
    since = mark(world)
    answer = send_signed(world, form(fields), FORM)
    assert 400 <= answer.status < 500, answer
    assert_nothing_happened(world, since)
    assert "Traceback" not in new_log(world, since)


def test_a_newcomer_whose_user_name_holds_nul_is_answered(world: World) -> None:
    newcomer = FakeUser(id="U0NEW" + uuid.uuid4().hex[:6].upper(), name="nul", real_name="Nora Null")
    world.slack.add_user(newcomer)
    fields = {**command_fields(world, newcomer, "/feedback", "mine"), "user_name": "no\x00ra"}
    since = mark(world)
    answer = send_signed(world, form(fields), FORM)
    assert answer.status == 200
    if "Feedback you received" not in answer.text:  # what the newcomer was told instead
        wait_until(world, since, lambda c: c.method == "response_url")
    assert "Feedback you received" in answer.text, (answer.text, told(world, since))
    world.slack.wait_for("users.info", where=lambda c: c.args.get("user") == newcomer.id)
    settle(world)
    assert "Traceback" not in new_log(world, since)
    with world.db.transaction() as session:
        person = session.exec(select(Person).where(Person.slack_user_id == newcomer.id)).one()
    assert "\x00" not in person.name


# =======================================================================================
# 3. Forged signed payloads change nothing
# =======================================================================================


def _feedback_count(world: World) -> int:
    return len(rows(world, Feedback))


NOT_GIVABLE = "is a bot or a deactivated account"
FORGED_SUBJECTS: dict[str, tuple[Callable[[World], str], str]] = {
    "the bot": (lambda w: json.dumps({"subject_id": w.ids[ROBOT.id]}), NOT_GIVABLE),
    "a deactivated account": (lambda w: json.dumps({"subject_id": w.ids[GONE.id]}), NOT_GIVABLE),
    "the giver themself": (
        lambda w: json.dumps({"subject_id": w.ids[MAYA.id]}),
        "Feedback is for someone else",
    ),
    "a person id that does not exist": (lambda w: json.dumps({"subject_id": 99_999}), "not yours"),
    "2147483648": (lambda w: json.dumps({"subject_id": 2_147_483_648}), OUT_OF_DATE),
    "-1": (lambda w: json.dumps({"subject_id": -1}), OUT_OF_DATE),
    "0": (lambda w: json.dumps({"subject_id": 0}), OUT_OF_DATE),
    "a string id": (lambda w: json.dumps({"subject_id": str(w.ids[BOB.id])}), OUT_OF_DATE),
    "true": (lambda w: json.dumps({"subject_id": True}), OUT_OF_DATE),
    "a float id": (lambda w: json.dumps({"subject_id": w.ids[BOB.id] + 0.0}), OUT_OF_DATE),
    "an extra key": (lambda w: json.dumps({"subject_id": w.ids[BOB.id], "admin": True}), OUT_OF_DATE),
    "Alice's request (1), about Maya": (
        lambda w: json.dumps({"subject_id": w.ids[MAYA.id], "request_id": 1}),
        "Feedback is for someone else",
    ),
    "Alice's request (1), about Bob": (
        lambda w: json.dumps({"subject_id": w.ids[BOB.id], "request_id": 1}),
        "That request is not yours",
    ),
    "no metadata": (lambda w: "", OUT_OF_DATE),
    "not JSON": (lambda w: "subject_id=3", OUT_OF_DATE),
    "a JSON array": (lambda w: "[3]", OUT_OF_DATE),
    "about with NUL": (
        lambda w: json.dumps({"subject_id": w.ids[BOB.id], "about": "x\x00y"}),
        "NUL character",
    ),
    "about with a lone surrogate": (
        lambda w: '{"subject_id": ID, "about": "x\\ud800y"}'.replace("ID", str(w.ids[BOB.id])),
        OUT_OF_DATE,
    ),
    "about with a bidi override": (
        lambda w: json.dumps({"subject_id": w.ids[BOB.id], "about": "a\u202eb"}),
        "reverses how text is shown",
    ),
}


@pytest.mark.parametrize("case", list(FORGED_SUBJECTS))
def test_a_feedback_form_naming_another_subject_stores_nothing(world: World, case: str) -> None:
    """Maya's own "give feedback" form (about Bob), its private_metadata rewritten."""
    forge, refusal = FORGED_SUBJECTS[case]
    payload = submission(world, MAYA, world.give_form, FULL_ANSWERS)
    raw = json.dumps(payload).replace(
        json.dumps(payload["view"]["private_metadata"]), json.dumps("@@META@@"), 1
    )
    raw = raw.replace('"@@META@@"', json.dumps(forge(world)))
    before = _feedback_count(world)
    since = mark(world)
    answer = send_signed(world, payload_body(raw), FORM)
    assert answer.status == 200, answer
    body = answer.json()
    assert body["response_action"] == "update", body
    said = notice_text(body["view"])
    assert refusal in said and WENT_WRONG not in said, said
    assert _feedback_count(world) == before
    settle(world)
    assert "Traceback" not in new_log(world, since)
    assert row_counts(world.db) == since.rows


@pytest.mark.parametrize(
    "whose", ["new project (submitted)", "new project (open)", "debrief form", "give form"]
)
def test_someone_elses_view_id_is_refused_and_reveals_nothing(world: World, whose: str) -> None:
    view, values = {
        "new project (submitted)": (
            world.new_project_done,
            {"Project name": "Mine now", "Team members": [ALICE.id, BOB.id], "Run the debrief": "1"},
        ),
        "new project (open)": (
            world.new_project_open,
            {"Project name": "Mine now", "Team members": [ALICE.id, BOB.id], "Run the debrief": "1"},
        ),
        "debrief form": (world.debrief_form, FULL_ANSWERS),
        "give form": (world.give_form, FULL_ANSWERS),
    }[whose]
    since = mark(world)
    answer = send_signed(world, payload_body(submission(world, CAROL, view, values)), FORM)
    assert answer.status == 200
    body = answer.json()
    assert body["response_action"] == "update" and "This form is not yours" in notice_text(body["view"])
    assert PROJECT not in answer.text and "Secret" not in answer.text
    assert_nothing_happened(world, since)


SWAPS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "a text field as checkboxes": (
        "give",
        "strengths_note",
        {
            "type": "checkboxes",
            "selected_options": [{"value": "x", "text": {"type": "plain_text", "text": "x"}}],
        },
    ),
    "a select as plain_text_input 5": ("give", "kpi_quality", {"type": "plain_text_input", "value": "5"}),
    "a select whose option is a string": (
        "give",
        "kpi_quality",
        {"type": "static_select", "selected_option": "5"},
    ),
    "a select whose value is an int": (
        "give",
        "kpi_quality",
        {"type": "radio_buttons", "selected_option": {"value": 5}},
    ),
    "the anonymity box as text": ("give", "anonymous", {"type": "plain_text_input", "value": "anonymous"}),
    "a text field whose value is a list": (
        "give",
        "growth_note",
        {"type": "plain_text_input", "value": ["x"]},
    ),
    "people as text": ("project", "members", {"type": "plain_text_input", "value": "U0ALICE,U0BOB"}),
    "people as lowercase ids": (
        "project",
        "members",
        {"type": "multi_users_select", "selected_users": ["u0bob"]},
    ),
    "a person as a list": ("project", "lead", {"type": "users_select", "selected_user": [MAYA.id]}),
    "a date as a select": (
        "project",
        "end_date",
        {"type": "static_select", "selected_option": {"value": "2026-01-01"}},
    ),
    "a date that is not one": ("project", "end_date", {"type": "datepicker", "selected_date": "2026-02-30"}),
    "a date in other digits": ("project", "end_date", {"type": "datepicker", "selected_date": "٢٠٢٦-٠١-٠١"}),
}


@pytest.mark.parametrize("case", list(SWAPS))
def test_an_input_of_another_element_type_is_refused(world: World, case: str) -> None:
    which, block, element = SWAPS[case]
    if which == "give":
        payload = submission(world, MAYA, world.give_form, FULL_ANSWERS)
    else:
        values = {"Project name": "Swapped", "Team members": [ALICE.id, BOB.id], "Run the debrief": "1"}
        payload = submission(world, MAYA, world.new_project_open, values)
    payload["view"]["state"]["values"][block] = {"input": element}
    since = mark(world)
    answer = send_signed(world, payload_body(payload), FORM)
    assert answer.status == 200, answer
    body = answer.json()
    assert body["response_action"] == "update" and OUT_OF_DATE in notice_text(body["view"]), body
    assert_nothing_happened(world, since)


@pytest.mark.parametrize("score", ["٣", "+3", "3.0", " 3", "03", "3 ", "", "6", "0", "-1", "x"])
def test_a_score_that_only_looks_like_one_gets_a_field_error(world: World, score: str) -> None:
    payload = submission(world, MAYA, world.give_form, FULL_ANSWERS)
    payload["view"]["state"]["values"]["kpi_quality"]["input"]["selected_option"]["value"] = score
    since = mark(world)
    answer = send_signed(world, payload_body(payload), FORM)
    assert answer.json() == {
        "response_action": "errors",
        "errors": {"kpi_quality": "That answer is not one of the choices."},
    }
    assert_nothing_happened(world, since)


BAD_VALUES = ["99999999999999999999", "2147483648", "-1", "0", "1e3", "", "٣", "1:2:3", " 1", "1 "]
VALUE_BUTTONS = {
    ActionId.OPEN_DEBRIEF,
    ActionId.GIVE_FEEDBACK,
    ActionId.DECLINE_REQUEST,
    ActionId.NUDGE_REQUEST,
    ActionId.CONFIRM_MANAGER,
    ActionId.REJECT_MANAGER,
    ActionId.REQUEST_FOR_REPORT,
    ActionId.DRAFT_COACHING,
    ActionId.REDRAFT,
    ActionId.COACH_USEFUL,
    ActionId.COACH_NOT_USEFUL,
    ActionId.VIEW_REPORT_FEEDBACK,
    ActionId.RATE_MYSELF_ON_PROJECT,
    ActionId.STEP_TRIED,
    ActionId.STEP_NOT_YET,
    ActionId.STEP_NOT_FOR_ME,
    ActionId.TALENT_MORE,
}


@pytest.mark.parametrize("action_id", [a for a in ActionId if a in VALUE_BUTTONS], ids=str)
def test_a_forged_button_value_gets_a_notice_and_changes_nothing(world: World, action_id: ActionId) -> None:
    carol = world.actor(CAROL)
    for value in BAD_VALUES:
        since = mark(world)
        opened = len(world.slack.calls_to("views.open"))
        answer = carol.click(crafted_button(action_id.value, value), action_id.value)
        assert answer.status == 200 and answer.elapsed < 1.5, (value, answer)
        notice = world.slack.wait_for("views.open", count=opened + 1)[-1]
        assert OUT_OF_DATE in notice_text(notice.args["view"]), (value, notice.summary())
        settle(world)
        assert [c.method for c in calls_since(world, since)] == ["views.open"], value
        assert row_counts(world.db) == since.rows, value
        assert "Traceback" not in new_log(world, since), value


@pytest.mark.parametrize("action_id", [a for a in ActionId if a not in VALUE_BUTTONS], ids=str)
def test_a_button_that_carries_no_value_ignores_a_forged_one(world: World, action_id: ActionId) -> None:
    """These buttons carry no value (a picker, a datepicker, settings): whatever a forged one says
    is not read, nothing fails, and nothing but what the button does happens."""
    carol = world.actor(CAROL)
    for value in BAD_VALUES:
        since = mark(world)
        opened = len(world.slack.calls_to("views.open"))
        answer = carol.click(crafted_button(action_id.value, value), action_id.value)
        if action_id is ActionId.TALENT_NAMES:  # its notice comes after reading her team: wait for it
            world.slack.wait_for("views.open", count=opened + 1)
        settle(world)
        made = calls_since(world, since)
        if action_id is ActionId.INPUT:  # an input block's element: no listener, Bolt answers 404
            assert answer.status == 404 and made == [], value
        elif action_id in (ActionId.NEW_PROJECT, ActionId.DIGEST_REQUEST):
            # (Carol's Home, refreshed by an earlier case's digest button, may land meanwhile.)
            made = [c for c in made if (c.method, c.args.get("user_id")) != ("views.publish", CAROL.id)]
            assert answer.status == 200 and [c.method for c in made] == ["views.open"], value
            expected = "new_project" if action_id is ActionId.NEW_PROJECT else "request_for_report"
            assert made[0].args["view"]["callback_id"] == expected
            await_recorded(world.db, made[0].response["view"]["id"])
        elif action_id is ActionId.TALENT_NAMES:  # her own team only: she manages nobody
            assert answer.status == 200 and [c.method for c in made] == ["views.open"], value
            assert "Nobody has confirmed you as their manager yet" in notice_text(made[0].args["view"])
        elif action_id in (ActionId.DIGEST_PAUSE, ActionId.DIGEST_STOP):  # her own digests only
            assert answer.status == 200, value
            assert {c.method for c in made} <= {"response_url", "views.publish"}, value
            assert all(c.args.get("user_id") in (None, CAROL.id) for c in made), value
        else:  # settings and the team picker: Carol's own Home is published again
            assert answer.status == 200, value
            assert {(c.method, c.args.get("user_id")) for c in made} <= {("views.publish", CAROL.id)}, value
        assert "Traceback" not in new_log(world, since), value
        counts = row_counts(world.db)
        assert {k: v for k, v in counts.items() if k != "modalview"} == {
            k: v for k, v in since.rows.items() if k != "modalview"
        }, value


def test_useful_with_a_forged_container_updates_only_the_shared_dm(world: World) -> None:
    alice, slack = world.actor(ALICE), world.slack

    def maya_message() -> dict[str, Any]:  # Maya's debrief DM, as she sees it now
        return next(m for m in slack.messages(MAYA.id) if m["ts"] == world.maya_dm["ts"])

    as_it_was = maya_message()
    action = {
        "action_id": ActionId.COACH_USEFUL.value,
        "block_id": f"coach_reaction_{world.draft_id}",
        "type": "button",
        "value": str(world.draft_id),
        "text": {"type": "plain_text", "text": "Useful"},
        "action_ts": f"{time.time():.6f}",
    }
    # Alice's own click, with container, channel, message and response_url all naming Maya's DM.
    settle(world)
    since = mark(world)
    assert alice._send_block_action(as_it_was, action, None).status == 200
    update = wait_until(world, since, lambda c: c.method == "chat.update")
    assert (update.args["channel"], update.args["ts"]) == (world.shared_dm["channel"], world.shared_dm["ts"])
    settle(world)
    # (An App Home refresh set off by an earlier test may land meanwhile: not a message.)
    sent = [c for c in calls_since(world, since) if c.method != "views.publish"]
    assert [(c.method, c.args.get("channel")) for c in sent] == [("chat.update", world.shared_dm["channel"])]
    assert maya_message() == as_it_was
    # Bob presses Useful on Alice's coaching (her DM as the container): refused, nothing updated.
    since = mark(world)
    opened = len(slack.calls_to("views.open"))
    assert world.actor(BOB)._send_block_action(world.shared_dm, action, None).status == 200
    notice = slack.wait_for("views.open", count=opened + 1)[-1]
    assert "not yours" in notice_text(notice.args["view"])
    settle(world)
    # (Alice's reaction refreshes her App Home in the background: it may land meanwhile.)
    assert [c.method for c in calls_since(world, since) if c.method != "views.publish"] == ["views.open"]
    assert row_counts(world.db) == since.rows


def _redraft(world: World, user: Any, view: Mapping[str, Any]) -> Any:
    action = {
        "action_id": ActionId.REDRAFT.value,
        "block_id": "stale",
        "type": "button",
        "value": str(world.draft_id),
        "action_ts": f"{time.time():.6f}",
    }
    return world.actor(user)._send_block_action(view, action, None)


@pytest.mark.parametrize("who", ["the draft's author, in Carol's modal", "Carol, in the author's modal"])
def test_redraft_never_updates_someone_elses_modal(world: World, who: str) -> None:
    if who.startswith("the draft's author"):
        user, view, victim = MAYA, world.carol_form, world.carol_form["id"]
    else:
        user, view, victim = CAROL, world.draft_view, world.draft_view["id"]
    shown_before = world.slack.view(victim)
    since = mark(world)
    opened = len(world.slack.calls_to("views.open"))
    assert _redraft(world, user, view).status == 200
    notice = world.slack.wait_for("views.open", count=opened + 1)[-1]
    assert "not yours" in notice_text(notice.args["view"])
    settle(world)
    assert [c for c in calls_since(world, since) if c.method == "views.update"] == []
    # (An App Home an earlier test's action republishes, on its own listener thread, may land
    # meanwhile: it is that person's own Home.)
    assert [c.method for c in calls_since(world, since) if c.method != "views.publish"] == ["views.open"]
    assert row_counts(world.db) == since.rows
    assert world.slack.view(victim) == shown_before  # as it was


def test_a_form_submitted_as_another_form_is_refused(world: World) -> None:
    erin = FakeUser(id="U0ERIN" + uuid.uuid4().hex[:4].upper(), name="erin", real_name="Erin Ito")
    world.slack.add_user(erin)
    actor = world.actor(erin)
    first = _command_opening(world.slack, world.db, actor, "/feedback", "give <@U0BOB|bob>")
    refreshed = homes(world, BOB)
    assert actor.submit(first, FULL_ANSWERS).text == ""
    await_homes(world, refreshed)
    second = _command_opening(world.slack, world.db, actor, "/feedback", "give <@U0CAROL|carol>")
    payload = submission(world, erin, second, FULL_ANSWERS)
    payload["view"]["callback_id"] = "confirm_delete"
    since = mark(world)
    answer = send_signed(world, payload_body(payload), FORM)
    assert answer.status == 200
    if "Deleted" in answer.text:  # leaving refreshes the Homes of the people it touched
        quiet(world)
    assert "Deleted" not in answer.text and "left the feedback programme" not in answer.text, answer.text
    with world.db.transaction() as session:
        person = session.exec(select(Person).where(Person.slack_user_id == erin.id)).one()
        given = session.exec(select(Feedback).where(Feedback.giver_id == person.id)).all()
    assert person.left_programme_at is None and len(given) == 1
    settle(world)
    assert row_counts(world.db) == since.rows


def test_a_button_value_with_a_trailing_newline_is_refused(world: World) -> None:
    dm = _request_dm_for(world, BOB)
    value = next(
        e["value"]
        for b in dm["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == ActionId.DECLINE_REQUEST.value
    )
    forged = crafted_button(ActionId.DECLINE_REQUEST.value, value + "\n")
    opened = len(world.slack.calls_to("views.open"))
    assert world.actor(BOB).click(forged, ActionId.DECLINE_REQUEST.value).status == 200
    shown = world.slack.wait_for("views.open", count=opened + 1)[-1]
    if shown.args["view"]["callback_id"] != "notice":  # the form opened: Brickwork records it
        await_recorded(world.db, shown.response["view"]["id"])
    assert OUT_OF_DATE in notice_text(shown.args["view"]), shown.summary()


def test_closing_someone_elses_draft_saves_nothing(world: World) -> None:
    payload = world.actor(CAROL)._base_payload("view_closed")
    view = copy.deepcopy(world.draft_view)
    view["state"] = {
        "values": build_state_values(view, {"area_1_first_step": "Carol was here."}, strict=False)
    }
    payload["view"] = view
    before = [d.content_json for d in rows(world, CoachingDraft)]
    since = mark(world)
    assert send_signed(world, payload_body(payload), FORM).status == 200
    # A closed modal has no trigger and no response_url: Carol is told by DM, and nobody else.
    told_carol = wait_until(world, since, lambda c: c.method == "chat.postMessage")
    assert told_carol.args["channel"] == world.slack.dm_channel(CAROL.id)
    assert "This form is not yours" in told_carol.args["text"]
    settle(world)
    assert [c.method for c in calls_since(world, since)] == ["chat.postMessage"], [
        c.summary() for c in calls_since(world, since)
    ]
    assert row_counts(world.db) == since.rows and "Traceback" not in new_log(world, since)
    assert [d.content_json for d in rows(world, CoachingDraft)] == before


# =======================================================================================
# 4. Bad text gets a clear answer and stores nothing (SQLite and PostgreSQL)
# =======================================================================================

BAD_TEXT = {
    "NUL": ("Ran the review\x00 calmly.", "NUL character"),
    "a lone surrogate": ("@@SURROGATE@@", "lone surrogate"),
    "a bidi override": ("Q3\u202egnp.exe launch", "reverses how text is shown"),
}


def _raw(payload: Mapping[str, Any]) -> bytes:
    """The payload as Slack would encode it, with "@@SURROGATE@@" as the JSON escape \\ud800."""
    return payload_body(json.dumps(payload).replace("@@SURROGATE@@", "bad \\ud800 char"))


@pytest.mark.parametrize("case", list(BAD_TEXT))
def test_bad_text_in_a_note_gets_a_field_error(world: World, case: str) -> None:
    text, problem = BAD_TEXT[case]
    payload = submission(world, MAYA, world.give_form, {**FULL_ANSWERS, "What went well": text})
    since = mark(world)
    answer = send_signed(world, _raw(payload), FORM)
    body = answer.json()
    assert body["response_action"] == "errors" and problem in body["errors"]["strengths_note"], body
    assert_nothing_happened(world, since)


@pytest.mark.parametrize("case", [*BAD_TEXT, "only invisible characters"])
def test_bad_text_in_a_project_name_gets_a_field_error(world: World, case: str) -> None:
    text, problem = BAD_TEXT.get(case, (INVISIBLE, "only invisible characters"))
    values = {
        "Project name": text,
        "Team members": [ALICE.id, BOB.id],
        "Run the debrief": "1",
        "Do members give feedback on the lead?": "none",
    }
    since = mark(world)
    answer = send_signed(world, _raw(submission(world, MAYA, world.new_project_open, values)), FORM)
    body = answer.json()
    assert body["response_action"] == "errors" and problem in body["errors"]["project_name"], body
    assert_nothing_happened(world, since)


def homes(world: World, *users: Any) -> dict[str, int]:
    """How many times each person's Home was published so far."""
    published = [c.args.get("user_id") for c in world.slack.calls_to("views.publish")]
    return {u.id: published.count(u.id) for u in users}


def await_homes(world: World, before: dict[str, int]) -> None:
    """Wait for the Home refreshes (run in a background pool) that something set off."""
    for user_id, count in before.items():
        world.slack.wait_for(
            "views.publish", count=count + 1, where=lambda c, u=user_id: c.args["user_id"] == u
        )


def _request_dm_for(world: World, giver: Any) -> dict[str, Any]:
    """The giver's DM with an open request from Maya (asked again when the last one was closed)."""

    def open_dms() -> list[dict[str, Any]]:
        with world.db.transaction() as session:
            open_ids = {
                str(r.id)
                for r in session.exec(
                    select(FeedbackRequest).where(FeedbackRequest.state == RequestState.OPEN)
                )
            }
        return [
            m
            for m in world.slack.messages(giver.id)
            if any(f'"value": "{i}"' in json.dumps(m.get("blocks")) for i in open_ids)
            and ActionId.DECLINE_REQUEST.value in json.dumps(m.get("blocks"))
        ]

    if not open_dms():
        to_giver = lambda c: c.args["channel"] == world.slack.dm_channel(giver.id)  # noqa: E731
        posts = len([c for c in world.slack.calls_to("chat.postMessage") if to_giver(c)])
        refreshed = homes(world, MAYA, giver)
        world.actor(MAYA).command("/feedback", f"request <@{giver.id}|{giver.name}>")
        world.slack.wait_for("chat.postMessage", count=posts + 1, where=to_giver)
        await_homes(world, refreshed)
    return open_dms()[-1]


def _decline_form(world: World) -> dict[str, Any]:
    dm = _request_dm_for(world, BOB)
    opened = len(world.slack.calls_to("views.open"))
    world.actor(BOB).click(dm, ActionId.DECLINE_REQUEST.value)
    return _opened(world.slack, world.db, BOB, opened)


@pytest.mark.parametrize("case", list(BAD_TEXT))
def test_bad_text_in_a_decline_reason_gets_a_field_error(world: World, case: str) -> None:
    text, problem = BAD_TEXT[case]
    decline = _decline_form(world)
    payload = submission(world, BOB, decline, {"A reason for them (optional)": text})
    since = mark(world)
    answer = send_signed(world, _raw(payload), FORM)
    body = answer.json()
    assert body["response_action"] == "errors" and problem in body["errors"]["decline_reason"], body
    assert_nothing_happened(world, since)


def test_an_invisible_decline_reason_is_stored_as_no_reason(world: World) -> None:
    """The reason is optional: one that shows nothing is no reason, and nothing invisible is kept."""
    decline = _decline_form(world)
    payload = submission(world, BOB, decline, {"A reason for them (optional)": INVISIBLE})
    since, refreshed = mark(world), homes(world, MAYA, BOB)
    assert send_signed(world, _raw(payload), FORM).text == ""
    # After the ack: Maya hears of it, Bob's DM loses its buttons, both Homes are refreshed.
    wait_until(world, since, lambda c: c.method == "chat.postMessage" and c.args["channel"] == "D0MAYA")
    wait_until(world, since, lambda c: c.method == "chat.update" and c.args["channel"] == "D0BOB")
    await_homes(world, refreshed)
    request_id = json.loads(decline["private_metadata"])["request_id"]
    [declined] = [r for r in rows(world, FeedbackRequest) if r.id == request_id]
    assert declined.state is RequestState.DECLINED and declined.decline_reason in ("", None)


def test_an_invisible_note_stores_no_invisible_text(world: World) -> None:
    """The notes are optional: an invisible one counts as empty; the ratings are still the answer."""
    before = {f.id for f in rows(world, Feedback)}
    values = {**FULL_ANSWERS, "What went well": INVISIBLE, "What to try next": INVISIBLE}
    form_ = _command_opening(world.slack, world.db, world.actor(ALICE), "/feedback", "give <@U0CAROL|carol>")
    refreshed = homes(world, CAROL)
    answer = send_signed(world, _raw(submission(world, ALICE, form_, values)), FORM)
    assert answer.status == 200 and answer.text == "", answer.text
    await_homes(world, refreshed)
    stored = [f for f in rows(world, Feedback) if f.id not in before]
    assert len(stored) == 1
    notes = (stored[0].delivery_note, stored[0].strengths_note, stored[0].growth_note)
    assert notes == ("", "", "")


@pytest.mark.parametrize("sub", ["request", "give"])
@pytest.mark.parametrize("case", ["NUL", "a bidi override"])
def test_bad_text_in_about_gets_a_clear_answer(world: World, sub: str, case: str) -> None:
    text, problem = BAD_TEXT[case]
    answered = len(world.slack.calls_to("response_url"))
    since = mark(world)
    assert world.actor(MAYA).command("/feedback", f"{sub} <@U0CAROL|carol> about {text}").status == 200
    said = world.slack.wait_for("response_url", count=answered + 1)[-1].args["text"]
    assert problem in said and WENT_WRONG not in said, said
    settle(world)
    assert [c.method for c in calls_since(world, since)] == ["response_url"]
    assert row_counts(world.db) == since.rows


@pytest.mark.parametrize("sub", ["request", "give"])
def test_an_invisible_about_is_refused_like_an_empty_one(world: World, sub: str) -> None:
    since = mark(world)
    response = world.actor(MAYA).command("/feedback", f"{sub} <@U0DANA|dana> about {INVISIBLE}")
    if "Say what the feedback is about" not in response.text:
        # Answered after the ack: by a form, or through the response_url (and what a stored
        # request sets off: Dana's DM, two Homes refreshed).
        wait_until(world, since, lambda c: c.method in {"views.open", "response_url"})
        quiet(world)
    settle(world)
    said = [*told(world, since), response.text]
    assert any("Say what the feedback is about" in s or "invisible" in s for s in said), said
    assert [c.method for c in calls_since(world, since) if c.method != "response_url"] == []
    assert row_counts(world.db) == since.rows


def test_an_unknown_person_in_a_command_gets_a_clear_answer(world: World) -> None:
    slack, maya = world.slack, world.actor(MAYA)
    since = mark(world)
    answered = len(slack.calls_to("response_url"))
    maya.command("/feedback", "request <@U0NOBODY|x>")
    said = slack.wait_for("response_url", count=answered + 1)[-1].args["text"]
    assert "U0NOBODY" in said and "not someone in this workspace" in said, said
    maya.command("/feedback", "give <@U0NOBODY|x>")
    said = slack.wait_for("response_url", count=answered + 2)[-1].args["text"]
    assert "I can't find `U0NOBODY` in this workspace" in said, said
    updates = len(slack.calls_to("views.update"))
    maya.command("/coach", "<@U0NOBODY|x>")
    shown = slack.wait_for("views.update", count=updates + 1)[-1]
    assert "I can't find `U0NOBODY` in this workspace" in notice_text(shown.args["view"])
    settle(world)
    assert all(WENT_WRONG not in json.dumps(c.args) for c in calls_since(world, since))
    assert row_counts(world.db) == {**since.rows, "modalview": row_counts(world.db)["modalview"]}
    assert "Traceback" not in new_log(world, since)
    with world.db.transaction() as session:
        assert session.exec(select(Person).where(Person.slack_user_id == "U0NOBODY")).first() is None


@pytest.mark.parametrize("field", ["Team members", "Lead"])
def test_an_unknown_person_in_a_people_picker_gets_a_field_error(world: World, field: str) -> None:
    values: dict[str, Any] = {
        "Project name": "Nobody's",
        "Team members": [ALICE.id, "U0NOBODY"],
        "Run the debrief": "1",
        "Do members give feedback on the lead?": "none",
    }
    if field == "Lead":
        values.update({"Team members": [ALICE.id, BOB.id], "Lead": "U0NOBODY"})
    since = mark(world)
    answer = send_signed(world, payload_body(submission(world, MAYA, world.new_project_open, values)), FORM)
    body = answer.json()
    block = "members" if field == "Team members" else "lead"
    assert body["response_action"] == "errors" and "U0NOBODY" in body["errors"][block], body
    settle(world)
    assert [c.method for c in calls_since(world, since)] == ["users.info"]
    assert row_counts(world.db) == since.rows
