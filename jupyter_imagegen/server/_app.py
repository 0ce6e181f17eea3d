"""The HTTP side: one request handler that routes ``/api/v1/...`` and writes the wire format.

HTTP/1.1 throughout: JSON answers carry ``Content-Length`` and keep the connection alive (clients
pool connections), streams use chunked transfer encoding (HTTP/1.0 clients, which cannot read
chunks, get a close-delimited stream instead). Each JSON body is written with its headers in a
single ``write`` so a multi-megabyte image answer costs one copy and no Nagle delay. Every error,
including the ones the standard library raises itself (an unsupported method, a bad request
line), is the JSON envelope ``{"error": {"code", "message"}}``. Connections time out after the
server's ``request_timeout`` so a peer that stalls (say, a short body) cannot pin a thread.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler
from io import BufferedIOBase
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from jupyter_imagegen._exceptions import inert
from jupyter_imagegen._wire.errors import error_body
from jupyter_imagegen._wire.sse import encode_sse

from ._chat import dump_parts
from ._chat_http import handle_chat
from ._conn import Reaper, duplicated, foreign_origin, wait_for_request
from ._fault_http import handle_fault_admin, send_redirect, send_status_fault
from ._images import handle_images
from ._records import RecordedRequest
from ._routes import handle_listing

if TYPE_CHECKING:  # _httpserver builds its server around this handler, so it imports this module
    from ._httpserver import HTTPServer

__all__ = ["API_PREFIX", "KEEPALIVE", "Handler"]

API_PREFIX = "/api/v1"
_AUTH_PATHS = ("/chat/completions", "/images", "/key", "/generation", "/models/user")
_GENERATE_PATHS = ("/chat/completions", "/images")
_ALLOWED = "GET, POST, DELETE"
#: The SSE comment sent while "generating", as the service sends it (docs ``streaming.mdx``).
KEEPALIVE = "OPENROUTER PROCESSING"


class Handler(BaseHTTPRequestHandler):
    """Routes one request and writes its answer; see the module docstring for the transport choices.

    The routes themselves are functions over this handler (``handle_chat``, ``handle_images``,
    ``handle_listing``, the fault functions), so each reads on its own; the handler keeps the
    connection and the writers they share (:meth:`_write_json`, :meth:`_error`,
    :meth:`_open_stream`, :meth:`_chunk`, :meth:`_hang_up`).
    """

    protocol_version = "HTTP/1.1"
    server_version = "jupyter-imagegen-local"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 60.0  # per-connection socket timeout; setup() applies LocalServer(request_timeout=)
    server: HTTPServer  # the threading server of _httpserver (it knows the LocalServer as .app)

    # -- plumbing ------------------------------------------------------------------------------

    def setup(self) -> None:
        """Apply the server's ``request_timeout`` to this connection's socket."""
        super().setup()
        self.connection.settimeout(self.server.app.request_timeout)
        self._plain_rfile = self.rfile

    def handle_one_request(self) -> None:
        """Wait (idle, ``request_timeout``) for a request, then give it ``read_timeout`` to arrive.

        The deadline covers the request line, the headers and the body; it ends in
        :meth:`parse_request` for a request without a body, else once the body is read.
        """
        app, sock = self.server.app, self.connection
        if not wait_for_request(sock, self.rfile, app.request_timeout):
            self.close_connection = True
            return
        if app.read_timeout is not None:
            self.server.reaper.arm(sock, app.read_timeout)
        try:
            super().handle_one_request()
        finally:
            self.server.reaper.disarm(sock)
            self.rfile = self._plain_rfile

    def parse_request(self) -> bool:
        """The standard parse, then the read deadline and the ``Host`` check (DNS rebinding)."""
        if not super().parse_request():
            return False
        reaper, sock = self.server.reaper, self.connection
        if reaper.fired(sock):
            self.close_connection = True
            return False  # cut mid-headers: what arrived is not a whole request
        if not self._has_body():
            reaper.disarm(sock)
        elif self.server.app.read_timeout is not None:  # the body's read ends the deadline
            self.rfile = _BodyReader(self._plain_rfile, reaper, sock)  # type: ignore[assignment]
        twice = duplicated(self.headers)
        if twice is not None:
            self._error(400, f"the request has more than one {twice} header", close=True)
            return False
        hosts = self.server.hosts
        host = (self.headers.get("Host") or "").strip().lower()
        if hosts is not None and host and host not in hosts:
            self._error(403, f"Host {host[:100]!r} is not this server: the local server answers "
                        "only 127.0.0.1, localhost or [::1] with its port", close=True)
            return False
        foreign = foreign_origin(self.headers)
        if foreign is not None:  # a web page the user opened, not a client of this server
            self._error(403, f"{foreign}: the local server answers no other origin's pages",
                        close=True)
            return False
        return True

    def _has_body(self) -> bool:
        return (self.headers.get("Content-Length") or "0").strip() not in ("", "0")

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """The standard library's own errors (501, 400, 414, 431...) as the JSON envelope."""
        status = int(code)
        short, _long = self.responses.get(status, ("Error", ""))
        text = message or short
        self.log_error("code %d, message %s", status, text)
        headers = {"Allow": _ALLOWED} if status in (405, 501) else None
        try:
            self._error(status, text, headers=headers, close=True)
        except OSError:
            self.close_connection = True

    @property
    def _chunked(self) -> bool:
        """Whether the peer can read a chunked body (HTTP/1.1 and later)."""
        return self.request_version not in ("HTTP/0.9", "HTTP/1.0")

    def log_message(self, format: str, *args: Any) -> None:
        """Access log (request line and status only, never headers), off unless configured."""
        stream = self.server.app.access_log
        if stream is not None:  # a request line is the peer's text: inert on a terminal
            stream.write(inert(f"{self.address_string()} - {format % args}") + "\n")
            stream.flush()

    def _write_json(self, status: int, obj: Any, headers: Mapping[str, str] | None = None,
                    *, close: bool = False, cut: bool = False) -> None:
        parts = dump_parts(obj)  # written piece by piece: a multi-MB image is never copied
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(sum(map(len, parts))))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        buffer: list[bytes] = getattr(self, "_headers_buffer", [])
        head = b"".join([*buffer, b"\r\n"])
        setattr(self, "_headers_buffer", [])  # noqa: B010 - stdlib private, untyped
        if cut:  # promise the whole body, deliver half, hang up
            body = b"".join(parts)
            self.wfile.write(head + body[: len(body) // 2])
            self._hang_up()
        else:  # HEAD: the headers only, as HTTP says
            self.wfile.writelines([head, *parts] if getattr(self, "command", None) != "HEAD" else [head])

    def _error(self, status: int, message: str, metadata: Mapping[str, Any] | None = None,
               headers: Mapping[str, str] | None = None, *, close: bool = False) -> None:
        self._write_json(status, error_body(status, message, metadata), headers, close=close)

    def _hang_up(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _open_stream(self, gen_id: str, delay: float) -> None:
        """Start an SSE response, then keep it alive with comments while "generating" for ``delay``.

        Streams are chunked HTTP/1.1; an HTTP/1.0 peer, which cannot read chunks, gets a stream
        that ends when the connection closes.
        """
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if self._chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:  # HTTP/1.0 has no chunks: the body ends when the connection does
            self.send_header("Connection", "close")
            self.close_connection = True
        self.send_header("X-Generation-Id", gen_id)
        self.end_headers()
        self._chunk(encode_sse(comment=KEEPALIVE))
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, self.server.app.keepalive_interval))
            if deadline - time.monotonic() > 0:
                self._chunk(encode_sse(comment=KEEPALIVE))

    def _chunk(self, *parts: bytes) -> None:
        """One HTTP/1.1 chunk made of ``parts`` (none: the empty chunk that ends the body).

        Small chunks go out in one write; a large part (an image) is written as is, never
        joined with the rest. For an HTTP/1.0 peer the data is written as is, and the end is
        the connection's close.
        """
        size = sum(map(len, parts))
        if not self._chunked:
            self.wfile.writelines(part for part in parts if part)
        elif size < 65536:
            self.wfile.write(b"%x\r\n%b\r\n" % (size, b"".join(parts)))
        else:
            self.wfile.writelines([b"%x\r\n" % size, *parts, b"\r\n"])

    # -- entry points --------------------------------------------------------------------------

    def do_GET(self) -> None:
        """``GET`` routes."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """``POST`` routes."""
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        """``DELETE`` routes (fault admin only)."""
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:
        """Not served: 405 (headers only, as HEAD answers have no body)."""
        self._dispatch("HEAD")

    def do_PUT(self) -> None:
        """Not served: a JSON 405."""
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        """Not served: a JSON 405."""
        self._dispatch("PATCH")

    def do_OPTIONS(self) -> None:
        """Not served: a JSON 405."""
        self._dispatch("OPTIONS")

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._error(400, "Invalid Content-Length", close=True)
            return
        if length > app.max_body_bytes:
            app.requests.append(RecordedRequest(method, url.path, query, dict(self.headers), b""))
            self._error(413, f"Request body too large: {length} bytes exceeds the limit of "
                        f"{app.max_body_bytes} bytes", close=True)
            return
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            body = b""
        if len(body) < length:  # the peer stalled or hung up before sending its whole body
            app.requests.append(RecordedRequest(method, url.path, query, dict(self.headers), body))
            self._error(408, f"Request body incomplete: got {len(body)} of {length} bytes "
                        "before the connection stalled", close=True)
            return
        app.requests.append(RecordedRequest(method, url.path, query, dict(self.headers), body))
        if method not in ("GET", "POST", "DELETE"):
            self._error(405, f"Method {method} not allowed on {url.path}",
                        headers={"Allow": _ALLOWED})
            return
        if not url.path.startswith(API_PREFIX + "/"):
            self._error(404, f"Not found: {url.path}")
            return
        path = url.path[len(API_PREFIX):].rstrip("/") or "/"
        try:
            self._route(method, path, query, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        app = self.server.app
        if path == "/_faults":
            if self._authorised():
                handle_fault_admin(self, method, body)
            return
        if method == "POST" and path in _GENERATE_PATHS and not _is_json(self.headers):
            # A page's cross-origin "simple" POST (text/plain, a form) needs no preflight: JSON does.
            self._error(415, f"POST {API_PREFIX}{path} takes a JSON body: send Content-Type: "
                        "application/json")
            return
        model = _peek_model(body) if path in _GENERATE_PATHS else None
        fault = app.faults.take(path, model)
        if fault is not None and fault.status is not None:
            send_status_fault(self, fault, model, path)
            return
        if fault is not None and fault.kind == "redirect":
            send_redirect(self, fault, path)
            return
        if path in _AUTH_PATHS and not self._authorised():
            return
        if method == "POST" and path == "/chat/completions":
            handle_chat(self, body, fault)
        elif method == "POST" and path == "/images":
            handle_images(self, body, fault)
        elif method == "GET" and handle_listing(self, path, query):
            pass
        elif method == "GET" and path == "/key":
            self._write_json(200, {"data": app.key_info()})
        elif method == "GET" and path == "/generation":
            record = app.generation(query.get("id", ""))
            if record is None:
                self._error(404, f"Generation {query.get('id', '')!r} not found")
            else:
                self._write_json(200, {"data": record.to_json()})
        else:
            self._error(404, f"Not found: {method} {API_PREFIX}{path}")

    # -- auth ----------------------------------------------------------------------------------

    def _authorised(self) -> bool:
        expected = self.server.app.api_key
        if expected is None:
            return True
        value = self.headers.get("Authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self._error(401, "No auth credentials found")
            return False
        if token.strip() != expected:
            self._error(401, "User not found.")
            return False
        return True


class _BodyReader:
    """The connection's reader for one request: reading the body ends its read deadline."""

    def __init__(self, inner: BufferedIOBase, reaper: Reaper, sock: socket.socket) -> None:
        self._inner, self._reaper, self._sock = inner, reaper, sock

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self._inner.read(size)
        finally:
            self._reaper.disarm(self._sock)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _is_json(headers: Message) -> bool:
    """Whether the body is declared JSON (``application/json``, parameters allowed)."""
    return (headers.get("Content-Type") or "").split(";")[0].strip().lower() == "application/json"


def _peek_model(body: bytes) -> str | None:
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    model = obj.get("model") if isinstance(obj, dict) else None
    return model if isinstance(model, str) else None
