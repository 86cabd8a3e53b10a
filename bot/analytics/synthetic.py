"""A company whose truth is known: people with true levels on each KPI, raters with known habits.

Used by the tests (calibration must recover the truth better than raw averages, and find the
raters planted as lenient or severe), by ``bench/`` and by the demo. Sparse like real feedback:
each person is rated by a few colleagues, not by everyone, and scores are whole numbers on the
1-5 form.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from bot.analytics.calibration import RaterKind, Rating

KPIS = (  # the keys of the default framework (bot/data/framework.toml)
    "target",
    "quality",
    "timeliness",
    "inspires",
    "decides",
    "innovates",
    "collaborates",
    "delegates",
    "motivates",
)
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Company:
    people: tuple[str, ...]
    kpis: tuple[str, ...]
    true_levels: dict[tuple[str, str], float]  # (person, kpi) -> the truth, 1-5
    true_leniency: dict[str, float]  # rater -> what they add to every rating they give
    lenient: frozenset[str]  # planted: rate a point high
    severe: frozenset[str]  # planted: rate a point low
    ratings: tuple[Rating, ...]
    now: datetime


def company(
    *,
    people: int = 20,
    raters_per_person: tuple[int, int] = (3, 8),
    lenient: int = 2,
    severe: int = 2,
    planted_by: float = 1.0,
    noise: float = 0.5,
    occasions: tuple[int, int] = (1, 2),
    kpis: Sequence[str] = KPIS,
    seed: int = 0,
    now: datetime = NOW,
) -> Company:
    """``people`` colleagues, each rated by ``raters_per_person`` (a range) of the others, on
    every KPI, on 1-2 occasions over the last 16 weeks. Raters planted ``lenient`` add
    ``planted_by`` to every rating, ``severe`` ones take it off, the rest add a little noise of
    their own (sd 0.15). A rating is the true level plus the rater's leniency plus noise
    (sd ``noise``), rounded to a whole number on 1-5."""
    rng = random.Random(seed)
    names = tuple(f"P{i:03d}" for i in range(people))
    planted = rng.sample(names, lenient + severe)
    lenient_set, severe_set = frozenset(planted[:lenient]), frozenset(planted[lenient:])
    habits = {
        n: planted_by if n in lenient_set else -planted_by if n in severe_set else rng.gauss(0, 0.15)
        for n in names
    }
    truth: dict[tuple[str, str], float] = {}
    for n in names:
        base = rng.gauss(3.2, 0.6)
        for k in kpis:
            truth[(n, k)] = min(4.8, max(1.4, base + rng.gauss(0, 0.45)))
    ratings: list[Rating] = []
    for subject in names:
        colleagues = [n for n in names if n != subject]
        for rater in rng.sample(colleagues, min(len(colleagues), rng.randint(*raters_per_person))):
            for _ in range(rng.randint(*occasions)):
                at = now - timedelta(days=rng.uniform(0, 7 * 16))
                for k in kpis:
                    score = truth[(subject, k)] + habits[rater] + rng.gauss(0, noise)
                    ratings.append(Rating(rater, subject, k, float(min(5, max(1, round(score)))), at))
    return Company(names, tuple(kpis), truth, habits, lenient_set, severe_set, tuple(ratings), now)


def self_ratings(company: Company, person: str, scores: dict[str, float], at: datetime) -> list[Rating]:
    """``person``'s ratings of themself."""
    return [Rating(person, person, k, s, at, RaterKind.SELF) for k, s in scores.items()]


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation (ties share their mean rank)."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("spearman needs two sequences of the same length, at least 2")
    rx, ry = _ranks(np.asarray(xs, dtype=float)), _ranks(np.asarray(ys, dtype=float))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = float(np.sqrt((rx**2).sum() * (ry**2).sum()))
    return float((rx * ry).sum()) / denominator if denominator else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):  # ties: the mean of their ranks
        same = values == value
        ranks[same] = ranks[same].mean()
    return ranks


# -- a company for the talent review -------------------------------------------------------------

