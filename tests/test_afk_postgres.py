"""`harness afk` on several machines: one PostgreSQL database (a real server), one bare git remote, two
clones. The coordinator's clone and a worker's clone share nothing else. The worker is SIGKILLed in the
middle of an issue and restarted with the same worker id; it recovers the issue and the batch finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import afkmodel
import git
from pgserver import fresh_database_fixture, postgres_url_fixture  # noqa: F401

from harness.demo import build_project
from harness.fakeapi import FakeMessagesAPI
from harness.testrunner import run_tests

ISSUES = {2: [], 3: [], 4: [], 5: []}


def clone(remote: Path, path: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True)
    return path


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "afk", *args],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
        start_new_session=True,
    )


def running_in(clone_path: Path) -> list[str]:
    """Issues this clone's worker is working on (its own progress files)."""
    found = []
    for path in clone_path.glob(".harness/runs/*/issues/*.json"):
        try:
            if json.loads(path.read_text())["state"] == "running":
                found.append(path.stem)
        except (OSError, ValueError):
            continue
    return found


def test_two_machines_share_a_batch_and_a_killed_worker_recovers(
    tmp_path: Path, api: FakeMessagesAPI, fresh_database: str
) -> None:
    api.responder = afkmodel.respond
    api.delay = 0.2
    origin = build_project(tmp_path / "origin")
    afkmodel.add_feature_issues(origin, ISSUES)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(origin), str(remote)], check=True)
    machine_a = clone(remote, tmp_path / "a")
    machine_b = clone(remote, tmp_path / "b")
    shared = ["--database-url", fresh_database, "--parallel", "1"]
    logs = tmp_path / "logs"
    logs.mkdir()

    def both_logs() -> str:
        return "".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in sorted(logs.glob("*.log")))

    # The worker first, and polling, before the coordinator queues anything: on a loaded machine a worker
    # that is still starting up would see the coordinator finish every issue alone.
    worker = start(["--worker", "--repo", str(machine_b), "--worker-id", "b", *shared], logs / "b.log")
    coordinator = None
    try:
        deadline = time.monotonic() + 120
        while "worker b: connected" not in (logs / "b.log").read_text(errors="replace"):
            assert worker.poll() is None and time.monotonic() < deadline, both_logs()
            time.sleep(0.1)
        coordinator = start(
            ["--repo", str(machine_a), "--remote", "origin", "--worker-id", "a", *shared], logs / "a.log"
        )
        deadline = time.monotonic() + 120
        while not running_in(machine_b) and time.monotonic() < deadline:
            assert coordinator.poll() is None, both_logs()
            time.sleep(0.1)
        killed = running_in(machine_b)
        assert killed, "the worker on machine b never took an issue\n" + both_logs()
        time.sleep(1.0)  # into the issue's phase: a model call or a test run
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        time.sleep(1.0)
        worker = start(["--worker", "--repo", str(machine_b), "--worker-id", "b", *shared], logs / "b.log")

        assert coordinator.wait(timeout=300) == 0, both_logs()
    finally:
        for proc in (coordinator, worker):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    assert api.problems == []

    batch = next(machine_a.glob(".harness/runs/*/batch.json")).parent
    states = {p.stem: json.loads(p.read_text())["state"] for p in (batch / "issues").glob("*.json")}
    assert states == {f"{n:03d}": "done" for n in ISSUES}
    # Machine b's clone holds the traces of the issues it worked on, the killed one among them (which machine
    # takes which of the rest is up to the queue: either may finish the killed issue after the restart).
    ran_on_b = {p.name.rsplit("-", 1)[-1] for p in machine_b.glob(".harness/runs/afk-*-*") if p.is_dir()}
    assert set(killed) <= ran_on_b
    # The integration branch on the remote: one landing per issue, and green.
    integration = f"harness/{batch.name}"
    repo = git.Repo(remote)
    landings = sorted(c.summary for c in repo.iter_commits(integration) if c.summary.startswith("land:"))
    assert landings == sorted(f"land: {n:03d} Feature {n}" for n in ISSUES)
    checkout = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", "--branch", integration, str(remote), str(checkout)], check=True)
    report = run_tests(checkout, ["python", "-m", "pytest"])
    assert report.ran and not report.failed() and len(report.passed()) >= len(ISSUES)

