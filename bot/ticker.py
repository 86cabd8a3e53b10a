"""One tick: claim the jobs due at ``now`` and do them. The scheduler does nothing else.

Each job runs in its own unit of work; a failure puts that job back with a backoff and
never stops the others.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from bot.debriefs import DebriefService
from storage.db import Database
from storage.repositories import jobs as jobs_repo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    claimed: int
    done: int
    failed: int

    def __str__(self) -> str:
        return f"{self.claimed} due, {self.done} done, {self.failed} failed"


class Ticker:
    def __init__(self, db: Database, debriefs: DebriefService) -> None:
        self._db, self._debriefs = db, debriefs

    def tick(self, now: datetime) -> TickReport:
        claimed = done = failed = 0
        while True:
            worker = f"tick-{uuid.uuid4().hex[:16]}"
            with self._db.transaction() as session:
                jobs = [
                    (j.id, j.kind, j.project_id) for j in jobs_repo.claim_due(session, now=now, worker=worker)
                ]
            if not jobs:
                break
            claimed += len(jobs)
            for job_id, kind, project_id in jobs:
                assert job_id is not None
                try:
                    self._debriefs.run_job(kind, project_id, now)
                except Exception as error:
                    failed += 1
                    log.exception("job %s (%s, project %s) failed", job_id, kind, project_id)
                    with self._db.transaction() as session:
                        jobs_repo.fail(session, job_id, at=now, error=f"{type(error).__name__}: {error}")
                else:
                    done += 1
                    with self._db.transaction() as session:
                        jobs_repo.finish(session, job_id, at=now)
        report = TickReport(claimed=claimed, done=done, failed=failed)
        if claimed:
            log.info("tick at %s: %s", now.isoformat(), report)
        return report
