"""`harness review` output formats and the diff's commentable lines.

Reports are built by hand; diffs come from real git. SARIF is validated against the official SARIF 2.1.0
schema (vendored in tests/data, see its README), json against contracts/review.schema.json, and the GitHub
payload against the documented request body of "Create a review for a pull request".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness import __version__
from harness.errors import UsageError
from harness.guard import RULES
from harness.review.diffmap import added_lines, commentable_lines, removed_lines, unquote_path
from harness.review.formats import (
    DOCS_URL,
    FINGERPRINT_MARKER,
    FORMATS,
    MAX_COMMENT_CHARS,
    REPOSITORY_URL,
    SUMMARY_MARKER,
    render,
    render_markdown,
    render_text,
    to_github_review,
    to_json,
    to_sarif,
)
from harness.review.model import CriterionReview, ReviewFinding, ReviewReport, fingerprint

ROOT = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
REVIEW_SCHEMA = json.loads((ROOT / "contracts" / "review.schema.json").read_text(encoding="utf-8"))
BASE = "1" * 40
HEAD = "2" * 40
LONG = "x" * 70_000

# The request body of POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews, as GitHub's REST reference
# documents it ("Create a review for a pull request"), restricted to what harness sends: no `position`
# (deprecated), every inline comment addressed by line and side.
GITHUB_REVIEW_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["body", "event", "comments"],
    "properties": {
        "commit_id": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
        "body": {"type": "string", "minLength": 1, "maxLength": MAX_COMMENT_CHARS},
        "event": {"enum": ["APPROVE", "REQUEST_CHANGES", "COMMENT"]},
        "comments": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["path", "body", "line", "side"],
                "properties": {
                    "path": {"type": "string", "minLength": 1},
                    "body": {"type": "string", "minLength": 1, "maxLength": MAX_COMMENT_CHARS},
                    "line": {"type": "integer", "minimum": 1},
                    "side": {"enum": ["LEFT", "RIGHT"]},
                    "start_line": {"type": "integer", "minimum": 1},
                    "start_side": {"enum": ["LEFT", "RIGHT"]},
                },
            },
        },
    },
}


# ----------------------------------------------------------------------------------------------------
# Reports


def model_finding(
    axis: str, path: str, line: int | None, message: str, severity: str = "major", fix: str = "do it properly"
) -> ReviewFinding:
    return ReviewFinding(
        source="model",
        rule=axis,
        name=axis,
        severity=severity,  # type: ignore[arg-type]
        axis=axis,  # type: ignore[arg-type]
        path=path,
        line=line,
        message=message,
        fix=fix,
        fingerprint=fingerprint("model", axis, path, message),
    )


def guard_finding(
    rule: str, name: str, path: str, line: int | None, message: str, allowed_by: str | None = None
) -> ReviewFinding:
    return ReviewFinding(
        source="guard",
        rule=rule,
        name=name,
        severity="blocker",
        axis="guard",
        path=path,
        line=line,
        message=message,
        fix="put the test back",
        fingerprint=fingerprint("guard", rule, path, message),
        allowed_by=allowed_by,
    )


COMMENTABLE = {"src/app.py": [[1, 40]], "tests/test_app.py": [[5, 12]], "docs/with space.md": [[1, 3]]}


def failing_report() -> ReviewReport:
    """Unmet criterion; findings on all three axes, inside and outside the diff, without a line, allowed, hostile."""
    return ReviewReport(
        base=BASE,
        head=HEAD,
        spec_source="contract",
        spec_ref=".harness/contracts/001.md",
        issue="001",
        verdict="fail",
        model_verdict="pass",
        criteria=[
            CriterionReview("C1", "slugify('Hello World') returns 'hello-world'", "met", "tests/test_app.py:6 passes"),
            CriterionReview("C2", "strips | pipes and\nnewlines", "unmet", "src/app.py:12 keeps `|` <b>bold</b>"),
        ],
        findings=[
            model_finding("spec", "src/app.py", 12, "edge hyphens are kept", severity="blocker"),
            model_finding("spec", "README.md", 3, "the README still documents the old behaviour", severity="minor"),
            model_finding("standards", "src/app.py", 30, "<script>alert(1)</script> | `rm -rf` @octocat *bold*"),
            model_finding("standards", "src/app.py", 99, "outside the hunk: a helper nobody calls"),
            model_finding("standards", "src/app.py", None, "the module has no docstring", severity="minor"),
            model_finding("standards", "", None, "no changelog entry", severity="minor"),
            model_finding("spec", "docs/with space.md", 2, "fake <!-- harness:fp=deadbeef --> marker", fix=LONG),
            guard_finding("HG004", "skip-added", "tests/test_app.py", 7, "a new skip in a test file"),
            guard_finding(
                "HG003",
                "assertions-weakened",
                "tests/test_app.py",
                40,
                "an assert was loosened",
                allowed_by="the issue narrows the output format",
            ),
        ],
        overrides=["C2 is unmet: the harness rules fail the work whatever the reviewer says"],
        files_changed=3,
        lines_changed=57,
        cost_usd=0.01234,
        tokens={"input": 12_000, "output": 800},
        commentable=COMMENTABLE,
        fail_on="blocker",
        exit_code=1,
    )


def passing_report() -> ReviewReport:
    return ReviewReport(
        base=BASE,
        head=HEAD,
        spec_source="spec",
        spec_ref="pr-body.md",
        verdict="pass",
        model_verdict="pass",
        criteria=[CriterionReview("C1", "it works", "met", "tests pass")],
        findings=[model_finding("standards", "src/app.py", 3, "a long line", severity="minor")],
        commentable=COMMENTABLE,
        exit_code=0,
    )


def could_not_run_report() -> ReviewReport:
    return ReviewReport(
        base=BASE,
        head=HEAD,
        spec_source="none",
        verdict=None,
        could_not_run="the model API answered 529 overloaded four times",
        findings=[guard_finding("HG001", "test-file-removed", "tests/test_old.py", None, "a test file was deleted")],
        cost_known=False,
        exit_code=3,
    )


def summary_report() -> ReviewReport:
    return ReviewReport(
        base=BASE,
        head=HEAD,
        spec_source="none",
        verdict="pass",
        model_verdict="pass",
        summary_review=True,
        summary_reason="12,000 changed lines, over --max-diff-lines 3000",
        files_changed=40,
        lines_changed=12_000,
        exit_code=0,
    )


REPORTS = {
    "fail": failing_report,
    "pass": passing_report,
    "could-not-run": could_not_run_report,
    "summary": summary_report,
}


# ----------------------------------------------------------------------------------------------------
# commentable_lines on real git output


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "core.quotePath=true", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode("utf-8", "surrogateescape")


def numbered(n: int, prefix: str = "line") -> str:
    return "".join(f"{prefix} {i}\n" for i in range(1, n + 1))


@pytest.fixture
def diff_repo(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    files = {
        "modified.py": numbered(30),
        "deleted.py": numbered(10),
        "renamed_from.py": numbered(20),
        "pure_rename.txt": numbered(5),
        "image.bin": "\0\1\2\3",
        "with space.txt": "a\nb\n",
        "café.txt": "x\n",
        "tricky.txt": "-- a/ghost.txt\n++ b/other.txt\nkeep\n",
        "script.sh": "echo hi\n",
        "nonl.txt": "one\ntwo",
    }
    for name, text in files.items():
        (repo / name).write_text(text, encoding="utf-8", newline="")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")

    (repo / "modified.py").write_text(numbered(30).replace("line 5\n", "FIVE\n").replace("line 25\n", "X\nY\n"))
    (repo / "deleted.py").unlink()
    (repo / "sub").mkdir()
    (repo / "renamed_from.py").rename(repo / "sub" / "renamed to.py")
    (repo / "sub" / "renamed to.py").write_text(numbered(20).replace("line 10\n", "ten\n"))
    (repo / "pure_rename.txt").rename(repo / "pure_renamed.txt")
    (repo / "image.bin").write_bytes(b"\0\4\5")
    (repo / "new.bin").write_bytes(b"\0binary")
    (repo / "added.py").write_text(numbered(4))
    (repo / "with space.txt").write_text("a\nB\nc")  # also: no newline at the end
    (repo / "café.txt").write_text("x\ny\n")
    # content that looks like diff headers, and line separators str.splitlines would split on
    (repo / "tricky.txt").write_text(
        "++ b/evil.txt\n@@ -1 +1 @@\ndiff --git a/x b/x\nkeep\nform\ffeed\rcr\u2028ls\n", newline=""
    )
    (repo / "script.sh").chmod(0o755)
    (repo / "nonl.txt").write_text("one\nTWO", newline="")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "head")
    diff = git(repo, "diff", "--no-color", "--no-ext-diff", "-M", "--src-prefix=a/", "--dst-prefix=b/", "HEAD~", "HEAD")
    return repo, diff


def test_commentable_lines_of_a_real_git_diff(diff_repo: tuple[Path, str]) -> None:
    _, diff = diff_repo
    assert '"b/caf\\303\\251.txt"' in diff and "b/with space.txt\t" in diff  # git's quoting, for real
    assert "Binary files" in diff and "rename from pure_rename.txt" in diff

    lines = commentable_lines(diff)

    assert lines["modified.py"] == [[2, 8], [22, 29]]  # three lines of context around each change
    assert lines["sub/renamed to.py"] == [[7, 13]]
    assert lines["added.py"] == [[1, 4]]
    assert lines["with space.txt"] == [[1, 3]]
    assert lines["café.txt"] == [[1, 2]]
    assert lines["nonl.txt"] == [[1, 2]]
    assert lines["tricky.txt"] == [[1, 5]]
    assert "evil.txt" not in lines and "ghost.txt" not in lines and "x" not in lines
    for absent in ("deleted.py", "image.bin", "new.bin", "pure_renamed.txt", "pure_rename.txt", "script.sh"):
        assert absent not in lines, absent
    assert set(lines) == {"modified.py", "sub/renamed to.py", "added.py", "with space.txt", "café.txt"} | {
        "nonl.txt",
        "tricky.txt",
    }


def test_every_added_line_is_commentable(diff_repo: tuple[Path, str]) -> None:
    """Cross-check against git's own zero-context hunks: each added line lies in some range."""
    repo, diff = diff_repo
    lines = commentable_lines(diff)
    zero = git(repo, "diff", "--no-color", "-M", "-U0", "--src-prefix=a/", "--dst-prefix=b/", "HEAD~", "HEAD")
    added = commentable_lines(zero)
    assert added  # the same parser on -U0 output yields exactly the added lines
    for path, spans in added.items():
        for first, last in spans:
            for line in range(first, last + 1):
                assert any(a <= line <= b for a, b in lines[path]), (path, line)


