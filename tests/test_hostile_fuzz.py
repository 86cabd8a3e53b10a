"""Property-based attacks: arbitrary input never breaks Brickwork.

Over HTTP, against one ``brickwork serve`` started for the module (its own stand-in for Slack, a
SQLite database made by our migrations): signed interactivity payloads made by changing one field
of a real one (what the driver sends for a click, a menu choice or a form), and slash commands
with arbitrary fields. Whatever arrives: never an HTTP 500, never a traceback in the log.

Without HTTP: the functions that read what a request carries (``handlers.forms`` and
``bot.inbound``) return a valid value or raise their refusal (``FormRefused``, ``Refused``) for
any input, nothing else.

Examples are derandomized (the same every run) and not stored. Properties marked
``xfail(strict=True, reason="BUG: ...")`` fail on a bug found here; each has an ``@example``
that shows it.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from slack_bolt import BoltRequest

from bot.inbound import TOLERANCE_SECONDS, Refused, Verified, parse_signed, verify_signature
from bot.standin.driver import Response, SlackDriver
from bot.standin.webapi import FakeSlack
from handlers.forms import (
    DB_ID_MAX,
    DebriefFormMeta,
    DraftMeta,
    FeedbackFormMeta,
    FormRefused,
    Input,
    NewProjectMeta,
    ReportMeta,
    RequestMeta,
    db_id,
    db_id_pair,
    parse_metadata,
    read_form,
)
from handlers.ids import ActionId
from storage import migrate
from tests.harness import ALICE, BOB, EVERYONE, MAYA, AppProcess, start_app
from tests.test_debrief_e2e import FULL_ANSWERS

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
SETTLED = "You have no scheduled or open project called that"
HTTP = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UNIT = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ---------------------------------------------------------------------------------------
# Arbitrary JSON, with the values a forger would try first
# ---------------------------------------------------------------------------------------

TRICKY = [
    "",
    "0",
    "1",
    "-1",
    "1e3",
    "2147483648",
    "99999999999999999999",
    "1:2",
    "1:2:3",
    "7\n",
    " 7",
    "\u0663",
    "\x00",
    "\ud800",
    "\u202e",
    "\u200b",
    "{}",
    "[]",
    "null",
    '{"subject_id": 1}',
    '{"request_id": 1}',
    '{"draft_id": 1}',
    '{"project_id": 1, "subject_id": 2}',
    "U0MAYA",
    "U0ALICE",
    "U0NOBODY",
    "u0maya",
    "C0GENERAL",
    "D0MAYA",
    "V00000001",
    "modal",
    "home",
    "block_actions",
    "view_submission",
    "view_closed",
    "feedback_form",
    "decline_form",
    "new_project",
    "confirm_delete",
    "coach_draft",
    "request_for_report",
    "input",
    "give_feedback",
    "plain_text_input",
    "static_select",
    "checkboxes",
    "multi_users_select",
    "datepicker",
    "2026-02-30",
    "https://evil.example/x",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**31 - 2, max_value=2**64)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(TRICKY)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10) | st.sampled_from(TRICKY), children, max_size=4)
    ),
    max_leaves=8,
)


class _Delete:
    """A mutation that removes the field instead of replacing it."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()

# ---------------------------------------------------------------------------------------
# One server for the module, and real payloads to start from
# ---------------------------------------------------------------------------------------


class CapturingDriver(SlackDriver):
    """Builds what the driver would send for an action, and keeps it instead of sending it."""

    def __init__(self, app_url: str, signing_secret: str, slack: FakeSlack) -> None:
        super().__init__(app_url, signing_secret, slack)
        self.captured: list[dict[str, Any]] = []

    def send_payload(self, payload: Mapping[str, Any]) -> Response:
        self.captured.append(copy.deepcopy(dict(payload)))
        return Response(status=200, headers={}, text="")


