"""`harness guard` (SPEC §4, §7) on real git repositories: the diff collection, the command, the
contract it reads, its start-up imports, and the pre-commit hook."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from harness.cli import app
from harness.digest import contract_digest
from harness.errors import UsageError
from harness.guard.gitdiff import collect_changes, default_base, resolve
from harness.settings import DEFAULT_HARNESS_DIR, DEFAULT_PROTECTED_PATHS, guard_settings

TEST_FILE = "import pytest\n\nfrom calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
HONEST = TEST_FILE + "    assert add(2, 2) == 4\n"
CHEAT = TEST_FILE.replace("def test_add", "@pytest.mark.skip(reason='later')\ndef test_add")
CALC = "def add(a, b):\n    return a + b\n"


@pytest.fixture(autouse=True)
def hermetic_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """Throwaway repos: no user or system git config, a fixed identity, no inherited repository."""
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def write(repo: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def commit(repo: Path, message: str = "change") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def make_repo(path: Path, files: dict[str, str | bytes] | None = None) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    write(path, files if files is not None else {"calc.py": CALC, "tests/test_calc.py": TEST_FILE})
    commit(path, "initial")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def guard(*args: str) -> Result:
    return CliRunner().invoke(app, ["guard", *args], catch_exceptions=False)


def guard_json(*args: str) -> tuple[int, dict]:
    result = guard(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def contract_text(*, allow: list[dict[str, str]] | None = None, frozen: dict[str, str] | None = None) -> str:
    meta = {
        "issue": "001",
        "status": "agreed",
        "round": "1",
        "criteria": [{"id": "C1", "behaviour": "adds", "test": "tests/test_calc.py::test_add"}],
        "out_of_scope": [],
        "allow": allow or [],
        "frozen_tests": frozen or {},
    }
    meta["sha256"] = contract_digest(meta)
    return "---\n" + json.dumps(meta, indent=2) + "\n---\n# Done-contract for issue 001\n"  # JSON is YAML


# --------------------------------------------------------------------------- collect_changes


def test_a_committed_range_yields_every_kind_of_change_with_its_texts(tmp_path):
    big = "".join(f"line_{i} = {i}\n" for i in range(200))
    repo = make_repo(
        tmp_path / "repo",
        {
            "calc.py": CALC,
            "old.txt": "bye\n",
            "big.py": big,
            "image.bin": b"\x89PNG\0\0data",
            "latin.txt": b"caf\xe9\n",
        },
    )
    base = git(repo, "rev-parse", "HEAD").strip()
    write(repo, {"calc.py": CALC + "\n\ndef sub(a, b):\n    return a - b\n", "new.py": "X = 1\n"})
    write(repo, {"image.bin": b"\x89PNG\0\0other", "latin.txt": b"caf\xe9s\n"})
    (repo / "old.txt").unlink()
    git(repo, "mv", "big.py", "moved.py")
    write(repo, {"moved.py": big + "extra = 1\n"})
    head = commit(repo)

    changes = {c.path: c for c in collect_changes(repo, base, head)}

    assert set(changes) == {"calc.py", "new.py", "old.txt", "moved.py", "image.bin", "latin.txt"}
    assert changes["calc.py"].status == "modified"
    assert changes["calc.py"].old_text == CALC
    assert (changes["calc.py"].new_text or "").endswith("return a - b\n")
    assert (changes["new.py"].status, changes["new.py"].old_text, changes["new.py"].new_text) == (
        "added",
        None,
        "X = 1\n",
    )
    assert (changes["old.txt"].status, changes["old.txt"].old_text, changes["old.txt"].new_text) == (
        "deleted",
        "bye\n",
        None,
    )
    moved = changes["moved.py"]
    assert (moved.status, moved.old_path, moved.old_text, moved.new_text) == (
        "renamed",
        "big.py",
        big,
        big + "extra = 1\n",
    )
    assert changes["image.bin"].status == "modified"
    assert changes["image.bin"].old_text is None and changes["image.bin"].new_text is None
    assert changes["latin.txt"].old_text is None and changes["latin.txt"].new_text is None  # not UTF-8


def test_the_working_tree_includes_staged_unstaged_and_untracked_files_but_not_ignored_ones(repo):
    write(repo, {".gitignore": "*.log\n", "debug.log": "noise\n"})
    commit(repo, "ignore logs")
    write(repo, {"calc.py": CALC + "# unstaged\n", "staged.py": "S = 1\n", "untracked.py": "U = 1\n"})
    git(repo, "add", "staged.py")
    write(repo, {"debug.log": "more noise\n"})
    (repo / "tests" / "test_calc.py").unlink()

    changes = {c.path: c for c in collect_changes(repo, "HEAD")}

    assert set(changes) == {"calc.py", "staged.py", "untracked.py", "tests/test_calc.py"}
    assert changes["calc.py"].new_text == CALC + "# unstaged\n"
    assert changes["staged.py"].status == "added" and changes["staged.py"].new_text == "S = 1\n"
    assert changes["untracked.py"].status == "added" and changes["untracked.py"].new_text == "U = 1\n"
    assert changes["tests/test_calc.py"].status == "deleted"
    assert changes["tests/test_calc.py"].old_text == TEST_FILE


def test_binary_and_oversized_working_tree_files_have_no_text(repo):
    write(repo, {"blob.bin": b"abc\0def", "huge.py": "x = 1\n" * 200_000})
    changes = {c.path: c for c in collect_changes(repo, "HEAD")}
    assert changes["blob.bin"].new_text is None
    assert changes["huge.py"].new_text is None
    assert changes["huge.py"].status == "added"


def test_an_unchanged_tree_has_no_changes(repo):
    assert collect_changes(repo, "HEAD") == []
    assert collect_changes(repo, "HEAD", "HEAD") == []


def test_the_first_commit_is_checked_against_the_empty_tree(tmp_path):
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, {"tests/test_calc.py": CHEAT})
    git(repo, "add", "-A")
    changes = collect_changes(repo, "HEAD")
    assert [(c.path, c.status, c.new_text) for c in changes] == [("tests/test_calc.py", "added", CHEAT)]
    _code, doc = guard_json("--repo", str(repo), "--base", "HEAD")
    empty_tree = git(repo, "hash-object", "-t", "tree", os.devnull).strip()
    assert (doc["base"], doc["files_changed"]) == (empty_tree, 1)


def test_default_base_is_the_merge_base_on_a_feature_branch_and_head_on_main(repo):
    fork = git(repo, "rev-parse", "HEAD").strip()
    assert default_base(repo) == "HEAD"
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, {"feature.py": "F = 1\n"})
    commit(repo)
    git(repo, "checkout", "-q", "main")
    write(repo, {"later.py": "L = 1\n"})
    commit(repo)
    assert default_base(repo) == "HEAD"
    git(repo, "checkout", "-q", "feature")
    assert default_base(repo) == fork
    git(repo, "checkout", "-q", "main")
    assert default_base(repo, "feature") == fork  # the base follows --head, not the checked-out branch


def test_guard_head_on_another_branch_compares_with_its_fork_point(repo):
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, {"feature.py": "F = 1\n"})
    commit(repo)
    git(repo, "checkout", "-q", "main")
    write(repo, {"tests/test_later.py": "def test_later():\n    assert 2 == 2\n"})
    commit(repo)  # main moves on: against main's tip, feature would "delete" this test file
    code, doc = guard_json("--head", "feature", "--repo", str(repo))
    assert code == 0 and doc["findings"] == [], doc
    assert doc["files_changed"] == 1


def test_default_base_follows_origin_head_in_a_clone(repo, tmp_path):
    fork = git(repo, "rev-parse", "HEAD").strip()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True, capture_output=True)
    git(clone, "checkout", "-q", "-b", "topic")
    write(clone, {"topic.py": "T = 1\n"})
    commit(clone)
    git(clone, "branch", "-q", "-D", "main")  # only origin/main is left
    assert default_base(clone) == fork


def test_without_a_default_branch_the_working_tree_compares_with_head_and_a_head_needs_a_base(tmp_path):
    repo = tmp_path / "trunk"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "trunk")
    write(repo, {"a.py": "A = 1\n"})
    commit(repo)
    assert default_base(repo) is None
    write(repo, {"a.py": "A = 2\n"})
    code, doc = guard_json("--repo", str(repo))
    assert code == 0 and doc["files_changed"] == 1
    result = guard("--head", "HEAD", "--repo", str(repo))
    assert result.exit_code == 2 and "no default branch" in result.output and "--base" in result.output


def test_resolve_names_an_unknown_ref_and_how_to_fix_it(repo):
    assert resolve(repo, "HEAD") == git(repo, "rev-parse", "HEAD").strip()
    with pytest.raises(UsageError) as info:
        resolve(repo, "no-such-branch")
    assert "no-such-branch" in info.value.message
    assert info.value.hint and info.value.exit_code == 2


# --------------------------------------------------------------------------- settings


def test_guard_settings_default_and_read_from_pyproject(tmp_path):
    assert guard_settings(tmp_path) == (DEFAULT_HARNESS_DIR, DEFAULT_PROTECTED_PATHS)
    write(tmp_path, {"pyproject.toml": '[tool.harness]\nharness_dir = ".agents"\nprotected_paths = ["ci/**"]\n'})
    assert guard_settings(tmp_path) == (".agents", ("ci/**",))


@pytest.mark.parametrize(
    ("toml", "key"), [("harness_dir = 3\n", "harness_dir"), ('protected_paths = "ci/**"\n', "protected_paths")]
)
def test_guard_settings_name_the_file_and_key_of_a_wrong_type(tmp_path, toml, key):
    write(tmp_path, {"harness.toml": toml})
    with pytest.raises(UsageError) as info:
        guard_settings(tmp_path)
    assert "harness.toml" in info.value.message and f"`{key}`" in info.value.message
    assert info.value.hint


def test_invalid_configuration_is_exit_2_naming_the_file(repo):
    write(repo, {"harness.toml": "protected_paths = [\n"})
    base = commit(repo, "broken config")
    result = guard("--repo", str(repo))
    assert result.exit_code == 2
    assert f"{base[:12]}:harness.toml: invalid TOML" in result.stderr


def test_the_configuration_comes_from_the_base_so_a_change_cannot_switch_a_guard_off(repo):
    """A change that empties `protected_paths` in the configuration it edits is still judged by the base's."""
    write(repo, {"harness.toml": "protected_paths = []\n", ".github/workflows/ci.yml": "on: push\n"})
    code, doc = guard_json("--repo", str(repo))
    assert {f["path"] for f in doc["findings"] if f["rule"] == "HG010"} >= {".github/workflows/ci.yml"}
    write(repo, {"pyproject.toml": '[tool.harness]\nprotected_paths = []\n'})
    code, doc = guard_json("--repo", str(repo))
    assert any(f["rule"] == "HG010" for f in doc["findings"])
    # Where a contract applies (an agent's run), they block.
    contract = repo / "contract.md"
    contract.write_text(contract_text())
    code, doc = guard_json("--repo", str(repo), "--contract", str(contract))
    assert code == 1 and any(f["rule"] == "HG010" and f["blocking"] for f in doc["findings"])


