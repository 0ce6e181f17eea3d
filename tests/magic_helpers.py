"""Helpers for the magic tests: an in-process shell bound to the per-test local server."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.testing.globalipapp import get_ipython
from IPython.utils.capture import CapturedIO, RichOutput, capture_output
from PIL import Image

import jupyter_imagegen as ig

KEY = "sk-or-v1-test-key-0123456789"  # the conftest client's key: it must never be shown


@dataclass
class Run:
    """One executed cell: IPython's result, the captured streams and the final outputs."""

    result: ExecutionResult
    captured: CapturedIO

    @property
    def outputs(self) -> list[RichOutput]:
        """Outputs as a front end shows them at the end: display updates applied in place."""
        shown: list[RichOutput] = []
        slots: dict[str, int] = {}
        for out in self.captured.outputs:
            display_id = (out.transient or {}).get("display_id")
            if out.update and display_id in slots:
                shown[slots[display_id]] = out
                continue
            if display_id:
                slots[display_id] = len(shown)
            shown.append(out)
        return [o for o in shown if o.data != {"text/plain": ""}]

    @property
    def images(self) -> list[tuple[str, bytes, dict[str, Any]]]:
        """``(mime, bytes, metadata)`` of every image in the final outputs."""
        found = []
        for out in self.outputs:
            for mime, data in out.data.items():
                if mime.startswith("image/"):
                    found.append((mime, data, out.metadata or {}))
            found += [(mime, data, out.metadata or {}) for mime, data in single_images(out.data)]
        return found

    @property
    def stderr(self) -> str:
        return self.captured.stderr

    @property
    def everything(self) -> str:
        """All text a user could see or a notebook would store (for leak checks)."""
        outs = [{"data": {k: (v if isinstance(v, str) else "<bytes>") for k, v in o.data.items()},
                 "metadata": o.metadata} for o in self.captured.outputs]
        return self.captured.stdout + self.captured.stderr + json.dumps(outs, default=str)

    def error_message(self) -> str:
        """The short error shown to the user (and a check that no traceback was)."""
        assert not self.result.success
        assert "Traceback" not in self.everything
        assert self.stderr.startswith("UsageError: "), self.stderr
        return self.stderr


def single_images(data: dict[str, Any]) -> list[tuple[str, bytes]]:
    """``(mime, bytes)`` of a single-image output's ``<img>`` (grids are not single images)."""
    html = data.get("text/html", "")
    if not isinstance(html, str) or not html.startswith('<img class="jupyter-imagegen-image"'):
        return []
    return [(mime, base64.b64decode(b64))
            for mime, b64 in re.findall(r'src="data:(image/[a-z]+);base64,([^"]+)"', html)]


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def run(shell: InteractiveShell, source: str) -> Run:
    with capture_output() as captured:
        result = shell.run_cell(source)
    return Run(result, captured)


def shell_bound_to(client: ig.Client) -> Iterator[InteractiveShell]:
    """The test shell with the extension freshly loaded and the shared client set to ``client``."""
    shell = get_ipython() or InteractiveShell.instance()  # globalipapp returns None after the first call
    shell.config.pop("ImageGenMagics", None)
    if "jupyter_imagegen" in shell.extension_manager.loaded:
        shell.run_line_magic("unload_ext", "jupyter_imagegen")
    shell.run_line_magic("load_ext", "jupyter_imagegen")
    ig.set_default_client(client)
    before = set(shell.user_ns)
    try:
        yield shell
    finally:
        for name in set(shell.user_ns) - before:
            del shell.user_ns[name]
        shell.config.pop("ImageGenMagics", None)
        shell.run_line_magic("unload_ext", "jupyter_imagegen")


__all__ = ["KEY", "Run", "decode", "pytest", "run", "shell_bound_to"]
