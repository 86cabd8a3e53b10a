"""The App Home tab: published on app_home_opened and after anything that changes it."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.models.views import View

from bot.errors import BrickworkError, InvalidInput, NotAllowed
from bot.home.service import TEAM_PICKER_MAX
from bot.services import Services
from bot.slack_gateway import error_code
from bot.text import is_slack_user_id
from handlers.errors import guarded, message_for
from handlers.forms import FormRefused, Input, ReportMeta, db_id, parse_metadata, read_form
from handlers.ids import ActionId, BlockId, CallbackId
from handlers.views.common import notice_modal
from handlers.views.home import (
    REPORT_FEEDBACK_SHOWN,
    asking_modal,
    report_feedback_modal,
    request_for_report_modal,
    request_outcome_modal,
)

log = logging.getLogger(__name__)


class HomeListeners:
    def __init__(self, services: Services) -> None:
        self.s = services

    def publish(self, user: str) -> None:
        """Show the person their Home again after an action. Best effort: the action has
        happened, and a modal may already be open to say so; a Home that could not be
        republished is logged, and the next open shows it right."""
        try:
            self.s.home.publish(user)
        except Exception as error:
            log.warning("could not republish an App Home: %s %s", type(error).__name__, error_code(error))

    def opened_event(self, user: str) -> None:
        self.s.home.publish(user)

    def opened(self, event: dict[str, Any]) -> None:
        if event.get("tab") in (None, "home"):
            self.opened_event(event["user"])

    def profile_changed(self, event: dict[str, Any]) -> None:
        """``user_change``: the event says whose profile changed; what changed is read from
        ``users.info`` (the event's own fields are not taken for it), so a digest follows a
        move to another zone."""
        user = event.get("user")
        user_id = user.get("id") if isinstance(user, dict) else None
        if isinstance(user_id, str) and is_slack_user_id(user_id):
            self.s.people.refresh(user_id)

    def my_team(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        selected = action.get("selected_users") or []
        if not isinstance(selected, list) or not all(is_slack_user_id(u) for u in selected):
            raise FormRefused()
        change = self.s.home.set_team(user, selected[:TEAM_PICKER_MAX])
        if change.refused:  # the trigger_id lives 3 s: use it before anything else
            lines = "\n".join(f"{p.name}: {why}" for p, why in change.refused)
            self.s.gateway.open_view(body["trigger_id"], notice_modal("My team", lines))
        self.publish(user)

    def answer_claim(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        manager_id = db_id(action.get("value"))
        accept = action["action_id"] == ActionId.CONFIRM_MANAGER
        try:
            manager = self.s.home.answer_claim(user, manager_id, accept=accept)
        except InvalidInput as error:  # e.g. a cycle: nothing changed; the claim stays to reject
            message = "\n".join(error.fields.values())
            self.s.gateway.open_view(body["trigger_id"], notice_modal("My manager", message))
            return
        message = (
            f"{manager.name} is now your manager."
            if accept
            else f"Noted: {manager.name} is not your manager."
        )
        self.s.gateway.open_view(body["trigger_id"], notice_modal("My manager", message))
        self.publish(user)

    def pause(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        try:
            self.s.home.pause_until(user, _picked_date(action))
        except InvalidInput as error:
            self.s.gateway.open_view(body["trigger_id"], notice_modal("Pause", error.fields["paused_until"]))
        self.publish(user)

    def resume(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()
        self.s.home.pause_until(body["user"]["id"], None)
        self.publish(body["user"]["id"])

    def digest(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        self.s.home.set_digest(body["user"]["id"], action["action_id"] == ActionId.DIGEST_ON)
        self.publish(body["user"]["id"])

    def digest_time(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        chosen = _picked_number(action, 6 if action["action_id"] == ActionId.DIGEST_DAY else 23)
        if chosen is None:
            pass  # nothing picked (not a select at all): nothing to change
        elif action["action_id"] == ActionId.DIGEST_DAY:
            self.s.digests.choose_digest_time(body["user"]["id"], weekday=chosen)
        else:
            self.s.digests.choose_digest_time(body["user"]["id"], hour=chosen)
        self.publish(body["user"]["id"])

    def request_for_report(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user, value = body["user"]["id"], db_id(action.get("value"))
        reports = {p.person_id: p for p in self.s.reading.reports(user)}
        if value not in reports:
            raise NotAllowed("They do not report to you (any more).")
        self.s.modals.open(body["trigger_id"], user, request_for_report_modal(reports[value]))

    def view_report_feedback(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user, value = body["user"]["id"], db_id(action.get("value"))
        reports = {p.person_id: p for p in self.s.reading.reports(user)}
        if value not in reports:
            raise NotAllowed("They do not report to you (any more), so their feedback is not yours to read.")
        report = reports[value]
        items = self.s.reading.received(user, report.person_id, limit=REPORT_FEEDBACK_SHOWN + 1)
        self.s.modals.open(body["trigger_id"], user, report_feedback_modal(report, items, self.s.framework))

    def request_for_report_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        requester = body["user"]["id"]
        self.s.modals.check(view, requester)
        meta = parse_metadata(view, ReportMeta)
        values = read_form(view, {BlockId.GIVERS: Input.USERS, BlockId.ABOUT: Input.TEXT})
        givers, about = values[BlockId.GIVERS], values[BlockId.ABOUT]
        # Asking means users.info, conversations.open and a DM per person: longer than Slack
        # waits for an ack. What can be refused without Slack is refused in the ack.
        try:
            self.s.requests.check_request(
                requester=requester, givers=givers, about=about, subject=meta.subject_slack_id
            )
        except InvalidInput as error:
            block = BlockId.ABOUT if "about" in error.fields else BlockId.GIVERS
            ack(response_action="errors", errors={block: next(iter(error.fields.values()))})
            return
        except BrickworkError as error:
            ack(response_action="update", view=notice_modal("Request feedback", str(error)))
            return
        ack(response_action="update", view=asking_modal(len(set(givers))))
        try:
            outcome = self.s.requests.request(
                requester=requester, givers=givers, about=about, subject=meta.subject_slack_id
            )
        except Exception as error:  # the modal is open: the answer goes there, whatever it is
            message, error_id = message_for(error)
            self._replace(view["id"], notice_modal("Request feedback", message, error_id=error_id))
            return
        self._replace(view["id"], request_outcome_modal(outcome))

    def _replace(self, view_id: str, new: View) -> None:
        try:
            self.s.modals.update(view_id, new)
        except Exception as error:  # closed while asking (not_found): the requests stand the same
            log.info("could not update a modal: %s %s", type(error).__name__, error_code(error))


def _picked_date(action: dict[str, Any]) -> date | None:
    """The datepicker's choice: None when cleared; a refusal when it is not a date."""
    chosen = action.get("selected_date")
    if chosen is None:
        return None
    try:
        if isinstance(chosen, str) and len(chosen) == 10:
            return date.fromisoformat(chosen)
    except ValueError:
        pass
    raise FormRefused()


def _picked_number(action: dict[str, Any], highest: int) -> int | None:
    """A select's choice of a number from 0 to ``highest``; None when nothing was picked; a
    refusal for anything else."""
    option = action.get("selected_option")
    if option is None:
        return None
    value = option.get("value") if isinstance(option, dict) else None
    if (
        isinstance(value, str)
        and len(value) <= 2
        and value.isascii()
        and value.isdigit()
        and int(value) <= highest
    ):
        return int(value)
    raise FormRefused()


def register(app: App, services: Services) -> None:
    listeners = HomeListeners(services)
    guard = guarded(services)  # a refusal right after ack() must not cost Slack the ack

    app.event("app_home_opened")(guard(listeners.opened))
    app.event("user_change")(guard(listeners.profile_changed))
    app.action(ActionId.MY_TEAM.value)(guard(listeners.my_team))
    app.action(ActionId.CONFIRM_MANAGER.value)(guard(listeners.answer_claim))
    app.action(ActionId.REJECT_MANAGER.value)(guard(listeners.answer_claim))
    app.action(ActionId.PAUSE_UNTIL.value)(guard(listeners.pause))
    app.action(ActionId.RESUME.value)(guard(listeners.resume))
    app.action(ActionId.DIGEST_ON.value)(guard(listeners.digest))
    app.action(ActionId.DIGEST_OFF.value)(guard(listeners.digest))
    app.action(ActionId.DIGEST_DAY.value)(guard(listeners.digest_time))
    app.action(ActionId.DIGEST_HOUR.value)(guard(listeners.digest_time))
    app.action(ActionId.REQUEST_FOR_REPORT.value)(guard(listeners.request_for_report))
    app.action(ActionId.VIEW_REPORT_FEEDBACK.value)(guard(listeners.view_report_feedback))
    app.view_submission(CallbackId.REQUEST_FOR_REPORT.value)(guard(listeners.request_for_report_submitted))
