"""Running the gateway: uvicorn in the foreground (the CLI) or in a thread (tests, benchmarks).

The socket is bound before uvicorn starts, so ``port=0`` gives a free port whose number is known
(and printed) before the first request; uvicorn then serves that socket. uvicorn's own access log
shows request lines only (never headers, so never a token); the gateway logs nothing secret.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType

import uvicorn

from ._app import create_app, loopback_hosts
from ._config import GatewayConfig
from ._ledger import Ledger

__all__ = ["Gateway", "bind", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: a free one).

    Made with ``proto=IPPROTO_TCP``: asyncio sets ``TCP_NODELAY`` on accepted connections only
    when the listening socket says TCP, and without it every answer sent as headers then body
    waited out a 40 ms delayed ACK (Nagle).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _server(config: GatewayConfig, ledger: Ledger, sock: socket.socket, host: str, *,
            access_log: bool) -> uvicorn.Server:
    port = sock.getsockname()[1]
    app = create_app(config, ledger, hosts=lambda: loopback_hosts(host, port))
    settings = uvicorn.Config(app, lifespan="on", access_log=access_log, log_level="warning",
                              timeout_keep_alive=int(max(5, min(config.read_timeout, 75))),
                              timeout_graceful_shutdown=int(min(config.deadline, 30)),
                              h11_max_incomplete_event_size=64 * 1024, server_header=False)
    return uvicorn.Server(settings)


def serve(config: GatewayConfig, ledger: Ledger, sock: socket.socket, host: str, *,
          access_log: bool = False) -> None:
    """Serve on ``sock`` until SIGINT/SIGTERM (uvicorn's own signal handling)."""
    server = _server(config, ledger, sock, host, access_log=access_log)
    server.run(sockets=[sock])


class Gateway:
    """A gateway in a daemon thread of this process, at :attr:`base_url`.

    Use it as a context manager (tests, benchmarks): ``with Gateway(config, ledger) as gw:``,
    then point a client at ``gw.base_url`` with a student's token.
    """

    def __init__(self, config: GatewayConfig, ledger: Ledger, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config, self.ledger, self.host = config, ledger, host
        self._sock = bind(host, port)
        self.port = int(self._sock.getsockname()[1])
        self._server = _server(config, ledger, self._sock, host, access_log=False)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/api/v1"

    def start(self) -> Gateway:
        """Serve in a thread; returns once the gateway answers."""
        # uvicorn installs signal handlers only in the main thread, so this thread leaves them be
        def run() -> None:
            asyncio.run(self._server.serve(sockets=[self._sock]))

        self._thread = threading.Thread(target=run, name=f"gateway:{self.port}", daemon=True)
        self._thread.start()
        for _ in range(400):
            if self._server.started or not self._thread.is_alive():
                break
            threading.Event().wait(0.025)
        if not self._server.started:
            raise RuntimeError("the gateway did not start")
        return self

    def stop(self) -> None:
        """Stop serving (in-flight calls finish and settle first)."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=40)
        self._sock.close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
