"""A command line that answers fast: input checked before the SDK loads, `--version` and `-h`, help that shows
which options take a value, and model API retries shown as they happen."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import planscript as p
import pytest
import typer

from harness import __version__
from harness.cli import app
from harness.fakeapi import FakeMessagesAPI, error
from harness.review.model import ReviewReport

HEAVY = ("anthropic", "dbos")


def run_main(*args: str, cwd: Path | None = None) -> dict[str, Any]:
    """The console script (harness.cli.main) in a fresh interpreter: exit status, output, and which of the
    heavy modules it loaded."""
    code = f"""
import json, sys
from harness.cli import main
sys.argv = ["harness", *{list(args)!r}]
try:
    main()
except SystemExit as exc:
    status = exc.code
print(json.dumps({{"status": status, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}), file=sys.stderr)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=cwd)
    *stderr, last = proc.stderr.strip().splitlines()
    return {**json.loads(last), "stdout": proc.stdout, "stderr": "\n".join(stderr)}


# --------------------------------------------------------------------------- input checked before the SDK


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        (["prd", "nosuch"], "no interview transcript 'nosuch'"),
        (["slice", "nosuch"], "no PRD 'nosuch'"),
        (["grill", "--resume", "nosuch", "--answers", "answers.yaml"], "no interview transcript 'nosuch'"),
        (["run", "999"], "no issue '999'"),
    ],
)
def test_an_unknown_name_is_refused_before_the_sdk_loads(project: Path, command: list[str], needle: str) -> None:
    (project.parent / "answers.yaml").write_text("- /all\n", encoding="utf-8")

    result = run_main(*command, "--repo", str(project), cwd=project.parent)

    assert result["status"] == 2, result
    assert needle in result["stderr"] and "fix:" in result["stderr"], result["stderr"]
    assert "Traceback" not in result["stderr"]
    assert result["loaded"] == []


def test_a_stored_review_is_rendered_without_the_sdk(tmp_path: Path) -> None:
    stored = tmp_path / "review.json"
    report = ReviewReport(base="a" * 40, head="b" * 40, spec_source="none", verdict="pass", model_verdict="pass")
    stored.write_text(json.dumps(report.to_dict()), encoding="utf-8")

    result = run_main("review", "--from", str(stored), "--format", "text", cwd=tmp_path)

    assert result["status"] == 0, result
    assert "harness review" in result["stdout"] and "aaaaaaaaaaaa..bbbbbbbbbbbb" in result["stdout"]
    assert result["loaded"] == []


# --------------------------------------------------------------------------- --version and -h


def test_version_prints_the_version_and_loads_nothing_heavy() -> None:
    result = run_main("--version")

    assert result["status"] == 0 and result["stdout"] == f"harness {__version__}\n", result
    assert result["loaded"] == []


def commands() -> list[str]:
    group: Any = typer.main.get_command(app)
    return sorted(group.commands)


@pytest.mark.parametrize("command", [[], *([name] for name in commands())])
def test_dash_h_is_help_on_the_app_and_every_command(harness: Any, command: list[str]) -> None:
    short = harness(*command, "-h")
    long = harness(*command, "--help")

    assert short.exit_code == 0, short.output
    assert short.stdout == long.stdout and "Usage: harness" in short.stdout
    assert re.search(r"--help\s+-h\s+Show this message and exit", short.stdout), short.stdout


# --------------------------------------------------------------------------- what --help shows


@pytest.mark.parametrize("command", ["review", "afk", "run"])
def test_flags_show_no_value_in_help(harness: Any, command: str) -> None:
    shown = harness(command, "--help").stdout

    assert "<bool>" not in shown and "<list[" not in shown, shown
    assert re.search(r"--json\s+Print one JSON document|--post\s+Post a GitHub review|--yes\s+Never ask", shown)


def test_list_options_name_their_value_and_say_they_repeat(harness: Any) -> None:
    shown = harness("review", "--help").stdout

    for option in ("--include", "--exclude"):
        assert re.search(rf"{option}\s+GLOB\s+\S", shown), shown
    assert shown.count("(repeatable)") == 2, shown


# --------------------------------------------------------------------------- retries shown on stderr


def test_each_retry_is_shown_with_what_failed_the_try_and_when(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    with (project / "harness.toml").open("a", encoding="utf-8") as config:
        config.write("max_retries = 2\n")
    api.add(error(529, message="Overloaded"), error(503), p.ask(1), p.finish())
    answers = tmp_path / "answers.yaml"
    answers.write_text(json.dumps([""]), encoding="utf-8")

    result = harness("grill", p.IDEA, "--answers", str(answers), "--repo", str(project))

    assert "Traceback" not in result.output
    assert p.QUESTIONS[0][0] in result.stderr, result.stderr  # the third try got the interviewer's question
    retries = [line for line in result.stderr.splitlines() if line.startswith("model API:")]
    assert len(retries) == 2, result.stderr
    assert re.fullmatch(
        r"model API: HTTP 529 overloaded_error: Overloaded \(try 1 of 3\); trying again in [0-9.e-]+ s", retries[0]
    ), retries
    assert re.fullmatch(r"model API: HTTP 503 \S+: fake error \(try 2 of 3\); trying again in [0-9.e-]+ s", retries[1])


def test_no_retry_line_after_the_last_try(harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path) -> None:
    with (project / "harness.toml").open("a", encoding="utf-8") as config:
        config.write("max_retries = 1\n")
    api.add(error(529), error(529))
    answers = tmp_path / "answers.yaml"
    answers.write_text(json.dumps([""]), encoding="utf-8")

    result = harness("grill", p.IDEA, "--answers", str(answers), "--repo", str(project))

    assert result.exit_code == 3, result.output
    retries = [line for line in result.stderr.splitlines() if line.startswith("model API:")]
    assert [line.split(";")[0] for line in retries] == ["model API: HTTP 529 overloaded_error: fake error (try 1 of 2)"]
    assert "could not be reached" in result.stderr
