"""Property tests: every answer from the network ends in a result or an ``ImageGenError``.

Hostile or broken servers send anything: deep nesting, ``1e400``, 400-digit integers, odd codes,
wrong types. Each parser of both APIs (bodies, stream events, listings, endpoints, error bodies)
and the catalogue built from them are fed such values; nothing else may escape. Bounded: a fixed
number of examples each, no deadline games.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen import GeneratedImage, ImageResult, Usage
from jupyter_imagegen._core.catalogue import Catalogue
from jupyter_imagegen._wire.chat import StreamAccumulator, parse_chat_completion
from jupyter_imagegen._wire.errors import error_from_response, images_error
from jupyter_imagegen._wire.images import ImagesStreamAccumulator, parse_images_response
from jupyter_imagegen._wire.listings import parse_endpoints, parse_image_models, parse_models

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HOSTILE_NUMBERS = st.sampled_from([10**400, -(10**400), 1e308, -1e308, 0, -1, 2**63, True, None])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), HOSTILE_NUMBERS,
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                    st.sampled_from(["²", "429", "server_error", "image/svg+xml", "data:x,y"]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)),
    max_leaves=25)
KEYS = ["id", "model", "provider", "created", "choices", "message", "delta", "images", "image_url",
        "url", "usage", "cost", "error", "code", "message", "metadata", "data", "b64_json",
        "media_type", "type", "architecture", "input_modalities", "output_modalities", "pricing",
        "supported_parameters", "endpoints", "availability", "retry_after", "http_status",
        "error_type", "finish_reason", "content", "cost_usd", "billable", "unit", "variant"]
SHAPED = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)),
    max_leaves=30)
VALUES = st.one_of(JSON, SHAPED)


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


PNG_B64 = _png()


def only_typed(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ig.ImageGenError:
        return None


def _text(obj: Any) -> str:
    try:
        return json.dumps(obj)
    except (ValueError, OverflowError):
        return "{}"


@SETTINGS
@given(VALUES)
def test_chat_bodies_and_events(obj: Any) -> None:
    only_typed(lambda: parse_chat_completion(obj, status=200))
    acc = StreamAccumulator()
    only_typed(lambda: acc.add_data(_text(obj)))
    only_typed(acc.result)


@SETTINGS
@given(VALUES)
def test_image_api_bodies_and_events(obj: Any) -> None:
    only_typed(lambda: parse_images_response(obj, status=200))
    acc = ImagesStreamAccumulator()
    only_typed(lambda: acc.add_data(_text(obj)))
    only_typed(acc.result)


@SETTINGS
@given(VALUES)
def test_listings_endpoints_and_catalogue(obj: Any) -> None:
    only_typed(lambda: parse_models(obj))
    only_typed(lambda: parse_image_models(obj))
    only_typed(lambda: parse_endpoints(obj))
    catalogue = Catalogue(lambda path, params: obj)
    models = only_typed(catalogue.models) or []
    for model in models:
        model.price("2K", "16:9")
        _ = model.aspect_ratios, model.accepts_images, model.default_api, model.max_images


@SETTINGS
@given(VALUES, st.integers(min_value=100, max_value=599))
def test_error_bodies(obj: Any, status: int) -> None:
    assert isinstance(error_from_response(status, _text(obj).encode()), ig.ImageGenError)
    if isinstance(obj, dict):
        assert isinstance(images_error(obj, status=status), ig.ImageGenError)
    assert isinstance(Usage.from_json(obj), Usage)


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deep_nesting_is_a_response_error(depth: int) -> None:
    deep = "[" * depth + "]" * depth
    for call in (lambda: StreamAccumulator().add_data(deep),
                 lambda: ImagesStreamAccumulator().add_data(deep)):
        try:
            call()
        except ig.ImageGenError:
            pass
    assert isinstance(error_from_response(500, deep.encode()), ig.ImageGenError)


@SETTINGS
@given(created=st.one_of(HOSTILE_NUMBERS, st.floats()), usage=VALUES)
def test_a_normal_answer_with_odd_fields_displays_and_describes(created: Any, usage: Any) -> None:
    body = {"created": created, "usage": usage, "data": [{"b64_json": PNG_B64, "media_type": "image/png"}]}
    completion = only_typed(lambda: parse_images_response(body, status=200))
    if completion is None:
        return
    image = GeneratedImage(data=base64.b64decode(PNG_B64), mime="image/png", index=0)
    result = ImageResult.from_completion(completion, [image], prompt="p", model="m", params={})
    assert result.caption() and result.metadata()["model"] == "m"
    assert repr(result)
    assert result.image.size == (4, 4)


@pytest.mark.parametrize("listing", [
    {"data": [{"id": "a/b", "architecture": {"input_modalities": 1, "output_modalities": ["image"]}}]},
    {"data": [{"id": "a/b", "architecture": {"output_modalities": ["image"]},
               "pricing": {"prompt": "1e400", "image_output": 10**400}}]},
    {"data": [{"id": "a/b", "architecture": {"output_modalities": "image"}, "context_length": 10**400}]},
])
def test_the_hostile_listings_found_by_review(listing: dict[str, Any]) -> None:
    models = parse_models(listing, images_only=False)
    assert models[0].id == "a/b"
    assert all(isinstance(m, str) for m in models[0].input_modalities)


@pytest.mark.parametrize("body", [
    b'{"error": {"code": "\xc2\xb2", "message": "x"}}',
    b'{"error": {"code": 429, "message": "x", "metadata": {"retry_after_seconds": ' + b"9" * 400 + b"}}}",
    b'{"error": {"code": 429, "message": "x", "metadata": {"retry_after_seconds": 1e400}}}',
])
def test_the_hostile_error_bodies_found_by_review(body: bytes) -> None:
    error = error_from_response(429, body)
    assert isinstance(error, ig.ImageGenError) and error.retry_after is None


def test_hostile_usage_numbers_are_unknown_not_overflow() -> None:
    usage = Usage.from_json(json.loads('{"cost": 1e400, "prompt_tokens": ' + "9" * 400 + "}"))
    assert usage.cost is None and usage.prompt_tokens == 0
