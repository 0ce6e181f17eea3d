"""Generated images and results: lazy decoding, lossless saving, notebook display.

The bytes the model sent are kept as they came: saving splices metadata in without re-encoding
(and leaves a signed image byte for byte, its metadata in a sidecar: :mod:`.provenance`), and
display hands them straight to the front end, so nothing is re-encoded on the way. A
:class:`GeneratedImage` holds one image's original bytes and decodes them on first use,
pixel-capped (:mod:`.safeimage`); what a page is handed is raster by magic bytes.

Results sit below the core that makes them, so the two back-references a result keeps (the
request that made it, and the client that continues it with ``edit`` or runs it again with
``rerun``) are typed as the small
:class:`Recipe` and :class:`Maker` protocols, which the core's ``Request`` and ``Client`` meet.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from .._exceptions import InvalidInputError, redact, redact_data
from .._version import __version__
from .._wire.common import ChatCompletion, Usage
from .._wire.dataurl import EXTENSIONS, encode_data_url
from .credentials import ContentCredentials, check_credentials
from .files import atomic_write, claim_name, safe_name, slug
from .labels import SIMULATED, is_offline_result, money
from .marimo import MarimoDisplay
from .paths import check_file, writing
from .provenance import FileParts, file_parts
from .safeimage import image_size, open_image, page_image

__all__ = ["GeneratedImage", "ImageResult", "Maker", "Recipe"]


class Recipe(Protocol):
    """What a result reads of the request that made it (the core's ``Request`` is one)."""

    @property
    def prompt(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def aspect_ratio(self) -> str | None: ...
    @property
    def size(self) -> str | None: ...
    @property
    def images(self) -> Sequence[str]: ...
    @property
    def messages(self) -> Sequence[Mapping[str, Any]]: ...

    def again(self, **changes: Any) -> Recipe:
        """A copy with ``changes`` (generate options), its seed kept."""
        ...


class Maker(Protocol):
    """The client that made a result (the core's ``Client`` is one).

    ``edit`` continues with it, ``send`` runs its request again.
    """

    def edit(self, result: ImageResult, prompt: str, model: str | None = None,
             **options: Any) -> ImageResult: ...

    def send(self, request: Any) -> ImageResult: ...

    def variations(self, result: ImageResult, count: int = 4, **options: Any) -> Any: ...


@dataclass(eq=False)
class GeneratedImage:
    """One generated image: the original encoded bytes, their mime, and a lazily decoded PIL image."""

    data: bytes
    mime: str
    index: int = 0
    _pil: Image.Image | None = field(default=None, repr=False)
    _credentials: ContentCredentials | None = field(default=None, repr=False)
    _size: tuple[int, int] | None = field(default=None, repr=False)

    @property
    def image(self) -> Image.Image:
        """The decoded PIL image (decoded once, on first use)."""
        if self._pil is None:
            from .display import light_display

            self._pil = open_image(self.data, index=self.index)  # pixel-capped
            light_display(self._pil)  # shown bare in a notebook: a preview, not PNG + JPEG
        return self._pil

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels, read from the header: asking decodes nothing."""
        if self._pil is not None:
            return self._pil.size
        if self._size is None:
            self._size = image_size(self.data, index=self.index)
        return self._size

    @property
    def credentials(self) -> ContentCredentials:
        """The image's C2PA Content Credentials: signed or not, by whom, still valid or not.

        Checked once (the bytes never change) with ``c2pa-python`` when installed; without it a
        signed image says ``unchecked``, never ``valid``.
        """
        if self._credentials is None:
            self._credentials = check_credentials(self.data, self.mime)
        return self._credentials

    def file_parts(self, meta: Mapping[str, Any]) -> FileParts:
        """The bytes a writer puts on disk for this image with ``meta``, and its sidecar.

        A signed image keeps its bytes exactly (its metadata goes to the sidecar); any other
        gets ``meta`` in the file (see :mod:`.provenance`).
        """
        meta = {**meta, "image_index": self.index}
        signed = self.credentials
        return file_parts(self.data, self.mime, meta,
                          credentials=signed.as_dict() if signed.present else None)

    @property
    def extension(self) -> str:
        """File extension for the mime, with the dot (``.png``)."""
        return EXTENSIONS.get(self.mime, ".bin")

    @property
    def data_url(self) -> str:
        """The image as a base64 data URL (to send it back as an input image)."""
        return encode_data_url(self.data, self.mime)

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        width, height = self.size
        shown, mime = page_image(self.data, self.mime, index=self.index)  # raster only
        data = {mime: shown, "text/plain": f"<GeneratedImage {self.mime} {width}x{height}>"}
        return data, {mime: {"width": width, "height": height}}

    def __repr__(self) -> str:
        return f"<GeneratedImage {self.mime} {len(self.data)} bytes index={self.index}>"


# -- results ---------------------------------------------------------------------------------------

_IMAGE_SUFFIXES = frozenset({*EXTENSIONS.values(), ".jpeg"})


@dataclass(eq=False)
class ImageResult(MarimoDisplay):
    """The outcome of one generation: images plus everything needed to understand and repeat it."""

    prompt: str
    model: str
    generated: tuple[GeneratedImage, ...]
    text: str = ""
    reasoning: str | None = None
    id: str | None = None
    provider: str | None = None
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    requested_model: str | None = None
    created: float = field(default_factory=time.time)
    elapsed: float | None = None
    cached: bool = False
    #: The :class:`~jupyter_imagegen.Request` that made this result: ``edit()``, the
    #: widget's "reuse" and the replay cache read it, whichever API answered.
    request: Recipe | None = field(default=None, repr=False, compare=False)
    #: The client that made this result (``edit`` continues with it); never saved or shown.
    _client: Maker | None = field(default=None, repr=False, compare=False)
    #: A region edit's answer as the provider sent it (``generated`` holds the composite that
    #: keeps every pixel outside the mask); empty for every other result.
    provider_images: tuple[GeneratedImage, ...] = field(default=(), repr=False, compare=False)
    #: Marked simulated where it was made (offline), for when the client that knew is gone: a
    #: replay-cache hit, an unpickled worker's answer. Read it as :attr:`offline`.
    _simulated: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A reply (or a cached one) that quotes a secret keeps it nowhere: not here, not in the
        # cache, the store, widget state or a saved file.
        self.text = redact(self.text)
        self.reasoning = None if self.reasoning is None else redact(self.reasoning)

    @classmethod
    def from_completion(
        cls,
        completion: ChatCompletion,
        generated: Sequence[GeneratedImage],
        *,
        prompt: str,
        model: str,
        params: Mapping[str, Any],
        elapsed: float | None = None,
    ) -> ImageResult:
        """Combine a parsed completion with its decoded images and the request that made them."""
        return cls(
            prompt=prompt,
            model=completion.model or model,
            requested_model=model,
            generated=tuple(generated),
            text=completion.text,
            reasoning=completion.reasoning,
            id=completion.id,
            provider=completion.provider,
            usage=completion.usage,
            finish_reason=completion.finish_reason,
            native_finish_reason=completion.native_finish_reason,
            params=dict(params),
            created=float(completion.created) if completion.created else time.time(),
            elapsed=elapsed,
        )

    def __getstate__(self) -> dict[str, Any]:
        # A pickled result (joblib, a Dask worker's answer) must not carry the client, whose
        # configuration holds the API key. Whether it was offline is kept: only the client knew.
        state = dict(self.__dict__)
        state["_simulated"] = self.offline
        state["_client"] = None
        return state

    # -- images -------------------------------------------------------------------------------

    @property
    def images(self) -> list[Image.Image]:
        """All images as PIL images (decoded on first access)."""
        return [g.image for g in self.generated]

    @property
    def image(self) -> Image.Image:
        """The first image."""
        return self.generated[0].image

    @property
    def cost(self) -> float | None:
        """Cost in USD credits as reported by the service (``usage.cost``)."""
        return self.usage.cost

    @property
    def upstream_cost(self) -> float | None:
        """With BYOK, what the provider charged your own key (``cost`` is then 0)."""
        return self.usage.upstream_cost

    def __len__(self) -> int:
        return len(self.generated)

    def __iter__(self) -> Iterator[Image.Image]:
        return iter(self.images)

    def __getitem__(self, index: int) -> Image.Image:
        return self.generated[index].image

    def variations(self, count: int = 4, **options: Any) -> Any:
        """``count`` more like this (same request, new seeds, each recorded), as a strip beside it.

        Returns a comparison grid (``.cell(0, "seed 123")``); refused for a model without seeds.
        ``seeds=[...]`` chooses them.
        """
        client = self._client
        if client is None:
            raise InvalidInputError("this result has no client to vary with; open it with "
                                    "ig.open(path) or make it with a client")
        return client.variations(self, count, **options)

    def edit(self, prompt: str, model: str | None = None, **kwargs: Any) -> ImageResult:
        """Edit these images: send them back as input with a new instruction.

        ``result.edit("make the sky purple").edit("add a moon")`` is a multi-turn edit; the
        model defaults to the one that made this result, and a model that cannot take input
        images fails before sending, naming models that can. ``mask=`` (a PIL image, white =
        change, or a box ``(left, top, right, bottom)`` in pixels) edits one region: the answer
        is composited back inside a feathered mask (``feather=`` pixels), so every pixel outside
        it is bit-identical to this image; ``provider_images`` keeps the answer as sent;
        ``index=`` picks which of several images the region is on (the first by default).
        """
        client = self._client
        if client is None:
            raise InvalidInputError("this result has no client to edit with; use "
                                    "client.generate(prompt, images=result) instead")
        return client.edit(self, prompt, model, **kwargs)

    def rerun(self, **changes: Any) -> ImageResult:
        """Send the request that made this result again: same prompt, model, options and seed.

        Where the model honours seeds, the same request gives the same image; ``changes`` (any
        generate option: ``aspect_ratio="1:1"``, ``model=``...) alter it and keep the rest. A
        result opened from a file (``ig.open``) whose request had input images that the file
        does not hold needs them again as ``images=``.
        """
        client, request = self._client, self.request
        if client is None or request is None:
            raise InvalidInputError("this result has no request to run again; generate it with "
                                    "the kit (or open a file the kit wrote with ig.open)")
        for what, recorded, kept, option in (
                ("input image(s)", "input_images", request.images, "images"),
                ("message(s) of history", "input_messages", request.messages, "messages")):
            count = self.params.get(recorded)
            if isinstance(count, int) and count and not kept and option not in changes:
                raise InvalidInputError(
                    f"this image was made from {count} {what} that its file does not hold; "
                    f"pass them again: rerun({option}=...)")
        return client.send(request.again(**changes))

    @property
    def seed(self) -> int | None:
        """The seed the request was sent with (given, or chosen by the kit); ``None`` if none."""
        seed = self.params.get("seed")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    # -- provenance ---------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """Provenance: prompt, model, parameters, generation id, cost. Never any credential.

        An offline result adds ``simulated: True`` (its cost was simulated, nobody paid), so a
        saved file read later cannot pass for a billed one; a real result has no such key.
        """
        meta: dict[str, Any] = {
            "prompt": self.prompt,
            "model": self.model,
            "requested_model": self.requested_model,
            "generation_id": self.id,
            "provider": self.provider,
            "parameters": dict(self.params),
            "cost": self.cost,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created)),
            "software": f"jupyter_imagegen {__version__}",
        }
        if self.offline:
            meta[SIMULATED] = True
        return redact_data(meta)  # type: ignore[no-any-return]

    @property
    def offline(self) -> bool:
        """True when the offline renderer made this result (its cost is simulated, not charged)."""
        return is_offline_result(self)

    def caption(self) -> str:
        """One line: model, image sizes, cost (marked simulated offline), time, and C2PA.

        An image signed with Content Credentials says whether its signature validates and by
        whom (checked, with ``c2pa-python``; "not checked" without it).
        """
        parts = [self.model]
        if self.generated:
            sizes = sorted({f"{g.size[0]}x{g.size[1]}" for g in self.generated})
            count = f"{len(self.generated)} images " if len(self.generated) > 1 else ""
            parts.append(count + ", ".join(sizes))
        offline = self.offline
        if offline:
            parts.append("offline")
        if self.cost is not None:
            parts.append(f"simulated {money(self.cost)}" if offline else money(self.cost))
        if self.elapsed is not None:
            parts.append(f"{self.elapsed:.1f}s")
        if self.cached:
            parts.append("cached")
        labels = sorted({g.credentials.label(short=True) for g in self.generated} - {""})
        parts.extend(labels)
        return " · ".join(parts)

    # -- saving -------------------------------------------------------------------------------

    def save(self, target: str | os.PathLike[str] = ".", *, overwrite: bool = False) -> list[Path]:
        """Write every image with its metadata; return the paths written.

        ``target`` is a directory, a file name (``"fox.png"``; indexed when there are several
        images), or a pattern with ``{index}``, ``{model}``, ``{prompt}``, ``{id}`` and ``{ext}``
        fields (for example ``"out/{prompt}-{index}{ext}"``). Files are
        written atomically; existing files get a numbered name instead unless ``overwrite``.
        PNGs carry the metadata as ``iTXt`` chunks, other formats in a ``.json`` sidecar.
        """
        meta = self.metadata()
        paths = []
        for g in self.generated:
            path = self._path_for(Path(os.fspath(target)), g, overwrite=overwrite)
            try:
                with writing(path, "image file"):  # what the OS refuses: a typed error too
                    path.parent.mkdir(parents=True, exist_ok=True)
                    parts = g.file_parts(meta)
                    atomic_write(path, parts.data)
                    sidecar = parts.sidecar_bytes()
                    if sidecar is not None:
                        atomic_write(check_file(path.with_name(path.name + ".json"), "sidecar"),
                                     sidecar)
            except BaseException:
                with contextlib.suppress(OSError):  # our empty claim on the name, if still empty
                    if path.stat().st_size == 0:
                        path.unlink()
                raise
            paths.append(path)
        return paths

    def _path_for(self, target: Path, g: GeneratedImage, *, overwrite: bool) -> Path:
        fields = {
            "index": g.index, "model": slug(self.model, 60), "prompt": slug(self.prompt),
            "id": slug(self.id or "local"), "ext": g.extension,
        }
        if "{" in str(target):
            try:
                path = Path(str(target).format(**fields))
            except (KeyError, IndexError, ValueError) as exc:
                raise InvalidInputError(
                    f"cannot use {str(target)!r} as a file-name pattern ({type(exc).__name__}: "
                    f"{exc}); fields are {{index}}, {{model}}, {{prompt}}, {{id}}, {{ext}}, and a "
                    "literal brace is written {{ or }}") from None
            if len(self.generated) > 1 and "{index}" not in str(target):
                path = path.with_name(f"{path.stem}-{g.index}{path.suffix}")  # never one name twice
        elif target.suffix.lower() in _IMAGE_SUFFIXES:  # a file name: index it if several
            path = target if len(self.generated) == 1 else target.with_name(
                f"{target.stem}-{g.index}{target.suffix}")
            if target.suffix.lower() not in (g.extension, ".jpeg" if g.mime == "image/jpeg" else ""):
                path = path.with_suffix(g.extension)  # never write JPEG bytes under .png
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.created))
            name = f"{stamp}-{fields['prompt']}-{fields['model']}-{g.index}{g.extension}"
            path = target / name
        path = check_file(safe_name(path), "image file")  # before the first write: typed errors
        if overwrite:
            return path
        return claim_name(path)

    # -- display ------------------------------------------------------------------------------

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """One bundle, for front ends that ask for a single one.

        One image: its preview (an ``<img>`` with alt text, sized for reading) and the plain text. Several:
        one HTML grid of thumbnails and the text. Never a second copy of an image. IPython uses
        :meth:`_ipython_display_` instead.
        """
        from .display import grid_bundle, image_bundle

        if len(self.generated) == 1:
            data, meta = image_bundle(self.generated[0], self.metadata())
            data["text/plain"] = repr(self)
        elif self.generated:
            data, meta = grid_bundle(self, self.caption())
        else:
            data, meta = {"text/plain": repr(self)}, {}
        if include:
            data = {k: v for k, v in data.items() if k in include}
        if exclude:
            data = {k: v for k, v in data.items() if k not in exclude}
        return data, meta

    def _ipython_display_(self) -> None:
        """One ``<img>`` output plus an escaped caption, or a grid for several images.

        The image output holds a preview sized for reading (``ig.display_options``), with alt
        text; the original stays in the result.
        """
        from .display import show_result

        show_result(self)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{g.size[0]}x{g.size[1]}" for g in self.generated)
        offline = " offline" if self.offline else ""
        cost = "" if self.cost is None else (
            f" simulated_cost={money(self.cost)}" if offline else f" cost={money(self.cost)}")
        prompt = self.prompt if len(self.prompt) <= 60 else self.prompt[:57] + "..."
        return redact(f"<ImageResult model={self.model!r} images={len(self.generated)} [{sizes}]"
                      f"{offline}{cost} prompt={prompt!r}>")
