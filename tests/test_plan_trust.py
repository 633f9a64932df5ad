"""What planning can be trusted with: what the interviewer sees of the repository, that `/finish` ends the
interview, that a failed start changes nothing, what an answers file may say, and planning a brand-new
repository. The real CLI, the real SDK over HTTP to the fake Messages API, real files in a real git repo."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import planscript as p
import pytest
from planscript import answers_file, grill, transcript_of

from harness.fakeapi import FakeMessagesAPI

HIDDEN = "hidden-marker"  # only in files git would not show: harness state, another branch, ignored files
SEEN = "seen-marker"  # in an untracked file that is not ignored: git shows it, so planning must too


def tree(root: Path) -> dict[str, bytes | str]:
    """Every file and directory under ``root`` (``.git`` included) with its bytes; a symlink by its target."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[key] = f"-> {path.readlink()}"
        elif path.is_dir():
            found[key] = "<dir>"
        else:
            found[key] = path.read_bytes()
    return found


def git(cwd: Path, *args: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@localhost", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True)


# --------------------------------------------------------------------------- 1. the repository as git sees it

RUN_TRACE = ".harness/runs/20250101-000000-run-001/trace.jsonl"
BRANCH_FILE = ".harness/worktrees/001-slugify/textkit/slug.py"


def _harness_state_and_ignored_files(project: Path) -> None:
    trace = project / RUN_TRACE
    trace.parent.mkdir(parents=True)
    trace.write_text(json.dumps({"kind": "tool_result", "text": f"def count_words(text): {HIDDEN}"}) + "\n")
    # An unmerged branch, checked out the way `harness run` does it.
    git(project, "worktree", "add", "-q", "-b", "harness/001-slugify", ".harness/worktrees/001-slugify")
    (project / BRANCH_FILE).write_text(f"def slugify(text):  # {HIDDEN}\n    return text\n", encoding="utf-8")
    # A plain copy of code under the harness directory (no .git in it): still harness state.
    copy = project / ".harness" / "worktrees" / "002-copy" / "words.py"
    copy.parent.mkdir(parents=True)
    copy.write_text(f"def count_words(text):  # {HIDDEN}\n", encoding="utf-8")
    (project / ".harness" / "state").mkdir()
    (project / ".harness" / "state" / "batch.json").write_text(json.dumps({"note": HIDDEN}), encoding="utf-8")
    # Build output the project ignores.
    built = project / "build" / "lib" / "textkit" / "words.py"
    built.parent.mkdir(parents=True)
    built.write_text(f"def count_words(text):  # {HIDDEN}\n", encoding="utf-8")
    with (project / ".gitignore").open("a", encoding="utf-8") as ignore:
        ignore.write("build/\n")
    # New code, not committed yet and not ignored: part of the repository as git sees it.
    (project / "textkit" / "words.py").write_text(f"def count_words(text):  # {SEEN}\n", encoding="utf-8")
    # A link that is itself visible but leads into harness state.
    (project / "textkit" / "peek.py").symlink_to(Path("..") / RUN_TRACE)


@pytest.mark.parametrize("gitignore_lists_state", [True, False], ids=["state-ignored", "state-not-ignored"])
def test_the_interviewer_sees_only_what_git_sees(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path, gitignore_lists_state: bool
) -> None:
    if not gitignore_lists_state:
        ignore = project / ".gitignore"
        lines = [line for line in ignore.read_text(encoding="utf-8").splitlines() if ".harness" not in line]
        ignore.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _harness_state_and_ignored_files(project)
    lookups = [
        ("grep", {"pattern": "marker"}),
        ("glob", {"pattern": "**/*"}),
        ("glob", {"pattern": ".harness/**"}),
        ("grep", {"pattern": "marker", "path": ".harness"}),
        ("grep", {"pattern": "def ", "glob": "*.py"}),
        ("read", {"path": RUN_TRACE}),
        ("read", {"path": BRANCH_FILE}),
        ("read", {"path": "build/lib/textkit/words.py"}),
        ("read", {"path": "textkit/peek.py"}),
        ("read", {"path": "textkit/words.py"}),
    ]
    api.add(*(p.lookup(tool, **fields) for tool, fields in lookups), p.ask(1), p.finish())

    result, _ = grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "", "/confirm")))

    assert result.exit_code == 0, result.output
    assert api.problems == []
    results = p.role_results(api)[: len(lookups)]
    for (tool, fields), text in zip(lookups, results, strict=True):
        assert HIDDEN not in text, f"{tool} {fields} showed a file git does not show:\n{text}"
    grep_all, glob_all, glob_state, grep_state, grep_py, *reads, read_new = results
    assert "textkit/words.py:1:" in grep_all and SEEN in grep_all  # not an empty view: new code is seen
    assert {"textkit/words.py", "textkit/__init__.py", "tests/test_words.py"} <= set(glob_all.splitlines())
    assert ".harness" not in glob_all and "build/" not in glob_all and "textkit/peek.py" not in glob_all
    assert glob_state.startswith("no files match") and grep_state.startswith("no matches")
    assert "textkit/__init__.py:4:def word_count" in grep_py and ".harness" not in grep_py and "build/" not in grep_py
    for refused in reads:
        assert "as git sees it" in refused
    assert SEEN in read_new


