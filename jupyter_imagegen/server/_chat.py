"""Chat-completion answers: what the offline model "says", and its JSON and SSE shapes.

The shapes follow recorded OpenRouter traffic (see the protocol notes): ``provider``,
``native_finish_reason``, ``images[]`` items with ``type``/``index``, full ``usage`` with
``image_tokens`` and ``cost``. ``system_fingerprint`` follows the OpenAPI spec: required and
nullable on ``ChatResult`` (so ``null`` there), optional *string* on ``ChatStreamChunk`` (so
omitted from chunks: ``@openrouter/sdk`` rejects a ``null`` there).

Answers without an image come in the spec's shapes (OpenRouterTeam/docs openapi at c26125a5, as
generated into the ``openrouter`` SDK): text only (what public threads report from image models,
danny-avila/LibreChat#9514, BoltAI/BoltAI#398), ``message.refusal`` with ``content: null``
(``ChatAssistantMessage.refusal``, "Refusal message if content was refused"), or
``message.tool_calls`` with ``finish_reason: "tool_calls"`` (``ChatToolCall``,
``ChatFinishReasonEnum``). Each is billed for its tokens and carries ``usage.cost``, since
"OpenRouter automatically returns detailed usage information with every response" (docs
``usage-accounting.mdx``).
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from jupyter_imagegen._wire.dataurl import encode_data_url, is_base64, plain_data_url

from ._chat_validate import ChatRequest
from ._huge import huge_urls
from ._pricing import order_of, tokens_per_image
from ._render import RenderCache, encode_image, parse_prompt, render, seed_for

__all__ = ["PROVIDER", "Answer", "completion_json", "compose", "stream_chunks"]

PROVIDER = "jupyter-imagegen offline"
BAD_BASE64_URL = "data:image/png;base64,iVBORw0KGgo%%%%not*valid*base64!!"


#: What an answer without an image says instead (the ``refusal`` and ``tool-call`` faults).
REFUSAL = "I can't create that image."
TOOL = "generate_image"
#: The usage an OpenAI-compatible gateway passes on when it reports no cost: OpenAI's own
#: ``CompletionUsage`` (prompt, completion and total tokens, OpenAI API reference). The
#: ``no-cost`` fault answers with it, ``no-usage`` with no usage at all; both are still billed.
_OPENAI_USAGE = ("prompt_tokens", "completion_tokens", "total_tokens")


@dataclass(frozen=True)
class Answer:
    """The content of one reply, its usage as sent, and what the server bills for it."""

    text: str
    reasoning: str | None
    urls: tuple[str, ...]
    usage: dict[str, Any]
    refusal: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    #: The full usage the server bills, when the answer sends less (``no-cost``, ``no-usage``).
    bill: dict[str, Any] | None = None

    @property
    def billed_usage(self) -> dict[str, Any]:
        """The usage the server bills and records, whatever the answer sends."""
        return self.bill if self.bill is not None else self.usage

    @property
    def cost(self) -> float:
        """Simulated cost in USD (billed whether or not the usage sent says so)."""
        return float(self.billed_usage["cost"])

    @property
    def finish(self) -> str:
        """``finish_reason``: ``tool_calls`` for a tool call, else ``stop``."""
        return "tool_calls" if self.tool_calls else "stop"

    def unreported(self, kind: str) -> Answer:
        """The same answer with its usage cut to OpenAI's (``no-cost``) or left out (``no-usage``)."""
        usage = {k: self.usage[k] for k in _OPENAI_USAGE} if kind == "no-cost" else {}
        return replace(self, usage=usage, bill=self.billed_usage)


def _tokens(text: str | None) -> int:
    return math.ceil(len(text) / 4) if text else 0


def _texts(req: ChatRequest, images: bool, seed: int) -> tuple[str, str | None]:
    scene = parse_prompt(req.prompt)
    spec = req.spec
    width, height = req.size
    reasoning = None
    if spec.reasoning:
        reasoning = (f"**Planning the image**\n\nThe prompt asks for {scene.describe()}. "
                     f"I will lay the background out as a gradient, place the shapes with seed "
                     f"{seed}, and caption the result at {width}x{height}.")
    if not spec.makes_images:
        return (f"{spec.id} is a text-only offline model and cannot draw. You asked for: "
                f"{req.prompt.strip()!r} — that would show {scene.describe()}."), reasoning
    if not images:
        return (f"A picture of {req.prompt.strip()!r} would show {scene.describe()}. "
                "(No image was requested: send modalities [\"image\", \"text\"] to get one.)"
                ), reasoning
    if req.modalities is None or "text" not in req.modalities:
        return "", reasoning
    what = "four variations of" if spec.images > 1 else "an offline sketch of"
    edit = " (edited from your image)" if req.inputs else ""
    return f"Here is {what} {req.prompt.strip()!r}{edit}: {scene.describe()}.", reasoning


