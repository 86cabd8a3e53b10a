"""Wall-clock time where a person is: their own IANA time zone, for the day it falls on.

Slack's ``tz_offset`` is a snapshot that goes stale across a DST change, so every time is
computed from the IANA name (``users.info`` ``tz``) for the day it falls on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


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
