"""The learning catalog: the default, every way an operator's file can be wrong, and the default
adapting to an operator's own framework."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from bot.coaching.catalog import (
    MAX_ITEMS,
    Catalog,
    CatalogError,
    LearningItem,
    LearningKind,
    load_catalog,
    parse_catalog,
)
from bot.framework import Framework, load_framework, parse_framework
from tests.cli import brickwork

DEFAULT = load_framework()

# An operator's framework that shares one KPI key ("quality") with the default.
ACME = parse_framework(
    {
        "version": "acme-1",
        "delivery": [
            {"key": "shipped", "label": "Shipped", "kind": "outcome"},
            {"key": "quality", "label": "Q"},
        ],
        "leadership": [{"key": "coaches", "label": "Coaches others"}],
    }
)


def _item(id: str, kind: str, kpis: list[str], **extra: Any) -> dict[str, Any]:
    return {"id": id, "title": id.title(), "kind": kind, "kpis": kpis, "description": f"Do {id}.", **extra}


BASE: dict[str, Any] = {
    "version": "2026.1",
    "item": [
        _item("book-a", "book", ["quality"]),
        _item("course-a", "course", ["quality", "decides"]),
        _item("stretch-a", "stretch", ["quality"], effort="2 weeks"),
        _item("mentor-a", "mentoring", ["decides"]),
        _item("practice-a", "practice", ["quality"], url="https://example.com/practice"),
        _item("stretch-b", "stretch", ["quality"]),
        _item("practice-b", "practice", ["decides"]),
    ],
}


def _edited(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def _set(field: str, value: Any, index: int = 0) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["item"][index][field] = value

    return change


def _drop(field: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        if field in data:
            del data[field]
        else:
            del data["item"][0][field]

    return change


# -- the default catalog -------------------------------------------------------------------------


def test_the_default_catalog_covers_every_default_kpi_with_experience_and_more() -> None:
    catalog = load_catalog(None, DEFAULT)
    assert catalog.version and 25 <= len(catalog.items) <= 40
    for kpi in DEFAULT.kpis:
        items = catalog.for_kpi(kpi.key)
        assert len(items) >= 3, kpi.key
        assert len({item.kind for item in items}) >= 2, kpi.key
        # 70-20-10: experience first, so every KPI starts with a stretch assignment or a practice.
        assert items[0].kind in {LearningKind.STRETCH, LearningKind.PRACTICE}, kpi.key
    assert {item.kind for item in catalog.items} == set(LearningKind)
    experience = sum(item.kind not in {LearningKind.COURSE, LearningKind.BOOK} for item in catalog.items)
    assert experience > len(catalog.items) / 2


def test_the_default_catalog_respects_slack_limits_and_names_book_authors() -> None:
    for item in load_catalog(None, DEFAULT).items:
        assert len(item.title) <= 75 and len(item.description) <= 150
        assert item.url is None or item.url.startswith("https://")
        if item.kind is LearningKind.BOOK:
            assert item.title.endswith(")") and "(" in item.title, item.title


# -- the model -----------------------------------------------------------------------------------


def test_for_kpi_lists_experience_first_and_keeps_file_order_within_a_kind() -> None:
    catalog = parse_catalog(BASE, DEFAULT)
    assert [i.id for i in catalog.for_kpi("quality")] == [
        "stretch-a",
        "stretch-b",
        "practice-a",
        "course-a",
        "book-a",
    ]
    assert [i.id for i in catalog.for_kpi("decides")] == ["practice-b", "mentor-a", "course-a"]
    assert catalog.for_kpi("delegates") == ()  # a KPI with no item gets no recommendation


def test_items_are_found_by_id() -> None:
    catalog = parse_catalog(BASE, DEFAULT)
    assert isinstance(catalog, Catalog)
    item = catalog.item("stretch-a")
    assert item == LearningItem(
        id="stretch-a",
        title="Stretch-A",
        kind=LearningKind.STRETCH,
        kpis=("quality",),
        description="Do stretch-a.",
        url=None,
        effort="2 weeks",
    )
    assert catalog.item("practice-a").url == "https://example.com/practice"
    assert "stretch-a" in catalog and "nothing" not in catalog and 3 not in catalog
    with pytest.raises(KeyError):
        catalog.item("nothing")


def test_a_kpi_listed_twice_counts_once_and_an_int_version_is_a_string() -> None:
    data = _edited(_set("kpis", ["quality", "decides", "quality"]))
    data["version"] = 3
    catalog = parse_catalog(data, DEFAULT)
    assert catalog.version == "3"
    assert catalog.item("book-a").kpis == ("quality", "decides")


# -- every way a catalog can be wrong ------------------------------------------------------------


def _too_many(data: dict[str, Any]) -> None:
    data["item"] = [_item(f"i{n}", "book", ["quality"]) for n in range(MAX_ITEMS + 1)]


def _duplicate(data: dict[str, Any]) -> None:
    data["item"][1]["id"] = "book-a"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_drop("version"), "'version' must be a short string"),
        (lambda d: d.update(version="v" * 33), "'version' must be a short string"),
        (lambda d: d.update(version="  "), "'version' must be a short string"),
        (_drop("item"), r"\[\[item\]\] needs at least one learning item"),
        (lambda d: d.update(item=[]), r"\[\[item\]\] needs at least one learning item"),
        (lambda d: d.update(item="book-a"), r"\[\[item\]\] needs at least one learning item"),
        (_too_many, f"{MAX_ITEMS + 1} items; at most {MAX_ITEMS}"),
        (lambda d: d["item"].append("a book"), "item #8: must be a table with id, title"),
        (_drop("id"), "item #1: 'id' must be lowercase letters, digits, - or _ .* got None"),
        (_set("id", "Book A"), "item #1: 'id' must be lowercase .* got 'Book A'"),
        (_set("id", "b" * 41), "item #1: 'id' must be lowercase .*up to 40"),
        (_duplicate, "item id 'book-a' is used twice"),
        (_set("kpi", ["quality"]), r"item #1 \(book-a\): unknown field 'kpi'; expected id, title"),
        (_drop("title"), r"item #1 \(book-a\): 'title' must be 1 to 75 characters"),
        (_set("title", "t" * 76), r"item #1 \(book-a\): 'title' must be 1 to 75 characters"),
        (_set("title", " "), r"item #1 \(book-a\): 'title' must be 1 to 75 characters"),
        (
            _drop("kind"),
            r"item #1 \(book-a\): 'kind' must be one of stretch, practice, mentoring, course, book, got None",
        ),
        (_set("kind", "video"), r"item #1 \(book-a\): 'kind' must be one of .* got 'video'"),
        (_drop("kpis"), r"item #1 \(book-a\): 'kpis' must be a non-empty list of KPI keys"),
        (_set("kpis", []), r"item #1 \(book-a\): 'kpis' must be a non-empty list of KPI keys"),
        (_set("kpis", "quality"), r"item #1 \(book-a\): 'kpis' must be a non-empty list of KPI keys"),
        (_set("kpis", ["quality", 3]), r"item #1 \(book-a\): 'kpis' must be a non-empty list of KPI keys"),
        (
            _set("kpis", ["quality", "charisma"]),
            r"item #1 \(book-a\): KPI 'charisma' is not in the framework",
        ),
        (_drop("description"), r"item #1 \(book-a\): 'description' must be 1 to 150 characters"),
        (_set("description", "d" * 151), r"item #1 \(book-a\): 'description' must be 1 to 150 characters"),
        (_set("url", "ftp://example.com/x"), r"item #1 \(book-a\): 'url' must be an http\(s\) address"),
        (
            _set("url", "www.example.com"),
            r"item #1 \(book-a\): 'url' must be an http\(s\) address .* got 'www.example.com'",
        ),
        (_set("url", "https://exa mple.com"), r"item #1 \(book-a\): 'url' must be an http\(s\) address"),
        (_set("url", "https://"), r"item #1 \(book-a\): 'url' must be an http\(s\) address"),
        (_set("url", 42), r"item #1 \(book-a\): 'url' must be an http\(s\) address"),
        (_set("effort", "e" * 41), r"item #1 \(book-a\): 'effort' must be 1 to 40 characters"),
        (_set("effort", ""), r"item #1 \(book-a\): 'effort' must be 1 to 40 characters"),
    ],
)
def test_bad_catalogs_are_refused_naming_where_and_why(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(CatalogError, match=f"^acme.toml: {message}"):
        parse_catalog(_edited(change), DEFAULT, where="acme.toml", strict=True)


# -- a value of the wrong type anywhere: one line naming the field, never a traceback ------------

# What tomllib gives for values that are not strings: numbers, booleans, dates, arrays, tables.
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ODD: list[Any] = [3, 1.5, float("nan"), True, WHEN, date(2026, 1, 2), time(3, 4), [], ["a"], {}, {"x": 1}]
_ITEM = r"acme.toml: item #1 \(book-a\): "


def _top(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.update({field: value})


def _cases(field: str, values: list[Any], message: str, set: Callable[[str, Any], Any] = _set) -> list[Any]:
    return [pytest.param(set(field, v), message, id=f"{field}={v!r}"[:60]) for v in values]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        *_cases(
            "version",
            [1.5, True, False, WHEN, date(2026, 1, 1), [], ["1"], {"v": 1}, "1\n2", "\x00", 10**40],
            "acme.toml: 'version' must be a short string",
            _top,
        ),
        *_cases(
            "item",
            ["book-a", 3, WHEN, {}, _item("book-a", "book", ["quality"])],
            r"acme.toml: \[\[item\]\] needs at least one learning item",
            _top,
        ),
        *_cases(
            "item",
            [[3], [WHEN], [[]], [["book-a"]]],
            "acme.toml: item #1: must be a table with id, title, kind, kpis and description",
            _top,
        ),
        *_cases(
            "id",
            [*ODD, "book-a\n", "b" * 5000, "\x1b[31m"],
            r"acme.toml: item #1: 'id' must be lowercase letters, digits, - or _ \(up to 40\), got ",
        ),
        *_cases("title", ODD, _ITEM + "'title' must be 1 to 75 characters"),
        *_cases(
            "kind",
            [*ODD, ["book"], {"book": True}, "book\n" * 50],
            _ITEM + "'kind' must be one of stretch, practice, mentoring, course, book, got ",
        ),
        *_cases(
            "kpis",
            [
                *(v for v in ODD if v != ["a"]),
                "quality",
                [3],
                [{"x": 1}],
                [["quality"]],
                ["quality", WHEN],
                [True],
                [" "],
            ],
            _ITEM + r"'kpis' must be a non-empty list of KPI keys, such as \[\"quality\"\]",
        ),
        *_cases(
            "kpis",
            [["a"], ["quality\n" * 200], ["\x1b[2J"]],
            _ITEM + "KPI '.*' is not in the framework",
        ),
        *_cases("description", ODD, _ITEM + "'description' must be 1 to 150 characters"),
        *_cases(
            "url",
            [*ODD, ["https://example.com/"], "https://example.com/\n", "https://e.com/" + "x" * 5000],
            _ITEM + r"'url' must be an http\(s\) address such as https://example.com/, got ",
        ),
        *_cases("effort", ODD, _ITEM + r"'effort' must be 1 to 40 characters, such as \"2 weeks\""),
        *_cases(
            "kpi\nnote" * 20,
            ["x"],
            _ITEM + r"unknown field 'kpi\\nnote.*'; expected id, title, kind, kpis, description, url, effort",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_in_one_line(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(CatalogError, match=f"^{message}") as caught:
        parse_catalog(_edited(change), DEFAULT, where="acme.toml", strict=True)
    text = str(caught.value)
    assert text.isprintable() and len(text) < 300, text  # one line: no newline, no control character


def test_a_wrong_value_is_shown_cut_short() -> None:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(_edited(_set("url", "https://e.com/" + "x" * 5000)), DEFAULT, where="acme.toml")
    shown = str(caught.value).split(", got ", 1)[1]
    assert shown.startswith("'https://e.com/xx") and "..." in shown and len(shown) <= 60
    with pytest.raises(CatalogError, match=r"'kind' must be one of .*, got \['book'\]$"):
        parse_catalog(_edited(_set("kind", ["book"])), DEFAULT)


def test_an_unknown_kpi_names_the_framework_keys() -> None:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(_edited(_set("kpis", ["charisma"])), DEFAULT, where="acme.toml", strict=True)
    assert "version 2026.1: target, quality, timeliness, inspires" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_files_that_cannot_be_read_or_parsed(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"missing.toml: cannot read it"):
        load_catalog(tmp_path / "missing.toml", DEFAULT)
    bad = tmp_path / "bad.toml"
    bad.write_text('version = "1"\n[[item]\n')
    with pytest.raises(CatalogError, match=r"bad.toml: not valid TOML"):
        load_catalog(bad, DEFAULT)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'version = "caf\xe9"\n')
    with pytest.raises(CatalogError, match=r"latin.toml: cannot read it"):
        load_catalog(latin, DEFAULT)


# -- strict for the operator's own file, lenient for the default ---------------------------------

OWN = """
version = "acme-learning-1"

