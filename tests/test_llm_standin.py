"""Tests of the LLM stand-in (bot.standin.llm), driven by the real ``openai`` client.

Everything goes over real loopback HTTP, so what passes here is what the app's coach sees:
the client's parsing of answers, its error classes and its timeout handling.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel, ConfigDict

from bot.standin.llm import FakeLLM, LLMCall, estimate_tokens

MODEL = "gpt-4o-mini"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "suggestions": {"type": "array", "items": {"type": "string"}},
        "focus": {"type": "string"},
    },
    "required": ["suggestions", "focus"],
    "additionalProperties": False,
}
JSON_SCHEMA_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "coaching_draft", "schema": SCHEMA, "strict": True},
}


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def client_for(fake: FakeLLM, **kwargs: Any) -> OpenAI:
    return OpenAI(base_url=fake.url, api_key="sk-test", max_retries=0, **kwargs)


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def raw_post(fake: FakeLLM, body: Any, authorization: str | None = "Bearer sk-test") -> tuple[int, Any]:
    """POST to /v1/chat/completions with stdlib urllib (no client-side checks in the way)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    request = urllib.request.Request(
        f"{fake.url}/chat/completions", data=data, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def assert_error_shape(body: Any) -> dict[str, Any]:
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    return error


# ---------------------------------------------------------------------- answers


def test_plain_answer_and_usage(llm: FakeLLM) -> None:
    llm.respond_with(lambda body: "Delegate the release checklist to Sam.")
    messages = [
        {"role": "system", "content": "You are a leadership coach."},
        user("Suggest one thing to delegate."),
    ]
    completion = client_for(llm).chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Delegate the release checklist to Sam."
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    expected_prompt = sum(estimate_tokens(m["content"]) + 4 for m in messages)
    assert completion.usage.prompt_tokens == expected_prompt == 7 + 4 + 8 + 4
    assert (
        completion.usage.completion_tokens == estimate_tokens("Delegate the release checklist to Sam.") == 10
    )
    assert completion.usage.total_tokens == expected_prompt + 10


def test_estimate_tokens_is_ceil_of_quarter_length() -> None:
    assert [estimate_tokens(t) for t in ("", "a", "abcd", "abcde")] == [0, 1, 1, 2]


def test_default_answer_is_empty_json_object_and_dict_answers_are_dumped(llm: FakeLLM) -> None:
    client = client_for(llm)
    first = client.chat.completions.create(model="anything-goes", messages=[user("hi")])
    assert first.choices[0].message.content == "{}"

    llm.respond_with(lambda body: {"echo": body["messages"][-1]["content"]})
    second = client.chat.completions.create(model=MODEL, messages=[user("ping")])
    assert json.loads(second.choices[0].message.content or "") == {"echo": "ping"}


def test_models_lists_configured_names() -> None:
    with FakeLLM(models=["coach-small", "coach-large"]) as fake:
        listed = [m.id for m in client_for(fake).models.list()]
    assert listed == ["coach-small", "coach-large"]


# ---------------------------------------------------------------------- response_format


def test_json_schema_is_accepted_and_content_returned(llm: FakeLLM) -> None:
    llm.respond_with(lambda body: {"suggestions": ["Ask for input first"], "focus": "inclusion"})
    completion = client_for(llm).chat.completions.create(
        model=MODEL,
        messages=[user("Draft coaching.")],
        response_format=JSON_SCHEMA_FORMAT,  # type: ignore[arg-type]
    )
    content = completion.choices[0].message.content or ""
    assert json.loads(content) == {"suggestions": ["Ask for input first"], "focus": "inclusion"}
    assert llm.calls[-1].body["response_format"] == JSON_SCHEMA_FORMAT


def test_structured_output_parse_helper_works(llm: FakeLLM) -> None:
    class Draft(BaseModel):
        model_config = ConfigDict(extra="forbid")
        suggestions: list[str]
        focus: str

    llm.respond_with(lambda body: {"suggestions": ["Delegate more"], "focus": "delegation"})
    completion = client_for(llm).chat.completions.parse(
        model=MODEL, messages=[user("Draft coaching.")], response_format=Draft
    )
    assert completion.choices[0].message.parsed == Draft(suggestions=["Delegate more"], focus="delegation")


def test_json_schema_refused_without_structured_output_support() -> None:
    with FakeLLM(supports_json_schema=False) as fake:
        client = client_for(fake)
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model=MODEL,
                messages=[user("Draft coaching as JSON.")],
                response_format=JSON_SCHEMA_FORMAT,  # type: ignore[arg-type]
            )
        assert caught.value.status_code == 400
        assert caught.value.code == "unsupported_parameter"
        assert "json_schema" in caught.value.message

        fallback = client.chat.completions.create(
            model=MODEL, messages=[user("Draft coaching as JSON.")], response_format={"type": "json_object"}
        )
        assert fallback.choices[0].message.content == "{}"


