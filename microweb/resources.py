"""Request-scoped resources: a value made by a generator, opened on first use, finalized when the request ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar, cast

from werkzeug.exceptions import HTTPException, ServiceUnavailable

from .ctx import current_context

__all__ = ["Resource"]

T = TypeVar("T")


class Resource(Generic[T]):
    """A request-scoped value made by a generator function (see :meth:`App.resource`)."""

    def __init__(self, factory: Callable[[], Iterator[T]]) -> None:
        self.factory = factory
        self.name = getattr(factory, "__name__", repr(factory))
        self.__doc__ = factory.__doc__

    def __call__(self) -> T:
        """The value for this request: opened on first use, then reused."""
        ctx = current_context(f"resource {self.name!r}")
        if ctx.resources_closed:
            raise RuntimeError(f"Resource {self.name!r} was used after the request's resources were closed.")
        opened = ctx.resources
        if opened is None:
            opened = ctx.resources = {}
        elif self in opened:
            return cast(T, opened[self][1])
        gen = self.factory()
        try:
            value = next(gen)
        except HTTPException:
            raise
        except Exception as exc:
            ctx.app.logger.error("Resource %r could not be opened", self.name, exc_info=exc)
            raise ServiceUnavailable(
                "A resource this page needs is unavailable right now; please try again shortly."
            ) from exc
        opened[self] = (gen, value)
        return value

    def finish(self, gen: Iterator[Any], error: BaseException | None) -> None:
        """Run the generator past its ``yield``: normally, or with ``error`` thrown in."""
        if error is None:
            try:
                next(gen)
            except StopIteration:
                return
            cast(Any, gen).close()
            raise RuntimeError(f"Resource {self.name!r} yielded more than once.")
        own_traceback = error.__traceback__
        try:
            cast(Any, gen).throw(error)
        except StopIteration:
            pass
        except BaseException as exc:
            if exc is not error:
                raise
        finally:
            # throw() adds the resource's frames on top of the error's traceback; the teardown
            # hooks and the server get it back as it was logged, pointing where it was raised.
            error.__traceback__ = own_traceback
            cast(Any, gen).close()
