"""One of each: one capability check, one spelling, one model type, one batch verb family, one error tree.

Each of these was written twice before the restructure (and the two copies disagreed); these tests
pin the one place each now lives, through the public API and the local server.
"""

from __future__ import annotations

import inspect

import pytest
from async_helpers import run_async

import jupyter_imagegen as ig


def test_spelling_is_normalised_for_every_front_end(client: ig.Client) -> None:
    request = client.request("a fox", "offline/poster", aspect_ratio="16x9", image_size="512")
    assert (request.aspect_ratio, request.size) == ("16:9", "0.5K")
    assert client.request("a fox", aspect_ratio=" 3 / 2 ", resolution="2k").aspect_ratio == "3:2"
    result = client.generate("a fox", "offline/poster", aspect_ratio="16x9")
    assert result.request is not None and result.request.aspect_ratio == "16:9"
    width, height = result.image.size
    assert width > height  # the server drew 16:9, so the spelling reached the wire as 16:9
    with pytest.raises(ig.InvalidInputError, match="not an aspect ratio"):
        client.request("a fox", aspect_ratio="wide")
    with pytest.raises(ig.InvalidInputError, match="unknown size"):
        client.request("a fox", image_size="3K")


def test_routing_and_validation_ask_the_same_check(client: ig.Client) -> None:
    """What ``auto`` routes away from is exactly what validation refuses on that API."""
    model = client.model_info("google/gemini-2.5-flash-image")
    for options in ({"n": 2}, {"aspect_ratio": "1:4"}, {"size": "1024x1024"}, {"aspect_ratio": "16:9"}):
        request = client.request("a fox", model.id, **options)
        for api, caps in model.apis.items():
            problems = caps.problems(request, api)
            if problems:
                with pytest.raises(ig.InvalidInputError) as info:  # a capability error, or
                    request.validated(model, api)  # an option the other API alone has
                assert problems[0].split(" (")[0] in str(info.value)
            else:
                assert request.validated(model, api) is request


def test_one_public_model_type(client: ig.Client) -> None:
    assert "ModelInfo" not in ig.__all__ and "ImageModelInfo" not in ig.__all__
    image_models = client.models()
    everything = client.models(all=True)
    served = client.image_models()
    assert image_models and everything and served
    assert all(type(m) is ig.Model for m in [*image_models, *everything, *served])
    assert {m.id for m in served} <= {m.id for m in image_models}
    assert all("images" in m.apis for m in served)
    text_only = [m for m in everything if not m.outputs_images]
    assert text_only and all(not m.apis for m in text_only)  # a text model gets no image API


def _shape(function: object) -> list[tuple[str, object]]:
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    return [(p.name, p.kind) for p in parameters if p.name != "self"]


def test_one_batch_verb_family_with_one_shape() -> None:
    for verb in ("generate_many", "compare"):
        assert _shape(getattr(ig, verb)) == _shape(getattr(ig.Client, verb)), verb
        async_shape = dict(_shape(getattr(ig.AsyncClient, verb)))
        assert list(async_shape)[:2] == [name for name, _ in _shape(getattr(ig.Client, verb))][:2]
        assert async_shape["concurrency"] is inspect.Parameter.KEYWORD_ONLY


def test_the_module_verbs_run_on_the_default_client(server: object) -> None:
    ig.offline()
    batch = ig.generate_many(["a", "b"], "offline/sketch", progress=False)
    assert [item.ok for item in batch.items] == [True, True]
    comparison = ig.compare("a fox", ["offline/sketch", "offline/poster"], progress=False)
    assert comparison.cell(0, "offline/poster").result is not None


@pytest.mark.parametrize("misuse", [
    lambda c: c.compare([], ["offline/sketch"]),
    lambda c: c.compare("a fox", []),
    lambda c: c.compare("a fox", "offline/sketch"),
    lambda c: c.generate_many(["a"], "offline/sketch", concurrency=0),
    lambda c: c.generate_many(["a"], "offline/sketch", concurrency=1.5),
    lambda c: c.generate_many("one prompt", "offline/sketch"),
    lambda c: c.generate_many(["a"], []),
    lambda c: ig.ReplayCache(max_bytes=-1),
    lambda c: ig.display_options(format="gif"),
    lambda c: ig.display_options(preview=3),
    lambda c: ig.display_options(colour="red"),
    lambda c: ig.ImageStore(c.store_dir).contact_sheet(),
], ids=["compare-no-prompts", "compare-no-models", "compare-one-string", "concurrency-0",
        "concurrency-float", "prompts-as-string", "no-models", "cache-negative", "display-format",
        "display-preview", "display-unknown", "empty-contact-sheet"])
def test_every_misuse_is_a_typed_error(client: ig.Client, tmp_path: object, misuse: object) -> None:
    client.store_dir = tmp_path  # type: ignore[attr-defined]
    spent = client.spent
    with pytest.raises(ig.ImageGenError) as info:
        misuse(client)  # type: ignore[operator]
    assert isinstance(info.value, ig.InvalidInputError)
    assert str(info.value)  # says what to do
    assert client.spent == spent  # nothing was sent


def test_async_batch_misuse_is_typed(server: object) -> None:
    async def run() -> None:
        async with ig.AsyncClient(base_url=server.base_url) as client:  # type: ignore[attr-defined]
            with pytest.raises(ig.InvalidInputError):
                await client.generate_many(["a"], "offline/sketch", concurrency=0)
            with pytest.raises(ig.InvalidInputError):
                await client.compare([], ["offline/sketch"])
            comparison = await client.compare("a fox", ["offline/sketch", "offline/poster"])
            assert comparison.cell("a fox", "offline/sketch").result is not None

    run_async(run())
