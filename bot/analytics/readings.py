"""What the ratings about one person say: per KPI, and what stands out.

Every conclusion rests on stated evidence and a stated rule, and where the evidence is thin the
reading says "not enough feedback yet" instead of making one up:

- a KPI is read only once ``MIN_RATERS`` different people (not counting the person) rated it;
- a **growth area** is a KPI read that is low in absolute terms (below ``AS_EXPECTED``, the
  form's own "as expected"), clearly below the person's other KPIs (by ``RELATIVE_MARGIN``, and
  itself below ``STRONG_AT``) or falling (the last ``RECENT_WEEKS`` weeks ``FALLING_BY`` below
  the weeks before) — never the lowest of a set that is all high;
- a **strength** is a KPI read at ``STRONG_AT`` or above that is not a growth area;
- a **blind spot** is a KPI the person rates themself ``GAP`` or more above what others saw
  (calibrated), and a **hidden strength** the reverse — both only with ``MIN_RATERS`` others.

Levels are calibrated (``calibration``): each rating less its rater's leniency.

``read_person`` reads one person from their ratings, one by one; ``read_people`` reads many at
once from arrays (``WeekSums``) the way ``read_person`` would — what the App Home, ``/growth``
and the weekly digests use, so 10,000 people cost seconds, not a Python object per rating.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean

import numpy as np

from bot.analytics.calibration import Calibration, FloatArray, IntArray, RaterKind, Rating

MIN_RATERS = 2  # different people (not the person) before a KPI is read at all
AS_EXPECTED = 3.0  # "as expected" on the 1-5 form: below it is low in absolute terms
RELATIVE_MARGIN = 1.0  # "clearly lower": a whole step below the average of the person's other KPIs
RECENT_WEEKS = 8  # a trend compares the last eight weeks with the eight before
FALLING_BY = 0.5  # half a point on the 1-5 scale is a change worth naming (either way)
MIN_TREND_RATINGS = 2  # ratings in each of the two windows before a trend is named
STRONG_AT = 4.0  # "above expectations" on the form
GAP = 1.0  # self against others, for a blind spot or a hidden strength
SPARK_WEEKS = 8


class Direction(enum.StrEnum):
    UP = "up"
    DOWN = "down"
    FLAT = "flat"

    @property
    def arrow(self) -> str:
        return {"up": "↑", "down": "↓", "flat": "→"}[self.value]


@dataclass(frozen=True)
class Trend:
    recent: float | None  # calibrated mean of the last RECENT_WEEKS weeks
    earlier: float | None  # of the RECENT_WEEKS weeks before
    weekly: tuple[float | None, ...]  # the last SPARK_WEEKS weeks, oldest first (None: no rating)

    @property
    def change(self) -> float | None:
        if self.recent is None or self.earlier is None:
            return None
        return self.recent - self.earlier

    @property
    def direction(self) -> Direction | None:
        change = self.change
        if change is None:
            return None
        if change <= -FALLING_BY:
            return Direction.DOWN
        if change >= FALLING_BY:
            return Direction.UP
        return Direction.FLAT


@dataclass(frozen=True)
class Evidence:
    ratings: int  # by others
    raters: int  # distinct others
    kinds: tuple[tuple[RaterKind, int], ...]  # distinct raters by kind, most first


@dataclass(frozen=True)
class KpiReading:
    kpi: str
    raw: float | None  # the plain mean of others' ratings; None below MIN_RATERS
    calibrated: float | None  # each rating less its rater's leniency; None below MIN_RATERS
    se: float | None  # standard error of ``calibrated``
    evidence: Evidence
    trend: Trend
    self_score: float | None  # the person's latest rating of themself

    @property
    def enough(self) -> bool:
        return self.calibrated is not None

    def interval(self, z: float = 1.96) -> tuple[float, float] | None:
        if self.calibrated is None or self.se is None:
            return None
        return (self.calibrated - z * self.se, self.calibrated + z * self.se)


class Why(enum.StrEnum):
    """Why a KPI is a growth area; a KPI with none of these is not one."""

    FALLING = "falling"
    LOW = "low"
    LOWER = "lower"


@dataclass(frozen=True)
class GrowthArea:
    reading: KpiReading
    why: tuple[Why, ...]
    others: float | None  # the mean of the person's other KPIs read

    @property
    def kpi(self) -> str:
        return self.reading.kpi


@dataclass(frozen=True)
class Gap:
    """A KPI where the person sees themself differently from how others do."""

    reading: KpiReading
    self_score: float
    others: float  # calibrated

    @property
    def kpi(self) -> str:
        return self.reading.kpi

    @property
    def size(self) -> float:
        return self.self_score - self.others


@dataclass(frozen=True)
class PersonReading:
    kpis: tuple[KpiReading, ...]
    growth_areas: tuple[GrowthArea, ...]  # falling first, then the lowest
    strengths: tuple[KpiReading, ...]  # highest first
    blind_spots: tuple[Gap, ...]  # largest first
    hidden_strengths: tuple[Gap, ...]  # largest first

    @property
    def enough(self) -> bool:
        """Whether any KPI could be read: if not, the honest answer is "not enough feedback yet"."""
        return any(k.enough for k in self.kpis)

    def kpi(self, key: str) -> KpiReading | None:
        return next((k for k in self.kpis if k.kpi == key), None)


def read_person(
    kpis: Sequence[str],
    ratings: Sequence[Rating],
    calibration: Calibration,
    now: datetime,
) -> PersonReading:
    """The reading of one person from ``ratings`` about them (their self-ratings included),
    with ``calibration`` fitted over everyone's ratings. ``kpis`` sets the order."""
    by_kpi: dict[str, list[Rating]] = {kpi: [] for kpi in kpis}
    for rating in ratings:
        if rating.kpi in by_kpi and rating.at <= now:
            by_kpi[rating.kpi].append(rating)
    return conclude(tuple(_read_kpi(kpi, by_kpi[kpi], calibration, now) for kpi in kpis))


