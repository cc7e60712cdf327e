"""microweb: a minimalist WSGI micro-framework on Werkzeug."""

from .app import App
from .blueprints import Blueprint
from .csrf import csrf_token
from .ctx import RequestContext
from .globals import current_app, g, request, session
from .helpers import abort, redirect, render, url_for
from .resources import Resource
from .sessions import Session
from .templating import Jinja2Templates, MakoTemplates, StringTemplates
from .wrappers import Request, Response

__version__ = "0.1.0"

__all__ = [
    "App",
    "Blueprint",
    "Jinja2Templates",
    "MakoTemplates",
    "Request",
    "RequestContext",
    "Resource",
    "Response",
    "Session",
    "StringTemplates",
    "abort",
    "csrf_token",
    "current_app",
    "g",
    "redirect",
    "render",
    "request",
    "session",
    "url_for",
]
