"""The guard rules (SPEC §7): pure functions from a diff (base → head) to findings. No I/O, no model.

Python is read with :mod:`ast`, never with regexes, wherever structure matters; configuration with
:mod:`tomllib` and :mod:`configparser`. Each text is parsed at most once per :func:`check`, files no
rule needs are never parsed, and a file that does not parse is skipped by the ast rules.

The catalogue with a bad and a good example per rule is ``docs/guards.md``.
"""

from __future__ import annotations

import ast
import configparser
import copy
import fnmatch
import hashlib
import re
import shlex
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple, TypeGuard, TypeVar

from harness.digest import contract_digest
from harness.errors import UsageError
from harness.frontmatter import parse as parse_front_matter
from harness.guard import suite, techniques
from harness.guard.model import FileChange, GuardContext, GuardFinding, Rule, Severity
from harness.testrunner import NONCE_FD_ENV, PLUGIN_MODULE, REPORT_FD_ENV

_RULE_LIST = (
    Rule("HG001", "test-file-removed", "error", "a test file was deleted, or renamed so pytest no longer collects it"),
    Rule(
        "HG002", "test-removed", "error", "a test function or method that existed at base is gone (deleted or renamed)"
    ),
    Rule(
        "HG003",
        "assertions-weakened",
        "error",
        "an existing test has fewer checks, a trivially true assert, swallowed assertions or a broader pytest.raises",
    ),
    Rule(
        "HG004",
        "skip-added",
        "error",
        "a new skip, skipif, xfail, importorskip or skipTest in a test file or conftest.py",
    ),
    Rule(
        "HG005",
        "test-selection-changed",
        "error",
        "pytest or coverage configuration now collects or runs fewer tests, or asks for less coverage",
    ),
    Rule(
        "HG006",
        "collection-hook-added",
        "error",
        "conftest.py gained or changed a hook, collect_ignore entry or config mutation that can hide tests",
    ),
    Rule(
        "HG007",
        "test-detection-in-code",
        "error",
        "non-test code now checks whether it runs under pytest (PYTEST_CURRENT_TEST, sys.modules, sys.argv)",
    ),
    Rule("HG008", "contract-edited", "error", "the agreed contract's criteria, allowances or digest changed"),
    Rule("HG009", "frozen-test-edited", "error", "a test file frozen after test review was changed, deleted or moved"),
    Rule(
        "HG010",
        "protected-path-changed",
        "error",
        "a path protected by the harness configuration was changed (a warning where no contract applies)",
    ),
    Rule("HG011", "test-without-assertion", "error", "a new test function contains no check at all"),
    Rule(
        "HG012",
        "test-report-tampering",
        "error",
        "code names the harness's test report or its plugin, or a test or conftest.py calls os._exit",
    ),
    Rule(
        "HG023",
        "test-file-unreadable",
        "error",
        "a test file or conftest.py is a symbolic link, binary, undecodable or over 1 MB: its tests cannot be checked",
    ),
)
RULES: dict[str, Rule] = {
    rule.id: rule for rule in sorted((*_RULE_LIST, *techniques.RULES, *suite.RULES), key=lambda r: r.id)
}


def is_test_file(path: str) -> bool:
    """``test_*.py`` or ``*_test.py`` anywhere, or any ``.py`` under a ``tests/`` or ``test/`` directory;
    never ``conftest.py``."""
    parts = path.replace("\\", "/").split("/")
    name = parts[-1]
    if not name.endswith(".py") or name == "conftest.py":
        return False
    return _collectable(name) or any(part in ("tests", "test") for part in parts[:-1])


_NO_CONTEXT = GuardContext()


def check(changes: Sequence[FileChange], context: GuardContext = _NO_CONTEXT) -> list[GuardFinding]:
    """Every finding over ``changes``, sorted by (path, line, rule). Findings the contract allows keep
    their severity and carry the allowance's reason in ``allowed_by``."""
    run = _Run(changes, context)
    findings: list[GuardFinding] = []
    for change in changes:
        findings.extend(run.findings_for(change))
    allowed = [_apply_allowances(finding, context) for finding in findings]
    return sorted(allowed, key=lambda f: (f.path, f.line or 0, f.rule))


# --------------------------------------------------------------------------- plumbing


def _finding(
    rule_id: str,
    path: str,
    line: int | None,
    message: str,
    fix: str,
    severity: Severity | None = None,
    *,
    side: Literal["head", "base"] = "head",
) -> GuardFinding:
    rule = RULES[rule_id]
    return GuardFinding(rule.id, rule.name, severity or rule.severity, path, line, message, fix, side=side)


def _allow_hint(rule_id: str) -> str:
    return (
        f"If the issue genuinely needs this change, the agreed contract must list an allowance for {rule_id} "
        "on this path (`allow:` with rule, path and reason)."
    )


def _apply_allowances(finding: GuardFinding, context: GuardContext) -> GuardFinding:
    if finding.rule == "HG008":
        return finding  # allowances live in the contract: one that allowed editing the contract would undo its freeze
    for allowance in context.allowances:
        if allowance.covers(finding.rule, finding.name, finding.path):
            return replace(finding, allowed_by=allowance.reason)
    return finding


_PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)
_UNPARSABLE = ast.Module(body=[], type_ignores=[])  # a sentinel in the parse cache: not valid Python


@dataclass
class _PyDiff:
    """A Python file's change at the level of top-level statements.

    Statements whose text (and parse context) is identical on both sides come ``before`` and ``after`` the
    ones that differ. Every rule compares the two sides, so identical statements cancel out: only ``base``
    and ``head`` are walked. When the split cannot be proven safe, ``base`` and ``head`` are the whole
    modules and ``before``/``after`` are empty.
    """

    base: list[ast.stmt]  # base statements that differ (base line numbers)
    head: list[ast.stmt]  # head statements that differ (head line numbers)
    before: list[ast.stmt]  # identical statements before them (head line numbers, equal to the base's)
    after: list[ast.stmt]  # identical statements after them (head line numbers)
    base_lines: list[str]
    head_lines: list[str]

    def base_module(self) -> list[ast.stmt]:
        return [*self.before, *self.base, *self.after]

    def head_module(self) -> list[ast.stmt]:
        return [*self.before, *self.head, *self.after]


class _Helpers:
    """One side's functions by name, to resolve a call from a test to a helper that asserts (one level)."""

    def __init__(self, stmts: Iterable[ast.stmt], extra: Mapping[str, bool], scan: Callable[[_Func], _Scan]) -> None:
        self.defs: dict[str, list[_Func]] = {}
        for func in _defs(stmts):
            self.defs.setdefault(func.name, []).append(func)
        self.extra = extra
        self.scan = scan
        self._memo: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        if name.startswith("test"):
            return False  # a test calling another test: pytest runs that one on its own anyway
        known = self._memo.get(name)
        if known is None:
            funcs = self.defs.get(name)
            known = any(self.scan(f).direct > 0 for f in funcs) if funcs else self.extra.get(name, False)
            self._memo[name] = known
        return known


def _parse(text: str) -> ast.Module:
    try:
        return ast.parse(text)
    except _PARSE_ERRORS:
        return _UNPARSABLE


