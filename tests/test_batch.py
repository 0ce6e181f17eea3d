"""Batches, comparisons, the shared rate gate, spend limits and multi-turn editing."""

from __future__ import annotations

import base64
import io
import re
import threading
import time
import warnings

import pytest
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen._core.batch import generate_many
from jupyter_imagegen._core.transport import RateGate
from jupyter_imagegen.server import Fault, LocalServer


def chat_posts(server: LocalServer) -> list:
    return [r for r in server.requests if r.method == "POST" and r.path.endswith("/chat/completions")]


class TestGenerateMany:
    def test_input_order_and_real_images(self, client: ig.Client, server: LocalServer) -> None:
        prompts = [f"{n} red circles" for n in ("one", "two", "three", "four", "five")]
        batch = client.generate_many(prompts, "offline/sketch", concurrency=3, progress=False)
        assert [item.prompt for item in batch] == prompts
        assert [r.prompt for r in batch.results] == prompts and not batch.errors
        assert all(img.size == (1024, 1024) for img in batch.images)
        assert len(chat_posts(server)) == 5 and batch.cost > 0

    def test_failures_are_kept_per_item_and_never_lose_successes(self, server: LocalServer) -> None:
        server.faults.push(Fault("400", path="*", model="offline/poster"), times=None)
        with ig.Client(base_url=server.base_url, max_retries=0) as c:
            batch = c.generate_many(["a", "b"], ["offline/sketch", "offline/poster"], progress=False)
        assert [(i.prompt, i.model, i.ok) for i in batch] == [
            ("a", "offline/sketch", True), ("a", "offline/poster", False),
            ("b", "offline/sketch", True), ("b", "offline/poster", False)]
        assert all(isinstance(i.error, ig.BadRequestError) for i in batch.errors)
        assert "2 of 4 succeeded, 2 failed" in batch.summary()
        with pytest.raises(ig.BadRequestError):
            batch.raise_for_errors()

    def test_concurrency_is_bounded_and_the_pool_fits(self) -> None:
        # Identical requests with one seed: the server renders once, so this times the client's
        # concurrency, not the renderer (unseeded, the server would draw eight pictures).
        with LocalServer(port=0, latency=0.3) as srv, \
                ig.Client(base_url=srv.base_url, auto_seed=False) as c:
            c.models()
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # urllib3's "Connection pool is full" is a warning
                started = time.perf_counter()
                batch = c.generate_many(["x"] * 8, "offline/sketch", concurrency=8, progress=False,
                                        seed=1)
                wide = time.perf_counter() - started
                started = time.perf_counter()
                c.generate_many(["y"] * 8, "offline/sketch", concurrency=2, progress=False, seed=1)
                narrow = time.perf_counter() - started
        assert len(batch.results) == 8
        # 8 in parallel take about one latency; 2 at a time take about four.
        assert wide < 4 * 0.3 and narrow >= 4 * 0.3

    def test_rate_limits_pause_every_worker(self, server: LocalServer) -> None:
        server.faults.push(Fault("429", retry_after=0.6))
        with ig.Client(base_url=server.base_url) as c:
            c.models()
            batch = c.generate_many(["a"] * 6, "offline/sketch", concurrency=2, progress=False)
        assert len(batch.results) == 6 and c._gate.blocks == 1
        times = sorted(r.time for r in chat_posts(server))
        assert len(times) == 7
        # After the 429 at times[0], at most the sibling already in flight reaches the server
        # inside the window the service asked for; without the gate it would send several.
        inside = [t for t in times[1:] if t < times[0] + 0.5]
        assert len(inside) <= 1

    def test_a_cancel_that_ends_the_last_calls_first_still_marks_the_batch_interrupted(
            self, server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
        """The cancel can end every call in flight before the loop looks at it again (a loaded
        machine: the widget's matrix once came back "done" after its Stop). The batch must say
        it was interrupted."""
        import concurrent.futures as cf

        real_wait = cf.wait
        cancel = threading.Event()

        def slow_loop(futures: list, timeout: float | None = None, **kwargs: object) -> object:
            waited = real_wait(futures, timeout=timeout, **kwargs)  # type: ignore[arg-type]
            if cancel.is_set():  # the loop wakes only after the cancelled calls have all ended
                return real_wait(futures, timeout=30)
            return waited

        server.faults.push(Fault("slow", delay=30), times=None)
        monkeypatch.setattr("jupyter_imagegen._core.batch.cf.wait", slow_loop)
        with ig.Client(base_url=server.base_url) as c:
            c.models()
            threading.Timer(0.5, cancel.set).start()
            batch = generate_many(c, ["a", "b"], "offline/sketch", concurrency=2,
                                  progress=False, cancel=cancel)
        assert batch.interrupted
        assert len(batch.errors) == 2 and all(isinstance(i.error, ig.CancelledError)
                                              for i in batch.errors)
        assert len(chat_posts(server)) == 2

    def test_interrupt_returns_what_finished(self, server: LocalServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
        import concurrent.futures as cf

        real_wait = cf.wait
        finished = threading.Event()

        def wait(*args: object, **kwargs: object) -> object:
            if finished.is_set():  # Ctrl+C arrives once the first item is in
                raise KeyboardInterrupt
            return real_wait(*args, **kwargs)  # type: ignore[arg-type]

        server.faults.push(Fault("slow", delay=30, path="*", model="offline/poster"), times=None)
        monkeypatch.setattr("jupyter_imagegen._core.batch.cf.wait", wait)
        with ig.Client(base_url=server.base_url) as c:
            c.models()
            started = time.perf_counter()
            batch = generate_many(c, ["a"], ["offline/sketch", "offline/poster", "offline/poster"],
                                  concurrency=3, progress=False, on_result=lambda _: finished.set())
        assert time.perf_counter() - started < 10  # at the Ctrl+C, not after the 30 s posters
        assert batch.interrupted and batch[0].ok and len(batch.errors) == 2
        assert all(isinstance(i.error, ig.CancelledError) for i in batch.errors)


class TestGate:
    def test_block_extends_and_wait_sleeps_the_remainder(self) -> None:
        now = [100.0]
        gate = RateGate(clock=lambda: now[0])
        gate.block(2)
        gate.block(1)
        assert gate.delay() == 2
        slept: list[float] = []

        def sleep(s: float) -> None:
            slept.append(s)
            now[0] += s

        gate.wait(sleep)
        assert sum(slept) == pytest.approx(2) and gate.delay() == 0


class TestCompare:
    def test_grid_of_prompts_by_models(self, client: ig.Client) -> None:
        comparison = client.compare(["a sun", "a moon"], ["offline/sketch", "offline/photo"],
                                    progress=False)
        assert comparison.cell("a moon", "offline/photo").result.generated[0].mime == "image/jpeg"
        bundle = comparison._repr_mimebundle_()
        assert set(bundle) == {"text/html", "text/plain"}  # each thumbnail stored once
        html = bundle["text/html"]
        thumbs = re.findall(r'src="data:image/[a-z]+;base64,([^"]+)"', html)
        assert len(thumbs) == 4
        assert all(max(Image.open(io.BytesIO(base64.b64decode(t))).size) == 384 for t in thumbs)
        # Equal model columns (a fixed layout shares what the prompt column leaves), at most their
        # natural width and never wider than the output (issue 22: 955 px in a 569 px output).
        assert "table-layout:fixed" in html and "width:256px" not in html
        assert "width:100%;max-width:calc(10em + 528px)" in html
        assert "simulated $" in html and html.count("offline/photo") == 1  # header once
        assert "a moon | offline/photo: simulated $" in bundle["text/plain"]

    def test_prompt_html_is_escaped(self, client: ig.Client) -> None:
        evil = "<img src=x onerror=alert(1)>"
        html = client.compare(evil, ["offline/sketch"], progress=False)._html()
        assert evil not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


class TestSpendLimit:
    def test_refuses_before_sending(self, server: LocalServer) -> None:
        with ig.Client(base_url=server.base_url, spend_limit=0.05) as c:
            first = c.generate("a", "offline/sketch")
            assert c.spent == pytest.approx(first.cost)
            with pytest.raises(ig.SpendLimitError, match="Nothing was sent"):
                c.generate("b", "offline/sketch")
        assert len(chat_posts(server)) == 1

    def test_no_limit_by_default(self, client: ig.Client) -> None:
        for _ in range(3):
            client.generate("a", "offline/sketch")
        assert client.spent > 0 and client.spend_limit is None


class TestEditing:
    def test_multi_turn_edit_sends_the_previous_image(self, client: ig.Client,
                                                      server: LocalServer) -> None:
        first = client.generate("a green square", "offline/editor", aspect_ratio="4:3")
        second = first.edit("make it purple")
        third = second.edit("add a moon", images=Image.new("RGB", (32, 32), "white"))
        bodies = [r.json for r in chat_posts(server)]
        content = bodies[1]["messages"][0]["content"]
        assert content[0]["text"] == "make it purple" and len(content) == 2
        assert content[1]["image_url"]["url"] == first.generated[0].data_url
        assert len(bodies[2]["messages"][0]["content"]) == 3
        assert bodies[1]["image_config"] == {"aspect_ratio": "4:3"}
        assert second.model == "offline/editor" and third.image.size == second.image.size
        assert second.generated[0].data != first.generated[0].data

    def test_model_without_image_input_is_a_clear_error(self, client: ig.Client) -> None:
        poster = client.generate("x", "offline/poster")
        with pytest.raises(ig.ModelCapabilityError, match="does not accept input images"):
            poster.edit("again")


def test_batch_with_dask_executor(server: LocalServer) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as dask_client, \
            ig.Client(base_url=server.base_url) as c:
        batch = c.generate_many(["a red sun", "a blue moon", "a green tree"], "offline/sketch",
                                executor=dask_client.get_executor(), concurrency=2, progress=False)
    assert not batch.errors and [r.prompt for r in batch.results] == ["a red sun", "a blue moon",
                                                                      "a green tree"]
    assert all(r.image.size == (1024, 1024) for r in batch.results)
    assert len(chat_posts(server)) == 3



class TestCacheAndStoreWiring:
    def test_identical_requests_replay_from_disk(self, server: LocalServer, tmp_path) -> None:
        with ig.Client(base_url=server.base_url, cache=tmp_path / "cache") as c:
            first = c.generate("a red fox", "offline/sketch", seed=1)
            spent = c.spent
            again = c.generate("a red fox", "offline/sketch", seed=1)
            streamed = c.generate("a red fox", "offline/sketch", seed=1, stream=True)
            other = c.generate("a red fox", "offline/sketch", seed=2)
        assert len(chat_posts(server)) == 2 and not first.cached and not other.cached
        assert again.cached and streamed.cached and "cached" in again.caption()
        assert again.generated[0].data == first.generated[0].data
        assert (again.id, again.text, again.cost) == (first.id, first.text, first.cost)
        assert c.spent == spent + other.cost

    def test_a_new_kernel_replays_offline(self, server: LocalServer, tmp_path) -> None:
        with ig.Client(base_url=server.base_url, cache=tmp_path) as c:
            first = c.generate("a blue moon", "offline/sketch")
        server.faults.push(Fault("503"), times=None)  # the service is down now
        with ig.Client(base_url=server.base_url, cache=tmp_path, max_retries=0) as c:
            replay = c.generate("a blue moon", "offline/sketch")
        assert replay.cached and replay.generated[0].data == first.generated[0].data

    def test_corrupt_entries_are_refetched(self, server: LocalServer, tmp_path) -> None:
        # With one seed the offline renderer draws the same picture again: it was refetched.
        with ig.Client(base_url=server.base_url, cache=tmp_path) as c:
            first = c.generate("a green tree", "offline/sketch", seed=3)
            for image in tmp_path.rglob("0.png"):
                image.write_bytes(image.read_bytes()[:100])
            again = c.generate("a green tree", "offline/sketch", seed=3)
        assert not again.cached and again.generated[0].data == first.generated[0].data
        assert len(chat_posts(server)) == 2

    def test_store_keeps_every_image(self, client: ig.Client, server: LocalServer, tmp_path) -> None:
        with ig.Client(base_url=server.base_url, store=tmp_path / "store") as c:
            c.generate("a yellow sun", "offline/sketch")
            c.generate("four moons", "offline/quartet")
        store = ig.ImageStore(tmp_path / "store")
        assert len(store) == 5 and [e.model for e in store.search("sun")] == ["offline/sketch"]
        assert store.latest(1)[0].image.size == (1024, 1024)


def test_batch_display_is_one_grid_with_the_summary_once(client: ig.Client) -> None:
    batch = client.generate_many(["a", "<script>x</script>"], "offline/sketch", progress=False)
    bundle = batch._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}  # no contact-sheet second copy
    html = bundle["text/html"]
    assert "<script>x</script>" not in html and html.count("<img") == 2
    assert html.count(batch.summary()) == 1 and "offline, simulated $" in batch.summary()
    assert bundle["text/plain"].splitlines()[2].startswith("1: <script>x</script> · offline/sketch")


def test_batch_progress_ticks_before_the_first_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a notebook the line's time moves while every request is still running (issue 22)."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import get_ipython
    from IPython.utils.capture import capture_output

    from jupyter_imagegen._core import batch as batch_module

    # The suite's one shell (globalipapp's), whichever test makes it first: a plain
    # InteractiveShell.instance() here would clash with it when this file runs first.
    shell = get_ipython() or InteractiveShell.instance()
    monkeypatch.setattr(batch_module, "_shell", lambda: shell)
    with LocalServer(port=0, latency=1.6) as slow, \
            ig.Client(api_key="", base_url=slow.base_url) as c, capture_output() as cap:
        done = c.generate_many(["a", "b"], "offline/sketch", concurrency=2)
    assert len(done.results) == 2
    texts = [o.data["text/plain"] for o in cap.outputs]
    before_first = [t for t in texts if t.startswith("generating 0/2 · ")]
    seconds = sorted({float(t.rsplit("· ", 1)[1].rstrip("s")) for t in before_first})
    assert len(seconds) >= 2 and seconds[-1] >= 1.0, texts  # it ticked while nothing had finished
    assert "&#8226;" in cap.outputs[0].data["text/html"]  # a glyph every font has
    assert "&#9203;" not in "".join(o.data["text/html"] for o in cap.outputs)
    assert texts[-1].startswith("finished: 2 of 2 succeeded")
