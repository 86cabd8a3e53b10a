"""What a person answers on the two-dimensional form, whichever flow it came from (a debrief,
a feedback request, feedback given unasked): one model, one validation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bot.errors import InvalidInput
from bot.framework import OUTCOME_SCORES, Framework, KpiKind
from bot.text import checked_text
from storage.models import NOTE_MAX

NOTE_FIELDS = ("delivery_note", "strengths_note", "growth_note")


@dataclass(frozen=True)
class Answers:
    """kpi key -> score (None = not observed), and the notes.

    ``strengths_note`` is "strengths you saw" in a debrief and "what went well" in feedback;
    ``growth_note`` is "one thing to grow" / "what to try next".
    """

    scores: dict[str, int | None]
    delivery_note: str = ""
    strengths_note: str = ""
    growth_note: str = ""
    missing: frozenset[str] = field(default_factory=frozenset)  # KPIs left unanswered


def validate_answers(framework: Framework, answers: Answers) -> Answers:
    """Every KPI answered within its range, every note within Slack's limit and storable
    (``bot.text.checked_text``); the answers with their notes trimmed, or ``InvalidInput``."""
    errors: dict[str, str] = {}
    for kpi in framework.kpis:
        if kpi.key in answers.missing or kpi.key not in answers.scores:
            errors[kpi.key] = (
                'Pick a rating, or "Not observed".' if kpi.allows_not_observed else "Pick an answer."
            )
            continue
        score = answers.scores[kpi.key]
        if score is None and not kpi.allows_not_observed:
            errors[kpi.key] = "Pick an answer."
        elif score is not None:
            allowed = set(OUTCOME_SCORES.values()) if kpi.kind is KpiKind.OUTCOME else set(range(1, 6))
            if score not in allowed:
                errors[kpi.key] = "That answer is not one of the choices."
    notes: dict[str, str] = {}
    for name in NOTE_FIELDS:
        try:
            notes[name] = checked_text(getattr(answers, name), field=name, limit=NOTE_MAX)
        except InvalidInput as error:
            errors.update(error.fields)
    if errors:
        raise InvalidInput(errors)
    return replace(answers, **notes)
