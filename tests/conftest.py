"""Shared fixtures: a real git project built from the bundled example, and the fake Messages API."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.demo import build_project
from harness.fakeapi import FakeMessagesAPI


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The textkit example as a fresh git repo (one commit), tests run with this Python.

    Its harness.toml (in that one commit) turns the mutation check off (`gate.mutation_check = false`): it
    costs one test run per mutant at every verdict, and the hundreds of end-to-end runs here are about other
    things. The check itself runs with the product's defaults in tests/test_mutation.py,
    tests/test_cheats_oracle.py and the demo (tests/test_cli.py)."""
    built = build_project(tmp_path / "textkit")
    config = built / "harness.toml"
    config.write_text(config.read_text(encoding="utf-8") + MUTATION_OFF, encoding="utf-8")
    identity = ["-c", "user.name=harness demo", "-c", "user.email=demo@localhost"]
    subprocess.run(
        ["git", *identity, "commit", "-q", "--amend", "--no-edit", "--no-verify", "-a"], cwd=built, check=True
    )
    return built


# A dotted key, not a [gate] table: settings tests append at the top level still land at the top level.
MUTATION_OFF = "gate.mutation_check = false\n"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        yield server


class Harness:
    """Runs the real CLI in-process, as a user would type it."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str):  # type: ignore[no-untyped-def]
        return self.runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def harness() -> Harness:
    return Harness()
