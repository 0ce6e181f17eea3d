"""The offline renderer is worth teaching with: words steer the pixels, edits follow, seeds behave.

Every test decodes the pictures the local server sends over HTTP (through the kit's client).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import Image, ImageChops, ImageStat

import jupyter_imagegen as ig
from jupyter_imagegen.server import LocalServer, parse_prompt, vocabulary

PHOTO = "openai/gpt-5-image-mini"  # a real id the local server draws in its photo style


@pytest.fixture(scope="module")
def client() -> Iterator[ig.Client]:
    with LocalServer(port=0) as srv, ig.Client(api_key="k", base_url=srv.base_url) as c:
        yield c


def picture(client: ig.Client, prompt: str, model: str = PHOTO, **options: object) -> Image.Image:
    options.setdefault("seed", 11)
    return client.generate(prompt, model, **options).image.convert("RGB")


def brightness(image: Image.Image) -> float:
    return float(ImageStat.Stat(image.convert("L")).mean[0])


def share(image: Image.Image, test: object) -> float:
    """The fraction of (downscaled) pixels for which ``test(r, g, b)`` holds."""
    small = image.resize((128, 128))
    pixels = [small.getpixel((x, y)) for y in range(128) for x in range(128)]
    return sum(1 for p in pixels if test(*p)) / len(pixels)  # type: ignore[operator]


def red(r: int, g: int, b: int) -> bool:
    return r > 100 and r > 2.5 * g and r > 2.5 * b


def yellow(r: int, g: int, b: int) -> bool:
    return r > 200 and g > 170 and b < 110


def test_night_is_darker_than_day_and_the_red_fox_stays_red(client: ig.Client) -> None:
    night = picture(client, "a red fox at night")
    day = picture(client, "a red fox at day")
    assert brightness(night) < brightness(day) - 50
    assert share(night, red) > 0.01 and share(day, red) > 0.01
    assert share(picture(client, "a fox at night"), red) < 0.002  # "red" made those pixels red


def test_times_of_day_order_the_light(client: ig.Client) -> None:
    light = {t: brightness(picture(client, f"a house by a tree at {t}"))
             for t in ("dawn", "day", "dusk", "night")}
    assert light["day"] > light["dawn"] > light["night"]
    assert light["day"] > light["dusk"] > light["night"]


@pytest.mark.parametrize("noun", ["fox", "cat", "dog", "bird", "fish", "lighthouse", "house",
                                  "tree", "boat", "car", "moon", "sun", "mountain", "flower",
                                  "hat"])
def test_every_listed_noun_draws_something(client: ig.Client, noun: str) -> None:
    assert noun in vocabulary()["animals"] + vocabulary()["objects"]
    empty = picture(client, "at day")
    drawn = picture(client, f"a {noun} at day")
    w, h = drawn.size
    scene = (0, 0, w, round(h * 0.9))  # leave out the caption, which always differs
    diff = ImageChops.difference(drawn.crop(scene), empty.crop(scene)).convert("L")
    changed = share(diff.convert("RGB"), lambda r, g, b: r > 40)
    assert changed > 0.004, (noun, changed)


def test_a_colour_word_colours_its_noun_not_the_whole_picture(client: ig.Client) -> None:
    scene = parse_prompt("a blue cat wearing a red hat at dusk, stormy, watercolour")
    assert [(s.kind, s.colour) for s in scene.shapes] == [("cat", (40, 90, 220)),
                                                         ("hat", (220, 40, 40))]
    assert (scene.time, scene.mood, scene.style, scene.free_colours) == (
        "dusk", "stormy", "painterly", ())
    assert parse_prompt("make it red").free_colours == ((220, 40, 40),)


def test_moods_change_the_whole_picture(client: ig.Client) -> None:
    def saturation(image: Image.Image) -> float:
        return float(ImageStat.Stat(image.convert("HSV")).mean[1])

    cheerful = picture(client, "a boat and a lighthouse, cheerful")
    gloomy = picture(client, "a boat and a lighthouse, gloomy")
    assert saturation(cheerful) > saturation(gloomy) + 30
    assert brightness(cheerful) > brightness(gloomy) + 20


def test_a_style_word_overrides_the_models_style(client: ig.Client) -> None:
    def apart(a: Image.Image, b: Image.Image) -> float:
        return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3

    prompt = "a cat under the moon, pencil sketch"
    as_photo = picture(client, prompt, "offline/photo")  # a JPEG: compare, allowing for its loss
    as_sketch = picture(client, prompt, "offline/sketch")
    plain = picture(client, "a cat under the moon", "offline/photo")
    assert apart(as_photo, as_sketch) < 3 < 15 < apart(as_photo, plain)


def test_the_edit_follows_the_instruction(client: ig.Client) -> None:
    day = client.generate("a house and a tree at day", PHOTO, seed=5)
    night = day.edit("make it night with a yellow moon", model=PHOTO, seed=5)
    before, after = day.image.convert("RGB"), night.image.convert("RGB").resize(day.image.size)
    assert brightness(after) < brightness(before) - 60  # darker
    top = (0, 0, before.width, before.height // 2)
    assert share(after.crop(top), yellow) > 0.005 > share(before.crop(top), yellow)  # a moon
    w, h = before.size  # and it is still the same picture: the house is where it was
    edges = ImageChops.difference(before.convert("L").point(lambda v: v * 0.4),
                                  after.convert("L")).crop((0, h // 2, w, round(h * 0.9)))
    assert brightness(edges) < 60


def test_a_seed_reproduces_and_no_seed_gives_a_new_picture(client: ig.Client) -> None:
    a = client.generate("three birds over a boat", PHOTO, seed=42).image
    b = client.generate("three birds over a boat", PHOTO, seed=42).image
    assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None
    first = client.generate("three birds over a boat", PHOTO).image.convert("RGB")
    second = client.generate("three birds over a boat", PHOTO).image.convert("RGB")
    assert ImageChops.difference(first, second).getbbox() is not None


def test_a_model_without_seeds_cannot_be_pinned_down(client: ig.Client) -> None:
    model = "recraft/recraft-v4"  # its listing has no ``seed``
    assert not client.model_info(model).supports_seed
    with pytest.raises(ig.ModelCapabilityError, match="does not take seed"):
        client.generate("a fox by a tree", model, seed=1)
    a = client.generate("a fox by a tree", model).image.convert("RGB")
    b = client.generate("a fox by a tree", model).image.convert("RGB")
    assert ImageChops.difference(a, b).getbbox() is not None  # each call a new picture


def test_real_models_differ_by_style_in_a_comparison(client: ig.Client) -> None:
    models = ["google/gemini-2.5-flash-image", "openai/gpt-5-image-mini", "recraft/recraft-v4"]
    seen = {m: picture(client, "a lighthouse at dusk", m) for m in models[:2]}
    tones = {m: len(im.getcolors(1 << 20) or []) for m, im in seen.items()}
    for i, a in enumerate(models[:2]):
        for b in models[i + 1:2]:
            diff = ImageStat.Stat(ImageChops.difference(seen[a], seen[b])).mean
            assert sum(diff) / 3 > 8, (a, b)
    poster = client.generate("a lighthouse at dusk", models[2]).image.convert("RGB")
    assert len(poster.getcolors(1 << 20) or []) < min(tones.values()) / 3  # flat poster fills


def test_the_server_honours_a_seed_only_where_the_listing_takes_one() -> None:
    import base64
    import io

    import requests

    def drawn(srv: LocalServer, model: str) -> bytes:
        body = {"model": model, "messages": [{"role": "user", "content": "a cat at dusk"}],
                "modalities": ["image"], "seed": 9}
        r = requests.post(f"{srv.base_url}/chat/completions", json=body, timeout=30)
        url = r.json()["choices"][0]["message"]["images"][0]["image_url"]["url"]
        return Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))).convert(
            "RGB").tobytes()

    with LocalServer(port=0) as srv:
        assert "seed" in srv.catalogue[PHOTO].parameters
        assert "seed" not in srv.catalogue["recraft/recraft-v4"].parameters
        assert drawn(srv, PHOTO) == drawn(srv, PHOTO)
        assert drawn(srv, "recraft/recraft-v4") != drawn(srv, "recraft/recraft-v4")
