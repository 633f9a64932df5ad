"""The planning files on disk: the interview transcript, the ``--answers`` file and the PRD.

A functional core over paths and text: each reader validates what it reads and reports any problem
as a UsageError naming the file, the field or section, and the fix; readers never write, and every
write is atomic.

- ``.harness/grills/<slug>.md`` — the interview. The YAML front matter is the transcript (the
  authoritative data); the Markdown body is a rendering for people, regenerated on every save.
- ``.harness/prds/<slug>.md`` — the PRD. Front matter ``title, slug, grill, created``; the content
  lives in the body, one ``##`` section per field, because people edit it by hand before slicing.
  Lines of a paragraph section that start with ``#`` are written with a ``\\`` in front (Markdown
  shows the same text) so that they cannot be read back as a heading.
- ``--answers FILE`` — one answer per interview question, in order. A file named ``*.yaml`` or
  ``*.yml`` is YAML (a list of answers, or a mapping with the one key ``answers`` holding that
  list); any other file is a Markdown list (``- …``, ``* …``, ``1. …`` items at the start of a
  line; lines indented under an item continue it; other lines are ignored) — unless its first
  line that is not blank is ``---``, ``%YAML …`` or ``answers:``, the unmistakable starts of the
  YAML form. Extension first, because a Markdown list is also valid YAML that means something
  slightly different (YAML folds indented lines into one); the sniff only catches YAML saved
  under another name. YAML scalars are read as written (``yes`` stays ``yes``, ``1.0`` stays
  ``1.0``). An empty answer or ``/rec`` means "accept the recommended answer" and is returned as
  ``""``; other commands (``/all``, ``/skip``, ``/finish``) are returned verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness import frontmatter
from harness.artifacts import _validate, slugify
from harness.errors import UsageError
from harness.fsutil import atomic_write_text
from harness.plan_models import Exchange, Prd, Transcript

SLUG_MAX = 40
_SLUG_WORDS = 6

# --------------------------------------------------------------------------- slugs and finding files


def new_slug(directory: Path, idea: str) -> str:
    """A short slug from the first words of ``idea``, not yet taken by a ``.md`` file in ``directory``."""
    words = slugify(idea).split("-") if re.search(r"[a-z0-9]", idea.lower()) else ["interview"]
    base = words[0][:SLUG_MAX]
    for word in words[1:_SLUG_WORDS]:
        if len(base) + 1 + len(word) > SLUG_MAX:
            break
        base = f"{base}-{word}"
    slug, number = base, 1
    while (directory / f"{slug}.md").exists():
        number += 1
        slug = f"{base}-{number}"
    return slug


def find_transcript(grills_dir: Path, name: str | None) -> Path:
    """The transcript named by slug, file name or path; ``None``: the one updated last."""
    return _find(grills_dir, name, what="interview transcript", stamp="updated", create='harness grill "<idea>"')


def find_prd(prds_dir: Path, name: str | None) -> Path:
    """The PRD named by slug, file name or path; ``None``: the one created last."""
    return _find(prds_dir, name, what="PRD", stamp="created", create="harness prd [GRILL]")


def _find(directory: Path, name: str | None, *, what: str, stamp: str, create: str) -> Path:
    files = sorted(directory.glob("*.md")) if directory.is_dir() else []
    if name is None:
        if not files:
            raise UsageError(f"no {what} in {directory}", hint=f"write one with `{create}`")
        return max(files, key=lambda path: (_timestamp(path, stamp), path.name))
    for candidate in (directory / f"{name}.md", directory / name, Path(name)):
        if name and candidate.is_file():
            return candidate
    known = ", ".join(path.stem for path in files) or "none yet"
    raise UsageError(
        f"no {what} {name!r} in {directory} (known: {known})",
        hint=f"give one of the known slugs or the path of a file, or write one with `{create}`",
    )


def _timestamp(path: Path, field: str) -> float:
    """When the file says it was last written (its ``field``), else its modification time."""
    try:
        value = frontmatter.read(path).meta.get(field)
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if isinstance(value, datetime):
            return value.astimezone().timestamp()  # a naive time is taken as local time
    except (UsageError, ValueError, OverflowError, OSError):
        pass
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


# --------------------------------------------------------------------------- transcript

_SOURCE_LABELS = {
    "recommended": "accepted recommendation",
    "own": "own answer",
    "option": "picked option",
    "skipped": "skipped",
    "auto": "auto-accepted",
    "file": "from answers file",
}
_TRANSCRIPT_NOTE = (
    "<!-- harness reads only the front matter above: it is the transcript. This body is regenerated "
    "from it on every save, so edits made here are lost. -->"
)


def save_transcript(path: Path, transcript: Transcript) -> None:
    atomic_write_text(path, frontmatter.render(_transcript_meta(transcript), render_transcript(transcript)))


def load_transcript(path: Path) -> Transcript:
    doc = frontmatter.parse(
        _read_text(path, hint="check the path; `harness grill` writes transcripts under .harness/grills/"),
        source=str(path),
    )
    if not doc.meta:
        raise UsageError(
            f"{path}: not an interview transcript: it has no front matter",
            hint="a transcript starts with the `---` block `harness grill` writes; restore it from version "
            'control, or start the interview again with `harness grill "<idea>"`',
        )
    meta = _dates_as_text(doc.meta, "started", "updated")
    transcript: Transcript = _validate(Transcript, meta, path)
    return transcript


def _transcript_meta(transcript: Transcript) -> dict[str, Any]:
    """All fields, compactly: an exchange leaves out what it does not have (``why``, a pending answer)."""
    meta: dict[str, Any] = transcript.model_dump(mode="json", include={"slug", "idea", "status", "started", "updated"})
    meta["exchanges"] = [e.model_dump(mode="json", exclude_defaults=True) for e in transcript.exchanges]
    if transcript.summary is not None:
        meta["summary"] = transcript.summary
    if transcript.decisions:
        meta["decisions"] = [d.model_dump(mode="json") for d in transcript.decisions]
    return meta


def render_transcript(transcript: Transcript) -> str:
    """The Markdown body of a transcript file: the interview as people read it."""
    lines = [_TRANSCRIPT_NOTE, "", f"# Interview: {_one_line(transcript.idea)}", ""]
    if "\n" in transcript.idea:
        lines += [_escape_headings(transcript.idea), ""]
    answered = len(transcript.answered)
    if transcript.status == "finished":
        lines.append(f"Finished after {answered} answered question(s).")
    else:
        waiting = ", one waiting for its answer" if transcript.pending else ""
        lines.append(f"In progress: {answered} question(s) answered{waiting}.")
    dates = [
        f"{label} {value}"
        for label, value in (("started", transcript.started), ("updated", transcript.updated))
        if value
    ]
    if dates:
        lines.append(f"({', '.join(dates)})")
    for number, exchange in enumerate(transcript.exchanges, 1):
        lines += ["", f"## Question {number}", "", _escape_headings(exchange.question), ""]
        for place, option in enumerate(exchange.options, 1):
            lines.append(_list_item("-", f"**Option {place}:** {option}"))
        lines.append(_list_item("-", f"**Recommended:** {exchange.recommended}"))
        if exchange.why:
            lines.append(_list_item("-", f"**Why:** {exchange.why}"))
        lines.append(_list_item("-", _answer_line(exchange, pending=exchange is transcript.pending)))
    if transcript.summary is not None:
        lines += ["", "## Summary", "", _escape_headings(transcript.summary)]
    if transcript.decisions:
        lines += ["", "## Decisions", ""]
        for number, decision in enumerate(transcript.decisions, 1):
            lines.append(_list_item(f"{number}.", f"{decision.question}\n→ {decision.answer}"))
    return "\n".join(lines) + "\n"


def _answer_line(exchange: Exchange, *, pending: bool) -> str:
    if exchange.answer is None:
        return "**Answer:** _waiting for the answer_" if pending else "**Answer:** _none recorded_"
    label = f" ({_SOURCE_LABELS[exchange.source]})" if exchange.source else ""
    revised = " (revised)" if exchange.revised else ""
    return f"**Answer**{label}{revised}: {exchange.answer or '_none_'}"


# --------------------------------------------------------------------------- answers file

_ANSWERS_EXAMPLE = "\n".join(f"    {line}" for line in ("- SQLite, one file next to the config", "- /rec", "- /finish"))
_ANSWERS_HINT = (
    f"write one answer per question, in order, as a Markdown list:\n{_ANSWERS_EXAMPLE}\n"
    "  (an empty item or /rec accepts the recommended answer; the same list is valid in a .yaml file)"
)
_YAML_HINT = f"write a YAML list of answers, one per question, in order:\n{_ANSWERS_EXAMPLE}"
_YAML_START = re.compile(r"^(?:---[ \t]*|%YAML\b.*|answers[ \t]*:.*)$")
RECOMMENDED_COMMAND = "/rec"


def load_answers(path: Path) -> list[str]:
    """The answers of an ``--answers FILE``, in order; ``""`` where the recommended answer is accepted."""
    text = _read_text(path, hint=_ANSWERS_HINT)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if path.suffix.lower() in (".yaml", ".yml") or _YAML_START.match(first):
        answers = _yaml_answers(text, path)
    else:
        answers = [item.text for item in _list_items(text.split("\n"), first_line=1).items]
        if not answers:
            raise UsageError(f"{path}: no answers found: the file has no list items", hint=_ANSWERS_HINT)
    return ["" if a.strip() == RECOMMENDED_COMMAND else a.strip() for a in answers]


class _TextLoader(yaml.SafeLoader):
    """Every plain scalar stays the text written (``yes``, ``1.0``, ``~`` are answers, not values)."""


_TextLoader.yaml_implicit_resolvers = {}


def _yaml_answers(text: str, path: Path) -> list[str]:
    try:
        data = yaml.load(text, Loader=_TextLoader)
    except yaml.MarkedYAMLError as exc:
        where = f"{path}:{exc.problem_mark.line + 1}" if exc.problem_mark else str(path)
        raise UsageError(
            f"{where}: invalid YAML: {exc.problem or exc}", hint=f"fix the YAML syntax at that line; {_YAML_HINT}"
        ) from exc
    except (yaml.YAMLError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise UsageError(f"{path}: invalid YAML: {exc}", hint=f"fix the YAML syntax; {_YAML_HINT}") from exc
    except RecursionError as exc:
        raise UsageError(f"{path}: invalid YAML: nested too deeply", hint=_YAML_HINT) from exc
    if isinstance(data, dict):
        unknown = [str(key) for key in data if key != "answers"]
        if unknown or "answers" not in data:
            what = f"unknown key(s) {', '.join(unknown)}" if unknown else "no `answers` key"
            raise UsageError(f"{path}: {what}", hint="put the list under the one key `answers:`, or " + _YAML_HINT)
        data = data["answers"]
    if data is None or data == [] or data == "":
        raise UsageError(f"{path}: the file has no answers", hint=_YAML_HINT)
    if not isinstance(data, list):
        raise UsageError(f"{path}: the answers must be a list, not {_kind(data)}", hint=_YAML_HINT)
    answers = []
    for number, item in enumerate(data, 1):
        if item is None:
            item = ""
        if isinstance(item, bool | int | float | date | str):
            answers.append(str(item) if not isinstance(item, date) else item.isoformat())
        else:
            raise UsageError(
                f"{path}: answer {number} is {_kind(item)}, not one piece of text",
                hint="write each answer as one list item (quote it if it contains `: ` or starts with `[`, `{`); "
                + _YAML_HINT,
            )
    return answers


def _kind(value: Any) -> str:
    names: dict[type, str] = {list: "a list", dict: "a mapping", str: "a single text"}
    return names.get(type(value), f"a value of type {type(value).__name__}")


# --------------------------------------------------------------------------- PRD


@dataclass(frozen=True)
class _Section:
    field: str
    title: str
    kind: str  # "text", "list" or "glossary"
    required: bool = True


_SECTIONS = (
    _Section("problem", "Problem", "text"),
    _Section("solution", "Solution", "text"),
    _Section("user_stories", "User stories", "list"),
    _Section("success_criteria", "Success criteria", "list", required=False),
    _Section("edge_cases", "Edge cases", "list", required=False),
    _Section("implementation_decisions", "Implementation decisions", "list"),
    _Section("testing_decisions", "Testing decisions", "list"),
    _Section("out_of_scope", "Out of scope", "list", required=False),
    _Section("open_questions", "Open questions", "list", required=False),
    _Section("glossary", "Glossary", "glossary", required=False),
    _Section("further_notes", "Further notes", "text", required=False),
)
_BY_NAME = {s.title.lower(): s for s in _SECTIONS}
_BY_FIELD = {s.field: s for s in _SECTIONS}
_PRD_META = ("title", "slug", "grill", "created")
_KNOWN_SECTIONS = ", ".join(f"`## {s.title}`" + ("" if s.required else " (optional)") for s in _SECTIONS)
_SECTION_HEADING = re.compile(r"^##(?:[ \t]+(?P<name>.*?))?(?:[ \t]+#+)?[ \t]*$")
_TITLE_HEADING = re.compile(r"^#[ \t]+(?P<title>.*?)[ \t]*$")
_TERM_FORMS = (
    re.compile(r"^\*\*(?P<term>(?:\\.|[^\\*])+)\*\*[ \t]*:[ \t]*(?P<definition>.*)$"),  # - **term**: definition
    re.compile(r"^\*\*(?P<term>(?:\\.|[^\\*])+?)[ \t]*:\*\*[ \t]*(?P<definition>.*)$"),  # - **term:** definition
)
_PLAIN_TERM = re.compile(r"^(?P<term>[^:]+?)[ \t]*:[ \t]*(?P<definition>.*)$")  # - term: definition


def save_prd(path: Path, prd: Prd) -> None:
    meta = prd.model_dump(mode="json", include=set(_PRD_META))
    atomic_write_text(path, frontmatter.render({key: meta[key] for key in _PRD_META}, render_prd(prd)))


def render_prd(prd: Prd) -> str:
    """The Markdown body of a PRD file (``load_prd`` reads it back exactly)."""
    lines = [f"# {_one_line(prd.title)}"]
    notes = getattr(prd, "notes", {})
    for section in _SECTIONS:
        value = getattr(prd, section.field)
        note = notes.get(section.field, "")
        if not value and not section.required and not note:
            continue
        lines += ["", f"## {section.title}", ""]
        if note:
            lines += [_escape_sections(note), ""]
        if section.kind == "text":
            lines.append(_escape_headings(value))
        elif section.kind == "glossary":
            lines += [_list_item("-", f"**{_escape_term(e.term)}**: {e.definition}") for e in value]
        else:
            numbered = section.field == "user_stories"
            lines += [_list_item(f"{n}." if numbered else "-", item) for n, item in enumerate(value, 1)]
    for extra in getattr(prd, "extra_sections", []):
        lines += ["", f"## {_one_line(extra.title)}", "", _escape_sections(extra.text)]
    return "\n".join(lines) + "\n"


def load_prd(path: Path) -> Prd:
    doc = frontmatter.parse(
        _read_text(path, hint="check the path; `harness prd` writes PRDs under .harness/prds/"), source=str(path)
    )
    unknown = [str(key) for key in doc.meta if key not in _PRD_META]
    if unknown:
        raise UsageError(
            f"{path}: front matter field(s) {', '.join(f'`{k}`' for k in unknown)} are not known",
            hint=f"the front matter holds only {', '.join(_PRD_META)}; the content goes in the body sections "
            f"({_KNOWN_SECTIONS})",
        )
    meta = _dates_as_text(doc.meta, "created")
    heading, sections = _prd_sections(doc.body, path, doc.body_line)
    missing = [s.title for s in _SECTIONS if s.required and s.field not in sections]
    if missing:
        names = ", ".join(f"`## {m}`" for m in missing)
        raise UsageError(
            f"{path}: the PRD has no {names} section" + ("s" if len(missing) > 1 else ""),
            hint=f"add {names}; a PRD has the sections {_KNOWN_SECTIONS} (see contracts/examples/prd.md)",
        )
    if heading is not None:
        title = meta.setdefault("title", heading)
        if isinstance(title, str) and _one_line(title).strip() != heading.strip():
            raise UsageError(
                f"{path}: the front matter `title` ({_one_line(title)!r}) and the `# ` heading ({heading!r}) differ",
                hint="make them the same: change the heading or the `title` field",
            )
    if "slug" not in meta and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", path.stem):
        meta["slug"] = path.stem
    try:
        return Prd.model_validate({**meta, **sections})
    except ValidationError as exc:
        raise UsageError(f"{path}: {_describe_prd_error(exc)}", hint=_prd_hint(exc)) from exc


def _prd_sections(body: str, path: Path, first_line: int) -> tuple[str | None, dict[str, Any]]:
    """The ``# title`` heading (if any) and the value of each ``##`` section, by field name."""
    heading: str | None = None
    found: dict[str, tuple[_Section, int, list[str]]] = {}
    extra: list[tuple[str, list[str]]] = []  # a person's own sections, kept as written
    current: list[str] | None = None
    for number, line in enumerate(body.split("\n"), first_line):
        match = _SECTION_HEADING.match(line)
        if match:
            name = " ".join((match["name"] or "").lower().split())
            section = _BY_NAME.get(name)
            if section is None:
                title = (match["name"] or "").strip()
                if not title:
                    raise UsageError(
                        f"{path}:{number}: a `##` heading without a name",
                        hint="name the section, or delete the heading",
                    )
                current = []
                extra.append((title, current))
                continue
            if section.field in found:
                raise UsageError(
                    f"{path}:{number}: the section `## {section.title}` appears twice (also at line "
                    f"{found[section.field][1]})",
                    hint="merge the two into one section",
                )
            current = []
            found[section.field] = (section, number, current)
        elif current is not None:
            current.append(line)
        elif heading is None and (title := _TITLE_HEADING.match(line)):
            heading = title["title"]
        elif line.strip(" \t"):
            raise UsageError(
                f"{path}:{number}: text before the first section: {_clip(line)!r}",
                hint=f"move it into one of the sections ({_KNOWN_SECTIONS}) or delete it; only the `# title` "
                "heading comes before them",
            )
    values: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for field, (section, start, lines) in found.items():
        if section.kind == "text":
            values[field] = "\n".join(_unescape_heading(line) for line in lines)
            continue
        listing = _list_items(lines, first_line=start + 1)
        if listing.strays:
            # prose between the items, a `###` subheading: the person's notes on the section, kept
            notes[field] = "\n".join(_unescape_heading(line) for _, line in listing.strays)
        if section.kind == "list":
            values[field] = [item.text for item in listing.items]
        else:
            values[field] = [_glossary_entry(item, path, section) for item in listing.items]
    if notes:
        values["notes"] = notes
    if extra:
        values["extra_sections"] = [
            {"title": title, "text": "\n".join(_unescape_heading(line) for line in lines).strip("\n")}
            for title, lines in extra
        ]
    return heading, values


