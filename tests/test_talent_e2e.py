"""The talent review in Slack, end to end against the running app: a manager's ``/growth team``
(confirmed reports only, names on expand, the buttons that act on a report), HR's
``/growth review`` (the CSV and the map in a DM, admins only, audited) and
``/growth succession <role>``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from matplotlib.image import imread
from sqlmodel import select

from bot.admin.service import REFUSED
from bot.analytics.synthetic import talent_company
from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack
from bot.talent.sample import write_talent_company
from handlers.ids import ActionId
from storage.db import Database
from storage.models import AuditAction, AuditEntry, AuditOutcome, Person
from tests.harness import ALICE, BOB, MAYA, AppProcess, start_app
from tests.test_concurrency import eventually

TEAM = "T1"  # the synthetic team Maya manages in these tests


@pytest.fixture(scope="module")
def app(
    shared_slack: FakeSlack, shared_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppProcess]:
    process = start_app(
        shared_slack, shared_database_url, tmp_path_factory.mktemp("talent"), BRICKWORK_ADMINS=MAYA.id
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def driver(app: AppProcess, shared_slack: FakeSlack) -> SlackDriver:
    return SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], shared_slack)


@pytest.fixture(scope="module")
def company(
    app: AppProcess, driver: SlackDriver, shared_slack: FakeSlack, shared_db: Database
) -> dict[str, int]:
    """The synthetic company, with Maya as the manager team T1 confirmed; one more person has
    only been claimed by her (not confirmed) and must appear nowhere in her team."""
    empty = answer(driver, shared_slack, MAYA, "team")  # Maya is known to Brickwork from here on
    assert "Nobody has confirmed you as their manager yet" in names_in(empty)
    ids = write_talent_company(shared_db, talent_company(now=datetime.now(UTC)))
    with shared_db.transaction() as session:
        maya = session.exec(select(Person).where(Person.slack_user_id == MAYA.id)).one()
        for code, person_id in ids.items():
            person = session.get(Person, person_id)
            assert person is not None
            if code.startswith(TEAM) and code != f"{TEAM}00":
                person.manager_id = maya.id
            elif code == "T201":
                person.manager_id, person.pending_manager_id = None, maya.id
            session.add(person)
    return ids


def answer(driver: SlackDriver, slack: FakeSlack, who: Any, text: str) -> dict[str, Any]:
    """What ``/growth TEXT`` answered: the ack's message, or the one sent to its response_url."""
    before = len(slack.calls_to("response_url"))
    response = driver.as_user(who.id).command("/growth", text)
    assert response.status == 200 and not response.too_slow
    if response.text.strip():
        body = response.json()
        return body if isinstance(body, dict) else {"text": response.text}
    call = slack.wait_for("response_url", count=before + 1, where=lambda c: True)[-1]
    return dict(call.args)


