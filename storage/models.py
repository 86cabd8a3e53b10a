"""SQLModel tables. Everything that must not happen twice is a unique constraint here.

Timestamps are stored as UTC and always come back timezone-aware (``UTCDateTime``), the
same on SQLite (which has no time zones) and PostgreSQL.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import Column, DateTime, Index, String, Text, TypeDecorator, UniqueConstraint, text
from sqlmodel import Field, SQLModel

NAME_MAX = 80
NOTE_MAX = 3000
ABOUT_MAX = 150
DECLINE_REASON_MAX = 500
STEP_MAX = 500


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StrEnumType(TypeDecorator[enum.StrEnum]):
    """A string enum stored as its value in a VARCHAR and read back as the enum member."""

    impl = String(24)
    cache_ok = True

    def __init__(self, enum_cls: type[enum.StrEnum]) -> None:
        super().__init__()
        self.enum_cls = enum_cls

    def process_bind_param(self, value: object, dialect: object) -> str | None:
        return None if value is None else self.enum_cls(value).value

    def process_result_value(self, value: str | None, dialect: object) -> enum.StrEnum | None:
        return None if value is None else self.enum_cls(value)


def enum_column(enum_cls: type[enum.StrEnum]) -> Column[enum.StrEnum]:
    return Column(StrEnumType(enum_cls), nullable=False)


def utc_column(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def utcnow() -> datetime:
    return datetime.now(UTC)


def id_of(row: SQLModel) -> int:
    """The id of a row that has been stored (flushed): never None by then."""
    row_id = getattr(row, "id", None)
    assert row_id is not None, f"{type(row).__name__} has no id yet"
    return int(row_id)


class ProjectState(enum.StrEnum):
    SCHEDULED = "scheduled"  # waiting for the debrief time
    OPEN = "open"  # prompts sent, answers being collected
    CLOSED = "closed"  # the debrief window has passed
    CANCELLED = "cancelled"


class UpwardFeedback(enum.StrEnum):
    NONE = "none"
    NAMED = "named"
    ANONYMOUS = "anonymous"


class TaskKind(enum.StrEnum):
    LEAD_REVIEW = "lead_review"  # the lead debriefs a member
    UPWARD = "upward"  # a member gives feedback on the lead


class JobKind(enum.StrEnum):
    DEBRIEF_PROMPT = "debrief_prompt"
    DEBRIEF_REMINDER = "debrief_reminder"
    DEBRIEF_CLOSE = "debrief_close"


class JobState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FeedbackSource(enum.StrEnum):
    DEBRIEF = "debrief"  # the lead about a member
    UPWARD = "upward"  # a member about the lead
    REQUESTED = "requested"  # an answer to a feedback request
    GIVEN = "given"  # given unasked, with /feedback give


class Relation(enum.StrEnum):
    """Who the giver is to the subject when the feedback was given (org chart at that time)."""

    MANAGER = "manager"
    REPORT = "report"
    PEER = "peer"
    SELF = "self"


class RequestState(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # the requester or the giver left the programme
    UNDELIVERED = "undelivered"  # Slack refused the DM to the giver: it can be asked again


class MessageKind(enum.StrEnum):
    """What a DM in the outbox is; each kind has one renderer (``bot.outbox.Outbox.register``)."""

    DEBRIEF_PROMPT = "debrief_prompt"
    DEBRIEF_REMINDER = "debrief_reminder"
    FEEDBACK_REQUEST = "feedback_request"
    REQUEST_NUDGE = "request_nudge"
    REQUEST_ANSWERED = "request_answered"
    REQUEST_DECLINED = "request_declined"
    REQUEST_UNDELIVERED = "request_undelivered"
    ANONYMOUS_RELEASED = "anonymous_released"
    MANAGER_CLAIM = "manager_claim"
    COACHING_SHARED = "coaching_shared"
    GROWTH_DIGEST = "growth_digest"  # the weekly digest; key: person and ISO week


class MessageState(enum.StrEnum):
    PENDING = "pending"  # to send at due_at (never posted, or found not posted)
    SENDING = "sending"  # claimed by a worker; past the lease, the worker is taken for dead
    SENT = "sent"
    FAILED = "failed"  # Slack refused it for good (or gave up), nothing was posted
    CANCELLED = "cancelled"  # no longer worth sending (the project was cancelled…)


class Person(SQLModel, table=True):
    """Someone in the workspace, created from ``users.info`` on first contact."""

    id: int | None = Field(default=None, primary_key=True)
    slack_user_id: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    name: str = Field(default="", max_length=120)
    tz: str = Field(default="UTC", max_length=64)
    is_bot: bool = False
    deleted: bool = False
    dm_channel_id: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254, index=True)
    # The org chart: at most one manager each. A manager's claim on someone waits in
    # ``pending_manager_id`` until that person confirms it (or an admin imports it).
    manager_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    pending_manager_id: int | None = Field(default=None, foreign_key="person.id")
    paused_until: date | None = None  # no notifications until this day (vacation)
    digest_enabled: bool = True
    digest_paused_until: date | None = None  # no weekly digest until this day ("Pause for 2 weeks")
    # The digest's day (0 Monday … 6 Sunday) and hour in the person's zone, as they chose them on
    # the App Home; None: the default (Monday 09:00).
    digest_weekday: int | None = None
    digest_hour: int | None = None
    left_programme_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    refreshed_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class Project(SQLModel, table=True):
    __table_args__ = (Index("ix_project_state_lead", "state", "lead_id"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX)
    lead_id: int = Field(foreign_key="person.id", index=True)
    created_by_id: int = Field(foreign_key="person.id")
    end_date: date
    debrief_offset_days: int = 1
    upward_feedback: UpwardFeedback = Field(
        default=UpwardFeedback.NONE, sa_column=enum_column(UpwardFeedback)
    )
    state: ProjectState = Field(default=ProjectState.SCHEDULED, sa_column=enum_column(ProjectState))
    debrief_due_at: datetime = Field(sa_column=utc_column())
    reminder_due_at: datetime = Field(sa_column=utc_column())
    window_closes_at: datetime = Field(sa_column=utc_column())
    # The "New project" modal's view id: a repeated submission of the same modal finds the
    # project it already created instead of making a second one.
    source_view_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    cancelled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class ProjectMember(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)


class DebriefTask(SQLModel, table=True):
    """One part of a debrief: ``giver`` owes feedback on ``subject`` for ``project``."""

    __table_args__ = (UniqueConstraint("project_id", "giver_id", "subject_id"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    giver_id: int = Field(foreign_key="person.id", index=True)
    subject_id: int = Field(foreign_key="person.id")
    kind: TaskKind = Field(sa_column=enum_column(TaskKind))
    done_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    feedback_id: int | None = Field(default=None, foreign_key="feedback.id")


class OutboxMessage(SQLModel, table=True):
    """A DM to send exactly once (``bot.outbox``), and, once sent, where it is (to update it).

    ``key`` says which message it is (``debrief_prompt:12:34``): enqueueing the same key twice
    keeps one row. ``token`` travels in the message's metadata, so that after an answer that
    never came the DM's history tells whether Slack posted it. ``uncertain`` is set while a post
    may have happened: such a row is looked for before it is posted again.
    """

    __table_args__ = (Index("ix_outbox_due", "state", "due_at"), Index("ix_outbox_ref", "kind", "ref_id"))

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(120), nullable=False, unique=True))
    token: str = Field(max_length=32)
    kind: MessageKind = Field(sa_column=enum_column(MessageKind))
    recipient_id: int = Field(foreign_key="person.id", index=True)
    ref_id: int | None = None  # the project, request or draft it is about
    state: MessageState = Field(default=MessageState.PENDING, sa_column=enum_column(MessageState))
    uncertain: bool = False
    due_at: datetime = Field(sa_column=utc_column())
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=40)
    claimed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    channel_id: str | None = Field(default=None, max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    last_error: str = Field(default="", max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class ModalView(SQLModel, table=True):
    """A modal Brickwork opened, and for whom: a submission or button naming a view id is
    checked against it, so nobody acts through (or reads through) someone else's modal."""

    id: int | None = Field(default=None, primary_key=True)
    view_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    slack_user_id: str = Field(max_length=32)
    callback_id: str = Field(max_length=64)
    opened_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))


