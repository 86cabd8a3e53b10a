"""Feedback on request: asking, nudging, declining, telling the requester — each DM through
the outbox, sent once — and the refusals that keep asking fair.

It renders nothing itself: ``FeedbackViews`` (pure functions from the Slack edge) turn its
cards into messages, and the outbox sends them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.errors import InvalidInput, NotAllowed
from bot.feedback.cards import (
    INACTIVE,
    MAX_GIVERS,
    NOT_IN_WORKSPACE,
    NUDGE_EVERY,
    OPEN_REQUEST_WINDOW,
    FeedbackBase,
    FeedbackForm,
    FeedbackViews,
    Refusal,
    RequestCard,
    RequestOutcome,
    closed_reason,
)
from bot.framework import Framework
from bot.outbox import Delivery, Outbox, Rendered
from bot.people.directory import PeopleService, PersonRef, UnknownPeople
from bot.slack_gateway import SlackGateway
from bot.text import checked_text
from storage.db import Database
from storage.models import (
    ABOUT_MAX,
    DECLINE_REASON_MAX,
    FeedbackRequest,
    MessageKind,
    MessageState,
    OutboxMessage,
    Person,
    RequestState,
    id_of,
)
from storage.repositories import feedback as feedback_repo
from storage.repositories import people as people_repo
from storage.repositories import requests as requests_repo
from storage.repositories import team as team_repo

log = logging.getLogger(__name__)


class FeedbackRequests(FeedbackBase):
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
        on_change: Callable[[Iterable[str]], None] | None = None,
    ) -> None:
        super().__init__(db=db, people=people, framework=framework, clock=clock, on_change=on_change)
        self._gateway, self._outbox, self._views = gateway, outbox, views
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
            if about_whom.id != me.id and id_of(about_whom) not in team_repo.report_ids(session, id_of(me)):
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
                asked.append(PersonRef.of(giver))
            else:
                delayed.append(PersonRef.of(giver))
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
            session, requester_id=id_of(me), giver_id=id_of(giver), subject_id=id_of(subject)
        )
        if stale is not None:
            if now - stale.created_at < OPEN_REQUEST_WINDOW:
                return None  # made a moment ago by a twin request (another tab, a double submit)
            requests_repo.close(session, id_of(stale), state=RequestState.WITHDRAWN, at=now)  # expired
        try:
            with session.begin_nested():
                request = requests_repo.add(
                    session,
                    FeedbackRequest(
                        requester_id=id_of(me),
                        giver_id=id_of(giver),
                        subject_id=id_of(subject),
                        about=about,
                        created_at=now,
                    ),
                )
        except IntegrityError:
            return None
        return Outbox.enqueue(
            session,
            kind=MessageKind.FEEDBACK_REQUEST,
            key=str(id_of(request)),
            recipient_id=id_of(giver),
            ref_id=id_of(request),
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
            if them is None or id_of(them) not in team_repo.report_ids(session, id_of(me)):
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
            session, requester_id=id_of(me), giver_id=id_of(giver), subject_id=id_of(subject)
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
                    recipient_id=id_of(giver),
                    ref_id=request_id,
                    due_at=now,
                )
        delivery = self._outbox.deliver([message_id])[0] if message_id is not None else None
        self._changed([requester])  # its Nudge button rests for a day, answered or not
        return card, delivery

    def pending_request(self, *, giver: str, request_id: int) -> RequestCard:
        """An open request addressed to ``giver``, or a refusal saying why not."""
        with self._db.transaction() as session:
            request, _ = self._request_for(session, giver, request_id, role="giver")
            if request.state is not RequestState.OPEN:
                raise NotAllowed(closed_reason(request.state))
            return self._card(session, request)

    def form_for_request(self, *, giver: str, request_id: int) -> FeedbackForm:
        with self._db.transaction() as session:
            request, _ = self._request_for(session, giver, request_id, role="giver")
            if request.state is not RequestState.OPEN:
                raise NotAllowed(closed_reason(request.state))
            subject, requester = (
                people_repo.get(session, request.subject_id),
                people_repo.get(session, request.requester_id),
            )
            assert subject is not None and requester is not None
            return FeedbackForm(
                subject=PersonRef.of(subject),
                about=request.about,
                request_id=request_id,
                requester=PersonRef.of(requester),
                framework=self._framework,
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
                raise NotAllowed(closed_reason(request.state))
        if announce:
            self.announce_decline(request_id)

    def announce_decline(self, request_id: int) -> RequestCard:
        card = self.tell_requester(request_id, answered=False)
        self._changed([card.requester.slack_id, card.giver.slack_id])
        return card

    def tell_requester(self, request_id: int, *, answered: bool) -> RequestCard:
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
        answer = feedback_repo.by_request(session, id_of(request))
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


def _request_form(givers: Sequence[str], about: str) -> tuple[list[str], str]:
    """The givers without repeats and the trimmed "about", or ``InvalidInput``."""
    if not givers:
        raise InvalidInput({"givers": "Name at least one person to ask."})
    unique = list(dict.fromkeys(givers))
    if len(unique) > MAX_GIVERS:
        raise InvalidInput({"givers": f"Ask at most {MAX_GIVERS} people at once."})
    return unique, checked_text(about, field="about", limit=ABOUT_MAX, multiline=False)
