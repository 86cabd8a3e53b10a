"""The learning catalog: what the coach may recommend for each KPI. Loaded and validated at start.

Development comes mostly from experience, then from relationships, and least from courses (the
70-20-10 rule of thumb, Lombardo and Eichinger, Center for Creative Leadership); so the catalog
holds stretch assignments, practices and mentoring beside courses and books, and ``for_kpi``
lists experience first.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.framework import Framework, read_toml, short_version, shown

log = logging.getLogger(__name__)

MAX_ITEMS = 200
TITLE_MAX = 75  # Slack's option-text limit: a title is offered in a select
DESCRIPTION_MAX = 150
EFFORT_MAX = 40
URL_MAX = 3000  # Slack's limit for a button's url
_ID = re.compile(r"[a-z0-9_-]{1,40}")  # used with fullmatch: "$" would let a final newline in
_FIELDS = ("id", "title", "kind", "kpis", "description", "url", "effort")


class CatalogError(ValueError):
    """The learning catalog is not usable; the message says where and why."""


class LearningKind(enum.StrEnum):
    # Declared in the order the coach recommends them: experience first.
    STRETCH = "stretch"  # a stretch assignment
    PRACTICE = "practice"  # a habit to practise at work
    MENTORING = "mentoring"
    COURSE = "course"
    BOOK = "book"


_RANK = {kind: rank for rank, kind in enumerate(LearningKind)}


@dataclass(frozen=True)
class LearningItem:
    id: str
    title: str
    kind: LearningKind
    kpis: tuple[str, ...]
    description: str
    url: str | None = None
    effort: str | None = None


@dataclass(frozen=True)
class Catalog:
    version: str
    items: tuple[LearningItem, ...]
    _by_id: dict[str, LearningItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {item.id: item for item in self.items})

    def item(self, id: str) -> LearningItem:
        """The item with this id; ``KeyError`` when there is none."""
        return self._by_id[id]

    def for_kpi(self, key: str) -> tuple[LearningItem, ...]:
        """The items that develop ``key``, experience first: stretch, practice, mentoring, course,
        book; in file order within a kind."""
        return tuple(sorted((i for i in self.items if key in i.kpis), key=lambda i: _RANK[i.kind]))

    def __contains__(self, id: object) -> bool:
        return isinstance(id, str) and id in self._by_id

    def __len__(self) -> int:
        return len(self.items)


def load_catalog(path: Path | None, framework: Framework) -> Catalog:
    """Read the operator's file (strict), or the shipped default when ``path`` is None (lenient:
    it adapts to an operator's own framework instead of stopping Brickwork)."""
    data, where = read_toml(path, default="learning.toml", what="learning catalog", error=CatalogError)
    return parse_catalog(data, framework, where=where, strict=path is not None)


def parse_catalog(
    data: dict[str, Any], framework: Framework, *, where: str = "learning catalog", strict: bool = True
) -> Catalog:
    """Validate ``data`` (a parsed TOML document) against ``framework``.

    ``strict``: a KPI key the framework lacks is an error. Otherwise such tags are dropped, and
    so are items left with no KPI, with one warning.

    Whatever ``data`` holds, the result is a catalog or a ``CatalogError`` whose one-line message
    names the place, the item, the field and what it expects.
    """
    if not isinstance(data, dict):
        raise CatalogError(f"{where}: must be a TOML document with version and [[item]]")
    version = short_version(data.get("version"))
    if version is None:
        raise CatalogError(f"{where}: 'version' must be a short string, such as \"2026.1\"")
    entries = data.get("item")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{where}: [[item]] needs at least one learning item")
    if len(entries) > MAX_ITEMS:
        raise CatalogError(f"{where}: {len(entries)} items; at most {MAX_ITEMS}")
    known = {kpi.key for kpi in framework.kpis}
    seen: set[str] = set()
    items: list[LearningItem] = []
    dropped = 0
    for index, entry in enumerate(entries, start=1):
        item = _parse_item(entry, f"{where}: item #{index}")
        if item.id in seen:
            raise CatalogError(f"{where}: item id {item.id!r} is used twice")
        seen.add(item.id)
        unknown = [key for key in item.kpis if key not in known]
        if unknown and strict:
            raise CatalogError(
                f"{where}: item #{index} ({item.id}): KPI {shown(unknown[0])} is not in the framework "
                f"(version {framework.version}: {', '.join(kpi.key for kpi in framework.kpis)})"
            )
        if unknown:
            kept = tuple(key for key in item.kpis if key in known)
            if not kept:
                dropped += 1
                continue
            item = replace(item, kpis=kept)
        items.append(item)
    if dropped:
        log.warning(
            "%s: %d of %d items left out, none of their KPIs is in framework %s",
            where,
            dropped,
            len(entries),
            framework.version,
        )
    return Catalog(version=version, items=tuple(items))


def _parse_item(entry: Any, where: str) -> LearningItem:
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: must be a table with id, title, kind, kpis and description")
    id = entry.get("id")
    if not isinstance(id, str) or not _ID.fullmatch(id):
        raise CatalogError(
            f"{where}: 'id' must be lowercase letters, digits, - or _ (up to 40), got {shown(id)}"
        )
    where = f"{where} ({id})"
    extra = sorted(set(entry) - set(_FIELDS))
    if extra:
        raise CatalogError(f"{where}: unknown field {shown(extra[0])}; expected {', '.join(_FIELDS)}")
    title, kind, description = entry.get("title"), entry.get("kind"), entry.get("description")
    kpis, url, effort = entry.get("kpis"), entry.get("url"), entry.get("effort")
    if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX:
        raise CatalogError(f"{where}: 'title' must be 1 to {TITLE_MAX} characters")
    if not isinstance(kind, str) or kind not in {k.value for k in LearningKind}:
        raise CatalogError(f"{where}: 'kind' must be one of {', '.join(LearningKind)}, got {shown(kind)}")
    if not isinstance(kpis, list) or not kpis or not all(isinstance(k, str) and k.strip() for k in kpis):
        raise CatalogError(f"{where}: 'kpis' must be a non-empty list of KPI keys, such as [\"quality\"]")
    if not isinstance(description, str) or not description.strip() or len(description) > DESCRIPTION_MAX:
        raise CatalogError(f"{where}: 'description' must be 1 to {DESCRIPTION_MAX} characters")
    if url is not None and not _is_http_url(url):
        raise CatalogError(
            f"{where}: 'url' must be an http(s) address such as https://example.com/, got {shown(url)}"
        )
    if effort is not None and (not isinstance(effort, str) or not effort.strip() or len(effort) > EFFORT_MAX):
        raise CatalogError(f"{where}: 'effort' must be 1 to {EFFORT_MAX} characters, such as \"2 weeks\"")
    return LearningItem(
        id=id,
        title=title.strip(),
        kind=LearningKind(kind),
        kpis=tuple(dict.fromkeys(k.strip() for k in kpis)),  # a key listed twice counts once
        description=description.strip(),
        url=url,
        effort=effort.strip() if effort is not None else None,
    )


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > URL_MAX or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)
