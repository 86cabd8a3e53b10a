"""One way to fail: our exceptions become a friendly answer, the rest get an id to quote.

Only listeners talk to the person, and a listener runs only for a request whose signature
was verified (``bot.inbound`` stands at the door). Bolt's own error handler, which may run
for a request that never reached a listener, logs and says nothing to anyone — except that a
slash command that met a database outage before its listener is answered in words.

When Slack or the database is down (an outage: ``bot.slack_gateway.outage``,
``storage.db.unavailable``) there is no bug to chase: one WARNING line says what was down, no
traceback, and the person is told to try again — at once if Slack answers, else once it answers
again (``SlackGateway.when_back``). And whatever Slack does, every request is acknowledged in
time (``_AckGuard``).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import App, BoltResponse

from bot.errors import BrickworkError
from bot.services import Services
from bot.slack_gateway import ResponseUrlRefused, describe_outage, error_code, outage
from bot.text import escape_mrkdwn
from handlers.views.common import notice_modal
from storage.db import unavailable as database_unavailable

log = logging.getLogger("brickwork.errors")

Listener = TypeVar("Listener", bound=Callable[..., Any])
JSON = {"content-type": "application/json;charset=utf-8"}

# Slack waits three seconds for an acknowledgement; a listener still waiting on Slack after this
# long is acknowledged for it (``_AckGuard``), which leaves time for the answer to travel.
ACK_BUDGET_SECONDS = 2.4
SLACK_DOWN = (
    "Slack did not answer Brickwork just now, so this may not have gone through. If nothing "
    "changed, please try again in a minute."
)
DATABASE_DOWN = (
    "Brickwork cannot reach its database just now, so nothing was done. Please try again in a few minutes."
)
STILL_WORKING = (
    "Still working on it: Slack is slow to answer just now. This window shows how it went as soon "
    "as it is done."
)
NOT_SAVED = "That was not saved: {errors} Open the form again to change it."
DONE = "Done. You can close this window."


def register(app: App, services: Services) -> None:
    @app.error
    def handle_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        # Reached only by errors outside our listeners (every listener is ``guarded``): nothing
        # is sent to Slack, and the line names the kind of request, not what it carried.
        down = _outage(error)
        if down is not None:
            log.warning("could not handle %s: %s", _kind(body), down)
            if body.get("command"):
                text = SLACK_DOWN if outage(error) else DATABASE_DOWN
                return BoltResponse(status=200, body=json.dumps({"text": text}), headers=JSON)
            # An event is sent again by Slack; a form stays open, with what was typed in it.
            return BoltResponse(status=503, body="")
        log.error("error id %s in Bolt while handling %s", uuid.uuid4().hex[:8], _kind(body), exc_info=error)
        return None


TRIGGER_REFUSED = frozenset({"expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id"})


def _outage(error: BaseException) -> str | None:
    """One line's worth on what was down, when ``error`` is Slack or the database being down."""
    if outage(error) is not None:
        return f"Slack unavailable ({describe_outage(error)})"
    database = database_unavailable(error)
    return f"database {database}" if database is not None else None


def message_for(error: Exception) -> tuple[str, str | None]:
    """What the person reads about ``error``, and the error id that was logged (None for ours)."""
    if isinstance(error, BrickworkError):
        return str(error), None
    if error_code(error) in TRIGGER_REFUSED:
        # Slack's 3-second trigger ran out (a slow moment), or it was not Slack's: not a bug.
        log.info("Slack refused a trigger: %s", error_code(error))
        return "That took too long to open. Please try again.", None
    down = _outage(error)
    if down is not None:  # not a bug: one line, no traceback
        log.warning("%s; the person is asked to try again", down)
        return (SLACK_DOWN if outage(error) else DATABASE_DOWN), None
    error_id = uuid.uuid4().hex[:8]
    log.error("error id %s", error_id, exc_info=error)
    return f"Something went wrong on our side. If it keeps happening, quote error id {error_id}.", error_id


