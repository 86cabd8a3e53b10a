"""Global middleware: Events API retries are acknowledged once and not handled again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse

from bot.services import Services

log = logging.getLogger(__name__)


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
