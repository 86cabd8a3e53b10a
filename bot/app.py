"""The composition root: ``build_app`` makes every object the process needs, once.

It is the one module of ``bot`` that imports the Slack edge (``handlers``): it wires the
edge's listeners and pure views to the services, so nothing else has to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

import handlers
from bot.admin.audit import AuditTrail
from bot.admin.service import AdminService
from bot.coaching.catalog import load_catalog
from bot.coaching.coaches import LLMCoach
from bot.coaching.service import CoachingService
from bot.debriefs.service import DebriefService
from bot.feedback.anonymity import AnonymousRelease
from bot.feedback.cards import OPEN_REQUEST_WINDOW
from bot.feedback.giving import FeedbackGiving
from bot.feedback.reading import FeedbackReading
from bot.feedback.requests import FeedbackRequests
from bot.framework import load_framework
from bot.growth.digests import DigestService
from bot.growth.service import GrowthService
from bot.home.service import HomeService
from bot.modals import Modals
from bot.outbox import Outbox, lease_for
from bot.people.directory import PeopleService
from bot.people.org_chart import OrgService
from bot.server import WSGIApp, make_wsgi_app
from bot.services import Inbox, Services
from bot.settings import Settings
from bot.slack_gateway import SlackGateway, file_url_origins, make_web_client, response_url_origins
from bot.talent.rules import load_talent_rules
from bot.talent.service import TalentService
from bot.ticker import Ticker
from handlers.views import coach as coach_views
from handlers.views import debrief as debrief_views
from handlers.views import feedback as feedback_views
from handlers.views import growth as growth_views
from handlers.views import home as home_views
from prompts import load_prompt
from storage.db import Database
from storage.models import utcnow

# Home refreshes at once. Few: a refresh is CPU work that competes for the interpreter with the
# acks, and Slack rate-limits views.publish anyway; each person has at most one waiting
# (``HomeService.refresh``), so the queue is bounded by the people whose Home changed.
BACKGROUND_WORKERS = 2
# Bolt's listener threads. A listener holds one until it returns, after its ack too (a DM, a
# views.update); a request whose listener finds none free waits for its ack, and Bolt answers
# 404 after 3 s. The web server's threads (8) run at most that many listeners up to their acks at
# once; the rest is room for listeners still busy after theirs (mostly waiting on Slack).
LISTENER_WORKERS = 32
DRAFTING_WORKERS = 4  # coaching drafts at once; more wait their turn (their modal says drafting)


class _QuietTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment itself when given no token, then warns
    that the client's token (the same one, from our settings) wins; and given ``authorize``, it
    warns that the client's token is not used to authorise (ours hands out that same token).
    Nothing is wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "`token` will be unused" not in message and "will be ignored" not in message


def _authorize(gateway: SlackGateway, token: str | None) -> Callable[..., AuthorizeResult]:
    """Bolt's authorisation with no Slack call before the acknowledgement: one workspace, one bot
    token, and who the bot is from the last ``auth.test`` (the check at start, ``/healthz``),
    learnt in the background while it is not known. Bolt's own calls ``auth.test`` on the first
    request, before any listener can ack: with Slack slow or down, that request got a 500 after
    seconds (its retries), past Slack's three."""

    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
        identity = gateway.status.identity
        if identity is None:
            gateway.status.learn_identity_soon()
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id or (identity.team_id if identity else None),
            bot_token=token,
            bot_user_id=identity.user_id if identity else None,
            bot_id=identity.bot_id if identity else None,
            user_id=user_id,
        )

    return authorize


def _bolt_logger() -> logging.Logger:
    """Bolt logs whole request bodies at DEBUG and INFO: its logger says nothing below WARNING
    (``bot.logs`` cuts what it says there to the first clause)."""
    logger = logging.getLogger("brickwork.bolt")
    logger.setLevel(max(logging.WARNING, logger.level))
    if not any(isinstance(f, _QuietTokenWarning) for f in logger.filters):
        logger.addFilter(_QuietTokenWarning())
    return logger


@dataclass(frozen=True)
class Brickwork:
    services: Services
    bolt: App

    def wsgi(self) -> WSGIApp:
        secret = self.services.settings.slack_signing_secret
        if secret is None:  # the CLI requires it for `serve`; nothing is served unverified
            raise ValueError("HTTP mode needs SLACK_SIGNING_SECRET")
        origins = response_url_origins(self.services.settings.slack_api_url)
        return make_wsgi_app(
            self.bolt,
            self.services.db,
            secret,
            response_origins=origins,
            slack_check=self.services.gateway.status.check,
        )

    def close(self) -> None:
        self.services.gateway.when_back.close()
        for pool in (self.services.drafting, self.services.background):
            pool.shutdown(wait=False, cancel_futures=True)
        self.services.db.dispose()


