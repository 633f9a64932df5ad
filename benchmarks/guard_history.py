"""How often the guard blocks honest commits: the rules over the recent history of real projects.

    python benchmarks/guard_history.py --repos /tmp/hist/* [--commits 150] [--out /tmp/guard_history.json]

For each repository (a normal clone), takes the last N non-merge commits reachable from HEAD (the default
branch of a fresh clone; ``--first-parent`` keeps to the branch's own line) and runs the guard engine
in-process over ``C^..C`` for each commit C: ``collect_changes`` then ``check`` with
``GuardContext(protected_paths=(), harness_dir=".harness")``, i.e. no contract and no protected paths.
HG010 on a person's CI changes is a separate question (without a contract it is a warning), so the script
only counts the commits that touch ``.github/**`` or any default protected path: the commits HG010 would
block where a contract applies (an agent's run with the default ``protected_paths``).

Prints per repository and overall: commits checked, commits blocked, blocked commits per rule (a commit
counts once per rule it trips), findings per rule, commits with warnings only, commits touching the
default protected paths, and the median / 95th percentile / max time per commit (git + rules). Writes
every blocked commit with its findings (rule, path, line, the first 160 characters of the message) to
``--out`` as JSON, for reading the commits one by one.

A commit the engine crashes on is counted and listed, not fatal. Not a test: the figures depend on the
engine at the time of the run and on the projects' history.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from harness.guard import GuardContext, check
from harness.guard.gitdiff import collect_changes
from harness.settings import DEFAULT_PROTECTED_PATHS

CONTEXT = GuardContext(protected_paths=(), harness_dir=".harness")
MESSAGE_CHARS = 160


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def last_commits(repo: Path, count: int, first_parent: bool) -> list[tuple[str, str, str]]:
    """(sha, first parent or "", subject) of the last ``count`` non-merge commits from HEAD, newest first."""
    args = ["log", "--no-merges", f"-n{count}", "--format=%H%x00%P%x00%s"]
    if first_parent:
        args.append("--first-parent")
    rows = []
    for line in git(repo, *args, "HEAD").splitlines():
        sha, parents, subject = line.split("\x00", 2)
        rows.append((sha, parents.split()[0] if parents else "", subject))
    return rows


def protected(paths: list[str], patterns: tuple[str, ...] = DEFAULT_PROTECTED_PATHS) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for path in paths for pattern in patterns)


def check_repo(repo: Path, count: int, first_parent: bool) -> dict[str, Any]:
    name = repo.name
    branch = git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    commits = last_commits(repo, count, first_parent)
    times: list[float] = []
    blocked: list[dict[str, Any]] = []
    crashed: list[dict[str, Any]] = []
    rules_commits: Counter[str] = Counter()
    rules_findings: Counter[str] = Counter()
    warned_only = 0
    touching_protected = 0
    touching_github = 0
    blocked_with_hg010 = 0
    skipped_root = 0
    for sha, parent, subject in commits:
        if not parent:
            skipped_root += 1
            continue
        start = time.perf_counter()
        try:
            changes = collect_changes(repo, parent, sha)
            findings = check(changes, CONTEXT)
        except Exception as exc:  # a crash is a finding about the engine, not the end of the run
            crashed.append({"sha": sha, "subject": subject, "error": repr(exc), "traceback": traceback.format_exc()})
            continue
        times.append(time.perf_counter() - start)
        paths = [c.path for c in changes] + [c.old_path for c in changes if c.old_path]
        touching_protected += protected(paths)
        touching_github += protected(paths, (".github/**",))
        blocking = [f for f in findings if f.blocking]
        blocked_with_hg010 += bool(blocking) or protected(paths)
        if not blocking:
            warned_only += bool(findings)
            continue
        for rule in {f.rule for f in blocking}:
            rules_commits[rule] += 1
        rules_findings.update(f.rule for f in blocking)
        blocked.append(
            {
                "repo": name,
                "sha": sha,
                "subject": subject,
                "files_changed": len(changes),
                "findings": [
                    {
                        "rule": f.rule,
                        "name": f.name,
                        "severity": f.severity,
                        "path": f.path,
                        "line": f.line,
                        "message": f.message[:MESSAGE_CHARS],
                    }
                    for f in findings
                ],
            }
        )
    return {
        "repo": name,
        "path": str(repo),
        "branch": branch,
        "head": git(repo, "rev-parse", "HEAD").strip(),
        "commits": len(times),
        "skipped_root": skipped_root,
        "crashed": crashed,
        "blocked": blocked,
        "blocked_per_rule": dict(sorted(rules_commits.items())),
        "findings_per_rule": dict(sorted(rules_findings.items())),
        "warnings_only": warned_only,
        "touching_protected": touching_protected,
        "touching_github": touching_github,
        "blocked_with_default_protected_paths": blocked_with_hg010,
        "times": times,
    }


def timing(times: list[float]) -> str:
    if not times:
        return "-"
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{statistics.median(ordered) * 1000:.0f} / {p95 * 1000:.0f} / {ordered[-1] * 1000:.0f} ms"


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def report(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'repo':<16} {'branch':<7} {'commits':>7} {'blocked':>8} {'share':>7} {'warn':>5} {'.github':>7} "
        f"{'prot':>5} {'crash':>5}  time median / p95 / max"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['repo']:<16} {r['branch']:<7} {r['commits']:>7} {len(r['blocked']):>8} "
            f"{pct(len(r['blocked']), r['commits']):>7} {r['warnings_only']:>5} {r['touching_github']:>7} "
            f"{r['touching_protected']:>5} "
            f"{len(r['crashed']):>5}  {timing(r['times'])}"
        )
    total = sum(r["commits"] for r in results)
    blocked = sum(len(r["blocked"]) for r in results)
    all_times = [t for r in results for t in r["times"]]
    print("-" * len(header))
    print(
        f"{'all':<16} {'':<7} {total:>7} {blocked:>8} {pct(blocked, total):>7} "
        f"{sum(r['warnings_only'] for r in results):>5} {sum(r['touching_github'] for r in results):>7} "
        f"{sum(r['touching_protected'] for r in results):>5} "
        f"{sum(len(r['crashed']) for r in results):>5}  {timing(all_times)}"
    )
    print()
    print("warn: commits with warnings only (not blocked); .github: commits touching .github/**; prot: commits")
    print(f"touching any default protected path ({', '.join(DEFAULT_PROTECTED_PATHS)}); not counted as")
    print("blocked here (protected_paths is empty). Where HG010 blocks (under a contract, default paths):")
    with_hg010 = sum(r["blocked_with_default_protected_paths"] for r in results)
    print(f"{with_hg010} of {total} commits ({pct(with_hg010, total)}) would be blocked.")
    print("time: collect_changes + check per commit, in process (median / 95th percentile / max).")
    print()
    rules = sorted({rule for r in results for rule in r["blocked_per_rule"]})
    if rules:
        print("blocked commits per rule (findings in brackets); a commit counts once per rule it trips")
        print(f"{'rule':<6} " + " ".join(f"{r['repo'][:12]:>14}" for r in results) + f" {'all':>10}")
        for rule in rules:
            cells = [f"{r['blocked_per_rule'].get(rule, 0)} ({r['findings_per_rule'].get(rule, 0)})" for r in results]
            commits = sum(r["blocked_per_rule"].get(rule, 0) for r in results)
            findings = sum(r["findings_per_rule"].get(rule, 0) for r in results)
            print(f"{rule:<6} " + " ".join(f"{c:>14}" for c in cells) + f" {f'{commits} ({findings})':>10}")
    for r in results:
        for crash in r["crashed"]:
            print(f"CRASH {r['repo']} {crash['sha'][:10]} {crash['error']}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", nargs="+", type=Path, required=True, help="clones to read (normal, not bare)")
    parser.add_argument("--commits", type=int, default=150, help="non-merge commits per repository (150)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/guard_history.json"), help="JSON of blocked commits")
    parser.add_argument("--first-parent", action="store_true", help="only commits on the branch's first-parent line")
    args = parser.parse_args()

    results = []
    for repo in args.repos:
        if not (repo / ".git").exists() and not (repo / "HEAD").exists():
            print(f"{repo}: not a git repository, skipped", file=sys.stderr)
            continue
        print(f"checking {repo.name} ...", file=sys.stderr, flush=True)
        results.append(check_repo(repo, args.commits, args.first_parent))
    report(results)

    document = {
        "commits_per_repo": args.commits,
        "first_parent": args.first_parent,
        "context": {"protected_paths": list(CONTEXT.protected_paths), "harness_dir": CONTEXT.harness_dir},
        "repos": [
            {
                **{k: v for k, v in r.items() if k not in ("times", "blocked")},
                "median_ms": round(statistics.median(r["times"]) * 1000, 1) if r["times"] else None,
                "max_ms": round(max(r["times"]) * 1000, 1) if r["times"] else None,
            }
            for r in results
        ],
        "blocked": [commit for r in results for commit in r["blocked"]],
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nblocked commits and their findings: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
