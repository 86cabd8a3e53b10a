"""The gate every two-dimensional form passes before it is stored, whichever flow it came from
(a debrief, an answer to a feedback request, feedback given unasked).

First the answers must be valid (every rating, notes within Slack's limit): those errors always
come first and are never skipped. Then the notes are read for coaching value
(``bot.note_quality``): a form whose notes could be more useful is answered once with hints
and nothing is stored; any later submission of the same form (its Slack view id) is accepted
as it is. A nudge, not a block (Situation-Behaviour-Impact, COACHING.md).
"""

from __future__ import annotations

from datetime import datetime

from bot.answers import Answers, validate_answers
from bot.errors import InvalidInput
from bot.framework import Framework
from bot.note_quality import note_hints
from storage.db import Database
from storage.repositories import hints as hints_repo


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
