"""Issue and contract files (SPEC §3): parsed strictly, errors name file, field and fix, never lost."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.artifacts import (
    Contract,
    ContractProposal,
    ContractReview,
    Criterion,
    export_schemas,
    find_issue,
    load_contract,
    load_issue,
    save_contract,
)
from harness.errors import UsageError
from harness.roles import ROLE_TOOLS

BODY = """
## What to build

A `slugify` function.

## Acceptance criteria

- [ ] slugify('Hello World') returns 'hello-world'
- [x] slugify('') returns ''
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def issue_file(directory: Path, front: str, body: str = BODY, name: str = "001-slugify.md") -> Path:
    return write(directory, name, f"---\n{front}---\n{body}")


def load_error(path: Path) -> UsageError:
    """Loading ``path`` fails with a UsageError and leaves the file byte for byte as it was."""
    before = path.read_bytes()
    with pytest.raises(UsageError) as info:
        load_issue(path)
    assert path.read_bytes() == before
    assert info.value.hint, "every error says how to fix it"
    return info.value


# --------------------------------------------------------------------------- load_issue


def test_an_issue_needs_only_id_title_and_acceptance_criteria(tmp_path):
    issue = load_issue(issue_file(tmp_path, 'id: "001"\ntitle: Slugify titles\n'))
    assert issue.id == "001"
    assert issue.title == "Slugify titles"
    assert issue.kind == "AFK"
    assert issue.status == "todo"
    assert issue.blocked_by == []
    assert issue.prd is None
    assert issue.acceptance_criteria == [
        "slugify('Hello World') returns 'hello-world'",
        "slugify('') returns ''",
    ]
    assert issue.slug == "slugify"
    assert issue.branch == "harness/001-slugify"
    assert "A `slugify` function." in issue.body


def test_every_front_matter_field_is_read(tmp_path):
    front = (
        "id: \"002\"\ntitle: Unicode\nprd: slugs\nkind: HITL\nstatus: in-review\nblocked_by: [001, '003']\ngithub: 42\n"
    )
    issue = load_issue(issue_file(tmp_path, front, name="002-unicode.md"))
    assert (issue.prd, issue.kind, issue.status, issue.github) == ("slugs", "HITL", "in-review", 42)
    assert issue.blocked_by == ["001", "003"]


def test_an_unquoted_numeric_id_keeps_its_leading_zeros(tmp_path):
    issue = load_issue(issue_file(tmp_path, "id: 001\ntitle: Slugify\n"))
    assert issue.id == "001"
    assert isinstance(issue.id, str)


def test_the_id_comes_from_the_file_name_when_the_front_matter_has_none(tmp_path):
    issue = load_issue(issue_file(tmp_path, "title: Slugify\n", name="007-slug-titles.md"))
    assert issue.id == "007"
    assert issue.slug == "slug-titles"


def test_a_file_name_without_slug_takes_the_slug_from_the_title(tmp_path):
    issue = load_issue(issue_file(tmp_path, "title: Slugify Titles!\n", name="003.md"))
    assert issue.id == "003"
    assert issue.slug == "slugify-titles"


def test_plain_list_items_under_an_acceptance_criteria_heading_are_criteria(tmp_path):
    body = (
        "## What to build\n\n- not a criterion\n\n"
        "## Acceptance Criteria\n\n- returns 'a-b' for 'A B'\n1. keeps digits\n\n"
        "## User stories\n\n- 3\n"
    )
    issue = load_issue(issue_file(tmp_path, 'id: "001"\ntitle: Slugify\n', body))
    assert issue.acceptance_criteria == ["returns 'a-b' for 'A B'", "keeps digits"]


def test_a_missing_title_is_an_error_naming_the_file_and_the_field(tmp_path):
    path = issue_file(tmp_path, 'id: "001"\n')
    err = load_error(path)
    assert str(path) in err.message
    assert "field `title` is required" in err.message
    assert err.exit_code == 2


def test_an_issue_without_acceptance_criteria_is_an_error(tmp_path):
    path = issue_file(tmp_path, 'id: "001"\ntitle: Slugify\n', "## What to build\n\nA slugify function.\n")
    err = load_error(path)
    assert str(path) in err.message
    assert "no acceptance criteria" in err.message
    assert "- [ ]" in err.message  # shows what to write