@dataclass(frozen=True)
class Template:
    name: str
    user: str
    payload: dict[str, Any]
    message: dict[str, Any] | None  # the message clicked in, for a fresh response_url
    paths: tuple[tuple[str | int, ...], ...]


class Served:
    """The module's server, its stand-in for Slack, and the payloads to start from."""

    def __init__(
        self, slack: FakeSlack, app: AppProcess, driver: SlackDriver, templates: dict[str, Template]
    ):
        self.slack, self.app, self.driver, self.templates = slack, app, driver, templates

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"<brickwork serve at {self.app.url}>"


def field_paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every field anywhere in ``value``; a view's or message's blocks (the app ignores them) as one."""
    if prefix[-1:] == ("blocks",):
        return
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    )
    for key, child in children:
        yield (*prefix, key)
        yield from field_paths(child, (*prefix, key))


def _template(name: str, user: str, payload: dict[str, Any], message: dict[str, Any] | None) -> Template:
    return Template(name, user, payload, message, tuple(field_paths(payload)))


def _make_templates(slack: FakeSlack, driver: SlackDriver, capture: CapturingDriver) -> dict[str, Template]:
    maya, alice = driver.as_user(MAYA.id), driver.as_user(ALICE.id)
    maya.command("/feedback", "request <@U0ALICE|alice> about the launch")
    slack.wait_for("chat.postMessage", where=lambda c: c.args["channel"] == slack.dm_channel(ALICE.id))
    request_dm = slack.last_dm(ALICE.id)
    assert request_dm is not None
    driver.as_user(BOB.id).command("/feedback", "mine")  # Bob (who settles) is known
    templates: list[Template] = []

    def captured(name: str, user: str, message: dict[str, Any] | None = None) -> None:
        templates.append(_template(name, user, capture.captured.pop(), message))

    as_alice, as_maya = capture.as_user(ALICE.id), capture.as_user(MAYA.id)
    as_alice.click(request_dm, ActionId.GIVE_FEEDBACK.value)
    captured("give feedback button", ALICE.id, request_dm)
    as_alice.click(request_dm, ActionId.DECLINE_REQUEST.value)
    captured("decline button", ALICE.id, request_dm)
    maya.open_home()
    slack.wait_for("views.publish", where=lambda c: c.args["user_id"] == MAYA.id)
    home = slack.home(MAYA.id)
    assert home is not None
    as_maya.click(home, ActionId.NEW_PROJECT.value)
    captured("New project button", MAYA.id)
    as_maya.select(home, ActionId.MY_TEAM.value, [ALICE.id])
    captured("My team picker", MAYA.id)
    as_maya.select(home, ActionId.PAUSE_UNTIL.value, date.today() + timedelta(days=3))
    captured("pause datepicker", MAYA.id)
    opened = len(slack.calls_to("views.open"))
    alice.click(request_dm, ActionId.GIVE_FEEDBACK.value)
    slack.wait_for("views.open", count=opened + 1)
    give_form = slack.open_modal(ALICE.id)
    assert give_form is not None and give_form["callback_id"] == "feedback_form"
    as_alice.submit(give_form, {**FULL_ANSWERS, "What went well": "Wrote the rollback plan on Tuesday."})
    captured("feedback form", ALICE.id)
    alice.click(request_dm, ActionId.DECLINE_REQUEST.value)
    slack.wait_for("views.open", count=opened + 2)
    decline_form = slack.open_modal(ALICE.id)
    assert decline_form is not None and decline_form["callback_id"] == "decline_form"
    as_alice.submit(decline_form, {"A reason for them (optional)": "On leave until June."})
    captured("decline form", ALICE.id)
    maya.command("/debrief")
    slack.wait_for("views.open", count=opened + 3)
    new_project = slack.open_modal(MAYA.id)
    assert new_project is not None and new_project["callback_id"] == "new_project"
    values = {
        "Project name": "Fuzz",
        "Team members": [ALICE.id, BOB.id],
        "End date": date.today(),
        "Run the debrief": "1",
        "Do members give feedback on the lead?": "none",
    }
    as_maya.submit(new_project, values, strict=False)
    captured("New project form", MAYA.id)
    return {t.name: t for t in templates}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{workdir / 'brickwork.db'}"
    migrate.upgrade(url)
    with FakeSlack(users=EVERYONE) as slack:
        app = start_app(slack, url, workdir)
        try:
            secret = app.env["SLACK_SIGNING_SECRET"]
            driver = SlackDriver(app.events_url, secret, slack)
            capture = CapturingDriver(app.events_url, secret, slack)
            yield Served(slack, app, driver, _make_templates(slack, driver, capture))
        finally:
            app.stop()


def settle(served: Served) -> None:
    """A harmless request answered after its ack: what came before has had its turn."""
    answered = lambda c: SETTLED in str(c.args.get("text"))  # noqa: E731
    before = len([c for c in served.slack.calls_to("response_url") if answered(c)])
    served.driver.as_user(BOB.id).command("/debrief", f"cancel no-such-project-{uuid.uuid4().hex[:6]}")
    served.slack.wait_for("response_url", count=before + 1, where=answered)


def send(served: Served, body: bytes, content_type: str = FORM) -> tuple[int, str]:
    """Send ``body`` signed; the status, and what the log gained meanwhile (once it settled)."""
    before = served.app.log_size()
    response = served.driver.send_raw(body, content_type)
    settle(served)
    return response.status, served.app.log_since(before)


# ---------------------------------------------------------------------------------------
# (a) Real interactivity payloads with one field changed
# ---------------------------------------------------------------------------------------

FRESH = ("trigger_id", "response_url")  # made fresh for every example, unless that is what changes


@st.composite
def mutations(draw: st.DrawFn, only: tuple[str, ...] = ()) -> tuple[str, tuple[str | int, ...], Any]:
    """(template, path, new value or DELETE); ``only``: change just these top-level fields."""
    name = draw(st.sampled_from(sorted(TEMPLATE_NAMES)))
    if only:
        path: tuple[str | int, ...] = (draw(st.sampled_from(only)),)
    else:
        path = draw(st.sampled_from(PATHS[name]))
    value = draw(JSON_VALUES | st.just(DELETE))
    return name, path, value


def mutated(served: Served, name: str, path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    template = served.templates[name]
    payload = copy.deepcopy(template.payload)
    if "trigger_id" in payload and path != ("trigger_id",):
        payload["trigger_id"] = served.slack.issue_trigger_id(template.user)
    if "response_url" in payload and path != ("response_url",) and template.message is not None:
        channel = str(template.message["channel"])
        payload["response_url"] = served.slack.new_response_url(
            template.user, channel, message=template.message
        )
    node: Any = payload
    for key in path[:-1]:
        node = node[key]
    if value is not DELETE:
        node[path[-1]] = value
    elif isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        del node[path[-1]]
    return payload


def check_mutation(served: Served, name: str, path: tuple[str | int, ...], value: Any) -> None:
    payload = mutated(served, name, path, value)
    status, log = send(served, urlencode({"payload": json.dumps(payload)}).encode())
    event(f"{name}: HTTP {status}")  # --hypothesis-show-statistics: how deep the examples went
    assert status < 500, (status, name, path)
    assert "Traceback" not in log, log[log.find("Traceback") - 300 :][:3000]


# The templates are made by the module's fixture; the strategies need their names and paths
# when the tests are collected, so both are known up front (and checked against the fixture).
TEMPLATE_NAMES = (
    "give feedback button",
    "decline button",
    "New project button",
    "My team picker",
    "pause datepicker",
    "feedback form",
    "decline form",
    "New project form",
)
PATHS: dict[str, list[tuple[str | int, ...]]] = {}


@pytest.fixture(scope="module")
def paths(served: Served) -> None:
    assert set(served.templates) == set(TEMPLATE_NAMES)
    for name, template in served.templates.items():
        PATHS[name] = [p for p in template.paths if p not in {(f,) for f in FRESH}]


@pytest.mark.usefixtures("paths")
@HTTP
@given(mutation=mutations())
def test_a_real_payload_with_any_field_changed_never_breaks_the_app(
    served: Served, mutation: tuple[str, tuple[str | int, ...], Any]
) -> None:
    check_mutation(served, *mutation)


@pytest.mark.usefixtures("paths")
@HTTP
@given(mutation=mutations(only=FRESH))
@example(mutation=("New project button", ("trigger_id",), "12345.67890.forged"))
def test_a_real_payload_with_its_trigger_or_response_url_changed_never_breaks_the_app(
    served: Served, mutation: tuple[str, tuple[str | int, ...], Any]
) -> None:
    check_mutation(served, *mutation)


# Fields a payload may carry that Bolt reads while it builds its context (bot.server hands Bolt
# the body; slack_bolt.request.internals.build_context): present or not in the real payloads.
BOLT_READS = (
    "authorizations",
    "response_urls",
    "response_url",
    "enterprise",
    "team",
    "channel",
    "user_id",
    "channel_id",
    "team_id",
    "enterprise_id",
    "is_enterprise_install",
    "is_ext_shared_channel",
    "thread_ts",
    "function_execution_id",
    "function_data",
    "bot_access_token",
    "event",
    "message",
    "previous_message",
    "assistant_thread",
    "item",
)


@pytest.mark.usefixtures("paths")
@HTTP
@given(name=st.sampled_from(TEMPLATE_NAMES), field=st.sampled_from(BOLT_READS), value=JSON_VALUES)
@example(name="New project button", field="authorizations", value="x")
def test_a_real_payload_with_a_field_bolt_reads_added_never_breaks_the_app(
    served: Served, name: str, field: str, value: Any
) -> None:
    check_mutation(served, name, (field,), value)


# ---------------------------------------------------------------------------------------
# (b) Slash commands with arbitrary fields
# ---------------------------------------------------------------------------------------

VALID_USER_IDS = st.sampled_from([MAYA.id, ALICE.id, BOB.id, "U0NOBODY", "W0NOBODY"]) | st.from_regex(
    r"\A[UW][A-Z0-9]{2,20}\Z"
)
USER_IDS = VALID_USER_IDS | st.text(max_size=24)
MENTIONS = st.lists(
    st.builds(lambda uid, label: f"<@{uid}|{label}>", VALID_USER_IDS, st.text(max_size=12)), max_size=3
).map(" ".join)
WORDS = ["request", "give", "requests", "mine", "export", "delete", "help", "list", "cancel", "coach", "new"]
TEXTS = (
    st.text(max_size=200)
    | st.builds(
        lambda word, people, about: f"{word} {people} {about}",
        st.sampled_from(WORDS),
        MENTIONS,
        st.sampled_from(["", "about "]).flatmap(lambda a: st.text(max_size=60).map(lambda t: a + t)),
    )
    | st.builds(lambda people, tail: f"{people}{tail}", MENTIONS, st.text(max_size=20))
)
COMMANDS = st.sampled_from(["/debrief", "/feedback", "/coach", "/growth"])
FRESH_VALUE = "<fresh>"  # a trigger_id / response_url Slack issued just now


def send_command(served: Served, fields: dict[str, str]) -> tuple[int, str]:
    user = fields["user_id"]
    if fields.get("trigger_id") == FRESH_VALUE:
        fields["trigger_id"] = served.slack.issue_trigger_id(user)
    if fields.get("response_url") == FRESH_VALUE:
        fields["response_url"] = served.slack.new_response_url(user, "C0GENERAL")
    body = urlencode(
        {
            "token": "fake-verification-token",
            "team_id": served.slack.team_id,
            "team_domain": served.slack.team_domain,
            "channel_name": "general",
            "api_app_id": served.slack.app_id,
            "is_enterprise_install": "false",
            **fields,
        }
    ).encode()
    return send(served, body)


def check_command(served: Served, fields: dict[str, str]) -> None:
    status, log = send_command(served, dict(fields))
    event(f"{fields['command']}: HTTP {status}")
    assert status < 500, status
    assert "Traceback" not in log, log[log.find("Traceback") - 300 :][:3000]


@HTTP
@given(command=COMMANDS, text=TEXTS, user_id=USER_IDS, user_name=st.text(max_size=30))
def test_any_command_text_from_anyone_never_breaks_the_app(
    served: Served, command: str, text: str, user_id: str, user_name: str
) -> None:
    fields = {
        "command": command,
        "text": text,
        "user_id": user_id,
        "user_name": user_name,
        "channel_id": "C0GENERAL",
        "trigger_id": FRESH_VALUE,
        "response_url": FRESH_VALUE,
    }
    check_command(served, fields)


@HTTP
@given(
    command=COMMANDS,
    text=st.sampled_from(["", "list", "mine", "request <@U0ALICE|a>", "give <@U0BOB|b>", "coach"]),
    channel_id=st.sampled_from(["C0GENERAL", "D0MAYA"])
    | st.from_regex(r"\A[CDG][A-Za-z0-9_-]{0,30}\Z")
    | st.text(max_size=30),
    trigger_id=st.just(FRESH_VALUE) | st.text(max_size=40),
    response_url=st.just(FRESH_VALUE) | st.sampled_from(["https://evil.example/x", "http://127.0.0.1:9/x"]),
)
@example(command="/debrief", text="", channel_id="Cabc", trigger_id=FRESH_VALUE, response_url=FRESH_VALUE)
def test_a_command_with_any_channel_trigger_or_response_url_never_breaks_the_app(
    served: Served, command: str, text: str, channel_id: str, trigger_id: str, response_url: str
) -> None:
    fields = {
        "command": command,
        "text": text,
        "user_id": MAYA.id,
        "user_name": "maya",
        "channel_id": channel_id,
        "trigger_id": trigger_id,
        "response_url": response_url,
    }
    check_command(served, fields)


# ---------------------------------------------------------------------------------------
# Without HTTP: handlers.forms
# ---------------------------------------------------------------------------------------

META_MODELS = [NewProjectMeta, DebriefFormMeta, FeedbackFormMeta, ReportMeta, RequestMeta, DraftMeta]
META_KEYS = ["subject_id", "request_id", "about", "project_id", "draft_id", "channel_id", "subject_slack_id"]
METADATA = (
    st.text(max_size=80)
    | JSON_VALUES.map(json.dumps)
    | st.dictionaries(st.sampled_from(META_KEYS), JSON_VALUES, max_size=4).map(json.dumps)
    | JSON_VALUES
)


@UNIT
@given(model=st.sampled_from(META_MODELS), metadata=METADATA, absent=st.booleans())
def test_parse_metadata_returns_the_model_or_refuses(model: Any, metadata: Any, absent: bool) -> None:
    view = {} if absent else {"private_metadata": metadata}
    try:
        meta = parse_metadata(view, model)
    except FormRefused:
        return
    assert isinstance(meta, model)
    for name in ("subject_id", "request_id", "project_id", "draft_id"):
        value = getattr(meta, name, None)
        assert value is None or (type(value) is int and 1 <= value <= DB_ID_MAX), (name, value)


IDS = JSON_VALUES | st.integers().map(str) | st.from_regex(r"\A\s?[+-]?[0-9]{1,12}\s?\Z")


@UNIT
@given(value=IDS)
def test_db_id_returns_a_database_id_or_refuses(value: Any) -> None:
    try:
        result = db_id(value)
    except FormRefused:
        return
    assert type(result) is int and 1 <= result <= DB_ID_MAX


@UNIT
@given(value=IDS | st.builds(lambda a, b: f"{a}:{b}", IDS, IDS))
def test_db_id_pair_returns_two_database_ids_or_refuses(value: Any) -> None:
    try:
        first, second = db_id_pair(value)
    except FormRefused:
        return
    assert all(type(v) is int and 1 <= v <= DB_ID_MAX for v in (first, second))


@UNIT
@given(value=IDS | st.builds(lambda a, b: f"{a}:{b}", IDS, IDS))
@example(value="7\n")
def test_ids_are_read_only_as_brickwork_writes_them(value: Any) -> None:
    try:
        result = db_id(value)
    except FormRefused:
        pass
    else:
        assert isinstance(value, str) and re.fullmatch(r"[1-9][0-9]{0,9}", value), (value, result)
    try:
        pair = db_id_pair(value)
    except FormRefused:
        pass
    else:
        assert isinstance(value, str) and re.fullmatch(r"[1-9][0-9]{0,9}:[1-9][0-9]{0,9}", value), pair


SPECS = st.dictionaries(
    st.sampled_from(["a", "b", "input", "note", "who"]), st.sampled_from(list(Input)), max_size=4
)
ELEMENT_TYPES = [t for kind in Input for t in kind.value] + ["button", "number_input"]
ELEMENTS = st.fixed_dictionaries(
    {"type": st.sampled_from(ELEMENT_TYPES) | JSON_VALUES},
    optional={
        "value": JSON_VALUES,
        "selected_option": JSON_VALUES | st.fixed_dictionaries({"value": JSON_VALUES}),
        "selected_options": JSON_VALUES | st.lists(st.fixed_dictionaries({"value": JSON_VALUES}), max_size=3),
        "selected_user": JSON_VALUES | VALID_USER_IDS,
        "selected_users": JSON_VALUES | st.lists(VALID_USER_IDS, max_size=3),
        "selected_date": JSON_VALUES | st.dates().map(date.isoformat),
    },
)
VALUES = st.dictionaries(
    st.sampled_from(["a", "b", "input", "note", "who"]),
    st.dictionaries(st.sampled_from(["input", "other"]), ELEMENTS | JSON_VALUES, max_size=2) | JSON_VALUES,
    max_size=4,
)


def _read_form_checked(view: Mapping[str, Any], spec: dict[str, Input]) -> None:
    try:
        values = read_form(view, spec)
    except FormRefused:
        return
    assert set(values) == set(spec)
    for block, kind in spec.items():
        value = values[block]
        if kind is Input.TEXT:
            assert isinstance(value, str)
        elif kind in (Input.CHOICE, Input.USER):
            assert value is None or isinstance(value, str)
        elif kind in (Input.CHOICES, Input.USERS):
            assert isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            assert value is None or type(value) is date


@UNIT
@given(values=VALUES | JSON_VALUES, spec=SPECS, state_absent=st.booleans())
def test_read_form_returns_plain_values_or_refuses(
    values: Any, spec: dict[str, Input], state_absent: bool
) -> None:
    """A view's state as the gate lets it through (an object, or absent), with any values."""
    _read_form_checked({} if state_absent else {"state": {"values": values}}, spec)


