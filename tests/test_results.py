"""Result objects: lazy decoding, lossless saving with metadata, the facade."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen import GeneratedImage, ImageResult
from jupyter_imagegen._wire.pngmeta import add_png_text, read_png_text


def png(size: tuple[int, int] = (6, 4), color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def result(*images: GeneratedImage, prompt: str = "a red fox / at night", model: str = "vendor/model:free"
           ) -> ImageResult:
    return ImageResult(prompt=prompt, model=model, generated=images, id="gen-1-abc",
                       params={"seed": 3, "image_config": {"aspect_ratio": "1:1"}})


class TestGeneratedImage:
    def test_decodes_lazily_once(self) -> None:
        g = GeneratedImage(png((6, 4)), "image/png")
        assert g._pil is None
        assert g.image is g.image and g.size == (6, 4) and g._pil is not None

    def test_undecodable_bytes_raise_typed_error(self) -> None:
        g = GeneratedImage(b"\x89PNG\r\n\x1a\nbroken", "image/png", index=3)
        with pytest.raises(ig.ImageDecodeError) as info:
            _ = g.image
        assert info.value.index == 3


class TestSave:
    def test_png_keeps_original_pixels_and_embeds_metadata(self, tmp_path: Path) -> None:
        data = png((7, 5), "blue")
        (path,) = result(GeneratedImage(data, "image/png")).save(tmp_path)
        assert path.parent == tmp_path and path.suffix == ".png" and "/" not in path.name
        assert "vendor-model-free" in path.name
        saved = Image.open(path)
        assert saved.size == (7, 5) and saved.getpixel((0, 0)) == (0, 0, 255)
        text = read_png_text(path.read_bytes())
        assert text["prompt"] == "a red fox / at night" and text["model"] == "vendor/model:free"
        assert text["generation_id"] == "gen-1-abc" and json.loads(text["parameters"])["seed"] == 3
        assert saved.text["prompt"] == "a red fox / at night"  # Pillow reads our iTXt chunks too

    def test_other_formats_get_a_json_sidecar(self, tmp_path: Path) -> None:
        buf = io.BytesIO()
        Image.new("RGB", (4, 4), "white").save(buf, "JPEG")
        (path,) = result(GeneratedImage(buf.getvalue(), "image/jpeg")).save(tmp_path)
        # The JPEG gains an XMP segment (the AI mark); its pixels are the bytes' own.
        assert path.suffix == ".jpg" and path.read_bytes() != buf.getvalue()
        assert Image.open(path).tobytes() == Image.open(buf).tobytes()
        meta = json.loads(path.with_name(path.name + ".json").read_text())
        assert meta["prompt"] == "a red fox / at night" and meta["image_index"] == 0
        with ig.save_options(xmp=False):  # off: the bytes exactly as they came, plus the sidecar
            (plain,) = result(GeneratedImage(buf.getvalue(), "image/jpeg")).save(tmp_path)
        assert plain.read_bytes() == buf.getvalue()

    def test_pattern_and_no_overwrite(self, tmp_path: Path) -> None:
        r = result(GeneratedImage(png(), "image/png", 0), GeneratedImage(png(), "image/png", 1))
        first = r.save(tmp_path / "out" / "{prompt}-{index}{ext}")
        assert [p.name for p in first] == ["a-red-fox-at-night-0.png", "a-red-fox-at-night-1.png"]
        second = r.save(tmp_path / "out" / "{prompt}-{index}{ext}")
        assert [p.name for p in second] == ["a-red-fox-at-night-0-1.png", "a-red-fox-at-night-1-1.png"]
        assert r.save(tmp_path / "out" / "{prompt}-{index}{ext}", overwrite=True) == first
        assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]

    def test_failed_write_leaves_existing_file_intact(self, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        target = tmp_path / "keep.png"
        target.write_bytes(b"precious")
        import jupyter_imagegen._results.result as results_mod

        def boom(*_a: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(results_mod.os, "replace", boom)
        with pytest.raises(OSError, match="disk full"):
            result(GeneratedImage(png(), "image/png")).save(target, overwrite=True)
        assert target.read_bytes() == b"precious" and [p.name for p in tmp_path.iterdir()] == ["keep.png"]

    def test_png_text_roundtrip_and_validation(self) -> None:
        data = add_png_text(png(), {"prompt": "ünïcode ✓", "x": "1"})
        assert read_png_text(data) == {"prompt": "ünïcode ✓", "x": "1"}
        assert Image.open(io.BytesIO(data)).size == (6, 4)
        with pytest.raises(ValueError, match="not a PNG"):
            add_png_text(b"GIF89a", {})


class TestReprs:
    def test_text_repr_is_stable_and_informative(self) -> None:
        r = result(GeneratedImage(png((6, 4)), "image/png"))
        assert repr(r) == repr(r)
        assert "vendor/model:free" in repr(r) and "6x4" in repr(r) and "0x" not in repr(r)

    def test_caption(self) -> None:
        r = result(GeneratedImage(png((6, 4)), "image/png"))
        r.elapsed = 1.25
        assert r.caption() == "vendor/model:free · 6x4 · 1.2s"


def test_public_names_match_all() -> None:
    import types

    public = {n for n in dir(ig)
              if not n.startswith("_") and not isinstance(getattr(ig, n), types.ModuleType)}
    public -= {"annotations", "Any"}
    public |= {"__version__", "ImageGenWidget"}
    assert sorted(ig.__all__, key=lambda n: (n.lower(), n)) == sorted(public, key=lambda n: (n.lower(), n))
    assert len(ig.__all__) == len(set(ig.__all__))


def test_import_stays_light() -> None:
    import subprocess
    import sys

    code = ("import sys, jupyter_imagegen; "
            "print(sorted(m for m in ('IPython', 'ipywidgets', 'anywidget', 'jupyter_imagegen.server') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class TestSaveEdges:
    def test_pattern_without_index_never_reuses_a_name(self, tmp_path: Path) -> None:
        r = result(GeneratedImage(png(), "image/png", 0), GeneratedImage(png(), "image/png", 1))
        paths = r.save(tmp_path / "same{ext}", overwrite=True)
        assert [p.name for p in paths] == ["same-0.png", "same-1.png"]

    def test_bad_pattern_is_a_typed_error(self, tmp_path: Path) -> None:
        with pytest.raises(ig.InvalidInputError, match="literal brace"):
            result(GeneratedImage(png(), "image/png")).save(tmp_path / "{nope}")

    def test_saved_files_are_readable_by_others(self, tmp_path: Path) -> None:
        (path,) = result(GeneratedImage(png(), "image/png")).save(tmp_path)
        assert path.stat().st_mode & 0o044 == 0o044
