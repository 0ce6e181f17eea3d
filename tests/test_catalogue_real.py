"""The catalogue over real recorded listings (not our server): the captures the server ships.

``jupyter_imagegen/server/data/catalogue.json`` holds, field for field, the listings a public
project recorded from the live service (rbb-dev/Open-WebUI-OpenRouter-pipe's test fixtures; each
entry names its file and commit in ``_source``): ``GET /models?output_modalities=image``,
``GET /images/models`` and per-model endpoints records. Here they are fed to the client's
catalogue directly, so what the client concludes rests on the real service's data alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import jupyter_imagegen as ig
from jupyter_imagegen import NotFoundError
from jupyter_imagegen._core.adapters import choose_api
from jupyter_imagegen._core.catalogue import Catalogue

DATA = json.loads((Path(ig.__file__).parent / "server" / "data" / "catalogue.json").read_text())


def recorded(path: str, params: Mapping[str, str] | None) -> Any:
    if path == "models":
        return {"data": DATA["models"]}
    if path == "images/models":
        return {"data": DATA["image_models"]}
    model = path.removeprefix("images/models/").removesuffix("/endpoints")
    if model in DATA["image_endpoints"]:  # captured records only, never the borrowed ones
        return {"id": model, "endpoints": DATA["image_endpoints"][model]["endpoints"]}
    raise NotFoundError("not captured", status=404)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(recorded)


def test_the_real_listing_prices_no_image_output(catalogue: Catalogue) -> None:
    assert all("image_output" not in m.get("pricing", {}) for m in DATA["models"])
    assert all(m.price().basis != "listing" for m in catalogue.models())


def test_gemini_price_line_matches_the_recorded_bill(catalogue: Catalogue) -> None:
    gemini = catalogue.with_prices(catalogue.require("google/gemini-2.5-flash-image"))
    price = gemini.price("1K")
    # output_image at 3e-05 per token x 1290 image tokens = the recorded cost 0.0387036.
    assert price.basis == "token estimate" and price.usd == pytest.approx(0.0387, rel=1e-3)


def test_image_only_models_route_to_the_image_api(catalogue: Catalogue) -> None:
    for model_id in ("openai/gpt-image-2", "qwen/qwen-image-3", "black-forest-labs/flux.2-pro"):
        model = catalogue.require(model_id)
        assert model.image_only and "images" in model.apis
        assert choose_api(ig.Request.build("p", model_id), model) == "images"
    gemini = catalogue.require("google/gemini-2.5-flash-image")
    assert set(gemini.apis) == {"chat", "images"}
    assert choose_api(ig.Request.build("p", gemini.id), gemini) == "chat"


def test_real_descriptors_drive_validation(catalogue: Catalogue) -> None:
    seedream = catalogue.require("bytedance-seed/seedream-4.5")
    ratios = seedream.caps("images").aspect_ratios
    assert ratios and seedream.max_n >= 1
    gemini = catalogue.require("google/gemini-2.5-flash-image")
    with pytest.raises(ig.ModelCapabilityError):
        ig.Request.build("p", gemini.id, n=2).validated(gemini, "images")


def test_every_real_model_is_priced_or_says_unknown(catalogue: Catalogue) -> None:
    priced = catalogue.models_with_prices()
    assert len(priced) >= 40
    bases = {m.price().basis for m in priced}
    assert bases <= {"price line", "token estimate", "unknown"}
    assert sum(m.price().basis == "price line" for m in priced) >= 9
    assert sum(m.price().basis == "token estimate" for m in priced) >= 6
