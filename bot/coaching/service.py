"""Coaching drafts: drafted from a person's feedback, reviewed by a human, shared on purpose.

- A manager drafts coaching for a confirmed report (``/coach @report``, or the App Home);
  the draft is theirs to edit, to keep, or to share with the report as a DM.
- A person drafts coaching about themself (``/growth coach``): for their eyes only.

Every draft builds on the person's latest things to try from the weekly digest and how they
went; a manager's draft only once that manager has shared coaching with them.

The evidence is read through the feedback service, so the reader's own access rules apply:
what the coach sees is what the reader may see, anonymous givers never included. The LLM is
asked only when the same prompt has not been answered before; any failure falls back to the
offline coach for that draft and says why.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import Session

from bot.coaching.catalog import Catalog, LearningItem
from bot.coaching.coaches import (
    LLM,
    OFFLINE,
    CoachingAnswer,
    CoachRefused,
    LLMCoach,
    build_prompt,
    check_answer,
    offline_answer,
)
from bot.coaching.evidence import (
    MAX_STEPS,
    WINDOW_DAYS,
    Evidence,
    Redactor,
    TriedStep,
    build_evidence,
    describe_sources,
    tried_steps,
)
from bot.errors import NotAllowed, NotFound
from bot.feedback.reading import FeedbackReading
from bot.framework import Framework, Kpi
from bot.outbox import Delivery, Outbox, Rendered
from bot.people.access import DraftFacts, PersonFacts, Viewer, authorize
from bot.people.directory import PeopleService, PersonRef
from bot.slack_gateway import SlackGateway
from bot.text import checked_text
from prompts import Prompt
from storage.db import Database
from storage.models import (
    CoachAnswer,
    CoachAudience,
    CoachingDraft,
    DraftReaction,
    DraftState,
    MessageKind,
    OutboxMessage,
    Person,
    id_of,
)
from storage.repositories import coaching as coaching_repo
from storage.repositories import growth as growth_repo
from storage.repositories import org as org_repo
from storage.repositories import people as people_repo

log = logging.getLogger(__name__)

EDIT_MAX = 1000  # an edited suggestion; Slack's input allows 3000, a coaching note needs less


def checked_edit(text: str, *, field: str) -> str:
    """A reviewer's text for one field of a draft: required, storable, at most ``EDIT_MAX``."""
    return checked_text(text, field=field, limit=EDIT_MAX, required=True)


DRAFTING_STALE_AFTER = timedelta(minutes=10)  # a draft still "drafting" after this was lost
SHARED_TS_WAIT = 5.0  # seconds a reaction waits for the shared DM's ts to be recorded


@dataclass(frozen=True)
class DraftArea:
    kpi: Kpi
    observation: str
    suggestion: str
    first_step: str
    evidence_ids: tuple[int, ...]  # feedback ids
    sources: str  # "3 peer notes and the Q3 launch debrief"
    stretch: bool = False  # no growth area in the data: this is a strength to stretch


@dataclass(frozen=True)
class DraftStrength:
    kpi: Kpi
    observation: str
    sources: str


@dataclass(frozen=True)
class DraftLearning:
    item: LearningItem
    reason: str
    chosen: bool


@dataclass(frozen=True)
class DraftCard:
    draft_id: int
    subject: PersonRef
    requested_by: PersonRef
    audience: CoachAudience
    state: DraftState
    coach: str  # "llm" or "offline"
    model: str | None
    fallback_reason: str  # why the offline coach stood in for the LLM ("" when it did not)
    stale: bool  # feedback about the person changed after this was drafted
    areas: tuple[DraftArea, ...]
    strength: DraftStrength | None
    learning: tuple[DraftLearning, ...]
    evidence_count: int
    reaction: DraftReaction | None
    cached: bool


@dataclass(frozen=True)
class Drafted:
    """What a coach produced for one draft."""

    answer: CoachingAnswer | None  # None: not enough evidence to coach from
    coach: str  # "llm" or "offline"
    reason: str = ""  # why the offline coach stood in for the LLM
    prompt_tokens: int | None = None  # None for the offline coach; 0 when from the cache
    completion_tokens: int | None = None
    cached: bool = False
    answer_id: int | None = None


