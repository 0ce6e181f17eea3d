"""The local server mirrors the real service: catalogue, routing between the two APIs, listings.

Every expectation about a real model below comes from the recorded captures the catalogue is
built from (see ``jupyter_imagegen/server/data/README.md``), checked over HTTP with ``requests``.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image, ImageChops, ImageStat

from jupyter_imagegen._wire.images import images_pixel_size
from jupyter_imagegen.server import LocalServer
from jupyter_imagegen.server._data import catalogue_data

DATA = catalogue_data()
REAL_CHAT = [m["id"] for m in DATA["models"]]
REAL_IMAGES = [m["id"] for m in DATA["image_models"]]
#: Listing entries built from recorded endpoints records (data/README.md says which fields).
FROM_RECORDS = [m["id"] for m in DATA["image_models_from_records"]]
REFUSED = DATA["image_api_only"]


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalServer]:
    with LocalServer(port=0) as server:
        yield server


def get(srv: LocalServer, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(f"{srv.base_url}{path}", timeout=30, **kwargs)


def chat(srv: LocalServer, model: str, modalities: list[str] | None = None,
         **extra: Any) -> requests.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "a red sun"}],
                            **extra}
    if modalities is not None:
        body["modalities"] = modalities
    return requests.post(f"{srv.base_url}/chat/completions", json=body, timeout=30)


def images(srv: LocalServer, model: str, **extra: Any) -> requests.Response:
    body = {"model": model, "prompt": "a red sun over blue mountains", **extra}
    return requests.post(f"{srv.base_url}/images", json=body, timeout=30)


def picture(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
    image.load()
    return image


# -- the catalogue ------------------------------------------------------------------------------


def test_at_least_twenty_real_image_models_are_served(srv: LocalServer) -> None:
    listed = {m["id"] for m in get(srv, "/models?output_modalities=image").json()["data"]}
    image_api = {m["id"] for m in get(srv, "/images/models").json()["data"]}
    real = (listed | image_api) - {i for i in listed | image_api if i.startswith("offline/")}
    assert len(real - {"openrouter/auto"}) >= 20
    assert set(REAL_CHAT) <= listed and set(REAL_IMAGES) <= image_api


def test_real_listing_entries_are_served_as_recorded(srv: LocalServer) -> None:
    served = {m["id"]: m for m in get(srv, "/models?output_modalities=image").json()["data"]}
    for recorded in DATA["models"]:
        entry = served[recorded["id"]]
        assert entry["description"].startswith(recorded["description"])
        assert "Offline stand-in" in entry["description"]
        assert {k: v for k, v in entry.items() if k != "description"} == \
            {k: v for k, v in recorded.items() if k != "description"}
    gemini = served["google/gemini-2.5-flash-image"]
    # the reference notes' recorded pricing for this model, key for key
    assert gemini["pricing"] == {
        "prompt": "0.0000003", "completion": "0.0000025", "image": "0.0000003",
        "audio": "0.000001", "web_search": "0.014", "internal_reasoning": "0.0000025",
        "input_cache_read": "0.00000003", "input_cache_write": "0.00000008333333333333334"}
    assert served["black-forest-labs/flux.2-pro"]["pricing"] == {"prompt": "0", "completion": "0"}
    assert served["black-forest-labs/flux.2-klein-4b"]["hugging_face_id"] == \
        "black-forest-labs/FLUX.2-klein-4B"
    assert all("image_output" not in m["pricing"] for m in served.values())


def test_image_api_listing_has_gemini_and_typed_descriptors(srv: LocalServer) -> None:
    served = {m["id"]: m for m in get(srv, "/images/models").json()["data"]}
    gemini = served["google/gemini-2.5-flash-image"]
    assert gemini["supported_parameters"]["input_references"] == {"max": 3, "min": 0,
                                                                   "type": "range"}
    assert "resolution" not in gemini["supported_parameters"]
    assert served["bytedance-seed/seedream-4.5"]["supported_parameters"]["seed"] == \
        {"type": "boolean"}
    streaming = {i for i, m in served.items() if m["supports_streaming"]}
    assert {i for i in streaming if not i.startswith("offline/")} == \
        {i for i in served if i.startswith("openai/")}


def test_image_endpoints_records_carry_the_recorded_price_lines(srv: LocalServer) -> None:
    qwen = get(srv, "/images/models/qwen/qwen-image-3/endpoints").json()
    [endpoint] = qwen["endpoints"]
    assert endpoint["provider_slug"] == "alibaba"
    assert endpoint["pricing"] == [
        {"billable": "input_image", "cost_usd": 0.003, "unit": "image"},
        {"billable": "output_image", "cost_usd": 0.03, "unit": "image", "variant": "1k"},
        {"billable": "output_image", "cost_usd": 0.03, "unit": "image", "variant": "2k"}]
    gemini = get(srv, "/images/models/google/gemini-2.5-flash-image/endpoints").json()
    assert [e["provider_slug"] for e in gemini["endpoints"]] == ["google-ai-studio",
                                                                 "google-vertex/global"]
    for model_id in REAL_IMAGES + FROM_RECORDS:
        record = get(srv, f"/images/models/{model_id}/endpoints").json()
        assert record["id"] == model_id
        # the one recorded record that lists no endpoint is served as recorded
        assert bool(record["endpoints"]) == (model_id != "meta/muse-image")
    assert get(srv, "/images/models/meta/muse-image/endpoints").json() == {
        "endpoints": [], "id": "meta/muse-image"}


# -- listings: pagination, count, user, endpoints -------------------------------------------------


def test_models_pagination_follows_links_next(srv: LocalServer) -> None:
    full = get(srv, "/models?output_modalities=all").json()
    assert full["links"] == {"next": None} and full["total_count"] == len(full["data"])
    seen: list[str] = []
    path: str | None = "/models?output_modalities=all&offset=0&limit=7"
    while path is not None:
        page = get(srv, path).json()
        assert len(page["data"]) <= 7 and page["total_count"] == len(full["data"])
        seen += [m["id"] for m in page["data"]]
        following = page["links"]["next"]
        path = following[len("/api/v1"):] if following else None
    assert seen == [m["id"] for m in full["data"]]
    assert len(get(srv, "/models?output_modalities=all&offset=3").json()["data"]) == \
        min(500, len(full["data"]) - 3)  # limit defaults to 500
    for bad in ("limit=1001", "limit=0", "offset=-1", "limit=ten"):
        assert get(srv, f"/models?{bad}").status_code == 400


def test_models_count_and_user(srv: LocalServer) -> None:
    for query in ("", "?output_modalities=image", "?output_modalities=all"):
        count = get(srv, f"/models/count{query}").json()
        assert count == {"data": {"count": get(srv, f"/models{query}").json()["total_count"]}}
    assert get(srv, "/models/count").json()["data"]["count"] < \
        get(srv, "/models/count?output_modalities=all").json()["data"]["count"]
    assert get(srv, "/models/user").json()["data"] == get(srv, "/models").json()["data"]
    with LocalServer(api_key="sk-or-v1-test") as keyed:
        assert requests.get(f"{keyed.base_url}/models/user", timeout=30).status_code == 401
        ok = requests.get(f"{keyed.base_url}/models/user", timeout=30,
                          headers={"Authorization": "Bearer sk-or-v1-test"})
        assert ok.status_code == 200


def test_every_links_details_resolves(srv: LocalServer) -> None:
    for model in get(srv, "/models?output_modalities=all").json()["data"]:
        r = get(srv, model["links"]["details"][len("/api/v1"):])
        assert r.status_code == 200, model["links"]["details"]
        data = r.json()["data"]
        assert data["id"] == model["id"] and data["endpoints"]
        assert {"provider_name", "tag", "pricing", "context_length", "supported_parameters",
                "uptime_last_30m", "latency_last_30m"} <= set(data["endpoints"][0])
    gemini = get(srv, "/models/google/gemini-2.5-flash-image/endpoints").json()["data"]
    assert gemini["endpoints"][0]["provider_name"] == "Google AI Studio"
    assert get(srv, "/models/no/such/endpoints").status_code == 404


# -- which API serves which model ------------------------------------------------------------------


@pytest.mark.parametrize("model", REFUSED)
def test_image_api_only_models_are_refused_on_chat(srv: LocalServer, model: str) -> None:
    r = chat(srv, model, ["image"])
    assert r.status_code == 404
    assert r.json() == {"error": {"code": 404, "message": (
        f"{model} is an image generation model and cannot be used with the chat/completions "
        "endpoint. Use the /api/v1/images endpoint instead.")}}
    assert images(srv, model).status_code == 200


def test_gpt_image_2_is_listed_but_refused_on_chat(srv: LocalServer) -> None:
    listed = {m["id"] for m in get(srv, "/models?output_modalities=image").json()["data"]}
    assert "openai/gpt-image-2" in listed
    assert chat(srv, "openai/gpt-image-2", ["image"]).status_code == 404


def test_wrong_modalities_get_the_real_404(srv: LocalServer) -> None:
    r = chat(srv, "recraft/recraft-v3", ["image", "text"])
    assert r.status_code == 404
    assert r.json()["error"]["message"] == \
        "No endpoints found that support the requested output modalities: image, text"
    assert chat(srv, "recraft/recraft-v3", ["image"]).status_code == 200
    assert chat(srv, "google/gemini-2.5-flash-image", ["image", "text"]).status_code == 200
    assert chat(srv, "offline/sketch", ["image", "text"]).status_code == 200


def test_models_that_cannot_stream_answer_in_one_piece(srv: LocalServer) -> None:
    r = images(srv, "google/gemini-2.5-flash-image", stream=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert len(r.json()["data"]) == 1
    streamed = requests.post(f"{srv.base_url}/images", timeout=30, stream=True,
                             json={"model": "openai/gpt-image-1", "prompt": "x", "stream": True})
    assert streamed.headers["Content-Type"] == "text/event-stream"
    assert b"image_generation.completed" in b"".join(streamed.iter_content(None))


def test_ratios_follow_each_models_listing(srv: LocalServer) -> None:
    tall = images(srv, "bytedance-seed/seedream-4.5", aspect_ratio="9:19.5").json()["data"][0]
    assert picture(tall["b64_json"]).size == images_pixel_size("9:19.5", "1K")
    # documented but not listed for Gemini 2.5: clamped to the closest listed ratio (9:16)
    clamped = images(srv, "google/gemini-2.5-flash-image", aspect_ratio="9:19.5").json()
    assert picture(clamped["data"][0]["b64_json"]).size == images_pixel_size("9:16", "1K")
    assert images(srv, "google/gemini-2.5-flash-image", aspect_ratio="7:5").status_code == 400
    # resolution is not listed for Gemini 2.5: ignored (about 1K), as unlisted parameters are
    ignored = images(srv, "google/gemini-2.5-flash-image", resolution="4K").json()["data"][0]
    assert picture(ignored["b64_json"]).size == (1024, 1024)
    assert images(srv, "qwen/qwen-image-3", resolution="4K").status_code == 400


def test_default_formats(srv: LocalServer) -> None:
    recraft = images(srv, "recraft/recraft-v3").json()["data"][0]
    assert recraft["media_type"] == "image/webp" and picture(recraft["b64_json"]).format == "WEBP"
    fast = images(srv, "sourceful/riverflow-v2.5-fast").json()["data"][0]
    assert fast["media_type"] == "image/jpeg"
    flux = images(srv, "black-forest-labs/flux.2-pro", output_format="jpeg").json()["data"][0]
    assert flux["media_type"] == "image/jpeg"


def test_costs_follow_the_recorded_price_lines(srv: LocalServer) -> None:
    body = chat(srv, "google/gemini-2.5-flash-image", ["image", "text"]).json()
    usage = body["usage"]
    text = usage["completion_tokens"] - 1290
    expected = usage["prompt_tokens"] * 3e-07 + text * 2.5e-06 + 1290 * 3e-05
    assert usage["cost"] == pytest.approx(expected)
    assert usage["cost"] == pytest.approx(0.0387, abs=0.0005)  # the recorded 1K answer: 0.0387036
    qwen = images(srv, "qwen/qwen-image-3").json()["usage"]
    assert qwen["cost"] == pytest.approx(0.03)  # as the recorded qwen-image-3 1K answer billed
    # the recorded answer's usage keys (openrouter_image_generate_1K.json)
    assert set(qwen) == {"completion_tokens", "completion_tokens_details", "cost", "cost_details",
                         "is_byok", "prompt_tokens", "prompt_tokens_details", "total_tokens"}
    assert set(qwen["cost_details"]) == {"upstream_inference_completions_cost",
                                         "upstream_inference_cost",
                                         "upstream_inference_prompt_cost"}
    flux = images(srv, "black-forest-labs/flux.2-pro", aspect_ratio="16:9").json()
    width, height = images_pixel_size("16:9", "1K")
    assert flux["usage"]["cost"] == pytest.approx(0.03 * width * height / 1e6)


# -- offline models worth comparing -----------------------------------------------------------------


def _chat_picture(srv: LocalServer, model: str, prompt: str) -> Image.Image:
    modalities = ["image"] if model == "offline/poster" else ["image", "text"]
    body = {"model": model, "messages": [{"role": "user", "content": prompt}],
            "modalities": modalities, "seed": 7}  # one seed: only the model's style differs
    r = requests.post(f"{srv.base_url}/chat/completions", json=body, timeout=30)
    url = r.json()["choices"][0]["message"]["images"][0]["image_url"]["url"]
    return picture(url.partition(",")[2]).convert("RGB")


def test_offline_models_draw_the_same_prompt_differently(srv: LocalServer) -> None:
    prompt = "a red sun over blue mountains and three green trees"
    models = ["offline/sketch", "offline/poster", "offline/photo", "offline/webp"]
    pictures = {m: _chat_picture(srv, m, prompt) for m in models}
    for i, a in enumerate(models):
        for b in models[i + 1:]:
            diff = ImageStat.Stat(ImageChops.difference(pictures[a], pictures[b])).mean
            assert sum(diff) / 3 > 12, (a, b, diff)
    again = _chat_picture(srv, "offline/poster", prompt)
    assert ImageChops.difference(again, pictures["offline/poster"]).getbbox() is None
    poster_tones = pictures["offline/poster"].getcolors(1 << 16)
    assert poster_tones is not None and len(poster_tones) < 600  # flat fills, few tones
    photo_tones = pictures["offline/photo"].getcolors(1 << 20)
    assert photo_tones is not None and len(photo_tones) > 20 * len(poster_tones)  # gradients, grain
    red = ImageStat.Stat(_chat_picture(srv, "offline/sketch", "red")).mean
    assert red[0] > red[2] + 40  # colour words still drive the sketch's wash


def test_offline_listing_says_procedural_and_simulated(srv: LocalServer) -> None:
    data = get(srv, "/models?output_modalities=all").json()["data"]
    for model in data:
        if model["id"].startswith("offline/"):
            assert "not a neural model" in model["description"]
            assert "simulated" in model["description"].lower()
    listing = json.dumps(get(srv, "/images/models").json())
    assert listing.count("Offline stand-in") == len(REAL_IMAGES) + len(FROM_RECORDS)


def test_chat_accepts_a_models_listed_extended_ratios(srv: LocalServer) -> None:
    body = chat(srv, "google/gemini-3.1-flash-image-preview", ["image", "text"],
                image_config={"aspect_ratio": "1:4", "image_size": "0.5K"}).json()
    url = body["choices"][0]["message"]["images"][0]["image_url"]["url"]
    assert picture(url.partition(",")[2]).size == images_pixel_size("1:4", "512")
    refused = chat(srv, "google/gemini-2.5-flash-image", ["image", "text"],
                   image_config={"aspect_ratio": "1:4"})
    assert refused.status_code == 400  # not listed for Gemini 2.5
