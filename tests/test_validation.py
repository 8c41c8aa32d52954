"""Every validation rule: a bad value must give the right typed error, field, row and element.

Rules: ../shared/docs/target-formats.md §2, §3 and §6.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import bulkwriter
from bulkwriter import CollectionSchema, DataType, FieldError, FieldSchema, ValidationError

ALL_TYPES = CollectionSchema(
    [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("b", DataType.BOOL),
        FieldSchema("i8", DataType.INT8),
        FieldSchema("i16", DataType.INT16),
        FieldSchema("i32", DataType.INT32),
        FieldSchema("f", DataType.FLOAT),
        FieldSchema("d", DataType.DOUBLE),
        FieldSchema("s", DataType.VARCHAR, max_length=8),
        FieldSchema("j", DataType.JSON),
        FieldSchema("arr", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=3, max_length=4),
        FieldSchema("iarr", DataType.ARRAY, element_type=DataType.INT16, max_capacity=3),
        FieldSchema("fv", DataType.FLOAT_VECTOR, dim=4),
        FieldSchema("bv", DataType.BINARY_VECTOR, dim=16),
        FieldSchema("hv", DataType.FLOAT16_VECTOR, dim=2),
        FieldSchema("bfv", DataType.BFLOAT16_VECTOR, dim=2),
        FieldSchema("i8v", DataType.INT8_VECTOR, dim=2),
        FieldSchema("sv", DataType.SPARSE_FLOAT_VECTOR),
        FieldSchema("n", DataType.INT32, nullable=True),
        FieldSchema("dflt", DataType.VARCHAR, max_length=8, default_value="zz"),
    ]
)


def good_row(i: int = 0) -> dict[str, Any]:
    return {
        "id": i,
        "b": True,
        "i8": -128,
        "i16": 32767,
        "i32": -(2**31),
        "f": 0.5,
        "d": 1e300,
        "s": "héllo",  # 6 UTF-8 bytes
        "j": {"k": [1, 2]},
        "arr": ["a", "bb"],
        "iarr": [1, -2],
        "fv": [0.0, 1.0, 2.0, 3.0],
        "bv": [255, 0],
        "hv": [0.5, -2.0],
        "bfv": [1.0, 3.0],
        "i8v": [127, -128],
        "sv": {1: 0.5, 7: 2.0},
        "n": None,
        "dflt": None,
    }


def errors_for(
    changes: dict[str, Any], *, row: int = 3, schema: CollectionSchema = ALL_TYPES
) -> list[FieldError]:
    rows = [good_row(i) for i in range(5)]
    for key, value in changes.items():
        if value is _DROP:
            del rows[row][key]
        else:
            rows[row][key] = value
    return bulkwriter.validate(rows, schema=schema)


_DROP = object()


def test_good_rows_are_valid() -> None:
    assert bulkwriter.validate([good_row(i) for i in range(5)], schema=ALL_TYPES) == []


@pytest.mark.parametrize(
    ("field", "value", "code", "element"),
    [
        ("i8", 128, "int_out_of_range", None),
        ("i8", -129, "int_out_of_range", None),
        ("i16", 32768, "int_out_of_range", None),
        ("i32", 2**31, "int_out_of_range", None),
        ("id", 2**63, "int_out_of_range", None),
        ("i8", 1.5, "not_integral", None),
        ("i8", True, "wrong_type", None),
        ("i32", "5", "wrong_type", None),
        ("b", 1, "wrong_type", None),
        ("f", float("nan"), "not_finite", None),
        ("f", float("inf"), "not_finite", None),
        ("f", 1e39, "float_out_of_range", None),
        ("d", float("-inf"), "not_finite", None),
        ("s", "ééééé", "too_long", None),  # 5 characters, 10 bytes > 8
        ("s", "\ud800", "invalid_utf8", None),
        ("s", 5, "wrong_type", None),
        ("j", "{not json", "invalid_json", None),
        ("j", {1, 2}, "invalid_json", None),
        ("arr", ["a", "b", "c", "d"], "too_many_elements", None),
        ("arr", ["a", "toolong"], "too_long", 1),
        ("arr", ["a", None], "null_element", 1),
        ("iarr", [1, 40000], "int_out_of_range", 1),
        ("fv", [0.0, 1.0, 2.0], "wrong_dim", None),
        ("fv", [0.0, float("nan"), 2.0, 3.0], "not_finite", 1),
        ("fv", [0.0, 1.0, 2.0, 1e39], "float_out_of_range", 3),
        ("fv", None, "null", None),
        ("bv", [1, 2, 3], "wrong_dim", None),
        ("bv", [256, 0], "int_out_of_range", 0),
        ("hv", [70000.0, 1.0], "float_out_of_range", 0),
        ("hv", [1.0, float("nan")], "not_finite", 1),
        ("bfv", [float("inf"), 1.0], "not_finite", 0),
        ("i8v", [128, 0], "int_out_of_range", 0),
        ("i8v", [1.5, 0], "not_integral", 0),
        ("sv", {1: -0.5}, "negative_sparse_value", None),
        ("sv", {1: float("nan")}, "not_finite", None),
        ("sv", {2**32 - 1: 1.0}, "sparse_index_out_of_range", None),
        ("sv", {"indices": [1, 1], "values": [1.0, 2.0]}, "sparse_duplicate_index", None),
        ("sv", {"indices": [1, 2], "values": [1.0]}, "sparse_length_mismatch", None),
        ("sv", [1, 2], "wrong_type", None),
        ("id", None, "null", None),
        ("unknown", 1, "unknown_field", None),
    ],
)
def test_bad_value_is_named(field: str, value: Any, code: str, element: int | None) -> None:
    errors = errors_for({field: value})
    assert errors, f"{field}={value!r} was accepted"
    first = errors[0]
    assert (first.code, first.field, first.row, first.element) == (code, field, 3, element), str(first)
    assert str(first).startswith(f"row 3, field '{field}'")


def test_missing_required_field_and_present_null_in_nullable() -> None:
    errors = errors_for({"b": _DROP})
    assert [(e.code, e.field, e.row) for e in errors] == [("null", "b", 3)]
    assert errors_for({"n": 5}) == []


def test_default_value_fills_null_and_missing() -> None:
    schema = CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("v", DataType.FLOAT_VECTOR, dim=1),
            FieldSchema("s", DataType.VARCHAR, max_length=4, default_value="dd"),
        ]
    )
    result_rows = [{"id": 1, "v": [1.0], "s": None}, {"id": 2, "v": [1.0]}, {"id": 3, "v": [1.0], "s": "x"}]
    assert bulkwriter.validate(result_rows, schema=schema) == []


def test_missing_column_is_one_error() -> None:
    table = pa.table({"id": [1, 2], "fv": [[1.0, 2.0, 3.0, 4.0]] * 2})
    schema = CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("fv", DataType.FLOAT_VECTOR, dim=4),
            FieldSchema("title", DataType.VARCHAR, max_length=5),
        ]
    )
    errors = bulkwriter.validate(table, schema=schema)
    assert [(e.code, e.field, e.row) for e in errors] == [("missing_field", "title", None)]


def test_duplicate_primary_keys_within_and_across_batches() -> None:
    rows = [good_row(i) for i in range(5)]
    rows[4]["id"] = 1
    errors = bulkwriter.validate(rows, schema=ALL_TYPES)
    assert [(e.code, e.row) for e in errors] == [("duplicate_primary_key", 4)]
    assert "row 1 has it too" in str(errors[0])
    more = [good_row(i) for i in range(5, 8)] + [good_row(2)]
    errors = bulkwriter.validate(iter([rows[:4], more]), schema=ALL_TYPES)
    assert [(e.code, e.row) for e in errors] == [("duplicate_primary_key", 7)]


def test_varchar_primary_key_duplicates() -> None:
    schema = CollectionSchema(
        [
            FieldSchema("pk", DataType.VARCHAR, is_primary=True, max_length=8),
            FieldSchema("v", DataType.FLOAT_VECTOR, dim=1),
        ]
    )
    errors = bulkwriter.validate({"pk": ["a", "b", "a"], "v": np.ones((3, 1), np.float32)}, schema=schema)
    assert [(e.code, e.row) for e in errors] == [("duplicate_primary_key", 2)]


def test_auto_id_primary_key_must_be_absent() -> None:
    schema = CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True, auto_id=True),
            FieldSchema("v", DataType.FLOAT_VECTOR, dim=1),
        ]
    )
    assert bulkwriter.validate([{"v": [1.0]}], schema=schema) == []
    errors = bulkwriter.validate([{"v": [1.0]}, {"id": 5, "v": [1.0]}], schema=schema)
    assert [(e.code, e.field, e.row) for e in errors] == [("auto_id_primary_key", "id", 1)]


def test_dynamic_field_keeps_extra_keys_and_rejects_clashes(tmp_path: Path) -> None:
    schema = CollectionSchema(
        [FieldSchema("id", DataType.INT64, is_primary=True), FieldSchema("v", DataType.FLOAT_VECTOR, dim=1)],
        enable_dynamic_field=True,
    )
    rows = [{"id": 1, "v": [1.0], "color": "red", "$meta": {"size": 3}}, {"id": 2, "v": [2.0]}]
    result = bulkwriter.write(rows, tmp_path / "out", schema=schema, format="parquet")
    import pyarrow.parquet as pq

    table = pq.read_table(result.files[0].path)
    assert table.column("$meta").to_pylist() == ['{"size":3,"color":"red"}', "{}"]
    errors = bulkwriter.validate([{"id": 1, "v": [1.0], "k": 1, "$meta": {"k": 2}}], schema=schema)
    assert [(e.code, e.row) for e in errors] == [("dynamic_key_clash", 0)]
    errors = bulkwriter.validate([{"id": 1, "v": [1.0], "$meta": "[1]"}], schema=schema)
    assert [(e.code, e.row) for e in errors] == [("invalid_meta", 0)]


def test_row_index_counts_the_whole_stream() -> None:
    batches = [[good_row(i) for i in range(5)], [good_row(i) for i in range(5, 10)]]
    batches[1][2]["i8"] = 1000
    errors = bulkwriter.validate(iter(batches), schema=ALL_TYPES)
    assert [(e.code, e.row) for e in errors] == [("int_out_of_range", 7)]


def test_columnar_inputs_validate_like_rows() -> None:
    schema = CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("v", DataType.FLOAT_VECTOR, dim=3),
            FieldSchema("small", DataType.INT8),
        ]
    )
    vectors = np.zeros((4, 3), np.float64)
    vectors[2, 1] = np.nan
    errors = bulkwriter.validate(
        {"id": np.arange(4), "v": vectors, "small": np.array([1, 2, 3, 500])}, schema=schema
    )
    assert [(e.code, e.field, e.row, e.element) for e in errors] == [
        ("not_finite", "v", 2, 1),
        ("int_out_of_range", "small", 3, None),
    ]


def test_mixed_python_types_are_reported_by_row() -> None:
    schema = CollectionSchema(
        [FieldSchema("id", DataType.INT64, is_primary=True), FieldSchema("v", DataType.FLOAT_VECTOR, dim=1)]
    )
    errors = bulkwriter.validate([{"id": 1, "v": [1.0]}, {"id": "two", "v": [1.0]}], schema=schema)
    assert [(e.code, e.field, e.row) for e in errors] == [("wrong_type", "id", 1)]


def test_write_raises_and_leaves_nothing(tmp_path: Path) -> None:
    rows = [good_row(i) for i in range(5)]
    rows[3]["i8"] = 300
    out = tmp_path / "out"
    with pytest.raises(ValidationError) as info:
        bulkwriter.write(rows, out, schema=ALL_TYPES, format="parquet")
    assert "row 3, field 'i8': expected Int8 in [-128, 127], got 300 [int_out_of_range]" in str(info.value)
    assert str(info.value).startswith("1 invalid value")
    assert isinstance(info.value, ValueError)
    assert not out.exists() or not any(out.iterdir())
    assert not any(p.name == ".bulkwriter-staging" for p in tmp_path.iterdir())


def test_caller_rows_are_not_modified(tmp_path: Path) -> None:
    rows = [good_row(i) for i in range(3)]
    snapshot = [dict(r) for r in rows]
    bulkwriter.write(rows, tmp_path / "o", schema=ALL_TYPES, format="json")
    assert rows == snapshot


def test_skip_mode_leaves_bad_rows_out_and_reports_them(tmp_path: Path) -> None:
    import json as _json

    rows = [good_row(i) for i in range(10)]
    rows[2]["i8"] = 500
    rows[6]["fv"] = [float("nan")] * 4
    rows[7]["s"] = "x" * 20
    rows[7]["i16"] = 10**6
    result = bulkwriter.write(rows, tmp_path / "out", schema=ALL_TYPES, format="jsonl", on_error="skip")
    assert (result.rows_read, result.rows_written, result.rows_rejected) == (10, 7, 3)
    written = [_json.loads(line)["id"] for line in Path(result.files[0].path).read_text().splitlines()]
    assert written == [0, 1, 3, 4, 5, 8, 9]
    assert result.rejects_path == str(tmp_path / "out") + ".rejects.jsonl"
    records = [_json.loads(line) for line in Path(result.rejects_path).read_text().splitlines()]
    assert [(r["row"], r["field"], r["code"]) for r in records] == [
        (2, "i8", "int_out_of_range"),
        (6, "fv", "not_finite"),
        (7, "i16", "int_out_of_range"),
        (7, "s", "too_long"),
    ]
    assert records[1]["values"]["fv"] == ["NaN", "NaN", "NaN", "NaN"]
    assert records[0]["values"]["i8"] == 500
    assert "rejected: 3 of 10 rows" in result.summary()


def test_skip_mode_stops_after_max_errors(tmp_path: Path) -> None:
    rows = [good_row(i) for i in range(10)]
    for i in (1, 3, 5):
        rows[i]["i8"] = 999
    with pytest.raises(ValidationError) as info:
        bulkwriter.write(rows, tmp_path / "out", schema=ALL_TYPES, on_error="skip", max_errors=2)
    assert [e.row for e in info.value.errors] == [1, 3, 5]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert (tmp_path / "out.rejects.jsonl").exists()
    result = bulkwriter.write(rows, tmp_path / "ok", schema=ALL_TYPES, on_error="skip", max_errors=3)
    assert result.rows_rejected == 3


def test_skip_mode_with_duplicates_and_conversion_failures(tmp_path: Path) -> None:
    rows = [good_row(i) for i in range(6)]
    rows[4]["id"] = 1
    result = bulkwriter.write(rows, tmp_path / "a", schema=ALL_TYPES, on_error="skip")
    assert result.rows_rejected == 1
    assert result.rows_written == 5
    mixed = [good_row(i) for i in range(4)]
    mixed[2]["id"] = "two"
    result = bulkwriter.write(mixed, tmp_path / "b", schema=ALL_TYPES, on_error="skip")
    assert result.rows_rejected >= 1


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ({"x": float("nan")}, "not_finite"),
        ({"deep": [[[float("inf")]]]}, "not_finite"),
        ({"big": "x" * 70_000}, "json_too_large"),
        ("[" * 2000 + "]" * 2000, "invalid_json"),
    ],
)
def test_json_values_are_bounded(value: Any, code: str) -> None:
    errors = errors_for({"j": value})
    assert [(e.code, e.field, e.row) for e in errors] == [(code, "j", 3)]


def test_dynamic_values_are_bounded() -> None:
    schema = CollectionSchema(
        [FieldSchema("id", DataType.INT64, is_primary=True), FieldSchema("v", DataType.FLOAT_VECTOR, dim=1)],
        enable_dynamic_field=True,
    )
    errors = bulkwriter.validate([{"id": 1, "v": [1.0], "k": float("nan")}], schema=schema)
    assert [(e.code, e.field, e.row) for e in errors] == [("not_finite", "k", 0)]
    errors = bulkwriter.validate([{"id": 1, "v": [1.0], "k": "x" * 70_000}], schema=schema)
    assert [(e.code, e.field, e.row) for e in errors] == [("json_too_large", "$meta", 0)]


_DYNAMIC = CollectionSchema(
    [FieldSchema("id", DataType.INT64, is_primary=True), FieldSchema("v", DataType.FLOAT_VECTOR, dim=1)],
    enable_dynamic_field=True,
)
_NAN, _INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("column", "bad_rows"),
    [
        (pa.array([1.0, _NAN, 2.0, -_INF], pa.float32()), [1, 3]),
        (pa.array([[1.0], None, [2.0, _INF], []], pa.list_(pa.float64())), [2]),
        (pa.array([{"a": 1.0, "b": [1.0]}, {"a": 1.0, "b": [_NAN]}, None, {"a": _INF, "b": None}]), [1, 3]),
        (pa.array([[("x", 1.0)], [("y", _NAN)], None, []], pa.map_(pa.string(), pa.float64())), [1]),
        (pa.array([1.0, _NAN, 1.0, 1.0]).dictionary_encode(), [1]),
    ],
    ids=["float", "list", "struct", "map", "dictionary"],
)
def test_columnar_nan_in_dynamic_keys_is_refused(
    column: pa.Array, bad_rows: list[int], tmp_path: Path
) -> None:
    """Arrow columns going into $meta: orjson would write NaN/inf as null, so they are errors."""
    n = len(column)
    table = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "v": pa.array([[1.0]] * n, pa.list_(pa.float32(), 1)),
            "k": column,
        }
    )
    errors = bulkwriter.validate(table, schema=_DYNAMIC)
    assert [(e.code, e.field, e.row) for e in errors] == [("not_finite", "k", r) for r in bad_rows]
    with pytest.raises(ValidationError):
        bulkwriter.write(table, tmp_path / "out", schema=_DYNAMIC, format="jsonl")
    assert not (tmp_path / "out").exists()
    # the same column sliced past its bad rows is written, values intact
    good = table.slice(bad_rows[-1] + 1)
    if good.num_rows:
        assert bulkwriter.validate(good, schema=_DYNAMIC) == []


def test_columnar_nan_in_meta_column_and_json_struct_is_refused() -> None:
    meta = pa.array([[("a", 1.0)], [("a", _INF)]], pa.map_(pa.string(), pa.float64()))
    table = pa.table({"id": [1, 2], "v": pa.array([[1.0], [1.0]], pa.list_(pa.float32(), 1)), "$meta": meta})
    errors = bulkwriter.validate(table, schema=_DYNAMIC)
    assert [(e.code, e.field, e.row) for e in errors] == [("not_finite", "$meta", 1)]
    schema = CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("v", DataType.FLOAT_VECTOR, dim=1),
            FieldSchema("j", DataType.JSON),
        ]
    )
    j = pa.array([{"x": 1.0}, {"x": _NAN}, {"x": 2.0}])
    table = pa.table({"id": [1, 2, 3], "v": pa.array([[1.0]] * 3, pa.list_(pa.float32(), 1)), "j": j})
    errors = bulkwriter.validate(table, schema=schema)
    assert [(e.code, e.field, e.row) for e in errors] == [("not_finite", "j", 1)]


@pytest.mark.parametrize(
    "text",
    ["plain", 'quote " inside', "back\\slash", "new\nline", "\x01ctl", "\x7f del", "é€😀", "\u2028", ""],
)
def test_dynamic_string_keys_are_the_text_orjson_writes(text: str, tmp_path: Path) -> None:
    """Arrow string columns into $meta: the column-wise quoting equals orjson's text."""
    import orjson
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": [1, 2],
            "v": pa.array([[1.0], [2.0]], pa.list_(pa.float32(), 1)),
            "k": pa.array([text, None], pa.string()),
        }
    )
    result = bulkwriter.write(table, tmp_path / "out", schema=_DYNAMIC)
    meta = pq.read_table(result.files[0].path).column("$meta").to_pylist()
    assert meta == [orjson.dumps({"k": text}).decode(), "{}"]
