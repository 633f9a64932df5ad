"""``harness slice --github``: issues created blockers first, numbers recorded, nothing created twice.

The REST path runs against ``tests/fakegithub.py``; the ``gh`` path against a fake ``gh`` on PATH that
records its arguments.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakegithub import FakeGitHub

from harness import frontmatter
from harness.artifacts import load_issue
from harness.errors import EXIT_USAGE, IncompleteError, UsageError
from harness.github_issues import issue_body, publish, repository_from_remote

TOKEN = "ghs_issue_token_never_printed"
REPO = "octo/demo"


def write_issue(directory: Path, id: str, title: str, **meta: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{id}-{title.lower().replace(' ', '-')}.md"
    meta = {"id": id, "title": title, "prd": "notes", "kind": "AFK", "status": "todo", **meta}
    body = f"## What to build\n\n{title}, end to end.\n\n## Acceptance criteria\n\n- [ ] {title} works\n"
    path.write_text(frontmatter.render(meta, body), encoding="utf-8")
    return path


@pytest.fixture
def issues(tmp_path: Path) -> list[Path]:
    """Given in an order where each issue comes before its blockers."""
    directory = tmp_path / ".harness" / "issues"
    return [
        write_issue(directory, "003", "Search notes", blocked_by=["001", "002"]),
        write_issue(directory, "002", "List notes", blocked_by=["001"], kind="HITL"),
        write_issue(directory, "001", "Add a note"),
    ]


@pytest.fixture
def no_gh(tmp_path: Path) -> str:
    """A PATH with git and no gh."""
    bin_dir = tmp_path / "bin-without-gh"
    bin_dir.mkdir()
    git = shutil.which("git")
    assert git is not None
    (bin_dir / "git").symlink_to(git)
    return str(bin_dir)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(repo=REPO, token=TOKEN) as server:
        yield server


def rest_env(server: FakeGitHub, path: str, **more: str) -> dict[str, str]:
    return {"PATH": path, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": server.api_url, "GITHUB_REPOSITORY": REPO, **more}


# --------------------------------------------------------------------------- REST


def test_issues_are_created_blockers_first_and_numbered_in_their_files(
    tmp_path: Path, issues: list[Path], github: FakeGitHub, no_gh: str
) -> None:
    github.add_pull(1)  # issue numbers continue after pull requests, as on GitHub
    created = publish(tmp_path, issues, env=rest_env(github, no_gh))
    assert created == [("001", 2), ("002", 3), ("003", 4)]
    assert [load_issue(p).github for p in issues] == [4, 3, 2]
    assert github.issues[2]["title"] == "Add a note"
    search = github.issues[4]["body"]
    assert "- Blocked by #2\n- Blocked by #3\n" in search
    assert "Search notes works" in search and "harness issue 003" in search
    assert "HITL" in github.issues[3]["body"]
    post = github.calls("POST", "/issues$")[0]
    assert post.headers["authorization"] == f"Bearer {TOKEN}"


def test_publishing_twice_creates_nothing_new(
    tmp_path: Path, issues: list[Path], github: FakeGitHub, no_gh: str
) -> None:
    publish(tmp_path, issues, env=rest_env(github, no_gh))
    before = [p.read_bytes() for p in issues]
    requests = len(github.requests)
    assert publish(tmp_path, issues, env=rest_env(github, no_gh)) == []
    assert publish(tmp_path, issues, env={"PATH": no_gh}) == []  # nothing to do needs no credentials either
    assert len(github.requests) == requests
    assert [p.read_bytes() for p in issues] == before


def test_recording_the_number_keeps_the_rest_of_the_file(
    tmp_path: Path, issues: list[Path], github: FakeGitHub, no_gh: str
) -> None:
    before = issues[2].read_text(encoding="utf-8")
    publish(tmp_path, [issues[2]], env=rest_env(github, no_gh))
    assert issues[2].read_text(encoding="utf-8") == before.replace("status: todo\n", "status: todo\ngithub: 1\n")


def test_a_failure_names_the_issue_and_status_and_a_re_run_resumes(
    tmp_path: Path, issues: list[Path], github: FakeGitHub, no_gh: str
) -> None:
    env = rest_env(github, no_gh)
    github.fail_next(500, method="POST", path="/issues$")
    with pytest.raises(IncompleteError) as failed:
        publish(tmp_path, issues, env=env)
    assert "issue 001 (Add a note)" in failed.value.message and ": 500 " in failed.value.message
    assert "not created again" in (failed.value.hint or "")
    assert [load_issue(p).github for p in issues] == [None, None, None]
    assert publish(tmp_path, issues, env=env) == [("001", 1), ("002", 2), ("003", 3)]
    assert len(github.calls("POST", "/issues$")) == 4  # the failed one and three created


def test_a_failure_mid_way_keeps_the_numbers_already_recorded(
    tmp_path: Path, issues: list[Path], github: FakeGitHub, no_gh: str
) -> None:
    env = rest_env(github, no_gh)
    publish(tmp_path, [issues[2]], env=env)
    github.read_only = True
    with pytest.raises(IncompleteError) as failed:
        publish(tmp_path, issues, env=env)
    assert "issue 002 (List notes)" in failed.value.message and "403" in failed.value.message
    assert "Issues read and write" in (failed.value.hint or "")
    assert TOKEN not in str(failed.value)
    assert [load_issue(p).github for p in issues] == [None, None, 1]
    github.read_only = False
    assert publish(tmp_path, issues, env=env) == [("002", 2), ("003", 3)]


@pytest.mark.parametrize(
    ("setup", "status", "hint"),
    [
        ({"issues_enabled": False}, "410", "issues turned off"),
        ({"token": "another"}, "401", "invalid or expired"),
        ({"repo": "someone/else"}, "404", "GITHUB_REPOSITORY"),
    ],
)
def test_http_errors_say_what_to_do(
    tmp_path: Path, issues: list[Path], no_gh: str, setup: dict[str, Any], status: str, hint: str
) -> None:
    with FakeGitHub(**{"repo": REPO, "token": TOKEN, **setup}) as server, pytest.raises(IncompleteError) as failed:
        publish(tmp_path, issues, env=rest_env(server, no_gh))
    assert f"issue 001 (Add a note) on {REPO}: {status}" in failed.value.message
    assert hint in (failed.value.hint or "")


def test_an_unreachable_api_is_reported(tmp_path: Path, issues: list[Path], no_gh: str) -> None:
    env = {"PATH": no_gh, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": "http://127.0.0.1:9", "GITHUB_REPOSITORY": REPO}
    with pytest.raises(IncompleteError, match=r"issue 001 .* no usable answer from http://127\.0\.0\.1:9"):
        publish(tmp_path, issues, env=env)


def test_without_gh_or_a_token_it_says_what_to_set(tmp_path: Path, issues: list[Path], no_gh: str) -> None:
    with pytest.raises(UsageError) as failed:
        publish(tmp_path, issues, env={"PATH": no_gh, "GITHUB_REPOSITORY": REPO})
    assert failed.value.exit_code == EXIT_USAGE
    assert "GITHUB_TOKEN" in failed.value.message and "gh" in failed.value.message
    assert "gh auth login" in (failed.value.hint or "")


def test_a_bad_api_url_is_a_usage_error(tmp_path: Path, issues: list[Path], no_gh: str) -> None:
    env = {"PATH": no_gh, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": "ftp://x", "GITHUB_REPOSITORY": REPO}
    with pytest.raises(UsageError, match="GITHUB_API_URL"):
        publish(tmp_path, issues, env=env)


def _git_repo(root: Path, origin: str | None) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    if origin:
        subprocess.run(["git", "-C", str(root), "remote", "add", "origin", origin], check=True)


@pytest.mark.parametrize("origin", ["https://github.com/octo/demo.git", "git@github.com:octo/demo.git"])
def test_the_repository_comes_from_the_origin_remote(
    tmp_path: Path, issues: list[Path], github: FakeGitHub, no_gh: str, origin: str
) -> None:
    _git_repo(tmp_path, origin)
    env = rest_env(github, no_gh)
    del env["GITHUB_REPOSITORY"]
    assert publish(tmp_path, issues, env=env) == [("001", 1), ("002", 2), ("003", 3)]


@pytest.mark.parametrize("origin", [None, "/srv/git/project.git"])
def test_no_repository_to_publish_to_is_a_usage_error(
    tmp_path: Path, issues: list[Path], no_gh: str, origin: str | None
) -> None:
    _git_repo(tmp_path, origin)
    env = {"PATH": no_gh, "GITHUB_TOKEN": TOKEN}
    with pytest.raises(UsageError, match="GITHUB_REPOSITORY is not set") as failed:
        publish(tmp_path, issues, env=env)
    assert "GITHUB_REPOSITORY=owner/repo" in (failed.value.hint or "")


@pytest.mark.parametrize(
    ("url", "repo"),
    [
        ("https://github.com/octo/demo.git", "octo/demo"),
        ("https://github.com/octo/demo", "octo/demo"),
        ("https://github.com/octo/demo/", "octo/demo"),
        ("https://user:pw@github.example.com/org/team/tool.git", "team/tool"),
        ("git@github.com:octo/demo.git", "octo/demo"),
        ("ssh://git@github.com:22/octo/demo.git", "octo/demo"),
        ("git@github.com:demo", None),
        ("/srv/git/project.git", None),
        ("", None),
    ],
)
def test_repository_from_remote(url: str, repo: str | None) -> None:
    assert repository_from_remote(url) == repo


def test_blockers_outside_the_published_set_are_referenced_by_their_recorded_number(
    tmp_path: Path, github: FakeGitHub, no_gh: str
) -> None:
    directory = tmp_path / "issues"
    write_issue(directory, "001", "Done before", status="done", github=41)
    write_issue(directory, "002", "Local only", status="done")
    new = write_issue(directory, "003", "New work", blocked_by=["001", "002", "009"])
    publish(tmp_path, [new], env=rest_env(github, no_gh))
    body = github.issues[1]["body"]
    assert "- Blocked by #41\n" in body
    assert "- Blocked by issue 002 (not on GitHub)\n" in body and "- Blocked by issue 009 (not on GitHub)\n" in body


def test_a_cycle_is_refused_before_anything_is_created(tmp_path: Path, github: FakeGitHub, no_gh: str) -> None:
    directory = tmp_path / "issues"
    paths = [
        write_issue(directory, "001", "One", blocked_by=["002"]),
        write_issue(directory, "002", "Two", blocked_by=["001"]),
    ]
    with pytest.raises(UsageError, match="issues 001, 002 block each other in a cycle"):
        publish(tmp_path, paths, env=rest_env(github, no_gh))
    assert github.requests == []


def test_an_unreadable_issue_file_is_refused_before_anything_is_created(
    tmp_path: Path, issues: list[Path], github: FakeGitHub, no_gh: str
) -> None:
    broken = issues[0].parent / "004-broken.md"
    broken.write_text("---\ntitle: no criteria\n---\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"004-broken\.md"):
        publish(tmp_path, [*issues, broken], env=rest_env(github, no_gh))
    assert github.requests == []


def test_issue_body_without_blockers() -> None:
    from harness.artifacts import Issue

    issue = Issue(id="007", title="T", body="- [ ] works\n", kind="HITL")
    assert issue_body(issue, {}) == "- [ ] works\n\n_harness issue 007, HITL_\n"


# --------------------------------------------------------------------------- gh


FAKE_GH = """\
#!{python}
import json, os, pathlib, sys
log = pathlib.Path(os.environ["FAKE_GH_LOG"])
argv = sys.argv[1:]
body = pathlib.Path(argv[argv.index("--body-file") + 1]).read_text(encoding="utf-8")
calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
title = argv[argv.index("--title") + 1]
if title == os.environ.get("FAKE_GH_FAIL_TITLE"):
    print("GraphQL: Could not resolve to a Repository with the name 'octo/demo'.", file=sys.stderr)
    sys.exit(1)
