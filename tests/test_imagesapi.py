"""The dedicated Image API's pure layer, on JSON fixtures written from the protocol notes (§9, §5)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from jupyter_imagegen import (
    BadRequestError,
    NoImageError,
    NotFoundError,
    ProviderError,
    RateLimitError,
    ResponseError,
)
from jupyter_imagegen._wire.images import (
    IMAGES_ASPECT_RATIOS,
    ImageModelInfo,
    ImagesStreamAccumulator,
    build_images_body,
    images_error,
    images_pixel_size,
    parse_image_models,
    parse_images_response,
    parse_size,
)

PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode()
JPEG_B64 = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 40).decode()

RESPONSE = {
    "created": 1748372400,
    "data": [{"b64_json": PNG_B64, "media_type": "image/png"},
             {"b64_json": JPEG_B64, "media_type": "image/jpeg"}],
    "usage": {"prompt_tokens": 0, "completion_tokens": 4175, "total_tokens": 4175, "cost": 0.04},
}

LISTING = {"data": [
    {"id": "bytedance-seed/seedream-4.5", "name": "Seedream 4.5",
     "description": "A text-to-image model.", "created": 1692901234,
     "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["image"]},
     "supported_parameters": {
         "resolution": {"type": "enum", "values": ["1K", "2K", "4K"]},
         "aspect_ratio": {"type": "enum", "values": ["1:1", "16:9", "9:16"]},
         "n": {"type": "range", "min": 1, "max": 10},
         "input_references": {"type": "range", "min": 0, "max": 10},
         "seed": {"type": "boolean"}},
     "supports_streaming": False,
     "endpoints": "/api/v1/images/models/bytedance-seed/seedream-4.5/endpoints"},
    {"id": "openai/gpt-image-1", "name": "GPT Image 1",
     "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["image"]},
     "supported_parameters": {"quality": {"type": "enum", "values": ["low", "high"]}},
     "supports_streaming": True},
    {"name": "no id: skipped"},
    "junk",
]}


# -- request bodies -----------------------------------------------------------------------------


def test_minimal_body_is_model_and_prompt() -> None:
    assert build_images_body("a cat", "openai/gpt-image-1") == {
        "model": "openai/gpt-image-1", "prompt": "a cat"}


def test_full_body_matches_the_documented_fields() -> None:
    body = build_images_body(
        "a cat", "openai/gpt-image-1", n=4, resolution="2K", aspect_ratio="16:9",
        size="2048x1152", quality="high", output_format="webp", background="transparent",
        seed=7, stream=True, input_references=["data:image/png;base64,AAAA", "https://x/y.png"],
        provider={"only": ["openai"]}, extra={"output_compression": 80})
    assert body == {
        "model": "openai/gpt-image-1", "prompt": "a cat", "n": 4, "resolution": "2K",
        "aspect_ratio": "16:9", "size": "2048x1152", "quality": "high", "output_format": "webp",
        "background": "transparent", "seed": 7, "stream": True,
        "input_references": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
        "provider": {"only": ["openai"]}, "output_compression": 80}
    json.dumps(body)  # serialisable as is


def test_body_edge_cases() -> None:
    one = build_images_body("p", "m", input_references="https://x/a.png")  # type: ignore[arg-type]
    assert one["input_references"] == [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]
    assert "stream" not in build_images_body("p", "m", stream=False)
    assert build_images_body("p", "m", extra={"model": "other"})["model"] == "other"
    with pytest.raises(TypeError):
        build_images_body(b"bytes", "m")  # type: ignore[arg-type]
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="n must be"):
            build_images_body("p", "m", n=bad)  # type: ignore[arg-type]


# -- sizes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ratio", "resolution", "expected"), [
    (None, None, (1024, 1024)), ("auto", "1K", (1024, 1024)), ("1:1", "512", (512, 512)),
    ("16:9", "1K", (1344, 768)), ("16:9", "2K", (2688, 1536)), ("21:9", "1K", (1536, 672)),
    ("9:21", "1K", (672, 1536)), ("1:1", "4K", (4096, 4096)),
])
def test_pixel_sizes(ratio: str | None, resolution: str | None, expected: tuple[int, int]) -> None:
    assert images_pixel_size(ratio, resolution) == expected


@pytest.mark.parametrize("ratio", [r for r in IMAGES_ASPECT_RATIOS if r != "auto"])
def test_every_documented_ratio_has_a_close_size(ratio: str) -> None:
    width, height = images_pixel_size(ratio)
    left, _, right = ratio.partition(":")
    assert abs(width / height - float(left) / float(right)) / (float(left) / float(right)) < 0.1
    assert 0.8e6 < width * height < 1.2e6  # about one megapixel at 1K


def test_pixel_size_rejects_junk() -> None:
    with pytest.raises(ValueError, match="resolution"):
        images_pixel_size("1:1", "3K")
    with pytest.raises(ValueError, match="aspect ratio"):
        images_pixel_size("wide", "1K")


def test_parse_size() -> None:
    assert parse_size("1536x1024") == (1536, 1024)
    assert parse_size(" 512X512 ") == (512, 512)
    assert parse_size("2K") is None
    assert parse_size("auto") is None
    assert parse_size("0x10") is None


# -- non-streaming responses --------------------------------------------------------------------


def test_response_becomes_a_chat_completion() -> None:
    c = parse_images_response(RESPONSE, generation_id="gen-1-abc", model="m/x")
    assert [i.url for i in c.images] == [f"data:image/png;base64,{PNG_B64}",
                                         f"data:image/jpeg;base64,{JPEG_B64}"]
    assert [i.index for i in c.images] == [0, 1]
    assert c.id == "gen-1-abc"
    assert c.model == "m/x"
    assert c.created == 1748372400
    assert c.usage.cost == 0.04
    assert c.usage.completion_tokens == 4175
    assert c.require_images() is c


def test_body_id_wins_and_media_type_is_sniffed_when_missing() -> None:
    obj = {"id": "gen-body", "data": [{"b64_json": JPEG_B64}, {"url": "https://cdn/x.png"},
                                      {"revised_prompt": "only text"}, "junk"]}
    c = parse_images_response(obj, generation_id="gen-header")
    assert c.id == "gen-body"
    assert c.images[0].url.startswith("data:image/jpeg;base64,")
    assert c.images[1].url == "https://cdn/x.png"
    assert len(c.images) == 2
    assert c.text == "only text"
    assert c.usage.cost is None


def test_openai_style_usage_is_read() -> None:
    c = parse_images_response({"data": [{"b64_json": PNG_B64}],
                               "usage": {"input_tokens": 5, "output_tokens": 9}})
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (5, 9)


def test_no_images_takes_the_no_image_path() -> None:
    c = parse_images_response({"created": 1, "data": [], "usage": {"cost": 0}},
                              generation_id="gen-x")
    with pytest.raises(NoImageError) as info:
        c.require_images()
    assert info.value.request_id == "gen-x"


@pytest.mark.parametrize("obj", [[], "x", {"created": 1}, {"data": {"b64_json": "x"}}])
def test_unusable_bodies_raise_response_error(obj: Any) -> None:
    with pytest.raises(ResponseError):
        parse_images_response(obj)


@pytest.mark.parametrize(("status", "obj", "cls"), [
    (400, {"error": {"code": 400, "message": "bad"}}, BadRequestError),
    (200, {"error": {"code": 429, "message": "slow down",
                     "metadata": {"retry_after_seconds": 3}}}, RateLimitError),
    (502, {"error": {"code": 502, "message": "Provider returned error",
                     "metadata": {"raw": "boom", "provider_name": "P"}}}, ProviderError),
    (200, {"error": {"code": "server_error", "message": "Generation failed"}}, ProviderError),
    (400, {"error": {"code": 400, "message": "x is not a valid model ID",
                     "metadata": {"error_type": "model_not_found"}}}, NotFoundError),
])
def test_error_envelopes_map_to_the_exception_tree(status: int, obj: Any, cls: type) -> None:
    with pytest.raises(cls) as info:
        parse_images_response(obj, status=status, generation_id="gen-e")
    assert info.value.request_id == "gen-e"
    if cls is RateLimitError:
        assert info.value.retry_after == 3
    if status == 502:
        assert "boom" in str(info.value) and "P" in str(info.value)


def test_string_codes_map_to_statuses() -> None:
    assert isinstance(images_error({"error": {"code": "rate_limit_exceeded", "message": "x"}}),
                      RateLimitError)
    assert isinstance(images_error({"type": "error", "message": "flat"}), Exception)
    assert "flat" in str(images_error({"type": "error", "message": "flat"}))


# -- streaming ----------------------------------------------------------------------------------


def _events(*objs: Any) -> list[str]:
    return [json.dumps(o) if not isinstance(o, str) else o for o in objs]


def test_stream_partials_then_completed_then_done() -> None:
    acc = ImagesStreamAccumulator(generation_id="gen-s", model="openai/gpt-image-1")
    updates = [acc.add_data(d) for d in _events(
        {"type": "image_generation.partial_image", "partial_image_index": 0, "b64_json": PNG_B64},
        {"type": "image_generation.partial_image", "partial_image_index": 1, "b64_json": PNG_B64},
        {"type": "image_generation.completed", "b64_json": JPEG_B64, "media_type": "image/jpeg",
         "created": 1748372400},
        {"type": "image_generation.partial_image", "partial_image_index": 0, "b64_json": PNG_B64},
        {"type": "image_generation.completed", "b64_json": PNG_B64, "media_type": "image/png",
         "created": 1748372401, "usage": {"prompt_tokens": 16, "completion_tokens": 272,
                                         "total_tokens": 288, "cost": 0.011}},
        {"type": "image_generation.something_new"},
        "[DONE]")]
    assert [u.kind for u in updates] == ["partial", "partial", "completed", "partial",
                                         "completed", "other", "done"]
    assert [u.partial_index for u in updates[:2]] == [0, 1]
    assert updates[0].is_partial and updates[0].image is not None
    assert updates[0].image.url.startswith("data:image/png;base64,")  # sniffed: no media_type
    assert [updates[0].image_index, updates[3].image_index] == [0, 1]
    assert updates[2].is_completed and updates[2].usage is None
    assert updates[4].usage is not None and updates[4].usage.cost == 0.011
    assert updates[-1].done and acc.done
    result = acc.result()
    assert len(result.images) == 2  # partials never enter the result
    assert result.images[0].url == f"data:image/jpeg;base64,{JPEG_B64}"
    assert [i.index for i in result.images] == [0, 1]
    assert result.usage.total_tokens == 288
    assert result.created == 1748372401
    assert (result.id, result.model) == ("gen-s", "openai/gpt-image-1")
    assert (acc.partials, acc.completed) == (3, 2)


def test_stream_error_event_raises_mapped_error() -> None:
    acc = ImagesStreamAccumulator(generation_id="gen-err")
    acc.add_data(json.dumps({"type": "image_generation.partial_image", "partial_image_index": 0,
                             "b64_json": PNG_B64}))
    with pytest.raises(ProviderError, match="Generation failed") as info:
        acc.add_data(json.dumps({"type": "error", "error": {"message": "Generation failed",
                                                            "code": "server_error"}}))
    assert info.value.request_id == "gen-err"
    with pytest.raises(RateLimitError):
        ImagesStreamAccumulator().add_event({"type": "error", "error": {"code": 429,
                                                                        "message": "x"}})


def test_stream_without_completed_image_has_no_images() -> None:
    acc = ImagesStreamAccumulator(keep_images=True)
    acc.add_data(json.dumps({"type": "image_generation.partial_image", "b64_json": PNG_B64}))
    acc.add_data("[DONE]")
    with pytest.raises(NoImageError):
        acc.result().require_images()


def test_stream_keep_images_false_and_broken_events() -> None:
    acc = ImagesStreamAccumulator(keep_images=False)
    update = acc.add_event({"type": "image_generation.completed", "b64_json": PNG_B64})
    assert update.image is not None
    assert acc.result().images == ()
    assert acc.completed == 1
    with pytest.raises(ResponseError, match="not valid JSON"):
        acc.add_data("{nope")
    with pytest.raises(ResponseError, match="not a JSON object"):
        acc.add_event([1])
    with pytest.raises(ResponseError, match="no image"):
        acc.add_event({"type": "image_generation.completed"})
    assert acc.add_event({"type": "image_generation.partial_image"}).kind == "other"


# -- discovery ----------------------------------------------------------------------------------


def test_parse_image_models_reads_the_documented_shape() -> None:
    seedream, gpt = parse_image_models(LISTING)
    assert seedream.id == "bytedance-seed/seedream-4.5"
    assert seedream.name == "Seedream 4.5"
    assert seedream.created == 1692901234
    assert seedream.input_modalities == ("text", "image")
    assert seedream.output_modalities == ("image",)
    assert seedream.resolutions == ("1K", "2K", "4K")
    assert seedream.aspect_ratios == ("1:1", "16:9", "9:16")
    assert seedream.max_n == 10
    assert seedream.max_input_references == 10
    assert seedream.supports_seed and seedream.accepts_images
    assert not seedream.supports_streaming
    assert seedream.endpoints == "/api/v1/images/models/bytedance-seed/seedream-4.5/endpoints"
    assert gpt.supports_streaming and not gpt.supports_seed
    assert gpt.max_n == 1 and gpt.max_input_references == 0
    assert gpt.qualities == ("low", "high")
    assert gpt.aspect_ratios == ()


def test_check_reports_problems_with_valid_values() -> None:
    seedream = parse_image_models(LISTING)[0]
    assert seedream.check({"n": 4, "resolution": "2K", "aspect_ratio": "16:9", "seed": 1,
                           "model": "x", "size": None}) == []
    problems = seedream.check({"n": 11, "resolution": "8K", "background": "transparent",
                               "quality": "high", "input_references": ["a"] * 11, "stream": True})
    text = "\n".join(problems)
    assert "n=11" in text and "1-10" in text
    assert "resolution='8K'" in text and "1K, 2K, 4K" in text
    # Undeclared fields are problems, named with the model's own parameters (no exemptions).
    assert "'background' (its parameters: aspect_ratio, input_references, n, resolution, seed)" \
        in text
    assert "'quality'" in text
    assert "at most 10 input reference" in text
    assert "streaming" in text


def test_models_from_endpoint_records_and_lenient_descriptors() -> None:
    info = ImageModelInfo.from_json({
        "id": "a/b", "endpoints": [
            {"supported_parameters": {"n": {"min": 1, "max": 4}, "aspect_ratio": ["1:1", "2:3"],
                                      "seed": True}, "supports_streaming": True}]})
    assert info.max_n == 4
    assert info.aspect_ratios == ("1:1", "2:3")
    assert info.supports_seed and info.supports_streaming
    assert info.parameter("n") is not None and info.parameter("n").allows(3)  # type: ignore[union-attr]
    assert not info.parameter("n").allows(True)  # type: ignore[union-attr]
    assert len(parse_image_models([{"id": "x/y"}])) == 1
    with pytest.raises(ResponseError):
        parse_image_models({"models": []})
