"""The Origin check of ``protect()`` in a real browser: Chromium, nginx ending TLS, gunicorn behind it.

Chromium's own form posts pass; a form on another site, even carrying the right
token, is refused for its Origin; and a page with ``Referrer-Policy: no-referrer``
makes Chromium send ``Origin: null`` on its own form, as SECURITY.md warns.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from examples_support import need
from examples_support.browser import chromium
from gateways.harness import ServerProcess, free_port, need_modules, program, render_text, running

pytestmark = pytest.mark.slow

CONF = Path(__file__).parent / "examples_support" / "conf"
WAIT = 10.0


@dataclass
class Sites:
    site: str  # https://127.0.0.1:port, the app
    other: str  # http://127.0.0.1:port, another site


def _certificate(g: Path) -> None:
    openssl = shutil.which("openssl")
    need(openssl is not None, "openssl is not installed (run .ci/install-examples)")
    subprocess.run(
        [str(openssl), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-keyout", str(g / "key.pem"), "-out", str(g / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.fixture
def sites() -> Iterator[Sites]:
    nginx = program("nginx")
    need_modules("gunicorn")
    g = Path(tempfile.mkdtemp(prefix="microweb-csrf-tls-"))
    g.chmod(0o755)
    for sub in ("run", "logs", "tmp"):
        (g / sub).mkdir()
    shutil.chown(g / "tmp", "www-data", "www-data")  # nginx's workers keep POST bodies there
    try:
        _certificate(g)
        backend_port, port, other_port = free_port(), free_port(), free_port()
        conf = g / "nginx.conf"
        values = {"G": str(g), "PORT": str(port), "BACKEND_PORT": str(backend_port), "OTHER_PORT": str(other_port)}
        conf.write_text(render_text("nginx-tls.conf", conf=CONF, **values))
        argv = [
            sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{backend_port}", "--workers", "1",
            "--no-control-socket", "examples_support.csrf_site:app",
        ]  # fmt: skip
        env = {**os.environ, "HOME": str(g), "SECRET_KEY": secrets.token_hex(32)}
        backend = ServerProcess("gunicorn", argv, g / "logs/gunicorn.log", env, Path(__file__).parent)
        front = ServerProcess(
            "nginx", [nginx, "-c", str(conf), "-p", f"{g}/", "-e", str(g / "logs/error.log")], g / "logs/nginx.log"
        )
        with running((backend, backend_port), (front, port)):
            yield Sites(f"https://127.0.0.1:{port}", f"http://127.0.0.1:{other_port}")
    finally:
        shutil.rmtree(g, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium("--ignore-certificate-errors") as driver:  # the test's own self-signed certificate
        yield driver


def _send(browser: Any) -> str:
    """Click the page's Send button; the text of the page the post answered with."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, "send").click()
    WebDriverWait(browser, WAIT).until(lambda driver: _stale(old))
    return str(browser.find_element(By.TAG_NAME, "body").text)


def _stale(element: Any) -> bool:
    from selenium.common.exceptions import WebDriverException

    try:
        element.is_enabled()
    except WebDriverException:
        return True
    return False


def test_chromium_posts_from_the_site_pass_and_from_another_site_are_refused_for_their_origin(
    browser: Any, sites: Sites
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(sites.site + "/form")
    token = browser.find_element(By.ID, "token").text
    assert _send(browser) == "saved"
    browser.get(sites.site + "/form?policy=same-origin")  # the Referrer-Policy SECURITY.md suggests
    assert _send(browser) == "saved"

    # Another site's form, carrying the right token (as if it had leaked): its Origin gives it away.
    browser.get(sites.other + "/")
    browser.execute_script("document.querySelector('input[name=csrf_token]').value = arguments[0]", token)
    refused = _send(browser)
    assert f"This request came from another site: its Origin header is not {sites.site} (CSRF check)." in refused

    # What SECURITY.md warns of: with no-referrer, Chromium sends "Origin: null" even on the site's own form.
    browser.get(sites.site + "/form?policy=no-referrer")
    assert "its Origin header is not" in _send(browser)
