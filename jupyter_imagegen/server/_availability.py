"""Model availability errors (``error.availability``), as scriptable faults.

Codes, statuses, ``error_type`` values and retryability are the table of the docs'
errors-and-debugging page ("Model availability errors", OpenRouterTeam/docs c26125a5); bodies are
shaped as that page's examples: ``{"error": {message, error_type, http_status, availability,
metadata?}}``, plus ``code``: the page calls ``availability`` *additive* to the usual envelope, and
both official SDKs' error schemas (``openrouter`` 1.3.84, ``@openrouter/sdk``) require an integer
``code``, so a body without it would be unreadable to them. ``capacity_exhausted`` and
``temporarily_unavailable`` carry ``retry_after`` and the ``Retry-After`` header when a wait is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["AVAILABILITY", "availability_body"]


@dataclass(frozen=True)
class Availability:
    """One row of the docs' availability table."""

    status: int
    error_type: str
    retryable: bool
    message: str  # {model} is the requested model


AVAILABILITY: dict[str, Availability] = {
    "model_not_found": Availability(400, "invalid_request", False, "{model} is not a valid model ID"),
    "wrong_endpoint": Availability(400, "invalid_request", False,
                                   "{model} cannot be used with this endpoint"),
    "no_endpoints": Availability(404, "not_found", False, "No endpoints found for {model}."),
    "model_deprecated": Availability(404, "not_found", False,
                                     "{model} has been deprecated and is no longer available."),
    "model_unavailable_upstream": Availability(404, "not_found", False,
                                               "Every provider for {model} returned 404."),
    "privacy_restricted": Availability(404, "not_found", False,
                                       "No endpoints for {model} match your data policy (zero "
                                       "data retention). Adjust at "
                                       "https://openrouter.ai/settings/privacy."),
    "constraint_filtered": Availability(404, "not_found", False,
                                        "No endpoints for {model} match your routing "
                                        "constraints (max_price)."),
    "free_variant_ended": Availability(404, "not_found", False,
                                       "The free variant of {model} has ended."),
    "capacity_exhausted": Availability(429, "rate_limit_exceeded", True,
                                       "All providers for {model} are at capacity. Retry after "
                                       "{wait} seconds."),
    "temporarily_unavailable": Availability(503, "provider_overloaded", True,
                                            "All providers for {model} failed with transient "
                                            "errors. Retry with backoff."),
    "region_restricted": Availability(403, "permission_denied", False,
                                      "{model} is not available in your region."),
}


def availability_body(code: str, model: str, *, retry_after: float | None = None,
                      message: str | None = None, endpoint: str = "/api/v1/images"
                      ) -> dict[str, Any]:
    """The docs-shaped error body for availability ``code`` on a request for ``model``."""
    row = AVAILABILITY[code]
    wait = retry_after
    if wait is None and code == "capacity_exhausted":
        wait = 1.0  # the header is part of this code's contract; keep tests fast by default
    shown = str(int(wait)) if wait is not None and float(wait).is_integer() else str(wait)
    avail: dict[str, Any] = {"code": code, "retryable": row.retryable}
    if wait is not None and code in ("capacity_exhausted", "temporarily_unavailable"):
        avail["retry_after"] = int(wait) if float(wait).is_integer() else wait
    avail["requested_models"] = [model]
    if code == "capacity_exhausted":
        avail["affected_providers"] = ["jupyter-imagegen"]
    if code == "privacy_restricted":
        avail["excluded_by"] = ["data_policy:zdr"]
    if code == "constraint_filtered":
        avail["excluded_by"] = ["max_price"]
        avail["constraint"] = {"field": "max_price",
                               "detail": "Every endpoint costs more than provider.max_price"}
    if code == "wrong_endpoint":
        avail["constraint"] = {"field": "endpoint", "detail": f"Use {endpoint}"}
    avail["docs_url"] = f"https://openrouter.ai/docs/errors#{code}"
    err: dict[str, Any] = {
        "code": row.status, "message": message or row.message.format(model=model, wait=shown),
        "error_type": row.error_type, "http_status": row.status, "availability": avail}
    if code == "capacity_exhausted":
        err["metadata"] = {"previous_errors": [
            {"provider": "jupyter-imagegen", "code": "capacity_exhausted", "status": 429}]}
    return {"error": err}
