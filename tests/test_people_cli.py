"""`brickwork people import` and `brickwork people forget`, run as an admin runs them: a separate
process against the stand-in for Slack and a real, migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.standin.webapi import FakeSlack, FakeUser
from storage.db import Database
from storage.models import CoachAudience, CoachingDraft, Person
from tests.cli import brickwork

MAYA = FakeUser(id="U0MAYA", name="maya", real_name="Maya Okafor", email="maya@example.com")
ALICE = FakeUser(id="U0ALICE", name="alice", real_name="Alice Chen", email="alice@example.com")
BOB = FakeUser(id="U0BOB", name="bob", real_name="Bob Müller", email="bob@example.com")
ROBOT = FakeUser(id="U0ROBOT", name="deploybot", real_name="Deploy Bot", is_bot=True, email="bot@example.com")


@pytest.fixture
def org_slack() -> Iterator[FakeSlack]:
    with FakeSlack(users=(MAYA, ALICE, BOB, ROBOT)) as fake:
        yield fake


def env(slack: FakeSlack, database_url: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-test-0000",
        "SLACK_API_URL": slack.url,
        "DATABASE_URL": database_url,
        "BRICKWORK_LOG_LEVEL": "WARNING",
    }


def managers(db: Database) -> dict[str, str | None]:
    """Slack id -> their confirmed manager's Slack id."""
    with db.transaction() as session:
        people = list(session.exec(select(Person)))
    by_id = {p.id: p.slack_user_id for p in people}
    return {p.slack_user_id: by_id.get(p.manager_id) if p.manager_id else None for p in people}


