"""The ``%%imagegen`` cell magic and the ``%imagegen`` line commands.

``%load_ext jupyter_imagegen`` registers :class:`ImageGenMagics`. Settings are traitlets, so
``%config ImageGenMagics.default_model = "..."`` and ``c.ImageGenMagics...`` in an IPython
config file both work, and ``%config ImageGenMagics`` lists them. Errors from the service are
shown as short ``UsageError`` messages that say what to do (IPython hides the traceback for
those; ``short_errors = False`` brings tracebacks back), and the API key is never shown.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core import magic_arguments as _margs
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate
from traitlets.config import Configurable

from ._advice import advise
from ._client import Client
from ._commands import run_command, usage_error
from ._default import default_client
from ._display import forget_shown
from ._errors import install as install_short_errors
from ._errors import uninstall as uninstall_short_errors
from ._exceptions import ImageGenError
from ._magic_args import identifier as _identifier
from ._magic_args import normalize_aspect_ratio, normalize_image_size
from ._magic_args import seconds as _seconds
from ._magic_run import CellRunner
from ._preview import FORMATS, display_options
from ._protocol import ASPECT_RATIOS, IMAGE_SIZES

__all__ = ["ImageGenMagics", "load_ipython_extension", "unload_ipython_extension"]


# IPython's magic_arguments helpers are untyped; typed aliases keep mypy strict for the rest.
magic_arguments: Callable[[], Any] = _margs.magic_arguments
argument: Callable[..., Any] = _margs.argument
parse_argstring: Callable[[Any, str], argparse.Namespace] = _margs.parse_argstring


@magics_class
class ImageGenMagics(CellRunner, Magics, Configurable):
    """Image generation magics: ``%%imagegen`` and ``%imagegen COMMAND``."""

    default_model = Unicode(None, allow_none=True, config=True, help=(
        "Model for cells without -m/--model (None: the client's default, "
        "JUPYTER_IMAGEGEN_MODEL or google/gemini-2.5-flash-image)."))
    aspect_ratio = Unicode(None, allow_none=True, config=True,
                           help=f"Default aspect ratio: one of {', '.join(ASPECT_RATIOS)}.")
    image_size = Unicode(None, allow_none=True, config=True,
                         help=f"Default image size: one of {', '.join(IMAGE_SIZES)}.")
    stream = Bool(True, config=True, help="Stream responses (live text and keep-alives while waiting).")
    interpolate = Bool(True, config=True, help="Replace {name} in prompts with notebook variables.")
    output_dir = Unicode(None, allow_none=True, config=True,
                         help="Save every result into this directory (as -o/--out does).")
    base_url = Unicode(None, allow_none=True, config=True, help=(
        "Use this OpenRouter-compatible base URL instead of the shared client "
        "(the key still comes from OPENROUTER_API_KEY)."))
    timeout = Float(None, allow_none=True, config=True, help="Read timeout in seconds per request.")
    short_errors = Bool(True, config=True,
                        help="Show errors as short messages; False shows full tracebacks.")
    live_status = Bool(True, config=True, help="Show a live status line while a request runs.")
    columns = Int(2, config=True, help="Columns of the grid when a result has several images.")
    thumbnail_width = Int(320, config=True, help="Width in CSS pixels of one grid cell.")
    preview_size = Int(768, config=True, help=(
        "Long side in pixels of the preview a saved notebook stores per image (originals stay in "
        "the result, in save() and in the store)."))
    preview_format = Unicode("auto", config=True, help=(
        "Preview encoding: auto (smallest of JPEG/PNG), webp, jpeg, png, or full (embed originals)."))
    spend_limit = Float(None, allow_none=True, config=True, help=(
        "Refuse to start a request that would take this session's spend (USD) past the limit."))
    cache = Unicode(None, allow_none=True, config=True, help=(
        "Replay cache: 'default' (the user cache folder) or a folder. Identical cells are then "
        "served from disk, offline and at no cost, marked 'cached'."))

    # A class-level default: config files can set base_url (and so fire the observer) while
    # Configurable.__init__ is still running.
    _own_client: Client | None = None
    _lift_pending = False

    @validate("aspect_ratio")
    def _check_aspect_ratio(self, proposal: Any) -> str | None:
        return self._check(proposal["value"], normalize_aspect_ratio)

    @validate("image_size")
    def _check_image_size(self, proposal: Any) -> str | None:
        return self._check(proposal["value"], normalize_image_size)

    @staticmethod
    def _check(value: str | None, normalize: Any) -> str | None:
        try:
            return None if value is None else str(normalize(value))
        except argparse.ArgumentTypeError as exc:
            raise TraitError(str(exc)) from None

    @observe("cache", "spend_limit")
    def _settings_changed(self, change: Any) -> None:
        # Applied on the next cell (no client is started while a config file loads); a change
        # to None then lifts the limit or turns the cache off, instead of being ignored.
        self._lift_pending = True

    def _apply_settings(self, client: Client, *, lift: bool) -> None:
        """Put the magic's spend limit and cache on ``client``; ``lift`` also applies ``None``."""
        if self.spend_limit is not None or lift:
            client.spend_limit = self.spend_limit
        if not self.cache:
            if lift:
                client.cache = None
            return
        folder = None if self.cache == "default" else self.cache
        current = getattr(client.cache, "directory", None)
        if client.cache is None or (folder is not None and str(current) != str(Path(folder))):
            from ._cache import ReplayCache

            client.cache = ReplayCache(folder)

    @validate("preview_format")
    def _check_preview_format(self, proposal: Any) -> str:
        value = str(proposal["value"]).lower()
        if value not in FORMATS:
            raise TraitError(f"preview_format must be one of {', '.join(FORMATS)}, not {value!r}")
        return value

    @observe("preview_size", "preview_format")
    def _preview_changed(self, change: Any) -> None:
        try:
            display_options(preview=self.preview_size, format=self.preview_format)
        except ValueError as exc:
            raise TraitError(str(exc)) from None

    @observe("base_url")
    def _drop_own_client(self, change: Any) -> None:
        if self._own_client is not None:
            self._own_client.close()
        self._own_client = None

    # -- shared helpers -----------------------------------------------------------------------

    def client(self) -> Client:
        """The client cells use: one for ``base_url`` when it is set, else the shared default."""
        if self.base_url:
            if self._own_client is None:
                self._own_client = Client(base_url=self.base_url)
            client = self._own_client
        else:
            client = default_client()
        if self.cache or self.spend_limit is not None or self._lift_pending:
            self._apply_settings(client, lift=self._lift_pending)
            self._lift_pending = False
        return client

    def error(self, exc: ImageGenError) -> BaseException:
        """The error to raise for ``exc``: a short ``UsageError``, or ``exc`` itself."""
        if not self.short_errors:
            return exc
        return usage_error(advise(exc), type(exc).__name__)

    @property
    def ip(self) -> Any:
        """The shell the magics are registered on."""
        assert self.shell is not None, "ImageGenMagics needs a shell"
        return self.shell

    def _rich_frontend(self) -> bool:
        """False in a terminal, where in-place updates would print a new line each time."""
        shell = self.ip
        return getattr(shell, "kernel", None) is not None or type(shell.display_pub) is not DisplayPublisher

    # -- the magic ----------------------------------------------------------------------------

    @magic_arguments()
    @argument("-m", "--model", action="append", metavar="MODEL",
              help="model id, e.g. google/gemini-2.5-flash-image (see %%imagegen models); "
                   "repeat it to compare models side by side")
    @argument("-a", "--aspect-ratio", type=normalize_aspect_ratio, metavar="RATIO",
              help="aspect ratio, e.g. 16:9 (the model's record says which it takes)")
    @argument("-s", "--size", dest="image_size", type=normalize_image_size, metavar="SIZE",
              help=f"image size: {', '.join(IMAGE_SIZES)}")
    @argument("--seed", type=int, help="seed, for models that honour one")
    @argument("-n", dest="n", type=int, metavar="N", help="number of images (Image API models)")
    @argument("--api", choices=("auto", "chat", "images"), default=None,
              help="which OpenRouter API to use (default: the model's documented path)")
    @argument("--stream", dest="stream", action="store_true", default=None,
              help="stream the response (default; live text and keep-alives)")
    @argument("--no-stream", dest="stream", action="store_false", help="one plain request")
    @argument("-i", "--input", dest="inputs", action="append", metavar="EXPR",
              help="input image(s) to edit: a variable (PIL image, result, list) or a file path; "
                   "repeatable")
    @argument("-o", "--out", metavar="DIR", help="save the images (with metadata) into DIR")
    @argument("--as", dest="as_name", type=_identifier, metavar="NAME",
              help="also store the ImageResult in the variable NAME")
    @argument("--no-display", action="store_true", help="show only the one-line caption, no images")
    @argument("--no-interpolate", dest="interpolate", action="store_false", default=None,
              help="send {braces} literally (no {name} substitution)")
    @argument("--timeout", type=_seconds, metavar="SECONDS", help="read timeout for this request")
    @argument("--each-line", action="store_true",
              help="a batch: every non-empty line of the cell is its own prompt")
    @argument("--concurrency", type=int, default=4, metavar="N",
              help="requests in flight for --each-line and several -m (default 4)")
    @line_cell_magic
    def imagegen(self, line: str, cell: str | None = None) -> Any:
        """Generate images from the cell body, or run a line command.

        Cell magic: the prompt is the cell body; ``{name}`` inserts a notebook variable (other
        braces stay as written, ``{{``/``}}`` escape). The result is the cell's value (and ``_``)::

            %%imagegen -m google/gemini-2.5-flash-image --aspect-ratio 16:9 --as poster
            a watercolour lighthouse at dusk, {style}

        Line commands::

            %imagegen models [SEARCH]   image-capable models (id, name, price per image, inputs)
            %imagegen config            effective settings (the key only as set/unset)
            %imagegen offline           use the local offline server (no key, no cost)
            %imagegen online            use OpenRouter (OPENROUTER_API_KEY)
            %imagegen key               enter the API key without echo, then go online
            %imagegen widget            open the interactive widget
            %imagegen help              this help

        Defaults: ``%config ImageGenMagics.default_model = "..."`` (see ``%config ImageGenMagics``).
        A kernel interrupt cancels a running request.
        """
        if cell is None:
            return run_command(self, line)
        return self._generate(line, cell)

    def _parse(self, line: str) -> argparse.Namespace:
        try:
            return parse_argstring(self.imagegen, line)
        except UsageError as exc:
            raise usage_error(self._explain(str(exc))) from None

    def _explain(self, message: str) -> str:
        """Add the valid options and close matches to argparse's terse message."""
        parser = self.imagegen.parser
        options = sorted({s for a in parser._actions for s in a.option_strings if s.startswith("--")})
        if "unrecognized arguments" in message:
            unknown = message.split(":", 1)[1].split()
            hints = [f"did you mean {close[0]} (not {word})?" for word in unknown
                     if (close := difflib.get_close_matches(word, options, n=1))]
            if not any(word.startswith("-") for word in unknown):
                hints.append("the prompt goes in the cell body, below the %%imagegen line")
            message = "; ".join([message, *hints])
        return f"{message}\nValid options: {' '.join(options)} (see %imagegen? or %imagegen help)"


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics on ``ipython`` (``%load_ext jupyter_imagegen``)."""
    ipython.register_magics(ImageGenMagics(ipython))
    ipython.events.register("post_run_cell", forget_shown)
    install_short_errors(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics again (``%unload_ext`` / ``%reload_ext``)."""
    magics = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        magics[kind].pop("imagegen", None)
    registry = ipython.magics_manager.registry
    registry.pop("ImageGenMagics", None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, ImageGenMagics)]
    uninstall_short_errors(ipython)
    if forget_shown in ipython.events.callbacks["post_run_cell"]:
        ipython.events.unregister("post_run_cell", forget_shown)