def test_invalid_yaml_is_an_error_naming_the_file_and_a_line(tmp_path):
    path = issue_file(tmp_path, 'id: "001"\ntitle: Slugify\nstatus: todo\nkind: : AFK\n')
    err = load_error(path)
    assert re.match(re.escape(str(path)) + r":\d+: invalid YAML", err.message), err.message


def test_invalid_yaml_names_the_line_of_the_file_where_the_error_is(tmp_path):
    path = issue_file(tmp_path, 'id: "001"\ntitle: Slugify\nstatus: todo\nkind: : AFK\n')
    assert path.read_text().splitlines()[4] == "kind: : AFK"  # line 5 of the file
    assert load_error(path).message.startswith(f"{path}:5: invalid YAML")


def test_an_unclosed_front_matter_is_an_error(tmp_path):
    path = write(tmp_path, "001-slugify.md", '---\nid: "001"\ntitle: Slugify\n' + BODY)
    err = load_error(path)
    assert err.message.startswith(f"{path}:1:")
    assert "never closed" in err.message
    assert "---" in err.hint


def test_a_front_matter_that_is_not_a_mapping_is_an_error(tmp_path):
    path = issue_file(tmp_path, "- id\n- title\n")
    assert "must be a mapping" in load_error(path).message


def test_an_id_that_disagrees_with_the_file_name_is_an_error(tmp_path):
    path = issue_file(tmp_path, 'id: "002"\ntitle: Slugify\n')
    err = load_error(path)
    assert str(path) in err.message
    assert "`id` is '002'" in err.message
    assert "'001'" in err.message
    assert "002-slugify.md" in err.hint


def test_an_unknown_status_is_an_error_listing_the_valid_ones(tmp_path):
    path = issue_file(tmp_path, 'id: "001"\ntitle: Slugify\nstatus: open\n')
    err = load_error(path)
    assert str(path) in err.message
    assert "field `status`" in err.message
    assert "'in-progress'" in err.message


def test_an_unknown_field_is_an_error(tmp_path):
    path = issue_file(tmp_path, 'id: "001"\ntitle: Slugify\nblocked-by: ["002"]\n')
    err = load_error(path)
    assert str(path) in err.message
    assert "field `blocked-by` is not a known field" in err.message
    assert "misspelt" in err.hint


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(UsageError, match="file not found"):
        load_issue(tmp_path / "001-nope.md")


# --------------------------------------------------------------------------- find_issue


@pytest.fixture
def issues(tmp_path: Path) -> Path:
    directory = tmp_path / "issues"
    directory.mkdir()
    for name in ("001-slugify.md", "002-unicode.md", "010-cli.md", "abc-letters.md"):
        write(directory, name, "")
    return directory


@pytest.mark.parametrize(
    ("wanted", "found"),
    [
        ("001", "001-slugify.md"),
        ("1", "001-slugify.md"),
        ("01", "001-slugify.md"),
        ("10", "010-cli.md"),
        ("abc", "abc-letters.md"),
    ],
)
def test_find_issue_by_id(issues, wanted, found):
    assert find_issue(issues, wanted) == issues / found


def test_find_issue_with_an_unknown_id_lists_the_known_ones(issues):
    with pytest.raises(UsageError) as info:
        find_issue(issues, "003")
    assert "no issue '003'" in info.value.message
    assert "known ids: 001, 002, 010, abc" in info.value.message
    assert info.value.hint


@pytest.mark.parametrize("wanted", ["ab", "00", "0010", "slugify"])
def test_find_issue_does_not_match_part_of_an_id(issues, wanted):
    with pytest.raises(UsageError, match="no issue"):
        find_issue(issues, wanted)


def test_find_issue_in_a_missing_directory_says_there_are_none(tmp_path):
    with pytest.raises(UsageError, match="known ids: none"):
        find_issue(tmp_path / "nowhere", "001")


