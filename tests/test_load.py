"""Load, bounded, on 127.0.0.1: the wiki under gunicorn and wrk, the dev server under concurrent
clients, and gunicorn's graceful shutdown with requests in flight.

- The wiki (``examples/wiki``, a real SQLite file) under gunicorn's gthread workers takes
  ``wrk`` at 64 connections with a mix of reads and saves (``tests/load/wiki_mix.lua``), in three
  rounds: no status but the expected ones, no socket error, every save answered 303 is in the
  database, and each worker's open files and RSS do not grow from the first round to the last.
- The threaded wsgiref dev server, 64 clients at once against ``tests/load/crosstalk.py``: every
  answer carries its own client's id in every field (request, session, resource).
- gunicorn gets SIGTERM while slow writes (``tests/load/slowwrite.py``) are in flight: each one
  completes and is committed, and the next start serves all of them.

The figures each test measured are printed (``pytest -s`` shows them) and quoted in docs/deployment/load.md.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from examples_support import EXAMPLES
from examples_support.servers import HttpClient, Reply, save, sign_in
from gateways.harness import ServerProcess, descendants, free_port, need_modules, program, running

pytestmark = [pytest.mark.load, pytest.mark.slow]

LOAD = Path(__file__).parent / "load"
CONNECTIONS = 64
WRK_THREADS = 2  # one wiki user each; the machine has 2 cores
WARMUP_SECONDS = 3
LOAD_ROUNDS = 3  # growth is measured from the end of the first round to the end of the last
LOAD_SECONDS = 6
GTHREADS = 8  # threads per gunicorn worker
SECRET = "load-test-secret-0123456789abcdef"
#: How much a worker's RSS may grow from the end of the first round to the end of the last. Seen: 0.5 to
#: 0.9 MiB, outside Python's heap (a one-off tracemalloc run of the wiki in one process, 8 threads,
#: found +20 to +90 KiB over the first 10,000 requests after a warm-up, then none): SQLite's page
#: cache, up to 2 MiB for each of the 5 pooled connections, and the allocator. Keeping a request's
#: objects (environ, Request, ORM session with its rows: a few KiB) would be several MiB over the
#: 2,000 to 3,000 requests each worker serves in a run.
RSS_GROWTH_KIB = 4096


# ---------------------------------------------------------------- wrk and its report


@dataclass
class WrkRun:
    """What wrk and the Lua script's done() reported."""

    requests: int = 0
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    sent: dict[int, int] = field(default_factory=dict)  # wrk thread -> saves sent
    stray: int = 0
    saved: list[str] = field(default_factory=list)  # the pages whose save was answered 303
    latency_ms: dict[str, float] = field(default_factory=dict)
    output: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def parse_wrk(output: str) -> WrkRun:
    run = WrkRun(output=output)
    for line in output.splitlines():
        kind, _, rest = line.removeprefix("LOAD ").partition(" ")
        if not line.startswith("LOAD "):
            continue
        words = rest.split()
        values = dict(word.split("=") for word in words if "=" in word)
        if kind == "summary":
            run.requests, run.seconds = int(values["requests"]), int(values["duration_us"]) / 1e6
        elif kind == "errors":
            run.errors = {key: int(value) for key, value in values.items()}
        elif kind == "latency_us":
            run.latency_ms = {key: int(value) / 1000 for key, value in values.items()}
        elif kind == "thread":
            run.sent[int(words[0])] = int(values["sent"])
            run.stray += int(values["stray"])
        elif kind == "status":
            run.statuses[int(words[0])] += int(words[1])
        elif kind == "saved":
            run.saved.append(words[0])
    assert run.requests and run.errors, f"no summary from the Lua script's done():\n{output}"
    return run


