"""What arrives at ``POST /slack/events``, checked before Bolt or anything of ours sees it.

Order matters, and nothing is read before it is authenticated:

1. **The signature** (Slack's v0 scheme: HMAC-SHA256 of ``v0:<timestamp>:<raw body>`` with the
   signing secret, the timestamp a whole number of seconds within five minutes of ours). Any
   request that cannot be verified, for whatever reason — a missing header, a timestamp that
   is not a number, a stale one, a wrong signature — is ``401`` and has no effect: no Web API
   call, no database write, and a log line that carries none of its content.
2. **The body**, only once signed: a content type Slack sends (form or JSON), UTF-8, and the
   shape of what Slack sends — a slash command's fields, an interaction's ``payload`` (a JSON
   object), an Events API envelope — typed field by field. Anything else is ``4xx``, never a
   ``500`` or a traceback. A ``response_url`` must point at Slack (``origins``): we never POST
   where a payload says.
3. **What Bolt gets is what was checked**: not the raw body (Bolt parses it again, by other
   rules — a form body that starts with ``{`` it reads as JSON, one that mentions "payload"
   anywhere as an interaction), but the typed body, rebuilt from the models below with only
   the fields they declare. Bolt never sees a field we did not check.

What the fields *mean* (metadata, button values, form values) is checked later, in
``handlers.forms`` and the services, against what the acting user may do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from bot.text import SLACK_USER_ID_PATTERN

TOLERANCE_SECONDS = 300  # Slack: reject requests more than five minutes from local time
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# Events Brickwork subscribes to (manifest.yml); any other is acknowledged and ignored. Of the
# ``message`` events (message.im) only a person's file share in a DM with the bot is handled.
EVENTS = frozenset({"app_home_opened", "message", "user_change"})
FILE_SHARE = "file_share"


class Refused(Exception):
    """The request gets ``status`` and has no effect. ``reason`` is a fixed phrase for the log:
    it never quotes the request."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Verified:
    """A signed request whose body has the shape Slack gives it. ``body`` is what Bolt gets:
    the command's fields, the interaction's payload, or the event envelope, as checked.
    ``ignored`` is set for a well-formed event Brickwork does not handle (acknowledge only)."""

    body: dict[str, Any]
    kind: str  # "command", an interaction type ("block_actions"…), an envelope type
    ignored: bool = False


