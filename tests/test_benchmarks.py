"""The benchmark suite's apps and checks still work (no timing here: speed is not a test's business).

Only the raw and microweb apps are used, since the peers may not be installed.
"""

from __future__ import annotations

import pytest

from benchmarks import per_request
from benchmarks.apps import build
from benchmarks.scenarios import BY_NAME, SCENARIOS
from benchmarks.wsgi import Reply, call, make_environ


@pytest.fixture(scope="module")
def loaded() -> dict[str, dict[str, per_request.WSGIApp]]:
    return {name: build(name) for name in ("raw", "microweb")}


def test_normalisers_ignore_trivial_differences() -> None:
    param_json = BY_NAME["param_json"]
    spaced = Reply(200, [], b'{"name": "user42", "id": 42}')
    assert param_json.normalise(spaced) == param_json.expected
    redirect = BY_NAME["redirect"]
    assert redirect.normalise(Reply(302, [("location", "http://localhost/new")])) == "/new"
    assert redirect.normalise(Reply(302, [("Location", "/new")])) == "/new"


def test_problem_reports_wrong_status_and_body(loaded: dict[str, dict[str, per_request.WSGIApp]]) -> None:
    hello = BY_NAME["hello"]
    prepared = per_request.prepare(loaded["raw"], hello)
    assert prepared is not None
    assert per_request.problem(prepared, hello) is None

    def wrong_body(environ: dict[str, object], start_response: per_request.Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"Hello, world"]

    def wrong_status(environ: dict[str, object], start_response: per_request.Any) -> list[bytes]:
        start_response("500 Internal Server Error", [])
        return [b"Hello, World!"]

    def broken(environ: dict[str, object], start_response: per_request.Any) -> list[bytes]:
        raise ValueError("boom")

    assert "body" in str(per_request.problem(per_request.Prepared(wrong_body, prepared.environ, b""), hello))
    assert "status 500" in str(per_request.problem(per_request.Prepared(wrong_status, prepared.environ, b""), hello))
    assert "ValueError" in str(per_request.problem(per_request.Prepared(broken, prepared.environ, b""), hello))


@pytest.mark.parametrize("framework", ["raw", "microweb"])
def test_every_scenario_gets_the_expected_answer(
    loaded: dict[str, dict[str, per_request.WSGIApp]], framework: str
) -> None:
    ready, failures = per_request.check({framework: loaded[framework]}, SCENARIOS)
    assert failures[framework] == {}
    assert set(ready[framework]) == {s.name for s in SCENARIOS}


def test_microweb_answers_each_scenario_directly(loaded: dict[str, dict[str, per_request.WSGIApp]]) -> None:
    for scenario in SCENARIOS:
        prepared = per_request.prepare(loaded["microweb"], scenario)
        assert prepared is not None, scenario.name
        reply = call(prepared.app, prepared.environ, prepared.body)
        assert reply.status == scenario.status, scenario.name
        assert scenario.normalise(reply) == scenario.expected, scenario.name


def test_routing_apps_answer_first_and_last_route() -> None:
    from benchmarks.apps.microweb_app import build_routes
    from benchmarks.routing import targets

    app = build_routes(10)
    for path, body in targets(10).values():
        reply = call(app, make_environ("GET", path))
        assert (reply.status, reply.body) == (200, body), path


def test_e2e_report_has_a_granian_table_with_ratios_to_raw_under_granian() -> None:
    from benchmarks.report import e2e_section

    part = {
        "server": "1 sync worker",
        "duration": 3,
        "rounds": 2,
        "views": ["hello"],
        "rps": {"raw": {"hello": 4000.0}, "microweb": {"hello": 3600.0}},
        "granian": {"server": "1 worker", "rps": {"raw": {"hello": 30000.0}, "microweb": {"hello": 24000.0}}},
    }
    text = "\n".join(e2e_section(part))
    gunicorn, granian = text.split("Under Granian (1 worker)")
    assert "| microweb | 3,600 (0.90x) |" in gunicorn
    assert "| raw | 30,000 (1.00x) |" in granian and "| microweb | 24,000 (0.80x) |" in granian


def test_e2e_serves_each_granian_framework_with_granian() -> None:
    from benchmarks import e2e

    assert e2e.GRANIAN_FRAMEWORKS == ["raw", "microweb", "falcon", "flask"]
    assert e2e._command("granian", 9000)[1:5] == ["-m", "granian", "--interface", "wsgi"]
    assert e2e._command("gunicorn", 9000)[1:3] == ["-m", "gunicorn"]


def test_routing_measures_registration_and_first_request_beside_werkzeugs_map() -> None:
    from benchmarks.apps.microweb_app import build_routes
    from benchmarks.report import routing_section
    from benchmarks.routing import first_request, werkzeug_map

    app = build_routes(10)
    assert first_request(app, 10) > 0
    assert all(seconds > 0 for seconds in werkzeug_map(10))
    part = {
        "frameworks": ["microweb"],
        "sizes": [10, 10_000],
        "us": {"microweb": {}},
        "build_seconds": {"microweb": {"10": 0.003, "10000": 3.2}, "werkzeug_map": {"10": 0.002, "10000": 3.1}},
        "first_request_seconds": {"microweb": {"10": 0.0004, "10000": 0.06}, "werkzeug_map": {"10": 0.001}},
    }
    text = "\n".join(routing_section(part))
    assert "| werkzeug_map | 0.002 + 0.001 | 3.100 + – |" in text
    assert "| microweb | 0.003 + 0.000 | 3.200 + 0.060 |" in text
