"""The in-process clock: APScheduler calls ``Ticker.tick`` every few seconds. That is all.

Due work lives in the database, so the job store is memory: nothing is lost on restart
and two schedulers never share (and double-run) a job store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

TICK_JOB_ID = "brickwork-tick"


def make_scheduler(
    tick: Callable[[datetime], object], clock: Callable[[], datetime], *, seconds: int, blocking: bool
) -> BaseScheduler:
    scheduler: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")

    def run_tick() -> None:
        try:
            tick(clock())
        except Exception:  # a bad tick is logged; the next one tries again
            log.exception("tick failed")

    scheduler.add_job(
        run_tick,
        IntervalTrigger(seconds=seconds, timezone="UTC"),
        id=TICK_JOB_ID,
        name="claim and run due work",
        replace_existing=True,
        # A tick that was late (a busy machine, a suspended laptop) still runs once, and late
        # ticks are merged: what is due is read from the database, not from the trigger.
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
        next_run_time=clock(),  # tick at start: catch up on what fell due while we were down
    )
    return scheduler
