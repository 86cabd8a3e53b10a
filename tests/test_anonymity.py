"""Anonymity against inference, not only display (``bot.feedback.anonymity``).

The property: from everything a person can see, at any time, they cannot tell which of the
people they asked (or which member of a project) answered anonymously, unless at least three
different people could have. So these tests take everything the person can see — their DMs,
the App Home, ``/feedback mine``, ``/feedback requests``, ``/debrief list``, the export — at a
moment when nobody has answered, and again just after an anonymous answer, and require the two
to be the same, to the character. What may change it is only the 09:00 release of a batch that
holds answers from at least three people.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.feedback.anonymity import MIN_GIVERS, AnonymousRelease, release_slot
from bot.slack_gateway import METADATA_EVENT
from bot.standin.driver import SlackDriver
from bot.standin.render import message_to_text, view_to_text
from bot.standin.webapi import FakeSlack, FakeUser
from storage.db import Database
from storage.models import Feedback, FeedbackSource, MessageKind, OutboxMessage, Person
from storage.repositories import feedback as feedback_repo
from storage.repositories import people as people_repo
from tests.harness import ALICE, BOB, CAROL, MAYA, AppProcess, current_home
from tests.test_debrief_e2e import FULL_ANSWERS, button_beside, everyone_prompted, open_form
from tests.test_feedback_e2e import give, m, open_modal_by_click, request

DANA = FakeUser(id="U0DANA", name="dana", real_name="Dana Ito", tz="Asia/Tokyo")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def surfaces(driver: SlackDriver, slack: FakeSlack, user: FakeUser) -> dict[str, str]:
    """Everything ``user`` can see of Brickwork right now, as plain text."""
    actor = driver.as_user(user.id)
    seen: dict[str, str] = {}
    seen["DMs"] = "\n---\n".join(
        message_to_text(message) for message in slack.messages_with_metadata(user.id, METADATA_EVENT)
    )
    for command, text in (("/feedback", "mine"), ("/feedback", "requests"), ("/debrief", "list")):
        seen[f"{command} {text}"] = message_to_text(actor.command(command, text).json() or {})
    seen["App Home"] = view_to_text(current_home(driver, slack, user))
    uploads = len(slack.calls_to("files.completeUploadExternal"))
    actor.command("/feedback", "export")
    slack.wait_for("files.completeUploadExternal", count=uploads + 1)
    export = json.loads(slack.files(user.id)[-1]["content"].decode())
    export.pop("exported_at")
    seen["export"] = json.dumps(export, indent=1, ensure_ascii=False, sort_keys=True)
    return seen


def assert_same(before: dict[str, str], after: dict[str, str]) -> None:
    for surface in before:
        assert after[surface] == before[surface], f"{surface} changed"


def answer_anonymously(driver: SlackDriver, slack: FakeSlack, giver: FakeUser, note: str) -> None:
    dm = slack.last_dm(giver.id)
    assert dm is not None
    form = open_modal_by_click(driver, slack, giver, dm, "give_feedback")
    updates = len(slack.calls_to("chat.update"))
    values = {**FULL_ANSWERS, "What went well": note, "Anonymity": ["anonymous"]}
    assert driver.as_user(giver.id).submit(form, values).status == 200
    slack.wait_for("chat.update", count=updates + 1)  # the giver's own DM loses its buttons


def test_the_requester_sees_the_same_before_and_after_anonymous_answers_until_a_batch_of_three(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    slack.add_user(DANA)
    request(driver, slack, MAYA, f"request {m(ALICE)} {m(BOB)} {m(CAROL)} about the launch")
    nobody_answered = surfaces(driver, slack, MAYA)
    assert_same(nobody_answered, surfaces(driver, slack, MAYA))  # what is compared is stable

    # One answer, then a second: nothing Maya can see moves, not even a count or a notice.
    answer_anonymously(
        driver,
        slack,
        CAROL,
        "In the launch review she wrote the rollback steps and support used them that night.",
    )
    assert_same(nobody_answered, surfaces(driver, slack, MAYA))
    answer_anonymously(
        driver,
        slack,
        BOB,
        "On Monday she asked support what broke before she changed the plan, and it saved a day.",
    )
    assert_same(nobody_answered, surfaces(driver, slack, MAYA))
    # Two answers are not a batch: 09:00 comes and goes, and still nothing moves.
    release = release_slot(datetime.now(UTC) + timedelta(days=1), MAYA.tz)  # the next 09:00 for her
    assert "anonymous feedback released: 0" in app.tick(release)
    assert_same(nobody_answered, surfaces(driver, slack, MAYA))
    # A third answer: a batch, but not before 09:00 comes round where she is.
    answer_anonymously(
        driver, slack, ALICE, "At the kickoff she wrote the plan down so every team knew its part by Tuesday."
    )
    assert "anonymous feedback released: 0" in app.tick(release - timedelta(minutes=1))
    assert_same(nobody_answered, surfaces(driver, slack, MAYA))

    # 09:00: three people's answers, released together.
    assert f"anonymous feedback released: {MIN_GIVERS}" in app.tick(release)
    released = surfaces(driver, slack, MAYA)
    assert released["/feedback mine"].count("_anonymous_ ·") == 3
    assert "from 3 people" in released["DMs"]
    # The requests still read as silence: which of the three answered is nowhere.
    assert released["/feedback requests"] == nobody_answered["/feedback requests"]
    for name in ("Alice", "Bob", "Carol"):
        assert name not in released["/feedback mine"] and name not in released["DMs"]


def test_a_lead_sees_the_same_before_and_after_anonymous_upward_answers(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    maya = driver.as_user(MAYA.id)
    maya.command("/debrief")
    slack.wait_for("views.open")
    modal = slack.open_modal(MAYA.id)
    assert modal is not None
    maya.submit(
        modal,
        {
            "Project name": "Apollo",
            "Team members": [ALICE.id, BOB.id, CAROL.id],
            "End date": date.today(),
            "Run the debrief": "1",
            "Do members give feedback on the lead?": "anonymous",
        },
    )
    with db.transaction() as session:
        from storage.models import Project

        project = session.exec(select(Project)).one()
    app.tick(everyone_prompted(project))  # each member's 10:00, Los Angeles last
    nobody_answered = surfaces(driver, slack, MAYA)
    assert "0 of 3 answered" in nobody_answered["/debrief list"]
    assert "3 asked for anonymous feedback on the lead" in nobody_answered["/debrief list"]
    for member in (ALICE, BOB):
        dm = slack.last_dm(member.id)
        assert dm is not None
        form = open_form(driver, slack, member.id, dm, "Maya Okafor")
        updates = len(slack.calls_to("chat.update"))
        assert driver.as_user(member.id).submit(form, FULL_ANSWERS).status == 200
        slack.wait_for("chat.update", count=updates + 1)
        # The progress counter, the lead's DM, her Home: nothing moved.
        assert_same(nobody_answered, surfaces(driver, slack, MAYA))
    # The member may change an answer while it is held; once released, not any more.
    dm = slack.last_dm(CAROL.id)
    assert dm is not None
    form = open_form(driver, slack, CAROL.id, dm, "Maya Okafor")
    driver.as_user(CAROL.id).submit(form, FULL_ANSWERS)
    release = release_slot(project.debrief_due_at + timedelta(days=1), MAYA.tz)
    assert "anonymous feedback released: 3" in app.tick(release)
    alice_dm = slack.last_dm(ALICE.id)
    assert alice_dm is not None
    opened = len(slack.calls_to("views.open"))
    driver.as_user(ALICE.id).click(alice_dm, value=button_beside(alice_dm, "Maya Okafor"))
    slack.wait_for("views.open", count=opened + 1)
    notice = slack.open_modal(ALICE.id)
    assert notice is not None and "cannot be changed now" in json.dumps(notice["blocks"])


def test_a_manager_sees_a_reports_anonymous_feedback_only_in_a_batch(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    """The subject's manager is a reader too: their Home and "View feedback" move only at 09:00."""
    driver.as_user(MAYA.id).command("/feedback", "mine")  # Maya is known
    give(driver, slack, BOB, ALICE, anonymous=False)  # Alice is known
    with db.transaction() as session:
        people = {p.slack_user_id: p for p in session.exec(select(Person))}
        people[ALICE.id].manager_id = people[MAYA.id].id
        session.add(people[ALICE.id])
    before = surfaces(driver, slack, MAYA)
    give(
        driver,
        slack,
        CAROL,
        ALICE,
        anonymous=True,
        notes="During the on-call week she answered every page in ten minutes and wrote each one up.",
    )
    give(
        driver,
        slack,
        BOB,
        ALICE,
        anonymous=True,
        notes="Before each migration she reviewed the script with the owner, and none failed in March.",
    )
    assert_same(before, surfaces(driver, slack, MAYA))


