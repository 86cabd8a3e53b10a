"""Block Kit for the debrief: pure functions from service data to slack_sdk models.

Everything a person typed (project names, display names) is escaped before it enters
mrkdwn; plain_text objects are never parsed by Slack, so they carry text as it is.
"""

from __future__ import annotations

from datetime import date, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    UserMultiSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.debriefs.service import (
    MAX_MEMBERS,
    DebriefForm,
    ProjectSummary,
    PromptCard,
    PromptItem,
)
from bot.text import escape_mrkdwn, slack_date, truncate
from handlers.forms import DebriefFormMeta, NewProjectMeta, dump_metadata
from handlers.ids import ActionId, BlockId, CallbackId
from handlers.views.form import FormCopy, answers_modal
from storage.models import NAME_MAX, ProjectState, TaskKind, UpwardFeedback

OFFSET_LABELS = {
    0: "On the end date",
    1: "The day after it ends",
    2: "Two days after",
    3: "Three days after",
    7: "A week after",
}
UPWARD_LABELS = {
    UpwardFeedback.NONE.value: "No, only the lead debriefs the team",
    UpwardFeedback.NAMED.value: "Yes, with their names",
    UpwardFeedback.ANONYMOUS.value: "Yes, anonymously",
}

DEBRIEF_HELP = (
    "*/debrief* runs a short debrief after a project ends.\n"
    "• `/debrief` (or `/debrief new`) opens the *New project* form: name, lead, team, end date, "
    "when to debrief, and whether the team also gives feedback on the lead.\n"
    "• `/debrief list` shows your projects and how far each debrief has got.\n"
    "• `/debrief cancel <project>` cancels one you lead or created (by name or `#number`).\n"
    "• `/debrief help` shows this.\n"
    "At 10:00 on the day you choose (the next working day when it is a weekend), in each "
    "person's own time zone, the lead gets a DM with a button per person; each debrief asks "
    "about *delivery* (target, quality, timeliness) and *leadership*. One reminder follows two "
    "working days later if anything is still open."
)


def when(moment: datetime, fallback_fmt: str = "%a %d %b %Y %H:%M UTC") -> str:
    """A time every reader sees in their own Slack time zone."""
    return slack_date(int(moment.timestamp()), "{date_short_pretty} at {time}", moment.strftime(fallback_fmt))


def day(value: date) -> str:
    return value.strftime("%a %d %b %Y")


def _name(text: str) -> str:
    return escape_mrkdwn(text)


# -- the "New project" modal -----------------------------------------------------------


def new_project_modal(*, requester: str, today: date, meta: NewProjectMeta) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.NEW_PROJECT,
        title="New project",
        submit="Schedule debrief",
        close="Cancel",
        private_metadata=dump_metadata(meta),
        blocks=[
            SectionBlock(
                text="When a project ends, Brickwork asks its lead to debrief each person on "
                "*delivery* and *leadership*, and can ask the team about the lead."
            ),
            InputBlock(
                block_id=BlockId.PROJECT_NAME,
                label="Project name",
                element=PlainTextInputElement(
                    action_id=ActionId.INPUT, max_length=NAME_MAX, placeholder="e.g. Q3 launch"
                ),
            ),
            InputBlock(
                block_id=BlockId.LEAD,
                label="Lead",
                element=UserSelectElement(action_id=ActionId.INPUT, initial_user=requester),
            ),
            InputBlock(
                block_id=BlockId.MEMBERS,
                label="Team members",
                hint=f"The people the lead will debrief (up to {MAX_MEMBERS}).",
                element=UserMultiSelectElement(
                    action_id=ActionId.INPUT, placeholder="Choose people", max_selected_items=MAX_MEMBERS
                ),
            ),
            InputBlock(
                block_id=BlockId.END_DATE,
                label="End date",
                element=DatePickerElement(action_id=ActionId.INPUT, initial_date=today.isoformat()),
            ),
            InputBlock(
                block_id=BlockId.OFFSET,
                label="Run the debrief",
                hint="At 10:00 in each person's time zone, on the next working day if it is not one.",
                element=StaticSelectElement(
                    action_id=ActionId.INPUT,
                    options=[Option(value=str(k), label=v) for k, v in OFFSET_LABELS.items()],
                    initial_option=Option(value="1", label=OFFSET_LABELS[1]),
                ),
            ),
            InputBlock(
                block_id=BlockId.UPWARD,
                label="Do members give feedback on the lead?",
                element=RadioButtonsElement(
                    action_id=ActionId.INPUT,
                    options=[Option(value=k, label=v) for k, v in UPWARD_LABELS.items()],
                    initial_option=Option(value="none", label=UPWARD_LABELS["none"]),
                ),
            ),
        ],
    )


