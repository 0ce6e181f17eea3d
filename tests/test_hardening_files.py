"""Files, store, cache, pixels and active content under careless use and hostile data (issue 12)."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen import GeneratedImage, ImageResult, ImageStore, ReplayCache
from jupyter_imagegen._results.display import grid_html, result_outputs
from jupyter_imagegen._results.preview import thumbnail

NOV = 1_763_000_000.0
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'


def png(size: tuple[int, int] = (32, 24), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def result(data: bytes, mime: str = "image/png", prompt: str = "a red fox") -> ImageResult:
    return ImageResult(prompt=prompt, model="offline/sketch", created=NOV,
                       generated=(GeneratedImage(data=data, mime=mime),))


# -- files ------------------------------------------------------------------------------------


def test_eight_threads_saving_the_same_result_get_eight_files(tmp_path: Path) -> None:
    same = result(png())
    paths: list[Path] = []
    start = threading.Barrier(8)

    def save() -> None:
        start.wait()
        paths.extend(same.save(tmp_path))

    threads = [threading.Thread(target=save) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(paths) == 8 and len(set(paths)) == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    assert all(Image.open(p).size == (32, 24) for p in paths)


@pytest.mark.parametrize("name", ["CON.png", "nul.png", "com1.png", "LPT9.png", "aux.tar.png"])
def test_windows_device_names_get_a_safe_name(tmp_path: Path, name: str) -> None:
    (path,) = result(png()).save(tmp_path / name)
    assert path.parent == tmp_path and path.name.startswith("_") and path.is_file()


def test_nul_and_over_long_names(tmp_path: Path) -> None:
    with pytest.raises(ig.InvalidInputError, match="NUL"):
        result(png()).save(str(tmp_path / "a\0b.png"))
    (path,) = result(png()).save(tmp_path / ("x" * 400 + ".png"))
    assert path.is_file() and len(path.name.encode()) <= 255 and path.suffix == ".png"


def test_damaged_png_saves_without_raising(tmp_path: Path) -> None:
    (path,) = result(b"\x89PNG\r\n\x1a\ngarbage").save(tmp_path / "x.png")
    assert path.read_bytes() == b"\x89PNG\r\n\x1a\ngarbage"


# -- store ------------------------------------------------------------------------------------


def test_stale_tmp_files_are_cleaned_on_open_and_orphans_reported(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "s")
    (entry,) = store.add(result(png()))
    month = entry.path.parent
    stale, fresh = month / ".x.png.abc.tmp", month / ".y.png.def.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    orphan = month / "20251113-orphan.png"
    orphan.write_bytes(png())
    reopened = ImageStore(tmp_path / "s")
    assert not stale.exists() and fresh.exists()
    assert reopened.orphans() == [orphan]
    assert len(reopened) == 1


@pytest.mark.parametrize("record", [
    {"created": 1e20}, {"created": float("nan")}, {"params": [1, 2]}, {"params": "x"},
    {"cost": "free"}, {"index": "0"}, {"width": 1e400}, {"path": "../outside.png"},
    {"path": "/etc/passwd"}, {"prompt": 5}, "deep",
])
def test_foreign_index_records_are_skipped(tmp_path: Path, record: dict[str, object] | str) -> None:
    store = ImageStore(tmp_path / "s")
    (entry,) = store.add(result(png()))
    (tmp_path / "outside.png").write_bytes(png())
    good = json.loads((tmp_path / "s" / "index.jsonl").read_text())
    with open(tmp_path / "s" / "index.jsonl", "a") as fh:
        if record == "deep":
            fh.write("[" * 100_000 + "\n")  # nested past the recursion limit
        else:
            assert isinstance(record, dict)
            fh.write(json.dumps({**good, "sha256": "0" * 64, **record}) + "\n")
    fresh = ImageStore(tmp_path / "s")
    assert [e.path for e in fresh] == [entry.path]
    assert len(fresh.search("fox")) == 1 and fresh.latest(5)[0].path == entry.path
    page = fresh.export_html(tmp_path / "g.html").read_text()
    assert "outside" not in page and "passwd" not in page
    fresh.contact_sheet()


def test_gallery_never_links_an_svg(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "s")
    (entry,) = store.add(result(SVG, "image/svg+xml"))
    assert entry.path.suffix == ".svg"
    page = store.export_html(tmp_path / "g.html").read_text()
    assert ".svg" not in page and "<script" not in page


# -- replay cache -----------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["created", "cost", "nesting", "index"])
def test_damaged_cache_manifest_is_a_miss_and_discarded(tmp_path: Path, damage: str) -> None:
    cache = ReplayCache(tmp_path / "c")
    key = "a" * 64
    cache.put(key, result(png()))
    manifest = tmp_path / "c" / "entries" / key / "manifest.json"
    obj = json.loads(manifest.read_text())
    if damage == "created":
        obj["result"]["created"] = 1e20
    elif damage == "cost":
        obj["result"]["usage"]["cost"] = "free"
    elif damage == "index":
        obj["images"][0]["index"] = 1e300
    else:
        obj["result"]["params"] = {"deep": None}
    text = json.dumps(obj)
    if damage == "nesting":
        text = text.replace('{"deep": null}', "[" * 100_000 + "]" * 100_000)
    manifest.write_text(text)
    assert cache.get(key) is None
    assert key not in cache


# -- pixels -----------------------------------------------------------------------------------


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    buffer = io.BytesIO()
    Image.new("1", (13000, 13000)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 100_000
    bomb = GeneratedImage(data=buffer.getvalue(), mime="image/png")
    with pytest.raises(ig.ImageDecodeError, match="pixels"):
        bomb.image  # noqa: B018


def test_pixel_cap_is_configurable_and_covers_every_decode(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_imagegen._results import safeimage as _safeimage

    monkeypatch.setattr(_safeimage, "MAX_PIXELS", 100_000)
    big = result(png((500, 400)))
    with pytest.raises(ig.ImageDecodeError, match="MAX_PIXELS"):
        thumbnail(big.generated[0])  # the grid cells' decode
    store = ImageStore(tmp_path / "s")
    (entry,) = store.add(big)
    with pytest.raises(ig.ImageDecodeError):
        entry.image  # noqa: B018
    sheet = store.contact_sheet(thumb=64)  # a placeholder cell, not a full decode
    assert sheet.width > 0
    small = result(png((300, 300)))
    assert small.image.size == (300, 300)


# -- active content ---------------------------------------------------------------------------


def _page_mimes(r: ImageResult) -> set[str]:
    from jupyter_imagegen._results.safeimage import page_image  # what the widget sends full images with

    mimes = set()
    for data, _meta in result_outputs(r):
        mimes |= {k for k in data if k.startswith("image/")}
    mimes |= {k for k in r._repr_mimebundle_()[0] if k.startswith("image/")}
    mimes |= {k for k in r.generated[0]._repr_mimebundle_()[0] if k.startswith("image/")}
    mimes.add(page_image(r.generated[0].data, r.generated[0].mime)[1])
    return mimes


def test_declared_svg_that_is_a_png_reaches_the_page_as_png() -> None:
    r = result(png(), "image/svg+xml")
    assert _page_mimes(r) == {"image/png"}
    assert "image/svg" not in grid_html([(png(), "image/svg+xml", "x")], "c")


def test_svg_bytes_never_reach_the_page() -> None:
    from jupyter_imagegen._results.safeimage import page_image

    r = result(SVG, "image/png")  # declared PNG, bytes are an SVG with a script
    with pytest.raises(ig.ImageDecodeError):
        page_image(r.generated[0].data, r.generated[0].mime)
    html = grid_html([(SVG, "image/png", "x"), (SVG, "image/svg+xml", "y")], "c")
    assert "<script" not in html and "svg" not in html.lower()
    assert "PHN2Zy" not in html  # base64 of "<svg"


def test_rasterisable_non_raster_bytes_become_png() -> None:
    from jupyter_imagegen._results import safeimage as _safeimage

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, format="BMP")
    data, mime = _safeimage.page_image(buffer.getvalue(), "image/svg+xml")
    assert mime == "image/png" and data.startswith(b"\x89PNG")
