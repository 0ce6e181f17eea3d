"""An offline, OpenRouter-compatible API server for notebooks, demos and tests.

``LocalServer`` speaks OpenRouter's chat-completions image protocol and its dedicated Image API
on loopback. Its catalogue is package data taken from recorded real listings (``data/``), every
model drawn offline by a procedural Pillow renderer in one of four styles (not a neural model),
with simulated prices and scriptable faults, ``error.availability`` errors included::

    from jupyter_imagegen.server import Fault, LocalServer

    with LocalServer() as srv:
        srv.faults.push(Fault("429", retry_after=1))
        ...  # point a client at srv.base_url

It imports only the pure protocol layer of the package, never the client, so it checks the wire
format rather than the client's assumptions.
"""

from __future__ import annotations

from ._chat_catalog import ModelSpec, build_catalogue, model_json
from ._faults import FAULT_KINDS, Fault, FaultQueue, parse_fault_spec
from ._records import GenerationRecord, RecordedRequest, RecordList
from ._render import parse_prompt, render, vocabulary
from ._server import LocalServer
from ._signing import Signing

__all__ = [
    "FAULT_KINDS",
    "Fault",
    "FaultQueue",
    "GenerationRecord",
    "LocalServer",
    "ModelSpec",
    "RecordList",
    "RecordedRequest",
    "Signing",
    "build_catalogue",
    "model_json",
    "parse_fault_spec",
    "parse_prompt",
    "render",
    "vocabulary",
]
