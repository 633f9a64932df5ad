"""Mutation evidence on the lines an issue changed (SPEC §6).

Each mutant changes one thing on one changed line of the issue's source (not its tests): an operator, a
comparison, a boolean, a constant, a return value, or a whole statement removed. Every mutant runs against
the contract tests, in the sandbox, in a throwaway export of the committed result, through the same report
channel as every other test run. A mutant the contract tests still pass on *survived*: the tests do not pin
down that line. Survivors go to the verdict evaluator as evidence and into the verdict; ``[gate]
min_mutation_score`` (off by default) fails the verdict below it.

Why a mutator of our own rather than mutmut, cosmic-ray or mutatest: the mutants must run through the
harness's own test runner (sandboxed, with the report on a channel the code under test cannot forge), on
the diff's lines only. mutmut 3 rewrites every function of the project into a trampoline and runs pytest
in-process with its own plugin; cosmic-ray keeps a session database and judges each mutant by the test
command's exit code, which code under test controls; mutatest patches bytecode caches in-process and is
no longer maintained. The operators here are the common core of all three.

Mutants are bounded (:data:`MAX_MUTANTS` by default, spread over the changed lines) and each run has a
timeout derived from an unmutated run of the same tests, so a mutant that loops counts as killed.
"""

from __future__ import annotations

import ast
import copy
import os
import queue
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness.sandbox import Bwrap
from harness.testrunner import TestReport, run_tests

MAX_MUTANTS = 20
MAX_WORKERS = 4  # mutants run in parallel, one per core up to this many

_BINOP_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}
_CMP_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_SYMBOL = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
    ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>", ast.Eq: "==", ast.NotEq: "!=",
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is",
    ast.IsNot: "is not", ast.And: "and", ast.Or: "or",
}  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int
    change: str  # "`a + b` becomes `a - b`"
    source: str  # the whole mutated file

    def describe(self) -> str:
        return f"{self.path}:{self.line} {self.change}"


@dataclass
class MutationResult:
    killed: list[Mutant] = field(default_factory=list)
    survived: list[Mutant] = field(default_factory=list)
    skipped: str = ""  # why no mutant ran, when none did
    duration: float = 0.0

    @property
    def total(self) -> int:
        return len(self.killed) + len(self.survived)

    @property
    def score(self) -> float | None:
        return len(self.killed) / self.total if self.total else None

    def summary(self) -> str:
        if not self.total:
            return f"Mutation check: no mutants ({self.skipped or 'no mutable source line changed'})."
        text = (
            f"Mutation check on the changed source lines: {len(self.killed)} of {self.total} mutants killed by the "
            f"contract tests ({self.score:.0%})."
        )
        if self.survived:
            text += " Survivors (the contract tests pass with these changes, so they do not pin these lines down): " + (
                "; ".join(m.describe() for m in self.survived[:10])
            )
        return text


# ----------------------------------------------------------------------------- making mutants (pure)


def mutants(files: Mapping[str, str], changed: Mapping[str, set[int]], *, limit: int = MAX_MUTANTS) -> list[Mutant]:
    """Up to ``limit`` mutants of the ``changed`` lines of ``files`` (path → source), spread over files and
    lines: the first mutation of every site first, in file and line order, then no more."""
    sites: list[tuple[str, ast.Module, _Site]] = []
    for path in sorted(changed):
        source = files.get(path)
        if source is None:
            continue
        try:
            module = ast.parse(source)
        except SyntaxError:
            continue
        lines = changed[path]
        sites += [(path, module, site) for site in _sites(module, lines)]
    picked = _spread(sites, limit)
    out = []
    for path, module, site in picked:
        mutated = _apply(module, site)
        if mutated is not None:
            out.append(Mutant(path, site.line, site.change, mutated))
    return out


@dataclass(frozen=True)
class _Site:
    index: int  # position of the node in ast.walk order
    line: int
    kind: str
    change: str


def _spread(sites: list[tuple[str, ast.Module, _Site]], limit: int) -> list[tuple[str, ast.Module, _Site]]:
    """At most ``limit`` sites, one per line first (round-robin over lines), so a long line does not take all."""
    by_line: dict[tuple[str, int], list[tuple[str, ast.Module, _Site]]] = {}
    for entry in sites:
        by_line.setdefault((entry[0], entry[2].line), []).append(entry)
    picked: list[tuple[str, ast.Module, _Site]] = []
    depth = 0
    while len(picked) < limit and any(len(v) > depth for v in by_line.values()):
        for key in sorted(by_line):
            if depth < len(by_line[key]) and len(picked) < limit:
                picked.append(by_line[key][depth])
        depth += 1
    return picked