def test_find_issue_with_two_files_for_one_id_is_ambiguous(issues):
    write(issues, "001-duplicate.md", "")
    with pytest.raises(UsageError) as info:
        find_issue(issues, "1")
    assert "ambiguous" in info.value.message
    assert "001-duplicate.md" in info.value.message
    assert "001-slugify.md" in info.value.message


# --------------------------------------------------------------------------- contract


def criterion(cid: str, behaviour: str = "returns 'hello-world'", test: str | None = None) -> Criterion:
    return Criterion(id=cid, behaviour=behaviour, test=test or f"tests/test_slug.py::test_{cid.lower()}")


def proposal(*ids: str, notes: str | None = None, out_of_scope=()) -> ContractProposal:
    criteria = [criterion(i) for i in ids]
    return ContractProposal(criteria=criteria, notes=notes, out_of_scope=list(out_of_scope))


REVISE = ContractReview.model_validate(
    {
        "decision": "revise",
        "objections": [{"criterion": "C1", "problem": "too vague", "required_change": "name the input"}],
    }
)
ACCEPT = ContractReview(decision="accept")


def test_a_contract_moves_from_proposed_through_negotiating_to_agreed():
    first = Contract(issue="001").propose(proposal("C1"))
    assert (first.status, first.round, first.sha256) == ("proposed", 1, None)
    assert [c.id for c in first.criteria] == ["C1"]
    assert first.history[0].review is None

    revised = first.review(REVISE, max_rounds=3)
    assert revised.status == "negotiating"
    assert revised.sha256 is None
    assert revised.history[0].review == REVISE
    assert [o.required_change for o in revised.open_objections] == ["name the input"]

    second = revised.propose(proposal("C1", "C2", notes="named the input"))
    assert (second.status, second.round) == ("negotiating", 2)
    assert [c.id for c in second.criteria] == ["C1", "C2"]
    assert second.notes == "named the input"
    assert second.open_objections == []  # the new proposal is not reviewed yet

    agreed = second.review(ACCEPT, max_rounds=3)
    assert agreed.status == "agreed"
    assert agreed.sha256 == agreed.digest()
    assert re.fullmatch(r"[0-9a-f]{64}", agreed.sha256 or "")
    assert [r.round for r in agreed.history] == [1, 2]
    assert agreed.open_objections == []
    assert agreed.tests == ["tests/test_slug.py::test_c1", "tests/test_slug.py::test_c2"]


def test_a_contract_is_escalated_when_the_last_round_is_revised():
    contract = Contract(issue="001").propose(proposal("C1")).review(REVISE, max_rounds=2)
    assert contract.status == "negotiating"
    contract = contract.propose(proposal("C1")).review(REVISE, max_rounds=2)
    assert contract.status == "escalated"
    assert contract.sha256 is None
    assert contract.open_objections == REVISE.objections


def test_accepting_in_the_last_round_still_agrees():
    contract = Contract(issue="001").propose(proposal("C1")).review(ACCEPT, max_rounds=1)
    assert contract.status == "agreed"


def test_contract_methods_do_not_modify_the_original():
    original = Contract(issue="001").propose(proposal("C1"))
    original.review(ACCEPT, max_rounds=3)
    assert original.status == "proposed"
    assert original.history[0].review is None


def test_the_digest_changes_with_what_was_agreed():
    base = Contract(issue="001", criteria=[criterion("C1")], out_of_scope=["unicode"])
    other_behaviour = [criterion("C1", behaviour="returns 'x'")]
    assert base.model_copy(update={"criteria": other_behaviour}).digest() != base.digest()
    other_test = [criterion("C1", test="tests/test_slug.py::test_other")]
    assert base.model_copy(update={"criteria": other_test}).digest() != base.digest()
    assert base.model_copy(update={"criteria": [criterion("C1"), criterion("C2")]}).digest() != base.digest()
    assert base.model_copy(update={"out_of_scope": []}).digest() != base.digest()
    assert base.model_copy(update={"issue": "002"}).digest() != base.digest()


def test_the_digest_ignores_the_negotiation_history():
    base = Contract(issue="001").propose(proposal("C1"))
    negotiated = base.review(REVISE, max_rounds=3).propose(proposal("C1")).review(ACCEPT, max_rounds=3)
    assert negotiated.history != base.history
    assert negotiated.round != base.round
    assert negotiated.digest() == base.digest()


