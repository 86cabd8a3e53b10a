"""People: created from ``users.info`` on first contact and refreshed when stale.

First contact is safe under concurrency: three quick commands from someone new insert one row
(``ON CONFLICT DO NOTHING``), and none of them fails. A Slack id that names nobody in the
workspace (a forged mention, a picker value) is a clear refusal (``UnknownPeople``), not an
error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot.errors import NotFound
from bot.slack_gateway import SlackGateway, SlackUser, error_code
from bot.text import plain
from storage.db import Database
from storage.models import Person, id_of
from storage.repositories import people as people_repo

log = logging.getLogger(__name__)

REFRESH_AFTER = timedelta(hours=24)  # names and time zones change; not often
NEVER_REFRESHED = datetime(2000, 1, 1, tzinfo=UTC)  # a row made without users.info: stale at once
NOBODY = frozenset({"user_not_found", "user_not_visible"})  # users.info: no such person for us


@dataclass(frozen=True)
class PersonRef:
    """A person as views and cards name them."""

    person_id: int
    slack_id: str
    name: str

    @classmethod
    def of(cls, person: Person) -> PersonRef:
        return cls(person_id=id_of(person), slack_id=person.slack_user_id, name=person.name)


class UnknownPeople(NotFound):
    """Slack knows nobody by these ids (or will not show them to the app)."""

    def __init__(self, slack_user_ids: Iterable[str]) -> None:
        self.slack_user_ids = tuple(slack_user_ids)
        shown = ", ".join(f"`{uid}`" for uid in self.slack_user_ids[:5])
        super().__init__(
            f"I can't find {shown} in this workspace. Pick people from Slack's autocomplete or a "
            "people picker."
        )


class PeopleService:
    def __init__(self, db: Database, gateway: SlackGateway, clock: Callable[[], datetime]) -> None:
        self._db, self._gateway, self._clock = db, gateway, clock

    def ensure(
        self, slack_user_ids: Iterable[str], *, max_age: timedelta = REFRESH_AFTER
    ) -> dict[str, Person]:
        """The Person for each Slack user id, fetching from Slack only what is new or stale.

        Slack calls run in parallel (users.info is a tier-4 method) and outside any
        transaction; the upserts then commit together. Ids Slack knows nobody by raise
        ``UnknownPeople`` (after the others are stored)."""
        wanted = list(dict.fromkeys(slack_user_ids))
        now = self._clock()
        with self._db.transaction() as session:
            known = {uid: people_repo.by_slack_id(session, uid) for uid in wanted}
        stale = [uid for uid, p in known.items() if p is None or now - p.refreshed_at >= max_age]
        if not stale:
            return {uid: p for uid, p in known.items() if p is not None}
        with ThreadPoolExecutor(max_workers=min(8, len(stale))) as pool:
            results = list(pool.map(self._fetch, stale))
        fetched = [user for user in results if isinstance(user, SlackUser)]
        missing = [uid for uid, user in zip(stale, results, strict=True) if user is None]
        with self._db.transaction() as session:
            for user in fetched:
                known[user.id] = people_repo.upsert(
                    session,
                    slack_user_id=user.id,
                    name=user.name,
                    tz=user.tz,
                    is_bot=user.is_bot,
                    deleted=user.deleted,
                    refreshed_at=now,
                    email=user.email,
                )
        # Someone we knew and Slack no longer shows is kept as they were; someone new is unknown.
        unknown = [uid for uid in missing if known.get(uid) is None]
        if unknown:
            raise UnknownPeople(unknown)
        return {uid: p for uid, p in known.items() if p is not None}

    def _fetch(self, slack_user_id: str) -> SlackUser | None:
        """users.info for one id; None when Slack knows nobody by it."""
        try:
            return self._gateway.user_info(slack_user_id)
        except SlackApiError as error:
            if error_code(error) in NOBODY:
                return None
            raise

    def refresh(self, slack_user_id: str) -> None:
        """Read someone Brickwork knows again from ``users.info`` (Slack said their profile
        changed: a new name, a move to another time zone); nobody new is made."""
        if self.stored(slack_user_id):
            self.ensure([slack_user_id], max_age=timedelta(0))

    def one(self, slack_user_id: str) -> Person:
        return self.ensure([slack_user_id])[slack_user_id]

    def stored(self, slack_user_id: str) -> bool:
        """Whether Brickwork has a row for this Slack user (no Slack call, nothing made)."""
        with self._db.transaction() as session:
            return people_repo.by_slack_id(session, slack_user_id) is not None

    def known(self, slack_user_id: str, name: str = "") -> Person:
        """The Person from the database alone: no Slack call, for work that must finish before
        an ack. On first contact the row is made from what the request carried (the id and
        the handle) and dated stale, so the next ``ensure`` / ``one`` (after the ack) fills it
        in from ``users.info``."""
        with self._db.transaction() as session:
            person = people_repo.by_slack_id(session, slack_user_id)
            if person is not None:
                return person
            return people_repo.add_placeholder(
                session, slack_user_id=slack_user_id, name=plain(name, 120), refreshed_at=NEVER_REFRESHED
            )

    def is_inactive(self, slack_user_id: str) -> bool:
        """What we know of this account says it cannot be a person using Brickwork (a bot, or
        deactivated). From the database alone: an account we have not met is not refused here."""
        with self._db.transaction() as session:
            flags = people_repo.account_flags(session, slack_user_id)
        return flags is not None and any(flags)

    def dm_channel(self, person: Person) -> str:
        """The DM channel with ``person``, opened once and remembered."""
        if person.dm_channel_id:
            return person.dm_channel_id
        channel = self._gateway.open_dm(person.slack_user_id)
        with self._db.transaction() as session:
            assert person.id is not None
            people_repo.set_dm_channel(session, person.id, channel)
        person.dm_channel_id = channel
        return channel
