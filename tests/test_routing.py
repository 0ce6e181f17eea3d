"""Routing by what the service answers: the real refusal families, over HTTP, and the one retry.

The local server answers a model sent to the API that does not serve it as the real service does
(each wording is cited beside ``server/_chat_validate.py`` and ``_wire/errors.py``):

(a) chat/completions, an Image-API-only model, no ``modalities`` or ``["image"]``: 404 "... Use the
    /api/v1/images endpoint instead.";
(b) ``modalities`` the model cannot output: 404 "No endpoints found that support the requested
    output modalities: ..." with the routing funnel (HKUDS/DeepTutor#1348), and *first*;
(c) ``["image"]`` to bytedance-seed/seedream-5-0-pro: a bare 500 (SillyTavern/SillyTavern#5962);
(d) the documented availability code ``wrong_endpoint`` (400, docs 4e27fe52), also the answer to
(e) a chat-only image model sent to ``POST /images``.

The client retries once on the other API when the route was its own choice, and remembers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

import jupyter_imagegen as ig
from jupyter_imagegen._wire.errors import (
    IMAGE_ONLY_SERVER_ERROR,
    WRONG_ENDPOINT,
    WRONG_MODALITIES,
    error_from_response,
    route_refusal,
)
from jupyter_imagegen.server import Fault, LocalServer

KEY = "sk-or-v1-test-key-0123456789"
CHAT, IMAGES = "/api/v1/chat/completions", "/api/v1/images"
USE_IMAGES = ("{} is an image generation model and cannot be used with the chat/completions "
              "endpoint. Use the /api/v1/images endpoint instead.")
MODALITIES_404 = {"error": {
    "code": 404, "message": "No endpoints found that support the requested output modalities: "
                            "image, text",
    "metadata": {"routing_funnel": [{"step": "Initial Endpoints", "endpoint_count": 1}],
                 "failed_routing_step": "Filter by Model Output Modalities"}}}


@pytest.fixture
def open_client(server: LocalServer) -> Iterator[ig.Client]:
    """A client that cannot read ``GET /images/models`` (an older proxy: 404, cached as none)."""
    server.faults.push(Fault("404", path="/images/models"))
    with ig.Client(api_key=KEY, base_url=server.base_url, sleep=lambda _s: None) as c:
        yield c


@pytest.fixture
def blind_client(server: LocalServer) -> Iterator[ig.Client]:
    """A client with no listings at all (``check_models=False``): the service decides."""
    with ig.Client(api_key=KEY, base_url=server.base_url, check_models=False,
                   sleep=lambda _s: None) as c:
        yield c


def posts(server: LocalServer) -> list[str]:
    return [r.path for r in server.requests if r.method == "POST"]


def chat(server: LocalServer, model: str, modalities: list[str] | None = None) -> requests.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "a red sun"}]}
    if modalities is not None:
        body["modalities"] = modalities
    return requests.post(f"{server.base_url}/chat/completions", json=body, timeout=30)


# -- the server answers each case as the real service, in its order -------------------------------


def test_chat_refuses_an_image_api_model_in_the_real_order(shared_server: LocalServer) -> None:
    model = "openai/gpt-image-2"
    for modalities in (None, ["image"]):  # (a)
        r = chat(shared_server, model, modalities)
        assert r.status_code == 404
        assert r.json() == {"error": {"code": 404, "message": USE_IMAGES.format(model)}}
    r = chat(shared_server, model, ["image", "text"])  # (b) comes first when text is asked
    assert r.status_code == 404 and r.json() == MODALITIES_404


def test_the_recorded_500_and_its_modalities_404(shared_server: LocalServer) -> None:
    model = "bytedance-seed/seedream-5-0-pro"
    r = chat(shared_server, model, ["image"])  # (c)
    assert r.status_code == 500 and r.json() == {"error": {"code": 500,
                                                           "message": "Internal Server Error"}}
    assert chat(shared_server, model, ["image", "text"]).json() == MODALITIES_404
    assert chat(shared_server, model).json()["error"]["message"] == USE_IMAGES.format(model)
    ok = requests.post(f"{shared_server.base_url}/images", json={"model": model, "prompt": "x"},
                       timeout=30)
    assert ok.status_code == 200 and ok.json()["data"][0]["b64_json"]


def test_the_image_api_refuses_a_chat_only_model_as_documented(shared_server: LocalServer) -> None:
    model = "sourceful/riverflow-v2-max-preview"  # listed in /models only: served by chat
    r = requests.post(f"{shared_server.base_url}/images", json={"model": model, "prompt": "x"},
                      timeout=30)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["error_type"] == "invalid_request" and err["http_status"] == 400
    assert err["availability"]["code"] == "wrong_endpoint"
    assert err["availability"]["constraint"]["detail"] == "Use /api/v1/chat/completions"
    mapped = error_from_response(r.status_code, r.content)
    assert mapped.refusal == WRONG_ENDPOINT and mapped.endpoint_hint == "chat"
    assert chat(shared_server, model, ["image"]).status_code == 200


# -- the families, read from the wire ---------------------------------------------------------


def test_each_family_is_a_typed_attribute(shared_server: LocalServer) -> None:
    a = chat(shared_server, "qwen/qwen-image-3", ["image"])
    b = chat(shared_server, "qwen/qwen-image-3", ["image", "text"])
    c = chat(shared_server, "bytedance-seed/seedream-5-0-pro", ["image"])
    err_a, err_b, err_c = (error_from_response(r.status_code, r.content) for r in (a, b, c))
    assert isinstance(err_a, ig.NotFoundError) and err_a.code == WRONG_ENDPOINT
    assert (err_a.refusal, err_a.endpoint_hint) == (WRONG_ENDPOINT, "images")
    assert isinstance(err_b, ig.NotFoundError) and err_b.code == 404
    assert (err_b.refusal, err_b.endpoint_hint) == (WRONG_MODALITIES, None)
    assert isinstance(err_c, ig.ProviderError) and err_c.refusal is None
    # A 500 is a refusal only in its recorded context: chat, an image-only model.
    assert route_refusal(err_c, api="chat", image_only=True) == IMAGE_ONLY_SERVER_ERROR
    assert route_refusal(err_c, api="chat", image_only=False) is None
    assert route_refusal(err_c, api="chat", image_only=None) is None
    assert route_refusal(err_c, api="images", image_only=True) is None


def test_a_refusal_naming_another_endpoint_is_never_retried_on_ours() -> None:
    text = ("typesafe/jev-1.13 is a decisions model and cannot be used with the chat/completions "
            "endpoint. Use the /api/alpha/decisions endpoint instead.")  # quoted in public notes
    error = error_from_response(400, f'{{"error": {{"code": 400, "message": "{text}"}}}}')
    assert error.refusal == WRONG_ENDPOINT and error.endpoint_hint == "/api/alpha/decisions"


# -- the client's one retry, over HTTP --------------------------------------------------------


def test_a_the_images_404_sends_the_request_to_the_image_api(open_client: ig.Client,
                                                             server: LocalServer) -> None:
    result = open_client.generate("a lighthouse", "openai/gpt-image-2")
    assert posts(server) == [CHAT, IMAGES]
    first = next(r for r in server.requests if r.path == CHAT)
    assert first.json["modalities"] == ["image"]  # image-only: (a), not (b)
    assert result.params["api"] == "images" and result.image.size[0] > 0
    open_client.generate("again", "openai/gpt-image-2")  # remembered: straight to the Image API
    assert posts(server) == [CHAT, IMAGES, IMAGES]
    assert open_client.catalogue.route_for("openai/gpt-image-2") == "images"


def test_b_the_modalities_404_sends_the_request_to_the_image_api(blind_client: ig.Client,
                                                                 server: LocalServer) -> None:
    result = blind_client.generate("a lighthouse", "qwen/qwen-image-3")
    assert posts(server) == [CHAT, IMAGES]
    assert server.requests[0].json["modalities"] == ["image", "text"]  # no record: both asked
    assert result.params["api"] == "images"
    blind_client.generate("again", "qwen/qwen-image-3")
    assert posts(server)[-1] == IMAGES and len(posts(server)) == 3
    blind_client.generate("other model", "offline/sketch")  # learnt per model, not for all
    assert posts(server)[-1] == CHAT


def test_c_the_500_of_an_image_only_model_sends_it_to_the_image_api(server: LocalServer) -> None:
    server.faults.push(Fault("404", path="/images/models"))
    server.faults.push(Fault("500", model="openai/gpt-image-2"))
    with ig.Client(api_key=KEY, base_url=server.base_url, max_retries=0) as client:
        result = client.generate("a lighthouse", "openai/gpt-image-2")
    assert posts(server) == [CHAT, IMAGES] and result.params["api"] == "images"


def test_a_500_of_a_text_and_image_model_is_never_sent_elsewhere(server: LocalServer) -> None:
    server.faults.push(Fault("500", model="google/gemini-2.5-flash-image"))
    with ig.Client(api_key=KEY, base_url=server.base_url, max_retries=0) as client, \
            pytest.raises(ig.ProviderError):
        client.generate("a lighthouse", "google/gemini-2.5-flash-image")
    assert posts(server) == [CHAT]  # it may have been billed: never a second generation


def test_d_the_documented_wrong_endpoint_is_followed(client: ig.Client,
                                                     server: LocalServer) -> None:
    server.faults.push(Fault("wrong_endpoint", model="offline/quartet"))
    result = client.generate("four stars", "offline/quartet")
    assert posts(server) == [CHAT, IMAGES] and result.params["api"] == "images"


def test_e_the_reverse_refusal_sends_the_request_to_chat(client: ig.Client,
                                                         server: LocalServer) -> None:
    server.faults.push(Fault("wrong_endpoint", path="/images", model="offline/poster"))
    result = client.generate("a poster", "offline/poster")
    assert posts(server) == [IMAGES, CHAT] and result.params["api"] == "chat"
    client.generate("another", "offline/poster")
    assert posts(server)[-1] == CHAT


def test_streaming_falls_back_too(open_client: ig.Client, server: LocalServer) -> None:
    events = list(open_client.stream("a lighthouse", "openai/gpt-image-2"))
    assert posts(server) == [CHAT, IMAGES]
    assert events[-1].kind == "done" and events[-1].result is not None


# -- an explicit API gets the refusal, typed, with advice ------------------------------------


def test_an_explicit_api_gets_the_refusal_with_advice(client: ig.Client,
                                                      server: LocalServer) -> None:
    with pytest.raises(ig.NotFoundError) as info:
        client.generate("x", "openai/gpt-image-2", api="chat")
    error = info.value
    assert error.code == WRONG_ENDPOINT and error.status == 404
    assert (error.refusal, error.endpoint_hint) == (WRONG_ENDPOINT, "images")
    assert "use api='images'" in str(error) and error.message == USE_IMAGES.format(
        "openai/gpt-image-2")
    assert posts(server) == [CHAT]


def test_explicit_modalities_are_not_second_guessed(client: ig.Client,
                                                    server: LocalServer) -> None:
    with pytest.raises(ig.NotFoundError) as info:
        client.generate("x", "recraft/recraft-v3", modalities=["image", "text"])
    assert info.value.refusal == WRONG_MODALITIES
    assert "modalities=['image']" in str(info.value)
    assert posts(server) == [CHAT]  # the Image API has no modalities: nothing else was sent
    client.generate("x", "recraft/recraft-v3", modalities=["image"])  # the advice works
    assert posts(server)[-1] == CHAT


def test_when_neither_api_serves_the_first_refusal_is_raised(blind_client: ig.Client,
                                                             server: LocalServer) -> None:
    server.faults.push(Fault("wrong_endpoint", path="/images", model="offline/editor"))
    server.faults.push(Fault("404", message=USE_IMAGES.format("offline/editor"),
                             model="offline/editor"))
    with pytest.raises(ig.NotFoundError) as info:
        blind_client.generate("x", "offline/editor")
    assert posts(server) == [CHAT, IMAGES]  # one retry, never a ping-pong
    assert info.value.endpoint_hint == "images" and "Neither API serves" in str(info.value)
    assert blind_client.catalogue.route_for("offline/editor") is None
