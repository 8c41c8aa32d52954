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
import pyarrow.compute as pc

from bulkwriter.errors import ErrorCode, FieldError, InputError, short_repr
from bulkwriter.owned import MAX_JSON_DEPTH, TooDeep
from bulkwriter.plain_arrow import without_views
from bulkwriter.schema.arrow import READ_TYPES
from bulkwriter.schema.collection import DYNAMIC_FIELD, CollectionSchema
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType
from bulkwriter.validate.batch import JSON_TEXT_METADATA
from bulkwriter.validate.exact_ints import inexact_ints
from bulkwriter.validate.finite import NOT_JSON_NUMBER
from bulkwriter.validate.json_text import json_quoted
from bulkwriter.validate.vectors import sparse_from_python

__all__ = ["DEFAULT_BATCH_ROWS", "Converted", "columns_to_batch", "rows_to_batch", "to_batches"]

#: Rows per record batch made from Python rows.
DEFAULT_BATCH_ROWS = 8_192
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_NOT_TOO_DEEP = f"JSON nested at most {MAX_JSON_DEPTH} levels deep (the serializer's limit)"


@dataclass(frozen=True)
class Converted:
    """One piece of input as Arrow columns, with the cells that could not be converted.

    Conversion never raises for a bad value: the cell becomes null and an error names its
    row, so a skipping writer keeps every other row of the piece.

    Attributes
    ----------
    batch : pyarrow.RecordBatch
        The piece's columns as given (any Arrow types; validation casts them). Rows named
        by ``errors`` are set aside before validation (their cells may be null).
    errors : tuple of FieldError
        Conversion errors, rows relative to ``batch``, sorted by row; every one names a row.
    rows : sequence of dict, optional
        The row dicts the piece came from (the rejects file shows their values).
    """

    batch: pa.RecordBatch
    errors: tuple[FieldError, ...] = ()
    rows: Sequence[Mapping[str, Any]] | None = None

    @property
    def num_rows(self) -> int:
        """Rows in the piece, bad ones included."""
        return int(self.batch.num_rows)

    def bad_rows(self) -> np.ndarray:
        """Sorted, distinct rows (int64) that hold a conversion error."""
        return np.unique(np.fromiter((e.row for e in self.errors), np.int64, len(self.errors)))

    def values(self, row: int) -> dict[str, Any]:
        """The input values of ``row`` as given (for the rejects file)."""
        if self.rows is not None:
            source = self.rows[row]
            return dict(source) if isinstance(source, Mapping) else {"row": source}
        return dict(self.batch.slice(row, 1).to_pylist()[0])


