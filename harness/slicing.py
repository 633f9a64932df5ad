"""Slicing a PRD into issues (SPEC §1 step 3, §3): the checks, the ids, the files, the review edits.

A functional core: no model calls, no terminal. ``harness slice`` hands the slicer's ``submit_issues``
input to ``check_slices`` and answers the model with every problem until there are none; the person
reviews the slices with the edit operations below (``harness.slicing_ui``); ``plan_issues`` then decides
each slice's id and what happens to the issue files already there, and ``write_issues`` carries it out.

Re-slicing a PRD is safe: issues that started (status beyond ``todo``) are never rewritten, a ``todo``
issue keeps its id when a slice has its ``key``, and issues of other PRDs are never touched.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Literal

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from harness import frontmatter
from harness.artifacts import Issue, issue_digest, issue_files, load_issue, slugify
from harness.errors import UsageError
from harness.fsutil import atomic_write_text
from harness.plan_models import SliceSpec

__all__ = [
    "EditError",
    "IssuePlan",
    "IssuesWritten",
    "PlannedIssue",
    "check_slices",
    "existing_issues",
    "merge",
    "move",
    "plan_issues",
    "render_issue",
    "render_slices",
    "retitle",
    "set_kind",
    "split",
    "write_issues",
]

# The body section that lists an issue's blockers (``render_issue``); ``harness.github_issues`` rewrites it
# with the GitHub numbers rather than adding a second one.
BLOCKED_BY_HEADING = "## Blocked by"
NOT_BLOCKED = "None — can start at once"

# --------------------------------------------------------------------------- checks

_VERTICAL = (
    "make every slice vertical: cut one thin path through every layer (one model field + its endpoint + its "
    "test) so that each slice, once merged, is a behaviour someone can observe working; fold this work into "
    "the slices that need it, each doing just the part its behaviour uses"
)
# Phrases that name a whole layer, or all of one kind of thing, rather than one behaviour. Searched in the
# title and in what_to_build.
_HORIZONTAL_ANYWHERE = [
    re.compile(p)
    for p in (
        r"\b(?:write|add|create|implement)\s+all\s+(?:of\s+)?(?:the\s+)?(?:unit\s+|integration\s+|e2e\s+)?tests\b",
        r"\ball\s+(?:of\s+)?the\s+(?:unit\s+|integration\s+)?tests\b",
        r"\btests?\s+for\s+(?:everything|all\s+(?:the\s+)?(?:features|modules|endpoints|slices))\b",
        r"\ball\s+(?:of\s+)?(?:the\s+)?(?:data\s+|database\s+|db\s+|orm\s+)?"
        r"(?:models|tables|migrations|endpoints|routes|controllers|views|schemas|components|pages|screens)\b",
        r"\b(?:frontend|front-end|backend|back-end|ui|api|database|db)[- ]only\b",
        r"\bonly\s+the\s+(?:frontend|front-end|backend|back-end|ui|api|database|db)\b",
    )
]
# Weaker signals, searched in the title only (what_to_build may well mention the layers it passes through).
_HORIZONTAL_TITLE = [
    re.compile(p)
    for p in (
        r"\b(?:data|database|db|persistence|storage|api|backend|back-end|frontend|front-end|ui|service|model|"
        r"presentation|business[- ]logic|domain)\s+layer\b",
        r"\bset\s*up\s+(?:the\s+)?(?:database\s+|db\s+)?schema\b",
        r"^(?:write|add|create)\s+(?:the\s+)?(?:unit\s+|integration\s+|e2e\s+)?tests\b",
        r"^tests?\s+for\b",
    )
]
_MAX_LISTED = 12


def check_slices(issues: Sequence[SliceSpec], *, story_count: int, existing: Mapping[str, Issue]) -> list[str]:
    """Every problem with a slicing, each a sentence the slicer can act on; ``[]`` when it is sound.

    ``existing`` maps the ids of issues that stay in the repository (``existing_issues``) to the issues:
    ``blocked_by`` may name them as well as the keys of this submission.
    """
    problems = _graph_problems(issues, existing.keys())
    problems += _story_problems(issues, story_count)
    for spec in issues:
        empty = [str(n) for n, text in enumerate(spec.acceptance_criteria, 1) if not text.strip()]
        if empty:
            problems.append(
                f"slice {spec.key!r}: acceptance criteria {', '.join(empty)} are empty; "
                "write each as an observable, checkable statement, or drop it"
            )
        problems += _horizontal_problems(spec)
    return problems


def _graph_problems(issues: Sequence[SliceSpec], existing_ids: Iterable[str]) -> list[str]:
    """Duplicate keys, unknown or self blockers, cycles, nothing to start with."""
    problems: list[str] = []
    keys = [spec.key for spec in issues]
    known_ids = set(existing_ids)
    for key in dict.fromkeys(keys):
        positions = [str(n) for n, k in enumerate(keys, 1) if k == key]
        if len(positions) > 1:
            problems.append(
                f"key {key!r} is used by {len(positions)} slices (positions {', '.join(positions)}); "
                "give each slice its own key"
            )
        if key in known_ids:
            problems.append(
                f"key {key!r} is also the id of an existing issue, so `blocked_by: [{key}]` would be ambiguous; "
                "pick a key that is not an issue id"
            )
    key_set = set(keys)
    for spec in issues:
        if spec.key in spec.blocked_by:
            problems.append(f"slice {spec.key!r} is blocked by itself; remove {spec.key!r} from its blocked_by")
        for blocker in dict.fromkeys(spec.blocked_by):
            if blocker not in key_set and blocker not in known_ids:
                problems.append(
                    f"slice {spec.key!r} is blocked by {blocker!r}, which is neither a key in this submission "
                    f"({_listing(keys)}) nor an existing issue id ({_listing(sorted(known_ids))}); "
                    "name one of those, or drop the entry"
                )
    edges = {spec.key: [b for b in spec.blocked_by if b in key_set and b != spec.key] for spec in issues}
    for cycle in cycles(edges):
        path = " → ".join([*cycle, cycle[0]])
        problems.append(
            f"dependency cycle {path}: each slice in it waits for the next, so none of them can start; "
            "remove one of these blocked_by entries (or merge the slices)"
        )
    if issues and all(any(b in key_set for b in spec.blocked_by) for spec in issues):
        problems.append(
            "every slice is blocked by another slice of this submission, so nothing could start; "
            "at least one slice must have no blocked_by among these keys"
        )
    return problems


def cycles(edges: Mapping[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one node (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, [])
            if child < len(targets):
                work.append((node, child + 1))
                target = targets[child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    order = {key: n for n, key in enumerate(edges)}
    return [_cycle_in(sorted(c, key=order.__getitem__), edges) for c in sorted(components, key=lambda c: order[c[0]])]


def _cycle_in(component: list[str], edges: Mapping[str, list[str]]) -> list[str]:
    """A simple cycle through the component's first node (breadth-first, so the shortest one)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in edges.get(node, []):
                if target not in members:
                    continue
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    return component  # unreachable for a strongly connected component


