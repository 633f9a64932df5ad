"""Rules about how much the suite runs: the cases of a parametrized test (HG024), the records of the test
data the tests read (HG025), and the commands people and CI run the tests with (HG026).

Each compares the base side of one changed file with its head side and reports only a *decrease*: fewer
cases, fewer records, a command that selects fewer tests or ignores their failure. Edits that keep the
count (a case rewritten, a record fixed) are the business of the test review and HG009, not of these
rules; additions are never findings. Pure functions over texts: no git, no file system.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import shlex
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from harness.guard.model import FileChange, GuardFinding, Rule

RULES: tuple[Rule, ...] = (
    Rule(
        "HG024",
        "parametrize-case-removed",
        "error",
        "a parametrized test that exists on both sides runs fewer cases, and the dropped cases are nowhere else",
    ),
    Rule(
        "HG025",
        "test-data-removed",
        "error",
        "a JSON, JSON Lines, YAML or CSV file under a tests directory lost records or was deleted",
    ),
    Rule(
        "HG026",
        "test-command-narrowed",
        "error",
        "a Makefile, justfile, tox, nox, package.json, pyproject or workflow test command runs fewer tests "
        "or ignores their failure",
    ),
)
_BY_ID = {rule.id: rule for rule in RULES}

Parse = Callable[[str | None], ast.Module | None]


def findings(change: FileChange, parse: Parse, moved_rows: Callable[[], Counter[str]]) -> list[GuardFinding]:
    """The findings of these rules for one changed file. ``moved_rows`` gives every parametrize case (as
    :func:`case_key`) of the head side of the change's test files, so a case moved to another test is no
    removal."""
    base_path = (change.old_path or change.path) if change.status != "added" else None
    if base_path is None or change.old_text is None or change.old_text == change.new_text:
        return []  # added, or a pure rename or mode change: nothing was taken away
    head_text = change.new_text if change.status != "deleted" else None
    out: list[GuardFinding] = []
    if _is_data_file(base_path):
        out.extend(_data_findings(change, base_path, head_text))
    if head_text is None:
        return out
    if _command_format(change.path) is not None and _command_format(base_path) is not None:
        out.extend(_command_findings(change.path, change.old_text, head_text))
    if change.path.endswith(".py") and "parametrize" in change.old_text and _is_test_path(change.path):
        out.extend(_case_findings(change.path, change.old_text, head_text, parse, moved_rows))
    return out


def _finding(rule_id: str, path: str, line: int | None, message: str, fix: str) -> GuardFinding:
    rule = _BY_ID[rule_id]
    allow = (
        f"If the issue genuinely needs this change, the agreed contract must list an allowance for {rule_id} "
        "on this path (`allow:` with rule, path and reason)."
    )
    return GuardFinding(rule.id, rule.name, rule.severity, path, line, message, fix + " " + allow)


def _is_test_path(path: str) -> bool:
    from harness.guard.rules import is_test_file  # rules imports this module: import it once it is loaded

    return is_test_file(path)


def _shown(items: Iterable[str], limit: int = 3) -> str:
    items = list(items)
    shown = "; ".join(_clip(item) for item in items[:limit])
    return shown + (f"; and {len(items) - limit} more" if len(items) > limit else "")


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- HG024 parametrize cases


class _Cases(NamedTuple):
    line: int  # the test's def line
    keys: list[str]  # one per case, as case_key gives it
    shown: list[str]  # the case as written, for the message


def case_key(row: ast.expr) -> str:
    """A case's identity: its values as Python reads them (quotes, spacing and line breaks do not matter)."""
    return ast.dump(row)


def parametrize_cases(module: ast.Module) -> dict[str, _Cases]:
    """Every test's literal parametrize cases, by pytest name. A decorator whose cases are not written out
    (a name, a call, a comprehension) has no countable cases and is left out."""
    from harness.guard.rules import _test_functions  # see _is_test_path

    out: dict[str, _Cases] = {}
    for name, func in _test_functions(module.body):
        keys: list[str] = []
        shown: list[str] = []
        for decorator in func.decorator_list:
            rows = _literal_rows(decorator)
            keys += [case_key(r) for r in rows]
            shown += [ast.unparse(r) for r in rows]
        if keys:
            out[name] = _Cases(func.lineno, keys, shown)
    return out


