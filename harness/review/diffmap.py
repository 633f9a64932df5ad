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

__all__ = ["commentable_lines", "unquote_path"]

_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
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
    """The new file's repo-relative path from what follows ``+++ ``; None for ``/dev/null`` (a deletion)."""
    if rest.startswith('"'):
        # a quoted name cannot contain a raw tab or quote, so it ends at the last quote
        name = unquote_path(rest[: rest.rindex('"') + 1]) if rest.count('"') >= 2 else rest
    else:
        # git ends a name containing a space with a tab (for GNU patch); plain diffs put a timestamp there
        name = rest.split("\t", 1)[0]
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith("b/") else name


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
    ranges: dict[str, list[list[int]]] = {}
    path: str | None = None
    old_left = new_left = 0  # lines of the current hunk still to read; both 0 outside a hunk
    # Only "\n" ends a line: a file's content may hold "\r", "\f" or U+2028, which str.splitlines would split on.
    for line in unified_diff.split("\n"):
        if old_left > 0 or new_left > 0:
            tag = line[:1]
            if tag == " " or not line:  # some tools strip the space of an empty context line
                old_left -= 1
                new_left -= 1
                continue
            if tag == "-":
                old_left -= 1
                continue
            if tag == "+":
                new_left -= 1
                continue
            if tag == "\\":  # "\ No newline at end of file"
                continue
            old_left = new_left = 0  # the hunk was cut short: read this line as a header
        if line.startswith("diff "):
            path = None
        elif line.startswith("+++ "):
            path = _new_name(line[4:])
        elif line.startswith("@@ "):
            match = _HUNK.match(line)
            if match is None:
                continue
            old_count, start, new_count = match.groups()
            old_left = 1 if old_count is None else int(old_count)
            new_left = 1 if new_count is None else int(new_count)
            if path is not None and new_left > 0:
                ranges.setdefault(path, []).append([int(start), int(start) + new_left - 1])
    return {name: _merge(spans) for name, spans in ranges.items()}
