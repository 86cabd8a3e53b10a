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
- a file's ``url_private`` is downloaded with the bot token only from Slack's own files host
  (or the stand-in), never following a redirect: the token goes nowhere else, whatever a file
  object says (an external file's URL points outside Slack);
- payloads serialised from slack_sdk models (which check Slack's limits);
- one word for Slack being down, slow or overloaded (``outage``: a refused or dropped
  connection, a timeout, a 5xx, a 429 past its retries), so that callers log one line instead of
  a traceback; ``SlackStatus`` (``auth.test``, cached: who the bot is, and ``/healthz``); and
  ``WhenSlackAnswers``, which makes a call again once Slack answers (telling a person that
  something did not go through).
"""

from __future__ import annotations

import copy
import http.client
import logging
import math
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
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
SLACK_FILES_ORIGIN = "https://files.slack.com"
TOO_LARGE = "the file is too large"  # DownloadRefused.reason when it holds more than asked
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
        "files.info",
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
            error.slack_method = api_method  # type: ignore[attr-defined]  # for ``describe_outage``
            log.debug(
                "%s: %s (HTTP %s, %d ms)",
                api_method,
                error.response.get("error"),
                error.response.status_code,
                (time.monotonic() - started) * 1000,
            )
            raise
        except Exception as error:
            error.slack_method = api_method  # type: ignore[attr-defined]
            log.debug("%s: %s (%d ms)", api_method, type(error).__name__, (time.monotonic() - started) * 1000)
            raise
        log.debug("%s: ok (%d ms)", api_method, (time.monotonic() - started) * 1000)
        return response


class _NoAttemptLines(logging.Filter):
    """slack_sdk logs an ERROR line for every attempt that found no answer ("Failed to send a
    request to Slack API server"), retries included: three lines for one call when Slack is
    down. Whoever made the call says once what became of it, so those lines are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to send a request to Slack API server")


def _sdk_logger() -> logging.Logger:
    quiet = logging.getLogger("brickwork.slack.sdk")
    quiet.setLevel(logging.WARNING)  # slack_sdk logs bodies (notes) at DEBUG: never below WARNING
    if not any(isinstance(f, _NoAttemptLines) for f in quiet.filters):
        quiet.addFilter(_NoAttemptLines())
    return quiet


def make_web_client(
    token: str | None, base_url: str, *, timeout: float = 10, retries: bool = True
) -> WebClient:
    """The Web API client; ``retries=False`` for a call that must answer in one attempt (the
    health check: a load balancer does not wait out a Retry-After)."""
    return LoggedWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,  # type: ignore[arg-type]  # urllib takes any number of seconds
        logger=_sdk_logger(),
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=3),
            _OnlyIdempotent(ConnectionErrorRetryHandler(max_retry_count=2)),
            _OnlyIdempotent(ServerErrorRetryHandler(max_retry_count=2)),
        ]
        if retries
        else [],
    )


def _answers_429(client: WebClient) -> WebClient:
    """``client``, but a 429 is the caller's to wait out: no retry on rate limits."""
    posting = copy.copy(client)
    posting.retry_handlers = [
        h for h in client.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)
    ]
    return posting


def response_url_origins(api_url: str) -> frozenset[str]:
    """Where a ``response_url`` may point: Slack's hooks host, or the stand-in ``api_url`` names."""
    if api_url.rstrip("/") == DEFAULT_API_URL.rstrip("/"):
        return frozenset({SLACK_HOOKS_ORIGIN})
    parts = urlsplit(api_url)
    return frozenset({f"{parts.scheme}://{parts.netloc}"})


def file_url_origins(api_url: str) -> frozenset[str]:
    """Where a file's ``url_private`` may point: Slack's files host, or the stand-in ``api_url`` names."""
    if api_url.rstrip("/") == DEFAULT_API_URL.rstrip("/"):
        return frozenset({SLACK_FILES_ORIGIN})
    parts = urlsplit(api_url)
    return frozenset({f"{parts.scheme}://{parts.netloc}"})


@dataclass(frozen=True)
class SlackFile:
    """What ``files.info`` says of a file, as far as Brickwork reads it."""

    id: str
    name: str
    filetype: str
    mimetype: str
    size: int
    owner: str  # the Slack user id of whoever uploaded it
    ims: tuple[str, ...]  # the DMs it was shared in
    url_private: str
    external: bool  # hosted outside Slack (Google Drive…): not downloadable with our token


