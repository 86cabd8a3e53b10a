"""Coaching: the "drafting…" modal, the draft under review, and the shared DM. Pure functions.

Everything a coach wrote is treated like user text: it is escaped before it goes into mrkdwn
(a prompt-injected model must not be able to ping a channel either).
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.coaching.catalog import LearningItem
from bot.coaching.coaches import LLM
from bot.coaching.service import EDIT_MAX, DraftArea, DraftCard
from bot.text import escape_mrkdwn, truncate
from handlers.forms import DraftMeta, dump_metadata
from handlers.ids import ActionId, BlockId, CallbackId
from storage.models import CoachAudience, DraftReaction, DraftState

AREA_FIELDS = (
    ("observation", "What the feedback shows"),
    ("suggestion", "Suggestion"),
    ("first_step", "A first step this week"),
)
SECTION_MAX = 3000  # Slack's limit for a section's (and a context element's) text
NOT_A_VERDICT = "Coaching is a starting point for a conversation: never a rating, a ranking or a verdict."

COACH_HELP = (
    "*/coach @someone* drafts coaching for someone who reports to you, from the feedback about "
    "them: growth areas with the evidence they rest on, a first step for this week, and learning "
    "from your catalog. You review and edit it, then *Share* sends it to them; closing keeps it "
    "as a draft (run the command again to reopen it).\n"
    "For yourself: `/growth coach`."
)


def area_block(index: int, field: str) -> str:
    return f"{BlockId.AREA_PREFIX}{index}_{field}"


def _e(text: str) -> str:
    return escape_mrkdwn(text)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def drafting_modal(subject_name: str, *, uses_llm: bool) -> View:
    wait = "up to a minute" if uses_llm else "a moment"
    return View(
        type="modal",
        callback_id=CallbackId.COACH_DRAFTING,
        title="Coaching",
        close="Close",
        blocks=[
            SectionBlock(text=f":hourglass_flowing_sand: Drafting coaching about *{_e(subject_name)}*…"),
            _context(f"This takes {wait}. You can close this: the draft is kept, and opens again next time."),
        ],
    )


def _about_the_coach(card: DraftCard) -> str:
    if card.coach == LLM:
        model = f" ({_e(card.model)})" if card.model else ""
        text = (
            f"Drafted by an AI model{model} from {card.evidence_count} feedback items, with no names "
            "or ids. Check it against the evidence and edit it: you have the final say."
        )
        return text + (" _Answered from the cache: the evidence has not changed._" if card.cached else "")
    text = (
        f"Drafted by Brickwork's offline coach: fixed rules over {card.evidence_count} feedback items "
        "(growth areas are KPIs below as expected, clearly below the others, or falling), no AI."
    )
    if card.fallback_reason:
        text += f" The AI coach could not be used this time: {_e(card.fallback_reason)}."
    return text


def _area_heading(index: int, area: DraftArea) -> str:
    if area.stretch:
        heading = f"*A strength to stretch: {_e(area.kpi.label)}* · {area.kpi.dimension.value}"
    else:
        heading = f"*{index}. {_e(area.kpi.label)}* · {area.kpi.dimension.value}"
    if area.sources:
        heading += f"\n_from {_e(area.sources)}_"
    return heading


def _learning_line(item: LearningItem) -> str:
    title = f"<{item.url}|{_e(item.title)}>" if item.url else f"*{_e(item.title)}*"
    effort = f" · {_e(item.effort)}" if item.effort else ""
    return f"{title} ({item.kind.value}{effort}): {_e(item.description)}"


def draft_modal(card: DraftCard) -> View:
    """The draft for its reviewer: editable and shareable for a manager's open draft,
    read-only otherwise."""
    editable = card.audience is CoachAudience.MANAGER and card.state is DraftState.DRAFT
    blocks: list[Block] = [HeaderBlock(text=truncate(f"Coaching: {card.subject.name}", 150))]
    if card.state is DraftState.FAILED:
        blocks.append(
            SectionBlock(
                text="Not enough evidence yet to coach from: a growth area needs at least two people's "
                "ratings on a KPI. `/feedback request` asks colleagues for feedback."
            )
        )
        return View(
            type="modal", callback_id=CallbackId.COACH_DRAFT, title="Coaching", close="Close", blocks=blocks
        )
    blocks.append(_context(_about_the_coach(card)))
    if card.stale and card.state is not DraftState.SHARED:
        blocks.append(
            SectionBlock(
                text=":warning: *Stale*: feedback about them has changed since this was drafted.",
                accessory=ButtonElement(text="Redraft", action_id=ActionId.REDRAFT, value=str(card.draft_id)),
            )
        )
    if card.state is DraftState.SHARED:
        blocks.append(_context(f"Shared with {_e(card.subject.name)}. This is what they received."))
    for index, area in enumerate(card.areas, start=1):
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=_area_heading(index, area)))
        for field, label in AREA_FIELDS:
            value = getattr(area, field)
            if editable:
                blocks.append(
                    InputBlock(
                        block_id=area_block(index, field),
                        label=label,
                        element=PlainTextInputElement(
                            action_id=ActionId.INPUT,
                            multiline=True,
                            initial_value=value[:EDIT_MAX],
                            max_length=EDIT_MAX,
                        ),
                    )
                )
            else:
                blocks.append(SectionBlock(text=truncate(f"*{label}*\n{_e(value)}", SECTION_MAX)))
    if card.strength is not None:
        strength = f"*Strength: {_e(card.strength.kpi.label)}*\n{_e(card.strength.observation)}"
        if card.strength.sources:
            strength += f"\n_from {_e(card.strength.sources)}_"
        blocks += [DividerBlock(), SectionBlock(text=truncate(strength, SECTION_MAX))]
    if card.learning:
        blocks.append(DividerBlock())
        if editable:
            blocks.append(
                InputBlock(
                    block_id=BlockId.LEARNING,
                    label="Learning to recommend",
                    optional=True,
                    element=CheckboxesElement(
                        action_id=ActionId.INPUT,
                        options=[_learning_option(p.item) for p in card.learning],
                        initial_options=[_learning_option(p.item) for p in card.learning if p.chosen] or None,
                    ),
                )
            )
            reasons = "\n".join(f"• {_e(p.item.title)}: {_e(p.reason)}" for p in card.learning)
            blocks.append(_context(truncate(reasons, SECTION_MAX)))
        else:
            lines = [f"• {_learning_line(p.item)}\n   _{_e(p.reason)}_" for p in card.learning if p.chosen]
            if lines:
                blocks.append(SectionBlock(text=truncate("*Learning*\n" + "\n".join(lines), SECTION_MAX)))
    blocks.append(_context(NOT_A_VERDICT))
    if editable:
        return View(
            type="modal",
            callback_id=CallbackId.COACH_DRAFT,
            title="Coaching draft",
            submit="Share",
            close="Keep as draft",
            notify_on_close=True,  # closing keeps the edits: view_closed carries the state
            private_metadata=dump_metadata(DraftMeta(draft_id=card.draft_id)),
            blocks=blocks,
        )
    return View(
        type="modal",
        callback_id=CallbackId.COACH_DRAFT,
        title="Coaching",
        close="Close",
        private_metadata=dump_metadata(DraftMeta(draft_id=card.draft_id)),
        blocks=blocks,
    )


def _learning_option(item: LearningItem) -> Option:
    description = item.kind.value + (f" · {item.effort}" if item.effort else "")
    return Option(value=item.id, text=truncate(item.title, 75), description=truncate(description, 75))


def shared_message(card: DraftCard) -> tuple[str, list[Block]]:
    """What the report receives when their manager shares coaching."""
    manager = _e(card.requested_by.name)
    text = f"{_e(card.requested_by.name)} shared coaching with you"
    blocks: list[Block] = [
        SectionBlock(text=f"*{manager}* shared coaching with you, drawn from the feedback you received.")
    ]
    for index, area in enumerate(card.areas, start=1):
        body = "\n".join(f"*{label}:* {_e(getattr(area, field))}" for field, label in AREA_FIELDS)
        blocks.append(SectionBlock(text=truncate(f"{_area_heading(index, area)}\n{body}", SECTION_MAX)))
    if card.strength is not None:
        blocks.append(
            SectionBlock(
                text=truncate(
                    f"*A strength: {_e(card.strength.kpi.label)}*\n{_e(card.strength.observation)}",
                    SECTION_MAX,
                )
            )
        )
    chosen = [p for p in card.learning if p.chosen]
    if chosen:
        lines = "\n".join(f"• {_learning_line(p.item)}\n   _{_e(p.reason)}_" for p in chosen)
        blocks.append(SectionBlock(text=truncate(f"*Learning to try*\n{lines}", SECTION_MAX)))
    blocks.append(_context(NOT_A_VERDICT))
    if card.reaction is None:
        blocks.append(
            ActionsBlock(
                block_id=f"{BlockId.REACTION_PREFIX}{card.draft_id}",
                elements=[
                    ButtonElement(
                        text=":+1: Useful", action_id=ActionId.COACH_USEFUL, value=str(card.draft_id)
                    ),
                    ButtonElement(
                        text="Not useful", action_id=ActionId.COACH_NOT_USEFUL, value=str(card.draft_id)
                    ),
                ],
            )
        )
    else:
        said = "useful" if card.reaction is DraftReaction.USEFUL else "not useful"
        blocks.append(_context(f"You found this {said}. Thank you: it helps {manager} coach better."))
    return text, blocks