@dataclass(frozen=True)
class AreaEdit:
    observation: str
    suggestion: str
    first_step: str


@dataclass(frozen=True)
class DraftEdits:
    areas: tuple[AreaEdit, ...]
    chosen_learning: frozenset[str]


class CoachingViews(Protocol):
    def shared_message(self, card: DraftCard) -> tuple[str, list[Any]]: ...


class CoachingService:
    def __init__(
        self,
        *,
        db: Database,
        gateway: SlackGateway,
        people: PeopleService,
        outbox: Outbox,
        reading: FeedbackReading,
        framework: Framework,
        catalog: Catalog,
        prompt: Prompt,
        llm: LLMCoach | None,
        views: CoachingViews,
        clock: Callable[[], datetime],
    ) -> None:
        self._db, self._gateway, self._people, self._reading = db, gateway, people, reading
        self._framework, self._catalog, self._prompt, self._llm = framework, catalog, prompt, llm
        self._views, self._clock, self._outbox = views, clock, outbox
        outbox.register(
            MessageKind.COACHING_SHARED,
            self._render_shared,
            on_sent=self._shared_sent,
            on_failed=self._share_failed,
        )

    @property
    def uses_llm(self) -> bool:
        return self._llm is not None

    @property
    def response_format(self) -> str | None:
        """The response format the LLM coach asks in now (``auto`` settles on one), or None."""
        return str(self._llm.response_format) if self._llm is not None else None

    # -- drafting ---------------------------------------------------------------------

    def subject_of(self, requester: str, person_id: int) -> str:
        """The Slack id of a report named by person id (a button's value), if they report to
        the requester."""
        with self._db.transaction() as session:
            me = people_repo.by_slack_id(session, requester)
            person = people_repo.get(session, person_id)
            if (
                me is None
                or person is None
                or person.id == me.id
                or not authorize(self._reading.viewer(session, me), PersonFacts(person_id=person_id)).read
            ):
                raise NotAllowed("You can draft coaching only for people who report to you.")
            return person.slack_user_id

    def draft(self, requester: str, subject: str, *, view_id: str | None, fresh: bool = False) -> DraftCard:
        """Reopen the requester's unshared draft about ``subject``, or draft anew (always with
        ``fresh``). ``subject == requester`` drafts coaching for oneself."""
        people = self._people.ensure([requester, subject])
        me, them = people[requester], people[subject]
        if me.is_bot or me.deleted:
            raise NotAllowed("Brickwork is for active people: this account is a bot or deactivated.")
        for_self = me.id == them.id
        audience = CoachAudience.SELF if for_self else CoachAudience.MANAGER
        with self._db.transaction() as session:
            if not authorize(self._reading.viewer(session, me), PersonFacts(person_id=id_of(them))).read:
                raise NotAllowed(
                    "You can draft coaching only for people who report to you (once they have "
                    "confirmed it). For yourself, use `/growth coach`."
                )
            if them.left_programme_at is not None:
                raise NotAllowed(f"{them.name} has left the feedback programme.")
            existing = coaching_repo.latest_open(
                session, subject_id=id_of(them), requested_by_id=id_of(me), audience=audience
            )
            newest = coaching_repo.newest_evidence_at(session, id_of(them))
            # An open draft reopens as the reviewer left it (marked stale when feedback has
            # changed since); one the offline coach made because the LLM failed is redrafted,
            # so the LLM gets another chance.
            if (
                existing is not None
                and not fresh
                and existing.state is DraftState.DRAFT
                and not existing.fallback_reason
            ):
                existing.view_id = view_id
                session.add(existing)
                return self._card(session, existing, newest)
            # One draft in the making per (reader, person): a second /coach, a double click or
            # Redraft meanwhile would ask the LLM the same thing twice. A partial unique index
            # holds it across threads and replicas; a claim older than this is taken as lost.
            now = self._clock()
            coaching_repo.expire_drafting(
                session,
                subject_id=id_of(them),
                requested_by_id=id_of(me),
                audience=audience,
                before=now - DRAFTING_STALE_AFTER,
            )
            draft_id = coaching_repo.start_drafting(
                session,
                CoachingDraft(
                    subject_id=id_of(them),
                    requested_by_id=id_of(me),
                    audience=audience,
                    view_id=view_id,
                    prompt_version=self._prompt.version,
                    created_at=now,
                    updated_at=now,
                ),
            )
            if draft_id is None:
                raise NotAllowed(
                    f"Coaching about {them.name} is being drafted right now. It opens where you asked "
                    "for it; or run the command again in a minute."
                )
        try:
            return self._finish_draft(draft_id, requester, id_of(me), them, audience, now)
        except Exception:
            # Never leave a draft "drafting": it would hold up the next one for ten minutes.
            with self._db.transaction() as session:
                coaching_repo.finish(session, draft_id, state=DraftState.FAILED, at=self._clock())
            raise

    def _finish_draft(
        self,
        draft_id: int,
        requester: str,
        requester_id: int,
        them: Person,
        audience: CoachAudience,
        now: datetime,
    ) -> DraftCard:
        with self._db.transaction() as session:
            names = people_repo.all_names(session)
            steps = self._steps(session, requester_id, id_of(them), audience)
        evidence = build_evidence(
            self._framework,
            self._reading.snapshot(requester, id_of(them), since=now - timedelta(days=WINDOW_DAYS)),
            self._reading.received(requester, id_of(them), limit=200),
            now,
            steps,
        )
        drafted = self._answer(
            evidence, them.name, [n for n in names if n != them.name], for_self=audience is CoachAudience.SELF
        )
        with self._db.transaction() as session:
            draft = coaching_repo.get(session, draft_id)
            if draft is None:  # deleted while the coach worked (someone left the programme)
                raise NotFound("That draft was deleted while it was being made.")
            draft.coach, draft.fallback_reason, draft.answer_id = (
                drafted.coach,
                drafted.reason,
                drafted.answer_id,
            )
            draft.prompt_tokens, draft.completion_tokens = drafted.prompt_tokens, drafted.completion_tokens
            draft.cached = drafted.cached
            draft.evidence_count, draft.evidence_through = len(evidence.items), evidence.newest
            draft.updated_at = self._clock()
            if drafted.answer is None:
                draft.state = DraftState.FAILED
            else:
                draft.state = DraftState.DRAFT
                draft.content_json = json.dumps(_content(drafted.answer, evidence), ensure_ascii=False)
            session.add(draft)
            # Never the prompt or the answer: they carry what colleagues wrote.
            log.info(
                "coaching draft %s: coach=%s cached=%s tokens=%s/%s fallback=%r",
                draft_id,
                drafted.coach,
                drafted.cached,
                drafted.prompt_tokens,
                drafted.completion_tokens,
                drafted.reason,
            )
            return self._card(session, draft, evidence.newest)

    def _steps(
        self, session: Session, reader_id: int, subject_id: int, audience: CoachAudience
    ) -> tuple[TriedStep, ...]:
        """The person's latest things to try and how they went, if the reader may see them: they
        are the person's own, so in a manager's draft only once that manager has shared
        coaching with them (as ``/growth`` shows them to a manager)."""
        if audience is not CoachAudience.SELF and not any(
            d.requested_by_id == reader_id
            for d in org_repo.coaching_shared_with(session, subject_id=subject_id)
        ):
            return ()
        return tried_steps(self._framework, growth_repo.recent_steps(session, subject_id, limit=MAX_STEPS))

    def _answer(
        self, evidence: Evidence, subject_name: str, other_names: list[str], *, for_self: bool
    ) -> Drafted:
        offline = offline_answer(self._framework, self._catalog, evidence)
        if self._llm is None or offline is None or offline.stretch is not None:
            # Without enough evidence there is nothing honest to ask an LLM either; without a
            # growth area in the data, the draft says so (and how to stretch a strength).
            return Drafted(offline, OFFLINE)
        request = build_prompt(
            self._prompt,
            self._framework,
            self._catalog,
            evidence,
            Redactor([subject_name], other_names),
            model=self._llm.model,
            for_self=for_self,
        )
        with self._db.transaction() as session:
            known = coaching_repo.answer(session, request.key)
            if known is not None:
                answer = CoachingAnswer.model_validate_json(known.answer_json)
                return Drafted(
                    answer, LLM, prompt_tokens=0, completion_tokens=0, cached=True, answer_id=known.id
                )
        try:
            reply = self._llm.ask(request)
        except CoachRefused as refused:
            log.warning("the LLM coach could not be used for a draft: %s", refused.reason)
            return Drafted(offline, OFFLINE, refused.reason, refused.prompt_tokens, refused.completion_tokens)
        try:
            check_answer(reply.answer, self._framework, self._catalog, evidence)
        except CoachRefused as refused:
            log.warning("the LLM coach's answer was refused: %s", refused.reason)
            return Drafted(offline, OFFLINE, refused.reason, reply.prompt_tokens, reply.completion_tokens)
        with self._db.transaction() as session:
            row = coaching_repo.remember_answer(
                session,
                CoachAnswer(
                    evidence_key=request.key,
                    coach=LLM,
                    prompt_version=self._prompt.version,
                    model=self._llm.model,
                    answer_json=reply.answer.model_dump_json(),
                    prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens,
                    created_at=self._clock(),
                ),
            )
            answer_id = row.id
        return Drafted(
            reply.answer, LLM, "", reply.prompt_tokens, reply.completion_tokens, answer_id=answer_id
        )

    # -- reviewing and sharing --------------------------------------------------------

    def card(self, requester: str, draft_id: int) -> DraftCard:
        with self._db.transaction() as session:
            draft = self._own_draft(session, requester, draft_id)
            return self._card(session, draft, coaching_repo.newest_evidence_at(session, draft.subject_id))

    def save_edits(self, requester: str, draft_id: int, edits: DraftEdits) -> None:
        """Keep what the reviewer typed (the modal was closed, or is about to be shared)."""
        with self._db.transaction() as session:
            draft = self._own_draft(session, requester, draft_id)
            if draft.state is not DraftState.DRAFT:
                return  # shared drafts are what was sent; nothing changes them afterwards
            draft.content_json = json.dumps(_apply(json.loads(draft.content_json), edits), ensure_ascii=False)
            draft.updated_at = self._clock()
            session.add(draft)

    def share(self, requester: str, draft_id: int, edits: DraftEdits) -> tuple[DraftCard, Delivery | None]:
        """Send the reviewed draft to the person it is about, once: the card, and what became
        of the DM (None when it had been shared before). A DM Slack refuses for good turns it
        back into a draft, to share again later."""
        self.save_edits(requester, draft_id, edits)
        with self._db.transaction() as session:
            draft = self._own_draft(session, requester, draft_id)
            if draft.audience is not CoachAudience.MANAGER:
                raise NotAllowed("Coaching you drafted for yourself stays with you.")
            subject = people_repo.get(session, draft.subject_id)
            if subject is None or subject.left_programme_at is not None:
                raise NotAllowed("They have left the feedback programme; nothing was sent.")
            first = coaching_repo.claim_for_sharing(session, draft_id, at=self._clock())
            session.refresh(draft)
            if not first and draft.state is not DraftState.SHARED:
                raise NotAllowed("This draft cannot be shared.")
            card = self._card(session, draft, coaching_repo.newest_evidence_at(session, draft.subject_id))
            message_id = None
            if first:
                message_id = Outbox.enqueue(
                    session,
                    kind=MessageKind.COACHING_SHARED,
                    key=str(draft_id),
                    recipient_id=draft.subject_id,
                    ref_id=draft_id,
                    due_at=self._clock(),
                )
        delivery = self._outbox.deliver([message_id])[0] if message_id is not None else None
        return card, delivery

    def _render_shared(self, session: Session, message: OutboxMessage) -> Rendered | None:
        draft = coaching_repo.get(session, message.ref_id) if message.ref_id is not None else None
        if draft is None or draft.state is not DraftState.SHARED:
            return None
        card = self._card(session, draft, coaching_repo.newest_evidence_at(session, draft.subject_id))
        return Rendered(*self._views.shared_message(card))

    def _shared_sent(self, session: Session, message: OutboxMessage) -> None:
        draft = coaching_repo.get(session, message.ref_id) if message.ref_id is not None else None
        if draft is not None:
            draft.shared_channel_id, draft.shared_ts = message.channel_id, message.ts
            session.add(draft)

    def _share_failed(self, session: Session, message: OutboxMessage, reason: str, live: bool) -> None:
        if message.ref_id is not None:  # not sent: it stays a draft to share again
            coaching_repo.unshare(session, message.ref_id, at=self._clock())

    def react(self, person: str, draft_id: int, reaction: DraftReaction) -> DraftCard:
        """The person it is about says whether it helped (only they can); the DM that shared it
        (where it was recorded, never where a payload says) is updated to say so."""
        with self._db.transaction() as session:
            draft, me = self._readable_draft(session, person, draft_id)
            if draft.subject_id != me.id or draft.state is not DraftState.SHARED:
                raise NotAllowed("Only the person this coaching was shared with can answer it.")
            draft.reaction, draft.reacted_at = reaction, self._clock()
            session.add(draft)
            card = self._card(session, draft, coaching_repo.newest_evidence_at(session, draft.subject_id))
            channel, ts = draft.shared_channel_id, draft.shared_ts
        if not (channel and ts):
            channel, ts = self._shared_message(draft_id)
        if channel and ts:
            text, blocks = self._views.shared_message(card)
            try:
                self._gateway.update_message(channel, ts, text, blocks)
            except Exception as error:  # the reaction is stored; the DM keeps its buttons
                log.warning("could not update a shared coaching DM: %s", type(error).__name__)
        return card

    def _shared_message(self, draft_id: int) -> tuple[str | None, str | None]:
        """Where the draft was shared, once the outbox has recorded it. A click can come in the
        moment Slack shows the DM, before the sender has written down its ts: wait for that
        (the database says, whichever replica sent it), a few seconds at most."""
        deadline = time.monotonic() + SHARED_TS_WAIT
        while True:
            with self._db.transaction() as session:
                draft = coaching_repo.get(session, draft_id)
                if draft is None:
                    return None, None
                if draft.shared_channel_id and draft.shared_ts:
                    return draft.shared_channel_id, draft.shared_ts
            if time.monotonic() >= deadline:
                return None, None
            time.sleep(0.05)

    # -- helpers ----------------------------------------------------------------------

    def _readable_draft(
        self, session: Any, slack_user_id: str, draft_id: int
    ) -> tuple[CoachingDraft, Person]:
        """The draft and the reader, if ``authorize`` lets them read it."""
        draft = coaching_repo.get(session, draft_id)
        me = people_repo.by_slack_id(session, slack_user_id)
        if draft is None or me is None:
            raise NotFound("That draft no longer exists.")
        facts = DraftFacts(
            requested_by_id=draft.requested_by_id,
            subject_id=draft.subject_id,
            shared=draft.state is DraftState.SHARED,
        )
        if not authorize(Viewer(person_id=id_of(me)), facts).read:
            raise NotFound("That draft is not yours, or no longer exists.")
        return draft, me

    def _own_draft(self, session: Any, requester: str, draft_id: int) -> CoachingDraft:
        """A draft its author may change or share: readable, theirs, and (for a manager's
        unshared draft) about someone who still reports to them."""
        draft, me = self._readable_draft(session, requester, draft_id)
        if draft.requested_by_id != me.id:
            raise NotFound("That draft is not yours, or no longer exists.")
        if (
            draft.state is not DraftState.SHARED
            and not authorize(self._reading.viewer(session, me), PersonFacts(person_id=draft.subject_id)).read
        ):
            raise NotAllowed("They no longer report to you, so this draft cannot be changed or shared.")
        return draft

    def _card(self, session: Any, draft: CoachingDraft, newest: datetime | None) -> DraftCard:
        people = people_repo.by_ids(session, {draft.subject_id, draft.requested_by_id})
        content = json.loads(draft.content_json) if draft.content_json else {}
        keys = {k.key: k for k in self._framework.kpis}
        areas = tuple(
            DraftArea(
                kpi=keys[a["kpi"]],
                observation=a["observation"],
                suggestion=a["suggestion"],
                first_step=a["first_step"],
                evidence_ids=tuple(a["evidence"]),
                sources=a["sources"],
                stretch=a.get("kind") == "stretch",
            )
            for a in content.get("areas", [])
            if a["kpi"] in keys  # a KPI the framework has since dropped
        )
        strength = content.get("strength")
        learning = tuple(
            DraftLearning(item=self._catalog.item(p["item"]), reason=p["reason"], chosen=p["chosen"])
            for p in content.get("learning", [])
            if p["item"] in self._catalog
        )
        answer = coaching_repo.answer_by_id(session, draft.answer_id) if draft.answer_id else None
        return DraftCard(
            draft_id=id_of(draft),
            subject=PersonRef.of(people[draft.subject_id]),
            requested_by=PersonRef.of(people[draft.requested_by_id]),
            audience=draft.audience,
            state=draft.state,
            coach=draft.coach or OFFLINE,
            model=answer.model if answer is not None else None,
            fallback_reason=draft.fallback_reason,
            stale=_is_stale(draft, newest),
            areas=areas,
            strength=DraftStrength(keys[strength["kpi"]], strength["observation"], strength["sources"])
            if strength and strength["kpi"] in keys
            else None,
            learning=learning,
            evidence_count=draft.evidence_count,
            reaction=draft.reaction,
            cached=draft.cached,
        )


