"""What crosses between the judge and a student's sandboxed process: frames and answers.

A *frame* is a JSON header (the command or event) and an optional binary payload,
length-prefixed so that a reader never has to trust where a message ends; limits on
both lengths are the reader's, so a student's process cannot make the judge allocate
without bound.

*Answers* travel as data only: tensors, numbers, strings, ``None`` and tuples, lists and
dicts of them, as a JSON tree and the tensors' raw bytes (see :func:`encode_answers`). The
judge rebuilds each value from its kind, dtype, shape and bytes; it never unpickles,
calls or asks anything of an object the student's process made. Anything else a
student's function returns becomes an :class:`Opaque` stand-in carrying its type name
and a short ``repr``, so that the judge's comparison says what
:func:`course_lib.grading.compare_answers` would have said about the real object.
"""

from __future__ import annotations

import io
import json
import socket
import struct
import time
from typing import Any

import torch

from course_lib.grading import Raised
from course_lib.grading.autograde.plaintext import plain_text

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
#
# An answer travels as a JSON tree and a blob of raw tensor bytes: payload = 8-byte length of the
# JSON + JSON + blob. Scalars are JSON's own (null, true, false, strings); everything else is a list
# whose first item names it:
#   ["int", "123"]  ["float", "0.1"]  ["complex", "1.0", "2.0"]
#   ["list", [...]]  ["tuple", [...]]  ["dict", [[key, value], ...]]
#   ["tensor", dtype, [shape], offset, nbytes]      (bytes in the blob, C order, native byte order)
#   ["raised", type name, message]  ["opaque", type name, short repr]
# The judge rebuilds every value itself from these fields: nothing of the student's choosing is
# unpickled, called or asked for an attribute, and the decoded size is bounded by the payload's.

_MAX_DEPTH = 32
MAX_ANSWER_JSON = 4 << 20
"""Largest JSON part of an answers payload the judge decodes."""
MAX_ANSWER_NODES = 200_000
"""Most values (numbers, strings, containers, tensors) in one payload."""
_DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
    torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)}
_LENGTH = struct.Struct("!Q")


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
    name = "".join(ch for ch in type_name[:60] if ch.isascii() and (ch.isalnum() or ch == "_")) or "object"
    if name[0].isdigit():
        name = "_" + name
    return type(name, (Opaque,), {})


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)[:200]
    except Exception:  # a student's __repr__ may raise
        return f"<{type(value).__name__} object>"


