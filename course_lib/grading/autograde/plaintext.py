"""Text from a submission made safe to store, print and show: valid Unicode, no markup.

Anything a student wrote or printed can hold characters that cannot be encoded (a lone
surrogate such as ``"\\ud800"``, which JSON escapes and non-UTF-8 file names produce) or
markup that a browser would run. :func:`plain_text` and :func:`plain_data` make it valid
UTF-8 text; :func:`inert_markdown` makes Markdown that renders as the same text but runs
nothing (no raw HTML, no links: a ``javascript:`` address is a link away), for the cells of
the autograded notebook that someone else opens as HTML.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["plain_text", "plain_data", "inert_markdown", "printable_name"]

_SURROGATE = re.compile("[\ud800-\udfff]")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
"""A ``<`` that could open a tag, a comment or a processing instruction (``a < b`` cannot)."""


def plain_text(text: Any, limit: int | None = None) -> str:
    """``text`` as a str that encodes to UTF-8 (lone surrogates become U+FFFD), cut at ``limit`` characters."""
    if not isinstance(text, str):
        text = str(text) if isinstance(text, (int, float, bool)) or text is None else f"<{type(text).__name__}>"
    if limit is not None and len(text) > limit:
        text = text[:limit] + " [... cut]"
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


def plain_data(value: Any, depth: int = 0) -> Any:
    """A JSON-like structure (dicts, lists, strings, numbers) with every string made :func:`plain_text`."""
    if isinstance(value, str):
        return plain_text(value)
    if depth > 64:
        return None
    if isinstance(value, dict):
        items = {plain_text(k) if isinstance(k, str) else k: plain_data(v, depth + 1) for k, v in value.items()}
        if type(value) is dict:
            return items
        try:
            return type(value)(items)
        except Exception:  # a mapping type that cannot be built from a dict: a plain dict holds the same data
            return items
    if isinstance(value, list):
        return [plain_data(v, depth + 1) for v in value]
    return value


def inert_markdown(text: Any) -> str:
    """Markdown that shows the same words but carries no HTML tag and no link (a renderer decodes entities in a
    link's address, so no address can be made safe by rewriting it: the link itself becomes text)."""
    text = _TAG_START.sub("&lt;", plain_text(text))
    return text.replace("](", "]\\(").replace("]:", "]\\:")


def printable_name(name: str) -> str:
    """A file or folder name for messages: valid UTF-8, control characters shown as escapes."""
    text = plain_text(name)
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)[:200]