def _content(answer: CoachingAnswer, evidence: Evidence) -> dict[str, Any]:
    """The draft as stored: labels resolved to feedback ids, sources described for readers."""

    def resolve(labels: list[str]) -> tuple[list[int], str]:
        items = [item for label in labels if (item := evidence.item(label)) is not None]
        return [i.feedback_id for i in items], describe_sources(items)

    areas = []
    stretch = [answer.stretch] if answer.stretch is not None else []
    for area, kind in [(a, "growth") for a in answer.growth_areas] + [(a, "stretch") for a in stretch]:
        ids, sources = resolve(area.evidence)
        areas.append(
            {
                "kind": kind,  # "stretch": no growth area in the data; a strength to stretch
                "kpi": area.kpi,
                "observation": area.observation,
                "suggestion": area.suggestion,
                "first_step": area.first_step,
                "evidence": ids,
                "sources": sources,
            }
        )
    strength = None
    if answer.strength is not None:
        _, sources = resolve(answer.strength.evidence)
        strength = {
            "kpi": answer.strength.kpi,
            "observation": answer.strength.observation,
            "sources": sources,
        }
    learning = [{"item": p.item, "reason": p.reason, "chosen": True} for p in answer.learning]
    return {"areas": areas, "strength": strength, "learning": learning}


def _apply(content: dict[str, Any], edits: DraftEdits) -> dict[str, Any]:
    for area, edit in zip(content.get("areas", []), edits.areas, strict=False):
        area["observation"], area["suggestion"], area["first_step"] = (
            edit.observation,
            edit.suggestion,
            edit.first_step,
        )
    for pick in content.get("learning", []):
        pick["chosen"] = pick["item"] in edits.chosen_learning
    return content


def _is_stale(draft: CoachingDraft, newest: datetime | None) -> bool:
    if newest is None:
        return False
    return draft.evidence_through is None or newest > draft.evidence_through
