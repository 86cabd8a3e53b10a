"""A fake Slack Web API on loopback, standing in for ``https://slack.com/api/``.

:class:`FakeSlack` runs a stdlib ``ThreadingHTTPServer`` on ``127.0.0.1`` (random port)
and answers ``POST /api/<method>`` the way Slack does: HTTP 200 with
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Point the app's
``slack_sdk.WebClient(base_url=slack.url)`` at it. The rule of the house: the stand-in refuses
what Slack refuses; a test that passes only because the stand-in is more lenient proves nothing.

What it stands in for:

* the Web API methods the app uses (``auth.test``, ``users.*``, ``conversations.open``,
  ``conversations.history``, ``chat.*``, ``views.*``), with Slack's argument names, result shapes
  and error codes;
* file uploads the way ``WebClient.files_upload_v2`` does them: ``files.getUploadURLExternal``,
  a POST of the bytes to the returned ``upload_url`` (served here under ``/upload/<file_id>``)
  and ``files.completeUploadExternal``, which shares the file into a channel or DM;
* files people share (:meth:`FakeSlack.share_file`; the driver's ``Actor.share_file`` also sends
  the ``message`` event with subtype ``file_share``), ``files.info``, and downloads from a file's
  ``url_private`` / ``url_private_download`` (served under ``/files-pri/``) — see "Files" below;
* Slack's server-side Block Kit validation (see :mod:`bot.standin.validation`), so an
  over-long button label fails here exactly as it would in production;
* message metadata (``metadata`` on chat.postMessage / chat.update, returned by
  conversations.history with ``include_all_metadata``);
* OAuth scopes (see :mod:`bot.standin.scopes`): a call whose token lacks the scope is refused with
  ``missing_scope`` and the ``needed`` / ``provided`` fields;
* the conversations of a workspace and who is in them (see "Conversations" below);
* trigger ids (single use, 3 second lifetime) and ``response_url`` endpoints;
* rate limits and outages, on demand (:meth:`FakeSlack.fail_next`, :meth:`FakeSlack.fail_call`),
  answers that come late, never, or not at all after the call was applied
  (:meth:`FakeSlack.answer_late`, :meth:`FakeSlack.drop_after_apply`), and hooks that run at an
  exact point of the Nth call (:meth:`FakeSlack.on_call`) — for exactly-once tests that kill
  processes mid-call.

Conversations
-------------

The workspace knows public channels (``C…``), private channels (``G…``, or ``C…`` made private),
the bot's DM with each user (``FakeSlack.dm_channel(user_id)``), DMs between two people (``D…``
without the bot) and group DMs. ``C0GENERAL`` ("general", public, every user and the bot) exists
from the start; tests add others with :meth:`FakeSlack.add_channel`, :meth:`FakeSlack.add_dm_between`,
:meth:`FakeSlack.add_group_dm` and change membership with :meth:`FakeSlack.add_member` /
:meth:`FakeSlack.remove_member`. A conversation the bot cannot see — unknown, a private channel or
group DM it is not in, a DM between two other people — is ``channel_not_found`` to every method, as
in Slack (which does not reveal that it exists). Per method, the stand-in checks:

* ``chat.postMessage`` (https://docs.slack.dev/reference/methods/chat.postMessage): a user id posts
  into the bot's DM with that user; an invisible conversation is ``channel_not_found``; a public
  channel the bot is not in is ``not_in_channel`` unless the app has ``chat:write.public``.
  Not checked yet: channel *names* (``#general``; the stand-in takes ids only), archived channels
  (``is_archived``), read-only / thread-only channels, ``reply_broadcast``.
* ``chat.postEphemeral`` (https://docs.slack.dev/reference/methods/chat.postEphemeral): as above,
  but the bot must be in the channel even with ``chat:write.public``; a recipient who is not a member
  of the conversation is ``user_not_in_channel``; an unknown user ``user_not_found``.
* ``chat.update`` / ``chat.delete`` (https://docs.slack.dev/reference/methods/chat.update,
  https://docs.slack.dev/reference/methods/chat.delete): the channel must be a conversation id the bot
  can see (a user id is ``channel_not_found``), then the message must exist (``message_not_found``).
  Not checked yet: ``cant_update_message`` / ``cant_delete_message`` (every stored message is the
  bot's), ``edit_window_closed``.
* ``conversations.history`` (https://docs.slack.dev/reference/methods/conversations.history): an
  invisible conversation is ``channel_not_found``; then the scope for its kind (``missing_scope``);
  a public channel the bot is not in is ``not_in_channel``; malformed ``oldest`` / ``latest`` are
  ``invalid_ts_oldest`` / ``invalid_ts_latest``; a cursor it did not issue is ``invalid_cursor``.
  Only top-level messages (thread parents included, replies not), newest first, deleted ones left
  out; ``limit`` defaults to 100 and is capped at 999. Slack documents no error for a ``limit``
  that is not a positive integer; the stand-in refuses one with ``invalid_arguments``.
* ``files.completeUploadExternal`` (https://docs.slack.dev/reference/methods/files.completeUploadExternal):
  every channel in ``channel_id`` / ``channels`` must be visible (``channel_not_found``) and, for a
  public channel, have the bot as a member (``not_in_channel``); the whole call is refused then.
* ``conversations.open`` (https://docs.slack.dev/reference/methods/conversations.open): resuming by
  ``channel`` works for the bot's DMs and group DMs only (an invisible one is ``channel_not_found``,
  a channel ``method_not_supported_for_channel_type``).
* ``auth.test`` (https://docs.slack.dev/reference/methods/auth.test): every method first checks the
  token: none is ``not_authed``, one that is not a bot token (``xoxb-``) ``invalid_auth``. Not
  checked yet: a revoked or other workspace's bot token (any ``xoxb-`` passes).
* ``users.info`` / ``users.lookupByEmail`` (https://docs.slack.dev/reference/methods/users.info,
  https://docs.slack.dev/reference/methods/users.lookupByEmail): an unknown id is ``user_not_found``,
  an unknown or deactivated person's address ``users_not_found``; the email needs
  ``users:read.email`` (``missing_scope``). Not checked yet: ``include_locale``, guests' visibility.
* ``views.open`` / ``views.push`` (https://docs.slack.dev/reference/methods/views.open,
  https://docs.slack.dev/reference/methods/views.push): the trigger id must be one Slack issued
  (``invalid_trigger_id``), used once (``exchanged_trigger_id``), within 3 seconds
  (``expired_trigger_id``); the view is validated as Slack does (``invalid_arguments`` with the
  messages); a stack holds three modals (``push_limit_reached``). Not checked yet:
  ``duplicate_external_id``, ``view_too_large`` beyond the per-field limits.
* ``views.update`` (https://docs.slack.dev/reference/methods/views.update): by ``view_id`` or
  ``external_id`` (neither: ``invalid_arguments``); an unknown view, or a modal the person has closed,
  is ``not_found``; a stale ``hash`` is ``hash_conflict``; the new view keeps its type.
* ``views.publish`` (https://docs.slack.dev/reference/methods/views.publish): an unknown user is
  ``user_not_found``, a view that is not a ``home`` ``invalid_arguments``, a stale ``hash``
  ``hash_conflict``. Not checked yet: a user who never opened the app (Slack publishes anyway).
* Rate limits are not applied on their own: a test asks for a 429 (with ``Retry-After``) by method
  and call number. Not checked yet: Slack's per-tier budgets.
* Slash commands and ``response_url`` are not membership-checked: Slack delivers a command typed in
  any conversation, and its ``response_url`` answers there (ephemeral or ``in_channel``) even when
  the bot is not a member. A ``response_url`` takes five answers (then ``used_url``) within 30
  minutes (``response_url_ttl``; then ``expired_url``), as https://docs.slack.dev/interactivity/handling-user-interaction
  says.

Files
-----

A file is shared by a person (:meth:`FakeSlack.share_file`) or uploaded by the app
(``files_upload_v2``); either way it lives in the conversations it was shared to. The bot can see
a file it uploaded itself and any file shared in a conversation it is a member of; any other file
is ``file_not_found`` to ``files.info`` (https://docs.slack.dev/reference/methods/files.info, which
needs ``files:read``), as Slack does not reveal files the app cannot see.

``url_private`` and ``url_private_download`` are downloaded with ``GET`` and the header
``Authorization: Bearer <token>`` (https://api.slack.com/types/file#auth); the token must be a bot
token with ``files:read`` and the file one the bot can see. Otherwise Slack does not answer 401: it
redirects to its sign-in page (``302``, an HTML body, the header ``x-slack-meta: ?;acl_fail``), so
a client that follows the redirect gets ``200`` and an HTML page instead of the file — the classic
sign of a missing ``files:read``. The stand-in does the same (its sign-in page is ``/signin``). A
file's bytes are served with its ``mimetype``. Downloads are recorded as ``url_private`` calls
(``file_id``, how they ended: ``not_authed``, ``missing_scope``, ``file_not_found``).

Message metadata (https://docs.slack.dev/messaging/message-metadata): ``metadata`` must be a JSON
object (a JSON-encoded string in a form body) with a string ``event_type`` and an object
``event_payload``, else ``invalid_metadata_format``. An ``event_type`` with characters other than
letters, digits, ``_`` and ``-`` is, as Slack documents, not an error: the message is posted without
its metadata and the answer carries the warning ``invalid_metadata_schema``. Not checked:
``metadata_too_large`` (Slack does not document the limit), manifest-declared event schemas.

Every request is recorded as a :class:`Call` (numbered per method, with how it was answered); tests
read them with :meth:`FakeSlack.calls_to` or poll with :meth:`FakeSlack.wait_for` (Bolt listeners run
after the HTTP ack, so tests must poll). Readers such as :meth:`FakeSlack.last_dm`,
:meth:`FakeSlack.open_modal`, :meth:`FakeSlack.files` and :meth:`FakeSlack.messages_with_metadata`
expose what a person would currently see.

Nothing happens at import time; each ``FakeSlack`` owns all of its state.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import email.parser
import email.policy
import itertools
import json
import logging
import mimetypes
import re
import secrets
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.standin.loopback import LoopbackService
from bot.standin.scopes import (
    APP_SCOPES,
    CHAT_WRITE_PUBLIC,
    FILES_READ,
    METHOD_SCOPES,
    SCOPE_BY_CONVERSATION,
    missing_scopes,
)
from bot.standin.validation import validate_message_blocks, validate_message_text, validate_view

log = logging.getLogger(__name__)

JSON_ENCODED_ARGS = ("blocks", "view", "attachments", "metadata", "files")
MODAL_STACK_LIMIT = 3
RESPONSE_URL_MAX_USES = 5
INTERACTIVE_SKIP_TYPES = frozenset({"image", "plain_text", "mrkdwn"})
ALT_TXT_MAX_LENGTH = 1000
GENERAL_CHANNEL = "C0GENERAL"
# conversations.history: "limit ... Maximum of 999", default 100
# (https://docs.slack.dev/reference/methods/conversations.history).
HISTORY_DEFAULT_LIMIT = 100
HISTORY_MAX_LIMIT = 999
# "Event types can contain letters, numbers, underscores, and hyphens"
# (https://docs.slack.dev/messaging/message-metadata).
METADATA_EVENT_TYPE = re.compile(r"[A-Za-z0-9_-]+")
TS_PATTERN = re.compile(r"\d+(\.\d+)?")
#: What Slack answers a ``url_private`` download it will not serve, after its redirect.
SIGN_IN_PAGE = b"<!DOCTYPE html><html><head><title>Sign in | Slack</title></head><body>Sign in</body></html>"

ConversationKind = Literal["public", "private", "im", "mpim"]
#: How a call was answered: normally, after a delay, never (connection held), or not at all (closed).
Answer = Literal["sent", "late", "never", "dropped", "error"]
HookStage = Literal["received", "applied", "answered"]


@dataclass
class FakeUser:
    """A workspace member known to the fake."""

    id: str
    name: str
    real_name: str = ""
    tz: str = "UTC"
    is_bot: bool = False
    deleted: bool = False
    email: str | None = None


@dataclass(frozen=True)
class Call:
    """One request the fake received (and applied, and usually answered).

    ``args`` are the decoded arguments (JSON-encoded form fields such as ``blocks`` and
    ``view`` are parsed; the token is not recorded). ``validation_errors`` is non-empty
    when the call was rejected because of its payload (see :meth:`FakeSlack.invalid_calls`).

    ``number`` is the call's 1-based number among the calls to ``method`` since the fake started
    or :meth:`FakeSlack.reset_calls`. ``ok`` / ``status`` / ``response`` say what Slack applied
    and answered (or would have); ``answer`` says how the fake delivered that answer: ``sent`` at
    once, ``late`` (after a delay, :meth:`FakeSlack.answer_late`; a client that gave up first never
    reads it), ``never`` (the connection was held open until the client gave up) or ``dropped``
    (closed without an answer, :meth:`FakeSlack.drop_after_apply`). Calls are recorded when
    applied, before the answer is written. A call passed to an ``on_call(..., when="received")``
    hook has not been applied yet: ``status`` 0, ``ok`` False, no ``response``.
    """

    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    status: int
    validation_errors: tuple[str, ...] = ()
    response: dict[str, Any] | None = None
    at: float = 0.0
    number: int = 0
    answer: Answer = "sent"

    @property
    def invalid(self) -> bool:
        """True when Slack would have rejected the payload (blocks, view, text)."""
        return bool(self.validation_errors)

    @property
    def answered(self) -> bool:
        """False when the fake wrote no answer at all (``answer`` is ``never`` or ``dropped``)."""
        return self.answer in ("sent", "late")

    def summary(self) -> str:
        state = "ok" if self.ok else f"error={self.error}"
        line = f"{self.method}#{self.number} [{self.status} {state}]"
        if self.answer != "sent":
            line += f" (answer {self.answer})"
        keys = (
            "channel",
            "channel_id",
            "user",
            "user_id",
            "users",
            "ts",
            "trigger_id",
            "view_id",
            "email",
            "filename",
            "file_id",
            "text",
        )
        shown = {k: self.args[k] for k in keys if k in self.args}
        if shown:
            text = json.dumps(shown, default=str)
            line += " " + (text if len(text) <= 160 else text[:157] + "...")
        if self.validation_errors:
            line += " " + "; ".join(self.validation_errors[:3])
        return line


class SlackApiFailure(Exception):
    """Raised inside a method handler to answer ``{"ok": false, "error": ...}``."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        validation_errors: Iterable[str] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.validation_errors = tuple(validation_errors)
        self.extra = dict(extra or {})


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    error: str | None


