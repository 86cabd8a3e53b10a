"""A client that sends what Slack sends to the app, over real HTTP, signed.

:class:`SlackDriver` stands in for Slack's side of the *inbound* traffic: slash
commands, ``block_actions`` (button clicks, menu selections), ``view_submission`` /
``view_closed`` and Events API callbacks. Requests carry the real payload shapes and
the ``X-Slack-Signature`` / ``X-Slack-Request-Timestamp`` headers computed with
``slack_sdk.signature.SignatureVerifier``, so the app's real Bolt request verification
runs.

The driver works together with a :class:`~bot.standin.webapi.FakeSlack`: trigger ids and
``response_url`` s are issued by it, buttons are found in the messages/views it stored,
and what the app answers to an interaction (a slash command's ack text, a modal's
``response_action``) is applied back to it, the way Slack would show it to the person.

Usage::

    driver = SlackDriver("http://127.0.0.1:3000/slack/events", "secret", slack)
    ann = driver.as_user("U0ANN")
    ann.command("/brickwork", "debrief")
    modal = slack.open_modal("U0ANN")  # after slack.wait_for("views.open")
    ann.submit(modal, {"How did it go?": "Well", "Due": date(2024, 5, 1)})
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.standin.validation import INPUT_ELEMENT_TYPES
from bot.standin.webapi import FakeSlack

VERIFICATION_TOKEN = "fake-verification-token"
TEXT_INPUT_TYPES = frozenset({"plain_text_input", "email_text_input", "url_text_input", "number_input"})
SINGLE_OPTION_TYPES = frozenset({"static_select", "external_select", "radio_buttons", "overflow"})
MULTI_OPTION_TYPES = frozenset({"multi_static_select", "multi_external_select", "checkboxes"})
#: Events whose ``user`` field is the acting user's id (filled in by :meth:`Actor.event` when missing).
USER_ID_EVENTS = frozenset(
    {
        "message",
        "app_mention",
        "app_home_opened",
        "reaction_added",
        "reaction_removed",
        "member_joined_channel",
    }
)
#: Slack gives up on an app that has not answered within 3 seconds.
ACK_DEADLINE_SECONDS = 3.0


@dataclass
class Response:
    """What the app answered. ``sent`` is False when Slack would not have sent anything."""

    status: int
    headers: dict[str, str]
    text: str
    elapsed: float = 0.0
    sent: bool = True
    request_body: bytes = field(default=b"", repr=False)

    def json(self) -> Any:
        """The body parsed as JSON, or None when empty / not JSON."""
        try:
            return json.loads(self.text) if self.text else None
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def too_slow(self) -> bool:
        """True when Slack would have shown the user a timeout (no ack within 3 seconds)."""
        return self.elapsed > ACK_DEADLINE_SECONDS


class SlackDriver:
    """Sends signed Slack requests to the app at ``app_url`` (e.g. ``http://127.0.0.1:PORT/slack/events``)."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        slack: FakeSlack,
        team_id: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.slack = slack
        self.team_id = team_id or slack.team_id
        self.timeout = timeout
        self._verifier = SignatureVerifier(signing_secret)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxies

    def as_user(self, user_id: str) -> Actor:
        """An :class:`Actor` that performs actions as ``user_id``."""
        return Actor(self, user_id)

    # ------------------------------------------------------------------ signing & sending

    def signature(self, body: bytes, timestamp: str) -> str:
        """``v0=<hex>`` exactly as Slack computes it."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            base = b"v0:" + timestamp.encode() + b":" + body
            return "v0=" + hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        sig = self._verifier.generate_signature(timestamp=timestamp, body=text)
        return str(sig)

    def send_raw(
        self,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        sign: bool = True,
    ) -> Response:
        """POST ``body`` as-is. Headers given here win; a given ``X-Slack-Request-Timestamp`` is signed."""
        extra = dict(headers or {})
        final: dict[str, str] = {"Content-Type": content_type}
        if sign:
            timestamp = next(
                (v for k, v in extra.items() if k.lower() == "x-slack-request-timestamp"),
                str(int(time.time())),
            )
            final["X-Slack-Request-Timestamp"] = timestamp
            final["X-Slack-Signature"] = self.signature(body, timestamp)
        for key, value in extra.items():
            for existing in [k for k in final if k.lower() == key.lower()]:
                del final[existing]
            final[key] = value
        request = urllib.request.Request(self.app_url, data=body, headers=final, method="POST")
        started = time.monotonic()
        try:
            with self._opener.open(request, timeout=self.timeout) as resp:
                status = int(resp.status)
                resp_headers = dict(resp.headers.items())
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            status = int(exc.code)
            resp_headers = dict(exc.headers.items()) if exc.headers else {}
            raw = exc.read() or b""
        elapsed = time.monotonic() - started
        return Response(
            status=status,
            headers=resp_headers,
            text=raw.decode("utf-8", "replace"),
            elapsed=elapsed,
            request_body=body,
        )

    def send_form(self, fields: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Response:
        return self.send_raw(urlencode(dict(fields)).encode(), "application/x-www-form-urlencoded", headers)

    def send_payload(self, payload: Mapping[str, Any]) -> Response:
        """An interactivity request: form body ``payload=<json>``."""
        return self.send_form({"payload": json.dumps(payload)})

    def send_json(self, data: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
        return self.send_raw(json.dumps(data).encode(), "application/json", headers)

    def url_verification(self, challenge: str = "fake-challenge") -> Response:
        """The Events API handshake Slack performs when the request URL is configured."""
        return self.send_json(
            {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        )

    # ------------------------------------------------------------------ shared payload parts

    def team_json(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.slack.team_domain}

    def authorizations(self) -> list[dict[str, Any]]:
        return [
            {
                "enterprise_id": None,
                "team_id": self.team_id,
                "user_id": self.slack.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ]


class Actor:
    """One person using Slack: every method sends what Slack sends when they do that."""

    def __init__(self, driver: SlackDriver, user_id: str) -> None:
        self.driver = driver
        self.slack = driver.slack
        self.user_id = user_id
        self.last_response_url: str | None = None
        self.last_trigger_id: str | None = None

    def __repr__(self) -> str:
        return f"Actor({self.user_id!r})"

    # ------------------------------------------------------------------ helpers

    @property
    def user_name(self) -> str:
        user = self.slack.user(self.user_id)
        return user.name if user is not None else self.user_id.lower()

    def _user_json(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "username": self.user_name,
            "name": self.user_name,
            "team_id": self.driver.team_id,
        }

    def _trigger(self) -> str:
        self.last_trigger_id = self.slack.issue_trigger_id(self.user_id)
        return self.last_trigger_id

    def _base_payload(self, kind: str) -> dict[str, Any]:
        return {
            "type": kind,
            "user": self._user_json(),
            "api_app_id": self.slack.app_id,
            "token": VERIFICATION_TOKEN,
            "team": self.driver.team_json(),
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def send_raw(
        self, body: bytes, content_type: str, headers: Mapping[str, str] | None = None, sign: bool = True
    ) -> Response:
        return self.driver.send_raw(body, content_type, headers, sign)

    # ------------------------------------------------------------------ slash commands

    def command(self, command: str, text: str = "", channel_id: str = "C0GENERAL") -> Response:
        """Run a slash command (e.g. ``"/brickwork"``). An ack with text/blocks is shown as Slack would."""
        response_url = self.slack.new_response_url(self.user_id, channel_id)
        self.last_response_url = response_url
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.driver.team_id,
            "team_domain": self.slack.team_domain,
            "channel_id": channel_id,
            "channel_name": _channel_name(channel_id),
            "user_id": self.user_id,
            "user_name": self.user_name,
            "command": command,
            "text": text,
            "api_app_id": self.slack.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self._trigger(),
        }
        response = self.driver.send_form(fields)
        if response.status == 200 and response.text.strip():
            body = response.json()
            if not isinstance(body, dict):
                body = {"text": response.text}
            if body.get("text") or body.get("blocks"):
                self.slack.apply_command_response(self.user_id, channel_id, body)
        return response

    # ------------------------------------------------------------------ block_actions

    def click(
        self,
        container: Mapping[str, Any],
        action_id: str | None = None,
        *,
        value: str | None = None,
        text: str | None = None,
    ) -> Response:
        """Click a button in a stored message or view, found by action_id and/or value and/or label.

        A non-button element with that ``action_id`` (overflow, select, ...) is chosen via
        :meth:`select` with ``value`` (or ``text``).
        """
        blocks = _container_blocks(container)
        buttons = [
            (block, el)
            for block, el in _interactive(blocks)
            if el.get("type") == "button"
            and (action_id is None or el.get("action_id") == action_id)
            and (value is None or el.get("value") == value)
            and (text is None or _same_text(_text_of(el.get("text")), text))
        ]
        if not buttons and action_id is not None:
            other = [el for _, el in _interactive(blocks) if el.get("action_id") == action_id]
            if other:
                choice = value if value is not None else text
                if choice is None:
                    raise LookupError(f"{action_id!r} is a {other[0].get('type')}; say which option to pick")
                return self.select(container, action_id, choice)
        if len(buttons) != 1:
            wanted = {"action_id": action_id, "value": value, "text": text}
            what = "no button" if not buttons else f"{len(buttons)} buttons"
            available = [_describe_button(el) for _, el in _interactive(blocks) if el.get("type") == "button"]
            raise LookupError(
                f"{what} matching { ({k: v for k, v in wanted.items() if v is not None}) }; "
                f"available buttons: {available or 'none'}"
            )
        block, button = buttons[0]
        action: dict[str, Any] = {
            "action_id": button.get("action_id"),
            "block_id": block.get("block_id"),
            "text": copy.deepcopy(button.get("text")),
            "type": "button",
            "action_ts": f"{time.time():.6f}",
        }
        if "value" in button:
            action["value"] = button["value"]
        if "style" in button:
            action["style"] = button["style"]
        return self._send_block_action(container, action, None)

    def select(self, container: Mapping[str, Any], action_id: str, value: Any) -> Response:
        """Pick ``value`` in a select / overflow / radio / checkboxes / picker element with ``action_id``.

        For option-based elements ``value`` may be the option value or its visible text
        (a list for multi-selects); ``users_select`` takes a user id, ``datepicker`` a date.
        """
        blocks = _container_blocks(container)
        found = [(b, el) for b, el in _interactive(blocks) if el.get("action_id") == action_id]
        if not found:
            available = [f"{el.get('type')}:{el.get('action_id')}" for _, el in _interactive(blocks)]
            raise LookupError(f"no element with action_id {action_id!r}; available: {available or 'none'}")
        block, element = found[0]
        if element.get("type") == "button":
            raise LookupError(f"{action_id!r} is a button; use click()")
        state_value = _state_value(element, value, provided=True)
        action = {
            "action_id": action_id,
            "block_id": block.get("block_id"),
            **state_value,
            "action_ts": f"{time.time():.6f}",
        }
        override = (str(block.get("block_id")), action_id, state_value)
        return self._send_block_action(container, action, override)

    def _send_block_action(
        self,
        container: Mapping[str, Any],
        action: dict[str, Any],
        override: tuple[str, str, dict[str, Any]] | None,
    ) -> Response:
        payload = self._base_payload("block_actions")
        payload["trigger_id"] = self._trigger()
        if _is_view(container):
            view = dict(copy.deepcopy(container))
            values = build_state_values(view, {}, strict=False)
            if override is not None:
                values.setdefault(override[0], {})[override[1]] = override[2]
            view["state"] = {"values": values}
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = view
        else:
            channel = str(container.get("channel"))
            ts = str(container.get("ts") or container.get("message_ts"))
            is_ephemeral = bool(container.get("is_ephemeral"))
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": is_ephemeral,
            }
            payload["channel"] = {"id": channel, "name": _channel_name(channel)}
            if not is_ephemeral:
                payload["message"] = {
                    k: copy.deepcopy(v)
                    for k, v in container.items()
                    if k not in ("history", "channel", "deleted", "source", "is_ephemeral", "message_ts")
                }
            values: dict[str, dict[str, Any]] = {}
            if override is not None:
                values[override[0]] = {override[1]: override[2]}
            payload["state"] = {"values": values}
            self.last_response_url = self.slack.new_response_url(self.user_id, channel, message=container)
            payload["response_url"] = self.last_response_url
        payload["actions"] = [action]
        return self.driver.send_payload(payload)

    # ------------------------------------------------------------------ views

    def submit(
        self, view: Mapping[str, Any], values: Mapping[str, Any] | None = None, *, strict: bool = True
    ) -> Response:
        """Submit a modal (as stored by FakeSlack) with ``values`` keyed by block_id or input label.

        Inputs not named keep their ``initial_*`` value. With ``strict`` (the default) this
        raises ``ValueError`` where Slack's client would refuse to submit (a required input
        left empty, text longer than ``max_length``). After the app answers, the fake's
        modal stack is updated as Slack would (close / errors / update / push / clear).
        """
        if not _is_view(view) or view.get("type") != "modal":
            raise ValueError("submit() needs a modal view as stored by FakeSlack (open_modal())")
        state_values = build_state_values(view, values or {}, strict=strict)
        payload = self._base_payload("view_submission")
        payload["trigger_id"] = self._trigger()
        full_view = dict(copy.deepcopy(view))
        full_view["state"] = {"values": state_values}
        payload["view"] = full_view
        payload["response_urls"] = []
        response = self.driver.send_payload(payload)
        body = response.json() if response.text.strip() else None
        self.slack.apply_view_submission_response(
            self.user_id, str(view.get("id")), response.status, body if isinstance(body, dict) else None
        )
        return response

    def close(
        self, view: Mapping[str, Any], values: Mapping[str, Any] | None = None, *, force: bool = False
    ) -> Response:
        """Close a modal with its X / close button, after typing ``values`` (as ``submit`` takes them).

        Slack only sends ``view_closed`` when the view has ``notify_on_close: true``; otherwise
        nothing is sent and a ``Response(sent=False)`` is returned (``force=True`` sends anyway).
        """
        self.slack.close_view(self.user_id, str(view.get("id")))
        if not (view.get("notify_on_close") or force):
            return Response(status=0, headers={}, text="", elapsed=0.0, sent=False)
        payload = self._base_payload("view_closed")
        full_view = dict(copy.deepcopy(view))
        full_view["state"] = {"values": build_state_values(view, values or {}, strict=False)}
        payload["view"] = full_view
        payload["is_cleared"] = bool(view.get("clear_on_close"))
        return self.driver.send_payload(payload)

    # ------------------------------------------------------------------ events

    def event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> Response:
        """Deliver an Events API ``event_callback`` (with retry headers when ``retry_num`` is given)."""
        inner = dict(copy.deepcopy(event))
        inner.setdefault("event_ts", f"{time.time():.6f}")
        if inner.get("type") in USER_ID_EVENTS:
            inner.setdefault("user", self.user_id)
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.driver.team_id,
            "context_team_id": self.driver.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.slack.app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
            "authorizations": self.driver.authorizations(),
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
        }
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        return self.driver.send_json(envelope, headers)

    def open_home(self) -> Response:
        """Open the app's Home tab (an ``app_home_opened`` event, tab ``home``)."""
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": self.user_id,
            "channel": self.slack.dm_channel(self.user_id),
            "tab": "home",
        }
        home = self.slack.home(self.user_id)
        if home is not None:
            event["view"] = home
        return self.event(event)

    def share_file(
        self,
        filename: str,
        content: bytes,
        *,
        text: str = "",
        channel: str | None = None,
        mimetype: str | None = None,
        filetype: str | None = None,
    ) -> Response:
        """Share a file as this user (default: in their DM with the bot), as Slack's client does:
        the file is stored in the workspace (:meth:`FakeSlack.share_file`) and the ``message``
        event with subtype ``file_share`` is delivered, carrying the file objects."""
        message = self.slack.share_file(
            self.user_id,
            filename,
            content,
            channel=channel,
            text=text,
            mimetype=mimetype,
            filetype=filetype,
        )
        conv = self.slack.conversation(message["channel"]) or {}
        kind = conv.get("kind", "channel")
        return self.event(
            {
                "type": "message",
                "subtype": "file_share",
                "channel": message["channel"],
                "channel_type": {"public": "channel", "private": "group"}.get(kind, kind),
                "user": self.user_id,
                "text": text,
                "files": message["files"],
                "upload": True,
                "display_as_bot": False,
                "ts": message["ts"],
                "event_ts": message["ts"],
            }
        )

    def say(self, text: str, channel: str | None = None) -> Response:
        """Post ``text`` as this user (a ``message`` event; default: their DM with the bot)."""
        channel = channel or self.slack.dm_channel(self.user_id)
        ts = f"{time.time():.6f}"
        return self.event(
            {
                "type": "message",
                "channel": channel,
                "channel_type": "im" if channel.startswith("D") else "channel",
                "user": self.user_id,
                "text": text,
                "ts": ts,
                "event_ts": ts,
            }
        )


