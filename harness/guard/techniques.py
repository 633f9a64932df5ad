"""Guard rules for the techniques agents are documented to use to get a green run without the work (SPEC §7):
pure functions from one file's change to findings. See docs/guards.md for each rule's bad and good example.

Every rule reports only what the change adds: the occurrences at head without an equal occurrence at base
(the same kind of thing, the same code, in the same place by name), however lines shifted. A text is
parsed only when it mentions a word one of the rules looks for (or has non-ASCII text, which Python may
fold into such a word), and the base only when the head has something to report.
"""

from __future__ import annotations

import ast
import configparser
import re
import shlex
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from harness.guard.model import FileChange, GuardContext, GuardFinding, Rule

Parse = Callable[[str | None], ast.Module | None]  # the engine's cached parser: None when absent or invalid

RULES: tuple[Rule, ...] = (
    Rule(
        "HG013",
        "equality-ignores-operand",
        "error",
        "non-test code gained an __eq__ or __ne__ that never looks at the object it compares with",
    ),
    Rule(
        "HG014",
        "interpreter-exit-in-tests",
        "error",
        "a test or conftest.py gained sys.exit, exit, quit, raise SystemExit, pytest.exit or a signal to itself",
    ),
    Rule(
        "HG015",
        "framework-patched",
        "error",
        "code assigns onto pytest, unittest, builtins, time, random or inspect for the whole process",
    ),
    Rule(
        "HG016",
        "frame-introspection",
        "error",
        "non-test code inspects its callers' frames or reads the test files",
    ),
    Rule(
        "HG017",
        "early-return-in-test",
        "error",
        "a new or changed test returns before its last check, so the checks after the return may never run",
    ),
    Rule("HG018", "test-hidden", "error", "a test file, test class or test gained __test__ = False"),
    Rule(
        "HG019",
        "startup-hook-added",
        "error",
        "a sitecustomize.py, usercustomize.py or .pth file was added: Python's site module runs it at start-up",
    ),
    Rule(
        "HG020",
        "pytest-plugin-added",
        "error",
        "pytest_plugins or addopts' -p now loads a plugin that was not loaded before",
    ),
    Rule("HG021", "criteria-edited", "error", "an issue file, which holds the acceptance criteria, was changed"),
    Rule(
        "HG022",
        "constant-checker",
        "error",
        "a new check/assert/verify helper in a test file or conftest.py returns a constant: it checks nothing",
    ),
)
_BY_ID = {rule.id: rule for rule in RULES}


def findings(change: FileChange, context: GuardContext, parse: Parse) -> list[GuardFinding]:
    """The technique findings for one changed file."""
    out = _path_findings(change, context)
    if change.status == "deleted" or change.new_text is None or change.old_text == change.new_text:
        return out  # a deletion, or a pure rename or mode change: nothing new in the content
    base_path = (change.old_path or change.path) if change.status != "added" else None
    head_kind = _kind(change.path)
    if head_kind == "config":
        out.extend(_config_findings(change, base_path))
    elif head_kind != "other":
        # a file that changed kind (src/x.py -> tests/test_x.py) is new in its new role
        base_text = change.old_text if base_path is not None and _kind(base_path) == head_kind else None
        out.extend(_python_findings(change, head_kind, base_text, parse))
    return out


# --------------------------------------------------------------------------- plumbing


def _allow_hint(rule_id: str) -> str:
    return (
        f"If the issue genuinely needs this change, the agreed contract must list an allowance for {rule_id} "
        "on this path (`allow:` with rule, path and reason)."
    )


def _finding(rule_id: str, path: str, line: int | None, message: str, fix: str) -> GuardFinding:
    rule = _BY_ID[rule_id]
    return GuardFinding(rule.id, rule.name, rule.severity, path, line, message, fix + " " + _allow_hint(rule_id))


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


_CONFIG_FILES = {
    "pyproject.toml": ("toml", "tool.pytest.ini_options"),
    "pytest.toml": ("toml", "pytest"),
    ".pytest.toml": ("toml", "pytest"),
    "pytest.ini": ("ini", "pytest"),
    ".pytest.ini": ("ini", "pytest"),
    "tox.ini": ("ini", "pytest"),
    "setup.cfg": ("ini", "tool:pytest"),
}


def _kind(path: str) -> str:
    """The file's role: test, conftest, code (any other .py file), config (pytest's settings) or other."""
    from harness.guard.rules import is_test_file  # rules imports this module: import it once it is loaded

    name = _basename(path)
    if name in _CONFIG_FILES:
        return "config"
    if not name.endswith(".py"):
        return "other"
    if name == "conftest.py":
        return "conftest"
    return "test" if is_test_file(path) else "code"


def _mentions_any(text: str, tokens: Iterable[str]) -> bool:
    """A prefilter before ast work, never a verdict: True when ``text`` contains one of ``tokens``, or any
    non-ASCII character (identifiers are NFKC-normalized, so ``ｅｘｉｔ`` is ``exit`` to Python)."""
    return not text.isascii() or any(token in text for token in tokens)


class _Hit(NamedTuple):
    rule: str
    line: int
    what: str  # what was seen, for the message
    key: str  # tells an old occurrence from a new one when lines shift: the code (ast dump) and its place


def _added(base: Iterable[_Hit], head: Iterable[_Hit]) -> list[_Hit]:
    """The ``head`` hits whose key has no unmatched equal among the ``base`` hits: what the change added."""
    remaining = Counter(hit.key for hit in base)
    added = []
    for hit in head:
        if remaining[hit.key] > 0:
            remaining[hit.key] -= 1
        else:
            added.append(hit)
    return added


