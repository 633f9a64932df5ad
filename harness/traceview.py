"""``harness trace``: what each agent of a run saw and did, step by step, with tokens and cost.

It reads ``trace.jsonl`` and nothing else, and imports neither the model SDK nor GitPython, so it starts fast.
A run is named by its id (the directory under ``<harness_dir>/runs/``), a unique prefix of one, or a
path to its ``trace.jsonl``; without a name, the latest run is shown.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.box import SIMPLE_HEAD
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.display import describe
from harness.errors import UsageError
from harness.trace import cache_read_share, key_input, read_trace

_SHOWN_RUNS = 15  # known runs listed when a run name does not match


@dataclass(frozen=True)
class TraceFilter:
    """Which events to show; every given field must match."""

    agent: str | None = None
    phase: str | None = None
    tool: str | None = None

    def __bool__(self) -> bool:
        return any((self.agent, self.phase, self.tool))

    def matches(self, event: dict[str, Any], phase: str) -> bool:
        if self.agent is not None and agent_of(event) != self.agent:
            return False
        if self.phase is not None and phase != self.phase:
            return False
        return self.tool is None or self.tool in tools_of(event)


# ---------------------------------------------------------------------------------------- finding a run


def locate(repo: Path, run: str | None) -> Path:
    """The trace file ``run`` names (see the module docstring); a UsageError listing the known runs if none."""
    if run is not None and (run.endswith(".jsonl") or os.sep in run or "/" in run):
        path = Path(run)
        path = path / "trace.jsonl" if path.is_dir() else path
        if not path.is_file():
            raise UsageError(f"{run}: no trace file there", hint="pass a run id, or the path of a run's trace.jsonl")
        return path
    runs_dir = _runs_dir(repo)
    runs = known_runs(runs_dir)
    if not runs:
        raise UsageError(
            f"no runs yet under {runs_dir}",
            hint="`harness run ISSUE` writes one; or pass the path of a trace.jsonl",
        )
    if run is None:
        return runs[0] / "trace.jsonl"
    exact = [r for r in runs if r.name == run]
    matches = exact or [r for r in runs if r.name.startswith(run)]
    if len(matches) == 1:
        return matches[0] / "trace.jsonl"
    if matches:
        raise UsageError(
            f"`{run}` matches {len(matches)} runs: {_listing(matches)}",
            hint="give more of the run id",
        )
    raise UsageError(
        f"no run `{run}` under {runs_dir}; known runs, newest first: {_listing(runs)}",
        hint="pass one of those ids (or a unique prefix of one), or omit it for the latest run",
    )


def known_runs(runs_dir: Path) -> list[Path]:
    """Run directories that hold a trace, newest first."""
    if not runs_dir.is_dir():
        return []
    traced = [(d / "trace.jsonl", d) for d in runs_dir.iterdir() if (d / "trace.jsonl").is_file()]
    return [d for trace, d in sorted(traced, key=lambda item: (item[0].stat().st_mtime, item[1].name), reverse=True)]


def _listing(runs: list[Path]) -> str:
    names = [r.name for r in runs[:_SHOWN_RUNS]]
    more = f" (and {len(runs) - _SHOWN_RUNS} more)" if len(runs) > _SHOWN_RUNS else ""
    return ", ".join(names) + more


def _runs_dir(repo: Path) -> Path:
    from harness.guard.gitdiff import find_root
    from harness.settings import guard_settings

    root = find_root(repo)
    harness_dir = guard_settings(root)[0]
    runs_dir = root / harness_dir / "runs"
    if not runs_dir.is_dir():
        # Inside an issue's worktree: the runs live in the main checkout.
        main = _main_worktree(root)
        if main is not None and (main / harness_dir / "runs").is_dir():
            return main / harness_dir / "runs"
    return runs_dir


def _main_worktree(root: Path) -> Path | None:
    from harness import gitops

    done = gitops.in_checkout(root, ["rev-parse", "--path-format=absolute", "--git-common-dir"])
    common = Path(done.stdout.decode(errors="replace").strip())
    return common.parent if done.returncode == 0 and common.name == ".git" else None


def load(path: Path) -> list[dict[str, Any]]:
    try:
        return read_trace(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read the trace: {exc}", hint="pass another run or trace file") from exc


# ---------------------------------------------------------------------------------------- selecting events


def agent_of(event: dict[str, Any]) -> str:
    """The agent an event belongs to; the harness's own decisions belong to ``harness``."""
    return str(event.get("agent") or "harness")


def tools_of(event: dict[str, Any]) -> list[str]:
    """The tools an event is about: the calls a model turn made, or the tool a call or an answer names."""
    if event.get("kind") == "model_call":
        return [str(t) for t in event.get("tool_calls") or []]
    tool = event.get("tool")
    return [str(tool)] if event.get("kind") in ("tool_call", "role_call", "role_result") and tool else []


