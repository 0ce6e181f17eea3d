"""Serving injected faults: status faults and the ``/_faults`` admin endpoint.

A mixin of the request handler (:class:`~._app.Handler`). ``POST /_faults`` takes JSON only
(``Content-Type: application/json``), so a web page's cross-origin "simple" ``text/plain`` POST
cannot queue a fault on a developer's local server.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ._faults import Fault

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["FaultHandling"]


class FaultHandling:
    """Status faults and ``/_faults`` (it relies on the handler's writers)."""

    server: Any
    headers: Any

    if TYPE_CHECKING:  # provided by the handler this is mixed into
        def _write_json(self, status: int, obj: Any, headers: Mapping[str, str] | None = None,
                        *, close: bool = False, cut: bool = False) -> None:
            raise NotImplementedError

        def _error(self, status: int, message: str, metadata: Mapping[str, Any] | None = None,
                   headers: Mapping[str, str] | None = None) -> None:
            raise NotImplementedError

    def _status_fault(self, fault: Fault, model: str | None, path: str) -> None:
        app = self.server.app
        time.sleep(app.latency + fault.delay)
        body = fault.body(model, path)
        err = body["error"]
        headers = {}
        wait = err.get("availability", {}).get("retry_after", fault.retry_after)
        if wait is not None:
            headers["Retry-After"] = str(err.get("metadata", {}).get("headers", {}).get(
                "Retry-After", _num(wait)))
        self._write_json(int(fault.status or 500), body, headers)

    def _admin_faults(self, method: str, body: bytes) -> None:
        faults = self.server.app.faults
        if method == "DELETE":
            faults.clear()
        elif method == "POST":
            kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if kind != "application/json":  # a page's cross-origin "simple" POST is text/plain
                self._error(415, "POST /_faults takes a JSON body: send Content-Type: "
                            "application/json")
                return
            try:
                obj = json.loads(body or b"{}")
                items = obj.get("faults", [obj]) if isinstance(obj, dict) else obj
                parsed = [Fault.from_mapping(item) for item in items]
            except (ValueError, TypeError, AttributeError) as exc:
                self._error(400, f"Invalid fault: {exc}")
                return
            for fault, times in parsed:
                faults.push(fault, times=times)
        elif method != "GET":
            self._error(405, f"{method} not allowed on /api/v1/_faults")
            return
        pending = [{"kind": f.kind, "times": t, "delay": f.delay, "path": f.path,
                    "model": f.model, "retry_after": f.retry_after} for f, t in faults.pending()]
        self._write_json(200, {"data": {"pending": pending}})


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
