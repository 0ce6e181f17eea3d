"""The SSE decoder and the data-URL parser, with examples and hypothesis."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from jupyter_imagegen import ImageDecodeError, ImageGenError
from jupyter_imagegen._wire.dataurl import decode_data_url, encode_data_url, sniff_mime
from jupyter_imagegen._wire.sse import SSEDecoder, encode_sse, iter_sse


@pytest.fixture(scope="module", params=["pybase64", "stdlib"])
def decoder(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every data-URL test runs with pybase64 and with the stdlib fallback (an install without it)."""
    from jupyter_imagegen._wire import dataurl as _dataurl

    saved = _dataurl._FAST_B64DECODE
    assert saved is not None, "pybase64 is a dependency: the fast path must be the one tested"
    if request.param == "stdlib":
        _dataurl._FAST_B64DECODE = None
    try:
        yield request.param
    finally:
        _dataurl._FAST_B64DECODE = saved


def image_bytes(fmt: str, size: tuple[int, int] = (5, 4)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, fmt)
    return buf.getvalue()


class TestSSE:
    STREAM = (b": OPENROUTER PROCESSING\n\n"
              b"data: {\"a\": 1}\n\n"
              b": OPENROUTER PROCESSING\r\n\r\n"
              b"data: line one\r\ndata: line two\r\n\r\n"
              b"event: custom\nid: 7\nretry: 1500\ndata:no-space\n\n"
              b"data: [DONE]\n\n")

    def expected(self) -> list[tuple[str | None, str]]:
        return [("OPENROUTER PROCESSING", ""), (None, '{"a": 1}'), ("OPENROUTER PROCESSING", ""),
                (None, "line one\nline two"), (None, "no-space"), (None, "[DONE]")]

    def decode(self, chunks: list[bytes]) -> list[tuple[str | None, str]]:
        return [(e.comment, e.data) for e in iter_sse(chunks)]

    def test_whole_stream(self) -> None:
        assert self.decode([self.STREAM]) == self.expected()

    @pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
    def test_any_chunking_gives_the_same_events(self, size: int) -> None:
        chunks = [self.STREAM[i:i + size] for i in range(0, len(self.STREAM), size)]
        assert self.decode(chunks) == self.expected()

    def test_event_fields(self) -> None:
        events = [e for e in iter_sse([self.STREAM]) if e.data == "no-space"]
        assert events[0].event == "custom" and events[0].id == "7" and events[0].retry == 1500

    def test_cr_split_across_chunks_is_one_line_end(self) -> None:
        assert self.decode([b"data: x\r", b"\n\r", b"\ndata: y\n\n"]) == [(None, "x"), (None, "y")]

    def test_pending_reports_a_cut_event(self) -> None:
        d = SSEDecoder()
        assert d.feed(b'data: {"images": "data:image/png;base64,iVBO') == []
        assert d.pending
        d2 = SSEDecoder()
        d2.feed(b"data: complete\n\n")
        assert not d2.pending

    def test_multi_megabyte_event_in_small_chunks(self) -> None:
        payload = "A" * 3_000_000
        raw = encode_sse(payload)
        d = SSEDecoder()
        events = []
        for i in range(0, len(raw), 16 * 1024):
            events += d.feed(raw[i:i + 16 * 1024])
        assert [len(e.data) for e in events] == [3_000_000]

    def test_encode_roundtrip(self) -> None:
        raw = encode_sse("a\nb") + encode_sse(comment="KEEP") + encode_sse("[DONE]")
        assert self.decode([raw]) == [(None, "a\nb"), ("KEEP", ""), (None, "[DONE]")]

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=400), st.integers(min_value=1, max_value=50))
    def test_never_raises_and_chunking_never_matters(self, data: bytes, size: int) -> None:
        whole = [(e.comment, e.data, e.event) for e in iter_sse([data])]
        parts = [(e.comment, e.data, e.event)
                 for e in iter_sse([data[i:i + size] for i in range(0, len(data), size)])]
        assert whole == parts


    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.sampled_from([b"data: ", b"data:", b"data:  ", b"dat", b": c", b"event: e",
                                     b"id: 1", b""]) .flatmap(
        lambda head: st.tuples(st.just(head), st.binary(max_size=40).map(
            lambda b: b.replace(b"\n", b"").replace(b"\r", b"")))), max_size=12),
        st.integers(min_value=1, max_value=30), st.sampled_from([b"\n", b"\r\n", b"\r"]))
    def test_data_lines_split_anywhere_decode_alike(self, lines: list[tuple[bytes, bytes]],
                                                    size: int, end: bytes) -> None:
        data = b"".join(head + rest + end for head, rest in lines) + end
        whole = [(e.comment, e.raw, e.event, e.id) for e in iter_sse([data])]
        parts = [(e.comment, e.raw, e.event, e.id)
                 for e in iter_sse([data[i:i + size] for i in range(0, len(data), size)])]
        assert whole == parts

    @pytest.mark.parametrize("size", [3, 5, 6, 7, 1000])
    def test_the_event_limit_counts_the_same_however_the_line_arrives(self, size: int) -> None:
        raw = b"data: " + b"A" * 94 + b"\n\n"  # exactly 100 bytes of data line
        for limit, fits in ((100, True), (99, False)):
            d = SSEDecoder(max_event_bytes=limit)
            if fits:
                events = [e for i in range(0, len(raw), size) for e in d.feed(raw[i:i + size])]
                assert [len(e.raw) for e in events] == [94]
            else:
                with pytest.raises(ImageGenError, match="larger than 99"):
                    [d.feed(raw[i:i + size]) for i in range(0, len(raw), size)]


