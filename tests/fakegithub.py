"""A fake GitHub REST API on loopback: just the endpoints ``harness.review.github`` uses.

A real HTTP server (``ThreadingHTTPServer`` in a daemon thread) with in-memory state per pull request::

    with FakeGitHub(repo="octo/demo", token="ghs_test") as gh:
        gh.add_pull(7, commentable={"src/app.py": [10, 11, 12]})
        target = Target(gh.api_url, "ghs_test", "octo/demo", 7)

Endpoints (everything else answers 404 like GitHub does):

- ``GET/POST /repos/{repo}/issues/{pr}/comments``, ``PATCH /repos/{repo}/issues/comments/{id}``
- ``GET /repos/{repo}/pulls/{pr}/comments`` (review comments), ``POST /repos/{repo}/pulls/{pr}/reviews``
- ``POST /repos/{repo}/issues`` (new issues, numbered after every pull request and issue so far, as GitHub
  does), ``GET /repos/{repo}/issues`` and ``GET /repos/{repo}/issues/{number}``; the created issues are in
  ``issues``. ``issues_enabled=False`` answers 410 "Issues are disabled for this repo".

What it models, as GitHub does:

- Authentication: no ``Authorization`` header answers 401 "Requires authentication", a wrong token
  401 "Bad credentials". ``read_only=True`` answers writes with 403 "Resource not accessible by
  integration", the way a fork's workflow token is refused.
- Lists are paginated with ``page`` / ``per_page`` (default 30, at most 100, or at most ``page_size``
  when set so that tests exercise pagination with few items) and a ``Link`` header with ``next``,
  ``prev``, ``first`` and ``last``.
- A review is validated: ``event`` one of APPROVE / REQUEST_CHANGES / COMMENT (none: a PENDING
  review), a body for REQUEST_CHANGES and COMMENT, no REQUEST_CHANGES on the token owner's own pull
  request (``own=True``), a known ``commit_id``, and each comment has a ``path``, a ``body``, an integer
  ``line`` and a ``side``; a comment on a path or line outside ``commentable`` (the RIGHT-side lines
  the diff shows) answers 422 with GitHub's wording, and nothing of that review is stored.
- Comment bodies longer than 65536 characters answer 422 "Body is too long".

Scripted failures: ``fail_next(status, times=n)`` answers the next ``n`` matching requests with
``status``; with ``process=True`` the request is carried out first and only its response is lost (a
gateway timeout after GitHub stored the comment). Failures of 429 and 5xx carry ``Retry-After: 0``
unless other headers are given. Every request is recorded in ``requests``, failed ones included.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

DOCS = "https://docs.github.com/rest"
MAX_BODY = 65536
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}

__all__ = ["FakeGitHub", "Pull", "RecordedRequest"]


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # the decoded JSON, or None


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
    ) -> None:
        self.repo = repo
        self.issues_enabled = issues_enabled
        self.issues: dict[int, dict[str, Any]] = {}
        self.token = token
        self.page_size = page_size
        self.read_only = read_only
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

    # set-up and scripting

    def add_pull(
        self,
        number: int,
        *,
        commentable: Mapping[str, Iterable[int]] | None = None,
        head_sha: str = "a" * 40,
        commits: Iterable[str] = (),
        own: bool = False,
    ) -> Pull:
        pull = Pull(
            number=number,
            head_sha=head_sha,
            commits={head_sha, *commits},
            commentable={path: set(lines) for path, lines in (commentable or {}).items()},
            own=own,
        )
        with self._lock:
            self.pulls[number] = pull
        return pull

    def add_issue_comment(self, pr: int, body: str, *, user: Mapping[str, Any] | None = None) -> dict[str, Any]:
        with self._lock:
            return self._new_issue_comment(self.pulls[pr], body, dict(user or {"login": "someone", "type": "User"}))

    def add_review_comment(
        self, pr: int, path: str, line: int | None, body: str, *, user: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A review comment already on the pull request (``line=None``: outdated, the code moved on)."""
        with self._lock:
            pull = self.pulls[pr]
            comment = self._review_comment(pull, None, pull.head_sha, dict(user or self.user), path, line, body)
            pull.review_comments.append(comment)
            return comment

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
    ) -> dict[str, Any]:
        return {
            "id": next(self._ids),
            "pull_request_review_id": review_id,
            "commit_id": commit_id,
            "path": path,
            "line": line,
            "original_line": line if line is not None else 1,
            "side": side,
            "body": body,
            "user": user,
        }

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
            if comment["path"] not in pull.commentable:
                return _error(422, "Unprocessable Entity", ["Path could not be resolved"])
            if comment["side"] == "RIGHT" and comment["line"] not in pull.commentable[comment["path"]]:
                return _error(422, "Unprocessable Entity", ["Line could not be resolved"])
            if len(comment["body"]) > MAX_BODY:
                return _error(422, "Validation Failed", [f"Body is too long (maximum is {MAX_BODY} characters)"])
        review_id = next(self._ids)
        state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}.get(
            event or "", "PENDING"
        )
        review = {"id": review_id, "state": state, "body": text or "", "commit_id": commit_id, "user": self.user}
        pull.reviews.append(review)
        for comment in comments:
            pull.review_comments.append(
                self._review_comment(
                    pull,
                    review_id,
                    commit_id,
                    self.user,
                    comment["path"],
                    comment["line"],
                    comment["body"],
                    comment["side"],
                )
            )
        return _Response(200, review)


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
