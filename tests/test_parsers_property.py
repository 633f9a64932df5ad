"""Property-based tests for every file parser: issues, contracts, configuration, the pytest report.

Whatever the bytes of a file, reading it either succeeds or raises a UsageError that names the file
(and, for a field error, the field) and says how to fix it: never another exception. Readers never
write, and the one in-place edit of a user file (``set_issue_fields``) changes nothing but the
fields it sets, or refuses and leaves the file as it was.

PRD, transcript and answers files are covered in test_planfiles_property.py.
"""

from __future__ import annotations

import json
import math
import re
import string
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from harness import frontmatter
from harness.artifacts import (
    NODE_ID,
    Contract,
    Issue,
    acceptance_criteria,
    load_contract,
    load_issue,
    save_contract,
    set_issue_fields,
)
from harness.config import Budget, Config, Limits, Models, load_config
from harness.errors import UsageError
from harness.fsutil import atomic_write_text
from harness.settings import guard_settings, read_table
from harness.testrunner import TestOutcome, TestReport, _build_report, _read_report

# File I/O in every example: no deadline. These counts keep the whole module well under 30 s.
IO = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_IO = settings(IO, max_examples=30)

ISSUE_NAME = "001-slugify.md"
CRITERIA = "\n## Acceptance criteria\n\n- [ ] slugify('Hello World') returns 'hello-world'\n"

# --------------------------------------------------------------------------- strategies

# Fragments that mean something to YAML, TOML or JSON, so that random text reaches deep into parsers.
_SYNTAX = [
    "---", "...", "\n", "\r\n", "  ", "\t", ": ", ":", "- ", "-", "[", "]", "{", "}", ",", "'", '"', "#",
    "? ", "|", ">", "&a ", "*a", "<<: ", "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!binary ", "!!set ",
    "!!python/tuple ", "%YAML 1.1\n", "=", "~", "null", "true", "1e400", "9" * 5000, "2001-13-45", "2001-02-30",
    "12:99:99", "\x00", "\ufeff", "\x85", "\u2028", "id", "title", "status", "kind", "issue", "criteria", "test",
    "tests", "nodeid", "collected", "duration", "[tool.harness]", "[limits]", "harness_dir", " = ", '"""',
    "inf", "nan", "0x", "\\u", "\\",
]  # fmt: skip
syntax_soup = st.lists(st.sampled_from(_SYNTAX) | st.text(max_size=4), max_size=40).map("".join)
any_text = st.text() | syntax_soup | syntax_soup.map(lambda t: f"---\n{t}\n---\n{CRITERIA}")
any_bytes = st.binary() | any_text.map(lambda t: t.encode("utf-8")) | st.binary().map(lambda b: b"---\n" + b)

# Values a YAML, TOML or JSON document can hold: wrong types, huge numbers, unicode, nesting.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**20, max_value=10**40)
    | st.floats(allow_nan=False)
    | st.text()
    | st.dates()
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
)
toml_scalars = st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.dates()
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
)
field_names = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=12)
# Text that is hard to write as YAML: line breaks of every kind, quotes, indicators, document markers.
_HARD = [*" \n\r\t\x85\u2028\u2029\ufeff\x00#:'\"-&*!|>%@`,[]{}?~=\\", "---", "...", "é", "😀", "a", "1"]
yaml_hard_text = st.text() | st.lists(st.sampled_from(_HARD), max_size=40).map("".join)
# Text that survives pydantic's str_strip_whitespace unchanged and non-empty (checked again at validation).
clean_text = st.builds(
    lambda head, tail: (head + tail).strip(), st.characters(categories=["L", "N", "P", "S"]), yaml_hard_text
)
# JSON escapes characters outside the BMP as surrogate pairs, which YAML reads as two lone surrogates.
bmp_text = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), max_size=20)


# --------------------------------------------------------------------------- helpers


@contextmanager
def workdir() -> Iterator[Path]:
    """A fresh directory per example: hypothesis runs many examples in one test call."""
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def reads_safely(directory: Path, call: Callable[[], Any], where: str, field: str | None = None) -> Any:
    """``call()``'s result, or None after a UsageError that names ``where`` (and ``field``) and has a fix.

    Any other exception fails the test; so does any change to the files in ``directory``.
    """
    before = snapshot(directory)
    try:
        return call()
    except UsageError as exc:
        assert where in exc.message, exc.message
        if field is not None:
            assert f"`{field}" in exc.message, exc.message
        assert exc.hint and exc.hint.strip(), exc.message
        return None
    finally:
        assert snapshot(directory) == before, "a reader changed a file"


