"""``brickwork demo``: the whole product on its embedded defaults, with no token and no network.

A temporary SQLite database, the offline coach, the real app served over HTTP on loopback,
and the local stand-in for Slack: the demo drives it as four people would, moves time to
the debrief, and prints, as plain text, what each person saw in Slack.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.analytics.synthetic import talent_company
from bot.app import Brickwork, build_app
from bot.debriefs.schedule import debrief_schedule
from bot.feedback.anonymity import release_slot
from bot.server import HttpServer
from bot.settings import load_settings
from bot.standin.driver import Actor, SlackDriver
from bot.standin.render import message_to_text, view_to_text
from bot.standin.webapi import FakeSlack, FakeUser
from bot.talent.chart import render_map
from bot.talent.report import map_points, map_text
from bot.talent.sample import write_talent_company
from bot.timekeeping import local_date
from storage import migrate
from storage.models import id_of

MAYA = FakeUser(id="U0MAYA", name="maya", real_name="Maya Okafor", tz="Europe/Berlin")
ALICE = FakeUser(id="U0ALICE", name="alice", real_name="Alice Chen", tz="America/New_York")
BOB = FakeUser(id="U0BOB", name="bob", real_name="Bob Müller", tz="Asia/Kolkata")
CAROL = FakeUser(id="U0CAROL", name="carol", real_name="Carol Díaz", tz="America/Los_Angeles")
PEOPLE = (MAYA, ALICE, BOB, CAROL)


@contextmanager
def running_stack(
    workdir: Path,
    clock: Callable[[], datetime],
    env: dict[str, str] | None = None,
    people: tuple[FakeUser, ...] = PEOPLE,
) -> Iterator[tuple[Brickwork, FakeSlack, SlackDriver]]:
    """The real app served on loopback, talking to the stand-in for Slack; ``env`` adds settings."""
    database_url = f"sqlite:///{workdir / 'demo.db'}"
    migrate.upgrade(database_url)
    signing_secret = secrets.token_hex(16)
    with FakeSlack(users=people) as slack:
        settings = load_settings(
            {
                "SLACK_BOT_TOKEN": "xoxb-demo-0000",
                "SLACK_SIGNING_SECRET": signing_secret,
                "SLACK_API_URL": slack.url,
                "DATABASE_URL": database_url,
                "BRICKWORK_COACH": "offline",
                "BRICKWORK_WEEKLY_DIGEST": "true",
                **(env or {}),
            }
        )
        brickwork = build_app(settings, clock=clock)
        server = HttpServer(brickwork.wsgi(), "127.0.0.1", 0, threads=4)
        thread = threading.Thread(target=server.serve_forever, name="brickwork-http", daemon=True)
        thread.start()
        try:
            yield (
                brickwork,
                slack,
                SlackDriver(f"http://127.0.0.1:{server.port}/slack/events", signing_secret, slack),
            )
        finally:
            server.close()
            brickwork.close()


class Narrator:
    def __init__(self, slack: FakeSlack, out: TextIO) -> None:
        self.slack, self.out = slack, out

    def name(self, user_id: str) -> str:
        user = self.slack.user(user_id)
        return user.real_name if user else user_id

    def step(self, text: str) -> None:
        print(f"\n=== {text}", file=self.out)

    def saw(self, user_id: str, what: str, text: str) -> None:
        print(f"\n--- {self.name(user_id)} sees {what}:", file=self.out)
        for line in text.strip().splitlines():
            print(f"    {line}", file=self.out)

    def modal(self, user_id: str, view: dict[str, Any]) -> None:
        self.saw(user_id, "a modal", view_to_text(view, names=self.name))

    def dm(self, user_id: str, what: str = "a DM from Brickwork") -> dict[str, Any]:
        message = self.slack.last_dm(user_id)
        assert message is not None, f"{user_id} got no DM"
        self.saw(user_id, what, message_to_text(message, names=self.name))
        return message


def _upward_answers(note: str) -> dict[str, Any]:
    return {
        "Target met": "partly",
        "Quality": "4",
        "Timeliness": "3",
        "Inspires and retains people": "5",
        "Decides well under pressure": "4",
        "Drives innovation and culture": "4",
        "Collaborates across teams, includes people": "5",
        "Delegates": "4",
        "Motivates": "5",
        "Strengths you saw": note,
    }


def _request_answers(note: str) -> dict[str, Any]:
    return {
        "Target met": "yes",
        "Quality": "5",
        "Timeliness": "4",
        "Inspires and retains people": "Not observed",
        "Decides well under pressure": "4",
        "Drives innovation and culture": "5",
        "Collaborates across teams, includes people": "4",
        "Delegates": "Not observed",
        "Motivates": "4",
        "What went well": note,
    }


def _wait_modal(slack: FakeSlack, user_id: str, *, after: int) -> dict[str, Any]:
    slack.wait_for("views.open", count=after + 1)
    modal = slack.open_modal(user_id)
    assert modal is not None
    return modal


def button_beside(message: dict[str, Any], name: str) -> str:
    """The value of the button in the section that names ``name``: what a person would click."""
    for block in message.get("blocks") or []:
        text = (block.get("text") or {}).get("text", "")
        accessory = block.get("accessory") or {}
        if name in text and accessory.get("type") == "button":
            return str(accessory["value"])
    raise LookupError(f"no button beside {name!r}")


def _answer_debrief(
    actor: Actor,
    slack: FakeSlack,
    dm: dict[str, Any],
    name: str,
    answers: dict[str, Any],
    narrator: Narrator,
    show: bool,
) -> None:
    opened = len(slack.calls_to("views.open"))
    actor.click(dm, value=button_beside(dm, name))
    form = _wait_modal(slack, actor.user_id, after=opened)
    if show:
        narrator.modal(actor.user_id, form)
    updates = len(slack.calls_to("chat.update"))
    response = actor.submit(form, answers)
    assert response.status == 200, response.text
    slack.wait_for("chat.update", count=updates + 1)


def _talent_map(brickwork: Brickwork, out: TextIO) -> Path:
    """A synthetic company (a few months of feedback) joins the demo's database; the team that
    confirmed Maya as their manager is drawn. The picture is written where the demo runs."""
    services = brickwork.services
    company = talent_company(teams=2, size=8, now=services.clock())
    maya = services.people.known(MAYA.id)
    write_talent_company(services.db, company, existing={"T100": id_of(maya)})  # Maya leads team 1
    review = services.talent.review(manager_id=id_of(maya))
    print(map_text(review), file=out)
    path = Path.cwd() / "brickwork-demo-map.png"
    path.write_bytes(
        render_map(map_points(review), review.rules, title="Maya's team: delivery × leadership").png
    )
    return path


def run_demo(out: TextIO = sys.stdout) -> int:
    now = [datetime.now(UTC)]

    def clock() -> datetime:
        return now[0]

    with (
        tempfile.TemporaryDirectory(prefix="brickwork-demo-") as tmp,
        running_stack(Path(tmp), clock) as (
            brickwork,
            slack,
            driver,
        ),
    ):
        tell = Narrator(slack, out)
        maya, alice = driver.as_user(MAYA.id), driver.as_user(ALICE.id)
        print(
            "Brickwork demo: a project ends, its lead debriefs the team, the team gives feedback on", file=out
        )
        print("the lead. Everything below is what each person saw in Slack, as plain text.", file=out)

        tell.step("Maya runs /debrief")
        maya.command("/debrief")
        form = _wait_modal(slack, MAYA.id, after=0)
        tell.modal(MAYA.id, form)
        end = local_date(now[0], MAYA.tz)
        response = maya.submit(
            form,
            {
                "Project name": "Q3 launch <!channel>",
                "Team members": [ALICE.id, BOB.id, CAROL.id],
                "End date": end,
                "Run the debrief": "1",
                "Do members give feedback on the lead?": "anonymous",
            },
        )
        assert response.status == 200, response.text
        confirmation = slack.open_modal(MAYA.id)
        assert confirmation is not None
        tell.modal(MAYA.id, confirmation)
        print(
            "\n    (Maya typed <!channel> into the name: Brickwork escapes it, so it shows as text and pings"
            " nobody.)",
            file=out,
        )

        project = brickwork.services.debriefs.projects_for(MAYA.id)[0]
        settings = brickwork.services.settings
        schedule = debrief_schedule(end, 1, settings.brickwork_debrief_window_days, settings.working_days)
        prompt_at = {p.id: schedule.prompt_at(p.tz) for p in PEOPLE}
        weekend = " (the next working day)" if schedule.prompt_day != schedule.day else ""
        tell.step(
            f"{schedule.prompt_day:%a %d %b}{weekend}, {prompt_at[MAYA.id]:%H:%M} UTC: 10:00 for Maya in "
            "Berlin. Bob in Kolkata had his at 10:00 his time; Alice and Carol get theirs at 10:00 theirs"
        )
        now[0] = prompt_at[MAYA.id]
        print(f"    tick: {brickwork.services.ticker.tick(now[0])}", file=out)
        lead_dm = tell.dm(MAYA.id)
        now[0] = max(prompt_at.values())
        report = brickwork.services.ticker.tick(now[0])
        print(f"    tick at {now[0]:%H:%M} UTC, 10:00 in Los Angeles: {report}", file=out)
        tell.dm(ALICE.id)

        tell.step("Maya debriefs Alice")
        _answer_debrief(
            maya,
            slack,
            lead_dm,
            ALICE.real_name,
            {
                "Target met": "yes",
                "Quality": "4",
                "Timeliness": "5",
                "Notes on delivery": "Shipped the import tool a week early.",
                "Inspires and retains people": "4",
                "Decides well under pressure": "5",
                "Drives innovation and culture": "Not observed",
                "Collaborates across teams, includes people": "4",
                "Delegates": "3",
                "Motivates": "4",
                "Strengths you saw": "When the vendor API broke on launch day she called the rollback in ten "
                "minutes and told support first, so no customer was surprised.",
                "One thing to grow": "Hand the release checklist to someone else next time.",
            },
            tell,
            show=True,
        )
        tell.dm(MAYA.id, "her debrief DM, updated")

        tell.step("Alice and Carol give anonymous feedback on Maya")
        for actor, note in (
            (alice, "Asked the quietest person in every planning meeting first."),
            (driver.as_user(CAROL.id), "Said no to a late scope change and explained why to the whole team."),
        ):
            member_dm = slack.last_dm(actor.user_id)
            assert member_dm is not None
            _answer_debrief(actor, slack, member_dm, MAYA.real_name, _upward_answers(note), tell, show=False)
        tell.dm(ALICE.id, "her DM, updated")
        tell.step("Maya's view has not moved: anonymous answers wait for a batch of three people")
        listing = maya.command("/debrief", "list").json() or {}
        tell.saw(MAYA.id, "an ephemeral answer to /debrief list", message_to_text(listing, names=tell.name))

        tell.step("Two working days later: Bob and Maya still have open parts, so each gets one reminder")
        now[0] = max(schedule.reminder_at(p.tz) for p in PEOPLE)
        print(f"    tick: {brickwork.services.ticker.tick(now[0])}", file=out)
        tell.dm(MAYA.id, "a reminder")
        bob = driver.as_user(BOB.id)
        bob_reminder = tell.dm(BOB.id, "a reminder")
        again = brickwork.services.ticker.tick(now[0])
        print(f"    a second tick at the same moment: {again} (nothing is sent twice)", file=out)
        _answer_debrief(
            bob,
            slack,
            bob_reminder,
            MAYA.real_name,
            _upward_answers("Shielded us from the Friday fire drills."),
            tell,
            show=False,
        )
        print("    Bob answers from the reminder, anonymously too.", file=out)

        release = release_slot(now[0] + timedelta(days=1), MAYA.tz)  # the next 09:00 in Berlin
        tell.step(f"{release:%a %d %b %H:%M} UTC, 09:00 for Maya: three people's anonymous answers reach her")
        now[0] = release
        print(f"    tick: {brickwork.services.ticker.tick(now[0])}", file=out)
        tell.dm(MAYA.id)
        mine = maya.command("/feedback", "mine").json() or {}
        tell.saw(MAYA.id, "an ephemeral answer to /feedback mine", message_to_text(mine, names=tell.name))

        tell.step("The debrief window closes a week after it opened")
        now[0] = project.closes_at
        print(f"    tick: {brickwork.services.ticker.tick(now[0])}", file=out)
        tell.dm(CAROL.id, "her DM, updated")

        tell.step("Alice asks Maya, Bob and Carol for feedback on the import tool")
        responses = len(slack.calls_to("response_url"))
        alice.command(
            "/feedback",
            f"request <@{MAYA.id}|maya> <@{BOB.id}|bob> <@{CAROL.id}|carol> about the import tool",
        )
        slack.wait_for("response_url", count=responses + 1)
        tell.saw(ALICE.id, "an ephemeral answer", slack.ephemerals(ALICE.id)[-1]["text"])
        bob_dm = tell.dm(BOB.id)

        tell.step("Maya and Carol answer with their names; Alice is told at once")
        for actor, note in (
            (maya, "She asked support what they needed before writing a line."),
            (driver.as_user(CAROL.id), "Her migration guide answered questions before anyone asked them."),
        ):
            request_dm = slack.last_dm(actor.user_id)
            assert request_dm is not None
            opened = len(slack.calls_to("views.open"))
            actor.click(request_dm, "give_feedback")
            form = _wait_modal(slack, actor.user_id, after=opened)
            posts = len(slack.calls_to("chat.postMessage"))
            response = actor.submit(form, {**_request_answers(note), "Anonymity": []})
            assert response.status == 200, response.text
            slack.wait_for("chat.postMessage", count=posts + 1)
        tell.dm(ALICE.id, "a DM")

        tell.step("Bob answers anonymously: Alice is told nothing now, and her requests look the same")
        opened = len(slack.calls_to("views.open"))
        bob.click(bob_dm, "give_feedback")
        form = _wait_modal(slack, BOB.id, after=opened)
        tell.modal(BOB.id, form)
        updates = len(slack.calls_to("chat.update"))
        response = bob.submit(
            form,
            {
                **_request_answers("The import tool's dry-run mode saved the support team a weekend."),
                "Anonymity": ["anonymous"],
            },
        )
        assert response.status == 200, response.text
        slack.wait_for("chat.update", count=updates + 1)
        tell.dm(BOB.id, "his request DM, updated")
        requests = alice.command("/feedback", "requests").json() or {}
        tell.saw(
            ALICE.id, "an ephemeral answer to /feedback requests", message_to_text(requests, names=tell.name)
        )
        print(
            "\n    (Bob's answer reaches Alice in a 09:00 batch once at least three people have answered her"
            " anonymously:\n    until then it looks exactly like silence.)",
            file=out,
        )

        tell.step('Maya adds Alice to "My team" on her App Home; Alice confirms')
        publishes = len(slack.calls_to("views.publish"))
        maya.open_home()
        slack.wait_for("views.publish", count=publishes + 1)
        maya_home = slack.home(MAYA.id)
        assert maya_home is not None
        posts = len(slack.calls_to("chat.postMessage"))
        maya.select(maya_home, "my_team", [ALICE.id])
        slack.wait_for("chat.postMessage", count=posts + 1)
        claim = tell.dm(ALICE.id, "a DM")
        opened = len(slack.calls_to("views.open"))
        alice.click(claim, "confirm_manager")
        tell.modal(ALICE.id, _wait_modal(slack, ALICE.id, after=opened))

        tell.step("Maya runs /coach @Alice: the offline coach drafts from the feedback, Maya reviews it")
        updates = len(slack.calls_to("views.update"))
        maya.command("/coach", f"<@{ALICE.id}|alice>")
        draft_id = slack.wait_for("views.update", count=updates + 1, timeout=15)[-1].args["view_id"]
        draft = slack.view(draft_id)
        assert draft is not None
        tell.modal(MAYA.id, draft)

        tell.step("Maya shares it; Alice gets it as a DM and says it was useful")
        posts = len(slack.calls_to("chat.postMessage"))
        response = maya.submit(draft)
        assert response.status == 200, response.text
        slack.wait_for("chat.postMessage", count=posts + 1)
        shared = tell.dm(ALICE.id, "a DM")
        updates = len(slack.calls_to("chat.update"))
        alice.click(shared, "coach_useful")
        slack.wait_for("chat.update", count=updates + 1)
        tell.dm(ALICE.id, "the DM, updated")

        tell.step("Maya runs /debrief list")
        listing = maya.command("/debrief", "list").json() or {}
        tell.saw(MAYA.id, "an ephemeral answer", message_to_text(listing, names=tell.name))

        tell.step("Alice rates herself with /growth self: Motivates 5, Quality 2")
        opened = len(slack.calls_to("views.open"))
        alice.command("/growth", "self")
        self_form = _wait_modal(slack, ALICE.id, after=opened)
        mine = {k: v for k, v in _request_answers("").items() if k != "What went well"}
        saved = alice.submit(self_form, {**mine, "Motivates": "5", "Quality": "2"})
        assert saved.status == 200, saved.text

        tell.step("A week passes: at 09:00 on Monday in her zone, Alice's weekly digest arrives")
        digests = brickwork.services.digests
        person = brickwork.services.people.known(ALICE.id)
        slot = digests.slot(person, now[0])
        now[0] = slot if slot > now[0] else digests.slot(person, now[0] + timedelta(days=7))
        print(f"    tick: {brickwork.services.ticker.tick(now[0])}", file=out)
        tell.dm(ALICE.id, "her weekly digest")

        tell.step("The week after, the digest asks how the thing to try went: Alice presses Tried it")
        now[0] = digests.slot(person, now[0] + timedelta(days=7))
        print(f"    tick: {brickwork.services.ticker.tick(now[0])}", file=out)
        asking = tell.dm(ALICE.id, "her weekly digest")
        answers = len(slack.calls_to("response_url"))
        alice.click(asking, "step_tried")
        answered = slack.wait_for("response_url", count=answers + 1)[-1]
        tell.saw(ALICE.id, "an answer", message_to_text(dict(answered.args), names=tell.name))

        tell.step("Alice runs /growth: calibrated levels, evidence, her blind spot, and the step she tried")
        answers = len(slack.calls_to("response_url"))
        alice.command("/growth")
        reading = slack.wait_for("response_url", count=answers + 1)[-1]
        tell.saw(ALICE.id, "an ephemeral answer", message_to_text(dict(reading.args), names=tell.name))

        tell.step("Maya's team in the talent review: /growth team, then the map as text and as a picture")
        picture = _talent_map(brickwork, out)
        answers = len(slack.calls_to("response_url"))
        maya.command("/growth", "team")
        team = slack.wait_for("response_url", count=answers + 1)[-1]
        tell.saw(MAYA.id, "an ephemeral answer", message_to_text(dict(team.args), names=tell.name))
        print(f"\n    The map as a picture: {picture}", file=out)

        invalid = slack.invalid_calls()
        print(
            f"\nDone: {len(slack.calls)} Slack API calls, {len(invalid)} rejected by the stand-in's checks.",
            file=out,
        )
        return 0 if not invalid else 1
