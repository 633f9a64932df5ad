"""Shared fixtures: a real git project built from the bundled example, and the fake Messages API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.demo import build_project
from harness.fakeapi import FakeMessagesAPI


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The textkit example as a fresh git repo (one commit), tests run with this Python."""
    return build_project(tmp_path / "textkit")


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
