"""Admins' powers in Slack: the org-chart import, forgetting a person, the programme's health,
the audit trail. Each asks ``bot.people.access.authorize`` first and leaves an audit row,
refusals included; none reads a feedback record.

The import takes a CSV a person shared with the bot in their DM, and believes nothing the
event said about it but its id: ``files.info`` says whose file it is and where it was shared
(it must be the actor's own, shared in the actor's DM with Brickwork), how big it is and where
it lives; the bytes come from Slack's files host with the bot token, never from a URL a payload
names, and only up to ``MAX_CSV_BYTES``. Then the CLI's own parser and import run
(``bot.people.org_chart``), so the rules and the per-row reasons are the same everywhere.

The health view is counts only, and every count below ``SMALL_COUNT`` is shown as "fewer
than 3": a figure that moves from 1 to 2 while an admin watches points at a person. Like every
other counter, it counts anonymous feedback only once released, debrief parts only where they
are named, and a request answered anonymously as still waiting (``shown_to_requester``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.admin.audit import AuditSummary, AuditTrail
from bot.errors import BrickworkError, NotAllowed, NotFound
from bot.feedback.anonymity import MIN_GIVERS
from bot.feedback.cards import OPEN_REQUEST_WINDOW, shown_to_requester
from bot.people.access import AdminFacts, Viewer, authorize
from bot.people.directory import PeopleService
from bot.people.org_chart import ForgetReport, ImportReport, OrgService
from bot.slack_gateway import TOO_LARGE, DownloadRefused, SlackGateway, error_code
from bot.text import plain
from storage.db import Database
from storage.models import AuditAction, AuditOutcome, ProjectState, RequestState, id_of
from storage.repositories import health as health_repo
from storage.repositories import people as people_repo

log = logging.getLogger(__name__)

SMALL_COUNT = MIN_GIVERS  # below this a count is "fewer than 3": as small as anonymity allows
MAX_CSV_BYTES = 512 * 1024  # an org chart of ~10,000 people
MAX_CSV_ROWS = 5000  # each row is a Slack lookup or two (users.lookupByEmail, ~50 a minute)
CSV_FILETYPES = frozenset({"csv", "text"})  # what Slack calls a CSV (or a plain text file)

REFUSED = "Only Brickwork admins can do that, so nothing was done."
IMPORT_REFUSED = (
    "Thanks, but only Brickwork admins can import the org chart, so I did nothing with that file."
)


class AdminActionFailed(BrickworkError):
    """An admin's action that could not be done; the message says why, in one line."""


@dataclass(frozen=True)
class Health:
    """Counts over the whole programme; None means "fewer than ``SMALL_COUNT``"."""

    people_in_programme: int | None
    people_with_manager: int | None
    people_left: int | None
    requests_waiting: int | None  # asked in the last 14 days and still waiting, as requesters see it
    projects_scheduled: int | None
    projects_open: int | None
    projects_closed: int | None
    debrief_parts_answered: int | None  # named parts of projects not cancelled
    debrief_parts_asked: int | None
    feedback_visible: int | None  # named feedback, and anonymous feedback once released
    as_of: datetime


@dataclass(frozen=True)
class ForgetPreview:
    slack_user_id: str
    name: str
    already_left: bool


@dataclass(frozen=True)
class ImportOutcome:
    file_name: str
    report: ImportReport


def shown(count: int) -> int | None:
    """``count``, or None when it is too small to show (see the module docstring)."""
    return count if count >= SMALL_COUNT else None


