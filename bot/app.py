"""The composition root: ``build_app`` makes every object the process needs, once.

It is the one module of ``bot`` that imports the Slack edge (``handlers``): it wires the
edge's listeners and pure views to the services, so nothing else has to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_bolt import App
from slack_sdk import WebClient

import handlers
from bot.debriefs import DebriefService
from bot.feedback import FeedbackService
from bot.framework import load_framework
from bot.home import HomeService
from bot.org import OrgService
from bot.people import PeopleService
from bot.server import WSGIApp, make_wsgi_app
from bot.services import Inbox, Services
from bot.settings import Settings
from bot.slack_gateway import SlackGateway, make_web_client
from bot.ticker import Ticker
from handlers.views import debrief as debrief_views
from handlers.views import feedback as feedback_views
from handlers.views import home as home_views
from storage.db import Database
from storage.models import utcnow


class _QuietTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment itself when given no token, then warns
    that the client's token (the same one, from our settings) wins. Nothing is wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("brickwork.bolt")
    if not any(isinstance(f, _QuietTokenWarning) for f in logger.filters):
        logger.addFilter(_QuietTokenWarning())
    return logger


@dataclass(frozen=True)
class Brickwork:
    services: Services
    bolt: App

    def wsgi(self) -> WSGIApp:
        return make_wsgi_app(self.bolt, self.services.db)

    def close(self) -> None:
        self.services.db.dispose()


def build_app(
    settings: Settings, client: WebClient | None = None, *, clock: Callable[[], datetime] = utcnow
) -> Brickwork:
    """Everything, from settings. ``client`` replaces the Slack Web API client (tests, demo)."""
    framework = load_framework(settings.brickwork_framework_file)
    db = Database(settings.database_url)
    web = client or make_web_client(settings.slack_bot_token, settings.slack_api_url)
    gateway = SlackGateway(web)
    people = PeopleService(db, gateway, clock)
    org = OrgService(db, gateway, people, clock)
    debriefs = DebriefService(
        db=db,
        gateway=gateway,
        people=people,
        framework=framework,
        views=debrief_views,
        clock=clock,
        window_days=settings.brickwork_debrief_window_days,
    )
    feedback = FeedbackService(
        db=db,
        gateway=gateway,
        people=people,
        framework=framework,
        views=feedback_views,
        clock=clock,
        admins=settings.admins,
    )
    home = HomeService(
        db=db,
        gateway=gateway,
        people=people,
        feedback=feedback,
        debriefs=debriefs,
        org=org,
        views=home_views,
        clock=clock,
    )
    services = Services(
        settings=settings,
        db=db,
        gateway=gateway,
        framework=framework,
        people=people,
        debriefs=debriefs,
        feedback=feedback,
        org=org,
        home=home,
        inbox=Inbox(db, clock),
        ticker=Ticker(db, debriefs),
        clock=clock,
    )
    bolt = App(
        client=web,  # Bolt takes the bot token from the client
        logger=_bolt_logger(),
        signing_secret=settings.slack_signing_secret or "",
        # Socket Mode and `tick` have no signing secret; HTTP mode always does (see the CLI).
        request_verification_enabled=settings.slack_signing_secret is not None,
        # auth.test runs on the first request, not at construction: building the app does no I/O.
        token_verification_enabled=False,
        process_before_response=False,
    )
    handlers.register_all(bolt, services)
    return Brickwork(services=services, bolt=bolt)
