"""The worktree is hostile input (SPEC §8): a scripted hostile generator plants state for the harness to act on.

Each class of attack from the containment issue, through the fake Messages API, the real CLI, real git and, on a
machine where it works, the default sandbox. Judged from outside the worktree: sentinel files by sha256, a fake
``$HOME`` with marker secrets, the user's branches, HEAD, index, ``.git/config`` and hooks, and the fake server's
request log. Every attack is refused or survived: the run either goes on and ends honestly, or stops blocked with
the reason; it never reports PASS on work that is not what was committed, and nothing outside changes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import git
import pytest
import script as s
from test_attacks_sandbox import SENTINEL, World, digest, drive, finished_honestly, world
from test_run import tool_results
from test_workspace import needs_bwrap

from harness.fakeapi import FakeMessagesAPI
from harness.sandbox import sandbox_for
from harness.testrunner import run_tests

__all__ = ["drive", "world"]  # the fixtures, imported for their names

Drive = Callable[[Path], tuple[Any, dict[str, Any]]]

HOME_SECRET = "HOME-MARKER-SECRET-4242"


def hooks_and_index(project: Path) -> dict[str, Any]:
    dot = project / ".git"
    return {
        "hooks": digest(dot / "hooks"),
        "index": hashlib.sha256((dot / "index").read_bytes()).hexdigest(),
        "info": digest(dot / "info") if (dot / "info").is_dir() else {},
        "refs": {ref.path: ref.commit.hexsha for ref in git.Repo(project).refs if "harness/" not in ref.path},
    }


@pytest.fixture
def guarded(world: World) -> World:
    (world.home / ".ssh").mkdir()
    (world.home / ".ssh" / "id_ed25519").write_text(HOME_SECRET + "\n")
    world.internals = hooks_and_index(world.project)  # type: ignore[attr-defined]
    world.before["home"] = digest(world.home)
    return world


def outside_untouched(world: World, api: FakeMessagesAPI) -> None:
    world.assert_unchanged()
    assert hooks_and_index(world.project) == world.internals  # type: ignore[attr-defined]
    sent = json.dumps([r.body for r in api.requests])
    assert HOME_SECRET not in sent, "a file of the user's home reached the model"
    assert "test-key" not in sent


def blocked_for_tampering(result: Any, doc: dict[str, Any], what: str) -> None:
    assert result.exit_code == 1, result.output
    assert doc["outcome"] == "blocked"
    assert "tampering detected" in doc["reason"] and what in doc["reason"], doc["reason"]


# --------------------------------------------------------------------------- the harness's own git


@needs_bwrap
def test_a_rewritten_git_pointer_never_moves_the_users_branch(
    drive: Drive, guarded: World, api: FakeMessagesAPI
) -> None:
    """The worktree's `.git` file pointed at the user's checkout: the old harness then committed red and green on
    the user's `main`. Now its git is pinned and the pointer is checked before every phase and commit."""
    api.add(
        *s.contract_agreed(),
        s.act("tests_ready", "write", path=s.TEST_FILE, content=s.RED_TESTS),
        # through a script: the command policy refuses `> .git`, the sandbox lets the worktree's files be written
        s.act(
            "tests_ready",
            "bash",
            command=guarded.fill("python3 -c \"open('.git', 'w').write('gitdir: {project}/.git\\n')\"; cat .git"),
        ),
        s.tests_ready(),
    )
    result, doc = drive(guarded.project)
    blocked_for_tampering(result, doc, ".git pointer")
    outside_untouched(guarded, api)
    assert next(c.summary.split(":")[0] for c in git.Repo(guarded.project).iter_commits(doc["branch"])) == "contract"


@needs_bwrap
def test_a_rewritten_worktree_head_is_caught_before_the_harness_commits(
    drive: Drive, guarded: World, api: FakeMessagesAPI
) -> None:
    user = guarded.user_branch
    api.add(
        *s.contract_agreed(),
        s.act("tests_ready", "write", path=s.TEST_FILE, content=s.RED_TESTS),
        s.act(
            "tests_ready",
            "bash",
            command="python3 -c \"import pathlib; d = pathlib.Path(open('.git').read().split(':', 1)[1].strip()); "
            f"(d / 'HEAD').write_text('ref: refs/heads/{user}\\n')\"",
        ),
        s.tests_ready(),
    )
    result, doc = drive(guarded.project)
    blocked_for_tampering(result, doc, "HEAD")
    outside_untouched(guarded, api)


