"""The read-only routes: model listings, counts, per-model endpoints records.

Shapes follow OpenRouter's OpenAPI spec (``ModelsListResponse``, ``ModelsCountResponse``,
``ListEndpointsResponse``/``PublicEndpoint``, ``ImageModelsListResponse``,
``ImageModelEndpointsResponse``) and the docs' pagination rules (``offset``/``limit``, ``limit``
1-1000 defaulting to 500, ``links.next`` a ready-to-use URL or null, ``total_count``; the full list
when both are omitted). Model ids resolve by ``id`` or by ``canonical_slug``, since the recorded
``links.details`` use the canonical slug.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ._chat_catalog import ModelSpec, filter_models, model_json

if TYPE_CHECKING:  # the handler calls this module, so the reference back is type-only
    from ._app import Handler

__all__ = ["handle_listing"]

_PREFIX = "/api/v1"
_NO_TOOLS = {"auto": False, "function": False, "none": False, "required": False}


def _page(query: Mapping[str, str]) -> tuple[int, int | None] | str:
    """``(offset, limit)`` (limit None: everything), or the 400 message."""
    if "offset" not in query and "limit" not in query:
        return 0, None
    try:
        offset = int(query.get("offset", "0"))
        limit = int(query.get("limit", "500"))
    except ValueError:
        return "offset and limit must be integers"
    if offset < 0 or not 1 <= limit <= 1000:
        return "offset must be >= 0 and limit between 1 and 1000"
    return offset, limit


def _listing(handler: Handler, path: str, specs: list[ModelSpec],
             query: Mapping[str, str]) -> None:
    page = _page(query)
    if isinstance(page, str):
        handler._error(400, page)
        return
    offset, limit = page
    shown = specs[offset:] if limit is None else specs[offset:offset + limit]
    following = None
    if limit is not None and offset + limit < len(specs):
        params = {**query, "offset": str(offset + limit), "limit": str(limit)}
        following = f"{_PREFIX}{path}?{urlencode(params)}"
    handler._write_json(200, {"data": [model_json(s) for s in shown],
                              "total_count": len(specs), "links": {"next": following}})


def _resolve(catalogue: Mapping[str, ModelSpec], slug: str) -> ModelSpec | None:
    slug = slug.split(":", 1)[0]
    if slug in catalogue:
        return catalogue[slug]
    return next((s for s in catalogue.values()
                 if s.entry is not None and s.entry.get("canonical_slug") == slug), None)


def _endpoint(spec: ModelSpec, provider: Mapping[str, Any] | None) -> dict[str, Any]:
    entry = model_json(spec)
    top = entry["top_provider"]
    name = provider["provider_name"] if provider else "jupyter-imagegen offline"
    tag = provider["provider_tag"] if provider else "jupyter-imagegen"
    return {
        "name": entry["name"], "model_id": spec.id, "model_name": entry["name"],
        "context_length": entry["context_length"] or 0, "pricing": entry["pricing"],
        "provider_name": name, "tag": tag, "quantization": None,
        "max_completion_tokens": top["max_completion_tokens"],
        "max_prompt_tokens": top["context_length"], "supported_parameters": entry[
            "supported_parameters"], "status": 0, "uptime_last_30m": None,
        "uptime_last_5m": None, "uptime_last_1d": None, "supports_implicit_caching": False,
        "latency_last_30m": None, "throughput_last_30m": None, "native_tools": {},
        "service_tier": None, "supports_diarization": False, "supports_tool_choice": _NO_TOOLS,
    }


def _endpoints(handler: Handler, spec: ModelSpec) -> None:
    entry = model_json(spec)
    image = handler.server.app.image_catalogue.get(spec.id)
    providers = list(image.endpoints) if image is not None and image.endpoints else [None]
    handler._write_json(200, {"data": {
        "id": spec.id, "name": entry["name"], "created": entry["created"],
        "description": entry["description"], "architecture": entry["architecture"],
        "endpoints": [_endpoint(spec, p) for p in providers]}})


def _image_routes(handler: Handler, path: str) -> None:
    catalogue = handler.server.app.image_catalogue
    if path == "/images/models":
        handler._write_json(200, {"data": [s.listing_json() for s in catalogue.values()]})
        return
    rest = path[len("/images/models/"):]
    model_id = rest[: -len("/endpoints")] if rest.endswith("/endpoints") else rest
    spec = catalogue.get(model_id)
    if spec is None:
        handler._error(404, f"Image model {model_id} not found")
    elif rest.endswith("/endpoints"):
        handler._write_json(200, spec.endpoint_json())
    else:
        handler._write_json(200, {"data": spec.listing_json()})


def handle_listing(handler: Handler, path: str, query: Mapping[str, str]) -> bool:
    """Answer a ``GET`` listing route; False when ``path`` is not one of them."""
    app = handler.server.app
    if path == "/images/models" or path.startswith("/images/models/"):
        _image_routes(handler, path)
    elif path in ("/models", "/models/user"):
        _listing(handler, path, filter_models(app.catalogue.values(), query), query)
    elif path == "/models/count":
        count = len(filter_models(app.catalogue.values(), query))
        handler._write_json(200, {"data": {"count": count}})
    elif path.startswith("/models/") and path.endswith("/endpoints"):
        spec = _resolve(app.catalogue, path[len("/models/"):-len("/endpoints")])
        if spec is None:
            handler._error(404, f"Model {path[len('/models/'):-len('/endpoints')]} not found")
        else:
            _endpoints(handler, spec)
    elif path.startswith("/model/"):
        spec = _resolve(app.catalogue, path[len("/model/"):])
        if spec is None:
            handler._error(404, f"Model {path[len('/model/'):]} not found")
        else:
            handler._write_json(200, {"data": model_json(spec)})
    else:
        return False
    return True