@dataclass(frozen=True)
class Step:
    """An event in its place: the phase the run was in, and the turn its agent was on."""

    event: dict[str, Any]
    phase: str
    turn: int | None


def steps(events: Iterable[dict[str, Any]]) -> list[Step]:
    phase = "-"
    turns: dict[tuple[str, str], int] = {}
    out = []
    for event in events:
        if event.get("kind") == "phase":
            phase = str(event.get("phase"))
        own = str(event.get("phase") or phase)
        agent = agent_of(event)
        if event.get("kind") == "model_call":
            turns[(agent, own)] = int(event.get("turn") or 0)
        out.append(Step(event, own, turns.get((agent, own)) if agent != "harness" else None))
    return out


def select(events: list[dict[str, Any]], flt: TraceFilter) -> list[Step]:
    return [s for s in steps(events) if s.event.get("kind") != "phase" and flt.matches(s.event, s.phase)]


def vocabulary(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The agents, phases and tools that occur in a run: what a filter can name."""
    staged = steps(events)
    return {
        "agents": sorted({agent_of(s.event) for s in staged}),
        "phases": list(dict.fromkeys(s.phase for s in staged if s.phase != "-")),
        "tools": sorted({t for s in staged for t in tools_of(s.event)}),
    }


# ---------------------------------------------------------------------------------------- the view


@dataclass
class _Totals:
    calls: int = 0
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cost: float = 0.0
    cost_known: bool = True
    peak: int = 0
    handoffs: int = 0
    models: set[str] = field(default_factory=set)

    def add(self, event: dict[str, Any]) -> None:
        self.calls += 1
        self.input += int(event.get("input_tokens") or 0)
        self.output += int(event.get("output_tokens") or 0)
        self.cache_read += int(event.get("cache_read_tokens") or 0)
        self.cache_write += int(event.get("cache_write_tokens") or 0)
        self.peak = max(self.peak, _context(event))
        self.models.add(str(event.get("model")))
        if event.get("cost") is None:
            self.cost_known = False
        else:
            self.cost += float(event["cost"])

    def merge(self, other: _Totals) -> None:
        for name in ("calls", "input", "output", "cache_read", "cache_write", "cost", "handoffs"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.cost_known = self.cost_known and other.cost_known
        self.peak = max(self.peak, other.peak)
        self.models |= other.models

    def cost_text(self) -> str:
        return f"${self.cost:.4f}" if self.cost_known else f"≥${self.cost:.4f} + ?"

    def share(self) -> float | None:
        return cache_read_share({"input": self.input, "cache_read": self.cache_read, "cache_write": self.cache_write})


_WIDE = 130  # columns from which the view is a table; narrower terminals get one line per step


def render(
    console: Console, events: list[dict[str, Any]], shown: list[Step], *, source: Path, flt: TraceFilter
) -> None:
    started = next((e for e in events if e.get("kind") == "run_started"), None)
    finished = next((e for e in reversed(events) if e.get("kind") == "run_finished"), None)
    title = f"trace {source}"
    if started and started.get("step"):  # a planning step: grill, prd or slice
        title = f"{started['step']} {started.get('issue')} (run {started.get('run_id')})"
    elif started:
        title = f"run {started.get('run_id')}: issue {started.get('issue')} '{started.get('title')}'"
    if finished:
        title += f" — {str(finished.get('outcome')).upper()}"
    console.print(Text(title, style="bold"))
    origin = _time(events[0]) if events else None
    wide = console.width >= _WIDE

    table = Table(expand=True, pad_edge=False, show_edge=False, box=None if not wide else SIMPLE_HEAD)
    for name, options in (
        ("time", {"justify": "right", "style": "dim"}),
        ("agent", {}),
        ("phase", {"style": "cyan"}),
        ("turn", {"justify": "right"}),
        ("step", {"ratio": 1, "overflow": "fold", "no_wrap": False}),
        ("in", {"justify": "right"}),
        ("out", {"justify": "right"}),
        ("cache r/w", {"justify": "right"}),
        ("cost", {"justify": "right"}),
        ("total", {"justify": "right"}),
    ):
        table.add_column(name, **{"no_wrap": True, **options})  # type: ignore[arg-type]

    per_agent: dict[str, _Totals] = {}
    running = _Totals()
    for shown_step in shown:
        event, phase = shown_step.event, shown_step.phase
        agent = agent_of(event)
        key = f"{agent}/{phase}"
        turn = "" if shown_step.turn is None else str(shown_step.turn)
        step = _step(event)
        offset = _offset(origin, _time(event))
        tokens: list[str] = []
        if event.get("kind") == "model_call":
            per_agent.setdefault(key, _Totals()).add(event)
            running.add(event)
            tokens = [
                f"{_context(event):,}",
                f"{int(event.get('output_tokens') or 0):,}",
                f"{int(event.get('cache_read_tokens') or 0):,}/{int(event.get('cache_write_tokens') or 0):,}",
                "?" if event.get("cost") is None else f"${float(event['cost']):.4f}",
                running.cost_text(),
            ]
        if event.get("kind") == "context_handoff":
            per_agent.setdefault(key, _Totals()).handoffs += 1
        if wide:
            table.add_row(offset, agent, phase, turn, step, *(tokens or [""] * 5))
            continue
        who = Text.assemble(
            (f"{offset:>7} ", "dim"), (agent, "bold"), "/", (phase, "cyan"), f" #{turn}" if turn else ""
        )
        line = Text.assemble(who, "  ", step)
        if tokens:
            line.append(
                f"  [{tokens[0]} in ({tokens[2]} cache r/w) / {tokens[1]} out, {tokens[3]}, total {tokens[4]}]",
                style="dim",
            )
        console.print(line, soft_wrap=False, overflow="fold")
    if wide:
        console.print(table)
    if not shown:
        return

    columns = ["agent", "calls", "in", "out"]
    columns += ["cache read", "cache write"] if wide else []
    columns += ["cached", "peak", "cost"]
    footer = Table(title="totals per agent", title_justify="left", pad_edge=False, show_edge=False, box=SIMPLE_HEAD)
    for name in columns:
        footer.add_column(name, justify="left" if name == "agent" else "right", no_wrap=True)
    overall = _Totals()
    for key, totals in per_agent.items():
        overall.merge(totals)
        label = key + (f" ({totals.handoffs} hand-off{'s' if totals.handoffs > 1 else ''})" if totals.handoffs else "")
        footer.add_row(label, *_total_cells(totals, wide))
    footer.add_row("all", *_total_cells(overall, wide), style="bold")
    console.print(footer)
    share = overall.share()
    if share is not None:
        scope = " (of the steps shown)" if flt else ""
        console.print(f"cache reads: {share:.1%} of input-side tokens{scope}", highlight=False)
    unpriced = sorted({str(s.event.get("model")) for s in shown if _unpriced(s.event)})
    if unpriced:
        console.print(
            f"cost UNKNOWN for model(s) with no price: {', '.join(unpriced)}; the totals count priced calls only",
            style="bold red",
            highlight=False,
        )


def _unpriced(event: dict[str, Any]) -> bool:
    return event.get("kind") == "model_call" and event.get("cost") is None


def _total_cells(totals: _Totals, wide: bool) -> list[str]:
    share = totals.share()
    cells = [str(totals.calls), f"{totals.input + totals.cache_read + totals.cache_write:,}", f"{totals.output:,}"]
    cells += [f"{totals.cache_read:,}", f"{totals.cache_write:,}"] if wide else []
    cells += ["-" if share is None else f"{share:.1%}", f"{totals.peak:,}", totals.cost_text()]
    return cells


def _step(event: dict[str, Any]) -> Text:
    """What happened, in a few words."""
    kind = event.get("kind")
    if kind == "agent_started":
        handoff = str(event.get("handoff") or "")
        first = handoff.strip().splitlines()[:1]
        terms = _glossary_terms(handoff)
        return Text.assemble(
            ("started ", "bold"),
            f"{event.get('model')}; saw the handoff ({int(event.get('handoff_chars') or 0):,} chars): ",
            (_clip(first[0] if first else "", 100), "dim"),
            (f"; with the glossary: {_clip(', '.join(terms), 120)}" if terms else "", "dim"),
        )
    if kind == "prd_glossary":
        return _glossary_step(event)
    if kind == "model_call":
        tools = ", ".join(str(t) for t in event.get("tool_calls") or []) or f"(stop: {event.get('stop_reason')})"
        said = str(event.get("text") or "").strip().replace("\n", " ")
        return Text.assemble(("model → ", "dim"), (tools, "bold"), (f'  "{_clip(said, 80)}"' if said else "", "dim"))
    if kind == "tool_call":
        tool = str(event.get("tool"))
        key = key_input(tool, event.get("input"))
        if event.get("is_error"):
            first = str(event.get("result") or "").strip().splitlines()[:1]
            return Text.assemble(f"  {tool} {key} ", ("✗ ", "bold red"), (_clip(first[0] if first else "", 120), "red"))
        return Text.assemble(f"  {tool} {key} ", ("✓", "green"), (f" {float(event.get('duration') or 0):.2f}s", "dim"))
    if kind == "role_call":
        tool = str(event.get("tool"))
        return Text.assemble(("⇒ ", "bold"), (tool, "bold magenta"), f" {key_input(tool, event.get('input'))}")
    if kind == "role_result":
        first = str(event.get("text") or "").strip().splitlines()[:1]
        return Text.assemble(("saw the harness's answer: ", "dim"), _clip(first[0] if first else "", 140))
    if kind == "context_handoff":
        return Text(
            f"context {int(event.get('context_tokens') or 0):,} tokens > ceiling {int(event.get('ceiling') or 0):,}: "
            f"fresh context, {int(event.get('messages_dropped') or 0)} messages replaced by a "
            f"{int(event.get('summary_chars') or 0):,}-char summary",
            style="yellow",
        )
    if kind == "unpriced_model":
        return Text(f"WARNING: {event.get('message')}", style="bold red")
    if kind == "test_run":
        return Text(
            f"tests ({event.get('label')}): {event.get('passed')} passed, {event.get('failed')} failed, "
            f"{event.get('collected')} collected ({float(event.get('duration') or 0):.1f}s)",
            style="dim",
        )
    if kind == "guard":
        findings = event.get("findings") or []
        rules = ", ".join(sorted({str(f.get("rule")) for f in findings if isinstance(f, dict)}))
        return Text(f"guards: {len(findings)} finding(s)" + (f" ({rules})" if rules else ""), style="dim")
    if kind == "tests_frozen":
        return Text("tests frozen: " + ", ".join(str(f) for f in event.get("files") or []))
    if kind == "run_finished":
        return Text(f"run finished: {event.get('outcome')} — {event.get('reason')}", style="bold")
    if kind == "review_finished":
        return Text(f"review finished: {event.get('verdict')}" + _could_not(event), style="bold")
    try:
        line = describe(event)
    except (KeyError, TypeError, IndexError):
        line = None
    return Text(line if line is not None else str(kind), style="bold" if kind in _DECISIONS else "")


def _glossary_step(event: dict[str, Any]) -> Text:
    """The parent PRD's glossary every agent was handed, term by term; or why there was none."""
    prd = event.get("prd")
    if event.get("error"):
        return Text(f"PRD {prd}: no glossary handed on ({event.get('error')})", style="yellow")
    terms = [t for t in event.get("terms") or [] if isinstance(t, dict)]
    if not terms:
        return Text(f"PRD {prd}: no glossary", style="dim")
    lines = [f"glossary of PRD {prd}, in every agent's handoff:"]
    lines += [f"  {t.get('term')}: {_clip(str(t.get('definition') or ''), 160)}" for t in terms]
    return Text("\n".join(lines))


def _glossary_terms(handoff: str) -> list[str]:
    """The terms of the ``<glossary>`` block a handoff carries (see ``harness.pipeline``), if any."""
    start, end = handoff.find("<glossary>\n"), handoff.find("\n</glossary>")
    if start < 0 or end < start:
        return []
    block = handoff[start + len("<glossary>\n") : end]
    return [line[2:].partition(": ")[0] for line in block.splitlines() if line.startswith("- ")]


_DECISIONS = frozenset({"red_verified", "green_verified", "commit", "verdict", "contract_reviewed", "tests_reviewed"})


def _could_not(event: dict[str, Any]) -> str:
    reason = event.get("could_not_run")
    return f" (could not run: {reason})" if reason else ""


def _context(event: dict[str, Any]) -> int:
    return sum(int(event.get(k) or 0) for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens"))


def _time(event: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(event.get("ts")))
    except ValueError:
        return None


def _offset(origin: datetime | None, when: datetime | None) -> str:
    if origin is None or when is None:
        return ""
    seconds = max((when - origin).total_seconds(), 0.0)
    if seconds < 60:
        return f"+{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"+{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"+{hours}h{minutes:02d}m"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------- the command


def show(repo: Path, run: str | None, flt: TraceFilter, *, as_json: bool, out: Console, err: Console) -> None:
    """``harness trace``: the filtered events of one run, as a table on ``out`` or a JSON array."""
    path = locate(repo, run)
    events = load(path)
    shown = select(events, flt)
    if as_json:
        print(json.dumps([s.event for s in shown], indent=2, ensure_ascii=False))
    else:
        render(out, events, shown, source=path, flt=flt)
    if flt and not shown:
        known = vocabulary(events)
        err.print(
            f"no events match in {path}; this run has agents {', '.join(known['agents']) or '-'}; "
            f"phases {', '.join(known['phases']) or '-'}; tools {', '.join(known['tools']) or '-'}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    err.print(f"trace: {path}", markup=False, highlight=False, soft_wrap=True)
