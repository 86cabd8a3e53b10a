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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.analytics.calibration import Calibration, FloatArray, RaterKind, RatingSums
from bot.analytics.readings import KINDS as KINDS_READ
from bot.analytics.readings import PersonReading, WeekSums, read_people
from bot.errors import NotAllowed
from bot.feedback.answers import Answers, validate_answers
from bot.feedback.reading import FeedbackReading
from bot.framework import Framework
from bot.people.access import PersonFacts, authorize
from bot.people.directory import PeopleService, PersonRef
from bot.remembered import Remembered
from storage.db import Database
from storage.models import (
    GrowthStep,
    Relation,
    SelfAssessment,
    StepOutcome,
    id_of,
)
from storage.repositories import growth as growth_repo
from storage.repositories import org as org_repo
from storage.repositories import people as people_repo
from storage.repositories import projects as projects_repo

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
    ) -> None:
        self._db = db
        self._people = people
        self._reading = reading
        self._framework = framework
        self._clock = clock
        self._lock = threading.Lock()
        self._fitted: _Fitted | None = None
        # person id -> (what it was read from, the reading): the Home and /growth read again
        # only after a change (the most recently used ``READINGS_KEPT``)
        self._readings: Remembered[int, tuple[PersonReading, datetime | None]] = Remembered(READINGS_KEPT)

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
            reading, self_assessed_at = self.read(session, [id_of(person)], now)[id_of(person)]
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
            return self.read(session, [id_of(person)], self._clock())[id_of(person)][0]

    def read(
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


def _check_part_of(session: Session, person_id: int, project_id: int) -> None:
    project = projects_repo.get(session, project_id)
    if project is None or (
        project.lead_id != person_id and person_id not in projects_repo.member_ids(session, project_id)
    ):
        raise NotAllowed("You can rate yourself only on projects you were part of.")
