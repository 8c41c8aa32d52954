"""Python integers given for float fields: each one must be held exactly, whatever its neighbours.

A column of Python numbers that mixes ``int`` and ``float`` (``[16777217, 0.5]``, or a vector
``[16777217, 1.5]``) becomes a floating Arrow column before validation sees it, so the check
that a float type holds an integer exactly (done on integer columns) would depend on what
else is in the batch. This check looks at the Python values themselves, per value: an
integer that the field's float type cannot hold exactly is ``not_exact``, in any row
position. Python floats are not judged (rounding a float64 to float32 is the standard
conversion). Cost: one vectorised comparison; only elements whose magnitude reaches the type's
exact-integer limit (``2**24`` for float32) are looked at one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.errors import FieldError, short_repr
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType

__all__ = ["inexact_ints"]

#: Float type of each field kind, and the magnitude below which every integer is exact.
_LIMITS: dict[DataType, tuple[str, int]] = {
    DataType.FLOAT: ("float32", 2**24),
    DataType.DOUBLE: ("float64", 2**53),
    DataType.FLOAT_VECTOR: ("float32", 2**24),
    DataType.FLOAT16_VECTOR: ("float16", 2**11),
    DataType.BFLOAT16_VECTOR: ("bfloat16", 2**8),
}


def _element_type(field: FieldSchema) -> DataType:
    return field.element_type if field.dtype is DataType.ARRAY and field.element_type else field.dtype


def _exact(value: int, kind: str) -> bool:
    try:
        if kind == "float64":
            return int(float(value)) == value
        as_float = np.float16(value) if kind == "float16" else np.float32(value)
        if not np.isfinite(as_float) or int(as_float) != value:
            return False
    except (OverflowError, ValueError):
        return False
    return kind != "bfloat16" or int(np.float32(value).view(np.uint32)) & 0xFFFF == 0


def inexact_ints(
    field: FieldSchema | None, values: list[Any], converted: pa.Array | np.ndarray
) -> list[FieldError]:
    """Integers among ``values`` that ``field``'s float type cannot hold exactly.

    Parameters
    ----------
    field : FieldSchema or None
        The field (Float, Double, a float vector, or an Array of Float/Double); any other
        field, or None, has no such rule.
    values : list
        The column's Python values (scalars, or one list per row).
    converted : pyarrow.Array or numpy.ndarray
        What ``values`` became: a floating Arrow column, a list column of floats, or a
        (rows, dim) NumPy matrix. Integer-typed columns are checked by validation instead.

    Returns
    -------
    list of FieldError
        Code ``not_exact`` (with ``element`` for list cells), rows relative to ``values``.
    """
    if field is None:
        return []
    kind_limit = _LIMITS.get(_element_type(field))
    if kind_limit is None:
        return []
    kind, limit = kind_limit
    if isinstance(converted, np.ndarray):
        if converted.dtype.kind != "f":
            return []
        matrix = converted.reshape(len(values), -1)
        rows, elements = np.nonzero(np.abs(matrix) >= limit)
        candidates: Iterable[tuple[int, int | None]] = zip(rows.tolist(), elements.tolist(), strict=True)
    elif pa.types.is_floating(converted.type):
        rows = np.flatnonzero(np.abs(converted.to_numpy(zero_copy_only=False)) >= limit)
        candidates = ((r, None) for r in rows.tolist())
    elif hasattr(converted.type, "value_type") and pa.types.is_floating(converted.type.value_type):
        flat = pc.list_flatten(converted).to_numpy(zero_copy_only=False)
        hits = np.flatnonzero(np.abs(flat) >= limit)
        if not len(hits):
            return []
        parents = pc.list_parent_indices(converted).to_numpy(zero_copy_only=False)
        offsets = np.asarray(converted.offsets) if hasattr(converted, "offsets") else None
        starts = None if offsets is None else offsets[:-1] - offsets[0]
        row_of = parents[hits]
        element_of = hits - (starts[row_of] if starts is not None else row_of * converted.type.list_size)
        candidates = zip(row_of.tolist(), element_of.tolist(), strict=True)
    else:
        return []
    errors = []
    for row, element in candidates:
        value = values[row] if element is None else values[row][element]
        is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
        if is_int and not _exact(int(value), kind):
            errors.append(
                FieldError(
                    "not_exact",
                    field.name,
                    row,
                    f"a number {kind} holds exactly (an integer beyond {limit:,} may not be)",
                    short_repr(value),
                    element,
                )
            )
    return errors
