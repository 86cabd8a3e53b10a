"""The weekly growth digest exactly once, with real processes, for people all round the world.

``brickwork tick --now T`` runs in a process of its own against a real database; the stand-in for
Slack answers late, never, or with a 429 — or SIGKILLs the ticking process at the moment a test
names. What is checked is what Slack holds in the end: each person's DM carries exactly one
digest (counted by the metadata Brickwork puts on every message, and matched to the outbox row
of that person and week by its token), nobody whose slot has come is missing, and nobody
paused or stopped gets one.

The week is that of Monday 26 October 2026: Europe left summer time on the 25th, the United
States leave it on 1 November, so Berlin and New York are five hours apart that week instead
of six, and 09:00 in New York moves from 13:00 to 14:00 UTC the week after. Auckland's Monday
09:00 is Sunday evening in UTC. The people are put straight into the database, each with a
piece of named feedback (the news a digest needs): how feedback gets there is other tests'
business.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.outbox import lease_for
from bot.slack_gateway import METADATA_EVENT
from bot.standin.webapi import Call, FakeSlack, FakeUser
from storage.db import Database
from storage.models import Feedback, FeedbackSource, MessageKind, MessageState, OutboxMessage, id_of
from storage.repositories import feedback as feedback_repo
from storage.repositories import people as people_repo
from tests.harness import AppProcess, start_app

FAST = {"BRICKWORK_SLACK_TIMEOUT_SECONDS": "1"}  # a hung answer costs a second, not ten
LEASE = lease_for(1)  # how long a dead ticker's claim lasts with FAST's timeout

# 09:00 on the week's Monday where each person is, in UTC: written out, not computed by the code
# under test.
WEEK = "2026-W44"
SLOTS = {
    "Pacific/Auckland": datetime(2026, 10, 25, 20, 0, tzinfo=UTC),  # NZDT, +13: Sunday evening in UTC
    "Asia/Tokyo": datetime(2026, 10, 26, 0, 0, tzinfo=UTC),
    "Asia/Kolkata": datetime(2026, 10, 26, 3, 30, tzinfo=UTC),
    "Europe/Berlin": datetime(2026, 10, 26, 8, 0, tzinfo=UTC),  # CET since Sunday (07:00 UTC a week ago)
    "America/New_York": datetime(2026, 10, 26, 13, 0, tzinfo=UTC),  # still EDT
    "America/Los_Angeles": datetime(2026, 10, 26, 16, 0, tzinfo=UTC),  # still PDT
}
NEXT_WEEK = "2026-W45"
NEXT_SLOTS = {
    "Pacific/Auckland": datetime(2026, 11, 1, 20, 0, tzinfo=UTC),
    "Asia/Tokyo": datetime(2026, 11, 2, 0, 0, tzinfo=UTC),
    "Asia/Kolkata": datetime(2026, 11, 2, 3, 30, tzinfo=UTC),
    "Europe/Berlin": datetime(2026, 11, 2, 8, 0, tzinfo=UTC),
    "America/New_York": datetime(2026, 11, 2, 14, 0, tzinfo=UTC),  # EST since Sunday
    "America/Los_Angeles": datetime(2026, 11, 2, 17, 0, tzinfo=UTC),  # PST since Sunday
}
AFTER_ALL = datetime(2026, 10, 26, 18, 0, tzinfo=UTC)  # past everyone's slot; Tuesday 07:00 in Auckland
NEWS_AT = datetime(2026, 10, 22, 12, 0, tzinfo=UTC)  # the feedback that makes week 44's news
NEXT_NEWS_AT = datetime(2026, 10, 29, 12, 0, tzinfo=UTC)  # and week 45's

ZONES = tuple(SLOTS)
TEAM = tuple(
    FakeUser(id=f"U0G{n:03d}", name=f"g{n}", real_name=f"Grower {n}", tz=ZONES[n % len(ZONES)])
    for n in range(36)
)
# On vacation on the day of their slot (Monday, Tokyo): no digest that week.
ON_VACATION = FakeUser(id="U0GVAC", name="vac", real_name="On Vacation", tz="Asia/Tokyo")
# Back from vacation on Monday: the vacation ended on Sunday the 25th, the UTC date of their slot
# but not its date in Auckland, where the slot is on Monday. Due.
BACK = FakeUser(id="U0GBACK", name="back", real_name="Back Again", tz="Pacific/Auckland")
# Pressed "Pause for 2 weeks": no digest until Tuesday the 27th.
PAUSED = FakeUser(id="U0GPAUSE", name="pause", real_name="Digest Paused", tz="Europe/Berlin")
# A pause that ends on the day of the slot: due.
RESUMES = FakeUser(id="U0GRESUME", name="resume", real_name="Resumes Monday", tz="America/New_York")
# Pressed "Stop digests".
STOPPED = FakeUser(id="U0GSTOP", name="stop", real_name="Digest Stopped", tz="America/Los_Angeles")
EVERYONE = (*TEAM, ON_VACATION, BACK, PAUSED, RESUMES, STOPPED)
NOT_DUE = (ON_VACATION, PAUSED, STOPPED)
DUE = tuple(u for u in EVERYONE if u not in NOT_DUE)


@dataclass(frozen=True)
class Crowd:
    person_ids: dict[str, int]  # Slack id -> Person id


@pytest.fixture
def digest_app(slack: FakeSlack, database_url: str, tmp_path: Path) -> Iterator[AppProcess]:
    process = start_app(slack, database_url, tmp_path, BRICKWORK_WEEKLY_DIGEST="true", **FAST)
    yield process
    process.stop()


def seed(db: Database, slack: FakeSlack, *, news: bool = True) -> Crowd:
    """Everyone in Slack and in the database, paused and stopped as above; with ``news``, each
    with a piece of named feedback given on the Thursday before the week."""
    for user in EVERYONE:
        slack.add_user(user)
    with db.transaction() as session:
        ids = {}
        for user in EVERYONE:
            person = people_repo.upsert(
                session,
                slack_user_id=user.id,
                name=user.real_name,
                tz=user.tz,
                is_bot=False,
                deleted=False,
                refreshed_at=NEWS_AT,
            )
            assert person.id is not None
            ids[user.id] = person.id
            if user is ON_VACATION:
                person.paused_until = date(2026, 10, 26)
            elif user is BACK:
                person.paused_until = date(2026, 10, 25)
            elif user is PAUSED:
                person.digest_paused_until = date(2026, 10, 27)
            elif user is RESUMES:
                person.digest_paused_until = date(2026, 10, 26)
            elif user is STOPPED:
                person.digest_enabled = False
            session.add(person)
    crowd = Crowd(ids)
    if news:
        give_news(db, crowd, NEWS_AT)
    return crowd


def give_news(db: Database, crowd: Crowd, at: datetime) -> None:
    """A ring of named feedback at ``at``: each person rated by the one before them."""
    ids = [crowd.person_ids[u.id] for u in EVERYONE]
    give(db, list(zip(ids[-1:] + ids[:-1], ids, strict=True)), at)


def give(db: Database, pairs: Sequence[tuple[int, int]], at: datetime) -> None:
    """Named feedback (giver, subject) saved and visible at ``at``."""
    with db.transaction() as session:
        for giver, subject in pairs:
            record = Feedback(
                giver_id=giver,
                subject_id=subject,
                source=FeedbackSource.GIVEN,
                framework_version="2026.1",
                released_at=at,
                created_at=at,
                updated_at=at,
                source_view_id=f"V{at:%m%d}-{giver}-{subject}",
            )
            feedback_repo.save(session, record, {"quality": ("delivery", 4), "timeliness": ("delivery", 4)})


def held(slack: FakeSlack, user: FakeUser) -> list[dict[str, Any]]:
    """What Slack holds in the person's DM that Brickwork posted (its metadata on it)."""
    return slack.messages_with_metadata(user.id, METADATA_EVENT)