def _story_problems(issues: Sequence[SliceSpec], story_count: int) -> list[str]:
    problems: list[str] = []
    valid = range(1, story_count + 1)
    for spec in issues:
        outside = [n for n in dict.fromkeys(spec.user_stories) if n not in valid]
        if outside:
            numbers = f"numbered 1..{story_count}" if story_count else "none"
            problems.append(
                f"slice {spec.key!r} names {_stories(outside)}, but the PRD has no such story (its stories: "
                f"{numbers}); use the numbers of the PRD's user stories"
            )
    served = {n for spec in issues for n in spec.user_stories}
    unserved = [n for n in valid if n not in served]
    if unserved:
        problems.append(
            f"{_stories(unserved)} served by no slice, and every story must be: add each to the "
            "user_stories of the slice that delivers it, or add a slice for it"
        )
    return problems


def _stories(numbers: Sequence[int]) -> str:
    listed = ", ".join(str(n) for n in numbers)
    return f"user story {listed}" if len(numbers) == 1 else f"user stories {listed}"


def _horizontal_problems(spec: SliceSpec) -> list[str]:
    found: tuple[str, str] | None = None
    for field, text in (("title", spec.title), ("what_to_build", spec.what_to_build)):
        patterns = _HORIZONTAL_ANYWHERE + (_HORIZONTAL_TITLE if field == "title" else [])
        match = next((m for p in patterns if (m := p.search(" ".join(text.lower().split())))), None)
        if match:
            found = (field, match.group(0))
            break
    if found is None:
        return []
    field, phrase = found
    return [
        f"slice {spec.key!r} looks horizontal ({phrase!r} in its {field}): it builds one layer, or one kind of "
        f"thing for every feature, so nothing works end to end until several slices land; {_VERTICAL}"
    ]


