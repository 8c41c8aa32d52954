"""Column checks and casts for scalar fields: Bool, integers, floats, VarChar and JSON.

Rules (target-formats.md §6, Milvus "Prepare Source Data"): integers in range for their width,
no bools in number fields, floats cast to integers only when integral; Float and Double finite;
VarChar valid UTF-8 of at most ``max_length`` UTF-8 bytes; JSON valid JSON text.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.errors import FieldError
from bulkwriter.schema.arrow import canonical_type
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType
from bulkwriter.validate._util import ColumnResult, cell, described, error_rows, make_errors, type_label
from bulkwriter.validate.finite import nonfinite_errors

__all__ = [
    "MAX_JSON_BYTES",
    "check_json_texts",
    "conform_bool",
    "conform_float",
    "conform_int",
    "conform_json",
    "conform_varchar",
    "json_size_errors",
    "wrong_type",
]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def wrong_type(field: FieldSchema, arr: pa.Array, what: str = "") -> ColumnResult:
    """Report a column whose Arrow type cannot become the field's type: one error per non-null row.

    Every such row is named (not only the first), so a skipping write sets them all aside in
    one step and keeps the null rows a nullable field accepts.
    """
    label = what or f"{type_label(field)} values"
    errors = make_errors(
        error_rows(pc.is_valid(arr)),
        code="wrong_type",
        field=field.name,
        expected=label,
        got=lambda r: described(f"{_short(cell(arr, r))} (column of Arrow type {arr.type})"),
    )
    return pa.nulls(len(arr), canonical_type(field)), errors


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def conform_bool(field: FieldSchema, arr: pa.Array) -> ColumnResult:
    """Bool: only a boolean column is accepted (no 0/1 integers, no strings)."""
    if pa.types.is_boolean(arr.type):
        return arr, []
    return wrong_type(field, arr, "true or false")


def conform_int(field: FieldSchema, arr: pa.Array) -> ColumnResult:
    """Int8/16/32/64: integers in range; integral floats are taken, fractions are not.

    Raises nothing; returns errors ``int_out_of_range``, ``not_integral``, ``not_finite`` or
    ``wrong_type`` with row indices relative to ``arr``.
    """
    bits = field.dtype.int_bits
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    target = canonical_type(field)
    expected = f"{field.dtype.value} in [{lo}, {hi}]"
    errors: list[FieldError] = []
    if pa.types.is_floating(arr.type):
        as_float = arr.cast(pa.float64())
        bad_finite = error_rows(pc.invert(pc.is_finite(as_float)))
        errors += make_errors(
            bad_finite, code="not_finite", field=field.name, expected=expected, got=lambda r: cell(arr, r)
        )
        finite = pc.if_else(pc.is_finite(as_float), as_float, 0.0)
        bad_frac = error_rows(pc.not_equal(pc.trunc(finite), finite))
        errors += make_errors(
            bad_frac, code="not_integral", field=field.name, expected=expected, got=lambda r: cell(arr, r)
        )
        bound = 2.0 ** (bits - 1)  # exact in float64, unlike 2**63 - 1
        out_of_range = error_rows(pc.or_(pc.less(finite, -bound), pc.greater_equal(finite, bound)))
        errors += make_errors(
            out_of_range,
            code="int_out_of_range",
            field=field.name,
            expected=expected,
            got=lambda r: cell(arr, r),
        )
        if errors:
            return pa.nulls(len(arr), target), sorted(errors, key=_row)
        return pc.cast(pc.trunc(as_float), target, safe=False), []
    if not pa.types.is_integer(arr.type):
        return wrong_type(field, arr, expected)
    if arr.type == target:
        return arr, []
    if arr.null_count < len(arr):
        bounds = pc.min_max(arr)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low < lo or high > hi:
            values = arr.to_pylist()  # error path only
            bad = [i for i, v in enumerate(values) if v is not None and not lo <= v <= hi]
            errors = make_errors(
                bad, code="int_out_of_range", field=field.name, expected=expected, got=lambda r: cell(arr, r)
            )
            return pa.nulls(len(arr), target), errors
    return arr.cast(target), []


def _row(error: FieldError) -> int:
    return -1 if error.row is None else error.row


def conform_float(field: FieldSchema, arr: pa.Array) -> ColumnResult:
    """Float/Double: finite numbers; integers only where exactly representable.

    Float (float32) values above the float32 range are ``float_out_of_range``; NaN and
    infinities are ``not_finite`` (target-formats.md §2: "NaN and ±Inf are rejected").
    """
    target = canonical_type(field)
    expected = f"a finite {'float32' if field.dtype is DataType.FLOAT else 'float64'}"
    if pa.types.is_integer(arr.type):
        as_float = arr.cast(target, safe=False)
        lossy = error_rows(pc.not_equal(as_float.cast(pa.int64(), safe=False), arr.cast(pa.int64())))
        if len(lossy):
            errors = make_errors(
                lossy,
                code="not_exact",
                field=field.name,
                expected=expected + " that holds the integer exactly",
                got=lambda r: cell(arr, r),
            )
            return pa.nulls(len(arr), target), errors
        return as_float, []
    if not pa.types.is_floating(arr.type):
        return wrong_type(field, arr, expected)
    errors = make_errors(
        error_rows(pc.invert(pc.is_finite(arr))),
        code="not_finite",
        field=field.name,
        expected=expected,
        got=lambda r: cell(arr, r),
    )
    if field.dtype is DataType.FLOAT and arr.type != pa.float32():
        finite = pc.if_else(pc.is_finite(arr), arr, 0.0)
        errors += make_errors(
            error_rows(pc.greater(pc.abs(finite), _FLOAT32_MAX)),
            code="float_out_of_range",
            field=field.name,
            expected=expected,
            got=lambda r: cell(arr, r),
        )
    if errors:
        return pa.nulls(len(arr), target), sorted(errors, key=_row)
    return arr.cast(target, safe=False), []


def _as_string(arr: pa.Array) -> pa.Array | None:
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_dictionary(arr.type) and pa.types.is_string(arr.type.value_type):
        return arr.cast(pa.string())
    return None


def conform_varchar(field: FieldSchema, arr: pa.Array, *, label: str | None = None) -> ColumnResult:
    """VarChar: valid UTF-8 strings of at most ``max_length`` UTF-8 bytes.

    The limit counts bytes, as the server does (Milvus docs, "String Field": ``max_length``
    is in bytes), so 'é' counts 2 and an emoji 4.
    """
    strings = _as_string(arr)
    limit = field.max_length or 0
    expected = f"a string of at most {limit} UTF-8 bytes"
    if strings is None:
        return wrong_type(field, arr, expected)
    try:
        strings.validate(full=True)
    except pa.ArrowInvalid:
        bad = [
            i for i, v in enumerate(strings.cast(pa.binary()).to_pylist()) if v is not None and not _utf8(v)
        ]
        return pa.nulls(len(arr), pa.string()), make_errors(
            bad,
            code="invalid_utf8",
            field=label or field.name,
            expected="valid UTF-8 text",
            got=lambda r: strings.cast(pa.binary())[r].as_py(),
        )
    lengths = pc.binary_length(strings)
    if strings.null_count < len(strings) and pc.max(lengths).as_py() > limit:
        bad_rows = error_rows(pc.greater(lengths, limit))
        errors = make_errors(
            bad_rows,
            code="too_long",
            field=label or field.name,
            expected=expected,
            got=lambda r: described(f"{lengths[r].as_py()} bytes ({_short(cell(strings, r))})"),
        )
        return strings, errors
    return strings, []


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


#: Largest JSON value, UTF-8 bytes (Milvus "JSON Field": a JSON field value is at most 64 KB;
#: the dynamic field ``$meta`` is a JSON field too).
MAX_JSON_BYTES = 65_536


def conform_json(field: FieldSchema, arr: pa.Array) -> ColumnResult:
    """JSON: valid JSON text of at most 65,536 UTF-8 bytes.

    Strings are JSON text; structs, maps, lists, numbers and booleans become JSON text (as
    the same values given in Python rows do).

    Parsing with orjson also bounds nesting (orjson refuses documents nested deeper than
    1,024 levels) and refuses ``NaN``/``Infinity``, which are not JSON.
    """
    strings = _as_string(arr)
    if strings is None:
        if not (_is_nested(arr.type) or _is_json_scalar(arr.type)):
            return wrong_type(field, arr, "a JSON value or JSON text")
        nonfinite = nonfinite_errors(field.name, arr)
        if nonfinite:  # orjson would write them as null
            return pa.nulls(len(arr), pa.string()), nonfinite
        values = (arr.cast(pa.float64()) if pa.types.is_float16(arr.type) else arr).to_pylist()
        if pa.types.is_map(arr.type):
            values = [None if v is None else dict(v) for v in values]
        strings = pa.array([None if v is None else orjson.dumps(v).decode() for v in values], pa.string())
    return strings, check_json_texts(field.name, strings)


def _is_nested(t: pa.DataType) -> bool:
    """A struct, map or any Arrow list kind (polars hands lists over as ``large_list``)."""
    return bool(
        pa.types.is_struct(t)
        or pa.types.is_map(t)
        or pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    )


def _is_json_scalar(t: pa.DataType) -> bool:
    """Numbers and booleans: JSON values as they are (a Python ``0`` in a row is taken too)."""
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t))


def json_size_errors(name: str, strings: pa.Array) -> list[FieldError]:
    """Errors for cells above :data:`MAX_JSON_BYTES` UTF-8 bytes (sorted by row)."""
    lengths = pc.binary_length(strings)
    if not len(strings) or (pc.max(lengths).as_py() or 0) <= MAX_JSON_BYTES:
        return []
    too_big = error_rows(pc.greater(lengths, MAX_JSON_BYTES))
    return make_errors(
        too_big,
        code="json_too_large",
        field=name,
        expected=f"JSON of at most {MAX_JSON_BYTES} UTF-8 bytes",
        got=lambda r: described(f"{lengths[r].as_py()} bytes"),
    )


def check_json_texts(name: str, strings: pa.Array) -> list[FieldError]:
    """Errors for cells that are not JSON text or are above :data:`MAX_JSON_BYTES`.

    Every non-null cell is parsed by orjson through ``map`` (no Python bytecode per cell);
    only when one fails are the cells looked at one by one to name every bad row.
    """
    errors = json_size_errors(name, strings)
    try:
        deque(map(orjson.loads, strings.drop_null().to_pylist()), maxlen=0)
    except orjson.JSONDecodeError:
        texts = strings.to_pylist()
        bad = [i for i, t in enumerate(texts) if t is not None and not _is_json(t)]
        errors += make_errors(
            bad, code="invalid_json", field=name, expected="valid JSON text", got=lambda r: texts[r]
        )
    return sorted(errors, key=_row)


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True
