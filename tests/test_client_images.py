"""The client on OpenRouter's dedicated Image API (POST /images), against the local server."""

from __future__ import annotations

import pytest
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen.server import Fault, LocalServer


def image_posts(server: LocalServer) -> list:
    return [r for r in server.requests if r.method == "POST" and r.path.endswith("/images")]


def test_explicit_images_api_returns_the_same_result_type(client: ig.Client, server: LocalServer) -> None:
    result = client.generate("three stars", "offline/quartet", api="images", n=3, resolution="512",
                             aspect_ratio="16:9", seed=5)
    (req,) = image_posts(server)
    assert req.json == {"model": "offline/quartet", "prompt": "three stars", "n": 3,
                        "resolution": "512", "aspect_ratio": "16:9", "seed": 5}
    assert isinstance(result, ig.ImageResult) and len(result.images) == 3
    assert result.image.size == (672, 384) and result.params["api"] == "images"
    assert result.id and result.id.startswith("gen-") and result.cost is not None and result.cost > 0
    assert not [r for r in server.requests if r.path.endswith("/chat/completions")]


def test_auto_picks_the_image_api_for_models_only_it_knows(client: ig.Client, server: LocalServer) -> None:
    result = client.generate("a lighthouse", "openai/gpt-image-1", quality="high")
    assert len(image_posts(server)) == 1 and result.image.size == (1024, 1024)
    client.generate("a lighthouse", "offline/sketch")
    assert len(image_posts(server)) == 1  # a chat model stays on chat completions


def test_image_size_maps_to_resolution(client: ig.Client, server: LocalServer) -> None:
    client.generate("x", "offline/poster", api="images", image_size="0.5K")
    assert image_posts(server)[0].json["resolution"] == "512"


def test_streaming_partials_never_enter_the_result(client: ig.Client) -> None:
    events = list(client.stream("a cat", "openai/gpt-image-1", api="images", n=2))
    kinds = [e.kind for e in events]
    assert kinds.count("partial") >= 2 and kinds.count("image") == 2 and kinds[-1] == "done"
    assert kinds.index("partial") < kinds.index("image")
    result = events[-1].result
    assert result is not None and len(result.generated) == 2
    finals = [e.image.data for e in events if e.kind == "image" and e.image]
    assert [g.data for g in result.generated] == finals
    partials = [e.image.data for e in events if e.kind == "partial" and e.image]
    assert not set(partials) & set(finals)


def test_parameters_are_checked_before_sending(client: ig.Client, server: LocalServer) -> None:
    with pytest.raises(ig.ModelCapabilityError, match="Nothing was sent"):
        client.generate("x", "offline/poster", api="images", n=5)
    with pytest.raises(ig.ModelCapabilityError):
        client.generate("x", "offline/poster", api="images", images=Image.new("RGB", (8, 8)))
    with pytest.raises(ig.NotFoundError) as info:
        client.generate("x", "offline/postr", api="images")
    assert "offline/poster" in info.value.suggestions and not image_posts(server)


def test_unknown_option_is_refused(client: ig.Client) -> None:
    with pytest.raises(ig.InvalidInputError, match="no option"):
        client.generate("x", "offline/poster", api="images", modalities=["image"])
    with pytest.raises(ig.InvalidInputError, match="api must be"):
        client.generate("x", "offline/poster", api="nope")  # type: ignore[arg-type]


def test_edit_sends_input_references(client: ig.Client, server: LocalServer) -> None:
    first = client.generate("a green field", "offline/editor", api="images")
    second = first.edit("add a red barn", api="images")
    refs = image_posts(server)[-1].json["input_references"]
    assert refs == [{"type": "image_url", "image_url": {"url": first.generated[0].data_url}}]
    assert second.image.size == first.image.size


def test_errors_and_retries_on_the_image_api(server: LocalServer) -> None:
    sleeps: list[float] = []
    server.faults.push(Fault("429", retry_after=1.5, path="/images"))
    with ig.Client(base_url=server.base_url, sleep=sleeps.append) as c:
        assert c.generate("x", "offline/poster", api="images").image
        assert sleeps == [1.5]
        server.faults.push(Fault("no-image", path="/images"))
        with pytest.raises(ig.NoImageError):
            c.generate("x", "offline/poster", api="images")
        server.faults.push(Fault("stream-error", path="/images"))
        with pytest.raises(ig.ImageGenError):
            list(c.stream("x", "offline/quartet", api="images"))
        server.faults.push(Fault("cut-stream", path="/images"))
        with pytest.raises(ig.IncompleteStreamError):
            list(c.stream("x", "offline/quartet", api="images"))


def test_image_models_listing(client: ig.Client) -> None:
    models = {m.id: m for m in client.image_models()}
    assert models["offline/quartet"].max_n >= 4 and models["openai/gpt-image-1"].supports_streaming
    assert "16:9" in models["offline/poster"].aspect_ratios
