"""The ASGI application: OpenRouter's routes, the gateway's limits, its lifespan.

Built on Starlette (routing, requests) and served by uvicorn. Two pure-ASGI middlewares come
first: a connection cap that answers a quick JSON 503 past ``max_connections`` (the local
server's rule), and, for a loopback bind, a ``Host`` check so a web page cannot reach the gateway
through DNS rebinding. The lifespan opens the upstream client and beats the ledger's heartbeat,
sweeping the reservations of gateway processes that died.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .._version import __version__
from .._wire.errors import error_body
from ._admin import admin_routes
from ._config import GatewayConfig
from ._ledger import Ledger, Student, to_usd
from ._proxy import error, generate
from ._state import GatewayState

__all__ = ["create_app", "key_info"]

log = logging.getLogger("jupyter_imagegen.gateway")
PREFIX = "/api/v1"
_LISTING_BYTES = 64 * 1024 * 1024
FREE_DAILY = 1000


class ConnectionCap:
    """At most ``limit`` requests at once; the next get a JSON 503 with ``Retry-After: 1``."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit, self.active = app, limit, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            busy = error(503, f"Gateway busy: {self.limit} requests are open; retry shortly",
                         {"Retry-After": "1"})
            await busy(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


class HostCheck:
    """Answer only requests whose ``Host`` is one of ``hosts`` (a loopback bind's own names)."""

    def __init__(self, app: ASGIApp, hosts: Callable[[], frozenset[str] | None]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        allowed = self.hosts() if scope["type"] == "http" else None
        if allowed is not None:
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").lower()
            if host and host not in allowed:
                refused = error(403, f"Host {host[:100]!r} is not this gateway: a loopback gateway "
                                "answers only 127.0.0.1, localhost or [::1] with its port")
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


class StripPrefix:
    """Serve under a path prefix too: a JupyterHub service is reached at ``/services/<name>/``.

    The Hub's proxy forwards the whole path (``JUPYTERHUB_SERVICE_PREFIX`` included); requests
    without the prefix (straight to the gateway's port) are served as they are.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app, self.prefix = app, "/" + prefix.strip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == self.prefix or path.startswith(self.prefix + "/")):
            # ASGI's way: the path keeps the prefix, root_path names it; Starlette routes the rest
            scope = {**scope, "root_path": self.prefix}
        await self.app(scope, receive, send)


def loopback_hosts(host: str, port: int) -> frozenset[str] | None:
    """The ``Host`` values a gateway bound to loopback ``host:port`` answers (``None``: any)."""
    if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
        return None
    names = {"127.0.0.1", "localhost", "[::1]", f"[{host}]" if ":" in host else host}
    return frozenset({f"{name}:{port}" for name in names} | (names if port == 80 else set()))


def _period_starts() -> tuple[float, float, float]:
    """The current UTC day's, week's (Monday) and month's starts, as Unix times."""
    now = dt.datetime.now(dt.timezone.utc)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - dt.timedelta(days=day.weekday())
    return day.timestamp(), week.timestamp(), day.replace(day=1).timestamp()


def key_info(ledger: Ledger, student: Student) -> dict[str, Any]:
    """``GET /key``'s ``data`` for a student, in OpenRouter's key-info shape.

    Fields as OpenRouter's API reference "Get current API key" and ``@openrouter/sdk``'s
    ``GetCurrentKeyResponse`` name them (label, limit, limit_remaining, limit_reset, usage and
    its daily/weekly/monthly parts, byok_usage*, is_free_tier, ...). ``limit`` is the student's
    budget; ``limit_remaining`` is what can still be reserved (budget less spent and running).
    """
    starts = _period_starts()
    day, week, month = (to_usd(ledger.spent_since(student.id, t)) for t in starts)
    free = ledger.free_calls_since(student.id, starts[0])
    return {
        "label": student.name, "limit": to_usd(student.budget),
        "limit_remaining": to_usd(student.left), "limit_reset": None,
        "include_byok_in_limit": False, "usage": to_usd(student.spent), "usage_daily": day,
        "usage_weekly": week, "usage_monthly": month, "byok_usage": 0.0,
        "byok_usage_daily": 0.0, "byok_usage_weekly": 0.0, "byok_usage_monthly": 0.0,
        "is_free_tier": False, "is_management_key": False, "is_provisioning_key": False,
        "creator_user_id": None, "expires_at": None, "allowed_data_regions": ["global"],
        "budgets": [], "effective_budget": None, "organization_id": None, "workspace_id": None,
        # OpenRouter allows 1000 free-model requests a day to a key with credits (docs
        # limits.mdx); the class shares one key, so this is the student's share of what is used.
        "free_model_daily_requests": {"limit": FREE_DAILY, "used": free,
                                      "remaining": max(0, FREE_DAILY - free)},
        "rate_limit": {"requests": -1, "interval": "10s",
                       "note": "This field is deprecated and safe to ignore."},
    }


async def _key(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    student = await state.authenticate(request)
    if isinstance(student, Response):
        return student
    return JSONResponse({"data": await state.run(key_info, state.ledger, student)})


async def _generation(request: Request) -> Response:
    """``GET /generation?id=``: only the student's own generations, looked up upstream."""
    state: GatewayState = request.app.state.gateway
    student = await state.authenticate(request)
    if isinstance(student, Response):
        return student
    gen_id = request.query_params.get("id", "")
    if not gen_id or not await state.run(state.ledger.owns_generation, student.id, gen_id):
        return error(404, f"Generation {gen_id[:120]!r} not found")
    return await _forward_get(state, "generation", {"id": gen_id}, with_key=True)


async def _forward_get(state: GatewayState, path: str, params: Any, *,
                       with_key: bool = False) -> Response:
    headers = {"accept-encoding": "identity"}
    if with_key and state.config.upstream_key:
        headers["authorization"] = f"Bearer {state.config.upstream_key}"
    try:
        answer = await state.client.get(f"{state.config.upstream_url}/{path}", params=params,
                                        headers=headers)
    except Exception as exc:
        return error(502, f"The upstream could not be reached ({type(exc).__name__}).")
    body = answer.content[:_LISTING_BYTES]
    if answer.status_code >= 400:
        body = state.scrub(body.decode("utf-8", "replace")).encode()
    return Response(body, status_code=answer.status_code,
                    media_type=answer.headers.get("content-type", "application/json"))


def route_path(request: Request) -> str:
    """The request's path below the prefix it was served under (``root_path``)."""
    path, root = str(request.scope["path"]), str(request.scope.get("root_path", ""))
    return path[len(root):] if root and path.startswith(root + "/") else path


async def _listing(request: Request) -> Response:
    """The public listings, passed through (filtered to the class's models when it has a list)."""
    state: GatewayState = request.app.state.gateway
    path = route_path(request)[len(PREFIX) + 1:]
    answer = await _forward_get(state, path, list(request.query_params.multi_items()))
    allowed = state.config.models
    if allowed is None or answer.status_code != 200 or path not in ("models", "images/models"):
        return answer
    try:
        import json

        obj = json.loads(bytes(answer.body))
        obj["data"] = [m for m in obj["data"] if isinstance(m, dict) and m.get("id") in allowed]
        if "total_count" in obj:
            obj["total_count"] = len(obj["data"])
    except (ValueError, KeyError, TypeError):
        return answer
    return JSONResponse(obj)


async def _chat(request: Request) -> Response:
    return await generate(request, "chat")


async def _images(request: Request) -> Response:
    return await generate(request, "images")


async def _root(request: Request) -> Response:
    return JSONResponse({"gateway": "jupyter-imagegen", "version": __version__,
                         "api": f"{request.base_url}api/v1".replace("//api", "/api")})


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse(error_body(404, f"Not found: {request.method} {route_path(request)}"),
                        status_code=404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse(error_body(405, f"Method {request.method} not allowed on "
                                        f"{route_path(request)}"), status_code=405)


def routes() -> list[BaseRoute]:
    """The OpenRouter-shaped routes the gateway serves."""
    listing = ["/models", "/models/count", "/models/{rest:path}", "/images/models",
               "/images/models/{rest:path}", "/model/{rest:path}"]
    return [
        Route("/", _root),
        Route(f"{PREFIX}/chat/completions", _chat, methods=["POST"]),
        Route(f"{PREFIX}/images", _images, methods=["POST"]),
        Route(f"{PREFIX}/key", _key),
        Route(f"{PREFIX}/generation", _generation),
        *(Route(PREFIX + path, _listing) for path in listing),
    ]


async def _sweep(state: GatewayState) -> None:
    """Beat this process's heartbeat, and release what stopped processes held."""
    await state.run(state.ledger.heartbeat)
    released = await state.run(state.ledger.sweep, state.config.stale_after)
    if released:
        log.warning("released %d reservation(s) of a gateway process that stopped", released)


async def _beat(state: GatewayState) -> None:
    """Heartbeat and sweep, forever (every ``heartbeat`` seconds)."""
    while True:
        await anyio.sleep(state.config.heartbeat)
        try:
            await _sweep(state)
        except Exception:
            log.exception("ledger heartbeat failed")


def create_app(config: GatewayConfig, ledger: Ledger, *,
               hosts: Callable[[], frozenset[str] | None] | None = None,
               extra_routes: list[BaseRoute] | None = None) -> ASGIApp:
    """The gateway as an ASGI app over ``ledger``; ``hosts`` gives the Host check's names."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state = GatewayState(config, ledger)
        app.state.gateway = state
        await state.run(ledger.set_class_budget, config.class_budget)
        await _sweep(state)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_beat, state)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    await state.aclose()
                    await state.run(ledger.retire)

    app = Starlette(routes=[*routes(), *admin_routes(), *(extra_routes or [])], lifespan=lifespan,
                    exception_handlers={404: _not_found, 405: _not_allowed})
    wrapped: ASGIApp = ConnectionCap(app, config.max_connections)
    if config.path_prefix.strip("/"):
        wrapped = StripPrefix(wrapped, config.path_prefix)
    if hosts is not None and config.check_host:
        wrapped = HostCheck(wrapped, hosts)
    return _LifespanPassthrough(wrapped, app)


class _LifespanPassthrough:
    """The wrapped app, with lifespan events sent straight to Starlette (middleware skip them)."""

    def __init__(self, wrapped: ASGIApp, app: Starlette) -> None:
        self.wrapped, self.app = wrapped, app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self.app if scope["type"] == "lifespan" else self.wrapped)(scope, receive, send)
