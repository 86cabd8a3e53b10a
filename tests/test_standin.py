"""Tests of the Slack stand-in itself (bot.standin): fake Web API, driver, renderer.

Everything goes over real loopback HTTP: the fake is driven by a real
``slack_sdk.WebClient`` and the driver talks to small stdlib servers (and, in the
end-to-end test, to a real Bolt app).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
import yaml
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.standin import FakeSlack, FakeUser, SlackDriver, blocks_to_text, message_to_text, view_to_text
from bot.standin.render import mrkdwn_to_text
from bot.standin.scopes import APP_SCOPES, METHOD_SCOPES, SCOPE_BY_CONVERSATION

SECRET = "test-signing-secret"
ANN = FakeUser(id="U0ANN", name="ann", real_name="Ann Archer", tz="Europe/Berlin", email="ann@example.com")
BOB = FakeUser(id="U0BOB", name="bob", real_name="Bob Baker", tz="America/New_York", email="bob@example.com")
GONE = FakeUser(id="U0GONE", name="gone", real_name="Gone Person", deleted=True, email="gone@example.com")


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def option(text: str, value: str | None = None) -> dict[str, Any]:
    return {"text": plain(text), "value": value if value is not None else text.lower()}


def button(text: str, action_id: str, value: str | None = None) -> dict[str, Any]:
    el: dict[str, Any] = {"type": "button", "text": plain(text), "action_id": action_id}
    if value is not None:
        el["value"] = value
    return el


def modal(title: str = "Debrief", blocks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "debrief",
        "title": plain(title),
        "submit": plain("Save"),
        "blocks": blocks if blocks is not None else [{"type": "section", "text": mrkdwn("Hello")}],
    }
    view.update(extra)
    return view


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack([ANN, BOB, GONE], trigger_ttl=0.2) as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.url)


def api_error(exc_info: pytest.ExceptionInfo[SlackApiError]) -> dict[str, Any]:
    return dict(exc_info.value.response.data)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- fake Web API


def test_auth_test_and_lifecycle(slack: FakeSlack, client: WebClient) -> None:
    assert slack.url.startswith("http://127.0.0.1:") and slack.url.endswith("/api/")
    result = client.auth_test()
    assert result["user_id"] == slack.bot_user_id == "UBRICKBOT"
    assert result["team_id"] == "T0BRICK"
    assert result["bot_id"] and result["team"] and result["url"]
    assert slack.calls_to("auth.test")[0].ok


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_post_and_update_dm(slack: FakeSlack, client: WebClient) -> None:
    opened = client.conversations_open(users=ANN.id)
    assert opened["channel"]["id"] == slack.dm_channel(ANN.id)
    assert client.conversations_open(users=ANN.id)["channel"]["id"] == opened["channel"]["id"]

    blocks = [
        {"type": "section", "text": mrkdwn("Time for your *debrief*")},
        {"type": "actions", "elements": [button("Start", "start", "42")]},
    ]
    first = client.chat_postMessage(channel=ANN.id, text="Time for your debrief", blocks=blocks)
    second = client.chat_postMessage(channel=opened["channel"]["id"], text="Second")
    assert first["channel"] == opened["channel"]["id"]
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["blocks"][0]["block_id"]  # Slack fills in block ids

    updated = client.chat_update(channel=first["channel"], ts=first["ts"], text="Done", blocks=[])
    assert updated["ts"] == first["ts"]

    messages = slack.messages(ANN.id)
    assert [m["text"] for m in messages] == ["Done", "Second"]
    assert messages[0]["blocks"] == [] and messages[0]["channel"] == first["channel"]
    assert messages[0]["history"][0]["text"] == "Time for your debrief"
    last = slack.last_dm(ANN.id)
    assert last is not None and last["text"] == "Second"

    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel=first["channel"], ts="1.000001", text="x")
    assert api_error(missing)["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as by_user:  # chat.update needs the D-id, not the user id
        client.chat_update(channel=ANN.id, ts=first["ts"], text="x")
    assert api_error(by_user)["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as empty:
        client.chat_postMessage(channel=ANN.id, text="")
    assert api_error(empty)["error"] == "no_text"
    with pytest.raises(SlackApiError) as unknown:
        client.conversations_open(users="U0NOBODY")
    assert api_error(unknown)["error"] == "user_not_found"

    client.chat_delete(channel=first["channel"], ts=second["ts"])
    assert [m["text"] for m in slack.messages(ANN.id)] == ["Done"]


def test_form_encoded_blocks_are_decoded(slack: FakeSlack) -> None:
    blocks = [{"type": "section", "text": mrkdwn("form")}]
    body = f"channel={BOB.id}&text=hi&blocks={urllib.request.quote(json.dumps(blocks))}".encode()
    request = urllib.request.Request(
        slack.url + "chat.postMessage",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer xoxb-x"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert json.loads(resp.read())["ok"] is True
    call = slack.calls_to("chat.postMessage")[0]
    assert call.args["blocks"] == blocks and "token" not in call.args
    # a token form field works too, and a bad blocks string is invalid_blocks_format
    bad = urllib.request.Request(
        slack.url + "chat.postMessage",
        data=f"token=xoxb-x&channel={BOB.id}&blocks=%5Bnot-json".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(bad, timeout=5) as resp:
        assert json.loads(resp.read())["error"] == "invalid_blocks_format"


def _big_option_select() -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [{"type": "static_select", "action_id": "pick", "options": [option("x" * 76, "v")]}],
    }


@pytest.mark.parametrize(
    ("blocks", "fragment"),
    [
        pytest.param([{"type": "divider"}] * 51, "at most 50 blocks", id="51-blocks"),
        pytest.param([_big_option_select()], "/options/0/text/text", id="76-char-option"),
        pytest.param(
            [{"type": "actions", "elements": [button("A", "same"), button("B", "same")]}],
            "duplicate action_id",
            id="duplicate-action-id",
        ),
        pytest.param(
            [{"type": "divider", "block_id": "b"}, {"type": "divider", "block_id": "b"}],
            "duplicate block_id",
            id="duplicate-block-id",
        ),
        pytest.param(
            [{"type": "section", "text": mrkdwn("x" * 3001)}], "/blocks/0/text/text", id="long-section"
        ),
        pytest.param([{"type": "header", "text": plain("x" * 151)}], "at most 150", id="long-header"),
        pytest.param(
            [{"type": "actions", "elements": [button("x" * 76, "b")]}], "at most 75", id="long-button-text"
        ),
        pytest.param(
            [{"type": "actions", "elements": [{"type": "static_select", "action_id": "s", "options": []}]}],
            "/elements/0",
            id="empty-static-select",
        ),
        pytest.param(
            [
                {
                    "type": "actions",
                    "elements": [{"type": "overflow", "action_id": "o", "options": [option("a")]}],
                }
            ],
            "between 2 and 5",
            id="overflow-one-option",
        ),
        pytest.param([{"type": "section", "text": plain("")}], "more than 0 characters", id="empty-text"),
        pytest.param([{"type": "sektion", "text": plain("x")}], "unsupported block type", id="unknown-block"),
        pytest.param([{"type": "section", "txt": plain("x")}], "unknown field", id="unknown-field"),
        pytest.param(
            [{"type": "actions", "elements": [{**button("x", "b"), "action_id": "a" * 256}]}],
            "at most 255",
            id="long-action-id",
        ),
    ],
)
def test_invalid_blocks_rejected(
    slack: FakeSlack, client: WebClient, blocks: list[Any], fragment: str
) -> None:
    with pytest.raises(SlackApiError) as exc_info:
        client.chat_postMessage(channel=ANN.id, text="x", blocks=blocks)
    data = api_error(exc_info)
    assert data["error"] == "invalid_blocks"
    assert any(fragment in e for e in data["errors"]), data["errors"]
    [invalid] = slack.invalid_calls()
    assert invalid.method == "chat.postMessage" and not invalid.ok and invalid.error == "invalid_blocks"
    assert any(fragment in e for e in invalid.validation_errors)
    assert slack.messages(ANN.id) == []


def test_message_text_limit(slack: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc_info:
        client.chat_postMessage(channel=ANN.id, text="x" * 40001)
    assert api_error(exc_info)["error"] == "msg_too_long"
    assert slack.invalid_calls()[0].method == "chat.postMessage"


def test_same_action_id_in_different_blocks_is_fine(slack: FakeSlack, client: WebClient) -> None:
    blocks = [
        {"type": "section", "text": mrkdwn("Row 1"), "accessory": button("Edit", "edit_row", "1")},
        {"type": "section", "text": mrkdwn("Row 2"), "accessory": button("Edit", "edit_row", "2")},
    ]
    assert client.chat_postMessage(channel=ANN.id, text="rows", blocks=blocks)["ok"]
    assert slack.invalid_calls() == []


def _full_modal() -> dict[str, Any]:
    """A modal using every input element the app is likely to need."""
    answers = [option("Yes"), option("Partly"), option("No")]
    return modal(
        blocks=[
            {"type": "header", "text": plain("Weekly debrief")},
            {
                "type": "input",
                "block_id": "went_well",
                "label": plain("What went well?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "v",
                    "multiline": True,
                    "max_length": 500,
                },
            },
            {
                "type": "input",
                "block_id": "goal_met",
                "label": plain("Goal met?"),
                "element": {"type": "radio_buttons", "action_id": "v", "options": answers},
            },
            {
                "type": "input",
                "block_id": "rating",
                "label": plain("Rating"),
                "element": {
                    "type": "static_select",
                    "action_id": "v",
                    "options": [option(str(n), str(n)) for n in range(1, 6)],
                    "initial_option": option("3", "3"),
                },
            },
            {
                "type": "input",
                "block_id": "coach",
                "label": plain("Coach"),
                "element": {"type": "users_select", "action_id": "v", "initial_user": BOB.id},
            },
            {
                "type": "input",
                "block_id": "peers",
                "optional": True,
                "label": plain("Peers"),
                "element": {"type": "multi_users_select", "action_id": "v"},
            },
            {
                "type": "input",
                "block_id": "due",
                "label": plain("Follow-up date"),
                "element": {"type": "datepicker", "action_id": "v"},
            },
            {
                "type": "input",
                "block_id": "topics",
                "optional": True,
                "label": plain("Topics"),
                "element": {
                    "type": "checkboxes",
                    "action_id": "v",
                    "options": [option("Feedback"), option("Growth"), option("Wellbeing")],
                },
            },
            {
                "type": "input",
                "block_id": "hours",
                "optional": True,
                "label": plain("Hours spent"),
                "element": {"type": "number_input", "action_id": "v", "is_decimal_allowed": False},
            },
            {
                "type": "input",
                "block_id": "notes",
                "optional": True,
                "label": plain("Notes"),
                "element": {"type": "plain_text_input", "action_id": "v", "initial_value": "n/a"},
            },
        ],
        private_metadata=json.dumps({"debrief_id": 7}),
    )


def test_valid_views_accepted(slack: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id=slack.issue_trigger_id(ANN.id), view=_full_modal())
    view = opened["view"]
    assert view["id"].startswith("V") and view["hash"] and view["state"] == {"values": {}}
    assert view["callback_id"] == "debrief" and json.loads(view["private_metadata"]) == {"debrief_id": 7}
    stored = slack.open_modal(ANN.id)
    assert stored is not None and stored["id"] == view["id"]

    home = {"type": "home", "blocks": [{"type": "section", "text": mrkdwn("Hi <@U0ANN>")}]}
    published = client.views_publish(user_id=ANN.id, view=home)
    assert slack.home(ANN.id) == published["view"]
    assert slack.invalid_calls() == []


@pytest.mark.parametrize(
    ("view", "fragment"),
    [
        pytest.param(modal(title="x" * 25), "/view/title/text", id="25-char-title"),
        pytest.param(modal(submit=plain("y" * 25)), "/view/submit/text", id="25-char-submit"),
        pytest.param(
            modal(
                blocks=[
                    {
                        "type": "input",
                        "label": plain("Pick"),
                        "element": {
                            "type": "radio_buttons",
                            "action_id": "r",
                            "options": [option(f"o{i}") for i in range(11)],
                        },
                    }
                ]
            ),
            "at most 10 items",
            id="11-radio-options",
        ),
        pytest.param(modal(private_metadata="m" * 3001), "private_metadata", id="long-private-metadata"),
        pytest.param(modal(callback_id="c" * 256), "callback_id", id="long-callback-id"),
        pytest.param(
            {k: v for k, v in modal(blocks=[_full_modal()["blocks"][1]]).items() if k != "submit"},
            "/view/submit",
            id="input-without-submit",
        ),
        pytest.param(modal(blocks=[{"type": "divider"}] * 101), "at most 100 blocks", id="101-blocks"),
        pytest.param(
            modal(
                blocks=[
                    {
                        "type": "input",
                        "label": plain("Text"),
                        "element": {"type": "plain_text_input", "action_id": "t", "max_length": 3001},
                    }
                ]
            ),
            "max_length",
            id="plain-text-input-max-length",
        ),
    ],
)
def test_invalid_views_rejected(
    slack: FakeSlack, client: WebClient, view: dict[str, Any], fragment: str
) -> None:
    trigger = slack.issue_trigger_id(ANN.id)
    with pytest.raises(SlackApiError) as exc_info:
        client.views_open(trigger_id=trigger, view=view)
    data = api_error(exc_info)
    assert data["error"] == "invalid_arguments"
    assert any(fragment in m for m in data["response_metadata"]["messages"]), data
    assert [c.method for c in slack.invalid_calls()] == ["views.open"]
    assert slack.open_modal(ANN.id) is None
    # a rejected view does not use up the trigger
    assert client.views_open(trigger_id=trigger, view=modal())["ok"]


def test_trigger_ids_single_use_and_expiry(slack: FakeSlack, client: WebClient) -> None:
    trigger = slack.issue_trigger_id(ANN.id)
    assert len(trigger.split(".")) == 3
    first = client.views_open(trigger_id=trigger, view=modal())
    with pytest.raises(SlackApiError) as reused:
        client.views_open(trigger_id=trigger, view=modal())
    assert api_error(reused)["error"] == "exchanged_trigger_id"
    with pytest.raises(SlackApiError) as unknown:
        client.views_open(trigger_id="123.456.abc", view=modal())
    assert api_error(unknown)["error"] == "invalid_trigger_id"

    pushed = client.views_push(trigger_id=slack.issue_trigger_id(ANN.id), view=modal(title="Step 2"))
    assert pushed["view"]["previous_view_id"] == first["view"]["id"]
    assert [v["title"]["text"] for v in slack.modal_stack(ANN.id)] == ["Debrief", "Step 2"]

    stale = slack.issue_trigger_id(ANN.id)
    time.sleep(0.3)  # trigger_ttl is 0.2s in this fixture
    with pytest.raises(SlackApiError) as expired:
        client.views_push(trigger_id=stale, view=modal())
    assert api_error(expired)["error"] == "expired_trigger_id"
    assert slack.invalid_calls() == []  # trigger errors are not payload errors


def test_a_closed_modal_cannot_be_updated(slack: FakeSlack, client: WebClient) -> None:
    """The person closed it: the view is gone from Slack, and views.update says not_found."""
    view = client.views_open(trigger_id=slack.issue_trigger_id(ANN.id), view=modal())["view"]
    client.views_update(view_id=view["id"], view=modal(title="Still open"))
    slack.close_view(ANN.id, view["id"])
    with pytest.raises(SlackApiError) as gone:
        client.views_update(view_id=view["id"], view=modal(title="Too late"))
    assert api_error(gone)["error"] == "not_found"
    assert slack.open_modal(ANN.id) is None


def test_views_update_hash_and_publish(slack: FakeSlack, client: WebClient) -> None:
    view = client.views_open(trigger_id=slack.issue_trigger_id(ANN.id), view=modal(external_id="dbr-1"))[
        "view"
    ]
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=modal(title="Updated"))["view"]
    assert updated["id"] == view["id"] and updated["hash"] != view["hash"]
    open_now = slack.open_modal(ANN.id)
    assert open_now is not None and open_now["title"]["text"] == "Updated"
    with pytest.raises(SlackApiError) as conflict:
        client.views_update(view_id=view["id"], hash=view["hash"], view=modal())
    assert api_error(conflict)["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as missing:
        client.views_update(external_id="nope", view=modal())
    assert api_error(missing)["error"] == "not_found"
    with pytest.raises(SlackApiError) as not_home:
        client.views_publish(user_id=ANN.id, view=modal())
    assert api_error(not_home)["error"] == "invalid_arguments"
    home = {"type": "home", "blocks": [{"type": "divider"}]}
    first = client.views_publish(user_id=ANN.id, view=home)["view"]
    second = client.views_publish(user_id=ANN.id, view=home, hash=first["hash"])["view"]
    assert second["id"] == first["id"]


def test_rate_limit_retry_after(slack: FakeSlack) -> None:
    # The header as Slack sends it.
    slack.fail_next("auth.test", status=429, retry_after=7)
    request = urllib.request.Request(
        slack.url + "auth.test", data=b"", headers={"Authorization": "Bearer xoxb-x"}
    )
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(request, timeout=5)
    assert http_error.value.code == 429 and http_error.value.headers["Retry-After"] == "7"

    # A WebClient with the rate-limit retry handler observes it and succeeds on the retry.
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    retrying = WebClient(
        token="xoxb-test", base_url=slack.url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)]
    )
    assert retrying.chat_postMessage(channel=ANN.id, text="hello")["ok"]
    calls = slack.calls_to("chat.postMessage")
    assert [(c.status, c.ok, c.error) for c in calls] == [(429, False, "ratelimited"), (200, True, None)]
    assert len(slack.messages(ANN.id)) == 1


def test_server_error_and_error_injection(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next("users.info", status=500)
    with pytest.raises(SlackApiError) as exc_info:
        client.users_info(user=ANN.id)
    assert exc_info.value.response.status_code == 500
    assert api_error(exc_info)["error"] == "internal_error"

    slack.fail_next("users.info", status=503, times=1)
    retrying = WebClient(
        token="xoxb-test",
        base_url=slack.url,
        retry_handlers=[ServerErrorRetryHandler(1, FixedValueRetryIntervalCalculator(0.01))],
    )
    assert retrying.users_info(user=ANN.id)["user"]["id"] == ANN.id
    assert [c.status for c in slack.calls_to("users.info")] == [500, 503, 200]

    slack.fail_next("chat.postMessage", error="channel_not_found", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as injected:
            client.chat_postMessage(channel=ANN.id, text="x")
        assert injected.value.response.status_code == 200
        assert api_error(injected)["error"] == "channel_not_found"
    assert client.chat_postMessage(channel=ANN.id, text="x")["ok"]


def test_auth_errors_and_unknown_method(slack: FakeSlack) -> None:
    def error_of(token: str | None, method: str = "auth.test") -> str:
        try:
            WebClient(token=token, base_url=slack.url).api_call(method)
        except SlackApiError as exc:
            return str(exc.response["error"])
        return "ok"

    assert error_of(None) == "not_authed"
    assert error_of("xoxp-user-token") == "invalid_auth"
    assert error_of("xoxb-ok") == "ok"
    assert error_of("xoxb-ok", "apps.connections.open") == "not_allowed_token_type"
    assert error_of("xoxb-ok", "conversations.replies") == "unknown_method"


def test_users_info_and_lookup_by_email(slack: FakeSlack, client: WebClient) -> None:
    user = client.users_info(user=ANN.id)["user"]
    assert user["id"] == ANN.id and user["name"] == "ann" and user["real_name"] == "Ann Archer"
    assert user["tz"] == "Europe/Berlin" and user["tz_offset"] in (3600, 7200) and user["tz_label"]
    assert user["profile"]["email"] == "ann@example.com" and user["profile"]["real_name"] == "Ann Archer"
    assert user["is_bot"] is False and user["deleted"] is False
    assert client.users_info(user=slack.bot_user_id)["user"]["is_bot"] is True
    assert client.users_lookupByEmail(email="BOB@example.com")["user"]["id"] == BOB.id
    assert client.users_info(user=GONE.id)["user"]["deleted"] is True

    with pytest.raises(SlackApiError) as no_user:
        client.users_info(user="U0NOBODY")
    assert api_error(no_user)["error"] == "user_not_found"
    for email in ("nobody@example.com", GONE.email):
        with pytest.raises(SlackApiError) as no_email:
            client.users_lookupByEmail(email=str(email))
        assert api_error(no_email)["error"] == "users_not_found"

    slack.add_user(FakeUser(id="U0NEW", name="new"))
    assert client.users_info(user="U0NEW")["user"]["tz"] == "UTC"


def test_ephemerals_and_response_url(slack: FakeSlack, client: WebClient) -> None:
    result = client.chat_postEphemeral(channel="C0GENERAL", user=ANN.id, text="Only you")
    assert result["message_ts"]
    assert [e["text"] for e in slack.ephemerals(ANN.id)] == ["Only you"]

    url = slack.new_response_url(ANN.id, "C0GENERAL")
    assert url.startswith(slack.root_url + "/response/")
    webhook = WebhookClient(url)
    assert webhook.send(text="Working on it…").status_code == 200
    assert webhook.send(text="Done!", replace_original=True).status_code == 200
    assert [e["text"] for e in slack.ephemerals(ANN.id)] == ["Only you", "Done!"]
    bad = webhook.send(text="x", blocks=[{"type": "actions", "elements": [button("x" * 80, "b")]}])
    assert bad.status_code == 400
    assert [c.ok for c in slack.calls_to("response_url")] == [True, True, False]
    assert slack.invalid_calls()[-1].method == "response_url"

    posted = client.chat_postMessage(channel=BOB.id, text="Original")
    message = slack.last_dm(BOB.id)
    assert message is not None and message["ts"] == posted["ts"]
    in_message = WebhookClient(slack.new_response_url(BOB.id, posted["channel"], message=message))
    assert in_message.send(text="Replaced", replace_original=True).status_code == 200
    assert [m["text"] for m in slack.messages(BOB.id)] == ["Replaced"]


def test_a_response_url_takes_five_answers_within_its_lifetime() -> None:
    with FakeSlack([ANN], response_url_ttl=0.3) as slack:
        used = WebhookClient(slack.new_response_url(ANN.id, "C0GENERAL"))
        assert [used.send(text=f"{n}").status_code for n in range(6)] == [200] * 5 + [404]
        assert slack.calls_to("response_url")[-1].error == "used_url"
        stale = WebhookClient(slack.new_response_url(ANN.id, "C0GENERAL"))
        time.sleep(0.35)  # the lifetime passing is the event awaited here
        assert stale.send(text="late").status_code == 404
        assert slack.calls_to("response_url")[-1].error == "expired_url"


def test_wait_for_polls_and_explains(slack: FakeSlack, client: WebClient) -> None:
    def later() -> None:
        time.sleep(0.1)
        client.chat_postMessage(channel=ANN.id, text="late")

    thread = threading.Thread(target=later)
    thread.start()
    calls = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("text") == "late", timeout=3)
    thread.join()
    assert calls[0].ok

    with pytest.raises(AssertionError) as failure:
        slack.wait_for("views.open", timeout=0.1)
    message = str(failure.value)
    assert "views.open" in message and "chat.postMessage" in message and "late" in message
    slack.reset_calls()
    assert slack.calls == []


def test_files_upload_v2_into_a_dm(slack: FakeSlack, client: WebClient) -> None:
    dm = client.conversations_open(users=ANN.id)["channel"]["id"]
    slack.reset_calls()
    result = client.files_upload_v2(
        channel=dm,
        content='{"a": 1}',
        filename="export.json",
        title="Your data",
        initial_comment="Here it is",
    )
    assert result["ok"]
    file_id = result["file"]["id"]
    assert result["files"] == [result["file"]]
    assert result["file"]["title"] == "Your data" and result["file"]["name"] == "export.json"
    assert result["file"]["ims"] == [dm] and result["file"]["size"] == 8

    assert [c.method for c in slack.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    get_url, upload, complete = slack.calls
    assert get_url.args["filename"] == "export.json" and int(get_url.args["length"]) == 8
    assert get_url.response is not None and get_url.response["file_id"] == file_id
    assert get_url.response["upload_url"] == f"{slack.root_url}/upload/{file_id}"
    assert upload.ok and upload.args == {"file_id": file_id, "length": 8}
    assert complete.args["files"] == [{"id": file_id, "title": "Your data"}]
    assert complete.args["channel_id"] == dm and complete.args["initial_comment"] == "Here it is"

    stored = slack.files(ANN.id)
    assert len(stored) == 1 and slack.files(dm) == stored == slack.files()
    assert stored[0]["id"] == file_id and stored[0]["content"] == b'{"a": 1}'
    assert stored[0]["title"] == "Your data" and stored[0]["filename"] == "export.json"
    assert stored[0]["channel"] == dm and stored[0]["initial_comment"] == "Here it is"
    assert stored[0]["user"] == slack.bot_user_id
    assert json.loads(slack.file_content(file_id)) == {"a": 1}
    assert slack.files(BOB.id) == []

    message = slack.last_dm(ANN.id)
    assert message is not None and message["text"] == "Here it is"
    assert [f["id"] for f in message["files"]] == [file_id]
    assert stored[0]["message_ts"] == {dm: message["ts"]}

    # The upload URL is spent once the upload is completed.
    request = urllib.request.Request(f"{slack.root_url}/upload/{file_id}", data=b"again", method="POST")
    with pytest.raises(urllib.error.HTTPError) as spent:
        urllib.request.urlopen(request, timeout=5)
    assert spent.value.code == 404


def test_file_upload_refusals(slack: FakeSlack, client: WebClient) -> None:
    def error_of(method: str, **params: Any) -> str:
        try:
            client.api_call(method, params=params)
        except SlackApiError as exc:
            return str(exc.response["error"])
        return "ok"

    assert error_of("files.getUploadURLExternal", filename="a.txt") == "invalid_arguments"
    assert error_of("files.getUploadURLExternal", length=3) == "invalid_arguments"
    assert error_of("files.getUploadURLExternal", filename="a.txt", length="three") == "invalid_arguments"
    assert error_of("files.getUploadURLExternal", filename="a.txt", length=0) == "missing_argument"
    missing = slack.calls_to("files.getUploadURLExternal")[0]
    assert missing.validation_errors == ("missing required field: length",)

    dm = client.conversations_open(users=ANN.id)["channel"]["id"]
    unknown = json.dumps([{"id": "F404", "title": "x"}])
    assert error_of("files.completeUploadExternal", files=unknown, channel_id=dm) == "file_not_found"
    assert error_of("files.completeUploadExternal", files="not json", channel_id=dm) == "invalid_arguments"
    assert error_of("files.completeUploadExternal", channel_id=dm) == "invalid_arguments"

    issued = client.files_getUploadURLExternal(filename="blob.bin", length=4)
    pending = json.dumps([{"id": issued["file_id"]}])
    # Issued but no bytes uploaded yet.
    assert error_of("files.completeUploadExternal", files=pending, channel_id=dm) == "file_not_found"

    # Multipart uploads work too (the file part is used, bytes kept as they are).
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="filename"; filename="blob.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\x00\xff\x10\x80\r\n--XyZ--\r\n"
    )
    request = urllib.request.Request(
        issued["upload_url"], data=body, headers={"Content-Type": "multipart/form-data; boundary=XyZ"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200 and answer.read() == b"OK - 4"
    assert slack.file_content(issued["file_id"]) == b"\x00\xff\x10\x80"

    # An unknown DM refuses the whole call; nothing is shared and the file can still be completed.
    assert error_of("files.completeUploadExternal", files=pending, channel_id="D0NOPE") == "channel_not_found"
    assert slack.files() == []
    private = client.files_completeUploadExternal(files=[{"id": issued["file_id"]}])
    assert private["files"][0]["title"] == "blob.bin"
    assert [(f["channel"], f["content"]) for f in slack.files()] == [(None, b"\x00\xff\x10\x80")]
    assert slack.messages(dm) == []
    assert error_of("files.completeUploadExternal", files=pending, channel_id=dm) == "file_not_found"

    with pytest.raises(urllib.error.HTTPError) as unknown_url:
        urllib.request.urlopen(urllib.request.Request(f"{slack.root_url}/upload/F404", data=b"x"), timeout=5)
    assert unknown_url.value.code == 404

    # slack_sdk posts the bytes with urllib's urlopen, so an upload failure surfaces as HTTPError.
    slack.fail_next("upload", status=500)
    with pytest.raises(urllib.error.HTTPError) as failed:
        client.files_upload_v2(channel=dm, content="x", filename="x.txt")
    assert failed.value.code == 500
    assert [c.status for c in slack.calls_to("upload")][-1] == 500
    assert slack.files(dm) == []


def _download(url: str, token: str | None) -> tuple[int, str, bytes, dict[str, str]]:
    """GET ``url`` without following redirects: (status, content type, body, headers)."""

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    opener = urllib.request.build_opener(NoRedirects(), urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=5) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read(), dict(error.headers)


def test_a_file_a_person_shares_is_read_with_files_info_and_url_private(
    slack: FakeSlack, client: WebClient
) -> None:
    shared = slack.share_file(ANN.id, "org chart.csv", b"email,manager_email\n", text="here")
    dm = slack.dm_channel(ANN.id)
    assert shared["channel"] == dm and shared["user"] == ANN.id and shared["subtype"] == "file_share"
    assert "bot_id" not in shared
    (file,) = shared["files"]
    assert file["user"] == ANN.id and file["ims"] == [dm] and file["filetype"] == "csv"
    assert file["mimetype"] == "text/csv" and file["size"] == 20
    assert file["url_private"].endswith("/org%20chart.csv")

    info = client.files_info(file=file["id"])["file"]
    assert info["id"] == file["id"] and info["url_private"] == file["url_private"]
    assert slack.calls_to("files.info")[-1].ok

    # The bot token with files:read gets the bytes, with the file's type.
    status, kind, body, _ = _download(file["url_private"], "xoxb-test")
    assert (status, kind, body) == (200, "text/csv", b"email,manager_email\n")
    assert _download(file["url_private_download"], "xoxb-test")[2] == body
    # No token, a user token, or no files:read: Slack's redirect to its sign-in page, in HTML.
    for token in (None, "xoxp-user"):
        status, kind, body, headers = _download(file["url_private"], token)
        assert status == 302 and kind.startswith("text/html") and b"Found" in body
        assert headers["x-slack-meta"] == "?;acl_fail" and "/signin?redir=" in headers["Location"]
    signin = _download(f"{slack.root_url}/signin", None)
    assert signin[0] == 200 and signin[1].startswith("text/html")
    slack.scopes = tuple(s for s in APP_SCOPES if s != "files:read")
    assert _download(file["url_private"], "xoxb-test")[0] == 302
    with pytest.raises(SlackApiError) as missing:
        client.files_info(file=file["id"])
    assert api_error(missing)["error"] == "missing_scope" and api_error(missing)["needed"] == "files:read"
    slack.scopes = APP_SCOPES
    assert [c.error for c in slack.calls_to("url_private")] == [
        None,
        None,
        "not_authed",
        "not_authed",
        "missing_scope",
    ]

    # A file shared where the bot is not a member is not there for it: not in files.info, not by URL.
    slack.add_channel("C0SECRET", "secret", members=[ANN.id, BOB.id])
    elsewhere = slack.share_file(BOB.id, "salaries.csv", b"secret", channel="C0SECRET")["files"][0]
    with pytest.raises(SlackApiError) as hidden:
        client.files_info(file=elsewhere["id"])
    assert api_error(hidden)["error"] == "file_not_found"
    assert _download(elsewhere["url_private"], "xoxb-test")[0] == 302
    with pytest.raises(SlackApiError) as unknown:
        client.files_info(file="F404")
    assert api_error(unknown)["error"] == "file_not_found"
    # A URL naming one file under another's path is not that file.
    forged = elsewhere["url_private"].replace(elsewhere["id"], file["id"] + "X")
    assert _download(forged, "xoxb-test")[0] == 302
    with pytest.raises(ValueError):
        slack.share_file(ANN.id, "x.csv", b"x", channel=slack.dm_channel(BOB.id))


# ---------------------------------------------------------------------- conversations, metadata, scopes

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"
CAT = FakeUser(id="U0CAT", name="cat", real_name="Cat Carter")
#: Everything the membership tests need on top of what the app is granted.
READ_ALL = (*APP_SCOPES, "channels:history", "groups:history", "mpim:history", "mpim:write")


def slack_error(call: Callable[[], Any]) -> dict[str, Any]:
    """The error body of a Web API call that must fail."""
    with pytest.raises(SlackApiError) as exc_info:
        call()
    return api_error(exc_info)


def form_post(slack: FakeSlack, method: str, fields: dict[str, str]) -> dict[str, Any]:
    """A form-encoded call, the way a client that does not speak JSON sends it."""
    request = urllib.request.Request(
        slack.url + method,
        data=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer xoxb-x"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        return dict(json.loads(resp.read()))


def test_metadata_round_trip(slack: FakeSlack, client: WebClient) -> None:
    meta = {"event_type": "debrief_prompt", "event_payload": {"project_id": 7, "round": "kickoff"}}
    posted = client.chat_postMessage(channel=ANN.id, text="Time for your debrief", metadata=meta)
    assert posted["message"]["metadata"] == meta and "warning" not in posted
    dm = posted["channel"]

    # conversations.history returns metadata only when asked for it.
    [plain_message] = client.conversations_history(channel=dm)["messages"]
    assert plain_message["ts"] == posted["ts"] and "metadata" not in plain_message
    [with_metadata] = client.conversations_history(channel=dm, include_all_metadata=True)["messages"]
    assert with_metadata["metadata"] == meta
    assert (
        "metadata" not in client.conversations_history(channel=dm, include_all_metadata=False)["messages"][0]
    )

    # In a form body metadata is a JSON-encoded string.
    nudge = {"event_type": "nudge", "event_payload": {"n": 1}}
    assert form_post(
        slack, "chat.postMessage", {"channel": ANN.id, "text": "f", "metadata": json.dumps(nudge)}
    )["ok"]
    assert [m["metadata"] for m in slack.messages_with_metadata(ANN.id)] == [meta, nudge]
    assert len(slack.messages_with_metadata(ANN.id, "debrief_prompt", payload={"project_id": 7})) == 1
    assert slack.messages_with_metadata(ANN.id, "debrief_prompt", payload={"project_id": 8}) == []
    assert slack.messages_with_metadata(BOB.id) == []

    # chat.update keeps the metadata when the field is left out, replaces it, removes it with {}.
    client.chat_update(channel=dm, ts=posted["ts"], text="Done")
    assert slack.messages(ANN.id)[0]["metadata"] == meta
    done = {"event_type": "debrief_done", "event_payload": {"project_id": 7}}
    updated = client.chat_update(channel=dm, ts=posted["ts"], text="Done", metadata=done)
    assert updated["message"]["metadata"] == done
    assert [m["ts"] for m in slack.messages_with_metadata(ANN.id, "debrief_done")] == [posted["ts"]]
    client.chat_update(channel=dm, ts=posted["ts"], text="Done", metadata={})
    assert [m["text"] for m in slack.messages_with_metadata(ANN.id)] == ["f"]


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param(json.dumps(["event_type", "event_payload"]), id="array"),
        pytest.param(json.dumps({"event_payload": {"a": 1}}), id="no-event-type"),
        pytest.param(json.dumps({"event_type": "x"}), id="no-event-payload"),
        pytest.param(json.dumps({"event_type": "x", "event_payload": "a=1"}), id="payload-not-an-object"),
        pytest.param(json.dumps({"event_type": 7, "event_payload": {}}), id="event-type-not-a-string"),
    ],
)
def test_malformed_metadata_is_refused(slack: FakeSlack, client: WebClient, metadata: str) -> None:
    fields = {"channel": ANN.id, "text": "x", "metadata": metadata}
    assert form_post(slack, "chat.postMessage", fields)["error"] == "invalid_metadata_format"
    assert slack.messages(ANN.id) == []

    posted = client.chat_postMessage(channel=ANN.id, text="kept")
    update = {"channel": posted["channel"], "ts": posted["ts"], "text": "changed", "metadata": metadata}
    assert form_post(slack, "chat.update", update)["error"] == "invalid_metadata_format"
    assert [m["text"] for m in slack.messages(ANN.id)] == ["kept"]
    assert [c.error for c in slack.invalid_calls()] == ["invalid_metadata_format"] * 2


def test_metadata_with_an_invalid_event_type_is_dropped_with_a_warning(
    slack: FakeSlack, client: WebClient
) -> None:
    # "Metadata with an invalid event_type returns an invalid_metadata_schema warning and is ignored."
    dotted = {"event_type": "brickwork.prompt", "event_payload": {"id": 1}}
    posted = client.chat_postMessage(channel=ANN.id, text="x", metadata=dotted)
    assert posted["warning"] == "invalid_metadata_schema"
    assert posted["response_metadata"]["warnings"] == ["invalid_metadata_schema"]
    assert "metadata" not in posted["message"]
    assert len(slack.messages(ANN.id)) == 1 and slack.messages_with_metadata(ANN.id) == []


def test_history_pages_newest_first_without_replies_or_deleted_messages(
    slack: FakeSlack, client: WebClient
) -> None:
    dm = client.conversations_open(users=ANN.id)["channel"]["id"]
    ts = [client.chat_postMessage(channel=dm, text=f"m{i}")["ts"] for i in range(5)]
    client.chat_postMessage(channel=dm, text="bot reply", thread_ts=ts[1])
    slack.add_message(ANN.id, "ann reply", user=ANN.id, thread_ts=ts[1])
    client.chat_delete(channel=dm, ts=ts[3])

    def texts(**args: Any) -> list[str]:
        return [m["text"] for m in client.conversations_history(channel=dm, **args)["messages"]]

    everything = client.conversations_history(channel=dm)
    assert [m["text"] for m in everything["messages"]] == ["m4", "m2", "m1", "m0"]
    assert everything["has_more"] is False and "response_metadata" not in everything.data
    parent = everything["messages"][2]
    assert parent["thread_ts"] == ts[1] and parent["reply_count"] == 2
    assert parent["reply_users"] == sorted([slack.bot_user_id, ANN.id])

    first = client.conversations_history(channel=dm, limit=3)
    assert [m["text"] for m in first["messages"]] == ["m4", "m2", "m1"] and first["has_more"] is True
    assert texts(limit=3, cursor=first["response_metadata"]["next_cursor"]) == ["m0"]
    # slack_sdk's own paginator (it yields the same response object, refilled page after page)
    pages = [
        [m["text"] for m in page["messages"]] for page in client.conversations_history(channel=dm, limit=2)
    ]
    assert pages == [["m4", "m2"], ["m1", "m0"]]
    assert texts(limit=5000) == ["m4", "m2", "m1", "m0"]  # capped at 999, not refused

    # oldest / latest are exclusive unless inclusive; one message: latest=ts, inclusive, limit=1.
    assert texts(oldest=ts[0], latest=ts[4]) == ["m2", "m1"]
    assert texts(oldest=ts[0], latest=ts[4], inclusive=True) == ["m4", "m2", "m1", "m0"]
    assert texts(oldest=ts[2]) == ["m4"]
    one = client.conversations_history(channel=dm, latest=ts[2], inclusive=True, limit=1)
    assert [m["ts"] for m in one["messages"]] == [ts[2]] and one["has_more"] is True
    assert texts(latest=ts[0]) == []

    def history_error(**args: Any) -> str:
        return str(slack_error(lambda: client.conversations_history(channel=dm, **args))["error"])

    assert history_error(oldest="yesterday") == "invalid_ts_oldest"
    assert history_error(latest="1.2.3") == "invalid_ts_latest"
    assert history_error(cursor="bm9wZQ==") == "invalid_cursor"
    assert history_error(limit=0) == "invalid_arguments"


def test_membership_decides_where_the_bot_may_post_and_read(slack: FakeSlack, client: WebClient) -> None:
    slack.add_user(CAT)
    slack.scopes = READ_ALL
    bot = slack.bot_user_id
    team = slack.add_channel("C0TEAM", "team", members=[ANN.id, BOB.id])  # public, without the bot
    ops = slack.add_channel("C0OPS", "ops", members=[ANN.id, bot])  # public, with the bot, not Bob
    secret = slack.add_channel("G0SECRET", "secret", members=[ANN.id], private=True)
    board = slack.add_channel("C0BOARD", "board", members=[ANN.id, bot], private=True)
    ann_bob = slack.add_dm_between(ANN.id, BOB.id)
    trio = slack.add_group_dm([ANN.id, BOB.id, CAT.id])  # a group DM without the bot

    def post_error(channel: str) -> str:
        return str(slack_error(lambda: client.chat_postMessage(channel=channel, text="x"))["error"])

    def ephemeral_error(channel: str, user: str = ANN.id) -> str:
        def post() -> Any:
            return client.chat_postEphemeral(channel=channel, user=user, text="x")

        return str(slack_error(post)["error"])

    def history_error(channel: str) -> str:
        return str(slack_error(lambda: client.conversations_history(channel=channel))["error"])

    def upload_error(channel: str) -> str:
        def upload() -> Any:
            return client.files_upload_v2(channel=channel, content="x", filename="x.txt")

        return str(slack_error(upload)["error"])

    for channel in (secret, ann_bob, trio, "C0NOPE"):
        assert post_error(channel) == "channel_not_found", channel
        assert ephemeral_error(channel) == "channel_not_found", channel
        assert history_error(channel) == "channel_not_found", channel
        assert upload_error(channel) == "channel_not_found", channel
    assert post_error(team) == "not_in_channel"
    assert ephemeral_error(team) == "not_in_channel"
    assert history_error(team) == "not_in_channel"
    assert upload_error(team) == "not_in_channel"
    assert ephemeral_error(ops, BOB.id) == "user_not_in_channel"
    assert ephemeral_error(ops, "U0NOBODY") == "user_not_found"
    assert slack_error(lambda: client.chat_update(channel=ann_bob, ts="1.000001", text="x"))["error"] == (
        "channel_not_found"
    )
    assert slack_error(lambda: client.conversations_open(channel=ann_bob))["error"] == "channel_not_found"
    assert slack_error(lambda: client.conversations_open(channel=ops))["error"] == (
        "method_not_supported_for_channel_type"
    )
    assert slack.messages(team) == slack.messages(secret) == slack.messages(ann_bob) == []
    assert slack.ephemerals(ANN.id) == [] and slack.files() == []

    for channel in (ops, board, "C0GENERAL"):
        assert client.chat_postMessage(channel=channel, text=f"in {channel}")["channel"] == channel
        assert client.chat_postEphemeral(channel=channel, user=ANN.id, text="psst")["ok"]
        assert [m["text"] for m in client.conversations_history(channel=channel)["messages"]] == [
            f"in {channel}"
        ]
    assert client.files_upload_v2(channel=ops, content="x", filename="x.txt")["ok"]

    # A group DM the bot opens includes the bot.
    group = client.conversations_open(users=[ANN.id, BOB.id])["channel"]["id"]
    opened = slack.conversation(group)
    assert opened is not None and opened["kind"] == "mpim" and opened["bot_is_member"]
    assert client.chat_postMessage(channel=group, text="hi all")["ok"]

    # chat:write.public lets chat.postMessage (only) into public channels the bot is not in.
    slack.scopes = (*READ_ALL, "chat:write.public")
    assert client.chat_postMessage(channel=team, text="announcement")["ok"]
    assert ephemeral_error(team) == "not_in_channel"
    assert history_error(team) == "not_in_channel"
    assert post_error(secret) == "channel_not_found"

    # Membership changes take effect at once.
    slack.add_member(secret, bot)
    assert client.chat_postMessage(channel=secret, text="now I'm in")["ok"]
    slack.remove_member(ops, bot)
    slack.scopes = READ_ALL
    assert post_error(ops) == "not_in_channel"


def test_missing_scope_names_the_scope_needed(slack: FakeSlack, client: WebClient) -> None:
    slack.scopes = ("commands", "im:write")
    refused = slack_error(lambda: client.chat_postMessage(channel=ANN.id, text="x"))
    assert refused == {
        "ok": False,
        "error": "missing_scope",
        "needed": "chat:write",
        "provided": "commands,im:write",
    }
    assert slack.messages(ANN.id) == []
    dm = slack.dm_channel(ANN.id)
    assert slack_error(lambda: client.users_info(user=ANN.id))["needed"] == "users:read"
    assert (
        slack_error(lambda: client.users_lookupByEmail(email="ann@example.com"))["needed"]
        == "users:read.email"
    )
    assert (
        slack_error(lambda: client.files_getUploadURLExternal(filename="a", length=1))["needed"]
        == "files:write"
    )
    assert slack_error(lambda: client.conversations_history(channel=dm))["needed"] == "im:history"
    assert slack_error(lambda: client.conversations_open(users=[ANN.id, BOB.id]))["needed"] == "mpim:write"
    assert client.conversations_open(users=ANN.id)["channel"]["id"] == dm
    assert client.auth_test()["ok"]
    assert client.views_publish(user_id=ANN.id, view={"type": "home", "blocks": [{"type": "divider"}]})["ok"]

    # What our app is granted reads its own DMs, not channels.
    slack.scopes = APP_SCOPES
    assert client.conversations_history(channel=dm)["ok"]
    public = slack_error(lambda: client.conversations_history(channel="C0GENERAL"))
    assert public["needed"] == "channels:history" and public["provided"] == ",".join(APP_SCOPES)
    answer = client.chat_postMessage(channel=ANN.id, text="x")
    assert answer.headers["X-OAuth-Scopes"] == ",".join(APP_SCOPES)
    assert answer.headers["X-Accepted-OAuth-Scopes"] == "chat:write"


def test_every_method_has_its_scopes_listed(slack: FakeSlack) -> None:
    assert set(METHOD_SCOPES) == set(slack.api_methods)
    for method, by_kind in SCOPE_BY_CONVERSATION.items():
        assert set(by_kind.values()) <= set(METHOD_SCOPES[method])


def manifest_bot_scopes() -> list[str]:
    return list(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])


@pytest.mark.xfail(
    "im:history" not in manifest_bot_scopes(),
    reason="manifest.yml is to gain im:history (the app reads its own DMs with conversations.history)",
    strict=True,
)
def test_app_scopes_are_the_manifests() -> None:
    assert sorted(APP_SCOPES) == sorted(manifest_bot_scopes())


def test_commands_and_response_url_work_where_the_bot_is_not(
    slack: FakeSlack, client: WebClient, recorder: Recorder
) -> None:
    ann_bob = slack.add_dm_between(ANN.id, BOB.id)
    secret = slack.add_channel("G0SECRET", "secret", members=[ANN.id, BOB.id], private=True)
    ann = SlackDriver(recorder.url, SECRET, slack).as_user(ANN.id)

    def post_error(channel: str) -> str:
        return str(slack_error(lambda: client.chat_postMessage(channel=channel, text="x"))["error"])

    for channel in (ann_bob, secret):
        assert ann.command("/brickwork", channel_id=channel).status == 200
        form = {k: v[0] for k, v in parse_qs(recorder.requests[-1]["body"]).items()}
        assert form["channel_id"] == channel
        webhook = WebhookClient(form["response_url"])
        assert webhook.send(text=f"only Ann sees this in {channel}").status_code == 200
        assert webhook.send(text="everyone here sees this", response_type="in_channel").status_code == 200
        assert [m["text"] for m in slack.messages(channel)] == ["everyone here sees this"]
        assert post_error(channel) == "channel_not_found"  # while the Web API keeps the bot out
    assert [e["text"] for e in slack.ephemerals(ANN.id)] == [
        f"only Ann sees this in {ann_bob}",
        f"only Ann sees this in {secret}",
    ]


def test_workspace_conversations(slack: FakeSlack) -> None:
    general = slack.conversation("C0GENERAL")
    assert general is not None and general["kind"] == "public" and general["bot_is_member"]
    assert set(general["members"]) == {slack.bot_user_id, ANN.id, BOB.id}  # not the deactivated user
    slack.add_user(CAT)
    assert CAT.id in slack.conversation("C0GENERAL")["members"]  # type: ignore[index]
    assert slack.conversation(slack.dm_channel(ANN.id)) == {
        "id": slack.dm_channel(ANN.id),
        "name": "",
        "kind": "im",
        "is_private": True,
        "members": sorted([slack.bot_user_id, ANN.id]),
        "bot_is_member": True,
    }
    dm = slack.add_dm_between(ANN.id, BOB.id)
    assert dm.startswith("D") and dm == slack.add_dm_between(BOB.id, ANN.id) != slack.dm_channel(ANN.id)
    assert slack.conversation(dm)["bot_is_member"] is False  # type: ignore[index]
    assert slack.conversation("C0NOPE") is None
    with pytest.raises(ValueError):
        slack.add_channel("G0PUBLIC", "oops")  # G… ids are private
    with pytest.raises(ValueError):
        slack.add_channel("C0GENERAL", "again")
    with pytest.raises(KeyError):
        slack.add_channel("C0TYPO", "typo", members=["U0NOBODY"])
    with pytest.raises(ValueError):
        slack.add_dm_between(ANN.id, slack.bot_user_id)
    with pytest.raises(ValueError):
        slack.add_message(dm, "not Cat's DM", user=CAT.id)


# ---------------------------------------------------------------------- driver


@dataclass
class Recorder:
    """A stand-in for the app: verifies Slack signatures and records what arrived."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    reply_status: int = 200
    reply_body: str = ""

    def last_payload(self) -> dict[str, Any]:
        form = parse_qs(self.requests[-1]["body"])
        return dict(json.loads(form["payload"][0]))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    verifier = SignatureVerifier(SECRET)
    holder: dict[str, Recorder] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            try:
                valid = verifier.is_valid(
                    body=body,
                    timestamp=self.headers.get("X-Slack-Request-Timestamp") or "",
                    signature=self.headers.get("X-Slack-Signature") or "",
                )
            except ValueError:  # no / malformed timestamp
                valid = False
            rec = holder["rec"]
            rec.requests.append({"body": body, "headers": dict(self.headers.items()), "valid": valid})
            status, text = (rec.reply_status, rec.reply_body) if valid else (401, "invalid signature")
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if text.startswith("{") else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["rec"] = Recorder(url=f"http://127.0.0.1:{server.server_address[1]}/slack/events")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield holder["rec"]
    finally:
        server.shutdown()
        server.server_close()


