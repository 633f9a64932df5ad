"""A fake GitHub API on loopback: just the REST endpoints and GraphQL fields ``harness.review.github`` uses.

A real HTTP server (``ThreadingHTTPServer`` in a daemon thread) with in-memory state per pull request::

    with FakeGitHub(repo="octo/demo", token="ghs_test") as gh:
        gh.add_pull(7, commentable={"src/app.py": [10, 11, 12]}, commentable_left={"src/app.py": [4]})
        target = Target(gh.api_url, "ghs_test", "octo/demo", 7)

REST endpoints (everything else answers 404 like GitHub does):

- ``GET/POST /repos/{repo}/issues/{pr}/comments``, ``PATCH /repos/{repo}/issues/comments/{id}``
- ``GET /repos/{repo}/pulls/{pr}/comments`` (review comments; a reply has ``in_reply_to_id``, the id of its
  thread's top comment), ``GET``/``PATCH /repos/{repo}/pulls/comments/{id}`` (one review comment; edit its body),
  ``POST /repos/{repo}/pulls/{pr}/comments/{id}/replies`` (201 a reply in that comment's thread; like GitHub it
  also creates a ``COMMENTED`` review with an empty body; a reply to a reply joins the thread of the top comment)
- ``GET/POST /repos/{repo}/pulls/{pr}/reviews``, ``GET /repos/{repo}/pulls/{pr}/reviews/{id}``,
  ``PUT /repos/{repo}/pulls/{pr}/reviews/{id}/dismissals`` (a PENDING review is seen by its author only;
  dismissing takes ``{"message", "event": "DISMISS"}`` and only an
  ``APPROVED`` or ``CHANGES_REQUESTED`` review; 422 "Can not dismiss a commented pull request review" otherwise;
  the dismissals are in ``Pull.dismissals``)
- ``POST /repos/{repo}/issues`` (new issues, numbered after every pull request and issue so far, as GitHub
  does), ``GET /repos/{repo}/issues`` and ``GET /repos/{repo}/issues/{number}``; the created issues are in
  ``issues``. ``issues_enabled=False`` answers 410 "Issues are disabled for this repo".

GraphQL: ``POST /graphql`` with ``{"query", "variables", "operationName"}``, executed by a small GraphQL
interpreter over just these fields (anything else is answered, with HTTP 200 as GitHub answers GraphQL
errors, by an ``errors`` entry of type ``FAKE_UNSUPPORTED`` naming what the fake lacks, so a test fails
loudly instead of passing against a shape GitHub may not have)::

    query { repository(owner:, name:) { id name nameWithOwner pullRequest(number:) { id number
      reviewThreads(first:, after:) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node } nodes { id isResolved isOutdated path line originalLine diffSide
          viewerCanResolve viewerCanUnresolve viewerCanReply resolvedBy { login }
          comments(first:, after:) { totalCount pageInfo nodes { id databaseId body path line originalLine
            outdated createdAt url viewerDidAuthor author { login } replyTo { ... }
            pullRequestReview { id databaseId state author { login } } } } } } } } }
    mutation { resolveReviewThread(input: {threadId:}) { clientMutationId thread { ... } } }   # also unresolve...

A thread is a top-level review comment and its replies; its id is an opaque node id (``PRRT_kwDO...``).
Errors are GitHub's: ``{"data": {...null...}, "errors": [{"type": "NOT_FOUND", "path": [...], "locations": [...],
"message": ...}]}``; ``FORBIDDEN`` "Resource not accessible by integration" for a mutation with ``read_only=True``
or ``can_resolve_threads=False``; ``MISSING_PAGINATION_BOUNDARIES`` / ``EXCESSIVE_PAGINATION`` for a connection
without ``first`` or with more than 100; 401 without a valid token. In GraphQL a bot's ``login`` has no
``[bot]`` suffix (REST ``github-actions[bot]`` is GraphQL ``github-actions``) and ``resolvedBy`` (a ``User``)
is null when a bot resolved the thread.

What it models, as GitHub does:

- Authentication: no ``Authorization`` header answers 401 "Requires authentication", a wrong token
  401 "Bad credentials". ``read_only=True`` answers writes with 403 "Resource not accessible by
  integration", the way a fork's workflow token is refused.
- Lists are paginated with ``page`` / ``per_page`` (default 30, at most 100, or at most ``page_size``
  when set so that tests exercise pagination with few items) and a ``Link`` header with ``next``,
  ``prev``, ``first`` and ``last``; GraphQL connections by ``first`` / ``after`` cursors (``page_size`` caps
  them too).
- A review is validated: ``event`` one of APPROVE / REQUEST_CHANGES / COMMENT (none: a PENDING
  review), a body for REQUEST_CHANGES and COMMENT, no REQUEST_CHANGES on the token owner's own pull
  request (``own=True``), a known ``commit_id``, and each comment has a ``path``, a ``body``, an integer
  ``line`` and a ``side``; a comment on a path or line the diff does not show (``commentable``: the RIGHT-side
  lines, ``commentable_left``: the LEFT-side ones, what the change removed) answers 422 with GitHub's wording,
  and nothing of that review is stored.
- Comment bodies longer than 65536 characters answer 422 "Body is too long".

Scripting what people do: ``add_review`` (a review already there, e.g. a stale ``CHANGES_REQUESTED``),
``add_review_comment``, ``add_reply`` (a human's answer in a thread), ``resolve_thread`` / ``unresolve_thread``
(by a human, in the UI); ``thread_of(comment_id)`` and ``threads(pr)`` give the live ``ReviewThread`` state.

Scripted failures: ``fail_next(status, times=n)`` answers the next ``n`` matching requests with
``status``; with ``process=True`` the request is carried out first and only its response is lost (a
gateway timeout after GitHub stored the comment). Failures of 429 and 5xx carry ``Retry-After: 0``
unless other headers are given. Every request is recorded in ``requests`` (``/graphql`` ones too), failed
ones included.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

DOCS = "https://docs.github.com/rest"
DOCS_API = "https://api.github.com"
GRAPHQL_DOCS = "https://docs.github.com/graphql"
MAX_BODY = 65536
MAX_CONNECTION_PAGE = 100  # GraphQL `first` limit on every connection
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING")

__all__ = ["FakeGitHub", "Pull", "RecordedRequest", "ReviewThread"]


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # the decoded JSON, or None


@dataclass
class ReviewThread:
    """A review thread: a top-level review comment and the replies to it (GitHub's ``PullRequestReviewThread``)."""

    id: str  # the GraphQL node id, opaque (``PRRT_kwDO...``)
    pr: int
    top_comment_id: int
    comment_ids: list[int]  # the top comment first, then the replies in order
    is_resolved: bool = False
    resolved_by: dict[str, Any] | None = None  # the REST-shaped user who resolved it


@dataclass
class Pull:
    number: int
    head_sha: str
    commits: set[str]
    commentable: dict[str, set[int]]  # path -> RIGHT-side lines the diff shows
    own: bool = False  # opened by the token's owner: GitHub refuses REQUEST_CHANGES on it
    issue_comments: list[dict[str, Any]] = field(default_factory=list)
    review_comments: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    commentable_left: dict[str, set[int]] = field(default_factory=dict)  # path -> LEFT-side (base) lines shown
    threads: dict[int, ReviewThread] = field(default_factory=dict)  # top comment id -> its thread
    dismissals: list[dict[str, Any]] = field(default_factory=list)  # {"review_id", "message", "user"}


@dataclass
class _Failure:
    status: int
    headers: dict[str, str]
    message: str
    method: str | None
    path: str | None  # a regular expression searched in the request path
    process: bool

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or bool(re.search(self.path, path))
        )