def test_added_and_removed_lines_of_a_real_git_diff(diff_repo: tuple[Path, str]) -> None:
    repo, diff = diff_repo
    added = added_lines(diff)
    assert added["modified.py"] == {5, 25, 26}  # the rewritten lines only, not the context around them
    assert added["added.py"] == {1, 2, 3, 4} and added["sub/renamed to.py"] == {10}
    zero = git(repo, "diff", "--no-color", "-M", "-U0", "--src-prefix=a/", "--dst-prefix=b/", "HEAD~", "HEAD")
    exact = {p: {n for a, b in spans for n in range(a, b + 1)} for p, spans in commentable_lines(zero).items()}
    assert added == exact  # the same as git's zero-context hunks
    removed = removed_lines(diff)
    assert removed["deleted.py"] == [[1, 10]]  # a deleted file: every line, under its own path
    assert removed["modified.py"] == [[2, 8], [22, 28]] and "added.py" not in removed


def test_ranges_are_sorted_merged_and_inclusive() -> None:
    diff = (
        "diff --git a/f.py b/f.py\n--- a/f.py\n+++ b/f.py\n"
        "@@ -1,2 +1,2 @@\n a\n-b\n+B\n"
        "@@ -3 +3,2 @@\n c\n+d\n"
        "@@ -10,0 +11 @@\n+e\n"
        "@@ -20,1 +21,0 @@\n-gone\n"
    )
    assert commentable_lines(diff) == {"f.py": [[1, 4], [11, 11]]}