def test_driver_signs_like_slack(slack: FakeSlack, recorder: Recorder) -> None:
    ann = SlackDriver(recorder.url, SECRET, slack).as_user(ANN.id)
    response = ann.command("/brickwork", "debrief now")
    assert response.status == 200 and response.elapsed >= 0
    request = recorder.requests[-1]
    assert request["valid"], "SignatureVerifier rejected the driver's signature"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(request["body"], keep_blank_values=True).items()}
    assert form["command"] == "/brickwork" and form["text"] == "debrief now"
    assert form["user_id"] == ANN.id and form["user_name"] == "ann" and form["team_id"] == "T0BRICK"
    assert form["channel_id"] == "C0GENERAL" and form["is_enterprise_install"] == "false"
    assert form["response_url"].startswith(slack.root_url + "/response/") and form["trigger_id"]
    assert form["api_app_id"] == slack.app_id and form["token"]

    event = ann.event({"type": "app_mention", "text": "hi", "channel": "C0GENERAL"}, retry_num=1)
    request = recorder.requests[-1]
    assert request["valid"] and event.status == 200
    assert request["headers"]["X-Slack-Retry-Num"] == "1"
    assert request["headers"]["X-Slack-Retry-Reason"] == "http_timeout"
    envelope = json.loads(request["body"])
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert (
        envelope["event"]["user"] == ANN.id and envelope["authorizations"][0]["user_id"] == slack.bot_user_id
    )

    ann.open_home()
    home_event = json.loads(recorder.requests[-1]["body"])["event"]
    assert home_event == {**home_event, "type": "app_home_opened", "tab": "home", "user": ANN.id}

    unsigned = ann.send_raw(b"payload=%7B", "application/x-www-form-urlencoded", sign=False)
    assert unsigned.status == 401 and not recorder.requests[-1]["valid"]
    tampered = ann.send_raw(b"{}", "application/json", headers={"X-Slack-Signature": "v0=bad"})
    assert tampered.status == 401 and tampered.text == "invalid signature"


