"""The one settings object: every environment variable Brickwork reads is declared here.

Nothing below this module reads ``os.environ``. ``load_settings`` turns any problem into a
``SettingsError`` whose message is one line naming the variable and what is expected; the
CLI prints it and exits with status 2.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.text import is_slack_user_id
from bot.timekeeping import WorkingDays


class SettingsError(Exception):
    """A setting is missing or malformed; ``str(error)`` is the one line shown to the operator."""


class CoachMode(enum.StrEnum):
    AUTO = "auto"
    LLM = "llm"
    OFFLINE = "offline"


class ResponseFormat(enum.StrEnum):
    """How the coach asks an OpenAI-compatible server for JSON (``OPENAI_RESPONSE_FORMAT``)."""

    AUTO = "auto"  # json_schema, then json_object_schema, then json_object: each on a refusal
    JSON_SCHEMA = "json_schema"  # structured outputs (OpenAI, vLLM, recent llama.cpp)
    JSON_OBJECT_SCHEMA = "json_object_schema"  # JSON mode with the schema inline (llama-cpp-python)
    JSON_OBJECT = "json_object"  # plain JSON mode: the schema only in the prompt


class Need(enum.Flag):
    """What a command needs from Slack; checked by ``Settings.require``."""

    NOTHING = 0
    BOT_TOKEN = enum.auto()
    SIGNING_SECRET = enum.auto()
    APP_TOKEN = enum.auto()


# Environment variable name -> what we tell the operator when it is wrong.
EXPECTED: dict[str, str] = {
    "SLACK_BOT_TOKEN": "a bot token starting with xoxb- (OAuth & Permissions page of the Slack app)",
    "SLACK_SIGNING_SECRET": "the app's signing secret (Basic Information page of the Slack app)",
    "SLACK_APP_TOKEN": "an app-level token starting with xapp- (Basic Information page, App-Level Tokens)",
    "SLACK_API_URL": "an http(s) URL of the Slack Web API, such as https://slack.com/api/",
    "DATABASE_URL": "a database URL such as sqlite:///brickwork.db or postgresql://user@host:5432/brickwork",
    "OPENAI_API_KEY": "an API key for the OpenAI-compatible server",
    "OPENAI_BASE_URL": "an http(s) URL such as https://api.openai.com/v1",
    "OPENAI_MODEL": "a model name such as gpt-4o-mini",
    "OPENAI_TIMEOUT_SECONDS": "a number of seconds from 1 to 600",
    "OPENAI_MAX_RETRIES": "a whole number from 0 to 5",
    "OPENAI_MAX_TOKENS": "a whole number of tokens from 256 to 16000",
    "OPENAI_RESPONSE_FORMAT": "one of auto, json_schema, json_object_schema, json_object",
    "BRICKWORK_COACH": "one of auto, llm, offline",
    "BRICKWORK_FRAMEWORK_FILE": "the path of a competency framework TOML file",
    "BRICKWORK_LEARNING_FILE": "the path of a learning catalog TOML file",
    "BRICKWORK_TALENT_FILE": "the path of a talent review rules TOML file",
    "BRICKWORK_DEBRIEF_WINDOW_DAYS": "a whole number of days from 1 to 60",
    "BRICKWORK_WORKING_DAYS": "days of the week such as mon-fri, sun-thu or mon,tue,wed,thu",
    "BRICKWORK_WEEKLY_DIGEST": "on or off",
    "BRICKWORK_TICK_SECONDS": "a whole number of seconds from 5 to 3600",
    "BRICKWORK_SLACK_TIMEOUT_SECONDS": "a whole number of seconds from 1 to 30",
    "BRICKWORK_LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
    "PORT": "a TCP port from 0 to 65535",
    "BRICKWORK_ADMINS": "Slack user ids separated by commas, such as U012AB3CD,U045EF6GH",
}

# What `.env.example` shows where a value of your own goes: the credentials' placeholders and
# the example PostgreSQL URL in a comment (tests/test_operator_failures.py holds this table and the
# file to each other). A value still equal to one is "still the placeholder from .env.example".
ENV_EXAMPLE_PLACEHOLDERS: dict[str, str] = {
    "SLACK_BOT_TOKEN": "xoxb-your-token",
    "SLACK_SIGNING_SECRET": "your-signing-secret",
    "SLACK_APP_TOKEN": "xapp-your-token",
    "DATABASE_URL": "postgresql://brickwork:secret@db.internal:5432/brickwork",
}
# Other values that are obviously not a real secret: "xoxb-…", "<your token>", "changeme".
_PLACEHOLDER_MARKERS = ("changeme", "change-me", "your-", "your_", "xxxx", "<", ">", "…", "...")
# Credentials a command may not need: one left as a placeholder counts as not set, and is named as
# a placeholder by the command that needs it (``Settings.require``, ``Settings.check_coach``).
_CREDENTIALS = ("slack_bot_token", "slack_signing_secret", "slack_app_token", "openai_api_key")


class Settings(BaseSettings):
    """Validated configuration. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):  # type: ignore[no-untyped-def, override]
        # ``load_settings`` hands over the environment explicitly, so tests and the demo can
        # pass their own mapping without anything leaking in from the process.
        return (init_settings,)

    slack_bot_token: str | None = Field(default=None, repr=False)
    slack_signing_secret: str | None = Field(default=None, repr=False)
    slack_app_token: str | None = Field(default=None, repr=False)
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///brickwork.db"
    openai_api_key: str | None = Field(default=None, repr=False)
    openai_base_url: str | None = None
    openai_model: str = Field(default="gpt-4o-mini", min_length=1, max_length=120)
    openai_timeout_seconds: float = Field(default=60.0, ge=1, le=600)
    openai_max_retries: int = Field(default=2, ge=0, le=5)
    # The longest answer the coach accepts: a local server keeps generating for a client that
    # gave up, so an unbounded answer holds it (and every later draft) for minutes.
    openai_max_tokens: int = Field(default=1200, ge=256, le=16000)
    openai_response_format: ResponseFormat = ResponseFormat.AUTO
    brickwork_coach: CoachMode = CoachMode.AUTO
    brickwork_framework_file: Path | None = None
    brickwork_learning_file: Path | None = None
    brickwork_talent_file: Path | None = None
    brickwork_debrief_window_days: int = Field(default=7, ge=1, le=60)
    # Prompts, reminders and window ends fall on these days (bot.timekeeping.WorkingDays).
    brickwork_working_days: str = "mon-fri"
    # The weekly growth digest (bot.growth): on unless turned off; each person chooses on the App Home.
    brickwork_weekly_digest: bool = True
    brickwork_tick_seconds: int = Field(default=60, ge=5, le=3600)
    # Each Web API call gives up after this long; the outbox's claim lease follows from it
    # (bot.outbox.lease_for: four times this plus ten seconds).
    brickwork_slack_timeout_seconds: int = Field(default=10, ge=1, le=30)
    brickwork_log_level: str = "INFO"
    port: int = Field(default=3000, ge=0, le=65535)
    brickwork_admins: str = ""
    # Credentials that held a placeholder (variable name -> "example" or "lookalike"); not a variable.
    placeholders: dict[str, str] = Field(default_factory=dict, repr=False, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _placeholders_are_not_set(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        found: dict[str, str] = {}
        for field in _CREDENTIALS:
            value = data.get(field)
            kind = placeholder_kind(field.upper(), value) if isinstance(value, str) else None
            if kind is not None:
                found[field.upper()] = kind
                data = {**data, field: None}
        return {**data, "placeholders": found} if found else data

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "openai_api_key",
        "openai_base_url",
        "brickwork_framework_file",
        "brickwork_learning_file",
        "brickwork_talent_file",
        mode="before",
    )
    @classmethod
    def _blank_is_missing(cls, value: Any) -> Any:
        # `.env.example` ships empty values; an empty string means "not set", not "set to nothing".
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xoxb-"):
            raise ValueError("bad bot token")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xapp-"):
            raise ValueError("bad app token")
        return value

    @field_validator("slack_api_url", "openai_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://")) or len(value) < 10 or " " in value:
            raise ValueError("bad url")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins base_url + method name, so the slash matters.
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if placeholder_kind("DATABASE_URL", value) == "example":
            raise PydanticCustomError("placeholder", "is still the placeholder from .env.example")
        try:
            return normalise_database_url(value)
        except ValueError as error:
            raise PydanticCustomError("database_url", str(error)) from None

    @field_validator("brickwork_coach", mode="before")
    @classmethod
    def _coach(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("brickwork_framework_file", "brickwork_learning_file", "brickwork_talent_file")
    @classmethod
    def _existing_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("no such file")
        return value

    @field_validator("brickwork_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("bad level")
        return level

    @field_validator("brickwork_admins")
    @classmethod
    def _admins(cls, value: str) -> str:
        ids = [part.strip() for part in value.split(",") if part.strip()]
        if any(not is_slack_user_id(i) for i in ids):
            raise ValueError("bad user id")
        return ",".join(ids)

    @field_validator("brickwork_working_days")
    @classmethod
    def _working_days(cls, value: str) -> str:
        return str(WorkingDays.parse(value))  # ValueError names nothing: EXPECTED says what is wanted

    @property
    def working_days(self) -> WorkingDays:
        return WorkingDays.parse(self.brickwork_working_days)

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(filter(None, self.brickwork_admins.split(",")))

    def check_coach(self) -> None:
        """BRICKWORK_COACH=llm promises an LLM: without a key that promise cannot be kept."""
        if self.brickwork_coach is CoachMode.LLM and self.openai_api_key is None:
            raise SettingsError(self._unset("OPENAI_API_KEY", "BRICKWORK_COACH=llm needs "))

    def require(self, need: Need) -> None:
        """Refuse to go on when a command's Slack credentials are missing."""
        for flag, field in (
            (Need.BOT_TOKEN, "slack_bot_token"),
            (Need.SIGNING_SECRET, "slack_signing_secret"),
            (Need.APP_TOKEN, "slack_app_token"),
        ):
            if need & flag and getattr(self, field) is None:
                raise SettingsError(self._unset(field.upper()))

    def _unset(self, name: str, needs: str = "expected ") -> str:
        """The line for a credential a command needs and does not have."""
        kind = self.placeholders.get(name)
        if kind == "example":
            return f"{name} is still the placeholder from .env.example: {needs}{EXPECTED[name]}"
        if kind is not None:
            return f"{name} is a placeholder, not a real value: {needs}{EXPECTED[name]}"
        return f"{name} is not set: {needs}{EXPECTED[name]}"

    @property
    def coach_uses_llm(self) -> bool:
        if self.brickwork_coach is CoachMode.OFFLINE:
            return False
        if self.brickwork_coach is CoachMode.LLM:
            return True
        return self.openai_api_key is not None


def _looks_like_placeholder(value: str) -> bool:
    lowered = value.lower()
    return any(marker in lowered for marker in _PLACEHOLDER_MARKERS)


def placeholder_kind(name: str, value: str) -> str | None:
    """``"example"`` when ``value`` is the placeholder `.env.example` shows for ``name``;
    ``"lookalike"`` when a credential's value is obviously not a real one (``xoxb-…``,
    ``<token>``); else None."""
    value = value.strip()
    if value and value == ENV_EXAMPLE_PLACEHOLDERS.get(name):
        return "example"
    if name.lower() in _CREDENTIALS and value and _looks_like_placeholder(value):
        return "lookalike"
    return None


def normalise_database_url(value: str) -> str:
    """Accept the URLs operators paste (Heroku's ``postgres://``) and pin the PostgreSQL driver."""
    raw = value.strip()
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as error:
        raise ValueError("not a URL") from error
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.drivername != "sqlite":
            raise ValueError(f"the driver {url.get_driver_name()} is not supported: write sqlite:///")
        return raw
    if backend in {"postgres", "postgresql"}:
        if url.drivername in {"postgres", "postgresql", "postgresql+psycopg"}:
            url = url.set(drivername="postgresql+psycopg")
            if not url.database:
                raise ValueError("no database name after the host")
            return url.render_as_string(hide_password=False)
        raise ValueError(f"the driver {url.get_driver_name()} is not supported: write postgresql://")
    raise ValueError(f"{backend} is not supported: use SQLite or PostgreSQL")


def _shown_url(value: str) -> str:
    """A database URL as it may be shown: without its password."""
    try:
        return make_url(value.strip()).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return value if "@" not in value else "(not shown: it may hold a password)"


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from ``environ`` (default: the process environment) plus explicit overrides.

    Every validation problem becomes one ``SettingsError`` line naming the variable.
    """
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {k.lower(): v for k, v in source.items() if k.upper() in EXPECTED}
    values.update(overrides)
    try:
        return Settings(**values)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        got = first.get("input")
        if name == "DATABASE_URL" and isinstance(got, str):
            got = _shown_url(got)
        shown = (
            f" (got {got!r})"
            if isinstance(got, str | int)
            and "TOKEN" not in name
            and "SECRET" not in name
            and "KEY" not in name
            else ""
        )
        expected = EXPECTED.get(name, "a valid value")
        if first["type"] == "placeholder":
            raise SettingsError(f"{name} {first['msg']}: expected {expected}") from None
        why = f" ({first['msg']})" if first["type"] == "database_url" else ""
        raise SettingsError(f"{name} is invalid{why}: expected {expected}{shown}") from None
