"""The model: pages and their revisions in SQL, through the SQLAlchemy ORM.

Every save adds a revision; a page's ``head`` is the number of its latest one.
Saving is optimistic: an edit says which revision it started from, and the
save moves ``head`` from that number to the next only if nobody moved it
first (one conditional UPDATE, which the database serialises). Otherwise the
save is an :class:`EditConflict`, never a silent overwrite. The unique
(page, number) pair is the last line of defence.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Page(Base):
    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    head: Mapped[int] = mapped_column(default=0)  # the number of the latest revision
    revisions: Mapped[list[Revision]] = relationship(back_populates="page", order_by="Revision.number.desc()")


class Revision(Base):
    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("page_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    number: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(80))
    comment: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))
    page: Mapped[Page] = relationship(back_populates="revisions")


class EditConflict(Exception):
    """Someone saved the page after the edit began: the edit's base is no longer the latest revision."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} was changed while you were editing it")
        self.name = name


# ---------------------------------------------------------------- the database


def connect(url: str) -> Engine:
    """An engine for any SQLAlchemy URL, with the schema created if it is not there yet."""
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_settings)
    for attempt in range(5):
        try:
            Base.metadata.create_all(engine)
            break
        except (IntegrityError, ProgrammingError, OperationalError):
            # Several processes starting at once can race to create the tables: look again.
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    return engine


def _sqlite_settings(dbapi_connection: Any, _record: Any) -> None:
    """A SQLite file that several processes write at once (gunicorn's workers, say).

    WAL: readers never wait for a writer, and a commit is one append to the log instead of a
    rollback journal written, synced and deleted. busy_timeout: a save waits up to 30 s for
    another's commit (the default, 5 s, ran out under load), rather than failing with
    "database is locked".
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


# ---------------------------------------------------------------- reading


def find_page(db: Session, name: str) -> Page | None:
    return db.scalar(select(Page).where(Page.name == name))


def revision(db: Session, name: str, number: int | None = None) -> Revision | None:
    """Revision ``number`` of page ``name`` (the latest if None), or None."""
    query = select(Revision).join(Page).where(Page.name == name)
    query = query.where(Revision.number == (Page.head if number is None else number))
    return db.scalar(query)


def existing_names(db: Session, names: set[str]) -> set[str]:
    """Which of ``names`` are pages (for drawing links to missing pages differently)."""
    if not names:
        return set()
    return set(db.scalars(select(Page.name).where(Page.name.in_(names))))


def recent_changes(db: Session, limit: int = 50) -> list[Revision]:
    query = select(Revision).join(Page).order_by(Revision.created.desc(), Revision.id.desc()).limit(limit)
    return list(db.scalars(query))


def all_pages(db: Session) -> list[Revision]:
    """The latest revision of every page, by page name."""
    query = select(Revision).join(Page).where(Revision.number == Page.head).order_by(Page.name)
    return list(db.scalars(query))


def search(db: Session, words: str, limit: int = 100) -> list[Revision]:
    """The latest revisions whose page name or text contains ``words`` (case-insensitive)."""
    needle = words.strip().lower()
    if not needle:
        return []
    matches = func.lower(Page.name).contains(needle, autoescape=True) | func.lower(Revision.text).contains(
        needle, autoescape=True
    )
    query = select(Revision).join(Page).where(Revision.number == Page.head, matches).order_by(Page.name).limit(limit)
    return list(db.scalars(query))


# ---------------------------------------------------------------- writing


def save(db: Session, name: str, text: str, base: int, author: str, comment: str = "") -> Revision:
    """Add revision ``base + 1`` to page ``name`` (a new page when ``base`` is 0).

    Raises :class:`EditConflict` if the page's latest revision is no longer ``base``.
    """
    page = find_page(db, name)
    if page is None:
        if base != 0:
            raise EditConflict(name)
        page = Page(name=name, head=1)
        db.add(page)
        try:
            db.flush()  # INSERT now: a page created meanwhile by someone else fails here
        except IntegrityError:
            db.rollback()
            raise EditConflict(name) from None
    else:
        # Move head from base to base + 1, only if it is still at base: no row changes when another
        # save got there first (PostgreSQL makes a concurrent save wait for it, then checks again).
        moved = db.connection().execute(update(Page).where(Page.id == page.id, Page.head == base).values(head=base + 1))
        if moved.rowcount != 1:
            raise EditConflict(name)
        db.expire(page, ["head"])
    new = Revision(page=page, number=base + 1, text=text, author=author, comment=comment)
    db.add(new)
    db.flush()
    return new


def delete_page(db: Session, name: str) -> bool:
    """Remove page ``name`` and all its revisions; False if there was no such page."""
    page = find_page(db, name)
    if page is None:
        return False
    db.execute(delete(Revision).where(Revision.page_id == page.id))
    db.delete(page)
    db.flush()
    return True
