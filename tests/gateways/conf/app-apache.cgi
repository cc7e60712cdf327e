#!/bin/sh
# The one-line CGI wrapper: microweb answers this one request.
PYTHONPATH="@@APPDIR@@" exec "@@PYTHON@@" -m microweb cgi gwapp:app