def _literal_rows(decorator: ast.expr) -> list[ast.expr]:
    if not isinstance(decorator, ast.Call) or _last_name(decorator.func) != "parametrize":
        return []
    values = decorator.args[1] if len(decorator.args) > 1 else None
    values = next((k.value for k in decorator.keywords if k.arg == "argvalues"), values)
    return list(values.elts) if isinstance(values, ast.List | ast.Tuple) else []


def _last_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def _case_findings(
    path: str, base_text: str, head_text: str, parse: Parse, moved_rows: Callable[[], Counter[str]]
) -> list[GuardFinding]:
    base_tree = parse(base_text)
    head_tree = parse(head_text) if base_tree is not None else None
    if base_tree is None or head_tree is None:
        return []
    base, head = parametrize_cases(base_tree), parametrize_cases(head_tree)
    out = []
    for name, before in base.items():
        after = head.get(name)
        if after is None or len(after.keys) >= len(before.keys):
            continue  # the test is gone (HG002's business), or it runs as many cases as before
        missing = Counter(before.keys) - Counter(after.keys)
        elsewhere = moved_rows() - Counter(after.keys)
        dropped = [shown for key, shown in zip(before.keys, before.shown, strict=True) if missing[key] > 0]
        if all(elsewhere[key] >= count for key, count in missing.items()):
            continue  # every dropped case lives on in another test of the change
        message = (
            f"{path}::{name} ran {len(before.keys)} parametrized cases and now runs {len(after.keys)}; "
            f"gone: {_shown(dropped)}."
        )
        fix = (
            "Restore the dropped cases: each case is a behaviour the suite checked, and removing the ones that "
            "fail hides the failure instead of fixing it."
        )
        out.append(_finding("HG024", path, after.line, message, fix))
    return out


# --------------------------------------------------------------------------- HG025 test data records

_DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".yaml", ".yml", ".csv", ".tsv")
_TEST_DIRS = frozenset({"tests", "test", "testing", "testdata", "test_data", "fixtures"})


def _is_data_file(path: str) -> bool:
    parts = path.replace("\\", "/").split("/")
    return parts[-1].lower().endswith(_DATA_SUFFIXES) and any(p.lower() in _TEST_DIRS for p in parts[:-1])


def data_records(path: str, text: str) -> list[str] | None:
    """The records of a test data file, each as a string that identifies it; None when the text cannot be
    read in its format (nothing can then be said about what it lost).

    JSON: the items of a top-level array, or the keys of a top-level object (of its one array when that is
    all it holds: ``{"cases": [...]}``). JSON Lines: each non-blank line. CSV/TSV: each data row after the
    header. YAML: the items of the outermost sequence (``- `` at the least indentation), otherwise the
    top-level keys — read by lines, without a YAML parser.
    """
    name = path.lower()
    if name.endswith((".jsonl", ".ndjson")):
        return [line.strip() for line in text.splitlines() if line.strip()]
    if name.endswith(".json"):
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        if isinstance(doc, dict) and len(doc) == 1 and isinstance(next(iter(doc.values())), list):
            doc = next(iter(doc.values()))
        if isinstance(doc, list):
            return [json.dumps(item, sort_keys=True) for item in doc]
        return sorted(doc) if isinstance(doc, dict) else None
    if name.endswith((".csv", ".tsv")):
        try:
            rows = list(csv.reader(io.StringIO(text), delimiter="\t" if name.endswith(".tsv") else ","))
        except csv.Error:
            return None
        rows = [r for r in rows if any(cell.strip() for cell in r)]
        return [",".join(r) for r in rows[1:]]
    return _yaml_records(text)


_YAML_ITEM = re.compile(r"^(\s*)- ?")
_YAML_KEY = re.compile(r"^([^\s#-][^:#]*):(\s|$)")


