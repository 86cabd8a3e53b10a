"""Feedback on request, and given unasked: requests, answers, declines, nudges, and every
read of feedback (each through ``bot.access.authorize``).

Like the debrief service, it renders nothing itself: ``FeedbackViews`` (pure functions from
the Slack edge) turn its cards into messages, and the gateway sends them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import fmean
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.access import FeedbackFacts, PersonFacts, RequestFacts, Viewer, authorize
from bot.answer_check import check_answers
from bot.answers import Answers
from bot.debriefs import ANONYMOUS_RELEASED, PersonRef
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.framework import Dimension, Framework, Kpi
from bot.outbox import Delivery, Outbox, Rendered
from bot.people import PeopleService, UnknownPeople
from bot.slack_gateway import SlackGateway
from bot.text import checked_text
from storage.db import Database
from storage.models import (
    ABOUT_MAX,
    DECLINE_REASON_MAX,
    Feedback,
    FeedbackRequest,
    FeedbackSource,
    MessageKind,
    MessageState,
    OutboxMessage,
    Person,
    Relation,
    RequestState,
)
from storage.repositories import feedback as feedback_repo
from storage.repositories import org as org_repo
from storage.repositories import people as people_repo
from storage.repositories import projects as projects_repo
from storage.repositories import requests as requests_repo
from storage.repositories import team as team_repo

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


# ---------------------------------------------------------------------------------------
# Cards: what the edge renders
# ---------------------------------------------------------------------------------------


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


class FeedbackViews(Protocol):
    def request_message(self, card: RequestCard) -> tuple[str, list[Any]]: ...

    def nudge_message(self, card: RequestCard) -> tuple[str, list[Any]]: ...

    def answered_notice(self, card: RequestCard) -> tuple[str, list[Any]]: ...

    def declined_notice(self, card: RequestCard) -> tuple[str, list[Any]]: ...

    def undelivered_notice(self, card: RequestCard, reason: str) -> tuple[str, list[Any]]: ...

    def anonymous_released_notice(
        self, subject: PersonRef, givers: int, for_self: bool
    ) -> tuple[str, list[Any]]: ...


# ---------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------


class FeedbackService:
    def __init__(
        self,
        *,
        db: Database,
        gateway: SlackGateway,
        people: PeopleService,
        outbox: Outbox,
        framework: Framework,
        views: FeedbackViews,
        clock: Callable[[], datetime],
        admins: frozenset[str],
        on_change: Callable[[Iterable[str]], None] | None = None,
    ) -> None:
        self._db, self._gateway, self._people, self._outbox = db, gateway, people, outbox
        self._framework, self._views, self._clock, self._admins = framework, views, clock, admins
        self._on_change = on_change  # told, after each commit, whose App Home changed
        outbox.register(
            MessageKind.FEEDBACK_REQUEST,
            self._render_request,
            on_sent=self._request_sent,
            on_failed=self._request_undelivered,
        )
        outbox.register(MessageKind.REQUEST_NUDGE, self._render_nudge)
        outbox.register(MessageKind.REQUEST_ANSWERED, self._render_outcome)
        outbox.register(MessageKind.REQUEST_DECLINED, self._render_outcome)
        outbox.register(MessageKind.REQUEST_UNDELIVERED, self._render_undelivered)
        outbox.register(MessageKind.ANONYMOUS_RELEASED, self._render_released)

    @property
    def framework(self) -> Framework:
        return self._framework

    def viewer(self, session: Session, person: Person) -> Viewer:
        return Viewer(
            person_id=_id(person),
            report_ids=team_repo.report_ids(session, _id(person)),
            is_admin=person.slack_user_id in self._admins,
        )

    # -- asking ---------------------------------------------------------------------

    def request(
        self, *, requester: str, givers: Sequence[str], about: str, subject: str | None = None
    ) -> RequestOutcome:
        """Ask each giver for feedback about ``subject`` (default: the requester), and send the
        DMs now (this runs after the ack: the person is told what became of each).

        Each person who cannot be asked is refused with a reason and the rest are still
        asked. A manager may ask about a direct report. A request whose DM Slack refuses for
        good is not kept as open ("undelivered"), so it can be made again.
        """
        unique, about = _request_form(givers, about)
        subject_id = subject or requester
        refused: list[Refusal] = []
        try:
            people = self._people.ensure([requester, subject_id, *unique])
        except UnknownPeople as unknown:
            if requester in unknown.slack_user_ids or subject_id in unknown.slack_user_ids:
                raise
            refused += [Refusal(slack_id=u, name=u, reason=NOT_IN_WORKSPACE) for u in unknown.slack_user_ids]
            unique = [u for u in unique if u not in unknown.slack_user_ids]
            people = self._people.ensure([requester, subject_id, *unique])
        me, about_whom = people[requester], people[subject_id]
        now, today = self._clock(), self._today(people[requester])
        if me.is_bot or me.deleted:
            raise NotAllowed(INACTIVE)
        if me.left_programme_at is not None:
            raise NotAllowed("You left the feedback programme, so you cannot ask for feedback.")
        created: list[tuple[int, Person]] = []  # (message id, giver)
        with self._db.transaction() as session:
            if about_whom.id != me.id and _id(about_whom) not in team_repo.report_ids(session, _id(me)):
                raise NotAllowed(
                    "You can ask for feedback about yourself, or about someone who reports to you."
                )
            for slack_id in unique:
                giver = people[slack_id]
                reason = self._cannot_ask(session, me, giver, about_whom, now, today)
                if reason is None:
                    message_id = self._open_request(session, me, giver, about_whom, about, now)
                    if message_id is None:  # a second request a moment ago, from another tab
                        reason = "you already have an open request to them"
                    else:
                        created.append((message_id, giver))
                if reason:
                    refused.append(Refusal(slack_id=slack_id, name=giver.name, reason=reason))
        deliveries = {d.message_id: d for d in self._outbox.deliver([m for m, _ in created])}
        asked: list[PersonRef] = []
        delayed: list[PersonRef] = []
        undelivered: list[Refusal] = []
        for message_id, giver in created:
            delivery = deliveries[message_id]
            if delivery.state is MessageState.FAILED:
                undelivered.append(Refusal(giver.slack_user_id, giver.name, _delivery_words(delivery)))
            elif delivery.state is MessageState.SENT:
                asked.append(_ref(giver))
            else:
                delayed.append(_ref(giver))
        if created:
            self._changed([requester, *(g.slack_user_id for _, g in created)])
        return RequestOutcome(
            asked=tuple(asked),
            refused=tuple(refused),
            about=about,
            delayed=tuple(delayed),
            undelivered=tuple(undelivered),
        )

    def _open_request(
        self, session: Session, me: Person, giver: Person, subject: Person, about: str, now: datetime
    ) -> int | None:
        """Store one open request and its DM in the outbox; None when another open request for
        the same three people got there first (the partial unique index decides)."""
        stale = requests_repo.open_request(
            session, requester_id=_id(me), giver_id=_id(giver), subject_id=_id(subject)
        )
        if stale is not None:
            if now - stale.created_at < OPEN_REQUEST_WINDOW:
                return None  # made a moment ago by a twin request (another tab, a double submit)
            requests_repo.close(session, _id(stale), state=RequestState.WITHDRAWN, at=now)  # expired
        try:
            with session.begin_nested():
                request = requests_repo.add(
                    session,
                    FeedbackRequest(
                        requester_id=_id(me),
                        giver_id=_id(giver),
                        subject_id=_id(subject),
                        about=about,
                        created_at=now,
                    ),
                )
        except IntegrityError:
            return None
        return Outbox.enqueue(
            session,
            kind=MessageKind.FEEDBACK_REQUEST,
            key=str(_id(request)),
            recipient_id=_id(giver),
            ref_id=_id(request),
            due_at=now,
        )

    def check_request(self, *, requester: str, givers: Sequence[str], about: str, subject: str) -> None:
        """What ``request`` would refuse outright, from the database alone (no Slack call), so a
        modal can answer before its ack: the form (``InvalidInput``), a requester who left
        the programme, and a subject who no longer reports to the requester (``NotAllowed``)."""
        _request_form(givers, about)
        me = self._people.known(requester)
        if me.left_programme_at is not None:
            raise NotAllowed("You left the feedback programme, so you cannot ask for feedback.")
        if subject == requester:
            return
        with self._db.transaction() as session:
            them = people_repo.by_slack_id(session, subject)
            if them is None or _id(them) not in team_repo.report_ids(session, _id(me)):
                raise NotAllowed(
                    "You can ask for feedback about yourself, or about someone who reports to you."
                )

    def _cannot_ask(
        self, session: Session, me: Person, giver: Person, subject: Person, now: datetime, today: date
    ) -> str | None:
        if giver.id == me.id:
            return "you cannot ask yourself"
        if giver.id == subject.id:
            return "they cannot give feedback about themself"
        if giver.is_bot:
            return "that is a bot"
        if giver.deleted:
            return "that account is deactivated"
        if giver.left_programme_at is not None:
            return "they left the feedback programme"
        if giver.paused_until is not None and giver.paused_until >= today:
            return f"they are away until {giver.paused_until:%a %d %b}"
        # Judged by what the requester sees (``shown_to_requester``), so a request answered
        # anonymously refuses a second one exactly as long as an unanswered one would.
        latest = requests_repo.latest(
            session, requester_id=_id(me), giver_id=_id(giver), subject_id=_id(subject)
        )
        if latest is not None and self._shown_to_requester(session, latest, now) is RequestState.OPEN:
            return "you already have an open request to them"
        return None

    def nudge(self, *, requester: str, request_id: int) -> tuple[RequestCard, Delivery | None]:
        """Nudge the giver of an open request, once a day: the card, and what became of the DM
        (None when nothing was sent: see below)."""
        now = self._clock()
        with self._db.transaction() as session:
            request, _ = self._request_for(session, requester, request_id, role="requester")
            giver = people_repo.get(session, request.giver_id)
            assert giver is not None
            if self._shown_to_requester(session, request, now) is not RequestState.OPEN:
                raise NotAllowed("That request is no longer open.")
            if giver.paused_until is not None and giver.paused_until >= self._today(giver):
                raise NotAllowed(
                    f"{giver.name} is away until {giver.paused_until:%a %d %b}; nudge them after."
                )
            if not requests_repo.claim_nudge(
                session, request_id, now=now, every=NUDGE_EVERY, state=request.state
            ):
                raise NotAllowed("You can nudge once a day, starting a day after asking. Try again tomorrow.")
            card = self._card(session, requests_repo.get(session, request_id), for_requester=True)
            # Answered anonymously, yet shown as waiting: the nudge is recorded like any other
            # (same answer, same once-a-day limit) but reaches nobody, since there is nothing
            # left to ask and a refusal would tell the requester who answered.
            message_id = None
            if request.state is RequestState.OPEN:
                message_id = Outbox.enqueue(
                    session,
                    kind=MessageKind.REQUEST_NUDGE,
                    key=f"{request_id}:{now.isoformat()}",
                    recipient_id=_id(giver),
                    ref_id=request_id,
                    due_at=now,
                )
        delivery = self._outbox.deliver([message_id])[0] if message_id is not None else None
        self._changed([requester])  # its Nudge button rests for a day, answered or not
        return card, delivery

    # -- answering ------------------------------------------------------------------

    def pending_request(self, *, giver: str, request_id: int) -> RequestCard:
        """An open request addressed to ``giver``, or a refusal saying why not."""
        with self._db.transaction() as session:
            request, _ = self._request_for(session, giver, request_id, role="giver")
            if request.state is not RequestState.OPEN:
                raise NotAllowed(_closed_reason(request.state))
            return self._card(session, request)

    def form_for_request(self, *, giver: str, request_id: int) -> FeedbackForm:
        with self._db.transaction() as session:
            request, _ = self._request_for(session, giver, request_id, role="giver")
            if request.state is not RequestState.OPEN:
                raise NotAllowed(_closed_reason(request.state))
            subject, requester = (
                people_repo.get(session, request.subject_id),
                people_repo.get(session, request.requester_id),
            )
            assert subject is not None and requester is not None
            return FeedbackForm(
                subject=_ref(subject),
                about=request.about,
                request_id=request_id,
                requester=_ref(requester),
                framework=self._framework,
            )

    def form_for_give(self, *, giver: str, subject: str, about: str) -> FeedbackForm:
        about = checked_text(about, field="about", limit=ABOUT_MAX, multiline=False)
        people = self._people.ensure([giver, subject])
        me, them = people[giver], people[subject]
        _may_give(me, them)
        return FeedbackForm(
            subject=_ref(them), about=about, request_id=None, requester=None, framework=self._framework
        )

    def submit(
        self,
        *,
        giver: str,
        view_id: str,
        subject_id: int,
        request_id: int | None,
        about: str,
        answers: Answers,
        anonymous: bool,
        announce: bool = True,
    ) -> SubmitOutcome:
        """Store the answer. With ``announce=False`` the caller tells the requester later, by
        ``announce(outcome)``: a modal's ack must not wait for Slack calls.

        Everything the form carried is checked again here, against what ``giver`` may do now:
        the subject (from the form's metadata) must still be someone they may give feedback
        to, a request must be theirs and open, "about" must be storable text."""
        about = checked_text(about, field="about", limit=ABOUT_MAX, multiline=False)
        answers = check_answers(
            self._db, self._framework, answers, view_id=view_id, giver=giver, now=self._clock()
        )
        for attempt in (1, 2):
            try:
                outcome = self._store(giver, view_id, subject_id, request_id, about, answers, anonymous)
                break
            except IntegrityError:  # a double click raced us to the insert; the retry updates
                if attempt == 2:
                    raise
        if announce:
            self.announce(outcome)
        return outcome

    def announce(self, outcome: SubmitOutcome) -> None:
        """Tell the requester their request was answered; a replaced answer is not news. An
        anonymous answer tells nobody anything now (``bot.anonymity``): only the giver's own
        DM and Home move."""
        if outcome.request_id is not None and not outcome.replaced:
            card = self._tell_requester(outcome.request_id, answered=True)
            if card.anonymous_answer:
                self._changed([card.giver.slack_id])
            else:
                self._changed(
                    [card.requester.slack_id, outcome.subject.slack_id, card.giver.slack_id],
                    about=outcome.subject,
                )
        elif not outcome.replaced and not outcome.anonymous:
            self._changed([outcome.subject.slack_id], about=outcome.subject)

    def _store(
        self,
        giver: str,
        view_id: str,
        subject_id: int,
        request_id: int | None,
        about: str,
        answers: Answers,
        anonymous: bool,
    ) -> SubmitOutcome:
        now = self._clock()
        with self._db.transaction() as session:
            me = people_repo.by_slack_id(session, giver)
            subject = people_repo.get(session, subject_id)
            if me is None or subject is None:
                raise NotAllowed("This feedback form is not yours.")
            _may_give(me, subject)  # e.g. a form left open across /feedback delete, or forged
            if request_id is not None:
                request, _ = self._request_for(session, giver, request_id, role="giver")
                if request.subject_id != subject_id:
                    raise NotAllowed("This feedback form is not yours.")
                record = feedback_repo.by_request(session, request_id)
                if record is None and request.state is not RequestState.OPEN:
                    raise NotAllowed(_closed_reason(request.state))
                about = request.about
            else:
                record = feedback_repo.by_source_view(session, view_id)
                if record is not None and record.giver_id != me.id:
                    raise NotAllowed("This feedback form is not yours.")
            replaced = record is not None
            if record is not None and record.anonymous and record.released_at is not None:
                raise NotAllowed(ANONYMOUS_RELEASED)
            if record is not None and not record.anonymous and anonymous:
                # They have read it with a name: anonymous now, it would be known whose it is.
                raise NotAllowed(NAMED_STAYS_NAMED)
            if record is None:
                record = Feedback(
                    giver_id=_id(me),
                    subject_id=subject_id,
                    source=FeedbackSource.REQUESTED if request_id is not None else FeedbackSource.GIVEN,
                    request_id=request_id,
                    source_view_id=None if request_id is not None else view_id,
                    framework_version=self._framework.version,
                    created_at=now,
                )
            record.relation = team_repo.relation(session, _id(me), subject_id)
            record.about = about[:ABOUT_MAX]
            record.anonymous = anonymous
            # Named feedback is seen at once; anonymous feedback waits for its batch.
            record.released_at = None if anonymous else now
            record.delivery_note = answers.delivery_note.strip()
            record.strengths_note = answers.strengths_note.strip()
            record.growth_note = answers.growth_note.strip()
            record.framework_version = self._framework.version
            record.updated_at = now
            scores = {k.key: (k.dimension.value, answers.scores.get(k.key)) for k in self._framework.kpis}
            feedback_repo.save(session, record, scores)
            if request_id is not None:
                requests_repo.close(session, request_id, state=RequestState.ANSWERED, at=now)
            return SubmitOutcome(
                feedback_id=_id(record),
                subject=_ref(subject),
                request_id=request_id,
                replaced=replaced,
                anonymous=anonymous,
            )

    def decline(self, *, giver: str, request_id: int, reason: str, announce: bool = True) -> None:
        """Decline a request. With ``announce=False`` the caller tells the requester later, by
        ``announce_decline``, after acking the modal."""
        reason = checked_text(reason, field="reason", limit=DECLINE_REASON_MAX)
        with self._db.transaction() as session:
            request, _ = self._request_for(session, giver, request_id, role="giver")
            if not requests_repo.close(
                session, request_id, state=RequestState.DECLINED, at=self._clock(), reason=reason
            ):
                raise NotAllowed(_closed_reason(request.state))
        if announce:
            self.announce_decline(request_id)

    def announce_decline(self, request_id: int) -> RequestCard:
        card = self._tell_requester(request_id, answered=False)
        self._changed([card.requester.slack_id, card.giver.slack_id])
        return card

    def _changed(self, slack_user_ids: Iterable[str], *, about: PersonRef | None = None) -> None:
        """Tell ``on_change`` whose App Home changed. ``about``: feedback about them changed,
        which their confirmed manager's Home shows too (the report's snapshot)."""
        if self._on_change is None:
            return
        people = list(slack_user_ids)
        if about is not None:
            with self._db.transaction() as session:
                subject = people_repo.get(session, about.person_id)
                manager_id = subject.manager_id if subject else None
                manager = people_repo.get(session, manager_id) if manager_id else None
            people += [manager.slack_user_id] if manager else []
        self._on_change(people)

    def _tell_requester(self, request_id: int, *, answered: bool) -> RequestCard:
        """The requester hears the outcome by DM (an anonymous answer: nothing, now; it reaches
        them as silence, and as released feedback later); the giver's DM loses its buttons."""
        with self._db.transaction() as session:
            request = requests_repo.get(session, request_id)
            assert request is not None
            answer = feedback_repo.by_request(session, request_id)
            card = self._card(session, request, anonymous_answer=bool(answer and answer.anonymous))
            message_id = None
            if not card.anonymous_answer:
                message_id = Outbox.enqueue(
                    session,
                    kind=MessageKind.REQUEST_ANSWERED if answered else MessageKind.REQUEST_DECLINED,
                    key=str(request_id),
                    recipient_id=request.requester_id,
                    ref_id=request_id,
                    due_at=self._clock(),
                )
        if message_id is not None:
            self._outbox.deliver([message_id])
        if request.dm_channel_id and request.dm_ts:
            text, blocks = self._views.request_message(card)
            try:
                self._gateway.update_message(request.dm_channel_id, request.dm_ts, text, blocks)
            except Exception as error:  # best effort: its buttons answer "already answered"
                log.warning("could not update a request DM: %s", type(error).__name__)
        return card

    # -- what the outbox sends ---------------------------------------------------------

    def _request_of(self, session: Session, message: OutboxMessage) -> FeedbackRequest | None:
        return requests_repo.get(session, message.ref_id) if message.ref_id is not None else None

    def _render_request(self, session: Session, message: OutboxMessage) -> Rendered | None:
        request = self._request_of(session, message)
        if request is None or request.state is not RequestState.OPEN:
            return None  # withdrawn (someone left) while it waited
        return Rendered(*self._views.request_message(self._card(session, request)))

    def _render_nudge(self, session: Session, message: OutboxMessage) -> Rendered | None:
        request = self._request_of(session, message)
        if request is None or request.state is not RequestState.OPEN:
            return None
        return Rendered(*self._views.nudge_message(self._card(session, request)))

    def _render_outcome(self, session: Session, message: OutboxMessage) -> Rendered | None:
        request = self._request_of(session, message)
        if request is None:
            return None
        answer = feedback_repo.by_request(session, _id(request))
        card = self._card(session, request, anonymous_answer=bool(answer and answer.anonymous))
        if message.kind is MessageKind.REQUEST_ANSWERED:
            return Rendered(*self._views.answered_notice(card))
        return Rendered(*self._views.declined_notice(card))

    def _render_undelivered(self, session: Session, message: OutboxMessage) -> Rendered | None:
        request = self._request_of(session, message)
        if request is None:
            return None
        reason = _delivery_words(Delivery(message.id or 0, MessageState.FAILED, request.decline_reason))
        return Rendered(*self._views.undelivered_notice(self._card(session, request), reason))

    def _render_released(self, session: Session, message: OutboxMessage) -> Rendered | None:
        assert message.ref_id is not None
        subject = people_repo.get(session, message.ref_id)
        givers = feedback_repo.givers_released_at(session, message.ref_id, message.created_at)
        if subject is None or givers == 0:
            return None  # deleted since (someone left the programme)
        return Rendered(
            *self._views.anonymous_released_notice(_ref(subject), givers, message.recipient_id == subject.id)
        )

    def _request_sent(self, session: Session, message: OutboxMessage) -> None:
        assert message.ref_id is not None and message.channel_id and message.ts
        requests_repo.set_dm(session, message.ref_id, message.channel_id, message.ts)

    def _request_undelivered(self, session: Session, message: OutboxMessage, reason: str, live: bool) -> None:
        """Slack refused the request's DM for good: the request is not left open (it would
        block asking again), and the requester is told — now by the caller (``live``), or by a
        DM when it happened later, in a tick."""
        assert message.ref_id is not None
        if not requests_repo.close(
            session, message.ref_id, state=RequestState.UNDELIVERED, at=self._clock(), reason=reason[:120]
        ):
            return
        request = requests_repo.get(session, message.ref_id)
        if request is not None and not live:
            Outbox.enqueue(
                session,
                kind=MessageKind.REQUEST_UNDELIVERED,
                key=str(message.ref_id),
                recipient_id=request.requester_id,
                ref_id=message.ref_id,
                due_at=self._clock(),
            )

    # -- reading (every read asks ``authorize``) --------------------------------------

    def overview(self, slack_user_id: str) -> RequestsOverview:
        # Reads answer inside the ack, so they ask the database only (no users.info); first
        # contact makes the row, and the caller refreshes it from Slack after the ack.
        me = self._people.known(slack_user_id)
        with self._db.transaction() as session:
            viewer = self.viewer(session, me)
            sent = [r for r in requests_repo.sent_by(session, _id(me)) if _can_read_request(viewer, r)]
            received = [
                r for r in requests_repo.received_by(session, _id(me)) if _can_read_request(viewer, r)
            ]
            return RequestsOverview(
                sent=tuple(self._card(session, r, for_requester=True) for r in sent),
                received=tuple(self._card(session, r) for r in received),
            )

    def received(
        self, viewer_slack_id: str, subject_id: int | None = None, *, limit: int = 20
    ) -> list[ReceivedItem]:
        """Feedback about ``subject_id`` (default: the viewer), as far as the viewer may see it."""
        me = self._people.known(viewer_slack_id)  # no Slack call: see ``overview``
        with self._db.transaction() as session:
            viewer = self.viewer(session, me)
            subject = subject_id if subject_id is not None else _id(me)
            if not authorize(viewer, PersonFacts(person_id=subject)).read:
                raise NotAllowed("You can read feedback about yourself and the people who report to you.")
            records = feedback_repo.about(session, subject, reader_id=viewer.person_id, limit=limit)
            return self._items(session, viewer, records)

    def given(self, viewer_slack_id: str) -> list[ReceivedItem]:
        with self._db.transaction() as session:
            me = people_repo.by_slack_id(session, viewer_slack_id)
            if me is None:
                return []
            return self._items(session, self.viewer(session, me), feedback_repo.given_by(session, _id(me)))

    def _items(self, session: Session, viewer: Viewer, records: list[Feedback]) -> list[ReceivedItem]:
        ratings = feedback_repo.ratings_for(session, [_id(r) for r in records])
        names = people_repo.by_ids(session, {r.giver_id for r in records})
        items: list[ReceivedItem] = []
        for record in records:
            access = authorize(
                viewer,
                FeedbackFacts(
                    giver_id=record.giver_id,
                    subject_id=record.subject_id,
                    anonymous=record.anonymous,
                    released=record.released_at is not None,
                ),
            )
            if not access.read:
                continue
            context = record.about
            if record.project_id is not None:
                project = projects_repo.get(session, record.project_id)
                context = project.name if project else context
            if not access.giver_visible:
                context = ""  # "about" names one request: it would point at whom was asked
            items.append(
                ReceivedItem(
                    feedback_id=_id(record),
                    # When readers got it: an anonymous item's batch, not the moment it was given.
                    at=record.released_at or record.updated_at,
                    source=record.source,
                    relation=record.relation,
                    giver=_ref(names[record.giver_id]) if access.giver_visible else None,
                    anonymous=record.anonymous,
                    context=context,
                    scores=ratings[_id(record)],
                    notes={
                        "delivery_note": record.delivery_note,
                        "strengths_note": record.strengths_note,
                        "growth_note": record.growth_note,
                    }
                    if access.text_visible
                    else None,
                )
            )
        return items

    def snapshot(
        self, viewer_slack_id: str, subject_id: int | None = None, *, since: datetime | None = None
    ) -> Snapshot:
        """Per KPI: average (only with enough raters), count, raters, and a weekly sparkline;
        with ``since``, from the feedback given since then only."""
        now = self._clock()
        me = self._people.known(viewer_slack_id)  # no Slack call: see ``overview``
        with self._db.transaction() as session:
            viewer = self.viewer(session, me)
            subject_pid = subject_id if subject_id is not None else _id(me)
            if not authorize(viewer, PersonFacts(person_id=subject_pid)).read:
                raise NotAllowed("You can see the snapshot of yourself and the people who report to you.")
            subject = people_repo.get(session, subject_pid)
            assert subject is not None
            # What this viewer may see exist, by when readers got it (``bot.anonymity``): held
            # anonymous feedback counts nowhere until its batch is released.
            records = [
                r
                for r in feedback_repo.about(session, subject_pid, reader_id=viewer.person_id)
                if r.released_at is not None
            ]
            if since is not None:
                records = [r for r in records if _shown_at(r) >= since]
            ratings = feedback_repo.ratings_for(session, [_id(r) for r in records])
        start = now - timedelta(weeks=SNAPSHOT_WEEKS)
        stats = []
        for kpi in self._framework.kpis:
            scored = [(r, ratings[_id(r)].get(kpi.key)) for r in records]
            scored = [(r, s) for r, s in scored if s is not None]
            raters = len({r.giver_id for r, _ in scored})
            weekly: list[float | None] = []
            for week in range(SNAPSHOT_WEEKS):
                lo, hi = start + timedelta(weeks=week), start + timedelta(weeks=week + 1)
                last = week == SNAPSHOT_WEEKS - 1  # this week includes this very moment
                in_week = [s for r, s in scored if lo <= _shown_at(r) and (_shown_at(r) < hi or last)]
                weekly.append(fmean(in_week) if in_week else None)
            stats.append(
                KpiStat(
                    kpi=kpi,
                    average=fmean(s for _, s in scored) if raters >= MIN_RATERS else None,
                    count=len(scored),
                    raters=raters,
                    weekly=tuple(weekly),
                )
            )
        return Snapshot(person=_ref(subject), stats=tuple(stats), items=len(records))

    def reports(self, manager_slack_id: str) -> list[PersonRef]:
        with self._db.transaction() as session:
            me = people_repo.by_slack_id(session, manager_slack_id)
            return [] if me is None else [_ref(p) for p in team_repo.reports(session, _id(me))]

    def export(self, slack_user_id: str) -> dict[str, Any]:
        """Everything stored about and by the person, as JSON-ready data; anonymous givers removed."""
        with self._db.transaction() as session:
            me = people_repo.by_slack_id(session, slack_user_id)
            if me is None:
                raise NotFound("Brickwork has nothing stored about you.")
            manager = people_repo.get(session, me.manager_id) if me.manager_id else None
            person = {
                "slack_user_id": me.slack_user_id,
                "name": me.name,
                "email": me.email,
                "time_zone": me.tz,
                "manager": manager.slack_user_id if manager else None,
                "notifications_paused_until": me.paused_until.isoformat() if me.paused_until else None,
                "weekly_digest": me.digest_enabled,
                "left_feedback_programme_at": _iso(me.left_programme_at),
            }
            shared = org_repo.coaching_shared_with(session, subject_id=_id(me))
            drafted = org_repo.coaching_requested_by(session, requested_by_id=_id(me))
            names = people_repo.by_ids(
                session, {d.requested_by_id for d in shared} | {d.subject_id for d in drafted}
            )
            # What the coach drew on (feedback ids, sources) stays out: it could point at a giver.
            coaching_shared_with_me = [
                {
                    "shared_at": d.shared_at.date().isoformat() if d.shared_at else None,
                    "manager": names[d.requested_by_id].name,
                    "areas": _coaching_areas(d.content_json),
                    "chosen_learning": _coaching_learning(d.content_json),
                    "my_reaction": d.reaction.value if d.reaction else None,
                }
                for d in shared
            ]
            coaching_i_drafted = [
                {
                    "subject": names[d.subject_id].name,
                    "state": d.state.value,
                    "created_at": d.created_at.date().isoformat(),
                    "coach": d.coach,
                    "areas": _coaching_areas(d.content_json),
                }
                for d in drafted
            ]
        about_me = self.received(slack_user_id, limit=10_000)
        by_me = self.given(slack_user_id)
        requests = self.overview(slack_user_id)
        return {
            "format": "brickwork-export/1",
            "exported_at": self._clock().isoformat(),
            "person": person,
            "feedback_about_me": [_item_json(i, self._framework) for i in about_me],
            "feedback_i_gave": [_item_json(i, self._framework) for i in by_me],
            # As the requester may see them (``shown_to_requester``): never who answered anonymously.
            "requests_i_sent": [_request_json(c, as_requester=True) for c in requests.sent],
            "requests_i_received": [_request_json(c) for c in requests.received],
            "coaching_shared_with_me": coaching_shared_with_me,
            "coaching_i_drafted": coaching_i_drafted,
        }

    # -- helpers ----------------------------------------------------------------------

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
        people = people_repo.by_ids(session, {request.requester_id, request.giver_id, request.subject_id})
        now = self._clock()
        last = request.nudged_at or request.created_at
        state = self._shown_to_requester(session, request, now, people) if for_requester else request.state
        return RequestCard(
            request_id=_id(request),
            requester=_ref(people[request.requester_id]),
            giver=_ref(people[request.giver_id]),
            subject=_ref(people[request.subject_id]),
            about=request.about,
            state=state,
            decline_reason=request.decline_reason,
            created_at=request.created_at,
            nudged_at=request.nudged_at,
            can_nudge=state is RequestState.OPEN and now - last >= NUDGE_EVERY,
            anonymous_answer=anonymous_answer,
        )

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
        answer = feedback_repo.by_request(session, _id(request))
        return shown_to_requester(request, answer, people.values(), now)

    def _today(self, person: Person) -> date:
        from bot.schedule import local_date

        return local_date(self._clock(), person.tz)


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