DELIVERY = ("target", "quality", "timeliness")
LEADERSHIP = ("inspires", "decides", "innovates", "collaborates", "delegates", "motivates")
OUTCOMES = frozenset({"target"})  # answered no / partly / yes, stored 0 / 1 / 2 (1, 3, 5 on the scale)
CONCRETE_NOTES = (
    "Shipped the migration two days early and wrote the runbook the on-call team now uses.",
    "Ran the planning meeting with a clear agenda and sent the decisions the same afternoon.",
    "Paired with two new joiners on the billing fix and reviewed every change within a day.",
)
PERSONALITY_NOTES = (
    "Too abrasive in the review meeting, needs to watch your tone with the designers.",
    "A bit emotional when the plan changed; the attitude made the retro harder.",
)
PLANTED = {  # category -> (true delivery, true leadership), far from every threshold
    "ready now": (4.5, 4.6),
    "ready with development": (3.6, 3.5),
    "develop in role": (2.6, 2.1),
}


@dataclass(frozen=True)
class Given:
    """One piece of feedback: a rater's scores of one person, in a project or outside any."""

    rater: str
    subject: str
    project: str | None
    relation: RaterKind  # manager, peer or report: who the rater is to the person
    anonymous: bool
    scores: dict[str, int]  # as stored: 1-5, an outcome 0-2; a KPI left out was "not observed"
    at: datetime
    note: str
    released: datetime | None = None  # anonymous: when its batch was released (None: named)


@dataclass(frozen=True)
class TalentCompany:
    people: tuple[str, ...]
    manager_of: dict[str, str | None]
    projects: dict[str, tuple[str, ...]]  # project -> its members
    given: tuple[Given, ...]
    true_levels: dict[str, tuple[float, float]]  # person -> (delivery, leadership)
    lenient: frozenset[str]
    severe: frozenset[str]
    expected: dict[str, str]  # planted people -> the category their truth must get
    single_rater: frozenset[str]
    one_project: frozenset[str]
    rising: str
    personal_team: str  # the manager whose team's notes lean on personality words
    now: datetime


