"""A throwaway PostgreSQL cluster for tests that need a real server (docs/postgres.md).

Import the fixtures into a test module; they are registered under the names ``postgres_url`` and
``fresh_database``, so a test's parameters do not shadow the import (ruff's F811)::

    from pgserver import fresh_database_fixture, postgres_url_fixture  # noqa: F401

    def test_something(fresh_database: str) -> None: ...

``postgres_url`` starts one cluster per test session, on a free port of 127.0.0.1 with ``trust`` auth and fsync
off, and throws it away at the end. ``fresh_database`` gives each test its own empty database on it.

When the server binaries are missing the tests skip, except on CI (``CI`` set) or with
``HARNESS_REQUIRE_POSTGRES=1``, where they fail: `.ci/run` installs the server, so a missing one is a broken CI.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest

INSTALL_HINT = "install the PostgreSQL server: apt-get install -y postgresql"
SUPERUSER = "postgres"
SESSION_DATABASE = "harness_test"
# initdb refuses to run as root, and so does the server: as root, both run as the Debian package's system user.
SERVER_USER = "postgres"


@dataclass(frozen=True)
class Cluster:
    """A running throwaway cluster: where it lives and how to reach it."""

    bin_dir: Path
    root: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"


def find_bin_dir() -> Path | None:
    """The directory holding initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, else the PATH."""

    def major(path: str) -> int:
        found = re.search(r"/postgresql/(\d+)/", path)
        return int(found.group(1)) if found else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(os.path.realpath(on_path))
    for initdb in candidates:
        bin_dir = Path(initdb).parent
        if all((bin_dir / tool).is_file() for tool in ("pg_ctl", "postgres", "createdb")):
            return bin_dir
    return None


def postgres_required() -> bool:
    """On CI a missing server is a failure, not a skip."""
    ci = os.environ.get("CI", "").strip().lower()
    return os.environ.get("HARNESS_REQUIRE_POSTGRES") == "1" or ci not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    message = f"PostgreSQL tests need a server: {reason}; {INSTALL_HINT}"
    if postgres_required():
        pytest.fail(f"{message} (required here: CI or HARNESS_REQUIRE_POSTGRES=1)", pytrace=False)
    pytest.skip(message)


def _as_server_user() -> dict[str, Any]:
    """subprocess keyword arguments that drop root to the unprivileged server user (and nothing as non-root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": SERVER_USER, "group": pwd.getpwnam(SERVER_USER).pw_gid, "extra_groups": []}


def _run(cluster_root: Path, *argv: str | Path) -> None:
    done = subprocess.run(
        [str(arg) for arg in argv],
        cwd=cluster_root,
        capture_output=True,
        text=True,
        timeout=120,
        **_as_server_user(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {done.returncode}:\n{done.stdout}{done.stderr}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_cluster(bin_dir: Path) -> Cluster:
    """initdb a cluster in a new temp dir and start it; the caller stops it with `stop_cluster`."""
    root = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVER_USER)
        os.chown(root, account.pw_uid, account.pw_gid)
    cluster = Cluster(bin_dir=bin_dir, root=root, port=_free_port())
    try:
        initdb: list[str | Path] = ["-D", cluster.data_dir, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"]
        _run(root, bin_dir / "initdb", *initdb, "--no-locale", "--no-sync")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{root}'",
            # Throwaway data: durability only costs time.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # Several DBOS processes at once, each with its own connection pool.
            "max_connections": "300",
        }
        with (cluster.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("".join(f"{key} = {value}\n" for key, value in settings.items()))
        # The port is free when probed but may be taken before the server binds it: try a few.
        for attempt in range(3):
            if attempt:
                cluster = Cluster(bin_dir=bin_dir, root=root, port=_free_port())
            try:
                start: list[str | Path] = ["start", "-w", "-t", "60", "-D", cluster.data_dir, "-l", cluster.log_file]
                _run(root, bin_dir / "pg_ctl", *start, "-o", f"-p {cluster.port}")
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        _run(root, bin_dir / "createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", SUPERUSER, SESSION_DATABASE)
    except BaseException as error:
        log = cluster.log_file.read_text(errors="replace")[-4000:] if cluster.log_file.exists() else ""
        stop_cluster(cluster)
        if isinstance(error, RuntimeError):
            raise RuntimeError(f"could not start a throwaway PostgreSQL cluster: {error}\n{log}") from None
        raise
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    if (cluster.data_dir / "postmaster.pid").exists():
        subprocess.run(
            [str(cluster.bin_dir / "pg_ctl"), "stop", "-m", "immediate", "-D", str(cluster.data_dir)],
            cwd=cluster.root,
            capture_output=True,
            timeout=60,
            **_as_server_user(),
        )
    shutil.rmtree(cluster.root, ignore_errors=True)


def create_database(postgres_url: str, name: str | None = None) -> str:
    """Create an empty database on the session's cluster and return its URL."""
    name = name or f"t_{uuid.uuid4().hex[:16]}"
    server = urlsplit(postgres_url)
    bin_dir = find_bin_dir()
    assert bin_dir is not None, "the postgres_url fixture found the binaries, so they are there"
    subprocess.run(
        [str(bin_dir / "createdb"), "-h", str(server.hostname), "-p", str(server.port), "-U", SUPERUSER, name],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return server._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session", name="postgres_url")
def postgres_url_fixture() -> Iterator[str]:
    """URL of the database `harness_test` on a throwaway cluster that lives for the test session."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _unavailable("no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            _unavailable(f"running as root needs the unprivileged user {SERVER_USER!r}, which the package creates")
    cluster = start_cluster(bin_dir)
    try:
        yield cluster.url(SESSION_DATABASE)
    finally:
        stop_cluster(cluster)


@pytest.fixture(name="fresh_database")
def fresh_database_fixture(postgres_url: str) -> str:
    """URL of a new, empty database for this test alone (dropped with the cluster at the end of the session)."""
    return create_database(postgres_url)