def test_command_ack_text_is_shown_as_ephemeral(slack: FakeSlack, recorder: Recorder) -> None:
    recorder.reply_body = json.dumps({"text": "On it, <@U0ANN>!"})
    SlackDriver(recorder.url, SECRET, slack).as_user(ANN.id).command("/brickwork")
    [shown] = slack.ephemerals(ANN.id)
    assert shown["text"] == "On it, <@U0ANN>!" and shown["source"] == "command_response"


def test_click_builds_block_actions(slack: FakeSlack, client: WebClient, recorder: Recorder) -> None:
    blocks = [
        {"type": "section", "text": mrkdwn("Ready?"), "accessory": button("Later", "snooze", "s1")},
        {
            "type": "actions",
            "elements": [button("Start debrief", "start", "d7"), button("Skip", "skip", "d7")],
        },
    ]
    client.chat_postMessage(channel=ANN.id, text="Ready?", blocks=blocks)
    message = slack.last_dm(ANN.id)
    assert message is not None
    ann = SlackDriver(recorder.url, SECRET, slack).as_user(ANN.id)

    assert ann.click(message, text="start debrief").status == 200
    payload = recorder.last_payload()
    assert payload["type"] == "block_actions" and payload["user"]["id"] == ANN.id
    assert payload["container"] == {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": message["channel"],
        "is_ephemeral": False,
    }
    assert payload["channel"]["id"] == message["channel"] and payload["message"]["ts"] == message["ts"]
    [action] = payload["actions"]
    assert action["action_id"] == "start" and action["value"] == "d7" and action["type"] == "button"
    assert (
        action["block_id"] == message["blocks"][1]["block_id"] and action["text"]["text"] == "Start debrief"
    )
    assert payload["trigger_id"] and payload["response_url"].startswith(slack.root_url)

    ann.click(message, "snooze")
    assert recorder.last_payload()["actions"][0]["value"] == "s1"
    with pytest.raises(LookupError) as missing:
        ann.click(message, "nope")
    assert "Start debrief" in str(missing.value) and "snooze" in str(missing.value)
    with pytest.raises(LookupError):
        ann.click(message, value="d7")  # two buttons match: ambiguous


