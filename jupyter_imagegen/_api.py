"""The default client behind ``jupyter_imagegen.generate()``, with the offline fallback.

With no ``OPENROUTER_API_KEY`` and no ``OPENROUTER_BASE_URL`` there is nothing to talk to, so the
kit starts its local OpenRouter-compatible server in-process and says so once: notebooks, demos
and classrooms then work with no network and no key, and going online is one call.
"""

from __future__ import annotations

import os
import sys
import textwrap
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from ._core.client import Client
from ._core.config import Settings, set_offline_provider
from ._core.request import Request
from ._exceptions import InvalidInputError
from ._results.labels import mark_offline, prices_simulated, shown_price
from ._results.reopen import read_file
from ._results.result import ImageResult

if TYPE_CHECKING:
    from ._core.batch import BatchResult, Comparison
    from ._core.model import Model, Price
    from .server import LocalServer

__all__ = ["agenerate", "compare", "default_client", "generate", "generate_many", "is_offline",
           "matrix", "models", "offline", "online", "open", "price", "set_default_client",
           "started_default_client"]

_lock = threading.Lock()
_client: Client | None = None
_server: LocalServer | None = None  # the in-process offline server, once started


def _in_marimo() -> bool:
    """True inside a running marimo notebook (no IPython magics there, a console for stderr)."""
    marimo = sys.modules.get("marimo")
    try:
        return bool(marimo is not None and marimo.running_in_notebook())
    except Exception:  # an old or partial marimo: not its notebook
        return False


def _notice(text: str) -> None:
    """One neutral notice: plain display output in a notebook, stderr elsewhere (never a port).

    marimo shows stderr in a console block that does not wrap long lines, so there the text
    goes out in lines short enough to read whole.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from ._results.display import caption_bundle, publish

        publish(caption_bundle(text))
    elif _in_marimo():
        print(textwrap.fill(text, width=72, break_on_hyphens=False), file=sys.stderr)
    else:
        print(text, file=sys.stderr)


def _how_to_go_online() -> str:
    if _in_marimo():
        return ("To use OpenRouter, set OPENROUTER_API_KEY in the environment before starting "
                "marimo, or call jupyter_imagegen.online(api_key=...).")
    return "To use OpenRouter, set the key (or run `%imagegen key`)."


def _local_base_url(*, asked: bool = False) -> str:
    """Start the in-process offline server once; say so when it starts (or when asked)."""
    global _server
    started = _server is None
    if _server is None:
        from .server import LocalServer  # front-end layer: only here does the kit start a server

        _server = LocalServer(port=0).start()
    if asked:
        _notice("jupyter_imagegen is in offline mode: images come from the built-in renderer, prices are "
                "simulated and nothing is charged. jupyter_imagegen.online() (or `%imagegen "
                "online`) switches back.")
    elif started:
        _notice("jupyter_imagegen is in offline mode because OPENROUTER_API_KEY is not set: images come "
                "from the built-in renderer, prices are simulated and nothing is charged. "
                + _how_to_go_online())
    return _server.base_url


def _start_offline(*, asked: bool = False) -> Client:
    client = Client(api_key="", base_url=_local_base_url(asked=asked))
    mark_offline(client)
    return client


# A Client() made with no key and no base URL goes offline through the same server and notice.
set_offline_provider(_local_base_url)


def default_client() -> Client:
    """The shared client: configured from the environment, or offline when nothing is configured."""
    global _client
    with _lock:
        if _client is None:
            _client = Client() if Settings.is_configured() else _start_offline()
        return _client


def started_default_client() -> Client | None:
    """The shared client if something already made it (never starts one or the offline server)."""
    return _client


def set_default_client(client: Client | None) -> None:
    """Replace the shared client (``None`` resolves it again from the environment on next use)."""
    global _client
    with _lock:
        _client = client


def offline() -> Client:
    """Switch the shared client to the local offline server (started on first use)."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
        _client = _start_offline(asked=True)
        return _client


def online(api_key: str | None = None, base_url: str | None = None) -> Client:
    """Switch the shared client to OpenRouter (key from the argument or ``OPENROUTER_API_KEY``)."""
    global _client
    # An explicit service, so a client with no key goes to OpenRouter rather than offline.
    client = Client(api_key=api_key, base_url=base_url or Settings.from_env().base_url)
    with _lock:
        if _client is not None:
            _client.close()
        _client = client
    return client