@needs_bwrap
def test_planted_git_config_and_hooks_never_run(drive: Drive, guarded: World, api: FakeMessagesAPI) -> None:
    """A per-worktree config with an fsmonitor program, and hooks in the shared `.git/hooks`: the sandbox leaves
    the shared git directory read-only, the harness's git runs with hooks and fsmonitor off, and the planted
    worktree config blocks the issue."""
    marker = guarded.outside / "pwned"
    payload = f"#!/bin/sh\\ntouch {marker}\\n"
    api.add(
        *s.contract_agreed(),
        s.act("tests_ready", "write", path=s.TEST_FILE, content=s.RED_TESTS),
        s.act(
            "tests_ready",
            "write",
            path="plant.py",
            content=(
                "import os, pathlib, stat\n"
                "private = pathlib.Path(open('.git').read().split(':', 1)[1].strip())\n"
                "common = private.parent.parent\n"
                f"hook = {payload!r}\n"
                "for target in (common / 'hooks' / 'post-checkout', common / 'hooks' / 'pre-commit'):\n"
                "    try:\n"
                "        target.write_text(hook); target.chmod(0o755); print('planted', target)\n"
                "    except OSError as exc:\n"
                "        print('refused', target, exc)\n"
                "(private / 'fsmon.sh').write_text(hook); (private / 'fsmon.sh').chmod(0o755)\n"
                "(private / 'config.worktree').write_text(f'[core]\\n\\tfsmonitor = {private}/fsmon.sh\\n')\n"
            ),
        ),
        s.act("tests_ready", "bash", command="python3 plant.py; rm plant.py"),
        s.tests_ready(),
    )
    result, doc = drive(guarded.project)
    blocked_for_tampering(result, doc, "config.worktree")
    assert not marker.exists(), "agent code ran outside the sandbox through the harness's git"
    assert any("refused" in r and "Read-only file system" in r for r in tool_results(api))
    outside_untouched(guarded, api)


# --------------------------------------------------------------------------- the harness's own test runs


@needs_bwrap
def test_test_code_runs_in_the_sandbox(drive: Drive, guarded: World, api: FakeMessagesAPI) -> None:
    """The red tests, imported by the harness's own pytest run, try to write outside, plant a hook, read the
    user's home and reach the network; all of it fails, and the red gate's feedback shows what the test saw."""
    hostile = (
        "import os, pathlib, socket\n"
        "seen = []\n"
        f"for target in ({str(guarded.outside / 'from-test')!r}, {str(guarded.project / '.git/hooks/pre-push')!r},"
        f" {str(guarded.home / '.bashrc')!r}):\n"
        "    try:\n"
        "        pathlib.Path(target).write_text('pwned')\n"
        "        seen.append('WROTE ' + target)\n"
        "    except OSError as exc:\n"
        "        seen.append('refused ' + type(exc).__name__)\n"
        "try:\n"
        f"    seen.append('READ ' + open({str(guarded.home / '.ssh/id_ed25519')!r}).read())\n"
        "except OSError as exc:\n"
        "    seen.append('home hidden ' + type(exc).__name__)\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {api.base_url.rstrip('/').rsplit(':', 1)[1]}), timeout=2)\n"
        "except OSError as exc:\n"
        "    seen.append('network ' + type(exc).__name__)\n"
        "\n"
        "def test_reports_what_it_saw():\n"
        "    assert False, ' | '.join(seen)\n"
    )
    api.add(
        *s.contract_agreed(),
        s.act("tests_ready", "write", path="tests/test_hostile.py", content=hostile),
        *s.red_accepted(),
        s.act("implementation_ready", "bash", command="rm tests/test_hostile.py"),
        *s.green_done(),
        s.submit_verdict(),
    )
    result, doc = drive(guarded.project)
    finished_honestly(result, doc, api)
    outside_untouched(guarded, api)
    assert not (guarded.outside / "from-test").exists()
    # What the code saw in there, from a run of the same module through the test runner alone.
    probe = guarded.outside.parent / "probe"
    (probe / "tests").mkdir(parents=True)
    (probe / "tests" / "test_hostile.py").write_text(hostile)
    report = run_tests(probe, [sys.executable, "-m", "pytest"], sandbox=sandbox_for("auto", unattended=True))
    seen = report.outcomes["tests/test_hostile.py::test_reports_what_it_saw"].message
    # Outside and the repository's hooks: not there to write. The home: an empty private one (so the write
    # "succeeds" there and vanishes), without the user's files. The fake API server on the host's loopback: unreachable.
    assert seen.count("refused") == 2 and "home hidden" in seen and "network" in seen, seen
    assert "READ" not in seen and "WROTE" not in seen.replace(f"WROTE {guarded.home / '.bashrc'}", "")