@dataclass
class _Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeGitHub:
    def __init__(
        self,
        *,
        repo: str = "octo/demo",
        token: str = "ghs_fake_token",
        page_size: int | None = None,
        read_only: bool = False,
        user: Mapping[str, Any] | None = None,
        issues_enabled: bool = True,
        can_resolve_threads: bool = True,
    ) -> None:
        self.repo = repo
        self.issues_enabled = issues_enabled
        self.issues: dict[int, dict[str, Any]] = {}
        self.token = token
        self.page_size = page_size
        self.read_only = read_only
        # False: the token may write reviews but GitHub refuses it the thread mutations (FORBIDDEN), as reported
        # for some integration tokens; the REST endpoints are unaffected.
        self.can_resolve_threads = can_resolve_threads
        self.user = dict(user or BOT)
        self.pulls: dict[int, Pull] = {}
        self.requests: list[RecordedRequest] = []
        self._failures: deque[_Failure] = deque()
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeGitHub:
        if self._server is not None:
            raise RuntimeError("FakeGitHub is already running")
        self._server = _Server(("127.0.0.1", 0), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="FakeGitHub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeGitHub is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def graphql_url(self) -> str:
        """Where GraphQL is served: ``{api_url}/graphql``, as on github.com (GHES serves it at ``/api/graphql``)."""
        return f"{self.api_url}/graphql"

    # set-up and scripting

    def add_pull(
        self,
        number: int,
        *,
        commentable: Mapping[str, Iterable[int]] | None = None,
        head_sha: str = "a" * 40,
        commits: Iterable[str] = (),
        own: bool = False,
        commentable_left: Mapping[str, Iterable[int]] | None = None,
    ) -> Pull:
        pull = Pull(
            number=number,
            head_sha=head_sha,
            commits={head_sha, *commits},
            commentable={path: set(lines) for path, lines in (commentable or {}).items()},
            own=own,
            commentable_left={path: set(lines) for path, lines in (commentable_left or {}).items()},
        )
        with self._lock:
            self.pulls[number] = pull
        return pull

    def add_issue_comment(self, pr: int, body: str, *, user: Mapping[str, Any] | None = None) -> dict[str, Any]:
        with self._lock:
            return self._new_issue_comment(self.pulls[pr], body, dict(user or {"login": "someone", "type": "User"}))

    def add_review(
        self,
        pr: int,
        state: str = "CHANGES_REQUESTED",
        *,
        body: str = "",
        user: Mapping[str, Any] | None = None,
        commit_id: str | None = None,
    ) -> dict[str, Any]:
        """A review already on the pull request (default: by the token's user, e.g. an earlier run's)."""
        if state not in REVIEW_STATES:
            raise ValueError(f"state must be one of {REVIEW_STATES}, got {state!r}")
        with self._lock:
            pull = self.pulls[pr]
            return self._new_review(pull, state, body, commit_id or pull.head_sha, dict(user or self.user))

    def add_review_comment(
        self,
        pr: int,
        path: str,
        line: int | None,
        body: str,
        *,
        user: Mapping[str, Any] | None = None,
        side: str = "RIGHT",
    ) -> dict[str, Any]:
        """A review comment already on the pull request (``line=None``: outdated, the code moved on)."""
        with self._lock:
            pull = self.pulls[pr]
            comment = self._review_comment(pull, None, pull.head_sha, dict(user or self.user), path, line, body, side)
            self._store_review_comment(pull, comment)
            return comment

    def add_reply(
        self, pr: int, comment_id: int, body: str, *, user: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A reply (by default a human's) in the thread of ``comment_id``; a reply to a reply joins the top's."""
        with self._lock:
            pull = self.pulls[pr]
            parent = self._review_comment_by_id(pull, comment_id)
            if parent is None:
                raise KeyError(f"no review comment {comment_id} on pull request {pr}")
            return self._reply(pull, parent, body, dict(user or {"login": "someone", "type": "User"}), review_id=None)

    def resolve_thread(self, comment_id: int, *, by: str = "someone") -> ReviewThread:
        """Mark the thread holding ``comment_id`` resolved, as the user ``by`` does in the UI."""
        with self._lock:
            thread = self._thread_holding(comment_id)
            thread.is_resolved, thread.resolved_by = True, {"login": by, "type": "User"}
            return thread

    def unresolve_thread(self, comment_id: int) -> ReviewThread:
        with self._lock:
            thread = self._thread_holding(comment_id)
            thread.is_resolved, thread.resolved_by = False, None
            return thread

    def thread_of(self, comment_id: int) -> ReviewThread:
        """The (live) thread holding review comment ``comment_id``."""
        with self._lock:
            return self._thread_holding(comment_id)

    def threads(self, pr: int) -> list[ReviewThread]:
        """The pull request's threads, oldest first (the live objects)."""
        with self._lock:
            return list(self.pulls[pr].threads.values())

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
        message: str | None = None,
        process: bool = False,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and ``path`` (a regex) with ``status``."""
        if headers is None:
            headers = {"Retry-After": "0"} if status == 429 or status >= 500 else {}
        failure = _Failure(status, dict(headers), message or _REASONS.get(status, "Error"), method, path, process)
        with self._lock:
            self._failures.extend(failure for _ in range(times))

    # what tests look at

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests by method and a regex on the path."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or re.search(path, r.path))
        ]

    # request handling (on the server's threads)

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Response:
        split = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = _INVALID_JSON
        with self._lock:
            self.requests.append(RecordedRequest(method, split.path, query, headers, body))
            failure = next((f for f in self._failures if f.matches(method, split.path)), None)
            if failure is not None:
                self._failures.remove(failure)
                if failure.process:
                    self._route(method, split.path, query, headers, body)
                return _Response(failure.status, _error_body(failure.message), failure.headers)
            return self._route(method, split.path, query, headers, body)

    def _route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any) -> _Response:
        if path == "/graphql":
            return self._graphql(method, headers, body)
        auth = headers.get("authorization")
        if not auth:
            return _error(401, "Requires authentication")
        if auth not in (f"Bearer {self.token}", f"token {self.token}"):
            return _error(401, "Bad credentials")
        if body is _INVALID_JSON:
            return _error(400, "Problems parsing JSON")
        prefix = f"/repos/{self.repo}"
        if not path.startswith(prefix + "/"):
            return _error(404, "Not Found")
        rest = path[len(prefix) :]
        if method != "GET" and self.read_only:
            return _error(403, "Resource not accessible by integration")
        if rest == "/issues" or re.fullmatch(r"/issues/\d+", rest):
            return self._issues(method, path, rest, query, body)
        if match := re.fullmatch(r"/issues/comments/(\d+)", rest):
            if method == "PATCH":
                return self._edit_issue_comment(int(match.group(1)), body)
            return _error(404, "Not Found")
        if match := re.fullmatch(r"/pulls/comments/(\d+)", rest):
            return self._one_review_comment(method, int(match.group(1)), body)
        if match := re.fullmatch(r"/pulls/(\d+)/comments/(\d+)/replies", rest):
            pull = self.pulls.get(int(match.group(1)))
            if method != "POST" or pull is None:
                return _error(404, "Not Found")
            return self._create_reply(pull, int(match.group(2)), body)
        if match := re.fullmatch(r"/pulls/(\d+)/reviews/(\d+)(/dismissals)?", rest):
            pull = self.pulls.get(int(match.group(1)))
            review = self._review_by_id(pull, int(match.group(2))) if pull else None
            if pull is None or review is None:
                return _error(404, "Not Found")
            if match.group(3) is None:
                return _Response(200, dict(review)) if method == "GET" else _error(404, "Not Found")
            if method != "PUT":
                return _error(404, "Not Found")
            return self._dismiss_review(pull, review, body)
        match = re.fullmatch(r"/(issues|pulls)/(\d+)/(comments|reviews)", rest)
        pull = self.pulls.get(int(match.group(2))) if match else None
        if match is None or pull is None:
            return _error(404, "Not Found")
        endpoint = (method, match.group(1), match.group(3))
        if endpoint == ("GET", "issues", "comments"):
            return self._page(path, query, pull.issue_comments)
        if endpoint == ("POST", "issues", "comments"):
            text = body.get("body") if isinstance(body, dict) else None
            if not isinstance(text, str) or not text:
                return _error(422, "Invalid request.", ['"body" wasn\'t supplied.'])
            if len(text) > MAX_BODY:
                return _error(422, "Validation Failed", [f"Body is too long (maximum is {MAX_BODY} characters)"])
            return _Response(201, self._new_issue_comment(pull, text, self.user))
        if endpoint == ("GET", "pulls", "comments"):
            return self._page(path, query, pull.review_comments)
        if endpoint == ("GET", "pulls", "reviews"):
            return self._page(path, query, [r for r in pull.reviews if self._visible(r)])
        if endpoint == ("POST", "pulls", "reviews"):
            return self._create_review(pull, body)
        return _error(404, "Not Found")

    def _issues(self, method: str, path: str, rest: str, query: dict[str, str], body: Any) -> _Response:
        if not self.issues_enabled:
            return _error(410, "Issues are disabled for this repo")
        if rest != "/issues":
            issue = self.issues.get(int(rest.rsplit("/", 1)[1]))
            return _Response(200, dict(issue)) if method == "GET" and issue else _error(404, "Not Found")
        if method == "GET":
            return self._page(path, query, list(self.issues.values()))
        if method != "POST":
            return _error(404, "Not Found")
        if not isinstance(body, dict):
            return _error(400, "Problems parsing JSON")
        title, text = body.get("title"), body.get("body")
        if not isinstance(title, str) or not title.strip():
            return _error(422, "Validation Failed", [{"resource": "Issue", "code": "missing_field", "field": "title"}])
        if text is not None and not isinstance(text, str):
            return _error(422, "Invalid request.", ["For 'properties/body', it is not a string or null."])
        if text is not None and len(text) > MAX_BODY:
            return _error(422, "Validation Failed", [f"Body is too long (maximum is {MAX_BODY} characters)"])
        number = max([0, *self.pulls, *self.issues]) + 1
        issue = {
            "id": next(self._ids),
            "number": number,
            "title": title,
            "body": text,
            "state": "open",
            "user": self.user,
            "html_url": f"https://github.com/{self.repo}/issues/{number}",
        }
        self.issues[number] = issue
        return _Response(201, dict(issue))

    def _page(self, path: str, query: dict[str, str], items: list[dict[str, Any]]) -> _Response:
        try:
            per_page = max(1, min(int(query.get("per_page", 30)), 100))
            page = max(1, int(query.get("page", 1)))
        except ValueError:
            return _error(400, "Invalid pagination parameters")
        if self.page_size is not None:
            per_page = min(per_page, self.page_size)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links: list[str] = []

        def link(number: int, rel: str) -> None:
            links.append(f'<{self.api_url}{path}?{urlencode({"per_page": per_page, "page": number})}>; rel="{rel}"')

        if page > 1:
            link(page - 1, "prev")
        if page < last:
            link(page + 1, "next")
            link(last, "last")
        if page > 1:
            link(1, "first")
        return _Response(200, [dict(item) for item in chunk], {"Link": ", ".join(links)} if links else {})

    def _node_id(self, prefix: str) -> str:
        """An opaque GraphQL node id of GitHub's shape (``PRRT_kwDO...``), unique across every object."""
        raw = f"{self.repo}:{next(self._ids)}".encode()
        return f"{prefix}_kwDO{base64.urlsafe_b64encode(raw).decode().rstrip('=')}"

    def _new_issue_comment(self, pull: Pull, body: str, user: dict[str, Any]) -> dict[str, Any]:
        comment_id = next(self._ids)
        comment = {
            "id": comment_id,
            "body": body,
            "user": user,
            "html_url": f"https://github.com/{self.repo}/pull/{pull.number}#issuecomment-{comment_id}",
        }
        pull.issue_comments.append(comment)
        return comment

    def _edit_issue_comment(self, comment_id: int, body: Any) -> _Response:
        for pull in self.pulls.values():
            for comment in pull.issue_comments:
                if comment["id"] != comment_id:
                    continue
                text = body.get("body") if isinstance(body, dict) else None
                if not isinstance(text, str) or not text:
                    return _error(422, "Invalid request.", ['"body" wasn\'t supplied.'])
                if len(text) > MAX_BODY:
                    return _error(422, "Validation Failed", [f"Body is too long (maximum is {MAX_BODY} characters)"])
                comment["body"] = text
                return _Response(200, comment)
        return _error(404, "Not Found")

    # reviews

    def _new_review(self, pull: Pull, state: str, body: str, commit_id: str, user: dict[str, Any]) -> dict[str, Any]:
        review_id = next(self._ids)
        review: dict[str, Any] = {
            "id": review_id,
            "node_id": self._node_id("PRR"),
            "user": user,
            "body": body,
            "state": state,
            "commit_id": commit_id,
            "html_url": f"https://github.com/{self.repo}/pull/{pull.number}#pullrequestreview-{review_id}",
            "pull_request_url": f"{DOCS_API}/repos/{self.repo}/pulls/{pull.number}",
        }
        if state != "PENDING":  # "Pull request reviews created in the PENDING state ... do not include submitted_at"
            review["submitted_at"] = _now()
        pull.reviews.append(review)
        return review

    def _visible(self, review: dict[str, Any]) -> bool:
        """A PENDING review is seen only by its author."""
        return bool(review["state"] != "PENDING" or review["user"].get("login") == self.user.get("login"))

    def _review_by_id(self, pull: Pull, review_id: int) -> dict[str, Any] | None:
        return next((r for r in pull.reviews if r["id"] == review_id and self._visible(r)), None)

    def _create_review(self, pull: Pull, body: Any) -> _Response:
        if not isinstance(body, dict):
            return _error(400, "Problems parsing JSON")
        event = body.get("event")
        if event is not None and event not in ("APPROVE", "REQUEST_CHANGES", "COMMENT"):
            return _error(422, "Unprocessable Entity", [f"Event {event!r} is not a valid review event"])
        text = body.get("body")
        if event in ("REQUEST_CHANGES", "COMMENT") and not text:
            return _error(
                422, "Unprocessable Entity", ["Body is required when using REQUEST_CHANGES or COMMENT events"]
            )
        if event == "REQUEST_CHANGES" and pull.own:
            return _error(422, "Unprocessable Entity", ["Review Can not request changes on your own pull request"])
        commit_id = body.get("commit_id") or pull.head_sha
        if commit_id not in pull.commits:
            return _error(422, "Unprocessable Entity", [f"No commit found for SHA: {commit_id}"])
        comments = body.get("comments") or []
        if not isinstance(comments, list):
            return _error(422, "Invalid request.", ["For 'properties/comments', \"x\" is not an array."])
        for index, comment in enumerate(comments):
            if not isinstance(comment, dict):
                return _error(422, "Invalid request.", [f"comments[{index}] is not an object."])
            for key, kind in (("path", str), ("body", str), ("line", int), ("side", str)):
                value = comment.get(key)
                if not isinstance(value, kind) or isinstance(value, bool) or value == "":
                    return _error(422, "Invalid request.", [f'"{key}" wasn\'t supplied for comments[{index}].'])
            if comment["side"] not in ("LEFT", "RIGHT"):
                return _error(422, "Invalid request.", [f"comments[{index}].side must be LEFT or RIGHT."])
            right, left = pull.commentable.get(comment["path"]), pull.commentable_left.get(comment["path"])
            if right is None and left is None:
                return _error(422, "Unprocessable Entity", ["Path could not be resolved"])
            shown = right if comment["side"] == "RIGHT" else left
            if comment["line"] not in (shown or ()):
                return _error(422, "Unprocessable Entity", ["Line could not be resolved"])
            if len(comment["body"]) > MAX_BODY:
                return _error(422, "Validation Failed", [f"Body is too long (maximum is {MAX_BODY} characters)"])
        state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}.get(
            event or "", "PENDING"
        )
        review = self._new_review(pull, state, text or "", commit_id, self.user)
        for comment in comments:
            self._store_review_comment(
                pull,
                self._review_comment(
                    pull,
                    review["id"],
                    commit_id,
                    self.user,
                    comment["path"],
                    comment["line"],
                    comment["body"],
                    comment["side"],
                ),
            )
        return _Response(200, review)

    def _dismiss_review(self, pull: Pull, review: dict[str, Any], body: Any) -> _Response:
        if not isinstance(body, dict):
            return _error(400, "Problems parsing JSON")
        message, event = body.get("message"), body.get("event")
        if not isinstance(message, str):
            return _error(422, "Invalid request.", ['"message" wasn\'t supplied.'])
        if event is not None and event != "DISMISS":
            return _error(
                422, "Invalid request.", [f"For 'properties/event', {json.dumps(event)} is not one of [\"DISMISS\"]."]
            )
        if not message.strip():
            # Not documented either way; the UI demands a reason, so the fake refuses an empty one.
            return _error(422, "Unprocessable Entity", ["Message can't be blank"])
        if review["state"] not in ("APPROVED", "CHANGES_REQUESTED"):
            state = review["state"].lower()  # commented, pending or dismissed
            return _error(422, "Unprocessable Entity", [f"Can not dismiss a {state} pull request review"])
        review["state"] = "DISMISSED"
        pull.dismissals.append({"review_id": review["id"], "message": message, "user": self.user})
        return _Response(200, dict(review))

    # review comments and threads

    def _review_comment(
        self,
        pull: Pull,
        review_id: int | None,
        commit_id: str,
        user: dict[str, Any],
        path: str,
        line: int | None,
        body: str,
        side: str = "RIGHT",
        original_line: int | None = None,
    ) -> dict[str, Any]:
        comment_id = next(self._ids)
        now = _now()
        return {
            "id": comment_id,
            "node_id": self._node_id("PRRC"),
            "pull_request_review_id": review_id,
            "commit_id": commit_id,
            "path": path,
            "line": line,
            "original_line": original_line if original_line is not None else line if line is not None else 1,
            "side": side,
            "body": body,
            "user": user,
            "created_at": now,
            "updated_at": now,
            "html_url": f"https://github.com/{self.repo}/pull/{pull.number}#discussion_r{comment_id}",
        }

    def _store_review_comment(self, pull: Pull, comment: dict[str, Any]) -> None:
        pull.review_comments.append(comment)
        top = comment.get("in_reply_to_id")
        if top is None:
            pull.threads[comment["id"]] = ReviewThread(
                self._node_id("PRRT"), pull.number, comment["id"], [comment["id"]]
            )
        else:
            pull.threads[top].comment_ids.append(comment["id"])

    @staticmethod
    def _review_comment_by_id(pull: Pull, comment_id: int) -> dict[str, Any] | None:
        return next((c for c in pull.review_comments if c["id"] == comment_id), None)

    def _find_review_comment(self, comment_id: int) -> tuple[Pull, dict[str, Any]] | None:
        for pull in self.pulls.values():
            comment = self._review_comment_by_id(pull, comment_id)
            if comment is not None:
                return pull, comment
        return None

    def _thread_holding(self, comment_id: int) -> ReviewThread:
        found = self._find_review_comment(comment_id)
        if found is None:
            raise KeyError(f"no review comment {comment_id}")
        pull, comment = found
        return pull.threads[comment.get("in_reply_to_id") or comment["id"]]

    def _thread_by_node_id(self, node_id: str) -> ReviewThread | None:
        return next((t for p in self.pulls.values() for t in p.threads.values() if t.id == node_id), None)

    def _reply(
        self, pull: Pull, parent: dict[str, Any], body: str, user: dict[str, Any], *, review_id: int | None
    ) -> dict[str, Any]:
        top = self._review_comment_by_id(pull, parent.get("in_reply_to_id") or parent["id"]) or parent
        comment = self._review_comment(
            pull, review_id, top["commit_id"], user, top["path"], top["line"], body, top["side"], top["original_line"]
        )
        comment["in_reply_to_id"] = top["id"]
        self._store_review_comment(pull, comment)
        return comment

    def _create_reply(self, pull: Pull, comment_id: int, body: Any) -> _Response:
        parent = self._review_comment_by_id(pull, comment_id)
        if parent is None:
            return _error(404, "Not Found")
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text:
            return _error(422, "Invalid request.", ['"body" wasn\'t supplied.'])
        if len(text) > MAX_BODY:
            return _error(422, "Validation Failed", [f"Body is too long (maximum is {MAX_BODY} characters)"])
        # GitHub files a reply made through the API under a new COMMENTED review with an empty body.
        review = self._new_review(pull, "COMMENTED", "", pull.head_sha, self.user)
        return _Response(201, dict(self._reply(pull, parent, text, self.user, review_id=review["id"])))

    def _one_review_comment(self, method: str, comment_id: int, body: Any) -> _Response:
        found = self._find_review_comment(comment_id)
        if found is None or method not in ("GET", "PATCH"):
            return _error(404, "Not Found")
        comment = found[1]
        if method == "GET":
            return _Response(200, dict(comment))
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text:
            return _error(422, "Invalid request.", ['"body" wasn\'t supplied.'])
        if len(text) > MAX_BODY:
            return _error(422, "Validation Failed", [f"Body is too long (maximum is {MAX_BODY} characters)"])
        comment["body"], comment["updated_at"] = text, _now()
        return _Response(200, dict(comment))

    # GraphQL

    def _graphql(self, method: str, headers: dict[str, str], body: Any) -> _Response:
        auth = headers.get("authorization")
        if not auth:
            return _Response(
                401,
                {
                    "message": "This endpoint requires you to be authenticated.",
                    "documentation_url": GRAPHQL_DOCS + "/guides/forming-calls-with-graphql"
                    "#authenticating-with-graphql",
                },
            )
        if auth not in (f"Bearer {self.token}", f"token {self.token}"):
            return _Response(401, {"message": "Bad credentials", "documentation_url": GRAPHQL_DOCS})
        if method != "POST":
            return _error(404, "Not Found")
        if body is _INVALID_JSON:
            return _error(400, "Problems parsing JSON")
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str):
            return _Response(
                200, {"errors": [{"message": "A query attribute must be specified and must be a string."}]}
            )
        variables = body.get("variables")
        if isinstance(variables, str):  # GitHub also takes the variables as a JSON string
            try:
                variables = json.loads(variables) if variables.strip() else None
            except ValueError:
                variables = _INVALID_JSON
        if variables is not None and not isinstance(variables, dict):
            return _Response(200, {"errors": [{"message": "Variables are invalid JSON."}]})
        operation_name = body.get("operationName")
        return _Response(200, _GraphQL(self, variables or {}).run(query, operation_name))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_INVALID_JSON = object()
_REASONS = {
    401: "Bad credentials",
    403: "Forbidden",
    404: "Not Found",
    410: "Gone",
    422: "Unprocessable Entity",
    429: "API rate limit exceeded",
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
}


def _error_body(message: str, errors: list[Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"message": message, "documentation_url": DOCS}
    if errors:
        data["errors"] = errors
    return data


def _error(status: int, message: str, errors: list[Any] | None = None) -> _Response:
    return _Response(status, _error_body(message, errors))


# ----------------------------------------------------------------------------------------------------
# GraphQL: a tokenizer, a parser for operations (no fragments, no directives) and an executor over the schema
# subset below. A field is (return type, accepted arguments); "[T]" is a list; a type not in _SCHEMA is a scalar.

_SCHEMA: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "Query": {"repository": ("Repository", ("owner", "name", "followRenames"))},
    "Mutation": {
        "resolveReviewThread": ("ResolveReviewThreadPayload", ("input",)),
        "unresolveReviewThread": ("UnresolveReviewThreadPayload", ("input",)),
    },
    "Repository": {
        "id": ("ID", ()),
        "name": ("String", ()),
        "nameWithOwner": ("String", ()),
        "pullRequest": ("PullRequest", ("number",)),
    },
    "PullRequest": {
        "id": ("ID", ()),
        "number": ("Int", ()),
        "reviewThreads": ("PullRequestReviewThreadConnection", ("first", "after")),
    },
    "PullRequestReviewThreadConnection": {
        "totalCount": ("Int", ()),
        "pageInfo": ("PageInfo", ()),
        "nodes": ("[PullRequestReviewThread]", ()),
        "edges": ("[PullRequestReviewThreadEdge]", ()),
    },
    "PullRequestReviewThreadEdge": {"cursor": ("String", ()), "node": ("PullRequestReviewThread", ())},
    "PullRequestReviewThread": {
        "id": ("ID", ()),
        "isResolved": ("Boolean", ()),
        "isOutdated": ("Boolean", ()),
        "path": ("String", ()),
        "line": ("Int", ()),
        "originalLine": ("Int", ()),
        "diffSide": ("DiffSide", ()),
        "resolvedBy": ("User", ()),
        "viewerCanResolve": ("Boolean", ()),
        "viewerCanUnresolve": ("Boolean", ()),
        "viewerCanReply": ("Boolean", ()),
        "comments": ("PullRequestReviewCommentConnection", ("first", "after")),
    },
    "PullRequestReviewCommentConnection": {
        "totalCount": ("Int", ()),
        "pageInfo": ("PageInfo", ()),
        "nodes": ("[PullRequestReviewComment]", ()),
        "edges": ("[PullRequestReviewCommentEdge]", ()),
    },
    "PullRequestReviewCommentEdge": {"cursor": ("String", ()), "node": ("PullRequestReviewComment", ())},
    "PullRequestReviewComment": {
        "id": ("ID", ()),
        "databaseId": ("Int", ()),
        "body": ("String", ()),
        "path": ("String", ()),
        "line": ("Int", ()),
        "originalLine": ("Int", ()),
        "outdated": ("Boolean", ()),
        "createdAt": ("DateTime", ()),
        "url": ("URI", ()),
        "viewerDidAuthor": ("Boolean", ()),
        "author": ("Actor", ()),
        "replyTo": ("PullRequestReviewComment", ()),
        "pullRequestReview": ("PullRequestReview", ()),
    },
    "PullRequestReview": {
        "id": ("ID", ()),
        "databaseId": ("Int", ()),
        "state": ("PullRequestReviewState", ()),
        "author": ("Actor", ()),
    },
    "Actor": {"login": ("String", ())},
    "User": {"login": ("String", ())},
    "PageInfo": {
        "hasNextPage": ("Boolean", ()),
        "hasPreviousPage": ("Boolean", ()),
        "startCursor": ("String", ()),
        "endCursor": ("String", ()),
    },
    "ResolveReviewThreadPayload": {"clientMutationId": ("String", ()), "thread": ("PullRequestReviewThread", ())},
    "UnresolveReviewThreadPayload": {"clientMutationId": ("String", ()), "thread": ("PullRequestReviewThread", ())},
}
_REQUIRED_ARGS = {"repository": ("owner", "name"), "pullRequest": ("number",)}
_CONNECTIONS = ("reviewThreads", "comments")

_GQL_TOKEN = re.compile(
    r"(?P<skip>[\s,\ufeff]+|#[^\n\r]*)"
    r'|(?P<block>"""(?:\\"""|[^"]|"(?!""))*""")'
    r'|(?P<string>"(?:[^"\\\n\r]|\\.)*")'
    r"|(?P<spread>\.\.\.)"
    r"|(?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[_A-Za-z][_0-9A-Za-z]*)"
    r"|(?P<punct>[!$&():=@\[\]{|}])"
)


class _GqlError(Exception):
    def __init__(self, entry: dict[str, Any]) -> None:
        super().__init__(entry.get("message"))
        self.entry = entry


def _unsupported(what: str, path: list[Any] | None = None, at: tuple[int, int] | None = None) -> _GqlError:
    entry: dict[str, Any] = {"type": "FAKE_UNSUPPORTED", "message": f"FakeGitHub does not support {what}"}
    if path is not None:
        entry["path"] = path
    if at is not None:
        entry["locations"] = [{"line": at[0], "column": at[1]}]
    return _GqlError(entry)


@dataclass
class _Var:
    name: str
    at: tuple[int, int]


@dataclass
class _Enum:
    name: str


@dataclass
class _Field:
    name: str
    alias: str | None
    args: dict[str, Any]  # the parsed values (_Var, _Enum, lists, dicts, scalars)
    selections: list[_Field] | None
    at: tuple[int, int]  # line, column
    values: dict[str, Any] = field(default_factory=dict)  # the arguments with the variables filled in

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class _Operation:
    kind: str  # query / mutation / subscription
    name: str | None
    variables: dict[str, tuple[str, bool, Any]]  # name -> (type, has a default, default)
    selections: list[_Field]
    at: tuple[int, int]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}" if self.name else f"anonymous {self.kind}"


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens: list[tuple[str, str, int, int]] = []
        line, line_start, position = 1, 0, 0
        while position < len(source):
            match = _GQL_TOKEN.match(source, position)
            if match is None:
                column = position - line_start + 1
                raise _GqlError(
                    {
                        "message": f"Parse error on {source[position]!r} at [{line}, {column}]",
                        "locations": [{"line": line, "column": column}],
                    }
                )
            kind = cast(str, match.lastgroup)
            text = match.group()
            if kind != "skip":
                self.tokens.append((kind, text, line, position - line_start + 1))
            for offset, char in enumerate(text):
                if char == "\n":
                    line, line_start = line + 1, position + offset + 1
            position = match.end()
        self.index = 0

    def peek(self, text: str | None = None) -> bool:
        if self.index >= len(self.tokens):
            return False
        kind, token, _, _ = self.tokens[self.index]
        return text is None or (token == text and kind in ("punct", "name", "spread"))

    def at(self) -> tuple[int, int]:
        if self.index < len(self.tokens):
            return self.tokens[self.index][2], self.tokens[self.index][3]
        last = self.tokens[-1] if self.tokens else ("", "", 1, 0)
        return last[2], last[3] + len(last[1])

    def fail(self) -> _GqlError:
        line, column = self.at()
        token = self.tokens[self.index][1] if self.index < len(self.tokens) else "end of file"
        return _GqlError(
            {
                "message": f'Parse error on "{token}" at [{line}, {column}]',
                "locations": [{"line": line, "column": column}],
            }
        )

    def take(self, kind: str | None = None, text: str | None = None) -> str:
        if self.index >= len(self.tokens):
            raise self.fail()
        token_kind, token, _, _ = self.tokens[self.index]
        if (kind is not None and token_kind != kind) or (text is not None and token != text):
            raise self.fail()
        self.index += 1
        return token

    def document(self) -> list[_Operation]:
        operations = []
        while self.index < len(self.tokens):
            operations.append(self.operation())
        if not operations:
            raise self.fail()
        return operations

    def operation(self) -> _Operation:
        at = self.at()
        if self.peek("{"):
            return _Operation("query", None, {}, self.selection_set(), at)
        keyword = self.take("name")
        if keyword == "fragment":
            raise _unsupported("fragments (`fragment ... on`)", at=at)
        if keyword not in ("query", "mutation", "subscription"):
            self.index -= 1
            raise self.fail()
        if keyword == "subscription":
            raise _unsupported("subscriptions", at=at)
        name = self.take("name") if self.index < len(self.tokens) and self.tokens[self.index][0] == "name" else None
        variables: dict[str, tuple[str, bool, Any]] = {}
        if self.peek("("):
            self.take(text="(")
            while not self.peek(")"):
                self.take(text="$")
                variable = self.take("name")
                self.take(text=":")
                kind = self.type_ref()
                has_default = self.peek("=")
                default = None
                if has_default:
                    self.take(text="=")
                    default = self.value()
                variables[variable] = (kind, has_default, default)
            self.take(text=")")
        if self.peek("@"):
            raise _unsupported("directives", at=self.at())
        return _Operation(keyword, name, variables, self.selection_set(), at)

    def type_ref(self) -> str:
        if self.peek("["):
            self.take(text="[")
            inner = self.type_ref()
            self.take(text="]")
            kind = f"[{inner}]"
        else:
            kind = self.take("name")
        if self.peek("!"):
            self.take(text="!")
            kind += "!"
        return kind

    def selection_set(self) -> list[_Field]:
        self.take(text="{")
        fields = []
        while not self.peek("}"):
            if self.peek("..."):
                raise _unsupported("fragments and inline fragments (`...`)", at=self.at())
            fields.append(self.field())
        self.take(text="}")
        if not fields:
            raise self.fail()
        return fields

    def field(self) -> _Field:
        at = self.at()
        name = self.take("name")
        alias = None
        if self.peek(":"):
            self.take(text=":")
            alias, name = name, self.take("name")
        args: dict[str, Any] = {}
        if self.peek("("):
            self.take(text="(")
            while not self.peek(")"):
                argument = self.take("name")
                self.take(text=":")
                args[argument] = self.value()
            self.take(text=")")
        if self.peek("@"):
            raise _unsupported("directives", at=self.at())
        selections = self.selection_set() if self.peek("{") else None
        return _Field(name, alias, args, selections, at)

    def value(self) -> Any:
        at = self.at()
        if self.peek("$"):
            self.take(text="$")
            return _Var(self.take("name"), at)
        if self.peek("["):
            self.take(text="[")
            items = []
            while not self.peek("]"):
                items.append(self.value())
            self.take(text="]")
            return items
        if self.peek("{"):
            self.take(text="{")
            fields: dict[str, Any] = {}
            while not self.peek("}"):
                key = self.take("name")
                self.take(text=":")
                fields[key] = self.value()
            self.take(text="}")
            return fields
        if self.index >= len(self.tokens):
            raise self.fail()
        kind, token, _, _ = self.tokens[self.index]
        self.index += 1
        if kind == "number":
            return float(token) if any(c in token for c in ".eE") else int(token)
        if kind == "string":
            return json.loads(token)
        if kind == "block":
            return token[3:-3].replace('\\"""', '"""')
        if kind == "name":
            constants: dict[str, Any] = {"true": True, "false": False, "null": None}
            return constants[token] if token in constants else _Enum(token)
        self.index -= 1
        raise self.fail()


