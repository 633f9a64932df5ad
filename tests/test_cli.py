"""The command line as a user meets it: bad input, init, help, demo."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import git
import pytest
import script as s

from harness.fakeapi import FakeMessagesAPI


def snapshot(repo: Path) -> dict[str, Any]:
    """Everything a failed command must leave as it was: files, branches, worktrees, index."""
    files = {
        str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }
    g = git.Repo(repo)
    return {
        "files": files,
        "heads": {h.name: h.commit.hexsha for h in g.heads},
        "worktrees": g.git.worktree("list"),
        "status": g.git.status("--porcelain"),
    }


def write_issue(project: Path, name: str, text: str) -> Path:
    path = project / ".harness" / "issues" / name
    path.write_text(text, encoding="utf-8")
    g = git.Repo(project)
    g.git.add("-A")
    g.git.execute(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", f"add {name}"])
    return path


def assert_usage_error(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert "fix:" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_issue_id(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    before = snapshot(project)
    result = harness("run", "042", "--repo", str(project))
    assert_usage_error(result, "no issue '042'", "known ids: 001")
    assert snapshot(project) == before and api.requests == []


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (
            '---\nid: "002"\ntitle: [unclosed\n---\n- [ ] works\n',
            ["002-broken.md:4", "invalid YAML", "starts at line 3"],
        ),
        ('---\nid: "002"\n---\n- [ ] works\n', ["002-broken.md", "`title` is required"]),
        ('---\nid: "002"\ntitle: No criteria\n---\nJust prose.\n', ["002-broken.md", "no acceptance criteria"]),
        ('---\nid: "002"\ntitle: T\nstatus: finished\n---\n- [ ] x\n', ["002-broken.md", "`status`"]),
        ('---\nid: "002"\ntitle: T\n- [ ] x\n', ["002-broken.md:1", "never closed"]),
    ],
    ids=["bad-yaml", "no-title", "no-criteria", "bad-status", "unclosed"],
)
def test_malformed_issue_file(harness: Any, project: Path, api: FakeMessagesAPI, text: str, needles: list[str]) -> None:
    path = write_issue(project, "002-broken.md", text)
    before = snapshot(project)
    result = harness("run", "002", "--repo", str(project))
    assert_usage_error(result, *needles)
    assert snapshot(project) == before and path.read_text() == text and api.requests == []


def test_not_a_git_repo(harness: Any, tmp_path: Path, api: FakeMessagesAPI) -> None:
    result = harness("run", "001", "--repo", str(tmp_path))
    assert_usage_error(result, "is not inside a git repository")
    assert list(tmp_path.iterdir()) == []


def test_existing_branch_with_unrelated_work(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    g = git.Repo(project)
    g.git.checkout("-b", "harness/001-slugify")
    (project / "mine.txt").write_text("my own work\n")
    g.git.add("-A")
    g.git.execute(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "my experiment"])
    g.git.checkout("-")
    before = snapshot(project)
    result = harness("run", "001", "--repo", str(project))
    assert_usage_error(result, "harness/001-slugify already exists", "unrelated work", "my experiment")
    assert snapshot(project) == before and api.requests == []


def test_missing_api_key(harness: Any, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    before = snapshot(project)
    result = harness("run", "001", "--repo", str(project))
    assert_usage_error(result, "ANTHROPIC_API_KEY is not set", "harness demo")
    assert snapshot(project) == before


def test_invalid_configuration(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    (project / "harness.toml").write_text("[limits]\nred_atempts = 5\n")
    result = harness("run", "001", "--repo", str(project))
    assert_usage_error(result, "harness.toml", "limits.red_atempts", "not a known field")


def test_hand_written_issue_needs_only_id_title_and_criteria(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    write_issue(project, "002-tiny-slug.md", '---\nid: "002"\ntitle: Tiny slugs\n---\n\n- [ ] slugify works\n')
    api.add(*s.happy_path())
    result = harness("run", "2", "--repo", str(project), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["issue"] == "002" and doc["branch"] == "harness/002-tiny-slug"


def test_init_works_in_a_brand_new_repository_without_commits(harness: Any, tmp_path: Path) -> None:
    repo = tmp_path / "new"
    git.Repo.init(repo)
    result = harness("init", "--repo", str(repo), "--json")
    assert result.exit_code == 0, result.output
    assert (repo / "harness.toml").is_file() and (repo / ".harness" / "issues").is_dir()
    run = harness("run", "001", "--repo", str(repo))  # a run branches from HEAD: that still needs a commit
    assert run.exit_code == 2 and "no commits yet" in run.output


def test_init_creates_config_and_never_overwrites(harness: Any, tmp_path: Path) -> None:
    repo = tmp_path / "r"
    g = git.Repo.init(repo)
    (repo / ".gitignore").write_text("*.pyc")  # no trailing newline
    g.git.add("-A")
    g.git.execute(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"])

    result = harness("init", "--repo", str(repo), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "wrote harness.toml" in report["actions"]
    assert (repo / ".harness" / "issues").is_dir() and (repo / ".harness" / "contracts").is_dir()
    ignore = (repo / ".gitignore").read_text().splitlines()
    assert ignore[0] == "*.pyc" and {".harness/runs/", ".harness/state/", ".harness/worktrees/"} <= set(ignore)

    (repo / "harness.toml").write_text('test_command = ["make", "test"]\n')
    again = json.loads(harness("init", "--repo", str(repo), "--json").stdout)
    assert (repo / "harness.toml").read_text() == 'test_command = ["make", "test"]\n'
    assert again["test_command"] == ["make", "test"]
    assert (repo / ".gitignore").read_text().count(".harness/runs/") == 1


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from harness.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('anthropic', 'git', 'dbos', 'pydantic', 'yaml') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and "run" in out and "demo" in out


def test_demo_runs_offline_red_then_green(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("ANTHROPIC_")}
    keep = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "demo", "--keep", str(keep)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stderr
    assert out.index("RED verified") < out.index("GREEN verified") < out.index("verdict: pass")
    # The harness's own checks of done, between green and the verdict.
    assert out.index("GREEN verified") < out.index("oracle check: 4 contract test(s) fail") < out.index("verdict:")
    assert "mutation check: " in out and "probes: 2 ran, 0 failed" in out
    assert "replay problem" not in out
    branch = git.Repo(keep).heads["harness/001-slugify"]
    assert [c.summary.split(":")[0] for c in branch.commit.iter_parents()][:2] == ["red", "contract"]


def test_published_schemas_match_the_models(tmp_path: Path) -> None:
    from harness.artifacts import export_schemas

    published = Path(__file__).resolve().parent.parent / "contracts"
    for path in export_schemas(tmp_path):
        assert (published / path.name).read_text() == path.read_text(), f"contracts/{path.name} is stale"


def test_documented_examples_are_valid() -> None:
    from harness.artifacts import Verdict, load_contract, load_issue

    examples = Path(__file__).resolve().parent.parent / "contracts" / "examples"
    assert load_issue(examples / "001-slugify.md").id == "001"
    assert load_contract(examples / "contract.md").status == "agreed"
    Verdict.model_validate_json((examples / "verdict.json").read_text())


def test_restart_discards_an_earlier_harness_run_only(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    api.add(*[s.chatter("propose_contract") for _ in range(3)])
    assert harness("run", "001", "--repo", str(project)).exit_code == 3  # leaves its branch behind
    again = harness("run", "001", "--repo", str(project))
    assert_usage_error(again, "from an earlier harness run", "--restart")
    api.add(*s.happy_path())
    restarted = harness("run", "001", "--repo", str(project), "--restart", "--json")
    assert restarted.exit_code == 0, restarted.output
    assert json.loads(restarted.stdout)["outcome"] == "pass"


def test_restart_never_discards_other_work(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    g = git.Repo(project)
    g.git.checkout("-b", "harness/001-slugify")
    (project / "mine.txt").write_text("mine\n")
    g.git.add("-A")
    g.git.execute(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "my experiment"])
    g.git.checkout("-")
    before = snapshot(project)
    result = harness("run", "001", "--repo", str(project), "--restart")
    assert_usage_error(result, "unrelated work", "--restart only discards")
    assert snapshot(project) == before
