"""The two coaches and the answer they both give.

The offline coach is rules over the evidence: deterministic, honest about what it is, and
the stand-in whenever the LLM cannot be used. The LLM coach asks any OpenAI-compatible
server through the ``openai`` package and accepts only an answer that passes every check
here; anything else falls back to the offline coach for that draft, with the reason.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from bot.coaching.catalog import Catalog, LearningItem
from bot.coaching.evidence import (
    AS_EXPECTED,
    FALLING_BY,
    RECENT_WEEKS,
    RELATIVE_MARGIN,
    Evidence,
    GrowthCase,
    KpiTrend,
    Redactor,
    TriedStep,
    Why,
    cache_key,
    growth_cases,
    others_average,
    rated,
    render_evidence,
    render_kpis,
)
from bot.framework import Dimension, Framework, Kpi
from bot.settings import ResponseFormat
from prompts import Prompt
from storage.models import StepOutcome

if TYPE_CHECKING:  # imported when an LLM coach is built: it costs ~0.5 s at every start
    import openai

log = logging.getLogger(__name__)

TEXT_MAX = 500
TEXT_MIN = 12  # "Be on time." is about the shortest sentence worth a reviewer's time
MAX_AREAS = 3
MAX_LEARNING = 3
CATALOG_PER_KPI = 3  # learning items offered per KPI
CATALOG_OFFERED = 12
OFFLINE = "offline"
LLM = "llm"

_PLACEHOLDER = re.compile(r"<[^<>\n]{0,80}>|\.\.\.\s*$|^\W*$")
# A coach never hands down a verdict (COACHING.md: good products refuse to suggest ratings).
_VERDICT = re.compile(
    r"\b(promot\w*|demot\w*|rank(ed|ing|s)?|top performer|low performer|underperform\w*|"
    r"fire[ds]?|terminat\w*|pay rise|raise in pay|bonus|"
    r"\d(\.\d)?\s*(/|out of)\s*(5|five|10|ten))\b",
    re.IGNORECASE,
)


class CoachRefused(Exception):
    """The coach's answer cannot be used; ``reason`` says why, in words a manager can read."""

    def __init__(
        self, reason: str, *, prompt_tokens: int | None = None, completion_tokens: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        # What the refused answer cost, when the server answered at all.
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens


# -- the answer --------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class GrowthAreaAnswer(_Strict):
    kpi: str
    observation: str = Field(min_length=1, max_length=TEXT_MAX)
    suggestion: str = Field(min_length=1, max_length=TEXT_MAX)
    first_step: str = Field(min_length=1, max_length=TEXT_MAX)
    evidence: list[str] = Field(min_length=1, max_length=30)


class StrengthAnswer(_Strict):
    kpi: str
    observation: str = Field(min_length=1, max_length=TEXT_MAX)
    evidence: list[str] = Field(default_factory=list, max_length=30)


class LearningAnswer(_Strict):
    item: str
    reason: str = Field(min_length=1, max_length=TEXT_MAX)


class CoachingAnswer(_Strict):
    """What the prompt's JSON schema describes, with the counts and lengths it cannot say.

    Either growth areas, or — when the data shows none (``evidence.growth_cases`` is empty) —
    ``stretch``: how to stretch a strength instead. Only the offline coach writes a stretch;
    the LLM is asked only when there is a growth area to coach."""

    growth_areas: list[GrowthAreaAnswer] = Field(default_factory=list, max_length=MAX_AREAS)
    strength: StrengthAnswer | None = None
    learning: list[LearningAnswer] = Field(default_factory=list, max_length=MAX_LEARNING)
    stretch: GrowthAreaAnswer | None = None

    @model_validator(mode="after")
    def _areas_or_stretch(self) -> CoachingAnswer:
        if bool(self.growth_areas) == (self.stretch is not None):
            raise ValueError("an answer has growth areas, or a strength to stretch when there are none")
        return self


def check_answer(answer: CoachingAnswer, framework: Framework, catalog: Catalog, evidence: Evidence) -> None:
    """Everything the schema cannot check: growth areas the data makes growth areas, evidence
    that exists and is about them, observations that agree with the figures, catalog items
    only, no verdicts, no thing to try the person turned down. Raises ``CoachRefused``."""
    keys = {k.key for k in framework.kpis}
    cases = {c.kpi.key: c for c in growth_cases(evidence)}
    trends = {t.kpi.key: t for t in rated(evidence)}
    labels = {i.label for i in evidence.items}
    if answer.stretch is not None:
        raise CoachRefused("the answer stretched a strength, which only the offline coach does")
    for area in answer.growth_areas:
        if area.kpi not in keys:
            # Not quoted: the model's words may be a note's (the reason is logged and stored).
            raise CoachRefused("the answer named a KPI that is not in the framework")
        if area.kpi not in trends:
            raise CoachRefused("the answer chose a growth area without enough evidence behind it")
        if area.kpi not in cases:
            raise CoachRefused(
                "the answer chose a growth area the scores do not show (not below as expected, "
                "not clearly below the other KPIs, not falling)"
            )
        if not set(area.evidence) <= labels:
            raise CoachRefused("the answer cited evidence that does not exist")
        if not {i.label for i in evidence.items if i.scores.get(area.kpi) is not None} & set(area.evidence):
            raise CoachRefused("the answer cited evidence that says nothing about its growth area")
        check_claims(area.observation, trends[area.kpi], evidence)
    if answer.strength is not None:
        if answer.strength.kpi not in trends or not set(answer.strength.evidence) <= labels:
            raise CoachRefused("the answer's strength names a KPI or evidence that does not exist")
        if answer.strength.kpi in cases:
            raise CoachRefused("the answer named the same KPI a growth area and a strength")
        check_claims(answer.strength.observation, trends[answer.strength.kpi], evidence)
    if len({a.kpi for a in answer.growth_areas}) != len(answer.growth_areas):
        raise CoachRefused("the answer named the same growth area twice")
    for pick in answer.learning:
        if pick.item not in catalog:
            raise CoachRefused("the answer recommended learning that is not in the catalog")
    if not answer.learning and offered_learning(catalog, evidence):
        raise CoachRefused("the answer recommended no learning")
    texts = [t for a in answer.growth_areas for t in (a.observation, a.suggestion, a.first_step)]
    texts += [p.reason for p in answer.learning]
    if answer.strength is not None:
        texts.append(answer.strength.observation)
    if any(_PLACEHOLDER.search(t) for t in texts):
        # A small model fills the form with the form: "<text>" passes every other check.
        raise CoachRefused("the answer copied the placeholders of its template instead of writing")
    if any(len(t) < TEXT_MIN for t in texts):
        raise CoachRefused(f"the answer left a text shorter than {TEXT_MIN} characters")
    if any(_VERDICT.search(t) for t in texts):
        raise CoachRefused("the answer contained a rating or a verdict, which a coach never gives")
    refused, _ = _answered(evidence.steps)
    for area in answer.growth_areas:
        said = _normal(f"{area.suggestion} {area.first_step}")
        if any(step in said for step in refused):
            raise CoachRefused("the answer suggested again a thing to try the person said was not for them")


# -- what an observation may say about the data ------------------------------------------
# An observation is about figures the reader can check: a claim that contradicts them is
# refused like a made-up citation. These are the claims a coach makes in practice; words
# outside them (advice, behaviour) are not judged here.

_FIGURE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?!\w|\.\d)")
_COUNTED = re.compile(r"(?<![\w.])(\d+)\s+(people|persons|raters|colleagues|ratings|reviews|weeks)\b", re.I)
_FALLING = re.compile(
    r"\b(fall(s|en|ing)?|fell|declin\w*|dropp?(ed|ing|s)?|decreas\w*|slipp\w*|worsen\w*)\b", re.I
)
_ROSE = re.compile(
    r"\b((has|have) (improved|risen|increased|grown)|rose|improved from|increased from)\b", re.I
)
_LOWEST = re.compile(r"\b(lowest|weakest|worst)\b", re.I)
_HIGHEST = re.compile(r"\b(highest|strongest|best|top[- ]rated)\b", re.I)
_BELOW = re.compile(r"\bbelow\s+(what is\s+|what was\s+)?[\"'‘“]?(as\s+)?expect", re.I)
_ABOVE = re.compile(r"\babove\s+(what is\s+|what was\s+)?[\"'‘“]?(as\s+)?expect", re.I)
_TOLERANCE = 0.051  # figures are shown with one decimal
_NEGATED = re.compile(r"\b(not|no|none|never|nor|without|isn't|hasn't|neither)\b[^.;]{0,40}$", re.I)


