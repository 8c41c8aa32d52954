"""Column checks and casts for vector fields: dense (float, binary, float16, bfloat16, int8) and sparse.

Rules (target-formats.md §2 and §6; Milvus docs "Prepare Source Data", "Sparse Vector"):
exact dimension per row; NaN and infinities rejected; BinaryVector as ``dim / 8`` bytes
(most significant bit first); Float16/BFloat16 stored as ``2 * dim`` little-endian bytes;
Int8Vector integers in [-128, 127]; sparse indices unsigned 32-bit below ``2**32 - 1`` and
unique per row, sparse values finite and non-negative.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.errors import ErrorCode, FieldError
from bulkwriter.schema.arrow import SPARSE_TYPE, canonical_type
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType
from bulkwriter.validate._util import ColumnResult, cell, described, error_rows, make_errors, type_label
from bulkwriter.validate.scalars import wrong_type

__all__ = ["conform_dense_vector", "conform_sparse_vector", "float32_to_bfloat16", "parse_json_cells"]

_SPARSE_INDEX_LIMIT = 2**32 - 1


def parse_json_cells(field: FieldSchema, arr: pa.Array) -> tuple[pa.Array | None, list[FieldError]]:
    """Parse a string column of JSON text (CSV input: vectors, arrays) into an Arrow column."""
    texts = arr.cast(pa.string()).to_pylist()
    values: list[object] = []
    errors: list[FieldError] = []
    for row, text in enumerate(texts):
        if text is None:
            values.append(None)
            continue
        try:
            values.append(orjson.loads(text))
        except orjson.JSONDecodeError:
            values.append(None)
            errors.append(
                FieldError(
                    "invalid_json", field.name, row, f"{type_label(field)} as JSON text", repr(text)[:60]
                )
            )
    if errors:
        return None, errors
    if field.dtype is DataType.SPARSE_FLOAT_VECTOR:
        parsed, errors = sparse_from_python(field, values)
        return (None, errors) if errors else (parsed, [])
    try:
        return pa.array(values), []
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None, [
            FieldError("wrong_type", field.name, 0, f"{type_label(field)} values", "mixed JSON values")
        ]


def _is_stringlike(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _is_listlike(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t))


def _row_width(field: FieldSchema, value_type: pa.DataType) -> int:
    """Elements per row the input must have, given the type of its elements."""
    dim = field.dim or 0
    dtype = field.dtype
    if dtype is DataType.BINARY_VECTOR:
        return dim // 8
    if dtype in (DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR) and pa.types.is_uint8(value_type):
        return 2 * dim  # already encoded bytes
    return dim


def conform_dense_vector(field: FieldSchema, arr: pa.Array) -> ColumnResult:
    """Check and cast a dense vector column to its canonical ``fixed_size_list``.

    Accepts list, large_list or fixed_size_list columns of numbers (2-D NumPy arrays arrive as
    fixed_size_list), binary cells for BinaryVector/Float16/BFloat16 (``dim/8`` or ``2*dim``
    bytes), and JSON list text. Null rows are left as nulls (the caller rejects them).
    """
    if _is_stringlike(arr.type):
        parsed, errors = parse_json_cells(field, arr)
        if parsed is None:
            return pa.nulls(len(arr), canonical_type(field)), errors
        arr = parsed
    if (
        pa.types.is_binary(arr.type)
        or pa.types.is_large_binary(arr.type)
        or pa.types.is_fixed_size_binary(arr.type)
    ):
        return _from_binary(field, arr)
    if not _is_listlike(arr.type) or not (
        pa.types.is_integer(arr.type.value_type)
        or pa.types.is_floating(arr.type.value_type)
        or pa.types.is_null(arr.type.value_type)
    ):
        return wrong_type(field, arr, f"{type_label(field)}: a list of numbers per row")
    width = _row_width(field, arr.type.value_type)
    if pa.types.is_fixed_size_list(arr.type) and arr.type.list_size == width and not arr.null_count:
        valid_rows = np.arange(len(arr))  # every row present, and of the right length by type
    else:
        valid = pc.is_valid(arr)
        lengths = pc.list_value_length(arr)
        bad_len = error_rows(pc.and_(valid, pc.not_equal(lengths, width)))
        if len(bad_len):
            errors = make_errors(
                bad_len,
                code="wrong_dim",
                field=field.name,
                expected=f"{width} values per row ({type_label(field)})",
                got=lambda r: described(f"{lengths[r].as_py()} values"),
            )
            return pa.nulls(len(arr), canonical_type(field)), errors
        valid_rows = error_rows(valid)
    flat = pc.list_flatten(arr)
    if flat.null_count:
        parents = pc.list_parent_indices(arr).to_numpy()
        rows = np.unique(parents[error_rows(pc.is_null(flat))])
        errors = make_errors(
            rows,
            code="null_element",
            field=field.name,
            expected="no null inside a vector",
            got=lambda r: cell(arr, r),
        )
        return pa.nulls(len(arr), canonical_type(field)), errors
    matrix_values = flat.to_numpy(zero_copy_only=False).reshape(-1, width) if width else np.empty((0, 0))
    return _from_matrix(
        field, arr, matrix_values, valid_rows, is_bytes=pa.types.is_uint8(arr.type.value_type)
    )


def _from_binary(field: FieldSchema, arr: pa.Array) -> ColumnResult:
    dim = field.dim or 0
    if field.dtype is DataType.BINARY_VECTOR:
        width = dim // 8
    elif field.dtype in (DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR):
        width = 2 * dim
    else:
        return wrong_type(field, arr, f"{type_label(field)}: a list of numbers per row")
    cells = arr.to_pylist()
    bad = [i for i, v in enumerate(cells) if v is not None and len(v) != width]
    if bad:
        errors = make_errors(
            bad,
            code="wrong_dim",
            field=field.name,
            expected=f"{width} bytes per row ({type_label(field)})",
            got=lambda r: described(f"{len(cells[r])} bytes"),
        )
        return pa.nulls(len(arr), canonical_type(field)), errors
    valid_rows = np.array([i for i, v in enumerate(cells) if v is not None], dtype=np.int64)
    data = np.frombuffer(b"".join(v for v in cells if v is not None), dtype=np.uint8).reshape(-1, width)
    return _from_matrix(field, arr, data, valid_rows, is_bytes=True)


def _from_matrix(
    field: FieldSchema, arr: pa.Array, values: np.ndarray, valid_rows: np.ndarray, *, is_bytes: bool
) -> ColumnResult:
    """Convert the (valid rows x width) matrix to the canonical element type, with checks."""
    dtype = field.dtype
    label = type_label(field)
    if dtype is DataType.FLOAT_VECTOR:
        converted, bad = _to_float(values, np.float32)
        expected = "finite values within the float32 range"
    elif dtype is DataType.FLOAT16_VECTOR:
        if is_bytes:
            converted = values.astype(np.uint8, copy=False)
            bad = _nonfinite(converted.view("<f2"))
        else:
            halves, bad = _to_float(values, np.float16)
            converted = halves.astype("<f2").view(np.uint8)
        expected = "finite values within the float16 range"
    elif dtype is DataType.BFLOAT16_VECTOR:
        if is_bytes:
            raw = values.astype(np.uint8)
            converted = raw
            bad = _nonfinite((raw.view("<u2").astype(np.uint32) << 16).view(np.float32))
        else:
            floats, bad = _to_float(values, np.float32)
            bf16 = float32_to_bfloat16(floats)
            bad = bad | _nonfinite((bf16.astype(np.uint32) << 16).view(np.float32))
            converted = bf16.astype("<u2").view(np.uint8)
        expected = "finite values within the bfloat16 range"
    elif dtype is DataType.BINARY_VECTOR:
        converted, bad = _to_int(values, 0, 255, np.uint8)
        expected = "integers in [0, 255] (dim / 8 bytes, most significant bit first)"
    else:  # INT8_VECTOR
        converted, bad = _to_int(values, -128, 127, np.int8)
        expected = "integers in [-128, 127]"
    target = canonical_type(field)
    width = target.list_size
    if bad.any():
        first: dict[int, tuple[int, int]] = {}
        for r, e in np.argwhere(bad):
            first.setdefault(int(valid_rows[r]), (int(r), int(e)))
        errors = [
            FieldError(
                code=_element_code(dtype, values[r, e], is_bytes=is_bytes),
                field=field.name,
                row=row,
                expected=f"{expected} ({label})",
                got=_element_text(arr, row, e),
                element=e,
            )
            for row, (r, e) in sorted(first.items())
        ]
        return pa.nulls(len(arr), target), errors
    n = len(arr)
    if len(valid_rows) == n:
        full = converted.reshape(n, width)
        mask = None
    else:
        full = np.zeros((n, width), dtype=converted.dtype)
        full[valid_rows] = converted.reshape(-1, width)
        mask = pa.array(np.ones(n, dtype=bool)).to_numpy(zero_copy_only=False)
        mask[valid_rows] = False
    flat = pa.array(full.reshape(-1), type=target.value_type)
    out = pa.FixedSizeListArray.from_arrays(flat, width, mask=None if mask is None else pa.array(mask))
    return out, []


def _element_code(dtype: DataType, value: object, *, is_bytes: bool) -> ErrorCode:
    """The rule a flagged vector element breaks (error path only, one element per row)."""
    if is_bytes:
        return "not_finite"  # a byte pattern of NaN or an infinity
    number = float(value)  # type: ignore[arg-type]
    if not np.isfinite(number):
        return "not_finite"
    if dtype in (DataType.BINARY_VECTOR, DataType.INT8_VECTOR):
        return "not_integral" if number != np.trunc(number) else "int_out_of_range"
    if isinstance(value, (int, np.integer)):
        return "not_exact"  # an integer the float type cannot hold exactly
    return "float_out_of_range"


def _element_text(arr: pa.Array, row: int, element: int) -> str:
    try:
        value = arr[row].as_py()
        if isinstance(value, (bytes, bytearray)):
            return repr(value[element : element + 1])
        return repr(value[element]) if value is not None else "null"
    except (IndexError, TypeError):  # pragma: no cover - defensive
        return "?"


def _nonfinite(values: np.ndarray) -> np.ndarray:
    """Element mask of NaN and infinities (or an all-false mask of shape (1, ...) that
    broadcasts to ``values``, when the sum is finite).

    A NaN or an infinity makes the sum NaN or infinite, so a finite sum proves every element
    finite (one pass, no mask). A sum that overflows on large finite values only sends the
    array to the exact element-wise check.
    """
    if values.dtype.kind == "f" and values.size:
        accumulate = np.float32 if values.dtype.itemsize < 4 else values.dtype
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(values.sum(dtype=accumulate)):
                return np.zeros((1,) * values.ndim, dtype=bool)  # broadcasts as all-false
    return np.asarray(~np.isfinite(values))


def _to_float(values: np.ndarray, dtype: type[np.floating]) -> tuple[np.ndarray, np.ndarray]:
    """Cast to ``dtype`` (no copy when already ``dtype``); flag NaN, infinities and values the
    cast turned infinite."""
    with np.errstate(over="ignore", invalid="ignore"):
        converted = values.astype(dtype, copy=False)
    if values.dtype.kind in "iu":
        bad = np.asarray(converted.astype(np.float64) != values)
    else:
        bad = _nonfinite(converted)
    return converted, bad


def _to_int(values: np.ndarray, lo: int, hi: int, dtype: type[np.integer]) -> tuple[np.ndarray, np.ndarray]:
    if values.dtype.kind in "iu":
        bad = np.asarray((values < lo) | (values > hi)) if values.size else np.zeros(values.shape, bool)
    else:
        with np.errstate(invalid="ignore"):
            bad = np.asarray(
                ~np.isfinite(values) | (values != np.trunc(values)) | (values < lo) | (values > hi)
            )
    safe = np.where(bad, 0, values) if bad.any() else values
    return safe.astype(dtype), bad


def float32_to_bfloat16(values: np.ndarray) -> np.ndarray:
    """Round float32 values to bfloat16 bit patterns (uint16), round-to-nearest-even.

    Parameters
    ----------
    values : numpy.ndarray of float32, any shape
        Finite values (NaN handling is the caller's).

    Returns
    -------
    numpy.ndarray of uint16, same shape
        The upper 16 bits of the rounded float32 (the bfloat16 format used by Milvus).
    """
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def sparse_from_python(field: FieldSchema, values: list[object]) -> tuple[pa.Array, list[FieldError]]:
    """Turn Python sparse rows into an Arrow ``struct<indices: list<int64>, values: list<float64>>``.

    A row is ``{index: value}``, ``{"indices": [...], "values": [...]}`` or the JSON text of
    either (Milvus "Sparse Vector": indices are non-negative integers, values floats).
    Indices must be integers: Python or NumPy integers, or base-10 ASCII digit strings (the
    keys of JSON text); floats, bools and other digit characters are refused, never
    truncated. Values must be real numbers (no bools). A bad row is named by an error
    (rows relative to ``values``) and its cell is null.
    """
    out: list[dict[str, list[int] | list[float]] | None] = []
    errors: list[FieldError] = []
    for row, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        parsed: object = value
        if isinstance(value, str):
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                parsed = None
        pair = _sparse_pair(parsed)
        if pair is None:
            errors.append(_sparse_shape_error(field, row, value))
        out.append(pair)
    return pa.array(out, type=_SPARSE_PYTHON_TYPE), errors


_SPARSE_PYTHON_TYPE = pa.struct([("indices", pa.list_(pa.int64())), ("values", pa.list_(pa.float64()))])
_INDEX_LIMIT_PY = 2**63


def _sparse_shape_error(field: FieldSchema, row: int, value: object) -> FieldError:
    return FieldError(
        "wrong_type",
        field.name,
        row,
        '{index: value} or {"indices": [...], "values": [...]} with integer indices and real values',
        repr(value)[:60],
    )


def _sparse_index(key: object) -> int | None:
    """An index as an int, or None when ``key`` is not an integer (see :func:`sparse_from_python`)."""
    if (
        type(key) is int
        or (isinstance(key, np.integer) and not isinstance(key, np.bool_))
        or (isinstance(key, str) and key.isascii() and key.isdigit())
    ):
        index = int(key)
    else:
        return None
    return index if -_INDEX_LIMIT_PY <= index < _INDEX_LIMIT_PY else None


def _is_real(value: object) -> bool:
    kind = type(value)
    if kind is float or kind is int:
        return True
    return isinstance(value, (np.integer, np.floating)) and not isinstance(value, np.bool_)


def _sparse_pair(value: object) -> dict[str, list[int] | list[float]] | None:
    if not isinstance(value, dict):
        return None
    if set(value) == {"indices", "values"}:
        raw_indices, raw_values = value["indices"], value["values"]
        if not (
            isinstance(raw_indices, (list, tuple, np.ndarray))
            and isinstance(raw_values, (list, tuple, np.ndarray))
        ):
            return None
        keys: list[object] = list(raw_indices)
        vals: list[object] = list(raw_values)
    else:
        keys, vals = list(value), list(value.values())
    indices = list(map(_sparse_index, keys))
    if None in indices or not all(map(_is_real, vals)):
        return None
    return {"indices": cast("list[int]", indices), "values": [float(cast(float, v)) for v in vals]}


def conform_sparse_vector(field: FieldSchema, arr: pa.Array) -> ColumnResult:
    """Check and cast a sparse vector column to ``struct<indices: list<uint32>, values: list<float32>>``.

    Accepts that struct form with any integer/float element types, an Arrow ``map`` of
    index to value, or JSON text (``{"index": value}`` or ``{"indices": [...], "values": [...]}``).
    """
    if _is_stringlike(arr.type):
        parsed, errors = sparse_from_python(field, arr.cast(pa.string()).to_pylist())
        if errors:
            return pa.nulls(len(arr), SPARSE_TYPE), errors
        arr = parsed
    if pa.types.is_map(arr.type):
        indices_list = pa.ListArray.from_arrays(arr.offsets, arr.keys)
        values_list = pa.ListArray.from_arrays(arr.offsets, arr.items)
    elif pa.types.is_struct(arr.type) and {arr.type.field(i).name for i in range(arr.type.num_fields)} == {
        "indices",
        "values",
    }:
        indices_list = pc.struct_field(arr, "indices")
        values_list = pc.struct_field(arr, "values")
    else:
        return wrong_type(field, arr, '{index: value} or {"indices": [...], "values": [...]}')
    valid = pc.is_valid(arr)
    n_idx = pc.fill_null(pc.list_value_length(indices_list), 0)
    n_val = pc.fill_null(pc.list_value_length(values_list), 0)
    errors = make_errors(
        error_rows(pc.and_(valid, pc.not_equal(n_idx, n_val))),
        code="sparse_length_mismatch",
        field=field.name,
        expected="as many indices as values",
        got=lambda r: described(f"{n_idx[r].as_py()} indices, {n_val[r].as_py()} values"),
    )
    if errors:
        return pa.nulls(len(arr), SPARSE_TYPE), errors
    idx_flat = pc.list_flatten(indices_list)
    val_flat = pc.list_flatten(values_list)
    parents = pc.list_parent_indices(indices_list).to_numpy() if len(idx_flat) else np.empty(0, np.int64)
    errors = _sparse_element_errors(field, arr, idx_flat, val_flat, parents)
    if errors:
        return pa.nulls(len(arr), SPARSE_TYPE), errors
    idx_np = (
        idx_flat.to_numpy(zero_copy_only=False).astype(np.uint32) if len(idx_flat) else np.empty(0, np.uint32)
    )
    val_np = (
        val_flat.to_numpy(zero_copy_only=False).astype(np.float32)
        if len(val_flat)
        else np.empty(0, np.float32)
    )
    offsets = np.zeros(len(arr) + 1, dtype=np.int32)
    np.cumsum(n_idx.to_numpy(zero_copy_only=False), out=offsets[1:])
    indices_out = pa.ListArray.from_arrays(pa.array(offsets), pa.array(idx_np, pa.uint32()))
    values_out = pa.ListArray.from_arrays(pa.array(offsets), pa.array(val_np, pa.float32()))
    mask = pc.invert(valid) if arr.null_count else None
    out = pa.StructArray.from_arrays([indices_out, values_out], fields=list(SPARSE_TYPE), mask=mask)
    return out, []


def _as_float32(values: np.ndarray) -> np.ndarray:
    """Cast to float32 (as Milvus stores sparse values); out-of-range values become inf, silently."""
    with np.errstate(over="ignore", invalid="ignore"):
        return values.astype(np.float32)


def _sparse_element_errors(
    field: FieldSchema, arr: pa.Array, idx_flat: pa.Array, val_flat: pa.Array, parents: np.ndarray
) -> list[FieldError]:
    if len(idx_flat) == 0:
        return []
    if not (pa.types.is_integer(idx_flat.type) or pa.types.is_null(idx_flat.type)) or not (
        pa.types.is_integer(val_flat.type) or pa.types.is_floating(val_flat.type)
    ):
        return [
            FieldError(
                "wrong_type", field.name, int(parents[0]), "integer indices and numeric values", str(arr.type)
            )
        ]
    if idx_flat.null_count or val_flat.null_count:
        bad = np.flatnonzero(
            idx_flat.is_null().to_numpy(zero_copy_only=False)
            | val_flat.is_null().to_numpy(zero_copy_only=False)
        )
        rows = np.unique(parents[bad])
        return make_errors(
            rows, code="null_element", field=field.name, expected="no nulls", got=lambda r: cell(arr, r)
        )
    idx = idx_flat.to_numpy(zero_copy_only=False)
    vals = val_flat.to_numpy(zero_copy_only=False).astype(np.float64)
    problems: dict[int, tuple[ErrorCode, str, str]] = {}
    checks: tuple[tuple[np.ndarray, ErrorCode, str], ...] = (
        (
            (idx < 0) | (idx >= _SPARSE_INDEX_LIMIT),
            "sparse_index_out_of_range",
            f"indices in [0, {_SPARSE_INDEX_LIMIT - 1}]",
        ),
        (~np.isfinite(vals), "not_finite", "finite values"),
        (
            np.isfinite(vals) & ~np.isfinite(_as_float32(vals)),
            "float_out_of_range",
            "values within the float32 range",
        ),
        (np.nan_to_num(vals, nan=0.0) < 0, "negative_sparse_value", "values >= 0"),
    )
    for mask, code, expected in checks:
        for pos in np.flatnonzero(mask):
            problems.setdefault(int(parents[pos]), (code, expected, f"{idx[pos]}: {vals[pos]!r}"))
    keys = (parents.astype(np.uint64) << np.uint64(32)) | (idx.astype(np.int64) & 0xFFFFFFFF).astype(
        np.uint64
    )
    order = np.sort(keys)
    dup = order[1:][order[1:] == order[:-1]]
    for key in dup:
        row = int(key >> np.uint64(32))
        problems.setdefault(
            row, ("sparse_duplicate_index", "unique indices per row", f"index {int(key & 0xFFFFFFFF)} twice")
        )
    return [
        FieldError(code, field.name, row, expected, got)
        for row, (code, expected, got) in sorted(problems.items())
    ]
