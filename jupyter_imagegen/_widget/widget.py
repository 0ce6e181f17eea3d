"""``ImageGenWidget``: pick a model, prompt, watch it generate, browse and keep the results.

* Generation runs in a daemon thread calling ``Client.generate(on_event=..., cancel=...)``: the
  kernel stays free and Cancel is a ``threading.Event``. The thread writes output traits only.
* What the page may ask of the kernel arrives as custom messages (``generate``, ``cancel``,
  ``clear``, ``refresh-models``, ``full``, ``download``). Their handler never raises: a comm
  callback that raises only reaches the kernel log and the page would wait forever, so failures
  become the ``error`` trait, shown in the page as text.
* Synced state holds small raster previews only (newest result) and thumbnails (history), so a
  saved notebook stays light; full-size images and downloads (with ``save()``'s PNG metadata)
  are sent on request as custom-message buffers, from the results kept in Python.
* Displayed, the widget also leaves a static snapshot output (rendered by :mod:`.snapshot`),
  kept current after each generation, for readers with no kernel. Nothing about credentials is
  synced.

The wire shapes (model entries, previews, history entries, image replies) are pure functions in
:mod:`.data`; this class holds the state, the threads and the comm.
"""

from __future__ import annotations

import contextlib
import difflib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t
from ipywidgets.widgets.trait_types import bytes_serialization
from PIL import Image

from .._core.client import Client, StreamEvent
from .._exceptions import CancelledError, ImageGenError, redact
from .._results.result import ImageResult
from . import assets
from . import data as wd
from .snapshot import snapshot_bundle

__all__ = ["ImageGenWidget"]

ResultCallback = Callable[[ImageResult], object]
_OPTIONS = ["client", "model", "prompt", "aspect_ratio", "image_size", "n", "seed", "input_image",
            "on_result"]
MAX_HISTORY = wd.MAX_HISTORY


