"""/brickwork (admins), its "Forget a person" confirmation, and the org-chart CSV an admin
shares with the bot in a DM: parse, call the admin service, render.

Who may is decided by the service (``bot.people.access``), never here, and every refusal is
one line; what a payload names (the person to forget, the file) is checked there too.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.errors import BrickworkError, NotAllowed
from bot.services import Services
from bot.text import escape_mrkdwn
from handlers.errors import guarded, message_for
from handlers.feedback import MENTION
from handlers.forms import ForgetMeta, parse_metadata
from handlers.ids import CallbackId, Command
from handlers.views import admin as views
from handlers.views.common import notice_modal
from storage.models import AuditAction

log = logging.getLogger(__name__)

MAX_FILES = 10  # Slack shares at most ten files in one message


def one_mention(text: str) -> str | None:
    """The Slack id in ``text`` when it is exactly one mention, else None."""
    words = text.split()
    if len(words) != 1:
        return None
    match = MENTION.fullmatch(words[0])
    return match.group(1) if match else None


class AdminListeners:
    def __init__(self, services: Services) -> None:
        self.s = services

    # -- the command -----------------------------------------------------------------------

    def command(self, ack: Ack, command: dict[str, Any]) -> None:
        user = command["user_id"]
        word, _, rest = (command.get("text") or "").strip().partition(" ")
        word = word.lower()
        admin = self.s.admin
        try:
            if word in {"", "help"}:
                ack(text=views.ADMIN_HELP)
            elif word == "health":
                text, blocks = views.health_message(admin.health(user))
                ack(text=text, blocks=blocks)
            elif word == "audit":
                text, blocks = views.audit_message(admin.audit_summary(user))
                ack(text=text, blocks=blocks)
            elif word == "import":
                admin.authorize(user, AuditAction.IMPORT_ORG_CHART, "")
                ack(text=views.IMPORT_HOW)
            elif word == "forget":
                target = one_mention(rest)
                if target is None:
                    admin.authorize(user, AuditAction.FORGET_PERSON, "")  # a non-admin hears no more
                    ack(text=views.FORGET_USAGE)
                    return
                preview = admin.forget_preview(user, target)  # the database only: the trigger lives 3 s
                ack()
                self.s.modals.open(command["trigger_id"], user, views.confirm_forget_modal(preview))
            else:
                ack(text=f"I don't know `{escape_mrkdwn(word[:30])}`.\n\n{views.ADMIN_HELP}")
        except BrickworkError as error:
            ack(text=escape_mrkdwn(str(error)))

    # -- the confirmation ------------------------------------------------------------------

    def forget_confirmed(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        self.s.modals.check(view, user)  # the modal this admin opened, as the form it is
        meta = parse_metadata(view, ForgetMeta)
        try:
            report = self.s.admin.forget(user, meta.subject_slack_id)  # authorised again, recorded
        except BrickworkError as error:
            ack(response_action="update", view=notice_modal("Forget a person", str(error)))
            return
        ack(response_action="update", view=views.forgotten_modal(report))

    # -- a file shared in the bot's DM -----------------------------------------------------

    def file_shared(self, event: dict[str, Any]) -> None:
        """Import each CSV the person shared (``bot.inbound`` passes only file ids, from a
        person's share in a DM), and answer in their DM with the bot."""
        actor, channel = event["user"], event["channel"]
        replies: list[str] = []
        for file in event["files"][:MAX_FILES]:
            try:
                outcome = self.s.admin.import_shared_file(actor=actor, channel=channel, file_id=file["id"])
                replies.append(views.import_reply(outcome))
            except NotAllowed as refusal:
                replies = [escape_mrkdwn(str(refusal))]  # once, however many files
                break
            except Exception as error:  # a file that could not be imported; the next may be
                message, _ = message_for(error)
                replies.append(escape_mrkdwn(message))
        dm = self.s.people.dm_channel(self.s.people.one(actor))  # never the channel the event names
        for text in replies:
            self.s.gateway.post_message(dm, text)


def register(app: App, services: Services) -> None:
    listeners = AdminListeners(services)
    guard = guarded(services)
    app.command(Command.BRICKWORK.value)(guard(listeners.command))
    app.view_submission(CallbackId.CONFIRM_FORGET.value)(guard(listeners.forget_confirmed))
    app.event({"type": "message", "subtype": "file_share"})(guard(listeners.file_shared))
