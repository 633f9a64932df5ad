"""Renderings of a :class:`ReviewReport`: text, markdown, json, sarif and a GitHub pull-request review.

Every function here is pure. Text from the model (messages, fixes, evidence, behaviours) and from the
pull request (paths) is untrusted: the terminal view makes control and invisible characters visible, the
Markdown views escape HTML and Markdown syntax and break ``@mentions``, so nothing the model writes can
inject markup, hide text, ping people or forge the hidden markers the poster relies on.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any, Final

from harness import __version__
from harness.errors import UsageError
from harness.review.model import SEVERITY_RANK, CriterionReview, ReviewFinding, ReviewReport, fingerprint
from harness.sanitize import code as _visible

__all__ = [
    "FINGERPRINT_MARKER",
    "FORMATS",
    "MAX_COMMENT_CHARS",
    "SARIF_SCHEMA_URI",
    "SUMMARY_MARKER",
    "render",
    "render_markdown",
    "render_text",
    "to_github_review",
    "to_json",
    "to_sarif",
]

FORMATS: Final = ("text", "markdown", "json", "sarif", "github")
SUMMARY_MARKER: Final = "<!-- harness:summary -->"
FINGERPRINT_MARKER: Final = re.compile(r"<!-- harness:fp=([0-9a-f]+) -->")
MAX_COMMENT_CHARS: Final = 65_536  # GitHub refuses a longer comment or review body (422)
SARIF_SCHEMA_URI: Final = "https://json.schemastore.org/sarif-2.1.0.json"

_FIELD_CHARS = 4_000  # one message, fix or evidence in a summary: the whole text is in json and sarif
_INLINE_FIELD_CHARS = 30_000  # one message or fix in an inline comment
_AXES: tuple[tuple[str, str], ...] = (("spec", "Spec"), ("standards", "Standards"), ("guard", "Guards"))
_AXIS_RULES = {"spec": "harness/spec", "standards": "harness/standards"}
_AXIS_DESCRIPTIONS = {
    "harness/spec": "The change does not do what the spec (the agreed contract or the pull request's description) asks",
    "harness/standards": "The change falls short of the project's engineering standards",
}
_SARIF_LEVELS = {"blocker": "error", "major": "warning", "minor": "note"}
_EXIT_MEANINGS = {
    0: "pass: the verdict is pass and no finding reaches the fail level",
    1: "fail: the verdict is fail, or a finding reaches the fail level",
    2: "usage, configuration or input error",
    3: "could not complete: the review did not run, so it cannot pass; fix the cause and re-run",
}
_HEX = re.compile(r"[0-9a-f]{1,64}")
_CODE_SAFE = re.compile(r"[A-Za-z0-9_./+:,=@ -]+")
_MENTION = re.compile(r"@(?=\w)")
_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # "_" between letters or digits never emphasises
_SARIF_BRACKET = re.compile(r"(\\*)([\[\]])")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MD_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "[": "\\[",
        "]": "\\]",
        "|": "\\|",
        "~": "\\~",
        "$": "\\$",  # GitHub renders $…$ as maths
        "\t": " ",
    }
)


# ----------------------------------------------------------------------------------------------------
# Shared pieces


def _safe_fingerprint(value: str) -> str:
    """The finding's fingerprint when it is the lowercase hex ``fingerprint()`` makes, else a hash of it: it is
    written into HTML comments and SARIF, so it must never carry markup."""
    return value if _HEX.fullmatch(value) else fingerprint("fingerprint", value)


def _marker(value: str) -> str:
    return f"<!-- harness:fp={_safe_fingerprint(value)} -->"


def _criterion_fingerprint(criterion: CriterionReview) -> str:
    return fingerprint("criterion", criterion.id, criterion.behaviour)


def _plain(text: str) -> str:
    """Untrusted text for a terminal: line breaks normalised, control and invisible characters made visible."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _SURROGATE.sub("\ufffd", _visible(text)).replace("\t", "    ")


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def _md(text: str, limit: int = _FIELD_CHARS) -> str:
    """Untrusted text as inert inline Markdown: no HTML, no emphasis, links, code or tables, no mentions."""
    text = _UNDERSCORE.sub(r"\\_", _plain(_clip(text, limit)).translate(_MD_ESCAPES))
    return _MENTION.sub("@\u200b", text).replace("\n", "<br>")