def talent_company(*, teams: int = 5, size: int = 8, seed: int = 11, now: datetime = NOW) -> TalentCompany:
    """``teams`` teams of ``size`` (a manager and their reports) under one head, working in
    projects across teams; each person rated by 5-7 colleagues on two or more projects over the
    last 20 weeks. Planted: two raters a point lenient and two a point severe (each rates many
    people), three people for each category of ``PLANTED`` (levels far from every threshold),
    two people rated by one rater only, two rated highly by several raters in one project only,
    and one team whose notes use personality words."""
    rng = random.Random(seed)
    head = "T000"
    people = [head]
    manager_of: dict[str, str | None] = {head: None}
    members: dict[str, list[str]] = {}
    for t in range(teams):
        manager = f"T{t + 1}00"
        people.append(manager)
        manager_of[manager] = head
        members[manager] = []
        for i in range(1, size):
            name = f"T{t + 1}{i:02d}"
            people.append(name)
            manager_of[name] = manager
            members[manager].append(name)
    reports = [p for p in people if manager_of.get(p) not in (None, head)]
    rng.shuffle(reports)
    planted_people: dict[str, str] = {}
    for category in PLANTED:
        for _ in range(3):
            planted_people[reports.pop()] = category
    single = frozenset(reports.pop() for _ in range(2))
    one_project = frozenset(reports.pop() for _ in range(2))
    rising = reports.pop()  # rated a point and a half higher in the last 8 weeks than the 8 before
    others = [p for p in people if p not in single and p not in one_project]
    biased = rng.sample([p for p in others if p not in planted_people], 4)
    lenient, severe = frozenset(biased[:2]), frozenset(biased[2:])
    habit = {p: 1.0 if p in lenient else -1.0 if p in severe else rng.gauss(0, 0.1) for p in people}
    truth: dict[str, tuple[float, float]] = {}
    for p in people:
        if p in planted_people:
            truth[p] = PLANTED[planted_people[p]]
        elif p in one_project:
            truth[p] = (4.6, 4.6)
        else:
            truth[p] = (min(4.6, max(1.8, rng.gauss(3.4, 0.55))), min(4.6, max(1.8, rng.gauss(3.2, 0.6))))
    kpi_truth = {
        (p, k): truth[p][0 if k in DELIVERY else 1] + rng.gauss(0, 0.12)
        for p in people
        for k in DELIVERY + LEADERSHIP
    }
    projects = {f"Project {n + 1:02d}": tuple(rng.sample(people, 6)) for n in range(14)}
    personal_team = rng.choice(sorted(members))
    given: list[Given] = []

    def rate(rater: str, subject: str, project: str | None, at: datetime) -> None:
        scores = {}
        for k in DELIVERY + LEADERSHIP:
            if k in LEADERSHIP and rng.random() < 0.1:
                continue  # not observed
            value = kpi_truth[(subject, k)] + habit[rater] + rng.gauss(0, 0.45)
            if subject == rising:
                value += 0.75 if now - at < timedelta(weeks=8) else -0.75
            if k in OUTCOMES:
                scores[k] = 0 if value < 2.5 else 1 if value < 3.8 else 2
            else:
                scores[k] = min(5, max(1, round(value)))
        relation = (
            RaterKind.MANAGER
            if manager_of.get(subject) == rater
            else RaterKind.REPORT
            if manager_of.get(rater) == subject
            else RaterKind.PEER
        )
        team = manager_of.get(subject)
        personal = team == personal_team and rng.random() < 0.6
        note = rng.choice(PERSONALITY_NOTES if personal else CONCRETE_NOTES)
        anonymous = relation is RaterKind.PEER and subject not in single and rng.random() < 0.15
        given.append(Given(rater, subject, project, relation, anonymous, scores, at, note))

    names = sorted(projects)
    for subject in people:
        colleagues = [p for p in people if p != subject]
        if subject in single:
            rater = rng.choice([p for p in colleagues if p not in lenient | severe])
            for n in range(3):
                rate(rater, subject, names[n], now - timedelta(days=7 + 30 * n))
            continue
        count = rng.randint(6, 7) if subject in planted_people else rng.randint(5, 7)
        raters = rng.sample([p for p in colleagues if p not in single], count)
        if rng.random() < 0.5:  # the planted raters rate about half the company each
            raters = list(dict.fromkeys([*raters, rng.choice(sorted(lenient)), rng.choice(sorted(severe))]))
        mine = [n for n in names if subject in projects[n]] or names[:2]
        if subject in one_project:
            mine = mine[:1]
        elif len(mine) < 2:
            mine = [*mine, *[n for n in names if n not in mine][: 2 - len(mine)]]
        for i, rater in enumerate(raters):
            for occasion in range(1 if subject in one_project else 2):  # (once per project)
                project = mine[(i + occasion) % len(mine)]
                days = rng.uniform(3, 110 if subject == rising else 140)
                rate(rater, subject, project, now - timedelta(days=days))
    given = _released_in_batches(given)
    expected = {p: c for p, c in planted_people.items()}
    expected.update({p: "not enough evidence" for p in single | one_project})
    return TalentCompany(
        people=tuple(people),
        manager_of=manager_of,
        projects=projects,
        given=tuple(given),
        true_levels=truth,
        lenient=lenient,
        severe=severe,
        expected=expected,
        single_rater=single,
        one_project=one_project,
        rising=rising,
        personal_team=personal_team,
        now=now,
    )


def _released_in_batches(given: list[Given]) -> list[Given]:
    """As Brickwork releases anonymous feedback: per person, in one batch once it holds answers
    from at least three people (released with the last of them); fewer stay named here."""
    anonymous: dict[str, list[Given]] = {}
    for g in given:
        if g.anonymous:
            anonymous.setdefault(g.subject, []).append(g)
    released: dict[str, datetime | None] = {
        subject: max(g.at for g in items) if len({g.rater for g in items}) >= 3 else None
        for subject, items in anonymous.items()
    }
    return [
        replace(g, anonymous=released[g.subject] is not None, released=released[g.subject])
        if g.anonymous
        else g
        for g in given
    ]
