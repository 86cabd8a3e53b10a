"""Sending weekly digests through Slack's rate limits: messages per second against the allowed rate.

Seeds ``--people`` (1,000) people in one zone (Europe/Berlin), each with a piece of named feedback
from the Thursday before (the news a digest needs) and their DM channel with the bot already
known (the steady state: only ``chat.postMessage`` per digest), into a temporary SQLite
database; starts the stand-in for Slack (``bot.standin.webapi.FakeSlack``) on loopback with those
people and builds the app with ``BRICKWORK_WEEKLY_DIGEST=true`` and the production Slack client
(``bot.slack_gateway.make_web_client``; the gateway posts a keyed message — the outbox's — with a
copy of it that leaves a 429 to the outbox, which waits out exactly the Retry-After). Then:

- the spread: the digests are enqueued (``DigestService.enqueue_digests``) an hour after the
  shared Monday 09:00 slot, and the outbox rows' ``due_at`` are counted per minute after it;
- the floor, in the same run: ``--people`` bare ``chat.postMessage`` calls through a plain
  slack_sdk ``WebClient`` to the same stand-in, no 429s, one to each DM, with the text and
  blocks of a real digest (what the stand-in, its Block Kit validation and HTTP cost per post);
  timed before the run and again after it (the machine may be shared: the mean is used); a
  text-only post is timed too, for reference;
- the run: the stand-in answers 429 with ``Retry-After: 1`` on every tenth ``chat.postMessage``
  call (retries are calls too), and ticks (``ticker.tick(now)``) run at slot + 61 minutes, when
  everything is due (``--per-minute``: at each minute from the slot on, as the scheduler would,
  compressed in time), until every digest is sent.

Printed: messages sent, wall seconds (of the ticks), messages per second; the allowed time — the floor's cost
per call times the ``chat.postMessage`` calls made (a 429 costs a round trip too, and under this
stand-in every tenth call gets one whatever the client does) plus the Retry-After seconds Slack
asked for: the best any client could do — and the efficiency, allowed / actual (target >= 90 %);
the 429s, who waited them out (slack_sdk's ``RateLimitErrorRetryHandler``, which adds up to a
second of jitter to each, or the outbox) and for how long, and posts that came sooner than the
Retry-After allowed (the stand-in does not enforce it: a client ignoring it would look faster
than allowed); duplicates in Slack (each person's digest DMs counted by the metadata Brickwork
puts on them: exactly one each) and people missing a digest.

``--outbox-waits``: slack_sdk's rate-limit retry taken out of the client for every other call
too (for posts the gateway already leaves each 429 to the outbox).

Run: ``.venv/bin/python bench/digest_sending.py [--people 1000] [--per-minute] [--outbox-waits]``.
Takes about three minutes (mostly Retry-After). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import insert
from sqlmodel import create_engine, select

from bot.app import build_app
from bot.settings import load_settings
from bot.slack_gateway import METADATA_EVENT, make_web_client
from bot.standin.webapi import Call, FakeSlack, FakeUser
from handlers.views import growth as growth_views
from storage.migrate import upgrade
from storage.models import (
    Feedback,
    FeedbackSource,
    MessageKind,
    MessageState,
    OutboxMessage,
    Person,
    Rating,
    Relation,
)

ZONE = "Europe/Berlin"
SLOT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # Monday 7 December 2026, 09:00 in Berlin (CET)
NEWS_AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # the Thursday before: this week's news
EVERY = 10  # the stand-in answers 429 on every tenth chat.postMessage call
RETRY_AFTER = 1  # seconds, in the 429's Retry-After header
FLOOR_EVENT = "bench_floor"  # metadata on the floor's posts: not a digest


def users(people: int) -> list[FakeUser]:
    return [FakeUser(id=f"U0D{i:06d}", name=f"p{i}", real_name=f"Person {i}", tz=ZONE) for i in range(people)]


def seed(url: str, members: list[FakeUser]) -> None:
    """Everyone, with their DM channel known and a piece of named feedback from the person before
    them (a ring), saved on the Thursday before the slot; a few bulk inserts."""
    upgrade(url)
    engine = create_engine(url)
    n = len(members)
    with engine.begin() as connection:
        connection.execute(
            insert(Person),
            [
                {
                    "id": i + 1,
                    "slack_user_id": user.id,
                    "name": user.real_name,
                    "tz": user.tz,
                    "is_bot": False,
                    "deleted": False,
                    "dm_channel_id": FakeSlack.dm_channel(user.id),
                    "digest_enabled": True,
                    "refreshed_at": NEWS_AT,
                    "created_at": NEWS_AT,
                }
                for i, user in enumerate(members)
            ],
        )
        connection.execute(
            insert(Feedback),
            [
                {
                    "id": i + 1,
                    "giver_id": (i - 1) % n + 1,
                    "subject_id": i + 1,
                    "source": FeedbackSource.GIVEN,
                    "relation": Relation.PEER,
                    "anonymous": False,
                    "released_at": NEWS_AT,
                    "framework_version": "2026.1",
                    "about": "",
                    "delivery_note": "",
                    "strengths_note": "",
                    "growth_note": "",
                    "created_at": NEWS_AT,
                    "updated_at": NEWS_AT,
                }
                for i in range(n)
            ],
        )
        connection.execute(
            insert(Rating),
            [
                {"feedback_id": i + 1, "dimension": "delivery", "kpi": kpi, "score": 4}
                for i in range(n)
                for kpi in ("quality", "timeliness")
            ],
        )
    engine.dispose()


class TimedRateLimitHandler(RateLimitErrorRetryHandler):
    """slack_sdk's own 429 retry (Retry-After plus up to a second of jitter), timed."""

    def __init__(self, max_retry_count: int, waits: list[float]) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.waits = waits

    def prepare_for_next_attempt(self, **kwargs: Any) -> None:
        started = time.perf_counter()
        super().prepare_for_next_attempt(**kwargs)
        self.waits.append(time.perf_counter() - started)


