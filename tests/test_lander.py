"""The lander and the git operations the batch relies on: real git repositories built from the example
project, real pytest runs in the lander's worktree, and real SIGKILLs for the kill-safety protocol."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import git
import pytest
from test_workspace import needs_bwrap

from harness import gitops, lander
from harness.errors import UsageError
from harness.lander import LandResult, merge_for_fix, suite_failures
from harness.sandbox import sandbox_for
from harness.testrunner import CollectionError, TestOutcome, TestReport, run_tests

PYTEST = [sys.executable, "-m", "pytest"]
INTEGRATION = "harness/afk-test"
SOURCE = "textkit/__init__.py"


@pytest.fixture
def base(project: Path) -> str:
    """The integration branch, made at the project's only commit."""
    return gitops.ensure_branch(project, INTEGRATION, "HEAD")


def lander_path(project: Path) -> Path:
    return project / ".harness" / "worktrees" / "lander"


def issue(project: Path, name: str, files: dict[str, str], *, start: str | None = None) -> Path:
    """An issue branch ``harness/<name>`` in its own worktree, with one commit writing ``files``."""
    worktree = gitops.create_worktree(
        project, project / ".harness" / "worktrees" / name, f"harness/{name}", start=start
    )
    for rel, text in files.items():
        (worktree.path / rel).parent.mkdir(parents=True, exist_ok=True)
        (worktree.path / rel).write_text(text, encoding="utf-8")
    gitops.commit_all(worktree.path, f"green: {name}")
    return worktree.path


def edited(project: Path, rel: str, old: str, new: str) -> str:
    text = (project / rel).read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new)


def land(project: Path, name: str, *, timeout: float = 120.0) -> LandResult:
    return lander.land(
        project,
        lander_path(project),
        INTEGRATION,
        f"harness/{name}",
        test_command=PYTEST,
        test_timeout=timeout,
        message=f"land: harness/{name}",
        sandbox=sandbox_for("auto", unattended=False),  # bubblewrap wherever this machine has it
    )


def tip(project: Path) -> str:
    return gitops.resolve(project, f"refs/heads/{INTEGRATION}")


def merges_since(project: Path, since: str) -> list[git.Commit]:
    return [c for c in git.Repo(project).iter_commits(f"{since}..{INTEGRATION}") if len(c.parents) == 2]


def is_clean(worktree: Path) -> bool:
    repo = git.Repo(worktree)
    merging = (Path(repo.git_dir) / "MERGE_HEAD").exists()
    return not merging and repo.git.status("--porcelain", "--ignored", "--untracked-files=all") == ""