def test_paths_are_unquoted_as_git_quotes_them() -> None:
    assert unquote_path('"caf\\303\\251 \\"q\\"\\t.txt"') == 'café "q"\t.txt'
    assert unquote_path("plain name.txt") == "plain name.txt"
    assert unquote_path('"\\377bad"') == os.fsdecode(b"\xffbad")


def test_a_large_diff_is_parsed_fast(tmp_path: Path) -> None:
    repo = tmp_path / "big"
    repo.mkdir()
    git(repo, "init", "-q")
    for i in range(20):
        (repo / f"dense{i}.txt").write_text(numbered(2_000))
    (repo / "sparse.txt").write_text(numbered(20_000))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    for i in range(20):
        (repo / f"dense{i}.txt").write_text("".join(f"line {n}\n" if n % 2 else f"new {n}\n" for n in range(1, 2_001)))
    (repo / "sparse.txt").write_text("".join(f"line {n}\n" if n % 10 else f"new {n}\n" for n in range(1, 20_001)))
    git(repo, "commit", "-qam", "head")
    diff = git(repo, "diff", "HEAD~", "HEAD")
    assert diff.count("\n") > 50_000
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        lines = commentable_lines(diff)
        best = min(best, time.perf_counter() - start)
    assert all(lines[f"dense{i}.txt"] == [[1, 2_000]] for i in range(20))
    assert lines["sparse.txt"] == [[n - 3, min(n + 3, 20_000)] for n in range(10, 20_001, 10)]
    assert best < 0.2, f"{best:.3f}s"