class _Tree:
    """One side's module: its nodes in one walk, and what its imports bind."""

    def __init__(self, module: ast.Module) -> None:
        self.module = module
        self.nodes = list(ast.walk(module))
        self.aliases: dict[str, str] = {"__builtins__": "builtins"}
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        root = alias.name.split(".")[0]
                        self.aliases[root] = root
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    if alias.name != "*":
                        self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name an expression refers to through the imports: ``t.time`` after ``import time as t``
        is ``time.time``; ``sys.modules["time"].sleep`` is ``time.sleep``; ``__builtins__["open"]`` is
        ``builtins.open``. None when its root is not an imported name."""
        parts: list[str] = []
        while True:
            if isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            elif isinstance(node, ast.Subscript):
                key = node.slice
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    return None
                owner = self.resolve(node.value)
                if owner == "sys.modules":
                    return ".".join([key.value, *reversed(parts)])
                if owner is not None and (owner == "builtins" or owner.endswith(".__dict__")):
                    return ".".join([owner.removesuffix(".__dict__"), key.value, *reversed(parts)])
                return None
            elif isinstance(node, ast.Name):
                root = self.aliases.get(node.id)
                return None if root is None else ".".join([root, *reversed(parts)])
            else:
                return None


def _line_text(lines: list[str], line: int) -> str:
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _docstring_free(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return body[1:]
    return body


def _last_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _decorated(func: ast.FunctionDef | ast.AsyncFunctionDef, names: frozenset[str]) -> bool:
    return any(_last_name(d.func if isinstance(d, ast.Call) else d) in names for d in func.decorator_list)


_Func = ast.FunctionDef | ast.AsyncFunctionDef
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _own_nodes(body: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every node under ``body``, without descending into nested functions, lambdas or classes."""
    stack = list(body)[::-1]
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


# --------------------------------------------------------------------------- path rules: HG019, HG021

_STARTUP_FILES = frozenset({"sitecustomize.py", "usercustomize.py"})


def _path_findings(change: FileChange, context: GuardContext) -> list[GuardFinding]:
    out: list[GuardFinding] = []
    name = _basename(change.path)
    moved_in = change.status == "renamed" and change.old_path not in (None, change.path)
    if (change.status == "added" or moved_in) and (name in _STARTUP_FILES or name.endswith(".pth")):
        how = "added" if change.status == "added" else f"moved here from {change.old_path}"
        kind = "a .pth file, whose `import` lines" if name.endswith(".pth") else f"`{name}`, which"
        out.append(
            _finding(
                "HG019",
                change.path,
                None,
                f"startup file {change.path} was {how}: it is {kind} Python's `site` module runs at interpreter "
                "start-up whenever its folder is on the path (site-packages, an editable install, PYTHONPATH), "
                "before pytest and in every subprocess, so it can change how any test runs or what the run reports.",
                "Remove it. Put test setup in fixtures or conftest.py and application set-up in the package's own "
                "code; nothing an issue needs has to run on every start of Python.",
            )
        )
    folder = context.harness_dir.strip("/") + "/issues/"
    touched = [p for p in (change.path, change.old_path) if p and p.startswith(folder)]
    # Only where an issue's work is judged against its contract (a run, afk, a linked review): people edit and
    # commit issue files all the time when they plan, and afk writes their `status:`.
    if touched and context.contract_path is not None:
        what = "renamed" if change.status == "renamed" else change.status
        shown = f"{change.old_path} → {change.path}" if change.status == "renamed" else change.path
        out.append(
            _finding(
                "HG021",
                change.path,
                None,
                f"issue file {shown} was {what}: the issue files hold the acceptance criteria the work is judged "
                "by, and only the people who plan the work change them.",
                "Restore the issue file exactly as it was. If its criteria are wrong or cannot be met, say so in "
                "the change's description or note instead of editing them.",
            )
        )
    return out


# --------------------------------------------------------------------------- Python rules

_RuleScan = Callable[[_Tree], list[_Hit]]


@dataclass(frozen=True)
class _PyRule:
    rule: str
    kinds: frozenset[str]
    wanted: Callable[[str], bool]  # the prefilter on a side's text
    scan: _RuleScan


def _python_findings(change: FileChange, kind: str, base_text: str | None, parse: Parse) -> list[GuardFinding]:
    head_text = change.new_text
    if head_text is None:
        return []
    active = [r for r in _PY_RULES if kind in r.kinds and r.wanted(head_text)]
    if not active:
        return []
    module = parse(head_text)
    if module is None:
        return []
    head = _Tree(module)
    head_hits = [hit for r in active for hit in r.scan(head)]
    if not head_hits:
        return []
    base_hits: list[_Hit] = []
    if base_text is not None:
        base_active = [r for r in active if r.wanted(base_text)]
        if base_active:
            base_module = parse(base_text)
            if base_module is None:
                return []  # what the base held is unknown: comparing against nothing would accuse every line
            base = _Tree(base_module)
            base_hits = [hit for r in base_active for hit in r.scan(base)]
    lines = head_text.split("\n")
    out: list[GuardFinding] = []
    reported: set[tuple[str, int]] = set()  # one finding per rule and line
    for hit in _added(base_hits, head_hits):
        if (hit.rule, hit.line) in reported and hit.rule != "HG020":
            continue
        reported.add((hit.rule, hit.line))
        message, fix = _MESSAGES[hit.rule](hit, _line_text(lines, hit.line))
        out.append(_finding(hit.rule, change.path, hit.line, message, fix))
    return out


# -- HG013 equality-ignores-operand

_EQUALITY = frozenset({"__eq__", "__ne__"})


def _scan_equality(tree: _Tree) -> list[_Hit]:
    hits: list[_Hit] = []
    _equality_in(tree.module.body, "", hits)
    return hits


