"""The App Home: what it shows (assembled from the other services, each read authorised
there) and what can be changed from it: my team, vacation, the digest.

A manager's claim on a person is only a claim until that person confirms it: otherwise anyone
could add anyone to "My team" and read their feedback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.analytics.readings import PersonReading
from bot.debriefs.service import DebriefService, ProjectSummary
from bot.errors import InvalidInput, NotAllowed
from bot.feedback.cards import ReceivedItem, RequestCard, Snapshot
from bot.feedback.reading import FeedbackReading
from bot.framework import Framework
from bot.growth.digests import digest_time
from bot.growth.service import GrowthService
from bot.outbox import Outbox, Rendered
from bot.people.directory import PeopleService, PersonRef, UnknownPeople
from bot.slack_gateway import SlackGateway
from bot.timekeeping import local_date
from storage.db import Database
from storage.models import MessageKind, OutboxMessage, Person, id_of
from storage.repositories import people as people_repo
from storage.repositories import team as team_repo

if TYPE_CHECKING:
    from bot.people.org_chart import OrgService

log = logging.getLogger(__name__)

# DEBUG lines as a refresh is queued and once it is over (an operator sees the backlog; a test
# waits for it to drain).
REFRESH_QUEUED = "App Home refresh queued"
REFRESH_DONE = "App Home refresh done"
# … and as any publish starts and ends (a Home action publishes on its own listener's thread).
PUBLISH_STARTED = "App Home publish started"
PUBLISH_DONE = "App Home publish done"
MAX_PAUSE_DAYS = 90
HOME_LIMIT = 5  # items per list on the Home tab; the rest is one command away
MAX_REPORTS_SHOWN = 12
# The "My team" picker holds this many people (Slack refuses a picker whose initial users
# outnumber its max_selected_items). Past it, as after a large CSV import, the rest are not
# in the picker, so the picker neither shows nor removes them: the import manages them.
TEAM_PICKER_MAX = 50


@dataclass(frozen=True)
class ReportRow:
    person: PersonRef
    snapshot: Snapshot


@dataclass(frozen=True)
class HomeData:
    me: PersonRef
    paused_until: date | None
    digest_enabled: bool
    digest_weekday: int  # when the weekly digest comes: 0 (Monday) to 6, in the person's zone
    digest_hour: int
    snapshot: Snapshot
    waiting: tuple[RequestCard, ...]
    waiting_total: int
    my_open: tuple[RequestCard, ...]
    my_open_total: int
    latest: tuple[ReceivedItem, ...]
    reports: tuple[ReportRow, ...]
    reports_total: int
    team_ids: tuple[str, ...]  # confirmed and pending, in picker order (it holds TEAM_PICKER_MAX)
    pending: tuple[PersonRef, ...]  # people who have not confirmed yet
    claimed_by: PersonRef | None  # someone says they are my manager
    projects: tuple[ProjectSummary, ...]
    growth: PersonReading | None = None  # my growth, calibrated (``/growth`` says everything)


@dataclass(frozen=True)
class TeamChange:
    claimed: tuple[PersonRef, ...]  # asked to confirm
    removed: tuple[PersonRef, ...]
    refused: tuple[tuple[PersonRef, str], ...]


class HomeViews(Protocol):
    def manager_claim_message(self, manager: PersonRef) -> tuple[str, list[Any]]: ...

    def home_view(self, data: HomeData, framework: Framework, today: date) -> Any: ...


class HomeService:
    def __init__(
        self,
        *,
        db: Database,
        gateway: SlackGateway,
        people: PeopleService,
        outbox: Outbox,
        reading: FeedbackReading,
        debriefs: DebriefService,
        org: OrgService,
        views: HomeViews,
        clock: Callable[[], datetime],
        background: Executor,
        growth: GrowthService | None = None,
    ) -> None:
        self._db, self._gateway, self._people, self._outbox = db, gateway, people, outbox
        self._reading, self._debriefs, self._org = reading, debriefs, org
        self._views, self._clock, self._background = views, clock, background
        self._growth = growth
        self._locks: dict[str, threading.Lock] = {}  # one publish at a time per person
        self._locks_guard = threading.Lock()
        self._queued: set[str] = set()  # people whose refresh waits in the pool, not started
        self._refresh_guard = threading.Lock()
        outbox.register(MessageKind.MANAGER_CLAIM, self._render_claim)

    def data(self, slack_user_id: str) -> HomeData:
        return self._data(self._people.one(slack_user_id))

    def _data(self, me: Person) -> HomeData:
        """What the Home shows, in a fixed number of queries: counts, sums and the few rows
        shown come from the database, so it costs about the same for ten feedback items as
        for ten thousand."""
        slack_user_id = me.slack_user_id
        requests = self._reading.open_requests(slack_user_id, limit=HOME_LIMIT)
        with self._db.transaction() as session:
            reports = team_repo.reports(session, id_of(me), limit=MAX_REPORTS_SHOWN)
            pending = team_repo.pending_reports(session, id_of(me))
            confirmed_ids, pending_ids = team_repo.team_slack_ids(session, id_of(me))
            claimer = people_repo.get(session, me.pending_manager_id) if me.pending_manager_id else None
        snapshots = self._reading.snapshots(slack_user_id, [id_of(me), *(id_of(p) for p in reports)])
        digest_weekday, digest_hour = digest_time(me)
        return HomeData(
            me=PersonRef.of(me),
            paused_until=me.paused_until,
            digest_enabled=me.digest_enabled,
            digest_weekday=digest_weekday,
            digest_hour=digest_hour,
            snapshot=snapshots[id_of(me)],
            waiting=requests.waiting,
            waiting_total=requests.waiting_total,
            my_open=requests.mine,
            my_open_total=requests.mine_total,
            latest=tuple(self._reading.received(slack_user_id, limit=3)),
            reports=tuple(ReportRow(person=PersonRef.of(p), snapshot=snapshots[id_of(p)]) for p in reports),
            reports_total=len(confirmed_ids),
            team_ids=(*confirmed_ids, *pending_ids),
            pending=tuple(PersonRef.of(p) for p in pending),
            claimed_by=PersonRef.of(claimer) if claimer else None,
            projects=tuple(self._debriefs.projects_for(slack_user_id, limit=HOME_LIMIT)),
            growth=self._growth.reading(slack_user_id) if self._growth is not None else None,
        )

    # -- publishing -------------------------------------------------------------------

    def publish(self, slack_user_id: str) -> None:
        """Render and publish the person's Home now (app_home_opened, the Home's own actions).

        One at a time per person, rendering inside the turn: two changes at once (a button and a
        background refresh) publish in the order they read the database, so the Home never ends
        on the older state."""
        log.debug(PUBLISH_STARTED)  # (whose, never: as for refreshes)
        try:
            with self._publishing_lock(slack_user_id):
                person = self._people.one(slack_user_id)
                today = local_date(self._clock(), person.tz)
                view = self._views.home_view(self._data(person), self._reading.framework, today)
                self._gateway.publish_home(slack_user_id, view)
        finally:
            log.debug(PUBLISH_DONE)

    def _publishing_lock(self, slack_user_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(slack_user_id, threading.Lock())

    def refresh(self, slack_user_ids: Iterable[str]) -> None:
        """Republish the Home of each person an event changed: best-effort (a failure is
        logged, never raised), in the background pool, so that it never delays Slack's ack of
        the request that caused it. Only people Brickwork knows, and neither bots nor
        deactivated accounts, get one: views.publish is rate limited.

        Coalesced per person: a person whose refresh is queued and has not started gets no
        second one (the queued one reads the database after this change committed). One that
        has started may have read before it, so it gets one more after it: the last state wins.
        So a burst of changes to one person (a debrief, a run of answers) costs a render or two,
        not one per change, and the pool's queue holds each person once at most."""
        with self._refresh_guard:
            wanted = [uid for uid in dict.fromkeys(slack_user_ids) if uid and uid not in self._queued]
            self._queued.update(wanted)
        for slack_user_id in wanted:
            try:
                self._background.submit(self._republish, slack_user_id)
                log.debug(REFRESH_QUEUED)  # (whose, never: it could hint at who answered)
            except RuntimeError:  # the pool is shut down: the process is stopping
                with self._refresh_guard:
                    self._queued.discard(slack_user_id)

    def _republish(self, slack_user_id: str) -> None:
        try:
            self._refresh(slack_user_id)
        finally:
            log.debug(REFRESH_DONE)

    def _refresh(self, slack_user_id: str) -> None:
        with self._refresh_guard:
            self._queued.discard(slack_user_id)  # from here on, a change needs a refresh of its own
        try:
            with self._db.transaction() as session:
                person = people_repo.by_slack_id(session, slack_user_id)
            if person is None or person.is_bot or person.deleted:
                return
        except Exception as error:  # best-effort: the event that caused it has happened
            log.warning("could not look up whose App Home to republish: %s", type(error).__name__)
            return
        try:
            self.publish(slack_user_id)
        except Exception as error:  # no user id in the line: it could hint at who answered
            reason = str(error.response.get("error", "")) if isinstance(error, SlackApiError) else ""
            log.warning("could not republish an App Home: %s %s", type(error).__name__, reason)

    # -- my team ----------------------------------------------------------------------

    def set_team(self, manager_slack_id: str, selected: Sequence[str]) -> TeamChange:
        """Make "My team" exactly ``selected``: new people are asked to confirm; people taken
        off lose the link at once (removing needs nobody's consent). Only the first
        ``TEAM_PICKER_MAX`` people (in ``HomeData.team_ids`` order) are in the picker; the rest
        are not removed for being absent from it."""
        refused: list[tuple[PersonRef, str]] = []
        try:
            people = self._people.ensure([manager_slack_id, *selected])
        except UnknownPeople as unknown:
            if manager_slack_id in unknown.slack_user_ids:
                raise
            refused += [
                (PersonRef(0, uid, uid), "not someone in this workspace") for uid in unknown.slack_user_ids
            ]
            selected = [uid for uid in selected if uid not in unknown.slack_user_ids]
            people = self._people.ensure([manager_slack_id, *selected])
        me = people[manager_slack_id]
        if me.is_bot or me.deleted:
            raise NotAllowed("Brickwork is for active people: this account is a bot or deactivated.")
        now = self._clock()
        messages: list[int] = []
        claimed: list[Person] = []
        unclaimed: list[Person] = []  # taken off before confirming: their Home showed the claim
        with self._db.transaction() as session:
            current = {p.slack_user_id: p for p in team_repo.reports(session, id_of(me))}
            current |= {p.slack_user_id: p for p in team_repo.pending_reports(session, id_of(me))}
            in_picker = set(list(current)[:TEAM_PICKER_MAX])
            removed = [p for uid, p in current.items() if uid in in_picker and uid not in selected]
            for person in removed:
                row = people_repo.get(session, id_of(person))
                assert row is not None
                if row.manager_id == me.id:
                    row.manager_id = None
                if row.pending_manager_id == me.id:
                    row.pending_manager_id = None
                    unclaimed.append(person)
                session.add(row)
            for uid in dict.fromkeys(selected):
                person = people[uid]
                if uid in current:
                    continue
                if person.id == me.id:
                    refused.append((PersonRef.of(person), "you cannot manage yourself"))
                elif person.is_bot or person.deleted:
                    refused.append((PersonRef.of(person), "bots and deactivated accounts have no manager"))
                else:
                    row = people_repo.get(session, id_of(person))
                    assert row is not None
                    row.pending_manager_id = me.id
                    session.add(row)
                    claimed.append(person)
                    messages.append(
                        Outbox.enqueue(
                            session,
                            kind=MessageKind.MANAGER_CLAIM,
                            key=f"{id_of(person)}:{id_of(me)}:{now.isoformat()}",
                            recipient_id=id_of(person),
                            ref_id=id_of(me),
                            due_at=now,
                        )
                    )
        self._outbox.deliver(messages)
        self.refresh(p.slack_user_id for p in [*claimed, *unclaimed])  # the listener publishes mine
        return TeamChange(
            claimed=tuple(PersonRef.of(p) for p in claimed),
            removed=tuple(PersonRef.of(p) for p in removed),
            refused=tuple(refused),
        )

    def _render_claim(self, session: Session, message: OutboxMessage) -> Rendered | None:
        person = people_repo.get(session, message.recipient_id)
        manager = people_repo.get(session, message.ref_id) if message.ref_id is not None else None
        if person is None or manager is None or person.pending_manager_id != manager.id:
            return None  # withdrawn, or answered on the App Home, while it waited
        return Rendered(*self._views.manager_claim_message(PersonRef.of(manager)))

    def answer_claim(self, person_slack_id: str, manager_person_id: int, *, accept: bool) -> PersonRef:
        """The person confirms (or rejects) that ``manager_person_id`` is their manager."""
        with self._db.transaction() as session:
            me = people_repo.by_slack_id(session, person_slack_id)
            manager = people_repo.get(session, manager_person_id)
            if me is None or manager is None or me.pending_manager_id != manager_person_id:
                raise NotAllowed("That request is no longer pending.")
            if not accept:
                me.pending_manager_id = None
                session.add(me)
            me_id, manager_ref = id_of(me), PersonRef.of(manager)
        if accept:
            # Checks cycles, and that the claim is still pending under the org chart lock.
            self._org.assign_manager(
                person_id=me_id, manager_id=manager_person_id, claimed_by=manager_person_id
            )
        self.refresh([manager_ref.slack_id])  # their team changed; the listener publishes the person's
        return manager_ref

    # -- settings ---------------------------------------------------------------------

    def pause_until(self, slack_user_id: str, day: date | None) -> None:
        person = self._people.one(slack_user_id)
        if day is not None:
            today = local_date(self._clock(), person.tz)
            if day < today:
                raise InvalidInput({"paused_until": "Pick a day from today on."})
            if day > today + timedelta(days=MAX_PAUSE_DAYS):
                raise InvalidInput({"paused_until": f"Pause for at most {MAX_PAUSE_DAYS} days."})
        with self._db.transaction() as session:
            row = people_repo.get(session, id_of(person))
            assert row is not None
            row.paused_until = day
            session.add(row)

    def set_digest(self, slack_user_id: str, enabled: bool) -> None:
        person = self._people.one(slack_user_id)
        with self._db.transaction() as session:
            row = people_repo.get(session, id_of(person))
            assert row is not None
            row.digest_enabled = enabled
            session.add(row)