def project_created_modal(summary: ProjectSummary) -> View:
    people = summary.members
    upward = {
        UpwardFeedback.NONE: "",
        UpwardFeedback.NAMED: "\nMembers will also give feedback on the lead, with their names "
        "(asked at 10:00 their own time).",
        UpwardFeedback.ANONYMOUS: "\nMembers will also give feedback on the lead, anonymously "
        "(asked at 10:00 their own time).",
    }[summary.upward]
    return View(
        type="modal",
        callback_id=CallbackId.PROJECT_CREATED,
        title="Debrief scheduled",
        close="Done",
        blocks=[
            SectionBlock(
                text=f":white_check_mark: *{_name(summary.name)}* (#{summary.id}) is scheduled.\n"
                f"*{_name(summary.lead.name)}* will be asked to debrief {people} "
                f"{'person' if people == 1 else 'people'} on {when(summary.due_at)}.{upward}"
            ),
            ContextBlock(
                elements=[MarkdownTextObject(text="`/debrief list` shows it; `/debrief cancel` stops it.")]
            ),
        ],
    )


# -- the debrief form ------------------------------------------------------------------


def debrief_modal(form: DebriefForm) -> View:
    if form.kind is TaskKind.UPWARD:
        intro = f"Your feedback on *{_name(form.subject.name)}* as lead of *{_name(form.project_name)}*."
        privacy = (
            "Anonymous: your name is never shown with this feedback."
            if form.anonymous
            else f"{_name(form.subject.name)} will know this feedback is from you."
        )
    else:
        intro = f"Debrief of *{_name(form.subject.name)}* on *{_name(form.project_name)}*."
        privacy = 'Rate only what you saw on this project; "Not observed" is a good answer.'
    return answers_modal(
        FormCopy(
            callback_id=CallbackId.DEBRIEF_FORM,
            title="Debrief" if form.kind is TaskKind.LEAD_REVIEW else "Feedback on the lead",
            intro=intro,
            privacy=privacy,
            strengths_label="Strengths you saw",
            growth_label="One thing to grow",
        ),
        form.framework,
        form.previous,
        dump_metadata(DebriefFormMeta(project_id=form.project_id, subject_id=form.subject.person_id)),
    )


# -- the DMs ---------------------------------------------------------------------------


def prompt_message(card: PromptCard) -> tuple[str, list[Block]]:
    name = _name(card.project_name)
    upward = any(i.kind is TaskKind.UPWARD for i in card.items)
    if upward:
        text = f"How did {_name(card.lead.name)} lead {name}? Your feedback is wanted."
        opening = (
            f"*{name}* ended on {day(card.end_date)}. How did *{_name(card.lead.name)}* lead it? "
            "Two minutes, on delivery and leadership."
        )
        if card.anonymous:
            opening += "\nYour answer is anonymous: your name is never shown with it."
    else:
        text = f"Time to debrief {name}"
        opening = (
            f"*{name}* ended on {day(card.end_date)}. Please debrief each person: about two minutes "
            "each, on delivery and leadership."
        )
    blocks: list[Block] = [
        HeaderBlock(text=truncate(f"Debrief: {card.project_name}", 150)),
        SectionBlock(text=opening),
    ]
    blocks += _items(card)
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_status_line(card))]))
    return text, blocks


def reminder_message(card: PromptCard) -> tuple[str, list[Block]]:
    name = _name(card.project_name)
    text = f"Reminder: the debrief of {name} is still open"
    if card.state is not ProjectState.OPEN:
        opening = f"The debrief of *{name}* is over."
    elif any(not i.done for i in card.items):
        opening = f":alarm_clock: A reminder: the debrief of *{name}* is open until {when(card.closes_at)}."
    else:
        opening = f"Your part of the debrief of *{name}* is done. Thank you."
    blocks: list[Block] = [SectionBlock(text=opening)]
    blocks += _items(card)
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_status_line(card))]))
    return text, blocks