def _glossary_entry(item: _Item, path: Path, section: _Section) -> dict[str, str]:
    first, newline, rest = item.text.partition("\n")
    for form in _TERM_FORMS:
        if match := form.match(first):
            term = re.sub(r"\\(.)", r"\1", match["term"])
            return {"term": term, "definition": match["definition"] + newline + rest}
    if match := _PLAIN_TERM.match(first):
        return {"term": match["term"], "definition": match["definition"] + newline + rest}
    raise UsageError(
        f"{path}:{item.line}: in section `## {section.title}`, {_clip(first)!r} is not a term and its definition",
        hint="write each entry as `- **term**: definition`",
    )


def _describe_prd_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field, *rest = [str(p) for p in err["loc"]] or [""]
        if not field:
            parts.append(err["msg"].removeprefix("Value error, "))
            continue
        problem = {
            "missing": " is required",
            "extra_forbidden": " is not a known field",
            "string_too_short": " is empty",
            "too_short": " has no items",
        }.get(err["type"], ": " + err["msg"].removeprefix("Value error, "))
        section = _BY_FIELD.get(field)
        if section is None:
            parts.append(f"field `{'.'.join([field, *rest])}`{problem}")
            continue
        where = f"section `## {section.title}`"
        if rest and rest[0].isdigit():
            where += f" item {int(rest[0]) + 1}" + (f" ({rest[1]})" if len(rest) > 1 else "")
        parts.append(f"{where}{problem}")
    return "; ".join(parts)


