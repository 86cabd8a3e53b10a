"""One error handler: our exceptions become a friendly answer, the rest get an id to quote."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import App

from bot.errors import BrickworkError
from bot.services import Services
from bot.text import escape_mrkdwn
from handlers.views.common import notice_modal

log = logging.getLogger("brickwork.errors")

Listener = TypeVar("Listener", bound=Callable[..., Any])


def register(app: App, services: Services) -> None:
    @app.error
    def handle_error(error: Exception, body: dict[str, Any]) -> None:
        report(services.gateway, error, body)


def report(gateway: Any, error: Exception, body: dict[str, Any]) -> None:
    """Tell the person: our exceptions as they are, anything else as an id that is logged."""
    if isinstance(error, BrickworkError):
        message, error_id = str(error), None
        log.info("refused %s: %s", body.get("type") or body.get("command"), type(error).__name__)
    else:
        error_id = uuid.uuid4().hex[:8]
        message = f"Something went wrong on our side. If it keeps happening, quote error id {error_id}."
        log.error("error id %s while handling %s", error_id, _kind(body), exc_info=error)
    try:
        _tell(gateway, body, message, error_id)
    except Exception:  # the answer itself failed; the log line above is what is left
        log.exception("could not tell the user about error id %s", error_id)


def guarded(services: Services) -> Callable[[Listener], Listener]:
    """Wrap a listener so that an exception never costs Slack its acknowledgement.

    Bolt (process_before_response off) runs the listener in a thread and waits for ack(); when
    the listener raises just after acking, Bolt's error path resets the acknowledgement and
    Slack gets a 404 three seconds later, shown to the person as a failure. Here an error is
    reported by ``report`` instead, after acking if that had not happened yet.
    """

    def wrap(listener: Listener) -> Listener:
        @functools.wraps(listener)
        def run(**kwargs: Any) -> Any:
            try:
                return listener(**kwargs)
            except Exception as error:
                ack = kwargs.get("ack")
                if ack is not None and ack.response is None:
                    ack()
                report(services.gateway, error, kwargs.get("body") or kwargs.get("command") or {})
                return None

        return run  # type: ignore[return-value]

    return wrap


def _kind(body: dict[str, Any]) -> str:
    return str(body.get("command") or body.get("type") or "request")


def _tell(gateway: Any, body: dict[str, Any], message: str, error_id: str | None) -> None:
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
    trigger = body.get("trigger_id")
    if trigger and body.get("type") == "block_actions":
        # A button press: the trigger is still unused when a service refused, so answer in place.
        try:
            gateway.open_view(trigger, notice_modal("Brickwork", message, error_id=error_id))
            return
        except Exception:
            log.debug("trigger already used; falling back to a message")
    # Service messages may quote what a person typed (a project name): escape before mrkdwn.
    if user and channel:
        gateway.post_ephemeral(channel, user, escape_mrkdwn(message))
    elif user:
        gateway.post_message(user, escape_mrkdwn(message))
