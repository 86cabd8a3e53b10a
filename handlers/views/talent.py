"""The talent review in Slack: a manager's ``/growth team``, HR's ``/growth review`` message
beside its files, and ``/growth succession <role>``. Pure functions of the talent service's
cards, within Block Kit's limits (50 blocks a message, 3,000 characters a section)."""

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

from bot.framework import Framework
from bot.talent.readiness import BANDS, CELL_NAMES
from bot.talent.report import bias_lines, category_counts
from bot.talent.service import Subject, Succession, TalentReview, TeamMember, TeamReview
from bot.text import escape_mrkdwn
from handlers.ids import ActionId, BlockId
from handlers.views.growth import WHY_WORDS, step_said

MEMBERS_SHOWN = 20  # two blocks each, beside the map: under Slack's 50
CANDIDATES_SHOWN = 15
SECTION_MAX = 3000

TALENT_HELP = (
    "*/growth team* shows your confirmed reports: where each sits on the delivery × leadership "
    "map, their readiness and why, their top growth area, their last thing to try and how it went.\n"
    "*/growth review* (admins) sends you the talent review for everyone: a CSV and the map as a "
    "picture, with the bias report.\n"
    "*/growth succession <role>* (admins) lists who fits a role of the talent rules, with their gaps."
)


def _e(text: str) -> str:
    return escape_mrkdwn(text)


def grid_text(review: TalentReview) -> str:
    """The map's counts as a small monospaced grid, leadership up, delivery across."""
    counts = review.counts()
    rows = []
    for lead in (2, 1, 0):
        cells = "".join(f"{counts.get((d, lead), 0):>7}" for d in (0, 1, 2))
        rows.append(f"{BANDS[lead]:>6} leadership{cells}")
    rows.append(" " * 17 + "".join(f"{b:>7}" for b in BANDS) + "  ← delivery")
    return "```\n" + "\n".join(rows) + "\n```"


def team_message(team: TeamReview) -> tuple[str, list[Block]]:
    review = team.review
    counts = category_counts(review)
    summary = ", ".join(f"{c.value}: {n}" for c, n in counts.items() if n)
    blocks: list[Block] = [
        HeaderBlock(text="Your team's leadership pipeline"),
        SectionBlock(
            text=f"*The map* (calibrated levels; {len(review.subjects)} people who confirmed you as their "
            f"manager)\n{grid_text(review)}\n{summary}"
        ),
        ActionsBlock(
            block_id=BlockId.TALENT_MAP,
            elements=[ButtonElement(text="Show names", action_id=ActionId.TALENT_NAMES, value="team")],
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Evidence for your judgement, not a decision: each line says what it rests on "
                    "and the rule behind it. The rules are the operator's talent file."
                )
            ]
        ),
        DividerBlock(),
    ]
    blocks += team_page(team, 1)
    return f"Your team's leadership pipeline: {summary}", blocks


def team_page(team: TeamReview, page: int) -> list[Block]:
    """Page ``page`` (from 1) of the team's members, ``MEMBERS_SHOWN`` at a time, with a button
    for the next page while there is one."""
    start = (page - 1) * MEMBERS_SHOWN
    blocks: list[Block] = []
    for member in team.members[start : start + MEMBERS_SHOWN]:
        blocks += _member_blocks(member, team.review)
    rest = len(team.members) - start - MEMBERS_SHOWN
    if rest > 0:
        blocks.append(
            ActionsBlock(
                block_id=BlockId.TALENT_MORE,
                elements=[
                    ButtonElement(
                        text=f"Next {min(rest, MEMBERS_SHOWN)} of {rest} more",
                        action_id=ActionId.TALENT_MORE,
                        value=str(page + 1),
                    )
                ],
            )
        )
    return blocks


def _member_blocks(member: TeamMember, review: TalentReview) -> list[Block]:
    s = member.subject
    labels = {k.key: k.label for k in review.framework.kpis}
    lines = [f"*{_e(s.person.name)}* · {s.readiness.category.value}", _e(s.readiness.reason)]
    if s.placement is not None:
        lines.append(f"On the map: {s.placement.shown()}")
    moving = [f"{d.name} {d.trend.arrow}" for d in (s.delivery, s.leadership) if d.trend is not None]
    if moving:
        lines.append(f"Last 8 weeks against the 8 before: {', '.join(moving)}")
    if s.kinds:
        lines.append("Raters: " + ", ".join(f"{n} {kind.value}" for kind, n in s.kinds))
    if member.top_area is not None:
        area = member.top_area
        why = ", ".join(WHY_WORDS[w] for w in area.why).replace("your", "their")
        lines.append(f"Top growth area: *{_e(labels.get(area.kpi, area.kpi))}* ({why})")
    if member.step is not None:
        lines.append(
            f"Last thing to try ({member.step.week}): {_e(member.step.text)} "
            f"— {step_said(member.step, False)}"
        )
    if member.waiting:
        lines.append(f"Feedback requests waiting for their answer: {member.waiting}")
    value = str(s.person.person_id)
    return [
        SectionBlock(text="\n".join(lines)[:SECTION_MAX]),
        ActionsBlock(
            block_id=f"{BlockId.TALENT_MEMBER_PREFIX}{value}",
            elements=[
                ButtonElement(text="Request feedback", action_id=ActionId.REQUEST_FOR_REPORT, value=value),
                ButtonElement(text="Draft coaching", action_id=ActionId.DRAFT_COACHING, value=value),
            ],
        ),
    ]


