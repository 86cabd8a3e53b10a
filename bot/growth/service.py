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

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.analytics.calibration import Calibration, RaterKind, Rating
from bot.analytics.readings import PersonReading, read_person
from bot.coaching.catalog import Catalog, LearningItem
from bot.coaching.coaches import first_step
from bot.errors import NotAllowed
from bot.feedback.answers import Answers, validate_answers
from bot.feedback.reading import FeedbackReading
from bot.framework import Framework
from bot.outbox import Outbox, Rendered
from bot.people.access import PersonFacts, authorize
from bot.people.directory import PeopleService, PersonRef
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
from storage.repositories import people as people_repo
from storage.repositories import projects as projects_repo

WINDOW_DAYS = 182  # two quarters: long enough for a trend and a calibration, short enough to be now
KINDS = {
    Relation.MANAGER: RaterKind.MANAGER,
    Relation.REPORT: RaterKind.REPORT,
    Relation.PEER: RaterKind.PEER,
}


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
        self._fitted: tuple[object, Calibration] | None = None
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
        since = now - timedelta(days=WINDOW_DAYS)
        with self._db.transaction() as session:
            calibration = self._calibration(session, since)
            rows = growth_repo.visible_ratings(session, since=since, subject_ids=[id_of(person)])
            selves = growth_repo.latest_self_scores(session, [id_of(person)]).get(id_of(person), {})
        ratings = self._ratings(rows)
        ratings += [
            Rating(id_of(person), id_of(person), kpi, self._scaled(kpi, score), at, RaterKind.SELF)
            for kpi, (score, at) in selves.items()
            if self._known(kpi)
        ]
        for_self = subject_id == reader
        steps: tuple[StepCard, ...] = ()
        with self._db.transaction() as session:
            # The things to try and how they went: the person's own, and shown to a manager
            # who has shared coaching with them (the loop their coaching started).
            if for_self or self._coaches(session, reader, id_of(person)):
                steps = tuple(self._step_card(s) for s in growth_repo.recent_steps(session, id_of(person)))
        reading = read_person([k.key for k in self._framework.kpis], ratings, calibration, now)
        if not for_self:  # self-ratings are the person's own: not even in the card
            hidden = tuple(replace(k, self_score=None) for k in reading.kpis)
            reading = PersonReading(hidden, reading.growth_areas, reading.strengths, (), ())
        return GrowthCard(
            subject=PersonRef.of(person),
            for_self=for_self,
            reading=reading,
            framework=self._framework,
            self_assessed_at=max((at for _, at in selves.values()), default=None),
            now=now,
            steps=steps,
        )

    @staticmethod
    def _coaches(session: Session, reader: str, subject_id: int) -> bool:
        """Whether ``reader`` has shared coaching with the person."""
        me = people_repo.by_slack_id(session, reader)
        shared = org_repo.coaching_shared_with(session, subject_id=subject_id)
        return me is not None and any(d.requested_by_id == me.id for d in shared)

    def _step_card(self, step: GrowthStep) -> StepCard:
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
            return self._step_card(step)

    def _calibration(self, session: Session, since: datetime) -> Calibration:
        """Fitted over everyone's visible ratings; fitted again only when they changed."""
        mark = (growth_repo.visible_ratings_mark(session), since.date())
        with self._lock:
            if self._fitted is not None and self._fitted[0] == mark:
                return self._fitted[1]
        calibration = Calibration(self._ratings(growth_repo.visible_ratings(session, since=since)))
        with self._lock:
            self._fitted = (mark, calibration)
        return calibration

    def _ratings(self, rows: Sequence[growth_repo.RatingRow]) -> list[Rating]:
        return [
            Rating(
                r.giver_id,
                r.subject_id,
                r.kpi,
                self._scaled(r.kpi, r.score),
                r.at,
                RaterKind.ANONYMOUS if r.anonymous else KINDS.get(r.relation, RaterKind.PEER),
                # Counted once per release batch, apart from their named ratings: a count can
                # then never show that a named rater also answered anonymously.
                counted_as=("anonymous", r.at, r.giver_id) if r.anonymous else None,
            )
            for r in rows
            if self._known(r.kpi)
        ]

    def _known(self, kpi: str) -> bool:
        return any(k.key == kpi for k in self._framework.kpis)

    def _scaled(self, kpi: str, score: int) -> float:
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
        return self._digest_card(person.slack_user_id, now or self._clock())

    def _digest_card(self, slack_user_id: str, now: datetime) -> DigestCard:
        growth = self.card(slack_user_id)
        person_id = growth.subject.person_id
        with self._db.transaction() as session:
            new = growth_repo.newly_visible(session, person_id, since=now - timedelta(days=7))
            waiting = growth_repo.requests_waiting(session, person_id)
            new_requests = growth_repo.requests_waiting(session, person_id, since=now - timedelta(days=7))
        labels = {k.key: k.label for k in self._framework.kpis}
        areas = growth.reading.growth_areas[:DIGEST_AREAS]
        thing = (
            (areas[0].kpi, labels[areas[0].kpi], first_step(self._framework.kpi(areas[0].kpi)))
            if areas
            else None
        )
        learning: tuple[LearningItem, ...] = ()
        if self._catalog is not None and areas:
            seen: dict[str, LearningItem] = {}
            for area in areas:
                for item in self._catalog.for_kpi(area.kpi):
                    seen.setdefault(item.id, item)
            learning = tuple(seen.values())[:DIGEST_LEARNING]
        tz = self._people.known(slack_user_id).tz
        week = digest_week(digest_slot(now, tz, self._working), tz)
        with self._db.transaction() as session:
            previous = growth_repo.latest_step(session, person_id, before_week=week)
            last = self._step_card(previous) if previous is not None else None
        if last is not None and last.week != digest_week(
            local_to_utc(local_date(now, tz) - timedelta(days=7), DIGEST_AT, tz), tz
        ):
            last = None  # asked about the week before only
        return DigestCard(
            growth=growth,
            week=week,
            new_feedback=new,
            waiting=waiting,
            new_requests=new_requests,
            thing_to_try=thing,
            learning=learning,
            last_step=last if last is not None and last.outcome is None else None,
        )

    def enqueue_digests(self, now: datetime) -> int:
        """Put this week's digest in the outbox for everyone whose slot has come, once per
        person and week (the outbox key), unless digests are off or paused for them. The
        outbox sends each exactly once; what it says is decided when it is sent."""
        added = 0
        with self._db.transaction() as session:
            queued = growth_repo.digest_keys_since(session, now - timedelta(days=8))
            for person in growth_repo.digest_candidates(session):
                slot = digest_slot(now, person.tz, self._working)
                if now < slot:
                    continue
                if _paused(person, slot):
                    continue
                key = f"{id_of(person)}:{digest_week(slot, person.tz)}"
                if f"{MessageKind.GROWTH_DIGEST.value}:{key}" in queued:
                    continue
                Outbox.enqueue(
                    session,
                    kind=MessageKind.GROWTH_DIGEST,
                    key=key,
                    recipient_id=id_of(person),
                    due_at=slot,
                    ref_id=id_of(person),
                )
                added += 1
        return added

    def _render_digest(self, session: Session, message: OutboxMessage) -> Rendered | None:
        assert self._views is not None and message.ref_id is not None
        person = people_repo.get(session, message.ref_id)
        if (
            person is None
            or not person.digest_enabled
            or person.left_programme_at is not None
            or _paused(person, message.due_at)
        ):
            return None  # turned off, paused (or gone) since it was due
        # The week and its news are those of the slot the message was due at.
        card = self._digest_card(person.slack_user_id, message.due_at)
        if card.anything_new:
            if card.thing_to_try is not None and card.news:  # kept: next week's digest asks how it went
                kpi, _, text = card.thing_to_try
                growth_repo.record_step(
                    session, person_id=id_of(person), week=card.week, kpi=kpi, text=text, at=self._clock()
                )
            return Rendered(*self._views.digest_message(card))
        # Nothing new: nothing, but for a short nudge to ask for feedback, once a month, when a
        # whole month brought none.
        quiet = (
            growth_repo.newly_visible(session, id_of(person), since=message.due_at - timedelta(days=30)) == 0
        )
        if quiet and local_date(message.due_at, person.tz).day <= 7:
            return Rendered(*self._views.digest_nudge(card))
        return None

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

