"""microweb: a minimalist WSGI micro-framework on Werkzeug."""

from .app import App
from .blueprints import Blueprint
from .config import Config
from .csrf import csrf_token
from .ctx import RequestContext
from .globals import current_app, g, request, session
from .helpers import abort, flash, get_flashed_messages, redirect, render, send_file, send_from_directory, url_for
from .resources import Resource
from .sessions import Session
from .templating import Jinja2Templates, MakoTemplates, StringTemplates
from .views import MethodView, View
from .wrappers import Request, Response

__version__ = "0.1.0"

__all__ = [
    "App",
    "Blueprint",
    "Config",
    "Jinja2Templates",
    "MakoTemplates",
    "MethodView",
    "Request",
    "RequestContext",
    "Resource",
    "Response",
    "Session",
    "StringTemplates",
    "View",
    "abort",
    "csrf_token",
    "current_app",
    "flash",
    "g",
    "get_flashed_messages",
    "redirect",
    "render",
    "request",
    "send_file",
    "send_from_directory",
    "session",
    "url_for",
]
