"""Column-wise conversion of canonical Arrow columns to JSON values and JSON text.

This module owns the value rules of ``target-formats.md`` §2 ("Row JSON / JSONL value"
column, Milvus docs prepare-source-data: JSON) shared by the JSON, JSONL, CSV and Parquet
encoders. Every column is converted once, as a whole, to NumPy arrays or Python lists; rows
are then assembled by zipping the columns. No per-cell pyarrow scalar access.

Numbers keep their Milvus width when serialised: Float (``float32``) cells and vector
elements are handed to orjson as NumPy ``float32`` values (``OPT_SERIALIZE_NUMPY``), which
prints the shortest text that reads back to the same ``float32`` (``0.1``, not
``0.10000000149011612``). Float16 and BFloat16 vectors are decoded to their exact
``float32`` values, so the server's conversion back to 16 bits is exact.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import partial
from itertools import repeat
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.errors import FieldError, ValidationError, short_repr
from bulkwriter.gcpause import gc_paused
from bulkwriter.schema.collection import DYNAMIC_FIELD, CollectionSchema
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType

__all__ = [
    "DYNAMIC_KEYS_IN_META",
    "ORJSON_OPTIONS",
    "build_rows",
    "column_json_values",
    "dumps_json_document",
    "dumps_jsonl",
    "json_text_array",
    "json_texts",
    "null_mask",
    "sparse_dicts",
    "to_array",
    "vector_matrix",
]

#: How dynamic keys are written in row JSON / JSONL (``target-formats.md`` §2, "Dynamic
#: ``$meta``": "extra top-level keys and/or ``"$meta": {…}``").
#:
#: True (default): each row carries one ``"$meta": {…}`` key holding the dynamic object.
#: False: the dynamic keys are spread as top-level keys of the row, next to the fields.
#: This is the single switch to flip if Milvus 2.3 turns out to need top-level keys.
DYNAMIC_KEYS_IN_META: Final[bool] = True

#: orjson options for every JSON value written (NumPy arrays and scalars, float32 shortest).
ORJSON_OPTIONS: Final[int] = orjson.OPT_SERIALIZE_NUMPY

_T = TypeVar("_T")
_JSON_WS = str.maketrans({"\n": " ", "\r": " "})
_NUMERIC_ZERO: Final[dict[DataType, object]] = {
    DataType.BOOL: False,
    DataType.INT8: 0,
    DataType.INT16: 0,
    DataType.INT32: 0,
    DataType.INT64: 0,
    DataType.FLOAT: 0.0,
    DataType.DOUBLE: 0.0,
}


def to_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Return ``column`` as one contiguous ``pyarrow.Array`` (chunks combined)."""
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 1:
            return column.chunk(0)
        return column.combine_chunks()
    return column


def null_mask(arr: pa.Array) -> npt.NDArray[np.bool_] | None:
    """Return a bool array, True where ``arr`` is null; None when it has no nulls."""
    if arr.null_count == 0:
        return None
    mask: npt.NDArray[np.bool_] = arr.is_null().to_numpy(zero_copy_only=False)
    return mask


def _apply_nulls(values: list[_T | None], mask: npt.NDArray[np.bool_] | None) -> list[_T | None]:
    if mask is not None:
        for i in np.flatnonzero(mask).tolist():
            values[i] = None
    return values


def _primitive_numpy(arr: pa.Array, dtype: DataType) -> npt.NDArray[Any]:
    """Values of a bool/int/float column as NumPy (nulls replaced by zero, see null_mask)."""
    if arr.null_count:
        arr = arr.fill_null(_NUMERIC_ZERO[dtype])
    values: npt.NDArray[Any] = arr.to_numpy(zero_copy_only=False)
    return values


def _list_parts(arr: pa.Array) -> tuple[npt.NDArray[np.int64], pa.Array]:
    """Offsets (N+1, starting at 0) and the matching child values of a list column."""
    offsets = arr.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    start, stop = int(offsets[0]), int(offsets[-1])
    return offsets - start, arr.values.slice(start, stop - start)


