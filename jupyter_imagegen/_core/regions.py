"""Region edits: change one part of an image and keep every other pixel exactly.

Image APIs' "masked" edits repaint the whole picture (users measured half the pixels that should
have been kept changing), and OpenRouter's Image API has no mask parameter at all. So the kit
does the masking itself: it sends the image (and, where the model takes more than one input, the
mask as a second reference with a sentence saying what it marks), then composites the answer
back into the original inside a feathered mask. Outside the mask's feather band every pixel is
bit-identical to the original; the provider's own answer is kept beside the composite
(``result.provider_images``), unaltered.

``mask`` is a PIL image (white or opaque = change, black or transparent = keep; any size, scaled to
the image) or a box ``(left, top, right, bottom)`` in the image's pixels.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageFilter

from .._exceptions import InvalidInputError
from .._results.result import GeneratedImage, ImageResult
from .request import Request

if TYPE_CHECKING:
    from .client import Client

__all__ = ["composite", "edit_result", "feathered", "region_mask"]

#: How the mask is described to a model that receives it as a second input image.
MASK_NOTE = ("The second image is a mask: change only the area that is white in it and keep "
             "everything else exactly as it is. ")


def region_mask(mask: object, size: tuple[int, int]) -> Image.Image:
    """An ``L`` mask of ``size`` (255 = change) from a PIL image or a ``(l, t, r, b)`` box."""
    if isinstance(mask, Image.Image):
        if mask.mode in ("RGBA", "LA") or (mask.mode == "P" and "transparency" in mask.info):
            grey = mask.convert("RGBA").getchannel("A")
        else:
            grey = mask.convert("L")
        grey = grey if grey.size == size else grey.resize(size, Image.Resampling.NEAREST)
        return grey.point(lambda v: 255 if v >= 128 else 0)
    if isinstance(mask, Sequence) and not isinstance(mask, (str, bytes)) and len(mask) == 4 \
            and all(isinstance(v, int) and not isinstance(v, bool) for v in mask):
        left, top, right, bottom = (int(v) for v in mask)
        width, height = size
        if not (0 <= left < right <= width and 0 <= top < bottom <= height):
            raise InvalidInputError(
                f"the box {tuple(mask)!r} is not inside the {width}x{height} image: give "
                "(left, top, right, bottom) in pixels, with left < right and top < bottom")
        box = Image.new("L", size, 0)
        box.paste(255, (left, top, right, bottom))
        return box
    raise InvalidInputError("mask must be a PIL image (white = change) or a box "
                            f"(left, top, right, bottom) in pixels, not {type(mask).__name__}")


def _dilate(mask: Image.Image, radius: int) -> Image.Image:
    """``mask`` grown by at least ``radius`` pixels (a 2:1 reduced max filter: linear time).

    A full-size ``MaxFilter`` costs the square of its size per pixel (2 s for a 1K mask at
    radius 16); on a mask reduced by ``step`` it costs ``step**4`` times less, and growing one
    reduced pixel grows ``step`` real ones, so the band is never narrower than asked.
    """
    step = max(1, min(8, radius // 4))
    small = mask.reduce(step) if step > 1 else mask
    small = small.point(lambda v: 255 if v else 0)
    grow = -(-radius // step) + 1
    small = small.filter(ImageFilter.MaxFilter(2 * grow + 1))
    return small.resize(mask.size, Image.Resampling.NEAREST) if step > 1 else small


def feathered(mask: Image.Image, radius: int) -> Image.Image:
    """``mask`` softened over ``radius`` pixels, and exactly 0 beyond that band."""
    if radius <= 0:
        return mask
    band = _dilate(mask, radius)
    soft = band.filter(ImageFilter.GaussianBlur(radius / 2))
    return Image.composite(soft, Image.new("L", mask.size, 0), band)  # 0 outside the band


def composite(original: Image.Image, answer: Image.Image, mask: Image.Image) -> Image.Image:
    """``answer`` inside ``mask`` over ``original``; every pixel where the mask is 0 is kept."""
    mode = "RGBA" if "A" in original.getbands() else "RGB"
    base = original if original.mode == mode else original.convert(mode)
    painted = answer.convert(mode)
    if painted.size != base.size:
        painted = painted.resize(base.size, Image.Resampling.LANCZOS)
    return Image.composite(painted, base, mask)


def _png(image: Image.Image) -> GeneratedImage:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return GeneratedImage(buffer.getvalue(), "image/png")


def _mask_input(mask: Image.Image) -> bytes:
    buffer = io.BytesIO()
    mask.convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def edit_result(client: Client, result: ImageResult, prompt: str, model: str | None,
                options: dict[str, Any]) -> ImageResult:
    """What ``result.edit(prompt, ...)`` runs; with ``mask=`` a region edit (see the module)."""
    mask, feather = options.pop("mask", None), options.pop("feather", None)
    index = options.pop("index", 0)
    extra = options.pop("images", None)
    model = model or result.requested_model or result.model
    if mask is None:
        inputs: list[object] = list(result.generated)
        if extra is not None:
            inputs += extra if isinstance(extra, (list, tuple)) else [extra]
        return _send_edit(client, result, prompt, model, inputs, options)
    if not result.generated:
        raise InvalidInputError("this result has no image to edit a region of")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(result.generated):
        raise InvalidInputError(f"index={index!r}: this result has {len(result.generated)} "
                                f"image(s); give the position of the one to edit, from 0")
    source = result.generated[index]
    region = region_mask(mask, source.size)
    radius = max(2, round(min(source.size) / 64)) if feather is None else int(feather)
    record = client._record(model)
    takes_two = record is None or any(c.max_inputs is None or c.max_inputs >= 2
                                      for c in record.apis.values())
    inputs = [source, _mask_input(region)] if takes_two else [source]
    asked = (MASK_NOTE + prompt) if takes_two else prompt
    answer = _send_edit(client, result, asked, model, inputs, options)
    if not answer.generated:
        return answer
    soft = feathered(region, radius)
    made = composite(source.image, answer.generated[0].image, soft)
    box = region.getbbox()
    params = {**answer.params, "region": {"box": list(box) if box else None, "feather": radius,
                                          "mask_sent": takes_two}}
    return dataclasses.replace(answer, prompt=prompt, generated=(_png(made),),
                               provider_images=answer.generated, params=params)


def _send_edit(client: Client, result: ImageResult, prompt: str, model: str,
               inputs: list[object], options: dict[str, Any]) -> ImageResult:
    cancel = options.pop("cancel", None)  # how the call is run, not what is asked
    on_event = options.pop("on_event", None)
    if isinstance(result.request, Request):
        stream = bool(options.pop("stream", False))
        return client.send(result.request.with_options(prompt=prompt, model=model, images=inputs,
                                                       **options),
                           stream=stream, cancel=cancel, on_event=on_event)
    kept = {k: v for k, v in result.params.items()
            if k in ("aspect_ratio", "size", "seed", "provider") and k not in options}
    return client.generate(prompt, model, images=inputs, cancel=cancel, on_event=on_event,
                           **kept, **options)
