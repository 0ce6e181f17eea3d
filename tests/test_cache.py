"""The replay cache: keys, exact round trips, corruption handling, LRU size cap, two writers."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from jupyter_imagegen import GeneratedImage, ImageResult, ReplayCache, Usage
from jupyter_imagegen._results.cache import default_cache_dir
from jupyter_imagegen._wire.chat import build_chat_body

BASE = "http://127.0.0.1:8000/api/v1"


def png(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg(color: tuple[int, int, int] = (30, 30, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), color).save(buf, "JPEG")
    return buf.getvalue()


def make_result(prompt: str = "a red fox", *,
                images: tuple[GeneratedImage, ...] | None = None) -> ImageResult:
    raw_usage = {"prompt_tokens": 12, "completion_tokens": 1290, "total_tokens": 1302, "cost": 0.0387,
                 "completion_tokens_details": {"image_tokens": 1290, "reasoning_tokens": 0},
                 "is_byok": False}
    return ImageResult(
        prompt=prompt,
        model="google/gemini-2.5-flash-image",
        generated=images or (GeneratedImage(png(), "image/png", 0),),
        text="Here is your fox.",
        reasoning="thinking about foxes",
        id="gen-123-abc",
        provider="Google AI Studio",
        usage=Usage.from_json(raw_usage),
        finish_reason="stop",
        native_finish_reason="STOP",
        params={"modalities": ["image", "text"], "seed": 7, "image_config": {"aspect_ratio": "1:1"}},
        requested_model="google/gemini-2.5-flash-image",
        created=1790000000.125,
        elapsed=4.2,
    )


def body(prompt: str = "a red fox", **kw: object) -> dict[str, object]:
    return build_chat_body(prompt, "google/gemini-2.5-flash-image", **kw)  # type: ignore[arg-type]


@pytest.fixture
def cache(tmp_path: Path) -> ReplayCache:
    return ReplayCache(tmp_path / "cache")


def entry_dir(cache: ReplayCache, key: str) -> Path:
    return cache.directory / "entries" / key


# -- keys -------------------------------------------------------------------------------------


def test_key_is_stable_and_order_independent() -> None:
    a = {"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": 1}
    b = {"seed": 1, "messages": [{"content": "x", "role": "user"}], "model": "m"}
    key = ReplayCache.key_for(a, BASE)
    assert key == ReplayCache.key_for(b, BASE)
    assert len(key) == 64
    assert all(c in "0123456789abcdef" for c in key)
    # Pinned: a silent change to the key recipe would orphan every user's cache.
    assert key == ReplayCache.key_for(json.loads(json.dumps(a)), BASE + "/")


def test_key_changes_with_every_part_of_the_request() -> None:
    key = ReplayCache.key_for(body(), BASE)
    others = [
        ReplayCache.key_for(body("a blue fox"), BASE),
        ReplayCache.key_for(body(seed=1), BASE),
        ReplayCache.key_for(body(seed=2), BASE),
        ReplayCache.key_for(body(aspect_ratio="16:9"), BASE),
        ReplayCache.key_for(body(images=["data:image/png;base64,AAAA"]), BASE),
        ReplayCache.key_for(body(images=["data:image/png;base64,AAAB"]), BASE),
        ReplayCache.key_for(body(), "https://openrouter.ai/api/v1"),
        ReplayCache.key_for({**body(), "model": "openai/gpt-5-image"}, BASE),
    ]
    assert len({key, *others}) == len(others) + 1


def test_key_ignores_stream() -> None:
    assert ReplayCache.key_for(body(stream=True), BASE) == ReplayCache.key_for(body(), BASE)
    assert "stream" in body(stream=True)


def test_key_never_sees_a_credential(client: object) -> None:
    """The key is derived from the body and base URL only; bodies carry no credential."""
    import inspect

    from jupyter_imagegen import Client

    assert list(inspect.signature(ReplayCache.key_for).parameters) == ["body", "base_url"]
    assert isinstance(client, Client)
    built = client.build_request("a red fox", images=[png()])
    text = json.dumps(built)
    assert "Authorization" not in text
    assert "sk-or-v1-test-key-0123456789" not in text
    assert "Bearer" not in text
    ReplayCache.key_for(built, client.base_url)  # JSON-able as built, including input images


# -- round trip -------------------------------------------------------------------------------


def test_round_trip_is_exact(cache: ReplayCache) -> None:
    original = make_result()
    key = cache.key_for(body(), BASE)
    assert cache.get(key) is None
    cache.put(key, original)
    hit = cache.get(key)
    assert hit is not None
    assert hit.cached is True
    assert original.cached is False
    assert hit.elapsed is not None
    assert 0 <= hit.elapsed < 1
    for name in ("prompt", "model", "text", "reasoning", "id", "provider", "finish_reason",
                 "native_finish_reason", "requested_model", "created"):
        assert getattr(hit, name) == getattr(original, name), name
    assert hit.params == original.params
    assert hit.usage == original.usage
    assert hit.usage.cost == 0.0387
    assert dict(hit.usage.raw) == dict(original.usage.raw)
    assert [(g.data, g.mime, g.index) for g in hit.generated] == \
        [(g.data, g.mime, g.index) for g in original.generated]
    assert "cached" in hit.caption()


def test_round_trip_several_images_and_formats(cache: ReplayCache) -> None:
    images = (GeneratedImage(png(), "image/png", 0), GeneratedImage(jpeg(), "image/jpeg", 3),
              GeneratedImage(b"RIFF\x00\x00\x00\x00WEBPdata", "image/webp", 5))
    key = cache.key_for(body("three"), BASE)
    cache.put(key, make_result("three", images=images))
    hit = cache.get(key)
    assert hit is not None
    assert [(g.data, g.mime, g.index) for g in hit.generated] == [(g.data, g.mime, g.index) for g in images]
    assert hit.generated[1].image.size == (40, 20)


def test_usage_without_raw_round_trips(cache: ReplayCache) -> None:
    result = make_result()
    result.usage = Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7, image_tokens=4, cost=0.5)
    key = cache.key_for(body(), BASE)
    cache.put(key, result)
    hit = cache.get(key)
    assert hit is not None
    assert hit.usage == result.usage
    assert hit.usage.cost == 0.5


def test_hit_does_not_decode(cache: ReplayCache, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hit hands back the stored bytes: no pixel is decoded until someone looks (the
    speed this buys is a figure ``benchmarks/bench_cache.py`` prints, not a timed assert)."""
    noise = Image.effect_noise((1024, 1024), 50).convert("RGB")
    buf = io.BytesIO()
    noise.save(buf, "PNG", compress_level=1)
    key = cache.key_for(body("noise"), BASE)
    cache.put(key, make_result("noise", images=(GeneratedImage(buf.getvalue(), "image/png", 0),)))

    def refuse(self: Image.Image) -> None:
        raise AssertionError("a cache hit decoded pixels")

    monkeypatch.setattr(Image.Image, "load", refuse)
    for _ in range(3):
        hit = cache.get(key)
        assert hit is not None
        assert hit.generated[0]._pil is None  # decoded only when someone looks
        assert hit.generated[0].size == (1024, 1024)  # from the header
        assert hit.generated[0].data == buf.getvalue()
    monkeypatch.undo()
    assert hit.generated[0].image.getpixel((5, 5)) == noise.getpixel((5, 5))


