"""CORS: preflights answered for the allowed origins, Access-Control-* on their responses, Vary: Origin on all."""

from __future__ import annotations

from typing import Any

import pytest

from microweb import App, request, session
from microweb.cors import allow_cors
from microweb.testing import TestClient

from support import SECRET, validated_client

SITE = "https://app.example.com"
OTHER = "https://evil.example"


def preflight(client: TestClient, path: str, origin: str = SITE, method: str = "PUT", **headers: str) -> Any:
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method, **headers})


def cors_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


@pytest.fixture
def api(app: App) -> App:
    @app.route("/items", methods=["GET", "PUT"])
    def items() -> Any:
        if request.method == "PUT":
            return {"put": True}
        return {"items": [1, 2]}, {"X-Total": "2"}

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("broken")

    return app


def test_a_preflight_from_an_allowed_origin_gets_the_routes_methods_the_asked_headers_and_max_age(
    api: App, client: TestClient
) -> None:
    allow_cors(api, origins=[SITE])
    response = preflight(client, "/items", **{"Access-Control-Request-Headers": "content-type, x-request-id"})
    assert response.status_code == 200
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, PUT"  # as the automatic OPTIONS answer says
    assert cors_headers(response) == {
        "Access-Control-Allow-Origin": SITE,
        "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS, PUT",
        "Access-Control-Allow-Headers": "content-type, x-request-id",
        "Access-Control-Max-Age": "600",
    }
    assert "Origin" in response.headers["Vary"]
    assert response.data == b""


def test_methods_headers_credentials_and_max_age_shape_the_preflight(api: App, client: TestClient) -> None:
    allow_cors(api, origins=SITE, methods=["put", "DELETE"], headers=["X-Request-Id"], credentials=True, max_age=60)
    response = preflight(client, "/items", **{"Access-Control-Request-Headers": "x-other"})
    assert cors_headers(response) == {
        "Access-Control-Allow-Origin": SITE,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "PUT",  # the route's methods, narrowed: no DELETE, which it does not take
        "Access-Control-Allow-Headers": "X-Request-Id",
        "Access-Control-Max-Age": "60",
    }


def test_asked_headers_are_echoed_only_when_well_formed_and_max_age_none_says_nothing(
    api: App, client: TestClient
) -> None:
    allow_cors(api, origins=[SITE], max_age=None)
    response = preflight(client, "/items", **{"Access-Control-Request-Headers": "x-ok, bad name, x-fine"})
    assert response.headers["Access-Control-Allow-Headers"] == "x-ok, x-fine"
    assert "Access-Control-Max-Age" not in response.headers


def test_a_disallowed_origin_gets_the_normal_options_answer_and_no_cors_header(api: App, client: TestClient) -> None:
    allow_cors(api, origins=[SITE], credentials=True)
    for origin in (OTHER, SITE + ".evil.example", "null", SITE.replace("https", "http")):
        response = preflight(client, "/items", origin=origin)
        assert response.status_code == 200
        assert response.headers["Allow"] == "GET, HEAD, OPTIONS, PUT"
        assert cors_headers(response) == {}
        assert response.headers["Vary"] == "Origin"
        assert cors_headers(client.get("/items", headers={"Origin": origin})) == {}


def test_actual_requests_from_an_allowed_origin_get_allow_origin_credentials_and_exposed_headers(
    api: App, client: TestClient
) -> None:
    allow_cors(api, origins=["http://localhost:8080", SITE], credentials=True, expose=["X-Total"])
    response = client.get("/items", headers={"Origin": "http://localhost:8080"})
    assert response.json == {"items": [1, 2]}
    assert cors_headers(response) == {
        "Access-Control-Allow-Origin": "http://localhost:8080",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "X-Total",
    }
    assert response.headers["Vary"] == "Origin"
    put = client.put("/items", headers={"Origin": SITE})
    assert put.json == {"put": True}
    assert put.headers["Access-Control-Allow-Origin"] == SITE