def _listing(items: Sequence[str]) -> str:
    if not items:
        return "none"
    shown = ", ".join(items[:_MAX_LISTED])
    return shown if len(items) <= _MAX_LISTED else f"{shown}, … {len(items) - _MAX_LISTED} more"


# --------------------------------------------------------------------------- ids and files


@dataclass(frozen=True)
class PlannedIssue:
    """One issue file to write: a slice with its id, and the ids it is blocked by."""

    id: str
    spec: SliceSpec
    blocked_by: tuple[str, ...]
    path: Path  # <id>-<slugify(title)>.md
    replaces: Path | None = None  # the todo issue of the same id it rewrites (a different name when retitled)
    github: int | None = None  # carried over from the issue it rewrites, so publishing does not duplicate it


@dataclass(frozen=True)
class IssuePlan:
    """What ``write_issues`` will do; nothing is written while planning."""

    issues_dir: Path
    prd: str
    writes: tuple[PlannedIssue, ...]  # in the slicing's order
    kept: tuple[Path, ...]  # this PRD's issues left untouched (started, edited by a person, or named as a blocker)
    removed: tuple[Path, ...]  # this PRD's todo issues whose key is no longer in the slicing
    ids: Mapping[str, str]  # slice key -> issue id (a key of a started issue maps to that issue's id)
    # todo issues a person edited, kept as they are: (file, what the new slice would have changed)
    edited: tuple[tuple[Path, str], ...] = ()

    @property
    def unchanged(self) -> tuple[str, ...]:
        """Keys of slices that are already started issues: those issues stay as they are."""
        written = {planned.spec.key for planned in self.writes}
        return tuple(key for key in self.ids if key not in written)


def existing_issues(issues_dir: Path, prd_slug: str) -> dict[str, Issue]:
    """The issues a new slicing of ``prd_slug`` may name in ``blocked_by`` by id: every issue in
    ``issues_dir`` except that PRD's ``todo`` issues, which the new slicing replaces (name them by key)."""
    return blockable({issue.id: issue for _, issue in _load_all(issues_dir)}, prd_slug)


def blockable(issues: Mapping[str, Issue], prd_slug: str) -> dict[str, Issue]:
    """:func:`existing_issues` over issues already loaded."""
    return {i: issue for i, issue in issues.items() if not (issue.prd == prd_slug and issue.status == "todo")}


