"""Queries that change the org chart, and the ones that take a person's data out of it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage.models import (
    CoachAnswer,
    CoachingDraft,
    DebriefTask,
    DraftState,
    Feedback,
    FeedbackRequest,
    Person,
    Rating,
    RequestState,
)

ORG_CHART_LOCK = 0x0B21C0  # the advisory lock key for org chart changes (any constant of ours)


def manager_id_of(session: Session, *, person_id: int) -> int | None:
    return session.exec(select(Person.manager_id).where(Person.id == person_id)).first()


def manager_links(session: Session) -> dict[str, str]:
    """Everyone's confirmed manager, by Slack user id: one query for a whole import."""
    manager = aliased(Person)
    rows = session.exec(
        select(Person.slack_user_id, manager.slack_user_id).join(
            manager,
            col(Person.manager_id) == col(manager.id),
        )
    )
    return dict(rows.all())


def lock_org_chart(session: Session) -> None:
    """Serialise changes to the org chart until the transaction ends, so two changes checked
    for cycles at the same time cannot make one together. PostgreSQL only: SQLite has one
    writer at a time already."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ORG_CHART_LOCK)))


def set_manager(session: Session, *, person_id: int, manager_id: int | None) -> None:
    """Make ``manager_id`` the confirmed manager; any pending claim is settled by this."""
    person = session.get(Person, person_id)
    if person is not None:
        person.manager_id, person.pending_manager_id = manager_id, None
        session.add(person)


# -- a person's coaching, for their export ------------------------------------------


def coaching_shared_with(session: Session, *, subject_id: int) -> list[CoachingDraft]:
    """Drafts about the person that were shared with them, oldest first."""
    return list(
        session.exec(
            select(CoachingDraft)
            .where(CoachingDraft.subject_id == subject_id, CoachingDraft.state == DraftState.SHARED)
            .order_by(col(CoachingDraft.id))
        )
    )


def coaching_requested_by(session: Session, *, requested_by_id: int) -> list[CoachingDraft]:
    """Drafts the person asked the coach for (about a report, or about themself), oldest first."""
    return list(
        session.exec(
            select(CoachingDraft)
            .where(CoachingDraft.requested_by_id == requested_by_id)
            .order_by(col(CoachingDraft.id))
        )
    )


# -- forgetting a person --------------------------------------------------------------


def feedback_ids_given_by(session: Session, *, giver_id: int) -> list[int]:
    rows = session.exec(select(Feedback.id).where(Feedback.giver_id == giver_id).order_by(col(Feedback.id)))
    return [fid for fid in rows if fid is not None]


def delete_feedback(session: Session, *, feedback_ids: Sequence[int]) -> int:
    """Delete the records and their ratings; debrief tasks keep their done mark, not the link."""
    if not feedback_ids:
        return 0
    ids = list(feedback_ids)
    # Children first, so the foreign keys hold at every statement (PostgreSQL checks each one).
    session.execute(
        update(DebriefTask)
        .where(col(DebriefTask.feedback_id).in_(ids))
        .values(feedback_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(Rating).where(col(Rating.feedback_id).in_(ids)).execution_options(synchronize_session=False)
    )
    result = session.execute(
        delete(Feedback).where(col(Feedback.id).in_(ids)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _cited_feedback(content_json: str) -> set[int]:
    """The feedback ids a draft's growth areas cite (``{"areas": [{"evidence": [ids]}]}``)."""
    try:
        content = json.loads(content_json) if content_json else {}
    except ValueError:
        return set()
    areas = content.get("areas") if isinstance(content, dict) else None
    cited: set[int] = set()
    for area in areas if isinstance(areas, list) else []:
        evidence = area.get("evidence") if isinstance(area, dict) else None
        cited |= {i for i in evidence if isinstance(i, int)} if isinstance(evidence, list) else set()
    return cited


