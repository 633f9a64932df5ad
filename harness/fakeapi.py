"""A fake Anthropic Messages API on loopback, scripted step by step.

Tests point the real ``anthropic`` SDK at it (``anthropic.Anthropic(base_url=api.base_url, api_key="test")``)
and the offline ``harness demo`` serves a replay file with it. Each valid ``POST /v1/messages`` is answered
by the next scripted step::

    with FakeMessagesAPI([reply(tool_use("write", path="a.py", content="x")), reply(text("done"))]) as api:
        client = anthropic.Anthropic(base_url=api.base_url, api_key="test")

What it models, and where it departs from the real API on purpose:

- Requests are validated the way the real API validates them, and an invalid request gets a 400
  ``invalid_request_error`` that names the problem (alternating roles, every ``tool_use`` answered by a
  leading ``tool_result`` in the next user message, tool definitions, at most 4 ``cache_control``
  breakpoints, ...). The message is also appended to ``problems`` and no script step is consumed.
- It is a stateless gateway: a ``thread`` field (server-held conversation state) is rejected with a 400 that
  carries no ``thread_unsupported_request`` details, so the SDK does not silently fall back to full-history
  turns. Callers must send the whole history, e.g. ``client.beta.messages.tool_runner(..., thread=False)``.
- Script mismatches (``expect_tool``) and exhaustion answer 400 rather than 5xx, so the SDK does not retry
  and the test fails at once instead of hanging on retries.
- Error steps for statuses the SDK retries (408, 409, 429, 5xx) carry ``retry-after-ms: 1`` unless the step
  sets ``retry-after-ms`` itself or a positive ``retry-after``. The SDK ignores ``retry-after: 0`` (it only
  honours positive values) and would back off 0.5-8 s; with the default its own retry comes within
  milliseconds. Give a step ``headers={"x-should-retry": "false"}`` to make the SDK raise without retrying.
- Usage is estimated at one token per 4 characters of JSON. Prompt caching follows the real rules closely
  enough for cost accounting: the cacheable prefix runs tools -> system -> messages up to a block carrying
  ``cache_control`` (a top-level ``cache_control`` marks the last message block); a prefix of at least
  ``cache_min_tokens`` is written to the cache, and a later request reads the longest cached prefix ending
  at one of its breakpoints or up to 20 blocks before one. Cache entries are per model and never expire.
- ``"stream": true`` is answered with server-sent events that the SDK's stream helpers accumulate into the
  same message a non-streaming request would get.
- Like the real API it requires credentials (``x-api-key`` or ``Authorization: Bearer``; any value) and an
  ``anthropic-version`` header, answering 401 / 400 otherwise.
- ``requests`` records only ``POST /v1/messages``; ``/v1/messages/count_tokens`` is answered with an estimate.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import math
import re
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

import yaml

__all__ = [
    "Block",
    "Error",
    "FakeMessagesAPI",
    "RecordedRequest",
    "Reply",
    "Step",
    "error",
    "estimate_tokens",
    "load_script",
    "main",
    "reply",
    "text",
    "tool_use",
    "validate_request",
]

Block = dict[str, Any]

_tool_use_counter = itertools.count(1)


def text(s: str) -> Block:
    """A text content block."""
    return {"type": "text", "text": s}


def tool_use(name: str, input: dict[str, Any] | None = None, **fields: Any) -> Block:
    """A tool_use content block with a process-wide unique id; ``fields`` are merged into ``input``."""
    return {
        "type": "tool_use",
        "id": f"toolu_fake_{next(_tool_use_counter)}",
        "name": name,
        "input": {**(input or {}), **fields},
    }


@dataclass
class Reply:
    """One assistant message."""

    content: list[Block]
    stop_reason: str | None = None
    usage: dict[str, Any] | None = None
    expect_tool: str | None = None


@dataclass
class Error:
    """An HTTP error response."""

    status: int
    type: str = "api_error"
    message: str = "fake error"
    headers: dict[str, str] = field(default_factory=dict)


Step = Reply | Error | Callable[[dict[str, Any]], Reply | Error]

_DEFAULT_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def reply(
    *blocks: Block,
    stop_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    expect_tool: str | None = None,
) -> Reply:
    return Reply(list(blocks), stop_reason=stop_reason, usage=usage, expect_tool=expect_tool)


def error(
    status: int,
    type: str | None = None,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Error:
    return Error(
        status=status,
        type=type or _DEFAULT_ERROR_TYPES.get(status, "api_error"),
        message=message or "fake error",
        headers=dict(headers or {}),
    )


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


# ----------------------------------------------------------------------------------------------------
# Token estimates and prompt caching


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def estimate_tokens(obj: Any) -> int:
    """ceil(characters / 4) of the canonical JSON of ``obj``."""
    return math.ceil(len(_canonical(obj)) / 4)


def _without_cache_control(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _without_cache_control(v) for k, v in obj.items() if k != "cache_control"}
    if isinstance(obj, list):
        return [_without_cache_control(v) for v in obj]
    return obj


@dataclass
class _PromptItem:
    key: Any  # what identifies the item in a cached prefix: its place and its content
    tokens: int
    cache_control: dict[str, Any] | None


def _prompt_items(body: Mapping[str, Any]) -> list[_PromptItem]:
    """The request's prompt as cacheable units, in the order the API caches them: tools, system, messages."""
    items: list[_PromptItem] = []

    def add(key_head: list[Any], payload: Any) -> None:
        control = payload.get("cache_control") if isinstance(payload, dict) else None
        stripped = _without_cache_control(payload)
        items.append(
            _PromptItem(
                key=[*key_head, stripped],
                tokens=estimate_tokens(stripped),
                cache_control=control if isinstance(control, dict) else None,
            )
        )

    for tool in body.get("tools") or []:
        add(["tool"], tool)
    system = body.get("system")
    if isinstance(system, str) and system:
        add(["system"], system)
    elif isinstance(system, list):
        for block in system:
            add(["system"], block)
    first_message_item = len(items)
    for index, message in enumerate(body.get("messages") or []):
        role = message.get("role")
        content = message.get("content")
        if isinstance(content, str):
            if content:
                add(["message", index, role], content)
        elif isinstance(content, list):
            for block in content:
                add(["message", index, role], block)
    top_level = body.get("cache_control")
    if isinstance(top_level, dict) and len(items) > first_message_item:
        items[-1].cache_control = items[-1].cache_control or top_level
    return items