def vector_matrix(field: FieldSchema, arr: pa.Array, *, decode_half: bool) -> npt.NDArray[Any]:
    """Return a dense vector column as one 2-D NumPy array.

    Parameters
    ----------
    field : FieldSchema
        A dense vector field (FloatVector, BinaryVector, Float16Vector, BFloat16Vector,
        Int8Vector).
    arr : pyarrow.Array
        The canonical ``fixed_size_list`` column (``target-formats.md`` §2 / schema.arrow).
    decode_half : bool
        For Float16/BFloat16: True returns the ``float32`` values, shape (N, dim) (the row
        JSON / CSV form, "list of dim numbers"); False returns the raw little-endian bytes,
        ``uint8`` shape (N, 2·dim) (the NumPy form).

    Returns
    -------
    numpy.ndarray
        C-contiguous, shape (N, width): FloatVector ``float32`` (N, dim); BinaryVector
        ``uint8`` (N, dim/8); Int8Vector ``int8`` (N, dim); Float16/BFloat16 as above.
        Rows that are null (none before Milvus 2.6.18) hold zeros.
    """
    width = arr.type.list_size
    child = arr.values.slice(arr.offset * width, len(arr) * width)
    if child.null_count:
        child = child.fill_null(0)
    flat = np.ascontiguousarray(child.to_numpy(zero_copy_only=False))
    matrix = flat.reshape(len(arr), width)
    if not decode_half:
        return matrix
    if field.dtype is DataType.FLOAT16_VECTOR:
        return matrix.view("<f2").astype(np.float32)
    if field.dtype is DataType.BFLOAT16_VECTOR:
        high = matrix.view("<u2").astype(np.uint32) << np.uint32(16)
        return high.view(np.float32)
    return matrix


def sparse_dicts(arr: pa.Array) -> list[dict[str, np.float32] | None]:
    """Return a SparseFloatVector column as ``{"<index>": value}`` dicts, one per row.

    The Milvus default sparse form for row JSON, CSV and Parquet strings
    (``target-formats.md`` §2, SparseFloatVector: object ``{"<index>": value}``). Indices keep
    their input order (the server sorts them); values are NumPy ``float32`` so orjson prints
    the shortest ``float32`` text. Null rows give None.
    """
    indices, values = arr.flatten()
    idx_offsets, idx_values = _list_parts(indices)
    val_offsets, val_values = _list_parts(values)
    keys: list[str] = idx_values.to_numpy(zero_copy_only=False).astype(str).tolist()
    vals: list[np.float32] = list(val_values.to_numpy(zero_copy_only=False).astype(np.float32))
    out: list[dict[str, np.float32] | None] = [
        dict(zip(keys[a:b], vals[c:d], strict=True))
        for a, b, c, d in zip(
            idx_offsets[:-1].tolist(),
            idx_offsets[1:].tolist(),
            val_offsets[:-1].tolist(),
            val_offsets[1:].tolist(),
            strict=True,
        )
    ]
    return _apply_nulls(out, null_mask(arr))


def _array_values(field: FieldSchema, arr: pa.Array) -> list[Any]:
    """Array<T> rows as NumPy slices (numbers, bools) or Python lists (VarChar)."""
    offsets, child = _list_parts(arr)
    bounds = zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
    out: list[Any]
    if field.element_type is DataType.VARCHAR:
        items: list[Any] = child.to_numpy(zero_copy_only=False).tolist()
        out = [items[a:b] for a, b in bounds]
    else:
        assert field.element_type is not None
        nums = np.ascontiguousarray(_primitive_numpy(child, field.element_type))
        out = [nums[a:b] for a, b in bounds]
    return _apply_nulls(out, null_mask(arr))


def _json_field_value(text: str) -> orjson.Fragment | str:
    """A JSON field cell: embedded when it is an object, else the text as a JSON string.

    Milvus reads a JSON field from row JSON as an object, or as a string holding JSON text;
    arrays and scalars must use the string form (``target-formats.md`` §2 JSON, §10 rule 7).
    Raw line breaks in the text can only be whitespace between tokens (JSON strings escape
    them), so they become spaces: an embedded object never breaks a JSON Lines line.
    """
    if text.lstrip().startswith("{"):
        return orjson.Fragment(text.translate(_JSON_WS))
    return text


