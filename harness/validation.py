"""pydantic validation errors in words: which field, what is wrong. Shared by every file reader
and by the tool-input validation that answers a model."""

from __future__ import annotations

from pydantic import ValidationError


def field_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(dotted field, problem) for each error; the field is "" for whole-object errors."""
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        if err["type"] == "missing":
            problem = "is required"
        elif err["type"] == "extra_forbidden":
            problem = "is not a known field"
        else:
            problem = err["msg"].removeprefix("Value error, ")
        problems.append((field, problem))
    return problems


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for field, problem in field_problems(exc):
        if not field:
            parts.append(problem)
        elif problem in ("is required", "is not a known field"):
            parts.append(f"field `{field}` {problem}")
        else:
            parts.append(f"field `{field}`: {problem}")
    return "; ".join(parts)


def hint_for(exc: ValidationError) -> str:
    types = {e["type"] for e in exc.errors()}
    if "missing" in types:
        return "add the missing field(s) (the schemas and documented examples are in contracts/)"
    if "extra_forbidden" in types:
        return "remove or correct the misspelt field(s); the schemas are in contracts/"
    return "correct the field(s) named above; the schemas are in contracts/"