# The API looks for cache hits at block boundaries up to about 20 blocks before each breakpoint.
_CACHE_LOOKBACK_BLOCKS = 20


@dataclass
class _CacheUsage:
    total: int
    creation: int = 0
    read: int = 0
    creation_1h: bool = False

    @property
    def uncached(self) -> int:
        return max(self.total - self.creation - self.read, 0)


class _PromptCache:
    """Prefix hashes written by earlier requests. Not thread-safe: the server holds its lock around it."""

    def __init__(self, min_tokens: int) -> None:
        self.min_tokens = min_tokens
        self._written: set[str] = set()

    def account(self, body: Mapping[str, Any], *, write: bool = True) -> _CacheUsage:
        items = _prompt_items(body)
        prefix_tokens = [0]
        prefix_hashes = [hashlib.sha256(_canonical(body.get("model")).encode()).hexdigest()]
        breakpoints: list[int] = []
        for item in items:
            prefix_tokens.append(prefix_tokens[-1] + item.tokens)
            digest = hashlib.sha256((prefix_hashes[-1] + _canonical(item.key)).encode()).hexdigest()
            prefix_hashes.append(digest)
            if item.cache_control is not None:
                breakpoints.append(len(prefix_hashes) - 1)
        usage = _CacheUsage(total=prefix_tokens[-1])
        if not breakpoints:
            return usage
        for end in breakpoints:
            for length in range(end, max(end - _CACHE_LOOKBACK_BLOCKS, 0), -1):
                if prefix_hashes[length] in self._written:
                    usage.read = max(usage.read, prefix_tokens[length])
                    break
        last = breakpoints[-1]
        if prefix_tokens[last] >= self.min_tokens:
            usage.creation = max(prefix_tokens[last] - usage.read, 0)
            control = items[last - 1].cache_control or {}
            usage.creation_1h = control.get("ttl") == "1h"
        if write:
            self._written.update(prefix_hashes[end] for end in breakpoints if prefix_tokens[end] >= self.min_tokens)
        return usage


