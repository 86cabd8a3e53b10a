"""Block Kit for admins: /brickwork's help, health and audit trail, the "Forget a person"
confirmation, and the answer to an org-chart CSV shared in a DM.

Pure functions. File names and CSV cells are typed by people: each is made one plain line
(``plain``) and escaped here. Counts arrive already rounded: None reads "fewer than 3".
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.admin.audit import AuditLine, AuditSummary
from bot.admin.service import MAX_CSV_BYTES, MAX_CSV_ROWS, SMALL_COUNT, ForgetPreview, Health, ImportOutcome
from bot.people.org_chart import ForgetReport
from bot.text import escape_mrkdwn, is_slack_user_id, plain, slack_date
from handlers.forms import ForgetMeta, dump_metadata
from handlers.ids import CallbackId
from storage.models import AuditAction, AuditOutcome

BAD_ROWS_LISTED = 50  # one line each; the rest are counted

IMPORT_HOW = (
    "*Importing the org chart*\n"
    "Share a CSV file with me here, in this DM (drag it in, or *+* → *Upload from your computer*). "
    "Its first line is the header `email,manager_email`; each row sets one person's manager "
    "(an empty manager removes theirs). People are matched by their Slack email. "
    f"Up to {MAX_CSV_BYTES // 1024} KB and {MAX_CSV_ROWS} rows, saved as UTF-8. "
    "I answer with what was applied and one line for each row I could not apply."
)

ADMIN_HELP = (
    "*/brickwork* is for Brickwork admins (`BRICKWORK_ADMINS`). Everything an admin does here is "
    "recorded in the audit log.\n"
    "• `/brickwork health`: the programme in counts — people, open requests, debriefs answered "
    f"(never a count below {SMALL_COUNT}, and no feedback).\n"
    "• `/brickwork forget @someone`: for a person who left — deletes the feedback they gave and the "
    "coaching drawn from it, withdraws their requests, takes them off the org chart (you confirm first).\n"
    "• `/brickwork audit`: what admins did in the last 30 days, and the latest actions.\n"
    "• `/brickwork import`: how to import the org chart — share a CSV with me in a DM.\n"
    "Admins read individual feedback only about people they manage themselves."
)
FORGET_USAGE = "Usage: `/brickwork forget @someone` (one person, picked from Slack's autocomplete)."

ACTION_WORDS = {
    AuditAction.IMPORT_ORG_CHART: "org-chart import",
    AuditAction.FORGET_PERSON: "forget a person",
    AuditAction.VIEW_HEALTH: "health view",
    AuditAction.VIEW_AUDIT: "audit view",
    AuditAction.EXPORT_TALENT_REVIEW: "talent review export",
    AuditAction.VIEW_SUCCESSION: "succession view",
}
OUTCOME_WORDS = {AuditOutcome.DONE: "done", AuditOutcome.REFUSED: "refused", AuditOutcome.FAILED: "failed"}


def _e(text: str) -> str:
    return escape_mrkdwn(text)


def count(value: int | None) -> str:
    return f"fewer than {SMALL_COUNT}" if value is None else f"{value:,}"


def _moment(at: datetime) -> str:
    return slack_date(int(at.timestamp()), "{date_short_pretty} {time}", at.strftime("%Y-%m-%d %H:%M UTC"))


# -- health -------------------------------------------------------------------------------


def health_message(health: Health) -> tuple[str, list[Block]]:
    asked = health.debrief_parts_asked
    answered = count(health.debrief_parts_answered)
    debriefs = f"{answered} of {count(asked)}" if asked is not None else count(asked)
    lines = [
        f"*People* in the programme: {count(health.people_in_programme)} "
        f"({count(health.people_with_manager)} with a confirmed manager); "
        f"left the programme: {count(health.people_left)}",
        f"*Feedback requests* still waiting (asked in the last 14 days): {count(health.requests_waiting)}",
        f"*Projects*: {count(health.projects_scheduled)} scheduled, {count(health.projects_open)} with a "
        f"debrief open, {count(health.projects_closed)} closed",
        f"*Debrief parts answered*: {debriefs} (named parts; anonymous upward feedback is not counted)",
        f"*Feedback* readers can see: {count(health.feedback_visible)} "
        "(anonymous feedback counts once released)",
    ]
    blocks: list[Block] = [
        HeaderBlock(text="Brickwork health"),
        SectionBlock(text="\n".join(lines)),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"As of {_moment(health.as_of)}. Counts below {SMALL_COUNT} read "
                    f'"fewer than {SMALL_COUNT}", so no figure points at a person. '
                    "This view is recorded in the audit log."
                )
            ]
        ),
    ]
    return "Brickwork health", blocks


# -- the audit trail ----------------------------------------------------------------------


def _target(line: AuditLine) -> str:
    if not line.target:
        return ""
    if is_slack_user_id(line.target):
        return f" · <@{line.target}>"
    return f" · `{_e(plain(line.target, 64))}`"


def audit_line(line: AuditLine) -> str:
    actor = f"<@{line.actor}>" if is_slack_user_id(line.actor) else _e(plain(line.actor, 32))
    detail = f" — {_e(plain(line.detail, 200))}" if line.detail else ""
    return (
        f"{_moment(line.at)} · {actor} · {ACTION_WORDS[line.action]}{_target(line)} · "
        f"*{OUTCOME_WORDS[line.outcome]}*{detail}"
    )


def audit_message(summary: AuditSummary) -> tuple[str, list[Block]]:
    blocks: list[Block] = [HeaderBlock(text="Brickwork audit log")]
    totals = []
    for action in AuditAction:
        done = [
            f"{n} {OUTCOME_WORDS[outcome]}"
            for outcome in AuditOutcome
            if (n := summary.counts.get((action, outcome), 0))
        ]
        if done:
            totals.append(f"• {ACTION_WORDS[action]}: {', '.join(done)}")
    since = "*Since " + _moment(summary.since) + "*\n"
    blocks.append(SectionBlock(text=since + ("\n".join(totals) if totals else "Nothing yet.")))
    blocks.append(DividerBlock())
    if summary.recent:
        blocks.append(SectionBlock(text=f"*The latest {len(summary.recent)}*, newest first"))
        blocks.extend(SectionBlock(text=audit_line(line)) for line in summary.recent)
    else:
        blocks.append(SectionBlock(text="No admin action has been recorded yet."))
    return "Brickwork audit log", blocks


# -- forgetting a person --------------------------------------------------------------------


def confirm_forget_modal(preview: ForgetPreview) -> View:
    again = (
        "\nThey already left the programme; this deletes anything stored since."
        if preview.already_left
        else ""
    )
    return View(
        type="modal",
        callback_id=CallbackId.CONFIRM_FORGET,
        private_metadata=dump_metadata(ForgetMeta(subject_slack_id=preview.slack_user_id)),
        title="Forget a person",
        submit="Forget",
        close="Cancel",
        blocks=[
            SectionBlock(
                text=f"Forget *{_e(preview.name)}* (<@{preview.slack_user_id}>)?\n"
                "This deletes *all the feedback they gave* and the coaching drafted from it, about "
                "them or by them, withdraws their open requests and takes them off the org chart. "
                "Nobody can ask them for feedback any more. It cannot be undone, and it is recorded "
                f"in the audit log under your name.{again}"
            )
        ],
    )


def forgotten_modal(report: ForgetReport) -> View:
    manager = ", removed their own manager" if report.manager_unlinked else ""
    return View(
        type="modal",
        callback_id=CallbackId.NOTICE,
        title="Forgotten",
        close="Close",
        blocks=[
            SectionBlock(
                text=f"<@{report.slack_user_id}> has left the feedback programme. Deleted "
                f"{report.feedback_deleted} feedback records they gave and {report.drafts_deleted} "
                f"coaching drafts, withdrew {report.requests_withdrawn} open requests, removed them "
                f"as manager of {report.reports_unlinked} people{manager}."
            )
        ],
    )


# -- the org-chart import -------------------------------------------------------------------


def import_reply(outcome: ImportOutcome) -> str:
    """What an admin reads after sharing a CSV: what was applied, then one line per bad row."""
    report = outcome.report
    rows = "row" if report.rows_read == 1 else "rows"
    lines = [
        f"Imported *{_e(plain(outcome.file_name, 80))}*: {report.rows_read} {rows}, {report.applied} applied "
        f"(managers set or removed), {len(report.refused)} not applied."
    ]
    for row in report.refused[:BAD_ROWS_LISTED]:
        email = _e(plain(row.email, 80)) or "(empty)"
        lines.append(f"• line {row.line}: {email}: {_e(plain(row.reason, 200))}")
    if len(report.refused) > BAD_ROWS_LISTED:
        lines.append(f"…and {len(report.refused) - BAD_ROWS_LISTED} more rows not applied.")
    return "\n".join(lines)