def _yaml_records(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    items = [(len(m.group(1)), line) for line in lines if (m := _YAML_ITEM.match(line))]
    if items:
        outer = min(indent for indent, _ in items)
        return [line.strip() for indent, line in items if indent == outer]
    return [m.group(1).strip() for line in lines if (m := _YAML_KEY.match(line))]


def _data_findings(change: FileChange, base_path: str, head_text: str | None) -> list[GuardFinding]:
    base = data_records(base_path, change.old_text or "")
    if not base:
        return []
    fix = (
        "Restore the records: the tests read each one as a case, and removing the cases that fail hides the "
        "failure instead of fixing it."
    )
    if head_text is None:
        message = f"test data {base_path} ({len(base)} records) was deleted."
        return [_finding("HG025", change.path, None, message, fix)]
    head = data_records(change.path, head_text)
    if head is None or len(head) >= len(base):
        return []
    gone = list((Counter(base) - Counter(head)).elements())
    message = f"test data {change.path} held {len(base)} records and now holds {len(head)}; gone: {_shown(gone)}."
    return [_finding("HG025", change.path, None, message, fix)]


# --------------------------------------------------------------------------- HG026 test commands

_COMMAND_FILES = {
    "makefile": "make",
    "gnumakefile": "make",
    "justfile": "make",
    ".justfile": "make",
    "tox.ini": "ini",
    "noxfile.py": "nox",
    "package.json": "json",
    "pyproject.toml": "toml",
}
_PYTEST = re.compile(r"(?<![\w.\-/])(?:py\.test|pytest)(?![\w.\-])")
_SELECTING = ("-k", "-m", "--deselect", "--ignore", "--ignore-glob", "--lf", "--last-failed", "--co", "--collect-only")
_IGNORES_FAILURE = re.compile(r"\|\|\s*(true|:|exit\s+0)\b|;\s*(true|exit\s+0)\s*$|--exit-zero")


def _command_format(path: str) -> str | None:
    parts = path.replace("\\", "/").split("/")
    name = parts[-1].lower()
    if name.endswith((".yml", ".yaml")) and parts[:-1][-2:] == [".github", "workflows"]:
        return "workflow"
    return _COMMAND_FILES.get(name)


class _Invocation(NamedTuple):
    fmt: str
    context: str  # the Makefile target, tox section, nox session, package.json script, ...
    line: int
    text: str  # the whole line
    args: tuple[str, ...]  # pytest's arguments


def pytest_invocations(path: str, text: str) -> list[_Invocation]:
    """Every pytest invocation in a file people or CI run the tests with, with where it sits."""
    fmt = _command_format(path) or ""
    context = ""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "//")):
            continue
        context = _context(fmt, line, stripped, context)
        match = _PYTEST.search(line)
        if match is None or (fmt == "toml" and stripped.startswith("[")):
            continue
        key = _line_key(fmt, stripped)
        where = f"{context}:{key}" if context and key else context or key
        out.append(_Invocation(fmt, where, number, stripped, _args(line[: match.start()], line[match.end() :])))
    return out


_MAKE_TARGET = re.compile(r"^([A-Za-z0-9_.\-/ ]+?)\s*:(?!=)")
_SECTION = re.compile(r"^\[+\s*([^\]]+?)\s*\]+")
_DEF = re.compile(r"^\s*def\s+(\w+)")
_KEY = re.compile(r"""^["']?([\w.\-:]+)["']?\s*[:=]""")


def _context(fmt: str | None, line: str, stripped: str, current: str) -> str:
    if fmt == "make" and not line.startswith(("\t", " ")) and (m := _MAKE_TARGET.match(line)):
        return m.group(1).strip()
    if fmt in ("ini", "toml") and (m := _SECTION.match(stripped)):
        return m.group(1)
    if fmt == "nox" and (m := _DEF.match(line)):
        return m.group(1)
    return current


def _line_key(fmt: str | None, stripped: str) -> str:
    """The script name on the line itself: ``"test": "pytest"`` in package.json, ``test = "pytest"`` in a
    pyproject table of scripts."""
    if fmt in ("json", "toml") and (m := _KEY.match(stripped)):
        return m.group(1)
    return ""


def _args(before: str, rest: str) -> tuple[str, ...]:
    """pytest's arguments on the rest of the line: the following items of a list of strings
    (``session.run("pytest", "tests")``, ``["pytest", "tests"]``), or the words up to the end of the shell
    command and of the string the command sits in (``"test": "pytest tests"``)."""
    if re.match(r"""["']\s*,""", rest):
        items = re.split(r"[)\]]", rest[1:], maxsplit=1)[0]
        return tuple(re.findall(r"""["']([^"']*)["']""", items))
    quote = next((q for q in "\"'" if before.count(q) % 2 == 1), None)
    if quote is not None:  # inside a string: it ends at its closing quote
        rest = rest.split(quote, 1)[0]
    rest = re.split(r"&&|\|\||;|\|", rest, maxsplit=1)[0]
    try:
        words = shlex.split(rest)
    except ValueError:
        words = rest.split()
    return tuple(words)


