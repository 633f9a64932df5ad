"""The person's review of the slices before they become issue files (``harness slice`` in a terminal).

A thin loop over ``harness.slicing``: show the slices, read one command, apply the pure edit, check the
result. An edit that would add a problem (a cycle, an unserved story, a horizontal slice…) is refused with
the reason, and the slices stay as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from rich.console import Console
from rich.prompt import Prompt
from rich.text import Text

from harness.artifacts import Issue
from harness.plan_models import SliceSpec
from harness.slicing import (
    EditError,
    check_slices,
    delete,
    describe_slice,
    merge,
    move,
    render_slices,
    retitle,
    set_blocked_by,
    set_kind,
    split,
)

__all__ = ["HELP", "review_slices"]

Ask = Callable[[str], str]

HELP = """\
Enter or a   accept these slices
v A          view slice A in full: what to build, its acceptance criteria, blockers, stories
m A B        merge slice B into slice A
s A          split slice A: move some of its acceptance criteria into a new slice
k A          toggle slice A between AFK (an agent alone) and HITL (needs a human)
t A TITLE    give slice A a new title
b A [B ...]  slice A is blocked by exactly B ... (slice keys or issue ids; none: it can start at once)
d A          delete slice A (the slices it blocked stop waiting for it)
o A POS      move slice A to position POS (new issues get their ids in this order; blockers first)
u            undo the last edit
q            quit without writing anything
?            this help
A and B are slice keys or the numbers in the # column."""

_PROMPT = "slices: Enter accepts, ? for help"


def review_slices(
    slices: Sequence[SliceSpec],
    *,
    story_count: int,
    existing: Mapping[str, Issue],
    console: Console,
    ask: Ask | None = None,
) -> list[SliceSpec] | None:
    """Let the person accept or edit the slices; the accepted list, or ``None`` when they quit."""
    read = ask or (lambda prompt: Prompt.ask(prompt, console=console, default="", show_default=False))
    current = list(slices)
    problems = check_slices(current, story_count=story_count, existing=existing)
    history: list[tuple[list[SliceSpec], list[str]]] = []  # for undo
    _show(console, current, problems)
    while True:
        try:
            line = read(_PROMPT).strip()
        except EOFError:
            return None
        command, _, rest = line.partition(" ")
        command = command.lower()
        if command in ("", "a", "accept"):
            if not problems or _confirm(read, f"accept with {_count(problems, 'problem')} left? [y/N]"):
                return current
            continue
        if command in ("q", "quit"):
            return None
        if command in ("?", "h", "help"):
            console.print(HELP, markup=False, highlight=False)
            continue
        if command in ("u", "undo"):
            if not history:
                console.print(Text("✗ nothing to undo", style="red"))
                continue
            current, problems = history.pop()
            _show(console, current, problems)
            continue
        if command == "v":
            try:
                console.print(Text(describe_slice(next(s for s in current if s.key == _key(current, rest.strip())))))
            except EditError as exc:
                console.print(Text(f"✗ {exc}", style="red"))
            continue
        try:
            edited = _edit(command, rest.strip(), current, read, console)
        except EditError as exc:
            console.print(Text(f"✗ {exc}", style="red"))
            continue
        except EOFError:
            return None
        if edited is None:
            continue
        after = check_slices(edited, story_count=story_count, existing=existing)
        added = [p for p in after if p not in problems]
        if added:
            console.print(Text("✗ refused: that edit would add these problems; the slices are unchanged", style="red"))
            for problem in added:
                console.print(Text(f"  - {problem}"))
            if command == "d":
                console.print(Text("  to keep its stories and criteria, merge it into another slice instead: m A B"))
            continue
        history.append((current, problems))
        current, problems = edited, after
        _show(console, current, problems)


def _edit(command: str, rest: str, slices: list[SliceSpec], read: Ask, console: Console) -> list[SliceSpec] | None:
    """Apply one edit command; ``None`` when the person cancelled it. Bad input raises ``EditError``."""
    args = rest.split()
    if command == "m":
        if len(args) != 2:
            raise EditError("merge needs two slices: m A B (B is folded into A)")
        return merge(slices, _key(slices, args[0]), _key(slices, args[1]))
    if command == "s":
        if len(args) != 1:
            raise EditError("split needs one slice: s A")
        return _split(slices, _key(slices, args[0]), read, console)
    if command == "k":
        if len(args) != 1:
            raise EditError("toggle needs one slice: k A")
        key = _key(slices, args[0])
        spec = next(s for s in slices if s.key == key)
        return set_kind(slices, key, "HITL" if spec.kind == "AFK" else "AFK")
    if command == "t":
        ref, _, title = rest.partition(" ")
        if not ref or not title.strip():
            raise EditError("retitle needs a slice and the new title: t A New title")
        return retitle(slices, _key(slices, ref), title)
    if command == "o":
        if len(args) != 2 or not args[1].isdigit():
            raise EditError("move needs a slice and a position: o A 2")
        return move(slices, _key(slices, args[0]), int(args[1]) - 1)
    if command == "b":
        if not args:
            raise EditError("blocked-by needs a slice, then its blockers (none to clear): b A B C")
        keys = {s.key for s in slices}
        blockers = [_key(slices, ref) if ref in keys or (ref.isdigit() and len(ref) < 3) else ref for ref in args[1:]]
        return set_blocked_by(slices, _key(slices, args[0]), blockers)
    if command == "d":
        if len(args) != 1:
            raise EditError("delete needs one slice: d A")
        return delete(slices, _key(slices, args[0]))
    raise EditError(f"unknown command {command!r}; ? lists the commands")


def _split(slices: list[SliceSpec], key: str, read: Ask, console: Console) -> list[SliceSpec] | None:
    spec = next(s for s in slices if s.key == key)
    console.print(Text(f"acceptance criteria of {key}:", style="bold"))
    for number, criterion in enumerate(spec.acceptance_criteria, 1):
        console.print(Text(f"  {number}. {criterion}"))
    answer = read("criteria to move to the new slice (numbers; Enter cancels)").strip()
    if not answer:
        return None
    numbers = re.split(r"[\s,]+", answer)
    if not all(n.isdigit() for n in numbers):
        raise EditError(f"{answer!r} is not a list of criterion numbers, e.g. 2 3")
    title = read("title of the new slice (Enter cancels)").strip()
    if not title:
        return None
    return split(slices, key, [int(n) - 1 for n in numbers], title)


def _key(slices: Sequence[SliceSpec], ref: str) -> str:
    """A slice key, from a key or a number in the # column (a key wins when both match)."""
    if any(s.key == ref for s in slices):
        return ref
    if ref.isdigit() and 1 <= int(ref) <= len(slices):
        return slices[int(ref) - 1].key
    keys = ", ".join(s.key for s in slices)
    raise EditError(f"no slice {ref!r}: use a key ({keys}) or a number 1..{len(slices)}")


def _confirm(read: Ask, prompt: str) -> bool:
    return read(prompt).strip().lower() in ("y", "yes")


def _show(console: Console, slices: Sequence[SliceSpec], problems: Sequence[str]) -> None:
    console.print(render_slices(slices))
    if not problems:
        console.print(Text("✓ no problems found", style="green"))
        return
    console.print(Text(_count(problems, "problem") + ":", style="yellow"))
    for problem in problems:
        console.print(Text(f"  - {problem}"))


def _count(items: Sequence[object], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"
