"""Running one ``%%imagegen`` cell: prompt, inputs, the request, the live status and the result.

A mixin of :class:`~._magic.ImageGenMagics`: the magic parses the cell once (one
``argparse.Namespace``, as jupysql's ``SQLCommand`` does) and everything here reads that object.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._commands import usage_error
from ._display import caption_bundle, mark_shown, publish, result_outputs
from ._exceptions import CancelledError, ImageGenError
from ._interpolate import interpolate
from ._magic_args import PublicVariables
from ._progress import run_with_status
from ._results import ImageResult
from ._status import StatusLine

__all__ = ["CellRunner"]

#: Seconds a request runs before the live status line appears (quick answers need none).
STATUS_DELAY = 0.3


class CellRunner:
    """The cell-running half of the magic (it relies on the magic's traits and helpers)."""

    def _prompt(self: Any, cell: str, use_variables: bool) -> str:
        prompt = cell.strip()
        if not prompt:
            raise usage_error("The cell is empty: write the prompt on the lines below %%imagegen.")
        if not use_variables:
            return prompt
        names = PublicVariables(self.ip.user_ns, self.ip.user_ns_hidden)
        return interpolate(prompt, names).text

    def _inputs(self: Any, expressions: list[str]) -> list[Any]:
        """Evaluate each ``--input`` in the user's namespace; fall back to a file path."""
        images: list[Any] = []
        for expr in expressions:
            if expr.startswith(("https://", "http://", "data:")):
                images.append(expr)  # a URL is a value, not code
                continue
            try:
                # The expression is the user's own code, evaluated in their own namespace.
                value = eval(expr, self.ip.user_ns)  # noqa: S307
            except Exception:
                path = Path(expr).expanduser()
                if path.is_dir():
                    raise usage_error(f"--input {expr}: is a folder; name an image file in it.") from None
                if not path.exists():
                    raise usage_error(f"--input {expr}: not a notebook variable or expression, "
                                      "and no such file.") from None
                value = expr
            if isinstance(value, ImageResult):
                images.extend(value.generated)
            else:
                images.extend(value if isinstance(value, (list, tuple)) else [value])
        return images

    def _generate(self: Any, line: str, cell: str) -> Any:
        args = self._parse(line)
        use_variables = self.interpolate if args.interpolate is None else args.interpolate
        prompt = self._prompt(cell, use_variables)
        images = self._inputs(args.inputs or [])
        client = self.client()
        models = args.model or []
        if len(models) > 1 or args.each_line:
            return self._many(client, prompt, models, args, images)
        model = (models[0] if models else None) or self.default_model or None
        options: dict[str, Any] = {
            "images": images or None,
            "aspect_ratio": args.aspect_ratio or self.aspect_ratio,
            "image_size": args.image_size or self.image_size,
            "seed": args.seed, "n": args.n, "api": args.api,
            "stream": self.stream if args.stream is None else args.stream,
            "timeout": args.timeout or self.timeout,
        }
        status = StatusLine(model or client.default_model, delay=STATUS_DELAY,
                            enabled=self.live_status and self._rich_frontend())
        status.start()
        try:
            result = run_with_status(
                lambda on_event, cancel: client.generate(prompt, model, on_event=on_event,
                                                         cancel=cancel, **options), status)
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
        return self._show(result, args, status)

    def _many(self: Any, client: Any, prompt: str, models: list[str], args: argparse.Namespace,
              images: list[Any]) -> Any:
        """``--each-line`` (a batch) and several ``-m`` (a comparison grid), in parallel."""
        if args.concurrency < 1:
            raise usage_error("--concurrency must be at least 1")
        prompts = [p.strip() for p in prompt.splitlines() if p.strip()] if args.each_line else [prompt]
        options: dict[str, Any] = {
            "images": images or None, "aspect_ratio": args.aspect_ratio or self.aspect_ratio,
            "image_size": args.image_size or self.image_size, "seed": args.seed, "n": args.n,
            "api": args.api, "timeout": args.timeout or self.timeout,
        }
        outcome: Any
        if len(models) > 1:
            from ._compare import compare

            outcome = compare(prompts, models, client=client, concurrency=args.concurrency, **options)
            batch = outcome.batch
        else:
            model = (models[0] if models else None) or self.default_model or None
            outcome = batch = client.generate_many(prompts, model, concurrency=args.concurrency,
                                                   **options)
        if not batch.results and batch.errors and isinstance(batch.errors[0].error, ImageGenError):
            raise self.error(batch.errors[0].error)
        if args.as_name:
            self.ip.user_ns[args.as_name] = outcome
        notes = self._save(batch.results, args.out or self.output_dir)
        if args.no_display or notes:
            publish(caption_bundle(" · ".join([batch.summary(), *notes])))
        return None if args.no_display else outcome

    def _save(self: Any, results: list[ImageResult], out: str | None) -> list[str]:
        """Save into ``out``; a folder that cannot be written is a note, never a lost result."""
        if not out:
            return []
        try:
            paths = [path for result in results for path in result.save(out)]
        except (OSError, ImageGenError) as exc:
            return [f"NOT saved to {out}: {exc}; the result is still in _ (save it with .save())"]
        return [f"saved {paths[0]}" if len(paths) == 1 else f"saved {len(paths)} images to {out}"]

    def _show(self: Any, result: ImageResult, args: argparse.Namespace,
              status: StatusLine) -> ImageResult | None:
        if args.as_name:
            self.ip.user_ns[args.as_name] = result
        notes = self._save([result], args.out or self.output_dir)
        if args.no_display:
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