# ---------------------------------------------------------------------- view state


def build_state_values(
    view: Mapping[str, Any], values: Mapping[str, Any], *, strict: bool = True
) -> dict[str, dict[str, Any]]:
    """Build ``view.state.values`` as Slack would for a submission with ``values``.

    Keys of ``values`` may be a block_id or the input block's visible label (for stateful
    elements outside input blocks: block_id or action_id). Unnamed inputs carry their
    ``initial_*`` value. Raises ``KeyError`` for unknown keys, ``ValueError`` for unknown
    options and (``strict``) for submissions Slack's client would not allow.
    """
    remaining = dict(values)
    state: dict[str, dict[str, Any]] = {}
    labels: list[str] = []
    empty_required: list[str] = []
    for block, element in _stateful(view.get("blocks") or []):
        block_id = str(block.get("block_id"))
        action_id = str(element.get("action_id"))
        label = _text_of(block.get("label")) if block.get("type") == "input" else ""
        if label:
            labels.append(label)
        candidates = [block_id, label] if block.get("type") == "input" else [block_id, action_id]
        key = next((c for c in candidates if c and c in remaining), None)
        if key is None and label:
            key = next((k for k in remaining if isinstance(k, str) and _same_text(k, label)), None)
        where = label or block_id
        if key is not None:
            given = remaining.pop(key)
            try:
                state_value = _state_value(element, given, provided=True)
            except ValueError as exc:
                raise ValueError(f"{where!r}: {exc}") from None
            if strict:
                _client_side_checks(element, state_value, where)
        else:
            state_value = _state_value(element, None, provided=False)
        if block.get("type") == "input" and not block.get("optional") and _is_empty(state_value):
            empty_required.append(where)
        state.setdefault(block_id, {})[action_id] = state_value
    if remaining:
        block_ids = [str(b.get("block_id")) for b, _ in _stateful(view.get("blocks") or [])]
        unknown = sorted(map(str, remaining))
        raise KeyError(f"no input named {unknown}; available labels: {labels}, block_ids: {block_ids}")
    if strict and empty_required:
        raise ValueError(
            f"required input(s) {empty_required} left empty; Slack would not let the user submit "
            "(pass values, or strict=False)"
        )
    return state