@UNIT
@given(state=JSON_VALUES, spec=SPECS)
@example(state=["x"], spec={"a": Input.TEXT})
def test_read_form_with_any_state_refuses_rather_than_crashes(state: Any, spec: dict[str, Input]) -> None:
    _read_form_checked({"state": state}, spec)


# ---------------------------------------------------------------------------------------
# Without HTTP: bot.inbound
# ---------------------------------------------------------------------------------------

CONTENT_TYPES = st.sampled_from(
    [
        FORM,
        JSON,
        "application/json; charset=utf-8",
        "APPLICATION/X-WWW-FORM-URLENCODED",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ]
) | st.text(max_size=30)
FIELD_NAMES = st.sampled_from(
    [
        "payload",
        "command",
        "text",
        "user_id",
        "team_id",
        "channel_id",
        "trigger_id",
        "response_url",
        "ssl_check",
    ]
) | st.text(max_size=10)
FIELD_VALUES = st.text(max_size=40) | JSON_VALUES.map(json.dumps) | st.sampled_from(TRICKY)
SLACKISH = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["block_actions", "view_submission", "view_closed", "event_callback"])
        | SCALARS
    },
    optional={
        "user": st.fixed_dictionaries({"id": VALID_USER_IDS | SCALARS}) | JSON_VALUES,
        "team_id": st.sampled_from(["T0BRICK"]) | SCALARS,
        "trigger_id": st.text(max_size=20) | SCALARS,
        "actions": st.lists(
            st.fixed_dictionaries(
                {
                    "action_id": st.text(max_size=10),
                    "block_id": st.text(max_size=10),
                    "type": st.just("button"),
                },
                optional={"value": JSON_VALUES},
            ),
            max_size=3,
        )
        | JSON_VALUES,
        "view": st.fixed_dictionaries(
            {
                "id": st.sampled_from(["V0001"]) | SCALARS,
                "type": st.sampled_from(["modal", "home"]) | SCALARS,
            },
            optional={"state": st.fixed_dictionaries({"values": VALUES}) | JSON_VALUES},
        )
        | JSON_VALUES,
        "event": st.fixed_dictionaries(
            {"type": st.text(max_size=12)}, optional={"user": VALID_USER_IDS | SCALARS}
        )
        | JSON_VALUES,
        "event_id": st.text(max_size=12) | SCALARS,
        "challenge": st.text(max_size=12) | SCALARS,
        "authorizations": JSON_VALUES,
        "response_urls": JSON_VALUES,
    },
)
COMMAND_FORMS = st.fixed_dictionaries(
    {
        "command": st.sampled_from(["/feedback", "/debrief"]) | st.text(max_size=10),
        "user_id": VALID_USER_IDS | st.text(max_size=10),
        "team_id": st.just("T0BRICK") | st.text(max_size=10),
        "channel_id": st.just("C0GENERAL") | st.text(max_size=10),
        "trigger_id": st.text(max_size=10),
        "response_url": st.just("https://hooks.slack.com/x") | st.text(max_size=20),
    },
    optional={"text": st.text(max_size=40), "user_name": st.text(max_size=10)},
)
BODIES = (
    st.dictionaries(FIELD_NAMES, FIELD_VALUES, max_size=6).map(lambda d: urlencode(d).encode())
    | SLACKISH.map(lambda p: urlencode({"payload": json.dumps(p)}).encode())
    | COMMAND_FORMS.map(lambda d: urlencode(d).encode())
    | SLACKISH.map(lambda p: json.dumps(p).encode())
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=200)
)