def test_existing_entry_is_kept(cache: ReplayCache) -> None:
    key = cache.key_for(body(), BASE)
    cache.put(key, make_result("first"))
    cache.put(key, make_result("second"))
    hit = cache.get(key)
    assert hit is not None
    assert hit.prompt == "first"
    assert len(cache) == 1


def test_bad_keys_are_rejected(cache: ReplayCache) -> None:
    for bad in ("../../etc", "ABC", "0" * 63, "g" * 64):
        with pytest.raises(ValueError, match="not a replay-cache key"):
            cache.get(bad)
    assert "../x" not in cache


def test_result_without_images_is_not_stored(cache: ReplayCache) -> None:
    key = cache.key_for(body(), BASE)
    cache.put(key, ImageResult(prompt="p", model="m", generated=()))
    assert len(cache) == 0
    assert cache.get(key) is None


# -- corruption -------------------------------------------------------------------------------


def _corrupt_truncate(entry: Path) -> None:
    image = entry / "0.png"
    image.write_bytes(image.read_bytes()[:20])


def _corrupt_flip_byte(entry: Path) -> None:
    image = entry / "0.png"
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF
    image.write_bytes(bytes(data))


def _corrupt_garble_manifest(entry: Path) -> None:
    manifest = entry / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:-30])


def _corrupt_manifest_incomplete(entry: Path) -> None:
    manifest = entry / "manifest.json"
    obj = json.loads(manifest.read_bytes())
    del obj["result"]["prompt"]
    manifest.write_text(json.dumps(obj))


def _corrupt_delete_image(entry: Path) -> None:
    (entry / "0.png").unlink()


def _corrupt_delete_manifest(entry: Path) -> None:
    (entry / "manifest.json").unlink()


def _corrupt_replace_with_file(entry: Path) -> None:
    import shutil

    shutil.rmtree(entry)
    entry.write_bytes(b"not a directory")


def _corrupt_wrong_key(entry: Path) -> None:
    manifest = entry / "manifest.json"
    obj = json.loads(manifest.read_bytes())
    obj["key"] = "0" * 64
    manifest.write_text(json.dumps(obj))


