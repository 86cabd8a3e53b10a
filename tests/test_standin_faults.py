"""Faults of the Slack stand-in, per method and per call number, for exactly-once tests.

Each test drives the fake with a plain ``slack_sdk.WebClient`` that waits at most a second and
never retries, and synchronises on ``threading.Event`` set by ``on_call`` hooks, not on sleeps.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.standin import Call, FakeSlack, FakeUser
from bot.standin.webapi import HookStage

ANN = FakeUser(id="U0ANN", name="ann", real_name="Ann Archer")
BOB = FakeUser(id="U0BOB", name="bob", real_name="Bob Baker")
PROMPT = "debrief_prompt"


def prompt(project_id: int) -> dict[str, Any]:
    return {"event_type": PROMPT, "event_payload": {"project_id": project_id}}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack([ANN, BOB]) as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(base_url=slack.url, token="xoxb-test", timeout=1, retry_handlers=[])


def api_error(call: Callable[[], Any]) -> SlackApiError:
    with pytest.raises(SlackApiError) as exc_info:
        call()
    return exc_info.value


def texts(slack: FakeSlack, user_id: str) -> list[str]:
    return [m["text"] for m in slack.messages(user_id)]


def test_fail_call_fails_the_nth_call(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_call("chat.postMessage", 2, error="channel_not_found")
    slack.fail_call("chat.postMessage", 3, status=429, retry_after=7)
    slack.fail_call("chat.postMessage", 4, status=503)

    assert client.chat_postMessage(channel=ANN.id, text="1")["ok"]
    refused = api_error(lambda: client.chat_postMessage(channel=ANN.id, text="2"))
    assert refused.response.status_code == 200 and refused.response["error"] == "channel_not_found"
    limited = api_error(lambda: client.chat_postMessage(channel=ANN.id, text="3"))
    assert limited.response.status_code == 429 and limited.response["error"] == "ratelimited"
    assert limited.response.headers["Retry-After"] == "7"
    down = api_error(lambda: client.chat_postMessage(channel=ANN.id, text="4"))
    assert down.response.status_code == 503 and down.response["error"] == "internal_error"
    assert client.chat_postMessage(channel=ANN.id, text="5")["ok"]

    calls = slack.calls_to("chat.postMessage")
    assert [(c.number, c.status, c.error) for c in calls] == [
        (1, 200, None),
        (2, 200, "channel_not_found"),
        (3, 429, "ratelimited"),
        (4, 503, "internal_error"),
        (5, 200, None),
    ]
    assert texts(slack, ANN.id) == ["1", "5"]  # failed calls store nothing

    # Numbers count per method, and start again after reset_calls().
    assert client.users_info(user=ANN.id)["ok"] and slack.calls_to("users.info")[0].number == 1
    slack.reset_calls()
    assert slack.call_count("chat.postMessage") == 0
    slack.fail_call("chat.postMessage", 1, error="fatal_error")
    assert (
        api_error(lambda: client.chat_postMessage(channel=ANN.id, text="6")).response["error"]
        == "fatal_error"
    )
    assert slack.call_count("chat.postMessage") == 1
    with pytest.raises(ValueError):
        slack.fail_call("chat.postMessage", 0)


def test_a_late_answer_is_applied_first(slack: FakeSlack, client: WebClient) -> None:
    slack.answer_late("chat.postMessage", delay=0.5)
    applied = threading.Event()
    slack.on_call("chat.postMessage", 1, lambda call: applied.set(), when="applied")
    result: dict[str, Any] = {}

    def post() -> None:
        result["answer"] = client.chat_postMessage(channel=ANN.id, text="late", metadata=prompt(7))

    thread = threading.Thread(target=post)
    thread.start()
    assert applied.wait(1)
    # Stored (and recorded) while the client is still waiting for its answer.
    assert len(slack.messages_with_metadata(ANN.id, PROMPT, payload={"project_id": 7})) == 1
    assert "answer" not in result
    [call] = slack.calls_to("chat.postMessage")
    assert call.ok and call.answer == "late" and call.answered
    thread.join(2)
    assert result["answer"]["ok"] and result["answer"]["ts"] == slack.messages(ANN.id)[0]["ts"]


def test_an_answer_that_never_comes(slack: FakeSlack, client: WebClient) -> None:
    slack.answer_late("chat.postMessage", number=1, delay=None)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel=ANN.id, text="went through", metadata=prompt(7))
    assert time.monotonic() - started < 2  # the client's one-second timeout, not the fake, decides
    assert texts(slack, ANN.id) == ["went through"]
    [call] = slack.calls_to("chat.postMessage")
    assert call.ok and call.answer == "never" and not call.answered
    assert "answer never" in call.summary()

    # A retry after the timeout posts a second copy, as it would in Slack: count what was stored.
    assert client.chat_postMessage(channel=ANN.id, text="went through", metadata=prompt(7))["ok"]
    assert len(slack.messages_with_metadata(ANN.id, PROMPT, payload={"project_id": 7})) == 2
    assert [c.answer for c in slack.calls_to("chat.postMessage")] == ["never", "sent"]


def test_an_answer_later_than_the_client_waits(slack: FakeSlack, client: WebClient) -> None:
    slack.answer_late("views.publish", delay=5)
    home = {"type": "home", "blocks": [{"type": "divider"}]}
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.views_publish(user_id=ANN.id, view=home)
    assert time.monotonic() - started < 2
    assert slack.home(ANN.id) is not None  # published all the same
    assert [c.answer for c in slack.calls_to("views.publish")] == ["late"]


def test_drop_after_apply_closes_the_connection_unanswered(slack: FakeSlack, client: WebClient) -> None:
    slack.drop_after_apply("chat.postMessage", times=2)
    for project_id in (1, 2):
        with pytest.raises(http.client.RemoteDisconnected):
            client.chat_postMessage(channel=ANN.id, text="prompt", metadata=prompt(project_id))
    assert client.chat_postMessage(channel=BOB.id, text="prompt", metadata=prompt(1))["ok"]

    assert [c.answer for c in slack.calls_to("chat.postMessage")] == ["dropped", "dropped", "sent"]
    assert [c.answered for c in slack.calls_to("chat.postMessage")] == [False, False, True]
    # What Slack stored, per person:
    assert len(slack.messages_with_metadata(ANN.id, PROMPT)) == 2
    assert len(slack.messages_with_metadata(BOB.id, PROMPT)) == 1
    assert slack.messages_with_metadata(ANN.id, "something_else") == []

    # By number: only the 2nd call from now on (4th since the start).
    slack.drop_after_apply("users.info", number=2)
    assert client.users_info(user=ANN.id)["ok"]
    with pytest.raises(http.client.RemoteDisconnected):
        client.users_info(user=ANN.id)
    assert client.users_info(user=ANN.id)["ok"]


def test_hooks_run_at_each_stage_of_the_nth_call(slack: FakeSlack, client: WebClient) -> None:
    seen: list[tuple[str, int, int, list[str]]] = []
    answered = threading.Event()

    def hook(stage: HookStage) -> Callable[[Call], None]:
        def record(call: Call) -> None:
            seen.append((stage, call.number, call.status, texts(slack, ANN.id)))
            if stage == "answered":
                answered.set()

        return record

    for stage in ("received", "applied", "answered"):
        slack.on_call("chat.postMessage", 2, hook(stage), when=stage)  # type: ignore[arg-type]
    client.chat_postMessage(channel=ANN.id, text="one")
    client.chat_postMessage(channel=ANN.id, text="two")
    assert answered.wait(1)
    assert seen == [
        ("received", 2, 0, ["one"]),  # arrived, not applied yet
        ("applied", 2, 200, ["one", "two"]),  # applied, not answered yet
        ("answered", 2, 200, ["one", "two"]),
    ]
    client.chat_postMessage(channel=ANN.id, text="three")  # a hook with a number runs once
    assert len(seen) == 3


def test_a_hook_for_every_call_and_a_failing_hook(slack: FakeSlack, client: WebClient) -> None:
    numbers: list[int] = []
    slack.on_call("users.info", None, lambda call: numbers.append(call.number), when="applied")

    def boom(call: Call) -> None:
        raise RuntimeError("boom")

    slack.on_call("users.info", 2, boom)
    for _ in range(3):
        assert client.users_info(user=ANN.id)["ok"]  # the failing hook changes no answer
    assert numbers == [1, 2, 3]
    assert [str(e) for e in slack.hook_errors] == ["boom"]

    slack.clear_faults()
    assert client.users_info(user=ANN.id)["ok"] and numbers == [1, 2, 3]
    with pytest.raises(ValueError):
        slack.on_call("users.info", 1, boom, when="sent")  # type: ignore[arg-type]


CHILD = """
import sys
from slack_sdk import WebClient