def _claims(pattern: re.Pattern[str], text: str) -> bool:
    """Whether ``text`` asserts what ``pattern`` matches: "none is falling" does not."""
    return any(not _NEGATED.search(text[: m.start()]) for m in pattern.finditer(text))


def check_claims(text: str, trend: KpiTrend, evidence: Evidence) -> None:
    """Refuse an observation about ``trend``'s KPI that contradicts the figures: a number that is
    none of the figures, a count that is not the count, "falling" for a KPI that is not, "lowest"
    or "highest" for one that is not, "below expectations" for one that is not below 3."""
    everyone = rated(evidence)
    figures = {AS_EXPECTED, RELATIVE_MARGIN, FALLING_BY}  # the rules' own thresholds
    for t in everyone:
        others = others_average(evidence, t.kpi.key)
        figures |= {f for f in (t.average, t.recent, t.earlier, others) if f is not None}
        if others is not None and t.average is not None:
            figures.add(round(abs(others - t.average), 2))  # "1.2 below the others"
        if t.recent is not None and t.earlier is not None:
            figures.add(round(abs(t.earlier - t.recent), 2))  # "down 0.8"
    counts = {n for t in everyone for n in (t.count, t.raters)} | {RECENT_WEEKS}
    counted = {m.start(1) for m in _COUNTED.finditer(text)}
    for match in _COUNTED.finditer(text):
        if int(match.group(1)) not in counts:
            raise CoachRefused("the answer's observation gave a count the feedback does not have")
    for match in _FIGURE.finditer(text):
        if match.start(1) in counted:
            continue
        value = float(match.group(1))
        if "." in match.group(1) and not any(abs(value - f) < _TOLERANCE for f in figures):
            raise CoachRefused("the answer's observation gave a figure the scores do not have")
    averages = [t.average for t in everyone if t.average is not None]
    average = trend.average if trend.average is not None else 0.0
    moved_down = trend.recent is not None and trend.earlier is not None and trend.recent < trend.earlier
    moved_up = trend.recent is not None and trend.earlier is not None and trend.recent > trend.earlier
    if _claims(_FALLING, text) and not moved_down:
        raise CoachRefused("the answer's observation says a KPI is falling when its scores are not")
    if _claims(_ROSE, text) and not moved_up:
        raise CoachRefused("the answer's observation says a KPI has improved when its scores have not")
    if _claims(_LOWEST, text) and average > min(averages):
        raise CoachRefused("the answer's observation calls a KPI the lowest when it is not")
    if _claims(_HIGHEST, text) and average < max(averages):
        raise CoachRefused("the answer's observation calls a KPI the highest when it is not")
    if _claims(_BELOW, text) and not average < AS_EXPECTED:
        raise CoachRefused("the answer's observation says a KPI is below expectations when it is not")
    if _claims(_ABOVE, text) and not average > AS_EXPECTED:
        raise CoachRefused("the answer's observation says a KPI is above expectations when it is not")


