"""``jupyter-imagegen gateway ...``: what each subcommand does (the parser lives in ``_cli``).

``serve`` binds first and prints the address, then serves until Ctrl+C or SIGTERM; ``add``
prints the new token as its last line (once: only its hash is kept); ``revoke``, ``budget`` and
``usage`` change or read the ledger directly, so they work while gateways are serving from it.
No command ever prints the upstream key.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .._exceptions import ImageGenError
from .._wire.common import DEFAULT_BASE_URL
from ._config import GatewayConfig, HubSettings
from ._ledger import Ledger
from ._runner import bind, serve

__all__ = ["add", "budget", "revoke", "run_serve", "usage"]


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _words(inline: str | None, path: str | None) -> tuple[str, ...]:
    words = list(_split(inline))
    if path:
        with open(path, encoding="utf-8") as handle:
            words += [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    return tuple(words)


def _hub(args: Any, env: dict[str, str] | os._Environ[str]) -> HubSettings | None:
    if not args.hub:
        return None
    url = env.get("JUPYTERHUB_API_URL")
    if not url:
        raise ImageGenError("--hub needs JUPYTERHUB_API_URL (the Hub sets it for its services)")
    return HubSettings(api_url=url, api_token=env.get("JUPYTERHUB_API_TOKEN") or None,
                       service_name=env.get("JUPYTERHUB_SERVICE_NAME") or None,
                       default_budget=args.default_budget)


def config_from(args: Any, upstream: str, env: dict[str, str] | os._Environ[str]) -> GatewayConfig:
    """The gateway's settings from the parsed ``serve`` arguments and its environment."""
    key = (env.get("OPENROUTER_API_KEY") or "").strip() or None
    if key is None and upstream.rstrip("/") == DEFAULT_BASE_URL:
        raise ImageGenError("the gateway holds the class's OpenRouter key: set OPENROUTER_API_KEY "
                            "in its environment (or point --upstream at the offline server)")
    models = frozenset(_split(args.models)) or None
    admin = (args.admin_token or env.get("JUPYTER_IMAGEGEN_GATEWAY_ADMIN_TOKEN") or "").strip()
    return GatewayConfig(
        upstream=upstream, upstream_key=key, models=models, class_budget=args.class_budget,
        admin_token=admin or None, blocked_words=_words(args.block_words, args.block_words_file),
        hub=_hub(args, env), max_connections=args.max_connections, deadline=args.deadline,
        check_host=not args.hub,
        path_prefix=(env.get("JUPYTERHUB_SERVICE_PREFIX") or "") if args.hub else "")


def _address(args: Any, env: dict[str, str] | os._Environ[str]) -> tuple[str, int]:
    """Where to listen: ``--host``/``--port``, or a Hub service's ``JUPYTERHUB_SERVICE_URL``."""
    url = env.get("JUPYTERHUB_SERVICE_URL") if args.hub and not args.port else None
    if not url:
        return args.host, args.port
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or args.host, parts.port or 80


def run_serve(args: Any, upstream: str, out: TextIO = sys.stdout) -> int:
    """Serve the gateway in the foreground (the ledger is opened, the socket bound, then served)."""
    config = config_from(args, upstream, os.environ)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s gateway %(levelname)s: %(message)s"))
    logging.getLogger("jupyter_imagegen.gateway").addHandler(handler)
    ledger = Ledger(args.db, fsync=args.fsync)
    where, port = _address(args, os.environ)
    try:
        sock = bind(where, port)
    except OSError as exc:
        ledger.close()
        raise ImageGenError(f"cannot bind {where}:{port}: {exc.strerror or exc}") from None
    host = f"[{where}]" if ":" in where else where
    url = f"http://{host}:{sock.getsockname()[1]}/api/v1"
    print(f"Gateway at {url}", file=out)
    print(f"Upstream: {config.upstream_url} (its key stays here: "
          f"{'from OPENROUTER_API_KEY' if config.upstream_key else 'none'})", file=out)
    print(f"Ledger: {_where(args.db)}; students point any OpenRouter client at it with:", file=out)
    print(f"  export OPENROUTER_BASE_URL={url}", file=out)
    print("  export OPENROUTER_API_KEY=<their token from `jupyter-imagegen gateway add`>", file=out)
    if config.hub is not None:
        print(f"JupyterHub mode: Hub API {config.hub.api_url}, service "
              f"{config.hub.service_name or '(unnamed)'}, new users get "
              f"${config.hub.default_budget:.2f}", file=out)
    if config.admin_token:
        print(f"Teacher's page: http://{host}:{sock.getsockname()[1]}/admin", file=out)
    out.flush()
    try:
        serve(config, ledger, sock, where, access_log=args.access_log)
    finally:
        ledger.close()
    return 0


def _where(db: str) -> str:
    """The ledger's location without a password."""
    if "://" not in db:
        return db
    scheme, rest = db.split("://", 1)
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


def add(db: str, name: str, budget_usd: float, out: TextIO = sys.stdout) -> int:
    """Add a student; the token is the last line printed."""
    ledger = Ledger(db)
    try:
        token = ledger.add_student(name, budget_usd)
    finally:
        ledger.close()
    print(f"Added {name.strip()!r} with a budget of ${budget_usd:.2f}. Their token, shown only "
          "now (the ledger keeps its hash):", file=out)
    print(token, file=out)
    return 0


def revoke(db: str, name: str, out: TextIO = sys.stdout) -> int:
    """Revoke a student's token."""
    ledger = Ledger(db)
    try:
        if not ledger.revoke(name):
            raise ImageGenError(f"no student named {name!r}")
    finally:
        ledger.close()
    print(f"Revoked {name!r}: their token no longer works (calls running now still settle).",
          file=out)
    return 0


def budget(db: str, name: str, budget_usd: float, out: TextIO = sys.stdout) -> int:
    """Set a student's budget."""
    ledger = Ledger(db)
    try:
        if not ledger.set_budget(name, budget_usd):
            raise ImageGenError(f"no student named {name!r}")
        student = ledger.student(name)
    finally:
        ledger.close()
    assert student is not None
    print(f"{name!r} now has a budget of ${budget_usd:.2f} (${student.spent / 1e9:.4f} spent).",
          file=out)
    return 0


def usage(db: str, as_json: bool, out: TextIO = sys.stdout) -> int:
    """Spent, reserved, budget and calls per student, and the class totals."""
    ledger = Ledger(db)
    try:
        report = ledger.usage()
    finally:
        ledger.close()
    if as_json:
        print(json.dumps(report, indent=2), file=out)
        return 0
    rows: Sequence[dict[str, Any]] = report["students"]
    width = max([len("student"), *(len(r["name"]) for r in rows)])
    print(f"{'student':<{width}}  {'spent':>10}  {'reserved':>10}  {'budget':>10}  {'calls':>6}",
          file=out)
    for r in rows:
        flag = "  (revoked)" if r["revoked"] else ""
        money = [f"${r['spent']:.4f}", f"${r['reserved']:.4f}", f"${r['budget']:.2f}"]
        print(f"{r['name']:<{width}}  {money[0]:>10}  {money[1]:>10}  {money[2]:>10}  "
              f"{r['calls']:>6}{flag}", file=out)
    klass = report["class"]
    limit = "none" if klass["budget"] is None else f"${klass['budget']:.2f}"
    print(f"class: ${klass['spent']:.4f} spent, ${klass['reserved']:.4f} running, budget {limit}, "
          f"{klass['calls']} calls", file=out)
    return 0
