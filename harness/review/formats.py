"""Renderings of a :class:`ReviewReport`: text, markdown, json, sarif and a GitHub pull-request review; and the
SARIF of a plain guard run (``harness guard --format sarif``), built from the same rules and results.

Every function here is pure. Text from the model (messages, fixes, evidence, behaviours) and from the
pull request (paths) is untrusted: the terminal view makes control and invisible characters visible, the
Markdown views escape HTML and Markdown syntax and break ``@mentions``, so nothing the model writes can
inject markup, hide text, ping people or forge the hidden markers the poster relies on.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final

from harness import __version__
from harness.errors import UsageError
from harness.guard.model import Rule
from harness.review.model import (
    GUARD_SEVERITIES,
    SEVERITY_RANK,
    CriterionReview,
    ReviewFinding,
    ReviewReport,
    fingerprint,
    from_guard,
)
from harness.sanitize import code as _visible

if TYPE_CHECKING:
    from harness.guard.report import GuardReport

__all__ = [
    "DOCS_URL",
    "FINGERPRINT_MARKER",
    "FORMATS",
    "GUARD_SEVERITIES",
    "MAX_COMMENT_CHARS",
    "REPOSITORY_URL",
    "REVIEW_MARKER",
    "SARIF_SCHEMA_URI",
    "STATE_MARKER",
    "SUMMARY_MARKER",
    "guard_sarif",
    "parse_state",
    "render",
    "render_markdown",
    "render_text",
    "state_marker",
    "to_github_review",
    "to_json",
    "to_sarif",
]

FORMATS: Final = ("text", "markdown", "json", "sarif", "github")
SUMMARY_MARKER: Final = "<!-- harness:summary -->"
FINGERPRINT_MARKER: Final = re.compile(r"<!-- harness:fp=([0-9a-f]+) -->")
REVIEW_MARKER: Final = "<!-- harness:review -->"  # in the body of every review the harness creates
# The sticky summary's memory for the next push: the head it reviewed and its model findings (base64 JSON, so
# nothing in a finding can end the HTML comment).
STATE_MARKER: Final = re.compile(r"<!-- harness:state ([A-Za-z0-9+/=]+) -->")
MAX_STATE_FINDINGS: Final = 50
_STATE_CHARS = 16_000  # the encoded state, at most
_STATE_FIELD_CHARS = 600  # a remembered finding's message or fix
MAX_COMMENT_CHARS: Final = 65_536  # GitHub refuses a longer comment or review body (422)
SARIF_SCHEMA_URI: Final = "https://json.schemastore.org/sarif-2.1.0.json"
# Where code scanning sends a reader who asks "what is this rule, how do I fix it": the repository harness was
# installed from (pip records it, PEP 610: the CI workflow installs a pinned commit of a GitHub repository), at
# that commit; otherwise a placeholder that says so, like the workflow's own before it is filled in.
_PLACEHOLDER_REPOSITORY = "https://github.com/OWNER/REPO"


def _installed_from() -> tuple[str, str]:
    """(repository URL, ref) of the GitHub repository this harness was installed from; the placeholder and
    ``main`` when it was installed otherwise (from a local checkout, a wheel)."""
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        raw = distribution("harness-tdd").read_text("direct_url.json")
    except (ImportError, PackageNotFoundError, OSError):
        return _PLACEHOLDER_REPOSITORY, "main"
    try:
        source = json.loads(raw or "{}")
    except ValueError:
        return _PLACEHOLDER_REPOSITORY, "main"
    url = str(source.get("url") or "") if isinstance(source, dict) else ""
    commit = str((source.get("vcs_info") or {}).get("commit_id") or "") if isinstance(source, dict) else ""
    match = re.fullmatch(r"(https://github\.com/[\w.-]+/[\w.-]+?)(?:\.git)?/?", url)
    if match is None or not re.fullmatch(r"[0-9a-f]{40}", commit):
        return _PLACEHOLDER_REPOSITORY, "main"
    return match.group(1), commit


REPOSITORY_URL, _DOCS_REF = _installed_from()
DOCS_URL: Final = f"{REPOSITORY_URL}/blob/{_DOCS_REF}/docs"

_FIELD_CHARS = 4_000  # one message, fix or evidence in a summary: the whole text is in json and sarif
_INLINE_FIELD_CHARS = 30_000  # one message or fix in an inline comment
_AXES: tuple[tuple[str, str], ...] = (("spec", "Spec"), ("standards", "Standards"), ("guard", "Guards"))
_PREEXISTING = "pre-existing"
# the sections a report shows: the three axes, then what the change did not introduce
_SECTIONS: tuple[tuple[str, str], ...] = (
    *_AXES,
    (_PREEXISTING, "Pre-existing (not introduced by this change; never blocks)"),
)
_AXIS_RULES = {"spec": "harness/spec", "standards": "harness/standards"}
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


def state_marker(report: ReviewReport) -> str:
    """What the next review of the pull request starts from (see :func:`parse_state`)."""
    findings = [
        {**asdict(f), "message": f.message[:_STATE_FIELD_CHARS], "fix": f.fix[:_STATE_FIELD_CHARS]}
        for f in report.findings
        if f.source == "model"
    ][:MAX_STATE_FINDINGS]
    while True:  # bounded: the summary's own text must keep most of GitHub's 65,536 characters
        state = {"head": report.head, "findings": findings}
        encoded = base64.b64encode(json.dumps(state, ensure_ascii=True).encode()).decode()
        if len(encoded) <= _STATE_CHARS or not findings:
            return f"<!-- harness:state {encoded} -->"
        findings = findings[:-1]


def parse_state(body: str) -> dict[str, Any]:
    """The state a sticky summary carries; empty when it has none or it cannot be read (a person edited it)."""
    found = STATE_MARKER.findall(body)
    if not found:
        return {}
    try:
        state = json.loads(base64.b64decode(found[-1], validate=True))
    except (ValueError, UnicodeDecodeError):
        return {}
    return state if isinstance(state, dict) else {}


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


def _ordering(finding: ReviewFinding) -> tuple[int, str, int, str, str]:
    return (-SEVERITY_RANK.get(finding.severity, 0), finding.path, finding.line or 0, finding.rule, finding.fingerprint)


def _ordered(findings: Iterable[ReviewFinding]) -> list[ReviewFinding]:
    return sorted(findings, key=_ordering)


def _by_axis(report: ReviewReport, axis: str, findings: Iterable[ReviewFinding] | None = None) -> list[ReviewFinding]:
    """The findings of ``axis``; the pseudo-axis ``pre-existing`` holds those on lines the change did not add
    (reported apart from the three axes, never blocking)."""
    chosen = report.findings if findings is None else findings
    if axis == _PREEXISTING:
        return _ordered(f for f in chosen if f.preexisting)
    return _ordered(f for f in chosen if f.axis == axis and not f.preexisting)


def _blocking_fingerprints(report: ReviewReport) -> set[str]:
    return {f.fingerprint for f in report.blocking()}


def _severity_note(finding: ReviewFinding, blocking: set[str]) -> str:
    if finding.allowed_by is not None:
        return f"{finding.severity}, allowed"
    if finding.preexisting:
        return f"{finding.severity}, pre-existing"
    return f"{finding.severity}, blocks" if finding.fingerprint in blocking else finding.severity


def _spec_line(report: ReviewReport) -> str:
    if report.spec_source == "contract":
        return f"the agreed contract {report.spec_ref or ''}".rstrip()
    if report.spec_source == "spec":
        return f"{report.spec_ref or 'the given spec'} (--spec)"
    return "none: no contract and no description, so there are no acceptance criteria"


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

    if report.criteria:
        lines.append(f"criteria met {report.met}/{len(report.criteria)}")
    width = max((len(c.id) for c in report.criteria), default=0)
    for criterion in report.criteria:
        status = criterion.status if criterion.status != "unmet" else "UNMET"
        lines.append(f"  {status:<9} {_plain(criterion.id):<{width}}  {_indent(_plain(criterion.behaviour), '    ')}")
        if criterion.status != "met" and criterion.evidence:
            lines.append(f"  {'':<9} {'':<{width}}  evidence: {_indent(_plain(criterion.evidence), '    ')}")

    for axis, _ in _SECTIONS:
        findings = _by_axis(report, axis)
        if axis == _PREEXISTING and not findings:
            continue
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
    if report.criteria:
        lines += [f"Criteria met: {report.met}/{len(report.criteria)}", ""]
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
    for axis, title in _SECTIONS:
        if axis == _PREEXISTING and not _by_axis(report, axis):
            continue
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


@dataclass(frozen=True)
class _RuleText:
    """What code scanning shows for a rule: a title, a sentence, how to fix it, where to read more."""

    title: str
    description: str
    fix: str  # Markdown of harness's own: used as it is in help.markdown
    link: str
    link_text: str


_REVIEW_DOCS = f"{REPOSITORY_URL}/blob/{_DOCS_REF}/README.md#harness-review-ci"
_AXIS_TEXTS = {
    "harness/spec": _RuleText(
        "Spec not met",
        "The change does not do what the spec (the agreed contract or the pull request's description) asks.",
        "make the change do what the criterion or the finding names, with a test that shows it. If the spec is what "
        "is wrong, change the spec (renegotiate the contract, or edit the pull request's description), not the tests.",
        _REVIEW_DOCS,
        "How harness review judges a change against its spec",
    ),
    "harness/standards": _RuleText(
        "Below the engineering standards",
        "The change falls short of the project's engineering standards.",
        "follow the fix the finding gives; its message says what the reviewer saw and where.",
        _REVIEW_DOCS,
        "How harness review reports spec and standards",
    ),
}
_AXIS_LEVELS = {"harness/spec": "error", "harness/standards": "warning"}
_GUARD_FIX = (
    "undo the part of the change the alert points at; its message says what was seen and what to do instead. "
    "The tests should pass because the code works, not because they check or run less. If the issue genuinely "
    "needs the change, the agreed contract can allow it (`allow:` with the rule, a path and a reason) where the "
    "rule permits an allowance; nothing else turns a finding off."
)
# docs/guards.md headings that say more than "(severity)"; GitHub derives a section's anchor from its heading
_GUARD_HEADING_NOTES = {
    "HG007": "error; `import pytest` is a warning",
    "HG010": "error where a contract applies; otherwise a warning",
}
_ANCHOR_DROP = re.compile(r"[^\w\- ]")


def _anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading: lowercased, punctuation dropped, spaces made hyphens."""
    return _ANCHOR_DROP.sub("", heading.strip().lower()).replace(" ", "-")


