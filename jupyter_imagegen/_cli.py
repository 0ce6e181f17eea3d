"""The ``jupyter-imagegen`` command: serve the offline API, run the demo, list models, generate.

``serve`` and ``demo`` need no key and no network; ``models`` and ``generate`` are thin front ends
over the client. Errors print as ``error: <message>`` with exit status 1, never as a traceback.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ._exceptions import scrub
from ._version import __version__

__all__ = ["main"]

DEMO_KEY = "sk-or-offline-demo-key"
_DEMO_HINT = "pip install 'jupyter-imagegen[demo]'"
_GRID_IMG = re.compile(r'src="data:(image/(?:png|jpeg|webp));base64,([A-Za-z0-9+/=]+)"')
_IMAGE_MIMES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp",
                "image/gif": ".gif"}


def _say(text: object = "", *, file: TextIO | None = None, flush: bool = False) -> None:
    """Print a line with both scrubs: no secret, and nothing a terminal obeys.

    Model ids and names from a listing, reply text and error messages come from strangers; an
    OSC 52 sequence in one of them wrote the clipboard of whoever ran ``models``.
    """
    print(scrub(str(text)), file=file or sys.stdout, flush=flush)


def _port(text: str) -> int:
    """An argparse type: a TCP port number, 0 (pick a free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected a whole number "
                                         "from 0 to 65535") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {port}: use 0 (pick a free one) to 65535")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter-imagegen",
        description="OpenRouter image generation for Jupyter, with an offline local server.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the offline OpenRouter-compatible API server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="port (default 0: pick a free one)")
    serve.add_argument("--api-key", "--key", default=os.environ.get("JUPYTER_IMAGEGEN_SERVER_KEY") or None, help="require this bearer key (default: $JUPYTER_IMAGEGEN_SERVER_KEY, else any; needed with --allow-remote)")  # noqa: E501
    serve.add_argument("--latency", type=float, default=0.0, metavar="S",
                       help="seconds of simulated generation time per request")
    serve.add_argument("--fault", action="append", default=[], metavar="SPEC",
                       help="queue a fault, e.g. '429,retry_after=2,times=3', 'cut-stream', "
                            "'slow,delay=5' (repeatable)")
    serve.add_argument("--no-aliases", action="store_true",
                       help="do not serve real model ids (google/..., black-forest-labs/...)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow binding a non-loopback address")
    serve.add_argument("--access-log", action="store_true",
                       help="log request lines to stderr (never headers)")
    serve.add_argument("--sign", nargs=2, metavar=("CERTS", "KEY"),
                       help="sign every image with C2PA Content Credentials: a PEM certificate "
                            "chain and its PEM private key (needs jupyter-imagegen[provenance])")
    serve.add_argument("--sign-alg", default="es256",
                       help="the signing key's algorithm (default es256)")

    demo = sub.add_parser("demo", help="run the quickstart notebook offline and export it")
    demo.add_argument("--out", default="imagegen-demo", help="output folder (default ./imagegen-demo)")
    demo.add_argument("--notebook", help="notebook to run (default: the bundled quickstart)")
    demo.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell")

    models = sub.add_parser("models", help="list image models")
    models.add_argument("--all", action="store_true", help="include text-only models")
    models.add_argument("--base-url", help="API base URL (default: OPENROUTER_BASE_URL, or offline)")

    gen = sub.add_parser("generate", help="generate images for a prompt and save them")
    gen.add_argument("prompt")
    gen.add_argument("-m", "--model", help="model id (default: the configured default model)")
    gen.add_argument("--aspect-ratio", help="e.g. 1:1, 16:9, 9:16")
    gen.add_argument("--size", help="image size: 1K, 2K or 4K")
    gen.add_argument("--seed", type=int)
    gen.add_argument("-o", "--out", default=".", help="folder to save images in (default .)")
    gen.add_argument("--stream", action="store_true", help="stream the response")
    gen.add_argument("--base-url", help="API base URL (default: OPENROUTER_BASE_URL, or offline)")
    gen.add_argument("--no-xmp", action="store_true",
                     help="do not write the XMP AI-generated mark into the saved files "
                          "(also: JUPYTER_IMAGEGEN_XMP=0)")
    _gateway_parser(sub.add_parser(
        "gateway", help="a classroom gateway: one OpenRouter key, a budget per student",
        description="An OpenRouter-compatible proxy that holds the class's key and gives each "
                    "student a token with a budget (pip install 'jupyter-imagegen[gateway]')."))
    return parser