@pytest.fixture
def suite_runs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The directories the lander ran the suite in (it still runs, for real), and the sandbox it used."""
    seen: list[Path] = []

    def spy(workdir: Path, command: Any, **kwargs: Any) -> TestReport:
        seen.append(Path(workdir).resolve())
        spy.sandboxes.append(kwargs.get("sandbox"))  # type: ignore[attr-defined]
        return run_tests(workdir, command, **kwargs)

    spy.sandboxes = []  # type: ignore[attr-defined]
    monkeypatch.setattr(lander, "run_tests", spy)
    return seen


SHOUT = {
    "textkit/shout.py": 'def shout(text: str) -> str:\n    return text.upper() + "!"\n',
    "tests/test_shout.py": "from textkit.shout import shout\n\n\ndef test_shout():\n    assert shout('hi') == 'HI!'\n",
}


# --- landing ---


def test_landing_a_clean_branch_moves_the_integration_branch_to_the_tested_merge(
    project: Path, base: str, suite_runs: list[Path]
) -> None:
    worktree = issue(project, "001-shout", SHOUT)
    user_head = git.Repo(project).head.commit.hexsha

    result = land(project, "001-shout")

    assert result.outcome == "landed", result.detail
    assert result.sha == tip(project) != base
    merge = git.Repo(project).commit(result.sha)
    assert [p.hexsha for p in merge.parents] == [base, gitops.head(worktree)]
    assert merge.message.strip() == "land: harness/001-shout"
    # The suite ran on a clean export of the merge commit, not in the lander worktree.
    assert len(suite_runs) == 1 and suite_runs[0].name == "tree"
    assert suite_runs[0].parent.name.startswith("harness-verify-")
    assert not suite_runs[0].exists()  # removed afterwards
    assert (result.conflicts, result.failures) == ([], [])
    assert "passed" in result.detail
    # The lander worktree is left on the integration branch, clean; the user's checkout is untouched.
    assert gitops.current_branch(lander_path(project)) == INTEGRATION
    assert is_clean(lander_path(project))
    assert git.Repo(project).head.commit.hexsha == user_head
    assert git.Repo(project).active_branch.name != INTEGRATION


def test_landing_again_changes_nothing(project: Path, base: str, suite_runs: list[Path]) -> None:
    issue(project, "001-shout", SHOUT)
    first = land(project, "001-shout")

    again = land(project, "001-shout")

    assert again.outcome == "landed"
    assert again.sha == first.sha == tip(project)
    assert len(merges_since(project, base)) == 1
    assert len(suite_runs) == 1  # already part of the branch: nothing to merge or test


def test_a_conflict_leaves_the_integration_branch_alone(project: Path, base: str) -> None:
    docstring = '"""Number of whitespace-separated words in ``text``."""'
    issue(project, "001-a", {SOURCE: edited(project, SOURCE, docstring, '"""How many words ``text`` holds."""')})
    issue(project, "002-b", {SOURCE: edited(project, SOURCE, docstring, '"""Count the words in ``text``."""')})
    landed = land(project, "001-a")

    result = land(project, "002-b")

    assert result.outcome == "conflict"
    assert result.conflicts == [SOURCE]
    assert result.sha == tip(project) == landed.sha
    assert SOURCE in result.detail and "merge harness/afk-test into harness/002-b" in result.detail
    assert gitops.current_branch(lander_path(project)) == INTEGRATION
    assert is_clean(lander_path(project))


def test_two_branches_green_alone_but_red_together_are_not_landed(project: Path, base: str) -> None:
    dotted = edited(project, SOURCE, '"".join(part[0].upper()', '"".join(part[0].upper() + "."')
    first = issue(
        project,
        "001-dotted",
        {SOURCE: dotted, "tests/test_words.py": edited(project, "tests/test_words.py", '== "AL"', '== "A.L."')},
    )
    old_behaviour = 'from textkit import initials\n\n\ndef test_single_name():\n    assert initials("ada") == "A"\n'
    second = issue(project, "002-single", {"tests/test_single.py": old_behaviour})
    for worktree in (first, second):
        report = run_tests(worktree, PYTEST, timeout=120)
        assert report.exit_code == 0 and not report.failed() and report.passed(), report.output_tail
    landed = land(project, "001-dotted")

    result = land(project, "002-single")

    assert result.outcome == "red"
    assert result.failures == ["tests/test_single.py::test_single_name"]
    assert result.sha == tip(project) == landed.sha
    assert "tests/test_single.py::test_single_name" in result.detail and "'A.'" in result.detail
    assert gitops.current_branch(lander_path(project)) == INTEGRATION
    assert is_clean(lander_path(project))


@needs_bwrap
def test_the_lander_suite_runs_merged_code_in_the_sandbox(
    project: Path, base: str, tmp_path: Path
) -> None:
    """The merged test code is agent-written: it cannot write outside or see $HOME."""
    outside = tmp_path / "outside-sentinel"
    home_marker = Path.home() / ".harness-lander-marker"
    home_marker.write_text("secret-marker", encoding="utf-8")
    try:
        hostile = (
            "from pathlib import Path\n\n\ndef test_escape():\n"
            f"    for target in ({str(outside)!r}, {str(project / 'planted')!r}):\n"
            "        try:\n            Path(target).write_text('x')\n        except OSError:\n            pass\n"
            f"    assert not Path({str(home_marker)!r}).exists()\n"
        )
        issue(project, "001-hostile", {"tests/test_hostile.py": hostile})
        result = land(project, "001-hostile")
    finally:
        home_marker.unlink()

    assert result.outcome == "landed", result.detail
    assert not outside.exists() and not (project / "planted").exists()


def test_a_suite_that_cannot_collect_is_red(project: Path, base: str) -> None:
    issue(project, "001-broken", {"tests/test_broken.py": "import textkit.missing\n\n\ndef test_x():\n    pass\n"})

    result = land(project, "001-broken")

    assert result.outcome == "red"
    assert result.failures == ["collection error in tests/test_broken.py"]
    assert result.sha == tip(project) == base
    assert "textkit.missing" in result.detail


def test_a_suite_that_dies_without_reporting_is_red(project: Path, base: str) -> None:
    issue(project, "001-exit", {"conftest.py": "import os\n\nos._exit(3)\n"})

    result = land(project, "001-exit")

    assert result.outcome == "red"
    assert result.failures == ["the suite could not run: pytest exited with code 3 and reported no results"]
    assert result.sha == tip(project) == base


# --- kill-safety: a real SIGKILL in a child process, then the retry in this one ---

KILLED_LANDING = """
import os, signal, sys
from pathlib import Path
from harness import lander

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

setattr(lander, sys.argv[1], killed)
project = Path(sys.argv[2])
lander.land(project, Path(sys.argv[3]), sys.argv[4], sys.argv[5], test_command=[sys.executable, "-m", "pytest"],
            test_timeout=120, message="land: " + sys.argv[5], sandbox=None)
