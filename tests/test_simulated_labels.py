"""Offline prices say they are simulated everywhere, and an offline answer never reads "last billed".

The offline server prices generations like the real service so spend limits can be tried, but
nobody pays. Every place a price appears is checked here, offline through the local server: the
``%imagegen models`` table and ``%imagegen config``, the command line, the widget's model entries
and history, captions and reprs, ``metadata()`` and what ``save()`` writes, the image store and the
replay cache. A client the kit does not know to be offline is the control: its answers carry no
``simulated`` flag and its learnt prices keep "last billed".
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from magic_helpers import run, shell_bound_to
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen._cli import main
from jupyter_imagegen._results.cache import ReplayCache
from jupyter_imagegen._results.labels import mark_offline
from jupyter_imagegen._results.store import ImageStore
from jupyter_imagegen._widget import data as wd
from jupyter_imagegen.server import LocalServer

#: A chat model the local server stands in for: its answer bills a little more than the listed
#: estimate, so the catalogue's price for it becomes the one learnt from the answer.
LEARNT = "google/gemini-2.5-flash-image"
#: A real model the local server serves on the Image API, whose answers name no provider: only
#: the client can tell that it was offline.
IMAGE_API = "openai/gpt-image-1"


@pytest.fixture
def offline_client(server: LocalServer, tmp_path: Path) -> Iterator[ig.Client]:
    """A client to the local server marked offline, as ``ig.offline()`` makes it."""
    with ig.Client(api_key="", base_url=server.base_url, sleep=lambda _s: None,
                   cache=tmp_path / "cache", store=tmp_path / "store") as client:
        mark_offline(client)
        yield client


@pytest.fixture
def ip() -> Iterator[InteractiveShell]:
    """A shell whose shared client is the kit's own offline default."""
    yield from shell_bound_to(ig.offline())


def _price_cells(rows: list[list[str]]) -> list[str]:
    return [row[4] for row in rows]


# -- the models table and %imagegen config -------------------------------------------------------


def test_models_table_says_simulated_on_every_price_offline(ip: InteractiveShell) -> None:
    assert run(ip, f"%%imagegen -m {LEARNT} --no-stream --no-display\na lighthouse").result.success
    table = run(ip, "%imagegen models").result.result
    prices = _price_cells(table.rows)
    assert len(prices) >= 20
    assert all("simulated" in p for p in prices), [p for p in prices if "simulated" not in p]
    everything = repr(table) + table._repr_html_()
    assert "last billed" not in everything
    assert "prices are simulated, nothing is charged" in table.caption
    assert "at offline local server" in table.caption
    # The model the answer taught reads as learnt from an offline answer, with the amount as billed.
    row = next(r for r in table.rows if r[0] == LEARNT)
    assert row[4].endswith("(simulated last answer)"), row
    learnt = next(m for m in table.items if m.id == LEARNT)
    assert learnt.price().basis == "last billed"  # the guard's own price is unchanged
    assert row[4].startswith(f"${learnt.price().usd:.4f}/image")


def test_config_spend_lines_say_simulated_and_the_limit_holds_on_them(ip: InteractiveShell) -> None:
    ip.run_line_magic("config", "ImageGenMagics.spend_limit = 0.05")
    assert run(ip, "%%imagegen -m offline/sketch --no-stream --no-display\na fox").result.success
    rows = {r[0]: r[1:] for r in run(ip, "%imagegen config").result.result.rows}
    spent, how = rows["spent this session"]
    assert re.fullmatch(r"\$0\.00 \(offline; simulated prices total \$0\.039\d*, not charged\)", spent)
    assert how.startswith("(simulated by the offline server")
    assert rows["spend limit"][0] == "$0.05 (enforced on simulated prices)"
    # The simulated amounts are what the limit counts: a second $0.039 image would pass $0.05.
    refused = run(ip, "%%imagegen -m offline/sketch --no-stream --no-display\na second fox")
    assert not refused.result.success
    assert "spend limit reached" in refused.stderr
    assert ig.default_client().spent == pytest.approx(0.039, abs=0.001)


