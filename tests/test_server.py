"""Black-box tests of the local OpenRouter-compatible server over real HTTP (raw ``requests``)."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from PIL import Image, ImageStat

from jupyter_imagegen import ASPECT_RATIOS
from jupyter_imagegen._wire.chat import StreamAccumulator, parse_chat_completion
from jupyter_imagegen._wire.sse import SSEDecoder, SSEEvent
from jupyter_imagegen.server import LocalServer

GEN_ID = re.compile(r"^gen-\d{10}-[A-Za-z0-9]{20}$")


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalServer]:
    with LocalServer(port=0, keepalive_interval=0.05) as server:
        yield server


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def chat(srv: LocalServer, http: requests.Session, prompt: str = "a red circle",
         model: str = "offline/sketch", modalities: list[str] | None = None, **extra: Any
         ) -> requests.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    body["modalities"] = ["image", "text"] if modalities is None else modalities
    if body["modalities"] == []:
        del body["modalities"]
    body.update(extra)
    return http.post(f"{srv.base_url}/chat/completions", json=body, timeout=30)


def decode(url: str) -> Image.Image:
    header, _, payload = url.partition(",")
    assert header.endswith(";base64")
    image = Image.open(io.BytesIO(base64.b64decode(payload, validate=True)))
    image.load()
    return image


def first_image(response: requests.Response) -> Image.Image:
    return decode(response.json()["choices"][0]["message"]["images"][0]["image_url"]["url"])


def sse(response: requests.Response) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for piece in response.iter_content(chunk_size=None):
        events.extend(decoder.feed(piece))
    assert not decoder.pending
    return events


# -- chat/completions, non-streaming ------------------------------------------------------------


def test_completion_has_the_documented_shape(srv: LocalServer, http: requests.Session) -> None:
    r = chat(srv, http, "a red circle above blue waves")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert int(r.headers["Content-Length"]) == len(r.content)
    body = r.json()
    assert GEN_ID.match(body["id"])
    assert r.headers["X-Generation-Id"] == body["id"]
    assert body["object"] == "chat.completion"
    assert body["model"] == "offline/sketch"
    assert body["provider"] == "jupyter-imagegen offline"
    assert "system_fingerprint" in body
    assert body["system_fingerprint"] is None
    assert isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["native_finish_reason"] == "STOP"
    assert choice["logprobs"] is None
    assert choice["index"] == 0
    message = choice["message"]
    assert message["role"] == "assistant"
    assert message["refusal"] is None
    assert message["content"].startswith("Here is")
    assert "reasoning" in message
    assert message["reasoning"] is None
    (item,) = message["images"]
    assert item["type"] == "image_url"
    assert item["index"] == 0
    assert item["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens_details"]["image_tokens"] == 1290
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    assert usage["is_byok"] is False
    assert set(usage["prompt_tokens_details"]) == {"cached_tokens", "audio_tokens", "video_tokens"}
    details = usage["cost_details"]
    assert details["upstream_inference_cost"] is None
    assert usage["cost"] == pytest.approx(details["upstream_inference_prompt_cost"]
                                          + details["upstream_inference_completions_cost"])
    assert usage["cost"] > 0.039  # one image at the simulated $0.039 plus tokens
    parsed = parse_chat_completion(body)
    assert len(parsed.images) == 1
    assert parsed.usage.image_tokens == 1290


def test_default_image_is_1024_square_png(srv: LocalServer, http: requests.Session) -> None:
    image = first_image(chat(srv, http, "a green triangle"))
    assert image.format == "PNG"
    assert image.mode == "RGB"
    assert image.size == (1024, 1024)


@pytest.mark.parametrize("ratio", list(ASPECT_RATIOS))
def test_aspect_ratios_give_documented_sizes(srv: LocalServer, http: requests.Session,
                                             ratio: str) -> None:
    r = chat(srv, http, "a yellow star", image_config={"aspect_ratio": ratio})
    assert first_image(r).size == ASPECT_RATIOS[ratio]


@pytest.mark.parametrize(("size", "scale"), [("0.5K", 0.5), ("2K", 2)])
def test_image_size_scales(srv: LocalServer, http: requests.Session, size: str,
                           scale: float) -> None:
    r = chat(srv, http, "a pink moon", image_config={"aspect_ratio": "16:9", "image_size": size})
    assert first_image(r).size == (round(1344 * scale), round(768 * scale))


def test_colour_words_drive_the_pixels(srv: LocalServer, http: requests.Session) -> None:
    red = ImageStat.Stat(first_image(chat(srv, http, "red", seed=1))).mean
    blue = ImageStat.Stat(first_image(chat(srv, http, "blue", seed=1))).mean
    assert red[0] > red[2] + 60
    assert blue[2] > blue[0] + 60


def test_shape_words_and_counts_change_the_image(srv: LocalServer, http: requests.Session) -> None:
    one = first_image(chat(srv, http, "one white circle on black", seed=5)).convert("L")
    five = first_image(chat(srv, http, "five white circles on black", seed=5)).convert("L")
    assert one.tobytes() != five.tobytes()
    plain = first_image(chat(srv, http, "white on black", seed=5)).convert("L")
    assert ImageStat.Stat(one).mean[0] > ImageStat.Stat(plain).mean[0]


def test_same_seed_is_deterministic_other_seed_differs(srv: LocalServer,
                                                       http: requests.Session) -> None:
    a = first_image(chat(srv, http, "three stars", seed=42)).tobytes()
    srv.cache.clear()  # render again, not served from the cache
    b = first_image(chat(srv, http, "three stars", seed=42)).tobytes()
    c = first_image(chat(srv, http, "three stars", seed=43)).tobytes()
    d = first_image(chat(srv, http, "three stars")).tobytes()
    e = first_image(chat(srv, http, "three stars")).tobytes()
    assert a == b
    assert a != c
    assert d != e  # no seed: the server picks a fresh one, so a repeat is a new picture (as online)


def test_modalities_image_only_gives_empty_content(srv: LocalServer,
                                                   http: requests.Session) -> None:
    body = chat(srv, http, "a square", modalities=["image"]).json()
    assert body["choices"][0]["message"]["content"] == ""
    assert len(body["choices"][0]["message"]["images"]) == 1


def test_missing_modalities_answers_text_only(srv: LocalServer, http: requests.Session) -> None:
    r = chat(srv, http, "a red circle", modalities=[])
    assert r.status_code == 200
    message = r.json()["choices"][0]["message"]
    assert "images" not in message
    assert "modalities" in message["content"]
    assert r.json()["usage"]["completion_tokens_details"]["image_tokens"] == 0


@pytest.mark.parametrize(("model", "fmt", "mime"), [("offline/photo", "JPEG", "image/jpeg"),
                                                    ("offline/webp", "WEBP", "image/webp")])
def test_jpeg_and_webp_models(srv: LocalServer, http: requests.Session, model: str, fmt: str,
                              mime: str) -> None:
    r = chat(srv, http, "an orange sun", model=model)
    url = r.json()["choices"][0]["message"]["images"][0]["image_url"]["url"]
    assert url.startswith(f"data:{mime};base64,")
    assert decode(url).format == fmt


def test_poster_is_image_only(srv: LocalServer, http: requests.Session) -> None:
    r = chat(srv, http, "a poster", model="offline/poster", modalities=["image"])
    message = r.json()["choices"][0]["message"]
    assert message["content"] == ""
    assert len(message["images"]) == 1


def test_quartet_returns_four_distinct_images(srv: LocalServer, http: requests.Session) -> None:
    r = chat(srv, http, "a tree", model="offline/quartet")
    items = r.json()["choices"][0]["message"]["images"]
    assert [i["index"] for i in items] == [0, 1, 2, 3]
    pixels = {decode(i["image_url"]["url"]).tobytes() for i in items}
    assert len(pixels) == 4
    assert r.json()["usage"]["completion_tokens_details"]["image_tokens"] == 4 * 1290


def test_thinker_returns_reasoning(srv: LocalServer, http: requests.Session) -> None:
    body = chat(srv, http, "two blue squares", model="offline/thinker").json()
    reasoning = body["choices"][0]["message"]["reasoning"]
    assert "2 squares" in reasoning
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def _half_black_half_white() -> str:
    image = Image.new("RGB", (400, 200), (0, 0, 0))
    image.paste((255, 255, 255), (200, 0, 400, 200))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _with_image(model: str, prompt: str, **extra: Any) -> dict[str, Any]:
    content = [{"type": "text", "text": prompt},
               {"type": "image_url", "image_url": {"url": _half_black_half_white()}}]
    return {"model": model, "messages": [{"role": "user", "content": content}],
            "modalities": ["image", "text"], **extra}


def test_editor_output_is_derived_from_the_input(srv: LocalServer, http: requests.Session) -> None:
    r = http.post(f"{srv.base_url}/chat/completions", json=_with_image("offline/editor", "edit"))
    assert r.status_code == 200
    image = first_image(r)
    assert image.size == ASPECT_RATIOS["16:9"]  # closest documented ratio to the 2:1 input
    gray = image.convert("L")
    w, h = gray.size
    left = ImageStat.Stat(gray.crop((0, 0, w // 4, h // 2))).mean[0]
    right = ImageStat.Stat(gray.crop((3 * w // 4, 0, w, h // 2))).mean[0]
    assert right - left > 150  # the input's black and white halves survive the edit


def test_editor_tints_by_colour_words(srv: LocalServer, http: requests.Session) -> None:
    body = _with_image("offline/editor", "make it red", image_config={"aspect_ratio": "1:1"})
    image = first_image(http.post(f"{srv.base_url}/chat/completions", json=body))
    r, g, b = ImageStat.Stat(image.crop((600, 0, 1024, 300))).mean
    assert r > g + 40
    assert r > b + 40


def test_model_without_image_input_rejects_input_images(srv: LocalServer,
                                                        http: requests.Session) -> None:
    r = http.post(f"{srv.base_url}/chat/completions", json=_with_image("offline/quartet", "x"))
    assert r.status_code == 404
    assert r.json() == {"error": {"code": 404,
                                  "message": "No endpoints found that support image input"}}


def test_remote_input_url_is_refused_offline(srv: LocalServer, http: requests.Session) -> None:
    content = [{"type": "text", "text": "x"},
               {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]
    body = {"model": "offline/editor", "messages": [{"role": "user", "content": content}],
            "modalities": ["image", "text"]}
    r = http.post(f"{srv.base_url}/chat/completions", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["metadata"]["error_type"] == "image_download_failed"


def test_router_resolves_to_a_real_model(srv: LocalServer, http: requests.Session) -> None:
    body = chat(srv, http, "a star", model="openrouter/auto").json()
    assert body["model"] == "offline/sketch"


def test_catalogue_alias_serves_real_ids(srv: LocalServer, http: requests.Session) -> None:
    r = chat(srv, http, "a moon", model="google/gemini-3-pro-image-preview",
             image_config={"image_size": "2K"})
    assert first_image(r).size == (2048, 2048)
    assert r.json()["choices"][0]["message"]["reasoning"]


# -- validation ---------------------------------------------------------------------------------


def _post(srv: LocalServer, http: requests.Session, body: Any) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(f"{srv.base_url}/chat/completions", data=data,
                     headers={"Content-Type": "application/json"})


def _error(r: requests.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/json"
    err = r.json()["error"]
    assert err["code"] == status
    assert isinstance(err["message"], str)
    return dict(err)


MSG = [{"role": "user", "content": "hi"}]


def test_malformed_json(srv: LocalServer, http: requests.Session) -> None:
    assert "Invalid JSON" in _error(_post(srv, http, b"{not json"), 400)["message"]


@pytest.mark.parametrize("body", [{"messages": MSG}, {"model": "offline/sketch"},
                                  {"model": "offline/sketch", "messages": []}, [1, 2]])
def test_missing_fields(srv: LocalServer, http: requests.Session, body: Any) -> None:
    _error(_post(srv, http, body), 400)


def test_unknown_model(srv: LocalServer, http: requests.Session) -> None:
    err = _error(_post(srv, http, {"model": "offline/nope", "messages": MSG}), 400)
    assert err["message"] == "offline/nope is not a valid model ID"
    # the docs' model_not_found availability object (errors-and-debugging, c26125a5)
    assert err["availability"] == {"code": "model_not_found", "retryable": False,
                                   "requested_models": ["offline/nope"],
                                   "docs_url": "https://openrouter.ai/docs/errors#model_not_found"}


def test_text_model_asked_for_images(srv: LocalServer, http: requests.Session) -> None:
    r = chat(srv, http, "x", model="offline/chat")
    err = _error(r, 404)
    assert err["message"] == ("No endpoints found that support the requested output "
                              "modalities: image, text")
    ok = chat(srv, http, "x", model="offline/chat", modalities=[])
    assert ok.status_code == 200
    assert "text-only" in ok.json()["choices"][0]["message"]["content"]


@pytest.mark.parametrize(("modalities", "named"), [(["image", "text"], "image, text"),
                                                   ([], "text")])
def test_image_only_model_needs_image_modality(srv: LocalServer, http: requests.Session,
                                               modalities: list[str], named: str) -> None:
    err = _error(chat(srv, http, "x", model="black-forest-labs/flux.2-pro",
                      modalities=modalities), 404)
    assert err["message"].endswith(f"output modalities: {named}")


@pytest.mark.parametrize("modalities", [["picture"], "image", []])
def test_bad_modalities(srv: LocalServer, http: requests.Session, modalities: Any) -> None:
    body = {"model": "offline/sketch", "messages": MSG, "modalities": modalities}
    assert "modalities" in _error(_post(srv, http, body), 400)["message"]


def test_bad_image_config(srv: LocalServer, http: requests.Session) -> None:
    err = _error(chat(srv, http, "x", image_config={"aspect_ratio": "7:5"}), 400)
    assert "16:9" in err["message"]
    assert "21:9" in err["message"]
    err = _error(chat(srv, http, "x", image_config={"image_size": "8K"}), 400)
    assert "1K, 2K, 4K" in err["message"]
    err = _error(chat(srv, http, "x", model="google/gemini-2.5-flash-image",
                      image_config={"image_size": "4K"}), 400)
    assert "does not support" in err["message"]
    _error(chat(srv, http, "x", image_config="16:9"), 400)


def test_bad_seed_and_stream(srv: LocalServer, http: requests.Session) -> None:
    _error(chat(srv, http, "x", seed="7"), 400)
    _error(chat(srv, http, "x", stream="yes"), 400)


def test_oversized_body_is_413() -> None:
    with LocalServer(max_body_bytes=1000) as small:
        r = requests.post(f"{small.base_url}/chat/completions", data=b"x" * 5000, timeout=10)
        err = _error(r, 413)
        assert "5000" in err["message"]


def test_unknown_paths_are_404(srv: LocalServer, http: requests.Session) -> None:
    _error(http.get(f"{srv.base_url}/nothing/here"), 404)
    _error(http.get(f"{srv.url}/v1/models"), 404)
    _error(http.get(f"{srv.base_url}/chat/completions"), 404)


# -- auth ---------------------------------------------------------------------------------------


def test_api_key_checking() -> None:
    with LocalServer(api_key="sk-or-v1-right") as keyed:
        url = f"{keyed.base_url}/chat/completions"
        body = {"model": "offline/sketch", "messages": MSG, "modalities": ["image", "text"]}
        r = requests.post(url, json=body, timeout=10)
        assert r.status_code == 401
        assert r.json() == {"error": {"code": 401, "message": "No auth credentials found"}}
        r = requests.post(url, json=body, headers={"Authorization": "Bearer sk-or-v1-wrong"})
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "User not found."
        r = requests.post(url, json=body, headers={"Authorization": "Bearer sk-or-v1-right"})
        assert r.status_code == 200
        assert requests.get(f"{keyed.base_url}/models", timeout=10).status_code == 200
        assert requests.get(f"{keyed.base_url}/key", timeout=10).status_code == 401
        assert "sk-or-v1-right" not in repr(keyed.requests[-1])
        assert keyed.requests[-3].header("authorization") == "Bearer sk-or-v1-right"


# -- streaming ----------------------------------------------------------------------------------


def _stream(srv: LocalServer, http: requests.Session, prompt: str = "a red circle",
            model: str = "offline/sketch", **extra: Any) -> tuple[requests.Response,
                                                                    list[SSEEvent]]:
    r = chat(srv, http, prompt, model=model, stream=True, **extra)
    return r, sse(r)


def test_stream_framing(srv: LocalServer, http: requests.Session) -> None:
    r, events = _stream(srv, http, "one red circle")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/event-stream"
    assert r.headers["Transfer-Encoding"] == "chunked"
    assert GEN_ID.match(r.headers["X-Generation-Id"])
    assert events[0].comment == "OPENROUTER PROCESSING"
    data = [e.data for e in events if not e.is_comment]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["id"] for c in chunks} == {r.headers["X-Generation-Id"]}
    # optional *string* on ChatStreamChunk: omitted, never null (@openrouter/sdk rejects null)
    assert all("system_fingerprint" not in c and c["provider"] for c in chunks)
    assert not [d for d in data if "system_fingerprint" in d]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text_chunks = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(text_chunks) >= 2
    image_events = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("images")]
    assert len(image_events) == 1
    (item,) = image_events[0]["choices"][0]["delta"]["images"]
    assert decode(item["image_url"]["url"]).size == (1024, 1024)
    finish = chunks[-2]["choices"][0]
    assert finish["finish_reason"] == "stop"
    assert finish["native_finish_reason"] == "STOP"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["cost"] > 0
    assert all("usage" not in c for c in chunks[:-1])
    acc = StreamAccumulator()
    for d in data:
        acc.add_data(d)
    result = acc.result()
    assert acc.done
    assert len(result.images) == 1
    assert result.text.startswith("Here is")


def test_stream_quartet_sends_each_image_whole(srv: LocalServer, http: requests.Session) -> None:
    _, events = _stream(srv, http, "a house", model="offline/quartet")
    chunks = [json.loads(e.data) for e in events if e.data and e.data != "[DONE]"]
    images = [c["choices"][0]["delta"]["images"] for c in chunks
              if c["choices"] and "images" in c["choices"][0]["delta"]]
    assert [len(i) for i in images] == [1, 1, 1, 1]
    assert [i[0]["index"] for i in images] == [0, 1, 2, 3]


def test_stream_reasoning_comes_before_the_image(srv: LocalServer,
                                                 http: requests.Session) -> None:
    _, events = _stream(srv, http, "a star", model="offline/thinker")
    deltas = [json.loads(e.data)["choices"][0]["delta"] for e in events
              if e.data and e.data != "[DONE]" and json.loads(e.data)["choices"]]
    kinds = ["reasoning" if d.get("reasoning") else "image" if d.get("images") else "other"
             for d in deltas]
    assert kinds.count("reasoning") >= 2
    assert max(i for i, k in enumerate(kinds) if k == "reasoning") < kinds.index("image")


def test_latency_sends_keepalives() -> None:
    with LocalServer(latency=0.3, keepalive_interval=0.05) as slow:
        body = {"model": "offline/sketch", "messages": MSG, "modalities": ["image", "text"],
                "stream": True}
        r = requests.post(f"{slow.base_url}/chat/completions", json=body, stream=True, timeout=10)
        events = sse(r)
        keepalives = [e for e in events if e.is_comment]
        first_data = next(i for i, e in enumerate(events) if not e.is_comment)
        assert len(keepalives) >= 4
        assert first_data >= 4


# -- other endpoints ----------------------------------------------------------------------------


def test_models_listing_default_is_text_output(srv: LocalServer, http: requests.Session) -> None:
    body = http.get(f"{srv.base_url}/models").json()
    ids = [m["id"] for m in body["data"]]
    assert body["total_count"] == len(ids)
    assert body["links"] == {"next": None}
    assert "offline/sketch" in ids
    assert "offline/chat" in ids
    assert "openrouter/auto" in ids
    assert "offline/poster" not in ids
    assert "black-forest-labs/flux.2-pro" not in ids


def test_models_listing_filters(srv: LocalServer, http: requests.Session) -> None:
    def ids(query: str) -> set[str]:
        return {m["id"] for m in http.get(f"{srv.base_url}/models?{query}").json()["data"]}

    image = ids("output_modalities=image")
    assert "offline/poster" in image
    assert "offline/chat" not in image
    assert ids("output_modalities=all") == set(srv.catalogue)
    assert ids("output_modalities=text,image") == set(srv.catalogue)
    assert ids("input_modalities=image") >= {"offline/editor", "offline/sketch"}
    assert "offline/quartet" not in ids("input_modalities=image")


def test_model_objects_have_the_documented_fields(srv: LocalServer,
                                                  http: requests.Session) -> None:
    data = http.get(f"{srv.base_url}/models?output_modalities=all").json()["data"]
    by_id = {m["id"]: m for m in data}
    for model in data:
        assert {"id", "canonical_slug", "name", "created", "description", "context_length",
                "architecture", "pricing", "top_provider", "per_request_limits",
                "supported_parameters", "default_parameters", "expiration_date"} <= set(model)
        assert {"modality", "input_modalities", "output_modalities", "tokenizer",
                "instruct_type"} <= set(model["architecture"])
        assert all(isinstance(v, str) for v in model["pricing"].values())
        assert "image_output" not in model["pricing"]  # no real image model has it
    sketch = by_id["offline/sketch"]
    assert sketch["architecture"]["output_modalities"] == ["image", "text"]
    assert set(sketch["pricing"]) == {"prompt", "completion", "image"}
    assert "not a neural model" in sketch["description"]
    assert "simulated" in sketch["description"]
    assert by_id["offline/poster"]["architecture"]["output_modalities"] == ["image"]
    assert "image" in by_id["openrouter/auto"]["architecture"]["output_modalities"]
    assert "stand-in" in by_id["google/gemini-2.5-flash-image"]["description"]


def test_single_model_endpoint(srv: LocalServer, http: requests.Session) -> None:
    r = http.get(f"{srv.base_url}/model/offline/poster")
    assert r.status_code == 200
    assert r.json()["data"]["id"] == "offline/poster"
    _error(http.get(f"{srv.base_url}/model/offline/nope"), 404)


def test_no_aliases() -> None:
    with LocalServer(catalogue_aliases=False) as plain:
        data = requests.get(f"{plain.base_url}/models?output_modalities=all", timeout=10).json()
        assert not [m for m in data["data"] if m["id"].startswith("google/")]
        body = {"model": "google/gemini-2.5-flash-image", "messages": MSG}
        assert requests.post(f"{plain.base_url}/chat/completions", json=body,
                             timeout=10).status_code == 400


def test_generation_and_key_endpoints(server: LocalServer) -> None:
    body = {"model": "offline/quartet", "messages": MSG, "modalities": ["image", "text"]}
    gen = requests.post(f"{server.base_url}/chat/completions", json=body, timeout=30).json()
    data = requests.get(f"{server.base_url}/generation", params={"id": gen["id"]},
                        timeout=10).json()["data"]
    assert data["id"] == gen["id"]
    assert data["model"] == "offline/quartet"
    assert data["total_cost"] == gen["usage"]["cost"]
    assert data["streamed"] is False
    assert data["num_media_completion"] == 4
    assert data["api_type"] == "completions"
    missing = requests.get(f"{server.base_url}/generation", params={"id": "gen-0-x"}, timeout=10)
    _error(missing, 404)
    key = requests.get(f"{server.base_url}/key", timeout=10).json()["data"]
    assert key["usage"] == pytest.approx(gen["usage"]["cost"])
    assert key["limit"] is None
    assert len(server.generations) == 1
    assert server.generations[0].id == gen["id"]


def test_requests_are_recorded(server: LocalServer) -> None:
    body = {"model": "offline/sketch", "messages": MSG, "modalities": ["image", "text"]}
    requests.post(f"{server.base_url}/chat/completions?x=1", json=body,
                  headers={"X-Title": "t"}, timeout=30)
    (rec,) = list(server.requests)
    assert rec.method == "POST"
    assert rec.path == "/api/v1/chat/completions"
    assert rec.query == {"x": "1"}
    assert rec.header("x-title") == "t"
    assert rec.json == body


# -- transport ----------------------------------------------------------------------------------


def test_json_uses_keepalive_connections(srv: LocalServer) -> None:
    import http.client

    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    sockets = []
    for _ in range(3):
        conn.request("POST", "/api/v1/chat/completions", body=json.dumps(
            {"model": "offline/sketch", "messages": MSG, "modalities": ["image", "text"]}),
            headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200
        assert len(response.read()) > 1000
        sockets.append(conn.sock)
    conn.close()
    assert sockets[0] is not None
    assert sockets.count(sockets[0]) == 3


def test_200_concurrent_requests(srv: LocalServer) -> None:
    def one(i: int) -> tuple[int, int]:
        body = {"model": "offline/sketch", "messages": [{"role": "user", "content": f"dot {i % 8}"}],
                "modalities": ["image", "text"], "image_config": {"image_size": "0.5K"}}
        r = requests.post(f"{srv.base_url}/chat/completions", json=body, timeout=60)
        return r.status_code, len(r.json()["choices"][0]["message"]["images"])

    with ThreadPoolExecutor(max_workers=200) as pool:
        results = list(pool.map(one, range(200)))
    assert results == [(200, 1)] * 200


def test_a_repeated_seeded_prompt_is_served_from_the_render_cache(
        srv: LocalServer, http: requests.Session) -> None:
    """The second ask renders nothing (a cache hit) and answers the same image, byte for byte."""
    def url(r: requests.Response) -> str:
        return r.json()["choices"][0]["message"]["images"][0]["image_url"]["url"]

    first = chat(srv, http, "speed test", seed=3)
    hits, misses = srv.cache.hits, srv.cache.misses
    again = chat(srv, http, "speed test", seed=3)
    assert len(again.content) > 1_500_000
    assert (srv.cache.hits, srv.cache.misses) == (hits + 1, misses)
    assert url(again) == url(first)


def test_non_loopback_bind_is_refused() -> None:
    with pytest.raises(ValueError, match="allow_remote"):
        LocalServer(host="0.0.0.0")
    with pytest.raises(ValueError, match="allow_remote"):
        LocalServer(host="192.168.1.10")
    LocalServer(host="::1")  # loopback is fine (not started)
    LocalServer(host="0.0.0.0", allow_remote=True, api_key="k")  # a remote bind needs a key


def test_stop_is_idempotent_and_restartable() -> None:
    server = LocalServer().start()
    url = server.base_url
    assert requests.get(f"{url}/models", timeout=10).status_code == 200
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/models", timeout=2)
