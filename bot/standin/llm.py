"""A fake OpenAI-compatible Chat Completions API on loopback, standing in for an LLM.

:class:`FakeLLM` runs a stdlib ``ThreadingHTTPServer`` on ``127.0.0.1`` (random port) so
tests, ``brickwork demo`` and the benchmarks can drive the real ``openai`` client without a
network, a key or a bill::

    with FakeLLM(models=["gpt-4o-mini"]) as llm:
        llm.respond_with(lambda body: {"suggestions": ["..."]})
        client = OpenAI(base_url=llm.url, api_key="sk-test", max_retries=0)

What it stands in for:

* ``POST /v1/chat/completions`` and ``GET /v1/models`` (``/v1/models/<id>`` too), with
  OpenAI's answer shapes and its error shape ``{"error": {"message", "type", "param",
  "code"}}``; a bearer token is required (any non-empty one);
* OpenAI's request validation: model, messages, roles, string content, ``response_format``
  (``text``, ``json_object`` -- which needs the word "JSON" in the messages -- and
  ``json_schema``, whose ``strict`` schemas must close every object with
  ``additionalProperties: false`` and require every property, as OpenAI insists);
* servers without structured output (``supports_json_schema=False``), and llama-cpp-python's server
  (``flavour="llama-cpp-python"``) as it answered us: ``json_schema`` refused with HTTP 500 and a
  pydantic message ("Input should be 'text' or 'json_object'"), ``json_object`` with an inline
  ``schema`` accepted, no "JSON" word required, one request at a time (``serial``) and a request
  whose client gave up still generating to the end, holding up the next one;
* ``max_tokens`` (an answer longer than it is cut, ``finish_reason: "length"``), a context window
  (``context_window``: prompt plus ``max_tokens`` over it is refused), servers that report no
  ``usage`` (``report_usage=False``);
* the bad days, on demand (:meth:`FakeLLM.fail_next`): rate limits with ``Retry-After``,
  outages, answers that are not JSON or break the schema, and slow answers that make the
  client time out; :attr:`FakeLLM.delay` makes every answer slow.

Answers come from a responder (:meth:`FakeLLM.respond_with`); token usage is a deterministic
estimate (:func:`estimate_tokens`). Every request is recorded as an :class:`LLMCall`
(the Authorization header never is); tests poll with :meth:`FakeLLM.wait_for`.

Nothing happens at import time; each ``FakeLLM`` owns all of its state.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from bot.standin.loopback import LoopbackService

DEFAULT_MODEL = "gpt-4o-mini"
VALID_ROLES = ("system", "user", "assistant", "developer", "tool")
SCHEMA_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
INVALID_JSON_CONTENT = "Sure! Here is your coaching:"
TOKENS_PER_MESSAGE = 4
CHARS_PER_TOKEN = 4

Responder = Callable[[dict[str, Any]], str | dict[str, Any]]
Flavour = Literal["openai", "llama-cpp-python"]
LLAMA_FORMAT_REFUSAL = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}"
)

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}
_ERROR_MESSAGES = {
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
}


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate: ``ceil(len(text) / 4)`` (0 for empty text).

    Close enough to a real tokenizer for English to make usage figures plausible, and
    stable, so tests and benchmarks can assert exact numbers.
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class LLMCall:
    """One request the fake answered.

    ``body`` is the parsed JSON request (``{}`` for a GET or an unparsable body); ``response``
    the parsed JSON answer (None only in calls built by hand). ``at`` is
    ``time.monotonic()`` when the request arrived; the call is recorded once answered.
    """

    body: dict[str, Any]
    status: int
    response: dict[str, Any] | None
    at: float
    path: str = "/v1/chat/completions"
    method: str = "POST"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's ``messages`` (empty when absent or malformed)."""
        messages = self.body.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    @property
    def content(self) -> str | None:
        """The assistant's answer text, or None for an error or a non-completion call."""
        if self.response is None:
            return None
        try:
            value = self.response["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            return None
        return value if isinstance(value, str) else None

    def summary(self) -> str:
        line = f"{self.method} {self.path} [{self.status}]"
        if self.body.get("model"):
            line += f" model={self.body['model']}"
        if not self.ok and self.response is not None:
            error = self.response.get("error") or {}
            line += f" {error.get('code') or error.get('type')}: {error.get('message')}"
        elif self.content is not None:
            text = self.content
            line += " " + json.dumps(text if len(text) <= 80 else text[:77] + "...")
        return line


class LLMApiFailure(Exception):
    """Raised while handling a request to answer with OpenAI's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.error_type = error_type or _ERROR_TYPES.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass(frozen=True)
class _Failure:
    status: int | None
    retry_after: float | None
    content: str | None
    delay: float


@dataclass
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class FakeLLM(LoopbackService):
    """A fake OpenAI-compatible Chat Completions server on loopback.

    Use as a context manager (``with FakeLLM() as llm: ...``) or call :meth:`start` /
    :meth:`stop`. ``models`` restricts the accepted model names (default: any name, and
    ``GET /v1/models`` lists :data:`DEFAULT_MODEL`). ``supports_json_schema=False`` answers
    ``response_format: json_schema`` with a 400, like OpenAI-compatible servers without
    structured output. ``delay`` (seconds, settable at any time) slows every answer down.

    Usage is estimated, not tokenized: ``prompt_tokens`` is the sum of
    ``ceil(len(content) / 4)`` over all message contents plus 4 per message;
    ``completion_tokens`` is ``ceil(len(answer) / 4)`` (see :func:`estimate_tokens`).
    """

    name = "fake-llm"

    def __init__(
        self,
        models: Iterable[str] | None = None,
        *,
        supports_json_schema: bool = True,
        delay: float = 0.0,
        flavour: Flavour = "openai",
        serial: bool | None = None,
        report_usage: bool = True,
        context_window: int | None = None,
    ) -> None:
        self.models: tuple[str, ...] | None = tuple(models) if models is not None else None
        self.flavour: Flavour = flavour
        self.supports_json_schema = supports_json_schema and flavour == "openai"
        self.delay = delay
        # llama.cpp serves one request at a time by default, and finishes what it started.
        self.serial = flavour == "llama-cpp-python" if serial is None else serial
        self.report_usage = report_usage
        self.context_window = context_window
        self._busy = threading.Lock()
        self._lock = threading.RLock()
        self._answered = threading.Condition(self._lock)  # notified whenever a call is recorded
        self._calls: list[LLMCall] = []
        self._failures: deque[_Failure] = deque()
        self._responder: Responder | None = None
        self._counter = itertools.count(1)
        self._stopping = threading.Event()
        super().__init__()
        self._created = int(time.time())

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeLLM:
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        """Stop serving; requests still sleeping in a delay are woken up."""
        self._stopping.set()
        super().stop()

    @property
    def url(self) -> str:
        """Base URL for ``OpenAI(base_url=...)``, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"{self.root_url}/v1"

    # ------------------------------------------------------------------ behaviour

    def respond_with(self, responder: Responder | None) -> None:
        """Set how completions are answered: ``responder(request_body) -> str | dict``.

        A dict is JSON-dumped into the message content, a str is used as is. None restores
        the default answer ``"{}"``. A responder that raises makes the fake answer 500.
        """
        with self._lock:
            self._responder = responder

    def fail_next(
        self,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        invalid_json: bool = False,
        content: str | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` valid chat completion requests misbehave, in order.

        Give one of: ``status`` (429 answers ``rate_limit_error``, with ``Retry-After:
        retry_after`` when given; 5xx answer ``server_error``; other 4xx the matching error
        type), ``invalid_json`` (200 with prose instead of JSON), ``content`` (200 with exactly
        that content, e.g. JSON that breaks the schema) -- and/or ``delay`` (sleep that many
        seconds first, on top of :attr:`delay`; use it with a client timeout). Failures queue
        up across calls and are taken by requests that pass authentication and validation.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        chosen = sum((status is not None, invalid_json, content is not None))
        if chosen > 1:
            raise ValueError("give only one of status, invalid_json and content")
        if chosen == 0 and delay <= 0:
            raise ValueError("give status, invalid_json, content or a positive delay")
        if status is not None and not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if retry_after is not None and status != 429:
            raise ValueError("retry_after only goes with status=429")
        failure = _Failure(
            status=status,
            retry_after=retry_after,
            content=INVALID_JSON_CONTENT if invalid_json else content,
            delay=max(0.0, delay),
        )
        with self._lock:
            self._failures.extend([failure] * times)

    def pending_failures(self) -> int:
        """How many injected failures have not been used yet."""
        with self._lock:
            return len(self._failures)

    # ------------------------------------------------------------------ calls

    @property
    def calls(self) -> list[LLMCall]:
        """Every request answered so far (a copy), oldest first."""
        with self._lock:
            return list(self._calls)

    def calls_to_completions(self) -> list[LLMCall]:
        """Requests to ``POST /v1/chat/completions``, answered or refused, oldest first."""
        with self._lock:
            return [c for c in self._calls if c.path == "/v1/chat/completions" and c.method == "POST"]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def wait_for(
        self,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[LLMCall], bool] | None = None,
    ) -> list[LLMCall]:
        """Poll until at least ``count`` chat completion calls (matching ``where``) were answered.

        The app calls the LLM after acknowledging Slack, so tests must poll. Returns all
        matching calls; raises ``AssertionError`` with a summary of the calls seen on timeout.
        """
        deadline = time.monotonic() + timeout
        with self._answered:
            while True:
                matching = [c for c in self.calls_to_completions() if where is None or where(c)]
                if len(matching) >= count:
                    return matching
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._answered.wait(left)
        all_calls = self.calls
        lines = [
            f"expected at least {count} chat completion call(s)"
            + (" matching the `where` filter" if where is not None else "")
            + f" within {timeout}s; saw {len(matching)} matching, {len(all_calls)} in total."
        ]
        if all_calls:
            lines.append("Calls seen (oldest first, last 25):")
            lines.extend(f"  {i}. {c.summary()}" for i, c in enumerate(all_calls[-25:], 1))
        else:
            lines.append("No calls were made to the fake LLM at all.")
        raise AssertionError("\n".join(lines))

    # ------------------------------------------------------------------ HTTP plumbing

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        arrived = time.monotonic()
        path = unquote(urlsplit(handler.path).path).rstrip("/") or "/"
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
        body: dict[str, Any] = {}
        try:
            if raw:
                body = _parse_json_body(raw)
            reply = self._dispatch(method, path, body, handler.headers.get("Authorization"))
        except LLMApiFailure as exc:
            reply = _Reply(exc.status, exc.body(), {})
        except Exception as exc:  # a bug in a responder must not hang the client
            failure = LLMApiFailure(500, f"FakeLLM failed: {type(exc).__name__}: {exc}")
            reply = _Reply(500, failure.body(), {})
        with self._lock:
            self._calls.append(LLMCall(body, reply.status, reply.body, arrived, path, method))
            self._answered.notify_all()
        payload = json.dumps(reply.body).encode()
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.send_header("x-request-id", f"req_{secrets.token_hex(12)}")
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True  # the client gave up (timeout) or the fake stopped

    def _dispatch(self, method: str, path: str, body: dict[str, Any], authorization: str | None) -> _Reply:
        routes = ("/v1/chat/completions", "/v1/models")
        known = path in routes or path.startswith("/v1/models/")
        if not known:
            raise LLMApiFailure(404, f"Invalid URL ({method} {path})")
        _check_auth(authorization)
        if path == "/v1/chat/completions":
            if method != "POST":
                raise LLMApiFailure(405, f"Invalid method for URL ({method} {path})")
            return self._chat_completions(body)
        if method != "GET":
            raise LLMApiFailure(405, f"Invalid method for URL ({method} {path})")
        if path == "/v1/models":
            return _Reply(200, {"object": "list", "data": [self._model_json(m) for m in self._listed()]}, {})
        model = path.removeprefix("/v1/models/")
        if self.models is not None and model not in self.models:
            raise LLMApiFailure(404, _unknown_model(model), param="model", code="model_not_found")
        return _Reply(200, self._model_json(model), {})

    def _listed(self) -> tuple[str, ...]:
        return self.models if self.models is not None else (DEFAULT_MODEL,)

    def _model_json(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": self._created, "owned_by": "brickwork-fake"}

    def _chat_completions(self, body: dict[str, Any]) -> _Reply:
        self._validate(body)
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
            responder = self._responder
        if not self.serial:
            return self._generate(body, failure, responder)
        with self._busy:  # held to the end even when the client has gone: the server is busy
            return self._generate(body, failure, responder)

    def _generate(
        self, body: dict[str, Any], failure: _Failure | None, responder: Responder | None
    ) -> _Reply:
        self._sleep(self.delay + (failure.delay if failure else 0.0))
        if failure is not None and failure.status is not None:
            message = _ERROR_MESSAGES.get(failure.status, f"Injected failure (HTTP {failure.status}).")
            code = "rate_limit_exceeded" if failure.status == 429 else None
            error = LLMApiFailure(failure.status, message, code=code)
            headers = {}
            if failure.retry_after is not None:
                value = failure.retry_after
                headers["Retry-After"] = str(int(value)) if float(value).is_integer() else str(value)
            return _Reply(failure.status, error.body(), headers)
        if failure is not None and failure.content is not None:
            content = failure.content
        elif responder is None:
            content = "{}"
        else:
            answer = responder(body)
            if isinstance(answer, dict):
                content = json.dumps(answer)
            elif isinstance(answer, str):
                content = answer
            else:
                raise TypeError(f"responder must return str or dict, not {type(answer).__name__}")
        return _Reply(200, self._completion_json(body, content), {})

    def _sleep(self, seconds: float) -> None:
        """Sleep without holding a lock; :meth:`stop` cuts the sleep short."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def _completion_json(self, body: dict[str, Any], content: str) -> dict[str, Any]:
        prompt_tokens = _prompt_tokens(body)
        finish_reason = "stop"
        limit = body.get("max_tokens", body.get("max_completion_tokens"))
        if isinstance(limit, int) and estimate_tokens(content) > limit:
            content, finish_reason = content[: limit * CHARS_PER_TOKEN], "length"
        completion_tokens = estimate_tokens(content)
        answer = {
            "id": f"chatcmpl-fake{next(self._counter):06d}{secrets.token_hex(6)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_brickwork_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
        }
        if self.report_usage:
            answer["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        return answer

    # ------------------------------------------------------------------ validation

    def _validate(self, body: dict[str, Any]) -> None:
        """Refuse what OpenAI refuses, with its messages, params and codes."""
        model = body.get("model")
        if model is None or model == "":
            raise LLMApiFailure(400, "you must provide a model parameter", param="model")
        if not isinstance(model, str):
            raise _invalid_type("model", "a string", model)
        if self.models is not None and model not in self.models:
            raise LLMApiFailure(400, _unknown_model(model), param="model", code="model_not_found")
        if body.get("stream"):
            raise LLMApiFailure(
                400, "stream is not supported by this server", param="stream", code="unsupported_parameter"
            )
        _validate_messages(body.get("messages"))
        for param in ("max_tokens", "max_completion_tokens"):
            limit = body.get(param)
            if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
                raise _invalid_type(param, "an integer", limit)
            if isinstance(limit, int) and limit < 1:
                raise LLMApiFailure(
                    400,
                    f"Invalid '{param}': integer below minimum value. Expected a value >= 1, but got "
                    f"{limit} instead.",
                    param=param,
                    code="integer_below_min_value",
                )
        self._validate_response_format(body)
        if self.context_window is not None:
            wanted = _prompt_tokens(body) + int(body.get("max_tokens") or 0)
            if wanted > self.context_window:
                raise LLMApiFailure(
                    400, f"Requested tokens ({wanted}) exceed context window of {self.context_window}"
                )

    def _validate_response_format(self, body: dict[str, Any]) -> None:
        response_format = body.get("response_format")
        if response_format is None:
            return
        if not isinstance(response_format, dict):
            raise _invalid_type("response_format", "an object", response_format)
        kind = response_format.get("type")
        if self.flavour == "llama-cpp-python":
            if kind not in ("text", "json_object"):  # what llama-cpp-python's server answered us
                raise LLMApiFailure(500, LLAMA_FORMAT_REFUSAL, error_type="internal_server_error")
            return  # json_object takes an inline "schema" there, and needs no "JSON" in the prompt
        if "schema" in response_format:
            raise LLMApiFailure(
                400,
                "Unknown parameter: 'response_format.schema'.",
                param="response_format.schema",
                code="unknown_parameter",
            )
        if kind is None:
            raise _missing("response_format.type")
        if kind not in ("text", "json_object", "json_schema"):
            raise LLMApiFailure(
                400,
                f"Invalid value: {_repr(kind)}."
                " Supported values are: 'text', 'json_object', and 'json_schema'.",
                param="response_format.type",
                code="invalid_value",
            )
        if kind == "json_object":
            texts = [m.get("content") or "" for m in body["messages"]]
            if not any("json" in text.lower() for text in texts):
                raise LLMApiFailure(
                    400,
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type"
                    " 'json_object'.",
                    param="messages",
                )
        if kind != "json_schema":
            return
        if not self.supports_json_schema:
            raise LLMApiFailure(
                400,
                "response_format json_schema is not supported by this server",
                param="response_format",
                code="unsupported_parameter",
            )
        _validate_json_schema_format(response_format.get("json_schema"))


# ---------------------------------------------------------------------- helpers


def _prompt_tokens(body: dict[str, Any]) -> int:
    return sum(estimate_tokens(m.get("content") or "") + TOKENS_PER_MESSAGE for m in body["messages"])


def _parse_json_body(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LLMApiFailure(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using"
            " your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not"
            " valid JSON.)",
        ) from exc
    if not isinstance(parsed, dict):
        raise LLMApiFailure(400, "The request body must be a JSON object.")
    return parsed


def _check_auth(authorization: str | None) -> None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise LLMApiFailure(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header"
            " using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )


def _validate_messages(messages: Any) -> None:
    if messages is None:
        raise _missing("messages")
    if not isinstance(messages, list):
        raise _invalid_type("messages", "an array of objects", messages)
    if not messages:
        raise LLMApiFailure(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty"
            " array instead.",
            param="messages",
            code="empty_array",
        )
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _invalid_type(where, "an object", message)
        role = message.get("role")
        if role is None:
            raise _missing(f"{where}.role")
        if role not in VALID_ROLES:
            supported = ", ".join(f"'{r}'" for r in VALID_ROLES[:-1]) + f", and '{VALID_ROLES[-1]}'"
            raise LLMApiFailure(
                400,
                f"Invalid value: {_repr(role)}. Supported values are: {supported}.",
                param=f"{where}.role",
                code="invalid_value",
            )
        if "content" not in message:
            raise _missing(f"{where}.content")
        if not isinstance(message["content"], str):
            raise _invalid_type(f"{where}.content", "a string", message["content"])


def _validate_json_schema_format(spec: Any) -> None:
    if spec is None:
        raise _missing("response_format.json_schema")
    if not isinstance(spec, dict):
        raise _invalid_type("response_format.json_schema", "an object", spec)
    name = spec.get("name")
    if name is None:
        raise _missing("response_format.json_schema.name")
    if not isinstance(name, str) or not SCHEMA_NAME_PATTERN.match(name):
        raise LLMApiFailure(
            400,
            "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string"
            " that matches the pattern '^[a-zA-Z0-9_-]+$' (at most 64 characters).",
            param="response_format.json_schema.name",
            code="invalid_value",
        )
    schema = spec.get("schema")
    if schema is None:
        raise _missing("response_format.json_schema.schema")
    if not isinstance(schema, dict):
        raise _invalid_type("response_format.json_schema.schema", "an object", schema)
    strict = spec.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise _invalid_type("response_format.json_schema.strict", "a boolean", strict)
    if strict:
        problem = _strict_schema_problem(schema)
        if problem:
            raise LLMApiFailure(
                400,
                f"Invalid schema for response_format '{name}': {problem}",
                param="response_format",
                code="invalid_json_schema",
            )


def _strict_schema_problem(schema: dict[str, Any]) -> str | None:
    """What OpenAI's strict mode would reject in ``schema`` (the common cases), or None."""
    if schema.get("type") != "object":
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{schema.get('type')}\"'."
    return _strict_node_problem(schema, ())


def _strict_node_problem(node: Any, context: tuple[str, ...]) -> str | None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            problem = _strict_node_problem(item, (*context, str(i)))
            if problem:
                return problem
        return None
    if not isinstance(node, dict):
        return None
    kinds = node.get("type")
    is_object = kinds == "object" or (isinstance(kinds, list) and "object" in kinds) or "properties" in node
    where = f"In context=({', '.join(repr(c) for c in context)})"
    if is_object:
        if node.get("additionalProperties") is not False:
            return f"{where}, 'additionalProperties' is required to be supplied and to be false."
        properties = node.get("properties") or {}
        required = node.get("required")
        missing = [key for key in properties if not isinstance(required, list) or key not in required]
        if missing:
            return (
                f"{where}, 'required' is required to be supplied and to be an array including every key"
                f" in properties. Missing '{missing[0]}'."
            )
    for key in ("properties", "$defs", "definitions"):
        children = node.get(key)
        if isinstance(children, dict):
            for child_name, child in children.items():
                problem = _strict_node_problem(child, (*context, key, child_name))
                if problem:
                    return problem
    for key in ("items", "anyOf", "allOf"):
        if key in node:
            problem = _strict_node_problem(node[key], (*context, key))
            if problem:
                return problem
    return None


def _unknown_model(model: str) -> str:
    return f"The model `{model}` does not exist or you do not have access to it."


def _missing(param: str) -> LLMApiFailure:
    return LLMApiFailure(
        400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def _invalid_type(param: str, expected: str, value: Any) -> LLMApiFailure:
    return LLMApiFailure(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _repr(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)
