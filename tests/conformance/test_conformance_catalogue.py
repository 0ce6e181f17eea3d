"""Listings, Image API answers, key and generation records against the ``openrouter`` SDK's schemas.

Strict JSON validation of the server's bytes, plus: no key the spec does not declare, and the
shapes real listings have (openrouter-changes-2026.md: pagination, /models/count, /models/user,
per-model endpoints, Gemini in /images/models, no ``pricing.image_output``).
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from conf_wire import check, fetch, sse_data, strip_indices, unknown_fields
from PIL import Image

from jupyter_imagegen.server import Fault

components = pytest.importorskip("openrouter.components")
operations = pytest.importorskip("openrouter.operations")

CHAT_MODEL = "google/gemini-2.5-flash-image"
IMAGE_MODEL = "black-forest-labs/flux.2-pro"


def no_extra(model: Any, body: Any) -> None:
    assert strip_indices(unknown_fields(model, body)) == set()


def api_path(link: str) -> str:
    """A listing's link (``/api/v1/...`` or a full URL) as a path under the base URL."""
    return urlsplit(link).path.removeprefix("/api/v1")


def image_models(base: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = fetch(base, "GET", "/images/models").json()["data"]
    return data


# -- /models and friends -------------------------------------------------------------------------


def test_models_image_listing(base: str) -> None:
    wire = fetch(base, "GET", "/models", key=None, query={"output_modalities": "image"})
    assert wire.status == 200  # listing needs no key (docs curl samples)
    listing = check(components.ModelsListResponse, wire.body)
    no_extra(components.ModelsListResponse, wire.json())
    assert listing.data
    assert all("image" in m.architecture.output_modalities for m in listing.data)
    assert listing.total_count >= len(listing.data)
    assert CHAT_MODEL in {m.id for m in listing.data}


def test_models_have_no_invented_image_output_price(base: str) -> None:
    data = fetch(base, "GET", "/models", query={"output_modalities": "all"}).json()["data"]
    assert [m["id"] for m in data if "image_output" in m["pricing"]] == []


def test_models_default_is_text_output(base: str) -> None:
    data = fetch(base, "GET", "/models").json()["data"]
    assert all("text" in m["architecture"]["output_modalities"] for m in data)


def test_models_pagination(base: str) -> None:
    query = {"output_modalities": "all", "limit": "2"}
    first = check(components.ModelsListResponse,
                  fetch(base, "GET", "/models", query=query).body)
    assert len(first.data) == 2
    assert first.total_count > 2
    assert first.links.next is not None
    follow = dict(parse_qsl(urlsplit(first.links.next).query))  # its query, on this server
    second = check(components.ModelsListResponse,
                   fetch(base, "GET", "/models", query={**query, **follow}).body)
    assert {m.id for m in first.data}.isdisjoint(m.id for m in second.data)


def test_models_count(base: str) -> None:
    wire = fetch(base, "GET", "/models/count", query={"output_modalities": "all"})
    count = check(components.ModelsCountResponse, wire.body)
    no_extra(components.ModelsCountResponse, wire.json())
    total = fetch(base, "GET", "/models", query={"output_modalities": "all"}).json()["total_count"]
    assert count.data.count == total


def test_models_user(base: str) -> None:
    assert fetch(base, "GET", "/models/user", key=None).status == 401  # it needs a key
    wire = fetch(base, "GET", "/models/user")
    listing = check(components.ModelsListResponse, wire.body)
    no_extra(components.ModelsListResponse, wire.json())
    assert CHAT_MODEL in {m.id for m in listing.data}


def test_model_record(base: str) -> None:
    wire = fetch(base, "GET", f"/model/{CHAT_MODEL}")
    record = check(components.ModelResponse, wire.body)
    no_extra(components.ModelResponse, wire.json())
    assert record.data.id == CHAT_MODEL
    assert fetch(base, "GET", "/model/nobody/no-such-model").status == 404


def test_model_endpoints(base: str) -> None:
    details = fetch(base, "GET", f"/model/{CHAT_MODEL}").json()["data"]["links"]["details"]
    wire = fetch(base, "GET", api_path(details))
    endpoints = check(operations.ListEndpointsResponse, wire.body)
    no_extra(operations.ListEndpointsResponse, wire.json())
    assert endpoints.data.id == CHAT_MODEL
    assert endpoints.data.endpoints


# -- Image API -----------------------------------------------------------------------------------


def test_image_models_listing(base: str) -> None:
    wire = fetch(base, "GET", "/images/models")
    listing = check(components.ImageModelsListResponse, wire.body)
    no_extra(components.ImageModelsListResponse, wire.json())
    for item in listing.data:
        record = fetch(base, "GET", api_path(item.endpoints))
        assert check(components.ImageModelEndpointsResponse, record.body).id == item.id
        no_extra(components.ImageModelEndpointsResponse, record.json())


def test_image_models_include_gemini(base: str) -> None:
    assert CHAT_MODEL in {m["id"] for m in image_models(base)}


def test_images_json(base: str) -> None:
    wire = fetch(base, "POST", "/images", {"model": IMAGE_MODEL, "prompt": "a red circle",
                                           "aspect_ratio": "16:9"})
    assert wire.status == 200
    answer = check(components.ImageGenerationResponse, wire.body)
    no_extra(components.ImageGenerationResponse, wire.json())
    (item,) = answer.data
    image = Image.open(io.BytesIO(base64.b64decode(item.b64_json, validate=True)))
    assert Image.MIME[image.format] == item.media_type
    assert image.width > image.height
    assert answer.usage.cost > 0


def test_images_sse(base: str) -> None:
    model = next(m["id"] for m in image_models(base)
                 if m["supports_streaming"] and not m["id"].startswith("offline/"))
    wire = fetch(base, "POST", "/images", {"model": model, "prompt": "a cat", "stream": True})
    assert wire.headers["Content-Type"].startswith("text/event-stream")
    events, done = sse_data(wire.body)
    assert done
    parsed = [check(components.ImageStreamingResponse, json.dumps({"data": json.loads(e)})).data
              for e in events]
    for event in events:
        no_extra(components.ImageStreamingResponse, {"data": json.loads(event)})
    assert all(isinstance(p, components.ImageGenPartialImageEvent) for p in parsed[:-1])
    assert isinstance(parsed[-1], components.ImageGenCompletedEvent)  # not the SDK's "Unknown"
    assert parsed[-1].usage.cost > 0
    image = Image.open(io.BytesIO(base64.b64decode(parsed[-1].b64_json)))
    assert image.size[0] >= 512


def test_images_stream_flag_ignored_without_streaming(base: str) -> None:
    wire = fetch(base, "POST", "/images", {"model": IMAGE_MODEL, "prompt": "a", "stream": True})
    assert wire.status == 200
    assert check(components.ImageGenerationResponse, wire.body).data


def test_images_sse_error_event(base: str, srv: Any) -> None:
    model = next(m["id"] for m in image_models(base) if m["supports_streaming"])
    srv.faults.push(Fault("stream-error", path="/images"))
    wire = fetch(base, "POST", "/images", {"model": model, "prompt": "a cat", "stream": True})
    assert wire.status == 200
    events, _ = sse_data(wire.body)
    last = check(components.ImageStreamingResponse, json.dumps({"data": json.loads(events[-1])}))
    assert isinstance(last.data, components.ImageGenStreamErrorEvent)
    assert last.data.error.message


# -- key and generation records ------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # is_provisioning_key is deprecated
def test_key_record(base: str) -> None:
    wire = fetch(base, "GET", "/key")
    check(operations.GetCurrentKeyResponse, wire.body)
    no_extra(operations.GetCurrentKeyResponse, wire.json())
    assert fetch(base, "GET", "/key", key="sk-or-v1-wrong").status == 401


@pytest.mark.parametrize("api", ["chat", "image"])
def test_generation_record(base: str, api: str) -> None:
    if api == "chat":
        made = fetch(base, "POST", "/chat/completions", {
            "model": CHAT_MODEL, "modalities": ["image", "text"],
            "messages": [{"role": "user", "content": "a cat"}]})
        gen_id = made.json()["id"]
    else:
        made = fetch(base, "POST", "/images", {"model": IMAGE_MODEL, "prompt": "a cat"})
        gen_id = made.headers.get("X-Generation-Id") or made.json().get("id")
        if gen_id is None:
            pytest.skip("the Image API answer names no generation id (none in the docs either)")
    wire = fetch(base, "GET", "/generation", query={"id": gen_id})
    record = check(components.GenerationResponse, wire.body)
    no_extra(components.GenerationResponse, wire.json())
    assert record.data.id == gen_id
    assert record.data.total_cost > 0
    assert record.data.api_type == ("completions" if api == "chat" else "image")
