"""The teacher's routes: the page, its sign-in, and the two controls (revoke, set a budget).

Only the admin token opens them (``serve --admin-token``, or
``$JUPYTER_IMAGEGEN_GATEWAY_ADMIN_TOKEN``); without one the page does not exist. The token is
posted once in a form and exchanged for an ``HttpOnly``, ``SameSite=Strict`` cookie holding a
digest of it (never the token itself); scripts may send ``Authorization: Bearer <admin token>``
instead. A control must carry the ``X-Gateway-Admin`` header, which a cross-site form cannot
send, so another page cannot press the buttons for the teacher. Student tokens open nothing here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ._page import admin_page, login_page
from ._proxy import error, read_body
from ._state import bearer

if TYPE_CHECKING:  # the app's lifespan builds the state these routes read
    from ._state import GatewayState

__all__ = ["admin_routes"]

COOKIE = "imagegen_gateway_admin"
_NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
             "Content-Security-Policy": "default-src 'none'; img-src data:; style-src "
                                        "'unsafe-inline'; script-src 'unsafe-inline'; "
                                        "connect-src 'self'; form-action 'self'; base-uri 'none'"}


def _cookie_value(token: str) -> str:
    return hashlib.sha256(b"jupyter-imagegen gateway admin\0" + token.encode()).hexdigest()


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def _is_admin(request: Request) -> bool:
    token = _state(request).config.admin_token
    if not token:
        return False
    given = bearer(request)
    if given is not None:
        return hmac.compare_digest(given.encode(), token.encode())
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, _cookie_value(token))


def _home(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}/admin"


async def _page(request: Request) -> Response:
    state = _state(request)
    if not state.config.admin_token:
        return error(404, "The teacher's page is off: start the gateway with --admin-token.")
    if not _is_admin(request):
        return HTMLResponse(login_page(), headers=_NO_STORE)
    report = await state.run(state.ledger.usage)
    images = await state.run(state.ledger.latest_images, 24)
    rules = {"models": state.config.models, "blocked_words": state.config.blocked_words,
             "upstream": state.config.upstream_url}
    return HTMLResponse(admin_page(report, images, rules), headers=_NO_STORE)


async def _login(request: Request) -> Response:
    state = _state(request)
    token = state.config.admin_token
    if not token:
        return error(404, "The teacher's page is off.")
    raw = await read_body(request, 8192, state.config.read_timeout)
    if isinstance(raw, Response):
        return raw
    try:  # a urlencoded form of one field (no multipart parser needed)
        fields = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=4)
    except ValueError:
        fields = {}
    given = (fields.get("token") or [""])[0].strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return HTMLResponse(login_page("That is not the admin token."), status_code=401,
                            headers=_NO_STORE)
    answer = RedirectResponse(_home(request), status_code=303)
    answer.set_cookie(COOKIE, _cookie_value(token), httponly=True, samesite="strict",
                      path=request.scope.get("root_path", "") or "/", max_age=12 * 3600)
    return answer


async def _control(request: Request) -> tuple[GatewayState, dict[str, object]] | Response:
    if not _is_admin(request):
        return error(401, "The admin token is needed for this.")
    if request.headers.get("x-gateway-admin") != "1":
        return error(403, "Controls need the X-Gateway-Admin header (sent by the page).")
    raw = await read_body(request, 8192, _state(request).config.read_timeout)
    if isinstance(raw, Response):
        return raw
    try:
        body = json.loads(raw)
    except ValueError:
        return error(400, "The body must be JSON.")
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        return error(400, "Say which student: {\"name\": ...}.")
    return _state(request), body


async def _revoke(request: Request) -> Response:
    checked = await _control(request)
    if isinstance(checked, Response):
        return checked
    state, body = checked
    name = str(body["name"])
    if not await state.run(state.ledger.revoke, name):
        return error(404, f"No student named {name!r}.")
    return JSONResponse({"revoked": name})


async def _budget(request: Request) -> Response:
    checked = await _control(request)
    if isinstance(checked, Response):
        return checked
    state, body = checked
    name, budget = str(body["name"]), body.get("budget")
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 <= budget <= 1e6:
        return error(400, "The budget must be a number of USD from 0 to 1000000.")
    if not await state.run(state.ledger.set_budget, name, float(budget)):
        return error(404, f"No student named {name!r}.")
    return JSONResponse({"name": name, "budget": float(budget)})


def admin_routes() -> list[BaseRoute]:
    """The teacher's page and its controls."""
    return [Route("/admin", _page), Route("/admin/login", _login, methods=["POST"]),
            Route("/admin/api/revoke", _revoke, methods=["POST"]),
            Route("/admin/api/budget", _budget, methods=["POST"])]
