"""What happened, for a person reading it later: one JSON object per line in trace.jsonl.

Every model call (agent, phase, tokens, cost, latency, tool calls), every tool execution and
every harness decision (red/green verification, commits) is an event. The ledger keeps the
running cost and enforces the budget before each call.

This module stays light (no SDK, no pydantic): ``harness trace`` reads traces with it and must
start fast.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import IncompleteError
from harness.pricing import cost as price_call


class BudgetExceeded(IncompleteError):
    """A hard budget would be exceeded by the next call; the run stops with its state kept (exit 3)."""


@dataclass
class CallRecord:
    agent: str
    phase: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost: float | None
    latency: float
    stop_reason: str | None
    tool_calls: list[str]


@dataclass
class Ledger:
    """Running totals of a run; ``check`` is called before every model call."""

    max_cost: float | None = None
    calls: list[CallRecord] = field(default_factory=list)
    unknown_models: set[str] = field(default_factory=set)
    spent_before: float = 0.0  # spent on the same budget earlier (a resumed `afk` issue)
    # Checked before the run's own budget (a batch's budget, a stop request); raises to refuse the call.
    guard: Callable[[float], None] | None = None
    on_record: Callable[[CallRecord], None] | None = None
    budget_hint: str = ""  # what to do when the budget stops a call (default: the run's own advice)

    @property
    def cost(self) -> float:
        return sum(c.cost for c in self.calls if c.cost is not None)

    @property
    def cost_known(self) -> bool:
        return not self.unknown_models

    def tokens(self) -> dict[str, int]:
        return {
            "input": sum(c.input_tokens for c in self.calls),
            "output": sum(c.output_tokens for c in self.calls),
            "cache_write": sum(c.cache_write_tokens for c in self.calls),
            "cache_read": sum(c.cache_read_tokens for c in self.calls),
        }

    @property
    def cache_read_share(self) -> float | None:
        return cache_read_share(self.tokens())

    def check(self, next_call: float = 0.0) -> None:
        """Refuse the next call when the budget is spent, or when ``next_call`` (an estimate of what the
        next call costs) would take the run past it."""
        if self.guard is not None:
            self.guard(next_call)
        if self.max_cost is None:
            return
        spent = self.spent_before + self.cost
        if spent >= self.max_cost:
            raise BudgetExceeded(
                f"budget exhausted: ${spent:.4f} spent of the {_usd(self.max_cost)} allowed for this run",
                hint=self.budget_hint or _BUDGET_HINT,
            )
        if spent + next_call > self.max_cost:
            raise BudgetExceeded(
                f"budget: the next model call would exceed the {_usd(self.max_cost)} allowed for this run "
                f"(${spent:.4f} spent; the next call costs about ${next_call:.4f})",
                hint=self.budget_hint or _BUDGET_HINT,
            )

    def record(self, call: CallRecord) -> bool:
        """Add a call; True when it is the first call on a model that has no price (warn about it loudly)."""
        first_unpriced = call.cost is None and call.model not in self.unknown_models
        if call.cost is None:
            self.unknown_models.add(call.model)
        self.calls.append(call)
        if self.on_record is not None:
            self.on_record(call)
        return first_unpriced


_BUDGET_HINT = (
    "raise [budget] max_cost_per_issue in harness.toml, or narrow the issue; the branch and worktree are kept"
)


def _usd(amount: float) -> str:
    return "$" + (f"{amount:.4f}".rstrip("0").rstrip(".") if amount < 1 else f"{amount:.2f}")


def cache_read_share(tokens: dict[str, int]) -> float | None:
    """The part of all input-side tokens (uncached input, cache writes, cache reads) read from the cache;
    None before any input."""
    read = tokens.get("cache_read", 0)
    total = tokens.get("input", 0) + tokens.get("cache_write", 0) + read
    return read / total if total else None


def key_input(tool: str, input: Any) -> str:
    """The part of a tool call's input a person needs to follow what an agent did."""
    if not isinstance(input, dict):
        return ""
    if tool in ("read", "write", "edit"):
        return str(input.get("path", ""))
    if tool == "bash":
        command = str(input.get("command", "")).strip()
        first = command.splitlines()[0] if command else ""
        return _clip(first + (" …" if "\n" in command else ""), 120)
    if tool == "glob":
        return str(input.get("pattern", ""))
    if tool == "grep":
        where = input.get("path") or input.get("glob")
        return _clip(str(input.get("pattern", "")), 80) + (f" in {where}" if where else "")
    if tool == "tests_ready":
        return ", ".join(str(t) for t in input.get("tests") or [])
    if tool == "propose_contract":
        return "criteria " + ", ".join(str(c.get("id")) for c in input.get("criteria") or [] if isinstance(c, dict))
    if tool in ("review_contract", "review_tests"):
        objections = input.get("objections") or []
        return str(input.get("decision", "")) + (f", {len(objections)} objection(s)" if objections else "")
    if tool == "submit_verdict":
        return str(input.get("verdict", ""))
    return _clip(next((str(v) for v in input.values() if isinstance(v, str)), ""), 120)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def usage_cost(model: str, usage: Any) -> tuple[int, int, int, int, float | None]:
    """Token counts and price of an SDK ``usage`` object (cached tokens are counted separately)."""
    inp = int(getattr(usage, "input_tokens", 0) or 0)
    out = int(getattr(usage, "output_tokens", 0) or 0)
    write = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
    read = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
    return (
        inp,
        out,
        write,
        read,
        price_call(model, input_tokens=inp, output_tokens=out, cache_write_tokens=write, cache_read_tokens=read),
    )


