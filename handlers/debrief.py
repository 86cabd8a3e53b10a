"""/debrief, the "New project" modal, the debrief buttons and the debrief form."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.debriefs.service import OFFSET_CHOICES, ProjectDraft
from bot.errors import BrickworkError, InvalidInput
from bot.feedback.answers import Answers
from bot.framework import OUTCOME_SCORES, Framework, KpiKind
from bot.services import Services
from bot.text import escape_mrkdwn
from handlers.errors import guarded
from handlers.forms import (
    DebriefFormMeta,
    Input,
    NewProjectMeta,
    db_id_pair,
    parse_metadata,
    read_form,
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
NEW_PROJECT_FORM = {
    BlockId.PROJECT_NAME: Input.TEXT,
    BlockId.LEAD: Input.USER,
    BlockId.MEMBERS: Input.USERS,
    BlockId.END_DATE: Input.DATE,
    BlockId.OFFSET: Input.CHOICE,
    BlockId.UPWARD: Input.CHOICE,
}
OFFSETS = {str(days): days for days in OFFSET_CHOICES}  # exactly the option values we offer
SCALE_VALUES = {str(score): score for score in range(1, 6)}


def answers_form(framework: Framework, *, anonymous_box: bool = False) -> dict[str, Input]:
    """The inputs of the two-dimensional form: one choice per KPI, the three notes."""
    spec = {kpi_block(kpi.key): Input.CHOICE for kpi in framework.kpis}
    spec |= {block: Input.TEXT for block in NOTE_FIELDS.values()}
    if anonymous_box:
        spec[BlockId.ANONYMOUS] = Input.CHOICES
    return spec


def parse_answers(values: dict[str, Any], framework: Framework) -> Answers:
    """The submitted form as typed answers. A choice must be one of the values we offered,
    character for character ("٣" or "+3" are not "3"); anything else becomes -1, which
    validation refuses by field."""
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
            scores[kpi.key] = SCALE_VALUES.get(raw, -1)
    return Answers(
        scores=scores,
        delivery_note=values.get(BlockId.DELIVERY_NOTE) or "",
        strengths_note=values.get(BlockId.STRENGTHS_NOTE) or "",
        growth_note=values.get(BlockId.GROWTH_NOTE) or "",
        missing=frozenset(missing),
    )


def answer_errors(error: InvalidInput) -> dict[str, str]:
    return {NOTE_FIELDS.get(name) or kpi_block(name): msg for name, msg in error.fields.items()}


class DebriefListeners:
    def __init__(self, services: Services) -> None:
        self.s = services

    def command(self, ack: Ack, command: dict[str, Any]) -> None:
        user = command["user_id"]
        word, _, rest = (command.get("text") or "").strip().partition(" ")
        word = word.lower()
        if word in {"", "new"}:
            ack()
            self.open_new_project(command["trigger_id"], user)
        elif word == "list":
            text, blocks = views.project_list(self.s.debriefs.projects_for(user))
            ack(text=text, blocks=blocks)
        elif word == "cancel":
            ack()
            summary = self.s.debriefs.cancel(requester=user, query=rest)
            # The command's own response_url: it works in DMs and private channels the bot is not in.
            self.s.gateway.respond(command["response_url"], views.cancelled_text(summary))
        elif word == "help":
            ack(text=views.DEBRIEF_HELP)
        else:
            ack(text=f"I don't know `{escape_mrkdwn(word[:30])}`.\n\n{views.DEBRIEF_HELP}")

    def open_new_project(self, trigger_id: str, user: str) -> None:
        view = views.new_project_modal(
            requester=user, today=self.s.debriefs.today_for(user), meta=NewProjectMeta()
        )
        self.s.modals.open(trigger_id, user, view)

    def home_new_project(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()
        self.open_new_project(body["trigger_id"], body["user"]["id"])

    def new_project_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        self.s.modals.check(view, user)
        parse_metadata(view, NewProjectMeta)
        values = read_form(view, NEW_PROJECT_FORM)
        draft = ProjectDraft(
            name=values[BlockId.PROJECT_NAME],
            lead=values[BlockId.LEAD],
            members=values[BlockId.MEMBERS],
            end_date=values[BlockId.END_DATE],
            offset_days=OFFSETS.get(values[BlockId.OFFSET] or ""),
            upward=values[BlockId.UPWARD],
        )
        try:
            summary = self.s.debriefs.create_project(requester=user, view_id=view["id"], draft=draft)
        except InvalidInput as error:
            ack(response_action="errors", errors={PROJECT_FIELDS[k]: v for k, v in error.fields.items()})
            return
        ack(response_action="update", view=views.project_created_modal(summary))

    def open_debrief(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        project_id, subject_id = db_id_pair(action.get("value"))
        form = self.s.debriefs.debrief_form(giver=user, project_id=project_id, subject_id=subject_id)
        self.s.modals.open(body["trigger_id"], user, views.debrief_modal(form))

    def debrief_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        self.s.modals.check(view, user)
        meta = parse_metadata(view, DebriefFormMeta)
        answers = parse_answers(read_form(view, answers_form(self.s.framework)), self.s.framework)
        try:
            result = self.s.debriefs.submit(
                giver=user,
                project_id=meta.project_id,
                subject_id=meta.subject_id,
                answers=answers,
                view_id=view["id"],
            )
        except InvalidInput as error:
            ack(response_action="errors", errors=answer_errors(error))
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