def plan_issues(
    issues_dir: Path, prd_slug: str, slices: Sequence[SliceSpec], *, overwrite_edited: bool = False
) -> IssuePlan:
    """Decide the id of each slice and the fate of the issue files already in ``issues_dir``, without writing.

    - issues of other PRDs: untouched; their ids may be named in ``blocked_by``;
    - this PRD's started issues (status beyond ``todo``): untouched; a slice with the key of one of them is
      that issue, so it is not written again and its key stands for the issue's id;
    - this PRD's ``todo`` issues: rewritten in place (same id) when a slice has their key, else removed —
      unless an issue that stays names it in ``blocked_by``, then it is kept; one a person edited since the
      slicer wrote it (``Issue.edited``) is kept as it is, neither rewritten, renamed nor removed, and listed
      in ``edited`` with what the new slicing would change — unless ``overwrite_edited``;
    - new slices: the next free ids after the highest numeric id in the directory (of any PRD, removed ones
      included, so an id never changes meaning within one re-slice), zero-padded to 3 digits.

    Raises ``UsageError`` when an issue file cannot be read, two files share an id, or the graph cannot be
    translated to ids (the caller should have run ``check_slices`` first).
    """
    loaded = _load_all(issues_dir)
    by_id: dict[str, Path] = {}
    for path, issue in loaded:
        if issue.id in by_id:
            raise UsageError(
                f"issue id {issue.id!r} is used by two files: {by_id[issue.id].name} and {path.name}",
                hint=f"give one of them another id (file name prefix and `id`) in {issues_dir}",
            )
        by_id[issue.id] = path
    keys = [spec.key for spec in slices]
    mine = [(path, issue) for path, issue in loaded if issue.prd == prd_slug]
    # a todo issue a person edited is theirs: like a started one, it stays as it is (unless they agree otherwise)
    held = {path for path, issue in mine if issue.status == "todo" and not overwrite_edited and issue.edited()}
    started = {
        issue.key: (path, issue)
        for path, issue in reversed(mine)
        if (issue.status != "todo" or path in held) and issue.key
    }
    reusable = {
        issue.key: (path, issue)
        for path, issue in reversed(mine)
        if issue.status == "todo" and path not in held and issue.key
    }

    ids: dict[str, str] = {}
    reused: dict[str, tuple[Path, Issue]] = {}
    for key in keys:
        if key in started:
            ids[key] = started[key][1].id
        elif key in reusable:
            ids[key] = reusable[key][1].id
            reused[key] = reusable[key]
    reused_paths = {path for path, _ in reused.values()}
    dropped = {
        issue.id: path for path, issue in mine if issue.status == "todo" and path not in reused_paths | held
    }
    staying = [issue for path, issue in loaded if path not in reused_paths and issue.id not in dropped]
    _keep_named_blockers(dropped, staying, {issue.id: issue for _, issue in loaded})
    removed_ids = set(dropped)

    numbers = [int(issue.id) for _, issue in loaded if issue.id.isdigit()]
    next_number = max(numbers, default=0) + 1
    for key in keys:
        if key not in ids:
            ids[key] = f"{next_number:03d}"
            next_number += 1

    problems = _graph_problems(slices, by_id)  # a removed id is reported below, with the reason
    writes: list[PlannedIssue] = []
    for spec in slices:
        if spec.key in started:
            continue
        blocked: list[str] = []
        for blocker in dict.fromkeys(spec.blocked_by):
            if blocker in ids:
                blocked.append(ids[blocker])
            elif blocker in removed_ids:
                problems.append(
                    f"slice {spec.key!r} is blocked by issue {blocker!r}, which this re-slicing removes "
                    "(its key is not in the new slicing); name the slice that replaces it by key"
                )
            else:
                blocked.append(blocker)
        previous = reused.get(spec.key)
        writes.append(
            PlannedIssue(
                id=ids[spec.key],
                spec=spec,
                blocked_by=tuple(dict.fromkeys(blocked)),
                path=issues_dir / f"{ids[spec.key]}-{slugify(spec.title)}.md",
                replaces=previous[0] if previous else None,
                github=previous[1].github if previous else None,
            )
        )
    if problems:
        raise UsageError(
            f"the slicing cannot be written to {issues_dir}: " + "; ".join(problems),
            hint="fix the slices (check_slices lists these problems) and slice again",
        )
    kept = tuple(path for path, issue in mine if path not in reused_paths and issue.id not in dropped)
    by_key = {spec.key: spec for spec in slices}
    edited = tuple(
        (path, _changes(issue, by_key.get(issue.key or "")))
        for path, issue in mine
        if path in held
    )
    return IssuePlan(
        issues_dir=issues_dir,
        prd=prd_slug,
        writes=tuple(writes),
        kept=kept,
        removed=tuple(sorted(dropped.values())),
        ids=ids,
        edited=edited,
    )