def write(tmp_path: Path, text: str, name: str = "org.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_import_sets_managers_and_reports_the_rows_it_refused(
    org_slack: FakeSlack, database_url: str, db: Database, tmp_path: Path
) -> None:
    csv_file = write(
        tmp_path,
        "\ufeffEmail,Manager_Email\r\n"  # Excel's BOM and capitalised header
        "alice@example.com,maya@example.com\r\n"
        "\r\n"
        "BOB@example.com,alice@example.com\r\n"
        "maya@example.com,bob@example.com\r\n"  # maya -> bob -> alice -> maya: a cycle
        "nobody@example.com,maya@example.com\r\n"
        "bot@example.com,maya@example.com\r\n"
        "alice@example.com,bob@example.com\r\n"  # Alice twice
        "not-an-email,maya@example.com\r\n"
        "bob@example.com\r\n",
    )
    result = brickwork("people", "import", str(csv_file), env=env(org_slack, database_url), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "8 rows: 2 applied, 6 not applied"
    assert lines[1:] == [
        "line 5: maya@example.com: bob@example.com already reports to maya@example.com, directly or "
        "through others (a cycle)",
        "line 6: nobody@example.com: no Slack user with that email",
        "line 7: bot@example.com: that is a bot account, not a person",
        "line 8: alice@example.com: listed twice (first on line 2)",
        "line 9: not-an-email: not an email address",
        "line 10: bob@example.com: expected 2 columns (email,manager_email), found 1",
    ]
    chart = managers(db)
    assert chart[ALICE.id] == MAYA.id and chart[BOB.id] == ALICE.id and chart[MAYA.id] is None
    with db.transaction() as session:
        bob = session.exec(select(Person).where(Person.slack_user_id == BOB.id)).one()
    assert bob.email == "bob@example.com" and bob.name == "Bob Müller"
    # Each email was looked up once, however often the file names it.
    looked_up = [c.args["email"].lower() for c in org_slack.calls_to("users.lookupByEmail")]
    assert len(looked_up) == len(set(looked_up))

    # The import is authoritative and repeatable: an empty manager takes Bob's away.
    again = write(tmp_path, "email,manager_email\nalice@example.com,maya@example.com\nbob@example.com,\n")
    result = brickwork("people", "import", str(again), env=env(org_slack, database_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 rows: 2 applied, 0 not applied"
    chart = managers(db)
    assert chart[ALICE.id] == MAYA.id and chart[BOB.id] is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("", "the file is empty: expected the header email,manager_email"),
        (
            "name,boss\na@example.com,b@example.com\n",
            "line 1: expected the header email,manager_email (got 'name,boss')",
        ),
        (b"email,manager_email\n\xff\xfe@x.com,\n", "not UTF-8 text (line 2); save the CSV as UTF-8"),
    ],
)
def test_a_file_that_cannot_be_imported_changes_nothing(
    org_slack: FakeSlack,
    database_url: str,
    db: Database,
    tmp_path: Path,
    content: str | bytes | None,
    message: str,
) -> None:
    path = tmp_path / "org.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = brickwork("people", "import", str(path), env=env(org_slack, database_url), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"brickwork: {path}: {message}"
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert org_slack.calls_to("users.lookupByEmail") == []
    assert managers(db) == {}


def test_import_stops_when_slack_refuses_the_lookup(
    org_slack: FakeSlack, database_url: str, db: Database, tmp_path: Path
) -> None:
    org_slack.fail_next("users.lookupByEmail", error="missing_scope")
    csv_file = write(tmp_path, "email,manager_email\nalice@example.com,maya@example.com\n")
    result = brickwork("people", "import", str(csv_file), env=env(org_slack, database_url), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "brickwork: Slack refused users.lookupByEmail: missing_scope "
        "(the app needs the users:read.email scope)"
    )
    assert managers(db) == {}


def test_people_commands_need_the_bot_token_and_a_migrated_database(
    org_slack: FakeSlack, tmp_path: Path
) -> None:
    csv_file = write(tmp_path, "email,manager_email\n")
    no_token = brickwork("people", "import", str(csv_file), env={}, cwd=tmp_path)
    assert no_token.returncode == 2 and "SLACK_BOT_TOKEN" in no_token.stderr
    fresh = env(org_slack, f"sqlite:///{tmp_path / 'new.db'}")
    unmigrated = brickwork("people", "import", str(csv_file), env=fresh, cwd=tmp_path)
    assert unmigrated.returncode == 2
    assert "run `brickwork db upgrade` first" in unmigrated.stderr


def test_forget_takes_a_person_out_of_the_programme(
    org_slack: FakeSlack, database_url: str, db: Database, tmp_path: Path
) -> None:
    variables = env(org_slack, database_url)
    bad = brickwork("people", "forget", "alice", env=variables, cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "brickwork: USER_ID is invalid: expected a Slack user id such as U012AB3CD (got 'alice')"
    )
    unknown = brickwork("people", "forget", "U0NOBODY", env=variables, cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "brickwork: Brickwork has nothing stored for the Slack user U0NOBODY."

    csv_file = write(
        tmp_path,
        "email,manager_email\nalice@example.com,maya@example.com\nbob@example.com,alice@example.com\n",
    )
    assert brickwork("people", "import", str(csv_file), env=variables, cwd=tmp_path).returncode == 0
    with db.transaction() as session:  # coaching Alice asked for about Bob, and some about Maya
        ids = {p.slack_user_id: p.id for p in session.exec(select(Person))}
        for subject, by in ((BOB, ALICE), (MAYA, BOB)):
            session.add(
                CoachingDraft(
                    subject_id=ids[subject.id], requested_by_id=ids[by.id], audience=CoachAudience.MANAGER
                )
            )
    done = brickwork("people", "forget", ALICE.id, env=variables, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{ALICE.id} has left the feedback programme (since ")
    assert done.stdout.rstrip().endswith(
        "deleted 0 feedback records they gave and 1 coaching drafts, withdrew 0 open requests, "
        "removed them as manager of 1 people, removed their own manager"
    )
    assert managers(db) == {MAYA.id: None, ALICE.id: None, BOB.id: None}
    with db.transaction() as session:
        assert [d.subject_id for d in session.exec(select(CoachingDraft))] == [ids[MAYA.id]]
    with db.transaction() as session:
        alice = session.exec(select(Person).where(Person.slack_user_id == ALICE.id)).one()
    first_left = alice.left_programme_at
    assert first_left is not None
    # Repeating it is harmless, and the first departure date stands.
    again = brickwork("people", "forget", ALICE.id, env=variables, cwd=tmp_path)
    assert again.returncode == 0
    assert "removed them as manager of 0 people" in again.stdout and "own manager" not in again.stdout
    with db.transaction() as session:
        alice = session.exec(select(Person).where(Person.slack_user_id == ALICE.id)).one()
    assert alice.left_programme_at == first_left