def names_in(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks"), ensure_ascii=False) + str(message.get("text"))


def team_names(db: Database, *, confirmed: bool) -> set[str]:
    with db.transaction() as session:
        maya = session.exec(select(Person).where(Person.slack_user_id == MAYA.id)).one()
        column = Person.manager_id if confirmed else Person.pending_manager_id
        return {p.name for p in session.exec(select(Person).where(column == maya.id))}


def test_a_manager_sees_their_confirmed_team_on_the_map_and_expands_the_names(
    driver: SlackDriver, shared_slack: FakeSlack, shared_db: Database, company: dict[str, int]
) -> None:
    message = answer(driver, shared_slack, MAYA, "team")
    shown = names_in(message)
    confirmed, pending = team_names(shared_db, confirmed=True), team_names(shared_db, confirmed=False)
    assert len(confirmed) == 7 and len(pending) == 1
    for name in confirmed:
        assert name in shown
    assert not [name for name in pending if name in shown]  # claimed, not confirmed: not hers to see
    assert "Your team's leadership pipeline" in shown and "Evidence for your judgement" in shown
    assert "rests on" in shown or "from" in shown  # each reason says what it rests on
    grid = next(b for b in message["blocks"] if b["type"] == "section" and "```" in b["text"]["text"])[
        "text"
    ]["text"]
    rows = grid.split("```")[1].splitlines()[:3]  # high, middle, low leadership: 3 counts each
    counts = [int(n) for line in rows for n in line.split()[-3:]]
    assert 0 < sum(counts) <= len(confirmed)
    # Each report has the buttons that act on them (their handlers authorise again).
    values = {
        e["value"]
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ActionId.REQUEST_FOR_REPORT
    }
    assert len(values) == len(confirmed)
    # "Show names": the clicker's own team, whatever the button's value says.
    container = {"channel": "C0GENERAL", "ts": "1.1", "is_ephemeral": True, "blocks": message["blocks"]}
    before = len(shared_slack.calls_to("response_url"))
    driver.as_user(MAYA.id).click(container, ActionId.TALENT_NAMES)
    names = dict(shared_slack.wait_for("response_url", count=before + 1)[-1].args)
    listed = names_in(names)
    assert all(name in listed for name in confirmed) and not [n for n in pending if n in listed]
    forged = json.loads(json.dumps(container))
    for block in forged["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == ActionId.TALENT_NAMES:
                element["value"] = "everyone"
    before = len(shared_slack.calls_to("views.open"))
    driver.as_user(BOB.id).click(forged, ActionId.TALENT_NAMES)  # Bob manages nobody
    shared_slack.wait_for("views.open", count=before + 1)  # a button's error comes as a notice
    refused = json.dumps(shared_slack.open_modal(BOB.id), ensure_ascii=False)
    assert "Nobody has confirmed you as their manager yet" in refused
    assert not [name for name in confirmed if name in refused]


def test_hr_gets_the_csv_and_the_map_in_a_dm_and_others_are_refused_and_recorded(
    driver: SlackDriver, shared_slack: FakeSlack, shared_db: Database, company: dict[str, int]
) -> None:
    refused = answer(driver, shared_slack, ALICE, "review")
    assert REFUSED in str(refused.get("text"))
    assert not shared_slack.files(ALICE.id)
    files_before = len(shared_slack.files(MAYA.id))
    answer(driver, shared_slack, MAYA, "review")
    shared_slack.wait_for("files.completeUploadExternal", count=2, timeout=30)  # (the review is drawn)
    files = shared_slack.files(MAYA.id)[files_before:]
    assert sorted(f["name"].rsplit("-", 3)[0] for f in files) == ["talent-map", "talent-review"]
    table = next(f for f in files if f["name"].endswith(".csv"))
    rows = list(csv.DictReader(io.StringIO(table["content"].decode())))
    assert len(rows) >= len(company) and {"readiness", "reason", "inspires_calibrated"} <= set(rows[0])
    picture = next(f for f in files if f["name"].endswith(".png"))
    assert imread(io.BytesIO(picture["content"]), format="png").shape[:2] == (800, 1100)
    dm = shared_slack.dm_channel(MAYA.id)
    posts = [c for c in shared_slack.calls_to("chat.postMessage") if c.args.get("channel") == dm]
    report = json.dumps(posts[-1].args.get("blocks"), ensure_ascii=False)
    assert "Rater habits" in report and "Personality words" in report and "not accusations" in report

    def audited() -> list[tuple[str, AuditOutcome]]:
        with shared_db.transaction() as session:
            rows = session.exec(
                select(AuditEntry).where(AuditEntry.action == AuditAction.EXPORT_TALENT_REVIEW)
            )
            return [(a.actor_slack_id, a.outcome) for a in rows]

    # Recorded once the delivery is over: just after the DM the test has seen.
    eventually("the delivered review to be recorded", lambda: len(audited()) >= 2)
    assert audited() == [(ALICE.id, AuditOutcome.REFUSED), (MAYA.id, AuditOutcome.DONE)]


def test_succession_lists_who_fits_a_role_with_their_gaps(
    driver: SlackDriver, shared_slack: FakeSlack, company: dict[str, int]
) -> None:
    listing = answer(driver, shared_slack, MAYA, "succession Engineering Manager")
    text = names_in(listing)
    assert "Succession: engineering manager" in text and "fewest gaps first" in text
    assert "ready now" in text and ("Gaps:" in text or "No gap" in text)
    unknown = names_in(answer(driver, shared_slack, MAYA, "succession astronaut"))
    assert "No role is called that" in unknown and "`engineering manager`" in unknown
    bare = names_in(answer(driver, shared_slack, MAYA, "succession"))
    assert "Name a role" in bare and "`tech lead`" in bare
    assert REFUSED in names_in(answer(driver, shared_slack, BOB, "succession tech lead"))


def test_a_large_team_pages_through_everyone(
    driver: SlackDriver, shared_slack: FakeSlack, shared_db: Database, company: dict[str, int]
) -> None:
    """Slack holds 50 blocks a message: 20 reports a page, and a button for the next."""
    with shared_db.transaction() as session:
        maya = session.exec(select(Person).where(Person.slack_user_id == MAYA.id)).one()
        for code, person_id in company.items():
            if code[:2] in ("T2", "T3", "T4") and not code.endswith("00") and code != "T201":
                person = session.get(Person, person_id)
                assert person is not None
                person.manager_id = maya.id
                session.add(person)
    confirmed = team_names(shared_db, confirmed=True)
    assert len(confirmed) == 7 + 3 * 7 - 1
    first = answer(driver, shared_slack, MAYA, "team")
    seen = {name for name in confirmed if name in names_in(first)}
    assert len(seen) == 20 and len(first["blocks"]) <= 50
    container = {"channel": "C0GENERAL", "ts": "1.1", "is_ephemeral": True, "blocks": first["blocks"]}
    before = len(shared_slack.calls_to("response_url"))
    driver.as_user(MAYA.id).click(container, ActionId.TALENT_MORE)
    second = dict(shared_slack.wait_for("response_url", count=before + 1)[-1].args)
    rest = {name for name in confirmed if name in names_in(second)}
    assert seen | rest == confirmed and not seen & rest
    assert ActionId.TALENT_MORE.value not in names_in(second)  # the last page