def _code(text: str) -> str:
    """A path or an id as a code span when that is safe (a code span shows backslash escapes literally)."""
    return f"`{text}`" if _CODE_SAFE.fullmatch(text) else _md(text)


def _location(finding: ReviewFinding) -> str:
    if not finding.path:
        return ""
    return f"{finding.path}:{finding.line}" if finding.line is not None else finding.path


def _verdict_word(report: ReviewReport) -> str:
    if report.verdict is None:
        return "COULD NOT RUN"
    return report.verdict.upper()


def _ordered(findings: Iterable[ReviewFinding]) -> list[ReviewFinding]:
    return sorted(
        findings, key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), f.path, f.line or 0, f.rule, f.fingerprint)
    )


def _by_axis(report: ReviewReport, axis: str, findings: Iterable[ReviewFinding] | None = None) -> list[ReviewFinding]:
    return _ordered(f for f in (report.findings if findings is None else findings) if f.axis == axis)


def _blocking_fingerprints(report: ReviewReport) -> set[str]:
    return {f.fingerprint for f in report.blocking()}


def _severity_note(finding: ReviewFinding, blocking: set[str]) -> str:
    if finding.allowed_by is not None:
        return f"{finding.severity}, allowed"
    return f"{finding.severity}, blocks" if finding.fingerprint in blocking else finding.severity


def _spec_line(report: ReviewReport) -> str:
    if report.spec_source == "contract":
        return f"the agreed contract {report.spec_ref or ''}".rstrip()
    if report.spec_source == "spec":
        return f"{report.spec_ref or 'the given spec'} (--spec)"
    return "none: no contract or spec, so no acceptance criteria were checked"


def _summary_review_note(report: ReviewReport) -> str:
    reason = f" ({report.summary_reason})" if report.summary_reason else ""
    return f"the diff was too large for a line-by-line review{reason}; the reviewer saw a summary, not every line"


def _cost_line(report: ReviewReport) -> str:
    cost = f"${report.cost_usd:.4f}" if report.cost_known else f"unknown (at least ${report.cost_usd:.4f} counted)"
    tokens = ", ".join(f"{name} {count:,}" for name, count in report.tokens.items())
    return f"{cost}; tokens: {tokens}" if tokens else cost


def _exit_line(report: ReviewReport) -> str:
    meaning = _EXIT_MEANINGS.get(report.exit_code, "unexpected exit code")
    return f"exit {report.exit_code}: {meaning} (fail level: {report.fail_on})"


def _change_line(report: ReviewReport) -> str:
    parts = [f"{report.base[:12]}..{report.head[:12]}"]
    if report.issue:
        parts.append(f"issue {report.issue}")
    parts.append(f"{report.files_changed:,} files, {report.lines_changed:,} lines changed")
    return " · ".join(parts)


# ----------------------------------------------------------------------------------------------------
# text


def _indent(text: str, prefix: str) -> str:
    return text.replace("\n", "\n" + prefix)


