"""The wiki driven in a real browser: headless Chromium (Debian's) through Selenium.

Sign in, create a page with a preview first, follow a WikiWord link to
create a second page, edit the first again, read the diff in its history,
and search. With ``SCREENSHOT_DIR`` set, each step leaves a PNG there.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from examples_support import EXAMPLES
from examples_support.browser import chromium
from examples_support.servers import HttpClient, save, sign_in
from gateways.harness import ServerProcess, free_port, need_modules, running

from support import threaded_server

pytestmark = pytest.mark.slow

WAIT = 10.0


@contextlib.contextmanager
def serving_wiki(tmp_path: Path, **settings: str) -> Iterator[str]:
    """The wiki as its docs run it, with ``settings`` in its environment; yields its URL."""
    need_modules("sqlalchemy")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/wiki.sqlite3",
        "SECRET_KEY": "browser-test-secret-0123456789ab",
        **settings,
    }
    server = ServerProcess(
        "wiki", [sys.executable, str(EXAMPLES / "wiki"), "--port", str(port)], tmp_path / "wiki.log", env
    )
    with running((server, port)):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def wiki_url(tmp_path: Path) -> Iterator[str]:
    with serving_wiki(tmp_path) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def replaced(old: Any) -> Any:
    """A wait condition: the page that ``old`` (its <html> element) belonged to has been replaced."""
    from selenium.common.exceptions import WebDriverException

    def check(driver: Any) -> bool:
        try:
            old.is_enabled()
        except WebDriverException:
            # Stale; or, caught mid-navigation, "Node with given id does not belong to the document".
            return True
        return False

    return check


class Steps:
    """The browser, with screenshots numbered in the order they were taken."""

    def __init__(self, driver: Any) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.by, self.conditions = driver, By, expected_conditions
        self.wait = WebDriverWait(driver, WAIT)
        folder = os.environ.get("SCREENSHOT_DIR")
        self.folder = Path(folder) if folder else None
        self.count = 0

    def find(self, css: str) -> Any:
        return self.wait.until(self.conditions.presence_of_element_located((self.by.CSS_SELECTOR, css)))

    def click(self, css: str) -> None:
        old = self.driver.find_element(self.by.TAG_NAME, "html")
        self.find(css).click()
        self.wait.until(replaced(old))

    def link(self, text: str) -> None:
        old = self.driver.find_element(self.by.TAG_NAME, "html")
        self.wait.until(self.conditions.element_to_be_clickable((self.by.LINK_TEXT, text))).click()
        self.wait.until(replaced(old))

    def submit(self, css: str) -> None:
        old = self.driver.find_element(self.by.TAG_NAME, "html")
        self.find(css).submit()
        self.wait.until(replaced(old))

    def type(self, css: str, text: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def text(self, css: str = "main") -> str:
        return str(self.find(css).text)

    def shot(self, name: str) -> None:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.count += 1
            assert self.driver.save_screenshot(str(self.folder / f"{self.count:02d}-{name}.png"))


def test_a_wiki_session_in_chromium(browser: Any, wiki_url: str) -> None:
    ui = Steps(browser)
    browser.get(wiki_url + "/")
    assert browser.current_url == wiki_url + "/FrontPage" and "does not exist yet" in ui.text()

    # Sign in: a display name is enough.
    ui.link("Sign in")
    ui.type("input[name=name]", "Ann")
    ui.click("#login-button")
    assert browser.current_url == wiki_url + "/FrontPage"
    assert ui.text("#user") == "Ann"

    # Create the front page, preview it, save it.
    ui.link("Create it.")
    ui.type(
        "textarea[name=text]",
        "= Welcome =\n\nThis wiki starts here. Try things in SandBox.\n\n- *bold* first\n- _then_ more",
    )
    ui.type("input[name=comment]", "first words")
    ui.click("#preview-button")
    preview = ui.find("#preview")
    assert [h.text for h in preview.find_elements(ui.by.TAG_NAME, "h2")] == ["Preview (not saved yet)", "Welcome"]
    assert [e.text for e in preview.find_elements(ui.by.CSS_SELECTOR, "li strong, li em")] == ["bold", "then"]
    sandbox_link = preview.find_element(ui.by.LINK_TEXT, "SandBox")
    assert sandbox_link.get_attribute("class") == "missing"
    ui.shot("preview-before-saving")
    ui.click("#save-button")
    assert browser.current_url == wiki_url + "/FrontPage"
    assert "This wiki starts here." in ui.text("#content") and "Revision 1 by Ann" in ui.text()
    ui.shot("front-page-saved")

    # Follow the WikiWord to create the second page.
    ui.link("SandBox")
    assert browser.current_url == wiki_url + "/SandBox" and "does not exist yet" in ui.text()
    ui.link("Create it.")
    ui.type("textarea[name=text]", "A place for experiments. Back to FrontPage.")
    ui.click("#save-button")
    assert "A place for experiments." in ui.text("#content")

    # Edit the first page again: its SandBox link is no longer a missing page.
    ui.link("FrontPage")
    assert ui.find("#content a[href='/SandBox']").get_attribute("class") == ""
    ui.link("Edit")
    assert "Based on revision 1." in ui.text()
    ui.type("textarea[name=text]", "= Welcome =\n\nThis wiki grows here. Try things in SandBox.\n\n- *bold* first")
    ui.type("input[name=comment]", "growing")
    ui.click("#save-button")
    assert "Revision 2 by Ann" in ui.text()

    # The diff between the two revisions, from the history.
    ui.link("History")
    assert [row.text.split()[0] for row in browser.find_elements(ui.by.CSS_SELECTOR, "#revisions tr")[1:]] == ["2", "1"]
    ui.click("#revisions tr:nth-child(2) a.diff-link")
    removed = [e.text for e in browser.find_elements(ui.by.CSS_SELECTOR, "#diff .del")]
    added = [e.text for e in browser.find_elements(ui.by.CSS_SELECTOR, "#diff .add")]
    assert "-This wiki starts here. Try things in SandBox." in removed and "-- _then_ more" in removed
    assert added == ["+This wiki grows here. Try things in SandBox."]
    ui.shot("diff-between-revisions")

    # Full-text search from the box in the header.
    ui.find("input[name=q]").send_keys("experiments")
    ui.submit("input[name=q]")
    assert [e.text for e in browser.find_elements(ui.by.CSS_SELECTOR, "#results a")] == ["SandBox"]
    ui.shot("search-results")

    # Someone else saves the page while Ann edits it: her save is a 409 showing both versions.
    ui.link("SandBox")
    ui.link("Edit")
    bob = HttpClient(int(wiki_url.rsplit(":", 1)[1]))
    assert save(bob, "", sign_in(bob, "", "Bob"), "SandBox", "Bob got here first.", 1).status == 303
    ui.type("textarea[name=text]", "Ann's experiments.")
    ui.click("#save-button")
    assert "Edit conflict on SandBox" in ui.text("h1")
    assert ui.text("#theirs pre") == "Bob got here first." and ui.text("#yours pre") == "Ann's experiments."
    ui.shot("edit-conflict")


# ---------------------------------------------------------------- the JSON API from a page of another origin

# Runs in a page of another origin: the API's token, then a PUT with it, both with the wiki's cookie.
API_PUT = """
const [wiki, text, done] = arguments;
const options = {credentials: "include"};
fetch(wiki + "/api/session", options)
  .then(r => r.json())
  .then(me => fetch(wiki + "/api/pages/SandBox", {
    ...options, method: "PUT",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": me.csrf_token},
    body: JSON.stringify({text, base: 0}),
  }).then(async r => done({user: me.user, status: r.status, body: await r.json()})))
  .catch(e => done({error: String(e)}));
