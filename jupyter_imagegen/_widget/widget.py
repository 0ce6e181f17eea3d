"""``ImageGenWidget``: pick a model, prompt, watch it generate, browse and keep the results.

* Generation runs in a daemon thread calling ``Client.generate(on_event=..., cancel=...)``: the
  kernel stays free and Cancel is a ``threading.Event``. The thread writes output traits only.
* What the page may ask of the kernel arrives as custom messages (:mod:`.messages`: ``generate``,
  ``cancel``, ``clear``, ``full``, ``download``, ``variations``, ``edit``, ``star``, ...). Their
  handler never raises: a comm callback that raises only reaches the kernel log and the page
  would wait forever, so failures become the ``error`` trait, shown in the page as text.
* Exploring (:mod:`.explore`): a matrix prompt and "more like this" fill the ``grid`` trait cell
  by cell; a region edit joins the history; stars are the ``picked`` trait (``w.picks``).
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
from typing import TYPE_CHECKING, Any, TypeVar

import anywidget
import traitlets as t
from ipywidgets.widgets.trait_types import bytes_serialization
from PIL import Image

from .._core.client import Client, StreamEvent
from .._core.matrix import expand
from .._exceptions import CancelledError, ImageGenError, InvalidInputError, redact
from .._results.result import ImageResult
from . import assets, explore, messages
from . import data as wd
from .kept import KeptResults
from .snapshot import snapshot_bundle

if TYPE_CHECKING:
    from .._core.batch import Comparison

__all__ = ["ImageGenWidget"]

ResultCallback = Callable[[ImageResult], object]
T = TypeVar("T")
#: What a star, a variation or an edit may name: a result of this widget, or its gallery key.
Target = ImageResult | str | None
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
    grid = t.Dict(help="The newest prompt matrix or variations strip: labels and cells "
                  "(gallery entries, thumbnails binary); {} when none.").tag(sync=True)
    picked = t.List(t.Unicode(), help="Keys of the starred results (w.picks).").tag(sync=True)

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
        self._kept = KeptResults()
        self._comparison: Comparison | None = None
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
        return f"<ImageGenWidget model={self.model!r} status={self.status!r} results={len(self._kept.all)}>"

    # -- Python API -----------------------------------------------------------------------------

    @property
    def client(self) -> Client:
        """The client generations go through (never synced to the page)."""
        return self._client

    @property
    def results(self) -> list[ImageResult]:
        """Every result of this widget, oldest first (``clear_history()`` keeps them)."""
        return list(self._kept.all)

    @property
    def images(self) -> list[Image.Image]:
        """PIL images (full size) of the newest result (empty before the first one)."""
        return self._kept.all[-1].images if self._kept.all else []

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
        """Empty the gallery, the grid and the snapshot; ``results`` and ``picks`` keep theirs.

        The status line goes back to idle too: "Done in 2.1 s." under an empty gallery would
        describe a result that is no longer shown. A running generation keeps its status.
        """
        self._kept.forget_shown()
        with self.hold_sync():
            self.latest = []
            self.history = []
            self.grid = {}
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
        failures appear in the widget and in the future. ``cancel()`` stops it. A prompt that
        marks a matrix (``{red|blue}``) is refused here: :meth:`matrix` runs it as a grid.
        """
        text = self.prompt if prompt is None else prompt
        if expand(text) is not None:
            raise InvalidInputError("this prompt marks a matrix ({...|...}): run it with "
                                    "w.matrix(prompt), which returns the grid")
        return self._start(self._generate_work, prompt)

    def matrix(self, prompt: str | None = None) -> Future[Comparison]:
        """Run the prompt box's matrix (``"a {red|blue} fox at {dawn|dusk}"``) as the grid.

        The client prices the whole grid before anything is sent (the spend limit sees it all);
        the cells fill as they land, Cancel keeps what finished, and with a replay cache a second
        run replays the finished cells at no cost. The future holds the :class:`Comparison`.
        """
        return self._start(lambda cancel: explore.run_matrix(self, cancel, self._options()), prompt)

    def variations(self, target: Target = None, count: int = 4) -> Future[Comparison]:
        """``count`` more like ``target`` (default: the newest) with new, recorded seeds: a strip."""
        key = self._kept.key_of(target)
        return self._start(lambda cancel: explore.run_variations(self, key, count, cancel))

    def edit_region(self, prompt: str, mask: object, target: Target = None, *,
                    index: int = 0) -> Future[ImageResult]:
        """Change one region of ``target``'s image ``index``: ``mask`` is a box or a PIL mask.

        What the zoom view's region edit runs: every pixel outside the (feathered) region stays
        as it was, and the edited version joins the history beside the original.
        """
        key = self._kept.key_of(target)
        return self._start(lambda cancel: self._published(
            explore.run_edit(self, key, index, prompt, mask, cancel)))

    def star(self, target: Target = None, starred: bool = True) -> None:
        """Star (or unstar) a result: ``w.picks`` lists the starred, and the client's store keeps it."""
        self.picked = self._kept.star(self._kept.key_of(target), starred, self._client.store)

    @property
    def picks(self) -> list[ImageResult]:
        """The starred results, in the order they were starred."""
        return self._kept.picks

    @property
    def comparison(self) -> Comparison | None:
        """The newest matrix or variations grid (``None`` before the first)."""
        return self._comparison

    def _start(self, work: Callable[[threading.Event], T], prompt: str | None = None) -> Future[T]:
        """Run ``work(cancel)`` in the worker thread: one at a time, its status in the page."""
        with self._lock:
            if self.running:
                raise RuntimeError("a generation is already running; cancel() it first")
            if prompt is not None:
                self.prompt = prompt
            future: Future[T] = Future()
            self._cancel = threading.Event()
            with self.hold_sync():
                self.error = self.stream_text = ""
                self.elapsed = 0.0
                self.status_text = "Generating..."
                self.status = "running"
            self._busy = True
            self._worker = threading.Thread(target=self._run, args=(self._cancel, future, work),
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
        return snapshot_bundle(self.model_id, self.latest, self.history, len(self._kept.all))

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

    def _handle_message(self, _widget: object, content: Any, buffers: object) -> None:
        """Custom messages from the page (:mod:`.messages`); errors become the ``error`` trait."""
        try:
            handler = messages.HANDLERS.get(str(content.get("type"))) if isinstance(content, dict) else None
            if handler is not None:
                handler(self, content, [bytes(b) for b in buffers]
                        if isinstance(buffers, (list, tuple)) else [])
        except Exception as exc:  # never raised into the comm: the page would wait for ever
            self.error = wd.error_text(exc)

    # -- worker threads -------------------------------------------------------------------------

    def load_prices(self, ids: object) -> None:
        """Price the models ``ids`` names (at most a page) and sync what they cost."""
        with contextlib.suppress(Exception):  # a price that cannot be read stays as listed
            wanted = [i for i in ids if isinstance(i, str) and i not in self.prices] \
                if isinstance(ids, list) else []
            found = wd.model_prices(self._client, wanted) if wanted else {}
            if found:
                with self._lock:
                    self.prices = {**self.prices, **found}

    def _load_models(self) -> None:
        messages.set_traits(self, wd.listing(self._client, self.model))  # never raises
        if self.models_status != "ready":
            return
        self.key_left = wd.key_left(self._client)
        self.load_prices([self.model])  # the one beside the box; the page asks for what it shows

    def _run(self, cancel: threading.Event, future: Future[T],
             work: Callable[[threading.Event], T]) -> None:
        started = time.perf_counter()
        try:
            value = work(cancel)
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
            if isinstance(value, ImageResult):
                self._notify(value)
            self._refresh_snapshot()
            self._resolve(future, value)

    def _generate_work(self, cancel: threading.Event) -> ImageResult:
        def on_event(event: StreamEvent) -> None:
            self.elapsed = round(event.elapsed, 1)
            if event.kind in ("text", "reasoning"):
                self.stream_text += event.text
            elif event.kind == "retry":
                self.status_text = f"The service is busy; trying again in {event.delay:.0f} s..."
            elif event.kind in ("image", "partial"):
                self.status_text = "Receiving the image..."

        options = self._options()  # first: it waits for the listing that may pick the model
        result = self._client.generate(self.prompt, self.model, on_event=on_event, cancel=cancel,
                                       **options)
        return self._published(result)

    def _options(self) -> dict[str, Any]:
        """The request options the controls hold, for the picked model (waits for the listing)."""
        if not self.model:
            self.wait_for_models(timeout=60)  # generate() right after construction
        if not self.model:
            raise ImageGenError(f"No image model is selected. {wd.HOW_TO_GET_MODELS}")
        entry = next((m for m in self.models if m["id"] == self.model), None)
        return {"images": [self.input_image] if self.input_image else None,
                "aspect_ratio": self.aspect_ratio or None, "image_size": self.image_size or None,
                **wd.request_options(entry, self.n, self.seed)}

    def _resolve(self, future: Future[T], result: T | None = None,
                 error: BaseException | None = None) -> None:
        self._busy = False
        if error is not None:
            future.set_exception(error)
        elif result is not None:
            future.set_result(result)

    # -- results, keys and the grid (what explore's jobs use) -----------------------------------

    @property
    def kept(self) -> KeptResults:
        """The results of this widget by the keys the page names them by."""
        return self._kept

    def show_grid(self, grid: explore.Grid | None, comparison: Comparison | None = None) -> None:
        """Draw ``grid`` in the page (``None`` removes it); remember its comparison."""
        self.grid = grid.state() if grid is not None else {}
        if comparison is not None:
            self._comparison = comparison

    def _published(self, result: ImageResult) -> ImageResult:
        key = self._kept.keep(result)
        entry, latest, note = wd.published(key, result)  # one display: one decode budget
        with self.hold_sync():
            self.latest = latest
            self.history = [entry, *self.history][:MAX_HISTORY]
            if note:
                self.notice = note
        return result

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
