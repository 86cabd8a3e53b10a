"""The audit trail: one row per admin action or refused attempt, written in the transaction
of the change it records where there is one (a forgotten person, an imported org chart), so
the change and its record land together or not at all.

What a row holds: the actor's Slack id, the action, its target (a Slack user id or file id),
the outcome and a detail made of counts and fixed phrases — never feedback, never a giver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from storage.db import Database
from storage.models import AuditAction, AuditOutcome
from storage.repositories import audit as audit_repo

SUMMARY_DAYS = 30
RECENT_LINES = 20


@dataclass(frozen=True)
class AuditLine:
    actor: str  # Slack user id
    action: AuditAction
    target: str
    outcome: AuditOutcome
    detail: str
    at: datetime


@dataclass(frozen=True)
class AuditSummary:
    since: datetime
    counts: dict[tuple[AuditAction, AuditOutcome], int]  # over ``since`` .. now
    recent: tuple[AuditLine, ...]  # newest first


class AuditTrail:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db, self._clock = db, clock

    def write(
        self,
        session: Session,
        *,
        actor: str,
        action: AuditAction,
        target: str,
        outcome: AuditOutcome,
        detail: str = "",
    ) -> None:
        """One row, in the caller's transaction."""
        audit_repo.record(
            session,
            actor_slack_id=actor,
            action=action,
            target=target,
            outcome=outcome,
            detail=detail,
            at=self._clock(),
        )

    def record(
        self, *, actor: str, action: AuditAction, target: str, outcome: AuditOutcome, detail: str = ""
    ) -> None:
        """One row, in a transaction of its own (a refusal, a failure, a view: nothing else changed)."""
        with self._db.transaction() as session:
            self.write(session, actor=actor, action=action, target=target, outcome=outcome, detail=detail)

    def summary(self) -> AuditSummary:
        since = self._clock() - timedelta(days=SUMMARY_DAYS)
        with self._db.transaction() as session:
            counts = audit_repo.counts_since(session, since)
            rows = audit_repo.recent(session, limit=RECENT_LINES)
        recent = tuple(
            AuditLine(
                actor=row.actor_slack_id,
                action=row.action,
                target=row.target,
                outcome=row.outcome,
                detail=row.detail,
                at=row.at,
            )
            for row in rows
        )
        return AuditSummary(since=since, counts=counts, recent=recent)