def _state_value(element: Mapping[str, Any], given: Any, *, provided: bool) -> dict[str, Any]:
    """One ``state.values[block_id][action_id]`` entry (also the shape of a select action)."""
    etype = str(element.get("type"))
    if etype in TEXT_INPUT_TYPES:
        raw = given if provided else element.get("initial_value")
        text = None if raw is None or raw == "" else str(raw)
        return {"type": etype, "value": text}
    if etype in SINGLE_OPTION_TYPES:
        if provided:
            option = None if given is None or given == "" else _find_option(element, given)
        else:
            option = copy.deepcopy(element.get("initial_option"))
        return {"type": etype, "selected_option": option}
    if etype in MULTI_OPTION_TYPES:
        if provided:
            items = [] if given is None else [given] if isinstance(given, str | dict) else list(given)
            options = [_find_option(element, item) for item in items]
        else:
            options = copy.deepcopy(element.get("initial_options") or [])
        return {"type": etype, "selected_options": options}
    if etype == "users_select":
        return {"type": etype, "selected_user": given if provided else element.get("initial_user")}
    if etype == "multi_users_select":
        return {
            "type": etype,
            "selected_users": _id_list(given) if provided else element.get("initial_users", []),
        }
    if etype == "conversations_select":
        chosen = given if provided else element.get("initial_conversation")
        return {"type": etype, "selected_conversation": chosen}
    if etype == "multi_conversations_select":
        chosen_list = _id_list(given) if provided else element.get("initial_conversations", [])
        return {"type": etype, "selected_conversations": chosen_list}
    if etype == "channels_select":
        return {"type": etype, "selected_channel": given if provided else element.get("initial_channel")}
    if etype == "multi_channels_select":
        return {
            "type": etype,
            "selected_channels": _id_list(given) if provided else element.get("initial_channels", []),
        }
    if etype == "datepicker":
        return {"type": etype, "selected_date": _date_str(given) if provided else element.get("initial_date")}
    if etype == "timepicker":
        return {"type": etype, "selected_time": _time_str(given) if provided else element.get("initial_time")}
    if etype == "datetimepicker":
        if provided:
            stamp = int(given.timestamp()) if isinstance(given, datetime) else given
        else:
            stamp = element.get("initial_date_time")
        return {"type": etype, "selected_date_time": None if stamp is None else int(stamp)}
    if etype == "rich_text_input":
        raw = given if provided else element.get("initial_value")
        if isinstance(raw, str):
            raw = {
                "type": "rich_text",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": raw}]}],
            }
        return {"type": etype, "rich_text_value": raw}
    if etype == "file_input":
        return {"type": etype, "files": list(given or []) if provided else []}
    if provided:
        return {"type": etype, "value": given}
    return {"type": etype}


