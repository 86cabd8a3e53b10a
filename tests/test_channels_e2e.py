"""Commands and buttons from every kind of conversation, against a stand-in that enforces
Slack's channel membership (``bot.standin.webapi``, "Conversations").

People ask for feedback where they are: in a DM with a colleague, in a private channel the
bot was never invited to, in a public channel it has or has not joined. Slack delivers a slash
command from all of them, but the bot may post only where it is a member: ``chat.postEphemeral``
into a DM between two people is ``channel_not_found``, into a public channel it has not joined
``not_in_channel``. So every answer goes through the command's (or the button's)
``response_url`` or the ack, and everything else to the person's own DM with the bot. Each test
below runs from one kind of conversation and fails if any Slack call was refused.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.standin.driver import SlackDriver
from bot.standin.webapi import FakeSlack, FakeUser
from handlers.ids import ActionId
from tests.harness import AppProcess
from tests.test_debrief_e2e import FULL_ANSWERS

_numbers = itertools.count(1)


@dataclass(frozen=True)
class Place:
    """A conversation kind, and how to make one between the asker and the giver."""

    name: str
    make: Callable[[FakeSlack, str, str, str], str]  # (slack, asker, giver, n) -> channel id


PLACES = [
    Place("a DM between two people", lambda s, a, g, n: s.add_dm_between(a, g)),
    Place("a group DM without the bot", lambda s, a, g, n: s.add_group_dm([a, g, "U0MAYA"])),
    Place(
        "a private channel without the bot",
        lambda s, a, g, n: s.add_channel(f"G0PRIV{n}", f"private-{n}", members=[a, g], private=True),
    ),
    Place(
        "a public channel without the bot",
        lambda s, a, g, n: s.add_channel(f"C0PUB{n}", f"public-{n}", members=[a, g]),
    ),
    Place(
        "a public channel with the bot",
        lambda s, a, g, n: s.add_channel(f"C0BOT{n}", f"with-bot-{n}", members=[a, g, s.bot_user_id]),
    ),
    Place("the asker's DM with the bot", lambda s, a, g, n: s.dm_channel(a)),
]


@dataclass(frozen=True)
class Scene:
    asker: FakeUser
    giver: FakeUser
    channel: str
    first_call: int  # calls before this test: the stand-in is shared by the module


@pytest.fixture(params=PLACES, ids=[p.name for p in PLACES])
def scene(request: pytest.FixtureRequest, shared_slack: FakeSlack) -> Scene:
    n = str(next(_numbers))
    asker = FakeUser(id=f"U0ASK{n}", name=f"asker{n}", real_name=f"Asker {n}", tz="Europe/London")
    giver = FakeUser(id=f"U0GIV{n}", name=f"giver{n}", real_name=f"Giver {n}", tz="Asia/Tokyo")
    shared_slack.add_user(asker)
    shared_slack.add_user(giver)
    channel = request.param.make(shared_slack, asker.id, giver.id, n)
    return Scene(asker, giver, channel, len(shared_slack.calls))


def refused(slack: FakeSlack, scene: Scene) -> list[str]:
    return [c.summary() for c in slack.calls[scene.first_call :] if not c.ok or c.invalid]


def mention(user: FakeUser) -> str:
    return f"<@{user.id}|{user.name}>"


def ephemeral_in(slack: FakeSlack, user: FakeUser, channel: str, count: int) -> list[dict[str, Any]]:
    """Wait until ``user`` sees ``count`` ephemeral messages in ``channel``; return them."""

    def shown() -> list[dict[str, Any]]:
        return [m for m in slack.ephemerals(user.id) if m.get("channel") == channel]

    assert slack.wait_until(lambda: len(shown()) >= count), (count, shown())
    return shown()


def test_feedback_asked_given_and_answered_from_any_conversation(
    shared_app: AppProcess,
    shared_driver: SlackDriver,
    shared_slack: FakeSlack,
    scene: Scene,
) -> None:
    slack, asker, giver = shared_slack, scene.asker, scene.giver

    # The asker asks from the conversation: the answer comes back there, only to them.
    response = shared_driver.as_user(asker.id).command(
        "/feedback", f"request {mention(giver)} about the migration", channel_id=scene.channel
    )
    assert response.status == 200 and not response.too_slow
    ack, answer = ephemeral_in(slack, asker, scene.channel, 2)
    assert ack["text"] == "Asking 1 person…"
    assert f"Asked *{giver.real_name}*" in answer["text"], answer["text"]
    # The request reaches the giver in their own DM with the bot, never the conversation.
    request_dm = slack.wait_for(
        "chat.postMessage", where=lambda c: c.args["channel"] == slack.dm_channel(giver.id)
    )[-1]
    assert "asks for your feedback" in json.dumps(request_dm.args["blocks"])
    assert slack.messages(scene.channel) == [] or scene.channel == slack.dm_channel(asker.id)

    # The giver lists their requests from the same conversation and answers from that list:
    # a button in an ephemeral message there, a modal, then a notice to the asker's DM.
    response = shared_driver.as_user(giver.id).command("/feedback", "requests", channel_id=scene.channel)
    assert response.status == 200, response.text
    listing = ephemeral_in(slack, giver, scene.channel, 1)[-1]
    opened = len(slack.calls_to("views.open"))
    shared_driver.as_user(giver.id).click(listing, ActionId.GIVE_FEEDBACK)
    slack.wait_for("views.open", count=opened + 1)
    form = slack.open_modal(giver.id)
    assert form is not None and form["callback_id"] == "feedback_form"
    response = shared_driver.as_user(giver.id).submit(form, FULL_ANSWERS)
    assert response.status == 200 and response.text == "", response.text
    notice = slack.wait_for(
        "chat.postMessage",
        where=lambda c: c.args["channel"] == slack.dm_channel(asker.id) and "answered" in c.args["text"],
    )[-1]
    assert f"{giver.real_name} answered your feedback request" in notice.args["text"]

    # Giving unasked, from the conversation: a modal; the subject reads it with /feedback mine.
    opened = len(slack.calls_to("views.open"))
    shared_driver.as_user(asker.id).command("/feedback", f"give {mention(giver)}", channel_id=scene.channel)
    slack.wait_for("views.open", count=opened + 1)
    form = slack.open_modal(asker.id)
    assert form is not None
    assert shared_driver.as_user(asker.id).submit(form, FULL_ANSWERS).status == 200
    mine = shared_driver.as_user(giver.id).command("/feedback", "mine", channel_id=scene.channel)
    assert mine.status == 200 and asker.real_name in mine.text, mine.text

    # An export asked for in the conversation arrives as a file in the asker's DM, not there.
    shared_driver.as_user(asker.id).command("/feedback", "export", channel_id=scene.channel)
    slack.wait_for(
        "files.completeUploadExternal",
        where=lambda c: (
            c.ok and any(f["channel"] == slack.dm_channel(asker.id) for f in slack.files(asker.id))
        ),
    )
    assert [f["name"] for f in slack.files(asker.id)] == ["brickwork-export.json"]
    if scene.channel != slack.dm_channel(asker.id):
        assert slack.files(scene.channel) == []

    assert refused(slack, scene) == []


def test_debrief_and_coach_commands_answer_in_any_conversation(
    shared_app: AppProcess,
    shared_driver: SlackDriver,
    shared_slack: FakeSlack,
    scene: Scene,
) -> None:
    slack, asker = shared_slack, scene.asker
    actor = shared_driver.as_user(asker.id)

    # Answered in the ack: shown by Slack where the command was typed.
    listing = actor.command("/debrief", "list", channel_id=scene.channel)
    assert listing.status == 200 and "project" in listing.text.lower(), listing.text
    # Answered through the response_url, after work that may take longer than the ack.
    before = len(ephemeral_in(slack, asker, scene.channel, 1))
    assert actor.command("/debrief", "cancel Apollo", channel_id=scene.channel).status == 200
    cancelled = ephemeral_in(slack, asker, scene.channel, before + 1)[-1]
    assert "`/debrief list` shows yours" in cancelled["text"], cancelled
    # /coach for someone who is not their report: a modal that says why, from any conversation.
    updates = len(slack.calls_to("views.update"))
    coach = actor.command("/coach", mention(scene.giver), channel_id=scene.channel)
    assert coach.status == 200
    refusal = slack.wait_for("views.update", count=updates + 1)[-1]
    assert "only for people who report to you" in json.dumps(refusal.args["view"])
    # A modal for the new project, wherever the command came from.
    opened = len(slack.calls_to("views.open"))
    assert actor.command("/debrief", "", channel_id=scene.channel).status == 200
    slack.wait_for("views.open", count=opened + 1)
    assert refused(slack, scene) == [], refused(slack, scene)
