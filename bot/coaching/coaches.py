"""The two coaches and the answer they both give.

The offline coach is rules over the evidence: deterministic, honest about what it is, and
the stand-in whenever the LLM cannot be used. The LLM coach asks any OpenAI-compatible
server through the ``openai`` package and accepts only an answer that passes every check
here; anything else falls back to the offline coach for that draft, with the reason.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import openai
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.coaching.catalog import Catalog, LearningItem
from bot.coaching.evidence import (
    CANDIDATE_KPIS,
    RECENT_WEEKS,
    Evidence,
    KpiTrend,
    Redactor,
    cache_key,
    growth_candidates,
    render_evidence,
    render_kpis,
)
from bot.framework import Dimension, Framework, Kpi
from prompts import Prompt

log = logging.getLogger(__name__)

TEXT_MAX = 500
MAX_AREAS = 3
MAX_LEARNING = 3
CATALOG_PER_KPI = 3  # learning items offered per KPI
CATALOG_OFFERED = 12
OFFLINE = "offline"
LLM = "llm"

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
    """What the prompt's JSON schema describes, with the counts and lengths it cannot say."""

    growth_areas: list[GrowthAreaAnswer] = Field(min_length=1, max_length=MAX_AREAS)
    strength: StrengthAnswer | None = None
    learning: list[LearningAnswer] = Field(default_factory=list, max_length=MAX_LEARNING)


def check_answer(answer: CoachingAnswer, framework: Framework, catalog: Catalog, evidence: Evidence) -> None:
    """Everything the schema cannot check: known KPIs, evidence that exists, catalog items only,
    no verdicts. Raises ``CoachRefused``."""
    keys = {k.key for k in framework.kpis}
    candidates = {t.kpi.key for t in growth_candidates(evidence)[:CANDIDATE_KPIS]}
    labels = {i.label for i in evidence.items}
    for area in answer.growth_areas:
        if area.kpi not in keys:
            # Not quoted: the model's words may be a note's (the reason is logged and stored).
            raise CoachRefused("the answer named a KPI that is not in the framework")
        if area.kpi not in candidates:
            raise CoachRefused("the answer chose a growth area without enough evidence behind it")
        if not set(area.evidence) <= labels:
            raise CoachRefused("the answer cited evidence that does not exist")
        if not {i.label for i in evidence.items if i.scores.get(area.kpi) is not None} & set(area.evidence):
            raise CoachRefused("the answer cited evidence that says nothing about its growth area")
    if answer.strength is not None and (
        answer.strength.kpi not in keys or not set(answer.strength.evidence) <= labels
    ):
        raise CoachRefused("the answer's strength names a KPI or evidence that does not exist")
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
    if any(_VERDICT.search(t) for t in texts):
        raise CoachRefused("the answer contained a rating or a verdict, which a coach never gives")


# -- the offline coach -------------------------------------------------------------------

# What to try, per KPI of the default framework; other frameworks get the generic advice.
_ADVICE: dict[str, tuple[str, str]] = {
    "target": (
        "Agree what done means at the start, in writing, and check progress against it every week.",
        "Write the goal of your current piece of work in one sentence and ask its owner "
        "if it matches theirs.",
    ),
    "quality": (
        "Build review into the work: ask for feedback on drafts early, and keep a checklist of what "
        "went wrong last time.",
        "Before you hand in your next piece of work, ask one colleague to review it against "
        "a short checklist.",
    ),
    "timeliness": (
        "Estimate in ranges, say early when a date slips, and split large work into pieces that finish.",
        "List this week's commitments with dates, and tell people now about any you already doubt.",
    ),
    "inspires": (
        "Connect the team's work to why it matters, and notice and name good work as it happens.",
        "In your next team meeting, say what one person did well and what it made possible.",
    ),
    "decides": (
        "Under pressure, name the decision, its deadline and who decides; decide with the information "
        "you have and say what would change your mind.",
        "Next time a decision stalls, write down the options, pick one by a stated time, and share why.",
    ),
    "innovates": (
        "Make room for small experiments and share what you learn from them, including what failed.",
        "Propose one small, time-boxed experiment to improve how your team works, and report back.",
    ),
    "collaborates": (
        "Bring in the people your work affects early, and make sure quieter voices are heard.",
        "Invite someone from another team to your next planning session, and ask the quietest person first.",
    ),
    "delegates": (
        "Hand over outcomes rather than tasks, with the context and authority to decide, "
        "and agree check-ins.",
        "Pick one task you always do yourself and hand it to a colleague this week, with the "
        "why and a check-in.",
    ),
    "motivates": (
        "Learn what drives each person, and give them work and recognition that fits it.",
        "Ask one person this week what part of their work they enjoy most, and act on it.",
    ),
}


