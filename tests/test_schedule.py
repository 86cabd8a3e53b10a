"""Schedule arithmetic: 10:00 on the lead's own wall clock, across time zones and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from bot.debriefs.schedule import debrief_schedule
from bot.scheduler import TICK_JOB_ID, make_scheduler
from bot.timekeeping import local_date, local_to_utc, zone


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_ten_in_the_morning_where_the_lead_is() -> None:
    assert local_to_utc(date(2026, 12, 2), datetime.min.time().replace(hour=10), "Europe/Berlin") == utc(
        2026, 12, 2, 9
    )
    s = debrief_schedule(date(2026, 12, 1), 1, "America/Los_Angeles", 7)
    assert s.due_at == utc(2026, 12, 2, 18)  # 10:00 PST
    assert s.reminder_at == utc(2026, 12, 4, 18)
    assert s.closes_at == utc(2026, 12, 9, 18)


def test_offset_zero_and_a_week() -> None:
    assert debrief_schedule(date(2026, 12, 1), 0, "UTC", 7).due_at == utc(2026, 12, 1, 10)
    assert debrief_schedule(date(2026, 12, 1), 7, "Asia/Tokyo", 7).due_at == utc(2026, 12, 8, 1)


def test_reminder_keeps_local_ten_across_spring_forward() -> None:
    # Europe moves to summer time on Sunday 28 March 2027.
    s = debrief_schedule(date(2027, 3, 26), 1, "Europe/Berlin", 7)
    assert s.due_at == utc(2027, 3, 27, 9)  # 10:00 CET
    assert s.reminder_at == utc(2027, 3, 29, 8)  # 10:00 CEST, not 11:00
    assert s.reminder_at.astimezone(zone("Europe/Berlin")).hour == 10
    assert s.closes_at.astimezone(zone("Europe/Berlin")).hour == 10


def test_reminder_keeps_local_ten_across_fall_back() -> None:
    # The US leaves daylight time on Sunday 1 November 2026.
    s = debrief_schedule(date(2026, 10, 30), 1, "America/New_York", 7)
    assert s.due_at == utc(2026, 10, 31, 14)  # 10:00 EDT
    assert s.reminder_at == utc(2026, 11, 2, 15)  # 10:00 EST
    assert (s.reminder_at - s.due_at).total_seconds() == 49 * 3600


def test_southern_hemisphere_and_half_hour_zones() -> None:
    assert debrief_schedule(date(2026, 12, 1), 1, "Australia/Sydney", 7).due_at == utc(2026, 12, 1, 23)
    assert debrief_schedule(date(2026, 12, 1), 1, "Asia/Kolkata", 7).due_at == utc(2026, 12, 2, 4, 30)


def test_unknown_or_missing_zone_falls_back_to_utc() -> None:
    assert debrief_schedule(date(2026, 12, 1), 1, "Mars/Olympus_Mons", 7).due_at == utc(2026, 12, 2, 10)
    assert debrief_schedule(date(2026, 12, 1), 1, None, 7).due_at == utc(2026, 12, 2, 10)
    assert debrief_schedule(date(2026, 12, 1), 1, "", 7).due_at == utc(2026, 12, 2, 10)


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
