"""Exploring in grids: prompt matrices (``{red|blue} lighthouse at {dawn|dusk}``) and seed sweeps.

Exploring means varying one or two words and looking at the results side by side. A brace
group holding a ``|`` marks the words to vary; every other brace is left alone, so ``{name}``
interpolation (the magic's), JSON and ``{{`` escapes keep working. The first group gives the
rows, the other groups (combined) the columns. A matrix is bounded (at most :data:`MAX_CELLS`
prompts) and priced whole before anything is sent: under a spend limit, the worst case of every
cell not already in the replay cache must fit what is left, or nothing runs. Interrupted, it
returns what finished; run again with a cache, finished cells replay at no cost.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._exceptions import InvalidInputError, ModelCapabilityError, SpendLimitError
from .batch import BatchItem, BatchResult, Comparison, generate_many

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from .._results.result import ImageResult
    from .._wire.prices import Quote
    from .client import Client
    from .request import Request

__all__ = ["MAX_CELLS", "PromptMatrix", "expand", "price_before", "run_matrix", "run_variations",
           "worst_case"]

#: The most prompts one matrix may expand to (a typo like ``{a|b|...}`` x 5 groups is refused).
MAX_CELLS = 64
# A group: braces (not doubled) holding at least one "|", no nested braces.
_GROUP = re.compile(r"(?<!\{)\{([^{}]*\|[^{}]*)\}(?!\})")


@dataclass(frozen=True)
class PromptMatrix:
    """A template, its varied words per group, and the prompts in row-major order."""

    template: str
    axes: tuple[tuple[str, ...], ...]
    prompts: tuple[str, ...]

    @property
    def rows(self) -> list[str]:
        """The row labels: the first group's words."""
        return list(self.axes[0])

    @property
    def columns(self) -> list[str]:
        """The column labels: the other groups' words combined (one column when none)."""
        if len(self.axes) == 1:
            return [""]
        return [" · ".join(words) for words in itertools.product(*self.axes[1:])]


def expand(prompt: str) -> PromptMatrix | None:
    """The matrix a prompt marks, or ``None`` for a plain prompt (no brace group with a ``|``)."""
    groups = list(_GROUP.finditer(prompt))
    if not groups:
        return None
    axes: list[tuple[str, ...]] = []
    for group in groups:
        words = tuple(word.strip() for word in group.group(1).split("|"))
        if any(not word for word in words):
            raise InvalidInputError(f"the prompt matrix group {group.group(0)!r} has an empty "
                                    "choice; write each choice between the bars, e.g. {red|blue}")
        axes.append(tuple(dict.fromkeys(words)))
    total = 1
    for words in axes:
        total *= len(words)
    if total > MAX_CELLS:
        raise InvalidInputError(f"the prompt matrix expands to {total} prompts (at most "
                                f"{MAX_CELLS}); vary fewer words at a time")
    pieces = _GROUP.split(prompt)[::2]  # the text around the groups (split keeps group bodies)
    prompts = ["".join(p + w for p, w in zip(pieces, (*choice, ""), strict=True))
               for choice in itertools.product(*axes)]
    return PromptMatrix(prompt, tuple(axes), tuple(prompts))


def _uncached_quotes(client: Client, prompts: Sequence[str], model: str | None,
                     options: dict[str, Any]) -> Iterator[tuple[str, Request, Quote]]:
    """Each prompt not in the replay cache, with its request and quote (a cached cell is free)."""
    request_options = {k: v for k, v in options.items() if k not in ("stream", "timeout")}
    for prompt in prompts:
        request = client.request(prompt, model, **request_options)
        if client._keepers.lookup(client._keepers.key(request, request.api or client.api,
                                                      client.base_url)) is not None:
            continue  # a cached cell replays for free
        yield prompt, request, client.quote(prompt, model, **request_options)


def worst_case(client: Client, prompts: Sequence[str], model: str | None,
               options: dict[str, Any]) -> float | None:
    """The most the prompts not in the replay cache may bill; ``None`` when a price is unknown."""
    total = 0.0
    for _prompt, _request, quote in _uncached_quotes(client, prompts, model, options):
        if quote.worst is None:
            return None
        total += quote.worst
    return total


