"""Settings: every variable's error path, as a unit and through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import CoachMode, Need, SettingsError, load_settings
from tests.cli import brickwork

GOOD = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "s3cr3t", "SLACK_APP_TOKEN": "xapp-1-abc"}


def test_defaults() -> None:
    settings = load_settings({})
    assert settings.database_url == "sqlite:///brickwork.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.brickwork_coach is CoachMode.AUTO
    assert settings.brickwork_debrief_window_days == 7
    assert not settings.coach_uses_llm
    assert settings.brickwork_weekly_digest  # on unless turned off


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", "not a url", "DATABASE_URL is invalid"),
        ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL is invalid"),
        ("DATABASE_URL", "postgresql+asyncpg://u@h/db", "DATABASE_URL is invalid"),
        ("DATABASE_URL", "postgresql://u@h", "DATABASE_URL is invalid"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN is invalid"),
        ("SLACK_APP_TOKEN", "xoxb-1", "SLACK_APP_TOKEN is invalid"),
        ("DATABASE_URL", "postgresql+psycopg2://u@h/db", "DATABASE_URL is invalid (the driver psycopg2"),
        ("SLACK_API_URL", "slack.com/api", "SLACK_API_URL is invalid"),
        ("OPENAI_BASE_URL", "localhost:11434", "OPENAI_BASE_URL is invalid"),
        ("BRICKWORK_COACH", "smart", "BRICKWORK_COACH is invalid: expected one of auto, llm, offline"),
        ("BRICKWORK_FRAMEWORK_FILE", "/no/such/file.toml", "BRICKWORK_FRAMEWORK_FILE is invalid"),
        ("BRICKWORK_LEARNING_FILE", "/no/such/file.toml", "BRICKWORK_LEARNING_FILE is invalid"),
        ("BRICKWORK_DEBRIEF_WINDOW_DAYS", "0", "BRICKWORK_DEBRIEF_WINDOW_DAYS is invalid"),
        ("BRICKWORK_DEBRIEF_WINDOW_DAYS", "a week", "BRICKWORK_DEBRIEF_WINDOW_DAYS is invalid"),
        ("BRICKWORK_TICK_SECONDS", "1", "BRICKWORK_TICK_SECONDS is invalid"),
        ("BRICKWORK_LOG_LEVEL", "LOUD", "BRICKWORK_LOG_LEVEL is invalid"),
        ("PORT", "70000", "PORT is invalid"),
        ("BRICKWORK_ADMINS", "U123, maya@example.com", "BRICKWORK_ADMINS is invalid"),
        ("BRICKWORK_ADMINS", "<@U123>", "BRICKWORK_ADMINS is invalid"),
        ("OPENAI_TIMEOUT_SECONDS", "0", "OPENAI_TIMEOUT_SECONDS is invalid: expected a number of seconds"),
        ("OPENAI_TIMEOUT_SECONDS", "soon", "OPENAI_TIMEOUT_SECONDS is invalid"),
        ("OPENAI_MAX_RETRIES", "9", "OPENAI_MAX_RETRIES is invalid: expected a whole number from 0 to 5"),
        ("OPENAI_MAX_TOKENS", "0", "OPENAI_MAX_TOKENS is invalid: expected a whole number of tokens"),
        ("OPENAI_RESPONSE_FORMAT", "xml", "OPENAI_RESPONSE_FORMAT is invalid: expected one of auto,"),
        ("BRICKWORK_WORKING_DAYS", "weekdays", "BRICKWORK_WORKING_DAYS is invalid: expected days of"),
        ("BRICKWORK_WORKING_DAYS", "", "BRICKWORK_WORKING_DAYS is invalid"),
        ("OPENAI_MODEL", "", "OPENAI_MODEL is invalid"),
        ("BRICKWORK_WEEKLY_DIGEST", "maybe", "BRICKWORK_WEEKLY_DIGEST is invalid: expected on or off"),
    ],
)
def test_each_setting_has_a_clear_error(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_secrets_are_never_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"SLACK_BOT_TOKEN": "not-a-bot-token-but-secret"})
    assert "not-a-bot-token-but-secret" not in str(caught.value)
    assert "secret" not in repr(load_settings(GOOD)).lower().replace("signing_secret", "")


def test_normalises_what_operators_paste() -> None:
    settings = load_settings(
        {"DATABASE_URL": "postgres://u:p@h:5432/db", "SLACK_API_URL": "http://127.0.0.1:9/api"}
    )
    assert settings.database_url == "postgresql+psycopg://u:p@h:5432/db"
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    blank = load_settings(
        {"SLACK_BOT_TOKEN": "", "BRICKWORK_FRAMEWORK_FILE": "  ", "BRICKWORK_COACH": "OFFLINE"}
    )
    assert blank.slack_bot_token is None and blank.brickwork_framework_file is None
    assert blank.brickwork_coach is CoachMode.OFFLINE


def test_admins_are_a_list_of_user_ids() -> None:
    assert load_settings({"BRICKWORK_ADMINS": " U0MAYA ,W0ALICE,, "}).admins == {"U0MAYA", "W0ALICE"}
    assert load_settings({}).admins == frozenset()


@pytest.mark.parametrize(
    ("name", "value", "need", "expected"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-your-token", Need.BOT_TOKEN, "is still the placeholder from .env.example"),
        ("SLACK_SIGNING_SECRET", "your-signing-secret", Need.SIGNING_SECRET, "is still the placeholder"),
        ("SLACK_APP_TOKEN", "xapp-your-token", Need.APP_TOKEN, "is still the placeholder from .env.example"),
        ("SLACK_BOT_TOKEN", "xoxb-…", Need.BOT_TOKEN, "is a placeholder, not a real value"),
        ("SLACK_SIGNING_SECRET", "changeme", Need.SIGNING_SECRET, "is a placeholder, not a real value"),
        ("SLACK_APP_TOKEN", "<your app token>", Need.APP_TOKEN, "is a placeholder, not a real value"),
    ],
)
def test_a_placeholder_counts_as_not_set_until_a_command_needs_it(
    name: str, value: str, need: Need, expected: str
) -> None:
    settings = load_settings({name: value})  # a command that does not need it runs
    assert getattr(settings, name.lower()) is None
    with pytest.raises(SettingsError) as caught:
        settings.require(need)
    assert str(caught.value).startswith(f"{name} {expected}")
    assert "\n" not in str(caught.value)


def test_require_names_the_missing_variable() -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-1"})
    settings.require(Need.BOT_TOKEN)
    with pytest.raises(SettingsError, match=r"^SLACK_SIGNING_SECRET is not set"):
        settings.require(Need.BOT_TOKEN | Need.SIGNING_SECRET)
    with pytest.raises(SettingsError, match=r"^SLACK_APP_TOKEN is not set"):
        settings.require(Need.APP_TOKEN)


def test_coach_mode() -> None:
    assert load_settings({"OPENAI_API_KEY": "sk-test"}).coach_uses_llm
    assert not load_settings({"OPENAI_API_KEY": "sk-test", "BRICKWORK_COACH": "offline"}).coach_uses_llm
    assert load_settings({"BRICKWORK_COACH": "llm"}).coach_uses_llm


# -- through the real command line ---------------------------------------------------------


def _one_line_exit_2(result, variable: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "variable"),
    [
        (["serve"], {"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
        (["serve"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        (["run"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN"),
        (["run"], {"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN"),
        (["tick"], {}, "SLACK_BOT_TOKEN"),
        (["scheduler"], {}, "SLACK_BOT_TOKEN"),
        (["db", "upgrade"], {"DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        (["serve"], {**GOOD, "BRICKWORK_COACH": "always"}, "BRICKWORK_COACH"),
        (["tick"], {"SLACK_BOT_TOKEN": "xoxb-1", "BRICKWORK_COACH": "llm"}, "OPENAI_API_KEY"),
        (["tick", "--now", "next tuesday"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "--now"),
    ],
)
def test_cli_refuses_bad_settings_in_one_line(
    args: list[str], env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}", **env}
    _one_line_exit_2(brickwork(*args, env=env, cwd=tmp_path), variable)


def test_tick_needs_the_bot_token_but_not_the_signing_secret_or_app_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert brickwork("db", "upgrade", env={"DATABASE_URL": url}, cwd=tmp_path).returncode == 0
    result = brickwork(
        "tick",
        "--now",
        "2026-12-01T10:00:00Z",
        env={"DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-1"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "0 due, 0 done, 0 failed" in result.stdout


def test_tick_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "SLACK_BOT_TOKEN": "xoxb-1"}
    _one_line_exit_2(brickwork("tick", env=env, cwd=tmp_path), "brickwork db upgrade")


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BRICKWORK_COACH=sometimes\nDATABASE_URL=sqlite:///from-dotenv.db\n")
    _one_line_exit_2(brickwork("db", "upgrade", cwd=tmp_path), "BRICKWORK_COACH")
    ok = brickwork("db", "upgrade", env={"BRICKWORK_COACH": "offline"}, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "from-dotenv.db").exists()


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = brickwork("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("demo", "run", "serve", "scheduler", "tick", "db"):
        assert command in result.stdout