def _advice(kpi: Kpi) -> tuple[str, str]:
    if kpi.key in _ADVICE:
        return _ADVICE[kpi.key]
    return (
        f"Ask two colleagues for one concrete example each of {kpi.label.lower()} done well, and try it.",
        f"Pick one situation this week where {kpi.label.lower()} matters and plan what you "
        "will do differently.",
    )


def _observation(trend: KpiTrend) -> str:
    dimension = "delivery" if trend.kpi.dimension is Dimension.DELIVERY else "leadership"
    if trend.falling:
        return (
            f"{trend.kpi.label} ({dimension}) has fallen over the last {RECENT_WEEKS} weeks, "
            f"across {trend.raters} people's feedback."
        )
    return (
        f"{trend.kpi.label} ({dimension}) has {trend.count} ratings from {trend.raters} people, "
        "and is among the lowest in the feedback."
    )


def offline_answer(framework: Framework, catalog: Catalog, evidence: Evidence) -> CoachingAnswer | None:
    """The KPIs with enough evidence that are falling or lowest become growth areas (at most
    three); the highest other one is the strength. None when no KPI has enough evidence."""
    ordered = growth_candidates(evidence)
    if not ordered:
        return None
    lowest = min(t.average or 0 for t in ordered)
    # A KPI is a growth area when it falls, or sits within half a point of the lowest.
    areas = [t for t in ordered if t.falling or (t.average or 0) <= lowest + 0.5][:MAX_AREAS]
    growth = []
    for trend in areas:
        suggestion, first_step = _advice(trend.kpi)
        growth.append(
            GrowthAreaAnswer(
                kpi=trend.kpi.key,
                observation=_observation(trend),
                suggestion=suggestion,
                first_step=first_step,
                evidence=_evidence_for(evidence, trend.kpi.key),
            )
        )
    others = [t for t in ordered if t not in areas]
    strength = None
    if others:
        best = max(others, key=lambda t: (t.average or 0, t.kpi.key))
        strength = StrengthAnswer(
            kpi=best.kpi.key,
            observation=f"{best.kpi.label} is the strongest in the feedback, from {best.raters} people.",
            evidence=_evidence_for(evidence, best.kpi.key),
        )
    learning: list[LearningAnswer] = []
    for trend in areas:
        for item in catalog.for_kpi(trend.kpi.key):
            if len(learning) < MAX_LEARNING and item.id not in {p.item for p in learning}:
                learning.append(LearningAnswer(item=item.id, reason=f"For {trend.kpi.label.lower()}."))
                break
    return CoachingAnswer(growth_areas=growth, strength=strength, learning=learning)


def _evidence_for(evidence: Evidence, kpi_key: str) -> list[str]:
    """The items that rated this KPI, lowest score first, then newest: at most five."""
    rated = [(i.scores[kpi_key], i) for i in evidence.items if i.scores.get(kpi_key) is not None]
    rated.sort(key=lambda pair: (pair[0], -pair[1].at.timestamp()))
    return [item.label for _, item in rated[:5]]


# -- the LLM coach -----------------------------------------------------------------------


