"""The Slack edge. ``register_all`` is called once, by the composition root."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import admin, coach, debrief, errors, feedback, growth, home, middleware


def register_all(app: App, services: Services) -> None:
    middleware.register(app, services)
    errors.register(app, services)
    debrief.register(app, services)
    feedback.register(app, services)
    home.register(app, services)
    growth.register(app, services, coach.register(app, services))
    admin.register(app, services)
