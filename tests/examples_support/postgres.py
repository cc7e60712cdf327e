"""A throwaway PostgreSQL cluster for a test: ``initdb`` in a temp dir, ``pg_ctl`` start and stop, on 127.0.0.1.

The server refuses to run as root, so when the tests run as root the cluster
belongs to the ``postgres`` user (Debian's package creates it) and the
commands run through ``runuser``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateways.harness import free_port, missing


def pg_bin() -> Path:
    """The directory of Debian's PostgreSQL programs (the newest installed version)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        missing("PostgreSQL is not installed (run .ci/install-examples)")
    return found[-1].parent


@dataclass
class Cluster:
    port: int
    data: Path
    user: str

    def url(self, database: str = "wiki") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "wiki") -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={database}"


def _as_owner(owner: str | None, argv: list[str]) -> list[str]:
    return ["runuser", "-u", owner, "--", *argv] if owner else argv


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


@contextlib.contextmanager
def postgres_cluster(root: Path) -> Iterator[Cluster]:
    """A running cluster with a ``wiki`` database; stopped (by its PID if pg_ctl cannot) at the end."""
    bindir = pg_bin()
    owner = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing("no 'postgres' user to run PostgreSQL as (the server refuses root)")
        owner = "postgres"
    home = root / "pg"
    home.mkdir(mode=0o700)
    data, sock, log = home / "data", home / "run", home / "server.log"
    sock.mkdir()
    if owner:
        for path in (home, sock):
            shutil.chown(path, owner, owner)
    user = owner or pwd.getpwuid(os.geteuid()).pw_name
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"]
    _run(_as_owner(owner, initdb), "initdb")
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {sock} -c fsync=off -c full_page_writes=off"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "30"]
    pid = None
    try:
        _run(_as_owner(owner, [*pg_ctl, "start"]), "pg_ctl start")
        pid = int((data / "postmaster.pid").read_text().split()[0])
        _run(
            _as_owner(owner, [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, "wiki"]),
            "createdb",
        )
        yield Cluster(port, data, user)
    finally:
        subprocess.run(_as_owner(owner, [*pg_ctl, "-m", "fast", "stop"]), capture_output=True, timeout=60)
        if pid is not None:
            _kill_if_alive(pid)
        shutil.rmtree(home, ignore_errors=True)


def _kill_if_alive(pid: int) -> None:
    for _ in range(100):  # bounded: 10 s
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
