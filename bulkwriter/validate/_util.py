"""Small column helpers shared by the validators: masks to row indices, error records."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.errors import ErrorCode, FieldError, short_repr
from bulkwriter.schema.field import FieldSchema

__all__ = ["ColumnResult", "error_rows", "make_errors", "type_label"]

#: (conformed array, errors with row indices relative to the array)
ColumnResult = tuple[pa.Array, list[FieldError]]


def error_rows(mask: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """Return the indices where a boolean mask is true (nulls count as false)."""
    if isinstance(mask, np.ndarray):
        return np.flatnonzero(mask)
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    if mask.null_count:
        mask = pc.fill_null(mask, False)
    return np.flatnonzero(mask.to_numpy(zero_copy_only=False))


def make_errors(
    rows: Iterable[int],
    *,
    code: ErrorCode,
    field: str,
    expected: str,
    got: Callable[[int], object],
    element: Callable[[int], int | None] | None = None,
) -> list[FieldError]:
    """Build one FieldError per row; ``got(row)`` gives the offending value (error path only)."""
    return [
        FieldError(
            code=code,
            field=field,
            row=int(r),
            expected=expected,
            got=_text(got(int(r))),
            element=None if element is None else element(int(r)),
        )
        for r in rows
    ]


def _text(value: object) -> str:
    if isinstance(value, str) and value.startswith("\x00got:"):
        return value[5:]
    return short_repr(value)


def described(text: str) -> str:
    """Mark ``text`` as a ready description for ``got`` (not repr'd again)."""
    return "\x00got:" + text


def type_label(field: FieldSchema) -> str:
    """A short label of the field's Milvus type, e.g. ``Int8`` or ``FloatVector(dim=384)``."""
    dtype = field.dtype.value
    if field.dim is not None:
        return f"{dtype}(dim={field.dim})"
    if field.element_type is not None:
        return f"Array<{field.element_type.value}>"
    return dtype


def cell(arr: pa.Array, row: int) -> object:
    """The Python value of one cell (error path only)."""
    return arr[row].as_py()
