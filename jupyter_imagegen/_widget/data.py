"""What the widget syncs and sends, built from kit objects: plain dicts with ``bytes`` (as buffers).

Pure helpers, no widget state, so the wire shape of models, previews, history entries and the
replies to the page's image requests is tested without a kernel. ipywidgets lifts every ``bytes``
value nested in a synced list or dict into a binary buffer, so images never travel as base64 text
in the JSON part of a message.

What a model accepts is read in ONE place, :func:`model_choices`, from the client's catalogue
(one merged record per model); the widget keeps no table of its own.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from .._core.inputs import to_image_urls
from .._exceptions import ImageGenError, InvalidInputError, MemoryLimitError, redact
from .._results.labels import price_label, prices_simulated, shown_price
from .._results.preview import DisplayBudget, small_image
from .._results.reopen import read_recipe
from .._results.result import GeneratedImage, ImageResult
from .._results.safeimage import page_image
from .._wire.dataurl import decode_data_url, sniff_mime

if TYPE_CHECKING:
    from .._core.client import Client
    from .._core.model import Model

__all__ = [
    "HOW_TO_GET_MODELS",
    "MAX_DROP_BYTES",
    "MAX_PRICED",
    "PREVIEW_PX",
    "THUMB_PX",
    "WIDGET_TEXT",
    "download",
    "download_sidecar",
    "dropped",
    "dropped_recipe",
    "error_text",
    "history_entry",
    "image_reply",
    "input_image",
    "key_left",
    "listing",
    "model_choices",
    "model_prices",
    "page_inputs",
    "preview",
    "price_fields",
    "published",
    "request_options",
]

#: Longest side of gallery thumbnails: small enough that a long history stays cheap to save.
THUMB_PX = 160
#: Longest side of the newest result's images as shown (and saved); full size comes on request.
PREVIEW_PX = 384
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: What the page may receive as a full-size image or a download: rasters only, never SVG.
_PAGE_RASTER = ("image/png", "image/jpeg", "image/webp", "image/gif")
#: What to do when no model is listed.
HOW_TO_GET_MODELS = (
    "To get image models: set OPENROUTER_API_KEY and call jupyter_imagegen.online(), "
    "or call jupyter_imagegen.offline() for the local offline server (no key, no cost)."
)
#: The widget output's own text: true whenever it is read, so it can never go stale.
WIDGET_TEXT = ("ImageGenWidget (interactive: re-run this cell to use it; a snapshot of its "
               "results is saved beside it)")


def model_choices(client: Client, *, prices: bool = True) -> list[dict[str, Any]]:
    """The picker entries: every image model of the client's catalogue, with what it takes.

    The catalogue merges both listings and the endpoints records, so ratios, sizes, ``n``, seed,
    input images and the price (with its basis) are the model's own, whichever API serves it.
    An offline price is the simulated amount the guard counts, its basis and label say so
    (``simulated price line``), and ``simulated`` lets the page mark it. ``prices=False`` reads
    no endpoints record (the widget's listing: one request per model would not scale to a long
    listing); such an entry says ``priced: False`` until :func:`model_prices` prices it.
    """
    models = client.catalogue.models_with_prices() if prices else client.catalogue.models()
    entries: list[dict[str, Any]] = []
    for model in models:
        caps = model.caps(model.default_api)
        entries.append({
            "id": model.id, "name": model.name, **price_fields(client, model),
            "accepts_images": model.accepts_images, "api": model.default_api,
            "seed": model.supports_seed, "max_n": model.max_n,
            "streaming": bool(caps and caps.streaming),
            "aspect_ratios": [r for r in model.aspect_ratios if r != "auto"],
            "sizes": list(model.sizes)})
    return entries


def key_left(client: Client) -> str:
    """What the key may still spend, as the service says (a gateway: the budget); ``""``: none.

    Only a key with a limit is worth a line in the widget (the offline server's has none).
    """
    info = client.key_info()
    return info.describe() if info is not None and info.left is not None else ""


#: Models one request of the page may have priced: the page of matches it shows, never more.
MAX_PRICED = 100


def price_fields(client: Client, model: Model) -> dict[str, Any]:
    """A model's price as the picker shows it (``priced``: its endpoints record, if any, is read)."""
    simulated = prices_simulated(client, model.id)
    price = shown_price(model.price(), simulated=simulated)
    priced = model.has_endpoints or not model.listed_in_images
    return {"price": price.usd, "price_basis": price.basis, "simulated": simulated,
            "price_label": price_label(price, simulated=simulated) if priced else "price…",
            "priced": priced}


def model_prices(client: Client, ids: Any) -> dict[str, dict[str, Any]]:
    """:func:`price_fields` of at most :data:`MAX_PRICED` of ``ids``, on demand (the page shown).

    Each model's endpoints record is read once (in parallel, cached by the catalogue); unknown
    ids and anything that is not a string are left out.
    """
    wanted = list(dict.fromkeys(i for i in ids if isinstance(i, str)))[:MAX_PRICED] \
        if isinstance(ids, (list, tuple)) else []
    records = [m for m in map(client.catalogue.get, wanted) if m is not None]
    return {m.id: price_fields(client, m) for m in client.catalogue.models_with_prices(records)}


def request_options(entry: dict[str, Any] | None, n: int, seed: int | None) -> dict[str, Any]:
    """``Client.generate`` keyword arguments for the picked model's entry, ``n`` and ``seed``.

    The client routes the request (more than one image goes where ``n`` is taken); streaming is
    asked for only where the model's documented path streams. An ``n`` above the model's limit
    is passed on as it is, so the client refuses it with the limit, rather than made smaller
    without a word.
    """
    if entry is None:
        return {"stream": True}
    options: dict[str, Any] = {"stream": bool(entry.get("streaming"))}
    if seed is not None and entry.get("seed"):
        options["seed"] = seed
    if n > 1:
        options["n"] = n
    return options


def _encode(pil: Image.Image, px: int, index: int) -> dict[str, Any]:
    pil = pil.copy()
    pil.thumbnail((px, px))
    buffer = io.BytesIO()
    if pil.mode in ("RGBA", "LA", "P", "PA"):
        pil.save(buffer, format="PNG", optimize=True)  # keeps transparency
        mime = "image/png"
    else:
        pil.convert("RGB").save(buffer, format="JPEG", quality=85)
        mime = "image/jpeg"
    return {"data": buffer.getvalue(), "mime": mime, "width": pil.width, "height": pil.height,
            "index": index}


def preview(image: GeneratedImage, px: int = PREVIEW_PX,
            small: Image.Image | None = None) -> dict[str, Any]:
    """A raster re-encoding of ``image`` no larger than ``px`` (always PNG or JPEG, never SVG).

    Made from ``small`` when given (a copy already shrunk), else from a decode no larger than
    needed that is not kept (:func:`.._results.preview.small_image`).
    """
    result = _encode(small if small is not None else small_image(image, px), px, image.index)
    result["full_width"], result["full_height"] = image.size
    return result


def published(key: str, result: ImageResult) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """``(history entry, newest previews, note)`` of a result, as one display.

    Each image is decoded once (for its preview; the thumbnail is made from that), and all of
    them spend one :class:`DisplayBudget`: an image over it gets neither, and ``note`` says why.
    """
    budget, latest, thumbs, note = DisplayBudget(), [], [], ""
    for g in result.generated:
        try:
            budget.charge(g, PREVIEW_PX)
        except MemoryLimitError as exc:
            note = f"{exc.message}. {exc.hint}"
            continue
        small = small_image(g, PREVIEW_PX)
        latest.append(preview(g, PREVIEW_PX, small))
        thumbs.append(preview(g, THUMB_PX, small))
    return history_entry(key, result, thumbs), latest, note


def history_entry(key: str, result: ImageResult,
                  thumbs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A gallery entry: thumbnails and the caption parts (prompt, model, cost) as plain text."""
    request = result.request
    return {
        "key": key,
        "prompt": redact(result.prompt),
        "model": result.model,
        "caption": redact(result.caption()),
        "cost": result.cost,
        "simulated": result.offline,  # the caption says so too; the page may mark the card
        "text": result.text,
        "thumbs": [preview(g, THUMB_PX) for g in result.generated] if thumbs is None else thumbs,
        # So "reuse this prompt" brings the shape back too ("" lets the model choose).
        "aspect_ratio": str(getattr(request, "aspect_ratio", None)
                            or result.params.get("aspect_ratio") or ""),
        "image_size": str(getattr(request, "size", None) or result.params.get("size") or ""),
    }


def download(result: ImageResult, index: int) -> tuple[bytes, str, str]:
    """``(bytes, mime, file name)`` of one image as ``result.save()`` would write it.

    The file carries what ``save()`` puts in it (PNG text chunks, the XMP AI mark); an image
    signed with C2PA Content Credentials comes byte for byte as the provider sent it (its
    metadata then travels as a second file, :func:`download_sidecar`). The name is made of the
    prompt and the time.
    """
    image = result.generated[index]
    parts = image.file_parts(result.metadata())
    slug = _UNSAFE.sub("-", result.prompt.strip()).strip("-._")[:40].strip("-._") or "image"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(result.created))
    suffix = f"-{image.index + 1}" if len(result.generated) > 1 else ""
    return parts.data, image.mime, f"{slug}-{stamp}{suffix}{image.extension}"


def download_sidecar(result: ImageResult, index: int) -> bytes | None:
    """The ``NAME.json`` sidecar a download of a signed image comes with; ``None`` otherwise.

    Unsigned files hold their metadata themselves, so they come alone (one file per click).
    """
    parts = result.generated[index].file_parts(result.metadata())
    return parts.sidecar_bytes() if parts.signed else None


def image_reply(result: ImageResult | None, kind: str, key: str,
                index: int) -> tuple[dict[str, Any], list[bytes] | None]:
    """The reply to the page's ``full`` or ``download`` request: ``(content, buffers)``.

    ``full`` is one full-size image (re-encoded by its magic bytes), ``download`` the file
    ``save()`` would write. A result the page no longer has, an index out of range or an image
    that is not a raster is answered ``missing`` rather than not at all, so the page stops waiting.
    """
    reply: dict[str, Any] = {"type": kind, "key": key, "index": index}
    if result is None or not 0 <= index < len(result.generated) \
            or result.generated[index].mime not in _PAGE_RASTER:
        return {**reply, "missing": True}, None
    image = result.generated[index]
    if kind == "download":
        data, mime, name = download(result, index)
        sidecar = download_sidecar(result, index)
        if sidecar is not None:  # a signed image: its bytes untouched, the recipe beside them
            return {**reply, "mime": mime, "name": name, "sidecar": f"{name}.json"}, [data, sidecar]
        return {**reply, "mime": mime, "name": name}, [data]
    width, height = image.size
    data, mime = page_image(image.data, image.mime, index=image.index)
    return {**reply, "mime": mime, "width": width, "height": height}, [data]


def input_image(image: Any) -> tuple[bytes, str]:
    """``(bytes, mime)`` for the input slot from anything :meth:`Client.generate` accepts."""
    if isinstance(image, Image.Image):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue(), "image/png"
    urls = to_image_urls(image)
    if len(urls) != 1 or not urls[0].startswith("data:"):
        raise InvalidInputError("the widget's input slot takes one image (PIL image, bytes, path "
                                "or generated image), not a URL or a list")
    mime, data = decode_data_url(urls[0])
    return page_image(data, mime)  # the page gets raster bytes only, whatever was dropped


def error_text(exc: BaseException) -> str:
    """A one-line message for the page: the kit's own message, never a traceback or a key."""
    if isinstance(exc, ImageGenError):
        return redact(str(exc))
    return redact(f"{type(exc).__name__}: {exc}")


#: Gallery entries kept in the synced state (``results`` keeps every result in Python).
MAX_HISTORY = 50


#: The largest dropped file the kernel reads for a recipe (an image, or its sidecar).
MAX_DROP_BYTES = 64 * 1024 * 1024


def dropped_recipe(files: list[tuple[str, bytes]]) -> tuple[dict[str, Any], str] | None:
    """The widget settings recorded in dropped files the kit wrote, and the name they came from.

    ``files`` are ``(name, bytes)``: an image the kit saved, or its ``.json`` sidecar (a signed
    image keeps its recipe only there), or both. The settings are the picker's and controls':
    prompt, model, aspect ratio, size, number of images and seed. ``None`` when none holds one.
    """
    images = [(n, d) for n, d in files if sniff_mime(d) in _PAGE_RASTER]
    sidecars = [(n, d) for n, d in files if n.lower().endswith(".json")]
    sidecar = sidecars[0][1] if sidecars else None
    meta, source = None, ""
    for name, data in images or [("", b"")]:
        meta = read_recipe(data, sniff_mime(data) or "", sidecar) if data or sidecar else None
        if meta is not None:
            source = name or (sidecars[0][0] if sidecars else "")
            break
    if meta is None:
        return None
    recorded = meta.get("parameters")
    params: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    model = meta.get("requested_model") or meta.get("model")
    settings: dict[str, Any] = {"prompt": str(meta.get("prompt", ""))}
    if isinstance(model, str) and model:
        settings["model"] = model
    for name, key in (("aspect_ratio", "aspect_ratio"), ("image_size", "size")):
        value = params.get(key)
        settings[name] = value if isinstance(value, str) else ""
    for name in ("seed", "n"):
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            settings[name] = value
    return settings, source


def page_inputs(content: dict[str, Any]) -> dict[str, Any]:
    """The inputs the page sends with "generate", as traits to set.

    ipywidgets holds back state updates while one is in flight, so the custom message can
    overtake the prompt's own sync: the message carries them too.
    """
    values: dict[str, Any] = {name: content[name] for name in
                              ("prompt", "model", "aspect_ratio", "image_size")
                              if isinstance(content.get(name), str)}
    if isinstance(content.get("n"), int) and not isinstance(content.get("n"), bool):
        values["n"] = max(1, content["n"])
    if "seed" in content:
        seed = content["seed"]
        values["seed"] = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
    return values


def dropped(content: dict[str, Any], blobs: Sequence[bytes]) -> dict[str, Any]:
    """Files dropped on the page (``blobs``: their bytes, in order), as traits to set (in order).

    A kit-written image (or its sidecar) restores the settings it was made with; anything else
    that is an image becomes the input image, as a drop always did; the rest is an error line.
    """
    names = content.get("names")
    if not isinstance(names, list) or len(names) != len(blobs) or not blobs:
        return {}
    files = [(str(n), b) for n, b in zip(names, blobs, strict=True) if len(b) <= MAX_DROP_BYTES]
    found = dropped_recipe(files)
    if found is None:
        image = next(((n, b) for n, b in files if not n.lower().endswith(".json")), None)
        if image is None:
            return {"error": "That file is not an image, nor the .json sidecar of one the kit saved."}
        data, mime = input_image(image[1])
        # The name first: the page draws the thumbnail on the image.
        return {"input_name": Path(image[0]).name or "image", "input_mime": mime, "input_image": data}
    settings, source = found
    shown = [settings.get("model", ""), settings.get("aspect_ratio", ""),
             settings.get("image_size", ""), f"seed {settings['seed']}" if "seed" in settings else ""]
    return {**settings, "seed": settings.get("seed"), "input_image": b"", "input_mime": "",
            "input_name": "", "error": "",
            "status_text": f"Settings restored from {Path(source).name or 'the dropped file'}: "
                           f"{', '.join(p for p in shown if p)}."}


def listing(client: Client, model: str) -> dict[str, Any]:
    """The picker's traits after listing the image models (``model`` kept, else the default).

    Never raises: a listing that fails is a notice in the page, with how to get models.
    """
    try:
        entries = model_choices(client, prices=False)  # no endpoints record read
    except Exception as exc:  # shown in the page; never raised into the comm
        return {"models": [],
                "notice": f"Could not list image models: {error_text(exc)} {HOW_TO_GET_MODELS}",
                "models_status": "error"}
    ids = [m["id"] for m in entries]
    if not model:
        model = client.default_model if client.default_model in ids else (ids[0] if ids else "")
    notice = (f"No image model is available. {HOW_TO_GET_MODELS}" if not ids else
              f"{model!r} is not in the image model listing; pick one from the list."
              if model not in ids else "")
    return {"models": entries, "model": model, "notice": notice, "models_status": "ready"}