def _docstrings(module: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(module):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                ids.add(id(value))
    return ids


def _sites(module: ast.Module, lines: set[int]) -> Iterator[_Site]:
    docstrings = _docstrings(module)
    for index, node in enumerate(ast.walk(module)):
        line = getattr(node, "lineno", None)
        if line not in lines:
            continue
        for kind, change in _mutations(node, docstrings):
            yield _Site(index, line, kind, change)


def _mutations(node: ast.AST, docstrings: set[int]) -> Iterator[tuple[str, str]]:
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
        operator = _BINOP_SWAP[type(node.op)]
        yield "binop", f"`{_SYMBOL[type(node.op)]}` becomes `{_SYMBOL[operator]}` in `{_clip(node)}`"
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP_SWAP:
        comparison = _CMP_SWAP[type(node.ops[0])]
        yield "compare", f"`{_SYMBOL[type(node.ops[0])]}` becomes `{_SYMBOL[comparison]}` in `{_clip(node)}`"
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield "boolop", f"`{_SYMBOL[type(node.op)]}` becomes `{_SYMBOL[other]}` in `{_clip(node)}`"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not", f"`{_clip(node)}` loses its `not`"
    elif isinstance(node, ast.Constant) and id(node) not in docstrings:
        value = node.value
        if isinstance(value, bool):
            yield "constant", f"`{value!r}` becomes `{(not value)!r}`"
        elif isinstance(value, int):
            yield "constant", f"`{value!r}` becomes `{value + 1!r}`"
        elif isinstance(value, str) and value:
            yield "constant", f"the string `{_clip(node)}` becomes empty"
    elif isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            yield "return", f"`return {_clip(node.value)}` becomes `return None`"
    elif isinstance(node, ast.Expr | ast.AugAssign | ast.Assign) and not (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    ):
        yield "remove", f"the statement `{_clip(node)}` is removed"


def _apply(module: ast.Module, site: _Site) -> str | None:
    tree = copy.deepcopy(module)
    nodes = list(ast.walk(tree))
    node = nodes[site.index]
    if site.kind == "binop":
        assert isinstance(node, ast.BinOp)
        node.op = _BINOP_SWAP[type(node.op)]()
    elif site.kind == "compare":
        assert isinstance(node, ast.Compare)
        node.ops = [_CMP_SWAP[type(node.ops[0])]()]
    elif site.kind == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif site.kind == "not":
        assert isinstance(node, ast.UnaryOp)
        if not _replace(tree, node, node.operand):
            return None
    elif site.kind == "constant":
        assert isinstance(node, ast.Constant)
        value = node.value
        node.value = (not value) if isinstance(value, bool) else value + 1 if isinstance(value, int) else ""
    elif site.kind == "return":
        assert isinstance(node, ast.Return)
        node.value = ast.Constant(value=None)
    elif site.kind == "remove" and not _replace(tree, node, ast.Pass()):
        return None
    ast.fix_missing_locations(tree)
    try:
        return ast.unparse(tree) + "\n"
    except (ValueError, RecursionError):
        return None


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> bool:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return True
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return True
    return False


def _clip(node: ast.AST, limit: int = 50) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------- running them (shell)


def killed(report: TestReport, tests: Sequence[str]) -> bool:
    """A mutant is killed when a contract test does not pass on it (failed, errored, not collected, timed out)."""
    if report.timed_out or not report.ran or report.collection_errors:
        return True
    for test in tests:
        found = [o for k, o in report.outcomes.items() if k == test or k.startswith(test + "[")]
        if not found or any(o.outcome != "passed" for o in found):
            return True
    return False


def run(
    tree: Path,
    candidates: Sequence[Mutant],
    contract_tests: Sequence[str],
    *,
    command: Sequence[str],
    timeout: float,
    sandbox: Bwrap | None,
) -> MutationResult:
    """Run each mutant against the contract tests in ``tree`` (an export of the result, removed by the
    caller), restoring the file after each."""
    result = MutationResult()
    if not candidates:
        result.skipped = "no mutable source line changed"
        return result
    started = time.monotonic()
    calibration = run_tests(tree, command, node_ids=list(contract_tests), timeout=timeout, sandbox=sandbox)
    if killed(calibration, contract_tests):
        result.skipped = "the contract tests do not pass on the unmutated result"
        return result
    per_mutant = min(timeout, max(10.0, 5 * calibration.duration))
    workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1, len(candidates)))
    # One copy of the tree per worker, next to it (removed with the export): a worker mutates its own copy.
    copies = [tree] + [_copy(tree, tree.parent / f"{tree.name}-mutants-{n}") for n in range(1, workers)]
    free: queue.Queue[Path] = queue.Queue()
    for copy_ in copies:
        free.put(copy_)

    def one(mutant: Mutant) -> bool:
        where = free.get()
        target = where / mutant.path
        original = target.read_bytes()
        try:
            target.write_text(mutant.source, encoding="utf-8")
            report = run_tests(where, command, node_ids=list(contract_tests), timeout=per_mutant, sandbox=sandbox)
        finally:
            target.write_bytes(original)
            free.put(where)
        return killed(report, contract_tests)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one, candidates))
    for mutant, dead in zip(candidates, outcomes, strict=True):
        (result.killed if dead else result.survived).append(mutant)
    result.duration = time.monotonic() - started
    return result


def _copy(tree: Path, target: Path) -> Path:
    shutil.copytree(tree, target, symlinks=True)
    return target
