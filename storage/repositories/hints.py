"""Forms answered once with hints on their notes, so a form is hinted at most once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.models import NoteHint


def claim(session: Session, *, view_id: str, at: datetime) -> bool:
    """True the first time this view is hinted; False once it has been (by any replica)."""
    try:
        with session.begin_nested():
            session.add(NoteHint(view_id=view_id, hinted_at=at))
    except IntegrityError:
        return False
    return True