def test_a_client_not_known_offline_keeps_last_billed(client: ig.Client, server: LocalServer) -> None:
    with_shell = shell_bound_to(client)
    shell = next(with_shell)
    try:
        client.generate("a lighthouse", LEARNT)
        table = run(shell, "%imagegen models").result.result
        row = next(r for r in table.rows if r[0] == LEARNT)
        assert row[4].endswith("(last billed)") and "simulated" not in row[4]
        assert "simulated" not in table.caption and server.base_url in table.caption
        # Only the local server's own renderers are simulated whichever client lists them.
        assert all("simulated" in r[4] for r in table.rows if r[0].startswith("offline/"))
        assert all("simulated" not in r[4] for r in table.rows if not r[0].startswith("offline/"))
        rows = {r[0]: r[1] for r in run(shell, "%imagegen config").result.result.rows}
        assert re.fullmatch(r"\$0\.03\d*", rows["spent this session"])
    finally:
        with_shell.close()


# -- the command line ----------------------------------------------------------------------------


def test_cli_models_against_the_offline_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0  # no key, no base URL: the kit's offline default
    out = capsys.readouterr().out
    lines = out.splitlines()
    rows = [line for line in lines[1:] if re.match(r"[a-z0-9-]+/", line)]
    assert len(rows) >= 20
    assert all("simulated" in row for row in rows), [r for r in rows if "simulated" not in r]
    assert "last billed" not in out
    assert lines[-1].startswith("Offline local server: prices are simulated, nothing is charged")
    sketch = next(row for row in rows if row.startswith("offline/sketch "))
    assert sketch.endswith("$0.0390/image (simulated price line)")


