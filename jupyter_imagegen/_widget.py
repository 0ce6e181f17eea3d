"""``ImageGenWidget``: pick a model, prompt, watch it generate, browse and keep the results.

Design, in the habits of quak and lonboard:

* Generation runs in a daemon thread calling ``Client.generate(stream=True, on_event=...,
  cancel=...)``: the kernel stays free (front-end messages are not handled while a cell runs) and
  Cancel is just a ``threading.Event``. The thread only writes output traits (status, results);
  the page only writes input traits (prompt, model, controls).
* Comm handlers never raise: failures become the ``error`` trait, shown in the page as text.
* Images travel as binary buffers: full images of the newest result in ``latest``, small
  thumbnails in ``history``; an older full image is sent on request as a custom-message buffer.
* Nothing about credentials is synced: the client stays a plain Python attribute.
"""

from __future__ import annotations

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

from ._client import Client, StreamEvent
from ._exceptions import CancelledError, ImageGenError
from ._results import ImageResult
from ._widget_data import error_text, full_image, history_entry, input_image, model_entry

__all__ = ["ImageGenWidget"]

ResultCallback = Callable[[ImageResult], object]

_HERE = Path(__file__).parent


def _asset(name: str) -> Path:
    """The wheel ships ``static/<name>``; a source checkout (editable install) has ``js/<name>``."""
    shipped = _HERE / "static" / name
    return shipped if shipped.is_file() else _HERE.parent / "js" / name


HOW_TO_GET_MODELS = (
    "To get image models: set OPENROUTER_API_KEY and call jupyter_imagegen.online(), or call "
    "jupyter_imagegen.offline() for the local offline server (no key, no cost)."
)
#: Gallery entries kept in the synced state (``results`` keeps every result in Python).
MAX_HISTORY = 50