# ----------------------------------------------------------------------------------------------------
# Request validation

THREAD_UNSUPPORTED = "this server keeps no conversation state: `thread` is not supported; send the full message history"
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_MAX_CACHE_BREAKPOINTS = 4


class _Invalid(Exception):
    pass


def validate_request(body: Any, *, count_tokens: bool = False) -> str | None:
    """The message of the 400 the real API would answer ``body`` with, or None if it would accept it.

    ``count_tokens`` validates a ``/v1/messages/count_tokens`` body, which has no ``max_tokens``.
    """
    try:
        _validate(body, count_tokens=count_tokens)
    except _Invalid as exc:
        return str(exc)
    return None


def _validate(body: Any, *, count_tokens: bool) -> None:
    if not isinstance(body, dict):
        raise _Invalid("request body must be a JSON object")
    thread = body.get("thread")
    if thread is not None and thread is not False:
        raise _Invalid(THREAD_UNSUPPORTED)
    if "model" not in body:
        raise _Invalid("model: Field required")
    if not isinstance(body["model"], str) or not body["model"]:
        raise _Invalid("model: String should have at least 1 character")
    if not count_tokens:
        if "max_tokens" not in body:
            raise _Invalid("max_tokens: Field required")
        max_tokens = body["max_tokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise _Invalid("max_tokens: Input should be a valid integer")
        if max_tokens < 1:
            raise _Invalid("max_tokens: Input should be greater than or equal to 1")
    breakpoints = _validate_system(body.get("system"))
    tool_names, tool_breakpoints = _validate_tools(body.get("tools"))
    breakpoints += tool_breakpoints
    if "messages" not in body:
        raise _Invalid("messages: Field required")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _Invalid("messages: Input should be a valid list")
    if not messages:
        raise _Invalid("messages: at least one message is required")
    breakpoints += _validate_messages(messages, tools_defined=bool(tool_names))
    _validate_tool_choice(body.get("tool_choice"), tool_names)
    if body.get("cache_control") is not None:
        _validate_cache_control(body["cache_control"], "cache_control")
        breakpoints += 1
    if breakpoints > _MAX_CACHE_BREAKPOINTS:
        raise _Invalid(
            f"A maximum of {_MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found {breakpoints}."
        )


def _validate_cache_control(control: Any, where: str) -> int:
    if control is None:
        return 0
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        raise _Invalid(f"{where}.type: Input should be 'ephemeral'")
    if control.get("ttl", "5m") not in ("5m", "1h"):
        raise _Invalid(f"{where}.ttl: Input should be '5m' or '1h'")
    return 1


def _validate_system(system: Any) -> int:
    if system is None or isinstance(system, str):
        return 0
    if not isinstance(system, list):
        raise _Invalid("system: Input should be a valid string or a list of text blocks")
    breakpoints = 0
    for j, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _Invalid(f"system.{j}.type: Input should be 'text'")
        if not isinstance(block.get("text"), str):
            raise _Invalid(f"system.{j}.text: Field required")
        if not block["text"]:
            raise _Invalid("system: text content blocks must be non-empty")
        breakpoints += _validate_cache_control(block.get("cache_control"), f"system.{j}.cache_control")
    return breakpoints


def _validate_tools(tools: Any) -> tuple[list[str], int]:
    if tools is None:
        return [], 0
    if not isinstance(tools, list):
        raise _Invalid("tools: Input should be a valid list")
    names: list[str] = []
    breakpoints = 0
    for k, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _Invalid(f"tools.{k}: Input should be a valid dictionary")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise _Invalid(f"tools.{k}.name: Field required")
        if tool.get("type") in (None, "custom"):
            if not _TOOL_NAME.match(name):
                raise _Invalid(f"tools.{k}.custom.name: String should match pattern '{_TOOL_NAME.pattern}'")
            schema = tool.get("input_schema")
            if schema is None:
                raise _Invalid(f"tools.{k}.custom.input_schema: Field required")
            if not isinstance(schema, dict):
                raise _Invalid(f"tools.{k}.custom.input_schema: Input should be a valid dictionary")
            if schema.get("type") != "object":
                raise _Invalid(f"tools.{k}.custom.input_schema.type: Input should be 'object'")
        breakpoints += _validate_cache_control(tool.get("cache_control"), f"tools.{k}.cache_control")
        names.append(name)
    if len(set(names)) != len(names):
        raise _Invalid("tools: Tool names must be unique.")
    return names, breakpoints


def _validate_tool_choice(choice: Any, tool_names: list[str]) -> None:
    if isinstance(choice, dict) and choice.get("type") == "tool" and choice.get("name") not in tool_names:
        raise _Invalid(f"tool_choice: tool `{choice.get('name')}` is not among the request's tools")


def _blocks(message: Mapping[str, Any]) -> list[Block]:
    content = message.get("content")
    return content if isinstance(content, list) else []


def _tool_use_ids(message: Mapping[str, Any]) -> list[str]:
    return [b["id"] for b in _blocks(message) if b.get("type") == "tool_use"]


def _validate_messages(messages: list[Any], *, tools_defined: bool) -> int:
    breakpoints = 0
    uses_tools = False
    last = len(messages) - 1
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _Invalid(f"messages.{i}: Input should be a valid dictionary")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise _Invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise _Invalid(f"messages.{i}.content: Field required")
        content = message["content"]
        if not isinstance(content, str | list):
            raise _Invalid(f"messages.{i}.content: Input should be a valid string or a list of content blocks")
        if not content and not (i == last and role == "assistant"):
            raise _Invalid(
                f"messages.{i}: all messages must have non-empty content except for the optional final "
                "assistant message"
            )
        if isinstance(content, list):
            for j, block in enumerate(content):
                breakpoints += _validate_block(block, f"messages.{i}.content.{j}", role)
                uses_tools = uses_tools or block["type"] in ("tool_use", "tool_result")
    if messages[0]["role"] != "user":
        raise _Invalid('messages: first message must use the "user" role')
    for previous, message in itertools.pairwise(messages):
        if previous["role"] == message["role"]:
            raise _Invalid(
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{message["role"]}" roles in a row'
            )
    if uses_tools and not tools_defined:
        raise _Invalid("Requests which include `tool_use` or `tool_result` blocks must define tools.")
    final = messages[last]
    if final["role"] == "assistant" and _ends_with_whitespace(final["content"]):
        raise _Invalid("final assistant content cannot end with trailing whitespace")
    _validate_tool_pairing(messages)
    return breakpoints


def _ends_with_whitespace(content: str | list[Block]) -> bool:
    if isinstance(content, str):
        return content != content.rstrip()
    if content and content[-1].get("type") == "text":
        last_text = content[-1]["text"]
        return bool(last_text) and last_text != last_text.rstrip()
    return False


def _validate_block(block: Any, where: str, role: str) -> int:
    if not isinstance(block, dict):
        raise _Invalid(f"{where}: Input should be a valid dictionary")
    kind = block.get("type")
    if not isinstance(kind, str) or not kind:
        raise _Invalid(f"{where}.type: Field required")
    if kind == "text":
        if not isinstance(block.get("text"), str):
            raise _Invalid(f"{where}.text: Field required")
        if not block["text"]:
            raise _Invalid("messages: text content blocks must be non-empty")
    elif kind == "tool_use":
        if role != "assistant":
            raise _Invalid(f"{where}: tool_use blocks can only appear in assistant messages")
        for key in ("id", "name"):
            if not isinstance(block.get(key), str) or not block[key]:
                raise _Invalid(f"{where}.tool_use.{key}: Field required")
        if not isinstance(block.get("input"), dict):
            raise _Invalid(f"{where}.tool_use.input: Input should be a valid dictionary")
    elif kind == "tool_result":
        if role != "user":
            raise _Invalid(f"{where}: tool_result blocks can only appear in user messages")
        if not isinstance(block.get("tool_use_id"), str) or not block["tool_use_id"]:
            raise _Invalid(f"{where}.tool_result.tool_use_id: Field required")
        result = block.get("content")
        if result is not None and not isinstance(result, str | list):
            raise _Invalid(f"{where}.tool_result.content: Input should be a valid string or a list of blocks")
        if isinstance(result, list):
            for n, inner in enumerate(result):
                if not isinstance(inner, dict) or not isinstance(inner.get("type"), str):
                    raise _Invalid(f"{where}.tool_result.content.{n}.type: Field required")
    return _validate_cache_control(block.get("cache_control"), f"{where}.cache_control")


def _validate_tool_pairing(messages: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            ids = _tool_use_ids(message)
            for j, block in enumerate(_blocks(message)):
                if block["type"] == "tool_use":
                    if block["id"] in seen:
                        raise _Invalid(f"messages.{i}.content.{j}: tool_use ids must be unique")
                    seen.add(block["id"])
            if not ids:
                continue
            # Only the leading tool_result blocks answer: the API requires them before any other content.
            answered: set[str] = set()
            if i + 1 < len(messages):
                for block in _blocks(messages[i + 1]):
                    if block["type"] != "tool_result":
                        break
                    answered.add(block["tool_use_id"])
            missing = [tool_id for tool_id in ids if tool_id not in answered]
            if missing:
                raise _Invalid(
                    f"messages.{i}: tool_use ids were found without tool_result blocks immediately after: "
                    f"{', '.join(missing)}. Each tool_use block must have a corresponding tool_result block "
                    "in the next message."
                )
        else:
            offered = set(_tool_use_ids(messages[i - 1])) if i > 0 else set()
            for j, block in enumerate(_blocks(message)):
                if block["type"] == "tool_result" and block["tool_use_id"] not in offered:
                    raise _Invalid(
                        f"messages.{i}.content.{j}: unexpected tool_use_id found in tool_result blocks: "
                        f"{block['tool_use_id']}. Each tool_result block must have a corresponding tool_use "
                        "block in the previous message."
                    )


# ----------------------------------------------------------------------------------------------------
# The server


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def _error_body(kind: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


def _is_retried_status(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def _wants_fast_retry(headers: Mapping[str, str]) -> bool:
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        return False
    retry_after = lowered.get("retry-after")
    if retry_after is None:
        return True
    try:
        return float(retry_after) <= 0
    except ValueError:
        return False  # an HTTP date: the step means it


def _sse(events: list[dict[str, Any]]) -> bytes:
    return "".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events).encode()


def _stream_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The server-sent events of ``message``, each block sent whole in one delta."""
    usage = message["usage"]
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                **message,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1},
            },
        }
    ]
    for index, block in enumerate(message["content"]):
        kind = block.get("type")
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            start = {**block, "text": ""}
            if block.get("text"):
                deltas.append({"type": "text_delta", "text": block["text"]})
        elif kind in ("tool_use", "server_tool_use"):
            start = {**block, "input": {}}
            deltas.append({"type": "input_json_delta", "partial_json": json.dumps(block.get("input", {}))})
        elif kind == "thinking":
            start = {**block, "thinking": "", "signature": ""}
            deltas.append({"type": "thinking_delta", "thinking": block.get("thinking", "")})
            deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
        else:
            start = block
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events.extend({"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas)
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
            "usage": usage,
        }
    )
    events.append({"type": "message_stop"})
    return events


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: FakeMessagesAPI) -> None:
        self.api = api
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-request is not worth a traceback on stderr


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeMessagesAPI/1.0"
    timeout = 30  # an idle keep-alive connection's thread ends after this

    @property
    def _server(self) -> _Server:
        return cast(_Server, self.server)

    def setup(self) -> None:
        super().setup()
        with self._server.connections_lock:
            self._server.connections.add(self.connection)

    def finish(self) -> None:
        with self._server.connections_lock:
            self._server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _respond(self, response: _Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)
        self.wfile.flush()

    def do_POST(self) -> None:
        raw = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        self._respond(self._server.api._handle("POST", self.path, headers, raw))

    def _not_found(self) -> None:
        self._read_body()
        self._respond(self._server.api._handle(self.command, self.path, {}, b""))

    do_GET = do_PUT = do_PATCH = do_DELETE = _not_found


class FakeMessagesAPI:
    """A scripted Messages API server on 127.0.0.1. See the module docstring for what it models."""

    def __init__(
        self,
        script: Iterable[Step] = (),
        *,
        cache_min_tokens: int = 1024,
        port: int = 0,
        responder: Callable[[dict[str, Any]], Reply | Error] | None = None,
        delay: float = 0.0,
    ) -> None:
        # ``responder`` answers whatever the script does not: a model for conversations whose order is not
        # known in advance (parallel issues, runs killed and resumed). ``delay`` seconds before every answer
        # stand in for a real model's latency (benchmarks).
        self.responder = responder
        self.delay = delay
        self.requests: list[RecordedRequest] = []
        self.problems: list[str] = []
        self.served = 0
        self._script: deque[Step] = deque(script)
        self._port = port
        self._lock = threading.Lock()
        self._cache = _PromptCache(cache_min_tokens)
        self._message_ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeMessagesAPI:
        if self._server is not None:
            raise RuntimeError("FakeMessagesAPI is already running")
        self._server = _Server(("127.0.0.1", self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"FakeMessagesAPI:{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Keep-alive connections outlive the listening socket; close them so nothing is served after stop().
        with server.connections_lock:
            for connection in list(server.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeMessagesAPI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeMessagesAPI is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # script

    def add(self, *steps: Step) -> None:
        with self._lock:
            self._script.extend(steps)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    # request handling (called on the server's handler threads)

    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> _Response:
        route = urlsplit(path).path.rstrip("/")
        if method == "POST" and route in ("/v1/messages", "/v1/messages/count_tokens"):
            refused = self._check_headers(headers)
            if refused is not None:
                if route == "/v1/messages":
                    with self._lock:
                        self.requests.append(RecordedRequest(path=path, headers=headers, body=_parse_body(raw)[0]))
                response = refused
            elif route == "/v1/messages":
                response = self._create_message(path, headers, raw)
            else:
                response = self._count_tokens(raw)
        else:
            message = f"{method} {route or '/'}: Not Found"
            with self._lock:
                self.problems.append(message)
            response = _Response(404, _error_body("not_found_error", message))
        response.headers.setdefault("request-id", f"req_fake_{next(self._request_ids)}")
        return response

    def _invalid(self, message: str, status: int = 400, kind: str = "invalid_request_error") -> _Response:
        with self._lock:
            self.problems.append(message)
        return _Response(status, _error_body(kind, message))

    def _check_headers(self, headers: Mapping[str, str]) -> _Response | None:
        """The real API's answer to a request without credentials or an API version. Any key is accepted."""
        bearer = headers.get("authorization", "")
        if not headers.get("x-api-key") and not (bearer.lower().startswith("bearer ") and bearer[7:].strip()):
            return self._invalid("x-api-key header is required", 401, "authentication_error")
        if not headers.get("anthropic-version"):
            return self._invalid("anthropic-version: header is required")
        return None

    def _count_tokens(self, raw: bytes) -> _Response:
        body, problem = _parse_body(raw)
        problem = problem or validate_request(body, count_tokens=True)
        if problem is not None:
            return self._invalid(problem)
        with self._lock:
            total = self._cache.account(body, write=False).total
        return _Response(200, json.dumps({"input_tokens": total}).encode())

    def _create_message(self, path: str, headers: dict[str, str], raw: bytes) -> _Response:
        body, problem = _parse_body(raw)
        with self._lock:
            self.requests.append(RecordedRequest(path=path, headers=headers, body=body))
        problem = problem or validate_request(body)
        if problem is not None:
            return self._invalid(problem)
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if not self._script and self.responder is None:
                exhausted = f"fake Messages API: script exhausted after {self.served} responses"
                self.problems.append(exhausted)
                return _Response(400, _error_body("invalid_request_error", exhausted))
            responder = self.responder
            step: Step
            if self._script:
                step = self._script.popleft()
            else:
                assert responder is not None
                step = responder
            self.served += 1
            number = self.served
        if not isinstance(step, Reply | Error):
            # User code runs outside the lock so a callable step may add() further steps.
            try:
                step = step(body)
            except Exception as exc:
                return self._invalid(f"fake script step {number} raised {type(exc).__name__}: {exc}")
            if not isinstance(step, Reply | Error):
                return self._invalid(
                    f"fake script step {number} returned {type(step).__name__}, expected Reply or Error"
                )
        if isinstance(step, Error):
            return self._error_response(step)
        offered = [tool.get("name") for tool in body.get("tools") or []]
        if step.expect_tool is not None and step.expect_tool not in offered:
            return self._invalid(
                f"fake script mismatch: step {number} expected a request offering tool {step.expect_tool}; "
                f"the request offered {offered}"
            )
        message = self._message(step, body)
        if body.get("stream") is True:
            return _Response(200, _sse(_stream_events(message)), content_type="text/event-stream")
        return _Response(200, json.dumps(message).encode())

    def _error_response(self, step: Error) -> _Response:
        headers = dict(step.headers)
        if _is_retried_status(step.status) and _wants_fast_retry(headers):
            headers["retry-after-ms"] = "1"
        return _Response(step.status, _error_body(step.type, step.message), headers)

    def _message(self, step: Reply, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            cached = self._cache.account(body)
            message_id = f"msg_fake_{next(self._message_ids)}"
        usage: dict[str, Any] = {
            "input_tokens": cached.uncached,
            "output_tokens": max(estimate_tokens(step.content), 1),
            "cache_creation_input_tokens": cached.creation,
            "cache_read_input_tokens": cached.read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 0 if cached.creation_1h else cached.creation,
                "ephemeral_1h_input_tokens": cached.creation if cached.creation_1h else 0,
            },
            "service_tier": "standard",
        }
        if step.usage is not None:
            usage = {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, **step.usage}
        stop_reason = step.stop_reason
        if stop_reason is None:
            stop_reason = "tool_use" if any(b.get("type") == "tool_use" for b in step.content) else "end_turn"
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": step.content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }


def _parse_body(raw: bytes) -> tuple[dict[str, Any], str | None]:
    """The JSON object in ``raw`` (empty if there is none) and the 400 message if it is not one."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"There was an error parsing the body: {exc}"
    if not isinstance(body, dict):
        return {}, "request body must be a JSON object"
    return body, None


# ----------------------------------------------------------------------------------------------------
# Replay files

_REPLY_KEYS = {"content", "stop_reason", "usage", "expect_tool"}
_ERROR_KEYS = {"status", "type", "message", "headers"}


def load_script(path: Path) -> list[Step]:
    """Read a YAML replay file: a list of reply items (``content``, optional ``stop_reason``, ``usage``,
    ``expect_tool``) and error items (``error: {status, type?, message?, headers?}``).

    A content entry is ``text: str``, ``tool_use: {name, input?, id?}``, a raw block with a ``type``, or a
    bare string (text). Raises ValueError naming the file and the 1-based item number of a malformed item.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of steps, got {type(data).__name__}")
    steps: list[Step] = []
    for number, item in enumerate(data, start=1):
        try:
            steps.append(_load_step(item))
        except ValueError as exc:
            raise ValueError(f"{path}: item {number}: {exc}") from None
    return steps


def _load_step(item: Any) -> Step:
    if not isinstance(item, dict):
        raise ValueError(f"expected a mapping, got {type(item).__name__}")
    if "error" in item:
        if set(item) != {"error"}:
            raise ValueError(f"an error item takes no other keys, got {sorted(set(item) - {'error'})}")
        spec = item["error"]
        if not isinstance(spec, dict) or not isinstance(spec.get("status"), int):
            raise ValueError("error needs a mapping with an integer status")
        if unknown := set(spec) - _ERROR_KEYS:
            raise ValueError(f"unknown error keys {sorted(unknown)}")
        headers = spec.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError("error.headers must be a mapping")
        return error(
            spec["status"],
            type=spec.get("type"),
            message=spec.get("message"),
            headers={str(k): str(v) for k, v in headers.items()},
        )
    if unknown := set(item) - _REPLY_KEYS:
        raise ValueError(f"unknown keys {sorted(unknown)}; a reply takes {sorted(_REPLY_KEYS)}")
    if "content" not in item:
        raise ValueError("a reply needs content (or the item needs error)")
    content = item["content"]
    if isinstance(content, str):
        content = [content]
    if not isinstance(content, list) or not content:
        raise ValueError("content must be a non-empty list of blocks")
    for key in ("stop_reason", "expect_tool"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise ValueError(f"{key} must be a string")
    usage = item.get("usage")
    counts = (usage.get("input_tokens"), usage.get("output_tokens")) if isinstance(usage, dict) else (None,)
    if usage is not None and not all(isinstance(count, int) for count in counts):
        raise ValueError("usage must be a mapping with integer input_tokens and output_tokens")
    return Reply(
        content=[_load_block(entry, n) for n, entry in enumerate(content, start=1)],
        stop_reason=item.get("stop_reason"),
        usage=usage,
        expect_tool=item.get("expect_tool"),
    )


def _load_block(entry: Any, number: int) -> Block:
    if isinstance(entry, str):
        return text(entry)
    if isinstance(entry, dict) and set(entry) == {"text"} and isinstance(entry["text"], str):
        return text(entry["text"])
    if isinstance(entry, dict) and set(entry) == {"tool_use"}:
        spec = entry["tool_use"]
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ValueError(f"content block {number}: tool_use needs a name")
        if unknown := set(spec) - {"name", "input", "id"}:
            raise ValueError(f"content block {number}: unknown tool_use keys {sorted(unknown)}")
        tool_input = spec.get("input") or {}
        if not isinstance(tool_input, dict):
            raise ValueError(f"content block {number}: tool_use input must be a mapping")
        block = tool_use(spec["name"], tool_input)
        if spec.get("id") is not None:
            block["id"] = str(spec["id"])
        return block
    if isinstance(entry, dict) and isinstance(entry.get("type"), str):
        return dict(entry)
    raise ValueError(f"content block {number}: expected `text: ...`, `tool_use: {{...}}` or a typed block")


# ----------------------------------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> int:
    """Serve a replay file until Ctrl-C or SIGTERM; exit 1 if any request hit a problem, 2 if the file is unusable."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.fakeapi", description="Serve a scripted fake Anthropic Messages API locally."
    )
    parser.add_argument("--script", type=Path, required=True, help="YAML replay file")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free port)")
    parser.add_argument("--cache-min-tokens", type=int, default=1024, help="smallest cacheable prefix")
    args = parser.parse_args(argv)
    try:
        steps = load_script(args.script)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    api = FakeMessagesAPI(steps, cache_min_tokens=args.cache_min_tokens, port=args.port)
    try:
        api.start()
    except OSError as exc:
        print(f"error: cannot bind 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(api.base_url, flush=True)
    stopping = threading.Event()
    # A parent process (the demo) ends the server with SIGTERM; report problems then as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    try:
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()
    for problem in api.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if api.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