def _image_urls(req: ChatRequest, cache: RenderCache) -> tuple[str, ...]:
    urls = []
    for variant in range(req.spec.images):
        key = (req.spec.style, req.prompt, req.seed, req.size, req.inputs_digest, req.spec.mime,
               variant)

        def make(variant: int = variant) -> str:
            image = render(req.prompt, req.seed, req.size, variant=variant, inputs=req.inputs,
                           style=req.spec.style)
            raw = cache.finish(encode_image(image, req.spec.mime), req.spec.mime)
            return encode_data_url(raw, req.spec.mime)

        urls.append(cache.get(key, make))
    return tuple(urls)


def compose(req: ChatRequest, cache: RenderCache, *, drop_images: bool = False,
            bad_base64: bool = False, reply: str | None = None, huge: bool = False) -> Answer:
    """Render (or fetch from the cache) the reply to a valid request.

    ``reply`` ``"refusal"`` or ``"tool-call"`` answers with that instead of an image; ``huge``
    with the ``huge-images`` fault's sixteen 6000x6000 images.
    """
    seed = seed_for(req.prompt, req.seed)
    drop_images = drop_images or reply in ("refusal", "tool-call")
    images = req.wants_images and not drop_images
    text, reasoning = _texts(req, images, seed)
    if drop_images and req.wants_images:
        text = f"I could not draw {req.prompt.strip()!r} this time; here is a description instead."
    refusal, calls = _instead(req, reply)
    if refusal is not None or calls:
        text = ""
    urls = (huge_urls() if huge else _image_urls(req, cache)) if images else ()
    if bad_base64 and urls:
        urls = (BAD_BASE64_URL, *urls[1:])
    order = order_of(len(urls), req.size, req.image_size,
                     inputs=[image.size for image in req.inputs])
    per_image = tokens_per_image(req.spec.id, order)
    image_tokens = per_image * len(urls)
    prompt_tokens = max(1, _tokens(req.prompt)) + 258 * len(req.inputs)
    text_tokens = _tokens(text) + _tokens(reasoning) + _tokens(refusal) + _tokens(
        "".join(c["function"]["arguments"] for c in calls))
    prompt_cost, completion_cost = req.spec.cost(prompt_tokens, text_tokens, order, per_image)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": text_tokens + image_tokens,
        "total_tokens": prompt_tokens + text_tokens + image_tokens,
        "cost": round(prompt_cost + completion_cost, 10),
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "video_tokens": 0},
        "cost_details": {"upstream_inference_cost": None,
                         "upstream_inference_prompt_cost": prompt_cost,
                         "upstream_inference_completions_cost": completion_cost},
        "completion_tokens_details": {"reasoning_tokens": _tokens(reasoning),
                                      "image_tokens": image_tokens},
    }
    return Answer(text, reasoning, urls, usage, refusal, calls)


def _instead(req: ChatRequest, reply: str | None) -> tuple[str | None, tuple[dict[str, Any], ...]]:
    """The refusal text or the tool call an answer gives instead of an image (spec shapes)."""
    if reply == "refusal":
        return REFUSAL, ()
    if reply == "tool-call":
        call = {"id": f"call_{seed_for(req.prompt, req.seed):08x}", "type": "function",
                "function": {"name": TOOL, "arguments": json.dumps({"prompt": req.prompt})}}
        return None, (call,)
    return None, ()


def _images(urls: tuple[str, ...], start: int = 0) -> list[dict[str, Any]]:
    return [{"type": "image_url", "image_url": {"url": url}, "index": start + i}
            for i, url in enumerate(urls)]


def _head(gen_id: str, model: str, created: int, obj: str) -> dict[str, Any]:
    head: dict[str, Any] = {"id": gen_id, "provider": PROVIDER, "model": model, "object": obj,
                            "created": created}
    if obj == "chat.completion":  # required and nullable there; an optional string on chunks
        head["system_fingerprint"] = None
    return head


def completion_json(gen_id: str, created: int, req: ChatRequest, answer: Answer,
                    choice_error: dict[str, Any] | None = None) -> dict[str, Any]:
    """The non-streaming body; ``choice_error`` puts an error on the choice (HTTP 200)."""
    silent = answer.refusal is not None or bool(answer.tool_calls)
    message: dict[str, Any] = {"role": "assistant", "content": None if silent else answer.text,
                               "refusal": answer.refusal, "reasoning": answer.reasoning}
    if answer.urls:
        message["images"] = _images(answer.urls)
    if answer.tool_calls:
        message["tool_calls"] = list(answer.tool_calls)
    choice: dict[str, Any] = {"logprobs": None, "finish_reason": answer.finish,
                              "native_finish_reason": answer.finish.upper(), "index": 0,
                              "message": message}
    if choice_error is not None:
        choice.update(finish_reason="error", native_finish_reason="ERROR", error=choice_error)
    body = _head(gen_id, req.spec.id, created, "chat.completion")
    body["choices"] = [choice]
    if answer.usage:
        body["usage"] = answer.usage
    return body


