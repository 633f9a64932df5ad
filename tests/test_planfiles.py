"""The planning files (SPEC §3): interview transcripts, ``--answers`` files and PRDs.

Each is read back exactly as written, a hand edit is read as a person means it, and every problem is
a UsageError naming the file, the field or section, and the fix, with the file left as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.artifacts import export_schemas
from harness.errors import UsageError
from harness.plan_models import Decision, Exchange, GlossaryEntry, Prd, Transcript
from harness.planfiles import (
    find_prd,
    find_transcript,
    load_answers,
    load_prd,
    load_transcript,
    new_slug,
    render_prd,
    save_prd,
    save_transcript,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def error_of(load: Callable[[Path], object], path: Path) -> UsageError:
    """``load(path)`` fails with a UsageError naming the file and a fix, and leaves the directory as it was."""
    before = {p: p.read_bytes() for p in path.parent.iterdir() if p.is_file()}
    with pytest.raises(UsageError) as info:
        load(path)
    assert str(path) in info.value.message
    assert info.value.hint and info.value.hint.strip(), "every error says how to fix it"
    assert {p: p.read_bytes() for p in path.parent.iterdir() if p.is_file()} == before
    return info.value


# --------------------------------------------------------------------------- slugs


def test_a_new_slug_is_the_first_words_of_the_idea(tmp_path: Path) -> None:
    assert new_slug(tmp_path, "Slugify titles for URLs!") == "slugify-titles-for-urls"
    long = new_slug(tmp_path, "Add a command that exports every issue of the board as a CSV file for managers")
    assert long == "add-a-command-that-exports-every"
    assert len(new_slug(tmp_path, "supercalifragilisticexpialidocious" * 3)) == 40
    assert all(len(new_slug(tmp_path, idea)) <= 40 for idea in ("a " * 50, "word-" * 30, "x" * 100))


def test_a_new_slug_is_unique_in_its_directory(tmp_path: Path) -> None:
    write(tmp_path / "slugify-titles.md", "taken")
    write(tmp_path / "slugify-titles-2.md", "taken")
    assert new_slug(tmp_path, "Slugify titles") == "slugify-titles-3"
    assert new_slug(tmp_path / "missing", "Slugify titles") == "slugify-titles"


def test_an_idea_without_latin_letters_or_digits_still_gets_a_slug(tmp_path: Path) -> None:
    assert new_slug(tmp_path, "日本語のタイトル") == "interview"
    write(tmp_path / "interview.md", "taken")
    assert new_slug(tmp_path, "!!!") == "interview-2"


# --------------------------------------------------------------------------- transcripts

PENDING = Transcript(
    slug="slugify",
    idea="Slugify titles",
    started="2025-01-14T09:30:12+00:00",
    updated="2025-01-14T09:35:00+00:00",
    exchanges=[
        Exchange(question="Where?", recommended="textkit.slug", why="one module per concern", answer="textkit.slug",
                 source="recommended"),
        Exchange(question="Length limit?", recommended="none"),
    ],
)  # fmt: skip
FINISHED = Transcript(
    slug="slugify-2",
    idea="Slugify titles",
    status="finished",
    exchanges=[
        Exchange(question="Accents?", recommended="fold", answer="keep them", source="own", revised=True),
        Exchange(question="Tests?", recommended="pytest", answer="pytest", source="auto"),
        Exchange(question="Docs?", recommended="README", answer="", source="skipped"),
        Exchange(question="CLI?", recommended="no", answer="no", source="file"),
    ],
    summary="A slugify function in textkit.slug.",
    decisions=[Decision(question="Accents?", answer="keep them"), Decision(question="Tests?", answer="pytest")],
)
UNICODE = Transcript(
    slug="unicode",
    idea="Crème brûlée 😀\nsecond line of the idea",
    exchanges=[
        Exchange(
            question="Which forms?\n\n# not a heading\n  indented: yes\n- not an item",
            recommended="NFKD\nthen ASCII",
            why="line one\nline two",
            answer="Ça va: «oui»\n\n  with 'quotes' and \"double\" and \\ backslash",
            source="own",
        )
    ],
)


@pytest.mark.parametrize("transcript", [PENDING, FINISHED, UNICODE, Transcript(slug="empty", idea="x")])
def test_a_transcript_survives_save_and_load(tmp_path: Path, transcript: Transcript) -> None:
    path = tmp_path / "grills" / f"{transcript.slug}.md"
    save_transcript(path, transcript)
    assert load_transcript(path) == transcript
    save_transcript(path, load_transcript(path))
    assert load_transcript(path) == transcript
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_the_transcript_body_is_the_interview_for_people(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    save_transcript(path, PENDING)
    body = path.read_text(encoding="utf-8").split("---\n", 2)[2]
    assert body.startswith("<!-- harness reads only the front matter above")
    assert "# Interview: Slugify titles" in body
    assert body.index("## Question 1") < body.index("Where?") < body.index("## Question 2")
    assert "- **Recommended:** textkit.slug" in body and "- **Why:** one module per concern" in body
    assert "- **Answer** (accepted recommendation): textkit.slug" in body
    assert body.rstrip().endswith("- **Answer:** _waiting for the answer_")
    assert "## Summary" not in body and "## Decisions" not in body


def test_each_answer_says_where_it_came_from_and_a_finished_interview_shows_its_decisions(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    save_transcript(path, FINISHED)
    body = path.read_text(encoding="utf-8")
    assert "**Answer** (own answer) (revised): keep them" in body
    assert "**Answer** (auto-accepted): pytest" in body
    assert "**Answer** (skipped): _none_" in body
    assert "**Answer** (from answers file): no" in body
    assert "waiting" not in body
    assert "## Summary\n\nA slugify function in textkit.slug." in body
    assert "## Decisions\n\n1. Accents?\n   → keep them\n2. Tests?\n   → pytest" in body


def test_the_front_matter_is_compact_and_the_body_is_regenerated(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    save_transcript(path, PENDING)
    text = path.read_text(encoding="utf-8")
    front = text.split("---\n", 2)[1]
    assert "null" not in front and "revised" not in front and "decisions" not in front
    write(path, text.replace("## Question 1", "## Edited by hand"))
    assert load_transcript(path) == PENDING  # the body is not read
    save_transcript(path, PENDING)
    assert path.read_text(encoding="utf-8") == text


def test_unquoted_timestamps_are_read_as_text(tmp_path: Path) -> None:
    path = write(tmp_path / "t.md", "---\nslug: t\nidea: x\nstarted: 2025-01-14T09:30:12Z\nupdated: 2025-01-14\n---\n")
    transcript = load_transcript(path)
    assert (transcript.started, transcript.updated) == ("2025-01-14T09:30:12+00:00", "2025-01-14")


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("slug: t\nidea: x\nexchanges:\n- {question: q, recommended: r}\n- {question: q, recommended: r}\n"
         "- {question: q, recommended: r, answer: [a, b]}\n",
         "field `exchanges.2.answer`: Input should be a valid string"),
        ("slug: t\nidea: x\nexchanges:\n- {question: q, recommended: r, source: typed}\n",
         "field `exchanges.0.source`: Input should be 'recommended', 'own', 'option', 'skipped', 'auto' or 'file'"),
        ("idea: x\n", "field `slug` is required"),
        ("slug: t\nidea: x\nstatus: done\n", "field `status`: Input should be 'interviewing' or 'finished'"),
        ("slug: t\nidea: x\nanswers: []\n", "field `answers` is not a known field"),
        ("slug: 'a b'\nidea: x\n", "field `slug`: String should match pattern"),
    ],
)  # fmt: skip
def test_a_bad_transcript_field_is_an_error_naming_it(tmp_path: Path, front: str, message: str) -> None:
    path = write(tmp_path / "t.md", f"---\n{front}---\n# Interview\n")
    error = error_of(load_transcript, path)
    assert error.message.startswith(f"{path}: ")
    assert message in error.message


@pytest.mark.parametrize(
    ("content", "message", "hint"),
    [
        ("# Interview: x\n\nno front matter\n", "not an interview transcript: it has no front matter", "harness grill"),
        ("---\nslug: [t\n---\n", "invalid YAML", "fix the YAML syntax"),
        ("---\nslug: t\n", "never closed", "add a line `---`"),
        (b"---\nslug: \xff\n---\n", "not UTF-8", "UTF-8"),
    ],
)
def test_a_transcript_that_is_not_one_is_an_error_with_a_fix(
    tmp_path: Path, content: str | bytes, message: str, hint: str
) -> None:
    error = error_of(load_transcript, write(tmp_path / "t.md", content))
    assert message in error.message and hint in (error.hint or "")


def test_a_missing_transcript_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="file not found"):
        load_transcript(tmp_path / "nope.md")


# --------------------------------------------------------------------------- finding files


def test_find_transcript_by_slug_file_name_or_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grills = tmp_path / "grills"
    save_transcript(grills / "slugify.md", PENDING)
    save_transcript(grills / "other.md", FINISHED)
    assert find_transcript(grills, "slugify") == grills / "slugify.md"
    assert find_transcript(grills, "slugify.md") == grills / "slugify.md"
    elsewhere = tmp_path / "elsewhere.md"
    save_transcript(elsewhere, PENDING)
    assert find_transcript(grills, str(elsewhere)) == elsewhere
    monkeypatch.chdir(tmp_path)
    assert find_transcript(grills, "elsewhere.md") == Path("elsewhere.md")


def test_find_transcript_without_a_name_is_the_one_updated_last(tmp_path: Path) -> None:
    grills = tmp_path / "grills"
    save_transcript(grills / "a.md", PENDING.model_copy(update={"updated": "2025-01-14T10:00:00+00:00"}))
    save_transcript(grills / "b.md", PENDING.model_copy(update={"updated": "2025-01-14T09:00:00+00:00"}))
    save_transcript(grills / "c.md", PENDING.model_copy(update={"updated": "2025-01-14T11:30:00+02:00"}))
    assert find_transcript(grills, None) == grills / "a.md"  # 11:30+02:00 is 09:30 UTC
    save_transcript(grills / "d.md", PENDING.model_copy(update={"updated": "2025-01-14T10:30:00Z"}))
    assert find_transcript(grills, None) == grills / "d.md"


def test_find_transcript_falls_back_to_the_modification_time(tmp_path: Path) -> None:
    grills = tmp_path / "grills"
    save_transcript(grills / "new.md", PENDING.model_copy(update={"updated": ""}))
    write(grills / "broken.md", "---\n[\n---\n")
    os.utime(grills / "broken.md", (1_000_000, 1_000_000))
    assert find_transcript(grills, None) == grills / "new.md"
    os.utime(grills / "broken.md", (4_000_000_000, 4_000_000_000))
    assert find_transcript(grills, None) == grills / "broken.md"  # found; loading it reports the problem


def test_an_unknown_or_missing_transcript_is_an_error_listing_the_known_ones(tmp_path: Path) -> None:
    grills = tmp_path / "grills"
    with pytest.raises(UsageError) as info:
        find_transcript(grills, None)
    assert f"no interview transcript in {grills}" in info.value.message
    assert 'harness grill "<idea>"' in (info.value.hint or "")
    save_transcript(grills / "slugify.md", PENDING)
    save_transcript(grills / "csv-export.md", FINISHED)
    with pytest.raises(UsageError) as info:
        find_transcript(grills, "slugfy")
    assert "no interview transcript 'slugfy'" in info.value.message
    assert "(known: csv-export, slugify)" in info.value.message and info.value.hint


def test_find_prd_without_a_name_is_the_one_created_last(tmp_path: Path) -> None:
    prds = tmp_path / "prds"
    save_prd(prds / "old.md", PRD.model_copy(update={"slug": "old", "created": "2025-01-01T00:00:00+00:00"}))
    save_prd(prds / "new.md", PRD.model_copy(update={"slug": "new", "created": "2025-02-01T00:00:00+00:00"}))
    assert find_prd(prds, None) == prds / "new.md"
    assert find_prd(prds, "old") == prds / "old.md"
    with pytest.raises(UsageError, match=r"no PRD 'x' in .* \(known: new, old\)"):
        find_prd(prds, "x")


# --------------------------------------------------------------------------- answers files


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("a.yaml", "- SQLite\n- ''\n- /rec\n- yes\n- 1.0\n- 3\n- /finish\n"),
        ("a.yml", "answers:\n  - SQLite\n  -\n  - /rec\n  - yes\n  - 1.0\n  - 3\n  - /finish\n"),
        ("a.txt", "answers: [SQLite, '', /rec, yes, 1.0, 3, /finish]\n"),
        ("a.md", "# Answers\n\n- SQLite\n-\n* /rec\n+ yes\n5. 1.0\n6) 3\n- /finish\n"),
        ("answers", "Some notes first.\n\n1. SQLite\n2.\n3. /rec\n4. yes\n5. 1.0\n6. 3\n7. /finish\n"),
    ],
)
def test_answers_files_in_yaml_and_markdown(tmp_path: Path, name: str, text: str) -> None:
    assert load_answers(write(tmp_path / name, text)) == ["SQLite", "", "", "yes", "1.0", "3", "/finish"]


def test_markdown_answers_continue_on_indented_lines(tmp_path: Path) -> None:
    text = (
        "## Interview answers\n\n"
        "- Use SQLite:\n  one file next to the config,\n    indented more.\n\n  A second paragraph.\n"
        "- /skip\n\n"
        "A note between items, ignored.\n"
        "  indented after a note, ignored too\n"
        "1. Last: `code`\n"
    )
    assert load_answers(write(tmp_path / "a.md", text)) == [
        "Use SQLite:\none file next to the config,\n  indented more.\n\nA second paragraph.",
        "/skip",
        "Last: `code`",
    ]


def test_yaml_answers_keep_what_was_written(tmp_path: Path) -> None:
    text = "- 'yes: quoted'\n- |\n  two\n  lines\n- no\n- ~\n- 2025-01-14\n- !!int 7\n- '  padded  '\n"
    assert load_answers(write(tmp_path / "a.yaml", text)) == ["yes: quoted", "two\nlines", "no", "~", "2025-01-14",
                                                               "7", "padded"]  # fmt: skip


def test_answers_with_crlf_and_a_bom(tmp_path: Path) -> None:
    assert load_answers(write(tmp_path / "a.md", b"\xef\xbb\xbf- one\r\n  two\r\n- three\r\n")) == ["one\ntwo", "three"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.md", "Just some prose,\nno list.\n", "no answers found: the file has no list items"),
        ("a.md", "", "no answers found"),
        ("a.yaml", "", "the file has no answers"),
        ("a.yaml", "[]\n", "the file has no answers"),
        ("a.yaml", "answers:\n", "the file has no answers"),
        ("a.yaml", "SQLite\n", "the answers must be a list, not a single text"),
        ("a.yaml", "question: answer\n", "unknown key(s) question"),
        ("a.yaml", "answers: [a]\nextra: 1\n", "unknown key(s) extra"),
        ("a.yaml", "- a\n- [b, c]\n", "answer 2 is a list, not one piece of text"),
        ("a.yaml", "- a\n- Use SQLite: it is simple\n", "answer 2 is a mapping"),
        ("a.yaml", "- a\n- [b\n", "invalid YAML"),
        ("a.yaml", "- !!binary aGk=\n", "answer 1 is a value of type bytes"),
        ("a.yaml", "- !!int abc\n", "invalid YAML"),
        ("a.yaml", b"- \xff\n", "not UTF-8"),
    ],
)
def test_a_bad_answers_file_is_an_error_showing_what_to_write(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    error = error_of(load_answers, write(tmp_path / name, content))
    assert message in error.message
    assert "- /rec\n" in (error.hint or "") and "- /finish" in (error.hint or "")


def test_a_missing_answers_file_is_an_error_showing_what_to_write(tmp_path: Path) -> None:
    for path in (tmp_path / "nope.md", tmp_path):
        with pytest.raises(UsageError) as info:
            load_answers(path)
        assert str(path) in info.value.message
        assert "- SQLite, one file next to the config\n    - /rec\n    - /finish" in (info.value.hint or "")


def test_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    error = error_of(load_answers, write(tmp_path / "a.yaml", "- a\n- b\n- [c\n- d: [\n"))
    assert error.message.startswith(f"{tmp_path / 'a.yaml'}:")


# --------------------------------------------------------------------------- PRDs

PRD = Prd(
    title="Slugify titles",
    slug="slugify",
    grill="slugify",
    created="2025-01-14T09:52:03+00:00",
    problem="Post URLs are numbers.\n\nReaders cannot tell what a link points to.",
    solution="A `slugify(text)` function.",
    user_stories=[
        "As an author, I want readable URLs, so that readers know what a link is",
        "As a reader, I want no stray hyphens,\nso that URLs are easy to share",
    ],
    implementation_decisions=["A new module `textkit.slug`", "Fold accents with `unicodedata`"],
    testing_decisions=["Through the public function"],
    out_of_scope=["Unique slugs"],
    glossary=[GlossaryEntry(term="slug", definition="the readable part of a URL")],
)
MINIMAL = Prd(
    title="T",
    slug="t",
    problem="p",
    solution="s",
    user_stories=["As a user, I want x, so that y"],
    implementation_decisions=["i"],
    testing_decisions=["t"],
)
MARKDOWN = MINIMAL.model_copy(
    update={
        "title": "C# and **bold**\nover two lines",
        "problem": "# a heading?\n## Solution\n\\## escaped already\n  ## indented\n- item?\n```\n## in a fence\n```",
        "implementation_decisions": ["- a dash", "1. a number", "## heading", "", "**bold**: not a term", "a\n\n\n  b"],
        "testing_decisions": ["line\n## Problem\n- nested"],
        "out_of_scope": ["* star"],
        "glossary": [
            GlossaryEntry(term="a**: b", definition="c\n- d"),
            GlossaryEntry(term="back\\slash*", definition="**: e"),
            GlossaryEntry(term="x:", definition="y"),
        ],
    }
)


@pytest.mark.parametrize("prd", [PRD, MINIMAL, MARKDOWN], ids=["full", "minimal", "markdown"])
def test_a_prd_survives_save_and_load(tmp_path: Path, prd: Prd) -> None:
    path = tmp_path / "prds" / "slugify.md"
    save_prd(path, prd)
    assert load_prd(path) == prd
    assert [p.name for p in path.parent.iterdir()] == ["slugify.md"]


def test_a_prd_file_is_front_matter_and_one_section_per_field(tmp_path: Path) -> None:
    path = tmp_path / "p.md"
    save_prd(path, PRD)
    assert path.read_text(encoding="utf-8") == (
        "---\n"
        "title: Slugify titles\n"
        "slug: slugify\n"
        "grill: slugify\n"
        "created: '2025-01-14T09:52:03+00:00'\n"
        "---\n" + render_prd(PRD)
    )
    assert render_prd(PRD) == (
        "# Slugify titles\n\n"
        "## Problem\n\nPost URLs are numbers.\n\nReaders cannot tell what a link points to.\n\n"
        "## Solution\n\nA `slugify(text)` function.\n\n"
        "## User stories\n\n"
        "1. As an author, I want readable URLs, so that readers know what a link is\n"
        "2. As a reader, I want no stray hyphens,\n   so that URLs are easy to share\n\n"
        "## Implementation decisions\n\n- A new module `textkit.slug`\n- Fold accents with `unicodedata`\n\n"
        "## Testing decisions\n\n- Through the public function\n\n"
        "## Out of scope\n\n- Unique slugs\n\n"
        "## Glossary\n\n- **slug**: the readable part of a URL\n"
    )
    assert "## Out of scope" not in render_prd(MINIMAL) and "## Glossary" not in render_prd(MINIMAL)


HAND_WRITTEN = """\
---
slug: slugify
grill:
created: 2025-01-14
---

