"""Block Kit for /feedback: requests, answers, declines, nudges, and what a person received.

Pure functions. Names and "about" texts are typed by people, so they are escaped here; an
anonymous giver never reaches these functions (the service hands ``None``).
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.feedback.cards import (
    MAX_GIVERS,
    FeedbackForm,
    ReceivedItem,
    RequestCard,
    RequestOutcome,
    RequestsOverview,
    Snapshot,
)
from bot.framework import Framework
from bot.people.directory import PersonRef
from bot.text import escape_mrkdwn
from handlers.forms import FeedbackFormMeta, RequestMeta, dump_metadata
from handlers.ids import ActionId, BlockId, CallbackId, numbered
from handlers.views.form import FormCopy, answers_modal
from storage.models import DECLINE_REASON_MAX, FeedbackSource, RequestState

FEEDBACK_HELP = (
    "*/feedback* asks for feedback and gives it, on delivery and leadership.\n"
    f"• `/feedback request @a @b [about <what>]`: ask up to {MAX_GIVERS} people; each gets a DM.\n"
    "• `/feedback give @a [about <what>]`: give someone feedback now, unasked.\n"
    "• `/feedback requests`: what you asked and were asked, with *Nudge* and *Give feedback* buttons.\n"
    "• `/feedback mine`: what you have received.\n"
    "• `/feedback export`: a file with everything Brickwork stores about you and by you.\n"
    "• `/feedback delete`: delete the feedback you gave and leave the feedback programme.\n"
    "Pick people from Slack's autocomplete so each name becomes a mention. Anonymous givers are "
    "never named: anonymous answers reach a person in a batch, at 09:00, once at least three people "
    "have answered anonymously."
)
STATE_WORDS = {
    RequestState.OPEN: "waiting",
    RequestState.ANSWERED: "answered",
    RequestState.DECLINED: "declined",
    RequestState.WITHDRAWN: "withdrawn",
    RequestState.UNDELIVERED: "not delivered",
}
# What I asked, as I may see it (bot.feedback.shown_to_requester): withdrawn or expired, "closed".
SENT_STATE_WORDS = {**STATE_WORDS, RequestState.WITHDRAWN: "closed"}
SOURCE_WORDS = {
    FeedbackSource.DEBRIEF: "debrief",
    FeedbackSource.UPWARD: "feedback on the lead",
    FeedbackSource.REQUESTED: "on request",
    FeedbackSource.GIVEN: "given unasked",
}
MAX_LISTED = 10  # per list in an ephemeral message: Slack allows 50 blocks in all


def _e(text: str) -> str:
    return escape_mrkdwn(text)


def on_topic(about: str) -> str:
    return f" on *{_e(about)}*" if about else ""


def about_whom(card: RequestCard) -> str:
    return "" if card.subject.person_id == card.requester.person_id else f" about *{_e(card.subject.name)}*"


# -- asking -----------------------------------------------------------------------------


def outcome_text(outcome: RequestOutcome) -> str:
    lines = []
    if outcome.asked:
        names = ", ".join(f"*{_e(p.name)}*" for p in outcome.asked)
        lines.append(f":incoming_envelope: Asked {names} for feedback{on_topic(outcome.about)}.")
    if outcome.delayed:
        names = ", ".join(f"*{_e(p.name)}*" for p in outcome.delayed)
        lines.append(
            f":hourglass: Asked {names}: Slack has not taken the DM yet, so Brickwork will deliver it "
            "shortly (and tell you if it cannot)."
        )
    for refusal in outcome.undelivered:
        lines.append(
            f"Not delivered to *{_e(refusal.name)}*: {_e(refusal.reason)}. Nothing was kept; you can ask "
            "again later."
        )
    for refusal in outcome.refused:
        lines.append(f"Not asked: *{_e(refusal.name)}*: {_e(refusal.reason)}.")
    if not (outcome.asked or outcome.delayed):
        lines.append("Nobody was asked.")
    return "\n".join(lines)


def request_message(card: RequestCard) -> tuple[str, list[Block]]:
    asks = f"*{_e(card.requester.name)}* asks for your feedback{about_whom(card)}{on_topic(card.about)}."
    text = f"{_e(card.requester.name)} asks for your feedback"
    blocks: list[Block] = [SectionBlock(text=asks)]
    blocks += _request_actions_or_state(card)
    return text, blocks


def nudge_message(card: RequestCard) -> tuple[str, list[Block]]:
    text = f"{_e(card.requester.name)} would still value your feedback"
    blocks: list[Block] = [
        SectionBlock(
            text=f":wave: *{_e(card.requester.name)}* would still value your feedback"
            f"{about_whom(card)}{on_topic(card.about)}."
        )
    ]
    blocks += _request_actions_or_state(card)
    return text, blocks


def answer_buttons(card: RequestCard, block_id: str) -> ActionsBlock:
    """**Give feedback** and **Decline** for a request someone received (DM and App Home)."""
    return ActionsBlock(
        block_id=block_id,
        elements=[
            ButtonElement(
                text="Give feedback",
                action_id=ActionId.GIVE_FEEDBACK,
                value=str(card.request_id),
                style="primary",
            ),
            ButtonElement(text="Decline", action_id=ActionId.DECLINE_REQUEST, value=str(card.request_id)),
        ],
    )


def _request_actions_or_state(card: RequestCard) -> list[Block]:
    if card.state is RequestState.OPEN:
        return [answer_buttons(card, numbered(BlockId.REQUEST_PREFIX, card.request_id))]
    done = {
        RequestState.ANSWERED: ":white_check_mark: You answered. Thank you.",
        RequestState.DECLINED: "You declined.",
        RequestState.WITHDRAWN: "This request was withdrawn.",
        RequestState.UNDELIVERED: "This request was withdrawn.",
    }[card.state]
    return [ContextBlock(elements=[MarkdownTextObject(text=done)])]


def answered_notice(card: RequestCard) -> tuple[str, list[Block]]:
    """A named answer's notice. (An anonymous answer has none: it arrives, with others, as
    ``anonymous_released_notice``.)"""
    if card.anonymous_answer:  # never sent (bot.feedback.giving); kept harmless all the same
        text = "You have new feedback."
        body = f"{text} `/feedback mine` shows what you received."
    else:
        text = f"{_e(card.giver.name)} answered your feedback request"
        where = (
            "`/feedback mine` shows it."
            if card.subject.person_id == card.requester.person_id
            else f"*View feedback* beside *{_e(card.subject.name)}* on the App Home shows it."
        )
        body = (
            f"*{_e(card.giver.name)}* answered your request{about_whom(card)}{on_topic(card.about)}. " + where
        )
    return text, [SectionBlock(text=body)]


def declined_notice(card: RequestCard) -> tuple[str, list[Block]]:
    text = f"{_e(card.giver.name)} can't give feedback right now"
    body = f"*{_e(card.giver.name)}* can't give feedback{about_whom(card)}{on_topic(card.about)} right now."
    if card.decline_reason:
        body += f"\n>{_e(card.decline_reason)}"
    return text, [SectionBlock(text=body)]


def undelivered_notice(card: RequestCard, reason: str) -> tuple[str, list[Block]]:
    text = f"Your feedback request to {_e(card.giver.name)} could not be delivered"
    body = (
        f"Your request to *{_e(card.giver.name)}*{about_whom(card)}{on_topic(card.about)} could not be "
        f"delivered: {_e(reason)}. Nothing was kept, so you can ask again later."
    )
    return text, [SectionBlock(text=body)]


def anonymous_released_notice(subject: PersonRef, givers: int, for_self: bool) -> tuple[str, list[Block]]:
    """Released in this morning's batch: how many people, never who or which request."""
    if for_self:
        text = "You have new anonymous feedback"
        body = (
            f"*New anonymous feedback* from {givers} people reached you this morning. "
            "`/feedback mine` shows it."
        )
    else:
        text = f"New anonymous feedback about {_e(subject.name)}"
        body = (
            f"*New anonymous feedback* about *{_e(subject.name)}*, from {givers} people, arrived this "
            "morning. *View feedback* beside them on the App Home shows it."
        )
    return text, [SectionBlock(text=body)]


