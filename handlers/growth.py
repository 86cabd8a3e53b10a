"""``/growth``: a person's growth now, a report's for their manager, rating oneself, and
``/growth coach`` (drafted by the coach's listeners)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.errors import BrickworkError, InvalidInput
from bot.people.directory import PersonRef
from bot.services import Services
from bot.talent.chart import render_map
from bot.talent.report import csv_text, map_points
from bot.talent.service import TalentReview
from bot.text import escape_mrkdwn
from handlers.coach import CoachListeners
from handlers.debrief import answer_errors, answers_form, parse_answers
from handlers.errors import guarded
from handlers.feedback import MENTION
from handlers.forms import FormRefused, SelfMeta, db_id, parse_metadata, read_form
from handlers.ids import ActionId, CallbackId, Command
from handlers.views import growth as views
from handlers.views import talent as talent_views
from handlers.views.common import notice_modal
from handlers.views.home import request_for_report_modal
from storage.models import StepOutcome

USAGE = (
    "Usage: `/growth`, `/growth @someone` (who reports to you), `/growth self`, `/growth coach`, "
    "`/growth team`, `/growth review`, `/growth succession <role>`."
)


STEP_OUTCOMES = {
    ActionId.STEP_TRIED: StepOutcome.TRIED,
    ActionId.STEP_NOT_YET: StepOutcome.NOT_YET,
    ActionId.STEP_NOT_FOR_ME: StepOutcome.NOT_FOR_ME,
}


class GrowthListeners:
    def __init__(self, services: Services, coach: CoachListeners) -> None:
        self.s = services
        self.coach = coach

    def command(self, ack: Ack, command: dict[str, Any]) -> None:
        user = command["user_id"]
        words = (command.get("text") or "").split()
        word = words[0].lower() if words else ""
        if word == "coach" and len(words) == 1:
            ack()
            self.coach.coach_self(command["trigger_id"], user)
        elif word == "self" and len(words) == 1:
            ack()
            form = self.s.growth.self_form(user)
            self.s.modals.open(command["trigger_id"], user, views.self_modal(form))
        elif word == "digest" and len(words) == 1:
            ack()
            card = self.s.digests.digest(user)
            text, blocks = views.digest_message(card)
            self.s.gateway.respond(command["response_url"], text, blocks)
        elif word == "team" and len(words) == 1:
            ack()  # reading the team's calibrated evidence can take longer than the ack
            team = self.s.talent.team(user)
            text, blocks = talent_views.team_message(team)
            self.s.gateway.respond(command["response_url"], text, blocks)
        elif word == "review" and len(words) == 1:
            ack()
            self.hr_review(user, command["response_url"])
        elif word == "succession":
            role = " ".join(words[1:])
            if not role:
                ack(text=f"Name a role: `/growth succession <role>`. {self._roles()}")
                return
            ack()
            succession = self.s.talent.succession(user, role)
            text, blocks = talent_views.succession_message(succession, self.s.framework)
            self.s.gateway.respond(command["response_url"], text, blocks)
        elif word == "help":
            ack(text=f"{views.GROWTH_HELP}\n{talent_views.TALENT_HELP}")
        elif not words or (len(words) == 1 and MENTION.fullmatch(words[0])):
            match = MENTION.fullmatch(words[0]) if words else None
            # Reading everyone's ratings for the calibration can take longer than the ack.
            ack()
            self.s.people.known(user, command.get("user_name") or "")
            card = self.s.growth.card(user, match.group(1) if match else None)
            text, blocks = views.growth_message(card)
            self.s.gateway.respond(command["response_url"], text, blocks)
        elif words[0].startswith("@") or MENTION.match(words[0]):
            shown = escape_mrkdwn(" ".join(words)[:40])
            ack(text=f"I couldn't tell who `{shown}` is: pick one person from Slack's autocomplete.\n{USAGE}")
        else:
            ack(text=f"I don't know `{escape_mrkdwn(' '.join(words)[:30])}`.\n\n{views.GROWTH_HELP}")

    def _roles(self) -> str:
        roles = ", ".join(f"`{escape_mrkdwn(r.name)}`" for r in self.s.talent.rules.roles)
        return f"Roles in the talent rules: {roles}." if roles else "The talent rules name no role yet."

    def hr_review(self, user: str, response_url: str) -> None:
        """The review for everyone, as a CSV and the map, in a DM to the admin who asked; then
        the bias report beside them. Recorded once delivered (or once it failed)."""

        def deliver(review: TalentReview) -> None:
            self.s.gateway.respond(
                response_url, "Building the talent review: it arrives in a DM from Brickwork."
            )
            image = render_map(map_points(review), review.rules, title=f"Talent review, {review.at:%d %B %Y}")
            channel = self.s.people.dm_channel(self.s.people.one(user))
            stamp = f"{review.at:%Y-%m-%d}"
            self.s.gateway.upload_file(
                channel,
                filename=f"talent-review-{stamp}.csv",
                content=csv_text(review),
                title="Talent review: one row per person",
                initial_comment="The talent review as a spreadsheet. No giver of anything is named in it.",
            )
            self.s.gateway.upload_file(
                channel,
                filename=f"talent-map-{stamp}.png",
                content=image.png,
                title="Delivery × leadership map",
                initial_comment="The map: each person by calibrated levels, with their intervals.",
            )
            text, blocks = talent_views.review_message(review)
            self.s.gateway.post_message(channel, text, blocks)

        self.s.talent.hr_review(user, via="/growth review", deliver=deliver)

    def show_names(self, ack: Ack, body: dict[str, Any]) -> None:
        """ "Show names" under ``/growth team``: the clicker's own team, read again (the button's
        value is never trusted)."""
        ack()
        user = body["user"]["id"]
        team = self.s.talent.team(user)
        text, blocks = talent_views.names_message(team.review)
        url = body.get("response_url")
        if isinstance(url, str):
            self.s.gateway.respond(url, text, blocks)

    def more_members(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """The next page of ``/growth team``: the clicker's own team, read again; a page that
        does not exist (any more) is refused like any out-of-date button."""
        ack()
        page = db_id(action.get("value"))
        team = self.s.talent.team(body["user"]["id"])
        if page < 2 or (page - 1) * talent_views.MEMBERS_SHOWN >= len(team.members):
            raise FormRefused()
        url = body.get("response_url")
        if isinstance(url, str):
            blocks = talent_views.team_page(team, page)
            self.s.gateway.respond(url, f"Your team, page {page}", blocks)

    def rate_myself_on_project(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        form = self.s.growth.self_form(user, db_id(action.get("value")))
        self.s.modals.open(body["trigger_id"], user, views.self_modal(form))

    def request_feedback(self, ack: Ack, body: dict[str, Any]) -> None:
        """The digest's "Request feedback": whom to ask about oneself (the Home's request form,
        whose submission asks them)."""
        ack()
        user = body["user"]["id"]
        me = PersonRef.of(self.s.people.known(user))
        self.s.modals.open(body["trigger_id"], user, request_for_report_modal(me, for_self=True))

    def answer_step(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        outcome = STEP_OUTCOMES[action["action_id"]]
        step = self.s.growth.answer_step(body["user"]["id"], db_id(action.get("value")), outcome)
        url = body.get("response_url")
        if isinstance(url, str):
            self.s.gateway.respond(url, views.step_answered(step))

    def pause_digests(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()
        until = self.s.digests.pause_digests(body["user"]["id"])
        self._tell(body, f"Paused: no digest until {until:%A %d %B}. The App Home turns them off for good.")

    def stop_digests(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()
        self.s.digests.stop_digests(body["user"]["id"])
        self._tell(body, "Stopped: no more weekly digests. Turn them back on in the App Home's Settings.")

    def _tell(self, body: dict[str, Any], text: str) -> None:
        url = body.get("response_url")
        if isinstance(url, str):
            self.s.gateway.respond(url, text)
        self.s.home.refresh([body["user"]["id"]])  # its Settings show digests on or off

    def self_submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        self.s.modals.check(view, user)
        meta = parse_metadata(view, SelfMeta)
        answers = parse_answers(read_form(view, answers_form(self.s.framework)), self.s.framework)
        try:
            self.s.growth.save_self(user, answers, view_id=view["id"], project_id=meta.project_id)
        except InvalidInput as error:
            ack(response_action="errors", errors=answer_errors(error))
            return
        except BrickworkError as error:
            ack(response_action="update", view=notice_modal("Rate yourself", str(error)))
            return
        ack(
            response_action="update",
            view=notice_modal(
                "Rate yourself",
                "Saved. `/growth` compares it with what others saw: where you rate yourself a "
                "point or more above them is a blind spot, a point below a hidden strength.",
            ),
        )


def register(app: App, services: Services, coach: CoachListeners) -> None:
    listeners = GrowthListeners(services, coach)
    guard = guarded(services)
    app.command(Command.GROWTH.value)(guard(listeners.command))
    app.action(ActionId.RATE_MYSELF_ON_PROJECT.value)(guard(listeners.rate_myself_on_project))
    app.action(ActionId.DIGEST_REQUEST.value)(guard(listeners.request_feedback))
    for action_id in STEP_OUTCOMES:
        app.action(action_id.value)(guard(listeners.answer_step))
    app.action(ActionId.DIGEST_PAUSE.value)(guard(listeners.pause_digests))
    app.action(ActionId.DIGEST_STOP.value)(guard(listeners.stop_digests))
    app.action(ActionId.TALENT_NAMES.value)(guard(listeners.show_names))
    app.action(ActionId.TALENT_MORE.value)(guard(listeners.more_members))
    app.view_submission(CallbackId.SELF_ASSESSMENT.value)(guard(listeners.self_submitted))
