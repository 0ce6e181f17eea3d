"""The ``%imagegen COMMAND`` line commands (models, config, widget, more, star, picks, ...).

Each command is a small function of the magics object and its arguments, so adding one is a
function and a ``COMMANDS`` entry, not a new magic. Anything that goes wrong becomes a short
``UsageError``. The API key is only ever reported as set or unset.

The magic module imports this one (it hands ``%imagegen`` lines without a cell body here), so
:class:`~.magic.ImageGenMagics` is imported for type checking only: a runtime import would cycle.
"""

from __future__ import annotations

import difflib
import getpass
import os
import re
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._api import offline, online
from .._exceptions import ImageGenError
from .._results.labels import is_offline_client, money, price_label, prices_simulated
from .status import GroupedTable, Table
from .tracebacks import usage_error

if TYPE_CHECKING:
    from .._core.batch import BatchResult, Comparison
    from .._core.client import Client
    from .._results.result import ImageResult
    from .._widget.widget import ImageGenWidget
    from .magic import ImageGenMagics

__all__ = ["COMMANDS", "run_command"]


def _models(magics: ImageGenMagics, words: list[str]) -> Table:
    """Image-capable models, grouped by author; every search word must match the id or the name.

    In a notebook the groups are collapsed (fifty models would be a 2,500 px table saved into
    the notebook), each line wraps on a narrow screen, and ``%imagegen models WORD`` filters.
    Offline, every price reads as simulated (the guard still counts it, so limits can be tried).
    """
    client = magics.client()
    try:
        models = client.catalogue.models_with_prices()
    except ImageGenError as exc:
        raise magics.error(exc) from None
    terms = [w.lower() for w in words]
    found = [m for m in models if all(t in f"{m.id} {m.name}".lower() for t in terms)]
    prices = {m.id: price_label(m.price(), simulated=prices_simulated(client, m.id)) for m in found}
    rows = [[m.id, m.name, "+".join(sorted(m.apis)), ", ".join(m.aspect_ratios) or "-",
             prices[m.id], ", ".join(m.input_modalities)] for m in found]
    groups: dict[str, list[tuple[str, str]]] = {}
    for m in found:
        ratios = ", ".join(m.aspect_ratios[:4]) + (f" +{len(m.aspect_ratios) - 4}"
                                                   if len(m.aspect_ratios) > 4 else "")
        detail = " · ".join(x for x in (m.name, prices[m.id], "+".join(sorted(m.apis)),
                                        f"ratios {ratios}" if ratios else "",
                                        "takes images" if m.accepts_images else "") if x)
        groups.setdefault(m.id.split("/", 1)[0], []).append((m.id, detail))
    offline = is_offline_client(client)
    where = "offline local server" if offline else client.base_url
    matching = f" matching {' '.join(words)!r}" if words else ""
    caption = f"{len(found)} image model{'s' * (len(found) != 1)}{matching} at {where}"
    if offline:
        caption += "; prices are simulated, nothing is charged"
    if words and not found:
        caption += f"; all {len(models)}: %imagegen models"
    elif not words:
        caption += "; filter with %imagegen models WORD"
    return GroupedTable(["id", "name", "api", "aspect ratios", "price/image", "inputs"], rows,
                        groups=sorted(groups.items()), caption=caption, items=found)


def _config(magics: ImageGenMagics, words: list[str]) -> Table:
    """The settings a cell would use now, and how to change each."""
    client = magics.client()
    offline = is_offline_client(client)
    service = f"{client.base_url} (offline local server)" if offline else client.base_url
    model = magics.default_model or f"{client.default_model} (client default)"
    change = "%config ImageGenMagics."
    rows = [
        ["service", service, "%imagegen offline / online; " + change + "base_url"],
        ["API key", "set" if client.has_key else "unset", "%imagegen key"],
        ["model", model, change + "default_model"],
        ["aspect ratio", magics.aspect_ratio or "(model default)", change + "aspect_ratio"],
        ["size", magics.image_size or "(model default)", change + "image_size"],
        ["stream", str(magics.stream), change + "stream"],
        ["interpolate {name}", str(magics.interpolate), change + "interpolate"],
        ["save to", magics.output_dir or "(not saved)", change + "output_dir"],
        ["timeout", "(client default)" if magics.timeout is None else f"{magics.timeout:g}s",
         change + "timeout"],
        ["short errors", str(magics.short_errors), change + "short_errors"],
        ["replay cache", magics.cache or "(off)", change + "cache"],
        ["spent this session", _spent(client),
         "(simulated by the offline server; the spend limit counts it)" if offline
         else "(reported by the service; cache hits are free)"],
        ["spend limit", _limit(client.spend_limit, offline=offline), change + "spend_limit"],
        ["key limit", _key_limit(client), "set by the service (a classroom gateway: the teacher)"],
    ]
    return Table(["setting", "value", "change with"], rows, caption="%config ImageGenMagics lists all")


