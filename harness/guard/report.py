"""What ``harness guard`` prints: its findings as text, one JSON document, SARIF, or GitHub workflow commands.

Pure functions over a :class:`GuardReport`. The github format is for CI without a write token (a fork's pull
request): workflow commands on stdout become annotations on the diff, and need no token at all. Paths and messages
name what the change contains, so they are escaped as GitHub's toolkit does: no newline in them can end the
command and start another one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from harness.errors import EXIT_FAIL, EXIT_OK, UsageError
from harness.guard.model import GuardFinding
from harness.sanitize import code as _visible

__all__ = ["FORMATS", "GuardReport", "check_format", "render"]

FORMATS: Final = ("text", "json", "sarif", "github")


@dataclass(frozen=True)
class GuardReport:
    base: str  # full sha
    head: str | None  # full sha; None: the working tree
    files_changed: int
    findings: Sequence[GuardFinding]
    contract: str | None = None  # the contract that applied, as the reader knows it

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.blocking)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning" and f.allowed_by is None)

    @property
    def allowed(self) -> int:
        return sum(1 for f in self.findings if f.allowed_by is not None)

    @property
    def exit_code(self) -> int:
        return EXIT_FAIL if self.errors else EXIT_OK

    def counts(self) -> str:
        """The last line of the text output: what was found, over what."""
        span = f"{self.base[:12]}..{self.head[:12] if self.head else 'working tree'}"
        counts = f"{self.errors} error(s), {self.warnings} warning(s), {self.allowed} allowed"
        return f"{counts} — checked {self.files_changed} changed file(s) {span}"


def check_format(fmt: str, *, as_json: bool = False) -> str:
    """``--format`` (and the ``--json`` alias) as one of :data:`FORMATS`, or a usage error naming the option."""
    allowed = f"use {', '.join(FORMATS[:-1])} or {FORMATS[-1]}"
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: unknown format", hint=allowed)
    if as_json and fmt not in ("text", "json"):
        raise UsageError(f"--json is --format json, and --format {fmt} asks for another", hint=f"pass one: {allowed}")
    return "json" if as_json else fmt


def render(report: GuardReport, fmt: str) -> str:
    """``report`` in one of :data:`FORMATS`, ready for stdout (empty for github when nothing was found)."""
    return _RENDERERS[check_format(fmt)](report)


def _text(report: GuardReport) -> str:
    lines = []
    for f in report.findings:
        where = f"{f.path}:{f.line}" if f.line else f.path
        lines.append(f"{where}  {f.rule} {f.name} [{f.severity}]")
        lines.append("  " + f.message.replace("\n", "\n  "))
        lines.append("  fix: " + f.fix.replace("\n", "\n  "))
        if f.allowed_by is not None:
            lines.append(f"  allowed by contract: {f.allowed_by}")
    if report.contract is not None:
        lines.append(f"contract: {report.contract}")
    lines.append(report.counts())
    return "\n".join(lines) + "\n"


def _json(report: GuardReport) -> str:
    document = {
        "base": report.base,
        "head": report.head or "working tree",
        "files_changed": report.files_changed,
        "findings": [f.as_dict() for f in report.findings],
        "errors": report.errors,
        "warnings": report.warnings,
        "allowed": report.allowed,
    }
    return json.dumps(document, indent=2) + "\n"


def _sarif(report: GuardReport) -> str:
    from harness.review.formats import guard_sarif

    return json.dumps(guard_sarif(report), indent=2, ensure_ascii=True) + "\n"


def _github(report: GuardReport) -> str:
    return "".join(workflow_command(f) + "\n" for f in report.findings)


# ----------------------------------------------------------------------------------------------------
# github


def workflow_command(finding: GuardFinding) -> str:
    """``::error file=…,line=…,title=…::message`` for one finding: errors block, warnings warn, and what the
    contract allows is a notice (it never blocks)."""
    command = "notice" if finding.allowed_by is not None else finding.severity
    properties = [f"file={_property(finding.path)}"]
    if finding.line and finding.side == "head":  # an annotation sits on the head: a base line would point elsewhere
        properties.append(f"line={finding.line}")
    title = f"{finding.rule} {finding.name}" + (" (allowed)" if finding.allowed_by is not None else "")
    properties.append(f"title={_property(_visible(title))}")
    message = f"{finding.message.rstrip()}\n\nFix: {finding.fix.strip()}"
    if finding.allowed_by is not None:
        message += f"\n\nAllowed by the contract: {finding.allowed_by}"
    return f"::{command} {','.join(properties)}::{_data(_visible(message))}"


def _data(text: str) -> str:
    """A command's message, escaped as GitHub's toolkit does (``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """A command's property value (``escapeProperty``): also ``:`` and ``,``, which end a property."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


_RENDERERS: Final[dict[str, Callable[[GuardReport], str]]] = {
    "text": _text,
    "json": _json,
    "sarif": _sarif,
    "github": _github,
}