class AdminService:
    def __init__(
        self,
        *,
        db: Database,
        gateway: SlackGateway,
        people: PeopleService,
        org: OrgService,
        audit: AuditTrail,
        clock: Callable[[], datetime],
        admins: frozenset[str],
    ) -> None:
        self._db, self._gateway, self._people, self._org = db, gateway, people, org
        self._audit, self._clock, self._admins = audit, clock, admins

    # -- who may ------------------------------------------------------------------------

    def authorize(self, actor: str, action: AuditAction, target: str, refusal: str = REFUSED) -> None:
        """Refuse (``NotAllowed``, one line) unless ``actor`` is an admin; a refusal is recorded."""
        me = self._people.known(actor)
        viewer = Viewer(person_id=id_of(me), is_admin=me.slack_user_id in self._admins)
        if not authorize(viewer, AdminFacts(action=action.value)).read:
            self._audit.record(actor=actor, action=action, target=target, outcome=AuditOutcome.REFUSED)
            log.info("refused %s to a non-admin", action.value)
            raise NotAllowed(refusal)

    def _failed(self, actor: str, action: AuditAction, target: str, message: str) -> AdminActionFailed:
        self._audit.record(
            actor=actor, action=action, target=target, outcome=AuditOutcome.FAILED, detail=message
        )
        return AdminActionFailed(message)

    # -- the programme's health -----------------------------------------------------------

    def health(self, actor: str) -> Health:
        self.authorize(actor, AuditAction.VIEW_HEALTH, "")
        now = self._clock()
        with self._db.transaction() as session:
            people = health_repo.people(session)
            projects = health_repo.projects_by_state(session)
            answered, asked = health_repo.named_debrief_parts(session)
            visible = health_repo.released_feedback(session)
            waiting = self._requests_waiting(session, now)
            self._audit.write(
                session, actor=actor, action=AuditAction.VIEW_HEALTH, target="", outcome=AuditOutcome.DONE
            )
        return Health(
            people_in_programme=shown(people.in_programme),
            people_with_manager=shown(people.with_manager),
            people_left=shown(people.left),
            requests_waiting=shown(waiting),
            projects_scheduled=shown(projects.get(ProjectState.SCHEDULED, 0)),
            projects_open=shown(projects.get(ProjectState.OPEN, 0)),
            projects_closed=shown(projects.get(ProjectState.CLOSED, 0)),
            debrief_parts_answered=shown(answered),
            debrief_parts_asked=shown(asked),
            feedback_visible=shown(visible),
            as_of=now,
        )

    @staticmethod
    def _requests_waiting(session: Session, now: datetime) -> int:
        """Requests as their requesters see them: one answered anonymously still reads as waiting."""
        requests = health_repo.requests_since(session, now - OPEN_REQUEST_WINDOW)
        answers = health_repo.answers_to(session, [id_of(r) for r in requests])
        people = people_repo.by_ids(
            session, {pid for r in requests for pid in (r.requester_id, r.giver_id, r.subject_id)}
        )
        return sum(
            1
            for r in requests
            if shown_to_requester(
                r,
                answers.get(id_of(r)),
                [people[pid] for pid in (r.requester_id, r.giver_id, r.subject_id) if pid in people],
                now,
            )
            is RequestState.OPEN
        )

    # -- the audit trail --------------------------------------------------------------------

    def audit_summary(self, actor: str) -> AuditSummary:
        self.authorize(actor, AuditAction.VIEW_AUDIT, "")
        summary = self._audit.summary()
        self._audit.record(actor=actor, action=AuditAction.VIEW_AUDIT, target="", outcome=AuditOutcome.DONE)
        return summary

    # -- forgetting a person who left ------------------------------------------------------

    def forget_preview(self, actor: str, target: str) -> ForgetPreview:
        """Who would be forgotten, for the confirmation; from the database alone (before an ack)."""
        self.authorize(actor, AuditAction.FORGET_PERSON, target)
        with self._db.transaction() as session:
            person = people_repo.by_slack_id(session, target)
        if person is None:
            raise NotFound("Brickwork has nothing stored for that person, so there is nothing to forget.")
        return ForgetPreview(
            slack_user_id=target,
            name=person.name or target,
            already_left=person.left_programme_at is not None,
        )

    def forget(self, actor: str, target: str) -> ForgetReport:
        """``OrgService.forget``, authorised again (the confirmation came back) and recorded in
        the same transaction as the deletion."""
        self.authorize(actor, AuditAction.FORGET_PERSON, target)

        def record(session: Session, report: ForgetReport) -> None:
            detail = (
                f"{report.feedback_deleted} feedback records and {report.drafts_deleted} coaching drafts "
                f"deleted, {report.requests_withdrawn} requests withdrawn, "
                f"{report.reports_unlinked} reports unlinked"
            )
            self._audit.write(
                session,
                actor=actor,
                action=AuditAction.FORGET_PERSON,
                target=target,
                outcome=AuditOutcome.DONE,
                detail=detail,
            )

        try:
            return self._org.forget(target, record=record)
        except NotFound as error:
            raise self._failed(actor, AuditAction.FORGET_PERSON, target, str(error)) from None

    # -- the org chart, from a CSV shared in a DM ---------------------------------------------

    def import_shared_file(self, *, actor: str, channel: str, file_id: str) -> ImportOutcome:
        """Import the org chart from the CSV ``file_id`` that ``actor`` shared in ``channel``."""
        action = AuditAction.IMPORT_ORG_CHART
        self.authorize(actor, action, file_id, IMPORT_REFUSED)
        dm = self._people.dm_channel(self._people.one(actor))
        try:
            info = self._gateway.file_info(file_id)
        except SlackApiError as error:
            code = error_code(error)
            hint = " (the app needs the files:read scope: reinstall it from manifest.yml)"
            problem = f"Slack would not show me that file: {code}{hint if code == 'missing_scope' else ''}."
            raise self._failed(actor, action, file_id, problem) from None
        if info is None or channel != dm or info.owner != actor or dm not in info.ims:
            # Not a file this admin shared in their own DM with Brickwork (a forged event, or a
            # file of someone else's): nothing of it is read.
            raise self._failed(
                actor, action, file_id, "I can only import a file you share yourself, here in this DM."
            )
        name = plain(info.name, 80) or file_id
        too_large = f"{name} is larger than {MAX_CSV_BYTES // 1024} KB; split it and share each part."
        problem = None
        if info.external:
            problem = f"{name} is stored outside Slack; upload the CSV file itself."
        elif info.filetype not in CSV_FILETYPES and not name.lower().endswith(".csv"):
            problem = f"{name} is not a CSV file: share a CSV with the header email,manager_email."
        elif info.size > MAX_CSV_BYTES:
            problem = too_large
        if problem is not None:
            raise self._failed(actor, action, file_id, problem)
        try:
            data = self._gateway.download_private(info.url_private, max_bytes=MAX_CSV_BYTES)
        except DownloadRefused as refused:
            problem = f"I could not read {name}: {refused.reason}. Nothing was imported."
            raise self._failed(
                actor, action, file_id, too_large if refused.reason == TOO_LARGE else problem
            ) from None

        def record(session: Session, report: ImportReport) -> None:
            self._audit.write(
                session,
                actor=actor,
                action=action,
                target=file_id,
                outcome=AuditOutcome.DONE,
                detail=f"{name}: {report.summary()}",
            )

        try:
            report = self._org.import_csv_bytes(data, source=name, max_rows=MAX_CSV_ROWS, record=record)
        except BrickworkError as error:
            raise self._failed(actor, action, file_id, str(error)) from None
        return ImportOutcome(file_name=name, report=report)
