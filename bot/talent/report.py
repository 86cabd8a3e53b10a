"""The talent review as an operator or HR reads it: the CSV, the map as text, the bias report
as lines, and the points of the picture. Pure functions of a ``TalentReview``.

The CSV has one row per person: manager, readiness and its reason, the cell, each dimension's
level and interval, and per KPI the raw and calibrated level with its evidence (ratings, and
raters counted as the analytics count them: an anonymous rater once per release batch). No
giver is named anywhere in it. A cell a spreadsheet would run as a formula is quoted with ``'``.
"""

from __future__ import annotations

import csv
import io

from bot.talent.bias import MIN_GROUP_NOTES
from bot.talent.chart import MapPoint
from bot.talent.evidence import KIND_CODES
from bot.talent.readiness import BANDS, CELL_NAMES, Category
from bot.talent.service import TalentReview

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(review: TalentReview) -> str:
    kpis = [k.key for k in review.framework.kpis]
    z = review.rules.z
    header = [
        "person",
        "slack_id",
        "manager",
        "manager_slack_id",
        "readiness",
        "reason",
        "cell",
        "cell_spans",
        *[
            f"{d}_{part}"
            for d in ("delivery", "leadership")
            for part in ("level", "low", "high", "raters", "ratings", "trend")
        ],
        *[f"raters_{kind.value}" for kind in KIND_CODES],
        "projects",
        "other_feedback",
        "flags",
        *[f"{k}_{part}" for k in kpis for part in ("raw", "calibrated", "ratings", "raters")],
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for s in review.subjects:
        row: list[object] = [
            s.person.name,
            s.person.slack_id,
            s.manager.name if s.manager else "",
            s.manager.slack_id if s.manager else "",
            s.readiness.category.value,
            s.readiness.reason,
            s.placement.name if s.placement else "",
            s.placement.shown() if s.placement and s.placement.spans else "",
        ]
        for d in (s.delivery, s.leadership):
            interval = d.interval(z)
            row += [_n(d.level), _n(interval[0] if interval else None), _n(interval[1] if interval else None)]
            row += [d.raters, d.ratings, d.trend.value if d.trend else ""]
        kinds = dict(s.kinds)
        row += [kinds.get(kind, 0) for kind in KIND_CODES]
        row += [s.sources.projects, "yes" if s.sources.other else "no", "; ".join(s.flags)]
        for key in kpis:
            k = s.kpis.get(key)
            row += [_n(k.raw), _n(k.calibrated), k.ratings, k.raters] if k else ["", "", 0, 0]
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def map_points(review: TalentReview) -> list[MapPoint]:
    """Everyone the map can place (both levels read), with their intervals."""
    z = review.rules.z
    points = []
    for s in review.subjects:
        d, lead = s.delivery.interval(z), s.leadership.interval(z)
        if s.delivery.level is None or s.leadership.level is None or d is None or lead is None:
            continue
        points.append(
            MapPoint(s.person.name, s.delivery.level, s.leadership.level, d, lead, s.readiness.category)
        )
    return points


def map_text(review: TalentReview, *, names: bool = True) -> str:
    """The 3x3 grid as text, leadership up, delivery across; then who sits where."""
    counts = review.counts()
    label = {cell: f"{name} ({counts.get(cell, 0)})" for cell, name in CELL_NAMES.items()}
    width = max(len(text) for text in label.values())
    lines = ["Leadership ↑ · delivery →"]
    for lead in (2, 1, 0):
        cells = [label[(d, lead)].ljust(width) for d in (0, 1, 2)]
        lines.append(f"{BANDS[lead]:>6} | " + " | ".join(cells).rstrip())
    lines.append("         " + "   ".join(f"{BANDS[d]} delivery".center(width) for d in (0, 1, 2)).rstrip())
    placed = [s for s in review.subjects if s.placement is not None]
    unplaced = len(review.subjects) - len(placed)
    if names:
        for s in sorted(placed, key=lambda s: (-s.placement.cell[1], -s.placement.cell[0], s.person.name)):  # type: ignore[union-attr]
            lines.append(f"  {s.person.name}: {s.placement.shown()} · {s.readiness.category.value}")  # type: ignore[union-attr]
    if unplaced:
        lines.append(f"  Not on the map (too few raters to read both dimensions): {unplaced}")
    return "\n".join(lines)


def category_counts(review: TalentReview) -> dict[Category, int]:
    return {c: sum(1 for s in review.subjects if s.readiness.category is c) for c in Category}


def bias_lines(review: TalentReview, *, limit: int = 10) -> list[str]:
    """The bias report as facts, the most telling first."""
    if review.bias is None:
        return []
    lines = ["Rater habits (named ratings; measured against others rating the same people):"]
    sure = [(p, h) for p, h in review.bias.habits if h.sure]
    for person, habit in (sure or list(review.bias.habits))[:limit]:
        lines.append(f"  {person.name} {habit.sentence()}")
    if not review.bias.habits:
        lines.append("  no rater has rated enough people to be measured yet")
    lines.append("Rater kinds per team (mean rating; the largest differences first):")
    for manager, team in review.bias.teams[:limit]:
        kinds = ", ".join(f"{k.kind.value} {k.mean:.1f} ({k.raters})" for k in team.kinds)
        lines.append(f"  {manager.name}'s team ({team.people} people): {kinds}")
    thin = [(s, s.flags) for s in review.subjects if s.flags]
    lines.append(f"Readings resting on one rater or one source: {len(thin)}")
    for s, flags in thin[:limit]:
        lines.append(f"  {s.person.name}: {', '.join(flags)}")
    lines.append("Personality words in notes, per team (the note check's words: tone, attitude…):")
    for manager, share in review.bias.words[:limit]:
        who = f"{manager.name}'s team" if manager else "people without a manager"
        if share.share is None:
            lines.append(f"  {who}: fewer than {MIN_GROUP_NOTES} notes, too few to say")
        else:
            lines.append(f"  {who}: {share.personal} of {share.notes} notes ({share.share:.0%})")
    return lines


def _n(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
