"""The org chart (who manages whom) and taking a person out of the feedback programme.

The rule lives here and nowhere else: a person has at most one manager, and nobody may end
up managing themself, directly or through a chain. Three ways change the chart: a person
confirming a manager's claim (the Home tab), an admin's CSV import (authoritative, so it
sets managers directly), and forgetting a person.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot.errors import BrickworkError, InvalidInput, NotAllowed, NotFound
from bot.people.directory import PeopleService
from bot.slack_gateway import SlackGateway, SlackUser
from storage.db import Database
from storage.models import Person
from storage.repositories import growth as growth_repo
from storage.repositories import org as org_repo
from storage.repositories import people as people_repo

log = logging.getLogger(__name__)

HEADER = ("email", "manager_email")
EMAIL_MAX = 254
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")

NO_SLACK_USER = "no Slack user with that email"
# A cell a spreadsheet would run as a formula ("=HYPERLINK(…)", "+1+cmd", "@SUM(…)"): no email
# starts so, and whoever opens a copy of the file or of what came from it must not run one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA = "starts like a spreadsheet formula (=, +, -, @), not an email address"

K = TypeVar("K", bound=Hashable)


def would_create_cycle(person: K, manager: K | None, manager_of: Callable[[K], K | None]) -> bool:
    """True when making ``manager`` the manager of ``person`` makes someone their own manager.

    Walks the chain upward from ``manager``; a chain that loops without reaching ``person``
    (a bad row from before this rule) ends the walk instead of looping forever.
    """
    seen: set[K] = set()
    current = manager
    while current is not None and current not in seen:
        if current == person:
            return True
        seen.add(current)
        current = manager_of(current)
    return False


@dataclass(frozen=True)
class RefusedRow:
    line: int
    email: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    rows_read: int
    applied: int
    refused: tuple[RefusedRow, ...]

    @property
    def all_applied(self) -> bool:
        return not self.refused

    def summary(self) -> str:
        rows = "row" if self.rows_read == 1 else "rows"
        return f"{self.rows_read} {rows}: {self.applied} applied, {len(self.refused)} not applied"


@dataclass(frozen=True)
class ForgetReport:
    slack_user_id: str
    feedback_deleted: int
    drafts_deleted: int  # coaching drafts about them, by them, or citing what they gave
    requests_withdrawn: int
    reports_unlinked: int  # people who had them as manager (confirmed or claimed)
    manager_unlinked: bool  # their own manager (or a pending claim on them) was removed
    left_programme_at: datetime


@dataclass(frozen=True)
class _Row:
    line: int
    email: str  # as written (stripped)
    manager_email: str | None  # None: "no manager"


@dataclass(frozen=True)
class _Resolved:
    row: _Row
    person: SlackUser
    manager: SlackUser | None


class OrgService:
    def __init__(
        self,
        db: Database,
        gateway: SlackGateway,
        people: PeopleService,
        clock: Callable[[], datetime],
        on_change: Callable[[Iterable[str]], None] | None = None,
        request_window: timedelta = timedelta(days=14),
    ) -> None:
        self._db, self._gateway, self._people, self._clock = db, gateway, people, clock
        self._on_change = on_change  # told, after a commit, whose App Home changed
        # Requests this recent still show on Homes: leaving changes the Homes of their people.
        self._request_window = request_window

    # -- one change at a time ---------------------------------------------------------

    def assign_manager(
        self, *, person_id: int, manager_id: int | None, claimed_by: int | None = None
    ) -> None:
        """Make ``manager_id`` the person's confirmed manager (None: no manager).

        Clears any pending claim. Refuses self-management and cycles with ``InvalidInput``.
        With ``claimed_by`` (a person confirming a claim), refuses with ``NotAllowed`` unless
        that claim is still pending, checked under the same lock as the change: a claim
        withdrawn a moment before the confirmation is not accepted.
        """
        if manager_id == person_id:
            raise InvalidInput({"manager": "Nobody can be their own manager."})
        with self._db.transaction() as session:
            org_repo.lock_org_chart(session)
            person = people_repo.get(session, person_id)
            if person is None:
                raise NotFound("That person is not known to Brickwork.")
            if claimed_by is not None and person.pending_manager_id != claimed_by:
                raise NotAllowed("That request is no longer pending.")
            if manager_id is not None:
                manager = people_repo.get(session, manager_id)
                if manager is None:
                    raise NotFound("That manager is not known to Brickwork.")
                if manager.is_bot or manager.deleted:
                    raise InvalidInput({"manager": f"{manager.name} is a bot or a deactivated account."})
                if would_create_cycle(
                    person_id, manager_id, lambda pid: org_repo.manager_id_of(session, person_id=pid)
                ):
                    raise InvalidInput(
                        {
                            "manager": f"{manager.name} already reports to {person.name}, directly or "
                            "through others, so they cannot be their manager."
                        }
                    )
            org_repo.set_manager(session, person_id=person_id, manager_id=manager_id)

    # -- the admin's CSV import -------------------------------------------------------

    def import_csv(self, path: Path) -> ImportReport:
        """Set managers from a CSV file with the header ``email,manager_email``.

        A bad row is reported and skipped; a missing or unreadable file, or a wrong header, is
        a ``BrickworkError``. Slack lookups run first, outside any transaction; the good rows
        then land in one transaction, checked for cycles row by row in file order.
        """
        return self.import_rows(*_parse(path))

    def import_csv_bytes(
        self,
        data: bytes,
        *,
        source: str,
        max_rows: int | None = None,
        record: Callable[[Session, ImportReport], None] | None = None,
    ) -> ImportReport:
        """``import_csv`` for a file's bytes (a CSV shared in Slack): ``source`` names it in
        errors; more than ``max_rows`` rows is a ``BrickworkError`` and nothing is looked up.
        ``record`` is called with the report inside the transaction that applies it (an audit
        row lands with the change, or neither does)."""
        return self.import_rows(*_parse_bytes(data, source, max_rows=max_rows), record=record)

    def import_rows(
        self,
        rows: list[_Row],
        refused: list[RefusedRow],
        rows_read: int,
        *,
        record: Callable[[Session, ImportReport], None] | None = None,
    ) -> ImportReport:
        resolved = self._resolve(rows, refused)
        now = self._clock()
        applied = 0
        with self._db.transaction() as session:
            org_repo.lock_org_chart(session)
            chart = org_repo.manager_links(session)  # slack id -> manager's slack id, built as we go
            for item in resolved:
                person_uid = item.person.id
                manager_uid = item.manager.id if item.manager is not None else None
                if manager_uid is not None and would_create_cycle(person_uid, manager_uid, chart.get):
                    refused.append(
                        RefusedRow(
                            item.row.line,
                            item.row.email,
                            f"{item.row.manager_email} already reports to {item.row.email}, directly "
                            "or through others (a cycle)",
                        )
                    )
                    continue
                person = self._upsert(session, item.person, item.row.email, now)
                manager = (
                    self._upsert(session, item.manager, item.row.manager_email or "", now)
                    if item.manager is not None
                    else None
                )
                assert person.id is not None
                org_repo.set_manager(
                    session, person_id=person.id, manager_id=manager.id if manager is not None else None
                )
                if manager_uid is None:
                    chart.pop(person_uid, None)
                else:
                    chart[person_uid] = manager_uid
                applied += 1
            report = ImportReport(
                rows_read=rows_read, applied=applied, refused=tuple(sorted(refused, key=lambda r: r.line))
            )
            if record is not None:
                record(session, report)
        log.info("org chart import: %d rows, %d applied, %d refused", rows_read, applied, len(refused))
        return report

    def _resolve(self, rows: list[_Row], refused: list[RefusedRow]) -> list[_Resolved]:
        """Look every email up in Slack once, and refuse the rows that name nobody usable."""
        found: dict[str, SlackUser | None] = {}
        for email in (e for row in rows for e in (row.email, row.manager_email) if e):
            if email.lower() not in found:
                found[email.lower()] = self._lookup(email)
        resolved: list[_Resolved] = []
        first_line: dict[str, int] = {}  # slack id -> the line that set their manager
        for row in rows:
            person = found[row.email.lower()]
            manager = found[row.manager_email.lower()] if row.manager_email else None
            reason = _unusable(person, "")
            if reason is None and row.manager_email:
                reason = _unusable(manager, f"the manager {row.manager_email}: ")
            if reason is None and person is not None and manager is not None and person.id == manager.id:
                reason = "a person cannot be their own manager"
            if reason is None and person is not None and person.id in first_line:
                reason = f"listed twice (first on line {first_line[person.id]})"
            if reason is not None or person is None:
                refused.append(RefusedRow(row.line, row.email, reason or NO_SLACK_USER))
                continue
            first_line[person.id] = row.line
            resolved.append(_Resolved(row, person, manager))
        return resolved

    def _lookup(self, email: str) -> SlackUser | None:
        try:
            return self._gateway.lookup_by_email(email)
        except SlackApiError as error:
            code = str(error.response.get("error") or "unknown error")
            hint = " (the app needs the users:read.email scope)" if code == "missing_scope" else ""
            raise BrickworkError(f"Slack refused users.lookupByEmail: {code}{hint}") from None
        except OSError as error:
            unreachable = f"Slack is unreachable ({type(error).__name__}); nothing was imported"
            raise BrickworkError(unreachable) from None

    @staticmethod
    def _upsert(session: Session, user: SlackUser, email: str, now: datetime) -> Person:
        return people_repo.upsert(
            session,
            slack_user_id=user.id,
            name=user.name,
            tz=user.tz,
            is_bot=user.is_bot,
            deleted=user.deleted,
            refreshed_at=now,
            email=user.email or email,
        )

    # -- leaving the programme --------------------------------------------------------

    def forget(
        self, slack_user_id: str, *, record: Callable[[Session, ForgetReport], None] | None = None
    ) -> ForgetReport:
        """Delete the feedback the person gave and the coaching drafts about them, by them or
        citing what they gave (and the coach's answer cache), withdraw their open requests, take them out
        of the org chart and mark them as having left the programme. Safe to repeat. ``record``
        is called with the report inside the same transaction (an admin's audit row)."""
        now = self._clock()
        with self._db.transaction() as session:
            org_repo.lock_org_chart(session)
            person = people_repo.by_slack_id(session, slack_user_id)
            if person is None:
                raise NotFound(f"Brickwork has nothing stored for the Slack user {slack_user_id}.")
            assert person.id is not None
            since = now - self._request_window
            touched = org_repo.people_touched_by_leaving(session, person_id=person.id, since=since)
            touched_slack_ids = [p.slack_user_id for p in people_repo.by_ids(session, touched).values()]
            given = org_repo.feedback_ids_given_by(session, giver_id=person.id)
            # Coaching drawn from what they gave, and coaching about them or by them, goes too;
            # the coach's answer cache may quote anything, so it is emptied.
            drafts = org_repo.delete_coaching_drafts(session, person_id=person.id, feedback_ids=given)
            org_repo.clear_coach_answers(session)
            deleted = org_repo.delete_feedback(session, feedback_ids=given)
            growth_repo.delete_self_assessments(session, person.id)  # theirs alone: gone with them
            growth_repo.delete_steps(session, person.id)
            withdrawn = org_repo.withdraw_open_requests(session, person_id=person.id, at=now)
            manager_unlinked = person.manager_id is not None or person.pending_manager_id is not None
            person.manager_id = person.pending_manager_id = None
            # The first departure is the one that counts; repeating changes nothing.
            person.left_programme_at = person.left_programme_at or now
            session.add(person)
            session.flush()
            unlinked = org_repo.unlink_reports(session, manager_id=person.id)
            left_at = person.left_programme_at
            report = ForgetReport(
                slack_user_id=slack_user_id,
                feedback_deleted=deleted,
                drafts_deleted=drafts,
                requests_withdrawn=withdrawn,
                reports_unlinked=unlinked,
                manager_unlinked=manager_unlinked,
                left_programme_at=left_at,
            )
            if record is not None:
                record(session, report)
        log.info(
            "forgot person %s: %d feedback deleted, %d coaching drafts deleted, %d requests withdrawn, "
            "%d reports unlinked",
            person.id,
            deleted,
            drafts,
            withdrawn,
            unlinked,
        )
        if self._on_change is not None:
            self._on_change(touched_slack_ids)
        return report


def _unusable(user: SlackUser | None, prefix: str) -> str | None:
    if user is None:
        return prefix + NO_SLACK_USER
    if user.is_bot:
        return prefix + "that is a bot account, not a person"
    if user.deleted:
        return prefix + "that Slack account is deactivated"
    return None


def _parse(path: Path) -> tuple[list[_Row], list[RefusedRow], int]:
    """The rows worth looking up, the rows refused already, and how many rows were read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BrickworkError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BrickworkError(f"{path}: is a directory, not a CSV file") from None
    except OSError as error:
        raise BrickworkError(f"{path}: cannot read the file ({error.strerror or error})") from None
    return _parse_bytes(data, str(path))


def _parse_bytes(
    data: bytes, path: str, *, max_rows: int | None = None
) -> tuple[list[_Row], list[RefusedRow], int]:
    try:
        text = data.decode("utf-8-sig")  # Excel writes a BOM; it is not part of the header
    except UnicodeDecodeError as error:
        line = _text_line(error)
        raise BrickworkError(f"{path}: not UTF-8 text (line {line}); save the CSV as UTF-8") from None
    if "\x00" in text:
        raise BrickworkError(f"{path}: not a text file (it contains NUL characters); save the CSV as UTF-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[_Row] = []
    refused: list[RefusedRow] = []
    rows_read = 0
    header_seen = False
    first_line: dict[str, int] = {}  # lower-cased email -> the line that listed it first
    end = 0  # the last line of the previous record: a quoted field may span lines
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            cells = [cell.strip() for cell in record]
            if not any(cells):
                continue  # blank lines, and the empty rows spreadsheets append
            if not header_seen:
                if tuple(cell.lower() for cell in cells) != HEADER:
                    raise BrickworkError(
                        f"{path}: line {start}: expected the header email,manager_email "
                        f"(got {','.join(cells)[:80]!r})"
                    )
                header_seen = True
                continue
            rows_read += 1
            if max_rows is not None and rows_read > max_rows:
                raise BrickworkError(
                    f"{path}: more than {max_rows} rows; split the file and import each part"
                )
            reason = _malformed(cells)
            email = cells[0]
            if reason is None and email.lower() in first_line:
                reason = f"listed twice (first on line {first_line[email.lower()]})"
            if reason is None and cells[1].lower() == email.lower():
                reason = "a person cannot be their own manager"
            if _EMAIL.fullmatch(email):
                first_line.setdefault(email.lower(), start)
            if reason is not None:
                refused.append(RefusedRow(start, email, reason))
            else:
                rows.append(_Row(start, email, cells[1] or None))
    except csv.Error as error:
        raise BrickworkError(f"{path}: line {reader.line_num}: not a valid CSV file ({error})") from None
    if not header_seen:
        raise BrickworkError(f"{path}: the file is empty: expected the header email,manager_email")
    return rows, refused, rows_read


def _malformed(cells: list[str]) -> str | None:
    if len(cells) != len(HEADER):
        return f"expected 2 columns (email,manager_email), found {len(cells)}"
    email, manager_email = cells
    if not email:
        return "the email is missing"
    if email.startswith(FORMULA_STARTS):
        return FORMULA
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        return "not an email address"
    if manager_email.startswith(FORMULA_STARTS):
        return f"the manager email {FORMULA}"
    if manager_email and (len(manager_email) > EMAIL_MAX or not _EMAIL.fullmatch(manager_email)):
        return f"the manager email {manager_email[:80]!r} is not an email address"
    return None


def _text_line(error: UnicodeDecodeError) -> int:
    """The line of the first byte that is not UTF-8, for the error message."""
    return error.object[: error.start].count(b"\n") + 1
