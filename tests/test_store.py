"""The image store: adding, searching, a tolerant index, two appending kernels, sheet and gallery."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen import GeneratedImage, ImageResult, ImageStore, StoreEntry, Usage
from jupyter_imagegen._wire.pngmeta import read_png_text
from jupyter_imagegen.server import LocalServer

# Noon on the 15th, so local time is in the same month and day in every time zone.
JAN = datetime(2026, 1, 15, 12, tzinfo=timezone.utc).timestamp()
MAR = datetime(2026, 3, 15, 12, tzinfo=timezone.utc).timestamp()
NOV = datetime(2026, 11, 15, 12, tzinfo=timezone.utc).timestamp()


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg(color: tuple[int, int, int], size: tuple[int, int] = (50, 80)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def result(prompt: str, model: str = "google/gemini-2.5-flash-image", *, created: float = NOV,
           images: tuple[GeneratedImage, ...] | None = None, cost: float | None = 0.04) -> ImageResult:
    return ImageResult(
        prompt=prompt, model=model, created=created, id=f"gen-{abs(hash(prompt)) % 10**8}",
        generated=images or (GeneratedImage(png((220, 20, 20)), "image/png", 0),),
        usage=Usage(cost=cost), params={"seed": 3, "modalities": ["image", "text"]},
    )


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "store")


def test_add_saves_files_and_index(store: ImageStore) -> None:
    images = (GeneratedImage(png((10, 200, 10)), "image/png", 0),
              GeneratedImage(jpeg((10, 10, 200)), "image/jpeg", 1))
    entries = store.add(result("a green <field>", created=JAN, images=images))
    assert [e.index for e in entries] == [0, 1]
    first, second = entries
    assert first.path.parent == store.directory / "2026-01"
    assert first.path.suffix == ".png"
    assert second.path.suffix == ".jpg"
    assert first.prompt == "a green <field>"
    assert first.model == "google/gemini-2.5-flash-image"
    assert first.generation_id is not None
    assert first.generation_id.startswith("gen-")
    assert first.created == datetime.fromtimestamp(JAN, tz=timezone.utc)
    assert first.cost == 0.04
    assert first.params == {"seed": 3, "modalities": ["image", "text"]}
    assert (first.mime, first.width, first.height) == ("image/png", 64, 48)
    assert (second.mime, second.width, second.height) == ("image/jpeg", 50, 80)
    # originals: pixels untouched, with provenance chunks (PNG), XMP (both) and a sidecar (JPEG)
    assert read_png_text(first.path.read_bytes())["prompt"] == "a green <field>"
    assert first.image.tobytes() == Image.open(io.BytesIO(png((10, 200, 10)))).tobytes()
    assert second.image.tobytes() == Image.open(io.BytesIO(images[1].data)).tobytes()
    assert b"trainedAlgorithmicMedia" in second.path.read_bytes()
    assert json.loads(Path(str(second.path) + ".json").read_text())["prompt"] == "a green <field>"
    lines = (store.directory / "index.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert all(json.loads(line)["sha256"] for line in lines)
    assert len(store) == 2
    assert list(store) == entries


def test_search_by_text_model_and_date(store: ImageStore) -> None:
    store.add(result("A Red Fox in the snow", "google/gemini-2.5-flash-image", created=JAN))
    store.add(result("a fox, red, sleeping", "openai/gpt-5-image", created=MAR,
                     images=(GeneratedImage(png((1, 2, 3)), "image/png", 0),)))
    store.add(result("blue whale", "openai/gpt-5-image-mini", created=NOV,
                     images=(GeneratedImage(png((4, 5, 6)), "image/png", 0),)))

    def prompts(found: list[StoreEntry]) -> list[str]:
        return [e.prompt for e in found]

    assert prompts(store.search("red fox")) == ["a fox, red, sleeping", "A Red Fox in the snow"]
    assert prompts(store.search("FOX snow")) == ["A Red Fox in the snow"]
    assert store.search("fox whale") == []
    assert prompts(store.search(model="openai/gpt-5-image")) == ["blue whale", "a fox, red, sleeping"]
    assert prompts(store.search(model="gpt-5-image-mini")) == ["blue whale"]
    assert prompts(store.search(model="GEMINI")) == ["A Red Fox in the snow"]
    assert prompts(store.search(since="2026-03-15")) == ["blue whale", "a fox, red, sleeping"]
    assert prompts(store.search(until=date(2026, 3, 15))) == ["a fox, red, sleeping", "A Red Fox in the snow"]
    assert prompts(store.search(since=datetime(2026, 2, 1), until="2026-04-01T00:00:00Z")) == \
        ["a fox, red, sleeping"]
    assert prompts(store.search(since=datetime.fromtimestamp(MAR, tz=timezone.utc) + timedelta(seconds=1))) \
        == ["blue whale"]
    assert prompts(store.search("fox", model="openai", until="2026-12-31")) == ["a fox, red, sleeping"]
    assert prompts(store.search(limit=2)) == ["blue whale", "a fox, red, sleeping"]
    assert prompts(store.latest(1)) == ["blue whale"]
    assert prompts(store.latest(5)) == ["blue whale", "a fox, red, sleeping", "A Red Fox in the snow"]


def test_torn_and_garbage_index_lines_are_tolerated(store: ImageStore) -> None:
    store.add(result("before the crash"))
    index = store.directory / "index.jsonl"
    with open(index, "ab") as fh:
        fh.write(b'not json at all\n{"v":1,"path":"2026-11/x.png","prompt":"torn')  # crash mid-line
    assert [e.prompt for e in ImageStore(store.directory)] == ["before the crash"]
    store.add(result("after the crash", images=(GeneratedImage(png((9, 9, 9)), "image/png", 0),)))
    fresh = ImageStore(store.directory)
    assert [e.prompt for e in fresh] == ["before the crash", "after the crash"]
    assert [e.prompt for e in store] == ["before the crash", "after the crash"]


def test_other_instances_see_new_entries(store: ImageStore) -> None:
    other = ImageStore(store.directory)
    assert len(other) == 0
    store.add(result("one"))
    assert [e.prompt for e in other] == ["one"]
    store.add(result("two", images=(GeneratedImage(png((5, 5, 5)), "image/png", 0),)))
    assert [e.prompt for e in other] == ["one", "two"]
    (store.directory / "index.jsonl").unlink()  # replaced index: start over
    assert len(other) == 0


def test_duplicates_are_stored_once_unless_asked(store: ImageStore) -> None:
    first = store.add(result("same"))
    again = store.add(result("same"))
    assert again == first
    assert len(store) == 1
    store.add(result("same"), dedupe=False)
    assert len(store) == 2
    assert len({e.path for e in store}) == 2


def test_deleted_files_are_skipped(store: ImageStore) -> None:
    (entry,) = store.add(result("gone soon"))
    store.add(result("stays", images=(GeneratedImage(png((7, 7, 7)), "image/png", 0),)))
    entry.path.unlink()
    assert [e.prompt for e in store] == ["stays"]
    assert re.fullmatch(r"<ImageStore 1 images in '.*store'>", repr(store))


def test_for_notebook(tmp_path: Path) -> None:
    nb = tmp_path / "analysis" / "fox study.ipynb"
    assert ImageStore.for_notebook(nb).directory == tmp_path / "analysis" / "fox study.imagegen"


def test_braces_in_the_store_folder(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "{weird} store")
    (entry,) = store.add(result("x"))
    assert entry.path.is_file()
    assert entry.path.parent.parent == tmp_path / "{weird} store"


def test_contact_sheet(store: ImageStore) -> None:
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    for n, color in enumerate(colors):
        store.add(result(f"picture {n} " + "long words " * 20, created=NOV + n,
                         images=(GeneratedImage(png(color, (120, 60)), "image/png", 0),)))
    plain = store.contact_sheet(columns=2, thumb=64, captions=False)
    assert plain.size == (2 * (64 + 12), 3 * (64 + 12))
    sheet = store.contact_sheet(columns=2, thumb=64)
    assert sheet.width == plain.width
    assert sheet.height > plain.height
    assert sheet.mode == "RGB"
    pixels = {color for _count, color in sheet.getcolors(1 << 20) or []}
    assert all(color in pixels for color in colors)  # every thumbnail made it onto the sheet
    # the captions drew dark text below the first thumbnail
    caption_box = sheet.crop((6, 6 + 64, 6 + 64, 76 + (sheet.height - plain.height) // 3))
    darkest, _lightest = caption_box.convert("L").getextrema()
    assert isinstance(darkest, (int, float))
    assert darkest < 100
    one = store.contact_sheet(store.search("picture 3"), columns=4, thumb=32, captions=False)
    assert one.size == (32 + 12, 32 + 12)


def test_contact_sheet_of_nothing(store: ImageStore) -> None:
    with pytest.raises(ValueError, match="no images"):
        store.contact_sheet()


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_export_html_escapes_and_links(store: ImageStore, tmp_path: Path) -> None:
    evil = "<img src=x onerror=alert(1)>"
    store.add(result(evil, model='evil/"model"<b>'))
    store.add(result("a calm lake", images=(GeneratedImage(jpeg((0, 90, 200)), "image/jpeg", 0),)))
    out = store.export_html(tmp_path / "site" / "gallery.html")
    page = out.read_text(encoding="utf-8")
    assert evil not in page
    assert "<b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page.lower()
    assert "onerror=alert(1)>" not in page
    parser = _Collector()
    parser.feed(page)
    images = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert len(images) == 2
    assert all((a["src"] or "").startswith("data:image/jpeg;base64,") for a in images)
    assert all(set(a) == {"src", "alt", "title"} for a in images)  # no event handlers slipped in
    assert images[0]["alt"] == evil  # the text survives, as text
    links = [attrs["href"] for tag, attrs in parser.tags if tag == "a"]
    assert len(links) == 2
    for href in links:
        assert href is not None
        assert not href.startswith(("/", "http"))
        assert (out.parent / href.replace("%20", " ")).resolve().is_file()
    assert evil in "".join(parser.text)


def test_export_html_subset(store: ImageStore, tmp_path: Path) -> None:
    store.add(result("cat"))
    store.add(result("dog", images=(GeneratedImage(png((1, 1, 1)), "image/png", 0),)))
    page = store.export_html(tmp_path / "g.html", store.search("dog")).read_text()
    assert "dog" in page
    assert "cat" not in page


# -- two kernels appending at once ------------------------------------------------------------

_APPENDER = textwrap.dedent("""
    import io, sys, time
    from pathlib import Path
    from PIL import Image
    from jupyter_imagegen._results.result import GeneratedImage, ImageResult
    from jupyter_imagegen._results.store import ImageStore

    root, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    store = ImageStore(root)
    results = []
    for i in range(15):
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), (i, ord(name[0]), 100)).save(buf, "PNG")
        results.append(ImageResult(prompt=f"{name} {i} " + "x" * 3000, model=name, created=1790000000.0,
                                   generated=(GeneratedImage(buf.getvalue(), "image/png", 0),)))
    while not go.exists():
        time.sleep(0.001)
    for r in results:
        store.add(r)
