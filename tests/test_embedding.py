"""microweb inside other WSGI stacks, and other WSGI apps inside microweb."""

from __future__ import annotations

from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from microweb import App, request, url_for
from microweb.testing import TestClient

from support import validated_client


def legacy_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A plain WSGI app that reports where it thinks it lives."""
    body = f"legacy script={environ['SCRIPT_NAME']} path={environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def test_mount_shifts_script_name_and_path_info(app: App, client: TestClient) -> None:
    app.mount("/legacy", legacy_app)
    app.add_route("/", lambda: "microweb", endpoint="v")
    app.add_route("/legacyish", lambda: "not mounted", endpoint="l")
    assert client.get("/legacy/a/b").data == b"legacy script=/legacy path=/a/b"
    assert client.get("/legacy").data == b"legacy script=/legacy path="
    assert client.get("/legacyish").data == b"not mounted"
    assert client.get("/").data == b"microweb"


def test_longest_mount_prefix_wins(app: App, client: TestClient) -> None:
    app.mount("/a", legacy_app)
    inner = App()
    inner.add_route("/", lambda: f"inner at {request.script_root}", endpoint="i")
    app.mount("/a/b/", inner)
    assert client.get("/a/b/").data == b"inner at /a/b"
    assert client.get("/a/c").data == b"legacy script=/a path=/c"


def test_app_under_dispatcher_middleware_builds_prefixed_urls() -> None:
    api = App()

    @api.get("/users/<int:uid>")
    def user(uid: int) -> dict[str, Any]:
        return {"uid": uid, "url": url_for("user", uid=uid), "script_root": request.script_root}

    site = DispatcherMiddleware(legacy_app, {"/api": api})
    client = validated_client(site)
    assert client.get("/api/users/3").json == {"uid": 3, "url": "/api/users/3", "script_root": "/api"}
    assert client.get("/other").data == b"legacy script= path=/other"


def test_wrapping_wsgi_app_in_middleware(app: App, client: TestClient) -> None:
    app.add_route("/", lambda: "hello", endpoint="v")
    inner = app.wsgi_app

    def add_header(environ: dict[str, Any], start_response: Any) -> Any:
        def patched(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("X-Middleware", "yes")], exc_info)

        return inner(environ, patched)

    app.wsgi_app = add_header
    response = client.get("/")
    assert response.headers["X-Middleware"] == "yes"
    assert response.data == b"hello"


def test_proxy_fix_trusts_one_hop(app: App) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    @app.get("/where")
    def where() -> dict[str, str]:
        return {"url": url_for("where", _external=True), "remote": str(request.remote_addr)}

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.org", "X-Forwarded-For": "1.2.3.4"}
    data = TestClient(app).get("/where", headers=headers).json
    assert data == {"url": "https://example.org/where", "remote": "1.2.3.4"}
