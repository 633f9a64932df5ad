"""Post a review to a GitHub pull request, idempotently, through the REST API (stdlib only).

Re-running on the same pull request never duplicates anything:

- the summary is one *sticky* issue comment, found again by ``SUMMARY_MARKER`` at the top of its body
  and edited in place;
- inline comments carry a fingerprint marker (``FINGERPRINT_MARKER``); a comment whose fingerprint is
  already on the pull request is skipped, and a review is only created when something new remains.

Errors end the command with exit 3 (``IncompleteError``) and say what to do; the token never appears in
a message. Transient failures (5xx, 429, rate-limit 403s, network errors) are retried a few times.
A POST that failed transiently is retried by redoing its whole step (list, then create or edit), so a
response lost after GitHub had already stored the comment cannot produce a second one.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from harness import __version__
from harness.errors import IncompleteError, UsageError
from harness.review.formats import FINGERPRINT_MARKER, REVIEW_MARKER, SUMMARY_MARKER, parse_state

__all__ = [
    "DEFAULT_API_URL",
    "PostResult",
    "Prior",
    "Target",
    "Thread",
    "post_review",
    "read_prior",
    "target_from_env",
]

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
USER_AGENT = f"harness/{__version__} (+review)"
PER_PAGE = 100
MAX_PAGES = 100  # 10,000 comments: far beyond any real pull request; stops a misbehaving server looping
ATTEMPTS = 4  # tries per request or step, the first included
MAX_WAIT_SECONDS = 60.0  # a longer Retry-After / rate-limit reset is reported instead of waited out in CI
TIMEOUT_SECONDS = 30.0
MAX_BODY_CHARS = 65536  # GitHub rejects longer comment bodies with a 422

_REPO_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_PERMISSION_HINT = (
    "give the job `permissions: pull-requests: write` and pass the token as `GITHUB_TOKEN`; "
    "on pull requests from forks the workflow token is read-only, so post from a separate job "
    "(the two-job workflow in docs/ci.md)"
)

_sleep: Callable[[float], None] = time.sleep  # tests replace this to record waits instead of sleeping
_T = TypeVar("_T")


@dataclass(frozen=True)
class Target:
    api_url: str
    token: str = field(repr=False)  # kept out of reprs, so out of tracebacks and logs
    repo: str
    pr: int


@dataclass(frozen=True)
class PostResult:
    review_id: int | None  # None: nothing new to comment inline, no review was created
    posted: int  # inline comments posted now
    skipped: int  # inline comments already on the pull request (same fingerprint)
    summary_comment_id: int
    summary_action: Literal["created", "updated"]
    resolved: int = 0  # threads of the harness's own findings that are fixed, resolved now
    dismissed_reviews: int = 0  # the harness's own stale "changes requested" reviews, dismissed now


@dataclass(frozen=True)
class Thread:
    """A review thread the harness started (its first comment carries a finding's fingerprint)."""

    id: str  # GraphQL node id
    fingerprint: str
    resolved: bool
    # a person resolved it, or answered it: the finding is theirs to judge now, and not raised again
    dismissed: bool


@dataclass(frozen=True)
class Prior:
    """What the pull request already shows of earlier reviews: the last reviewed head and its model findings
    (from the sticky summary's state marker), and the harness's review threads."""

    head: str | None = None
    findings: tuple[dict[str, Any], ...] = ()
    threads: tuple[Thread, ...] = ()

    @property
    def dismissed(self) -> frozenset[str]:
        return frozenset(t.fingerprint for t in self.threads if t.dismissed)


def target_from_env(pr: int | None = None, env: Mapping[str, str] | None = None) -> Target:
    """Where to post, from the variables GitHub Actions sets; raises ``UsageError`` naming what is missing."""
    env = os.environ if env is None else env
    api_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).strip().rstrip("/")
    if not api_url.startswith(("https://", "http://")):
        raise UsageError(
            f"GITHUB_API_URL is not an http(s) URL: {api_url!r}",
            hint=f"unset it to use {DEFAULT_API_URL}, or set it to your GitHub Enterprise API URL",
        )
    token = (env.get("GITHUB_TOKEN") or "").strip()
    if not token:
        raise UsageError(
            "GITHUB_TOKEN is not set: posting a review needs a GitHub token",
            hint="set GITHUB_TOKEN (in Actions: `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`) "
            "and give the job `permissions: pull-requests: write`",
        )
    repo = (env.get("GITHUB_REPOSITORY") or "").strip()
    if not repo:
        raise UsageError(
            "GITHUB_REPOSITORY is not set: the repository to post to is unknown",
            hint="set GITHUB_REPOSITORY=owner/repo (GitHub Actions sets it for every job)",
        )
    if not _REPO_PATTERN.match(repo):
        raise UsageError(
            f"GITHUB_REPOSITORY is not of the form owner/repo: {repo!r}",
            hint="set GITHUB_REPOSITORY=owner/repo",
        )
    number = pr if pr is not None else _pr_from_event(env.get("GITHUB_EVENT_PATH"))
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise UsageError(
            f"the pull request number must be a positive integer, got {number!r}",
            hint="pass the pull request number (`--pr N`), or run in a `pull_request` workflow",
        )
    return Target(api_url=api_url, token=token, repo=repo, pr=number)