def render_text(report: ReviewReport) -> str:
    """The terminal view."""
    blocking = _blocking_fingerprints(report)
    lines = [f"harness review: {_verdict_word(report)}"]
    if report.could_not_run:
        lines.append(f"  could not run: {_indent(_plain(report.could_not_run), '    ')}")
    lines.append(f"  {_plain(_change_line(report))}")
    lines.append(f"  spec: {_plain(_spec_line(report))}")
    if report.summary_review:
        lines.append(f"  note: summary review: {_plain(_summary_review_note(report))}")

    lines.append(f"criteria met {report.met}/{len(report.criteria)}")
    width = max((len(c.id) for c in report.criteria), default=0)
    for criterion in report.criteria:
        status = criterion.status if criterion.status != "unmet" else "UNMET"
        lines.append(f"  {status:<9} {_plain(criterion.id):<{width}}  {_indent(_plain(criterion.behaviour), '    ')}")
        if criterion.status != "met" and criterion.evidence:
            lines.append(f"  {'':<9} {'':<{width}}  evidence: {_indent(_plain(criterion.evidence), '    ')}")

    for axis, _ in _AXES:
        findings = _by_axis(report, axis)
        lines.append(f"{axis} findings: {len(findings) or 'none'}")
        for finding in findings:
            rule = f"{finding.rule} {finding.name}  " if axis == "guard" else ""
            where = _plain(_location(finding)) or "(no file)"
            lines.append(
                f"  {_severity_note(finding, blocking):<16} {_plain(rule)}{where}  "
                f"{_indent(_plain(finding.message), '      ')}"
            )
            if finding.allowed_by is not None:
                lines.append(f"      allowed by the contract: {_indent(_plain(finding.allowed_by), '      ')}")
            if finding.fix:
                lines.append(f"      fix: {_indent(_plain(finding.fix), '      ')}")

    if report.model_verdict is not None and report.model_verdict != report.verdict:
        lines.append(f"the reviewer said {report.model_verdict}; the harness says {report.verdict or 'could not run'}")
    for override in report.overrides:
        lines.append(f"override: {_indent(_plain(override), '  ')}")
    lines.append(f"cost: {_cost_line(report)}")
    lines.append(_exit_line(report))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------------
# markdown


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out.extend("| " + " | ".join(cell or " " for cell in row) + " |" for row in rows)
    return out


def _md_head(report: ReviewReport) -> list[str]:
    """Heading, banners and criteria: the part the step summary and the pull-request summary share."""
    lines = [f"## harness review: {_verdict_word(report)}", ""]
    if report.could_not_run:
        lines += [
            "> [!WARNING]",
            f"> **The review could not run:** {_md(report.could_not_run)}<br>"
            "Guard findings are still reported below; a review that could not run never passes.",
            "",
        ]
    lines += [f"{_md(_change_line(report))}<br>Spec: {_md(_spec_line(report))}", ""]
    if report.summary_review:
        lines += ["> [!NOTE]", f"> **Summary review:** {_md(_summary_review_note(report))}.", ""]
    lines += [f"Criteria met: {report.met}/{len(report.criteria)}", ""]
    if report.criteria:
        rows = [
            [_md(c.id), c.status if c.status == "met" else f"**{c.status}**", _md(c.behaviour), _md(c.evidence)]
            for c in report.criteria
        ]
        lines += [*_table(["id", "status", "behaviour", "evidence"], rows), ""]
    return lines + _md_overrides(report)


def _md_overrides(report: ReviewReport) -> list[str]:
    lines: list[str] = []
    if report.model_verdict is not None and report.model_verdict != report.verdict:
        lines += [
            f"The reviewer said {report.model_verdict}; the harness says {report.verdict or 'could not run'}.",
            "",
        ]
    if report.overrides:
        lines += ["Harness overrides:", "", *(f"- {_md(o)}" for o in report.overrides), ""]
    return lines


def _md_tail(report: ReviewReport) -> list[str]:
    return [f"Cost: {_md(_cost_line(report))}<br>", f"Exit code {_md(_exit_line(report).removeprefix('exit '))}"]


def _md_where(finding: ReviewFinding) -> str:
    where = _location(finding)
    return _code(where) if where else "(no file)"


def _md_finding_text(finding: ReviewFinding, limit: int = _FIELD_CHARS) -> str:
    text = _md(finding.message, limit)
    if finding.allowed_by is not None:
        text += f"<br>Allowed by the contract: {_md(finding.allowed_by, limit)}"
    return text