@dataclass(frozen=True)
class _Delivery:
    """How to answer an applied call: ``delay`` seconds late, never, by closing the connection,
    or with an HTTP ``status`` error although the call was applied."""

    answer: Answer
    delay: float = 0.0
    status: int = 500


@dataclass(eq=False)
class _Hook:
    method: str
    number: int | None  # None: every call
    when: HookStage
    callback: Callable[[Call], None]


@dataclass
class _Faults:
    """What was arranged for one incoming call (see FakeSlack.fail_call / answer_late / on_call)."""

    number: int
    failure: _Failure | None = None
    delivery: _Delivery | None = None
    hooks: list[_Hook] = field(default_factory=list)

    @property
    def answer(self) -> Answer:
        return "sent" if self.delivery is None else self.delivery.answer


@dataclass
class _Conversation:
    """A conversation of the workspace. ``members`` are user ids; the bot is one when it is in it."""

    id: str
    kind: ConversationKind
    name: str = ""
    members: set[str] = field(default_factory=set)


@dataclass
class _Trigger:
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class _ResponseUrl:
    user_id: str
    channel_id: str
    message_channel: str | None
    message_ts: str | None
    is_ephemeral: bool
    issued_at: float = 0.0
    uses: int = 0
    ephemeral_ts: str | None = None


@dataclass
class _Upload:
    """A file id issued by files.getUploadURLExternal, before/after its bytes arrive."""

    file_id: str
    filename: str
    length: int
    alt_txt: str | None
    snippet_type: str | None
    content: bytes | None = None
    completed: bool = False


@dataclass
class _CallInfo:
    """An arriving call, before the outcome is known; :meth:`make` builds its :class:`Call`."""

    method: str
    args: dict[str, Any]
    at: float
    faults: _Faults

    def make(
        self,
        ok: bool,
        error: str | None,
        status: int,
        validation_errors: Iterable[str] = (),
        response: dict[str, Any] | None = None,
    ) -> Call:
        return Call(
            self.method,
            self.args,
            ok,
            error,
            status,
            tuple(validation_errors),
            response,
            at=self.at,
            number=self.faults.number,
            answer=self.faults.answer,
        )


@dataclass
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # answer text/plain instead of JSON (the upload URL does)
    call: Call | None = None  # the call this answers, as recorded
    raw: bytes | None = None  # answer these bytes, with ``content_type`` (file downloads)
    content_type: str = "application/octet-stream"