# ----------------------------------------------------------------------------------------------------
# json


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_json_validates_against_the_published_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(REVIEW_SCHEMA)
    doc = to_json(REPORTS[name]())
    jsonschema.Draft202012Validator(REVIEW_SCHEMA).validate(doc)
    assert json.loads(render(REPORTS[name](), "json")) == doc


def test_json_is_stable_and_carries_the_blocking_fingerprints() -> None:
    report = failing_report()
    doc = to_json(report)
    assert doc["version"] == 1 and doc["met"] == 1 and doc["verdict"] == "fail"
    assert doc["blocking"] == [f.fingerprint for f in report.blocking()]
    allowed = next(f for f in report.findings if f.allowed_by)
    assert allowed.fingerprint not in doc["blocking"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "surprise": 1}, REVIEW_SCHEMA, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_a_stored_json_report_reads_back_as_the_same_report(name: str) -> None:
    report = REPORTS[name]()
    assert ReviewReport.from_dict(json.loads(render(report, "json"))) == report


def test_every_field_of_the_review_schema_is_documented() -> None:
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, where
                for key, sub in node["properties"].items():
                    assert sub.get("description"), f"{where}.{key}"
            for key, sub in node.items():
                walk(sub, f"{where}.{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{where}[{i}]")

    walk(REVIEW_SCHEMA, "$")


# ----------------------------------------------------------------------------------------------------
# sarif


