"""Column checks and casts for Array fields.

Rules (target-formats.md §2 and §6; Milvus docs "Array Field"): at most ``max_capacity``
elements per row, no null elements, each element valid for the element type (VarChar elements
at most ``max_length`` UTF-8 bytes).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.errors import FieldError
from bulkwriter.schema.arrow import canonical_type
from bulkwriter.schema.field import FieldSchema
from bulkwriter.validate._util import ColumnResult, described, error_rows, make_errors
from bulkwriter.validate.scalars import wrong_type
from bulkwriter.validate.vectors import parse_json_cells

__all__ = ["conform_array"]

ElementConformer = Callable[[FieldSchema, pa.Array], ColumnResult]


def conform_array(field: FieldSchema, arr: pa.Array, conform_element: ElementConformer) -> ColumnResult:
    """Check and cast an Array column to ``list<element canonical type>``.

    Parameters
    ----------
    field : FieldSchema
        An Array field.
    arr : pyarrow.Array
        list, large_list or fixed_size_list column, or JSON list text.
    conform_element : callable
        The scalar conformer used for the flattened elements.
    """
    target = canonical_type(field)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        parsed, errors = parse_json_cells(field, arr)
        if parsed is None:
            return pa.nulls(len(arr), target), errors
        arr = parsed
    if not (
        pa.types.is_list(arr.type)
        or pa.types.is_large_list(arr.type)
        or pa.types.is_fixed_size_list(arr.type)
    ):
        if pa.types.is_null(arr.type):
            return pa.nulls(len(arr), target), []
        return wrong_type(field, arr, f"a list of {field.element_type.value if field.element_type else '?'}")
    capacity = field.max_capacity or 0
    lengths = pc.fill_null(pc.list_value_length(arr), 0)
    too_many = error_rows(pc.greater(lengths, capacity))
    errors = make_errors(
        too_many,
        code="too_many_elements",
        field=field.name,
        expected=f"at most {capacity} elements (max_capacity)",
        got=lambda r: described(f"{lengths[r].as_py()} elements"),
    )
    lengths_np = lengths.to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.zeros(len(arr) + 1, dtype=np.int64)
    np.cumsum(lengths_np, out=starts[1:])
    flat = pc.list_flatten(arr)
    parents = pc.list_parent_indices(arr).to_numpy() if len(flat) else np.empty(0, np.int64)
    if flat.null_count:
        positions = error_rows(pc.is_null(flat))
        errors += [
            FieldError(
                "null_element",
                field.name,
                int(parents[p]),
                "no null elements (Milvus arrays cannot hold nulls)",
                "null",
                element=int(p - starts[parents[p]]),
            )
            for p in positions
        ]
    element_field = FieldSchema(
        name=field.name, dtype=field.element_type or field.dtype, max_length=field.max_length
    )
    values, element_errors = conform_element(element_field, flat)
    for e in element_errors:
        if e.row is None:
            errors.append(e)
            continue
        row = int(parents[e.row])
        errors.append(FieldError(e.code, e.field, row, e.expected, e.got, element=int(e.row - starts[row])))
    if errors:
        errors.sort(key=lambda e: (e.row if e.row is not None else -1, e.element or 0))
        return pa.nulls(len(arr), target), errors
    offsets = pa.array(starts.astype(np.int32))
    mask = pc.is_null(arr) if arr.null_count else None
    out = pa.ListArray.from_arrays(offsets, values.cast(target.value_type), mask=mask)
    return out, []
