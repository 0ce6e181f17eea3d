"""Region edits: the answer is composited inside a feathered mask; outside it nothing changes."""

from __future__ import annotations

import base64
import json

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter

import jupyter_imagegen as ig
from jupyter_imagegen._core.regions import MASK_NOTE, feathered, region_mask
from jupyter_imagegen.server import LocalServer

EDITOR = "offline/editor"  # takes input images (several)


def changed_outside(before: Image.Image, after: Image.Image, keep: Image.Image) -> int:
    """Pixels that differ where ``keep`` is white (the area that must be bit-identical)."""
    diff = ImageChops.difference(before.convert("RGB"), after.convert("RGB")).convert("L")
    diff = diff.point(lambda v: 255 if v else 0)
    return sum(ImageChops.multiply(diff, keep).histogram()[1:])


def outside_band(mask: Image.Image, radius: int) -> Image.Image:
    """Everything farther than twice the feather radius from the mask: must be untouched."""
    grown = mask.reduce(2).filter(ImageFilter.MaxFilter(2 * radius + 3)).resize(mask.size)
    return grown.point(lambda v: 0 if v else 255)


def posts(server: LocalServer) -> list[dict[str, object]]:
    return [json.loads(r.body) for r in server.requests if r.method == "POST"]


def test_a_box_edit_keeps_every_pixel_outside_the_band(client: ig.Client,
                                                       server: LocalServer) -> None:
    original = client.generate("a blue circle on a white background", EDITOR, seed=3)
    edited = original.edit("make it a red square at night", mask=(256, 256, 768, 768))
    before, after = original.image, edited.image
    assert after.size == before.size
    radius = edited.params["region"]["feather"]
    mask = region_mask((256, 256, 768, 768), before.size)
    assert changed_outside(before, after, outside_band(mask, radius)) == 0
    inner = Image.new("L", before.size, 0)
    inner.paste(255, (300, 300, 724, 724))
    assert changed_outside(before, after, inner) > 1000  # the region did change
    # The provider's answer is kept as sent, beside the composite.
    assert edited.provider_images and edited.provider_images[0].data != edited.generated[0].data
    sent = posts(server)[-1]
    parts = sent["messages"][0]["content"]  # type: ignore[index]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 2  # the image and the mask as a second reference
    assert MASK_NOTE.strip() in json.dumps(parts)
    assert edited.prompt == "make it a red square at night"


def test_a_painted_mask_of_any_size_is_scaled_and_kept_exact(client: ig.Client) -> None:
    original = client.generate("a green field", EDITOR, seed=5)
    paint = Image.new("RGBA", (128, 128), (0, 0, 0, 0))
    ImageDraw.Draw(paint).ellipse((16, 16, 64, 64), fill=(255, 255, 255, 255))
    edited = original.edit("a yellow moon", mask=paint, feather=6)
    region = region_mask(paint, original.image.size)
    assert changed_outside(original.image, edited.image, outside_band(region, 6)) == 0
    assert edited.params["region"]["box"] is not None


def test_feathering_is_zero_beyond_its_band() -> None:
    mask = region_mask((40, 40, 60, 60), (100, 100))
    soft = feathered(mask, 5)
    assert soft.getpixel((50, 50)) == 255 and soft.getpixel((10, 10)) == 0
    assert 0 < soft.getpixel((63, 50)) < 255  # soft inside the band
    assert soft.crop((0, 0, 100, 30)).getbbox() is None
    box = soft.getbbox()
    assert box is not None and box[0] >= 40 - 10 and box[2] <= 60 + 10  # at most twice the radius


def test_bad_masks_are_refused_before_sending(client: ig.Client, server: LocalServer) -> None:
    original = client.generate("a fox", EDITOR)
    before = len(posts(server))
    with pytest.raises(ig.InvalidInputError, match="not inside"):
        original.edit("x", mask=(0, 0, 5000, 10))
    with pytest.raises(ig.InvalidInputError, match="mask must be"):
        original.edit("x", mask="the sky")
    assert len(posts(server)) == before


def test_a_region_edit_saves_and_reads_back(client: ig.Client, tmp_path: object) -> None:
    original = client.generate("a house", EDITOR, seed=1)
    edited = original.edit("paint the door red", mask=(400, 500, 600, 900))
    path = edited.save(tmp_path)[0]  # type: ignore[arg-type]
    with Image.open(path) as saved:
        assert ImageChops.difference(saved.convert("RGB"), edited.image.convert("RGB")).getbbox() is None
    data = edited.provider_images[0].data
    assert base64.b64encode(data)  # the provider's bytes, untouched, still there
