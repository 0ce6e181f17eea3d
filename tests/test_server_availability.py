"""``error.availability`` errors and every documented status, injected as faults over HTTP.

Shapes: the docs' errors-and-debugging page (OpenRouterTeam/docs c26125a5), "Model availability
errors" table and example payloads: ``{"error": {message, error_type, http_status, availability,
metadata?}}`` with no ``code``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from jupyter_imagegen.server import FAULT_KINDS, Fault, LocalServer, parse_fault_spec

TABLE = {  # code: (HTTP status, error_type, retryable), as the docs' table gives them
    "model_not_found": (400, "invalid_request", False),
    "wrong_endpoint": (400, "invalid_request", False),
    "no_endpoints": (404, "not_found", False),
    "model_deprecated": (404, "not_found", False),
    "model_unavailable_upstream": (404, "not_found", False),
    "privacy_restricted": (404, "not_found", False),
    "constraint_filtered": (404, "not_found", False),
    "free_variant_ended": (404, "not_found", False),
    "capacity_exhausted": (429, "rate_limit_exceeded", True),
    "temporarily_unavailable": (503, "provider_overloaded", True),
    "region_restricted": (403, "permission_denied", False),
}


@pytest.fixture
def srv() -> Iterator[LocalServer]:
    with LocalServer(port=0) as server:
        yield server


def chat(srv: LocalServer, model: str = "offline/sketch") -> requests.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}],
            "modalities": ["image", "text"]}
    return requests.post(f"{srv.base_url}/chat/completions", json=body, timeout=30)


@pytest.mark.parametrize("code", sorted(TABLE))
def test_availability_faults_have_the_documented_shape(srv: LocalServer, code: str) -> None:
    assert code in FAULT_KINDS
    srv.faults.push(Fault(code))
    r = chat(srv, "google/gemini-2.5-flash-image")
    status, error_type, retryable = TABLE[code]
    assert r.status_code == status
    err = r.json()["error"]
    # The docs' examples show error_type and http_status; availability is additive, and the
    # official SDKs require the envelope's integer code, so it stays.
    assert err["code"] == status
    assert err["error_type"] == error_type and err["http_status"] == status
    avail = err["availability"]
    assert avail["code"] == code and avail["retryable"] is retryable
    assert avail["requested_models"] == ["google/gemini-2.5-flash-image"]
    assert avail["docs_url"] == f"https://openrouter.ai/docs/errors#{code}"
    assert all(value not in ("", None) for value in avail.values())  # omitted, never empty
    if code in ("constraint_filtered", "wrong_endpoint"):
        assert set(avail["constraint"]) == {"field", "detail"}
    assert chat(srv).status_code == 200  # consumed once


def test_capacity_exhausted_sends_retry_after(srv: LocalServer) -> None:
    srv.faults.push(Fault("capacity_exhausted", retry_after=3))
    r = chat(srv)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    err = r.json()["error"]
    assert err["availability"]["retry_after"] == 3
    assert err["message"] == "All providers for offline/sketch are at capacity. Retry after 3 " \
        "seconds."
    assert err["metadata"]["previous_errors"][0]["status"] == 429
    srv.faults.push(Fault("capacity_exhausted"))
    assert chat(srv).headers["Retry-After"] == "1"  # a wait is always known for this code
    srv.faults.push(Fault("temporarily_unavailable", retry_after=2))
    r = chat(srv)
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    srv.faults.push(Fault("temporarily_unavailable"))
    r = chat(srv)
    assert "Retry-After" not in r.headers and "retry_after" not in r.json()["error"]["availability"]


def test_availability_faults_from_the_cli_spec_and_http(srv: LocalServer) -> None:
    fault, times = parse_fault_spec("wrong_endpoint,path=/images,times=2")
    assert fault.status == 400 and times == 2
    srv.faults.push(fault, times=times)
    body = {"model": "offline/poster", "prompt": "x"}
    r = requests.post(f"{srv.base_url}/images", json=body, timeout=30)
    assert r.json()["error"]["availability"]["constraint"]["detail"] == \
        "Use /api/v1/chat/completions"
    assert requests.post(f"{srv.base_url}/images", json=body, timeout=30).status_code == 400
    assert requests.post(f"{srv.base_url}/images", json=body, timeout=30).status_code == 200
    admin = requests.post(f"{srv.base_url}/_faults", json={"kind": "model_deprecated"},
                          timeout=30)
    assert admin.json()["data"]["pending"][0]["kind"] == "model_deprecated"
    r = chat(srv)
    assert r.status_code == 404 and r.json()["error"]["availability"]["code"] == "model_deprecated"


@pytest.mark.parametrize(("status", "error_type"), [
    (400, "invalid_request"), (402, "payment_required"), (404, "not_found"), (408, "timeout"),
    (412, "precondition_failed"), (413, "payload_too_large"), (422, "unprocessable"),
    (429, "rate_limit_exceeded"), (500, "server"), (502, "provider_unavailable"),
    (503, "provider_overloaded"), (504, "timeout"), (529, "provider_overloaded")])
def test_documented_statuses_carry_their_error_type(srv: LocalServer, status: int,
                                                    error_type: str) -> None:
    srv.faults.push(Fault(str(status)))
    r = chat(srv)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["code"] == status and err["metadata"]["error_type"] == error_type


def test_other_statuses_still_work(srv: LocalServer) -> None:
    for status in (401, 403, 524):
        srv.faults.push(Fault(str(status)))
        r = chat(srv)
        assert r.status_code == status and r.json()["error"]["code"] == status
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("model_gone")


@pytest.mark.parametrize("status", [402, 403, 408, 429, 502, 503])
def test_mid_stream_errors_name_an_error_type(srv: LocalServer, status: int) -> None:
    # ChatStreamChunk.error.metadata.error_type is required by the SDKs whenever metadata is sent
    srv.faults.push(Fault("stream-error", code=status))
    body = {"model": "offline/sketch", "messages": [{"role": "user", "content": "hi"}],
            "modalities": ["image", "text"], "stream": True}
    r = requests.post(f"{srv.base_url}/chat/completions", json=body, timeout=30)
    chunks = [line[6:] for line in r.text.splitlines() if line.startswith("data: {")]
    error = [c for c in chunks if '"error"' in c][-1]
    err = json.loads(error)["error"]
    assert err["code"] == status and isinstance(err["metadata"]["error_type"], str)
