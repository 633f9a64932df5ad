"""Scripted planner turns (interviewer, PRD writer, slicer) for the fake Messages API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from script import tool_results as role_results  # noqa: F401  (the answers the harness sent back)

from harness.fakeapi import Reply, reply, tool_use
from harness.planfiles import load_transcript

IDEA = "Add a word counter to textkit"
SLUG = "add-a-word-counter-to-textkit"
QUESTIONS = [
    ("What should count as a word?", "Runs of letters and digits; punctuation splits words", "matches slugify"),
    ("Should the counter be exposed on the command line?", "No: a library function only", "textkit has no CLI"),
    ("What does an empty string give?", "0", None),
]
STORIES = [
    "As a writer, I want to count the words of a text, so that I can keep within a limit",
    "As a writer, I want punctuation ignored, so that 'hello, world' counts as two words",
]


def ask(number: int) -> Reply:
    question, recommended, why = QUESTIONS[number - 1]
    fields: dict[str, Any] = {"question": question, "recommended_answer": recommended}
    if why:
        fields["why"] = why
    return reply(tool_use("ask_user", fields), expect_tool="ask_user")


# A decision with a few clear alternatives, offered as numbered options (the second is recommended).
CHOICE = "How should the counter treat hyphenated words like 'well-known'?"
OPTIONS = ["As two words", "As one word", "Configurable, one word by default"]


def ask_options(recommended: str = OPTIONS[1], options: list[str] | None = None) -> Reply:
    fields = {"question": CHOICE, "recommended_answer": recommended, "options": options or OPTIONS}
    return reply(tool_use("ask_user", fields), expect_tool="ask_user")


def lookup(name: str = "grep", expect: str = "ask_user", **fields: Any) -> Reply:
    return reply(tool_use(name, fields or {"pattern": "def "}), expect_tool=expect)


def finish(decisions: list[tuple[str, str]] | None = None) -> Reply:
    pairs = decisions or [(q, r) for q, r, _ in QUESTIONS[:2]]
    return reply(
        tool_use(
            "finish_interview",
            summary="A library function textkit.count_words(text) -> int.",
            decisions=[{"question": q, "answer": a} for q, a in pairs],
        ),
        expect_tool="finish_interview",
    )


def prd(**overrides: Any) -> Reply:
    fields: dict[str, Any] = {
        "title": "Word counter",
        "problem": "Writers cannot check the length of a text with textkit.",
        "solution": "textkit.count_words(text) returns the number of words.",
        "user_stories": STORIES,
        "implementation_decisions": ["A function count_words in a new module textkit.words"],
        "testing_decisions": ["Test through the public function, like tests/test_slug.py does"],
        "out_of_scope": ["A command-line interface"],
        "glossary": [{"term": "word", "definition": "a run of letters and digits"}],
    }
    fields.update(overrides)
    return reply(tool_use("submit_prd", fields), expect_tool="submit_prd")


def slice_(key: str, title: str, blocked_by: list[str] | None = None, stories: list[int] | None = None) -> dict:
    return {
        "key": key,
        "title": title,
        "what_to_build": f"{title}, end to end through the public function",
        "acceptance_criteria": [f"{title}: count_words returns the right number"],
        "blocked_by": blocked_by or [],
        "kind": "AFK",
        "user_stories": stories or [1],
    }


GOOD_SLICES = [
    slice_("count-basic", "Count words separated by spaces", stories=[1]),
    slice_("punctuation", "Punctuation splits words", ["count-basic"], stories=[2]),
]


def issues(slices: list[dict] | None = None) -> Reply:
    return reply(tool_use("submit_issues", issues=slices or GOOD_SLICES), expect_tool="submit_issues")


def first_user_text(request: Any) -> str:
    content = request.body["messages"][0]["content"]
    return "\n".join(b.get("text", "") for b in content) if isinstance(content, list) else content


def system_text(request: Any) -> str:
    system = request.body["system"]
    return "\n".join(b["text"] for b in system) if isinstance(system, list) else system


def tools_offered(request: Any) -> list[str]:
    return [t["name"] for t in request.body.get("tools", [])]


# --------------------------------------------------------------------------- the CLI


def answers_file(tmp_path: Path, *answers: str, name: str = "answers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(list(answers)), encoding="utf-8")  # JSON is YAML
    return path


def grill(harness: Any, project: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    result = harness("grill", *args, "--repo", str(project), "--json")
    document = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result, document


def transcript_of(project: Path, slug: str) -> Any:
    return load_transcript(project / ".harness" / "grills" / f"{slug}.md")