def _changes(issue: Issue, spec: SliceSpec | None) -> str:
    """What the new slicing would have done to an issue a person edited."""
    if spec is None:
        return "the new slicing has no slice with its key: it would have been removed"
    what = []
    if spec.title != issue.title:
        what.append(f"title {issue.title!r} → {spec.title!r} (and the file renamed)")
    if spec.kind != issue.kind:
        what.append(f"kind {issue.kind} → {spec.kind}")
    old, new = issue.acceptance_criteria, list(spec.acceptance_criteria)
    if old != new:
        what.append(f"acceptance criteria {len(old)} → {len(new)}" + (", reworded" if len(old) == len(new) else ""))
    if spec.what_to_build.strip() not in issue.body:
        what.append("what to build rewritten (your notes in the body would be lost)")
    return "; ".join(what) or "nothing but the file's layout"


def _keep_named_blockers(dropped: dict[str, Path], staying: list[Issue], by_id: Mapping[str, Issue]) -> None:
    """Take out of ``dropped`` every issue that an issue staying names in ``blocked_by``, transitively."""
    named = [blocker for issue in staying for blocker in issue.blocked_by]
    while named:
        blocker = named.pop()
        if dropped.pop(blocker, None) is not None:
            named += by_id[blocker].blocked_by


def _load_all(issues_dir: Path) -> list[tuple[Path, Issue]]:
    """Every issue file in the directory, in name order; the first unreadable one is a UsageError naming it."""
    if not issues_dir.is_dir():
        return []
    paths = issue_files(issues_dir)
    return [(path, load_issue(path)) for path in paths]


def render_issue(
    planned: PlannedIssue,
    prd_slug: str,
    stories: Sequence[str] = (),
    *,
    prd_title: str = "",
    titles: Mapping[str, str] | None = None,
) -> str:
    """The issue file's text: front matter and the sections parent PRD, what to build, acceptance criteria,
    blocked by, user stories: the body reads on its own (on GitHub too), not only the front matter.

    ``stories`` are the PRD's user stories in order; when given, each story the slice serves is quoted.
    ``titles`` maps issue ids to titles, to name each blocker by its title as well as its id.
    """
    spec = planned.spec
    meta: dict[str, object] = {
        "id": planned.id,
        "title": spec.title,
        "prd": prd_slug,
        "kind": spec.kind,
        "status": "todo",
        "blocked_by": list(planned.blocked_by),
        "key": spec.key,
        "user_stories": list(spec.user_stories),
    }
    if planned.github is not None:
        meta["github"] = planned.github
    parent = f"`{prd_slug}`" + (f" — {' '.join(prd_title.split())}" if prd_title.strip() else "")
    lines = ["## Parent PRD", "", parent, ""]
    lines += ["## What to build", "", spec.what_to_build.strip(), "", "## Acceptance criteria", ""]
    # One line per criterion: a line break inside one would end its checkbox.
    lines += [f"- [ ] {' '.join(text.split())}" for text in spec.acceptance_criteria]
    lines += ["", BLOCKED_BY_HEADING, ""]
    named = titles or {}
    lines += [
        f"- Issue {b}" + (f": {' '.join(named[b].split())}" if named.get(b) else "") for b in planned.blocked_by
    ] or [NOT_BLOCKED]
    if spec.user_stories:
        lines += ["", "## User stories", ""]
        for number in spec.user_stories:
            text = stories[number - 1] if 0 < number <= len(stories) else ""
            lines.append(f"- Story {number}: {' '.join(text.split())}" if text else f"- Story {number}")
    body = "\n".join(lines)
    # the digest of what is written, so a re-slice can tell a person's edit (Issue.edited); an invalid issue is
    # reported by write_issues before anything is written
    with contextlib.suppress(ValueError):
        meta["sliced"] = issue_digest(Issue.model_validate({**meta, "body": body}).model_dump(mode="json"), body)
    return frontmatter.render(meta, body)