class FakeSlack(LoopbackService):
    """A fake Slack workspace + Web API served on loopback.

    Use as a context manager (``with FakeSlack(users) as slack: ...``) or call
    :meth:`start` / :meth:`stop`. ``trigger_ttl`` is how long an issued trigger id
    stays valid (Slack: 3 seconds), ``response_url_ttl`` a response_url (30 minutes); tests may
    shorten them. ``scopes`` are the bot token's OAuth scopes (default: what our app's
    manifest grants, :data:`bot.standin.scopes.APP_SCOPES`);
    a test may pass fewer to see ``missing_scope``, or change :attr:`scopes` later.
    """

    name = "fake-slack"

    def __init__(
        self,
        users: Iterable[FakeUser] = (),
        team_id: str = "T0BRICK",
        *,
        trigger_ttl: float = 3.0,
        response_url_ttl: float = 30 * 60,
        bot_user_id: str = "UBRICKBOT",
        bot_id: str = "B0BRICK",
        app_id: str = "A0BRICK",
        team_name: str = "Brickwork",
        team_domain: str = "brickwork",
        scopes: Iterable[str] = APP_SCOPES,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.trigger_ttl = trigger_ttl
        self.response_url_ttl = response_url_ttl
        self.scopes: tuple[str, ...] = tuple(scopes)
        self._lock = threading.RLock()
        self._recorded = threading.Condition(self._lock)  # notified whenever a call is recorded
        self._stopping = threading.Event()  # set by stop(): held and late answers give up
        self._users: dict[str, FakeUser] = {}
        self._calls: list[Call] = []
        self._call_numbers: dict[str, int] = {}  # method -> calls received since start / reset_calls
        self._failures: dict[str, deque[_Failure]] = {}  # fail_next
        self._numbered_failures: dict[tuple[str, int], _Failure] = {}  # fail_call
        self._deliveries: dict[str, deque[_Delivery]] = {}  # answer_late / drop_after_apply, next calls
        self._numbered_deliveries: dict[tuple[str, int], _Delivery] = {}  # ... by call number
        self._hooks: list[_Hook] = []
        self.hook_errors: list[BaseException] = []  # exceptions raised by on_call callbacks
        self._last_ts_us = 0
        self._counter = itertools.count(1)
        self._conversations: dict[str, _Conversation] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}  # channel -> messages
        self._ephemerals: dict[str, list[dict[str, Any]]] = {}  # user -> ephemeral messages
        self._triggers: dict[str, _Trigger] = {}
        self._views: dict[str, dict[str, Any]] = {}  # view id -> stored view
        self._view_users: dict[str, str] = {}  # view id -> user id
        self._external_ids: dict[str, str] = {}  # external_id -> view id
        self._modal_stacks: dict[str, list[str]] = {}  # user -> [view ids], top last
        self._homes: dict[str, str] = {}  # user -> home view id
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._uploads: dict[str, _Upload] = {}  # file id -> upload (files.getUploadURLExternal)
        self._files: dict[str, dict[str, Any]] = {}  # file id -> completed file record
        super().__init__()
        self._conversations[GENERAL_CHANNEL] = _Conversation(GENERAL_CHANNEL, "public", "general")
        self.add_user(FakeUser(id=bot_user_id, name="brickwork", real_name="Brickwork", is_bot=True))
        for user in users:
            self.add_user(user)
        self._methods: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.info": self._files_info,
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """Base URL for ``slack_sdk.WebClient(base_url=...)``, e.g. ``http://127.0.0.1:PORT/api/``."""
        return f"{self.root_url}/api/"

    @property
    def api_methods(self) -> tuple[str, ...]:
        """The Web API methods the fake implements (others answer ``unknown_method``)."""
        return tuple(self._methods)

    def start(self) -> Self:
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        """Stop serving; answers held open (:meth:`answer_late` with ``delay=None``) are closed unanswered."""
        self._stopping.set()
        super().stop()

    # ------------------------------------------------------------------ workspace

    def add_user(self, user: FakeUser) -> None:
        """Add (or replace) a workspace member.

        A person gets a DM with the bot (``dm_channel(user.id)``); everyone who is not deactivated
        joins ``C0GENERAL``.
        """
        with self._lock:
            self._users[user.id] = user
            if not user.is_bot:
                dm = self.dm_channel(user.id)
                self._conversations.setdefault(
                    dm, _Conversation(dm, "im", members={self.bot_user_id, user.id})
                )
            general = self._conversations.get(GENERAL_CHANNEL)
            if general is not None:
                if user.deleted:
                    general.members.discard(user.id)
                else:
                    general.members.add(user.id)

    def add_channel(
        self, channel_id: str, name: str, *, members: Iterable[str] = (), private: bool = False
    ) -> str:
        """Add a channel with ``members`` (user ids; include ``bot_user_id`` to make the bot a member).

        Public channel ids start with ``C``; private ones with ``G`` or ``C``. Returns ``channel_id``.
        """
        if channel_id[:1] not in ("C", "G") or (channel_id.startswith("G") and not private):
            raise ValueError(f"{channel_id!r}: public channel ids start with C, private ones with G or C")
        with self._lock:
            if channel_id in self._conversations:
                raise ValueError(f"conversation {channel_id!r} exists already")
            kind: ConversationKind = "private" if private else "public"
            self._conversations[channel_id] = _Conversation(
                channel_id, kind, name, self._known_users(members)
            )
        return channel_id

    def add_dm_between(self, user_a: str, user_b: str) -> str:
        """The id of the DM between two people (not the bot), created if need be."""
        if self.bot_user_id in (user_a, user_b) or user_a == user_b:
            raise ValueError("a DM between two people: two different users, neither of them the bot")
        with self._lock:
            members = self._known_users((user_a, user_b))
            for conv in self._conversations.values():
                if conv.kind == "im" and conv.members == members:
                    return conv.id
            channel = self._new_id("D")
            self._conversations[channel] = _Conversation(channel, "im", members=members)
            return channel

    def add_group_dm(self, members: Iterable[str]) -> str:
        """The id of a group DM between ``members`` (include ``bot_user_id`` for the bot to be in it)."""
        with self._lock:
            wanted = self._known_users(members)
            if len(wanted) < 3:
                raise ValueError("a group DM has at least three members")
            for conv in self._conversations.values():
                if conv.kind == "mpim" and conv.members == wanted:
                    return conv.id
            channel = "G" + secrets.token_hex(4).upper()
            self._conversations[channel] = _Conversation(channel, "mpim", members=wanted)
            return channel

    def add_member(self, channel_id: str, user_id: str) -> None:
        """``user_id`` (``bot_user_id`` for the bot) joins the channel or group DM ``channel_id``."""
        with self._lock:
            conv = self._conversations[channel_id]
            if conv.kind == "im":
                raise ValueError("nobody joins a DM")
            conv.members |= self._known_users((user_id,))

    def remove_member(self, channel_id: str, user_id: str) -> None:
        """``user_id`` (``bot_user_id`` for the bot) leaves the channel or group DM ``channel_id``."""
        with self._lock:
            conv = self._conversations[channel_id]
            if conv.kind == "im":
                raise ValueError("nobody leaves a DM")
            conv.members.discard(user_id)

    def conversation(self, channel_id: str) -> dict[str, Any] | None:
        """What the workspace knows of a conversation: id, name, kind, is_private, members, bot_is_member."""
        with self._lock:
            conv = self._conversations.get(channel_id)
            if conv is None:
                return None
            return {
                "id": conv.id,
                "name": conv.name,
                "kind": conv.kind,
                "is_private": conv.kind != "public",
                "members": sorted(conv.members),
                "bot_is_member": self.bot_user_id in conv.members,
            }

    def add_message(
        self,
        channel_or_user_id: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a message a person wrote (``user``, a member of the conversation); returns it.

        For tests of what the app reads back (conversations.history): people's messages and thread
        replies. A user id as ``channel_or_user_id`` means the bot's DM with that user.
        """
        channel = self._channel_for_reading(channel_or_user_id)
        with self._lock:
            conv = self._conversations.get(channel)
            if conv is None or user not in conv.members:
                raise ValueError(f"{user!r} is not a member of {channel!r}")
            message = self._append_message(
                channel, {"text": text, "thread_ts": thread_ts, "metadata": metadata}, user=user
            )
            for key in ("bot_id", "app_id"):
                message.pop(key)
            return copy.deepcopy(message)

    def _known_users(self, user_ids: Iterable[str]) -> set[str]:
        ids = set(user_ids)
        unknown = sorted(i for i in ids if i not in self._users)
        if unknown:
            raise KeyError(f"unknown users {unknown}; add them with add_user first")
        return ids

    def user(self, user_id: str) -> FakeUser | None:
        with self._lock:
            return self._users.get(user_id)

    def user_name(self, user_id: str) -> str:
        """Display name for ``user_id`` (real name, else handle, else the id); handy for render ``names``."""
        with self._lock:
            user = self._users.get(user_id)
        if user is None:
            return user_id
        return user.real_name or user.name or user_id

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The (deterministic) id of the bot's DM channel with ``user_id``."""
        return "D" + (user_id[1:] if user_id[:1] in ("U", "W") else user_id)

    # ------------------------------------------------------------------ calls

    @property
    def calls(self) -> list[Call]:
        """Every call received and applied so far (a copy), oldest first, answered or not."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def invalid_calls(self) -> list[Call]:
        """Calls answered ``ok: false`` because of payload validation (blocks, views, text)."""
        with self._lock:
            return [c for c in self._calls if c.validation_errors]

    def reset_calls(self) -> None:
        """Forget the calls recorded so far and start numbering calls from 1 again."""
        with self._lock:
            self._calls.clear()
            self._call_numbers.clear()

    def call_count(self, method: str) -> int:
        """How many calls to ``method`` arrived since the start or :meth:`reset_calls`."""
        with self._lock:
            return self._call_numbers.get(method, 0)

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Poll until at least ``count`` calls to ``method`` (matching ``where``) exist.

        Returns all matching calls; raises ``AssertionError`` with a summary of the calls
        seen when the timeout passes first.
        """
        matching: list[Call] = []

        def enough() -> bool:
            nonlocal matching
            matching = [c for c in self.calls_to(method) if where is None or where(c)]
            return len(matching) >= count

        if not self.wait_until(enough, timeout=timeout):
            raise AssertionError(self._wait_summary(method, count, timeout, where, matching))
        return matching

    def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait until ``condition()`` is true, re-checking each time a call is recorded (every
        change a test can see comes with one); False when ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        with self._recorded:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._recorded.wait(left)
            return True

    def _wait_summary(
        self,
        method: str,
        count: int,
        timeout: float,
        where: Callable[[Call], bool] | None,
        matching: list[Call],
    ) -> str:
        all_calls = self.calls
        to_method = [c for c in all_calls if c.method == method]
        lines = [
            f"expected at least {count} call(s) to {method!r}"
            + (" matching the `where` filter" if where is not None else "")
            + f" within {timeout}s; saw {len(matching)} matching, {len(to_method)} to {method!r},"
            + f" {len(all_calls)} in total.",
        ]
        if all_calls:
            lines.append("Calls seen (oldest first, last 25):")
            lines.extend(f"  {i}. {c.summary()}" for i, c in enumerate(all_calls[-25:], 1))
        else:
            lines.append("No calls were made to the fake Slack API at all.")
        return "\n".join(lines)

    def _plain_failure(self, call: _CallInfo, failure: _Failure) -> _Reply:
        """An injected failure of a plain-text endpoint (upload URL, url_private): the status,
        Slack's error word as the body, ``Retry-After`` on a 429; recorded."""
        error = failure.error or ("ratelimited" if failure.status == 429 else "internal_error")
        extra = {}
        if failure.status == 429 and failure.retry_after is not None:
            extra["Retry-After"] = str(failure.retry_after)
        reply = _Reply(failure.status, {}, extra, text=error)
        reply.call = self._record(call.make(False, error, failure.status, response={"text": error}))
        return reply

    def _record(self, call: Call) -> Call:
        """Append ``call``, numbering it if it came in without a number (driver-applied responses)."""
        with self._lock:
            if call.number == 0:
                call = dataclasses.replace(call, number=self._next_number(call.method))
            self._calls.append(call)
            self._recorded.notify_all()
        return call

    def _next_number(self, method: str) -> int:
        with self._lock:
            number = self._call_numbers.get(method, 0) + 1
            self._call_numbers[method] = number
            return number

    # ------------------------------------------------------------------ failure injection
    # ``method`` is a Web API method name, or "upload" (the upload URL of files_upload_v2), or
    # "response_url". Numbers count the calls to that method since the start or reset_calls().

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        error: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        With ``error``: HTTP 200 ``{"ok": false, "error": error}``. Otherwise HTTP ``status``:
        429 answers ``ratelimited`` with a ``Retry-After: retry_after`` header (omitted when
        None); other statuses answer ``{"ok": false, "error": "internal_error"}``.

        ``method="upload"`` targets the upload URL (step 2 of ``files_upload_v2``), which answers
        plain text: HTTP ``status`` with ``error`` (or ``ratelimited`` / ``internal_error``) as
        the body, and the bytes are not stored. ``method="response_url"`` targets response URLs
        (JSON ``{"ok": false, "error": ...}``, nothing shown). A failed call applies nothing.
        """
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            for _ in range(times):
                queue.append(_Failure(status=status, retry_after=retry_after, error=error))

    def fail_call(
        self,
        method: str,
        number: int,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        error: str | None = None,
    ) -> None:
        """Make the ``number``-th call of ``method`` (1-based) fail, the way :meth:`fail_next` does."""
        if number < 1:
            raise ValueError("call numbers start at 1")
        with self._lock:
            self._numbered_failures[(method, number)] = _Failure(status, retry_after, error)

    def answer_late(
        self, method: str, *, number: int | None = None, times: int = 1, delay: float | None = None
    ) -> None:
        """Apply calls of ``method`` as usual but answer them ``delay`` seconds late, or never.

        The call is accepted and applied (the message stored, the view opened, ...) and recorded
        with ``answer="late"``; the HTTP answer is written after ``delay`` seconds. With
        ``delay=None`` it is never written (``answer="never"``): the connection is held open until
        the client gives up and closes it, or the fake stops. The fake's lock is not held while
        waiting, so other calls go on. Targets the calls ``number`` .. ``number + times - 1``, or
        without ``number`` the next ``times`` calls.
        """
        if delay is not None and delay < 0:
            raise ValueError("delay must be >= 0 seconds, or None for never")
        delivery = _Delivery("never") if delay is None else _Delivery("late", float(delay))
        self._arrange_delivery(method, number, times, delivery)

    def drop_after_apply(self, method: str, *, number: int | None = None, times: int = 1) -> None:
        """Apply calls of ``method`` as usual, then close the connection without any answer.

        The client sees the connection closed (``http.client.RemoteDisconnected``); the call is
        recorded with ``answer="dropped"``. Targets like :meth:`answer_late`.
        """
        self._arrange_delivery(method, number, times, _Delivery("dropped"))

    def fail_after_apply(
        self, method: str, *, number: int | None = None, times: int = 1, status: int = 500
    ) -> None:
        """Apply calls of ``method`` as usual, then answer HTTP ``status`` with
        ``{"ok": false, "error": "internal_error"}``: what a Slack that fails after doing the work
        looks like (Slack documents that some part of an operation may have succeeded). Recorded
        with ``answer="error"``. Targets like :meth:`answer_late`.
        """
        if status < 500:
            raise ValueError("a server error has a 5xx status")
        self._arrange_delivery(method, number, times, _Delivery("error", status=status))

    def _arrange_delivery(self, method: str, number: int | None, times: int, delivery: _Delivery) -> None:
        if times < 1 or (number is not None and number < 1):
            raise ValueError("times and call numbers start at 1")
        with self._lock:
            if number is None:
                queue = self._deliveries.setdefault(method, deque())
                queue.extend([delivery] * times)
            else:
                for n in range(number, number + times):
                    self._numbered_deliveries[(method, n)] = delivery

    def on_call(
        self,
        method: str,
        number: int | None,
        callback: Callable[[Call], None],
        *,
        when: HookStage = "received",
    ) -> None:
        """Run ``callback(call)`` in the server thread at a point of the ``number``-th call of ``method``.

        ``when``: ``"received"`` — the call arrived and was parsed, before anything is applied (the
        :class:`Call` has status 0); ``"applied"`` — the fake applied it (or refused it) and
        recorded it, before the answer is written; ``"answered"`` — after the answer was written
        and flushed (never for calls answered ``never`` or ``dropped``). ``number=None``: every call
        of ``method``; otherwise the hook runs once. The fake's lock is not held, so a callback may
        read the fake, set a ``threading.Event`` or ``os.kill`` a process. An exception it raises is
        kept in :attr:`hook_errors` and does not change the answer.
        """
        if when not in ("received", "applied", "answered"):
            raise ValueError(f"when must be received, applied or answered, not {when!r}")
        if number is not None and number < 1:
            raise ValueError("call numbers start at 1")
        with self._lock:
            self._hooks.append(_Hook(method, number, when, callback))

    def clear_faults(self) -> None:
        """Drop every failure, late / dropped answer and hook arranged and not used yet."""
        with self._lock:
            self._failures.clear()
            self._numbered_failures.clear()
            self._deliveries.clear()
            self._numbered_deliveries.clear()
            self._hooks.clear()

    def _arrive(self, method: str) -> _Faults:
        """Number an incoming call of ``method`` and take what was arranged for it."""
        with self._lock:
            number = self._next_number(method)
            failure = self._numbered_failures.pop((method, number), None)
            if failure is None:
                queue = self._failures.get(method)
                failure = queue.popleft() if queue else None
            delivery = self._numbered_deliveries.pop((method, number), None)
            if delivery is None:
                pending = self._deliveries.get(method)
                delivery = pending.popleft() if pending else None
            hooks = [h for h in self._hooks if h.method == method and h.number in (None, number)]
            self._hooks = [h for h in self._hooks if not (h in hooks and h.number is not None)]
            return _Faults(number, failure, delivery, hooks)

    def _run_hooks(self, faults: _Faults, when: HookStage, call: Call) -> None:
        """Run the hooks of ``faults`` for stage ``when`` (the caller must not hold the lock)."""
        for hook in faults.hooks:
            if hook.when != when:
                continue
            try:
                hook.callback(call)
            except Exception as exc:  # keep serving; the test reads hook_errors
                log.exception("on_call hook for %s #%s (%s) failed", call.method, call.number, when)
                with self._lock:
                    self.hook_errors.append(exc)

    # ------------------------------------------------------------------ trigger ids

    def issue_trigger_id(self, user_id: str) -> str:
        """Issue a trigger id for ``user_id`` (what Slack puts in interaction payloads)."""
        n = next(self._counter)
        trigger_id = f"{int(time.time() * 1000)}.{n % 10000:04d}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[trigger_id] = _Trigger(user_id=user_id, issued_at=time.monotonic())
        return trigger_id

    def _check_trigger(self, trigger_id: Any) -> _Trigger:
        if not isinstance(trigger_id, str) or not trigger_id:
            raise SlackApiFailure(
                "invalid_arguments", extra=_messages(["[ERROR] missing required field: trigger_id"])
            )
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackApiFailure("invalid_trigger_id")
        if trigger.used:
            raise SlackApiFailure("exchanged_trigger_id")
        if time.monotonic() - trigger.issued_at > self.trigger_ttl:
            raise SlackApiFailure("expired_trigger_id")
        return trigger

    # ------------------------------------------------------------------ response_url

    def new_response_url(
        self, user_id: str, channel_id: str, *, message: Mapping[str, Any] | None = None
    ) -> str:
        """Create a ``response_url`` for an interaction by ``user_id`` in ``channel_id``.

        ``message`` (a stored message dict with ``channel`` and ``ts``) is the message the
        interaction came from; ``replace_original`` / ``delete_original`` then act on it.
        """
        rid = secrets.token_hex(12)
        with self._lock:
            self._response_urls[rid] = _ResponseUrl(
                user_id=user_id,
                channel_id=channel_id,
                message_channel=message.get("channel") if message else None,
                message_ts=(message.get("ts") or message.get("message_ts")) if message else None,
                is_ephemeral=bool(message.get("is_ephemeral")) if message else False,
                issued_at=time.monotonic(),
            )
        return f"{self.root_url}/response/{rid}"

    # ------------------------------------------------------------------ readers

    def messages(self, channel_or_user_id: str) -> list[dict[str, Any]]:
        """Current messages (after updates, without deleted ones) in a channel or a user's DM."""
        channel = self._channel_for_reading(channel_or_user_id)
        with self._lock:
            return [copy.deepcopy(m) for m in self._messages.get(channel, []) if not m.get("deleted")]

    def messages_with_metadata(
        self,
        channel_or_user_id: str,
        event_type: str | None = None,
        *,
        payload: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Current messages in a channel or a user's DM that carry metadata, oldest first.

        Only those whose ``metadata.event_type`` is ``event_type`` (when given) and whose
        ``event_payload`` has every key/value of ``payload`` (when given). Counts what Slack stored,
        whether or not the app got the answer: e.g. ``len(slack.messages_with_metadata(user_id,
        "debrief_prompt", payload={"project_id": 7})) == 1`` for exactly once.
        """
        found = []
        for message in self.messages(channel_or_user_id):
            metadata = message.get("metadata")
            if not isinstance(metadata, dict):
                continue
            if event_type is not None and metadata.get("event_type") != event_type:
                continue
            stored = metadata.get("event_payload") or {}
            if payload is not None and any(k not in stored or stored[k] != v for k, v in payload.items()):
                continue
            found.append(message)
        return found

    def last_dm(self, user_id: str) -> dict[str, Any] | None:
        """The newest top-level message in the bot's DM with ``user_id``, or None."""
        top = [m for m in self.messages(self.dm_channel(user_id)) if m.get("thread_ts") in (None, m["ts"])]
        return top[-1] if top else None

    def ephemerals(self, user_id: str) -> list[dict[str, Any]]:
        """Ephemeral messages shown to ``user_id`` (chat.postEphemeral, response_url, command acks)."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._ephemerals.get(user_id, []) if not m.get("deleted")]

    def open_modal(self, user_id: str) -> dict[str, Any] | None:
        """The modal on top of ``user_id``'s stack, as last stored/updated, or None."""
        with self._lock:
            stack = self._modal_stacks.get(user_id) or []
            return copy.deepcopy(self._views[stack[-1]]) if stack else None

    def modal_stack(self, user_id: str) -> list[dict[str, Any]]:
        """All modals open for ``user_id``, bottom first."""
        with self._lock:
            return [copy.deepcopy(self._views[v]) for v in self._modal_stacks.get(user_id, [])]

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab published for ``user_id``, or None."""
        with self._lock:
            vid = self._homes.get(user_id)
            return copy.deepcopy(self._views[vid]) if vid else None

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self._lock:
            stored = self._views.get(view_id)
            return copy.deepcopy(stored) if stored else None

    def files(self, channel_or_user_id: str | None = None) -> list[dict[str, Any]]:
        """Files completed with files.completeUploadExternal, and files people shared
        (:meth:`share_file`), oldest first.

        With ``channel_or_user_id`` (a channel id, or a user id meaning the bot's DM with that
        user) only the files shared there. Each record has ``id``, ``name`` / ``filename``,
        ``title``, ``content`` (bytes), ``size``, ``mimetype``, ``filetype``, ``channel`` (the
        first channel it was shared to, None when private), ``channels``, ``initial_comment``,
        ``thread_ts``, ``user`` (the bot, or the person who shared it), ``message_ts`` ({channel: ts
        of the share message}).
        """
        channel = None if channel_or_user_id is None else self._channel_for_reading(channel_or_user_id)
        with self._lock:
            return [
                copy.deepcopy(f) for f in self._files.values() if channel is None or channel in f["channels"]
            ]

    def file_content(self, file_id: str) -> bytes:
        """The bytes uploaded for ``file_id`` (completed or not); KeyError if none were uploaded."""
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None or upload.content is None:
                raise KeyError(f"no bytes were uploaded for file {file_id!r}")
            return upload.content

    def share_file(
        self,
        user_id: str,
        filename: str,
        content: bytes,
        *,
        channel: str | None = None,
        text: str = "",
        mimetype: str | None = None,
        filetype: str | None = None,
    ) -> dict[str, Any]:
        """``user_id`` shares a file (``content``) in ``channel`` (default: their DM with the bot),
        as a person does from Slack's client; returns the share message, with its ``files``.

        The file is the person's (``user``), so the bot sees it only where it is a member of the
        conversation. This changes the workspace only: the driver's ``Actor.share_file`` also
        sends the ``message`` event (subtype ``file_share``) Slack would send.
        """
        with self._lock:
            conv_id = self._channel_for_reading(channel or user_id)
            conv = self._conversations.get(conv_id)
            if conv is None or user_id not in conv.members:
                raise ValueError(f"{user_id!r} is not a member of {conv_id!r}")
            file_id = self._new_id("F")
            record: dict[str, Any] = {
                "id": file_id,
                "name": filename,
                "filename": filename,
                "title": filename,
                "mimetype": mimetype or mimetypes.guess_type(filename)[0] or "application/octet-stream",
                "filetype": filetype or _filetype(filename),
                "size": len(content),
                "content": bytes(content),
                "alt_txt": None,
                "channel": conv_id,
                "channels": [conv_id],
                "initial_comment": text or None,
                "thread_ts": None,
                "user": user_id,
                "created": int(time.time()),
                "message_ts": {},
            }
            self._files[file_id] = record
            message = self._append_message(
                conv_id,
                {"text": text},
                user=user_id,
                files=[self._file_json(record)],
                upload=True,
                subtype="file_share",
                display_as_bot=False,
            )
            for key in ("bot_id", "app_id"):
                message.pop(key)
            record["message_ts"][conv_id] = message["ts"]
            return copy.deepcopy(message)

    def _file_visible(self, record: Mapping[str, Any]) -> bool:
        """The bot sees files it uploaded and files shared where it is a member."""
        if record["user"] == self.bot_user_id:
            return True
        return any(
            (conv := self._conversations.get(c)) is not None and self.bot_user_id in conv.members
            for c in record["channels"]
        )

    def _channel_for_reading(self, channel_or_user_id: str) -> str:
        if channel_or_user_id[:1] in ("U", "W"):
            return self.dm_channel(channel_or_user_id)
        return channel_or_user_id

    # ------------------------------------------------------------------ interaction responses
    # Called by the driver with what the app answered to an interaction request.

    def apply_command_response(self, user_id: str, channel_id: str, body: Mapping[str, Any]) -> Call:
        """Show a slash command's immediate (ack) response like Slack does.

        Recorded as a ``command_response`` call (invalid blocks -> ``invalid_command_response``).
        """
        args = dict(body)
        try:
            errors = validate_message_blocks(args["blocks"]) if "blocks" in args else []
            errors += validate_message_text(args.get("text"))
            if errors:
                raise SlackApiFailure("invalid_command_response", validation_errors=errors)
            with self._lock:
                self._deliver_response(user_id, channel_id, args, source="command_response", url=None)
            return self._record(Call("command_response", args, True, None, 200, at=time.monotonic()))
        except SlackApiFailure as exc:
            return self._record(
                Call(
                    "command_response",
                    args,
                    False,
                    exc.error,
                    200,
                    exc.validation_errors,
                    at=time.monotonic(),
                )
            )

    def apply_view_submission_response(
        self, user_id: str, view_id: str, status: int, body: Mapping[str, Any] | None
    ) -> Call | None:
        """Update ``user_id``'s modal stack after the app answered a view_submission.

        Empty 200 -> the view closes; ``response_action`` errors/update/push/clear behave as
        in Slack; a non-200 answer leaves the modal open. A ``response_action`` carrying a view
        is validated and recorded as a ``response_action`` call (invalid -> in invalid_calls()).
        """
        if status != 200:
            return None
        action = (body or {}).get("response_action")
        with self._lock:
            stack = self._modal_stacks.setdefault(user_id, [])
            if action is None:
                if view_id in stack:
                    del stack[stack.index(view_id) :]
                return None
            args = dict(body or {})
            if action == "clear":
                stack.clear()
                return self._record(Call("response_action", args, True, None, 200, at=time.monotonic()))
            if action == "errors":
                return self._record(self._check_errors_action(view_id, args))
            if action not in ("update", "push"):
                return self._record(
                    Call("response_action", args, False, "invalid_response_action", 200, at=time.monotonic())
                )
            view = args.get("view")
            if isinstance(view, str):
                try:
                    view = json.loads(view)
                except ValueError:
                    view = None
            errors = validate_view(view, allowed_types=("modal",))
            if errors:
                return self._record(
                    Call(
                        "response_action",
                        args,
                        False,
                        "invalid_arguments",
                        200,
                        tuple(errors),
                        at=time.monotonic(),
                    )
                )
            assert isinstance(view, dict)
            if action == "update":
                old = self._views.get(view_id, {})
                stored = self._store_view(
                    user_id,
                    view,
                    view_id=view_id,
                    root=old.get("root_view_id"),
                    previous=old.get("previous_view_id"),
                )
                if view_id not in stack:
                    stack.append(stored["id"])
            else:
                if len(stack) >= MODAL_STACK_LIMIT:
                    return self._record(
                        Call("response_action", args, False, "push_limit_reached", 200, at=time.monotonic())
                    )
                stored = self._store_view(
                    user_id, view, root=stack[0] if stack else None, previous=stack[-1] if stack else None
                )
                stack.append(stored["id"])
            return self._record(
                Call(
                    "response_action",
                    args,
                    True,
                    None,
                    200,
                    response={"view": copy.deepcopy(stored)},
                    at=time.monotonic(),
                )
            )

    def _check_errors_action(self, view_id: str, args: dict[str, Any]) -> Call:
        """``response_action: errors`` must map input block_ids of the submitted view to messages."""
        errors = args.get("errors")
        problems: list[str] = []
        if not isinstance(errors, dict) or not errors:
            problems.append("errors must be a non-empty object [json-pointer:/errors]")
        else:
            blocks = self._views.get(view_id, {}).get("blocks", [])
            input_ids = {
                b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("type") == "input"
            }
            for key, message in errors.items():
                if key not in input_ids:
                    problems.append(f"{key!r} is not the block_id of an input block [json-pointer:/errors]")
                if not isinstance(message, str) or not message:
                    problems.append(
                        f"the message for {key!r} must be a non-empty string [json-pointer:/errors]"
                    )
        now = time.monotonic()
        if problems:
            return Call("response_action", args, False, "invalid_arguments", 200, tuple(problems), at=now)
        return Call("response_action", args, True, None, 200, at=now)

    def close_view(self, user_id: str, view_id: str) -> None:
        """The user closed ``view_id`` (X / close): pop it, or the whole stack when clear_on_close."""
        with self._lock:
            stack = self._modal_stacks.get(user_id, [])
            view = self._views.get(view_id, {})
            if view.get("clear_on_close"):
                stack.clear()
            elif view_id in stack:
                del stack[stack.index(view_id) :]

    # ------------------------------------------------------------------ HTTP plumbing

    def _serve(self, handler: BaseHTTPRequestHandler, verb: str) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
        if split.path.startswith("/api/"):
            method = split.path[len("/api/") :]
            faults = self._arrive(method)
            reply = self._serve_api(method, faults, split.query, raw, handler.headers)
        elif split.path.startswith("/response/"):
            faults = self._arrive("response_url")
            reply = self._serve_response_url(split.path.rsplit("/", 1)[-1], raw, faults)
        elif split.path.startswith("/upload/"):
            faults = self._arrive("upload")
            reply = self._serve_upload(split.path[len("/upload/") :], verb, raw, handler.headers, faults)
        elif split.path.startswith("/files-pri/"):
            faults = self._arrive("url_private")
            reply = self._serve_private_file(split.path, verb, handler.headers, faults)
        elif split.path == "/signin":
            self._write(handler, _Reply(200, {}, raw=SIGN_IN_PAGE, content_type="text/html; charset=utf-8"))
            return
        else:
            self._write(handler, _Reply(404, {"ok": False, "error": "not_found"}))
            return
        if reply.call is not None:
            self._run_hooks(faults, "applied", reply.call)
        delivery = faults.delivery
        if delivery is not None and delivery.answer in ("never", "dropped"):
            if delivery.answer == "never":
                self._hold_open(handler)
            handler.close_connection = True  # the server closes the socket without an answer
            return
        if delivery is not None and self._stopping.wait(delivery.delay):
            handler.close_connection = True  # stopped while waiting to answer late
            return
        if delivery is not None and delivery.answer == "error":
            reply = _Reply(delivery.status, {"ok": False, "error": "internal_error"}, call=reply.call)
        try:
            self._write(handler, reply)
        except OSError:  # the client gave up before a late answer
            handler.close_connection = True
            return
        if reply.call is not None:
            self._run_hooks(faults, "answered", reply.call)

    def _write(self, handler: BaseHTTPRequestHandler, reply: _Reply) -> None:
        if reply.raw is not None:
            payload = reply.raw
            content_type = reply.content_type
        elif reply.text is not None:
            payload = reply.text.encode("utf-8")
            content_type = "text/plain; charset=utf-8"
        else:
            payload = json.dumps(reply.body).encode("utf-8")
            content_type = "application/json; charset=utf-8"
        handler.send_response(reply.status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(payload)
        handler.wfile.flush()

    def _hold_open(self, handler: BaseHTTPRequestHandler) -> None:
        """Keep a connection open, unanswered, until the client closes it or the fake stops."""
        sock = handler.connection
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([sock], [], [], 0.05)
                if readable and not sock.recv(1, socket.MSG_PEEK):
                    return  # the client closed its end (gave up)
            except (OSError, ValueError):
                return
            if readable:
                self._stopping.wait(0.05)  # the client sent more bytes; keep holding

    def _serve_api(self, method: str, faults: _Faults, query: str, raw: bytes, headers: Any) -> _Reply:
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        parse_error: SlackApiFailure | None = None
        try:
            args.update(_parse_body(raw, headers.get("Content-Type") or ""))
        except SlackApiFailure as exc:
            parse_error = exc
        token = args.pop("token", None)
        auth = headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if parse_error is None:
            try:
                _decode_json_args(args)
            except SlackApiFailure as exc:
                parse_error = exc
        now = time.monotonic()
        self._run_hooks(faults, "received", Call(method, args, False, None, 0, at=now, number=faults.number))
        call = _CallInfo(method, args, now, faults)

        failure = faults.failure
        if failure is not None:
            if failure.error is not None:
                reply = _Reply(200, {"ok": False, "error": failure.error})
            elif failure.status == 429:
                extra = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
                reply = _Reply(429, {"ok": False, "error": "ratelimited"}, extra)
            else:
                reply = _Reply(failure.status, {"ok": False, "error": "internal_error"})
            reply.call = self._record(
                call.make(False, reply.body["error"], reply.status, response=reply.body)
            )
            return reply

        scope_headers: dict[str, str] = {}
        try:
            if parse_error is not None:
                raise parse_error
            self._check_auth(method, token)
            handler = self._methods.get(method)
            if handler is None:
                raise SlackApiFailure("unknown_method")
            # Slack reports the token's scopes and the method's on every answer.
            scope_headers = {
                "X-OAuth-Scopes": ",".join(self.scopes),
                "X-Accepted-OAuth-Scopes": ",".join(METHOD_SCOPES.get(method, ())),
            }
            if method not in SCOPE_BY_CONVERSATION:  # the handler checks those, knowing the conversation
                self._require_scopes(method)
            with self._lock:
                result = handler(args, token or "")
            body = {"ok": True, **result}
            reply = _Reply(200, body, scope_headers)
            reply.call = self._record(call.make(True, None, 200, response=body))
            return reply
        except SlackApiFailure as exc:
            reply = self._failure_reply(call, exc)
            reply.headers.update(scope_headers)
            return reply
        except Exception as exc:  # a bug in the fake itself: answer 500 and keep it visible
            error = f"fake_slack_bug: {type(exc).__name__}: {exc}"
            reply = _Reply(500, {"ok": False, "error": error})
            reply.call = self._record(call.make(False, error, 500))
            return reply

    def _failure_reply(self, call: _CallInfo, exc: SlackApiFailure) -> _Reply:
        body: dict[str, Any] = {"ok": False, "error": exc.error, **exc.extra}
        if exc.validation_errors:
            if exc.error != "invalid_arguments":
                body["errors"] = list(exc.validation_errors)
            body.setdefault(
                "response_metadata", {"messages": [f"[ERROR] {e}" for e in exc.validation_errors]}
            )
        reply = _Reply(exc.status, body)
        reply.call = self._record(call.make(False, exc.error, exc.status, exc.validation_errors, body))
        return reply

    def _check_auth(self, method: str, token: str | None) -> None:
        if not token:
            raise SlackApiFailure("not_authed")
        if method == "apps.connections.open":
            # We never open a real Socket Mode connection.
            raise SlackApiFailure("invalid_auth" if token.startswith("xapp-") else "not_allowed_token_type")
        if not token.startswith("xoxb-"):
            raise SlackApiFailure("invalid_auth")

    def _require_scopes(self, method: str, conversation_kind: str | None = None) -> None:
        """Refuse with ``missing_scope`` when the token lacks a scope the call needs.

        Slack's answer: ``{"ok": false, "error": "missing_scope", "needed": "chat:write",
        "provided": "commands,im:write"}`` (https://docs.slack.dev/reference/methods/chat.postMessage
        lists missing_scope; ``needed`` / ``provided`` as Slack sends them).
        """
        missing = missing_scopes(self.scopes, method, conversation_kind)
        if missing:
            raise SlackApiFailure(
                "missing_scope", extra={"needed": ",".join(missing), "provided": ",".join(self.scopes)}
            )

    def _serve_response_url(self, rid: str, raw: bytes, faults: _Faults) -> _Reply:
        now = time.monotonic()
        try:
            body = json.loads(raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            body = None
        args = body if isinstance(body, dict) else {"raw": raw.decode("utf-8", "replace")}
        self._run_hooks(
            faults, "received", Call("response_url", args, False, None, 0, at=now, number=faults.number)
        )
        call = _CallInfo("response_url", args, now, faults)
        if faults.failure is not None:
            failure = faults.failure
            error = failure.error or ("ratelimited" if failure.status == 429 else "internal_error")
            status = 200 if failure.error is not None else failure.status
            headers = {}
            if status == 429 and failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            reply = _Reply(status, {"ok": False, "error": error}, headers)
            reply.call = self._record(call.make(False, error, status, response=reply.body))
            return reply
        with self._lock:
            target = self._response_urls.get(rid)
            try:
                if target is None or now - target.issued_at > self.response_url_ttl:
                    raise SlackApiFailure("expired_url", status=404)
                if target.uses >= RESPONSE_URL_MAX_USES:
                    raise SlackApiFailure("used_url", status=404)
                if not isinstance(body, dict):
                    raise SlackApiFailure("invalid_payload", status=400)
                errors = validate_message_blocks(body["blocks"]) if "blocks" in body else []
                errors += validate_message_text(body.get("text"))
                if errors:
                    raise SlackApiFailure("invalid_blocks", status=400, validation_errors=errors)
                if "text" not in body and "blocks" not in body and not body.get("delete_original"):
                    raise SlackApiFailure("no_text", status=400)
                target.uses += 1
                self._deliver_response(
                    target.user_id, target.channel_id, body, source="response_url", url=target
                )
            except SlackApiFailure as exc:
                reply_body: dict[str, Any] = {"ok": False, "error": exc.error}
                if exc.validation_errors:
                    reply_body["errors"] = list(exc.validation_errors)
                reply = _Reply(exc.status, reply_body)
                reply.call = self._record(
                    call.make(False, exc.error, exc.status, exc.validation_errors, reply_body)
                )
                return reply
        reply = _Reply(200, {"ok": True})
        reply.call = self._record(call.make(True, None, 200, response={"ok": True}))
        return reply

    def _serve_upload(self, file_id: str, verb: str, raw: bytes, headers: Any, faults: _Faults) -> _Reply:
        """The ``upload_url`` of files.getUploadURLExternal: POST the file's bytes (raw or multipart).

        Like Slack's upload service it needs no token (the URL is the credential) and answers
        plain text: ``OK - <length>`` on success. Recorded as an ``upload`` call.
        """
        now = time.monotonic()
        args: dict[str, Any] = {"file_id": file_id}
        self._run_hooks(
            faults, "received", Call("upload", args, False, None, 0, at=now, number=faults.number)
        )
        call = _CallInfo("upload", args, now, faults)
        if faults.failure is not None:
            return self._plain_failure(call, faults.failure)
        try:
            if verb != "POST":
                raise SlackApiFailure("method_not_allowed", status=405)
            content = _upload_bytes(raw, headers.get("Content-Type") or "")
            args["length"] = len(content)
            with self._lock:
                upload = self._uploads.get(file_id)
                if upload is None or upload.completed:
                    # Unknown ids, and ids whose upload was already completed (the URL is spent).
                    raise SlackApiFailure("file_not_found", status=404)
                upload.content = content
        except SlackApiFailure as exc:
            reply = _Reply(exc.status, {}, text=exc.error)
            reply.call = self._record(call.make(False, exc.error, exc.status, response={"text": exc.error}))
            return reply
        text = f"OK - {len(content)}"
        reply = _Reply(200, {}, text=text)
        reply.call = self._record(call.make(True, None, 200, response={"text": text}))
        return reply

    def _deliver_response(
        self, user_id: str, channel_id: str, body: Mapping[str, Any], *, source: str, url: _ResponseUrl | None
    ) -> None:
        """Apply a response_url / command-ack message. Caller holds the lock."""
        content = {"text": body.get("text", ""), "blocks": self._fill_ids(body.get("blocks") or [])}
        original: dict[str, Any] | None = None
        if url is not None and url.message_ts is not None:
            pool = (
                self._ephemerals.get(user_id, [])
                if url.is_ephemeral
                else self._messages.get(url.message_channel or "", [])
            )
            original = next((m for m in pool if m["ts"] == url.message_ts and not m.get("deleted")), None)
        if original is None and url is not None and url.ephemeral_ts is not None:
            original = next(
                (m for m in self._ephemerals.get(user_id, []) if m["ts"] == url.ephemeral_ts), None
            )
        if body.get("delete_original"):
            if original is not None:
                original["deleted"] = True
            return
        if body.get("replace_original") and original is not None:
            _replace_content(original, content)
            return
        if body.get("response_type") == "in_channel":
            channel = channel_id
            if channel[:1] in ("U", "W"):
                channel = self.dm_channel(channel)
            self._append_message(channel, {**content, "thread_ts": body.get("thread_ts")})
            return
        ephemeral = self._add_ephemeral(user_id, channel_id, content, source=source)
        if url is not None:
            url.ephemeral_ts = ephemeral["ts"]

    # ------------------------------------------------------------------ storage helpers (lock held)

    def _next_ts(self) -> str:
        with self._lock:
            now_us = int(time.time() * 1_000_000)
            self._last_ts_us = max(now_us, self._last_ts_us + 100)
            us = self._last_ts_us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter):08d}"

    def _fill_ids(self, blocks: Any) -> list[dict[str, Any]]:
        """Copy ``blocks`` and give every block a block_id and every interactive element an action_id."""
        if not isinstance(blocks, list):
            return []
        filled = copy.deepcopy(blocks)
        used = {b.get("block_id") for b in filled if isinstance(b, dict)}
        for block in filled:
            if not isinstance(block, dict):
                continue
            if "block_id" not in block:
                bid = secrets.token_urlsafe(3)
                while bid in used:
                    bid = secrets.token_urlsafe(3)
                used.add(bid)
                block["block_id"] = bid
            elements: list[Any] = []
            if block.get("type") == "actions":
                elements = list(block.get("elements") or [])
            elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
                elements = [block["accessory"]]
            elif block.get("type") == "input" and isinstance(block.get("element"), dict):
                elements = [block["element"]]
            for el in elements:
                if (
                    isinstance(el, dict)
                    and el.get("type") not in INTERACTIVE_SKIP_TYPES
                    and "action_id" not in el
                ):
                    el["action_id"] = secrets.token_urlsafe(3)
        return filled

    def _append_message(self, channel: str, content: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "ts": ts,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": content.get("text") or "",
            "blocks": content.get("blocks") or [],
            "history": [],
        }
        if content.get("thread_ts"):
            message["thread_ts"] = content["thread_ts"]
        for key in ("attachments", "metadata"):
            if content.get(key) is not None:
                message[key] = copy.deepcopy(content[key])
        message.update(extra)
        self._messages.setdefault(channel, []).append(message)
        return message

    def _add_ephemeral(
        self, user_id: str, channel_id: str, content: Mapping[str, Any], *, source: str
    ) -> dict[str, Any]:
        ts = self._next_ts()
        message = {
            "type": "message",
            "channel": channel_id,
            "user": user_id,
            "ts": ts,
            "message_ts": ts,
            "text": content.get("text") or "",
            "blocks": content.get("blocks") or [],
            "is_ephemeral": True,
            "source": source,
            "history": [],
        }
        self._ephemerals.setdefault(user_id, []).append(message)
        return message

    def _store_view(
        self,
        user_id: str,
        view: Mapping[str, Any],
        *,
        view_id: str | None = None,
        root: str | None = None,
        previous: str | None = None,
    ) -> dict[str, Any]:
        vid = view_id or self._new_id("V")
        stored = copy.deepcopy(dict(view))
        stored["blocks"] = self._fill_ids(view.get("blocks"))
        stored.update(
            id=vid,
            team_id=self.team_id,
            state={"values": {}},
            hash=f"{int(time.time())}.{secrets.token_hex(4)}",
            private_metadata=view.get("private_metadata", ""),
            callback_id=view.get("callback_id", ""),
            external_id=view.get("external_id", ""),
            root_view_id=root or vid,
            previous_view_id=previous,
            app_id=self.app_id,
            app_installed_team_id=self.team_id,
            bot_id=self.bot_id,
            clear_on_close=bool(view.get("clear_on_close", False)),
            notify_on_close=bool(view.get("notify_on_close", False)),
        )
        if stored["external_id"]:
            owner = self._external_ids.get(stored["external_id"])
            if owner is not None and owner != vid:
                raise SlackApiFailure("duplicate_external_id")
        old_external = self._views.get(vid, {}).get("external_id")
        if old_external:
            self._external_ids.pop(old_external, None)
        if stored["external_id"]:
            self._external_ids[stored["external_id"]] = vid
        self._views[vid] = stored
        self._view_users[vid] = user_id
        return stored

    def _user_json(self, user: FakeUser) -> dict[str, Any]:
        try:
            now = datetime.now(ZoneInfo(user.tz))
            offset = int(now.utcoffset().total_seconds()) if now.utcoffset() is not None else 0
            label = now.tzname() or user.tz
        except (ZoneInfoNotFoundError, ValueError):
            offset, label = 0, user.tz
        profile: dict[str, Any] = {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "team": self.team_id,
        }
        if user.email is not None:
            profile["email"] = user.email
        if user.is_bot:
            profile["bot_id"] = self.bot_id if user.id == self.bot_user_id else f"B{user.id[1:]}"
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": label,
            "tz_offset": offset,
            "is_bot": user.is_bot,
            "is_admin": False,
            "is_owner": False,
            "is_app_user": False,
            "updated": 1700000000,
            "profile": profile,
        }

    def _visible(self, conv: _Conversation) -> bool:
        """Whether the bot can see ``conv``: a public channel, or a conversation it is in."""
        return conv.kind == "public" or self.bot_user_id in conv.members

    def _seen_conversation(self, channel: Any) -> _Conversation:
        """The conversation ``channel`` (an id) names, if the bot can see it; else ``channel_not_found``.

        Slack does not reveal conversations the bot cannot see: unknown ids, private channels and
        group DMs it is not in, DMs between two other people are all ``channel_not_found``.
        """
        conv = self._conversations.get(channel) if isinstance(channel, str) else None
        if conv is None or not self._visible(conv):
            raise SlackApiFailure("channel_not_found")
        return conv

    def _postable_conversation(
        self, channel: Any, *, public_without_membership: bool = False
    ) -> _Conversation:
        """The conversation a message (or file) is posted to: a conversation id or a user id.

        A user id means the bot's DM with that user (https://docs.slack.dev/reference/methods/chat.postMessage,
        "Channels"). The bot must see the conversation (else ``channel_not_found``) and be in it
        (else ``not_in_channel``), except in a public channel when ``public_without_membership``
        (chat.postMessage with ``chat:write.public``).
        """
        if not isinstance(channel, str) or not channel:
            raise SlackApiFailure("channel_not_found")
        if channel[:1] in ("U", "W"):
            user = self._users.get(channel)
            if user is None:
                raise SlackApiFailure("channel_not_found")
            if user.is_bot:
                raise SlackApiFailure("cannot_dm_bot")
            channel = self.dm_channel(channel)
        conv = self._seen_conversation(channel)
        if self.bot_user_id not in conv.members and not public_without_membership:
            raise SlackApiFailure("not_in_channel")
        return conv

    def _find_message(self, channel: Any, ts: Any) -> dict[str, Any]:
        # chat.update/delete need the conversation id returned by chat.postMessage, not a user id.
        conv = self._seen_conversation(channel)
        for message in self._messages.get(conv.id, []):
            if message["ts"] == ts and not message.get("deleted"):
                return message
        raise SlackApiFailure("message_not_found")

    # ------------------------------------------------------------------ methods (lock held)

    def _auth_test(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "brickwork",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _users_info(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        user = self._users.get(str(args.get("user") or ""))
        if user is None:
            raise SlackApiFailure("user_not_found")
        return {"user": self._user_json(user)}

    def _users_lookup_by_email(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        email = str(args.get("email") or "").strip().lower()
        for user in self._users.values():
            if user.email is not None and user.email.lower() == email and not user.deleted:
                return {"user": self._user_json(user)}
        raise SlackApiFailure("users_not_found")

    def _conversations_open(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        # https://docs.slack.dev/reference/methods/conversations.open: a DM needs im:write, a group
        # DM mpim:write; resuming by ``channel`` works for DMs and group DMs.
        if args.get("channel"):
            conv = self._seen_conversation(str(args["channel"]))
            if conv.kind not in ("im", "mpim"):
                raise SlackApiFailure("method_not_supported_for_channel_type")
            self._require_scopes("conversations.open", conv.kind)
            return {"no_op": True, "already_open": True, "channel": {"id": conv.id}}
        raw = args.get("users")
        ids = [u.strip() for u in (raw if isinstance(raw, list) else str(raw or "").split(",")) if u.strip()]
        if not ids:
            raise SlackApiFailure("users_list_not_supplied")
        self._require_scopes("conversations.open", "im" if len(ids) == 1 else "mpim")
        if len(ids) > 8:
            raise SlackApiFailure("too_many_users")
        for uid in ids:
            if uid not in self._users:
                raise SlackApiFailure("user_not_found")
        if len(ids) == 1:
            if self._users[ids[0]].is_bot and ids[0] != self.bot_user_id:
                raise SlackApiFailure("cannot_dm_bot")
            channel = self.dm_channel(ids[0])
            if channel not in self._conversations:
                self._conversations[channel] = _Conversation(
                    channel, "im", members={self.bot_user_id, ids[0]}
                )
        else:
            members = {*ids, self.bot_user_id}
            known = next(
                (c for c in self._conversations.values() if c.kind == "mpim" and c.members == members), None
            )
            if known is not None:
                channel = known.id
            else:
                channel = "G" + secrets.token_hex(4).upper()
                self._conversations[channel] = _Conversation(channel, "mpim", members=members)
        return {"no_op": False, "already_open": False, "channel": {"id": channel}}

    def _conversations_history(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        """https://docs.slack.dev/reference/methods/conversations.history

        Top-level messages ("conversations.history returns only parent messages", per
        https://docs.slack.dev/reference/methods/conversations.replies), newest first, deleted
        ones left out. ``oldest`` / ``latest`` bound the range (exclusive unless ``inclusive``);
        ``limit`` (default 100, at most 999) and ``cursor`` page through it, with ``has_more`` and
        ``response_metadata.next_cursor`` (https://docs.slack.dev/apis/web-api/pagination).
        Messages carry ``metadata`` only with ``include_all_metadata``.
        """
        conv = self._seen_conversation(args.get("channel"))
        self._require_scopes("conversations.history", conv.kind)
        if self.bot_user_id not in conv.members:
            # "Only user tokens can access public channels they are not in."
            raise SlackApiFailure("not_in_channel")
        oldest = _ts_arg(args.get("oldest"), "invalid_ts_oldest")
        latest = _ts_arg(args.get("latest"), "invalid_ts_latest")
        inclusive = _flag(args.get("inclusive"))
        limit = _limit_arg(args.get("limit"))
        cursor = _cursor_arg(args.get("cursor"))
        with_metadata = _flag(args.get("include_all_metadata"))

        stored = [m for m in self._messages.get(conv.id, []) if not m.get("deleted")]

        def in_range(ts: Decimal) -> bool:
            if oldest is not None and not (ts > oldest or (inclusive and ts == oldest)):
                return False
            return latest is None or ts < latest or (inclusive and ts == latest)

        top = [m for m in stored if m.get("thread_ts") in (None, m["ts"])]
        selected = sorted(
            (m for m in top if in_range(Decimal(m["ts"]))), key=lambda m: Decimal(m["ts"]), reverse=True
        )
        if cursor is not None:
            selected = [m for m in selected if Decimal(m["ts"]) <= cursor]
        page, rest = selected[:limit], selected[limit:]
        messages = []
        for message in page:
            shown = self._message_json(message)
            if not with_metadata:
                shown.pop("metadata", None)
            replies = [m for m in stored if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]]
            if replies:
                users = sorted({str(r.get("user")) for r in replies})
                shown.update(
                    thread_ts=message["ts"],
                    reply_count=len(replies),
                    reply_users=users,
                    reply_users_count=len(users),
                    latest_reply=max(replies, key=lambda r: Decimal(r["ts"]))["ts"],
                )
            messages.append(shown)
        result: dict[str, Any] = {
            "messages": messages,
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if latest is not None:
            result["latest"] = str(args["latest"])
        if rest:
            result["response_metadata"] = {"next_cursor": _encode_cursor(rest[0]["ts"])}
        return result

    def _message_content(self, args: dict[str, Any], *, require_content: bool = True) -> dict[str, Any]:
        errors: list[str] = []
        if "blocks" in args:
            errors += validate_message_blocks(args["blocks"])
        text_errors = validate_message_text(args.get("text"))
        if text_errors:
            raise SlackApiFailure("msg_too_long", validation_errors=text_errors)
        if errors:
            raise SlackApiFailure("invalid_blocks", validation_errors=errors)
        has_text = isinstance(args.get("text"), str) and args["text"] != ""
        has_blocks = isinstance(args.get("blocks"), list) and len(args["blocks"]) > 0
        has_attachments = bool(args.get("attachments"))
        if require_content and not (has_text or has_blocks or has_attachments):
            raise SlackApiFailure("no_text")
        return args

    def _message_json(self, message: Mapping[str, Any]) -> dict[str, Any]:
        shown = {
            k: copy.deepcopy(v) for k, v in message.items() if k not in ("history", "channel", "deleted")
        }
        if not shown.get("blocks"):
            shown.pop("blocks", None)
        return shown

    def _chat_post_message(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        conv = self._postable_conversation(
            args.get("channel"), public_without_membership=CHAT_WRITE_PUBLIC in self.scopes
        )
        self._message_content(args)
        metadata, warnings = _message_metadata(args.get("metadata"))
        content = {
            "text": args.get("text") or "",
            "blocks": self._fill_ids(args.get("blocks") or []),
            "thread_ts": args.get("thread_ts"),
            "attachments": args.get("attachments"),
            "metadata": metadata or None,
        }
        message = self._append_message(conv.id, content)
        result = {"channel": conv.id, "ts": message["ts"], "message": self._message_json(message)}
        return _with_warnings(result, warnings)

    def _chat_update(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        message = self._find_message(args.get("channel"), args.get("ts"))
        self._message_content(args, require_content=False)
        if not any(k in args for k in ("text", "blocks", "attachments")):
            raise SlackApiFailure("no_text")
        warnings: list[str] = []
        metadata: dict[str, Any] | None = None
        if "metadata" in args:
            # "If you don't include this field, the message's previous metadata will be retained. To
            # remove previous metadata, include an empty object" (https://docs.slack.dev/reference/methods/chat.update).
            metadata, warnings = _message_metadata(args["metadata"])
        content: dict[str, Any] = {
            # Slack keeps the previous text/blocks when the field is omitted.
            "text": args["text"] if "text" in args else message["text"],
            "blocks": self._fill_ids(args["blocks"]) if "blocks" in args else message["blocks"],
        }
        _replace_content(message, content)
        if metadata == {}:
            message.pop("metadata", None)
        elif metadata is not None:
            message["metadata"] = metadata
        result = {
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message["text"],
            "message": self._message_json(message),
        }
        return _with_warnings(result, warnings)

    def _chat_delete(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        message = self._find_message(args.get("channel"), args.get("ts"))
        message["deleted"] = True
        return {"channel": message["channel"], "ts": message["ts"]}

    def _chat_post_ephemeral(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        # https://docs.slack.dev/reference/methods/chat.postEphemeral: "The user should be in the
        # channel" (user_not_in_channel); chat:write.public does not let the bot skip membership.
        user_id = str(args.get("user") or "")
        user = self._users.get(user_id)
        if user is None:
            raise SlackApiFailure("user_not_found")
        conv = self._postable_conversation(args.get("channel"))
        if user_id not in conv.members:
            raise SlackApiFailure("user_not_in_channel")
        self._message_content(args)
        content = {"text": args.get("text") or "", "blocks": self._fill_ids(args.get("blocks") or [])}
        ephemeral = self._add_ephemeral(user_id, conv.id, content, source="chat.postEphemeral")
        return {"message_ts": ephemeral["ts"]}

    def _files_get_upload_url_external(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        filename = args.get("filename")
        if not isinstance(filename, str) or not filename:
            raise SlackApiFailure("invalid_arguments", validation_errors=["missing required field: filename"])
        raw_length = args.get("length")
        if raw_length is None or raw_length == "":
            raise SlackApiFailure("invalid_arguments", validation_errors=["missing required field: length"])
        try:
            length = int(raw_length)
        except (TypeError, ValueError) as exc:
            raise SlackApiFailure(
                "invalid_arguments", validation_errors=[f"length must be an integer, got {raw_length!r}"]
            ) from exc
        if isinstance(raw_length, (bool, float)) or length < 0:
            raise SlackApiFailure(
                "invalid_arguments",
                validation_errors=[f"length must be a positive integer, got {raw_length!r}"],
            )
        if length == 0:
            # Slack documents missing_argument as "typically only occurs when the length provided is 0".
            raise SlackApiFailure("missing_argument")
        alt_txt = args.get("alt_txt")
        if isinstance(alt_txt, str) and len(alt_txt) > ALT_TXT_MAX_LENGTH:
            raise SlackApiFailure("alt_txt_too_large")
        file_id = self._new_id("F")
        self._uploads[file_id] = _Upload(
            file_id=file_id,
            filename=filename,
            length=length,
            alt_txt=alt_txt if isinstance(alt_txt, str) and alt_txt else None,
            snippet_type=args.get("snippet_type") or None,
        )
        return {"upload_url": f"{self.root_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        # Check everything first: a refused call must not share some of the files.
        uploads = self._completable_uploads(args.get("files"))
        channels: list[str] = []
        if args.get("channel_id"):
            channel_id = str(args["channel_id"])
            if channel_id[:1] in ("U", "W"):
                raise SlackApiFailure("channel_not_found")  # channel_id takes a conversation id
            channels.append(self._postable_conversation(channel_id).id)
        raw_channels = args.get("channels")
        if raw_channels:
            names = raw_channels if isinstance(raw_channels, list) else str(raw_channels).split(",")
            for name in names:
                # ``channels`` also takes user ids (the bot's DM with them).
                channel = self._postable_conversation(str(name).strip()).id
                if channel not in channels:
                    channels.append(channel)
        comment = args.get("initial_comment")
        comment = comment if isinstance(comment, str) and comment else None
        blocks: list[dict[str, Any]] = []
        if comment is not None:
            text_errors = validate_message_text(comment)
            if text_errors:
                raise SlackApiFailure("msg_too_long", validation_errors=text_errors)
        elif args.get("blocks"):
            # Slack ignores blocks when initial_comment is given.
            block_errors = validate_message_blocks(args["blocks"])
            if block_errors:
                raise SlackApiFailure("invalid_blocks", validation_errors=block_errors)
            blocks = self._fill_ids(args["blocks"])
        thread_ts = args.get("thread_ts") or None

        created = int(time.time())
        records: list[dict[str, Any]] = []
        for upload, title in uploads:
            upload.completed = True
            content = upload.content or b""
            filetype = upload.snippet_type or _filetype(upload.filename)
            record: dict[str, Any] = {
                "id": upload.file_id,
                "name": upload.filename,
                "filename": upload.filename,
                "title": title or upload.filename,
                "mimetype": mimetypes.guess_type(upload.filename)[0] or "application/octet-stream",
                "filetype": filetype,
                "size": len(content),
                "content": content,
                "alt_txt": upload.alt_txt,
                "channel": channels[0] if channels else None,
                "channels": list(channels),
                "initial_comment": comment if channels else None,
                "thread_ts": thread_ts if channels else None,
                "user": self.bot_user_id,
                "created": created,
                "message_ts": {},
            }
            self._files[upload.file_id] = record
            records.append(record)
        for channel in channels:
            message = self._append_message(
                channel,
                {"text": comment or "", "blocks": blocks, "thread_ts": thread_ts},
                files=[self._file_json(r) for r in records],
                upload=True,
                display_as_bot=False,
            )
            for record in records:
                record["message_ts"][channel] = message["ts"]
        return {"files": [self._file_json(r) for r in records]}

    def _completable_uploads(self, files: Any) -> list[tuple[_Upload, str | None]]:
        """Check files.completeUploadExternal's ``files`` argument; return (upload, title) pairs."""
        if files is None or files == "":
            raise SlackApiFailure("invalid_arguments", validation_errors=["missing required field: files"])
        shape = "files must be a JSON-encoded array of objects with an id (and an optional title)"
        if not isinstance(files, list) or not files:
            raise SlackApiFailure("invalid_arguments", validation_errors=[shape])
        result: list[tuple[_Upload, str | None]] = []
        for item in files:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
                raise SlackApiFailure("invalid_arguments", validation_errors=[shape])
            upload = self._uploads.get(item["id"])
            # Unknown ids, ids whose bytes never reached the upload URL, and ids already completed
            # (Slack: "This method can only be called once").
            if upload is None or upload.content is None or upload.completed:
                raise SlackApiFailure("file_not_found")
            title = item.get("title")
            result.append((upload, title if isinstance(title, str) and title else None))
        return result

    def _files_info(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        """files.info: the file object, if the bot can see the file (else ``file_not_found``)."""
        file_id = args.get("file")
        if not isinstance(file_id, str) or not file_id:
            raise SlackApiFailure("invalid_arguments", validation_errors=["missing required field: file"])
        record = self._files.get(file_id)
        if record is None or not self._file_visible(record):
            raise SlackApiFailure("file_not_found")
        return {"file": self._file_json(record), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _serve_private_file(self, path: str, verb: str, headers: Any, faults: _Faults) -> _Reply:
        """``GET`` a file's ``url_private`` (``/files-pri/<team>-<file id>/<name>``, or
        ``url_private_download``): its bytes for a bot token with ``files:read`` that can see the
        file; otherwise Slack's redirect to its sign-in page (see "Files" in the module docstring)."""
        now = time.monotonic()
        segment = path[len("/files-pri/") :].split("/", 1)[0]
        file_id = segment.split("-", 1)[1] if "-" in segment else ""
        args: dict[str, Any] = {"file_id": file_id}
        self._run_hooks(
            faults, "received", Call("url_private", args, False, None, 0, at=now, number=faults.number)
        )
        call = _CallInfo("url_private", args, now, faults)
        if faults.failure is not None:
            return self._plain_failure(call, faults.failure)
        auth = headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        with self._lock:
            record = self._files.get(file_id)
            if verb != "GET":
                reason = "method_not_allowed"
            elif not token.startswith("xoxb-"):
                reason = "not_authed"
            elif FILES_READ not in self.scopes:
                reason = "missing_scope"
            elif record is None or segment != f"{self.team_id}-{file_id}" or not self._file_visible(record):
                reason = "file_not_found"
            else:
                content, mimetype = bytes(record["content"]), str(record["mimetype"])
                reason = ""
        if reason:
            # Slack redirects to its sign-in page: no 401, no JSON (the HTML is the tell).
            redirect = f"{self.root_url}/signin?redir={quote(path, safe='')}"
            body = f'<a href="{redirect}">Found</a>.'.encode()
            reply = _Reply(
                302,
                {},
                {"Location": redirect, "x-slack-meta": "?;acl_fail"},
                raw=body,
                content_type="text/html; charset=utf-8",
            )
            reply.call = self._record(call.make(False, reason, 302, response={"text": reason}))
            return reply
        reply = _Reply(200, {}, raw=content, content_type=mimetype)
        reply.call = self._record(call.make(True, None, 200, response={"length": len(content)}))
        return reply

    def _file_json(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A Slack file object for API answers and share messages (no bytes: they are downloaded
        from ``url_private``)."""
        channels = list(record["channels"])
        kinds = {c: (conv.kind if (conv := self._conversations.get(c)) else "public") for c in channels}
        name = quote(str(record["name"]), safe="")
        base = f"{self.root_url}/files-pri/{self.team_id}-{record['id']}/{name}"
        shown: dict[str, Any] = {
            "id": record["id"],
            "created": record["created"],
            "timestamp": record["created"],
            "name": record["name"],
            "title": record["title"],
            "mimetype": record["mimetype"],
            "filetype": record["filetype"],
            "pretty_type": str(record["filetype"]).upper(),
            "user": record["user"],
            "user_team": self.team_id,
            "editable": False,
            "size": record["size"],
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": any(kinds[c] == "public" for c in channels),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": base,
            "url_private_download": f"{base}?download=1",
            "permalink": f"https://{self.team_domain}.slack.com/files/{record['user']}/{record['id']}",
            "channels": [c for c in channels if kinds[c] == "public"],
            "groups": [c for c in channels if kinds[c] in ("private", "mpim")],
            "ims": [c for c in channels if kinds[c] == "im"],
            "comments_count": 0,
        }
        if record.get("alt_txt"):
            shown["alt_txt"] = record["alt_txt"]
        return shown

    def _view_arg(self, args: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
        view = args.get("view")
        if view is None:
            raise SlackApiFailure("invalid_arguments", validation_errors=["missing required field: view"])
        errors = validate_view(view, allowed_types=allowed)
        if errors:
            raise SlackApiFailure("invalid_arguments", validation_errors=errors)
        assert isinstance(view, dict)
        return view

    def _view_result(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        return {"view": copy.deepcopy(dict(stored))}

    def _views_open(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        view = self._view_arg(args, ("modal",))
        trigger = self._check_trigger(args.get("trigger_id") or args.get("interactivity_pointer"))
        trigger.used = True
        stored = self._store_view(trigger.user_id, view)
        self._modal_stacks[trigger.user_id] = [stored["id"]]
        return self._view_result(stored)

    def _views_push(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        view = self._view_arg(args, ("modal",))
        trigger = self._check_trigger(args.get("trigger_id") or args.get("interactivity_pointer"))
        stack = self._modal_stacks.setdefault(trigger.user_id, [])
        if len(stack) >= MODAL_STACK_LIMIT:
            raise SlackApiFailure("push_limit_reached")
        trigger.used = True
        stored = self._store_view(
            trigger.user_id, view, root=stack[0] if stack else None, previous=stack[-1] if stack else None
        )
        stack.append(stored["id"])
        return self._view_result(stored)

    def _views_update(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        if not view_id and not external_id:
            raise SlackApiFailure(
                "invalid_arguments", validation_errors=["either view_id or external_id is required"]
            )
        if not view_id:
            view_id = self._external_ids.get(str(external_id))
        if not view_id or view_id not in self._views:
            raise SlackApiFailure("not_found")
        current = self._views[str(view_id)]
        if current["type"] == "modal" and view_id not in self._modal_stacks.get(
            self._view_users[str(view_id)], []
        ):
            raise SlackApiFailure("not_found")  # closed by the person (or replaced): gone from Slack
        view = self._view_arg(args, (current["type"],))
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackApiFailure("hash_conflict")
        stored = self._store_view(
            self._view_users[str(view_id)],
            view,
            view_id=str(view_id),
            root=current.get("root_view_id"),
            previous=current.get("previous_view_id"),
        )
        return self._view_result(stored)

    def _views_publish(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        user_id = str(args.get("user_id") or "")
        if user_id not in self._users:
            raise SlackApiFailure("user_not_found")
        view = self._view_arg(args, ("home",))
        current_id = self._homes.get(user_id)
        if args.get("hash") and current_id and args["hash"] != self._views[current_id]["hash"]:
            raise SlackApiFailure("hash_conflict")
        stored = self._store_view(user_id, view, view_id=current_id)
        self._homes[user_id] = stored["id"]
        return self._view_result(stored)


# ---------------------------------------------------------------------- helpers


def _messages(messages: list[str]) -> dict[str, Any]:
    return {"response_metadata": {"messages": messages}}


def _replace_content(message: dict[str, Any], content: Mapping[str, Any]) -> None:
    """Replace a stored message's text/blocks, keeping the previous version in ``history``."""
    message.setdefault("history", []).append(
        {
            "text": message.get("text", ""),
            "blocks": copy.deepcopy(message.get("blocks", [])),
            "replaced_at": time.time(),
        }
    )
    message["text"] = content.get("text") or ""
    message["blocks"] = copy.deepcopy(content.get("blocks") or [])
    message["edited"] = {"user": message.get("user"), "ts": f"{time.time():.6f}"}


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """Decode a Web API request body (form, JSON or multipart) into a dict."""
    if not raw:
        return {}
    ctype = content_type.split(";", 1)[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SlackApiFailure("invalid_form_data") from exc
    if ctype == "application/json":
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise SlackApiFailure("invalid_json") from exc
        if not isinstance(parsed, dict):
            raise SlackApiFailure("json_not_object")
        return parsed
    if ctype == "multipart/form-data":
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        result: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True) or b""
                result[str(name)] = payload.decode("utf-8", "replace")
        return result
    return dict(parse_qsl(text, keep_blank_values=True))


def _upload_bytes(raw: bytes, content_type: str) -> bytes:
    """The file bytes POSTed to an upload URL: the raw body, or the file part of a multipart form."""
    if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        return raw
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    parts = list(message.iter_parts())
    if not parts:
        raise SlackApiFailure("invalid_form_data", status=400)
    chosen = next((p for p in parts if p.get_filename()), None)
    if chosen is None:
        names = {"file", "filename"}
        chosen = next(
            (p for p in parts if p.get_param("name", header="content-disposition") in names), parts[0]
        )
    payload = chosen.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _filetype(filename: str) -> str:
    """Slack's short file type, from the extension (``export.json`` -> ``json``)."""
    _, dot, ext = filename.rpartition(".")
    return ext.lower() if dot and ext else "binary"


def _decode_json_args(args: dict[str, Any]) -> None:
    """Parse JSON-encoded fields (``blocks``, ``view``, ...) that arrive as strings.

    ``metadata`` that is not JSON stays a string: the methods that take it answer
    ``invalid_metadata_format`` (see :func:`_message_metadata`).
    """
    for key in JSON_ENCODED_ARGS:
        value = args.get(key)
        if not isinstance(value, str):
            continue
        try:
            args[key] = json.loads(value)
        except ValueError as exc:
            if key == "metadata":
                continue
            if key == "blocks":
                raise SlackApiFailure(
                    "invalid_blocks_format", validation_errors=["blocks must be a JSON-encoded array"]
                ) from exc
            if key == "view":
                raise SlackApiFailure(
                    "invalid_arguments", validation_errors=["view must be a JSON-encoded object"]
                ) from exc
            raise SlackApiFailure(
                "invalid_arguments", validation_errors=[f"{key} is not valid JSON"]
            ) from exc


def _message_metadata(value: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """Check a chat.postMessage / chat.update ``metadata`` argument; return (metadata, warnings).

    https://docs.slack.dev/messaging/message-metadata: metadata is a JSON object with an
    ``event_type`` (a string) and an ``event_payload`` (an object); chat.postMessage lists
    ``invalid_metadata_format`` for one that is not (https://docs.slack.dev/reference/methods/chat.postMessage).
    "Event types can contain letters, numbers, underscores, and hyphens ... Metadata with an
    invalid event_type returns an invalid_metadata_schema warning and is ignored": the message goes
    through without it. Returns (None, []) when absent, ({}, []) for an empty object (chat.update
    removes the metadata then), (None, ["invalid_metadata_schema"]) when ignored.
    """
    if value is None or value == "":
        return None, []
    if value == {}:
        return {}, []
    shape = "metadata must be a JSON object with a string event_type and an object event_payload"
    if not isinstance(value, dict):
        raise SlackApiFailure("invalid_metadata_format", validation_errors=[shape])
    event_type = value.get("event_type")
    payload = value.get("event_payload")
    if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
        raise SlackApiFailure("invalid_metadata_format", validation_errors=[shape])
    if not METADATA_EVENT_TYPE.fullmatch(event_type):
        return None, ["invalid_metadata_schema"]
    return {"event_type": event_type, "event_payload": copy.deepcopy(payload)}, []


def _with_warnings(result: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """Add Slack's warning fields (``warning`` and ``response_metadata.warnings``) to an ok answer."""
    if warnings:
        result["warning"] = ",".join(warnings)
        result["response_metadata"] = {"warnings": list(warnings)}
    return result


def _flag(value: Any) -> bool:
    """A boolean argument as Slack reads it: ``true`` / ``1`` (form or query) or JSON true."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return str(value or "").strip().lower() in ("1", "true")


def _ts_arg(value: Any, error: str) -> Decimal | None:
    """A timestamp argument (``oldest`` / ``latest``): absent or empty is None; not a Unix ts is ``error``."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not TS_PATTERN.fullmatch(text):
        raise SlackApiFailure(error)
    return Decimal(text)


def _limit_arg(value: Any) -> int:
    """conversations.history ``limit``: default 100, at most 999 (larger values are capped)."""
    if value is None or value == "":
        return HISTORY_DEFAULT_LIMIT
    try:
        limit = int(str(value).strip())
    except ValueError:
        limit = 0
    if isinstance(value, bool) or limit < 1:
        # Slack documents no answer for this; the stand-in refuses it rather than guess.
        raise SlackApiFailure(
            "invalid_arguments", validation_errors=[f"limit must be a positive integer, got {value!r}"]
        )
    return min(limit, HISTORY_MAX_LIMIT)


def _encode_cursor(ts: str) -> str:
    """A ``next_cursor`` in Slack's shape: base64 of ``next_ts:<ts digits>`` (the next page's newest ts)."""
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def _cursor_arg(value: Any) -> Decimal | None:
    """Decode a cursor from :func:`_encode_cursor`; anything else is ``invalid_cursor``."""
    if value is None or value == "":
        return None
    try:
        text = base64.b64decode(str(value), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise SlackApiFailure("invalid_cursor") from exc
    prefix, _, digits = text.partition(":")
    if prefix != "next_ts" or not digits.isdigit() or len(digits) < 7:
        raise SlackApiFailure("invalid_cursor")
    return Decimal(f"{digits[:-6]}.{digits[-6:]}")
