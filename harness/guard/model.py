"""The plain data guards work on: what changed, what the contract froze and allows, what was found."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ChangeStatus = Literal["added", "modified", "deleted", "renamed"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    id: str  # "HG001"
    name: str  # "test-file-removed"
    severity: Severity
    summary: str  # one line: what it catches


@dataclass(frozen=True)
class FileChange:
    """One file's change between base and head. Texts are None when absent (added/deleted) or binary."""

    path: str  # repo-relative posix path at head (for a deleted file: its path at base)
    status: ChangeStatus
    old_text: str | None
    new_text: str | None
    old_path: str | None = None  # the base path of a renamed file
    # Why the head side cannot be read as text although the file exists there ("a symbolic link", "larger than
    # 1 MB", "binary", "not decodable text"); a test file like that hides what happened to its tests.
    unreadable: str | None = None


@dataclass(frozen=True)
class Allowance:
    """A change the agreed contract explicitly allows: findings of ``rule`` on paths matching ``path``."""

    rule: str  # a rule id ("HG005"), a rule name ("test-selection-changed"), or "*"
    path: str  # fnmatch pattern on the repo-relative path
    reason: str

    def covers(self, rule_id: str, rule_name: str, path: str) -> bool:
        return self.rule in (rule_id, rule_name, "*") and fnmatch.fnmatch(path, self.path)


@dataclass(frozen=True)
class GuardContext:
    """What the rules need beyond the diff. Every field has a safe default for a plain `harness guard`."""

    protected_paths: tuple[str, ...] = ()  # fnmatch patterns (config `protected_paths`)
    frozen_tests: Mapping[str, str] = field(default_factory=dict)  # path -> sha256 of the frozen content
    contract_path: str | None = None  # repo-relative path of the contract file
    contract_digest: str | None = None  # the agreed digest the contract must still have
    allowances: tuple[Allowance, ...] = ()
    harness_dir: str = ".harness"


@dataclass(frozen=True)
class GuardFinding:
    rule: str  # "HG004"
    name: str  # "skip-added"
    severity: Severity
    path: str
    line: int | None
    message: str  # what was seen, for a person or a model
    fix: str  # what to do instead
    allowed_by: str | None = None  # the contract allowance's reason, when the contract allows this change
    # Which side of the diff the finding is about: "base" for what is gone at head (a removed test, whose
    # ``line`` is its line at base; a deleted test file), so a review comments on the removed lines.
    side: Literal["head", "base"] = "head"

    @property
    def blocking(self) -> bool:
        return self.severity == "error" and self.allowed_by is None

    def summary(self) -> str:
        """One line for a reader (person or model): rule, status, place, what was seen."""
        status = f"allowed by the contract: {self.allowed_by}" if self.allowed_by else self.severity
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{self.rule} {self.name} [{status}] {where} {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
            "allowed_by": self.allowed_by,
            "blocking": self.blocking,
            "side": self.side,
        }