class ImageGenWidget(anywidget.AnyWidget):
    """Interactive image generation: model picker, prompt, live status, gallery with history.

    ```python
    w = ImageGenWidget(model="offline/sketch")
    w                                  # the UI (plus a static snapshot for saved notebooks)
    w.generate("a red circle").result()  # from Python too; w.images, w.results
    ```
    """

    _esm = assets.esm()  # js/'s small ES modules, joined into the one module anywidget loads
    _css = assets.css()

    # Inputs (the page writes these).
    model = t.Unicode("", help="Id of the model to generate with.").tag(sync=True)
    prompt = t.Unicode("").tag(sync=True)
    aspect_ratio = t.Unicode("", help="'' lets the model choose.").tag(sync=True)
    image_size = t.Unicode("", help="'' lets the model choose.").tag(sync=True)
    n = t.Int(1, min=1, help="Images per request (models that take n).").tag(sync=True)
    seed = t.Int(None, allow_none=True, help="None: random (models that take a seed).").tag(sync=True)
    input_image = t.Bytes(b"").tag(sync=True, **bytes_serialization)
    input_mime = t.Unicode("").tag(sync=True)
    input_name = t.Unicode("").tag(sync=True)

    # Outputs (Python writes these).
    anchor = t.Unicode("", help="This model's id, so the page can ask whether its comm is live."
                       ).tag(sync=True)
    models = t.List(t.Dict(), help="Image models and the controls each takes.").tag(sync=True)
    models_status = t.Unicode("loading").tag(sync=True)  # loading | ready | error
    prices = t.Dict(help="Prices read on demand (the page shown, the model picked): id -> price "
                    "fields, over the models' own.").tag(sync=True)
    notice = t.Unicode("").tag(sync=True)
    status = t.Unicode("idle").tag(sync=True)  # idle | running | done | error | cancelled
    status_text = t.Unicode("").tag(sync=True)
    stream_text = t.Unicode("").tag(sync=True)
    elapsed = t.Float(0.0).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    key_left = t.Unicode("", help="What GET /key says is left (a gateway's budget); '' if nothing."
                         ).tag(sync=True)
    latest = t.List(t.Dict(), help="Previews of the newest result (binary, raster).").tag(sync=True)
    history = t.List(t.Dict(), help="Gallery entries, newest first (thumbnails binary).").tag(sync=True)

    def __init__(self, client: Client | None = None, model: str | None = None, *,
                 prompt: str = "", aspect_ratio: str = "", image_size: str = "", n: int = 1,
                 seed: int | None = None, input_image: Any = None,
                 on_result: ResultCallback | None = None, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - {"layout"})
        if unknown:
            hints = [m for name in unknown for m in difflib.get_close_matches(name, _OPTIONS, n=1)]
            raise TypeError(f"ImageGenWidget got unexpected keyword argument(s) {', '.join(unknown)}"
                            + (f" (did you mean {', '.join(hints)}?)" if hints else ""))
        super().__init__(prompt=prompt, aspect_ratio=aspect_ratio, image_size=image_size, n=n,
                         seed=seed, model=model or "", **kwargs)
        self.anchor = self.model_id
        if client is None:
            from .._api import default_client

            client = default_client()
        self._client = client
        self._results: list[ImageResult] = []
        self._by_key: dict[str, ImageResult] = {}
        self._callbacks: list[ResultCallback] = [on_result] if on_result else []
        self._lock = threading.Lock()
        self._cancel: threading.Event | None = None
        self._worker: threading.Thread | None = None
        self._busy = False
        self._models_thread: threading.Thread | None = None
        self._displayed = False
        if input_image is not None:
            self.set_input_image(input_image)
        self.on_msg(self._handle_message)
        self.refresh_models()

    @t.validate("error", "notice", "status_text", "stream_text")
    def _scrubbed(self, proposal: Any) -> str:
        """Text the page shows (and saved widget state keeps) never holds a remembered secret."""
        return redact(str(proposal["value"]))

    def __repr__(self) -> str:
        return f"<ImageGenWidget model={self.model!r} status={self.status!r} results={len(self._results)}>"

    # -- Python API -----------------------------------------------------------------------------

    @property
    def client(self) -> Client:
        """The client generations go through (never synced to the page)."""
        return self._client

    @property
    def results(self) -> list[ImageResult]:
        """Every result of this widget, oldest first (``clear_history()`` keeps them)."""
        return list(self._results)

    @property
    def images(self) -> list[Image.Image]:
        """PIL images (full size) of the newest result (empty before the first one)."""
        return self._results[-1].images if self._results else []

    @property
    def running(self) -> bool:
        """True while a generation is in flight."""
        return self._busy  # cleared before the future resolves: the next call may start at once

    def on_result(self, callback: ResultCallback, remove: bool = False) -> None:
        """Call ``callback(result)`` after each successful generation (in the worker thread)."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def set_input_image(self, image: Any) -> None:
        """Put an image in the edit slot (PIL image, bytes, path or generated image)."""
        data, mime = wd.input_image(image)
        name = image if isinstance(image, (str, Path)) else getattr(image, "filename", "") or ""
        with self.hold_sync():
            self.input_name = Path(name).name if name else "image"
            self.input_mime = mime
            self.input_image = data

    def clear_input_image(self) -> None:
        """Empty the edit slot."""
        self.input_image, self.input_mime, self.input_name = b"", "", ""

    def clear_history(self) -> None:
        """Empty the gallery (and its snapshot); ``results`` still holds every result.

        The status line goes back to idle too: "Done in 2.1 s." under an empty gallery would
        describe a result that is no longer shown. A running generation keeps its status.
        """
        self._by_key.clear()
        with self.hold_sync():
            self.latest = []
            self.history = []
            if not self.running:
                self.status, self.status_text, self.stream_text, self.error = "idle", "", "", ""
                self.elapsed = 0.0
        self._refresh_snapshot()

    def refresh_models(self, *, wait: bool = False) -> None:
        """List image models again (in a thread; ``wait=True`` blocks until done)."""
        self.models_status = "loading"
        thread = threading.Thread(target=self._load_models, name="imagegen-widget-models", daemon=True)
        self._models_thread = thread
        thread.start()
        if wait:
            thread.join()

    def wait_for_models(self, timeout: float | None = None) -> None:
        """Block until the model listing has arrived (or failed)."""
        if self._models_thread is not None:
            self._models_thread.join(timeout)

    def generate(self, prompt: str | None = None) -> Future[ImageResult]:
        """Start a generation with the current settings; returns a future of the result.

        The work happens in a background thread, so the page and the kernel stay responsive;
        failures appear in the widget and in the future. ``cancel()`` stops it.
        """
        with self._lock:
            if self.running:
                raise RuntimeError("a generation is already running; cancel() it first")
            if prompt is not None:
                self.prompt = prompt
            future: Future[ImageResult] = Future()
            self._cancel = threading.Event()
            with self.hold_sync():
                self.error = self.stream_text = ""
                self.elapsed = 0.0
                self.status_text = "Generating..."
                self.status = "running"
            self._busy = True
            self._worker = threading.Thread(target=self._run, args=(self._cancel, future),
                                            name="imagegen-widget-generate", daemon=True)
            self._worker.start()
        return future

    def cancel(self) -> None:
        """Stop the running generation (it ends with status ``cancelled``)."""
        if self._cancel is not None:
            self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running generation has finished (for scripts and tests)."""
        if self._worker is not None:
            self._worker.join(timeout)

    # -- display and the saved snapshot ---------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        bundle: tuple[dict[str, Any], dict[str, Any]] | None = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        return {**data, "text/plain": wd.WIDGET_TEXT}, metadata

    @property
    def snapshot_id(self) -> str:
        """The ``display_id`` of this widget's snapshot output."""
        return f"imagegen-snapshot-{self.model_id}"

    def snapshot(self) -> dict[str, str]:
        """The static snapshot (``text/html`` and ``text/plain``) as it stands now."""
        return snapshot_bundle(self.model_id, self.latest, self.history, len(self._results))

    def _ipython_display_(self) -> None:
        display = _ipython("display")
        bundle = self._repr_mimebundle_()
        if bundle is not None:
            display(bundle[0], metadata=bundle[1], raw=True)
        display(self.snapshot(), raw=True, display_id=self.snapshot_id)
        self._displayed = True

    def _refresh_snapshot(self) -> None:
        """Replace the saved snapshot: by display id (nbclient, cells) and through the page (Lab).

        JupyterLab applies ``update_display_data`` only to outputs of the request it answers, so
        after a click in the page the update would be lost there; the page rewrites the snapshot
        output in the notebook model itself from the ``snapshot`` message.
        """
        if not self._displayed:
            return
        bundle = self.snapshot()
        with contextlib.suppress(Exception):  # no IPython display machinery: nothing to update
            _ipython("update_display")(bundle, raw=True, display_id=self.snapshot_id)
        self.send({"type": "snapshot", "data": bundle})

    # -- messages from the page -----------------------------------------------------------------

    def _handle_message(self, _widget: object, content: Any, _buffers: object) -> None:
        """Custom messages from the page; errors go to the ``error`` trait, never raised."""
        try:
            kind = content.get("type") if isinstance(content, dict) else None
            if kind == "generate":
                # The page sends its inputs along: ipywidgets holds back state updates while one
                # is in flight, so a custom message can overtake the prompt's own sync.
                for name in ("prompt", "model", "aspect_ratio", "image_size"):
                    if isinstance(content.get(name), str):
                        setattr(self, name, content[name])
                if isinstance(content.get("n"), int):
                    self.n = max(1, content["n"])
                if "seed" in content:
                    seed = content["seed"]
                    self.seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
                self.generate()
            elif kind == "cancel":
                self.cancel()
            elif kind == "clear":
                self.clear_history()
            elif kind == "refresh-models":
                self.refresh_models()
            elif kind == "prices":  # the picker's page of matches: priced there, not all at once
                threading.Thread(target=self._price, args=(content.get("ids"),), daemon=True,
                                 name="imagegen-widget-prices").start()
            elif kind == "drop":
                self._take_drop(content, _buffers)
            elif kind in ("full", "download"):
                key, index = str(content.get("key")), int(content.get("index", 0))
                reply, buffers = wd.image_reply(self._by_key.get(key), kind, key, index)
                self.send(reply, buffers=buffers)
        except Exception as exc:
            self.error = wd.error_text(exc)

    def _take_drop(self, content: dict[str, Any], buffers: object) -> None:
        """Files dropped on the page: a kit-written image (or sidecar) restores its settings.

        Anything else that is an image becomes the input image, as a drop always did.
        """
        names = content.get("names")
        blobs = [bytes(b) for b in buffers] if isinstance(buffers, (list, tuple)) else []
        if not isinstance(names, list) or len(names) != len(blobs) or not blobs:
            return
        files = [(str(n), b) for n, b in zip(names, blobs, strict=True) if len(b) <= wd.MAX_DROP_BYTES]
        found = wd.dropped_recipe(files)
        if found is None:
            image = next(((n, b) for n, b in files if not n.lower().endswith(".json")), None)
            if image is None:
                self.error = "That file is not an image, nor the .json sidecar of one the kit saved."
                return
            data, mime = wd.input_image(image[1])
            with self.hold_sync():  # the name first: the page draws the thumbnail on the image
                self.input_name = Path(image[0]).name or "image"
                self.input_mime = mime
                self.input_image = data
            return
        settings, source = found
        with self.hold_sync():
            for name, value in settings.items():
                setattr(self, name, value)
            if "seed" not in settings:
                self.seed = None
            self.clear_input_image()
            self.error = ""
            shown = [settings.get("model", ""), settings.get("aspect_ratio", ""),
                     settings.get("image_size", ""),
                     f"seed {settings['seed']}" if "seed" in settings else ""]
            self.status_text = (f"Settings restored from {Path(source).name or 'the dropped file'}: "
                                f"{', '.join(p for p in shown if p)}.")

    # -- worker threads -------------------------------------------------------------------------

    def _price(self, ids: Any) -> None:
        """Price the models ``ids`` names (at most a page) and sync what they cost."""
        with contextlib.suppress(Exception):  # a price that cannot be read stays as listed
            wanted = [i for i in ids if isinstance(i, str) and i not in self.prices] \
                if isinstance(ids, list) else []
            found = wd.model_prices(self._client, wanted) if wanted else {}
            if found:
                with self._lock:
                    self.prices = {**self.prices, **found}

    def _load_models(self) -> None:
        try:
            entries = wd.model_choices(self._client, prices=False)  # no endpoints record read
        except Exception as exc:  # shown in the page; never raised into the comm
            self.models = []
            self.notice = f"Could not list image models: {wd.error_text(exc)} {wd.HOW_TO_GET_MODELS}"
            self.models_status = "error"
            return
        ids = [m["id"] for m in entries]
        self.models = entries
        if not self.model:
            default = self._client.default_model
            self.model = default if default in ids else (ids[0] if ids else "")
        self.notice = (f"No image model is available. {wd.HOW_TO_GET_MODELS}" if not ids else
                       f"{self.model!r} is not in the image model listing; pick one from the list."
                       if self.model not in ids else "")
        self.models_status = "ready"
        self.key_left = wd.key_left(self._client)
        self._price([self.model])  # the one beside the box; the page asks for what it shows

    def _run(self, cancel: threading.Event, future: Future[ImageResult]) -> None:
        started = time.perf_counter()

        def on_event(event: StreamEvent) -> None:
            self.elapsed = round(event.elapsed, 1)
            if event.kind in ("text", "reasoning"):
                self.stream_text += event.text
            elif event.kind == "retry":
                self.status_text = f"The service is busy; trying again in {event.delay:.0f} s..."
            elif event.kind in ("image", "partial"):
                self.status_text = "Receiving the image..."

        try:
            if not self.model:
                self.wait_for_models(timeout=60)  # generate() right after construction
            if not self.model:
                raise ImageGenError(f"No image model is selected. {wd.HOW_TO_GET_MODELS}")
            entry = next((m for m in self.models if m["id"] == self.model), None)
            result = self._client.generate(
                self.prompt, self.model, images=[self.input_image] if self.input_image else None,
                aspect_ratio=self.aspect_ratio or None, image_size=self.image_size or None,
                on_event=on_event, cancel=cancel, **wd.request_options(entry, self.n, self.seed))
            self._publish(result)
        except CancelledError as exc:
            self._finish("cancelled", "Cancelled.", started)
            self._resolve(future, error=exc)
        except Exception as exc:  # the page shows it; the future carries it
            self.error = wd.error_text(exc)
            self._finish("error", "Failed.", started)
            self._resolve(future, error=exc)
        else:
            self._finish("done", "Done in {:.1f} s.", started)  # the caption is on the figure
            self.key_left = wd.key_left(self._client)
            self._notify(result)
            self._refresh_snapshot()
            self._resolve(future, result=result)

    def _resolve(self, future: Future[ImageResult], result: ImageResult | None = None,
                 error: BaseException | None = None) -> None:
        self._busy = False
        if error is not None:
            future.set_exception(error)
        elif result is not None:
            future.set_result(result)

    def _publish(self, result: ImageResult) -> None:
        key = f"r{len(self._results) + 1}"
        entry, latest, note = wd.published(key, result)  # one display: one decode budget
        self._results.append(result)
        self._by_key[key] = result
        with self.hold_sync():
            self.latest = latest
            self.history = [entry, *self.history][:MAX_HISTORY]
            if note:
                self.notice = note

    def _finish(self, status: str, text: str, started: float) -> None:
        with self.hold_sync():
            self.elapsed = round(time.perf_counter() - started, 1)
            self.status_text = text.format(self.elapsed)
            self.status = status

    def _notify(self, result: ImageResult) -> None:
        for callback in list(self._callbacks):
            try:
                callback(result)
            except Exception as exc:  # a user callback must not break the widget
                self.error = f"on_result callback failed: {wd.error_text(exc)}"


def _ipython(name: str) -> Any:
    """``IPython.display.<name>`` (imported late: the kit works without IPython)."""
    import IPython.display

    return getattr(IPython.display, name)