def digest_rows(db: Database) -> dict[str, OutboxMessage]:
    with db.transaction() as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.kind == MessageKind.GROWTH_DIGEST))
        return {row.key: row for row in rows}


def assert_digests(
    slack: FakeSlack,
    db: Database,
    crowd: Crowd,
    got: dict[str, Sequence[FakeUser]],
    slots: dict[str, dict[str, datetime]] | None = None,
) -> None:
    """Slack holds, in each person's DM, exactly one digest per week of ``got`` they are in and
    nothing else; each is the outbox row of that person and week (its token in the message's
    metadata), recorded as sent with the message's ts and due at the person's slot."""
    weeks = {u.id: [w for w, users in got.items() if u in users] for u in EVERYONE}
    rows = {k: r for k, r in digest_rows(db).items() if k.rsplit(":", 1)[1] in got}
    wrong = {
        u.id: (len(held(slack, u)), weeks[u.id]) for u in EVERYONE if len(held(slack, u)) != len(weeks[u.id])
    }
    assert not wrong, f"(digests held, weeks due) where they differ: {wrong}"
    for user in EVERYONE:
        messages = held(slack, user)
        for week, message in zip(weeks[user.id], messages, strict=True):
            row = rows.get(f"{MessageKind.GROWTH_DIGEST.value}:{crowd.person_ids[user.id]}:{week}")
            assert row is not None, (user.id, week, sorted(rows))
            assert row.state is MessageState.SENT and row.ts == message["ts"], (user.id, row)
            assert row.channel_id == slack.dm_channel(user.id)
            assert message["metadata"]["event_payload"]["key"] == row.token
            assert message["text"] == f"Your week in growth ({week})", message["text"]
            if slots is not None:  # (a retry moves due_at on)
                assert row.due_at == slots[week][user.tz], (user.id, row.due_at)
    # Nobody not due has a digest waiting either: no row for them in any week.
    for user in EVERYONE:
        for week in {w for w in got} - set(weeks[user.id]):
            assert f"{MessageKind.GROWTH_DIGEST.value}:{crowd.person_ids[user.id]}:{week}" not in rows
    unsettled = [(k, r.state, r.last_error) for k, r in rows.items() if r.state is not MessageState.SENT]
    assert not unsettled, unsettled


