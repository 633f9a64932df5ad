"""Is red red, is green green: pure decisions over the harness's own test results (SPEC §6).

Nothing here runs a process or touches git. The pipeline runs the suite (``testrunner``), hashes
the frozen files, and asks these functions; what they return is shown to the generator as is, so
every problem says what was seen and what to do next.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.guard.model import GuardFinding
from harness.testrunner import CollectionError, TestOutcome, TestReport

# Exceptions that mean "the behaviour is not there yet": a failing assertion, an explicit stub,
# a name or module the contract says will be created, or pytest.raises that did not raise.
MISSING_BEHAVIOUR = frozenset(
    {
        "AssertionError",
        "NotImplementedError",
        "ImportError",
        "ModuleNotFoundError",
        "AttributeError",
        "NameError",
        "Failed",
    }
)
MISSING_AT_IMPORT = frozenset({"ImportError", "ModuleNotFoundError", "AttributeError", "NameError"})


@dataclass(frozen=True)
class Baseline:
    """The suite before the issue began: what passed is what must keep passing."""

    passed: frozenset[str]
    collected: int
    failing: frozenset[str]
    broken_files: frozenset[str] = frozenset()  # failed to collect before the issue began: not the agent's doing

    @classmethod
    def from_report(cls, report: TestReport) -> Baseline:
        return cls(
            passed=report.passed(),
            collected=report.collected,
            failing=report.failed(),
            broken_files=frozenset(err.nodeid for err in report.collection_errors),
        )


@dataclass(frozen=True)
class TestStatus:
    nodeid: str
    ok: bool
    reason: str


@dataclass(frozen=True)
class GateResult:
    ok: bool
    tests: tuple[TestStatus, ...] = ()
    problems: tuple[str, ...] = ()
    fingerprint: str = ""

    def explain(self) -> str:
        """The result in words a generator can act on."""
        lines = [("PASSED" if self.ok else "REJECTED") + " by the harness's own test run."]
        for status in self.tests:
            lines.append(f"- {'ok ' if status.ok else 'NOT OK'} {status.nodeid}: {status.reason}")
        lines.extend(f"- {problem}" for problem in self.problems)
        return "\n".join(lines)


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def defined_tests(source: str) -> set[str]:
    """``name`` and ``Class::name`` of the test functions a file defines (parsed, not imported)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}::{item.name}")
    return names


def verify_red(
    report: TestReport,
    tests: Sequence[str],
    *,
    contract_tests: Sequence[str],
    baseline: Baseline,
    sources: Mapping[str, str],
    guard: Sequence[GuardFinding] = (),
) -> GateResult:
    """Every listed test exists and fails because the behaviour is missing; nothing else broke.

    ``sources`` maps each listed test file to its text, so that a test in a file that cannot be
    imported yet (the module under test does not exist) can still be shown to exist.
    """
    problems: list[str] = []
    if not report.ran:
        return _did_not_run(report)
    missing = [t for t in contract_tests if t not in tests]
    if missing:
        problems.append(
            "tests_ready must list every test the contract names; missing: "
            + ", ".join(missing)
            + ". Write them, or list them if they exist."
        )
    collection = {err.nodeid: err for err in report.collection_errors}
    statuses = []
    for nodeid in dict.fromkeys([*tests, *missing]):
        statuses.append(_red_status(nodeid, report, sources))
    test_files = {file_of(t) for t in tests}
    for path, err in collection.items():
        if path not in test_files and path not in baseline.broken_files:
            problems.append(
                f"{path} fails to collect ({err.exc_type}): {err.message.strip()[:400]} — "
                "the red run must collect every other test file; fix this error."
            )
    problems.extend(_regressions(report, baseline))
    problems.extend(guard_problems(guard))
    ok = all(s.ok for s in statuses) and not problems
    return GateResult(
        ok=ok, tests=tuple(statuses), problems=tuple(problems), fingerprint=_fingerprint(statuses, problems)
    )