@needs_bwrap
def test_an_ignored_sitecustomize_cannot_fake_green(drive: Drive, guarded: World, api: FakeMessagesAPI) -> None:
    """Verification runs on exactly what is committed: an ignored `sitecustomize.py` that supplies the missing
    module at interpreter start made green pass on a branch with no implementation. Now it is not there."""
    fake = (
        "import sys, types\n"
        "mod = types.ModuleType('textkit.slug')\n"
        "exec(" + repr(s.IMPLEMENTATION) + ", mod.__dict__)\n"
        "sys.modules['textkit.slug'] = mod\n"
    )
    api.add(
        *s.contract_agreed(),
        *s.red_accepted(),
        s.act("implementation_ready", "write", path="sitecustomize.py", content=fake),
        s.act("implementation_ready", "bash", command="echo sitecustomize.py >> .gitignore"),
        s.implementation_ready(),
        *s.green_done(),
        s.submit_verdict(),
    )
    result, doc = drive(guarded.project)
    finished_honestly(result, doc, api)
    rejected = next(r for r in tool_results(api) if r.startswith("REJECTED"))
    assert "textkit.slug" in rejected or "ModuleNotFoundError" in rejected
    green = next(c for c in git.Repo(guarded.project).iter_commits(doc["branch"]) if c.summary.startswith("green:"))
    assert "textkit/slug.py" in green.stats.files
    outside_untouched(guarded, api)


# --------------------------------------------------------------------------- the harness's own files


@needs_bwrap
def test_the_contract_save_never_follows_an_agents_link(drive: Drive, guarded: World, api: FakeMessagesAPI) -> None:
    """`.harness/contracts` replaced by a link to a directory outside: the harness's save at test review wrote
    through it. Now the candidate with the link is refused (the harness's contract is canonical), and the
    harness's own writes never follow a link (tests/test_atomic_writes.py: write_inside)."""
    api.add(
        *s.contract_agreed(),
        s.act("tests_ready", "write", path=s.TEST_FILE, content=s.RED_TESTS),
        s.act(
            "tests_ready",
            "bash",
            command=guarded.fill(
                "rm -r .harness/contracts && python3 -c \"import os; os.symlink('{outside}', '.harness/contracts')\" "
                "&& ls -l .harness"
            ),
        ),
        s.tests_ready(),
        s.act("tests_ready", "bash", command="rm .harness/contracts && git checkout HEAD -- .harness/contracts"),
        s.tests_ready(),
        s.review_tests("accept"),
        *s.green_done(),
        s.submit_verdict(),
    )
    result, doc = drive(guarded.project)
    assert result.exit_code == 0, result.output
    refusal = next(r for r in tool_results(api) if r.startswith("REJECTED"))
    assert "HG008 contract-edited" in refusal
    outside_untouched(guarded, api)
    assert not (guarded.outside / "001.md").exists()
    green = next(c for c in git.Repo(guarded.project).iter_commits(doc["branch"]) if c.summary.startswith("green:"))
    committed = (green.tree / ".harness/contracts/001.md").data_stream.read().decode()
    assert "status: agreed" in committed and "frozen_tests" in committed


def test_the_read_only_contract_phase_commits_nothing_but_the_contract(
    drive: Drive, guarded: World, api: FakeMessagesAPI
) -> None:
    """The contract-phase agents have `bash`; whatever they leave in the worktree is never committed, with or
    without the sandbox (with it, their workspace is read-only)."""
    api.add(
        s.act("propose_contract", "bash", command="echo 'BACKDOOR = 1' > textkit/backdoor.py; ls textkit"),
        *s.contract_agreed(),
        *s.red_accepted(),
        *s.green_done(),
        s.submit_verdict(),
    )
    result, doc = drive(guarded.project)
    finished_honestly(result, doc, api)
    repo = git.Repo(guarded.project)
    contract = next(c for c in repo.iter_commits(doc["branch"]) if c.summary.startswith("contract:"))
    assert list(contract.stats.files) == [".harness/contracts/001.md"]
    assert not any("backdoor" in path for c in repo.iter_commits(doc["branch"]) for path in c.stats.files)
    outside_untouched(guarded, api)