def posted(slack: FakeSlack) -> int:
    """Posts Slack stored (whether or not the app read the answer)."""
    return len([c for c in slack.calls_to("chat.postMessage") if c.ok])


# -- 1. two tickers at once ---------------------------------------------------------------------


def test_two_tickers_at_once_send_each_digest_once(
    digest_app: AppProcess, slack: FakeSlack, db: Database
) -> None:
    crowd = seed(db, slack)
    first, second = digest_app.start_tick(AFTER_ALL), digest_app.start_tick(AFTER_ALL)
    reports = []
    for process in (first, second):
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err[-2000:]
        reports.append(out)
    assert_digests(slack, db, crowd, {WEEK: DUE}, {WEEK: SLOTS})
    assert posted(slack) == len(DUE)
    # Between them the two sent every digest, each once (which sent how many is up to the race).
    sent = [int(r.split("messages: ")[1].split(" sent")[0]) for r in reports]
    assert sum(sent) == len(DUE), reports


# -- 2. a ticker killed in the middle of a send --------------------------------------------------


@pytest.mark.parametrize("when", ["received", "applied", "answered"])
def test_a_ticker_killed_at_any_point_of_a_digest_post_loses_none_and_doubles_none(
    digest_app: AppProcess, slack: FakeSlack, db: Database, when: str
) -> None:
    crowd = seed(db, slack)
    started: list[subprocess.Popen[str]] = []
    killed = threading.Event()

    def kill(_call: Call) -> None:
        os.kill(started[0].pid, signal.SIGKILL)
        killed.set()

    # The 21st digest: on its way (and Slack never stores it: a 503 the dead ticker never reads),
    # once Slack has stored it, or once Slack has answered.
    slack.on_call("chat.postMessage", 21, kill, when=when)  # type: ignore[arg-type]
    if when == "received":
        slack.fail_call("chat.postMessage", 21, status=503, retry_after=None)
    started.append(digest_app.start_tick(AFTER_ALL))
    out, err = started[0].communicate(timeout=60)
    assert killed.is_set() and started[0].returncode == -signal.SIGKILL, (out, err[-2000:])
    assert sum(len(held(slack, u)) for u in EVERYONE) == (20 if when == "received" else 21)

    # A restart a second later sends every digest nobody had claimed, and no second one to anyone;
    # only the one whose fate is unknown waits for the dead ticker's lease.
    digest_app.tick(AFTER_ALL + timedelta(seconds=1))
    assert all(len(held(slack, u)) <= 1 for u in EVERYONE)
    waiting = [(k, r.state) for k, r in digest_rows(db).items() if r.state is not MessageState.SENT]
    assert [state for _, state in waiting] == [MessageState.SENDING], waiting
    missing = [u.id for u in DUE if not held(slack, u)]
    assert len(missing) == (1 if when == "received" else 0), missing
    # Past the lease it is looked for in its DM before anything is posted: found there when Slack
    # had stored it, posted now when it had not.
    history = len(slack.calls_to("conversations.history"))
    digest_app.tick(AFTER_ALL + LEASE + timedelta(seconds=30))
    assert_digests(slack, db, crowd, {WEEK: DUE}, {WEEK: SLOTS})
    assert posted(slack) == len(DUE)
    assert len(slack.calls_to("conversations.history")) == history + 1


