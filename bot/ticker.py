"""One tick: everything due at ``now``, once. The scheduler does nothing else.

1. **Jobs** (a debrief opens, a reminder is due, a window closes): each claimed, done and
   finished in one transaction — they only change the database and enqueue DMs — so a crash
   leaves nothing half done, and a failure puts the job back with a backoff without stopping
   the others. What a job needs from Slack afterwards (updating DMs at a close) runs after
   its commit, best effort.
2. **Anonymous feedback** held for its batch is released where the batch is big enough
   (``bot.feedback.anonymity``); **weekly digests** whose time has come join the outbox, once
   per person and week (``bot.growth``).
3. **The outbox** sends every DM that is due, one claim at a time (``bot.outbox``): a process
   killed in the middle leaves at most one message in doubt, which the next tick settles.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.debriefs.service import DebriefService
from bot.feedback.anonymity import AnonymousRelease
from bot.growth.digests import DigestService
from bot.modals import Modals
from bot.outbox import Outbox, OutboxReport
from storage.db import Database
from storage.repositories import jobs as jobs_repo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    claimed: int
    done: int
    failed: int
    released: int = 0
    messages: OutboxReport = field(default_factory=OutboxReport)

    def __str__(self) -> str:
        return (
            f"{self.claimed} due, {self.done} done, {self.failed} failed; "
            f"messages: {self.messages}; anonymous feedback released: {self.released}"
        )


class Ticker:
    def __init__(
        self,
        db: Database,
        debriefs: DebriefService,
        release: AnonymousRelease,
        outbox: Outbox,
        modals: Modals,
        digests: DigestService | None = None,
    ) -> None:
        self._db, self._debriefs, self._release = db, debriefs, release
        self._outbox, self._modals, self._digests = outbox, modals, digests

    def tick(self, now: datetime) -> TickReport:
        claimed, done, failed = self._run_jobs(now)
        released = self._release.release_due(now)
        if self._digests is not None:
            self._digests.enqueue_digests(now)
            self._digests.prepare_digests(now)
        messages = self._outbox.deliver_due(now)
        self._modals.forget_old(now)
        report = TickReport(claimed=claimed, done=done, failed=failed, released=released, messages=messages)
        # A tick that did something is news; one that did not is only worth a DEBUG line.
        log.log(logging.INFO if claimed else logging.DEBUG, "tick at %s: %s", now.isoformat(), report)
        return report

    def _run_jobs(self, now: datetime) -> tuple[int, int, int]:
        claimed = done = failed = 0
        worker = f"tick-{uuid.uuid4().hex[:16]}"
        while True:
            after: Callable[[], None] | None = None
            with self._db.transaction() as session:
                job = jobs_repo.claim_one(session, now=now, worker=worker)
                if job is None:
                    break
                claimed += 1
                job_id, kind, project_id = job.id, job.kind, job.project_id
                assert job_id is not None
                try:
                    with session.begin_nested():  # a failing job leaves no half of its work behind
                        after = self._debriefs.run_job(session, kind, project_id, now)
                except Exception as error:
                    failed += 1
                    log.exception("job %s (%s, project %s) failed", job_id, kind.value, project_id)
                    jobs_repo.fail(session, job_id, at=now, error=type(error).__name__)
                else:
                    done += 1
                    jobs_repo.finish(session, job_id, at=now)
            if after is not None:
                try:
                    after()
                except Exception as error:  # best effort: the job's own work is committed
                    log.warning("after job %s: %s", job_id, type(error).__name__)
        return claimed, done, failed
