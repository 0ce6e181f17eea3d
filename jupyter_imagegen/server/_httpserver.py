"""The listening side: a threading HTTP server with a connection cap and a read deadline.

Each connection gets a thread (:class:`~._app.Handler` serves it); past ``max_connections`` a
peer gets a quick 503 from the accept loop instead of a thread, and the :class:`~._conn.Reaper`
cuts a request that has not fully arrived within ``read_timeout`` (slow-loris peers).
"""

from __future__ import annotations

import socket
import threading
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from ._app import Handler
from ._conn import Reaper, allowed_hosts, refuse

if TYPE_CHECKING:  # LocalServer starts this server, so the reference back is type-only
    from ._server import LocalServer

__all__ = ["HTTPServer"]


class HTTPServer(ThreadingHTTPServer):
    """A threading server that knows its :class:`LocalServer` and stays quiet about dropped peers.

    It caps open connections (``LocalServer(max_connections=)``: the rest get a quick 503 from
    the accept loop, no thread) and owns the :class:`Reaper` that enforces ``read_timeout``.
    """

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: LocalServer) -> None:
        self.app = app
        self.reaper = Reaper()
        self._active = 0
        self._active_lock = threading.Lock()
        if ":" in address[0]:  # an IPv6 literal such as ::1
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.hosts = allowed_hosts(address[0], int(self.server_address[1]))

    @property
    def active_connections(self) -> int:
        """Connections being served now (each holds one thread)."""
        return self._active

    def process_request(self, request: Any, client_address: Any) -> None:
        """Start a thread for the connection, or answer 503 when ``max_connections`` are open."""
        with self._active_lock:
            busy = self._active >= self.app.max_connections
            if not busy:
                self._active += 1
        if busy:
            refuse(request, self.app.max_connections)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            with self._active_lock:
                self._active -= 1
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._active_lock:
                self._active -= 1

    def server_close(self) -> None:
        self.reaper.close()
        super().server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Dropped connections are normal (cancelled streams); anything else goes to the log."""
        if self.app.access_log is not None:
            super().handle_error(request, client_address)