def offered_learning(catalog: Catalog, evidence: Evidence) -> list[LearningItem]:
    """The learning that fits the KPIs worth coaching on, experience first: the whole catalog
    would cost more tokens than the evidence."""
    offered: dict[str, LearningItem] = {}
    for trend in growth_candidates(evidence)[:CANDIDATE_KPIS]:
        for item in catalog.for_kpi(trend.kpi.key)[:CATALOG_PER_KPI]:
            offered.setdefault(item.id, item)
    return list(offered.values())[:CATALOG_OFFERED]


@dataclass(frozen=True)
class PromptInput:
    """The prompt as it will be sent, and the key that says whether it was answered before."""

    system: str
    user: str
    key: str


@dataclass
class LLMReply:
    answer: CoachingAnswer
    prompt_tokens: int = 0
    completion_tokens: int = 0
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
    schema_text = json.dumps(prompt.schema, sort_keys=True)
    return PromptInput(
        system=system, user=user, key=cache_key(prompt.version, model, system, user, schema_text)
    )


class LLMCoach:
    """Asks an OpenAI-compatible server. Structured output (a JSON schema) where the server
    supports it; where it refuses ``json_schema``, JSON mode with the schema in the prompt."""

    def __init__(
        self, *, base_url: str | None, api_key: str, model: str, timeout: float, max_retries: int
    ) -> None:
        self.model = model
        # The openai client retries 429 (honouring Retry-After), 5xx and dropped connections.
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
        )
        self._structured = True

    def ask(self, prompt: Prompt, request: PromptInput) -> LLMReply:
        """The validated answer, or ``CoachRefused`` with the reason."""
        try:
            response = self._complete(prompt, request)
        except openai.APITimeoutError:
            raise CoachRefused("the LLM did not answer in time") from None
        except openai.RateLimitError:
            raise CoachRefused("the LLM server is rate limiting Brickwork (HTTP 429)") from None
        except openai.APIStatusError as error:
            raise CoachRefused(f"the LLM server answered with an error (HTTP {error.status_code})") from None
        except openai.APIConnectionError:
            raise CoachRefused("the LLM server could not be reached") from None
        except openai.OpenAIError as error:  # anything else the client refuses, such as a bad body
            raise CoachRefused(f"the LLM call failed ({type(error).__name__})") from None
        usage = getattr(response, "usage", None)
        tokens = {
            "prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
            "completion_tokens": getattr(usage, "completion_tokens", 0) or 0,
        }
        choices = getattr(response, "choices", None) or []
        content = (getattr(choices[0].message, "content", None) or "") if choices else ""
        try:
            data = json.loads(_strip_fences(content))
        except json.JSONDecodeError:
            raise CoachRefused("the LLM's answer was not valid JSON", **tokens) from None
        try:
            answer = CoachingAnswer.model_validate(data)
        except ValidationError:
            raise CoachRefused("the LLM's answer did not match the expected form", **tokens) from None
        return LLMReply(answer, tokens["prompt_tokens"], tokens["completion_tokens"], content)

    def _complete(self, prompt: Prompt, request: PromptInput) -> Any:
        messages: list[Any] = [
            {"role": "system", "content": request.system},
            {"role": "user", "content": request.user},
        ]
        if self._structured:
            try:
                return self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    response_format={
                        "type": "json_schema",
                        "json_schema": {"name": prompt.name, "schema": prompt.schema, "strict": True},
                    },
                )
            except openai.BadRequestError as error:
                if "response_format" not in str(error) and "json_schema" not in str(error):
                    raise
                log.info("the LLM server does not take a JSON schema; using JSON mode from now on")
                self._structured = False
        schema = json.dumps(prompt.schema, separators=(",", ":"))
        messages[0] = {
            "role": "system",
            "content": f"{request.system}\n\nThe JSON schema of your answer:\n{schema}",
        }
        return self._client.chat.completions.create(
            model=self.model, messages=messages, response_format={"type": "json_object"}
        )


def _strip_fences(content: str) -> str:
    """Some local models wrap JSON in a Markdown code fence even in JSON mode."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text