client = WebClient(base_url=sys.argv[1], token="xoxb-test", timeout=5, retry_handlers=[])
metadata = {"event_type": "debrief_prompt", "event_payload": {"project_id": 7}}
client.chat_postMessage(channel="U0ANN", text="Time for your debrief", metadata=metadata)
print("answered", flush=True)
client.chat_postMessage(channel="U0BOB", text="Time for your debrief", metadata=metadata)
"""


@pytest.mark.parametrize("when", ["received", "applied"])
def test_a_hook_kills_a_process_at_an_exact_point(slack: FakeSlack, when: HookStage) -> None:
    holder: dict[str, int] = {}
    killed = threading.Event()

    def kill(call: Call) -> None:
        os.kill(holder["pid"], signal.SIGKILL)
        killed.set()

    slack.on_call("chat.postMessage", 1, kill, when=when)
    child = subprocess.Popen([sys.executable, "-c", CHILD, slack.url], stdout=subprocess.PIPE, text=True)
    holder["pid"] = child.pid
    out, _ = child.communicate(timeout=30)
    assert killed.is_set() and child.returncode == -signal.SIGKILL
    assert "answered" not in out  # killed before the answer reached it
    # Slack had the request either way: the DM was posted, once, and nothing after it.
    assert len(slack.messages_with_metadata(ANN.id, PROMPT, payload={"project_id": 7})) == 1
    assert slack.messages_with_metadata(BOB.id, PROMPT) == []
    assert [c.number for c in slack.calls_to("chat.postMessage")] == [1]


def test_faults_on_the_upload_url_and_response_url(slack: FakeSlack, client: WebClient) -> None:
    dm = slack.dm_channel(ANN.id)
    slack.fail_call("upload", 1, status=500)
    with pytest.raises(urllib.error.HTTPError):
        client.files_upload_v2(channel=dm, content="x", filename="x.txt")
    assert client.files_upload_v2(channel=dm, content="x", filename="x.txt")["ok"]
    assert [c.status for c in slack.calls_to("upload")] == [500, 200]

    url = slack.new_response_url(ANN.id, "C0GENERAL")
    slack.drop_after_apply("response_url")
    with pytest.raises(http.client.RemoteDisconnected):
        WebhookClient(url, timeout=1, retry_handlers=[]).send(text="shown anyway")
    assert [e["text"] for e in slack.ephemerals(ANN.id)] == ["shown anyway"]
    assert [c.answer for c in slack.calls_to("response_url")] == ["dropped"]


def test_stopping_the_fake_releases_a_held_answer() -> None:
    slack = FakeSlack([ANN]).start()
    patient = WebClient(base_url=slack.url, token="xoxb-test", timeout=10, retry_handlers=[])
    slack.answer_late("auth.test", delay=None)
    held = threading.Event()
    slack.on_call("auth.test", 1, lambda call: held.set(), when="applied")
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            patient.auth_test()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=ask)
    thread.start()
    try:
        assert held.wait(1)
    finally:
        started = time.monotonic()
        slack.stop()
    thread.join(2)
    assert not thread.is_alive() and time.monotonic() - started < 1
    assert len(errors) == 1 and isinstance(errors[0], ConnectionError)
