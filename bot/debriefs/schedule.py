"""When debrief work is due: 10:00 in the lead's own time zone, on the day chosen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.timekeeping import local_to_utc

DEBRIEF_LOCAL_TIME = time(10, 0)
REMINDER_AFTER_DAYS = 2


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