def test_json_object_needs_the_word_json(llm: FakeLLM) -> None:
    client = client_for(llm)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL, messages=[user("Draft coaching.")], response_format={"type": "json_object"}
        )
    assert "json" in caught.value.message
    assert caught.value.param == "messages"

    ok = client.chat.completions.create(
        model=MODEL, messages=[user("Answer in JSON.")], response_format={"type": "json_object"}
    )
    assert ok.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        ({"type": "xml"}, "response_format.type"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        ({"type": "json_schema", "json_schema": {"name": "bad name!", "schema": SCHEMA}}, None),
        ({"type": "json_schema", "json_schema": {"name": "x" * 65, "schema": SCHEMA}}, None),
        ({"type": "json_schema", "json_schema": {"name": "draft", "schema": "{}"}}, None),
        ({"type": "json_schema", "json_schema": {"name": "draft", "schema": SCHEMA, "strict": "yes"}}, None),
        (
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "draft",
                    "strict": True,
                    "schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                },
            },
            "response_format",
        ),
    ],
)
def test_bad_response_format_is_refused(
    llm: FakeLLM, response_format: dict[str, Any], param: str | None
) -> None:
    status, body = raw_post(
        llm, {"model": MODEL, "messages": [user("JSON please")], "response_format": response_format}
    )
    assert status == 400
    error = assert_error_shape(body)
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param


# ---------------------------------------------------------------------- validation and auth


def test_missing_or_empty_key_is_401() -> None:
    with FakeLLM() as fake:
        for authorization in (None, "Bearer ", "Basic abc"):
            status, body = raw_post(fake, {"model": MODEL, "messages": [user("hi")]}, authorization)
            assert status == 401
            assert assert_error_shape(body)["type"] == "invalid_request_error"
        with pytest.raises(openai.AuthenticationError):
            client_for(fake, default_headers={"Authorization": ""}).chat.completions.create(
                model=MODEL, messages=[user("hi")]
            )
        assert all("authorization" not in json.dumps(c.body).lower() for c in fake.calls)


def test_unknown_model_refused_when_models_given() -> None:
    with FakeLLM(models=[MODEL]) as fake:
        with pytest.raises(openai.BadRequestError) as caught:
            client_for(fake).chat.completions.create(model="gpt-nope", messages=[user("hi")])
        assert caught.value.code == "model_not_found"
        assert "gpt-nope" in caught.value.message


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [user("hi")]}, "model"),
        ({"model": "", "messages": [user("hi")]}, "model"),
        ({"model": MODEL}, "messages"),
        ({"model": MODEL, "messages": []}, "messages"),
        ({"model": MODEL, "messages": "hi"}, "messages"),
        ({"model": MODEL, "messages": ["hi"]}, "messages[0]"),
        ({"model": MODEL, "messages": [{"content": "hi"}]}, "messages[0].role"),
        ({"model": MODEL, "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"model": MODEL, "messages": [user("hi"), {"role": "user", "content": 42}]}, "messages[1].content"),
        ({"model": MODEL, "messages": [{"role": "user"}]}, "messages[0].content"),
    ],
)
def test_malformed_requests_are_400(llm: FakeLLM, body: dict[str, Any], param: str) -> None:
    status, answer = raw_post(llm, body)
    assert status == 400
    error = assert_error_shape(answer)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


def test_malformed_messages_through_openai_raise_bad_request(llm: FakeLLM) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client_for(llm).chat.completions.create(model=MODEL, messages=[{"role": "boss", "content": "hi"}])  # type: ignore[list-item]
    assert caught.value.param == "messages[0].role"


def test_unparsable_body_is_400(llm: FakeLLM) -> None:
    status, answer = raw_post(llm, b"{not json")
    assert status == 400
    assert_error_shape(answer)


# ---------------------------------------------------------------------- failure injection


def test_rate_limit_with_retry_after(llm: FakeLLM) -> None:
    llm.fail_next(status=429, retry_after=1)
    client = client_for(llm)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.with_raw_response.create(model=MODEL, messages=[user("hi")])
    assert caught.value.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"
    assert caught.value.type == "rate_limit_error"

    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=[user("hi")])
    assert raw.status_code == 200 and "retry-after" not in raw.headers


def test_server_errors_and_times(llm: FakeLLM) -> None:
    llm.fail_next(status=500)
    llm.fail_next(status=503, times=2)
    client = client_for(llm)
    for _ in range(3):
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model=MODEL, messages=[user("hi")])
        assert caught.value.type == "server_error"
    assert [c.status for c in llm.calls_to_completions()] == [500, 503, 503]
    assert (
        client.chat.completions.create(model=MODEL, messages=[user("hi")]).choices[0].message.content == "{}"
    )


