"""Property tests (bounded): no index line or cache manifest, however foreign, breaks the store or
the cache, and the page gate only ever hands raster mimes to a page (issue 12)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from jupyter_imagegen import GeneratedImage, ImageDecodeError, ImageResult, ImageStore, ReplayCache

_HOSTILE = st.sampled_from([1e20, -1.0, float("nan"), float("inf"), "free", 10**400, 1e308,
                            "../x.png", "/etc/passwd", [1], {}])
_JSON = st.recursive(
    _HOSTILE | st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)
_FIELDS = st.fixed_dictionaries({}, optional=dict.fromkeys(
    ("path", "created", "prompt", "model", "params", "cost", "index", "mime", "width", "height",
     "sha256", "generation_id"), _HOSTILE | _JSON))
_BOUNDED = settings(max_examples=60, deadline=2000,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return buffer.getvalue()


@_BOUNDED
@given(record=_FIELDS, real_path=st.booleans())
def test_any_index_record_never_breaks_the_store(tmp_path: Path, record: dict[str, object],
                                                 real_path: bool) -> None:
    folder = tmp_path / "s"
    folder.mkdir(exist_ok=True)
    (folder / "x.png").write_bytes(_png())
    if real_path:
        record = {**record, "path": "x.png"}
    try:
        line = json.dumps(record)
    except (ValueError, OverflowError):
        return
    (folder / "index.jsonl").write_text(line + "\n")
    store = ImageStore(folder)
    entries = list(store)
    store.search("a", model="b", since="2020-01-01")
    store.latest(3)
    repr(store)
    for entry in entries:
        repr(entry)
        assert entry.path.resolve().is_relative_to(folder.resolve())
    store.export_html(tmp_path / "g.html")


_RESULT_KEYS = ("created", "usage", "params", "prompt", "model", "text", "id")


@_BOUNDED
@given(result=st.fixed_dictionaries({}, optional=dict.fromkeys(_RESULT_KEYS, _HOSTILE | _JSON)))
def test_any_manifest_damage_is_a_miss(tmp_path: Path, result: dict[str, object]) -> None:
    cache = ReplayCache(tmp_path / "c")
    key = "b" * 64
    cache.clear()
    cache.put(key, ImageResult(prompt="p", model="m", generated=(GeneratedImage(_png(), "image/png"),)))
    manifest = tmp_path / "c" / "entries" / key / "manifest.json"
    obj = json.loads(manifest.read_text())
    obj["result"].update(result)
    try:
        manifest.write_text(json.dumps(obj))
    except (ValueError, OverflowError):
        return
    got = cache.get(key)
    if got is not None:  # what loads must be usable everywhere a result goes
        repr(got)
        got.caption()
        got.metadata()


@settings(max_examples=80, deadline=2000)
@given(data=st.binary(max_size=64), mime=st.sampled_from(["image/png", "image/svg+xml", "text/html",
                                                          ""]))
def test_the_page_gate_only_returns_raster(data: bytes, mime: str) -> None:
    from jupyter_imagegen._results.safeimage import RASTER, page_image

    for payload in (data, b"<svg " + data, _png()[:16] + data):
        try:
            shown, kind = page_image(payload, mime)
        except ImageDecodeError:
            continue
        assert kind in RASTER and not shown.lstrip().startswith(b"<")
