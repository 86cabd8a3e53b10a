"""Events API deliveries we have handled, so a retried delivery is acknowledged and ignored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.models import ProcessedEvent


def claim(session: Session, *, team_id: str, event_id: str, at: datetime) -> bool:
    """True the first time this (team, event) is seen; False for a retry or duplicate."""
    try:
        with session.begin_nested():
            session.add(ProcessedEvent(team_id=team_id, event_id=event_id, received_at=at))
    except IntegrityError:
        return False
    return True
