"""microweb: a minimalist WSGI micro-framework on Werkzeug."""

from werkzeug.wrappers import Response

from .app import App
from .context import Resource, abort, current_app, redirect, render, request, session, url_for
from .csrf import csrf_token
from .sessions import Session
from .templating import Jinja2Templates, MakoTemplates, StringTemplates
from .wrappers import Request

__version__ = "0.1.0"

__all__ = [
    "App",
    "Jinja2Templates",
    "MakoTemplates",
    "Request",
    "Resource",
    "Response",
    "Session",
    "StringTemplates",
    "abort",
    "csrf_token",
    "current_app",
    "redirect",
    "render",
    "request",
    "session",
    "url_for",
]
