"""The digest of an agreed contract: what is hashed when it freezes, and what any later copy must
still hash to. Dependency-free so that `harness guard` can check it without loading pydantic."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

AGREED_FIELDS = ("issue", "criteria", "out_of_scope", "allow")


def contract_digest(contract: Mapping[str, Any]) -> str:
    """sha256 over the agreed content (issue, criteria, out of scope, allowances), not the history."""
    criteria = [
        {"id": str(c.get("id", "")), "behaviour": str(c.get("behaviour", "")), "test": str(c.get("test", ""))}
        for c in contract.get("criteria") or []
        if isinstance(c, Mapping)
    ]
    allow = [
        {"rule": str(a.get("rule", "")), "path": str(a.get("path", "")), "reason": str(a.get("reason", ""))}
        for a in contract.get("allow") or []
        if isinstance(a, Mapping)
    ]
    agreed = {
        "issue": str(contract.get("issue", "")),
        "criteria": criteria,
        "out_of_scope": [str(s) for s in contract.get("out_of_scope") or []],
        "allow": allow,
    }
    return hashlib.sha256(json.dumps(agreed, sort_keys=True).encode()).hexdigest()
