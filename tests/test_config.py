"""app.config: a dict with Flask's loaders, whose settings take effect however they are set, and are checked."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from microweb import App, Config, request, session
from microweb.testing import TestClient

from support import SECRET, validated_client

Setter = Callable[[App, dict[str, Any], Path, pytest.MonkeyPatch], None]


def _by_item(app: App, values: dict[str, Any], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in values.items():
        app.config[key] = value


def _by_update(app: App, values: dict[str, Any], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app.config.update(values)


def _from_mapping(app: App, values: dict[str, Any], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert app.config.from_mapping(values)


def _from_json_file(app: App, values: dict[str, Any], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp / "settings.json").write_text(json.dumps(values), encoding="utf-8")
    assert app.config.from_file(tmp / "settings.json", load=json.load)


def _from_env(app: App, values: dict[str, Any], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"MYAPP_{key}", value if isinstance(value, str) else json.dumps(value))
    assert app.config.from_prefixed_env("MYAPP")


#: Each way of setting keys on a config, as a user writes it.
SETTERS: dict[str, Setter] = {
    "item": _by_item,
    "update": _by_update,
    "from_mapping": _from_mapping,
    "from_file": _from_json_file,
    "from_prefixed_env": _from_env,
}


def test_config_is_a_dict_of_the_defaults() -> None:
    app = App(secret_key=SECRET, max_content_length=10)
    assert isinstance(app.config, Config) and isinstance(app.config, dict)
    assert type(app.config).__getitem__ is dict.__getitem__  # reads stay a dict's
    assert app.config["SECRET_KEY"] == SECRET and app.config["MAX_CONTENT_LENGTH"] == 10
    assert app.config["SESSION_COOKIE_NAME"] == "session"


@pytest.mark.parametrize("how", SETTERS)
def test_request_time_settings_take_effect_however_set(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = App()

    @app.post("/login")
    def login() -> str:
        session["user"] = "ann"
        return "ok"

    @app.route("/upload", methods=["GET", "POST"])
    def upload() -> str:
        return "ok"

    client: TestClient = validated_client(app)
    before = client.post("/upload", data=b"x" * 100)
    assert before.status_code == 200
    SETTERS[how](
        app,
        {
            "SECRET_KEY": SECRET,
            "MAX_CONTENT_LENGTH": 10,
            "SESSION_COOKIE_NAME": "sid",
            "SESSION_COOKIE_SECURE": True,
            "TRUSTED_HOSTS": ["localhost"],
        },
        tmp_path,
        monkeypatch,
    )
    assert client.post("/upload", data=b"x" * 100).status_code == 413
    cookie = client.post("/login").headers["Set-Cookie"]
    assert cookie.startswith("sid=") and "Secure" in cookie.split("; ")
    assert client.get("/upload", headers={"Host": "evil.example"}).status_code == 400


@pytest.mark.parametrize("how", SETTERS)
def test_a_weak_secret_key_is_refused_however_set(how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = App(secret_key=SECRET)
    with pytest.raises(ValueError, match="secret_key is only 5 characters long; .*token_hex"):
        SETTERS[how](app, {"SECRET_KEY": "short"}, tmp_path, monkeypatch)
    assert app.config["SECRET_KEY"] == SECRET


def test_a_weak_secret_key_is_refused_by_setdefault_and_ior() -> None:
    app = App()
    app.config.setdefault("SECRET_KEY", "your-secret-key-goes-here-123")  # the key is there (None): nothing set
    assert app.config["SECRET_KEY"] is None
    del app.config["SECRET_KEY"]
    with pytest.raises(ValueError, match="placeholder word"):
        app.config.setdefault("SECRET_KEY", "your-secret-key-goes-here-123")
    with pytest.raises(ValueError, match="is empty"):
        app.config |= {"SECRET_KEY": ""}
    app.config["SECRET_KEY"] = None  # no key: sessions are off, nothing to check
    assert app.config["SECRET_KEY"] is None


def test_size_settings_must_be_whole_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    app = App()
    monkeypatch.setenv("MICROWEB_MAX_CONTENT_LENGTH", "10MB")  # not JSON: a string, which no request could use
    with pytest.raises(ValueError, match="MAX_CONTENT_LENGTH must be a whole number .* not '10MB'"):
        app.config.from_prefixed_env()
    for bad in ("1024", True, -1, 1.5):
        with pytest.raises(ValueError, match="MAX_FORM_PARTS must be a whole number"):
            app.config["MAX_FORM_PARTS"] = bad
    app.config["MAX_CONTENT_LENGTH"] = None
    assert app.config["MAX_FORM_PARTS"] == 1000


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("SESSION_COOKIE_SECUR", "SESSION_COOKIE_SECURE"),
        ("MAX_CONTENT_LENGHT", "MAX_CONTENT_LENGTH"),
        ("SECRETKEY", "SECRET_KEY"),
        ("TRUSTED_HOST", "TRUSTED_HOSTS"),
    ],
)
def test_a_misspelt_setting_is_a_warning_naming_the_setting(key: str, meant: str) -> None:
    app = App()
    with pytest.warns(UserWarning, match=f"'{key}' is no microweb setting: did you mean '{meant}'") as caught:
        app.config[key] = 1
    assert caught[0].filename == __file__  # the warning points at the line that set the key
    with pytest.warns(UserWarning, match=f"did you mean '{meant}'") as caught:
        app.config.update({key: 1})
    assert caught[0].filename == __file__
    assert app.config[key] == 1  # still set: it may be the app's own key


@pytest.mark.parametrize("key", ["DATABASE_URL", "DB", "PAGE_SIZE", "SECRET", "MAX_CONTENT_SIZE", "SERVER_PORT"])
def test_keys_of_the_apps_own_are_not_warned_about(key: str) -> None:
    app = App()
    app.config[key] = "x"  # filterwarnings = error: any warning fails here
    app.config.from_mapping({key: "y"})
    assert app.config[key] == "y"


def test_flask_settings_microweb_does_not_read_are_a_warning_with_the_equivalent() -> None:
    app = App()
    with pytest.warns(UserWarning, match="'PERMANENT_SESSION_LIFETIME': use SESSION_MAX_AGE"):
        app.config["PERMANENT_SESSION_LIFETIME"] = 3600


def test_from_mapping_takes_upper_case_keys_and_warns_about_a_lower_case_setting() -> None:
    app = App()
    assert app.config.from_mapping({"PAGE_SIZE": 10, "temporary": 1}, DEBUG=True) is True
    assert app.config["PAGE_SIZE"] == 10 and app.config["DEBUG"] is True and "temporary" not in app.config
    assert app.debug
    with pytest.warns(UserWarning, match="'secret_key' is ignored: settings are upper case; use 'SECRET_KEY'"):
        app.config.from_mapping(secret_key=SECRET)
    assert app.config["SECRET_KEY"] is None


def test_from_file_json_and_toml_relative_to_the_root_path(tmp_path: Path) -> None:
    config = Config(tmp_path, {"A": 0})
    (tmp_path / "settings.json").write_text('{"A": 1, "NAME": "caf\\u00e9"}', encoding="utf-8")
    assert config.from_file("settings.json", load=json.load)
    assert config == {"A": 1, "NAME": "café"}
    if sys.version_info >= (3, 11):
        import tomllib

        (tmp_path / "settings.toml").write_text('B = 2\nNAME = "thé"\n[DB]\nHOST = "db"\n', encoding="utf-8")
        assert config.from_file("settings.toml", load=tomllib.load, text=False)
        assert config["B"] == 2 and config["NAME"] == "thé" and config["DB"] == {"HOST": "db"}


def test_from_file_relative_to_the_apps_module(tmp_path: Path) -> None:
    app = App(__name__)
    assert app.config.root_path == str(Path(__file__).parent)
    assert app.config.from_file(tmp_path / "absolute.json", load=json.load, silent=True) is False


def test_from_file_missing_names_the_full_path_or_is_silent(tmp_path: Path) -> None:
    config = Config(tmp_path)
    with pytest.raises(FileNotFoundError, match="Unable to load the configuration file") as caught:
        config.from_file("missing.json", load=json.load)
    assert caught.value.filename == str(tmp_path / "missing.json")
    assert config.from_file("missing.json", load=json.load, silent=True) is False
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(TypeError, match="holds a list, not a table of settings"):
        config.from_file("list.json", load=json.load)


def test_from_prefixed_env_parses_json_and_keeps_other_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYAPP_PAGE_SIZE", "50")
    monkeypatch.setenv("MYAPP_FEATURE", "true")
    monkeypatch.setenv("MYAPP_NAME", "ann")
    monkeypatch.setenv("MYAPP_HOSTS", '["a.example", "b.example"]')
    monkeypatch.setenv("MYAPPX_OTHER", "1")  # another prefix
    monkeypatch.setenv("OTHER_PAGE_SIZE", "1")
    config = Config()
    assert config.from_prefixed_env("MYAPP") is True
    assert config == {"PAGE_SIZE": 50, "FEATURE": True, "NAME": "ann", "HOSTS": ["a.example", "b.example"]}


def test_from_prefixed_env_default_prefix_is_microweb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROWEB_DEBUG", "true")
    app = App()
    app.config.from_prefixed_env()
    assert app.debug is True


def test_from_prefixed_env_nested_keys_keep_the_other_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    config = Config(defaults={"DB": {"HOST": "localhost", "PORT": 5432}})
    monkeypatch.setenv("MYAPP_DB__HOST", "db.internal")
    monkeypatch.setenv("MYAPP_CACHE__REDIS__URL", "redis://cache")
    config.from_prefixed_env("MYAPP")
    assert config["DB"] == {"HOST": "db.internal", "PORT": 5432}
    assert config["CACHE"] == {"REDIS": {"URL": "redis://cache"}}


def test_from_prefixed_env_nested_key_under_a_value_that_is_no_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    config = Config(defaults={"DB": "sqlite:///app.db"})
    monkeypatch.setenv("MYAPP_DB__HOST", "x")
    with pytest.raises(TypeError, match=r"MYAPP_DB__HOST sets a key in config\['DB'\], which is a str, not a dict"):
        config.from_prefixed_env("MYAPP")


def test_debug_property_and_config_stay_one() -> None:
    app = App()
    app.config.from_mapping(DEBUG=True)
    assert app.debug is True
    app.debug = False
    assert app.config["DEBUG"] is False


# ---------------------------------------------------------------- app.logger


def test_logger_is_a_child_of_microweb_named_after_the_app() -> None:
    assert App("shop.web").logger.name == "microweb.shop.web"
    assert App("__main__").logger is logging.getLogger("microweb")


def test_the_apps_failures_are_logged_on_app_logger(caplog: pytest.LogCaptureFixture) -> None:
    app = App("shop.web")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    app.logger.addHandler(handler)  # the Flask habit: a handler on app.logger sees the app's exceptions
    try:
        app.add_route("/", lambda: 1 / 0, endpoint="crash")
        with caplog.at_level(logging.ERROR, logger="microweb"):
            assert validated_client(app).get("/").status_code == 500
            app.logger.info("not an error")
    finally:
        app.logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == ["Exception on GET / [crash]"]
    assert records[0].name == "microweb.shop.web"
    assert any(r.name == "microweb.shop.web" for r in caplog.records)  # and it reaches microweb's handlers


def test_settings_changed_after_the_first_request_take_effect_at_the_next() -> None:
    # The app keeps the settings each request reads (RequestSettings) until config changes.
    app = App(secret_key=SECRET)
    app.add_route("/form", lambda: f"{len(request.form)}:{request.max_form_parts}", methods=["POST"], endpoint="form")
    client = validated_client(app)
    assert client.post("/form", data={"a": "1"}).data == b"1:1000"
    app.config["MAX_CONTENT_LENGTH"] = 4
    assert client.post("/form", data={"a": "12345"}).status_code == 413
    app.config.update(MAX_CONTENT_LENGTH=None, MAX_FORM_PARTS=5)
    assert client.post("/form", data={"a": "12345"}).data == b"1:5"
    app.config["TRUSTED_HOSTS"] = ["example.org"]
    assert client.post("/form").status_code == 400  # the test client's host is localhost
    app.config["TRUSTED_HOSTS"].append("localhost")  # in place: the same list, seen at once
    assert client.post("/form").status_code == 200
    app.config.pop("TRUSTED_HOSTS")
    assert client.post("/form").status_code == 500  # a setting deleted is missed at the next request (logged)
    app.config["TRUSTED_HOSTS"] = None
    with app.test_request_context("/form", method="POST", data={"a": "1"}):
        app.config["MAX_FORM_PARTS"] = 0  # changed in the request, before the request object is made
        assert request.max_form_parts == 0
