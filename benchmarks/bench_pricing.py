"""The pricing report: the price model over every model in the shipped catalogue.

For each model the local server lists (the real recorded listings and endpoints records, plus the
offline models), three requests are priced through ``Client.quote``, exactly as the spend guard
prices them before sending: a 1K image, a 2K image, and an edit (one 1024x1024 input at 1K).
Each cell prints the worst case (what a spend limit reserves), the expected case (what labels
show) and the basis. Where the local server can bill the request, the billed ``usage.cost`` is
printed beside it, as a ratio to the expected case, and the run counts any request whose billed
cost passed its reservation (there must be none).

A size the model does not take is "-"; a model with no size tiers is priced at its default size
(``1K*``); a request the kit would refuse before sending says why. Nothing here is timed.

Run: ``python benchmarks/bench_pricing.py [--models SUBSTRING] [--no-bill]``.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections import Counter
from typing import Any

from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen.server import LocalServer


def _edit_input() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1024, 1024), (40, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


EDIT_INPUT = _edit_input()


def requests_for(model: ig.Model) -> dict[str, dict[str, Any] | None]:
    """The three requests, as the model can take them: a model with no size tiers is priced at
    its default size (marked ``*``); one that takes no input image has no edit."""
    caps = model.caps(model.default_api)
    sizes = caps.sizes if caps is not None else ()
    one_k = {"image_size": "1K"} if "1K" in sizes else {}
    return {
        "1K" if one_k else "1K*": one_k,
        "2K": {"image_size": "2K"} if "2K" in sizes else None,
        "edit": {**one_k, "images": [EDIT_INPUT]} if model.accepts_images else None,
    }


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


def _cell(client: ig.Client, model: ig.Model, options: dict[str, Any] | None, bill: bool,
          counts: Counter[str]) -> str:
    if options is None:
        return "- (the model does not take it)"
    try:
        quote = client.quote("a lighthouse on a cliff at dusk", model.id, **options)
    except ig.ImageGenError as exc:
        counts["refused before pricing"] += 1
        return f"- ({type(exc).__name__})"
    counts[quote.basis] += 1
    text = f"{_money(quote.worst)} / {_money(quote.expected)} ({quote.basis})"
    if not bill or quote.expected is None:
        return text
    try:
        result = client.generate("a lighthouse on a cliff at dusk", model.id, **options)
    except ig.ImageGenError as exc:
        counts["not billed offline"] += 1
        return f"{text}; not billed: {type(exc).__name__}"
    cost = result.cost or 0.0
    if quote.worst is not None and cost > quote.worst + 1e-9:
        counts["BILLED ABOVE THE RESERVATION"] += 1
    ratio = cost / quote.expected if quote.expected else float("nan")
    return f"{text}; billed ${cost:.4f} ({ratio:.2f}x expected)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="only models whose id contains this")
    parser.add_argument("--no-bill", action="store_true", help="price only, send nothing")
    args = parser.parse_args(argv)
    counts: Counter[str] = Counter()
    with LocalServer(port=0) as server:
        client = ig.Client(base_url=server.base_url, api_key="pricing-report")
        models = [m for m in client.models() if args.models in m.id]
        print(f"{len(models)} models; each cell: worst / expected (basis)"
              f"{'' if args.no_bill else '; billed offline'}\n")
        for model in models:
            print(model.id)
            for name, options in requests_for(model).items():
                print(f"  {name:>4}: {_cell(client, model, options, not args.no_bill, counts)}")
    print("\nbases:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    above = counts["BILLED ABOVE THE RESERVATION"]
    print(f"billed above the reservation: {above}")
    return 1 if above else 0


if __name__ == "__main__":
    sys.exit(main())