def run_wrk(port: int, seconds: int, run_name: str, users: list[tuple[str, str]]) -> WrkRun:
    argv = [program("wrk"), f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s"]
    # SQLite has one writer at a time: a save may queue for the lock for seconds (p99 about 1 s,
    # the worst seen 7.7 s on this shared machine), and the wiki lets it wait up to 30 s before
    # giving up. wrk waits as long; its default of 2 s would count a queued save as an error.
    argv += ["--timeout", "30s", "-s", str(LOAD / "wiki_mix.lua"), f"http://127.0.0.1:{port}", "--", run_name]
    for cookie, token in users:
        argv += [cookie, token]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    assert done.returncode == 0, done.stdout + done.stderr
    return parse_wrk(done.stdout)


# ---------------------------------------------------------------- a worker's resources


@dataclass(frozen=True)
class Usage:
    """A process's open files by kind (sockets, pipes, ... and files by path) and its RSS."""

    fds: Counter[str]
    rss_kib: int

    @property
    def sockets(self) -> int:
        return self.fds["socket"]


def usage(pid: int) -> Usage:
    fds: Counter[str] = Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:  # closed meanwhile
            continue
        fds[target.split(":[", 1)[0]] += 1  # "socket:[123]" -> "socket"; a path stays a path
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]
    return Usage(fds, rss)


def workers(server: ServerProcess) -> list[int]:
    assert server.proc is not None
    return sorted(pid for pid, _ in descendants(server.proc.pid))


def idle_usage(pids: list[int], listening: dict[int, int]) -> dict[int, Usage]:
    """Each worker's usage once the client's connections are closed (only its listening socket left).

    wrk leaves its keep-alive connections open when it stops; a gthread worker closes each as soon as
    it reads the end of it. Bounded: 5 s, more than gunicorn's 2 s keep-alive timeout.
    """
    seen: dict[int, Usage] = {}
    for _ in range(50):
        seen = {pid: usage(pid) for pid in pids}
        if all(seen[pid].sockets == listening[pid] for pid in pids):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"connections still open 5 s after the load stopped: {seen}")


# ---------------------------------------------------------------- the wiki under gunicorn (gthread)


@contextmanager
def wiki_on_gunicorn(g: Path) -> Iterator[tuple[ServerProcess, int]]:
    port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
        "--worker-class", "gthread", "--workers", "2", "--threads", str(GTHREADS),
        "--no-control-socket", "--chdir", str(EXAMPLES), "wiki:create_app()",
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(g), "DATABASE_URL": f"sqlite:///{g}/wiki.sqlite3", "SECRET_KEY": SECRET}
    server = ServerProcess("gunicorn", argv, g / "gunicorn.log", env)
    with running((server, port)):
        yield server, port


def booted_workers(server: ServerProcess, count: int, database: Path) -> list[int]:
    """The worker PIDs, once all ``count`` have loaded the app (each has ``database`` open)."""
    pids: list[int] = []
    for _ in range(100):  # 10 s
        pids = workers(server)
        if len(pids) == count and all(usage(pid).fds[str(database)] for pid in pids):
            return pids
        time.sleep(0.1)
    raise AssertionError(f"gunicorn has workers {pids}, not {count} with the app loaded:\n{server.log_tail()}")


def wiki_saves(database: Path, run_name: str) -> dict[str, tuple[int, str, str]]:
    """Every page of this run in the SQLite file: name -> (revisions, author, text of revision 1)."""
    query = (
        "SELECT p.name, COUNT(*), MIN(r.author), MIN(r.text) FROM pages p JOIN revisions r ON r.page_id = p.id"
        " WHERE p.name LIKE ? GROUP BY p.name"
    )
    with closing(sqlite3.connect(database)) as conn:
        rows = conn.execute(query, (f"Load{run_name}T%",)).fetchall()
    return {name: (count, author, text) for name, count, author, text in rows}