# ---------------------------------------------------------------------------------------
# The release itself, against the database
# ---------------------------------------------------------------------------------------

NOW = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)  # the Monday after Europe moved its clocks


def _person(db: Database, slack_id: str, tz: str = "Europe/Berlin") -> int:
    with db.transaction() as session:
        person = people_repo.upsert(
            session,
            slack_user_id=slack_id,
            name=slack_id,
            tz=tz,
            is_bot=False,
            deleted=False,
            refreshed_at=NOW,
        )
        assert person.id is not None
        return person.id


def _anonymous(db: Database, giver: int, subject: int, at: datetime) -> None:
    with db.transaction() as session:
        record = Feedback(
            giver_id=giver,
            subject_id=subject,
            source=FeedbackSource.GIVEN,
            anonymous=True,
            framework_version="1",
            created_at=at,
            updated_at=at,
            source_view_id=f"V{giver}-{subject}-{at.timestamp()}",
        )
        feedback_repo.save(session, record, {"quality": ("delivery", 4)})


def test_release_slots_follow_the_persons_clock_across_dst() -> None:
    # 09:00 in Berlin: 08:00 UTC in winter, 07:00 UTC in summer (from 29 March 2026).
    assert release_slot(datetime(2026, 3, 27, 12, tzinfo=UTC), "Europe/Berlin") == datetime(
        2026, 3, 27, 8, tzinfo=UTC
    )
    assert release_slot(datetime(2026, 3, 30, 12, tzinfo=UTC), "Europe/Berlin") == datetime(
        2026, 3, 30, 7, tzinfo=UTC
    )
    # Before 09:00 local, the latest slot is yesterday's.
    assert release_slot(datetime(2026, 3, 30, 6, 59, tzinfo=UTC), "Europe/Berlin") == datetime(
        2026, 3, 29, 7, tzinfo=UTC
    )
    assert release_slot(datetime(2026, 3, 30, 0, 30, tzinfo=UTC), "Asia/Tokyo") == datetime(
        2026, 3, 30, 0, tzinfo=UTC
    )


