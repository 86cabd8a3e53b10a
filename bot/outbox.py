"""Every DM exactly once: through timeouts, 5xx, 429, a second replica and a kill at any point.

Slack has no idempotency key, so a post whose answer never came (a timeout, a 5xx, a process
killed mid-call) leaves the outcome unknown: the message may or may not be in the DM. The
outbox settles it like this:

1. A DM is a row (``OutboxMessage``), written in the same transaction as whatever made it due
   (a request, a debrief job). Its ``key`` makes enqueueing idempotent.
2. A worker claims **one** row at a time (a conditional UPDATE: two workers never hold the
   same row), and the claim marks it ``uncertain`` before any post.
3. The post carries the row's random ``token`` in Slack's message ``metadata``.
4. The outcome is written under the claim: sent (with channel and ts, so the DM can be
   updated later), retry later (a 429, a refusal that is not final), failed (Slack refused for
   good: nothing was posted), or **unknown** — the row goes back ``uncertain``, to be settled
   after ``SETTLE``: the next worker first looks for the token in the DM's recent history
   (``conversations.history``, which needs ``im:history``), records the message if it is
   there, and posts only if it is not.
5. A worker that dies holding a claim leaves the row ``sending``; after the lease (``lease_for``:
   longer than any one step of a send can take, since each Slack call times out well inside
   it, and the claim is renewed before every step) another worker takes it, uncertain, through
   step 4's lookup. Rows nobody claimed yet are sent by the next tick. A worker whose claim was
   taken over stops at its next step without calling Slack.

Time: a tick works "at ``now``" — the moment it was started for, which ``brickwork tick --now``
may set — plus the time it has been running, so that claims and leases keep one time base
across a long tick, two ticks at once, and a restart.

Each kind of message registers how to render it, and what to do once it is sent or has
failed for good, with ``register``. Rendering happens at send time, from the database, so a
message never says something that stopped being true while it waited; a renderer that
returns None cancels the message.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.slack_gateway import SlackGateway, error_code
from storage.db import Database
from storage.models import MessageKind, MessageState, OutboxMessage, Person
from storage.repositories import outbox as outbox_repo
from storage.repositories import people as people_repo

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=50)  # a claim older than the lease belongs to a worker that died
SETTLE = timedelta(seconds=30)  # after an unknown outcome, give Slack this long before looking
MAX_ATTEMPTS = 8  # definite refusals that might pass (a revoked token…) stop after this many
MAX_PAUSE_SECONDS = 30.0  # a Retry-After up to this long is waited out inside the tick
LIVE_PAUSE_SECONDS = 5.0  # … and this long by a DM sent right after an action (someone is waiting)
LIVE_TRIES = 3
PAUSE_BUDGET_SECONDS = 120.0  # past this much waiting in one tick, the rest waits for the next
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))

# Refusals that say the message was not posted and never will be, whatever we retry.
FINAL_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "cannot_dm_bot",
        "user_not_found",
        "user_not_visible",
        "user_disabled",
        "account_inactive",
        "messages_tab_disabled",
        "restricted_action",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "team_access_not_granted",
    }
)
# Refusals after which the call may still have done part of its work (Slack: "It's possible
# some aspect of the operation succeeded before the error was raised").
UNKNOWN_OUTCOME_ERRORS = frozenset(
    {"fatal_error", "internal_error", "request_timeout", "service_unavailable"}
)


@dataclass(frozen=True)
class Rendered:
    text: str
    blocks: list[Any]


Renderer = Callable[[Session, OutboxMessage], Rendered | None]
Hook = Callable[[Session, OutboxMessage], None]
FailureHook = Callable[[Session, OutboxMessage, str, bool], None]  # (…, reason, live)


@dataclass(frozen=True)
class _Kind:
    render: Renderer
    on_sent: Hook | None = None
    on_failed: FailureHook | None = None


@dataclass(frozen=True)
class Delivery:
    """What became of one message: ``state`` SENT, PENDING (Slack will be asked again, see
    ``reason``), FAILED (refused for good: nothing was posted), CANCELLED, or SENDING (another
    worker holds it right now)."""

    message_id: int
    state: MessageState
    reason: str = ""


@dataclass
class OutboxReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    outcomes: list[Delivery] = field(default_factory=list)

    def add(self, delivery: Delivery) -> None:
        self.outcomes.append(delivery)
        if delivery.state is MessageState.SENT:
            self.sent += 1
        elif delivery.state is MessageState.PENDING:
            self.retrying += 1
        elif delivery.state is MessageState.FAILED:
            self.failed += 1
        elif delivery.state is MessageState.CANCELLED:
            self.cancelled += 1

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed, {self.cancelled} cancelled"


class _Retry(Exception):
    """Give the message back: ``uncertain`` says whether a post may have happened; ``pause`` is
    Slack's Retry-After (a 429: not the message's fault, so it does not count towards giving
    up); ``forget_channel`` drops a DM channel Slack no longer knows."""

    def __init__(
        self,
        reason: str,
        *,
        uncertain: bool,
        after: timedelta,
        pause: float = 0.0,
        forget_channel: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason, self.uncertain, self.after, self.pause = reason, uncertain, after, pause
        self.forget_channel = forget_channel


class _Final(Exception):
    """Slack refused for good; nothing was posted."""


class _TakenOver(Exception):
    """Another worker holds the message now: this one was slower than the lease."""


def lease_for(slack_timeout_seconds: float) -> timedelta:
    """How long a claim lasts without renewal: one step of a send (a Slack call with its
    retries of dropped connections, at most three attempts) must fit well inside it. Fifty
    seconds with the default ten-second timeout."""
    return timedelta(seconds=4 * slack_timeout_seconds + 10)


class Outbox:
    def __init__(
        self,
        db: Database,
        gateway: SlackGateway,
        clock: Callable[[], datetime],
        *,
        lease: timedelta = DEFAULT_LEASE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db, self._gateway, self._clock, self._sleep = db, gateway, clock, sleep
        self._lease = lease
        self._kinds: dict[MessageKind, _Kind] = {}
        self._worker = uuid.uuid4().hex[:12]

    def register(
        self,
        kind: MessageKind,
        render: Renderer,
        *,
        on_sent: Hook | None = None,
        on_failed: FailureHook | None = None,
    ) -> None:
        """How to render ``kind`` (in the transaction that sends it), and what to record once it
        was sent, or refused for good (``live``: the caller of ``deliver`` will say so itself)."""
        self._kinds[kind] = _Kind(render=render, on_sent=on_sent, on_failed=on_failed)

    @staticmethod
    def enqueue(
        session: Session,
        *,
        kind: MessageKind,
        key: str,
        recipient_id: int,
        due_at: datetime,
        ref_id: int | None = None,
    ) -> int:
        """Add a DM to send, in the caller's transaction (so it exists iff what made it due does).
        ``key`` names it; enqueueing the same key again returns the same message."""
        return outbox_repo.enqueue(
            session,
            kind=kind,
            key=f"{kind.value}:{key}",
            recipient_id=recipient_id,
            due_at=due_at,
            ref_id=ref_id,
        )

    @staticmethod
    def enqueue_many(session: Session, messages: Sequence[outbox_repo.NewMessage]) -> int:
        """``enqueue`` for many messages at once (one statement); how many were new."""
        return outbox_repo.enqueue_many(
            session, [replace(m, key=f"{m.kind.value}:{m.key}") for m in messages]
        )

    # -- sending ----------------------------------------------------------------------------

    def deliver(self, message_ids: Sequence[int]) -> list[Delivery]:
        """Send these messages now, each once (after an ack, for the person who is waiting).

        A short 429 (``Retry-After`` up to ``LIVE_PAUSE_SECONDS``) is waited out here, up to
        ``LIVE_TRIES`` times; after a longer one the message stays due and the tick sends it."""
        outcomes: list[Delivery] = []
        for message_id in dict.fromkeys(message_ids):
            for attempt in range(1, LIVE_TRIES + 1):
                with self._db.transaction() as session:
                    claim = outbox_repo.claim(
                        session,
                        now=self._clock(),
                        lease=self._lease,
                        worker=self._worker_id(),
                        message_ids=[message_id],
                    )
                if claim is None:
                    outcomes.append(self._state_of(message_id))
                    break
                waits = LIVE_PAUSE_SECONDS if attempt < LIVE_TRIES else 0.0
                delivery, pause = self._send(claim, self._clock, live=True, pause_limit=waits)
                if not pause:
                    outcomes.append(delivery)
                    break
                self._sleep(pause)  # Slack's Retry-After, then the same message again
        return outcomes

    def deliver_due(self, now: datetime, *, limit: int | None = None) -> OutboxReport:
        """Send every message due at ``now`` (up to ``limit``), one claim at a time."""
        report = OutboxReport()
        paused = 0.0
        started = time.monotonic()

        def at() -> datetime:  # ``now``, moved on by the time this tick has been running
            return now + timedelta(seconds=time.monotonic() - started)

        while limit is None or len(report.outcomes) < limit:
            with self._db.transaction() as session:
                claim = outbox_repo.claim(session, now=at(), lease=self._lease, worker=self._worker_id())
            if claim is None:
                break
            waits = MAX_PAUSE_SECONDS if paused < PAUSE_BUDGET_SECONDS else 0.0
            delivery, pause = self._send(claim, at, live=False, pause_limit=waits)
            report.add(delivery)
            if pause:
                self._sleep(pause)  # Slack's Retry-After, waited out before the next claim
                paused += pause
        if report.outcomes:
            log.info("outbox at %s: %s", now.isoformat(), report)
        return report

    def _worker_id(self) -> str:
        return f"{self._worker}-{uuid.uuid4().hex[:8]}"

    def _state_of(self, message_id: int) -> Delivery:
        with self._db.transaction() as session:
            message = outbox_repo.get(session, message_id)
        if message is None:
            return Delivery(message_id, MessageState.CANCELLED, "no such message")
        return Delivery(message_id, message.state, message.last_error)

    def _send(
        self, claim: outbox_repo.Claim, at: Callable[[], datetime], *, live: bool, pause_limit: float
    ) -> tuple[Delivery, float]:
        """One attempt under ``claim``; the outcome, and how long to pause before the next."""
        taken = Delivery(claim.message_id, MessageState.SENDING, "taken over")
        try:
            return self._attempt(claim, at), 0.0
        except _TakenOver:
            log.warning("an outbox claim was taken over while it was being worked on")
            return taken, 0.0
        except _Retry as retry:
            now = at()
            with self._db.transaction() as session:
                message = outbox_repo.held(session, claim)
                if message is None:
                    return taken, 0.0
                if not retry.uncertain and not retry.pause and message.attempts >= MAX_ATTEMPTS:
                    outbox_repo.fail(session, claim, error=f"gave up: {retry.reason}")
                    self._failed(session, message, f"gave up: {retry.reason}", live)
                    return Delivery(claim.message_id, MessageState.FAILED, retry.reason), 0.0
                if retry.forget_channel:
                    outbox_repo.set_channel(session, claim, None)
                    people_repo.set_dm_channel(session, message.recipient_id, None)
                pause = retry.pause if 0 < retry.pause <= pause_limit else 0.0
                due = now if pause else now + retry.after
                outbox_repo.retry(session, claim, due_at=due, uncertain=retry.uncertain, error=retry.reason)
            return Delivery(claim.message_id, MessageState.PENDING, retry.reason), pause
        except _Final as final:
            reason = str(final)
            with self._db.transaction() as session:
                message = outbox_repo.held(session, claim)
                if message is None:
                    return taken, 0.0
                outbox_repo.fail(session, claim, error=reason)
                self._failed(session, message, reason, live)
                kind = message.kind.value
            log.warning("a %s DM was refused by Slack for good: %s", kind, reason)
            return Delivery(claim.message_id, MessageState.FAILED, reason), 0.0

    def _renew(
        self, claim: outbox_repo.Claim, at: Callable[[], datetime], *, channel: str | None = None
    ) -> None:
        """Before each step that calls Slack: is the claim still ours? Then its lease restarts
        (and, given ``channel``, the DM it goes to is kept with it)."""
        with self._db.transaction() as session:
            if not outbox_repo.renew(session, claim, at=at()):
                raise _TakenOver()
            if channel is not None:
                outbox_repo.set_channel(session, claim, channel)

    def _attempt(self, claim: outbox_repo.Claim, at: Callable[[], datetime]) -> Delivery:
        with self._db.transaction() as session:
            message = outbox_repo.held(session, claim)
            if message is None:
                raise _TakenOver()
            recipient = people_repo.get(session, message.recipient_id)
            assert recipient is not None
            channel, token = message.channel_id, message.token
            look_first = claim.check_first and channel is not None
            # Rendered in the same read, unless Slack must be asked first whether it was posted.
            rendered = None if look_first else self._render(session, claim, message, recipient)
            if not look_first and rendered is None:
                return Delivery(claim.message_id, MessageState.CANCELLED)
        if look_first:
            assert channel is not None
            # An earlier post may have gone through: the DM's history knows.
            self._renew(claim, at)
            ts = self._look_for(channel, token)
            if ts is not None:
                return self._sent(claim, channel, ts, at())
            with self._db.transaction() as session:
                message = outbox_repo.held(session, claim)
                if message is None:
                    raise _TakenOver()
                rendered = self._render(session, claim, message, recipient)
                if rendered is None:
                    return Delivery(claim.message_id, MessageState.CANCELLED)
        assert rendered is not None
        fresh = channel is None and recipient.dm_channel_id is None  # opened just now, not remembered
        if channel is None:
            if recipient.dm_channel_id is None:
                self._renew(claim, at)
            channel = recipient.dm_channel_id or self._open_dm(recipient)
            self._renew(claim, at, channel=channel)  # the channel kept with the lease: one commit
        else:
            self._renew(claim, at)
        try:
            posted = self._gateway.post_message(channel, rendered.text, rendered.blocks, key=token)
        except SlackApiError as error:
            raise _classify(error, fresh_channel=fresh) from None
        except Exception as error:  # a timeout, a dropped connection: it may have been posted
            raise _Retry(type(error).__name__, uncertain=True, after=SETTLE) from None
        return self._sent(claim, posted.channel, posted.ts, at())

    def _render(
        self, session: Session, claim: outbox_repo.Claim, message: OutboxMessage, recipient: Person
    ) -> Rendered | None:
        """What to post, or None: then there is nothing to send any more, and the message is
        cancelled (in ``session``)."""
        rendered = None if _unreachable(recipient) else self._kinds[message.kind].render(session, message)
        if rendered is None:
            outbox_repo.cancel(session, claim)
        return rendered

    def _sent(self, claim: outbox_repo.Claim, channel: str, ts: str, now: datetime) -> Delivery:
        with self._db.transaction() as session:
            message = outbox_repo.held(session, claim)
            if message is None or not outbox_repo.mark_sent(
                session, claim, channel_id=channel, ts=ts, at=now
            ):
                raise _TakenOver()
            message.channel_id, message.ts = channel, ts
            hook = self._kinds[message.kind].on_sent
            if hook is not None:
                hook(session, message)
        return Delivery(claim.message_id, MessageState.SENT)

    def _failed(self, session: Session, message: OutboxMessage, reason: str, live: bool) -> None:
        hook = self._kinds[message.kind].on_failed
        if hook is not None:
            hook(session, message, reason, live)

    def _look_for(self, channel: str, token: str) -> str | None:
        try:
            return self._gateway.find_message(channel, token)
        except SlackApiError as error:
            code = error_code(error) or f"HTTP {error.response.status_code}"
            raise _Retry(f"history: {code}", uncertain=True, after=_after(error, SETTLE)) from None
        except Exception as error:
            raise _Retry(f"history: {type(error).__name__}", uncertain=True, after=SETTLE) from None

    def _open_dm(self, recipient: Person) -> str:
        try:
            channel = self._gateway.open_dm(recipient.slack_user_id)
        except SlackApiError as error:
            code = error_code(error)
            if code in FINAL_ERRORS:
                raise _Final(code) from None
            raise _Retry(
                code or f"HTTP {error.response.status_code}",
                uncertain=False,
                after=_after(error, BACKOFF[0]),
                pause=_retry_after(error) if error.response.status_code == 429 else 0.0,
            ) from None
        except Exception as error:
            raise _Retry(type(error).__name__, uncertain=False, after=BACKOFF[0]) from None
        with self._db.transaction() as session:
            assert recipient.id is not None
            people_repo.set_dm_channel(session, recipient.id, channel)
        return channel


def _unreachable(person: Person) -> bool:
    return person.is_bot or person.deleted or person.left_programme_at is not None


def _retry_after(error: SlackApiError) -> float:
    headers = error.response.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after") or "1"
    try:
        return max(0.0, float(value[0] if isinstance(value, list) else value))
    except ValueError:
        return 1.0


def _after(error: SlackApiError, default: timedelta) -> timedelta:
    if error.response.status_code == 429:
        return timedelta(seconds=_retry_after(error))
    return default


def _classify(error: SlackApiError, *, fresh_channel: bool) -> Exception:
    """What a refused ``chat.postMessage`` means for the message."""
    status, code = error.response.status_code, error_code(error)
    if status == 429 or code == "ratelimited":  # Slack did not run the call
        return _Retry(
            "ratelimited", uncertain=False, after=_after(error, BACKOFF[0]), pause=_retry_after(error)
        )
    if status >= 500 or code in UNKNOWN_OUTCOME_ERRORS:
        return _Retry(code or f"HTTP {status}", uncertain=True, after=SETTLE)
    if code == "channel_not_found" and not fresh_channel:
        # The DM channel may be one we remembered and Slack no longer has: open it afresh; a
        # refusal of a channel conversations.open has just given is final.
        return _Retry(code, uncertain=False, after=BACKOFF[0], forget_channel=True)
    if code in FINAL_ERRORS:
        return _Final(code)
    return _Retry(code or f"HTTP {status}", uncertain=False, after=BACKOFF[1])