# -- the offline coach -------------------------------------------------------------------

# What to try, per KPI of the default framework: the suggestion, then things to try this week, the
# first of them the digest's; other frameworks get the generic advice.
_ADVICE: dict[str, tuple[str, tuple[str, ...]]] = {
    "target": (
        "Agree what done means at the start, in writing, and check progress against it every week.",
        (
            "Write the goal of your current piece of work in one sentence and ask its owner "
            "if it matches theirs.",
            "At the start of your next task, write down what done looks like and check it with "
            "whoever receives the work.",
            "Halfway through your current piece of work, compare where it stands with its goal and "
            "say what you will cut or change.",
        ),
    ),
    "quality": (
        "Build review into the work: ask for feedback on drafts early, and keep a checklist of what "
        "went wrong last time.",
        (
            "Before you hand in your next piece of work, ask one colleague to review it against "
            "a short checklist.",
            "Write down three things that went wrong in past work, and check your next hand-over "
            "against them.",
            "Share an early draft of your next piece of work while it is still easy to change, and ask "
            "what is missing.",
        ),
    ),
    "timeliness": (
        "Estimate in ranges, say early when a date slips, and split large work into pieces that finish.",
        (
            "List this week's commitments with dates, and tell people now about any you already doubt.",
            "Split your largest open task into pieces of a day or two, and give a date for the first one.",
            "For your next estimate, give a range rather than a date, and say what would move it.",
        ),
    ),
    "inspires": (
        "Connect the team's work to why it matters, and notice and name good work as it happens.",
        (
            "In your next team meeting, say what one person did well and what it made possible.",
            "Tell your team in two sentences why the current piece of work matters to the people who use it.",
            "Thank one colleague this week in writing, naming exactly what they did and why it helped.",
        ),
    ),
    "decides": (
        "Under pressure, name the decision, its deadline and who decides; decide with the information "
        "you have and say what would change your mind.",
        (
            "Next time a decision stalls, write down the options, pick one by a stated time, and share why.",
            "For one open decision this week, name who decides and by when, and tell everyone involved.",
            "After your next decision under time pressure, write down what you knew, what you chose and "
            "what would change your mind.",
        ),
    ),
    "innovates": (
        "Make room for small experiments and share what you learn from them, including what failed.",
        (
            "Propose one small, time-boxed experiment to improve how your team works, and report back.",
            "Share with your team one thing you tried that did not work, and what you learned from it.",
            "Ask your team for one habit they would change, and try the change for a week.",
        ),
    ),
    "collaborates": (
        "Bring in the people your work affects early, and make sure quieter voices are heard.",
        (
            "Invite someone from another team to your next planning session, and ask the quietest "
            "person first.",
            "Before your next decision that affects another team, ask them for their view and say how "
            "you used it.",
            "In your next meeting, make sure each person has spoken before you give your own view.",
        ),
    ),
    "delegates": (
        "Hand over outcomes rather than tasks, with the context and authority to decide, "
        "and agree check-ins.",
        (
            "Pick one task you always do yourself and hand it to a colleague this week, with the "
            "why and a check-in.",
            "Hand over one decision, not just a task, this week, and agree when you will check in.",
            "List what only you can do this week, and offer one thing not on the list to a colleague "
            "who wants to grow.",
        ),
    ),
    "motivates": (
        "Learn what drives each person, and give them work and recognition that fits it.",
        (
            "Ask one person this week what part of their work they enjoy most, and act on it.",
            "When the work gets hard this week, name the progress made so far and the next small goal.",
            "Ask one colleague what gets in the way of their work, and remove one obstacle.",
        ),
    ),
}


