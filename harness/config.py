"""Configuration: ``harness.toml`` at the repo root, or ``[tool.harness]`` in ``pyproject.toml``.

Every key has a default, so a repo with no configuration works. Unknown keys are errors (a typo
in a budget must not silently mean "no budget").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import UsageError
from harness.settings import (
    CONFIG_HINT,
    DEFAULT_HARNESS_DIR,
    DEFAULT_PROTECTED_PATHS,
    describe_source,
    read_table,
)
from harness.validation import describe_validation_error


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Models(_Section):
    planner: str = "claude-opus-5-5"
    generator: str = "claude-sonnet-5-5"
    evaluator: str = "claude-opus-5-5"


class Limits(_Section):
    contract_rounds: int = Field(3, ge=1, description="generator/evaluator rounds to agree the contract")
    red_attempts: int = Field(5, ge=1, description="tries to produce tests that fail for the right reason")
    green_attempts: int = Field(5, ge=1, description="tries to make the tests pass with no regression")
    evaluator_rounds: int = Field(3, ge=1, description="test-review rounds")
    fix_rounds: int = Field(2, ge=0, description="times a failed verdict goes back to the generator")
    slice_attempts: int = Field(3, ge=1, description="slicer submissions before `harness slice` gives up")
    stuck_after: int = Field(3, ge=2, description="the same failure this many times in a row ends the run")
    role_tool_reminders: int = Field(
        2, ge=0, description="reminders before an agent that never calls its role tool fails"
    )
    max_turns: int = Field(60, ge=1, description="model calls per agent per phase")
    max_tokens: int = Field(16_000, ge=256, description="max output tokens per model call")
    context_ceiling: int = Field(
        100_000, ge=1_000, description="context tokens after which an agent continues in a fresh context"
    )
    max_added_bytes: int = Field(
        10_000_000, ge=1, description="bytes of new or changed files one issue may commit (refused above it)"
    )
    max_added_files: int = Field(2_000, ge=1, description="new files one issue may commit (refused above it)")


class Gate(_Section):
    oracle_check: bool = Field(
        True,
        description="after green, change each contract test's expected values in a copy and run it again; "
        "a test that still passes is refused (docs/oracle.md)",
    )
    mutation_check: bool = Field(
        True, description="before the verdict, run mutants of the changed source lines against the contract tests"
    )
    max_mutants: int = Field(20, ge=1, le=500, description="mutants per verdict, spread over the changed lines")
    min_mutation_score: float | None = Field(
        None,
        ge=0,
        le=1,
        description="fail the verdict when fewer than this share of the mutants are killed (off when unset)",
    )


class Budget(_Section):
    max_cost_per_issue: float | None = Field(10.0, gt=0, description="USD; checked before every model call")


class Config(_Section):
    harness_dir: str = DEFAULT_HARNESS_DIR
    test_command: list[str] = Field(default_factory=lambda: ["python", "-m", "pytest"], min_length=1)
    test_timeout: float = Field(900.0, gt=0)
    bash_timeout: float = Field(120.0, gt=0)
    sandbox: Literal["auto", "bwrap", "none"] = Field(
        "auto",
        description="confine agent-written code (bash, every test run) with bubblewrap: auto (wherever it works; "
        "an unattended batch refuses to start without it), bwrap (always, or exit 2), none (never, with a warning)",
    )
    protected_paths: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROTECTED_PATHS),
        description="paths agents may not change unless the contract allows it",
    )
    max_retries: int = Field(4, ge=0, description="SDK retries for 429/5xx/529 and connection errors")
    request_timeout: float = Field(600.0, gt=0, description="seconds per model request")
    models: Models = Field(default_factory=Models)
    limits: Limits = Field(default_factory=Limits)
    gate: Gate = Field(default_factory=Gate)
    budget: Budget = Field(default_factory=Budget)
    source: str | None = Field(default=None, exclude=True)


def load_config(repo: Path) -> Config:
    data, source = read_table(repo)
    try:
        if "source" in data:  # where the configuration came from: set below, never a setting
            raise UsageError(f"{describe_source(source)}: field `source` is not a known field", hint=CONFIG_HINT)
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{describe_source(source)}: {describe_validation_error(exc)}", hint=CONFIG_HINT) from exc
    return config.model_copy(update={"source": str(source) if source else None})


def default_toml(test_command: list[str]) -> str:
    """The harness.toml that ``harness init`` writes: every key, with its default, commented."""
    cmd = ", ".join(json.dumps(part) for part in test_command)  # a JSON string is a valid TOML basic string
    models, limits, gate, budget = Models(), Limits(), Gate(), Budget()
    return f"""# harness configuration. Every key is optional; the values below are the defaults.
# Reference: docs/configuration.md

harness_dir = {json.dumps(DEFAULT_HARNESS_DIR)}
test_command = [{cmd}]     # the harness runs this itself and reads structured results
test_timeout = 900                        # seconds per test run
bash_timeout = 120                        # default seconds per agent `bash` call
sandbox = "auto"                          # bubblewrap around agent-written code; "none" opts out (docs/sandbox.md)
protected_paths = {json.dumps(list(DEFAULT_PROTECTED_PATHS))}
max_retries = 4                           # SDK retries on 429 / 5xx / 529 / connection errors
request_timeout = 600                     # seconds per model request

[models]
planner = "{models.planner}"
generator = "{models.generator}"
evaluator = "{models.evaluator}"

[limits]
contract_rounds = {limits.contract_rounds}
red_attempts = {limits.red_attempts}
green_attempts = {limits.green_attempts}
evaluator_rounds = {limits.evaluator_rounds}
fix_rounds = {limits.fix_rounds}
slice_attempts = {limits.slice_attempts}
stuck_after = {limits.stuck_after}
role_tool_reminders = {limits.role_tool_reminders}
max_turns = {limits.max_turns}
max_tokens = {limits.max_tokens}
context_ceiling = {limits.context_ceiling}    # tokens; past it an agent goes on in a fresh context
max_added_bytes = {limits.max_added_bytes}   # one issue's new and changed files, in bytes
max_added_files = {limits.max_added_files}

[gate]
oracle_check = {str(gate.oracle_check).lower()}    # refuse green when a test passes with its expected values changed
mutation_check = {str(gate.mutation_check).lower()}  # mutants of the changed lines, shown to the verdict evaluator
max_mutants = {gate.max_mutants}
# min_mutation_score = 0.6   # fail the verdict below this share of killed mutants (off by default)

[budget]
max_cost_per_issue = {budget.max_cost_per_issue}      # USD, checked before every model call
"""
