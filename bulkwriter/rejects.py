"""Rejected rows: which rows an ``on_error="skip"`` write left out, why, and what they held.

The rejects file is JSON Lines, one line per broken rule::

    {"row": 17, "field": "age", "code": "int_out_of_range", "expected": "Int8 in [-128, 127]",
     "got": "300", "message": "row 17, field 'age': ...", "values": {"id": 17, "age": 300, ...}}

``row`` is the position in the whole input stream; ``values`` are the row's original values,
with vectors and long lists abbreviated to their first 8 items and a count, and long strings
cut to 200 characters. It is written beside the output (``<destination>.rejects.jsonl``),
never inside it, so an import of the destination folder cannot pick it up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from bulkwriter.errors import FieldError

__all__ = ["REJECTS_SUFFIX", "RejectLog", "abbreviate"]

#: Appended to the destination path to name the rejects file.
REJECTS_SUFFIX = ".rejects.jsonl"
_MAX_ITEMS = 8
_MAX_CHARS = 200
_MAX_DEPTH = 16


def abbreviate(value: Any, depth: int = 0) -> Any:
    """Shorten a value for a report: lists to 8 items plus a count, strings to 200 characters,
    nesting to 16 levels (deeper containers become ``"..."``)."""
    if isinstance(value, (bytes, bytearray)):
        value = list(value)
    if isinstance(value, (list, tuple, dict)) and depth >= _MAX_DEPTH:
        return "..."
    if isinstance(value, (list, tuple)):
        items = [abbreviate(v, depth + 1) for v in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            items.append(f"... ({len(value)} items)")
        return items
    if isinstance(value, dict):
        return {_text(str(k)): abbreviate(v, depth + 1) for k, v in list(value.items())[: _MAX_ITEMS * 4]}
    if isinstance(value, str):
        value = _text(value)
        return value if len(value) <= _MAX_CHARS else value[:_MAX_CHARS] + f"... ({len(value)} characters)"
    if isinstance(value, int) and not -(2**63) <= value < 2**64:  # beyond what orjson writes
        return str(value)
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
    return value


def _text(value: str) -> str:
    """``value`` as valid UTF-8 text: a lone surrogate is written as its ``\\udXXX`` escape."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


@dataclass
class RejectLog:
    """Collects rejected rows of one write and renders the rejects file.

    Attributes
    ----------
    errors : list of FieldError
        Every broken rule, rows as positions in the whole input.
    rows : set of int
        The rejected rows.
    """

    errors: list[FieldError] = field(default_factory=list)
    rows: set[int] = field(default_factory=set)
    _lines: list[bytes] = field(default_factory=list)

    def add(
        self,
        errors: Iterable[FieldError],
        offset: int,
        values: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> None:
        """Record ``errors`` whose rows are relative to input row ``offset``.

        ``values`` maps such a row to its values as given, when known.
        """
        for error in errors:
            shifted = error.shifted(offset)
            row_values = None
            if values is not None and error.row is not None and error.row in values:
                row_values = abbreviate(dict(values[error.row]))
            if shifted.row is not None:
                self.rows.add(shifted.row)
            self.errors.append(shifted)
            record = {
                "row": shifted.row,
                "field": error.field,
                "code": error.code,
                "element": error.element,
                "expected": error.expected,
                "got": error.got,
                "message": str(shifted),
                "values": row_values,
            }
            self._lines.append(orjson.dumps(record, default=str) + b"\n")

    def render(self) -> bytes:
        """The rejects file's bytes (JSON Lines)."""
        return b"".join(self._lines)