def check_saves(run: WrkRun, database: Path, run_name: str) -> int:
    """Every save answered 303 is in the database, as sent; the others are saves wrk left in flight."""
    stored = wiki_saves(database, run_name)
    for name in run.saved:
        thread, number = (int(n) for n in re.fullmatch(rf"Load{run_name}T(\d+)N(\d+)", name).groups())  # type: ignore[union-attr]
        assert stored.get(name) == (1, f"Load{thread}", f"Load marker {name} from thread {thread} save {number}.")
    sent = {f"Load{run_name}T{t}N{n}" for t, count in run.sent.items() for n in range(1, count + 1)}
    assert set(stored) <= sent, set(stored) - sent
    # wrk stops without waiting for the answers on its open connections: at most one save each.
    unanswered = set(stored) - set(run.saved)
    assert len(unanswered) <= CONNECTIONS, unanswered
    return len(stored)


def wiki_users(port: int) -> list[tuple[str, str]]:
    """One wiki user per wrk thread, signed in: (session cookie, CSRF token). The first saves FrontPage."""
    users = []
    for number in range(1, WRK_THREADS + 1):
        client = HttpClient(port)
        token = sign_in(client, "", f"Load{number}")
        users.append((client.cookies["session"], token))
        if number == 1:
            assert save(client, "", token, "FrontPage", "The front page of the load test.", 0).status == 303
    return users


def report(run: WrkRun, before: dict[int, Usage], after: dict[int, Usage]) -> None:
    print(
        f"\nwiki on gunicorn gthread (2 workers x 8 threads), wrk {CONNECTIONS} connections, {run.seconds:.1f} s:"
        f" {run.requests} requests, {run.rate:.0f} req/s, statuses {dict(run.statuses)}, errors {run.errors},"
        f" latency ms {run.latency_ms}"
    )
    for pid in before:
        print(f"  worker {pid}: fds {sum(before[pid].fds.values())} -> {sum(after[pid].fds.values())},"
              f" RSS {before[pid].rss_kib} -> {after[pid].rss_kib} KiB")  # fmt: skip


def test_wiki_under_wrk_on_gunicorn_gthread(tmp_path: Path) -> None:
    need_modules("gunicorn", "sqlalchemy", "jinja2")
    database = tmp_path / "wiki.sqlite3"
    with wiki_on_gunicorn(tmp_path) as (server, port):
        pids = booted_workers(server, 2, database)
        listening = {pid: usage(pid).sockets for pid in pids}
        users = wiki_users(port)
        # The warm-up fills what a worker keeps for good (the ORM's pool of SQLite connections,
        # template and statement caches).
        warmup = run_wrk(port, WARMUP_SECONDS, "Warm", users)
        assert warmup.errors == dict.fromkeys(warmup.errors, 0), warmup.output
        rounds = []
        usages = [idle_usage(pids, listening)]
        for number in range(1, LOAD_ROUNDS + 1):
            rounds.append(run_wrk(port, LOAD_SECONDS, f"R{number}", users))
            usages.append(idle_usage(pids, listening))
        assert workers(server) == pids, "a worker was restarted during the run"
        log = server.log.read_text(errors="replace")
    for number, run in enumerate(rounds, 1):
        report(run, usages[number - 1], usages[number])
        assert run.errors == dict.fromkeys(run.errors, 0), run.output  # connect, read, write, timeout, status
        assert set(run.statuses) <= {200, 303}, run.statuses  # reads 200, saves 303; no page is saved twice
        assert run.stray == 0 and sum(run.statuses.values()) == run.requests
        assert len(run.saved) == run.statuses[303] > 0
        stored = check_saves(run, database, f"R{number}")
        print(f"  saves: {sum(run.sent.values())} sent, {len(run.saved)} answered 303 and all of them in the"
              f" database; {stored} stored (the others were in flight when wrk stopped)")  # fmt: skip
    for pid in pids:
        check_no_growth(pid, usages[1][pid], usages[-1][pid], str(database))
    assert "Traceback" not in log and "WORKER TIMEOUT" not in log, log[-3000:]


