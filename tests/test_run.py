"""`harness run` end to end: the real CLI, the real SDK over HTTP to the fake Messages API, real
git worktrees and real pytest runs in the target project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import git
import pytest
import script as s
from script import tool_results

from harness.fakeapi import FakeMessagesAPI, error, reply, tool_use

BRANCH = "harness/001-slugify"


def run(harness: Any, project: Path) -> tuple[Any, dict[str, Any]]:
    result = harness("run", "001", "--repo", str(project), "--json")
    document = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result, document


def subjects(repo: Path, rev: str) -> list[str]:
    return [c.summary for c in git.Repo(repo).iter_commits(rev)][::-1]


def test_happy_path(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    user_head = git.Repo(project).head.commit.hexsha
    api.add(*s.happy_path())

    result, doc = run(harness, project)

    assert result.exit_code == 0, result.output
    assert api.problems == []
    assert doc["outcome"] == "pass" and doc["verdict"]["met"] == 2 and doc["verdict"]["total"] == 2
    assert [c["subject"] for c in doc["commits"]] == [
        "contract: 001 agreed",
        "red: 001 Slugify titles for URLs",
        "green: 001 Slugify titles for URLs",
    ]
    # The user's checkout is untouched: same HEAD, clean tree, no implementation outside the worktree.
    repo = git.Repo(project)
    assert repo.head.commit.hexsha == user_head and repo.active_branch.name != BRANCH
    assert not repo.is_dirty(untracked_files=False)
    assert not (project / "textkit" / "slug.py").exists()
    worktree = Path(doc["worktree"])
    assert (worktree / "textkit" / "slug.py").is_file()
    # Red really was red: the red commit has the tests and no implementation.
    red = next(c for c in repo.iter_commits(BRANCH) if c.summary.startswith("red:"))
    assert "tests/test_slugify.py" in red.stats.files and "textkit/slug.py" not in red.stats.files
    assert "Harness-Issue: 001" in red.message
    # The contract is frozen with its hash.
    contract = (worktree / ".harness" / "contracts" / "001.md").read_text()
    assert "status: agreed" in contract and "sha256: " in contract
    # Trace: every model call with tokens, cost and latency.
    events = [json.loads(line) for line in Path(doc["trace"]).read_text().splitlines()]
    calls = [e for e in events if e["kind"] == "model_call"]
    assert len(calls) == len(api.requests)
    # context_tokens: input + cache writes + cache reads (with the moving breakpoint, all of it may be cached)
    assert all(c["context_tokens"] > 0 and c["latency"] >= 0 and c["cost"] is not None for c in calls)
    assert (Path(doc["trace"]).parent / "verdict.json").is_file()


def test_requests_are_portable_full_history_and_cache_friendly(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    api.add(*s.happy_path())
    run(harness, project)
    for request in api.requests:
        body = request.body
        assert "thread" not in body  # no server-side conversation state
        assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
        assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    # The red generator's second request carries its whole conversation so far (user, assistant, tool result).
    red = [r for r in api.requests if any(t["name"] == "tests_ready" for t in r.body["tools"])]
    assert [m["role"] for m in red[1].body["messages"]] == ["user", "assistant", "user"]
    # The verdict comes from a fresh context: its first request has only the handoff.
    verdict = [r for r in api.requests if any(t["name"] == "submit_verdict" for t in r.body["tools"])]
    assert len(verdict[0].body["messages"]) == 1
    assert {t["name"] for t in verdict[0].body["tools"]} == {"read", "glob", "grep", "bash", "submit_verdict"}


def test_contract_needs_a_second_round(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    first = s.CRITERIA[:1]
    api.add(
        s.propose(first),
        s.review_contract(
            "revise",
            [
                {
                    "criterion": "coverage",
                    "problem": "edge hyphens are not covered",
                    "required_change": "add a criterion for '  --Hi--  '",
                }
            ],
        ),
        s.propose(),
        s.review_contract("accept"),
        *s.red_accepted(),
        *s.green_done(),
        s.submit_verdict(),
    )
    result, doc = run(harness, project)
    assert result.exit_code == 0, result.output
    # The generator was told exactly what to change.
    assert any("edge hyphens are not covered" in r for r in tool_results(api))
    contract = (Path(doc["worktree"]) / ".harness" / "contracts" / "001.md").read_text()
    assert "round: 2" in contract and "Round 1" in contract and "Review: **revise**" in contract


def test_red_tests_that_already_pass_are_rejected_and_asked_again(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    passing = (
        "from textkit import word_count\n\n\n"
        "def test_lowercases_and_hyphenates():\n    assert word_count('a b') == 2\n\n\n"
        "def test_strips_edge_hyphens():\n    assert True\n"
    )
    api.add(
        *s.contract_agreed(),
        s.act("tests_ready", "write", path=s.TEST_FILE, content=passing),
        s.tests_ready(),
        # told why, the generator writes real red tests
        s.act("tests_ready", "write", path=s.TEST_FILE, content=s.RED_TESTS),
        s.tests_ready(),
        s.review_tests("accept"),
        *s.green_done(),
        s.submit_verdict(),
    )
    result, _doc = run(harness, project)
    assert result.exit_code == 0, result.output
    rejection = next(r for r in tool_results(api) if r.startswith("REJECTED"))
    assert "already passes" in rejection and s.TESTS[0] in rejection
    # Only the real red tests were committed as red.
    repo = git.Repo(project)
    red = [c for c in repo.iter_commits(BRANCH) if c.summary.startswith("red:")]
    assert len(red) == 1
    assert "slugify" in (red[0].tree / s.TEST_FILE).data_stream.read().decode()


def test_editing_a_frozen_test_during_green_is_rejected(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    weakened = s.RED_TESTS.replace('== "hi"', '!= "nonsense"')
    api.add(
        *s.contract_agreed(),
        *s.red_accepted(),
        # the file tools refuse to touch a frozen test ...
        s.act("implementation_ready", "edit", path=s.TEST_FILE, old_string='== "hi"', new_string='!= "x"'),
        # ... so the generator tries the shell, and the harness's green gate catches it
        s.act("implementation_ready", "bash", command=f"cat > {s.TEST_FILE} <<'EOF'\n{weakened}EOF"),
        s.act(
            "implementation_ready",
            "write",
            path="textkit/slug.py",
            content="def slugify(text):\n    return '-'.join(text.lower().split())\n",
        ),
        s.implementation_ready(),
        # told it is frozen, it restores the test and fixes the implementation
        s.act("implementation_ready", "bash", command=f"git checkout HEAD -- {s.TEST_FILE}"),
        *s.green_done(),
        s.submit_verdict(),
    )
    result, _doc = run(harness, project)
    assert result.exit_code == 0, result.output
    results = tool_results(api)
    assert any(f"`{s.TEST_FILE}` is a frozen test file" in r for r in results)  # the edit tool refused
    rejection = next(r for r in results if r.startswith("REJECTED"))  # the shell edit was caught at green
    assert f"guard HG009 frozen-test-edited at {s.TEST_FILE}" in rejection
    # Nothing committed as green touches the frozen test.
    repo = git.Repo(project)
    green = next(c for c in repo.iter_commits(BRANCH) if c.summary.startswith("green:"))
    assert s.TEST_FILE not in green.stats.files
    assert (green.tree / s.TEST_FILE).data_stream.read().decode() == s.RED_TESTS


def test_a_model_that_never_calls_its_role_tool_fails_with_exit_3(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    api.add(*[s.chatter("propose_contract") for _ in range(3)])
    result, doc = run(harness, project)
    assert result.exit_code == 3, result.output
    assert doc["outcome"] == "incomplete"
    assert "without calling `propose_contract`" in doc["reason"]
    assert len(api.requests) == 3  # one try and two reminders, then it stops
    reminder = api.requests[1].body["messages"][-1]["content"][-1]["text"]
    assert "propose_contract" in reminder
    # State is kept for inspection: the branch and the run directory exist.
    assert BRANCH in [h.name for h in git.Repo(project).heads]
    assert json.loads((Path(doc["trace"]).parent / "state.json").read_text())["status"] == "incomplete"


def test_rate_limit_then_success(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    api.add(error(429, headers={"retry-after": "0"}), *s.happy_path())
    result, _doc = run(harness, project)
    assert result.exit_code == 0, result.output
    assert api.requests[0].body == api.requests[1].body  # the SDK retried the same request
    assert len(api.requests) == len(s.happy_path()) + 1


def test_api_down_exits_3_with_state_kept(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    api.add(*[error(529, headers={"retry-after": "0"}) for _ in range(5)])
    result, doc = run(harness, project)
    assert result.exit_code == 3, result.output
    assert "could not be reached" in doc["reason"] and "529" in doc["reason"]


def test_invalid_role_tool_input_goes_back_to_the_model(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    bad = reply(
        tool_use("propose_contract", criteria=[{"id": "C1", "behaviour": "works", "test": "not a node id"}]),
        expect_tool="propose_contract",
    )
    api.add(bad, *s.happy_path())
    result, _ = run(harness, project)
    assert result.exit_code == 0, result.output
    first = tool_results(api)[0]
    assert "propose_contract" in first and "criteria.0.test" in first and "pytest node id" in first


def test_evaluator_pass_with_an_uncertain_criterion_is_overridden_to_fail(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    (project / "harness.toml").write_text((project / "harness.toml").read_text() + "\n[limits]\nfix_rounds = 0\n")
    api.add(
        *s.contract_agreed(),
        *s.red_accepted(),
        *s.green_done(),
        s.submit_verdict("pass", ("met", "uncertain")),
    )
    result, doc = run(harness, project)
    assert result.exit_code == 1
    assert doc["verdict"]["verdict"] == "fail" and doc["verdict"]["model_verdict"] == "pass"
    assert any("uncertain counts as unmet" in o for o in doc["verdict"]["overrides"])


@pytest.mark.parametrize("phase", ["red", "green"])
def test_stuck_on_the_same_failure_ends_blocked(harness: Any, project: Path, api: FakeMessagesAPI, phase: str) -> None:
    if phase == "red":
        steps = [s.act("tests_ready", "write", path=s.TEST_FILE, content="def test_lowercases_and_hyphenates(:\n")]
        steps += [s.tests_ready() for _ in range(3)]
    else:
        steps = [*s.red_accepted()] + [s.implementation_ready() for _ in range(3)]
    api.add(*s.contract_agreed(), *steps)
    result, doc = run(harness, project)
    assert result.exit_code == 1, result.output
    assert doc["outcome"] == "blocked" and "stuck" in doc["reason"]


def test_attempts_that_fail_differently_end_blocked_with_no_call_after_the_last(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    steps = []
    for n in range(5):  # limits.green_attempts: each attempt fails a new way, so it is never "stuck"
        wrong = f"def slugify(text: str) -> str:\n    return 'wrong-{n}'\n"
        steps += [s.act("implementation_ready", "write", path="textkit/slug.py", content=wrong)]
        steps += [s.implementation_ready()]
    api.add(*s.contract_agreed(), *s.red_accepted(), *steps)
    result, doc = run(harness, project)
    assert result.exit_code == 1, result.output
    assert doc["outcome"] == "blocked" and doc["reason"].startswith("not green after 5 attempts"), doc["reason"]
    assert "Fix this" not in doc["reason"]  # the reason is for a person, not the agent's retry prompt
    assert len(api.requests) == 2 + 3 + 10  # contract, red and review, five attempts: nothing after the last


def test_the_verdict_sees_the_guards_and_the_generators_note(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    note = "slugify keeps digits; the issue did not say otherwise"
    api.add(
        *s.contract_agreed(), *s.red_accepted(), s.green_done()[0], s.implementation_ready(note), s.submit_verdict()
    )
    result, _ = run(harness, project)
    assert result.exit_code == 0, result.output
    verdict = next(r for r in api.requests if any(t["name"] == "submit_verdict" for t in r.body["tools"]))
    handoff = verdict.body["messages"][0]["content"][0]["text"]
    assert f"<generator-note>\n{note}\n</generator-note>" in handoff
    assert "The deterministic guards found nothing in the diff." in handoff


def test_a_failed_verdict_goes_back_to_the_generator_and_is_graded_again(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    finding = {
        "severity": "blocker",
        "axis": "standards",
        "path": "textkit/slug.py",
        "line": 4,
        "message": "slugify(None) crashes with AttributeError",
        "required_fix": "reject None with TypeError",
    }
    fixed = s.IMPLEMENTATION + "\n\ndef _unused():\n    return None\n"
    api.add(
        *s.contract_agreed(),
        *s.red_accepted(),
        *s.green_done(),
        s.submit_verdict("fail", findings=[finding]),
        # a fresh generator gets the findings as a list, fixes, green is re-verified, a fresh evaluator grades
        s.act("implementation_ready", "write", path="textkit/slug.py", content=fixed),
        s.implementation_ready(),
        s.submit_verdict("pass"),
    )
    result, doc = run(harness, project)
    assert result.exit_code == 0, result.output
    assert [c["subject"] for c in doc["commits"]][-2:] == [
        "green: 001 Slugify titles for URLs",
        "green: 001 Slugify titles for URLs (fix 1)",
    ]
    fix_start = next(r for r in api.requests if "fix round 1" in json.dumps(r.body["messages"][0]))
    assert len(fix_start.body["messages"]) == 1  # a fresh context, not the old transcript
    assert "slugify(None) crashes" in fix_start.body["messages"][0]["content"][0]["text"]
    assert doc["verdict"]["spec_verdict"] == "pass" and doc["verdict"]["standards_verdict"] == "pass"


def test_fix_rounds_are_bounded(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    finding = {"severity": "blocker", "path": "textkit/slug.py", "line": 1, "message": "wrong", "required_fix": "fix"}
    steps = [*s.contract_agreed(), *s.red_accepted(), *s.green_done(), s.submit_verdict("fail", findings=[finding])]
    for _ in range(2):
        steps += [s.implementation_ready(), s.submit_verdict("fail", findings=[finding])]
    api.add(*steps)
    result, doc = run(harness, project)
    assert result.exit_code == 1, result.output
    assert doc["verdict"]["standards_verdict"] == "fail" and doc["verdict"]["spec_verdict"] == "pass"
    assert sum(1 for c in doc["commits"] if c["subject"].startswith("green:")) == 3


def _with_prd(project: Path, prd: str | None) -> None:
    """The example issue names PRD `textkit-slugs` as its parent; ``prd`` is that PRD file's text (None: no file)."""
    issue = project / ".harness" / "issues" / "001-slugify.md"
    issue.write_text(issue.read_text().replace("---\n", "---\nprd: textkit-slugs\n", 1))
    if prd is not None:
        (project / ".harness" / "prds").mkdir(exist_ok=True)
        (project / ".harness" / "prds" / "textkit-slugs.md").write_text(prd)
    repo = git.Repo(project)
    repo.git.add(A=True)
    repo.git.commit("-q", "-m", "parent PRD", "--no-verify")


