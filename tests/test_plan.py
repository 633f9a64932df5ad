"""`harness grill | prd | slice | plan` end to end: the real CLI, the real SDK over HTTP to the fake
Messages API scripted as the planner, real files in a real git repo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import planscript as p
import pytest
from planscript import answers_file, grill, transcript_of

from harness.artifacts import load_issue
from harness.fakeapi import FakeMessagesAPI, error
from harness.planfiles import load_prd


def schema(name: str) -> dict[str, Any]:
    return json.loads((Path(__file__).parent.parent / "contracts" / f"{name}.schema.json").read_text("utf-8"))


# --------------------------------------------------------------------------- grill


def test_grill_looks_up_asks_and_finishes(harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path) -> None:
    api.add(p.lookup("grep", pattern="def slugify"), p.ask(1), p.ask(2), p.finish())
    answers = answers_file(tmp_path, "Whitespace-separated runs only", "", "/confirm")

    result, doc = grill(harness, project, p.IDEA, "--answers", str(answers))

    assert result.exit_code == 0, result.output
    assert api.problems == []
    transcript = transcript_of(project, doc["slug"])
    assert transcript.status == "finished" and transcript.idea == p.IDEA
    assert [(e.answer, e.source) for e in transcript.exchanges] == [
        ("Whitespace-separated runs only", "file"),
        (p.QUESTIONS[1][1], "file"),
    ]
    assert [d.question for d in transcript.decisions] == [p.QUESTIONS[0][0], p.QUESTIONS[1][0]]
    results = p.role_results(api)
    assert "def slugify" in results[0]  # the grep really ran on the repository
    assert results[1] == "The user's answer: Whitespace-separated runs only"
    assert results[2] == f"The user accepted your recommendation: {p.QUESTIONS[1][1]}"
    # the interviewer has read-only tools and its two role tools, nothing else
    tools = {t["name"] for t in api.requests[0].body["tools"]}
    assert tools == {"read", "glob", "grep", "ask_user", "finish_interview"}
    assert "one question" in p.system_text(api.requests[0]) and p.IDEA in p.first_user_text(api.requests[0])
    assert doc["questions"] == 2 and doc["decisions"][0]["question"] == p.QUESTIONS[0][0]


def test_grill_without_a_terminal_or_answers_fails_before_anything(harness: Any, project: Path, api: Any) -> None:
    result, _ = grill(harness, project, p.IDEA)

    assert result.exit_code == 2
    assert "--answers" in result.stderr and "no terminal" in result.stderr
    assert api.requests == [] and not (project / ".harness" / "grills").exists()


def test_grill_with_a_bad_answers_file_names_it(harness: Any, project: Path, api: Any, tmp_path: Path) -> None:
    bad = tmp_path / "answers.yaml"
    bad.write_text("answers: {nested: [1, 2]}\n", encoding="utf-8")

    result, _ = grill(harness, project, p.IDEA, "--answers", str(bad))

    assert result.exit_code == 2 and str(bad) in result.stderr
    assert api.requests == [] and not (project / ".harness" / "grills").exists()


def test_commands_from_the_answers_file(harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path) -> None:
    api.add(p.ask(1), p.ask(2), p.ask(3), p.finish())
    answers = answers_file(tmp_path, "/skip", "/all", "/confirm")

    result, doc = grill(harness, project, p.IDEA, "--answers", str(answers))

    assert result.exit_code == 0, result.output
    transcript = transcript_of(project, doc["slug"])
    assert [e.source for e in transcript.exchanges] == ["skipped", "file", "auto"]
    results = p.role_results(api)
    assert "skipped this question" in results[0]
    assert "settle every remaining decision" in results[1]
    assert results[2] == f"The user accepted your recommendation: {p.QUESTIONS[2][1]}"


def test_an_interrupted_interview_resumes_where_it_stopped(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    # First session: one answer in the file, the interviewer asks a second question → exit 2, all saved.
    api.add(p.ask(1), p.ask(2))
    result, _ = grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "Words are runs of letters")))
    assert result.exit_code == 2 and "--resume" in result.stderr
    slug = next((project / ".harness" / "grills").glob("*.md")).stem
    saved = transcript_of(project, slug)
    assert saved.status == "interviewing" and saved.pending is not None
    assert saved.pending.question == p.QUESTIONS[1][0]
    calls = len(api.requests)

    # Second session: the pending question is answered first, then a fresh interviewer picks up from the record.
    api.add(p.ask(3), p.finish())
    more = answers_file(tmp_path, "Yes, a `textkit count` command", "", "/confirm", name="more.yaml")
    result, _ = grill(harness, project, "--resume", slug, "--answers", str(more))

    assert result.exit_code == 0, result.output
    assert api.problems == []
    resumed = api.requests[calls]
    handoff = p.first_user_text(resumed)
    assert "Words are runs of letters" in handoff and "Yes, a `textkit count` command" in handoff
    assert len(resumed.body["messages"]) == 1  # a fresh context, not the old conversation
    transcript = transcript_of(project, slug)
    assert transcript.status == "finished"
    assert [e.answer for e in transcript.exchanges] == [
        "Words are runs of letters",
        "Yes, a `textkit count` command",
        p.QUESTIONS[2][1],
    ]


def test_an_api_failure_mid_interview_keeps_the_answers(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    with (project / "harness.toml").open("a", encoding="utf-8") as config:
        config.write("max_retries = 0\n")
    api.add(p.ask(1), error(500), error(500))

    result, _ = grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "letters only")))

    assert result.exit_code == 3, result.output
    assert "harness grill --resume" in result.stderr
    slug = next((project / ".harness" / "grills").glob("*.md")).stem
    assert transcript_of(project, slug).exchanges[0].answer == "letters only"


def test_resuming_a_finished_interview_is_refused(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    api.add(p.ask(1), p.finish())
    _, doc = grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "", "/confirm")))

    result, _ = grill(harness, project, "--resume", doc["slug"], "--answers", str(answers_file(tmp_path, "")))

    assert result.exit_code == 2 and f"harness prd {doc['slug']}" in result.stderr


def test_a_repo_skill_overrides_the_bundled_one(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    skill = project / ".harness" / "skills" / "grill" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_text("---\nname: grill\ndescription: ours\n---\nALWAYS ASK ABOUT LOGGING FIRST.\n", encoding="utf-8")
    api.add(p.ask(1), p.finish())

    result, _ = grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "", "/confirm")))

    assert result.exit_code == 0, result.output
    system = p.system_text(api.requests[0])
    assert "ALWAYS ASK ABOUT LOGGING FIRST." in system
    assert "Facts are looked up, decisions are asked" not in system  # the bundled skill's text is replaced


# --------------------------------------------------------------------------- prd


def finished_grill(harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path) -> str:
    api.add(p.ask(1), p.ask(2), p.finish())
    result, doc = grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "", "", "/confirm")))
    assert result.exit_code == 0, result.output
    return str(doc["slug"])


def test_prd_is_written_from_the_finished_interview(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    slug = finished_grill(harness, project, api, tmp_path)
    before = len(api.requests)
    api.add(p.lookup("glob", expect="submit_prd", pattern="**/*.py"), p.prd())

    result = harness("prd", slug, "--repo", str(project))

    assert result.exit_code == 0, result.output
    assert api.problems == []
    prd = load_prd(project / ".harness" / "prds" / f"{slug}.md")
    assert prd.title == "Word counter" and prd.user_stories == p.STORIES and prd.grill == slug
    jsonschema.validate(prd.model_dump(mode="json"), schema("prd"))
    assert "Word counter" in result.stdout and "As a writer" in result.stdout  # rendered for the terminal
    handoff = p.first_user_text(api.requests[before])
    assert "A library function textkit.count_words" in handoff and p.QUESTIONS[0][0] in handoff
    assert {t["name"] for t in api.requests[before].body["tools"]} == {"read", "glob", "grep", "submit_prd"}


def test_prd_refuses_an_unfinished_interview_and_an_existing_prd(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    api.add(p.ask(1), p.ask(2))
    grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "")))
    slug = next((project / ".harness" / "grills").glob("*.md")).stem
    calls = len(api.requests)

    unfinished = harness("prd", slug, "--repo", str(project))

    assert unfinished.exit_code == 2 and f"harness grill --resume {slug}" in unfinished.stderr
    assert len(api.requests) == calls


def test_prd_bad_story_goes_back_to_the_model(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    slug = finished_grill(harness, project, api, tmp_path)
    api.add(p.prd(user_stories=["Count words"]), p.prd())

    result = harness("prd", slug, "--repo", str(project))

    assert result.exit_code == 0, result.output
    assert "As a <who>, I want <what>, so that <why>" in p.role_results(api)[-1]
    target = project / ".harness" / "prds" / f"{slug}.md"
    before = target.read_bytes()

    again = harness("prd", slug, "--repo", str(project))

    assert again.exit_code == 2 and "--force" in again.stderr and target.read_bytes() == before


# --------------------------------------------------------------------------- slice


def written_prd(harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path) -> str:
    slug = finished_grill(harness, project, api, tmp_path)
    api.add(p.prd())
    assert harness("prd", slug, "--repo", str(project)).exit_code == 0
    return slug


def issues_dir(project: Path) -> Path:
    return project / ".harness" / "issues"


def test_slice_writes_checked_issues(harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path) -> None:
    slug = written_prd(harness, project, api, tmp_path)
    existing = {p_.name for p_ in issues_dir(project).glob("*.md")}
    api.add(p.issues())

    result = harness("slice", slug, "--repo", str(project), "--json")

    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    new = sorted(path for path in issues_dir(project).glob("*.md") if path.name not in existing)
    assert len(new) == 2 and [Path(i["path"]).name for i in doc["issues"]] == [n.name for n in new]
    first, second = (load_issue(path) for path in new)
    assert first.prd == slug and first.status == "todo" and first.kind == "AFK"
    assert second.blocked_by == [first.id]
    assert first.acceptance_criteria == ["Count words separated by spaces: count_words returns the right number"]
    for path in new:
        jsonschema.validate(load_issue(path).model_dump(mode="json"), schema("issue"))


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ([p.slice_("a", "Count words", ["b"], [1]), p.slice_("b", "Punctuation", ["a"], [2])], "cycle a → b → a"),
        ([p.slice_("a", "Count words", ["nope"], [1, 2])], "blocked by 'nope'"),
        ([p.slice_("a", "Count words", [], [1]), p.slice_("a", "Punctuation", [], [2])], "key 'a' is used by 2"),
        (
            [p.slice_("tests", "Write all the tests", [], [1, 2]), p.slice_("code", "Count words", ["tests"], [1])],
            "slice 'tests' looks horizontal",
        ),
    ],
    ids=["cycle", "unknown-blocked-by", "duplicate-key", "horizontal"],
)
def test_a_bad_slicing_goes_back_to_the_model_with_the_reason(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path, bad: list[dict], says: str
) -> None:
    slug = written_prd(harness, project, api, tmp_path)
    api.add(p.issues(bad), p.issues())

    result = harness("slice", slug, "--repo", str(project))

    assert result.exit_code == 0, result.output
    assert api.problems == []
    rejection = p.role_results(api)[-1]
    assert rejection.startswith("Rejected: nothing was written") and says in rejection
    assert "slices rejected" in result.stderr and says in result.stderr  # the user sees why, too


def test_slicing_gives_up_after_the_allowed_attempts(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    slug = written_prd(harness, project, api, tmp_path)
    before = sorted(issues_dir(project).glob("*.md"))
    cycle = [p.slice_("a", "Count words", ["b"], [1]), p.slice_("b", "Punctuation", ["a"], [2])]
    api.add(p.issues(cycle), p.issues(cycle), p.issues(cycle))

    result = harness("slice", slug, "--repo", str(project))

    assert result.exit_code == 3, result.output
    assert "slice_attempts" in result.stderr and "cycle" in result.stderr
    assert sorted(issues_dir(project).glob("*.md")) == before


# --------------------------------------------------------------------------- plan


def test_plan_runs_all_three_steps_and_resumes(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    api.add(p.ask(1), p.finish(), p.prd(), p.issues())

    result = harness(
        "plan", p.IDEA, "--answers", str(answers_file(tmp_path, "", "/confirm")), "--repo", str(project), "--json"
    )

    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [Path(i["path"]).name.split("-", 1)[1] for i in doc["issues"]] == [
        "count-words-separated-by-spaces.md",
        "punctuation-splits-words.md",
    ]
    slug = doc["prd"]
    calls = len(api.requests)

    again = harness("plan", "--resume", slug, "--repo", str(project))

    assert again.exit_code == 0, again.output
    assert len(api.requests) == calls  # nothing left to do: no model call
    assert "already sliced" in again.stderr


def test_slice_github_without_gh_or_a_token_fails_before_the_model_and_writes_nothing(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = written_prd(harness, project, api, tmp_path)
    calls = len(api.requests)
    before = {p_.name: p_.read_bytes() for p_ in issues_dir(project).glob("*.md")}
    bin_dir = tmp_path / "no-gh-here"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git") or "/usr/bin/git")  # git, but no gh
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    api.add(p.issues())
    result = harness("slice", slug, "--github", "--repo", str(project), "--json")
    assert result.exit_code == 2 and "GITHUB_TOKEN" in result.output, result.output
    assert len(api.requests) == calls  # the slicer was never asked
    assert {p_.name: p_.read_bytes() for p_ in issues_dir(project).glob("*.md")} == before


def test_a_re_slice_keeps_an_issue_a_person_edited_and_says_what_would_change(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    slug = written_prd(harness, project, api, tmp_path)
    api.add(p.issues())
    first = json.loads(harness("slice", slug, "--repo", str(project), "--json").stdout)
    path = Path(first["issues"][0]["path"])
    path.write_text(path.read_text(encoding="utf-8") + "\nNotes: ask Ann about unicode.\n", encoding="utf-8")
    edited = path.read_bytes()
    renamed = [
        p.slice_("count-basic", "Count words, renamed", stories=[1]),
        p.slice_("punctuation", "Punctuation splits words", ["count-basic"], stories=[2]),
    ]
    api.add(p.issues(renamed))
    result = harness("slice", slug, "--repo", str(project), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert path.read_bytes() == edited  # neither rewritten nor renamed
    [held] = doc["edited"]
    assert held["path"] == str(path) and "Count words, renamed" in held["would_change"]
    api.add(p.issues(renamed))
    forced = json.loads(harness("slice", slug, "--repo", str(project), "--json", "--overwrite-edited").stdout)
    assert forced["edited"] == [] and not path.exists()  # replaced, under the new title's file name
