"""Reading Slack payloads the way Slack does, for assertions."""

from __future__ import annotations

from typing import Any


def mrkdwn_texts(value: Any, *, top: bool = True) -> list[str]:
    """Every string Slack parses as mrkdwn: mrkdwn text objects and a message's own ``text``."""
    found: list[str] = []
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            found.append(value["text"])
        if top and isinstance(value.get("text"), str) and value.get("type") is None:
            found.append(value["text"])
        for key, item in value.items():
            if isinstance(item, dict | list) and key != "state":
                found += mrkdwn_texts(item, top=False)
    elif isinstance(value, list):
        for item in value:
            found += mrkdwn_texts(item, top=False)
    return found
