"""The throwaway PostgreSQL server of `pgserver`, and what `harness afk` relies on DBOS to do on it.

Several worker processes share one DBOS queue in one Postgres database, as `harness afk --worker` processes on
several machines would: each queued workflow runs exactly once, spread over the workers, and a worker killed in
the middle of a workflow gets it back when it restarts with the same executor id, without re-running the steps
that had completed (docs/postgres.md).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from pgserver import fresh_database_fixture, postgres_url_fixture  # noqa: F401

APP_NAME = "afk-test"
QUEUE = "afk"

# A minimal afk: `worker EXECUTOR_ID` dequeues until told to stop; `enqueue N PREFIX` queues N workflows, runs none.
# Every step appends "<step> <workflow id> <executor id>" to steps.log, so the test counts executions.
APP = f'''
import os
import sys
import threading
import time
from pathlib import Path

from dbos import DBOS, SetWorkflowID

url, workdir, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
executor_id = sys.argv[4] if mode == "worker" else "enqueuer"


def note(step):
    with open(workdir / "steps.log", "a") as log:
        log.write(f"{{step}} {{DBOS.workflow_id}} {{DBOS.executor_id}}\\n")


@DBOS.step()
def begin():
    note("begin")


@DBOS.step()
def work():
    note("work")
    # The test holds a workflow here to kill its worker in the middle of it.
    while (workdir / "hold").exists():
        time.sleep(0.05)
    time.sleep(0.3)


@DBOS.step()
def finish():
    note("finish")


@DBOS.workflow()
def issue(number):
    begin()
    work()
    finish()
    return DBOS.executor_id


DBOS(config={{
    "name": "{APP_NAME}",
    "system_database_url": url,
    "application_version": "test-1",
    "executor_id": executor_id,
    "notification_listener_polling_interval_sec": 0.1,
}})
if mode == "enqueue":
    DBOS.listen_queues([])
DBOS.launch()
queue = DBOS.register_queue("{QUEUE}", worker_concurrency=1, polling_interval_sec=0.1)
if mode == "enqueue":
    for number in range(int(sys.argv[4])):
        with SetWorkflowID(f"{{sys.argv[5]}}-{{number}}"):
            queue.enqueue(issue, number)
else:
    while not any(thread.name == "queue-worker-{QUEUE}" for thread in threading.enumerate()):
        time.sleep(0.05)
    (workdir / f"ready-{{executor_id}}").touch()
    while not (workdir / f"stop-{{executor_id}}").exists():
        time.sleep(0.05)
DBOS.destroy()
'''


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class AfkApp:
    """The DBOS app above, on one fresh database, run as separate processes."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir
        self.script = workdir / "afk_app.py"
        self.script.write_text(APP)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._client: Any = None

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, str(self.script), self.url, str(self.workdir), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def enqueue(self, count: int, prefix: str) -> list[str]:
        process = self._spawn("enqueuer", "enqueue", str(count), prefix)
        assert process.wait(timeout=60) == 0, self.log("enqueuer")
        return [f"{prefix}-{number}" for number in range(count)]

    def start_worker(self, executor_id: str) -> None:
        (self.workdir / f"ready-{executor_id}").unlink(missing_ok=True)
        self.processes[executor_id] = self._spawn(executor_id, "worker", executor_id)

    def wait_ready(self, *executor_ids: str) -> None:
        for executor_id in executor_ids:
            wait_for(partial(self._alive_and_ready, executor_id), f"worker {executor_id} to listen")

    def _alive_and_ready(self, executor_id: str) -> bool:
        if self.processes[executor_id].poll() is not None:
            raise AssertionError(f"worker {executor_id} exited:\n{self.log(executor_id)}")
        return (self.workdir / f"ready-{executor_id}").exists()

    def kill(self, executor_id: str) -> None:
        process = self.processes.pop(executor_id)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, executor_id: str) -> None:
        (self.workdir / f"stop-{executor_id}").touch()
        process = self.processes.pop(executor_id)
        assert process.wait(timeout=30) == 0, self.log(executor_id)
        (self.workdir / f"stop-{executor_id}").unlink()

    def _step_runs(self) -> list[tuple[str, str, str]]:
        """(step, workflow id, executor id) for every execution of a step so far."""
        log = self.workdir / "steps.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [(step, workflow, executor) for step, workflow, executor in (line.split() for line in lines)]

    def steps(self) -> Counter[tuple[str, str]]:
        """How many times each (step, workflow id) ran."""
        return Counter((step, workflow) for step, workflow, _ in self._step_runs())

    def executors_of(self, step: str, workflow: str) -> list[str]:
        return [executor for s, w, executor in self._step_runs() if (s, w) == (step, workflow)]

    def statuses(self, workflow_ids: list[str]) -> dict[str, Any]:
        if self._client is None:
            from dbos import DBOSClient

            self._client = DBOSClient(system_database_url=self.url, application_name=APP_NAME)
        return {status.workflow_id: status for status in self._client.list_workflows(workflow_ids=workflow_ids)}

    def wait_status(self, workflow_id: str, status: str, what: str) -> Any:
        def reached() -> Any:
            current = self.statuses([workflow_id]).get(workflow_id)
            return current if current is not None and current.status == status else None

        return wait_for(reached, what)

    def close(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait(timeout=10)
        if self._client is not None:
            self._client.destroy()


@pytest.fixture
def afk(fresh_database: str, tmp_path: Path) -> Iterator[AfkApp]:
    # Imported here, not at collection, so a run that selects none of these tests does not pay for DBOS.
    pytest.importorskip("dbos", reason="the afk queue runs on dbos")
    app = AfkApp(fresh_database, tmp_path)
    try:
        yield app
    finally:
        app.close()


def test_the_fixture_serves_a_fresh_database_on_a_real_server(
    postgres_url: str,
    fresh_database: str,
) -> None:
    psycopg = pytest.importorskip("psycopg", reason="psycopg comes with dbos, which the afk queue needs")
    assert postgres_url.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(postgres_url) as session:
        assert session.execute("SELECT current_database()").fetchone() == ("harness_test",)
    with psycopg.connect(fresh_database) as fresh:
        tables = fresh.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
        fresh.execute("CREATE TABLE issue (id int PRIMARY KEY)")
        fresh.execute("INSERT INTO issue VALUES (1), (2)")
        assert fresh.execute("SELECT sum(id) FROM issue").fetchone() == (3,)


def test_two_workers_share_the_queue_and_each_workflow_runs_once(afk: AfkApp) -> None:
    afk.start_worker("machine-a")
    afk.start_worker("machine-b")
    afk.wait_ready("machine-a", "machine-b")

    issues = afk.enqueue(6, "issue")

    def all_done() -> dict[str, Any] | None:
        statuses = afk.statuses(issues)
        done = len(statuses) == len(issues) and all(s.status == "SUCCESS" for s in statuses.values())
        return statuses if done else None

    statuses = wait_for(all_done, "the six workflows to succeed")
    ran_on = {workflow: status.output for workflow, status in statuses.items()}
    assert set(ran_on.values()) == {"machine-a", "machine-b"}, ran_on
    assert all(statuses[w].executor_id == executor for w, executor in ran_on.items())
    steps = afk.steps()
    assert all(steps[(step, w)] == 1 for w in issues for step in ("begin", "work", "finish")), steps
    assert sum(steps.values()) == 3 * len(issues)
    afk.stop("machine-a")
    afk.stop("machine-b")


def test_a_killed_worker_gets_its_workflow_back_when_it_restarts(afk: AfkApp) -> None:
    (afk.workdir / "hold").touch()
    afk.start_worker("machine-a")
    afk.start_worker("machine-b")
    afk.wait_ready("machine-a", "machine-b")
    [held] = afk.enqueue(1, "held")
    running_on = wait_for(lambda: afk.executors_of("work", held), "the workflow to reach its second step")[0]
    survivor = "machine-b" if running_on == "machine-a" else "machine-a"

    afk.kill(running_on)
    # Nothing hands a dead executor's PENDING workflow to a live one: the survivor polls the queue and leaves it.
    time.sleep(1.5)
    status = afk.statuses([held])[held]
    assert (status.status, status.executor_id) == ("PENDING", running_on)
    afk.stop(survivor)

    (afk.workdir / "hold").unlink()
    afk.start_worker(running_on)
    status = afk.wait_status(held, "SUCCESS", "the restarted worker to finish the recovered workflow")
    assert (status.output, status.executor_id) == (running_on, running_on)
    assert "Recovering 1 workflows" in afk.log(running_on)
    steps = afk.steps()
    # `begin` had completed and is not re-run; `work` was cut off by the kill, so it runs again, to the end once.
    assert (steps[("begin", held)], steps[("work", held)], steps[("finish", held)]) == (1, 2, 1), steps
    afk.stop(running_on)