def to_batches(
    data: Any, schema: CollectionSchema, *, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Iterator[Converted]:
    """Yield the input as converted pieces (see the module docstring for what is accepted).

    Values Arrow cannot convert (e.g. ``[1, "a"]`` in one field) do not stop the stream: their
    cells are null in the piece's batch and :attr:`Converted.errors` names each one's row.

    Raises
    ------
    InputError
        The object is of no accepted kind, a column name is not a string, or columns have
        different lengths.
    """
    if isinstance(data, pa.RecordBatch):
        yield _arrow_piece(data)
    elif isinstance(data, pa.Table):
        yield from map(_arrow_piece, data.to_batches(max_chunksize=batch_rows))
    elif isinstance(data, pa.RecordBatchReader):
        yield from map(_arrow_piece, data)
    elif _module_of(data) == "pandas" and hasattr(data, "columns"):
        yield from _from_pandas(data, schema, batch_rows)
    elif _module_of(data) == "polars" and hasattr(data, "to_arrow"):
        yield from map(_arrow_piece, data.to_arrow().to_batches(max_chunksize=batch_rows))
    elif hasattr(data, "__arrow_c_stream__"):
        yield from map(_arrow_piece, pa.RecordBatchReader.from_stream(data))
    elif isinstance(data, Mapping):
        yield columns_to_batch(data, schema)
    elif isinstance(data, (list, tuple)) and (not data or isinstance(data[0], Mapping)):
        yield from _rows_in_batches(data, schema, batch_rows)
    elif isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise InputError(
            "data must be rows (list of dicts), a dict of columns, a pyarrow Table/RecordBatch/"
            f"RecordBatchReader, a pandas or polars DataFrame, or an iterable of those; got {type(data).__name__}"
        )
    else:
        yield from _from_iterable(data, schema, batch_rows)


def _arrow_piece(batch: pa.RecordBatch) -> Converted:
    """An Arrow batch as a piece; a column name given twice is refused (which one would count?)."""
    names = batch.schema.names
    if len(set(names)) != len(names):
        repeated = next(n for n in names if names.count(n) > 1)
        raise InputError(f"column '{repeated}' appears {names.count(repeated)} times in the input")
    return Converted(without_views(batch))


def _from_iterable(data: Iterable[Any], schema: CollectionSchema, batch_rows: int) -> Iterator[Converted]:
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


def _rows_in_batches(
    rows: Sequence[Mapping[str, Any]], schema: CollectionSchema, batch_rows: int
) -> Iterator[Converted]:
    for start in range(0, len(rows), batch_rows):
        yield rows_to_batch(rows[start : start + batch_rows], schema)


def _module_of(obj: object) -> str:
    return type(obj).__module__.split(".")[0]


def _from_pandas(df: Any, schema: CollectionSchema, batch_rows: int) -> Iterator[Converted]:
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
        yield columns_to_batch(columns, schema)
        if n == 0:
            return


def _field_map(schema: CollectionSchema) -> dict[str, FieldSchema]:
    return {f.name: f for f in schema.fields}


def columns_to_batch(columns: Mapping[str, Any], schema: CollectionSchema) -> Converted:
    """A dict of columns (lists, NumPy arrays, Arrow arrays) to one converted piece.

    Raises
    ------
    InputError
        A column name is not a string (or not valid UTF-8), a column is of no accepted
        kind, or the columns have different lengths.
    """
    fields = _field_map(schema)
    arrays: list[pa.Array] = []
    arrow_fields: list[pa.Field] = []
    errors: list[FieldError] = []
    length: int | None = None
    for name, values in columns.items():
        if not isinstance(name, str) or not _is_utf8(name):
            raise InputError(f"column names must be valid UTF-8 strings, got {short_repr(name)}")
        field = fields.get(name)
        if field is None and name != DYNAMIC_FIELD and _is_python_column(values):
            # a dynamic key's Python values: JSON text, exactly as from row dicts (null = absent)
            cells = list(values)
            array, column_errors = _dump_json(
                name, cells, keep_strings=False, present=[v is not None for v in cells]
            )
            arrow_field = pa.field(name, pa.string(), metadata=JSON_TEXT_METADATA)
        else:
            array, column_errors = _column_to_arrow(field, name, values)
            arrow_field = pa.field(name, array.type)
        errors.extend(column_errors)
        if length is None:
            length = len(array)
        elif len(array) != length:
            raise InputError(f"column '{name}' has {len(array)} rows, the first column has {length}")
        arrays.append(array)
        arrow_fields.append(arrow_field)
    batch = (
        pa.RecordBatch.from_arrays(arrays, schema=pa.schema(arrow_fields)) if arrays else pa.record_batch([])
    )
    return Converted(batch, _sorted(errors))


def _is_python_column(values: Any) -> bool:
    """A column of Python values (a list, tuple or object array), not a typed one."""
    return isinstance(values, (list, tuple)) or (isinstance(values, np.ndarray) and values.dtype == object)


def _sorted(errors: list[FieldError]) -> tuple[FieldError, ...]:
    return tuple(sorted(errors, key=lambda e: (e.row or 0, e.field)))


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    if not values:
        return pa.array([]), []
    if field is not None and field.dtype is DataType.SPARSE_FLOAT_VECTOR:
        return sparse_from_python(field, values)
    if field is not None and (field.dtype.is_dense_vector or field.dtype is DataType.ARRAY):
        unordered = _unordered_cells(field, name, values)
        if unordered:  # Arrow would take a set's (arbitrary) order, or a dict's keys
            array, errors = python_to_arrow(field, name, _without(values, unordered))
            return array, unordered + errors
    if field is not None and field.dtype.is_dense_vector and isinstance(values[0], np.ndarray):
        stacked = _stack(values)
        if stacked is not None:
            return _column_to_arrow(field, name, stacked)
    if field is not None and field.dtype is DataType.FLOAT_VECTOR and field.dim:
        packed = _pack_float_lists(values, field.dim)
        if packed is not None:
            array, errors = _column_to_arrow(field, name, packed)
            return array, errors + inexact_ints(field, values, packed)
    try:
        array = pa.array(values)
    except _CONVERSION_ERRORS:
        array, errors = _salvage(field, name, values)
    else:
        errors = []
    return array, errors + inexact_ints(field, values, array)


_CONVERSION_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    OverflowError,
    UnicodeEncodeError,
    TypeError,
    ValueError,
)


