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


class ActionId(enum.StrEnum):
    OPEN_DEBRIEF = "open_debrief"  # button in a debrief DM; value "<project_id>:<subject_id>"
    NEW_PROJECT = "new_project"  # button on the App Home
    INPUT = "input"  # the single element inside each input block; the block_id names the field
    GIVE_FEEDBACK = "give_feedback"  # value: the request id
    DECLINE_REQUEST = "decline_request"  # value: the request id
    NUDGE_REQUEST = "nudge_request"  # value: the request id


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


KPI_BLOCK_PREFIX = "kpi_"


def kpi_block(key: str) -> str:
    return f"{KPI_BLOCK_PREFIX}{key}"
