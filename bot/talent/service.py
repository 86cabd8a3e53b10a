"""The talent review: readiness, the map and the bias report, built from the database.

``review`` reads everyone (or a manager's confirmed reports) in batches of ``BATCH`` people, a
fixed number of queries each, through the growth service's calibrated readings; ``bias`` adds
what HR sees beside the map. ``team`` is a manager's ``/growth team``, ``succession`` the
people who fit a role. Admin reads and every export are audited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlmodel import Session

from bot.admin.audit import AuditTrail
from bot.admin.service import AdminService
from bot.analytics.calibration import Calibration, FloatArray, RaterKind
from bot.analytics.readings import RECENT_WEEKS, GrowthArea
from bot.errors import NotFound
from bot.feedback.note_quality import personality_word
from bot.framework import Dimension, Framework, Kpi
from bot.growth.service import WINDOW_DAYS, GrowthService, StepCard
from bot.people.directory import PeopleService, PersonRef
from bot.talent.bias import RaterHabit, WordShare, personality_shares, rater_habits
from bot.talent.evidence import (
    Cells,
    KpiFigures,
    Periods,
    PersonFigures,
    TeamKinds,
    kinds_by_team,
    person_figures,
    rating_sums,
    trends,
)
from bot.talent.readiness import (
    Category,
    DimensionLevel,
    Placement,
    Readiness,
    Sources,
    placement,
    readiness,
    sources_of,
)
from bot.talent.rules import Role, TalentRules
from storage.db import Database
from storage.models import AuditAction, AuditOutcome, Person, id_of
from storage.repositories import growth as growth_repo
from storage.repositories import people as people_repo


@dataclass(frozen=True)
class Subject:
    """One person in the review."""

    person: PersonRef
    manager: PersonRef | None
    kpis: dict[str, KpiFigures]
    kinds: tuple[tuple[RaterKind, int], ...]  # distinct raters by kind (anonymous: once per batch)
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
    top_area: GrowthArea | None
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
        report (for HR). A fixed number of queries, whatever the number of people."""
        now = self._clock()
        since = now - timedelta(days=WINDOW_DAYS)
        kpis = self._framework.kpis
        with self._db.transaction() as session, ThreadPoolExecutor(1, "brickwork-talent") as other:
            people = people_repo.reviewable(session, manager_id=manager_id)
            managers = people_repo.by_ids(session, {p.manager_id for p in people if p.manager_id is not None})
            scope = [id_of(p) for p in people] if manager_id is not None else None
            # The two scans of the ratings at once, each in its own transaction: the database
            # works on both while Python waits (a trend is read from a moment's later state at
            # most).
            periods = other.submit(self._periods, now, scope)
            cells = self._cells(session, since, now, scope)
            figures = person_figures(
                cells.cells,
                cells.leniency,
                [k.key for k in kpis],
                [k.dimension is Dimension.LEADERSHIP for k in kpis],
                self._rules,
                trends(periods.result(), cells.leniency),
            )
            sources = growth_repo.feedback_sources(session, scope, since=since)
            none = _nothing(kpis)
            subjects = []
            for person in people:
                mine = figures.get(id_of(person), none)
                n = sources_of(sources.get(id_of(person), []))
                manager = managers.get(person.manager_id) if person.manager_id is not None else None
                subjects.append(
                    Subject(
                        person=PersonRef.of(person),
                        manager=PersonRef.of(manager) if manager is not None else None,
                        kpis=mine.kpis,
                        kinds=mine.kinds,
                        delivery=mine.delivery,
                        leadership=mine.leadership,
                        sources=n,
                        readiness=readiness(mine.delivery, mine.leadership, n, self._rules),
                        placement=placement(mine.delivery, mine.leadership, self._rules),
                    )
                )
            bias = self._bias(session, people, managers, cells, now) if with_bias else None
        return TalentReview(now, self._rules, self._framework, tuple(subjects), bias)

    def _cells(self, session: Session, since: datetime, now: datetime, scope: list[int] | None) -> _Cells:
        """The rows of ``rater_cells`` as arrays on the 1-5 scale, each rater's leniency fitted over
        them, and the fit over named ratings alone (rater habits): one pass over the ratings."""
        scales = self._growth.scales
        names = tuple(scales)
        codes = {k: i for i, k in enumerate(names)}
        kinds = {"manager": 0, "peer": 1, "report": 2}
        columns: list[list[np.ndarray]] = [[] for _ in range(8)]
        for chunk in growth_repo.rater_cells(session, since=since, now=now, subject_ids=scope):
            # Column by column, as plain tuples: numpy reading SQLAlchemy's rows one by one is slow.
            giver, subject, kpi_name, relation, anonymous_, batch_, count, total, square = zip(
                *chunk, strict=True
            )
            kpi = np.fromiter((codes.get(k, -1) for k in kpi_name), np.int32, len(kpi_name))
            kind = np.fromiter((kinds.get(r, 1) for r in relation), np.int32, len(relation))
            kind[np.asarray(anonymous_, dtype=bool)] = 3
            known = kpi >= 0  # a KPI the framework no longer has is left out
            for column, values in zip(
                columns,
                (
                    np.asarray(giver, dtype=np.int32)[known],  # ids and counts: int32 halves the memory
                    np.asarray(subject, dtype=np.int32)[known],
                    kpi[known],
                    kind[known],
                    np.fromiter((b or 0.0 for b in batch_), np.float64, len(batch_))[known],
                    np.asarray(count, dtype=np.int32)[known],
                    np.asarray(total, dtype=np.float64)[known],
                    np.asarray(square, dtype=np.float64)[known],
                ),
                strict=True,
            ):
                column.append(values)
        dtypes = (np.int32, np.int32, np.int32, np.int32, np.float64, np.int32, np.float64, np.float64)
        raters, subjects, kpi, kind, batch, counts, total, squares = (
            np.concatenate(c) if c else np.zeros(0, dtype=t) for c, t in zip(columns, dtypes, strict=True)
        )
        del columns
        # On the 1-5 scale, in place: a * score + b, so squares a^2 sq + 2ab total + b^2 n.
        a = np.asarray([scales[k][0] for k in names])[kpi]
        b = np.asarray([scales[k][1] for k in names])[kpi]
        squares *= a * a
        squares += 2 * a * b * total
        squares += b * b * counts
        total *= a
        total += b * counts
        del a, b
        # An anonymous rater counts once per batch, never merged with their named ratings.
        anonymous = kind == 3
        counters = raters.copy()
        if anonymous.any():
            _, batch_of = np.unique(
                np.stack([raters[anonymous], batch[anonymous]]), axis=1, return_inverse=True
            )
            counters[anonymous] = int(raters.max()) + 1 + batch_of.ravel()
        cells = Cells(
            subjects=subjects,
            raters=raters,
            counters=counters,
            kpis=kpi,
            kinds=kind,
            counts=counts,
            totals=total,
            squares=squares,
        )
        # Fitted over named ratings, as the growth analytics fit theirs; anonymous ones are read
        # as given (``person_figures``), so no figure depends on who gave them.
        named = Calibration.from_sums(rating_sums(cells, names))
        leniency = np.zeros(int(raters.max()) + 1 if len(raters) else 1)
        for rater in np.unique(raters).tolist():
            leniency[rater] = named.leniency_of(rater)
        return _Cells(cells, leniency, named)

    def _periods(self, now: datetime, scope: list[int] | None) -> Periods:
        """The last ``2 * RECENT_WEEKS`` weeks per rater, person, dimension and period, as arrays
        (in a transaction of its own: it runs beside ``_cells``)."""
        columns: list[list[np.ndarray]] = [[] for _ in range(7)]
        with self._db.transaction() as session:
            rows = growth_repo.rater_periods(
                session, now=now, weeks=RECENT_WEEKS, scales=self._growth.scales, subject_ids=scope
            )
            for chunk in rows:
                giver, subject, dimension, anonymous, period, count, total = zip(*chunk, strict=True)
                leadership = (d == Dimension.LEADERSHIP.value for d in dimension)
                for column, values in zip(
                    columns,
                    (
                        np.asarray(subject, dtype=np.int32),
                        np.asarray(giver, dtype=np.int32),
                        np.asarray(anonymous, dtype=np.int32),
                        np.fromiter(leadership, np.int32, len(dimension)),
                        np.asarray(period, dtype=np.int32),
                        np.asarray(count, dtype=np.int32),
                        np.asarray(total, dtype=np.float64),
                    ),
                    strict=True,
                ):
                    column.append(values)
        dtypes = (np.int32, np.int32, np.int32, np.int32, np.int32, np.int32, np.float64)
        return Periods(
            *(np.concatenate(c) if c else np.zeros(0, dtype=t) for c, t in zip(columns, dtypes, strict=True))
        )

    def _bias(
        self,
        session: Session,
        people: Sequence[Person],
        managers: dict[int, Person],
        cells: _Cells,
        now: datetime,
    ) -> BiasReport:
        since = now - timedelta(days=WINDOW_DAYS)
        team_of = {id_of(p): p.manager_id for p in people if p.manager_id is not None}
        habits = rater_habits(cells.named)
        raters = people_repo.by_ids(session, [int(h.rater) for h in habits])  # type: ignore[call-overload]
        selves = {
            person: [
                self._growth.on_scale(kpi, score)
                for kpi, (score, _) in scores.items()
                if kpi in self._growth.scales
            ]
            for person, scores in growth_repo.latest_self_scores(session, list(team_of)).items()
        }
        notes = [
            (team_of.get(subject), personality_word(note))
            for subject, note in growth_repo.visible_notes(session, None, since=since)
        ]
        ref = {pid: PersonRef.of(p) for pid, p in managers.items()}
        teams = kinds_by_team(cells.cells, team_of, selves)
        return BiasReport(
            habits=tuple((PersonRef.of(raters[int(h.rater)]), h) for h in habits if int(h.rater) in raters),  # type: ignore[call-overload]
            teams=tuple((ref[int(t.team)], t) for t in teams if int(t.team) in ref),  # type: ignore[call-overload]
            words=tuple(
                (ref.get(int(w.group)) if w.group is not None else None, w)  # type: ignore[call-overload]
                for w in personality_shares(notes)
                if w.group is None or int(w.group) in ref  # type: ignore[call-overload]
            ),
        )

    # -- who reads what ----------------------------------------------------------------------

    def team(self, manager_slack_id: str) -> TeamReview:
        """``/growth team``: the manager's confirmed reports (nobody else), with their top growth
        area, their last thing to try (once coaching is shared) and the requests waiting for them."""
        me = self._people.known(manager_slack_id)
        review = self.review(manager_id=id_of(me))
        if not review.subjects:
            raise NotFound(
                "Nobody has confirmed you as their manager yet. Add your team on the App Home: each "
                "person confirms, then appears here."
            )
        ids = [s.person.person_id for s in review.subjects]
        with self._db.transaction() as session:
            read = self._growth.readings(session, ids, review.at)
            waiting = growth_repo.requests_waiting(session, ids, since=review.at)
            steps = {pid: growth_repo.recent_steps(session, pid, limit=1) for pid in ids}
            shared = {pid for pid in ids if self._growth.coaches(session, manager_slack_id, pid)}
        members = []
        for s in review.subjects:
            pid = s.person.person_id
            areas = read[pid].growth_areas
            members.append(
                TeamMember(
                    subject=s,
                    top_area=areas[0] if areas else None,
                    # The thing to try is the person's own; their manager sees it once coaching is shared.
                    step=self._growth.step_card(steps[pid][0]) if steps[pid] and pid in shared else None,
                    waiting=waiting.get(pid, (0, 0))[0],
                )
            )
        return TeamReview(PersonRef.of(me), review, tuple(members))

    def hr_review(self, actor: str, *, via: str, deliver: Callable[[TalentReview], None]) -> TalentReview:
        """Everyone, with the bias report, handed to ``deliver``: admins only. A refusal, a
        delivery that failed and one that was done are each recorded, after the fact."""
        self._admin.authorize(actor, AuditAction.EXPORT_TALENT_REVIEW, via)
        return self._delivered(actor, via, deliver, "")

    def export(
        self, operator: str, *, destination: str, deliver: Callable[[TalentReview], None]
    ) -> TalentReview:
        """``brickwork export talent-review``: the operator at the machine is trusted (they hold
        the database); the export is recorded all the same, once written or once it failed."""
        return self._delivered(operator, destination, deliver, "; from the command line")

    def _delivered(
        self, actor: str, target: str, deliver: Callable[[TalentReview], None], how: str
    ) -> TalentReview:
        review = self.review(with_bias=True)
        scope = f"scope: everyone; {len(review.subjects)} people{how}"
        try:
            deliver(review)
        except Exception as error:
            self._audit.record(
                actor=actor,
                action=AuditAction.EXPORT_TALENT_REVIEW,
                target=target,
                outcome=AuditOutcome.FAILED,
                detail=f"{scope}; not delivered ({type(error).__name__})",
            )
            raise
        self._audit.record(
            actor=actor,
            action=AuditAction.EXPORT_TALENT_REVIEW,
            target=target,
            outcome=AuditOutcome.DONE,
            detail=scope,
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
                levels = {k: subject.kpis[k].calibrated if k in subject.kpis else None for k in role.kpis}
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


@dataclass(frozen=True)
class _Cells:
    cells: Cells
    leniency: FloatArray  # per rater id, fitted over named ratings
    named: Calibration  # the fit itself (rater habits)


def _nothing(kpis: Sequence[Kpi]) -> PersonFigures:
    """The figures of someone nobody has rated."""
    empty = {k.key: KpiFigures(None, None, 0, 0) for k in kpis}
    sides = [
        DimensionLevel(name, None, None, 0, 0, sum(1 for k in kpis if k.dimension is dimension), 0, 0)
        for name, dimension in (("delivery", Dimension.DELIVERY), ("leadership", Dimension.LEADERSHIP))
    ]
    return PersonFigures(empty, sides[0], sides[1])
