"""The talent review's rules, from ``bot/data/talent.toml`` or the operator's copy of it
(``BRICKWORK_TALENT_FILE``): readiness thresholds, the map's cuts and the succession roles.
Loaded and validated at start; a bad file is one line naming the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

from bot.framework import Framework, read_toml, short_version

ROLE_NAME_MAX = 60
MAX_ROLES = 50


class TalentRulesError(ValueError):
    """The talent rules are not usable; the message says where and why."""


@dataclass(frozen=True)
class Thresholds:
    leadership: float
    delivery: float
    kpi_level: float = 0.0
    kpi_share: float = 0.0


@dataclass(frozen=True)
class Role:
    name: str
    kpis: tuple[str, ...]
    level: float


@dataclass(frozen=True)
class TalentRules:
    min_raters: int
    min_sources: int
    confidence: float
    min_spread: float
    ready_now: Thresholds
    ready_with_development: Thresholds
    cuts: tuple[float, float]
    roles: tuple[Role, ...]
    where: str = "the default talent rules"

    @property
    def z(self) -> float:
        """Standard errors on each side of a level for an interval ``confidence`` wide."""
        return NormalDist().inv_cdf(0.5 + self.confidence / 2)

    def role(self, name: str) -> Role | None:
        wanted = " ".join(name.lower().split())
        return next((r for r in self.roles if r.name.lower() == wanted), None)


def load_talent_rules(path: Path | None, framework: Framework) -> TalentRules:
    """The operator's file (strict), or the shipped default when ``path`` is None (lenient: a
    role naming a KPI an operator's own framework lacks is left out, not an error)."""
    data, where = read_toml(path, default="talent.toml", what="talent rules", error=TalentRulesError)
    return parse_talent_rules(data, framework, where=where, strict=path is not None)


def parse_talent_rules(
    data: Any, framework: Framework, *, where: str = "talent rules", strict: bool = True
) -> TalentRules:
    """Whatever ``data`` holds, talent rules or a one-line ``TalentRulesError``."""
    if not isinstance(data, dict):
        raise TalentRulesError(f"{where}: must be a TOML document")
    if short_version(data.get("version")) is None:
        raise TalentRulesError(f"{where}: 'version' must be a short string, such as \"2026.1\"")
    evidence = _table(data, "evidence", where)
    now = _table(data, "ready_now", where)
    later = _table(data, "ready_with_development", where)
    cuts = _table(data, "map", where).get("cuts")
    if (
        not isinstance(cuts, list)
        or len(cuts) != 2
        or not all(_number(c) and 1 < c < 5 for c in cuts)
        or not cuts[0] < cuts[1]
    ):
        raise TalentRulesError(
            f"{where}: [map] cuts must be two rising levels between 1 and 5, such as [3.0, 4.0]"
        )
    ready_now = Thresholds(
        leadership=_level(now, "leadership", where, "ready_now"),
        delivery=_level(now, "delivery", where, "ready_now"),
        kpi_level=_level(now, "kpi_level", where, "ready_now"),
        kpi_share=_fraction(now, "kpi_share", where, "ready_now"),
    )
    ready_later = Thresholds(
        leadership=_level(later, "leadership", where, "ready_with_development"),
        delivery=_level(later, "delivery", where, "ready_with_development"),
    )
    if ready_later.leadership > ready_now.leadership or ready_later.delivery > ready_now.delivery:
        raise TalentRulesError(f"{where}: [ready_with_development] must not ask more than [ready_now]")
    leadership = {k.key for k in framework.leadership}
    roles = _roles(data.get("role", []), leadership, where, strict)
    return TalentRules(
        min_raters=_whole(evidence, "min_raters", where, 2, 50),
        min_sources=_whole(evidence, "min_sources", where, 1, 50),
        confidence=_fraction(evidence, "confidence", where, "evidence", low=0.5, high=0.999),
        min_spread=_positive(evidence, "min_spread", where),
        ready_now=ready_now,
        ready_with_development=ready_later,
        cuts=(float(cuts[0]), float(cuts[1])),
        roles=roles,
        where=where,
    )


def _roles(entries: Any, leadership: set[str], where: str, strict: bool) -> tuple[Role, ...]:
    if not isinstance(entries, list) or len(entries) > MAX_ROLES:
        raise TalentRulesError(f"{where}: [[role]] must be a list of at most {MAX_ROLES} roles")
    roles: list[Role] = []
    for index, entry in enumerate(entries, 1):
        at = f"{where}: role #{index}"
        if not isinstance(entry, dict):
            raise TalentRulesError(f"{at}: must be a table with name, kpis and level")
        name = entry.get("name")
        if (
            not isinstance(name, str)
            or not name.strip()
            or len(name) > ROLE_NAME_MAX
            or not name.isprintable()
        ):
            raise TalentRulesError(
                f"{at}: 'name' must be a line of text of at most {ROLE_NAME_MAX} characters"
            )
        name = " ".join(name.split())
        kpis = entry.get("kpis")
        if not isinstance(kpis, list) or not kpis or not all(isinstance(k, str) for k in kpis):
            raise TalentRulesError(f"{at}: 'kpis' must list leadership KPI keys")
        unknown = [k for k in kpis if k not in leadership]
        if unknown and not strict:
            continue
        if unknown:
            raise TalentRulesError(
                f"{at}: {unknown[0]!r} is not a leadership KPI of the framework "
                f"({', '.join(sorted(leadership))})"
            )
        if any(r.name.lower() == name.lower() for r in roles):
            raise TalentRulesError(f"{at}: another role is already called {name!r}")
        roles.append(Role(name, tuple(dict.fromkeys(kpis)), _level(entry, "level", where, f"role #{index}")))
    return tuple(roles)


def _table(data: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    table = data.get(name)
    if not isinstance(table, dict):
        raise TalentRulesError(f"{where}: [{name}] is missing")
    return table


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _level(table: dict[str, Any], key: str, where: str, name: str) -> float:
    value = table.get(key)
    if not _number(value) or not 1 <= value <= 5:
        raise TalentRulesError(f"{where}: [{name}] {key} must be a level from 1 to 5")
    return float(value)


def _fraction(
    table: dict[str, Any], key: str, where: str, name: str, low: float = 0.0, high: float = 1.0
) -> float:
    value = table.get(key)
    if not _number(value) or not low <= value <= high:
        raise TalentRulesError(f"{where}: [{name}] {key} must be a number from {low} to {high}")
    return float(value)


def _whole(table: dict[str, Any], key: str, where: str, low: int, high: int) -> int:
    value = table.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise TalentRulesError(f"{where}: [evidence] {key} must be a whole number from {low} to {high}")
    return value


def _positive(table: dict[str, Any], key: str, where: str) -> float:
    value = table.get(key)
    if not _number(value) or not 0 < value <= 4:
        raise TalentRulesError(f"{where}: [evidence] {key} must be a number above 0, at most 4")
    return float(value)
