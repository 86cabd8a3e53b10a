"""The post-project debrief: create a project, prompt at the due time, collect two-dimensional
feedback, remind once, close the window.

The service knows nothing of Block Kit: it hands plain cards to ``DebriefViews`` (pure view
functions supplied by the Slack edge at composition time) and sends what they render
through the gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.debriefs.schedule import DebriefSchedule, debrief_schedule
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.feedback.anonymity import ANONYMOUS_RELEASED, MIN_GIVERS
from bot.feedback.answers import Answers, check_answers
from bot.framework import Framework
from bot.outbox import Outbox, Rendered
from bot.people.directory import PeopleService, PersonRef, UnknownPeople
from bot.slack_gateway import SlackGateway
from bot.text import checked_text
from bot.timekeeping import MONDAY_TO_FRIDAY, WorkingDays, local_date
from storage.db import Database
from storage.models import (
    NAME_MAX,
    DebriefTask,
    Feedback,
    FeedbackSource,
    JobKind,
    MessageKind,
    OutboxMessage,
    Person,
    Project,
    ProjectState,
    TaskKind,
    UpwardFeedback,
    id_of,
)
from storage.repositories import feedback as feedback_repo
from storage.repositories import jobs as jobs_repo
from storage.repositories import outbox as outbox_repo
from storage.repositories import people as people_repo
from storage.repositories import projects as projects_repo

log = logging.getLogger(__name__)

MAX_MEMBERS = 25  # one button per person keeps the lead's DM under Slack's 50 blocks
OFFSET_CHOICES = (0, 1, 2, 3, 7)
MAX_DAYS_AHEAD = 365
MAX_DAYS_BEHIND = 90  # a debrief about work more than a quarter old recalls little
DEBRIEF_MESSAGES = (MessageKind.DEBRIEF_PROMPT, MessageKind.DEBRIEF_REMINDER)


# ---------------------------------------------------------------------------------------
# What the edge hands in and gets back
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectDraft:
    """The "New project" modal as submitted; every field may be missing or wrong."""

    name: str | None
    lead: str | None
    members: Sequence[str]
    end_date: date | None
    offset_days: int | None
    upward: str | None


@dataclass(frozen=True)
class ProjectSummary:
    """A project as everyone involved sees it. ``done`` of ``total`` counts the named parts
    only: a counter that moved when an anonymous answer arrived would point at its giver."""

    id: int
    name: str
    lead: PersonRef
    end_date: date
    state: ProjectState
    due_at: datetime
    closes_at: datetime
    upward: UpwardFeedback
    done: int
    total: int
    lead_tz: str
    members: int = 0
    anonymous_asked: int = 0  # members asked for anonymous feedback on the lead


@dataclass(frozen=True)
class PromptItem:
    subject: PersonRef
    kind: TaskKind
    done: bool
    coachable: bool = False  # debriefed, and the recipient is their manager


@dataclass(frozen=True)
class PromptCard:
    """What one recipient's debrief DM shows."""

    project_id: int
    project_name: str
    lead: PersonRef
    end_date: date
    state: ProjectState
    closes_at: datetime
    anonymous: bool
    items: tuple[PromptItem, ...]
    reminder: bool = False


@dataclass(frozen=True)
class DebriefForm:
    project_id: int
    project_name: str
    subject: PersonRef
    kind: TaskKind
    anonymous: bool
    framework: Framework
    previous: Answers | None


@dataclass(frozen=True)
class SubmitResult:
    project_id: int
    giver_id: int
    subject: PersonRef
    replaced: bool


class DebriefViews(Protocol):
    """Pure renderers supplied by the Slack edge: card -> (fallback text, blocks)."""

    def prompt_message(self, card: PromptCard) -> tuple[str, list[Any]]: ...

    def reminder_message(self, card: PromptCard) -> tuple[str, list[Any]]: ...


# ---------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------