def guard_problems(findings: Sequence[GuardFinding]) -> list[str]:
    """Blocking guard findings, as gate problems the generator can act on."""
    return [
        f"guard {f.rule} {f.name} at {f.path}{f':{f.line}' if f.line else ''}: {f.message} Fix: {f.fix}"
        for f in findings
        if f.blocking
    ]


def cases(report: TestReport, nodeid: str) -> list[TestOutcome]:
    """The outcome of ``nodeid``; for a parametrized function named without its case, every case."""
    exact = report.outcome(nodeid)
    if exact is not None:
        return [exact]
    prefix = nodeid + "["
    return [o for key, o in sorted(report.outcomes.items()) if key.startswith(prefix)]


def _red_status(nodeid: str, report: TestReport, sources: Mapping[str, str]) -> TestStatus:
    found = cases(report, nodeid)
    if len(found) > 1:
        per_case = [_red_outcome(o.nodeid, o) for o in found]
        bad = next((c for c in per_case if not c.ok), None)
        if bad is not None:
            return TestStatus(nodeid, False, f"case {bad.nodeid.removeprefix(nodeid)} {bad.reason}")
        return TestStatus(nodeid, True, f"red: all {len(found)} cases fail; first: {per_case[0].reason}")
    if found:
        return _red_outcome(nodeid, found[0])
    path = file_of(nodeid)
    err = report_collection_error(report, path)
    name = nodeid.split("::", 1)[1] if "::" in nodeid else ""
    defined = defined_tests(sources.get(path, ""))
    base_name = name.split("[", 1)[0]
    if err is None:
        return TestStatus(
            nodeid,
            False,
            "was not collected: there is no such test. Check the file path and name "
            "(`python -m pytest --collect-only -q` lists the node ids).",
        )
    if err.exc_type in ("SyntaxError", "IndentationError", "TabError"):
        return TestStatus(nodeid, False, f"{path} has a {err.exc_type}; fix the test file: {_short(err.message)}")
    if err.exc_type in MISSING_AT_IMPORT and base_name in defined:
        return TestStatus(
            nodeid,
            True,
            f"red: {path} cannot import what does not exist yet ({err.exc_type}: {_short(err.message)})",
        )
    if err.exc_type in MISSING_AT_IMPORT:
        return TestStatus(nodeid, False, f"{path} does not define {name!r}; name the test as the contract does.")
    return TestStatus(
        nodeid,
        False,
        f"{path} fails to collect with {err.exc_type}, not because the behaviour is missing: {_short(err.message)}",
    )


def _red_outcome(nodeid: str, outcome: TestOutcome) -> TestStatus:
    if outcome.outcome == "passed":
        return TestStatus(
            nodeid,
            False,
            "already passes, so it does not prove the missing behaviour. Make it assert the new behaviour "
            "the contract describes (a test that passes before the change tests nothing new).",
        )
    if outcome.outcome in ("skipped", "xfailed", "xpassed"):
        return TestStatus(nodeid, False, f"is {outcome.outcome}; red tests must run and fail. Remove the skip/xfail.")
    if outcome.outcome == "error":
        return TestStatus(
            nodeid,
            False,
            f"errors in {outcome.phase} ({outcome.exc_type}), before the behaviour is even exercised: "
            f"{_short(outcome.message)}. Fix the fixture or setup so the test fails on its assertion.",
        )
    if outcome.exc_type in MISSING_BEHAVIOUR:
        return TestStatus(nodeid, True, f"red: fails with {outcome.exc_type}: {_short(outcome.message)}")
    return TestStatus(
        nodeid,
        False,
        f"fails with {outcome.exc_type}, which points at a bug in the test rather than missing behaviour: "
        f"{_short(outcome.message)}. A red test should fail on an assertion, NotImplementedError, or a missing name.",
    )


def report_collection_error(report: TestReport, path: str) -> CollectionError | None:
    return next((err for err in report.collection_errors if err.nodeid == path), None)