def _md_findings_table(report: ReviewReport, axis: str) -> list[str]:
    findings = _by_axis(report, axis)
    if not findings:
        return ["No findings.", ""]
    blocking = _blocking_fingerprints(report)
    guard = axis == "guard"
    header = ["severity", *(["rule"] if guard else []), "location", "finding", "fix"]
    rows = [
        [
            _severity_note(f, blocking),
            *([f"{_md(f.rule)} {_md(f.name)}"] if guard else []),
            _md_where(f),
            _md_finding_text(f),
            _md(f.fix),
        ]
        for f in findings
    ]
    return [*_table(header, rows), ""]


def render_markdown(report: ReviewReport) -> str:
    """GitHub-flavoured Markdown (the step summary): spec, standards and guards kept apart."""
    lines = _md_head(report)
    for axis, title in _AXES:
        lines += [f"### {title}", "", *_md_findings_table(report, axis)]
    lines += _md_tail(report)
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------------
# json


def to_json(report: ReviewReport) -> dict[str, Any]:
    """The stable document (``contracts/review.schema.json``): the report plus the blocking fingerprints."""
    data = report.to_dict()
    return {"version": data.pop("version"), **data, "blocking": [f.fingerprint for f in report.blocking()]}


# ----------------------------------------------------------------------------------------------------
# sarif


def _rule_id(finding: ReviewFinding) -> str:
    if finding.source == "guard" or finding.axis == "guard":
        return finding.rule
    return _AXIS_RULES.get(finding.axis, f"harness/{finding.axis}")


def _guard_summary(rule_id: str) -> str | None:
    from harness.guard.rules import RULES

    rule = RULES.get(rule_id)
    return rule.summary if rule is not None else None


def _sarif_rule(rule_id: str, finding: ReviewFinding | None) -> dict[str, Any]:
    if rule_id in _AXIS_DESCRIPTIONS:
        name = rule_id.split("/", 1)[1]
        description = _AXIS_DESCRIPTIONS[rule_id]
        tags = ["harness", name]
    else:
        name = finding.name if finding is not None else rule_id
        description = _guard_summary(rule_id) or f"harness guard {rule_id} ({name})"
        tags = ["harness", "guard"]
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": description},
        "properties": {"tags": tags},
    }


def _repo_uri(path: str) -> str | None:
    """A repo-relative path as a SARIF URI reference, or None when it cannot name a file in the repository."""
    posix = path.replace("\\", "/")
    while posix.startswith("./"):
        posix = posix[2:]
    if not posix or posix.startswith("/") or "://" in posix or re.match(r"[A-Za-z]:/", posix):
        return None
    return urllib.parse.quote(posix, safe="/")


def _sarif_location(path: str, line: int | None) -> list[dict[str, Any]]:
    uri = _repo_uri(path)
    if uri is None:
        return []
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
    if line is not None and line >= 1:
        physical["region"] = {"startLine": line}
    return [{"physicalLocation": physical}]


def _sarif_literal(text: str) -> str:
    """Plain text for a SARIF message: brackets escaped (SARIF §3.11.6), so that no ``[text](target)`` the model
    wrote becomes an embedded link, and backslashes before them doubled."""
    return _SARIF_BRACKET.sub(lambda m: m.group(1) * 2 + "\\" + m.group(2), text)


def _sarif_text(message: str, fix: str, allowed_by: str | None = None) -> str:
    text = _sarif_literal(message.strip()) or "(no message)"
    if fix.strip():
        text += f"\n\nFix: {_sarif_literal(fix.strip())}"
    if allowed_by is not None:
        text += f"\n\nAllowed by the contract: {_sarif_literal(allowed_by)}"
    return text


