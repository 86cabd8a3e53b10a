"""What arrives at ``POST /slack/events``, checked before Bolt or anything of ours sees it.

Order matters, and nothing is read before it is authenticated:

1. **The signature** (Slack's v0 scheme: HMAC-SHA256 of ``v0:<timestamp>:<raw body>`` with the
   signing secret, the timestamp a whole number of seconds within five minutes of ours). Any
   request that cannot be verified, for whatever reason — a missing header, a timestamp that
   is not a number, a stale one, a wrong signature — is ``401`` and has no effect: no Web API
   call, no database write, and a log line that carries none of its content.
2. **The body**, only once signed: a content type Slack sends (form or JSON), UTF-8, and the
   shape of what Slack sends — a slash command's fields, an interaction's ``payload`` (a JSON
   object), an Events API envelope — with the types of every field that Bolt's routing or our
   listeners read. Anything else is ``4xx``, never a ``500`` or a traceback. What the fields
   *mean* (metadata, button values, form values) is checked later, in the services, against
   what the acting user may do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

TOLERANCE_SECONDS = 300  # Slack: reject requests more than five minutes from local time
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class Refused(Exception):
    """The request gets ``status`` and has no effect. ``reason`` is a fixed phrase for the log:
    it never quotes the request."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Verified:
    """A signed request whose body has the shape Slack gives it; ``text`` is the body, decoded."""

    text: str
    content_type: str
    kind: str  # "command", an interaction type ("block_actions"…) or an event envelope type


def verify_signature(
    signing_secret: str, headers: Mapping[str, str], body: bytes, *, now: Callable[[], float] = time.time
) -> None:
    """Raise ``Refused(401)`` unless ``body`` carries Slack's signature for it, made recently."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
        raise Refused(401, "unsigned or malformed signature headers")
    if abs(now() - int(timestamp)) > TOLERANCE_SECONDS:
        raise Refused(401, "stale signature")
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused(401, "bad signature")


# ---------------------------------------------------------------------------------------
# The shapes Slack sends. Strict types for every field Bolt's routing or a listener reads;
# other fields pass through untouched (Slack adds fields over time).
# ---------------------------------------------------------------------------------------

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
TeamId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,32}$")]  # stored (Events API dedup)
UserId = Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{2,20}$")]
Short = Annotated[str, StringConstraints(max_length=255)]
Text = Annotated[str, StringConstraints(max_length=12_000)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S{1,2000}$")]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _User(_Loose):
    id: UserId
    username: Short | None = None
    name: Short | None = None
    team_id: Id | None = None


class _Team(_Loose):
    id: Id
    domain: Short | None = None
    enterprise_id: Id | None = None


class _Enterprise(_Loose):
    id: Id
    name: Short | None = None


class _Channel(_Loose):
    id: Id
    name: Short | None = None


class _Authorization(_Loose):
    enterprise_id: Id | None = None
    team_id: Id | None = None
    user_id: Id | None = None
    is_bot: bool | None = None
    is_enterprise_install: bool | None = None


class _Element(_Loose):
    """One input's state; what its value means is read by ``handlers.forms``."""

    type: Short


class _State(_Loose):
    values: dict[Short, dict[Short, _Element]] = Field(default_factory=dict)


class _View(_Loose):
    id: Id
    type: Literal["modal", "home"]
    callback_id: Short = ""
    private_metadata: Annotated[str, StringConstraints(max_length=3000)] = ""
    hash: Short | None = None
    team_id: Id | None = None
    app_installed_team_id: Id | None = None
    state: _State = Field(default_factory=_State)


class _Action(_Loose):
    action_id: Short
    block_id: Short
    type: Short
    value: Annotated[str, StringConstraints(max_length=2000)] | None = None


class _Container(_Loose):
    type: Short
    view_id: Id | None = None
    message_ts: Short | None = None
    channel_id: Id | None = None
    is_ephemeral: bool | None = None


