"""``/growth``: a person's growth now, read through the growth analytics, and their ratings of
themself.

Readings are built from the ratings readers may see (named feedback, anonymous feedback once
released in its batch), over the last ``WINDOW_DAYS``. Calibration is fitted over everyone's
ratings, once per change of them (a count and two timestamps say whether anything changed), not
per reading. Anonymous raters are counted as "anonymous", never by who they are to the person,
and their ratings are dated by their batch's release, not by when they were given.

Self-ratings are the person's own: they feed the person's blind spots and hidden strengths and
are shown to them alone (a manager's reading says they exist, not what they are).
"""

from __future__ import annotations

import functools
import threading
import time as time_module
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.analytics.calibration import Calibration, FloatArray, RaterKind, RatingSums
from bot.analytics.readings import KINDS as KINDS_READ
from bot.analytics.readings import PersonReading, WeekSums, read_people
from bot.coaching.catalog import Catalog, LearningItem
from bot.coaching.coaches import next_step, stretch_step
from bot.coaching.evidence import tried_steps
from bot.errors import InvalidInput, NotAllowed
from bot.feedback.answers import Answers, validate_answers
from bot.feedback.reading import FeedbackReading
from bot.framework import Framework
from bot.outbox import Outbox, Rendered
from bot.people.access import PersonFacts, authorize
from bot.people.directory import PeopleService, PersonRef
from bot.remembered import Remembered
from bot.timekeeping import MONDAY_TO_FRIDAY, WorkingDays, local_date, local_to_utc
from storage.db import Database
from storage.models import (
    GrowthStep,
    MessageKind,
    OutboxMessage,
    Person,
    Relation,
    SelfAssessment,
    StepOutcome,
    id_of,
)
from storage.repositories import growth as growth_repo
from storage.repositories import org as org_repo
from storage.repositories import outbox as outbox_repo
from storage.repositories import people as people_repo
from storage.repositories import projects as projects_repo

DIGEST_WEEKDAY = 0  # Monday (moved to the next working day when Monday is not one)
DIGEST_AT = time(9, 0)  # in the person's own zone
DIGEST_PAUSE_DAYS = 14
DIGEST_AREAS = 3
DIGEST_LEARNING = 2
STEPS_REMEMBERED = 12  # weeks of things to try the next one is chosen against
DIGEST_BATCH = 500  # people per batch when digests are built or enqueued
PREPARE_LIMIT = 1_000  # digests built ahead of one tick's sending (the spread sends fewer a minute)
DIGESTS_PER_MINUTE = 60  # a shared slot sends at most this many a minute (more if the hour needs it)
WEEK = timedelta(weeks=1)
QUICK_FIT_SECONDS = 1.0  # a calibration that fits faster is fitted again at every change
REFIT_AFTER = timedelta(minutes=10)  # … a slower one at most this often
READINGS_KEPT = 2_000
WINDOW_DAYS = 182  # two quarters: long enough for a trend and a calibration, short enough to be now
KINDS = {
    Relation.MANAGER: RaterKind.MANAGER,
    Relation.REPORT: RaterKind.REPORT,
    Relation.PEER: RaterKind.PEER,
}
RELATIONS = tuple(KINDS)
RELATION_KINDS = tuple(KINDS_READ.index(k) for k in KINDS.values())  # per relation, its rater kind's code
PEER_KIND = KINDS_READ.index(RaterKind.PEER)


@dataclass(frozen=True)
class GrowthCard:
    """What ``/growth`` shows about ``subject`` to the reader."""

    subject: PersonRef
    for_self: bool
    reading: PersonReading
    framework: Framework
    self_assessed_at: datetime | None  # the latest self-assessment (its scores only for_self)
    now: datetime
    steps: tuple[StepCard, ...] = ()  # the digests' latest things to try, newest first (for_self only)


@dataclass(frozen=True)
class StepCard:
    """A digest's "one thing to try", and how it went as the person said."""

    step_id: int
    week: str
    kpi_label: str
    text: str
    outcome: StepOutcome | None


