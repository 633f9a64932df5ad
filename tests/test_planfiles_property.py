"""Property-based tests for the planning files: transcripts, ``--answers`` files and PRDs.

Whatever the bytes of a file, reading it gives a valid result or a UsageError naming the file (and,
for a field error, the field) with a fix: never another exception, and never a changed file. What the
harness writes reads back as exactly what it wrote, whatever the text: unicode, line breaks, and
Markdown that means something (headings, list markers, emphasis) inside the values.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import assume, example, given
from hypothesis import strategies as st
from pydantic import ValidationError
from test_parsers_property import IO, SLOW_IO, any_bytes, field_names, reads_safely, values, workdir

from harness.plan_models import Exchange, GlossaryEntry, Prd, Transcript
from harness.planfiles import load_answers, load_prd, load_transcript, render_prd, save_prd, save_transcript

# --------------------------------------------------------------------------- strategies

# Fragments that mean something to these Markdown readers, so that random text reaches their branches.
_MARKDOWN = [
    "\n", "\r\n", "\n\n", "  ", "   ", "\t", "# ", "## ", "### ", "##", "\\", "\\#", "- ", "* ", "+ ", "1. ", "12) ",
    "-", "**", "*", ":", ": ", "**: ", ":** ", "`", "```\n", "<!-- -->", "---", "---\n", "answers:", "%YAML 1.1\n",
    "/rec", "/all", "/skip", "Problem", "Solution", "User stories", "Implementation decisions", "Testing decisions",
    "Out of scope", "Glossary", "problem", "As a user, I want x, so that y", "title: T\n", "slug: s\n", "é", "😀",
    "\x85", "\u2028", "\x1c", "\x00", "\ufeff", "[", "{", "'", '"', "!!int ", "!!binary ", "~",
]  # fmt: skip
markdown_soup = st.lists(st.sampled_from(_MARKDOWN) | st.text(max_size=4), max_size=50).map("".join)
# A PRD skeleton with random sections, so that the body reader (not only the front matter) sees junk.
_SECTION_NAMES = ["Problem", "solution", "User Stories", "Implementation decisions", "Testing decisions",
                  "Out of scope", "Glossary", "Other"]  # fmt: skip
prd_soup = st.builds(
    lambda front, parts: f"---\n{front}\n---\n" + "".join(f"## {name}\n{text}\n" for name, text in parts),
    markdown_soup,
    st.lists(st.tuples(st.sampled_from(_SECTION_NAMES), markdown_soup), max_size=8),
)
planning_bytes = any_bytes | markdown_soup.map(str.encode) | prd_soup.map(str.encode)

# Values of text fields: anything, or text made of the fragments above. A PRD is Markdown read line by
# line, where \r\n is a line break like \n: its values hold no \r\n (a lone \r is kept).
any_text = st.text() | markdown_soup
texts = any_text.filter(lambda t: "\r\n" not in t)
one_line = texts.map(lambda t: t.replace("\n", " ").replace("\r", " "))
slugs = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,20}\Z")


def valid(model: type[Any], data: dict[str, Any]) -> Any:
    """The model built from ``data`` (stripped as pydantic strips it); examples it refuses are skipped."""
    try:
        return model.model_validate(data)
    except ValidationError:
        assume(False)
        raise


@st.composite
def transcripts(draw: st.DrawFn) -> Transcript:
    exchanges = [
        {
            "question": draw(any_text),
            "recommended": draw(any_text),
            "why": draw(st.none() | any_text),
            "answer": draw(any_text) if answered else None,
            "source": draw(st.sampled_from(["recommended", "own", "skipped", "auto", "file"])) if answered else None,
            "revised": draw(st.booleans()),
        }
        for answered in draw(st.lists(st.booleans(), max_size=4))
    ]
    finished = draw(st.booleans())
    return valid(
        Transcript,
        {
            "slug": draw(slugs),
            "idea": draw(any_text),
            "status": "finished" if finished else "interviewing",
            "started": draw(any_text),
            "updated": draw(any_text),
            "exchanges": exchanges,
            "summary": draw(any_text) if finished else draw(st.none() | any_text),
            "decisions": [
                {"question": draw(any_text), "answer": draw(any_text)} for _ in range(draw(st.integers(0, 3)))
            ],
        },
    )


def stories(draw: st.DrawFn) -> list[str]:
    parts = st.tuples(texts, texts, texts)
    return [
        f"As a {who}, I want {what}, so that {why}" for who, what, why in draw(st.lists(parts, min_size=1, max_size=3))
    ]


@st.composite
def prds(draw: st.DrawFn) -> Prd:
    items = st.lists(texts, max_size=4)
    return valid(
        Prd,
        {
            "title": draw(one_line | texts),
            "slug": draw(slugs),
            "grill": draw(st.none() | slugs),
            "created": draw(texts),
            "problem": draw(texts),
            "solution": draw(texts),
            "user_stories": stories(draw),
            "implementation_decisions": draw(items.filter(bool)),
            "testing_decisions": draw(items.filter(bool)),
            "out_of_scope": draw(items),
            "glossary": [{"term": draw(one_line), "definition": draw(texts)} for _ in range(draw(st.integers(0, 3)))],
        },
    )


# --------------------------------------------------------------------------- transcripts


@IO
@given(data=planning_bytes)
@example(data=b"---\nslug: t\nidea: x\nstarted: 2024-02-30\n---\n")  # not a date: a YAML error, not a crash
@example(data=b"---\nslug: t\nidea: x\nexchanges: [1]\n---\n")
def test_any_transcript_file_loads_or_is_an_error_naming_the_file(data: bytes) -> None:
    with workdir() as tmp:
        path = tmp / "grill.md"
        path.write_bytes(data)
        transcript = reads_safely(tmp, lambda: load_transcript(path), str(path))
        assert transcript is None or isinstance(transcript, Transcript)


_TRANSCRIPT_FIELDS = [("slug",), ("idea",), ("status",), ("started",), ("updated",), ("summary",), ("decisions",),
                      ("exchanges", 0, "answer"), ("exchanges", 0, "source"), ("exchanges", 0, "revised"),
                      ("exchanges", 1, "question"), ("decisions", 0, "answer")]  # fmt: skip


def _transcript_meta() -> dict[str, Any]:
    return {
        "slug": "t",
        "idea": "x",
        "exchanges": [{"question": "q", "recommended": "r", "answer": "a", "source": "own"},
                      {"question": "q2", "recommended": "r2"}],
        "decisions": [{"question": "q", "answer": "a"}],
    }  # fmt: skip


@IO
@given(where=st.sampled_from(_TRANSCRIPT_FIELDS), value=values)
def test_a_transcript_field_of_the_wrong_type_is_an_error_naming_it(where: tuple[Any, ...], value: Any) -> None:
    meta: Any = _transcript_meta()
    target = meta
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    named = ".".join(str(p) for p in where)
    with workdir() as tmp:
        path = tmp / "t.md"
        path.write_text(f"---\n{yaml.safe_dump(meta, allow_unicode=True)}---\n", encoding="utf-8")
        reads_safely(tmp, lambda: load_transcript(path), str(path), field=named)


@IO
@given(key=field_names.filter(lambda k: k not in Transcript.model_fields), value=values)
def test_an_unknown_transcript_field_is_an_error_naming_it(key: str, value: Any) -> None:
    with workdir() as tmp:
        path = tmp / "t.md"
        path.write_text(f"---\n{yaml.safe_dump({**_transcript_meta(), key: value})}---\n", encoding="utf-8")
        assert reads_safely(tmp, lambda: load_transcript(path), str(path), field=key) is None


@SLOW_IO
@given(transcript=transcripts())
@example(transcript=Transcript(slug="t", idea="a\x85b", exchanges=[Exchange(question="#\n## x", recommended="\r")]))
def test_a_transcript_survives_save_and_load(transcript: Transcript) -> None:
    with workdir() as tmp:
        path = tmp / "grills" / f"{transcript.slug}.md"
        save_transcript(path, transcript)
        assert load_transcript(path) == transcript
        assert [p.name for p in path.parent.iterdir()] == [path.name]


# --------------------------------------------------------------------------- answers files


@IO
@given(
    name=st.sampled_from(["answers.md", "answers.yaml", "answers.yml", "answers.txt", "answers"]), data=planning_bytes
)
@example(name="answers.yaml", data=b"- !!timestamp x\n")  # a constructor's ValueError
@example(name="answers.yaml", data=b"[" * 1000 + b"]" * 1000)  # nested too deeply
@example(name="answers.txt", data=b"answers: !!set {a}\n")
def test_any_answers_file_gives_answers_or_an_error_showing_what_to_write(name: str, data: bytes) -> None:
    with workdir() as tmp:
        path = tmp / name
        path.write_bytes(data)
        answers = reads_safely(tmp, lambda: load_answers(path), str(path))
        if answers is not None:
            assert answers and all(isinstance(a, str) and a == a.strip() and a != "/rec" for a in answers)


# An answer as a person would type it: one or more lines, none of them starting with whitespace.
answer_lines = st.text(st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp", "Zs"]), min_size=1, max_size=12)
typed_answers = st.lists(answer_lines, min_size=1, max_size=3).map("\n".join) | st.sampled_from(["/all", "/skip", ""])


@IO
@given(answers=st.lists(typed_answers, min_size=1, max_size=5), marker=st.sampled_from(["-", "*", "+", "1.", "2)"]))
def test_a_markdown_list_of_answers_reads_back_as_written(answers: list[str], marker: str) -> None:
    text = "# Answers\n\n" + "".join(
        f"{marker} " + answer.replace("\n", "\n" + " " * (len(marker) + 1)) + "\n" for answer in answers
    )
    with workdir() as tmp:
        path = tmp / "answers.md"
        path.write_text(text, encoding="utf-8")
        assert load_answers(path) == answers


# PyYAML writes NEL, LS and PS raw in a plain or single-quoted scalar, where reading folds them to a space.
yaml_safe_text = st.text().filter(lambda text: not {"\x85", "\u2028", "\u2029"} & set(text))


@IO
@given(
    answers=st.lists(yaml_safe_text | st.sampled_from(["/rec", "yes", "1.0", "~", "null", ""]), min_size=1, max_size=5)
)
def test_a_yaml_list_of_answers_reads_back_as_written(answers: list[str]) -> None:
    with workdir() as tmp:
        path = tmp / "answers.yaml"
        path.write_text(yaml.safe_dump({"answers": answers}, allow_unicode=True), encoding="utf-8")
        assert load_answers(path) == ["" if a.strip() == "/rec" else a.strip() for a in answers]


# --------------------------------------------------------------------------- PRDs


@IO
@given(data=planning_bytes)
@example(data=b"---\ntitle: T\n---\n## Problem\np\n## Glossary\n- **\n")
@example(data=b"## Problem\n## Problem\n")
@example(data=b"---\n1: x\nnull: y\n---\n")  # front matter keys that are not text
def test_any_prd_file_loads_or_is_an_error_naming_the_file(data: bytes) -> None:
    with workdir() as tmp:
        path = tmp / "prd.md"
        path.write_bytes(data)
        prd = reads_safely(tmp, lambda: load_prd(path), str(path))
        assert prd is None or isinstance(prd, Prd)


@SLOW_IO
@given(prd=prds())
@example(
    prd=Prd(
        title="#\n\\#",
        slug="s",
        problem="## Solution\n\\## x\n  ## y",
        solution="\x85\n\x1c",
        user_stories=["As a\n- b, I want\n## c, so that\n\n  d"],
        implementation_decisions=["", "- x", "a\n\n \n\tb"],
        testing_decisions=["1. x"],
        glossary=[GlossaryEntry(term="a**: b\\", definition="**: c")],
    )
)
def test_a_prd_survives_save_and_load(prd: Prd) -> None:
    with workdir() as tmp:
        path = tmp / "prds" / f"{prd.slug}.md"
        save_prd(path, prd)
        assert load_prd(path) == prd
        assert [p.name for p in path.parent.iterdir()] == [path.name]


@SLOW_IO
@given(prd=prds(), data=st.data())
def test_section_headings_are_matched_whatever_their_case(prd: Prd, data: st.DataObject) -> None:
    cases = st.sampled_from([str.upper, str.lower, str.title, str.swapcase, lambda name: f"  {name}  ##"])
    body = "\n".join(
        f"## {data.draw(cases)(line[3:])}" if line.startswith("## ") else line for line in render_prd(prd).split("\n")
    )
    with workdir() as tmp:
        path = tmp / "prd.md"
        save_prd(path, prd)
        text = path.read_bytes().decode("utf-8")
        path.write_bytes((text.removesuffix(render_prd(prd)) + body).encode("utf-8"))
        assert load_prd(path) == prd


@IO
@given(prd=prds(), junk=markdown_soup, data=st.data())
def test_a_hand_edited_prd_loads_or_is_an_error_naming_the_file(prd: Prd, junk: str, data: st.DataObject) -> None:
    with workdir() as tmp:
        path = tmp / "prd.md"
        save_prd(path, prd)
        lines = path.read_bytes().decode("utf-8").split("\n")
        at = data.draw(st.integers(0, len(lines)))
        path.write_bytes("\n".join([*lines[:at], junk, *lines[at:]]).encode("utf-8"))
        edited = reads_safely(tmp, lambda: load_prd(path), str(path))
        assert edited is None or isinstance(edited, Prd)
