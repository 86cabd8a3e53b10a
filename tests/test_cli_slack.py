"""The long-running commands against the stand-in: wrong tokens are one clear line at start."""

from __future__ import annotations

from pathlib import Path

from bot.standin.webapi import FakeSlack
from tests.cli import brickwork


def _env(slack: FakeSlack, tmp_path: Path) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-test-0000",
        "SLACK_SIGNING_SECRET": "s3cr3t-for-tests",
        "SLACK_APP_TOKEN": "xapp-1-test",
        "SLACK_API_URL": slack.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
        "BRICKWORK_LOG_LEVEL": "WARNING",
    }


def test_serve_refuses_a_bot_token_slack_rejects(slack: FakeSlack, tmp_path: Path) -> None:
    slack.fail_next("auth.test", error="invalid_auth")
    result = brickwork("serve", "--port", "0", env=_env(slack, tmp_path), cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == "brickwork: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"
    assert [c.method for c in slack.calls] == ["auth.test"]


def test_run_refuses_an_app_token_slack_rejects(slack: FakeSlack, tmp_path: Path) -> None:
    result = brickwork("run", env=_env(slack, tmp_path), cwd=tmp_path, timeout=30)
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr.strip().splitlines()[-1]
        == "brickwork: SLACK_APP_TOKEN was refused by Slack (invalid_auth)"
    )
    assert "Traceback" not in result.stderr
    assert [c.method for c in slack.calls][:2] == ["auth.test", "apps.connections.open"]