@UNIT
@given(content_type=CONTENT_TYPES, body=BODIES)
def test_parse_signed_verifies_or_refuses(content_type: str, body: bytes) -> None:
    try:
        verified = parse_signed({"content-type": content_type}, body)
    except Refused as refused:
        assert 400 <= refused.status < 500
        return
    assert isinstance(verified, Verified)
    assert verified.kind in {"command", "ssl_check", "block_actions", "view_submission", "view_closed"} | {
        "event_callback",
        "url_verification",
        "app_rate_limited",
    }


A_COMMAND_SAYING_PAYLOAD = urlencode(
    {
        "token": "t",
        "team_id": "T0BRICK",
        "channel_id": "C0GENERAL",
        "user_id": "U0MAYA",
        "command": "/feedback",
        "text": "give <@U0BOB|bob> about the payload",
        "trigger_id": "1.2.3",
        "response_url": "https://hooks.slack.com/commands/1",
    }
).encode()


@UNIT
@given(content_type=CONTENT_TYPES, body=BODIES)
@example(content_type=FORM, body=A_COMMAND_SAYING_PAYLOAD)
def test_bolt_reads_what_the_gate_checked(content_type: str, body: bytes) -> None:
    """bot.server hands Bolt the body as the gate checked it (never the text, which Bolt parses by
    other rules): Bolt reads exactly that, and it holds only what the request said."""
    try:
        verified = parse_signed({"content-type": content_type}, body)
    except Refused:
        return
    bolt = BoltRequest(body=verified.body, headers={"content-type": content_type}, mode="socket_mode").body
    assert bolt == verified.body
    said = json.loads(body) if content_type == JSON else _form_or_payload(body.decode())
    assert _within(verified.body, said), (verified.body, said)