@dataclass(frozen=True)
class IssuesWritten:
    written: list[Path]  # in the slicing's order
    kept: list[Path]  # this PRD's issues left as they were
    removed: list[Path]  # this PRD's todo issues dropped by the new slicing
    edited: list[tuple[Path, str]] = dataclass_field(default_factory=list)  # kept as a person edited them


def write_issues(plan: IssuePlan, *, stories: Sequence[str] = (), prd_title: str = "") -> IssuesWritten:
    """Carry out ``plan``: write each planned issue atomically, then remove the files it renamed or dropped.

    Every file is rendered and validated before the first write, so a slice that would not load back as an
    issue writes nothing. ``stories`` are the PRD's user stories, quoted in each issue's ``## User stories``;
    ``prd_title`` is the PRD's title, shown with its slug under ``## Parent PRD``.
    """
    rendered: list[tuple[Path, str]] = []
    titles = {planned.id: planned.spec.title for planned in plan.writes}
    for planned in plan.writes:
        text = render_issue(planned, plan.prd, stories, prd_title=prd_title, titles=titles)
        _check_loads_back(planned, text)
        rendered.append((planned.path, text))
    for path, text in rendered:
        atomic_write_text(path, text)
    written = {path for path, _ in rendered}
    renamed = [p.replaces for p in plan.writes if p.replaces is not None and p.replaces not in written]
    for path in [*renamed, *plan.removed]:
        path.unlink(missing_ok=True)
    return IssuesWritten(
        written=[path for path, _ in rendered],
        kept=list(plan.kept),
        removed=list(plan.removed),
        edited=list(plan.edited),
    )


def _check_loads_back(planned: PlannedIssue, text: str) -> None:
    doc = frontmatter.parse(text, source=str(planned.path))
    try:
        issue = Issue.model_validate({**doc.meta, "body": doc.body})
    except ValueError as exc:
        raise UsageError(
            f"{planned.path}: slice {planned.spec.key!r} does not make a valid issue: {exc}",
            hint="fix the slice and slice again; nothing was written",
        ) from None
    if len(issue.acceptance_criteria) != len(planned.spec.acceptance_criteria):
        raise UsageError(
            f"{planned.path}: slice {planned.spec.key!r} would read back with "
            f"{len(issue.acceptance_criteria)} acceptance criteria instead of {len(planned.spec.acceptance_criteria)}",
            hint="keep checkbox lines (`- [ ] ...`) out of what_to_build, and no criterion empty; nothing was written",
        )


# --------------------------------------------------------------------------- review edits


class EditError(ValueError):
    """An edit that cannot be applied as asked (unknown key, bad index); the message says why."""


def _find(slices: Sequence[SliceSpec], key: str) -> int:
    for index, spec in enumerate(slices):
        if spec.key == key:
            return index
    raise EditError(f"no slice with key {key!r} (keys: {_listing([s.key for s in slices])})")


def merge(slices: Sequence[SliceSpec], key_a: str, key_b: str) -> list[SliceSpec]:
    """Fold slice ``key_b`` into ``key_a``: ``key_a`` keeps its key, title and place; the criteria, stories
    and blockers are unioned (blockers minus the pair); HITL wins over AFK; slices blocked by ``key_b`` are
    blocked by ``key_a`` instead."""
    if key_a == key_b:
        raise EditError(f"cannot merge slice {key_a!r} with itself; name two different slices")
    a, b = slices[_find(slices, key_a)], slices[_find(slices, key_b)]
    merged = a.model_copy(
        update={
            "what_to_build": f"{a.what_to_build}\n\n{b.what_to_build}",
            "acceptance_criteria": list(dict.fromkeys([*a.acceptance_criteria, *b.acceptance_criteria])),
            "user_stories": sorted({*a.user_stories, *b.user_stories}),
            "blocked_by": [k for k in dict.fromkeys([*a.blocked_by, *b.blocked_by]) if k not in (key_a, key_b)],
            "kind": "HITL" if "HITL" in (a.kind, b.kind) else "AFK",
        }
    )
    result: list[SliceSpec] = []
    for spec in slices:
        if spec.key == key_b:
            continue
        if spec.key == key_a:
            result.append(merged)
            continue
        blockers = [key_a if k == key_b else k for k in spec.blocked_by]
        result.append(spec.model_copy(update={"blocked_by": list(dict.fromkeys(blockers))}))
    return result


