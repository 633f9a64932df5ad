"""What happened, for a person reading it later: one JSON object per line in trace.jsonl.

Every model call (agent, phase, tokens, cost, latency, tool calls), every tool execution and
every harness decision (red/green verification, commits) is an event. The ledger keeps the
running cost and enforces the budget before each call.
"""

from __future__ import annotations

import json
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

    def check(self) -> None:
        if self.max_cost is not None and self.cost >= self.max_cost:
            raise BudgetExceeded(
                f"budget exhausted: ${self.cost:.4f} spent of the ${self.max_cost:.2f} allowed for this run",
                hint="raise [budget] max_cost_per_issue in harness.toml, or narrow the issue",
            )

    def record(self, call: CallRecord) -> None:
        if call.cost is None:
            self.unknown_models.add(call.model)
        self.calls.append(call)


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
        self._handle = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._start = time.monotonic()

    def subscribe(self, listener: Callable[[dict[str, Any]], None]) -> None:
        self._listeners.append(listener)

    def event(self, kind: str, **fields: Any) -> None:
        record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "kind": kind, **fields}
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
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            events.append(json.loads(line))
    return events
