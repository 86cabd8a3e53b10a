"""Feedback's cards — what the Slack edge renders — and what the feedback services share:
how a request reads to whoever looks at it (``shown_to_requester``), and whose Home changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlmodel import Session

from bot.errors import NotAllowed
from bot.framework import Framework, Kpi
from bot.people.access import RequestFacts, Viewer, authorize
from bot.people.directory import PeopleService, PersonRef
from bot.timekeeping import local_date
from storage.db import Database
from storage.models import (
    Feedback,
    FeedbackRequest,
    FeedbackSource,
    Person,
    Relation,
    RequestState,
    id_of,
)
from storage.repositories import feedback as feedback_repo
from storage.repositories import people as people_repo
from storage.repositories import requests as requests_repo

log = logging.getLogger(__name__)

MAX_GIVERS = 10
OPEN_REQUEST_WINDOW = timedelta(days=14)  # one open request per pair within this window
NUDGE_EVERY = timedelta(days=1)
SNAPSHOT_WEEKS = 8
LEFT_GIVER = "You left the feedback programme, so you cannot give feedback any more."
NOT_IN_WORKSPACE = "not someone in this workspace"
INACTIVE = "Brickwork is for active people: this account is a bot or deactivated."
NAMED_STAYS_NAMED = (
    "This answer was passed on with your name, so it cannot become anonymous now; change it, or "
    "give new feedback anonymously."
)
MIN_RATERS = 2  # one rater's habits dominate their ratings (Scullen et al. 2000): show no average


@dataclass(frozen=True)
class Refusal:
    slack_id: str
    name: str
    reason: str


@dataclass(frozen=True)
class RequestOutcome:
    """What became of ``/feedback request``: who has the DM, whose DM Slack has not taken yet
    (Brickwork keeps trying), whose DM Slack refused (nothing is kept: ask again later), and
    who was not asked, with why."""

    asked: tuple[PersonRef, ...]
    refused: tuple[Refusal, ...]
    about: str
    delayed: tuple[PersonRef, ...] = ()
    undelivered: tuple[Refusal, ...] = ()


@dataclass(frozen=True)
class RequestCard:
    request_id: int
    requester: PersonRef
    giver: PersonRef
    subject: PersonRef
    about: str
    # In the requester's own listings (``RequestsOverview.sent``) this is what they may see,
    # ``shown_to_requester``: an anonymous answer never shows; WITHDRAWN there reads "closed".
    state: RequestState
    decline_reason: str
    created_at: datetime
    nudged_at: datetime | None
    can_nudge: bool
    anonymous_answer: bool = False  # how it was answered, for the requester's notice


@dataclass(frozen=True)
class FeedbackForm:
    """The two-dimensional form for /feedback: about ``subject``, maybe answering a request."""

    subject: PersonRef
    about: str
    request_id: int | None
    requester: PersonRef | None
    framework: Framework


@dataclass(frozen=True)
class SubmitOutcome:
    feedback_id: int
    subject: PersonRef
    request_id: int | None
    replaced: bool
    anonymous: bool = False
    subject_manager: str | None = None  # their confirmed manager's Slack id: their Home shows it


@dataclass(frozen=True)
class ReceivedItem:
    feedback_id: int
    at: datetime
    source: FeedbackSource
    relation: Relation
    giver: PersonRef | None  # None: anonymous to this viewer
    context: str  # the project name or the "about" text
    scores: dict[str, int | None]
    notes: dict[str, str] | None  # None: anonymous text withheld until enough anonymous items
    anonymous: bool = False  # given anonymously (the giver, reading their own, still sees it named)


@dataclass(frozen=True)
class KpiStat:
    kpi: Kpi
    average: float | None  # None: not enough evidence (fewer than MIN_RATERS raters)
    count: int
    raters: int
    weekly: tuple[float | None, ...]  # oldest first, SNAPSHOT_WEEKS weeks


@dataclass(frozen=True)
class Snapshot:
    person: PersonRef
    stats: tuple[KpiStat, ...]
    items: int


@dataclass(frozen=True)
class RequestsOverview:
    sent: tuple[RequestCard, ...]
    received: tuple[RequestCard, ...]


@dataclass(frozen=True)
class OpenRequests:
    """What waits on a person and what they wait on: the newest few of each, and how many."""

    waiting: tuple[RequestCard, ...]  # open requests to them
    waiting_total: int
    mine: tuple[RequestCard, ...]  # requests they sent that read "open" to them
    mine_total: int


class FeedbackViews(Protocol):
    def request_message(self, card: RequestCard) -> tuple[str, list[Any]]: ...

    def nudge_message(self, card: RequestCard) -> tuple[str, list[Any]]: ...

    def answered_notice(self, card: RequestCard) -> tuple[str, list[Any]]: ...

    def declined_notice(self, card: RequestCard) -> tuple[str, list[Any]]: ...

    def undelivered_notice(self, card: RequestCard, reason: str) -> tuple[str, list[Any]]: ...

    def anonymous_released_notice(
        self, subject: PersonRef, givers: int, for_self: bool
    ) -> tuple[str, list[Any]]: ...


class FeedbackBase:
    """What the three feedback services share: the database, the people, the framework, the
    clock, and how a request reads to whoever is looking at it."""

    def __init__(
        self,
        *,
        db: Database,
        people: PeopleService,
        framework: Framework,
        clock: Callable[[], datetime],
        admins: frozenset[str] = frozenset(),
        on_change: Callable[[Iterable[str]], None] | None = None,
    ) -> None:
        self._db, self._people, self._framework, self._clock = db, people, framework, clock
        self._admins = admins
        self._on_change = on_change  # told, after each commit, whose App Home changed

    @property
    def framework(self) -> Framework:
        return self._framework

    def _request_for(
        self, session: Session, slack_user_id: str, request_id: int, *, role: str
    ) -> tuple[FeedbackRequest, Person]:
        me = people_repo.by_slack_id(session, slack_user_id)
        request = requests_repo.get(session, request_id)
        owner = None if request is None else (request.giver_id if role == "giver" else request.requester_id)
        if me is None or request is None or owner != me.id:
            raise NotAllowed("That request is not yours.")
        return request, me

    def _card(
        self,
        session: Session,
        request: FeedbackRequest | None,
        *,
        anonymous_answer: bool = False,
        for_requester: bool = False,
    ) -> RequestCard:
        """A request as its giver sees it, or (``for_requester``) as its requester may see it."""
        assert request is not None
        card = self._cards(session, [request], for_requester=for_requester)[0]
        return replace(card, anonymous_answer=True) if anonymous_answer else card

    def _cards(
        self, session: Session, requests: Sequence[FeedbackRequest], *, for_requester: bool = False
    ) -> list[RequestCard]:
        """``_card`` for several requests, in three queries however many there are."""
        people = people_repo.by_ids(
            session, {pid for r in requests for pid in (r.requester_id, r.giver_id, r.subject_id)}
        )
        answers = feedback_repo.by_requests(session, [id_of(r) for r in requests]) if for_requester else {}
        now = self._clock()
        cards = []
        for request in requests:
            involved = [people[request.requester_id], people[request.giver_id], people[request.subject_id]]
            state = (
                shown_to_requester(request, answers.get(id_of(request)), involved, now)
                if for_requester
                else request.state
            )
            last = request.nudged_at or request.created_at
            cards.append(
                RequestCard(
                    request_id=id_of(request),
                    requester=PersonRef.of(involved[0]),
                    giver=PersonRef.of(involved[1]),
                    subject=PersonRef.of(involved[2]),
                    about=request.about,
                    state=state,
                    decline_reason=request.decline_reason,
                    created_at=request.created_at,
                    nudged_at=request.nudged_at,
                    can_nudge=state is RequestState.OPEN and now - last >= NUDGE_EVERY,
                )
            )
        return cards

    def _shown_to_requester(
        self,
        session: Session,
        request: FeedbackRequest,
        now: datetime,
        people: Mapping[int, Person] | None = None,
    ) -> RequestState:
        people = people or people_repo.by_ids(
            session, {request.requester_id, request.giver_id, request.subject_id}
        )
        answer = feedback_repo.by_request(session, id_of(request))
        return shown_to_requester(request, answer, people.values(), now)

    def _today(self, person: Person) -> date:
        return local_date(self._clock(), person.tz)

    def _changed(self, slack_user_ids: Iterable[str], manager: str | None = None) -> None:
        """Tell ``on_change`` whose App Home changed. ``manager``: the confirmed manager of a
        person whose feedback changed, whose Home shows it too (the report's snapshot)."""
        if self._on_change is not None:
            self._on_change([*slack_user_ids, *([manager] if manager else [])])


def shown_to_requester(
    request: FeedbackRequest, answer: Feedback | None, people: Iterable[Person], now: datetime
) -> RequestState:
    """The state a requester may see of a request they sent; ``WITHDRAWN`` reads "closed".

    The rule: it is computed only from facts the requester learns whether or not the giver
    answered anonymously, so an anonymous answer changes nothing they can see, then or later.

    - Answered with a name: ``ANSWERED`` (the notice already named the giver).
    - Declined: ``DECLINED`` (the giver told them, by name).
    - Otherwise ``OPEN`` ("waiting", with Nudge) until ``OPEN_REQUEST_WINDOW`` after asking,
      then closed; closed at once if it was withdrawn or anyone in it left the programme.

    ``storage.repositories.requests.maybe_open_sent`` asks the database the same question, to
    count a person's open requests without loading them: change the two together.

    So an anonymous answer looks exactly like silence: the same word, the same Nudge (which
    then reaches nobody), the same refusal to ask again within the window, the same turn to
    "closed" on the same day. Showing "closed" from the moment of the answer would not do:
    the one row that changes when "You have new anonymous feedback" arrives names the giver.
    Only the notice itself remains, and it says that someone answered, never who.
    """
    if request.state in (RequestState.DECLINED, RequestState.UNDELIVERED):
        return request.state
    if request.state is RequestState.ANSWERED and answer is not None and not answer.anonymous:
        return RequestState.ANSWERED
    if request.state is RequestState.WITHDRAWN or any(p.left_programme_at is not None for p in people):
        return RequestState.WITHDRAWN
    if now - request.created_at >= OPEN_REQUEST_WINDOW:
        return RequestState.WITHDRAWN
    return RequestState.OPEN


def closed_reason(state: RequestState) -> str:
    return {
        RequestState.ANSWERED: "That request has been answered already.",
        RequestState.DECLINED: "That request was declined.",
        RequestState.WITHDRAWN: "That request was withdrawn.",
        RequestState.UNDELIVERED: "That request could not be delivered; it was not kept.",
    }.get(state, "That request is no longer open.")


def left_subject(person: Person) -> str:
    return f"{person.name} left the feedback programme, so feedback about them is off."


def may_give(me: Person, them: Person) -> None:
    """Whether ``me`` may give feedback about ``them`` unasked (and store it): refusals say why."""
    if me.id == them.id:
        raise NotAllowed("Feedback is for someone else; `/feedback request` asks others about you.")
    if me.is_bot or me.deleted:
        raise NotAllowed(INACTIVE)
    if them.is_bot or them.deleted:
        raise NotAllowed(f"{them.name} is a bot or a deactivated account.")
    if me.left_programme_at is not None:
        raise NotAllowed(LEFT_GIVER)
    if them.left_programme_at is not None:
        raise NotAllowed(left_subject(them))


def can_read_request(viewer: Viewer, request: FeedbackRequest) -> bool:
    facts = RequestFacts(
        requester_id=request.requester_id, giver_id=request.giver_id, subject_id=request.subject_id
    )
    return authorize(viewer, facts).read


def shown_at(record: Feedback) -> datetime:
    return record.released_at or record.updated_at
