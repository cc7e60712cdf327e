"""The pytest plugin, installed under the ``pytest11`` entry point: ``client`` and ``runner`` for an ``app`` fixture.

Each test runs pytest on a small project of its own (``pytester``), which loads
the plugin as any project would: from the installed package's entry point.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

APP_CONFTEST = """
import pytest
from microweb import App

@pytest.fixture
def app():
    made = App(__name__)  # made here: no module attribute names it, so the runner cannot import it

    @made.get("/hello")
    def hello():
        return "hello from the fixture"

    return made
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "--import-mode=importlib", *args)


def test_the_plugin_is_installed_under_the_pytest11_entry_point() -> None:
    (point,) = [ep for ep in entry_points(group="pytest11") if ep.name == "microweb"]
    assert point.value == "microweb.pytest_plugin"


def test_client_and_runner_use_the_projects_app_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(APP_CONFTEST)
    pytester.makepyfile(
        """
        from microweb.testing import TestClient

        def test_client(client, app):
            assert isinstance(client, TestClient)
            assert client.get("/hello").data == b"hello from the fixture"
            assert client.application is app

        def test_runner(runner):
            result = runner.invoke("routes")
            assert result.exit_code == 0
            assert "/hello" in result.output and "hello" in result.output

        def test_runner_reports_a_bad_command_line(runner):
            result = runner.invoke(["run", "--port", "x"])
            assert result.exit_code == 2 and "not a port number" in result.stderr
        """
    )
    run(pytester).assert_outcomes(passed=3)


def test_the_projects_own_client_and_runner_fixtures_take_precedence(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(APP_CONFTEST + "\n@pytest.fixture\ndef client(app):\n    return 'my client'\n")
    pytester.makepyfile(
        test_conftest_wins="""
        def test_client(client):
            assert client == "my client"
        """,
        test_module_wins="""
        import pytest

        @pytest.fixture
        def runner():
            return "my runner"

        def test_runner(runner, client):
            assert (runner, client) == ("my runner", "my client")
        """,
    )
    run(pytester).assert_outcomes(passed=2)


def test_a_parametrized_app_fixture_gives_a_client_per_app(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from microweb import App

        @pytest.fixture(params=["one", "two"])
        def app(request):
            made = App(__name__)
            made.add_route("/", lambda: request.param, endpoint="index")
            return made
        """
    )
    pytester.makepyfile(
        """
        def test_index(client, app):
            assert client.get("/").data in (b"one", b"two")
        """
    )
    result = run(pytester, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_index?one? PASSED*", "*test_index?two? PASSED*"])


def test_without_an_app_fixture_the_plugin_does_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_unrelated(request):
            assert "client" not in request.fixturenames and "runner" not in request.fixturenames
            assert "app" not in request.fixturenames

        def test_asks_for_client(client):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*def client(app: Any) -> TestClient:*", "*fixture 'app' not found*"])


def test_the_plugin_can_be_turned_off_by_its_name(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(APP_CONFTEST)
    pytester.makepyfile("def test_client(client):\n    pass\n")
    result = run(pytester, "-p", "no:microweb")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'client' not found*"])


def test_the_fixtures_are_listed_with_what_they_need(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--fixtures")
    result.stdout.fnmatch_lines(
        [
            "*client*microweb*pytest_plugin.py*",
            "*A test client of your ``app`` fixture*",
            "*runner*microweb*pytest_plugin.py*",
            "*Runs the ``microweb`` command on your ``app`` fixture*",
        ]
    )
