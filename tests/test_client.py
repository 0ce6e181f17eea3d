"""The client over real HTTP against the local OpenRouter-compatible server."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

import jupyter_imagegen as ig
from jupyter_imagegen.server import Fault, LocalServer

KEY = "sk-or-v1-test-key-0123456789"


def posts(server: LocalServer) -> list:
    return [r for r in server.requests if r.method == "POST" and r.path.endswith("/chat/completions")]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def retrying(server: LocalServer, sleeps: Sleeps) -> ig.Client:
    return ig.Client(api_key=KEY, base_url=server.base_url, sleep=sleeps, max_retries=3)


class TestRequests:
    def test_body_and_headers_on_the_wire(self, client: ig.Client, server: LocalServer) -> None:
        result = client.generate("a red circle", model="offline/sketch", aspect_ratio="16:9",
                                 image_size="1K", seed=42, provider={"sort": "price"})
        (req,) = posts(server)
        body = req.json
        assert body["model"] == "offline/sketch"
        assert body["messages"] == [{"role": "user", "content": "a red circle"}]
        assert body["modalities"] == ["image", "text"]
        assert body["image_config"] == {"aspect_ratio": "16:9", "image_size": "1K"}
        assert body["seed"] == 42 and body["provider"] == {"sort": "price"} and "stream" not in body
        headers = {k.lower(): v for k, v in req.headers.items()}
        assert headers["authorization"] == f"Bearer {KEY}"
        assert headers["content-type"] == "application/json"
        assert headers["http-referer"] and headers["x-openrouter-title"] == headers["x-title"]
        assert result.image.size == (1344, 768)
        # Results keep API-neutral parameters (and the request itself), whichever API answered.
        assert result.params == {"aspect_ratio": "16:9", "size": "1K", "seed": 42,
                                 "provider": {"sort": "price"}, "api": "chat"}
        assert result.request.aspect_ratio == "16:9" and result.request.seed == 42

    def test_image_only_models_get_image_modality(self, client: ig.Client, server: LocalServer) -> None:
        # On chat (asked explicitly: auto sends image-only models the Image API serves there).
        result = client.generate("a poster", model="offline/poster", api="chat")
        assert posts(server)[0].json["modalities"] == ["image"]
        assert result.text == "" and result.image.size == (1024, 1024)

    def test_no_key_sends_no_authorization(self, server: LocalServer) -> None:
        with ig.Client(api_key="", base_url=server.base_url) as c:
            c.generate("x", model="offline/sketch")
        assert all("authorization" not in {k.lower() for k in r.headers} for r in server.requests)

    def test_extra_body_and_build_request_sends_nothing(self, client: ig.Client, server: LocalServer) -> None:
        body = client.build_request("x", "offline/sketch", extra_body={"user": "u-1"})
        assert body["user"] == "u-1" and not posts(server)

    def test_empty_prompt_is_refused_before_sending(self, client: ig.Client, server: LocalServer) -> None:
        with pytest.raises(ig.InvalidInputError, match="prompt is empty"):
            client.generate("   ", model="offline/sketch")
        assert len(server.requests) == 0


class TestInputImages:
    def test_every_input_kind_becomes_an_image_url_part(self, client: ig.Client, server: LocalServer,
                                                        tmp_path: Path) -> None:
        pil = Image.new("RGB", (64, 48), "green")
        buf = io.BytesIO()
        pil.save(buf, "PNG")
        path = tmp_path / "in.png"
        path.write_bytes(buf.getvalue())
        first = client.generate("base", model="offline/editor")
        result = client.generate("make it purple", model="offline/editor",
                                 images=[pil, buf.getvalue(), path, first.generated[0]])
        content = posts(server)[-1].json["messages"][0]["content"]
        assert content[0] == {"type": "text", "text": "make it purple"}
        urls = [part["image_url"]["url"] for part in content[1:]]
        assert len(urls) == 4 and all(u.startswith("data:image/png;base64,") for u in urls)
        assert result.params["input_images"] == 4 and result.image.size[0] > 0

    def test_model_without_image_input_fails_before_the_request(self, client: ig.Client,
                                                                server: LocalServer) -> None:
        with pytest.raises(ig.ModelCapabilityError) as info:
            client.generate("edit", model="offline/poster", images=Image.new("RGB", (4, 4)))
        assert "offline/editor" in info.value.alternatives and not posts(server)

    @pytest.mark.parametrize("bad", ["/no/such/file.png", b"not an image", 42])
    def test_unusable_inputs(self, client: ig.Client, bad: object) -> None:
        with pytest.raises(ig.InvalidInputError):
            client.generate("edit", model="offline/editor", images=bad)


class TestModels:
    def test_lists_image_models_and_caches(self, client: ig.Client, server: LocalServer) -> None:
        models = client.models()
        ids = [m.id for m in models]
        assert "offline/sketch" in ids and "offline/poster" in ids
        assert "openrouter/auto" not in ids and "offline/chat" not in ids
        assert all(m.outputs_images for m in models)
        listing = [r for r in server.requests if r.path == "/api/v1/models"]
        assert len(listing) == 1 and listing[0].query.get("output_modalities") in ("image", ["image"])
        assert len([r for r in server.requests if r.path == "/api/v1/images/models"]) == 1
        client.models()
        assert len([r for r in server.requests if r.path.endswith("/models")]) == 2
        client.models(refresh=True)
        assert len([r for r in server.requests if r.path.endswith("/models")]) == 4

    def test_model_info_fields(self, client: ig.Client) -> None:
        info = {m.id: m for m in client.models()}
        sketch, poster = info["offline/sketch"], info["offline/poster"]
        assert sketch.accepts_images is False or "image" in sketch.input_modalities
        assert poster.image_only and not sketch.image_only
        price = client.price("offline/sketch")  # from its endpoints record's price line
        assert (price.usd, price.basis) == (0.039, "price line")

    def test_text_model_names_image_alternatives(self, client: ig.Client, server: LocalServer) -> None:
        with pytest.raises(ig.ModelCapabilityError) as info:
            client.generate("x", model="offline/chat")
        assert "offline/sketch" in info.value.alternatives and not posts(server)

    def test_unknown_model_suggests_close_ids(self, client: ig.Client) -> None:
        with pytest.raises(ig.NotFoundError) as info:
            client.generate("x", model="offline/skech")
        assert info.value.suggestions[0] == "offline/sketch" and "Did you mean" in str(info.value)

    def test_without_checks_the_server_decides(self, server: LocalServer) -> None:
        with ig.Client(base_url=server.base_url, check_models=False) as c, \
                pytest.raises(ig.ImageGenError):
            c.generate("x", model="offline/skech")
        assert not [r for r in server.requests if r.path.endswith("/models")]


class TestRetries:
    def test_429_honours_retry_after(self, retrying: ig.Client, server: LocalServer,
                                     sleeps: Sleeps) -> None:
        server.faults.push(Fault("429", retry_after=2.5), times=2)
        result = retrying.generate("x", model="offline/sketch")
        assert sleeps == [2.5, 2.5] and len(posts(server)) == 3 and result.image

    def test_retry_after_is_capped(self, server: LocalServer, sleeps: Sleeps) -> None:
        server.faults.push(Fault("429", retry_after=3600))
        with ig.Client(base_url=server.base_url, sleep=sleeps, max_retry_delay=5) as c:
            c.generate("x", model="offline/sketch")
        assert sleeps == [5]

    @pytest.mark.parametrize("status", ["408", "502", "503", "524", "529"])
    def test_retryable_statuses_back_off(self, retrying: ig.Client, server: LocalServer,
                                         sleeps: Sleeps, status: str) -> None:
        server.faults.push(Fault(status))
        retrying.generate("x", model="offline/sketch")
        assert len(posts(server)) == 2 and len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5

    @pytest.mark.parametrize(("status", "cls"), [
        ("400", ig.BadRequestError), ("401", ig.AuthenticationError),
        ("402", ig.InsufficientCreditsError), ("403", ig.ModerationError),
    ])
    def test_client_errors_are_never_retried(self, retrying: ig.Client, server: LocalServer,
                                             sleeps: Sleeps, status: str, cls: type) -> None:
        server.faults.push(Fault(status), times=5)
        with pytest.raises(cls) as info:
            retrying.generate("x", model="offline/sketch")
        assert len(posts(server)) == 1 and sleeps == [] and info.value.status == int(status)

    def test_gives_up_after_max_retries(self, retrying: ig.Client, server: LocalServer,
                                        sleeps: Sleeps) -> None:
        server.faults.push(Fault("429", retry_after=1), times=10)
        with pytest.raises(ig.RateLimitError) as info:
            retrying.generate("x", model="offline/sketch")
        assert len(posts(server)) == 4 and sleeps == [1, 1, 1]
        assert info.value.metadata["attempts"] == 4 and info.value.retry_after == 1

    def test_provider_error_carries_raw(self, server: LocalServer) -> None:
        server.faults.push(Fault("502"), times=5)
        with ig.Client(base_url=server.base_url, max_retries=0) as c, \
                pytest.raises(ig.ProviderError) as info:
            c.generate("x", model="offline/sketch")
        assert info.value.raw and info.value.provider_name

    def test_connection_refused(self, sleeps: Sleeps) -> None:
        with LocalServer(port=0) as srv:
            url = srv.base_url
        with ig.Client(base_url=url, sleep=sleeps, max_retries=1, check_models=False) as c, \
                pytest.raises(ig.APIConnectionError):
            c.generate("x", model="offline/sketch")
        assert len(sleeps) == 1

    def test_read_timeout_is_typed_and_not_retried(self, server: LocalServer, sleeps: Sleeps) -> None:
        server.faults.push(Fault("slow", delay=2))
        with ig.Client(base_url=server.base_url, timeout=(2, 0.3), sleep=sleeps) as c:
            c.models()
            with pytest.raises(ig.RequestTimeoutError):
                c.generate("x", model="offline/sketch")
        assert sleeps == []


class TestResponses:
    def test_error_inside_http_200(self, client: ig.Client, server: LocalServer) -> None:
        server.faults.push(Fault("error-200"))
        with pytest.raises(ig.APIError) as info:
            client.generate("x", model="offline/sketch")
        assert info.value.status == 200

    def test_error_on_a_choice(self, client: ig.Client, server: LocalServer) -> None:
        server.faults.push(Fault("choice-error"))
        with pytest.raises(ig.ProviderError):
            client.generate("x", model="offline/sketch")

    def test_no_image(self, client: ig.Client, server: LocalServer) -> None:
        server.faults.push(Fault("no-image"))
        with pytest.raises(ig.NoImageError) as info:
            client.generate("x", model="offline/sketch")
        assert info.value.finish_reason and "(3)" in str(info.value)

    @pytest.mark.parametrize("stream", [False, True])
    def test_bad_base64_names_the_image(self, client: ig.Client, server: LocalServer,
                                        stream: bool) -> None:
        server.faults.push(Fault("bad-base64"))
        with pytest.raises(ig.ImageDecodeError) as info:
            client.generate("x", model="offline/sketch", stream=stream)
        assert info.value.index == 0

    def test_multiple_images_and_formats(self, client: ig.Client) -> None:
        quartet = client.generate("four", model="offline/quartet")
        assert len(quartet.images) == 4 and [g.index for g in quartet.generated] == [0, 1, 2, 3]
        photo = client.generate("photo", model="offline/photo")
        webp = client.generate("webp", model="offline/webp")
        assert photo.generated[0].mime == "image/jpeg" and photo.image.format == "JPEG"
        assert webp.generated[0].mime == "image/webp" and webp.image.format == "WEBP"

    def test_result_fields(self, client: ig.Client) -> None:
        r = client.generate("a blue square", model="offline/thinker", seed=1)
        assert r.id and r.id.startswith("gen-") and r.provider and r.model == "offline/thinker"
        assert r.reasoning and r.finish_reason == "stop" and r.cost is not None and r.cost > 0
        assert r.usage.image_tokens > 0 and r.elapsed is not None and r.prompt == "a blue square"
        # Decoded pixels are real and deterministic for the same seed.
        again = client.generate("a blue square", model="offline/thinker", seed=1)
        assert again.generated[0].data == r.generated[0].data


class TestStreaming:
    def test_events_and_result(self, client: ig.Client, server: LocalServer) -> None:
        events: list[ig.StreamEvent] = []
        result = client.generate("a red circle", model="offline/thinker", stream=True,
                                 on_event=events.append)
        kinds = [e.kind for e in events]
        assert kinds[0] == "keepalive" and kinds[-1] == "done" and kinds.count("image") == 1
        assert "reasoning" in kinds and "text" in kinds
        assert kinds.index("reasoning") < kinds.index("image")
        text = "".join(e.text for e in events if e.kind == "text")
        assert text == result.text and result.reasoning
        image_event = next(e for e in events if e.kind == "image")
        assert image_event.image is not None and image_event.image.data == result.generated[0].data
        assert posts(server)[0].json["stream"] is True and result.cost is not None

    def test_iterator_api(self, client: ig.Client) -> None:
        events = list(client.stream("three stars", model="offline/quartet"))
        assert [e.kind for e in events].count("image") == 4
        assert events[-1].result is not None and len(events[-1].result.images) == 4

    def test_cut_stream_never_yields_a_broken_image(self, client: ig.Client, server: LocalServer) -> None:
        server.faults.push(Fault("cut-stream"))
        seen: list[str] = []
        with pytest.raises(ig.IncompleteStreamError):
            client.generate("x", model="offline/sketch", stream=True, on_event=lambda e: seen.append(e.kind))
        assert "image" not in seen and "done" not in seen

    def test_mid_stream_error(self, client: ig.Client, server: LocalServer) -> None:
        server.faults.push(Fault("stream-error"))
        with pytest.raises(ig.RateLimitError) as info:
            client.generate("x", model="offline/sketch", stream=True)
        assert info.value.status == 200 and info.value.request_id

    def test_pre_stream_errors_are_retried(self, retrying: ig.Client, server: LocalServer,
                                           sleeps: Sleeps) -> None:
        server.faults.push(Fault("503", retry_after=0.25))
        events = list(retrying.stream("x", model="offline/sketch"))
        assert events[0].kind == "retry" and events[0].delay == 0.25 and sleeps == [0.25]
        assert events[-1].result is not None

    def test_keepalives_while_slow(self, client: ig.Client, server: LocalServer) -> None:
        server.faults.push(Fault("slow", delay=1.2))
        events = list(client.stream("x", model="offline/sketch"))
        assert sum(e.kind == "keepalive" for e in events) >= 2

    def test_cancel_stops_a_slow_generation(self, client: ig.Client, server: LocalServer) -> None:
        server.faults.push(Fault("slow", delay=30))
        client.models()
        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        started = time.perf_counter()
        with pytest.raises(ig.CancelledError):
            client.generate("x", model="offline/sketch", cancel=cancel)
        assert time.perf_counter() - started < 10  # at the cancel, not after the 30 s answer

    @pytest.mark.parametrize("stream", [False, True])
    def test_cancel_before_headers(self, client: ig.Client, server: LocalServer, stream: bool) -> None:
        server.faults.push(Fault("slow", delay=30))
        client.models()
        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        started = time.perf_counter()
        with pytest.raises(ig.CancelledError):
            client.generate("x", model="offline/sketch", cancel=cancel, stream=stream)
        assert time.perf_counter() - started < 10  # at the cancel, not after the 30 s answer


class TestSecrets:
    def test_key_never_in_errors_or_reprs(self, server: LocalServer) -> None:
        server.faults.push(Fault("401", message=f"User not found for {KEY}"))
        with ig.Client(api_key=KEY, base_url=server.base_url) as c:
            assert KEY not in repr(c) and "key=set" in repr(c)
            with pytest.raises(ig.AuthenticationError) as info:
                c.generate("x", model="offline/sketch")
        err = info.value
        blob = " ".join([str(err), repr(err), err.message, json.dumps(err.metadata, default=str)])
        assert KEY not in blob and "OPENROUTER_API_KEY" in str(err)

    def test_pickled_results_do_not_carry_the_key(self, client: ig.Client) -> None:
        import pickle

        result = client.generate("x", model="offline/sketch")
        data = pickle.dumps(result)
        assert KEY.encode() not in data
        again = pickle.loads(data)
        assert again._client is None and again.generated[0].data == result.generated[0].data

    def test_key_never_in_results_or_saved_files(self, client: ig.Client, tmp_path: Path) -> None:
        result = client.generate("x", model="offline/photo")
        paths = result.save(tmp_path)
        blob = repr(result) + json.dumps(result.metadata(), default=str)
        blob += "".join(p.read_bytes().decode("latin-1") for p in tmp_path.iterdir())
        assert KEY not in blob and len(paths) == 1


class TestDefaultClient:
    def test_offline_fallback_says_so_once(self, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
        from jupyter_imagegen import _api as _default

        monkeypatch.setattr(_default, "_server", None)  # as in a fresh kernel
        first = ig.generate("a yellow sun", model="offline/sketch")
        second = ig.generate("a green tree")
        err = capsys.readouterr().err
        assert err.count("offline mode") == 1 and "OPENROUTER_API_KEY" in err
        assert ig.is_offline() and first.image.size == (1024, 1024)
        assert second.model == "google/gemini-2.5-flash-image"
        assert "offline/sketch" in [m.id for m in ig.models()]
        _default._server.stop()

    def test_environment_configures_the_default(self, server: LocalServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OPENROUTER_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
        ig.generate("x", model="offline/sketch")
        assert not ig.is_offline()
        assert posts(server)[0].headers.get("Authorization") == f"Bearer {KEY}"


def test_connections_are_reused_streaming_or_not(client: ig.Client,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    client.models()  # the first connection
    with caplog.at_level("DEBUG", logger="urllib3.connectionpool"):
        for stream in (True, False, True, True, False):
            client.generate("x", model="offline/sketch", stream=stream)
    # This thread's connections only: the ledger looks pending charges of earlier tests up on
    # its own thread (and its own connections) in the background.
    opened = [r.getMessage() for r in caplog.records if r.thread == threading.get_ident()
              and ("Starting new" in r.getMessage() or "Resetting dropped" in r.getMessage())]
    assert opened == []  # each new connection would be a TLS handshake on the real service


class TestClientWithNothingConfigured:
    """``ig.Client(...)`` with no key and no base URL behaves as ``ig.generate``: offline, said once."""

    def test_every_readme_client_example_runs_offline(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        import re

        from jupyter_imagegen import _api as _default
        from jupyter_imagegen._results.labels import is_offline_client

        readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
        examples = sorted(set(re.findall(r"`(ig\.Client\((?:[^`()]|\([^`()]*\))+\))`", readme))
                          - {"ig.Client(...)"})
        assert len(examples) >= 3, examples  # cache=True, store=..., spend_limit=...
        monkeypatch.chdir(tmp_path)  # store="my-images" lands here
        monkeypatch.setenv("JUPYTER_IMAGEGEN_CACHE", str(tmp_path / "cache"))
        monkeypatch.setattr(_default, "_server", None)  # as in a fresh kernel
        try:
            for example in examples:
                with eval(example, {"ig": ig}) as client:
                    started = time.monotonic()
                    result = client.generate("a red circle", "offline/sketch")
                    assert time.monotonic() - started < 5, example
                    assert client.base_url.startswith("http://127.0.0.1:"), example
                    assert is_offline_client(client) and not client.has_key and result.offline
            err = capsys.readouterr().err
            assert err.count("offline mode") == 1, err  # said once, for all of them
        finally:
            if _default._server is not None:
                _default._server.stop()

    def test_online_and_explicit_settings_stay_as_given(self, server: LocalServer) -> None:
        from jupyter_imagegen._results.labels import is_offline_client

        with ig.online() as online:  # explicitly OpenRouter: never the local fallback
            assert online.base_url == "https://openrouter.ai/api/v1" and not is_offline_client(online)
        with ig.Client(base_url=server.base_url) as given:
            assert given.base_url == server.base_url and not is_offline_client(given)