def check_no_growth(pid: int, first: Usage, last: Usage, database: str) -> None:
    """A worker's open files and RSS after the last round against those after the first: no growth.

    How many of the pool's SQLite connections are open when the load stops depends on how many
    threads happened to need one at once, so the database's count may differ between two rounds by
    chance, but never exceeds one per thread. A leak grows with the thousands of requests of each
    round, past any such bound; every other kind of file (sockets, pipes, ...) must not grow at all.
    """
    for kind, count in last.fds.items():
        bound = max(first.fds[kind], GTHREADS) if kind == database else first.fds[kind]
        assert count <= bound, (pid, kind, first.fds, last.fds)
    assert last.rss_kib - first.rss_kib < RSS_GROWTH_KIB, (pid, first, last)


# ---------------------------------------------------------------- the threaded dev server: no cross-talk

CROSSTALK_CLIENTS = 64
CROSSTALK_SECONDS = 6
CROSSTALK_MAX_REQUESTS = 300  # per client: a bound on the count as well as on the time


@dataclass
class ClientLog:
    """What one client of the cross-talk test saw."""

    requests: int = 0
    wrong: list[str] = field(default_factory=list)
    slowest: float = 0.0


def crosstalk_client(port: int, client_id: str, deadline: float, log: ClientLog) -> None:
    client = HttpClient(port)
    started = client.get(f"/start/{client_id}")
    if started.status != 200 or "session" not in client.cookies:
        log.wrong.append(f"start: {started.status} {started.text[:200]}")
        return
    expected = {"path": client_id, "query": client_id, "header": client_id, "form": client_id}
    expected |= {"session": client_id, "resource": client_id, "url": f"/echo/{client_id}"}
    for count in range(1, CROSSTALK_MAX_REQUESTS + 1):
        if time.monotonic() > deadline:
            return
        begun = time.monotonic()
        reply = echo(client, client_id)
        log.slowest = max(log.slowest, time.monotonic() - begun)
        log.requests += 1
        seen = json.loads(reply.text) if reply.status == 200 else {}
        # The session's counter went up by one per request: a session written by another request's
        # thread would carry another count (or another client's id).
        if reply.status != 200 or seen != {**expected, "count": count}:
            log.wrong.append(f"request {count}: {reply.status} {reply.text[:300]}")
            return


def echo(client: HttpClient, client_id: str) -> Reply:
    """POST /echo/<id>?client=<id> with X-Client: <id>, the form field client=<id>, and the session."""
    headers = {"Host": f"127.0.0.1:{client.port}", "X-Client": client_id}
    headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    body = urlencode({"client": client_id}).encode()
    with closing(http.client.HTTPConnection("127.0.0.1", client.port, timeout=client.timeout)) as conn:
        conn.request("POST", f"/echo/{client_id}?client={client_id}", body=body, headers=headers)
        response = conn.getresponse()
        reply = Reply(response.status, response.headers, response.read().decode("utf-8", "replace"))
    for header in reply.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        client.cookies[name] = rest.split(";", 1)[0]
    return reply


def test_threaded_dev_server_keeps_concurrent_requests_apart(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "microweb", "run", "crosstalk:app", "--port", str(port)]  # wsgiref, threaded
    server = ServerProcess("wsgiref", argv, tmp_path / "wsgiref.log", {**os.environ}, LOAD)
    logs = {f"c{n}": ClientLog() for n in range(CROSSTALK_CLIENTS)}
    with running((server, port)):
        deadline = time.monotonic() + CROSSTALK_SECONDS
        threads = [
            threading.Thread(target=crosstalk_client, args=(port, client_id, deadline, log))
            for client_id, log in logs.items()
        ]
        begun = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CROSSTALK_SECONDS + 30)
        elapsed = time.monotonic() - begun
        assert not any(thread.is_alive() for thread in threads), "a client is still waiting for an answer"
        stats = json.loads(HttpClient(port).get("/stats").text)
    total = sum(log.requests for log in logs.values())
    slowest = max(log.slowest for log in logs.values())
    print(
        f"\nwsgiref (threaded), {CROSSTALK_CLIENTS} clients at once, {elapsed:.1f} s: {total} requests,"
        f" {total / elapsed:.0f} req/s, slowest {slowest * 1000:.0f} ms; resources {stats}"
    )
    wrong = {client_id: log.wrong for client_id, log in logs.items() if log.wrong}
    assert not wrong, wrong
    assert all(log.requests > 0 for log in logs.values())
    # Every request to /echo opened the resource once, and every one was closed before its answer left.
    assert stats == {"opened": total, "closed": total}, (stats, total)


