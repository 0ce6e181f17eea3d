"""Raw wire access to the local server, and a strict reader of the official Python SDK's schemas.

The conformance tests look at the bytes the server writes, not at what our own client makes of
them: ``fetch`` returns status, headers and body as sent; ``sse_data`` splits an event stream
the way the SSE spec does; ``check`` validates a body against one of the ``openrouter`` package's
pydantic models (strict JSON mode, so a number sent as a string or an unknown enum value fails)
and ``unknown_fields`` lists every key the SDK's model does not declare.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import types
import typing
from collections.abc import Iterable, Iterator
from typing import Any

import pydantic
import pytest
import requests
from typing_extensions import TypeAliasType

KEY = "sk-or-v1-conformance-0123456789abcdef"
TIMEOUT = 30.0


class Wire(typing.NamedTuple):
    status: int
    headers: requests.structures.CaseInsensitiveDict[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(base_url: str, method: str, path: str, body: Any = None, *, key: str | None = KEY,
          query: dict[str, str] | None = None, raw: bytes | None = None) -> Wire:
    """One request to ``base_url + path``; ``raw`` sends bytes as they are (bad JSON...)."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        headers["Content-Type"] = "application/json"
    res = requests.request(method, base_url + path, data=data, headers=headers, params=query,
                           timeout=TIMEOUT)
    return Wire(res.status_code, res.headers, res.content)


def sse_data(body: bytes) -> tuple[list[str], bool]:
    """The ``data`` payloads of an event stream (comments skipped) and whether ``[DONE]`` ended it."""
    text = body.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    events: list[str] = []
    done = False
    for block in text.split("\n\n"):
        lines = [line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:")]
        if not lines:
            continue
        data = "\n".join(lines)
        if data == "[DONE]":
            done = True
            continue
        assert not done, "an event after [DONE]"
        events.append(data)
    return events, done


def _open_enum_error(error: Any) -> bool:
    """An error from an *open* enum of the SDK: a listed-value branch and its any-string fallback.

    The SDK declares such fields ``Union[Literal[...], UnrecognizedStr]`` on purpose (new
    provider names appear all the time), and its fallback is lax-only, so strict mode alone
    would refuse a value the SDK itself accepts.
    """
    last = str(error["loc"][-1]) if error["loc"] else ""
    return last.startswith(("literal[", "lax-or-strict[")) or (
        error["type"] == "enum" and "UnrecognizedStr" in str(error["loc"]))


def check(model: type[pydantic.BaseModel], payload: str | bytes) -> Any:
    """Validate ``payload`` (JSON text) against an SDK model in strict JSON mode.

    Strict: a number sent as a string, a string price sent as a number, a missing required
    field or a value outside a closed enum fails. Values of the SDK's open enums pass, as they do
    in the SDK (validated lax).
    """
    try:
        return model.model_validate_json(payload, strict=True)
    except pydantic.ValidationError as exc:
        if not all(_open_enum_error(e) for e in exc.errors()):
            raise
        return model.model_validate_json(payload)


# -- fields the SDK's schema does not declare --------------------------------------------------


def _members(annotation: Any, env: dict[Any, Any] | None = None) -> list[Any]:
    """The concrete alternatives inside Optional/Union/Nullable/Annotated wrappers."""
    env = env or {}
    if isinstance(annotation, typing.TypeVar):
        return _members(env.get(annotation, Any))
    origin = typing.get_origin(annotation)
    if isinstance(annotation, TypeAliasType):
        return _members(annotation.__value__, env)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0], env)
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(annotation) for m in _members(arg, env)]
    if origin is not None and isinstance(origin, TypeAliasType):  # Nullable[T], OptionalNullable[T]
        args = [env.get(a, a) for a in typing.get_args(annotation)]
        inner = dict(zip(origin.__type_params__, args, strict=True))
        return _members(origin.__value__, inner)
    return [annotation]


def _walk(annotation: Any, value: Any, path: str) -> Iterable[str]:
    for member in _members(annotation):
        origin = typing.get_origin(member)
        if isinstance(value, list) and origin in (list, typing.List):  # noqa: UP006
            (item,) = typing.get_args(member) or (Any,)
            for i, element in enumerate(value):
                yield from _walk(item, element, f"{path}[{i}]")
            return
        if isinstance(value, dict) and origin in (dict, typing.Dict):  # noqa: UP006
            return  # an open map: any key is allowed
        if isinstance(value, dict) and isinstance(member, type) \
                and issubclass(member, pydantic.BaseModel) and member.model_fields:  # not Unset
            try:
                member.model_validate(value)
            except pydantic.ValidationError:
                continue  # another member of the union
            yield from unknown_fields(member, value, path)
            return


def unknown_fields(model: type[pydantic.BaseModel], value: dict[str, Any],
                   path: str = "") -> list[str]:
    """Dotted paths of keys in ``value`` that ``model`` (recursively) does not declare."""
    by_alias = {(f.alias or name): f for name, f in model.model_fields.items()}
    found: list[str] = []
    for key, item in value.items():
        here = f"{path}.{key}" if path else key
        field = by_alias.get(key)
        if field is None:
            found.append(here)
        else:
            found.extend(_walk(field.annotation, item, here))
    return found


def strip_indices(paths: Iterable[str]) -> set[str]:
    """``choices[0].native_finish_reason`` -> ``choices[].native_finish_reason``."""
    out = set()
    for p in paths:
        parts = []
        for chunk in p.split("["):
            parts.append(chunk.split("]", 1)[1] if "]" in chunk else chunk)
        out.add("[]".join(parts))
    return out


# -- loopback only -------------------------------------------------------------------------------


def _loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # an AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """While active, any attempt to open a non-loopback connection raises AssertionError."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        if not _loopback(address):
            raise AssertionError(f"conformance tests stay on 127.0.0.1; tried {address!r}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _loopback(address):
            raise AssertionError(f"conformance tests stay on 127.0.0.1; tried {address!r}")
        return real_connect_ex(self, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
        yield