def first_step(kpi: Kpi) -> str:
    """One concrete thing to try this week on ``kpi`` (the offline coach's first step)."""
    return steps_for(kpi)[0]


def stretch_step(kpi: Kpi) -> str:
    """One concrete thing to try on a strength: stretch it."""
    return (
        f"Offer to lead or mentor on {kpi.label.lower()} in one piece of work this month, and ask "
        "for feedback on how it went."
    )


def steps_for(kpi: Kpi) -> tuple[str, ...]:
    """Every thing to try on ``kpi`` the offline coach knows, ``first_step`` first: the KPI's own,
    then the generic ones (so that there is always one the person has not turned down)."""
    return tuple(dict.fromkeys(_advice(kpi)[1] + _generic(kpi)[1]))


def next_step(kpi: Kpi, steps: Sequence[TriedStep]) -> str:
    """What to try next on ``kpi`` after its earlier things to try (``steps``, newest first):
    never one the person said was not for them; after one they tried, another one; else (not
    tried yet, or no answer) the first."""
    refused, tried = _answered(steps)
    known = steps_for(kpi)
    open_ = [t for t in known if _normal(t) not in refused]
    fresh = [t for t in open_ if _normal(t) not in tried]
    return (fresh or open_ or known)[0]  # more steps are known than MAX_STEPS can turn down


def _offline_first_step(kpi: Kpi, steps: Sequence[TriedStep]) -> str:
    """The offline coach's first step, aware of how the person last said a thing to try on
    ``kpi`` went (the digest may have suggested it again since, unanswered)."""
    step = next_step(kpi, steps)
    last = next((s for s in steps if s.outcome is not None), None)
    if last is not None and last.outcome is StepOutcome.TRIED and _normal(last.text) != _normal(step):
        return f"Last time you tried “{_clipped(last.text)}”; next, {_lower_first(step)}"
    if last is not None and last.outcome is StepOutcome.NOT_FOR_ME:
        return f"Something different from last time: {step}"
    return step


