"""Canonical test tables covering every Milvus type, built directly with pyarrow.

``all_types_case()`` returns a schema with every field type (nullable fields, a default
value, dynamic ``$meta``), its canonical table, and the logical values per column, so a
test can read a file back with an independent reader and compare with the logical values.
``numpy_case()`` is the same without the types NumPy cannot carry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bulkwriter.schema import CollectionSchema, DataType, FieldSchema, canonical_schema
from bulkwriter.schema.collection import DYNAMIC_FIELD

ELEMENT_ARROW = {
    DataType.BOOL: pa.bool_(),
    DataType.INT8: pa.int8(),
    DataType.INT16: pa.int16(),
    DataType.INT32: pa.int32(),
    DataType.INT64: pa.int64(),
    DataType.FLOAT: pa.float32(),
    DataType.DOUBLE: pa.float64(),
    DataType.VARCHAR: pa.string(),
}

TEXTS = ["héllo 世界 🎉", 'say "hi", ok', "line1\nline2\rx", "", "semi;colon\ttab"]
JSON_TEXTS = [
    '{"a": 1, "b": [1, 2], "big": 9007199254740993}',
    "[1, 2, 3]",
    '{\n  "nested": {"k": "v\\n,\\""}\n}',
    '"just a string"',
    "12.5",
]
META_TEXTS = ['{"k": 1, "s": "x"}', "{}", '{"list": [1, 2], "o": {"z": null}}', '{"k": 2}', '{"u": "é"}']


@dataclass
class Case:
    """A schema, its canonical table and the logical value of every cell, per column."""

    schema: CollectionSchema
    table: pa.Table
    values: dict[str, list[Any]]

    @property
    def rows(self) -> int:
        return self.table.num_rows


def _f16_bytes(row: list[float]) -> list[int]:
    return np.asarray(row, dtype="<f2").view(np.uint8).tolist()


def _bf16_bytes(row: list[float]) -> list[int]:
    high = (np.asarray(row, dtype=np.float32).view(np.uint32) >> 16).astype("<u2")
    return high.view(np.uint8).tolist()


def _arrow_column(field: FieldSchema, values: list[Any], arrow_type: pa.DataType) -> pa.Array:
    dtype = field.dtype
    if dtype is DataType.FLOAT16_VECTOR:
        return pa.array([_f16_bytes(v) for v in values], arrow_type)
    if dtype is DataType.BFLOAT16_VECTOR:
        return pa.array([_bf16_bytes(v) for v in values], arrow_type)
    if dtype is DataType.BINARY_VECTOR:
        return pa.array([list(v) for v in values], arrow_type)
    if dtype is DataType.SPARSE_FLOAT_VECTOR:
        rows = [{"indices": list(v), "values": list(v.values())} for v in values]
        return pa.array(rows, arrow_type)
    return pa.array(values, arrow_type)


def build_case(fields: list[FieldSchema], values: dict[str, list[Any]], dynamic: bool) -> Case:
    """Build the canonical table of ``values`` (logical cells) for ``fields``."""
    schema = CollectionSchema(fields, enable_dynamic_field=dynamic, name="all_types")
    arrow_schema = canonical_schema(schema)
    arrays = [_arrow_column(f, values[f.name], arrow_schema.field(f.name).type) for f in schema.input_fields]
    if dynamic:
        arrays.append(pa.array(values[DYNAMIC_FIELD], pa.string()))
    return Case(schema, pa.Table.from_arrays(arrays, schema=arrow_schema), values)


def _scalar_fields() -> tuple[list[FieldSchema], dict[str, list[Any]]]:
    fields = [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("b", DataType.BOOL),
        FieldSchema("i8", DataType.INT8),
        FieldSchema("i16", DataType.INT16),
        FieldSchema("i32", DataType.INT32),
        FieldSchema("f32", DataType.FLOAT),
        FieldSchema("f64", DataType.DOUBLE),
        FieldSchema("text", DataType.VARCHAR, max_length=200),
        FieldSchema("js", DataType.JSON),
        FieldSchema("fv", DataType.FLOAT_VECTOR, dim=4),
        FieldSchema("bv", DataType.BINARY_VECTOR, dim=16),
        FieldSchema("f16", DataType.FLOAT16_VECTOR, dim=3),
        FieldSchema("bf16", DataType.BFLOAT16_VECTOR, dim=3),
        FieldSchema("i8v", DataType.INT8_VECTOR, dim=4),
    ]
    values: dict[str, list[Any]] = {
        "id": [0, 2**62 + 1, -(2**63), 2**63 - 1, 9007199254740993],
        "b": [True, False, True, False, True],
        "i8": [-128, 127, 0, 1, -1],
        "i16": [-32768, 32767, 0, 2, -2],
        "i32": [-(2**31), 2**31 - 1, 0, 3, -3],
        "f32": [0.1, -1.5, 3.4e38, 1e-45, 0.0],
        "f64": [0.1, 1 / 3, 1e300, -0.0, 5.0],
        "text": TEXTS,
        "js": JSON_TEXTS,
        "fv": [[0.1, 0.2, 0.3, 0.4], [1.0, -1.0, 1e-7, 3e38], [0.0] * 4, [1.5, 2.5, 3.5, 4.5], [7.0] * 4],
        "bv": [b"\x00\xff", b"\x80\x01", b"\x12\x34", b"\xff\xff", b"\x00\x00"],
        "f16": [[0.1, -2.0, 65504.0], [1.0, 0.5, 0.25], [0.0, -0.0, 1e-4], [3.14, 2.71, 1.41], [6e-8, 1, 2]],
        "bf16": [[1.0, -2.5, 0.15625], [3.0, 0.0, -1.0], [0.5, 0.25, 2.0], [1e30, -1e-30, 7.0], [0, 1, 2]],
        "i8v": [[-128, 127, 0, 1], [1, 2, 3, 4], [0, 0, 0, 0], [-1, -2, -3, -4], [5, 6, 7, 8]],
    }
    # Float16 / BFloat16 logical values are the values the 16-bit floats actually hold.
    values["f16"] = [np.asarray(v, dtype=np.float16).astype(np.float32).tolist() for v in values["f16"]]
    values["bf16"] = [
        ((np.asarray(v, dtype=np.float32).view(np.uint32) >> 16) << 16).view(np.float32).tolist()
        for v in values["bf16"]
    ]
    return fields, values


def all_types_case() -> Case:
    """Every Milvus type, nullable fields with nulls, a default field, and ``$meta``."""
    fields, values = _scalar_fields()
    for element, sample in (
        (DataType.BOOL, [[True, False], [], [False], [True], []]),
        (DataType.INT8, [[-128, 127], [], [0], [1, 2, 3], []]),
        (DataType.INT16, [[-32768], [32767], [], [4, 5], [0]]),
        (DataType.INT32, [[1, 2, 3], [], [-(2**31)], [2**31 - 1], [0]]),
        (DataType.INT64, [[2**63 - 1, -(2**63)], [], [9007199254740993], [0], [1]]),
        (DataType.FLOAT, [[0.1, 0.2], [], [1e-45], [3.4e38], [-1.5]]),
        (DataType.DOUBLE, [[0.1, 1 / 3], [], [1e300], [-0.0], [2.5]]),
        (DataType.VARCHAR, [["a", 'q"q', "c,d"], [], ["line\nbreak"], ["é"], [""]]),
    ):
        name = f"arr_{element.value.lower()}"
        fields.append(
            FieldSchema(
                name,
                DataType.ARRAY,
                element_type=element,
                max_capacity=10,
                max_length=50 if element is DataType.VARCHAR else None,
            )
        )
        values[name] = sample
    fields += [
        FieldSchema("sp", DataType.SPARSE_FLOAT_VECTOR),
        FieldSchema("n_text", DataType.VARCHAR, max_length=50, nullable=True),
        FieldSchema("n_i32", DataType.INT32, nullable=True),
        FieldSchema("n_f32", DataType.FLOAT, nullable=True),
        FieldSchema("n_js", DataType.JSON, nullable=True),
        FieldSchema("n_arr", DataType.ARRAY, element_type=DataType.INT64, max_capacity=5, nullable=True),
        FieldSchema("dflt", DataType.VARCHAR, max_length=20, default_value="dv"),
    ]
    values.update(
        {
            "sp": [{3: 0.5, 1: 0.1}, {}, {4294967294: 1e-3}, {0: 0.0, 7: 2.5, 9: 100.0}, {2: 1.0}],
            "n_text": ["a", None, "", "x,y", None],
            "n_i32": [None, 1, None, -5, 0],
            "n_f32": [0.1, None, 2.5, None, 0.0],
            "n_js": [None, '{"a": 1}', "[1]", None, "null"],
            "n_arr": [[1, 2], None, [], None, [3]],
            "dflt": ["dv", "x", "", "dv", "y"],
            DYNAMIC_FIELD: META_TEXTS,
        }
    )
    return build_case(fields, values, dynamic=True)


def numpy_case() -> Case:
    """Every type NumPy carries (no Array, Sparse or nullable fields), with ``$meta``."""
    fields, values = _scalar_fields()
    fields.append(FieldSchema("dflt", DataType.VARCHAR, max_length=20, default_value="dv"))
    values["dflt"] = ["dv", "x", "", "dv", "y"]
    values[DYNAMIC_FIELD] = META_TEXTS
    return build_case(fields, values, dynamic=True)


# --------------------------------------------------------------------------------------
# Comparison: normalise a decoded value and a logical value to the same Python form
# --------------------------------------------------------------------------------------


def _f32(value: Any) -> float:
    return float(np.float32(value))


def normalise(field: FieldSchema | None, value: Any) -> Any:
    """Map a logical or decoded cell to a comparable form (float32 rounding, parsed JSON)."""
    if value is None:
        return None
    if field is None:  # $meta
        return json.loads(value) if isinstance(value, str) else value
    dtype = field.dtype
    if dtype is DataType.FLOAT:
        return _f32(value)
    if dtype in (DataType.FLOAT_VECTOR, DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR):
        return [_f32(x) for x in value]
    if dtype is DataType.BINARY_VECTOR:
        return bytes(value)
    if dtype is DataType.JSON:
        return json.loads(value) if isinstance(value, str) else value
    if dtype is DataType.ARRAY:
        if field.element_type is DataType.FLOAT:
            return [_f32(x) for x in value]
        return list(value)
    if dtype is DataType.SPARSE_FLOAT_VECTOR:
        return {int(k): _f32(v) for k, v in dict(value).items()}
    return value


def assert_rows_equal(case: Case, decoded: dict[str, list[Any]]) -> None:
    """Assert every decoded column equals the logical values of ``case``."""
    fields: list[tuple[str, FieldSchema | None]] = [(f.name, f) for f in case.schema.input_fields]
    if case.schema.enable_dynamic_field:
        fields.append((DYNAMIC_FIELD, None))
    assert list(decoded) == [name for name, _ in fields]
    for name, field in fields:
        got = [normalise(field, v) for v in decoded[name]]
        want = [normalise(field, v) for v in case.values[name]]
        assert got == want, name


def read_file_rows(
    fmt: str, path: Path, read_csv: Callable[[Path], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Rows of one written file (or NumPy folder), read by readers that are not bulkwriter.

    Parquet by pyarrow, JSON and JSONL by the standard ``json`` module, NumPy by
    ``numpy.load(allow_pickle=False)``; CSV cells need the schema's types, so ``read_csv``
    (the caller's) decodes them. Asserts the framing each format requires: a ``{"rows": [...]}``
    document, JSONL lines each ending in LF, NumPy files of equal row counts.
    """
    if fmt == "parquet":
        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        return rows
    if fmt == "json":
        document = json.loads(path.read_text(encoding="utf-8"))
        assert list(document) == ["rows"]
        rows = document["rows"]
        return rows
    if fmt == "jsonl":
        text = path.read_text(encoding="utf-8")
        assert text == "" or text.endswith("\n")
        return [json.loads(line) for line in text.split("\n")[:-1]]
    if fmt == "csv":
        return read_csv(path)
    arrays = {p.name[: -len(".npy")]: np.load(p, allow_pickle=False) for p in path.iterdir()}
    n = {len(a) for a in arrays.values()}
    assert len(n) == 1, f"files of one chunk with different row counts: {n}"
    return [
        {k: (a[i].tolist() if a.ndim == 2 else a[i].item()) for k, a in arrays.items()}
        for i in range(n.pop())
    ]