class _Run:
    """One call of :func:`check`: parse caches and the conftest helpers every test file may call."""

    def __init__(self, changes: Sequence[FileChange], context: GuardContext) -> None:
        self.context = context
        self._conftests = [c for c in changes if _basename(c.path) == "conftest.py"]
        self._conftest_helpers: tuple[dict[str, bool], dict[str, bool]] | None = None
        # Only conftest.py texts are read twice (helpers for every test file, then their own rules). Keeping
        # every other tree alive would make each garbage collection walk all of them: slower than no cache.
        self._shared = {text for c in self._conftests for text in (c.old_text, c.new_text) if text is not None}
        self._trees: dict[str, ast.Module] = {}
        self._local: dict[str, ast.Module] = {}  # the two sides of the change being checked: each parsed once
        self._lines: dict[str, list[str]] = {}
        self._head_rows: Counter[str] | None = None
        self._changes = changes
        self._head_bodies: list[_Body] | None = None
        self._removed_symbols: set[str] | None = None
        self._base_bodies: set[tuple[str, ...]] | None = None
        self._python_files: tuple[str, ...] | None = None

    def existed(self, func: _Func) -> bool:
        """Whether a test new at its place had the same body at base somewhere in the change (moved here):
        a test without a check that was already there is no new one."""
        if self._base_bodies is None:
            bodies: set[tuple[str, ...]] = set()
            for change in self._changes:
                base_path = (change.old_path or change.path) if change.status != "added" else None
                if base_path is None or not is_test_file(base_path):
                    continue
                tree = self.tree(change.old_text)
                bodies |= {_body_key(f) for _, f in _test_functions(tree.body if tree else [])}
            self._base_bodies = bodies
        return _body_key(func) in self._base_bodies

    def retired(self, func: _Func, module: Iterable[ast.stmt]) -> bool:
        """Whether a removed test goes with the feature it tested: every name it uses from the project (imported
        into its module with ``from x import name``) is defined no more, in this same change."""
        imported = _project_imports(module)
        used = {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and n.id in imported}
        if not used:
            return False
        if self._removed_symbols is None:
            gone: set[str] = set()
            for change in self._changes:
                base_path = (change.old_path or change.path) if change.status != "added" else None
                if base_path is None or not base_path.endswith(".py") or is_test_file(base_path):
                    continue
                before = self.tree(change.old_text)
                after = self.tree(change.new_text) if change.status != "deleted" else None
                if before is None:
                    continue
                gone |= _top_level_names(before.body) - (_top_level_names(after.body) if after else set())
            self._removed_symbols = gone
        return used <= self._removed_symbols

    def moved(self, func: _Func) -> bool:
        """Whether a test gone from its place at base lives on at head with the same body, or that body
        extended (statements added around it): moved into a class or another file, or renamed. Honest
        refactors, not removals.

        A parametrized test whose cases can be read lives on when each case does, written out: in the rows of a
        parametrized test (its own, renamed, or one it was folded into; stacked decorators are their product),
        or as a copy of its own. Only a test at head whose cases cannot be read is compared as written."""
        body = _test_body(func)
        if not body.key:
            return False
        heads = self._heads()
        cases = _parametrize_cases(func, whole=True)
        taken = _names_in(func)

        def lives_on(part: _Body, candidates: Sequence[_Body]) -> bool:
            # the quick, exact comparison decides nearly every case; the looser one only what it does not
            return any(_contains_in_order(head.key, part.key) for head in candidates) or any(
                _contains_loosely(head, part, taken) for head in candidates
            )

        try:
            if cases is None:
                return lives_on(body, heads)
            unread = [head for head in heads if head.unread]
            return lives_on(body, unread) or all(lives_on(case, heads) for case in _written_out(func, cases))
        except RecursionError:
            return False

    def _heads(self) -> list[_Body]:
        """Every test body at head in the files pytest collects, and each parametrized one once per case."""
        if self._head_bodies is None:
            bodies = []
            for change in self._changes:
                head_path = change.path if change.status != "deleted" else None
                if head_path is None or not _collectable(_basename(head_path)):  # where pytest still finds them
                    continue
                tree = self.tree(change.new_text)
                for _, func in _test_functions(tree.body if tree else []):
                    cases = _parametrize_cases(func, whole=False)
                    unread = cases is None or _parametrize_cases(func, whole=True) is None
                    bodies.append(replace(_test_body(func), unread=unread))
                    bodies += _written_out(func, cases or [])  # copies folded into one parametrized test
            self._head_bodies = bodies
        return self._head_bodies

    def never_collected(self, path: str, module: list[ast.stmt], tests: list[_Func]) -> bool:
        """Whether pytest never ran what a file under tests/ held: its name matches no ``python_files`` pattern
        (pytest's default, or the project's where its configuration is part of the change), and nothing in it
        named like a test checks anything (attrs b1dc8f67: mypy's input `tests/typing_example.py`, with a
        `def test(cls)` no run ever collected; a helper module). A test there that checks something may be
        collected by a configuration the change does not show, so its file still counts."""
        if _python_files_match(path, self.python_files()):
            return False
        helpers = _Helpers(module, self.conftest_helpers()[0], _scan)
        return all(_scan(f).facts(f.name, f.lineno, helpers).real_checks <= 0 for f in tests)

    def python_files(self) -> tuple[str, ...]:
        """pytest's ``python_files`` at base: from the configuration files in the change, else the default."""
        if self._python_files is None:
            patterns: list[str] = []
            for change in self._changes:
                kind = _config_kind(change.old_path or change.path)
                if kind is None or change.old_text is None or change.status == "added":
                    continue
                try:
                    settings = _read_settings(kind, change.old_text)
                except _ConfigError:
                    continue
                patterns += _words(settings.pytest.get("python_files")) or []
            self._python_files = tuple(patterns) or _PATTERN_DEFAULTS["python_files"]
        return self._python_files

    def tree(self, text: str | None) -> ast.Module | None:
        """The parsed module; None when ``text`` is absent or not valid Python. The sides of the change being
        checked are parsed once for all the rules; conftest.py texts once for the whole check."""
        if text is None:
            return None
        tree = self._trees.get(text) or self._local.get(text)
        if tree is None:
            tree = _parse(text)
            if text in self._shared:
                self._trees[text] = tree
            elif len(self._local) < 2:
                self._local[text] = tree
        return None if tree is _UNPARSABLE else tree

    def head_rows(self) -> Counter[str]:
        """Every literal parametrize case at head in the change's test files (HG024: a case moved, not gone)."""
        if self._head_rows is None:
            texts = [c.new_text for c in self._changes if c.status != "deleted" and is_test_file(c.path)]
            trees = [_parse(text) for text in texts if text and "parametrize" in text]
            self._head_rows = suite.head_rows(t for t in trees if t is not _UNPARSABLE)
        return self._head_rows

    def lines(self, text: str) -> list[str]:
        lines = self._lines.get(text)
        if lines is None:
            lines = self._lines[text] = text.split("\n")
        return lines

    def line_text(self, text: str | None, line: int | None) -> str:
        if text is None or not line:
            return ""
        lines = self.lines(text)
        return lines[line - 1].strip() if line <= len(lines) else ""

    def py_diff(self, change: FileChange, *, base_counts: bool = True) -> _PyDiff | None:
        """None when the head does not parse, or when the base exists but does not parse (what it held is
        unknown; comparing against nothing would accuse every line). ``base_counts=False``: treat as new."""
        head = self.tree(change.new_text)
        if head is None or change.new_text is None:
            return None
        head_lines = self.lines(change.new_text)
        if change.old_text is None or not base_counts:
            return _PyDiff([], list(head.body), [], [], [], head_lines)
        base_lines = self.lines(change.old_text)
        split = _split_unchanged(change.old_text, change.new_text, base_lines, head_lines, head.body)
        if split is not None:
            return split
        base = self.tree(change.old_text)
        if base is None:
            return None
        return _PyDiff(list(base.body), list(head.body), [], [], base_lines, head_lines)

    def conftest_helpers(self) -> tuple[dict[str, bool], dict[str, bool]]:
        """For the changed conftest.py files, base and head: function name -> it contains a check."""
        if self._conftest_helpers is None:
            sides: tuple[dict[str, bool], dict[str, bool]] = ({}, {})
            for change in self._conftests:
                for side, text in zip(sides, (change.old_text, change.new_text), strict=True):
                    tree = self.tree(text)
                    for func in _defs(tree.body if tree else []):
                        side[func.name] = side.get(func.name, False) or _scan(func).direct > 0
            self._conftest_helpers = sides
        return self._conftest_helpers

    def findings_for(self, change: FileChange) -> list[GuardFinding]:
        self._lines.clear()
        self._local.clear()
        out = _path_findings(change, self.context)
        base_path = (change.old_path or change.path) if change.status != "added" else None
        head_path = change.path if change.status != "deleted" else None
        if _is_contract(change, self.context):
            out.extend(_contract_findings(change, self.context))
        out.extend(techniques.findings(change, self.context, self.tree))
        out.extend(suite.findings(change, self.tree, self.head_rows))
        test_like = head_path is not None and (is_test_file(head_path) or _basename(head_path) == "conftest.py")
        if change.unreadable and head_path is not None and test_like:
            out.append(_test_file_unreadable(head_path, change.unreadable))
        if _config_kind(base_path) or _config_kind(head_path):
            out.extend(_config_findings(change, base_path, head_path))
        base_test = base_path is not None and is_test_file(base_path)
        if base_test and _removed_from_discovery(change, base_path, head_path):
            base_tree = self.tree(change.old_text)
            gone = [f for _, f in _test_functions(base_tree.body)] if base_tree else []
            body = base_tree.body if base_tree else []
            # every test moved elsewhere, or gone with the feature it tested: a refactor
            refactor = gone and all(self.moved(f) or self.retired(f, body) for f in gone)
            never_run = base_tree is not None and self.never_collected(change.old_path or change.path, body, gone)
            if not (refactor or never_run):
                out.append(_test_file_removed(change, base_path))
            return out
        if change.old_text == change.new_text or head_path is None:
            return out  # a pure rename or mode change, or a deletion: no content rule can fire
        if is_test_file(head_path):
            out.extend(self._test_file_findings(change, base_test))
        elif _basename(head_path) == "conftest.py":
            out.extend(self._conftest_findings(change))
        elif head_path.endswith(".py"):
            out.extend(self._code_findings(change))
        return out

    # -- test files: HG002, HG003, HG004, HG011, HG012

    def _test_file_findings(self, change: FileChange, base_test: bool) -> list[GuardFinding]:
        diff = self.py_diff(change, base_counts=base_test)
        if diff is None:
            return []
        path = change.path
        base_module, head_module = diff.base_module(), diff.head_module()
        base_tests = dict(_test_functions(base_module))  # a later definition shadows an earlier one, as in pytest
        head_tests = dict(_test_functions(head_module))
        conftest_base, conftest_head = self.conftest_helpers()
        scans: dict[int, _Scan] = {}  # by node id: unchanged statements are shared by both sides, walked once

        def scan(func: _Func) -> _Scan:
            found = scans.get(id(func))
            if found is None:
                found = scans[id(func)] = _scan(func)
            return found

        base_helpers = _Helpers(base_module, conftest_base, scan)
        head_helpers = _Helpers(head_module, conftest_head, scan)
        base_segments = _segments(diff.base, diff.base_lines)
        head_segments = _segments(diff.head, diff.head_lines)
        # helpers whose text changed; tests are compared anyway, and calling a test from a test is no check
        edited = {
            name
            for q in {*base_segments, *head_segments}
            if base_segments.get(q) != head_segments.get(q) and not (name := q.rsplit("::", 1)[-1]).startswith("test")
        }
        helpers_changed = _asserting(conftest_base) != _asserting(conftest_head) or any(
            base_helpers(name) != head_helpers(name) for name in edited
        )
        out: list[GuardFinding] = []
        for name, func in base_tests.items():
            if name not in head_tests and not self.moved(func) and not self.retired(func, base_module):
                out.append(_test_removed(path, name, func.lineno))
        pairs: list[tuple[str, _Func, _Func]] = []
        for name, func in head_tests.items():
            old = base_tests.get(name)
            if old is None:
                facts = scan(func).facts(name, func.lineno, head_helpers)
                if facts.real_checks <= 0 and not _benchmark(func, path, head_module) and not self.existed(func):
                    out.append(_test_without_assertion(path, facts))
            elif helpers_changed or (old is not func and base_segments.get(name) != head_segments.get(name)):
                # with helpers changed, even an identical test may call one that lost its checks
                pairs.append((name, old, func))
        for name, old, new in pairs:
            before = scan(old).facts(name, old.lineno, base_helpers)
            after = scan(new).facts(name, new.lineno, head_helpers)
            weakened = self._weakened(path, before, after, change.new_text)
            if weakened is not None:
                out.append(weakened)
        new_tests = set(head_tests) - set(base_tests)
        out.extend(self._skip_findings(change, diff, base_segments, head_segments, new_tests))
        out.extend(self._tampering_findings(change, diff, in_tests=True))
        return out

    def _weakened(self, path: str, old: _TestFacts, new: _TestFacts, text: str | None) -> GuardFinding | None:
        reasons: list[str] = []
        lines: list[int] = []
        if new.real_checks < old.real_checks:
            reasons.append(f"its checks dropped from {old.real_checks} to {new.real_checks}")
        weakenings = (
            ("a trivially true assert at {}, which cannot fail", old.trivial, new.trivial),
            (
                "checks at {} wrapped in a try/except or suppress() that swallows AssertionError",
                old.swallowed,
                new.swallowed,
            ),
            ("pytest.raises/assertRaises widened to Exception at {}, so any error passes", old.broad, new.broad),
        )
        for label, before, after in weakenings:
            if len(after) > len(before):
                added = _new_lines(before, after)
                shown = ", ".join(f"line {n} (`{self.line_text(text, n)}`)" for n in added)
                reasons.append(label.format(shown))
                lines.extend(added)
        if not reasons:
            return None
        return _finding(
            "HG003",
            path,
            min(lines) if lines else new.line,
            f"test `{new.name}` (line {new.line}) was weakened: " + "; ".join(reasons) + ".",
            "Restore the checks the test had and make the code satisfy them. Add assertions if you like, but do not "
            "remove, loosen or swallow existing ones; a weaker test hides a failure instead of fixing it. "
            + _allow_hint("HG003"),
        )

    def _skip_findings(
        self,
        change: FileChange,
        diff: _PyDiff,
        base_segments: dict[str, str],
        head_segments: dict[str, str],
        new_tests: set[str],
    ) -> list[GuardFinding]:
        """New skip markers. A ``skipif`` on a test new in this change whose condition is about the machine only
        (``sys.platform``, ``sys.version_info``, ``os.name``, ``platform.*``, a platform flag like ``WIN``, a tool
        or module it may lack, an environment variable) is no finding: it hides no test that ran before, and
        says where the new one cannot run."""
        base_text, head_text = change.old_text or "", change.new_text or ""
        if not (_mentions_any(base_text, _MARKER_TOKENS) or _mentions_any(head_text, _MARKER_TOKENS)):
            return []
        identical = {name for name, text in head_segments.items() if base_segments.get(name) == text}
        old_by_place: dict[tuple[str, str], list[tuple[int, str]]] = {}
        base_vars, head_vars = _mark_variables(diff.base_module()), _mark_variables(diff.head_module())
        base_stmts, head_stmts = diff.base, diff.head
        prefilter = base_text.isascii(), head_text.isascii()
        if base_vars != head_vars:
            # A redefined mark variable changes every test it decorates, also the unchanged ones around the edit:
            # both whole modules are compared (unchanged markers cancel out), without the text prefilter.
            identical = {name for name in identical if not _mentions_any(head_segments[name], tuple(head_vars))}
            base_stmts, head_stmts, prefilter = diff.base_module(), diff.head_module(), (False, False)
        pins: dict[str, list[_Marker]] = {}  # the version skips each place had at base
        for marker in _scan_markers(base_stmts, identical, diff.base_lines, prefilter[0], base_vars):
            old_by_place.setdefault((marker.scope, marker.kind), []).append((marker.line, marker.key))
            if marker.condition is not None:
                pins.setdefault(marker.scope, []).append(marker)
        by_place: dict[tuple[str, str], list[_Marker]] = {}
        for marker in _scan_markers(head_stmts, identical, diff.head_lines, prefilter[1], head_vars):
            by_place.setdefault((marker.scope, marker.kind), []).append(marker)
        out: list[GuardFinding] = []
        for (scope, kind), markers in by_place.items():
            new_lines = _new_lines(old_by_place.get((scope, kind), []), [(m.line, m.key) for m in markers])
            for marker in (m for m in markers if m.line in new_lines):
                if marker.platform_only and scope in new_tests:
                    continue
                if scope != "<module>" and _extends_version_pin(pins.get(scope, []), marker):
                    continue
                where = "at module level" if scope == "<module>" else f"on `{scope}`"
                out.append(
                    _finding(
                        "HG004",
                        change.path,
                        marker.line,
                        f"new {kind} {where} at line {marker.line} (`{self.line_text(change.new_text, marker.line)}`); "
                        "the test no longer runs or no longer fails.",
                        "Remove the marker. If the test cannot pass, say why in the change's description or note; "
                        "a skipped test hides a failure instead of fixing it. " + _allow_hint("HG004"),
                    )
                )
        return out

    # -- conftest.py: HG004, HG006, HG012

    def _conftest_findings(self, change: FileChange) -> list[GuardFinding]:
        diff = self.py_diff(change)
        if diff is None:
            return []
        base_segments = _segments(diff.base, diff.base_lines)
        out = self._skip_findings(change, diff, base_segments, _segments(diff.head, diff.head_lines), set())
        base, head = _conftest_facts(diff.base_module()), _conftest_facts(diff.head_module())
        path = change.path
        fix = (
            "Remove it. Tests must be collected and run as pytest would without it; a hook that deselects, skips or "
            "rewrites outcomes hides failures instead of fixing them. Fixtures and marker registration are fine. "
            + _allow_hint("HG006")
        )
        for name, defs in head.hooks.items():
            old_dumps = {hook.dump for hook in base.hooks.get(name, [])}
            if name not in base.hooks:
                line = defs[0].line
                message = f"new hook `{name}` at line {line}: it can deselect, skip or rewrite the outcome of tests."
            elif sorted(old_dumps) != sorted(hook.dump for hook in defs):
                if _only_warning_filters_differ(base.hooks[name], defs):
                    continue
                line = next((hook.line for hook in defs if hook.dump not in old_dumps), defs[0].line)
                message = (
                    f"hook `{name}` was changed (line {line}): it can deselect, skip or rewrite the outcome of tests."
                )
            else:
                continue
            out.append(_finding("HG006", path, line, message, fix))
        for (variable, entry), line in head.ignores.items():
            if (variable, entry) not in base.ignores:
                message = f"`{variable}` gained {entry} at line {line}: pytest stops collecting those files."
                out.append(_finding("HG006", path, line, message, fix))
        for line, _, description in _added(base.mutations, head.mutations, key=lambda m: m[1]):
            shown = self.line_text(change.new_text, line)
            message = (
                f"{description} at line {line} (`{shown}`): it changes which tests run or how the run is reported."
            )
            out.append(_finding("HG006", path, line, message, fix))
        out.extend(self._tampering_findings(change, diff, in_tests=True))
        return out

    # -- non-test code: HG007, HG012

    def _code_findings(self, change: FileChange) -> list[GuardFinding]:
        text = change.new_text
        # every form either rule knows names one of these words in the source; a file without them needs no parse
        detects = text is not None and any(token in text for token in _DETECTION_TOKENS)
        tampers = text is not None and _mentions_any(text, _REPORT_NAMES)
        if not (detects or tampers):
            return []
        diff = self.py_diff(change)
        if diff is None:
            return []
        out = self._detection_findings(change, diff) if detects else []
        if tampers:
            out.extend(self._tampering_findings(change, diff, in_tests=False))
        return out

    def _detection_findings(self, change: FileChange, diff: _PyDiff) -> list[GuardFinding]:
        text = change.new_text
        out: list[GuardFinding] = []
        found = _added(_test_detections(diff.base), _test_detections(diff.head), key=lambda d: d[2])
        for line, description, _, severity in found:
            shown = self.line_text(text, line)
            if severity == "warning":
                message = (
                    f"{description} at line {line} (`{shown}`) in non-test code; code that imports pytest can "
                    "behave differently under test."
                )
                fix = (
                    "Application code should not need pytest. If this module is a pytest plugin, keep it; otherwise "
                    "move the code into tests/ or conftest.py. " + _allow_hint("HG007")
                )
            else:
                message = (
                    f"{description} at line {line} (`{shown}`): non-test code that behaves differently under test "
                    "makes the tests prove nothing."
                )
                fix = (
                    "Remove the check and make the code behave the same whether or not it runs under pytest; "
                    "configure behaviour explicitly (an argument, a fixture, monkeypatch) instead. "
                    + _allow_hint("HG007")
                )
            out.append(_finding("HG007", change.path, line, message, fix, severity))
        return out

    # -- every Python file: HG012

    def _tampering_findings(self, change: FileChange, diff: _PyDiff, *, in_tests: bool) -> list[GuardFinding]:
        text = change.new_text
        if text is None or not _mentions_any(text, _TAMPERING_TOKENS if in_tests else _REPORT_NAMES):
            return []
        out: list[GuardFinding] = []
        reported: set[tuple[int, str]] = set()  # the same name twice on one line is one finding
        found = _added(
            _report_tampering(diff.base, in_tests), _report_tampering(diff.head, in_tests), key=lambda t: t[2]
        )
        for line, description, _, kind in found:
            if (line, description) in reported:
                continue
            reported.add((line, description))
            shown = self.line_text(text, line)
            if kind == "exit":
                message = (
                    f"{description} at line {line} (`{shown}`): a test run that ends its own interpreter skips "
                    "pytest's reporting, so nothing it reports can be trusted."
                )
                fix = (
                    "Do not end the test process. To test code that exits, check `sys.exit()` with "
                    "`pytest.raises(SystemExit)`, or run the code in a subprocess "
                    "(`subprocess.run([sys.executable, ...])`) and assert on its exit code. " + _allow_hint("HG012")
                )
            else:
                message = (
                    f"{description} at line {line} (`{shown}`): code that can reach the harness's test report can "
                    "forge the result of the run."
                )
                fix = (
                    "Remove it. The harness reads the results of pytest through its own plugin; tests and the code "
                    "they run must never read, write, import or look up the harness's report, its environment "
                    "variable or its plugin. Make the tests pass by making the code work. " + _allow_hint("HG012")
                )
            out.append(_finding("HG012", change.path, line, message, fix))
        return out