# -- the forms --------------------------------------------------------------------------


def feedback_modal(form: FeedbackForm) -> View:
    if form.requester is not None and form.requester.person_id != form.subject.person_id:
        asker, subject = _e(form.requester.name), _e(form.subject.name)
        intro = f"*{asker}* asks for your feedback about *{subject}*{on_topic(form.about)}."
    elif form.requester is not None:
        intro = f"*{_e(form.subject.name)}* asks for your feedback{on_topic(form.about)}."
    else:
        intro = f"Your feedback for *{_e(form.subject.name)}*{on_topic(form.about)}."
    return answers_modal(
        FormCopy(
            callback_id=CallbackId.FEEDBACK_FORM,
            title="Feedback",
            intro=intro,
            privacy='Rate only what you have seen; "Not observed" is a good answer.',
            strengths_label="What went well",
            growth_label="What to try next",
            offer_anonymous=True,
        ),
        form.framework,
        None,
        dump_metadata(
            FeedbackFormMeta(subject_id=form.subject.person_id, request_id=form.request_id, about=form.about)
        ),
    )


def decline_modal(card: RequestCard) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.DECLINE_FORM,
        title="Decline",
        submit="Decline",
        close="Back",
        private_metadata=dump_metadata(RequestMeta(request_id=card.request_id)),
        blocks=[
            SectionBlock(
                text=f"Decline *{_e(card.requester.name)}*'s request"
                f"{about_whom(card)}{on_topic(card.about)}? They will be told politely."
            ),
            InputBlock(
                block_id=BlockId.DECLINE_REASON,
                label="A reason for them (optional)",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ActionId.INPUT, multiline=True, max_length=DECLINE_REASON_MAX
                ),
            ),
        ],
    )