def test_select_in_home_view(slack: FakeSlack, client: WebClient, recorder: Recorder) -> None:
    home = {
        "type": "home",
        "blocks": [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "static_select",
                        "action_id": "period",
                        "placeholder": plain("Period"),
                        "options": [option("This week", "w"), option("This month", "m")],
                    },
                    {"type": "users_select", "action_id": "person"},
                ],
            }
        ],
    }
    client.views_publish(user_id=ANN.id, view=home)
    stored = slack.home(ANN.id)
    assert stored is not None
    ann = SlackDriver(recorder.url, SECRET, slack).as_user(ANN.id)
    ann.select(stored, "period", "This month")
    payload = recorder.last_payload()
    assert payload["container"] == {"type": "view", "view_id": stored["id"]}
    assert payload["actions"][0]["selected_option"]["value"] == "m"
    assert payload["actions"][0]["type"] == "static_select"
    ann.select(stored, "person", BOB.id)
    assert recorder.last_payload()["actions"][0]["selected_user"] == BOB.id


def test_submit_state_shapes(slack: FakeSlack, client: WebClient, recorder: Recorder) -> None:
    client.views_open(trigger_id=slack.issue_trigger_id(ANN.id), view=_full_modal())
    view = slack.open_modal(ANN.id)
    assert view is not None
    ann = SlackDriver(recorder.url, SECRET, slack).as_user(ANN.id)

    with pytest.raises(KeyError) as unknown:
        ann.submit(view, {"What went badly?": "x"})
    assert "What went well?" in str(unknown.value)
    with pytest.raises(ValueError, match="left empty"):
        ann.submit(view, {"What went well?": "A lot"})  # Goal met? / Follow-up date left empty
    with pytest.raises(ValueError, match="no option"):
        ann.submit(view, {"What went well?": "x", "goal_met": "Maybe"})

    response = ann.submit(
        view,
        {
            "What went well?": "Shipped the thing",
            "goal_met": "Partly",  # visible text
            "rating": "5",  # option value
            "Peers": [ANN.id, BOB.id],
            "Follow-up date": date(2024, 5, 17),
            "Topics": ["Growth", "feedback"],
            "Hours spent": 3,
        },
    )
    assert response.status == 200
    payload = recorder.last_payload()
    assert payload["type"] == "view_submission" and payload["trigger_id"]
    sent = payload["view"]
    assert sent["id"] == view["id"] and sent["hash"] == view["hash"] and sent["callback_id"] == "debrief"
    assert json.loads(sent["private_metadata"]) == {"debrief_id": 7}
    values = {bid: next(iter(actions.values())) for bid, actions in sent["state"]["values"].items()}
    assert values["went_well"] == {"type": "plain_text_input", "value": "Shipped the thing"}
    assert values["goal_met"] == {"type": "radio_buttons", "selected_option": option("Partly")}
    assert values["rating"] == {"type": "static_select", "selected_option": option("5", "5")}
    assert values["coach"] == {"type": "users_select", "selected_user": BOB.id}  # initial value kept
    assert values["peers"] == {"type": "multi_users_select", "selected_users": [ANN.id, BOB.id]}
    assert values["due"] == {"type": "datepicker", "selected_date": "2024-05-17"}
    assert values["topics"] == {
        "type": "checkboxes",
        "selected_options": [option("Growth"), option("Feedback")],
    }
    assert values["hours"] == {"type": "number_input", "value": "3"}
    assert values["notes"] == {"type": "plain_text_input", "value": "n/a"}
    # An empty ack closes the modal, as in Slack.
    assert slack.open_modal(ANN.id) is None


