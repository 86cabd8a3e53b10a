"""Admins in Slack (``BRICKWORK_ADMINS``), end to end: the org-chart CSV shared in a DM, forgetting
a person who left, the programme's health in counts, the audit trail — and everyone else refused
in one line, whatever they forge.

One app for the module: each test works with people of its own (the health test alone asks for
feedback), so the order they run in does not matter.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.admin.service import IMPORT_REFUSED, REFUSED, Health, ImportOutcome, shown
from bot.people.org_chart import ImportReport, RefusedRow, _parse_bytes
from bot.standin.driver import SlackDriver
from bot.standin.scopes import APP_SCOPES
from bot.standin.webapi import FakeSlack, FakeUser
from handlers.views import admin as admin_views
from storage.db import Database
from storage.models import AuditAction, AuditEntry, AuditOutcome, Person
from tests.harness import AppProcess, start_app
from tests.test_debrief_e2e import FULL_ANSWERS
from tests.test_feedback_e2e import open_modal_by_click

HANA = FakeUser(id="U0HANA", name="hana", real_name="Hana Sato", email="hana@example.com")  # the admin
EVE = FakeUser(id="U0EVE", name="eve", real_name="Eve Mallory", email="eve@example.com")  # not an admin
MAYA = FakeUser(id="U0MAYA", name="maya", real_name="Maya Okafor", email="maya@example.com")
ALICE = FakeUser(id="U0ALICE", name="alice", real_name="Alice Chen", email="alice@example.com")
BOB = FakeUser(id="U0BOB", name="bob", real_name="Bob Müller", email="bob@example.com")
CAROL = FakeUser(id="U0CAROL", name="carol", real_name="Carol Díaz", email="carol@example.com")
DAN = FakeUser(id="U0DAN", name="dan", real_name="Dan Ito", email="dan@example.com")
ERIN = FakeUser(id="U0ERIN", name="erin", real_name="Erin Ng", email="erin@example.com")
FRED = FakeUser(id="U0FRED", name="fred", real_name="Fred Oduya", email="fred@example.com")
FRANK = FakeUser(id="U0FRANK", name="frank", real_name="Frank Left", email="frank@example.com")
GINA = FakeUser(id="U0GINA", name="gina", real_name="Gina <b>Bold</b>", email="gina@example.com")
ROBOT = FakeUser(id="U0ROBOT", name="deploybot", real_name="Deploy Bot", is_bot=True, email="bot@example.com")
PEOPLE = (HANA, EVE, MAYA, ALICE, BOB, CAROL, DAN, ERIN, FRED, FRANK, GINA, ROBOT)

HEADER = "email,manager_email\n"
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(users=PEOPLE) as fake:
        yield fake


@pytest.fixture(scope="module")
def app(
    slack: FakeSlack, shared_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppProcess]:
    process = start_app(
        slack, shared_database_url, tmp_path_factory.mktemp("admin"), BRICKWORK_ADMINS=HANA.id
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def driver(app: AppProcess, slack: FakeSlack) -> SlackDriver:
    return SlackDriver(app.events_url, app.env["SLACK_SIGNING_SECRET"], slack)


@pytest.fixture(scope="module")
def db(shared_database_url: str) -> Iterator[Database]:
    database = Database(shared_database_url)
    yield database
    database.dispose()


def m(user: FakeUser) -> str:
    return f"<@{user.id}|{user.name}>"


def dm_posts(slack: FakeSlack, user: FakeUser) -> list[str]:
    dm = slack.dm_channel(user.id)
    return [
        str(c.args.get("text")) for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == dm
    ]


def share(driver: SlackDriver, slack: FakeSlack, user: FakeUser, name: str, content: bytes, **kw: Any) -> str:
    """``user`` shares a file in their DM with Brickwork; the one answer Brickwork posts there."""
    before = len(dm_posts(slack, user))
    response = driver.as_user(user.id).share_file(name, content, **kw)
    assert response.status == 200 and not response.too_slow, response.text
    assert slack.wait_until(lambda: len(dm_posts(slack, user)) > before, timeout=10), "no answer in the DM"
    posts = dm_posts(slack, user)
    assert len(posts) == before + 1, posts[before:]
    return posts[-1]


def audit(db: Database, actor: FakeUser, action: AuditAction | None = None) -> list[AuditEntry]:
    with db.transaction() as session:
        rows = list(session.exec(select(AuditEntry).where(AuditEntry.actor_slack_id == actor.id)))
    return [r for r in rows if action is None or r.action is action]


def person(db: Database, user: FakeUser) -> Person | None:
    with db.transaction() as session:
        return session.exec(select(Person).where(Person.slack_user_id == user.id)).first()


def manager_of(db: Database, user: FakeUser) -> str | None:
    with db.transaction() as session:
        found = session.exec(select(Person).where(Person.slack_user_id == user.id)).first()
        if found is None or found.manager_id is None:
            return None
        boss = session.get(Person, found.manager_id)
        return boss.slack_user_id if boss else None


def answer(driver: SlackDriver, user: FakeUser, text: str) -> str:
    """What ``/brickwork <text>`` answers at once (its ephemeral ack), as JSON text."""
    response = driver.as_user(user.id).command("/brickwork", text)
    assert response.status == 200 and not response.too_slow, response.text
    body = response.json()  # Bolt answers a text-only ack as text/plain
    return json.dumps(body if isinstance(body, dict) else {"text": response.text}, ensure_ascii=False)


# ---------------------------------------------------------------------------------------
# (a) The org chart, from a CSV shared in a DM
# ---------------------------------------------------------------------------------------


def test_an_admin_imports_the_org_chart_by_sharing_a_csv(
    driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    csv = (
        "\ufeffEmail,Manager_Email\r\n"
        "dan@example.com,fred@example.com\r\n"
        "ERIN@example.com,fred@example.com\r\n"
        "=cmd|' /C calc'!A0@example.com,fred@example.com\r\n"
        "nobody@example.com,fred@example.com\r\n"
        '"dan@example.com\n<!channel>",fred@example.com\r\n'
        "<!channel>@example.com,+SUM(1)@example.com\r\n"
    )
    reply = share(driver, slack, HANA, "org.csv", csv.encode())
    assert reply.splitlines() == [
        "Imported *org.csv*: 6 rows, 2 applied (managers set or removed), 4 not applied.",
        "• line 4: =cmd|' /C calc'!A0@example.com: starts like a spreadsheet formula (=, +, -, @), "
        "not an email address",
        "• line 5: nobody@example.com: no Slack user with that email",
        "• line 6: dan@example.com &lt;!channel&gt;: not an email address",
        "• line 8: &lt;!channel&gt;@example.com: not an email address",
    ]
    assert manager_of(db, DAN) == FRED.id and manager_of(db, ERIN) == FRED.id
    # The bytes came from the file's url_private with the bot token, after files.info.
    downloads = [c for c in slack.calls_to("url_private") if c.ok]
    assert downloads and slack.calls_to("files.info")[-1].ok
    (entry,) = audit(db, HANA, AuditAction.IMPORT_ORG_CHART)[-1:]
    assert entry.outcome is AuditOutcome.DONE and entry.target == downloads[-1].args["file_id"]
    assert entry.detail == "org.csv: 6 rows: 2 applied, 4 not applied"
    assert slack.invalid_calls() == []


def test_someone_who_is_not_an_admin_is_thanked_and_nothing_changes(
    driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    lookups, infos = len(slack.calls_to("users.lookupByEmail")), len(slack.calls_to("files.info"))
    downloads = len(slack.calls_to("url_private"))
    reply = share(driver, slack, EVE, "org.csv", (HEADER + "gina@example.com,eve@example.com\n").encode())
    assert reply == IMPORT_REFUSED
    assert len(slack.calls_to("users.lookupByEmail")) == lookups  # nothing of the file was read
    assert len(slack.calls_to("files.info")) == infos and len(slack.calls_to("url_private")) == downloads
    assert manager_of(db, GINA) is None
    refused = audit(db, EVE, AuditAction.IMPORT_ORG_CHART)
    assert refused and all(r.outcome is AuditOutcome.REFUSED for r in refused)
    # Several files in one message: one refusal, not one per file.
    before = len(dm_posts(slack, EVE))
    message = slack.share_file(EVE.id, "a.csv", HEADER.encode())
    second = slack.share_file(EVE.id, "b.csv", HEADER.encode())
    event = file_share_event(EVE, message["channel"], message["files"] + second["files"], message["ts"])
    assert driver.as_user(EVE.id).event(event).status == 200
    assert slack.wait_until(lambda: len(dm_posts(slack, EVE)) > before)
    assert dm_posts(slack, EVE)[before:] == [IMPORT_REFUSED]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "latin1.csv",
            (HEADER + "café@example.com,fred@example.com\n").encode("latin-1"),
            "latin1.csv: not UTF-8 text (line 2); save the CSV as UTF-8",
        ),
        (
            "wrong.csv",
            b"name,boss\nDan,Fred\n",
            "wrong.csv: line 1: expected the header email,manager_email (got 'name,boss')",
        ),
        ("empty.csv", b"\n\n", "empty.csv: the file is empty: expected the header email,manager_email"),
        (
            "nul.csv",
            HEADER.encode() + b"dan@example.com\x00,fred@example.com\n",
            "nul.csv: not a text file (it contains NUL characters); save the CSV as UTF-8",
        ),
        (
            "photo.png",
            b"\x89PNG\r\n\x1a\n" + bytes(64),
            "photo.png is not a CSV file: share a CSV with the header email,manager_email.",
        ),
        (
            "many.csv",
            (HEADER + "a@example.com,b@example.com\n" * 5001).encode(),
            "many.csv: more than 5000 rows; split the file and import each part",
        ),
        (
            "<!channel> *evil*.csv",
            b"name\n",
            "&lt;!channel&gt; *evil*.csv: line 1: expected the header email,manager_email (got 'name')",
        ),
    ],
)
def test_a_file_that_is_not_an_org_chart_gets_one_line_and_changes_nothing(
    driver: SlackDriver, slack: FakeSlack, db: Database, name: str, content: bytes, expected: str
) -> None:
    lookups = len(slack.calls_to("users.lookupByEmail"))
    reply = share(driver, slack, HANA, name, content)
    assert reply == expected
    assert len(slack.calls_to("users.lookupByEmail")) == lookups
    last = audit(db, HANA, AuditAction.IMPORT_ORG_CHART)[-1]
    assert last.outcome is AuditOutcome.FAILED and last.detail


def test_a_huge_file_is_refused_before_it_is_downloaded(driver: SlackDriver, slack: FakeSlack) -> None:
    downloads = len(slack.calls_to("url_private"))
    content = (HEADER + "someone@example.com,boss@example.com\n" * 15_000).encode()  # ~550 KB
    assert share(driver, slack, HANA, "big.csv", content) == (
        "big.csv is larger than 512 KB; split it and share each part."
    )
    assert len(slack.calls_to("url_private")) == downloads


def test_without_files_read_the_admin_is_told_which_scope_is_missing(
    driver: SlackDriver, slack: FakeSlack
) -> None:
    slack.scopes = tuple(s for s in APP_SCOPES if s != "files:read")
    try:
        reply = share(
            driver, slack, HANA, "org.csv", (HEADER + "dan@example.com,fred@example.com\n").encode()
        )
    finally:
        slack.scopes = APP_SCOPES
    assert reply == (
        "Slack would not show me that file: missing_scope (the app needs the files:read scope: "
        "reinstall it from manifest.yml)."
    )


def file_share_event(user: FakeUser, channel: str, files: list[dict[str, Any]], ts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "file_share",
        "channel": channel,
        "channel_type": "im",
        "user": user.id,
        "text": "",
        "files": files,
        "upload": True,
        "ts": ts,
    }


class _Recorder(BaseHTTPRequestHandler):
    """A host that is not Slack, recording anything sent to it (a stolen token would arrive here)."""

    seen: list[str] = []

    def do_GET(self) -> None:
        _Recorder.seen.append(f"{self.path} {self.headers.get('Authorization')}")
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.end_headers()
        self.wfile.write(HEADER.encode() + b"gina@example.com,eve@example.com\n")

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def elsewhere() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    _Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/files-pri/T0BRICK-F1/org.csv"
    server.shutdown()
    server.server_close()


def test_forged_file_shares_import_nothing_and_leak_no_token(
    driver: SlackDriver, slack: FakeSlack, db: Database, elsewhere: str
) -> None:
    hana = driver.as_user(HANA.id)
    hana_dm, eve_dm = slack.dm_channel(HANA.id), slack.dm_channel(EVE.id)
    only_yours = "I can only import a file you share yourself, here in this DM."
    # Eve's CSV, shared in her own DM (so the bot can see it), claimed in an event as Hana's.
    eves = slack.share_file(EVE.id, "org.csv", (HEADER + "gina@example.com,eve@example.com\n").encode())
    # ... with its url_private pointing at another host: the event's URL is never used.
    forged_file = {**eves["files"][0], "url_private": elsewhere, "url_private_download": elsewhere}
    downloads = len(slack.calls_to("url_private"))
    for event in (
        file_share_event(HANA, hana_dm, [forged_file], eves["ts"]),
        # Hana's own file, but the event says it was shared in Eve's DM.
        file_share_event(
            HANA, eve_dm, slack.share_file(HANA.id, "mine.csv", HEADER.encode())["files"], "1.2"
        ),
    ):
        before = len(dm_posts(slack, HANA))
        assert hana.event(event).status == 200
        assert slack.wait_until(lambda b=before: len(dm_posts(slack, HANA)) > b)  # type: ignore[misc]
        assert dm_posts(slack, HANA)[-1] == only_yours
    assert len(slack.calls_to("url_private")) == downloads and _Recorder.seen == []
    assert manager_of(db, GINA) is None
    # A file id the bot cannot see at all (shared where it is not a member).
    slack.add_channel("C0PRIVATE", "hr-private", members=[HANA.id, EVE.id], private=True)
    hidden = slack.share_file(HANA.id, "org.csv", HEADER.encode(), channel="C0PRIVATE")
    before = len(dm_posts(slack, HANA))
    assert hana.event(file_share_event(HANA, hana_dm, hidden["files"], hidden["ts"])).status == 200
    assert slack.wait_until(lambda: len(dm_posts(slack, HANA)) > before)
    assert dm_posts(slack, HANA)[-1] == only_yours
    assert audit(db, HANA, AuditAction.IMPORT_ORG_CHART)[-1].outcome is AuditOutcome.FAILED

    # Shapes Slack never sends are refused at the door (400); messages Brickwork does not act on
    # (in a channel, from a bot, an edit) are acknowledged and left alone.
    posts = len(slack.calls_to("chat.postMessage"))
    bad_id = file_share_event(HANA, hana_dm, [{"id": "../../etc/passwd"}], "1.3")
    assert hana.event(bad_id).status == 400
    assert hana.event({**file_share_event(HANA, hana_dm, [], "1.4")}).status == 400
    ignored = [
        {**file_share_event(HANA, "C0GENERAL", eves["files"], "1.5"), "channel_type": "channel"},
        {**file_share_event(HANA, hana_dm, eves["files"], "1.6"), "bot_id": "B0OTHER"},
        {**file_share_event(HANA, hana_dm, eves["files"], "1.7"), "subtype": "message_changed"},
    ]
    for event in ignored:
        assert hana.event(event).status == 200
    # Nothing to await: an ignored event is answered at the door, before any listener could run.
    assert len(slack.calls_to("chat.postMessage")) == posts


def test_a_retried_event_imports_once(driver: SlackDriver, slack: FakeSlack, db: Database) -> None:
    message = slack.share_file(
        HANA.id, "retry.csv", (HEADER + "gina@example.com,fred@example.com\n").encode()
    )
    event = file_share_event(HANA, message["channel"], message["files"], message["ts"])
    before = len(dm_posts(slack, HANA))
    hana = driver.as_user(HANA.id)
    assert hana.event(event, event_id="EvRETRY01").status == 200
    assert hana.event(event, event_id="EvRETRY01", retry_num=1).status == 200
    assert slack.wait_until(lambda: len(dm_posts(slack, HANA)) > before)
    assert manager_of(db, GINA) == FRED.id
    # The retry was acknowledged at the door (its event id was claimed), before the first was answered.
    assert dm_posts(slack, HANA)[before:] == [
        "Imported *retry.csv*: 1 row, 1 applied (managers set or removed), 0 not applied."
    ]
    done = [r for r in audit(db, HANA, AuditAction.IMPORT_ORG_CHART) if r.detail.startswith("retry.csv")]
    assert len(done) == 1


# ---------------------------------------------------------------------------------------
# (b) Forgetting a person who left
# ---------------------------------------------------------------------------------------


def give_named(driver: SlackDriver, slack: FakeSlack, giver: FakeUser, subject: FakeUser) -> None:
    before = len(slack.calls_to("views.open"))
    driver.as_user(giver.id).command("/feedback", f"give {m(subject)} about the launch")
    slack.wait_for("views.open", count=before + 1)
    form = slack.open_modal(giver.id)
    assert form is not None and form["callback_id"] == "feedback_form"
    assert driver.as_user(giver.id).submit(form, FULL_ANSWERS).text == ""


def open_forget(driver: SlackDriver, slack: FakeSlack, target: FakeUser) -> dict[str, Any]:
    before = len(slack.calls_to("views.open"))
    response = driver.as_user(HANA.id).command("/brickwork", f"forget {m(target)}")
    assert response.status == 200 and not response.too_slow
    slack.wait_for("views.open", count=before + 1)
    modal = slack.open_modal(HANA.id)
    assert modal is not None and modal["callback_id"] == "confirm_forget"
    return modal


def test_an_admin_forgets_a_person_after_confirming(
    driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give_named(driver, slack, FRANK, ALICE)
    modal = open_forget(driver, slack, FRANK)
    shown = json.dumps(modal["blocks"], ensure_ascii=False)
    assert "Forget *Frank Left* (<@U0FRANK>)?" in shown and "cannot be undone" in shown
    frank = person(db, FRANK)
    assert frank is not None and frank.left_programme_at is None  # nothing happens before the confirmation
    done = driver.as_user(HANA.id).submit(modal).json()
    assert done["response_action"] == "update"
    assert "<@U0FRANK> has left the feedback programme. Deleted 1 feedback records they gave" in json.dumps(
        done["view"]
    )
    frank = person(db, FRANK)
    assert frank is not None and frank.left_programme_at is not None
    (entry,) = audit(db, HANA, AuditAction.FORGET_PERSON)[-1:]
    assert entry.outcome is AuditOutcome.DONE and entry.target == FRANK.id
    assert entry.detail.startswith("1 feedback records and 0 coaching drafts deleted")
    # A name typed with markup is shown as typed.
    gina = open_forget(driver, slack, GINA)
    assert "Gina &lt;b&gt;Bold&lt;/b&gt;" in json.dumps(gina["blocks"])
    driver.as_user(HANA.id).close(gina)
    assert slack.invalid_calls() == []


def test_forget_answers_bad_input_in_one_line(driver: SlackDriver) -> None:
    usage = "Usage: `/brickwork forget @someone` (one person, picked from Slack's autocomplete)."
    assert json.loads(answer(driver, HANA, "forget carol"))["text"] == usage
    assert json.loads(answer(driver, HANA, f"forget {m(CAROL)} {m(BOB)}"))["text"] == usage
    assert json.loads(answer(driver, HANA, "forget <@U0NOBODY|ghost>"))["text"] == (
        "Brickwork has nothing stored for that person, so there is nothing to forget."
    )


def test_someone_who_is_not_an_admin_cannot_forget_anyone(
    driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    give_named(driver, slack, BOB, CAROL)
    opened = len(slack.calls_to("views.open"))
    for text in (f"forget {m(BOB)}", "forget bob", "forget"):
        assert json.loads(answer(driver, EVE, text))["text"] == REFUSED
    assert len(slack.calls_to("views.open")) == opened
    bob = person(db, BOB)
    assert bob is not None and bob.left_programme_at is None
    refused = audit(db, EVE, AuditAction.FORGET_PERSON)
    assert len(refused) >= 3 and all(r.outcome is AuditOutcome.REFUSED for r in refused)
    assert any(r.target == BOB.id for r in refused)


def test_a_forged_confirmation_forgets_nobody(driver: SlackDriver, slack: FakeSlack, db: Database) -> None:
    give_named(driver, slack, CAROL, BOB)
    modal = open_forget(driver, slack, CAROL)
    # Eve submits Hana's confirmation: it is not hers.
    forged = driver.as_user(EVE.id).submit(modal, strict=False).json()
    assert forged["response_action"] == "update" and "This form is not yours" in json.dumps(forged["view"])
    # Hana's own modal, its metadata rewritten to name someone else, or something that is no id.
    for metadata in ('{"subject_slack_id": "not-an-id"}', '{"subject_slack_id": "U0BOB", "x": 1}', "{}"):
        tampered = (
            driver.as_user(HANA.id).submit({**modal, "private_metadata": metadata}, strict=False).json()
        )
        assert "out of date" in json.dumps(tampered["view"])
    # A modal of the right kind that Brickwork never opened.
    never = {**modal, "id": "V0NEVEROPENED"}
    assert "not yours" in json.dumps(driver.as_user(HANA.id).submit(never, strict=False).json()["view"])
    carol = person(db, CAROL)
    bob = person(db, BOB)
    assert carol is not None and carol.left_programme_at is None
    assert bob is not None and bob.left_programme_at is None
    assert not [r for r in audit(db, HANA, AuditAction.FORGET_PERSON) if r.target in (CAROL.id, BOB.id)]


# ---------------------------------------------------------------------------------------
# (c) The programme's health, and the audit trail
# ---------------------------------------------------------------------------------------


def health_text(driver: SlackDriver, user: FakeUser) -> str:
    return answer(driver, user, "health")


def waiting(driver: SlackDriver) -> str:
    text = health_text(driver, HANA)
    marker = "still waiting (asked in the last 14 days): "
    return text.split(marker, 1)[1].split("\\n", 1)[0].split('"', 1)[0]


def test_health_is_counts_only_and_no_count_moves_with_an_anonymous_answer(
    driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    assert waiting(driver) == "fewer than 3"
    asked = driver.as_user(MAYA.id).command("/feedback", f"request {m(ALICE)} {m(DAN)} {m(ERIN)}")
    assert asked.status == 200
    slack.wait_for("response_url", where=lambda c: "Asked" in str(c.args.get("text")))
    assert waiting(driver) == "3"
    # Alice answers anonymously: to everyone who can see it, that is still silence.
    alice_dm = slack.last_dm(ALICE.id)
    assert alice_dm is not None
    form = open_modal_by_click(driver, slack, ALICE, alice_dm, "give_feedback")
    assert driver.as_user(ALICE.id).submit(form, {**FULL_ANSWERS, "Anonymity": ["anonymous"]}).text == ""
    assert waiting(driver) == "3"
    # Dan answers with his name: two still wait, too few to show.
    dan_dm = slack.last_dm(DAN.id)
    assert dan_dm is not None
    form = open_modal_by_click(driver, slack, DAN, dan_dm, "give_feedback")
    assert driver.as_user(DAN.id).submit(form, FULL_ANSWERS).text == ""
    assert waiting(driver) == "fewer than 3"

    shown = health_text(driver, HANA)
    assert "Brickwork health" in shown and "People* in the programme: " in shown
    assert "Counts below 3 read" in shown
    # No names, no notes: only counts.
    for user in PEOPLE:
        assert user.real_name not in shown and user.id not in shown
    assert "Ran the" not in shown
    assert audit(db, HANA, AuditAction.VIEW_HEALTH)[-1].outcome is AuditOutcome.DONE


def test_health_and_audit_are_refused_to_everyone_else_in_one_line(driver: SlackDriver, db: Database) -> None:
    for text in ("health", "audit", "import"):
        body = json.loads(answer(driver, EVE, text))
        assert body == {"text": REFUSED}, body
    kinds = {r.action for r in audit(db, EVE) if r.outcome is AuditOutcome.REFUSED}
    assert {AuditAction.VIEW_HEALTH, AuditAction.VIEW_AUDIT, AuditAction.IMPORT_ORG_CHART} <= kinds
    assert not [r for r in audit(db, EVE) if r.outcome is not AuditOutcome.REFUSED]
    # Help is for everyone: it says who the commands are for.
    assert "for Brickwork admins" in json.loads(answer(driver, EVE, "help"))["text"]


def test_an_admin_reads_the_audit_log(driver: SlackDriver, slack: FakeSlack, db: Database) -> None:
    answer(driver, EVE, "health")  # a refusal to find in the log
    assert json.loads(answer(driver, HANA, "import"))["text"].startswith("*Importing the org chart*")
    shown = answer(driver, HANA, "audit")
    assert "Brickwork audit log" in shown and "The latest" in shown
    assert "<@U0EVE> · health view · *refused*" in shown
    assert "health view:" in shown  # the 30-day counts
    assert audit(db, HANA, AuditAction.VIEW_AUDIT)[-1].outcome is AuditOutcome.DONE
    assert slack.invalid_calls() == []


@PROPERTY
@given(
    text=st.text(max_size=60) | st.sampled_from(["health", "audit", "import", "forget", "forget <@U0HANA|h>"])
)
def test_no_brickwork_command_from_someone_else_does_anything(
    driver: SlackDriver, slack: FakeSlack, db: Database, text: str
) -> None:
    opened = len(slack.calls_to("views.open"))
    response = driver.as_user(EVE.id).command("/brickwork", text)
    assert response.status == 200 and not response.too_slow
    body = response.json()
    body = body if isinstance(body, dict) else {"text": response.text}
    assert body.get("text")
    assert body["text"] == REFUSED or "for Brickwork admins" in body["text"]
    assert len(slack.calls_to("views.open")) == opened
    assert not [r for r in audit(db, EVE) if r.outcome is not AuditOutcome.REFUSED]


# ---------------------------------------------------------------------------------------
# Pure pieces, under hostile input
# ---------------------------------------------------------------------------------------

CELLS = st.text(max_size=30) | st.sampled_from(
    ["=1+1", "+cmd", "-2", "@SUM(A1)", '=HYPERLINK("x")@a.io', "a@example.com", "<!here>", "\t=x@a.io"]
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(rows=st.lists(st.tuples(CELLS, CELLS), max_size=12))
def test_no_formula_is_ever_taken_for_an_email(rows: list[tuple[str, str]]) -> None:
    data = "\n".join(
        [HEADER.strip(), *(f'"{a.replace(chr(34), "")}","{b.replace(chr(34), "")}"' for a, b in rows)]
    )
    try:
        parsed, _, _ = _parse_bytes(data.encode("utf-8", "surrogatepass"), "org.csv")
    except Exception:
        return  # refused whole, in one line (tests/test_operator_input_props.py holds that)
    for row in parsed:
        assert not row.email.startswith(("=", "+", "-", "@"))
        assert not (row.manager_email or "").startswith(("=", "+", "-", "@"))


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    name=st.text(max_size=90),
    refused=st.lists(
        st.tuples(st.integers(1, 10_000), st.text(max_size=300), st.text(max_size=300)), max_size=70
    ),
)
def test_the_import_reply_is_one_line_per_bad_row_and_pings_nobody(
    name: str, refused: list[tuple[int, str, str]]
) -> None:
    report = ImportReport(
        rows_read=len(refused) + 1,
        applied=1,
        refused=tuple(RefusedRow(line, email, reason) for line, email, reason in refused),
    )
    reply = admin_views.import_reply(ImportOutcome(file_name=name, report=report))
    lines = reply.split("\n")
    assert len(lines) == 1 + min(len(refused), 50) + (1 if len(refused) > 50 else 0)
    assert "<" not in reply and ">" not in reply  # escaped: no <!channel>, no <link|label>
    assert len(reply) < 40_000  # Slack's limit for a message's text


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(counts=st.lists(st.none() | st.integers(3, 10**6), min_size=10, max_size=10))
def test_health_shows_a_small_count_as_fewer_than_three(counts: list[int | None]) -> None:
    health = Health(*counts, as_of=datetime(2026, 12, 1, tzinfo=UTC))  # type: ignore[arg-type]
    _, blocks = admin_views.health_message(health)
    text = json.dumps([b.to_dict() for b in blocks])
    assert text.count("fewer than 3") >= sum(1 for c in counts if c is None)
    for digit in ("0 ", "1 ", "2 "):
        assert f": {digit}" not in text


def test_health_never_shows_a_count_below_three() -> None:
    assert [shown(n) for n in range(6)] == [None, None, None, 3, 4, 5]


def test_the_gateway_sends_the_token_to_slacks_files_host_only(slack: FakeSlack, elsewhere: str) -> None:
    from slack_sdk import WebClient

    from bot.slack_gateway import TOO_LARGE, DownloadRefused, SlackGateway, file_url_origins

    assert file_url_origins("https://slack.com/api/") == frozenset({"https://files.slack.com"})
    gateway = SlackGateway(WebClient(token="xoxb-test-0000", base_url=slack.url))
    file = slack.share_file(HANA.id, "org.csv", HEADER.encode())["files"][0]
    assert gateway.download_private(file["url_private"], max_bytes=100) == HEADER.encode()
    with pytest.raises(DownloadRefused) as too_large:
        gateway.download_private(file["url_private"], max_bytes=5)
    assert too_large.value.reason == TOO_LARGE
    # Another host, or another scheme: refused before any request, so no token leaves.
    for url in (elsewhere, "file:///etc/passwd", "ftp://127.0.0.1/x", "https://files.slack.com.evil.io/x"):
        with pytest.raises(DownloadRefused):
            gateway.download_private(url, max_bytes=100)
    assert _Recorder.seen == []
    # A token Slack will not serve the file to: its sign-in redirect, not followed, is a refusal.
    user_token = SlackGateway(WebClient(token="xoxp-user", base_url=slack.url))
    with pytest.raises(DownloadRefused) as redirected:
        user_token.download_private(file["url_private"], max_bytes=100)
    assert redirected.value.reason == "Slack would not let Brickwork read the file"
    assert [c.status for c in slack.calls_to("url_private")][-1] == 302
    assert gateway.file_info("F404") is None


def test_admin_views_fit_slacks_limits_at_their_largest() -> None:
    from bot.admin.audit import RECENT_LINES, AuditLine, AuditSummary
    from bot.admin.service import ForgetPreview
    from bot.people.org_chart import ForgetReport
    from bot.standin.validation import validate_message_blocks, validate_message_text, validate_view

    now = datetime(2026, 12, 1, tzinfo=UTC)
    evil = "<!channel> & <https://evil.example|bank> " * 10
    lines = tuple(
        AuditLine(HANA.id, action, "F" + "9" * 40, outcome, evil[:200], now)
        for action, outcome in zip(list(AuditAction) * 10, list(AuditOutcome) * 10, strict=False)
    )[:RECENT_LINES]
    counts = {(a, o): 10**6 for a in AuditAction for o in AuditOutcome}
    text, blocks = admin_views.audit_message(AuditSummary(since=now, counts=counts, recent=lines))
    dumped = [b.to_dict() for b in blocks]
    assert validate_message_blocks(dumped) == [] and validate_message_text(text) == []
    assert "<!channel>" not in json.dumps(dumped) and "&lt;!channel&gt;" in json.dumps(dumped)
    text, blocks = admin_views.health_message(Health(*([10**9] * 10), as_of=now))  # type: ignore[arg-type]
    assert validate_message_blocks([b.to_dict() for b in blocks]) == []
    modal = admin_views.confirm_forget_modal(ForgetPreview(GINA.id, "G" * 120 + evil, already_left=True))
    assert validate_view(modal.to_dict()) == []
    assert "<!channel>" not in json.dumps(modal.to_dict())
    report = ForgetReport(GINA.id, 10**6, 10**6, 10**6, 10**6, True, now)
    assert validate_view(admin_views.forgotten_modal(report).to_dict()) == []
    bad = tuple(RefusedRow(n, "x" * 300, "y" * 300) for n in range(5000))
    reply = admin_views.import_reply(
        ImportOutcome("o" * 200, ImportReport(rows_read=5000, applied=0, refused=bad))
    )
    assert validate_message_text(reply) == [] and reply.endswith("…and 4950 more rows not applied.")
