"""A small wiki on microweb, laid out as MVC: ``models.py`` (SQLAlchemy); the controllers, one blueprint
each: ``pages.py``, ``auth.py``, ``admin.py``, ``api.py`` (a JSON API); ``templates/`` (Jinja2, the views
proper); ``markup.py`` (the page text language); ``app.py`` (the wiring) and ``db.py`` (the ORM session).

Run it with ``python examples/wiki`` and open http://127.0.0.1:8000/.
"""

from .app import create_app

__all__ = ["create_app"]