def _spent(client: Client) -> str:
    """Real spend only: an offline client's simulated prices are not money spent.

    What is pending (unfinished calls, answers without cost) is said apart: it is counted
    against the limit but not billed yet, as far as the client knows.
    """
    pending = f", {money(client.pending)} of it pending" if client.pending else ""
    if is_offline_client(client):
        return (f"$0.00 (offline; simulated prices total {money(client.spent)}{pending}, "
                "not charged)")
    return money(client.spent) + (f" ({money(client.pending)} pending)" if client.pending else "")


def _key_limit(client: Client) -> str:
    """What ``GET /key`` says is left on the key (behind a classroom gateway: the budget)."""
    info = client.key_info()
    return info.describe() if info is not None else "(the service does not say)"


def _limit(limit: float | None, *, offline: bool) -> str:
    """The limit, and offline that it holds on the simulated prices (so it can be tried)."""
    if limit is None:
        return "(none)"
    return f"${limit:.2f} (enforced on simulated prices)" if offline else f"${limit:.2f}"


def _offline(magics: ImageGenMagics, words: list[str]) -> None:
    magics.base_url = None
    offline()  # says so in one line


def _online(magics: ImageGenMagics, words: list[str]) -> None:
    if not (os.environ.get("OPENROUTER_API_KEY") or os.environ.get("OPENROUTER_BASE_URL")):
        raise usage_error("No OPENROUTER_API_KEY is set. Run `%imagegen key` to enter it without "
                          "echo, or set the variable before starting Jupyter.")
    magics.base_url = None
    client = online()
    key = "set" if client.has_key else "unset"
    print(f"jupyter_imagegen: online: {client.base_url} (API key {key}).")


def _key(magics: ImageGenMagics, words: list[str]) -> None:
    try:
        key = getpass.getpass("OpenRouter API key (not shown): ").strip()
    except (KeyboardInterrupt, EOFError):
        return  # interrupted: nothing changed, nothing to say
    if not key:
        raise usage_error("No key entered; nothing changed.")
    os.environ["OPENROUTER_API_KEY"] = key
    magics.base_url = None
    client = online()
    print(f"jupyter_imagegen: API key set for this session; online at {client.base_url}.")


def _widget(magics: ImageGenMagics, words: list[str]) -> ImageGenWidget:
    try:
        from .._widget.widget import ImageGenWidget
    except ImportError as exc:  # ipywidgets/anywidget missing, or an old install
        raise usage_error(f"The widget is not available: {exc}") from None
    return ImageGenWidget(client=magics.client(), model=magics.default_model or None)


def _named_result(magics: ImageGenMagics, word: str, command: str) -> ImageResult:
    """The result a notebook name (or expression) holds, or a usage error that says what to give."""
    from .._results.result import ImageResult

    try:
        value = eval(word, magics.ip.user_ns)  # noqa: S307 (the user's own code, as -i is)
    except Exception:
        value = None
    if not isinstance(value, ImageResult):
        raise usage_error(f"%imagegen {command} {word}: not a result in this notebook; name one "
                          "the kit made (e.g. %%imagegen --as NAME)")
    return value


def _more(magics: ImageGenMagics, words: list[str]) -> Comparison:
    """``N`` more like a result: its request again with new recorded seeds, beside it as a strip."""
    if not words or len(words) > 2 or (len(words) == 2 and not words[1].isdigit()):
        raise usage_error("Usage: %imagegen more NAME [N] (N more like the result NAME, default 4)")
    result = _named_result(magics, words[0], "more")
    try:
        return magics.client().variations(result, int(words[1]) if len(words) == 2 else 4)
    except ImageGenError as exc:
        raise magics.error(exc) from None


