"""The admins' audit trail: one row per admin action (or attempt), newest first when read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import AUDIT_DETAIL_MAX, AUDIT_TARGET_MAX, AuditAction, AuditEntry, AuditOutcome


def record(
    session: Session,
    *,
    actor_slack_id: str,
    action: AuditAction,
    target: str,
    outcome: AuditOutcome,
    detail: str,
    at: datetime,
) -> AuditEntry:
    entry = AuditEntry(
        actor_slack_id=actor_slack_id[:32],
        action=action,
        target=target[:AUDIT_TARGET_MAX],
        outcome=outcome,
        detail=detail[:AUDIT_DETAIL_MAX],
        at=at,
    )
    session.add(entry)
    session.flush()
    return entry


def recent(session: Session, *, limit: int) -> list[AuditEntry]:
    newest_first = (col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
    return list(session.exec(select(AuditEntry).order_by(*newest_first).limit(limit)))


def counts_since(session: Session, since: datetime) -> dict[tuple[AuditAction, AuditOutcome], int]:
    """How many times each action ended each way since ``since``."""
    rows = session.exec(
        select(AuditEntry.action, AuditEntry.outcome, func.count())
        .where(col(AuditEntry.at) >= since)
        .group_by(AuditEntry.action, AuditEntry.outcome)
    )
    return {(AuditAction(action), AuditOutcome(outcome)): int(n) for action, outcome, n in rows}