def _without(values: list[Any], errors: list[FieldError]) -> list[Any]:
    """``values`` with the cells of ``errors``' rows set to None."""
    cells = list(values)
    for error in errors:
        if error.row is not None:
            cells[error.row] = None
    return cells


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
    binary = pa.array(dumped, pa.binary())
    if dict in types or list in types:
        # deeper than MAX_JSON_DEPTH needs as many '[' or '{': counted column-wise, walked only then
        openers = pc.add(pc.count_substring(binary, "["), pc.count_substring(binary, "{"))
        deep = np.flatnonzero(pc.greater(openers, MAX_JSON_DEPTH).to_numpy(zero_copy_only=False))
        if any(too_deep(values[int(i)]) for i in deep):
            return None
    return binary.cast(pa.string())


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
        if too_deep(value):
            texts.append(None)
            errors.append(FieldError("json_too_deep", name, row, _NOT_TOO_DEEP, "deeper nesting"))
            continue
        if _has_non_finite(value):
            texts.append(None)
            errors.append(FieldError("not_finite", name, row, NOT_JSON_NUMBER, short_repr(value)))
            continue
        try:
            texts.append(orjson.dumps(value, option=_JSON_OPTIONS).decode())
        except (TypeError, orjson.JSONEncodeError) as exc:
            texts.append(None)
            if "UTF-8" in str(exc):  # orjson: "str is not valid UTF-8: surrogates not allowed"
                errors.append(
                    FieldError(
                        "invalid_utf8", name, row, "valid UTF-8 text (no lone surrogates)", short_repr(value)
                    )
                )
            else:
                errors.append(
                    FieldError("invalid_json", name, row, "a JSON-serialisable value", short_repr(value))
                )
    return pa.array(texts, pa.string()), errors


def _has_non_finite(value: Any) -> bool:
    """True when a JSON-bound value holds NaN or an infinity at any depth (orjson would write ``null``).

    Iterative, so it agrees with the serializer at every depth (nesting deeper than
    :data:`MAX_JSON_DEPTH` is refused on its own, see :func:`too_deep`).
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, np.ndarray) and item.dtype.kind == "f" and not bool(np.isfinite(item).all()):
            return True
    return False


def too_deep(value: Any) -> bool:
    """True when containers nest deeper than :data:`MAX_JSON_DEPTH` levels in ``value``."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, TooDeep):
            return True
        if isinstance(item, (dict, list, tuple)):
            if depth >= MAX_JSON_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


#: Arrow types the cells of a scalar field are converted to, one by one, on the error path.
_CELL_TYPES = {**READ_TYPES, DataType.VARCHAR: pa.string()}


_FLOAT_KINDS: dict[DataType | None, bool] = {
    DataType.FLOAT: True,
    DataType.DOUBLE: True,
    DataType.FLOAT_VECTOR: True,
    DataType.FLOAT16_VECTOR: True,
    DataType.BFLOAT16_VECTOR: True,
}


def _holds_int_beyond(value: Any, limit: int) -> bool:
    """True when ``value`` (a number, or a flat list of them) holds a Python int of magnitude above ``limit``."""
    cells = value if isinstance(value, (list, tuple)) else [value]
    return any(type(v) is int and abs(v) > limit for v in cells)


def _cell_type(field: FieldSchema | None) -> pa.DataType | None:
    """The Arrow type a cell of ``field`` must convert to, where the field alone tells it."""
    if field is None:
        return None
    if field.dtype is DataType.ARRAY and field.element_type in _CELL_TYPES:
        return pa.list_(_CELL_TYPES[field.element_type])
    if field.dtype is DataType.FLOAT_VECTOR:
        return pa.list_(pa.float64())
    if field.dtype is DataType.INT8_VECTOR:
        return pa.list_(pa.int64())
    return _CELL_TYPES.get(field.dtype)


def _has_null_type(value_type: pa.DataType) -> bool:
    if pa.types.is_null(value_type):
        return True
    return bool(hasattr(value_type, "value_type") and _has_null_type(value_type.value_type))