def build_app(
    settings: Settings, client: WebClient | None = None, *, clock: Callable[[], datetime] = utcnow
) -> Brickwork:
    """Everything, from settings. ``client`` replaces the Slack Web API client (tests, demo)."""
    framework = load_framework(settings.brickwork_framework_file)
    catalog = load_catalog(settings.brickwork_learning_file, framework)
    talent_rules = load_talent_rules(settings.brickwork_talent_file, framework)
    db = Database(settings.database_url)
    web = client or make_web_client(
        settings.slack_bot_token, settings.slack_api_url, timeout=settings.brickwork_slack_timeout_seconds
    )
    gateway = SlackGateway(
        web,
        response_origins=response_url_origins(settings.slack_api_url),
        file_origins=file_url_origins(settings.slack_api_url),
    )
    people = PeopleService(db, gateway, clock)
    outbox = Outbox(db, gateway, clock, lease=lease_for(settings.brickwork_slack_timeout_seconds))
    modals = Modals(db, gateway, clock)
    release = AnonymousRelease(db, clock, outbox=outbox, views=feedback_views)
    # Slow work after the ack runs in pools of its own, not in Bolt's listener threads: it must
    # never leave a new request waiting for its ack. Drafts (an LLM may take minutes) and Home
    # refreshes (quick) get one each, so slow drafts never hold up a Home.
    background = ThreadPoolExecutor(max_workers=BACKGROUND_WORKERS, thread_name_prefix="brickwork-bg")
    drafting = ThreadPoolExecutor(max_workers=DRAFTING_WORKERS, thread_name_prefix="brickwork-coach")

    def home_changed(slack_user_ids: Iterable[str]) -> None:
        home.refresh(slack_user_ids)  # `home` is made below: it reads from the services told here

    org = OrgService(db, gateway, people, clock, on_change=home_changed, request_window=OPEN_REQUEST_WINDOW)
    debriefs = DebriefService(
        db=db,
        gateway=gateway,
        people=people,
        outbox=outbox,
        framework=framework,
        views=debrief_views,
        clock=clock,
        window_days=settings.brickwork_debrief_window_days,
        working_days=settings.working_days,
    )
    requests = FeedbackRequests(
        db=db,
        gateway=gateway,
        people=people,
        outbox=outbox,
        framework=framework,
        views=feedback_views,
        clock=clock,
        on_change=home_changed,
    )
    giving = FeedbackGiving(
        db=db, people=people, requests=requests, framework=framework, clock=clock, on_change=home_changed
    )
    reading = FeedbackReading(db=db, people=people, framework=framework, clock=clock, admins=settings.admins)
    growth = GrowthService(db=db, people=people, reading=reading, framework=framework, clock=clock)
    digests = DigestService(
        db=db,
        people=people,
        growth=growth,
        framework=framework,
        clock=clock,
        catalog=catalog,
        outbox=outbox,
        views=growth_views,
        working_days=settings.working_days,
    )
    home = HomeService(
        db=db,
        gateway=gateway,
        people=people,
        outbox=outbox,
        reading=reading,
        debriefs=debriefs,
        org=org,
        views=home_views,
        clock=clock,
        background=background,
        growth=growth,
    )
    llm = None
    if settings.coach_uses_llm:
        assert settings.openai_api_key is not None  # check_coach and coach_uses_llm see to it
        llm = LLMCoach(
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            model=settings.openai_model,
            timeout=settings.openai_timeout_seconds,
            max_retries=settings.openai_max_retries,
            max_tokens=settings.openai_max_tokens,
            response_format=settings.openai_response_format,
        )
    coaching = CoachingService(
        db=db,
        gateway=gateway,
        people=people,
        outbox=outbox,
        reading=reading,
        framework=framework,
        catalog=catalog,
        prompt=load_prompt("coaching"),
        llm=llm,
        views=coach_views,
        clock=clock,
    )
    audit = AuditTrail(db, clock)
    admin = AdminService(
        db=db, gateway=gateway, people=people, org=org, audit=audit, clock=clock, admins=settings.admins
    )
    talent = TalentService(
        db=db,
        growth=growth,
        people=people,
        admin=admin,
        audit=audit,
        framework=framework,
        rules=talent_rules,
        clock=clock,
    )
    services = Services(
        settings=settings,
        db=db,
        gateway=gateway,
        outbox=outbox,
        modals=modals,
        release=release,
        framework=framework,
        people=people,
        debriefs=debriefs,
        requests=requests,
        giving=giving,
        reading=reading,
        org=org,
        home=home,
        coaching=coaching,
        growth=growth,
        digests=digests,
        admin=admin,
        talent=talent,
        background=background,
        drafting=drafting,
        inbox=Inbox(db, clock),
        ticker=Ticker(
            db, debriefs, release, outbox, modals, digests if settings.brickwork_weekly_digest else None
        ),
        clock=clock,
    )
    bolt = App(
        client=web,
        # Requests are authorised without asking Slack (see _authorize); building the app does
        # no I/O either. The CLI asks auth.test once at start, to refuse a wrong token.
        authorize=_authorize(gateway, web.token),
        logger=_bolt_logger(),
        signing_secret=settings.slack_signing_secret or "",
        # Socket Mode and `tick` have no signing secret; HTTP mode always does (see the CLI).
        request_verification_enabled=settings.slack_signing_secret is not None,
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(LISTENER_WORKERS, thread_name_prefix="brickwork-bolt"),
    )
    handlers.register_all(bolt, services)
    return Brickwork(services=services, bolt=bolt)
