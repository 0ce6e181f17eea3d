"""The price model (``_wire/prices.py``): price lines read into dimensions, a request priced whole.

Lines are the recorded ones the local server ships (``jupyter_imagegen/server/data/README.md``
cites each capture), except the quality x size variants, which no capture of the real service
shows: those come from a public project's fixture (Routstr/routstr-core@c20d76e3,
tests/unit/test_image_catalog.py, x-ai/grok-imagine-image-2.0), marked [FIXTURE] below.
The billed answers are real ones a public project recorded (clostaunau/holiday-card@0cd1cfc7,
docs/industry-review/openrouter-image-api-snapshot.md, "Live verification"), marked [CAPTURE].
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen._core.model import Model
from jupyter_imagegen._core.request import order_for
from jupyter_imagegen._wire.image_tokens import gpt_image_2_tokens, image_tokens
from jupyter_imagegen._wire.listings import PriceLine
from jupyter_imagegen._wire.prices import Order, bill, quote, read_variant
from jupyter_imagegen.server import LocalServer


def lines(*rows: tuple[str, str, float, str | None], provider: str | None = None) -> tuple[PriceLine, ...]:
    return tuple(PriceLine(b, u, c, v, provider) for b, u, c, v in rows)


GROK_VARIANTS = lines(  # [FIXTURE] quality x size variants
    ("input_image", "image", 0.01, None),
    ("output_image", "image", 0.04, "low_1k"), ("output_image", "image", 0.06, "low_2k"),
    ("output_image", "image", 0.06, "medium_1k"), ("output_image", "image", 0.08, "medium_2k"))
SEEDREAM_5_PRO = lines(  # recorded (rbb-dev/Open-WebUI-OpenRouter-pipe@25465782)
    ("output_image", "image", 0.045, None), ("output_image", "image", 0.09, "high_resolution"),
    ("input_image", "image", 0.003, None))
RIVERFLOW = lines(  # recorded (rbb-dev/Open-WebUI-OpenRouter-pipe@8771a5da)
    ("output_image", "image", 0.15, None), ("output_image", "image", 0.15, "2k"),
    ("output_image", "image", 0.33, "4k"), ("input_font", "image", 0.03, None),
    ("input_reference", "image", 0.2, None))
GEMINI_3_PRO = lines(  # [CAPTURE] holiday-card's endpoints record of google/gemini-3-pro-image
    ("input_image", "token", 2e-06, None), ("output_image", "token", 0.00012, None))
GPT_IMAGE_2 = lines(  # recorded (rbb-dev/Open-WebUI-OpenRouter-pipe@a1742a1a)
    ("input_image", "token", 8e-06, None), ("input_text", "token", 5e-06, None),
    ("output_image", "token", 3e-05, None))
#: gemini-3-pro-image-preview's recorded /models pricing: prompt and completion per token.
GEMINI_3_PRO_LISTING = {"prompt": 2e-06, "completion": 1.2e-05, "image": 2e-06}


def order(tier: str | None = "1K", quality: str | None = None, images: int = 1,
          inputs: tuple[tuple[int, int] | None, ...] = (), size: tuple[int, int] | None = None,
          prompt: str = "a lighthouse") -> Order:
    width, height = size or {"0.5K": (512, 512), "1K": (1024, 1024), "2K": (2048, 2048),
                             "4K": (4096, 4096), None: (1024, 1024)}[tier]
    return Order(images=images, tier=tier, width=width, height=height, quality=quality,
                 inputs=inputs, prompt_chars=len(prompt), prompt_bytes=len(prompt.encode()),
                 sized=size is not None)


def test_variants_read_into_dimensions() -> None:
    assert (read_variant("medium_2k").quality, read_variant("medium_2k").tier) == ("medium", "2K")
    assert read_variant("512").tier == "0.5K" and read_variant("4K").tier == "4K"
    assert read_variant("high_resolution").size_class == "high"
    assert read_variant(None).plain and read_variant("  ").plain
    assert read_variant("ultra_8k").unread and read_variant("sunburst").unread


def test_quality_and_size_are_priced_together() -> None:
    low_1k = quote(GROK_VARIANTS, order("1K", "low"))
    assert (low_1k.worst, low_1k.expected) == (pytest.approx(0.04), pytest.approx(0.04))
    medium_2k = quote(GROK_VARIANTS, order("2K", "medium"))
    assert medium_2k.worst == pytest.approx(0.08) and medium_2k.expected == pytest.approx(0.08)
    # Quality left open: the dearest quality at that size may be billed; the first listed expected.
    open_1k = quote(GROK_VARIANTS, order("1K"))
    assert (open_1k.worst, open_1k.expected) == (pytest.approx(0.06), pytest.approx(0.04))
    # Size left open too: any of the four lines.
    assert quote(GROK_VARIANTS, order(None)).worst == pytest.approx(0.08)
    # A size no line prices is unknown, not the nearest line.
    unknown = quote(GROK_VARIANTS, order("4K", "low"))
    assert unknown.worst is None and not unknown.known and "4K" in unknown.detail


def test_a_size_class_without_a_threshold_is_reserved_and_expected_above_it() -> None:
    one_k = quote(SEEDREAM_5_PRO, order("1K"))
    assert one_k.worst == pytest.approx(0.09)  # high_resolution may apply: no document says when
    assert one_k.expected == pytest.approx(0.045)
    two_k = quote(SEEDREAM_5_PRO, order("2K"))
    assert two_k.expected == pytest.approx(0.09) and two_k.worst == pytest.approx(0.09)
    explicit = quote(SEEDREAM_5_PRO, order(None, size=(1536, 1536)))
    assert explicit.expected == pytest.approx(0.045)  # 2.36 MP: at the split, not above it


def test_inputs_are_charged_per_image_per_request_and_per_megapixel() -> None:
    edit = quote(RIVERFLOW, order("1K", inputs=((1024, 1024), (512, 512))))
    assert edit.worst == pytest.approx(0.15 + 2 * 0.2)  # input_font is never sent: nothing for it
    assert edit.expected == pytest.approx(0.15 + 2 * 0.2)
    assert quote(RIVERFLOW, order("4K")).worst == pytest.approx(0.33)
    assert quote(RIVERFLOW, order("1K")).expected == pytest.approx(0.15)  # the plain line is 1K
    styles = lines(("output_image", "image", 0.1, None), ("input_reference", "request", 0.005, None))
    three_refs = quote(styles, order("1K", inputs=((64, 64),) * 3))
    assert three_refs.worst == pytest.approx(0.105)  # once per request, whatever the count
    assert quote(styles, order("1K")).worst == pytest.approx(0.1)  # no input: no charge
    flex = lines(("input_image", "megapixel", 0.06, None), ("output_image", "megapixel", 0.06, None))
    priced = quote(flex, order("1K", inputs=((1000, 1000), (500, 400))))
    assert priced.worst == pytest.approx(0.06 * 1024 * 1024 / 1e6 + 0.06 * 1.2)
    # An input whose size is unknown (a URL) cannot be priced per megapixel: unknown.
    assert quote(flex, order("1K", inputs=(None,))).worst is None


def test_every_image_the_answer_may_hold_is_counted() -> None:
    four = quote(SEEDREAM_5_PRO, order("2K", images=4))
    assert four.worst == pytest.approx(4 * 0.09) and four.per_image == pytest.approx(0.09)
    flux = lines(("output_image", "megapixel", 0.03, None))
    assert quote(flux, order("2K", images=3)).worst == pytest.approx(3 * 0.03 * 2048 * 2048 / 1e6)


def test_unknown_charges_make_the_worst_case_unknown() -> None:
    per_second = lines(("output_image", "second", 0.01, None))
    assert quote(per_second, order()).worst is None
    video = lines(("output_image", "image", 0.04, None), ("output_video", "image", 0.5, None))
    found = quote(video, order())
    assert found.worst is None and "output_video" in found.detail
    assert found.expected == pytest.approx(0.04)  # the label still says what it knows
    no_count = lines(("output_image", "token", 4.7e-05, None))  # mai-image-2.5: no documented count
    assert quote(no_count, order(), image_tokens("microsoft/mai-image-2.5", order())).worst is None
    assert quote((), order()).basis == "unknown"


def test_providers_worst_is_the_dearest_expected_the_cheapest() -> None:
    both = (*lines(("output_image", "image", 0.04, None), provider="a"),
            *lines(("output_image", "image", 0.07, None), provider="b"))
    found = quote(both, order())
    assert (found.worst, found.expected) == (pytest.approx(0.07), pytest.approx(0.04))
    assert "2 providers" in found.detail


def test_documented_token_counts_per_model_size_and_quality() -> None:
    assert image_tokens("google/gemini-3-pro-image-preview", order("4K")).expected == 2000
    assert image_tokens("google/gemini-3-pro-image", order("2K")).expected == 1120
    assert image_tokens("google/gemini-3.1-flash-image", order("0.5K")).expected == 747
    assert image_tokens("google/gemini-2.5-flash-image", order(None)).expected == 1290
    low = image_tokens("openai/gpt-image-1", order("1K", "low", size=(1024, 1024)))
    assert (low.worst, low.expected) == (272, 272)
    auto = image_tokens("openai/gpt-image-1", order("1K"))
    assert (auto.worst, auto.expected) == (6240, 1056)  # auto: up to high portrait; medium expected
    # A quality the model lists with no documented count makes the count unknown.
    assert image_tokens("openai/gpt-image-1", order("1K", "xhigh")) is None
    assert image_tokens("openai/gpt-image-2", order("1K"), qualities=("low", "xhigh")) is None
    # gpt-image-2's formula reproduces the recorded answers to the token [CAPTURE].
    assert gpt_image_2_tokens(1152, 1536, "low") == 181 and gpt_image_2_tokens(1328, 1824, "low") == 213
    assert image_tokens("black-forest-labs/flux.2-pro", order()) is None


@pytest.mark.parametrize(("model_id", "prices", "listing", "options", "billed"), [
    # [CAPTURE] call A: gemini-3-pro-image, 3:4, 2K, one 64x64 reference
    ("google/gemini-3-pro-image", GEMINI_3_PRO, GEMINI_3_PRO_LISTING,
     {"aspect_ratio": "3:4", "size": "2K", "inputs": ((64, 64),)}, 0.136002),
    # [CAPTURE] call B: the same at 4K
    ("google/gemini-3-pro-image", GEMINI_3_PRO, GEMINI_3_PRO_LISTING,
     {"aspect_ratio": "3:4", "size": "4K", "inputs": ((64, 64),)}, 0.24177),
    # [CAPTURE] call C: gpt-image-2, 3:4, quality low (the service chose 1152x1536)
    ("openai/gpt-image-2", GPT_IMAGE_2, {}, {"aspect_ratio": "3:4", "quality": "low"}, 0.005565),
    # [CAPTURE] call D: gpt-image-2, size 1328x1824, low
    ("openai/gpt-image-2", GPT_IMAGE_2, {}, {"pixels": (1328, 1824), "quality": "low"}, 0.006525),
])
def test_the_guard_reserves_at_least_what_real_answers_billed(
        model_id: str, prices: tuple[PriceLine, ...], listing: dict[str, float],
        options: dict[str, object], billed: float) -> None:
    model = Model(id=model_id, name=model_id, price_lines=prices, token_prices=listing,
                  output_modalities=("image", "text") if listing else ("image",))
    pixels = options.get("pixels")
    from jupyter_imagegen._core.model import largest_area

    width, height = pixels or largest_area(options.get("aspect_ratio"), options.get("size"))  # type: ignore[arg-type]
    found = model.quote(Order(images=1, tier=options.get("size"), width=width, height=height,  # type: ignore[arg-type]
                              quality=options.get("quality"), inputs=options.get("inputs", ()),  # type: ignore[arg-type]
                              prompt_chars=60, prompt_bytes=60, sized=pixels is not None), api="images")
    assert found.worst is not None and found.worst >= billed
    assert found.expected == pytest.approx(billed, rel=0.25)
    assert found.basis == "token estimate"


def test_the_server_bills_what_the_client_expects(server: LocalServer) -> None:
    client = ig.Client(base_url=server.base_url, api_key="k")
    source = io.BytesIO()
    Image.new("RGB", (640, 480), "teal").save(source, "PNG")
    for model, options in (("qwen/qwen-image-3", {"images": [source.getvalue()]}),
                           ("sourceful/riverflow-v2-pro", {"image_size": "4K"}),
                           ("black-forest-labs/flux.2-flex", {"images": [source.getvalue()],
                                                              "aspect_ratio": "4:3"}),
                           ("openai/gpt-image-1", {"quality": "low", "aspect_ratio": "2:3"})):
        expected = client.quote("a teal square", model, **options)
        result = client.generate("a teal square", model, **options)
        assert result.cost == pytest.approx(expected.expected, rel=1e-6), (model, expected.detail)
        assert expected.worst is not None and expected.worst >= result.cost - 1e-9
    # The ratio left open, the service picks it (from the input here): the worst case still holds.
    open_ratio = client.quote("a teal square", "black-forest-labs/flux.2-flex", images=[source.getvalue()])
    billed = client.generate("a teal square", "black-forest-labs/flux.2-flex", images=[source.getvalue()])
    assert open_ratio.worst is not None and open_ratio.worst >= billed.cost


def test_an_edit_is_reserved_with_its_input_charges(server: LocalServer) -> None:
    source = io.BytesIO()
    Image.new("RGB", (256, 256), "navy").save(source, "PNG")
    client = ig.Client(base_url=server.base_url, api_key="k", spend_limit=0.50)
    before = len([r for r in server.requests if r.method == "POST"])
    with pytest.raises(ig.SpendLimitError, match=r"up to \$0\.5500") as info:
        client.generate("recolour it", "sourceful/riverflow-v2-pro", image_size="1K",
                        images=[source.getvalue(), source.getvalue()])
    assert "input_reference" in str(info.value)
    # The size left open: the 4K line may be the one billed.
    with pytest.raises(ig.SpendLimitError, match=r"up to \$0\.7300"):
        client.generate("recolour it", "sourceful/riverflow-v2-pro",
                        images=[source.getvalue(), source.getvalue()])
    assert len([r for r in server.requests if r.method == "POST"]) == before  # nothing sent
    assert client.spent == 0


def test_an_uncounted_model_is_refused_under_a_limit_then_learnt(server: LocalServer) -> None:
    limited = ig.Client(base_url=server.base_url, api_key="k", spend_limit=1.0)
    with pytest.raises(ig.SpendLimitError, match=r"unknown.*prices=\{"):
        limited.generate("a fox", "microsoft/mai-image-2.5")
    free = ig.Client(base_url=server.base_url, api_key="k")
    result = free.generate("a fox", "microsoft/mai-image-2.5")
    learnt = free.quote("a fox", "microsoft/mai-image-2.5")
    assert learnt.known and learnt.expected == pytest.approx(result.cost, rel=0.05)
    assert "billed this session" in learnt.detail or learnt.basis == "last billed"


def test_quote_and_price_are_public_and_say_their_basis(client: ig.Client) -> None:
    quoted = client.quote("a lighthouse", "openai/gpt-image-1", n=3)
    assert isinstance(quoted, ig.Quote) and quoted.images == 3
    assert quoted.worst is not None and quoted.expected is not None
    assert quoted.worst >= quoted.expected and "image tokens" in quoted.detail
    price = client.price("openai/gpt-image-1")
    # per image at the documented counts, plus the prompt's input_text tokens
    assert price.usd == pytest.approx(1056 * 4e-05, abs=1e-4)
    assert price.worst == pytest.approx(6240 * 4e-05, abs=1e-3)
    assert str(price) == "$0.0423/image (token estimate)"
    assert quoted.expected == pytest.approx(3 * 1056 * 4e-05, abs=2e-4)


def test_order_reads_the_request(client: ig.Client) -> None:
    model = client.model_info("qwen/qwen-image-3")
    source = io.BytesIO()
    Image.new("RGB", (300, 200)).save(source, "PNG")
    request = client.request("a fox " * 10, "qwen/qwen-image-3", images=[source.getvalue()],
                             aspect_ratio="16:9", image_size="2K", quality="low")
    found = order_for(request, model)
    assert (found.tier, found.width, found.height, found.quality) == ("2K", 2688, 1536, "low")
    assert found.inputs == ((300, 200),) and found.prompt_chars == 60
    assert order_for(client.request("x", "qwen/qwen-image-3", size="1536x1024"), model).sized


def test_bill_is_exact_for_known_counts() -> None:
    assert bill(GPT_IMAGE_2, order("1K", "low", prompt="x" * 40), 196) == pytest.approx(
        196 * 3e-05 + 10 * 5e-06)
    assert bill((), order(), 1290) == 0.0


def test_input_sizes_come_from_headers_even_far_into_the_file() -> None:
    """An edit's inputs are sized from the header (client and gateway alike): a prefix first, the
    whole file when the header is further in."""
    import base64
    import io

    from PIL import Image

    from jupyter_imagegen._wire.dataurl import image_size as _input_size

    def url(image: Image.Image, fmt: str, **save: object) -> str:
        out = io.BytesIO()
        image.save(out, fmt, **save)
        return f"data:image/{fmt.lower()};base64," + base64.b64encode(out.getvalue()).decode()

    noisy = Image.effect_noise((900, 700), 60).convert("RGB")  # megabytes of base64
    assert _input_size(url(noisy, "PNG")) == (900, 700)
    assert _input_size(url(noisy, "WEBP")) == (900, 700)
    # A JPEG whose frame header comes after a 200 KB ICC profile: past the first prefix.
    far = url(Image.new("RGB", (640, 480)), "JPEG", icc_profile=b"x" * 200_000)
    assert far.index(",") + 64 * 1024 < len(far) and _input_size(far) == (640, 480)
    assert _input_size("data:image/png;base64,AAAA") is None  # junk: unknown, never a guess
    assert _input_size("https://example.org/a.png") is None
