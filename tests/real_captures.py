"""Wire shapes of the real service, for the core's tests. Each value says where it was seen.

Sources:
- [LIST] a real ``GET /api/v1/models?output_modalities=image`` entry recorded 2026-06/07, as quoted
  in shared/reference/openrouter-changes-2026.md ("Real listings, as recorded"): pricing keys
  and string prices, and no ``image_output``; image-only models price ``"0"``.
- [SPEC] OpenRouterTeam/docs ``openapi/openapi.yaml`` at c26125a5, as generated into the
  ``openrouter`` 1.3.84 SDK: ``ImageModelListItem`` (typed ``supported_parameters``,
  ``supports_streaming``, ``endpoints`` URL), ``ImageModelEndpointsResponse`` = ``{id, endpoints}``,
  ``ImageEndpoint`` (provider_slug, provider_tag, pricing[], supports_streaming ...),
  ``ImagePricingEntry`` = ``{billable, unit, cost_usd, variant?}``.
- [LINES] recorded per-endpoint price lines quoted in openrouter-changes-2026.md: qwen/qwen-image-3
  ``output_image`` 0.03 per image (variants ``1k``, ``2k``), ``input_image`` 0.003 per image;
  google/gemini-3-pro-image ``output_image`` per token, cost_usd 0.00012.
- [ERR] docs ``errors-and-debugging.mdx`` at 4e27fe52: availability errors carry ``error_type``
  and ``http_status`` and no ``code``; the openapi stream error example is
  ``{"type": "error", "error": {"code": "upstream_error", "type": "provider_error"}}``.
- [WRONG] real chat/completions refusal of image-only models (openrouter-changes-2026.md, "Not in
  the docs but in real traffic").
- [REC] the recorded gemini-2.5-flash-image chat answer (openrouter-protocol.md §2): 1290 image
  tokens, cost 0.0387036, cost_details.upstream_inference_cost null.
"""

from __future__ import annotations

from typing import Any

# [LIST] pricing as recorded for google/gemini-2.5-flash-image (input_cache_write shortened as
# quoted); architecture fields as the listing shapes them ([SPEC] ModelArchitecture).
GEMINI_LISTING: dict[str, Any] = {
    "id": "google/gemini-2.5-flash-image",
    "canonical_slug": "google/gemini-2.5-flash-image",
    "name": "Google: Gemini 2.5 Flash Image (Nano Banana)",
    "architecture": {"modality": "text+image->text+image", "input_modalities": ["image", "text"],
                     "output_modalities": ["image", "text"], "tokenizer": "Gemini"},
    "pricing": {"prompt": "0.0000003", "completion": "0.0000025", "image": "0.0000003",
                "audio": "0.000001", "web_search": "0.014", "internal_reasoning": "0.0000025",
                "input_cache_read": "0.00000003", "input_cache_write": "0.0000000833"},
    "supported_parameters": ["max_tokens", "response_format", "seed", "structured_outputs",
                             "temperature", "top_p"],
}
# [LIST] an image-only model: prices "0".
FLUX_LISTING: dict[str, Any] = {
    "id": "black-forest-labs/flux.2-pro", "name": "Black Forest Labs: FLUX.2 Pro",
    "architecture": {"modality": "text+image->image", "input_modalities": ["text", "image"],
                     "output_modalities": ["image"]},
    "pricing": {"prompt": "0", "completion": "0"}, "supported_parameters": [],
}