def conclude(readings: tuple[KpiReading, ...]) -> PersonReading:
    """What stands out in one person's KPIs read: growth areas, strengths, blind spots and
    hidden strengths."""
    read = [k for k in readings if k.enough]
    areas: list[GrowthArea] = []
    for reading in read:
        assert reading.calibrated is not None
        rest = [k.calibrated for k in read if k.kpi != reading.kpi and k.calibrated is not None]
        others = fmean(rest) if rest else None
        why = []
        if reading.trend.direction is Direction.DOWN:
            why.append(Why.FALLING)
        if reading.calibrated < AS_EXPECTED:
            why.append(Why.LOW)
        if (
            others is not None
            and others - reading.calibrated >= RELATIVE_MARGIN
            and reading.calibrated < STRONG_AT
        ):
            why.append(Why.LOWER)  # (a KPI at STRONG_AT or above is high, however high the rest)
        if why:
            areas.append(GrowthArea(reading, tuple(why), others))
    # Ordered on levels rounded: the same ratings summed another way must not reorder a tie.
    areas.sort(key=lambda a: (Why.FALLING not in a.why, _level(a.reading.calibrated), a.kpi))
    in_areas = {a.kpi for a in areas}
    strengths = sorted(
        (k for k in read if k.kpi not in in_areas and (k.calibrated or 0.0) >= STRONG_AT),
        key=lambda k: (-_level(k.calibrated), k.kpi),
    )
    gaps = [
        Gap(k, k.self_score, k.calibrated)
        for k in read
        if k.self_score is not None and k.calibrated is not None
    ]
    blind = sorted((g for g in gaps if g.size >= GAP), key=lambda g: (-_level(g.size), g.kpi))
    hidden = sorted((g for g in gaps if -g.size >= GAP), key=lambda g: (_level(g.size), g.kpi))
    return PersonReading(readings, tuple(areas), tuple(strengths), tuple(blind), tuple(hidden))


KINDS = tuple(RaterKind)  # what ``WeekSums.kinds`` codes: positions here
TREND_WEEKS = max(2 * RECENT_WEEKS, SPARK_WEEKS)  # the weeks a trend or a sparkline reads