# -- 3. Slack answering late ---------------------------------------------------------------------


def test_late_answers_from_slack_make_no_second_digest(
    digest_app: AppProcess, slack: FakeSlack, db: Database
) -> None:
    crowd = seed(db, slack)
    slack.answer_late("chat.postMessage", number=4, delay=None)  # stored; the answer never comes
    slack.answer_late("chat.postMessage", number=9, delay=3)  # stored; answered past the 1 s timeout
    report = digest_app.tick(AFTER_ALL)
    assert f"{len(DUE) - 2} sent, 2 to retry, 0 failed" in report, report
    assert posted(slack) == len(DUE)  # both late ones are in Slack already
    # The next tick, once they had time to settle, finds both in their DMs and posts nothing.
    report = digest_app.tick(AFTER_ALL + timedelta(minutes=2))
    assert_digests(slack, db, crowd, {WEEK: DUE})
    assert posted(slack) == len(DUE)
    assert "2 sent, 0 to retry, 0 failed" in report, report
    assert len(slack.calls_to("conversations.history")) == 2
    # Later in the week: nothing more.
    digest_app.tick(datetime(2026, 10, 29, 12, 0, tzinfo=UTC))
    assert posted(slack) == len(DUE)
    assert_digests(slack, db, crowd, {WEEK: DUE})


# -- 4. rate limited -----------------------------------------------------------------------------


def test_a_429_on_every_tenth_post_delays_digests_but_loses_and_doubles_none(
    digest_app: AppProcess, slack: FakeSlack, db: Database
) -> None:
    crowd = seed(db, slack)
    for number in range(10, 3 * len(DUE), 10):
        slack.fail_call("chat.postMessage", number, status=429, retry_after=1)
    report = digest_app.tick(AFTER_ALL)
    assert f"{len(DUE)} sent" in report and "0 failed" in report, report
    posts = slack.calls_to("chat.postMessage")
    limited = [c for c in posts if c.status == 429]
    assert [c.number for c in limited] == list(range(10, len(posts) + 1, 10)), [c.summary() for c in posts]
    # Each Retry-After was waited out (by the Slack client, which retries a 429 itself) before the
    # next post.
    for call in limited:
        after = next(c for c in posts if c.number == call.number + 1)
        assert after.at - call.at >= 1.0, (call.number, after.at - call.at)
    assert slack.calls_to("conversations.history") == []  # a 429 is certain: nothing was posted
    assert posted(slack) == len(DUE)
    assert_digests(slack, db, crowd, {WEEK: DUE})


# -- 5. who is due when --------------------------------------------------------------------------


