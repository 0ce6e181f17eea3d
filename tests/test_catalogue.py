"""The catalogue, the request, routing and pricing, on the real service's wire shapes (no I/O)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest
import real_captures as real

import jupyter_imagegen as ig
from jupyter_imagegen import NotFoundError, Request
from jupyter_imagegen._core.adapters import ADAPTERS, choose_api
from jupyter_imagegen._core.catalogue import Catalogue
from jupyter_imagegen._core.policies import SpendGuard
from jupyter_imagegen._wire.errors import WRONG_ENDPOINT, error_from_envelope, images_error

CHAT = [real.GEMINI_LISTING, real.FLUX_LISTING]
IMAGES = [real.QWEN_IMAGES, real.GEMINI_IMAGES]
ENDPOINTS = {"images/models/qwen/qwen-image-3/endpoints": real.QWEN_ENDPOINTS}


class FakeService:
    """``fetch(path, params)`` over the recorded documents, counting requests."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[str] = []
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, path: str, params: Mapping[str, str] | None) -> Any:
        with self._lock:
            self.calls.append(path)
        time.sleep(self.delay)
        if path == "models":
            return {"data": CHAT if (params or {}).get("output_modalities") == "image"
                    else [*CHAT, {"id": "openai/gpt-4o", "name": "GPT-4o", "architecture": {
                        "input_modalities": ["text"], "output_modalities": ["text"]}}]}
        if path == "images/models":
            return {"data": IMAGES}
        if path in ENDPOINTS:
            return ENDPOINTS[path]
        raise NotFoundError("no such document", status=404)


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def catalogue(service: FakeService) -> Catalogue:
    return Catalogue(service)


def test_one_record_per_model_from_both_listings(catalogue: Catalogue) -> None:
    records = {m.id: m for m in catalogue.models()}
    assert list(records) == ["google/gemini-2.5-flash-image", "black-forest-labs/flux.2-pro",
                             "qwen/qwen-image-3"]
    gemini, flux, qwen = records.values()
    assert set(gemini.apis) == {"chat", "images"} and gemini.default_api == "chat"
    assert set(flux.apis) == {"chat"} and flux.default_api == "chat"  # not on /images/models
    assert set(qwen.apis) == {"images"} and qwen.default_api == "images"
    assert qwen.caps("images").aspect_ratios[-1] == "9:19.5" and qwen.max_n == 4
    assert qwen.caps("images").max_inputs == 3 and qwen.supports_seed
    assert gemini.caps("chat").seed and "21:9" in gemini.aspect_ratios
    assert gemini.accepts_images and flux.image_only and not gemini.image_only


