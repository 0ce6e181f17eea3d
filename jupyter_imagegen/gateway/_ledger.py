"""The ledger: students, budgets, reservations and settled calls, in one database.

Money is kept as integer nano-dollars (``usage.cost`` has up to 10 decimals), so sums are exact
and never drift. A request's life is three transactions:

1. :meth:`Ledger.reserve`: one conditional ``UPDATE`` of the student's row (``spent + reserved +
   amount <= budget``), the same of the class row when the class has a budget, and the
   reservation's own row. Either all three happen or none: a refusal sends nothing upstream.
2. :meth:`Ledger.settle`: the reservation row is deleted, the billed cost added to ``spent`` and
   the call recorded; keyed by the reservation id, so settling twice counts once.
3. :meth:`Ledger.release`: the same with no cost (an upstream error).

Each gateway process registers an *instance* and beats a heartbeat; :meth:`Ledger.sweep`
releases the reservations of instances that stopped beating (or whose process, on this host, is
gone): what ``kill -9`` left behind. Tokens are kept as SHA-256 digests only: they are 256-bit
random strings, so a fast hash is enough and nothing in the database opens the gateway.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .._exceptions import ImageGenError
from ._db import Cursor, Database, open_database

__all__ = ["NANO", "Ledger", "Refusal", "Reservation", "Student", "hash_token", "new_token",
           "to_nano", "to_usd"]

NANO = 1_000_000_000
TOKEN_PREFIX = "sk-gw-"  # noqa: S105 - a prefix, not a secret

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gw_students (
    id {serial} PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_hash TEXT UNIQUE,
    hub_user TEXT UNIQUE, budget BIGINT NOT NULL, spent BIGINT NOT NULL DEFAULT 0,
    reserved BIGINT NOT NULL DEFAULT 0, calls BIGINT NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0, created DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS gw_class (
    id INTEGER PRIMARY KEY, budget BIGINT, spent BIGINT NOT NULL DEFAULT 0,
    reserved BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS gw_reservations (
    id TEXT PRIMARY KEY, student_id BIGINT NOT NULL, amount BIGINT NOT NULL,
    instance TEXT NOT NULL, model TEXT, created DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS gw_calls (
    id TEXT PRIMARY KEY, student_id BIGINT NOT NULL, model TEXT, api TEXT,
    reserved BIGINT NOT NULL, cost BIGINT NOT NULL, outcome TEXT NOT NULL,
    generation_id TEXT, prompt TEXT, created DOUBLE PRECISION NOT NULL,
    finished DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS gw_calls_student ON gw_calls (student_id, finished);
CREATE TABLE IF NOT EXISTS gw_instances (
    id TEXT PRIMARY KEY, host TEXT NOT NULL, pid BIGINT NOT NULL,
    heartbeat DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS gw_images (
    id {serial} PRIMARY KEY, student_id BIGINT NOT NULL, call_id TEXT NOT NULL,
    prompt TEXT, mime TEXT NOT NULL, thumb {blob} NOT NULL, created DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS gw_images_created ON gw_images (created);
"""


def to_nano(usd: float) -> int:
    """USD as nano-dollars, rounded up (a reservation never holds less than its price)."""
    return math.ceil(round(usd * NANO, 3))


def to_usd(nano: int | None) -> float:
    """Nano-dollars as USD."""
    return round((nano or 0) / NANO, 9)


def new_token() -> str:
    """A fresh student token: ``sk-gw-`` and 256 random bits (hex: no character needs quoting)."""
    return TOKEN_PREFIX + secrets.token_hex(32)


