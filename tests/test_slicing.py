"""Slicing a PRD: the checks the slicer is answered with, stable ids on re-slice, the files, the review edits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from harness import frontmatter
from harness.artifacts import Issue, issue_digest, load_issue
from harness.errors import UsageError
from harness.plan_models import SliceSpec
from harness.slicing import (
    EditError,
    check_slices,
    delete,
    describe_slice,
    existing_issues,
    merge,
    move,
    plan_issues,
    render_slices,
    retitle,
    set_blocked_by,
    set_kind,
    split,
    write_issues,
)

PRD = "notes"


def spec(
    key: str,
    title: str | None = None,
    *,
    blocked: tuple[str, ...] = (),
    stories: tuple[int, ...] = (1,),
    criteria: tuple[str, ...] = ("the user sees it work",),
    kind: str = "AFK",
    what: str = "A user can do this end to end, from the command line to the file on disk.",
) -> SliceSpec:
    return SliceSpec(
        key=key,
        title=title or f"Slice {key}",
        what_to_build=what,
        acceptance_criteria=list(criteria),
        blocked_by=list(blocked),
        kind=kind,  # type: ignore[arg-type]
        user_stories=list(stories),
    )


def issue(id: str, **fields: Any) -> Issue:
    return Issue.model_validate({"id": id, "title": f"Issue {id}", "body": "- [ ] done", **fields})


def write_issue_file(directory: Path, id: str, title: str, *, by_hand: bool = False, **meta: Any) -> Path:
    """An issue file as `harness slice` writes it (with the digest of its text), or as a person wrote it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{id}-{title.lower().replace(' ', '-')}.md"
    body = "## Acceptance criteria\n\n- [ ] it works # keep\n"
    fields = {"id": id, "title": title, **meta}
    if not by_hand:
        fields["sliced"] = issue_digest(Issue.model_validate({**fields, "body": body}).model_dump(mode="json"), body)
    path.write_text(frontmatter.render(fields, body), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- check_slices: clean graphs


def test_a_sound_slicing_has_no_problems() -> None:
    slices = [
        spec("add", stories=(1,)),
        spec("list", blocked=("add",), stories=(2,)),
        spec("search", blocked=("add",), stories=(3,)),
        spec("export", blocked=("list", "search", "007"), stories=(2, 3)),
    ]
    assert check_slices(slices, story_count=3, existing={"007": issue("007", status="done")}) == []


def test_slices_blocked_only_by_existing_issues_can_start() -> None:
    slices = [spec("a", blocked=("003",)), spec("b", blocked=("a",))]
    problems = check_slices(slices, story_count=1, existing={"003": issue("003")})
    assert problems == []


# --------------------------------------------------------------------------- check_slices: each problem


def test_duplicate_keys_are_named_with_their_positions() -> None:
    problems = check_slices([spec("a"), spec("b"), spec("a")], story_count=1, existing={})
    assert problems == ["key 'a' is used by 2 slices (positions 1, 3); give each slice its own key"]


def test_a_blocker_that_is_neither_a_key_nor_an_existing_id_is_named() -> None:
    problems = check_slices(
        [spec("a"), spec("b", blocked=("a", "nope"))], story_count=1, existing={"001": issue("001")}
    )
    assert len(problems) == 1
    assert "slice 'b' is blocked by 'nope'" in problems[0]
    assert "(a, b)" in problems[0] and "(001)" in problems[0]


def test_a_slice_blocked_by_itself_is_named() -> None:
    problems = check_slices([spec("a"), spec("b", blocked=("b",))], story_count=1, existing={})
    assert problems == ["slice 'b' is blocked by itself; remove 'b' from its blocked_by"]


def test_a_cycle_is_named_in_order() -> None:
    slices = [spec("start"), spec("a", blocked=("c",)), spec("b", blocked=("a",)), spec("c", blocked=("b", "start"))]
    problems = check_slices(slices, story_count=1, existing={})
    assert len(problems) == 1
    assert problems[0].startswith("dependency cycle a → c → b → a:")


def test_two_separate_cycles_are_each_named_once() -> None:
    slices = [spec("s"), spec("a", blocked=("b",)), spec("b", blocked=("a",)), spec("x", blocked=("y",))]
    slices.append(spec("y", blocked=("x",)))
    problems = check_slices(slices, story_count=1, existing={})
    assert [p.split(":")[0] for p in problems] == ["dependency cycle a → b → a", "dependency cycle x → y → x"]


def test_when_every_slice_waits_for_another_nothing_could_start() -> None:
    problems = check_slices([spec("a", blocked=("b",)), spec("b", blocked=("a",))], story_count=1, existing={})
    assert any("nothing could start" in p for p in problems)
    assert any(p.startswith("dependency cycle a → b → a") for p in problems)


def test_user_story_numbers_outside_the_prd_are_named() -> None:
    problems = check_slices([spec("a", stories=(1, 4, 0))], story_count=2, existing={})
    assert problems == [
        "slice 'a' names user stories 4, 0, but the PRD has no such story (its stories: numbered 1..2); "
        "use the numbers of the PRD's user stories",
        "user story 2 served by no slice, and every story must be: add each to the user_stories of the slice "
        "that delivers it, or add a slice for it",
    ]


def test_every_user_story_must_be_served() -> None:
    problems = check_slices([spec("a", stories=(2,)), spec("b", stories=())], story_count=4, existing={})
    assert len(problems) == 1 and problems[0].startswith("user stories 1, 3, 4 served by no slice")


def test_an_empty_acceptance_criterion_is_named() -> None:
    problems = check_slices([spec("a", criteria=("works", "  "))], story_count=1, existing={})
    assert problems == [
        "slice 'a': acceptance criteria 2 are empty; write each as an observable, checkable statement, or drop it"
    ]


def test_a_key_that_is_also_an_existing_issue_id_is_ambiguous() -> None:
    problems = check_slices([spec("001")], story_count=1, existing={"001": issue("001")})
    assert len(problems) == 1 and "key '001' is also the id of an existing issue" in problems[0]


@pytest.mark.parametrize(
    ("title", "what"),
    [
        ("Write all the tests", None),
        ("Add all tests", None),
        ("Tests for everything", None),
        ("Database layer", None),
        ("Build the data layer for notes", None),
        ("API layer", None),
        ("Set up the schema", None),
        ("Set up the database schema", None),
        ("All models", None),
        ("Frontend only", None),
        ("Write unit tests", None),
        ("Notes storage", "Create all the models and migrations the app needs."),
        ("Backend work", "Only the backend: the UI comes in a later slice."),
        ("Notes", "Write all of the tests for the notes feature."),
    ],
)
def test_horizontal_slices_are_explained(title: str, what: str | None) -> None:
    kwargs = {"what": what} if what else {}
    problems = check_slices([spec("h", title, **kwargs)], story_count=1, existing={})
    assert len(problems) == 1
    assert problems[0].startswith("slice 'h' looks horizontal (")
    assert "one model field + its endpoint + its test" in problems[0]


@pytest.mark.parametrize(
    ("title", "what"),
    [
        ("Add login endpoint with its model and tests", None),
        ("Log out clears the session", None),
        ("Show a user's orders on the dashboard", None),
        ("Store a note and list it through the API", None),
        ("Only admins can delete posts", None),
        ("Validate the config schema on load", None),
        ("Export notes as CSV", "The API layer streams the rows; a test checks the header line and one row."),
        ("Search notes by tag", "Adds the tag column to the notes model, the search endpoint, and their tests."),
        ("Tested retries for uploads", None),
    ],
)
def test_vertical_slices_are_not_called_horizontal(title: str, what: str | None) -> None:
    kwargs = {"what": what} if what else {}
    assert check_slices([spec("v", title, **kwargs)], story_count=1, existing={}) == []


keys = st.sampled_from(["a", "b", "c", "d", "001", "x.y"])
slice_specs = st.builds(
    SliceSpec,
    key=keys,
    title=st.text(min_size=1).map(lambda t: "t" + t),
    what_to_build=st.text(min_size=1).map(lambda t: "w" + t),
    acceptance_criteria=st.lists(st.text(), min_size=1, max_size=3),
    blocked_by=st.lists(keys | st.text(max_size=3), max_size=4),
    kind=st.sampled_from(["AFK", "HITL"]),
    user_stories=st.lists(st.integers(min_value=-3, max_value=12), max_size=4),
)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
@given(
    slices=st.lists(slice_specs, max_size=7),
    story_count=st.integers(min_value=0, max_value=6),
    existing_ids=st.lists(st.sampled_from(["001", "002", "a"]), max_size=3),
)
def test_check_slices_never_raises_and_only_passes_sound_graphs(
    slices: list[SliceSpec], story_count: int, existing_ids: list[str]
) -> None:
    existing = {i: issue(i) for i in existing_ids}
    problems = check_slices(slices, story_count=story_count, existing=existing)
    assert all(isinstance(p, str) and p for p in problems)
    assert problems == check_slices(slices, story_count=story_count, existing=existing)
    if not problems:
        keys = [s.key for s in slices]
        assert len(set(keys)) == len(keys)
        assert {n for s in slices for n in s.user_stories} == set(range(1, story_count + 1))
        # a sound graph can be ordered blockers first
        done: set[str] = set(existing)
        pending = list(slices)
        while pending:
            ready = [s for s in pending if all(b in done for b in s.blocked_by)]
            assert ready
            done |= {s.key for s in ready}
            pending = [s for s in pending if s.key not in done]


# --------------------------------------------------------------------------- plan_issues / write_issues


STORIES = [
    "As a writer, I want to add a note, so that I remember it",
    "As a writer, I want to list my notes, so that I find them",
]


def test_a_fresh_directory_gets_ids_from_001_and_files_that_load_back(tmp_path: Path) -> None:
    issues_dir = tmp_path / "issues"
    slices = [
        spec("add", "Add a note", criteria=("`notes add x` saves x", "x is listed after")),
        spec("list", "List notes", blocked=("add",), stories=(2,), kind="HITL"),
    ]
    plan = plan_issues(issues_dir, PRD, slices)
    assert dict(plan.ids) == {"add": "001", "list": "002"}
    assert not issues_dir.exists()  # planning writes nothing
    result = write_issues(plan, stories=STORIES)
    assert [p.name for p in result.written] == ["001-add-a-note.md", "002-list-notes.md"]
    assert result.kept == result.removed == []

    first, second = (load_issue(p) for p in result.written)
    assert (first.id, first.title, first.prd, first.kind, first.status) == ("001", "Add a note", PRD, "AFK", "todo")
    assert first.key == "add" and first.user_stories == [1] and first.blocked_by == []
    assert first.acceptance_criteria == ["`notes add x` saves x", "x is listed after"]
    assert (second.blocked_by, second.kind, second.key) == (["001"], "HITL", "list")
    text = result.written[0].read_text(encoding="utf-8")
    assert "## What to build\n\nA user can do this end to end" in text
    assert "## Acceptance criteria\n\n- [ ] `notes add x` saves x\n- [ ] x is listed after\n" in text
    assert f"## User stories\n\n- Story 1: {STORIES[0]}\n" in text
    assert "id: '001'" in text


def test_the_body_names_the_parent_prd_and_the_blockers(tmp_path: Path) -> None:
    plan = plan_issues(tmp_path, PRD, [spec("add", "Add a note"), spec("list", "List notes", blocked=("add",))])
    first, second = write_issues(plan, stories=STORIES, prd_title="Notes  from the\nterminal").written
    first_text, second_text = (p.read_text(encoding="utf-8") for p in (first, second))
    assert "\n## Parent PRD\n\n`notes` — Notes from the terminal\n\n## What to build\n" in first_text
    assert "\n## Blocked by\n\nNone — can start at once\n" in first_text
    assert "\n## Blocked by\n\n- Issue 001: Add a note\n" in second_text
    # the sections are not criteria, and the digest covers the body as written: not edited
    loaded = load_issue(second)
    assert loaded.acceptance_criteria == ["the user sees it work"] and loaded.blocked_by == ["001"]
    assert not loaded.edited()
    assert loaded.sliced == issue_digest(loaded.model_dump(mode="json"), loaded.body)
    # plain list items instead of checkboxes: still only the items under `## Acceptance criteria`
    second.write_text(second_text.replace("- [ ] ", "- "), encoding="utf-8")
    assert load_issue(second).acceptance_criteria == ["the user sees it work"]


def test_a_blocker_outside_the_slicing_is_named_by_its_id(tmp_path: Path) -> None:
    write_issue_file(tmp_path, "007", "Other work", prd="other", status="done")
    [written] = write_issues(plan_issues(tmp_path, PRD, [spec("a", blocked=("007",))])).written
    assert "\n## Blocked by\n\n- Issue 007\n" in written.read_text(encoding="utf-8")
    assert "## Parent PRD\n\n`notes`\n" in written.read_text(encoding="utf-8")


def test_story_numbers_alone_without_the_story_texts(tmp_path: Path) -> None:
    written = write_issues(plan_issues(tmp_path, PRD, [spec("a", stories=(1, 2))])).written
    assert "## User stories\n\n- Story 1\n- Story 2\n" in written[0].read_text(encoding="utf-8")


def test_new_ids_come_after_the_highest_id_of_any_prd(tmp_path: Path) -> None:
    write_issue_file(tmp_path, "007", "Other work", prd="other", status="done")
    write_issue_file(tmp_path, "misc", "Not numbered", prd="other")
    plan = plan_issues(tmp_path, PRD, [spec("a"), spec("b", blocked=("a", "007"))])
    assert dict(plan.ids) == {"a": "008", "b": "009"}
    assert plan.writes[1].blocked_by == ("008", "007")


def _resliced_directory(tmp_path: Path) -> dict[str, Path]:
    return {
        "001": write_issue_file(tmp_path, "001", "Add a note", prd=PRD, status="todo", key="add", github=12),
        "002": write_issue_file(tmp_path, "002", "List notes", prd=PRD, status="in-progress", key="list"),
        "003": write_issue_file(tmp_path, "003", "Tag notes", prd=PRD, status="todo", key="tag"),
        "004": write_issue_file(tmp_path, "004", "Unrelated", prd="other", status="todo", key="add"),
        "005": write_issue_file(tmp_path, "005", "Done work", prd=PRD, status="done", key="old"),
    }


def test_a_re_slice_keeps_started_issues_reuses_ids_by_key_and_removes_dropped_todo_issues(tmp_path: Path) -> None:
    files = _resliced_directory(tmp_path)
    before = {id: path.read_bytes() for id, path in files.items()}
    slices = [
        spec("add", "Add a note quickly"),
        spec("list", "List notes, rewritten", blocked=("add",)),
        spec("search", "Search notes", blocked=("add", "list", "004")),
    ]
    plan = plan_issues(tmp_path, PRD, slices)
    assert dict(plan.ids) == {"add": "001", "list": "002", "search": "006"}
    assert plan.unchanged == ("list",)
    assert [w.spec.key for w in plan.writes] == ["add", "search"]
    assert plan.removed == (files["003"],)
    assert set(plan.kept) == {files["002"], files["005"]}

    result = write_issues(plan)
    assert [p.name for p in result.written] == ["001-add-a-note-quickly.md", "006-search-notes.md"]
    assert not files["001"].exists()  # renamed with its new title
    assert not files["003"].exists()
    for id in ("002", "004", "005"):  # started, or another PRD's: byte for byte as they were
        assert files[id].read_bytes() == before[id]
    rewritten = load_issue(tmp_path / "001-add-a-note-quickly.md")
    assert (rewritten.title, rewritten.github, rewritten.status) == ("Add a note quickly", 12, "todo")
    assert load_issue(tmp_path / "006-search-notes.md").blocked_by == ["001", "002", "004"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "001-add-a-note-quickly.md",
        "002-list-notes.md",
        "004-unrelated.md",
        "005-done-work.md",
        "006-search-notes.md",
    ]


def test_a_todo_issue_rewritten_under_the_same_title_keeps_its_file(tmp_path: Path) -> None:
    path = write_issue_file(tmp_path, "001", "Add a note", prd=PRD, status="todo", key="add")
    result = write_issues(plan_issues(tmp_path, PRD, [spec("add", "Add a note", criteria=("new criterion",))]))
    assert result.written == [path]
    assert load_issue(path).acceptance_criteria == ["new criterion"]


def test_a_dropped_todo_issue_that_a_staying_issue_waits_for_is_kept(tmp_path: Path) -> None:
    base = write_issue_file(tmp_path, "001", "Base", prd=PRD, status="todo", key="base")
    under = write_issue_file(tmp_path, "002", "Under", prd=PRD, status="todo", key="under", blocked_by=["001"])
    started = write_issue_file(tmp_path, "003", "Started", prd=PRD, status="in-progress", blocked_by=["002"])
    plan = plan_issues(tmp_path, PRD, [spec("fresh")])
    assert plan.removed == ()
    assert set(plan.kept) == {base, under, started}
    assert dict(plan.ids) == {"fresh": "004"}


def test_naming_a_removed_issue_by_id_is_refused_before_writing(tmp_path: Path) -> None:
    write_issue_file(tmp_path, "001", "Old", prd=PRD, status="todo", key="old")
    with pytest.raises(UsageError, match="blocked by issue '001', which this re-slicing removes"):
        plan_issues(tmp_path, PRD, [spec("new", blocked=("001",))])


def test_a_graph_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="dependency cycle a → b → a"):
        plan_issues(tmp_path, PRD, [spec("a", blocked=("b",)), spec("b", blocked=("a",))])
    with pytest.raises(UsageError, match="blocked by 'zzz'"):
        plan_issues(tmp_path, PRD, [spec("a", blocked=("zzz",))])
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_issue_file_is_named_and_nothing_is_planned(tmp_path: Path) -> None:
    write_issue_file(tmp_path, "001", "Fine", prd=PRD)
    (tmp_path / "002-broken.md").write_text("---\nid: '002'\ntitle: [unclosed\n---\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"002-broken\.md"):
        plan_issues(tmp_path, PRD, [spec("a")])
    with pytest.raises(UsageError, match=r"002-broken\.md"):
        existing_issues(tmp_path, PRD)


def test_two_files_with_one_id_are_refused(tmp_path: Path) -> None:
    write_issue_file(tmp_path, "001", "One", prd="x")
    write_issue_file(tmp_path, "001", "Two", prd="y")
    with pytest.raises(UsageError, match="issue id '001' is used by two files"):
        plan_issues(tmp_path, PRD, [spec("a")])


def test_a_slice_that_would_not_load_back_writes_nothing(tmp_path: Path) -> None:
    slices = [spec("good"), spec("bad", what="Also:\n- [ ] a checkbox the model put in the description")]
    plan = plan_issues(tmp_path, PRD, slices)
    with pytest.raises(UsageError, match="slice 'bad' would read back with 2 acceptance criteria instead of 1"):
        write_issues(plan)
    assert list(tmp_path.iterdir()) == []


def test_multi_line_criteria_stay_one_criterion_each(tmp_path: Path) -> None:
    written = write_issues(plan_issues(tmp_path, PRD, [spec("a", criteria=("first line\nsecond line", "b"))])).written
    assert load_issue(written[0]).acceptance_criteria == ["first line second line", "b"]


def test_existing_issues_hides_only_this_prds_todo_issues(tmp_path: Path) -> None:
    _resliced_directory(tmp_path)
    assert sorted(existing_issues(tmp_path, PRD)) == ["002", "004", "005"]
    assert existing_issues(tmp_path / "missing", PRD) == {}


# --------------------------------------------------------------------------- edits


def _chain() -> list[SliceSpec]:
    return [
        spec("a", criteria=("a1", "a2"), stories=(1,)),
        spec("b", blocked=("a",), criteria=("b1", "a2"), stories=(2,), kind="HITL"),
        spec("c", blocked=("b", "a"), stories=(3,)),
    ]


def test_merge_unions_and_rewires_the_blockers() -> None:
    original = _chain()
    merged = merge(original, "a", "b")
    assert [s.key for s in merged] == ["a", "c"]
    a, c = merged
    assert a.acceptance_criteria == ["a1", "a2", "b1"]
    assert a.user_stories == [1, 2] and a.blocked_by == [] and a.kind == "HITL" and a.title == "Slice a"
    assert c.blocked_by == ["a"]
    assert original == _chain()  # pure
    assert check_slices(merged, story_count=3, existing={}) == []


def test_merge_keeps_the_blockers_outside_the_pair() -> None:
    slices = [spec("x"), spec("a", blocked=("x",)), spec("b", blocked=("a", "007"))]
    assert merge(slices, "b", "a")[1].blocked_by == ["007", "x"]


def test_a_merge_can_create_a_cycle_that_the_check_then_reports() -> None:
    slices = [spec("a"), spec("b", blocked=("a",)), spec("c", blocked=("b",))]
    merged = merge(slices, "a", "c")
    assert any(p.startswith("dependency cycle a → b → a") for p in check_slices(merged, story_count=1, existing={}))


@pytest.mark.parametrize(("a", "b", "message"), [("a", "a", "with itself"), ("a", "zz", "no slice with key 'zz'")])
def test_bad_merges_say_why(a: str, b: str, message: str) -> None:
    with pytest.raises(EditError, match=message):
        merge(_chain(), a, b)


def test_split_moves_criteria_into_a_new_slice_right_after_blocked_by_the_original() -> None:
    slices = [spec("a", criteria=("one", "two", "three"), stories=(1, 2)), spec("z", blocked=("a",), stories=())]
    result = split(slices, "a", [2, 0], "Three and one")
    assert [s.key for s in result] == ["a", "a-2", "z"]
    kept, new, z = result
    assert kept.acceptance_criteria == ["two"]
    assert new.acceptance_criteria == ["one", "three"]
    assert (new.title, new.blocked_by, new.user_stories, new.kind) == ("Three and one", ["a"], [1, 2], "AFK")
    assert z.blocked_by == ["a"]
    assert check_slices(result, story_count=2, existing={}) == []


def test_split_picks_a_free_key() -> None:
    slices = [spec("a", criteria=("one", "two")), spec("a-2")]
    assert split(slices, "a", [1], "Two")[1].key == "a-3"


@pytest.mark.parametrize(
    ("indexes", "title", "message"),
    [
        ([], "T", "at least one"),
        ([0, 1], "T", "leave at least one"),
        ([5], "T", "criteria 1..2"),
        ([-1], "T", "criteria 1..2"),
        ([0], "  ", "needs a title"),
    ],
)
def test_bad_splits_say_why(indexes: list[int], title: str, message: str) -> None:
    with pytest.raises(EditError, match=message):
        split([spec("a", criteria=("one", "two"))], "a", indexes, title)


def test_set_kind_retitle_and_move() -> None:
    slices = _chain()
    assert [s.kind for s in set_kind(slices, "a", "HITL")] == ["HITL", "HITL", "AFK"]
    assert retitle(slices, "c", "  Search by tag ")[2].title == "Search by tag"
    assert [s.key for s in move(slices, "b", 1)] == ["a", "b", "c"]
    free = [*slices, spec("d", stories=(1,))]
    assert [s.key for s in move(free, "d", 0)] == ["d", "a", "b", "c"]
    with pytest.raises(EditError, match="cannot go to position 1: it is blocked by b, a, which must come first"):
        move(slices, "c", 0)
    with pytest.raises(EditError, match="cannot go to position 3: b, c is blocked by it"):
        move(slices, "a", 2)
    assert slices == _chain()
    with pytest.raises(EditError, match="cannot be empty"):
        retitle(slices, "a", " ")
    with pytest.raises(EditError, match=r"position 4 is outside 1\.\.3"):
        move(slices, "a", 3)
    with pytest.raises(EditError, match="no slice with key 'q'"):
        set_kind(slices, "q", "AFK")


# --------------------------------------------------------------------------- display


def test_the_table_and_tree_are_readable_at_80_columns() -> None:
    slices = [
        spec("login", "Add the login endpoint with its model, its form and its tests, end to end"),
        spec("logout", "Log out", blocked=("login",), kind="HITL", stories=(1, 2, 3, 4, 5, 6)),
        spec("profile", "Show the profile", blocked=("login", "logout", "007")),
    ]
    console = Console(record=True, width=80)
    console.print(render_slices(slices, ids={"login": "001", "logout": "002", "profile": "003"}))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    for word in ("001 login", "002 logout", "HITL", "001, 002", "007", "start with", "└── profile"):
        assert word in text, word
    assert text.count("profile (above)") == 1


def test_slices_in_a_cycle_are_shown_apart() -> None:
    console = Console(record=True, width=80)
    console.print(render_slices([spec("a"), spec("b", blocked=("c",)), spec("c", blocked=("b",))]))
    text = console.export_text()
    assert "waiting in a cycle" in text
    assert text.index("waiting in a cycle") < text.index("b  Slice b")


# --------------------------------------------------------------------------- a person's edits survive a re-slice


def test_a_todo_issue_a_person_edited_is_kept_and_what_would_change_is_said(tmp_path: Path) -> None:
    result = write_issues(plan_issues(tmp_path, PRD, [spec("add", "Add a note")]))
    [path] = result.written
    edited = path.read_text(encoding="utf-8").replace(
        "## Acceptance criteria", "Talk to Ann first.\n\n## Acceptance criteria"
    )
    path.write_text(edited, encoding="utf-8")
    assert load_issue(path).edited()
    before = path.read_bytes()

    plan = plan_issues(tmp_path, PRD, [spec("add", "Add a note, retitled", criteria=("one", "two"))])
    assert plan.writes == () and plan.removed == () and path in plan.kept
    [(held, changes)] = plan.edited
    assert held == path and "title 'Add a note' → 'Add a note, retitled' (and the file renamed)" in changes
    assert "acceptance criteria" in changes
    written = write_issues(plan)
    assert path.read_bytes() == before and written.edited == list(plan.edited)  # not rewritten, not renamed

    dropped = plan_issues(tmp_path, PRD, [spec("other", "Something else")])
    assert path not in dropped.removed and "would have been removed" in dict(dropped.edited)[path]

    agreed = plan_issues(tmp_path, PRD, [spec("add", "Add a note, retitled")], overwrite_edited=True)
    assert [w.spec.title for w in agreed.writes] == ["Add a note, retitled"] and agreed.edited == ()


def test_an_untouched_issue_is_not_edited_and_one_without_a_digest_cannot_be_told_apart(tmp_path: Path) -> None:
    [path] = write_issues(plan_issues(tmp_path, PRD, [spec("add", "Add a note")])).written
    assert not load_issue(path).edited()
    path.write_text(path.read_text(encoding="utf-8").replace("status: todo", "status: in-progress"), encoding="utf-8")
    assert not load_issue(path).edited()  # the harness moves the status itself
    by_hand = write_issue_file(tmp_path / "other", "009", "Hand made", prd=PRD, status="todo", key="x", by_hand=True)
    assert load_issue(by_hand).edited()



def test_blocked_by_can_be_set_and_a_slice_deleted() -> None:
    slices = _chain()
    assert set_blocked_by(slices, "c", ["a"])[2].blocked_by == ["a"]
    assert set_blocked_by(slices, "c", [])[2].blocked_by == []
    with pytest.raises(EditError, match="blocked by itself"):
        set_blocked_by(slices, "c", ["c"])
    gone = delete(slices, "b")
    assert [s.key for s in gone] == ["a", "c"] and gone[1].blocked_by == ["a"]
    with pytest.raises(EditError, match="only slice"):
        delete([slices[0]], "a")
    assert "acceptance criteria:\n  1. a1\n  2. a2" in describe_slice(slices[0])
