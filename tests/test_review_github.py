"""Posting a review to GitHub: idempotent, paginated, retried, and loud about what went wrong.

Runs against ``tests/fakegithub.py``, a real HTTP server with GitHub's semantics for the endpoints used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakegithub import FakeGitHub

from harness.errors import IncompleteError, UsageError
from harness.review import github
from harness.review.formats import FINGERPRINT_MARKER, SUMMARY_MARKER, to_github_review
from harness.review.github import PostResult, Target, post_review, target_from_env
from harness.review.model import ReviewFinding, ReviewReport, fingerprint

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "ghs_s3cr3t_value_never_printed"
REPO = "octo/demo"
PR = 7
HEAD = "c" * 40
SUMMARY = "<!-- harness:summary -->"
DIFF = {"src/app.py": range(10, 31), "src/util.py": range(1, 6)}


def fp(name: str) -> str:
    return fingerprint("model", name)


def comment(path: str, line: int, name: str) -> dict[str, Any]:
    return {
        "path": path,
        "line": line,
        "side": "RIGHT",
        "body": f"**major** {name}: the change does not do what it says\n\n<!-- harness:fp={fp(name)} -->",
    }


def payload(*comments: dict[str, Any], event: str = "COMMENT", verdict: str = "fail") -> dict[str, Any]:
    listed = "\n".join(f"- {c['path']}:{c['line']}" for c in comments)
    return {
        "commit_id": HEAD,
        "body": f"{SUMMARY}\n## harness review: {verdict}\n\n{listed}\n",
        "event": event,
        "comments": list(comments),
    }


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff waits are recorded, not slept."""
    recorded: list[float] = []
    monkeypatch.setattr(github, "_sleep", recorded.append)
    return recorded


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(repo=REPO, token=TOKEN) as server:
        server.add_pull(PR, commentable=DIFF, head_sha=HEAD)
        yield server


def target(server: FakeGitHub, token: str = TOKEN, pr: int = PR) -> Target:
    return Target(api_url=server.api_url, token=token, repo=REPO, pr=pr)


A = comment("src/app.py", 12, "off-by-one in the loop")
B = comment("src/app.py", 20, "error swallowed")
C = comment("src/util.py", 3, "criterion 2 not implemented")


# ----------------------------------------------------------------------------------------------------
# Idempotent posting


def test_first_post_creates_one_summary_comment_and_one_review_with_the_inline_comments(gh: FakeGitHub) -> None:
    result = post_review(payload(A, B), target(gh))

    pull = gh.pulls[PR]
    assert len(pull.issue_comments) == 1
    assert pull.issue_comments[0]["body"].startswith(SUMMARY)
    assert result.summary_comment_id == pull.issue_comments[0]["id"]
    assert result.summary_action == "created"
    assert len(pull.reviews) == 1
    review = pull.reviews[0]
    assert result == PostResult(
        review_id=review["id"],
        posted=2,
        skipped=0,
        summary_comment_id=result.summary_comment_id,
        summary_action="created",
    )
    assert review["state"] == "COMMENTED"
    assert review["commit_id"] == HEAD
    assert review["body"] == (
        "harness review: 2 new findings; the full summary is in the sticky comment\n\n<!-- harness:review -->"
    )
    assert [(c["path"], c["line"], c["body"]) for c in pull.review_comments] == [
        (A["path"], A["line"], A["body"]),
        (B["path"], B["line"], B["body"]),
    ]
    assert all(c["pull_request_review_id"] == review["id"] for c in pull.review_comments)


def test_every_request_carries_the_api_headers_and_lists_ask_for_100_per_page(gh: FakeGitHub) -> None:
    post_review(payload(A), target(gh))

    assert gh.requests
    for request in gh.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"].startswith("harness/")
    assert [r.query.get("per_page") for r in gh.calls("GET")] == ["100", "100"]


def test_a_rerun_with_the_same_payload_duplicates_nothing(gh: FakeGitHub) -> None:
    first = post_review(payload(A, B), target(gh))
    second = post_review(payload(A, B, verdict="still failing"), target(gh))

    pull = gh.pulls[PR]
    assert len(pull.issue_comments) == 1
    assert pull.issue_comments[0]["body"].startswith(f"{SUMMARY}\n## harness review: still failing")
    assert len(pull.reviews) == 1
    assert len(pull.review_comments) == 2
    assert second == PostResult(
        review_id=None, posted=0, skipped=2, summary_comment_id=first.summary_comment_id, summary_action="updated"
    )
    assert len(gh.calls("POST", r"/reviews$")) == 1
    assert len(gh.calls("POST", r"/issues/\d+/comments$")) == 1
    [patch] = gh.calls("PATCH")
    assert patch.path == f"/repos/{REPO}/issues/comments/{first.summary_comment_id}"


