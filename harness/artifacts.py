"""The artifacts agents and the harness hand each other: issue, contract, verdict.

Each is a pydantic model and a Markdown file with YAML front matter, parsed once at the boundary,
validated, written atomically. A file that fails validation is reported (file, field, fix) and
never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness import frontmatter
from harness.digest import contract_digest
from harness.errors import UsageError
from harness.fsutil import atomic_write_text
from harness.validation import describe_validation_error, hint_for

IssueStatus = Literal["todo", "in-progress", "in-review", "done", "blocked"]
ContractStatus = Literal["proposed", "negotiating", "agreed", "escalated"]
Severity = Literal["blocker", "major", "minor"]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
NODE_ID = re.compile(r"^[^\s:][^:]*\.py::\S.*$")
_CHECKBOX = re.compile(r"^\s*[-*+]\s+\[[ xX]\]\s+(?P<text>\S.*)$")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?P<text>\S.*)$")
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --------------------------------------------------------------------------- issue


class Issue(Strict):
    id: str = Field(pattern=_ID, description="stable short id, e.g. 001")
    title: str = Field(min_length=1)
    prd: str | None = None
    kind: Literal["AFK", "HITL"] = "AFK"
    status: IssueStatus = "todo"
    blocked_by: list[str] = Field(default_factory=list)
    github: int | None = None
    key: str | None = Field(
        default=None, description="the slicer's key for this slice; a re-slice keeps the id of the issue with its key"
    )
    user_stories: list[int] = Field(default_factory=list, description="numbers of the PRD user stories it serves")
    sliced: str | None = Field(
        default=None,
        description="digest of the issue as `harness slice` wrote it; when the file no longer matches it, a person "
        "edited it, and a re-slice keeps it as it is unless told to overwrite",
    )
    body: str = Field(default="", exclude=True)
    slug: str = Field(default="", exclude=True)

    def edited(self) -> bool:
        """Whether a person changed the file since `harness slice` wrote it (no digest: nobody can tell, so yes)."""
        return self.sliced is None or self.sliced != issue_digest(self.model_dump(mode="json"), self.body)

    @property
    def acceptance_criteria(self) -> list[str]:
        return acceptance_criteria(self.body)

    @property
    def branch(self) -> str:
        from harness.layout import run_branch

        return run_branch(self.id, self.slug)

    @model_validator(mode="after")
    def _needs_criteria(self) -> Issue:
        if not self.acceptance_criteria:
            raise ValueError(
                "the body has no acceptance criteria; add a checkbox list such as "
                "`- [ ] slugify('Hello World') returns 'hello-world'` under `## Acceptance criteria`"
            )
        return self


def issue_digest(meta: Mapping[str, Any], body: str) -> str:
    """What `harness slice` records of an issue it writes: its fields (except the digest and the status, which the
    harness itself moves) and its body, hashed."""
    fields = {k: v for k, v in meta.items() if k not in ("sliced", "status", "body", "slug")}
    canonical = json.dumps(fields, sort_keys=True, default=str) + "\n" + body.strip()
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def acceptance_criteria(body: str) -> list[str]:
    """Checkbox items anywhere in the body; else the list items under an 'Acceptance criteria' heading."""
    lines = body.splitlines()
    boxes = [m["text"] for line in lines if (m := _CHECKBOX.match(line))]
    if boxes:
        return boxes
    items: list[str] = []
    inside = False
    for line in lines:
        heading = _HEADING.match(line)
        if heading:
            inside = "acceptance" in heading["title"].lower()
            continue
        if inside and (m := _ITEM.match(line)):
            items.append(m["text"])
    return items


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:48].rstrip("-") or "issue"


def load_issue(path: Path) -> Issue:
    return _issue_from(frontmatter.read(path), path)


def _issue_from(doc: frontmatter.Document, path: Path) -> Issue:
    stem_id, _, stem_slug = path.stem.partition("-")
    meta = dict(doc.meta)
    if "id" not in meta and stem_id:
        meta["id"] = stem_id
    issue = _validate(Issue, {**meta, "body": doc.body}, path)
    if stem_id and issue.id != stem_id:
        raise UsageError(
            f"{path}: field `id` is {issue.id!r} but the file name starts with {stem_id!r}",
            hint=f"make them agree: rename the file to {issue.id}-{stem_slug or slugify(issue.title)}.md or fix `id`",
        )
    return issue.model_copy(update={"slug": stem_slug or slugify(issue.title)})


def set_issue_fields(path: Path, **fields: str) -> None:
    """Change front matter fields of an issue file in place, keeping every other byte as it was
    (comments, order, quoting, the body). Written atomically, and only when the file is a valid
    issue before and after the change with the new values read back as given: else a UsageError and
    the file is left as it was."""
    load_issue(path)
    text = path.read_bytes().decode("utf-8")  # not read_text: it would turn CRLF line endings into LF
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = text[len(bom) :].splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        lines = ["---\n", "---\n", *lines]
    newline = lines[0][len(lines[0].rstrip("\r\n")) :] or "\n"
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise UsageError(f"{path}: the front matter is never closed", hint="add a line `---` after the last field")
    for key, value in fields.items():
        rendered = f"{key}: {value}{newline}"
        index = next((i for i in range(1, end) if re.match(rf"^{re.escape(key)}\s*:", lines[i])), None)
        if index is None:
            lines.insert(end, rendered)
            end += 1
        else:
            lines[index] = rendered
    updated = bom + "".join(lines)
    try:
        doc = frontmatter.parse(updated, source=str(path))
        _issue_from(doc, path)
        unchanged = [key for key, value in fields.items() if doc.meta.get(key) != value]
    except UsageError:
        unchanged = list(fields)
    if unchanged:
        wanted = ", ".join(f"`{key}: {value}`" for key, value in fields.items())
        raise UsageError(
            f"{path}: cannot set {wanted} line by line without changing what the other front matter "
            f"lines mean (field(s) {', '.join(f'`{key}`' for key in unchanged)})",
            hint=f"edit the front matter by hand: give each of {', '.join(fields)} a one-line value",
        )
    atomic_write_text(path, updated)


NOT_ISSUES = frozenset({"readme.md", "index.md", "contributing.md"})  # what a person may keep in the folder


def issue_files(issues_dir: Path) -> list[Path]:
    """The files of ``issues_dir`` that are issues, in name order: every ``*.md`` file except the folder's own
    documentation (``README.md``, ``index.md``, ``CONTRIBUTING.md``, any case) and names starting with ``.`` or
    ``_`` (drafts, editor files). One rule for every command that reads issues."""
    if not issues_dir.is_dir():
        return []
    return sorted(
        p
        for p in issues_dir.glob("*.md")
        if p.is_file() and p.name.lower() not in NOT_ISSUES and not p.name.startswith((".", "_"))
    )


def find_issue(issues_dir: Path, issue_id: str) -> Path:
    """The file of issue ``issue_id`` (``001`` matches ``001-x.md``; ``1`` matches ``001`` too)."""
    candidates = issue_files(issues_dir)
    wanted = {issue_id, issue_id.zfill(3)} if issue_id.isdigit() else {issue_id}
    matches = [p for p in candidates if p.stem.partition("-")[0] in wanted]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise UsageError(f"issue {issue_id!r} is ambiguous: {names}", hint="give each issue file a unique id prefix")
    known = ", ".join(p.stem.partition("-")[0] for p in candidates) or "none"
    raise UsageError(
        f"no issue {issue_id!r} in {issues_dir} (known ids: {known})",
        hint=f"create {issues_dir}/{issue_id}-<slug>.md with `id`, `title` and acceptance criteria, "
        "or pick one of the known ids",
    )


# --------------------------------------------------------------------------- contract


class Criterion(Strict):
    id: str = Field(min_length=1, description="short id, e.g. C1")
    behaviour: str = Field(min_length=1, description="a behaviour a user could observe")
    test: str = Field(description="pytest node id that will prove it: path/to/test_file.py::test_name")

    @field_validator("test")
    @classmethod
    def _node_id(cls, value: str) -> str:
        if not NODE_ID.match(value):
            raise ValueError(f"{value!r} is not a pytest node id; write it as tests/test_feature.py::test_behaviour")
        return value


class Objection(Strict):
    criterion: str = Field(description="criterion id, or 'general' / 'coverage' for the contract as a whole")
    problem: str = Field(min_length=1)
    required_change: str = Field(min_length=1)


class Allowance(Strict):
    rule: str = Field(min_length=1, description="guard rule id (HG005) or name (test-selection-changed)")
    path: str = Field(min_length=1, description="path or glob the allowed change touches, e.g. pyproject.toml")
    reason: str = Field(min_length=1, description="why the issue needs this change")


class ContractProposal(Strict):
    criteria: list[Criterion] = Field(min_length=1)
    out_of_scope: list[str] = Field(default_factory=list)
    notes: str | None = None
    allow: list[Allowance] = Field(
        default_factory=list,
        description="changes the guards would otherwise refuse that this issue genuinely needs (e.g. editing "
        "test configuration, a protected path); the evaluator must agree to each",
    )

    @model_validator(mode="after")
    def _unique(self) -> ContractProposal:
        ids = [c.id for c in self.criteria]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"criterion ids must be unique; repeated: {', '.join(dupes)}")
        return self


class ContractReview(Strict):
    decision: Literal["accept", "revise"]
    objections: list[Objection] = Field(default_factory=list)

    @model_validator(mode="after")
    def _revise_needs_objections(self) -> ContractReview:
        if self.decision == "revise" and not self.objections:
            raise ValueError("decision 'revise' needs at least one objection saying what must change")
        return self


class NegotiationRound(Strict):
    round: int
    proposal: ContractProposal
    review: ContractReview | None = None
    reviewer: Literal["evaluator", "user"] = "evaluator"
    ruling: str | None = Field(default=None, description="a person's decision on an escalated contract")


class Contract(Strict):
    issue: str
    status: ContractStatus = "proposed"
    round: int = 0
    sha256: str | None = None
    criteria: list[Criterion] = Field(default_factory=list)
    out_of_scope: list[str] = Field(default_factory=list)
    notes: str | None = None
    allow: list[Allowance] = Field(default_factory=list)
    frozen_tests: dict[str, str] = Field(
        default_factory=dict, description="test files frozen after the evaluator accepted them: path -> sha256"
    )
    history: list[NegotiationRound] = Field(default_factory=list)

    def digest(self) -> str:
        """Hash of what was agreed (not of the negotiation history), recorded when the contract freezes."""
        return contract_digest(self.model_dump(mode="json"))

    @property
    def tests(self) -> list[str]:
        return list(dict.fromkeys(c.test for c in self.criteria))

    def propose(self, proposal: ContractProposal) -> Contract:
        history = [*self.history, NegotiationRound(round=self.round + 1, proposal=proposal)]
        return self.model_copy(
            update={
                "status": "negotiating" if self.round else "proposed",
                "round": self.round + 1,
                "criteria": proposal.criteria,
                "out_of_scope": proposal.out_of_scope,
                "notes": proposal.notes,
                "allow": proposal.allow,
                "history": history,
            }
        )

    def review(self, review: ContractReview, *, max_rounds: int) -> Contract:
        last = self.history[-1].model_copy(update={"review": review})
        status: ContractStatus
        if review.decision == "accept":
            status = "agreed"
        elif self.round >= max_rounds:
            status = "escalated"
        else:
            status = "negotiating"
        updated = self.model_copy(update={"history": [*self.history[:-1], last], "status": status})
        if status == "agreed":
            updated = updated.model_copy(update={"sha256": updated.digest()})
        return updated

    def settled_by_user(self, note: str | None = None) -> Contract:
        """A person accepts the last proposal of an escalated contract as it stands."""
        last = self.history[-1].model_copy(
            update={"review": ContractReview(decision="accept"), "reviewer": "user", "ruling": note}
        )
        agreed = self.model_copy(update={"history": [*self.history[:-1], last], "status": "agreed"})
        return agreed.model_copy(update={"sha256": agreed.digest()})

    def reopened(self, ruling: str) -> Contract:
        """A person settles the open objections in words; the negotiation continues for another round."""
        last = self.history[-1].model_copy(update={"ruling": ruling})
        return self.model_copy(update={"history": [*self.history[:-1], last], "status": "negotiating"})

    @property
    def open_objections(self) -> list[Objection]:
        last = self.history[-1].review if self.history else None
        return list(last.objections) if last and last.decision == "revise" else []


def render_contract(contract: Contract) -> str:
    """The contract file: the front matter is the contract; the body is a rendering for people."""
    lines = [f"# Done-contract for issue {contract.issue}", ""]
    lines += [f"Status: **{contract.status}** after {contract.round} round(s).", ""]
    if contract.sha256:
        lines += [f"Frozen: sha256 `{contract.sha256}`. Any change to the criteria is a guard violation.", ""]
    lines += ["## Criteria", ""]
    lines += [f"- **{c.id}** {c.behaviour}  \n  proved by `{c.test}`" for c in contract.criteria]
    if contract.out_of_scope:
        lines += ["", "## Out of scope", ""] + [f"- {item}" for item in contract.out_of_scope]
    if contract.allow:
        lines += ["", "## Allowed changes", ""]
        lines += [f"- `{a.rule}` on `{a.path}`: {a.reason}" for a in contract.allow]
    if contract.frozen_tests:
        lines += ["", "## Frozen tests", ""] + [f"- `{path}`" for path in sorted(contract.frozen_tests)]
    lines += ["", "## Negotiation", ""]
    for rnd in contract.history:
        lines.append(f"### Round {rnd.round}")
        lines.append("")
        lines.append("Proposed criteria: " + ", ".join(c.id for c in rnd.proposal.criteria))
        if rnd.proposal.notes:
            lines.append(f"Generator's notes: {rnd.proposal.notes}")
        if rnd.review is None:
            lines.append("Review: pending")
        else:
            by = " (by the user)" if rnd.reviewer == "user" else ""
            lines.append(f"Review: **{rnd.review.decision}**{by}")
            for o in rnd.review.objections:
                lines.append(f"- `{o.criterion}`: {o.problem} → required: {o.required_change}")
        if rnd.ruling:
            lines.append(f"User's ruling: {rnd.ruling}")
        lines.append("")
    meta = contract.model_dump(mode="json")
    return frontmatter.render(meta, "\n".join(lines))


def save_contract(path: Path, contract: Contract) -> None:
    atomic_write_text(path, render_contract(contract))


def load_contract(path: Path) -> Contract:
    doc = frontmatter.read(path)
    return _validate(Contract, doc.meta, path)


def parse_contract(text: str, path: Path) -> Contract:
    """A contract from its text (e.g. as committed), named by ``path`` in errors."""
    doc = frontmatter.parse(text, source=str(path))
    return _validate(Contract, doc.meta, path)


# --------------------------------------------------------------------------- verdict


class CriterionResult(Strict):
    id: str
    status: Literal["met", "unmet", "uncertain"]
    evidence: str = Field(min_length=1, description="what you checked and what you saw: file:line, test output")


class Finding(Strict):
    severity: Severity
    axis: Literal["spec", "standards"] = Field(
        default="standards",
        description="spec: the contract (unmet behaviour, scope creep, stubs); standards: the repo's conventions, "
        "docs and defects in the changed code",
    )
    path: str
    line: int | None = None
    message: str = Field(min_length=1)
    required_fix: str = Field(min_length=1)
    suggestion: str | None = Field(
        default=None,
        max_length=400,
        description="reviewer, optional: the exact text that replaces line `line` (at most 3 lines; empty deletes "
        "it), only when the fix is certain and that short; posted as a one-click GitHub suggestion",
    )


class Verdict(Strict):
    issue: str
    verdict: Literal["pass", "fail"]
    model_verdict: Literal["pass", "fail"]
    spec_verdict: Literal["pass", "fail"] = Field(description="every criterion met and no spec blocker")
    standards_verdict: Literal["pass", "fail"] = Field(description="no standards blocker")
    criteria: list[CriterionResult]
    findings: list[Finding] = Field(default_factory=list)
    met: int
    total: int
    overrides: list[str] = Field(default_factory=list, description="why the harness overrode the model's verdict")
    evidence: list[str] = Field(
        default_factory=list, description="what the harness checked itself: the oracle check, the evaluator's probes"
    )


def render_verdict(verdict: Verdict) -> str:
    lines = [f"# Verdict for issue {verdict.issue}: {verdict.verdict.upper()}", ""]
    lines += [f"Criteria met: {verdict.met}/{verdict.total}", ""]
    lines += [f"Spec: {verdict.spec_verdict}. Standards: {verdict.standards_verdict}.", ""]
    for o in verdict.overrides:
        lines.append(f"- harness override: {o}")
    if verdict.evidence:
        lines += ["", "## Checked by the harness", ""]
        lines += [f"- {e}" for e in verdict.evidence]
    lines += ["", "## Criteria", ""]
    lines += [f"- **{c.id}** {c.status}: {c.evidence}" for c in verdict.criteria]
    for axis in ("spec", "standards"):
        findings = [f for f in verdict.findings if f.axis == axis]
        if findings:
            lines += ["", f"## {axis.capitalize()} findings", ""]
            for f in findings:
                where = f"{f.path}:{f.line}" if f.line else f.path
                lines.append(f"- [{f.severity}] `{where}` {f.message} → fix: {f.required_fix}")
    return frontmatter.render(verdict.model_dump(mode="json"), "\n".join(lines))


# --------------------------------------------------------------------------- helpers


def _validate(model: type[Any], data: dict[str, Any], path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{path}: {describe_validation_error(exc)}", hint=hint_for(exc)) from exc


def export_schemas(directory: Path) -> list[Path]:
    """Write the JSON schema of each artifact to ``directory`` (contracts/ in this project)."""
    from harness.plan_models import Prd, Transcript  # they build on this module
    from harness.roles import ROLE_INPUTS

    written = []
    models: dict[str, type[BaseModel]] = {
        "issue": Issue,
        "contract": Contract,
        "verdict": Verdict,
        "prd": Prd,
        "grill": Transcript,
    }
    models.update({f"tool.{name}": m for name, m in ROLE_INPUTS.items()})
    for name, model in models.items():
        path = directory / f"{name}.schema.json"
        schema = model.model_json_schema()
        if model is Issue:
            # The body is the Markdown after the front matter, not a front matter field.
            for name in ("body", "slug"):
                schema["properties"].pop(name, None)
        atomic_write_text(path, json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
