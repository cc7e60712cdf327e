"""The wiki past one machine: PostgreSQL, two gunicorn instances, nginx balancing round-robin.

Everything is real and started here on 127.0.0.1: a PostgreSQL cluster made
with initdb in a temp dir, two gunicorn instances of the wiki sharing only
that database and the secret key, and nginx in front. The framework keeps
no state in the process, so a sign-in, an edit and a conflict check work
across instances, and killing one instance loses nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from examples_support import EXAMPLES
from examples_support.postgres import Cluster, postgres_cluster
from examples_support.servers import HttpClient, Reply, checked, save, sign_in
from gateways.harness import ServerProcess, descendants, free_port, need_modules, program, render_text, running

pytestmark = pytest.mark.slow

CONF = Path(__file__).parent / "examples_support" / "conf"
SECRET = "the-same-key-on-every-instance-0123"
SERVER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def render_conf(template: str, **values: str) -> str:
    return render_text(template, conf=CONF, **values)


@dataclass
class Site:
    port: int  # nginx
    app_ports: tuple[int, int]
    apps: tuple[ServerProcess, ServerProcess]
    db: Cluster
    g: Path

    def upstreams(self, request: str, count: int) -> list[str]:
        """The instances that answered ``request`` ("METHOD /path"), from nginx's access log.

        nginx writes a line just after it answers: wait (bounded) until ``count`` are there.
        """
        found: list[str] = []
        for _ in range(50):  # 5 s
            log = (self.g / "logs/access.log").read_text()
            found = [line.rsplit("upstream=", 1)[1] for line in log.splitlines() if line.startswith(request + " ")]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"nginx logged {request} {len(found)} times, not {count}")


def gunicorn(g: Path, name: str, port: int, db: Cluster) -> ServerProcess:
    argv = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--no-control-socket", "--chdir", str(EXAMPLES), "wiki:create_app()",
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(g), "DATABASE_URL": db.url(), "SECRET_KEY": SECRET}
    return ServerProcess(name, argv, g / f"logs/{name}.log", env)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    need_modules("gunicorn", "psycopg", "sqlalchemy")
    nginx = program("nginx")
    g = Path(tempfile.mkdtemp(prefix="microweb-scale-"))
    g.chmod(0o755)
    for sub in ("run", "logs", "tmp"):
        (g / sub).mkdir()
    shutil.chown(g / "tmp", "www-data", "www-data")
    try:
        with postgres_cluster(g) as db:
            ports = (free_port(), free_port())
            apps = (gunicorn(g, "gunicorn-1", ports[0], db), gunicorn(g, "gunicorn-2", ports[1], db))
            port = free_port()
            conf = g / "nginx.conf"
            conf.write_text(
                render_conf(
                    "nginx-wiki-upstream.conf",
                    G=str(g),
                    PORT=str(port),
                    APP1_PORT=str(ports[0]),
                    APP2_PORT=str(ports[1]),
                )
            )
            argv = [nginx, "-c", str(conf), "-p", f"{g}/", "-e", str(g / "logs/error.log")]
            checked([*argv, "-t"], "nginx")
            front = ServerProcess("nginx", argv, g / "logs/nginx.log", SERVER_ENV)
            with running((apps[0], ports[0]), (apps[1], ports[1]), (front, port)):
                yield Site(port, ports, apps, db, g)
    finally:
        shutil.rmtree(g, ignore_errors=True)


def test_sign_in_and_edits_hold_across_instances(site: Site) -> None:
    one, two = site.app_ports
    client = HttpClient(one)
    token = sign_in(client, "", "Ann")  # signed in through instance 1 ...
    client.port = two  # ... and the same cookie on instance 2
    edit_form = client.get("/FrontPage/edit")
    assert edit_form.status == 200 and '<strong id="user">Ann</strong>' in edit_form.text
    assert save(client, "", token, "FrontPage", "Saved through instance two.", 0).status == 303
    client.port = one
    assert "Saved through instance two." in client.get("/FrontPage").text  # read through instance 1
    assert "Revision 1 by Ann" in HttpClient(one).get("/FrontPage").text


def test_nginx_balances_round_robin(site: Site) -> None:
    front = HttpClient(site.port)
    for _ in range(6):
        assert front.get("/recent").status == 200
    used = site.upstreams("GET /recent", 6)
    assert {u.rsplit(":", 1)[1] for u in used} == {str(p) for p in site.app_ports}
    assert all(used[i] != used[i + 1] for i in range(5))  # alternating


def test_concurrent_edits_from_one_base_give_one_save_and_one_409(site: Site) -> None:
    ann, bob = HttpClient(site.app_ports[0]), HttpClient(site.app_ports[1])
    editors = {"Ann": (ann, sign_in(ann, "", "Ann")), "Bob": (bob, sign_in(bob, "", "Bob"))}
    assert save(ann, "", editors["Ann"][1], "SandBox", "base", 0).status == 303
    for base in range(1, 6):  # several rounds: each time both start from the latest revision
        replies = at_once(editors, "SandBox", base)
        assert sorted(r.status for r in replies.values()) == [303, 409], {w: r.status for w, r in replies.items()}
        loser = next(r for r in replies.values() if r.status == 409)
        winner = next(w for w, r in replies.items() if r.status == 303)
        assert f"<pre>{winner}&#39;s edit of {base}</pre>" in loser.text
    with _pg(site.db) as conn:
        query = "SELECT r.number FROM revisions r JOIN pages p ON p.id = r.page_id WHERE p.name = %s ORDER BY 1"
        rows = conn.execute(query, ("SandBox",)).fetchall()
    assert [n for (n,) in rows] == [1, 2, 3, 4, 5, 6]


def at_once(editors: dict[str, tuple[HttpClient, str]], name: str, base: int) -> dict[str, Reply]:
    """Each editor saves page ``name`` from revision ``base``, all released at the same moment."""
    barrier = threading.Barrier(len(editors), timeout=20)
    replies: dict[str, Reply] = {}

    def edit(who: str) -> None:
        client, token = editors[who]
        barrier.wait()
        replies[who] = save(client, "", token, name, f"{who}'s edit of {base}", base)

    threads = [threading.Thread(target=edit, args=(who,)) for who in editors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return replies


def test_nothing_is_lost_when_an_instance_dies(site: Site) -> None:
    # Last in this module: it leaves one instance dead.
    front = HttpClient(site.port)
    token = sign_in(front, "", "Ann")
    saved = 0
    for n in range(1, 21):
        if n == 8:
            _kill_instance(site.apps[0])  # mid-run, without warning: SIGKILL to the master and its workers
        reply = save(front, "", token, "LogBook", f"entry {n}", n - 1)
        assert reply.status == 303, (n, reply.status, reply.text[-500:])
        saved += 1
    assert saved == 20
    logged = site.upstreams("POST /LogBook/edit", 20)[7:]  # the saves after the kill
    history = front.get("/LogBook/history").text
    assert history.count('href="/LogBook/revision/') == 20
    with _pg(site.db) as conn:
        query = "SELECT r.text FROM revisions r JOIN pages p ON p.id = r.page_id WHERE p.name = %s ORDER BY r.number"
        texts = conn.execute(query, ("LogBook",)).fetchall()
    assert [t for (t,) in texts] == [f"entry {n}" for n in range(1, 21)]
    # Every save after the kill was answered by the survivor. nginx tried the dead instance once (the
    # logged "dead, survivor" pair is that retry), then left it out for fail_timeout.
    dead, alive = (f"127.0.0.1:{port}" for port in site.app_ports)
    assert all(u.endswith(alive) for u in logged), logged
    assert [u for u in logged if "," in u] == [f"{dead}, {alive}"], logged


def _kill_instance(server: ServerProcess) -> None:
    assert server.proc is not None
    family = [server.proc.pid, *(pid for pid, _ in descendants(server.proc.pid))]
    for pid in family:
        os.kill(pid, signal.SIGKILL)
    server.proc.wait(10)
    # SIGKILL is asynchronous: until the last worker is gone the listening socket still takes
    # connections, and a POST that such a dying worker accepted would be a 502 (nginx never resends it).
    for _ in range(200):  # bounded: 10 s
        if not any(_running(pid) for pid in family):
            return
        time.sleep(0.05)
    raise AssertionError(f"gunicorn processes {family} still alive 10 s after SIGKILL")


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has let go of its sockets


def _pg(db: Cluster):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(db.dsn())