def verify_signature(
    signing_secret: str, headers: Mapping[str, str], body: bytes, *, now: Callable[[], float] = time.time
) -> None:
    """Raise ``Refused(401)`` unless ``body`` carries Slack's signature for it, made recently."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        raise Refused(401, "unsigned or malformed signature headers")
    if abs(now() - int(timestamp)) > TOLERANCE_SECONDS:
        raise Refused(401, "stale signature")
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused(401, "bad signature")


# ---------------------------------------------------------------------------------------
# The shapes Slack sends, with the fields Bolt's routing or our listeners read. Fields not
# declared here are dropped (``extra="ignore"``): Bolt never sees what was not checked.
# ---------------------------------------------------------------------------------------

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
TeamId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,32}$")]  # stored (Events API dedup)
UserId = Annotated[str, StringConstraints(pattern=SLACK_USER_ID_PATTERN)]
Short = Annotated[str, StringConstraints(max_length=255)]
Trigger = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^\S+$")]
Text = Annotated[str, StringConstraints(max_length=12_000)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]{1,2000}$")]


class _Checked(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class _User(_Checked):
    id: UserId
    username: Short | None = None
    name: Short | None = None
    team_id: Id | None = None


class _Team(_Checked):
    id: Id
    domain: Short | None = None


class _Enterprise(_Checked):
    id: Id
    name: Short | None = None


class _Channel(_Checked):
    id: Id
    name: Short | None = None


class _Element(BaseModel):
    """One input's state: its ``type`` here; what its value means is read by ``handlers.forms``
    (which refuses anything that is not the element we built)."""

    model_config = ConfigDict(extra="allow", strict=True)
    type: Short


class _State(_Checked):
    values: dict[Short, dict[Short, _Element]] = Field(default_factory=dict)


class _View(_Checked):
    id: Id
    type: Literal["modal", "home"]
    callback_id: Short = ""
    private_metadata: Annotated[str, StringConstraints(max_length=3000)] = ""
    hash: Short | None = None
    state: _State = Field(default_factory=_State)


class _Option(_Checked):
    value: Annotated[str, StringConstraints(max_length=2000)]


class _Action(_Checked):
    action_id: Short
    block_id: Short
    type: Short
    value: Annotated[str, StringConstraints(max_length=2000)] | None = None
    selected_option: _Option | None = None
    selected_users: Annotated[list[UserId], Field(max_length=100)] | None = None
    selected_date: Short | None = None


class _Container(_Checked):
    type: Short
    view_id: Id | None = None
    message_ts: Short | None = None
    channel_id: Id | None = None
    is_ephemeral: bool | None = None


class _ResponseUrl(_Checked):
    response_url: Url
    block_id: Short | None = None
    action_id: Short | None = None
    channel_id: Id | None = None


class _Interaction(_Checked):
    user: _User
    team: _Team | None = None
    enterprise: _Enterprise | None = None
    api_app_id: Id | None = None
    is_enterprise_install: bool | None = None


class BlockActions(_Interaction):
    type: Literal["block_actions"]
    trigger_id: Trigger
    actions: Annotated[list[_Action], Field(min_length=1, max_length=5)]
    container: _Container | None = None
    view: _View | None = None
    channel: _Channel | None = None
    response_url: Url | None = None


class ViewSubmission(_Interaction):
    type: Literal["view_submission"]
    trigger_id: Trigger | None = None
    view: _View
    response_urls: Annotated[list[_ResponseUrl], Field(max_length=5)] = Field(default_factory=list)


class ViewClosed(_Interaction):
    type: Literal["view_closed"]
    view: _View
    is_cleared: bool | None = None


Interaction = Annotated[BlockActions | ViewSubmission | ViewClosed, Field(discriminator="type")]


class _AppHomeOpened(_Checked):
    type: Literal["app_home_opened"]
    user: UserId
    channel: Id | None = None
    tab: Short | None = None
    event_ts: Short | None = None


class _UserRef(_Checked):
    id: UserId


class _UserChange(_Checked):
    """A profile changed (``user_change``): whose, and nothing else — what changed is read from
    ``users.info``, never from the event."""

    type: Literal["user_change"]
    user: _UserRef
    event_ts: Short | None = None


FileId = Annotated[str, StringConstraints(pattern=r"^F[A-Z0-9]{2,30}$")]


class _FileRef(_Checked):
    """A shared file, by id only: what Brickwork knows of it comes from ``files.info``, never from
    the event (its ``url_private`` is the payload's to choose, and a token must not follow it)."""

    id: FileId


class _FileShared(_Checked):
    """A person shared files in their DM with the bot (``message``, subtype ``file_share``)."""

    type: Literal["message"]
    subtype: Literal["file_share"]
    user: UserId
    channel: Id
    channel_type: Literal["im"]
    files: Annotated[list[_FileRef], Field(min_length=1, max_length=10)]
    ts: Short
    event_ts: Short | None = None


class _AnyEvent(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    type: Short


class EventCallback(_Checked):
    type: Literal["event_callback"]
    team_id: TeamId
    api_app_id: Id | None = None
    event: _AnyEvent
    event_id: Id
    event_time: int | None = None


class UrlVerification(_Checked):
    type: Literal["url_verification"]
    challenge: Short


class AppRateLimited(_Checked):
    type: Literal["app_rate_limited"]
    team_id: Id | None = None


Envelope = Annotated[EventCallback | UrlVerification | AppRateLimited, Field(discriminator="type")]


class SlashCommand(_Checked):
    """A slash command's form fields: each a single string."""

    command: Annotated[str, StringConstraints(pattern=r"^/[a-z0-9_-]{1,32}$")]
    text: Text = ""
    user_id: UserId
    user_name: Short = ""
    team_id: Id
    team_domain: Short = ""
    enterprise_id: Id | None = None
    channel_id: Id
    channel_name: Short = ""
    trigger_id: Trigger
    response_url: Url
    api_app_id: Id | None = None
    is_enterprise_install: Literal["true", "false"] | None = None


_INTERACTION: TypeAdapter[Any] = TypeAdapter(Interaction)
_ENVELOPE: TypeAdapter[Any] = TypeAdapter(Envelope)
_APP_HOME_OPENED: TypeAdapter[_AppHomeOpened] = TypeAdapter(_AppHomeOpened)
_FILE_SHARED: TypeAdapter[_FileShared] = TypeAdapter(_FileShared)
_USER_CHANGE: TypeAdapter[_UserChange] = TypeAdapter(_UserChange)


def _handled_message(event: Mapping[str, Any]) -> bool:
    """A message event Brickwork acts on: a person's (not a bot's) file share in a DM. Every
    other message — text, edits, the bot's own posts — is acknowledged and left alone."""
    return (
        event.get("subtype") == FILE_SHARE
        and event.get("channel_type") == "im"
        and "bot_id" not in event
        and "bot_profile" not in event
    )


def parse_signed(headers: Mapping[str, str], body: bytes, *, origins: Iterable[str] = ()) -> Verified:
    """Check the shape of a signed body; ``Refused(4xx)`` when Slack would never send it.
    ``origins``: where a ``response_url`` may point (scheme://host[:port]); empty: anywhere."""
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in (FORM, JSON):
        raise Refused(415, "a content type Slack does not send")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "a body that is not UTF-8") from None
    try:
        if content_type == JSON:
            envelope = _ENVELOPE.validate_python(_json_object(text))
            if isinstance(envelope, EventCallback):
                raw_event = envelope.event.model_dump()
                if envelope.event.type not in EVENTS or (
                    envelope.event.type == "message" and not _handled_message(raw_event)
                ):
                    return Verified(body={}, kind=envelope.event.type, ignored=True)
                adapter = {"message": _FILE_SHARED, "user_change": _USER_CHANGE}.get(
                    envelope.event.type, _APP_HOME_OPENED
                )
                event = adapter.validate_python(raw_event)
                checked = envelope.model_dump(exclude_unset=True)
                checked["event"] = event.model_dump(exclude_unset=True)
                return Verified(body=checked, kind=envelope.type)
            return Verified(body=envelope.model_dump(exclude_unset=True), kind=envelope.type)
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=100)
        if any(len(values) != 1 for values in fields.values()):
            raise Refused(400, "a form field given twice")
        form = {name: values[0] for name, values in fields.items()}
        if "payload" in form:
            if set(form) != {"payload"}:  # Slack sends an interaction as this one field, alone
                raise Refused(400, "an interaction with other form fields")
            interaction = _INTERACTION.validate_python(_json_object(form["payload"]))
            urls = [interaction.response_url] if isinstance(interaction, BlockActions) else []
            urls += [r.response_url for r in getattr(interaction, "response_urls", [])]
            _check_origins(urls, origins)
            return Verified(body=interaction.model_dump(exclude_unset=True), kind=interaction.type)
        if "command" in form:
            command = SlashCommand.model_validate(form)
            _check_origins([command.response_url], origins)
            return Verified(body=command.model_dump(exclude_unset=True), kind="command")
        if form.get("ssl_check") == "1":
            return Verified(body={"ssl_check": "1"}, kind="ssl_check")
    except ValidationError:
        raise Refused(400, "a body whose fields are not what Slack sends") from None
    except (ValueError, RecursionError):
        raise Refused(400, "a body that does not parse") from None
    raise Refused(400, "a body that is neither a command, an interaction nor an event")


def _check_origins(urls: Iterable[str | None], origins: Iterable[str]) -> None:
    allowed = frozenset(origins)
    for url in urls:
        if url is None or not allowed:
            continue
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" not in allowed:
            raise Refused(400, "a response_url that is not Slack's")


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value