# [SPEC] ImageModelListItem; enum values within the documented aspect_ratio/resolution sets.
QWEN_IMAGES: dict[str, Any] = {
    "id": "qwen/qwen-image-3", "name": "Qwen: Qwen Image 3", "created": 1780000000,
    "description": "Qwen's image model...",
    "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["image"]},
    "supported_parameters": {
        "aspect_ratio": {"type": "enum", "values": ["1:1", "16:9", "9:16", "4:3", "3:4", "9:19.5"]},
        "resolution": {"type": "enum", "values": ["1K", "2K"]},
        "n": {"type": "range", "min": 1, "max": 4},
        "input_references": {"type": "range", "min": 0, "max": 3},
        "seed": {"type": "boolean"},
    },
    "supports_streaming": False,
    "endpoints": "/api/v1/images/models/qwen/qwen-image-3/endpoints",
}
GEMINI_IMAGES: dict[str, Any] = {
    "id": "google/gemini-2.5-flash-image", "name": "Google: Gemini 2.5 Flash Image",
    "created": 1756000000, "description": "Gemini 2.5 Flash Image...",
    "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["image", "text"]},
    "supported_parameters": {
        "aspect_ratio": {"type": "enum", "values": ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5",
                                                    "5:4", "9:16", "16:9", "21:9"]},
        "resolution": {"type": "enum", "values": ["1K"]},
        "input_references": {"type": "range", "min": 0, "max": 3},
    },
    "supports_streaming": False,
    "endpoints": "/api/v1/images/models/google/gemini-2.5-flash-image/endpoints",
}
# [SPEC] ImageModelEndpointsResponse with [LINES]' recorded qwen prices.
QWEN_ENDPOINTS: dict[str, Any] = {
    "id": "qwen/qwen-image-3",
    "endpoints": [{
        "provider_name": "Alibaba", "provider_slug": "alibaba", "provider_tag": "alibaba",
        "allowed_passthrough_parameters": [], "supported_parameters": {}, "supports_streaming": False,
        "pricing": [
            {"billable": "output_image", "unit": "image", "cost_usd": 0.03, "variant": "1k"},
            {"billable": "output_image", "unit": "image", "cost_usd": 0.03, "variant": "2k"},
            {"billable": "input_image", "unit": "image", "cost_usd": 0.003},
        ],
    }],
}
# [LINES] gemini-3-pro-image: output billed per token.
GEMINI_PRO_ENDPOINTS: dict[str, Any] = {
    "id": "google/gemini-3-pro-image",
    "endpoints": [{"provider_name": "Google AI Studio", "provider_slug": "google-ai-studio",
                   "provider_tag": "google-ai-studio", "allowed_passthrough_parameters": [],
                   "supported_parameters": {}, "supports_streaming": False,
                   "pricing": [{"billable": "output_image", "unit": "token", "cost_usd": 0.00012}]}],
}

# [ERR] availability errors as the docs' examples shape them (no ``code``).
CAPACITY_EXHAUSTED: dict[str, Any] = {"error": {
    "message": "Capacity exhausted for the requested model", "error_type": "capacity_exhausted",
    "http_status": 429, "availability": {
        "code": "capacity_exhausted", "retryable": True, "retry_after": 12,
        "requested_models": ["google/gemini-2.5-flash-image"], "docs_url": "https://openrouter.ai/docs"}}}
MODEL_NOT_FOUND: dict[str, Any] = {"error": {
    "message": "Model not found", "error_type": "invalid_request", "http_status": 400,
    "availability": {"code": "model_not_found", "retryable": False,
                     "requested_models": ["google/nano-banana"]}}}
WRONG_ENDPOINT_AVAILABILITY: dict[str, Any] = {"error": {
    "message": "This model is not served on this endpoint", "error_type": "invalid_request",
    "http_status": 400, "availability": {
        "code": "wrong_endpoint", "retryable": False, "requested_models": ["openai/gpt-image-2"],
        "constraint": {"field": "endpoint", "detail": "/api/v1/images"}}}}
STREAM_ERROR: dict[str, Any] = {"type": "error", "error": {
    "message": "Upstream provider error", "code": "upstream_error", "param": None,
    "type": "provider_error"}}
# [WRONG]
WRONG_ENDPOINT_TEXT = ("openai/gpt-image-2 is an image generation model and cannot be used with "
                       "the chat/completions endpoint. Use the /api/v1/images endpoint instead.")

# [REC]
GEMINI_USAGE: dict[str, Any] = {
    "prompt_tokens": 12, "completion_tokens": 1290, "total_tokens": 1302, "cost": 0.0387036,
    "is_byok": False, "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "cost_details": {"upstream_inference_cost": None, "upstream_inference_prompt_cost": 0.0000036,
                     "upstream_inference_completions_cost": 0.0387},
    "completion_tokens_details": {"reasoning_tokens": 0, "image_tokens": 1290}}
