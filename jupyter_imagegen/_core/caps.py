"""What one answer may make the kernel hold: its images' pixels and bytes, in all.

Why: each image was capped alone (40 Mpx decoded, ``max_image_bytes`` encoded), but an answer has
no bound on how many it holds. One 3 MB answer of sixteen 6000x6000 PNGs (each under the cap)
reached 2.66 GB once shown. So the images of one answer are counted as they arrive, from their
headers (no pixel is decoded to count them): over ``Client(max_answer_pixels=)`` or
``Client(max_answer_bytes=)`` the answer is refused with a :class:`MemoryLimitError` that names
the cap and how to raise it. The defaults hold four images at the per-image cap, or ten 4K ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._exceptions import ImageDecodeError, MemoryLimitError

if TYPE_CHECKING:  # counted, not made, here: the transport imports the caps without the results
    from .._results.result import GeneratedImage

__all__ = ["MAX_ANSWER_BYTES", "MAX_ANSWER_PIXELS", "AnswerBudget"]

#: Decoded pixels (width x height, summed) one answer's images may have.
MAX_ANSWER_PIXELS = 160_000_000
#: Encoded bytes one answer's images may have, in all (a stream's events are capped one by one).
MAX_ANSWER_BYTES = 256 * 1024 * 1024


@dataclass
class AnswerBudget:
    """The images one answer has brought so far, against its two caps (``None``: no bound)."""

    max_pixels: int | None = MAX_ANSWER_PIXELS
    max_bytes: int | None = MAX_ANSWER_BYTES
    pixels: int = 0
    nbytes: int = 0
    images: int = 0

    def charge(self, image: GeneratedImage) -> GeneratedImage:
        """Count ``image`` (its header only) and hand it back, or raise when the answer is over."""
        try:
            width, height = image.size
        except ImageDecodeError:
            width = height = 0  # not an image a decoder reads: its decode is refused anyway
        self.images += 1
        self.pixels += width * height
        self.nbytes += len(image.data)
        for cap, used, limit, unit in (("max_answer_pixels", self.pixels, self.max_pixels, "pixels"),
                                       ("max_answer_bytes", self.nbytes, self.max_bytes, "bytes")):
            if limit is not None and used > limit:
                raise MemoryLimitError(
                    f"the answer's {self.images} image(s) hold {used:,} {unit} so far, over the "
                    f"limit of {limit:,} per answer; it was not kept",
                    cap=cap, limit=limit, needed=used,
                    hint=f"Raise it with Client({cap}=...) (None lifts it) if you mean to hold "
                         "such answers, or ask for fewer or smaller images.")
        return image