class _Writer:
    """Builds the JSON tree and the blob of one payload (in the student's process)."""

    def __init__(self) -> None:
        self.blob = io.BytesIO()

    def tensor(self, value: torch.Tensor) -> Any:
        tensor = value.detach()
        if tensor.layout != torch.strided:
            tensor = tensor.to_dense()
        tensor = tensor.to("cpu").resolve_conj().resolve_neg().contiguous()
        if type(tensor) is not torch.Tensor:
            tensor = tensor.as_subclass(torch.Tensor)
        dtype = str(tensor.dtype).removeprefix("torch.")
        if dtype not in _DTYPES:
            return ["opaque", "Tensor", f"tensor of dtype {dtype}"]
        data = tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        offset = self.blob.tell()
        self.blob.write(data)
        return ["tensor", dtype, list(tensor.shape), offset, len(data)]

    def value(self, value: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            return ["opaque", type(value).__name__, "<nested too deeply>"]
        if isinstance(value, Raised):
            return ["raised", str(value.type_name)[:200], str(value.message)[:4000]]
        if isinstance(value, torch.Tensor):
            try:
                return self.tensor(value)
            except Exception:  # an unusual tensor (meta, quantized...): described, not sent
                return ["opaque", type(value).__name__, _safe_repr(value)]
        if value is None or type(value) in (bool, str):
            return value
        if type(value) is int:
            return ["int", str(value)] if abs(value) < 10**4000 else ["opaque", "int", "<an integer of more than 4000 digits>"]
        if isinstance(value, float):  # NumPy's float64 is a float; the comparison treats it as one
            return ["float", repr(float(value))]
        if type(value) is complex:
            return ["complex", repr(value.real), repr(value.imag)]
        if isinstance(value, (tuple, list)):
            return ["tuple" if isinstance(value, tuple) else "list", [self.value(v, depth + 1) for v in value]]
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                if not (key is None or type(key) in (bool, int, float, str)):
                    key = _safe_repr(key)
                items.append([self.value(key, depth + 1), self.value(item, depth + 1)])
            return ["dict", items]
        return ["opaque", type(value).__name__, _safe_repr(value)]


def encode_answers(answers: list[Any]) -> bytes:
    """The bytes that carry a check's answers out of the student's process."""
    writer = _Writer()
    tree = json.dumps([writer.value(a) for a in answers], separators=(",", ":")).encode("utf-8", "surrogatepass")
    return _LENGTH.pack(len(tree)) + tree + writer.blob.getvalue()


class _Reader:
    """Rebuilds answers from a payload (in the judge), counting every value against the bounds."""

    def __init__(self, blob: memoryview) -> None:
        self.blob = blob
        self.nodes = 0

    def value(self, node: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_ANSWER_NODES:
            raise ProtocolError(f"answers hold more than {MAX_ANSWER_NODES} values")
        if depth > _MAX_DEPTH + 2:
            raise ProtocolError("answers nested too deeply")
        if node is None or isinstance(node, bool):
            return node
        if isinstance(node, str):
            return plain_text(node)
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise ProtocolError("an answer is not in the judge's format")
        tag, args = node[0], node[1:]
        if tag == "int" and len(args) == 1 and isinstance(args[0], str) and len(args[0]) <= 4100:
            return int(args[0])
        if tag == "float" and len(args) == 1 and isinstance(args[0], str) and len(args[0]) <= 40:
            return float(args[0])
        if tag == "complex" and len(args) == 2 and all(isinstance(a, str) and len(a) <= 40 for a in args):
            return complex(float(args[0]), float(args[1]))
        if tag in ("list", "tuple") and len(args) == 1 and isinstance(args[0], list):
            items = [self.value(item, depth + 1) for item in args[0]]
            return items if tag == "list" else tuple(items)
        if tag == "dict" and len(args) == 1 and isinstance(args[0], list):
            out = {}
            for pair in args[0]:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise ProtocolError("a dict entry is not a pair")
                key = self.value(pair[0], depth + 1)
                if not (key is None or type(key) in (bool, int, float, str)):
                    raise ProtocolError("a dict key is not a plain value")
                out[key] = self.value(pair[1], depth + 1)
            return out
        if tag == "tensor" and len(args) == 4:
            return self.tensor(*args)
        if tag == "raised" and len(args) == 2 and all(isinstance(a, str) for a in args):
            return Raised(plain_text(args[0], 200), plain_text(args[1], 4000))
        if tag == "opaque" and len(args) == 2 and all(isinstance(a, str) for a in args):
            return _opaque_class(args[0])(plain_text(args[1], 200))
        if tag in ("int", "float", "complex", "list", "tuple", "dict", "tensor", "raised", "opaque"):
            raise ProtocolError(f"a malformed answer of kind {tag!r}")
        raise ProtocolError(f"an answer of unknown kind {plain_text(tag, 20)!r}")

    def tensor(self, dtype: Any, shape: Any, offset: Any, nbytes: Any) -> torch.Tensor:
        if dtype not in _DTYPES:
            raise ProtocolError("a tensor of an unknown dtype")
        if not (isinstance(shape, list) and len(shape) <= 16 and all(type(n) is int and 0 <= n < 2**40 for n in shape)):
            raise ProtocolError("a tensor with an impossible shape")
        if not (type(offset) is int and type(nbytes) is int and 0 <= offset and 0 <= nbytes
                and offset + nbytes <= len(self.blob)):
            raise ProtocolError("a tensor whose bytes are not in the payload")
        kind = _DTYPES[dtype]
        numel = 1
        for n in shape:
            numel *= n
        if numel * torch.empty((), dtype=kind).element_size() != nbytes:
            raise ProtocolError("a tensor whose size does not match its shape")
        if numel == 0:
            return torch.empty(shape, dtype=kind)
        data = bytearray(self.blob[offset:offset + nbytes])
        return torch.frombuffer(data, dtype=kind).reshape(shape)


def decode_answers(payload: bytes) -> list[Any]:
    """The answers in ``payload``: plain values the judge builds itself, within :data:`MAX_ANSWER_JSON`
    and :data:`MAX_ANSWER_NODES` (a payload cannot make the judge do more work than its own size).

    Raises:
        ProtocolError: the payload is not a list of answers written by :func:`encode_answers`.
    """
    if len(payload) < _LENGTH.size:
        raise ProtocolError("answers could not be read back (too short)")
    (length,) = _LENGTH.unpack_from(payload)
    if length > MAX_ANSWER_JSON or _LENGTH.size + length > len(payload):
        raise ProtocolError("answers could not be read back (bad length)")
    view = memoryview(payload)
    try:
        tree = json.loads(bytes(view[_LENGTH.size:_LENGTH.size + length]).decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError) as err:
        raise ProtocolError(f"answers could not be read back ({type(err).__name__})") from None
    if not isinstance(tree, list):
        raise ProtocolError("answers are not a list")
    reader = _Reader(view[_LENGTH.size + length:])
    try:
        return [reader.value(node) for node in tree]
    except ProtocolError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, RuntimeError) as err:
        raise ProtocolError(f"answers could not be read back ({type(err).__name__})") from None