class DebriefService:
    def __init__(
        self,
        *,
        db: Database,
        gateway: SlackGateway,
        people: PeopleService,
        outbox: Outbox,
        framework: Framework,
        views: DebriefViews,
        clock: Callable[[], datetime],
        window_days: int,
        working_days: WorkingDays = MONDAY_TO_FRIDAY,
    ) -> None:
        self._db, self._gateway, self._people, self._outbox = db, gateway, people, outbox
        self._framework, self._views, self._clock = framework, views, clock
        self._window_days, self._working = window_days, working_days
        outbox.register(MessageKind.DEBRIEF_PROMPT, self._render_prompt)
        outbox.register(MessageKind.DEBRIEF_REMINDER, self._render_reminder)

    @property
    def framework(self) -> Framework:
        return self._framework

    # -- creating ---------------------------------------------------------------------

    def today_for(self, slack_user_id: str) -> date:
        """Today where the person is, from what we already know: no Slack call, because this
        runs between a command's ack and ``views.open``, while the trigger_id is ticking."""
        with self._db.transaction() as session:
            person = people_repo.by_slack_id(session, slack_user_id)
            return local_date(self._clock(), person.tz if person else None)

    def create_project(self, *, requester: str, view_id: str, draft: ProjectDraft) -> ProjectSummary:
        """Validate the draft, store the project with its tasks and due jobs, return it.

        Submitting the same modal twice (a Slack retry, a double click) returns the project
        the first submission created — to the person who submitted it, and nobody else.
        """
        with self._db.transaction() as session:
            existing = projects_repo.by_source_view(session, view_id)
            if existing is not None:
                return self._own_summary(session, existing, requester)

        errors: dict[str, str] = {}
        try:
            name = checked_text(
                draft.name or "", field="name", limit=NAME_MAX, required=True, multiline=False
            )
        except InvalidInput as error:
            errors.update(error.fields)
            name = ""
        lead_id = draft.lead or requester
        member_ids = [m for m in dict.fromkeys(draft.members) if m != lead_id]
        if not member_ids:
            errors["members"] = "Add at least one team member besides the lead."
        elif len(member_ids) > MAX_MEMBERS:
            errors["members"] = f"A debrief takes at most {MAX_MEMBERS} people; split the project."
        if draft.offset_days not in OFFSET_CHOICES:
            errors["offset"] = "Choose when the debrief should run."
        try:
            upward = UpwardFeedback(draft.upward or "")
        except ValueError:
            errors["upward"] = "Choose whether members give feedback on the lead."
            upward = UpwardFeedback.NONE

        if upward is UpwardFeedback.ANONYMOUS and "members" not in errors and len(member_ids) < MIN_GIVERS:
            errors["upward"] = (
                f"Anonymous feedback on the lead needs at least {MIN_GIVERS} members: with fewer, the "
                "lead could tell who said what. Choose feedback with names, or none."
            )
        try:
            everyone = self._people.ensure([requester, lead_id, *member_ids[: MAX_MEMBERS + 1]])
        except UnknownPeople as unknown:
            field = "lead" if lead_id in unknown.slack_user_ids else "members"
            raise InvalidInput({**errors, field: str(unknown)}) from None
        if everyone[requester].is_bot or everyone[requester].deleted:
            raise NotAllowed("Brickwork is for active people: this account is a bot or deactivated.")
        lead = everyone[lead_id]
        if lead.is_bot or lead.deleted:
            errors["lead"] = "The lead must be an active person, not a bot or a deactivated account."
        elif lead.left_programme_at is not None:
            errors["lead"] = f"{lead.name} left the feedback programme and cannot lead a debrief."
        unusable = [everyone[m] for m in member_ids if everyone[m].is_bot or everyone[m].deleted]
        if unusable and "members" not in errors:
            names = ", ".join(p.name for p in unusable)
            errors["members"] = f"Bots and deactivated accounts cannot be debriefed: {names}."
        # Someone who left the programme is refused, not dropped quietly: the creator sees whom
        # to take off the list, and a project never holds a member it will not debrief.
        departed = [everyone[m] for m in member_ids if everyone[m].left_programme_at is not None]
        if departed and "members" not in errors:
            names = ", ".join(p.name for p in departed)
            errors["members"] = f"These people left the feedback programme; take them off the list: {names}."

        today = local_date(self._clock(), everyone[requester].tz)
        if draft.end_date is None:
            errors["end_date"] = "Pick the date the project ends (or ended)."
        elif draft.end_date > today + timedelta(days=MAX_DAYS_AHEAD):
            errors["end_date"] = "The end date is more than a year away; pick a date within a year."
        elif draft.end_date < today - timedelta(days=MAX_DAYS_BEHIND):
            errors["end_date"] = f"That was more than {MAX_DAYS_BEHIND} days ago; debrief recent projects."
        if errors:
            raise InvalidInput(errors)
        assert draft.end_date is not None and draft.offset_days is not None

        schedule = debrief_schedule(draft.end_date, draft.offset_days, self._window_days, self._working)
        members = [everyone[m] for m in member_ids]
        # Each giver is prompted at 10:00 their own time: the job runs at the first of those
        # moments and queues each DM for its own (``_on_prompt_due``). The project's own times
        # are the lead's, who reads them.
        zones = [lead.tz] + ([m.tz for m in members] if upward is not UpwardFeedback.NONE else [])
        first_prompt = min(schedule.prompt_at(tz) for tz in zones)
        first_reminder = min(schedule.reminder_at(tz) for tz in zones)
        try:
            with self._db.transaction() as session:
                project = projects_repo.add_project(
                    session,
                    Project(
                        name=name,
                        lead_id=id_of(lead),
                        created_by_id=id_of(everyone[requester]),
                        end_date=draft.end_date,
                        debrief_offset_days=draft.offset_days,
                        upward_feedback=upward,
                        debrief_due_at=schedule.prompt_at(lead.tz),
                        reminder_due_at=schedule.reminder_at(lead.tz),
                        window_closes_at=schedule.closes_at(lead.tz),
                        source_view_id=view_id,
                        created_at=self._clock(),
                    ),
                    [id_of(m) for m in members],
                )
                pid = id_of(project)
                for member in members:
                    projects_repo.add_task(
                        session,
                        DebriefTask(
                            project_id=pid,
                            giver_id=id_of(lead),
                            subject_id=id_of(member),
                            kind=TaskKind.LEAD_REVIEW,
                        ),
                    )
                    if upward is not UpwardFeedback.NONE:
                        projects_repo.add_task(
                            session,
                            DebriefTask(
                                project_id=pid,
                                giver_id=id_of(member),
                                subject_id=id_of(lead),
                                kind=TaskKind.UPWARD,
                            ),
                        )
                jobs_repo.schedule(session, kind=JobKind.DEBRIEF_PROMPT, project_id=pid, due_at=first_prompt)
                jobs_repo.schedule(
                    session, kind=JobKind.DEBRIEF_REMINDER, project_id=pid, due_at=first_reminder
                )
                jobs_repo.schedule(
                    session, kind=JobKind.DEBRIEF_CLOSE, project_id=pid, due_at=schedule.closes_at(lead.tz)
                )
                session.flush()
                summary = self._summary(session, project)
        except IntegrityError:
            # The same modal submitted twice at the same moment: the other one won.
            with self._db.transaction() as session:
                existing = projects_repo.by_source_view(session, view_id)
                if existing is None:
                    raise
                return self._own_summary(session, existing, requester)
        log.info("project %s created, debrief due %s", summary.id, summary.due_at.isoformat())
        return summary

    def _own_summary(self, session: Session, project: Project, requester: str) -> ProjectSummary:
        me = people_repo.by_slack_id(session, requester)
        if me is None or project.created_by_id != me.id:
            raise NotAllowed("This form is not yours, so nothing was done.")
        return self._summary(session, project)

    # -- reading ----------------------------------------------------------------------

    def projects_for(self, slack_user_id: str, *, limit: int = 20) -> list[ProjectSummary]:
        """The newest ``limit`` projects the person is in, with their progress: a handful of
        queries however many projects and tasks there are."""
        with self._db.transaction() as session:
            me = people_repo.by_slack_id(session, slack_user_id)
            if me is None:
                return []
            projects = projects_repo.involving(session, id_of(me), limit=limit)
            tasks = projects_repo.task_counts(session, [id_of(p) for p in projects])
            leads = people_repo.by_ids(session, {p.lead_id for p in projects})
            return [_summary_of(p, leads[p.lead_id], tasks[id_of(p)]) for p in projects]

    # -- cancelling -------------------------------------------------------------------

    def cancel(self, *, requester: str, query: str) -> ProjectSummary:
        """Cancel a project the requester leads or created, found by ``#id`` or by name."""
        query = query.strip()
        if not query:
            raise InvalidInput({"project": "Name the project to cancel, e.g. `/debrief cancel Apollo`."})
        with self._db.transaction() as session:
            me = people_repo.by_slack_id(session, requester)
            mine = (
                []
                if me is None
                else [
                    p
                    for p in projects_repo.involving(session, id_of(me), limit=200)
                    if p.state in (ProjectState.SCHEDULED, ProjectState.OPEN)
                    and id_of(me) in (p.lead_id, p.created_by_id)
                ]
            )
            matches = _match_projects(mine, query)
            if not matches:
                raise NotFound(
                    "You have no scheduled or open project called that which you lead or created. "
                    "`/debrief list` shows yours."
                )
            if len(matches) > 1:
                ids = ", ".join(f"#{p.id}" for p in matches)
                raise InvalidInput({"project": f"Several projects match; cancel one by number: {ids}."})
            project = projects_repo.get_for_update(session, id_of(matches[0]))
            assert project is not None
            projects_repo.set_state(session, project, ProjectState.CANCELLED, at=self._clock())
            jobs_repo.cancel_for_project(session, id_of(project))
            outbox_repo.cancel_pending(session, DEBRIEF_MESSAGES, id_of(project))
            summary = self._summary(session, project)
        self.refresh_messages(summary.id)
        return summary

    # -- answering --------------------------------------------------------------------

    def debrief_form(self, *, giver: str, project_id: int, subject_id: int) -> DebriefForm:
        with self._db.transaction() as session:
            project, task, _ = self._answerable(session, giver, project_id, subject_id)
            subject = people_repo.get(session, subject_id)
            assert subject is not None
            previous = None
            if task.feedback_id is not None:
                record = session.get(Feedback, task.feedback_id)
                if record is not None and record.anonymous and record.released_at is not None:
                    raise NotAllowed(ANONYMOUS_RELEASED)
                if record is not None:
                    previous = Answers(
                        scores=feedback_repo.ratings(session, id_of(record)),
                        delivery_note=record.delivery_note,
                        strengths_note=record.strengths_note,
                        growth_note=record.growth_note,
                    )
            return DebriefForm(
                project_id=id_of(project),
                project_name=project.name,
                subject=PersonRef.of(subject),
                kind=task.kind,
                anonymous=task.kind is TaskKind.UPWARD
                and project.upward_feedback is UpwardFeedback.ANONYMOUS,
                framework=self._framework,
                previous=previous,
            )

    def submit(
        self,
        *,
        giver: str,
        project_id: int,
        subject_id: int,
        answers: Answers,
        view_id: str | None = None,
    ) -> SubmitResult:
        """Store the answer (replacing an earlier one) and mark that part done.

        Idempotent: the record is unique per (giver, subject, project), so a retry or a
        double click updates the same row. The form ``view_id`` gets hints on vague notes once.
        """
        answers = check_answers(
            self._db, self._framework, answers, view_id=view_id, giver=giver, now=self._clock()
        )
        for attempt in (1, 2):
            try:
                return self._store(giver, project_id, subject_id, answers)
            except IntegrityError:
                # Two identical submissions raced to insert; the second now finds the row.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _store(self, giver: str, project_id: int, subject_id: int, answers: Answers) -> SubmitResult:
        now = self._clock()
        with self._db.transaction() as session:
            project, task, me = self._answerable(session, giver, project_id, subject_id)
            subject = people_repo.get(session, subject_id)
            assert subject is not None
            record = feedback_repo.find(
                session, giver_id=id_of(me), subject_id=subject_id, project_id=project_id
            )
            replaced = record is not None
            anonymous = task.kind is TaskKind.UPWARD and project.upward_feedback is UpwardFeedback.ANONYMOUS
            if record is not None and record.anonymous and record.released_at is not None:
                raise NotAllowed(ANONYMOUS_RELEASED)
            if record is None:
                record = Feedback(
                    giver_id=id_of(me),
                    subject_id=subject_id,
                    project_id=project_id,
                    source=FeedbackSource.UPWARD if task.kind is TaskKind.UPWARD else FeedbackSource.DEBRIEF,
                    framework_version=self._framework.version,
                    created_at=now,
                )
            record.anonymous = anonymous
            # Named answers are seen at once; anonymous ones wait for their batch (bot.feedback.anonymity).
            record.released_at = None if anonymous else now
            record.framework_version = self._framework.version
            record.delivery_note = answers.delivery_note.strip()
            record.strengths_note = answers.strengths_note.strip()
            record.growth_note = answers.growth_note.strip()
            record.updated_at = now
            scores = {k.key: (k.dimension.value, answers.scores.get(k.key)) for k in self._framework.kpis}
            feedback_repo.save(session, record, scores)
            task.done_at = task.done_at or now
            task.feedback_id = record.id
            session.add(task)
            return SubmitResult(
                project_id=project_id, giver_id=id_of(me), subject=PersonRef.of(subject), replaced=replaced
            )

    def _answerable(
        self, session: Any, giver: str, project_id: int, subject_id: int
    ) -> tuple[Project, DebriefTask, Person]:
        """The project, task and giver, when ``giver`` owes this answer and may still give it."""
        me = people_repo.by_slack_id(session, giver)
        project = projects_repo.get(session, project_id)
        task = (
            None
            if me is None or project is None
            else projects_repo.task(session, project_id, id_of(me), subject_id)
        )
        if me is None or project is None or task is None:
            raise NotAllowed("This debrief is not yours to answer.")
        if me.left_programme_at is not None:
            raise NotAllowed("You left the feedback programme, so you cannot answer debriefs any more.")
        subject = people_repo.get(session, subject_id)
        if subject is not None and subject.left_programme_at is not None:
            raise NotAllowed(f"{subject.name} left the feedback programme, so feedback about them is off.")
        if project.state is ProjectState.CANCELLED:
            raise NotAllowed(f"The debrief of {project.name} was cancelled.")
        if project.state is ProjectState.CLOSED or self._clock() >= project.window_closes_at:
            raise NotAllowed(f"The debrief of {project.name} has closed.")
        if project.state is ProjectState.SCHEDULED:
            raise NotAllowed(f"The debrief of {project.name} has not started yet.")
        return project, task, me

    # -- due work ---------------------------------------------------------------------

    def run_job(
        self, session: Session, kind: JobKind, project_id: int, now: datetime
    ) -> Callable[[], None] | None:
        """Do a due job inside the ticker's transaction: database work only (the DMs it causes
        are enqueued, and the outbox sends them). Returns what to do with Slack once committed."""
        if kind is JobKind.DEBRIEF_PROMPT:
            self._on_prompt_due(session, project_id, now)
        elif kind is JobKind.DEBRIEF_REMINDER:
            self._on_reminder_due(session, project_id, now)
        elif kind is JobKind.DEBRIEF_CLOSE:
            if self._on_close_due(session, project_id):
                return lambda: self.refresh_messages(project_id)
        else:  # pragma: no cover - a new JobKind without a handler is a programming error
            raise ValueError(f"unknown job kind {kind}")
        return None

    def _schedule(self, project: Project) -> DebriefSchedule:
        return debrief_schedule(
            project.end_date, project.debrief_offset_days, self._window_days, self._working
        )

    def _on_prompt_due(self, session: Session, project_id: int, now: datetime) -> None:
        project = projects_repo.get_for_update(session, project_id)
        if project is None or project.state not in (ProjectState.SCHEDULED, ProjectState.OPEN):
            return
        if project.state is ProjectState.SCHEDULED:
            projects_repo.set_state(session, project, ProjectState.OPEN)
        schedule = self._schedule(project)
        givers = _givers(projects_repo.tasks(session, project_id))
        people = people_repo.by_ids(session, givers)
        for giver_id in givers:
            person = people[giver_id]
            if person.left_programme_at is None:  # who left since is not asked
                at = max(now, schedule.prompt_at(person.tz))  # 10:00 their time
                self._enqueue(session, MessageKind.DEBRIEF_PROMPT, project_id, giver_id, at)

    def _on_reminder_due(self, session: Session, project_id: int, now: datetime) -> None:
        project = projects_repo.get(session, project_id)
        if project is None or project.state is not ProjectState.OPEN or now >= project.window_closes_at:
            return  # no reminders once the window has closed
        schedule = self._schedule(project)
        open_givers = _givers(t for t in projects_repo.tasks(session, project_id) if t.done_at is None)
        people = people_repo.by_ids(session, open_givers)
        for giver_id in open_givers:
            person = people[giver_id]
            if person.left_programme_at is None:  # away or answered by then: see _render_reminder
                at = max(now, schedule.reminder_at(person.tz))
                self._enqueue(session, MessageKind.DEBRIEF_REMINDER, project_id, giver_id, at)

    def _on_close_due(self, session: Session, project_id: int) -> bool:
        project = projects_repo.get_for_update(session, project_id)
        if project is None or project.state is not ProjectState.OPEN:
            return False
        projects_repo.set_state(session, project, ProjectState.CLOSED)
        return True

    @staticmethod
    def _enqueue(
        session: Session, kind: MessageKind, project_id: int, recipient_id: int, now: datetime
    ) -> None:
        Outbox.enqueue(
            session,
            kind=kind,
            key=f"{project_id}:{recipient_id}",
            recipient_id=recipient_id,
            ref_id=project_id,
            due_at=now,
        )

    def _render_prompt(self, session: Session, message: OutboxMessage) -> Rendered | None:
        assert message.ref_id is not None
        project = projects_repo.get(session, message.ref_id)
        if project is None or project.state is not ProjectState.OPEN:
            return None  # cancelled (or closed) while it waited
        text, blocks = self._views.prompt_message(
            self._card(session, message.ref_id, message.recipient_id, reminder=False)
        )
        return Rendered(text, blocks)

    def _render_reminder(self, session: Session, message: OutboxMessage) -> Rendered | None:
        assert message.ref_id is not None
        project = projects_repo.get(session, message.ref_id)
        if (
            project is None
            or project.state is not ProjectState.OPEN
            or self._clock() >= project.window_closes_at
        ):
            return None
        person = people_repo.get(session, message.recipient_id)
        if person is None or _paused(person, self._clock()):
            # Someone on vacation is not reminded; the prompt is still in their DMs when back.
            return None
        card = self._card(session, message.ref_id, message.recipient_id, reminder=True)
        if all(item.done for item in card.items):
            return None  # answered while the reminder waited
        text, blocks = self._views.reminder_message(card)
        return Rendered(text, blocks)

    def refresh_messages(self, project_id: int, recipient_id: int | None = None) -> None:
        """Re-render the DMs already sent about a project (after an answer, a cancel, a close).
        Best effort: chat.update changes nothing when repeated, and a DM left as it was still
        says, when clicked, that the debrief has moved on."""
        with self._db.transaction() as session:
            sent = outbox_repo.sent_about(session, DEBRIEF_MESSAGES, project_id, recipient_id)
            cards = {
                m.id: self._card(
                    session, project_id, m.recipient_id, reminder=m.kind is MessageKind.DEBRIEF_REMINDER
                )
                for m in sent
            }
        for message in sent:
            card = cards[message.id]
            render = self._views.reminder_message if card.reminder else self._views.prompt_message
            text, blocks = render(card)
            assert message.channel_id and message.ts
            try:
                self._gateway.update_message(message.channel_id, message.ts, text, blocks)
            except Exception as error:
                log.warning("could not update a debrief DM: %s", type(error).__name__)

    # -- building cards ---------------------------------------------------------------

    def _card(self, session: Any, project_id: int, recipient_id: int, *, reminder: bool) -> PromptCard:
        project = projects_repo.get(session, project_id)
        assert project is not None
        tasks = [t for t in projects_repo.tasks(session, project_id) if t.giver_id == recipient_id]
        people = people_repo.by_ids(session, [project.lead_id, *(t.subject_id for t in tasks)])
        return PromptCard(
            project_id=project_id,
            project_name=project.name,
            lead=PersonRef.of(people[project.lead_id]),
            end_date=project.end_date,
            state=project.state,
            closes_at=project.window_closes_at,
            anonymous=project.upward_feedback is UpwardFeedback.ANONYMOUS,
            items=tuple(
                PromptItem(
                    subject=PersonRef.of(people[t.subject_id]),
                    kind=t.kind,
                    done=t.done_at is not None,
                    # A lead who manages the person can go from the debrief to coaching.
                    coachable=t.done_at is not None
                    and t.kind is TaskKind.LEAD_REVIEW
                    and people[t.subject_id].manager_id == recipient_id,
                )
                for t in tasks
            ),
            reminder=reminder,
        )

    def _summary(self, session: Any, project: Project) -> ProjectSummary:
        lead = people_repo.get(session, project.lead_id)
        assert lead is not None
        return _summary_of(
            project, lead, projects_repo.task_counts(session, [id_of(project)])[id_of(project)]
        )


