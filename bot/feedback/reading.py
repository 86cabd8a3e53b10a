"""Every read of feedback — what a person received and gave, their snapshot, their requests,
their export — each through ``bot.people.access.authorize``, and anonymous feedback only
once released (``bot.feedback.anonymity``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.errors import NotAllowed, NotFound
from bot.feedback.cards import (
    MIN_RATERS,
    OPEN_REQUEST_WINDOW,
    SNAPSHOT_WEEKS,
    FeedbackBase,
    KpiStat,
    OpenRequests,
    ReceivedItem,
    RequestCard,
    RequestsOverview,
    Snapshot,
    can_read_request,
)
from bot.framework import Dimension, Framework
from bot.people.access import FeedbackFacts, PersonFacts, Viewer, authorize
from bot.people.directory import PersonRef
from bot.remembered import Remembered
from storage.models import (
    Feedback,
    Person,
    RequestState,
    id_of,
)
from storage.repositories import feedback as feedback_repo
from storage.repositories import growth as growth_repo
from storage.repositories import org as org_repo
from storage.repositories import people as people_repo
from storage.repositories import projects as projects_repo
from storage.repositories import requests as requests_repo
from storage.repositories import team as team_repo
from storage.repositories.feedback import Tally

log = logging.getLogger(__name__)

SNAPSHOTS_KEPT = 2_000  # the people whose snapshots are remembered (the most recently read)


class FeedbackReading(FeedbackBase):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # person id -> their snapshot's figures, while the feedback about them is unchanged
        self._remembered: Remembered[int, tuple[tuple[KpiStat, ...], int]] = Remembered(SNAPSHOTS_KEPT)

    def viewer(self, session: Session, person: Person) -> Viewer:
        return Viewer(
            person_id=id_of(person),
            report_ids=team_repo.report_ids(session, id_of(person)),
            is_admin=person.slack_user_id in self._admins,
        )

    def overview(self, slack_user_id: str) -> RequestsOverview:
        # Reads answer inside the ack, so they ask the database only (no users.info); first
        # contact makes the row, and the caller refreshes it from Slack after the ack.
        me = self._people.known(slack_user_id)
        with self._db.transaction() as session:
            viewer = self.viewer(session, me)
            sent = [r for r in requests_repo.sent_by(session, id_of(me)) if can_read_request(viewer, r)]
            received = [
                r for r in requests_repo.received_by(session, id_of(me)) if can_read_request(viewer, r)
            ]
            return RequestsOverview(
                sent=tuple(self._cards(session, sent, for_requester=True)),
                received=tuple(self._cards(session, received)),
            )

    def open_requests(self, slack_user_id: str, *, limit: int) -> OpenRequests:
        """The newest ``limit`` open requests to the person and of theirs that read "open" to
        them (``shown_to_requester``), with how many there are: counted by the database."""
        me = self._people.known(slack_user_id)  # no Slack call: see ``overview``
        now = self._clock()
        with self._db.transaction() as session:
            waiting, waiting_total = requests_repo.open_received(session, id_of(me), limit=limit)
            mine, mine_total = requests_repo.maybe_open_sent(
                session, id_of(me), asked_after=now - OPEN_REQUEST_WINDOW, limit=limit
            )
            return OpenRequests(
                waiting=tuple(self._cards(session, waiting)),
                waiting_total=waiting_total,
                # ``maybe_open_sent`` asks what ``shown_to_requester`` answers; this keeps the
                # list to the rule's own answer even if the two ever part.
                mine=tuple(
                    c for c in self._cards(session, mine, for_requester=True) if c.state is RequestState.OPEN
                ),
                mine_total=mine_total,
            )

    def received(
        self, viewer_slack_id: str, subject_id: int | None = None, *, limit: int = 20
    ) -> list[ReceivedItem]:
        """Feedback about ``subject_id`` (default: the viewer), as far as the viewer may see it."""
        me = self._people.known(viewer_slack_id)  # no Slack call: see ``overview``
        with self._db.transaction() as session:
            viewer = self.viewer(session, me)
            subject = subject_id if subject_id is not None else id_of(me)
            if not authorize(viewer, PersonFacts(person_id=subject)).read:
                raise NotAllowed("You can read feedback about yourself and the people who report to you.")
            records = feedback_repo.about(session, subject, reader_id=viewer.person_id, limit=limit)
            return self._items(session, viewer, records)

    def given(self, viewer_slack_id: str) -> list[ReceivedItem]:
        with self._db.transaction() as session:
            me = people_repo.by_slack_id(session, viewer_slack_id)
            if me is None:
                return []
            return self._items(session, self.viewer(session, me), feedback_repo.given_by(session, id_of(me)))

    def _items(self, session: Session, viewer: Viewer, records: list[Feedback]) -> list[ReceivedItem]:
        ratings = feedback_repo.ratings_for(session, [id_of(r) for r in records])
        names = people_repo.by_ids(session, {r.giver_id for r in records})
        projects = projects_repo.by_ids(session, {r.project_id for r in records if r.project_id is not None})
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
                project = projects.get(record.project_id)
                context = project.name if project else context
            if not access.giver_visible:
                context = ""  # "about" names one request: it would point at whom was asked
            items.append(
                ReceivedItem(
                    feedback_id=id_of(record),
                    # When readers got it: an anonymous item's batch, not the moment it was given.
                    at=record.released_at or record.updated_at,
                    source=record.source,
                    relation=record.relation,
                    giver=PersonRef.of(names[record.giver_id]) if access.giver_visible else None,
                    anonymous=record.anonymous,
                    context=context,
                    scores=ratings[id_of(record)],
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
        me = self._people.known(viewer_slack_id)  # no Slack call: see ``overview``
        subject = subject_id if subject_id is not None else id_of(me)
        return self._snapshots(me, [subject], since=since)[subject]

    def snapshots(self, viewer_slack_id: str, subject_ids: Sequence[int]) -> dict[int, Snapshot]:
        """``snapshot`` of several people at once (the App Home: mine and my reports')."""
        return self._snapshots(self._people.known(viewer_slack_id), subject_ids)

    def _snapshots(
        self, me: Person, subject_ids: Sequence[int], *, since: datetime | None = None
    ) -> dict[int, Snapshot]:
        # The database counts and sums; and a person's snapshot is remembered until the feedback
        # about them changes (or the hour does: the weeks are counted back from now), so the
        # App Home costs the same for ten items or ten thousand until one more comes.
        now = self._clock()
        start = now - timedelta(weeks=SNAPSHOT_WEEKS)
        weeks = [start + timedelta(weeks=week) for week in range(SNAPSHOT_WEEKS)]  # the last has no end
        wanted = list(dict.fromkeys(subject_ids))
        hour = now.replace(minute=0, second=0, microsecond=0)
        with self._db.transaction() as session:
            viewer = self.viewer(session, me)
            if not all(authorize(viewer, PersonFacts(person_id=pid)).read for pid in wanted):
                raise NotAllowed("You can see the snapshot of yourself and the people who report to you.")
            subjects = people_repo.by_ids(session, wanted)
            marks = growth_repo.visible_marks(session, wanted) if since is None else {}
            found: dict[int, tuple[tuple[KpiStat, ...], int]] = {}
            for pid in wanted if since is None else ():
                if (remembered := self._remembered.get(pid, (marks.get(pid), hour))) is not None:
                    found[pid] = remembered
            rest = [pid for pid in wanted if pid not in found]
            # What this viewer may see exist, by when readers got it (``bot.feedback.anonymity``):
            # held anonymous feedback counts nowhere until its batch is released.
            if rest:
                items = feedback_repo.released_counts(session, rest, since=since)
                tallies = feedback_repo.released_tallies(session, rest, since=since)
                weekly = feedback_repo.released_by_period(session, rest, bounds=weeks, since=since)
        for pid in rest:
            stats = []
            for kpi in self._framework.kpis:
                tally = tallies[pid].get(kpi.key, Tally())
                by_week = weekly[pid].get(kpi.key, {})
                stats.append(
                    KpiStat(
                        kpi=kpi,
                        average=tally.total / tally.ratings if tally.raters >= MIN_RATERS else None,
                        count=tally.ratings,
                        raters=tally.raters,
                        weekly=tuple(
                            by_week[week].total / by_week[week].ratings if week in by_week else None
                            for week in range(SNAPSHOT_WEEKS)
                        ),
                    )
                )
            found[pid] = (tuple(stats), items[pid])
            if since is None:
                self._remembered.put(pid, (marks.get(pid), hour), found[pid])
        return {
            pid: Snapshot(person=PersonRef.of(subjects[pid]), stats=found[pid][0], items=found[pid][1])
            for pid in wanted
        }

    def reports(self, manager_slack_id: str) -> list[PersonRef]:
        with self._db.transaction() as session:
            me = people_repo.by_slack_id(session, manager_slack_id)
            return [] if me is None else [PersonRef.of(p) for p in team_repo.reports(session, id_of(me))]

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
            shared = org_repo.coaching_shared_with(session, subject_id=id_of(me))
            drafted = org_repo.coaching_requested_by(session, requested_by_id=id_of(me))
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
            my_self_assessments = [
                {
                    "at": a.updated_at.isoformat(),
                    "project_id": a.project_id,
                    "scores": scores,
                    "notes": {
                        "delivery": a.delivery_note,
                        "what_i_do_well": a.strengths_note,
                        "what_i_want_to_grow": a.growth_note,
                    },
                }
                for a, scores in growth_repo.self_assessments(session, id_of(me))
            ]
            my_growth_steps = [
                {
                    "week": step.week,
                    "kpi": step.kpi,
                    "thing_to_try": step.text,
                    "how_it_went": step.outcome.value if step.outcome else None,
                }
                for step in growth_repo.recent_steps(session, id_of(me), limit=10_000)
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
            "my_self_assessments": my_self_assessments,
            "my_growth_steps": my_growth_steps,
        }


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
