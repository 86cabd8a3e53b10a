"""The one way out to Slack's Web API.

Every call goes through ``SlackGateway`` so the whole app shares one policy: the base URL
from ``SLACK_API_URL``, retries on 429 that honour ``Retry-After``, on 5xx and on dropped
connections, and payloads serialised from slack_sdk models (which check Slack's limits).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

log = logging.getLogger(__name__)

BlockLike = Block | dict[str, Any]


def make_web_client(token: str | None, base_url: str, *, timeout: int = 10) -> WebClient:
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    tz: str
    is_bot: bool
    deleted: bool
    email: str | None = None


@dataclass(frozen=True)
class PostedMessage:
    channel: str
    ts: str


def _blocks(blocks: Sequence[BlockLike] | None) -> list[dict[str, Any]] | None:
    if blocks is None:
        return None
    return [b.to_dict() if isinstance(b, Block) else b for b in blocks]


def _view(view: View | dict[str, Any]) -> dict[str, Any]:
    return view.to_dict() if isinstance(view, View) else view


def _slack_user(user: dict[str, Any]) -> SlackUser:
    profile = user.get("profile") or {}
    # The full name reads best in a debrief; display names are often handles ("maya.o").
    name = user.get("real_name") or profile.get("real_name") or profile.get("display_name") or user["name"]
    return SlackUser(
        id=user["id"],
        name=name,
        tz=user.get("tz") or "UTC",
        is_bot=bool(user.get("is_bot")) or user["id"] == "USLACKBOT",
        deleted=bool(user.get("deleted")),
        email=profile.get("email") or None,
    )


class SlackGateway:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def user_info(self, user_id: str) -> SlackUser:
        return _slack_user(self.client.users_info(user=user_id)["user"])

    def lookup_by_email(self, email: str) -> SlackUser | None:
        """The workspace member with this email; None when Slack knows nobody by it."""
        try:
            response = self.client.users_lookupByEmail(email=email)
        except SlackApiError as error:
            if error.response.get("error") == "users_not_found":
                return None
            raise
        return _slack_user(response["user"])

    def open_dm(self, user_id: str) -> str:
        return self.client.conversations_open(users=user_id)["channel"]["id"]

    def post_message(
        self, channel: str, text: str, blocks: Sequence[BlockLike] | None = None
    ) -> PostedMessage:
        # `text` is the notification and screen-reader fallback; user text inside is escaped
        # by the views, and `parse`/`link_names` stay off.
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=_blocks(blocks))
        return PostedMessage(channel=response["channel"], ts=response["ts"])

    def update_message(
        self, channel: str, ts: str, text: str, blocks: Sequence[BlockLike] | None = None
    ) -> None:
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=_blocks(blocks))

    def post_ephemeral(
        self, channel: str, user_id: str, text: str, blocks: Sequence[BlockLike] | None = None
    ) -> None:
        self.client.chat_postEphemeral(channel=channel, user=user_id, text=text, blocks=_blocks(blocks))

    def open_view(self, trigger_id: str, view: View | dict[str, Any]) -> dict[str, Any]:
        return self.client.views_open(trigger_id=trigger_id, view=_view(view))["view"]

    def push_view(self, trigger_id: str, view: View | dict[str, Any]) -> dict[str, Any]:
        return self.client.views_push(trigger_id=trigger_id, view=_view(view))["view"]

    def update_view(self, view_id: str, view: View | dict[str, Any], view_hash: str | None = None) -> None:
        self.client.views_update(view_id=view_id, view=_view(view), hash=view_hash)

    def upload_file(
        self, channel: str, *, filename: str, content: str, title: str, initial_comment: str
    ) -> None:
        """Share a file in a channel (a DM for exports): files_upload_v2's three-step upload."""
        self.client.files_upload_v2(
            channel=channel, filename=filename, content=content, title=title, initial_comment=initial_comment
        )

    def publish_home(self, user_id: str, view: View | dict[str, Any]) -> None:
        self.client.views_publish(user_id=user_id, view=_view(view))