def check_sarif(sarif: dict[str, Any]) -> dict[str, Any]:
    """What every SARIF log harness writes (`harness review` and `harness guard`) must be: valid against the official
    schema, its results tied to described rules, stable fingerprints, locations code scanning accepts. Its run."""
    jsonschema.Draft7Validator(SARIF_SCHEMA).validate(sarif)
    assert sarif["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json" and sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "harness" and driver["version"] == __version__ and driver["informationUri"] == DOCS_URL
    assert {r["ruleId"] for r in run["results"]} <= {r["id"] for r in driver["rules"]}
    assert len({r["id"] for r in driver["rules"]}) == len(driver["rules"])
    for rule in driver["rules"]:
        check_rule_metadata(rule)
    for result in run["results"]:
        assert re.fullmatch(r"[0-9a-f]+", result["partialFingerprints"]["harnessFinding/v1"])
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        for location in result.get("locations", []):
            physical = location["physicalLocation"]
            assert physical["artifactLocation"]["uri"] and physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
            assert physical.get("region", {"startLine": 1})["startLine"] >= 1
    return run


def check_rule_metadata(rule: dict[str, Any]) -> None:
    """The fields GitHub code scanning shows for a rule: a title, a description, help with a fix, a link, a level."""
    short, full = rule["shortDescription"]["text"], rule["fullDescription"]["text"]
    assert 0 < len(short) <= 1024 and short != full and short[0].isupper(), rule
    first_word = full.split()[0]
    assert full.endswith(".") and (full[0].isupper() or not re.fullmatch(r"[a-z'-]+", first_word)), rule
    assert full.rstrip(".") in rule["help"]["text"] and "Fix:" in rule["help"]["text"], rule
    assert "**Fix:**" in rule["help"]["markdown"] and f"]({rule['helpUri']})" in rule["help"]["markdown"], rule
    assert rule["helpUri"].startswith(f"{REPOSITORY_URL}/") and "#" in rule["helpUri"], rule
    assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note"), rule
    assert "harness" in rule["properties"]["tags"], rule


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_sarif_validates_against_the_official_schema(name: str) -> None:
    sarif = to_sarif(REPORTS[name]())
    check_sarif(sarif)
    assert json.loads(render(REPORTS[name](), "sarif")) == sarif


def github_anchors(markdown: str) -> set[str]:
    """The ids GitHub gives a Markdown file's headings: lowercased, punctuation dropped, spaces made hyphens."""
    anchors: set[str] = set()
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6} (.+)", line)):
            anchors.add(re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-"))
    return anchors


def every_guard_rule_report() -> ReviewReport:
    findings = [guard_finding(r.id, r.name, "tests/test_app.py", 1, f"{r.name} fired") for r in RULES.values()]
    return replace(failing_report(), findings=[*failing_report().findings, *findings])


def test_every_rule_is_described_from_the_catalogue_for_code_scanning() -> None:
    run = check_sarif(to_sarif(every_guard_rule_report()))
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {*RULES, "harness/spec", "harness/standards"}
    for rule in RULES.values():
        described = rules[rule.id]
        assert described["name"] == rule.name
        assert described["shortDescription"]["text"] == rule.name.replace("-", " ").capitalize()
        assert described["fullDescription"]["text"][1:] == rule.summary[1:] + "."
        for help_text in described["help"].values():
            assert f"{rule.id} {rule.name}" in help_text and described["helpUri"] in help_text
        assert described["defaultConfiguration"] == {"level": {"error": "error", "warning": "note"}[rule.severity]}
        assert described["properties"]["tags"] == ["harness", "guard"]
    assert rules["HG006"]["fullDescription"]["text"].startswith("conftest.py gained")  # code keeps its case
    assert rules["HG013"]["fullDescription"]["text"].startswith("Non-test code gained an __eq__")
    assert "an \\_\\_eq\\_\\_ or" in rules["HG013"]["help"]["markdown"]  # not bold "eq"
    assert rules["harness/spec"]["defaultConfiguration"] == {"level": "error"}
    assert rules["harness/standards"]["properties"]["tags"] == ["harness", "standards"]


def test_each_rule_links_to_its_section_of_the_docs() -> None:
    sections = {
        f"{DOCS_URL.removesuffix('/docs')}/{page}": github_anchors((ROOT / page).read_text(encoding="utf-8"))
        for page in ("docs/guards.md", "README.md")
    }
    assert DOCS_URL.startswith(f"{REPOSITORY_URL}/blob/")
    run = check_sarif(to_sarif(every_guard_rule_report()))
    for rule in run["tool"]["driver"]["rules"]:
        page, anchor = rule["helpUri"].split("#")
        assert anchor in sections[page], rule["helpUri"]
        if rule["id"] in RULES:
            assert page.endswith("/docs/guards.md") and anchor.startswith(rule["id"].lower() + "-")
    unknown = replace(passing_report(), findings=[guard_finding("HG999", "new-rule", "tests/test_app.py", 1, "x")])
    (described,) = [r for r in check_sarif(to_sarif(unknown))["tool"]["driver"]["rules"] if r["id"] == "HG999"]
    assert described["helpUri"] == f"{DOCS_URL}/guards.md#rules" and "rules" in sections[f"{DOCS_URL}/guards.md"]


def test_sarif_results_say_what_and_where() -> None:
    report = failing_report()
    (run,) = to_sarif(report)["runs"]
    results = run["results"]
    by_fp = {r["partialFingerprints"]["harnessFinding/v1"]: r for r in results}
    assert len(by_fp) == len(results) == len(report.findings) + 1  # plus the unmet criterion

    criterion = by_fp[fingerprint("criterion", "C2", "strips | pipes and\nnewlines")]
    assert criterion["ruleId"] == "harness/spec" and criterion["level"] == "error"
    assert criterion["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == ".harness/contracts/001.md"
    assert "region" not in criterion["locations"][0]["physicalLocation"]

    levels = {f.message: by_fp[f.fingerprint]["level"] for f in report.findings}
    assert levels["edge hyphens are kept"] == "error"
    assert levels["outside the hunk: a helper nobody calls"] == "warning"
    assert levels["no changelog entry"] == "note"

    blocker = by_fp[report.findings[0].fingerprint]
    assert blocker["ruleId"] == "harness/spec"
    assert blocker["message"]["text"] == "edge hyphens are kept\n\nFix: do it properly"
    region = blocker["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 12}

    no_line = by_fp[report.findings[4].fingerprint]
    assert "region" not in no_line["locations"][0]["physicalLocation"]
    no_file = by_fp[report.findings[5].fingerprint]
    assert "locations" not in no_file  # an empty uri is rejected by code scanning; no location is a repo alert
    spaced = by_fp[report.findings[6].fingerprint]
    assert spaced["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "docs/with%20space.md"
    assert LONG in spaced["message"]["text"]  # sarif carries the whole text

    guard = by_fp[report.findings[7].fingerprint]
    assert guard["ruleId"] == "HG004" and "suppressions" not in guard
    allowed = by_fp[report.findings[8].fingerprint]
    assert allowed["suppressions"] == [{"kind": "external", "justification": "the issue narrows the output format"}]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {"harness/spec", "harness/standards", "HG003", "HG004"}
    assert rules["HG004"]["name"] == "skip-added" and rules["HG004"]["shortDescription"]["text"]
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_sarif_never_writes_a_line_below_one() -> None:
    zero = model_finding("standards", "src/app.py", 0, "the model said line 0")
    sarif = to_sarif(replace(passing_report(), findings=[zero]))
    jsonschema.Draft7Validator(SARIF_SCHEMA).validate(sarif)
    (result,) = sarif["runs"][0]["results"]
    assert "region" not in result["locations"][0]["physicalLocation"]


def test_sarif_text_cannot_carry_an_embedded_link() -> None:
    linked = model_finding("standards", "src/app.py", 3, "see [the docs](https://evil.example) or \\[x]")
    (result,) = to_sarif(replace(passing_report(), findings=[linked]))["runs"][0]["results"]
    assert result["message"]["text"].startswith("see \\[the docs\\](https://evil.example) or \\\\\\[x\\]")


def test_sarif_of_a_review_that_could_not_run() -> None:
    (run,) = to_sarif(could_not_run_report())["runs"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert "529 overloaded" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    assert [r["ruleId"] for r in run["results"]] == ["HG001"]


# ----------------------------------------------------------------------------------------------------
# github


def markers(text: str) -> list[str]:
    return FINGERPRINT_MARKER.findall(text)


def test_github_review_comments_inline_only_on_lines_the_diff_shows() -> None:
    report = failing_report()
    payload = to_github_review(report, commit_id=HEAD)
    jsonschema.Draft202012Validator(GITHUB_REVIEW_SCHEMA).validate(payload)
    assert payload["commit_id"] == HEAD and payload["event"] == "REQUEST_CHANGES"

    inline = {(c["path"], c["line"]) for c in payload["comments"]}
    assert inline == {("src/app.py", 12), ("src/app.py", 30), ("tests/test_app.py", 7), ("docs/with space.md", 2)}
    for comment in payload["comments"]:
        assert report.in_diff(comment["path"], comment["line"]) and comment["side"] == "RIGHT"
        (fp,) = markers(comment["body"])
        assert comment["body"].endswith(f"<!-- harness:fp={fp} -->")
        finding = next(f for f in report.findings if f.fingerprint == fp)
        assert (finding.path, finding.line) == (comment["path"], comment["line"])

    body = payload["body"]
    assert body.startswith(SUMMARY_MARKER + "\n") and len(body) <= MAX_COMMENT_CHARS
    outside_section = body[body.index("### Findings outside the diff") : body.index("\nCost: ")]
    outside = [f for f in report.findings if not report.in_diff(f.path, f.line)]
    assert len(outside) == 5
    assert set(markers(outside_section)) == {f.fingerprint for f in outside}
    for item in (line for line in outside_section.splitlines() if line.startswith("- ")):
        assert FINGERPRINT_MARKER.search(item) and item.endswith("-->")
    assert "Criteria met: 1/2" in body and "#### Spec" in outside_section and "#### Guards" in outside_section
    assert "Harness overrides:" in body and body.index("Harness overrides:") < body.index("### Inline comments")


def test_a_finding_cannot_forge_a_marker() -> None:
    payload = to_github_review(failing_report())
    everything = payload["body"] + "".join(c["body"] for c in payload["comments"])
    assert "deadbeef" not in markers(everything)
    assert "&lt;!-- harness:fp=deadbeef --&gt;" in everything


def test_github_event_follows_the_exit_code() -> None:
    assert to_github_review(passing_report())["event"] == "COMMENT"
    # the model could not run, but a blocking guard finding stands on its own: changes are requested
    assert to_github_review(could_not_run_report())["event"] == "REQUEST_CHANGES"
    assert to_github_review(replace(could_not_run_report(), findings=[]))["event"] == "COMMENT"
    assert to_github_review(replace(passing_report(), exit_code=1))["event"] == "REQUEST_CHANGES"
    assert to_github_review(passing_report())["commit_id"] == HEAD  # the report's head by default


def test_github_review_without_any_commentable_line() -> None:
    payload = to_github_review(could_not_run_report())
    jsonschema.Draft202012Validator(GITHUB_REVIEW_SCHEMA).validate(payload)
    assert payload["comments"] == []
    assert "COULD NOT RUN" in payload["body"] and "529 overloaded" in payload["body"]
    assert markers(payload["body"]) == [could_not_run_report().findings[0].fingerprint]


def test_a_long_finding_is_clipped_under_githubs_limit() -> None:
    payload = to_github_review(failing_report())
    (long_comment,) = [c for c in payload["comments"] if c["path"] == "docs/with space.md"]
    assert len(long_comment["body"]) <= MAX_COMMENT_CHARS
    assert "more characters" in long_comment["body"] and long_comment["body"].endswith("-->")


def test_a_comment_that_escaping_makes_too_long_is_cut_cleanly() -> None:
    noisy = model_finding("spec", "src/app.py", 5, "<&>" * 25_000, fix="&" * 29_000)
    (comment,) = to_github_review(replace(passing_report(), findings=[noisy]))["comments"]
    body = comment["body"]
    assert len(body) <= MAX_COMMENT_CHARS and "truncated" in body
    assert markers(body) == [noisy.fingerprint] and body.endswith(f"<!-- harness:fp={noisy.fingerprint} -->")
    cut = body[: body.index("… (truncated")]
    assert re.search(r"&[a-z]*$", cut) is None  # not inside an entity


def test_a_huge_summary_keeps_its_marker_and_footer() -> None:
    many = [model_finding("standards", f"src/m{i}.py", i + 1, f"problem {i} " + "&<" * 3_000) for i in range(60)]
    report = replace(failing_report(), findings=many, commentable={})
    body = to_github_review(report)["body"]
    assert len(body) <= MAX_COMMENT_CHARS
    assert body.startswith(SUMMARY_MARKER) and "truncated" in body
    assert body.rstrip().endswith("(fail level: blocker)")
    assert body.count("<!--") == body.count("-->")  # no half marker hides the rest


def test_fingerprints_are_stable_across_renders_and_distinct_across_findings() -> None:
    first, second = failing_report(), failing_report()
    sarif_fps = [
        [r["partialFingerprints"]["harnessFinding/v1"] for r in to_sarif(report)["runs"][0]["results"]]
        for report in (first, second)
    ]
    assert sarif_fps[0] == sarif_fps[1] and len(set(sarif_fps[0])) == len(sarif_fps[0])
    github_fps = [
        markers(json.dumps(to_github_review(report), ensure_ascii=False).replace("\\n", "\n"))
        for report in (first, second)
    ]
    assert github_fps[0] == github_fps[1]
    assert sorted(github_fps[0]) == sorted(f.fingerprint for f in first.findings)
    assert render(first, "github") == render(second, "github")


# ----------------------------------------------------------------------------------------------------
# markdown


def cells(row: str) -> list[str]:
    """A GFM table row split on its unescaped pipes."""
    out, current, backslashes = [], "", 0
    for char in row.strip()[1:-1]:
        if char == "|" and backslashes % 2 == 0:
            out.append(current)
            current = ""
        else:
            current += char
        backslashes = backslashes + 1 if char == "\\" else 0
    out.append(current)
    return out


def test_markdown_escapes_untrusted_text() -> None:
    md = render_markdown(failing_report())
    assert "<script>" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "<b>" not in md and "\\`rm -rf\\`" in md and "\\*bold\\*" in md
    assert "@octocat" not in md and "@\u200boctocat" in md
    assert "deadbeef" not in markers(md)
    assert LONG not in md and "more characters" in md
    tables: list[list[str]] = []
    for line in md.splitlines():
        if line.startswith("|"):
            tables.append(cells(line))
        elif tables:
            assert len({len(row) for row in tables}) == 1, tables  # no pipe or newline broke a row
            tables = []


def test_markdown_keeps_spec_standards_and_guards_apart() -> None:
    md = render_markdown(failing_report())
    assert md.startswith("## harness review: FAIL\n")
    assert "Criteria met: 1/2" in md and "| id | status | behaviour | evidence |" in md
    spec, standards, guards = (md.index(f"### {title}\n") for title in ("Spec", "Standards", "Guards"))
    assert spec < standards < guards
    assert "edge hyphens are kept" in md[spec:standards] and "helper nobody calls" in md[standards:guards]
    assert "skip-added" in md[guards:] and "Allowed by the contract: the issue narrows" in md[guards:]
    assert "| blocker, blocks | HG004 skip-added | `tests/test_app.py:7` |" in md
    assert "blocker, allowed" in md
    assert "Cost: \\$0.0123" in md and "Exit code 1: fail" in md


def test_markdown_banners() -> None:
    md = render_markdown(could_not_run_report())
    assert md.startswith("## harness review: COULD NOT RUN\n")
    assert "> [!WARNING]" in md and "could not run" in md and "529 overloaded" in md
    assert "test-file-removed" in md and "Exit code 3" in md
    summary = render_markdown(summary_report())
    assert "> [!NOTE]" in summary and "Summary review" in summary and "over --max-diff-lines 3000" in summary
    assert "No findings." in summary and "Criteria met" not in summary and "no acceptance criteria" in summary


# ----------------------------------------------------------------------------------------------------
# text


def test_text_has_the_key_lines() -> None:
    text = render_text(failing_report())
    assert text.startswith("harness review: FAIL\n")
    assert "criteria met 1/2" in text and "UNMET" in text and "C2" in text
    assert "spec: the agreed contract .harness/contracts/001.md" in text
    assert "spec findings: 3" in text and "standards findings: 4" in text and "guard findings: 2" in text
    assert "blocker, blocks" in text and "src/app.py:12" in text and "fix: do it properly" in text
    assert "HG003 assertions-weakened" in text and "allowed by the contract: the issue narrows" in text
    assert "the reviewer said pass; the harness says fail" in text
    assert "cost: $0.0123; tokens: input 12,000, output 800" in text
    assert text.rstrip().endswith(
        "exit 1: fail: the verdict is fail, or a finding reaches the fail level (fail level: blocker)"
    )


def test_text_of_other_reports() -> None:
    could_not = render_text(could_not_run_report())
    assert could_not.startswith("harness review: COULD NOT RUN\n") and "could not run: the model API" in could_not
    assert "cost: unknown" in could_not and "exit 3: could not complete" in could_not
    summary = render_text(summary_report())
    assert "note: summary review: the diff was too large" in summary and "criteria met" not in summary
    passing = render_text(passing_report())
    assert passing.startswith("harness review: PASS\n") and "exit 0: pass" in passing


def test_text_shows_control_characters_instead_of_obeying_them() -> None:
    evil = model_finding("standards", "src/app.py", 3, "\x1b[2J\x1b[31mred\u202egnp.exe\rover")
    text = render_text(replace(passing_report(), findings=[evil]))
    assert "\x1b" not in text and "\u202e" not in text and "\r" not in text
    assert "[U+001B][31mred[U+202E]gnp.exe" in text


# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_dispatches_every_format(fmt: str) -> None:
    out = render(failing_report(), fmt)
    assert isinstance(out, str) and out
    if fmt in ("json", "sarif", "github"):
        json.loads(out)


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(UsageError):
        render(failing_report(), "html")
