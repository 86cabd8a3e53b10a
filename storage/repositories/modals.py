"""Which modal Brickwork opened for whom (``ModalView``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from storage.models import ModalView
from storage.upsert import insert_ignore


def remember(session: Session, *, view_id: str, slack_user_id: str, callback_id: str, at: datetime) -> None:
    insert_ignore(
        session,
        ModalView,
        {"view_id": view_id, "slack_user_id": slack_user_id, "callback_id": callback_id, "opened_at": at},
        conflict="view_id",
    )


def set_callback(session: Session, *, view_id: str, callback_id: str) -> None:
    session.execute(
        update(ModalView).where(col(ModalView.view_id) == view_id).values(callback_id=callback_id)
    )


def owner(session: Session, view_id: str) -> ModalView | None:
    return session.exec(select(ModalView).where(ModalView.view_id == view_id)).first()


def opened_as(session: Session, view_id: str) -> tuple[str, str] | None:
    """Who the view was opened for and as which form (its callback id): two columns, no
    entity, for the check every submission makes before its ack."""
    row = session.execute(
        select(ModalView.slack_user_id, ModalView.callback_id).where(ModalView.view_id == view_id)
    ).first()
    return (row[0], row[1]) if row is not None else None


def forget_before(session: Session, before: datetime) -> int:
    """Drop modals opened before ``before``: Slack closes a modal long before that."""
    result = session.execute(delete(ModalView).where(col(ModalView.opened_at) < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
