"""Black-box tests of the local server's dedicated Image API over real HTTP (raw ``requests``)."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image, ImageStat
from wire_helpers import raw_stream

from jupyter_imagegen import APIError, ImageDecodeError, NoImageError, ProviderError
from jupyter_imagegen._wire.dataurl import decode_data_url
from jupyter_imagegen._wire.images import (
    ImagesStreamAccumulator,
    images_pixel_size,
    parse_image_models,
    parse_images_response,
)
from jupyter_imagegen._wire.sse import SSEDecoder
from jupyter_imagegen.server import Fault, LocalServer

GEN_ID = re.compile(r"^gen-\d{10}-[A-Za-z0-9]{20}$")


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalServer]:
    with LocalServer(port=0, keepalive_interval=0.05) as server:
        yield server


def images(server: LocalServer, model: str = "offline/poster", prompt: str = "a red circle",
           stream: bool = False, **extra: Any) -> requests.Response:
    body: dict[str, Any] = {"model": model, "prompt": prompt, **extra}
    if stream:
        body["stream"] = True
    return requests.post(f"{server.base_url}/images", json=body, stream=stream, timeout=30)


def picture(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
    image.load()
    return image


def events(response: requests.Response) -> list[str]:
    """The ``data`` payloads of a stream (keep-alive comments dropped)."""
    decoder = SSEDecoder()
    found = []
    for piece in response.iter_content(chunk_size=None):
        found.extend(e.data for e in decoder.feed(piece) if not e.is_comment)
    return found


def png_url(colour: tuple[int, int, int], size: tuple[int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def ref(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


# -- non-streaming ------------------------------------------------------------------------------


def test_response_has_the_documented_shape(srv: LocalServer) -> None:
    r = images(srv, resolution="512")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert GEN_ID.match(r.headers["X-Generation-Id"])
    body = r.json()
    assert set(body) == {"created", "data", "usage"}
    assert isinstance(body["created"], int)
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens", "cost",
                                  "completion_tokens_details", "cost_details", "is_byok",
                                  "prompt_tokens_details"}  # as a recorded answer has them
    assert body["usage"]["cost"] == 0.04
    assert body["usage"]["total_tokens"] == (body["usage"]["prompt_tokens"]
                                             + body["usage"]["completion_tokens"])
    [item] = body["data"]
    assert item["media_type"] == "image/png"
    assert picture(item["b64_json"]).format == "PNG"
    c = parse_images_response(body, generation_id=r.headers["X-Generation-Id"])
    assert c.require_images().images[0].url.startswith("data:image/png;base64,")
    assert c.id == r.headers["X-Generation-Id"]


@pytest.mark.parametrize(("ratio", "resolution"), [
    ("1:1", "512"), ("16:9", "512"), ("9:16", "512"), ("21:9", "512"), ("1:4", "512"),
    ("8:1", "512"), ("9:19.5", "512"), ("4:3", "1K"), (None, None),
])
def test_pixel_sizes_follow_ratio_and_resolution(srv: LocalServer, ratio: str | None,
                                                 resolution: str | None) -> None:
    extra = {k: v for k, v in (("aspect_ratio", ratio), ("resolution", resolution)) if v}
    r = images(srv, "offline/poster", "a blue square", **extra)
    assert r.status_code == 200, r.text
    size = picture(r.json()["data"][0]["b64_json"]).size
    assert size == images_pixel_size(ratio, resolution)
    if ratio == "16:9":
        assert size == (672, 384)


def test_n_images_are_distinct_variations(srv: LocalServer) -> None:
    r = images(srv, "offline/quartet", "three yellow stars", n=5, resolution="512")
    data = r.json()["data"]
    assert len(data) == 5
    assert len({d["b64_json"] for d in data}) == 5
    assert all(picture(d["b64_json"]).size == (512, 512) for d in data)
    assert r.json()["usage"]["cost"] == pytest.approx(0.05)


def test_same_request_same_pixels_and_seed_changes_them(srv: LocalServer) -> None:
    one = images(srv, resolution="512", seed=1).json()["data"][0]["b64_json"]
    again = images(srv, resolution="512", seed=1).json()["data"][0]["b64_json"]
    other = images(srv, resolution="512", seed=2).json()["data"][0]["b64_json"]
    assert one == again != other


def test_output_formats(srv: LocalServer) -> None:
    photo = images(srv, "offline/photo", resolution="512").json()["data"][0]
    assert photo["media_type"] == "image/jpeg"
    assert picture(photo["b64_json"]).format == "JPEG"
    webp = images(srv, "offline/photo", resolution="512", output_format="webp").json()["data"][0]
    assert webp["media_type"] == "image/webp"
    assert picture(webp["b64_json"]).format == "WEBP"
    small = images(srv, "offline/photo", resolution="512", output_compression=5).json()["data"][0]
    assert len(small["b64_json"]) < len(photo["b64_json"])


def test_gpt_image_sizes_quality_and_transparency(srv: LocalServer) -> None:
    r = images(srv, "openai/gpt-image-1", "a green triangle", aspect_ratio="3:2", quality="low",
               background="transparent", seed=5)  # seed: ignored, this model has none
    assert r.status_code == 200, r.text
    image = picture(r.json()["data"][0]["b64_json"])
    assert image.size == images_pixel_size("3:2", "1K")  # the documented table; not OpenAI's 1536
    assert image.mode == "RGBA"
    low, high = image.getextrema()[3]
    assert (low, high) == (0, 255)  # a transparent background, opaque shapes
    sized = images(srv, "openai/gpt-image-1", "x", size="1024x1536")
    assert picture(sized.json()["data"][0]["b64_json"]).size == (1024, 1536)


def test_size_tier_and_explicit_pixels(srv: LocalServer) -> None:
    tier = images(srv, "offline/poster", size="512", aspect_ratio="16:9")
    assert picture(tier.json()["data"][0]["b64_json"]).size == (672, 384)
    exact = images(srv, "offline/poster", size="640x320")
    assert picture(exact.json()["data"][0]["b64_json"]).size == (640, 320)
    consistent = images(srv, "offline/poster", size="600x300", aspect_ratio="2:1",
                        resolution="512")
    assert consistent.status_code == 200, consistent.text


def test_input_references_edit_and_auto_ratio(srv: LocalServer) -> None:
    base = png_url((250, 10, 10), (640, 360))
    r = images(srv, "offline/editor", "a white star", input_references=[ref(base)],
               aspect_ratio="auto", resolution="512")
    assert r.status_code == 200, r.text
    image = picture(r.json()["data"][0]["b64_json"]).convert("RGB")
    assert image.size == images_pixel_size("16:9", "512")  # follows the reference
    red, green, _ = ImageStat.Stat(image.crop((0, 0, 40, 40))).mean
    assert red > 150 and green < 100  # drawn over the red reference
    assert r.json()["usage"]["prompt_tokens"] >= 258


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"model": "nope/model", "prompt": "x"}, 400, "not a valid model ID"),
    ({"model": "offline/chat", "prompt": "x"}, 400, "not a valid model ID"),
    ({"model": "offline/poster"}, 400, "'prompt' is required"),
    ({"model": "offline/poster", "prompt": "x", "n": 2}, 400, "at most 1 image"),
    ({"model": "offline/quartet", "prompt": "x", "n": 9}, 400, "at most 8 image"),
    ({"model": "offline/quartet", "prompt": "x", "n": 0}, 400, "n must be between"),
    ({"model": "offline/poster", "prompt": "x", "aspect_ratio": "7:3"}, 400, "21:9, auto"),
    ({"model": "offline/quartet", "prompt": "x", "resolution": "4K"}, 400, "512, 1K, 2K"),
    ({"model": "offline/poster", "prompt": "x", "output_format": "svg"}, 400, "png, webp"),
    ({"model": "offline/poster", "prompt": "x", "size": "1024x1024", "aspect_ratio": "16:9"},
     400, "conflicts with aspect_ratio"),
    ({"model": "offline/poster", "prompt": "x", "size": "2048x2048", "resolution": "1K"},
     400, "conflicts with resolution"),
    ({"model": "offline/poster", "prompt": "x", "size": "2K", "resolution": "1K"},
     400, "conflicts with resolution"),
    ({"model": "openai/gpt-image-1", "prompt": "x", "size": "800by800"}, 400, "WIDTHxHEIGHT"),
    ({"model": "offline/poster", "prompt": "x", "output_format": "gif"}, 400, "png, jpeg"),
    ({"model": "offline/poster", "prompt": "x", "size": "99999x10"}, 400, "out of range"),
    ({"model": "offline/poster", "prompt": "x", "input_references": [ref("data:,x")]},
     400, "maximum is 0"),
    ({"model": "offline/editor", "prompt": "x",
      "input_references": [ref(png_url((1, 2, 3), (8, 8)))] * 5}, 400, "maximum is 4"),
    ({"model": "offline/editor", "prompt": "x",
      "input_references": [ref("https://example.com/a.png")]}, 400, "cannot download"),
    ({"model": "openai/gpt-image-1", "prompt": "x", "quality": "ultra"}, 400, "low, medium"),
    ({"model": "sourceful/riverflow-v2.5-pro", "prompt": "x", "background": "transparent",
      "output_format": "jpeg"}, 400, "alpha-capable"),
    ({"model": "google/gemini-2.5-flash-image", "prompt": "x", "n": 2}, 400, "at most 1 image"),
    ({"model": "offline/poster", "prompt": "x", "seed": "7"}, 400, "seed must be an integer"),
])
def test_validation_errors(srv: LocalServer, body: dict[str, Any], status: int,
                           needle: str) -> None:
    r = requests.post(f"{srv.base_url}/images", json=body, timeout=30)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["code"] == status
    assert needle in err["message"]


def test_unknown_model_is_model_not_found(srv: LocalServer) -> None:
    err = images(srv, "nope/model").json()["error"]
    assert err["availability"]["code"] == "model_not_found"
    assert err["availability"]["requested_models"] == ["nope/model"]


def test_invalid_json_and_quality_ignored_where_unsupported(srv: LocalServer) -> None:
    r = requests.post(f"{srv.base_url}/images", data=b"{nope", timeout=30,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert images(srv, resolution="512", quality="high").status_code == 200


def test_images_need_the_key_when_the_server_has_one() -> None:
    with LocalServer(port=0, api_key="sk-or-v1-local") as server:
        assert images(server).status_code == 401
        r = requests.post(f"{server.base_url}/images", timeout=30,
                          json={"model": "offline/poster", "prompt": "x", "resolution": "512"},
                          headers={"Authorization": "Bearer sk-or-v1-local"})
        assert r.status_code == 200
        assert requests.get(f"{server.base_url}/images/models", timeout=30).status_code == 200


# -- streaming ----------------------------------------------------------------------------------


def test_stream_partials_before_completed_then_done(srv: LocalServer) -> None:
    r = images(srv, "openai/gpt-image-1", "two pink circles", stream=True, n=2)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/event-stream"
    gen_id = r.headers["X-Generation-Id"]
    data = events(r)
    assert data[-1] == "[DONE]"
    objs = [json.loads(d) for d in data[:-1]]
    assert [o["type"].rsplit(".", 1)[1] for o in objs] == [
        "partial_image", "partial_image", "completed", "partial_image", "partial_image",
        "completed"]
    assert [o["partial_image_index"] for o in objs if "partial_image_index" in o] == [0, 1, 0, 1]
    completed = [o for o in objs if o["type"] == "image_generation.completed"]
    assert "usage" not in completed[0]
    # recorded gpt-image-1 price lines: output_image 4e-05 USD per token x OpenAI's documented
    # 1056 tokens (medium, 1024x1024) per image, input_text 5e-06 per prompt token (4 characters)
    assert completed[1]["usage"]["cost"] == pytest.approx(2 * 1056 * 4e-05 + 5e-06 * 4)
    assert all(o["media_type"] == "image/png" and isinstance(o["created"], int)
               for o in completed)
    final = picture(completed[0]["b64_json"])
    first, second = (picture(o["b64_json"]) for o in objs[:2])
    assert first.size == second.size == final.size == (1024, 1024)

    def detail(image: Image.Image) -> float:
        grey = image.convert("L")
        return float(ImageStat.Stat(grey.resize((256, 256))).stddev[0]
                     + sum(1 for count in grey.histogram() if count))

    assert detail(first) < detail(final)  # partials are blurred previews

    acc = ImagesStreamAccumulator(generation_id=gen_id)
    updates = [acc.add_data(d) for d in data]
    assert [u.kind for u in updates].count("partial") == 4
    result = acc.result().require_images()
    assert [i.url for i in result.images] == [
        f"data:image/png;base64,{o['b64_json']}" for o in completed]
    assert result.usage.cost == pytest.approx(2 * 1056 * 4e-05, abs=1e-4)
    record = requests.get(f"{srv.base_url}/generation", params={"id": gen_id}, timeout=30)
    assert record.json()["data"]["streamed"] is True
    assert record.json()["data"]["num_media_completion"] == 2


def test_stream_partial_count_and_slow_keepalives(srv: LocalServer) -> None:
    srv.faults.push(Fault("slow", delay=0.2, path="/images"))
    r = images(srv, "offline/quartet", "a tree", stream=True, n=2, partial_images=0,
               resolution="512")
    blob = raw_stream(r)
    assert blob.count(b": OPENROUTER PROCESSING") >= 2
    data = [e.data for e in SSEDecoder().feed(blob) if not e.is_comment]
    assert data[-1] == "[DONE]"
    assert [json.loads(d)["type"] for d in data[:-1]] == ["image_generation.completed"] * 2


# -- listing and records -------------------------------------------------------------------------


def test_image_model_listing(srv: LocalServer) -> None:
    r = requests.get(f"{srv.base_url}/images/models", timeout=30)
    assert r.status_code == 200
    raw = {m["id"]: m for m in r.json()["data"]}
    assert {"offline/poster", "offline/quartet", "offline/editor", "offline/photo",
            "black-forest-labs/flux.2-pro", "openai/gpt-image-1",
            "bytedance-seed/seedream-4.5"} <= set(raw)
    gpt = raw["openai/gpt-image-1"]
    assert set(gpt) >= {"id", "name", "description", "created", "architecture",
                        "supported_parameters", "supports_streaming", "endpoints"}
    assert gpt["architecture"]["output_modalities"] == ["image"]
    assert gpt["supported_parameters"]["n"] == {"type": "range", "min": 1, "max": 10}
    assert "seed" not in gpt["supported_parameters"]
    assert "offline" in gpt["description"].lower() and "not the real model" in gpt["description"]
    models = {m.id: m for m in parse_image_models(r.json())}
    assert models["offline/quartet"].max_n == 8 and models["offline/quartet"].supports_streaming
    assert models["offline/editor"].max_input_references == 4
    assert models["offline/photo"].output_formats[0] == "jpeg"
    assert "9:19.5" in models["offline/poster"].aspect_ratios
    assert models["bytedance-seed/seedream-4.5"].resolutions == ("1K", "2K", "4K")
    assert models["black-forest-labs/flux.2-pro"].supports_seed
    endpoints = requests.get(f"{srv.base_url}{gpt['endpoints'][len('/api/v1'):]}",
                             timeout=30).json()
    assert endpoints["id"] == "openai/gpt-image-1"
    [endpoint] = endpoints["endpoints"]
    assert endpoint["supports_streaming"] is True
    assert {"billable": "output_image", "cost_usd": 4e-05, "unit": "token"} in endpoint["pricing"]
    assert endpoint["provider_slug"] == "openai"
    missing = requests.get(f"{srv.base_url}/images/models/no/such/endpoints", timeout=30)
    assert missing.status_code == 404


def test_listing_without_aliases_is_offline_only() -> None:
    with LocalServer(port=0, catalogue_aliases=False) as server:
        ids = {m["id"] for m in requests.get(f"{server.base_url}/images/models",
                                             timeout=30).json()["data"]}
    assert ids == {"offline/poster", "offline/quartet", "offline/editor", "offline/photo",
                   "offline/sketch", "offline/webp", "offline/thinker"}


def test_generation_record_is_an_image_generation(srv: LocalServer) -> None:
    r = images(srv, "offline/quartet", "a house", n=2, resolution="512")
    gen_id = r.headers["X-Generation-Id"]
    data = requests.get(f"{srv.base_url}/generation", params={"id": gen_id},
                        timeout=30).json()["data"]
    assert data["api_type"] == "image"
    assert data["model"] == "offline/quartet"
    assert data["num_media_completion"] == 2
    assert data["total_cost"] == pytest.approx(0.02)
    assert data["streamed"] is False
    assert srv.requests[-2].json["prompt"] == "a house"


# -- faults --------------------------------------------------------------------------------------


@pytest.fixture
def fresh() -> Iterator[LocalServer]:
    with LocalServer(port=0, keepalive_interval=0.05) as server:
        yield server


@pytest.mark.parametrize("status", [402, 429, 502, 503])
def test_status_faults_on_images(fresh: LocalServer, status: int) -> None:
    fresh.faults.push(Fault(str(status), path="/images", retry_after=1))
    r = images(fresh, resolution="512")
    assert r.status_code == status
    assert r.json()["error"]["code"] == status
    assert images(fresh, resolution="512").status_code == 200


def test_chat_faults_do_not_hit_images(fresh: LocalServer) -> None:
    fresh.faults.push(Fault("500"))  # default path: /chat/completions
    assert images(fresh, resolution="512").status_code == 200
    assert len(fresh.faults) == 1


def test_error_200_and_failed_generation(fresh: LocalServer) -> None:
    fresh.faults.push(Fault("error-200", path="/images"))
    r = images(fresh, resolution="512")
    assert r.status_code == 200
    with pytest.raises(ProviderError):
        parse_images_response(r.json(), status=200)
    fresh.faults.push(Fault("stream-error", path="/images"))
    failed = images(fresh, resolution="512")
    assert failed.status_code == 502
    assert len(fresh.generations) == 0  # failed generations are not billed


def test_no_image_and_bad_base64(fresh: LocalServer) -> None:
    fresh.faults.push(Fault("no-image", path="/images"))
    r = images(fresh, resolution="512")
    with pytest.raises(NoImageError):
        parse_images_response(r.json()).require_images()
    fresh.faults.push(Fault("bad-base64", path="/images"))
    c = parse_images_response(images(fresh, resolution="512").json())
    with pytest.raises(ImageDecodeError):
        decode_data_url(c.images[0].url)


def test_cut_response(fresh: LocalServer) -> None:
    fresh.faults.push(Fault("cut-stream", path="/images"))
    with pytest.raises(requests.exceptions.RequestException):
        images(fresh, resolution="512").json()


def test_stream_error_event(fresh: LocalServer) -> None:
    fresh.faults.push(Fault("stream-error", path="/images"))
    r = images(fresh, "offline/quartet", "a moon", stream=True, n=2, resolution="512")
    data = events(r)
    assert "[DONE]" not in data
    objs = [json.loads(d) for d in data]
    assert objs[0]["type"] == "image_generation.partial_image"
    # ImageGenStreamErrorEvent: {message, code (string|null), param, type}; the spec's example
    assert objs[-1] == {"type": "error", "error": {
        "message": "The upstream provider returned an error", "code": "upstream_error",
        "param": None, "type": "provider_error"}}
    acc = ImagesStreamAccumulator()
    for d in data[:-1]:
        acc.add_data(d)
    with pytest.raises(APIError):  # the client's mapping of type provider_error is its own
        acc.add_data(data[-1])
    assert len(fresh.generations) == 0


def test_stream_error_200_cut_and_bad_base64(fresh: LocalServer) -> None:
    fresh.faults.push(Fault("error-200", path="/images", code=429))
    data = events(images(fresh, "offline/quartet", stream=True, resolution="512"))
    assert len(data) == 1 and json.loads(data[0])["error"]["code"] == "429"  # string|null

    fresh.faults.push(Fault("cut-stream", path="/images"))
    r = images(fresh, "offline/quartet", stream=True, resolution="512")
    decoder = SSEDecoder()
    decoder.feed(raw_stream(r))
    assert decoder.pending  # ended in the middle of the completed event

    fresh.faults.push(Fault("bad-base64", path="/images"))
    acc = ImagesStreamAccumulator()
    for d in events(images(fresh, "offline/quartet", stream=True, resolution="512")):
        acc.add_data(d)
    with pytest.raises(ImageDecodeError):
        decode_data_url(acc.result().images[0].url)


def test_fault_over_http_admin_for_images(fresh: LocalServer) -> None:
    r = requests.post(f"{fresh.base_url}/_faults", json={"spec": "503,path=/images,times=2"},
                      timeout=30)
    assert r.status_code == 200
    assert [images(fresh, resolution="512").status_code for _ in range(3)] == [503, 503, 200]