def _answered(steps: Sequence[TriedStep]) -> tuple[set[str], set[str]]:
    """The steps (normalised) whose latest answer was "not for me", and those it was "tried". The
    digest can suggest the same step in several weeks: the newest answer is what stands."""
    latest: dict[str, StepOutcome] = {}
    for tried in steps:  # newest first
        if tried.outcome is not None:
            latest.setdefault(_normal(tried.text), tried.outcome)
    refused = {t for t, o in latest.items() if o is StepOutcome.NOT_FOR_ME and t}
    return refused, {t for t, o in latest.items() if o is StepOutcome.TRIED}


def _normal(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(" .!")


def _clipped(text: str, limit: int = 160) -> str:
    text = text.strip().rstrip(" .")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _advice(kpi: Kpi) -> tuple[str, tuple[str, ...]]:
    return _ADVICE.get(kpi.key) or _generic(kpi)


def _generic(kpi: Kpi) -> tuple[str, tuple[str, ...]]:
    label = kpi.label.lower()
    return (
        f"Ask two colleagues for one concrete example each of {label} done well, and try it.",
        (
            f"Pick one situation this week where {label} matters and plan what you will do differently.",
            f"Ask a colleague who is good at “{kpi.label}” how they go about it, and try one thing they do.",
            f"At the end of this week, note one moment where “{kpi.label}” mattered and what you would do "
            "next time.",
        ),
    )


def _dimension(kpi: Kpi) -> str:
    return "delivery" if kpi.dimension is Dimension.DELIVERY else "leadership"


def _observation(case: GrowthCase) -> str:
    """What the figures show, in the words ``check_claims`` holds every coach to."""
    trend, label = case.trend, case.kpi.label
    people = f"{trend.raters} people"
    if Why.FALLING in case.why:
        assert trend.recent is not None and trend.earlier is not None
        text = (
            f"{label} ({_dimension(case.kpi)}) fell from {trend.earlier:.1f} to {trend.recent:.1f} over "
            f"the last {RECENT_WEEKS} weeks, in the feedback of {people}."
        )
        if Why.LOW in case.why:
            text += f" Its average, {case.average:.1f}, is below as expected (3)."
        return text
    if Why.LOW in case.why:
        return (
            f"{label} ({_dimension(case.kpi)}) averages {case.average:.1f} from {people}, below "
            "as expected (3)."
        )
    assert case.others is not None
    return (
        f"{label} ({_dimension(case.kpi)}) averages {case.average:.1f} from {people}, "
        f"{case.others - case.average:.1f} below the average of the other KPIs ({case.others:.1f})."
    )


def _stretch(trend: KpiTrend, evidence: Evidence) -> GrowthAreaAnswer:
    """No growth area in the data: say so, and how to stretch the strongest KPI instead."""
    label = trend.kpi.label
    return GrowthAreaAnswer(
        kpi=trend.kpi.key,
        observation=(
            "No growth area stands out: no KPI is below as expected (3), none is a whole point "
            f"({RELATIVE_MARGIN:.1f}) or more below the others, and none is falling. {label} is rated "
            f"highest ({trend.average:.1f} from {trend.raters} people)."
        ),
        suggestion=(
            f"Stretch this strength: take on work where {label.lower()} is the hard part, "
            "or help someone else build it."
        ),
        first_step=stretch_step(trend.kpi),
        evidence=_evidence_for(evidence, trend.kpi.key, highest_first=True),
    )


def offline_answer(framework: Framework, catalog: Catalog, evidence: Evidence) -> CoachingAnswer | None:
    """Growth areas are the KPIs the data makes growth areas (``growth_cases``: below as
    expected, clearly below the others, or falling), at most three; the highest other KPI is
    the strength. With none, a strength to stretch. None when no KPI has enough evidence.
    A growth area's first step follows the person's earlier things to try (``next_step``)."""
    everyone = rated(evidence)
    if not everyone:
        return None
    cases = growth_cases(evidence)[:MAX_AREAS]
    if not cases:
        best = max(everyone, key=lambda t: (t.average or 0, t.kpi.key))
        learning = [
            LearningAnswer(item=item.id, reason=f"To stretch {best.kpi.label.lower()}.")
            for item in catalog.for_kpi(best.kpi.key)[:1]
        ]
        return CoachingAnswer(stretch=_stretch(best, evidence), learning=learning)
    growth = []
    for case in cases:
        suggestion, _ = _advice(case.kpi)
        growth.append(
            GrowthAreaAnswer(
                kpi=case.kpi.key,
                observation=_observation(case),
                suggestion=suggestion,
                first_step=_offline_first_step(case.kpi, evidence.steps_for(case.kpi.key)),
                evidence=_evidence_for(evidence, case.kpi.key),
            )
        )
    growing = {c.kpi.key for c in growth_cases(evidence)}
    others = [t for t in everyone if t.kpi.key not in growing]
    strength = None
    if others:
        best = max(others, key=lambda t: (t.average or 0, t.kpi.key))
        top = max(t.average or 0 for t in everyone)
        figures = f"{best.average:.1f} from {best.raters} people"
        observation = (
            f"{best.kpi.label} is rated highest ({figures})."
            if (best.average or 0) >= top
            else f"{best.kpi.label} is rated {figures}, as high as any KPI not named above."
        )
        strength = StrengthAnswer(
            kpi=best.kpi.key,
            observation=observation,
            evidence=_evidence_for(evidence, best.kpi.key, highest_first=True),
        )
    learning: list[LearningAnswer] = []
    for case in cases:
        for item in catalog.for_kpi(case.kpi.key):
            if len(learning) < MAX_LEARNING and item.id not in {p.item for p in learning}:
                learning.append(LearningAnswer(item=item.id, reason=f"For {case.kpi.label.lower()}."))
                break
    return CoachingAnswer(growth_areas=growth, strength=strength, learning=learning)


def _evidence_for(evidence: Evidence, kpi_key: str, *, highest_first: bool = False) -> list[str]:
    """The items that rated this KPI, lowest score first (highest for a strength), then newest:
    at most five."""
    scored = [(i.scores[kpi_key], i) for i in evidence.items if i.scores.get(kpi_key) is not None]
    sign = -1 if highest_first else 1
    scored.sort(key=lambda pair: (sign * (pair[0] or 0), -pair[1].at.timestamp()))
    return [item.label for _, item in scored[:5]]


# -- the LLM coach -----------------------------------------------------------------------


def offered_learning(catalog: Catalog, evidence: Evidence) -> list[LearningItem]:
    """The learning that fits the growth areas, experience first: the whole catalog would
    cost more tokens than the evidence."""
    offered: dict[str, LearningItem] = {}
    for case in growth_cases(evidence):
        for item in catalog.for_kpi(case.kpi.key)[:CATALOG_PER_KPI]:
            offered.setdefault(item.id, item)
    return list(offered.values())[:CATALOG_OFFERED]


def answer_schema(base: dict[str, Any], catalog: Catalog, evidence: Evidence) -> dict[str, Any]:
    """The answer's JSON schema for this evidence: enums of the growth areas the data shows,
    the evidence ids and the catalog ids offered, so that a server that constrains its output
    to the schema can only cite what exists."""
    schema = copy.deepcopy(base)
    properties = schema["properties"]
    cases = growth_cases(evidence)
    area = properties["growth_areas"]["items"]["properties"]
    area["kpi"]["enum"] = [c.kpi.key for c in cases]
    about = {c.kpi.key for c in cases}
    area["evidence"]["items"]["enum"] = [
        i.label for i in evidence.items if any(i.scores.get(k) is not None for k in about)
    ]
    strengths = [t.kpi.key for t in rated(evidence) if t.kpi.key not in about]
    if strengths:
        strength = properties["strength"]["anyOf"][0]["properties"]
        strength["kpi"]["enum"] = strengths
        strength["evidence"]["items"]["enum"] = [i.label for i in evidence.items]
    else:
        properties["strength"] = {"type": "null"}
    offered = offered_learning(catalog, evidence)
    if offered:
        properties["learning"]["items"]["properties"]["item"]["enum"] = [i.id for i in offered]
    else:  # nothing to recommend: the answer has no learning (strict schemas require every key)
        del properties["learning"]
        schema["required"] = [k for k in schema["required"] if k != "learning"]
    return schema


def answer_shape(schema: dict[str, Any]) -> str:
    """The schema as a prompt carries it when the server does not take it as a schema: the shape
    of the answer in one line, a tenth of the schema's tokens. Short enums are spelled out; long
    ones (evidence ids) point at the lists the prompt gives; the checks hold the rest."""

    def shape(node: dict[str, Any]) -> str:
        if "anyOf" in node:
            return " or ".join(shape(option) for option in node["anyOf"])
        kind = node.get("type")
        if kind == "object":
            return "{" + ", ".join(f'"{k}": {shape(v)}' for k, v in node["properties"].items()) + "}"
        if kind == "array":
            return f"[{shape(node['items'])}, ...]"
        if kind == "null":
            return "null"
        values = node.get("enum")
        if values and len(values) <= 6:
            return " | ".join(f'"{v}"' for v in values)
        if values:
            return '"<an id listed above>"'
        described = str(node.get("description", "text")).rstrip(".").lower()
        return f'"<{described}>"'

    return shape(schema)


@dataclass(frozen=True)
class PromptInput:
    """The prompt as it will be sent, and the key that says whether it was answered before."""

    system: str
    user: str
    key: str
    name: str = "coaching"
    schema: dict[str, Any] = field(default_factory=dict)


@dataclass
class LLMReply:
    answer: CoachingAnswer
    prompt_tokens: int | None = None  # as the server counted them; None when it did not say
    completion_tokens: int | None = None
    raw: str = field(default="", repr=False)


def build_prompt(
    prompt: Prompt,
    framework: Framework,
    catalog: Catalog,
    evidence: Evidence,
    redact: Redactor,
    *,
    model: str,
    for_self: bool,
) -> PromptInput:
    reader = "the person themself" if for_self else "their manager"
    addressee = "the person, as 'you'" if for_self else "the manager, about the person as 'they'"
    system = prompt.system.format(reader=reader, addressee=addressee)
    catalog_lines = "\n".join(
        f"{item.id}: {item.title} ({item.kind.value}; KPIs: {', '.join(item.kpis)})"
        for item in offered_learning(catalog, evidence)
    )
    user = prompt.user(
        kpis=render_kpis(framework),
        evidence=render_evidence(framework, evidence, redact),
        catalog=catalog_lines,
    )
    schema = answer_schema(prompt.schema, catalog, evidence)
    schema_text = json.dumps(schema, sort_keys=True)
    return PromptInput(
        system=system,
        user=user,
        key=cache_key(prompt.version, model, system, user, schema_text),
        name=prompt.name,
        schema=schema,
    )


RETRY_AFTER_MAX = 20.0  # seconds: a server that asks to wait longer is not waited for


def _retry_after(error: BaseException) -> float | None:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _retryable(error: BaseException) -> bool:
    """Retry only what the server did not work on: 429 and 503 (it said so) and connections it
    refused. Never a timeout: a local server keeps generating for a client that gave up, and a
    retry would queue behind it."""
    import openai

    if isinstance(error, openai.APITimeoutError):
        return False
    if isinstance(error, openai.RateLimitError | openai.InternalServerError):
        status = getattr(error, "status_code", 0)
        if status not in (429, 503):
            return False
        after = _retry_after(error)
        return after is None or after <= RETRY_AFTER_MAX
    return isinstance(error, openai.APIConnectionError)


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome is not None else None
    after = _retry_after(error) if error is not None else None
    return after if after is not None else min(8.0, 0.5 * 2 ** (state.attempt_number - 1))


def _refuses_format(error: openai.APIStatusError) -> bool:
    """The server refused the response format (whatever the status: llama-cpp-python answers
    ``json_schema`` with HTTP 500 "Input should be 'text' or 'json_object'")."""
    body = error.body if isinstance(error.body, dict) else {}
    param = str(body.get("param") or "")
    text = f"{error.message} {param}".lower()
    return param.startswith("response_format") or any(
        word in text for word in ("response_format", "json_schema", "json_object", "'schema'")
    )


def _context_overflow(error: openai.APIStatusError) -> bool:
    text = str(error.message).lower()
    return "context" in text and any(w in text for w in ("exceed", "length", "window", "too long"))


def parse_answer_json(content: str) -> Any:
    """The JSON object in an answer, read as leniently as is safe: a Markdown fence around it,
    prose before or after it, raw newlines inside its strings (grammar-constrained output has
    them). What it says is then checked field by field."""
    text = _strip_fences(content)
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            return json.loads(text[start : end + 1], strict=False)
        raise


class LLMCoach:
    """Asks an OpenAI-compatible server for a draft, within a bounded answer (``max_tokens``).

    The response format is ``response_format`` (``OPENAI_RESPONSE_FORMAT``); ``auto`` tries a JSON
    schema, then JSON mode with the schema inline, then plain JSON mode, each time the server
    refuses the format, and keeps what worked for the next draft."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str,
        model: str,
        timeout: float,
        max_retries: int,
        max_tokens: int = 1200,
        response_format: ResponseFormat = ResponseFormat.AUTO,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        import openai

        # Retries are ours (``_retryable``): the client's own would also retry timeouts.
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)
        self._retries = max_retries
        self._formats = (
            [ResponseFormat.JSON_SCHEMA, ResponseFormat.JSON_OBJECT_SCHEMA, ResponseFormat.JSON_OBJECT]
            if response_format is ResponseFormat.AUTO
            else [response_format]
        )
        self._lock = threading.Lock()

    @property
    def response_format(self) -> ResponseFormat:
        """The format the next draft asks for first."""
        with self._lock:
            return self._formats[0]

    def ask(self, request: PromptInput) -> LLMReply:
        """The parsed answer, or ``CoachRefused`` with the reason."""
        response = self._complete(request)
        usage = getattr(response, "usage", None)
        tokens = {
            "prompt_tokens": getattr(usage, "prompt_tokens", None),
            "completion_tokens": getattr(usage, "completion_tokens", None),
        }
        choices = getattr(response, "choices", None) or []
        if choices and getattr(choices[0], "finish_reason", None) == "length":
            raise CoachRefused(
                f"the LLM's answer was cut off at OPENAI_MAX_TOKENS ({self.max_tokens} tokens)", **tokens
            )
        content = (getattr(choices[0].message, "content", None) or "") if choices else ""
        try:
            data = parse_answer_json(content)
        except json.JSONDecodeError:
            raise CoachRefused("the LLM's answer was not valid JSON", **tokens) from None
        try:
            answer = CoachingAnswer.model_validate(data)
        except ValidationError:
            raise CoachRefused("the LLM's answer did not match the expected form", **tokens) from None
        return LLMReply(answer, tokens["prompt_tokens"], tokens["completion_tokens"], content)

    def _complete(self, request: PromptInput) -> Any:
        import openai

        while True:
            mode = self.response_format
            try:
                return self._create(mode, request)
            except openai.APIStatusError as error:
                if _refuses_format(error) and self._give_up_format(mode):
                    continue
                if _context_overflow(error):
                    raise CoachRefused(
                        "the prompt does not fit the model's context window: give the server a "
                        "larger context (llama.cpp: --n_ctx 4096 or more)"
                    ) from None
                if isinstance(error, openai.RateLimitError):
                    raise CoachRefused("the LLM server is rate limiting Brickwork (HTTP 429)") from None
                raise CoachRefused(
                    f"the LLM server answered with an error (HTTP {error.status_code})"
                ) from None
            except openai.APITimeoutError:
                raise CoachRefused("the LLM did not answer in time") from None
            except openai.APIConnectionError:
                raise CoachRefused("the LLM server could not be reached") from None
            except openai.OpenAIError as error:  # anything else the client refuses, such as a bad body
                raise CoachRefused(f"the LLM call failed ({type(error).__name__})") from None

    def _give_up_format(self, mode: ResponseFormat) -> bool:
        """Drop a refused format when another is left to try; False when none is."""
        with self._lock:
            if self._formats[0] is not mode:
                return True  # another draft has moved on meanwhile: ask in its format
            if len(self._formats) == 1:
                return False
            self._formats.pop(0)
            log.info(
                "the LLM server refused response_format %s; using %s from now on", mode, self._formats[0]
            )
            return True

    def _create(self, mode: ResponseFormat, request: PromptInput) -> Any:
        system = request.system
        response_format: dict[str, Any]
        if mode is ResponseFormat.JSON_SCHEMA:
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": request.name, "schema": request.schema, "strict": True},
            }
        else:
            # The server does not see the schema as one (or only as a grammar): the prompt
            # carries the answer's shape.
            system = f"{system}\n\nYour answer's shape:\n{answer_shape(request.schema)}"
            response_format = {"type": "json_object"}
            if mode is ResponseFormat.JSON_OBJECT_SCHEMA:
                response_format["schema"] = request.schema
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self._retries + 1),
            wait=_wait,
            reraise=True,
        )
        return retrying(
            self._client.chat.completions.create,
            model=self.model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": request.user}],
            response_format=response_format,
            max_tokens=self.max_tokens,
        )


def _strip_fences(content: str) -> str:
    """Some local models wrap JSON in a Markdown code fence even in JSON mode."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text
