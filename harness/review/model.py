"""The review report: what every output format renders. Plain data, JSON-serialisable."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from harness.guard.model import GuardFinding

Severity = Literal["blocker", "major", "minor"]
Axis = Literal["spec", "standards", "guard"]
FailOn = Literal["blocker", "major", "minor", "never"]
SEVERITY_RANK: dict[str, int] = {"minor": 1, "major": 2, "blocker": 3}
GUARD_SEVERITIES: dict[str, Severity] = {"error": "blocker", "warning": "minor"}  # how a review ranks guard findings
REPORT_VERSION = 1


def fingerprint(*parts: str) -> str:
    """A stable id for a finding: the same finding on a re-run gets the same id (no duplicate alerts)."""
    normalised = "\x1f".join(" ".join(p.split()).lower() for p in parts)
    return hashlib.sha256(normalised.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class ReviewFinding:
    source: Literal["guard", "model"]
    rule: str  # a guard rule id ("HG004") or "spec" / "standards" for the reviewer's findings
    name: str  # a guard rule name ("skip-added"), or the axis for the reviewer's findings
    severity: Severity  # guard errors are blockers, guard warnings minor
    axis: Axis
    path: str
    line: int | None
    message: str
    fix: str
    fingerprint: str
    allowed_by: str | None = None  # a guard finding the contract allows: reported, never blocking
    side: Literal["RIGHT", "LEFT"] = "RIGHT"  # LEFT: ``line`` is a line of the base (what the change removed)
    # on a line the change did not add or rewrite: there before it, reported apart, never blocking
    preexisting: bool = False
    # the exact replacement of ``line`` (empty: delete it), when the fix is certain and short: a GitHub suggestion
    suggestion: str | None = None


def from_guard(finding: GuardFinding) -> ReviewFinding:
    """A guard finding as a review reports it: its severity ranked, a stable fingerprint, and the base side
    (LEFT) for what the change removed."""
    return ReviewFinding(
        source="guard",
        rule=finding.rule,
        name=finding.name,
        severity=GUARD_SEVERITIES[finding.severity],
        axis="guard",
        path=finding.path,
        line=finding.line,
        message=finding.message,
        fix=finding.fix,
        fingerprint=fingerprint("guard", finding.rule, finding.path, finding.message),
        allowed_by=finding.allowed_by,
        side="LEFT" if finding.side == "base" else "RIGHT",
    )


@dataclass(frozen=True)
class CriterionReview:
    id: str
    behaviour: str
    status: Literal["met", "unmet", "uncertain"]
    evidence: str


@dataclass
class ReviewReport:
    base: str  # full sha
    head: str  # full sha
    spec_source: Literal["contract", "spec", "none"]
    spec_ref: str | None = None  # the contract path or the --spec file
    issue: str | None = None
    verdict: Literal["pass", "fail"] | None = None  # None: the review could not run
    model_verdict: Literal["pass", "fail"] | None = None
    criteria: list[CriterionReview] = field(default_factory=list)
    findings: list[ReviewFinding] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    summary_review: bool = False  # the diff was too large; the reviewer saw a summary, not every line
    summary_reason: str | None = None
    could_not_run: str | None = None  # why the model review did not run (guard findings are still reported)
    files_changed: int = 0
    lines_changed: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    tokens: dict[str, int] = field(default_factory=dict)
    commentable: dict[str, list[list[int]]] = field(
        default_factory=dict
    )  # path -> [[first, last], ...] RIGHT-side lines in the diff
    commentable_left: dict[str, list[list[int]]] = field(default_factory=dict)  # the same for LEFT (base) lines
    fail_on: FailOn = "blocker"
    exit_code: int = 0
    incremental_since: str | None = None  # the earlier reviewed head the model's diff started from

    @property
    def met(self) -> int:
        return sum(1 for c in self.criteria if c.status == "met")

    def blocking(self) -> list[ReviewFinding]:
        """Findings at or above the fail level (allowed guard findings never block)."""
        if self.fail_on == "never":
            return []
        level = SEVERITY_RANK[self.fail_on]
        return [
            f
            for f in self.findings
            if f.allowed_by is None and not f.preexisting and SEVERITY_RANK[f.severity] >= level
        ]

    def in_diff(self, path: str, line: int | None, side: str = "RIGHT") -> bool:
        """Whether a comment on ``path:line`` (of the head, or of the base for ``side="LEFT"``) can be attached
        to the pull request's diff."""
        if line is None:
            return False
        ranges = self.commentable if side == "RIGHT" else self.commentable_left
        return any(first <= line <= last for first, last in ranges.get(path, []))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReviewReport:
        """A report written by ``to_dict`` (e.g. by the review job, for a publish job that runs no model)."""
        if data.get("version") != REPORT_VERSION:
            raise ValueError(f"unsupported review report version {data.get('version')!r} (expected {REPORT_VERSION})")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["criteria"] = [CriterionReview(**_known(CriterionReview, c)) for c in data.get("criteria", [])]
        values["findings"] = [ReviewFinding(**_known(ReviewFinding, f)) for f in data.get("findings", [])]
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = REPORT_VERSION
        data["met"] = self.met
        return data


def _known(cls: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``data`` that ``cls`` has: reports from a newer harness still load."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
