"""Branch names and harness paths (harness/layout.py): each shape formatted, then parsed back to its issue."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import layout

ISSUES = {"001": "slugify", "012": "add-numbers", "1-2": "dotted.name", "12": "other", "afk": "a-b"}


@pytest.mark.parametrize(("issue_id", "slug"), list(ISSUES.items()))
@pytest.mark.parametrize("batch", [None, "afk-20261204", "afk-20261204-2", "night-run", "001"])
def test_every_branch_shape_round_trips(issue_id: str, slug: str, batch: str | None) -> None:
    branch = layout.run_branch(issue_id, slug) if batch is None else layout.afk_branch(batch, issue_id, slug)
    assert branch.startswith("harness/")
    assert layout.linked_issue(branch, ISSUES) == issue_id


def test_without_slugs_the_ids_alone_decide() -> None:
    ids = dict.fromkeys(ISSUES, "")
    assert layout.linked_issue("harness/001-slugify", ids) == "001"
    assert layout.linked_issue("harness/afk-20261204-012-add-numbers", ids) == "012"
    assert layout.linked_issue("harness/afk-20261204-2-001-slugify", {"001": ""}) == "001"


def test_branches_that_are_not_an_issues() -> None:
    assert layout.linked_issue("main", ISSUES) is None
    assert layout.linked_issue(None, ISSUES) is None
    assert layout.linked_issue(layout.integration_branch("afk-20261204"), {"001": "slugify"}) is None
    assert layout.linked_issue("harness/009-gone", ISSUES) is None
    assert layout.linked_issue("feature/001-slugify", ISSUES) is None


def test_known_issues_reads_contracts_and_issue_files(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "issues").mkdir()
    for name in ("001.md", "1-2.md"):
        (tmp_path / "contracts" / name).write_text("x")
    for name in ("001-slugify.md", "1-2-dotted.name.md", "003-no-contract.md"):
        (tmp_path / "issues" / name).write_text("x")
    assert layout.known_issues(tmp_path) == {"001": "slugify", "1-2": "dotted.name"}
    assert layout.known_issues(tmp_path / "missing") == {}
    assert layout.contract_file(".harness", "001") == Path(".harness/contracts/001.md")