def confirm_delete_modal() -> View:
    return View(
        type="modal",
        callback_id=CallbackId.CONFIRM_DELETE,
        title="Delete my feedback",
        submit="Delete",
        close="Keep it",
        blocks=[
            SectionBlock(
                text="This deletes *all the feedback you gave*, the coaching drafted from it, about you "
                "or by you, withdraws your open requests and takes you out of the feedback programme: "
                "nobody can ask you for feedback any more. "
                "It cannot be undone. `/feedback export` first if you want a copy."
            )
        ],
    )


# -- reading ----------------------------------------------------------------------------


def requests_overview(overview: RequestsOverview) -> tuple[str, list[Block]]:
    blocks: list[Block] = [HeaderBlock(text="Feedback requests")]
    blocks.append(SectionBlock(text="*You asked*" if overview.sent else "*You asked*\nNobody yet."))
    for card in overview.sent[:MAX_LISTED]:
        # card.state is what the requester may see: an anonymous answer reads like silence.
        shown = SENT_STATE_WORDS[card.state]
        line = f"*{_e(card.giver.name)}*{about_whom(card)}{on_topic(card.about)} · {shown}"
        accessory = (
            ButtonElement(text="Nudge", action_id=ActionId.NUDGE_REQUEST, value=str(card.request_id))
            if card.can_nudge
            else None
        )
        block_id = numbered(BlockId.SENT_REQUEST_PREFIX, card.request_id)
        blocks.append(SectionBlock(block_id=block_id, text=line, accessory=accessory))
    blocks.append(DividerBlock())
    blocks.append(
        SectionBlock(text="*You were asked*" if overview.received else "*You were asked*\nNothing yet.")
    )
    for card in overview.received[:MAX_LISTED]:
        line = (
            f"*{_e(card.requester.name)}*{about_whom(card)}{on_topic(card.about)} · {STATE_WORDS[card.state]}"
        )
        accessory = (
            ButtonElement(
                text="Give feedback",
                action_id=ActionId.GIVE_FEEDBACK,
                value=str(card.request_id),
                style="primary",
            )
            if card.state is RequestState.OPEN
            else None
        )
        block_id = numbered(BlockId.RECEIVED_REQUEST_PREFIX, card.request_id)
        blocks.append(SectionBlock(block_id=block_id, text=line, accessory=accessory))
    total = len(overview.sent) + len(overview.received)
    return f"Feedback requests: {total}", blocks


def item_lines(item: ReceivedItem, framework: Framework) -> str:
    if item.giver is None:
        # Anonymous reads like silence: not how it arrived (a request names whom one asked),
        # not the project or the topic, not the day; only the month.
        head = f"_anonymous_ · {item.at:%b %Y}"
    else:
        context = f" · {_e(item.context)}" if item.context else ""
        head = f"*{_e(item.giver.name)}* · {SOURCE_WORDS[item.source]}{context} · {item.at:%d %b %Y}"
    scores = ", ".join(
        f"{k.label} {item.scores[k.key]}"
        for k in framework.kpis
        if item.scores.get(k.key) is not None and k.kind.value == "scale"
    )
    lines = [head]
    if scores:
        lines.append(scores)
    if item.notes is not None:
        for label, key in (
            ("Delivery", "delivery_note"),
            ("Went well", "strengths_note"),
            ("Try next", "growth_note"),
        ):
            if item.notes.get(key):
                lines.append(f"{label}: {_e(item.notes[key])}")
    return "\n".join(lines)[:2900]


def mine(snapshot: Snapshot, items: list[ReceivedItem], framework: Framework) -> tuple[str, list[Block]]:
    blocks: list[Block] = [HeaderBlock(text="Feedback you received")]
    blocks.append(SectionBlock(text=snapshot_text(snapshot)))
    if not items:
        blocks.append(SectionBlock(text="Nothing yet. `/feedback request @someone` asks for some."))
    for item in items[:MAX_LISTED]:
        blocks.append(SectionBlock(text=item_lines(item, framework)))
    return f"Feedback you received: {len(items)}", blocks


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(weekly: tuple[float | None, ...], low: float = 1, high: float = 5) -> str:
    marks = []
    for value in weekly:
        if value is None:
            marks.append("·")
        else:
            share = (min(max(value, low), high) - low) / (high - low)
            marks.append(SPARK[round(share * (len(SPARK) - 1))])
    return "".join(marks)


def snapshot_text(snapshot: Snapshot) -> str:
    lines = []
    for stat in snapshot.stats:
        if stat.count == 0:
            figure = "no ratings yet"
        elif stat.average is None:
            figure = f"not enough evidence yet ({stat.count} from {stat.raters} person)"
        else:
            shown = f"{stat.average:.1f}" if stat.kpi.kind.value == "scale" else f"{stat.average / 2:.0%} met"
            figure = f"{shown} · {stat.count} ratings from {stat.raters} people"
        high = 2 if stat.kpi.kind.value == "outcome" else 5
        low = 0 if stat.kpi.kind.value == "outcome" else 1
        lines.append(f"`{sparkline(stat.weekly, low, high)}` {_e(stat.kpi.label)}: {figure}")
    return "\n".join(lines)