def test_submit_response_actions_update_the_fake(
    slack: FakeSlack, client: WebClient, recorder: Recorder
) -> None:
    view = client.views_open(trigger_id=slack.issue_trigger_id(ANN.id), view=_full_modal())["view"]
    ann = SlackDriver(recorder.url, SECRET, slack).as_user(ANN.id)
    answers = {"What went well?": "x", "Goal met?": "Yes", "Follow-up date": "2024-01-02"}

    recorder.reply_body = json.dumps({"response_action": "errors", "errors": {"went_well": "Too short"}})
    assert ann.submit(view, answers).json()["response_action"] == "errors"
    assert slack.open_modal(ANN.id) is not None and slack.calls_to("response_action")[-1].ok

    recorder.reply_body = json.dumps({"response_action": "update", "view": modal(title="x" * 30)})
    ann.submit(view, answers)
    assert slack.invalid_calls()[-1].method == "response_action"

    recorder.reply_body = json.dumps({"response_action": "update", "view": modal(title="Thanks")})
    ann.submit(view, answers)
    current = slack.open_modal(ANN.id)
    assert current is not None and current["title"]["text"] == "Thanks" and current["id"] == view["id"]

    assert ann.close(current).sent is False  # no notify_on_close: Slack sends nothing
    assert slack.open_modal(ANN.id) is None