def test_a_contract_survives_a_save_and_load_round_trip(tmp_path):
    tricky = ContractProposal(
        criteria=[
            criterion("C1", behaviour="slugify('yes') returns 'yes': no bool"),
            criterion("1", behaviour="2024-01-01"),
            criterion("C3", behaviour="keeps ünïcode — and “quotes” # not a comment"),
        ],
        out_of_scope=["null", "1.5", "- a list marker"],
        notes="line one\nline two: with a colon\n",
    )
    contract = (Contract(issue="001").propose(proposal("C1")).review(REVISE, max_rounds=3).propose(tricky)).review(
        ACCEPT, max_rounds=3
    )
    path = tmp_path / "contracts" / "001.md"
    save_contract(path, contract)
    loaded = load_contract(path)
    assert loaded == contract
    assert loaded.issue == "001"
    assert loaded.sha256 == loaded.digest()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    assert "# Done-contract for issue 001" in text
    assert "Review: **revise**" in text
    assert "name the input" in text


def test_saving_over_a_contract_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "001.md"
    contract = Contract(issue="001").propose(proposal("C1"))
    save_contract(path, contract)
    save_contract(path, contract.review(ACCEPT, max_rounds=3))
    assert [p.name for p in tmp_path.iterdir()] == ["001.md"]
    assert load_contract(path).status == "agreed"


def test_an_invalid_contract_file_is_an_error_naming_the_field(tmp_path):
    path = write(tmp_path, "001.md", "---\nissue: '001'\nstatus: done\n---\n")
    with pytest.raises(UsageError) as info:
        load_contract(path)
    assert str(path) in info.value.message
    assert "field `status`" in info.value.message
    assert path.read_text() == "---\nissue: '001'\nstatus: done\n---\n"


@pytest.mark.parametrize(
    "test", ["test_slugify", "tests/test_slug.py", "tests/test_slug.py::", "tests/test_slug.txt::test_a", ""]
)
def test_a_criterion_test_must_be_a_node_id(test):
    with pytest.raises(ValidationError, match="is not a pytest node id"):
        Criterion(id="C1", behaviour="b", test=test)


@pytest.mark.parametrize(
    "test", ["tests/test_slug.py::test_a", "tests/test_slug.py::TestSlug::test_a", "t.py::test_p[1-a]"]
)
def test_a_criterion_accepts_node_ids(test):
    assert Criterion(id="C1", behaviour="b", test=test).test == test


def test_a_proposal_rejects_repeated_criterion_ids():
    with pytest.raises(ValidationError, match="repeated: C1"):
        ContractProposal(criteria=[criterion("C1"), criterion("C2"), criterion("C1")])


def test_a_proposal_needs_at_least_one_criterion():
    with pytest.raises(ValidationError):
        ContractProposal(criteria=[])


def test_a_revise_review_needs_an_objection():
    with pytest.raises(ValidationError, match="needs at least one objection"):
        ContractReview(decision="revise")


# --------------------------------------------------------------------------- schemas


def test_export_schemas_writes_a_json_schema_per_artifact_and_role_tool(tmp_path):
    written = export_schemas(tmp_path)
    expected = {"issue", "contract", "verdict", "prd", "grill", *(f"tool.{name}" for name in ROLE_TOOLS)}
    assert {p.name.removesuffix(".schema.json") for p in written} == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)
    assert "tool.propose_contract.schema.json" in {p.name for p in written}
    for path in written:
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["type"] == "object", path.name
        assert isinstance(schema["properties"], dict), path.name
    issue = json.loads((tmp_path / "issue.schema.json").read_text())
    assert {"id", "title"} <= set(issue["required"])
    verdict_tool = json.loads((tmp_path / "tool.submit_verdict.schema.json").read_text())
    assert set(verdict_tool["properties"]) == {"verdict", "criteria", "findings", "probes"}
    propose = json.loads((tmp_path / "tool.propose_contract.schema.json").read_text())
    assert {"criteria", "out_of_scope", "notes"} <= set(propose["properties"])
    assert propose["additionalProperties"] is False
