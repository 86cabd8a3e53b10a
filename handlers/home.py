"""The App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.services import Services
from handlers.views.debrief import home_view


def register(app: App, services: Services) -> None:
    @app.event("app_home_opened")
    def publish_home(event: dict[str, Any]) -> None:
        if event.get("tab") not in (None, "home"):
            return
        user = event["user"]
        services.gateway.publish_home(user, home_view(services.debriefs.projects_for(user)))