def test_a_batch_needs_three_people_and_holds_only_what_came_before_its_slot(db: Database) -> None:
    subject, manager = _person(db, "U0SUBJECT"), _person(db, "U0BOSS")
    with db.transaction() as session:
        row = session.get(Person, subject)
        assert row is not None
        row.manager_id = manager
        session.add(row)
    givers = [_person(db, f"U0G{n}") for n in range(4)]
    release = AnonymousRelease(db, lambda: NOW)
    slot = release_slot(NOW, "Europe/Berlin")
    _anonymous(db, givers[0], subject, slot - timedelta(days=2))
    _anonymous(db, givers[0], subject, slot - timedelta(days=1))  # one person twice
    _anonymous(db, givers[1], subject, slot - timedelta(hours=5))
    assert release.release_due(NOW) == 0  # two people: held
    _anonymous(db, givers[2], subject, slot + timedelta(minutes=1))  # after this morning's slot
    assert release.release_due(NOW) == 0  # it belongs to tomorrow's batch
    assert release.release_due(NOW + timedelta(days=1)) == 4
    assert release.release_due(NOW + timedelta(days=1)) == 0  # released once
    with db.transaction() as session:
        records = list(session.exec(select(Feedback)))
        notices = list(session.exec(select(OutboxMessage)))
    tomorrow = slot + timedelta(days=1)
    assert {r.released_at for r in records} == {tomorrow}
    # One notice per reader per batch: the person, and their manager.
    assert sorted((n.kind, n.recipient_id) for n in notices) == sorted(
        [(MessageKind.ANONYMOUS_RELEASED, subject), (MessageKind.ANONYMOUS_RELEASED, manager)]
    )
    # A late one alone waits for two more people; the released stay released.
    _anonymous(db, givers[3], subject, tomorrow + timedelta(hours=1))
    assert release.release_due(NOW + timedelta(days=5)) == 0


