"""Every callback_id, action_id and block_id Brickwork uses, in one place."""

from __future__ import annotations

import enum


class Command(enum.StrEnum):
    DEBRIEF = "/debrief"
    FEEDBACK = "/feedback"
    GROWTH = "/growth"
    COACH = "/coach"


class CallbackId(enum.StrEnum):
    NEW_PROJECT = "new_project"
    PROJECT_CREATED = "project_created"
    DEBRIEF_FORM = "debrief_form"
    HOME = "home"
    FEEDBACK_FORM = "feedback_form"
    DECLINE_FORM = "decline_form"
    CONFIRM_DELETE = "confirm_delete"
    REQUEST_FOR_REPORT = "request_for_report"


class ActionId(enum.StrEnum):
    OPEN_DEBRIEF = "open_debrief"  # button in a debrief DM; value "<project_id>:<subject_id>"
    NEW_PROJECT = "new_project"  # button on the App Home
    INPUT = "input"  # the single element inside each input block; the block_id names the field
    GIVE_FEEDBACK = "give_feedback"  # value: the request id
    DECLINE_REQUEST = "decline_request"  # value: the request id
    NUDGE_REQUEST = "nudge_request"  # value: the request id
    MY_TEAM = "my_team"  # the App Home's user picker
    CONFIRM_MANAGER = "confirm_manager"  # value: the manager's person id
    REJECT_MANAGER = "reject_manager"  # value: the manager's person id
    PAUSE_UNTIL = "pause_until"  # datepicker
    RESUME = "resume"
    DIGEST_ON = "digest_on"
    DIGEST_OFF = "digest_off"
    REQUEST_FOR_REPORT = "request_for_report"  # value: the report's person id


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


KPI_BLOCK_PREFIX = "kpi_"


def kpi_block(key: str) -> str:
    return f"{KPI_BLOCK_PREFIX}{key}"