def test_any_origin_gets_a_star_and_the_response_still_varies_on_origin(api: App, client: TestClient) -> None:
    allow_cors(api, origins="*", expose=("X-Total", "X-Page"))
    response = client.get("/items", headers={"Origin": OTHER})
    assert cors_headers(response) == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "X-Total, X-Page",
    }
    assert response.headers["Vary"] == "Origin"
    assert preflight(client, "/items", origin="null").headers["Access-Control-Allow-Origin"] == "*"


def test_vary_origin_is_on_every_response_with_the_sessions_vary_cookie(app: App, client: TestClient) -> None:
    @app.get("/visit")
    def visit() -> str:
        session["seen"] = True
        return "hi"

    allow_cors(app, origins=[SITE])
    response = client.get("/visit")  # no Origin at all
    assert cors_headers(response) == {}
    assert response.headers.getlist("Vary") == ["Origin, Cookie"]
    assert client.get("/nowhere").headers["Vary"] == "Origin"


def test_error_responses_carry_the_cors_headers_so_the_page_can_read_them(api: App, client: TestClient) -> None:
    allow_cors(api, origins=[SITE], credentials=True)
    origin = {"Origin": SITE}
    not_found = client.get("/nowhere", headers=origin)
    wrong_method = client.delete("/items", headers=origin)
    broken = client.get("/boom", headers={**origin, "Accept": "application/json"})
    assert (not_found.status_code, wrong_method.status_code, broken.status_code) == (404, 405, 500)
    for response in (not_found, wrong_method, broken):
        assert response.headers["Access-Control-Allow-Origin"] == SITE
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert response.headers["Vary"] == "Origin"
    assert broken.json["error"]["code"] == 500


def test_a_preflight_to_a_path_without_a_route_gets_its_404(api: App, client: TestClient) -> None:
    allow_cors(api, origins=[SITE])
    response = preflight(client, "/nowhere")
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "Access-Control-Allow-Methods" not in response.headers


def test_preflights_are_answered_without_automatic_options_and_before_later_hooks() -> None:
    app = App(__name__, secret_key=SECRET, auto_options=False)
    seen: list[str] = []

    @app.route("/items", methods=["GET", "DELETE"])
    def items() -> str:
        seen.append(request.method)
        return "ok"

    allow_cors(app, origins=[SITE])

    @app.before_request
    def require_token() -> Any:  # a preflight never carries credentials: it must not reach this
        if request.headers.get("Authorization") != "Bearer t":
            return {"error": "who are you?"}, 401
        return None

    client = validated_client(app)
    response = preflight(client, "/items", method="DELETE")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Methods"] == "DELETE, GET, HEAD"
    assert client.options("/items", headers={"Authorization": "Bearer t"}).status_code == 405  # no OPTIONS route
    refused = client.delete("/items", headers={"Origin": SITE})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == SITE  # the page can read why
    assert client.delete("/items", headers={"Origin": SITE, "Authorization": "Bearer t"}).data == b"ok"
    assert seen == ["DELETE"]


def test_a_routes_own_options_view_gets_plain_options_and_not_preflights(app: App, client: TestClient) -> None:
    @app.route("/thing", methods=["GET", "OPTIONS"])
    def thing() -> Any:
        return ("own", 200, {"Allow": "GET"}) if request.method == "OPTIONS" else "thing"

    allow_cors(app, origins=[SITE])
    answered = preflight(client, "/thing", method="GET")
    assert answered.data == b""
    assert answered.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    own = client.options("/thing", headers={"Origin": SITE})
    assert own.data == b"own"
    assert own.headers["Access-Control-Allow-Origin"] == SITE