def to_sarif(report: ReviewReport) -> dict[str, Any]:
    """SARIF 2.1.0 for GitHub code scanning; ``partialFingerprints`` keep alerts stable across re-runs."""
    blocking = _blocking_fingerprints(report)
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []

    def rule_index(rule_id: str, finding: ReviewFinding | None) -> int:
        if rule_id not in rules:
            rules[rule_id] = _sarif_rule(rule_id, finding)
        return list(rules).index(rule_id)

    spec_uri_path = report.spec_ref if report.spec_source != "none" and report.spec_ref else ""
    for criterion in report.criteria:
        if criterion.status == "met":
            continue
        result: dict[str, Any] = {
            "ruleId": "harness/spec",
            "ruleIndex": rule_index("harness/spec", None),
            "level": "error",
            "message": {
                "text": _sarif_literal(
                    f"Acceptance criterion {criterion.id} is {criterion.status}: {criterion.behaviour}"
                    + (f"\n\nEvidence: {criterion.evidence}" if criterion.evidence else "")
                )
            },
            "partialFingerprints": {"harnessFinding/v1": _criterion_fingerprint(criterion)},
            "properties": {"criterion": criterion.id, "status": criterion.status, "axis": "spec"},
        }
        locations = _sarif_location(spec_uri_path, None)
        if locations:
            result["locations"] = locations
        results.append(result)

    for finding in _ordered(report.findings):
        rule_id = _rule_id(finding)
        result = {
            "ruleId": rule_id,
            "ruleIndex": rule_index(rule_id, finding),
            "level": _SARIF_LEVELS.get(finding.severity, "warning"),
            "message": {"text": _sarif_text(finding.message, finding.fix, finding.allowed_by)},
            "partialFingerprints": {"harnessFinding/v1": _safe_fingerprint(finding.fingerprint)},
            "properties": {
                "severity": finding.severity,
                "axis": finding.axis,
                "source": finding.source,
                "blocking": finding.fingerprint in blocking,
            },
        }
        locations = _sarif_location(finding.path, finding.line)
        if locations:
            result["locations"] = locations
        if finding.allowed_by is not None:
            result["suppressions"] = [{"kind": "external", "justification": finding.allowed_by}]
        results.append(result)

    invocation: dict[str, Any] = {"executionSuccessful": report.could_not_run is None}
    notifications = []
    if report.could_not_run:
        notifications.append(
            {"level": "error", "message": {"text": f"The review could not run: {report.could_not_run}"}}
        )
    if report.summary_review:
        notifications.append(
            {"level": "warning", "message": {"text": f"Summary review: {_summary_review_note(report)}"}}
        )
    if notifications:
        invocation["toolExecutionNotifications"] = notifications

    run: dict[str, Any] = {
        "tool": {"driver": {"name": "harness", "version": __version__, "rules": list(rules.values())}},
        "invocations": [invocation],
        "results": results,
        "properties": {
            "base": report.base,
            "head": report.head,
            "verdict": report.verdict,
            "modelVerdict": report.model_verdict,
            "criteriaMet": report.met,
            "criteriaTotal": len(report.criteria),
            "specSource": report.spec_source,
            "summaryReview": report.summary_review,
            "exitCode": report.exit_code,
        },
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}


# ----------------------------------------------------------------------------------------------------
# github


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, never inside an entity, a tag or after a lone backslash."""
    text = text[: max(0, limit)]
    for opener, closer in (("&", ";"), ("<", ">")):
        start = text.rfind(opener)
        if start != -1 and text.find(closer, start) == -1:
            text = text[:start]
    if (len(text) - len(text.rstrip("\\"))) % 2:
        text = text[:-1]
    return text


def _fit_comment(body: str, marker: str) -> str:
    tail = f"\n\n{marker}"
    if len(body) + len(tail) <= MAX_COMMENT_CHARS:
        return body + tail
    note = "<br>… (truncated: the full finding is in the review's json and sarif output)"
    return _cut(body, MAX_COMMENT_CHARS - len(tail) - len(note)) + note + tail


def _fit_body(head: list[str], middle: list[str], tail: list[str]) -> str:
    """The summary under GitHub's limit: whole lines of the middle are dropped from its end, with a note."""
    text = "\n".join([*head, *middle])
    ending = "\n".join(["", *tail]) + "\n"
    if len(text) + len(ending) <= MAX_COMMENT_CHARS:
        return text + ending
    note = "\n\n… (truncated: GitHub limits a comment's length; the full report is in the json and sarif output)\n"
    budget = MAX_COMMENT_CHARS - len(ending) - len(note)
    cut = text[:budget]
    if "\n" in cut:
        cut = cut[: cut.rindex("\n")]
    return cut + note + ending


