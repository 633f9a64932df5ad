"""Kill the writer at random moments: every state and artifact file is always one complete version.

A fork server (one Python process that has already imported the harness) forks a writer that
rewrites a file in a tight loop; the test SIGKILLs it after a random delay, reaps it, and checks
what a reader — or the next run — would find. Forking keeps each round to milliseconds, so many
kills fit in a few seconds.

What a kill leaves behind, by design: ``atomic_write_*`` writes ``.<name>.<pid>.<random>.tmp`` and
renames it over the target, so a writer killed mid-write leaves its temp file (nothing can remove it
at that moment). The next write of the same file removes temp files whose writer process is gone
(``fsutil.remove_orphaned_temps``), so at most one orphan exists at a time and none survives the
next write. The trace is append-only JSONL: a kill mid-line can cut off only the last line, which
``read_trace`` skips and the next ``Trace`` on the file drops before appending.
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.artifacts import load_contract
from harness.fsutil import atomic_write_bytes, atomic_write_text, remove_orphaned_temps
from harness.trace import Trace, read_trace

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork() and SIGKILL (POSIX)")

KILLS = 30
BIG = 5_000_000  # bytes per version: a write takes long enough to be hit mid-way

_SERVER = """
import os, sys
{setup}
for line in sys.stdin:
    command, _, argument = line.strip().partition(" ")
    if command == "spawn":
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(ready_r)
                write(0)  # one complete write (which also clears orphans) before the test may kill
                os.write(ready_w, b"!")
                os.close(ready_w)
                i = 1
                while True:
                    write(i)
                    i += 1
            finally:
                os._exit(70)
        os.close(ready_w)
        ok = os.read(ready_r, 1)
        os.close(ready_r)
        print(pid if ok else "failed", flush=True)
    elif command == "reap":
        os.waitpid(int(argument), 0)
        print("reaped", flush=True)
"""


class ForkServer:
    """A Python process that forks writers on request (``write(i)`` is defined by ``setup``)."""

    def __init__(self, setup: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER.format(setup=setup)],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def _ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer and answer != "failed", f"the fork server could not {line!r} (its stderr has the error)"
        return answer

    def spawn(self) -> int:
        return int(self._ask("spawn"))

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        self._ask(f"reap {pid}")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def fork_server(tmp_path: Path) -> Iterator[Callable[[str], ForkServer]]:
    servers: list[ForkServer] = []

    def start(setup: str) -> ForkServer:
        servers.append(ForkServer(setup, tmp_path))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def temps_of(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.") and p.name.endswith(".tmp"))


def kill_repeatedly(
    server: ForkServer, path: Path, check: Callable[[], None], *, kills: int = KILLS, max_delay: float = 0.06
) -> int:
    """Kill ``kills`` writers at random moments, calling ``check`` after each; return how many were
    killed mid-write (they left a temp file behind)."""
    rng = random.Random(1234)
    mid_write = 0
    for _ in range(kills):
        pid = server.spawn()
        # The previous round's orphan is gone: the new writer's first write removed it.
        assert len(temps_of(path)) <= 1
        time.sleep(rng.uniform(0.0, max_delay))
        server.kill(pid)
        check()
        left = temps_of(path)
        assert len(left) <= 1, f"temp files pile up: {[p.name for p in left]}"
        if left:
            assert f".{pid}." in left[0].name  # only the writer just killed left one
            mid_write += 1
    return mid_write


# Two versions that differ everywhere and in length: an empty file, a prefix or a mix is detectable.
VERSIONS = f"""
BIG = {BIG}
texts = ["version " + tag + "\\n" + tag * (BIG + n) + "\\nend\\n" for n, tag in enumerate("AB")]
"""


def shared(source: str) -> dict[str, object]:
    """Run setup source here too, so the test knows exactly what the writer writes."""
    namespace: dict[str, object] = {}
    exec(source, namespace)
    return namespace


# --------------------------------------------------------------------------- atomic_write_text


def test_a_kill_during_atomic_write_text_leaves_one_complete_version(
    tmp_path: Path, fork_server: Callable[[str], ForkServer]
) -> None:
    path = tmp_path / "artifact.txt"
    versions = shared(VERSIONS)["texts"]
    server = fork_server(
        VERSIONS
        + f"""
