"""The ``%%imagegen`` cell magic: one settings class, one parsed cell.

``%load_ext jupyter_imagegen`` registers :class:`ImageGenMagics`. Its settings are traitlets, so
``%config ImageGenMagics.default_model = "..."``, ``c.ImageGenMagics...`` in an IPython config
file and ``%config ImageGenMagics`` (the listing) all come free from IPython.

A cell is read once, in the spirit of jupysql's ``SQLCommand``: the ``%%imagegen`` line is parsed
with IPython's ``magic_arguments`` (so ``%imagegen?`` documents every option), the body becomes
the prompt (``{name}`` filled from the user's variables), ``--input`` expressions are evaluated,
and the magic's settings fill whatever the line left out. The result is a frozen
:class:`~.cell.CellCommand` (the parse lives in :mod:`.cell`); everything after (the request,
the live status, saving, display) reads only that object, so a cell's meaning is decided in one
place and every usage error is raised before anything is sent. ``%imagegen COMMAND`` (no cell
body) goes to :mod:`.commands` instead.

Argument types check spelling only (``16x9`` becomes ``16:9``): what a model takes is the
catalogue's to say, checked against the chosen model before anything is sent. Errors from the
service become short ``UsageError`` messages that say what to do (IPython shows those without a
traceback; ``short_errors = False`` brings tracebacks back), and the API key is never shown.
"""

from __future__ import annotations

import argparse
import difflib
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core import magic_arguments as _margs
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate
from traitlets.config import Configurable

from .._api import default_client, started_default_client
from .._core.client import Client
from .._exceptions import CancelledError, ImageGenError
from .._results.display import caption_bundle, forget_shown, mark_shown, publish, result_outputs
from .._results.preview import FORMATS, display_options
from .._results.result import ImageResult
from .._wire.sizes import ASPECT_RATIOS, IMAGE_SIZES
from .cell import (
    CellCommand,
    PublicVariables,
    cell_prompt,
    identifier,
    input_images,
    matrix_cell,
    normalize_aspect_ratio,
    normalize_image_size,
    region_edit,
    seconds,
)
from .commands import run_command
from .status import StatusLine, run_with_status
from .tracebacks import advise, usage_error
from .tracebacks import install as install_short_errors
from .tracebacks import uninstall as uninstall_short_errors

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .._core.batch import BatchResult, Comparison

__all__ = [
    "ImageGenMagics", "PlainHelp", "load_ipython_extension", "unload_ipython_extension",
]

#: Seconds a request runs before the live status line appears (quick answers need none).
STATUS_DELAY = 0.3


# -- the magics ---------------------------------------------------------------------------------

# IPython's magic_arguments helpers are untyped; typed aliases keep mypy strict for the rest.
magic_arguments: Callable[[], Any] = _margs.magic_arguments
argument: Callable[..., Any] = _margs.argument
parse_argstring: Callable[[Any, str], argparse.Namespace] = _margs.parse_argstring
parser_options: Callable[..., Any] = _margs.kwds


class PlainHelp(_margs.MagicHelpFormatter):
    """``%imagegen?`` as plain text, which is how notebooks show it.

    IPython's formatter writes reStructuredText (a ``::`` block for the usage, ``<...>`` around
    choices) and argparse wraps at hyphens (``keep-`` / ``alives``, ``--each-`` / ``line``).
    """

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: Any = None) -> None:
        super().add_usage(usage, actions, groups, "Usage:\n  %")

    def _format_action_invocation(self, action: argparse.Action) -> str:
        return argparse.HelpFormatter._format_action_invocation(self, action)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)


