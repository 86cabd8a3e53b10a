"""The App Home tab, and the small views around "My team". Pure functions; at most 100 blocks."""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.analytics.readings import PersonReading
from bot.feedback.cards import MAX_GIVERS, ReceivedItem, RequestOutcome
from bot.framework import Framework
from bot.home.service import TEAM_PICKER_MAX, HomeData
from bot.people.directory import PersonRef
from bot.text import escape_mrkdwn
from handlers.forms import ReportMeta, dump_metadata
from handlers.ids import ActionId, BlockId, CallbackId, numbered
from handlers.views import debrief as debrief_views
from handlers.views import feedback as feedback_views
from storage.models import ABOUT_MAX

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DIGEST_HOURS = range(24)

HOME_BLOCK_LIMIT = 100


def _e(text: str) -> str:
    return escape_mrkdwn(text)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def growth_summary(reading: PersonReading, framework: Framework) -> str:
    """What stands out in my growth, in a line or two; ``/growth`` has the levels and evidence."""
    if not reading.enough:
        return "Not enough feedback yet to read: `/growth` says what is missing."
    labels = {k.key: k.label for k in framework.kpis}
    parts = [
        "Growth areas: "
        + (", ".join(_e(labels[a.kpi]) for a in reading.growth_areas[:3]) or "none stands out"),
    ]
    if reading.strengths:
        parts.append("Strength: " + _e(labels[reading.strengths[0].kpi]))
    if reading.blind_spots:
        parts.append("Blind spot: " + _e(labels[reading.blind_spots[0].kpi]))
    return (
        " · ".join(parts)
        + "\n`/growth` shows the levels (calibrated for how each rater rates), trends and evidence."
    )


