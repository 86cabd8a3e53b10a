"""A company whose truth is known: people with true levels on each KPI, raters with known habits.

Used by the tests (calibration must recover the truth better than raw averages, and find the
raters planted as lenient or severe), by ``bench/`` and by the demo. Sparse like real feedback:
each person is rated by a few colleagues, not by everyone, and scores are whole numbers on the
1-5 form.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
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
