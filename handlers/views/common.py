"""Small views shared by every capability."""

from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.text import escape_mrkdwn
from handlers.ids import CallbackId


def notice_modal(title: str, message: str, *, error_id: str | None = None) -> View:
    """A read-only modal that says one thing; ``message`` is escaped here."""
    blocks: list[ContextBlock | SectionBlock] = [SectionBlock(text=escape_mrkdwn(message))]
    if error_id:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Error id: `{error_id}`")]))
    return View(type="modal", callback_id=CallbackId.NOTICE, title=title[:24], close="Close", blocks=blocks)
