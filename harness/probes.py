"""Evaluator probes (SPEC §6): tests the verdict evaluator writes from the contract — fresh inputs and edge
cases, not the generator's — handed in with ``submit_verdict`` and run by the harness against the result.

A probe is a complete pytest module. The harness writes each one next to the contract tests (so their
``conftest.py`` fixtures apply) in a throwaway export of the result, under a name with a random token, and
runs them all in one sandboxed pytest run. A probe test that fails is a blocker finding with its output:
this is what catches an implementation that special-cases the contract tests' inputs or keeps state across
calls. A probe that cannot run (it does not parse, imports a name the contract never promised, collects no
test) says nothing about the implementation: it is reported, not held against it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from harness.artifacts import Finding
from harness.roles import Probe
from harness.sandbox import Bwrap
from harness.testrunner import TestReport, run_tests

_MESSAGE_CHARS = 1500


@dataclass
class ProbeResult:
    ran: int = 0  # probes that ran
    failed: dict[str, list[str]] = field(default_factory=dict)  # probe name → its failing tests, with messages
    unrunnable: dict[str, str] = field(default_factory=dict)  # probe name → why it could not run
    passed: list[str] = field(default_factory=list)

    def findings(self, probes: Sequence[Probe], paths: dict[str, str]) -> list[Finding]:
        """A blocker per failing probe, for the verdict."""
        by_name = {p.name: p for p in probes}
        out = []
        for name, failures in self.failed.items():
            probe = by_name[name]
            about = f" ({probe.criterion})" if probe.criterion else ""
            out.append(
                Finding(
                    severity="blocker",
                    axis="spec",
                    path=paths[name],
                    message=f"the evaluator's probe `{name}`{about} fails on the result: " + "; ".join(failures),
                    required_fix="meet the contract for inputs beyond the contract tests' own (this probe is not "
                    "committed; do not special-case its inputs either: a fresh evaluator writes new probes)",
                )
            )
        return out

    def summary(self) -> str:
        if not (self.ran or self.unrunnable):
            return (
                "The evaluator wrote no probes: an implementation that special-cases the contract tests' inputs "
                "was not checked."
            )
        parts = [f"{self.ran} evaluator probe(s) ran: {len(self.passed)} passed, {len(self.failed)} failed."]
        if self.unrunnable:
            parts.append(
                "Could not run (not held against the work): "
                + "; ".join(f"{name}: {why}" for name, why in self.unrunnable.items())
            )
        return " ".join(parts)


def probe_dir(contract_tests: Sequence[str]) -> str:
    """Where probes go: the directory of the first contract test file (its conftest applies), else ``tests``."""
    for test in contract_tests:
        parent = PurePosixPath(test.split("::", 1)[0]).parent
        return "" if str(parent) == "." else str(parent)
    return "tests"


def paths_for(probes: Sequence[Probe], directory: str, token: str) -> dict[str, str]:
    prefix = f"{directory}/" if directory else ""
    return {p.name: f"{prefix}test_probe_{token}_{p.name}.py" for p in probes}


def judge(probes: Sequence[Probe], paths: dict[str, str], report: TestReport) -> ProbeResult:
    """What the run says about each probe (pure)."""
    result = ProbeResult()
    if not report.ran or report.timed_out:
        why = "the probe run timed out" if report.timed_out else f"pytest reported nothing (exit {report.exit_code})"
        result.unrunnable = {p.name: why for p in probes}
        return result
    errors = {e.nodeid: e for e in report.collection_errors}
    for probe in probes:
        path = paths[probe.name]
        if path in errors:
            error = errors[path]
            result.unrunnable[probe.name] = f"it does not collect ({error.exc_type}): {_clip(error.message)}"
            continue
        outcomes = {k: o for k, o in report.outcomes.items() if k.startswith(path + "::")}
        if not outcomes:
            result.unrunnable[probe.name] = "it holds no test pytest collected"
            continue
        result.ran += 1
        failing = [
            f"{k.removeprefix(path + '::')} {o.outcome} ({o.exc_type}): {_clip(o.message)}"
            for k, o in sorted(outcomes.items())
            if o.outcome in ("failed", "error")
        ]
        if failing:
            result.failed[probe.name] = failing
        else:
            result.passed.append(probe.name)
    return result


def run(
    tree: Path,
    probes: Sequence[Probe],
    contract_tests: Sequence[str],
    *,
    command: Sequence[str],
    timeout: float,
    sandbox: Bwrap | None,
) -> tuple[ProbeResult, dict[str, str]]:
    """Write ``probes`` into ``tree`` (an export of the result, removed by the caller), run them, judge."""
    if not probes:
        return ProbeResult(), {}
    paths = paths_for(probes, probe_dir(contract_tests), secrets.token_hex(4))
    for probe in probes:
        target = tree / paths[probe.name]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(probe.code, encoding="utf-8")
    report = run_tests(tree, command, node_ids=list(paths.values()), timeout=timeout, sandbox=sandbox)
    return judge(probes, paths, report), paths


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "..."