def _lone_cr(text: str) -> bool:
    return "\r" in text and text.count("\r") != text.count("\r\n")


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None)
    return min(stmt.lineno, *(d.lineno for d in decorators)) if decorators else stmt.lineno


def _split_unchanged(old: str, new: str, a: list[str], b: list[str], body: list[ast.stmt]) -> _PyDiff | None:
    """Split the head's top-level statements into those inside the common prefix or suffix of lines
    (identical at base) and the rest, parsing only the base lines between them. None when that is unsafe.

    A statement of the common prefix is identical at base when the next statement also starts inside the
    prefix: the text up to there is the same, so the parser's state is. A statement of the common suffix is
    identical when the base lines between prefix and suffix parse on their own (nothing open runs into the
    suffix) and no statement shares a line with its neighbour (``a; b``).
    """
    if not body or _lone_cr(old) or _lone_cr(new):
        return None  # ast counts a lone CR as a line break; str.split("\n") does not
    nb, nh = len(a), len(b)
    limit = min(nb, nh)
    prefix = _common(lambda n: a[:n] == b[:n], limit)
    suffix = _common(lambda n: a[nb - n :] == b[nh - n :], limit - prefix)
    starts = [_first_line(stmt) for stmt in body]
    k = 0
    while k + 1 < len(body) and starts[k + 1] <= prefix:
        k += 1
    m = k
    while m < len(body) and starts[m] <= nh - suffix:
        m += 1
    for left, right in ((k - 1, k), (m - 1, m)):
        if left >= 0 and right < len(body) and (body[left].end_lineno or 0) >= starts[right]:
            return None
    first = starts[k] if k else 1
    stop = (starts[m] if m < len(body) else nh + 1) - (nh - nb)
    fragment = "\n" * (first - 1) + "\n".join(a[first - 1 : stop - 1])
    try:
        base = ast.parse(fragment)
    except _PARSE_ERRORS:
        return None
    return _PyDiff(base.body, body[k:m], body[:k], body[m:], a, b)


def _common(equal: Callable[[int], bool], limit: int) -> int:
    """The largest n <= limit with equal(n), for a monotone ``equal``: a binary search of C-speed slice
    comparisons instead of a Python loop over lines."""
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        if equal(mid):
            low = mid
        else:
            high = mid - 1
    return low


def _segment(func: ast.stmt, lines: list[str]) -> str:
    return "\n".join(lines[_first_line(func) - 1 : func.end_lineno or func.lineno])


def _segments(stmts: Iterable[ast.stmt], lines: list[str]) -> dict[str, str]:
    """Qualified name -> source text of every function and method in ``stmts`` (all definitions of a name)."""
    out: dict[str, str] = {}
    _collect_segments(stmts, lines, "", out)
    return out


def _collect_segments(stmts: Iterable[ast.stmt], lines: list[str], scope: str, out: dict[str, str]) -> None:
    for stmt in stmts:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{scope}::{stmt.name}" if scope else stmt.name
            text = _segment(stmt, lines)
            out[name] = f"{out[name]}\0{text}" if name in out else text
        elif isinstance(stmt, ast.ClassDef):
            _collect_segments(stmt.body, lines, f"{scope}::{stmt.name}" if scope else stmt.name, out)


def _asserting(helpers: Mapping[str, bool]) -> set[str]:
    return {name for name, asserts in helpers.items() if asserts}


def _mentions_any(text: str, tokens: Iterable[str]) -> bool:
    """A prefilter before ast work, never a verdict: True when ``text`` contains one of ``tokens``, or any
    non-ASCII character (identifiers are NFKC-normalized, so ``ｓｋｉｐ`` is ``skip`` to Python)."""
    return not text.isascii() or any(token in text for token in tokens)


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _python_files_match(path: str, patterns: Iterable[str]) -> bool:
    """Whether pytest collects ``path`` as a test module under these ``python_files`` patterns: a pattern
    without a slash is matched against the file name, one with a slash against the end of the path."""
    name = _basename(path)
    return any(
        fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, "*/" + pattern)
        if "/" in pattern
        else fnmatch.fnmatch(name, pattern)
        for pattern in patterns
    )


def _collectable(name: str) -> bool:
    """pytest's default ``python_files``: ``test_*.py`` and ``*_test.py``."""
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


_T = TypeVar("_T")


def _added(base: Iterable[_T], head: Iterable[_T], *, key: Callable[[_T], Hashable]) -> list[_T]:
    """The ``head`` items whose key has no unmatched equal among the ``base`` items: what the change added,
    however lines shifted (a key that occurs twice at base and three times at head yields one item)."""
    remaining = Counter(key(item) for item in base)
    added = []
    for item in head:
        if remaining[key(item)] > 0:
            remaining[key(item)] -= 1
        else:
            added.append(item)
    return added


def _new_lines(before: Sequence[tuple[int, str]], after: Sequence[tuple[int, str]]) -> list[int]:
    """Lines of the ``after`` occurrences with no equal (same ast dump) occurrence in ``before``: lines shift,
    the code does not. At most as many as ``after`` has more than ``before``."""
    extra = len(after) - len(before)
    if extra <= 0:
        return []
    unmatched = [line for line, _ in _added(before, after, key=lambda occurrence: occurrence[1])]
    return (unmatched or [line for line, _ in after])[:extra]


# --------------------------------------------------------------------------- HG001, HG002, HG011 messages


def _removed_from_discovery(change: FileChange, base_path: str | None, head_path: str | None) -> bool:
    if change.status == "deleted" or head_path is None:
        return True
    if change.status != "renamed" or base_path is None or base_path == head_path:
        return False
    if not is_test_file(head_path):
        return True
    return _collectable(_basename(base_path)) and not _collectable(_basename(head_path))


def _test_file_removed(change: FileChange, base_path: str | None) -> GuardFinding:
    if change.status == "deleted":
        what = f"test file {change.path} was deleted"
    else:
        what = f"test file {base_path} was renamed to {change.path}, where pytest no longer collects it"
    deleted = change.status == "deleted"
    return _finding(
        "HG001",
        change.path,
        None,
        what + "; every test in it stopped running.",
        "Restore the test file. If its tests must move, move them to a file pytest collects (test_*.py) and keep "
        "every test; deleting tests hides failures instead of fixing them. " + _allow_hint("HG001"),
        side="base" if deleted else "head",
    )


def _test_file_unreadable(path: str, why: str) -> GuardFinding:
    return _finding(
        "HG023",
        path,
        None,
        f"{path} is {why}: the guards cannot read it as Python source, so what happened to its tests (removed, "
        "weakened, skipped) cannot be checked.",
        "Keep test files and conftest.py as regular Python source files (UTF-8, or with a coding cookie) under "
        "1 MB; move large test data into data files the tests read. " + _allow_hint("HG023"),
    )


def _test_removed(path: str, name: str, line: int) -> GuardFinding:
    return _finding(
        "HG002",
        path,
        line,
        f"test `{name}` (line {line} at base) is gone at head: it was deleted or renamed, so it no longer runs.",
        f"Restore `{name}` under its original name and make the code pass it. If it tested the wrong thing, say so "
        "in the change's description or note instead of removing it. " + _allow_hint("HG002"),
        side="base",
    )


def _test_without_assertion(path: str, test: _TestFacts) -> GuardFinding:
    seen = "only trivially true asserts" if test.checks else "no assert or other check"
    return _finding(
        "HG011",
        path,
        test.line,
        f"new test `{test.name}` (line {test.line}) has {seen}: it passes whatever the code does.",
        "Assert the behaviour the test is about: `assert result == expected`, `with pytest.raises(SomeError):`, "
        "`self.assertEqual(...)`, or a helper that asserts. " + _allow_hint("HG011"),
    )


# --------------------------------------------------------------------------- checks inside tests (HG003, HG011)

_Func = ast.FunctionDef | ast.AsyncFunctionDef
_CHECK_PREFIX = re.compile(r"^(assert|check|verify|expect)($|_|[A-Z0-9])")
_SELF_FAIL = re.compile(r"^fail($|_|[A-Z])")
_PYTEST_CHECKS = frozenset({"raises", "warns", "fail", "deprecated_call"})
_BARE_CHECKS = frozenset({"raises", "warns", "deprecated_call", "eq_", "ok_"})  # pytest's, imported; nose's
# pytester's output and outcome checks (`result.stdout.fnmatch_lines([...])`), on whatever holds the result
_METHOD_CHECKS = frozenset(
    {
        "fnmatch_lines",
        "fnmatch_lines_random",
        "re_match_lines",
        "no_fnmatch_line",
        "no_re_match_line",
        "assert_outcomes",
    }
)
_RAISES = frozenset({"raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp"})
_SWALLOWING = frozenset({"AssertionError", "Exception", "BaseException"})
_BROAD = frozenset({"Exception", "BaseException"})
_Resolver = Callable[[str], bool]  # does the function of this name contain a check?
# Fields that never hold a node a rule looks at: names and flags, and operator and load/store nodes.
_NOT_CHILDREN = frozenset(
    {"ctx", "op", "ops", "id", "attr", "name", "arg", "asname", "kind", "type_comment", "module", "level", "is_async"}
)
_child_fields: dict[type, tuple[str, ...]] = {ast.Constant: ()}