def verify_green(
    report: TestReport,
    *,
    contract_tests: Sequence[str],
    baseline: Baseline,
    min_collected: int,
    guard: Sequence[GuardFinding] = (),
) -> GateResult:
    """Contract tests pass, nothing that passed before fails, nothing was hidden, and the guards
    (frozen tests and contract unchanged, no skips or deselection, ...) found nothing blocking."""
    if not report.ran:
        return _did_not_run(report)
    statuses = []
    for nodeid in contract_tests:
        found = cases(report, nodeid)
        failing = [o for o in found if o.outcome != "passed"]
        if not found:
            statuses.append(TestStatus(nodeid, False, "was not collected in the green run; it must run and pass."))
        elif failing:
            o = failing[0]
            case = o.nodeid.removeprefix(nodeid)
            where = f"case {case} " if case else ""
            statuses.append(TestStatus(nodeid, False, f"{where}{o.outcome} ({o.exc_type}): {_short(o.message)}"))
        else:
            statuses.append(TestStatus(nodeid, True, "passes" if len(found) == 1 else f"all {len(found)} cases pass"))
    problems = guard_problems(guard)
    for err in report.collection_errors:
        if err.nodeid not in baseline.broken_files:
            problems.append(f"{err.nodeid} fails to collect ({err.exc_type}): {_short(err.message)}")
    if report.collected < min_collected:
        problems.append(
            f"the suite collected {report.collected} tests, fewer than the {min_collected} collected before; "
            "tests must not be removed, deselected or hidden."
        )
    problems.extend(_regressions(report, baseline))
    ok = all(s.ok for s in statuses) and not problems
    return GateResult(
        ok=ok, tests=tuple(statuses), problems=tuple(problems), fingerprint=_fingerprint(statuses, problems)
    )


def is_stuck(fingerprints: Sequence[str], repeats: int) -> bool:
    """The same failure ``repeats`` times in a row: more attempts will not help."""
    return len(fingerprints) >= repeats and len(set(fingerprints[-repeats:])) == 1


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _regressions(report: TestReport, baseline: Baseline) -> list[str]:
    broken = sorted(baseline.passed - report.passed())
    if not broken:
        return []
    details = []
    for nodeid in broken[:20]:
        outcome = report.outcome(nodeid)
        what = "was not collected" if outcome is None else f"{outcome.outcome} ({outcome.exc_type})"
        details.append(f"{nodeid} {what}")
    more = f" and {len(broken) - 20} more" if len(broken) > 20 else ""
    unimportable = sorted({file_of(n) for n in broken} & {e.nodeid for e in report.collection_errors})
    if unimportable:
        return [
            f"regression: {', '.join(unimportable)} no longer imports, so tests in it that passed before do not run: "
            + "; ".join(details)
            + more
            + ". If your new tests import a name that does not exist yet, import it inside the new test functions "
            "or put the new tests in a new file, so the existing tests keep running."
        ]
    return [
        "regression: tests that passed before this issue began no longer pass: "
        + "; ".join(details)
        + more
        + ". Fix the code that broke them; do not change those tests."
    ]


def _did_not_run(report: TestReport) -> GateResult:
    what = "timed out" if report.timed_out else f"ended with exit code {report.exit_code} and no results"
    problem = (
        f"the test run {what}, so nothing can be verified. Last output:\n{report.output_tail[-2000:]}\n"
        "Fix whatever hangs or crashes the test process (an infinite loop, os._exit, a blocking input())."
    )
    return GateResult(ok=False, problems=(problem,), fingerprint=_fingerprint([], ["did-not-run", what]))


_VOLATILE = (
    (re.compile(r"0x[0-9a-fA-F]+"), "0x?"),
    (re.compile(r"pytest-of-[^/\s]+/pytest-\d+"), "pytest-tmp"),
    (re.compile(r"/tmp/[\w.-]+"), "/tmp/?"),
    (re.compile(r"\d+\.\d+s\b"), "?s"),
)


def _stable(text: str) -> str:
    """The text without what changes from run to run (addresses, temp dirs, durations)."""
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _fingerprint(statuses: Sequence[TestStatus], problems: Sequence[str]) -> str:
    parts = sorted(_stable(f"{s.nodeid}:{s.ok}:{s.reason}")[:160] for s in statuses)
    parts += sorted(_stable(p)[:240] for p in problems)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