def test_a_rerun_with_one_new_finding_posts_a_review_with_only_that_comment(gh: FakeGitHub) -> None:
    post_review(payload(A, B), target(gh))
    result = post_review(payload(A, B, C), target(gh))

    pull = gh.pulls[PR]
    assert len(pull.reviews) == 2
    assert result.review_id == pull.reviews[1]["id"]
    assert (result.posted, result.skipped) == (1, 2)
    [sent] = [r.body for r in gh.calls("POST", r"/reviews$")][1:]
    assert sent["comments"] == [C]
    assert sent["body"] == (
        "harness review: 1 new finding; the full summary is in the sticky comment\n\n<!-- harness:review -->"
    )
    assert len(pull.issue_comments) == 1


def test_fingerprints_dedupe_even_when_the_finding_moved_or_was_reworded(gh: FakeGitHub) -> None:
    post_review(payload(A), target(gh))
    moved = {**A, "line": 25, "body": A["body"].replace("does not do", "still does not do")}

    result = post_review(payload(moved), target(gh))

    assert (result.posted, result.skipped, result.review_id) == (0, 1, None)


def test_the_same_finding_twice_in_one_payload_is_posted_once(gh: FakeGitHub) -> None:
    result = post_review(payload(A, A), target(gh))

    assert (result.posted, result.skipped) == (1, 1)
    assert len(gh.pulls[PR].review_comments) == 1


def test_no_inline_comments_means_no_review_but_the_summary_is_still_posted(gh: FakeGitHub) -> None:
    result = post_review(payload(verdict="pass"), target(gh))

    assert result.review_id is None
    assert gh.pulls[PR].reviews == []
    assert len(gh.pulls[PR].issue_comments) == 1
    assert gh.calls("GET", r"/pulls/") == []


def test_a_summary_body_without_the_marker_gets_it_so_the_next_run_finds_it(gh: FakeGitHub) -> None:
    bare = {**payload(A), "body": "## harness review: fail"}
    post_review(bare, target(gh))
    second = post_review(bare, target(gh))

    assert second.summary_action == "updated"
    [summary] = gh.pulls[PR].issue_comments
    assert summary["body"] == f"{SUMMARY}\n## harness review: fail"


def test_a_reply_quoting_the_summary_is_not_taken_for_it(gh: FakeGitHub) -> None:
    gh.add_issue_comment(PR, f"> {SUMMARY}\n> ## harness review: fail\n\nI disagree with finding 2")

    result = post_review(payload(A), target(gh))

    assert result.summary_action == "created"
    assert gh.pulls[PR].issue_comments[0]["body"].startswith("> ")
    assert len(gh.pulls[PR].issue_comments) == 2


def test_comments_without_a_fingerprint_are_matched_by_place_and_text(gh: FakeGitHub) -> None:
    plain = {"path": "src/app.py", "line": 11, "side": "RIGHT", "body": "a plain comment"}
    post_review(payload(plain), target(gh))
    result = post_review(payload(plain), target(gh))

    assert (result.posted, result.skipped) == (0, 1)


def test_existing_comments_are_found_across_pages() -> None:
    with FakeGitHub(repo=REPO, token=TOKEN, page_size=2) as gh:
        gh.add_pull(PR, commentable=DIFF, head_sha=HEAD)
        for n in range(5):
            gh.add_issue_comment(PR, f"comment {n} from a person")
        for n in range(6):
            gh.add_review_comment(PR, "src/app.py", 10 + n, f"a person's remark {n}", user={"login": "someone"})
        first = post_review(payload(A, B), target(gh))  # the summary lands on page 3, the fingerprints on page 4
        gh.requests.clear()

        second = post_review(payload(A, B, C), target(gh))

        assert second.summary_action == "updated"
        assert second.summary_comment_id == first.summary_comment_id
        assert (second.posted, second.skipped) == (1, 2)
        assert [r.query.get("page") for r in gh.calls("GET", r"/issues/")] == [None, "2", "3"]
        assert [r.query.get("page") for r in gh.calls("GET", r"/pulls/")] == [None, "2", "3", "4"]
        assert len(gh.pulls[PR].issue_comments) == 6
        assert len(gh.pulls[PR].reviews) == 2