@dataclass
class _Page:
    nodes: list[Any]
    cursors: list[str]
    total: int
    has_next: bool
    has_previous: bool


class _GraphQL:
    """One GraphQL request, run under the FakeGitHub lock."""

    def __init__(self, github: FakeGitHub, variables: dict[str, Any]) -> None:
        self.gh = github
        self.provided = variables
        self.variables: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self.used: set[str] = set()

    def run(self, source: str, operation_name: Any) -> dict[str, Any]:
        try:
            operations = _Parser(source).document()
            operation = self.pick(operations, operation_name)
            self.coerce_variables(operation)
            root = "Mutation" if operation.kind == "mutation" else "Query"
            self.validate(root, operation.selections, [operation.kind], operation)
            for name in operation.variables:
                if name not in self.used:
                    raise _GqlError(
                        {
                            "message": f"Variable ${name} is declared by {operation.label} but not used",
                            "locations": [{"line": operation.at[0], "column": operation.at[1]}],
                            "path": [operation.kind],
                            "extensions": {"code": "variableNotUsed", "variableName": name},
                        }
                    )
        except _GqlError as exc:
            return {"errors": [exc.entry]}
        data = self.select(root, None, operation.selections, [])
        return {"data": data, "errors": self.errors} if self.errors else {"data": data}

    @staticmethod
    def pick(operations: list[_Operation], name: Any) -> _Operation:
        if name is not None:
            for operation in operations:
                if operation.name == name:
                    return operation
            raise _GqlError({"message": f'No operation named "{name}"'})
        if len(operations) > 1:
            raise _GqlError({"message": "An operation name is required"})
        return operations[0]

    def coerce_variables(self, operation: _Operation) -> None:
        for name, (kind, has_default, default) in operation.variables.items():
            value = self.provided.get(name, default if has_default else None)
            base = kind.rstrip("!")
            bad = value is None and kind.endswith("!")
            if value is not None and base in ("Int", "String", "ID", "Boolean"):
                bad = not {
                    "Int": isinstance(value, int) and not isinstance(value, bool),
                    "String": isinstance(value, str),
                    "ID": isinstance(value, str | int) and not isinstance(value, bool),
                    "Boolean": isinstance(value, bool),
                }[base]
            if bad:
                raise _GqlError(
                    {
                        "message": f"Variable ${name} of type {kind} was provided invalid value",
                        "locations": [{"line": operation.at[0], "column": operation.at[1]}],
                        "extensions": {
                            "value": value,
                            "problems": [
                                {
                                    "path": [],
                                    "explanation": "Expected value to not be null"
                                    if value is None
                                    else f"Could not coerce value {json.dumps(value)} to {base}",
                                }
                            ],
                        },
                    }
                )
            self.variables[name] = str(value) if base == "ID" and isinstance(value, int) else value

    def fill(self, value: Any, operation: _Operation) -> Any:
        if isinstance(value, _Var):
            if value.name not in operation.variables:
                raise _GqlError(
                    {
                        "message": f"Variable ${value.name} is used by {operation.label} but not declared",
                        "locations": [{"line": value.at[0], "column": value.at[1]}],
                        "extensions": {"code": "variableNotDefined", "variableName": value.name},
                    }
                )
            self.used.add(value.name)
            return self.variables.get(value.name)
        if isinstance(value, list):
            return [self.fill(item, operation) for item in value]
        if isinstance(value, dict):
            return {key: self.fill(item, operation) for key, item in value.items()}
        if isinstance(value, _Enum):
            return value.name
        return value

    def validate(self, type_name: str, selections: list[_Field], path: list[Any], operation: _Operation) -> None:
        fields = _SCHEMA[type_name]
        for selected in selections:
            here = [*path, selected.key]
            if selected.name == "__typename":
                if selected.args or selected.selections:
                    raise _unsupported("arguments or selections on __typename", here, selected.at)
                continue
            if selected.name not in fields:
                raise _unsupported(
                    f"the field '{selected.name}' on type '{type_name}' (it supports: {', '.join(sorted(fields))})",
                    here,
                    selected.at,
                )
            returns, accepted = fields[selected.name]
            for argument in selected.args:
                if argument not in accepted:
                    raise _unsupported(
                        f"the argument '{argument}' on the field '{selected.name}' "
                        f"(it supports: {', '.join(accepted) or 'none'})",
                        here,
                        selected.at,
                    )
            missing = [a for a in _REQUIRED_ARGS.get(selected.name, ()) if a not in selected.args]
            if missing:
                raise _GqlError(
                    {
                        "message": f"Field '{selected.name}' is missing required arguments: {', '.join(missing)}",
                        "locations": [{"line": selected.at[0], "column": selected.at[1]}],
                        "path": here,
                        "extensions": {
                            "code": "missingRequiredArguments",
                            "className": "Field",
                            "name": selected.name,
                            "arguments": ", ".join(missing),
                        },
                    }
                )
            selected.values = {name: self.fill(value, operation) for name, value in selected.args.items()}
            if type_name == "Mutation":
                self.validate_input(selected, here)
            inner = returns.strip("[]")
            if inner in _SCHEMA and not selected.selections:
                raise _GqlError(
                    {
                        "message": f"Field must have selections (field '{selected.name}' returns {inner} but has no "
                        f"selections. Did you mean '{selected.name} {{ ... }}'?)",
                        "locations": [{"line": selected.at[0], "column": selected.at[1]}],
                        "path": here,
                        "extensions": {
                            "code": "selectionMismatch",
                            "nodeName": f"field '{selected.name}'",
                            "typeName": inner,
                        },
                    }
                )
            if inner not in _SCHEMA and selected.selections:
                raise _GqlError(
                    {
                        "message": f"Selections can't be made on scalars (field '{selected.name}' returns {inner} "
                        f"but has selections [{', '.join(f.name for f in selected.selections)}])",
                        "locations": [{"line": selected.at[0], "column": selected.at[1]}],
                        "path": here,
                        "extensions": {
                            "code": "selectionMismatch",
                            "nodeName": f"field '{selected.name}'",
                            "typeName": inner,
                        },
                    }
                )
            if selected.selections:
                self.validate(inner, selected.selections, here, operation)

    @staticmethod
    def validate_input(selected: _Field, path: list[Any]) -> None:
        value = selected.values.get("input")
        input_type = selected.name[0].upper() + selected.name[1:] + "Input"
        unknown = [k for k in value if k not in ("threadId", "clientMutationId")] if isinstance(value, dict) else []
        if unknown:
            raise _unsupported(
                f"the input field '{unknown[0]}' of {input_type} (it supports: threadId, clientMutationId)",
                path,
                selected.at,
            )
        if not isinstance(value, dict) or not isinstance(value.get("threadId"), str):
            raise _GqlError(
                {
                    "message": f"Argument 'input' on Field '{selected.name}' has an invalid value "
                    f"({json.dumps(value)}). Expected type '{input_type}!'.",
                    "locations": [{"line": selected.at[0], "column": selected.at[1]}],
                    "path": path,
                    "extensions": {
                        "code": "argumentLiteralsIncompatible",
                        "typeName": "Field",
                        "argumentName": "input",
                    },
                }
            )

    # execution

    def error(self, kind: str, message: str, path: list[Any], selected: _Field) -> None:
        entry: dict[str, Any] = {
            "type": kind,
            "path": path,
            "locations": [{"line": selected.at[0], "column": selected.at[1]}],
            "message": message,
        }
        if kind == "FORBIDDEN":
            entry["extensions"] = {"saml_failure": False}
        self.errors.append(entry)

    def select(self, type_name: str, obj: Any, selections: list[_Field], path: list[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for selected in selections:
            here = [*path, selected.key]
            if selected.name == "__typename":
                out[selected.key] = self.typename(type_name, obj)
                continue
            returns = _SCHEMA[type_name][selected.name][0]
            resolver: Callable[[Any, _Field, list[Any]], Any] | None = getattr(
                self, f"_{type_name}_{selected.name}", None
            )
            value = resolver(obj, selected, here) if resolver is not None else self.plain(type_name, obj, selected.name)
            out[selected.key] = self.complete(returns, value, selected, here)
        return out

    def complete(self, returns: str, value: Any, selected: _Field, path: list[Any]) -> Any:
        if value is None:
            return None
        if returns.startswith("["):
            return [self.complete(returns[1:-1], item, selected, [*path, i]) for i, item in enumerate(value)]
        if returns in _SCHEMA:
            return self.select(returns, value, cast(list[_Field], selected.selections), path)
        return value

    @staticmethod
    def typename(type_name: str, obj: Any) -> str:
        if type_name == "Actor":
            return "Bot" if isinstance(obj, dict) and obj.get("type") == "Bot" else "User"
        return type_name

    def plain(self, type_name: str, obj: Any, name: str) -> Any:
        if type_name == "PageInfo" or type_name.endswith("Payload"):
            return obj[name]
        if type_name.endswith("Edge"):
            return obj[0] if name == "cursor" else obj[1]
        if type_name in ("Actor", "User"):
            return _graphql_login(obj)
        raise AssertionError(f"no resolver for {type_name}.{name}")

    # resolvers: _{Type}_{field}(obj, field, path)

    def _Query_repository(self, obj: Any, selected: _Field, path: list[Any]) -> Any:
        owner, name = selected.values.get("owner"), selected.values.get("name")
        if f"{owner}/{name}".lower() == self.gh.repo.lower():
            return self.gh
        self.error("NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'.", path, selected)
        return None

    def _Repository_id(self, gh: FakeGitHub, selected: _Field, path: list[Any]) -> str:
        return "R_kgDO" + base64.urlsafe_b64encode(gh.repo.encode()).decode().rstrip("=")

    def _Repository_name(self, gh: FakeGitHub, selected: _Field, path: list[Any]) -> str:
        return gh.repo.split("/", 1)[1]

    def _Repository_nameWithOwner(self, gh: FakeGitHub, selected: _Field, path: list[Any]) -> str:
        return gh.repo

    def _Repository_pullRequest(self, gh: FakeGitHub, selected: _Field, path: list[Any]) -> Any:
        number = selected.values.get("number")
        pull = gh.pulls.get(number) if isinstance(number, int) and not isinstance(number, bool) else None
        if pull is None:
            self.error("NOT_FOUND", f"Could not resolve to a PullRequest with the number of {number}.", path, selected)
        return pull

    def _PullRequest_id(self, pull: Pull, selected: _Field, path: list[Any]) -> str:
        return "PR_kwDO" + base64.urlsafe_b64encode(f"{self.gh.repo}#{pull.number}".encode()).decode().rstrip("=")

    def _PullRequest_number(self, pull: Pull, selected: _Field, path: list[Any]) -> int:
        return pull.number

    def _PullRequest_reviewThreads(self, pull: Pull, selected: _Field, path: list[Any]) -> _Page | None:
        threads = list(pull.threads.values())
        return self.paginate(threads, [t.top_comment_id for t in threads], selected, path)

    def paginate(self, items: list[Any], keys: list[int], selected: _Field, path: list[Any]) -> _Page | None:
        first, after = selected.values.get("first"), selected.values.get("after")
        if first is None:
            self.error(
                "MISSING_PAGINATION_BOUNDARIES",
                f"You must provide a `first` or `last` value to properly paginate the `{selected.name}` connection.",
                path,
                selected,
            )
            return None
        if not isinstance(first, int) or isinstance(first, bool):
            self.error(
                "INVALID_ARGUMENTS",
                f"Argument 'first' on Field '{selected.name}' has an invalid value ({json.dumps(first)}). "
                "Expected type 'Int'.",
                path,
                selected,
            )
            return None
        if first < 0:
            self.error(
                "INVALID_ARGUMENTS",
                f"`first` on the `{selected.name}` connection cannot be less than zero.",
                path,
                selected,
            )
            return None
        if first > MAX_CONNECTION_PAGE:
            self.error(
                "EXCESSIVE_PAGINATION",
                f"Requesting {first} records on the `{selected.name}` connection exceeds the `first` limit of "
                f"{MAX_CONNECTION_PAGE} records.",
                path,
                selected,
            )
            return None
        if self.gh.page_size is not None:
            first = min(first, self.gh.page_size)
        start = 0
        if after is not None:
            key = _decode_cursor(after)
            if key is None:
                self.error(
                    "INVALID_CURSOR_ARGUMENTS", f"`{after}` does not appear to be a valid cursor.", path, selected
                )
                return None
            start = sum(1 for k in keys if k <= key)
        chosen = items[start : start + first]
        return _Page(
            nodes=chosen,
            cursors=[_encode_cursor(k) for k in keys[start : start + first]],
            total=len(items),
            has_next=start + first < len(items),
            has_previous=start > 0,
        )

    def _connection(self, page: _Page, name: str) -> Any:
        if name == "totalCount":
            return page.total
        if name == "nodes":
            return page.nodes
        if name == "edges":
            return list(zip(page.cursors, page.nodes, strict=True))
        return {
            "hasNextPage": page.has_next,
            "hasPreviousPage": page.has_previous,
            "startCursor": page.cursors[0] if page.cursors else None,
            "endCursor": page.cursors[-1] if page.cursors else None,
        }

    def _PullRequestReviewThreadConnection_totalCount(self, page: _Page, selected: _Field, path: list[Any]) -> Any:
        return self._connection(page, "totalCount")

    def _PullRequestReviewThreadConnection_pageInfo(self, page: _Page, selected: _Field, path: list[Any]) -> Any:
        return self._connection(page, "pageInfo")

    def _PullRequestReviewThreadConnection_nodes(self, page: _Page, selected: _Field, path: list[Any]) -> Any:
        return self._connection(page, "nodes")

    def _PullRequestReviewThreadConnection_edges(self, page: _Page, selected: _Field, path: list[Any]) -> Any:
        return self._connection(page, "edges")

    _PullRequestReviewCommentConnection_totalCount = _PullRequestReviewThreadConnection_totalCount
    _PullRequestReviewCommentConnection_pageInfo = _PullRequestReviewThreadConnection_pageInfo
    _PullRequestReviewCommentConnection_nodes = _PullRequestReviewThreadConnection_nodes
    _PullRequestReviewCommentConnection_edges = _PullRequestReviewThreadConnection_edges

    def _top(self, thread: ReviewThread) -> dict[str, Any]:
        return cast(dict[str, Any], FakeGitHub._review_comment_by_id(self.gh.pulls[thread.pr], thread.top_comment_id))

    def _can_write(self) -> bool:
        return not self.gh.read_only and self.gh.can_resolve_threads

    def _PullRequestReviewThread_id(self, thread: ReviewThread, selected: _Field, path: list[Any]) -> str:
        return thread.id

    def _PullRequestReviewThread_isResolved(self, thread: ReviewThread, selected: _Field, path: list[Any]) -> bool:
        return thread.is_resolved

    def _PullRequestReviewThread_isOutdated(self, thread: ReviewThread, selected: _Field, path: list[Any]) -> bool:
        return self._top(thread)["line"] is None

    def _PullRequestReviewThread_path(self, thread: ReviewThread, selected: _Field, path: list[Any]) -> str:
        return cast(str, self._top(thread)["path"])

    def _PullRequestReviewThread_line(self, thread: ReviewThread, selected: _Field, path: list[Any]) -> Any:
        return self._top(thread)["line"]

    def _PullRequestReviewThread_originalLine(self, thread: ReviewThread, selected: _Field, path: list[Any]) -> Any:
        return self._top(thread)["original_line"]

    def _PullRequestReviewThread_diffSide(self, thread: ReviewThread, selected: _Field, path: list[Any]) -> Any:
        return self._top(thread)["side"]

    def _PullRequestReviewThread_resolvedBy(self, thread: ReviewThread, selected: _Field, path: list[Any]) -> Any:
        # `resolvedBy` is a User; a Bot is not one, so a thread a bot resolved answers null.
        user = thread.resolved_by
        return user if user is not None and user.get("type") != "Bot" else None

    def _PullRequestReviewThread_viewerCanResolve(
        self, thread: ReviewThread, selected: _Field, path: list[Any]
    ) -> bool:
        return self._can_write() and not thread.is_resolved

    def _PullRequestReviewThread_viewerCanUnresolve(
        self, thread: ReviewThread, selected: _Field, path: list[Any]
    ) -> bool:
        return self._can_write() and thread.is_resolved

    def _PullRequestReviewThread_viewerCanReply(self, thread: ReviewThread, selected: _Field, path: list[Any]) -> bool:
        return not self.gh.read_only

    def _PullRequestReviewThread_comments(self, thread: ReviewThread, selected: _Field, path: list[Any]) -> Any:
        pull = self.gh.pulls[thread.pr]
        comments = [FakeGitHub._review_comment_by_id(pull, i) for i in thread.comment_ids]
        return self.paginate(comments, list(thread.comment_ids), selected, path)

    def _PullRequestReviewComment_id(self, comment: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return comment["node_id"]

    def _PullRequestReviewComment_databaseId(self, comment: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return comment["id"]

    def _PullRequestReviewComment_body(self, comment: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return comment["body"]

    def _PullRequestReviewComment_path(self, comment: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return comment["path"]

    def _PullRequestReviewComment_line(self, comment: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return comment["line"]

    def _PullRequestReviewComment_originalLine(self, comment: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return comment["original_line"]

    def _PullRequestReviewComment_outdated(self, comment: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return comment["line"] is None

    def _PullRequestReviewComment_createdAt(self, comment: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return comment["created_at"]

    def _PullRequestReviewComment_url(self, comment: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return comment["html_url"]

    def _PullRequestReviewComment_viewerDidAuthor(
        self, comment: dict[str, Any], selected: _Field, path: list[Any]
    ) -> Any:
        return comment["user"].get("login") == self.gh.user.get("login")

    def _PullRequestReviewComment_author(self, comment: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return comment["user"]

    def _PullRequestReviewComment_replyTo(self, comment: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        parent = comment.get("in_reply_to_id")
        found = self.gh._find_review_comment(parent) if parent is not None else None
        return found[1] if found else None

    def _PullRequestReviewComment_pullRequestReview(
        self, comment: dict[str, Any], selected: _Field, path: list[Any]
    ) -> Any:
        review_id = comment.get("pull_request_review_id")
        return (
            next((r for p in self.gh.pulls.values() for r in p.reviews if r["id"] == review_id), None)
            if review_id is not None
            else None
        )

    def _PullRequestReview_id(self, review: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return review["node_id"]

    def _PullRequestReview_databaseId(self, review: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return review["id"]

    def _PullRequestReview_state(self, review: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return review["state"]

    def _PullRequestReview_author(self, review: dict[str, Any], selected: _Field, path: list[Any]) -> Any:
        return review["user"]

    def _Mutation_resolveReviewThread(self, obj: Any, selected: _Field, path: list[Any]) -> Any:
        return self._set_resolved(selected, path, resolved=True)

    def _Mutation_unresolveReviewThread(self, obj: Any, selected: _Field, path: list[Any]) -> Any:
        return self._set_resolved(selected, path, resolved=False)

    def _set_resolved(self, selected: _Field, path: list[Any], *, resolved: bool) -> Any:
        data = cast(dict[str, Any], selected.values["input"])
        if not self._can_write():
            self.error("FORBIDDEN", "Resource not accessible by integration", path, selected)
            return None
        thread = self.gh._thread_by_node_id(data["threadId"])
        if thread is None:
            self.error(
                "NOT_FOUND", f"Could not resolve to a node with the global id of '{data['threadId']}'.", path, selected
            )
            return None
        thread.is_resolved, thread.resolved_by = resolved, (dict(self.gh.user) if resolved else None)
        return {"clientMutationId": data.get("clientMutationId"), "thread": thread}


def _graphql_login(user: dict[str, Any]) -> Any:
    """GraphQL names a bot without REST's ``[bot]`` suffix: ``github-actions[bot]`` is ``github-actions``."""
    login = user.get("login")
    if user.get("type") == "Bot" and isinstance(login, str) and login.endswith("[bot]"):
        return login[: -len("[bot]")]
    return login


def _encode_cursor(key: int) -> str:
    return base64.b64encode(f"cursor:v2:{key}".encode()).decode()


def _decode_cursor(cursor: Any) -> int | None:
    if not isinstance(cursor, str):
        return None
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except ValueError:
        return None
    prefix = "cursor:v2:"
    return int(text[len(prefix) :]) if text.startswith(prefix) and text[len(prefix) :].isdigit() else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], github: FakeGitHub) -> None:
        self.github = github
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-request is not worth a traceback on stderr


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeGitHub/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        response = cast(_Server, self.server).github.handle(method, self.path, headers, raw)
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")
