"""Which lines of a pull request's diff a review comment can attach to.

GitHub accepts an inline comment only on a line the pull request's diff shows; one comment elsewhere and
the whole review is rejected. On the RIGHT (new) side those are the added and context lines of every
hunk, which on the new side are one contiguous run per hunk: ``+start,count`` of the hunk header.

The parser expects ``git diff`` output with git's default ``a/`` and ``b/`` prefixes (callers should pass
``--src-prefix=a/ --dst-prefix=b/`` so that a user's ``diff.noprefix`` or ``diff.mnemonicPrefix`` cannot
change them). Paths come back repo-relative and decoded like git's raw output (``os.fsdecode``), so they
match the paths the guard reports.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import NamedTuple

__all__ = ["added_lines", "commentable_lines", "hunks", "removed_lines", "unquote_path"]

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {
    "a": 0x07,
    "b": 0x08,
    "t": 0x09,
    "n": 0x0A,
    "v": 0x0B,
    "f": 0x0C,
    "r": 0x0D,
    '"': 0x22,
    "\\": 0x5C,
}


def unquote_path(raw: str) -> str:
    """A path as git prints it in a diff header: C-quoted (``"caf\\303\\251.txt"``) when it holds a special or,
    with ``core.quotePath``, a non-ASCII byte; as is otherwise."""
    if len(raw) < 2 or not (raw.startswith('"') and raw.endswith('"')):
        return raw
    body = raw[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\" or i + 1 == len(body):
            out += char.encode("utf-8", "surrogateescape")
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif "0" <= nxt <= "3" and re.fullmatch(r"[0-7]{3}", body[i + 1 : i + 4]):
            out.append(int(body[i + 1 : i + 4], 8))
            i += 4
        else:
            out += char.encode()
            i += 1
    return os.fsdecode(bytes(out))


def _new_name(rest: str) -> str | None:
    """The file's repo-relative path from what follows ``+++ `` (or ``--- ``); None for ``/dev/null``."""
    if rest.startswith('"'):
        # a quoted name cannot contain a raw tab or quote, so it ends at the last quote
        name = unquote_path(rest[: rest.rindex('"') + 1]) if rest.count('"') >= 2 else rest
    else:
        # git ends a name containing a space with a tab (for GNU patch); plain diffs put a timestamp there
        name = rest.split("\t", 1)[0]
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith(("b/", "a/")) else name


def _merge(ranges: list[list[int]]) -> list[list[int]]:
    ranges.sort()
    merged: list[list[int]] = []
    for first, last in ranges:
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return merged


def commentable_lines(unified_diff: str) -> dict[str, list[list[int]]]:
    """For every file of ``unified_diff``, the new-side lines a review comment can attach to, as sorted,
    merged, inclusive ``[first, last]`` ranges. Deleted files, binary files, pure renames and mode changes
    have no such line and no entry."""
    return _lines(unified_diff, new_side=True)


def removed_lines(unified_diff: str) -> dict[str, list[list[int]]]:
    """For every file of ``unified_diff``, the old-side lines of its hunks (``side: LEFT`` comments: what a
    change removed, a deleted file's every line), keyed by the path the pull request shows the file under
    (the new path; the old one for a deleted file)."""
    return _lines(unified_diff, new_side=False)


def added_lines(unified_diff: str) -> dict[str, set[int]]:
    """For every file of ``unified_diff``, the new-side lines the change added or rewrote (``+`` lines, not the
    context around them): what the change introduced, as opposed to what it only shows."""
    added: dict[str, set[int]] = {}
    for event in _walk(unified_diff):
        if event.kind == "+" and event.path is not None:
            added.setdefault(event.path, set()).add(event.new_line)
    return added


def _lines(unified_diff: str, *, new_side: bool) -> dict[str, list[list[int]]]:
    ranges: dict[str, list[list[int]]] = {}
    for event in _walk(unified_diff):
        if event.kind != "@":
            continue
        if new_side and event.path is not None and event.new_count > 0:
            ranges.setdefault(event.path, []).append([event.new_line, event.new_line + event.new_count - 1])
        shown = event.path or event.old_path
        if not new_side and shown is not None and event.old_count > 0:
            ranges.setdefault(shown, []).append([event.old_line, event.old_line + event.old_count - 1])
    return {name: _merge(spans) for name, spans in ranges.items()}


def hunks(unified_diff: str) -> Iterator[tuple[int, int, int, int]]:
    """``(old_start, old_count, new_start, new_count)`` of every hunk header, in order."""
    for event in _walk(unified_diff):
        if event.kind == "@":
            yield event.old_line, event.old_count, event.new_line, event.new_count


class _Event(NamedTuple):
    kind: str  # "@" a hunk header (with its counts), "+" an added line, "-" a removed one, " " context
    path: str | None  # the new name; None for a deleted file
    old_path: str | None
    old_line: int  # the hunk's first old line ("@"), or this line's number on its side
    new_line: int
    old_count: int = 0
    new_count: int = 0


def _walk(unified_diff: str) -> Iterator[_Event]:
    """The hunks and lines of ``unified_diff``, with the file they belong to and their line numbers."""
    path: str | None = None
    old_path: str | None = None
    old_line = new_line = 0
    old_left = new_left = 0  # lines of the current hunk still to read; both 0 outside a hunk
    # Only "\n" ends a line: a file's content may hold "\r", "\f" or U+2028, which str.splitlines would split on.
    for line in unified_diff.split("\n"):
        if old_left > 0 or new_left > 0:
            tag = line[:1]
            if tag == " " or not line:  # some tools strip the space of an empty context line
                yield _Event(" ", path, old_path, old_line, new_line)
                old_left, new_left, old_line, new_line = old_left - 1, new_left - 1, old_line + 1, new_line + 1
                continue
            if tag == "-":
                yield _Event("-", path, old_path, old_line, new_line)
                old_left, old_line = old_left - 1, old_line + 1
                continue
            if tag == "+":
                yield _Event("+", path, old_path, old_line, new_line)
                new_left, new_line = new_left - 1, new_line + 1
                continue
            if tag == "\\":  # "\ No newline at end of file"
                continue
            old_left = new_left = 0  # the hunk was cut short: read this line as a header
        if line.startswith("diff "):
            path = old_path = None
        elif line.startswith("--- "):
            old_path = _new_name(line[4:])
        elif line.startswith("+++ "):
            path = _new_name(line[4:])
        elif line.startswith("@@ "):
            match = _HUNK.match(line)
            if match is None:
                continue
            old_start, old_count, start, new_count = match.groups()
            old_left = 1 if old_count is None else int(old_count)
            new_left = 1 if new_count is None else int(new_count)
            old_line, new_line = int(old_start), int(start)
            yield _Event("@", path, old_path, old_line, new_line, old_left, new_left)
