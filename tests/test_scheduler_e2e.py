"""The clock process: ``brickwork scheduler`` ticks at start and then on its interval; two of
them against one database send each DM once."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime, timedelta

from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack
from storage.db import Database
from tests import warm
from tests.harness import ALICE, MAYA, AppProcess
from tests.test_debrief_e2e import new_project, only_project, today


def test_two_schedulers_send_a_due_prompt_once(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    # The project ended yesterday and debriefs on its end date: already due when the clocks start.
    response, _ = new_project(
        driver, slack, Team_members=[ALICE.id], End_date=today() - timedelta(days=1), Run_the_debrief="0"
    )
    assert response.status == 200
    assert only_project(db).debrief_due_at < datetime.now(UTC)
    # The clock needs the bot token only: no signing secret, no app token.
    env = {k: v for k, v in app.env.items() if k != "SLACK_SIGNING_SECRET"} | {"BRICKWORK_TICK_SECONDS": "5"}
    clocks = [
        warm.popen(["scheduler"], env=env, cwd=app.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    # Each clock's log, line by line as it comes (it ticks at start, then every 5 s).
    logs: list[list[str]] = [[], []]
    ticked = threading.Condition()

    def read(index: int) -> None:
        stream = clocks[index].stderr
        assert stream is not None
        for line in stream:
            with ticked:
                logs[index].append(line)
                ticked.notify_all()

    readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(2)]
    for reader in readers:
        reader.start()
    try:
        slack.wait_for("chat.postMessage", timeout=20)
        with ticked:  # both clocks have ticked at least once more since: nothing else is sent
            assert ticked.wait_for(lambda: all(sum("tick at" in x for x in log) >= 2 for log in logs), 20)
        assert all(clock.poll() is None for clock in clocks), "a scheduler exited"
    finally:
        for clock in clocks:
            clock.terminate()
        for clock in clocks:
            clock.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=10)
    text = ["".join(log) for log in logs]
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 1, [p.args for p in posts]
    assert posts[0].args["channel"].startswith("D") and "Apollo" in posts[0].args["text"]
    assert sum("1 due, 1 done" in log for log in text) == 1
    assert all(clock.returncode == 0 for clock in clocks), text
    assert slack.last_dm(MAYA.id) is not None