def _sentence(text: str) -> str:
    """A summary as a sentence: a plain first word capitalised (never code such as ``conftest.py``), a full stop."""
    text = text.strip()
    first = text.split(" ", 1)[0]
    if re.fullmatch(r"[a-z][a-z'-]*", first):
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _guard_rule_text(rule_id: str, name: str) -> tuple[_RuleText, Rule | None]:
    from harness.guard.rules import RULES

    rule = RULES.get(rule_id)
    if rule is None:  # a rule a newer harness wrote into a stored report
        description = f"A finding of the harness guard {rule_id} ({name})."
        catalogue = f"{DOCS_URL}/guards.md#rules"
        return _RuleText(_title(name), description, _GUARD_FIX, catalogue, "The guard rule catalogue"), None
    heading = f"{rule.id} {rule.name} ({_GUARD_HEADING_NOTES.get(rule.id, rule.severity)})"
    link = f"{DOCS_URL}/guards.md#{_anchor(heading)}"
    link_text = f"{rule.id} {rule.name} in the rule catalogue, with a bad and a good example"
    return _RuleText(_title(rule.name), _sentence(rule.summary), _GUARD_FIX, link, link_text), rule


def _title(name: str) -> str:
    return name.replace("-", " ").capitalize()


def _help(text: _RuleText) -> dict[str, str]:
    return {
        "text": f"{text.description}\n\nFix: {text.fix}\n\n{text.link_text}: {text.link}",
        # the fix is harness's own Markdown (a code span); the description may hold dunders, so it is escaped
        "markdown": f"{_md(text.description)}\n\n**Fix:** {text.fix}\n\n[{_md(text.link_text)}]({text.link})",
    }