def _pr_from_event(event_path: str | None) -> int:
    if not event_path:
        raise UsageError(
            "no pull request number: none was given and GITHUB_EVENT_PATH is not set",
            hint="pass the pull request number (`--pr N`), or run in a `pull_request` workflow (it sets the variable)",
        )
    try:
        with open(event_path, encoding="utf-8") as handle:
            event = json.load(handle)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read the event file GITHUB_EVENT_PATH={event_path}: {exc}",
            hint="pass the pull request number (`--pr N`), or run in a `pull_request` workflow",
        ) from None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    if isinstance(number, bool) or not isinstance(number, int):
        raise UsageError(
            f"the event at GITHUB_EVENT_PATH={event_path} has no pull_request.number "
            "(the workflow was not triggered by a pull request)",
            hint="pass the pull request number (`--pr N`), or run on `pull_request`",
        )
    return number


def post_review(
    payload: dict[str, Any], target: Target, *, current: Collection[str] | None = None, prior: Prior | None = None
) -> PostResult:
    """Post ``payload`` (``formats.to_github_review``) to ``target``: the sticky summary, then new inline comments.

    With ``current`` (every finding's fingerprint in this review, inline or not) the review converges: the
    harness's threads whose finding is gone are resolved, and its earlier "changes requested" reviews are
    dismissed when nothing blocks any more, or when this post requests changes anew. ``prior`` is what
    :func:`read_prior` read (read again when not given).
    """
    client = _Client(target)
    summary_body = _summary_body(str(payload.get("body") or ""))
    summary_id, action = _step(lambda: _upsert_summary(client, summary_body))
    review_id, posted, skipped = _step(lambda: _post_new_comments(client, payload))
    resolved = dismissed = 0
    if current is not None:
        threads = (prior if prior is not None else read_prior(target, client=client)).threads
        # a thread a person answered is theirs to close; the harness resolves only its own findings that are gone
        fixed = [t for t in threads if not (t.resolved or t.dismissed) and t.fingerprint not in set(current)]
        for thread in fixed:
            _step(lambda thread=thread: _resolve_thread(client, thread.id))  # type: ignore[misc]
        resolved = len(fixed)
        requests_changes = str(payload.get("event") or "COMMENT") == "REQUEST_CHANGES"
        head = str(payload.get("commit_id") or "")[:12]
        dismissed = _step(lambda: _dismiss_stale(client, review_id, requests_changes, head))
    return PostResult(
        review_id=review_id,
        posted=posted,
        skipped=skipped,
        summary_comment_id=summary_id,
        summary_action=action,
        resolved=resolved,
        dismissed_reviews=dismissed,
    )


