"""One way to fail: our exceptions become a friendly answer, the rest get an id to quote.

Only listeners talk to the person, and a listener runs only for a request whose signature
was verified (``bot.inbound`` stands at the door). Bolt's own error handler, which may run
for a request that never reached a listener, logs and says nothing to anyone.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import App

from bot.errors import BrickworkError
from bot.services import Services
from bot.slack_gateway import ResponseUrlRefused, error_code
from bot.text import escape_mrkdwn
from handlers.views.common import notice_modal

log = logging.getLogger("brickwork.errors")

Listener = TypeVar("Listener", bound=Callable[..., Any])


def register(app: App, services: Services) -> None:
    @app.error
    def handle_error(error: Exception, body: dict[str, Any]) -> None:
        # Reached only by errors outside our listeners (every listener is ``guarded``): nothing
        # is sent to Slack, and the line names the kind of request, not what it carried.
        log.error("error id %s in Bolt while handling %s", uuid.uuid4().hex[:8], _kind(body), exc_info=error)


TRIGGER_REFUSED = frozenset({"expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id"})


def message_for(error: Exception) -> tuple[str, str | None]:
    """What the person reads about ``error``, and the error id that was logged (None for ours)."""
    if isinstance(error, BrickworkError):
        return str(error), None
    if error_code(error) in TRIGGER_REFUSED:
        # Slack's 3-second trigger ran out (a slow moment), or it was not Slack's: not a bug.
        log.info("Slack refused a trigger: %s", error_code(error))
        return "That took too long to open. Please try again.", None
    error_id = uuid.uuid4().hex[:8]
    log.error("error id %s", error_id, exc_info=error)
    return f"Something went wrong on our side. If it keeps happening, quote error id {error_id}.", error_id


def guarded(services: Services) -> Callable[[Listener], Listener]:
    """Wrap a listener so that an exception never costs Slack its acknowledgement, and the
    person hears what happened where they are.

    Bolt (process_before_response off) runs the listener in a thread and waits for ack(); when
    the listener raises just after acking, Bolt's error path resets the acknowledgement and
    Slack gets a 404 three seconds later, shown to the person as a failure. Here the error is
    told instead: in the modal that was submitted (when the ack is still ours to give), or by
    ``tell``.
    """

    def wrap(listener: Listener) -> Listener:
        @functools.wraps(listener)
        def run(**kwargs: Any) -> Any:
            try:
                return listener(**kwargs)
            except Exception as error:
                body = kwargs.get("body") or kwargs.get("command") or {}
                if isinstance(error, BrickworkError):
                    log.info("refused %s: %s", _kind(body), type(error).__name__)
                message, error_id = message_for(error)
                ack = kwargs.get("ack")
                if ack is not None and ack.response is None:
                    if body.get("type") == "view_submission":
                        notice = notice_modal("Brickwork", message, error_id=error_id)
                        ack(response_action="update", view=notice)
                        return None
                    ack()
                tell(services, body, message, error_id)
                return None

        return run  # type: ignore[return-value]

    return wrap


def tell(services: Services, body: dict[str, Any], message: str, error_id: str | None = None) -> None:
    """Say ``message`` to the person who sent ``body``: a modal while its trigger is unused, else
    through the request's ``response_url`` (which works in DMs and private channels the bot is
    not in), else a DM. Best effort: a failure here is logged, never raised."""
    try:
        _tell(services, body, message, error_id)
    except ResponseUrlRefused:
        log.info("not telling the person: the request's response_url is not Slack's")
    except Exception as failure:
        log.warning("could not tell the person about a failure: %s", type(failure).__name__)


def _kind(body: dict[str, Any]) -> str:
    return str(body.get("command") or body.get("type") or "request")[:40]


def _tell(services: Services, body: dict[str, Any], message: str, error_id: str | None) -> None:
    gateway = services.gateway
    trigger = body.get("trigger_id")
    if trigger and body.get("type") == "block_actions":
        # A button press: the trigger is still unused when a service refused, so answer in place.
        try:
            gateway.open_view(trigger, notice_modal("Brickwork", message, error_id=error_id))
            return
        except Exception:
            log.debug("trigger already used; answering another way")
    # Service messages may quote what a person typed (a project name): escape before mrkdwn.
    text = escape_mrkdwn(message)
    response_url = body.get("response_url")
    if isinstance(response_url, str) and response_url:
        gateway.respond(response_url, text)
        return
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    if user:
        person = services.people.one(user)
        gateway.post_message(services.people.dm_channel(person), text)