def test_each_person_has_their_own_batches(db: Database) -> None:
    first, second = _person(db, "U0FIRST"), _person(db, "U0SECOND", tz="America/Los_Angeles")
    givers = [_person(db, f"U0H{n}") for n in range(3)]
    earlier = NOW - timedelta(days=2)
    for giver in givers:
        _anonymous(db, giver, first, earlier)
    for giver in givers[:2]:
        _anonymous(db, giver, second, earlier)
    assert AnonymousRelease(db, lambda: NOW).release_due(NOW) == 3
    with db.transaction() as session:
        held = feedback_repo.held_anonymous(session)
    assert {subject for _, subject, _, _ in held} == {second}


def test_a_batch_is_listed_in_no_order_of_giving(db: Database) -> None:
    """Items released together are listed in an order unrelated to when each was given (and a
    limit cuts a batch by that order too): neither says who answered first or last."""
    subject = _person(db, "U0LISTED")
    givers = [_person(db, f"U0L{n}") for n in range(20)]
    start = NOW - timedelta(days=3)
    for n, giver in enumerate(givers):
        _anonymous(db, giver, subject, start + timedelta(minutes=n))
    assert AnonymousRelease(db, lambda: NOW).release_due(NOW) == 20
    with db.transaction() as session:
        listed = feedback_repo.about(session, subject, reader_id=subject)
        first_five = feedback_repo.about(session, subject, reader_id=subject, limit=5)
    given = [f.created_at for f in listed]
    assert len(given) == 20 and given != sorted(given) and given != sorted(given, reverse=True)
    assert [f.id for f in first_five] == [f.id for f in listed[:5]]
    newest = sorted(listed, key=lambda f: f.created_at, reverse=True)[:5]
    assert [f.id for f in first_five] != [f.id for f in newest]


def test_a_named_answer_cannot_turn_anonymous_afterwards(
    app: AppProcess, driver: SlackDriver, slack: FakeSlack, db: Database
) -> None:
    """Read with a name, then hidden: the person would know whose the "anonymous" item is."""
    bob = driver.as_user(BOB.id)
    opened = len(slack.calls_to("views.open"))
    bob.command("/feedback", f"give {m(ALICE)} about the launch")
    slack.wait_for("views.open", count=opened + 1)
    form = slack.open_modal(BOB.id)
    assert form is not None
    note = "In the launch review she wrote the rollback steps and support used them that night."
    assert bob.submit(form, {**FULL_ANSWERS, "What went well": note}).text == ""
    again = bob.submit(
        form, {**FULL_ANSWERS, "What went well": note, "Anonymity": ["anonymous"]}, strict=False
    )
    assert "cannot become anonymous now" in again.text
    with db.transaction() as session:
        [record] = list(session.exec(select(Feedback)))
    assert not record.anonymous and record.released_at is not None
