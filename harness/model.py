"""The one seam between the harness and a model: the ``anthropic`` SDK.

Everything sent to or received from a model goes through here and ``agent``. The SDK is imported
lazily (``harness --help`` must not pay for it). ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``
are read the way the SDK reads them, so proxies and gateways work unchanged.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from harness.errors import UsageError
from harness.validation import field_problems

if TYPE_CHECKING:
    import anthropic


def make_client(*, max_retries: int, timeout: float) -> anthropic.Anthropic:
    if not os.environ.get("ANTHROPIC_API_KEY") and not os.environ.get("ANTHROPIC_AUTH_TOKEN"):
        raise UsageError(
            "ANTHROPIC_API_KEY is not set, so no model can be reached",
            hint="export ANTHROPIC_API_KEY=... (and ANTHROPIC_BASE_URL for a gateway); "
            "`harness demo` runs offline without a key",
        )
    import anthropic

    # The SDK retries 408/409/429/5xx/529 and connection errors itself, honouring retry-after.
    return anthropic.Anthropic(max_retries=max_retries, timeout=timeout)


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with ``$defs`` inlined and titles dropped: the plainest form any
    Messages API server (gateways included) accepts."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = node["$ref"].rsplit("/", 1)[-1]
                return inline(copy.deepcopy(defs[target]))
            return {k: inline(v) for k, v in node.items() if k != "title"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    result: dict[str, Any] = inline(schema)
    return result


def explain_validation(tool: str, exc: ValidationError) -> str:
    """A tool-input validation error in words the model can act on."""
    lines = [f"The input to `{tool}` was rejected; nothing was done. Fix these fields and call `{tool}` again:"]
    lines += [f"- `{field or '(input)'}` {problem}" for field, problem in field_problems(exc)]
    return "\n".join(lines)