def _equality_in(body: list[ast.stmt], scope: str, hits: list[_Hit]) -> None:
    for stmt in body:
        if isinstance(stmt, ast.ClassDef):
            name = f"{scope}.{stmt.name}" if scope else stmt.name
            for member in stmt.body:
                _equality_member(member, name, hits)
            _equality_in(stmt.body, name, hits)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            _equality_in(stmt.body, f"{scope}.{stmt.name}" if scope else stmt.name, hits)
        else:
            for child in ast.iter_child_nodes(stmt):  # classes inside if/try blocks
                if isinstance(child, ast.stmt):
                    _equality_in([child], scope, hits)


def _equality_member(member: ast.stmt, cls: str, hits: list[_Hit]) -> None:
    if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef) and member.name in _EQUALITY:
        if _decorated(member, frozenset({"staticmethod"})):
            return
        body = _docstring_free(member.body)
        if all(_neutral(stmt) for stmt in body):
            return  # `return NotImplemented` or a raise: Python's own comparison, or an error
        operand = _operand(member.args)
        if operand is None or not _uses(body, operand, member.args):
            what = f"`{cls}.{member.name}`" + (f" never uses its operand `{operand}`" if operand else " has no operand")
            hits.append(_Hit("HG013", member.lineno, what, f"HG013|{cls}.{member.name}"))
        return
    if isinstance(member, ast.Assign) and isinstance(member.value, ast.Lambda):
        for target in member.targets:
            if isinstance(target, ast.Name) and target.id in _EQUALITY:
                lam = member.value
                operand = _operand(lam.args)
                if operand is None or not _uses([lam.body], operand, lam.args):
                    what = f"`{cls}.{target.id} = lambda ...`" + (
                        f" never uses its operand `{operand}`" if operand else " has no operand"
                    )
                    hits.append(_Hit("HG013", member.lineno, what, f"HG013|{cls}.{target.id}"))


def _operand(args: ast.arguments) -> str | None:
    positional = [*args.posonlyargs, *args.args]
    if len(positional) >= 2:
        return positional[1].arg
    return args.vararg.arg if args.vararg else None


def _uses(body: Iterable[ast.AST], name: str, args: ast.arguments) -> bool:
    roots: list[ast.AST] = [*body, *args.defaults, *(d for d in args.kw_defaults if d is not None)]
    return any(isinstance(node, ast.Name) and node.id == name for root in roots for node in ast.walk(root))


def _neutral(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Raise):
        return True
    return isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Name) and stmt.value.id == "NotImplemented"


# -- HG014 interpreter-exit-in-tests

_EXIT_CALLS = {
    "sys.exit": "`sys.exit()`",
    "pytest.exit": "`pytest.exit()`",
    "os.abort": "`os.abort()`",
    "signal.raise_signal": "`signal.raise_signal()`",
}
_KILLS = frozenset({"os.kill", "os.killpg", "posix.kill", "posix.killpg"})
_EXIT_TOKENS = ("exit", "quit", "SystemExit", "kill", "abort", "raise_signal")


def _scan_exits(tree: _Tree) -> list[_Hit]:
    hits: list[_Hit] = []
    nodes: list[ast.AST] = []
    for node in tree.nodes:
        what: str | None = None
        if not isinstance(node, ast.Call | ast.Raise):
            continue
        if isinstance(node, ast.Call):
            func = node.func
            name = tree.resolve(func)
            if name in _EXIT_CALLS:
                what = _EXIT_CALLS[name]
            elif isinstance(func, ast.Name) and func.id in ("exit", "quit") and func.id not in tree.aliases:
                what = f"`{func.id}()`"
            elif name in _KILLS and node.args and _is_own_pid(tree, node.args[0]):
                what = f"`{name}()` of the test process itself"
        elif isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if (isinstance(exc, ast.Name) and exc.id == "SystemExit") or tree.resolve(exc) == "builtins.SystemExit":
                what = "`raise SystemExit`"
        if what is not None:
            hits.append(_Hit("HG014", node.lineno, what, f"HG014|{what}|{ast.dump(node)}"))
            nodes.append(node)
    if not hits:
        return hits
    caught = _caught_exits(tree)
    callbacks = _callback_nodes(tree, nodes)
    return [hit for hit, node in zip(hits, nodes, strict=True) if id(node) not in caught and id(node) not in callbacks]


def _is_own_pid(tree: _Tree, arg: ast.expr) -> bool:
    return isinstance(arg, ast.Call) and (tree.resolve(arg.func) or "").endswith(("getpid", "getpgid", "getpgrp"))


def _caught_exits(tree: _Tree) -> set[int]:
    """Exits a test expects, or that never run under pytest: nodes inside ``with pytest.raises(SystemExit)``
    (or ``self.assertRaises``) and under ``if __name__ == "__main__":``."""
    caught: set[int] = set()
    for node in tree.nodes:
        expected = isinstance(node, ast.With | ast.AsyncWith) and any(_expects_exit(i.context_expr) for i in node.items)
        if expected or (isinstance(node, ast.If) and _is_main_guard(node.test)):
            caught.update(id(n) for stmt in getattr(node, "body", []) for n in ast.walk(stmt))
    return caught


_PYTEST_RUNS = re.compile(r"^(test|pytest_|setup|teardown|setUp|tearDown)")


