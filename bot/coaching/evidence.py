"""The evidence a coach works from: one person's feedback over a window, as the reader of the
coaching may see it, the things to try the weekly digest suggested and how they went, and its
rendering into a prompt that carries no names and no ids.

Everything here is pure: the coaching service reads the records (through the feedback
service, so every read is authorised and anonymity rules apply; the things to try only for a
reader who may see them) and hands them in.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean

from bot.analytics.readings import AS_EXPECTED, FALLING_BY, RECENT_WEEKS, RELATIVE_MARGIN, STRONG_AT
from bot.feedback.cards import MIN_RATERS, ReceivedItem, Snapshot
from bot.framework import Framework, Kpi, KpiKind
from storage.models import FeedbackSource, GrowthStep, Relation, StepOutcome

WINDOW_DAYS = 182  # half a year: long enough for a trend, short enough to be about today
MAX_ITEMS = 60
# A KPI is a growth area only when the data says so (``growth_cases``), by the rule of the growth
# analytics: below "as expected" (3 on the 1-5 scale, the form's own label), clearly below the
# person's other KPIs (RELATIVE_MARGIN), or falling (the last RECENT_WEEKS weeks FALLING_BY below).
NOTE_CHARS = 240  # per note in a prompt
NOTES_BUDGET = 2600  # characters of notes in one prompt (about 750 real tokens)
MAX_STEPS = 3  # the latest things to try a draft builds on
STEP_CHARS = 110  # per thing to try in a prompt (Brickwork's own steps are 80 to 105)

# Labels of the note fields, as the person filled them in.
NOTE_LABELS = {"strengths_note": "went well", "growth_note": "to grow", "delivery_note": "delivery"}
ANONYMOUS = "anonymous"
SOURCE_WORDS = {
    Relation.MANAGER: "manager",
    Relation.PEER: "peer",
    Relation.REPORT: "report",
    Relation.SELF: "self",
}


@dataclass(frozen=True)
class EvidenceItem:
    label: str  # "E1": what a prompt and a coach's answer call it
    feedback_id: int
    source: str  # manager, peer, report, self, or anonymous: the only thing said about the giver
    anonymous: bool
    project: str  # the project's name for a named debrief answer, else ""
    at: datetime
    scores: dict[str, int | None]
    notes: dict[str, str]  # only the notes the reader may see, non-empty ones


# How a thing to try went, in the words a prompt and a reader see.
OUTCOME_WORDS = {
    StepOutcome.TRIED: "tried",
    StepOutcome.NOT_YET: "not yet",
    StepOutcome.NOT_FOR_ME: "not for me",
}
NO_ANSWER = "no answer yet"


@dataclass(frozen=True)
class TriedStep:
    """A thing to try the weekly digest suggested, and how it went as the person said. The
    person's own: in a manager's evidence only once they share coaching (the service decides)."""

    kpi: Kpi
    text: str
    week: str  # the ISO week of the digest, "2026-W47"
    outcome: StepOutcome | None  # None: not answered (yet)
    at: datetime  # when the digest suggested it

    @property
    def outcome_text(self) -> str:
        return OUTCOME_WORDS[self.outcome] if self.outcome is not None else NO_ANSWER


def tried_steps(framework: Framework, rows: Iterable[GrowthStep]) -> tuple[TriedStep, ...]:
    """The stored steps as evidence; a step about a KPI the framework has since dropped is left
    out (there is nothing to coach it against)."""
    keys = {k.key: k for k in framework.kpis}
    return tuple(
        TriedStep(
            kpi=keys[row.kpi], text=row.text.strip(), week=row.week, outcome=row.outcome, at=row.created_at
        )
        for row in rows
        if row.kpi in keys and row.text.strip()
    )


@dataclass(frozen=True)
class KpiTrend:
    kpi: Kpi
    average: float | None  # on the 1-5 scale; None with fewer than MIN_RATERS raters
    count: int
    raters: int
    recent: float | None
    earlier: float | None

    @property
    def enough(self) -> bool:
        return self.average is not None

    @property
    def falling(self) -> bool:
        return (
            self.recent is not None and self.earlier is not None and self.earlier - self.recent >= FALLING_BY
        )


@dataclass(frozen=True)
class Evidence:
    items: tuple[EvidenceItem, ...]
    trends: tuple[KpiTrend, ...]
    newest: datetime | None
    steps: tuple[TriedStep, ...] = ()  # the latest things to try, newest first (MAX_STEPS)

    def item(self, label: str) -> EvidenceItem | None:
        return next((i for i in self.items if i.label == label), None)

    def steps_for(self, kpi_key: str) -> list[TriedStep]:
        """The things to try about this KPI, newest first."""
        return [s for s in self.steps if s.kpi.key == kpi_key]

    def by_feedback_id(self) -> dict[int, EvidenceItem]:
        return {i.feedback_id: i for i in self.items}


def on_five_point_scale(kpi: Kpi, score: float) -> float:
    """Outcome KPIs are stored 0/1/2 (no/partly/yes); coaching compares them on 1-5."""
    return kpi.on_five_point_scale(score)


def build_evidence(
    framework: Framework,
    snapshot: Snapshot,
    received: Sequence[ReceivedItem],
    now: datetime,
    steps: Sequence[TriedStep] = (),
) -> Evidence:
    """The evidence from what the reader may see: ``received`` and ``steps`` are already
    authorised. Of the steps, the latest ``MAX_STEPS`` suggested within the window."""
    since = now - timedelta(days=WINDOW_DAYS)
    recent_from = now - timedelta(weeks=RECENT_WEEKS)
    chosen = sorted((r for r in received if r.at >= since), key=lambda r: r.at, reverse=True)[:MAX_ITEMS]
    items = tuple(
        EvidenceItem(
            label=f"E{index}",
            feedback_id=record.feedback_id,
            # Anonymous means anonymous to every reader, the giver included: no role (a person
            # has one manager), no project, whoever reads the coaching.
            source=ANONYMOUS if record.anonymous else SOURCE_WORDS[record.relation],
            anonymous=record.anonymous,
            project=record.context
            if record.source is FeedbackSource.DEBRIEF and not record.anonymous
            else "",
            at=record.at,
            scores=dict(record.scores),
            notes={k: v.strip() for k, v in (record.notes or {}).items() if v and v.strip()},
        )
        for index, record in enumerate(chosen, start=1)
    )
    raters = {stat.kpi.key: stat.raters for stat in snapshot.stats}
    trends = []
    for kpi in framework.kpis:
        scored = [
            (i.at, on_five_point_scale(kpi, s)) for i in items if (s := i.scores.get(kpi.key)) is not None
        ]
        recent = [s for at, s in scored if at >= recent_from]
        earlier = [s for at, s in scored if at < recent_from]
        enough = raters.get(kpi.key, 0) >= MIN_RATERS and bool(scored)
        trends.append(
            KpiTrend(
                kpi=kpi,
                average=round(fmean(s for _, s in scored), 2) if enough else None,
                count=len(scored),
                raters=raters.get(kpi.key, 0),
                recent=round(fmean(recent), 2) if len(recent) >= 2 else None,
                earlier=round(fmean(earlier), 2) if len(earlier) >= 2 else None,
            )
        )
    latest = sorted((s for s in steps if s.at >= since), key=lambda s: (s.week, s.at), reverse=True)
    return Evidence(
        items=items,
        trends=tuple(trends),
        newest=max((i.at for i in items), default=None),
        steps=tuple(latest[:MAX_STEPS]),
    )


# -- what a reader is shown: where a growth area comes from ------------------------------


def describe_sources(items: Iterable[EvidenceItem]) -> str:
    """ "3 peer notes and the Q3 launch debrief": the kinds of evidence, never who gave it."""
    projects: list[str] = []
    kinds: Counter[str] = Counter()
    for item in items:
        if item.project:
            if item.project not in projects:
                projects.append(item.project)
        else:
            kinds[item.source] += 1
    parts = [f"{n} {kind} {'note' if n == 1 else 'notes'}" for kind, n in sorted(kinds.items())]
    parts += [f"the {name} debrief" for name in projects]
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# -- the prompt: no names, no ids, notes delimited ----------------------------------------

_SLACK_MENTION = re.compile(r"<[@#!][^>]*>")
_SLACK_ID = re.compile(r"\b[UWBCGTD][A-Z0-9]{8,}\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class Redactor:
    """Takes people out of free text before it reaches an LLM: Slack mentions and ids, email
    addresses, and the names of people Brickwork knows (full names, and every part of a name
    of two letters or more, as whole words in any case: a lost common word is cheaper than a
    name that reaches the model). Built once per draft: one pattern for all names."""

    def __init__(self, subject_names: Iterable[str], other_names: Iterable[str]) -> None:
        self._subject = _names_pattern(subject_names)
        self._others = _names_pattern(other_names)

    def __call__(self, text: str) -> str:
        text = _SLACK_MENTION.sub("[someone]", text)
        text = _SLACK_ID.sub("[someone]", text)
        text = _EMAIL.sub("[email]", text)
        if self._subject is not None:
            text = self._subject.sub("[the person]", text)
        if self._others is not None:
            text = self._others.sub("[a colleague]", text)
        return text


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    full = {n.strip() for n in names if n.strip()}
    parts = {p for n in full for p in re.split(r"[\s<>/.,()'\"-]+", n) if len(p) >= 2}
    words = sorted(full | parts, key=len, reverse=True)  # the longest first: "Ann Lee" before "Ann"
    if not words:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, words))})(?!\w)", re.IGNORECASE)


def _score_text(kpi: Kpi, score: int) -> str:
    if kpi.kind is KpiKind.OUTCOME:
        return {2: "yes", 1: "partly", 0: "no"}.get(score, str(score))
    return str(score)


class Why(enum.StrEnum):
    """Why a KPI is a growth area; a KPI with none of these is not one."""

    FALLING = "falling"  # recent ratings FALLING_BY or more below earlier ones
    LOW = "low"  # its average is below AS_EXPECTED
    LOWER = "lower"  # RELATIVE_MARGIN or more below the average of the person's other KPIs


@dataclass(frozen=True)
class GrowthCase:
    """A KPI the data makes a growth area, with every figure a sentence about it may cite."""

    trend: KpiTrend
    why: tuple[Why, ...]
    others: float | None  # the average of the person's other KPIs with enough evidence

    @property
    def kpi(self) -> Kpi:
        return self.trend.kpi

    @property
    def average(self) -> float:
        assert self.trend.average is not None
        return self.trend.average


def rated(evidence: Evidence) -> list[KpiTrend]:
    """The KPIs with enough evidence to say anything about."""
    return [t for t in evidence.trends if t.enough]


def others_average(evidence: Evidence, kpi_key: str) -> float | None:
    others = [t.average for t in rated(evidence) if t.kpi.key != kpi_key and t.average is not None]
    return round(fmean(others), 2) if others else None


def growth_cases(evidence: Evidence) -> list[GrowthCase]:
    """The KPIs the data makes growth areas: falling first, then the lowest. Empty when every
    KPI is at or above "as expected", none clearly below the rest and none falling."""
    cases = []
    for trend in rated(evidence):
        assert trend.average is not None
        others = others_average(evidence, trend.kpi.key)
        why = []
        if trend.falling:
            why.append(Why.FALLING)
        if trend.average < AS_EXPECTED:
            why.append(Why.LOW)
        if others is not None and others - trend.average >= RELATIVE_MARGIN and trend.average < STRONG_AT:
            why.append(Why.LOWER)  # (a KPI rated above expectations is no growth area)
        if why:
            cases.append(GrowthCase(trend=trend, why=tuple(why), others=others))
    return sorted(cases, key=lambda c: (Why.FALLING not in c.why, c.average, c.kpi.key))


def render_kpis(framework: Framework) -> str:
    return "\n".join(f"{k.key}: {k.label} [{k.dimension.value}]" for k in framework.kpis)


def render_evidence(framework: Framework, evidence: Evidence, redact: Redactor) -> str:
    """Aggregates first, then one line per item. Each note is a JSON string, so nothing a
    colleague typed can end its field or the evidence block; dates are months only."""
    lines = ["Scores per KPI (1-5, 3 = as expected; outcome KPIs mapped no=1, partly=3, yes=5):"]
    cases = {c.kpi.key: c for c in growth_cases(evidence)}
    unrated = [t.kpi.key for t in evidence.trends if t.count == 0]
    for trend in evidence.trends:
        if trend.count == 0:
            continue
        average = f"average {trend.average:.1f}" if trend.average is not None else "not enough raters"
        line = f"- {trend.kpi.key}: {average}; {trend.count} ratings from {trend.raters} people"
        moved = trend.recent is not None and trend.earlier is not None and abs(trend.recent - trend.earlier)
        if moved and moved >= 0.3:  # a steady KPI's "4.0 vs 4.0" says nothing worth its tokens
            line += f"; last {RECENT_WEEKS} weeks {trend.recent:.1f} vs {trend.earlier:.1f} before"
        case = cases.get(trend.kpi.key)
        if case is not None:
            line += f" => GROWTH AREA: {_why_text(case)}"
        lines.append(line)
    if unrated:
        lines.append(f"- no ratings: {', '.join(unrated)}")
    # Per item, only the scores of the KPIs a growth area can be about: the rest are in the
    # aggregates above, and repeating them for every item would double the prompt.
    candidates = {c.kpi.key: c.kpi for c in growth_cases(evidence)}
    lines.append(f"Items, newest first (id | source | month | scores of {', '.join(candidates)} | notes):")
    budget = NOTES_BUDGET
    for item in evidence.items:
        scores = " ".join(
            f"{key}={_score_text(candidates[key], score)}"
            for key, score in item.scores.items()
            if key in candidates and score is not None  # "not observed" says nothing to coach from
        )
        parts = [item.label, item.source, f"{item.at:%Y-%m}"]
        parts.append(scores or "no scores")
        for field, label in NOTE_LABELS.items():
            text = item.notes.get(field)
            if not text or budget <= 0:
                continue
            clipped = redact(text)[: min(NOTE_CHARS, budget)]
            budget -= len(clipped)
            parts.append(f"{label}: {_quoted(clipped)}")
        lines.append(" | ".join(parts))
    if evidence.steps:
        lines.append("Earlier things to try, newest first:")
        lines += [
            f"{s.week} | {s.kpi.key} | {_quoted(redact(s.text)[:STEP_CHARS])} | {s.outcome_text}"
            for s in evidence.steps
        ]
    return "\n".join(lines)


def _why_text(case: GrowthCase) -> str:
    reasons = []
    if Why.FALLING in case.why:
        reasons.append("falling")
    if Why.LOW in case.why:
        reasons.append("below as expected")
    if Why.LOWER in case.why and case.others is not None:
        reasons.append(f"well below their other KPIs (average {case.others:.1f})")
    return ", ".join(reasons)


def _quoted(text: str) -> str:
    """A JSON string in which ``<`` and ``>`` are escaped too: a note that types
    ``</evidence>`` cannot end the block it sits in."""
    return json.dumps(text, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


def cache_key(*parts: str) -> str:
    """A stable key for "the same evidence asked again": a hash of the whole prompt."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()
