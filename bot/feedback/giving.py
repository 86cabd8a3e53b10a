"""Feedback given: the two-dimensional form, unasked or answering a request, checked against
what the giver may do now, stored, and announced (an anonymous answer to nobody, yet).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from bot.errors import NotAllowed
from bot.feedback.anonymity import ANONYMOUS_RELEASED
from bot.feedback.answers import Answers, check_answers
from bot.feedback.cards import (
    NAMED_STAYS_NAMED,
    FeedbackBase,
    FeedbackForm,
    SubmitOutcome,
    closed_reason,
    may_give,
)
from bot.feedback.requests import FeedbackRequests
from bot.framework import Framework
from bot.people.directory import PeopleService, PersonRef
from bot.text import checked_text
from storage.db import Database
from storage.models import (
    ABOUT_MAX,
    Feedback,
    FeedbackSource,
    RequestState,
    id_of,
)
from storage.repositories import feedback as feedback_repo
from storage.repositories import people as people_repo
from storage.repositories import requests as requests_repo
from storage.repositories import team as team_repo

log = logging.getLogger(__name__)


class FeedbackGiving(FeedbackBase):
    def __init__(
        self,
        *,
        db: Database,
        people: PeopleService,
        requests: FeedbackRequests,
        framework: Framework,
        clock: Callable[[], datetime],
        on_change: Callable[[Iterable[str]], None] | None = None,
    ) -> None:
        super().__init__(db=db, people=people, framework=framework, clock=clock, on_change=on_change)
        self._requests = requests

    def form_for_give(self, *, giver: str, subject: str, about: str) -> FeedbackForm:
        about = checked_text(about, field="about", limit=ABOUT_MAX, multiline=False)
        people = self._people.ensure([giver, subject])
        me, them = people[giver], people[subject]
        may_give(me, them)
        return FeedbackForm(
            subject=PersonRef.of(them),
            about=about,
            request_id=None,
            requester=None,
            framework=self._framework,
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
        anonymous answer tells nobody anything now (``bot.feedback.anonymity``): only the giver's own
        DM and Home move."""
        if outcome.request_id is not None and not outcome.replaced:
            card = self._requests.tell_requester(outcome.request_id, answered=True)
            if card.anonymous_answer:
                self._changed([card.giver.slack_id])
            else:
                self._changed(
                    [card.requester.slack_id, outcome.subject.slack_id, card.giver.slack_id],
                    outcome.subject_manager,
                )
        elif not outcome.replaced and not outcome.anonymous:
            self._changed([outcome.subject.slack_id], outcome.subject_manager)

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
            may_give(me, subject)  # e.g. a form left open across /feedback delete, or forged
            if request_id is not None:
                request, _ = self._request_for(session, giver, request_id, role="giver")
                if request.subject_id != subject_id:
                    raise NotAllowed("This feedback form is not yours.")
                record = feedback_repo.by_request(session, request_id)
                if record is None and request.state is not RequestState.OPEN:
                    raise NotAllowed(closed_reason(request.state))
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
                    giver_id=id_of(me),
                    subject_id=subject_id,
                    source=FeedbackSource.REQUESTED if request_id is not None else FeedbackSource.GIVEN,
                    request_id=request_id,
                    source_view_id=None if request_id is not None else view_id,
                    framework_version=self._framework.version,
                    created_at=now,
                )
            # Every read before the first write: on SQLite, a writer holds the file from its first
            # write to its commit, and other submissions wait for it.
            relation = team_repo.relation(session, id_of(me), subject_id)
            manager = people_repo.get(session, subject.manager_id) if subject.manager_id else None
            outcome = SubmitOutcome(
                feedback_id=0,
                subject=PersonRef.of(subject),
                request_id=request_id,
                replaced=replaced,
                anonymous=anonymous,
                subject_manager=manager.slack_user_id if manager is not None else None,
            )
            scores = {k.key: (k.dimension.value, answers.scores.get(k.key)) for k in self._framework.kpis}
            record.relation = relation
            record.about = about[:ABOUT_MAX]
            record.anonymous = anonymous
            # Named feedback is seen at once; anonymous feedback waits for its batch.
            record.released_at = None if anonymous else now
            record.delivery_note = answers.delivery_note.strip()
            record.strengths_note = answers.strengths_note.strip()
            record.growth_note = answers.growth_note.strip()
            record.framework_version = self._framework.version
            record.updated_at = now
            feedback_repo.save(session, record, scores)
            if request_id is not None:
                requests_repo.close(session, request_id, state=RequestState.ANSWERED, at=now)
            return replace(outcome, feedback_id=id_of(record))
