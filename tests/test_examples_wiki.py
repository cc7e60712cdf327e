"""The wiki example in process: sign-in, CSRF, revisions, history and diffs, recent changes,
search, preview, edit conflicts (409) and rollback, on a real SQLite file."""

from __future__ import annotations

import re
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from examples_support import form_token, import_wiki
from gateways.harness import need_modules

from microweb.testing import TestClient

need_modules("sqlalchemy")
SECRET = "wiki-test-secret-0123456789abcdef"


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "wiki.sqlite3"


@pytest.fixture
def app(db_file: Path) -> Any:
    app = import_wiki().create_app(f"sqlite:///{db_file}", SECRET)
    yield app
    app.config["ENGINE"].dispose()


def sign_in(client: TestClient, name: str = "Ann") -> str:
    """Sign in through the login form; returns the session's CSRF token (a new one since the sign-in)."""
    token = form_token(client.get("/login").get_data(as_text=True))
    reply = client.post("/login", data={"csrf_token": token, "name": name})
    assert reply.status_code == 303
    return form_token(client.get("/recent").get_data(as_text=True))


@pytest.fixture
def ann(app: Any) -> tuple[TestClient, str]:
    client = app.test_client()
    return client, sign_in(client, "Ann")


def save(client: TestClient, token: str, name: str, text: str, base: int, comment: str = "") -> Any:
    data = {"csrf_token": token, "text": text, "base": str(base), "comment": comment, "action": "save"}
    return client.post(f"/{name}/edit", data=data)


def text_of(reply: Any) -> str:
    return str(reply.get_data(as_text=True))


# ---------------------------------------------------------------- reading


def test_home_is_the_front_page(app: Any) -> None:
    reply = app.test_client().get("/")
    assert reply.status_code == 302 and reply.headers["Location"] == "/FrontPage"


def test_missing_page_offers_to_create_it(app: Any) -> None:
    reply = app.test_client().get("/FrontPage")
    assert reply.status_code == 404
    assert 'href="/FrontPage/edit" id="create"' in text_of(reply)


def test_only_wikiwords_are_page_names(app: Any) -> None:
    reply = app.test_client().get("/frontpage")
    assert reply.status_code == 404
    assert "page names are WikiWords" in text_of(reply)


def test_schema_created_in_the_sqlite_file_on_first_start(app: Any, db_file: Path) -> None:
    with closing(sqlite3.connect(db_file)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"pages", "revisions"} <= tables


def test_database_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite3'}")
    monkeypatch.setenv("SECRET_KEY", SECRET)
    app = import_wiki().create_app()
    try:
        client = app.test_client()
        save(client, sign_in(client), "FrontPage", "from the environment", 0)
    finally:
        app.config["ENGINE"].dispose()
    with closing(sqlite3.connect(tmp_path / "env.sqlite3")) as conn:
        assert conn.execute("SELECT text FROM revisions").fetchall() == [("from the environment",)]


# ---------------------------------------------------------------- signing in


def test_editing_needs_a_sign_in(app: Any) -> None:
    client = app.test_client()
    reply = client.get("/FrontPage/edit")
    assert reply.status_code == 303 and reply.headers["Location"] == "/login?next=/FrontPage/edit"
    token = form_token(client.get("/login?next=/FrontPage/edit").get_data(as_text=True))
    reply = client.post("/login", data={"csrf_token": token, "name": "  Ann   Lee ", "next": "/FrontPage/edit"})
    assert reply.headers["Location"] == "/FrontPage/edit"
    page = text_of(client.get("/FrontPage/edit"))
    assert '<strong id="user">Ann Lee</strong>' in page and "A new page." in page


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_off_site(app: Any, target: str) -> None:
    client = app.test_client()
    token = form_token(text_of(client.get("/login")))
    reply = client.post("/login", data={"csrf_token": token, "name": "Ann", "next": target})
    assert reply.headers["Location"] == "/"