def _shown_at(record: Feedback) -> datetime:
    return record.released_at or record.updated_at


def _may_give(me: Person, them: Person) -> None:
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
        raise NotAllowed(_left_subject(them))


def _delivery_words(delivery: Delivery) -> str:
    """Why Slack did not take a DM, in words for the person who asked."""
    reason = delivery.reason.removeprefix("gave up: ")
    words = {
        "user_disabled": "their Slack account is deactivated",
        "account_inactive": "their Slack account is deactivated",
        "user_not_found": "Slack does not know them",
        "user_not_visible": "Slack does not let Brickwork reach them",
        "cannot_dm_bot": "that is a bot",
        "channel_not_found": "Slack could not open a DM with them",
        "messages_tab_disabled": "Brickwork's messages tab is turned off (ask your Slack admin)",
    }
    return words.get(reason, f"Slack refused the DM ({reason[:60] or 'no reason given'})")


def _can_read_request(viewer: Viewer, request: FeedbackRequest) -> bool:
    facts = RequestFacts(
        requester_id=request.requester_id, giver_id=request.giver_id, subject_id=request.subject_id
    )
    return authorize(viewer, facts).read


def _left_subject(person: Person) -> str:
    return f"{person.name} left the feedback programme, so feedback about them is off."


def _closed_reason(state: RequestState) -> str:
    return {
        RequestState.ANSWERED: "That request has been answered already.",
        RequestState.DECLINED: "That request was declined.",
        RequestState.WITHDRAWN: "That request was withdrawn.",
        RequestState.UNDELIVERED: "That request could not be delivered; it was not kept.",
    }.get(state, "That request is no longer open.")


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


