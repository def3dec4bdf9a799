"""What crosses between the judge and a student's sandboxed process: frames and answers.

A *frame* is a JSON header (the command or event) and an optional binary payload,
length-prefixed so that a reader never has to trust where a message ends; limits on
both lengths are the reader's, so a student's process cannot make the judge allocate
without bound.

*Answers* travel as data only: tensors, numbers, strings, ``None`` and tuples, lists and
dicts of them, written with :func:`torch.save` and read back with
``torch.load(weights_only=True)``, which builds tensors and containers and never runs
code. Anything else a student's function returns becomes an :class:`Opaque`
stand-in carrying its type name and a short ``repr``, so that the judge's comparison
says what :func:`course_lib.grading.compare_answers` would have said about the real object.
"""

from __future__ import annotations

import io
import json
import socket
import struct
import time
import warnings
from typing import Any

import torch

from course_lib.grading import Raised

__all__ = ["ProtocolError", "send", "receive", "encode_answers", "decode_answers", "Opaque"]

_HEAD = struct.Struct("!II")
MAX_HEADER = 4 << 20
"""Largest JSON header a reader accepts (4 MiB): outputs are sent in smaller pieces."""


class ProtocolError(Exception):
    """The other side sent something that is not a frame, or too much of it, or nothing in time."""


def send(sock: socket.socket, header: dict[str, Any], payload: bytes = b"") -> None:
    """Write one frame."""
    head = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_HEAD.pack(len(head), len(payload)) + head + payload)


def _read_exactly(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no complete frame before the deadline")
            sock.settimeout(remaining)
        else:
            sock.settimeout(None)
        try:
            chunk = sock.recv(min(left, 1 << 20))
        except socket.timeout:
            raise TimeoutError("no complete frame before the deadline") from None
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket, *, deadline: float | None = None, max_payload: int = 64 << 20) -> tuple[dict[str, Any], bytes]:
    """Read one frame: ``(header, payload)``.

    Raises:
        TimeoutError: nothing complete before ``deadline`` (a ``time.monotonic()`` value).
        EOFError: the other side is gone.
        ProtocolError: a malformed or oversized frame.
    """
    n_head, n_payload = _HEAD.unpack(_read_exactly(sock, _HEAD.size, deadline))
    if n_head > MAX_HEADER or n_payload > max_payload:
        raise ProtocolError(f"frame too large ({n_head} + {n_payload} bytes)")
    head = _read_exactly(sock, n_head, deadline)
    payload = _read_exactly(sock, n_payload, deadline) if n_payload else b""
    try:
        header = json.loads(head)
    except Exception as err:  # not UTF-8, not JSON, nested too deeply
        raise ProtocolError(f"unreadable frame header ({type(err).__name__})") from None
    if not isinstance(header, dict) or not isinstance(header.get("op"), str):
        raise ProtocolError("frame header without an 'op'")
    return header, payload


# ---- answers ----------------------------------------------------------------------------------

# A student can send any pickle; torch's notice about unusual protocols is noise for the judge.
warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)

_OPAQUE = "__course_opaque__"
_RAISED = "__course_raised__"
_MAX_DEPTH = 32


class Opaque:
    """Stands for an answer of a type that does not travel (a NumPy array, a custom object).

    Its class is named after the original type, so ``type(answer).__name__`` in the
    judge's messages reads as it would have in the student's kernel.
    """

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


def _opaque_class(type_name: str) -> type:
    name = "".join(ch for ch in type_name[:60] if ch.isalnum() or ch == "_") or "object"
    if name[0].isdigit():
        name = "_" + name
    return type(name, (Opaque,), {})


def _to_wire(value: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        return {_OPAQUE: [type(value).__name__, "<nested too deeply>"]}
    if isinstance(value, Raised):
        return {_RAISED: [str(value.type_name)[:200], str(value.message)[:4000]]}
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
        if tensor.layout != torch.strided:
            tensor = tensor.to_dense()
        tensor = tensor.to("cpu").clone().contiguous()
        return tensor if type(tensor) is torch.Tensor else tensor.as_subclass(torch.Tensor)
    if value is None or type(value) in (bool, int, str, complex):
        return value
    if isinstance(value, float):  # NumPy's float64 is a float; the comparison treats it as one
        return float(value)
    if isinstance(value, (tuple, list)):
        items = [_to_wire(v, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key is None or type(key) in (bool, int, float, str):
                out[key] = _to_wire(item, depth + 1)
            else:
                out[repr(key)[:200]] = _to_wire(item, depth + 1)
        return out
    try:
        text = repr(value)[:200]
    except Exception:  # a student's __repr__ may raise
        text = f"<{type(value).__name__} object>"
    return {_OPAQUE: [type(value).__name__, text]}


def encode_answers(answers: list[Any]) -> bytes:
    """The bytes that carry a check's answers out of the student's process."""
    buffer = io.BytesIO()
    torch.save([_to_wire(a) for a in answers], buffer)
    return buffer.getvalue()


def _from_wire(value: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH + 2:
        raise ProtocolError("answers nested too deeply")
    if isinstance(value, dict):
        if set(value) == {_RAISED} and isinstance(value[_RAISED], list) and len(value[_RAISED]) == 2:
            return Raised(str(value[_RAISED][0]), str(value[_RAISED][1]))
        if set(value) == {_OPAQUE} and isinstance(value[_OPAQUE], list) and len(value[_OPAQUE]) == 2:
            return _opaque_class(str(value[_OPAQUE][0]))(str(value[_OPAQUE][1]))
        return {k: _from_wire(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_wire(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_from_wire(v, depth + 1) for v in value)
    return value


def decode_answers(payload: bytes) -> list[Any]:
    """The answers in ``payload``, read without running any code from it.

    Raises:
        ProtocolError: the payload is not a list of answers written by :func:`encode_answers`.
    """
    try:
        answers = torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
    except Exception as err:
        raise ProtocolError(f"answers could not be read back ({type(err).__name__})") from None
    if not isinstance(answers, list):
        raise ProtocolError("answers are not a list")
    return [_from_wire(a) for a in answers]
