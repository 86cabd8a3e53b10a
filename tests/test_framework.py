"""The competency framework file: the default, and every way an operator's file can be wrong."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from bot.framework import Dimension, FrameworkError, KpiKind, load_framework, parse_framework
from tests.cli import brickwork

VALID = """
version = "acme-1"
[[delivery]]
key = "shipped"
label = "Shipped"
kind = "outcome"
[[leadership]]
key = "coaches"
label = "Coaches others"
"""


def test_default_framework_has_both_dimensions() -> None:
    framework = load_framework()
    assert [k.key for k in framework.delivery] == ["target", "quality", "timeliness"]
    assert framework.kpi("target").kind is KpiKind.OUTCOME
    assert {k.key for k in framework.leadership} == {
        "inspires",
        "decides",
        "innovates",
        "collaborates",
        "delegates",
        "motivates",
    }
    assert all(k.dimension is Dimension.LEADERSHIP and k.allows_not_observed for k in framework.leadership)
    assert not any(k.allows_not_observed for k in framework.delivery)


def test_an_operators_file_replaces_the_default(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(VALID)
    framework = load_framework(path)
    assert framework.version == "acme-1"
    assert [k.key for k in framework.kpis] == ["shipped", "coaches"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = ", "not valid TOML"),
        ('version = "1"\n[[leadership]]\nkey="a"\nlabel="A"', "[[delivery]] needs at least one KPI"),
        (VALID.replace('"shipped"', '"Shipped Now"'), "'key' must be lowercase"),
        (VALID.replace('key = "coaches"', 'key = "shipped"'), "used twice"),
        (VALID.replace('"Coaches others"', '"' + "x" * 76 + '"'), "'label' must be 1 to 75"),
        (VALID.replace('kind = "outcome"', 'kind = "stars"'), "'kind' must be"),
        (VALID + 'kind = "outcome"\n', "leadership KPIs are rated on the 1-5 scale"),
        (VALID.replace('version = "acme-1"', ""), "'version'"),
        (VALID + "".join(f'[[leadership]]\nkey = "k{i}"\nlabel = "K{i}"\n' for i in range(8)), "at most 8"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(FrameworkError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_framework(path)


def test_entries_must_be_tables() -> None:
    with pytest.raises(FrameworkError, match="must be a table"):
        parse_framework({"version": "1", "delivery": ["quality"], "leadership": []})


# -- a value of the wrong type anywhere: one line naming the field, never a traceback ------------

GOOD: dict[str, Any] = {
    "version": "acme-1",
    "delivery": [{"key": "shipped", "label": "Shipped", "kind": "outcome", "description": "Out."}],
    "leadership": [{"key": "coaches", "label": "Coaches others"}],
}
# What tomllib gives for values that are not strings: numbers, booleans, dates, arrays, tables.
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ODD: list[Any] = [3, 1.5, float("nan"), True, WHEN, date(2026, 1, 2), time(3, 4), [], ["a"], {}, {"x": 1}]


def _with(value: Any, *path: str | int) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return data


def _cases(path: tuple[str | int, ...], values: list[Any], message: str) -> list[Any]:
    return [pytest.param(_with(v, *path), message, id=f"{path[-1]}={v!r}"[:60]) for v in values]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        *_cases(
            ("version",),
            [1.5, True, WHEN, date(2026, 1, 1), [], ["1"], {"v": 1}, "1\n2", 10**40],
            "acme.toml: 'version' must be a short string",
        ),
        *_cases(
            ("delivery",),
            ["shipped", 3, True, WHEN, {"key": "shipped", "label": "S"}, []],
            r"acme.toml: \[\[delivery\]\] needs at least one KPI",
        ),
        *_cases(
            ("leadership",),
            ["coaches", 2.5, {}, []],
            r"acme.toml: \[\[leadership\]\] needs at least one KPI",
        ),
        *_cases(
            ("delivery", 0),
            ["shipped", 3, WHEN, [], [{"key": "shipped"}]],
            "acme.toml: delivery KPI #1: must be a table with key, label and kind",
        ),
        *_cases(
            ("delivery", 0, "key"),
            [*ODD, "shipped\n", "x" * 5000, "a\rb"],
            "acme.toml: delivery KPI #1: 'key' must be lowercase letters, digits or _ .*, got ",
        ),
        *_cases(
            ("delivery", 0, "label"),
            ODD,
            r"acme.toml: delivery KPI #1 \(shipped\): 'label' must be 1 to 75 characters",
        ),
        *_cases(
            ("delivery", 0, "kind"),
            [*ODD, ["outcome"], {"outcome": True}, "outcome\n" * 50],
            r"acme.toml: delivery KPI #1 \(shipped\): 'kind' must be \"scale\" or \"outcome\", got ",
        ),
        *_cases(
            ("leadership", 0, "kind"),
            [["scale"], {"scale": 1}, 5],
            r"acme.toml: leadership KPI #1 \(coaches\): 'kind' must be \"scale\" or \"outcome\"",
        ),
        *_cases(
            ("delivery", 0, "description"),
            ODD,
            r"acme.toml: delivery KPI #1 \(shipped\): 'description' must be text up to 150",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_in_one_line(data: dict[str, Any], message: str) -> None:
    with pytest.raises(FrameworkError, match=f"^{message}") as caught:
        parse_framework(data, where="acme.toml")
    text = str(caught.value)
    assert text.isprintable() and len(text) < 200, text  # one line: no newline, no control character


def test_a_wrong_value_is_shown_escaped_and_cut_short() -> None:
    with pytest.raises(FrameworkError) as caught:
        parse_framework(_with("bad\nkey" * 100, "delivery", 0, "key"), where="acme.toml")
    shown = str(caught.value).split(", got ", 1)[1]
    assert shown.startswith(r"'bad\nkeybad\nkey") and shown.endswith(r"bad\nkey'") and "..." in shown
    assert len(shown) <= 60
    with pytest.raises(FrameworkError, match=r"'kind' must be \"scale\" or \"outcome\", got \['outcome'\]$"):
        parse_framework(_with(["outcome"], "delivery", 0, "kind"))


def test_an_integer_version_is_still_a_string() -> None:
    assert parse_framework(_with(3, "version")).version == "3"
    assert parse_framework(_with(" 2026.1 ", "version")).version == "2026.1"


def test_a_bad_framework_file_stops_the_program_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(VALID.replace('kind = "outcome"', 'kind = "stars"'))
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "BRICKWORK_FRAMEWORK_FILE": str(path),
    }
    assert brickwork("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    result = brickwork("tick", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "BRICKWORK_FRAMEWORK_FILE" in result.stderr and "'kind' must be" in result.stderr


def test_a_wrongly_typed_framework_file_stops_the_program_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(VALID.replace('kind = "outcome"', 'kind = ["outcome"]'))
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "BRICKWORK_FRAMEWORK_FILE": str(path),
    }
    assert brickwork("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    result = brickwork("tick", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith(
        f"brickwork: BRICKWORK_FRAMEWORK_FILE: {path}: delivery KPI #1 (shipped): "
    )
    assert "'kind' must be \"scale\" or \"outcome\", got ['outcome']" in result.stderr
    assert "Traceback" not in result.stderr
