"""Every kind of answer the local server gives, validated against the ``openrouter`` SDK's schemas.

The bytes come straight off the wire (``conf_wire.fetch``) and go through the SDK's pydantic models
in strict JSON mode, so an integer sent as a string, a price sent as a number or an enum value the
spec does not list fails. ``unknown_fields`` then lists keys the spec does not declare: each one
must be a field real traffic carries (``RECORDED``, sources beside each entry).
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from conf_wire import check, fetch, sse_data, strip_indices, unknown_fields
from PIL import Image

import jupyter_imagegen.server as server_pkg
from jupyter_imagegen.server import Fault

components = pytest.importorskip("openrouter.components")
operations = pytest.importorskip("openrouter.operations")
errors = pytest.importorskip("openrouter.errors")

CHAT_MODEL = "google/gemini-2.5-flash-image"  # real id, text+image -> text+image
IMAGE_MODEL = "black-forest-labs/flux.2-pro"  # real id, Image API, no streaming
ASK = [{"role": "user", "content": "a red circle above blue waves"}]

# Keys outside the spec that real OpenRouter answers carry (openrouter-protocol.md §2, §3):
# `provider` and `native_finish_reason` in every recorded chat answer and chunk; images' `type`
# and `index` and `usage.completion_tokens_details.image_tokens` in the recorded Gemini answer;
# `delta.images` in the docs' streaming sample (docs@1c9b462) and the AI SDK provider's reader.
RECORDED = {"provider", "choices[].native_finish_reason", "choices[].message.images[].type",
            "choices[].message.images[].index", "usage.completion_tokens_details.image_tokens",
            "choices[].delta.images",
            # the docs' model availability errors (docs 4e27fe52, openrouter-changes-2026.md)
            "error.availability", "error.error_type", "error.http_status"}
# docs 4e27fe52: availability code -> HTTP status
AVAILABILITY = {"model_not_found": 400, "wrong_endpoint": 400, "no_endpoints": 404,
                "model_deprecated": 404, "model_unavailable_upstream": 404,
                "privacy_restricted": 404, "constraint_filtered": 404, "free_variant_ended": 404,
                "capacity_exhausted": 429, "temporarily_unavailable": 503,
                "region_restricted": 403}


def extra(model: Any, body: Any) -> set[str]:
    return strip_indices(unknown_fields(model, body)) - RECORDED


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
    image.load()
    return image


def chat(base: str, **fields: Any) -> Any:
    return fetch(base, "POST", "/chat/completions",
                 {"model": CHAT_MODEL, "messages": ASK, "modalities": ["image", "text"], **fields})


# -- chat completions ----------------------------------------------------------------------------


def test_chat_json(base: str) -> None:
    wire = chat(base, image_config={"aspect_ratio": "16:9"})
    assert wire.status == 200
    assert wire.headers["Content-Type"].startswith("application/json")
    result = check(components.ChatResult, wire.body)
    assert extra(components.ChatResult, wire.json()) == set()
    assert wire.headers["X-Generation-Id"] == result.id
    (image,) = result.choices[0].message.images
    header, b64 = image.image_url.url.split(",", 1)
    assert header == "data:image/png;base64"
    assert decode(b64).size == (1344, 768)  # Gemini's 16:9 at 1K (docs@1c9b462 table)
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_chat_stream_chunks(base: str) -> None:
    wire = chat(base, stream=True)
    assert wire.status == 200
    assert wire.headers["Content-Type"].startswith("text/event-stream")
    events, done = sse_data(wire.body)
    assert done
    chunks = [check(components.ChatStreamChunk, e) for e in events]
    for event in events:
        assert extra(components.ChatStreamChunk, json.loads(event)) == set()
    assert {c.id for c in chunks} == {wire.headers["X-Generation-Id"]}
    images = [img for e in events for ch in json.loads(e)["choices"]
              for img in ch["delta"].get("images", [])]
    assert len(images) == 1
    assert decode(images[0]["image_url"]["url"].split(",", 1)[1]).size == (1024, 1024)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens >= 1290  # one 1K Gemini image (recorded usage)


def test_chat_stream_no_null_optional_strings(base: str) -> None:
    events, _ = sse_data(chat(base, stream=True).body)
    for event in events:
        chunk = json.loads(event)
        assert isinstance(chunk.get("system_fingerprint", ""), str), chunk


def test_chat_mid_stream_error(base: str, srv: Any) -> None:
    srv.faults.push(Fault("stream-error", model=CHAT_MODEL))
    wire = chat(base, stream=True)
    assert wire.status == 200  # docs errors-and-debugging.mdx: mid-stream errors keep HTTP 200
    events, done = sse_data(wire.body)
    assert not done
    last = check(components.ChatStreamChunk, events[-1])
    assert last.error is not None
    assert last.error.code == 429
    assert last.error.metadata.error_type == "rate_limit_exceeded"
    assert last.choices[0].finish_reason == "error"


@pytest.mark.parametrize("kind", ["refusal", "tool-call", "no-image", "no-cost", "no-usage"])
def test_chat_answers_without_an_image_or_cost(base: str, srv: Any, kind: str) -> None:
    # Billed answers that carry no image, or no cost: the spec's shapes, JSON and stream.
    srv.faults.push(Fault(kind, model=CHAT_MODEL), times=2)
    wire = chat(base)
    result = check(components.ChatResult, wire.body)
    assert extra(components.ChatResult, wire.json()) == set()
    message = result.choices[0].message
    if kind == "refusal":
        assert message.refusal and message.content is None and not message.images
    if kind == "tool-call":
        assert result.choices[0].finish_reason == "tool_calls"
        (call,) = message.tool_calls
        assert call.type == "function" and json.loads(call.function.arguments)["prompt"]
    if kind in ("no-cost", "no-usage"):
        assert message.images and "cost" not in wire.json().get("usage", {})
    events, done = sse_data(chat(base, stream=True).body)
    assert done
    for event in events:
        check(components.ChatStreamChunk, event)
        assert extra(components.ChatStreamChunk, json.loads(event)) == set()


STATUSES = {400: "BadRequest", 401: "Unauthorized", 402: "PaymentRequired", 403: "Forbidden",
            404: "NotFound", 408: "RequestTimeout", 413: "PayloadTooLarge",
            422: "UnprocessableEntity", 429: "TooManyRequests", 500: "InternalServer",
            502: "BadGateway", 503: "ServiceUnavailable", 524: "EdgeNetworkTimeout",
            529: "ProviderOverloaded"}


@pytest.mark.parametrize("path", ["/chat/completions", "/images"])
@pytest.mark.parametrize("status", sorted(STATUSES))
def test_error_envelopes(base: str, srv: Any, status: int, path: str) -> None:
    srv.faults.push(Fault(str(status), path=path, retry_after=2 if status == 429 else None))
    body = ({"model": CHAT_MODEL, "messages": ASK} if path == "/chat/completions"
            else {"model": IMAGE_MODEL, "prompt": "a cat"})
    wire = fetch(base, "POST", path, body)
    assert wire.status == status
    model = getattr(errors, f"{STATUSES[status]}ResponseErrorData")
    parsed = check(model, wire.body)
    assert parsed.error.code == status
    assert extra(model, wire.json()) == set()
    if status == 429:
        assert wire.headers["Retry-After"] == "2"


@pytest.mark.parametrize(("request_kw", "status"), [
    ({"key": None}, 401), ({"key": "sk-or-v1-wrong"}, 401), ({"raw": b"{not json"}, 400),
    ({"body": {"model": "nobody/no-such-model", "messages": ASK}}, 400),
    ({"body": {"model": CHAT_MODEL}}, 400)])
def test_natural_errors(base: str, request_kw: dict[str, Any], status: int) -> None:
    kw = {"body": {"model": CHAT_MODEL, "messages": ASK}, **request_kw}
    wire = fetch(base, "POST", "/chat/completions", **kw)
    assert wire.status == status
    model = getattr(errors, f"{STATUSES[status]}ResponseErrorData")
    assert check(model, wire.body).error.code == status
    assert extra(model, wire.json()) == set()


def test_unknown_route_is_a_json_404(base: str) -> None:
    wire = fetch(base, "POST", "/images/generations", {"model": IMAGE_MODEL, "prompt": "x"})
    assert wire.status == 404  # not an OpenRouter route (openrouter-changes-2026.md)
    assert check(errors.NotFoundResponseErrorData, wire.body).error.code == 404


def _image_only_model(base: str) -> str:
    listing = fetch(base, "GET", "/images/models").json()["data"]
    return next(m["id"] for m in listing if m["id"].startswith("openai/gpt-image"))


def test_image_only_model_refused_on_chat(base: str) -> None:
    model = _image_only_model(base)
    wire = fetch(base, "POST", "/chat/completions",
                 {"model": model, "messages": ASK, "modalities": ["image"]})
    assert wire.status == 404
    message = check(errors.NotFoundResponseErrorData, wire.body).error.message
    assert message.endswith("is an image generation model and cannot be used with the "
                            "chat/completions endpoint. Use the /api/v1/images endpoint instead.")
    assert model in message


def _availability_kinds() -> list[tuple[str, str]]:
    """Fault kinds that name an availability code, whatever their spelling."""
    kinds = getattr(server_pkg, "FAULT_KINDS", {})
    return [(kind, code) for kind in kinds for code in AVAILABILITY if code in kind]


def test_availability_errors(base: str, srv: Any) -> None:
    kinds = _availability_kinds()
    assert {code for _, code in kinds} >= {"model_not_found", "capacity_exhausted",
                                            "temporarily_unavailable", "no_endpoints"}
    for kind, code in kinds:
        srv.faults.push(Fault(kind))
        wire = fetch(base, "POST", "/chat/completions", {"model": CHAT_MODEL, "messages": ASK})
        assert wire.status == AVAILABILITY[code], kind
        availability = wire.json()["error"]["availability"]
        assert availability["code"] == code
        assert isinstance(availability["retryable"], bool)
        assert availability["requested_models"]
        assert availability["docs_url"].startswith("https://")
        if code == "capacity_exhausted":
            assert wire.headers["Retry-After"] == str(availability["retry_after"])


def test_availability_errors_parse_in_the_sdk(base: str, srv: Any) -> None:
    # The docs' examples carry error_type + http_status and no `code`; both official SDKs
    # require error.code (an int) on every error body, so the server must keep `code`.
    kinds = _availability_kinds()
    assert kinds
    for kind, code in kinds:
        srv.faults.push(Fault(kind))
        wire = fetch(base, "POST", "/chat/completions", {"model": CHAT_MODEL, "messages": ASK})
        model = getattr(errors, f"{STATUSES[AVAILABILITY[code]]}ResponseErrorData")
        assert check(model, wire.body).error.code == AVAILABILITY[code]
        assert extra(model, wire.json()) == set()
