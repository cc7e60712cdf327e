"""The route index answers only what Werkzeug's matcher would answer, and answers the common cases."""

from __future__ import annotations

import os
import random
import sys
import urllib.request
from pathlib import Path
from typing import Any, cast

import pytest
from gateways.harness import ServerProcess, free_port, need_modules, running
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect, Rule
from werkzeug.test import EnvironBuilder

from microweb import App
from microweb.routing import RouteIndex, RuleMap

# weighted towards what apps use most, so the index often has an answer to check
SEGMENTS = ["a", "b", "users", "posts", "tags"] * 2 + ["<x>", "<int:n>"] * 3
SEGMENTS += ["<any(a, b):k>", "file-<int:i>.txt", "<float:f>", "<path:p>"]
# int converters with options (not plain int()), and the other converters' to_python
SEGMENTS += ["<int(min=2, max=50):m>", "<int(fixed_digits=2):d>", "<int(signed=True):s>", "<string(minlength=2):t>"]
SEGMENTS += ["<uuid:u>"]
PATH_SEGMENTS = ["a", "b", "users", "posts", "tags", "1", "2.5", "x", "file-2.txt", "", "%C3%BC", "b.c"]
# Unicode digits (int() reads them, as Werkzeug's \d+ matches them), more digits than int() reads
# (Werkzeug: no match), signs, leading zeros, a UUID
PATH_SEGMENTS += ["\u0663\u0664", "7" * 4301, "-3", "05", "99", "00000000-0000-0000-0000-000000000007"]
METHODS = ["GET", "POST", "HEAD", "PUT"]

rule_strategy = st.tuples(
    st.lists(st.sampled_from(SEGMENTS), min_size=0, max_size=4),
    st.booleans(),  # trailing slash
    st.sets(st.sampled_from(["GET", "POST", "PUT"]), min_size=1),
    st.sampled_from([None] * 8 + [{"n": 1}]),  # defaults
)


def _rule_text(segments: list[str], slash: bool) -> str:
    used: dict[str, int] = {}
    parts = []
    for segment in segments:  # the same variable name twice is not a valid rule
        name = segment[segment.find(":") + 1 : segment.find(">")] if "<" in segment else None
        if name:
            used[name] = used.get(name, 0) + 1
            segment = segment.replace(f"{name}>", f"{name}{used[name]}>")
        parts.append(segment)
    return "/" + "/".join(parts) + ("/" if slash and parts else "")


def _werkzeug(url_map: RuleMap, path: str, method: str) -> Any:
    try:
        rule, args = url_map.bind("localhost").match(path, method, return_rule=True)
    except HTTPException as exc:
        return type(exc)
    return rule.endpoint, _typed(args)


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    """The values with their types: 1 and 1.0 (or True) are equal, the index's answer must be Werkzeug's."""
    return {name: (type(value), value) for name, value in values.items()}


FILLERS = {"<x>": "x", "<int:n>": "1", "<any(a, b):k>": "b", "file-<int:i>.txt": "file-2.txt"}
FILLERS |= {"<path:p>": "a/b", "<float:f>": "2.5", "<int(min=2, max=50):m>": "7", "<int(fixed_digits=2):d>": "05"}
FILLERS |= {"<int(signed=True):s>": "-3", "<string(minlength=2):t>": "ab", "<uuid:u>": PATH_SEGMENTS[-1]}


def _paths_like(rules: list[Any], data: st.DataObject) -> list[str]:
    """Paths that fit the rules (with a segment sometimes swapped), so the index has work to do."""
    paths = []
    for segments, slash, _, _ in rules:  # noqa: B007 - slash is flipped now and then
        filled = [FILLERS.get(segment, segment) for segment in segments]
        if filled and data.draw(st.integers(0, 3)) == 0:
            filled[data.draw(st.integers(0, len(filled) - 1))] = data.draw(st.sampled_from(PATH_SEGMENTS))
        slash = not slash if data.draw(st.integers(0, 3)) == 0 else slash
        paths.append("/" + "/".join(filled) + ("/" if slash else ""))
    paths += ["/" + "/".join(segments) for segments in data.draw(st.lists(st.lists(st.sampled_from(PATH_SEGMENTS))))]
    return paths


def _map_of(rules: list[Any]) -> RuleMap:
    url_map = RuleMap()
    for number, (segments, slash, methods, defaults) in enumerate(rules):
        text = _rule_text(segments, slash)
        try:
            url_map.add(Rule(text, endpoint=f"e{number}", methods=methods, defaults=defaults or None))
        except (ValueError, AssertionError):
            continue  # a rule Werkzeug refuses (e.g. defaults naming no variable)
    return url_map


