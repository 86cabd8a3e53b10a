"""Schedule arithmetic: 10:00 on each person's own wall clock, on working days, across time
zones and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from hypothesis import given
from hypothesis import strategies as st

from bot.debriefs.schedule import debrief_schedule
from bot.scheduler import TICK_JOB_ID, make_scheduler
from bot.timekeeping import WorkingDays, local_date, local_to_utc, zone


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_ten_in_the_morning_where_each_person_is() -> None:
    assert local_to_utc(date(2026, 12, 2), datetime.min.time().replace(hour=10), "Europe/Berlin") == utc(
        2026, 12, 2, 9
    )
    s = debrief_schedule(date(2026, 12, 1), 1, 7)  # ends Tuesday: prompted Wednesday
    assert s.prompt_at("America/Los_Angeles") == utc(2026, 12, 2, 18)  # 10:00 PST
    assert s.prompt_at("Europe/Berlin") == utc(2026, 12, 2, 9)  # 10:00 CET, the same day
    assert s.reminder_at("America/Los_Angeles") == utc(2026, 12, 4, 18)  # two working days: Friday
    assert s.closes_at("America/Los_Angeles") == utc(2026, 12, 9, 18)  # a week on, a Wednesday


def test_a_project_ending_on_a_friday_is_debriefed_on_monday() -> None:
    s = debrief_schedule(date(2026, 12, 4), 1, 7)  # Friday 4 December, "the day after" is Saturday
    assert s.prompt_day == date(2026, 12, 7)  # Monday
    assert s.prompt_at("Europe/Berlin") == utc(2026, 12, 7, 9)
    assert s.reminder_at("Europe/Berlin") == utc(2026, 12, 9, 9)  # Wednesday: working days counted
    assert s.closes_at("Europe/Berlin") == utc(2026, 12, 14, 9)  # Monday a week later
    # A window that would end on a Sunday ends on Monday.
    assert debrief_schedule(date(2026, 12, 4), 3, 6).closes_at("UTC") == utc(2026, 12, 14, 10)
    # Reminders count working days: prompted Thursday, reminded Monday, not Saturday.
    assert debrief_schedule(date(2026, 12, 3), 0, 7).reminder_at("UTC") == utc(2026, 12, 7, 10)


def test_other_working_weeks() -> None:
    sun_thu = WorkingDays.parse("sun-thu")
    s = debrief_schedule(date(2026, 12, 3), 1, 7, sun_thu)  # Thursday; Friday is a weekend day
    assert s.prompt_day == date(2026, 12, 6)  # Sunday
    assert s.reminder_at("Asia/Jerusalem") == utc(2026, 12, 8, 8)  # Tuesday 10:00 IST
    assert str(WorkingDays.parse("Mon-Wed, fri")) == "mon,tue,wed,fri"
    assert str(WorkingDays.parse("fri-mon")) == "mon,fri,sat,sun"  # a range may wrap
    for bad in ("", "monday", "mon-", "mon-xyz", "mo"):
        with pytest.raises(ValueError):
            WorkingDays.parse(bad)


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=1, max_value=60),
    st.sets(st.integers(min_value=0, max_value=6), min_size=1),
    st.sampled_from(["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata", "Europe/Berlin"]),
)
def test_every_moment_falls_on_a_working_day_at_ten_local(
    end: date, offset: int, window: int, days: set[int], tz: str
) -> None:
    working = WorkingDays(frozenset(days))
    s = debrief_schedule(end, offset, window, working)
    for moment in (s.prompt_at(tz), s.reminder_at(tz), s.closes_at(tz)):
        local = moment.astimezone(zone(tz))
        assert local.weekday() in days and (local.hour, local.minute) == (10, 0)
    assert s.prompt_day >= end + timedelta(days=offset)
    assert s.prompt_at(tz) < s.reminder_at(tz) and s.prompt_at(tz) < s.closes_at(tz)


def test_reminder_keeps_local_ten_across_spring_forward() -> None:
    # Europe moves to summer time on Sunday 28 March 2027; Friday 26 + 1 is Saturday: Monday.
    s = debrief_schedule(date(2027, 3, 26), 1, 7)
    assert s.prompt_at("Europe/Berlin") == utc(2027, 3, 29, 8)  # 10:00 CEST
    assert s.prompt_at("Europe/London") == utc(2027, 3, 29, 9)  # 10:00 BST
    assert s.reminder_at("Europe/Berlin").astimezone(zone("Europe/Berlin")).hour == 10
    assert s.closes_at("Europe/Berlin").astimezone(zone("Europe/Berlin")).hour == 10


def test_reminder_keeps_local_ten_across_fall_back() -> None:
    # The US leaves daylight time on Sunday 1 November 2026. Prompted Thursday 29 October (EDT),
    # reminded Monday 2 November (EST): two working days, 97 hours.
    s = debrief_schedule(date(2026, 10, 28), 1, 7)
    assert s.prompt_at("America/New_York") == utc(2026, 10, 29, 14)  # 10:00 EDT
    assert s.reminder_at("America/New_York") == utc(2026, 11, 2, 15)  # 10:00 EST
    assert (s.reminder_at("America/New_York") - s.prompt_at("America/New_York")).total_seconds() == 97 * 3600


def test_southern_hemisphere_and_half_hour_zones() -> None:
    s = debrief_schedule(date(2026, 12, 1), 1, 7)
    assert s.prompt_at("Australia/Sydney") == utc(2026, 12, 1, 23)
    assert s.prompt_at("Asia/Kolkata") == utc(2026, 12, 2, 4, 30)


def test_unknown_or_missing_zone_falls_back_to_utc() -> None:
    s = debrief_schedule(date(2026, 12, 1), 1, 7)
    for tz in ("Mars/Olympus_Mons", None, ""):
        assert s.prompt_at(tz) == utc(2026, 12, 2, 10)


def test_local_date_is_the_readers_day() -> None:
    moment = utc(2026, 12, 1, 23, 30)
    assert local_date(moment, "UTC") == date(2026, 12, 1)
    assert local_date(moment, "Europe/Berlin") == date(2026, 12, 2)
    assert local_date(moment, "America/Los_Angeles") == date(2026, 12, 1)


def test_the_scheduler_ticks_in_utc_once_at_a_time_and_survives_misfires() -> None:
    now = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    scheduler = make_scheduler(lambda _at: None, lambda: now, seconds=60, blocking=False)
    assert isinstance(scheduler, BackgroundScheduler)
    assert str(scheduler.timezone) == "UTC"
    [job] = scheduler.get_jobs()
    assert job.id == TICK_JOB_ID
    assert job.misfire_grace_time is None and job.coalesce and job.max_instances == 1
    assert job.trigger.interval.total_seconds() == 60 and str(job.trigger.timezone) == "UTC"
    assert job.next_run_time == now  # the first tick runs at start