[[item]]
id = "ship-a-thing"
title = "Ship one small thing end to end"
kind = "stretch"
kpis = ["shipped"]
description = "Take one small feature from idea to customers."
effort = "2 weeks"

[[item]]
id = "coach-one-person"
title = "Coach one junior colleague"
kind = "mentoring"
kpis = ["coaches", "quality"]
description = "Meet a junior colleague weekly and help them with a real problem."
"""


def test_an_operators_file_replaces_the_default(tmp_path: Path) -> None:
    path = tmp_path / "learning.toml"
    path.write_text(OWN)
    catalog = load_catalog(path, ACME)
    assert catalog.version == "acme-learning-1"
    assert [i.id for i in catalog.for_kpi("quality")] == ["coach-one-person"]
    assert catalog.item("ship-a-thing").effort == "2 weeks"


def test_an_operators_file_is_strict_about_kpi_keys(tmp_path: Path) -> None:
    path = tmp_path / "learning.toml"
    path.write_text(OWN)
    # The same file against the default framework: 'shipped' is not one of its KPIs.
    with pytest.raises(
        CatalogError, match=r"item #1 \(ship-a-thing\): KPI 'shipped' is not in the framework"
    ):
        load_catalog(path, DEFAULT)


def test_the_default_adapts_to_an_operators_framework(caplog: pytest.LogCaptureFixture) -> None:
    full = load_catalog(None, DEFAULT)
    with caplog.at_level(logging.WARNING, logger="bot.coaching.catalog"):
        catalog = load_catalog(None, ACME)
    kept = [i for i in full.items if "quality" in i.kpis]
    assert [i.id for i in catalog.items] == [i.id for i in kept]
    assert all(i.kpis == ("quality",) for i in catalog.items)  # foreign tags are dropped
    assert catalog.for_kpi("coaches") == ()  # a KPI with no item is fine
    warnings = [r for r in caplog.records if r.name == "bot.coaching.catalog"]
    assert len(warnings) == 1
    assert f"{len(full.items) - len(kept)} of {len(full.items)} items left out" in warnings[0].getMessage()


def test_lenient_parsing_may_leave_nothing_but_still_checks_the_rest() -> None:
    alien = _framework_with("alien")
    assert parse_catalog(BASE, alien, strict=False).items == ()
    with pytest.raises(CatalogError, match="'kind' must be"):
        parse_catalog(_edited(_set("kind", "video")), alien, strict=False)


def _framework_with(key: str) -> Framework:
    return parse_framework(
        {
            "version": "x",
            "delivery": [{"key": key, "label": key}],
            "leadership": [{"key": f"{key}_lead", "label": key}],
        }
    )


# -- through the real command line ---------------------------------------------------------------


def test_a_bad_learning_file_stops_the_program_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "learning.toml"
    path.write_text(OWN)  # KPIs of another framework: 'shipped' is unknown to the default
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "BRICKWORK_LEARNING_FILE": str(path),
    }
    assert brickwork("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    result = brickwork("tick", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("brickwork: BRICKWORK_LEARNING_FILE: ")
    assert "KPI 'shipped' is not in the framework" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'kind = ["stretch"]',
            "'kind' must be one of stretch, practice, mentoring, course, book, got ['stretch']",
        ),
        ("kpis = [{x = 1}]", "'kpis' must be a non-empty list of KPI keys"),
    ],
)
def test_a_wrongly_typed_learning_file_stops_the_program_without_a_traceback(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "learning.toml"
    field = line.split(" =")[0]
    text = (
        OWN.replace('kind = "stretch"', line) if field == "kind" else OWN.replace('kpis = ["shipped"]', line)
    )
    assert text != OWN
    path.write_text(text)
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "BRICKWORK_LEARNING_FILE": str(path),
    }
    assert brickwork("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    result = brickwork("tick", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith(f"brickwork: BRICKWORK_LEARNING_FILE: {path}: item #1 (ship-a-thing): ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