@dataclass(frozen=True)
class WeekSums:
    """Others' ratings about several people, summed per rater as counted, KPI and week: parallel
    arrays, one entry per sum (self-ratings are not among them)."""

    subjects: IntArray
    counters: IntArray  # who each sum counts as when raters are counted: codes, never negative
    kinds: IntArray  # positions in ``KINDS``
    kpis: IntArray  # positions in the KPIs read
    weeks: IntArray  # back from the moment read at: 0 is the last seven days (never negative)
    counts: IntArray  # ratings summed
    totals: FloatArray  # their scores summed, on the 1-5 scale
    fair: FloatArray  # the same, each rating less its rater's leniency


def read_people(
    kpis: Sequence[str],
    sums: WeekSums,
    selves: Mapping[int, Mapping[str, float]],  # person -> KPI -> their latest self-rating, 1-5
    person_ids: Sequence[int],
    sigma: float,
) -> dict[int, PersonReading]:
    """Each person's reading, as ``read_person`` reads it, vectorised over everyone's sums: no
    Python object per rating, a few per KPI read."""
    n_kpis, n_kinds = len(kpis), len(KINDS)
    person_ids = list(dict.fromkeys(person_ids))  # each once: a second would read as nobody's
    ids = np.asarray(person_ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    at = np.minimum(np.searchsorted(ids[order], sums.subjects), max(len(ids) - 1, 0))
    mine = (ids[order][at] == sums.subjects) if len(ids) else np.zeros(len(sums.subjects), bool)
    cell = order[at][mine] * n_kpis + sums.kpis[mine]
    counters, counts, fair = sums.counters[mine], sums.counts[mine], sums.fair[mine]
    size = len(ids) * n_kpis
    count = np.bincount(cell, counts, minlength=size)
    raw = np.bincount(cell, sums.totals[mine], minlength=size) / np.maximum(count, 1)
    calibrated = np.clip(np.bincount(cell, fair, minlength=size) / np.maximum(count, 1), 1.0, 5.0)
    raters = distinct(cell, counters, size)
    by_kind = distinct(cell * n_kinds + sums.kinds[mine], counters, size * n_kinds).reshape(-1, n_kinds)
    weeks = sums.weeks[mine]
    recent = weeks < TREND_WEEKS
    slot = cell[recent] * TREND_WEEKS + weeks[recent]
    week_count = np.bincount(slot, counts[recent], minlength=size * TREND_WEEKS).reshape(-1, TREND_WEEKS)
    week_fair = np.bincount(slot, fair[recent], minlength=size * TREND_WEEKS).reshape(-1, TREND_WEEKS)
    week_mean = np.clip(week_fair / np.maximum(week_count, 1), 1.0, 5.0)
    halves = []
    for weeks_in in (slice(0, RECENT_WEEKS), slice(RECENT_WEEKS, 2 * RECENT_WEEKS)):
        n = week_count[:, weeks_in].sum(axis=1)
        mean = np.clip(week_fair[:, weeks_in].sum(axis=1) / np.maximum(n, 1), 1.0, 5.0)
        enough = (n >= MIN_TREND_RATINGS).tolist()
        halves.append([m if e else None for m, e in zip(mean.tolist(), enough, strict=True)])
    last = slice(SPARK_WEEKS - 1, None, -1)  # the sparkline's weeks, oldest first
    spark = [
        tuple(m if n else None for m, n in zip(means, ns, strict=True))
        for means, ns in zip(week_mean[:, last].tolist(), week_count[:, last].tolist(), strict=True)
    ]
    se = (sigma / np.sqrt(np.maximum(count, 1))).tolist()
    count_, raw_, calibrated_, raters_ = (
        count.astype(np.int64).tolist(),
        raw.tolist(),
        calibrated.tolist(),
        raters.tolist(),
    )
    kinds_of: dict[tuple[int, ...], tuple[tuple[RaterKind, int], ...]] = {}  # few distinct: made once each
    for row in set(map(tuple, by_kind.tolist())):
        kinds_of[row] = tuple(sorted(((KINDS[i], n) for i, n in enumerate(row) if n), key=_most))
    by_kind_ = list(map(tuple, by_kind.tolist()))
    none = Trend(None, None, ())
    result = {}
    for p, person_id in enumerate(person_ids):
        own = selves.get(person_id, {})
        readings = []
        for k, kpi in enumerate(kpis):
            c = p * n_kpis + k
            evidence = Evidence(ratings=count_[c], raters=raters_[c], kinds=kinds_of[by_kind_[c]])
            if raters_[c] < MIN_RATERS:
                readings.append(KpiReading(kpi, None, None, None, evidence, none, own.get(kpi)))
                continue
            readings.append(
                KpiReading(
                    kpi=kpi,
                    raw=raw_[c],
                    calibrated=calibrated_[c],
                    se=se[c],
                    evidence=evidence,
                    trend=Trend(halves[0][c], halves[1][c], spark[c]),
                    self_score=own.get(kpi),
                )
            )
        result[person_id] = conclude(tuple(readings))
    return result


def _most(kind: tuple[RaterKind, int]) -> tuple[int, RaterKind]:
    return -kind[1], kind[0]


def distinct(groups: IntArray, members: IntArray, size: int) -> IntArray:
    """Per group (``0 .. size - 1``), how many distinct members (never negative) it has."""
    if len(groups) == 0:
        return np.zeros(size, dtype=np.int64)
    width = int(members.max()) + 1
    pairs = np.unique(groups.astype(np.int64) * width + members)
    return np.bincount(pairs // width, minlength=size)


def _read_kpi(kpi: str, ratings: Sequence[Rating], calibration: Calibration, now: datetime) -> KpiReading:
    others = [r for r in ratings if r.kind is not RaterKind.SELF]
    selves = sorted((r for r in ratings if r.kind is RaterKind.SELF), key=lambda r: r.at)
    by_kind: dict[RaterKind, set[Hashable]] = {}
    for r in others:
        by_kind.setdefault(r.kind, set()).add(r.counter)
    raters = len({r.counter for r in others})
    count = sum(r.weight for r in others)
    evidence = Evidence(
        ratings=count,
        raters=raters,
        kinds=tuple(sorted(((k, len(v)) for k, v in by_kind.items()), key=_most)),
    )
    self_score = selves[-1].score if selves else None
    if raters < MIN_RATERS:
        return KpiReading(kpi, None, None, None, evidence, Trend(None, None, ()), self_score)
    leniency = calibration.leniency_of
    adjusted = [(r.at, r.score - leniency(r.rater), r.weight) for r in others]
    calibrated = _clamp(sum(a * w for _, a, w in adjusted) / count)
    return KpiReading(
        kpi=kpi,
        raw=sum(r.score * r.weight for r in others) / count,
        calibrated=calibrated,
        se=calibration.sigma / math.sqrt(count),
        evidence=evidence,
        trend=_trend(adjusted, now),
        self_score=self_score,
    )


def _trend(adjusted: Sequence[tuple[datetime, float, int]], now: datetime) -> Trend:
    """Weeks counted back from ``now``: week 0 is the last seven days (``now`` itself in it)."""
    weeks: dict[int, list[tuple[float, int]]] = {}
    for at, value, weight in adjusted:  # a rating a week old is in week 1
        weeks.setdefault((now - at) // WEEK, []).append((value, weight))
    recent = [a for w in range(RECENT_WEEKS) for a in weeks.get(w, ())]
    earlier = [a for w in range(RECENT_WEEKS, 2 * RECENT_WEEKS) for a in weeks.get(w, ())]
    weekly = tuple(_clamp(_mean(weeks[w])) if w in weeks else None for w in range(SPARK_WEEKS - 1, -1, -1))
    return Trend(
        recent=_clamp(_mean(recent)) if sum(w for _, w in recent) >= MIN_TREND_RATINGS else None,
        earlier=_clamp(_mean(earlier)) if sum(w for _, w in earlier) >= MIN_TREND_RATINGS else None,
        weekly=weekly,
    )


def _mean(values: Sequence[tuple[float, int]]) -> float:
    """The mean of values given with how many ratings each stands for."""
    total = weight = 0.0
    for value, n in values:
        total += value * n
        weight += n
    return total / weight


WEEK = timedelta(weeks=1)


def _level(value: float | None) -> float:
    return round(value or 0.0, 9)


def _clamp(value: float) -> float:
    return min(5.0, max(1.0, value))