def split(slices: Sequence[SliceSpec], key: str, criteria_indexes: Iterable[int], new_title: str) -> list[SliceSpec]:
    """Move the acceptance criteria at ``criteria_indexes`` (0-based) of slice ``key`` into a new slice titled
    ``new_title``, placed right after it.

    The new slice is blocked by the original (it extends the path the original cuts, and adding a slice
    nobody depends on cannot create a cycle); it keeps the original's kind and user stories, and its key is
    ``<key>-2`` (or the next free suffix). Slices blocked by the original stay blocked by it alone.
    """
    index = _find(slices, key)
    original = slices[index]
    count = len(original.acceptance_criteria)
    chosen = sorted(set(criteria_indexes))
    if not chosen:
        raise EditError("choose at least one acceptance criterion to move to the new slice")
    if any(i < 0 or i >= count for i in chosen):
        raise EditError(f"slice {key!r} has acceptance criteria 1..{count}; choose among those")
    if len(chosen) == count:
        raise EditError(f"moving all {count} criteria would leave slice {key!r} empty; leave at least one")
    title = new_title.strip()
    if not title:
        raise EditError("the new slice needs a title")
    taken = {spec.key for spec in slices}
    suffix = 2
    while f"{key}-{suffix}" in taken:
        suffix += 1
    moved = set(chosen)
    new = SliceSpec(
        key=f"{key}-{suffix}",
        title=title,
        what_to_build=f"Split from {key!r} ({original.title}): {original.what_to_build}",
        acceptance_criteria=[c for i, c in enumerate(original.acceptance_criteria) if i in moved],
        blocked_by=[key],
        kind=original.kind,
        user_stories=list(original.user_stories),
    )
    kept = original.model_copy(
        update={"acceptance_criteria": [c for i, c in enumerate(original.acceptance_criteria) if i not in moved]}
    )
    return [*slices[:index], kept, new, *slices[index + 1 :]]


def set_kind(slices: Sequence[SliceSpec], key: str, kind: Literal["AFK", "HITL"]) -> list[SliceSpec]:
    index = _find(slices, key)
    return [*slices[:index], slices[index].model_copy(update={"kind": kind}), *slices[index + 1 :]]


def retitle(slices: Sequence[SliceSpec], key: str, title: str) -> list[SliceSpec]:
    if not title.strip():
        raise EditError("a title cannot be empty")
    index = _find(slices, key)
    return [*slices[:index], slices[index].model_copy(update={"title": title.strip()}), *slices[index + 1 :]]


def move(slices: Sequence[SliceSpec], key: str, position: int) -> list[SliceSpec]:
    """Put slice ``key`` at ``position`` (0-based) in the list; new issues get their ids in list order, so a
    slice never moves ahead of a slice it is blocked by, nor behind one that is blocked by it."""
    index = _find(slices, key)
    if not 0 <= position < len(slices):
        raise EditError(f"position {position + 1} is outside 1..{len(slices)}")
    rest = [*slices[:index], *slices[index + 1 :]]
    moved = [*rest[:position], slices[index], *rest[position:]]
    place = {spec.key: n for n, spec in enumerate(moved)}
    spec = slices[index]
    ahead = [b for b in spec.blocked_by if b in place and place[b] > place[key]]
    behind = [s.key for s in moved if key in s.blocked_by and place[s.key] < place[key]]
    if ahead or behind:
        who = f"it is blocked by {_listing(ahead)}" if ahead else f"{_listing(behind)} is blocked by it"
        raise EditError(f"slice {key!r} cannot go to position {position + 1}: {who}, which must come first")
    return moved


