"""``app.config``: a dict with Flask's loaders, which checks microweb's own settings as they are set.

Reads are a plain dict's (``__getitem__`` is not overridden: the request path reads
settings on every request). Every way of writing (``config[k] = v``, ``update``,
``setdefault``, ``|=``, the ``from_*`` loaders) goes through :meth:`Config.__setitem__`,
which runs the setting's check (a weak ``SECRET_KEY`` is a ValueError at once) and
warns about a key that looks like a misspelt setting.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import IO, Any

from .sessions import SessionCookie

__all__ = ["Config", "RequestSettings"]

#: How alike (difflib's ratio) an unknown key and a setting must be for the key to count as a misspelling.
TYPO_CUTOFF = 0.85

#: Flask settings microweb does not read, with what to use instead (a Flask app's config carries over).
FLASK_ONLY = {
    "PERMANENT_SESSION_LIFETIME": "SESSION_MAX_AGE (seconds)",
    "SECRET_KEY_FALLBACKS": "SECRET_KEY as a list (the last key signs, all of them verify)",
    "SESSION_COOKIE_DOMAIN": "nothing: the cookie is for the host that set it, and not its subdomains",
}


class Config(dict[str, Any]):
    """The app's settings: a dict (``config["DEBUG"]``), filled by its constructor and these loaders.

    :param root_path: relative paths given to :meth:`from_file` are taken from here
        (the app's module directory).
    :param defaults: the initial settings.
    :param settings: the names of the settings the app reads; a key that is close to
        one of them but not one (``SESSION_COOKIE_SECUR``) is a ``UserWarning`` naming it.
    :param checks: a function per setting that raises ValueError for a value that
        must not be used; run whenever the setting is set (None is never checked).
    """

    def __init__(
        self,
        root_path: str | os.PathLike[str] = ".",
        defaults: Mapping[str, Any] | None = None,
        *,
        settings: Collection[str] = (),
        checks: Mapping[str, Callable[[Any], None]] | None = None,
    ) -> None:
        super().__init__()
        self.root_path = os.fspath(root_path)
        self.settings = frozenset(settings)
        self.checks = dict(checks or {})
        if defaults:
            self.update(defaults)

    # ------------------------------------------------------------ every write comes here

    #: Counts the changes: what is derived from the settings (:class:`~microweb.config.RequestSettings`)
    #: is made again when it moves.
    version = 0

    def __setitem__(self, key: str, value: Any) -> None:
        check = self.checks.get(key)
        if check is not None and value is not None:
            check(value)
        elif key not in self.settings and self.settings:
            warn_if_misspelt(key, self.settings)
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.version += 1

    def pop(self, key: str, *default: Any) -> Any:
        """``dict.pop``, counted as a change."""
        self.version += 1
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        """``dict.popitem``, counted as a change."""
        self.version += 1
        return super().popitem()

    def clear(self) -> None:
        """``dict.clear``, counted as a change."""
        super().clear()
        self.version += 1

    def update(self, *args: Any, **kwargs: Any) -> None:
        """``dict.update``, through ``__setitem__`` (checked)."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> Any:
        """``dict.setdefault``, through ``__setitem__`` (checked)."""
        if key not in self:
            self[key] = default
        return self[key]

    def __ior__(self, other: Any) -> Config:  # type: ignore[override,misc]
        self.update(other)
        return self

    # ------------------------------------------------------------ loaders (Flask's names)

    def from_mapping(self, mapping: Mapping[str, Any] | None = None, **kwargs: Any) -> bool:
        """Set the upper-case keys of ``mapping`` and ``kwargs``; other keys are ignored, as in Flask.

        An ignored key that is a setting in lower case (``secret_key``) is a warning.
        Returns True.
        """
        for key, value in {**(mapping or {}), **kwargs}.items():
            if key.isupper():
                self[key] = value
            elif key.upper() in self.settings:
                warnings.warn(
                    f"Config key {key!r} is ignored: settings are upper case; use {key.upper()!r}.",
                    UserWarning,
                    stacklevel=_caller(),
                )
        return True

    def from_file(
        self,
        filename: str | os.PathLike[str],
        load: Callable[[IO[Any]], Mapping[str, Any]],
        silent: bool = False,
        text: bool = True,
    ) -> bool:
        """Load a file with ``load`` (``json.load``; ``tomllib.load`` with ``text=False``) into :meth:`from_mapping`.

        A relative ``filename`` is taken from the app's ``root_path``. A missing file is a
        FileNotFoundError naming the full path, or, with ``silent=True``, returns False.
        """
        path = os.path.join(self.root_path, os.fspath(filename))
        try:
            with open(path, "r" if text else "rb", encoding="utf-8" if text else None) as file:
                data = load(file)
        except OSError as exc:
            if silent and isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
                return False
            raise type(exc)(exc.errno, f"Unable to load the configuration file ({exc.strerror})", path) from exc
        if not isinstance(data, Mapping):
            raise TypeError(f"The configuration file {path} holds a {type(data).__name__}, not a table of settings.")
        return self.from_mapping(data)

    def from_prefixed_env(self, prefix: str = "MICROWEB", *, loads: Callable[[str], Any] = json.loads) -> bool:
        """Set every environment variable ``{prefix}_KEY`` as ``KEY``, its value parsed as JSON if it is JSON.

        ``MYAPP_PAGE_SIZE=50`` gives ``50``, ``MYAPP_DEBUG=true`` ``True``, ``MYAPP_NAME=ann``
        the string. A double underscore sets a key of a dict: ``MYAPP_DB__HOST=x`` sets
        ``config["DB"]["HOST"]``, creating the dict if needed and keeping its other keys.
        Returns True.
        """
        start = f"{prefix}_"
        for name in sorted(os.environ):
            if not name.startswith(start) or name == start:
                continue
            raw = os.environ[name]
            try:
                value = loads(raw)
            except Exception:
                value = raw  # not JSON: a string, as given
            self.set_path(name[len(start) :].split("__"), value, source=name)
        return True

    def set_path(self, keys: list[str], value: Any, *, source: str = "") -> None:
        """Set ``config[keys[0]][keys[1]]...`` to ``value``, making the dicts that are missing on the way."""
        if len(keys) == 1:
            self[keys[0]] = value
            return
        current: dict[str, Any] = self
        for depth, key in enumerate(keys[:-1]):
            inner = current.get(key)
            if inner is None:
                inner = current[key] = {}
            elif not isinstance(inner, dict):
                where = "".join(f"[{k!r}]" for k in keys[: depth + 1])
                raise TypeError(
                    f"{source or 'A nested setting'} sets a key in config{where}, which is a "
                    f"{type(inner).__name__}, not a dict: rename one of them."
                )
            current = inner
        current[keys[-1]] = value

    def __repr__(self) -> str:
        return f"<Config {dict.__repr__(self)}>"


class RequestSettings:
    """The settings every request reads, as they were at one :attr:`microweb.Config.version`.

    PERF: a read of a Config (a dict subclass) costs several times a plain attribute's;
    the app makes these again when ``config.version`` has moved. A list (``TRUSTED_HOSTS``)
    is the config's own object, so a change to it in place is seen at once too.
    """

    __slots__ = ("max_content_length", "max_form_memory_size", "max_form_parts", "trusted_hosts", "version")

    def __init__(self, config: Config) -> None:
        self.version = config.version
        self.trusted_hosts: Any = config["TRUSTED_HOSTS"]
        self.max_content_length: int | None = config["MAX_CONTENT_LENGTH"]
        self.max_form_memory_size: int | None = config["MAX_FORM_MEMORY_SIZE"]
        self.max_form_parts: Any = config["MAX_FORM_PARTS"]  # as set: Werkzeug takes it as it is


def warn_if_misspelt(key: str, settings: Iterable[str]) -> None:
    """Warn (``UserWarning``) if ``key`` is a Flask-only setting or looks like a misspelt one of ``settings``."""
    instead = FLASK_ONLY.get(key)
    if instead is not None:
        warnings.warn(
            f"microweb does not read the Flask setting {key!r}: use {instead}.", UserWarning, stacklevel=_caller()
        )
        return
    close = difflib.get_close_matches(key, list(settings), n=1, cutoff=TYPO_CUTOFF)
    if close:
        warnings.warn(
            f"Config key {key!r} is no microweb setting: did you mean {close[0]!r}? (Set it under that name.)",
            UserWarning,
            stacklevel=_caller(),
        )


def check_size(name: str) -> Callable[[Any], None]:
    """A check that ``name`` is a whole number of bytes or items (or None), e.g. ``MAX_CONTENT_LENGTH``."""

    def check(value: Any) -> None:
        if type(value) is not int or value < 0:
            raise ValueError(
                f"{name} must be a whole number (or None), not {value!r}: e.g. {name}=1048576 for 1 MiB, "
                "without units or quotes."
            )

    return check


def _caller() -> int:
    """The ``stacklevel`` of the first frame outside this module: a warning names the line that set the key."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
        level += 1
    return level


#: The checks of the settings microweb reads whose wrong values would otherwise fail later, in a request.
SETTING_CHECKS: dict[str, Callable[[Any], None]] = {
    "SECRET_KEY": SessionCookie.check_key,
    **{name: check_size(name) for name in ("MAX_CONTENT_LENGTH", "MAX_FORM_MEMORY_SIZE", "MAX_FORM_PARTS")},
    "SESSION_MAX_AGE": check_size("SESSION_MAX_AGE"),
}