def _items(card: PromptCard) -> list[Block]:
    open_for_answers = card.state is ProjectState.OPEN
    blocks: list[Block] = []
    for item in card.items:
        person = _name(item.subject.name)
        label = "debriefed" if item.kind is TaskKind.LEAD_REVIEW else "feedback given"
        line = f":white_check_mark: *{person}* — {label}" if item.done else f"*{person}*"
        accessory = None
        if open_for_answers:
            accessory = ButtonElement(
                text="Change"
                if item.done
                else ("Debrief" if item.kind is TaskKind.LEAD_REVIEW else "Give feedback"),
                action_id=ActionId.OPEN_DEBRIEF,
                value=f"{card.project_id}:{item.subject.person_id}",
                style=None if item.done else "primary",
            )
        blocks.append(SectionBlock(block_id=_item_block(item), text=line, accessory=accessory))
    if open_for_answers:  # the lead and every member: what they think of their own part
        blocks.append(
            ActionsBlock(
                block_id=BlockId.RATE_MYSELF,
                elements=[
                    ButtonElement(
                        text="Rate yourself on this project",
                        action_id=ActionId.RATE_MYSELF_ON_PROJECT,
                        value=str(card.project_id),
                    )
                ],
            )
        )
    coachable = [item for item in card.items if item.coachable][:MAX_ACTIONS]
    if coachable:  # from the debrief straight to coaching, for the people the lead manages
        blocks.append(
            ActionsBlock(
                block_id=BlockId.COACH_AFTER_DEBRIEF,
                elements=[
                    ButtonElement(
                        text=truncate(f"Draft coaching: {item.subject.name}", 75),
                        action_id=ActionId.DRAFT_COACHING,
                        value=str(item.subject.person_id),
                    )
                    for item in coachable
                ],
            )
        )
    return blocks


MAX_ACTIONS = 25  # Slack's limit of elements in one actions block


def _item_block(item: PromptItem) -> str:
    return f"item_{item.subject.person_id}"


def _status_line(card: PromptCard) -> str:
    done = sum(1 for i in card.items if i.done)
    if card.state is ProjectState.CANCELLED:
        return "This debrief was cancelled."
    if card.state is ProjectState.CLOSED:
        return f"This debrief has closed: {done} of {len(card.items)} answered."
    return f"{done} of {len(card.items)} done · open until {when(card.closes_at)}"


# -- /debrief list ---------------------------------------------------------------------

STATE_WORDS = {
    ProjectState.SCHEDULED: "scheduled",
    ProjectState.OPEN: "open",
    ProjectState.CLOSED: "closed",
    ProjectState.CANCELLED: "cancelled",
}


def project_list(summaries: list[ProjectSummary]) -> tuple[str, list[Block]]:
    if not summaries:
        text = "You have no projects yet. `/debrief` schedules one."
        return text, [SectionBlock(text=text)]
    blocks: list[Block] = [HeaderBlock(text="Your projects")]
    for s in summaries[:40]:
        if s.state is ProjectState.SCHEDULED:
            progress = f"debrief on {when(s.due_at)}"
        elif s.state is ProjectState.OPEN:
            progress = f"{s.done} of {s.total} answered · open until {when(s.closes_at)}"
        else:
            progress = f"{s.done} of {s.total} answered"
        if s.anonymous_asked and s.state is not ProjectState.SCHEDULED:
            # Counted apart and never as answered: a counter that moved would point at someone.
            progress += f" · {s.anonymous_asked} asked for anonymous feedback on the lead"
        blocks.append(
            SectionBlock(
                text=f"*#{s.id} {_name(s.name)}* · {STATE_WORDS[s.state]}\n"
                f"Lead {_name(s.lead.name)} · ended {day(s.end_date)} · {progress}"
            )
        )
    return f"Your projects: {len(summaries)}", blocks


def cancelled_text(summary: ProjectSummary) -> str:
    return f"Cancelled the debrief of #{summary.id} {_name(summary.name)}. Nobody will be asked about it."