# --------------------------------------------------------------------------- 3. /finish ends the interview


def test_after_finish_only_the_finishing_tool_is_offered(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    api.add(p.ask(1), p.ask(2), p.finish(), p.ask(3), p.finish())
    correction = "Also decide what an empty text gives"
    answers = answers_file(tmp_path, "Letters only", "/finish", f"/reject {correction}", "0", "/confirm")

    result, doc = grill(harness, project, p.IDEA, "--answers", str(answers))

    assert result.exit_code == 0, result.output
    assert api.problems == []
    summing_up = api.requests[2]
    assert p.tools_offered(summing_up) == ["finish_interview"]
    assert "Letters only" in p.first_user_text(summing_up)  # summed up from the record of the interview
    # The summary was not confirmed: the interviewer goes on, with `ask_user` again, told what is wrong.
    after = api.requests[3]
    assert "ask_user" in p.tools_offered(after) and correction in p.role_results(api)[-2]
    transcript = transcript_of(project, doc["slug"])
    assert transcript.status == "finished"
    assert [(e.answer, e.source) for e in transcript.exchanges] == [
        ("Letters only", "file"),
        ("(not answered: the user finished the interview here)", "skipped"),
        ("0", "file"),
    ]


# --------------------------------------------------------------------------- 4. a failed start changes nothing


def test_without_an_api_key_nothing_is_written(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An interrupted interview, to resume below.
    api.add(p.ask(1), p.ask(2))
    first, _ = grill(harness, project, "Add a sentence counter", "--answers", str(answers_file(tmp_path, "")))
    assert first.exit_code == 2
    slug = next((project / ".harness" / "grills").glob("*.md")).stem
    calls = len(api.requests)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    answers = str(answers_file(tmp_path, "", "/confirm", name="more.yaml"))
    before = tree(project)

    for _ in range(3):
        for args in (
            ("grill", p.IDEA, "--answers", answers),
            ("grill", "--resume", slug, "--answers", answers),
            ("plan", p.IDEA, "--answers", answers),
        ):
            result = harness(*args, "--repo", str(project))
            assert result.exit_code == 2, result.output
            assert "ANTHROPIC_API_KEY" in result.stderr

    assert tree(project) == before
    assert len(api.requests) == calls
    assert sorted(path.name for path in (project / ".harness" / "grills").iterdir()) == [f"{slug}.md"]


def test_with_nobody_to_answer_nothing_is_written(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    before = tree(project)

    for _ in range(3):
        result, _ = grill(harness, project, p.IDEA)
        assert result.exit_code == 2 and "--answers" in result.stderr

    assert tree(project) == before and api.requests == []


# --------------------------------------------------------------------------- 5. the answers file


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("/bogus", "unknown command `/bogus`"),
        ("/back 1", "`/back` works only at the prompt"),
        ("/decisions", "`/decisions` works only at the prompt"),
        ("/reject", "`/reject` needs what is wrong"),
        ("/confirm it looks right", "`/confirm` takes nothing after it"),
    ],
)
def test_a_command_the_answers_file_cannot_hold_is_refused_with_its_line(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path, line: str, says: str
) -> None:
    answers = tmp_path / "answers.md"
    answers.write_text(f"# answers for the word counter\n\n- Runs of letters\n- {line}\n- /confirm\n", encoding="utf-8")
    before = tree(project)

    result, _ = grill(harness, project, p.IDEA, "--answers", str(answers))

    assert result.exit_code == 2, result.output
    assert f"{answers}:4:" in result.stderr and says in result.stderr
    assert api.requests == [] and tree(project) == before


def test_the_line_is_named_in_a_yaml_answers_file_too(harness: Any, project: Path, api: Any, tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text('answers:\n  - Runs of letters\n  - ""\n  - "/bogus"\n', encoding="utf-8")

    result, _ = grill(harness, project, p.IDEA, "--answers", str(answers))

    assert result.exit_code == 2 and f"{answers}:4:" in result.stderr and "/bogus" in result.stderr
    assert api.requests == []


@pytest.mark.parametrize(
    ("answers", "says"),
    [(("", ""), "answer 2"), (("",), "no `/confirm`")],
    ids=["an-answer-where-the-summary-is", "the-file-ends-before-the-summary"],
)
def test_a_summary_is_confirmed_only_by_an_explicit_confirm(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path, answers: tuple[str, ...], says: str
) -> None:
    api.add(p.ask(1), p.finish())

    result, _ = grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, *answers)))

    assert result.exit_code == 2, result.output
    assert says in result.stderr and "/confirm" in result.stderr and "--resume" in result.stderr
    assert "A library function textkit.count_words" in result.stderr  # the summary is shown, not confirmed
    slug = next((project / ".harness" / "grills").glob("*.md")).stem
    saved = transcript_of(project, slug)
    assert saved.status == "interviewing" and saved.exchanges[0].answer == p.QUESTIONS[0][1]