@dataclass
class Waits:
    sdk: list[float] = field(default_factory=list)  # slack_sdk's RateLimitErrorRetryHandler
    outbox: list[float] = field(default_factory=list)  # the outbox's pause before its next claim


def app_client(url: str, timeout: float, waits: Waits, *, sdk_retries: bool) -> WebClient:
    """The production client, its 429 retry timed (or, without ``sdk_retries``, taken out)."""
    client = make_web_client("xoxb-bench", url, timeout=timeout)
    handlers = []
    for handler in client.retry_handlers:
        if type(handler) is RateLimitErrorRetryHandler:
            if not sdk_retries:
                continue
            handler = TimedRateLimitHandler(handler.max_retry_count, waits.sdk)
        handlers.append(handler)
    client.retry_handlers = handlers
    return client


def timed_posts(client: WebClient, members: list[FakeUser], **message: Any) -> float:
    started = time.perf_counter()
    for user in members:
        client.chat_postMessage(channel=FakeSlack.dm_channel(user.id), **message)
    return time.perf_counter() - started


def too_soon(posts: list[Call]) -> int:
    """Posts that arrived before the Retry-After of the 429 just before them had passed."""
    ordered = sorted(posts, key=lambda c: c.at)
    return sum(
        1
        for call, after in itertools.pairwise(ordered)
        if call.status == 429 and after.at - call.at < RETRY_AFTER
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--per-minute", action="store_true", help="tick at each minute from the slot on")
    parser.add_argument(
        "--outbox-waits", action="store_true", help="no 429 retry in slack_sdk: the outbox waits instead"
    )
    args = parser.parse_args()
    members = users(args.people)
    waits = Waits()
    clock_at = [SLOT]
    clock_started = [time.monotonic()]

    def clock() -> datetime:  # the tick's ``now``, moved on by the time it has been running
        return clock_at[0] + timedelta(seconds=time.monotonic() - clock_started[0])

    with tempfile.TemporaryDirectory() as workdir, FakeSlack(users=members) as slack:
        url = f"sqlite:///{Path(workdir) / 'bench.db'}"
        started = time.perf_counter()
        seed(url, members)
        seeded = time.perf_counter() - started
        settings = load_settings(
            {
                "DATABASE_URL": url,
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_SIGNING_SECRET": "bench",
                "SLACK_API_URL": slack.url,
                "BRICKWORK_WEEKLY_DIGEST": "true",
            }
        )
        client = app_client(
            slack.url, settings.brickwork_slack_timeout_seconds, waits, sdk_retries=not args.outbox_waits
        )
        app = build_app(settings, client, clock=clock)
        services = app.services

        def outbox_sleep(seconds: float) -> None:
            started = time.perf_counter()
            time.sleep(seconds)
            waits.outbox.append(time.perf_counter() - started)

        services.outbox._sleep = outbox_sleep  # the outbox's own Retry-After pause, timed
        try:
            # 1. Who is due when: enqueued an hour after the slot, the rows' due_at per minute.
            after_all = SLOT + timedelta(minutes=61)
            started = time.perf_counter()
            queued = services.digests.enqueue_digests(after_all)
            enqueue_seconds = time.perf_counter() - started
            with services.db.transaction() as session:
                due = [
                    row.due_at
                    for row in session.exec(
                        select(OutboxMessage).where(OutboxMessage.kind == MessageKind.GROWTH_DIGEST)
                    )
                ]
            spread = Counter(int((at - SLOT).total_seconds() // 60) for at in due)

            # 2. The floor: bare posts of a real digest's text and blocks, one to each DM; timed
            # again after the run (this machine is shared: the mean of the two is used).
            card = next(iter(services.digests.digests(after_all)))
            text, blocks = growth_views.digest_message(card)
            bare = WebClient(token="xoxb-bench", base_url=slack.url)
            floor_message = {
                "text": text,
                "blocks": blocks,
                "metadata": {"event_type": FLOOR_EVENT, "event_payload": {"key": "floor"}},
            }
            timed_posts(bare, members[:50], text="warm-up")
            text_only = timed_posts(bare, members, text="x")
            floor_before = timed_posts(bare, members, **floor_message)

            # 3. The run: a 429 with Retry-After on every tenth chat.postMessage call.
            slack.reset_calls()
            for number in range(EVERY, 3 * args.people + EVERY, EVERY):
                slack.fail_call("chat.postMessage", number, status=429, retry_after=RETRY_AFTER)
            ticks = [SLOT + timedelta(minutes=m) for m in range(62)] if args.per_minute else [after_all]
            rounds, wall = 0, 0.0
            while True:
                now = ticks[rounds] if rounds < len(ticks) else ticks[-1] + timedelta(minutes=rounds)
                clock_at[0], clock_started[0] = now, time.monotonic()
                started = time.perf_counter()
                services.ticker.tick(now)
                wall += time.perf_counter() - started
                rounds += 1
                with services.db.transaction() as session:
                    left = [
                        r
                        for r in session.exec(
                            select(OutboxMessage).where(OutboxMessage.kind == MessageKind.GROWTH_DIGEST)
                        )
                        if r.state is not MessageState.SENT
                    ]
                if not left or rounds >= len(ticks) + 10:
                    break
            posts = slack.calls_to("chat.postMessage")
            slack.clear_faults()
            floor_after = timed_posts(bare, members, **floor_message)
        finally:
            app.close()

        limited = [c for c in posts if c.status == 429]
        asked = RETRY_AFTER * len(limited)
        held = [len(slack.messages_with_metadata(u.id, METADATA_EVENT)) for u in members]
        sent = sum(held)

    floor = (floor_before + floor_after) / 2
    floor_per_call = floor / len(members)
    allowed = floor_per_call * len(posts) + asked
    print(
        f"{args.people:,} people in {ZONE} (seeded in {seeded:.1f} s); {queued:,} digests enqueued at "
        f"slot + 61 min in {enqueue_seconds:.2f} s"
    )
    print(f"Spread: digests due per minute after the slot ({SLOT:%Y-%m-%d %H:%M} UTC, 09:00 in Berlin):")
    minutes = sorted(spread)
    for start in range(0, len(minutes), 10):
        print("  " + "  ".join(f"+{m:02d}: {spread[m]:>4}" for m in minutes[start : start + 10]))
    print(
        f"Floor: {len(members):,} bare chat.postMessage (a digest's text and blocks) in {floor:.2f} s "
        f"(before the run {floor_before:.2f} s, after {floor_after:.2f} s), {floor_per_call * 1000:.2f} ms "
        f"each ({len(members) / floor:.0f}/s); text only: "
        f"{text_only * 1000 / len(members):.2f} ms each"
    )
    how = "--per-minute ticks" if args.per_minute else "ticks at slot + 61 min"
    print(
        f"Run ({how}, a 429 with Retry-After: {RETRY_AFTER} on every {EVERY}th chat.postMessage call; "
        "the outbox handles 429s: the gateway leaves a post's 429 to it):"
    )
    print(
        f"  sent {sent:,} digests in {wall:.1f} s over {rounds} tick(s): {sent / wall:.2f} messages/s; "
        f"{len(posts):,} chat.postMessage calls, {len(limited)} answered 429"
    )
    print(
        f"  allowed: {allowed:.1f} s = {floor_per_call * 1000:.2f} ms x {len(posts):,} calls + {asked} s of "
        f"Retry-After asked for: {sent / allowed:.2f} messages/s; efficiency (allowed / actual) "
        f"{allowed / wall:.0%} (target >= 90 %)"
    )
    sdk, outbox = sum(waits.sdk), sum(waits.outbox)
    other = wall - sdk - outbox
    print(
        f"  who waited: slack_sdk's RateLimitErrorRetryHandler {len(waits.sdk)} times, {sdk:.1f} s "
        f"({sdk / max(len(waits.sdk), 1):.2f} s each); the outbox {len(waits.outbox)} times, "
        f"{outbox:.1f} s; other work {other:.1f} s ({other * 1000 / max(sent, 1):.1f} ms per digest, "
        f"floor {floor_per_call * 1000:.2f} ms)"
    )
    print(f"  posts sooner than the Retry-After before them allowed: {too_soon(posts)}")
    duplicates = sum(n - 1 for n in held if n > 1)
    missing = sum(1 for n in held if n == 0)
    print(
        f"  duplicates in Slack: {duplicates} (people with more than one digest: "
        f"{sum(1 for n in held if n > 1)}); people missing a digest: {missing}; outbox rows not sent: "
        f"{len(left)}"
    )


if __name__ == "__main__":
    main()