def _within(checked: Any, said: Any) -> bool:
    """Every field of ``checked`` is in ``said`` with the same value (fields may be dropped)."""
    if isinstance(checked, dict):
        return isinstance(said, dict) and all(k in said and _within(v, said[k]) for k, v in checked.items())
    if isinstance(checked, list):
        return isinstance(said, list) and len(checked) == len(said) and all(map(_within, checked, said))
    return bool(checked == said)


def _form_or_payload(text: str) -> dict[str, Any]:
    form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    payload: dict[str, Any] = json.loads(form["payload"]) if "payload" in form else form
    return payload


SECRET = "s3cret"
NOW = 1_800_000_000
TIMESTAMPS = (
    st.text(max_size=20)
    | st.integers(min_value=NOW - 2 * TOLERANCE_SECONDS, max_value=NOW + 2 * TOLERANCE_SECONDS).map(str)
    | st.builds(
        lambda prefix, offset, suffix: f"{prefix}{NOW + offset}{suffix}",
        st.sampled_from(["", " ", "+", "0", "-"]) | st.text(max_size=2),
        st.integers(min_value=-TOLERANCE_SECONDS, max_value=TOLERANCE_SECONDS),
        st.sampled_from(["", " ", ".0", "\n", "e0"]) | st.text(max_size=2),
    )
)