def test_the_answers_file_can_reject_a_summary_that_contradicts_it(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    wrong = p.finish([(p.QUESTIONS[0][0], "Whitespace-separated runs")])
    api.add(p.ask(1), wrong, p.finish([(p.QUESTIONS[0][0], "Letters only")]))
    correction = "Q1 was answered 'Letters only', not whitespace-separated runs"
    answers = answers_file(tmp_path, "Letters only", f"/reject {correction}", "/confirm")

    result, doc = grill(harness, project, p.IDEA, "--answers", str(answers))

    assert result.exit_code == 0, result.output
    assert api.problems == []
    assert correction in p.role_results(api)[-1]
    transcript = transcript_of(project, doc["slug"])
    assert [(d.question, d.answer) for d in transcript.decisions] == [(p.QUESTIONS[0][0], "Letters only")]


def test_a_confirm_where_a_question_comes_stops_the_interview(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    api.add(p.ask(1), p.ask(2))

    result, _ = grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "", "/confirm")))

    assert result.exit_code == 2, result.output
    assert "answer 2" in result.stderr and p.QUESTIONS[1][0] in result.stderr and "--resume" in result.stderr


def test_an_answer_starting_with_a_slash_is_written_with_two(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    api.add(p.ask(1), p.finish())

    result, doc = grill(
        harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "//usr/share/dict", "/confirm"))
    )

    assert result.exit_code == 0, result.output
    assert transcript_of(project, doc["slug"]).exchanges[0].answer == "/usr/share/dict"


# --------------------------------------------------------------------------- 6. resume and a brand-new repository


def test_resuming_a_finished_interview_without_a_terminal_names_the_next_step(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    api.add(p.ask(1), p.finish())
    _, doc = grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "", "/confirm")))
    before = tree(project)

    result, _ = grill(harness, project, "--resume", doc["slug"])

    assert result.exit_code == 2, result.output
    assert "already finished" in result.stderr and f"harness prd {doc['slug']}" in result.stderr
    assert "nobody to ask" not in result.stderr and tree(project) == before


def test_a_brand_new_repository_can_be_planned(harness: Any, api: FakeMessagesAPI, tmp_path: Path) -> None:
    fresh = tmp_path / "wordy"
    fresh.mkdir()
    git(fresh, "init", "-q")
    (fresh / "README.md").write_text("# wordy\n\nCounts the words of a text.\n", encoding="utf-8")
    api.add(p.lookup("grep", pattern="words"), p.ask(1), p.finish(), p.prd(), p.issues())
    answers = answers_file(tmp_path, "", "/confirm")

    result = harness("plan", "Count words", "--answers", str(answers), "--repo", str(fresh), "--json")

    assert result.exit_code == 0, result.output
    assert api.problems == []
    assert "README.md:3:Counts the words of a text." in p.role_results(api)[0]  # untracked files are seen
    assert len(json.loads(result.stdout)["issues"]) == 2


# --------------------------------------------------------------------------- 7. numbered options


def test_a_bare_number_in_the_answers_file_picks_that_option(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    api.add(p.ask_options(), p.ask_options(), p.ask_options(), p.finish())
    answers = answers_file(tmp_path, "3", "2", "1 of each", "/confirm")

    result, doc = grill(harness, project, p.IDEA, "--answers", str(answers))

    assert result.exit_code == 0, result.output
    assert api.problems == []
    assert "1. As two words" in result.stderr + result.stdout  # the options are shown, numbered
    exchanges = transcript_of(project, doc["slug"]).exchanges
    assert exchanges[0].options == p.OPTIONS
    assert [(e.answer, e.source) for e in exchanges] == [
        (p.OPTIONS[2], "file"),
        (p.OPTIONS[1], "file"),
        ("1 of each", "file"),
    ]
    told = p.role_results(api)
    assert told[0] == f"The user picked option 3: {p.OPTIONS[2]}"
    assert told[1] == f"The user accepted your recommendation: {p.OPTIONS[1]}"
    assert told[2] == "The user's answer: 1 of each"


def test_a_number_that_is_no_option_stops_the_answers_file(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    api.add(p.ask_options())

    result, _ = grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "4", "/confirm")))

    assert result.exit_code == 2, result.output
    assert "3 options" in result.stderr and "from 1 to 3" in result.stderr and "--resume" in result.stderr


def test_a_recommendation_that_is_not_an_option_is_sent_back_to_the_interviewer(
    harness: Any, project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    api.add(p.ask_options(recommended="Whatever slugify does"), p.ask_options(), p.finish())

    result, doc = grill(harness, project, p.IDEA, "--answers", str(answers_file(tmp_path, "", "/confirm")))

    assert result.exit_code == 0, result.output
    error = p.role_results(api)[0]
    assert "'Whatever slugify does' is not one of the options" in error and "recommended_answer" in error
    exchanges = transcript_of(project, doc["slug"]).exchanges
    assert [(e.question, e.answer) for e in exchanges] == [(p.CHOICE, p.OPTIONS[1])]  # the bad call asked nobody
