"""One funnel for inputs: everything becomes a stream of ``pyarrow.RecordBatch``.

Accepted (``write`` and ``Writer.write``):

- a list (or tuple) of row dicts: ``[{"id": 1, "vec": [...]}, ...]``;
- a dict of columns: lists, 1-D NumPy arrays, 2-D NumPy arrays (vectors, shape (rows, dim)),
  pyarrow arrays;
- ``pyarrow.Table``, ``RecordBatch``, ``RecordBatchReader`` and any object with
  ``__arrow_c_stream__``;
- pandas and polars DataFrames (recognised without importing them);
- any iterable (e.g. a generator) of the above, or of single row dicts (gathered into
  batches; :func:`is_row` tells a row from a dict of columns by the schema).

Columns keep the Arrow types the input has; the validators cast them to the canonical form.
Python values that Arrow cannot infer one type for (e.g. ``[1, "a"]``) are reported as
``wrong_type`` errors by row, not raised from deep inside pyarrow.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import repeat, starmap
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from bulkwriter.errors import FieldError, InputError, ValidationError, short_repr
from bulkwriter.schema.collection import DYNAMIC_FIELD, CollectionSchema
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType
from bulkwriter.validate.batch import JSON_TEXT_METADATA
from bulkwriter.validate.finite import NOT_JSON_NUMBER
from bulkwriter.validate.json_text import json_quoted
from bulkwriter.validate.vectors import sparse_from_python

__all__ = ["DEFAULT_BATCH_ROWS", "RejectedBatch", "rows_to_batch", "to_batches"]

#: Rows per record batch made from Python rows.
DEFAULT_BATCH_ROWS = 8_192
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


@dataclass(frozen=True)
class RejectedBatch:
    """A batch of Python values that could not even become Arrow columns.

    Attributes
    ----------
    errors : tuple of FieldError
        Why, with row indices relative to the batch.
    num_rows : int
        Rows the batch held (so later row indices stay right).
    rows : sequence of dict, optional
        The row dicts, when the batch came from rows (lets a skipping writer keep the good ones).
    """

    errors: tuple[FieldError, ...]
    num_rows: int
    rows: Sequence[Mapping[str, Any]] | None = None


def to_batches(
    data: Any, schema: CollectionSchema, *, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Iterator[pa.RecordBatch | RejectedBatch]:
    """Yield the input as record batches (see the module docstring for what is accepted).

    Python values Arrow cannot convert (e.g. ``[1, "a"]`` in one field) do not stop the
    stream: their batch comes as a :class:`RejectedBatch` naming rows and fields.

    Raises
    ------
    InputError
        The object is of no accepted kind, or columns have different lengths.
    """
    if isinstance(data, pa.RecordBatch):
        yield data
    elif isinstance(data, pa.Table):
        yield from data.to_batches(max_chunksize=batch_rows)
    elif isinstance(data, pa.RecordBatchReader):
        yield from data
    elif _module_of(data) == "pandas" and hasattr(data, "columns"):
        yield from _from_pandas(data, schema, batch_rows)
    elif _module_of(data) == "polars" and hasattr(data, "to_arrow"):
        yield from data.to_arrow().to_batches(max_chunksize=batch_rows)
    elif hasattr(data, "__arrow_c_stream__"):
        yield from pa.RecordBatchReader.from_stream(data)
    elif isinstance(data, Mapping):
        yield _columns_or_rejected(data, schema)
    elif isinstance(data, (list, tuple)) and (not data or isinstance(data[0], Mapping)):
        yield from _rows_in_batches(data, schema, batch_rows)
    elif isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise InputError(
            "data must be rows (list of dicts), a dict of columns, a pyarrow Table/RecordBatch/"
            f"RecordBatchReader, a pandas or polars DataFrame, or an iterable of those; got {type(data).__name__}"
        )
    else:
        yield from _from_iterable(data, schema, batch_rows)


def _from_iterable(
    data: Iterable[Any], schema: CollectionSchema, batch_rows: int
) -> Iterator[pa.RecordBatch | RejectedBatch]:
    """An iterable of inputs; single row dicts (e.g. a generator of rows) are gathered into batches."""
    rows: list[Mapping[str, Any]] = []
    for item in data:
        if isinstance(item, Mapping) and is_row(item, schema):
            rows.append(item)
            if len(rows) >= batch_rows:
                yield from _rows_in_batches(rows, schema, batch_rows)
                rows = []
            continue
        if rows:
            yield from _rows_in_batches(rows, schema, batch_rows)
            rows = []
        yield from to_batches(item, schema, batch_rows=batch_rows)
    if rows:
        yield from _rows_in_batches(rows, schema, batch_rows)


_COLUMN_TYPES = (np.ndarray, pa.Array, pa.ChunkedArray)


def is_row(item: Mapping[str, Any], schema: CollectionSchema) -> bool:
    """Tell one row dict from a dict of columns, by the schema.

    A dict of columns holds a sequence for every field; a row holds a scalar for a scalar field
    (Bool, numbers, VarChar) and a flat list of numbers for a dense vector field. A dict whose
    values are all NumPy or Arrow arrays is taken as columns.
    """
    if all(isinstance(v, _COLUMN_TYPES) for v in item.values()):
        return False
    fields = _field_map(schema)
    for name, value in item.items():
        field = fields.get(name)
        if field is None or field.dtype in (DataType.JSON, DataType.ARRAY, DataType.SPARSE_FLOAT_VECTOR):
            continue
        if field.dtype.is_dense_vector:
            if isinstance(value, (bytes, bytearray)):
                return True
            if isinstance(value, (list, tuple, np.ndarray)):
                first = value[0] if len(value) else None
                return not isinstance(first, (list, tuple, np.ndarray, bytes))
            continue
        return not isinstance(value, (list, tuple, *_COLUMN_TYPES))
    return True


def _columns_or_rejected(data: Mapping[str, Any], schema: CollectionSchema) -> pa.RecordBatch | RejectedBatch:
    try:
        return _columns_to_batch(data, schema)
    except ValidationError as exc:
        first: Any = next(iter(data.values()), [])
        return RejectedBatch(exc.errors, len(first) if hasattr(first, "__len__") else 0)


def _rows_in_batches(
    rows: Sequence[Mapping[str, Any]], schema: CollectionSchema, batch_rows: int
) -> Iterator[pa.RecordBatch | RejectedBatch]:
    for start in range(0, len(rows), batch_rows):
        part = rows[start : start + batch_rows]
        try:
            yield rows_to_batch(part, schema)
        except ValidationError as exc:
            yield RejectedBatch(exc.errors, len(part), part)


def _module_of(obj: object) -> str:
    return type(obj).__module__.split(".")[0]


def _from_pandas(df: Any, schema: CollectionSchema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """pandas: numeric and string columns through Arrow; object columns as Python values."""
    n = len(df)
    for start in range(0, max(n, 1), batch_rows):
        part = df.iloc[start : start + batch_rows]
        columns: dict[str, Any] = {}
        for name in part.columns:
            series = part[name]
            if series.dtype == object:
                columns[str(name)] = series.tolist()
            else:
                columns[str(name)] = pa.Array.from_pandas(series)
        yield _columns_to_batch(columns, schema)
        if n == 0:
            return


def _field_map(schema: CollectionSchema) -> dict[str, FieldSchema]:
    return {f.name: f for f in schema.fields}


def _columns_to_batch(columns: Mapping[str, Any], schema: CollectionSchema) -> pa.RecordBatch:
    """A dict of columns (lists, NumPy arrays, Arrow arrays) to one record batch."""
    fields = _field_map(schema)
    arrays: list[pa.Array] = []
    names: list[str] = []
    errors: list[FieldError] = []
    length: int | None = None
    for name, values in columns.items():
        if not isinstance(name, str):
            raise InputError(f"column names must be strings, got {name!r}")
        array, column_errors = _column_to_arrow(fields.get(name), name, values)
        errors.extend(column_errors)
        if length is None:
            length = len(array)
        elif len(array) != length:
            raise InputError(f"column '{name}' has {len(array)} rows, the first column has {length}")
        arrays.append(array)
        names.append(name)
    if errors:
        raise ValidationError(errors, schema.name)
    return pa.RecordBatch.from_arrays(arrays, names=names) if arrays else pa.record_batch([])


def _column_to_arrow(field: FieldSchema | None, name: str, values: Any) -> tuple[pa.Array, list[FieldError]]:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks(), []
    if isinstance(values, pa.Array):
        return values, []
    if isinstance(values, np.ndarray):
        if values.ndim == 2:
            flat = pa.array(np.ascontiguousarray(values).reshape(-1))
            return pa.FixedSizeListArray.from_arrays(flat, values.shape[1]), []
        if values.ndim == 1 and values.dtype != object:
            return pa.array(values), []
        values = values.tolist() if values.ndim == 1 else list(values)
    if isinstance(values, (list, tuple)):
        return python_to_arrow(field, name, list(values))
    raise InputError(
        f"column '{name}': expected a list, NumPy array or pyarrow array, got {type(values).__name__}"
    )


def python_to_arrow(
    field: FieldSchema | None, name: str, values: list[Any]
) -> tuple[pa.Array, list[FieldError]]:
    """Turn one column of Python values into an Arrow array with as little per-value work as the type allows.

    JSON and sparse cells need a Python step (each cell is a dict); vectors made of equal-shape
    NumPy arrays are stacked in one copy; everything else goes through Arrow's own conversion.
    """
    if field is not None and field.dtype is DataType.JSON:
        return _json_texts(name, values)
    if field is not None and field.dtype is DataType.SPARSE_FLOAT_VECTOR:
        array, errors = sparse_from_python(field, values)
        return (array if array is not None else pa.nulls(len(values))), errors
    if field is not None and (field.dtype.is_dense_vector or field.dtype is DataType.ARRAY):
        unordered = _unordered_cells(field, name, values)
        if unordered:  # Arrow would take a set's (arbitrary) order, or a dict's keys
            return pa.nulls(len(values)), unordered
    if field is not None and field.dtype.is_dense_vector and values and isinstance(values[0], np.ndarray):
        stacked = _stack(values)
        if stacked is not None:
            return _column_to_arrow(field, name, stacked)
    if field is not None and field.dtype is DataType.FLOAT_VECTOR and field.dim:
        packed = _pack_float_lists(values, field.dim)
        if packed is not None:
            return _column_to_arrow(field, name, packed)
    try:
        return pa.array(values), []
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError, TypeError, ValueError):
        return pa.nulls(len(values)), [_diagnose(field, name, values)]


def _pack_float_lists(values: list[Any], dim: int) -> np.ndarray | None:
    """Float lists of a FloatVector column as one float32 (rows, dim) array, or None.

    ``struct.pack`` of each row (through ``itertools.starmap``: no Python bytecode per row)
    converts the floats in C, about twice as fast as Arrow's or NumPy's list conversion. It
    rounds to float32 as NumPy's cast does. Anything else (a row that is not a list of
    ``dim`` numbers, a value outside the float32 range, lists of integers, which keep their
    exactness check) returns None and takes the general path, which names the bad row.
    """
    first = values[0]
    if type(first) not in (list, tuple) or not first or type(first[0]) is not float:
        return None
    if not set(map(type, values)) <= _SEQUENCE_TYPES:  # a dict, set or iterator would unpack silently
        return None
    try:
        data = b"".join(starmap(_float_struct(dim).pack, values))
    except (struct.error, TypeError, OverflowError):
        return None
    return np.frombuffer(data, dtype=np.float32).reshape(len(values), dim)


_SEQUENCE_TYPES: frozenset[type] = frozenset({list, tuple})
_UNORDERED_TYPES: frozenset[type] = frozenset({set, frozenset, dict})


def _unordered_cells(field: FieldSchema, name: str, values: list[Any]) -> list[FieldError]:
    """Vector or Array cells given as a set or dict: refused, they have no element order."""
    if not set(map(type, values)) & _UNORDERED_TYPES:
        return []
    return [
        FieldError(
            "wrong_type",
            name,
            row,
            f"a list of {field.dtype.value} values (a set or dict has no element order)",
            short_repr(value),
        )
        for row, value in enumerate(values)
        if type(value) in _UNORDERED_TYPES
    ]


@lru_cache(maxsize=16)
def _float_struct(dim: int) -> struct.Struct:
    return struct.Struct(f"<{dim}f")


def _stack(values: list[Any]) -> np.ndarray | None:
    first = values[0]
    if all(isinstance(v, np.ndarray) and v.shape == first.shape and v.dtype == first.dtype for v in values):
        return np.stack(values)
    return None


def _json_texts(name: str, values: list[Any]) -> tuple[pa.Array, list[FieldError]]:
    """JSON field cells: strings are taken as JSON text (checked later), other values dumped."""
    return _dump_json(name, values, keep_strings=True, present=None)


def _dump_json(
    name: str, values: list[Any], *, keep_strings: bool, present: list[bool] | None
) -> tuple[pa.Array, list[FieldError]]:
    """Dump each value to JSON text with orjson; None where absent (``present`` False) or null.

    NaN and infinities are refused (orjson would silently write ``null``), as are values orjson
    cannot serialise; each gives a FieldError at its row.

    Fast path (no Python bytecode per cell): when every cell is present and is a container or
    number (no None, and no strings when ``keep_strings``), the cells are dumped with
    ``map(orjson.dumps, ...)`` into one binary column; only cells whose text holds ``null``
    (where a NaN would show) are checked further. Anything unusual takes the cell-by-cell path.
    """
    if present is None or all(present):
        fast = _dump_json_fast(values, keep_strings=keep_strings)
        if fast is not None:
            return fast, []
    return _dump_json_slow(name, values, keep_strings=keep_strings, present=present)


_FAST_JSON_TYPES = frozenset({dict, list, int, float, bool})


def _dump_json_fast(values: list[Any], *, keep_strings: bool) -> pa.Array | None:
    """JSON text of every cell, or None when a cell needs the careful path."""
    types = set(map(type, values))
    allowed = _FAST_JSON_TYPES if keep_strings else _FAST_JSON_TYPES | {str}
    if not types <= allowed:
        return None
    if types == {str}:
        try:
            return json_quoted(pa.array(values, pa.string()))
        except (pa.ArrowException, UnicodeError):  # e.g. a lone surrogate: the careful path names it
            return None
    try:
        dumped = list(map(_DUMPS, values))
    except (TypeError, orjson.JSONEncodeError):
        return None
    if float in types or dict in types or list in types:
        suspects = np.flatnonzero(np.fromiter(map(_HAS_NULL, dumped, repeat(b"null")), bool, len(dumped)))
        if any(_has_non_finite(values[int(i)]) for i in suspects):
            return None
    return pa.array(dumped, pa.binary()).cast(pa.string())


_DUMPS = partial(orjson.dumps, option=orjson.OPT_SERIALIZE_NUMPY)
_HAS_NULL = bytes.__contains__


def _dump_json_slow(
    name: str, values: list[Any], *, keep_strings: bool, present: list[bool] | None
) -> tuple[pa.Array, list[FieldError]]:
    """Cell by cell, with an error record per bad cell (see :func:`_dump_json`)."""
    texts: list[str | None] = []
    errors: list[FieldError] = []
    for row, value in enumerate(values):
        if (present is not None and not present[row]) or (
            keep_strings and (value is None or isinstance(value, str))
        ):
            texts.append(None if present is not None and not present[row] else value)
            continue
        if _has_non_finite(value):
            texts.append(None)
            errors.append(FieldError("not_finite", name, row, NOT_JSON_NUMBER, short_repr(value)))
            continue
        try:
            texts.append(orjson.dumps(value, option=_JSON_OPTIONS).decode())
        except (TypeError, orjson.JSONEncodeError):
            texts.append(None)
            errors.append(
                FieldError("invalid_json", name, row, "a JSON-serialisable value", short_repr(value))
            )
    return pa.array(texts, pa.string()), errors


def _has_non_finite(value: Any, depth: int = 0) -> bool:
    """True when a JSON-bound value holds NaN or an infinity (orjson would write ``null``)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if depth > 64:
        return False  # orjson refuses such depth itself
    if isinstance(value, dict):
        return any(_has_non_finite(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_non_finite(v, depth + 1) for v in value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return not bool(np.isfinite(value).all())
    return False


def _diagnose(field: FieldSchema | None, name: str, values: list[Any]) -> FieldError:
    """Find the first value that breaks Arrow's conversion (error path only)."""
    expected = f"{field.dtype.value} values" if field is not None else "values of one type"
    first_type: pa.DataType | None = None
    for row, value in enumerate(values):
        if value is None:
            continue
        try:
            value_type = pa.array([value]).type
        except OverflowError:
            return FieldError(
                "int_out_of_range", name, row, expected + " (at most 64-bit integers)", short_repr(value)
            )
        except UnicodeEncodeError:
            return FieldError(
                "invalid_utf8", name, row, "valid UTF-8 text (no lone surrogates)", short_repr(value)
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            return FieldError("wrong_type", name, row, expected, short_repr(value))
        if first_type is None:
            first_type = value_type
            continue
        try:
            pa.array([values[_first_valid(values)], value])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            return FieldError(
                "wrong_type", name, row, f"{expected} like the first one ({first_type})", short_repr(value)
            )
    return FieldError("wrong_type", name, None, expected, "values Arrow cannot hold in one column")


def _first_valid(values: list[Any]) -> int:
    return next(i for i, v in enumerate(values) if v is not None)


def rows_to_batch(rows: Sequence[Mapping[str, Any]], schema: CollectionSchema) -> pa.RecordBatch:
    """Turn row dicts into one record batch, column by column.

    Keys outside the schema become JSON-text columns (marked with
    :data:`~bulkwriter.validate.batch.JSON_TEXT_METADATA`) that the validator merges into
    ``$meta`` when the dynamic field is on, and reports as unknown otherwise. The caller's
    dicts are never modified.

    Raises
    ------
    ValidationError
        A row is not a mapping, a key is not a string, or a column holds values Arrow
        cannot convert (rows relative to ``rows``).
    """
    if not all(map(isinstance, rows, repeat(Mapping))):
        row = next(i for i, r in enumerate(rows) if not isinstance(r, Mapping))
        raise ValidationError(
            [FieldError("not_a_row", "*", row, "a dict of field name to value", short_repr(rows[row]))],
            schema.name,
        )
    keys: set[Any] = set().union(*rows) if rows else set()
    bad_keys = [k for k in keys if not isinstance(k, str)]
    if bad_keys:
        row = next(i for i, r in enumerate(rows) if any(not isinstance(k, str) for k in r))
        raise ValidationError(
            [FieldError("bad_key", "*", row, "string keys", short_repr(bad_keys[0]))], schema.name
        )
    fields = _field_map(schema)
    arrays: list[pa.Array] = []
    schema_fields: list[pa.Field] = []
    errors: list[FieldError] = []
    plain = set(map(type, rows)) <= {dict}
    get: Any = dict.get if plain else Mapping.get
    contains: Any = dict.__contains__ if plain else Mapping.__contains__
    for name in sorted(keys, key=lambda k: (k not in fields, k)):
        values = list(map(get, rows, repeat(name)))
        field = fields.get(name)
        if field is None or name == DYNAMIC_FIELD:
            if name == DYNAMIC_FIELD:
                array, column_errors = _json_texts(name, values)
                schema_fields.append(pa.field(name, pa.string()))
            else:
                present = list(map(contains, rows, repeat(name)))
                array, column_errors = _dump_json(name, values, keep_strings=False, present=present)
                schema_fields.append(pa.field(name, pa.string(), metadata=JSON_TEXT_METADATA))
        else:
            array, column_errors = python_to_arrow(field, name, values)
            schema_fields.append(pa.field(name, array.type))
        errors.extend(column_errors)
        arrays.append(array)
    if errors:
        raise ValidationError(sorted(errors, key=lambda e: e.row or 0), schema.name)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(schema_fields))