def test_cli_generate_says_simulated_for_an_image_api_answer(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # Image API answers name no provider: the offline client is what tells.
    assert main(["generate", "a lighthouse", "-m", IMAGE_API, "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"cost \$0\.0423 \(simulated\), id ", out), out
    (saved,) = tmp_path.iterdir()
    with Image.open(saved) as image:
        assert image.text["simulated"] == "true"  # type: ignore[attr-defined]


# -- the widget ------------------------------------------------------------------------------------


def test_widget_model_entries_say_simulated_and_keep_the_amounts(offline_client: ig.Client) -> None:
    offline_client.generate("a lighthouse", LEARNT)
    entries = {e["id"]: e for e in wd.model_choices(offline_client)}
    models = {m.id: m for m in offline_client.catalogue.models_with_prices()}
    assert entries.keys() == models.keys()
    for model_id, entry in entries.items():
        assert entry["simulated"] is True
        assert entry["price"] == models[model_id].price().usd  # the guard's amount, unchanged
        assert "simulated" in entry["price_label"], entry
        assert "last billed" not in entry["price_label"] + entry["price_basis"]
        if entry["price"] is not None:
            assert entry["price_basis"].startswith("simulated "), entry
    assert entries[LEARNT]["price_basis"] == "simulated last answer"
    assert entries["offline/sketch"]["price_label"] == "$0.0390/image (simulated price line)"


def test_widget_entries_of_a_client_not_known_offline(client: ig.Client) -> None:
    entries = {e["id"]: e for e in wd.model_choices(client)}
    gpt, sketch = entries[IMAGE_API], entries["offline/sketch"]
    assert (gpt["simulated"], gpt["price_basis"]) == (False, "token estimate")
    assert gpt["price_label"] == "$0.0422/image (token estimate)"
    assert (sketch["simulated"], sketch["price_basis"]) == (True, "simulated price line")


def test_widget_history_entries_and_downloads_carry_the_flag(offline_client: ig.Client,
                                                            client: ig.Client) -> None:
    fake = offline_client.generate("a lighthouse", IMAGE_API)
    entry = wd.history_entry("r1", fake)
    assert entry["simulated"] is True and "simulated $0.0423" in entry["caption"]
    data, _mime, _name = wd.download(fake, 0)
    assert b"simulated" in data
    real = client.generate("a lighthouse", IMAGE_API)
    entry = wd.history_entry("r2", real)
    assert entry["simulated"] is False and "simulated" not in entry["caption"]
    assert b"simulated" not in wd.download(real, 0)[0]


# -- results: captions, reprs, metadata, saved files ---------------------------------------------


def test_offline_image_api_result_is_simulated_in_every_form(offline_client: ig.Client,
                                                            tmp_path: Path) -> None:
    result = offline_client.generate("a lighthouse", IMAGE_API)
    assert result.provider is None  # as real Image API answers: no provider to tell by
    assert result.offline
    assert "offline · simulated $0.0423" in result.caption()
    assert "offline simulated_cost=$0.0423" in repr(result)
    meta = result.metadata()
    assert meta["simulated"] is True and meta["cost"] == pytest.approx(0.0423, abs=5e-5)
    (path,) = result.save(tmp_path / "out")
    with Image.open(path) as image:
        assert image.text["simulated"] == "true"  # type: ignore[attr-defined]
    # A pickled result (a worker's answer) loses its client, not its mark.
    back = pickle.loads(pickle.dumps(result))
    assert back._client is None and back.offline and back.metadata()["simulated"] is True


def test_non_png_sidecar_says_simulated(offline_client: ig.Client, tmp_path: Path) -> None:
    result = offline_client.generate("a lighthouse", "offline/webp")
    assert result.generated[0].mime == "image/webp"
    (path,) = result.save(tmp_path)
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert sidecar["simulated"] is True


def test_a_real_result_has_no_simulated_flag(client: ig.Client, tmp_path: Path) -> None:
    result = client.generate("a lighthouse", IMAGE_API)  # a client not known to be offline
    assert not result.offline
    assert "simulated" not in result.metadata()
    assert "simulated" not in result.caption() + repr(result)
    assert "$0.0423" in result.caption()
    (path,) = result.save(tmp_path)
    with Image.open(path) as image:
        assert "simulated" not in image.text  # type: ignore[attr-defined]
    assert not pickle.loads(pickle.dumps(result)).offline
    store = ImageStore(tmp_path / "store")
    (entry,) = store.add(result)
    assert entry.simulated is False
    assert '"simulated"' not in (tmp_path / "store" / "index.jsonl").read_text()


# -- the image store and the replay cache --------------------------------------------------------


def test_store_entries_say_simulated(offline_client: ig.Client, tmp_path: Path) -> None:
    offline_client.generate("a lighthouse", IMAGE_API)  # kept by the client's store
    (line,) = (tmp_path / "store" / "index.jsonl").read_text().splitlines()
    assert json.loads(line)["simulated"] is True
    store = ImageStore(tmp_path / "store")
    (entry,) = list(store)
    assert entry.simulated is True
    with Image.open(entry.path) as image:
        assert image.text["simulated"] == "true"  # type: ignore[attr-defined]
    page = store.export_html(tmp_path / "gallery.html").read_text()
    assert "simulated $0.0423" in page


def test_store_skips_a_damaged_simulated_field(tmp_path: Path, offline_client: ig.Client) -> None:
    offline_client.generate("a lighthouse", IMAGE_API)
    index = tmp_path / "store" / "index.jsonl"
    record = json.loads(index.read_text())
    record["simulated"] = "yes"
    index.write_text(index.read_text() + json.dumps(record) + "\n")
    assert len(ImageStore(tmp_path / "store")) == 1  # the foreign line is skipped, not fatal


def test_replay_cache_keeps_the_mark_for_any_reader(offline_client: ig.Client, server: LocalServer,
                                                    tmp_path: Path) -> None:
    first = offline_client.generate("a lighthouse", IMAGE_API)
    (manifest,) = (tmp_path / "cache").rglob("manifest.json")
    assert json.loads(manifest.read_text())["result"]["simulated"] is True
    # A client that does not know the server is offline replays it: still simulated.
    with ig.Client(api_key="", base_url=server.base_url, cache=tmp_path / "cache") as stranger:
        hit = stranger.generate("a lighthouse", IMAGE_API)
    assert hit.cached and hit.offline and hit.metadata()["simulated"] is True
    assert "simulated $0.0423" in hit.caption()
    sent = [r for r in server.requests if r.method == "POST"]
    assert len(sent) == 1 and first.id == hit.id  # served from disk, nothing sent


def test_replay_cache_real_entries_and_damage(client: ig.Client, tmp_path: Path) -> None:
    cache = ReplayCache(tmp_path / "cache")
    real = client.generate("a lighthouse", IMAGE_API)
    cache.put("a" * 64, real)
    (manifest,) = (tmp_path / "cache").rglob("manifest.json")
    fields = json.loads(manifest.read_text())["result"]
    assert "simulated" not in fields
    hit = cache.get("a" * 64)
    assert hit is not None and not hit.offline
    # A manifest whose flag is not a boolean is damage: a miss, never a guess.
    data = json.loads(manifest.read_text())
    data["result"]["simulated"] = "true"
    manifest.write_text(json.dumps(data))
    assert cache.get("a" * 64) is None


def test_an_offline_spend_refusal_says_simulated_never_last_billed() -> None:
    client = ig.default_client()  # offline: no key in the test environment
    client.spend_limit = 0.05
    client.generate("a fox", "offline/sketch")
    with pytest.raises(ig.SpendLimitError) as info:
        client.generate("a fox", "offline/sketch")
    text = str(info.value)
    assert "simulated last answer" in text and "last billed" not in text