def _client_side_checks(element: Mapping[str, Any], state_value: Mapping[str, Any], where: str) -> None:
    """What Slack's client enforces before it lets a user submit."""
    text = state_value.get("value")
    if element.get("type") in ("plain_text_input", "email_text_input", "url_text_input") and text is not None:
        max_length = element.get("max_length")
        min_length = element.get("min_length")
        if isinstance(max_length, int) and len(text) > max_length:
            raise ValueError(f"{where!r}: {len(text)} characters exceed max_length {max_length}")
        if isinstance(min_length, int) and len(text) < min_length:
            raise ValueError(f"{where!r}: {len(text)} characters are below min_length {min_length}")
    if element.get("type") == "number_input" and text is not None:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{where!r}: {text!r} is not a number") from None
        if not element.get("is_decimal_allowed") and not number.is_integer():
            raise ValueError(f"{where!r}: decimals are not allowed")


def _is_empty(state_value: Mapping[str, Any]) -> bool:
    payload = {k: v for k, v in state_value.items() if k != "type"}
    return all(v in (None, "", [], {}) for v in payload.values())


def _find_option(element: Mapping[str, Any], given: Any) -> dict[str, Any]:
    if isinstance(given, dict):
        return copy.deepcopy(given)
    options = list(_options_of(element))
    if element.get("type") in ("external_select", "multi_external_select") and not options:
        text = str(given)
        return {"text": {"type": "plain_text", "text": text, "emoji": True}, "value": text}
    wanted = str(given)
    for option in options:
        if option.get("value") == wanted:
            return copy.deepcopy(option)
    for option in options:
        if _same_text(_text_of(option.get("text")), wanted):
            return copy.deepcopy(option)
    choices = [f"{_text_of(o.get('text'))} ({o.get('value')})" for o in options]
    raise ValueError(f"no option {wanted!r}; options: {choices}")