DIGEST_WEEKDAY = 0  # Monday (moved to the next working day when Monday is not one)
DIGEST_AT = time(9, 0)  # in the person's own zone
DIGEST_PAUSE_DAYS = 14
DIGEST_AREAS = 3
DIGEST_LEARNING = 2


def digest_week(slot: datetime, tz: str) -> str:
    """The ISO week a digest belongs to, in the person's zone: "2026-W49"."""
    year, week, _ = local_date(slot, tz).isocalendar()
    return f"{year}-W{week:02d}"


def digest_slot(now: datetime, tz: str, working: WorkingDays) -> datetime:
    """When this week's digest is due for someone in ``tz``: 09:00 their time on the week's
    Monday, or the first working day after it within the week."""
    today = local_date(now, tz)
    monday = today - timedelta(days=today.weekday())
    day = working.on_or_after(monday + timedelta(days=DIGEST_WEEKDAY))
    if day - monday >= timedelta(days=7):  # no working day this week: Monday after all
        day = monday
    return local_to_utc(day, DIGEST_AT, tz)


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


def _paused(person: Person, slot: datetime) -> bool:
    """Whether this week's digest is skipped: on vacation on the slot's day (skipped, not saved
    up), or digests paused past it. The slot's day, so the answer is the same all week."""
    day = local_date(slot, person.tz)
    if person.paused_until is not None and day <= person.paused_until:
        return True
    return person.digest_paused_until is not None and day < person.digest_paused_until
