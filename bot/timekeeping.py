"""Wall-clock time where a person is: their own IANA time zone, for the day it falls on.

Slack's ``tz_offset`` is a snapshot that goes stale across a DST change, so every time is
computed from the IANA name (``users.info`` ``tz``) for the day it falls on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order


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
class WorkingDays:
    """The days of the week people work (``BRICKWORK_WORKING_DAYS``): prompts, reminders and
    window ends fall on them. The same weekdays for everyone; public holidays are not known."""

    days: frozenset[int]  # date.weekday(): 0 is Monday

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("at least one day of the week")

    @classmethod
    def parse(cls, text: str) -> WorkingDays:
        """``mon-fri``, ``sun-thu``, ``mon,tue,thu``: day names, ranges, commas; ValueError else."""
        days: set[int] = set()
        for part in filter(None, (p.strip() for p in text.lower().split(","))):
            match = re.fullmatch(r"([a-z]{3})(?:\s*-\s*([a-z]{3}))?", part)
            if match is None or any(g is not None and g not in WEEKDAYS for g in match.groups()):
                raise ValueError(f"not a day or a range of days: {part!r}")
            first = WEEKDAYS.index(match.group(1))
            last = WEEKDAYS.index(match.group(2) or match.group(1))
            days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
        return cls(frozenset(days))

    def __str__(self) -> str:
        return ",".join(WEEKDAYS[d] for d in sorted(self.days))

    def on_or_after(self, day: date) -> date:
        """``day`` if people work on it, else the next day they do."""
        while day.weekday() not in self.days:
            day += timedelta(days=1)
        return day

    def after(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (which need not be one)."""
        for _ in range(count):
            day = self.on_or_after(day + timedelta(days=1))
        return day


MONDAY_TO_FRIDAY = WorkingDays(frozenset(range(5)))