@dataclass(frozen=True)
class SelfForm:
    framework: Framework
    previous: Answers | None
    project_id: int | None


@dataclass(frozen=True)
class _Fitted:
    mark: object  # what the ratings were when fitted
    calibration: Calibration
    at: float  # time.monotonic() when the fit started
    slow: bool
    number: int  # the fits so far: what a reading read with this one remembers


class GrowthService:
    def __init__(
        self,
        *,
        db: Database,
        people: PeopleService,
        reading: FeedbackReading,
        framework: Framework,
        clock: Callable[[], datetime],
        catalog: Catalog | None = None,
        outbox: Outbox | None = None,
        views: DigestViews | None = None,
        working_days: WorkingDays = MONDAY_TO_FRIDAY,
    ) -> None:
        self._db = db
        self._people = people
        self._reading = reading
        self._framework = framework
        self._clock = clock
        self._catalog = catalog
        self._views = views
        self._working = working_days
        self._lock = threading.Lock()
        self._fitted: _Fitted | None = None
        # person id -> (what it was read from, the reading): the Home and /growth read again
        # only after a change (the most recently used ``READINGS_KEPT``)
        self._readings: Remembered[int, tuple[PersonReading, datetime | None]] = Remembered(READINGS_KEPT)
        self._prepared: dict[int, DigestCard] = {}  # outbox message id -> its digest, built in a batch
        if outbox is not None:
            outbox.register(MessageKind.GROWTH_DIGEST, self._render_digest)

    # -- readings -------------------------------------------------------------------------

    def subject_for(self, reader: str, subject: str | None) -> str:
        """The Slack id whose growth ``reader`` may read: themself, or a confirmed report."""
        if subject is None or subject == reader:
            return reader
        with self._db.transaction() as session:
            me = people_repo.by_slack_id(session, reader)
            them = people_repo.by_slack_id(session, subject)
            if (
                me is None
                or them is None
                or not authorize(self._reading.viewer(session, me), PersonFacts(person_id=id_of(them))).read
            ):
                raise NotAllowed("You can read the growth of people who report to you, and your own.")
            return them.slack_user_id

    def card(self, reader: str, subject: str | None = None) -> GrowthCard:
        """``reader``'s growth, or a report's (``NotAllowed`` for anyone else)."""
        subject_id = self.subject_for(reader, subject)
        person = self._people.known(subject_id)
        now = self._clock()
        for_self = subject_id == reader
        steps: tuple[StepCard, ...] = ()
        with self._db.transaction() as session:
            reading, self_assessed_at = self._read(session, [id_of(person)], now)[id_of(person)]
            # The things to try and how they went: the person's own, and shown to a manager
            # who has shared coaching with them (the loop their coaching started).
            if for_self or self.coaches(session, reader, id_of(person)):
                steps = tuple(self.step_card(s) for s in growth_repo.recent_steps(session, id_of(person)))
        if not for_self:  # self-ratings are the person's own: not even in the card
            hidden = tuple(replace(k, self_score=None) for k in reading.kpis)
            reading = PersonReading(hidden, reading.growth_areas, reading.strengths, (), ())
        return GrowthCard(
            subject=PersonRef.of(person),
            for_self=for_self,
            reading=reading,
            framework=self._framework,
            self_assessed_at=self_assessed_at,
            now=now,
            steps=steps,
        )

    def reading(self, slack_user_id: str) -> PersonReading:
        """The person's own reading now (the App Home's summary of ``card``)."""
        person = self._people.known(slack_user_id)
        with self._db.transaction() as session:
            return self._read(session, [id_of(person)], self._clock())[id_of(person)][0]

    def _read(
        self, session: Session, person_ids: Sequence[int], now: datetime
    ) -> dict[int, tuple[PersonReading, datetime | None]]:
        """Each person's reading at ``now`` and when they last rated themself: a fixed number
        of queries for any number of people (calibration is fitted once, over everyone)."""
        since = now - timedelta(days=WINDOW_DAYS)
        fitted = self._calibration(session, since)
        calibration = fitted.calibration
        selves = growth_repo.latest_self_scores(session, person_ids)
        key: tuple[object, ...] | None = None
        if len(person_ids) == 1:  # one person (the Home, /growth): read again only after a change
            [person_id] = person_ids
            mark = growth_repo.visible_marks(session, person_ids).get(person_id)
            hour = now.replace(minute=0, second=0, microsecond=0)  # weeks are counted from ``now``
            key = (fitted.number, mark, tuple(sorted(selves.get(person_id, {}).items())), hour)
            cached = self._readings.get(person_id, key)
            if cached is not None:
                return {person_id: cached}
        read = {
            person_id: (reading, max((at for _, at in selves.get(person_id, {}).values()), default=None))
            for person_id, reading in self._read_many(session, person_ids, now, calibration, selves).items()
        }
        if key is not None:
            self._readings.put(person_ids[0], key, read[person_ids[0]])
        return read

    def _read_many(
        self,
        session: Session,
        person_ids: Sequence[int],
        now: datetime,
        calibration: Calibration,
        selves: dict[int, dict[str, tuple[int, datetime]]],
    ) -> dict[int, PersonReading]:
        """Each person's reading, from the ratings about them and their own."""
        since = now - timedelta(days=WINDOW_DAYS)
        kpis = list(self.scales)
        rows = growth_repo.visible_ratings(
            session, since=since, now=now, subject_ids=person_ids, kpis=kpis, relations=RELATIONS
        )
        own = {
            person_id: {
                k: self.on_scale(k, score)
                for k, (score, at) in scores.items()
                if self._known(k) and at <= now
            }
            for person_id, scores in selves.items()
        }
        return read_people(kpis, self._week_sums(rows, calibration, now), own, person_ids, calibration.sigma)

    def readings(
        self, session: Session, person_ids: Sequence[int], now: datetime
    ) -> dict[int, PersonReading]:
        """Several people's readings at ``now`` (a manager's team in the talent review): a fixed
        number of queries for any number of people, never cached."""
        calibration = self._calibration(session, now - timedelta(days=WINDOW_DAYS)).calibration
        selves = growth_repo.latest_self_scores(session, person_ids)
        return self._read_many(session, person_ids, now, calibration, selves)

    @staticmethod
    def coaches(session: Session, reader: str, subject_id: int) -> bool:
        """Whether ``reader`` has shared coaching with the person."""
        me = people_repo.by_slack_id(session, reader)
        shared = org_repo.coaching_shared_with(session, subject_id=subject_id)
        return me is not None and any(d.requested_by_id == me.id for d in shared)

    def step_card(self, step: GrowthStep) -> StepCard:
        label = self._framework.kpi(step.kpi).label if self._known(step.kpi) else step.kpi
        return StepCard(id_of(step), step.week, label, step.text, step.outcome)

    def answer_step(self, slack_user_id: str, step_id: int, outcome: StepOutcome) -> StepCard:
        """How the person's thing to try went, as they said (only their own; a later answer
        replaces an earlier one)."""
        with self._db.transaction() as session:
            person = people_repo.by_slack_id(session, slack_user_id)
            step = growth_repo.step(session, step_id)
            if person is None or step is None or step.person_id != person.id:
                raise NotAllowed("That suggestion is not yours to answer.")
            step.outcome, step.outcome_at = outcome, self._clock()
            session.add(step)
            session.flush()
            return self.step_card(step)

    def _calibration(self, session: Session, since: datetime) -> _Fitted:
        """Fitted over everyone's visible named ratings; fitted again when they changed — at once
        while a fit is quick, at most every ``REFIT_AFTER`` once it is not (a large company:
        leniencies move slowly, and the ratings themselves are always read fresh)."""
        started = time_module.monotonic()
        with self._lock:
            fitted = self._fitted
        if fitted is not None and fitted.slow and started - fitted.at < REFIT_AFTER.total_seconds():
            return fitted
        mark = (growth_repo.visible_ratings_mark(session), since.date())
        if fitted is not None and fitted.mark == mark:
            return fitted
        calibration = Calibration.from_sums(self._sums(session, since))
        took = time_module.monotonic() - started
        with self._lock:
            number = self._fitted.number + 1 if self._fitted is not None else 1
            self._fitted = _Fitted(mark, calibration, started, took > QUICK_FIT_SECONDS, number)
            return self._fitted

    def _sums(self, session: Session, since: datetime) -> RatingSums:
        """Everyone's visible ratings summed by rater, person and KPI by the database, on the 1-5
        scale, as arrays (a row per rater, person and KPI; none per rating)."""
        scales = self.scales
        a = np.asarray([scale[0] for scale in scales.values()], dtype=np.float64)
        b = np.asarray([scale[1] for scale in scales.values()], dtype=np.float64)
        parts = [
            chunk.astype(np.int32)  # ids, counts, sums: all small, and half the memory
            for chunk in growth_repo.rating_sums(session, since=since, kpis=list(scales))
        ]
        table = np.concatenate(parts) if parts else np.zeros((0, 6), dtype=np.int32)
        del parts
        kpi, n = table[:, 2], table[:, 3].astype(np.int64)
        total, squares = table[:, 4].astype(np.float64), table[:, 5].astype(np.float64)
        ka, kb = a[kpi], b[kpi]  # on the 1-5 scale: a * score + b
        return RatingSums(
            raters=table[:, 0].astype(np.int64),
            subjects=table[:, 1].astype(np.int64),
            kpis=kpi,
            kpi_names=tuple(scales),
            counts=n,
            sums=ka * total + kb * n,
            squares=ka * ka * squares + 2 * ka * kb * total + kb * kb * n,
        )

    def _week_sums(self, rows: FloatArray, calibration: Calibration, now: datetime) -> WeekSums:
        """The rows of ``visible_ratings`` as ``read_people`` reads them, on the 1-5 scale."""
        giver, subject, kpi, relation, anonymous, at, score = (
            rows[:, i] for i in range(len(growth_repo.VISIBLE_RATING_COLUMNS))
        )
        raters, kpis, n = giver.astype(np.int64), kpi.astype(np.int64), np.ones(len(rows), dtype=np.int64)
        anon = anonymous == 1
        kinds = np.asarray([*RELATION_KINDS, PEER_KIND])[relation.astype(np.int64)]  # -1: another, a peer
        kinds[anon] = KINDS_READ.index(RaterKind.ANONYMOUS)
        # An anonymous rater counts once per release batch, apart from their named ratings: a
        # count can then never show that a named rater also answered anonymously.
        counters = raters.copy()
        if anon.any():
            _, batch_rater = np.unique(np.column_stack((at[anon], giver[anon])), axis=0, return_inverse=True)
            counters[anon] = int(raters.max()) + 1 + batch_rater.reshape(-1)
        a, b = (np.asarray([scale[i] for scale in self.scales.values()]) for i in (0, 1))
        totals = a[kpis] * score + b[kpis]
        # An anonymous rating is read as given: taking its rater's habits out would make the
        # figure depend on who gave it.
        lenient = np.where(anon, 0.0, calibration.leniencies(raters))
        return WeekSums(
            subjects=subject.astype(np.int64),
            counters=counters,
            kinds=kinds,
            kpis=kpis,
            # (never negative: a moment the database rounded a hair past ``now`` is in week 0)
            weeks=np.maximum((now.timestamp() - at) // WEEK.total_seconds(), 0).astype(np.int64),
            counts=n,
            totals=totals,
            fair=totals - n * lenient,
        )

    @functools.cached_property
    def scales(self) -> dict[str, tuple[float, float]]:
        """Each KPI's answers on the 1-5 scale readings compare: a * score + b."""
        return {
            k.key: (k.on_five_point_scale(1) - k.on_five_point_scale(0), k.on_five_point_scale(0))
            for k in self._framework.kpis
        }

    def _known(self, kpi: str) -> bool:
        return any(k.key == kpi for k in self._framework.kpis)

    def on_scale(self, kpi: str, score: int) -> float:
        return float(self._framework.kpi(kpi).on_five_point_scale(score))

    # -- self-assessments --------------------------------------------------------------------

    def self_form(self, slack_user_id: str, project_id: int | None = None) -> SelfForm:
        """The self-assessment form, filled in with the person's latest answers (for a project,
        their answer for it, which saving replaces)."""
        person = self._people.known(slack_user_id)
        with self._db.transaction() as session:
            if project_id is not None:  # a button's value is the sender's to forge
                _check_part_of(session, id_of(person), project_id)
            history = growth_repo.self_assessments(session, id_of(person))
        if project_id is not None:
            history = [(a, s) for a, s in history if a.project_id == project_id]
        if not history:
            return SelfForm(self._framework, None, project_id)
        assessment, scores = history[-1]
        previous = Answers(
            scores={k: v for k, v in scores.items() if self._known(k)},
            delivery_note=assessment.delivery_note,
            strengths_note=assessment.strengths_note,
            growth_note=assessment.growth_note,
        )
        return SelfForm(self._framework, previous, project_id)

    def save_self(
        self, slack_user_id: str, answers: Answers, *, view_id: str, project_id: int | None = None
    ) -> None:
        """Store a self-assessment (``InvalidInput`` names the fields to fix). A second
        submission of the same form, or a retry, stores nothing more."""
        answers = validate_answers(self._framework, answers)
        person = self._people.known(slack_user_id)
        if person.is_bot or person.deleted:
            raise NotAllowed("Brickwork is for active people: this account is a bot or deactivated.")
        if person.left_programme_at is not None:
            raise NotAllowed("You left the feedback programme, so Brickwork keeps nothing new from you.")
        for attempt in (1, 2):
            try:
                self._store_self(id_of(person), answers, view_id, project_id)
                return
            except IntegrityError:  # a double click raced us to the insert; the retry updates
                if attempt == 2:
                    raise

    def _store_self(self, person_id: int, answers: Answers, view_id: str, project_id: int | None) -> None:
        now = self._clock()
        with self._db.transaction() as session:
            if project_id is not None:  # the form's metadata is the sender's to forge
                _check_part_of(session, person_id, project_id)
            assessment = growth_repo.self_assessment_by_view(session, view_id)
            if assessment is not None and assessment.person_id != person_id:
                raise NotAllowed("That form is not yours.")
            if assessment is None and project_id is not None:
                assessment = growth_repo.self_assessment_for_project(session, person_id, project_id)
            if assessment is None:
                assessment = SelfAssessment(
                    person_id=person_id, project_id=project_id, framework_version=self._framework.version
                )
            assessment.source_view_id = view_id
            assessment.delivery_note = answers.delivery_note
            assessment.strengths_note = answers.strengths_note
            assessment.growth_note = answers.growth_note
            assessment.framework_version = self._framework.version
            assessment.updated_at = now
            scores = {k.key: (k.dimension.value, answers.scores.get(k.key)) for k in self._framework.kpis}
            growth_repo.save_self_assessment(session, assessment, scores)

    # -- the weekly digest ------------------------------------------------------------------

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
        read = self._read(session, ids, max(now, read_at or now))
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
                        self.step_card(previous)
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


def _check_part_of(session: Session, person_id: int, project_id: int) -> None:
    project = projects_repo.get(session, project_id)
    if project is None or (
        project.lead_id != person_id and person_id not in projects_repo.member_ids(session, project_id)
    ):
        raise NotAllowed("You can rate yourself only on projects you were part of.")


# -- the weekly digest ------------------------------------------------------------------------


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
