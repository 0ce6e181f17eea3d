"""Descriptors read whole, over HTTP: every declared parameter accepted within its own bounds,
undeclared ones refused before sending with the model's own list, minimums as well as maximums,
and a model no endpoint serves marked unavailable.

Real descriptors used here (``server/data/catalogue.json`` cites each capture):
- openai/gpt-image-2 declares ``output_compression`` ``{"type": "range", "min": 0, "max": 100}``
  and no ``resolution`` (/images/models, rbb-dev/Open-WebUI-OpenRouter-pipe@067605d6);
- recraft/recraft-v4-styles-pro declares ``input_references`` ``{"min": 1, "max": 10}`` (its
  endpoints record, rbb-dev/Open-WebUI-OpenRouter-pipe@25465782);
- meta/muse-image is listed with ``supported_parameters: {}`` and its endpoints record is
  ``{"endpoints": [], "id": "meta/muse-image"}`` (same commit).
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
import requests
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen._wire.listings import ImageModelInfo, parse_endpoint_record
from jupyter_imagegen.server import LocalServer

KEY = "sk-or-v1-test-key-0123456789"


def posts(server: LocalServer) -> list[Any]:
    return [r for r in server.requests if r.method == "POST"]


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 320), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


# -- every declared parameter, within its own bounds --------------------------------------------


def test_output_compression_is_accepted_within_its_declared_range(client: ig.Client,
                                                                 server: LocalServer) -> None:
    client.generate("a lighthouse", "openai/gpt-image-2", output_compression=35)
    (post,) = posts(server)
    assert post.path == "/api/v1/images" and post.json["output_compression"] == 35
    for bad in (101, -1, "high"):
        with pytest.raises(ig.ModelCapabilityError, match=r"output_compression=.* \(it takes 0-100\)"):
            client.generate("x", "openai/gpt-image-2", output_compression=bad)
    assert len(posts(server)) == 1  # refused before sending


def test_a_parameter_no_listing_had_yet_is_read_from_its_descriptor(server: LocalServer) -> None:
    # Hypothetical descriptors (no real listing has them yet), added to one served model, to show
    # that nothing is a hand-kept list: a new range, enum or boolean parameter just works.
    spec = server.image_catalogue["offline/photo"]
    server.image_catalogue["offline/photo"] = dataclasses.replace(spec, params={
        **spec.params, "style_strength": {"type": "range", "min": 0, "max": 1},
        "palette": {"type": "enum", "values": ["warm", "cool", "2"]},
        "watermark": {"type": "boolean"}})
    with ig.Client(api_key=KEY, base_url=server.base_url) as client:
        client.generate("x", "offline/photo", api="images", style_strength=0.5, palette=2,
                        watermark=False)
        body = posts(server)[-1].json
        assert (body["style_strength"], body["palette"], body["watermark"]) == (0.5, "2", False)
        with pytest.raises(ig.ModelCapabilityError, match=r"style_strength=2 \(it takes 0-1\)"):
            client.generate("x", "offline/photo", api="images", style_strength=2)
        with pytest.raises(ig.ModelCapabilityError, match=r"palette=hot .*warm, cool, 2"):
            client.generate("x", "offline/photo", api="images", palette="hot")
    assert len(posts(server)) == 1
    # the server holds the body to the same descriptors
    r = requests.post(f"{server.base_url}/images", json={
        "model": "offline/photo", "prompt": "x", "palette": "hot"}, timeout=30)
    assert r.status_code == 400 and "palette" in r.json()["error"]["message"]


def test_structured_values_go_in_extra_body(client: ig.Client) -> None:
    with pytest.raises(ig.InvalidInputError, match="extra_body"):
        client.request("x", "openai/gpt-image-2", output_compression=[80])
    with pytest.raises(ig.InvalidInputError, match="spelled images"):
        client.request("x", "openai/gpt-image-2", input_references=["data:..."])


# -- undeclared parameters: refused before sending, with the model's own list --------------------


def test_resolution_to_a_model_without_it_is_refused_with_its_parameters(
        client: ig.Client, server: LocalServer) -> None:
    with pytest.raises(ig.ModelCapabilityError) as info:
        client.generate("x", "openai/gpt-image-2", size="2K")
    text = str(info.value)
    assert "size 2K (resolution is not among its parameters: aspect_ratio, background, " \
           "input_references, n, output_compression, quality)" in text
    assert "extra_body" in text and not posts(server)
    # the documented escape: sent unchecked (the service decides; this server ignores it)
    client.generate("x", "openai/gpt-image-2", extra_body={"resolution": "2K"})
    assert posts(server)[-1].json["resolution"] == "2K"


def test_an_undeclared_option_is_refused_on_either_api(client: ig.Client,
                                                       server: LocalServer) -> None:
    with pytest.raises(ig.ModelCapabilityError, match="output_compression is not among its "
                                                      "parameters: aspect_ratio, input_references"):
        client.generate("x", "google/gemini-2.5-flash-image", output_compression=50)
    with pytest.raises(ig.ModelCapabilityError, match="seed is not among its parameters"):
        client.generate("x", "openai/gpt-image-2", seed=7)
    with pytest.raises(ig.InvalidInputError, match="not an option of generate"):
        client.generate("x", "offline/sketch", api="chat", promt="typo")
    assert not posts(server)


# -- input_references: the minimum as well as the maximum ------------------------------------


def test_a_style_model_needs_a_reference(client: ig.Client, server: LocalServer) -> None:
    model = "recraft/recraft-v4-styles-pro"
    with pytest.raises(ig.ModelCapabilityError, match=r"it needs at least 1 \(it takes 1-10\)"):
        client.generate("a poster in this style", model)
    with pytest.raises(ig.ModelCapabilityError, match=r"11 input image\(s\) \(at most 10\)"):
        client.generate("x", model, images=[png()] * 11)
    assert not posts(server)
    result = client.generate("a poster in this style", model, images=[png()])
    assert result.params["api"] == "images" and len(posts(server)[-1].json["input_references"]) == 1
    # the service itself answers a 400 for a request without one (the observation)
    r = requests.post(f"{server.base_url}/images", json={"model": model, "prompt": "x"}, timeout=30)
    assert r.status_code == 400 and "the minimum is 1" in r.json()["error"]["message"]


# -- a model no endpoint serves --------------------------------------------------------------


def test_a_model_with_no_endpoints_is_unavailable_and_refused(client: ig.Client,
                                                              server: LocalServer) -> None:
    with pytest.raises(ig.ModelCapabilityError, match="no provider serves it"):
        client.generate("x", "meta/muse-image")
    assert not posts(server)  # one GET of its endpoints record settled it
    assert [r.path for r in server.requests if "muse" in r.path] == [
        "/api/v1/images/models/meta/muse-image/endpoints"]
    model = client.model_info("meta/muse-image")
    assert model.available is False and model.caps("images").available is False  # type: ignore[union-attr]
    assert client.model_info("openai/gpt-image-2").available is not False


def test_without_listings_the_service_says_no_endpoints(server: LocalServer) -> None:
    r = requests.post(f"{server.base_url}/images", json={"model": "meta/muse-image",
                                                         "prompt": "x"}, timeout=30)
    err = r.json()["error"]
    assert r.status_code == 404 and err["availability"]["code"] == "no_endpoints"
    with ig.Client(api_key=KEY, base_url=server.base_url, check_models=False) as client, \
            pytest.raises(ig.NotFoundError) as info:
        client.generate("x", "meta/muse-image", api="images")
    assert info.value.code == "no_endpoints"


def test_an_empty_endpoints_list_in_a_listing_or_a_record_means_unavailable() -> None:
    listed = ImageModelInfo.from_json({"id": "a/b", "endpoints": []})
    assert listed.available is False
    assert ImageModelInfo.from_json({"id": "a/b", "endpoints": "/api/v1/x"}).available is None
    record = parse_endpoint_record({"endpoints": [], "id": "meta/muse-image"})
    assert record.endpoints == 0 and record.lines == ()