class Feedback(SQLModel, table=True):
    """One person's answer about another, on both dimensions.

    Unique per (giver, subject, project): answering again replaces the answer.
    """

    __table_args__ = (
        UniqueConstraint("giver_id", "subject_id", "project_id"),
        # What readers see about a person, by release: counts, sums and the newest few. (Its name
        # is from when it also served the marks that ``FeedbackMark`` keeps now.)
        Index("ix_feedback_subject_released_marks", "subject_id", "released_at", "updated_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    giver_id: int = Field(foreign_key="person.id", index=True)
    subject_id: int = Field(foreign_key="person.id", index=True)
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    source: FeedbackSource = Field(sa_column=enum_column(FeedbackSource))
    relation: Relation = Field(default=Relation.PEER, sa_column=enum_column(Relation))
    # An answer to a request is unique per request; unasked feedback per modal submission,
    # so a retry or a double click stores one record.
    request_id: int | None = Field(default=None, foreign_key="feedbackrequest.id", unique=True)
    source_view_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, unique=True))
    about: str = Field(default="", max_length=ABOUT_MAX)
    anonymous: bool = False
    # When readers may see it: at once for named feedback; for anonymous feedback, in the first
    # batch that holds answers from at least three people (``bot.feedback.anonymity``). None: held.
    released_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True, index=True))
    framework_version: str = Field(max_length=32)
    delivery_note: str = Field(default="", max_length=NOTE_MAX)
    strengths_note: str = Field(default="", max_length=NOTE_MAX)
    growth_note: str = Field(default="", max_length=NOTE_MAX)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class FeedbackMark(SQLModel, table=True):
    """How many times the feedback about a person that readers could see (released), or its
    ratings, changed: kept by the database itself (triggers on ``feedback`` and ``rating``,
    migration 0010), in the transaction that made the change, whichever code made it. A held
    anonymous answer moves nothing until its batch is released. A remembered App Home snapshot
    or growth reading is current while this has not moved: one row read, however much feedback."""

    subject_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    changes: int = 0