def _walk(roots: ast.AST | Iterable[ast.AST]) -> list[ast.AST]:
    """Every node under ``roots`` (themselves included), parents before children: :func:`ast.walk` without
    its generators, and without operator and context nodes, at about twice the speed."""
    nodes = [roots] if isinstance(roots, ast.AST) else list(roots)
    append = nodes.append
    child_fields = _child_fields
    index = 0
    while index < len(nodes):
        node = nodes[index]
        index += 1
        cls = node.__class__
        fields = child_fields.get(cls)
        if fields is None:
            fields = child_fields[cls] = tuple(f for f in cls._fields if f not in _NOT_CHILDREN)
        for name in fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        append(item)
            elif isinstance(value, ast.AST):
                append(value)
    return nodes


@dataclass
class _TestFacts:
    name: str
    line: int
    checks: int = 0
    # (line, ast dump) of each occurrence: the dump tells an old occurrence from a new one when lines shift
    trivial: list[tuple[int, str]] = field(default_factory=list)
    swallowed: list[tuple[int, str]] = field(default_factory=list)
    broad: list[tuple[int, str]] = field(default_factory=list)

    @property
    def real_checks(self) -> int:
        """Checks that can fail: a trivially true assert proves nothing, and removing one weakens nothing."""
        return self.checks - len(self.trivial)


@dataclass(slots=True)
class _Scan:
    """One walk over a function body. A call that is a check only if the called helper asserts is kept by
    name, to be resolved per side (base or head)."""

    direct: int = 0  # checks that need no resolution
    calls: list[str] = field(default_factory=list)  # helper candidates
    trivial: list[tuple[int, str]] = field(default_factory=list)
    broad: list[tuple[int, str]] = field(default_factory=list)
    # each try/suppress that swallows assertions: line, dump, a direct check inside, helper candidates inside
    guarded: list[tuple[int, str, bool, list[str]]] = field(default_factory=list)

    def facts(self, name: str, line: int, helpers: _Resolver) -> _TestFacts:
        checks = self.direct + sum(1 for call in self.calls if helpers(call))
        swallowed = [(at, key) for at, key, direct, calls in self.guarded if direct or any(map(helpers, calls))]
        return _TestFacts(name, line, checks, self.trivial, swallowed, self.broad)


def _last_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _check_call(call: ast.Call) -> bool | str:
    """True for a call that is a check; the name of a possible helper (``helper()``, ``self.helper()``),
    which is a check if that helper asserts; False for anything else."""
    func = call.func
    if isinstance(func, ast.Attribute):
        name = func.attr
        owner = func.value
        if name in _METHOD_CHECKS:
            return True
        if isinstance(owner, ast.Name):
            if owner.id == "pytest" and name in _PYTEST_CHECKS:
                return True
            if owner.id == "warnings" and name in ("simplefilter", "filterwarnings") and _first_arg(call) == "error":
                return True  # every warning the code under test emits now fails the test
            if owner.id in ("self", "cls"):
                return bool(_SELF_FAIL.match(name) or _CHECK_PREFIX.match(name)) or name
        return bool(_CHECK_PREFIX.match(name))
    if isinstance(func, ast.Name):
        return func.id in _BARE_CHECKS or bool(_CHECK_PREFIX.match(func.id)) or func.id
    return False


def _first_arg(call: ast.Call) -> object:
    first = call.args[0] if call.args else None
    return first.value if isinstance(first, ast.Constant) else None


def _direct_checks(nodes: Iterable[ast.AST]) -> tuple[int, list[str]]:
    """The number of direct checks among ``nodes``, and the helper calls that may be checks."""
    direct = 0
    calls: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Assert):
            direct += 1
        elif isinstance(node, ast.Call):
            kind = _check_call(node)
            if kind is True:
                direct += 1
            elif kind:
                calls.append(kind)
    return direct, calls


_SCANNED = frozenset(
    {ast.Assert, ast.Call, ast.Try, ast.TryStar, ast.With, ast.AsyncWith, ast.FunctionDef, ast.AsyncFunctionDef}
)


def _scan(func: _Func) -> _Scan:
    scan = _Scan()
    scanned = _SCANNED
    stubs: set[int] = set()  # the guarded raises of the stubs counted so far (a stub inside a stub is walked twice)
    for node in _walk(func.body):
        if node.__class__ not in scanned:
            continue  # most nodes: decided by one set lookup
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            scan.direct += _stub_checks(node, stubs)
        elif isinstance(node, ast.Assert):
            scan.direct += 1
            if _trivially_true(node.test):
                scan.trivial.append((node.lineno, ast.dump(node)))
        elif isinstance(node, ast.Call):
            kind = _check_call(node)
            if kind is True:
                scan.direct += 1 + _pins_message(node)
                if _broad_raises(node):
                    scan.broad.append((node.lineno, ast.dump(node)))
            elif kind:
                scan.calls.append(kind)
        elif isinstance(node, ast.Try | ast.TryStar):
            if any(_swallows(handler) for handler in node.handlers):
                _guarded(scan, node)
        elif isinstance(node, ast.With | ast.AsyncWith) and any(_suppresses(i.context_expr) for i in node.items):
            _guarded(scan, node)
    return scan


def _stub_checks(stub: _Func, counted: set[int]) -> int:
    """The checks of a stub the test defines for the code under test to call: each ``if <condition>: raise``
    in it is an assert in another spelling (``if not self.lock.locked(): raise RuntimeError(...)``). Not with a
    constant condition, which never or always raises whatever the code does."""
    found = 0
    for node in _walk(stub.body):
        if (
            isinstance(node, ast.If)
            and id(node) not in counted
            and not isinstance(node.test, ast.Constant)
            and any(isinstance(stmt, ast.Raise) for stmt in (*node.body, *node.orelse))
        ):
            counted.add(id(node))
            found += 1
    return found


def _guarded(scan: _Scan, node: ast.Try | ast.TryStar | ast.With | ast.AsyncWith) -> None:
    direct, calls = _direct_checks(_walk(node.body))
    if direct or calls:
        scan.guarded.append((node.lineno, ast.dump(node), direct > 0, calls))


def _defs(body: Iterable[ast.stmt]) -> Iterator[_Func]:
    """Module-level functions and methods of (nested) classes."""
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            yield stmt
        elif isinstance(stmt, ast.ClassDef):
            yield from _defs(stmt.body)


def _is_test_class(node: ast.ClassDef) -> bool:
    return node.name.startswith("Test") or any((_last_name(b) or "").endswith("TestCase") for b in node.bases)


def _body_key(func: _Func) -> tuple[str, ...]:
    """A test's body as comparable text, one entry per statement (no docstring, no positions)."""
    return _test_body(func).key


@dataclass(frozen=True, slots=True)
class _Body:
    """A test's statements without the docstring, as they stand or with one parametrize case written in: their
    ast dumps for the exact comparison, the statements for the looser one."""

    key: tuple[str, ...]
    stmts: tuple[ast.stmt, ...]
    unread: bool = False  # a test at head compared only as written: not parametrized, or cases not all readable


def _test_body(func: _Func) -> _Body:
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return _Body(tuple(ast.dump(stmt) for stmt in body), tuple(body))


def _benchmark(func: _Func, path: str, module: Iterable[ast.stmt]) -> bool:
    """A benchmark, not a test of behaviour: it takes pytest-benchmark's `benchmark` fixture, carries a
    `benchmark` mark (on itself or the module's `pytestmark`), or lives under a `bench`/`benchmarks` folder."""
    if any(a.arg == "benchmark" for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)):
        return True
    if any(part in ("bench", "benchmarks") for part in path.split("/")[:-1]):
        return True
    marks = [*func.decorator_list]
    for stmt in module:
        if _assigned_name(stmt) == "pytestmark" and (value := getattr(stmt, "value", None)) is not None:
            marks.append(value)
    return any(isinstance(n, ast.Attribute) and n.attr == "benchmark" for m in marks for n in ast.walk(m))


def _project_imports(module: Iterable[ast.stmt]) -> set[str]:
    """Names a test module imports from the project: ``from x import name``, x not the standard library nor
    a test framework."""
    names: set[str] = set()
    for stmt in module:
        if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            root = stmt.module.split(".")[0]
            if root in sys.stdlib_module_names or root in ("pytest", "_pytest", "hypothesis", "mock"):
                continue
            names |= {alias.asname or alias.name for alias in stmt.names if alias.name != "*"}
    return names


