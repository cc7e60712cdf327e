"""The session: a dict kept in a cookie signed with itsdangerous."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.http import dump_cookie

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.wrappers import Response

logger = logging.getLogger("microweb")

#: The largest Set-Cookie value browsers keep (RFC 6265 6.1 asks for at least 4096 bytes per cookie).
MAX_COOKIE_SIZE = 4093
MIN_KEY_LENGTH = 16
# A key of fewer different characters than this ("aaaa...", "abab...") is a placeholder, not random
# data; a random 16-character hex key has so few with a probability of about 1e-9.
MIN_KEY_DISTINCT = 4
# Words of the placeholders in docs and templates ("change-me-...", "your-secret-key-here"). A key that
# holds one was copied, not generated: whoever read the same page can sign sessions with it. The words
# cannot occur in token_hex() output; in a token_urlsafe(32) one does by chance about once in 10**6 keys.
PLACEHOLDER_WORDS = ("change-me", "changeme", "secret-key", "your-", "example", "placeholder")
_KEY_ADVICE = (
    f"secret_key must be at least {MIN_KEY_LENGTH} characters of random data, "
    'e.g. python -c "import secrets; print(secrets.token_hex(32))"'
)


def _key_problem(key: object) -> str | None:
    """What makes ``key`` unfit to sign sessions, or None."""
    if not isinstance(key, (str, bytes)):
        return f"is of type {type(key).__name__}, not a str, bytes or list of them"
    if not key:
        return "is empty"
    if not key.strip():
        return "is only whitespace"
    if len(key) < MIN_KEY_LENGTH:
        return f"is only {len(key)} characters long"
    if len(set(key)) < MIN_KEY_DISTINCT:
        return f"uses only {len(set(key))} different characters"
    text = (key.decode("latin-1") if isinstance(key, bytes) else key).lower()
    for word in PLACEHOLDER_WORDS:
        if word in text:
            return f"contains the placeholder word {word!r}, so it was copied from an example, not generated"
    return None


class Session(dict[str, Any]):
    """A dict that notes when it was changed, so the cookie is only sent when needed.

    Changing a value in place (``session["cart"].append(x)``) is not seen:
    assign it again, or set ``session.modified = True``.
    """

    modified = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def clear(self) -> None:
        self.modified = True
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        self.modified = True
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self.modified = True
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.modified = True
        super().update(*args, **kwargs)


class SessionCookie:
    """Reads and writes the session cookie with the app's ``SESSION_*`` settings.

    ``secret_key`` may be a list to rotate keys: the last one signs, all of
    them verify.
    """

    salt = "microweb.session"

    def __init__(self, secret_key: str | bytes | list[str | bytes], config: Mapping[str, Any]) -> None:
        self.check_key(secret_key)
        self.secret_key = secret_key
        #: The keys as they were when this signer was made: a change to the list in place is seen too.
        self.keys = self.snapshot(secret_key)
        self.config = config
        self.serializer = URLSafeTimedSerializer(secret_key, salt=self.salt)  # type: ignore[arg-type]

    @staticmethod
    def check_key(secret_key: str | bytes | list[str | bytes]) -> None:
        """Refuse an empty, guessable or copied key with a message that says what's wrong and what to do.

        The message never contains the key: it may end up in a log.
        """
        keys = secret_key if isinstance(secret_key, list) else [secret_key]
        if not keys:
            raise ValueError(f"secret_key is an empty list; {_KEY_ADVICE}")
        for n, key in enumerate(keys, 1):
            which = f"key {n} of {len(keys)} in secret_key" if len(keys) > 1 else "secret_key"
            problem = _key_problem(key)
            if problem:
                raise ValueError(f"{which} {problem}; {_KEY_ADVICE}")

    @staticmethod
    def snapshot(secret_key: str | bytes | list[str | bytes]) -> tuple[str | bytes, ...]:
        """The key, or the keys of a list, as a tuple that later changes to the list do not affect."""
        return tuple(secret_key) if isinstance(secret_key, list) else (secret_key,)

    @property
    def name(self) -> str:
        """The cookie's name (``SESSION_COOKIE_NAME``)."""
        return str(self.config["SESSION_COOKIE_NAME"])

    def load(self, cookie: str | None) -> Session:
        """The session in ``cookie``; empty when missing, tampered with or expired."""
        if not cookie:
            return Session()
        try:
            data = self.serializer.loads(cookie, max_age=self.config["SESSION_MAX_AGE"])
        except BadSignature:
            return Session()
        return Session(data) if isinstance(data, dict) else Session()

    def save(self, session: Session, response: Response, environ: WSGIEnvironment) -> None:
        """Add ``Vary: Cookie`` to ``response``, and the cookie itself if ``session`` was changed.

        A cookie over ``MAX_COOKIE_SIZE`` bytes is still sent, but browsers drop it, so the
        session would silently stop changing: that is logged as an error on the ``microweb`` logger.
        """
        headers = response.headers
        if headers.getlist("Vary"):  # PERF: "in" raises and catches a KeyError (an HTTPException) when absent
            response.vary.add("Cookie")
        else:
            headers.add("Vary", "Cookie")
        if not session.modified:
            return
        config = self.config
        path = config["SESSION_COOKIE_PATH"] or environ.get("SCRIPT_NAME") or "/"
        value, max_age = (self.serializer.dumps(dict(session)), config["SESSION_MAX_AGE"]) if session else ("", 0)
        cookie = dump_cookie(
            self.name,
            value,
            max_age=max_age,
            expires=None if session else 0,  # an emptied session deletes the cookie
            path=path,
            secure=config["SESSION_COOKIE_SECURE"],
            httponly=config["SESSION_COOKIE_HTTPONLY"],
            samesite=config["SESSION_COOKIE_SAMESITE"],
            max_size=0,  # checked below, with a log line that says what to do instead of a warning
        )
        if len(cookie) > MAX_COOKIE_SIZE:
            logger.error(
                "The session cookie is %d bytes, over the %d that browsers keep: they drop it, so the session "
                "stops changing. Keep ids in the session and the data on the server (a database, a file).",
                len(cookie),
                MAX_COOKIE_SIZE,
            )
        headers.add("Set-Cookie", cookie)
