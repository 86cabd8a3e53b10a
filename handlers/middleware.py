"""Global middleware: Events API retries are acknowledged once and not handled again, and
nothing is done for an account Slack says is a bot or deactivated (a signed request can still
claim to come from one)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot.services import Services

log = logging.getLogger(__name__)
JSON = {"content-type": "application/json;charset=utf-8"}


def register(app: App, services: Services) -> None:
    @app.middleware
    def drop_repeated_events(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id")
        if body.get("type") == "event_callback" and isinstance(event_id, str):
            team_id = str(body.get("team_id") or "")
            # The claim commits before next(): the session never spans the listener.
            if not services.inbox.first_delivery(team_id, event_id):
                log.info("event %s already handled; acknowledging the retry", event_id)
                return BoltResponse(status=200, body="")
        next()
        return None

    @app.middleware
    def refuse_inactive_accounts(
        body: dict[str, Any], context: BoltContext, next: Callable[[], None]
    ) -> BoltResponse | None:
        actor = context.user_id
        if actor and services.people.is_inactive(actor):
            log.info("refused a request from an inactive account")
            if body.get("command"):
                text = "Brickwork is for active people: this account is a bot or deactivated."
                return BoltResponse(status=200, body=json.dumps({"text": text}), headers=JSON)
            return BoltResponse(status=200, body="")  # acknowledged, nothing done
        next()
        return None
