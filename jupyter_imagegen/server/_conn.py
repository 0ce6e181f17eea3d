"""Connection handling under abuse: a whole-request read deadline, a connection cap, a Host check.

A socket timeout alone restarts on every byte, so a client sending one byte a minute held a
thread forever. Here a request must arrive whole (request line, headers, body) within
``read_timeout`` of its first byte: one :class:`Reaper` thread per server shuts down the sockets
that miss their deadline, which wakes the blocked handler with an end of file. Excess connections
get a quick 503 from the accept loop instead of a thread. A request whose ``Host`` is not the
bound loopback name and port is refused, so a web page cannot reach the server through DNS
rebinding (a browser sends the attacker's host name there). A browser's request from another
origin (``Origin``, ``Sec-Fetch-Site``) is refused too, and so is a request that names its
``Host`` (or its length) twice.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import select
import socket
import threading
import time
from email.message import Message

__all__ = ["SINGLE_HEADERS", "Reaper", "allowed_hosts", "busy_response", "duplicated", "foreign_origin",
           "refuse", "wait_for_request"]


class Reaper:
    """Shuts down sockets whose deadline passed; one thread serves every connection of a server."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadlines: dict[socket.socket, float] = {}
        self._fired: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self._closed = False

    def arm(self, sock: socket.socket, seconds: float) -> None:
        """Cut ``sock`` unless :meth:`disarm` is called within ``seconds``."""
        with self._cond:
            if self._closed:
                return
            self._deadlines[sock] = time.monotonic() + seconds
            self._fired.discard(sock)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jupyter-imagegen-reaper",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def disarm(self, sock: socket.socket) -> bool:
        """Stop watching ``sock``; True if its deadline had already passed (it was cut)."""
        with self._cond:
            self._deadlines.pop(sock, None)
            fired = sock in self._fired
            self._fired.discard(sock)
            return fired

    def fired(self, sock: socket.socket) -> bool:
        """Whether ``sock`` was cut because its deadline passed."""
        with self._cond:
            return sock in self._fired

    def close(self) -> None:
        """End the thread (the server is closing)."""
        with self._cond:
            self._closed = True
            self._deadlines.clear()
            self._fired.clear()
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                for sock in [s for s, due in self._deadlines.items() if due <= now]:
                    del self._deadlines[sock]
                    self._fired.add(sock)
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                upcoming = min(self._deadlines.values(), default=None)
                self._cond.wait(None if upcoming is None else max(0.01, upcoming - now))


def wait_for_request(sock: socket.socket, buffered: object, idle: float | None) -> bool:
    """Wait (up to ``idle`` seconds) until a request's first byte is here; False if none came.

    The reader may already hold a pipelined request, so it is peeked without blocking first.
    """
    peek = getattr(buffered, "peek", None)
    previous = sock.gettimeout()
    try:
        sock.settimeout(0)
        if peek is not None and peek(1):
            return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            sock.settimeout(previous)
    try:
        readable, _, _ = select.select([sock], [], [], idle)
    except (OSError, ValueError):
        return False
    return bool(readable)


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The ``Host`` values a loopback-bound server answers, or ``None`` (no check: remote bind).

    The names are the loopback ones a client on this machine uses (``127.0.0.1``, ``localhost``,
    ``[::1]`` and the bound address), each with the port; without the port only for port 80.
    """
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return None  # a remote bind requires an explicit key instead (see LocalServer)
    names = {"127.0.0.1", "localhost", "[::1]", f"[{host}]" if ":" in host else host}
    values = {f"{name}:{port}" for name in names}
    if port == 80:
        values |= names
    return frozenset(values)


def busy_response(limit: int) -> bytes:
    """A whole HTTP 503 answer (JSON envelope) for a connection over the cap."""
    body = json.dumps({"error": {"code": 503, "message": (
        f"Server busy: {limit} connections are open; retry shortly")}}).encode()
    head = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
    return head + body


def refuse(sock: socket.socket, limit: int) -> None:
    """Answer 503 without a thread and close; never blocks the accept loop for long."""
    with contextlib.suppress(OSError):
        sock.settimeout(0.2)
        sock.sendall(busy_response(limit))
        sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        with contextlib.suppress(OSError):  # read what was sent, so closing does not reset
            sock.recv(65536)


#: Headers a request may carry once only: two ``Host`` values (or two lengths) let a proxy and
#: this server each read a different request out of the same bytes.
SINGLE_HEADERS = ("Host", "Content-Length")
#: ``Sec-Fetch-Site`` values a browser sends for a request this server's own pages did not make.
_FOREIGN_SITES = frozenset({"cross-site", "same-site"})


def duplicated(headers: Message) -> str | None:
    """The first header of :data:`SINGLE_HEADERS` the request carries more than once, if any."""
    return next((name for name in SINGLE_HEADERS if len(headers.get_all(name) or ()) > 1), None)


def foreign_origin(headers: Message) -> str | None:
    """Why a browser's request comes from another origin, or ``None`` (same origin, or no browser).

    A web page the user opens may send requests here (it cannot read the answers, but a POST
    generates, and a key the server accepts is spent). Browsers say where a request comes from:
    ``Origin`` on every cross-origin request (``null`` from sandboxed frames and ``file:``), and
    ``Sec-Fetch-Site`` on all of them; anything other than this server's own origin (``http://``
    plus the ``Host`` already checked) is refused. A request without either header is not a
    browser's (curl, the SDKs, the kit), and is served as before.
    """
    site = (headers.get("Sec-Fetch-Site") or "").strip().lower()
    if site in _FOREIGN_SITES:
        return f"Sec-Fetch-Site: {site}"
    origin = headers.get("Origin")
    if origin is None:
        return None
    host = (headers.get("Host") or "").strip().lower()
    if origin.strip().lower().rstrip("/") != f"http://{host}":
        return f"Origin {origin.strip()[:100]!r}"
    return None
