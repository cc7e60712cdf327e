"""CSRF protection: a session-bound token, checked on unsafe methods."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microweb import App, Jinja2Templates, csrf_token, render, session
from microweb.csrf import HEADER, protect, rotate_csrf_token
from microweb.testing import TestClient

from support import SECRET


@pytest.fixture
def form_app(tmp_path: Path) -> App:
    (tmp_path / "form.html").write_text(
        '<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"></form>', "utf-8"
    )
    app = App(secret_key=SECRET, templates=Jinja2Templates(tmp_path))

    @app.get("/form")
    def form() -> str:
        return render("form.html")

    @app.route("/save", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def save() -> str:
        return "saved"

    @app.post("/webhook")
    def webhook() -> str:
        return "hooked"

    @app.get("/token")
    def token() -> str:
        return csrf_token()

    protect(app, exempt=["webhook"])
    return app


def _token(client: TestClient) -> str:
    page = client.get("/form").get_data(as_text=True)
    found = re.search(r'value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_form_with_token_passes(form_app: App) -> None:
    client = form_app.test_client()
    token = _token(client)
    assert client.post("/save", data={"csrf_token": token}).data == b"saved"
    assert client.put("/save", headers={"X-CSRF-Token": token}).data == b"saved"
    assert client.get("/token").get_data(as_text=True) == token  # one token per session


@pytest.mark.parametrize("sent", [None, "", "forged", "x" * 43])
def test_missing_or_wrong_token_is_a_400_that_explains(form_app: App, sent: str | None) -> None:
    client = form_app.test_client()
    _token(client)
    response = client.post("/save", data={} if sent is None else {"csrf_token": sent})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_token_of_another_session_fails(form_app: App) -> None:
    stolen = _token(form_app.test_client())
    victim = form_app.test_client()
    _token(victim)
    assert victim.post("/save", data={"csrf_token": stolen}).status_code == 400


def test_no_session_yet_fails_and_safe_methods_exempt_and_unknown_paths_404(form_app: App) -> None:
    client = form_app.test_client()
    assert client.delete("/save").status_code == 400
    assert client.get("/form").status_code == 200
    assert client.post("/webhook").data == b"hooked"
    assert client.post("/nowhere").status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_every_unsafe_method_is_checked(form_app: App, method: str) -> None:
    client = form_app.test_client()
    token = _token(client)
    refused = client.open("/save", method=method)
    assert refused.status_code == 400
    assert "security token is missing or out of date (CSRF check)" in refused.get_data(as_text=True)
    assert client.open("/save", method=method, headers={"X-CSRF-Token": token}).data == b"saved"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_need_no_token(form_app: App, method: str) -> None:
    assert form_app.test_client().open("/save", method=method).status_code == 200


def test_refusal_explains_itself_to_json_clients_too(form_app: App) -> None:
    client = form_app.test_client()
    _token(client)
    response = client.post("/save", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "CSRF check" in response.json["error"]["description"]


def test_tokens_are_compared_in_constant_time(form_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    import microweb.csrf

    compared: list[tuple[bytes, bytes]] = []
    real_compare_digest = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real_compare_digest(a, b)

    monkeypatch.setattr(microweb.csrf.hmac, "compare_digest", spy)
    client = form_app.test_client()
    token = _token(client)
    assert client.post("/save", data={"csrf_token": "forged"}).status_code == 400
    assert client.post("/save", data={"csrf_token": token}).status_code == 200
    # (itsdangerous compares the cookie's signature the same way: those calls are in the list too)
    assert (b"forged", token.encode()) in compared and (token.encode(), token.encode()) in compared


def test_tokens_are_random_and_long(form_app: App) -> None:
    tokens = {_token(form_app.test_client()) for _ in range(5)}
    assert len(tokens) == 5
    assert all(len(token) >= 43 for token in tokens)  # 32 random bytes, URL-safe base64


# ---------------------------------------------------------------- rotation (sign-in, sign-out)


def _rotating_app() -> App:
    app = App(secret_key=SECRET)

    @app.get("/token")
    def token() -> str:
        return csrf_token()

    @app.post("/login")
    def login() -> str:
        session["user"] = "ann"
        return rotate_csrf_token()

    @app.post("/save")
    def save() -> str:
        return "saved"

    protect(app)
    return app


def test_rotating_the_token_gives_a_new_one_and_the_old_one_is_refused_at_once() -> None:
    client = _rotating_app().test_client()
    before = client.get("/token").get_data(as_text=True)
    after = client.post("/login", data={"csrf_token": before}).get_data(as_text=True)
    assert after != before and len(after) >= 43
    assert client.get("/token").get_data(as_text=True) == after  # the session keeps the new one
    refused = client.post("/save", data={"csrf_token": before})
    assert refused.status_code == 400 and "CSRF check" in refused.get_data(as_text=True)
    assert client.post("/save", data={"csrf_token": after}).data == b"saved"


def test_rotation_works_before_any_token_existed() -> None:
    app = _rotating_app()
    app.before_request_funcs.clear()  # a sign-in that is not itself protected
    client = app.test_client()
    token = client.post("/login").get_data(as_text=True)
    assert client.get("/token").get_data(as_text=True) == token


# ---------------------------------------------------------------- protect() needs a usable key


def test_protect_without_a_secret_key_is_refused_with_what_to_do() -> None:
    with pytest.raises(RuntimeError) as refused:
        protect(App())
    message = str(refused.value)
    assert "protect(app)" in message and "App(secret_key=" in message and "\n" not in message
    assert "from_prefixed_env() reads MICROWEB_SECRET_KEY" in message  # the way of a key kept in config


def test_protect_with_a_weak_key_set_in_config_is_refused_at_once() -> None:
    app = App()
    with pytest.raises(ValueError, match="placeholder word 'change-me'"):  # refused by the config itself
        app.config["SECRET_KEY"] = "change-me-please-0123456789"
    app.config["SECRET_KEY"] = [SECRET]
    app.config["SECRET_KEY"].append("change-me-please-0123456789")  # in place: only protect() can see it
    with pytest.raises(ValueError, match="placeholder word 'change-me'"):
        protect(app)
    app.config["SECRET_KEY"] = SECRET  # set before protect(): fine
    protect(app)
    assert len(app.before_request_funcs) == 1


# ---------------------------------------------------------------- Origin and Referer over HTTPS

HTTPS = "https://localhost"


def _https_token(client: TestClient) -> str:
    return client.get("/token", base_url=HTTPS).get_data(as_text=True)


def _post(client: TestClient, token: str, **headers: str) -> Any:
    return client.post("/save", base_url=HTTPS, headers={HEADER: token, **headers})


hosts = st.from_regex(r"[a-z0-9][a-z0-9-]{0,15}(\.[a-z]{2,6}){0,2}", fullmatch=True)
foreign_origins = st.one_of(
    st.builds(
        lambda scheme, host, port: f"{scheme}://{host}{port}",
        st.sampled_from(["http", "https", "HTTPS", "ftp", "ws"]),
        hosts,
        st.sampled_from(["", ":443", ":8443", ":80", ":1"]),
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
).filter(lambda origin: "localhost" not in origin.lower())
ADVERSARIAL_ORIGINS = [
    "null", "https://localhost.evil.example", "https://localhost@evil.example", "https://evil.example#@localhost",
    "https://localhost:444", "http://localhost", "http://localhost:443", "https://localhos", "https://localhost:x",
    "https://[::1]", "https://", "localhost", "//localhost",
]  # fmt: skip
SAME_ORIGINS = ["https://localhost", "https://LOCALHOST", "https://localhost:443", "https://localhost."]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(origin=st.one_of(foreign_origins, st.sampled_from(ADVERSARIAL_ORIGINS)))
def test_an_https_post_from_another_origin_is_a_400_that_says_why(form_app: App, origin: str) -> None:
    client = form_app.test_client()
    token = _https_token(client)
    refused = _post(client, token, Origin=origin)
    assert refused.status_code == 400
    assert "came from another site: its Origin header is not https://localhost (CSRF check)" in refused.get_data(
        as_text=True
    )
    referer = "https://localhost/form"  # a Referer does not make up for a foreign Origin
    assert _post(client, token, Origin=origin, Referer=referer).status_code == 400


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(referer=st.one_of(foreign_origins.map(lambda origin: origin + "/form"), st.sampled_from(ADVERSARIAL_ORIGINS)))
def test_an_https_post_without_origin_from_a_foreign_page_is_a_400_that_says_why(form_app: App, referer: str) -> None:
    client = form_app.test_client()
    refused = _post(client, _https_token(client), Referer=referer)
    assert refused.status_code == 400
    assert "came from a page that is not on https://localhost: see its Referer header" in refused.get_data(as_text=True)


def test_an_https_post_with_neither_origin_nor_referer_is_a_400_that_says_why(form_app: App) -> None:
    client = form_app.test_client()
    refused = _post(client, _https_token(client))
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "says neither which site (Origin header) nor which page (Referer header)" in text and "CSRF" in text


@pytest.mark.parametrize("origin", SAME_ORIGINS)
def test_an_https_post_from_the_site_itself_passes(form_app: App, origin: str) -> None:
    client = form_app.test_client()
    token = _https_token(client)
    assert _post(client, token, Origin=origin).data == b"saved"
    assert _post(client, token, Referer=origin + "/form?x=1").data == b"saved"
    assert _post(client, "forged", Origin=origin).status_code == 400  # the token is still checked


def test_over_plain_http_only_the_token_counts(form_app: App) -> None:
    client = form_app.test_client()
    token = _token(client)
    assert client.post("/save", headers={HEADER: token, "Origin": "http://elsewhere.example"}).data == b"saved"
    assert client.post("/save", headers={HEADER: token}).data == b"saved"


def test_trusted_origins_and_exempt_endpoints() -> None:
    app = App(secret_key=SECRET)
    app.add_route("/token", csrf_token)
    app.add_route("/save", lambda: "saved", methods=["POST"], endpoint="save")
    app.add_route("/hook", lambda: "hooked", methods=["POST"], endpoint="hook")
    protect(app, exempt=["hook"], trusted_origins=["https://forms.example.com", "https://other.example:8443/"])
    client = app.test_client()
    token = _https_token(client)
    assert _post(client, token, Origin="https://forms.example.com").data == b"saved"
    assert _post(client, token, Referer="https://other.example:8443/page").data == b"saved"
    assert _post(client, token, Origin="https://other.example").status_code == 400
    assert client.post("/hook", base_url=HTTPS, headers={"Origin": "https://anyone.example"}).data == b"hooked"


@pytest.mark.parametrize("origin", ["forms.example.com", "https://forms.example.com/path", "ftp://x.example", ""])
def test_a_trusted_origin_that_is_not_an_origin_is_refused_by_protect(origin: str) -> None:
    with pytest.raises(ValueError, match="trusted_origins takes origins like 'https://forms.example.com'"):
        protect(App(secret_key=SECRET), trusted_origins=[origin])
