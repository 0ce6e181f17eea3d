"""The official ``openai`` and ``openrouter`` SDKs work unchanged against the local server."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from jupyter_imagegen.server import Fault, LocalServer

openai = pytest.importorskip("openai")
openrouter = pytest.importorskip("openrouter")

MESSAGES: list[Any] = [{"role": "user", "content": "a red circle above blue waves"}]


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalServer]:
    with LocalServer(api_key="sk-or-v1-sdk-test") as server:
        yield server


def png_size(url: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size


def test_openai_non_streaming(srv: LocalServer) -> None:
    with openai.OpenAI(base_url=srv.base_url, api_key="sk-or-v1-sdk-test", max_retries=0) as oai:
        completion = oai.chat.completions.create(
            model="offline/sketch", messages=MESSAGES,
            extra_body={"modalities": ["image", "text"], "image_config": {"aspect_ratio": "16:9"}})
    message = completion.choices[0].message
    assert message.content.startswith("Here is")
    (image,) = message.model_extra["images"]
    assert png_size(image["image_url"]["url"]) == (1344, 768)
    assert completion.usage is not None
    assert completion.usage.model_extra["cost"] > 0
    assert completion.model_extra["provider"] == "jupyter-imagegen offline"


def test_openai_streaming(srv: LocalServer) -> None:
    with openai.OpenAI(base_url=srv.base_url, api_key="sk-or-v1-sdk-test", max_retries=0) as oai:
        stream = oai.chat.completions.create(
            model="offline/quartet", messages=MESSAGES, stream=True,
            extra_body={"modalities": ["image", "text"]})
        images: list[dict[str, Any]] = []
        text, usage = "", None
        for chunk in stream:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                text += choice.delta.content or ""
                images += (choice.delta.model_extra or {}).get("images", [])
    assert text.startswith(("Here are", "Here is"))
    assert [i["index"] for i in images] == [0, 1, 2, 3]
    assert usage is not None
    assert usage.completion_tokens > 4 * 1290


def test_openai_sees_errors(srv: LocalServer) -> None:
    with openai.OpenAI(base_url=srv.base_url, api_key="wrong", max_retries=0) as oai, \
            pytest.raises(openai.AuthenticationError):
        oai.chat.completions.create(model="offline/sketch", messages=MESSAGES)
    srv.faults.push(Fault("stream-error"))
    with openai.OpenAI(base_url=srv.base_url, api_key="sk-or-v1-sdk-test", max_retries=0) as oai:
        stream = oai.chat.completions.create(model="offline/sketch", messages=MESSAGES,
                                             stream=True,
                                             extra_body={"modalities": ["image", "text"]})
        with pytest.raises(openai.APIError, match=r"injected|Rate limit"):
            list(stream)


def test_openrouter_sdk_chat_send(srv: LocalServer) -> None:
    with openrouter.OpenRouter(api_key="sk-or-v1-sdk-test", server_url=srv.base_url) as sdk:
        result = sdk.chat.send(model="offline/sketch", messages=MESSAGES,
                               modalities=["image", "text"],
                               image_config={"aspect_ratio": "3:2"})
    message = result.choices[0].message
    assert result.object == "chat.completion"
    assert result.system_fingerprint is None
    assert message.images
    assert png_size(message.images[0].image_url.url) == (1248, 832)
    assert result.usage is not None
    assert result.usage.cost
    assert result.usage.cost > 0


def test_openrouter_sdk_reasoning_and_image_only(srv: LocalServer) -> None:
    with openrouter.OpenRouter(api_key="sk-or-v1-sdk-test", server_url=srv.base_url) as sdk:
        thinker = sdk.chat.send(model="offline/thinker", messages=MESSAGES,
                                modalities=["image", "text"])
        poster = sdk.chat.send(model="offline/poster", messages=MESSAGES, modalities=["image"])
    assert thinker.choices[0].message.reasoning
    assert poster.choices[0].message.content == ""
    assert poster.choices[0].message.images


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # is_provisioning_key
def test_openrouter_sdk_models_key_generation(srv: LocalServer) -> None:
    with openrouter.OpenRouter(api_key="sk-or-v1-sdk-test", server_url=srv.base_url) as sdk:
        listing = sdk.models.list(output_modalities="all").result
        ids = {m.id for m in listing.data}
        assert {"offline/sketch", "offline/poster", "openrouter/auto"} <= ids
        assert listing.total_count == len(ids)
        result = sdk.chat.send(model="offline/photo", messages=MESSAGES,
                               modalities=["image", "text"])
        generation = sdk.generations.get_generation(id=result.id)
        assert generation.data.id == result.id
        assert generation.data.total_cost > 0
        key = sdk.api_keys.get_current_key_metadata()
        assert key.data.usage > 0