@pytest.mark.parametrize("damage", [_corrupt_truncate, _corrupt_flip_byte, _corrupt_garble_manifest,
                                    _corrupt_manifest_incomplete, _corrupt_delete_image,
                                    _corrupt_delete_manifest, _corrupt_wrong_key,
                                    _corrupt_replace_with_file])
def test_corrupt_entry_is_removed_and_refetched(cache: ReplayCache, damage: object) -> None:
    key = cache.key_for(body(), BASE)
    cache.put(key, make_result())
    damage(entry_dir(cache, key))  # type: ignore[operator]
    assert cache.get(key) is None
    assert not entry_dir(cache, key).exists()
    assert list((cache.directory / "tmp").iterdir()) == []
    cache.put(key, make_result())  # the caller refetched: the fresh result is stored again
    hit = cache.get(key)
    assert hit is not None
    assert hit.generated[0].data == png()


def test_fresh_entry_published_during_a_damaged_read_survives(
        cache: ReplayCache, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_imagegen._results import cache as _cache

    key = cache.key_for(body(), BASE)
    cache.put(key, make_result("old"))

    def damaged_and_replaced(entry: Path, key: str, raw: bytes) -> ImageResult:
        cache._discard(entry)  # meanwhile another kernel evicts it and publishes a fresh one
        cache.put(key, make_result("fresh"))
        raise ValueError("image 0.png does not match its checksum")

    monkeypatch.setattr(_cache, "load_entry", damaged_and_replaced)
    assert cache.get(key) is None
    monkeypatch.undo()
    hit = cache.get(key)
    assert hit is not None
    assert hit.prompt == "fresh"


# -- size cap ---------------------------------------------------------------------------------


def _age(cache: ReplayCache, key: str, seconds_ago: float) -> None:
    when = time.time() - seconds_ago
    os.utime(entry_dir(cache, key) / "manifest.json", (when, when))


def test_lru_eviction_order(tmp_path: Path) -> None:
    big = [GeneratedImage(Image.effect_noise((64, 64), 80).tobytes() + bytes([i]), "image/png", 0)
           for i in range(4)]
    keys = [ReplayCache.key_for(body(f"p{i}"), BASE) for i in range(4)]
    entry_size = len(big[0].data) + 2000
    cache = ReplayCache(tmp_path / "c", max_bytes=3 * entry_size)
    for i in range(3):
        cache.put(keys[i], make_result(f"p{i}", images=(big[i],)))
    assert len(cache) == 3
    _age(cache, keys[0], 300)
    _age(cache, keys[1], 200)
    _age(cache, keys[2], 100)
    assert cache.get(keys[0]) is not None  # a hit makes p0 the most recently used
    cache.put(keys[3], make_result("p3", images=(big[3],)))
    assert keys[1] not in cache  # the least recently used went first
    assert all(k in cache for k in (keys[0], keys[2], keys[3]))
    assert cache.size_bytes <= cache.max_bytes
    assert next(e.key for e in cache.entries()) == keys[3]
    assert {e.prompt for e in cache.entries()} == {"p0", "p2", "p3"}


def test_entry_larger_than_cap_is_not_kept(tmp_path: Path) -> None:
    cache = ReplayCache(tmp_path / "c", max_bytes=100)
    key = cache.key_for(body(), BASE)
    cache.put(key, make_result())
    assert len(cache) == 0
    assert cache.size_bytes == 0


def test_len_size_entries_clear(cache: ReplayCache) -> None:
    keys = [cache.key_for(body(f"p{i}"), BASE) for i in range(3)]
    for i, key in enumerate(keys):
        cache.put(key, make_result(f"p{i}"))
    assert len(cache) == 3
    assert cache.size_bytes > 3 * len(png())
    assert {e.key for e in cache.entries()} == set(keys)
    assert all(e.size_bytes > 0 for e in cache)
    assert "ReplayCache" in repr(cache)
    cache.clear()
    assert len(cache) == 0
    assert cache.size_bytes == 0
    assert cache.entries() == []


def test_cache_folder_removed_while_in_use(cache: ReplayCache) -> None:
    import shutil

    key = cache.key_for(body(), BASE)
    cache.put(key, make_result())
    shutil.rmtree(cache.directory)
    assert cache.get(key) is None
    cache.put(key, make_result())
    assert cache.get(key) is not None


def test_unwritable_cache_never_raises(cache: ReplayCache, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    def full(*args: object, **kwargs: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tempfile.mkdtemp", full)
    cache.put(cache.key_for(body(), BASE), make_result())
    assert len(cache) == 0
    assert "No space left on device" in caplog.text


def test_stale_temp_directories_are_swept(cache: ReplayCache) -> None:
    stale = cache.directory / "tmp" / "put-crashed"
    stale.mkdir()
    (stale / "0.png").write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    fresh = cache.directory / "tmp" / "put-in-progress"
    fresh.mkdir()
    cache.put(cache.key_for(body(), BASE), make_result())
    assert not stale.exists()
    assert fresh.exists()  # another kernel may still be writing it


def test_in_progress_writes_are_invisible(cache: ReplayCache) -> None:
    key = cache.key_for(body(), BASE)
    staged = cache.directory / "tmp" / "put-staged"
    staged.mkdir()
    (staged / "0.png").write_bytes(png())  # a writer half-way through, manifest not yet written
    assert cache.get(key) is None
    assert len(cache) == 0
    assert key not in cache


def test_default_directory() -> None:
    home = Path.home()
    assert default_cache_dir({"JUPYTER_IMAGEGEN_CACHE": "/x/y"}, "linux") == Path("/x/y")
    assert default_cache_dir({"XDG_CACHE_HOME": "/xdg"}, "linux") == Path("/xdg/jupyter_imagegen/replay")
    assert default_cache_dir({}, "linux") == home / ".cache" / "jupyter_imagegen" / "replay"
    assert default_cache_dir({}, "darwin") == home / "Library" / "Caches" / "jupyter_imagegen" / "replay"
    assert default_cache_dir({"LOCALAPPDATA": "C:/L"}, "win32") == Path("C:/L/jupyter_imagegen/replay")


def test_default_directory_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_IMAGEGEN_CACHE", str(tmp_path / "env-cache"))
    assert ReplayCache().directory == tmp_path / "env-cache"


def test_non_json_params_fail_before_writing(cache: ReplayCache) -> None:
    result = make_result()
    result.params = {"when": object()}
    with pytest.raises(TypeError):
        cache.put(cache.key_for(body(), BASE), result)
    assert len(cache) == 0


# -- two processes ----------------------------------------------------------------------------

_WRITER = textwrap.dedent("""
    import io, sys, time
    from pathlib import Path
    from PIL import Image
    from jupyter_imagegen._results.cache import ReplayCache
    from jupyter_imagegen._results.result import GeneratedImage, ImageResult

    root, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    cache = ReplayCache(root)

    def image(seed):
        buf = io.BytesIO()
        Image.effect_noise((96, 96), 40 + seed).convert("RGB").save(buf, "PNG", compress_level=0)
        return buf.getvalue()

    jobs = [("shared", i) for i in range(12)] + [(name, i) for i in range(12)]
    payloads = {job: image(n) for n, job in enumerate(jobs)}
    while not go.exists():
        time.sleep(0.001)
    for (owner, i) in jobs:
        key = ReplayCache.key_for({"prompt": f"{owner}-{i}"}, "http://x")
        data = payloads[(owner, i)] if owner != "shared" else image(100 + i)
        cache.put(key, ImageResult(prompt=f"{owner}-{i}", model=name,
                                   generated=(GeneratedImage(data, "image/png", 0),)))
""")


def _spawn(script: str, root: Path, go: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start one writer process; its stderr goes to ``log`` so a failure explains itself."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with log.open("wb") as err:
        return subprocess.Popen([sys.executable, "-c", script, str(root), log.stem, str(go)],
                                env=env, stderr=err)


def test_two_processes_writing_same_and_different_keys(tmp_path: Path) -> None:
    root = tmp_path / "shared-cache"
    reader = ReplayCache(root)
    go = tmp_path / "go"
    logs = [tmp_path / f"{name}.log" for name in ("alpha", "beta")]
    writers = [_spawn(_WRITER, root, go, log) for log in logs]
    prompts = [f"shared-{i}" for i in range(12)] + [f"{n}-{i}" for n in ("alpha", "beta") for i in range(12)]
    keys = {p: ReplayCache.key_for({"prompt": p}, "http://x") for p in prompts}
    time.sleep(0.3)
    go.touch()
    while any(w.poll() is None for w in writers):
        for prompt, key in keys.items():
            hit = reader.get(key)  # a reader racing the writers sees whole entries or nothing
            if hit is not None:
                assert hit.prompt == prompt
                assert hit.generated[0].image.size == (96, 96)
    codes = [w.wait(timeout=30) for w in writers]
    assert codes == [0, 0], [log.read_text() for log in logs]
    assert len(reader) == len(prompts)
    for prompt, key in keys.items():
        hit = reader.get(key)
        assert hit is not None
        assert hit.prompt == prompt
        if prompt.startswith("shared"):
            assert hit.model in ("alpha", "beta")  # whoever won the race, one whole entry
    assert list((root / "tmp").iterdir()) == []