def _usd(text: str) -> float:
    """An argparse type: an amount of US dollars, 0 or more."""
    try:
        value = float(text.strip().lstrip("$"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid amount {text!r}: expected USD, e.g. 1.50") from None
    if not value >= 0 or value > 1e6:
        raise argparse.ArgumentTypeError(f"invalid amount {text!r}: use 0 to 1000000 USD")
    return value


_DB_HELP = ("the ledger: a SQLite file (default: $JUPYTER_IMAGEGEN_GATEWAY_DB, else "
            "./imagegen-gateway.db) or postgresql://user@host/db")


def _gateway_parser(gateway: argparse.ArgumentParser) -> None:
    db = os.environ.get("JUPYTER_IMAGEGEN_GATEWAY_DB") or "imagegen-gateway.db"
    sub = gateway.add_subparsers(dest="gateway_command", required=True)
    serve = sub.add_parser("serve", help="serve the gateway (the key from OPENROUTER_API_KEY)")
    serve.add_argument("--db", default=db, help=_DB_HELP)
    serve.add_argument("--upstream", default=None, help="the upstream API base URL (default: "
                       "OpenRouter; 'offline' starts the kit's local server in this process)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="port (default 0: pick a free one)")
    serve.add_argument("--models", help="allow only these model ids (comma-separated)")
    serve.add_argument("--class-budget", type=_usd, metavar="USD", help="a budget for the class")
    serve.add_argument("--admin-token", help="the teacher's page token (default: "
                       "$JUPYTER_IMAGEGEN_GATEWAY_ADMIN_TOKEN; none: no page)")
    serve.add_argument("--block-words", metavar="W,...", help="refuse prompts with these words")
    serve.add_argument("--block-words-file", metavar="PATH", help="... or those in this file")
    serve.add_argument("--hub", action="store_true", help="run as a JupyterHub service: accept "
                       "the users' JUPYTERHUB_API_TOKEN, checked against the Hub")
    serve.add_argument("--default-budget", type=_usd, default=1.0, metavar="USD",
                       help="budget of a Hub user's first call (default 1.00)")
    serve.add_argument("--max-connections", type=int, default=256, help="requests at once")
    serve.add_argument("--deadline", type=float, default=600.0, help="seconds a call may take")
    serve.add_argument("--access-log", action="store_true", help="log request lines (never headers)")
    serve.add_argument("--fsync", action="store_true", help="SQLite: fsync every commit (survives "
                       "a power cut, not only a crash; ~1-3 ms more per call)")
    add = sub.add_parser("add", help="add a student; prints their token as the last line")
    add.add_argument("name")
    add.add_argument("--budget", type=_usd, required=True, metavar="USD")
    revoke = sub.add_parser("revoke", help="revoke a student's token")
    revoke.add_argument("name")
    budget = sub.add_parser("budget", help="set a student's budget")
    budget.add_argument("name")
    budget.add_argument("usd", type=_usd, metavar="USD")
    usage = sub.add_parser("usage", help="spent, reserved, budget and calls per student")
    usage.add_argument("--json", action="store_true", help="as JSON")
    for command in (add, revoke, budget, usage):
        command.add_argument("--db", default=db, help=_DB_HELP)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    handler = {"serve": _serve, "demo": _demo, "models": _models, "generate": _generate,
               "gateway": _gateway}
    from ._exceptions import ImageGenError

    try:
        return handler[args.command](args)
    except (ImageGenError, OSError) as exc:
        _say(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


# -- serve ------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from .server import LocalServer, parse_fault_spec
    from .server._server import _is_loopback

    if not args.allow_remote and not _is_loopback(args.host):
        _say(f"error: refusing to bind {args.host!r}: the local server accepts any key and is "
              "meant for this machine only; pass --allow-remote to bind a non-loopback address "
              "on purpose", file=sys.stderr)
        return 2
    faults = []
    for spec in args.fault:
        try:
            faults.append(parse_fault_spec(spec))
        except ValueError as exc:
            _say(f"error: invalid --fault {spec!r}: {exc}", file=sys.stderr)
            return 2
    try:
        signing = None
        if args.sign:
            from .server import Signing

            signing = Signing(args.sign[0], args.sign[1], alg=args.sign_alg)
        server = LocalServer(args.host, args.port, api_key=args.api_key, latency=args.latency,
                             catalogue_aliases=not args.no_aliases,
                             allow_remote=args.allow_remote,
                             access_log=sys.stderr if args.access_log else None, sign=signing)
    except ValueError as exc:
        _say(f"error: {exc}", file=sys.stderr)
        return 2
    for fault, times in faults:
        server.faults.push(fault, times=times)
    try:
        server.start()
    except OSError as exc:
        where = f"[{args.host}]" if ":" in args.host else args.host
        _say(f"error: cannot bind {where}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    # Never echo a key: it would end up in terminal scrollback, logs and screenshots.
    key = "<the key you passed to --api-key>" if args.api_key else "anything"
    _say(f"Serving OpenRouter-compatible API at {server.base_url}")
    _say("Point jupyter_imagegen (or any OpenRouter/OpenAI client) at it with:")
    _say(f"  export OPENROUTER_BASE_URL={server.base_url}")
    _say(f"  export OPENROUTER_API_KEY={key}")
    _say("Models are procedural offline renderers (not neural models); prices are simulated.")
    if server.signing is not None:
        _say("Every image is signed with C2PA Content Credentials (--sign).")
    _say("Press Ctrl+C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        _say("Stopped.")
    return 0


# -- gateway ----------------------------------------------------------------------------------


def _gateway(args: argparse.Namespace) -> int:
    """``gateway ...``: the gateway is imported here only, since its extra is optional."""
    try:
        from .gateway import _commands as gateway
    except ImportError as exc:
        print(f"error: the gateway needs its extra ({exc.name} is missing): "
              "pip install 'jupyter-imagegen[gateway]'", file=sys.stderr)
        return 1
    command = args.gateway_command
    if command == "add":
        return gateway.add(args.db, args.name, args.budget)
    if command == "revoke":
        return gateway.revoke(args.db, args.name)
    if command == "budget":
        return gateway.budget(args.db, args.name, args.usd)
    if command == "usage":
        return gateway.usage(args.db, args.json)
    if args.upstream in (None, ""):
        from ._wire.common import DEFAULT_BASE_URL

        return gateway.run_serve(args, DEFAULT_BASE_URL)
    if args.upstream != "offline":
        return gateway.run_serve(args, args.upstream)
    from .server import LocalServer

    with LocalServer() as offline:  # the kit's own server: no key, simulated prices
        print(f"Offline upstream: the kit's local server at {offline.base_url}", flush=True)
        return gateway.run_serve(args, offline.base_url)


# -- demo -------------------------------------------------------------------------------------


def _bundled_notebook() -> Path | None:
    here = Path(__file__).resolve().parent
    for candidate in (here / "notebooks" / "quickstart.ipynb",
                      here.parent / "notebooks" / "quickstart.ipynb"):
        if candidate.is_file():
            return candidate
    return None


def _kernel_env(base_url: str) -> dict[str, str]:
    """The kernel's environment: the local server, a dummy key, and no real key at all."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("OPENROUTER_") or k == "JUPYTER_IMAGEGEN_MODEL")}
    env["OPENROUTER_BASE_URL"] = base_url
    env["OPENROUTER_API_KEY"] = DEMO_KEY
    return env


def _save_outputs(nb: Any, out: Path) -> list[Path]:
    saved = []
    for number, cell in enumerate(nb.cells, 1):
        for k, output in enumerate(cell.get("outputs", ())):
            found = [(mime, output.get("data", {}).get(mime)) for mime in _IMAGE_MIMES]
            images = [(mime, data) for mime, data in found if data][:1]  # the first image form only
            if not images:  # a grid: its thumbnails are in the HTML, each stored once
                images = _GRID_IMG.findall(str(output.get("data", {}).get("text/html", "")))
            for n, (mime, data) in enumerate(images):
                suffix = f"-{n}" if len(images) > 1 else ""
                path = out / f"cell{number:02d}-{k}{suffix}{_IMAGE_MIMES.get(mime, '.bin')}"
                path.write_bytes(base64.b64decode(data))
                saved.append(path)
    return saved


def _demo(args: argparse.Namespace) -> int:
    try:
        import nbconvert
        import nbformat as _nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ImportError as exc:
        _say(f"error: the demo needs nbclient, nbconvert and ipykernel ({exc.name} is missing); "
              f"install them with: {_DEMO_HINT}", file=sys.stderr)
        return 1
    source = Path(args.notebook) if args.notebook else _bundled_notebook()
    if source is None or not source.is_file():
        _say(f"error: notebook not found: {source or 'bundled quickstart'}", file=sys.stderr)
        return 1
    out = Path(args.out)
    _make_folder(out)
    from .server import LocalServer

    nbformat: Any = _nbformat  # untyped library

    nb = nbformat.read(source, as_version=4)
    with LocalServer() as server:
        _say(f"Running {source} against the offline server at {server.base_url} ...",
              flush=True)
        client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(out.resolve())}})
        try:  # the kernel's stderr (its loopback-TCP notice) goes to a log, not the screen
            with (out / "kernel.log").open("w", encoding="utf-8") as log:
                client.execute(env=_kernel_env(server.base_url), stderr=log)
        except CellExecutionError as exc:
            failed = out / f"{source.stem}.failed.ipynb"
            nbformat.write(nb, failed)
            _say(f"error: a notebook cell failed (partial notebook: {failed}):\n{exc}",
                  file=sys.stderr)
            return 1
        except Exception as exc:
            _say(f"error: could not run the notebook: {exc}\n(is ipykernel installed? "
                  f"{_DEMO_HINT})", file=sys.stderr)
            return 1
    executed = out / f"{source.stem}.ipynb"
    nbformat.write(nb, executed)
    exporter: Any = nbconvert.HTMLExporter
    html, _ = exporter().from_notebook_node(nb)
    page = out / f"{source.stem}.html"
    page.write_text(html, encoding="utf-8")
    images = _save_outputs(nb, out)
    _say(f"Executed notebook: {executed}")
    _say(f"HTML export:       {page}")
    _say(f"Images:            {len(images)} files in {out.resolve()}")
    return 0


def _make_folder(path: Path) -> None:
    """Create an output folder (and its parents), or raise an ``OSError`` that says which one."""
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"output folder {str(path)!r} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create output folder {str(path)!r}: "
                      f"{exc.strerror or exc}") from None


# -- models / generate ------------------------------------------------------------------------


def _client(base_url: str | None) -> Any:
    import jupyter_imagegen as ig

    if base_url:
        return ig.Client(base_url=base_url)
    return ig.default_client()


def _models(args: argparse.Namespace) -> int:
    client = _client(args.base_url)
    if args.all:
        listed = client.models(all=True)
        width = max((len(m.id) for m in listed), default=10)
        for info in listed:
            _say(f"{info.id:<{width}}  {'+'.join(info.output_modalities)}")
        return 0
    from ._results.labels import is_offline_client, price_label, prices_simulated

    models = client.catalogue.models_with_prices()
    width = max((len(m.id) for m in models), default=10)
    _say(f"{'model':<{width}}  {'api':<11}  {'outputs':<10}  {'ratios':<24}  {'sizes':<15}  price")
    for m in models:
        kind = "image-only" if m.image_only else "image+text"
        ratios = ", ".join(m.aspect_ratios[:4]) + (f" +{len(m.aspect_ratios) - 4}"
                                                    if len(m.aspect_ratios) > 4 else "")
        _say(f"{m.id:<{width}}  {'+'.join(sorted(m.apis)):<11}  {kind:<10}  {ratios or '-':<24}  "
              f"{', '.join(m.sizes) or '-':<15}  "
              f"{price_label(m.price(), simulated=prices_simulated(client, m.id))}")
    if is_offline_client(client):
        _say("Offline local server: prices are simulated, nothing is charged (spend limits "
              "still count them).")
    return 0


def _generate(args: argparse.Namespace) -> int:
    _make_folder(Path(args.out))  # before the request: a bad folder must not cost a generation
    client = _client(args.base_url)
    result = client.generate(args.prompt, model=args.model, aspect_ratio=args.aspect_ratio,
                             image_size=args.size, seed=args.seed, stream=args.stream)
    if result.text:
        _say(result.text)
    from ._results.provenance import save_options

    with save_options(xmp=False) if args.no_xmp else contextlib.nullcontext():
        paths = result.save(args.out)
    for path in paths:
        _say(f"saved {path}")
    for label in sorted({g.credentials.label() for g in result.generated} - {""}):
        _say(label)
    if result.cost is not None:
        # An offline answer's price is simulated, not billed (whichever API answered).
        simulated = " (simulated)" if result.offline else ""
        _say(f"model {result.model}, cost ${result.cost:.4f}{simulated}, id {result.id}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