def test_a_protected_path_changed_without_a_contract_is_a_warning(repo):
    """A person's pull request that edits CI is news for the reviewer, not a cheat: a warning, exit 0."""
    write(repo, {".github/workflows/ci.yml": "on: push\n"})
    code, doc = guard_json("--repo", str(repo))
    assert code == 0
    (finding,) = [f for f in doc["findings"] if f["rule"] == "HG010"]
    assert finding["severity"] == "warning" and not finding["blocking"]


# --------------------------------------------------------------------------- the command


def test_an_honest_change_passes(repo):
    write(repo, {"tests/test_calc.py": HONEST})
    result = guard("--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.stdout
    assert "checked 1 changed file(s)" in result.stdout
    assert "..working tree" in result.stdout


def test_a_skip_marker_fails_with_a_finding_and_a_fix(repo):
    write(repo, {"tests/test_calc.py": CHEAT})
    result = guard("--repo", str(repo))
    assert result.exit_code == 1, result.output
    assert "tests/test_calc.py:" in result.stdout
    assert "HG004" in result.stdout and "[error]" in result.stdout
    assert "fix: " in result.stdout
    assert re.match(r"[1-9]\d* error\(s\), ", result.stdout.splitlines()[-1])


def test_json_is_one_document_with_the_findings(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    write(repo, {"tests/test_calc.py": CHEAT})
    code, doc = guard_json("--repo", str(repo), "--base", "HEAD")
    assert code == 1
    assert set(doc) == {"base", "head", "files_changed", "findings", "errors", "warnings", "allowed"}
    assert (doc["base"], doc["head"], doc["files_changed"]) == (base, "working tree", 1)
    skip = [f for f in doc["findings"] if f["rule"] == "HG004"]
    assert skip and skip[0]["path"] == "tests/test_calc.py" and skip[0]["blocking"] is True
    keys = {"rule", "name", "severity", "path", "line", "message", "fix", "allowed_by", "blocking", "side"}
    assert set(skip[0]) == keys
    assert doc["errors"] == sum(1 for f in doc["findings"] if f["blocking"]) >= 1


def test_a_committed_range_is_checked_with_head(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    write(repo, {"tests/test_calc.py": CHEAT})
    head = commit(repo, "skip it")
    write(repo, {"tests/test_calc.py": TEST_FILE})  # the working tree is clean again; --head ignores it
    code, doc = guard_json("--repo", str(repo), "--base", base, "--head", "HEAD")
    assert code == 1
    assert (doc["base"], doc["head"]) == (base, head)
    assert any(f["rule"] == "HG004" for f in doc["findings"])
    assert guard("--repo", str(repo), "--base", base, "--head", base).exit_code == 0


def test_an_unknown_ref_is_exit_2_naming_it(repo):
    result = guard("--repo", str(repo), "--base", "nope")
    assert result.exit_code == 2
    assert "`nope`" in result.stderr and "fix:" in result.stderr


def test_outside_a_git_repository_is_exit_2(tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    result = guard("--repo", str(plain))
    assert result.exit_code == 2
    assert "not inside a git repository" in result.stderr and "fix:" in result.stderr
    with pytest.raises(UsageError, match="not inside a git repository"):
        collect_changes(plain, "HEAD")


def test_a_contract_allowance_lets_the_change_through_marked_allowed(repo, tmp_path):
    contract = tmp_path / "contract.md"
    reason = "the test needs a network the CI lacks"
    contract.write_text(contract_text(allow=[{"rule": "HG004", "path": "tests/*", "reason": reason}]))
    write(repo, {"tests/test_calc.py": CHEAT})

    result = guard("--repo", str(repo), "--contract", str(contract))
    assert result.exit_code == 0, result.output
    assert f"allowed by contract: {reason}" in result.stdout
    code, doc = guard_json("--repo", str(repo), "--contract", str(contract))
    assert code == 0
    skip = next(f for f in doc["findings"] if f["rule"] == "HG004")
    assert skip["allowed_by"] == reason and skip["blocking"] is False
    assert doc["allowed"] >= 1 and doc["errors"] == 0


def test_the_issue_branch_contract_is_found_by_itself(repo):
    reason = "skipped until the service exists"
    write(
        repo,
        {".harness/contracts/001.md": contract_text(allow=[{"rule": "skip-added", "path": "*", "reason": reason}])},
    )
    commit(repo, "contract")
    write(repo, {"tests/test_calc.py": CHEAT})
    assert guard("--repo", str(repo)).exit_code == 1  # on main no contract applies

    git(repo, "checkout", "-q", "-b", "harness/001-add-numbers")
    result = guard("--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert f"allowed by contract: {reason}" in result.stdout
    assert "contract: .harness/contracts/001.md" in result.stdout


@pytest.mark.parametrize(
    "branch",
    ["harness/afk-20261204-001-add-numbers", "harness/afk-20261204-2-001-add-numbers", "harness/night-run-001-x"],
)
def test_an_afk_branch_finds_its_issues_contract(repo, branch):
    """afk names branches `harness/<batch>-<id>-<slug>`: the old parser read the id as `afk` and dropped the
    contract (its frozen tests, digest and allowances) without a word."""
    frozen = {"tests/test_calc.py": sha256(TEST_FILE)}
    write(repo, {".harness/contracts/001.md": contract_text(frozen=frozen)})
    commit(repo, "contract")
    git(repo, "checkout", "-q", "-b", branch)
    write(repo, {"tests/test_calc.py": TEST_FILE.replace("== 3", "== 3 or True")})
    code, doc = guard_json("--repo", str(repo))
    assert code == 1
    assert any(f["rule"] == "HG009" and f["path"] == "tests/test_calc.py" for f in doc["findings"]), doc


def test_head_names_the_branch_whose_contract_applies(repo):
    """`--head BRANCH` while another branch is checked out: the contract is that branch's issue's."""
    frozen = {"tests/test_calc.py": sha256(TEST_FILE)}
    write(repo, {".harness/contracts/001.md": contract_text(frozen=frozen)})
    commit(repo, "contract")
    git(repo, "checkout", "-q", "-b", "harness/001-add-numbers")
    write(repo, {"tests/test_calc.py": TEST_FILE.replace("== 3", "== 3 or True")})
    commit(repo, "weaken")
    git(repo, "checkout", "-q", "-")
    code, doc = guard_json("--repo", str(repo), "--base", "HEAD", "--head", "harness/001-add-numbers")
    assert code == 1
    assert any(f["rule"] == "HG009" for f in doc["findings"]), doc


def test_editing_a_frozen_test_fails(repo, tmp_path):
    contract = tmp_path / "contract.md"
    contract.write_text(contract_text(frozen={"tests/test_calc.py": sha256(TEST_FILE)}))
    write(repo, {"tests/test_calc.py": TEST_FILE.replace("== 3", "== 3 or True")})
    code, doc = guard_json("--repo", str(repo), "--contract", str(contract))
    assert code == 1
    assert any(f["rule"] == "HG009" and f["path"] == "tests/test_calc.py" for f in doc["findings"])


def test_a_missing_contract_file_is_exit_2(repo, tmp_path):
    result = guard("--repo", str(repo), "--contract", str(tmp_path / "nope.md"))
    assert result.exit_code == 2
    assert "nope.md: contract file not found" in result.stderr


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("---\nissue: [001\n---\n", "invalid YAML"),
        ("# no front matter\n", "not a harness contract"),
        ("---\nissue: '001'\nallow: [{rule: HG004}]\n---\n", "`allow.0`"),
        ("---\nissue: '001'\nfrozen_tests: [tests/test_calc.py]\n---\n", "`frozen_tests`"),
    ],
)
def test_an_unreadable_contract_is_exit_2_naming_the_problem(repo, tmp_path, text, needle):
    contract = tmp_path / "contract.md"
    contract.write_text(text)
    result = guard("--repo", str(repo), "--contract", str(contract))
    assert result.exit_code == 2
    assert needle in result.stderr and "contract.md" in result.stderr


@pytest.mark.parametrize("output", [["--json"], ["--format", "github"], ["--format=sarif"]])
def test_guard_does_not_import_the_sdk_pydantic_or_gitpython(repo, output):
    """The console script's path (harness.cli.main): typer's own argument parsing imports pydantic,
    so `harness guard` parses its plain options itself; this is what a pre-commit hook runs."""
    write(repo, {"tests/test_calc.py": CHEAT})
    code = f"""
import json, sys
from harness.cli import main
sys.argv = ["harness", "guard", "--repo", {str(repo)!r}, *{output!r}]
try:
    main()
except SystemExit as exc:
    status = exc.code
heavy = ["anthropic", "pydantic", "git", "harness.config", "harness.artifacts", "harness.model"]
print(json.dumps({{"status": status, "loaded": [m for m in heavy if m in sys.modules]}}), file=sys.stderr)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"status": 1, "loaded": []}
    assert "HG004" in proc.stdout


def harness_subprocess(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("form", ["separate", "equals"])
def test_the_console_script_prints_what_the_typer_command_prints(repo, tmp_path, form):
    contract = tmp_path / "contract.md"
    contract.write_text(contract_text(allow=[{"rule": "HG004", "path": "tests/*", "reason": "later"}]))
    write(repo, {"tests/test_calc.py": CHEAT, "tests/test_more.py": "def test_nothing():\n    pass\n"})
    options = {"--repo": str(repo), "--base": "HEAD", "--contract": str(contract)}
    args = [part for k, v in options.items() for part in ((k, v) if form == "separate" else (f"{k}={v}",))]
    formats = {"text": "allowed by contract: later", "json": '"allowed_by": "later"'}
    formats |= {"github": "Allowed by the contract: later", "sarif": '"justification": "later"'}
    for fmt, allowed in formats.items():
        extras = [[], ["--format", "text"]] if fmt == "text" else [["--format", fmt], [f"--format={fmt}"]]
        if fmt == "json":
            extras.append(["--json"])
        for extra in extras:
            in_process = guard(*args, *extra)
            console = harness_subprocess("guard", *args, *extra)
            assert (console.returncode, console.stdout) == (in_process.exit_code, in_process.stdout), extra
            assert in_process.exit_code == 1  # the new test with no assertion is not allowed
            assert allowed in in_process.stdout, extra


def test_the_console_script_leaves_help_and_mistakes_to_typer(repo):
    usage = harness_subprocess("guard", "--repo", str(repo), "--bsae", "HEAD")
    assert usage.returncode == 2
    assert "--bsae" in usage.stderr
    missing = harness_subprocess("guard", "--base")
    assert missing.returncode == 2
    helped = harness_subprocess("guard", "--help")
    assert helped.returncode == 0
    assert all(option in helped.stdout for option in ("--base", "--head", "--contract", "--repo", "--json", "--format"))


# --------------------------------------------------------------------------- output formats


def workflow_data(text: str) -> str:
    """A workflow command's message as GitHub's toolkit escapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text: str) -> str:
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


def test_github_format_annotates_a_deleted_test_file(repo):
    (repo / "tests" / "test_calc.py").unlink()
    result = guard("--repo", str(repo), "--format", "github")
    assert result.exit_code == 1, result.output
    code, doc = guard_json("--repo", str(repo))
    (finding,) = doc["findings"]
    assert code == 1 and finding["rule"] == "HG001" and finding["line"] is None
    message = workflow_data(f"{finding['message']}\n\nFix: {finding['fix']}")
    assert result.stdout.splitlines() == [f"::error file=tests/test_calc.py,title=HG001 test-file-removed::{message}"]
    assert "test file tests/test_calc.py was deleted; every test in it stopped running.%0A%0AFix: " in result.stdout
    assert "1 error(s)" in result.stderr  # the counts go to the log, not among the commands


def test_github_format_escapes_what_the_change_named_and_maps_each_severity(tmp_path):
    """A path is the pull request's text: a newline in it must not start a second workflow command."""
    tricky = "tests/test_50%,a:b.py"
    other = "from calc import add\n\n\ndef test_tens():\n    assert add(5, 5) == 10\n"  # lives nowhere else
    repo = make_repo(tmp_path / "repo", {"calc.py": CALC, "tests/test_calc.py": TEST_FILE, tricky: other})
    (repo / tricky).unlink()
    write(repo, {"tests/test_calc.py": CHEAT, ".github/workflows/ci.yml": "on: push\n"})
    result = guard("--repo", str(repo), "--format", "github")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert all(line.startswith(("::error ", "::warning ")) for line in lines) and len(lines) == 3, lines
    (warning,) = [line for line in lines if line.startswith("::warning ")]
    assert warning.startswith("::warning file=.github/workflows/ci.yml,title=HG010 protected-path-changed::")
    (deleted,) = [line for line in lines if "HG001" in line]
    assert deleted.startswith(f"::error file={workflow_property(tricky)},title=HG001 test-file-removed::")
    assert "file=tests/test_50%25%2Ca%3Ab.py," in deleted
    assert "::test file tests/test_50%25,a:b.py was deleted" in deleted  # the message escapes only %, CR and LF
    (skip,) = [line for line in lines if "HG004" in line]
    line = next(f["line"] for f in guard_json("--repo", str(repo))[1]["findings"] if f["rule"] == "HG004")
    assert skip.startswith(f"::error file=tests/test_calc.py,line={line},title=HG004 skip-added::")

    newline = "tests/test_x\n::error file=forged.py::fake.py"
    write(repo, {"tests/test_calc.py": TEST_FILE, newline: other})
    commit(repo)
    (repo / newline).unlink()
    lines = guard("--repo", str(repo), "--format", "github").stdout.splitlines()
    assert len(lines) == 1 and "file=tests/test_x%0A%3A%3Aerror file=forged.py%3A%3Afake.py," in lines[0]


def test_github_format_is_silent_on_an_honest_change(repo):
    write(repo, {"tests/test_calc.py": HONEST})
    result = guard("--repo", str(repo), "--format", "github")
    assert (result.exit_code, result.stdout) == (0, "")
    assert "0 error(s)" in result.stderr


def test_sarif_format_validates_and_describes_its_rules(repo):
    from test_review_formats import check_sarif

    from harness.guard import RULES

    base = git(repo, "rev-parse", "HEAD").strip()
    write(repo, {"tests/test_calc.py": CHEAT, ".github/workflows/ci.yml": "on: push\n"})
    result = guard("--repo", str(repo), "--format", "sarif")
    assert result.exit_code == 1, result.output
    run = check_sarif(json.loads(result.stdout))
    _, doc = guard_json("--repo", str(repo))

    assert [r["ruleId"] for r in run["results"]] == ["HG004", "HG010"]  # blocking first, as harness review does
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {"HG004", "HG010"}
    assert rules["HG004"]["name"] == "skip-added" and rules["HG004"]["defaultConfiguration"] == {"level": "error"}
    assert RULES["HG004"].summary[1:] in rules["HG004"]["fullDescription"]["text"]
    assert rules["HG004"]["helpUri"].endswith("/guards.md#hg004-skip-added-error")
    by_rule = {r["ruleId"]: r for r in run["results"]}
    for finding in doc["findings"]:
        result_ = by_rule[finding["rule"]]
        assert result_["message"]["text"].startswith(finding["message"].rstrip())
        assert result_["properties"]["blocking"] is finding["blocking"]
    assert by_rule["HG004"]["level"] == "error" and by_rule["HG010"]["level"] == "note"
    assert run["properties"] == {
        "base": base,
        "head": "working tree",
        "filesChanged": 2,
        "errors": 1,
        "warnings": 1,
        "allowed": 0,
        "exitCode": 1,
    }


def test_sarif_reports_each_finding_as_harness_review_does(tmp_path, monkeypatch):
    """The same alert from both commands: same rule, level, message, location and fingerprint, so code scanning
    matches them across runs. Without an API key the review still reports its guard findings (exit 3)."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    other = "from calc import add\n\n\ndef test_tens():\n    assert add(5, 5) == 10\n"
    repo = make_repo(tmp_path / "repo", {"calc.py": CALC, "tests/test_calc.py": TEST_FILE, "tests/test_tens.py": other})
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "tests" / "test_tens.py").unlink()
    write(repo, {"tests/test_calc.py": CHEAT, ".github/workflows/ci.yml": "on: push\n"})
    commit(repo)
    args = ["--repo", str(repo), "--base", base, "--head", "HEAD", "--format", "sarif"]
    guarded = guard(*args)
    reviewed = CliRunner().invoke(app, ["review", *args], catch_exceptions=False)
    assert (guarded.exit_code, reviewed.exit_code) == (1, 3), reviewed.output
    guard_run, review_run = (json.loads(r.stdout)["runs"][0] for r in (guarded, reviewed))
    assert sorted(r["ruleId"] for r in guard_run["results"]) == ["HG001", "HG004", "HG010"]
    assert guard_run["results"] == review_run["results"]
    assert guard_run["tool"]["driver"] == review_run["tool"]["driver"]


def test_sarif_of_a_clean_change_is_a_valid_empty_log(repo):
    from test_review_formats import check_sarif

    result = guard("--repo", str(repo), "--format", "sarif", "--base", "HEAD", "--head", "HEAD")
    assert result.exit_code == 0, result.output
    run = check_sarif(json.loads(result.stdout))
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []


def test_json_flag_is_format_json_and_prints_the_same_bytes(repo):
    write(repo, {"tests/test_calc.py": CHEAT})
    flag = guard("--repo", str(repo), "--json")
    option = guard("--repo", str(repo), "--format", "json")
    assert (flag.exit_code, flag.stdout) == (option.exit_code, option.stdout) == (1, option.stdout)
    assert flag.stdout == json.dumps(json.loads(flag.stdout), indent=2) + "\n"
    assert (flag.stderr, guard("--repo", str(repo), "--json", "--format", "json").stdout) == ("", flag.stdout)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--format", "yaml"], "--format yaml: unknown format"),
        (["--format=SARIF2"], "--format sarif2: unknown format"),
        (["--json", "--format", "sarif"], "--json is --format json"),
    ],
)
def test_an_unknown_or_conflicting_format_is_exit_2_naming_the_option(repo, args, needle):
    write(repo, {"tests/test_calc.py": CHEAT})
    for result in (guard("--repo", str(repo), *args), harness_subprocess("guard", "--repo", str(repo), *args)):
        code = result.exit_code if isinstance(result, Result) else result.returncode
        assert code == 2 and result.stdout == ""
        assert needle in result.stderr and "text, json, sarif or github" in result.stderr


# --------------------------------------------------------------------------- pre-commit


PRE_COMMIT_CONFIG = """repos:
  - repo: local
    hooks:
      - id: harness-guard
        name: harness guard
        entry: harness guard --base HEAD
        language: system
        pass_filenames: false
        always_run: true
"""


@pytest.mark.skipif(importlib.util.find_spec("pre_commit") is None, reason="pre-commit is not installed (dev extra)")
def test_the_pre_commit_hook_lets_an_honest_commit_through_and_refuses_a_skip(repo, tmp_path):
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }
    write(repo, {".pre-commit-config.yaml": PRE_COMMIT_CONFIG})
    commit(repo, "add the hook config")
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=repo, env=env, check=True, capture_output=True)

    def try_commit(content: str) -> subprocess.CompletedProcess[str]:
        write(repo, {"tests/test_calc.py": content})
        git(repo, "add", "-A")
        return subprocess.run(
            ["git", "commit", "-m", "change"], cwd=repo, env=env, capture_output=True, text=True, check=False
        )

    honest = try_commit(HONEST)
    assert honest.returncode == 0, honest.stdout + honest.stderr
    assert "harness guard" in honest.stdout + honest.stderr  # the hook really ran
    head = git(repo, "rev-parse", "HEAD").strip()

    cheat = try_commit(HONEST.replace("def test_add", "@pytest.mark.skip\ndef test_add"))
    assert cheat.returncode != 0
    assert "HG004" in cheat.stdout + cheat.stderr
    assert git(repo, "rev-parse", "HEAD").strip() == head  # nothing was committed


# --------------------------------------------------------------------------- files that hide their tests

TWO_TESTS = TEST_FILE + "\n\ndef test_add_negative():\n    assert add(-1, -2) == -3\n"


@pytest.mark.parametrize("committed", [True, False], ids=["commit", "working-tree"])
def test_a_test_file_re_encoded_with_a_coding_cookie_still_shows_its_removed_test(repo, committed):
    write(repo, {"tests/test_calc.py": TWO_TESTS})
    commit(repo, "two tests")
    latin = "# -*- coding: latin-1 -*-\n# caf\xe9\n" + TEST_FILE
    (repo / "tests" / "test_calc.py").write_bytes(latin.encode("latin-1"))
    if committed:
        commit(repo, "re-encode")
    args = ["--base", "HEAD~1", "--head", "HEAD"] if committed else []
    code, doc = guard_json("--repo", str(repo), *args)
    assert code == 1
    assert any(f["rule"] == "HG002" and "test_add_negative" in f["message"] for f in doc["findings"]), doc


def test_a_test_file_padded_past_the_size_limit_is_a_finding(repo):
    write(repo, {"tests/test_calc.py": TEST_FILE + "#" + "x" * 1_100_000 + "\n"})
    code, doc = guard_json("--repo", str(repo))
    assert code == 1
    (finding,) = [f for f in doc["findings"] if f["rule"] == "HG023"]
    assert finding["path"] == "tests/test_calc.py" and "larger than 1 MB" in finding["message"]


def test_a_test_file_replaced_by_a_symlink_is_a_finding(repo):
    write(repo, {"src/real_tests.py": TEST_FILE})
    (repo / "tests" / "test_calc.py").unlink()
    (repo / "tests" / "test_calc.py").symlink_to("../src/real_tests.py")
    commit(repo, "link")
    code, doc = guard_json("--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD")
    assert code == 1
    assert any(f["rule"] == "HG023" and "symbolic link" in f["message"] for f in doc["findings"]), doc