class Trace:
    """Append-only JSONL event log; listeners (the live display) see every event too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        _repair_tail(path)
        # backslashreplace: a lone surrogate (from a model's JSON or an undecodable file name) is written as
        # the JSON escape it came from, instead of failing the write and the run with it.
        self._handle = path.open("a", encoding="utf-8", errors="backslashreplace")
        self._lock = threading.Lock()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._start = time.monotonic()

    def subscribe(self, listener: Callable[[dict[str, Any]], None]) -> None:
        self._listeners.append(listener)

    def event(self, kind: str, **fields: Any) -> None:
        """Append an event. Its text is masked for the secrets of the harness's environment first: a trace is
        read by people, uploaded as a CI artefact, and visible read-only to agents in a checkout the sandbox
        shows them, so a test's message or a tool's input holding a key is never written in clear."""
        from harness.masking import Masker

        record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "kind": kind, **fields}
        record = Masker.from_env().mask_value(record)
        line = json.dumps(record, default=str, ensure_ascii=False)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()
        for listener in self._listeners:
            listener(record)

    def close(self) -> None:
        with self._lock:
            self._handle.close()


def read_trace(path: Path) -> list[dict[str, Any]]:
    """The events of a trace file. A last line cut off by a kill mid-write is skipped.

    Lines end at a newline byte only: an event's text may hold other line separators (U+2028, NEL, ...),
    which JSON leaves unescaped and ``str.splitlines`` would split on.
    """
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a complete line
    events = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            events.append(json.loads(raw.decode("utf-8")))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not a trace event: {exc}") from exc
    event = _complete_event(tail)
    if event is not None:
        events.append(event)
    return events


def _complete_event(raw: bytes) -> dict[str, Any] | None:
    """The event on a last line that has no newline: complete JSON (the kill came just before the
    newline), or None when it was cut off mid-line."""
    if not raw.strip():
        return None
    try:
        event = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _repair_tail(path: Path) -> None:
    """Before appending to an existing trace, end it on a line boundary: a line cut off by a kill is
    dropped (or, if it is complete JSON that only lacks its newline, terminated), so the next event
    does not glue onto it and every earlier event stays readable."""
    try:
        handle = path.open("r+b")
    except FileNotFoundError:
        return
    with handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        # Find the start of the last line, reading backwards in blocks.
        start, block = size, 64 * 1024
        while start > 0:
            begin = max(0, start - block)
            handle.seek(begin)
            chunk = handle.read(start - begin)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                start = begin + newline + 1
                break
            start = begin
        handle.seek(start)
        if _complete_event(handle.read()) is not None:
            handle.seek(size)
            handle.write(b"\n")
        else:
            handle.truncate(start)
