"""Names and paths (issue 19): every path failure of a writer is a typed error with advice, checked
before the first write; ``safe_name`` is linear; ``--as`` takes only names code can spell and use.

The writers run as root on CI machines: a temporary file renamed over ``/dev/null`` replaced the
device with a regular file. A guard makes such a rename fail loudly here instead of happening.
"""

from __future__ import annotations

import io
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from magic_helpers import run, shell_bound_to
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen._results.files import safe_name
from jupyter_imagegen.server import LocalServer


def _result() -> ig.ImageResult:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return ig.ImageResult(prompt="a red square", model="offline/sketch",
                          generated=(ig.GeneratedImage(buffer.getvalue(), "image/png"),))


@pytest.fixture(autouse=True)
def _no_rename_onto_the_system(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any rename onto /dev, /proc or /sys (what the unchecked writers would have done)."""
    for name in ("replace", "rename"):
        real = getattr(os, name)

        def guarded(src: object, dst: object, *args: object, _real: Callable[..., None] = real,
                    **kwargs: object) -> None:
            target = os.path.abspath(os.fspath(dst))  # type: ignore[call-overload]
            if target.startswith(("/dev/", "/proc/", "/sys/")) or target in ("/dev", "/proc"):
                raise AssertionError(f"a writer tried to rename a file onto {target}")
            _real(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, name, guarded)


WRITERS: dict[str, Callable[[str | Path, Path], object]] = {
    "save": lambda target, _tmp: _result().save(target),
    "store": lambda target, _tmp: ig.ImageStore(target).add(_result()),
    "cache": lambda target, _tmp: ig.ReplayCache(target).put("a" * 64, _result()),
    "export_html": lambda target, tmp: ig.ImageStore(tmp / "store").export_html(target),
}
TARGETS: dict[str, Callable[[Path], str | Path]] = {
    "name-over-255-bytes": lambda tmp: tmp / ("d" * 300) / "x.png",
    "parent-is-a-file": lambda tmp: tmp / "a-file" / "x.png",
    "nul": lambda tmp: str(tmp / "a\0b.png"),
    "dev-null": lambda _tmp: "/dev/null",
    "in-proc": lambda _tmp: "/proc/x.png",
    "proc": lambda _tmp: "/proc",
}


@pytest.mark.parametrize("target", TARGETS, ids=list(TARGETS))
@pytest.mark.parametrize("writer", WRITERS, ids=list(WRITERS))
def test_every_path_failure_is_a_typed_error_with_advice(tmp_path: Path, writer: str,
                                                         target: str) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    path = TARGETS[target](tmp_path)
    with pytest.raises(ig.PathError) as info:
        WRITERS[writer](path, tmp_path)
    error = info.value
    assert isinstance(error, OSError) and isinstance(error, ig.ImageGenError)
    assert "cannot use" in str(error) or "NUL" in str(error)
    assert error.path and (error.hint or "NUL" in str(error))
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # still the device
    assert {p.name for p in tmp_path.iterdir()} <= {"a-file", "store"}  # nothing half-written


def test_a_pipe_is_not_replaced_by_a_gallery(tmp_path: Path) -> None:
    pipe = tmp_path / "gallery.html"
    os.mkfifo(pipe)
    with pytest.raises(ig.PathError, match="regular files"):
        ig.ImageStore(tmp_path / "store").export_html(pipe)
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)


def test_what_the_os_refuses_while_writing_is_typed_too(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root writes anywhere: a full path is refused instead
            target: Path = tmp_path.joinpath(*["p" * 250] * 20)  # over PATH_MAX
        else:
            target = folder
        with pytest.raises(ig.PathError) as info:
            _result().save(target)
        assert info.value.errno is not None
    finally:
        folder.chmod(0o700)


def test_safe_name_is_linear() -> None:
    """Issue 19: a 200,000-character name took 8.7 s (one character cut and re-encoded at a time)."""
    started = time.perf_counter()
    short = safe_name(Path("x" * 200_000 + ".png"))
    wide = safe_name(Path("é" * 200_000 + ".png"))
    took = time.perf_counter() - started
    assert short.suffix == ".png" and len(short.name.encode()) <= 255
    assert wide.name.endswith("é.png") and len(wide.name.encode()) <= 255  # cut between characters
    assert took < 2.0, f"{took:.2f} s for two 200,000-character names"


@pytest.fixture
def ip(server: LocalServer) -> Iterator[InteractiveShell]:
    with ig.Client(api_key="sk-or-v1-paths", base_url=server.base_url) as client:
        yield from shell_bound_to(client)


@pytest.mark.parametrize("name", ["__builtins__", "print", "Out", "_", "_i3", "__name__"])
def test_as_refuses_names_python_and_ipython_use(ip: InteractiveShell, server: LocalServer,
                                                 name: str) -> None:
    before = ip.user_ns.get(name, "absent")
    cell = run(ip, f"%%imagegen -m offline/sketch --as {name}\na fox")
    assert "already uses" in cell.error_message()
    assert ip.user_ns.get(name, "absent") is before
    assert not any(r.path.endswith("/chat/completions") for r in server.requests)
    assert run(ip, "x = len([1, 2])").result.success  # later cells still work


def test_as_stores_the_name_python_spells(ip: InteractiveShell) -> None:
    cell = run(ip, "%%imagegen -m offline/sketch --as \ufb01le\na fox")  # "ﬁle", with the ligature
    assert cell.result.success, cell.stderr
    assert isinstance(ip.user_ns.get("file"), ig.ImageResult) and "\ufb01le" not in ip.user_ns
    assert run(ip, "assert \ufb01le is file").result.success  # what Python itself reads
