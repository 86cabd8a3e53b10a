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
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.analytics.calibration import Calibration, RaterKind, Rating
from bot.analytics.readings import PersonReading, read_person
from bot.errors import NotAllowed
from bot.feedback.answers import Answers, validate_answers
from bot.feedback.reading import FeedbackReading
from bot.framework import Framework
from bot.people.access import PersonFacts, authorize
from bot.people.directory import PeopleService, PersonRef
from storage.db import Database
from storage.models import Relation, SelfAssessment, id_of
from storage.repositories import growth as growth_repo
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
    ) -> None:
        self._db = db
        self._people = people
        self._reading = reading
        self._framework = framework
        self._clock = clock
        self._lock = threading.Lock()
        self._fitted: tuple[object, Calibration] | None = None

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
        reading = read_person([k.key for k in self._framework.kpis], ratings, calibration, now)
        if not for_self:  # self-ratings are the person's own
            reading = PersonReading(reading.kpis, reading.growth_areas, reading.strengths, (), ())
        return GrowthCard(
            subject=PersonRef.of(person),
            for_self=for_self,
            reading=reading,
            framework=self._framework,
            self_assessed_at=max((at for _, at in selves.values()), default=None),
            now=now,
        )

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
