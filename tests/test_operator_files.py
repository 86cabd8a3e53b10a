"""Files an operator trusts fail cleanly: whatever a framework or learning-catalog TOML file holds,
loading it gives a framework or catalog, or one printable line naming where and why; never a
traceback."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.coaching.catalog import CatalogError, load_catalog, parse_catalog
from bot.framework import FrameworkError, load_framework, parse_framework

DEFAULT = load_framework()
MESSAGE_MAX = 400

FRAMEWORK: dict[str, Any] = {
    "version": "acme-1",
    "delivery": [
        {"key": "shipped", "label": "Shipped", "kind": "outcome", "description": "Out."},
        {"key": "quality", "label": "Quality"},
    ],
    "leadership": [{"key": "coaches", "label": "Coaches others", "kind": "scale"}],
}
CATALOG: dict[str, Any] = {
    "version": "2026.1",
    "item": [
        {"id": "book-a", "title": "A", "kind": "book", "kpis": ["quality"], "description": "Read."},
        {
            "id": "stretch-a",
            "title": "B",
            "kind": "stretch",
            "kpis": ["quality", "decides"],
            "description": "Do.",
            "url": "https://example.com/",
            "effort": "2 weeks",
        },
    ],
}
FIELDS = [
    "version", "delivery", "leadership", "item",
    "key", "label", "kind", "description",
    "id", "title", "kpis", "url", "effort",
]  # fmt: skip
WORDS = ["outcome", "scale", "book", "stretch", "quality", "decides", "https://example.com/", "2026.1", ""]

# Every value tomllib.loads can give: strings, 64-bit integers, floats (inf and nan too), booleans,
# offset and local date-times, dates, times; arrays and tables of them, nested.
scalars = st.one_of(
    st.text(max_size=80),
    st.sampled_from(WORDS),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.times(),
)
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=20,
)
# Documents of any shape, and documents shaped like the files (tables of the files' field names)
# so that the checks deep inside an entry are reached too.
near = st.one_of(st.sampled_from(WORDS), values)
entry = st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS[4:], near))
entries = st.lists(entry, max_size=3)
documents = st.one_of(
    st.dictionaries(keys, values, max_size=6),
    st.fixed_dictionaries(
        {},
        optional={
            "version": near,
            "delivery": st.one_of(entries, values),
            "leadership": st.one_of(entries, values),
            "item": st.one_of(entries, values),
        },
    ),
)


def _fails_cleanly(parse: Callable[[], object], error: type[Exception]) -> None:
    """``parse()`` succeeds or raises ``error`` with one printable line; anything else escapes
    and fails the test."""
    try:
        parse()
    except error as caught:
        message = str(caught)
        assert message.isprintable(), message  # no newline, carriage return or control character
        assert message.startswith("acme.toml: ") and len(message) < MESSAGE_MAX, message


@settings(max_examples=200, deadline=None)
@given(documents)
def test_any_document_gives_a_framework_or_one_line(data: dict[str, Any]) -> None:
    _fails_cleanly(lambda: parse_framework(data, where="acme.toml"), FrameworkError)


@settings(max_examples=200, deadline=None)
@given(documents, st.booleans())
def test_any_document_gives_a_catalog_or_one_line(data: dict[str, Any], strict: bool) -> None:
    _fails_cleanly(lambda: parse_catalog(data, DEFAULT, where="acme.toml", strict=strict), CatalogError)


NEW = object()  # a place for a field the document does not have yet


def _places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a parsed document one value can go: each field and array element at any
    depth, and a new field in each table."""
    places = [path] if path else []
    if isinstance(node, dict):
        places.append((*path, NEW))
        for key, value in node.items():
            places += _places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            places += _places(value, (*path, index))
    return places


