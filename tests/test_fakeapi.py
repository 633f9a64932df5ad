"""The fake Messages API, driven by the real anthropic SDK over loopback HTTP."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic import beta_tool
from anthropic.types import TextBlock, ToolUseBlock

from harness.fakeapi import (
    THREAD_UNSUPPORTED,
    Error,
    FakeMessagesAPI,
    Reply,
    error,
    load_script,
    main,
    reply,
    text,
    tool_use,
)

MODEL = "claude-sonnet-5-5"
WRITE_TOOL: dict[str, Any] = {
    "name": "write",
    "description": "Write a file.",
    "input_schema": {
        "type": "object",
        "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
        "required": ["path", "content"],
    },
}


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture(scope="module")
def http_client() -> Iterator[anthropic.DefaultHttpxClient]:
    # Building the SDK's default HTTP client loads the CA bundle (~50 ms); one for the module keeps it fast.
    with anthropic.DefaultHttpxClient() as shared:
        yield shared


@pytest.fixture
def client(api: FakeMessagesAPI, http_client: anthropic.DefaultHttpxClient) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=api.base_url, api_key="test-key", max_retries=2, http_client=http_client)


def create(client: anthropic.Anthropic, messages: list[dict[str, Any]], **kwargs: Any) -> anthropic.types.Message:
    return client.messages.create(model=MODEL, max_tokens=256, messages=messages, **kwargs)  # type: ignore[arg-type]


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def tool_result(block: dict[str, Any], content: str = "ok") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": block["id"], "content": content}


# ----------------------------------------------------------------------------------------------------
# Replies


def test_text_reply_round_trip(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(reply(text("Hello there.")))

    message = create(client, [user("Hi")])

    assert message.id.startswith("msg_fake_")
    assert message.model == MODEL
    assert message.stop_reason == "end_turn"
    assert message.content == [TextBlock(type="text", text="Hello there.", citations=None)]
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.cache_read_input_tokens == 0
    assert len(api.requests) == 1
    recorded = api.requests[0]
    assert recorded.path.startswith("/v1/messages")
    assert "test-key" in (recorded.headers.get("x-api-key", "") + recorded.headers.get("authorization", ""))
    assert recorded.body["messages"] == [user("Hi")]
    assert api.served == 1
    assert api.remaining == 0
    assert api.problems == []


def test_usage_override(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(reply(text("x"), usage={"input_tokens": 10, "output_tokens": 5}, stop_reason="max_tokens"))

    message = create(client, [user("Hi")])

    assert (message.usage.input_tokens, message.usage.output_tokens) == (10, 5)
    assert message.stop_reason == "max_tokens"


def test_tool_use_reply_is_a_tool_use_block(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    call = tool_use("write", {"path": "a.py"}, content="x = 1\n")
    api.add(reply(text("Writing."), call))

    message = create(client, [user("Write a.py")], tools=[WRITE_TOOL])

    assert message.stop_reason == "tool_use"
    block = message.content[1]
    assert isinstance(block, ToolUseBlock)
    assert block.id == call["id"]
    assert block.id.startswith("toolu_fake_")
    assert block.name == "write"
    assert block.input == {"path": "a.py", "content": "x = 1\n"}


def test_tool_ids_are_unique() -> None:
    assert tool_use("a")["id"] != tool_use("a")["id"]


def test_tool_loop_with_results_is_accepted(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    call = tool_use("write", path="a.py", content="x")
    api.add(reply(call), reply(text("Done.")))
    history = [user("Write a.py")]

    first = create(client, history, tools=[WRITE_TOOL])
    history += [
        assistant([b.model_dump(exclude_none=True) for b in first.content]),
        user([tool_result(call)]),
    ]
    second = create(client, history, tools=[WRITE_TOOL])

    assert second.content[0].type == "text"
    assert api.problems == []
    assert api.requests[1].body["messages"][2]["content"][0]["tool_use_id"] == call["id"]


def test_streaming_reply_accumulates_to_the_same_message(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    call = tool_use("write", path="a.py", content="x")
    api.add(reply(text("Writing."), call))

    with client.messages.stream(
        model=MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": "go"}],
        tools=[WRITE_TOOL],  # type: ignore[list-item]
    ) as stream:
        final = stream.get_final_message()

    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "text" and final.content[0].text == "Writing."
    assert isinstance(final.content[1], ToolUseBlock)
    assert final.content[1].input == {"path": "a.py", "content": "x"}
    assert final.usage.output_tokens > 1


def test_callable_step_sees_the_request(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(lambda body: reply(text(f"you said {body['messages'][-1]['content']}")))

    message = create(client, [user("ping")])

    assert message.content[0].type == "text" and message.content[0].text == "you said ping"


def test_count_tokens(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "x" * 400}])

    assert counted.input_tokens >= 100
    assert api.requests == []


# ----------------------------------------------------------------------------------------------------
# Validation


def test_missing_tool_result_is_a_bad_request(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    call = tool_use("write", path="a.py", content="x")
    api.add(reply(text("unused")))

    with pytest.raises(anthropic.BadRequestError) as raised:
        create(client, [user("go"), assistant([call]), user("what now?")], tools=[WRITE_TOOL])

    assert "tool_use ids were found without tool_result blocks immediately after" in str(raised.value)
    assert len(api.problems) == 1
    assert (
        f"messages.1: tool_use ids were found without tool_result blocks immediately after: {call['id']}"
        in (api.problems[0])
    )
    assert api.remaining == 1, "an invalid request does not consume a step"
    assert len(api.requests) == 1, "a 400 is not retried"


def test_tool_result_after_text_does_not_answer(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    call = tool_use("write", path="a.py", content="x")
    messages = [user("go"), assistant([call]), user([text("here you go"), tool_result(call)])]

    with pytest.raises(anthropic.BadRequestError):
        create(client, messages, tools=[WRITE_TOOL])

    assert "without tool_result blocks immediately after" in api.problems[0]


def test_unexpected_tool_result_is_rejected(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        create(client, [user([tool_result({"id": "toolu_nope"})])], tools=[WRITE_TOOL])

    assert "unexpected tool_use_id found in tool_result blocks: toolu_nope" in api.problems[0]


def test_trailing_assistant_tool_use_is_rejected(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        create(client, [user("go"), assistant([tool_use("write")])], tools=[WRITE_TOOL])

    assert "messages.1: tool_use ids were found without tool_result blocks" in api.problems[0]


def test_assistant_prefill_is_accepted(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(reply(text("B)")))

    create(client, [user("Pick (A) or (B)"), assistant("The answer is (")])

    assert api.problems == []


def test_consecutive_same_role_messages_are_rejected(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        create(client, [user("one"), user("two")])

    assert 'found multiple "user" roles in a row' in raised.value.message
    assert api.problems and "roles must alternate" in api.problems[0]


@pytest.mark.parametrize(
    ("messages", "kwargs", "expected"),
    [
        ([assistant("hi")], {}, 'first message must use the "user" role'),
        ([], {}, "at least one message is required"),
        ([{"role": "system", "content": "x"}], {}, "messages.0.role"),
        ([user([text("")])], {}, "text content blocks must be non-empty"),
        ([user("x")], {"tools": [{"name": "t"}]}, "tools.0.custom.input_schema: Field required"),
        ([user("x")], {"tools": [WRITE_TOOL, WRITE_TOOL]}, "Tool names must be unique"),
        ([user("x")], {"tools": [{"input_schema": {"type": "object"}}]}, "tools.0.name: Field required"),
        (
            [user("go"), assistant([tool_use("write")]), user([{"type": "tool_result", "tool_use_id": "x"}])],
            {},
            "must define tools",
        ),
        ([user("x"), assistant("prefill ")], {}, "trailing whitespace"),
    ],
)
def test_invalid_requests_are_rejected(
    api: FakeMessagesAPI,
    client: anthropic.Anthropic,
    messages: list[Any],
    kwargs: dict[str, Any],
    expected: str,
) -> None:
    with pytest.raises(anthropic.BadRequestError):
        create(client, messages, **kwargs)

    assert len(api.problems) == 1
    assert expected in api.problems[0]


def test_more_than_four_cache_breakpoints_are_rejected(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    marked = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}

    with pytest.raises(anthropic.BadRequestError):
        create(client, [user([marked] * 5)])

    assert "A maximum of 4 blocks with cache_control may be provided. Found 5." in api.problems[0]


def test_thread_field_is_rejected(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(reply(text("unused")))

    with pytest.raises(anthropic.BadRequestError) as raised:
        create(client, [user("hi")], extra_body={"thread": {"type": "create"}})

    assert THREAD_UNSUPPORTED in raised.value.message
    assert api.problems == [THREAD_UNSUPPORTED]
    assert api.remaining == 1


def test_thread_false_is_accepted(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(reply(text("ok")))

    create(client, [user("hi")], extra_body={"thread": False})

    assert api.problems == []


def test_raw_protocol_errors(api: FakeMessagesAPI) -> None:
    host, port = api.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        headers = {"Content-Type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01"}
        connection.request("POST", "/v1/messages", body=b"{not json", headers=headers)
        response = connection.getresponse()
        payload = json.loads(response.read())
        assert response.status == 400
        assert payload["error"]["type"] == "invalid_request_error"
        assert response.getheader("request-id")

        # Same keep-alive connection from here on.
        body = json.dumps({"model": MODEL, "max_tokens": 5, "messages": [user("hi")]}).encode()
        connection.request("POST", "/v1/messages", body=body, headers={"anthropic-version": "2023-06-01"})
        response = connection.getresponse()
        assert response.status == 401
        assert json.loads(response.read())["error"]["type"] == "authentication_error"

        connection.request("POST", "/v1/messages", body=body, headers={"x-api-key": "k"})
        response = connection.getresponse()
        assert response.status == 400
        assert "anthropic-version" in json.loads(response.read())["error"]["message"]

        connection.request("GET", "/v1/models")
        response = connection.getresponse()
        assert response.status == 404
        assert json.loads(response.read())["error"]["type"] == "not_found_error"
    finally:
        connection.close()
    assert len(api.requests) == 3
    assert len(api.problems) == 4


# ----------------------------------------------------------------------------------------------------
# Errors and retries


@pytest.mark.parametrize(
    ("step", "status"),
    [
        (error(429, headers={"retry-after": "0"}), 429),
        (error(529), 529),
        (error(500), 500),
    ],
)
def test_sdk_retries_a_scripted_error(
    api: FakeMessagesAPI,
    client: anthropic.Anthropic,
    monkeypatch: pytest.MonkeyPatch,
    step: Error,
    status: int,
) -> None:
    api.add(step, reply(text("recovered")))
    waits: list[float] = []
    calculate = client._calculate_retry_timeout

    def spy(*args: Any, **kwargs: Any) -> float:
        waits.append(calculate(*args, **kwargs))
        return waits[-1]

    monkeypatch.setattr(client, "_calculate_retry_timeout", spy)

    message = create(client, [user("hi")])

    assert waits == [0.001], "the fake's default retry-after-ms keeps the SDK's backoff (0.5 s+) out of tests"
    assert message.content[0].type == "text" and message.content[0].text == "recovered"
    assert len(api.requests) == 2
    assert api.requests[0].headers["x-stainless-retry-count"] == "0"
    assert api.requests[1].headers["x-stainless-retry-count"] == "1"
    assert api.requests[0].body == api.requests[1].body
    assert api.problems == []


def test_a_positive_retry_after_is_left_alone(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(error(429, headers={"retry-after": "2", "x-should-retry": "false"}))

    with pytest.raises(anthropic.RateLimitError) as raised:
        create(client, [user("hi")])

    assert raised.value.response.headers["retry-after"] == "2"
    assert "retry-after-ms" not in raised.value.response.headers


def test_error_step_body_and_headers(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(error(529, message="busy", headers={"x-should-retry": "false"}))

    with pytest.raises(anthropic.OverloadedError) as raised:
        create(client, [user("hi")])

    assert raised.value.status_code == 529
    assert raised.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert raised.value.request_id is not None and raised.value.request_id.startswith("req_fake_")
    assert len(api.requests) == 1


def test_error_defaults() -> None:
    assert error(400).type == "invalid_request_error"
    assert error(401).type == "authentication_error"
    assert error(429).type == "rate_limit_error"
    assert error(500).type == "api_error"
    assert error(529).type == "overloaded_error"
    assert Error(418).type == "api_error"


def test_expect_tool_mismatch_consumes_the_step(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(reply(text("proposal"), expect_tool="propose_contract"), reply(text("next")))

    with pytest.raises(anthropic.BadRequestError):
        create(client, [user("hi")], tools=[WRITE_TOOL])

    assert api.problems == [
        "fake script mismatch: step 1 expected a request offering tool propose_contract; the request offered ['write']"
    ]
    assert api.served == 1
    assert api.remaining == 1


def test_expect_tool_match(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(reply(text("fine"), expect_tool="write"))

    create(client, [user("hi")], tools=[WRITE_TOOL])

    assert api.problems == []


def test_exhausted_script_is_a_bad_request(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(reply(text("only one")))
    create(client, [user("hi")])

    with pytest.raises(anthropic.BadRequestError) as raised:
        create(client, [user("again")])

    assert "script exhausted after 1 responses" in raised.value.message
    assert api.problems == ["fake Messages API: script exhausted after 1 responses"]
    assert len(api.requests) == 2


# ----------------------------------------------------------------------------------------------------
# Prompt caching


def test_cache_creation_then_read(http_client: anthropic.DefaultHttpxClient) -> None:
    with FakeMessagesAPI(cache_min_tokens=1024) as api:
        client = anthropic.Anthropic(base_url=api.base_url, api_key="test-key", http_client=http_client)
        api.add(reply(text("a")), reply(text("b")), reply(text("c")), reply(text("d")))
        big_system = [{"type": "text", "text": "rules " * 1000, "cache_control": {"type": "ephemeral"}}]
        small_system = [{"type": "text", "text": "short", "cache_control": {"type": "ephemeral"}}]

        first = create(client, [user("q1")], system=big_system)
        second = create(client, [user("q2")], system=big_system)
        small = create(client, [user("q")], system=small_system)
        plain = create(client, [user("q")], system="rules " * 1000)

    assert first.usage.cache_creation_input_tokens and first.usage.cache_creation_input_tokens >= 1024
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens < 20, "the cached prefix is not counted again as input"
    assert (small.usage.cache_creation_input_tokens, small.usage.cache_read_input_tokens) == (0, 0)
    assert (plain.usage.cache_creation_input_tokens, plain.usage.cache_read_input_tokens) == (0, 0)
    assert plain.usage.input_tokens >= 1500
    assert api.problems == []


def test_moving_breakpoint_reads_the_previous_turn(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(reply(text("one")), reply(text("two")))
    long = "context " * 800

    first = create(client, [user(long)], cache_control={"type": "ephemeral"})
    second = create(
        client,
        [user(long), assistant("one"), user("and more")],
        cache_control={"type": "ephemeral"},
    )

    created = first.usage.cache_creation_input_tokens
    assert created and created >= 1024
    assert second.usage.cache_read_input_tokens == created
    assert second.usage.cache_creation_input_tokens and second.usage.cache_creation_input_tokens < 10


# ----------------------------------------------------------------------------------------------------
# The SDK's tool runner


@beta_tool
def add(a: int, b: int) -> str:
    """Add two integers.

    Args:
        a: the first addend
        b: the second addend
    """
    return str(a + b)


def test_tool_runner_without_threads(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(reply(text("Adding."), tool_use("add", a=2, b=3), expect_tool="add"), reply(text("It is 5.")))

    runner = client.beta.messages.tool_runner(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "2+3?"}], tools=[add], thread=False
    )
    replies = list(runner)

    assert [m.stop_reason for m in replies] == ["tool_use", "end_turn"]
    assert api.problems == []
    assert len(api.requests) == 2
    second = api.requests[1].body
    assert "thread" not in second
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    result = second["messages"][2]["content"][0]
    assert result["type"] == "tool_result"
    assert result["content"] in ("5", [{"type": "text", "text": "5"}])


def test_tool_runner_with_threads_is_refused(api: FakeMessagesAPI, client: anthropic.Anthropic) -> None:
    api.add(reply(text("unused")))

    runner = client.beta.messages.tool_runner(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "2+3?"}], tools=[add]
    )
    with pytest.raises(anthropic.BadRequestError):
        list(runner)

    assert api.problems == [THREAD_UNSUPPORTED]


# ----------------------------------------------------------------------------------------------------
# Replay files


def test_load_script(tmp_path: Path) -> None:
    path = tmp_path / "replay.yaml"
    path.write_text(
        """