"""


def _blank_page(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [b"<!doctype html><title>tools</title><p>A page of another origin.</p>"]


@contextlib.contextmanager
def other_origin() -> Iterator[str]:
    """A blank page on another port of 127.0.0.1 (another origin, the same site); yields its URL."""
    server = threaded_server(_blank_page)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_wiki_api_from_a_page_of_an_allowed_origin(browser: Any, tmp_path: Path) -> None:
    with other_origin() as tools, other_origin() as stranger, serving_wiki(tmp_path, WIKI_API_ORIGINS=tools) as wiki:
        ui = Steps(browser)
        browser.get(wiki + "/login")
        ui.type("input[name=name]", "Ann")
        ui.click("#login-button")
        assert ui.text("#user") == "Ann"
        browser.set_script_timeout(WAIT)

        browser.get(stranger + "/")  # not in WIKI_API_ORIGINS: the browser lets it read nothing
        refused = browser.execute_async_script(API_PUT, wiki, "from a stranger")
        assert "error" in refused and "TypeError" in refused["error"], refused

        browser.get(tools + "/")  # in WIKI_API_ORIGINS: preflight, the cookie, the token, the PUT
        saved = browser.execute_async_script(API_PUT, wiki, "from the tools page")
        assert saved["user"] == "Ann" and saved["status"] == 201, saved
        assert saved["body"]["revision"] == 1 and saved["body"]["author"] == "Ann"
        again = browser.execute_async_script(API_PUT, wiki, "again from base 0")
        assert again["status"] == 409 and again["body"]["current"]["text"] == "from the tools page", again

        browser.get(wiki + "/SandBox")
        assert "from the tools page" in ui.text("#content") and "Revision 1 by Ann" in ui.text()
        assert json.loads(HttpClient(int(wiki.rsplit(":", 1)[1])).get("/api/pages").text)["pages"] == [
            {"name": "SandBox", "revision": 1, "url": "/api/pages/SandBox"}
        ]  # the stranger's PUT saved nothing