def test_sign_in_needs_a_name(app: Any) -> None:
    client = app.test_client()
    token = form_token(text_of(client.get("/login")))
    reply = client.post("/login", data={"csrf_token": token, "name": "   "})
    assert reply.status_code == 400 and "A display name of 1 to 40 characters" in text_of(reply)


def test_sign_out(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/FrontPage/edit").status_code == 303  # back to the sign-in page


def test_a_tampered_session_cookie_is_no_sign_in(app: Any, ann: tuple[TestClient, str]) -> None:
    client, _ = ann
    cookie = client.get_cookie("session")
    assert cookie is not None
    forged = app.test_client()
    forged.set_cookie("session", cookie.value.replace("Ann", "Bob") + "x")
    assert forged.get("/FrontPage/edit").status_code == 303


# ---------------------------------------------------------------- CSRF


def test_every_form_carries_the_token(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    save(client, token, "FrontPage", "hello", 0)
    for path in ("/FrontPage", "/FrontPage/edit", "/recent", "/login"):
        page = text_of(client.get(path))
        forms = re.findall(r'<form method="post".*?</form>|<form action="[^"]*" method="post">.*?</form>', page, re.S)
        assert forms, path
        assert all(f'name="csrf_token" value="{token}"' in form for form in forms), path


@pytest.mark.parametrize("sent", [None, "", "forged-token"])
def test_missing_or_wrong_token_is_a_400_that_explains(ann: tuple[TestClient, str], sent: str | None) -> None:
    client, _ = ann
    data = {"text": "sneaky", "base": "0", "action": "save"}
    if sent is not None:
        data["csrf_token"] = sent
    reply = client.post("/FrontPage/edit", data=data)
    assert reply.status_code == 400
    assert "security token is missing or out of date (CSRF check)" in text_of(reply)
    assert client.get("/FrontPage").status_code == 404  # nothing saved


def test_a_token_belongs_to_its_session(app: Any, ann: tuple[TestClient, str]) -> None:
    _, ann_token = ann
    mallory = app.test_client()
    sign_in(mallory, "Mallory")
    assert save(mallory, ann_token, "FrontPage", "x", 0).status_code == 400


def test_sign_in_form_is_protected_too(app: Any) -> None:
    assert app.test_client().post("/login", data={"name": "Ann"}).status_code == 400


def test_signing_in_rotates_the_token_and_the_old_one_is_refused(app: Any) -> None:
    client = app.test_client()
    before = form_token(text_of(client.get("/login")))
    assert client.post("/login", data={"csrf_token": before, "name": "Ann"}).status_code == 303
    after = form_token(text_of(client.get("/recent")))
    assert after != before
    refused = save(client, before, "FrontPage", "with the signed-out token", 0)
    assert refused.status_code == 400 and "CSRF check" in text_of(refused)
    assert client.get("/FrontPage").status_code == 404  # nothing saved
    assert save(client, after, "FrontPage", "with the new token", 0).status_code == 303


def test_signing_out_rotates_the_token_too(ann: tuple[TestClient, str]) -> None:
    client, signed_in = ann
    assert client.post("/logout", data={"csrf_token": signed_in}).status_code == 303
    signed_out = form_token(text_of(client.get("/login")))
    assert signed_out != signed_in
    assert client.post("/login", data={"csrf_token": signed_in, "name": "Eve"}).status_code == 400
    assert client.post("/login", data={"csrf_token": signed_out, "name": "Ann"}).status_code == 303


# ---------------------------------------------------------------- editing, revisions, links


def test_preview_shows_the_rendered_text_and_saves_nothing(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    data = {"csrf_token": token, "text": "= Draft =\n\n*bold* idea", "base": "0", "action": "preview"}
    page = text_of(client.post("/FrontPage/edit", data=data))
    preview = page[page.index('id="preview"') : page.index("</section>")]
    assert "<h2>Draft</h2>" in preview and "<strong>bold</strong> idea" in preview
    assert "= Draft =\n\n*bold* idea</textarea>" in page  # the text stays in the form
    assert client.get("/FrontPage").status_code == 404


def test_save_and_show_attributed(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    reply = save(client, token, "FrontPage", "Welcome to the wiki.", 0, "first words")
    assert reply.status_code == 303 and reply.headers["Location"] == "/FrontPage"
    page = text_of(client.get("/FrontPage"))
    assert "<p>Welcome to the wiki.</p>" in page
    assert "Revision 1 by Ann" in page and "(first words)" in page


def test_wikiwords_link_and_missing_pages_are_marked(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    save(client, token, "FrontPage", "See SandBox, !NotALink and https://example.org/x.", 0)
    page = text_of(client.get("/FrontPage"))
    assert '<a href="/SandBox" class="missing">SandBox</a>' in page
    assert "NotALink" in page and 'href="/NotALink"' not in page
    assert '<a href="https://example.org/x" rel="nofollow">https://example.org/x</a>.' in page
    save(client, token, "SandBox", "Play here.", 0)
    assert '<a href="/SandBox">SandBox</a>' in text_of(client.get("/FrontPage"))


def test_page_text_is_escaped(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    save(client, token, "FrontPage", '<script>alert("x")</script> *<b>*', 0)
    page = text_of(client.get("/FrontPage"))
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<strong>&lt;b&gt;</strong>" in page


def test_every_save_is_a_revision_with_history_and_diffs(app: Any, ann: tuple[TestClient, str]) -> None:
    client, token = ann
    save(client, token, "FrontPage", "one\ntwo\nthree", 0, "start")
    bob = app.test_client()
    bob_token = sign_in(bob, "Bob")
    save(bob, bob_token, "FrontPage", "one\n2\nthree\nfour", 1, "numbers")
    history = text_of(client.get("/FrontPage/history"))
    rows = re.findall(
        r"<tr>\s*<td><a href=\"/FrontPage/revision/(\d)\">.*?<td>(\w+)</td>\s*<td>(\w+)</td>", history, re.S
    )
    assert rows == [("2", "Bob", "numbers"), ("1", "Ann", "start")]
    assert 'href="/FrontPage/diff?old=1&amp;new=2"' in history
    diff = text_of(client.get("/FrontPage/diff?old=1&new=2"))
    assert '<div class="del">-two</div>' in diff
    assert '<div class="add">+2</div>' in diff and '<div class="add">+four</div>' in diff
    assert '<div class="same"> one</div>' in diff
    assert "one\ntwo\nthree" in text_of(client.get("/FrontPage/revision/1")).replace("<br>\n", "\n")
    first = text_of(client.get("/FrontPage/diff?old=0&new=1"))
    assert '<div class="add">+one</div>' in first
    assert client.get("/FrontPage/diff?old=5&new=9").status_code == 404
    assert client.get("/FrontPage/revision/3").status_code == 404


def test_recent_changes_newest_first(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    save(client, token, "FrontPage", "a", 0, "front")
    save(client, token, "SandBox", "b", 0, "sand")
    save(client, token, "FrontPage", "c", 1, "front again")
    page = text_of(client.get("/recent"))
    order = [page.index(comment) for comment in ("front again", "sand", "<td>front</td>")]
    assert order == sorted(order)


def test_search_names_and_text_case_insensitive(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    save(client, token, "FrontPage", "All about Gardening.", 0)
    save(client, token, "GardenTools", "Spades and rakes; 100% steel.", 0)
    save(client, token, "SandBox", "old gardening notes", 0)
    save(client, token, "SandBox", "nothing here now", 1)

    def found(words: str) -> list[str]:
        return re.findall(r'<li><a href="/(\w+)">', text_of(client.get("/search", query_string={"q": words})))

    assert found("garden") == ["FrontPage", "GardenTools"]  # only the latest revision of SandBox counts
    assert found("RAKES") == ["GardenTools"]
    assert found("100%") == ["GardenTools"] and found("%") == ["GardenTools"]  # % is a character, not a wildcard
    assert found("") == [] and found("zebra") == []


def test_empty_text_is_refused(ann: tuple[TestClient, str]) -> None:
    client, token = ann
    reply = save(client, token, "FrontPage", "   ", 0)
    assert reply.status_code == 400 and "A page needs some text." in text_of(reply)


# ---------------------------------------------------------------- no lost updates


def test_two_edits_from_one_base_give_one_save_and_one_409(app: Any, ann: tuple[TestClient, str]) -> None:
    client, token = ann
    save(client, token, "FrontPage", "original", 0)
    bob = app.test_client()
    bob_token = sign_in(bob, "Bob")
    assert save(client, token, "FrontPage", "Ann's version", 1).status_code == 303
    reply = save(bob, bob_token, "FrontPage", "Bob's version", 1)
    assert reply.status_code == 409
    page = text_of(reply)
    assert "<pre>Ann&#39;s version</pre>" in page  # what was saved meanwhile
    assert "<pre>Bob&#39;s version</pre>" in page  # what Bob typed, not lost
    assert '<div class="del">-Ann&#39;s version</div>' in page and '<div class="add">+Bob&#39;s version</div>' in page
    assert '<input type="hidden" name="base" value="2">' in page  # saving again merges onto the latest
    assert "Revision 2 by Ann" in text_of(client.get("/FrontPage"))
    assert client.get("/FrontPage/revision/3").status_code == 404
    assert save(bob, bob_token, "FrontPage", "merged", 2).status_code == 303
    assert "Revision 3 by Bob" in text_of(client.get("/FrontPage"))


def test_creating_a_page_twice_is_a_conflict(app: Any, ann: tuple[TestClient, str]) -> None:
    client, token = ann
    bob = app.test_client()
    bob_token = sign_in(bob, "Bob")
    assert save(client, token, "SandBox", "Ann was first", 0).status_code == 303
    reply = save(bob, bob_token, "SandBox", "Bob too", 0)
    assert reply.status_code == 409 and "<pre>Ann was first</pre>" in text_of(reply)


def test_a_failed_request_rolls_the_save_back(app: Any, ann: tuple[TestClient, str], db_file: Path) -> None:
    client, token = ann
    save(client, token, "FrontPage", "kept", 0)

    @app.after_request
    def fail_after_saving(response: Any) -> Any:
        raise RuntimeError("the disk is on fire")  # after the view saved and flushed: the request fails

    assert save(client, token, "FrontPage", "never stored", 1).status_code == 500
    app.after_request_funcs.remove(fail_after_saving)
    with closing(sqlite3.connect(db_file)) as conn:
        assert conn.execute("SELECT number, text FROM revisions").fetchall() == [(1, "kept")]
        assert conn.execute("SELECT head FROM pages").fetchall() == [(1,)]
    assert save(client, token, "FrontPage", "next", 1).status_code == 303


def test_simultaneous_edits_on_sqlite_give_one_save_and_one_409(app: Any) -> None:
    # Threads, as a threaded server runs them: SQLite lets one writer in at a time, and the
    # conditional UPDATE of the second finds the page already moved on.
    editors = []
    for who in ("Ann", "Bob"):
        client = app.test_client()
        editors.append((who, client, sign_in(client, who)))
    save(editors[0][1], editors[0][2], "FrontPage", "base", 0)
    for base in range(1, 4):
        statuses = simultaneously(editors, base)
        assert sorted(statuses.values()) == [303, 409], statuses


def simultaneously(editors: list[tuple[str, TestClient, str]], base: int) -> dict[str, int]:
    """Every editor saves FrontPage from revision ``base``, all released at once; their statuses."""
    barrier = threading.Barrier(len(editors), timeout=20)
    statuses: dict[str, int] = {}

    def edit(who: str, client: TestClient, token: str) -> None:
        barrier.wait()
        statuses[who] = save(client, token, "FrontPage", f"{who} {base}", base).status_code

    threads = [threading.Thread(target=edit, args=editor) for editor in editors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


# ---------------------------------------------------------------- what the wiki found in microweb


def test_abort_is_typed_as_never_returning() -> None:
    import typing

    import microweb

    assert typing.get_type_hints(microweb.abort)["return"] is typing.NoReturn