def read_prior(target: Target, *, client: _Client | None = None) -> Prior:
    """The earlier reviews' state on the pull request: the sticky summary's state marker and the harness's
    review threads (through GraphQL: REST does not say whether a thread is resolved). Needs only read access."""
    client = client or _Client(target)
    repo, pr = target.repo, target.pr
    # Anyone may comment on a pull request, and a comment that imitates the summary could claim "reviewed up to
    # HEAD~1, no findings": the state counts only from a summary an app wrote (a person's token is never a Bot).
    summary = _step(
        lambda: next(
            (
                c
                for c in client.paginate(f"/repos/{repo}/issues/{pr}/comments")
                if _is_summary(c) and (c.get("user") or {}).get("type") == "Bot"
            ),
            None,
        )
    )
    state = parse_state(str(summary.get("body") or "")) if summary else {}
    threads = _step(lambda: _threads(client))
    findings = tuple(f for f in state.get("findings", []) if isinstance(f, dict))
    head = state.get("head") if isinstance(state.get("head"), str) else None
    return Prior(head=head, findings=findings, threads=tuple(threads))


# ----------------------------------------------------------------------------------------------------
# The two steps


def _summary_body(body: str) -> str:
    if not body.lstrip().startswith(SUMMARY_MARKER):
        body = f"{SUMMARY_MARKER}\n{body}"
    if len(body) > MAX_BODY_CHARS:
        note = "\n\n… (truncated: the full report is in the workflow run's review artifact)"
        body = body[: MAX_BODY_CHARS - len(note)] + note
    return body


def _is_summary(comment: Mapping[str, Any]) -> bool:
    # "Starts with", not "contains": a reply quoting the summary starts with "> " and must not be taken over.
    body = comment.get("body")
    return isinstance(body, str) and body.lstrip().startswith(SUMMARY_MARKER)


def _upsert_summary(client: _Client, body: str) -> tuple[int, Literal["created", "updated"]]:
    repo, pr = client.target.repo, client.target.pr
    existing = next((c for c in client.paginate(f"/repos/{repo}/issues/{pr}/comments") if _is_summary(c)), None)
    if existing is not None:
        comment_id = int(existing["id"])
        client.request("PATCH", f"/repos/{repo}/issues/comments/{comment_id}", {"body": body})
        return comment_id, "updated"
    created = client.request("POST", f"/repos/{repo}/issues/{pr}/comments", {"body": body})
    return int(created["id"]), "created"


def _comment_key(comment: Mapping[str, Any]) -> str:
    """The fingerprint in the comment's body; without one, its place and text (so re-runs still match)."""
    body = str(comment.get("body") or "")
    found = FINGERPRINT_MARKER.findall(body)
    if found:
        return f"fp:{found[-1]}"
    line = comment.get("line") if comment.get("line") is not None else comment.get("original_line")
    return f"at:{comment.get('path')}:{line}:{' '.join(body.split())}"


def _post_new_comments(client: _Client, payload: Mapping[str, Any]) -> tuple[int | None, int, int]:
    repo, pr = client.target.repo, client.target.pr
    wanted = [c for c in payload.get("comments") or [] if isinstance(c, dict)]
    if not wanted:
        return None, 0, 0
    seen = {_comment_key(c) for c in client.paginate(f"/repos/{repo}/pulls/{pr}/comments")}
    remaining: list[dict[str, Any]] = []
    for comment in wanted:
        key = _comment_key(comment)
        if key not in seen:
            seen.add(key)  # the same finding twice in one payload is posted once
            remaining.append(comment)
    skipped = len(wanted) - len(remaining)
    if not remaining:
        return None, 0, skipped
    count = len(remaining)
    review: dict[str, Any] = {
        "event": str(payload.get("event") or "COMMENT"),
        "body": f"harness review: {count} new finding{'s' if count != 1 else ''}; "
        f"the full summary is in the sticky comment\n\n{REVIEW_MARKER}",
        "comments": remaining,
    }
    if payload.get("commit_id"):
        review["commit_id"] = payload["commit_id"]
    try:
        created = client.request("POST", f"/repos/{repo}/pulls/{pr}/reviews", review)
    except _Rejected as exc:
        # GitHub refuses REQUEST_CHANGES on the token owner's own pull request (a personal token on your own
        # PR); the findings still matter, so they go out as a plain comment review.
        if review["event"] == "COMMENT" or "own pull request" not in exc.message:
            raise
        review["event"] = "COMMENT"
        created = client.request("POST", f"/repos/{repo}/pulls/{pr}/reviews", review)
    return int(created["id"]), count, skipped