def test_an_outdated_comment_with_the_fingerprint_still_counts_as_posted(gh: FakeGitHub) -> None:
    gh.add_review_comment(PR, "src/app.py", None, A["body"])

    result = post_review(payload(A), target(gh))

    assert (result.posted, result.skipped, result.review_id) == (0, 1, None)


def test_the_markers_are_the_ones_formats_writes() -> None:
    assert SUMMARY_MARKER == SUMMARY
    assert FINGERPRINT_MARKER.findall(A["body"]) == [fp("off-by-one in the loop")]


def finding(path: str, line: int | None, message: str, severity: str = "major") -> ReviewFinding:
    return ReviewFinding(
        source="model",
        rule="standards",
        name="standards",
        severity=severity,  # type: ignore[arg-type]
        axis="standards",
        path=path,
        line=line,
        message=message,
        fix="handle it",
        fingerprint=fingerprint("model", path, message),
    )


def test_a_report_rendered_by_formats_posts_once_and_reposts_nothing(gh: FakeGitHub) -> None:
    report = ReviewReport(
        base="b" * 40,
        head=HEAD,
        spec_source="none",
        verdict="fail",
        findings=[
            finding("src/app.py", 12, "the error is swallowed", "blocker"),
            finding("src/app.py", 99, "a caller outside the diff breaks"),
            finding("src/util.py", 3, "a helper duplicates the standard library", "minor"),
        ],
        commentable={"src/app.py": [[10, 30]], "src/util.py": [[1, 5]]},
        exit_code=1,
    )
    sent = to_github_review(report, commit_id=report.head)

    first = post_review(sent, target(gh))
    second = post_review(to_github_review(report, commit_id=report.head), target(gh))

    pull = gh.pulls[PR]
    assert (first.posted, first.skipped, first.summary_action) == (2, 0, "created")
    assert (second.posted, second.skipped, second.review_id, second.summary_action) == (0, 2, None, "updated")
    assert [(c["path"], c["line"]) for c in pull.review_comments] == [("src/app.py", 12), ("src/util.py", 3)]
    assert len(pull.issue_comments) == 1 and len(pull.reviews) == 1
    assert "a caller outside the diff breaks" in pull.issue_comments[0]["body"]


# ----------------------------------------------------------------------------------------------------
# Errors


def test_a_bad_token_is_exit_3_naming_permissions_and_never_showing_the_token(gh: FakeGitHub) -> None:
    wrong = "ghp_wrong_token_that_must_not_leak"
    with pytest.raises(IncompleteError) as caught:
        post_review(payload(A), target(gh, token=wrong))

    error = caught.value
    assert error.exit_code == 3
    assert "401" in error.message and "Bad credentials" in error.message
    assert "pull-requests: write" in str(error)
    for text in (str(error), repr(error), repr(error.__cause__), repr(error.__context__)):
        assert wrong not in text
    assert error.__cause__ is None


def test_a_read_only_token_names_the_fork_case_and_the_two_job_workflow() -> None:
    with FakeGitHub(repo=REPO, token=TOKEN, read_only=True) as gh:
        gh.add_pull(PR, commentable=DIFF, head_sha=HEAD)
        with pytest.raises(IncompleteError) as caught:
            post_review(payload(A), target(gh))

    text = str(caught.value)
    assert "403" in text and "Resource not accessible by integration" in text
    assert "lacks permission" in text
    assert "fork" in text and "two-job" in text
    assert TOKEN not in text


def test_the_token_is_not_in_the_targets_repr() -> None:
    assert TOKEN not in repr(Target("https://api.github.com", TOKEN, REPO, PR))


def test_a_server_error_is_retried_and_then_succeeds(gh: FakeGitHub, waits: list[float]) -> None:
    gh.fail_next(500, method="GET")

    result = post_review(payload(A), target(gh))

    assert result.posted == 1
    assert waits == [0.0]  # Retry-After: 0 is respected
    assert [r.method for r in gh.requests][:2] == ["GET", "GET"]
    assert len(gh.pulls[PR].issue_comments) == 1


def test_a_post_whose_response_was_lost_is_not_duplicated(gh: FakeGitHub) -> None:
    gh.fail_next(502, method="POST", path=r"/issues/\d+/comments$", process=True)
    gh.fail_next(502, method="POST", path=r"/reviews$", process=True)

    result = post_review(payload(A, B), target(gh))

    pull = gh.pulls[PR]
    assert len(pull.issue_comments) == 1
    assert len(pull.reviews) == 1
    assert len(pull.review_comments) == 2
    assert result.summary_action == "updated"  # the step was redone: list, find the stored comment, edit it
    assert (result.review_id, result.posted, result.skipped) == (None, 0, 2)


