"""Every callback_id, action_id and block_id Brickwork uses, in one place."""

from __future__ import annotations

import enum


class Command(enum.StrEnum):
    DEBRIEF = "/debrief"
    FEEDBACK = "/feedback"
    GROWTH = "/growth"
    COACH = "/coach"
    BRICKWORK = "/brickwork"  # admins: health, forget @someone, audit, import


class CallbackId(enum.StrEnum):
    NEW_PROJECT = "new_project"
    PROJECT_CREATED = "project_created"
    DEBRIEF_FORM = "debrief_form"
    HOME = "home"
    FEEDBACK_FORM = "feedback_form"
    DECLINE_FORM = "decline_form"
    CONFIRM_DELETE = "confirm_delete"
    REQUEST_FOR_REPORT = "request_for_report"
    COACH_DRAFTING = "coach_drafting"  # the "drafting…" modal; private_metadata: DraftMeta
    COACH_DRAFT = "coach_draft"  # the draft under review; private_metadata: DraftMeta
    NOTICE = "notice"  # a read-only modal that says one thing (views.common.notice_modal)
    REQUEST_OUTCOME = "request_outcome"  # who was asked, after "Request feedback" on the Home
    REPORT_FEEDBACK = "report_feedback"  # a report's feedback, as their manager may see it
    CONFIRM_FORGET = "confirm_forget"  # an admin confirms forgetting a person; private_metadata: ForgetMeta
    SELF_ASSESSMENT = "self_assessment"  # rating oneself; private_metadata: SelfMeta


class ActionId(enum.StrEnum):
    OPEN_DEBRIEF = "open_debrief"  # button in a debrief DM; value "<project_id>:<subject_id>"
    NEW_PROJECT = "new_project"  # button on the App Home
    INPUT = "input"  # the single element inside each input block; the block_id names the field
    GIVE_FEEDBACK = "give_feedback"  # value: the request id
    DECLINE_REQUEST = "decline_request"  # value: the request id
    NUDGE_REQUEST = "nudge_request"  # value: the request id
    MY_TEAM = "my_team"  # the App Home's user picker
    CONFIRM_MANAGER = "confirm_manager"  # value: the manager's person id
    RATE_MYSELF_ON_PROJECT = "rate_myself_on_project"  # in a debrief DM; value: the project id
    DIGEST_REQUEST = "digest_request"  # in the weekly digest: ask colleagues for feedback
    STEP_TRIED = "step_tried"  # how last week's thing to try went; value: the step id
    STEP_NOT_YET = "step_not_yet"  # value: the step id
    STEP_NOT_FOR_ME = "step_not_for_me"  # value: the step id
    DIGEST_PAUSE = "digest_pause"  # in the weekly digest: no digest for two weeks
    DIGEST_STOP = "digest_stop"  # in the weekly digest: no more digests
    TALENT_NAMES = "talent_names"  # /growth team: who sits in each cell (the clicker's own team)
    TALENT_MORE = "talent_more"  # /growth team: the next page of members; value: the page, from 2
    REJECT_MANAGER = "reject_manager"  # value: the manager's person id
    PAUSE_UNTIL = "pause_until"  # datepicker
    RESUME = "resume"
    DIGEST_ON = "digest_on"
    DIGEST_OFF = "digest_off"
    DIGEST_DAY = "digest_day"  # App Home select; value: 0 (Monday) to 6 (Sunday)
    DIGEST_HOUR = "digest_hour"  # App Home select; value: the hour, 0 to 23
    REQUEST_FOR_REPORT = "request_for_report"  # value: the report's person id
    DRAFT_COACHING = "draft_coaching"  # App Home, per report; value: the report's person id
    REDRAFT = "redraft"  # in a stale draft; value: the draft id
    COACH_USEFUL = "coach_useful"  # in shared coaching; value: the draft id
    COACH_NOT_USEFUL = "coach_not_useful"  # in shared coaching; value: the draft id
    VIEW_REPORT_FEEDBACK = "view_report_feedback"  # App Home, per report; value: the report's person id


class BlockId(enum.StrEnum):
    # New project modal
    PROJECT_NAME = "project_name"
    LEAD = "lead"
    MEMBERS = "members"
    END_DATE = "end_date"
    OFFSET = "offset"
    UPWARD = "upward"
    # Debrief form: one block per KPI is "kpi_<key>"; the notes are fixed
    DELIVERY_NOTE = "delivery_note"
    STRENGTHS_NOTE = "strengths_note"
    GROWTH_NOTE = "growth_note"
    ANONYMOUS = "anonymous"
    DECLINE_REASON = "decline_reason"
    GIVERS = "givers"
    ABOUT = "about"
    # Coaching draft: per growth area "area_<n>_<field>"; the learning checkboxes
    AREA_PREFIX = "area_"
    LEARNING = "learning"
    REACTION_PREFIX = "coach_reaction_"  # + the draft id, in the shared DM
    COACH_AFTER_DEBRIEF = "coach_after_debrief"  # "Draft coaching" buttons in a debrief DM
    RATE_MYSELF = "rate_myself"  # "Rate yourself on this project" in a debrief DM
    DIGEST_ACTIONS = "digest_actions"  # the weekly digest's buttons
    STEP_ANSWER = "step_answer"  # the digest's "how did it go?" buttons
    # Feedback requests, each + the request id (``numbered``): the giver's DM buttons, and the
    # rows of /feedback requests for what I asked and what I was asked
    REQUEST_PREFIX = "request_"
    SENT_REQUEST_PREFIX = "sent_"
    RECEIVED_REQUEST_PREFIX = "received_"
    # The App Home: its fixed action rows, and its numbered rows (``numbered``): requests
    # waiting for me and my open requests (+ the request id), the manager's claim (+ their
    # person id), a report's buttons (+ the report's person id)
    TEAM = "team"
    PROJECTS = "projects"
    SETTINGS = "settings"
    WAITING_PREFIX = "waiting_"
    OPEN_REQUEST_PREFIX = "open_"
    CLAIM_PREFIX = "claim_"
    REPORT_PREFIX = "report_"
    TALENT_MAP = "talent_map"
    TALENT_MORE = "talent_more"
    TALENT_MEMBER_PREFIX = "talent_member_"  # + the report's person id


KPI_BLOCK_PREFIX = "kpi_"


def kpi_block(key: str) -> str:
    return f"{KPI_BLOCK_PREFIX}{key}"


def numbered(prefix: BlockId, number: int) -> str:
    """A block id for one of many rows: ``numbered(BlockId.SENT_REQUEST_PREFIX, 7)`` -> "sent_7"."""
    return f"{prefix.value}{number}"