def _split(text: str, parts: int = 3) -> list[str]:
    if not text:
        return []
    step = max(1, math.ceil(len(text) / parts))
    return [text[i:i + step] for i in range(0, len(text), step)]


def stream_chunks(gen_id: str, created: int, req: ChatRequest, answer: Answer,
                  error: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """The chunk objects of a stream, in order; ``error`` ends it early with an error chunk.

    Order: role, reasoning deltas, text deltas, one event per whole image, the finish chunk,
    then a usage chunk with no choices. (``data: [DONE]`` is the caller's job.)
    """
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        body = _head(gen_id, req.spec.id, created, "chat.completion.chunk")
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish,
                            "native_finish_reason": finish.upper() if finish else None,
                            "logprobs": None}]
        return body

    yield chunk({"role": "assistant", "content": ""})
    for piece in _split(answer.reasoning or ""):
        yield chunk({"role": "assistant", "content": "", "reasoning": piece})
    pieces = _split(answer.text)
    for piece in pieces[: len(pieces) // 2 + 1] if error else pieces:
        yield chunk({"role": "assistant", "content": piece})
    if error is not None:
        body = _head(gen_id, req.spec.id, created, "chat.completion.chunk")
        body["error"] = error
        body["choices"] = [{"index": 0, "delta": {"content": ""}, "finish_reason": "error",
                            "native_finish_reason": None, "logprobs": None}]
        yield body
        return
    for i, url in enumerate(answer.urls):
        yield chunk({"role": "assistant", "content": "", "images": _images((url,), i)})
    for piece in _split(answer.refusal or ""):
        yield chunk({"role": "assistant", "content": "", "refusal": piece})
    for i, call in enumerate(answer.tool_calls):
        yield chunk({"role": "assistant", "content": "", "tool_calls": [{"index": i, **call}]})
    yield chunk({"role": "assistant", "content": ""}, answer.finish)
    if not answer.usage:
        return
    final = _head(gen_id, req.spec.id, created, "chat.completion.chunk")
    final["choices"] = []
    final["usage"] = answer.usage
    yield final


_SPLICE_MIN = 32 * 1024
_RECENT: dict[int, tuple[str, bytes]] = {}  # id -> (value, its bytes): rendered images recur
_RECENT_MAX = 4
_RECENT_LOCK = threading.Lock()


def _splice_safe(value: str) -> bytes | None:
    """``value`` as ASCII bytes when it is long base64 (or a data URL of it), else None.

    Such text needs no JSON escapes, so it is spliced in as is. The same rendered image is sent
    again and again (the render cache), so the last few answers are remembered by identity.
    """
    if len(value) < _SPLICE_MIN or not value.isascii():
        return None
    with _RECENT_LOCK:
        known = _RECENT.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    raw = value.encode("ascii")
    if not (plain_data_url(raw) if raw.startswith(b"data:") else is_base64(raw)):
        return None
    with _RECENT_LOCK:
        while len(_RECENT) >= _RECENT_MAX:
            del _RECENT[next(iter(_RECENT))]
        _RECENT[id(value)] = (value, raw)
    return raw


def dump_parts(obj: Any) -> list[bytes]:
    """Compact JSON, as the service sends it, in pieces that concatenate to the document.

    Long base64 strings (images: megabytes that need no escaping) are spliced in after encoding
    the small rest, instead of being scanned by the JSON encoder, and are never copied into one
    body: the handler writes the pieces one after another. That cuts the server's time per 1K
    image several-fold, which every client benchmark would otherwise pay.
    """
    spliced: list[bytes] = []
    nonce = secrets.token_hex(8)  # no user string can look like a placeholder

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, str) and (raw := _splice_safe(value)) is not None:
            spliced.append(raw)
            return f"{nonce}:{len(spliced) - 1}"
        return value

    text = json.dumps(swap(obj), separators=(",", ":"), ensure_ascii=False).encode()
    if not spliced:
        return [text]
    pieces = re.split(rb'"%s:(\d+)"' % nonce.encode(), text)  # [text, index, text, ...]
    out: list[bytes] = []
    for i, piece in enumerate(pieces):
        out += (b'"', spliced[int(piece)], b'"') if i % 2 else (piece,)
    return out


def sse_parts(obj: Any) -> list[bytes]:
    """One ``data:`` event of ``obj``; compact JSON has no line breaks, so it is one line."""
    return [b"data: ", *dump_parts(obj), b"\n\n"]
