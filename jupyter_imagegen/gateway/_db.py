"""The two databases the ledger runs on, behind one small interface: SQLite and PostgreSQL.

SQLite is the default (one file, WAL journal): a transaction that returned is in the WAL, so a
``kill -9`` of the gateway loses nothing that was settled. ``synchronous=NORMAL`` (the default)
leaves the WAL's fsync to checkpoints: a power cut or kernel crash may then lose the last
commits, which ``fsync=True`` (``serve --fsync``, ``synchronous=FULL``) prevents for about one
to three milliseconds per call on these machines (two commits: reserve and settle). Its writers
take the database lock at ``BEGIN IMMEDIATE``, so reservations are serialised even between
processes sharing the file.
PostgreSQL (``postgresql://...``) serves several gateway processes or machines: a reservation is
one conditional ``UPDATE ... WHERE spent + reserved + amount <= budget`` inside a transaction,
which the row lock makes atomic however many processes race.

The ledger writes its SQL once with ``?`` placeholders; :class:`Database` turns them into the
driver's style. Every call runs under one lock per process (the ledger calls it from worker
threads), and each :meth:`Database.transaction` is retried when SQLite is busy or PostgreSQL
reports a serialisation failure.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .._exceptions import ImageGenError

__all__ = ["Cursor", "Database", "open_database"]

T = TypeVar("T")


class Cursor(Protocol):
    """What the ledger needs of a DB-API cursor."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Database:
    """One connection, a lock, and transactions that retry on contention."""

    kind = "sqlite"

    def __init__(self, connect: Callable[[], Any], *, placeholder: str = "?") -> None:
        self._connect = connect
        self._placeholder = placeholder
        self._conn: Any = connect()
        self._lock = threading.Lock()

    def sql(self, text: str) -> str:
        """``text`` with ``?`` placeholders in the driver's style."""
        return text if self._placeholder == "?" else text.replace("?", self._placeholder)

    def _begin(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def _retryable(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def transaction(self, work: Callable[[Cursor], T], *, attempts: int = 50) -> T:
        """Run ``work(cursor)`` in one transaction; commit, or roll back and re-raise."""
        with self._lock:
            for attempt in range(attempts):
                cur = self._conn.cursor()
                try:
                    self._begin(cur)
                    result = work(_Cursor(cur, self))
                    self._conn.commit()
                    return result
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        self._conn.rollback()
                    if not self._retryable(exc) or attempt == attempts - 1:
                        raise
                    time.sleep(min(0.2, 0.005 * (attempt + 1)))
                finally:
                    with contextlib.suppress(Exception):
                        cur.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the connection."""
        with self._lock, contextlib.suppress(Exception):
            self._conn.close()


class _Cursor:
    """A cursor whose ``execute`` translates placeholders."""

    def __init__(self, cur: Any, db: Database) -> None:
        self._cur, self._db = cur, db

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(self._db.sql(sql), tuple(params))

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cur.fetchall())


class _Postgres(Database):
    kind = "postgresql"

    def _begin(self, cur: Any) -> None:
        pass  # psycopg opens a transaction on the first statement (autocommit off)

    def _retryable(self, exc: Exception) -> bool:
        code = getattr(exc, "sqlstate", None)
        return code in ("40001", "40P01")  # serialization failure, deadlock detected


def _sqlite(path: str, fsync: bool) -> Database:
    folder = Path(path).expanduser().resolve().parent
    folder.mkdir(parents=True, exist_ok=True)

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(str(Path(path).expanduser()), timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL" if fsync else "PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    # isolation_level=None: no implicit transactions, so BEGIN IMMEDIATE is ours and commit ends it
    return Database(connect)


def _postgres(url: str) -> Database:
    try:
        import psycopg
    except ImportError:
        raise ImageGenError("a postgresql:// ledger needs psycopg: pip install "
                            "'jupyter-imagegen[gateway]'") from None

    def connect() -> Any:
        return psycopg.connect(url, autocommit=False)

    try:
        return _Postgres(connect, placeholder="%s")
    except psycopg.OperationalError as exc:
        where = url.split("@")[-1].split("?")[0]  # never the password
        raise ImageGenError(f"cannot connect to the PostgreSQL ledger at {where}: "
                            f"{str(exc).splitlines()[0][:200]}") from None


def open_database(where: str, *, fsync: bool = False) -> Database:
    """A :class:`Database` for a file path (SQLite) or a ``postgresql://`` URL.

    ``fsync`` makes every SQLite commit wait for the disk (PostgreSQL always does, by default).
    """
    if where.startswith(("postgresql://", "postgres://")):
        return _postgres(where)
    if "://" in where:
        raise ImageGenError(f"unknown ledger URL scheme in {where.split('://')[0]!r}://...: use a "
                            "file path (SQLite) or postgresql://")
    return _sqlite(where, fsync)

