"""/coach and /growth coach, the App Home's "Draft coaching", and the draft's own buttons and form.

Drafting may take an LLM a minute: every listener acknowledges first, opens a "drafting…"
modal with the trigger at once, and replaces it with ``views.update`` when the draft is ready.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot.coaching.service import AreaEdit, DraftCard, DraftEdits, checked_edit
from bot.errors import InvalidInput
from bot.services import Services
from bot.slack_gateway import error_code
from bot.text import escape_mrkdwn
from handlers.errors import guarded, message_for
from handlers.feedback import MENTION
from handlers.forms import DraftMeta, FormRefused, Input, db_id, parse_metadata, read_form
from handlers.ids import ActionId, BlockId, CallbackId, Command
from handlers.views import coach as views
from handlers.views.common import notice_modal
from storage.models import DraftReaction, MessageState

log = logging.getLogger(__name__)

COACH_USAGE = "Usage: `/coach @someone` (pick one person who reports to you from the autocomplete)."


AREA_FIELDS = ("observation", "suggestion", "first_step")
MAX_AREAS = 3  # a draft has at most three growth areas (bot.coaching.coaches)


def parse_edits(view: dict[str, Any]) -> tuple[DraftEdits, dict[str, str]]:
    """The reviewer's text per growth area and the learning they kept; and field errors.

    Only the inputs a draft modal can have are read (``area_<n>_<field>`` for n < 3, the
    learning checkboxes); each is checked like any typed text (``bot.coaching.checked_edit``).
    """
    spec = {views.area_block(n, f): Input.TEXT for n in range(MAX_AREAS) for f in AREA_FIELDS}
    present = set(((view.get("state") or {}).get("values")) or {})
    values = read_form(
        view, {**{b: k for b, k in spec.items() if b in present}, BlockId.LEARNING: Input.CHOICES}
    )
    areas: dict[int, dict[str, str]] = {}
    errors: dict[str, str] = {}
    for n in range(MAX_AREAS):
        for field in AREA_FIELDS:
            block_id = views.area_block(n, field)
            if block_id not in values:
                continue
            try:
                text = checked_edit(values[block_id], field=block_id)
            except InvalidInput as error:
                errors.update(error.fields)
                text = ""
            areas.setdefault(n, {})[field] = text
    edits = tuple(
        AreaEdit(
            observation=fields.get("observation", ""),
            suggestion=fields.get("suggestion", ""),
            first_step=fields.get("first_step", ""),
        )
        for _, fields in sorted(areas.items())
    )
    return DraftEdits(areas=edits, chosen_learning=frozenset(values[BlockId.LEARNING])), errors


class CoachListeners:
    def __init__(self, services: Services) -> None:
        self.s = services

    # -- commands ----------------------------------------------------------------------

    def coach(self, ack: Ack, command: dict[str, Any]) -> None:
        words = (command.get("text") or "").split()
        if not words or words[0].lower() == "help":
            ack(text=views.COACH_HELP)
            return
        match = MENTION.fullmatch(words[0]) if len(words) == 1 else None
        if match is None:
            shown = escape_mrkdwn(" ".join(words)[:40])
            ack(text=f"I couldn't tell who `{shown}` is.\n{COACH_USAGE}")
            return
        ack()
        label = words[0].partition("|")[2].rstrip(">") or "them"
        self._draft_in_modal(command["trigger_id"], command["user_id"], match.group(1), label)

    def coach_self(self, trigger_id: str, user: str) -> None:
        """``/growth coach``: coaching about oneself, drafted like any other."""
        self._draft_in_modal(trigger_id, user, user, "you")

    # -- buttons -----------------------------------------------------------------------

    def draft_for_report(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        subject = self.s.coaching.subject_of(user, db_id(action.get("value")))
        self._draft_in_modal(body["trigger_id"], user, subject, "your report")

    def redraft(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        view = body.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("id"), str):
            raise FormRefused()
        self.s.modals.check(view, user)  # never views.update someone else's modal
        view_id = view["id"]
        card = self.s.coaching.card(user, db_id(action.get("value")))
        self.s.modals.update(
            view_id, views.drafting_modal(card.subject.name, uses_llm=self.s.coaching.uses_llm)
        )
        self.s.drafting.submit(
            self._fill,
            view_id,
            lambda: self.s.coaching.draft(user, card.subject.slack_id, view_id=view_id, fresh=True),
        )

    def react(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        reaction = (
            DraftReaction.USEFUL if action["action_id"] == ActionId.COACH_USEFUL else DraftReaction.NOT_USEFUL
        )
        # The DM to update is the one the draft was shared in, as recorded: not the message the
        # payload names (a forged one could name anyone's).
        self.s.coaching.react(body["user"]["id"], db_id(action.get("value")), reaction)

    # -- the draft form ----------------------------------------------------------------

    def share(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        self.s.modals.check(view, user)
        meta = parse_metadata(view, DraftMeta)
        edits, errors = parse_edits(view)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        card = self.s.coaching.card(user, meta.draft_id)
        ack(response_action="update", view=notice_modal("Coaching", f"Sharing with {card.subject.name}…"))
        try:
            card, delivery = self.s.coaching.share(user, meta.draft_id, edits)
        except Exception as error:  # the modal is open: the answer goes there
            message, error_id = message_for(error)
            self._show(view["id"], notice_modal("Coaching", message, error_id=error_id))
            return
        if delivery is not None and delivery.state is MessageState.FAILED:
            message = (
                f"Slack did not deliver it to {card.subject.name}, so it was not shared; it is kept "
                "as a draft to share again later."
            )
        elif delivery is not None and delivery.state is not MessageState.SENT:
            message = f"Slack is slow to answer; Brickwork will deliver it to {card.subject.name} shortly."
        else:
            message = f"Shared with {card.subject.name}. They can tell you if it helped."
        self._show(view["id"], notice_modal("Coaching", message))

    def closed(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        # Saved before the ack (one quick write), so reopening at once finds the edits.
        self.s.modals.check(view, body["user"]["id"])
        edits, _ = parse_edits(view)
        if edits.areas:  # only an editable draft has fields to keep
            self.s.coaching.save_edits(body["user"]["id"], parse_metadata(view, DraftMeta).draft_id, edits)
        ack()

    # -- helpers -----------------------------------------------------------------------

    def _draft_in_modal(self, trigger_id: str, user: str, subject: str, label: str) -> None:
        drafting = views.drafting_modal(label, uses_llm=self.s.coaching.uses_llm)
        view_id = self.s.modals.open(trigger_id, user, drafting)  # the trigger lives 3 s: use it first
        self.s.drafting.submit(
            self._fill, view_id, lambda: self.s.coaching.draft(user, subject, view_id=view_id)
        )

    def _fill(self, view_id: str, make: Callable[[], DraftCard]) -> None:
        """Draft (in the background pool), then replace the "drafting…" modal with the result."""
        try:
            card = make()
            view = views.draft_modal(card)
        except Exception as error:
            message, error_id = message_for(error)
            view = notice_modal("Coaching", message, error_id=error_id)
        self._show(view_id, view)

    def _show(self, view_id: str, view: Any) -> None:
        try:
            self.s.modals.update(view_id, view)
        except Exception as error:
            # Closed meanwhile ("not_found"): a draft is kept and opens next time.
            log.info("could not update a coaching modal: %s %s", type(error).__name__, error_code(error))


def register(app: App, services: Services) -> CoachListeners:
    listeners = CoachListeners(services)
    guard = guarded(services)
    app.command(Command.COACH.value)(guard(listeners.coach))
    app.action(ActionId.DRAFT_COACHING.value)(guard(listeners.draft_for_report))
    app.action(ActionId.REDRAFT.value)(guard(listeners.redraft))
    app.action(ActionId.COACH_USEFUL.value)(guard(listeners.react))
    app.action(ActionId.COACH_NOT_USEFUL.value)(guard(listeners.react))
    app.view_submission(CallbackId.COACH_DRAFT.value)(guard(listeners.share))
    app.view_closed(CallbackId.COACH_DRAFT.value)(guard(listeners.closed))
    return listeners
