"""A warm start is a start: the same output, exit status and environment as ``python -m bot``."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests import warm

BASE = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["tick", "--help"], ["tick"], ["db", "upgrade"]],
    ids=["version", "help", "no token", "no database url"],
)
def test_warm_and_cold_starts_answer_alike(argv: list[str], tmp_path: Path) -> None:
    cold = warm.run(argv, env=BASE, cwd=tmp_path, cold=True)
    hot = warm.run(argv, env=BASE, cwd=tmp_path, cold=False)
    assert (hot.returncode, hot.stdout, hot.stderr) == (cold.returncode, cold.stdout, cold.stderr)


def test_a_warm_child_sees_only_the_environment_it_is_given(tmp_path: Path) -> None:
    """Settings come from the child's own environment and working directory: a second start
    with another token is refused for that token, not served with the first one's."""
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-your-token\n")
    first = warm.run(["tick"], env=BASE, cwd=tmp_path)
    assert first.returncode == 2 and "placeholder" in first.stderr
    second = warm.run(["tick"], env={**BASE, "SLACK_BOT_TOKEN": "nonsense"}, cwd=tmp_path)
    assert second.returncode == 2 and "SLACK_BOT_TOKEN" in second.stderr
    assert "placeholder" not in second.stderr


def test_a_warm_child_can_be_killed_and_says_so(tmp_path: Path, database_url: str) -> None:
    env = {
        **BASE,
        "SLACK_BOT_TOKEN": "xoxb-1-2",
        "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # nothing listens: serve warns and goes on
        "DATABASE_URL": database_url,
    }
    process = warm.popen(
        ["serve", "--port", "0", "--no-scheduler"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    assert "listening on" in process.stdout.readline()
    assert process.poll() is None
    process.kill()
    assert process.wait(timeout=10) == -signal.SIGKILL
