"""Python clients nobody here wrote, unchanged, against the local server: the ``openrouter`` SDK's
flows beyond tests/test_official_sdks.py, ``openai`` with the Image API, and litellm.

litellm is imported inside a fixture (after the loopback guard is on) with its documented
switches to stay local: ``LITELLM_LOCAL_MODEL_COST_MAP=True`` (litellm_core_utils/
get_model_cost_map.py) and ``LITELLM_OFFLINE_MODE=true`` (litellm_core_utils/offline_mode.py).
"""

from __future__ import annotations

import base64
import io
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conf_wire import KEY, loopback_only
from PIL import Image

from jupyter_imagegen.server import LocalServer

openai = pytest.importorskip("openai")
openrouter = pytest.importorskip("openrouter")

CHAT_MODEL = "google/gemini-2.5-flash-image"
IMAGE_MODEL = "black-forest-labs/flux.2-pro"
ASK: list[Any] = [{"role": "user", "content": "a red circle above blue waves"}]


def picture(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
    image.load()
    return image


def from_url(url: str) -> Image.Image:
    header, b64 = url.split(",", 1)
    assert header == "data:image/png;base64"
    return picture(b64)


# -- the guards themselves -----------------------------------------------------------------------


def test_python_guard_refuses_the_network() -> None:
    with socket.socket() as sock, pytest.raises(AssertionError, match=r"127\.0\.0\.1; tried"):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: refused before any packet leaves


@pytest.mark.node
def test_node_guard_refuses_the_network(node_dir: Path) -> None:
    code = ("fetch('http://192.0.2.1/').then(() => console.log('REACHED'))"
            ".catch((e) => console.log(e.cause?.message ?? e.message))")
    done = subprocess.run(["node", "--import", "./guard.mjs", "-e", code], cwd=node_dir,
                          capture_output=True, text=True, timeout=60, check=True)
    assert "stay on 127.0.0.1; tried 192.0.2.1" in done.stdout


# -- the official Python SDK ---------------------------------------------------------------------


@pytest.fixture
def sdk(base: str) -> Iterator[Any]:
    with openrouter.OpenRouter(api_key=KEY, server_url=base) as client:
        yield client


def test_sdk_chat_stream(sdk: Any) -> None:
    # The SDK's own limitation: ChatStreamDelta declares no `images` and its models ignore
    # extra keys, so the streamed image is dropped; text, finish_reason and usage remain.
    stream = sdk.chat.send(model=CHAT_MODEL, messages=ASK, modalities=["image", "text"],
                           stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens >= 1290
    assert not any(hasattr(c.choices[0].delta, "images") for c in chunks if c.choices)


def test_sdk_images_generate(sdk: Any) -> None:
    answer = sdk.images.generate(model=IMAGE_MODEL, prompt="a red circle", aspect_ratio="16:9")
    (item,) = answer.data
    image = picture(item.b64_json)
    assert Image.MIME[image.format] == item.media_type
    assert image.width > image.height
    assert answer.usage.cost > 0


def test_sdk_images_stream(sdk: Any) -> None:
    listing = sdk.images.list_models().data
    model = next(m.id for m in listing if m.supports_streaming and not m.id.startswith("offline/"))
    events = list(sdk.images.generate(model=model, prompt="a cat", stream=True))
    assert events[-1].type == "image_generation.completed"
    assert picture(events[-1].b64_json).size[0] >= 512
    assert all(e.type == "image_generation.partial_image" for e in events[:-1])


def test_sdk_models_pages(sdk: Any) -> None:
    # the SDK pages with offset/limit and stops at a page shorter than `limit` (models_.py)
    first = sdk.models.list(output_modalities="all", limit=2)
    second = first.next()
    assert len(first.result.data) == 2
    assert second is not None
    assert {m.id for m in first.result.data}.isdisjoint(m.id for m in second.result.data)
    assert first.result.total_count > 2


def test_sdk_models_count(sdk: Any) -> None:
    count = sdk.models.count(output_modalities="image")
    listing = sdk.models.list(output_modalities="image").result
    assert count.data.count == listing.total_count


def test_sdk_models_list_for_user(sdk: Any) -> None:
    listing = sdk.models.list_for_user(security={"bearer": KEY}, output_modalities="image")
    assert CHAT_MODEL in {m.id for m in listing.result.data}


def test_sdk_model_endpoints(sdk: Any) -> None:
    author, slug = CHAT_MODEL.split("/")
    endpoints = sdk.endpoints.list(author=author, slug=slug)
    assert endpoints.data.id == CHAT_MODEL
    assert endpoints.data.endpoints


# -- openai for Python ---------------------------------------------------------------------------


@pytest.fixture
def oai(base: str) -> Iterator[Any]:
    with openai.OpenAI(base_url=base, api_key=KEY, max_retries=0) as client:
        yield client


def test_openai_chat_typed_modalities(oai: Any) -> None:
    # `modalities` is typed text/audio in openai; "image" passes at runtime (no validation).
    completion = oai.chat.completions.create(
        model=CHAT_MODEL, messages=ASK, modalities=["image", "text"],
        extra_body={"image_config": {"aspect_ratio": "16:9"}})
    (image,) = completion.choices[0].message.model_extra["images"]
    assert from_url(image["image_url"]["url"]).size == (1344, 768)


def test_openai_stream_images(oai: Any) -> None:
    stream = oai.chat.completions.create(model=CHAT_MODEL, messages=ASK, stream=True,
                                         extra_body={"modalities": ["image", "text"]})
    images = [img for chunk in stream for choice in chunk.choices
              for img in (choice.delta.model_extra or {}).get("images", [])]
    (image,) = images
    assert from_url(image["image_url"]["url"]).size == (1024, 1024)


def test_openai_image_api_via_post(oai: Any) -> None:
    # openai's images.generate() posts to /images/generations: no OpenRouter route (404 there
    # too), so the client's generic post() is the unchanged way to reach /images.
    with pytest.raises(openai.NotFoundError):
        oai.images.generate(model=IMAGE_MODEL, prompt="a cat")
    answer = oai.post("/images", cast_to=object,
                      body={"model": IMAGE_MODEL, "prompt": "a cat", "aspect_ratio": "16:9"})
    image = picture(answer["data"][0]["b64_json"])
    assert image.width > image.height


# -- litellm -------------------------------------------------------------------------------------


# litellm's own pydantic warnings (ReadOnly TypedDicts, deprecated attribute access) are not ours
LITELLM_NOISE = [pytest.mark.filterwarnings("ignore::UserWarning"),
                 pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def litellm() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        mp.setenv("LITELLM_OFFLINE_MODE", "true")
        mp.setenv("LITELLM_TELEMETRY", "False")
        mp.delenv("OPENROUTER_API_BASE", raising=False)
        with loopback_only():  # the per-test guard is not active yet in a module fixture
            lib = pytest.importorskip("litellm")
        yield lib


@LITELLM_NOISE[0]
@LITELLM_NOISE[1]
def test_litellm_completion(litellm: Any, base: str, srv: LocalServer) -> None:
    response = litellm.completion(model=f"openrouter/{CHAT_MODEL}", messages=ASK, api_base=base,
                                  api_key=KEY, modalities=["image", "text"])
    message = response.choices[0].message
    assert message.content
    (image,) = message.images
    assert from_url(image["image_url"]["url"]).size == (1024, 1024)
    assert response.usage.completion_tokens >= 1290
    assert srv.requests[-1].path == "/api/v1/chat/completions"


@LITELLM_NOISE[0]
@LITELLM_NOISE[1]
def test_litellm_stream(litellm: Any, base: str) -> None:
    stream = litellm.completion(model=f"openrouter/{CHAT_MODEL}", messages=ASK, api_base=base,
                                api_key=KEY, modalities=["image", "text"], stream=True,
                                stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    images = [img for c in chunks if c.choices for img in (getattr(c.choices[0].delta, "images", None) or [])]
    assert text.startswith("Here")
    (image,) = images
    assert from_url(image["image_url"]["url"]).size == (1024, 1024)
    assert chunks[-1].usage.completion_tokens >= 1290


@LITELLM_NOISE[0]
@LITELLM_NOISE[1]
def test_litellm_get_valid_models(litellm: Any, base: str, srv: LocalServer) -> None:
    models = litellm.get_valid_models(check_provider_endpoint=True, custom_llm_provider="openrouter",
                                      api_key=KEY, api_base=base)
    assert srv.requests[-1].path == "/api/v1/models/user"
    assert f"openrouter/{CHAT_MODEL}" in models
