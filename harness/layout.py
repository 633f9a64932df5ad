"""The names the harness gives things in a repository, formatted and parsed in one place.

Branches:

- ``harness/<id>-<slug>``: `harness run`'s issue branch;
- ``harness/<batch>-<id>-<slug>``: an issue's branch in an afk batch (``<batch>`` is ``afk-<date>``, maybe
  with ``-2``…, or the ``--batch`` name);
- ``harness/<batch>``: the batch's integration branch.

Issue ids and batch names may both contain ``-``, so a branch name alone does not say where the batch
ends and the id begins. :func:`linked_issue` reads it against the issues the repository has (the id and
slug of each): a branch is linked to an issue when it ends with ``<id>-<slug>`` right after ``harness/``
or after a ``-``. Without the slugs it falls back to the ids alone.

Files under the harness directory (``.harness`` by default): ``contracts/<id>.md`` and
``issues/<id>-<slug>.md``.

Imports nothing heavy: ``harness guard`` uses it at pre-commit start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

PREFIX = "harness/"


def run_branch(issue_id: str, slug: str) -> str:
    return f"{PREFIX}{issue_id}-{slug}"


def afk_branch(batch: str, issue_id: str, slug: str) -> str:
    return f"{PREFIX}{batch}-{issue_id}-{slug}"


def integration_branch(batch: str) -> str:
    return f"{PREFIX}{batch}"


def afk_worktree_name(batch: str, issue_id: str, slug: str) -> str:
    return f"{batch}-{issue_id}-{slug}"


def contract_file(harness_dir: str | Path, issue_id: str) -> Path:
    return Path(harness_dir) / "contracts" / f"{issue_id}.md"


def linked_issue(branch: str | None, issues: Mapping[str, str]) -> str | None:
    """The id, among ``issues`` (id → slug, ``""`` when unknown), of the issue ``branch`` belongs to — the
    run branch or an afk branch of it — or None."""
    if not branch or not branch.startswith(PREFIX):
        return None
    rest = branch[len(PREFIX) :]
    exact: list[str] = []
    loose: list[str] = []
    for issue_id, slug in issues.items():
        if slug:
            tail = f"{issue_id}-{slug}"
            if rest == tail or rest.endswith("-" + tail):
                exact.append(issue_id)
                continue
        if rest.startswith(issue_id + "-") or f"-{issue_id}-" in rest:
            loose.append(issue_id)
    for found in (exact, loose):
        if found:
            return max(found, key=len)  # `12` and `012` both fit `…-012-…`: the longer one is meant
    return None


def known_issues(harness_dir: Path) -> dict[str, str]:
    """Issue id → slug for the issues and contracts under ``harness_dir`` (a checkout's ``.harness``): the
    ids from the contract files, the slugs from the issue files named ``<id>-<slug>.md``."""
    ids = _stems(harness_dir / "contracts")
    found = dict.fromkeys(ids, "")
    for name in _stems(harness_dir / "issues"):
        for issue_id in ids:
            if name.startswith(issue_id + "-"):
                found[issue_id] = name[len(issue_id) + 1 :]
    return found


def _stems(directory: Path) -> Iterable[str]:
    try:
        return sorted(p.stem for p in directory.iterdir() if p.suffix == ".md" and p.is_file())
    except OSError:
        return []