@magics_class
class ImageGenMagics(Magics, Configurable):
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
    _picks: list[ImageResult] | None = None

    @property
    def picks(self) -> list[ImageResult]:
        """The results starred this session (``%imagegen star NAME``), in the order starred."""
        if self._picks is None:
            self._picks = []
        return self._picks

    # -- settings -------------------------------------------------------------------------------

    @validate("aspect_ratio")
    def _check_aspect_ratio(self, proposal: Any) -> str | None:
        return self._check(proposal["value"], normalize_aspect_ratio)

    @validate("image_size")
    def _check_image_size(self, proposal: Any) -> str | None:
        return self._check(proposal["value"], normalize_image_size)

    @staticmethod
    def _check(value: str | None, normalize: Callable[[str], str]) -> str | None:
        try:
            return None if value is None else str(normalize(value))
        except argparse.ArgumentTypeError as exc:
            raise TraitError(str(exc)) from None

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

    @observe("cache", "spend_limit")
    def _settings_changed(self, change: Any) -> None:
        # Applied on the next cell (no client is started while a config file loads); a change
        # to None then lifts the limit or turns the cache off, instead of being ignored. A client
        # already in use (ig.generate ran first) gets it now, so the limit holds from here on.
        self._lift_pending = True
        client = self._own_client if self.base_url else started_default_client()
        if client is not None:
            self._apply_settings(client, lift=True)
            self._lift_pending = False

    @observe("base_url")
    def _drop_own_client(self, change: Any) -> None:
        if self._own_client is not None:
            self._own_client.close()
        self._own_client = None

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
            from .._results.cache import ReplayCache

            client.cache = ReplayCache(folder)

    # -- shared with the line commands ----------------------------------------------------------

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
    def ip(self) -> InteractiveShell:
        """The shell the magics are registered on."""
        assert self.shell is not None, "ImageGenMagics needs a shell"
        return self.shell

    def _rich_frontend(self) -> bool:
        """False in a terminal, where in-place updates would print a new line each time."""
        shell = self.ip
        return getattr(shell, "kernel", None) is not None or type(shell.display_pub) is not DisplayPublisher

    # -- the magic ------------------------------------------------------------------------------

    @magic_arguments()
    @parser_options(formatter_class=PlainHelp)
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
    @argument("--mask", metavar="BOX|EXPR",
              help="edit one region of the -i result: L,T,R,B in pixels, or a PIL mask variable")
    @argument("-o", "--out", metavar="DIR", help="save the images (with metadata) into DIR")
    @argument("--as", dest="as_name", type=identifier, metavar="NAME",
              help="also store the ImageResult in the variable NAME")
    @argument("--no-display", action="store_true", help="show only the one-line caption, no images")
    @argument("--no-interpolate", dest="interpolate", action="store_false", default=None,
              help="send {braces} literally (no {name} substitution)")
    @argument("--timeout", type=seconds, metavar="SECONDS", help="read timeout for this request")
    @argument("--each-line", action="store_true",
              help="a batch: every non-empty line of the cell is its own prompt")
    @argument("--concurrency", type=int, default=4, metavar="N",
              help="requests in flight for --each-line and several -m (default 4)")
    @line_cell_magic
    def imagegen(self, line: str, cell: str | None = None) -> object:
        """Generate images from the cell body, or run a line command.

        Cell magic: the prompt is the cell body; {name} inserts a notebook variable (other
        braces stay as written, {{ and }} give literal braces). The result is the cell's value
        (and _):

            %%imagegen -m google/gemini-2.5-flash-image --aspect-ratio 16:9 --as poster
            a watercolour lighthouse at dusk, {style}

        Line commands:

            %imagegen models [SEARCH]   image-capable models (id, name, price per image, inputs)
            %imagegen config            effective settings (the key only as set/unset)
            %imagegen offline           use the local offline server (no key, no cost)
            %imagegen online            use OpenRouter (OPENROUTER_API_KEY)
            %imagegen key               enter the API key without echo, then go online
            %imagegen widget            open the interactive widget
            %imagegen more NAME [N]     N more like the result NAME (new seeds), as a strip
            %imagegen star NAME [off]   star a result; %imagegen picks lists the starred
            %imagegen help              this help

        A region edit: %%imagegen -i NAME --mask L,T,R,B with the change as the body.

        Defaults: %config ImageGenMagics.default_model = "..." (see %config ImageGenMagics).
        A kernel interrupt cancels a running request. (Plain text, not reStructuredText: this is
        what %imagegen? shows.)
        """
        if cell is None:
            return run_command(self, line)
        command = self._read_cell(line, cell)
        return self._run_batch(command) if command.is_batch else self._run_one(command)

    # -- reading a cell -------------------------------------------------------------------------

    def _read_cell(self, line: str, cell: str) -> CellCommand:
        """Parse the ``%%imagegen`` line and the body into a :class:`CellCommand`.

        Everything that can be wrong with a cell (options, an empty prompt, an unknown
        ``{name}`` spec, an ``--input`` that is nothing) fails here, before a request is sent.
        """
        args = self._parse(line)
        use_variables = self.interpolate if args.interpolate is None else args.interpolate
        variables = PublicVariables(self.ip.user_ns, self.ip.user_ns_hidden) if use_variables else None
        prompt = cell_prompt(cell, variables)
        source, mask = region_edit(args.mask, args.inputs or [], self.ip.user_ns)
        images = input_images(args.inputs or [], self.ip.user_ns) if source is None else []
        models = tuple(args.model or ())
        command = CellCommand(
            prompt=prompt, models=models,
            model=(models[0] if models else None) or self.default_model or None,
            images=images, aspect_ratio=args.aspect_ratio or self.aspect_ratio,
            image_size=args.image_size or self.image_size, seed=args.seed, n=args.n, api=args.api,
            stream=self.stream if args.stream is None else args.stream,
            timeout=args.timeout or self.timeout, each_line=args.each_line,
            concurrency=args.concurrency, as_name=args.as_name, out=args.out or self.output_dir,
            no_display=args.no_display, matrix=matrix_cell(cell), mask=mask, source=source)
        if source is not None and command.is_batch:
            raise usage_error("--mask edits one region of one result: no matrix, --each-line "
                              "or several -m with it")
        if command.is_batch and command.concurrency < 1:
            raise usage_error("--concurrency must be at least 1")
        if command.matrix and (len(models) > 1 or command.each_line):
            raise usage_error("a prompt matrix ({red|blue} ...) runs on one model, without "
                              "--each-line: vary the words, or compare models with several -m")
        return command

    def _parse(self, line: str) -> argparse.Namespace:
        try:
            return parse_argstring(self.imagegen, line)
        except UsageError as exc:
            raise usage_error(self._explain(str(exc))) from None

    def _explain(self, message: str) -> str:
        """Add the valid options and close matches to argparse's terse message."""
        parser = self.imagegen.parser
        # Each option by its long name, or its short one when it has none (-n).
        options = sorted({max(a.option_strings, key=len) for a in parser._actions
                          if a.option_strings and "-h" not in a.option_strings})
        if "unrecognized arguments" in message:
            unknown = message.split(":", 1)[1].split()
            hints = [f"did you mean {close[0]} (not {word})?" for word in unknown
                     if (close := difflib.get_close_matches(word, options, n=1))]
            if not any(word.startswith("-") for word in unknown):
                hints.append("the prompt goes in the cell body, below the %%imagegen line")
            message = "; ".join([message, *hints])
        return f"{message}\nValid options: {' '.join(options)} (see %imagegen? or %imagegen help)"

    # -- running a cell -------------------------------------------------------------------------

    def _run_one(self, command: CellCommand) -> ImageResult | None:
        """One request, with the live status line; an interrupt stops it and says so."""
        client = self.client()
        status = StatusLine(command.model or client.default_model, delay=STATUS_DELAY,
                            enabled=self.live_status and self._rich_frontend())
        status.start()
        options = {**command.options(), "stream": command.stream}
        source = command.source
        try:
            result = run_with_status(
                (lambda on_event, cancel: source.edit(command.prompt, command.model, mask=command.mask,
                                                      on_event=on_event, cancel=cancel))
                if source is not None else
                (lambda on_event, cancel: client.generate(command.prompt, command.model,
                                                          on_event=on_event, cancel=cancel,
                                                          **options)), status)
        except CancelledError as exc:
            note = caption_bundle(f"Stopped ({exc.message}). Run the cell again to retry.")
            if not status.replace(note):
                publish(note)
            return None
        except ImageGenError as exc:
            status.clear()
            raise self.error(exc) from None
        except BaseException:
            status.clear()
            raise
        return self._show(result, command, status)

    def _run_batch(self, command: CellCommand) -> BatchResult | Comparison | None:
        """``--each-line`` (a batch) and several ``-m`` (a comparison grid), in parallel."""
        client = self.client()
        prompts, models, options = command.prompts, command.models, command.options()
        outcome: BatchResult | Comparison
        if command.matrix:
            outcome = client.matrix(command.prompt, command.model,
                                    concurrency=command.concurrency, **options)
            batch = outcome.batch
        elif len(models) > 1:
            outcome = client.compare(prompts, models, concurrency=command.concurrency, **options)
            batch = outcome.batch
        else:
            outcome = batch = client.generate_many(prompts, command.model,
                                                   concurrency=command.concurrency, **options)
        if not batch.results and batch.errors and isinstance(batch.errors[0].error, ImageGenError):
            raise self.error(batch.errors[0].error)
        if command.as_name:
            self.ip.user_ns[command.as_name] = outcome
        notes = self._save(batch.results, command.out)
        if command.no_display or notes:
            publish(caption_bundle(" · ".join([batch.summary(), *notes])))
        return None if command.no_display else outcome

    def _save(self, results: list[ImageResult], out: str | None) -> list[str]:
        """Save into ``out``; a folder that cannot be written is a note, never a lost result."""
        if not out:
            return []
        try:
            paths = [path for result in results for path in result.save(out)]
        except (OSError, ImageGenError) as exc:
            return [f"NOT saved to {out}: {exc}; the result is still in _ (save it with .save())"]
        return [f"saved {paths[0]}" if len(paths) == 1 else f"saved {len(paths)} images to {out}"]

    def _show(self, result: ImageResult, command: CellCommand, status: StatusLine) -> ImageResult | None:
        """Bind, save and display ``result``; its first output takes the status line's place."""
        if command.as_name:
            self.ip.user_ns[command.as_name] = result
        notes = self._save([result], command.out)
        if command.no_display:
            bundle = caption_bundle(" · ".join([result.caption(), *notes]))
            if not status.replace(bundle):
                publish(bundle)
            return None
        first, *rest = result_outputs(result, notes=notes, columns=self.columns,
                                      width=self.thumbnail_width)
        if not status.replace(first):
            publish(first)
        for bundle in rest:
            publish(bundle)
        mark_shown(result)
        return result


# -- the extension ------------------------------------------------------------------------------


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