def is_offline() -> bool:
    """True when the shared client talks to the in-process offline server."""
    return _server is not None and _client is not None and _client.base_url == _server.base_url


def generate(prompt: str, model: str | None = None, **kwargs: Any) -> ImageResult:
    """Generate with the shared client; see :meth:`Client.generate` for the options."""
    return default_client().generate(prompt, model, **kwargs)


def generate_many(prompts: Iterable[str], model: str | Sequence[str] | None = None, *,
                  concurrency: int = 4, executor: Executor | None = None, progress: bool = True,
                  **options: Any) -> BatchResult:
    """Many generations in parallel with the shared client; see :meth:`Client.generate_many`."""
    return default_client().generate_many(prompts, model, concurrency=concurrency, executor=executor,
                                          progress=progress, **options)


def compare(prompts: str | Sequence[str], models: Sequence[str], *, concurrency: int = 4,
            executor: Executor | None = None, progress: bool = True, **options: Any) -> Comparison:
    """Every prompt on every model, side by side, with the shared client; see :meth:`Client.compare`."""
    return default_client().compare(prompts, models, concurrency=concurrency, executor=executor,
                                    progress=progress, **options)


def matrix(prompt: str, model: str | None = None, *, concurrency: int = 4,
           executor: Executor | None = None, progress: bool = True, **options: Any) -> Comparison:
    """A prompt matrix with the shared client: ``ig.matrix("a {red|blue} fox at {dawn|dusk}")``.

    The first brace group with bars gives the rows, the others the columns; the whole matrix is
    priced before anything is sent. See :meth:`Client.matrix`.
    """
    return default_client().matrix(prompt, model, concurrency=concurrency, executor=executor,
                                   progress=progress, **options)


def models(*, refresh: bool = False, all: bool = False) -> list[Model]:
    """Image models of the shared client's service (one merged record each)."""
    return default_client().models(refresh=refresh, all=all)


def price(model: str | None = None, **options: Any) -> Price:
    """One image's estimated price with the shared client, labelled as a notebook should show it.

    Why not ``default_client().price()``: offline nothing is billed, so the label says the price
    is simulated (``$0.0387/image (simulated token estimate)``) instead of ``last billed``.
    """
    client = default_client()
    found = client.price(model, **options)
    return shown_price(found, simulated=prices_simulated(client, model or client.default_model))


class _SharedClient:
    """The shared client, looked up when a reopened result is rerun or edited, not before.

    Opening a file must not start the offline server or read the environment: only sending does.
    """

    def edit(self, result: ImageResult, prompt: str, model: str | None = None,
             **options: Any) -> ImageResult:
        return default_client().edit(result, prompt, model, **options)

    def send(self, request: Any) -> ImageResult:
        return default_client().send(request)

    def variations(self, result: ImageResult, count: int = 4, **options: Any) -> Comparison:
        return default_client().variations(result, count, **options)


def open(path: str | os.PathLike[str], *, client: Client | None = None) -> ImageResult:
    """An image the kit wrote (or its ``.json`` sidecar), back as a result with its request.

    ``ig.open("out/fox.png").rerun()`` sends the same request again (same prompt, model, options
    and seed: the same image where the model honours seeds); ``.edit("make it night")`` starts
    from the image. ``client`` runs them (default: the shared client, when first needed).
    """
    result, _path = read_file(path)
    try:
        result.request = Request.from_params(result.prompt, result.requested_model or result.model,
                                             result.params)
    except InvalidInputError:
        result.request = None  # parameters this kit cannot send: the result still shows
    result._client = client if client is not None else _SharedClient()
    return result


async def agenerate(prompt: str, model: str | None = None, **kwargs: Any) -> ImageResult:
    """``await``-able :func:`generate` on the shared client; the event loop is never blocked."""
    from ._core.aclient import AsyncClient

    client = default_client()
    wrapper = _async.get("wrapper")
    if wrapper is None or wrapper.sync is not client:  # one wrapper, for the current default
        if wrapper is not None:
            wrapper._pool.shutdown(wait=False)  # its threads go; the old client is not ours
        wrapper = _async["wrapper"] = AsyncClient(client=client)
    return await wrapper.generate(prompt, model, **kwargs)


_async: dict[str, Any] = {}