def _top_level_names(module: Iterable[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for stmt in module:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(stmt.name)
        elif (target := _assigned_name(stmt)) is not None:
            names.add(target)
    return names


_MAX_CASES = 200


def _parametrize_cases(func: _Func, *, whole: bool) -> list[dict[str, ast.expr]] | None:
    """A ``@pytest.mark.parametrize`` test's cases, each as parameter name -> literal value; stacked decorators
    give their product. None for a test that is not parametrized.

    ``whole``: every case or None, for a test whose cases must all live on (at base); a decorator or a row that
    cannot be read makes it None. Otherwise (at head) what cannot be read is left out, its names unreplaced."""
    cases: list[dict[str, ast.expr]] = [{}]
    for decorator in func.decorator_list:
        if not (isinstance(decorator, ast.Call) and _last_name(decorator.func) == "parametrize"):
            continue
        rows = _decorator_cases(decorator, whole=whole)
        if rows is None:
            if whole:
                return None
            continue
        cases = [{**case, **row} for case in cases for row in rows]
        if len(cases) > _MAX_CASES:
            if whole:
                return None
            cases = cases[:_MAX_CASES]
    return None if cases == [{}] else cases


def _written_out(func: _Func, cases: Iterable[Mapping[str, ast.expr]]) -> list[_Body]:
    """The test's body once per case, its parameters replaced by the case's values: what each folded-in copy
    looked like written out."""
    bodies = []
    for mapping in cases:
        body = [_Substitute(mapping).visit(copy.deepcopy(stmt)) for stmt in func.body]
        bodies.append(_test_body(ast.FunctionDef(name=func.name, body=body)))  # type: ignore[call-arg]
    return bodies


def _decorator_cases(decorator: ast.Call, *, whole: bool) -> list[dict[str, ast.expr]] | None:
    """One ``parametrize`` decorator's rows as name -> value; None when its names or rows are not literal, or
    when the values go to fixtures (``indirect=``) instead of the test. ``whole``: None for one unreadable row
    (a ``pytest.param``, a row of the wrong length); otherwise that row is left out."""
    if len(decorator.args) < 2 or not isinstance(decorator.args[1], ast.List | ast.Tuple):
        return None
    if any(k.arg == "indirect" for k in decorator.keywords):
        return None
    names_node = decorator.args[0]
    if isinstance(names_node, ast.Constant) and isinstance(names_node.value, str):
        names = [n.strip() for n in names_node.value.split(",") if n.strip()]
    elif isinstance(names_node, ast.List | ast.Tuple):
        names = [e.value for e in names_node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    else:
        return None
    rows: list[dict[str, ast.expr]] = []
    for row in decorator.args[1].elts[:_MAX_CASES]:
        values = row.elts if len(names) > 1 and isinstance(row, ast.Tuple | ast.List) else [row]
        readable = len(values) == len(names) and not (isinstance(row, ast.Call) and _last_name(row.func) == "param")
        if readable:
            rows.append(dict(zip(names, values, strict=True)))
        elif whole:
            return None
    if whole and len(decorator.args[1].elts) > _MAX_CASES:
        return None
    return rows


class _Substitute(ast.NodeTransformer):
    def __init__(self, mapping: Mapping[str, ast.expr]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.AST:
        value = self.mapping.get(node.id)
        return copy.deepcopy(value) if value is not None and isinstance(node.ctx, ast.Load) else node


def _contains_in_order(whole: tuple[str, ...], part: tuple[str, ...]) -> bool:
    """``part``'s statements all appear in ``whole``, in order (the same body, or one extended)."""
    found = iter(whole)
    return all(any(stmt == candidate for candidate in found) for stmt in part)


def _contains_loosely(whole: _Body, part: _Body, taken: set[str]) -> bool:
    """:func:`_contains_in_order`, where a statement also lives on as :func:`_same_or_more` says."""
    found = iter(zip(whole.key, whole.stmts, strict=True))
    return all(
        any(key == k or _same_or_more(stmt, s, taken) for k, s in found)
        for key, stmt in zip(part.key, part.stmts, strict=True)
    )


def _names_in(func: _Func) -> set[str]:
    args = func.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg) if a}
    return params | {n.id for n in _walk(func.body) if isinstance(n, ast.Name)}


def _same_or_more(old: ast.AST, new: ast.AST, taken: set[str]) -> bool:
    """Whether ``new`` is ``old`` (positions aside), or does what ``old`` did and checks more:

    - a call statement became an assignment of the same call to a name the old test never used
      (``getattr(m, name)`` -> ``value = getattr(m, name)``, click 10b43c21): the call runs as before, and
      binding a new name changes nothing the old statements read;
    - the literal list or tuple an ``all(...)`` runs over gained elements after the old ones
      (``all(... for f in [lt, le])`` -> ``[lt, le, ne]``, attrs 5aa76a44): the old ones are checked first, then
      more. Not ``any(...)``, nor a membership test, where more elements check less.
    """
    if old.__class__ is not new.__class__:
        return (
            isinstance(old, ast.Expr)
            and isinstance(new, ast.Assign)
            and isinstance(old.value, ast.Call)
            and len(new.targets) == 1
            and isinstance(new.targets[0], ast.Name)
            and new.targets[0].id not in taken
            and _same_or_more(old.value, new.value, taken)
        )
    if isinstance(old, ast.Call) and isinstance(new, ast.Call) and _all_over(old) and _all_over(new):
        return _same_all(old.args[0], new.args[0], taken)
    for name in old._fields:
        a, b = getattr(old, name, None), getattr(new, name, None)
        if isinstance(a, list):
            if not isinstance(b, list) or len(a) != len(b):
                return False
            if not all(_same_value(x, y, taken) for x, y in zip(a, b, strict=True)):
                return False
        elif not _same_value(a, b, taken):
            return False
    return True


def _same_value(a: object, b: object, taken: set[str]) -> bool:
    if isinstance(a, ast.AST):
        return isinstance(b, ast.AST) and _same_or_more(a, b, taken)
    return a.__class__ is b.__class__ and a == b


def _all_over(call: ast.Call) -> bool:
    """``all(<generator or list comprehension>)``"""
    return (
        isinstance(call.func, ast.Name)
        and call.func.id == "all"
        and len(call.args) == 1
        and not call.keywords
        and isinstance(call.args[0], ast.GeneratorExp | ast.ListComp)
    )


def _same_all(old: ast.expr, new: ast.expr, taken: set[str]) -> bool:
    if not (
        isinstance(old, ast.GeneratorExp | ast.ListComp)
        and old.__class__ is new.__class__
        and isinstance(new, ast.GeneratorExp | ast.ListComp)
        and len(old.generators) == len(new.generators)
        and _same_or_more(old.elt, new.elt, taken)
    ):
        return False
    for a, b in zip(old.generators, new.generators, strict=True):
        if a.is_async != b.is_async or len(a.ifs) != len(b.ifs) or not _same_or_more(a.target, b.target, taken):
            return False
        if not all(_same_or_more(x, y, taken) for x, y in zip(a.ifs, b.ifs, strict=True)):
            return False
        longer = (
            isinstance(a.iter, ast.List | ast.Tuple)
            and a.iter.__class__ is b.iter.__class__
            and isinstance(b.iter, ast.List | ast.Tuple)
            and len(b.iter.elts) >= len(a.iter.elts)
            and all(
                _same_or_more(x, y, taken) for x, y in zip(a.iter.elts, b.iter.elts[: len(a.iter.elts)], strict=True)
            )
        )
        if not (longer or _same_or_more(a.iter, b.iter, taken)):
            return False
    return True


def _test_functions(stmts: Iterable[ast.stmt]) -> Iterator[tuple[str, _Func]]:
    """(pytest name, function) of every test: ``test*`` functions, and methods of ``Test*``/TestCase classes."""
    for stmt in stmts:
        if _is_test_function(stmt):
            yield stmt.name, stmt
        elif isinstance(stmt, ast.ClassDef) and _is_test_class(stmt):
            yield from _class_tests(stmt, stmt.name)


def _is_test_function(stmt: ast.stmt) -> TypeGuard[_Func]:
    """``test*`` functions, except fixtures that happen to be named like tests (pytest does not collect them)."""
    return (
        isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
        and stmt.name.startswith("test")
        and not any(_last_name(d.func if isinstance(d, ast.Call) else d) == "fixture" for d in stmt.decorator_list)
    )


def _class_tests(cls: ast.ClassDef, prefix: str) -> Iterator[tuple[str, _Func]]:
    for stmt in cls.body:
        if _is_test_function(stmt):
            yield f"{prefix}::{stmt.name}", stmt
        elif isinstance(stmt, ast.ClassDef) and stmt.name.startswith("Test"):
            yield from _class_tests(stmt, f"{prefix}::{stmt.name}")


def _catches_assertions(expr: ast.expr | None) -> bool:
    if expr is None:
        return True
    if isinstance(expr, ast.Tuple):
        return any(_catches_assertions(e) for e in expr.elts)
    return _last_name(expr) in _SWALLOWING


def _swallows(handler: ast.ExceptHandler) -> bool:
    """Catches AssertionError (or wider) and neither re-raises nor fails the test."""
    if not _catches_assertions(handler.type):
        return False
    nodes = list(_walk(handler.body))
    return not any(isinstance(n, ast.Raise) for n in nodes) and _direct_checks(nodes)[0] == 0


def _suppresses(expr: ast.expr) -> bool:
    return (
        isinstance(expr, ast.Call)
        and _last_name(expr.func) == "suppress"
        and any(_catches_assertions(arg) for arg in expr.args)
    )


_MATCHING = frozenset({"raises", "warns", "deprecated_call"})
_MATCHING_REGEX = frozenset({"assertRaisesRegex", "assertRaisesRegexp", "assertWarnsRegex"})


def _pins_message(call: ast.Call) -> bool:
    """``pytest.raises(T, match="...")`` checks two things, the error's type and its message: as many as the
    `isinstance` and `"..." in str(...)` asserts it replaces. Only a literal pattern that cannot match every
    message counts (not ``""``, ``".*"``, nor a variable that may hold one)."""
    name = _last_name(call.func)
    if name in _MATCHING:
        pattern = next((k.value for k in call.keywords if k.arg == "match"), None)
    elif name in _MATCHING_REGEX:
        pattern = (
            call.args[1]
            if len(call.args) > 1
            else next((k.value for k in call.keywords if k.arg == "expected_regex"), None)
        )
    else:
        return False
    if not (isinstance(pattern, ast.Constant) and isinstance(pattern.value, str)):
        return False
    try:
        return re.search(pattern.value, "") is None
    except (re.error, RecursionError):
        return False


def _broad_raises(call: ast.Call) -> bool:
    """``pytest.raises(Exception)``: any error passes. Not with ``match=`` (or assertRaisesRegex's pattern),
    which pins the error down by its message."""
    if _last_name(call.func) not in _RAISES or not call.args:
        return False
    if any(k.arg == "match" for k in call.keywords) or (_last_name(call.func) or "").startswith("assertRaisesRegex"):
        return False
    expected = call.args[0]
    elts = expected.elts if isinstance(expected, ast.Tuple) else [expected]
    return any(_last_name(e) in _BROAD for e in elts)


def _trivially_true(test: ast.expr) -> bool:
    """True for an assert that cannot fail: ``assert True``, ``assert "x"``, ``assert x or True``,
    ``assert x == x``, ``assert (x, "message")``."""
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if isinstance(test, ast.Tuple | ast.List | ast.Set):
        return bool(test.elts)
    if isinstance(test, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and v.value for v in test.values)
    if isinstance(test, ast.BoolOp):
        parts = [_trivially_true(v) for v in test.values]
        return any(parts) if isinstance(test.op, ast.Or) else all(parts)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return isinstance(test.operand, ast.Constant) and not test.operand.value
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, right, op = test.left, test.comparators[0], test.ops[0]
        if isinstance(left, ast.Constant) and isinstance(right, ast.Constant):
            return _constant_compare(op, left.value, right.value)
        if isinstance(op, ast.Eq | ast.Is | ast.GtE | ast.LtE) and type(left) is type(right):
            return ast.dump(left) == ast.dump(right)
    return False


def _constant_compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    try:
        if isinstance(op, ast.Eq):
            return bool(left == right)
        if isinstance(op, ast.NotEq):
            return bool(left != right)
        if isinstance(op, ast.In):
            return bool(left in right)
        if isinstance(op, ast.NotIn):
            return bool(left not in right)
    except TypeError:
        return False
    return False


# --------------------------------------------------------------------------- skip markers (HG004)

_MARK_SKIPS = frozenset({"skip", "skipif", "xfail"})
_MARKER_TOKENS = ("skip", "Skip", "xfail", "expectedFailure")
_UNITTEST_SKIPS = frozenset({"skip", "skipIf", "skipUnless", "expectedFailure"})
_SKIP_CALLS = frozenset({"skip", "xfail", "importorskip"})


@dataclass(frozen=True)
class _Marker:
    scope: str  # "test_x", "TestA::test_y", "TestA", "<module>"
    kind: str  # "pytest.mark.skip", "pytest.importorskip()", ...
    key: str  # the marker's ast dump, to tell old markers from new ones when lines shift
    line: int
    platform_only: bool = False  # a skipif whose condition names only the platform or the Python version
    condition: ast.expr | None = field(default=None, compare=False)  # a platform_only skipif's condition


_MarkVariables = dict[str, _Marker]  # name -> the marker it holds (scope "", line of its definition)


def _mark_variables(module: Iterable[ast.stmt]) -> _MarkVariables:
    """Module-level names bound to a skip marker (``needs_net = pytest.mark.skipif(...)``): defining one skips
    nothing; the tests it decorates are skipped."""
    found: _MarkVariables = {}
    for stmt in module:
        target = _assigned_name(stmt)
        value = getattr(stmt, "value", None)
        if target is None or value is None:
            continue
        held: list[_Marker] = []
        _markers_in([value], "", held, decorators=True)
        # A mark object (not a skip *call* like importorskip, which skips at import) under any name but
        # `pytestmark`, which pytest applies to every test of the module.
        is_mark = held and held[0].kind.startswith(("pytest.mark.", "unittest.")) and held[0].key == ast.dump(value)
        if is_mark and target != "pytestmark":
            found[target] = held[0]
    return found


def _assigned_name(stmt: ast.stmt) -> str | None:
    """The one name a plain assignment binds (``x = ...``, ``x: T = ...``)."""
    target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
    if isinstance(stmt, ast.AnnAssign):
        target = stmt.target
    return target.id if isinstance(target, ast.Name) else None


def _scan_markers(
    stmts: Iterable[ast.stmt], skip: set[str], lines: list[str], ascii_only: bool, variables: _MarkVariables
) -> list[_Marker]:
    """Every skip marker in ``stmts``, except inside the functions named in ``skip`` (identical on both sides).
    A test decorated with a mark variable (``@needs_net``) gets the marker the variable holds; the variable's
    own definition is none.

    Every marker form names one of :data:`_MARKER_TOKENS` (or a mark variable) in the source, so a statement
    whose text has none is not walked; unless the file has non-ASCII text, where Python's NFKC folding of
    identifiers could spell ``skip`` in other characters.
    """
    out: list[_Marker] = []
    tokens = (*_MARKER_TOKENS, *variables)
    _scan_block(stmts, "", out, skip, lines if ascii_only else None, variables, tokens)
    return out


def _scan_block(
    body: Iterable[ast.stmt],
    scope: str,
    out: list[_Marker],
    skip: set[str],
    lines: list[str] | None,
    variables: _MarkVariables,
    tokens: tuple[str, ...],
) -> None:
    for stmt in body:
        if lines is not None and not _mentions_any(_segment(stmt, lines), tokens):
            continue
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{scope}::{stmt.name}" if scope else stmt.name
            if name in skip and not isinstance(stmt, ast.ClassDef):
                continue
            _markers_in(stmt.decorator_list, name, out, decorators=True)
            for decorator in stmt.decorator_list:
                if isinstance(decorator, ast.Name) and (held := variables.get(decorator.id)) is not None:
                    # Its own kind per variable: swapping `@needs_posix` for `@slow_host` is a new skip.
                    kind = f"{held.kind} (`{decorator.id}`)"
                    key = f"{decorator.id}={held.key}"
                    out.append(_Marker(name, kind, key, decorator.lineno, held.platform_only, held.condition))
            if isinstance(stmt, ast.ClassDef):
                _scan_block(stmt.body, name, out, skip, lines, variables, tokens)
            else:
                _markers_in(stmt.body, name, out)
        elif not scope and _defines_mark_variable(stmt, variables):
            continue
        else:
            _markers_in([stmt], scope or "<module>", out)


def _defines_mark_variable(stmt: ast.stmt, variables: _MarkVariables) -> bool:
    return _assigned_name(stmt) in variables


def _mark_ref(node: ast.AST, bare: bool) -> str | None:
    """``pytest.mark.skip``/``mark.xfail``/``unittest.skipIf`` (and, in decorator position, a bare ``skipIf``)."""
    if isinstance(node, ast.Attribute):
        owner = node.value
        if node.attr in _MARK_SKIPS and _last_name(owner) == "mark":
            return f"pytest.mark.{node.attr}"
        if node.attr in _UNITTEST_SKIPS and isinstance(owner, ast.Name) and owner.id == "unittest":
            return f"unittest.{node.attr}"
    elif bare and isinstance(node, ast.Name) and node.id in _UNITTEST_SKIPS:
        return f"unittest.{node.id}"
    return None


def _markers_in(roots: Iterable[ast.AST], scope: str, out: list[_Marker], decorators: bool = False) -> None:
    for root in roots:
        consumed: set[int] = set()
        for node in _walk(root):
            if id(node) in consumed:
                continue
            kind: str | None = None
            if isinstance(node, ast.Call):
                func = node.func
                kind = _mark_ref(func, decorators and node is root)
                if kind is not None:
                    consumed.add(id(func))
                    if (
                        kind in ("pytest.mark.skipif", "unittest.skipIf")
                        and node.args
                        and _trivially_true(_condition_expr(node.args[0]))
                    ):
                        kind = kind.replace("skipif", "skip").replace("skipIf", "skip") + " (condition always true)"
                elif isinstance(func, ast.Attribute):
                    if func.attr in _SKIP_CALLS and isinstance(func.value, ast.Name) and func.value.id == "pytest":
                        kind = f"pytest.{func.attr}()"
                    elif func.attr == "skipTest":
                        kind = "self.skipTest()"
                elif isinstance(func, ast.Name) and func.id in _SKIP_CALLS:
                    kind = f"{func.id}()"
            elif isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if _last_name(exc) == "SkipTest":
                    kind = "raise SkipTest"
            else:
                kind = _mark_ref(node, decorators and node is root)
            if kind is not None:
                platform_only = (
                    kind in ("pytest.mark.skipif", "unittest.skipIf")
                    and isinstance(node, ast.Call)
                    and bool(node.args)
                    and _platform_condition(node.args[0])
                )
                condition = node.args[0] if platform_only and isinstance(node, ast.Call) else None
                out.append(_Marker(scope, kind, ast.dump(node), getattr(node, "lineno", 0), platform_only, condition))


# A project's own platform flag (click's `WIN`, `IS_PYPY`, `PY311`), imported or defined elsewhere.
_PLATFORM_FLAG = re.compile(
    r"(?:\w+\.)?(?:IS_|ON_|RUNNING_ON_)?(?:WIN(?:DOWS)?|MAC(?:OS)?|DARWIN|LINUX|POSIX|PYPY|CPYTHON|PY\d+\w*)"
)
_MACHINE_MODULES = frozenset({"os", "sys", "socket", "signal", "time", "select", "fcntl", "resource", "platform"})
_MACHINE_CALLS = frozenset(
    {"shutil.which", "importlib.util.find_spec", "util.find_spec", "find_spec", "os.environ.get", "os.getenv"}
)
_PLATFORM_NAMES = frozenset(
    {"sys.platform", "sys.version_info", "sys.implementation", "sys.maxsize", "os.name", "sys.byteorder"}
)


def _condition_expr(condition: ast.expr) -> ast.expr:
    """A skipif condition as an expression: pytest evaluates a string condition (`"sys.platform == 'win32'"`)
    as Python, so it is the parsed string, not a (truthy) string constant."""
    if isinstance(condition, ast.Constant) and isinstance(condition.value, str):
        try:
            return ast.parse(condition.value.strip(), mode="eval").body
        except SyntaxError:
            return condition
    return condition


def _platform_condition(condition: ast.expr) -> bool:
    """The condition reads only the platform and the Python version, compared with constants: nothing a change
    to the code under test could make true."""
    condition = _condition_expr(condition)
    if isinstance(condition, ast.Constant):
        return False
    nodes = list(ast.walk(condition))
    # Parts of a longer name chain (`sys` in `sys.platform`, a call's function) are judged with the whole chain.
    inner = {id(n.value) for n in nodes if isinstance(n, ast.Attribute)}
    inner |= {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    seen = False
    for node in nodes:
        if isinstance(node, ast.Attribute | ast.Name):
            if id(node) in inner:
                continue
            dotted = ".".join(_chain(node))
            known = any(dotted == n or dotted.startswith(n + ".") for n in _PLATFORM_NAMES)
            flag = _PLATFORM_FLAG.fullmatch(dotted) is not None or dotted in ("os.environ", *_MACHINE_MODULES)
            if not (known or flag or dotted.startswith("platform.")):
                return False
            seen = True
        elif isinstance(node, ast.Call):
            # platform.system(); a method of a platform value (sys.platform.startswith("win")); a tool, module or
            # variable the machine may lack (shutil.which("cat"), find_spec("numpy"), os.environ.get("CI"))
            func = ".".join(_chain(node.func))
            on_value = any(func.startswith(n + ".") for n in _PLATFORM_NAMES)
            constant_args = all(isinstance(a, ast.Constant) for a in node.args) and not node.keywords
            machine = func in _MACHINE_CALLS and constant_args
            # hasattr(os, "getuid"), hasattr(socket, "AF_UNIX"): whether the machine's module has a feature
            machine = machine or (
                func == "hasattr"
                and len(node.args) == 2
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id in _MACHINE_MODULES
                and isinstance(node.args[1], ast.Constant)
            )
            if not ((func.startswith("platform.") and not node.args) or (on_value and constant_args) or machine):
                return False
            seen = True
        elif not isinstance(node, _CONDITION_NODES):
            return False
    return seen


_MINORS = range(41)  # Python 3.0 to 3.40: the versions a version condition is evaluated for
_VERSION_FIELDS = ("major", "minor", "micro", "releaselevel", "serial")
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


class _NotAVersionCondition(Exception):
    """The condition reads something besides ``sys.version_info`` and constants."""


def _extends_version_pin(pins: Sequence[_Marker], marker: _Marker) -> bool:
    """Whether a new skip on an existing test only carries its pin to older Pythons on to the next releases
    (rich 655b5210: ``@skip_py311 @skip_py312 @skip_py313`` on a test of 3.10's output, now ``@skip_py314`` too).

    The test had, at base, skips on the Python version alone that leave out a version newer than one it runs
    on; the new skip, on the version alone too, leaves out only versions already left out and the ones right
    after the newest of them (3.14, or 3.14 and later). A first version skip, or one on a test that only needs
    a newer Python (``< (3, 8)``), still hides a test that ran."""
    if marker.condition is None or not pins:
        return False
    pinned: set[int] = set()
    for pin in pins:
        minors = _skipped_minors(pin.condition) if pin.condition is not None else None
        pinned |= minors or set()
    skipped = _skipped_minors(marker.condition)
    if skipped is None or not pinned:
        return False
    newest = max(pinned)
    if pinned == set(range(newest + 1)):
        return False  # skipped only below some version: no pin to older versions
    added = sorted(skipped - pinned)
    return added == list(range(newest + 1, newest + 1 + len(added)))


def _skipped_minors(condition: ast.expr) -> set[int] | None:
    """The minor versions of Python 3 (0 to 40) a skip condition that reads only ``sys.version_info`` holds for;
    None for any other condition, or for one that depends on the micro version (``>= (3, 13, 4)``)."""
    expr = _condition_expr(condition)
    skipped: set[int] = set()
    try:
        for minor in _MINORS:
            outcomes = {bool(_version_value(expr, (3, minor, micro, "final", 0))) for micro in (0, 99)}
            if len(outcomes) > 1:
                return None
            if outcomes.pop():
                skipped.add(minor)
    except (_NotAVersionCondition, TypeError, IndexError, RecursionError):
        return None
    return skipped


def _version_value(node: ast.expr, version: tuple[int, int, int, str, int]) -> Any:
    """``node``'s value when ``sys.version_info`` is ``version``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | str):
        return node.value
    if isinstance(node, ast.Tuple):
        return tuple(_version_value(e, version) for e in node.elts)
    if _dotted(node) == "sys.version_info":
        return version
    if isinstance(node, ast.Attribute) and node.attr in _VERSION_FIELDS and _dotted(node.value) == "sys.version_info":
        return version[_VERSION_FIELDS.index(node.attr)]
    if isinstance(node, ast.Subscript) and _dotted(node.value) == "sys.version_info":
        index = node.slice
        if isinstance(index, ast.Constant) and type(index.value) is int:
            return version[index.value]
        if isinstance(index, ast.Slice) and index.step is None:
            bounds = [_version_value(b, version) if b is not None else None for b in (index.lower, index.upper)]
            if all(b is None or type(b) is int for b in bounds):
                return version[bounds[0] : bounds[1]]
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _version_value(node.left, version)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _version_value(comparator, version)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        values = [bool(_version_value(v, version)) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _version_value(node.operand, version)
    raise _NotAVersionCondition


def _dotted(node: ast.AST) -> str | None:
    """``sys.version_info`` for that name chain; None for anything but names and attributes."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


_CONDITION_NODES = (
    ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Constant, ast.Tuple, ast.Subscript, ast.Slice,
    ast.cmpop, ast.boolop, ast.unaryop, ast.expr_context,
)  # fmt: skip


# --------------------------------------------------------------------------- conftest.py (HG006)

_COLLECTION_HOOKS = frozenset(
    {
        "pytest_collection",
        "pytest_collection_modifyitems",
        "pytest_collect_directory",
        "pytest_collect_file",
        "pytest_ignore_collect",
        "pytest_pycollect_makeitem",
        "pytest_make_collect_report",
        "pytest_itemcollected",
        "pytest_deselected",
        "pytest_runtestloop",
        "pytest_runtest_protocol",
        "pytest_runtest_setup",
        "pytest_runtest_call",
        "pytest_pyfunc_call",
        "pytest_runtest_makereport",
        "pytest_runtest_logreport",
        "pytest_report_teststatus",
        "pytest_cmdline_main",
        "pytest_load_initial_conftests",
    }
)
_COLLECT_IGNORE = frozenset({"collect_ignore", "collect_ignore_glob"})
_SELECTION_INI_KEYS = frozenset(
    {"addopts", "testpaths", "python_files", "python_classes", "python_functions", "norecursedirs"}
)
_MUTATORS = frozenset({"append", "extend", "insert", "remove", "clear", "pop", "update", "__setitem__"})
_RESULT_ATTRS = frozenset({"exitstatus", "testsfailed"})


class _Hook(NamedTuple):
    line: int
    dump: str
    node: _Func


@dataclass
class _ConftestFacts:
    hooks: dict[str, list[_Hook]] = field(default_factory=dict)  # name -> its definitions
    ignores: dict[tuple[str, str], int] = field(default_factory=dict)  # (variable, entry) -> line
    mutations: list[tuple[int, str, str]] = field(default_factory=list)  # (line, dump, description)


def _chain(node: ast.AST) -> list[str]:
    """``config.option.keyword`` -> ["config", "option", "keyword"]; subscripts and calls are looked through."""
    names: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            if isinstance(node, ast.Name):
                names.append(node.id)
            return names[::-1]


def _conftest_facts(stmts: Iterable[ast.stmt]) -> _ConftestFacts:
    facts = _ConftestFacts()
    for node in _walk(stmts):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in _COLLECTION_HOOKS:
            facts.hooks.setdefault(node.name, []).append(_Hook(node.lineno, ast.dump(node), node))
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                _record_target(facts, node, target)
        elif isinstance(node, ast.Call):
            _record_call(facts, node)
    return facts


def _only_warning_filters_differ(base: Sequence[_Hook], head: Sequence[_Hook]) -> bool:
    """Whether a hook's definitions differ only in ``item.add_marker(pytest.mark.filterwarnings("..."))``
    statements added or removed: a warning filter changes which warnings fail a test, not which tests are
    collected, run or reported (as ``filterwarnings`` in the configuration, see HG005). Removing an ``error``
    filter lets warnings pass that failed the tests before, so that one is a change."""
    old = [_without_warning_filters(hook.node) for hook in base]
    new = [_without_warning_filters(hook.node) for hook in head]
    if sorted(dump for dump, _ in old) != sorted(dump for dump, _ in new):
        return False
    strict_after = Counter(f for _, filters in new for f in filters)
    return not Counter(f for _, filters in old for f in filters) - strict_after


def _without_warning_filters(hook: _Func) -> tuple[str, list[str]]:
    """The hook's ast dump without its filterwarnings-mark statements, and the dumps of its ``error`` filters."""
    strict: list[str] = []

    class _Strip(ast.NodeTransformer):
        def visit_Expr(self, node: ast.Expr) -> ast.Expr | None:
            action = _warning_filter_mark(node)
            if action is None:
                return node
            if action == "error":
                strict.append(ast.dump(node))
            return None  # dropped from the statement list it sits in

    return ast.dump(_Strip().visit(copy.deepcopy(hook))), strict


def _warning_filter_mark(stmt: ast.Expr) -> str | None:
    """The action of ``<item>.add_marker(pytest.mark.filterwarnings("..."))`` with literal arguments only (nothing
    computed, so nothing else runs): ``error`` if one of its filters turns warnings into errors, else one of the
    others (``ignore``, ``default``, ...); None for any other statement."""
    call = stmt.value
    if not (isinstance(call, ast.Call) and _last_name(call.func) == "add_marker" and len(call.args) == 1):
        return None
    mark = call.args[0]
    if not (
        isinstance(mark, ast.Call)
        and isinstance(mark.func, ast.Attribute)
        and mark.func.attr == "filterwarnings"
        and _last_name(mark.func.value) == "mark"
        and not mark.keywords
        and all(isinstance(k.value, ast.Constant) for k in call.keywords)
    ):
        return None
    filters = [a.value for a in mark.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if not filters or len(filters) != len(mark.args):
        return None
    actions = {f.split(":", 1)[0].strip() for f in filters}
    return "error" if "error" in actions else actions.pop()


def _literal_entries(node: ast.AST | None) -> list[str] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [repr(node.value)]
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        entries = [_literal_entries(e) for e in node.elts]
        return None if any(e is None for e in entries) else [x for e in entries if e for x in e]
    return None


def _record_ignore(facts: _ConftestFacts, variable: str, value: ast.AST | None, line: int) -> None:
    if value is None:
        return
    entries = _literal_entries(value)
    if entries is None:
        facts.ignores.setdefault((variable, f"the computed value `{ast.unparse(value)}`"), line)
    for entry in entries or []:
        facts.ignores.setdefault((variable, entry), line)


def _is_config_args(chain: list[str]) -> bool:
    """``config.args``, ``session.config.args``: the paths and node ids pytest was asked to run."""
    return (
        len(chain) >= 2
        and chain[-1] == "args"
        and any(n in ("config", "session") or n.endswith("config") for n in chain[:-1])
    )


def _is_option(chain: list[str]) -> bool:
    return len(chain) >= 2 and "option" in chain[1:]


def _record_target(facts: _ConftestFacts, node: ast.Assign | ast.AugAssign | ast.AnnAssign, target: ast.expr) -> None:
    if isinstance(target, ast.Name) and target.id in _COLLECT_IGNORE:
        _record_ignore(facts, target.id, node.value, node.lineno)
        return
    chain = _chain(target)
    if _is_option(chain) or _is_config_args(chain):
        facts.mutations.append((node.lineno, ast.dump(node), f"`{'.'.join(chain)}` is assigned"))
    elif len(chain) >= 2 and chain[-1] in _RESULT_ATTRS:
        facts.mutations.append((node.lineno, ast.dump(node), f"the run's `{chain[-1]}` is overwritten"))


def _record_call(facts: _ConftestFacts, call: ast.Call) -> None:
    func = call.func
    if isinstance(func, ast.Name) and func.id == "setattr" and call.args and "option" in _chain(call.args[0])[1:]:
        facts.mutations.append((call.lineno, ast.dump(call), "a pytest option is set with setattr"))
        return
    if not isinstance(func, ast.Attribute):
        return
    owner = _chain(func.value)
    if func.attr in _MUTATORS:
        if isinstance(func.value, ast.Name) and func.value.id in _COLLECT_IGNORE:
            added = {"append": call.args[:1], "insert": call.args[1:2], "extend": None}.get(func.attr, [])
            if added is None and call.args:
                _record_ignore(facts, func.value.id, call.args[0], call.lineno)
            elif added:
                _record_ignore(facts, func.value.id, ast.List(elts=added, ctx=ast.Load()), call.lineno)
        elif _is_option(owner) or _is_config_args(owner):
            facts.mutations.append(
                (call.lineno, ast.dump(call), f"`{'.'.join(owner)}.{func.attr}()` changes pytest's options")
            )
    elif func.attr == "addinivalue_line" and call.args:
        first = call.args[0]
        if isinstance(first, ast.Constant) and first.value in _SELECTION_INI_KEYS:
            facts.mutations.append(
                (call.lineno, ast.dump(call), f"`addinivalue_line({first.value!r}, ...)` changes test selection")
            )
    elif func.attr in ("set_blocked", "unregister") and "pluginmanager" in owner:
        facts.mutations.append((call.lineno, ast.dump(call), f"`pluginmanager.{func.attr}()` disables a plugin"))


# --------------------------------------------------------------------------- test detection (HG007)

_DETECTION_TOKENS = ("pytest", "PYTEST", "unittest", "_called_from_test")
_TEST_MODULES = frozenset({"pytest", "_pytest", "unittest"})
_ENV_GETTERS = frozenset({"get", "getenv", "pop", "setdefault", "__contains__", "__getitem__"})
_STR_METHODS = frozenset({"endswith", "startswith", "find", "index", "count", "__contains__", "rfind"})


def _mentions(node: ast.AST, name: str) -> bool:
    return any(_last_name(n) == name for n in _walk(node))


def _pytest_env(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("PYTEST_")


def _pytest_word(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and "pytest" in node.value


def _test_detections(stmts: Iterable[ast.stmt]) -> list[tuple[int, str, str, Severity]]:
    """(line, description, key, severity) of every place the code asks whether it runs under a test."""
    found: list[tuple[int, str, str, Severity]] = []

    def add(node: ast.expr | ast.stmt, description: str, severity: Severity = "error") -> None:
        found.append((node.lineno, description, f"{description}|{ast.dump(node)}", severity))

    for node in _walk(stmts):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if _pytest_env(node.slice):
                add(node, "reads a PYTEST_* environment variable")
            elif (
                _last_name(node.value) == "modules"
                and isinstance(node.slice, ast.Constant)
                and node.slice.value in _TEST_MODULES
            ):
                add(node, f"looks up {node.slice.value!r} in sys.modules")
        elif isinstance(node, ast.Call):
            func, args = node.func, node.args
            name = _last_name(func)
            if name in _ENV_GETTERS and args and _pytest_env(args[0]):
                add(node, "reads a PYTEST_* environment variable")
            elif (
                name in ("get", "__contains__")
                and isinstance(func, ast.Attribute)
                and _last_name(func.value) == "modules"
                and args
                and isinstance(args[0], ast.Constant)
                and args[0].value in _TEST_MODULES
            ):
                add(node, f"looks up {args[0].value!r} in sys.modules")
            elif name in ("hasattr", "getattr") and any(
                isinstance(a, ast.Constant) and a.value == "_called_from_test" for a in args
            ):
                add(node, "reads sys._called_from_test")
            elif (
                name in _STR_METHODS
                and isinstance(func, ast.Attribute)
                and _mentions(func.value, "argv")
                and any(_pytest_word(a) for a in args)
            ):
                add(node, "checks sys.argv for pytest")
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            membership = any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
            if membership and any(_pytest_env(o) for o in operands):
                add(node, "checks for a PYTEST_* environment variable")
            elif (
                membership
                and isinstance(node.left, ast.Constant)
                and node.left.value in _TEST_MODULES
                and any(_mentions(c, "modules") for c in node.comparators)
            ):
                add(node, f"checks whether {node.left.value!r} is in sys.modules")
            elif any(_pytest_word(o) for o in operands) and any(_mentions(o, "argv") for o in operands):
                add(node, "checks sys.argv for pytest")
        elif isinstance(node, ast.Attribute) and node.attr == "_called_from_test":
            add(node, "reads sys._called_from_test")
        elif isinstance(node, ast.Import):
            if any(alias.name.split(".")[0] in ("pytest", "_pytest") for alias in node.names):
                add(node, "imports pytest", "warning")
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] in ("pytest", "_pytest")
        ):
            add(node, "imports from pytest", "warning")
    return sorted(found)


# --------------------------------------------------------------------------- report tampering (HG012)

# The names the harness's report machinery goes by: the variable holding the report path, the plugin module
# that writes the report, and the name its recorder is registered under in pytest's plugin manager.
_REPORT_NAMES: dict[str, str] = {
    REPORT_FD_ENV: "report variable",
    NONCE_FD_ENV: "report nonce variable",
    "HARNESS_PYTEST_REPORT": "report variable",
    PLUGIN_MODULE: "report plugin",
    "harness-report-recorder": "report recorder",
}
_EXIT_MODULES = frozenset({"os", "posix", "nt"})
_TAMPERING_TOKENS = (*_REPORT_NAMES, "_exit", "/proc")


def _report_name_in(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    return next((name for name in _REPORT_NAMES if name in value), None)


def _reads_proc_environ(value: object) -> bool:
    """``"/proc/self/environ"`` and the like: a process's initial environment, which still holds the report
    variable after the plugin has taken it out of ``os.environ``."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return isinstance(value, str) and "/proc" in value and "environ" in value


def _report_tampering(stmts: Iterable[ast.stmt], in_tests: bool) -> list[tuple[int, str, str, str]]:
    """(line, description, key, kind) of every reference to the harness's report machinery ("report"), and, with
    ``in_tests``, every way to end the interpreter behind pytest's back ("exit")."""
    found: list[tuple[int, str, str, str]] = []
    inert: set[int] = set()  # docstrings and other bare strings: never run, like comments

    def add(node: ast.expr | ast.stmt, description: str, kind: str) -> None:
        found.append((node.lineno, description, f"{description}|{ast.dump(node)}", kind))

    for node in _walk(stmts):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            inert.add(id(node.value))
        elif isinstance(node, ast.Constant):
            if id(node) in inert:
                continue
            name = _report_name_in(node.value)
            if name is not None:
                add(node, f"names the harness's {_REPORT_NAMES[name]} `{name}`", "report")
            elif in_tests and _reads_proc_environ(node.value):
                add(node, f"names a process's environment file {node.value!r}", "report")
            elif in_tests and node.value == "_exit":
                add(node, "looks up `_exit` by name", "exit")
        elif isinstance(node, ast.Import):
            if any(alias.name.split(".")[0] == PLUGIN_MODULE for alias in node.names):
                add(node, f"imports the harness's report plugin `{PLUGIN_MODULE}`", "report")
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            module = (node.module or "").split(".")[0]
            if module == PLUGIN_MODULE:
                add(node, f"imports from the harness's report plugin `{PLUGIN_MODULE}`", "report")
            elif in_tests and module in _EXIT_MODULES and any(alias.name == "_exit" for alias in node.names):
                add(node, f"imports `{module}._exit`", "exit")
        elif (
            in_tests
            and isinstance(node, ast.Attribute)
            and node.attr == "_exit"
            and _last_name(node.value) not in ("self", "cls")
        ):
            add(node, f"uses `{ast.unparse(node)}`", "exit")
    return sorted(found)


# --------------------------------------------------------------------------- configuration (HG005)

_PYTEST_SECTIONS = {"pytest.ini": "pytest", ".pytest.ini": "pytest", "tox.ini": "pytest", "setup.cfg": "tool:pytest"}
_COVERAGE_SECTIONS = {"tox.ini": "coverage:report", "setup.cfg": "coverage:report", ".coveragerc": "report"}
_CONFIG_NAMES = frozenset({"pyproject.toml", "pytest.toml", ".pytest.toml", *_PYTEST_SECTIONS, *_COVERAGE_SECTIONS})
_PATTERN_DEFAULTS: dict[str, tuple[str, ...]] = {
    "python_files": ("test_*.py", "*_test.py"),
    "python_classes": ("Test",),
    "python_functions": ("test",),
}
_NORECURSE_DEFAULT = ("*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}")
_WITH_VALUE = {
    "-k": "-k",
    "-m": "-m",
    "--deselect": "--deselect",
    "--ignore": "--ignore",
    "--ignore-glob": "--ignore-glob",
    "-p": "-p",
    "-o": "-o",
    "--override-ini": "-o",
    "-c": "-c",
    "--config-file": "-c",
    "--cov-fail-under": "--cov-fail-under",
}
_SHORT_WITH_VALUE = frozenset({"-k", "-m", "-p", "-o", "-c"})
_FLAGS = {
    "--co": "--collect-only",
    "--collect-only": "--collect-only",
    "--lf": "--last-failed",
    "--last-failed": "--last-failed",
    "--sw": "--stepwise",
    "--stepwise": "--stepwise",
    "--sw-skip": "--stepwise-skip",
    "--stepwise-skip": "--stepwise-skip",
    "--continue-on-collection-errors": "--continue-on-collection-errors",
}
_HARMLESS_PLUGINS = frozenset({"cacheprovider"})  # the harness itself runs pytest without it
_OPTION_WHY = {
    "-k": "only tests whose names match the expression run; the rest are deselected",
    "-m": "only tests whose markers match the expression run; the rest are deselected",
    "--deselect": "the named tests are no longer run",
    "--ignore": "files under that path are no longer collected",
    "--ignore-glob": "files matching that pattern are no longer collected",
    "-p": "a disabled plugin can stop tests from being collected or run (no:unittest, no:asyncio, ...)",
    "-o": "overriding a collection setting changes which tests pytest finds",
    "-c": "pytest reads a different configuration file",
    "--collect-only": "tests are collected but never run",
    "--last-failed": "only the tests that failed last time run",
    "--stepwise": "the run stops at the first failure and skips what it ran before",
    "--stepwise-skip": "the run skips the first failing test",
    "--continue-on-collection-errors": "test files that fail to import no longer fail the run",
}


class _ConfigError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        match = re.search(r"line (\d+)", message)
        self.line = int(match.group(1)) if match else None


@dataclass
class _Settings:
    pytest: dict[str, Any] = field(default_factory=dict)
    pytest_header: str | None = None
    fail_under: float | None = None
    coverage_header: str | None = None


def _config_kind(path: str | None) -> str | None:
    if path is None:
        return None
    name = _basename(path)
    return name if name in _CONFIG_NAMES else None


def _read_settings(kind: str, text: str) -> _Settings:
    settings = _Settings()
    if kind.endswith(".toml"):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise _ConfigError(str(exc)) from exc
        if kind == "pyproject.toml":
            tool = _table(data.get("tool"))
            pytest = _table(tool.get("pytest"))
            ini = _table(pytest.get("ini_options"))
            native = {k: v for k, v in pytest.items() if k != "ini_options"}
            settings.pytest = {**ini, **native}
            settings.pytest_header = "[tool.pytest.ini_options]" if ini else "[tool.pytest]"
            report = _table(_table(tool.get("coverage")).get("report"))
            settings.fail_under = _number(report.get("fail_under"))
            settings.coverage_header = "[tool.coverage.report]"
        else:
            settings.pytest = _table(data.get("pytest"))
            settings.pytest_header = "[pytest]"
        return settings
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise _ConfigError(str(exc)) from exc
    section = _PYTEST_SECTIONS.get(kind)
    if section and parser.has_section(section):
        settings.pytest = dict(parser.items(section))
        settings.pytest_header = f"[{section}]"
    section = _COVERAGE_SECTIONS.get(kind)
    if section and parser.has_section(section):
        settings.fail_under = _number(parser.get(section, "fail_under", fallback=None))
        settings.coverage_header = f"[{section}]"
    return settings


def _table(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _words(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value).split()


def _args(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        return shlex.split(str(value))
    except ValueError:
        return str(value).split()


def _selection(tokens: list[str]) -> tuple[dict[tuple[str, str], str], float | None]:
    """Selection-narrowing options in ``addopts`` -> the token as written; and ``--cov-fail-under``."""
    found: dict[tuple[str, str], str] = {}
    cov: float | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        name, value = token, None
        if token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
        elif not token.startswith("--") and len(token) > 2 and token[:2] in _SHORT_WITH_VALUE:
            name, value = token[:2], token[2:]
        if name in _WITH_VALUE:
            canon = _WITH_VALUE[name]
            if value is None and i < len(tokens):
                value = tokens[i]
                i += 1
            value = value or ""
            if canon == "--cov-fail-under":
                cov = _number(value)
            elif _narrows(canon, value):
                found[(canon, value)] = f"{name} {value}"
        elif name in _FLAGS:
            found[(_FLAGS[name], "")] = name
    return found, cov


def _narrows(option: str, value: str) -> bool:
    if option == "-p":
        return value.startswith("no:") and value[3:] not in _HARMLESS_PLUGINS
    if option == "-o":
        return value.split("=", 1)[0].strip() in _SELECTION_INI_KEYS
    return True


def _config_findings(change: FileChange, base_path: str | None, head_path: str | None) -> list[GuardFinding]:
    base_kind, head_kind = _config_kind(base_path), _config_kind(head_path)
    path = change.path
    fix = (
        "Revert the configuration change. The suite must collect and run every test it ran before, with the same "
        "coverage bar; make the failing tests pass instead of hiding them. " + _allow_hint("HG005")
    )
    try:
        base = _read_settings(base_kind, change.old_text) if base_kind and change.old_text is not None else _Settings()
    except _ConfigError:
        return []  # broken at base: its settings were not in force, and fixing or keeping it hides nothing
    head = _Settings()
    text = change.new_text if head_kind else None
    if head_kind and text is not None:
        try:
            head = _read_settings(head_kind, text)
        except _ConfigError as exc:
            return [
                _finding(
                    "HG005",
                    path,
                    exc.line,
                    f"{path} no longer parses ({exc}); pytest cannot read its test configuration.",
                    "Fix the syntax so the file parses again, keeping its test settings as they were. "
                    + _allow_hint("HG005"),
                )
            ]

    out: list[GuardFinding] = []

    def report(key: str, header: str | None, what: str) -> None:
        line = _key_line(text, key, header)
        out.append(_finding("HG005", path, line, f"{path}: {what}", fix))

    old_opts, old_cov = _selection(_args(base.pytest.get("addopts")))
    new_opts, new_cov = _selection(_args(head.pytest.get("addopts")))
    for option, written in new_opts.items():
        if option not in old_opts:
            report("addopts", head.pytest_header, f"addopts gained `{written}`: {_OPTION_WHY[option[0]]}.")
    if old_cov is not None and (new_cov is None or new_cov < old_cov):
        now = "removed" if new_cov is None else f"lowered to {new_cov:g}"
        report(
            "addopts", head.pytest_header, f"addopts --cov-fail-under={old_cov:g} was {now}: less code must be covered."
        )

    old_paths, new_paths = _words(base.pytest.get("testpaths")), _words(head.pytest.get("testpaths"))
    if new_paths is not None:
        if old_paths is None:
            report(
                "testpaths",
                head.pytest_header,
                f"testpaths was added ({' '.join(new_paths)}): pytest now only collects there, not the whole project.",
            )
        elif removed := [p for p in old_paths if p not in new_paths]:
            report(
                "testpaths",
                head.pytest_header,
                f"testpaths lost {', '.join(removed)}: tests there are no longer collected.",
            )

    for key, default in _PATTERN_DEFAULTS.items():
        before = _words(base.pytest.get(key)) or list(default)
        after = _words(head.pytest.get(key)) or list(default)
        if removed := [p for p in before if p not in after]:
            report(
                key,
                head.pytest_header,
                f"{key} no longer includes {', '.join(removed)}: matching tests are not collected.",
            )
    old_dirs = _words(base.pytest.get("norecursedirs")) or list(_NORECURSE_DEFAULT)
    new_dirs = _words(head.pytest.get("norecursedirs"))
    if new_dirs is not None and (added := [p for p in new_dirs if p not in old_dirs]):
        report(
            "norecursedirs",
            head.pytest_header,
            f"norecursedirs gained {', '.join(added)}: tests there are not collected.",
        )

    if base.fail_under is not None and (head.fail_under is None or head.fail_under < base.fail_under):
        now = "removed" if head.fail_under is None else f"lowered to {head.fail_under:g}"
        report(
            "fail_under",
            head.coverage_header,
            f"coverage fail_under={base.fail_under:g} was {now}: less code must be covered.",
        )
    return out


def _key_line(text: str | None, key: str, header: str | None) -> int | None:
    """The line of ``key`` at head: after ``header`` when the header is there, else anywhere."""
    if text is None:
        return None
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*[=:]")
    lines = text.split("\n")
    start = 0
    if header:
        start = next((i + 1 for i, line in enumerate(lines) if line.strip() == header), 0)
    for index in (*range(start, len(lines)), *range(0, start)):
        if pattern.match(lines[index]):
            return index + 1
    return None


# --------------------------------------------------------------------------- the contract (HG008)


def _is_contract(change: FileChange, context: GuardContext) -> bool:
    paths = [p for p in (change.path, change.old_path) if p]
    if context.contract_path:
        return context.contract_path in paths
    folder = context.harness_dir.strip("/") + "/contracts"
    return any(p.endswith(".md") and p.rsplit("/", 1)[0] == folder for p in paths)


def _front_matter(text: str | None, source: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        return parse_front_matter(text, source=source).meta
    except UsageError:
        return None


def _contract_findings(change: FileChange, context: GuardContext) -> list[GuardFinding]:
    path = change.path
    base = _front_matter(change.old_text, change.old_path or path)
    expected = context.contract_digest
    if not expected and base and base.get("status") == "agreed" and base.get("sha256"):
        expected = str(base["sha256"])
    if not expected:
        return []  # not agreed yet: nothing is frozen
    fix = (
        "Restore the contract file exactly as agreed. Only the harness writes contracts; if the agreed criteria are "
        "wrong, say so in the change's description or note and the contract will be renegotiated."
    )
    moved_away = change.status == "renamed" and not _is_contract(replace(change, old_path=None), context)
    if change.status == "deleted" or moved_away or change.new_text is None:
        gone = "deleted" if change.status == "deleted" else "moved or made unreadable"
        return [_finding("HG008", path, None, f"the agreed contract {change.old_path or path} was {gone}.", fix)]
    try:
        head = parse_front_matter(change.new_text, source=path).meta
    except UsageError as exc:
        return [_finding("HG008", path, None, f"the agreed contract no longer parses: {exc.message}", fix)]
    try:
        digest = contract_digest(head)
    except (TypeError, AttributeError, ValueError):
        digest = None
    recorded = head.get("sha256")
    if digest == expected and str(recorded) == expected:
        return []
    changes, anchor = _contract_changes(base, head)
    if recorded is None:
        changes.append("its sha256 field was removed")
    elif str(recorded) != expected:
        changes.append(f"its sha256 field changed from {expected[:12]}… to {str(recorded)[:12]}…")
        anchor = anchor or r"sha256:"
    if not changes:
        changes.append("its agreed content no longer matches the agreed digest")
    line = _pattern_line(change.new_text, anchor) if anchor else None
    return [
        _finding(
            "HG008",
            path,
            line,
            "the agreed contract was edited: " + "; ".join(changes) + ".",
            fix,
        )
    ]


def _criteria(meta: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    items = meta.get("criteria")
    if not isinstance(items, list):
        return {}
    return {str(c.get("id", "")): c for c in items if isinstance(c, Mapping)}


def _contract_changes(base: Mapping[str, Any] | None, head: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """What differs in the agreed fields, and a regex for the head line of the first difference."""
    if base is None:
        return [], None
    changes: list[str] = []
    anchors: list[str] = []
    old, new = _criteria(base), _criteria(head)
    for cid in new:
        if cid not in old:
            changes.append(f"criterion {cid} was added")
            anchors.append(rf"-?\s*id:\s*['\"]?{re.escape(cid)}['\"]?\s*$")
        else:
            fields = [f for f in ("behaviour", "test") if str(old[cid].get(f, "")) != str(new[cid].get(f, ""))]
            if fields:
                changes.append(f"criterion {cid}'s {' and '.join(fields)} changed")
                anchors.append(rf"-?\s*id:\s*['\"]?{re.escape(cid)}['\"]?\s*$")
    removed = [cid for cid in old if cid not in new]
    if removed:
        changes.append(f"criteria {', '.join(removed)} were removed")
        anchors.append(r"criteria:")
    for key, label in (("issue", "the issue id"), ("out_of_scope", "out of scope"), ("allow", "allowances")):
        if _agreed_part(base, key) != _agreed_part(head, key):
            changes.append(f"{label} changed")
            anchors.append(rf"{key}:")
    return changes, anchors[0] if anchors else None


def _agreed_part(meta: Mapping[str, Any], key: str) -> str:
    return repr(meta.get(key) or ([] if key != "issue" else ""))


def _pattern_line(text: str, anchor: str) -> int | None:
    pattern = re.compile(rf"^\s*{anchor}")
    for index, line in enumerate(text.split("\n")):
        if pattern.match(line):
            return index + 1
    return None


# --------------------------------------------------------------------------- frozen tests and protected paths


def _path_findings(change: FileChange, context: GuardContext) -> list[GuardFinding]:
    out: list[GuardFinding] = []
    paths = [change.path] + ([change.old_path] if change.old_path and change.old_path != change.path else [])
    frozen = next((p for p in paths if p in context.frozen_tests), None)
    if frozen is not None:
        finding = _frozen_finding(change, frozen, context.frozen_tests[frozen])
        if finding is not None:
            out.append(finding)
    for candidate in paths:
        pattern = _protected_by(candidate, context.protected_paths)
        if pattern is not None:
            out.append(
                _finding(
                    "HG010",
                    change.path,
                    None,
                    f"{candidate} was {change.status}; it is protected by the repo's harness configuration "
                    f"(protected_paths: {pattern}), and only the contract's allowance lets it change.",
                    "Revert your change to this file. It belongs to the people who run the harness (CI, harness "
                    "configuration), not to the issue. " + _allow_hint("HG010"),
                    # Blocking where an issue's work is judged against its contract (an agent's run); without a
                    # contract (a person's commit or pull request) a CI or config change is news, not a cheat.
                    None if context.contract_path is not None else "warning",
                )
            )
            break
    return out


def _frozen_finding(change: FileChange, frozen: str, expected: str) -> GuardFinding | None:
    fix = (
        "Restore the file exactly as it was when the evaluator accepted the tests, and change the implementation "
        "so the tests pass. " + _allow_hint("HG009")
    )
    if change.status == "deleted" or change.path != frozen:
        what = "deleted" if change.status == "deleted" else f"renamed to {change.path}"
        return _finding("HG009", change.path, None, f"frozen test file {frozen} was {what}.", fix)
    if change.new_text is None:
        return _finding("HG009", change.path, None, f"frozen test file {frozen} is no longer readable text.", fix)
    if _sha256(change.new_text) == expected:
        return None
    line = None
    if change.old_text is not None and _sha256(change.old_text) == expected:
        line = _first_changed_line(change.old_text, change.new_text)
    where = f" (first change at line {line})" if line else ""
    return _finding(
        "HG009",
        change.path,
        line,
        f"frozen test file {frozen} changed{where}: it no longer matches the content the evaluator accepted "
        f"(sha256 {expected[:12]}…).",
        fix,
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _first_changed_line(old: str, new: str) -> int:
    a, b = old.split("\n"), new.split("\n")
    common = min(len(a), len(b))
    for index in range(common):
        if a[index] != b[index]:
            return index + 1
    return max(1, min(common + 1, len(b)))


def _protected_by(path: str, patterns: Sequence[str]) -> str | None:
    for pattern in patterns:
        if fnmatch.fnmatchcase(path, pattern):
            return pattern
        if pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:]):
            return pattern
        if pattern.endswith("/**") and path == pattern[:-3]:
            return pattern
    return None
