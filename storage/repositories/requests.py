"""Queries about feedback requests."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, not_, or_, update
from sqlmodel import Session, col, select

from storage.models import Feedback, FeedbackRequest, Person, RequestState


def add(session: Session, request: FeedbackRequest) -> FeedbackRequest:
    session.add(request)
    session.flush()
    return request


def get(session: Session, request_id: int) -> FeedbackRequest | None:
    return session.get(FeedbackRequest, request_id)


def open_request(
    session: Session, *, requester_id: int, giver_id: int, subject_id: int
) -> FeedbackRequest | None:
    return session.exec(
        select(FeedbackRequest).where(
            FeedbackRequest.requester_id == requester_id,
            FeedbackRequest.giver_id == giver_id,
            FeedbackRequest.subject_id == subject_id,
            FeedbackRequest.state == RequestState.OPEN,
        )
    ).first()


def latest(session: Session, *, requester_id: int, giver_id: int, subject_id: int) -> FeedbackRequest | None:
    """The newest request of this requester to this giver about this subject, in any state."""
    return session.exec(
        select(FeedbackRequest)
        .where(
            FeedbackRequest.requester_id == requester_id,
            FeedbackRequest.giver_id == giver_id,
            FeedbackRequest.subject_id == subject_id,
        )
        .order_by(col(FeedbackRequest.created_at).desc(), col(FeedbackRequest.id).desc())
    ).first()


def sent_by(session: Session, person_id: int, *, limit: int = 50) -> list[FeedbackRequest]:
    return list(
        session.exec(
            select(FeedbackRequest)
            .where(FeedbackRequest.requester_id == person_id)
            .order_by(col(FeedbackRequest.created_at).desc(), col(FeedbackRequest.id).desc())
            .limit(limit)
        )
    )


def received_by(session: Session, person_id: int, *, limit: int = 50) -> list[FeedbackRequest]:
    return list(
        session.exec(
            select(FeedbackRequest)
            .where(FeedbackRequest.giver_id == person_id)
            .order_by(col(FeedbackRequest.created_at).desc(), col(FeedbackRequest.id).desc())
            .limit(limit)
        )
    )


def open_received(session: Session, person_id: int, *, limit: int) -> tuple[list[FeedbackRequest], int]:
    """The newest ``limit`` open requests to the person, and how many are open in all."""
    waiting = and_(FeedbackRequest.giver_id == person_id, FeedbackRequest.state == RequestState.OPEN)
    return _page(session, waiting, limit)


def maybe_open_sent(
    session: Session, person_id: int, *, asked_after: datetime, limit: int
) -> tuple[list[FeedbackRequest], int]:
    """The newest ``limit`` requests the person sent that may still read "open" to them, and
    how many there are: exactly the ones ``bot.feedback.cards.shown_to_requester`` shows as
    ``OPEN`` when ``asked_after`` is the start of the open window. Open, or answered
    anonymously (which reads as silence), asked after ``asked_after``, and nobody in it has
    left the programme."""
    named_answer = (
        select(Feedback.id)
        .where(col(Feedback.request_id) == col(FeedbackRequest.id), col(Feedback.anonymous).is_(False))
        .exists()
    )
    someone_left = (
        select(Person.id)
        .where(
            col(Person.id).in_(
                [FeedbackRequest.requester_id, FeedbackRequest.giver_id, FeedbackRequest.subject_id]
            ),
            col(Person.left_programme_at).is_not(None),
        )
        .exists()
    )
    shown_open = and_(
        FeedbackRequest.requester_id == person_id,
        col(FeedbackRequest.created_at) > asked_after,
        col(FeedbackRequest.state).in_([RequestState.OPEN, RequestState.ANSWERED]),
        not_(and_(FeedbackRequest.state == RequestState.ANSWERED, named_answer)),
        not_(someone_left),
    )
    return _page(session, shown_open, limit)


def _page(session: Session, where: ColumnElement[bool], limit: int) -> tuple[list[FeedbackRequest], int]:
    newest = list(
        session.exec(
            select(FeedbackRequest)
            .where(where)
            .order_by(col(FeedbackRequest.created_at).desc(), col(FeedbackRequest.id).desc())
            .limit(limit)
        )
    )
    if len(newest) < limit:  # that was all of them
        return newest, len(newest)
    return newest, int(session.exec(select(func.count()).select_from(FeedbackRequest).where(where)).one())


def claim_nudge(
    session: Session,
    request_id: int,
    *,
    now: datetime,
    every: timedelta,
    state: RequestState = RequestState.OPEN,
) -> bool:
    """Record a nudge if none was sent within ``every``: one conditional UPDATE, so a double
    click or two replicas nudge once. ``state`` is the state the request must still be in."""
    result = session.execute(
        update(FeedbackRequest)
        .where(
            col(FeedbackRequest.id) == request_id,
            col(FeedbackRequest.state) == state,
            or_(col(FeedbackRequest.nudged_at).is_(None), col(FeedbackRequest.nudged_at) <= now - every),
            col(FeedbackRequest.created_at) <= now - every,
        )
        .values(nudged_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def close(session: Session, request_id: int, *, state: RequestState, at: datetime, reason: str = "") -> bool:
    """Move an open request to ``state``; False when it was no longer open (a repeat)."""
    result = session.execute(
        update(FeedbackRequest)
        .where(col(FeedbackRequest.id) == request_id, col(FeedbackRequest.state) == RequestState.OPEN)
        .values(state=state, responded_at=at, decline_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_dm(session: Session, request_id: int, channel_id: str, ts: str) -> None:
    request = session.get(FeedbackRequest, request_id)
    if request is not None:
        request.dm_channel_id, request.dm_ts = channel_id, ts
        session.add(request)
