"""The one way out to Slack's Web API.

Every call goes through ``SlackGateway`` so the whole app shares one policy:

- the base URL from ``SLACK_API_URL``;
- retries that never send a message twice: a 429 is retried for every method (Slack did not
  run the call), but a 5xx or a dropped connection only for methods that are safe to repeat
  (reads, ``chat.update``, ``views.publish``…). ``chat.postMessage`` is never retried here: an
  answer that did not arrive may still mean the message was posted, and the outbox
  (``bot.outbox``) settles that by looking for the message before sending again;
- a DEBUG line per call saying which method ran and how it ended, never what it carried
  (``brickwork.slack``); slack_sdk's own body-logging stays off;
- ``response_url`` answers only to Slack's own hooks host (or, when ``SLACK_API_URL`` points
  at a stand-in, to that stand-in): the URL arrives in the request, so it is the requester's to
  choose, and we do not POST wherever a payload says;
- payloads serialised from slack_sdk models (which check Slack's limits).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.webhook import WebhookClient

from bot.text import plain

log = logging.getLogger("brickwork.slack")

BlockLike = Block | dict[str, Any]
SLACK_HOOKS_ORIGIN = "https://hooks.slack.com"
DEFAULT_API_URL = "https://slack.com/api/"
METADATA_EVENT = "brickwork_message"  # the event_type of the metadata on every message we send
HISTORY_PAGES = 3  # how far back to look for a message whose post went unanswered (100 each)

# Methods whose repetition changes nothing: a 5xx or a dropped connection may be retried.
IDEMPOTENT_METHODS = frozenset(
    {
        "auth.test",
        "users.info",
        "users.lookupByEmail",
        "conversations.open",
        "conversations.history",
        "chat.update",
        "views.update",
        "views.publish",
        "files.getUploadURLExternal",
    }
)


def _method(request: HttpRequest) -> str:
    return request.url.rstrip("/").rsplit("/", 1)[-1]


class _OnlyIdempotent(RetryHandler):
    """Wrap a retry handler so that it retries only methods in ``IDEMPOTENT_METHODS``."""

    def __init__(self, inner: RetryHandler) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self._inner = inner

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return _method(request) in IDEMPOTENT_METHODS and self._inner._can_retry(
            state=state, request=request, response=response, error=error
        )


class LoggedWebClient(WebClient):
    """slack_sdk's client with one DEBUG line per call: method, outcome, milliseconds."""

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            response = super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            log.debug(
                "%s: %s (HTTP %s, %d ms)",
                api_method,
                error.response.get("error"),
                error.response.status_code,
                (time.monotonic() - started) * 1000,
            )
            raise
        except Exception as error:
            log.debug("%s: %s (%d ms)", api_method, type(error).__name__, (time.monotonic() - started) * 1000)
            raise
        log.debug("%s: ok (%d ms)", api_method, (time.monotonic() - started) * 1000)
        return response


def make_web_client(token: str | None, base_url: str, *, timeout: int = 10) -> WebClient:
    quiet = logging.getLogger("brickwork.slack.sdk")
    quiet.setLevel(logging.WARNING)  # slack_sdk logs bodies (notes) at DEBUG: never below WARNING
    return LoggedWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        logger=quiet,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=3),
            _OnlyIdempotent(ConnectionErrorRetryHandler(max_retry_count=2)),
            _OnlyIdempotent(ServerErrorRetryHandler(max_retry_count=2)),
        ],
    )


def response_url_origins(api_url: str) -> frozenset[str]:
    """Where a ``response_url`` may point: Slack's hooks host, or the stand-in ``api_url`` names."""
    if api_url.rstrip("/") == DEFAULT_API_URL.rstrip("/"):
        return frozenset({SLACK_HOOKS_ORIGIN})
    parts = urlsplit(api_url)
    return frozenset({f"{parts.scheme}://{parts.netloc}"})


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    tz: str
    is_bot: bool
    deleted: bool
    email: str | None = None


@dataclass(frozen=True)
class PostedMessage:
    channel: str
    ts: str


def _blocks(blocks: Sequence[BlockLike] | None) -> list[dict[str, Any]] | None:
    if blocks is None:
        return None
    return [b.to_dict() if isinstance(b, Block) else b for b in blocks]


def _view(view: View | dict[str, Any]) -> dict[str, Any]:
    return view.to_dict() if isinstance(view, View) else view


def _slack_user(user: dict[str, Any]) -> SlackUser:
    profile = user.get("profile") or {}
    # The full name reads best in a debrief; display names are often handles ("maya.o").
    name = user.get("real_name") or profile.get("real_name") or profile.get("display_name") or user["name"]
    email = plain(str(profile.get("email") or ""), 254)
    return SlackUser(
        id=user["id"],
        name=plain(str(name), 120) or str(user["id"]),
        tz=plain(str(user.get("tz") or ""), 64) or "UTC",
        is_bot=bool(user.get("is_bot")) or user["id"] == "USLACKBOT",
        deleted=bool(user.get("deleted")),
        email=email or None,
    )


