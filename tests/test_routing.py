"""Routing: rules, converters, endpoints, methods, HEAD/OPTIONS/405, slashes, url_for."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.routing import BaseConverter, BuildError, MapAdapter, Rule, ValidationError
from werkzeug.test import Client

from microweb import App, request, url_for
from microweb.routing import RuleMap, RuleMapAdapter
from microweb.testing import TestClient

from support import live_server, raw_request


def test_route_and_method_decorators(app: App, client: Client) -> None:
    @app.route("/", methods=["GET"])
    def index() -> str:
        return "index"

    @app.get("/users/<int:uid>")
    def user(uid: int) -> dict[str, int]:
        return {"uid": uid}

    assert client.get("/").get_data(as_text=True) == "index"
    assert client.get("/users/7").json == {"uid": 7}
    assert client.get("/users/x").status_code == 404


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "get"])
def test_each_method_decorator_registers_only_its_method(app: App, client: Client, method: str) -> None:
    def thing() -> str:
        return f"{request.method} done"

    getattr(app, method)("/thing")(thing)
    response = client.open("/thing", method=method.upper())
    assert response.status_code == 200
    assert response.get_data(as_text=True) == f"{method.upper()} done"
    other = "GET" if method != "get" else "POST"
    assert client.open("/thing", method=other).status_code == 405


def test_add_route_with_endpoint_and_url_for_outside_request(app: App) -> None:
    def view(x: int) -> str:
        return str(x)

    app.add_route("/r/<int:x>", view, methods=["GET"], endpoint="name")
    assert app.url_for("name", x=5) == "/r/5"
    assert app.url_for("name", x=5, q="a b") == "/r/5?q=a+b"
    assert app.url_for("name", x=5, _external=True) == "http://localhost/r/5"
    assert app.url_for("name", x=5, _anchor="top") == "/r/5#top"


def test_default_endpoint_is_function_name_and_clash_is_an_error(app: App) -> None:
    @app.get("/a")
    def page() -> str:
        return "a"

    assert app.url_for("page") == "/a"

    def other() -> str:
        return "b"

    other.__name__ = "page"
    with pytest.raises(ValueError, match="Endpoint 'page' already belongs to"):
        app.add_route("/b", other)
    # the same function may be registered under several rules
    app.add_route("/a2", page)


def test_two_views_with_one_endpoint_are_an_error_that_names_both_rules(app: App) -> None:
    @app.get("/a")
    def view() -> str:
        return "a"

    def other() -> str:
        return "b"

    other.__name__ = "view"
    with pytest.raises(ValueError) as clash:
        app.add_route("/b/<int:n>", other)
    message = str(clash.value)
    assert "Endpoint 'view'" in message and "'/a'" in message and "'/b/<int:n>'" in message
    assert "endpoint=" in message and "functools.wraps" not in message
    assert [rule.rule for rule in app.url_map.iter_rules()] == ["/a"]  # nothing of the refused rule is left


@pytest.mark.parametrize("inner", ["wrapper", "inner", "decorated", "wrapped"])
def test_an_endpoint_clash_of_a_decorators_inner_function_suggests_functools_wraps(app: App, inner: str) -> None:
    def login_required(view: Callable[[], str]) -> Callable[[], str]:
        def wrapper() -> str:
            return view()

        wrapper.__name__ = wrapper.__qualname__ = inner  # what a decorator without functools.wraps gives
        return wrapper

    app.get("/a")(login_required(lambda: "a"))
    with pytest.raises(ValueError) as clash:
        app.get("/b")(login_required(lambda: "b"))
    message = str(clash.value)
    assert f"Endpoint {inner!r}" in message and "'/a'" in message and "'/b'" in message
    assert "@functools.wraps(view)" in message


@pytest.mark.parametrize(
    ("rule", "unknown", "closest"),
    [
        ("/u/<itn:uid>", "itn", "int"),
        ("/p/<paht:rest>", "paht", "path"),
        ("/f/<flaot(signed=True):x>", "flaot", "float"),
    ],
)
def test_a_misspelt_converter_is_one_error_at_registration_naming_the_rule_and_the_known_ones(
    app: App, rule: str, unknown: str, closest: str
) -> None:
    with pytest.raises(LookupError) as missing:
        app.add_route(rule, lambda **kwargs: "never", endpoint="v")
    message = str(missing.value)
    assert f"The rule {rule!r}" in message and f"converter {unknown!r}" in message
    assert f"Did you mean {closest!r}?" in message
    assert "any, default, float, int, path, string, uuid" in message  # the known ones
    assert missing.value.__cause__ is None and missing.value.__suppress_context__  # not Werkzeug's chain
    assert "v" not in app.view_functions and not list(app.url_map.iter_rules())


def test_an_unknown_converter_with_nothing_close_names_the_known_ones_and_how_to_add_one(app: App) -> None:
    with pytest.raises(LookupError, match=r"converter 'zzz', which does not exist\. The known converters"):
        app.add_route("/<zzz:x>", lambda x: x, endpoint="v")
    with pytest.raises(LookupError, match=r"app\.url_map\.converters\['zzz'\]"):
        app.add_route("/<zzz:x>", lambda x: x, endpoint="v")


def test_custom_converter(app: App, client: Client) -> None:
    class ListConverter(BaseConverter):
        def to_python(self, value: str) -> list[str]:
            return value.split(",")

        def to_url(self, value: list[str]) -> str:
            return ",".join(value)

    app.url_map.converters["list"] = ListConverter

    @app.get("/tags/<list:tags>")
    def tags(tags: list[str]) -> list[str]:
        return tags

    assert client.get("/tags/a,b,c").json == ["a", "b", "c"]
    assert app.url_for("tags", tags=["x", "y"]) == "/tags/x,y"


@pytest.mark.parametrize("path", ["/users/0", "/users/123456789"])
def test_int_converter_values(app: App, client: Client, path: str) -> None:
    @app.get("/users/<int:uid>")
    def user(uid: int) -> dict[str, int]:
        return {"uid": uid}

    assert client.get(path).json == {"uid": int(path.rsplit("/", 1)[1])}


def test_non_ascii_paths(app: App, client: Client) -> None:
    @app.get("/wiki/<title>")
    def page(title: str) -> str:
        return f"[{title}]"

    @app.get("/café")
    def cafe() -> str:
        return "static café"

    assert client.get("/wiki/Stra%C3%9Fe").get_data(as_text=True) == "[Straße]"
    assert client.get("/caf%C3%A9").get_data(as_text=True) == "static café"
    assert app.url_for("page", title="Straße") == "/wiki/Stra%C3%9Fe"


def test_strict_slashes_redirect_with_308_keeps_method_and_query(app: App, client: Client) -> None:
    @app.route("/folder/", methods=["GET", "POST"])
    def folder() -> str:
        return "folder"

    response = client.post("/folder?x=1")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/folder/?x=1")
    assert client.post("/folder?x=1", follow_redirects=True).get_data(as_text=True) == "folder"


@pytest.mark.parametrize("path", ["/folder", "/folder//"])  # a slash added, slashes merged
@pytest.mark.parametrize(("query", "encoded"), [("a\nb", "a%0Ab"), ("a\r\nSet-Cookie: x", "a%0D%0ASet-Cookie:%20x")])
def test_slash_redirects_encode_a_raw_query_string(
    app: App, client: Client, path: str, query: str, encoded: str
) -> None:
    # Werkzeug puts the query string in Location as the server handed it over: a raw LF was a 500.
    app.add_route("/folder/", lambda: "folder", endpoint="folder")
    response = client.get(path, environ_overrides={"QUERY_STRING": query})
    assert response.status_code == 308
    assert response.headers["Location"] == f"/folder/?{encoded}"


@pytest.mark.parametrize(
    ("path", "environ", "location"),
    [
        ("/docs", {}, "/docs/"),
        ("/docs", {"QUERY_STRING": "page=2&q=a%20b"}, "/docs/?page=2&q=a%20b"),  # the raw query string, kept
        ("/docs//", {}, "/docs/"),  # slashes merged
        ("/docs", {"SCRIPT_NAME": "/app"}, "/app/docs/"),  # the mount point, kept
        ("/docs", {"SCRIPT_NAME": "/app", "QUERY_STRING": "x=1"}, "/app/docs/?x=1"),
        ("/docs", {"SCRIPT_NAME": "/caf\xc3\xa9"}, "/caf%C3%A9/docs/"),
        ("/docs", {"wsgi.url_scheme": "https"}, "/docs/"),
    ],
)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "EVIL.example:80", "localhost"])
def test_slash_redirects_are_relative_whatever_the_host_header(
    app: App, client: Client, path: str, environ: dict[str, str], location: str, host: str
) -> None:
    # Without TRUSTED_HOSTS, Werkzeug built "http://evil.example/docs/" from the client's Host header.
    app.add_route("/docs/", lambda: "docs", endpoint="docs")
    response = client.get(path, headers={"Host": host}, environ_overrides=environ)
    assert response.status_code == 308
    assert response.headers["Location"] == location
    assert "evil" not in response.get_data(as_text=True).lower()  # nor in the page's link


def test_a_redirect_to_another_site_stays_absolute(app: App, client: Client) -> None:
    app.add_route("/old", lambda: "never", endpoint="old", redirect_to="https://elsewhere.example/new")
    response = client.get("/old", headers={"Host": "evil.example"})
    assert response.status_code == 308 and response.headers["Location"] == "https://elsewhere.example/new"


def test_slash_redirects_are_relative_over_a_real_server(app: App) -> None:
    app.add_route("/docs/", lambda: "docs", endpoint="docs")
    with live_server(app) as port:
        head, _ = raw_request(port, "GET", "/docs?page=2", host="evil.example")
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].split()[1] == "308"
        assert "Location: /docs/?page=2" in lines
        head, body = raw_request(port, "GET", "/docs/", host="evil.example")
        assert head.split(b"\r\n")[0].split()[1] == b"200" and body == b"docs"


def test_head_is_automatic_for_get_and_has_no_body(app: App, client: Client) -> None:
    @app.get("/page")
    def page() -> str:
        return "hello there"

    @app.get("/dyn/<int:n>")
    def dyn(n: int) -> dict[str, int]:
        return {"n": n}

    for path in ("/page", "/dyn/3"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == 200
        assert head.data == b""
        assert head.headers["Content-Length"] == get.headers["Content-Length"]
        assert head.headers["Content-Type"] == get.headers["Content-Type"]


@pytest.mark.parametrize("rule", ["/page", "/page/<int:n>"])
@pytest.mark.parametrize("head_first", [False, True])
def test_explicit_head_view_wins(app: App, client: Client, rule: str, head_first: bool) -> None:
    def page(**kwargs: int) -> str:
        return "body"

    def page_head(**kwargs: int) -> tuple[str, dict[str, str]]:
        return "", {"X-Head": "explicit"}

    if head_first:
        app.add_route(rule, page_head, methods=["HEAD"])
        app.add_route(rule, page)
    else:
        app.add_route(rule, page)
        app.add_route(rule, page_head, methods=["HEAD"])
    path = rule.replace("<int:n>", "4")
    assert client.head(path).headers.get("X-Head") == "explicit"
    assert client.get(path).get_data(as_text=True) == "body"


def test_automatic_options_lists_allowed_methods(app: App, client: Client) -> None:
    @app.route("/items", methods=["GET", "POST"])
    def items() -> str:
        return "items"

    @app.delete("/items")
    def delete_items() -> str:
        return "gone"

    response = client.options("/items")
    assert response.status_code == 200
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "DELETE", "OPTIONS"}


def test_automatic_options_can_be_switched_off_per_route_and_per_app(client: Client, app: App) -> None:
    @app.get("/own", auto_options=False)
    def own() -> str:
        return "own"

    @app.route("/cors", methods=["GET", "OPTIONS"])
    def cors() -> tuple[str, int, dict[str, str]]:
        if request.method == "OPTIONS":
            return "", 204, {"Access-Control-Allow-Origin": "*"}
        return "data", 200, {}

    assert client.options("/own").status_code == 405
    assert client.options("/cors").headers["Access-Control-Allow-Origin"] == "*"

    quiet = App(auto_options=False)
    quiet.add_route("/x", lambda: "x", endpoint="x")
    assert Client(quiet).options("/x").status_code == 405


def test_405_has_accurate_allow_header(app: App, client: Client) -> None:
    @app.post("/submit")
    def submit() -> str:
        return "ok"

    @app.put("/submit/<int:n>")
    def submit_n(n: int) -> str:
        return "ok"

    response = client.get("/submit")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    response = client.delete("/submit/2")
    assert set(response.headers["Allow"].split(", ")) == {"PUT", "OPTIONS"}


def test_404_for_no_match(app: App, client: Client) -> None:
    assert client.get("/nothing/here").status_code == 404


def test_static_rule_beats_dynamic_rule_like_werkzeug(app: App, client: Client) -> None:
    @app.get("/users/<name>")
    def by_name(name: str) -> str:
        return f"dynamic {name}"

    @app.get("/users/me")
    def me() -> str:
        return "static me"

    @app.post("/users/<name>")
    def post_user(name: str) -> str:
        return f"posted {name}"

    assert client.get("/users/me").get_data(as_text=True) == "static me"
    assert client.get("/users/ann").get_data(as_text=True) == "dynamic ann"
    # the static rule has no POST: the dynamic rule answers, as Werkzeug's matcher decides
    assert client.post("/users/me").get_data(as_text=True) == "posted me"


def test_rule_options_go_to_werkzeug(app: App, client: Client) -> None:
    @app.get("/page/", defaults={"n": 1})
    @app.get("/page/<int:n>")
    def page(n: int) -> str:
        return f"page {n}"

    assert client.get("/page/").get_data(as_text=True) == "page 1"
    assert client.get("/page/3").get_data(as_text=True) == "page 3"


def test_url_for_in_request_honours_script_name(app: App) -> None:
    @app.get("/users/<int:uid>")
    def user(uid: int) -> dict[str, str]:
        return {"self": url_for("user", uid=uid), "abs": url_for("user", uid=uid, _external=True)}

    @app.get("/")
    def index() -> str:
        return url_for("user", uid=1)

    client = Client(app)
    data = client.get("/users/5", base_url="http://example.org/api").json
    assert data == {"self": "/api/users/5", "abs": "http://example.org/api/users/5"}
    # the static fast path builds mount-aware URLs too
    assert client.get("/", base_url="http://example.org/api").get_data(as_text=True) == "/api/users/1"


def test_url_for_outside_request_uses_server_name(app: App) -> None:
    @app.get("/x")
    def x() -> str:
        return "x"

    app.config["SERVER_NAME"] = "example.com"
    app.config["PREFERRED_URL_SCHEME"] = "https"
    assert app.url_for("x", _external=True) == "https://example.com/x"
    with pytest.raises(RuntimeError, match="only available while a request"):
        url_for("x")


def test_request_knows_endpoint_and_view_args(app: App, client: Client) -> None:
    @app.get("/a/<int:n>")
    def a(n: int) -> dict[str, object]:
        return {"endpoint": request.endpoint, "args": request.view_args}

    assert client.get("/a/9").json == {"endpoint": "a", "args": {"n": 9}}


def test_bad_host_header_is_a_400_where_urls_are_built(app: App) -> None:
    @app.get("/d/<int:n>")
    def d(n: int) -> str:
        return url_for("d", n=n, _external=True)

    response = TestClient(app).get("/d/1", headers={"Host": "a" * 64 + ".example"})
    assert response.status_code == 400


def test_many_hosts_keep_the_adapter_cache_bounded(app: App) -> None:
    @app.get("/d/<int:n>")
    def d(n: int) -> str:
        return url_for("d", n=n, _external=True)

    client = Client(app)
    for i in range(200):
        assert (
            client.get("/d/1", headers={"Host": f"h{i}.example"}).get_data(as_text=True) == f"http://h{i}.example/d/1"
        )
    assert len(app._adapters) <= 65


# ---------------------------------------------------------------- URL building agrees with Werkzeug's build

_BUILD_SEGMENTS = ["a", "b c", "ü", "users", "<x>", "<int:n>", "<int(fixed_digits=3):d>", "<string(length=2):s>"]
_BUILD_SEGMENTS += ["<path:p>", "<any(red, 'b l'):k>", "<float:f>", "<uuid:u>", "<even:e>", "f-<int:i>.txt", ""]
_BUILD_SEGMENTS += ["<_anchor>", "<int:_external>"]  # url_for's keywords as a rule's variables


class _Text(str):
    """A str subclass whose str() is not its text (Werkzeug's query quotes str() of a key or value)."""

    __slots__ = ()

    def __str__(self) -> str:
        return "other"


#: Value names: the rules' variables, others (quoted into the query), url_for's own keywords and
#: Flask's (plain values to Werkzeug's build), and a str subclass equal to a variable's name
_BUILD_KEYS = [*"xndspkfuei", "q", "a b", "é", "a&b=c", "_external", "_anchor", "_method", "_scheme", _Text("q")]
_BUILD_VALUES = st.one_of(
    st.none(),
    st.integers(-5, 1_000),
    st.sampled_from(["x", "a b", "a/b", "//a", "ü", "%41", "red", "b l", "a+b&c=d#e?f", "", "~._-!$'()*,;:@"]),
    st.text(max_size=4),  # any text: non-ASCII, reserved and control characters, lone surrogates
    st.just(_Text("shown")),  # a str subclass: Werkzeug quotes str() of it
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.just(b"by tes"),
    st.lists(st.sampled_from([1, "a b", None, "z"]), max_size=3),
    st.just(uuid.UUID(int=7)),
)


class _EvenConverter(BaseConverter):
    """A converter of its own, whose to_url refuses odd numbers (Werkzeug then tries the next rule)."""

    def to_url(self, value: object) -> str:
        if not isinstance(value, int) or value % 2:
            raise ValidationError()
        return str(value)


_build_rule = st.tuples(
    st.sampled_from(["e0", "e1", "e2"]),  # few endpoints: several rules each, often
    st.lists(st.sampled_from(_BUILD_SEGMENTS), max_size=4),
    st.sampled_from([None, {"GET"}, {"POST"}, {"GET", "POST"}]),
    st.sampled_from([{}] * 12 + [{"defaults": {"n": 1}}, {"subdomain": "api"}, {"websocket": True}, {"alias": True}]),
)


def _build_map(rules: list[tuple[str, list[str], Any, dict[str, Any]]], sort: bool) -> RuleMap:
    url_map = RuleMap(converters={"even": _EvenConverter}, sort_parameters=sort)
    for endpoint, segments, methods, options in rules:
        text = "/" + "/".join(segments)
        try:
            url_map.add(Rule(text, endpoint=endpoint, methods=methods, **options))
        except (ValueError, SyntaxError, AssertionError):
            continue  # a rule Werkzeug refuses (the same variable twice, defaults naming no variable, ...)
    return url_map


def _outcome(build: Callable[[], str]) -> object:
    try:
        return build()
    except Exception as exc:  # the same error, with the same message (BuildError's suggestions included)
        return type(exc), str(exc)


@settings(max_examples=600, deadline=None)
@given(
    rules=st.lists(_build_rule, min_size=1, max_size=6),
    calls=st.lists(
        st.tuples(
            st.sampled_from(["e0", "e1", "e2", "nope"]),
            st.dictionaries(st.sampled_from(_BUILD_KEYS), _BUILD_VALUES),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    ),
    script_name=st.sampled_from(["/", "", "/api", "/api/", "/a b", "//x/"]),
    scheme=st.sampled_from(["http", "https", "ws", "wss", ""]),
    sort=st.sampled_from([False] * 5 + [True]),
)
def test_build_url_agrees_with_werkzeugs_build(
    rules: list[Any], calls: list[Any], script_name: str, scheme: str, sort: bool
) -> None:
    url_map = _build_map(rules, sort)
    adapter = url_map.bind("Example.org:8080", script_name, url_scheme=scheme)
    assert isinstance(adapter, RuleMapAdapter)
    for endpoint, values, external in calls * 2:  # twice: the second time through the remembered texts
        assert _both(adapter, endpoint, values, external), ([rule.rule for rule in url_map.iter_rules()], values)


def _both(adapter: RuleMapAdapter, endpoint: str, values: dict[str, Any], external: bool) -> bool:
    """Whether build_url and Werkzeug's build give the same URL or the same error."""
    expected = _outcome(lambda: MapAdapter.build(adapter, endpoint, dict(values), force_external=external))
    return _outcome(lambda: adapter.build_url(endpoint, dict(values), external)) == expected


@pytest.mark.parametrize(
    ("rule", "values"),
    [
        ("/<path:p>", {"p": "//a/b"}),  # Werkzeug strips the leading slashes a value brings
        ("/<path:p>", {"p": "/"}),
        ("/<x>/", {"x": "/", "q": "?"}),
        ("/a b/<any(red, 'b l'):k>", {"k": "b l"}),
        ("/<any(red):k>", {"k": "blue"}),  # AnyConverter's ValueError, as it is
        ("/<int:n>", {"n": "x"}),
        ("/<int:n>", {"n": True}),
        ("/<x>", {"x": 1.5, "y": b"\xff", "z": [None, "a&b"], "w": None}),
        ("/<x>", {"x": "\ud800"}),  # a lone surrogate: the same UnicodeEncodeError
    ],
)
def test_build_url_agrees_with_werkzeug_on_values_that_need_care(rule: str, values: dict[str, Any]) -> None:
    url_map = RuleMap([Rule(rule, endpoint="e")])
    for script_name in ["/", "/api//"]:
        adapter = url_map.bind("localhost", script_name)
        assert _both(adapter, "e", values, False) and _both(adapter, "e", values, True)


def test_build_url_answers_common_rules_itself_and_follows_rules_added_later() -> None:
    url_map = RuleMap()
    url_map.add(Rule("/users/<int:uid>/posts/<slug>", endpoint="post"))
    adapter = url_map.bind("localhost", "/app")
    url = adapter.build_url("post", {"uid": 3, "slug": "a b", "page": [1, 2]})
    assert url == "/app/users/3/posts/a%20b?page=1&page=2"
    assert "post" in url_map.builders  # compiled, not left to Werkzeug
    url_map.add(Rule("/p/<int:uid>/<slug>", endpoint="post", methods=["GET"]))
    assert url_map.builders == {}
    assert adapter.build_url("post", {"uid": 3, "slug": "x"}, external=True) == "http://localhost/app/users/3/posts/x"
    assert _both(adapter, "post", {"uid": 3, "slug": "x"}, False)


def test_url_for_is_build_url_with_keywords(app: App) -> None:
    @app.get("/items/<int:n>")
    def item(n: int) -> str:
        return url_for("item", n=n, _anchor="top", q="a b")

    assert app.url_for("item", n=2, _external=True) == "http://localhost/items/2"
    assert app.build_url("item", {"n": 2}, anchor="x") == "/items/2#x"
    assert TestClient(app).get("/items/4").get_data(as_text=True) == "/items/4?q=a+b#top"
    with pytest.raises(BuildError, match="Could not build url for endpoint 'item'"):
        app.url_for("item")


_URL_FOR_CALLS: list[tuple[str, dict[str, Any], bool, str | None]] = [
    ("item", {"n": 2}, False, None),
    ("item", {"n": 2, "q": "a b", "page": 3, "none": None}, True, "top"),
    ("item", {"n": "x"}, False, None),  # the int converter refuses: Werkzeug's error
    ("item", {}, False, None),  # a value missing: BuildError
    ("even", {"e": 4}, False, None),
    ("even", {"e": 3}, False, None),  # ValidationError: the next rule, /odd/<int:e>
    ("files", {"p": "//a/b c"}, True, None),
    (".local", {}, False, None),  # relative: "local" (no blueprint)
    ("..x", {}, False, None),  # relative: ".x", an endpoint of that name
    (".x", {}, False, None),  # relative: "x", not ".x" (which the call before built)
    ("x", {"k": ["1", None, "a&b"]}, False, "a"),
    ("nope", {}, False, None),
]


def _dotted_app(app: App) -> App:
    app.url_map.converters["even"] = _EvenConverter
    for rule, endpoint in [("/items/<int:n>", "item"), ("/even/<even:e>", "even"), ("/odd/<int:e>", "even")]:
        app.url_map.add(Rule(rule, endpoint=endpoint))
    for rule, endpoint in [("/files/<path:p>", "files"), ("/local", "local"), ("/dotx", ".x"), ("/x", "x")]:
        app.url_map.add(Rule(rule, endpoint=endpoint))
    return app


def _werkzeugs_url(app: App, endpoint: str, values: dict[str, Any], external: bool, anchor: str | None) -> object:
    endpoint = endpoint[1:] if endpoint.startswith(".") else endpoint  # no blueprint here
    adapter = app.url_map.bind("localhost", "/mount", url_scheme="http")
    url = _outcome(lambda: MapAdapter.build(adapter, endpoint, dict(values), force_external=external))
    return f"{url}#{anchor}" if anchor and isinstance(url, str) else url


def test_url_for_in_a_request_builds_what_werkzeug_builds(app: App) -> None:
    _dotted_app(app)
    with app.test_request_context("/", base_url="http://localhost/mount"):
        for endpoint, values, external, anchor in _URL_FOR_CALLS * 2:  # twice: then through the compiled builders
            call = functools.partial(url_for, endpoint, _external=external, _anchor=anchor, **values)
            mine = _outcome(call)
            assert mine == _werkzeugs_url(app, endpoint, values, external, anchor), endpoint


def test_url_for_goes_through_an_overridden_build_url() -> None:
    class Custom(App):
        def build_url(
            self, endpoint: str, values: dict[str, Any], external: bool = False, anchor: str | None = None
        ) -> str:
            return "/custom" + super().build_url(endpoint, values, external, anchor)

    app = _dotted_app(Custom(__name__))
    with app.test_request_context("/"):
        assert [url_for("item", n=1), url_for("item", n=2)] == ["/custom/items/1", "/custom/items/2"]


@settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(_build_rule, min_size=1, max_size=6),
    calls=st.lists(
        st.tuples(
            st.sampled_from(["e0", "e1", "e2", "nope"]),
            st.dictionaries(
                st.sampled_from([key for key in _BUILD_KEYS if key not in {"_external", "_anchor"}]), _BUILD_VALUES
            ),
            st.sampled_from([None, False, True]),  # _external: not passed, or passed
            st.sampled_from([None, "", "top", "a b", "ü#"]),  # _anchor: not passed, or passed
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_url_for_agrees_with_werkzeugs_build(rules: list[Any], calls: list[Any]) -> None:
    app = App(__name__)
    app.url_map.converters["even"] = _EvenConverter
    for endpoint, segments, methods, options in rules:
        try:
            app.url_map.add(Rule("/" + "/".join(segments), endpoint=endpoint, methods=methods, **options))
        except (ValueError, SyntaxError, AssertionError):
            continue  # a rule Werkzeug refuses
    with app.test_request_context("/", base_url="http://localhost/mount"):
        for endpoint, values, external, anchor in calls * 2:  # twice: then through the compiled builders
            keywords = dict(values)
            if external is not None:
                keywords["_external"] = external
            if anchor is not None:
                keywords["_anchor"] = anchor
            mine = _outcome(functools.partial(url_for, endpoint, **keywords))
            assert mine == _werkzeugs_url(app, endpoint, values, bool(external), anchor), (endpoint, keywords)
