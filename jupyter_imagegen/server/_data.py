"""The catalogue as package data: real listings as recorded, plus the offline models.

``data/catalogue.json`` holds what public projects recorded from the real service
(``GET /models?output_modalities=image``, ``GET /images/models`` and per-model endpoints records,
field for field) and this project's own ``offline/*`` models. Its ``_source`` block and
``data/README.md`` cite every capture. Code never carries a table of what a model accepts: it reads
this file, so the server cannot drift into an invented catalogue again.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["catalogue_data", "image_endpoints_record", "price_lines_for"]


@lru_cache(maxsize=1)
def catalogue_data() -> dict[str, Any]:
    """The parsed ``data/catalogue.json`` (read once; treat it as read-only)."""
    text = resources.files(__package__).joinpath("data/catalogue.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def image_endpoints_record(model_id: str) -> dict[str, Any] | None:
    """The recorded (or sibling-derived) ``/images/models/{id}/endpoints`` record, if any.

    A model whose record was not captured borrows its named sibling's providers and price lines
    (``image_endpoints_like`` in the data file) with its own ``supported_parameters``.
    """
    data = catalogue_data()
    record = data["image_endpoints"].get(model_id)
    if record is not None:
        return {"endpoints": record["endpoints"], "id": model_id}
    sibling = data["image_endpoints_like"].get(model_id)
    listing = next((m for m in data["image_models"] if m["id"] == model_id), None)
    if sibling is None or listing is None:
        return None
    borrowed = data["image_endpoints"][sibling]["endpoints"]
    return {"endpoints": [{**ep, "supported_parameters": listing["supported_parameters"],
                           "supports_streaming": listing["supports_streaming"]}
                          for ep in borrowed], "id": model_id}


def price_lines_for(model_id: str) -> list[dict[str, Any]]:
    """The first endpoint's price lines (what the offline server bills, simulated)."""
    record = image_endpoints_record(model_id)
    if record is None or not record["endpoints"]:
        return []
    lines: list[dict[str, Any]] = record["endpoints"][0]["pricing"]
    return lines
