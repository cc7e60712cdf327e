"""The benchmark suite's apps and checks still work (no timing here: speed is not a test's business).

The peers (Falcon, Bottle, Flask, Pyramid: the ``bench`` extra) and valgrind are
needed for some tests: without them a test skips, and in CI (``CI=true``) fails.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import pytest
from gateways.harness import missing

from benchmarks import instructions, per_request
from benchmarks.apps import FRAMEWORKS, build, module
from benchmarks.scenarios import BY_NAME, ISSUE_16, SCENARIOS
from benchmarks.wsgi import Reply, call, make_environ

# Pyramid's WebOb imports the cgi module, deprecated since Python 3.11; Pyramid itself imports
# pkg_resources, which setuptools 67 to 81 warn about, and Paste declares a pkg_resources namespace.
pytestmark = [
    pytest.mark.filterwarnings("ignore:'cgi' is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:pkg_resources is deprecated as an API:UserWarning"),
    pytest.mark.filterwarnings("ignore:Deprecated call to `pkg_resources.declare_namespace:DeprecationWarning"),
]


def _apps(framework: str) -> dict[str, per_request.WSGIApp]:
    try:
        return build(framework)
    except ImportError as exc:
        missing(f"{framework} is not installed ({exc.name}): pip install -e '.[bench]' (all-tests has it)")


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


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_every_scenario_gets_the_expected_answer_in_every_framework(framework: str) -> None:
    ready, failures = per_request.check({framework: _apps(framework)}, SCENARIOS)
    assert failures[framework] == {}
    assert set(ready[framework]) == {s.name for s in SCENARIOS if s.served_by(framework)}


def test_issue_16_kinds_are_served_by_every_framework_and_the_by_hand_floor_by_microweb() -> None:
    for name in ISSUE_16:
        assert BY_NAME[name].only == (), name
    assert BY_NAME["urls_by_hand_20"].only == ("raw", "microweb")
    assert set(BY_NAME["blueprint_hook"].only) == {"raw", "microweb", "flask"}
    # The two URL scenarios answer the same 20 URLs, so their ratio is url_for's cost alone.
    assert BY_NAME["url_for_20"].expected == BY_NAME["urls_by_hand_20"].expected
    assert BY_NAME["url_for_20"].expected.count(b"\n") == 19


def test_new_scenarios_check_what_they_claim(loaded: dict[str, dict[str, per_request.WSGIApp]]) -> None:
    scenario = BY_NAME["plain_response"]
    assert scenario.normalise(Reply(200, [("Content-Type", "text/plain; charset=UTF-8")], b"Hello, World!")) == (
        scenario.expected
    )
    assert scenario.normalise(Reply(200, [("Content-Type", "text/html")], b"Hello, World!")) != scenario.expected
    hooks = BY_NAME["cookie_hooks"]
    prepared = per_request.prepare(loaded["microweb"], hooks)
    assert prepared is not None and per_request.problem(prepared, hooks) is None
    without_cookie = per_request.Prepared(prepared.app, {**prepared.environ, "HTTP_COOKIE": "uid=8"}, b"")
    assert "status 403" in str(per_request.problem(without_cookie, hooks))
    stream = per_request.prepare(loaded["microweb"], BY_NAME["stream_100"])
    assert stream is not None
    env = {**stream.environ, "wsgi.input": io.BytesIO()}
    body = stream.app(env, lambda status, headers, exc_info=None: None)
    try:
        assert len(list(body)) == 100  # streamed chunk by chunk, not joined
    finally:
        getattr(body, "close", lambda: None)()


def test_microweb_answers_each_scenario_directly(loaded: dict[str, dict[str, per_request.WSGIApp]]) -> None:
    for scenario in SCENARIOS:
        prepared = per_request.prepare(loaded["microweb"], scenario)
        assert prepared is not None, scenario.name
        reply = call(prepared.app, prepared.environ, prepared.body)
        assert reply.status == scenario.status, scenario.name
        assert scenario.normalise(reply) == scenario.expected, scenario.name


@pytest.mark.parametrize("framework", ["microweb", "falcon", "bottle", "flask", "pyramid"])
def test_routing_apps_answer_first_and_last_route(framework: str) -> None:
    from benchmarks.routing import NAMES, targets

    assert framework in NAMES
    try:
        build_routes = module(framework).build_routes
    except ImportError as exc:
        missing(f"{framework} is not installed ({exc.name}): pip install -e '.[bench]' (all-tests has it)")
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


def test_issue_16_end_to_end_target_wants_095x_raw_and_at_least_falcon_on_the_json_view() -> None:
    from benchmarks.report import issue16_targets

    def row(microweb: float, falcon: float) -> list[str]:
        rps = {"raw": {"param_json": 4000.0}, "microweb": {"param_json": microweb}, "falcon": {"param_json": falcon}}
        (found,) = [r for r in issue16_targets({"e2e": {"rps": rps}}) if r[0].startswith("end to end")]
        return found

    assert row(3900.0, 3800.0)[1:] == ["0.97x raw, 1.03x Falcon", "met"]
    assert row(3900.0, 3950.0)[2] != "met"  # under Falcon
    assert row(3700.0, 3600.0)[2] != "met"  # under 0.95x raw


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


# ---- the instruction-count mode


def _valgrind() -> None:
    try:
        instructions.valgrind()
    except instructions.ValgrindMissing as exc:
        missing(f"{exc} (run .ci/install-servers)")


@pytest.mark.slow
def test_instruction_mode_counts_each_scenario_apart_under_callgrind() -> None:
    _valgrind()
    result = instructions.measure("raw", ["hello", "stream_100", "blueprint_hook"], 2, warmup=1)
    counts = result["counts"]
    assert result["failures"] == {}
    assert set(counts) == {"hello", "stream_100", "blueprint_hook"}
    assert all(isinstance(c, int) and c > 1000 for c in counts.values())
    # A hundred generator steps and writes cost more than one list: the dumps are not mixed up.
    assert counts["stream_100"] > 2 * counts["hello"]


def test_instruction_counts_are_the_second_dump_of_each_pair(tmp_path: Any) -> None:
    for i, total in enumerate([5_000_000, 300, 999, 10_000, 777, 90_000], start=1):
        (tmp_path / f"cg.out.{i}").write_text(f"version: 1\nevents: Ir\nsummary: {total}\ntotals: {total}\n")
    (tmp_path / "cg.out").write_text("totals: 123456789\n")  # the exit dump: start-up, ignored
    dumps = instructions.totals(str(tmp_path))
    assert dumps == [5_000_000, 300, 999, 10_000, 777, 90_000]
    assert instructions.per_request(dumps, ["a", "b", "c"], 10) == {"a": 30, "b": 1_000, "c": 9_000}
    with pytest.raises(RuntimeError, match="6 marker dumps for 2 scenarios"):
        instructions.per_request(dumps, ["a", "b"], 10)


def test_instruction_mode_without_valgrind_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from benchmarks.__main__ import main

    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit) as exited:
        main(["requests", "--instructions", "--out", str(tmp_path)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "valgrind is not installed" in err and "apt-get install valgrind" in err
    assert not os.path.exists(tmp_path / "results.json")


def test_instructions_flag_passes_the_request_count_to_the_requests_part(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import benchmarks.__main__ as cli

    seen: dict[str, Any] = {}

    def fake_requests(**kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        return {"frameworks": [], "missing": {}, "scenarios": [], "us": {}, "failures": {}}

    monkeypatch.setattr(cli, "_parts", lambda: {"requests": fake_requests, "routing": fake_requests})
    monkeypatch.setattr(instructions, "valgrind", lambda: "/usr/bin/valgrind")
    assert cli.main(["requests", "--instructions", "--instructions-requests", "7", "--out", str(tmp_path)]) == 0
    assert seen["instructions"] == 7
    assert json.loads((tmp_path / "results.json").read_text())["requests"]["frameworks"] == []
    with pytest.raises(SystemExit) as exited:
        cli.main(["routing", "--instructions", "--out", str(tmp_path)])
    assert exited.value.code == 2
    assert "add requests to the parts" in capsys.readouterr().err


def test_report_renders_instruction_counts_ratios_and_issue_16_targets() -> None:
    from benchmarks.report import markdown

    counts = {
        "raw": {"hello": 10_000, "url_for_20": 50_000, "urls_by_hand_20": 50_000, "stream_100": 70_000},
        "microweb": {"hello": 30_000, "url_for_20": 200_000, "urls_by_hand_20": 80_000, "stream_100": 100_000},
        "falcon": {"hello": 40_000, "url_for_20": 80_000, "stream_100": 105_000},
        "flask": {"hello": 410_000, "url_for_20": 1_550_000, "stream_100": 520_000},
    }
    scenarios = [{"name": n, "description": n, "compare": "body"} for n in counts["raw"]]
    us = {name: {s: 1.0 for s in c} for name, c in counts.items()}
    results = {
        "requests": {
            "frameworks": list(counts),
            "missing": {},
            "scenarios": scenarios,
            "us": us,
            "failures": {},
            "instructions": {"requests": 100, "warmup": 20, "counts": counts, "failures": {}, "tool": "valgrind"},
        },
        "routing": {
            "frameworks": ["microweb"],
            "sizes": [10, 10_000],
            "us": {"microweb": {}},
            "build_seconds": {"microweb": {"10": 0.01, "10000": 3.9}, "werkzeug_map": {"10": 0.01, "10000": 3.0}},
            "first_request_seconds": {"microweb": {"10": 0.001, "10000": 0.4}, "werkzeug_map": {"10": 0.0}},
        },
    }
    text = markdown(results)
    # thousands of instructions; microweb / falcon, / raw, flask / microweb, overhead share (20k of 400k)
    assert "| `hello` | 10.0 | 30.0 | 40.0 | 410.0 | 0.75x | 3.00x | 13.7x | 0.050 |" in text
    assert "| `urls_by_hand_20` | 50.0 | 80.0 | – | – | – | 1.60x | – | – |" in text
    assert "`url_for_20` costs 2.50x its `urls_by_hand_20`" in text
    targets = text.split("## Targets (issue 16)")[1].split("\n## ")[0]
    assert (
        "| each workload kind at or under Falcon (instructions) | worst `stream_100` 0.95x; misses: none | met |"
        in targets
    )
    assert "| URL building ≤ 3x formatting by hand | 2.50x | met |" in targets
    assert "| URL building ≥ 5x cheaper than Flask's url_for | 7.75x | met |" in targets
    assert "worst `url_for_20` 0.10; 0 of 3 scenarios miss | met |" in targets
    assert "| 10,000 routes: first request under 1 s | 0.400 s | met |" in targets
    assert "| 10,000 routes: registration ≤ 1.3x Werkzeug's Map.add | 1.30x | met |" in targets
