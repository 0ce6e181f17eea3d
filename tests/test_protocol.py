"""The pure protocol layer on JSON fixtures written from the protocol notes."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from jupyter_imagegen import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ImageGenError,
    InsufficientCreditsError,
    ModerationError,
    NoImageError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ResponseError,
)
from jupyter_imagegen._wire import chat as p
from jupyter_imagegen._wire import errors, sizes


def png_bytes(size: tuple[int, int] = (8, 6), color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


# A recorded-shape response (protocol notes §2), with a real tiny PNG in place of the elided base64.
RECORDED = {
    "id": "gen-1764926649-tF4W3t4FuuPsXb0VBWLB",
    "provider": "Google AI Studio",
    "model": "google/gemini-2.5-flash-image",
    "object": "chat.completion",
    "created": 1764926649,
    "choices": [{
        "logprobs": None, "finish_reason": "stop", "native_finish_reason": "STOP", "index": 0,
        "message": {"role": "assistant", "content": "", "refusal": None, "reasoning": None,
                    "images": [{"type": "image_url", "image_url": {"url": data_url(png_bytes())},
                                "index": 0}]},
    }],
    "usage": {"prompt_tokens": 12, "completion_tokens": 1290, "total_tokens": 1302,
              "cost": 0.0387036, "is_byok": False,
              "completion_tokens_details": {"reasoning_tokens": 0, "image_tokens": 1290}},
}


class TestBuildBody:
    def test_text_only_prompt_is_a_plain_string(self) -> None:
        body = p.build_chat_body("a cat", "m/x")
        assert body == {"model": "m/x", "messages": [{"role": "user", "content": "a cat"}],
                        "modalities": ["image", "text"]}

    def test_text_first_then_images_and_config(self) -> None:
        body = p.build_chat_body(
            "edit", "m/x", images=["data:image/png;base64,AAAA", "https://e.x/a.png"],
            modalities=["image"], aspect_ratio="16:9", image_size="2K",
            image_config={"style": "vivid"}, seed=7, stream=True, provider={"order": ["a"]},
            extra={"user": "u1"},
        )
        content = body["messages"][0]["content"]
        assert content[0] == {"type": "text", "text": "edit"}
        assert [c["image_url"]["url"] for c in content[1:]] == [
            "data:image/png;base64,AAAA", "https://e.x/a.png"]
        assert body["modalities"] == ["image"]
        assert body["image_config"] == {"style": "vivid", "aspect_ratio": "16:9", "image_size": "2K"}
        assert body["seed"] == 7 and body["stream"] is True
        assert body["provider"] == {"order": ["a"]} and body["user"] == "u1"

    def test_earlier_messages_come_first(self) -> None:
        turns = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
        body = p.build_chat_body("c", "m", messages=turns)
        assert [m["content"] for m in body["messages"]] == ["a", "b", "c"]

    def test_prompt_must_be_text(self) -> None:
        with pytest.raises(TypeError):
            p.build_chat_body(b"bytes", "m")  # type: ignore[arg-type]

    @pytest.mark.parametrize(("outputs", "expected"), [
        (["image", "text"], ["image", "text"]), (["image"], ["image"]),
        (["text", "image"], ["image", "text"]),
    ])
    def test_modalities_follow_output_modalities(self, outputs: list[str], expected: list[str]) -> None:
        assert p.modalities_for(outputs) == expected

    def test_pixel_sizes_match_the_documented_table(self) -> None:
        assert sizes.pixel_size() == (1024, 1024)
        assert sizes.pixel_size("16:9") == (1344, 768)
        assert sizes.pixel_size("21:9", "2K") == (3072, 1344)


class TestParse:
    def test_recorded_response(self) -> None:
        c = p.parse_chat_completion(RECORDED)
        assert c.id == "gen-1764926649-tF4W3t4FuuPsXb0VBWLB"
        assert c.provider == "Google AI Studio" and c.model == "google/gemini-2.5-flash-image"
        assert c.text == "" and c.finish_reason == "stop" and c.native_finish_reason == "STOP"
        assert c.usage.cost == pytest.approx(0.0387036) and c.usage.image_tokens == 1290
        assert len(c.images) == 1 and c.images[0].url.startswith("data:image/png;base64,")

    def test_type_and_index_are_optional_and_content_may_be_null_or_parts(self) -> None:
        body = {"choices": [{"message": {"content": [{"type": "text", "text": "Here "}, "you go"],
                                         "images": [{"image_url": {"url": "data:x"}},
                                                    {"image_url": "data:y"}]}}]}
        c = p.parse_chat_completion(body)
        assert c.text == "Here you go"
        assert [(i.url, i.index) for i in c.images] == [("data:x", 0), ("data:y", 1)]
        body["choices"][0]["message"]["content"] = None
        assert p.parse_chat_completion(body).text == ""

    def test_no_images_raises_with_the_three_causes_and_the_models_text(self) -> None:
        body = {"id": "gen-1", "choices": [{"message": {"content": "I can only describe it."},
                                            "finish_reason": "stop", "native_finish_reason": "STOP"}]}
        with pytest.raises(NoImageError) as info:
            p.parse_chat_completion(body).require_images()
        msg = str(info.value)
        assert "(1)" in msg and "(2)" in msg and "(3)" in msg
        assert "I can only describe it." in msg and "finish_reason='stop'" in msg
        assert info.value.request_id == "gen-1"

    def test_top_level_error_inside_http_200(self) -> None:
        body = {"error": {"code": 429, "message": "Rate limit exceeded",
                          "metadata": {"retry_after_seconds": 3}}}
        with pytest.raises(RateLimitError) as info:
            p.parse_chat_completion(body, status=200)
        assert info.value.retry_after == 3 and info.value.status == 200

    def test_error_on_a_choice(self) -> None:
        body = {"id": "gen-2", "choices": [{"finish_reason": "error", "message": {"content": ""},
                "error": {"code": 502, "message": "Provider returned error",
                          "metadata": {"error_type": "provider_unavailable"}}}]}
        with pytest.raises(ProviderError) as info:
            p.parse_chat_completion(body)
        assert info.value.request_id == "gen-2"

    def test_not_an_object(self) -> None:
        with pytest.raises(ResponseError):
            p.parse_chat_completion([1, 2])
        with pytest.raises(ResponseError):
            p.parse_chat_completion({"choices": []})


class TestStream:
    def chunk(self, **delta: object) -> str:
        return json.dumps({"id": "gen-s", "model": "m", "provider": "P", "object": "chat.completion.chunk",
                           "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})

    def test_assembles_text_images_and_last_usage(self) -> None:
        acc = p.StreamAccumulator()
        assert acc.add_data(self.chunk(role="assistant", content="Here")).text == "Here"
        update = acc.add_data(self.chunk(images=[{"type": "image_url", "image_url": {"url": "data:a"}}]))
        assert update is not None and [i.url for i in update.images] == ["data:a"]
        acc.add_data(json.dumps({"choices": [{"delta": {"content": "!"}, "finish_reason": "stop",
                                              "native_finish_reason": "STOP"}]}))
        acc.add_data(json.dumps({"choices": [], "usage": {"cost": 0.5, "total_tokens": 9}}))
        assert acc.add_data("[DONE]") is None and acc.done
        c = acc.result()
        assert (c.id, c.text, c.finish_reason, c.native_finish_reason) == ("gen-s", "Here!", "stop", "STOP")
        assert c.usage.cost == 0.5 and [i.index for i in c.images] == [0]

    def test_mid_stream_error_chunk_raises_mapped_error(self) -> None:
        acc = p.StreamAccumulator()
        acc.add_data(self.chunk(content="a"))
        bad = {"id": "gen-s", "object": "chat.completion.chunk",
               "error": {"code": 429, "message": "Rate limit exceeded",
                         "metadata": {"error_type": "rate_limit_exceeded"}},
               "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}
        with pytest.raises(RateLimitError) as info:
            acc.add_data(json.dumps(bad))
        assert info.value.request_id == "gen-s"

    def test_finish_reason_error_without_envelope(self) -> None:
        acc = p.StreamAccumulator()
        with pytest.raises(ProviderError):
            acc.add_data(json.dumps({"choices": [{"delta": {}, "finish_reason": "error"}]}))

    def test_invalid_json_event(self) -> None:
        with pytest.raises(ResponseError):
            p.StreamAccumulator().add_data("{nope")


class TestErrors:
    @pytest.mark.parametrize(("status", "cls"), [
        (400, BadRequestError), (401, AuthenticationError), (402, InsufficientCreditsError),
        (403, PermissionDeniedError), (404, NotFoundError), (408, RequestTimeoutError),
        (413, BadRequestError), (422, BadRequestError), (429, RateLimitError), (500, ProviderError),
        (502, ProviderError), (503, ProviderError), (524, ProviderError), (529, ProviderError),
    ])
    def test_status_maps_to_class(self, status: int, cls: type[APIError]) -> None:
        err = errors.error_from_response(status, json.dumps(errors.error_body(status, "nope")).encode())
        assert type(err) is cls and err.status == status and err.code == status
        assert isinstance(err, ImageGenError)

    def test_moderation_carries_reasons(self) -> None:
        body = errors.error_body(403, "Input was flagged", {"reasons": ["violence"],
                                                      "flagged_input": "a...b", "provider_name": "X"})
        err = errors.error_from_response(403, json.dumps(body))
        assert isinstance(err, ModerationError)
        assert err.reasons == ["violence"] and err.flagged_input == "a...b" and "violence" in str(err)

    def test_provider_error_shows_raw_and_provider(self) -> None:
        body = errors.error_body(502, "Provider returned error",
                            {"raw": '{"error":"upstream exploded"}', "provider_name": "Google"})
        err = errors.error_from_response(502, json.dumps(body))
        assert isinstance(err, ProviderError)
        assert err.raw == '{"error":"upstream exploded"}' and err.provider_name == "Google"
        assert "upstream exploded" in str(err) and "Google" in str(err)

    def test_retry_after_header_and_metadata(self) -> None:
        body = json.dumps(errors.error_body(429, "slow down"))
        err = errors.error_from_response(429, body, retry_after="7")
        assert isinstance(err, RateLimitError) and err.retry_after == 7
        body = json.dumps(errors.error_body(429, "slow down", {"headers": {"Retry-After": "18"}}))
        err = errors.error_from_response(429, body)
        assert isinstance(err, RateLimitError) and err.retry_after == 18

    def test_model_not_found_string_code_and_lenient_shapes(self) -> None:
        err = errors.error_from_envelope({"error": {"code": "model_not_found", "message": "no such"}},
                                         status=400)
        assert isinstance(err, NotFoundError)
        err = errors.error_from_envelope({"error": {"error_type": "timeout", "http_status": 408,
                                               "message": "t"}})
        assert isinstance(err, RequestTimeoutError) and isinstance(err, TimeoutError)

    def test_non_json_error_body(self) -> None:
        err = errors.error_from_response(503, b"<html>Service Unavailable</html>")
        assert isinstance(err, ProviderError) and "Service Unavailable" in str(err)

    def test_401_hint_never_contains_a_key(self) -> None:
        body = errors.error_body(401, "Invalid key sk-or-v1-abcdef0123456789abcdef")
        err = errors.error_from_response(401, json.dumps(body))
        text = f"{err} {err!r} {err.message}"
        assert "abcdef0123456789" not in text and "OPENROUTER_API_KEY" in str(err)


class TestRetryDelay:
    def test_service_delay_wins_and_is_capped(self) -> None:
        assert errors.retry_delay(0, retry_after=3) == 3
        assert errors.retry_delay(5, retry_after=600, cap=60) == 60

    def test_exponential_backoff_with_downward_jitter(self) -> None:
        assert [errors.retry_delay(a, rand=lambda: 0.0) for a in range(6)] == [0.5, 1, 2, 4, 8, 8]
        assert errors.retry_delay(1, rand=lambda: 1.0) == pytest.approx(0.75)

    @pytest.mark.parametrize(("raw", "seconds"), [("5", 5.0), ("0.5", 0.5), (None, None),
                                                  ("Wed, 21 Oct 2015 07:28:00 GMT", None),
                                                  ("-1", None), ("nan", None), (True, None)])
    def test_parse_retry_after(self, raw: object, seconds: float | None) -> None:
        assert errors.parse_retry_after(raw) == seconds