def set_blocked_by(slices: Sequence[SliceSpec], key: str, blockers: Sequence[str]) -> list[SliceSpec]:
    """Slice ``key`` waits for exactly ``blockers`` (slice keys or existing issue ids; none: it can start)."""
    index = _find(slices, key)
    if key in blockers:
        raise EditError(f"slice {key!r} cannot be blocked by itself")
    updated = slices[index].model_copy(update={"blocked_by": list(dict.fromkeys(blockers))})
    return [*slices[:index], updated, *slices[index + 1 :]]


def delete(slices: Sequence[SliceSpec], key: str) -> list[SliceSpec]:
    """Drop slice ``key``; the slices it blocked stop waiting for it (their other blockers stay)."""
    index = _find(slices, key)
    if len(slices) == 1:
        raise EditError("cannot delete the only slice; quit (q) to write nothing")
    rest = [*slices[:index], *slices[index + 1 :]]
    return [spec.model_copy(update={"blocked_by": [b for b in spec.blocked_by if b != key]}) for spec in rest]


def describe_slice(spec: SliceSpec) -> str:
    """One slice in full, for the review screen: what to build, its criteria, blockers and stories."""
    lines = [f"{spec.key}: {spec.title} [{spec.kind}]", "", spec.what_to_build.strip(), "", "acceptance criteria:"]
    lines += [f"  {n}. {c}" for n, c in enumerate(spec.acceptance_criteria, 1)]
    lines.append(f"blocked by: {', '.join(spec.blocked_by) or '-'}")
    lines.append(f"user stories: {', '.join(str(n) for n in spec.user_stories) or '-'}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- display


def render_slices(
    slices: Sequence[SliceSpec], *, ids: Mapping[str, str] | None = None, title: str | None = None
) -> RenderableType:
    """A table of the slices (number, key or id, title, kind, blockers, stories, criteria count) and their
    dependency tree; readable at 80 columns (titles wrap, the narrow columns do not)."""
    ids = ids or {}
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("id" if ids else "key", max_width=14, overflow="fold")
    table.add_column("title", ratio=1, min_width=16)
    table.add_column("kind", no_wrap=True)
    table.add_column("blocked by", min_width=10, overflow="fold")  # never cut: a reader must see every blocker
    table.add_column("stories", max_width=8)
    table.add_column("crit", justify="right", no_wrap=True)
    for number, spec in enumerate(slices, 1):
        label = f"{ids[spec.key]} {spec.key}" if spec.key in ids else spec.key
        blockers = ", ".join(ids.get(b, b) for b in spec.blocked_by) or "-"
        table.add_row(
            str(number),
            label,
            Text(spec.title),
            Text(spec.kind, style="yellow" if spec.kind == "HITL" else "green"),
            Text(blockers),
            ", ".join(str(n) for n in spec.user_stories) or "-",
            str(len(spec.acceptance_criteria)),
        )
    return Group(table, _dependency_tree(slices))


def _dependency_tree(slices: Sequence[SliceSpec]) -> Tree:
    """Slices under the slices they wait for; one that waits for several appears under each, expanded once."""
    keys = {spec.key for spec in slices}
    unblocks: dict[str, list[SliceSpec]] = {}
    for spec in slices:
        for blocker in dict.fromkeys(spec.blocked_by):
            if blocker in keys and blocker != spec.key:
                unblocks.setdefault(blocker, []).append(spec)
    tree = Tree(Text("start with", style="bold"), guide_style="dim")
    shown: set[str] = set()

    def add(branch: Tree, spec: SliceSpec) -> None:
        if spec.key in shown:
            branch.add(Text(f"{spec.key} (above)", style="dim"))
            return
        shown.add(spec.key)
        child = branch.add(Text(f"{spec.key}  {spec.title}"))
        for follower in unblocks.get(spec.key, []):
            add(child, follower)

    for spec in slices:
        if not any(b in keys and b != spec.key for b in spec.blocked_by):
            add(tree, spec)
    stuck = [spec for spec in slices if spec.key not in shown]
    if stuck:
        cycle = tree.add(Text("waiting in a cycle", style="bold red"))
        for spec in stuck:
            add(cycle, spec)
    return tree
