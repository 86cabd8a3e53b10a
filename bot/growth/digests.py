"""The weekly digest: each person's growth areas, a thing to try and how last week's went, a
DM once a week in their own time — enqueued exactly once per person and week, built in
batches, sent through the outbox.

What it reads of a person's growth comes from ``bot.growth.service`` (the readings); what it
decides here is when a digest is due, what it says, and whether it is worth sending.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from sqlmodel import Session

from bot.analytics.readings import PersonReading
from bot.coaching.catalog import Catalog, LearningItem
from bot.coaching.coaches import next_step, stretch_step
from bot.coaching.evidence import tried_steps
from bot.errors import InvalidInput, NotAllowed
from bot.framework import Framework
from bot.growth.service import GrowthCard, GrowthService, StepCard
from bot.outbox import Outbox, Rendered
from bot.people.directory import PeopleService, PersonRef
from bot.timekeeping import MONDAY_TO_FRIDAY, WorkingDays, local_date, local_to_utc
from storage.db import Database
from storage.models import GrowthStep, MessageKind, OutboxMessage, Person, id_of
from storage.repositories import growth as growth_repo
from storage.repositories import outbox as outbox_repo
from storage.repositories import people as people_repo

DIGEST_WEEKDAY = 0  # Monday (moved to the next working day when Monday is not one)
DIGEST_AT = time(9, 0)  # in the person's own zone
DIGEST_PAUSE_DAYS = 14
DIGEST_AREAS = 3
DIGEST_LEARNING = 2
STEPS_REMEMBERED = 12  # weeks of things to try the next one is chosen against
DIGEST_BATCH = 500  # people per batch when digests are built or enqueued
PREPARE_LIMIT = 1_000  # digests built ahead of one tick's sending (the spread sends fewer a minute)
DIGESTS_PER_MINUTE = 60  # a shared slot sends at most this many a minute (more if the hour needs it)


class DigestService:
    def __init__(
        self,
        *,
        db: Database,
        people: PeopleService,
        growth: GrowthService,
        framework: Framework,
        clock: Callable[[], datetime],
        catalog: Catalog | None = None,
        outbox: Outbox | None = None,
        views: DigestViews | None = None,
        working_days: WorkingDays = MONDAY_TO_FRIDAY,
    ) -> None:
        self._db, self._people, self._growth = db, people, growth
        self._framework, self._clock, self._catalog = framework, clock, catalog
        self._views, self._working = views, working_days
        self._lock = threading.Lock()
        self._prepared: dict[int, DigestCard] = {}  # outbox message id -> its digest, built in a batch
        if outbox is not None:
            outbox.register(MessageKind.GROWTH_DIGEST, self._render_digest)

    def digest(self, slack_user_id: str, *, now: datetime | None = None) -> DigestCard:
        """The digest ``slack_user_id`` gets this week (``/growth digest``, the CLI preview)."""
        person = self._people.known(slack_user_id)
        with self._db.transaction() as session:
            return self._digest_cards(session, [person], now or self._clock())[0]

    def digests(self, now: datetime, *, batch: int = DIGEST_BATCH) -> Iterator[DigestCard]:
        """Everyone's digest of the week of ``now``, without sending any: built ``batch``
        people at a time with a fixed number of queries per batch (none per person, none per
        KPI), calibration fitted once; memory bounded by the batch."""
        with self._db.transaction() as session:
            for candidates in growth_repo.digest_candidates(session, chunk=batch):
                people = people_repo.by_ids(session, [c.person_id for c in candidates])
                yield from self._digest_cards(session, [people[c.person_id] for c in candidates], now)
                session.expunge_all()  # the batch's rows are done with

    def _digest_cards(
        self, session: Session, people: Sequence[Person], now: datetime, *, read_at: datetime | None = None
    ) -> list[DigestCard]:
        """The digests of ``people`` for the week of ``now``, their growth as of ``read_at``
        (``now`` unless later): a fixed number of queries."""
        ids = [id_of(p) for p in people]
        read = self._growth.read(session, ids, max(now, read_at or now))
        new = growth_repo.newly_visible(session, ids, since=now - timedelta(days=7))
        waiting = growth_repo.requests_waiting(session, ids, since=now - timedelta(days=7))
        weeks = {
            id_of(p): (
                digest_week(self.slot(p, now), p.tz),
                _iso_week(local_date(now, p.tz) - timedelta(days=7)),
            )
            for p in people
        }
        earliest = min((local_date(now, p.tz) for p in people), default=now.date())
        earlier = growth_repo.steps_since(
            session, ids, _iso_week(earliest - timedelta(weeks=STEPS_REMEMBERED))
        )
        cards = []
        for person in people:
            person_id = id_of(person)
            reading, self_assessed_at = read[person_id]
            growth = GrowthCard(PersonRef.of(person), True, reading, self._framework, self_assessed_at, now)
            week, last_week = weeks[person_id]
            steps = [step for step in earlier.get(person_id, []) if step.week < week]
            previous = next((step for step in steps if step.week == last_week), None)
            thing, learning = self._advice(reading, steps)
            all_waiting, new_requests = waiting.get(person_id, (0, 0))
            cards.append(
                DigestCard(
                    growth=growth,
                    week=week,
                    new_feedback=new.get(person_id, 0),
                    waiting=all_waiting,
                    new_requests=new_requests,
                    thing_to_try=thing,
                    learning=learning,
                    last_step=(
                        self._growth.step_card(previous)
                        if previous is not None and previous.outcome is None
                        else None
                    ),
                )
            )
        return cards

    def _advice(
        self, reading: PersonReading, steps: Sequence[GrowthStep]
    ) -> tuple[tuple[str, str, str] | None, tuple[LearningItem, ...]]:
        """One thing to try this week, and learning: for the first growth area (never a step the
        person said was not for them, another after one they tried: ``steps``, newest first),
        or, where none stands out, to stretch the top strength."""
        areas = [a.kpi for a in reading.growth_areas[:DIGEST_AREAS]]
        if areas:
            kpi = self._framework.kpi(areas[0])
            step = next_step(kpi, tried_steps(self._framework, steps))
        elif reading.strengths:
            kpi = self._framework.kpi(reading.strengths[0].kpi)
            areas, step = [kpi.key], stretch_step(kpi)
        else:
            return None, ()
        learning: dict[str, LearningItem] = {}
        for key in areas if self._catalog is not None else ():
            for item in self._catalog.for_kpi(key):  # type: ignore[union-attr]
                learning.setdefault(item.id, item)
        return (kpi.key, kpi.label, step), tuple(learning.values())[:DIGEST_LEARNING]

    def slot(self, person: Schedule, now: datetime) -> datetime:
        """When the person's digest is due in the week of ``now``."""
        weekday, hour = digest_time(person)
        return digest_slot(now, person.tz, self._working, weekday=weekday, hour=hour)

    def enqueue_digests(self, now: datetime) -> int:
        """Put this week's digest in the outbox for everyone whose slot has come, once per
        person and week (the outbox key), unless digests are off or paused for them. The
        outbox sends each exactly once; what it says is decided when it is sent.

        A slot many people share is spread: at most ``DIGESTS_PER_MINUTE`` a minute, or as many
        as fit the hour, in an order fixed per person — Slack is not sent ten thousand
        messages at 09:00:00. A fixed number of statements per ``DIGEST_BATCH`` people."""
        added = 0
        due: dict[datetime, list[tuple[int, str]]] = {}
        with self._db.transaction() as session:
            queued = growth_repo.digest_keys_since(session, now - timedelta(days=8))
            for candidates in growth_repo.digest_candidates(session, chunk=DIGEST_BATCH):
                for person in candidates:
                    slot = self.slot(person, now)
                    if now < slot or _paused(person, slot):
                        continue
                    key = f"{person.person_id}:{digest_week(slot, person.tz)}"
                    if f"{MessageKind.GROWTH_DIGEST.value}:{key}" not in queued:
                        due.setdefault(slot, []).append((person.person_id, key))
            for slot, people in due.items():
                people.sort(key=lambda p: _spread_order(p[0]))
                per_minute = max(DIGESTS_PER_MINUTE, -(-len(people) // 60))
                messages = [
                    outbox_repo.NewMessage(
                        kind=MessageKind.GROWTH_DIGEST,
                        key=key,
                        recipient_id=person_id,
                        due_at=slot + timedelta(minutes=rank // per_minute),
                        ref_id=person_id,
                        created_at=slot,  # the week's moment, whenever it is sent
                    )
                    for rank, (person_id, key) in enumerate(people)
                ]
                for start in range(0, len(messages), DIGEST_BATCH):
                    added += Outbox.enqueue_many(session, messages[start : start + DIGEST_BATCH])
        return added

    def prepare_digests(self, now: datetime) -> int:
        """Build, in batches, the digests the outbox is about to send at ``now`` (a fixed number
        of queries per batch, not several per digest); each is still checked, and its step kept,
        in the transaction that sends it. How many were built."""
        with self._db.transaction() as session:
            due = outbox_repo.due_of_kind(session, MessageKind.GROWTH_DIGEST, now=now, limit=PREPARE_LIMIT)
            prepared: dict[int, DigestCard] = {}
            for start in range(0, len(due), DIGEST_BATCH):
                batch = due[start : start + DIGEST_BATCH]
                people = people_repo.by_ids(session, {m.ref_id for m in batch if m.ref_id is not None})
                by_slot: dict[datetime, list[OutboxMessage]] = {}
                for message in batch:
                    if message.ref_id in people:
                        by_slot.setdefault(message.created_at, []).append(message)
                for slot, messages in by_slot.items():
                    cards = self._digest_cards(
                        session,
                        [people[m.ref_id] for m in messages],
                        slot,
                        read_at=now,  # type: ignore[index]
                    )
                    prepared |= {id_of(m): card for m, card in zip(messages, cards, strict=True)}
        with self._lock:
            self._prepared = prepared
        return len(prepared)

    def _render_digest(self, session: Session, message: OutboxMessage) -> Rendered | None:
        assert self._views is not None and message.ref_id is not None
        person = people_repo.get(session, message.ref_id)
        # The moment it was first due (a retry moves ``due_at``, never ``created_at``): its week,
        # its news and its pause are that moment's, however late it is sent.
        slot = message.created_at
        if (
            person is None
            or not person.digest_enabled
            or person.left_programme_at is not None
            or _paused(person, slot)
        ):
            return None  # turned off, paused (or gone) since it was due
        # Built with its batch just before (``prepare_digests``), or now; the growth is as of now.
        with self._lock:
            card = self._prepared.pop(id_of(message), None)
        if card is None or card.growth.subject.person_id != id_of(person):
            card = self._digest_cards(session, [person], slot, read_at=self._clock())[0]
        if card.anything_new:
            if card.thing_to_try is not None and card.news:  # kept: next week's digest asks how it went
                kpi, _, text = card.thing_to_try
                growth_repo.record_step(
                    session, person_id=id_of(person), week=card.week, kpi=kpi, text=text, at=self._clock()
                )
            return Rendered(*self._views.digest_message(card))
        # Nothing new: nothing, but for a short nudge to ask for feedback, once a month, when a
        # whole month brought none.
        quiet = not growth_repo.newly_visible(session, [id_of(person)], since=slot - timedelta(days=30))
        if quiet and local_date(slot, person.tz).day <= 7:
            return Rendered(*self._views.digest_nudge(card))
        return None

    def choose_digest_time(
        self, slack_user_id: str, *, weekday: int | None = None, hour: int | None = None
    ) -> None:
        """The day (0 Monday … 6 Sunday) and hour of the person's digest, in their own zone (a day
        that is not a working day moves to the next working day, as Monday does)."""
        if weekday is not None and not 0 <= weekday <= 6:
            raise InvalidInput({"digest_day": "Pick a day of the week."})
        if hour is not None and not 0 <= hour <= 23:
            raise InvalidInput({"digest_hour": "Pick an hour from 0 to 23."})
        with self._db.transaction() as session:
            person = people_repo.by_slack_id(session, slack_user_id)
            if person is None:
                raise NotAllowed("Brickwork has nothing stored about you.")
            if weekday is not None:
                person.digest_weekday = weekday
            if hour is not None:
                person.digest_hour = hour
            session.add(person)

    def stop_digests(self, slack_user_id: str) -> None:
        with self._db.transaction() as session:
            person = people_repo.by_slack_id(session, slack_user_id)
            if person is not None:
                person.digest_enabled = False
                session.add(person)

    def pause_digests(self, slack_user_id: str) -> date:
        """No digest for two weeks; the day they resume."""
        with self._db.transaction() as session:
            person = people_repo.by_slack_id(session, slack_user_id)
            if person is None:
                raise NotAllowed("Brickwork has nothing stored about you.")
            until = local_date(self._clock(), person.tz) + timedelta(days=DIGEST_PAUSE_DAYS)
            person.digest_paused_until = until
            session.add(person)
            return until


def digest_week(slot: datetime, tz: str) -> str:
    """The ISO week a digest belongs to, in the person's zone: "2026-W49"."""
    return _iso_week(local_date(slot, tz))


def _iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def digest_slot(
    now: datetime, tz: str, working: WorkingDays, *, weekday: int = DIGEST_WEEKDAY, hour: int = DIGEST_AT.hour
) -> datetime:
    """When this week's digest is due for someone in ``tz``: ``hour`` o'clock their time on the
    week's ``weekday`` (Monday: 0), or the first working day after it within the week."""
    today = local_date(now, tz)
    monday = today - timedelta(days=today.weekday())
    day = working.on_or_after(monday + timedelta(days=weekday))
    if day - monday >= timedelta(days=7):  # no working day left this week: the day chosen
        day = monday + timedelta(days=weekday)
    return local_to_utc(day, time(hour, 0), tz)


def digest_time(person: Schedule) -> tuple[int, int]:
    """The day (0 Monday … 6 Sunday) and hour of the person's digest: theirs, or the default."""
    weekday = DIGEST_WEEKDAY if person.digest_weekday is None else person.digest_weekday
    return weekday, DIGEST_AT.hour if person.digest_hour is None else person.digest_hour


def _spread_order(person_id: int) -> int:
    """A person's place when a slot is spread: fixed, and not the order people joined in."""
    return (person_id * 2_654_435_761) % 2**32


class Schedule(Protocol):
    """What decides when someone's digest is due (a person, or a digest candidate)."""

    @property
    def tz(self) -> str: ...
    @property
    def paused_until(self) -> date | None: ...
    @property
    def digest_paused_until(self) -> date | None: ...
    @property
    def digest_weekday(self) -> int | None: ...
    @property
    def digest_hour(self) -> int | None: ...


@dataclass(frozen=True)
class DigestCard:
    """What the weekly digest says to ``growth.subject`` (always the person themself)."""

    growth: GrowthCard
    week: str
    new_feedback: int  # items readers could first see in the last seven days
    waiting: int  # feedback requests waiting for their answer
    new_requests: int  # of which came in the last seven days
    thing_to_try: tuple[str, str, str] | None  # (KPI key, its label, one thing to try this week)
    learning: tuple[LearningItem, ...]
    last_step: StepCard | None = None  # last week's thing to try, not answered yet: ask how it went

    @property
    def news(self) -> bool:
        """Feedback or requests that came this week."""
        return self.new_feedback > 0 or self.new_requests > 0

    @property
    def anything_new(self) -> bool:
        """Worth a digest: news, or last week's thing to try to ask about (asked once: a digest
        that only asks keeps no new thing to try, so a silence ends there)."""
        return self.news or self.last_step is not None


class DigestViews(Protocol):
    def digest_message(self, card: DigestCard) -> tuple[str, list[Any]]: ...

    def digest_nudge(self, card: DigestCard) -> tuple[str, list[Any]]: ...


def _paused(person: Schedule, slot: datetime) -> bool:
    """Whether this week's digest is skipped: on vacation on the slot's day (skipped, not saved
    up), or digests paused past it. The slot's day, so the answer is the same all week."""
    day = local_date(slot, person.tz)
    if person.paused_until is not None and day <= person.paused_until:
        return True
    return person.digest_paused_until is not None and day < person.digest_paused_until
