"""Queries about the outbox: DMs to send once, claimed one at a time (see ``bot.outbox``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from storage.models import MessageKind, MessageState, OutboxMessage
from storage.upsert import insert_ignore, insert_ignore_many


@dataclass(frozen=True)
class Claim:
    message_id: int
    token: str  # the worker's claim; every later write is conditional on it
    check_first: bool  # a post may have happened before: look for it before posting


@dataclass(frozen=True)
class NewMessage:
    kind: MessageKind
    key: str
    recipient_id: int
    due_at: datetime
    ref_id: int | None = None
    created_at: datetime | None = None  # when it became due in the first place (default: due_at)

    def row(self) -> dict[str, object]:
        return {
            "key": self.key,
            "token": secrets.token_hex(16),
            "kind": self.kind,
            "recipient_id": self.recipient_id,
            "ref_id": self.ref_id,
            "state": MessageState.PENDING,
            "uncertain": False,
            "due_at": self.due_at,
            "attempts": 0,
            "last_error": "",
            "created_at": self.created_at or self.due_at,
        }


def enqueue(
    session: Session,
    *,
    kind: MessageKind,
    key: str,
    recipient_id: int,
    due_at: datetime,
    ref_id: int | None = None,
) -> int:
    """The message with ``key``, added when new: enqueueing again changes nothing. Its id."""
    insert_ignore(
        session, OutboxMessage, NewMessage(kind, key, recipient_id, due_at, ref_id).row(), conflict="key"
    )
    found = session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key)).one()
    assert found is not None
    return int(found)


def enqueue_many(session: Session, messages: Sequence[NewMessage]) -> int:
    """Add the messages whose keys are new, in one statement; how many were added."""
    return insert_ignore_many(session, OutboxMessage, [m.row() for m in messages], conflict="key")


def _claimable(now: datetime, lease: timedelta) -> object:
    due = and_(col(OutboxMessage.state) == MessageState.PENDING, col(OutboxMessage.due_at) <= now)
    abandoned = and_(
        col(OutboxMessage.state) == MessageState.SENDING, col(OutboxMessage.claimed_at) < now - lease
    )
    return or_(due, abandoned)


def claim(
    session: Session,
    *,
    now: datetime,
    lease: timedelta,
    worker: str,
    message_ids: Sequence[int] | None = None,
) -> Claim | None:
    """Claim one message that is due (one of ``message_ids`` when given), or None.

    A claim is a conditional UPDATE on the attempt count read just before, so two workers
    (threads, replicas) never hold the same message; on PostgreSQL the candidate is also
    locked with ``SKIP LOCKED`` so they do not wait on each other. The claim marks the message
    ``uncertain``: from now until its outcome is written, a post may happen.
    """
    query = select(OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.uncertain).where(
        _claimable(now, lease)  # type: ignore[arg-type]
    )
    if message_ids is not None:
        query = query.where(col(OutboxMessage.id).in_(list(message_ids)))
    query = query.order_by(col(OutboxMessage.due_at), col(OutboxMessage.id)).limit(8)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    for message_id, attempts, uncertain in session.exec(query).all():
        token = f"{worker}:{attempts + 1}"
        taken = session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message_id, col(OutboxMessage.attempts) == attempts)
            .values(
                state=MessageState.SENDING,
                uncertain=True,
                claimed_by=token,
                claimed_at=now,
                attempts=attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            return Claim(message_id=int(message_id), token=token, check_first=bool(uncertain))
    return None


def held(session: Session, claim: Claim) -> OutboxMessage | None:
    """The claimed message, if the claim still holds (nobody took it over)."""
    message = session.get(OutboxMessage, claim.message_id)
    if message is None or message.claimed_by != claim.token or message.state is not MessageState.SENDING:
        return None
    return message


def _settle(session: Session, claim: Claim, **values: object) -> bool:
    result = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == claim.message_id,
            col(OutboxMessage.claimed_by) == claim.token,
            col(OutboxMessage.state) == MessageState.SENDING,
        )
        .values(claimed_by=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def renew(session: Session, claim: Claim, *, at: datetime) -> bool:
    """Start the claim's lease again; False when it is no longer ours."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == claim.message_id,
            col(OutboxMessage.claimed_by) == claim.token,
            col(OutboxMessage.state) == MessageState.SENDING,
        )
        .values(claimed_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_channel(session: Session, claim: Claim, channel_id: str | None) -> None:
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == claim.message_id, col(OutboxMessage.claimed_by) == claim.token)
        .values(channel_id=channel_id)
        .execution_options(synchronize_session=False)
    )


def mark_sent(session: Session, claim: Claim, *, channel_id: str, ts: str, at: datetime) -> bool:
    return _settle(
        session,
        claim,
        state=MessageState.SENT,
        uncertain=False,
        channel_id=channel_id,
        ts=ts,
        sent_at=at,
        last_error="",
    )


def retry(session: Session, claim: Claim, *, due_at: datetime, uncertain: bool, error: str) -> bool:
    return _settle(
        session, claim, state=MessageState.PENDING, uncertain=uncertain, due_at=due_at, last_error=error[:120]
    )


def fail(session: Session, claim: Claim, *, error: str) -> bool:
    return _settle(session, claim, state=MessageState.FAILED, uncertain=False, last_error=error[:120])


def cancel(session: Session, claim: Claim) -> bool:
    return _settle(session, claim, state=MessageState.CANCELLED, uncertain=False)


def get(session: Session, message_id: int) -> OutboxMessage | None:
    return session.get(OutboxMessage, message_id)


def sent_about(
    session: Session, kinds: Iterable[MessageKind], ref_id: int, recipient_id: int | None = None
) -> list[OutboxMessage]:
    """Messages of ``kinds`` about ``ref_id`` that reached Slack (they have a ts to update)."""
    query = select(OutboxMessage).where(
        col(OutboxMessage.kind).in_(list(kinds)),
        OutboxMessage.ref_id == ref_id,
        col(OutboxMessage.ts).is_not(None),
    )
    if recipient_id is not None:
        query = query.where(OutboxMessage.recipient_id == recipient_id)
    return list(session.exec(query.order_by(col(OutboxMessage.id))))


def by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).first()


def cancel_pending(session: Session, kinds: Iterable[MessageKind], ref_id: int) -> None:
    """Messages about ``ref_id`` not yet claimed are not sent (a cancelled project…)."""
    session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.kind).in_(list(kinds)),
            col(OutboxMessage.ref_id) == ref_id,
            col(OutboxMessage.state) == MessageState.PENDING,
            col(OutboxMessage.uncertain).is_(False),
        )
        .values(state=MessageState.CANCELLED)
        .execution_options(synchronize_session=False)
    )


def due_of_kind(session: Session, kind: MessageKind, *, now: datetime, limit: int) -> list[OutboxMessage]:
    """Messages of ``kind`` waiting to be sent at ``now`` (not yet claimed), oldest first."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.kind == kind,
            col(OutboxMessage.state) == MessageState.PENDING,
            col(OutboxMessage.due_at) <= now,
        )
        .order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
        .limit(limit)
    )
    return list(session.exec(query))


def counts(session: Session) -> dict[MessageState, int]:
    rows = session.exec(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all()
    return {MessageState(state): int(n) for state, n in rows}