def _callback_nodes(tree: _Tree, exits: list[ast.AST]) -> set[int]:
    """The exits inside a callback: a function that pytest does not run itself (not a test, fixture, hook or
    setup) and that the code around it never calls by name, so only the code under test can call it: a
    command a CLI runner invokes, a fake patched in for code that exits. Lambdas count unless called on the
    spot."""
    owner: dict[int, ast.AST | None] = {}  # node -> its innermost function or lambda
    container: dict[int, ast.AST] = {}  # function or lambda -> the function (or module) it is defined in

    def visit(node: ast.AST, scope: ast.AST | None) -> None:
        for child in ast.iter_child_nodes(node):
            owner[id(child)] = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                container[id(child)] = scope if scope is not None else tree.module
                visit(child, child)
            else:
                visit(child, scope)

    visit(tree.module, None)
    called: dict[int, set[str | int]] = {}  # container -> names it calls (and lambdas it calls on the spot)

    def calls(scope: ast.AST) -> set[str | int]:
        found = called.get(id(scope))
        if found is None:
            found = called[id(scope)] = set()
            for node in ast.walk(scope):
                if isinstance(node, ast.Call):
                    func = node.func
                    if isinstance(func, ast.Name):
                        found.add(func.id)
                    elif isinstance(func, ast.Attribute) and _last_name(func.value) in ("self", "cls"):
                        found.add(func.attr)
                    elif isinstance(func, ast.Lambda):
                        found.add(id(func))
        return found

    out: set[int] = set()
    for node in exits:
        func = owner.get(id(node))
        if func is None:
            continue  # module or class level: runs at import
        outer = container[id(func)]
        if isinstance(func, ast.Lambda):
            if id(func) not in calls(outer):
                out.add(id(node))
            continue
        assert isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
        run_by_pytest = outer is tree.module and (
            _PYTEST_RUNS.match(func.name) is not None or _decorated(func, frozenset({"fixture"}))
        )
        if not run_by_pytest and func.name not in calls(outer):
            out.add(id(node))
    return out


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _expects_exit(expr: ast.AST) -> bool:
    if not (isinstance(expr, ast.Call) and _last_name(expr.func) in ("raises", "assertRaises") and expr.args):
        return False
    expected = expr.args[0]
    elts = expected.elts if isinstance(expected, ast.Tuple) else [expected]
    return any(_catches_exit(e) for e in elts)


def _catches_exit(expected: ast.expr) -> bool:
    """SystemExit or pytest.exit's exception (``pytest.exit.Exception``, ``Exit``), or a base of either."""
    if _last_name(expected) in ("SystemExit", "BaseException", "Exit", "OutcomeException"):
        return True
    return isinstance(expected, ast.Attribute) and expected.attr == "Exception" and _last_name(expected.value) == "exit"


# -- HG015 framework-patched

_FRAMEWORKS = frozenset({"pytest", "_pytest", "unittest", "builtins", "time", "random", "inspect"})
_HARMLESS_SETTINGS = frozenset({"maxDiff", "longMessage"})  # unittest.TestCase's display settings


def _framework_target(tree: _Tree, target: ast.expr) -> str | None:
    """The dotted name of a framework attribute (or module in sys.modules) that ``target`` rebinds."""
    if isinstance(target, ast.Subscript):
        key = target.slice
        if (
            tree.resolve(target.value) == "sys.modules"
            and isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and key.value.split(".")[0] in _FRAMEWORKS
        ):
            return f"sys.modules[{key.value!r}]"
    if not isinstance(target, ast.Attribute | ast.Subscript):
        return None
    name = tree.resolve(target)
    if name is None or "." not in name or name.split(".")[0] not in _FRAMEWORKS:
        return None
    if name.startswith("unittest.") and name.rsplit(".", 1)[-1] in _HARMLESS_SETTINGS:
        return None
    return name


def _scan_patches(tree: _Tree) -> list[_Hit]:
    hits: list[_Hit] = []

    def add(node: ast.stmt | ast.expr, what: str) -> None:
        hits.append(_Hit("HG015", node.lineno, what, f"HG015|{what}|{ast.dump(node)}"))

    for node in tree.nodes:
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            if isinstance(node, ast.AnnAssign) and node.value is None:
                continue  # a bare annotation assigns nothing
            if isinstance(node, ast.Assign | ast.Delete):
                targets = node.targets
            else:
                targets = [node.target]
            verb = "deletes" if isinstance(node, ast.Delete) else "assigns"
            for target in _flatten(targets):
                name = _framework_target(tree, target)
                if name is not None:
                    add(node, f"{verb} `{name}`")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("setattr", "delattr")
            and node.func.id not in tree.aliases
            and node.args
        ):
            owner = tree.resolve(node.args[0])
            if owner is None or owner.split(".")[0] not in _FRAMEWORKS:
                continue
            attr = node.args[1] if len(node.args) > 1 else None
            shown = f"{owner}.{attr.value}" if isinstance(attr, ast.Constant) and isinstance(attr.value, str) else owner
            if shown.startswith("unittest.") and shown.rsplit(".", 1)[-1] in _HARMLESS_SETTINGS:
                continue
            add(node, f"`{node.func.id}()` patches `{shown}`")
    return hits


def _flatten(targets: Iterable[ast.expr]) -> Iterator[ast.expr]:
    for target in targets:
        if isinstance(target, ast.Tuple | ast.List):
            yield from _flatten(target.elts)
        elif isinstance(target, ast.Starred):
            yield from _flatten([target.value])
        else:
            yield target


# -- HG016 frame-introspection

_FRAME_FUNCTIONS = frozenset(
    {
        "sys._getframe",
        "sys._current_frames",
        "inspect.stack",
        "inspect.currentframe",
        "inspect.getouterframes",
        "traceback.extract_stack",
        "traceback.walk_stack",
    }
)
_FRAME_ATTRS = frozenset({"f_back", "f_locals", "f_globals"})
_OPENERS = frozenset({"open", "io.open", "codecs.open", "glob.glob", "glob.iglob"})
_PATH_CLASSES = frozenset({"Path", "PurePath", "PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath"})
_READERS = frozenset({"read_text", "read_bytes", "open", "glob", "rglob"})
_FRAME_TOKENS = (
    "_getframe",
    "_current_frames",
    "stack",
    "currentframe",
    "getouterframes",
    "f_back",
    "f_locals",
    "f_globals",
    "test",
)