def _fragments(arr: pa.Array) -> list[Any] | None:
    """JSON object texts as ``orjson.Fragment`` values, line breaks turned into spaces.

    Column-wise: the replacement runs in Arrow and the fragments are made by ``map``; None
    when a cell is null or not an object (the caller then goes cell by cell).
    """
    if arr.null_count:
        return None
    if len(arr) and not pc.all(pc.starts_with(pc.utf8_ltrim_whitespace(arr), "{")).as_py():
        return None
    if len(arr) and pc.any(pc.match_substring_regex(arr, "[\r\n]")).as_py():
        arr = pc.replace_substring_regex(arr, "[\r\n]", " ")
    return list(map(orjson.Fragment, arr.to_pylist()))


def column_json_values(field: FieldSchema | None, column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """Convert one canonical column to row-JSON values, one per row (nulls -> None).

    Follows ``target-formats.md`` §2, "Row JSON / JSONL value" (Milvus docs,
    prepare-source-data: JSON): Bool -> bool; Int8-Int64 -> int; Float -> NumPy ``float32``
    (shortest text); Double -> float; VarChar -> str; JSON -> ``orjson.Fragment`` for an
    object text, else the text as a string; Array -> list / 1-D NumPy slice; FloatVector,
    Float16Vector, BFloat16Vector -> 1-D ``float32`` (dim,); BinaryVector -> 1-D ``uint8``
    (dim/8,); Int8Vector -> 1-D ``int8`` (dim,); SparseFloatVector -> ``{"<index>": value}``.

    Parameters
    ----------
    field : FieldSchema or None
        The field; None for the dynamic ``$meta`` column (values become
        ``orjson.Fragment`` objects of the stored JSON object text).
    column : pyarrow.ChunkedArray or pyarrow.Array
        The canonical column (``bulkwriter.schema.arrow``).

    Returns
    -------
    list
        One value per row, ready for ``orjson.dumps(..., option=ORJSON_OPTIONS)``.
    """
    arr = to_array(column)
    if field is None:  # $meta: a JSON object text per row
        fragments = _fragments(arr)
        if fragments is not None:
            return fragments
        texts: list[str | None] = arr.to_numpy(zero_copy_only=False).tolist()
        return [orjson.Fragment(t.translate(_JSON_WS)) if t is not None else None for t in texts]
    dtype = field.dtype
    mask = null_mask(arr)
    if dtype in _NUMERIC_ZERO:
        nums = _primitive_numpy(arr, dtype)
        # float32 stays NumPy for the shortest float32 text; others become Python scalars.
        values: list[Any] = list(nums) if dtype is DataType.FLOAT else nums.tolist()
        return _apply_nulls(values, mask)
    if dtype is DataType.VARCHAR:
        strings: list[Any] = arr.to_numpy(zero_copy_only=False).tolist()
        return strings
    if dtype is DataType.JSON:
        fragments = _fragments(arr)
        if fragments is not None:
            return fragments
        raw: list[str | None] = arr.to_numpy(zero_copy_only=False).tolist()
        return [_json_field_value(t) if t is not None else None for t in raw]
    if dtype is DataType.ARRAY:
        return _array_values(field, arr)
    if dtype is DataType.SPARSE_FLOAT_VECTOR:
        return sparse_dicts(arr)
    matrix = vector_matrix(field, arr, decode_half=True)
    return _apply_nulls(list(matrix), mask)


def json_texts(values: Sequence[Any]) -> list[str | None]:
    """Serialise row-JSON values one by one to JSON text (None stays None).

    Used for CSV cells and Parquet sparse strings, which hold "JSON list text" / "JSON
    object text" (``target-formats.md`` §2, CSV cell and Parquet columns).
    """
    dumps = orjson.dumps
    return [dumps(v, option=ORJSON_OPTIONS).decode() if v is not None else None for v in values]


def json_text_array(values: Sequence[Any], type: pa.DataType | None = None) -> pa.Array:
    """The texts of :func:`json_texts` as one Arrow string column, without Python ``str`` cells.

    Parameters
    ----------
    values : sequence
        Row-JSON values as made by :func:`column_json_values` (e.g. 1-D ``float32`` arrays of
        shape (dim,) for vectors, lists for Arrays); None for a null cell.
    type : pyarrow.DataType, optional
        ``pa.string()`` (default) or ``pa.large_string()`` (CSV cells).

    Returns
    -------
    pyarrow.Array
        One JSON text per value (null where the value is None), as orjson writes it with
        :data:`ORJSON_OPTIONS`. Each value is dumped by ``map(orjson.dumps, ...)`` into a
        binary column (no decoding per cell).
    """
    dumped = list(map(_DUMPS, values))
    nulls = np.fromiter(map(operator.is_, values, repeat(None)), dtype=bool, count=len(values))
    binary = pa.array(dumped, pa.binary(), mask=nulls if nulls.any() else None)
    return binary.cast(type or pa.string())


_DUMPS = partial(orjson.dumps, option=ORJSON_OPTIONS)


def _spread_meta(rows: list[dict[str, Any]], metas: list[str | None], field_names: set[str]) -> None:
    """Move each row's ``$meta`` object keys to top-level keys (DYNAMIC_KEYS_IN_META False)."""
    errors: list[FieldError] = []
    for i, (row, text) in enumerate(zip(rows, metas, strict=True)):
        if text is None:
            continue
        extra: dict[str, Any] = orjson.loads(text)
        clash = field_names.intersection(extra)
        if clash:
            key = min(clash)
            errors.append(
                FieldError(
                    "dynamic_key_clash",
                    DYNAMIC_FIELD,
                    i,
                    "dynamic keys that are not field names",
                    short_repr(key),
                )
            )
            continue
        row.update(extra)
    if errors:
        raise ValidationError(errors)


def build_rows(
    schema: CollectionSchema, table: pa.Table, *, meta_object: bool | None = None
) -> list[dict[str, Any]]:
    """Build the row objects of row JSON / JSONL for one canonical chunk.

    Each row has the input fields in collection order (a null cell is a JSON ``null``),
    then the dynamic keys: as one ``"$meta": {…}`` object when ``meta_object`` is true, or
    spread as top-level keys otherwise (``target-formats.md`` §2 and §3; Milvus docs,
    prepare-source-data: JSON).

    Parameters
    ----------
    schema : CollectionSchema
        The collection of the table.
    table : pyarrow.Table
        A validated chunk in the canonical form (``bulkwriter.schema.arrow``).
    meta_object : bool, optional
        None (default) follows :data:`DYNAMIC_KEYS_IN_META`.

    Returns
    -------
    list of dict
        One dict per row, values as made by :func:`column_json_values`.

    Raises
    ------
    ValidationError
        Only when dynamic keys are spread: a dynamic key equals a field name
        (code ``dynamic_key_clash``; row is the index within the table).
    """
    if meta_object is None:
        meta_object = DYNAMIC_KEYS_IN_META
    names = [f.name for f in schema.input_fields]
    has_meta = schema.enable_dynamic_field and DYNAMIC_FIELD in table.column_names
    with gc_paused():  # a dict (and lists) per row, no cycles: see bulkwriter.gcpause
        columns = [column_json_values(f, table.column(f.name)) for f in schema.input_fields]
        if has_meta and meta_object:
            names.append(DYNAMIC_FIELD)
            columns.append(column_json_values(None, table.column(DYNAMIC_FIELD)))
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
        if has_meta and not meta_object:
            metas: list[str | None] = (
                to_array(table.column(DYNAMIC_FIELD)).to_numpy(zero_copy_only=False).tolist()
            )
            _spread_meta(rows, metas, {f.name for f in schema.fields})
    return rows


def dumps_json_document(rows: list[dict[str, Any]]) -> bytes:
    """Serialise rows as the ``{"rows": [...]}`` document (UTF-8, ``rows`` the only key).

    The form every Milvus version reads (``target-formats.md`` §4, Row JSON; Milvus docs,
    prepare-source-data: JSON).
    """
    return orjson.dumps({"rows": rows}, option=ORJSON_OPTIONS)


def dumps_jsonl(rows: list[dict[str, Any]]) -> bytes:
    """Serialise rows as JSON Lines: one object per line, each ending in ``\\n``, no blank line.

    ``target-formats.md`` §4, JSON Lines (Milvus 2.6.6+, Zilliz Cloud).
    """
    dumps = orjson.dumps
    option = ORJSON_OPTIONS | orjson.OPT_APPEND_NEWLINE
    return b"".join(dumps(row, option=option) for row in rows)
