"""What a person answers on the two-dimensional form, whichever flow it came from (a debrief, an
answer to a feedback request, feedback given unasked): one model, and the one gate it passes
before it is stored.

First the answers must be valid (every rating, notes within Slack's limit and storable): those
errors always come first and are never skipped. Then the notes are read for coaching value
(``bot.feedback.note_quality``): a form whose notes could be more useful is answered once with
hints and nothing is stored; any later submission of the same form (its Slack view id) is
accepted as it is. A nudge, not a block (Situation-Behaviour-Impact, COACHING.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.errors import InvalidInput
from bot.feedback.note_quality import note_hint
from bot.framework import OUTCOME_SCORES, Framework, KpiKind
from bot.text import checked_text
from storage.db import Database
from storage.models import NOTE_MAX
from storage.repositories import hints as hints_repo

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


def check_answers(
    db: Database, framework: Framework, answers: Answers, *, view_id: str | None, giver: str, now: datetime
) -> Answers:
    """The answers, checked and trimmed; ``InvalidInput`` for invalid answers, or once per view
    for notes worth a hint.

    ``view_id`` None (a caller without a Slack modal) skips the hints. The record that the view
    was hinted is committed before the hints are raised, so a restart or another replica
    accepts the next submission. It is kept per person and view, so nobody can spend another
    person's hint by naming their view.
    """
    answers = validate_answers(framework, answers)
    if not view_id:
        return answers
    hints = note_hints(answers)
    if not hints:
        return answers
    with db.transaction() as session:
        first = hints_repo.claim(session, view_id=f"{giver}:{view_id}"[:64], at=now)
    if first:
        raise InvalidInput(hints)
    return answers


def note_hints(answers: Answers) -> dict[str, str]:
    """note field name -> a short, kind hint, for each non-empty note worth improving."""
    hints: dict[str, str] = {}
    for name in NOTE_FIELDS:
        hint = note_hint(getattr(answers, name))
        if hint is not None:
            hints[name] = hint
    return hints
