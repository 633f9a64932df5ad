"""Guards: deterministic, model-free checks over a diff that catch agents gaming the tests (SPEC §7).

``model`` holds the plain data the rules read and write; ``rules`` is the pure engine; ``gitdiff``
turns a git range into ``FileChange`` objects. ``harness guard``, ``harness run`` (before red and
green are accepted and before the verdict) and ``harness review`` all call :func:`check`.
"""

from __future__ import annotations

from typing import Any

from harness.guard.model import Allowance, FileChange, GuardContext, GuardFinding

__all__ = ["RULES", "Allowance", "FileChange", "GuardContext", "GuardFinding", "check"]


def __getattr__(name: str) -> Any:
    # The engine loads on first use, so importing the data model stays cheap.
    if name in ("RULES", "check"):
        from harness.guard import rules

        return getattr(rules, name)
    raise AttributeError(name)