def _names_tests(value: object) -> bool:
    """A string that names test files: ``test_x.py``, ``x_test.py``, ``tests/...``."""
    if not isinstance(value, str):
        return False
    return (
        "test_" in value
        or "_test.py" in value
        or value.startswith(("tests/", "./tests/", "test/"))
        or value in ("tests", "test")
    )


def _test_literal(roots: Iterable[ast.AST]) -> str | None:
    for root in roots:
        for node in ast.walk(root):
            if isinstance(node, ast.Constant) and _names_tests(node.value):
                return str(node.value)
    return None


def _scan_frames(tree: _Tree) -> list[_Hit]:
    hits: list[_Hit] = []

    def add(node: ast.expr, what: str) -> None:
        hits.append(_Hit("HG016", node.lineno, what, f"HG016|{what}|{ast.dump(node)}"))

    for node in tree.nodes:
        if isinstance(node, ast.Attribute):
            if not isinstance(node.ctx, ast.Load):
                continue  # rebinding it is HG015's business
            if node.attr in _FRAME_ATTRS:
                add(node, f"reads a frame's `{node.attr}`")
            elif (name := tree.resolve(node)) in _FRAME_FUNCTIONS:
                add(node, f"uses `{name}`")
        elif isinstance(node, ast.Name) and tree.aliases.get(node.id) in _FRAME_FUNCTIONS:
            add(node, f"uses `{tree.aliases[node.id]}`")
        elif isinstance(node, ast.Call):
            func = node.func
            name = tree.resolve(func)
            literal: str | None = None
            if (isinstance(func, ast.Name) and func.id == "open" and func.id not in tree.aliases) or name in _OPENERS:
                literal = _test_literal(node.args[:1])
            elif _last_name(func) in _PATH_CLASSES:
                literal = _test_literal(node.args)
            elif isinstance(func, ast.Attribute) and func.attr in _READERS:
                literal = _test_literal([func.value, *node.args[:1]])
            if literal is not None:
                add(node, f"opens the test files ({literal!r})")
    return hits


# -- HG017 early-return-in-test

_CHECK_PREFIX = re.compile(r"^(assert|check|verify|expect)($|_|[A-Z0-9])")
_PYTEST_CHECKS = frozenset({"raises", "warns", "fail", "deprecated_call"})


def _test_functions(body: Iterable[ast.stmt], prefix: str = "") -> Iterator[tuple[str, _Func]]:
    """(pytest name, function) of every test: ``test*`` functions that are not fixtures, and the ``test*``
    methods of ``Test*`` and ``unittest.TestCase`` classes (nested ``Test*`` classes included)."""
    for stmt in body:
        if (
            isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
            and stmt.name.startswith("test")
            and not _decorated(stmt, frozenset({"fixture"}))
        ):
            yield (f"{prefix}::{stmt.name}" if prefix else stmt.name), stmt
        elif isinstance(stmt, ast.ClassDef) and (
            stmt.name.startswith("Test") or (not prefix and any(_is_testcase(b) for b in stmt.bases))
        ):
            yield from _test_functions(stmt.body, f"{prefix}::{stmt.name}" if prefix else stmt.name)


def _is_testcase(base: ast.expr) -> bool:
    return (_last_name(base) or "").endswith("TestCase")


def _is_check(node: ast.Assert | ast.Call) -> bool:
    if isinstance(node, ast.Assert):
        return True
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        owner = _last_name(func.value)
        if owner == "pytest" and func.attr in _PYTEST_CHECKS:
            return True
        if owner in ("self", "cls") and func.attr.startswith("fail"):
            return True
        return bool(_CHECK_PREFIX.match(func.attr))
    if isinstance(func, ast.Name):
        return func.id in ("raises", "warns", "deprecated_call") or bool(_CHECK_PREFIX.match(func.id))
    return False


def _scan_returns(tree: _Tree) -> list[_Hit]:
    hits: list[_Hit] = []
    for name, func in _test_functions(tree.module.body):
        last: tuple[int, int] | None = None
        has_return = False
        for node in _own_nodes(func.body):
            if isinstance(node, ast.Return):
                has_return = True
            elif isinstance(node, ast.Assert | ast.Call) and _is_check(node):
                place = (node.lineno, node.col_offset)
                last = place if last is None or place > last else last
        if last is None or not has_return:
            continue  # no check at all is HG011's business
        for node in _early_returns(func.body, last):
            what = f"test `{name}` returns at line {node.lineno}, before its last check at line {last[0]}"
            hits.append(_Hit("HG017", node.lineno, what, f"HG017|{name}|{ast.dump(node)}"))
    return hits


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _early_returns(body: list[ast.stmt], last: tuple[int, int]) -> list[ast.Return]:
    """The returns before the check at ``last`` that skip checks: one on the test's main path (everything
    after it is dead), or one in a branch (if, loop, except, case) that no check ran in before it. A branch
    that checks and then returns (``except E as exc: assert ...; return``) is one of the test's outcomes."""
    found: list[ast.Return] = []

    def block(stmts: list[ast.stmt], branch: bool, checked: bool) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.Return):
                if (stmt.lineno, stmt.col_offset) < last and not (branch and checked):
                    found.append(stmt)
                continue
            if isinstance(stmt, _SCOPES):
                continue
            inner = checked or _header_checks(stmt)
            for field in _BLOCKS:
                value = getattr(stmt, field, None)
                if not isinstance(value, list) or not value:
                    continue
                # with bodies, try bodies and finally blocks run on the path they are on; the rest is a branch
                transparent = field == "finalbody" or (
                    field == "body" and isinstance(stmt, ast.With | ast.AsyncWith | ast.Try | ast.TryStar)
                )
                for part in value:
                    if isinstance(part, ast.ExceptHandler | ast.match_case):
                        block(part.body, True, (inner if branch else False) or _header_checks(part))
                if isinstance(value[0], ast.stmt):
                    if transparent:
                        block(value, branch, inner)
                    else:
                        block(value, True, inner if branch else False)
            if any(isinstance(n, ast.Assert | ast.Call) and _is_check(n) for n in _own_nodes([stmt])):
                checked = True

    block(body, False, False)
    return found


