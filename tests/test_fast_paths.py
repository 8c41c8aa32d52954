"""Column-wise fast paths give exactly what the cell-by-cell paths gave (values and errors)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bulkwriter
from bulkwriter import CollectionSchema, DataType, FieldSchema, ValidationError
from bulkwriter.validate.batch import BatchValidator

SCHEMA = CollectionSchema(
    [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("attrs", DataType.JSON),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2),
    ],
    enable_dynamic_field=True,
)


def written(rows: list[dict[str, object]], column: str) -> list[object]:
    """``column`` of the Parquet file a write of ``rows`` makes (raises ValidationError)."""
    with tempfile.TemporaryDirectory() as folder:
        out = bulkwriter.write(rows, Path(folder) / "o", schema=SCHEMA)
        return list(pq.read_table(out.files[0].path).column(column).to_pylist())


def meta_of(rows: list[dict[str, object]]) -> list[str]:
    return [str(v) for v in written(rows, "$meta")]


def test_meta_built_column_wise_matches_orjson_of_the_dict() -> None:
    extra = {"s": 'q"uo\nte é', "n": 12, "f": 0.1, "b": True, "l": [1, {"x": None}], "d": {"k": "v"}}
    rows = [{"id": i, "attrs": {"a": i}, "vec": [0.0, 1.0], **extra} for i in range(3)]
    expected = orjson.dumps({k: extra[k] for k in sorted(extra)}).decode()
    assert meta_of(rows) == [expected] * 3


def test_meta_with_keys_missing_in_some_rows() -> None:
    rows = [
        {"id": 0, "attrs": {}, "vec": [0.0, 1.0], "a": 1},
        {"id": 1, "attrs": {}, "vec": [0.0, 1.0], "b": "x"},
    ]
    assert meta_of(rows) == ['{"a":1}', '{"b":"x"}']


def test_meta_from_columns_of_arrow_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "attrs": ['{"a": 1}', "[1, 2]"],
            "vec": pa.array([[0.0, 1.0], [1.0, 0.0]], pa.list_(pa.float32(), 2)),
            "flag": [True, None],
            "n": pa.array([-5, 7], pa.int32()),
            "s": ["x", None],
        }
    )
    out = bulkwriter.write(table, tmp_path / "o", schema=SCHEMA)
    meta = pq.read_table(out.files[0].path).column("$meta").to_pylist()
    assert meta == ['{"flag":true,"n":-5,"s":"x"}', '{"n":7}']


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_json_values_are_still_refused(bad: float) -> None:
    rows = [{"id": 0, "attrs": {"a": [1.0, {"b": bad}]}, "vec": [0.0, 1.0]}]
    assert [(e.code, e.field, e.row) for e in bulkwriter.validate(rows, schema=SCHEMA)] == [
        ("not_finite", "attrs", 0)
    ]
    rows = [{"id": 0, "attrs": {}, "vec": [0.0, 1.0], "extra": bad}]
    assert [(e.code, e.field, e.row) for e in bulkwriter.validate(rows, schema=SCHEMA)] == [
        ("not_finite", "extra", 0)
    ]


def test_json_null_values_are_kept() -> None:
    rows = [{"id": 0, "attrs": {"a": None}, "vec": [0.0, 1.0], "extra": [None]}]
    assert written(rows, "attrs") == ['{"a":null}']
    assert meta_of(rows) == ['{"extra":[null]}']


def test_json_output_of_objects_with_line_breaks(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "attrs": ['{"a":\r\n1}', "[1,\n2]"],
            "vec": pa.array([[0.0, 1.0], [1.0, 0.0]], pa.list_(pa.float32(), 2)),
        }
    )
    out = bulkwriter.write(table, tmp_path / "o", schema=SCHEMA, format="jsonl")
    lines = Path(out.files[0].path).read_bytes().splitlines()
    assert len(lines) == 2
    assert orjson.loads(lines[0])["attrs"] == {"a": 1}
    assert orjson.loads(lines[1])["attrs"] == "[1,\n2]"


def test_float_lists_packed_like_numpy_casts_them() -> None:
    values = [[0.1, 1e-50], [3.4e38, -2.5], [1, True]]
    rows = [{"id": i, "attrs": {}, "vec": v} for i, v in enumerate(values)]
    assert written(rows, "vec") == pa.array(values, pa.list_(pa.float32())).to_pylist()


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ([0.5], "wrong_dim"),
        ([0.5, None], "null_element"),
        ([0.5, "1"], "wrong_type"),
        ([0.5, 1e39], "float_out_of_range"),
        ({0: 0.5, 1: 0.25}, "wrong_type"),  # a dict of 2 keys must not pack as its keys
        ({0.5, 0.25}, "wrong_type"),  # a set has no order (Arrow would take it as a list)
    ],
)
def test_bad_float_lists_still_name_their_row(bad: list[object], code: str) -> None:
    rows = [{"id": 0, "attrs": {}, "vec": [0.5, 0.25]}, {"id": 1, "attrs": {}, "vec": bad}]
    errors = bulkwriter.validate(rows, schema=SCHEMA)
    assert [(e.code, e.row) for e in errors][:1] == [(code, 1)]


def test_large_finite_vectors_pass_when_the_quick_sum_overflows() -> None:
    """The finite check sums the matrix first; an overflowing sum of finite values is no error."""
    import numpy as np

    schema = CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2),
            FieldSchema("half", DataType.FLOAT16_VECTOR, dim=2),
        ]
    )
    big = np.full((4, 2), 3.0e38, np.float32)  # finite, but the float32 sum overflows
    halves = np.full((4, 2), 60000.0, np.float32)  # finite float16, float16 sum would overflow
    assert bulkwriter.validate({"id": np.arange(4), "vec": big, "half": halves}, schema=schema) == []
    big[2, 1] = np.inf
    halves[3, 0] = np.nan
    errors = bulkwriter.validate({"id": np.arange(4), "vec": big, "half": halves}, schema=schema)
    assert [(e.code, e.field, e.row, e.element) for e in errors] == [
        ("not_finite", "vec", 2, 1),
        ("not_finite", "half", 3, 0),
    ]


def test_float32_vector_column_is_not_copied_by_validation() -> None:
    """An already-float32 fixed-size-list column keeps its buffer (no astype copy)."""
    import numpy as np

    schema = CollectionSchema(
        [FieldSchema("id", DataType.INT64, is_primary=True), FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2)]
    )
    values = pa.array(np.arange(8, dtype=np.float32))
    vec = pa.FixedSizeListArray.from_arrays(values, 2)
    batch = pa.record_batch({"id": pa.array(range(4), pa.int64()), "vec": vec})
    valid, errors = BatchValidator(schema).validate(batch)
    assert errors == []
    out = valid.column("vec")
    assert out.values.buffers()[1].address == values.buffers()[1].address
    assert out.to_pylist() == vec.to_pylist()


@pytest.mark.parametrize(
    "texts",
    [["plain", "é€😀", ""], ['a"b', "c\\d", "e"], ["new\nline", "\x1f", "\x7f\u2028"]],
    ids=["no-escape", "quote-backslash", "control"],
)
def test_string_dynamic_keys_from_rows_match_orjson(texts: list[str]) -> None:
    rows = [{"id": i, "attrs": {}, "vec": [0.0, 1.0], "s": t} for i, t in enumerate(texts)]
    assert meta_of(rows) == [orjson.dumps({"s": t}).decode() for t in texts]


def test_lone_surrogate_in_a_dynamic_key_is_named() -> None:
    rows = [
        {"id": 0, "attrs": {}, "vec": [0.0, 1.0], "s": "ok"},
        {"id": 1, "attrs": {}, "vec": [0.0, 1.0], "s": "\ud800"},
    ]
    with pytest.raises(ValidationError) as info:
        written(rows, "$meta")
    assert [(e.code, e.field, e.row) for e in info.value.errors] == [("invalid_utf8", "s", 1)]


def test_sliced_fixed_size_list_vectors_keep_rows_and_row_numbers() -> None:
    """A fixed-size-list column of the right width skips the length checks yet honours the
    slice offset, and its errors name the row within the slice; null elements and wrong
    widths are still reported."""
    import numpy as np

    schema = CollectionSchema(
        [FieldSchema("id", DataType.INT64, is_primary=True), FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2)]
    )
    values = np.arange(12, dtype=np.float32)
    values[9] = np.nan  # row 4 of the full column, row 2 of the slice starting at 2
    full = pa.FixedSizeListArray.from_arrays(pa.array(values), 2)

    def check(vec: pa.Array) -> tuple[pa.RecordBatch, list[tuple[str, str, int | None, int | None]]]:
        batch = pa.record_batch({"id": pa.array(range(len(vec)), pa.int64()), "vec": vec})
        valid, errors = BatchValidator(schema).validate(batch)
        return valid, [(e.code, e.field, e.row, e.element) for e in errors]

    valid, errors = check(full.slice(0, 4))
    assert errors == []
    assert valid.column("vec").to_pylist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]
    valid, errors = check(full.slice(1, 2))
    assert errors == []
    assert valid.column("vec").to_pylist() == [[2.0, 3.0], [4.0, 5.0]]
    assert check(full.slice(2))[1] == [("not_finite", "vec", 2, 1)]
    with_null = pa.FixedSizeListArray.from_arrays(pa.array([1.0, None, 3.0, 4.0], pa.float32()), 2)
    assert check(with_null)[1] == [("null_element", "vec", 0, None)]
    wrong = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(6, dtype=np.float32)), 3)
    assert [e[:3] for e in check(wrong)[1]] == [("wrong_dim", "vec", 0), ("wrong_dim", "vec", 1)]
