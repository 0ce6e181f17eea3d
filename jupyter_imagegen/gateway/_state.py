"""What one gateway process holds while it runs: settings, ledger, upstream client, caches.

The routes read everything through :class:`GatewayState`: who a token belongs to (a student
token, or in Hub mode a JupyterHub token the Hub vouches for), the prompt screen, the price
book, and :meth:`GatewayState.run`, which runs a ledger transaction in a worker thread so the
event loop never waits on the database.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
import httpx
from starlette.requests import Request
from starlette.responses import Response

from .._wire.errors import error_body
from ._config import GatewayConfig
from ._ledger import Ledger, Reservation, Student
from ._listings import PriceBook
from ._stream import widen_reads
from ._usage import Bill

__all__ = ["GatewayState", "bearer"]

T = TypeVar("T")


def bearer(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <t>`` (or JupyterHub's ``token <t>``)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() in ("bearer", "token") and token else None


def _unauthorised(message: str) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse(error_body(401, message), status_code=401)


class GatewayState:
    """The process-wide parts; created in the app's lifespan, closed at its end."""

    def __init__(self, config: GatewayConfig, ledger: Ledger,
                 client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.ledger = ledger
        widen_reads()  # fewer, larger reads of the upstream's multi-megabyte answers
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(config.deadline, connect=15.0, pool=30.0),
            limits=httpx.Limits(max_connections=config.max_connections,
                                max_keepalive_connections=min(64, config.max_connections)),
            follow_redirects=False, trust_env=False)
        self.prices = PriceBook(self.client, config.upstream_url, ttl=config.listing_ttl)
        self._hub_cache: dict[str, tuple[float, str | None]] = {}
        words = [w.strip().lower() for w in config.blocked_words if w.strip()]
        self._screen = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b",
                                  re.IGNORECASE) if words else None
        self.recent: list[tuple[Reservation, Bill]] = []

    async def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """``fn(*args, **kwargs)`` in a worker thread (ledger calls block on the database)."""
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    async def aclose(self) -> None:
        """Close the upstream client."""
        await self.client.aclose()

    # -- who is asking ----------------------------------------------------------------------------

    async def authenticate(self, request: Request) -> Student | Response:
        """The student behind the request's token, or the 401 to answer."""
        token = bearer(request)
        if token is None:
            return _unauthorised("No auth credentials found")
        student = await self.run(self.ledger.student_by_token, token)
        if student is None and self.config.hub is not None:
            user = await self._hub_user(token)
            if user is not None:
                student = await self.run(self.ledger.hub_student, user,
                                         self.config.hub.default_budget)
        if student is None:
            return _unauthorised("User not found: this token is not one of this gateway's "
                                 "(ask your teacher for yours).")
        if student.revoked:
            return _unauthorised("This gateway token was revoked.")
        return student

    async def _hub_user(self, token: str) -> str | None:
        """The Hub user a JupyterHub token belongs to (``GET /hub/api/user``), cached briefly."""
        hub = self.config.hub
        assert hub is not None
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached = self._hub_cache.get(digest)
        if cached is not None and time.monotonic() - cached[0] < hub.cache_seconds:
            return cached[1]
        try:
            answer = await self.client.get(f"{hub.api_url.rstrip('/')}/user",
                                           headers={"Authorization": f"token {token}"}, timeout=15)
        except httpx.HTTPError:
            return None  # not cached: the Hub may be back in a moment
        user: str | None = None
        try:
            model = answer.json() if answer.status_code == 200 else None
        except ValueError:  # not the Hub's JSON: nobody is vouched for
            model = None
        if model is not None:
            scopes = model.get("scopes") if isinstance(model, dict) else None
            if isinstance(model, dict) and model.get("kind", "user") == "user" and \
                    isinstance(model.get("name"), str) and self._hub_scoped(scopes):
                user = model["name"]
        if len(self._hub_cache) > 10_000:
            self._hub_cache.clear()
        self._hub_cache[digest] = (time.monotonic(), user)
        return user

    def _hub_scoped(self, scopes: object) -> bool:
        """Whether the token may use this service (``access:services!service=<name>``).

        The Hub names its services; a token is let in when its scopes include access to this
        service, to every service, or when the Hub does not report scopes at all (older Hubs).
        """
        name = self.config.hub.service_name if self.config.hub is not None else None
        if not name or not isinstance(scopes, list):
            return True
        wanted = {"access:services", f"access:services!service={name}"}
        return any(scope in wanted for scope in scopes)

    # -- rules of the class -----------------------------------------------------------------------

    def screen(self, prompt: str) -> str | None:
        """Why the prompt screen refuses ``prompt``, or ``None``."""
        if self._screen is None:
            return None
        found = self._screen.search(prompt)
        if found is None:
            return None
        return (f"Refused by the class's prompt screen: the prompt contains {found.group(1)!r}, "
                "which this class does not allow. Nothing was sent.")

    def scrub(self, text: str) -> str:
        """``text`` with the upstream key taken out (errors are passed on to students)."""
        key = self.config.upstream_key
        return text.replace(key, "[gateway key hidden]") if key else text

    @property
    def keeps_thumbnails(self) -> bool:
        """Whether answers' first images are kept small for the teacher's page (it is on)."""
        return self.config.thumbnails and bool(self.config.admin_token)

    def finished(self, held: Reservation, bill: Bill) -> None:
        """A call was settled (kept briefly for the admin page)."""
        self.recent.append((held, bill))
        del self.recent[:-100]