def _options_of(element: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield from element.get("options") or []
    for group in element.get("option_groups") or []:
        yield from group.get("options") or []


def _id_list(given: Any) -> list[str]:
    if given is None:
        return []
    if isinstance(given, str):
        return [given]
    return [str(g) for g in given]


def _date_str(given: Any) -> str | None:
    if given is None or given == "":
        return None
    if isinstance(given, datetime):
        return given.date().isoformat()
    if isinstance(given, date):
        return given.isoformat()
    return date.fromisoformat(str(given)).isoformat()


def _time_str(given: Any) -> str | None:
    if given is None or given == "":
        return None
    if isinstance(given, dtime):
        return given.strftime("%H:%M")
    return dtime.fromisoformat(str(given)).strftime("%H:%M")


# ---------------------------------------------------------------------- container helpers


def _is_view(container: Mapping[str, Any]) -> bool:
    return container.get("type") in ("modal", "home") and "id" in container


def _container_blocks(container: Mapping[str, Any]) -> list[dict[str, Any]]:
    if not _is_view(container) and not (
        "channel" in container and ("ts" in container or "message_ts" in container)
    ):
        raise ValueError(
            "container must be a message (with channel and ts, e.g. FakeSlack.last_dm()) "
            "or a view as stored by FakeSlack (open_modal(), home())"
        )
    return list(container.get("blocks") or [])


def _interactive(blocks: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], dict[str, Any]]]:
    """(block, element) for every interactive element, in display order."""
    for block in blocks:
        btype = block.get("type")
        if btype == "actions":
            for element in block.get("elements") or []:
                yield block, element
        elif btype == "section" and isinstance(block.get("accessory"), dict):
            if block["accessory"].get("type") != "image":
                yield block, block["accessory"]
        elif btype == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]


def _stateful(blocks: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], dict[str, Any]]]:
    for block, element in _interactive(blocks):
        if element.get("type") in INPUT_ELEMENT_TYPES:
            yield block, element


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text") or "")
    return str(obj or "")


def _same_text(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _describe_button(element: Mapping[str, Any]) -> str:
    parts = [repr(_text_of(element.get("text")))]
    parts.append(f"action_id={element.get('action_id')!r}")
    if "value" in element:
        parts.append(f"value={element.get('value')!r}")
    return " ".join(parts)


def _channel_name(channel_id: str) -> str:
    if channel_id.startswith("D"):
        return "directmessage"
    if channel_id == "C0GENERAL":
        return "general"
    return channel_id.lower()