@pytest.mark.usefixtures("decoder")
class TestDataURL:
    @pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                               ("WEBP", "image/webp"), ("GIF", "image/gif")])
    def test_formats_decode_to_their_real_mime(self, fmt: str, mime: str) -> None:
        data = image_bytes(fmt)
        assert decode_data_url(encode_data_url(data)) == (mime, data)
        # A wrong or missing declared mime is corrected from the magic bytes.
        b64 = base64.b64encode(data).decode()
        assert decode_data_url(f"data:image/png;base64,{b64}")[0] == mime
        assert decode_data_url(f"data:;base64,{b64}")[0] == mime
        assert Image.open(io.BytesIO(decode_data_url(f"data:;base64,{b64}")[1])).size == (5, 4)

    def test_tolerates_line_breaks_and_missing_padding(self) -> None:
        b64 = base64.b64encode(image_bytes("PNG")).decode()
        wrapped = "\n".join(b64[i:i + 60] for i in range(0, len(b64), 60)).rstrip("=")
        assert decode_data_url(f"data:image/png;base64,{wrapped}")[0] == "image/png"

    def test_bad_base64_names_the_index(self) -> None:
        with pytest.raises(ImageDecodeError) as info:
            decode_data_url("data:image/png;base64,iVBORw0KGgo!!!not*base64", index=2)
        assert info.value.index == 2 and "image 2" in str(info.value) and "base64" in str(info.value)

    @pytest.mark.parametrize("url", ["https://x.test/a.png", "data:image/png;base64,", "",
                                     "data:text/plain;base64,aGVsbG8=", "data:image/png,notanimage"])
    def test_not_an_image(self, url: str) -> None:
        with pytest.raises(ImageDecodeError):
            decode_data_url(url)

    def test_sniff(self) -> None:
        assert sniff_mime(b"<svg xmlns='x'></svg>") == "image/svg+xml"
        assert sniff_mime(b"nothing") is None

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=200))
    def test_never_raises_outside_the_tree_on_text(self, text: str) -> None:
        for url in (text, "data:" + text, "data:image/png;base64," + text):
            try:
                decode_data_url(url)
            except ImageGenError:
                pass

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=200))
    def test_never_raises_outside_the_tree_on_bytes(self, data: bytes) -> None:
        try:
            decode_data_url("data:image/png;base64," + base64.b64encode(data).decode())
        except ImageGenError:
            pass


