"""When debrief work is due: 10:00 in each person's own time zone, on a working day.

A debrief is asked for on a calendar day (the project's end plus the chosen offset). Each person
is prompted at 10:00 their own time on that day, or on the next working day when it is not one
(a project that ends on a Friday, debriefed "the day after", is prompted on Monday); reminded two
working days later; and the window closes at 10:00 the lead's time, ``window_days`` after the
prompt day, moved to a working day the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.timekeeping import MONDAY_TO_FRIDAY, WorkingDays, local_to_utc

DEBRIEF_LOCAL_TIME = time(10, 0)
REMINDER_AFTER_WORKING_DAYS = 2


@dataclass(frozen=True)
class DebriefSchedule:
    day: date  # the day asked for: end date plus offset, working day or not
    window_days: int
    working: WorkingDays = MONDAY_TO_FRIDAY

    @property
    def prompt_day(self) -> date:
        return self.working.on_or_after(self.day)

    def prompt_at(self, tz: str | None) -> datetime:
        """When someone in ``tz`` is prompted: 10:00 their time on the prompt day."""
        return local_to_utc(self.prompt_day, DEBRIEF_LOCAL_TIME, tz)

    def reminder_at(self, tz: str | None) -> datetime:
        day = self.working.after(self.prompt_day, REMINDER_AFTER_WORKING_DAYS)
        return local_to_utc(day, DEBRIEF_LOCAL_TIME, tz)

    def closes_at(self, tz: str | None) -> datetime:
        """The window's end, in the lead's zone ``tz``: it is one moment for the whole project."""
        day = self.working.on_or_after(self.prompt_day + timedelta(days=self.window_days))
        return local_to_utc(day, DEBRIEF_LOCAL_TIME, tz)


def debrief_schedule(
    end_date: date, offset_days: int, window_days: int, working: WorkingDays = MONDAY_TO_FRIDAY
) -> DebriefSchedule:
    day = end_date + timedelta(days=offset_days)
    return DebriefSchedule(day=day, window_days=window_days, working=working)