with log.open("a") as handle:
    handle.write(json.dumps({{"argv": argv, "body": body, "cwd": os.getcwd()}}) + "\\n")
print("Creating issue in octo/demo\\n", file=sys.stderr)
print(f"https://github.com/octo/demo/issues/{{100 + len(calls)}}")
"""


@pytest.fixture
def fake_gh(tmp_path: Path, no_gh: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin-with-gh"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH.format(python=sys.executable), encoding="utf-8")
    gh.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{no_gh}", "FAKE_GH_LOG": str(tmp_path / "gh-calls.jsonl")}


def gh_calls(env: dict[str, str]) -> list[dict[str, Any]]:
    log = Path(env["FAKE_GH_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_gh_on_path_creates_the_issues_and_its_urls_give_the_numbers(
    tmp_path: Path, issues: list[Path], fake_gh: dict[str, str]
) -> None:
    created = publish(tmp_path, issues, env=fake_gh)  # no token needed: gh has its own login
    assert created == [("001", 100), ("002", 101), ("003", 102)]
    calls = gh_calls(fake_gh)
    titles = ["Add a note", "List notes", "Search notes"]
    assert [c["argv"][:4] for c in calls] == [["issue", "create", "--title", t] for t in titles]
    assert all("--repo" not in c["argv"] for c in calls)
    assert {c["cwd"] for c in calls} == {str(tmp_path)}
    assert "- Blocked by #100\n- Blocked by #101\n" in calls[2]["body"]
    assert [load_issue(p).github for p in issues] == [102, 101, 100]
    assert publish(tmp_path, issues, env=fake_gh) == []
    assert len(gh_calls(fake_gh)) == 3


def test_gh_is_told_the_repository_when_it_is_set(tmp_path: Path, issues: list[Path], fake_gh: dict[str, str]) -> None:
    publish(tmp_path, issues[2:], env={**fake_gh, "GITHUB_REPOSITORY": REPO})
    assert gh_calls(fake_gh)[0]["argv"][-2:] == ["--repo", REPO]


def test_a_gh_failure_names_the_issue_and_keeps_earlier_numbers(
    tmp_path: Path, issues: list[Path], fake_gh: dict[str, str]
) -> None:
    env = {**fake_gh, "FAKE_GH_FAIL_TITLE": "List notes"}
    with pytest.raises(IncompleteError) as failed:
        publish(tmp_path, issues, env=env)
    assert "issue 002 (List notes), exit 1" in failed.value.message
    assert "Could not resolve to a Repository" in failed.value.message
    assert "gh auth status" in (failed.value.hint or "")
    assert [load_issue(p).github for p in issues] == [None, None, 100]
    assert publish(tmp_path, issues, env=fake_gh) == [("002", 101), ("003", 102)]


def test_gh_output_without_an_issue_url_is_reported(tmp_path: Path, issues: list[Path], no_gh: str) -> None:
    bin_dir = tmp_path / "bin-odd-gh"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f"#!{sys.executable}\nprint('done')\n", encoding="utf-8")
    gh.chmod(0o755)
    with pytest.raises(IncompleteError, match="printed no issue URL"):
        publish(tmp_path, issues, env={"PATH": f"{bin_dir}{os.pathsep}{no_gh}"})
    assert [load_issue(p).github for p in issues] == [None, None, None]


def test_a_sliced_body_keeps_one_blocked_by_section_with_the_github_numbers(tmp_path: Path) -> None:
    path = tmp_path / "002-list-notes.md"
    body = (
        "## Parent PRD\n\n`notes`\n\n## What to build\n\nList them.\n\n## Acceptance criteria\n\n"
        "- [ ] they are listed\n\n## Blocked by\n\n- Issue 001: Add a note\n- Issue 009\n\n"
        "## User stories\n\n- Story 1\n"
    )
    meta = {"id": "002", "title": "List notes", "prd": "notes", "blocked_by": ["001", "009"]}
    path.write_text(frontmatter.render(meta, body), encoding="utf-8")
    text = issue_body(load_issue(path), {"001": 7, "009": None})
    assert text.count("## Blocked by") == 1
    assert "## Blocked by\n\n- Blocked by #7\n- Blocked by issue 009 (not on GitHub)\n\n## User stories\n" in text
    assert "Issue 001: Add a note" not in text and text.endswith("_harness issue 002, AFK, PRD notes_\n")


def test_an_unblocked_sliced_body_says_it_can_start(tmp_path: Path) -> None:
    path = tmp_path / "001-add.md"
    body = "## Acceptance criteria\n\n- [ ] saved\n\n## Blocked by\n\nNone — can start at once\n"
    path.write_text(frontmatter.render({"id": "001", "title": "Add"}, body), encoding="utf-8")
    text = issue_body(load_issue(path), {})
    assert text == body.strip() + "\n\n_harness issue 001, AFK_\n"