def _header_checks(node: ast.AST) -> bool:
    """A check in a statement's own expressions (a with's ``pytest.raises(...)``), not in its blocks."""
    for field, value in ast.iter_fields(node):
        if field in _BLOCKS:
            continue
        roots = value if isinstance(value, list) else [value]
        for root in roots:
            if isinstance(root, ast.AST) and any(
                isinstance(n, ast.Assert | ast.Call) and _is_check(n) for n in _own_nodes([root])
            ):
                return True
    return False


# -- HG018 test-hidden


def _scan_hidden(tree: _Tree) -> list[_Hit]:
    hits: list[_Hit] = []

    def add(node: ast.stmt | ast.expr, where: str) -> None:
        hits.append(_Hit("HG018", node.lineno, where, f"HG018|{where}|{ast.dump(node)}"))

    def hides(value: ast.expr | None) -> bool:
        """A value that makes ``__test__`` false, or may: anything but a true constant (None: a bare annotation,
        which assigns nothing)."""
        return value is not None and not (isinstance(value, ast.Constant) and value.value)

    def in_body(body: list[ast.stmt], where: str | None) -> None:
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                test_class = stmt.name.startswith("Test") or any(_is_testcase(b) for b in stmt.bases)
                in_body(stmt.body, f"test class `{stmt.name}`" if test_class else None)
            elif where is not None and isinstance(stmt, ast.Assign | ast.AnnAssign) and hides(stmt.value):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if any(isinstance(t, ast.Name) and t.id == "__test__" for t in _flatten(targets)):
                    add(stmt, where)
            elif isinstance(stmt, ast.If | ast.Try | ast.With):
                for block in ("body", "orelse", "finalbody"):
                    in_body(getattr(stmt, block, []), where)
                for handler in getattr(stmt, "handlers", []):
                    in_body(handler.body, where)

    in_body(tree.module.body, "the whole test module")
    for node in tree.nodes:
        if isinstance(node, ast.Assign | ast.AnnAssign) and hides(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in _flatten(targets):
                if isinstance(target, ast.Attribute) and target.attr == "__test__":
                    add(node, f"`{ast.unparse(target.value)}`")
        elif (
            isinstance(node, ast.Call)
            and _last_name(node.func) == "setattr"
            and len(node.args) == 3
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "__test__"
            and hides(node.args[2])
        ):
            add(node, f"`{ast.unparse(node.args[0])}`")
    return hits


# -- HG020 pytest-plugin-added (pytest_plugins)

# pytest's own plugins (``_pytest.config.builtin_plugins``): loading one runs no code from the change
_BUILTIN_PLUGINS = frozenset(
    {
        "assertion",
        "cacheprovider",
        "capture",
        "debugging",
        "doctest",
        "faulthandler",
        "fixtures",
        "helpconfig",
        "junitxml",
        "legacypath",
        "logging",
        "main",
        "mark",
        "monkeypatch",
        "pastebin",
        "pytester",
        "pytester_assertions",
        "python",
        "python_path",
        "recwarn",
        "reports",
        "runner",
        "scope",
        "setuponly",
        "setupplan",
        "skipping",
        "stepwise",
        "subtests",
        "terminal",
        "terminalprogress",
        "threadexception",
        "tmpdir",
        "unittest",
        "unraisableexception",
        "warnings",
    }
)


def _builtin_plugin(name: str) -> bool:
    return name.removeprefix("_pytest.") in _BUILTIN_PLUGINS


def _scan_plugins(tree: _Tree) -> list[_Hit]:
    hits: list[_Hit] = []

    def add(node: ast.stmt | ast.expr, value: ast.expr | None) -> None:
        for entry in _entries(value):
            if entry.startswith(("'", '"')) and _builtin_plugin(entry[1:-1]):
                continue
            hits.append(_Hit("HG020", node.lineno, f"`pytest_plugins` gained {entry}", f"HG020|plugin|{entry}"))

    for node in tree.nodes:
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in targets):
                add(node, node.value)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "pytest_plugins"
            and node.func.attr in ("append", "extend", "insert")
            and node.args
        ):
            value = node.args[-1]
            add(node, value if node.func.attr == "extend" else ast.List(elts=[value], ctx=ast.Load()))
    return hits


