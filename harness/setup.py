"""``harness init``: configuration, the .harness/ layout, .gitignore entries. Never overwrites."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import gitops
from harness.config import default_toml, load_config
from harness.fsutil import atomic_write_text

IGNORED = ("runs/", "state/", "worktrees/")


def detect_test_command(root: Path) -> list[str]:
    """The repo's own virtualenv if it has one, else a ``python`` on PATH that has pytest, else ours."""
    for venv in (root / ".venv", root / "venv"):
        python = venv / "bin" / "python"
        if python.is_file():
            return [str(python), "-m", "pytest"]
    python_on_path = shutil.which("python")
    if python_on_path:
        probe = subprocess.run([python_on_path, "-c", "import pytest"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["python", "-m", "pytest"]
    return [sys.executable, "-m", "pytest"]


def init_repo(repo: Path) -> dict[str, Any]:
    root = gitops.checkout_root(repo)  # no commit needed: `harness init` then planning start a brand-new project
    actions: list[str] = []
    config = load_config(root)  # validates an existing configuration before anything is written
    if config.source:
        actions.append(f"configuration found in {Path(config.source).name}; left unchanged")
        test_command = config.test_command
    else:
        test_command = detect_test_command(root)
        atomic_write_text(root / "harness.toml", default_toml(test_command))
        actions.append("wrote harness.toml")
    harness_dir = root / config.harness_dir
    for sub in ("issues", "contracts"):
        path = harness_dir / sub
        if not path.is_dir():
            path.mkdir(parents=True)
            actions.append(f"created {path.relative_to(root)}/")
    gitignore = root / ".gitignore"
    existing = gitignore.read_text(encoding="utf-8") if gitignore.is_file() else ""
    present = {line.strip() for line in existing.splitlines()}
    wanted = [f"{config.harness_dir.rstrip('/')}/{entry}" for entry in IGNORED]
    missing = [entry for entry in wanted if entry not in present and "/" + entry not in present]
    if missing:
        prefix = "" if not existing or existing.endswith("\n") else "\n"
        atomic_write_text(
            gitignore,
            existing + prefix + "# harness: run traces, durable state, worktrees\n" + "\n".join(missing) + "\n",
        )
        actions.append(f"added {', '.join(missing)} to .gitignore")
    return {
        "repo": str(root),
        "actions": actions,
        "test_command": test_command,
        "harness_dir": config.harness_dir,
    }
