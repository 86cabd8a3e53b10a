"""The talent review: readiness, the map and the bias report, built from the database.

``review`` reads everyone (or a manager's confirmed reports) in batches of ``BATCH`` people, a
fixed number of queries each, through the growth service's calibrated readings; ``bias`` adds
what HR sees beside the map. ``team`` is a manager's ``/growth team``, ``succession`` the
people who fit a role. Admin reads and every export are audited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.admin.audit import AuditTrail
from bot.admin.service import AdminService
from bot.analytics.calibration import Rating
from bot.analytics.readings import PersonReading
from bot.errors import NotFound
from bot.feedback.note_quality import personality_word
from bot.framework import Framework
from bot.growth.service import WINDOW_DAYS, GrowthService, StepCard
from bot.people.directory import PeopleService, PersonRef
from bot.talent.bias import RaterHabit, TeamKinds, WordShare, kinds_by_team, personality_shares, rater_habits
from bot.talent.readiness import (
    Category,
    DimensionLevel,
    Placement,
    Readiness,
    Sources,
    dimension_level,
    placement,
    readiness,
    sources_of,
)
from bot.talent.rules import Role, TalentRules
from storage.db import Database
from storage.models import AuditAction, AuditOutcome, Person, id_of
from storage.repositories import growth as growth_repo
from storage.repositories import people as people_repo

BATCH = 500


@dataclass(frozen=True)
class Subject:
    """One person in the review."""

    person: PersonRef
    manager: PersonRef | None
    reading: PersonReading
    delivery: DimensionLevel
    leadership: DimensionLevel
    sources: Sources
    readiness: Readiness
    placement: Placement | None

    @property
    def flags(self) -> tuple[str, ...]:
        """Where a reading rests on one rater or one source."""
        flags = [f"{d.name} rests on one rater" for d in (self.delivery, self.leadership) if d.raters == 1]
        if self.sources.count == 1:
            flags.append(f"all from {self.sources.shown()}")
        return tuple(flags)


@dataclass(frozen=True)
class BiasReport:
    habits: tuple[tuple[PersonRef, RaterHabit], ...]
    teams: tuple[tuple[PersonRef, TeamKinds], ...]  # by manager
    words: tuple[tuple[PersonRef | None, WordShare], ...]  # by manager (None: no manager)


@dataclass(frozen=True)
class TalentReview:
    at: datetime
    rules: TalentRules
    framework: Framework
    subjects: tuple[Subject, ...]
    bias: BiasReport | None = None

    def counts(self) -> dict[tuple[int, int], int]:
        counts: dict[tuple[int, int], int] = {}
        for s in self.subjects:
            if s.placement is not None:
                counts[s.placement.cell] = counts.get(s.placement.cell, 0) + 1
        return counts


@dataclass(frozen=True)
class TeamMember:
    subject: Subject
    step: StepCard | None  # the last thing to try, and how it went
    waiting: int  # feedback requests waiting for their answer


@dataclass(frozen=True)
class TeamReview:
    manager: PersonRef
    review: TalentReview
    members: tuple[TeamMember, ...]


@dataclass(frozen=True)
class Candidate:
    subject: Subject
    gaps: tuple[tuple[str, float | None], ...]  # the role's KPIs below its level (None: not read)


@dataclass(frozen=True)
class Succession:
    role: Role
    candidates: tuple[Candidate, ...]  # the best fit first
    considered: int


class TalentService:
    def __init__(
        self,
        *,
        db: Database,
        growth: GrowthService,
        people: PeopleService,
        admin: AdminService,
        audit: AuditTrail,
        framework: Framework,
        rules: TalentRules,
        clock: Callable[[], datetime],
    ) -> None:
        self._db, self._growth, self._people, self._admin, self._audit = db, growth, people, admin, audit
        self._framework, self._rules, self._clock = framework, rules, clock

    @property
    def rules(self) -> TalentRules:
        return self._rules

    # -- building ---------------------------------------------------------------------------

    def review(self, *, manager_id: int | None = None, with_bias: bool = False) -> TalentReview:
        """Everyone active, or ``manager_id``'s confirmed reports; ``with_bias``: and the bias
        report (for HR)."""
        now = self._clock()
        since = now - timedelta(days=WINDOW_DAYS)
        delivery = [k.key for k in self._framework.delivery]
        leadership = [k.key for k in self._framework.leadership]
        subjects: list[Subject] = []
        ratings_seen: list[Rating] = []
        with self._db.transaction() as session:
            people = people_repo.reviewable(session, manager_id=manager_id)
            managers = people_repo.by_ids(session, {p.manager_id for p in people if p.manager_id is not None})
            for start in range(0, len(people), BATCH):
                batch = people[start : start + BATCH]
                ids = [id_of(p) for p in batch]
                calibration, read = self._growth.evidence(session, ids, now)
                sources = growth_repo.feedback_sources(session, ids, since=since)
                for person in batch:
                    reading, ratings = read[id_of(person)]
                    d = dimension_level("delivery", delivery, ratings, calibration, reading, self._rules)
                    lead = dimension_level(
                        "leadership", leadership, ratings, calibration, reading, self._rules
                    )
                    n = sources_of(sources.get(id_of(person), []))
                    manager = managers.get(person.manager_id) if person.manager_id is not None else None
                    subjects.append(
                        Subject(
                            person=PersonRef.of(person),
                            manager=PersonRef.of(manager) if manager is not None else None,
                            reading=reading,
                            delivery=d,
                            leadership=lead,
                            sources=n,
                            readiness=readiness(d, lead, n, self._rules),
                            placement=placement(d, lead, self._rules),
                        )
                    )
                    if with_bias:
                        ratings_seen.extend(ratings)
            bias = self._bias(session, people, managers, ratings_seen, now) if with_bias else None
        return TalentReview(now, self._rules, self._framework, tuple(subjects), bias)

    def _bias(
        self,
        session: Session,
        people: Sequence[Person],
        managers: dict[int, Person],
        ratings: list[Rating],
        now: datetime,
    ) -> BiasReport:
        since = now - timedelta(days=WINDOW_DAYS)
        team_of = {id_of(p): p.manager_id for p in people if p.manager_id is not None}
        named = self._growth.named_calibration(session, now)
        habits = rater_habits(named)
        raters = people_repo.by_ids(session, [int(h.rater) for h in habits])  # type: ignore[call-overload]
        notes = []
        ids = [id_of(p) for p in people]
        for start in range(0, len(ids), BATCH):
            for subject, note in growth_repo.visible_notes(session, ids[start : start + BATCH], since=since):
                notes.append((team_of.get(subject), personality_word(note)))
        ref = {pid: PersonRef.of(p) for pid, p in managers.items()}
        return BiasReport(
            habits=tuple((PersonRef.of(raters[int(h.rater)]), h) for h in habits if int(h.rater) in raters),  # type: ignore[call-overload]
            teams=tuple((ref[int(t.team)], t) for t in kinds_by_team(ratings, team_of) if int(t.team) in ref),  # type: ignore[call-overload]
            words=tuple(
                (ref.get(int(w.group)) if w.group is not None else None, w) for w in personality_shares(notes)
            ),  # type: ignore[call-overload]
        )

    # -- who reads what ----------------------------------------------------------------------

    def team(self, manager_slack_id: str) -> TeamReview:
        """``/growth team``: the manager's confirmed reports (nobody else), with their last thing
        to try and the requests waiting for them."""
        me = self._people.known(manager_slack_id)
        review = self.review(manager_id=id_of(me))
        if not review.subjects:
            raise NotFound(
                "Nobody has confirmed you as their manager yet. Add your team on the App Home: each "
                "person confirms, then appears here."
            )
        ids = [s.person.person_id for s in review.subjects]
        with self._db.transaction() as session:
            waiting = growth_repo.requests_waiting(session, ids, since=review.at)
            steps = {pid: growth_repo.recent_steps(session, pid, limit=1) for pid in ids}
            shared = {pid for pid in ids if self._growth.coaches(session, manager_slack_id, pid)}
        members = tuple(
            TeamMember(
                subject=s,
                # The thing to try is the person's own; their manager sees it once coaching is shared.
                step=self._growth.step_card(steps[s.person.person_id][0])
                if steps[s.person.person_id] and s.person.person_id in shared
                else None,
                waiting=waiting.get(s.person.person_id, (0, 0))[0],
            )
            for s in review.subjects
        )
        return TeamReview(PersonRef.of(me), review, members)

    def hr_review(self, actor: str, *, via: str) -> TalentReview:
        """Everyone, with the bias report: admins only, refused and done alike audited."""
        self._admin.authorize(actor, AuditAction.EXPORT_TALENT_REVIEW, via)
        review = self.review(with_bias=True)
        self._audit.record(
            actor=actor,
            action=AuditAction.EXPORT_TALENT_REVIEW,
            target=via,
            outcome=AuditOutcome.DONE,
            detail=f"scope: everyone; {len(review.subjects)} people",
        )
        return review

    def export(self, operator: str, *, destination: str) -> TalentReview:
        """``brickwork export talent-review``: the operator at the machine is trusted (they hold
        the database); the export is recorded all the same."""
        review = self.review(with_bias=True)
        self._audit.record(
            actor=operator,
            action=AuditAction.EXPORT_TALENT_REVIEW,
            target=destination,
            outcome=AuditOutcome.DONE,
            detail=f"scope: everyone; {len(review.subjects)} people; from the command line",
        )
        return review

    def succession(self, actor: str, role_name: str) -> Succession:
        """The people whose readiness and evidence fit ``role_name`` (admins only, audited)."""
        self._admin.authorize(actor, AuditAction.VIEW_SUCCESSION, role_name[:40])
        role = self._rules.role(role_name)
        if role is None:
            known = ", ".join(f"`{r.name}`" for r in self._rules.roles) or "none yet"
            self._audit.record(
                actor=actor,
                action=AuditAction.VIEW_SUCCESSION,
                target=role_name[:40],
                outcome=AuditOutcome.FAILED,
            )
            raise NotFound(f"No role is called that. Roles in the talent rules: {known}.")
        review = self.review()
        candidates = []
        for subject in review.subjects:
            if subject.readiness.category in (Category.READY_NOW, Category.READY_WITH_DEVELOPMENT):
                levels = {k: _level(subject.reading, k) for k in role.kpis}
                gaps = tuple((k, v) for k, v in levels.items() if v is None or v < role.level)
                candidates.append((Candidate(subject, gaps), sum(v or 0.0 for v in levels.values())))
        ready_now_first = {Category.READY_NOW: 0, Category.READY_WITH_DEVELOPMENT: 1}
        candidates.sort(
            key=lambda c: (
                len(c[0].gaps),
                ready_now_first[c[0].subject.readiness.category],
                -round(c[1], 9),
                c[0].subject.person.name,
            )
        )
        self._audit.record(
            actor=actor,
            action=AuditAction.VIEW_SUCCESSION,
            target=role.name[:40],
            outcome=AuditOutcome.DONE,
            detail=f"{len(candidates)} of {len(review.subjects)} people fit",
        )
        return Succession(role, tuple(c for c, _ in candidates), len(review.subjects))


def _level(reading: PersonReading, kpi: str) -> float | None:
    read = reading.kpi(kpi)
    return read.calibrated if read is not None else None
