"""What the talent review reads about everyone at once, as arrays: per person and KPI the raw and
calibrated level with its evidence, per person and dimension the level with its interval, and
per team the ratings by rater kind.

Vectorised with numpy over ratings the database summed per rater, person, KPI, relation and
release batch (``storage.repositories.growth.rater_cells``): no Python object per rating, so
10,000 people take seconds. The figures are those of the growth analytics
(``bot.analytics.readings``) — a KPI is read once ``MIN_RATERS`` different raters rated it, each
rating less its rater's leniency — and raters are counted as they count them: an anonymous
rater once per release batch, never merged with their named ratings.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.analytics.calibration import FloatArray, IntArray, RaterKind, RatingSums
from bot.analytics.readings import FALLING_BY, MIN_RATERS, MIN_TREND_RATINGS, Direction, distinct
from bot.talent.readiness import DimensionLevel
from bot.talent.rules import TalentRules

KIND_CODES = (RaterKind.MANAGER, RaterKind.PEER, RaterKind.REPORT, RaterKind.ANONYMOUS)
DIMENSIONS = ("delivery", "leadership")


@dataclass(frozen=True)
class Cells:
    """Ratings summed per rater, person, KPI and (for anonymous ones) release batch: parallel
    arrays, one entry per sum."""

    subjects: IntArray
    raters: IntArray  # who rated, for their leniency
    counters: IntArray  # who they count as: the rater, or (anonymous) the rater in that batch
    kpis: IntArray  # positions in the framework's KPIs
    kinds: IntArray  # positions in ``KIND_CODES``
    counts: IntArray
    totals: FloatArray  # the scores summed, on the 1-5 scale
    squares: FloatArray  # their squares summed


ANONYMOUS = KIND_CODES.index(RaterKind.ANONYMOUS)


def rating_sums(cells: Cells, kpi_names: tuple[str, ...]) -> RatingSums:
    """The named cells summed per rater, person and KPI, as calibration is fitted over them (an
    anonymous rating moves no one's habits). Built in one key array, without a copy per column."""
    keep = cells.kinds != ANONYMOUS
    n_kpis = len(kpi_names)
    width = int(cells.subjects.max()) + 1 if len(cells.subjects) else 1
    key = cells.raters[keep].astype(np.int64)
    key *= width
    key += cells.subjects[keep]
    key *= n_kpis
    key += cells.kpis[keep]
    keys, row = np.unique(key, return_inverse=True)
    del key
    return RatingSums(
        raters=keys // (n_kpis * width),
        subjects=keys // n_kpis % width,
        kpis=keys % n_kpis,
        counts=np.bincount(row, cells.counts[keep]).astype(np.int64),
        sums=np.bincount(row, cells.totals[keep]),
        squares=np.bincount(row, cells.squares[keep]),
        kpi_names=kpi_names,
    )


@dataclass(frozen=True)
class KpiFigures:
    raw: float | None  # None below MIN_RATERS
    calibrated: float | None
    ratings: int
    raters: int


@dataclass(frozen=True)
class PersonFigures:
    kpis: dict[str, KpiFigures]
    delivery: DimensionLevel
    leadership: DimensionLevel
    kinds: tuple[tuple[RaterKind, int], ...] = ()  # distinct raters by kind, in ``KIND_CODES`` order


@dataclass(frozen=True)
class Periods:
    """Ratings summed per rater, person, dimension and period (0: the recent weeks, 1: those
    before), on the 1-5 scale: parallel arrays (``rater_periods``)."""

    subjects: IntArray
    raters: IntArray
    anonymous: IntArray  # 1 for anonymous ratings, read as given
    leadership: IntArray  # 1 for a leadership dimension
    periods: IntArray
    counts: IntArray
    totals: FloatArray


def trends(periods: Periods, leniency: FloatArray) -> dict[int, tuple[Direction | None, Direction | None]]:
    """Per person, each dimension's trend (delivery, leadership): the calibrated mean of the
    recent weeks against the weeks before, named once each has ``MIN_TREND_RATINGS`` ratings and
    the change is ``FALLING_BY`` or more either way, as the growth analytics name a KPI's."""
    if len(periods.subjects) == 0:
        return {}
    people, person = np.unique(periods.subjects, return_inverse=True)
    known = (periods.raters < len(leniency)) & (periods.anonymous == 0)  # anonymous: as given
    lenient = np.where(known, leniency[np.minimum(periods.raters, len(leniency) - 1)], 0.0)
    key = (person * 2 + periods.leadership) * 2 + periods.periods
    size = len(people) * 4
    count = np.bincount(key, periods.counts, minlength=size).reshape(-1, 2, 2)
    fair = np.bincount(key, periods.totals - periods.counts * lenient, minlength=size).reshape(-1, 2, 2)
    mean = np.clip(fair / np.maximum(count, 1), 1.0, 5.0)
    enough = (count >= MIN_TREND_RATINGS).all(axis=2)
    change = mean[:, :, 0] - mean[:, :, 1]
    result = {}
    for p, person_id in enumerate(people.tolist()):
        result[int(person_id)] = tuple(  # type: ignore[assignment]
            None
            if not enough[p, d]
            else Direction.DOWN
            if change[p, d] <= -FALLING_BY
            else Direction.UP
            if change[p, d] >= FALLING_BY
            else Direction.FLAT
            for d in (0, 1)
        )
    return result


def person_figures(
    cells: Cells,
    leniency: FloatArray,  # per rater id (indexed by ``cells.raters``)
    kpi_keys: Sequence[str],
    leadership: Sequence[bool],  # per KPI: whether it is a leadership KPI
    rules: TalentRules,
    trend_of: dict[int, tuple[Direction | None, Direction | None]] | None = None,
) -> dict[int, PersonFigures]:
    """Every person the cells are about."""
    n_kpis = len(kpi_keys)
    people, person = np.unique(cells.subjects, return_inverse=True)
    n_people = len(people)
    # An anonymous rating is read as given: its rater's habits would point at them.
    adjusted = cells.totals - cells.counts * leniency[cells.raters] * (cells.kinds != ANONYMOUS)
    cell = person * n_kpis + cells.kpis
    size = n_people * n_kpis
    count = np.bincount(cell, cells.counts, minlength=size)
    total = np.bincount(cell, cells.totals, minlength=size)
    fair = np.bincount(cell, adjusted, minlength=size)
    raters = distinct(cell, cells.counters, size)
    read = raters >= MIN_RATERS
    safe = np.maximum(count, 1)
    raw, calibrated = total / safe, np.clip(fair / safe, 1.0, 5.0)
    is_lead = np.asarray(leadership, dtype=np.int64)
    # Per person and dimension: each rater's calibrated average, then their mean and spread.
    side = person * 2 + is_lead[cells.kpis]
    width = int(cells.counters.max()) + 1 if len(cells.counters) else 1
    groups, group = np.unique(side * width + cells.counters, return_inverse=True)
    group_count = np.bincount(group, cells.counts)
    group_mean = np.bincount(group, adjusted) / np.maximum(group_count, 1)
    owner = groups // width  # person * 2 + dimension
    k = np.bincount(owner, minlength=n_people * 2)
    s1 = np.bincount(owner, group_mean, minlength=n_people * 2)
    s2 = np.bincount(owner, group_mean**2, minlength=n_people * 2)
    dimension_ratings = np.bincount(owner, group_count, minlength=n_people * 2)
    # The raters a category may rest on: named ones, and anonymous ones as one at most.
    named = cells.kinds != ANONYMOUS
    strict = distinct(side[named], cells.counters[named], n_people * 2)
    strict += np.bincount(side[~named], minlength=n_people * 2) > 0
    level = s1 / np.maximum(k, 1)
    spread = np.sqrt(np.maximum(s2 - k * level**2, 0.0) / np.maximum(k - 1, 1))
    kpi_side = np.arange(size) // n_kpis * 2 + np.tile(is_lead, n_people)
    kpis_read = np.bincount(kpi_side, read, minlength=n_people * 2)
    kpis_above = np.bincount(
        kpi_side, read & (calibrated >= rules.ready_now.kpi_level), minlength=n_people * 2
    )
    totals = [sum(1 for lead in leadership if lead == d) for d in (False, True)]
    n_kinds = len(KIND_CODES)
    by_kind = distinct(person * n_kinds + cells.kinds, cells.counters, n_people * n_kinds).reshape(
        -1, n_kinds
    )
    trend_of = trend_of or {}
    figures: dict[int, PersonFigures] = {}
    for p, person_id in enumerate(people.tolist()):
        kpis = {}
        for i, key in enumerate(kpi_keys):
            c = p * n_kpis + i
            enough = bool(read[c])
            kpis[key] = KpiFigures(
                raw=float(raw[c]) if enough else None,
                calibrated=float(calibrated[c]) if enough else None,
                ratings=int(count[c]),
                raters=int(raters[c]),
            )
        sides = []
        for d in (0, 1):
            j = p * 2 + d
            n = int(k[j])
            sides.append(
                DimensionLevel(
                    name=DIMENSIONS[d],
                    level=min(5.0, max(1.0, float(level[j]))) if n >= 2 else None,
                    se=max(float(spread[j]), rules.min_spread) / math.sqrt(n) if n >= 2 else None,
                    raters=int(strict[j]),
                    ratings=int(dimension_ratings[j]),
                    kpis_total=totals[d],
                    kpis_read=int(kpis_read[j]),
                    kpis_above=int(kpis_above[j]),
                    trend=trend_of.get(int(person_id), (None, None))[d],
                )
            )
        kinds = tuple((kind, int(by_kind[p, i])) for i, kind in enumerate(KIND_CODES) if by_kind[p, i])
        figures[int(person_id)] = PersonFigures(kpis, sides[0], sides[1], kinds)
    return figures


@dataclass(frozen=True)
class KindMean:
    kind: RaterKind
    mean: float  # raw: the kinds' differences are what the report shows
    raters: int
    ratings: int


@dataclass(frozen=True)
class TeamKinds:
    team: Hashable  # the manager's id
    people: int
    kinds: tuple[KindMean, ...]  # managers, peers, reports, self, anonymous: those that rated

    @property
    def spread(self) -> float:
        """The largest difference between two kinds' means (self included)."""
        means = [k.mean for k in self.kinds]
        return max(means) - min(means) if len(means) >= 2 else 0.0


MIN_SELF_PEOPLE = 3  # a team's self-ratings are shown as a mean of at least this many people's


def kinds_by_team(
    cells: Cells,
    team_of: dict[int, int],
    selves: dict[int, list[float]],  # person -> their latest self-ratings, on the 1-5 scale
) -> list[TeamKinds]:
    """Per team (people who confirmed the same manager), the mean raw rating by rater kind, the
    teams whose kinds differ most first. Self-ratings are a person's own: a team's appear only
    as the mean of at least ``MIN_SELF_PEOPLE`` people's."""
    team_ids = sorted(set(team_of.values()))
    index = {t: i for i, t in enumerate(team_ids)}
    people_ids, person = np.unique(cells.subjects, return_inverse=True)
    team_of_person = np.asarray(
        [index.get(team_of.get(p, -1), -1) for p in people_ids.tolist()], dtype=np.int64
    )
    teams = team_of_person[person.reshape(-1)] if len(people_ids) else np.zeros(0, np.int64)
    mine = teams >= 0
    n_kinds = len(KIND_CODES)
    key = teams[mine] * n_kinds + cells.kinds[mine]
    size = len(team_ids) * n_kinds
    count = np.bincount(key, cells.counts[mine], minlength=size)
    total = np.bincount(key, cells.totals[mine], minlength=size)
    raters = distinct(key, cells.counters[mine], size)
    people = distinct(teams[mine], cells.subjects[mine], len(team_ids))
    own_by_team: dict[int, list[list[float]]] = {}
    for person_id, scores in selves.items():
        if scores and person_id in team_of:
            own_by_team.setdefault(team_of[person_id], []).append(scores)
    result = []
    for t, team in enumerate(team_ids):
        kinds = [
            KindMean(
                kind,
                float(total[t * n_kinds + i] / count[t * n_kinds + i]),
                int(raters[t * n_kinds + i]),
                int(count[t * n_kinds + i]),
            )
            for i, kind in enumerate(KIND_CODES)
            # Anonymous ratings show as a team's mean only from three raters up: fewer could point.
            if count[t * n_kinds + i] and (kind is not RaterKind.ANONYMOUS or raters[t * n_kinds + i] >= 3)
        ]
        own = own_by_team.get(team, [])
        if len(own) >= MIN_SELF_PEOPLE:
            flat = [s for scores in own for s in scores]
            kinds.insert(3, KindMean(RaterKind.SELF, sum(flat) / len(flat), len(own), len(flat)))
        if kinds:
            result.append(TeamKinds(team, int(people[t]), tuple(kinds)))
    result.sort(key=lambda t: (-round(t.spread, 9), str(t.team)))
    return result