def _star(magics: ImageGenMagics, words: list[str]) -> None:
    """Star (``off``: unstar) a result; the client's store, when it has one, keeps the star."""
    if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() != "off"):
        raise usage_error("Usage: %imagegen star NAME [off]")
    result = _named_result(magics, words[0], "star")
    starred = len(words) == 1
    picks = magics.picks
    picks[:] = [r for r in picks if r is not result] + ([result] if starred else [])
    store = magics.client().store
    if store is not None:
        store.star(result, starred)
    print(f"jupyter_imagegen: {'starred' if starred else 'unstarred'} {words[0]}; "
          f"{len(picks)} pick(s) this session (%imagegen picks)")


def _picks(magics: ImageGenMagics, words: list[str]) -> BatchResult:
    """The results starred this session, as a grid (also the cell's value)."""
    from .._core.batch import BatchItem, BatchResult

    if words:
        raise usage_error("Usage: %imagegen picks (star results with %imagegen star NAME)")
    return BatchResult([BatchItem(i, r.prompt, r.model, result=r)
                        for i, r in enumerate(magics.picks)])


HELP = """\
Generate: write the prompt under %%imagegen (the result is the cell's value, also _)

    %%imagegen
    a watercolour lighthouse at dusk

    %%imagegen -m google/gemini-2.5-flash-image --aspect-ratio 16:9 --as poster
    a poster of {city} at night            ({city} inserts a notebook variable)

    %%imagegen --each-line                 one image per line, in parallel
    a cat
    a dog

    %%imagegen -m google/gemini-2.5-flash-image -m black-forest-labs/flux.2-pro
    a harbour at night                     (a side-by-side comparison)

    %%imagegen -i poster                   edit: send an image (variable or file) back

    %%imagegen -i poster --mask 100,400,300,700
    a red door                             (edit only that box; every other pixel is kept)

    a {red|blue} fox at {dawn|dusk}        (under %%imagegen: a prompt matrix, one labelled grid)

Options: -m MODEL, -a RATIO, -s SIZE, -n N (images per request), --seed N, -i IMAGE, --mask BOX, -o DIR,
         --as NAME, --no-display, --each-line, --concurrency N, --timeout S, --api API,
         --stream (default) or --no-stream, --no-interpolate

Commands:
    %imagegen models [SEARCH]   image models with price per image
    %imagegen config            the settings a cell uses now
    %imagegen offline | online  the built-in offline renderer, or OpenRouter
    %imagegen key               enter the API key without echo
    %imagegen widget            the interactive widget
    %imagegen more NAME [N]     N more like the result NAME (new recorded seeds), as a strip
    %imagegen star NAME [off]   star a result (the client's store keeps it); picks lists them
    %imagegen picks             the starred results of this session, as a grid
    %imagegen help              this help

Settings: %config ImageGenMagics (e.g. .default_model, .preview_size = 768, .preview_format = "full")
"""


class Help:
    """The help as readable text, and as a preformatted block in notebooks."""

    def __repr__(self) -> str:
        return HELP

    def _repr_html_(self) -> str:
        from html import escape

        # JupyterLab's output <pre> breaks lines anywhere (word-break: break-all), and browsers
        # break after any hyphen (--each-|line): here only between words, options kept whole.
        style = "white-space:pre-wrap;word-break:normal;overflow-wrap:normal;overflow-x:auto"
        text = re.sub(r"[^\s]*-[^\s]*", lambda m: f'<span style="white-space:nowrap">{m[0]}</span>',
                      escape(HELP))
        return f'<pre class="jupyter-imagegen-help" style="{style}">{text}</pre>'


def _help(magics: ImageGenMagics, words: list[str]) -> Help:
    return Help()


COMMANDS: dict[str, Callable[[ImageGenMagics, list[str]], object]] = {
    "models": _models, "config": _config, "offline": _offline, "online": _online, "key": _key,
    "widget": _widget, "more": _more, "star": _star, "picks": _picks, "help": _help,
}


def run_command(magics: ImageGenMagics, line: str) -> object:
    """Run ``%imagegen COMMAND [ARGS]``; ``%imagegen`` alone shows the help."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise usage_error(f"cannot parse {line!r}: {exc}") from None
    if not words:
        return _help(magics, [])
    name, rest = words[0].lower(), words[1:]
    command = COMMANDS.get(name)
    if command is None:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" Did you mean `%imagegen {close[0]}`?" if close else ""
        where = ("Options belong on a cell: `%%imagegen [options]` with the prompt below it."
                 if name.startswith("-") else
                 "To generate, write the prompt in a cell under `%%imagegen [options]`.")
        raise usage_error(f"Unknown command {words[0]!r}.{hint} Commands: {', '.join(COMMANDS)}. "
                          + where)
    return command(magics, rest)
