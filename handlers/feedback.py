"""/feedback and its buttons and forms: parse, call the feedback service, render."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt import Ack, App

from bot.errors import BrickworkError, InvalidInput
from bot.feedback.answers import Answers
from bot.services import Services
from bot.text import escape_mrkdwn, is_blank
from handlers.debrief import answer_errors, answers_form, parse_answers
from handlers.errors import guarded
from handlers.forms import FeedbackFormMeta, Input, RequestMeta, db_id, parse_metadata, read_form
from handlers.ids import ActionId, BlockId, CallbackId, Command
from handlers.views import feedback as views
from handlers.views.common import notice_modal
from handlers.views.form import ANONYMOUS_VALUE
from storage.models import ABOUT_MAX, MessageState

log = logging.getLogger(__name__)

# Slack sends people as <@U123|name> when the command has should_escape on (our manifest).
MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,20})(?:\|[^>]{0,80})?>$")
USAGE = {
    "request": "Usage: `/feedback request @a @b [about <what>]` (pick people from the autocomplete).",
    "give": "Usage: `/feedback give @someone [about <what>]` (pick the person from the autocomplete).",
}


class CommandError(BrickworkError):
    """A malformed command: answered with the usage, nothing sent."""


def parse_people_and_about(text: str, usage: str) -> tuple[list[str], str]:
    """``@a @b about the launch`` -> (["UA", "UB"], "the launch"). Anything that is not a
    mention before ``about`` is refused with the usage: a guess could ask the wrong person."""
    words = text.split()
    people: list[str] = []
    about = ""
    for index, word in enumerate(words):
        if word.lower() == "about":
            about = " ".join(words[index + 1 :])
            if is_blank(about):  # nothing a reader could see is nothing
                raise CommandError(f"Say what the feedback is about after `about`.\n{usage}")
            break
        match = MENTION.fullmatch(word)
        if match is None:
            shown = escape_mrkdwn(word[:40])
            raise CommandError(
                f"I couldn't tell who `{shown}` is. Pick people from Slack's autocomplete so each name "
                f"becomes a mention.\n{usage}"
            )
        people.append(match.group(1))
    if not people:
        raise CommandError(f"Name at least one person.\n{usage}")
    if len(about) > ABOUT_MAX:
        raise CommandError(f"Keep what it is about to {ABOUT_MAX} characters.\n{usage}")
    return people, about


class FeedbackListeners:
    def __init__(self, services: Services) -> None:
        self.s = services

    # -- the command -----------------------------------------------------------------

    def command(self, ack: Ack, command: dict[str, Any]) -> None:
        user = command["user_id"]
        word, _, rest = (command.get("text") or "").strip().partition(" ")
        word = word.lower()
        try:
            if word == "request":
                givers, about = parse_people_and_about(rest, USAGE["request"])
                if len(set(givers)) > 10:
                    raise CommandError("Ask at most 10 people at once.")
                ack(text=f"Asking {len(set(givers))} {'person' if len(set(givers)) == 1 else 'people'}…")
                outcome = self.s.requests.request(requester=user, givers=givers, about=about)
                # Through the command's response_url: it works in a DM between two people and
                # in a private channel the bot is not in, where chat.postEphemeral does not.
                self.s.gateway.respond(command["response_url"], views.outcome_text(outcome))
            elif word == "give":
                people, about = parse_people_and_about(rest, USAGE["give"])
                if len(people) != 1:
                    raise CommandError(f"Give feedback to one person at a time.\n{USAGE['give']}")
                ack()
                form = self.s.giving.form_for_give(giver=user, subject=people[0], about=about)
                self.s.modals.open(command["trigger_id"], user, views.feedback_modal(form))
            elif word in {"requests", "mine"}:
                # Only the database before the ack: users.info (first contact, a stale row) can
                # wait out a 429's Retry-After for longer than Slack's 3 seconds.
                self.s.people.known(user, command.get("user_name") or "")
                if word == "requests":
                    text, blocks = views.requests_overview(self.s.reading.overview(user))
                else:
                    snapshot = self.s.reading.snapshot(user)
                    text, blocks = views.mine(snapshot, self.s.reading.received(user), self.s.framework)
                ack(text=text, blocks=blocks)
                self.s.people.one(user)  # now fill in a new or stale person from Slack
            elif word == "export":
                ack(text="Preparing your export: it arrives as a file in a DM from Brickwork.")
                self.export(user)
            elif word == "delete":
                ack()
                self.s.modals.open(command["trigger_id"], user, views.confirm_delete_modal())
            elif word in {"", "help"}:
                ack(text=views.FEEDBACK_HELP)
            else:
                ack(text=f"I don't know `{escape_mrkdwn(word[:30])}`.\n\n{views.FEEDBACK_HELP}")
        except CommandError as error:
            ack(text=str(error))

    def export(self, user: str) -> None:
        data = self.s.reading.export(user)
        channel = self.s.people.dm_channel(self.s.people.one(user))
        self.s.gateway.upload_file(
            channel,
            filename="brickwork-export.json",
            content=json.dumps(data, indent=2, ensure_ascii=False),
            title="Everything Brickwork stores about you and by you",
            initial_comment="Your Brickwork export. Anonymous givers are not named in it.",
        )

    # -- buttons ---------------------------------------------------------------------

    def give_feedback(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        form = self.s.requests.form_for_request(giver=user, request_id=db_id(action.get("value")))
        self.s.modals.open(body["trigger_id"], user, views.feedback_modal(form))

    def decline(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        card = self.s.requests.pending_request(giver=user, request_id=db_id(action.get("value")))
        self.s.modals.open(body["trigger_id"], user, views.decline_modal(card))

    def nudge(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        card, delivery = self.s.requests.nudge(
            requester=body["user"]["id"], request_id=db_id(action.get("value"))
        )
        if delivery is not None and delivery.state is MessageState.FAILED:
            message = f"Slack did not take the nudge to {card.giver.name}; try again tomorrow."
        else:
            message = f"Nudged {card.giver.name}. You can nudge again in a day."
        self.s.gateway.open_view(body["trigger_id"], notice_modal("Nudged", message))

    # -- forms -----------------------------------------------------------------------

    def feedback_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        self.s.modals.check(view, user)
        meta = parse_metadata(view, FeedbackFormMeta)
        values = read_form(view, answers_form(self.s.framework, anonymous_box=True))
        answers: Answers = parse_answers(values, self.s.framework)
        anonymous = ANONYMOUS_VALUE in values[BlockId.ANONYMOUS]
        try:
            outcome = self.s.giving.submit(
                giver=user,
                view_id=view["id"],
                subject_id=meta.subject_id,
                request_id=meta.request_id,
                about=meta.about,
                answers=answers,
                anonymous=anonymous,
                announce=False,  # after the ack: the requester's DM is a Slack call
            )
        except InvalidInput as error:
            if "about" in error.fields:  # "about" is not a field of this form: it came with it
                ack(response_action="update", view=notice_modal("Feedback", error.fields["about"]))
                return
            ack(response_action="errors", errors=answer_errors(error))
            return
        except BrickworkError as error:
            ack(response_action="update", view=notice_modal("Feedback", str(error)))
            return
        ack()
        self.s.giving.announce(outcome)

    def decline_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        self.s.modals.check(view, user)
        meta = parse_metadata(view, RequestMeta)
        reason = read_form(view, {BlockId.DECLINE_REASON: Input.TEXT})[BlockId.DECLINE_REASON]
        try:
            self.s.requests.decline(giver=user, request_id=meta.request_id, reason=reason, announce=False)
        except InvalidInput as error:
            ack(response_action="errors", errors={BlockId.DECLINE_REASON: error.fields["reason"]})
            return
        except BrickworkError as error:
            ack(response_action="update", view=notice_modal("Decline", str(error)))
            return
        ack()
        self.s.requests.announce_decline(meta.request_id)

    def delete_confirmed(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        self.s.modals.check(view, body["user"]["id"])
        report = self.s.org.forget(body["user"]["id"])
        ack(
            response_action="update",
            view=notice_modal(
                "Deleted",
                f"Deleted {report.feedback_deleted} feedback records you gave and "
                f"{report.drafts_deleted} coaching drafts, and withdrew "
                f"{report.requests_withdrawn} open requests. You have left the feedback programme.",
            ),
        )


def register(app: App, services: Services) -> None:
    listeners = FeedbackListeners(services)
    guard = guarded(services)  # a refusal right after ack() must not cost Slack the ack
    app.command(Command.FEEDBACK.value)(guard(listeners.command))
    app.action(ActionId.GIVE_FEEDBACK.value)(guard(listeners.give_feedback))
    app.action(ActionId.DECLINE_REQUEST.value)(guard(listeners.decline))
    app.action(ActionId.NUDGE_REQUEST.value)(guard(listeners.nudge))
    app.view_submission(CallbackId.FEEDBACK_FORM.value)(guard(listeners.feedback_submitted))
    app.view_submission(CallbackId.DECLINE_FORM.value)(guard(listeners.decline_submitted))
    app.view_submission(CallbackId.CONFIRM_DELETE.value)(guard(listeners.delete_confirmed))