def names_message(review: TalentReview) -> tuple[str, list[Block]]:
    """Who sits in each cell (and whose interval reaches others), highest leadership first."""
    by_cell: dict[tuple[int, int], list[Subject]] = {}
    for s in review.subjects:
        if s.placement is not None:
            by_cell.setdefault(s.placement.cell, []).append(s)
    lines = []
    for lead in (2, 1, 0):
        for d in (2, 1, 0):
            people = by_cell.get((d, lead), [])
            if people:
                names = ", ".join(
                    _e(p.person.name) + (" (spans)" if p.placement and p.placement.spans else "")
                    for p in people
                )
                lines.append(f"*{CELL_NAMES[(d, lead)]}*: {names}")
    unplaced = [s for s in review.subjects if s.placement is None]
    if unplaced:
        lines.append(f"*Not on the map* (too few raters): {', '.join(_e(s.person.name) for s in unplaced)}")
    blocks: list[Block] = [
        SectionBlock(text=text)
        for text in _sections(lines or ["Nobody can be placed yet: not enough feedback."])
    ]
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="(spans): their interval reaches another cell, so either could be right."
                )
            ]
        )
    )
    return "Who sits where on your team's map", blocks


def review_message(review: TalentReview) -> tuple[str, list[Block]]:
    """HR's message beside the CSV and the map: the counts, then the bias report as facts."""
    counts = category_counts(review)
    summary = ", ".join(f"{c.value}: {n}" for c, n in counts.items())
    blocks: list[Block] = [
        HeaderBlock(text="Talent review"),
        SectionBlock(text=f"{len(review.subjects)} people. {summary}.\n{grid_text(review)}"),
    ]
    blocks += [
        SectionBlock(text=text) for text in _sections([_e(line) for line in bias_lines(review, limit=8)])
    ]
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Facts to look at, not accusations. Rater habits use named ratings only; no giver "
                    "of anonymous feedback appears anywhere in the review."
                )
            ]
        )
    )
    return f"Talent review: {summary}", blocks


def succession_message(succession: Succession, framework: Framework) -> tuple[str, list[Block]]:
    role = succession.role
    labels = {k.key: k.label for k in framework.kpis}
    head = (
        f"*{_e(role.name)}* needs {', '.join(_e(labels[k]) for k in role.kpis)} "
        f"at {role.level:.1f} or above. "
        f"{len(succession.candidates)} of {succession.considered} people are ready now or ready with "
        "development; fewest gaps first."
    )
    blocks: list[Block] = [HeaderBlock(text=f"Succession: {role.name}"[:150]), SectionBlock(text=head)]
    for c in succession.candidates[:CANDIDATES_SHOWN]:
        s = c.subject
        if c.gaps:
            gaps = ", ".join(
                f"{_e(labels[k])} {'not read yet' if v is None else f'{v:.1f}'}" for k, v in c.gaps
            )
            gap_line = f"Gaps: {gaps}"
        else:
            gap_line = "No gap on the role's KPIs."
        blocks.append(
            SectionBlock(
                text="\n".join(
                    [
                        f"*{_e(s.person.name)}* · {s.readiness.category.value}",
                        gap_line,
                        _e(s.readiness.reason),
                    ]
                )[:SECTION_MAX]
            )
        )
    if not succession.candidates:
        blocks.append(SectionBlock(text="Nobody fits yet: nobody is ready now or ready with development."))
    return f"Succession for {role.name}: {len(succession.candidates)} people", blocks


def _sections(lines: list[str], *, most: int = 40) -> list[str]:
    """Lines already escaped, packed into as few section texts as Slack allows (3,000 characters
    each, measured after escaping; a longer line is cut between names), at most ``most``."""
    pieces: list[str] = []
    for line in lines:
        while len(line) > SECTION_MAX:
            cut = line.rfind(", ", 0, SECTION_MAX - 1)
            cut = cut if cut > 0 else SECTION_MAX - 1
            pieces.append(line[:cut])
            line = line[cut + 2 :] if line[cut : cut + 2] == ", " else line[cut:]
        pieces.append(line)
    texts: list[str] = []
    for piece in pieces:
        if texts and len(texts[-1]) + 1 + len(piece) <= SECTION_MAX:
            texts[-1] += "\n" + piece
        else:
            texts.append(piece)
    if len(texts) > most:
        texts = [*texts[: most - 1], "… and more: the CSV has everyone."]
    return texts