def _check_agreement(url_map: RuleMap, paths: list[str], method: str, dynamic_only: bool = False) -> int:
    """Assert the index's every answer is Werkzeug's; the number of paths it answered (by a rule shape only)."""
    index = RouteIndex(url_map, {})
    answered = 0
    for path in paths:
        path = path.replace("//", "/") if path != "/" else path
        static = index.static.get(path)
        if static is not None and method in static:
            assert _werkzeug(url_map, path, method) == (static[method], {})
            answered += not dynamic_only
        elif static is None:
            found = index.match(path, method)
            if found is not None:
                assert _werkzeug(url_map, path, method) == (found[0].endpoint, _typed(found[1]))
                answered += 1
    return answered


@settings(max_examples=400, deadline=None)
@given(rules=st.lists(rule_strategy, min_size=1, max_size=5), method=st.sampled_from(METHODS), data=st.data())
def test_index_agrees_with_werkzeug(rules: list[Any], method: str, data: st.DataObject) -> None:
    _check_agreement(_map_of(rules), _paths_like(rules, data), method)


PLAIN_SEGMENTS = ["a", "b", "posts", "<x>", "<int:n>", "<float:f>", "<any(a, b):k>"]


def _random_rules(seed: int, n: int) -> list[Any]:
    """``n`` random rules whose first segments (n / 4 of them, a few variable) and sizes are shared."""
    rng = random.Random(seed)
    firsts = [f"p{i}" for i in range(n // 4)]
    rules: list[Any] = []
    for _ in range(n):
        if rng.random() < 0.03:  # variable first: plain, else the whole index would be left to Werkzeug
            segments = ["<x>", *rng.choices(PLAIN_SEGMENTS, k=rng.randint(0, 2))]
            defaults = None
        else:
            segments = [rng.choice(firsts), *rng.choices(SEGMENTS, k=rng.randint(0, 3))]
            defaults = {"n": 1} if rng.random() < 0.03 else None
        methods = set(rng.sample(["GET", "POST", "PUT"], rng.randint(1, 2)))
        rules.append((segments, rng.random() < 0.2, methods, defaults))
    return rules


def _random_paths(seed: int, rules: list[Any]) -> list[str]:
    """Each rule's path, then each with one segment swapped, and with its trailing slash flipped."""
    rng = random.Random(seed)
    paths = []
    for segments, slash, _, _ in rules:
        filled = [FILLERS.get(segment, segment) for segment in segments]
        swapped = list(filled)
        swapped[rng.randrange(len(swapped))] = rng.choice(PATH_SEGMENTS)
        for path in ("/".join(filled), "/".join(swapped)):
            paths += ["/" + path + ("/" if slash else ""), "/" + path + ("" if slash else "/")]
    return paths


@pytest.mark.parametrize("seed", range(6))
def test_index_of_many_rules_sharing_first_segments_and_sizes_agrees_with_werkzeug(seed: int) -> None:
    rules = _random_rules(seed, 400)
    url_map, paths = _map_of(rules), _random_paths(seed, rules)
    answered = sum(_check_agreement(url_map, paths, method) for method in METHODS)
    assert answered >= 100  # the index has answers to check


MIXED_FIXED = ["repos", "members", "issues", "hooks", "keys", "tags"]
MIXED_VARIABLE = ["<x>", "<y>", "<int:n>", "<any(a, b):k>", "<float:f>"]


def _mixed_rules(seed: int, n: int) -> list[Any]:
    """``n`` rules of mixed shapes, as REST apps have them (``/orgs/<x>/repos/<int:n>/...``): many share
    their size and first segment; now and then a fixed segment is variable, or the first one is."""
    rng = random.Random(seed)
    rules: list[Any] = []
    for _ in range(n):
        segments = [rng.choice(["orgs", "users", "teams"]) if rng.random() < 0.97 else "<x>"]
        for pair in range(rng.randint(1, 3)):
            if pair:
                segments.append(rng.choice(MIXED_FIXED) if rng.random() < 0.9 else rng.choice(MIXED_VARIABLE))
            segments.append(rng.choice(MIXED_VARIABLE))
        if rng.random() < 0.3:
            segments.append(rng.choice(MIXED_FIXED))  # e.g. /orgs/<x>/members
        methods = set(rng.sample(["GET", "POST", "PUT"], rng.randint(1, 2)))
        rules.append((segments, rng.random() < 0.15, methods, None))
    return rules


def _mixed_paths(seed: int, rules: list[Any]) -> list[str]:
    """Each rule's path, with a segment swapped, its slash flipped, a segment dropped or doubled."""
    rng = random.Random(seed)
    paths = []
    for segments, slash, _, _ in rules:
        filled = [FILLERS.get(segment, segment) for segment in segments]
        variants = [filled, list(filled), filled[:-1] or filled, [*filled, rng.choice(PATH_SEGMENTS)]]
        variants[1][rng.randrange(len(filled))] = rng.choice(PATH_SEGMENTS + ["repos", "hooks", "orgs"])
        for variant in variants:
            path = "/" + "/".join(variant)
            paths += [path + ("/" if slash else ""), path + ("" if slash else "/")]
    return paths


@pytest.mark.parametrize("seed", range(4))
def test_index_of_mixed_shapes_keyed_by_fixed_segments_agrees_with_werkzeug(seed: int) -> None:
    # 200 rules under 3 first segments: many share a shape, so only their fixed segments tell them
    # apart; 1,600 paths x 4 methods, matches, 404s, 405s and slash redirects among them.
    rules = _mixed_rules(seed, 200)
    url_map, paths = _map_of(rules), _mixed_paths(seed, rules)
    answered = sum(_check_agreement(url_map, paths, method, dynamic_only=True) for method in METHODS)
    assert answered >= 120  # told apart by their fixed segments (keyed by size and first segment alone: under 30)


def test_index_answers_rules_that_share_a_shape_by_their_fixed_segments() -> None:
    url_map = RuleMap()
    for first in ["orgs", "users"]:
        for second in ["repos", "teams", "hooks"]:
            url_map.add(Rule(f"/{first}/<a>/{second}/<int:n>", endpoint=f"{first}.{second}", methods=["GET"]))
    url_map.add(Rule("/orgs/<a>/<b>/<int:n>", endpoint="orgs.any", methods=["GET"]))  # fits every orgs path
    index = RouteIndex(url_map, {})
    found = index.match("/users/ann/hooks/3", "GET")
    assert found is not None and (found[0].endpoint, found[1]) == ("users.hooks", {"a": "ann", "n": 3})
    assert index.match("/orgs/acme/repos/3", "GET") is None  # two rules fit: Werkzeug's order decides
    assert _werkzeug(url_map, "/orgs/acme/repos/3", "GET") == ("orgs.repos", _typed({"a": "acme", "n": 3}))


def _generated_rules(n: int) -> list[Any]:
    """``n`` rules: one in five ``/r{i}/<int:n>``, alone under its first segment; the others share
    ``n / 5`` first segments, with one, two or three segments; one in seven ends in a slash."""
    rules: list[Any] = []
    tails = [[], ["<int:n>"], ["<x>", "posts"], ["tags", "<x>"]]
    for i in range(n):
        segments = [f"g{i % (n // 5)}", *tails[i % 4]] if i % 5 else [f"r{i}", "<int:n>"]
        rules.append((segments, i % 7 == 0, {"GET"}, None))
    return rules


@pytest.mark.parametrize("n", [200, 2_000])
def test_index_of_a_generated_app_agrees_with_werkzeug_and_answers_its_unique_shapes(n: int) -> None:
    rules = _generated_rules(n)
    paths = ["/" + "/".join(FILLERS.get(segment, segment) for segment in segments) for segments, *_ in rules]
    paths = paths[:: max(1, n // 400)] + [f"/r{i}/7" for i in range(0, n, 5)]
    answered = _check_agreement(_map_of(rules), paths, "GET")
    # at least the /r{i}/<int:n> rules, each the only rule of its first segment (those with a slash redirect)
    assert answered >= len([i for i in range(0, n, 5) if i % 7])


@pytest.mark.parametrize(
    "fixed",
    [
        {"endpoint": "twice"},  # a second rule for the same path and method: Werkzeug's order decides
        {"endpoint": "moved", "redirect_to": "/elsewhere"},
        {"endpoint": "any_method", "methods": None},
    ],
)
def test_a_fixed_path_the_index_cannot_answer_is_not_taken_by_a_rule_shape(fixed: dict[str, Any]) -> None:
    url_map = RuleMap()
    url_map.add(Rule("/a", endpoint="first", methods=["GET"]))
    url_map.add(Rule("/a", **({"methods": ["GET"]} | fixed)))
    url_map.add(Rule("/<name>", endpoint="page", methods=["GET"]))
    index = RouteIndex(url_map, {})
    # The path is known but not answered, so the app asks Werkzeug, whose fixed rule outranks /<name>.
    assert "GET" not in index.static["/a"]
    assert _werkzeug(url_map, "/a", "GET") in [("first", {}), ("twice", {}), ("any_method", {}), RequestRedirect]
    assert index.match("/b", "GET") == (url_map._rules_by_endpoint["page"][0], {"name": "b"})


def _app_with_routes() -> App:
    app = App()
    app.add_route("/", lambda: "i", endpoint="index")
    app.add_route("/users/<int:uid>", lambda uid: "u", endpoint="user")
    app.add_route("/users/<int:uid>/posts/<slug>", lambda uid, slug: "p", endpoint="post")
    app.add_route("/files/<path:name>", lambda name: "f", endpoint="file")
    for i in range(100):
        app.add_route(f"/r{i}/<int:x>", lambda x: "r", endpoint=f"r{i}")
    return app


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/7", ("user", {"uid": 7})),
        ("/users/7/posts/hello", ("post", {"uid": 7, "slug": "hello"})),
        ("/r99/3", ("r99", {"x": 3})),
    ],
)
def test_index_answers_the_common_shapes(path: str, expected: Any) -> None:
    app = _app_with_routes()
    index = RouteIndex(app.url_map, {})
    found = index.match(path, "GET")
    assert found is not None and (found[0].endpoint, found[1]) == expected
    assert index.static["/"]["GET"] == "index"


@pytest.mark.parametrize(
    "path", ["/users/x", "/users/7/", "/files/a/b", "/nothing", "/users/7/posts", "users/7", "127.0.0.1:443"]
)
def test_index_leaves_the_rest_to_werkzeug(path: str) -> None:
    index = RouteIndex(_app_with_routes().url_map, {})
    assert index.match(path, "GET") is None


@pytest.mark.parametrize("method", ["CONNECT", "GET"])
@pytest.mark.parametrize("path_info", ["127.0.0.1:443", "users/7", "users/7/posts/hello", "r99/3", "nothing"])
def test_a_path_without_its_leading_slash_is_matched_as_werkzeug_does(path_info: str, method: str) -> None:
    # gunicorn hands a CONNECT's authority ("host:port") over as PATH_INFO; Werkzeug puts a slash in front.
    app = _app_with_routes()
    environ = EnvironBuilder(method=method).get_environ()
    environ["PATH_INFO"] = path_info
    statuses: list[str] = []
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    try:
        app.url_map.bind("localhost").match(path_info, method)
        expected = 200
    except HTTPException as exc:
        expected = cast(int, exc.code)
    assert [int(status[:3]) for status in statuses] == [expected]


def test_index_follows_rules_added_later() -> None:
    app = _app_with_routes()
    client = app.test_client()
    assert client.get("/users/7").status_code == 200
    app.url_map.add(Rule("/users/<name>", endpoint="user_by_name", methods=["GET"]))
    app.view_functions["user_by_name"] = lambda name: f"name {name}"
    assert client.get("/users/ann").data == b"name ann"
    assert client.get("/users/7").status_code == 200


# ---------------------------------------------------------------- many routes: the build is linear


def _app_of(n: int) -> App:
    app = App()
    for i in range(n):
        app.add_route(f"/r{i}/<int:x>", lambda x: "r", endpoint=f"r{i}")  # the app
        app.add_route(f"/g{i % 10}/{i}/<x>", lambda x: "g", endpoint=f"g{i}")  # ten first segments, shared
        app.add_route(f"/s{i}/", lambda: "s", endpoint=f"s{i}")  # fixed, with a slash: redirect targets
    return app


def _calls_of_first_request(n: int) -> int:
    """The Python and builtin function calls an app of ``n`` x 3 routes makes for its first request."""
    app = _app_of(n)
    environ = EnvironBuilder(path=f"/r{n - 1}/7").get_environ()
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    statuses: list[str] = []
    sys.setprofile(count)
    try:
        b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    finally:
        sys.setprofile(None)
    assert statuses == ["200 OK"]
    return calls


def test_the_first_request_does_work_linear_in_the_number_of_routes() -> None:
    # Counted calls, not time: the old build rescanned every rule for each first segment (16x here).
    small, large = _calls_of_first_request(250), _calls_of_first_request(1_000)
    assert large <= 4.5 * small + 1_000, (small, large)


@pytest.mark.slow
def test_an_app_of_10000_routes_answers_its_first_request_under_gunicorn(tmp_path: Path) -> None:
    need_modules("gunicorn")
    (tmp_path / "manyroutes.py").write_text(
        "from microweb import App\n"
        "app = App(__name__)\n"
        "for i in range(10_000):\n"
        "    app.add_route(f'/r{i}/<int:x>', lambda x: f'r {x}', endpoint=f'r{i}')\n"
    )
    port = free_port()
    # gunicorn's defaults: 1 sync worker, --timeout 30, which kills a worker whose request takes longer.
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "manyroutes:app"]
    server = ServerProcess(
        "gunicorn", argv, tmp_path / "gunicorn.log", env={**os.environ, "HOME": str(tmp_path)}, cwd=tmp_path
    )
    with running((server, port)):
        # Generous and bounded: the worker imports the app (10,000 rules) first, then answers.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/r9999/7", timeout=90) as response:
            assert (response.status, response.read()) == (200, b"r 7")
    assert "WORKER TIMEOUT" not in server.log.read_text()