def price_before(client: Client, prompts: Sequence[str], model: str | None,
                 options: dict[str, Any]) -> float:
    """The worst case of every prompt not in the replay cache; refused if it cannot fit the limit."""
    limit = client.spend_limit
    if limit is None:
        return 0.0
    total = 0.0
    for prompt, request, quote in _uncached_quotes(client, prompts, model, options):
        if quote.worst is None:
            raise SpendLimitError(f"the price of {request.model!r} is unknown for {prompt!r} "
                                  f"({quote.detail}); nothing was sent. Tell the client its price "
                                  f"with Client(prices={{{request.model!r}: USD_PER_IMAGE}}).")
        total += quote.worst
    left = limit - client.spent
    if total > left + 1e-12:
        raise SpendLimitError(
            f"this prompt matrix ({len(prompts)} prompts) may cost up to ${total:.4f} and "
            f"${max(0.0, left):.4f} of the ${limit:.2f} spend limit is left; nothing was sent. "
            "Vary fewer words, or raise the spend limit.")
    return total


def run_matrix(client: Client, prompt: str, model: str | None = None, *, concurrency: int = 4,
               executor: Executor | None = None, progress: bool = True,
               **options: Any) -> Comparison:
    """Expand ``prompt``, price the whole matrix, run it, and return the labelled grid."""
    matrix = expand(prompt)
    if matrix is None:
        raise InvalidInputError("no prompt matrix in this prompt: mark the words to vary with "
                                "braces and bars, e.g. 'a {red|blue} lighthouse at {dawn|dusk}'")
    running = {k: options.pop(k) for k in ("cancel", "on_result") if k in options}  # not asked
    price_before(client, matrix.prompts, model, options)
    batch = generate_many(client, list(matrix.prompts), model, concurrency=concurrency,
                          executor=executor, progress=progress, **running, **options)
    return Comparison(matrix.rows, matrix.columns, batch, matrix=matrix)


def run_variations(client: Client, result: ImageResult, count: int = 4,
                   seeds: Sequence[int] | None = None, *, concurrency: int = 4,
                   cancel: threading.Event | None = None,
                   on_result: Callable[[BatchItem], None] | None = None) -> Comparison:
    """``count`` more like ``result``: its request again with new seeds, as a strip beside it.

    Only for a model that takes a seed (otherwise every "variation" would be a random redraw that
    cannot be made again); each seed is recorded on its result, so any of them can be rerun.
    ``cancel`` stops what has not finished (kept as cancelled items); ``on_result`` sees each item
    as it lands (the widget fills its strip with it).
    """
    from .request import Request

    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 16:
        raise InvalidInputError(f"count must be a whole number from 1 to 16, not {count!r}")
    request = result.request
    if not isinstance(request, Request):
        raise InvalidInputError("this result has no request to vary (it was not made by a client)")
    record = client._record(request.model)
    if record is not None and not record.supports_seed:
        raise ModelCapabilityError(
            f"{request.model!r} does not take a seed, so its variations could not be made again; "
            "pick a model that does (its listing declares 'seed'), or call generate() again")
    chosen = list(seeds) if seeds is not None else [secrets.randbelow(2**31) for _ in range(count)]
    stop = cancel if cancel is not None else threading.Event()
    items = [BatchItem(0, result.prompt, request.model, result=result)]
    with cf.ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(chosen)))) as pool:
        futures = {pool.submit(client.send, request.again(seed=seed), cancel=stop):
                   BatchItem(i, result.prompt, f"seed {seed}")
                   for i, seed in enumerate(chosen, start=1)}
        items += futures.values()
        for future in cf.as_completed(futures):
            item = futures[future]
            try:
                item.result = future.result()
            except Exception as exc:  # kept on its item, as in every batch
                item.error = exc
            if on_result is not None:
                on_result(item)
    labels = ["original"] + [f"seed {seed}" for seed in chosen]
    return Comparison([result.prompt], labels, BatchResult(items, interrupted=stop.is_set()),
                      title="variations")