@needs_bwrap
def test_the_batch_state_and_the_users_issues_are_out_of_reach(
    drive: Drive, guarded: World, api: FakeMessagesAPI
) -> None:
    """What the harness decides from lives outside the worktree: the issue files (an agent that marks its issue
    done), afk's DBOS database, and the lander's worktree. From inside the sandbox none of it can be written."""
    project = guarded.project
    targets = [
        project / ".harness" / "issues" / "001-slugify.md",
        project / ".harness" / "state" / "dbos.sqlite",
        project / ".harness" / "worktrees" / "lander" / "planted.py",
        project / "harness.toml",
    ]
    before = {t: hashlib.sha256(t.read_bytes()).hexdigest() if t.is_file() else None for t in targets}
    attempt = (
        "import pathlib\n"
        f"for target in {[str(t) for t in targets]!r}:\n"
        "    try:\n"
        "        with open(target, 'a') as f:\n"
        "            f.write('\\nstatus: done\\n')\n"
        "        print('WROTE', target)\n"
        "    except OSError as exc:\n"
        "        print('refused', type(exc).__name__, target)\n"
    )
    api.add(
        *s.contract_agreed(),
        s.act("tests_ready", "write", path="attempt.py", content=attempt),
        s.act("tests_ready", "bash", command="python3 attempt.py; rm attempt.py"),
        *s.red_accepted(),
        *s.green_done(),
        s.submit_verdict(),
    )
    result, doc = drive(project)
    finished_honestly(result, doc, api)
    # Judged outside: what the agent saw is a read-only checkout, or (under /tmp or $HOME, as here) none at all,
    # with the worktree's parent directories made up empty in the sandbox's private /tmp, gone afterwards.
    assert "refused" in next(r for r in tool_results(api) if "refused" in r)
    assert not (project / ".harness" / "worktrees" / "lander" / "planted.py").exists()
    for target in targets[:2] + targets[3:]:
        text = target.read_bytes() if target.is_file() else b""
        assert b"status: done\n\nstatus" not in text and not text.endswith(b"\nstatus: done\n"), target
    if (project / ".harness" / "state" / "dbos.sqlite").exists():
        assert before[targets[1]] is None  # made by this batch, which then finished on it
    outside_untouched(guarded, api)


# --------------------------------------------------------------------------- limits


def test_an_oversized_change_is_refused_before_it_reaches_the_object_store(
    drive: Drive, guarded: World, api: FakeMessagesAPI
) -> None:
    (guarded.project / "harness.toml").write_text(
        (guarded.project / "harness.toml").read_text() + "\n[limits]\nmax_added_bytes = 200000\nmax_added_files = 50\n"
    )
    repo = git.Repo(guarded.project)
    repo.git.add("harness.toml")
    repo.git.commit("-m", "limits", "--no-verify")
    guarded.before = guarded.snapshot()
    guarded.internals = hooks_and_index(guarded.project)  # type: ignore[attr-defined]
    guarded.before["home"] = digest(guarded.home)
    big = "x" * 300_000 + SENTINEL
    api.add(
        *s.contract_agreed(),
        *s.red_accepted(),
        s.act("implementation_ready", "write", path="data/blob.txt", content=big),
        s.act("implementation_ready", "bash", command="mkdir many && for i in $(seq 60); do echo $i > many/f$i; done"),
        s.implementation_ready(),
        s.act("implementation_ready", "bash", command="rm -r data many"),
        *s.green_done(),
        s.submit_verdict(),
    )
    result, doc = drive(guarded.project)
    finished_honestly(result, doc, api)
    refusal = next(r for r in tool_results(api) if r.startswith("REJECTED: the change adds"))
    assert "max_added_bytes" in refusal and "data/blob.txt" in refusal
    # The refused blob was never written to the user's object store.
    probe = guarded.outside / "probe.txt"
    probe.write_text(big)
    digest_id = repo.git.hash_object(str(probe))
    probe.unlink()
    with pytest.raises(git.GitCommandError):
        repo.git.cat_file("-e", digest_id)