def test_each_listing_is_fetched_once_however_many_ask(service: FakeService) -> None:
    service.delay = 0.05
    catalogue = Catalogue(service)
    threads = [threading.Thread(target=catalogue.models) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(service.calls) == ["images/models", "models"]
    catalogue.models(refresh=True)
    assert len(service.calls) == 4


def test_ttl_expiry_refetches(service: FakeService) -> None:
    now = [0.0]
    catalogue = Catalogue(service, ttl=10, clock=lambda: now[0])
    catalogue.models()
    now[0] = 5
    catalogue.models()
    assert len(service.calls) == 2
    now[0] = 11
    catalogue.models()
    assert len(service.calls) == 4


def test_prices_from_price_lines_and_their_basis(catalogue: Catalogue, service: FakeService) -> None:
    qwen = catalogue.with_prices(catalogue.require("qwen/qwen-image-3"))
    assert service.calls.count("images/models/qwen/qwen-image-3/endpoints") == 1
    price = qwen.price("2K")
    assert (price.usd, price.basis) == (0.03, "price line")  # output_image, never input_image
    # The real chat listing has no image_output: a chat-only model's price is unknown.
    flux = catalogue.with_prices(catalogue.require("black-forest-labs/flux.2-pro"))
    assert flux.price().usd is None and flux.price().basis == "unknown"


def test_per_token_price_lines_use_known_image_tokens(service: FakeService) -> None:
    ENDPOINTS["images/models/google/gemini-2.5-flash-image/endpoints"] = real.GEMINI_PRO_ENDPOINTS
    try:
        catalogue = Catalogue(service)
        gemini = catalogue.with_prices(catalogue.require("google/gemini-2.5-flash-image"))
        assert gemini.price("1K").usd == pytest.approx(0.00012 * 1290)
        # Google documents 1290 tokens per gemini-2.5-flash-image image at every size it makes
        assert gemini.price("4K").usd == pytest.approx(0.00012 * 1290)
        assert gemini.price("1K").basis == "token estimate"
        order = ig.Client(base_url="http://127.0.0.1:9/api/v1", api_key="k").request(
            "x", gemini.id, image_size="1K")
        from jupyter_imagegen._core.request import order_for

        catalogue.learn_billed(gemini.id, 0.0387036, 1, 1290, order_for(order, gemini))
        again = catalogue.require(gemini.id)
        assert again.last_billed == pytest.approx(0.0387036)
        learnt = again.price("1K")  # what the service billed for this size is what it costs ...
        assert (learnt.usd, learnt.basis) == (pytest.approx(0.0387036), "last billed")
        assert learnt.worst == pytest.approx(0.00012 * 1290)  # ... and the worst case never drops
        assert again.price("2K").basis == "token estimate"  # another size learnt nothing
    finally:
        del ENDPOINTS["images/models/google/gemini-2.5-flash-image/endpoints"]


def test_last_billed_prices_a_model_the_listings_do_not(catalogue: Catalogue) -> None:
    catalogue.learn_billed("black-forest-labs/flux.2-pro", 0.09, 3)
    price = catalogue.require("black-forest-labs/flux.2-pro").price()
    assert (price.usd, price.basis) == (pytest.approx(0.03), "last billed")


def test_unknown_and_text_only_models(catalogue: Catalogue) -> None:
    with pytest.raises(ig.NotFoundError) as info:
        catalogue.require("qwen/qwen-image")
    assert "qwen/qwen-image-3" in info.value.suggestions
    with pytest.raises(ig.ModelCapabilityError, match="cannot output images"):
        catalogue.require("openai/gpt-4o")


def test_a_refused_api_is_dropped_from_the_record(catalogue: Catalogue) -> None:
    catalogue.learn_refused("google/gemini-2.5-flash-image", "chat")
    assert set(catalogue.require("google/gemini-2.5-flash-image").apis) == {"images"}


class TestRequest:
    def test_build_normalises_and_refuses(self) -> None:
        r = Request.build("p", "m", image_size="2k", aspect_ratio=" 16:9 ", seed=3)
        assert (r.size, r.aspect_ratio, r.seed) == ("2K", "16:9", 3)
        assert Request.build("p", "m", resolution="512").size == "0.5K"
        assert Request.build("p", "m", size="1536x1024").pixels == "1536x1024"
        for bad in ({"image_size": "3K"}, {"n": 0}, {"n": True}, {"api": "x"},
                    {"colour": [1]}, {"input_references": ["x"]}, {"Bad-Name": 1},
                    {"image_size": "1K", "resolution": "2K"}):
            with pytest.raises(ig.InvalidInputError):
                Request.build("p", "m", **bad)
        # A name the kit does not know is an Image API parameter, checked against the model later.
        assert Request.build("p", "m", colour=1).parameters == {"colour": 1}
        with pytest.raises(ig.InvalidInputError, match="prompt is empty"):
            Request.build("  ", "m")

    def test_validated_against_the_models_own_record(self, catalogue: Catalogue) -> None:
        gemini, qwen = catalogue.require("google/gemini-2.5-flash-image"), catalogue.require(
            "qwen/qwen-image-3")
        Request.build("p", qwen.id, aspect_ratio="9:19.5", n=4).validated(qwen, "images")
        with pytest.raises(ig.ModelCapabilityError, match=r"aspect ratio 9:19\.5"):
            Request.build("p", gemini.id, aspect_ratio="9:19.5").validated(gemini, "chat")
        with pytest.raises(ig.ModelCapabilityError, match="n=5"):
            Request.build("p", qwen.id, n=5).validated(qwen, "images")
        with pytest.raises(ig.ModelCapabilityError, match="not served by the 'chat' API"):
            Request.build("p", qwen.id).validated(qwen, "chat")
        with pytest.raises(ig.InvalidInputError, match="no option"):
            Request.build("p", qwen.id, modalities=["image"]).validated(qwen, "images")

    def test_routing(self, catalogue: Catalogue) -> None:
        gemini, qwen = catalogue.require("google/gemini-2.5-flash-image"), catalogue.require(
            "qwen/qwen-image-3")
        assert choose_api(Request.build("p", gemini.id), gemini) == "chat"
        assert choose_api(Request.build("p", qwen.id), qwen) == "images"
        # Only the Image API has `quality`: auto takes it there for a model it serves.
        assert choose_api(Request.build("p", gemini.id, quality="high"), gemini) == "images"
        assert choose_api(Request.build("p", gemini.id, api="chat", quality="high"), gemini) == "chat"
        assert choose_api(Request.build("p", gemini.id), None) == "chat"

    def test_one_request_two_bodies(self, catalogue: Catalogue) -> None:
        flux = catalogue.require("black-forest-labs/flux.2-pro")
        r = Request.build("a fox", flux.id, aspect_ratio="16:9", image_size="0.5K", seed=1)
        chat = ADAPTERS["chat"].body(r, flux, stream=False)
        assert chat["modalities"] == ["image"]  # image-only on chat, as the docs ask
        assert chat["image_config"] == {"aspect_ratio": "16:9", "image_size": "0.5K"}
        images = ADAPTERS["images"].body(r, None, stream=True)
        assert (images["resolution"], images["aspect_ratio"], images["seed"]) == ("512", "16:9", 1)
        assert images["prompt"] == "a fox" and images["stream"] is True

    def test_options_round_trip(self) -> None:
        r = Request.build("p", "m", aspect_ratio="1:1", size="2K", n=2, quality="high")
        assert Request.build("p", "m", **r.options()) == r
        assert r.with_options(image_size="1K").size == "1K"


class TestErrors:
    def test_availability_errors_land_in_the_tree(self) -> None:
        capacity = error_from_envelope(real.CAPACITY_EXHAUSTED, status=429)
        assert isinstance(capacity, ig.RateLimitError) and capacity.retry_after == 12
        assert capacity.code == "capacity_exhausted"
        missing = error_from_envelope(real.MODEL_NOT_FOUND, status=400)
        assert isinstance(missing, ig.NotFoundError) and missing.code == "model_not_found"
        wrong = error_from_envelope(real.WRONG_ENDPOINT_AVAILABILITY, status=400)
        assert wrong.code == WRONG_ENDPOINT
        assert wrong.metadata["availability"]["constraint"]["detail"] == "/api/v1/images"

    def test_the_real_wrong_endpoint_404(self) -> None:
        error = error_from_envelope({"error": {"code": 404, "message": real.WRONG_ENDPOINT_TEXT}},
                                    status=404)
        assert isinstance(error, ig.NotFoundError) and error.code == WRONG_ENDPOINT

    def test_image_api_stream_error(self) -> None:
        error = images_error(real.STREAM_ERROR, status=200)
        assert isinstance(error, ig.ProviderError) and error.code == "upstream_error"

    def test_hostile_codes_stay_typed(self) -> None:
        for err in ({"code": "²", "message": "x"}, {"code": 10**400, "message": "x"},
                    {"code": 1e300}, {"http_status": True}, {"message": {"deep": [1]}}):
            assert isinstance(error_from_envelope({"error": err}, status=502), ig.ImageGenError)


class TestSpendGuard:
    def test_reserves_the_worst_case_and_counts_unreported_cost(self) -> None:
        guard = SpendGuard(0.10)
        with guard.reserve("m", ig.Quote(0.09, 0.06, "price line", images=3)) as held:
            assert guard.reserved == pytest.approx(0.09)  # the worst case, not the expected
            with pytest.raises(ig.SpendLimitError, match=r"up to \$0\.0300 \(1 image"), \
                    guard.reserve("m", ig.Quote(0.03, 0.03, "price line")):
                pass
            guard.settle(None, held)  # no usage.cost came back: the hold counts
        assert guard.spent == pytest.approx(0.09) and guard.reserved == 0

    def test_unknown_price_under_a_limit_is_refused_with_the_way_out(self) -> None:
        with pytest.raises(ig.SpendLimitError, match=r"prices=\{"), \
                SpendGuard(1.0).reserve("m", ig.Quote.unknown("input_text per 'second'")):
            pass
        with SpendGuard(None).reserve("m", ig.Quote.unknown("x")):
            pass  # no limit: nothing to protect


def test_reading_every_endpoints_record_merges_each_model_once_more_not_all() -> None:
    """Issue 19: each endpoints record re-merged every model (600 models took 16 s, 2,000 never
    ended); now a record, or what an answer teaches, rebuilds only its own model."""
    count = 2000

    def entry(i: int) -> dict[str, object]:
        return {"id": f"a/m{i}", "name": f"M{i}", "supported_parameters": {},
                "architecture": {"input_modalities": ["text"], "output_modalities": ["image"]}}

    def fetch(path: str, params: object) -> object:
        if path in ("models", "images/models"):
            return {"data": [entry(i) for i in range(count)]}
        return {"id": path, "endpoints": [{"provider_slug": "p", "pricing": [
            {"billable": "output_image", "unit": "image", "cost_usd": 0.04}]}]}

    catalogue = Catalogue(fetch)
    merges = 0
    real_merge = catalogue._merge

    def counting(*args: object) -> object:
        nonlocal merges
        merges += 1
        return real_merge(*args)  # type: ignore[arg-type]

    catalogue._merge = counting  # type: ignore[method-assign]
    priced = catalogue.models_with_prices(workers=4)
    catalogue.learn_billed("a/m7", 0.05, 1)
    assert [m.price().usd for m in priced[:3]] == [0.04, 0.04, 0.04]
    assert catalogue.require("a/m1999").has_endpoints
    assert catalogue.require("a/m7").last_billed == pytest.approx(0.05)
    assert merges <= 2 * count + 1  # one merge per model, one more per record, one per lesson


def test_pricing_some_models_reads_their_records_only_and_keeps_their_order() -> None:
    """The widget prices the page it shows: a subset, in its order, and no other record read.

    The record's ``pricing[]`` entries are OpenRouter's ``ImagePricingEntry`` ``{billable, unit,
    cost_usd}`` (OpenAPI, docs commit c9878752; shared/reference/openrouter-changes-2026.md).
    """
    asked: list[str] = []

    def fetch(path: str, params: object) -> object:
        if path in ("models", "images/models"):
            return {"data": [{"id": f"a/m{i}", "name": f"M{i}", "supported_parameters": {},
                              "architecture": {"input_modalities": ["text"],
                                               "output_modalities": ["image"]}} for i in range(6)]}
        asked.append(path)
        cost = 0.01 * (1 + int(re.search(r"a/m(\d+)", path).group(1)))  # type: ignore[union-attr]
        return {"id": path, "endpoints": [{"provider_slug": "p", "pricing": [
            {"billable": "output_image", "unit": "image", "cost_usd": cost}]}]}

    catalogue = Catalogue(fetch)
    page = [catalogue.require("a/m4"), catalogue.require("a/m1")]
    priced = catalogue.models_with_prices(page, workers=2)
    assert [m.id for m in priced] == ["a/m4", "a/m1"]
    assert [m.price().usd for m in priced] == [pytest.approx(0.05), pytest.approx(0.02)]
    assert sorted(re.search(r"a/m\d+", p).group(0) for p in asked) == ["a/m1", "a/m4"]  # type: ignore[union-attr]
