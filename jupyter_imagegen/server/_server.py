"""``LocalServer``: the OpenRouter-compatible server's lifecycle and shared state.

It runs in a daemon thread of the current process (tests, notebooks, the ``demo`` command) or in
the foreground (``jupyter-imagegen serve``). It binds to loopback unless told otherwise, because
it accepts any key by default and should never be reachable from the network by accident.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
import time
from types import TracebackType
from typing import Any, TextIO

from ._app import API_PREFIX
from ._chat import Answer
from ._chat_catalog import ModelSpec, build_catalogue
from ._chat_validate import ChatRequest
from ._faults import FaultQueue
from ._httpserver import HTTPServer
from ._images_catalog import ImageApiModel, build_image_catalogue
from ._records import GenerationRecord, RecordedRequest, RecordList
from ._render import RenderCache
from ._signing import Signing

__all__ = ["LocalServer"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warn_remote(host: str, port: int) -> None:
    """Say loudly, on stderr, that the offline server is reachable from other machines."""
    bar = "!" * 78
    sys.stderr.write(
        f"{bar}\nWARNING: the jupyter-imagegen local server listens on {host}:{port}, reachable "
        "from the network.\nAnyone who can reach this port and knows the key can use it; "
        "traffic is plain HTTP (no TLS).\nBind 127.0.0.1 unless you mean this.\n"
        f"{bar}\n")
    sys.stderr.flush()


class LocalServer:
    """An offline, OpenRouter-compatible API at ``base_url`` (``http://127.0.0.1:PORT/api/v1``).

    ``api_key=None`` accepts any (or no) key; a key makes the server answer 401 like the service
    (on every route that spends or reports, and on the ``/_faults`` admin route).
    :attr:`requests` and :attr:`generations` keep the newest ``max_records`` records (requests
    also at most ``max_record_bytes`` of bodies; ``None`` lifts a limit), so a long-running server
    does not keep every request, image and key forever. ``request_timeout`` (seconds) bounds how
    long a connection may stall (a short body, an idle keep-alive connection, a stuck reader).
    ``read_timeout`` bounds the whole arrival of one request from its first byte (request line,
    headers, body: a client sending a byte a minute is cut off), and at most ``max_connections``
    connections are served at once (the rest get a quick 503). A loopback server answers only
    requests whose ``Host`` is its loopback name and port; a non-loopback bind needs
    ``allow_remote=True`` *and* an ``api_key``, and warns on stderr. ``latency`` delays every
    generation; ``record_delay`` holds each generation record back from ``GET /generation`` for
    that many seconds, as the real service does (the bill itself counts at once);
    ``catalogue_aliases`` serves real model ids
    (``google/gemini-2.5-flash-image`` ...) with the offline renderer so notebooks written for the
    service run unchanged; ``offline_models=False`` serves *only* real ids (no ``offline/*``), to
    check that a notebook would run unchanged on the real service.
    ``sign=Signing(certificates, key)`` signs every image with C2PA Content Credentials, as
    providers do (needs ``c2pa-python``). Use it as a context manager or
    with :meth:`start` / :meth:`stop`::

        with LocalServer() as srv:
            client = Client(base_url=srv.base_url, api_key="offline")
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        latency: float = 0.0,
        catalogue_aliases: bool = True,
        offline_models: bool = True,
        allow_remote: bool = False,
        max_body_bytes: int = 32 * 1024 * 1024,
        keepalive_interval: float = 0.5,
        cache_size: int = 64,
        access_log: TextIO | None = None,
        max_records: int | None = 1000,
        max_record_bytes: int | None = 64 * 1024 * 1024,
        request_timeout: float | None = 60.0,
        read_timeout: float | None = 30.0,
        max_connections: int = 256,
        sign: Signing | None = None,
        record_delay: float = 0.0,
    ) -> None:
        if not allow_remote and not _is_loopback(host):
            raise ValueError(f"refusing to bind {host!r}: the local server accepts any key and is "
                             "meant for this machine only; pass allow_remote=True to bind a "
                             "non-loopback address on purpose")
        if not _is_loopback(host) and not api_key:
            raise ValueError(f"binding {host!r} makes the server reachable from the network: "
                             "give it a key to require (api_key=, or --api-key / "
                             "JUPYTER_IMAGEGEN_SERVER_KEY for the CLI)")
        if read_timeout is not None and read_timeout <= 0:
            raise ValueError("read_timeout must be > 0 (or None for no whole-request deadline)")
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        if latency < 0 or keepalive_interval <= 0 or record_delay < 0:
            raise ValueError("latency and record_delay must be >= 0 and keepalive_interval > 0")
        if request_timeout is not None and request_timeout <= 0:
            raise ValueError("request_timeout must be > 0 (or None to wait forever)")
        self.host = host
        self._port = port
        self.api_key = api_key
        self.latency = latency
        self.record_delay = record_delay
        self.max_body_bytes = max_body_bytes
        self.keepalive_interval = keepalive_interval
        self.access_log = access_log
        self.request_timeout = request_timeout
        self.read_timeout = read_timeout
        self.max_connections = int(max_connections)
        self.catalogue: dict[str, ModelSpec] = build_catalogue(catalogue_aliases, offline_models)
        self.image_catalogue: dict[str, ImageApiModel] = build_image_catalogue(
            catalogue_aliases, offline_models)
        #: Signs every image with C2PA Content Credentials (``None``: images come unsigned).
        self.signing = sign
        self.cache = RenderCache(cache_size, sign=sign.sign if sign is not None else None)
        self.faults = FaultQueue()
        self._dropped_cost = 0.0
        self.requests: RecordList[RecordedRequest] = RecordList(
            max_records, max_bytes=max_record_bytes, size=lambda r: len(r.body))
        self.generations: RecordList[GenerationRecord] = RecordList(
            max_records, on_drop=self._forget_generation)
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The bound port (the chosen one when created with ``port=0``)."""
        if self._httpd is None:
            raise RuntimeError("the server is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL to give clients, e.g. ``http://127.0.0.1:54321/api/v1``."""
        return self.url + API_PREFIX

    def start(self) -> LocalServer:
        """Bind and serve in a daemon thread; returns ``self``."""
        with self._lock:
            if self._httpd is not None:
                return self
            httpd = HTTPServer((self.host, self._port), self)
            if not _is_loopback(self.host):
                _warn_remote(self.host, int(httpd.server_address[1]))
            thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                      name=f"jupyter-imagegen-server:{httpd.server_address[1]}",
                                      daemon=True)
            thread.start()
            self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve in the foreground until ``KeyboardInterrupt`` (the CLI's ``serve``)."""
        self.start()
        try:
            while True:
                time.sleep(3600)
        finally:
            self.stop()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"LocalServer({where})"

    # -- state used by the handler -------------------------------------------------------------

    def record(self, gen_id: str, req: ChatRequest, answer: Answer, *, streamed: bool,
               latency: float, finish: str = "stop", cancelled: bool = False) -> GenerationRecord:
        """Remember a billed generation for ``GET /generation`` and :attr:`generations`.

        ``cancelled`` marks one whose client went away before the answer was read: the
        generation ran to the end and is billed in full (the providers that cannot cancel).
        """
        usage = answer.billed_usage
        details = usage["completion_tokens_details"]
        record = GenerationRecord(
            id=gen_id, model=req.spec.id, created=time.time(), total_cost=answer.cost,
            prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"],
            image_tokens=details["image_tokens"], reasoning_tokens=details["reasoning_tokens"],
            num_images=len(answer.urls), num_input_images=len(req.inputs), streamed=streamed,
            finish_reason=finish, latency=latency, cancelled=cancelled,
        )
        self.generations.append(record)
        return record

    def _forget_generation(self, record: GenerationRecord) -> None:
        self._dropped_cost += record.total_cost  # the key's usage survives the log's bound

    def generation(self, gen_id: str) -> GenerationRecord | None:
        """The generation with this id, if this server made it and ``record_delay`` has passed.

        The real record appears some time after the answer (clients retry the 404s of the first
        seconds: RooCodeInc/Roo-Code#915, AbanteAI/LoCoDiff-bench#46); the bill is immediate.
        """
        shown = time.time() - self.record_delay
        return next((g for g in self.generations if g.id == gen_id and g.created <= shown), None)

    @property
    def total_cost(self) -> float:
        """Simulated USD spent on this server so far."""
        return round(self._dropped_cost + sum(g.total_cost for g in self.generations), 10)

    def key_info(self) -> dict[str, Any]:
        """The ``data`` object of ``GET /key`` (an unlimited, simulated key)."""
        usage = self.total_cost
        return {
            "label": "jupyter-imagegen offline key", "limit": None, "limit_remaining": None,
            "limit_reset": None, "include_byok_in_limit": False, "usage": usage,
            "usage_daily": usage, "usage_weekly": usage, "usage_monthly": usage,
            "byok_usage": 0.0, "byok_usage_daily": 0.0, "byok_usage_weekly": 0.0,
            "byok_usage_monthly": 0.0, "is_free_tier": False, "is_management_key": False,
            "is_provisioning_key": False, "creator_user_id": None, "expires_at": None,
            "allowed_data_regions": ["global"], "budgets": [], "effective_budget": None,
            "free_model_daily_requests": {"limit": 1000, "remaining": 1000, "used": 0},
            "organization_id": None, "workspace_id": None,
            "rate_limit": {"requests": -1, "interval": "10s",
                           "note": "The offline server does not rate limit."},
        }