def test_each_person_gets_the_digest_only_after_their_own_monday_0900_across_a_dst_change(
    digest_app: AppProcess, slack: FakeSlack, db: Database
) -> None:
    # The week before ran as usual, with nothing new to say: nobody got a digest then. (Without
    # that week's rows, the first tick, on Sunday evening in UTC, would send last week's digest, late,
    # to everyone still in their Sunday.)
    crowd = seed(db, slack, news=False)
    digest_app.tick(datetime(2026, 10, 19, 18, 0, tzinfo=UTC))
    assert posted(slack) == 0
    give_news(db, crowd, NEWS_AT)
    both = {WEEK: SLOTS, NEXT_WEEK: NEXT_SLOTS}
    second = timedelta(seconds=1)

    # A second before 09:00 and at 09:00 sharp in each zone. In Berlin 08:59:59 is 07:59:59 UTC: an
    # hour past the slot of the week before, when Berlin was on summer time.
    for at in sorted({t for slot in SLOTS.values() for t in (slot - second, slot)}):
        digest_app.tick(at)
        assert_digests(slack, db, crowd, {WEEK: [u for u in DUE if SLOTS[u.tz] <= at]}, both)
    # Later in the week: nothing new for anyone.
    digest_app.tick(datetime(2026, 10, 30, 12, 0, tzinfo=UTC))
    assert posted(slack) == len(DUE)

    # The week after, New York and Los Angeles have left summer time too: their 09:00 is an hour
    # later in UTC. The vacation and the pause are over (a skipped week is not made up for); the
    # digests stopped stay stopped.
    give_news(db, crowd, NEXT_NEWS_AT)
    next_due = [u for u in EVERYONE if u is not STOPPED]
    for at in (
        NEXT_SLOTS["Pacific/Auckland"] - second,  # Sunday evening in UTC: the first of week 45
        NEXT_SLOTS["Pacific/Auckland"],
        NEXT_SLOTS["America/New_York"] - timedelta(hours=1),  # where 09:00 in New York was a week ago
        NEXT_SLOTS["America/New_York"] - second,
        NEXT_SLOTS["America/New_York"],
        NEXT_SLOTS["America/Los_Angeles"] - timedelta(hours=1),
        NEXT_SLOTS["America/Los_Angeles"],
    ):
        digest_app.tick(at)
        due_now = [u for u in next_due if NEXT_SLOTS[u.tz] <= at]
        assert_digests(slack, db, crowd, {WEEK: DUE, NEXT_WEEK: due_now}, both)
    assert [len(held(slack, u)) for u in (ON_VACATION, PAUSED, STOPPED)] == [1, 1, 0]


# -- a digest retried past the end of the person's week is still that week's ------------------

# Chose Sunday 23:00 for their digest (digest_weekday, digest_hour): in UTC, 07:00 on Monday.
OWL = FakeUser(id="U0GOWL", name="owl", real_name="Night Owl", tz="America/Los_Angeles")


def test_a_digest_retried_past_the_end_of_its_week_is_still_that_weeks(
    digest_app: AppProcess, slack: FakeSlack, db: Database
) -> None:
    slack.add_user(OWL)
    with db.transaction() as session:
        owl, friend = (
            people_repo.upsert(
                session, slack_user_id=u, name=u, tz=OWL.tz, is_bot=False, deleted=False, refreshed_at=NEWS_AT
            )
            for u in (OWL.id, "U0GFRIEND")
        )
        owl.digest_weekday, owl.digest_hour = 6, 23
        friend.digest_enabled = False  # only the owl gets digests here
        session.add_all([owl, friend])
        pair = [(id_of(friend), id_of(owl))]
    give(db, pair, NEXT_NEWS_AT)  # the news of week 44 (Thursday 29 October)
    # Slack is down from 23:00 on Sunday 1 November (Los Angeles) until just after midnight: each
    # post fails with a 503, an unknown outcome, looked for and tried again after 30 s.
    slack.fail_call("chat.postMessage", 1, status=503, retry_after=None)
    slack.fail_call("chat.postMessage", 2, status=503, retry_after=None)
    assert "1 to retry" in digest_app.tick(datetime(2026, 11, 2, 7, 0, tzinfo=UTC))  # 23:00 Sunday
    assert "1 to retry" in digest_app.tick(datetime(2026, 11, 2, 7, 59, 45, tzinfo=UTC))  # 23:59:45
    assert "1 sent" in digest_app.tick(datetime(2026, 11, 2, 8, 1, tzinfo=UTC))  # 00:01 on Monday
    give(db, pair, datetime(2026, 11, 4, 12, 0, tzinfo=UTC))  # the news of week 45
    digest_app.tick(datetime(2026, 11, 9, 7, 0, tzinfo=UTC))  # 23:00 on Sunday 8 November
    assert [m["text"] for m in held(slack, OWL)] == [
        "Your week in growth (2026-W44)",
        "Your week in growth (2026-W45)",
    ]