class FeedbackRequest(SQLModel, table=True):
    """Someone asked ``giver`` for feedback about ``subject`` (the requester, or their report).

    At most one open request per (requester, giver, subject): a partial unique index, so a
    repeated command or two replicas cannot open a second one.
    """

    __table_args__ = (
        Index(
            "uq_open_request",
            "requester_id",
            "giver_id",
            "subject_id",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        # The App Home counts a person's open requests, both ways, without loading them.
        Index("ix_request_requester_created", "requester_id", "created_at"),
        Index("ix_request_giver_state", "giver_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    requester_id: int = Field(foreign_key="person.id", index=True)
    giver_id: int = Field(foreign_key="person.id", index=True)
    subject_id: int = Field(foreign_key="person.id", index=True)
    about: str = Field(default="", max_length=ABOUT_MAX)
    state: RequestState = Field(default=RequestState.OPEN, sa_column=enum_column(RequestState))
    decline_reason: str = Field(default="", max_length=DECLINE_REASON_MAX)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    responded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    nudged_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    dm_channel_id: str | None = Field(default=None, max_length=32)
    dm_ts: str | None = Field(default=None, max_length=32)


class Rating(SQLModel, table=True):
    """One KPI's score inside a feedback record.

    ``score`` is 1-5 for a scale KPI, 0/1/2 for an outcome KPI (no / partly / yes), and NULL
    for "not observed" (which is recorded, so it is not mistaken for a forgotten answer).
    """

    __table_args__ = (
        UniqueConstraint("feedback_id", "kpi"),
        # Covers the snapshot's sums: the KPI and score of each record without reading the table.
        Index("ix_rating_feedback_kpi_score", "feedback_id", "kpi", "score"),
    )

    id: int | None = Field(default=None, primary_key=True)
    feedback_id: int = Field(foreign_key="feedback.id", index=True)
    dimension: str = Field(max_length=16)
    kpi: str = Field(max_length=40)
    score: int | None = None


class SelfAssessment(SQLModel, table=True):
    """A person's ratings of themself on the framework: what they think, never counted in what
    others think (it has its own table, so no reading of others' feedback can include it).

    Each ``/growth self`` is kept (the latest counts; the history shows how it moved); one per
    project for "Rate yourself on this project", answering again replaces it. ``source_view_id``
    makes a retried or double-clicked submission one record.
    """

    __table_args__ = (
        Index(
            "uq_self_assessment_project",
            "person_id",
            "project_id",
            unique=True,
            sqlite_where=text("project_id IS NOT NULL"),
            postgresql_where=text("project_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    source_view_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, unique=True))
    framework_version: str = Field(max_length=32)
    delivery_note: str = Field(default="", max_length=NOTE_MAX)
    strengths_note: str = Field(default="", max_length=NOTE_MAX)
    growth_note: str = Field(default="", max_length=NOTE_MAX)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))


class SelfRating(SQLModel, table=True):
    """One KPI's score in a self-assessment; scores as in :class:`Rating`."""

    __table_args__ = (UniqueConstraint("assessment_id", "kpi"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="selfassessment.id", index=True)
    dimension: str = Field(max_length=16)
    kpi: str = Field(max_length=40)
    score: int | None = None


class StepOutcome(enum.StrEnum):
    TRIED = "tried"
    NOT_YET = "not_yet"
    NOT_FOR_ME = "not_for_me"


class GrowthStep(SQLModel, table=True):
    """The "one thing to try this week" a digest suggested, and how it went, as the person
    said in the next digest. One per person and ISO week."""

    __table_args__ = (UniqueConstraint("person_id", "week"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    week: str = Field(max_length=10)  # "2026-W49", in the person's zone
    kpi: str = Field(max_length=40)
    text: str = Field(max_length=STEP_MAX)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    outcome: StepOutcome | None = Field(
        default=None, sa_column=Column(StrEnumType(StepOutcome), nullable=True)
    )
    outcome_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class Job(SQLModel, table=True):
    """Work that is due: the scheduler only claims due rows and acts on them."""

    __table_args__ = (
        UniqueConstraint("kind", "project_id"),
        Index("ix_job_due", "state", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: JobKind = Field(sa_column=enum_column(JobKind))
    project_id: int = Field(foreign_key="project.id", index=True)
    due_at: datetime = Field(sa_column=utc_column())
    state: JobState = Field(default=JobState.PENDING, sa_column=enum_column(JobState))
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_error: str | None = Field(default=None, max_length=500)


class ProcessedEvent(SQLModel, table=True):
    """Events API deliveries already handled; Slack retries up to three times."""

    __table_args__ = (UniqueConstraint("team_id", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    event_id: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class CoachAudience(enum.StrEnum):
    MANAGER = "manager"  # a manager drafts coaching for a report, reviews it, shares it
    SELF = "self"  # a person drafts coaching about themself with /growth coach, for their eyes only


class DraftState(enum.StrEnum):
    DRAFTING = "drafting"  # the coach is working; the modal says so
    DRAFT = "draft"  # ready for review; editable, not shared
    SHARED = "shared"  # sent to the person it is about
    FAILED = "failed"  # even the offline coach had nothing to say (no evidence)


class DraftReaction(enum.StrEnum):
    USEFUL = "useful"
    NOT_USEFUL = "not_useful"


class CoachAnswer(SQLModel, table=True):
    """What a coach answered for one set of evidence: the cache that keeps the same evidence
    from reaching the LLM twice. ``evidence_key`` hashes the prompt as sent (version, model,
    audience and every line of evidence), so any new feedback makes a new key."""

    id: int | None = Field(default=None, primary_key=True)
    evidence_key: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    coach: str = Field(max_length=16)  # "llm" or "offline"
    prompt_version: str = Field(max_length=32)
    model: str | None = Field(default=None, max_length=120)
    answer_json: str = Field(sa_column=Column(Text, nullable=False))  # the validated answer, as given
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class CoachingDraft(SQLModel, table=True):
    """Coaching about ``subject`` drafted for ``requested_by`` (their manager, or themself)."""

    __table_args__ = (
        Index("ix_draft_subject_state", "subject_id", "state"),
        # One draft in the making per (subject, reader, audience): the same evidence is not
        # sent to the LLM twice because someone asked twice.
        Index(
            "uq_drafting",
            "subject_id",
            "requested_by_id",
            "audience",
            unique=True,
            sqlite_where=text("state = 'drafting'"),
            postgresql_where=text("state = 'drafting'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="person.id", index=True)
    requested_by_id: int = Field(foreign_key="person.id", index=True)
    audience: CoachAudience = Field(sa_column=enum_column(CoachAudience))
    state: DraftState = Field(default=DraftState.DRAFTING, sa_column=enum_column(DraftState))
    answer_id: int | None = Field(default=None, foreign_key="coachanswer.id")
    coach: str = Field(default="", max_length=16)  # who drafted it: "llm" or "offline"
    fallback_reason: str = Field(default="", max_length=200)  # why the offline coach stood in
    prompt_version: str = Field(default="", max_length=32)
    # The draft as the reviewer left it (edited text, chosen learning).
    content_json: str = Field(default="", sa_column=Column(Text, nullable=False))
    evidence_count: int = 0
    # Tokens this draft cost: None when no LLM was asked, 0 when its answer came from the cache.
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached: bool = False  # the LLM's answer to the same prompt was reused: no call, no tokens
    evidence_through: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    view_id: str | None = Field(default=None, max_length=64)  # the modal showing it
    reaction: DraftReaction | None = Field(
        default=None, sa_column=Column(StrEnumType(DraftReaction), nullable=True)
    )
    shared_channel_id: str | None = Field(default=None, max_length=32)
    shared_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    shared_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    reacted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class NoteHint(SQLModel, table=True):
    """A form (its Slack view id) that was answered once with hints on its notes: any later
    submission of the same view is accepted as it is. Unique, so two replicas hint once."""

    id: int | None = Field(default=None, primary_key=True)
    view_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    hinted_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class AuditAction(enum.StrEnum):
    """What an admin did (or tried to do) in Slack: one row each in ``AuditEntry``."""

    IMPORT_ORG_CHART = "import_org_chart"  # a CSV shared with the bot in a DM
    FORGET_PERSON = "forget_person"  # /brickwork forget @person, after its confirmation
    VIEW_HEALTH = "view_health"  # /brickwork health
    VIEW_AUDIT = "view_audit"  # /brickwork audit
    EXPORT_TALENT_REVIEW = "export_talent_review"  # /growth review, brickwork export talent-review
    VIEW_SUCCESSION = "view_succession"  # /growth succession <role>


class AuditOutcome(enum.StrEnum):
    DONE = "done"
    REFUSED = "refused"  # the actor is not an admin: nothing was done
    FAILED = "failed"  # an admin's action that could not be done (a bad file, nobody to forget)


AUDIT_TARGET_MAX = 64
AUDIT_DETAIL_MAX = 200


class AuditEntry(SQLModel, table=True):
    """Who did what as an admin, to whom or what, when, and how it ended.

    Slack ids, not person rows: the record outlives whatever it is about (a person forgotten
    keeps the line that says who forgot them). ``detail`` holds counts and fixed phrases only,
    never feedback, and no giver of anything.
    """

    id: int | None = Field(default=None, primary_key=True)
    actor_slack_id: str = Field(max_length=32, index=True)
    action: AuditAction = Field(sa_column=enum_column(AuditAction))
    target: str = Field(default="", max_length=AUDIT_TARGET_MAX)  # a Slack user id or file id
    outcome: AuditOutcome = Field(sa_column=enum_column(AuditOutcome))
    detail: str = Field(default="", max_length=AUDIT_DETAIL_MAX)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))