def home_view(data: HomeData, framework: Framework, today: date) -> View:
    blocks: list[Block] = [HeaderBlock(text="Brickwork")]

    if data.claimed_by is not None:
        blocks += manager_claim_blocks(data.claimed_by)

    blocks += [
        SectionBlock(text="*Your snapshot*\n" + feedback_views.snapshot_text(data.snapshot)),
        _context(
            "Averages appear once two people have rated a KPI: one rater's habits say more about "
            "the rater than about you."
        ),
    ]
    if data.growth is not None:
        blocks.append(SectionBlock(text="*Your growth*\n" + growth_summary(data.growth, framework)))

    blocks += [DividerBlock(), SectionBlock(text=f"*Waiting for your feedback* ({data.waiting_total})")]
    for card in data.waiting:
        blocks.append(
            SectionBlock(
                text=f"*{_e(card.requester.name)}*{feedback_views.about_whom(card)}"
                f"{feedback_views.on_topic(card.about)}"
            )
        )
        blocks.append(feedback_views.answer_buttons(card, numbered(BlockId.WAITING_PREFIX, card.request_id)))
    if data.waiting_total > len(data.waiting):
        blocks.append(_context("More in `/feedback requests`."))

    blocks += [SectionBlock(text=f"*Your open requests* ({data.my_open_total})")]
    for card in data.my_open:
        accessory = (
            ButtonElement(text="Nudge", action_id=ActionId.NUDGE_REQUEST, value=str(card.request_id))
            if card.can_nudge
            else None
        )
        blocks.append(
            SectionBlock(
                block_id=numbered(BlockId.OPEN_REQUEST_PREFIX, card.request_id),
                accessory=accessory,
                text=f"*{_e(card.giver.name)}*{feedback_views.about_whom(card)}"
                f"{feedback_views.on_topic(card.about)} · asked {card.created_at:%d %b}",
            )
        )

    blocks += [DividerBlock(), SectionBlock(text="*Latest feedback you received*")]
    if not data.latest:
        blocks.append(_context("Nothing yet. `/feedback request @someone` asks for some."))
    for item in data.latest:
        blocks.append(SectionBlock(text=feedback_views.item_lines(item, framework)))

    blocks += [DividerBlock(), SectionBlock(text="*My team*")]
    blocks.append(
        ActionsBlock(
            block_id=BlockId.TEAM,
            elements=[
                UserMultiSelectElement(
                    action_id=ActionId.MY_TEAM,
                    placeholder="Your direct reports",
                    initial_users=list(data.team_ids[:TEAM_PICKER_MAX]) or None,
                    max_selected_items=TEAM_PICKER_MAX,
                )
            ],
        )
    )
    if len(data.team_ids) > TEAM_PICKER_MAX:
        blocks.append(
            _context(
                f"The picker holds {TEAM_PICKER_MAX} people; the other "
                f"{len(data.team_ids) - TEAM_PICKER_MAX} on your team are managed by the org chart import."
            )
        )
    if data.pending:
        names = ", ".join(_e(p.name) for p in data.pending)
        blocks.append(
            _context(
                f"Waiting for confirmation: {names}. They see nothing of yours, and you see "
                "nothing of theirs, until they confirm."
            )
        )
    for row in data.reports:  # a section holds one accessory: the buttons get their own row
        report_id = str(row.person.person_id)
        blocks.append(
            SectionBlock(text=f"*{_e(row.person.name)}*\n{feedback_views.snapshot_text(row.snapshot)}"[:3000])
        )
        blocks.append(
            ActionsBlock(
                block_id=numbered(BlockId.REPORT_PREFIX, row.person.person_id),
                elements=[
                    ButtonElement(
                        text="Request feedback", action_id=ActionId.REQUEST_FOR_REPORT, value=report_id
                    ),
                    ButtonElement(
                        text="View feedback", action_id=ActionId.VIEW_REPORT_FEEDBACK, value=report_id
                    ),
                    ButtonElement(text="Draft coaching", action_id=ActionId.DRAFT_COACHING, value=report_id),
                ],
            )
        )
    if data.reports_total > len(data.reports):
        blocks.append(_context(f"{data.reports_total - len(data.reports)} more people report to you."))

    blocks += [DividerBlock(), SectionBlock(text="*Projects*")]
    _, listing = debrief_views.project_list(list(data.projects))
    blocks += [b for b in listing if not isinstance(b, HeaderBlock)]
    blocks.append(
        ActionsBlock(
            block_id=BlockId.PROJECTS,
            elements=[ButtonElement(text="New project", action_id=ActionId.NEW_PROJECT, style="primary")],
        )
    )

    settings_start = len(blocks)
    blocks += [DividerBlock(), SectionBlock(text="*Settings*")]
    if data.paused_until and data.paused_until >= today:
        pause = f"Notifications are paused until *{data.paused_until:%a %d %b}*."
    else:
        pause = "Pause notifications while you are away:"
    digest = "Weekly digest: *on*" if data.digest_enabled else "Weekly digest: *off*"
    blocks.append(SectionBlock(text=pause))
    blocks.append(
        ActionsBlock(
            block_id=BlockId.SETTINGS,
            elements=[
                DatePickerElement(
                    action_id=ActionId.PAUSE_UNTIL,
                    placeholder="Paused until",
                    initial_date=data.paused_until.isoformat() if data.paused_until else None,
                ),
                ButtonElement(text="Resume now", action_id=ActionId.RESUME),
                ButtonElement(
                    text="Turn digest off" if data.digest_enabled else "Turn digest on",
                    action_id=ActionId.DIGEST_OFF if data.digest_enabled else ActionId.DIGEST_ON,
                ),
                StaticSelectElement(
                    action_id=ActionId.DIGEST_DAY,
                    placeholder="Digest day",
                    options=[Option(value=str(n), label=day) for n, day in enumerate(WEEKDAYS)],
                    initial_option=Option(
                        value=str(data.digest_weekday), label=WEEKDAYS[data.digest_weekday]
                    ),
                ),
                StaticSelectElement(
                    action_id=ActionId.DIGEST_HOUR,
                    placeholder="Digest hour",
                    options=[Option(value=str(h), label=f"{h:02d}:00") for h in DIGEST_HOURS],
                    initial_option=Option(value=str(data.digest_hour), label=f"{data.digest_hour:02d}:00"),
                ),
            ],
        )
    )
    if data.digest_enabled:
        digest += (
            f" · {WEEKDAYS[data.digest_weekday]}s at {data.digest_hour:02d}:00 your time"
            " (the next working day when that day is not one)"
        )
    blocks.append(_context(digest))

    if len(blocks) > HOME_BLOCK_LIMIT:  # summarise rather than fail: Slack refuses 101 blocks
        # Cut the lists in the middle, never the Settings at the end.
        settings = blocks[settings_start:]
        keep = HOME_BLOCK_LIMIT - len(settings) - 1
        blocks = [*blocks[:keep], _context("More than fits here: see `/feedback requests`."), *settings]
    return View(type="home", callback_id=CallbackId.HOME, blocks=blocks)