- expect_tool: propose_contract
  content:
    - text: "Here is my proposal."
    - tool_use: {name: write, input: {path: a.py, content: "x = 1\\n"}}
  stop_reason: tool_use
  usage: {input_tokens: 10, output_tokens: 5}
- error: {status: 429, type: rate_limit_error, message: slow down, headers: {retry-after: "0"}}
- content: ["done"]
""",
        encoding="utf-8",
    )

    steps = load_script(path)

    first, second, third = steps
    assert isinstance(first, Reply)
    assert first.expect_tool == "propose_contract"
    assert first.content[0] == text("Here is my proposal.")
    assert first.content[1]["name"] == "write"
    assert first.content[1]["input"] == {"path": "a.py", "content": "x = 1\n"}
    assert first.content[1]["id"].startswith("toolu_fake_")
    assert first.usage == {"input_tokens": 10, "output_tokens": 5}
    assert second == Error(429, "rate_limit_error", "slow down", {"retry-after": "0"})
    assert isinstance(third, Reply) and third.content == [text("done")]


def test_replayed_script_serves_the_sdk(tmp_path: Path, http_client: anthropic.DefaultHttpxClient) -> None:
    path = tmp_path / "replay.yaml"
    path.write_text('- error: {status: 429, headers: {retry-after: "0"}}\n- content: [{text: hi}]\n')

    with FakeMessagesAPI(load_script(path)) as api:
        client = anthropic.Anthropic(base_url=api.base_url, api_key="k", max_retries=2, http_client=http_client)
        message = create(client, [user("hello")])

    assert message.content[0].type == "text" and message.content[0].text == "hi"


@pytest.mark.parametrize(
    ("yaml_text", "item"),
    [
        ("- content: [{text: ok}]\n- {content: [{text: ok}], bogus: 1}\n", 2),
        ("- content: [{text: ok}]\n- content: [{tool_use: {input: {}}}]\n", 2),
        ("- error: {message: no status}\n", 1),
        ("- just a string\n", 1),
        ("- stop_reason: end_turn\n", 1),
    ],
)
def test_load_script_names_the_malformed_item(tmp_path: Path, yaml_text: str, item: int) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text, encoding="utf-8")

    with pytest.raises(ValueError, match=rf"bad\.yaml: item {item}:"):
        load_script(path)


def test_main_rejects_a_malformed_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: mapping\n", encoding="utf-8")

    assert main(["--script", str(path)]) == 2
    assert "expected a list of steps" in capsys.readouterr().err


def test_stop_closes_keep_alive_connections() -> None:
    api = FakeMessagesAPI([reply(text("a")), reply(text("b"))]).start()
    client = anthropic.Anthropic(base_url=api.base_url, api_key="k", max_retries=0)
    create(client, [user("hi")])
    api.stop()

    with pytest.raises(anthropic.APIConnectionError):
        create(client, [user("hi")])
    client.close()
    assert api.served == 1
