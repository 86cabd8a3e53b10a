"""Anonymity that survives inference: the rule, and the daily release that enforces it.

The property: from everything a person can see, at any time, they cannot tell which of the
people they asked (or which member of a project) answered anonymously, unless at least
three different people could have.

Hiding the name is not enough. A notice that arrives the moment the giver submits tells
someone who asked two people which one answered; so does a count that moves, an item sorted
by its exact time among dated ones, a progress counter. So anonymous feedback is **held**:
until it is released it is invisible to every reader but its giver — not listed, not counted,
not averaged, not sorted, not noticed, not used by the coach, not making a draft stale. It is
**released in batches**, at a fixed time of day (09:00 in the zone of the person it is about),
and only when the batch holds answers from at least ``MIN_GIVERS`` different people; a smaller
batch waits, unchanged and unseen, for more. A released item shows "anonymous" and the month
of its release, and sorts by its release, so neither its order nor its date points at a
moment someone remembers.

Around it, the rest of the product keeps the same line: an anonymous answer to a request
leaves the request looking exactly like silence to the requester (``bot.feedback.cards``
``shown_to_requester``); progress counters count only named parts (``bot.debriefs``);
anonymous upward feedback is offered only on projects with at least three members; an
anonymous answer can be changed until it is released and not after (a change would show when
it was made); and no log line names the giver of anything.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from sqlmodel import Session

from bot.outbox import Outbox, Rendered
from bot.people.directory import PersonRef
from bot.timekeeping import local_date, local_to_utc
from storage.db import Database
from storage.models import MessageKind, OutboxMessage
from storage.repositories import feedback as feedback_repo
from storage.repositories import people as people_repo

log = logging.getLogger(__name__)

MIN_GIVERS = 3  # different people in one released batch
ANONYMOUS_RELEASED = (
    "Your anonymous answer was passed on with the others, so it cannot be changed now: a change "
    "would show when it was made."
)
RELEASE_LOCAL_TIME = time(9, 0)


def release_slot(now: datetime, tz: str | None) -> datetime:
    """The latest release time at or before ``now``: 09:00 where the person is."""
    today = local_date(now, tz)
    slot = local_to_utc(today, RELEASE_LOCAL_TIME, tz)
    return slot if slot <= now else local_to_utc(today - timedelta(days=1), RELEASE_LOCAL_TIME, tz)


class ReleaseViews(Protocol):
    def anonymous_released_notice(
        self, subject: PersonRef, givers: int, for_self: bool
    ) -> tuple[str, list[Any]]: ...


class AnonymousRelease:
    """Releases held anonymous feedback in batches (``release_due``, run by every tick), and
    tells the person (and their manager) once per batch. With no ``outbox``, releases only."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        outbox: Outbox | None = None,
        views: ReleaseViews | None = None,
    ) -> None:
        self._db, self._clock, self._views = db, clock, views
        if outbox is not None:
            outbox.register(MessageKind.ANONYMOUS_RELEASED, self._render_released)

    def _render_released(self, session: Session, message: OutboxMessage) -> Rendered | None:
        assert message.ref_id is not None and self._views is not None
        subject = people_repo.get(session, message.ref_id)
        givers = feedback_repo.givers_released_at(session, message.ref_id, message.created_at)
        if subject is None or givers == 0:
            return None  # deleted since (someone left the programme)
        for_self = message.recipient_id == subject.id
        return Rendered(*self._views.anonymous_released_notice(PersonRef.of(subject), givers, for_self))

    def release_due(self, now: datetime) -> int:
        """Release, for each person, what was held before their latest release time, if it came
        from at least ``MIN_GIVERS`` different people; tell them (and their manager) once per
        batch. The number of items released."""
        released = 0
        with self._db.transaction() as session:
            held = feedback_repo.held_anonymous(session)
            by_subject: dict[int, list[tuple[int, int, datetime]]] = defaultdict(list)
            for feedback_id, subject_id, giver_id, saved_at in held:
                by_subject[subject_id].append((feedback_id, giver_id, saved_at))
            people = people_repo.by_ids(session, by_subject)
            for subject_id, items in by_subject.items():
                subject = people.get(subject_id)
                if subject is None:
                    continue
                slot = release_slot(now, subject.tz)
                batch = [(fid, giver) for fid, giver, saved_at in items if saved_at < slot]
                if len({giver for _, giver in batch}) < MIN_GIVERS:
                    continue
                feedback_repo.release(session, [fid for fid, _ in batch], at=slot)
                released += len(batch)
                self._notify(session, subject_id, subject.manager_id, local_date(slot, subject.tz), slot)
        if released:
            log.info("released %d anonymous feedback items", released)
        return released

    @staticmethod
    def _notify(session: Session, subject_id: int, manager_id: int | None, day: date, slot: datetime) -> None:
        for reader in (subject_id, manager_id):
            if reader is not None:
                Outbox.enqueue(
                    session,
                    kind=MessageKind.ANONYMOUS_RELEASED,
                    key=f"{subject_id}:{day.isoformat()}:{reader}",
                    recipient_id=reader,
                    ref_id=subject_id,
                    due_at=slot,
                )