_THREADS_QUERY = """
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id
          isResolved
          resolvedBy { login }
          comments(first: 50) { nodes { databaseId body author { login } } }
        }
      }
    }
  }
}
"""
_RESOLVE_MUTATION = """
mutation($id: ID!) {
  resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } }
}
"""


def _threads(client: _Client) -> list[Thread]:
    owner, name = client.target.repo.split("/", 1)
    variables: dict[str, Any] = {"owner": owner, "name": name, "number": client.target.pr, "after": None}
    found: list[Thread] = []
    for _ in range(MAX_PAGES):
        data = client.graphql(_THREADS_QUERY, variables)
        pull = ((data.get("repository") or {}).get("pullRequest")) or {}
        page = pull.get("reviewThreads") or {}
        for node in page.get("nodes") or []:
            thread = _our_thread(node)
            if thread is not None:
                found.append(thread)
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return found
        variables["after"] = info.get("endCursor")
    raise IncompleteError(f"GitHub returned more than {MAX_PAGES} pages of review threads")


def _our_thread(node: Mapping[str, Any]) -> Thread | None:
    comments = [c for c in ((node.get("comments") or {}).get("nodes") or []) if isinstance(c, dict)]
    if not comments:
        return None
    markers = FINGERPRINT_MARKER.findall(str(comments[0].get("body") or ""))
    if not markers:
        return None  # a person's thread: not the harness's to resolve
    ours = _login(comments[0])
    resolved = bool(node.get("isResolved"))
    by = _login(node.get("resolvedBy"))
    answered = any(_login(c) != ours for c in comments[1:])
    return Thread(
        id=str(node.get("id")),
        fingerprint=markers[-1],
        resolved=resolved,
        dismissed=answered or (resolved and by is not None and by != ours),
    )


def _login(item: Any) -> str | None:
    author = item.get("author") if isinstance(item, Mapping) and "author" in item else item
    login = author.get("login") if isinstance(author, Mapping) else None
    return str(login) if login else None


def _resolve_thread(client: _Client, thread_id: str) -> None:
    client.graphql(_RESOLVE_MUTATION, {"id": thread_id})


def _dismiss_stale(client: _Client, new_review: int | None, requests_changes: bool, head: str) -> int:
    """Dismiss the harness's own earlier "changes requested" reviews that no longer stand: all of them when this
    review blocks nothing; the older ones when this post created a new one that requests changes."""
    if requests_changes and new_review is None:
        return 0  # still blocking, nothing new: the standing review stays
    repo, pr = client.target.repo, client.target.pr
    stale = [
        r
        for r in client.paginate(f"/repos/{repo}/pulls/{pr}/reviews")
        if r.get("state") == "CHANGES_REQUESTED" and _is_our_review(r) and r.get("id") != new_review
    ]
    why = (
        f"superseded by the harness review of {head}"
        if requests_changes
        else f"the findings that requested changes are fixed as of {head}"
    )
    for review in stale:
        path = f"/repos/{repo}/pulls/{pr}/reviews/{int(review['id'])}/dismissals"
        client.request("PUT", path, {"message": why, "event": "DISMISS"})
    return len(stale)