def test_invalid_json_and_exact_content_failures(llm: FakeLLM) -> None:
    llm.respond_with(lambda body: {"suggestions": [], "focus": "x"})
    llm.fail_next(invalid_json=True)
    llm.fail_next(content='{"suggestions": "not a list"}')
    client = client_for(llm)
    answers = [
        client.chat.completions.create(
            model=MODEL,
            messages=[user("JSON")],
            response_format=JSON_SCHEMA_FORMAT,  # type: ignore[arg-type]
        )
        .choices[0]
        .message.content
        for _ in range(3)
    ]
    with pytest.raises(json.JSONDecodeError):
        json.loads(answers[0] or "")
    assert answers[1] == '{"suggestions": "not a list"}'
    assert json.loads(answers[2] or "") == {"suggestions": [], "focus": "x"}


def test_fail_next_rejects_nonsense(llm: FakeLLM) -> None:
    with pytest.raises(ValueError):
        llm.fail_next()
    with pytest.raises(ValueError):
        llm.fail_next(status=500, content="x")
    with pytest.raises(ValueError):
        llm.fail_next(status=200)
    assert llm.pending_failures() == 0


def test_delay_triggers_client_timeout_without_blocking_others() -> None:
    started = time.monotonic()
    with FakeLLM() as fake:
        fake.fail_next(delay=30)
        with pytest.raises(openai.APITimeoutError):
            client_for(fake, timeout=0.5).chat.completions.create(model=MODEL, messages=[user("slow")])
        assert time.monotonic() - started < 3
        # The sleeping handler holds no lock: the next request is answered at once.
        quick = client_for(fake, timeout=2).chat.completions.create(model=MODEL, messages=[user("fast")])
        assert quick.choices[0].message.content == "{}"
    # __exit__ woke the sleeper instead of waiting 30 seconds.
    assert time.monotonic() - started < 5


def test_global_delay_slows_every_answer(llm: FakeLLM) -> None:
    llm.delay = 0.3
    client = client_for(llm)
    results: list[float] = []

    def ask() -> None:
        begin = time.monotonic()
        client.chat.completions.create(model=MODEL, messages=[user("hi")])
        results.append(time.monotonic() - begin)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    begin = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert len(results) == 3 and all(r >= 0.3 for r in results)
    assert time.monotonic() - begin < 0.9  # served concurrently, not one after another


def test_responder_error_is_a_500(llm: FakeLLM) -> None:
    def broken(body: dict[str, Any]) -> str:
        raise RuntimeError("boom")

    llm.respond_with(broken)
    with pytest.raises(openai.InternalServerError) as caught:
        client_for(llm).chat.completions.create(model=MODEL, messages=[user("hi")])
    assert "boom" in caught.value.message


# ---------------------------------------------------------------------- recording


def test_calls_are_recorded(llm: FakeLLM) -> None:
    llm.respond_with(lambda body: "noted")
    client = client_for(llm)
    before = time.monotonic()
    client.chat.completions.create(model=MODEL, messages=[user("first")], temperature=0.2)
    client.models.list()
    llm.fail_next(status=429)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=MODEL, messages=[user("second")])

    calls = llm.calls
    assert [(c.method, c.path, c.status) for c in calls] == [
        ("POST", "/v1/chat/completions", 200),
        ("GET", "/v1/models", 200),
        ("POST", "/v1/chat/completions", 429),
    ]
    first, _, limited = calls
    assert isinstance(first, LLMCall)
    assert first.body == {"model": MODEL, "messages": [user("first")], "temperature": 0.2}
    assert first.messages == [user("first")]
    assert first.content == "noted" and first.ok
    assert first.response is not None and first.response["usage"]["completion_tokens"] == 2
    assert before <= first.at <= limited.at
    assert limited.content is None and not limited.ok
    assert limited.response is not None and limited.response["error"]["type"] == "rate_limit_error"
    assert len(llm.calls_to_completions()) == 2
    assert "sk-test" not in repr(calls)

    llm.reset_calls()
    assert llm.calls == []


def test_wait_for_polls_and_explains_timeouts(llm: FakeLLM) -> None:
    client = client_for(llm)
    worker = threading.Thread(
        target=lambda: (
            time.sleep(0.1),
            client.chat.completions.create(model=MODEL, messages=[user("later")]),
        )
    )
    worker.start()
    found = llm.wait_for(1, timeout=3)
    worker.join(timeout=5)
    assert found[0].messages == [user("later")]

    with pytest.raises(AssertionError) as caught:
        llm.wait_for(2, timeout=0.1, where=lambda c: c.ok)
    assert "expected at least 2 chat completion call(s)" in str(caught.value)
    assert "POST /v1/chat/completions [200]" in str(caught.value)
