"""/coach and /growth, the App Home's "Draft coaching", and the draft's own buttons and form.

Drafting may take an LLM a minute: every listener acknowledges first, opens a "drafting…"
modal with the trigger at once, and replaces it with ``views.update`` when the draft is ready.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

from bot.coaching import EDIT_MAX, AreaEdit, DraftCard, DraftEdits
from bot.errors import BrickworkError, InvalidInput
from bot.services import Services
from bot.text import escape_mrkdwn
from handlers.errors import guarded
from handlers.feedback import MENTION
from handlers.forms import DraftMeta, flatten_state, parse_metadata
from handlers.ids import ActionId, BlockId, CallbackId, Command
from handlers.views import coach as views
from handlers.views.common import notice_modal
from storage.models import DraftReaction

log = logging.getLogger(__name__)

COACH_USAGE = "Usage: `/coach @someone` (pick one person who reports to you from the autocomplete)."


def parse_edits(view: dict[str, Any]) -> tuple[DraftEdits, dict[str, str]]:
    """The reviewer's text per growth area and the learning they kept; and field errors."""
    values = flatten_state(view)
    areas: dict[int, dict[str, str]] = {}
    errors: dict[str, str] = {}
    for block_id, value in values.items():
        if not block_id.startswith(BlockId.AREA_PREFIX):
            continue
        index, _, field = block_id.removeprefix(BlockId.AREA_PREFIX).partition("_")
        text = (value if isinstance(value, str) else "").strip()
        if not text:
            errors[block_id] = "Write something here: the person reads this."
        elif len(text) > EDIT_MAX:
            errors[block_id] = f"Keep this to {EDIT_MAX} characters (it has {len(text)})."
        if index.isdigit():
            areas.setdefault(int(index), {})[field] = text
    edits = tuple(
        AreaEdit(
            observation=fields.get("observation", ""),
            suggestion=fields.get("suggestion", ""),
            first_step=fields.get("first_step", ""),
        )
        for _, fields in sorted(areas.items())
    )
    chosen = values.get(BlockId.LEARNING) or []
    return DraftEdits(areas=edits, chosen_learning=frozenset(c for c in chosen if isinstance(c, str))), errors


class CoachListeners:
    def __init__(self, services: Services) -> None:
        self.s = services

    # -- commands ----------------------------------------------------------------------

    def coach(self, ack: Ack, command: dict[str, Any]) -> None:
        words = (command.get("text") or "").split()
        if not words or words[0].lower() == "help":
            ack(text=views.COACH_HELP)
            return
        match = MENTION.match(words[0]) if len(words) == 1 else None
        if match is None:
            shown = escape_mrkdwn(" ".join(words)[:40])
            ack(text=f"I couldn't tell who `{shown}` is.\n{COACH_USAGE}")
            return
        ack()
        label = words[0].partition("|")[2].rstrip(">") or "them"
        self._draft_in_modal(command["trigger_id"], command["user_id"], match.group(1), label)

    def growth(self, ack: Ack, command: dict[str, Any]) -> None:
        word = (command.get("text") or "").strip().lower()
        if word == "coach":
            ack()
            self._draft_in_modal(command["trigger_id"], command["user_id"], command["user_id"], "you")
        elif word in {"", "help"}:
            ack(text=views.GROWTH_HELP)
        else:
            ack(text=f"I don't know `{escape_mrkdwn(word[:30])}`.\n\n{views.GROWTH_HELP}")

    # -- buttons -----------------------------------------------------------------------

    def draft_for_report(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        subject = self.s.coaching.subject_of(user, _int_value(action))
        self._draft_in_modal(body["trigger_id"], user, subject, "your report")

    def redraft(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user, view_id = body["user"]["id"], body["view"]["id"]
        card = self.s.coaching.card(user, _int_value(action))
        self.s.gateway.update_view(
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
        container = body.get("container") or {}
        self.s.coaching.react(
            body["user"]["id"],
            _int_value(action),
            reaction,
            channel=str(container.get("channel_id") or ""),
            ts=str(container.get("message_ts") or ""),
        )

    # -- the draft form ----------------------------------------------------------------

    def share(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = parse_metadata(view, DraftMeta)
        edits, errors = parse_edits(view)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        user = body["user"]["id"]
        card = self.s.coaching.card(user, meta.draft_id)
        ack(
            response_action="update",
            view=notice_modal(
                "Coaching", f"Shared with {card.subject.name}. They can tell you if it helped."
            ),
        )
        self.s.coaching.share(user, meta.draft_id, edits)

    def closed(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        # Saved before the ack (one quick write), so reopening at once finds the edits.
        edits, _ = parse_edits(view)
        if edits.areas:  # only an editable draft has fields to keep
            self.s.coaching.save_edits(body["user"]["id"], parse_metadata(view, DraftMeta).draft_id, edits)
        ack()

    # -- helpers -----------------------------------------------------------------------

    def _draft_in_modal(self, trigger_id: str, user: str, subject: str, label: str) -> None:
        drafting = views.drafting_modal(label, uses_llm=self.s.coaching.uses_llm)
        view_id = self.s.gateway.open_view(trigger_id, drafting)["id"]  # the trigger lives 3 s: use it first
        self.s.drafting.submit(
            self._fill, view_id, lambda: self.s.coaching.draft(user, subject, view_id=view_id)
        )

    def _fill(self, view_id: str, make: Callable[[], DraftCard]) -> None:
        """Draft (in the background pool), then replace the "drafting…" modal with the result."""
        try:
            card = make()
            view = views.draft_modal(card)
        except BrickworkError as error:
            view = notice_modal("Coaching", str(error))
        except Exception:
            error_id = uuid.uuid4().hex[:8]
            log.exception("error id %s while drafting coaching", error_id)
            view = notice_modal("Coaching", "Something went wrong while drafting.", error_id=error_id)
        try:
            self.s.gateway.update_view(view_id, view)
        except SlackApiError as error:
            # Closed while the coach worked ("not_found"): the draft is kept and opens next time.
            log.info("could not show the coaching result in its modal: %s", error.response.get("error"))


def _int_value(action: dict[str, Any]) -> int:
    value = str(action.get("value") or "")
    if not value.isdigit():
        raise InvalidInput({"value": "That button is out of date."})
    return int(value)


def register(app: App, services: Services) -> None:
    listeners = CoachListeners(services)
    guard = guarded(services)
    app.command(Command.COACH.value)(guard(listeners.coach))
    app.command(Command.GROWTH.value)(guard(listeners.growth))
    app.action(ActionId.DRAFT_COACHING.value)(guard(listeners.draft_for_report))
    app.action(ActionId.REDRAFT.value)(guard(listeners.redraft))
    app.action(ActionId.COACH_USEFUL.value)(guard(listeners.react))
    app.action(ActionId.COACH_NOT_USEFUL.value)(guard(listeners.react))
    app.view_submission(CallbackId.COACH_DRAFT.value)(guard(listeners.share))
    app.view_closed(CallbackId.COACH_DRAFT.value)(guard(listeners.closed))