@pytest.mark.parametrize(
    "status, headers",
    [
        (429, {"Retry-After": "0"}),
        (403, {"Retry-After": "0"}),  # a secondary rate limit
        (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"}),  # the primary rate limit, already reset
    ],
)
def test_rate_limits_are_waited_out_and_retried(gh: FakeGitHub, status: int, headers: dict[str, str]) -> None:
    gh.fail_next(status, headers=headers, message="API rate limit exceeded")

    result = post_review(payload(A), target(gh))

    assert result.posted == 1
    assert len(gh.pulls[PR].issue_comments) == 1


def test_a_rate_limit_resetting_far_in_the_future_is_reported_not_waited_out(
    gh: FakeGitHub, waits: list[float]
) -> None:
    gh.fail_next(429, headers={"Retry-After": "3600"})

    with pytest.raises(IncompleteError, match="rate limit"):
        post_review(payload(A), target(gh))
    assert waits == []


def test_persistent_server_errors_end_in_exit_3(gh: FakeGitHub, waits: list[float]) -> None:
    gh.fail_next(503, times=50)

    with pytest.raises(IncompleteError, match=r"after 4 attempts.*503") as caught:
        post_review(payload(A), target(gh))

    assert "idempotent" in str(caught.value)
    assert len(gh.requests) == 4
    assert len(waits) == 3


def test_a_comment_outside_the_diff_is_refused_with_githubs_message(gh: FakeGitHub) -> None:
    outside = comment("src/app.py", 99, "not in the diff")

    with pytest.raises(IncompleteError) as caught:
        post_review(payload(A, outside), target(gh))

    assert caught.value.exit_code == 3
    assert "422" in caught.value.message
    assert "Line could not be resolved" in caught.value.message
    assert gh.pulls[PR].reviews == []
    assert gh.pulls[PR].review_comments == []


def test_an_unknown_pull_request_names_repo_and_number(gh: FakeGitHub) -> None:
    with pytest.raises(IncompleteError, match=r"octo/demo#404"):
        post_review(payload(A), target(gh, pr=404))


def test_request_changes_on_ones_own_pull_request_falls_back_to_a_comment_review() -> None:
    with FakeGitHub(repo=REPO, token=TOKEN) as gh:
        gh.add_pull(PR, commentable=DIFF, head_sha=HEAD, own=True)
        result = post_review(payload(A, event="REQUEST_CHANGES"), target(gh))

        assert result.posted == 1
        assert [r.body["event"] for r in gh.calls("POST", r"/reviews$")] == ["REQUEST_CHANGES", "COMMENT"]
        assert gh.pulls[PR].reviews[0]["state"] == "COMMENTED"


def test_request_changes_is_posted_as_such_on_someone_elses_pull_request(gh: FakeGitHub) -> None:
    post_review(payload(A, event="REQUEST_CHANGES"), target(gh))

    assert gh.pulls[PR].reviews[0]["state"] == "CHANGES_REQUESTED"


def test_an_unreachable_api_is_exit_3(waits: list[float]) -> None:
    with FakeGitHub(repo=REPO, token=TOKEN) as gh:
        url = gh.api_url  # the port is closed once the server stops

    with pytest.raises(IncompleteError, match="cannot reach") as caught:
        post_review(payload(A), Target(url, TOKEN, REPO, PR))
    assert TOKEN not in str(caught.value)
    assert len(waits) == 3


# ----------------------------------------------------------------------------------------------------
# Where to post, from the environment


def event_file(tmp_path: Path, event: dict[str, Any]) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    return str(path)


def test_target_from_the_actions_environment_and_event_file(tmp_path: Path) -> None:
    env = {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": event_file(tmp_path, {"action": "opened", "pull_request": {"number": 42}}),
    }

    assert target_from_env(env=env) == Target("https://api.github.com", TOKEN, REPO, 42)
    assert target_from_env(pr=5, env=env).pr == 5
    enterprise = {**env, "GITHUB_API_URL": "https://ghe.example.com/api/v3/"}
    assert target_from_env(env=enterprise).api_url == "https://ghe.example.com/api/v3"


def test_target_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)

    assert target_from_env(pr=3) == Target("https://api.github.com", TOKEN, REPO, 3)