def manager_claim_blocks(manager: PersonRef) -> list[Block]:
    return [
        SectionBlock(
            text=f"*{_e(manager.name)}* says you report to them. As your manager they would see the "
            "feedback about you (never who gave anonymous feedback)."
        ),
        ActionsBlock(
            block_id=numbered(BlockId.CLAIM_PREFIX, manager.person_id),
            elements=[
                ButtonElement(
                    text="Confirm",
                    action_id=ActionId.CONFIRM_MANAGER,
                    value=str(manager.person_id),
                    style="primary",
                ),
                ButtonElement(
                    text="Not my manager", action_id=ActionId.REJECT_MANAGER, value=str(manager.person_id)
                ),
            ],
        ),
    ]


def manager_claim_message(manager: PersonRef) -> tuple[str, list[Block]]:
    return f"{_e(manager.name)} says you report to them", manager_claim_blocks(manager)


def request_for_report_modal(report: PersonRef, *, for_self: bool = False) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.REQUEST_FOR_REPORT,
        title="Request feedback",
        submit="Ask",
        close="Cancel",
        private_metadata=dump_metadata(ReportMeta(subject_slack_id=report.slack_id)),
        blocks=[
            SectionBlock(
                text="Ask colleagues for feedback about you."
                if for_self
                else f"Ask colleagues for feedback about *{_e(report.name)}*."
            ),
            InputBlock(
                block_id=BlockId.GIVERS,
                label="Whom to ask",
                element=UserMultiSelectElement(action_id=ActionId.INPUT, max_selected_items=MAX_GIVERS),
            ),
            InputBlock(
                block_id=BlockId.ABOUT,
                label="About",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ActionId.INPUT, max_length=ABOUT_MAX, placeholder="e.g. the Q3 launch"
                ),
            ),
        ],
    )


def asking_modal(givers: int) -> View:
    """Shown from the ack until ``request_outcome_modal`` replaces it (DMs take a moment)."""
    people = "person" if givers == 1 else "people"
    return View(
        type="modal",
        callback_id=CallbackId.REQUEST_OUTCOME,
        title="Request feedback",
        close="Close",
        blocks=[SectionBlock(text=f":hourglass_flowing_sand: Asking {givers} {people}…")],
    )


def request_outcome_modal(outcome: RequestOutcome) -> View:
    return View(
        type="modal",
        callback_id=CallbackId.REQUEST_OUTCOME,
        title="Request feedback",
        close="Done",
        blocks=[SectionBlock(text=feedback_views.outcome_text(outcome))],
    )


REPORT_FEEDBACK_SHOWN = 20  # items in the modal: two blocks each, well within a modal's 100


def report_feedback_modal(report: PersonRef, items: list[ReceivedItem], framework: Framework) -> View:
    """A report's feedback as their manager may see it: the service has already removed what
    they may not (anonymous givers are None; anonymous feedback not yet released is not there);
    rendered as /feedback mine renders an item."""
    blocks: list[Block] = [
        SectionBlock(text=f"*Feedback about {_e(report.name)}*"),
        _context("Anonymous givers are never named, to you or anyone."),
    ]
    if not items:
        blocks.append(SectionBlock(text="Nothing yet. *Request feedback* on the Home asks for some."))
    for item in items[:REPORT_FEEDBACK_SHOWN]:
        blocks += [DividerBlock(), SectionBlock(text=feedback_views.item_lines(item, framework))]
    if len(items) > REPORT_FEEDBACK_SHOWN:
        blocks.append(_context(f"The latest {REPORT_FEEDBACK_SHOWN} are shown."))
    return View(
        type="modal",
        callback_id=CallbackId.REPORT_FEEDBACK,
        title="Feedback",
        close="Done",
        blocks=blocks,
    )
