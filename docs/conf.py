"""Sphinx configuration for microweb's documentation (MyST Markdown, the furo theme)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import microweb  # noqa: E402

project = "microweb"
author = "The microweb developers"
copyright = "2026, The microweb developers"
release = version = microweb.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"microweb {release}"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_inherit_docstrings = False  # dict's own docstrings are not reST
autodoc_default_options = {"members": True, "show-inheritance": True}

# The build runs offline (no intersphinx inventories to fetch): names from the standard library and from
# Werkzeug, itsdangerous and the template engines cannot be linked, so nitpicky mode skips just those.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(werkzeug|itsdangerous|jinja2|mako|sqlite3|typing|typing_extensions|collections|_typeshed)\b.*"),
    (r"py:.*", r"(wsgiref|http|os|pathlib|logging|json|datetime|contextvars|types|io|abc|string|re)\b.*"),
    (r"py:class", r"(str|bytes|int|float|bool|dict|list|tuple|set|frozenset|object|type|None|Exception)"),
    (r"py:class", r"(BaseException|Callable|Iterator|Iterable|Mapping|MutableMapping|Sequence|Any|T|P|R|F)"),
    # type aliases and type variables, which autodoc shows by name
    (r"py:class", r"(WSGIEnvironment|StartResponse|WSGIApplication|HTTPStatus|MapAdapter|HTTPException|Headers)"),
    (r"py:class", r"(MultiDict|TStreamFactory|Builder|t\..*)"),
    (r"py:(class|obj)", r"microweb\.[\w.]*\.(T|V|P|R|F|ViewFunction|_\w+)"),
    (r"py:class", r"microweb\._\w+\.\w+"),  # a name of a private module (microweb._werkzeug), shown by name
]