# ---------------------------------------------------------------------- render


def test_render_small_message() -> None:
    names = {"U0ANN": "Ann Archer"}.get
    blocks = [
        {"type": "header", "text": plain("Weekly debrief")},
        {
            "type": "section",
            "text": mrkdwn("Hi <@U0ANN>, see <https://example.com/d/7|your notes> &amp; reply &lt;soon&gt;"),
            "fields": [mrkdwn("*Due:* Friday"), mrkdwn("*Coach:* <@U0BOB>")],
        },
        {"type": "divider"},
        {
            "type": "context",
            "elements": [mrkdwn("Sent by Brickwork"), {"type": "image", "image_url": "x", "alt_text": "y"}],
        },
        {"type": "image", "image_url": "https://example.com/x.png", "alt_text": "chart"},
        {"type": "actions", "elements": [button("Start", "start"), button("Later", "later")]},
    ]
    text = blocks_to_text(blocks, names=lambda uid: names(uid) or uid)
    assert text.splitlines() == [
        "Weekly debrief",
        "==============",
        "Hi @Ann Archer, see your notes (https://example.com/d/7) & reply <soon>",
        "*Due:* Friday",
        "*Coach:* @U0BOB",
        "———",
        "Sent by Brickwork",
        "[ Start ]  [ Later ]",
    ]
    assert message_to_text({"text": "plain <!here>", "blocks": []}) == "plain @here"
    assert mrkdwn_to_text("<#C1|general> <mailto:a@b.c|a@b.c> <@U1|ann>") == "#general a@b.c @ann"