# Slugify titles

## PROBLEM ##

Post URLs are numbers.

Readers cannot tell what a link points to.

##   user   stories

* As an author, I want readable URLs, so that readers know what a link is
7) As a reader, I want no stray hyphens,
   so that URLs are easy to share

## Solution
A `slugify(text)` function.
## Implementation Decisions

+ A new module `textkit.slug`

+ Fold accents with `unicodedata`
## testing decisions
- Through the public function
## Glossary

- **slug:** the readable part of a URL
## Out of Scope
-   Unique slugs
"""


def test_a_hand_written_prd_is_read_as_meant(tmp_path: Path) -> None:
    expected = PRD.model_copy(update={"grill": None, "created": "2025-01-14"})
    assert load_prd(write(tmp_path / "slugify.md", HAND_WRITTEN)) == expected
    crlf = write(tmp_path / "slugify.md", HAND_WRITTEN.replace("\n", "\r\n").encode("utf-8"))
    assert load_prd(crlf) == expected
    plain_glossary = HAND_WRITTEN.replace("- **slug:** the", "- slug: the")
    assert load_prd(write(tmp_path / "slugify.md", plain_glossary)) == expected


def test_a_prd_without_front_matter_takes_its_title_from_the_heading_and_its_slug_from_the_file(
    tmp_path: Path,
) -> None:
    body = HAND_WRITTEN.split("---\n", 2)[2]
    prd = load_prd(write(tmp_path / "slugify.md", body))
    assert (prd.title, prd.slug, prd.grill, prd.created) == ("Slugify titles", "slugify", None, "")


def prd_error(tmp_path: Path, text: str) -> UsageError:
    return error_of(load_prd, write(tmp_path / "slugify.md", text))


def saved_prd(tmp_path: Path, prd: Prd = PRD) -> str:
    save_prd(tmp_path / "slugify.md", prd)
    return (tmp_path / "slugify.md").read_text(encoding="utf-8")


def test_a_missing_section_is_an_error_naming_it(tmp_path: Path) -> None:
    text = saved_prd(tmp_path).replace("## Testing decisions\n\n- Through the public function\n\n", "")
    error = prd_error(tmp_path, text)
    assert error.message == f"{tmp_path / 'slugify.md'}: the PRD has no `## Testing decisions` section"
    assert "add `## Testing decisions`" in (error.hint or "") and "`## Glossary` (optional)" in (error.hint or "")
    both = text.replace("## Solution\n\nA `slugify(text)` function.\n\n", "")
    assert "no `## Solution`, `## Testing decisions` sections" in prd_error(tmp_path, both).message


def test_a_persons_own_sections_and_notes_are_kept_and_reach_the_slicer(tmp_path: Path) -> None:
    text = saved_prd(tmp_path).replace("## Out of scope", "## Non-goals\n\nNothing about i18n.\n\n## Out of scope")
    text = text.replace("- Unique slugs", "These came up late:\n\n### Later\n\n- Unique slugs\nlazy continuation")
    text += "\n## Open questions\n\n- Do slugs keep digits? (ask the editor)\n\n## Further notes\n\nSee the old CMS.\n"
    path = tmp_path / "slugify.md"
    path.write_text(text, encoding="utf-8")
    prd = load_prd(path)
    assert [(e.title, e.text) for e in prd.extra_sections] == [("Non-goals", "Nothing about i18n.")]
    assert prd.out_of_scope == ["Unique slugs"]
    assert prd.notes == {"out_of_scope": "These came up late:\n### Later\nlazy continuation"}
    assert (
        prd.open_questions == ["Do slugs keep digits? (ask the editor)"]
        and prd.further_notes.strip() == "See the old CMS."
    )
    rendered = render_prd(prd)  # what the slicer is given
    for kept in ("## Non-goals", "Nothing about i18n.", "### Later", "These came up late:", "## Open questions"):
        assert kept in rendered, kept
    again = tmp_path / "again.md"
    save_prd(again, prd)
    reread = load_prd(again)
    assert (reread.extra_sections, reread.notes, reread.open_questions) == (
        prd.extra_sections,
        prd.notes,
        prd.open_questions,
    )


def test_a_nameless_section_heading_is_an_error(tmp_path: Path) -> None:
    text = saved_prd(tmp_path).replace("## Out of scope", "##\n\n## Out of scope")
    line = text.split("\n").index("##") + 1
    assert prd_error(tmp_path, text).message == f"{tmp_path / 'slugify.md'}:{line}: a `##` heading without a name"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("## Solution", "## Problem"),
         "slugify.md:15: the section `## Problem` appears twice (also at line 9)"),
        (lambda t: t.replace("# Slugify titles\n", "# Slugify titles\nA stray paragraph.\n"),
         "text before the first section: 'A stray paragraph.'"),
        (lambda t: t.replace("- **slug**: the", "- slug the"),
         "in section `## Glossary`, 'slug the readable part of a URL' is not a term and its definition"),
        (lambda t: t.replace("As an author, I want", "As an author I need"),
         "section `## User stories`: user stories 1 are not in the form"),
        (lambda t: t.replace("- Through the public function", ""), "section `## Testing decisions` has no items"),
        (lambda t: t.replace("A `slugify(text)` function.", "   "), "section `## Solution` is empty"),
        (lambda t: t.replace("- **slug**: the readable part of a URL", "- **slug**:"),
         "section `## Glossary` item 1 (definition) is empty"),
        (lambda t: t.replace("# Slugify titles", "# Slugify headlines"),
         "the front matter `title` ('Slugify titles') and the `# ` heading ('Slugify headlines') differ"),
        (lambda t: t.replace("grill: slugify", "grill: slugify\nproblem: x"),
         "front matter field(s) `problem` are not known"),
        (lambda t: t.replace("slug: slugify", "slug: 'not a slug'"), "field `slug`: String should match pattern"),
        (lambda t: t.replace("title: Slugify titles\n", "title: [a]\n"),
         "field `title`: Input should be a valid string"),
    ],
)  # fmt: skip
def test_a_broken_prd_is_an_error_naming_the_section_or_field(
    tmp_path: Path, edit: Callable[[str], str], message: str
) -> None:
    error = prd_error(tmp_path, edit(saved_prd(tmp_path)))
    assert error.message.startswith(str(tmp_path / "slugify.md"))
    assert message in error.message


def test_a_prd_section_error_says_how_to_write_it(tmp_path: Path) -> None:
    error = prd_error(tmp_path, saved_prd(tmp_path).replace("- Through the public function", ""))
    assert error.hint == "write the section(s) named above as contracts/examples/prd.md shows"


# --------------------------------------------------------------------------- examples and schemas


def test_the_documented_examples_are_what_save_writes(tmp_path: Path) -> None:
    transcript = load_transcript(EXAMPLES / "grill.md")
    assert transcript.status == "finished" and transcript.decisions
    assert {e.source for e in transcript.exchanges} == {"recommended", "own", "skipped"}
    save_transcript(tmp_path / "grill.md", transcript)
    assert (tmp_path / "grill.md").read_bytes() == (EXAMPLES / "grill.md").read_bytes()
    prd = load_prd(EXAMPLES / "prd.md")
    assert prd.grill == transcript.slug and prd.glossary and prd.out_of_scope
    save_prd(tmp_path / "prd.md", prd)
    assert (tmp_path / "prd.md").read_bytes() == (EXAMPLES / "prd.md").read_bytes()


def test_the_transcript_and_prd_schemas_are_published(tmp_path: Path) -> None:
    export_schemas(tmp_path)
    grill = json.loads((tmp_path / "grill.schema.json").read_text(encoding="utf-8"))
    assert {"slug", "idea"} <= set(grill["required"]) and "exchanges" in grill["properties"]
    prd = json.loads((tmp_path / "prd.schema.json").read_text(encoding="utf-8"))
    assert {"title", "slug", "problem", "user_stories"} <= set(prd["required"])
    assert {"grill", "created", "glossary"} <= set(prd["properties"])