def test_the_prd_glossary_is_in_every_handoff_and_in_the_trace(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    prd = (Path(__file__).parents[1] / "contracts" / "examples" / "prd.md").read_text()
    _with_prd(project, prd)
    api.add(*s.happy_path())
    result, doc = run(harness, project)
    assert result.exit_code == 0, result.output
    starts = [r.body["messages"][0]["content"][0]["text"] for r in api.requests if len(r.body["messages"]) == 1]
    assert len(starts) >= 4  # contract (generator, evaluator), red, review, green, verdict: each a fresh context
    for text in starts:
        assert "use these terms as defined" in text
        assert "- slug: the part of a URL that names a post" in text
        assert "- folding: replacing an accented letter by its plain ASCII letter" in text
    events = [json.loads(line) for line in Path(doc["trace"]).read_text().splitlines()]
    [glossary] = [e for e in events if e["kind"] == "prd_glossary"]
    assert glossary["error"] is None and [t["term"] for t in glossary["terms"]] == ["slug", "folding"]

    shown = harness("trace", "--repo", str(project))
    assert shown.exit_code == 0, shown.output
    assert "glossary of PRD textkit-slugs" in shown.output
    assert "slug: the part of a URL" in shown.output and "folding: replacing an accented letter" in shown.output
    assert "with the glossary: slug, folding" in shown.output


@pytest.mark.parametrize("prd", [None, "---\ntitle: Broken\n---\n\nno sections at all\n"])
def test_a_prd_that_cannot_be_read_is_reported_not_fatal(
    harness: Any, project: Path, api: FakeMessagesAPI, prd: str | None
) -> None:
    _with_prd(project, prd)
    api.add(*s.happy_path())
    result, doc = run(harness, project)
    assert result.exit_code == 0, result.output
    assert all("<glossary>" not in json.dumps(r.body["messages"]) for r in api.requests)
    events = [json.loads(line) for line in Path(doc["trace"]).read_text().splitlines()]
    [glossary] = [e for e in events if e["kind"] == "prd_glossary"]
    assert glossary["terms"] == [] and glossary["error"]
    shown = harness("trace", "--repo", str(project))
    assert "PRD textkit-slugs: no glossary handed on" in shown.output
