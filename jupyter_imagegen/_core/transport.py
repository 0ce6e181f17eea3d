"""The only code that talks HTTP: a pooled session, retries, a deadline, cancel and size caps.

Layered like httpx's send chain, as short steps: :meth:`Transport.request` (rate gate, retries,
``Retry-After``) → :meth:`Transport._attempt` (one try, in a worker thread when it can be
cancelled or must meet a deadline) → ``requests``. Reading is bounded in time (a watchdog shuts
the socket at the deadline, so a 1 byte/s body cannot hold a call forever) and in memory
(``max_response_bytes`` for bodies, events and inflated gzip alike).

The key lives in a :class:`~.secrets.Secret`, a ``str`` whose ``repr`` and ``str`` are redacted,
and the ``Authorization`` value is another: every frame local or header dict a verbose traceback
or ``traceback`` with ``capture_locals`` shows prints ``[redacted]``, never the key. Each is also
remembered for redaction by value, and so is any credential header an injected session carries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from .._exceptions import (
    APIConnectionError,
    CancelledError,
    ImageGenError,
    InvalidInputError,
    RateLimitError,
    RequestTimeoutError,
)
from .._version import __version__
from .._wire.account import KeyInfo, parse_key_info
from .._wire.common import loads
from .._wire.errors import RETRYABLE_STATUSES, error_from_response, retry_delay
from .caps import MAX_ANSWER_BYTES, MAX_ANSWER_PIXELS
from .reading import read_body
from .redirects import follow_redirects
from .secrets import Secret, remember_headers
from .threads import WORKERS

__all__ = ['Limits', 'RateGate', 'Secret', 'Transport']


# -- the shared rate gate --------------------------------------------------------------------------

# A shared pause for every thread of one client after the service says "slow down".
#
# When one request of a batch gets a 429 with ``Retry-After``, its siblings would otherwise keep
# hitting the limit and each collect its own 429. The gate makes all of them wait out the same
# window, which is what the service asked for.

class RateGate:
    """Threads call :meth:`wait` before a request; a rate-limited one calls :meth:`block`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._not_before = 0.0
        self.blocks = 0

    def block(self, seconds: float) -> None:
        """Hold every request of this client for ``seconds`` from now (extends, never shortens)."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + max(seconds, 0.0))
            self.blocks += 1

    def delay(self) -> float:
        """Seconds until requests may go out again (0 when open)."""
        with self._lock:
            return max(0.0, self._not_before - self._clock())

    def wait(self, sleep: Callable[[float], None], cancel: threading.Event | None = None) -> None:
        """Sleep until the gate is open (in short steps, so a cancel is noticed)."""
        while (remaining := self.delay()) > 0:
            if cancel is not None and cancel.is_set():
                return
            sleep(min(remaining, 0.25))


# -- the transport ---------------------------------------------------------------------------------

log = logging.getLogger("jupyter_imagegen")
Timeout = float | tuple[float, float] | None


@dataclass(frozen=True)
class Limits:
    """Bounds on one call: total time and bytes (``None``: no bound)."""

    deadline: float | None = 600.0  # seconds for a whole generation, retries included
    max_response_bytes: int = 256 * 1024 * 1024  # a decoded body or one SSE event
    max_answer_pixels: int | None = MAX_ANSWER_PIXELS  # one answer's images, in all (.caps)
    max_answer_bytes: int | None = MAX_ANSWER_BYTES


class Transport:
    """Sends requests for one client. ``session`` may be injected (tests, proxies)."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout: Timeout = (10.0, 300.0),
                 max_retries: int = 2, max_retry_delay: float = 60.0, limits: Limits = Limits(),
                 headers: Mapping[str, str] | None = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url
        self._key = Secret(api_key) if api_key else None
        self.timeout, self.max_retries, self.max_retry_delay = timeout, max_retries, max_retry_delay
        self.limits = limits
        self._sleep = sleep
        self._owns_session = session is None
        self.session = session or requests.Session()
        self._pool_size = 0
        self.ensure_pool(10)
        self.session.headers.update({
            "User-Agent": f"jupyter-imagegen/{__version__} requests/{requests.__version__}",
            "Accept": "application/json", **(headers or {})})
        remember_headers(self.session.headers)  # a gateway's token, in a session handed in
        self.gate = RateGate()

    @property
    def has_key(self) -> bool:
        """True when a key is configured (its value is never exposed)."""
        return self._key is not None

    def ensure_pool(self, size: int) -> None:
        """Grow the connection pool to ``size`` connections (batches call this)."""
        if size <= self._pool_size:
            return
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=size, pool_block=False)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._pool_size = size

    def close(self) -> None:
        """Close pooled connections (only if this transport created the session)."""
        if self._owns_session:
            self.session.close()

    def _headers(self, has_body: bool) -> dict[str, str]:
        headers: dict[str, str] = {}
        remember_headers(self.session.headers)  # set on the session since: redacted too
        if self._key is not None:
            headers["Authorization"] = Secret("Bearer " + self._key.reveal())
        if has_body:
            headers["Content-Type"] = "application/json"
        return headers

    def check_body(self, data: bytes) -> None:
        """Refuse to send a body that holds the key (a prompt that interpolated it, say)."""
        # Short placeholder keys ("offline") would match ordinary words: real keys are long.
        if self._key is not None and len(self._key) >= 16 and self._key.reveal().encode() in data:
            raise InvalidInputError("the request contains your API key (in the prompt or an "
                                    "option); nothing was sent. Remove it and try again.")

    # -- sending --------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, data: bytes | None = None,
                params: Mapping[str, str] | None = None, stream: bool = False,
                timeout: Timeout = None, cancel: threading.Event | None = None,
                deadline: float | None = None,
                on_retry: Callable[[int, float], None] | None = None,
                on_send: Callable[[bool], None] | None = None) -> requests.Response:
        """Send with retries; return a 2xx response or raise the mapped error.

        ``deadline`` is a ``time.monotonic()`` instant after which no attempt starts or waits.
        ``on_send(True)`` runs as each try goes out and ``on_send(False)`` when a try ends with
        a whole error answer or never connected: in between, the service may be generating (and
        billing) whatever else happens. An error answer that was billed (``usage`` without a
        zero ``cost``) is never retried: another try would be billed again, unreserved.
        """
        if data is not None:
            self.check_body(data)
        attempt = 0
        self.gate.wait(self._sleep, cancel)  # a sibling thread was told to slow down: so are we
        while True:
            self._check(cancel, deadline)
            if on_send is not None:
                on_send(True)
            response, error = self._attempt(method, path, data, params, stream, timeout,
                                            cancel, deadline)
            if response is not None:
                return response
            assert error is not None
            if on_send is not None and not error.unfinished:  # answered, or never connected
                on_send(False)
            if error.status is not None and error.status not in RETRYABLE_STATUSES:
                raise error
            if error.usage is not None and error.usage.cost != 0:
                raise error
            if attempt >= self.max_retries:
                error.metadata.setdefault("attempts", attempt + 1)
                raise error
            delay = retry_delay(attempt, retry_after=error.retry_after, cap=self.max_retry_delay)
            if deadline is not None and time.monotonic() + delay > deadline:
                raise error  # waiting would overrun the deadline: report the real failure
            log.debug("retrying %s %s in %.2fs after %s", method, path, delay, type(error).__name__)
            if isinstance(error, RateLimitError):
                self.gate.block(delay)
            if on_retry is not None:
                on_retry(attempt + 1, delay)
            self._check(cancel, deadline)  # do not start another, billed try
            self._sleep(delay)
            attempt += 1

    def _check(self, cancel: threading.Event | None, deadline: float | None) -> None:
        if cancel is not None and cancel.is_set():
            raise CancelledError("generation cancelled")
        if deadline is not None and time.monotonic() >= deadline:
            raise RequestTimeoutError(
                "the generation did not finish within its deadline; raise "
                "Client(deadline=...) for slow models")

    def _attempt(self, method: str, path: str, data: bytes | None,
                 params: Mapping[str, str] | None, stream: bool, timeout: Timeout,
                 cancel: threading.Event | None, deadline: float | None,
                 ) -> tuple[requests.Response | None, ImageGenError | None]:
        """One try: ``(response, None)`` for 2xx, ``(None, error)`` for a failure worth a look."""
        def one(url: str, query: Mapping[str, str] | None) -> requests.Response:
            return self.session.request(
                method, url, data=data, params=query, headers=self._headers(data is not None),
                stream=stream, timeout=timeout if timeout is not None else self.timeout,
                allow_redirects=False)  # followed by .redirects: the same origin only

        def send() -> requests.Response:
            first = one(f"{self.base_url}/{path.lstrip('/')}", params)
            return follow_redirects(first, self.base_url, method, lambda url: one(url, None))

        failure = ""
        try:
            response = send() if cancel is None and deadline is None else \
                _in_thread(send, cancel, deadline, self._check)
        except requests.exceptions.RequestException as exc:
            failure = _failure_kind(exc)
        except APIConnectionError as exc:  # a redirect not followed: an answer, not a try
            if exc.status is None:
                raise
            return None, exc
        if failure:
            return None, self._transport_error(failure)
        if response.status_code < 400:
            return response, None
        return None, self._status_error(response)

    def _transport_error(self, failure: str) -> ImageGenError:
        """The typed error for a request that got no usable response (see :func:`_failure_kind`)."""
        if failure == "invalid":
            raise InvalidInputError(f"cannot send a request to {self.base_url!r}: check the base URL "
                                    "and the API key (no line breaks or odd characters)")
        if failure == "read-timeout":
            # A read timeout may mean the generation is still running (and billed): no retry.
            raise RequestTimeoutError(
                f"no response from {self.base_url} within the read timeout; raise "
                "Client(timeout=...) for slow models")
        if failure == "connect-timeout":
            return RequestTimeoutError(f"timed out connecting to {self.base_url}")
        if failure == "not-connected":
            return APIConnectionError(f"cannot reach {self.base_url}: the connection was refused "
                                      "or the host is unknown")
        error = APIConnectionError(f"cannot reach {self.base_url}: {failure}")
        error.unfinished = True  # the connection broke after the request may have gone out
        return error

    def _status_error(self, response: requests.Response) -> ImageGenError:
        """The mapped error for a 4xx/5xx response; a body that breaks off is a connection error."""
        try:
            content = read_body(response, 1024 * 1024)
        except ImageGenError as exc:
            return APIConnectionError(f"the error response from {self.base_url} could not be read "
                                      f"({exc.message}, HTTP {response.status_code})",
                                      status=response.status_code)
        return error_from_response(
            response.status_code, content, retry_after=response.headers.get("Retry-After"),
            request_id=response.headers.get("X-Generation-Id"))

    def get_json(self, path: str, params: Mapping[str, str] | None = None, *,
                 deadline: float | None = None) -> Any:
        """GET a JSON document (listings, records) with retries and typed errors.

        ``deadline`` (seconds) bounds this GET instead of the client's whole-call deadline.
        """
        response = self.request("GET", path, params=params, stream=True,
                                deadline=_deadline(deadline if deadline is not None
                                                   else self.limits.deadline))
        return loads(read_body(response, self.limits.max_response_bytes), f"the response to GET {path}")

    def key_info(self) -> KeyInfo | None:
        """What the service says of the key in use (``GET /key``): its limit and what is left.

        Behind a classroom gateway that is the student's budget. ``None`` when the service does
        not say (no key, an error, a server without the route): never raised into a front end.
        """
        try:
            return parse_key_info(self.get_json("key"))
        except ImageGenError:
            return None


