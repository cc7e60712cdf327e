"""Real servers for the example tests, on top of helper-1's gateway harness (``tests/gateways/harness.py``).

An HTTP client that keeps the session cookie, a venv of Debian's Python for
Apache's mod_wsgi with the wiki's dependencies, and the steps of a wiki
session that every gateway must carry.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from gateways.harness import runtime_requirements, system_venv

from . import form_token

WIKI_REQUIREMENTS = ["SQLAlchemy>=2.0", "Jinja2>=3.1"]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    text: str


@dataclass
class HttpClient:
    """One user agent: a new connection per request, cookies kept by name (paths are not checked)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 20.0

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Reply:
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            reply = Reply(response.status, response.headers, response.read().decode("utf-8", "replace"))
        finally:
            conn.close()
        for header in reply.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        return self.request("POST", path, form)


def sign_in(client: HttpClient, prefix: str, name: str) -> str:
    """Sign in to the wiki at ``prefix``; returns the CSRF token the session has since."""
    token = form_token(client.get(f"{prefix}/login").text)
    reply = client.post(f"{prefix}/login", {"csrf_token": token, "name": name, "next": f"{prefix}/FrontPage"})
    assert reply.status == 303, reply.text[-500:]
    assert reply.headers["Location"].endswith(f"{prefix}/FrontPage")
    return form_token(client.get(f"{prefix}/recent").text)  # signing in gave the session a new token


def save(client: HttpClient, prefix: str, token: str, name: str, text: str, base: int) -> Reply:
    form = {"csrf_token": token, "text": text, "base": str(base), "comment": "", "action": "save"}
    return client.post(f"{prefix}/{name}/edit", form)


def check_wiki_session(port: int, prefix: str) -> None:
    """What the wiki must do behind any gateway: links under the prefix, sign-in, CSRF, save, 409."""
    ann, bob = HttpClient(port), HttpClient(port)
    home = ann.get(f"{prefix}/")
    assert home.status == 302 and home.headers["Location"].endswith(f"{prefix}/FrontPage"), home
    missing_page = ann.get(f"{prefix}/FrontPage")
    assert missing_page.status == 404 and f'href="{prefix}/FrontPage/edit"' in missing_page.text
    token = sign_in(ann, prefix, "Ann")
    assert save(ann, prefix, "not-the-token", "FrontPage", "x", 0).status == 400
    saved = save(ann, prefix, token, "FrontPage", "Hello from SandBox land.", 0)
    assert saved.status == 303 and saved.headers["Location"].endswith(f"{prefix}/FrontPage"), saved.text[-800:]
    page = bob.get(f"{prefix}/FrontPage")
    assert page.status == 200 and "Revision 1 by Ann" in page.text
    assert f'<a href="{prefix}/SandBox" class="missing">SandBox</a>' in page.text
    bob_token = sign_in(bob, prefix, "Bob")
    assert save(ann, prefix, token, "FrontPage", "Ann again", 1).status == 303
    conflict = save(bob, prefix, bob_token, "FrontPage", "Bob from revision 1", 1)
    assert conflict.status == 409 and "<pre>Ann again</pre>" in conflict.text
    assert "Bob from revision 1" in conflict.text
    history = bob.get(f"{prefix}/FrontPage/history")
    assert history.status == 200 and history.text.count(f'href="{prefix}/FrontPage/revision/') == 2


# ---------------------------------------------------------------- a Debian-Python venv for mod_wsgi


def wiki_venv() -> Path:
    """A venv of /usr/bin/python3 with microweb's and the wiki's dependencies, cached in /var/tmp."""
    return system_venv("microweb-examples-venv", [*runtime_requirements(), *WIKI_REQUIREMENTS])


def readable_copy(dest: Path, *trees: Path) -> Path:
    """Copy source trees into ``dest`` so that every server user (www-data) can read them."""
    for tree in trees:
        shutil.copytree(tree, dest / tree.name, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


def checked(argv: list[str], what: str) -> None:
    """Run a server's own config test (``nginx -t``, ``apache2 -t``, ``lighttpd -tt``)."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if done.returncode:
        raise RuntimeError(f"{what} config test failed:\n{done.stdout}{done.stderr}")
