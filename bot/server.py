"""HTTP mode: Bolt behind waitress, a production WSGI server, with ``bot.inbound`` at the door.

Routes: ``POST /slack/events`` (events, commands, interactivity) and ``GET /healthz``.
A request reaches Bolt only once its signature is verified and its body has Slack's shape;
everything else is answered here (401, 4xx), with a log line that carries none of it.

``GET /healthz`` answers 200 ``{"ok": true, "database": "ok", "slack": "ok"}`` when the
database answers ``SELECT 1`` and Slack answers ``auth.test`` with our token, else 503 with the
part that is down (``"database": "unreachable"``, ``"slack": "unreachable: connection refused"``
or ``"refused: invalid_auth"``), one log line when a part changes. The Slack half
is cached (``bot.slack_gateway.SlackStatus``): a load balancer polling every second asks Slack
once per ``HEALTH_CACHE_SECONDS``, and a check never waits on Slack longer than a few seconds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from slack_bolt import App, BoltRequest

from bot.inbound import Refused, parse_signed, verify_signature
from bot.slack_gateway import SlackCheck
from storage.db import Database, unavailable

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything larger is not Slack

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _status(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused(400, "a Content-Length that is not a number") from None
    if length < 0 or length > MAX_BODY:
        raise Refused(413, "a body larger than Slack sends")
    return environ["wsgi.input"].read(length) if length else b""


def make_wsgi_app(
    bolt: App,
    db: Database,
    signing_secret: str,
    *,
    response_origins: Iterable[str] = (),
    slack_check: Callable[[], SlackCheck] | None = None,
) -> WSGIApp:
    def reply(start_response: Callable[..., Any], code: int, payload: dict[str, Any]) -> list[bytes]:
        body = json.dumps(payload).encode()
        start_response(
            _status(code), [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def slack(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = _headers(environ)
        try:
            body = _read_body(environ)
            verify_signature(signing_secret, headers, body)
            verified = parse_signed(headers, body, origins=response_origins)
        except Refused as refused:
            # Nothing of the request in the line: not its body, not its headers.
            log.info("refused a request to %s: %s (HTTP %d)", SLACK_PATH, refused.reason, refused.status)
            return reply(start_response, refused.status, {"ok": False, "error": "invalid request"})
        if verified.ignored:  # an event we do not subscribe to: acknowledged, so Slack stops
            return reply(start_response, 200, {"ok": True})
        # Bolt gets the body as checked (bot.inbound), never the raw text to parse by its own
        # rules. Bolt calls a pre-parsed body "socket_mode": its own signature check, which that
        # skips, has been done at the door above.
        response = bolt.dispatch(BoltRequest(body=verified.body, headers=headers, mode="socket_mode"))
        out = response.body.encode("utf-8")
        pairs = [
            (k, v) for k, values in response.headers.items() if k.lower() != "content-length" for v in values
        ]
        start_response(_status(response.status), [*pairs, ("Content-Length", str(len(out)))])
        return [out]

    said: dict[str, str] = {"database": "ok", "slack": "ok"}  # a line when a part changes, not per poll

    def tell_change(part: str, now: str) -> str:
        if said[part] != now:
            said[part] = now
            log.log(logging.INFO if now == "ok" else logging.WARNING, "health check: %s %s", part, now)
        return now

    def health_of_database() -> str:
        try:
            db.ping()
        except Exception as error:  # the load balancer should stop sending us traffic
            return tell_change("database", unavailable(error) or "unreachable")
        return tell_change("database", "ok")

    def health_of_slack() -> str:
        return tell_change("slack", "ok" if slack_check is None else slack_check().summary)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz":
            if method not in ("GET", "HEAD"):
                return reply(start_response, 405, {"ok": False})
            status = {"database": health_of_database(), "slack": health_of_slack()}
            ok = all(value == "ok" for value in status.values())
            return reply(start_response, 200 if ok else 503, {"ok": ok, **status})
        if path == SLACK_PATH:
            if method != "POST":
                return reply(start_response, 405, {"ok": False, "error": "POST only"})
            return slack(environ, start_response)
        return reply(start_response, 404, {"ok": False, "error": "not found"})

    return application


class HttpServer:
    """waitress around our WSGI app; ``port=0`` picks a free port (see ``port``)."""

    def __init__(self, app: WSGIApp, host: str, port: int, *, threads: int = 8) -> None:
        from waitress.server import create_server

        self._closing = False
        self._server: Any = create_server(
            app, host=host, port=port, threads=threads, max_request_body_size=MAX_BODY, ident="brickwork"
        )

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def host(self) -> str:
        return str(self._server.effective_host)

    def serve_forever(self) -> None:
        try:
            self._server.run()
        except OSError:
            # close() from another thread pulls the sockets from under the loop's select().
            if not self._closing:
                raise

    def close(self) -> None:
        # Let the worker threads finish what they are writing first: a worker wakes the loop
        # through the trigger, and writing to a closed one is an error ("Bad file descriptor").
        self._closing = True
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        self._server.close()