def error_code(error: BaseException) -> str:
    """Slack's error code for a refused call (``channel_not_found``…), or "" for anything else."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") or "")
    return ""


class ResponseUrlRefused(ValueError):
    """A response_url that does not point at Slack (or at the configured stand-in)."""


class SlackGateway:
    def __init__(self, client: WebClient, *, response_origins: frozenset[str] | None = None) -> None:
        self.client = client
        self._response_origins = response_origins or response_url_origins(client.base_url)

    def user_info(self, user_id: str) -> SlackUser:
        return _slack_user(self.client.users_info(user=user_id)["user"])

    def lookup_by_email(self, email: str) -> SlackUser | None:
        """The workspace member with this email; None when Slack knows nobody by it."""
        try:
            response = self.client.users_lookupByEmail(email=email)
        except SlackApiError as error:
            if error.response.get("error") == "users_not_found":
                return None
            raise
        return _slack_user(response["user"])

    def open_dm(self, user_id: str) -> str:
        return self.client.conversations_open(users=user_id)["channel"]["id"]

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: Sequence[BlockLike] | None = None,
        *,
        key: str | None = None,
    ) -> PostedMessage:
        """Post once. ``key`` goes into the message's metadata so that ``find_message`` can tell,
        after an answer that never came, whether Slack posted it.

        ``text`` is the notification and screen-reader fallback; user text inside is escaped by
        the views, and ``parse``/``link_names`` stay off.
        """
        metadata = None if key is None else {"event_type": METADATA_EVENT, "event_payload": {"key": key}}
        response = self.client.chat_postMessage(
            channel=channel, text=text, blocks=_blocks(blocks), metadata=metadata
        )
        return PostedMessage(channel=response["channel"], ts=response["ts"])

    def find_message(self, channel: str, key: str) -> str | None:
        """The ts of the message we posted in ``channel`` with ``key`` in its metadata, looking
        back through the newest ``HISTORY_PAGES`` pages; None when it is not there."""
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            response = self.client.conversations_history(
                channel=channel, limit=100, include_all_metadata=True, cursor=cursor
            )
            for message in response.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == METADATA_EVENT and payload.get("key") == key:
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                return None
        return None

    def update_message(
        self, channel: str, ts: str, text: str, blocks: Sequence[BlockLike] | None = None
    ) -> None:
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=_blocks(blocks))

    def respond(
        self,
        response_url: str,
        text: str,
        blocks: Sequence[BlockLike] | None = None,
        *,
        replace_original: bool = False,
    ) -> None:
        """Answer an interaction through its ``response_url`` (an ephemeral message, or the
        message that was clicked when ``replace_original``). It works where the bot is not a
        member: a DM between two people, a private channel."""
        parts = urlsplit(response_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.scheme not in ("http", "https") or origin not in self._response_origins:
            raise ResponseUrlRefused("response_url is not Slack's")
        started = time.monotonic()
        webhook = WebhookClient(
            response_url,
            timeout=self.client.timeout,
            logger=self.client.logger,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],  # a 5xx may have shown it
        )
        response = webhook.send(
            text=text, blocks=_blocks(blocks), response_type="ephemeral", replace_original=replace_original
        )
        log.debug("response_url: HTTP %s (%d ms)", response.status_code, (time.monotonic() - started) * 1000)
        if response.status_code != 200:
            raise SlackApiError(f"response_url answered {response.status_code}", {"error": response.body})

    def open_view(self, trigger_id: str, view: View | dict[str, Any]) -> dict[str, Any]:
        return self.client.views_open(trigger_id=trigger_id, view=_view(view))["view"]

    def push_view(self, trigger_id: str, view: View | dict[str, Any]) -> dict[str, Any]:
        return self.client.views_push(trigger_id=trigger_id, view=_view(view))["view"]

    def update_view(self, view_id: str, view: View | dict[str, Any], view_hash: str | None = None) -> None:
        self.client.views_update(view_id=view_id, view=_view(view), hash=view_hash)

    def upload_file(
        self, channel: str, *, filename: str, content: str, title: str, initial_comment: str
    ) -> None:
        """Share a file in a channel (a DM for exports): files_upload_v2's three-step upload."""
        self.client.files_upload_v2(
            channel=channel, filename=filename, content=content, title=title, initial_comment=initial_comment
        )

    def publish_home(self, user_id: str, view: View | dict[str, Any]) -> None:
        self.client.views_publish(user_id=user_id, view=_view(view))