def _inline_comment(finding: ReviewFinding, blocking: set[str]) -> dict[str, Any]:
    title = dict(_AXES).get(finding.axis, finding.axis)
    rule = f" · {_md(finding.rule)} {_md(finding.name)}" if finding.axis == "guard" else ""
    parts = [
        f"**{_severity_note(finding, blocking)}** · {title}{rule} · harness review",
        _md_finding_text(finding, _INLINE_FIELD_CHARS),
    ]
    if finding.fix:
        parts.append(f"**Fix:** {_md(finding.fix, _INLINE_FIELD_CHARS)}")
    return {
        "path": finding.path,
        "line": finding.line,
        "side": "RIGHT",
        "body": _fit_comment("\n\n".join(parts), _marker(finding.fingerprint)),
    }


def _outside_item(finding: ReviewFinding, blocking: set[str]) -> str:
    rule = f"{_md(finding.rule)} {_md(finding.name)} · " if finding.axis == "guard" else ""
    fix = f"<br>**Fix:** {_md(finding.fix)}" if finding.fix else ""
    return (
        f"- **{_severity_note(finding, blocking)}** · {rule}{_md_where(finding)} · "
        f"{_md_finding_text(finding)}{fix} {_marker(finding.fingerprint)}"
    )


def to_github_review(report: ReviewReport, *, commit_id: str | None = None) -> dict[str, Any]:
    """The body of ``POST /repos/{owner}/{repo}/pulls/{n}/reviews``: inline comments only on lines the diff
    shows (one comment elsewhere and GitHub rejects the whole review); every other finding in the body."""
    blocking = _blocking_fingerprints(report)
    inline = [f for f in _ordered(report.findings) if report.in_diff(f.path, f.line)]
    inline.sort(key=lambda f: (f.path, f.line or 0))
    inline_ids = {id(f) for f in inline}
    outside = [f for f in report.findings if id(f) not in inline_ids]

    middle = ["### Inline comments", ""]
    if inline:
        counts = ", ".join(f"{title} {sum(1 for f in inline if f.axis == axis)}" for axis, title in _AXES)
        middle += [f"{len(inline)} finding{'s' if len(inline) != 1 else ''} commented on the diff ({counts}).", ""]
    else:
        middle += ["None: no finding is on a line the diff shows.", ""]
    middle += ["### Findings outside the diff", ""]
    if outside:
        middle += ["On lines the pull request's diff does not show, or on no line, so not commentable inline.", ""]
        for axis, title in _AXES:
            findings = _by_axis(report, axis, outside)
            if findings:
                middle += [f"#### {title}", "", *(_outside_item(f, blocking) for f in findings), ""]
    else:
        middle += ["None.", ""]

    payload: dict[str, Any] = {}
    sha = commit_id or report.head
    if sha:
        payload["commit_id"] = sha
    payload["body"] = _fit_body([SUMMARY_MARKER, *_md_head(report)], middle, _md_tail(report))
    payload["event"] = "REQUEST_CHANGES" if report.exit_code == 1 else "COMMENT"
    payload["comments"] = [_inline_comment(f, blocking) for f in inline]
    return payload


# ----------------------------------------------------------------------------------------------------


def _pretty(data: dict[str, Any]) -> str:
    # ASCII escapes keep the document writable whatever a path's bytes were (os.fsdecode surrogates)
    return json.dumps(data, indent=2, ensure_ascii=True)


_RENDERERS: dict[str, Callable[[ReviewReport], str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "json": lambda report: _pretty(to_json(report)),
    "sarif": lambda report: _pretty(to_sarif(report)),
    "github": lambda report: _pretty(to_github_review(report)),
}


def render(report: ReviewReport, fmt: str) -> str:
    """``report`` in one of :data:`FORMATS`; json, sarif and github as pretty-printed JSON."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise UsageError(f"unknown review format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    return renderer(report)