@pytest.mark.parametrize(
    "missing, named, fix",
    [
        ("GITHUB_TOKEN", "GITHUB_TOKEN", "pull-requests: write"),
        ("GITHUB_REPOSITORY", "GITHUB_REPOSITORY", "owner/repo"),
        ("GITHUB_EVENT_PATH", "GITHUB_EVENT_PATH", "pass the pull request number"),
    ],
)
def test_target_from_env_names_what_is_missing(tmp_path: Path, missing: str, named: str, fix: str) -> None:
    env = {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": event_file(tmp_path, {"pull_request": {"number": 1}}),
    }
    del env[missing]

    with pytest.raises(UsageError) as caught:
        target_from_env(env=env)

    assert caught.value.exit_code == 2
    assert named in caught.value.message
    assert fix in str(caught.value)


def test_target_from_env_refuses_a_push_event_and_a_malformed_repository(tmp_path: Path) -> None:
    push = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO, "GITHUB_EVENT_PATH": event_file(tmp_path, {"ref": "x"})}
    with pytest.raises(UsageError, match=r"pull_request\.number"):
        target_from_env(env=push)
    with pytest.raises(UsageError, match="owner/repo"):
        target_from_env(pr=1, env={"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": "just-a-name"})
    with pytest.raises(UsageError, match="positive integer"):
        target_from_env(pr=0, env={"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO})


# ----------------------------------------------------------------------------------------------------
# The example workflow


def _runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job.get("steps", []) if "run" in step]


def test_the_example_workflow_parses_and_keeps_secrets_away_from_write_tokens_and_pr_code() -> None:
    workflow = yaml.safe_load((ROOT / "examples/github-actions/review.yml").read_text(encoding="utf-8"))
    jobs = workflow["jobs"]

    assert set(jobs) == {"guard", "review", "publish"}
    assert list(workflow[True]) == ["pull_request"]  # YAML 1.1 reads the bare key `on` as true
    assert workflow["permissions"] == {}
    guard, review, publish = jobs["guard"], jobs["review"], jobs["publish"]
    for name, job in jobs.items():
        text = json.dumps(job)
        assert ("secrets." in text) == (name == "review"), name
        for run in _runs(job):
            # Attacker-controlled text interpolated into a script is shell injection.
            for untrusted in ("github.event.pull_request.body", "github.event.pull_request.title", "github.head_ref"):
                assert untrusted not in run, f"{name} interpolates {untrusted} into run:"
            assert "pip install" not in run or "harness-tdd @ git+" in run, f"{name} installs harness from the PR tree"

    assert guard["permissions"] == {"contents": "read"}
    [checkout] = [s for s in guard["steps"] if str(s.get("uses", "")).startswith("actions/checkout")]
    assert checkout["with"]["fetch-depth"] == 0
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    guard_runs = "\n".join(_runs(guard))
    assert "git merge-base" in guard_runs and "harness guard --base" in guard_runs and "--head HEAD" in guard_runs

    assert review["permissions"] == {"contents": "read", "pull-requests": "read"}  # read the last review, no writes
    assert review["timeout-minutes"] == 20
    assert review["concurrency"] == {
        "group": "harness-review-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }
    assert review["env"]["ANTHROPIC_API_KEY"] == "${{ secrets.ANTHROPIC_API_KEY }}"
    [body_step] = [s for s in review["steps"] if "PR_BODY" in s.get("env", {})]
    assert body_step["env"]["PR_BODY"] == "${{ github.event.pull_request.body }}"
    review_runs = "\n".join(_runs(review))
    for option in ("--spec", "--format json", "--output", "--max-cost 2", "--fail-on never", "--incremental"):
        assert option in review_runs, option
    assert any(str(s.get("uses", "")).startswith("actions/upload-artifact") for s in review["steps"])

    assert publish["needs"] == "review"
    assert publish["if"] == "always() && needs.review.result != 'cancelled'"
    assert publish["permissions"]["pull-requests"] == "write"
    assert publish["permissions"]["security-events"] == "write"
    publish_runs = "\n".join(_runs(publish))
    assert "harness review --from review.json --post --fail-on blocker" in publish_runs
    assert "--format sarif" in publish_runs
    uses = [str(s.get("uses", "")) for s in publish["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif") for u in uses)
    assert any(u.startswith("actions/download-artifact") for u in uses)
    for step in publish["steps"]:
        if str(step.get("uses", "")).startswith("actions/checkout"):
            assert step["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"


def test_the_ci_guide_covers_the_split_injection_exit_codes_cost_and_posting() -> None:
    guide = (ROOT / "docs/ci.md").read_text(encoding="utf-8")

    for term in (
        "examples/github-actions/review.yml",
        "pull_request_target",
        "fork",
        "--max-cost",
        "--max-diff-lines",
        "--include",
        "--fail-on",
        "fingerprint",
        "sticky",
        "security-events: write",
    ):
        assert term in guide, term