# ---------------------------------------------------------------- gunicorn's graceful shutdown


def slowwrite_on_gunicorn(g: Path, port: int, worker_class: str, workers: int, threads: int) -> ServerProcess:
    argv = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--worker-class", worker_class,
        "--workers", str(workers), "--threads", str(threads), "--graceful-timeout", "20",
        "--no-control-socket", "--chdir", str(LOAD), "slowwrite:app",
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(g), "SLOWWRITE_DB": str(g / "writes.sqlite3"), "SLOWWRITE_STARTED": str(g)}
    return ServerProcess("gunicorn", argv, g / "gunicorn.log", env)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not {what} after {seconds} s")


@pytest.mark.parametrize(
    ("worker_class", "workers", "threads", "in_flight"),
    [("gthread", 2, 6, 6), ("sync", 3, 1, 3)],  # every request gets a thread of its own at once
)
def test_gunicorn_sigterm_lets_requests_in_flight_finish(
    tmp_path: Path, worker_class: str, workers: int, threads: int, in_flight: int
) -> None:
    need_modules("gunicorn")
    port = free_port()
    server = slowwrite_on_gunicorn(tmp_path, port, worker_class, workers, threads)
    replies: dict[int, Reply | BaseException] = {}

    def write(n: int) -> None:
        try:
            replies[n] = HttpClient(port).request("POST", f"/slow/{n}")
        except BaseException as exc:  # recorded: the assertion below names it
            replies[n] = exc

    with running((server, port)):
        assert server.proc is not None
        master = server.proc
        clients = [threading.Thread(target=write, args=(n,)) for n in range(1, in_flight + 1)]
        for thread in clients:
            thread.start()
        # Each request marks itself started, then waits at a gate before it writes: SIGTERM now
        # arrives while every one of them is in a view, none has written yet.
        wait_for(lambda: all((tmp_path / str(n)).exists() for n in range(1, in_flight + 1)), 30, "all started")
        assert not replies, f"answered before SIGTERM: {replies}"
        signalled = time.monotonic()
        master.send_signal(signal.SIGTERM)
        wait_for(lambda: "Handling signal: term" in server.log.read_text(errors="replace"), 30, "SIGTERM taken")
        (tmp_path / "release").touch()  # the views go on to write and commit, during the shutdown
        for thread in clients:
            thread.join(30)
        answered = time.monotonic() - signalled
        assert master.wait(30) == 0, server.log_tail()
        stopped = time.monotonic() - signalled
        log = server.log.read_text(errors="replace")
    print(f"\ngunicorn {worker_class}: {in_flight} requests in flight at SIGTERM, answered within {answered:.2f} s,"
          f" master gone after {stopped:.2f} s")  # fmt: skip
    for n in range(1, in_flight + 1):
        reply = replies.get(n)
        assert isinstance(reply, Reply) and reply.status == 200, (n, reply)
        assert json.loads(reply.text)["n"] == n
    assert "Handling signal: term" in log and "Traceback" not in log and "WORKER TIMEOUT" not in log, log
    with closing(sqlite3.connect(tmp_path / "writes.sqlite3")) as conn:
        assert [n for (n,) in conn.execute("SELECT n FROM writes ORDER BY n")] == list(range(1, in_flight + 1))
    # The next start, on the same port and database, serves again, with every committed write.
    again = slowwrite_on_gunicorn(tmp_path, port, worker_class, workers, threads)
    with running((again, port)):
        client = HttpClient(port)
        assert json.loads(client.get("/writes").text) == list(range(1, in_flight + 1))
        assert client.request("POST", f"/slow/{in_flight + 1}").status == 200
        assert json.loads(client.get("/writes").text) == list(range(1, in_flight + 2))