def test_render_modal() -> None:
    text = view_to_text(_full_modal())
    lines = text.splitlines()
    assert lines[0] == "== Debrief =="
    assert "What went well?: ____" in lines
    assert "Goal met?: ( ) Yes  ( ) Partly  ( ) No" in lines
    assert "Rating: 3 ▾ (1 / 2 / 3 / 4 / 5)" in lines
    assert "Coach: @U0BOB" in lines
    assert "Topics (optional): [ ] Feedback  [ ] Growth  [ ] Wellbeing" in lines
    assert "Notes (optional): n/a" in lines
    assert lines[-1] == "[ Cancel ]  [ Save ]"


# ---------------------------------------------------------------------- end to end with Bolt


@pytest.fixture
def bolt_url(slack: FakeSlack) -> Iterator[str]:
    """A real Bolt app on loopback that uses the fake Web API."""
    web = WebClient(token="xoxb-test", base_url=slack.url)
    app = App(signing_secret=SECRET, client=web, token="xoxb-test")

    @app.command("/brickwork")
    def open_debrief(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=_full_modal())

    @app.view("debrief")
    def save_debrief(ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        ack()
        went_well = view["state"]["values"]["went_well"]["v"]["value"]
        client.chat_postMessage(
            channel=body["user"]["id"],
            text=f"Saved: {went_well}",
            blocks=[
                {"type": "section", "text": mrkdwn(f"Saved: *{went_well}*")},
                {"type": "actions", "elements": [button("Share with coach", "share", "7")]},
            ],
        )

    @app.action("share")
    def share(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.chat_update(
            channel=body["container"]["channel_id"],
            ts=body["container"]["message_ts"],
            text="Shared",
            blocks=[{"type": "context", "elements": [mrkdwn("Shared with your coach :white_check_mark:")]}],
        )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            headers = {k.lower(): [v] for k, v in self.headers.items()}
            response = app.dispatch(BoltRequest(body=body, headers=headers))
            data = response.body.encode()
            self.send_response(response.status)
            for name, values in response.headers.items():
                if name.lower() != "content-length":
                    for value in values:
                        self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    finally:
        server.shutdown()
        server.server_close()


def test_end_to_end_with_a_bolt_app(slack: FakeSlack, bolt_url: str) -> None:
    # The fixture shortens trigger ids to 0.2s; give the Bolt listener Slack's real 3 seconds.
    slack.trigger_ttl = 3.0
    ann = SlackDriver(bolt_url, SECRET, slack).as_user(ANN.id)
    assert ann.command("/brickwork").status == 200
    slack.wait_for("views.open", where=lambda c: c.ok)
    view = slack.open_modal(ANN.id)
    assert view is not None

    answers = {"What went well?": "Coaching", "Goal met?": "Yes", "Follow-up date": date(2024, 6, 1)}
    assert ann.submit(view, answers).status == 200
    slack.wait_for("chat.postMessage", where=lambda c: c.ok)
    message = slack.last_dm(ANN.id)
    assert message is not None and message["text"] == "Saved: Coaching"

    assert ann.click(message, "share").status == 200
    slack.wait_for("chat.update", where=lambda c: c.ok)
    updated = slack.last_dm(ANN.id)
    assert updated is not None
    assert message_to_text(updated) == "Shared with your coach :white_check_mark:"
    assert ann.send_raw(b"{}", "application/json", sign=False).status == 401
    assert slack.invalid_calls() == []