def _ref(person: Person) -> PersonRef:
    return PersonRef(person_id=_id(person), slack_id=person.slack_user_id, name=person.name)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _item_json(item: ReceivedItem, framework: Framework) -> dict[str, Any]:
    dimensions = {d.value: {} for d in Dimension}  # type: dict[str, dict[str, int | None]]
    for kpi in framework.kpis:
        if kpi.key in item.scores:
            dimensions[kpi.dimension.value][kpi.key] = item.scores[kpi.key]
    notes: dict[str, str] | None = item.notes
    if item.giver is None:
        # Anonymous: nothing that narrows down who gave it. A person has one manager, so the
        # relation would name them; the source, id and exact time would match a request, a
        # debrief or a moment someone remembers. The month stays, as /feedback mine shows it.
        return {
            "giver": "anonymous",
            "month": f"{item.at:%Y-%m}",
            "scores": dimensions,
            "notes": notes,
        }
    return {
        "id": item.feedback_id,
        "at": item.at.isoformat(),
        "date": item.at.date().isoformat(),
        "source": item.source.value,
        "relation": item.relation.value,
        "giver": item.giver.slack_id,
        "context": item.context,
        "scores": dimensions,
        "notes": notes,
    }


def _request_form(givers: Sequence[str], about: str) -> tuple[list[str], str]:
    """The givers without repeats and the trimmed "about", or ``InvalidInput``."""
    if not givers:
        raise InvalidInput({"givers": "Name at least one person to ask."})
    unique = list(dict.fromkeys(givers))
    if len(unique) > MAX_GIVERS:
        raise InvalidInput({"givers": f"Ask at most {MAX_GIVERS} people at once."})
    return unique, checked_text(about, field="about", limit=ABOUT_MAX, multiline=False)


def _coaching_content(content_json: str) -> dict[str, Any]:
    try:
        content = json.loads(content_json) if content_json else {}
    except ValueError:
        return {}
    return content if isinstance(content, dict) else {}


def _coaching_areas(content_json: str) -> list[dict[str, Any]]:
    """A draft's growth areas as the reviewer left them, without the evidence they cite."""
    fields = ("kpi", "observation", "suggestion", "first_step")
    return [{f: area.get(f) for f in fields} for area in _coaching_content(content_json).get("areas") or []]


def _coaching_learning(content_json: str) -> list[str]:
    """The learning items the reviewer chose to share."""
    return [p["item"] for p in _coaching_content(content_json).get("learning") or [] if p.get("chosen")]


def _request_json(card: RequestCard, *, as_requester: bool = False) -> dict[str, Any]:
    closed = as_requester and card.state is RequestState.WITHDRAWN
    return {
        "id": card.request_id,
        "requester": card.requester.slack_id,
        "giver": card.giver.slack_id,
        "subject": card.subject.slack_id,
        "about": card.about,
        "state": "closed" if closed else card.state.value,
        "decline_reason": card.decline_reason,
        "created_at": card.created_at.isoformat(),
    }