class ImageGenWidget(anywidget.AnyWidget):
    """Interactive image generation: model picker, prompt, live status, gallery with history.

    ```python
    w = ImageGenWidget(model="offline/sketch")
    w                                  # the UI
    w.generate("a red circle").result()  # from Python too; w.images, w.results
    ```
    """

    _esm = _asset("widget.js")
    _css = _asset("widget.css")

    # Inputs (the page writes these).
    model = t.Unicode("", help="Id of the model to generate with.").tag(sync=True)
    prompt = t.Unicode("").tag(sync=True)
    aspect_ratio = t.Unicode("", help="'' lets the model choose.").tag(sync=True)
    image_size = t.Unicode("", help="'' lets the model choose.").tag(sync=True)
    input_image = t.Bytes(b"").tag(sync=True, **bytes_serialization)
    input_mime = t.Unicode("").tag(sync=True)
    input_name = t.Unicode("").tag(sync=True)

    # Outputs (Python writes these).
    models = t.List(t.Dict(), help="Image-capable models as dropdown entries.").tag(sync=True)
    models_status = t.Unicode("loading").tag(sync=True)  # loading | ready | error
    notice = t.Unicode("").tag(sync=True)
    status = t.Unicode("idle").tag(sync=True)  # idle | running | done | error | cancelled
    status_text = t.Unicode("").tag(sync=True)
    stream_text = t.Unicode("").tag(sync=True)
    elapsed = t.Float(0.0).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    latest = t.List(t.Dict(), help="Full images of the newest result (binary).").tag(sync=True)
    history = t.List(t.Dict(), help="Gallery entries, newest first (thumbnails binary).").tag(sync=True)

    def __init__(
        self,
        client: Client | None = None,
        model: str | None = None,
        *,
        prompt: str = "",
        aspect_ratio: str = "",
        image_size: str = "",
        input_image: Any = None,
        on_result: ResultCallback | None = None,
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(kwargs) - {"layout"})
        if unknown:
            options = ["client", "model", "prompt", "aspect_ratio", "image_size", "input_image",
                       "on_result"]
            hints = [m for name in unknown for m in difflib.get_close_matches(name, options, n=1)]
            hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
            raise TypeError(f"ImageGenWidget got unexpected keyword argument(s) "
                            f"{', '.join(unknown)}{hint}")
        super().__init__(prompt=prompt, aspect_ratio=aspect_ratio, image_size=image_size,
                         model=model or "", **kwargs)
        if client is None:
            from ._default import default_client

            client = default_client()
        self._client = client
        self._requested_model = model
        self._results: list[ImageResult] = []
        self._by_key: dict[str, ImageResult] = {}
        self._callbacks: list[ResultCallback] = [on_result] if on_result else []
        self._lock = threading.Lock()
        self._cancel: threading.Event | None = None
        self._worker: threading.Thread | None = None
        self._models_thread: threading.Thread | None = None
        if input_image is not None:
            self.set_input_image(input_image)
        self.on_msg(self._handle_message)
        self.refresh_models()

    def __repr__(self) -> str:
        return (f"<ImageGenWidget model={self.model!r} status={self.status!r} "
                f"results={len(self._results)}>")

    # -- Python API -----------------------------------------------------------------------------

    @property
    def client(self) -> Client:
        """The client generations go through (never synced to the page)."""
        return self._client

    @property
    def results(self) -> list[ImageResult]:
        """Every result of this widget, oldest first (``results[-1]`` is the newest)."""
        return list(self._results)

    @property
    def images(self) -> list[Image.Image]:
        """PIL images of the newest result (empty before the first one)."""
        return self._results[-1].images if self._results else []

    @property
    def running(self) -> bool:
        """True while a generation is in flight."""
        return self._worker is not None and self._worker.is_alive()

    def on_result(self, callback: ResultCallback, remove: bool = False) -> None:
        """Call ``callback(result)`` after each successful generation (in the worker thread)."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def set_input_image(self, image: Any) -> None:
        """Put an image in the edit slot (PIL image, bytes, path or generated image)."""
        data, mime = input_image(image)
        name = image if isinstance(image, (str, Path)) else getattr(image, "filename", "") or ""
        with self.hold_sync():
            self.input_name = Path(name).name if name else "image"
            self.input_mime = mime
            self.input_image = data

    def clear_input_image(self) -> None:
        """Empty the edit slot."""
        self.input_image = b""
        self.input_mime = self.input_name = ""

    def refresh_models(self, *, wait: bool = False) -> None:
        """List image-capable models again (in a thread; ``wait=True`` blocks until done)."""
        self.models_status = "loading"
        thread = threading.Thread(target=self._load_models, name="imagegen-widget-models",
                                  daemon=True)
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
            request = self._request()
            self.error = ""
            self.stream_text = ""
            self.elapsed = 0.0
            self.status_text = f"Generating with {request['model'] or 'the default model'}…"
            self.status = "running"
            self._worker = threading.Thread(
                target=self._run, args=(request, self._cancel, future),
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

    # -- worker threads -------------------------------------------------------------------------

    def _load_models(self) -> None:
        try:
            entries = [model_entry(m) for m in self._client.models()]
        except Exception as exc:  # shown in the page; never raised into the comm
            self.models = []
            self.notice = f"Could not list image models: {error_text(exc)} {HOW_TO_GET_MODELS}"
            self.models_status = "error"
            return
        self.models = entries
        ids = [m["id"] for m in entries]
        if not self.model:
            default = self._client.default_model
            self.model = default if default in ids else (ids[0] if ids else "")
        if not ids:
            self.notice = f"No image-capable model is available. {HOW_TO_GET_MODELS}"
        elif self.model not in ids:
            self.notice = (f"{self.model!r} is not in the image-capable model listing; pick one "
                           "from the list.")
        else:
            self.notice = ""
        self.models_status = "ready"

    def _request(self) -> dict[str, Any]:
        images = [self.input_image] if self.input_image else None
        return {"prompt": self.prompt, "model": self.model, "aspect_ratio": self.aspect_ratio or None,
                "image_size": self.image_size or None, "images": images}

    def _run(self, request: dict[str, Any], cancel: threading.Event,
             future: Future[ImageResult]) -> None:
        started = time.perf_counter()
        keepalives = 0

        def on_event(event: StreamEvent) -> None:
            nonlocal keepalives
            self.elapsed = round(event.elapsed, 1)
            if event.kind == "keepalive":
                keepalives += 1
                self.status_text = (f"Generating with {request['model']}… still working "
                                    f"({keepalives} keep-alive{'s' if keepalives > 1 else ''})")
            elif event.kind in ("text", "reasoning"):
                self.stream_text += event.text
            elif event.kind == "retry":
                self.status_text = f"Retrying in {event.delay:.1f} s (attempt {event.attempt})…"
            elif event.kind == "image":
                self.status_text = f"Generating with {request['model']}… image received"

        try:
            if not request["model"]:
                # generate() right after construction: the listing may still be on its way.
                self.wait_for_models(timeout=60)
                request["model"] = self.model
            if not request["model"]:
                raise ImageGenError(f"No image model is selected. {HOW_TO_GET_MODELS}")
            result = self._client.generate(
                request["prompt"], request["model"], images=request["images"],
                aspect_ratio=request["aspect_ratio"], image_size=request["image_size"],
                stream=True, on_event=on_event, cancel=cancel)
            self._publish(result)
        except CancelledError as exc:
            self._finish("cancelled", "Cancelled.", started)
            future.set_exception(exc)
        except Exception as exc:  # the page shows it; the future carries it
            self.error = error_text(exc)
            self._finish("error", "Failed.", started)
            future.set_exception(exc)
        else:
            self._finish("done", result.caption(), started)
            self._notify(result)
            future.set_result(result)

    def _publish(self, result: ImageResult) -> None:
        key = f"r{len(self._results) + 1}"
        entry = history_entry(key, result)
        latest = [full_image(g) for g in result.generated]
        self._results.append(result)
        self._by_key[key] = result
        with self.hold_sync():
            self.latest = latest
            self.history = [entry, *self.history][:MAX_HISTORY]

    def _finish(self, status: str, text: str, started: float) -> None:
        with self.hold_sync():
            self.elapsed = round(time.perf_counter() - started, 1)
            self.status_text = text
            self.status = status

    def _notify(self, result: ImageResult) -> None:
        for callback in list(self._callbacks):
            try:
                callback(result)
            except Exception as exc:  # a user callback must not break the widget
                self.error = f"on_result callback failed: {error_text(exc)}"

    # -- messages from the page -----------------------------------------------------------------

    def _handle_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Custom messages from the page; errors go to the ``error`` trait, never raised."""
        try:
            kind = content.get("type") if isinstance(content, dict) else None
            if kind == "generate":
                # The page sends its inputs along: ipywidgets holds back state updates while one
                # is in flight, so a custom message can overtake the prompt's own sync.
                for name in ("prompt", "model", "aspect_ratio", "image_size"):
                    if isinstance(content.get(name), str):
                        setattr(self, name, content[name])
                self.generate()
            elif kind == "cancel":
                self.cancel()
            elif kind == "refresh-models":
                self.refresh_models()
            elif kind == "full":
                self._send_full(str(content.get("key")), int(content.get("index", 0)))
        except Exception as exc:
            self.error = error_text(exc)

    def _send_full(self, key: str, index: int) -> None:
        """Send one full-size image of an older result as a binary buffer (click to enlarge)."""
        result = self._by_key.get(key)
        if result is None or not 0 <= index < len(result.generated):
            self.send({"type": "full", "key": key, "index": index, "missing": True})
            return
        image = full_image(result.generated[index])
        data = image.pop("data")
        self.send({"type": "full", "key": key, **image}, buffers=[data])
