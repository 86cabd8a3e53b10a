"""HTTP mode: Bolt's WSGI adapter behind waitress, a production WSGI server.

Routes: ``POST /slack/events`` (events, commands, interactivity) and ``GET /healthz``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from storage.db import Database

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything larger is not Slack

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_wsgi_app(bolt: App, db: Database) -> WSGIApp:
    slack = SlackRequestHandler(bolt, path=SLACK_PATH)

    def reply(start_response: Callable[..., Any], status: str, payload: dict[str, Any]) -> list[bytes]:
        body = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz":
            if method not in ("GET", "HEAD"):
                return reply(start_response, "405 Method Not Allowed", {"ok": False})
            try:
                db.ping()
            except Exception as error:  # the load balancer should stop sending us traffic
                log.warning("health check: database unreachable: %s", type(error).__name__)
                return reply(
                    start_response, "503 Service Unavailable", {"ok": False, "database": "unreachable"}
                )
            return reply(start_response, "200 OK", {"ok": True, "database": "ok"})
        if path == SLACK_PATH:
            if method != "POST":
                return reply(start_response, "405 Method Not Allowed", {"ok": False, "error": "POST only"})
            return slack(environ, start_response)
        return reply(start_response, "404 Not Found", {"ok": False, "error": "not found"})

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
