"""Test helpers: ``App.test_request_context`` and ``CliRunner`` (the command in process, on an app object)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from microweb import App, current_app, g, request, session, url_for
from microweb.testing import CliRunner


def test_test_request_context_gives_request_url_for_g_and_session_outside_a_request(app: App) -> None:
    @app.get("/users/<int:uid>")
    def user(uid: int) -> str:
        return "user"

    @app.get("/login")
    def login() -> str:
        session["user"] = "ann"
        return "signed in"

    cookie = app.test_client().get("/login").headers["Set-Cookie"].split(";")[0]
    with app.test_request_context("/users/7?x=1", headers={"X-Thing": "t", "Cookie": cookie}) as ctx:
        assert request.args["x"] == "1"
        assert request.headers["X-Thing"] == "t"
        assert (request.endpoint, request.view_args) == ("user", {"uid": 7})  # matched, as Flask does
        assert url_for("user", uid=8, _external=True) == "http://localhost/users/8"
        assert session["user"] == "ann"
        g.seen = True
        assert current_app.config is app.config
        assert ctx.app is app
    with pytest.raises(RuntimeError, match="test_request_context"):
        request.args  # noqa: B018  (the context is gone with the block)


def test_test_request_context_takes_environ_builder_arguments_and_the_apps_server_name(app: App) -> None:
    app.config.update(SERVER_NAME="example.com", PREFERRED_URL_SCHEME="https")
    with app.test_request_context("/form", method="POST", data={"name": "ann"}):
        assert (request.method, request.form["name"], request.host, request.scheme) == (
            "POST",
            "ann",
            "example.com",
            "https",
        )
        assert request.endpoint is None  # no route matched: nothing is raised until a view would run
    with app.test_request_context("/", "http://other.test/app", json={"a": 1}):
        assert (request.host, request.root_path, request.get_json()) == ("other.test", "/app", {"a": 1})


def test_leaving_the_block_commits_resources_and_runs_teardown_hooks(app: App) -> None:
    events: list[str] = []

    @app.resource
    def db() -> Iterator[str]:
        events.append("open")
        try:
            yield "conn"
        except Exception as exc:
            events.append(f"rollback {exc}")
            raise
        else:
            events.append("commit")

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        events.append(f"teardown {error!r} with g.x={g.get('x')}")

    with app.test_request_context("/"):
        g.x = 1
        assert db() == "conn"
    assert events == ["open", "commit", "teardown None with g.x=1"]
    events.clear()
    with pytest.raises(ValueError, match="bad"), app.test_request_context("/"):
        db()
        raise ValueError("bad")
    assert events == ["open", "rollback bad", "teardown ValueError('bad') with g.x=None"]


def test_a_failed_commit_at_the_end_of_the_block_is_raised(app: App) -> None:
    @app.resource
    def db() -> Iterator[str]:
        yield "conn"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), app.test_request_context("/"):
        db()


def test_contexts_nest_and_the_outer_one_is_current_again(app: App) -> None:
    with app.test_request_context("/outer"):
        with app.test_request_context("/inner"):
            assert request.path == "/inner"
        assert request.path == "/outer"


def test_the_runner_invokes_the_command_on_the_app_object(app: App) -> None:
    @app.get("/hello")
    def hello() -> str:
        return "hi"

    result = CliRunner(app).invoke("routes")
    assert result.exit_code == 0, result.stderr
    assert "/hello" in result.output and "hello" in result.stdout.splitlines()[1]
    assert result.stderr == ""


def test_the_runner_reports_a_bad_command_line_as_the_command_does(app: App) -> None:
    runner = CliRunner(app)
    bad = runner.invoke(["run", "--port", "0"])
    assert (bad.exit_code, bad.stdout) == (2, "")
    assert bad.stderr.count("\n") == 1 and "is not a port number" in bad.stderr
    named = runner.invoke("routes hello:app")  # the app is the runner's: naming one is a usage error
    assert named.exit_code == 2 and "unrecognized arguments: hello:app" in named.stderr
    helped = runner.invoke("routes --help")
    assert helped.exit_code == 0 and helped.output.startswith("usage: microweb routes [-h]\n")


def test_the_runner_runs_the_server_options_check_on_the_app(app: App) -> None:
    result = CliRunner(app).invoke("run --server waitress -o no_such_option=1")
    assert result.exit_code == 2
    assert result.stderr.startswith("microweb: error:") and "no_such_option" in result.stderr
