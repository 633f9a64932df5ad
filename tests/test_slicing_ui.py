"""The person's review of the slices, driven by scripted answers and read back from a recorded console."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from rich.console import Console

from harness.artifacts import Issue
from harness.plan_models import SliceSpec
from harness.slicing_ui import review_slices


def spec(key: str, *, blocked: tuple[str, ...] = (), stories: tuple[int, ...] = (1,), **more: object) -> SliceSpec:
    fields: dict[str, object] = {
        "key": key,
        "title": f"Slice {key}",
        "what_to_build": f"The {key} behaviour, end to end.",
        "acceptance_criteria": [f"{key} one", f"{key} two"],
        "blocked_by": list(blocked),
        "kind": "AFK",
        "user_stories": list(stories),
    }
    return SliceSpec.model_validate({**fields, **more})


def chain() -> list[SliceSpec]:
    return [spec("a"), spec("b", blocked=("a",), stories=(2,)), spec("c", blocked=("b",), stories=(3,))]


class Script:
    """Answers the prompts in order and records them; running out of answers is a test failure."""

    def __init__(self, answers: Iterable[str]) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.answers:
            raise AssertionError(f"no scripted answer left for {prompt!r}")
        return self.answers.pop(0)


def run(
    answers: Iterable[str], slices: list[SliceSpec] | None = None, *, story_count: int = 3
) -> tuple[list[SliceSpec] | None, str, Script]:
    console = Console(record=True, width=80, color_system=None)
    script = Script(answers)
    existing: dict[str, Issue] = {}
    result = review_slices(
        chain() if slices is None else slices, story_count=story_count, existing=existing, console=console, ask=script
    )
    assert not script.answers, "the review stopped before reading every answer"
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    return result, text, script


@pytest.mark.parametrize("answer", ["", "a", "A", " accept "])
def test_enter_or_a_accepts_the_slices_as_they_are(answer: str) -> None:
    result, text, _ = run([answer])
    assert result == chain()
    assert "Slice a" in text and "✓ no problems found" in text


def test_q_quits_without_slices() -> None:
    assert run(["q"])[0] is None


def test_end_of_input_quits() -> None:
    def closed(prompt: str) -> str:
        raise EOFError

    assert review_slices(chain(), story_count=3, existing={}, console=Console(record=True), ask=closed) is None


def test_help_lists_the_commands() -> None:
    _, text, _ = run(["?", "a"])
    for command in ("m A B", "s A", "k A", "t A TITLE", "o A POS", "q "):
        assert command in text


def test_merge_by_key_or_number() -> None:
    result, text, _ = run(["m b 3", "a"])
    assert result is not None
    assert [s.key for s in result] == ["a", "b"]
    assert result[1].acceptance_criteria == ["b one", "b two", "c one", "c two"]
    assert text.count("Slice c") == 2  # shown before the merge, gone from the table after


def test_an_edit_that_breaks_the_graph_is_refused_and_the_slices_kept() -> None:
    result, text, _ = run(["m a c", "a"])
    assert result == chain()
    assert "refused" in text and "dependency cycle a → b → a" in text


def test_split_asks_which_criteria_and_the_title() -> None:
    result, text, script = run(["s b", "2", "The second half", "a"])
    assert result is not None
    assert [s.key for s in result] == ["a", "b", "b-2", "c"]
    assert result[1].acceptance_criteria == ["b one"]
    assert (result[2].title, result[2].acceptance_criteria, result[2].blocked_by) == (
        "The second half",
        ["b two"],
        ["b"],
    )
    assert "1. b one" in text and "2. b two" in text
    assert any("criteria" in p for p in script.prompts) and any("title" in p for p in script.prompts)


def test_split_can_be_cancelled() -> None:
    result, _, _ = run(["s a", "", "a"])
    assert result == chain()


@pytest.mark.parametrize("answer", ["x y", "1 2"])
def test_a_bad_split_is_explained(answer: str) -> None:
    result, text, _ = run(["s a", answer, *(["T"] if answer == "1 2" else []), "a"])
    assert result == chain()
    assert "✗" in text


def test_k_toggles_afk_and_hitl() -> None:
    result, _, _ = run(["k a", "k 2", "k 2", "a"])
    assert result is not None
    assert [s.kind for s in result] == ["HITL", "AFK", "AFK"]


def test_t_retitles_with_the_rest_of_the_line() -> None:
    result, text, _ = run(["t c Search notes by tag", "a"])
    assert result is not None and result[2].title == "Search notes by tag"
    assert "Search notes by tag" in text


def test_o_moves_a_slice_but_never_ahead_of_its_blocker() -> None:
    slices = [*chain(), spec("d", stories=(1,))]
    result, _, _ = run(["o d 1", "a"], slices)
    assert result is not None and [s.key for s in result] == ["d", "a", "b", "c"]
    result, text, _ = run(["o c 1", "a"])
    assert result is not None and [s.key for s in result] == ["a", "b", "c"]
    assert "cannot go to position 1: it is blocked by b" in text


def test_view_blocked_by_delete_and_undo() -> None:
    result, text, _ = run(["v b", "b c a", "d b", "u", "u", "a"])
    assert "b: Slice b [AFK]" in text and "acceptance criteria:" in text
    assert result is not None and [(s.key, s.blocked_by) for s in result] == [("a", []), ("b", ["a"]), ("c", ["b"])]
    result, text, _ = run(["u", "b c", "a"])
    assert "nothing to undo" in text
    assert result is not None and result[2].blocked_by == []


def test_the_blocked_by_column_is_never_cut() -> None:
    slices = [spec("a"), spec("b", stories=(2,)), spec("c", blocked=("a", "b", "001", "002", "003"), stories=(3,))]
    existing = {i: None for i in ("001", "002", "003")}
    console = Console(record=True, width=120, color_system=None)
    review_slices(slices, story_count=3, existing=existing, console=console, ask=Script(["q"]))  # type: ignore[arg-type]
    text = console.export_text()
    assert all(b in text for b in ("001", "002", "003")), text


@pytest.mark.parametrize(
    ("command", "explanation"),
    [
        ("zap", "unknown command 'zap'"),
        ("m a", "merge needs two slices"),
        ("m a nope", "no slice 'nope'"),
        ("k 9", "no slice '9'"),
        ("t a", "retitle needs a slice and the new title"),
        ("o a x", "move needs a slice and a position"),
        ("o a 7", "position 7 is outside 1..3"),
        ("s", "split needs one slice"),
    ],
)
def test_bad_commands_get_a_one_line_explanation(command: str, explanation: str) -> None:
    result, text, _ = run([command, "a"])
    assert result == chain()
    line = next(line for line in text.splitlines() if line.startswith("✗"))
    assert explanation in line


def test_a_retitle_that_makes_a_slice_horizontal_is_refused() -> None:
    result, text, _ = run(["t a Write all the tests", "a"])
    assert result == chain()
    assert "looks horizontal" in text


def _with_problems() -> list[SliceSpec]:
    return [spec("a"), spec("b", stories=(2,))]


@pytest.mark.parametrize(("answers", "accepted"), [(["", "y"], True), (["", "n", "q"], False), (["a", "", "q"], False)])
def test_accepting_slices_with_problems_asks_first(answers: list[str], accepted: bool) -> None:
    result, text, script = run(answers, _with_problems(), story_count=3)
    assert "1 problem:" in text and "user story 3 served by no slice" in text
    assert any("accept with 1 problem left" in p for p in script.prompts)
    assert result == (_with_problems() if accepted else None)


def test_the_default_prompt_reads_from_the_console(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_ask(prompt: str, **kwargs: object) -> str:
        asked.append(prompt)
        return "q"

    ask: Callable[..., str] = fake_ask
    monkeypatch.setattr("harness.slicing_ui.Prompt.ask", ask)
    assert review_slices(chain(), story_count=3, existing={}, console=Console(record=True)) is None
    assert asked and "Enter accepts" in asked[0]


def test_a_delete_that_leaves_a_story_unserved_is_refused_and_merging_is_offered() -> None:
    result, text, _ = run(["d b", "a"])
    assert "user story 2 served by no slice" in text and "merge it into another slice instead: m A B" in text
    assert result is not None and [s.key for s in result] == ["a", "b", "c"]
