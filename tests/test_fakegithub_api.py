"""The fake GitHub answers the endpoints the incremental review needs the way GitHub documents them.

Driven over HTTP with plain ``urllib.request``, as a client would; each endpoint both ways (success and every
error the fake models). GitHub's wording and shapes come from the REST reference (docs.github.com/rest/pulls/
reviews and /rest/pulls/comments, i.e. github/rest-api-description) and the GraphQL reference (objects
``PullRequestReviewThread``, mutations ``resolveReviewThread`` / ``unresolveReviewThread``).
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from fakegithub import FakeGitHub

TOKEN = "ghs_fake_api_token"
REPO = "octo/demo"
PR = 7
HEAD = "c" * 40
HUMAN = {"login": "alice", "id": 7, "type": "User"}

THREADS = """
query($owner: String!, $name: String!, $number: Int!, $first: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: $first, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id
          isResolved
          isOutdated
          resolvedBy { login }
          comments(first: 50) { nodes { databaseId body author { login } } }
        }
      }
    }
  }
}
"""
RESOLVE = "mutation($id: ID!) { resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }"
UNRESOLVE = "mutation($id: ID!) { unresolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(repo=REPO, token=TOKEN) as server:
        server.add_pull(
            PR,
            commentable={"src/app.py": range(10, 21), "src/new.py": range(1, 4)},
            commentable_left={"src/app.py": [5, 6], "src/gone.py": [1, 2, 3]},
            head_sha=HEAD,
        )
        server.add_pull(8, commentable={"src/app.py": [1]})
        yield server


def call(
    server: FakeGitHub, method: str, path: str, body: Any = None, *, token: str | None = TOKEN
) -> tuple[int, Any, dict[str, str]]:
    """One request as a client makes it: (status, decoded JSON body, lower-case headers)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.api_url + path, data=data, method=method)
    request.add_header("Accept", "application/vnd.github+json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw, status, headers = response.read(), response.status, response.headers
    except urllib.error.HTTPError as exc:
        with exc:
            raw, status, headers = exc.read(), exc.code, exc.headers
    return status, json.loads(raw) if raw else None, {k.lower(): v for k, v in headers.items()}


def graphql(
    server: FakeGitHub, query: str, variables: dict[str, Any] | None = None, *, token: str | None = TOKEN
) -> tuple[int, Any]:
    status, body, _ = call(server, "POST", "/graphql", {"query": query, "variables": variables or {}}, token=token)
    return status, body


def threads(server: FakeGitHub, first: int = 100, cursor: str | None = None) -> dict[str, Any]:
    status, body = graphql(
        server, THREADS, {"owner": "octo", "name": "demo", "number": PR, "first": first, "cursor": cursor}
    )
    assert status == 200 and "errors" not in body, body
    return body["data"]["repository"]["pullRequest"]["reviewThreads"]  # type: ignore[no-any-return]


def review(server: FakeGitHub, *comments: dict[str, Any], event: str = "COMMENT") -> tuple[int, Any]:
    status, body, _ = call(
        server, "POST", f"/repos/{REPO}/pulls/{PR}/reviews", {"event": event, "body": "findings", "comments": comments}
    )
    return status, body


def inline(path: str, line: int, side: str = "RIGHT", body: str = "a finding") -> dict[str, Any]:
    return {"path": path, "line": line, "side": side, "body": body}


# ----------------------------------------------------------------------------------------------------
# LEFT-side comments


def test_a_left_comment_on_a_removed_line_the_diff_shows_is_stored_with_its_side(gh: FakeGitHub) -> None:
    status, created = review(gh, inline("src/app.py", 5, "LEFT"), inline("src/gone.py", 2, "LEFT"))

    assert status == 200
    assert [(c["path"], c["line"], c["side"]) for c in gh.pulls[PR].review_comments] == [
        ("src/app.py", 5, "LEFT"),
        ("src/gone.py", 2, "LEFT"),
    ]
    assert all(c["pull_request_review_id"] == created["id"] for c in gh.pulls[PR].review_comments)


@pytest.mark.parametrize(
    "comment, message",
    [
        (inline("src/app.py", 12, "LEFT"), "Line could not be resolved"),  # a RIGHT line is not a LEFT one
        (inline("src/app.py", 5, "RIGHT"), "Line could not be resolved"),  # and the other way round
        (inline("src/new.py", 1, "LEFT"), "Line could not be resolved"),  # an added file has no LEFT side
        (inline("src/gone.py", 1, "RIGHT"), "Line could not be resolved"),  # a deleted file has no RIGHT side
        (inline("src/other.py", 1, "LEFT"), "Path could not be resolved"),
    ],
)
def test_a_comment_on_a_line_its_side_does_not_show_is_refused_and_nothing_is_stored(
    gh: FakeGitHub, comment: dict[str, Any], message: str
) -> None:
    status, body = review(gh, inline("src/app.py", 12), comment)

    assert status == 422
    assert body["message"] == "Unprocessable Entity" and body["errors"] == [message]
    assert gh.pulls[PR].reviews == [] and gh.pulls[PR].review_comments == []


def test_a_left_comment_is_refused_where_no_left_lines_were_given() -> None:
    with FakeGitHub(repo=REPO, token=TOKEN) as server:
        server.add_pull(PR, commentable={"src/app.py": [12]}, head_sha=HEAD)
        status, body = review(server, inline("src/app.py", 12, "LEFT"))

    assert (status, body["errors"]) == (422, ["Line could not be resolved"])


# ----------------------------------------------------------------------------------------------------
# GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews


def test_reviews_are_listed_in_chronological_order_with_their_fields(gh: FakeGitHub) -> None:
    human = gh.add_review(PR, "APPROVED", body="lgtm", user=HUMAN)
    assert review(gh, inline("src/app.py", 12), event="REQUEST_CHANGES")[0] == 200
    hidden = gh.add_review(PR, "PENDING", user=HUMAN)  # a pending review is seen by its author only
    gh.add_review(PR, "PENDING")

    status, listed, headers = call(gh, "GET", f"/repos/{REPO}/pulls/{PR}/reviews")

    assert status == 200 and "link" not in headers
    assert [(r["state"], r["user"]["login"], r["body"]) for r in listed] == [
        ("APPROVED", "alice", "lgtm"),
        ("CHANGES_REQUESTED", "github-actions[bot]", "findings"),
        ("PENDING", "github-actions[bot]", ""),
    ]
    assert call(gh, "GET", f"/repos/{REPO}/pulls/{PR}/reviews/{hidden['id']}")[0] == 404
    assert listed[0]["id"] == human["id"]
    for item in listed:
        assert {"id", "node_id", "user", "body", "state", "commit_id", "html_url"} <= set(item)
        assert item["commit_id"] == HEAD
        assert item["node_id"].startswith("PRR_")
    # "Pull request reviews created in the PENDING state ... do not include the submitted_at property"
    assert [("submitted_at" in r) for r in listed] == [True, True, False]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", listed[0]["submitted_at"])


def test_reviews_are_paginated_with_per_page_and_a_link_header(gh: FakeGitHub) -> None:
    made = [gh.add_review(PR, "COMMENTED", body=f"review {n}")["id"] for n in range(5)]

    status, first, headers = call(gh, "GET", f"/repos/{REPO}/pulls/{PR}/reviews?per_page=2")
    links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', headers["link"]))
    assert status == 200 and [r["id"] for r in first] == made[:2]
    assert set(links) == {"next", "last"}
    assert links["last"].endswith(f"/repos/{REPO}/pulls/{PR}/reviews?per_page=2&page=3")

    seen, url = [], f"/repos/{REPO}/pulls/{PR}/reviews?per_page=2"
    while url:
        _, page, headers = call(gh, "GET", url)
        seen += [r["id"] for r in page]
        found = re.search(r'<([^>]+)>; rel="next"', headers.get("link", ""))
        url = found.group(1).removeprefix(gh.api_url) if found else ""
    assert seen == made


def test_reviews_of_an_unknown_pull_request_are_404_and_tokens_are_checked(gh: FakeGitHub) -> None:
    assert call(gh, "GET", f"/repos/{REPO}/pulls/404/reviews")[:2] == (
        404,
        {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
    )
    assert call(gh, "GET", f"/repos/{REPO}/pulls/{PR}/reviews", token=None)[1]["message"] == "Requires authentication"
    assert call(gh, "GET", f"/repos/{REPO}/pulls/{PR}/reviews", token="wrong")[1]["message"] == "Bad credentials"


def test_one_review_is_got_by_id_and_an_unknown_one_is_404(gh: FakeGitHub) -> None:
    made = gh.add_review(PR, "CHANGES_REQUESTED", body="fix it")

    status, got, _ = call(gh, "GET", f"/repos/{REPO}/pulls/{PR}/reviews/{made['id']}")

    assert (status, got["id"], got["state"]) == (200, made["id"], "CHANGES_REQUESTED")
    assert call(gh, "GET", f"/repos/{REPO}/pulls/{PR}/reviews/999999")[0] == 404
    assert call(gh, "GET", f"/repos/{REPO}/pulls/8/reviews/{made['id']}")[0] == 404  # another pull's review


# ----------------------------------------------------------------------------------------------------
# PUT /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals


@pytest.mark.parametrize("state", ["CHANGES_REQUESTED", "APPROVED"])
def test_a_blocking_or_approving_review_is_dismissed_with_its_message_recorded(gh: FakeGitHub, state: str) -> None:
    made = gh.add_review(PR, state, body="stale")

    status, dismissed, _ = call(
        gh,
        "PUT",
        f"/repos/{REPO}/pulls/{PR}/reviews/{made['id']}/dismissals",
        {"message": "the findings were fixed", "event": "DISMISS"},
    )

    assert status == 200
    assert (dismissed["id"], dismissed["state"], dismissed["body"]) == (made["id"], "DISMISSED", "stale")
    assert gh.pulls[PR].dismissals == [{"review_id": made["id"], "message": "the findings were fixed", "user": gh.user}]
    listed = call(gh, "GET", f"/repos/{REPO}/pulls/{PR}/reviews")[1]
    assert [r["state"] for r in listed] == ["DISMISSED"]


def test_the_event_field_is_optional(gh: FakeGitHub) -> None:
    made = gh.add_review(PR, "CHANGES_REQUESTED", body="stale")

    status, body, _ = call(gh, "PUT", f"/repos/{REPO}/pulls/{PR}/reviews/{made['id']}/dismissals", {"message": "ok"})

    assert (status, body["state"]) == (200, "DISMISSED")


@pytest.mark.parametrize("state", ["COMMENTED", "PENDING", "DISMISSED"])
def test_only_approvals_and_change_requests_can_be_dismissed(gh: FakeGitHub, state: str) -> None:
    made = gh.add_review(PR, state, body="a remark")

    status, body, _ = call(
        gh, "PUT", f"/repos/{REPO}/pulls/{PR}/reviews/{made['id']}/dismissals", {"message": "m", "event": "DISMISS"}
    )

    assert status == 422
    assert body["errors"] == [f"Can not dismiss a {state.lower()} pull request review"]
    assert gh.pulls[PR].reviews[0]["state"] == state and gh.pulls[PR].dismissals == []


def test_a_commented_review_made_through_the_api_cannot_be_dismissed(gh: FakeGitHub) -> None:
    _, made = review(gh, inline("src/app.py", 12), event="COMMENT")

    status, body, _ = call(gh, "PUT", f"/repos/{REPO}/pulls/{PR}/reviews/{made['id']}/dismissals", {"message": "m"})

    assert (status, body["errors"]) == (422, ["Can not dismiss a commented pull request review"])


@pytest.mark.parametrize(
    "body, status, errors",
    [
        ({"event": "DISMISS"}, 422, ['"message" wasn\'t supplied.']),
        ({"message": 5}, 422, ['"message" wasn\'t supplied.']),
        ({"message": "  "}, 422, ["Message can't be blank"]),
        ({"message": "m", "event": "APPROVE"}, 422, ['For \'properties/event\', "APPROVE" is not one of ["DISMISS"].']),
    ],
)
def test_a_dismissal_needs_a_message_and_the_dismiss_event(
    gh: FakeGitHub, body: dict[str, Any], status: int, errors: list[str]
) -> None:
    made = gh.add_review(PR, "CHANGES_REQUESTED", body="stale")

    got_status, got, _ = call(gh, "PUT", f"/repos/{REPO}/pulls/{PR}/reviews/{made['id']}/dismissals", body)

    assert (got_status, got["errors"]) == (status, errors)
    assert made["state"] == "CHANGES_REQUESTED" and gh.pulls[PR].dismissals == []


def test_dismissing_an_unknown_review_or_another_pulls_is_404_and_a_read_only_token_403(gh: FakeGitHub) -> None:
    made = gh.add_review(PR, "CHANGES_REQUESTED", body="stale")
    message = {"message": "m", "event": "DISMISS"}

    assert call(gh, "PUT", f"/repos/{REPO}/pulls/{PR}/reviews/424242/dismissals", message)[0] == 404
    assert call(gh, "PUT", f"/repos/{REPO}/pulls/8/reviews/{made['id']}/dismissals", message)[0] == 404
    assert call(gh, "POST", f"/repos/{REPO}/pulls/{PR}/reviews/{made['id']}/dismissals", message)[0] == 404
    gh.read_only = True
    status, body, _ = call(gh, "PUT", f"/repos/{REPO}/pulls/{PR}/reviews/{made['id']}/dismissals", message)
    assert (status, body["message"]) == (403, "Resource not accessible by integration")
    assert made["state"] == "CHANGES_REQUESTED"


# ----------------------------------------------------------------------------------------------------
# Replies: POST .../pulls/{pull_number}/comments/{comment_id}/replies, PATCH/GET .../pulls/comments/{comment_id}


def test_a_reply_joins_the_thread_and_github_files_it_under_a_new_commented_review(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")

    status, reply, _ = call(gh, "POST", f"/repos/{REPO}/pulls/{PR}/comments/{top['id']}/replies", {"body": "fixed?"})

    assert status == 201
    assert reply["in_reply_to_id"] == top["id"]
    assert (reply["path"], reply["line"], reply["side"], reply["body"]) == ("src/app.py", 12, "RIGHT", "fixed?")
    assert reply["user"]["login"] == "github-actions[bot]"
    [filed] = gh.pulls[PR].reviews
    assert (filed["id"], filed["state"], filed["body"]) == (reply["pull_request_review_id"], "COMMENTED", "")
    listed = call(gh, "GET", f"/repos/{REPO}/pulls/{PR}/comments")[1]
    assert [c["id"] for c in listed] == [top["id"], reply["id"]]
    assert "in_reply_to_id" not in listed[0]  # a top-level comment has no such key
    assert gh.thread_of(reply["id"]).comment_ids == [top["id"], reply["id"]]


def test_a_reply_to_a_reply_attaches_to_the_threads_top_comment(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")
    human = gh.add_reply(PR, top["id"], "this is intended", user=HUMAN)

    status, reply, _ = call(gh, "POST", f"/repos/{REPO}/pulls/{PR}/comments/{human['id']}/replies", {"body": "ok"})

    assert status == 201 and reply["in_reply_to_id"] == top["id"]
    assert gh.thread_of(top["id"]) is gh.thread_of(reply["id"])
    assert gh.thread_of(top["id"]).comment_ids == [top["id"], human["id"], reply["id"]]
    assert len(gh.threads(PR)) == 1


def test_add_reply_scripts_a_humans_answer_without_a_review(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")

    answer = gh.add_reply(PR, top["id"], "won't fix: intended", user=HUMAN)

    assert (answer["in_reply_to_id"], answer["user"]["login"], answer["pull_request_review_id"]) == (
        top["id"],
        "alice",
        None,
    )
    assert gh.pulls[PR].reviews == []
    with pytest.raises(KeyError):
        gh.add_reply(PR, 31337, "nothing to answer")


@pytest.mark.parametrize(
    "body, status, errors",
    [
        ({}, 422, ['"body" wasn\'t supplied.']),
        ({"body": ""}, 422, ['"body" wasn\'t supplied.']),
        ({"body": "x" * 65537}, 422, ["Body is too long (maximum is 65536 characters)"]),
    ],
)
def test_a_reply_needs_a_body_of_at_most_65536_characters(
    gh: FakeGitHub, body: dict[str, Any], status: int, errors: list[str]
) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")

    got_status, got, _ = call(gh, "POST", f"/repos/{REPO}/pulls/{PR}/comments/{top['id']}/replies", body)

    assert (got_status, got["errors"]) == (status, errors)
    assert len(gh.pulls[PR].review_comments) == 1 and gh.pulls[PR].reviews == []


def test_replying_to_an_unknown_comment_or_through_another_pull_is_404(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")

    assert call(gh, "POST", f"/repos/{REPO}/pulls/{PR}/comments/999999/replies", {"body": "x"})[0] == 404
    assert call(gh, "POST", f"/repos/{REPO}/pulls/8/comments/{top['id']}/replies", {"body": "x"})[0] == 404
    assert call(gh, "POST", f"/repos/{REPO}/pulls/404/comments/{top['id']}/replies", {"body": "x"})[0] == 404
    gh.read_only = True
    assert call(gh, "POST", f"/repos/{REPO}/pulls/{PR}/comments/{top['id']}/replies", {"body": "x"})[0] == 403
    assert len(gh.pulls[PR].review_comments) == 1


def test_a_review_comment_is_got_and_edited_by_id(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")
    path = f"/repos/{REPO}/pulls/comments/{top['id']}"

    status, edited, _ = call(gh, "PATCH", path, {"body": "a finding (still there)"})

    assert (status, edited["id"], edited["body"]) == (200, top["id"], "a finding (still there)")
    assert gh.pulls[PR].review_comments[0]["body"] == "a finding (still there)"
    assert call(gh, "GET", path)[1]["body"] == "a finding (still there)"
    assert call(gh, "PATCH", path, {"body": ""})[0] == 422
    assert call(gh, "PATCH", path, {})[1]["errors"] == ['"body" wasn\'t supplied.']
    assert call(gh, "PATCH", f"/repos/{REPO}/pulls/comments/999999", {"body": "x"})[0] == 404
    assert call(gh, "GET", f"/repos/{REPO}/pulls/comments/999999")[0] == 404


# ----------------------------------------------------------------------------------------------------
# GraphQL: POST /graphql


def test_graphql_needs_a_valid_token(gh: FakeGitHub) -> None:
    status, body = graphql(gh, '{ repository(owner: "octo", name: "demo") { id } }', token=None)
    assert status == 401 and body["message"] == "This endpoint requires you to be authenticated."
    status, body = graphql(gh, '{ repository(owner: "octo", name: "demo") { id } }', token="wrong")
    assert (status, body) == (
        401,
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/graphql"},
    )


def test_review_threads_group_each_top_comment_with_its_replies(gh: FakeGitHub) -> None:
    first = gh.add_review_comment(PR, "src/app.py", 12, "finding one")
    answer = gh.add_reply(PR, first["id"], "I disagree", user=HUMAN)
    second = gh.add_review_comment(PR, "src/app.py", None, "finding two, the code moved on")

    listed = threads(gh)

    assert listed["pageInfo"] == {"hasNextPage": False, "endCursor": listed["pageInfo"]["endCursor"]}
    one, two = listed["nodes"]
    assert re.fullmatch(r"PRRT_kwDO[\w-]+", one["id"]) and one["id"] != two["id"]
    assert one["id"] == gh.thread_of(first["id"]).id
    assert (one["isResolved"], one["isOutdated"], one["resolvedBy"]) == (False, False, None)
    assert two["isOutdated"] is True
    assert one["comments"]["nodes"] == [
        # GraphQL names a bot without the REST "[bot]" suffix
        {"databaseId": first["id"], "body": "finding one", "author": {"login": "github-actions"}},
        {"databaseId": answer["id"], "body": "I disagree", "author": {"login": "alice"}},
    ]
    assert [c["databaseId"] for c in two["comments"]["nodes"]] == [second["id"]]


def test_review_threads_are_paginated_with_opaque_cursors(gh: FakeGitHub) -> None:
    made = [gh.add_review_comment(PR, "src/app.py", 10 + n, f"finding {n}")["id"] for n in range(5)]

    seen, cursor, pages = [], None, 0
    while True:
        page = threads(gh, first=2, cursor=cursor)
        pages += 1
        seen += [node["comments"]["nodes"][0]["databaseId"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
        assert isinstance(cursor, str) and cursor
    assert (seen, pages) == (made, 3)


def test_connection_pages_are_bounded_like_githubs(gh: FakeGitHub) -> None:
    bounded = (
        '{ repository(owner: "octo", name: "demo") { pullRequest(number: 7) { reviewThreads%s { totalCount } } } }'
    )

    status, body = graphql(gh, bounded % "")
    assert status == 200 and body["data"] == {"repository": {"pullRequest": {"reviewThreads": None}}}
    [error] = body["errors"]
    assert (error["type"], error["path"]) == (
        "MISSING_PAGINATION_BOUNDARIES",
        ["repository", "pullRequest", "reviewThreads"],
    )
    assert error["message"] == (
        "You must provide a `first` or `last` value to properly paginate the `reviewThreads` connection."
    )
    _, body = graphql(gh, bounded % "(first: 101)")
    assert body["errors"][0]["type"] == "EXCESSIVE_PAGINATION"
    assert "exceeds the `first` limit of 100 records" in body["errors"][0]["message"]
    _, body = graphql(gh, bounded % '(first: 10, after: "not-a-cursor")')
    assert body["errors"][0]["type"] == "INVALID_CURSOR_ARGUMENTS"
    _, body = graphql(gh, bounded % "(first: 10)")
    assert body == {"data": {"repository": {"pullRequest": {"reviewThreads": {"totalCount": 0}}}}}


def test_thread_comments_are_a_paginated_connection_too(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")
    replies = [gh.add_reply(PR, top["id"], f"reply {n}", user=HUMAN)["id"] for n in range(3)]
    query = """query($after: String) { repository(owner: "octo", name: "demo") { pullRequest(number: 7) {
      reviewThreads(first: 1) { nodes { comments(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { databaseId replyTo { databaseId } } } } } }
    } } }"""

    _, body = graphql(gh, query)
    comments = body["data"]["repository"]["pullRequest"]["reviewThreads"]["nodes"][0]["comments"]
    _, body = graphql(gh, query, {"after": comments["pageInfo"]["endCursor"]})
    rest = body["data"]["repository"]["pullRequest"]["reviewThreads"]["nodes"][0]["comments"]

    assert comments["totalCount"] == 4 and comments["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["databaseId"] for e in comments["edges"] + rest["edges"]] == [top["id"], *replies]
    assert comments["edges"][0]["node"]["replyTo"] is None
    assert all(e["node"]["replyTo"] == {"databaseId": top["id"]} for e in rest["edges"])
    assert rest["pageInfo"]["hasNextPage"] is False


def test_resolve_and_unresolve_a_thread(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")
    thread_id = threads(gh)["nodes"][0]["id"]

    status, body = graphql(gh, RESOLVE, {"id": thread_id})

    assert (status, body) == (200, {"data": {"resolveReviewThread": {"thread": {"id": thread_id, "isResolved": True}}}})
    assert gh.thread_of(top["id"]).is_resolved is True
    assert gh.thread_of(top["id"]).resolved_by == gh.user
    node = threads(gh)["nodes"][0]
    assert (node["isResolved"], node["resolvedBy"]) == (True, None)  # resolvedBy is a User; a bot is not one

    status, body = graphql(gh, UNRESOLVE, {"id": thread_id})
    assert body == {"data": {"unresolveReviewThread": {"thread": {"id": thread_id, "isResolved": False}}}}
    assert (gh.thread_of(top["id"]).is_resolved, gh.thread_of(top["id"]).resolved_by) == (False, None)


def test_resolving_is_idempotent_and_takes_a_literal_input_with_a_client_mutation_id(gh: FakeGitHub) -> None:
    gh.add_review_comment(PR, "src/app.py", 12, "a finding")
    thread_id = threads(gh)["nodes"][0]["id"]
    mutation = (
        f'mutation {{ resolveReviewThread(input: {{threadId: "{thread_id}", clientMutationId: "run-1"}}) '
        "{ clientMutationId thread { isResolved viewerCanResolve viewerCanUnresolve } } }"
    )

    for _ in range(2):
        status, body = graphql(gh, mutation)
        assert (status, body["data"]["resolveReviewThread"]) == (
            200,
            {
                "clientMutationId": "run-1",
                "thread": {"isResolved": True, "viewerCanResolve": False, "viewerCanUnresolve": True},
            },
        )


def test_a_human_resolving_a_thread_shows_who_did_it(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")

    thread = gh.resolve_thread(top["id"], by="alice")

    node = threads(gh)["nodes"][0]
    assert (node["id"], node["isResolved"], node["resolvedBy"]) == (thread.id, True, {"login": "alice"})
    gh.unresolve_thread(top["id"])
    assert threads(gh)["nodes"][0]["isResolved"] is False
    with pytest.raises(KeyError):
        gh.resolve_thread(424242)


def test_resolving_an_unknown_thread_is_a_not_found_error_with_http_200(gh: FakeGitHub) -> None:
    status, body = graphql(gh, RESOLVE, {"id": "PRRT_kwDOnothing"})

    assert status == 200
    assert body["data"] == {"resolveReviewThread": None}
    [error] = body["errors"]
    assert (error["type"], error["path"]) == ("NOT_FOUND", ["resolveReviewThread"])
    assert error["message"] == "Could not resolve to a node with the global id of 'PRRT_kwDOnothing'."
    assert error["locations"] == [{"line": 1, "column": 22}]  # where `resolveReviewThread` starts


@pytest.mark.parametrize("setup", [{"read_only": True}, {"can_resolve_threads": False}])
def test_a_token_refused_the_mutation_gets_forbidden_and_nothing_changes(setup: dict[str, Any]) -> None:
    with FakeGitHub(repo=REPO, token=TOKEN, **setup) as server:
        server.add_pull(PR, commentable={"src/app.py": [12]}, head_sha=HEAD)
        top = server.add_review_comment(PR, "src/app.py", 12, "a finding")
        node = threads(server)["nodes"][0]  # reading is still allowed

        status, body = graphql(server, RESOLVE, {"id": node["id"]})

        assert status == 200 and body["data"] == {"resolveReviewThread": None}
        [error] = body["errors"]
        assert (error["type"], error["message"]) == ("FORBIDDEN", "Resource not accessible by integration")
        assert server.thread_of(top["id"]).is_resolved is False


def test_an_unknown_repository_or_pull_request_is_not_found(gh: FakeGitHub) -> None:
    status, body = graphql(gh, THREADS, {"owner": "octo", "name": "nope", "number": PR, "first": 10})
    assert (status, body["data"]) == (200, {"repository": None})
    assert body["errors"][0]["message"] == "Could not resolve to a Repository with the name 'octo/nope'."
    assert body["errors"][0]["type"] == "NOT_FOUND" and body["errors"][0]["path"] == ["repository"]

    _, body = graphql(gh, THREADS, {"owner": "OCTO", "name": "Demo", "number": 99, "first": 10})
    assert body["data"] == {"repository": {"pullRequest": None}}
    assert body["errors"][0]["message"] == "Could not resolve to a PullRequest with the number of 99."
    assert body["errors"][0]["path"] == ["repository", "pullRequest"]


@pytest.mark.parametrize(
    "query, named",
    [
        (
            '{ repository(owner: "octo", name: "demo") { pullRequest(number: 7) { reviewThreads(first: 1) '
            "{ nodes { diffHunk } } } } }",
            "the field 'diffHunk' on type 'PullRequestReviewThread'",
        ),
        (
            '{ repository(owner: "octo", name: "demo") { pullRequest(number: 7) { reviewThreads(last: 1) '
            "{ totalCount } } } }",
            "the argument 'last' on the field 'reviewThreads'",
        ),
        ('{ repository(owner: "octo", name: "demo") { ...on Repository { id } } }', "fragments"),
        ("query { viewer { login } }", "the field 'viewer' on type 'Query'"),
        (
            'mutation { addPullRequestReviewThreadReply(input: {body: "x"}) { comment { id } } }',
            "the field 'addPullRequestReviewThreadReply' on type 'Mutation'",
        ),
        ('{ repository(owner: "octo", name: "demo") @include(if: true) { id } }', "directives"),
        ("subscription { x }", "subscriptions"),
    ],
)
def test_a_query_shape_the_fake_lacks_is_an_error_naming_it(gh: FakeGitHub, query: str, named: str) -> None:
    status, body = graphql(gh, query)

    assert status == 200 and "data" not in body
    [error] = body["errors"]
    assert error["type"] == "FAKE_UNSUPPORTED"
    assert error["message"].startswith("FakeGitHub does not support ") and named in error["message"]


def test_malformed_requests_are_answered_like_github(gh: FakeGitHub) -> None:
    status, body, _ = call(gh, "POST", "/graphql", {"variables": {}})
    assert (status, body) == (
        200,
        {"errors": [{"message": "A query attribute must be specified and must be a string."}]},
    )

    _, body = graphql(gh, '{ repository(owner: "octo", name: "demo") { id ')
    assert body["errors"][0]["message"].startswith("Parse error on ")

    _, body = graphql(gh, THREADS, {"owner": "octo", "name": "demo", "first": 10})  # $number: Int! is missing
    assert body == {"errors": [body["errors"][0]]}
    assert body["errors"][0]["message"] == "Variable $number of type Int! was provided invalid value"

    _, body = graphql(gh, 'query { repository(owner: $o, name: "demo") { id } }')
    assert body["errors"][0]["message"] == "Variable $o is used by anonymous query but not declared"

    _, body = graphql(gh, '{ repository(name: "demo") { id } }')
    assert body["errors"][0]["message"] == "Field 'repository' is missing required arguments: owner"

    _, body = graphql(gh, '{ repository(owner: "octo", name: "demo") { pullRequest(number: 7) } }')
    assert body["errors"][0]["message"].startswith("Field must have selections")

    _, body = graphql(gh, "mutation { resolveReviewThread(input: {}) { thread { id } } }")
    assert body["errors"][0]["message"].startswith(
        "Argument 'input' on Field 'resolveReviewThread' has an invalid value"
    )


def test_aliases_typename_and_the_repository_fields(gh: FakeGitHub) -> None:
    status, body = graphql(
        gh,
        '{ repo: repository(owner: "octo", name: "demo") { __typename name nameWithOwner '
        "pr: pullRequest(number: 7) { number id } } }",
    )

    assert status == 200
    repo = body["data"]["repo"]
    assert (repo["__typename"], repo["name"], repo["nameWithOwner"], repo["pr"]["number"]) == (
        "Repository",
        "demo",
        "octo/demo",
        PR,
    )
    assert repo["pr"]["id"].startswith("PR_")


# ----------------------------------------------------------------------------------------------------
# Recording and scripted failures cover the new endpoints


def test_requests_to_the_new_endpoints_are_recorded(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")
    made = gh.add_review(PR, "CHANGES_REQUESTED", body="stale")
    call(gh, "GET", f"/repos/{REPO}/pulls/{PR}/reviews?per_page=100")
    call(gh, "PUT", f"/repos/{REPO}/pulls/{PR}/reviews/{made['id']}/dismissals", {"message": "m"})
    call(gh, "POST", f"/repos/{REPO}/pulls/{PR}/comments/{top['id']}/replies", {"body": "fixed"})
    call(gh, "PATCH", f"/repos/{REPO}/pulls/comments/{top['id']}", {"body": "edited"})
    graphql(gh, RESOLVE, {"id": gh.thread_of(top["id"]).id})

    assert [r.method for r in gh.calls(path=r"/reviews$")] == ["GET"]
    assert gh.calls("GET", r"/reviews$")[0].query == {"per_page": "100"}
    assert gh.calls("PUT", r"/dismissals$")[0].body == {"message": "m"}
    assert gh.calls("POST", r"/replies$")[0].body == {"body": "fixed"}
    assert gh.calls("PATCH", r"^/repos/octo/demo/pulls/comments/\d+$")[0].body == {"body": "edited"}
    [mutation] = gh.calls("POST", r"^/graphql$")
    assert mutation.body["variables"] == {"id": gh.thread_of(top["id"]).id}
    assert mutation.headers["authorization"] == f"Bearer {TOKEN}"


def test_scripted_failures_hit_graphql_and_a_lost_response_still_resolves(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")
    thread_id = gh.thread_of(top["id"]).id
    gh.fail_next(502, path=r"^/graphql$", process=True)
    gh.fail_next(503, method="POST", path=r"^/graphql$")

    status, _ = graphql(gh, RESOLVE, {"id": thread_id})
    assert status == 502 and gh.thread_of(top["id"]).is_resolved is True  # stored, the answer was lost
    status, _, headers = call(gh, "POST", "/graphql", {"query": UNRESOLVE, "variables": {"id": thread_id}})
    assert (status, headers["retry-after"]) == (503, "0") and gh.thread_of(top["id"]).is_resolved is True
    assert graphql(gh, UNRESOLVE, {"id": thread_id})[0] == 200
    assert gh.thread_of(top["id"]).is_resolved is False


def test_scripted_failures_hit_the_new_rest_endpoints(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")
    made = gh.add_review(PR, "CHANGES_REQUESTED", body="stale")
    gh.fail_next(500, method="PUT", path=r"/dismissals$")
    gh.fail_next(502, method="POST", path=r"/replies$", process=True)
    dismissal = f"/repos/{REPO}/pulls/{PR}/reviews/{made['id']}/dismissals"

    assert call(gh, "PUT", dismissal, {"message": "m"})[0] == 500 and made["state"] == "CHANGES_REQUESTED"
    assert call(gh, "PUT", dismissal, {"message": "m"})[0] == 200 and made["state"] == "DISMISSED"
    assert call(gh, "POST", f"/repos/{REPO}/pulls/{PR}/comments/{top['id']}/replies", {"body": "x"})[0] == 502
    assert len(gh.thread_of(top["id"]).comment_ids) == 2  # the reply was stored before the response was lost


def test_node_ids_and_cursors_are_opaque_strings_not_rest_ids(gh: FakeGitHub) -> None:
    top = gh.add_review_comment(PR, "src/app.py", 12, "a finding")
    listed = threads(gh)
    thread_id, cursor = listed["nodes"][0]["id"], listed["pageInfo"]["endCursor"]

    assert not thread_id.isdigit() and thread_id != top["node_id"]
    assert top["node_id"].startswith("PRRC_")
    assert base64.b64decode(cursor)  # a base64 string, as GitHub's are; clients must not look inside