class _AckGuard:
    """The ``ack`` a guarded listener is given: Bolt's, with a watchdog.

    Some listeners must call Slack before they can acknowledge (a form naming someone Brickwork
    has not met needs ``users.info`` to be checked), and Slack may be slow. A listener that has
    not acknowledged within ``ACK_BUDGET_SECONDS`` is acknowledged for it with a holding answer
    (a form's window says it is still working; anything else gets an empty 200), so Slack never
    shows the person a timeout; what the listener acknowledges later reaches the person another
    way: a command's text through its ``response_url``, a form's answer by ``views.update`` of
    its window.
    """

    def __init__(self, services: Services, ack: Any, body: dict[str, Any]) -> None:
        self._services, self._ack, self._body = services, ack, body
        self._lock = threading.Lock()
        self.held = False
        self._timer = threading.Timer(ACK_BUDGET_SECONDS, self._hold)
        self._timer.daemon = True
        self._timer.start()

    @property
    def response(self) -> BoltResponse | None:
        return self._ack.response  # type: ignore[no-any-return]

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse | None:
        with self._lock:
            self._timer.cancel()
            if not self.held:
                return self._ack(*args, **kwargs)  # type: ignore[no-any-return]
        self._late(*args, **kwargs)
        return self.response

    def done(self) -> None:
        self._timer.cancel()

    def _hold(self) -> None:
        with self._lock:
            if self._ack.response is not None:
                return
            if self._body.get("type") == "view_submission":
                self._ack(response_action="update", view=notice_modal("Brickwork", STILL_WORKING))
            else:
                self._ack()
            self.held = True
        log.info(
            "acknowledged %s for its listener, still working after %g s",
            _kind(self._body),
            ACK_BUDGET_SECONDS,
        )

    def _late(self, text: Any = "", **answer: Any) -> None:
        """Deliver what the listener acknowledged after the holding answer went out."""
        gateway, body = self._services.gateway, self._body
        if body.get("type") == "view_submission":
            view_id = str((body.get("view") or {}).get("id") or "")
            action, view, errors = answer.get("response_action"), answer.get("view"), answer.get("errors")
            if action in ("update", "push") and view is not None:
                final = view
            elif action == "errors" and isinstance(errors, dict):
                final = notice_modal(
                    "Brickwork", NOT_SAVED.format(errors=" ".join(map(str, errors.values())))
                )
            else:
                final = notice_modal("Brickwork", DONE)
            self._deliver(
                f"showing how {_kind(body)} went", lambda: self._services.modals.update(view_id, final)
            )
            return
        response_url = body.get("response_url")
        blocks = answer.get("blocks")
        if body.get("command") and isinstance(response_url, str) and (text or blocks):
            shown = text if isinstance(text, str) else ""
            self._deliver(f"answering {_kind(body)}", lambda: gateway.respond(response_url, shown, blocks))

    def _deliver(self, what: str, call: Callable[[], None]) -> None:
        try:
            self._services.gateway.when_back.run(what, call)
        except Exception as failure:
            log.warning("could not finish %s: %s", what, type(failure).__name__)


def guarded(services: Services) -> Callable[[Listener], Listener]:
    """Wrap a listener so that an exception never costs Slack its acknowledgement, a slow Slack
    never delays it past Slack's three seconds (``_AckGuard``), and the person hears what
    happened where they are.

    Bolt (process_before_response off) runs the listener in a thread and waits for ack(); when
    the listener raises just after acking, Bolt's error path resets the acknowledgement and
    Slack gets a 404 three seconds later, shown to the person as a failure. Here the error is
    told instead: in the modal that was submitted (when the ack is still ours to give), or by
    ``tell``.
    """

    def wrap(listener: Listener) -> Listener:
        @functools.wraps(listener)
        def run(**kwargs: Any) -> Any:
            body = kwargs.get("body") or kwargs.get("command") or {}
            guard: _AckGuard | None = None
            if kwargs.get("ack") is not None and kwargs["ack"].response is None:
                guard = _AckGuard(services, kwargs["ack"], body)
                kwargs["ack"] = guard
            try:
                return listener(**kwargs)
            except Exception as error:
                if isinstance(error, BrickworkError):
                    log.info("refused %s: %s", _kind(body), type(error).__name__)
                message, error_id = message_for(error)
                ack = kwargs.get("ack")
                if ack is not None and (ack.response is None or (guard is not None and guard.held)):
                    if body.get("type") == "view_submission":
                        # The window that was submitted says it (now, or once its held answer is).
                        ack(
                            response_action="update",
                            view=notice_modal("Brickwork", message, error_id=error_id),
                        )
                        return None
                    if ack.response is None:
                        ack()
                tell(services, body, message, error_id)
                return None
            finally:
                if guard is not None:
                    guard.done()

        return run  # type: ignore[return-value]

    return wrap


def tell(services: Services, body: dict[str, Any], message: str, error_id: str | None = None) -> None:
    """Say ``message`` to the person who sent ``body``: a modal while its trigger is unused, else
    through the request's ``response_url`` (which works in DMs and private channels the bot is
    not in), else a DM. While Slack is unavailable it is said once Slack answers again
    (``SlackGateway.when_back``). Best effort: a failure here is logged, never raised."""
    try:
        if _tell_in_modal(services, body, message, error_id):
            return
        # Service messages may quote what a person typed (a project name): escape before mrkdwn.
        text = escape_mrkdwn(message)
        services.gateway.when_back.run(
            f"telling the person about {_kind(body)}", lambda: _tell_elsewhere(services, body, text)
        )
    except ResponseUrlRefused:
        log.info("not telling the person: the request's response_url is not Slack's")
    except Exception as failure:
        log.warning("could not tell the person about a failure: %s", type(failure).__name__)


def _kind(body: dict[str, Any]) -> str:
    return str(body.get("command") or body.get("type") or "request")[:40]


def _tell_in_modal(services: Services, body: dict[str, Any], message: str, error_id: str | None) -> bool:
    trigger = body.get("trigger_id")
    if trigger and body.get("type") == "block_actions":
        # A button press: the trigger is still unused when a service refused, so answer in place.
        try:
            services.gateway.open_view(trigger, notice_modal("Brickwork", message, error_id=error_id))
            return True
        except Exception:
            log.debug("trigger already used; answering another way")
    return False


def _tell_elsewhere(services: Services, body: dict[str, Any], text: str) -> None:
    response_url = body.get("response_url")
    if isinstance(response_url, str) and response_url:
        services.gateway.respond(response_url, text)
        return
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    if user:
        person = services.people.one(user)
        services.gateway.post_message(services.people.dm_channel(person), text)