def _selection(args: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """The selecting options (with their values) and the paths pytest is given."""
    options: dict[str, str] = {}
    paths: list[str] = []
    takes_value = {"-k", "-m", "--deselect", "--ignore", "--ignore-glob", "-p", "-c", "--rootdir", "-n", "-o",
                   "--cov", "--cov-report", "--junitxml", "--tb", "--durations", "--maxfail", "--basetemp"}  # fmt: skip
    words = iter(args)
    for word in words:
        flag, _, value = word.partition("=")
        if flag in takes_value and not value:
            value = next(words, "")
        if flag in _SELECTING:
            options[flag] = (options.get(flag, "") + " " + value).strip()
        elif flag.startswith("-k") and len(flag) > 2 and not flag.startswith("--"):
            options["-k"] = flag[2:]
        elif not word.startswith("-") and flag not in takes_value and _looks_like_path(word):
            paths.append(word.rstrip("/"))
    return options, paths


def _looks_like_path(word: str) -> bool:
    if word.isdigit():
        return False
    return "/" in word or word.endswith(".py") or "::" in word or bool(re.fullmatch(r"[\w.\-]+", word))


def _narrowing(before: _Invocation, after: _Invocation) -> list[str]:
    """How ``after`` runs less than ``before``; empty when it runs as much or more."""
    old_options, old_paths = _selection(before.args)
    new_options, new_paths = _selection(after.args)
    why = []
    for flag, value in new_options.items():
        if flag not in old_options:
            why.append(f"adds `{flag}{' ' + value if value else ''}`")
        elif old_options[flag] != value:
            why.append(f"changes `{flag} {old_options[flag]}` to `{flag} {value}`")
    if new_paths:
        uncovered = [p for p in old_paths if not any(p == q or p.startswith(q + "/") for q in new_paths)]
        if not old_paths or uncovered:
            was = " ".join(old_paths) if old_paths else "the whole suite"
            why.append(f"runs only {' '.join(new_paths)} instead of {was}")
    if _ignores_failure(after) and not _ignores_failure(before):
        why.append("ignores the tests' exit status")
    return why


def _ignores_failure(inv: _Invocation) -> bool:
    """``|| true`` and the like; a Makefile recipe or a tox command prefixed with ``-``: run, exit status
    ignored."""
    dash = inv.fmt in ("make", "ini") and inv.text.startswith(("-", "@-")) and not inv.text.startswith("--")
    return dash or bool(_IGNORES_FAILURE.search(inv.text))


def _closest(candidates: list[_Invocation], target: _Invocation) -> _Invocation:
    def overlap(other: _Invocation) -> float:
        a, b = set(other.args), set(target.args)
        return len(a & b) / max(1, len(a | b))

    return max(candidates, key=overlap)


def _command_findings(path: str, base_text: str, head_text: str) -> list[GuardFinding]:
    if not _PYTEST.search(base_text):
        return []
    base = pytest_invocations(path, base_text)
    head = pytest_invocations(path, head_text)
    fix = (
        "Run the tests as they were run before: narrowing what the test command selects, or ignoring its exit "
        "status, hides failures instead of fixing them."
    )
    if base and not head:
        gone = _shown(f"{inv.context or 'line ' + str(inv.line)}: {inv.text}" for inv in base)
        return [_finding("HG026", path, None, f"{path} no longer runs pytest at all (it ran {gone}).", fix)]
    by_context: dict[str, list[_Invocation]] = {}
    for inv in base:
        by_context.setdefault(inv.context, []).append(inv)
    # a target or script renamed: its commands are compared with the ones whose place is gone
    vanished = [b for b in base if b.context not in {h.context for h in head}]
    unchanged = {(b.context, b.text) for b in base}
    out = []
    for inv in head:
        if (inv.context, inv.text) in unchanged:
            continue
        candidates = by_context.get(inv.context) or vanished
        if not candidates:
            continue  # a new target or script (a fast subset next to the full run) takes nothing away
        why = _narrowing(_closest(candidates, inv), inv)
        if why:
            where = f" ({inv.context})" if inv.context else ""
            message = f"the test command{where} `{_clip(inv.text)}` " + "; ".join(why) + "."
            out.append(_finding("HG026", path, inv.line, message, fix))
    return out


def _iter_rows(module: ast.Module) -> Iterator[str]:
    """Every literal parametrize case of every test in ``module`` (for the engine's ``moved_rows``)."""
    for cases in parametrize_cases(module).values():
        yield from cases.keys


def head_rows(trees: Iterable[ast.Module]) -> Counter[str]:
    """The parametrize cases of the head side of the change's test files, counted."""
    return Counter(key for tree in trees for key in _iter_rows(tree))
