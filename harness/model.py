"""The one seam between the harness and a model: the ``anthropic`` SDK.

Everything sent to or received from a model goes through here and ``agent``. The SDK is imported
lazily (``harness --help`` must not pay for it). ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``
are read the way the SDK reads them, so proxies and gateways work unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
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

    # The SDK retries 408/409/429/5xx/529 and connection errors itself, honouring retry-after; each retry is
    # shown on stderr, or a down API would look like a hang (minutes, with the default backoff and retries).
    _show_retries()
    return anthropic.Anthropic(max_retries=max_retries, timeout=timeout, middleware=[_attempt_recorder(max_retries)])


# --------------------------------------------------------------------------- retries, shown as they happen
#
# Two hooks of the SDK, each for what only it knows. Its middleware runs once per HTTP attempt, inside the
# retry loop: it sees what failed (the status and error, or the connection error) and which attempt it was.
# The SDK then logs "Retrying request to <url> in <seconds> seconds" (logger `anthropic._base_client`, INFO,
# what ANTHROPIC_LOG=info shows) right before it sleeps: only that says a retry follows, and when. The SDK
# client is synchronous, so the attempt and its log record happen on the same thread.

_last_failure = threading.local()


def _attempt_recorder(max_retries: int) -> Callable[[Any, Any], Any]:
    def record(request: Any, call_next: Any) -> Any:
        try:
            response = call_next(request)
        except Exception as exc:  # no response: a connection error or a timeout (the SDK re-raises it or retries)
            _note(request, max_retries, _transport_failure(exc))
            raise
        if response.status_code >= 400:
            _note(request, max_retries, _status_failure(response.http_response))
        return response

    return record


def _note(request: Any, max_retries: int, what: str) -> None:
    _last_failure.value = (what, request.retries_taken + 1, max_retries + 1)


def _transport_failure(exc: BaseException) -> str:
    what = str(exc).rstrip(".") or type(exc).__name__
    cause = exc.__cause__
    return f"{what}: {cause}" if cause is not None and str(cause) and str(cause) not in what else what


def _status_failure(response: Any) -> str:
    """``HTTP 529 overloaded_error: Overloaded``, from the error body when it has the API's shape."""
    what = f"HTTP {response.status_code}"
    try:
        error = json.loads(response.read()).get("error")
    except (ValueError, AttributeError, OSError):
        return what
    if isinstance(error, dict):
        detail = ": ".join(str(error[key]) for key in ("type", "message") if error.get(key))
        if detail:
            what += f" {detail[:160]}"
    return what


class _RetryLine(logging.Handler):
    """One line on stderr per retry, e.g. ``model API: HTTP 529 overloaded_error: Overloaded (try 1 of 5);
    trying again in 0.5 s``. Writes to the ``sys.stderr`` of the moment: the live display redirects it."""

    def emit(self, record: logging.LogRecord) -> None:
        if not str(record.msg).startswith("Retrying request"):
            return
        delays = [arg for arg in record.args or () if isinstance(arg, int | float)]
        when = f"trying again in {delays[-1]:.3g} s" if delays else "trying again"
        noted = getattr(_last_failure, "value", None)
        _last_failure.value = None
        what, tries = (f"{noted[0]}", f" (try {noted[1]} of {noted[2]})") if noted else ("the request failed", "")
        with contextlib.suppress(OSError, ValueError):  # stderr closed: the retry itself goes on
            print(f"model API: {what}{tries}; {when}", file=sys.stderr, flush=True)


def _show_retries() -> None:
    logger = logging.getLogger("anthropic._base_client")
    if any(isinstance(handler, _RetryLine) for handler in logger.handlers):
        return
    logger.addHandler(_RetryLine())
    if not logger.isEnabledFor(logging.INFO):  # ANTHROPIC_LOG=debug or info already enables it: leave it so
        logger.setLevel(logging.INFO)


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
