"""A fake Slack Web API on loopback, standing in for ``https://slack.com/api/``.

:class:`FakeSlack` runs a stdlib ``ThreadingHTTPServer`` on ``127.0.0.1`` (random port)
and answers ``POST /api/<method>`` the way Slack does: HTTP 200 with
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Point the app's
``slack_sdk.WebClient(base_url=slack.url)`` at it.

What it stands in for:

* the Web API methods the app uses (``auth.test``, ``users.*``, ``conversations.open``,
  ``chat.*``, ``views.*``), with Slack's argument names, result shapes and error codes;
* file uploads the way ``WebClient.files_upload_v2`` does them: ``files.getUploadURLExternal``,
  a POST of the bytes to the returned ``upload_url`` (served here under ``/upload/<file_id>``)
  and ``files.completeUploadExternal``, which shares the file into a channel or DM;
* Slack's server-side Block Kit validation (see :mod:`bot.standin.validation`), so an
  over-long button label fails here exactly as it would in production;
* trigger ids (single use, 3 second lifetime) and ``response_url`` endpoints;
* rate limits and outages, on demand (:meth:`FakeSlack.fail_next`).

Every request is recorded as a :class:`Call`; tests read them with :meth:`FakeSlack.calls_to`
or poll with :meth:`FakeSlack.wait_for` (Bolt listeners run after the HTTP ack, so tests
must poll). Readers such as :meth:`FakeSlack.last_dm`, :meth:`FakeSlack.open_modal` and
:meth:`FakeSlack.files` expose what a person would currently see.

Nothing happens at import time; each ``FakeSlack`` owns all of its state.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import itertools
import json
import mimetypes
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.standin.loopback import LoopbackService
from bot.standin.validation import validate_message_blocks, validate_message_text, validate_view

JSON_ENCODED_ARGS = ("blocks", "view", "attachments", "metadata", "files")
MODAL_STACK_LIMIT = 3
RESPONSE_URL_MAX_USES = 5
INTERACTIVE_SKIP_TYPES = frozenset({"image", "plain_text", "mrkdwn"})
ALT_TXT_MAX_LENGTH = 1000


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
    """One request the fake answered.

    ``args`` are the decoded arguments (JSON-encoded form fields such as ``blocks`` and
    ``view`` are parsed; the token is not recorded). ``validation_errors`` is non-empty
    when the call was rejected because of its payload (see :meth:`FakeSlack.invalid_calls`).
    """

    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    status: int
    validation_errors: tuple[str, ...] = ()
    response: dict[str, Any] | None = None
    at: float = 0.0

    @property
    def invalid(self) -> bool:
        """True when Slack would have rejected the payload (blocks, view, text)."""
        return bool(self.validation_errors)

    def summary(self) -> str:
        state = "ok" if self.ok else f"error={self.error}"
        line = f"{self.method} [{self.status} {state}]"
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
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # answer text/plain instead of JSON (the upload URL does)


class FakeSlack(LoopbackService):
    """A fake Slack workspace + Web API served on loopback.

    Use as a context manager (``with FakeSlack(users) as slack: ...``) or call
    :meth:`start` / :meth:`stop`. ``trigger_ttl`` is how long an issued trigger id
    stays valid (Slack: 3 seconds); tests may shorten it.
    """

    name = "fake-slack"

    def __init__(
        self,
        users: Iterable[FakeUser] = (),
        team_id: str = "T0BRICK",
        *,
        trigger_ttl: float = 3.0,
        bot_user_id: str = "UBRICKBOT",
        bot_id: str = "B0BRICK",
        app_id: str = "A0BRICK",
        team_name: str = "Brickwork",
        team_domain: str = "brickwork",
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.trigger_ttl = trigger_ttl
        self._lock = threading.RLock()
        self._users: dict[str, FakeUser] = {}
        self._calls: list[Call] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._last_ts_us = 0
        self._counter = itertools.count(1)
        self._dm_users: dict[str, str] = {}  # D-id -> user id
        self._group_members: dict[str, tuple[str, ...]] = {}  # G-id (mpim) -> user ids
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
        self.add_user(FakeUser(id=bot_user_id, name="brickwork", real_name="Brickwork", is_bot=True))
        for user in users:
            self.add_user(user)
        self._methods: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "conversations.open": self._conversations_open,
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
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """Base URL for ``slack_sdk.WebClient(base_url=...)``, e.g. ``http://127.0.0.1:PORT/api/``."""
        return f"{self.root_url}/api/"

    # ------------------------------------------------------------------ workspace

    def add_user(self, user: FakeUser) -> None:
        """Add (or replace) a workspace member."""
        with self._lock:
            self._users[user.id] = user
            if not user.is_bot:
                self._dm_users.setdefault(self.dm_channel(user.id), user.id)

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
        """Every call answered so far (a copy), oldest first."""
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
        with self._lock:
            self._calls.clear()

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
        deadline = time.monotonic() + timeout
        while True:
            matching = [c for c in self.calls_to(method) if where is None or where(c)]
            if len(matching) >= count:
                return matching
            if time.monotonic() >= deadline:
                raise AssertionError(self._wait_summary(method, count, timeout, where, matching))
            time.sleep(0.01)

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

    def _record(self, call: Call) -> Call:
        with self._lock:
            self._calls.append(call)
        return call

    # ------------------------------------------------------------------ failure injection

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
        the body, and the bytes are not stored.
        """
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            for _ in range(times):
                queue.append(_Failure(status=status, retry_after=retry_after, error=error))

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            queue = self._failures.get(method)
            if queue:
                return queue.popleft()
            return None

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
            )
        return f"{self.root_url}/response/{rid}"

    # ------------------------------------------------------------------ readers

    def messages(self, channel_or_user_id: str) -> list[dict[str, Any]]:
        """Current messages (after updates, without deleted ones) in a channel or a user's DM."""
        channel = self._channel_for_reading(channel_or_user_id)
        with self._lock:
            return [copy.deepcopy(m) for m in self._messages.get(channel, []) if not m.get("deleted")]

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
        """Files completed with files.completeUploadExternal, oldest first.

        With ``channel_or_user_id`` (a channel id, or a user id meaning the bot's DM with that
        user) only the files shared there. Each record has ``id``, ``name`` / ``filename``,
        ``title``, ``content`` (bytes), ``size``, ``mimetype``, ``filetype``, ``channel`` (the
        first channel it was shared to, None when private), ``channels``, ``initial_comment``,
        ``thread_ts``, ``user`` (the bot), ``message_ts`` ({channel: ts of the share message}).
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
            reply = self._serve_api(split.path[len("/api/") :], split.query, raw, handler.headers)
        elif split.path.startswith("/response/"):
            reply = self._serve_response_url(split.path.rsplit("/", 1)[-1], raw)
        elif split.path.startswith("/upload/"):
            reply = self._serve_upload(split.path[len("/upload/") :], verb, raw, handler.headers)
        else:
            reply = _Reply(404, {"ok": False, "error": "not_found"})
        if reply.text is not None:
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

    def _serve_api(self, method: str, query: str, raw: bytes, headers: Any) -> _Reply:
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

        failure = self._take_failure(method)
        if failure is not None:
            if failure.error is not None:
                reply = _Reply(200, {"ok": False, "error": failure.error})
            elif failure.status == 429:
                extra = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
                reply = _Reply(429, {"ok": False, "error": "ratelimited"}, extra)
            else:
                reply = _Reply(failure.status, {"ok": False, "error": "internal_error"})
            self._record(
                Call(method, args, False, reply.body["error"], reply.status, response=reply.body, at=now)
            )
            return reply

        try:
            if parse_error is not None:
                raise parse_error
            self._check_auth(method, token)
            handler = self._methods.get(method)
            if handler is None:
                raise SlackApiFailure("unknown_method")
            with self._lock:
                result = handler(args, token or "")
            body = {"ok": True, **result}
            self._record(Call(method, args, True, None, 200, response=body, at=now))
            return _Reply(200, body)
        except SlackApiFailure as exc:
            return self._failure_reply(method, args, exc, now)
        except Exception as exc:  # a bug in the fake itself: answer 500 and keep it visible
            error = f"fake_slack_bug: {type(exc).__name__}: {exc}"
            self._record(Call(method, args, False, error, 500, at=now))
            return _Reply(500, {"ok": False, "error": error})

    def _failure_reply(self, method: str, args: dict[str, Any], exc: SlackApiFailure, now: float) -> _Reply:
        body: dict[str, Any] = {"ok": False, "error": exc.error, **exc.extra}
        if exc.validation_errors:
            if exc.error != "invalid_arguments":
                body["errors"] = list(exc.validation_errors)
            body.setdefault(
                "response_metadata", {"messages": [f"[ERROR] {e}" for e in exc.validation_errors]}
            )
        self._record(Call(method, args, False, exc.error, exc.status, exc.validation_errors, body, at=now))
        return _Reply(exc.status, body)

    def _check_auth(self, method: str, token: str | None) -> None:
        if not token:
            raise SlackApiFailure("not_authed")
        if method == "apps.connections.open":
            # We never open a real Socket Mode connection.
            raise SlackApiFailure("invalid_auth" if token.startswith("xapp-") else "not_allowed_token_type")
        if not token.startswith("xoxb-"):
            raise SlackApiFailure("invalid_auth")

    def _serve_response_url(self, rid: str, raw: bytes) -> _Reply:
        now = time.monotonic()
        try:
            body = json.loads(raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            body = None
        args = body if isinstance(body, dict) else {"raw": raw.decode("utf-8", "replace")}
        with self._lock:
            target = self._response_urls.get(rid)
            try:
                if target is None:
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
                self._record(
                    Call(
                        "response_url",
                        args,
                        False,
                        exc.error,
                        exc.status,
                        exc.validation_errors,
                        reply_body,
                        at=now,
                    )
                )
                return _Reply(exc.status, reply_body)
        self._record(Call("response_url", args, True, None, 200, response={"ok": True}, at=now))
        return _Reply(200, {"ok": True})

    def _serve_upload(self, file_id: str, verb: str, raw: bytes, headers: Any) -> _Reply:
        """The ``upload_url`` of files.getUploadURLExternal: POST the file's bytes (raw or multipart).

        Like Slack's upload service it needs no token (the URL is the credential) and answers
        plain text: ``OK - <length>`` on success. Recorded as an ``upload`` call.
        """
        now = time.monotonic()
        args: dict[str, Any] = {"file_id": file_id}
        failure = self._take_failure("upload")
        if failure is not None:
            error = failure.error or ("ratelimited" if failure.status == 429 else "internal_error")
            extra = {}
            if failure.status == 429 and failure.retry_after is not None:
                extra["Retry-After"] = str(failure.retry_after)
            self._record(Call("upload", args, False, error, failure.status, response={"text": error}, at=now))
            return _Reply(failure.status, {}, extra, text=error)
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
            self._record(
                Call("upload", args, False, exc.error, exc.status, response={"text": exc.error}, at=now)
            )
            return _Reply(exc.status, {}, text=exc.error)
        text = f"OK - {len(content)}"
        self._record(Call("upload", args, True, None, 200, response={"text": text}, at=now))
        return _Reply(200, {}, text=text)

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

    def _resolve_post_channel(self, channel: Any) -> str:
        """Resolve a chat.postMessage ``channel`` (D-, C-, G-id or a user id) to a channel id."""
        if not isinstance(channel, str) or not channel:
            raise SlackApiFailure("channel_not_found")
        if channel[:1] in ("U", "W"):
            user = self._users.get(channel)
            if user is None:
                raise SlackApiFailure("channel_not_found")
            if user.is_bot:
                raise SlackApiFailure("cannot_dm_bot")
            return self.dm_channel(channel)
        if channel.startswith("D"):
            if channel not in self._dm_users:
                raise SlackApiFailure("channel_not_found")
            return channel
        if channel[:1] in ("C", "G"):
            return channel
        raise SlackApiFailure("channel_not_found")

    def _find_message(self, channel: Any, ts: Any) -> dict[str, Any]:
        if not isinstance(channel, str) or not channel:
            raise SlackApiFailure("channel_not_found")
        if channel.startswith("D") and channel not in self._dm_users:
            raise SlackApiFailure("channel_not_found")
        if not channel.startswith(("C", "D", "G")):
            # chat.update/delete need the conversation id returned by chat.postMessage, not a user id.
            raise SlackApiFailure("channel_not_found")
        for message in self._messages.get(channel, []):
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
        if args.get("channel"):
            channel = str(args["channel"])
            if channel not in self._dm_users and channel not in self._group_members:
                raise SlackApiFailure("channel_not_found")
            return {"no_op": True, "already_open": True, "channel": {"id": channel}}
        raw = args.get("users")
        ids = [u.strip() for u in (raw if isinstance(raw, list) else str(raw or "").split(",")) if u.strip()]
        if not ids:
            raise SlackApiFailure("users_list_not_supplied")
        if len(ids) > 8:
            raise SlackApiFailure("too_many_users")
        for uid in ids:
            if uid not in self._users:
                raise SlackApiFailure("user_not_found")
        if len(ids) == 1:
            if self._users[ids[0]].is_bot and ids[0] != self.bot_user_id:
                raise SlackApiFailure("cannot_dm_bot")
            channel = self.dm_channel(ids[0])
            self._dm_users[channel] = ids[0]
        else:
            members = tuple(sorted(set(ids)))
            channel = "G" + secrets.token_hex(4).upper()
            for gid, known in self._group_members.items():
                if known == members:
                    channel = gid
                    break
            self._group_members[channel] = members
        return {"no_op": False, "already_open": False, "channel": {"id": channel}}

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
        channel = self._resolve_post_channel(args.get("channel"))
        self._message_content(args)
        content = {
            "text": args.get("text") or "",
            "blocks": self._fill_ids(args.get("blocks") or []),
            "thread_ts": args.get("thread_ts"),
            "attachments": args.get("attachments"),
            "metadata": args.get("metadata"),
        }
        message = self._append_message(channel, content)
        return {"channel": channel, "ts": message["ts"], "message": self._message_json(message)}

    def _chat_update(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        message = self._find_message(args.get("channel"), args.get("ts"))
        self._message_content(args, require_content=False)
        if not any(k in args for k in ("text", "blocks", "attachments")):
            raise SlackApiFailure("no_text")
        content: dict[str, Any] = {
            # Slack keeps the previous text/blocks when the field is omitted.
            "text": args["text"] if "text" in args else message["text"],
            "blocks": self._fill_ids(args["blocks"]) if "blocks" in args else message["blocks"],
        }
        _replace_content(message, content)
        return {
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message["text"],
            "message": self._message_json(message),
        }

    def _chat_delete(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        message = self._find_message(args.get("channel"), args.get("ts"))
        message["deleted"] = True
        return {"channel": message["channel"], "ts": message["ts"]}

    def _chat_post_ephemeral(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        user_id = str(args.get("user") or "")
        user = self._users.get(user_id)
        if user is None:
            raise SlackApiFailure("user_not_found")
        channel = self._resolve_post_channel(args.get("channel"))
        self._message_content(args)
        content = {"text": args.get("text") or "", "blocks": self._fill_ids(args.get("blocks") or [])}
        ephemeral = self._add_ephemeral(user_id, channel, content, source="chat.postEphemeral")
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
            channels.append(self._resolve_post_channel(channel_id))
        raw_channels = args.get("channels")
        if raw_channels:
            names = raw_channels if isinstance(raw_channels, list) else str(raw_channels).split(",")
            for name in names:
                # ``channels`` also takes user ids (the bot's DM with them).
                channel = self._resolve_post_channel(str(name).strip())
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

    def _file_json(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A Slack file object for API answers and share messages (no bytes; url_private is not served)."""
        channels = list(record["channels"])
        base = f"{self.root_url}/files-pri/{self.team_id}-{record['id']}/{record['name']}"
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
            "is_public": any(c.startswith("C") for c in channels),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": base,
            "url_private_download": f"{base}?download=1",
            "permalink": f"https://{self.team_domain}.slack.com/files/{record['user']}/{record['id']}",
            "channels": [c for c in channels if c.startswith("C")],
            "groups": [c for c in channels if c.startswith("G")],
            "ims": [c for c in channels if c.startswith("D")],
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
    """Parse JSON-encoded fields (``blocks``, ``view``, ...) that arrive as strings."""
    for key in JSON_ENCODED_ARGS:
        value = args.get(key)
        if not isinstance(value, str):
            continue
        try:
            args[key] = json.loads(value)
        except ValueError as exc:
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
