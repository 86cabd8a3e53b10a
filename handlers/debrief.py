"""/debrief, the "New project" modal, the debrief buttons and the debrief form."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.answers import Answers
from bot.debriefs import ProjectDraft
from bot.errors import BrickworkError, InvalidInput
from bot.framework import OUTCOME_SCORES, Framework, KpiKind
from bot.services import Services
from bot.text import escape_mrkdwn
from handlers.errors import guarded
from handlers.forms import (
    DebriefFormMeta,
    NewProjectMeta,
    as_date,
    as_int,
    as_text,
    flatten_state,
    parse_metadata,
)
from handlers.ids import ActionId, BlockId, CallbackId, Command, kpi_block
from handlers.views import debrief as views
from handlers.views.common import notice_modal
from handlers.views.form import NOT_OBSERVED

log = logging.getLogger(__name__)

# Service field name -> the block that shows its error.
PROJECT_FIELDS = {
    "name": BlockId.PROJECT_NAME,
    "lead": BlockId.LEAD,
    "members": BlockId.MEMBERS,
    "end_date": BlockId.END_DATE,
    "offset": BlockId.OFFSET,
    "upward": BlockId.UPWARD,
}
NOTE_FIELDS = {
    "delivery_note": BlockId.DELIVERY_NOTE,
    "strengths_note": BlockId.STRENGTHS_NOTE,
    "growth_note": BlockId.GROWTH_NOTE,
}


def parse_answers(values: dict[str, Any], framework: Framework) -> Answers:
    """The submitted form as typed answers; an unknown choice becomes -1 and fails validation."""
    scores: dict[str, int | None] = {}
    missing: set[str] = set()
    for kpi in framework.kpis:
        raw = values.get(kpi_block(kpi.key))
        if raw is None:
            missing.add(kpi.key)
        elif raw == NOT_OBSERVED:
            scores[kpi.key] = None
        elif kpi.kind is KpiKind.OUTCOME:
            scores[kpi.key] = OUTCOME_SCORES.get(raw, -1)
        else:
            number = as_int(raw)
            scores[kpi.key] = -1 if number is None else number
    return Answers(
        scores=scores,
        delivery_note=as_text(values.get(BlockId.DELIVERY_NOTE)),
        strengths_note=as_text(values.get(BlockId.STRENGTHS_NOTE)),
        growth_note=as_text(values.get(BlockId.GROWTH_NOTE)),
        missing=frozenset(missing),
    )


def parse_button_value(value: str) -> tuple[int, int] | None:
    project, _, subject = value.partition(":")
    if project.isdigit() and subject.isdigit():
        return int(project), int(subject)
    return None


class DebriefListeners:
    def __init__(self, services: Services) -> None:
        self.s = services

    def command(self, ack: Ack, command: dict[str, Any]) -> None:
        user = command["user_id"]
        word, _, rest = (command.get("text") or "").strip().partition(" ")
        word = word.lower()
        if word in {"", "new"}:
            ack()
            self.open_new_project(command["trigger_id"], user, command.get("channel_id"))
        elif word == "list":
            text, blocks = views.project_list(self.s.debriefs.projects_for(user))
            ack(text=text, blocks=blocks)
        elif word == "cancel":
            ack()
            summary = self.s.debriefs.cancel(requester=user, query=rest)
            self.s.gateway.post_ephemeral(command["channel_id"], user, views.cancelled_text(summary))
        elif word == "help":
            ack(text=views.DEBRIEF_HELP)
        else:
            ack(text=f"I don't know `{escape_mrkdwn(word[:30])}`.\n\n{views.DEBRIEF_HELP}")

    def open_new_project(self, trigger_id: str, user: str, channel_id: str | None) -> None:
        view = views.new_project_modal(
            requester=user, today=self.s.debriefs.today_for(user), meta=NewProjectMeta(channel_id=channel_id)
        )
        self.s.gateway.open_view(trigger_id, view)

    def home_new_project(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()
        self.open_new_project(body["trigger_id"], body["user"]["id"], None)

    def new_project_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        parse_metadata(view, NewProjectMeta)
        values = flatten_state(view)
        draft = ProjectDraft(
            name=as_text(values.get(BlockId.PROJECT_NAME)),
            lead=values.get(BlockId.LEAD),
            members=[m for m in values.get(BlockId.MEMBERS) or [] if isinstance(m, str)],
            end_date=as_date(values.get(BlockId.END_DATE)),
            offset_days=as_int(values.get(BlockId.OFFSET)),
            upward=values.get(BlockId.UPWARD),
        )
        try:
            summary = self.s.debriefs.create_project(
                requester=body["user"]["id"], view_id=view["id"], draft=draft
            )
        except InvalidInput as error:
            ack(response_action="errors", errors={PROJECT_FIELDS[k]: v for k, v in error.fields.items()})
            return
        ack(response_action="update", view=views.project_created_modal(summary))

    def open_debrief(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        parsed = parse_button_value(action.get("value") or "")
        if parsed is None:
            self.s.gateway.open_view(
                body["trigger_id"], notice_modal("Debrief", "That button is out of date.")
            )
            return
        form = self.s.debriefs.debrief_form(giver=user, project_id=parsed[0], subject_id=parsed[1])
        self.s.gateway.open_view(body["trigger_id"], views.debrief_modal(form))

    def debrief_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = parse_metadata(view, DebriefFormMeta)
        answers = parse_answers(flatten_state(view), self.s.framework)
        user = body["user"]["id"]
        try:
            result = self.s.debriefs.submit(
                giver=user,
                project_id=meta.project_id,
                subject_id=meta.subject_id,
                answers=answers,
                view_id=view["id"],
            )
        except InvalidInput as error:
            errors = {NOTE_FIELDS.get(name) or kpi_block(name): msg for name, msg in error.fields.items()}
            ack(response_action="errors", errors=errors)
            return
        except BrickworkError as error:  # closed, cancelled, not theirs: say so in the modal
            ack(response_action="update", view=notice_modal("Debrief", str(error)))
            return
        ack()  # closes the modal; the DM is updated after the ack
        self.s.debriefs.refresh_messages(result.project_id, result.giver_id)


def register(app: App, services: Services) -> None:
    listeners = DebriefListeners(services)
    guard = guarded(services)  # a refusal right after ack() must not cost Slack the ack
    app.command(Command.DEBRIEF.value)(guard(listeners.command))
    app.view_submission(CallbackId.NEW_PROJECT.value)(guard(listeners.new_project_submitted))
    app.view_submission(CallbackId.DEBRIEF_FORM.value)(guard(listeners.debrief_submitted))
    app.action(ActionId.OPEN_DEBRIEF.value)(guard(listeners.open_debrief))
    app.action(ActionId.NEW_PROJECT.value)(guard(listeners.home_new_project))