"""


@pytest.mark.parametrize(
    ("killed_at", "moved"),
    [("run_tests", False), ("_settle", True)],
    ids=["after-the-merge-commit-before-the-suite", "after-the-ref-update-before-re-attaching"],
)
def test_a_landing_killed_midway_converges_on_retry(
    project: Path, base: str, killed_at: str, moved: bool, suite_runs: list[Path]
) -> None:
    issue(project, "001-shout", SHOUT)
    argv = [killed_at, str(project), str(lander_path(project)), INTEGRATION, "harness/001-shout"]

    child = subprocess.run([sys.executable, "-c", KILLED_LANDING, *argv], capture_output=True, text=True, timeout=120)

    assert child.returncode == -9, child.stderr
    # The kill came after the merge commit was made, on a detached HEAD in the lander worktree.
    assert gitops.current_branch(lander_path(project)) is None
    assert len(git.Repo(lander_path(project)).head.commit.parents) == 2
    assert (tip(project) != base) is moved

    result = land(project, "001-shout")

    assert result.outcome == "landed"
    assert result.sha == tip(project)
    assert len(merges_since(project, base)) == 1
    assert len(suite_runs) == (0 if moved else 1)
    assert gitops.current_branch(lander_path(project)) == INTEGRATION
    assert is_clean(lander_path(project))


# --- sending an issue back to its generator ---


def test_merge_for_fix_commits_a_clean_merge_of_the_integration_branch(project: Path, base: str) -> None:
    issue(project, "001-shout", SHOUT)
    land(project, "001-shout")
    docstring = edited(project, SOURCE, '"""Small text utilities."""', '"""Small text utilities, tested."""')
    worktree = issue(project, "002-doc", {SOURCE: docstring})
    before = gitops.head(worktree)

    assert merge_for_fix(worktree, INTEGRATION) == []

    merge = git.Repo(worktree).head.commit
    assert [p.hexsha for p in merge.parents] == [before, tip(project)]
    assert merge.message.strip() == "merge: integration branch harness/afk-test into harness/002-doc"
    assert is_clean(worktree)
    assert merge_for_fix(worktree, INTEGRATION) == []  # already merged: no second commit
    assert gitops.head(worktree) == merge.hexsha


def test_merge_for_fix_leaves_conflicts_to_resolve_then_the_branch_lands(project: Path, base: str) -> None:
    docstring = '"""Number of whitespace-separated words in ``text``."""'
    issue(project, "001-a", {SOURCE: edited(project, SOURCE, docstring, '"""How many words ``text`` holds."""')})
    worktree = issue(project, "002-b", {SOURCE: edited(project, SOURCE, docstring, '"""Count the words."""')})
    land(project, "001-a")
    assert land(project, "002-b").outcome == "conflict"
    before = gitops.head(worktree)

    assert merge_for_fix(worktree, INTEGRATION) == [SOURCE]
    assert "<<<<<<<" in (worktree / SOURCE).read_text(encoding="utf-8")
    assert gitops.head(worktree) == before  # nothing committed
    assert merge_for_fix(worktree, INTEGRATION) == [SOURCE]  # a repeated call starts the merge over

    # The generator resolves the conflict; committing its work concludes the merge.
    (worktree / SOURCE).write_text(edited(project, SOURCE, docstring, '"""Count the words in ``text``."""'))
    gitops.commit_all(worktree, "green: resolve the conflict with harness/afk-test")
    assert len(git.Repo(worktree).head.commit.parents) == 2

    result = land(project, "002-b")
    assert result.outcome == "landed", result.detail
    assert "Count the words in" in git.Repo(project).commit(result.sha).tree[SOURCE].data_stream.read().decode()


def test_merge_for_fix_refuses_a_detached_worktree(project: Path, base: str) -> None:
    worktree = issue(project, "001-shout", SHOUT)
    gitops.checkout(worktree, "HEAD", detach=True)

    with pytest.raises(UsageError, match="detached HEAD"):
        merge_for_fix(worktree, INTEGRATION)


# --- the git operations underneath ---


def test_reset_worktree_leaves_nothing_of_a_killed_attempt(project: Path, base: str) -> None:
    issue(project, "001-a", {SOURCE: "VERSION = 'a'\n"})
    worktree = issue(project, "002-b", {SOURCE: "VERSION = 'b'\n"})
    sha = gitops.head(worktree)
    assert gitops.merge(worktree, "harness/001-a", "merge: half done") == [SOURCE]
    (worktree / "notes.txt").write_text("half-written")
    (worktree / "__pycache__").mkdir()
    (worktree / "__pycache__" / "x.pyc").write_bytes(b"ignored")
    (worktree / "tests" / "test_words.py").write_text("garbage")
    (Path(git.Repo(worktree).git_dir) / "index.lock").write_text("")  # a git killed mid-command

    gitops.reset_worktree(worktree, sha)

    assert is_clean(worktree)
    assert gitops.head(worktree) == sha
    assert not (worktree / "notes.txt").exists() and not (worktree / "__pycache__").exists()
    assert (worktree / SOURCE).read_text() == "VERSION = 'b'\n"


def test_ensure_branch_makes_the_branch_once(project: Path) -> None:
    first = gitops.ensure_branch(project, INTEGRATION, "HEAD")
    issue(project, "001-shout", SHOUT)

    assert gitops.ensure_branch(project, INTEGRATION, "harness/001-shout") == first  # left where it is
    assert first == git.Repo(project).head.commit.hexsha


def test_ensure_branch_refuses_the_users_current_branch(project: Path) -> None:
    current = git.Repo(project).active_branch.name

    with pytest.raises(UsageError, match="checked out in") as caught:
        gitops.ensure_branch(project, current, "HEAD")

    assert caught.value.exit_code == 2 and caught.value.hint


def test_is_ancestor(project: Path, base: str) -> None:
    issue(project, "001-shout", SHOUT)

    assert gitops.is_ancestor(project, INTEGRATION, "harness/001-shout")
    assert not gitops.is_ancestor(project, "harness/001-shout", INTEGRATION)
    with pytest.raises(UsageError, match="names no commit"):
        gitops.is_ancestor(project, "harness/nope", INTEGRATION)


def _delete_git_link(path: Path) -> None:
    (path / ".git").unlink()


def _replace_with_junk(path: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=path.parent, check=True)
    path.mkdir()
    (path / "junk.txt").write_text("not a worktree")


def _detach(path: Path) -> None:
    gitops.checkout(path, "HEAD", detach=True)


def _remove_directory(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


@pytest.mark.parametrize("breakage", [_delete_git_link, _replace_with_junk, _detach, _remove_directory])
def test_ensure_worktree_recreates_a_broken_one(project: Path, base: str, breakage: Callable[[Path], None]) -> None:
    path = gitops.ensure_worktree(project, lander_path(project), INTEGRATION)
    (path / "marker.txt").write_text("reused")
    assert gitops.ensure_worktree(project, lander_path(project), INTEGRATION) == path
    assert (path / "marker.txt").exists()  # a good worktree is reused as it is

    breakage(path)
    again = gitops.ensure_worktree(project, lander_path(project), INTEGRATION)

    assert again == path
    assert gitops.current_branch(path) == INTEGRATION
    assert gitops.head(path) == base
    assert is_clean(path)
    assert [w for w in git.Repo(project).git.worktree("list").splitlines() if str(path) in w]


def test_ensure_worktree_refuses_the_users_checkout(project: Path, base: str) -> None:
    with pytest.raises(UsageError, match="your checkout"):
        gitops.ensure_worktree(project, project, INTEGRATION)
    assert (project / "textkit").is_dir()


def test_create_worktree_can_start_from_another_commit(project: Path, base: str) -> None:
    issue(project, "001-shout", SHOUT)
    landed = land(project, "001-shout")

    worktree = gitops.create_worktree(
        project, project / ".harness" / "worktrees" / "002", "harness/002", start=INTEGRATION
    )

    assert worktree.base == landed.sha == gitops.head(worktree.path)
    assert (worktree.path / "textkit" / "shout.py").exists()


# --- what counts as a clean pass (plain data) ---


def report(**overrides: Any) -> TestReport:
    values: dict[str, Any] = {
        "outcomes": {
            "tests/test_a.py::test_ok": TestOutcome("tests/test_a.py::test_ok", "passed", "call", None, "", 0.1)
        },
        "collection_errors": (),
        "collected": 1,
        "exit_code": 0,
        "timed_out": False,
        "duration": 1.0,
        "output_tail": "",
    }
    return TestReport(**{**values, **overrides})


def test_suite_failures_is_empty_only_for_a_clean_pass() -> None:
    failing = TestOutcome("tests/test_a.py::test_bad", "error", "setup", "RuntimeError", "boom", 0.1)
    assert suite_failures(report(), 60) == []
    assert suite_failures(report(outcomes={failing.nodeid: failing}, exit_code=1), 60) == [failing.nodeid]
    assert suite_failures(report(timed_out=True, ran=False, exit_code=-9), 60) == [
        "the suite did not finish within 60s"
    ]
    assert suite_failures(report(outcomes={}, collected=0, exit_code=5), 60) == ["no tests were collected"]
    assert suite_failures(report(exit_code=3), 60) == ["pytest exited with code 3"]
    broken = CollectionError("tests/test_b.py", "ImportError", "no module")
    assert suite_failures(report(collection_errors=(broken,), exit_code=1), 60) == [
        "collection error in tests/test_b.py"
    ]