def _summary_of(project: Project, lead: Person, tasks: dict[tuple[TaskKind, bool], int]) -> ProjectSummary:
    """``tasks``: how many debrief tasks of each kind, done and not (``projects_repo.task_counts``)."""
    hidden = project.upward_feedback is UpwardFeedback.ANONYMOUS  # its upward parts are not counted
    named = {key: n for key, n in tasks.items() if not (hidden and key[0] is TaskKind.UPWARD)}
    return ProjectSummary(
        id=id_of(project),
        name=project.name,
        lead=PersonRef.of(lead),
        end_date=project.end_date,
        state=project.state,
        due_at=project.debrief_due_at,
        closes_at=project.window_closes_at,
        upward=project.upward_feedback,
        done=sum(n for (_, done), n in named.items() if done),
        total=sum(named.values()),
        lead_tz=lead.tz,
        members=sum(n for (kind, _), n in tasks.items() if kind is TaskKind.LEAD_REVIEW),
        anonymous_asked=sum(tasks.values()) - sum(named.values()),
    )


def _paused(person: Person, now: datetime) -> bool:
    return person.paused_until is not None and person.paused_until >= local_date(now, person.tz)


def _givers(tasks: Any) -> list[int]:
    return list(dict.fromkeys(t.giver_id for t in tasks))


def _match_projects(projects: list[Project], query: str) -> list[Project]:
    if query.startswith("#") and query[1:].isdigit():
        return [p for p in projects if p.id == int(query[1:])]
    wanted = query.casefold()
    exact = [p for p in projects if p.name.casefold() == wanted]
    return exact or [p for p in projects if wanted in p.name.casefold()]