def delete_coaching_drafts(session: Session, *, person_id: int, feedback_ids: Sequence[int]) -> int:
    """Delete the drafts the person requested or is the subject of, and any other draft whose
    content cites one of ``feedback_ids``; the number deleted."""
    gone = set(feedback_ids)
    doomed: list[int] = []
    for draft_id, subject_id, requested_by_id, content_json in session.exec(
        select(
            CoachingDraft.id,
            CoachingDraft.subject_id,
            CoachingDraft.requested_by_id,
            CoachingDraft.content_json,
        )
    ):
        if draft_id is None:
            continue
        if person_id in (subject_id, requested_by_id) or (gone and _cited_feedback(content_json) & gone):
            doomed.append(draft_id)
    if not doomed:
        return 0
    result = session.execute(
        delete(CoachingDraft)
        .where(col(CoachingDraft.id).in_(doomed))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def clear_coach_answers(session: Session) -> int:
    """Empty the coach's answer cache (an answer may quote anyone's feedback); the drafts that
    stay lose only their link to the answer they came from."""
    session.execute(
        update(CoachingDraft)
        .where(col(CoachingDraft.answer_id).is_not(None))
        .values(answer_id=None)
        .execution_options(synchronize_session=False)
    )
    result = session.execute(delete(CoachAnswer).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def withdraw_open_requests(session: Session, *, person_id: int, at: datetime) -> int:
    """Withdraw every open request the person is part of: as requester, giver or subject."""
    result = session.execute(
        update(FeedbackRequest)
        .where(
            col(FeedbackRequest.state) == RequestState.OPEN,
            or_(
                col(FeedbackRequest.requester_id) == person_id,
                col(FeedbackRequest.giver_id) == person_id,
                col(FeedbackRequest.subject_id) == person_id,
            ),
        )
        .values(state=RequestState.WITHDRAWN, responded_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def unlink_reports(session: Session, *, manager_id: int) -> int:
    """Take ``manager_id`` off everyone it manages or claims; the number of people changed."""
    changed = session.exec(
        select(Person.id).where(
            or_(col(Person.manager_id) == manager_id, col(Person.pending_manager_id) == manager_id)
        )
    ).all()
    for column in (Person.manager_id, Person.pending_manager_id):
        session.execute(
            update(Person)
            .where(col(column) == manager_id)
            .values({column: None})
            .execution_options(synchronize_session=False)
        )
    return len(changed)


def people_touched_by_leaving(session: Session, *, person_id: int, since: datetime) -> set[int]:
    """Whose App Home changes when ``person_id`` leaves: they; their manager and a manager
    claiming them; the people they manage or claim; everyone in a request with them that is
    open, or answered, since ``since`` (an anonymous answer must look like an open request);
    and the people they gave named feedback about, with those people's managers. Call it
    before the changes."""
    touched = {person_id}
    me = session.get(Person, person_id)
    if me is not None:
        touched |= {pid for pid in (me.manager_id, me.pending_manager_id) if pid is not None}
    touched |= {
        pid
        for pid in session.exec(
            select(Person.id).where(
                or_(col(Person.manager_id) == person_id, col(Person.pending_manager_id) == person_id)
            )
        )
        if pid is not None
    }
    requests = session.exec(
        select(FeedbackRequest).where(
            col(FeedbackRequest.state).in_([RequestState.OPEN, RequestState.ANSWERED]),
            col(FeedbackRequest.created_at) >= since,
            or_(
                col(FeedbackRequest.requester_id) == person_id,
                col(FeedbackRequest.giver_id) == person_id,
                col(FeedbackRequest.subject_id) == person_id,
            ),
        )
    )
    for request in requests:
        touched |= {request.requester_id, request.giver_id, request.subject_id}
    named = select(Feedback.subject_id).where(
        Feedback.giver_id == person_id, col(Feedback.anonymous).is_(False)
    )
    subjects = set(session.exec(named))
    touched |= subjects
    if subjects:
        managers = session.exec(select(Person.manager_id).where(col(Person.id).in_(subjects)))
        touched |= {pid for pid in managers if pid is not None}
    return touched
