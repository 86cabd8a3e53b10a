"""Leadership readiness and the delivery x leadership map, read from demonstrated behaviour.

Pure functions over a person's figures (``bot.talent.evidence``: their ratings by others,
calibrated for their raters' habits) and the rules of ``bot.talent.rules``. Nothing here
decides about a person: each reading states its evidence, its uncertainty and the rule that
produced its category, in words, for the people who decide.

A **dimension's level** is the mean of its raters' calibrated averages over the dimension's
KPIs (each rating less its rater's leniency): one prolific rater counts once. Its **standard
error** is the spread between those raters' averages (never below ``min_spread``) over the
square root of their number (an anonymous rater once per release batch, read as given); the
interval is ``z`` standard errors each side. The raters a category needs are counted more
strictly: named raters, and all anonymous ones as one at most.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from bot.analytics.readings import Direction
from bot.talent.rules import TalentRules


class Category(enum.StrEnum):
    READY_NOW = "ready now"
    READY_WITH_DEVELOPMENT = "ready with development"
    DEVELOP_IN_ROLE = "develop in role"
    NOT_ENOUGH_EVIDENCE = "not enough evidence"


BANDS = ("low", "middle", "high")
# The map's cells by (delivery band, leadership band): what a person there has shown.
CELL_NAMES = {
    (0, 0): "Low on both",
    (1, 0): "Delivers, leadership low",
    (2, 0): "Strong delivery, leadership low",
    (0, 1): "Leads some, delivery low",
    (1, 1): "Solid on both",
    (2, 1): "Strong delivery, leadership growing",
    (0, 2): "Leads, delivery low",
    (1, 2): "Leads, delivery growing",
    (2, 2): "Strong on both",
}


@dataclass(frozen=True)
class DimensionLevel:
    name: str  # "delivery" or "leadership"
    level: float | None  # None below two raters
    se: float | None
    # Distinct named raters, and anonymous ones as one at most: anonymous ratings may all come
    # from one person (nobody can tell without pointing at them), and no category rests on one.
    raters: int
    ratings: int
    kpis_total: int  # in the framework
    kpis_read: int  # with enough evidence of their own
    kpis_above: int  # read at the ready-now KPI level or above
    trend: Direction | None = None  # the last 8 weeks against the 8 before, calibrated

    def interval(self, z: float) -> tuple[float, float] | None:
        if self.level is None or self.se is None:
            return None
        return (max(1.0, self.level - z * self.se), min(5.0, self.level + z * self.se))

    def shown(self, z: float) -> str:
        """ "leadership 4.1 ± 0.3 from 7 raters" (or what is missing)."""
        if self.level is None or self.se is None:
            return f"{self.name}: {_raters(self.raters)}, not enough to read"
        return f"{self.name} {self.level:.1f} ± {z * self.se:.1f} from {_raters(self.raters)}"


@dataclass(frozen=True)
class Readiness:
    category: Category
    reason: str  # the evidence and the rule that produced the category, in words


@dataclass(frozen=True)
class Placement:
    """Where a person sits on the map, and every cell their intervals reach."""

    cell: tuple[int, int]  # (delivery band, leadership band), 0 low .. 2 high
    delivery_bands: tuple[int, int]  # the bands the delivery interval reaches, low to high
    leadership_bands: tuple[int, int]

    @property
    def spans(self) -> bool:
        return (
            self.delivery_bands[0] != self.delivery_bands[1]
            or self.leadership_bands[0] != self.leadership_bands[1]
        )

    @property
    def name(self) -> str:
        return CELL_NAMES[self.cell]

    def shown(self) -> str:
        where = f"{BANDS[self.cell[0]]} delivery, {BANDS[self.cell[1]]} leadership"
        if not self.spans:
            return where
        reach = []
        for axis, (low, high) in (("delivery", self.delivery_bands), ("leadership", self.leadership_bands)):
            if low != high:
                reach.append(f"{axis} {BANDS[low]} to {BANDS[high]}")
        return f"{where} (its interval spans {', '.join(reach)})"


def readiness(
    delivery: DimensionLevel, leadership: DimensionLevel, sources: Sources, rules: TalentRules
) -> Readiness:
    """The category and, in words, the evidence and the rule behind it."""
    z = rules.z
    lacking = [
        f"{d.name} rests on {_raters(d.raters)} (a category needs {rules.min_raters})"
        for d in (leadership, delivery)
        if d.raters < rules.min_raters or d.level is None
    ]
    if sources.count < rules.min_sources:
        lacking.append(
            f"the feedback comes from {sources.shown() if sources.count else 'nowhere yet'} "
            f"(a category needs {rules.min_sources} sources: projects, or other feedback)"
        )
    if lacking:
        return Readiness(Category.NOT_ENOUGH_EVIDENCE, "; ".join(lacking))
    assert leadership.level is not None and delivery.level is not None
    facts = (
        f"{leadership.shown(z)} over {sources.shown()}, at {rules.ready_now.kpi_level:.1f} or above on "
        f"{leadership.kpis_above} of {leadership.kpis_total} leadership KPIs ({leadership.kpis_read} read); "
        f"{delivery.shown(z)}"
    )
    now, later = rules.ready_now, rules.ready_with_development
    # Of the framework's leadership KPIs, not of those read: one KPI read high is not breadth.
    share = leadership.kpis_above / leadership.kpis_total if leadership.kpis_total else 0.0
    missing = []
    if leadership.level < now.leadership:
        missing.append(f"leadership {now.leadership:.1f}")
    if share < now.kpi_share:
        missing.append(f"{now.kpi_share:.0%} of leadership KPIs at {now.kpi_level:.1f}")
    if delivery.level < now.delivery:
        missing.append(f"delivery {now.delivery:.1f}")
    if not missing:
        rule = (
            f"ready now needs leadership {now.leadership:.1f}, {now.kpi_share:.0%} of leadership KPIs at "
            f"{now.kpi_level:.1f} and delivery {now.delivery:.1f}: all met"
        )
        return Readiness(Category.READY_NOW, f"{facts}. {_capital(rule)}.")
    short = f"short of ready now ({', '.join(missing)} needed)"
    if leadership.level >= later.leadership and delivery.level >= later.delivery:
        rule = (
            f"{short}; ready with development needs leadership {later.leadership:.1f} "
            f"and delivery {later.delivery:.1f}: met"
        )
        return Readiness(Category.READY_WITH_DEVELOPMENT, f"{facts}. {_capital(rule)}.")
    rule = (
        f"{short}; below ready with development "
        f"(leadership {later.leadership:.1f}, delivery {later.delivery:.1f})"
    )
    return Readiness(Category.DEVELOP_IN_ROLE, f"{facts}. {_capital(rule)}.")


def placement(delivery: DimensionLevel, leadership: DimensionLevel, rules: TalentRules) -> Placement | None:
    """The person's cell and the cells their intervals reach; None without both levels."""
    z = rules.z
    d, ld = delivery.interval(z), leadership.interval(z)
    if delivery.level is None or leadership.level is None or d is None or ld is None:
        return None
    return Placement(
        cell=(band(delivery.level, rules), band(leadership.level, rules)),
        delivery_bands=(band(d[0], rules), band(d[1], rules)),
        leadership_bands=(band(ld[0], rules), band(ld[1], rules)),
    )


def band(level: float, rules: TalentRules) -> int:
    """0 low, 1 middle, 2 high, by the map's cuts (a level on a cut is in the band above)."""
    low, high = rules.cuts
    return 0 if level < low else 1 if level < high else 2


@dataclass(frozen=True)
class Sources:
    """Where a person's feedback came from: how many projects (named feedback), and whether any
    other feedback came — outside projects (requests, unasked feedback) or anonymous, whose
    project is never said — which counts as one source more."""

    projects: int
    other: bool

    @property
    def count(self) -> int:
        return self.projects + (1 if self.other else 0)

    def shown(self) -> str:
        projects = "one project" if self.projects == 1 else f"{self.projects} projects"
        if not self.other:
            return projects
        return (
            f"{projects} and other feedback"
            if self.projects
            else "no project (requests, unasked or anonymous feedback)"
        )


def sources_of(project_ids: Sequence[int | None]) -> Sources:
    return Sources(len({p for p in project_ids if p is not None}), any(p is None for p in project_ids))


def _raters(n: int) -> str:
    return f"{n} rater" if n == 1 else f"{n} raters"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