def _sarif_rule(rule_id: str, finding: ReviewFinding | None) -> dict[str, Any]:
    """The rule's descriptor, derived from the guard catalogue (``harness.guard.rules.RULES``) or the review axes."""
    if rule_id in _AXIS_TEXTS:
        name = rule_id.split("/", 1)[1]
        text = _AXIS_TEXTS[rule_id]
        level = _AXIS_LEVELS[rule_id]
        tags = ["harness", name]
    else:
        name = finding.name if finding is not None else rule_id
        text, rule = _guard_rule_text(rule_id, name)
        name = rule.name if rule is not None else name
        level = _SARIF_LEVELS[GUARD_SEVERITIES[rule.severity if rule is not None else "error"]]
        tags = ["harness", "guard"]
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": text.title},
        "fullDescription": {"text": text.description},
        "help": _help(text),
        "helpUri": text.link,
        "defaultConfiguration": {"level": level},
        "properties": {"tags": tags},
    }


class _SarifRules:
    """A run's rule descriptors: each rule described once, in the order its results first name it."""

    def __init__(self) -> None:
        self._rules: dict[str, dict[str, Any]] = {}

    def index(self, rule_id: str, finding: ReviewFinding | None) -> int:
        if rule_id not in self._rules:
            self._rules[rule_id] = _sarif_rule(rule_id, finding)
        return list(self._rules).index(rule_id)

    def descriptors(self) -> list[dict[str, Any]]:
        return list(self._rules.values())


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
    rules = _SarifRules()
    results: list[dict[str, Any]] = []

    spec_uri_path = report.spec_ref if report.spec_source != "none" and report.spec_ref else ""
    for criterion in report.criteria:
        if criterion.status == "met":
            continue
        result: dict[str, Any] = {
            "ruleId": "harness/spec",
            "ruleIndex": rules.index("harness/spec", None),
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
        index = rules.index(_rule_id(finding), finding)
        results.append(_finding_result(finding, index, finding.fingerprint in blocking))

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

    properties = {
        "base": report.base,
        "head": report.head,
        "verdict": report.verdict,
        "modelVerdict": report.model_verdict,
        "criteriaMet": report.met,
        "criteriaTotal": len(report.criteria),
        "specSource": report.spec_source,
        "summaryReview": report.summary_review,
        "exitCode": report.exit_code,
    }
    return _sarif_log(rules.descriptors(), results, invocation, properties)


def guard_sarif(report: GuardReport) -> dict[str, Any]:
    """SARIF 2.1.0 of a plain guard run (``harness guard --format sarif``): each finding's rule, level, message,
    location and fingerprint exactly as ``harness review --format sarif`` reports the same finding."""
    rules = _SarifRules()
    results = []
    pairs = [(from_guard(finding), finding.blocking) for finding in report.findings]
    for finding, blocking in sorted(pairs, key=lambda pair: _ordering(pair[0])):
        results.append(_finding_result(finding, rules.index(_rule_id(finding), finding), blocking))
    properties = {
        "base": report.base,
        "head": report.head or "working tree",
        "filesChanged": report.files_changed,
        "errors": report.errors,
        "warnings": report.warnings,
        "allowed": report.allowed,
        "exitCode": report.exit_code,
    }
    return _sarif_log(rules.descriptors(), results, {"executionSuccessful": True}, properties)


def _finding_result(finding: ReviewFinding, rule_index: int, blocking: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": _rule_id(finding),
        "ruleIndex": rule_index,
        # pre-existing: there before the change, so a note, never an alert the change is blamed for
        "level": "note" if finding.preexisting else _SARIF_LEVELS.get(finding.severity, "warning"),
        "message": {"text": _sarif_text(finding.message, finding.fix, finding.allowed_by)},
        "partialFingerprints": {"harnessFinding/v1": _safe_fingerprint(finding.fingerprint)},
        "properties": {
            "severity": finding.severity,
            "axis": finding.axis,
            "source": finding.source,
            "blocking": blocking,
            "preexisting": finding.preexisting,
        },
    }
    # SARIF locates results in the head revision: a line of the base side (a removed test) has no place there
    locations = _sarif_location(finding.path, finding.line if finding.side == "RIGHT" else None)
    if locations:
        result["locations"] = locations
    if finding.allowed_by is not None:
        result["suppressions"] = [{"kind": "external", "justification": finding.allowed_by}]
    return result


def _sarif_log(
    rules: list[dict[str, Any]], results: list[dict[str, Any]], invocation: dict[str, Any], properties: dict[str, Any]
) -> dict[str, Any]:
    driver = {"name": "harness", "version": __version__, "informationUri": DOCS_URL, "rules": rules}
    run = {"tool": {"driver": driver}, "invocations": [invocation], "results": results, "properties": properties}
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
    if finding.suggestion is not None and finding.side == "RIGHT":
        parts.append(_suggestion_block(finding.suggestion))
    return {
        "path": finding.path,
        "line": finding.line,
        "side": finding.side,
        "body": _fit_comment("\n\n".join(parts), _marker(finding.fingerprint)),
    }


def _suggestion_block(text: str) -> str:
    """GitHub's suggested change: the block replaces the commented line (an empty block deletes it). The fence is
    longer than any run of backticks in the text, so the text cannot close it."""
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    body = _visible(text)
    return f"{fence}suggestion\n{body}\n{fence}" if body else f"{fence}suggestion\n{fence}"


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
    # pre-existing findings go to the summary: an inline comment would read as blame on the change
    inline = [f for f in _ordered(report.findings) if report.in_diff(f.path, f.line, f.side) and not f.preexisting]
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
        for axis, title in _SECTIONS:
            findings = _by_axis(report, axis, outside)
            if findings:
                middle += [f"#### {title}", "", *(_outside_item(f, blocking) for f in findings), ""]
    else:
        middle += ["None.", ""]

    payload: dict[str, Any] = {}
    sha = commit_id or report.head
    if sha:
        payload["commit_id"] = sha
    head = [SUMMARY_MARKER, state_marker(report), *_md_head(report)]  # the state first: a cut never reaches it
    payload["body"] = _fit_body(head, middle, _md_tail(report))
    # Blocking findings request changes even when the model part could not run (no key on a fork, an outage):
    # the guards' findings stand on their own.
    blocks = report.exit_code == 1 or (report.could_not_run is not None and bool(report.blocking()))
    payload["event"] = "REQUEST_CHANGES" if blocks else "COMMENT"
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