def _salvage(field: FieldSchema | None, name: str, values: list[Any]) -> tuple[pa.Array, list[FieldError]]:
    """A column Arrow refused as a whole: every cell that breaks it is named and set to null.

    Error path only (a Python step per cell). Cells are converted one by one to the field's
    Arrow type (scalars) or to the type of the first convertible cell ("like the first one").
    """
    expected = f"{field.dtype.value} values" if field is not None else "values of one type"
    target = _cell_type(field)
    first_type = target
    cells = list(values)
    errors: list[FieldError] = []
    for row, value in enumerate(values):
        if value is None:
            continue
        try:
            value_type = pa.array([value], type=first_type).type
        except OverflowError:
            errors.append(
                FieldError(
                    "int_out_of_range", name, row, expected + " (at most 64-bit integers)", short_repr(value)
                )
            )
        except UnicodeEncodeError:
            errors.append(
                FieldError(
                    "invalid_utf8", name, row, "valid UTF-8 text (no lone surrogates)", short_repr(value)
                )
            )
        except _CONVERSION_ERRORS:
            if _FLOAT_KINDS.get(field.dtype if field else None) and _holds_int_beyond(value, 2**53):
                # Arrow refuses such an int among floats: float64 cannot hold it exactly
                errors.append(
                    FieldError("not_exact", name, row, "a number float64 holds exactly", short_repr(value))
                )
            else:
                like = (
                    f" like the first one ({first_type})" if first_type is not None and target is None else ""
                )
                errors.append(FieldError("wrong_type", name, row, expected + like, short_repr(value)))
        else:
            if first_type is None and not _has_null_type(value_type):  # [] says nothing of the type
                first_type = value_type
            continue
        cells[row] = None
    try:
        array = pa.array(cells, type=first_type)
    except _CONVERSION_ERRORS:  # cells that convert alone but not together: refuse them all
        bad = [
            FieldError("wrong_type", name, row, expected, short_repr(value))
            for row, value in enumerate(cells)
            if value is not None
        ]
        return pa.nulls(len(values)), sorted(errors + bad, key=lambda e: e.row or 0)
    return array, errors


def rows_to_batch(rows: Sequence[Mapping[str, Any]], schema: CollectionSchema) -> Converted:
    """Turn row dicts into one converted piece, column by column.

    Keys outside the schema become JSON-text columns (marked with
    :data:`~bulkwriter.validate.batch.JSON_TEXT_METADATA`) that the validator merges into
    ``$meta`` when the dynamic field is on, and reports as unknown otherwise. The caller's
    dicts are never modified.

    A row that is not a mapping (``not_a_row``), or holds a key that is not a string
    (``bad_key``) or not valid UTF-8 (``invalid_utf8``), is named by an error and converted as
    an empty row; a value Arrow cannot convert is named by an error and its cell is null.
    Rows in the errors are relative to ``rows``.
    """
    errors: list[FieldError] = []
    usable: list[Any] | Sequence[Mapping[str, Any]] = rows
    if not all(map(isinstance, rows, repeat(Mapping))):
        usable = list(rows)
        for row, item in enumerate(rows):
            if not isinstance(item, Mapping):
                errors.append(
                    FieldError("not_a_row", "*", row, "a dict of field name to value", short_repr(item))
                )
                usable[row] = {}
    keys: set[Any] = set().union(*usable) if usable else set()
    bad_keys = {k for k in keys if not isinstance(k, str) or not _is_utf8(k)}
    if bad_keys:
        usable = list(usable)
        for row, item in enumerate(usable):
            found = [k for k in item if k in bad_keys]
            if found:
                code: ErrorCode
                code, expected = (
                    ("bad_key", "string keys")
                    if not isinstance(found[0], str)
                    else ("invalid_utf8", "keys of valid UTF-8 text (no lone surrogates)")
                )
                errors.append(FieldError(code, "*", row, expected, short_repr(found[0])))
                usable[row] = {}
        keys -= bad_keys
    fields = _field_map(schema)
    arrays: list[pa.Array] = []
    schema_fields: list[pa.Field] = []
    plain = set(map(type, usable)) <= {dict}
    get: Any = dict.get if plain else Mapping.get
    contains: Any = dict.__contains__ if plain else Mapping.__contains__
    for name in sorted(keys, key=lambda k: (k not in fields, k)):
        values = list(map(get, usable, repeat(name)))
        field = fields.get(name)
        if field is None or name == DYNAMIC_FIELD:
            if name == DYNAMIC_FIELD:
                array, column_errors = _json_texts(name, values)
                schema_fields.append(pa.field(name, pa.string()))
            else:
                present = list(map(contains, usable, repeat(name)))
                array, column_errors = _dump_json(name, values, keep_strings=False, present=present)
                schema_fields.append(pa.field(name, pa.string(), metadata=JSON_TEXT_METADATA))
        else:
            array, column_errors = python_to_arrow(field, name, values)
            schema_fields.append(pa.field(name, array.type))
        errors.extend(column_errors)
        arrays.append(array)
    if arrays:
        batch = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(schema_fields))
    else:  # no keys at all: still as many rows as given
        batch = pa.RecordBatch.from_arrays([pa.nulls(len(rows))], names=["__bulkwriter_rows"]).select([])
    return Converted(batch, _sorted(errors), rows)
