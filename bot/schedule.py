"""When debrief work is due. Wall-clock arithmetic in the lead's own IANA time zone.

Slack's ``tz_offset`` is a snapshot that goes stale across a DST change, so every time is
computed from the IANA name (``users.info`` ``tz``) for the day it falls on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEBRIEF_LOCAL_TIME = time(10, 0)
REMINDER_AFTER_DAYS = 2


def zone(name: str | None) -> ZoneInfo:
    """The zone for an IANA name; UTC for a missing or unknown one (Slack may send neither)."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_to_utc(day: date, at: time, tz: str | None) -> datetime:
    """``at`` on ``day`` as the people in ``tz`` read their clocks, in UTC.

    For a wall time that does not exist (a spring-forward gap) zoneinfo uses the offset from
    before the change, which lands an hour later on the wall clock: late, never early.
    """
    return datetime.combine(day, at, tzinfo=zone(tz)).astimezone(UTC)


def local_date(moment: datetime, tz: str | None) -> date:
    return moment.astimezone(zone(tz)).date()


@dataclass(frozen=True)
class DebriefSchedule:
    due_at: datetime
    reminder_at: datetime
    closes_at: datetime


def debrief_schedule(end_date: date, offset_days: int, tz: str | None, window_days: int) -> DebriefSchedule:
    """The prompt at 10:00 local on end + offset; one reminder two local days later; closing
    ``window_days`` local days after the prompt, also at 10:00 local."""
    due_day = end_date + timedelta(days=offset_days)
    return DebriefSchedule(
        due_at=local_to_utc(due_day, DEBRIEF_LOCAL_TIME, tz),
        reminder_at=local_to_utc(due_day + timedelta(days=REMINDER_AFTER_DAYS), DEBRIEF_LOCAL_TIME, tz),
        closes_at=local_to_utc(due_day + timedelta(days=window_days), DEBRIEF_LOCAL_TIME, tz),
    )
