"""Adapters for ``App(templates=...)``: each is a callable ``(name, context) -> str``.

Any callable of that shape works; these three cover the stdlib, Jinja2 and Mako.
The engines are imported when an adapter is created, not when microweb is.
"""

from __future__ import annotations

import html
import os
import string
from typing import Any

from werkzeug.security import safe_join


def _helpers() -> dict[str, Any]:
    """What every template may use besides its own context."""
    from .csrf import csrf_token
    from .globals import g, request, session
    from .helpers import get_flashed_messages, url_for

    return {
        "url_for": url_for,
        "request": request,
        "session": session,
        "g": g,
        "csrf_token": csrf_token,
        "get_flashed_messages": get_flashed_messages,
    }


def _missing_engine(adapter: str, package: str, extra: str) -> ImportError:
    return ImportError(f"{adapter} needs {package}: pip install 'microweb[{extra}]'")


class StringTemplates:
    """Templates in ``string.Template`` syntax (``$name``), with every value HTML-escaped.

    A value with an ``__html__`` method (MarkupSafe's ``Markup``) is inserted as
    it is. Needs nothing beyond the standard library.
    """

    def __init__(self, directory: str | os.PathLike[str], *, auto_reload: bool = False) -> None:
        self.directory = os.fspath(directory)
        self.auto_reload = auto_reload
        self._cache: dict[str, string.Template] = {}

    def __call__(self, name: str, context: dict[str, Any]) -> str:
        """Render template ``name`` with ``context``; a missing variable is a KeyError."""
        template = self._cache.get(name)
        if template is None or self.auto_reload:
            path = safe_join(self.directory, name)
            if path is None:
                raise FileNotFoundError(f"Template {name!r} is outside {self.directory!r}")
            with open(path, encoding="utf-8") as fh:
                template = self._cache[name] = string.Template(fh.read())
        return template.substitute({key: _escape(value) for key, value in context.items()})


def _escape(value: Any) -> str:
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


#: Template names ending in one of these (or in one of these and then ``.j2``, ``.jinja``, ``.jinja2``)
#: are markup, and Jinja2Templates escapes what they insert: SVG and XHTML run script as HTML does.
AUTOESCAPE_EXTENSIONS = (".html", ".htm", ".xml", ".xhtml", ".svg")
_JINJA_SUFFIXES = (".j2", ".jinja", ".jinja2")


def autoescape_for(name: str | None) -> bool:
    """Whether Jinja2Templates escapes in template ``name`` (a template from a string: yes)."""
    if name is None:
        return True
    name = name.lower()
    for suffix in _JINJA_SUFFIXES:
        name = name.removesuffix(suffix)
    return name.endswith(AUTOESCAPE_EXTENSIONS)


class Jinja2Templates:
    """Jinja2 templates from ``directory``; autoescaping on for markup (see ``AUTOESCAPE_EXTENSIONS``).

    ``env_options`` go to ``jinja2.Environment``; the environment is ``env``
    (add filters and globals there). Templates can call ``url_for``,
    ``csrf_token`` and ``get_flashed_messages`` and see ``request``, ``session`` and ``g``.
    """

    def __init__(self, directory: str | os.PathLike[str], **env_options: Any) -> None:
        try:
            import jinja2
        except ImportError:
            raise _missing_engine("Jinja2Templates", "Jinja2", "jinja2") from None
        env_options.setdefault("loader", jinja2.FileSystemLoader(os.fspath(directory)))
        env_options.setdefault("autoescape", autoescape_for)
        self.env = jinja2.Environment(**env_options)
        self.env.globals.update(_helpers())

    def __call__(self, name: str, context: dict[str, Any]) -> str:
        """Render template ``name`` with ``context``."""
        return self.env.get_template(name).render(context)


class MakoTemplates:
    """Mako templates from ``directory``, every ``${...}`` HTML-escaped (``${x | n}`` opts out).

    ``lookup_options`` go to ``mako.lookup.TemplateLookup`` (``lookup``).
    Templates can call ``url_for``, ``csrf_token`` and ``get_flashed_messages`` and see ``request``, ``session``
    and ``g``.
    """

    def __init__(self, directory: str | os.PathLike[str], **lookup_options: Any) -> None:
        try:
            from mako.lookup import TemplateLookup  # type: ignore[import-untyped]
        except ImportError:
            raise _missing_engine("MakoTemplates", "Mako", "mako") from None
        lookup_options.setdefault("default_filters", ["h"])
        lookup_options.setdefault("input_encoding", "utf-8")
        self.lookup = TemplateLookup(directories=[os.fspath(directory)], **lookup_options)

    def __call__(self, name: str, context: dict[str, Any]) -> str:
        """Render template ``name`` with ``context``."""
        return str(self.lookup.get_template(name).render(**{**_helpers(), **context}))
