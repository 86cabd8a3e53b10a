"""manifest.yml: valid against Slack's published schema, and consistent with the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from handlers.ids import Command

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"


def manifest() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_is_valid_against_slacks_schema() -> None:
    if not SCHEMA.exists():
        pytest.skip(f"Slack's manifest schema is not beside this clone ({SCHEMA}); CI has it")
    import jsonschema

    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(manifest())


def test_manifest_declares_what_the_app_registers() -> None:
    m = manifest()
    commands = {c["command"]: c for c in m["features"]["slash_commands"]}
    assert set(commands) == {c.value for c in Command}
    # Commands that take people ask Slack to resolve mentions into <@U…|name>.
    assert commands["/feedback"]["should_escape"] is True
    assert commands["/coach"]["should_escape"] is True
    assert commands["/brickwork"]["should_escape"] is True  # /brickwork forget @someone
    assert m["settings"]["socket_mode_enabled"] is True
    assert m["settings"]["interactivity"]["is_enabled"] is True
    # message.im: an admin shares the org-chart CSV in the bot's DM, so that tab takes messages.
    assert m["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "user_change",
        "message.im",
    ]
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert m["features"]["app_home"]["messages_tab_read_only_enabled"] is False


def test_only_the_scopes_the_app_uses() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert scopes == {
        "commands",
        "chat:write",
        "im:write",
        "im:history",  # the outbox looks in its own DMs for a message whose post went unanswered
        "users:read",
        "users:read.email",
        "files:write",
        "files:read",  # files.info and url_private: the org-chart CSV an admin shares in a DM
    }