def _entries(value: ast.expr | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [repr(value.value)]
    if isinstance(value, ast.List | ast.Tuple | ast.Set):
        return [entry for elt in value.elts for entry in _entries(elt)]
    return [f"the computed value `{ast.unparse(value)}`"]


# -- HG022 constant-checker

_CHECKER_WORD = re.compile(r"verify|check|assert|validate|expect", re.IGNORECASE)
_DEF_NAME = re.compile(r"def\s+(\w+)")
_CHECKER_LAMBDA = re.compile(r"(?:verify|check|assert|validate|expect)\w*\s*=\s*lambda", re.IGNORECASE)
_CHECKER_WORDS = ("verify", "check", "assert", "validate", "expect")
_NOT_CHECKERS = frozenset({"fixture", "abstractmethod", "overload", "hookimpl", "hookspec"})


def _constant_body(body: list[ast.stmt]) -> str | None:
    """What a body that checks nothing does: "is empty", "only passes", "only returns True", ...; else None."""
    rest = _docstring_free(body)
    if not rest:
        return "has only a docstring"
    if len(rest) != 1:
        return None
    stmt = rest[0]
    if isinstance(stmt, ast.Pass):
        return "only passes"
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis:
        return "is only `...`"
    if isinstance(stmt, ast.Return) and (stmt.value is None or isinstance(stmt.value, ast.Constant)):
        return f"only returns `{ast.unparse(stmt.value) if stmt.value else 'None'}`"
    return None


def _checker_name(name: str) -> bool:
    return bool(_CHECKER_WORD.search(name)) and not name.startswith(("test", "pytest_"))


def _scan_checkers(tree: _Tree) -> list[_Hit]:
    hits: list[_Hit] = []

    def visit(body: list[ast.stmt], scope: str) -> None:
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{scope}.{stmt.name}" if scope else stmt.name
                if _checker_name(stmt.name) and not _decorated(stmt, _NOT_CHECKERS):
                    what = _constant_body(stmt.body)
                    if what is not None:
                        hits.append(_Hit("HG022", stmt.lineno, f"`{name}` {what}", f"HG022|{name}"))
                visit(stmt.body, name)
            elif isinstance(stmt, ast.ClassDef):
                visit(stmt.body, f"{scope}.{stmt.name}" if scope else stmt.name)
            elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Lambda):
                if isinstance(stmt.value.body, ast.Constant):
                    for target in stmt.targets:
                        if isinstance(target, ast.Name) and _checker_name(target.id):
                            name = f"{scope}.{target.id}" if scope else target.id
                            shown = ast.unparse(stmt.value.body)
                            hits.append(_Hit("HG022", stmt.lineno, f"`{name}` only returns `{shown}`", f"HG022|{name}"))
            else:
                for block in ("body", "orelse", "finalbody"):
                    inner = getattr(stmt, block, None)
                    if isinstance(inner, list):
                        visit([s for s in inner if isinstance(s, ast.stmt)], scope)
                for handler in getattr(stmt, "handlers", []):
                    visit(handler.body, scope)

    visit(tree.module.body, "")
    return hits


def _wants_checkers(text: str) -> bool:
    if not text.isascii():
        return True
    names = " ".join(_DEF_NAME.findall(text)).lower()
    return any(word in names for word in _CHECKER_WORDS) or ("lambda" in text and bool(_CHECKER_LAMBDA.search(text)))


def _scan_star_imports(tree: _Tree) -> list[_Hit]:
    """`from X import *` in conftest.py: every name of X lands in the conftest's namespace, and pytest registers
    the `pytest_*` hook functions among them as if they were written there (a plugin past HG006 and HG020)."""
    return [
        _Hit("HG020", node.lineno, f"`from {node.module} import *` in conftest.py", f"HG020|star|{node.module}")
        for node in tree.nodes
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names)
    ]


# -- the Python rules, their prefilters and their messages


def _tokens(*tokens: str) -> Callable[[str], bool]:
    return lambda text: _mentions_any(text, tokens)


_CODE, _TEST, _CONFTEST = "code", "test", "conftest"
_PY_RULES = (
    _PyRule("HG013", frozenset({_CODE, _CONFTEST}), _tokens("__eq__", "__ne__"), _scan_equality),
    _PyRule("HG014", frozenset({_TEST, _CONFTEST}), _tokens(*_EXIT_TOKENS), _scan_exits),
    _PyRule("HG015", frozenset({_CODE, _TEST, _CONFTEST}), _tokens(*_FRAMEWORKS), _scan_patches),
    _PyRule("HG016", frozenset({_CODE}), _tokens(*_FRAME_TOKENS), _scan_frames),
    _PyRule("HG017", frozenset({_TEST}), _tokens("return"), _scan_returns),
    _PyRule("HG018", frozenset({_TEST}), _tokens("__test__"), _scan_hidden),
    _PyRule("HG020", frozenset({_TEST, _CONFTEST}), _tokens("pytest_plugins"), _scan_plugins),
    _PyRule("HG020", frozenset({_CONFTEST}), _tokens("import *", "import*"), _scan_star_imports),
    _PyRule("HG022", frozenset({_TEST, _CONFTEST}), _wants_checkers, _scan_checkers),
)


def _message_hg013(hit: _Hit, shown: str) -> tuple[str, str]:
    return (
        f"{hit.what} (line {hit.line}: `{shown}`): it answers the same whatever it is compared with, so "
        "`assert result == expected` passes for any result.",
        "Compare the fields that make two values equal (`return (self.a, self.b) == (other.a, other.b)`), and "
        "return `NotImplemented` for objects of another type.",
    )


def _message_hg014(hit: _Hit, shown: str) -> tuple[str, str]:
    return (
        f"{hit.what} at line {hit.line} (`{shown}`): a test or conftest.py that ends the interpreter or the pytest "
        "session can stop the run before the other tests run and choose its exit status (`pytest.exit(..., "
        "returncode=0)`, or `sys.exit(0)` in conftest.py, exits 0 with failing tests unrun), so the run proves "
        "nothing.",
        "Do not end the test process or the session. To test code that exits, call it inside "
        "`with pytest.raises(SystemExit):` and assert on the exit code, or run it in a subprocess "
        "(`subprocess.run([sys.executable, ...])`) and assert on its return code.",
    )


