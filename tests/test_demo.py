"""`brickwork demo`, as a newcomer runs it: no token, no settings, an empty folder."""

from __future__ import annotations

from pathlib import Path

from matplotlib.image import imread

from tests.cli import brickwork


def test_the_demo_runs_the_whole_product_offline(tmp_path: Path) -> None:
    result = brickwork("demo", env={}, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for step in (
        "=== Maya runs /debrief",
        "sees her debrief DM",
        "*New anonymous feedback* from 3 people",
        "shared coaching with you",
        "offline coach",
        "You found this useful",
        "=== Alice runs /growth",
        "*Blind spots*",
        "*Motivates*: you rate yourself 5; others, calibrated, 4.0",
        "=== Maya's team in the talent review",
        "Leadership ↑ · delivery →",
        "Your team's leadership pipeline",
        f"The map as a picture: {tmp_path / 'brickwork-demo-map.png'}",
    ):
        assert step in out, step
    assert out.rstrip().endswith("0 rejected by the stand-in's checks.")
    assert "Traceback" not in result.stderr
    # It leaves nothing behind but the picture it says it drew.
    assert list(tmp_path.iterdir()) == [tmp_path / "brickwork-demo-map.png"]
    assert imread(tmp_path / "brickwork-demo-map.png").shape[:2] == (800, 1100)
