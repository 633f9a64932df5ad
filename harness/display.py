"""What a person watching a run sees: live progress from trace events, and the final summary.

In a terminal: a rich live panel (phase, agent, turn, tokens, cost, last action). Otherwise (CI,
pipes, tests): one plain line per meaningful event on stderr.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from harness.pipeline import RunResult

_TRANSIENT = frozenset({"model_call", "tool_call"})
_LINE_STYLE = {"unpriced_model": "bold red", "context_handoff": "yellow"}
_OUTCOME_STYLE = {
    "pass": "bold green",
    "fail": "bold red",
    "blocked": "bold yellow",
    "incomplete": "bold magenta",
}


def describe(event: dict[str, Any]) -> str | None:
    """One line for a trace event worth showing, or None."""
    kind = event["kind"]
    if kind == "run_started" and "step" in event:
        return f"{event['step']}: {event['issue']} (trace: .harness/runs/{event['run_id']})"
    if kind == "run_started":
        return f"run {event['run_id']}: issue {event['issue']} '{event['title']}' on {event['branch']}"
    if kind == "phase":
        return f"── phase: {event['phase']}"
    if kind == "baseline":
        return f"baseline: {event['passed']} passing, {event['failing']} failing, {event['collected']} collected"
    if kind == "model_call":
        tools = ", ".join(event["tool_calls"]) or event.get("stop_reason") or "-"
        cost = "cost UNKNOWN" if event["cost"] is None else f"${event['run_cost']:.4f}"
        context = event["input_tokens"] + event["cache_read_tokens"] + event["cache_write_tokens"]
        return (
            f"{event['agent']} turn {event['turn']}: {tools}  "
            f"[{context} in ({event['cache_read_tokens']} cached) / {event['output_tokens']} out, {cost}]"
        )
    if kind == "unpriced_model":
        return f"WARNING: {event['message']}; add it to PRICES there (docs/cost.md)"
    if kind == "context_handoff":
        return (
            f"{event['agent']}: context {event['context_tokens']:,} tokens > ceiling {event['ceiling']:,}; "
            "continuing in a fresh context with the harness's summary"
        )
    if kind == "tool_call" and event["is_error"]:
        return f"  {event['tool']} refused: {event['result'].splitlines()[0][:160]}"
    if kind == "contract_proposed":
        return f"contract round {event['round']}: proposed {', '.join(event['criteria'])}"
    if kind == "contract_reviewed":
        return f"contract round {event['round']}: evaluator says {event['decision']} → {event['status']}"
    if kind == "red_verified":
        if event["ok"]:
            return f"RED verified: {len(event['tests'])} test(s) fail for the right reason"
        bad = [t for t in event["tests"] if not t["ok"]]
        first = bad[0]["nodeid"] + ": " + bad[0]["reason"] if bad else event["problems"][0]
        return f"red REJECTED: {first[:200]}"
    if kind == "tests_reviewed":
        return f"test review round {event['round']}: evaluator says {event['decision']}"
    if kind == "green_verified":
        if event["ok"]:
            return f"GREEN verified: {len(event['tests'])} contract test(s) pass, {event['collected']} collected"
        bad = [t for t in event["tests"] if not t["ok"]]
        first = bad[0]["nodeid"] + ": " + bad[0]["reason"] if bad else event["problems"][0]
        return f"green REJECTED: {first[:200]}"
    if kind == "oracle_checked":
        return _oracle_line(event)
    if kind == "mutation_checked":
        if not event["mutants"]:
            return f"mutation check: no mutants ({event['skipped']})"
        survived = event["survived"]
        line = f"mutation check: {event['killed']}/{event['mutants']} mutants killed ({event['duration']:.1f}s)"
        return line + (f"; survivors: {'; '.join(survived[:3])}" if survived else "")
    if kind == "probes_run":
        if not event["probes"]:
            return "probes: the evaluator wrote none"
        return f"probes: {event['ran']} ran, {len(event['failed'])} failed ({', '.join(event['failed']) or 'none'})"
    if kind == "commit":
        return f"commit {event['sha'][:10]} {event['subject']}"
    if kind == "verdict":
        return f"verdict: {event['verdict']} ({event['met']}/{event['total']} criteria met)"
    if kind == "slices_rejected":
        problems = "".join(f"\n  - {problem}" for problem in event["problems"])
        return f"slices rejected (submission {event['attempt']}), sent back to the slicer:{problems}"
    if kind == "slices_accepted":
        return f"slices accepted (submission {event['attempt']}): {', '.join(event['slices'])}"
    if kind == "prd_written":
        return f"PRD written: {event['path']} ({event['stories']} user stories)"
    if kind in ("reminder", "agent_failed", "api_error"):
        return f"{event['agent']}: {event.get('reason') or event.get('error') or event.get('text')}"
    return None


def _oracle_line(event: dict[str, Any]) -> str:
    took = f"{event['perturbations']} perturbation(s), {event['duration']:.1f}s"
    if event["ok"]:
        weak = f"; weak: {', '.join(event['weak'])}" if event["weak"] else ""
        passed = len(event["checked"])
        return f"oracle check: {passed} contract test(s) fail when their expected values change ({took}){weak}"
    first = (
        f"{event['survived'][0]['test']} still passes when {event['survived'][0]['change']}"
        if event["survived"]
        else (event["unreached"] + event["divergent"])[0]
    )
    return f"oracle check REJECTED green: {first[:200]} ({took})"


class RunDisplay:
    """Subscribe ``RunDisplay.on_event`` to a run's trace; use as a context manager."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live_mode = console.is_terminal
        self.state: dict[str, Any] = {
            "phase": "setup",
            "agent": "-",
            "turn": 0,
            "tokens": 0,
            "cost": 0.0,
            "cost_known": True,
        }
        self.lines: list[str] = []
        self._live: Live | None = None

    def __enter__(self) -> RunDisplay:
        if self.live_mode:
            self._live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop redrawing while the person at the terminal is asked something."""
        if self._live is not None:
            self._live.stop()
        try:
            yield
        finally:
            if self._live is not None:
                self._live.start()

    def on_event(self, event: dict[str, Any]) -> None:
        if event["kind"] == "phase":
            self.state["phase"] = event["phase"]
        if event["kind"] == "unpriced_model":
            self.state["cost_known"] = False
        if event["kind"] == "model_call":
            self.state.update(agent=event["agent"], turn=event["turn"], cost=event["run_cost"])
            self.state["tokens"] += (
                event["input_tokens"]
                + event["output_tokens"]
                + event["cache_read_tokens"]
                + event["cache_write_tokens"]
            )
        line = describe(event)
        if line is None:
            return
        style = _LINE_STYLE.get(event["kind"])
        if self._live is not None:
            # Turn-by-turn chatter lives in the panel; decisions stay on screen above it.
            self.lines = [*self.lines[-11:], line]
            if event["kind"] not in _TRANSIENT:
                self.console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)
            self._live.update(self._render())
        else:
            self.console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)

    def _render(self) -> Panel:
        s = self.state
        head = Text.assemble(
            ("phase ", "dim"),
            (s["phase"], "bold cyan"),
            ("   agent ", "dim"),
            (s["agent"], "bold"),
            ("   turn ", "dim"),
            str(s["turn"]),
            ("   tokens ", "dim"),
            f"{s['tokens']:,}",
            ("   cost ", "dim"),
            f"${s['cost']:.4f}" if s["cost_known"] else (f"${s['cost']:.4f} + UNKNOWN", "bold red"),
        )
        return Panel(Group(head, Text("\n".join(self.lines[-6:]), style="dim")), title="harness run", expand=True)


def summary(result: RunResult) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column(overflow="fold")  # wrap long paths rather than cut them: users copy them
    style = _OUTCOME_STYLE[result.outcome]
    table.add_row("outcome", Text(result.outcome.upper(), style=style))
    table.add_row("why", Text(result.reason[:1500]))
    if result.verdict is not None:
        table.add_row("criteria", f"{result.verdict.met}/{result.verdict.total} met")
        for finding in result.verdict.findings[:5]:
            table.add_row("finding", f"[{finding.severity}] {finding.path}:{finding.line or ''} {finding.message}")
    for sha, subject in result.commits:
        table.add_row("commit", f"{sha[:10]} {subject}")
    table.add_row("branch", f"{result.branch}  (worktree {result.worktree})")
    tokens = result.tokens
    counts = (
        f"   tokens in {tokens.get('input', 0):,} / out {tokens.get('output', 0):,} / "
        f"cache read {tokens.get('cache_read', 0):,} / cache write {tokens.get('cache_write', 0):,}"
    )
    if result.cost_known:
        table.add_row("cost", f"${result.cost:.4f}" + counts)
    else:
        table.add_row("cost", Text.assemble((f"UNKNOWN (at least ${result.cost:.4f})", "bold red"), counts))
        table.add_row(
            Text("warning", style="bold red"),
            Text(
                "a model of this run has no price in harness/pricing.py, so its calls are not counted and the "
                "budget could not limit them; the trace's unpriced_model event names it (docs/cost.md)",
                style="bold red",
            ),
        )
    share = result.cache_read_share
    if share is not None:
        table.add_row("cache", f"{share:.1%} of input-side tokens read from the prompt cache")
    if result.peak_context:
        role, peak = max(result.peak_context.items(), key=lambda item: item[1])
        table.add_row("context", f"peak {peak:,} tokens ({role})")
    table.add_row("trace", str(result.trace_path))
    table.add_row("exit code", str(result.exit_code))
    return Panel(table, title=f"issue {result.issue.id}: {result.issue.title}", border_style=style)
