"""The competency framework: which KPIs each dimension has. Loaded and validated at start."""

from __future__ import annotations

import enum
import re
import reprlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

MAX_KPIS_PER_DIMENSION = 8  # keeps every form far below Slack's 100-block modal limit
LABEL_MAX = 75  # Slack's option-text limit; labels also serve as select placeholders
DESCRIPTION_MAX = 150  # an input hint is short; Slack allows 2000 but nobody reads that much
VERSION_MAX = 32
SHOWN_MAX = 60  # how much of an operator's value an error message repeats
_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")  # used with fullmatch: "$" would let a final newline in


class FrameworkError(ValueError):
    """The framework file is not usable; the message says where and why."""


class Dimension(enum.StrEnum):
    DELIVERY = "delivery"
    LEADERSHIP = "leadership"


class KpiKind(enum.StrEnum):
    OUTCOME = "outcome"  # yes / partly / no, stored as 2 / 1 / 0
    SCALE = "scale"  # 1..5


OUTCOME_SCORES = {"yes": 2, "partly": 1, "no": 0}


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    kind: KpiKind
    dimension: Dimension
    description: str = ""

    @property
    def allows_not_observed(self) -> bool:
        # Leadership is only seen in some projects; delivery always has an answer.
        return self.dimension is Dimension.LEADERSHIP

    def on_five_point_scale(self, score: float) -> float:
        """Outcome KPIs are stored 0/1/2 (no/partly/yes); readings compare every KPI on 1-5."""
        return 1 + 2 * score if self.kind is KpiKind.OUTCOME else score


@dataclass(frozen=True)
class Framework:
    version: str
    delivery: tuple[Kpi, ...]
    leadership: tuple[Kpi, ...]

    @property
    def kpis(self) -> tuple[Kpi, ...]:
        return self.delivery + self.leadership

    def kpi(self, key: str) -> Kpi:
        for kpi in self.kpis:
            if kpi.key == key:
                return kpi
        raise KeyError(key)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = SHOWN_MAX
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 2, 3, 3


def shown(value: object) -> str:
    """``value`` as an error message repeats it: a repr (so newlines and control characters are
    escaped) on one line, cut to about ``SHOWN_MAX`` characters."""
    try:
        text = _REPR.repr(value)
    except (ValueError, RecursionError):  # an int too long to print, a pathological nesting
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 3] + "..."


def short_version(value: object) -> str | None:
    """The ``version`` of a framework or catalog file as text: a short string or an integer,
    printable, on one line. None when it is anything else (missing, a float, a bool, a date…)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    if isinstance(value, int) and not -(10**VERSION_MAX) < value < 10**VERSION_MAX:
        return None
    text = str(value)
    if not text.strip() or len(text) > VERSION_MAX or not text.isprintable():
        return None
    return text.strip()


def read_toml(
    path: Path | None, *, default: str, what: str, error: type[ValueError]
) -> tuple[dict[str, Any], str]:
    """The operator's TOML file, or the shipped ``bot/data/<default>`` when ``path`` is None;
    and where it came from, for messages. Unreadable or invalid files raise ``error``."""
    where = str(path) if path else f"the default {what}"
    if not where.isprintable():  # a newline in the path must not break the one-line message
        where = repr(where)
    try:
        if path is None:
            text = resources.files("bot").joinpath(f"data/{default}").read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        return tomllib.loads(text), where
    except (OSError, UnicodeDecodeError) as failure:
        raise error(f"{where}: cannot read it ({failure})") from None
    except tomllib.TOMLDecodeError as failure:
        raise error(f"{where}: not valid TOML ({failure})") from None


def load_framework(path: Path | None = None) -> Framework:
    """Read the operator's file, or the shipped default when ``path`` is None."""
    data, where = read_toml(path, default="framework.toml", what="framework", error=FrameworkError)
    return parse_framework(data, where=where)


def parse_framework(data: dict[str, Any], *, where: str = "framework") -> Framework:
    """Validate ``data`` (a parsed TOML document). Whatever it holds, the result is a framework or
    a ``FrameworkError`` whose one-line message names the place, the field and what it expects."""
    if not isinstance(data, dict):
        raise FrameworkError(
            f"{where}: must be a TOML document with version, [[delivery]] and [[leadership]]"
        )
    version = short_version(data.get("version"))
    if version is None:
        raise FrameworkError(f"{where}: 'version' must be a short string, such as \"2026.1\"")
    seen: set[str] = set()
    dimensions: dict[Dimension, tuple[Kpi, ...]] = {}
    for dimension in Dimension:
        entries = data.get(dimension.value)
        if not isinstance(entries, list) or not entries:
            raise FrameworkError(f"{where}: [[{dimension.value}]] needs at least one KPI")
        if len(entries) > MAX_KPIS_PER_DIMENSION:
            raise FrameworkError(
                f"{where}: {dimension.value} has {len(entries)} KPIs; at most {MAX_KPIS_PER_DIMENSION}"
            )
        kpis = []
        for index, entry in enumerate(entries, start=1):
            kpi = _parse_kpi(entry, dimension, f"{where}: {dimension.value} KPI #{index}")
            if kpi.key in seen:
                raise FrameworkError(f"{where}: KPI key {kpi.key!r} is used twice")
            seen.add(kpi.key)
            kpis.append(kpi)
        dimensions[dimension] = tuple(kpis)
    return Framework(
        version=version,
        delivery=dimensions[Dimension.DELIVERY],
        leadership=dimensions[Dimension.LEADERSHIP],
    )


def _parse_kpi(entry: Any, dimension: Dimension, where: str) -> Kpi:
    if not isinstance(entry, dict):
        raise FrameworkError(f"{where}: must be a table with key, label and kind")
    key, label = entry.get("key"), entry.get("label")
    kind, description = entry.get("kind", "scale"), entry.get("description", "")
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise FrameworkError(
            f"{where}: 'key' must be lowercase letters, digits or _ (up to 40), got {shown(key)}"
        )
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_MAX:
        raise FrameworkError(f"{where} ({key}): 'label' must be 1 to {LABEL_MAX} characters")
    if not isinstance(kind, str) or kind not in {k.value for k in KpiKind}:
        raise FrameworkError(f'{where} ({key}): \'kind\' must be "scale" or "outcome", got {shown(kind)}')
    if kind == KpiKind.OUTCOME and dimension is Dimension.LEADERSHIP:
        raise FrameworkError(f"{where} ({key}): leadership KPIs are rated on the 1-5 scale")
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        raise FrameworkError(
            f"{where} ({key}): 'description' must be text up to {DESCRIPTION_MAX} characters"
        )
    return Kpi(key=key, label=label.strip(), kind=KpiKind(kind), dimension=dimension, description=description)