class _ResponseUrl(_Loose):
    response_url: Url
    block_id: Short | None = None
    action_id: Short | None = None
    channel_id: Id | None = None


class _Interaction(_Loose):
    user: _User
    team: _Team | None = None
    enterprise: _Enterprise | None = None
    api_app_id: Id | None = None
    is_enterprise_install: bool | None = None
    token: Short | None = None


class BlockActions(_Interaction):
    type: Literal["block_actions"]
    trigger_id: Short
    actions: Annotated[list[_Action], Field(min_length=1, max_length=5)]
    container: _Container | None = None
    view: _View | None = None
    channel: _Channel | None = None
    message: dict[str, Any] | None = None
    response_url: Url | None = None
    state: _State | None = None


class ViewSubmission(_Interaction):
    type: Literal["view_submission"]
    trigger_id: Short | None = None
    view: _View
    response_urls: list[_ResponseUrl] = Field(default_factory=list)


class ViewClosed(_Interaction):
    type: Literal["view_closed"]
    view: _View
    is_cleared: bool | None = None


Interaction = Annotated[BlockActions | ViewSubmission | ViewClosed, Field(discriminator="type")]


class _Event(_Loose):
    type: Short
    user: UserId | None = None
    channel: Id | None = None
    tab: Short | None = None
    event_ts: Short | None = None
    view: dict[str, Any] | None = None


class EventCallback(_Loose):
    type: Literal["event_callback"]
    team_id: TeamId
    api_app_id: Id | None = None
    event: _Event
    event_id: Id
    event_time: int | None = None
    authorizations: list[_Authorization] | None = None
    is_ext_shared_channel: bool | None = None
    enterprise_id: Id | None = None
    context_team_id: Id | None = None
    context_enterprise_id: Id | None = None


class UrlVerification(_Loose):
    type: Literal["url_verification"]
    challenge: Short


class AppRateLimited(_Loose):
    type: Literal["app_rate_limited"]
    team_id: Id | None = None


Envelope = Annotated[EventCallback | UrlVerification | AppRateLimited, Field(discriminator="type")]


class SlashCommand(BaseModel):
    """A slash command's form fields: each a single string."""

    model_config = ConfigDict(extra="allow", strict=True)
    command: Annotated[str, StringConstraints(pattern=r"^/[a-z0-9_-]{1,32}$")]
    text: Text = ""
    user_id: UserId
    user_name: Short = ""
    team_id: Id
    team_domain: Short = ""
    channel_id: Id
    channel_name: Short = ""
    trigger_id: Short
    response_url: Url
    api_app_id: Id | None = None
    enterprise_id: Id | None = None
    is_enterprise_install: Literal["true", "false"] | None = None


_INTERACTION: TypeAdapter[Any] = TypeAdapter(Interaction)
_ENVELOPE: TypeAdapter[Any] = TypeAdapter(Envelope)


def parse_signed(headers: Mapping[str, str], body: bytes) -> Verified:
    """Check the shape of a signed body; ``Refused(4xx)`` when Slack would never send it."""
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
            return Verified(text=text, content_type=content_type, kind=envelope.type)
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=100)
        if any(len(values) != 1 for values in fields.values()):
            raise Refused(400, "a form field given twice")
        form = {name: values[0] for name, values in fields.items()}
        if "payload" in form:
            interaction = _INTERACTION.validate_python(_json_object(form["payload"]))
            return Verified(text=text, content_type=content_type, kind=interaction.type)
        if "command" in form:
            SlashCommand.model_validate(form)
            return Verified(text=text, content_type=content_type, kind="command")
        if form.get("ssl_check") == "1":
            return Verified(text=text, content_type=content_type, kind="ssl_check")
    except ValidationError:
        raise Refused(400, "a body whose fields are not what Slack sends") from None
    except (ValueError, RecursionError):
        raise Refused(400, "a body that does not parse") from None
    raise Refused(400, "a body that is neither a command, an interaction nor an event")


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value
