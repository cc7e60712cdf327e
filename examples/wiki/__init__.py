"""A small wiki on microweb, laid out as MVC: ``models.py`` (SQLAlchemy), ``views.py`` (the controllers),
``templates/`` (Jinja2, the views proper), ``markup.py`` (the page text language) and ``app.py`` (the wiring).

Run it with ``python examples/wiki`` and open http://127.0.0.1:8000/.
"""

from .app import create_app

__all__ = ["create_app"]