@needs_bwrap
def test_a_forged_git_pointer_never_shows_the_sandbox_a_hidden_path(
    drive: Drive, guarded: World, api: FakeMessagesAPI
) -> None:
    """The sandbox binds the repository's git directory back into the hidden home or /tmp. Taken from the
    worktree's `.git` file, a forged pointer (`gitdir: fake`, `fake/commondir` naming `~/.ssh`) made the next
    command's sandbox show `~/.ssh`. The directories come from the harness's own record instead."""
    forge = guarded.fill(
        "import os; os.makedirs('fake', exist_ok=True); "
        "open('fake/commondir', 'w').write('{home}/.ssh'); open('.git', 'w').write('gitdir: fake\\n')"
    )
    api.add(
        *s.contract_agreed(),
        s.act("tests_ready", "write", path=s.TEST_FILE, content=s.RED_TESTS),
        s.act("tests_ready", "bash", command=f'python3 -c "{forge}"'),
        s.act("tests_ready", "bash", command=guarded.fill("cat {home}/.ssh/id_ed25519; ls {home}/.ssh")),
        s.tests_ready(),
    )
    result, doc = drive(guarded.project)
    blocked_for_tampering(result, doc, ".git pointer")
    assert not any(HOME_SECRET in r for r in tool_results(api))
    outside_untouched(guarded, api)


# --------------------------------------------------------------------------- the default is the sandbox


def test_the_default_confines_afk_and_refuses_it_without_the_sandbox(
    harness: Any, guarded: World, api: FakeMessagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sandbox = "auto"` (the default): on a machine without bubblewrap an attended `harness run` goes on with a
    warning, but an unattended batch refuses before anything durable exists — no branch, no state, no model call."""
    monkeypatch.setattr("harness.sandbox.find_bwrap", lambda: None)
    result = harness("afk", "--repo", str(guarded.project), "--json")
    assert result.exit_code == 2, result.output
    assert "an unattended run needs the sandbox" in result.output and 'sandbox = "none"' in result.output
    assert api.requests == []
    assert [h.name for h in git.Repo(guarded.project).heads if h.name.startswith("harness/")] == []
    assert not (guarded.project / ".harness" / "state").exists()
    assert not (guarded.project / ".harness" / "worktrees").exists()
    outside_untouched(guarded, api)


def test_without_the_sandbox_an_attended_run_warns_and_goes_on(
    harness: Any, guarded: World, api: FakeMessagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("harness.sandbox.find_bwrap", lambda: None)
    api.add(*s.happy_path())
    result = harness("run", "001", "--repo", str(guarded.project), "--json")
    assert result.exit_code == 0, result.output
    assert "warning: no sandbox" in result.output and "harness doctor" in result.output


@needs_bwrap
def test_the_harness_process_and_its_key_are_invisible(drive: Drive, guarded: World, api: FakeMessagesAPI) -> None:
    """The key is in the harness's environment; from the sandbox neither `/proc/$PPID/environ` nor any other
    process's environment shows it, and no process outside the sandbox's PID namespace is visible."""
    # A script, so the command policy (which refuses `cat /proc/$PPID/environ`) does not see it: the sandbox's part.
    sweep = (
        "import os, pathlib\n"
        "pids = [p for p in pathlib.Path('/proc').iterdir() if p.name.isdigit()]\n"
        "seen = 0\n"
        "for pid in [str(os.getppid())] + [p.name for p in pids]:\n"
        "    try:\n"
        "        seen += b'ANTHROPIC' in pathlib.Path(f'/proc/{pid}/environ').read_bytes()\n"
        "    except OSError:\n"
        "        pass\n"
        "print('ppid', os.getppid(), 'key seen', seen, 'processes', len(pids))\n"
    )
    api.add(
        *s.contract_agreed(),
        s.act("tests_ready", "write", path="sweep.py", content=sweep),
        s.act("tests_ready", "bash", command="python3 sweep.py; rm sweep.py"),
        *s.red_accepted(),
        *s.green_done(),
        s.submit_verdict(),
    )
    result, doc = drive(guarded.project)
    finished_honestly(result, doc, api)
    told = next(r for r in tool_results(api) if r.startswith("ppid "))
    words = told.split()
    assert words[3:5] == ["seen", "0"], told  # no environment with the key's name in it
    assert int(words[6]) < 10, told  # the sandbox's own few processes, not the machine's
    outside_untouched(guarded, api)