from pathlib import Path
from harness.fsutil import atomic_write_text
def write(i):
    atomic_write_text(Path({str(path)!r}), texts[i % 2])
"""
    )

    def check() -> None:
        # never empty, never a prefix, never a mix of the two
        assert path.read_text(encoding="utf-8") in versions  # type: ignore[operator]

    mid_write = kill_repeatedly(server, path, check)
    assert mid_write >= KILLS // 4, f"only {mid_write} of {KILLS} kills landed mid-write; the test proves little"
    # A normal write after all that leaves the file and nothing else.
    atomic_write_text(path, "final\n")
    assert path.read_text() == "final\n" and temps_of(path) == []


def test_a_kill_during_the_state_json_write_leaves_valid_json(
    tmp_path: Path, fork_server: Callable[[str], ForkServer]
) -> None:
    # The run's state.json is written the way pipeline._Run.save_state writes it.
    path = tmp_path / "runs" / "20250101-000000-001" / "state.json"
    server = fork_server(
        f"""
import json
from pathlib import Path
from harness.fsutil import atomic_write_text
path = Path({str(path)!r})
states = [
    json.dumps({{"issue": "001", "phase": phase, "status": "running", "detail": phase * {BIG // 8}}}, indent=2) + "\\n"
    for phase in ("red", "green")
]
def write(i):
    atomic_write_text(path, states[i % 2])
"""
    )

    def check() -> None:
        state = json.loads(path.read_text(encoding="utf-8"))
        assert state["phase"] in ("red", "green") and state["detail"] == state["phase"] * (BIG // 8)

    kill_repeatedly(server, path, check)


def test_a_kill_during_save_contract_leaves_a_loadable_contract(
    tmp_path: Path, fork_server: Callable[[str], ForkServer]
) -> None:
    path = tmp_path / "wt" / ".harness" / "contracts" / "001.md"
    contracts = """
from harness.artifacts import Contract, ContractProposal, ContractReview, Criterion
def contract(n):
    criteria = [
        Criterion(id=f"C{k}", behaviour=f"behaviour {k} " + "x" * 200, test=f"tests/test_a.py::test_{k}")
        for k in range(n)
    ]
    return Contract(issue="001").propose(ContractProposal(criteria=criteria, notes="n" * 20_000))
contracts = [contract(3), contract(30).review(ContractReview(decision="accept"), max_rounds=3)]
"""
    server = fork_server(
        contracts
        + f"""
from pathlib import Path
from harness.artifacts import save_contract
def write(i):
    save_contract(Path({str(path)!r}), contracts[i % 2])
"""
    )
    expected = [c.model_dump() for c in shared(contracts)["contracts"]]  # type: ignore[attr-defined]

    def check() -> None:
        assert load_contract(path).model_dump() in expected

    kill_repeatedly(server, path, check, kills=20)


# --------------------------------------------------------------------------- the trace (append-only JSONL)


def test_a_kill_mid_trace_line_never_corrupts_earlier_events(
    tmp_path: Path, fork_server: Callable[[str], ForkServer]
) -> None:
    path = tmp_path / "run" / "trace.jsonl"
    server = fork_server(
        f"""
import os
from pathlib import Path
from harness.trace import Trace
trace = None
def write(i):
    global trace
    if trace is None:
        trace = Trace(Path({str(path)!r}))
    # big events, so some kills land inside a line
    trace.event("tick", writer=os.getpid(), i=i, pad="x" * (20_000 + i % 7 * 10_000))
"""
    )
    seen: list[tuple[int, int]] = []

    def check() -> None:
        events = read_trace(path)  # a last line cut off by the kill is skipped
        keys = [(e["writer"], e["i"]) for e in events]
        assert keys[: len(seen)] == seen, "an earlier event changed or vanished"
        assert all(e["kind"] == "tick" and len(e["pad"]) >= 20_000 for e in events)
        # Every writer's events are consecutive from 0: nothing in the middle was lost or glued together.
        by_writer: dict[int, list[int]] = {}
        for writer, i in keys:
            by_writer.setdefault(writer, []).append(i)
        assert all(numbers == list(range(len(numbers))) for numbers in by_writer.values())
        *complete, _cut_off = path.read_bytes().split(b"\n")
        assert all(json.loads(line)["kind"] == "tick" for line in complete)  # every complete line is whole
        seen[:] = keys

    kill_repeatedly(server, path, check, max_delay=0.015)  # the file only grows: keep it to some MB
    # The next writer ends the file on a line boundary before appending.
    trace = Trace(path)
    trace.event("after")
    trace.close()
    assert read_trace(path)[-1]["kind"] == "after"
    assert all(json.loads(line) for line in path.read_bytes().splitlines())


def _trace_with(path: Path, *events: str) -> None:
    trace = Trace(path)
    for kind in events:
        trace.event(kind)
    trace.close()


def test_read_trace_skips_a_last_line_cut_off_mid_write(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    _trace_with(path, "one", "two")
    complete = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(b'{"ts": "2025", "kind": "thr')
    assert [e["kind"] for e in read_trace(path)] == ["one", "two"]
    # Cut inside a multi-byte character: still only the complete events.
    path.write_bytes(complete + '{"kind": "é'.encode()[:-1])
    assert [e["kind"] for e in read_trace(path)] == ["one", "two"]


def test_read_trace_keeps_a_complete_last_event_without_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    _trace_with(path, "one", "two")
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert [e["kind"] for e in read_trace(path)] == ["one", "two"]


def test_read_trace_reports_a_corrupt_line_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    _trace_with(path, "one")
    with path.open("ab") as handle:
        handle.write(b"garbage\n")
    _trace_with(path, "three")
    with pytest.raises(ValueError, match=r"trace\.jsonl:2: not a trace event"):
        read_trace(path)


def test_a_new_trace_on_a_cut_off_file_drops_the_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    _trace_with(path, "one")
    with path.open("ab") as handle:
        handle.write(b'{"kind": "cut off')
    _trace_with(path, "two")
    assert [e["kind"] for e in read_trace(path)] == ["one", "two"]
    assert path.read_bytes().count(b"\n") == 2


def test_a_new_trace_terminates_a_complete_last_line(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    _trace_with(path, "one")
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    _trace_with(path, "two")
    assert [e["kind"] for e in read_trace(path)] == ["one", "two"]


def test_a_new_trace_on_a_file_that_is_one_partial_line_starts_it_over(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b'{"kind": "cut' + b"x" * 200_000)  # longer than one backwards read block
    _trace_with(path, "one")
    assert [e["kind"] for e in read_trace(path)] == ["one"]


def test_trace_lines_survive_line_separators_and_lone_surrogates(tmp_path: Path) -> None:
    # JSON leaves U+2028, U+2029 and NEL unescaped (ensure_ascii=False); str.splitlines() splits on them.
    # A lone surrogate (a model's JSON "\\ud83d", an undecodable file name) cannot be encoded as UTF-8.
    path = tmp_path / "trace.jsonl"
    odd = "a\u2028b\u2029c\x85d\x1ce \udcff \ud83d"
    trace = Trace(path)
    trace.event("text", text=odd)
    trace.event("after")
    trace.close()
    events = read_trace(path)
    assert [e["kind"] for e in events] == ["text", "after"]
    assert events[0]["text"] == odd


# --------------------------------------------------------------------------- orphaned temp files


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_next_write_removes_temp_files_of_killed_writers_only(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    dead = tmp_path / f".state.json.{_dead_pid()}.abc123_x.tmp"
    dead.write_text("half a write")
    live_writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".state.json.{live_writer.pid}.zz9_qq.tmp"
        live.write_text("being written")
        mine = tmp_path / f".state.json.{os.getpid()}.mine1234.tmp"
        mine.write_text("this process is writing it")
        # Look-alikes: a killed writer's temp of another file ("state.json.5"), names that are not temps.
        lookalikes = [
            tmp_path / f".state.json.5.{_dead_pid()}.abcdefgh.tmp",
            tmp_path / ".state.json.notapid.abc.tmp",
            tmp_path / f"state.json.{_dead_pid()}.abc.tmp",
            tmp_path / f".state.json.{_dead_pid()}.abc.tmp.bak",
        ]
        for extra in lookalikes:
            extra.write_text("x")
        atomic_write_text(path, "new")
        assert path.read_text() == "new"
        assert not dead.exists()
        assert live.exists() and mine.exists()
        assert all(p.exists() for p in lookalikes)
    finally:
        live_writer.kill()
        live_writer.wait()


def test_remove_orphaned_temps_reports_what_it_removed(tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    orphan = tmp_path / f".verdict.json.{_dead_pid()}.k2j4h5g6.tmp"
    orphan.write_text("x")
    assert remove_orphaned_temps(path) == [orphan]
    assert remove_orphaned_temps(tmp_path / "missing-dir" / "x") == []


def test_a_failed_write_keeps_the_old_version_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "contract.md"
    atomic_write_bytes(path, b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old" and temps_of(path) == []


def test_write_inside_never_follows_a_planted_link(tmp_path: Path) -> None:
    from harness.fsutil import write_inside

    root, outside = tmp_path / "worktree", tmp_path / "outside"
    (root / ".harness").mkdir(parents=True)
    outside.mkdir()
    (outside / "001.md").write_text("the user's file\n")
    (root / ".harness" / "contracts").symlink_to(outside)  # a directory on the way replaced by a link
    write_inside(root, ".harness/contracts/001.md", "contract\n")
    assert (outside / "001.md").read_text() == "the user's file\n"
    assert not (root / ".harness" / "contracts").is_symlink()
    assert (root / ".harness" / "contracts" / "001.md").read_text() == "contract\n"
    # the file itself replaced by a link: the link is replaced, its target untouched
    (root / ".harness" / "contracts" / "001.md").unlink()
    (root / ".harness" / "contracts" / "001.md").symlink_to(outside / "001.md")
    write_inside(root, ".harness/contracts/001.md", "again\n")
    assert (outside / "001.md").read_text() == "the user's file\n"
    assert (root / ".harness" / "contracts" / "001.md").read_text() == "again\n"
    with pytest.raises(ValueError):
        write_inside(root, "../escape.md", "x")


def test_read_inside_reads_only_a_regular_file_reached_without_links(tmp_path: Path) -> None:
    import os

    from harness.fsutil import read_inside

    root, outside = tmp_path / "worktree", tmp_path / "outside"
    (root / "d").mkdir(parents=True)
    outside.mkdir()
    (outside / "f").write_text("outside\n")
    (root / "d" / "f").write_text("inside\n")
    assert read_inside(root, "d/f") == b"inside\n"
    (root / "link").symlink_to(outside)
    assert read_inside(root, "link/f") is None
    os.mkfifo(root / "d" / "fifo")
    assert read_inside(root, "d/fifo") is None  # returns at once: a FIFO never blocks the harness
    assert read_inside(root, "d") is None and read_inside(root, "missing/f") is None


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_mode_a_plain_write_would_and_a_replaced_one_keeps_its_own(
    tmp_path: Path, umask: int
) -> None:
    previous = os.umask(umask)
    try:
        plain = tmp_path / "plain.md"
        plain.write_text("x")
        atomic = tmp_path / "atomic.md"
        atomic_write_text(atomic, "x")
        assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o666 & ~umask
        script = tmp_path / "run.sh"
        script.write_text("#!/bin/sh\n")
        script.chmod(0o750)
        atomic_write_text(script, "#!/bin/sh\necho\n")
        assert stat.S_IMODE(script.stat().st_mode) == 0o750
    finally:
        os.umask(previous)