def _prd_hint(exc: ValidationError) -> str:
    if any(str(err["loc"][0]) in _BY_FIELD for err in exc.errors() if err["loc"]):
        return "write the section(s) named above as contracts/examples/prd.md shows"
    return "correct the front matter field(s) named above (title, slug, grill, created); the schema is in contracts/"


# --------------------------------------------------------------------------- Markdown helpers


@dataclass(frozen=True)
class _Item:
    line: int
    text: str


@dataclass(frozen=True)
class _Listing:
    items: list[_Item]
    strays: list[tuple[int, str]]  # lines that are neither an item, nor blank, nor indented under an item


_ITEM = re.compile(r"^(?P<marker>[-*+]|\d{1,9}[.)])(?:(?P<gap>[ \t]+)(?P<text>.*))?$")


def _list_items(lines: Iterable[str], *, first_line: int) -> _Listing:
    """List items at the start of a line; lines indented under an item continue it (less its indentation)."""
    items: list[_Item] = []
    strays: list[tuple[int, str]] = []
    start, column = 0, 0
    text: list[str] = []  # the lines of the open item
    blanks: list[str] = []  # blank lines after it, not yet known to be inside it
    for number, line in enumerate(lines, first_line):
        blank = not line.strip(" \t")
        if text and (line[:1] in (" ", "\t") or blank):
            inner = line[1:] if line.startswith("\t") else line[min(column, len(line) - len(line.lstrip(" "))) :]
            if blank:
                blanks.append(inner)
            else:
                text += [*blanks, inner]
                blanks = []
            continue
        if match := _ITEM.match(line):
            if text:
                items.append(_Item(start, "\n".join(text)))
            start, column, blanks = number, len(match["marker"]) + len(match["gap"] or ""), []
            text = [match["text"] or ""]
        elif not blank:
            if text:
                items.append(_Item(start, "\n".join(text)))
            text, blanks = [], []
            strays.append((number, line))
    if text:
        items.append(_Item(start, "\n".join(text)))
    return _Listing(items, strays)


