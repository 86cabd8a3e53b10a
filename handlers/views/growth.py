"""What ``/growth`` shows: a person's growth now, and the form to rate oneself."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.analytics.calibration import RaterKind
from bot.analytics.readings import MIN_RATERS, Gap, GrowthArea, KpiReading, Why
from bot.framework import Dimension, Framework
from bot.growth.digests import DIGEST_PAUSE_DAYS, DigestCard
from bot.growth.service import WINDOW_DAYS, GrowthCard, SelfForm, StepCard
from bot.text import escape_mrkdwn
from handlers.forms import SelfMeta, dump_metadata
from handlers.ids import ActionId, BlockId, CallbackId
from handlers.views.feedback import sparkline
from handlers.views.form import FormCopy, answers_modal
from storage.models import StepOutcome

GROWTH_HELP = (
    "*/growth* shows your growth now: per KPI your level (calibrated for how each rater usually "
    "rates), the trend, and the evidence; your growth areas, strengths and blind spots.\n"
    "*/growth @someone* shows the same for someone who reports to you (not their self-ratings).\n"
    "*/growth self* opens the form to rate yourself: it is never counted in what others think.\n"
    "*/growth coach* drafts coaching about you, for your eyes only.\n"
    "*/growth digest* shows the weekly digest you would get this week.\n"
    "`/feedback mine` shows the feedback itself; the App Home shows your snapshot."
)
SHOWN_AREAS = 3
STEP_BUTTONS = (
    (ActionId.STEP_TRIED, "Tried it"),
    (ActionId.STEP_NOT_YET, "Not yet"),
    (ActionId.STEP_NOT_FOR_ME, "Not for me"),
)
STEP_WORDS = {
    StepOutcome.TRIED: "you tried it",
    StepOutcome.NOT_YET: "not yet",
    StepOutcome.NOT_FOR_ME: "not for you",
}
KIND_WORDS = {
    RaterKind.MANAGER: ("manager", "managers"),
    RaterKind.PEER: ("peer", "peers"),
    RaterKind.REPORT: ("report", "reports"),
    RaterKind.ANONYMOUS: ("anonymous", "anonymous"),
}
WHY_WORDS = {
    Why.FALLING: "falling",
    Why.LOW: "below “as expected”",
    Why.LOWER: "clearly below your other KPIs",
}


def _e(text: str) -> str:
    return escape_mrkdwn(text)


def _people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def evidence_text(reading: KpiReading) -> str:
    evidence = reading.evidence
    kinds = ", ".join(
        f"{n} {KIND_WORDS[kind][0] if n == 1 else KIND_WORDS[kind][1]}"
        for kind, n in evidence.kinds
        if kind in KIND_WORDS
    )
    ratings = f"{evidence.ratings} rating{'s' if evidence.ratings != 1 else ''}"
    return f"{ratings} from {_people(evidence.raters)}" + (f" ({kinds})" if kinds else "")


def kpi_line(label: str, reading: KpiReading) -> str:
    if not reading.enough:
        if reading.evidence.raters == 0:
            return f"*{_e(label)}*: no ratings yet"
        return f"*{_e(label)}*: not enough feedback yet ({evidence_text(reading)}; needs {MIN_RATERS} people)"
    assert reading.calibrated is not None and reading.raw is not None and reading.se is not None
    arrow = reading.trend.direction.arrow if reading.trend.direction else ""
    spark = (
        f"`{sparkline(reading.trend.weekly)}` " if any(v is not None for v in reading.trend.weekly) else ""
    )
    return (
        f"*{_e(label)}*: {reading.calibrated:.1f} ± {1.96 * reading.se:.1f} {arrow} {spark}"
        f"(raw {reading.raw:.1f}) · {evidence_text(reading)}"
    ).replace("  ", " ")


def _area_line(label: str, area: GrowthArea, for_self: bool) -> str:
    why = ", ".join(WHY_WORDS[w] for w in area.why)
    if not for_self:
        why = why.replace("your other", "their other")
    return f"• *{_e(label)}* — {why} ({area.reading.calibrated:.1f})"


def _gap_line(label: str, gap: Gap, blind: bool) -> str:
    if blind:
        return (
            f"• *{_e(label)}*: you rate yourself {gap.self_score:.0f}; others, calibrated, "
            f"{gap.others:.1f}. Ask someone for an example of what they see."
        )
    return (
        f"• *{_e(label)}*: you rate yourself {gap.self_score:.0f}; others, calibrated, {gap.others:.1f}. "
        "Others see more here than you do."
    )


def growth_message(card: GrowthCard) -> tuple[str, list[Block]]:
    """The reading as a message: both dimensions, then what stands out, then how it was read."""
    framework: Framework = card.framework
    labels = {k.key: k.label for k in framework.kpis}
    name = "Your growth" if card.for_self else f"{card.subject.name}'s growth"
    blocks: list[Block] = [HeaderBlock(text=name[:150])]
    reading = card.reading
    if not reading.enough:
        who = "you" if card.for_self else _e(card.subject.name)
        blocks.append(
            SectionBlock(
                text=f"Not enough feedback yet: a KPI is read once {MIN_RATERS} different people rated "
                f"{who} on it in the last {WINDOW_DAYS // 30} months. "
                + ("`/feedback request @a @b` asks colleagues." if card.for_self else "")
            )
        )
    for dimension, title in ((Dimension.DELIVERY, "Delivery"), (Dimension.LEADERSHIP, "Leadership")):
        lines = [
            kpi_line(k.label, r)
            for k in framework.kpis
            if k.dimension is dimension and (r := reading.kpi(k.key)) is not None
        ]
        blocks.append(SectionBlock(text=(f"*{title}*\n" + "\n".join(lines))[:3000]))
    blocks.append(DividerBlock())
    stands_out: list[str] = []
    if reading.growth_areas:
        stands_out.append(
            "*Growth areas*\n"
            + "\n".join(
                _area_line(labels[a.kpi], a, card.for_self) for a in reading.growth_areas[:SHOWN_AREAS]
            )
        )
    elif reading.enough:
        stands_out.append(
            "*Growth areas*\nNone stands out: nothing is low, clearly below the rest, or falling."
        )
    if reading.strengths:
        top = reading.strengths[0]
        stands_out.append(f"*Strength*\n• *{_e(labels[top.kpi])}* ({top.calibrated:.1f})")
    if card.for_self:
        if reading.blind_spots:
            stands_out.append(
                "*Blind spots*\n"
                + "\n".join(_gap_line(labels[g.kpi], g, True) for g in reading.blind_spots[:3])
            )
        if reading.hidden_strengths:
            stands_out.append(
                "*Hidden strengths*\n"
                + "\n".join(_gap_line(labels[g.kpi], g, False) for g in reading.hidden_strengths[:3])
            )
        if card.self_assessed_at is None:
            stands_out.append(
                "_`/growth self` to rate yourself: blind spots compare it with what others saw._"
            )
    elif card.self_assessed_at is not None:
        stands_out.append(f"_{_e(card.subject.name)} has rated themself; self-ratings are theirs alone._")
    if card.steps:
        lines = [
            f"• {step.week} ({_e(step.kpi_label)}): {_e(step.text)} — _{step_said(step, card.for_self)}_"
            for step in card.steps
        ]
        whose = "Your" if card.for_self else "Their"
        stands_out.append(f"*{whose} things to try* (from the weekly digest)\n" + "\n".join(lines))
    for text in stands_out:
        blocks.append(SectionBlock(text=text[:3000]))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Levels are on the 1-5 form, each rating less its rater's usual leniency (how "
                    "far they rate above or below others on the same people), ± a 95% interval; raw is "
                    "the plain average. Arrows compare the last 8 weeks with the 8 before; the "
                    "sparkline shows the last 8 weeks. Anonymous feedback counts once released."
                )
            ]
        )
    )
    return f"{name}: {len(reading.growth_areas)} growth areas", blocks


def self_modal(form: SelfForm) -> View:
    return answers_modal(
        FormCopy(
            callback_id=CallbackId.SELF_ASSESSMENT,
            title="Rate yourself",
            intro="How do you see yourself on the same framework colleagues use? Only you see "
            "your answers; they are never counted in what others think.",
            privacy='Rate what you know of your own work; "Not observed" is a good answer.',
            strengths_label="What you do well",
            growth_label="What you want to grow",
            strengths_hint="Where you made a difference, and how.",
            growth_hint="A behaviour you want to practise.",
        ),
        form.framework,
        form.previous,
        dump_metadata(SelfMeta(project_id=form.project_id)),
    )


def _digest_buttons() -> ActionsBlock:
    return ActionsBlock(
        block_id=BlockId.DIGEST_ACTIONS,
        elements=[
            ButtonElement(text="Request feedback", action_id=ActionId.DIGEST_REQUEST, style="primary"),
            ButtonElement(text=f"Pause for {DIGEST_PAUSE_DAYS // 7} weeks", action_id=ActionId.DIGEST_PAUSE),
            ButtonElement(text="Stop digests", action_id=ActionId.DIGEST_STOP),
        ],
    )


def digest_message(card: DigestCard) -> tuple[str, list[Block]]:
    """The weekly digest: growth areas with trend and evidence, a strength, a blind spot, one
    thing to try, learning, the requests waiting — and how to pause or stop it."""
    reading = card.growth.reading
    labels = {k.key: k.label for k in card.growth.framework.kpis}
    blocks: list[Block] = [HeaderBlock(text=f"Your week in growth · {card.week}")]
    news = []
    if card.new_feedback:
        news.append(f"{card.new_feedback} new piece{'s' if card.new_feedback != 1 else ''} of feedback")
    if card.waiting:
        news.append(
            f"{card.waiting} feedback request{'s' if card.waiting != 1 else ''} waiting for your answer "
            "(`/feedback requests`)"
        )
    if news:
        blocks.append(SectionBlock(text="This week: " + "; ".join(news) + "."))
    if reading.growth_areas:
        lines = []
        for area in reading.growth_areas[:SHOWN_AREAS]:
            r = area.reading
            arrow = r.trend.direction.arrow if r.trend.direction else "·"
            lines.append(
                f"• *{_e(labels[area.kpi])}* {r.calibrated:.1f} {arrow} `{sparkline(r.trend.weekly)}` "
                f"· {r.evidence.ratings} ratings from {_people(r.evidence.raters)}"
            )
        blocks.append(SectionBlock(text="*Growth areas*\n" + "\n".join(lines)))
    elif reading.enough:
        blocks.append(SectionBlock(text="*Growth areas*\nNone stands out this week."))
    else:
        blocks.append(SectionBlock(text="Not enough feedback yet to name growth areas."))
    extra = []
    if reading.strengths:
        top = reading.strengths[0]
        extra.append(f"*Strength*: {_e(labels[top.kpi])} ({top.calibrated:.1f})")
    if reading.blind_spots:
        gap = reading.blind_spots[0]
        extra.append(
            f"*Blind spot*: {_e(labels[gap.kpi])} — you rate yourself {gap.self_score:.0f}, "
            f"others {gap.others:.1f}"
        )
    if extra:
        blocks.append(SectionBlock(text="\n".join(extra)))
    if card.last_step is not None:
        last = card.last_step
        blocks.append(
            SectionBlock(
                text=f"*Last week you planned to try* ({_e(last.kpi_label)})\n{_e(last.text)}\nHow did it go?"
            )
        )
        blocks.append(
            ActionsBlock(
                block_id=BlockId.STEP_ANSWER,
                elements=[
                    ButtonElement(text=label, action_id=action, value=str(last.step_id))
                    for action, label in STEP_BUTTONS
                ],
            )
        )
    if card.thing_to_try is not None:
        _, label, step = card.thing_to_try
        blocks.append(SectionBlock(text=f"*One thing to try this week* ({_e(label)})\n{_e(step)}"))
    if card.learning:
        lines = [f"• {_e(item.title)} — {_e(item.description)}"[:300] for item in card.learning]
        blocks.append(SectionBlock(text="*To learn*\n" + "\n".join(lines)))
    blocks.append(_digest_buttons())
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="`/growth` shows everything behind this. Levels are calibrated for how each "
                    "rater usually rates."
                )
            ]
        )
    )
    return f"Your week in growth ({card.week})", blocks


def digest_nudge(card: DigestCard) -> tuple[str, list[Block]]:
    """A month without new feedback: one short nudge instead of a digest."""
    text = (
        "No new feedback this month. Growth needs a few views of your work: "
        "`/feedback request @a @b about <what>` asks two colleagues in one line."
    )
    return "No new feedback this month", [SectionBlock(text=text), _digest_buttons()]


def as_plain_text(blocks: list[Block]) -> str:
    """The blocks as lines of text, buttons as [Label]: what ``brickwork digest preview`` prints."""
    lines: list[str] = []
    for block in (b.to_dict() for b in blocks):
        text = block.get("text")
        if isinstance(text, dict):
            lines.append(str(text.get("text", "")))
        for element in block.get("elements") or []:
            label = element.get("text")
            if element.get("type") == "button" and isinstance(label, dict):
                lines.append(f"[{label.get('text', '')}]")
            elif isinstance(element.get("text"), str):
                lines.append(element["text"])
    return "\n".join(lines)


def step_answered(step: StepCard) -> str:
    said = STEP_WORDS[step.outcome] if step.outcome else "no answer"
    return f"Noted: {said}. `/growth` shows it beside what you planned to try."


def step_said(step: StepCard, for_self: bool) -> str:
    if step.outcome is None:
        return "no answer yet"
    if for_self:
        return STEP_WORDS[step.outcome]
    return {
        StepOutcome.TRIED: "they tried it",
        StepOutcome.NOT_YET: "not yet",
        StepOutcome.NOT_FOR_ME: "not for them",
    }[step.outcome]