def _is_our_review(review: Mapping[str, Any]) -> bool:
    body = str(review.get("body") or "")
    return REVIEW_MARKER in body or body.startswith("harness review:")


# ----------------------------------------------------------------------------------------------------
# HTTP


class _Transient(Exception):
    """A failure worth retrying (5xx, rate limit, network); ``wait`` is how long to wait first, if known."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.wait = wait


class _Rejected(IncompleteError):
    """GitHub answered 422: the request is well-formed but refused (its message says why)."""


def _backoff(attempt: int, wait: float | None) -> float:
    return min(MAX_WAIT_SECONDS, wait if wait is not None else 2.0 ** (attempt - 1))


def _step(action: Callable[[], _T]) -> _T:
    """Run a list-then-write step, redoing all of it after a transient failure."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return action()
        except _Transient as exc:
            if attempt == ATTEMPTS:
                raise _gave_up(exc) from None
            _sleep(_backoff(attempt, exc.wait))
    raise AssertionError("unreachable")


def _gave_up(exc: _Transient) -> IncompleteError:
    return IncompleteError(
        f"GitHub did not answer successfully after {ATTEMPTS} attempts: {exc.message}",
        hint="GitHub may be having an outage (https://www.githubstatus.com); re-run the job — "
        "posting is idempotent, nothing is duplicated",
    )