def _signed(timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode("utf-8", "surrogatepass") + b":" + body
    return "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()


@UNIT
@given(
    timestamp=TIMESTAMPS,
    body=st.binary(max_size=40),
    signature=st.none() | st.text(max_size=70) | st.from_regex(r"\Av[01]=[0-9a-fA-F]{64}\Z"),
    missing=st.sampled_from(["", "timestamp", "signature"]),
)
def test_verify_signature_passes_only_a_recent_good_signature(
    timestamp: str, body: bytes, signature: str | None, missing: str
) -> None:
    """``signature`` None: the right one for the timestamp and body, as Slack would sign them."""
    headers = {
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": _signed(timestamp, body) if signature is None else signature,
    }
    headers.pop(f"x-slack-request-{missing}" if missing == "timestamp" else f"x-slack-{missing}", None)
    try:
        verify_signature(SECRET, headers, body, now=lambda: float(NOW))
    except Refused as refused:
        assert refused.status == 401
        return
    assert not missing
    assert hmac.compare_digest(headers["x-slack-signature"], _signed(timestamp, body))
    assert abs(int(timestamp) - NOW) <= TOLERANCE_SECONDS


@UNIT
@given(timestamp=TIMESTAMPS, body=st.binary(max_size=40))
@example(timestamp=f"{NOW}\n", body=b"payload=%7B%7D")
def test_verify_signature_takes_only_a_whole_number_of_seconds(timestamp: str, body: bytes) -> None:
    headers = {"x-slack-request-timestamp": timestamp, "x-slack-signature": _signed(timestamp, body)}
    try:
        verify_signature(SECRET, headers, body, now=lambda: float(NOW))
    except Refused:
        return
    assert re.fullmatch(r"[0-9]{1,12}", timestamp), repr(timestamp)


def test_the_module_server_stayed_up(served: Served) -> None:
    """After everything above, the server still answers, and nothing took it down."""
    assert served.app.process.poll() is None
    settle(served)