def test_configured_origins_are_compared_as_browsers_send_them(api: App, client: TestClient) -> None:
    allow_cors(api, origins=["HTTPS://App.Example.COM:443/", "http://[::1]:8000", "capacitor://localhost"])
    for origin in (SITE, "http://[::1]:8000", "capacitor://localhost"):
        assert client.get("/items", headers={"Origin": origin}).headers["Access-Control-Allow-Origin"] == origin
    for origin in (SITE + ":443", "https://app.example.com:8443", "http://[::1]"):
        assert "Access-Control-Allow-Origin" not in client.get("/items", headers={"Origin": origin}).headers


def test_star_with_credentials_is_refused_at_set_up_saying_why(app: App) -> None:
    with pytest.raises(ValueError, match=r"credentials=True\) is refused: browsers .* List the origins"):
        allow_cors(app, origins="*", credentials=True)
    assert app.before_request_funcs == [] and app.after_request_funcs == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"origins": ["null"]}, "refuses the origin 'null'"),
        ({"origins": ["app.example.com"]}, "origins like 'https://app.example.com'"),
        ({"origins": ["https://app.example.com/api"]}, "origins like"),
        ({"origins": ["https://app.example.com:99999"]}, "origins like"),
        ({"origins": ["https://ann@app.example.com"]}, "without anything else"),
        ({"origins": []}, "at least one origin"),
        ({"origins": [SITE], "methods": ["GET POST"]}, r"methods=\.\.\.\) takes names"),
        ({"origins": [SITE], "headers": ["X-Ok\r\nSet-Cookie: a=b"]}, r"headers=\.\.\.\) takes names"),
        ({"origins": [SITE], "expose": ["bad name"]}, r"expose=\.\.\.\) takes names"),
        ({"origins": [SITE], "max_age": -1}, "max_age is a number of seconds"),
        ({"origins": [SITE], "max_age": "600"}, "max_age is a number of seconds"),
    ],
)
def test_bad_settings_are_refused_at_set_up(app: App, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        allow_cors(app, **options)


def test_origin_is_added_to_a_vary_header_the_view_set_once(app: App, client: TestClient) -> None:
    @app.get("/lang")
    def lang() -> Any:
        return "hi", {"Vary": request.args.get("vary", "")}

    allow_cors(app, origins=[SITE])
    assert client.get("/lang?vary=Accept-Language").headers["Vary"] == "Accept-Language, Origin"
    assert client.get("/lang?vary=accept, ORIGIN").headers["Vary"] == "accept, ORIGIN"
    assert client.get("/lang").headers["Vary"] == "Origin"


def test_cors_on_a_blueprint_covers_its_views_only() -> None:
    from microweb import Blueprint

    site = "https://app.example.com"
    api = Blueprint("api", __name__, url_prefix="/api")
    api.route("/items", methods=["GET", "PUT"])(lambda: {"items": []})
    api.add_route("/fails", lambda: 1 / 0, endpoint="fails")
    allow_cors(api, origins=[site], credentials=True)
    seen: list[str] = []
    api.before_request(lambda: seen.append(request.method))  # after allow_cors: not run for preflights
    app = App(__name__)
    app.add_route("/page", lambda: "page", endpoint="page")
    app.register_blueprint(api)
    client = validated_client(app)
    asks = {"Origin": site, "Access-Control-Request-Method": "PUT"}
    preflight = client.options("/api/items", headers=asks)
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == site
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS, PUT"
    assert seen == []
    got = client.get("/api/items", headers={"Origin": site})
    assert got.headers["Access-Control-Allow-Origin"] == site and "Origin" in got.headers["Vary"]
    assert seen == ["GET"]
    assert client.get("/api/fails", headers={"Origin": site}).headers["Access-Control-Allow-Origin"] == site
    other = client.options("/api/items", headers={**asks, "Origin": "https://evil.example"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    page = client.get("/page", headers={"Origin": site})
    assert "Access-Control-Allow-Origin" not in page.headers and "Vary" not in page.headers
    # a URL no rule matches belongs to no blueprint: the app's, without the blueprint's CORS
    assert "Access-Control-Allow-Origin" not in client.get("/api/nowhere", headers={"Origin": site}).headers