class DownloadRefused(Exception):
    """A file could not be downloaded; ``reason`` is a fixed phrase for the person and the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a place to go: Slack redirects a download it will not serve
    to its sign-in page, and the Authorization header must not follow anywhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_DOWNLOADER = urllib.request.build_opener(_NoRedirects())


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


# Errors Slack answers when it is down or overloaded, not because of what was asked.
SLACK_DOWN_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
# What Slack answers when the token is wrong, as opposed to Slack being unreachable for a moment.
TOKEN_REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)


def _status_of(error: SlackApiError) -> int | None:
    response = error.response
    status = getattr(response, "status_code", None)
    if status is None and isinstance(response, dict):
        status = response.get("status")
    return status if isinstance(status, int) else None


def outage(error: BaseException) -> str | None:
    """What kept Slack from answering, in a few words ("connection refused", "timed out",
    "HTTP 503", "rate limited"), when ``error`` says Slack is down, slow or overloaded rather
    than that it refused what was asked; None for any other error."""
    if isinstance(error, SlackApiError):
        status = _status_of(error)
        if status == 429 or error_code(error) == "ratelimited":
            return "rate limited"
        if status is not None and status >= 500:
            return f"HTTP {status}"
        if error_code(error) in SLACK_DOWN_ERRORS:
            return error_code(error)
        return None
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}" if error.code >= 500 or error.code == 429 else None
    if isinstance(error, urllib.error.URLError):
        return outage(error.reason) if isinstance(error.reason, BaseException) else "unreachable"
    if isinstance(error, socket.gaierror):
        return "host not found"
    if isinstance(error, TimeoutError):  # socket.timeout too
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionError | http.client.RemoteDisconnected | http.client.IncompleteRead):
        return "connection dropped"
    return None


def describe_outage(error: BaseException) -> str:
    """``outage`` with the method that met it: "views.open: timed out"."""
    method = getattr(error, "slack_method", None)
    what = outage(error) or type(error).__name__
    return f"{method}: {what}" if method else what


@dataclass(frozen=True)
class SlackIdentity:
    """Who the bot token is, from ``auth.test``."""

    team_id: str | None
    user_id: str | None
    bot_id: str | None


@dataclass(frozen=True)
class SlackCheck:
    """One ``auth.test``: ``status`` is "ok", or what is wrong ("connection refused", "HTTP 503",
    "invalid_auth"…); ``answered`` when that is Slack's own error code (Slack is up), ``refused``
    when the code says the token is not good."""

    status: str
    answered: bool = False
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def summary(self) -> str:
        """For ``/healthz``: "ok", "unreachable: timed out", "refused: invalid_auth"…"""
        if self.ok:
            return "ok"
        if self.refused:
            return f"refused: {self.status}"
        return f"error: {self.status}" if self.answered else f"unreachable: {self.status}"


HEALTH_TIMEOUT_SECONDS = 3.0  # one auth.test for a health check or the check at start, no retries
HEALTH_CACHE_SECONDS = 15.0  # a load balancer polling /healthz asks Slack at most this often


class SlackStatus:
    """Whether Slack answers our token, and who we are there, from ``auth.test``.

    ``check`` (``GET /healthz``) asks Slack at most once per ``HEALTH_CACHE_SECONDS`` and one
    caller at a time, in one attempt of at most ``HEALTH_TIMEOUT_SECONDS``; meanwhile the last
    answer stands. ``identity`` never calls Slack: the Slack edge authorises each request from
    what the last ``auth.test`` said, so no request waits on Slack before its acknowledgement.
    """

    def __init__(
        self,
        client: WebClient,
        *,
        cache_seconds: float = HEALTH_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = make_web_client(
            client.token,
            client.base_url,
            timeout=min(float(client.timeout), HEALTH_TIMEOUT_SECONDS),
            retries=False,
        )
        self._cache_seconds, self._clock = cache_seconds, clock
        self._lock = threading.Lock()
        self._last: SlackCheck | None = None
        self._checked_at = -math.inf
        self._identity: SlackIdentity | None = None
        self._refreshing = threading.Event()

    @property
    def identity(self) -> SlackIdentity | None:
        """Who we are in Slack, once any ``auth.test`` has answered; never calls Slack."""
        return self._identity

    def refresh(self) -> SlackCheck:
        """``auth.test`` now (one attempt, short timeout); the answer is kept for ``check``."""
        try:
            answer = self._client.auth_test()
        except Exception as error:
            what = outage(error)
            code = error_code(error)
            if what is None and not code:
                raise  # not Slack being down, and not an answer from Slack: a bug
            answered = what is None
            check = SlackCheck(what or code, answered=answered, refused=answered and code in TOKEN_REFUSED)
        else:
            self._identity = SlackIdentity(
                team_id=answer.get("team_id"), user_id=answer.get("user_id"), bot_id=answer.get("bot_id")
            )
            check = SlackCheck("ok")
        self._last, self._checked_at = check, self._clock()
        return check

    def check(self) -> SlackCheck:
        """The last answer while it is fresh; else ``auth.test`` again, by one caller at a time
        (the others get the last answer, or wait for the first one)."""
        last = self._last
        if last is not None and self._clock() - self._checked_at < self._cache_seconds:
            return last
        got = (
            self._lock.acquire(blocking=False)
            if last is not None
            else self._lock.acquire(timeout=2 * HEALTH_TIMEOUT_SECONDS)
        )
        if not got:
            return last if last is not None else SlackCheck("timed out")
        try:
            if self._last is not None and self._clock() - self._checked_at < self._cache_seconds:
                return self._last
            return self.refresh()
        finally:
            self._lock.release()

    def learn_identity_soon(self) -> None:
        """Ask ``auth.test`` in the background, once at a time, when we do not know who we are."""
        if self._identity is not None or self._refreshing.is_set():
            return
        self._refreshing.set()

        def learn() -> None:
            try:
                self.check()
            except Exception as error:
                log.warning("auth.test failed: %s", type(error).__name__)
            finally:
                self._refreshing.clear()

        threading.Thread(target=learn, name="brickwork-auth-test", daemon=True).start()


# Pauses between tries: about 16 minutes in all, inside a response_url's 30.
RETRY_PAUSES = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 240.0, 480.0)
MAX_WAITING = 500  # calls waiting for Slack at once; past this, new ones are dropped (logged)


class WhenSlackAnswers:
    """Calls to Slack that should happen once Slack answers again (telling a person that
    something did not go through): each is tried at once and, while Slack is unavailable
    (``outage``), again after a growing pause (``RETRY_PAUSES``). In memory only: a restart
    forgets them. Durable work (DMs, debrief prompts) goes through the outbox instead."""

    def __init__(self, pauses: Sequence[float] = RETRY_PAUSES, *, limit: int = MAX_WAITING) -> None:
        self._pauses, self._limit = tuple(pauses), limit
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()
        self._closed = False

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._timers)

    def run(self, what: str, call: Callable[[], None]) -> bool:
        """``call()`` now: True when it went through, False when it waits for Slack. An error that
        is not an outage is raised."""
        return self._attempt(what, call, 0)

    def _attempt(self, what: str, call: Callable[[], None], attempt: int) -> bool:
        try:
            call()
        except Exception as error:
            if outage(error) is None:
                if attempt == 0:
                    raise
                log.warning("gave up %s: %s", what, describe_outage(error))
                return False
            if attempt >= len(self._pauses):
                log.warning(
                    "gave up %s after %d tries: Slack still unavailable (%s)",
                    what,
                    attempt + 1,
                    describe_outage(error),
                )
                return False
            pause = self._pauses[attempt]
            level = logging.WARNING if attempt == 0 else logging.INFO
            log.log(level, "Slack unavailable (%s): %s again in %g s", describe_outage(error), what, pause)
            self._later(pause, what, call, attempt + 1)
            return False
        if attempt:
            log.info("%s: done once Slack answered again (try %d)", what, attempt + 1)
        return True

    def _later(self, pause: float, what: str, call: Callable[[], None], attempt: int) -> None:
        def fire() -> None:
            with self._lock:
                self._timers.discard(timer)
            try:
                self._attempt(what, call, attempt)
            except Exception as error:  # a retry has nobody to raise to
                log.warning("gave up %s: %s", what, type(error).__name__)

        timer = threading.Timer(pause, fire)
        timer.daemon = True
        with self._lock:
            if self._closed:
                return
            if len(self._timers) >= self._limit:
                log.warning("dropped %s: %d calls already wait for Slack", what, len(self._timers))
                return
            self._timers.add(timer)
        timer.start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()


class ResponseUrlRefused(ValueError):
    """A response_url that does not point at Slack (or at the configured stand-in)."""


class SlackGateway:
    def __init__(
        self,
        client: WebClient,
        *,
        response_origins: frozenset[str] | None = None,
        file_origins: frozenset[str] | None = None,
    ) -> None:
        self.client = client
        self._posting = _answers_429(client)
        self._response_origins = response_origins or response_url_origins(client.base_url)
        self._file_origins = file_origins or file_url_origins(client.base_url)
        self.status = SlackStatus(client)  # auth.test: who we are, and whether Slack answers
        self.when_back = WhenSlackAnswers()  # calls to make again once Slack answers

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
        # A keyed post is the outbox's: a 429 comes back to it, which waits out Retry-After
        # exactly (slack_sdk would sleep it with up to a second's jitter, inside the claim).
        response = (self.client if key is None else self._posting).chat_postMessage(
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
        try:
            response = webhook.send(
                text=text,
                blocks=_blocks(blocks),
                response_type="ephemeral",
                replace_original=replace_original,
            )
        except Exception as error:
            error.slack_method = "response_url"  # type: ignore[attr-defined]  # for describe_outage
            raise
        log.debug("response_url: HTTP %s (%d ms)", response.status_code, (time.monotonic() - started) * 1000)
        if response.status_code != 200:
            error = SlackApiError(
                f"response_url answered {response.status_code}",
                {"error": response.body, "status": response.status_code},
            )
            error.slack_method = "response_url"  # type: ignore[attr-defined]
            raise error

    def open_view(self, trigger_id: str, view: View | dict[str, Any]) -> dict[str, Any]:
        return self.client.views_open(trigger_id=trigger_id, view=_view(view))["view"]

    def push_view(self, trigger_id: str, view: View | dict[str, Any]) -> dict[str, Any]:
        return self.client.views_push(trigger_id=trigger_id, view=_view(view))["view"]

    def update_view(self, view_id: str, view: View | dict[str, Any], view_hash: str | None = None) -> None:
        self.client.views_update(view_id=view_id, view=_view(view), hash=view_hash)

    def upload_file(
        self, channel: str, *, filename: str, content: str | bytes, title: str, initial_comment: str
    ) -> None:
        """Share a file in a channel (a DM for exports): files_upload_v2's three-step upload."""
        self.client.files_upload_v2(
            channel=channel, filename=filename, content=content, title=title, initial_comment=initial_comment
        )

    def file_info(self, file_id: str) -> SlackFile | None:
        """``files.info``; None when Slack shows the app no such file."""
        try:
            file = self.client.files_info(file=file_id)["file"]
        except SlackApiError as error:
            if error_code(error) == "file_not_found":
                return None
            raise
        size = file.get("size")
        return SlackFile(
            id=str(file.get("id") or ""),
            name=plain(str(file.get("name") or file.get("title") or ""), 120),
            filetype=str(file.get("filetype") or "")[:40],
            mimetype=str(file.get("mimetype") or "")[:120],
            size=size if isinstance(size, int) else -1,
            owner=str(file.get("user") or ""),
            ims=tuple(str(c) for c in file.get("ims") or [] if isinstance(c, str)),
            url_private=str(file.get("url_private") or ""),
            external=bool(file.get("is_external")) or file.get("mode") == "external",
        )

    def download_private(self, url: str, *, max_bytes: int) -> bytes:
        """A file's bytes from its ``url_private``, with the bot token: at most ``max_bytes`` (more
        is ``DownloadRefused``), only from Slack's files host, without following redirects."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.scheme not in ("http", "https") or origin not in self._file_origins:
            raise DownloadRefused("the file is not stored on Slack")
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.client.token}"})
        started = time.monotonic()
        try:
            with _DOWNLOADER.open(request, timeout=self.client.timeout) as response:
                content_type = str(response.headers.get("Content-Type") or "").lower()
                data = response.read(max_bytes + 1)
        except urllib.error.HTTPError as error:
            # 302: Slack's sign-in page, so the token may not read the file (files:read missing).
            log.debug("url_private: HTTP %s (%d ms)", error.code, (time.monotonic() - started) * 1000)
            raise DownloadRefused("Slack would not let Brickwork read the file") from None
        except OSError as error:
            log.debug("url_private: %s", type(error).__name__)
            raise DownloadRefused("Slack could not be reached to read the file") from None
        log.debug("url_private: ok (%d ms)", (time.monotonic() - started) * 1000)
        if content_type.startswith("text/html"):
            raise DownloadRefused("Slack would not let Brickwork read the file")
        if len(data) > max_bytes:
            raise DownloadRefused(TOO_LARGE)
        return data

    def publish_home(self, user_id: str, view: View | dict[str, Any]) -> None:
        self.client.views_publish(user_id=user_id, view=_view(view))