def _list_item(marker: str, text: str) -> str:
    """A list item whose continuation lines are indented under its text (blank lines stay empty)."""
    first, *rest = text.split("\n")
    indent = " " * (len(marker) + 1)
    return "\n".join([f"{marker} {first}" if first else marker, *(indent + line if line else line for line in rest)])


def _escape_headings(text: str) -> str:
    """Backslash a line starting with ``#`` (after any backslashes) so it is text, not a heading."""
    return "\n".join("\\" + line if re.match(r"\\*#", line) else line for line in text.split("\n"))


def _escape_sections(text: str) -> str:
    """Backslash a line that would start a ``##`` section (``###`` subheadings stay headings)."""
    return "\n".join("\\" + line if _SECTION_HEADING.match(line) or re.match(r"\\+##(?!#)", line) else line
                     for line in text.split("\n"))  # fmt: skip


def _unescape_heading(line: str) -> str:
    return line[1:] if re.match(r"\\+#", line) else line


def _escape_term(term: str) -> str:
    return re.sub(r"([\\*])", r"\\\1", _one_line(term))


def _one_line(text: str) -> str:
    return re.sub(r"[ \t]*[\r\n]+[ \t]*", " ", text)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- reading


def _read_text(path: Path, *, hint: str) -> str:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: file not found", hint=hint) from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text", hint="save the file as UTF-8; " + hint) from exc
    except OSError as exc:  # a directory, no permission
        raise UsageError(f"{path}: cannot read the file: {exc.strerror or exc}", hint=hint) from exc
    # Only a CRLF is a line break here: a lone CR (or NEL, LS) is text inside a line, as it was saved.
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def _dates_as_text(meta: dict[str, Any], *fields: str) -> dict[str, Any]:
    """YAML reads an unquoted ``2024-05-01T10:00:00`` as a date; these fields hold it as text."""
    return {
        key: value.isoformat() if key in fields and isinstance(value, date) else value for key, value in meta.items()
    }
