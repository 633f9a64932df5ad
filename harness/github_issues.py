"""``harness slice --github``: the issue files become issues of the repository's GitHub project.

Issues are created blockers first, so each body can say ``Blocked by #N``; the number GitHub gives an
issue is recorded at once in its file (``github: N``), and an issue that has one is never created again.
So publishing twice creates nothing new, and a run that failed half-way resumes where it stopped.

Transport: the ``gh`` CLI when it is on PATH (it knows the repository and the user's login), else the REST
API with ``GITHUB_TOKEN`` (``GITHUB_API_URL``, ``GITHUB_REPOSITORY`` or the ``origin`` remote).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from harness import __version__, gitops
from harness.artifacts import Issue, find_issue, load_issue, set_issue_fields
from harness.errors import IncompleteError, UsageError
from harness.review.github import API_VERSION, DEFAULT_API_URL, TIMEOUT_SECONDS, _github_message
from harness.slicing import BLOCKED_BY_HEADING, NOT_BLOCKED

__all__ = ["issue_body", "publish", "publish_order", "repository_from_remote"]

USER_AGENT = f"harness/{__version__} (+slice)"
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_ISSUE_URL = re.compile(r"/issues/(\d+)\s*$")
_NO_TRANSPORT_HINT = (
    "install the GitHub CLI and run `gh auth login`, or set GITHUB_TOKEN to a token that may write issues "
    "(fine-grained: Issues read and write); for GitHub Enterprise also set GITHUB_API_URL"
)

# Creates one issue (title, body, the harness id for messages) and returns its number.
CreateIssue = Callable[[str, str, str], int]


def publish(root: Path, issue_paths: Sequence[Path], *, env: Mapping[str, str] | None = None) -> list[tuple[str, int]]:
    """Create the issues at ``issue_paths`` on GitHub, blockers first; record ``github: N`` in each file.

    Issues that already have a ``github`` number are skipped. Returns ``(id, number)`` of the issues created
    now, in creation order. Every file is read before anything is created; a failure stops at the issue it
    happened to, with the numbers of the issues created before it already recorded.
    """
    environ = os.environ if env is None else env
    issues = [(path, load_issue(path)) for path in issue_paths]
    ordered = publish_order(issues)
    if all(issue.github is not None for _, issue in ordered):
        return []
    create = _transport(root, environ)
    numbers = {issue.id: issue.github for _, issue in issues if issue.github is not None}
    created: list[tuple[str, int]] = []
    for path, issue in ordered:
        if issue.github is not None:
            continue
        blockers = {b: numbers.get(b) or _number_elsewhere(path.parent, b) for b in issue.blocked_by}
        number = create(issue.title, issue_body(issue, blockers), issue.id)
        set_issue_fields(path, github=str(number))
        numbers[issue.id] = number
        created.append((issue.id, number))
    return created


def publish_order(issues: Sequence[tuple[Path, Issue]]) -> list[tuple[Path, Issue]]:
    """The issues with every blocker among them before the issues it blocks, otherwise in the given order."""
    by_id = {issue.id: (path, issue) for path, issue in issues}
    placed: set[str] = set()
    ordered: list[tuple[Path, Issue]] = []
    remaining = list(issues)
    while remaining:
        ready = [
            (path, issue)
            for path, issue in remaining
            if all(b in placed or b not in by_id or b == issue.id for b in issue.blocked_by)
        ]
        if not ready:
            ids = ", ".join(issue.id for _, issue in remaining)
            raise UsageError(
                f"issues {ids} block each other in a cycle, so none of them can be created first",
                hint="remove one `blocked_by` entry of the cycle from the issue files, then publish again",
            )
        for item in ready:
            placed.add(item[1].id)
            ordered.append(item)
        remaining = [item for item in remaining if item[1].id not in placed]
    return ordered


def issue_body(issue: Issue, blockers: Mapping[str, int | None]) -> str:
    """The GitHub issue's body: the issue file's body with its blockers as ``Blocked by #N``, in one place:
    the body's own ``## Blocked by`` section (``render_issue`` writes one) rewritten from ``blocked_by``,
    else, when there are blockers, such a section added at the end."""
    links = [
        f"- Blocked by #{number}" if (number := blockers.get(b)) else f"- Blocked by issue {b} (not on GitHub)"
        for b in issue.blocked_by
    ]
    body = _with_section(issue.body.strip(), BLOCKED_BY_HEADING, links or [NOT_BLOCKED])
    if body is None:
        body = issue.body.strip() + ("\n\n" + "\n".join([BLOCKED_BY_HEADING, "", *links]) if links else "")
    origin = f"harness issue {issue.id}, {issue.kind}" + (f", PRD {issue.prd}" if issue.prd else "")
    return f"{body}\n\n_{origin}_\n"


_SECTION_END = re.compile(r"^#{1,2}\s")


def _with_section(body: str, heading: str, items: list[str]) -> str | None:
    """``body`` with the items of its section ``heading`` replaced by ``items``; None when it has no such section."""
    lines = body.splitlines()
    starts = [n for n, line in enumerate(lines) if line.strip().lower() == heading.lower()]
    if not starts:
        return None
    start = starts[0]
    end = next((n for n in range(start + 1, len(lines)) if _SECTION_END.match(lines[n])), len(lines))
    rest = lines[end:]
    return "\n".join([*lines[:start], heading, "", *items, *([""] if rest else []), *rest]).strip()


def _number_elsewhere(issues_dir: Path, issue_id: str) -> int | None:
    """The GitHub number of a blocker that is not being published now, when its file records one."""
    try:
        return load_issue(find_issue(issues_dir, issue_id)).github
    except UsageError:
        return None


# --------------------------------------------------------------------------- transports


def check_transport(root: Path, env: Mapping[str, str] | None = None) -> None:
    """Raise the ``UsageError`` publishing would raise, before anything is asked of a model or written: `gh` or a
    token is there, the API URL is sound, and the repository is known. Nothing is sent."""
    _transport(root, os.environ if env is None else env)


def _transport(root: Path, env: Mapping[str, str]) -> CreateIssue:
    gh = shutil.which("gh", path=env.get("PATH", os.defpath))
    if gh is not None:
        return _gh_creator(gh, root, env)
    token = (env.get("GITHUB_TOKEN") or "").strip()
    if not token:
        raise UsageError(
            "cannot create GitHub issues: the `gh` CLI is not on PATH and GITHUB_TOKEN is not set",
            hint=_NO_TRANSPORT_HINT,
        )
    api_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).strip().rstrip("/")
    if not api_url.startswith(("https://", "http://")):
        raise UsageError(
            f"GITHUB_API_URL is not an http(s) URL: {api_url!r}",
            hint=f"unset it to use {DEFAULT_API_URL}, or set it to your GitHub Enterprise API URL",
        )
    return _rest_creator(api_url, token, _repository(root, env))


def _gh_creator(gh: str, root: Path, env: Mapping[str, str]) -> CreateIssue:
    repo = (env.get("GITHUB_REPOSITORY") or "").strip()

    def create(title: str, body: str, issue_id: str) -> int:
        with tempfile.TemporaryDirectory(prefix="harness-gh-") as tmp:
            body_file = Path(tmp) / f"{issue_id}.md"
            body_file.write_text(body, encoding="utf-8")
            argv = [gh, "issue", "create", "--title", title, "--body-file", str(body_file)]
            if repo:
                argv += ["--repo", repo]
            try:
                done = subprocess.run(argv, cwd=root, env=dict(env), capture_output=True, text=True, timeout=120)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise IncompleteError(
                    f"`gh issue create` for issue {issue_id} ({title}) did not run: {exc}",
                    hint="check that `gh issue list` works in this repository, then publish again",
                ) from None
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()
            raise IncompleteError(
                f"`gh issue create` failed for issue {issue_id} ({title}), exit {done.returncode}: "
                + (" ".join(said[-3:]) or "no output"),
                hint="check `gh auth status` and that the repository has issues enabled, then publish again; "
                "issues already created are recorded and are not created twice",
            )
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        found = _ISSUE_URL.search(lines[-1]) if lines else None
        if found is None:
            raise IncompleteError(
                f"`gh issue create` for issue {issue_id} ({title}) printed no issue URL: {done.stdout.strip()!r}",
                hint=f"look for the issue on GitHub and record its number as `github: N` in issue {issue_id}'s file",
            )
        return int(found.group(1))

    return create


def _rest_creator(api_url: str, token: str, repo: str) -> CreateIssue:
    url = f"{api_url}/repos/{repo}/issues"

    def create(title: str, body: str, issue_id: str) -> int:
        request = urllib.request.Request(url, data=json.dumps({"title": title, "body": body}).encode(), method="POST")
        for name, value in (
            ("Authorization", f"Bearer {token}"),
            ("Accept", "application/vnd.github+json"),
            ("X-GitHub-Api-Version", API_VERSION),
            ("User-Agent", USER_AGENT),
            ("Content-Type", "application/json"),
        ):
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                data = json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            with exc:
                message = _github_message(exc.read()).replace(token, "***")
            raise _http_error(exc.code, message, issue_id, title, repo) from None
        except (OSError, ValueError) as exc:
            reason = str(getattr(exc, "reason", exc)).replace(token, "***")
            raise IncompleteError(
                f"creating issue {issue_id} ({title}) on {repo} failed: no usable answer from {api_url}: {reason}",
                hint="check the network and GITHUB_API_URL, then publish again; if the issue was created after all, "
                f"record its number as `github: N` in issue {issue_id}'s file first",
            ) from None
        number = data.get("number") if isinstance(data, dict) else None
        if isinstance(number, bool) or not isinstance(number, int):
            raise IncompleteError(
                f"GitHub's answer to creating issue {issue_id} ({title}) has no issue number",
                hint="check GITHUB_API_URL points to the GitHub REST API",
            )
        return number

    return create


def _http_error(status: int, message: str, issue_id: str, title: str, repo: str) -> IncompleteError:
    what = f"GitHub refused to create issue {issue_id} ({title}) on {repo}: {status} {message}".rstrip()
    hints = {
        401: "GITHUB_TOKEN is invalid or expired; set a valid token",
        403: "the token may not write issues: give it Issues read and write (in Actions: `permissions: issues: write`)",
        404: "check GITHUB_REPOSITORY (or the origin remote); a token without access to a private repository "
        "also gets 404",
        410: "the repository has issues turned off: enable them in its settings",
    }
    hint = hints.get(status, "fix the cause, then publish again")
    return IncompleteError(what, hint=f"{hint}; issues created before this one are recorded and not created again")


# --------------------------------------------------------------------------- repository


def _repository(root: Path, env: Mapping[str, str]) -> str:
    repo = (env.get("GITHUB_REPOSITORY") or "").strip()
    source = "GITHUB_REPOSITORY"
    if not repo:
        source = "the origin remote"
        try:
            done = gitops.in_checkout(root, ["remote", "get-url", "origin"], env=env)
        except OSError:
            done = None
        remote = done.stdout.decode(errors="replace").strip() if done is not None and done.returncode == 0 else ""
        repo = repository_from_remote(remote) or ""
        if not repo:
            raise UsageError(
                f"cannot tell which GitHub repository to create the issues in: GITHUB_REPOSITORY is not set and "
                f"{root} has no origin remote on GitHub" + (f" (origin is {remote!r})" if remote else ""),
                hint="set GITHUB_REPOSITORY=owner/repo, or `git remote add origin https://github.com/owner/repo`",
            )
    if not _REPO.match(repo):
        raise UsageError(f"{source} is not of the form owner/repo: {repo!r}", hint="set GITHUB_REPOSITORY=owner/repo")
    return repo


def repository_from_remote(url: str) -> str | None:
    """``owner/repo`` from a remote URL (``https://host/owner/repo.git``, ``git@host:owner/repo.git``,
    ``ssh://git@host:22/owner/repo``); ``None`` when it has no such path."""
    url = url.strip()
    if "://" in url:
        path = url.split("://", 1)[1].partition("/")[2]
    elif ":" in url:
        path = url.split(":", 1)[1]
    else:
        return None
    path = path.strip("/").removesuffix(".git")
    parts = path.split("/")
    if len(parts) < 2:
        return None
    repo = "/".join(parts[-2:])
    return repo if _REPO.match(repo) else None
