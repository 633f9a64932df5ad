"""What an `afk` batch records on disk for `harness status` and `harness report` (SPEC §3, §4).

``.harness/runs/<batch>/batch.json`` holds the batch; ``.harness/runs/<batch>/issues/<id>.json`` one
issue's progress, written atomically by whichever process works on it. The durable execution state
(which phases completed) lives in DBOS; these files are the human-readable view of it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.artifacts import Strict

IssueState = Literal[
    "waiting",  # blocked_by issues not done yet
    "queued",  # ready, waiting for a free slot
    "running",  # an agent is working on it (see ``phase``)
    "landing",  # finished, being merged into the integration branch and re-tested
    "done",  # landed: merged, suite green, status done
    "blocked",  # needs a human (see ``reason`` and ``action``)
    "incomplete",  # stopped before a terminal state (API down, interrupted, --until); resumable
    "hitl",  # a HITL issue: never started by afk
]
TERMINAL: frozenset[str] = frozenset({"done", "blocked", "hitl"})


class CommitInfo(Strict):
    sha: str
    subject: str


class IssueProgress(Strict):
    id: str
    title: str
    kind: Literal["AFK", "HITL"] = "AFK"
    state: IssueState = "waiting"
    phase: str | None = Field(default=None, description="contract, red, green, verdict, fix-N, landing")
    blocked_by: list[str] = Field(default_factory=list)
    cost: float = 0.0
    cost_known: bool = True
    started: str | None = None  # ISO 8601
    finished: str | None = None
    elapsed: float = Field(default=0.0, description="seconds of work so far, across resumes")
    verdict: Literal["pass", "fail"] | None = None
    criteria_met: int | None = None
    criteria_total: int | None = None
    commits: list[CommitInfo] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="why it is blocked or incomplete")
    action: str | None = Field(default=None, description="what a human should do next")
    branch: str | None = None
    runs: list[str] = Field(default_factory=list, description="run directories (traces), oldest first")
    worker: str | None = None


class BatchState(Strict):
    batch: str = Field(description="batch id, e.g. afk-20261122")
    integration_branch: str
    remote: str | None = Field(default=None, description="git remote the branches travel through (several machines)")
    base: str = Field(description="commit the integration branch started from")
    started: str
    updated: str
    finished: str | None = None
    parallel: int = 1
    max_cost: float | None = None
    until: str | None = Field(default=None, description="HH:MM after which no new issue starts")
    stopping: Literal["until", "budget", "interrupted"] | None = None
    issues: list[str] = Field(default_factory=list, description="ids of the issues in the batch, in id order")
    cost: float = 0.0
    cost_known: bool = True