def _deadline(seconds: float | None) -> float | None:
    return None if seconds is None else time.monotonic() + seconds


def _in_thread(send: Callable[[], requests.Response], cancel: threading.Event | None,
               deadline: float | None, check: Callable[..., None]) -> requests.Response:
    """Wait for the response headers in a worker thread, so a cancel or the deadline wins at once.

    The worker is a reused one (:data:`._threads.WORKERS`). An abandoned worker goes back to the
    pool when its socket times out, and its response is closed.
    """
    box: dict[str, Any] = {}
    done = threading.Event()
    gone = threading.Event()

    def run() -> None:
        try:
            box["response"] = send()
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()
            if gone.is_set() and "response" in box:
                box["response"].close()

    WORKERS.submit(run)
    try:
        while not done.wait(0.05):
            check(cancel, deadline)
    except BaseException:
        gone.set()
        if done.is_set() and "response" in box:
            box["response"].close()
        raise
    if "error" in box:
        raise box["error"]
    response: requests.Response = box["response"]
    return response


def _failure_kind(exc: requests.exceptions.RequestException) -> str:
    """Classify a requests failure by name only: its text can hold the URL and headers."""
    if isinstance(exc, (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL,
                        requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema)):
        return "invalid"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect-timeout"
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    if isinstance(exc, requests.exceptions.ConnectionError) and isinstance(
            reason, urllib3.exceptions.NewConnectionError):
        return "not-connected"  # refused or unresolvable: the request never left
    if isinstance(exc, requests.exceptions.Timeout):
        return "read-timeout"
    return type(exc).__name__
