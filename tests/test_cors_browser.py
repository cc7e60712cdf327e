"""CORS in a real browser: headless Chromium, a page on one loopback origin, an API on another.

The API (127.0.0.1:B) lets the page's origin (127.0.0.1:A) read it with
credentials: the page's ``fetch`` sends the API's session cookie, passes a
preflight for a JSON PUT, reads an exposed header and a 404's body. The same
page served from an origin not allowed (127.0.0.1:C) reads nothing.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from examples_support.browser import chromium

from microweb import App, request, session
from microweb.cors import allow_cors

from support import in_thread, threaded_server

pytestmark = pytest.mark.slow

WAIT = 15  # seconds a page's script may take

# Runs in the page: fetch with the page's cookies for the API, and hand back what the script could read.
FETCH = """
const [url, method, done] = arguments;
const options = {method, credentials: "include"};
if (method === "PUT") {
  options.headers = {"Content-Type": "application/json"};
  options.body = JSON.stringify({note: "from the page"});
}
fetch(url, options)
  .then(async r => done({status: r.status, total: r.headers.get("X-Total"), body: await r.text()}))
  .catch(e => done({error: String(e)}));
"""


@contextlib.contextmanager
def serving(app: App) -> Iterator[int]:
    """Serve ``app`` on 127.0.0.1 (a free port, yielded) with a thread per connection."""
    server = threaded_server(app)
    with in_thread(server) as port:
        yield port


def page_app() -> App:
    page = App(__name__)
    page.add_route("/", lambda: "<!doctype html><title>a page</title><p>nothing but scripts</p>", endpoint="page")
    return page


def api_app(allowed_origin: str, seen: list[str]) -> App:
    api = App(__name__, secret_key=secrets.token_hex(32))

    @api.before_request
    def record() -> None:
        if request.path != "/favicon.ico":  # Chromium may ask for it whenever: not one of the test's requests
            seen.append(f"{request.method} {request.path} {request.headers.get('Origin')}")

    allow_cors(api, origins=[allowed_origin], credentials=True, expose=["X-Total"])

    @api.get("/login")
    def login() -> str:
        session["user"] = "ann"
        return "signed in"

    @api.route("/me", methods=["GET", "PUT"])
    def me() -> Any:
        body = request.get_json() if request.method == "PUT" else None
        return {"user": session.get("user"), "got": body}, {"X-Total": "1"}

    return api


@dataclass
class Origins:
    page: str
    other_page: str
    api: str
    seen: list[str]


@pytest.fixture
def origins() -> Iterator[Origins]:
    seen: list[str] = []
    with serving(page_app()) as port_a, serving(page_app()) as port_c:
        page = f"http://127.0.0.1:{port_a}"
        with serving(api_app(page, seen)) as port_b:
            yield Origins(page, f"http://127.0.0.1:{port_c}", f"http://127.0.0.1:{port_b}", seen)


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as driver:
        driver.set_script_timeout(WAIT)
        yield driver


def page_fetch(browser: Any, url: str, method: str = "GET") -> dict[str, Any]:
    """What the page's script could read of ``fetch(url)``: status, the exposed header and the body."""
    got = dict(browser.execute_async_script(FETCH, url, method))
    if got.get("body", "").startswith("{"):
        got["body"] = json.loads(got["body"])
    return got


def test_a_page_of_an_allowed_origin_reads_the_api_with_credentials_and_another_origin_cannot(
    browser: Any, origins: Origins
) -> None:
    browser.get(origins.api + "/login")  # the API's session cookie, as a sign-in would set it
    assert "signed in" in browser.page_source

    browser.get(origins.page + "/")
    got = page_fetch(browser, origins.api + "/me")
    assert got == {"status": 200, "total": "1", "body": {"user": "ann", "got": None}}  # the cookie went along
    put = page_fetch(browser, origins.api + "/me", "PUT")
    assert put == {"status": 200, "total": "1", "body": {"user": "ann", "got": {"note": "from the page"}}}
    missing = page_fetch(browser, origins.api + "/nowhere")
    assert missing["status"] == 404 and "<h1>Not Found</h1>" in missing["body"]  # the error page is readable
    assert f"OPTIONS /me {origins.page}" in origins.seen  # Chromium asked first (a JSON PUT is not "simple")

    origins.seen.clear()
    browser.get(origins.other_page + "/")
    refused = page_fetch(browser, origins.api + "/me")
    assert refused.keys() == {"error"} and "Failed to fetch" in refused["error"]
    assert origins.seen == [f"GET /me {origins.other_page}"]  # sent (a simple GET), but the page could not read it
    refused_put = page_fetch(browser, origins.api + "/me", "PUT")
    assert refused_put.keys() == {"error"}
    assert origins.seen[-1] == f"OPTIONS /me {origins.other_page}"  # only the preflight: the PUT was never sent