@pytest.mark.usefixtures("decoder")
class TestLiftDataURLs:
    def body(self, url: str, **extra: object) -> bytes:
        import json

        return json.dumps({"choices": [{"message": {"content": "hi", "images": [
            {"type": "image_url", "image_url": {"url": url}}]}}], **extra}).encode()

    def test_lifted_urls_decode_like_the_parsed_ones(self) -> None:
        import json

        from jupyter_imagegen._wire.dataurl import lift_data_urls

        data = image_bytes("PNG", (300, 300))
        url = encode_data_url(data)
        body = self.body(url)
        text, lifted = lift_data_urls(body, min_size=100)
        obj = json.loads(text)
        token = obj["choices"][0]["message"]["images"][0]["image_url"]["url"]
        assert len(text) < 300 and list(lifted) == [token]
        assert decode_data_url(lifted[token]) == decode_data_url(url) == ("image/png", data)
        assert obj["choices"][0]["message"]["content"] == "hi"

    @pytest.mark.parametrize("content", [
        'he wrote \\"data:AAAA', "a \\\\ backslash", '\\"data:' + "A" * 300 + '\\" quoted',
    ])
    def test_only_url_values_are_lifted(self, content: str) -> None:
        import json

        from jupyter_imagegen._wire.dataurl import lift_data_urls

        body = ('{"text": "' + content + '", "url": "data:image/png;base64,' + "A" * 400 + '"}').encode()
        text, lifted = lift_data_urls(body, min_size=100)
        parsed = json.loads(text)
        assert parsed["text"] == json.loads(body)["text"]
        assert len(lifted) == 1 and bytes(lifted[parsed["url"]]).endswith(b"A" * 400)

    @pytest.mark.parametrize("body", [
        b'{"content": "data:text/plain,' + b"A" * 400 + b'"}',  # not a url value: kept
        b'{"url": "data:image/png;base64,' + b"A" * 200 + b"\n" + b"A" * 200 + b'"}',  # raw control
        b'{"url": "data:image/png;base64,' + "é".encode() * 200 + b'"}',  # not base64
        b'{"x\\"url": "data:image/png;base64,' + b"A" * 400 + b'"}',  # key only ends in url
        b'{"data:' + b"A" * 400 + b'"' + b" " * 100 + b': 1}',  # a long key
    ])
    def test_everything_else_is_left_to_the_parser(self, body: bytes) -> None:
        from jupyter_imagegen._wire.dataurl import lift_data_urls

        assert lift_data_urls(body, min_size=100) == (body, {})

    def test_escaped_urls_stay_with_the_parser(self) -> None:
        from jupyter_imagegen._wire.dataurl import lift_data_urls

        body = b'{"url": "data:image\\/png;base64,' + b"A" * 400 + b'"}'
        assert lift_data_urls(body, min_size=100) == (body, {})

    def test_small_strings_stay(self) -> None:
        from jupyter_imagegen._wire.dataurl import lift_data_urls

        body = self.body("data:image/png;base64,AAAA")
        assert lift_data_urls(body) == (body, {})

    @settings(max_examples=300, deadline=None)
    @given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30)
                        | st.just("data:image/png;base64," + "QUJD" * 40)
                        | st.builds(lambda s: "data:" + s, st.text(min_size=20, max_size=200)),
                        lambda children: st.lists(children, max_size=4)
                        | st.dictionaries(st.text(max_size=8) | st.just("data:" + "k" * 20)
                                          | st.just("url"), children, max_size=4),
                        max_leaves=12))
    def test_parsing_after_lifting_equals_parsing(self, value: object) -> None:
        import json

        from jupyter_imagegen._wire.dataurl import lift_data_urls

        for ensure_ascii in (True, False):
            body = json.dumps(value, ensure_ascii=ensure_ascii).encode()
            text, lifted = lift_data_urls(body, min_size=16)

            def restore(v: object, lifted: dict = lifted) -> object:
                if isinstance(v, str) and v in lifted:
                    return bytes(lifted[v]).decode()
                if isinstance(v, list):
                    return [restore(x) for x in v]
                if isinstance(v, dict):
                    return {k: restore(x) for k, x in v.items()}
                return v

            assert restore(json.loads(text)) == value


@pytest.mark.usefixtures("decoder")
@pytest.mark.parametrize(("value", "plain"), [
    ("data:image/png;base64," + "QUJD" * 20_000, True),
    ('data:image/png;x="1";base64,' + "QUJD" * 20_000, False),  # a quote needs escaping
    ("data:image/png;x=\\;base64," + "QUJD" * 20_000, False),  # so does a backslash
    ("data:image/png;base64," + "QUJD" * 20_000 + "\n", False),  # a line break in the payload
    ("QUJD" * 20_000, True),  # the Image API's bare b64_json
])
def test_what_the_server_splices_is_what_json_would_write(value: str, plain: bool) -> None:
    import json

    from jupyter_imagegen._wire.dataurl import is_base64, plain_data_url
    from jupyter_imagegen.server._chat import dump_parts

    raw = value.encode()
    assert (plain_data_url(raw) if value.startswith("data:") else is_base64(raw)) is plain
    parts = dump_parts({"url": value})
    assert json.loads(b"".join(parts)) == {"url": value}
    assert (len(parts) > 1) is plain  # spliced in as its own piece only when plain
