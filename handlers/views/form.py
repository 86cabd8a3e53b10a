"""The two-dimensional form (delivery and leadership), built once for every flow that asks
for it: a debrief, an answer to a feedback request, feedback given unasked."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.feedback.answers import Answers
from bot.framework import OUTCOME_SCORES, Framework, Kpi, KpiKind
from handlers.ids import ActionId, BlockId, kpi_block
from storage.models import NOTE_MAX

NOT_OBSERVED = "na"
ANONYMOUS_VALUE = "anonymous"
SCALE_LABELS = {
    1: "1 · well below expectations",
    2: "2 · below expectations",
    3: "3 · as expected",
    4: "4 · above expectations",
    5: "5 · far above expectations",
}
OUTCOME_LABELS = {"yes": "Yes", "partly": "Partly", "no": "No"}


@dataclass(frozen=True)
class FormCopy:
    """The words around the form; everything typed by a person is escaped by the caller."""

    callback_id: str
    title: str
    intro: str
    privacy: str | None
    strengths_label: str
    growth_label: str
    strengths_hint: str = "What they did, and what it made possible."
    growth_hint: str = "A behaviour to try next time, not a personality trait."
    offer_anonymous: bool = False


def answers_modal(copy: FormCopy, framework: Framework, previous: Answers | None, metadata: str) -> View:
    blocks: list[Block] = [SectionBlock(text=copy.intro)]
    if copy.privacy:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=copy.privacy)]))
    blocks.append(HeaderBlock(text="Delivery"))
    blocks += [_kpi_input(k, previous) for k in framework.delivery]
    blocks.append(
        _note(BlockId.DELIVERY_NOTE, "Notes on delivery", previous.delivery_note if previous else "")
    )
    blocks += [DividerBlock(), HeaderBlock(text="Leadership")]
    blocks += [_kpi_input(k, previous) for k in framework.leadership]
    blocks.append(
        _note(
            BlockId.STRENGTHS_NOTE,
            copy.strengths_label,
            previous.strengths_note if previous else "",
            hint=copy.strengths_hint,
        )
    )
    blocks.append(
        _note(
            BlockId.GROWTH_NOTE,
            copy.growth_label,
            previous.growth_note if previous else "",
            hint=copy.growth_hint,
        )
    )
    if copy.offer_anonymous:
        blocks.append(
            InputBlock(
                block_id=BlockId.ANONYMOUS,
                label="Anonymity",
                optional=True,
                element=CheckboxesElement(
                    action_id=ActionId.INPUT,
                    options=[Option(value=ANONYMOUS_VALUE, label="Share anonymously")],
                ),
                hint="Your name is never shown with it. It reaches them at 09:00 in a batch with the "
                "anonymous answers of at least two other people, so it cannot be traced to you.",
            )
        )
    if previous is not None:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text="Saving replaces your earlier answer.")])
        )
    return View(
        type="modal",
        callback_id=copy.callback_id,
        title=copy.title,
        submit="Save",
        close="Cancel",
        private_metadata=metadata,
        blocks=blocks,
    )


def _kpi_input(kpi: Kpi, previous: Answers | None) -> InputBlock:
    known = previous is not None and kpi.key in previous.scores
    score = previous.scores.get(kpi.key) if previous is not None else None
    hint = kpi.description or None
    if kpi.kind is KpiKind.OUTCOME:
        options = [Option(value=v, label=OUTCOME_LABELS[v]) for v in ("yes", "partly", "no")]
        by_score = {s: v for v, s in OUTCOME_SCORES.items()}
        chosen = by_score.get(score) if known and score is not None else None
        initial = next((o for o in options if o.value == chosen), None)
        element: RadioButtonsElement | StaticSelectElement = RadioButtonsElement(
            action_id=ActionId.INPUT, options=options, initial_option=initial
        )
    else:
        options = [Option(value=str(s), label=label) for s, label in SCALE_LABELS.items()]
        if kpi.allows_not_observed:
            options.append(Option(value=NOT_OBSERVED, label="Not observed"))
        wanted = NOT_OBSERVED if known and score is None else str(score)
        initial = next((o for o in options if known and o.value == wanted), None)
        element = StaticSelectElement(
            action_id=ActionId.INPUT, placeholder="Rate 1 to 5", options=options, initial_option=initial
        )
    return InputBlock(block_id=kpi_block(kpi.key), label=kpi.label, hint=hint, element=element)


def _note(block_id: str, label: str, initial: str, hint: str | None = None) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=True,
        hint=hint,
        element=PlainTextInputElement(
            action_id=ActionId.INPUT, multiline=True, max_length=NOTE_MAX, initial_value=initial or None
        ),
    )