def _message_hg015(hit: _Hit, shown: str) -> tuple[str, str]:
    return (
        f"{hit.what} at line {hit.line} (`{shown}`): patching the test framework, the builtins, the clock or the "
        "random source for the whole process changes what every test sees and checks, and is never undone.",
        "Leave the module alone. In a test, patch with `monkeypatch.setattr(...)` or `unittest.mock.patch(...)`, "
        "which undo the patch when the test ends; in application code, take the clock, random source or opener "
        "as a parameter so tests can pass their own.",
    )


def _message_hg016(hit: _Hit, shown: str) -> tuple[str, str]:
    return (
        f"non-test code {hit.what} at line {hit.line} (`{shown}`): code that looks at its callers' frames or reads "
        "the test files can tell which test calls it and answer what that test expects.",
        "Compute the result from the arguments. Take what the code needs as parameters; for a log record's caller, "
        "use `logging`'s `stacklevel=` argument; application code never reads the test files.",
    )


def _message_hg017(hit: _Hit, shown: str) -> tuple[str, str]:
    return (
        f"{hit.what} (`{shown}`): the checks after the return never run when it is taken, and the test passes "
        "without them.",
        "Remove the early return and let every check run. Split the cases into separate tests or parametrize; if a "
        "test cannot run somewhere, mark it with `pytest.mark.skipif(..., reason=...)`, which the report shows.",
    )


def _message_hg018(hit: _Hit, shown: str) -> tuple[str, str]:
    return (
        f"`__test__` set to false on {hit.what} at line {hit.line} (`{shown}`): pytest no longer collects it, so its "
        "tests silently stop running.",
        "Remove it. `__test__ = False` belongs only on helper classes pytest would otherwise mistake for tests; test "
        "modules, test classes and test functions must stay collected.",
    )


def _message_hg020(hit: _Hit, shown: str) -> tuple[str, str]:
    return (
        f"{hit.what} at line {hit.line} (`{shown}`): pytest loads that plugin for the whole run, and a plugin can "
        "deselect, skip or rewrite the outcome of any test.",
        "Remove the plugin entry. Put shared fixtures in conftest.py or import helpers directly; a new pytest "
        "plugin changes how the whole suite runs.",
    )


def _message_hg022(hit: _Hit, shown: str) -> tuple[str, str]:
    return (
        f"checker {hit.what} (line {hit.line}: `{shown}`): it checks nothing, so every test that calls it passes "
        "whatever the code does.",
        "Make the helper check its arguments (`assert`, or raise `AssertionError` with a message), or remove it and "
        "assert in the tests directly.",
    )


_MESSAGES: dict[str, Callable[[_Hit, str], tuple[str, str]]] = {
    "HG013": _message_hg013,
    "HG014": _message_hg014,
    "HG015": _message_hg015,
    "HG016": _message_hg016,
    "HG017": _message_hg017,
    "HG018": _message_hg018,
    "HG020": _message_hg020,
    "HG022": _message_hg022,
}


# --------------------------------------------------------------------------- HG020 in configuration


def _config_findings(change: FileChange, base_path: str | None) -> list[GuardFinding]:
    head_text = change.new_text
    if head_text is None or "-p" not in head_text:
        return []
    fmt, section = _CONFIG_FILES[_basename(change.path)]
    head = _addopts_plugins(fmt, section, head_text)
    if not head:
        return []
    base: list[str] = []
    if base_path is not None and change.old_text is not None and _basename(base_path) in _CONFIG_FILES:
        base_fmt, base_section = _CONFIG_FILES[_basename(base_path)]
        base = _addopts_plugins(base_fmt, base_section, change.old_text) or []
    line = _key_line(head_text, "addopts")
    out: list[GuardFinding] = []
    for name in head:
        if name in base:
            continue
        out.append(
            _finding(
                "HG020",
                change.path,
                line,
                f"{change.path}: addopts gained `-p {name}`: pytest loads that plugin for the whole run, and a plugin "
                "can deselect, skip or rewrite the outcome of any test.",
                "Remove the `-p` option. Put shared fixtures in conftest.py or import helpers directly; a new pytest "
                "plugin changes how the whole suite runs.",
            )
        )
    return out


def _addopts_plugins(fmt: str, section: str, text: str) -> list[str] | None:
    """The plugins ``addopts`` loads with ``-p NAME`` (not ``-p no:NAME``); None when the file does not parse
    (HG005 reports that)."""
    value: Any = None
    if fmt == "toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return None
        tables = [section.split(".")]
        if section == "tool.pytest.ini_options":
            tables.append(["tool", "pytest"])  # pytest 9's native table
        for keys in tables:
            table = data
            for key in keys:
                table = table.get(key) if isinstance(table, dict) else None
            if isinstance(table, dict) and "addopts" in table:
                value = table["addopts"]
                break
    else:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text)
        except configparser.Error:
            return None
        value = parser.get(section, "addopts", fallback=None) if parser.has_section(section) else None
    if value is None:
        return []
    if isinstance(value, list):
        tokens = [str(v) for v in value]
    else:
        try:
            tokens = shlex.split(str(value))
        except ValueError:
            tokens = str(value).split()
    plugins: list[str] = []
    for index, token in enumerate(tokens):
        if token == "-p" and index + 1 < len(tokens):
            name = tokens[index + 1]
        elif token.startswith("-p") and len(token) > 2 and not token.startswith("-p="):
            name = token[2:]
        else:
            continue
        if not name.startswith("no:") and not _builtin_plugin(name):
            plugins.append(name)
    return plugins


def _key_line(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*[=:]")
    for index, line in enumerate(text.split("\n")):
        if pattern.match(line):
            return index + 1
    return None
