"""One entry point per field: cast a column to its canonical Arrow type and apply null rules."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.errors import FieldError
from bulkwriter.schema.arrow import canonical_type
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType
from bulkwriter.validate._util import ColumnResult, described, error_rows, make_errors, type_label
from bulkwriter.validate.arrays import conform_array
from bulkwriter.validate.scalars import (
    conform_bool,
    conform_float,
    conform_int,
    conform_json,
    conform_varchar,
)
from bulkwriter.validate.vectors import conform_dense_vector, conform_sparse_vector

__all__ = ["conform_column", "conform_values"]


def conform_values(field: FieldSchema, arr: pa.Array) -> ColumnResult:
    """Check and cast the non-null values of ``arr`` for ``field`` (nulls pass through)."""
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), canonical_type(field)), []
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    dtype = field.dtype
    if dtype is DataType.BOOL:
        return conform_bool(field, arr)
    if dtype.is_integer:
        return conform_int(field, arr)
    if dtype in (DataType.FLOAT, DataType.DOUBLE):
        return conform_float(field, arr)
    if dtype is DataType.VARCHAR:
        return conform_varchar(field, arr)
    if dtype is DataType.JSON:
        return conform_json(field, arr)
    if dtype is DataType.ARRAY:
        return conform_array(field, arr, conform_values)
    if dtype is DataType.SPARSE_FLOAT_VECTOR:
        return conform_sparse_vector(field, arr)
    return conform_dense_vector(field, arr)


def conform_column(field: FieldSchema, arr: pa.Array | pa.ChunkedArray | None, num_rows: int) -> ColumnResult:
    """Return the canonical column for ``field`` and the errors found (rows relative to the batch).

    Null rules (Milvus docs "Nullable & Default"): a null (or missing) cell takes the
    field's default value when it has one; stays null when the field is nullable; is an
    error (``null``) otherwise. ``arr`` None means the column is absent from the input.
    """
    if arr is None:
        arr = pa.nulls(num_rows)
    elif isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    values, errors = conform_values(field, arr)
    if arr.null_count == 0:
        return values, errors
    if field.has_default:
        if errors:
            return values, errors
        return pc.fill_null(values, pa.scalar(field.default_value, canonical_type(field))), []
    if field.nullable:
        return values, errors
    errors = errors + _null_errors(field, arr)
    errors.sort(key=lambda e: (-1 if e.row is None else e.row, e.element or 0))
    return values, errors


def _null_errors(field: FieldSchema, arr: pa.Array) -> list[FieldError]:
    return make_errors(
        error_rows(pc.is_null(arr)),
        code="null",
        field=field.name,
        expected=f"a {type_label(field)} value (the field is not nullable and has no default)",
        got=lambda r: described("null or missing"),
    )
