"""The competency framework file: the default, and every way an operator's file can be wrong."""

from __future__ import annotations

from pathlib import Path

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
