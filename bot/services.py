"""What the Slack edge may call: the services, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

from bot.admin.service import AdminService
from bot.coaching.service import CoachingService
from bot.debriefs.service import DebriefService
from bot.feedback.anonymity import AnonymousRelease
from bot.feedback.giving import FeedbackGiving
from bot.feedback.reading import FeedbackReading
from bot.feedback.requests import FeedbackRequests
from bot.framework import Framework
from bot.growth.digests import DigestService
from bot.growth.service import GrowthService
from bot.home.service import HomeService
from bot.modals import Modals
from bot.outbox import Outbox
from bot.people.directory import PeopleService
from bot.people.org_chart import OrgService
from bot.settings import Settings
from bot.slack_gateway import SlackGateway
from bot.talent.service import TalentService
from bot.ticker import Ticker
from storage.db import Database
from storage.repositories import events as events_repo


class Inbox:
    """Deduplicates Events API deliveries: Slack retries an event up to three times."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db, self._clock = db, clock

    def first_delivery(self, team_id: str, event_id: str) -> bool:
        with self._db.transaction() as session:
            return events_repo.claim(session, team_id=team_id, event_id=event_id, at=self._clock())


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    gateway: SlackGateway
    outbox: Outbox
    modals: Modals
    release: AnonymousRelease
    framework: Framework
    people: PeopleService
    debriefs: DebriefService
    requests: FeedbackRequests
    giving: FeedbackGiving
    reading: FeedbackReading
    org: OrgService
    home: HomeService
    coaching: CoachingService
    growth: GrowthService
    digests: DigestService
    admin: AdminService
    talent: TalentService
    background: Executor  # quick work after an ack (App Home refreshes)
    drafting: Executor  # coaching drafts after an ack (an LLM may take minutes)
    inbox: Inbox
    ticker: Ticker
    clock: Callable[[], datetime]