def _mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with one value, anywhere in it, replaced by an arbitrary TOML value or deleted,
    or with one field added."""
    places = _places(base)

    @st.composite
    def mutate(draw: st.DrawFn) -> dict[str, Any]:
        data = copy.deepcopy(base)
        *path, last = draw(st.sampled_from(places))
        target: Any = data
        for step in path:
            target = target[step]
        if last is NEW:
            last = draw(keys)
        if draw(st.integers(0, 3)) == 0 and isinstance(target, dict) and last in target:
            del target[last]
        else:
            target[last] = draw(values)
        return data

    return mutate()


@settings(max_examples=200, deadline=None)
@given(_mutated(FRAMEWORK))
def test_a_valid_framework_with_one_value_changed_gives_a_framework_or_one_line(
    data: dict[str, Any],
) -> None:
    _fails_cleanly(lambda: parse_framework(data, where="acme.toml"), FrameworkError)


@settings(max_examples=200, deadline=None)
@given(_mutated(CATALOG), st.booleans())
def test_a_valid_catalog_with_one_value_changed_gives_a_catalog_or_one_line(
    data: dict[str, Any], strict: bool
) -> None:
    _fails_cleanly(lambda: parse_catalog(data, DEFAULT, where="acme.toml", strict=strict), CatalogError)


def test_the_unchanged_documents_are_valid() -> None:
    # The mutation tests start from documents that load, so a failure is the mutation's doing.
    assert [k.key for k in parse_framework(FRAMEWORK).kpis] == ["shipped", "quality", "coaches"]
    assert [i.id for i in parse_catalog(CATALOG, DEFAULT).items] == ["book-a", "stretch-a"]


# -- from a file on disk, as Brickwork reads it ---------------------------------------------------

FRAMEWORK_FILE = """
version = "acme-1"
[[delivery]]
key = "shipped"
label = "Shipped"
kind = "outcome"
[[leadership]]
key = "coaches"
label = "Coaches others"
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('kind = "outcome"', 'kind = ["outcome"]'),
            "'kind' must be \"scale\" or \"outcome\", got ['outcome']",
        ),
        (('kind = "outcome"', "kind = { outcome = true }"), "got {'outcome': True}"),
        (('version = "acme-1"', "version = 2026-01-01"), "'version' must be a short string"),
        (('version = "acme-1"', "version = true"), "'version' must be a short string"),
        (('label = "Shipped"', 'label = ["Shipped"]'), "'label' must be 1 to 75 characters"),
        (
            ('key = "shipped"', 'key = "shipped\\n"'),
            r"'key' must be lowercase letters, digits or _ (up to 40), got 'shipped\n'",
        ),
    ],
)
def test_a_framework_file_with_a_wrong_type_fails_in_one_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "framework.toml"
    assert FRAMEWORK_FILE.replace(*change) != FRAMEWORK_FILE
    path.write_text(FRAMEWORK_FILE.replace(*change))
    with pytest.raises(FrameworkError) as caught:
        load_framework(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and text.isprintable(), text


CATALOG_FILE = """
version = "2026.1"
[[item]]
id = "book-a"
title = "A book"
kind = "book"
kpis = ["quality"]
description = "Read it."
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('kind = "book"', "kind = 3"),
            "'kind' must be one of stretch, practice, mentoring, course, book, got 3",
        ),
        (('kind = "book"', 'kind = ["book"]'), "got ['book']"),
        (('kpis = ["quality"]', "kpis = [{x = 1}]"), "'kpis' must be a non-empty list of KPI keys"),
        (('kpis = ["quality"]', 'kpis = [["quality"]]'), "'kpis' must be a non-empty list of KPI keys"),
        (('kpis = ["quality"]', 'kpis = "quality"'), "'kpis' must be a non-empty list of KPI keys"),
        (
            ('description = "Read it."', "description = 1979-05-27T07:32:00Z"),
            "'description' must be 1 to 150",
        ),
        (('title = "A book"', "title = 0.5"), "'title' must be 1 to 75 characters"),
        (
            ('kind = "book"', 'kind = "book"\nurl = ["https://example.com/"]'),
            "'url' must be an http(s) address",
        ),
        (('kind = "book"', 'kind = "book"\neffort = 2'), "'effort' must be 1 to 40 characters"),
        (('version = "2026.1"', "version = 1.5"), "'version' must be a short string"),
        (
            ('id = "book-a"', "id = 7"),
            "item #1: 'id' must be lowercase letters, digits, - or _ (up to 40), got 7",
        ),
    ],
)
def test_a_learning_file_with_a_wrong_type_fails_in_one_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "learning.toml"
    assert CATALOG_FILE.replace(*change) != CATALOG_FILE
    path.write_text(CATALOG_FILE.replace(*change))
    with pytest.raises(CatalogError) as caught:
        load_catalog(path, DEFAULT)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and text.isprintable(), text


def test_the_unchanged_files_load(tmp_path: Path) -> None:
    (tmp_path / "framework.toml").write_text(FRAMEWORK_FILE)
    (tmp_path / "learning.toml").write_text(CATALOG_FILE)
    assert load_framework(tmp_path / "framework.toml").version == "acme-1"
    assert len(load_catalog(tmp_path / "learning.toml", DEFAULT)) == 1


def test_a_path_with_a_newline_still_fails_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "no\nsuch.toml"
    with pytest.raises(FrameworkError, match="cannot read it") as caught:
        load_framework(path)
    assert str(caught.value).isprintable()
    with pytest.raises(CatalogError, match="cannot read it") as caught_too:
        load_catalog(path, DEFAULT)
    assert str(caught_too.value).isprintable()