def issue_text(meta: dict[str, Any], body: str = CRITERIA) -> str:
    return f"---\n{yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)}---\n{body}"


def toml_str(text: str) -> str:
    # A JSON string is a TOML basic string, except that TOML wants DEL escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | date):
        return value.isoformat() if isinstance(value, date) else str(value)
    if isinstance(value, float):
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_str(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(table: dict[str, Any], *, header: str = "") -> str:
    lines = [header] if header else []
    lines += [f"{toml_str(key)} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``data`` with the value at ``path`` replaced (nested dicts are copied)."""
    head, *rest = path
    copy = dict(data)
    copy[head] = (
        set_path(copy.get(head) if isinstance(copy.get(head), dict) else {}, tuple(rest), value) if rest else value
    )
    return copy


# --------------------------------------------------------------------------- front matter


@IO
@given(text=any_text)
@example(text="---\n" + "[" * 1000 + "\n---\n")  # was RecursionError
@example(text="---\na: " + "{a: " * 2000 + "\n---\n")  # was RecursionError
@example(text="---\ndue: 2024-02-30\n---\n")  # was ValueError: day is out of range for month
@example(text="---\na: !!int abc\n---\n")  # was ValueError
@example(text="---\na: !!int ''\n---\n")  # was IndexError
@example(text="---\na: !!bool maybe\n---\n")  # was KeyError
@example(text="---\na: !!timestamp x\n---\n")  # was AttributeError
@example(text="---\na: !!int " + "9" * 5000 + "\n---\n")  # was ValueError: exceeds the limit (4300 digits)
def test_front_matter_of_any_text_parses_or_is_an_error_naming_the_source(text: str) -> None:
    try:
        doc = frontmatter.parse(text, source="the/source.md")
    except UsageError as exc:
        assert exc.message.startswith("the/source.md"), exc.message
        assert exc.hint
        return
    assert isinstance(doc.meta, dict)
    assert doc.body_line >= 1
    if not text.removeprefix("\ufeff").startswith("---"):
        assert (doc.meta, doc.body) == ({}, text.removeprefix("\ufeff"))


@IO
@given(meta=st.dictionaries(st.text(), st.text() | st.lists(st.text(), max_size=3), max_size=4), body=st.text())
@example(meta={"notes": "a\x85b"}, body="")  # PyYAML folded a NEL in a single-quoted scalar to a space
@example(meta={"notes": "\x85"}, body="x")
def test_rendered_front_matter_parses_back_to_the_same_fields_and_body(meta: dict[str, Any], body: str) -> None:
    doc = frontmatter.parse(frontmatter.render(meta, body), source="s")
    assert doc.meta == meta
    assert doc.body == (body if body.endswith("\n") or not body else body + "\n")


# --------------------------------------------------------------------------- issues


@IO
@given(data=any_bytes)
@example(data=b"---\ntitle: T\ndue: 2024-02-30\n---\n- [ ] x\n")
@example(data=b"\xff\xfe---\n")
def test_any_issue_file_loads_or_is_an_error_naming_the_file(data: bytes) -> None:
    with workdir() as tmp:
        path = tmp / ISSUE_NAME
        path.write_bytes(data)
        issue = reads_safely(tmp, lambda: load_issue(path), str(path))
        if issue is not None:
            assert isinstance(issue, Issue) and issue.acceptance_criteria and issue.id == "001"


def _valid_issue_meta() -> dict[str, Any]:
    return {"id": "001", "title": "Slugify titles", "kind": "AFK", "status": "todo", "blocked_by": ["002"]}


@IO
@given(field=st.sampled_from([*sorted(_valid_issue_meta()), "prd", "github"]), value=values)
@example(field="github", value="9" * 5000)
@example(field="github", value=float("inf"))
@example(field="status", value=date(2001, 1, 1))
def test_an_issue_field_of_the_wrong_type_is_an_error_naming_the_field(field: str, value: Any) -> None:
    meta = {**_valid_issue_meta(), field: value}
    with workdir() as tmp:
        path = tmp / ISSUE_NAME
        path.write_text(issue_text(meta), encoding="utf-8")
        reads_safely(tmp, lambda: load_issue(path), str(path), field=field)


@IO
@given(key=field_names.filter(lambda k: k not in Issue.model_fields), value=values)
def test_an_unknown_issue_field_is_an_error_naming_it(key: str, value: Any) -> None:
    with workdir() as tmp:
        path = tmp / ISSUE_NAME
        path.write_text(issue_text({**_valid_issue_meta(), key: value}), encoding="utf-8")
        assert reads_safely(tmp, lambda: load_issue(path), str(path), field=key) is None


@IO
@given(missing=st.sampled_from(["title", "criteria"]), body=st.text())
def test_an_issue_without_a_title_or_criteria_is_an_error_saying_which(missing: str, body: str) -> None:
    meta = _valid_issue_meta()
    if missing == "title":
        del meta["title"]
        body += CRITERIA
    else:
        assume(not acceptance_criteria(body))
    with workdir() as tmp:
        path = tmp / ISSUE_NAME
        path.write_text(issue_text(meta, body), encoding="utf-8")
        before = path.read_bytes()
        with pytest.raises(UsageError) as info:
            load_issue(path)
        assert str(path) in info.value.message and info.value.hint
        assert ("`title` is required" if missing == "title" else "acceptance criteria") in info.value.message
        assert path.read_bytes() == before


def test_an_issue_path_that_is_a_directory_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / ISSUE_NAME
    path.mkdir()  # was IsADirectoryError
    with pytest.raises(UsageError) as info:
        load_issue(path)
    assert str(path) in info.value.message and info.value.hint


def test_a_missing_issue_file_is_an_error_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        load_issue(tmp_path / ISSUE_NAME)
    assert str(tmp_path / ISSUE_NAME) in info.value.message and info.value.hint  # the hint was missing


# --------------------------------------------------------------------------- set_issue_fields

_FIELD_LINE = re.compile(r"^(kind|status)\s*:")


def _front_matter_lines(text: str) -> tuple[str, list[str], int]:
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = text[len(bom) :].splitlines(keepends=True)
    end = next(i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "..."))
    return bom, lines, end


def _without_set_fields(text: str) -> str:
    bom, lines, end = _front_matter_lines(text)
    return bom + "".join(line for i, line in enumerate(lines) if not (0 < i < end and _FIELD_LINE.match(line)))


@st.composite
def issue_files(draw: st.DrawFn) -> str:
    """Valid issue files written by hand: any order, quoting, comments, line endings, a BOM."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    title = draw(
        st.builds(
            lambda head, tail: head + tail.rstrip(),
            st.characters(categories=["L", "N"], max_codepoint=0xFFFF),
            bmp_text,
        )
    )
    lines = [
        draw(st.sampled_from(['id: "001"', "id: 001", "id: '001'", "id:   001  # the id"])),
        f"title: {json.dumps(title)}",  # escaped: YAML refuses some characters even when quoted
    ]
    optional = {
        "kind": draw(st.sampled_from(["kind: AFK", "kind: 'HITL'", "kind :  AFK  # who"])),
        "status": draw(
            st.sampled_from(["status: todo", 'status: "in-progress"', "status: done # yes", "status: >-\n  todo"])
        ),
        "blocked_by": "blocked_by:\n  - 002\n  - '003'",
        "comment": "# a comment: status: done",
        "prd": f"prd: {json.dumps(draw(bmp_text))}",
        "blank": "",
    }
    chosen = draw(st.lists(st.sampled_from(sorted(optional)), unique=True))
    lines += [optional[name] for name in chosen]
    lines = draw(st.permutations(lines))
    body = draw(st.text(max_size=60)) + CRITERIA + draw(st.text(max_size=60))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    front = newline.join(line.replace("\n", newline) for line in lines)
    return f"{bom}---{newline}{front}{newline}---{newline}{body}"


@IO
@given(text=issue_files())
@example(text="\ufeff---\nid: '001'\ntitle: T\n---\n" + CRITERIA)  # a BOM: was a second front matter, issue lost
@example(text="---\nid: '001'\ntitle: T\nstatus: >-\n  todo\n---\n" + CRITERIA)  # was `status: blocked todo`
@example(text='---\r\nid: "001"\r\ntitle: "0"\r\n---\r\n' + CRITERIA)  # every CRLF was rewritten as LF
def test_setting_issue_fields_changes_only_those_fields(text: str) -> None:
    with workdir() as tmp:
        path = tmp / ISSUE_NAME
        path.write_bytes(text.encode("utf-8"))
        before = load_issue(path)
        try:
            set_issue_fields(path, kind="HITL", status="blocked")
        except UsageError as exc:
            assert str(path) in exc.message and exc.hint
            assert path.read_bytes() == text.encode("utf-8")
            assert "status: >-" in text, "only a multi-line value may be refused"
            return
        after_text = path.read_bytes().decode("utf-8")
        assert _without_set_fields(after_text) == _without_set_fields(text)
        after = load_issue(path)
        assert (after.kind, after.status) == ("HITL", "blocked")
        assert after.model_dump(exclude={"kind", "status"}) == before.model_dump(exclude={"kind", "status"})
        assert (after.body, after.slug) == (before.body, before.slug)
        assert [p.name for p in tmp.iterdir()] == [ISSUE_NAME]


@IO
@given(data=any_bytes)
@example(data=b"---\ntitle: T\n---\nno criteria\n")  # was rewritten although invalid
@example(data=b"no front matter at all\n- [ ] x\n")  # was given a front matter
@example(data=b"---\nid: [unclosed\n---\n- [ ] x\n")  # was rewritten although invalid
def test_setting_fields_of_an_invalid_issue_is_an_error_and_leaves_it_untouched(data: bytes) -> None:
    with workdir() as tmp:
        path = tmp / ISSUE_NAME
        path.write_bytes(data)
        try:
            load_issue(path)
        except UsageError:
            pass
        else:
            assume(False)  # valid issues are the test above
        with pytest.raises(UsageError) as info:
            set_issue_fields(path, kind="HITL", status="blocked")
        assert str(path) in info.value.message and info.value.hint
        assert path.read_bytes() == data
        assert [p.name for p in tmp.iterdir()] == [ISSUE_NAME]


# --------------------------------------------------------------------------- contracts


@IO
@given(data=any_bytes)
@example(data=b"---\nissue: '1'\nnotes: " + b"[" * 900 + b"]" * 900 + b"\n---\n")  # was RecursionError
@example(data=b"---\nissue: '1'\nround: 2024-13-01\n---\n")  # was ValueError
def test_any_contract_file_loads_or_is_an_error_naming_the_file(data: bytes) -> None:
    with workdir() as tmp:
        path = tmp / "001.md"
        path.write_bytes(data)
        contract = reads_safely(tmp, lambda: load_contract(path), str(path))
        assert contract is None or isinstance(contract, Contract)


def _valid_contract_meta() -> dict[str, Any]:
    contract = Contract.model_validate(
        {
            "issue": "001",
            "status": "agreed",
            "round": 1,
            "criteria": [{"id": "C1", "behaviour": "works", "test": "tests/test_x.py::test_works"}],
            "allow": [{"rule": "HG005", "path": "pyproject.toml", "reason": "needs it"}],
            "frozen_tests": {"tests/test_x.py": "0" * 64},
            "history": [
                {
                    "round": 1,
                    "proposal": {"criteria": [{"id": "C1", "behaviour": "works", "test": "tests/test_x.py::test_a"}]},
                    "review": {"decision": "accept"},
                }
            ],
        }
    )
    return contract.model_dump(mode="json")


_CONTRACT_PATHS = [
    ("issue",),
    ("status",),
    ("round",),
    ("sha256",),
    ("criteria",),
    ("criteria", 0),
    ("criteria", 0, "id"),
    ("criteria", 0, "test"),
    ("criteria", 0, "behaviour"),
    ("out_of_scope",),
    ("notes",),
    ("allow", 0, "rule"),
    ("frozen_tests",),
    ("frozen_tests", "tests/test_x.py"),
    ("history", 0, "round"),
    ("history", 0, "proposal"),
    ("history", 0, "proposal", "criteria"),
    ("history", 0, "review", "decision"),
    ("history", 0, "reviewer"),
]


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy = list(data) if isinstance(data, list) else dict(data)
    copy[head] = _replace(copy[head] if not isinstance(copy, dict) or head in copy else {}, rest, value)
    return copy


@IO
@given(where=st.sampled_from(_CONTRACT_PATHS), value=values)
@example(where=("round",), value="9" * 5000)
@example(where=("history", 0, "review", "decision"), value="revise")
def test_a_contract_field_of_the_wrong_type_is_an_error_naming_the_field(where: tuple[Any, ...], value: Any) -> None:
    meta = _replace(_valid_contract_meta(), where, value)
    # The error names the field, or the object holding it when the value breaks a rule of that object
    # (`decision: revise` without objections).
    named = ".".join(str(p) for p in where[: max(1, len(where) - 1)])
    with workdir() as tmp:
        path = tmp / "001.md"
        path.write_text(issue_text(meta, body="# contract\n"), encoding="utf-8")
        reads_safely(tmp, lambda: load_contract(path), str(path), field=named)


@IO
@given(key=field_names.filter(lambda k: k not in Contract.model_fields), value=values)
def test_an_unknown_contract_field_is_an_error_naming_it(key: str, value: Any) -> None:
    with workdir() as tmp:
        path = tmp / "001.md"
        path.write_text(issue_text({**_valid_contract_meta(), key: value}, body=""), encoding="utf-8")
        assert reads_safely(tmp, lambda: load_contract(path), str(path), field=key) is None


node_ids = st.from_regex(NODE_ID, fullmatch=True)


@st.composite
def criteria_lists(draw: st.DrawFn, min_size: int = 0) -> list[dict[str, Any]]:
    ids = draw(st.lists(clean_text, min_size=min_size, max_size=3, unique=True))
    return [{"id": i, "behaviour": draw(clean_text), "test": draw(node_ids)} for i in ids]


@st.composite
def contracts(draw: st.DrawFn) -> Contract:
    rounds = []
    for number in range(1, draw(st.integers(0, 2)) + 1):
        review = draw(
            st.none()
            | st.just({"decision": "accept"})
            | st.builds(
                lambda objections: {"decision": "revise", "objections": objections},
                st.lists(
                    st.fixed_dictionaries(
                        {"criterion": clean_text, "problem": clean_text, "required_change": clean_text}
                    ),
                    min_size=1,
                    max_size=2,
                ),
            )
        )
        rounds.append(
            {
                "round": number,
                "proposal": {
                    "criteria": draw(criteria_lists(min_size=1)),
                    "out_of_scope": draw(st.lists(yaml_hard_text, max_size=2)),
                    "notes": draw(st.none() | yaml_hard_text),
                },
                "review": review,
                "reviewer": draw(st.sampled_from(["evaluator", "user"])),
                "ruling": draw(st.none() | yaml_hard_text),
            }
        )
    raw = {
        "issue": draw(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,8}\Z") | clean_text),
        "status": draw(st.sampled_from(["proposed", "negotiating", "agreed", "escalated"])),
        "round": draw(st.integers(min_value=-(2**63), max_value=2**63)),
        "sha256": draw(st.none() | st.text("0123456789abcdef", min_size=64, max_size=64)),
        "criteria": draw(criteria_lists()),
        "out_of_scope": draw(st.lists(yaml_hard_text, max_size=3)),
        "notes": draw(st.none() | yaml_hard_text),
        "allow": draw(
            st.lists(st.fixed_dictionaries({"rule": clean_text, "path": clean_text, "reason": clean_text}), max_size=2)
        ),
        "frozen_tests": draw(st.dictionaries(yaml_hard_text, yaml_hard_text, max_size=3)),
        "history": rounds,
    }
    try:
        return Contract.model_validate(raw)
    except ValidationError:
        assume(False)
        raise


_NEL_CONTRACT = Contract(issue="001", notes="a\x85b", out_of_scope=["\x85"])


@SLOW_IO
@given(contract=contracts())
@example(contract=_NEL_CONTRACT)  # the NEL came back as a space: another digest, a "changed" contract
def test_a_contract_survives_save_and_load(contract: Contract) -> None:
    with workdir() as tmp:
        path = tmp / "contracts" / "001.md"
        save_contract(path, contract)
        loaded = load_contract(path)
        assert loaded == contract
        assert loaded.digest() == contract.digest()
        save_contract(path, loaded)  # saving over it leaves one file and the same contract
        assert load_contract(path) == contract
        assert [p.name for p in path.parent.iterdir()] == ["001.md"]


# --------------------------------------------------------------------------- atomic writes


@IO
@given(text=st.text(), old=st.none() | st.binary())
def test_atomic_write_text_round_trips_any_text_exactly(text: str, old: bytes | None) -> None:
    with workdir() as tmp:
        path = tmp / "sub" / "file.md"
        if old is not None:
            path.parent.mkdir()
            path.write_bytes(old)
        atomic_write_text(path, text)
        assert path.read_bytes() == text.encode("utf-8")
        assert [p.name for p in path.parent.iterdir()] == ["file.md"]


# --------------------------------------------------------------------------- configuration


def _config_readers(root: Path) -> list[Callable[[], Any]]:
    return [lambda: load_config(root), lambda: guard_settings(root), lambda: read_table(root)]


@IO
@given(name=st.sampled_from(["harness.toml", "pyproject.toml"]), data=any_bytes)
@example(name="harness.toml", data=b"\xff\xfe")  # was UnicodeDecodeError
@example(name="pyproject.toml", data=b"[tool.harness]\nmax_retries = " + b"9" * 5000)  # was ValueError
@example(name="harness.toml", data=b"a = " + b"[" * 800 + b"]" * 800)  # was RecursionError
@example(name="pyproject.toml", data=b"[tool]\nharness = 1\n")  # was silently ignored
def test_any_configuration_file_loads_or_is_an_error_naming_the_file(name: str, data: bytes) -> None:
    with workdir() as tmp:
        (tmp / name).write_bytes(data)
        for read in _config_readers(tmp):
            reads_safely(tmp, read, str(tmp / name))


def test_a_tool_harness_that_is_not_a_table_is_an_error_not_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool]\nharness = 1\n", encoding="utf-8")  # was read as no settings
    for read in _config_readers(tmp_path):
        with pytest.raises(UsageError) as info:
            read()
        assert str(tmp_path / "pyproject.toml") in info.value.message and "`tool.harness`" in info.value.message
        assert info.value.hint


_SECTIONS: dict[str, type[BaseModel]] = {"models": Models, "limits": Limits, "budget": Budget}
_CONFIG_PATHS = [
    *[(key,) for key in Config.model_fields if key != "source"],
    *[(section, key) for section, model in _SECTIONS.items() for key in model.model_fields],
]


def _documented(where: tuple[str, ...]) -> bool:
    return where[:1] in _CONFIG_PATHS and (len(where) == 1 or where in _CONFIG_PATHS)


@IO
@given(
    where=st.sampled_from(_CONFIG_PATHS)
    | st.tuples(field_names)
    | st.tuples(st.sampled_from(sorted(_SECTIONS)), field_names),
    value=toml_values,
    in_pyproject=st.booleans(),
)
@example(where=("limits", "max_turns"), value=10**30, in_pyproject=False)
@example(where=("test_timeout",), value=float("-inf"), in_pyproject=True)
@example(where=("models",), value=date(2001, 1, 1), in_pyproject=False)
@example(where=("source",), value="elsewhere", in_pyproject=False)  # was silently accepted, then overwritten
def test_a_configuration_value_of_the_wrong_type_is_an_error_naming_the_key(
    where: tuple[str, ...], value: Any, in_pyproject: bool
) -> None:
    table = set_path({}, where, value)
    assert tomllib.loads(toml_document(table)) == table  # the document says what we think it says
    dotted = ".".join(where)
    with workdir() as tmp:
        if in_pyproject:
            path = tmp / "pyproject.toml"
            path.write_text('[project]\nname = "x"\n\n' + toml_document(table, header="[tool.harness]"), "utf-8")
        else:
            path = tmp / "harness.toml"
            path.write_text(toml_document(table), encoding="utf-8")
        config = reads_safely(tmp, lambda: load_config(tmp), str(path), field=dotted)
        if config is not None:
            assert config.source == str(path)
        assert config is None or _documented(where), "an unknown key is an error"
        guard_field = where[0] if where[0] in ("harness_dir", "protected_paths") else None
        settings_ = reads_safely(tmp, lambda: guard_settings(tmp), str(path), field=guard_field)
        if guard_field is None:
            assert settings_ is not None


# --------------------------------------------------------------------------- the pytest report reader

outcomes = st.sampled_from(["passed", "failed", "error", "skipped", "xfailed", "xpassed"])
report_tests = st.fixed_dictionaries(
    {
        "nodeid": st.text(),
        "outcome": outcomes | st.text(),
        "phase": st.sampled_from(["setup", "call", "teardown"]),
        "exc_type": st.none() | st.text(),
        "message": st.text(),
        "duration": st.floats(min_value=0, max_value=1e6) | st.integers(0, 10**6),
    }
)
collection_errors = st.fixed_dictionaries(
    {"nodeid": st.text(), "exc_type": st.none() | st.text(), "message": st.text()}
)
reports = st.fixed_dictionaries(
    {
        "version": st.just(1),
        "collected": st.integers(0, 10**6),
        "tests": st.lists(report_tests, max_size=4),
        "collection_errors": st.lists(collection_errors, max_size=2),
    }
)


@st.composite
def broken_reports(draw: st.DrawFn) -> Any:
    """A plugin report with one value somewhere replaced by any JSON value, or one key dropped."""
    report = draw(reports)
    containers: list[dict[str, Any]] = [report, *report["tests"], *report["collection_errors"]]
    target = draw(st.sampled_from(containers))
    key = draw(st.sampled_from(sorted(target)) | st.text(max_size=5))
    if draw(st.booleans()):
        target.pop(key, None)
    else:
        target[key] = draw(json_values)
    return report


def read_report(data: bytes) -> TestReport:
    with workdir() as tmp:
        path = tmp / "report.json"
        path.write_bytes(data)
        before = snapshot(tmp)
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict):  # as the plugin sends it: stamped with the run's nonce
            data = json.dumps({**doc, "nonce": "n"}).encode()
        report = _build_report(_read_report(data, "n")[0], 1, False, 0.5, "tail", root=Path("/checkout"))
        assert snapshot(tmp) == before
    assert isinstance(report, TestReport)
    if report.ran:
        assert report.collected >= 0
        for nodeid, outcome in report.outcomes.items():
            assert isinstance(outcome, TestOutcome) and outcome.nodeid == nodeid
            assert outcome.outcome in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
            assert isinstance(outcome.message, str) and isinstance(outcome.phase, str)
            assert math.isfinite(outcome.duration)
        assert all(isinstance(err.message, str) for err in report.collection_errors)
    else:
        assert (report.outcomes, report.collection_errors, report.collected) == ({}, (), 0)
    return report


@IO
@given(
    data=any_bytes
    | json_values.map(lambda v: json.dumps(v).encode())
    | broken_reports().map(lambda r: json.dumps(r).encode())
)
@example(data=b'{"tests": [{}]}')  # was KeyError
@example(data=b'{"tests": 1}')  # was TypeError
@example(data=b'{"tests": ["x"]}')  # was AttributeError
@example(data=b'{"collected": "many"}')  # was ValueError
@example(data=b'{"collected": 1e400}')  # was OverflowError
@example(data=b'{"tests": [{"nodeid": "t", "duration": 1' + b"0" * 400 + b"}]}")  # was OverflowError
@example(data=b'{"collection_errors": [null]}')  # was TypeError
@example(data=b"[" * 100_000 + b"]" * 100_000)  # was RecursionError
@example(data=b'{"collected": ' + b"9" * 5000 + b"}")
def test_any_report_file_reads_as_a_report_or_as_no_report(data: bytes) -> None:
    read_report(data)


@IO
@given(report=reports)
def test_a_report_the_plugin_writes_is_read_in_full(report: dict[str, Any]) -> None:
    read = read_report(json.dumps(report).encode())
    assert read.ran
    assert read.collected == report["collected"]
    assert set(read.outcomes) == {t["nodeid"] for t in report["tests"]}
    assert len(read.collection_errors) == len(report["collection_errors"])


@pytest.mark.parametrize(
    "data", [b'{"tests": [{}]}', b'{"tests": [{"nodeid": "t", "duration": "slow"}]}', b'{"collected": -1}']
)
def test_a_garbled_report_counts_as_no_report(data: bytes) -> None:
    assert not read_report(data).ran