class _Client:
    def __init__(self, target: Target) -> None:
        self.target = target
        self._origin = urllib.parse.urlsplit(target.api_url)[:2]

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("https://", "http://")):
            if urllib.parse.urlsplit(path_or_url)[:2] != self._origin:
                # Never send the token to another host, whatever a Link header says.
                raise IncompleteError(
                    f"GitHub's pagination pointed to another host: {self._redact(path_or_url)}",
                    hint="check GITHUB_API_URL",
                )
            return path_or_url
        return self.target.api_url + path_or_url

    def _redact(self, text: str) -> str:
        return text.replace(self.target.token, "***") if self.target.token else text

    def request(self, method: str, path_or_url: str, body: Any = None) -> Any:
        return self._send(method, path_or_url, body)[0]

    def graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` of a GraphQL call; GitHub answers errors with 200 and an ``errors`` list."""
        answer = self.request("POST", self._graphql_url(), {"query": query, "variables": dict(variables)})
        if not isinstance(answer, dict):
            raise IncompleteError("GitHub's GraphQL API answered with something that is not an object")
        errors = answer.get("errors")
        if errors:
            first = errors[0] if isinstance(errors, list) and errors else errors
            message = first.get("message") if isinstance(first, dict) else str(first)
            raise IncompleteError(
                f"GitHub's GraphQL API refused the request: {self._redact(str(message))}", hint=_PERMISSION_HINT
            )
        data = answer.get("data")
        return data if isinstance(data, dict) else {}

    def _graphql_url(self) -> str:
        # api.github.com/graphql; GitHub Enterprise Server: https://HOST/api/v3 -> https://HOST/api/graphql
        api = self.target.api_url
        return api[: -len("/v3")] + "/graphql" if api.endswith("/api/v3") else api + "/graphql"

    def paginate(self, path: str) -> Iterator[dict[str, Any]]:
        url: str | None = f"{path}?{urllib.parse.urlencode({'per_page': PER_PAGE})}"
        for _ in range(MAX_PAGES):
            if url is None:
                return
            page, headers = self._send("GET", url, None)
            if not isinstance(page, list):
                raise IncompleteError(
                    f"GitHub answered GET {path} with {type(page).__name__}, not a list",
                    hint="check GITHUB_API_URL points to the GitHub REST API",
                )
            yield from (item for item in page if isinstance(item, dict))
            found = _LINK_NEXT.search(headers.get("link", ""))
            url = found.group(1) if found else None
        raise IncompleteError(f"GitHub returned more than {MAX_PAGES} pages for GET {path}")

    def _send(self, method: str, path_or_url: str, body: Any) -> tuple[Any, dict[str, str]]:
        """One request, retried in place when that is safe; a POST's transient failure goes up to its step."""
        url = self._url(path_or_url)
        where = f"{method} {urllib.parse.urlsplit(url).path}"
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._once(method, url, body, where)
            except _Transient as exc:
                if method == "POST":
                    raise
                if attempt == ATTEMPTS:
                    raise _gave_up(exc) from None
                _sleep(_backoff(attempt, exc.wait))
        raise AssertionError("unreachable")

    def _once(self, method: str, url: str, body: Any, where: str) -> tuple[Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.target.token}")
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("User-Agent", USER_AGENT)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                raw = response.read()
                headers = {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            with exc:
                raw_error = exc.read()
                error_headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
            raise self._error(exc.code, raw_error, error_headers, where) from None
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets, truncated responses
            reason = getattr(exc, "reason", exc)
            raise _Transient(f"{where}: cannot reach {self.target.api_url}: {self._redact(str(reason))}") from None
        if not raw.strip():
            return None, headers
        try:
            return json.loads(raw), headers
        except ValueError:
            raise IncompleteError(
                f"GitHub answered {where} with something that is not JSON",
                hint="check GITHUB_API_URL points to the GitHub REST API",
            ) from None

    def _error(self, status: int, raw: bytes, headers: Mapping[str, str], where: str) -> Exception:
        message = self._redact(_github_message(raw))
        described = f"{status} {message}" if message else str(status)
        wait = _retry_wait(headers)
        rate_limited = status == 429 or (
            status == 403
            and (
                headers.get("x-ratelimit-remaining") == "0"
                or "retry-after" in headers
                or "rate limit" in message.lower()
            )
        )
        if status >= 500 or rate_limited:
            if wait is not None and wait > MAX_WAIT_SECONDS:
                return IncompleteError(
                    f"GitHub rate limit reached ({where}: {described}); it resets in {wait:.0f}s",
                    hint="re-run the job later; posting is idempotent, nothing is duplicated",
                )
            return _Transient(f"{where}: {described}", wait)
        target = self.target
        if status == 401:
            return IncompleteError(
                f"GitHub refused the token ({where}: {described}): it is missing, invalid or expired",
                hint=_PERMISSION_HINT,
            )
        if status == 403:
            return IncompleteError(
                f"GitHub refused {where} ({described}): the token lacks permission to comment on "
                f"{target.repo}#{target.pr}",
                hint=_PERMISSION_HINT,
            )
        if status == 404:
            return IncompleteError(
                f"GitHub found no pull request {target.repo}#{target.pr} ({where}: {described})",
                hint="check GITHUB_REPOSITORY and the pull request number; a token without access to a private "
                "repository also gets 404",
            )
        if status == 422:
            return _Rejected(
                f"GitHub rejected {where} (422): {message or 'Unprocessable Entity'}",
                hint="an inline comment outside the pull request's diff is refused; the report must only comment "
                "on lines the diff shows (re-run the review against the pull request's current base and head)",
            )
        return IncompleteError(f"GitHub answered {where} with {described}")


def _github_message(raw: bytes) -> str:
    """GitHub's error text: ``message`` plus the ``errors`` details that say what exactly was wrong."""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace").strip()[:300]
    if not isinstance(data, dict):
        return ""
    parts = [str(data.get("message") or "").strip()]
    errors = data.get("errors")
    for item in errors if isinstance(errors, list) else []:
        if isinstance(item, dict):
            text = item.get("message") or " ".join(str(item.get(k)) for k in ("field", "code") if item.get(k))
        else:
            text = str(item)
        if text:
            parts.append(str(text).strip())
    return ": ".join(p for p in parts if p)


def _retry_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait according to ``Retry-After`` (seconds or a date) or ``X-RateLimit-Reset``."""
    value = headers.get("retry-after")
    if value is not None:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    if headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset", "")
        if reset.isdigit():
            return max(0.0, float(reset) - time.time())
    return None