def hash_token(token: str) -> str:
    """The stored form of a token (SHA-256 hex of its UTF-8 bytes)."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


@dataclass(frozen=True)
class Student:
    """One row of ``gw_students`` (money in nano-dollars)."""

    id: int
    name: str
    budget: int
    spent: int
    reserved: int
    calls: int
    revoked: bool
    hub_user: str | None = None

    @property
    def left(self) -> int:
        """What may still be reserved."""
        return max(0, self.budget - self.spent - self.reserved)


@dataclass(frozen=True)
class Reservation:
    """A held worst case: settle or release it exactly once."""

    id: str
    student_id: int
    amount: int
    model: str
    api: str
    created: float


@dataclass(frozen=True)
class Refusal:
    """Why a reservation was refused: ``"student"`` or ``"class"`` budget, with what is left."""

    scope: str
    student: Student
    left: int
    amount: int


#: The student queries, by the column they look up (literal SQL: nothing is formatted in).
_BY = {
    "id": "SELECT id, name, budget, spent, reserved, calls, revoked, hub_user FROM gw_students "
          "WHERE id = ?",
    "name": "SELECT id, name, budget, spent, reserved, calls, revoked, hub_user FROM gw_students "
            "WHERE name = ?",
    "token": "SELECT id, name, budget, spent, reserved, calls, revoked, hub_user FROM gw_students "
             "WHERE token_hash = ?",
    "hub": "SELECT id, name, budget, spent, reserved, calls, revoked, hub_user FROM gw_students "
           "WHERE hub_user = ?",
}


def _student(row: Any) -> Student:
    return Student(int(row[0]), str(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5]),
                   bool(row[6]), row[7])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child that nobody reaped yet is a zombie: it holds nothing
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Ledger:
    """Budgets that hold across processes: see the module docstring for the transactions."""

    def __init__(self, where: str, *, db: Database | None = None, fsync: bool = False) -> None:
        self.where = where
        self.db = db or open_database(where, fsync=fsync)
        self.instance = uuid.uuid4().hex
        self.host = socket.gethostname()
        self._create()

    def _create(self) -> None:
        pg = self.db.kind == "postgresql"
        schema = _SCHEMA.format(serial="BIGSERIAL" if pg else "INTEGER",
                                blob="BYTEA" if pg else "BLOB")

        def work(cur: Cursor) -> None:
            for statement in filter(str.strip, schema.split(";")):
                cur.execute(statement)
            cur.execute("SELECT id FROM gw_class WHERE id = 1")
            if cur.fetchone() is None:
                cur.execute("INSERT INTO gw_class (id, budget) VALUES (1, NULL)")

        def locked(cur: Cursor) -> None:
            if pg:  # two processes creating the schema at once: serialise on an advisory lock
                cur.execute("SELECT pg_advisory_xact_lock(4242)")
            work(cur)

        self.db.transaction(locked)

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    # -- students ---------------------------------------------------------------------------------

    def add_student(self, name: str, budget_usd: float) -> str:
        """Create ``name`` with a budget; returns the token (shown once, stored hashed)."""
        name = _clean_name(name)
        token = new_token()

        def work(cur: Cursor) -> None:
            cur.execute("SELECT id FROM gw_students WHERE name = ?", (name,))
            if cur.fetchone() is not None:
                raise ImageGenError(f"a student named {name!r} exists already (revoke them, or "
                                    "pick another name)")
            cur.execute("INSERT INTO gw_students (name, token_hash, budget, created) "
                        "VALUES (?, ?, ?, ?)", (name, hash_token(token), to_nano(budget_usd),
                                                time.time()))

        self.db.transaction(work)
        return token

    def hub_student(self, user: str, default_budget_usd: float) -> Student:
        """The student for JupyterHub user ``user``, created with the default budget on first use."""
        name = _clean_name(user)

        def work(cur: Cursor) -> Student:
            cur.execute(_BY["hub"], (name,))
            row = cur.fetchone()
            if row is None:
                cur.execute("SELECT id FROM gw_students WHERE name = ?", (name,))
                if cur.fetchone() is None:
                    cur.execute("INSERT INTO gw_students (name, hub_user, budget, created) "
                                "VALUES (?, ?, ?, ?)",
                                (name, name, to_nano(default_budget_usd), time.time()))
                else:  # a token student of that name: the Hub user becomes them
                    cur.execute("UPDATE gw_students SET hub_user = ? WHERE name = ?", (name, name))
                cur.execute(_BY["hub"], (name,))
                row = cur.fetchone()
            return _student(row)

        return self.db.transaction(work)

    def student_by_token(self, token: str) -> Student | None:
        """The student whose token this is (revoked ones included), or ``None``."""
        digest = hash_token(token)
        return self.db.transaction(lambda cur: self._one(
            cur, _BY["token"], digest))

    def student(self, name: str) -> Student | None:
        """The student called ``name``, or ``None``."""
        return self.db.transaction(lambda cur: self._one(
            cur, _BY["name"], name))

    def student_by_id(self, student_id: int) -> Student | None:
        """The student with this row id, or ``None``."""
        return self.db.transaction(lambda cur: self._one(
            cur, _BY["id"], student_id))

    @staticmethod
    def _one(cur: Cursor, sql: str, value: Any) -> Student | None:
        cur.execute(sql, (value,))
        row = cur.fetchone()
        return _student(row) if row is not None else None

    def students(self) -> list[Student]:
        """Every student, by name."""
        def work(cur: Cursor) -> list[Student]:
            cur.execute("SELECT id, name, budget, spent, reserved, calls, revoked, hub_user "
                        "FROM gw_students ORDER BY name")
            return [_student(row) for row in cur.fetchall()]
        return self.db.transaction(work)

    def revoke(self, name: str) -> bool:
        """Revoke ``name``'s token (running calls still settle); False if no such student."""
        return self._update_student("UPDATE gw_students SET revoked = 1 WHERE name = ?", (name,))

    def set_budget(self, name: str, budget_usd: float) -> bool:
        """Set ``name``'s budget to ``budget_usd``; False if no such student."""
        return self._update_student("UPDATE gw_students SET budget = ? WHERE name = ?",
                                    (to_nano(budget_usd), name))

    def _update_student(self, sql: str, params: tuple[Any, ...]) -> bool:
        def work(cur: Cursor) -> bool:
            cur.execute(sql, params)
            return cur.rowcount > 0
        return self.db.transaction(work)

    def set_class_budget(self, budget_usd: float | None) -> None:
        """The whole class's budget (``None``: none beyond the students' own)."""
        value = None if budget_usd is None else to_nano(budget_usd)
        self.db.transaction(lambda cur: cur.execute(
            "UPDATE gw_class SET budget = ? WHERE id = 1", (value,)))

    def class_totals(self) -> dict[str, int | None]:
        """``budget`` (or None), ``spent`` and ``reserved`` of the class, in nano-dollars."""
        def work(cur: Cursor) -> dict[str, int | None]:
            cur.execute("SELECT budget, spent, reserved FROM gw_class WHERE id = 1")
            budget, spent, reserved = cur.fetchone()
            return {"budget": None if budget is None else int(budget), "spent": int(spent),
                    "reserved": int(reserved)}
        return self.db.transaction(work)

    # -- reservations -----------------------------------------------------------------------------

    def reserve(self, student_id: int, amount: int, model: str, api: str) -> Reservation | Refusal:
        """Hold ``amount`` for one request, atomically, or say why not (nothing is held then)."""
        rid = uuid.uuid4().hex
        now = time.time()

        def work(cur: Cursor) -> Reservation | Refusal:
            cur.execute("UPDATE gw_students SET reserved = reserved + ? WHERE id = ? AND "
                        "revoked = 0 AND spent + reserved + ? <= budget",
                        (amount, student_id, amount))
            if cur.rowcount != 1:
                student = self._one(cur, _BY["id"], student_id)
                if student is None:
                    raise ImageGenError("no such student")
                return Refusal("student", student, student.left, amount)
            cur.execute("UPDATE gw_class SET reserved = reserved + ? WHERE id = 1 AND "
                        "(budget IS NULL OR spent + reserved + ? <= budget)", (amount, amount))
            if cur.rowcount != 1:
                cur.execute("SELECT budget, spent, reserved FROM gw_class WHERE id = 1")
                budget, spent, reserved = cur.fetchone()
                cur.execute("UPDATE gw_students SET reserved = reserved - ? WHERE id = ?",
                            (amount, student_id))
                student = self._one(cur, _BY["id"], student_id)
                assert student is not None
                return Refusal("class", student, max(0, int(budget) - int(spent) - int(reserved)),
                               amount)
            cur.execute("INSERT INTO gw_reservations (id, student_id, amount, instance, model, "
                        "created) VALUES (?, ?, ?, ?, ?, ?)",
                        (rid, student_id, amount, self.instance, f"{api}:{model}"[:300], now))
            return Reservation(rid, student_id, amount, model, api, now)

        return self.db.transaction(work)

    def settle(self, reservation: Reservation, cost: int, *, generation_id: str | None = None,
               prompt: str | None = None, outcome: str = "settled") -> bool:
        """Count the billed ``cost`` and end the hold; False if it was settled before."""
        return self.db.transaction(lambda cur: self._finish(
            cur, reservation.id, reservation.student_id, reservation.model, reservation.api,
            reservation.created, cost, outcome, generation_id, prompt))

    def release(self, reservation: Reservation, *, outcome: str = "released") -> bool:
        """End the hold without cost (the upstream failed, nothing was billed)."""
        return self.settle(reservation, 0, outcome=outcome)

    def _finish(self, cur: Cursor, rid: str, student_id: int, model: str, api: str,
                created: float, cost: int, outcome: str, generation_id: str | None,
                prompt: str | None) -> bool:
        cur.execute("SELECT outcome FROM gw_calls WHERE id = ?", (rid,))
        done = cur.fetchone()
        if done is not None:
            return done[0] == "stale" and outcome != "stale" and self._late(
                cur, rid, student_id, cost, outcome, generation_id)
        cur.execute("SELECT amount FROM gw_reservations WHERE id = ?", (rid,))
        row = cur.fetchone()
        held = int(row[0]) if row is not None else 0  # swept as stale meanwhile: still count it
        cur.execute("DELETE FROM gw_reservations WHERE id = ?", (rid,))
        counted = 1 if outcome == "settled" else 0
        cur.execute("UPDATE gw_students SET reserved = reserved - ?, spent = spent + ?, "
                    "calls = calls + ? WHERE id = ?", (held, cost, counted, student_id))
        cur.execute("UPDATE gw_class SET reserved = reserved - ?, spent = spent + ? WHERE id = 1",
                    (held, cost))
        cur.execute("INSERT INTO gw_calls (id, student_id, model, api, reserved, cost, outcome, "
                    "generation_id, prompt, created, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?)", (rid, student_id, model[:200], api, held, cost, outcome,
                              generation_id, (prompt or "")[:2000] or None, created, time.time()))
        return True

    @staticmethod
    def _late(cur: Cursor, rid: str, student_id: int, cost: int, outcome: str,
              generation_id: str | None) -> bool:
        """A call released as stale (its process looked dead) finished after all: count it."""
        cur.execute("UPDATE gw_calls SET cost = ?, outcome = ?, generation_id = ?, finished = ? "
                    "WHERE id = ?", (cost, outcome, generation_id, time.time(), rid))
        counted = 1 if outcome == "settled" else 0
        cur.execute("UPDATE gw_students SET spent = spent + ?, calls = calls + ? WHERE id = ?",
                    (cost, counted, student_id))
        cur.execute("UPDATE gw_class SET spent = spent + ? WHERE id = 1", (cost,))
        return True

    # -- instances and stale reservations -------------------------------------------------------

    def heartbeat(self) -> None:
        """Say this process is alive (and register it on the first beat)."""
        def work(cur: Cursor) -> None:
            cur.execute("UPDATE gw_instances SET heartbeat = ? WHERE id = ?",
                        (time.time(), self.instance))
            if cur.rowcount == 0:
                cur.execute("INSERT INTO gw_instances (id, host, pid, heartbeat) VALUES "
                            "(?, ?, ?, ?)", (self.instance, self.host, os.getpid(), time.time()))
        self.db.transaction(work)

    def sweep(self, stale_after: float) -> int:
        """Release the reservations of instances that are gone; returns how many were released."""
        def dead(cur: Cursor) -> list[str]:
            cur.execute("SELECT id, host, pid, heartbeat FROM gw_instances WHERE id <> ?",
                        (self.instance,))
            cutoff = time.time() - stale_after
            gone = [str(i) for i, host, pid, beat in cur.fetchall()
                    if beat < cutoff or (host == self.host and not _pid_alive(int(pid)))]
            cur.execute("SELECT DISTINCT instance FROM gw_reservations WHERE instance NOT IN "
                        "(SELECT id FROM gw_instances) AND instance <> ?", (self.instance,))
            return gone + [str(r[0]) for r in cur.fetchall()]

        released = 0
        for instance in self.db.transaction(dead):
            released += self._release(instance)
        return released

    def _release(self, instance: str) -> int:
        def work(cur: Cursor) -> int:
            return self._release_instance(cur, instance)
        return self.db.transaction(work)

    def _release_instance(self, cur: Cursor, instance: str) -> int:
        cur.execute("SELECT id, student_id, model, created FROM gw_reservations WHERE instance = ?",
                    (instance,))
        rows = cur.fetchall()
        for rid, student_id, label, created in rows:
            api, _, model = str(label or ":").partition(":")
            self._finish(cur, str(rid), int(student_id), model, api, float(created), 0, "stale",
                         None, None)
        cur.execute("DELETE FROM gw_instances WHERE id = ?", (instance,))
        return len(rows)

    def retire(self) -> None:
        """Release what this process holds and forget its instance (a clean stop)."""
        self._release(self.instance)

    # -- reports ----------------------------------------------------------------------------------

    def owns_generation(self, student_id: int, generation_id: str) -> bool:
        """Whether ``generation_id`` is one of this student's calls."""
        def work(cur: Cursor) -> bool:
            cur.execute("SELECT 1 FROM gw_calls WHERE student_id = ? AND generation_id = ?",
                        (student_id, generation_id))
            return cur.fetchone() is not None
        return self.db.transaction(work)

    def spent_since(self, student_id: int, since: float) -> int:
        """What ``student_id``'s calls finished since ``since`` (a Unix time) cost, nano-dollars."""
        def work(cur: Cursor) -> int:
            cur.execute("SELECT COALESCE(SUM(cost), 0) FROM gw_calls WHERE student_id = ? AND "
                        "finished >= ?", (student_id, since))
            return int(cur.fetchone()[0])
        return self.db.transaction(work)

    def free_calls_since(self, student_id: int, since: float) -> int:
        """How many of ``student_id``'s settled calls since ``since`` cost nothing."""
        def work(cur: Cursor) -> int:
            cur.execute("SELECT COUNT(*) FROM gw_calls WHERE student_id = ? AND finished >= ? "
                        "AND cost = 0 AND outcome = 'settled'", (student_id, since))
            return int(cur.fetchone()[0])
        return self.db.transaction(work)

    def add_image(self, student_id: int, call_id: str, prompt: str, mime: str, thumb: bytes,
                  *, keep: int = 500) -> None:
        """Keep a thumbnail of a call's first image (only the newest ``keep`` stay)."""
        def work(cur: Cursor) -> None:
            cur.execute("INSERT INTO gw_images (student_id, call_id, prompt, mime, thumb, created) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (student_id, call_id, prompt[:2000], mime, thumb, time.time()))
            cur.execute("DELETE FROM gw_images WHERE id NOT IN (SELECT id FROM gw_images "
                        "ORDER BY created DESC LIMIT ?)", (keep,))
        self.db.transaction(work)

    def latest_images(self, limit: int = 24) -> list[dict[str, Any]]:
        """The newest thumbnails with their student, prompt, model and cost (for the teacher)."""
        def work(cur: Cursor) -> list[dict[str, Any]]:
            cur.execute("SELECT s.name, i.prompt, i.mime, i.thumb, i.created, c.model, c.cost "
                        "FROM gw_images i JOIN gw_students s ON s.id = i.student_id "
                        "LEFT JOIN gw_calls c ON c.id = i.call_id ORDER BY i.created DESC LIMIT ?",
                        (limit,))
            return [{"student": name, "prompt": prompt or "", "mime": mime, "thumb": bytes(thumb),
                     "created": created, "model": model or "", "cost": to_usd(cost)}
                    for name, prompt, mime, thumb, created, model, cost in cur.fetchall()]
        return self.db.transaction(work)

    def usage(self) -> dict[str, Any]:
        """Spent, reserved, budget and calls per student, and the class totals (USD)."""
        listed = self.students()
        students = [{"name": s.name, "budget": to_usd(s.budget), "spent": to_usd(s.spent),
                     "reserved": to_usd(s.reserved), "left": to_usd(s.left), "calls": s.calls,
                     "revoked": s.revoked, "hub_user": s.hub_user} for s in listed]
        totals = self.class_totals()
        budget = totals["budget"]
        return {"students": students, "class": {
            "budget": None if budget is None else to_usd(budget),
            "spent": to_usd(totals["spent"]), "reserved": to_usd(totals["reserved"]),
            "calls": sum(s.calls for s in listed)}}


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise ImageGenError("a student's name must be 1-100 printable characters")
    return name
