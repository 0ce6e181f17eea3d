"""Serving injected faults: status faults and the ``/_faults`` admin endpoint.

Functions over the request handler (:class:`~._app.Handler`), like the chat and image routes.
``POST /_faults`` takes JSON only (``Content-Type: application/json``), so a web page's
cross-origin "simple" ``text/plain`` POST cannot queue a fault on a developer's local server.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from ._faults import Fault

if TYPE_CHECKING:  # the handler calls this module, so the reference back is type-only
    from ._app import Handler

__all__ = ["handle_fault_admin", "send_redirect", "send_status_fault"]


def send_status_fault(handler: Handler, fault: Fault, model: str | None, path: str) -> None:
    """Answer with the fault's HTTP error (after its delay), ``Retry-After`` when it has a wait.

    The header repeats the one in the error's metadata when the fault sets it, so the two agree.
    """
    app = handler.server.app
    time.sleep(app.latency + fault.delay)
    body = fault.body(model, path)
    err = body["error"]
    headers = {}
    wait = err.get("availability", {}).get("retry_after", fault.retry_after)
    if wait is not None:
        headers["Retry-After"] = str(err.get("metadata", {}).get("headers", {}).get(
            "Retry-After", _num(wait)))
    handler._write_json(int(fault.status or 500), body, headers)


def send_redirect(handler: Handler, fault: Fault, path: str) -> None:
    """A ``redirect`` fault: ``302 Found`` to the fault's ``message`` (after its delay)."""
    time.sleep(fault.delay)
    target = fault.message or f"http://127.0.0.1:1/api/v1{path}"
    handler._write_json(302, {"error": {"code": 302, "message": f"Moved to {target}"}},
                        {"Location": target})


def handle_fault_admin(handler: Handler, method: str, body: bytes) -> None:
    """``/_faults``: ``GET`` lists the queue, ``POST`` adds to it, ``DELETE`` empties it.

    Every accepted call answers with what is pending, so a script sees the queue it left.
    """
    faults = handler.server.app.faults
    if method == "DELETE":
        faults.clear()
    elif method == "POST":
        kind = (handler.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":  # a page's cross-origin "simple" POST is text/plain
            handler._error(415, "POST /_faults takes a JSON body: send Content-Type: "
                           "application/json")
            return
        try:
            obj = json.loads(body or b"{}")
            items = obj.get("faults", [obj]) if isinstance(obj, dict) else obj
            parsed = [Fault.from_mapping(item) for item in items]
        except (ValueError, TypeError, AttributeError) as exc:
            handler._error(400, f"Invalid fault: {exc}")
            return
        for fault, times in parsed:
            faults.push(fault, times=times)
    elif method != "GET":
        handler._error(405, f"{method} not allowed on /api/v1/_faults")
        return
    pending = [{"kind": f.kind, "times": t, "delay": f.delay, "path": f.path,
                "model": f.model, "retry_after": f.retry_after} for f, t in faults.pending()]
    handler._write_json(200, {"data": {"pending": pending}})


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
