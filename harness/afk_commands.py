"""`harness afk`, `harness status`, `harness report` between typer and :mod:`harness.afk` / :mod:`harness.board`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

from harness import gitops
from harness.board import board_document, find_batch, load_batch, render_board, write_report
from harness.config import load_config


def run_afk_command(repo: Path, options: Any, *, worker: bool, as_json: bool, err: Console, out: Console) -> int:
    from harness.afk import batch_exit_code, open_batch, run_batch, run_worker

    if worker:
        def ready(worker_id: str) -> None:
            err.print(
                f"worker {worker_id}: connected, taking issues from the shared queue; Ctrl-C stops it (running "
                "issues stop at their next model call and are resumed by the coordinator's `harness afk --resume`)",
                markup=False,
                soft_wrap=True,
            )

        run_worker(repo, options, on_ready=ready)
        return 0
    rt, state, path, issues = open_batch(repo, options)
    if rt.sandbox is None:
        from harness.sandbox import unsandboxed_warning

        err.print(unsandboxed_warning(rt.config.sandbox), style="yellow", markup=False, soft_wrap=True)
    err.print(
        f"batch {state.batch}: {len(state.issues)} issue(s), landing on {state.integration_branch}; "
        f"--parallel {state.parallel}"
        + (f", --max-cost ${state.max_cost:.2f}" if state.max_cost is not None else "")
        + (f", --until {state.until}" if state.until else "")
        + ". Ctrl-C once: start nothing new; twice: stop running agents at a safe point.",
        markup=False,
        soft_wrap=True,
    )
    live = Live(console=err, refresh_per_second=2, transient=False) if err.is_terminal else None
    seen: dict[str, str] = {}

    def changed(coordinator: Any) -> None:
        batch, progress = load_batch(path)
        if live is not None:
            live.update(render_board(batch, progress))
            return
        for p in progress:  # one line per change of state or phase, for logs and CI
            key = f"{p.state}/{p.phase or '-'}"
            if seen.get(p.id) != key:
                seen[p.id] = key
                detail = f" ({p.phase})" if p.phase and p.state == "running" else ""
                reason = f": {p.reason}" if p.reason and p.state in ("blocked", "incomplete") else ""
                err.print(f"{p.id} {p.state}{detail}{reason}", markup=False, soft_wrap=True)

    if live is not None:
        live.start()
    try:
        run_batch(rt, state, path, issues, database_url=options.database_url, on_change=changed)
    finally:
        if live is not None:
            live.stop()
    report_path, markdown = write_report(path)
    batch, progress = load_batch(path)
    if as_json:
        print(json.dumps({**board_document(batch, progress), "report": str(report_path)}, indent=2))
    else:
        out.print(Markdown(markdown))
    err.print(f"report: {report_path}", markup=False, soft_wrap=True)
    return batch_exit_code(progress)


def _harness_dir(repo: Path) -> Path:
    root = gitops.repo_root(repo)
    return root / load_config(root).harness_dir


def run_status_command(repo: Path, batch: str | None, *, as_json: bool, watch: bool, err: Console) -> int:
    path = find_batch(_harness_dir(repo), batch)
    state, progress = load_batch(path)
    if as_json:
        print(json.dumps(board_document(state, progress), indent=2))
        return 0
    if not watch:
        Console(highlight=False).print(render_board(state, progress))
        return 0
    with Live(render_board(state, progress), console=Console(highlight=False), refresh_per_second=2) as live:
        while True:
            time.sleep(1)
            state, progress = load_batch(path)
            live.update(render_board(state, progress))
            if state.finished:
                return 0


def run_report_command(repo: Path, batch: str | None, *, as_json: bool, err: Console) -> int:
    path = find_batch(_harness_dir(repo), batch)
    report_path, markdown = write_report(path)
    if as_json:
        state, progress = load_batch(path)
        print(json.dumps({**board_document(state, progress), "report": str(report_path)}, indent=2))
    else:
        Console(highlight=False).print(Markdown(markdown))
        err.print(f"written: {report_path}", markup=False, soft_wrap=True)
    return 0
