"""The six workspace tools: both sides of every confinement rule, plus bash, glob and grep behaviour."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from harness.workspace import (
    READ_ONLY_TOOLS,
    WORKSPACE_TOOLS,
    BashInput,
    EditInput,
    GlobInput,
    GrepInput,
    ReadInput,
    ToolRefusal,
    ToolSpec,
    Workspace,
    WriteInput,
)

# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the workspace holding sentinel files nothing may change."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.txt").write_text("TOP SECRET SENTINEL\n")
    (directory / "config.py").write_text("PASSWORD = 'hunter2'\n")
    return directory


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "ws"
    (directory / "src").mkdir(parents=True)
    (directory / "src" / "app.py").write_text("def main():\n    return 1\n")
    (directory / "README.md").write_text("# demo\n")
    return directory


@pytest.fixture
def ws(root: Path) -> Workspace:
    return Workspace(root)


def tree_digest(directory: Path) -> dict[str, str]:
    """Every path under ``directory`` with a hash of its content (links by target)."""
    digest: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_symlink():
            digest[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            digest[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            digest[rel] = "dir"
    return digest


@pytest.fixture
def unchanged(outside: Path) -> Iterator[None]:
    """Fail the test if anything outside the workspace changed."""
    before = tree_digest(outside)
    yield
    assert tree_digest(outside) == before


def refused(action: Callable[[], object], *fragments: str) -> str:
    with pytest.raises(ToolRefusal) as info:
        action()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (gone, or a zombie waiting for an unrelated parent to reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_gone(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.05)
    return process_gone(pid)


# --------------------------------------------------------------------------------------------
# Public interface
# --------------------------------------------------------------------------------------------

EXPECTED_FIELDS = {
    "read": {"path", "offset", "limit"},
    "write": {"path", "content"},
    "edit": {"path", "old_string", "new_string", "replace_all"},
    "bash": {"command", "timeout"},
    "glob": {"pattern"},
    "grep": {"pattern", "path", "glob"},
}


def test_the_six_tools_and_their_exact_input_fields() -> None:
    assert set(WORKSPACE_TOOLS) == set(EXPECTED_FIELDS)
    for name, spec in WORKSPACE_TOOLS.items():
        assert isinstance(spec, ToolSpec)
        assert spec.name == name
        assert len(spec.description) > 80
        schema = spec.input_model.model_json_schema()
        assert set(schema["properties"]) == EXPECTED_FIELDS[name]
        assert schema.get("additionalProperties") is False
        for field, prop in schema["properties"].items():
            assert prop.get("description"), f"{name}.{field} has no description"
    assert READ_ONLY_TOOLS == ("read", "glob", "grep", "bash")
    assert "relative to the workspace root" in WORKSPACE_TOOLS["read"].description


def test_input_models_validate_ranges_and_reject_unknown_fields() -> None:
    assert ReadInput(path="a").offset is None
    assert EditInput(path="a", old_string="x", new_string="y").replace_all is False
    for bad in (
        lambda: ReadInput(path="a", offset=0),
        lambda: ReadInput(path="a", limit=0),
        lambda: BashInput(command="ls", timeout=0),
        lambda: GlobInput(pattern="*", extra="nope"),  # type: ignore[call-arg]
        lambda: WriteInput(path="a"),  # type: ignore[call-arg]
    ):
        with pytest.raises(ValidationError):
            bad()
    assert GrepInput(pattern="x").path is None


def test_call_dispatches_by_tool_name(ws: Workspace) -> None:
    assert "wrote notes.txt" in ws.call("write", WriteInput(path="notes.txt", content="hi\n"))
    assert "1\thi" in ws.call("read", ReadInput(path="notes.txt"))
    assert "edited" in ws.call("edit", EditInput(path="notes.txt", old_string="hi", new_string="ho"))
    assert "notes.txt" in ws.call("glob", GlobInput(pattern="*.txt"))
    assert "notes.txt:1:ho" in ws.call("grep", GrepInput(pattern="ho"))
    assert "[exit code: 0]" in ws.call("bash", BashInput(command="true"))
    refused(lambda: ws.call("delete", GlobInput(pattern="*")), "no tool named", "read")
    with pytest.raises(TypeError):
        ws.call("read", GlobInput(pattern="*"))


def test_root_is_resolved_and_relative_gives_posix_paths(tmp_path: Path, root: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    ws = Workspace(alias)
    assert ws.root == root.resolve()
    assert ws.relative(root / "src" / "app.py") == "src/app.py"
    assert ws.relative(Path("src/app.py")) == "src/app.py"
    assert ws.resolve("src/../src/app.py") == root / "src" / "app.py"
    refused(lambda: ws.relative(tmp_path / "elsewhere"), "outside the workspace")


# --------------------------------------------------------------------------------------------
# Confinement
# --------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("unchanged")
def test_parent_escapes_are_refused(ws: Workspace) -> None:
    for path in ("../outside/secret.txt", "src/../../outside/secret.txt", "..", "./../outside/new.txt"):
        refused(lambda path=path: ws.read(path), "outside the workspace")
        refused(lambda path=path: ws.write(path, "pwned"), "outside the workspace")
        refused(lambda path=path: ws.edit(path, "TOP", "PWNED"), "outside the workspace")
    refused(lambda: ws.grep("SENTINEL", path="../outside"), "outside the workspace")


@pytest.mark.usefixtures("unchanged")
def test_absolute_paths_are_refused_with_the_relative_form_when_inside(
    ws: Workspace, root: Path, outside: Path
) -> None:
    target = str(outside / "secret.txt")
    refused(lambda: ws.read(target), "absolute path", "relative to the workspace root")
    refused(lambda: ws.write(target, "pwned"), "absolute path")
    refused(lambda: ws.edit(target, "TOP", "PWNED"), "absolute path")
    refused(lambda: ws.read("/etc/passwd"), "`/etc/passwd`", "e.g. `src/app.py`")
    refused(lambda: ws.read(str(root / "src" / "app.py")), "`src/app.py`")
    refused(lambda: ws.read("~/.ssh/id_rsa"), "home directory")


@pytest.mark.usefixtures("unchanged")
def test_symlinked_file_pointing_outside_is_refused(ws: Workspace, root: Path, outside: Path) -> None:
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    refused(lambda: ws.read("leak.txt"), "outside the workspace")
    refused(lambda: ws.write("leak.txt", "pwned"), "outside the workspace")
    refused(lambda: ws.edit("leak.txt", "TOP", "PWNED"), "outside the workspace")
    assert "leak.txt" not in ws.glob("*")
    assert ws.grep("SENTINEL").startswith("no matches")
    refused(lambda: ws.grep("SENTINEL", path="leak.txt"), "outside the workspace")


@pytest.mark.usefixtures("unchanged")
def test_symlinked_parent_directory_is_refused(ws: Workspace, root: Path, outside: Path) -> None:
    (root / "src" / "vendor").symlink_to(outside)
    refused(lambda: ws.read("src/vendor/secret.txt"), "outside the workspace")
    refused(lambda: ws.write("src/vendor/new.py", "x"), "outside the workspace")
    refused(lambda: ws.write("src/vendor/deeper/new.py", "x"), "outside the workspace")
    refused(lambda: ws.edit("src/vendor/config.py", "hunter2", "x"), "outside the workspace")
    assert "vendor" not in ws.glob("**/*")
    assert ws.glob("src/vendor/*").startswith("no files match")
    assert ws.grep("hunter2").startswith("no matches")
    assert not (outside / "new.py").exists()


@pytest.mark.usefixtures("unchanged")
def test_dangling_symlink_to_a_file_not_yet_outside_is_refused(ws: Workspace, root: Path, outside: Path) -> None:
    (root / "later.txt").symlink_to(outside / "created-later.txt")
    refused(lambda: ws.write("later.txt", "pwned"), "outside the workspace")
    assert not (outside / "created-later.txt").exists()


@pytest.mark.usefixtures("unchanged")
def test_symlinks_the_agent_creates_with_bash_are_refused(ws: Workspace, outside: Path) -> None:
    assert "[exit code: 0]" in ws.bash(f"ln -s {outside} escape && ln -s ../outside escape2")
    for link in ("escape", "escape2"):
        refused(lambda link=link: ws.write(f"{link}/secret.txt", "pwned"), "outside the workspace")
        refused(lambda link=link: ws.write(f"{link}/fresh/file.txt", "pwned"), "outside the workspace")
        refused(lambda link=link: ws.read(f"{link}/config.py"), "outside the workspace")
    assert ws.glob("escape/**").startswith("no files match")


def test_symlinks_inside_the_workspace_are_followed(ws: Workspace, root: Path) -> None:
    (root / "alias.py").symlink_to(root / "src" / "app.py")
    (root / "lib").symlink_to(root / "src")
    assert "return 1" in ws.read("alias.py")
    assert "return 1" in ws.read("lib/app.py")
    ws.edit("alias.py", "return 1", "return 7")
    assert "return 7" in (root / "src" / "app.py").read_text()
    assert "lib/app.py:2:" in ws.grep("return 7", path="lib")


def test_symlink_loop_is_refused(ws: Workspace, root: Path) -> None:
    (root / "loop").symlink_to(root / "loop")
    refused(lambda: ws.read("loop"), "symlink loop")
    refused(lambda: ws.write("loop/x", "y"), "symlink loop")


@pytest.mark.usefixtures("unchanged")
def test_empty_nul_and_overlong_paths_are_refused(ws: Workspace, root: Path) -> None:
    for path in ("", "   "):
        refused(lambda path=path: ws.read(path), "empty")
        refused(lambda path=path: ws.write(path, "x"), "empty")
    refused(lambda: ws.read("src/app.py\0.txt"), "NUL")
    refused(lambda: ws.write("a\0b", "x"), "NUL")
    refused(lambda: ws.write("a" * 300, "x"), "too long")
    refused(lambda: ws.read("a/" * 3000 + "b"), "too long")
    refused(lambda: ws.write("d/" * 2000 + "f", "x"), "too deeply")
    refused(lambda: ws.write("d/" * 300 + "f", "x"), "too deeply")
    # Under 4096 bytes itself, but not once joined to the workspace root.
    refused(lambda: ws.write("/".join(["n" * 250] * 16), "x"), "too long")
    deep = "/".join(f"d{n}" for n in range(200)) + "/f.txt"
    assert ws.write(deep, "ok").startswith("wrote d0/d1/")
    assert ws.read(deep) == "     1\tok"
    refused(lambda: ws.read("\udcff"), "UTF-8")
    before = tree_digest(root)
    refused(lambda: ws.write("x" * 10_000, "x"), "too long")
    assert tree_digest(root) == before


def test_os_errors_become_refusals(ws: Workspace, root: Path) -> None:
    # A parent that is a file: the OS says ENOTDIR, the model hears what to do.
    refused(lambda: ws.write("README.md/inner.txt", "x"), "`README.md` is a file, not a directory")
    refused(lambda: ws.write("README.md/a/b.txt", "x"), "`README.md` is a file, not a directory")
    (root / "locked").mkdir()
    (root / "locked" / "f.txt").write_text("x")
    (root / "locked" / "f.txt").chmod(0o000)
    try:
        if os.geteuid() != 0:  # root ignores permission bits
            refused(lambda: ws.read("locked/f.txt"), "permission denied")
    finally:
        (root / "locked" / "f.txt").chmod(0o644)
    refused(lambda: ws.read("README.md/inner.txt"), "does not exist")


def test_git_directory_and_file_are_not_writable(ws: Workspace, root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "sub").mkdir()
    (root / "sub" / ".git").write_text("gitdir: /somewhere\n")
    before = tree_digest(root / ".git")
    before_sub = (root / "sub" / ".git").read_text()
    for path in (".git/config", ".git/hooks/pre-commit", "sub/.git", "src/../.git/HEAD", ".GIT/config"):
        refused(lambda path=path: ws.write(path, "pwned"), "do not touch .git")
    refused(lambda: ws.edit(".git/HEAD", "ref", "pwned"), "do not touch .git")
    (root / "gitlink").symlink_to(root / ".git")
    refused(lambda: ws.write("gitlink/config", "pwned"), "do not touch .git")
    assert tree_digest(root / ".git") == before
    assert (root / "sub" / ".git").read_text() == before_sub
    # Reading git metadata is harmless and allowed; names merely containing ".git" are ordinary files.
    assert "ref:" in ws.read(".git/HEAD")
    assert "wrote .gitignore" in ws.write(".gitignore", "*.pyc\n")
    assert "wrote docs/my.github.io/x.md" in ws.write("docs/my.github.io/x.md", "x")


def test_protected_callback_refuses_with_its_reason(root: Path) -> None:
    (root / "tests").mkdir()
    frozen = root / "tests" / "test_app.py"
    frozen.write_text("def test_it():\n    assert True\n")
    seen: list[str] = []

    def protected(rel: str) -> str | None:
        seen.append(rel)
        if rel.startswith("tests/"):
            return f"`{rel}` is a frozen test; change the implementation instead"
        return None

    ws = Workspace(root, protected=protected)
    refused(lambda: ws.write("tests/test_app.py", "x"), "frozen test", "change the implementation")
    refused(lambda: ws.edit("tests/test_app.py", "True", "False"), "frozen test")
    (root / "alias.py").symlink_to(frozen)
    refused(lambda: ws.write("alias.py", "x"), "frozen test")
    refused(lambda: ws.write("./src/../tests/test_app.py", "x"), "frozen test")
    assert frozen.read_text() == "def test_it():\n    assert True\n"
    assert "wrote src/new.py" in ws.write("src/new.py", "x = 1\n")
    assert "edited src/app.py" in ws.edit("src/app.py", "return 1", "return 2")
    assert "src/new.py" in seen
    # Reading a protected file is fine.
    assert "assert True" in ws.read("tests/test_app.py")


def test_read_only_workspace_refuses_writes_but_runs_bash(root: Path) -> None:
    ws = Workspace(root, writable=False)
    before = tree_digest(root)
    refused(lambda: ws.write("src/app.py", "x"), "read-only access")
    refused(lambda: ws.write("new.txt", "x"), "read-only access")
    refused(lambda: ws.edit("src/app.py", "return 1", "return 2"), "read-only access")
    assert tree_digest(root) == before
    assert "return 1" in ws.read("src/app.py")
    assert "src/app.py" in ws.glob("**/*.py")
    assert "src/app.py:2:" in ws.grep("return")
    assert "hello\n[exit code: 0]" in ws.bash("echo hello")


# --------------------------------------------------------------------------------------------
# read
# --------------------------------------------------------------------------------------------


def test_read_numbers_lines_like_cat_n(ws: Workspace) -> None:
    assert ws.read("src/app.py") == "     1\tdef main():\n     2\t    return 1"


def test_read_offset_limit_and_continuation_note(ws: Workspace, root: Path) -> None:
    (root / "long.txt").write_text("".join(f"line {n}\n" for n in range(1, 2501)))
    page = ws.read("long.txt")
    lines = page.splitlines()
    assert lines[0] == "     1\tline 1"
    assert lines[1999] == "  2000\tline 2000"
    assert "offset=2001" in lines[-1] and "2500" in lines[-1]
    assert len(lines) == 2001
    window = ws.read("long.txt", offset=10, limit=3)
    assert window.splitlines()[:3] == ["    10\tline 10", "    11\tline 11", "    12\tline 12"]
    assert "offset=13" in window
    tail = ws.read("long.txt", offset=2499)
    assert tail == "  2499\tline 2499\n  2500\tline 2500"
    refused(lambda: ws.read("long.txt", offset=3000), "2500 lines", "past the end")
    refused(lambda: ws.read("long.txt", offset=0), "1-based")


def test_read_truncates_long_lines_and_handles_odd_content(ws: Workspace, root: Path) -> None:
    (root / "wide.txt").write_text("a" * 5000 + "\nshort\n")
    text = ws.read("wide.txt")
    first, second = text.splitlines()[:2]
    assert first.startswith("     1\t" + "a" * 2000) and "3000 more characters" in first
    assert "a" * 2001 not in first
    assert second == "     2\tshort"
    (root / "latin1.txt").write_bytes(b"caf\xe9\n")
    assert "caf\ufffd" in ws.read("latin1.txt")
    (root / "empty.txt").write_text("")
    assert "empty" in ws.read("empty.txt")
    (root / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")
    assert ws.read("crlf.txt") == "     1\tone\n     2\ttwo"


def test_read_refuses_missing_directories_and_binaries(ws: Workspace, root: Path) -> None:
    refused(lambda: ws.read("src/nope.py"), "does not exist", "glob", "**/nope.py")
    refused(lambda: ws.read("src"), "is a directory", "glob")
    refused(lambda: ws.read("."), "is a directory")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    refused(lambda: ws.read("image.png"), "binary")


# --------------------------------------------------------------------------------------------
# write / edit
# --------------------------------------------------------------------------------------------


def test_write_creates_parents_atomically_and_reports_size(ws: Workspace, root: Path) -> None:
    content = "import os\n\nprint(os.getcwd())\n"
    assert ws.write("pkg/sub/mod.py", content) == "wrote pkg/sub/mod.py (3 lines, 30 bytes)"
    assert (root / "pkg" / "sub" / "mod.py").read_text() == content
    assert ws.write("./pkg/sub/mod.py", "x") == "wrote pkg/sub/mod.py (1 lines, 1 bytes)"
    assert (root / "pkg" / "sub" / "mod.py").read_text() == "x"
    assert ws.write("uni.txt", "é\n") == "wrote uni.txt (1 lines, 3 bytes)"
    assert sorted(p.name for p in (root / "pkg" / "sub").iterdir()) == ["mod.py"]  # no temp files left
    refused(lambda: ws.write("src", "x"), "is a directory")


def test_write_keeps_the_mode_of_the_file_it_replaces(ws: Workspace, root: Path) -> None:
    script = root / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    ws.write("run.sh", "#!/bin/sh\necho hi\n")
    assert script.stat().st_mode & 0o777 == 0o755


def test_edit_replaces_exactly_one_occurrence(ws: Workspace, root: Path) -> None:
    assert ws.edit("src/app.py", "    return 1", "    return 42") == "edited src/app.py: 1 replacement"
    assert (root / "src" / "app.py").read_text() == "def main():\n    return 42\n"


def test_edit_refusals_are_actionable(ws: Workspace, root: Path) -> None:
    (root / "dup.py").write_text("x = 1\nx = 1\ny = 2\n")
    refused(lambda: ws.edit("dup.py", "x = 1", "x = 3"), "2 times", "replace_all")
    refused(lambda: ws.edit("dup.py", "z = 9", "z = 0"), "not found", "`read`", "whitespace")
    refused(lambda: ws.edit("dup.py", "", "z"), "empty", "write")
    refused(lambda: ws.edit("dup.py", "y = 2", "y = 2"), "identical")
    refused(lambda: ws.edit("missing.py", "a", "b"), "does not exist", "write")
    refused(lambda: ws.edit("src", "a", "b"), "directory")
    assert (root / "dup.py").read_text() == "x = 1\nx = 1\ny = 2\n"
    assert ws.edit("dup.py", "x = 1", "x = 3", replace_all=True) == "edited dup.py: 2 replacements"
    assert (root / "dup.py").read_text() == "x = 3\nx = 3\ny = 2\n"
    assert ws.edit("dup.py", "x = 3\ny", "x = 4\ny") == "edited dup.py: 1 replacement"


def test_edit_refuses_binary_and_non_utf8_files(ws: Workspace, root: Path) -> None:
    (root / "blob.bin").write_bytes(b"abc\0def")
    refused(lambda: ws.edit("blob.bin", "abc", "xyz"), "binary")
    (root / "latin1.txt").write_bytes(b"caf\xe9\n")
    refused(lambda: ws.edit("latin1.txt", "caf", "bar"), "not valid UTF-8")
    assert (root / "latin1.txt").read_bytes() == b"caf\xe9\n"


def test_edit_matches_text_as_read_shows_crlf_files(ws: Workspace, root: Path) -> None:
    (root / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    assert ws.edit("win.txt", "one\ntwo", "uno\ndos") == "edited win.txt: 1 replacement"
    assert (root / "win.txt").read_bytes() == b"uno\r\ndos\r\nthree\r\n"


# --------------------------------------------------------------------------------------------
# bash
# --------------------------------------------------------------------------------------------


def test_bash_reports_exit_code_and_merged_output(ws: Workspace, root: Path) -> None:
    result = ws.bash("echo out; echo err >&2; exit 3")
    assert result == "out\nerr\n[exit code: 3]"
    assert ws.bash("true") == "(no output)\n[exit code: 0]"
    assert ws.bash("printf abc") == "abc\n[exit code: 0]"
    assert ws.bash("pwd").splitlines()[0] == str(root.resolve())
    # stdin is empty: `cat` returns at once instead of waiting for input.
    assert ws.bash("cat", timeout=5) == "(no output)\n[exit code: 0]"
    assert "[exit code: -9 (killed by SIGKILL)]" in ws.bash("kill -9 $$")


def test_bash_refuses_bad_input(ws: Workspace) -> None:
    refused(lambda: ws.bash("   "), "empty")
    refused(lambda: ws.bash("echo a\0b"), "NUL")
    refused(lambda: ws.bash("true", timeout=0), "positive")
    refused(lambda: ws.bash("true", timeout=-1), "positive")


def test_bash_timeout_kills_the_command_and_its_children(ws: Workspace, root: Path) -> None:
    started = time.monotonic()
    result = ws.bash("sleep 30 & echo $! > child.pid; echo started; sleep 30", timeout=1)
    elapsed = time.monotonic() - started
    assert elapsed < 5
    assert result.startswith("started\n")
    assert "timed out after 1s; the command and its children were killed" in result
    assert "[exit code" not in result
    pid = int((root / "child.pid").read_text())
    assert wait_gone(pid)


def test_bash_timeout_is_capped_by_the_maximum(root: Path) -> None:
    ws = Workspace(root, bash_timeout=0.5, max_bash_timeout=1.0)
    started = time.monotonic()
    assert "timed out after 1s" in ws.bash("sleep 30", timeout=100)
    assert time.monotonic() - started < 5
    assert "timed out after 0.5s" in ws.bash("sleep 30")


def test_bash_kills_background_leftovers_when_the_command_returns(ws: Workspace, root: Path) -> None:
    started = time.monotonic()
    result = ws.bash("sleep 30 & echo $! > bg.pid")
    assert time.monotonic() - started < 5
    assert result == "(no output)\n[exit code: 0]"
    assert wait_gone(int((root / "bg.pid").read_text()))


def test_bash_output_cap_keeps_head_and_tail(ws: Workspace) -> None:
    result = ws.bash("""python3 -c "print('HEAD' + 'x' * 200000 + 'TAIL')" """)
    assert result.startswith("HEADxxx")
    assert result.endswith("TAIL\n[exit code: 0]")
    assert "characters omitted ...]" in result
    assert len(result) < 30_000 + 200
    head, _, tail = result.partition("\n[... ")
    assert len(head) == 12_000
    assert tail.split("\n", 1)[1].startswith("x")


def test_bash_output_cap_on_large_output_counts_what_was_dropped(root: Path) -> None:
    ws = Workspace(root, output_limit=1000)
    result = ws.bash("yes | head -c 500000")
    assert result.startswith("y\ny\n")
    assert result.endswith("y\n[exit code: 0]")
    # 500 000 characters of output, 1000 kept.
    assert "[... 499000 characters omitted ...]" in result


def test_bash_environment_has_no_secrets(ws: Workspace, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-secret")
    monkeypatch.setenv("HOME", "/home/agent-home")
    output = ws.bash("env")
    assert "sk-secret" not in output
    assert "tok-secret" not in output
    assert "HOME=/home/agent-home" in output
    explicit = Workspace(root, env={"PATH": os.environ["PATH"], "HOME": "/h", "GITHUB_TOKEN": "ghp-secret"})
    output = explicit.bash("env")
    assert "ghp-secret" not in output
    assert "HOME=/h" in output


# --------------------------------------------------------------------------------------------
# glob
# --------------------------------------------------------------------------------------------


@pytest.fixture
def tree(root: Path) -> Path:
    files = [
        "src/pkg/__init__.py",
        "src/pkg/core.py",
        "src/pkg/core.pyi",
        "tests/test_core.py",
        "setup.py",
        ".github/workflows/ci.yml",
        ".git/config",
        "src/pkg/__pycache__/core.cpython-311.pyc",
        "__pycache__/setup.cpython-311.py",
        ".venv/lib/site.py",
        "node_modules/left-pad/index.py",
        ".pytest_cache/v/cache.py",
        ".mypy_cache/3.11/x.py",
    ]
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {rel}\nTODO: fix\n")
    (root / "src" / "empty_dir").mkdir()
    return root


def test_glob_patterns(ws: Workspace, tree: Path) -> None:
    assert ws.glob("*.py").splitlines() == ["setup.py"]
    assert ws.glob("**/*.py").splitlines() == [
        "setup.py",
        "src/app.py",
        "src/pkg/__init__.py",
        "src/pkg/core.py",
        "tests/test_core.py",
    ]
    assert ws.glob("src/**/core.*").splitlines() == ["src/pkg/core.py", "src/pkg/core.pyi"]
    assert ws.glob("src/pkg/core.py{,i}").splitlines() == ["src/pkg/core.py", "src/pkg/core.pyi"]
    assert ws.glob("**/*.{yml,md}").splitlines() == [".github/workflows/ci.yml", "README.md"]
    assert ws.glob("tests/test_?ore.py") == "tests/test_core.py"
    assert ws.glob("src/pkg/[!_]*.py") == "src/pkg/core.py"
    assert ws.glob("./README.md") == "README.md"
    assert ws.glob("src/**").splitlines()[0] == "src/app.py"
    assert "src/empty_dir" not in ws.glob("src/*")  # files only


def test_glob_excludes_tool_and_vcs_directories(ws: Workspace, tree: Path) -> None:
    everything = ws.glob("**/*")
    for hidden in (".git/", "__pycache__", ".venv", "node_modules", ".pytest_cache", ".mypy_cache"):
        assert hidden not in everything
    assert ".github/workflows/ci.yml" in everything
    assert ws.glob(".venv/**/*.py").startswith("no files match")
    assert ws.glob(".git/config").startswith("no files match")


def test_glob_no_match_cap_and_refusals(ws: Workspace, root: Path) -> None:
    assert ws.glob("*.rs").startswith("no files match *.rs")
    assert "**/*.rs" in ws.glob("*.rs")
    assert ws.glob("nowhere/**/*.py") == "no files match nowhere/**/*.py"
    many = root / "many"
    many.mkdir()
    for n in range(510):
        (many / f"f{n:04d}.txt").write_text("")
    listing = ws.glob("many/*.txt").splitlines()
    assert len(listing) == 501
    assert listing[0] == "many/f0000.txt" and listing[499] == "many/f0499.txt"
    assert "500 of 510" in listing[-1]
    refused(lambda: ws.glob("/etc/*"), "absolute")
    refused(lambda: ws.glob("../**/*"), "`..`")
    refused(lambda: ws.glob("src/../../*"), "`..`")
    refused(lambda: ws.glob(""), "empty")


# --------------------------------------------------------------------------------------------
# grep
# --------------------------------------------------------------------------------------------


def test_grep_finds_sorted_matches_with_path_and_glob(ws: Workspace, tree: Path) -> None:
    assert ws.grep(r"def \w+\(").splitlines() == ["src/app.py:1:def main():"]
    todo = ws.grep("TODO").splitlines()
    assert todo == sorted(todo)
    assert todo == [
        ".github/workflows/ci.yml:2:TODO: fix",
        "setup.py:2:TODO: fix",
        "src/pkg/__init__.py:2:TODO: fix",
        "src/pkg/core.py:2:TODO: fix",
        "src/pkg/core.pyi:2:TODO: fix",
        "tests/test_core.py:2:TODO: fix",
    ]
    assert ws.grep("TODO", path="src").splitlines() == [
        "src/pkg/__init__.py:2:TODO: fix",
        "src/pkg/core.py:2:TODO: fix",
        "src/pkg/core.pyi:2:TODO: fix",
    ]
    assert ws.grep("TODO", path="setup.py") == "setup.py:2:TODO: fix"
    assert ws.grep("TODO", glob="*.pyi") == "src/pkg/core.pyi:2:TODO: fix"
    assert ws.grep("TODO", glob="tests/*.py") == "tests/test_core.py:2:TODO: fix"
    assert ws.grep("TODO", glob="**/*.py").splitlines()[0] == "setup.py:2:TODO: fix"
    assert ws.grep("TODO", glob="*.{yml,pyi}").splitlines() == [
        ".github/workflows/ci.yml:2:TODO: fix",
        "src/pkg/core.pyi:2:TODO: fix",
    ]


def test_grep_skips_excluded_binary_and_large_files(ws: Workspace, tree: Path) -> None:
    everything = ws.grep("TODO")
    for hidden in (".git/", "__pycache__", ".venv", "node_modules", ".pytest_cache", ".mypy_cache"):
        assert hidden not in everything
    (tree / "blob.bin").write_bytes(b"TODO\0binary")
    (tree / "huge.txt").write_text("TODO\n" + "z" * (2 * 1024 * 1024))
    result = ws.grep("TODO")
    assert "blob.bin" not in result and "huge.txt:" not in result
    assert "skipped 1 file(s) larger than 2 MB" in result
    refused(lambda: ws.grep("TODO", path="blob.bin"), "binary")
    refused(lambda: ws.grep("TODO", path="huge.txt"), "larger than 2 MB", "bash")


def test_grep_caps_matches_and_truncates_lines(ws: Workspace, root: Path) -> None:
    (root / "many.txt").write_text("hit\n" * 250)
    (root / "wide.txt").write_text("hit" + "w" * 1000 + "\n")
    lines = ws.grep("hit").splitlines()
    assert len(lines) == 201
    assert lines[0] == "many.txt:1:hit" and lines[199] == "many.txt:200:hit"
    assert "200 of 251" in lines[-1]
    wide = ws.grep("hit", path="wide.txt")
    assert wide == "wide.txt:1:hit" + "w" * 297 + " [...]"


def test_grep_no_match_and_refusals(ws: Workspace) -> None:
    assert ws.grep("zzz_absent") == "no matches for zzz_absent"
    message = refused(lambda: ws.grep("def ("), "invalid regular expression", "missing )")
    assert "backslash" in message
    refused(lambda: ws.grep(""), "empty")
    refused(lambda: ws.grep("x", path="nope"), "does not exist", "glob")
    refused(lambda: ws.grep("x", glob="/etc/*"), "absolute")


def test_tool_descriptions_are_usable_as_model_tools() -> None:
    for spec in WORKSPACE_TOOLS.values():
        tool = {
            "name": spec.name,
            "description": spec.description,
            "input_schema": spec.input_model.model_json_schema(),
        }
        assert tool["input_schema"]["type"] == "object"
        assert issubclass(spec.input_model, BaseModel)