""")


def _spawn(script: str, root: Path, go: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start one writer process; its stderr goes to ``log`` so a failure explains itself."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with log.open("wb") as err:
        return subprocess.Popen([sys.executable, "-c", script, str(root), log.stem, str(go)],
                                env=env, stderr=err)


def test_two_processes_append_to_one_index(tmp_path: Path) -> None:
    root = tmp_path / "shared-store"
    go = tmp_path / "go"
    logs = [tmp_path / f"{name}.log" for name in ("alpha", "bravo")]
    procs = [_spawn(_APPENDER, root, go, log) for log in logs]
    time.sleep(0.3)
    go.touch()
    codes = [p.wait(timeout=30) for p in procs]
    assert codes == [0, 0], [log.read_text() for log in logs]
    store = ImageStore(root)
    entries = list(store)
    assert len(entries) == 30
    assert sorted(e.prompt.split(" x")[0] for e in entries) == sorted(
        f"{name} {i}" for name in ("alpha", "bravo") for i in range(15))
    assert len({e.path for e in entries}) == 30  # same second, same prompt shape: no file clobbered
    lines = (root / "index.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert all(json.loads(line) for line in lines[:-1])


def test_picks_are_kept_in_the_store(tmp_path: Path, server: LocalServer) -> None:
    store = ig.ImageStore(tmp_path / "store")
    with ig.Client(base_url=server.base_url, api_key="k", store=store) as c:
        for word in ("fox", "owl", "cat"):
            c.generate(f"a {word}", "offline/sketch")
    _fox, owl, cat = list(store)
    store.star(owl)
    store.star(cat.path)
    store.star(cat, starred=False)
    again = ig.ImageStore(tmp_path / "store")  # another kernel reads the same index
    assert [e.prompt for e in again.picks()] == ["a owl"]
    assert [e.starred for e in again] == [False, True, False]
    assert len(again) == 3  # a star record is not an entry
    with pytest.raises(ig.InvalidInputError, match="not an image in this store"):
        store.star(tmp_path / "elsewhere.png")


def test_a_result_is_starred_by_its_images_without_a_second_copy(tmp_path: Path,
                                                                 server: LocalServer) -> None:
    store = ig.ImageStore(tmp_path / "store")
    with ig.Client(base_url=server.base_url, api_key="k", store=store) as c:
        kept = c.generate("a kept fox", "offline/sketch")
    with ig.Client(base_url=server.base_url, api_key="k") as c:  # made without the store
        loose = c.generate("a loose owl", "offline/sketch")
    store.star(kept)
    store.star(loose)
    assert len(store) == 2  # the kept one was not stored again; the loose one was added once
    assert sorted(e.prompt for e in ig.ImageStore(tmp_path / "store").picks()) == \
        ["a kept fox", "a loose owl"]
    store.star(kept, starred=False)
    assert [e.prompt for e in ig.ImageStore(tmp_path / "store").picks()] == ["a loose owl"]
