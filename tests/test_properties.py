"""Property tests (hypothesis) of write() and validate() through the public API.

(a) Random valid schemas and rows, written in every format that can carry them and read back
    with independent readers (pyarrow.parquet, json, csv, numpy.load(allow_pickle=False)),
    give the input values after the documented encodings (target-formats.md §2: float32
    rounding for Float and FloatVector, float16 / bfloat16 rounding, default values filled in,
    JSON text parsed, dynamic keys in ``$meta``).
(b) Random rows with exactly one rule broken (target-formats.md §6) always raise a
    ValidationError whose first error names the right field and row, validate() reports the
    same, nothing else is raised, and no file is left anywhere under the destination's parent.

The Hypothesis profile comes from ``BULKWRITER_HYPOTHESIS_PROFILE`` (``ci`` default, ``slow``).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from format_helpers import read_file_rows
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    ALL_FORMATS,
    F32_MAX,
    PROFILE,
    InvalidCase,
    bf16_round,
    invalid_cases,
    numpy_compatible,
    row_lists,
    schemas,
)

import bulkwriter
from bulkwriter import CollectionSchema, DataType, FieldSchema

META = "$meta"

# --------------------------------------------------------------------------------------
# Expected values: the input after the documented encodings (target-formats.md §2)
# --------------------------------------------------------------------------------------


def _f32(value: Any) -> float:
    return float(np.float32(value))


def _parsed_json(value: Any) -> Any:
    """A JSON field input as its JSON value: text is parsed, other values are taken as is."""
    return json.loads(value) if isinstance(value, str) else value


def expected_value(f: FieldSchema, value: Any) -> Any:
    """The value a reader must find for input ``value`` of field ``f``."""
    if value is None:
        value = f.default_value  # null or missing: the default when there is one (§3)
        if value is None:
            return None
    dtype = f.dtype
    if dtype is DataType.FLOAT:
        return _f32(value)
    if dtype is DataType.JSON:
        return _parsed_json(value)
    if dtype is DataType.ARRAY:
        return [_f32(v) for v in value] if f.element_type is DataType.FLOAT else list(value)
    if dtype is DataType.FLOAT_VECTOR:
        return [_f32(v) for v in value]
    if dtype is DataType.FLOAT16_VECTOR:
        return [float(np.float16(v)) for v in value]
    if dtype is DataType.BFLOAT16_VECTOR:
        return [bf16_round(v) for v in value]
    if dtype is DataType.SPARSE_FLOAT_VECTOR:
        return {int(k): _f32(v) for k, v in value.items()}
    return value


def expected_rows(schema: CollectionSchema, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = {f.name for f in schema.fields}
    out = []
    for row in rows:
        want = {f.name: expected_value(f, row.get(f.name)) for f in schema.input_fields}
        if schema.enable_dynamic_field:
            want[META] = {k: v for k, v in row.items() if k not in names}
        out.append(want)
    return out


# --------------------------------------------------------------------------------------
# Independent readers: files -> rows of comparable Python values
# --------------------------------------------------------------------------------------


def _half_bytes(f: FieldSchema, raw: list[int]) -> list[float]:
    """Decode 2·dim little-endian bytes (Parquet/NumPy Float16/BFloat16, §2)."""
    data = np.array(raw, dtype=np.uint8)
    if f.dtype is DataType.FLOAT16_VECTOR:
        return [float(x) for x in data.view("<f2")]
    return [float(x) for x in (data.view("<u2").astype(np.uint32) << 16).view(np.float32)]


def decoded_value(f: FieldSchema | None, value: Any) -> Any:
    """Bring one decoded cell to the form of :func:`expected_value`."""
    if value is None:
        return None
    if f is None:  # $meta: a JSON object (text in Parquet, CSV and NumPy)
        return _parsed_json(value)
    dtype = f.dtype
    if dtype is DataType.JSON:
        return _parsed_json(value)
    if dtype is DataType.FLOAT:
        return _f32(value)
    if dtype in (DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR) and len(value) == 2 * (f.dim or 0):
        return _half_bytes(f, value)
    if dtype in (DataType.FLOAT_VECTOR, DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR):
        return [_f32(v) for v in value]
    if dtype is DataType.ARRAY and f.element_type is DataType.FLOAT:
        return [_f32(v) for v in value]
    if dtype is DataType.SPARSE_FLOAT_VECTOR:
        return {int(k): _f32(v) for k, v in _parsed_json(value).items()}
    if dtype is DataType.BINARY_VECTOR:
        return list(value)
    return value


def _csv_cell(f: FieldSchema | None, text: str, null_token: str) -> Any:
    """One CSV cell by the §2 CSV column: true/false, base-10, finite decimal, raw text, JSON."""
    if f is None:
        return json.loads(text)
    if f.accepts_null and text == null_token:
        return None
    dtype = f.dtype
    if dtype is DataType.BOOL:
        return {"true": True, "false": False}[text]
    if dtype.is_integer:
        return int(text)
    if dtype in (DataType.FLOAT, DataType.DOUBLE):
        return float(text)
    if dtype is DataType.VARCHAR:
        return text
    return json.loads(text)  # JSON, Array, vectors, sparse: JSON text


def _read_csv(path: Path, schema: CollectionSchema, null_token: str) -> list[dict[str, Any]]:
    by_name: dict[str, FieldSchema | None] = {f.name: f for f in schema.input_fields}
    by_name[META] = None
    with path.open(newline="", encoding="utf-8") as fh:
        records = list(csv.reader(fh))
    header = records[0]
    assert header == [f.name for f in schema.input_fields] + ([META] if schema.enable_dynamic_field else [])
    return [
        {h: _csv_cell(by_name[h], t, null_token) for h, t in zip(header, rec, strict=True)}
        for rec in records[1:]
    ]


def read_back(fmt: str, path: Path, schema: CollectionSchema, null_token: str) -> list[dict[str, Any]]:
    """Decode one written file (or NumPy folder) with a reader that is not bulkwriter."""
    rows = read_file_rows(fmt, path, lambda p: _read_csv(p, schema, null_token))
    columns: list[tuple[str, FieldSchema | None]] = [(f.name, f) for f in schema.input_fields]
    if schema.enable_dynamic_field:
        columns.append((META, None))
    for row in rows:
        assert set(row) == {name for name, _ in columns}, f"columns {sorted(row)}"
    return [{name: decoded_value(f, row[name]) for name, f in columns} for row in rows]


# --------------------------------------------------------------------------------------
# Format rules on top of the value rules (target-formats.md §4 CSV and NumPy)
# --------------------------------------------------------------------------------------


def format_conflict(
    fmt: str, schema: CollectionSchema, rows: list[dict[str, Any]]
) -> tuple[str, int, str] | None:
    """The first cell a format must refuse although the value is valid, as (field, row, code).

    CSV: a VarChar holding CR LF (Milvus's reader turns it into LF), or the null token ``\\N``
    as the value of a field that accepts nulls. NumPy: text ending in NUL (``<U`` drops it).
    A missing or null cell of a field with a default value holds the default (what is written).
    """
    for i, row in enumerate(rows):
        for f in schema.input_fields:
            value = row.get(f.name)
            if value is None and f.default_value is not None:
                value = f.default_value
            if f.dtype is not DataType.VARCHAR or not isinstance(value, str):
                continue
            if fmt == "csv" and "\r\n" in value:
                return f.name, i, "csv_crlf"
            if fmt == "csv" and f.accepts_null and value == "\\N":
                return f.name, i, "null_token_collision"
            if fmt == "numpy" and value.endswith("\x00"):
                return f.name, i, "numpy_trailing_nul"
    return None


def _files_under(root: str) -> list[str]:
    return [os.path.join(d, name) for d, _, names in os.walk(root) for name in names]


# --------------------------------------------------------------------------------------
# (a) valid rows round-trip
# --------------------------------------------------------------------------------------


@st.composite
def valid_writes(draw: st.DrawFn, fmt: str) -> tuple[CollectionSchema, list[dict[str, Any]], int | None]:
    """A schema the format carries, valid rows for it, and an optional rows-per-file cap."""
    schema = draw(schemas(for_numpy=fmt == "numpy"))
    rows = draw(row_lists(schema))
    return schema, rows, draw(st.none() | st.integers(1, 4))


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@PROFILE
@given(data=st.data())
def test_valid_rows_round_trip(fmt: str, data: st.DataObject) -> None:
    schema, rows, max_rows = data.draw(valid_writes(fmt))
    assert fmt != "numpy" or numpy_compatible(schema)
    conflict = format_conflict(fmt, schema, rows)
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "out"
        if conflict is not None:
            with pytest.raises(bulkwriter.ValidationError) as info:
                bulkwriter.write(rows, dest, schema=schema, format=fmt, max_rows_per_file=max_rows)
            first = info.value.errors[0]
            assert (first.field, first.code) == (conflict[0], conflict[2])
            assert first.row == conflict[1]
            assert _files_under(tmp) == []
            return
        assert bulkwriter.validate(rows, schema=schema) == []
        result = bulkwriter.write(rows, dest, schema=schema, format=fmt, max_rows_per_file=max_rows)
        null_token = result.import_options.get("nullkey", "")
        got: list[dict[str, Any]] = []
        for written in result.files:
            part = read_back(fmt, Path(written.path), schema, null_token)
            assert len(part) == written.rows
            assert max_rows is None or written.rows <= max_rows
            got.extend(part)
    want = expected_rows(schema, rows)
    assert result.rows_written == len(rows) == len(got)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"row {i}: " + "; ".join(
            f"{k}: got {g[k]!r}, want {w[k]!r}" for k in w if g[k] != w[k]
        )


# --------------------------------------------------------------------------------------
# (b) just-invalid rows: a typed error naming the field and row, nothing written
# --------------------------------------------------------------------------------------


@st.composite
def invalid_writes(draw: st.DrawFn) -> tuple[str, CollectionSchema, InvalidCase]:
    fmt = draw(st.sampled_from(ALL_FORMATS))
    schema = draw(schemas(for_numpy=fmt == "numpy"))
    return fmt, schema, draw(invalid_cases(schema))


def _check_first_error(
    errors: tuple[bulkwriter.FieldError, ...] | list[bulkwriter.FieldError], case: InvalidCase
) -> None:
    assert errors, "no error reported"
    first = errors[0]
    assert (first.field, first.row) == (case.field, case.row), f"{first} for {case.rule}"
    assert first.code in case.codes, f"{first} for {case.rule}"
    if case.element is not None:
        assert first.element == case.element, f"{first} for {case.rule}"
    assert len(errors) == 1, f"one rule broken, {len(errors)} errors: {errors}"


@PROFILE
@given(invalid_writes())
def test_just_invalid_rows_raise_a_typed_error_and_write_nothing(
    params: tuple[str, CollectionSchema, InvalidCase],
) -> None:
    fmt, schema, case = params
    _check_first_error(bulkwriter.validate(case.rows, schema=schema), case)
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "out"
        with pytest.raises(bulkwriter.ValidationError) as info:
            bulkwriter.write(case.rows, dest, schema=schema, format=fmt, max_rows_per_file=2)
        _check_first_error(info.value.errors, case)
        assert _files_under(tmp) == [], "a failed write left files behind"


# --------------------------------------------------------------------------------------
# Bugs the properties above found, kept as explicit regression examples.
# --------------------------------------------------------------------------------------

_PK = FieldSchema("id", DataType.INT64, is_primary=True)
_VEC = FieldSchema("v", DataType.FLOAT_VECTOR, dim=1)


def test_sparse_value_above_float32_range_is_refused() -> None:
    # Was: a sparse value above the float32 range (finite as a double) passes validation and
    # is written as inf (Parquet) or null (JSON); Milvus stores sparse values as float32.
    schema = CollectionSchema([_PK, FieldSchema("s", DataType.SPARSE_FLOAT_VECTOR)])
    rows = [{"id": 1, "s": {1: float(np.nextafter(F32_MAX, np.inf)) * 2}}]
    errors = bulkwriter.validate(rows, schema=schema)
    assert [(e.field, e.row) for e in errors] == [("s", 0)]


def test_float_default_value_must_fit_float32() -> None:
    # Was: FieldSchema accepted default_value=1e300 for a Float field (it only checked
    # finiteness); the filled cell was then written as inf.
    with pytest.raises(bulkwriter.SchemaError, match="default value"):
        FieldSchema("f", DataType.FLOAT, default_value=1e300)
    assert FieldSchema("d", DataType.DOUBLE, default_value=1e300).default_value == 1e300
    assert FieldSchema("f", DataType.FLOAT, default_value=F32_MAX).default_value == F32_MAX


def test_format_error_rows_count_from_the_whole_input() -> None:
    # Was: errors raised while encoding a file (csv_crlf, null_token_collision,
    # numpy_trailing_nul) carry the row index inside that file, not in the whole input, when
    # the input is split into several files (here: input row 3 is reported as row 1).
    schema = CollectionSchema([_PK, _VEC, FieldSchema("s", DataType.VARCHAR, max_length=9)])
    rows = [{"id": i, "v": [0.0], "s": "a\r\nb" if i == 3 else "x"} for i in range(5)]
    with tempfile.TemporaryDirectory() as tmp, pytest.raises(bulkwriter.ValidationError) as info:
        bulkwriter.write(rows, Path(tmp) / "o", schema=schema, format="csv", max_rows_per_file=2)
    assert [(e.field, e.row, e.code) for e in info.value.errors] == [("s", 3, "csv_crlf")]


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_empty_input_writes_an_empty_output(fmt: str) -> None:
    # Was: write([]) raised CommitError (the manifest's staging folder does not exist)
    # instead of committing an output with no files.
    schema = CollectionSchema([_PK, _VEC])
    with tempfile.TemporaryDirectory() as tmp:
        result = bulkwriter.write([], Path(tmp) / "o", schema=schema, format=fmt)
        assert result.rows_written == 0
