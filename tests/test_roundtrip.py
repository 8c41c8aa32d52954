"""Round trips through the public API: user rows in, files out, read back by independent readers.

Every data type, nullable and default values and the dynamic field, in every format that can
carry them; the files are decoded with pyarrow, json, csv and numpy (never our own code) and
compared with the input values (target-formats.md §2 gives each encoding).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from format_helpers import read_file_rows

import bulkwriter
from bulkwriter import CollectionSchema, DataType, FieldSchema

FIELDS = [
    FieldSchema("id", DataType.INT64, is_primary=True),
    FieldSchema("b", DataType.BOOL),
    FieldSchema("i8", DataType.INT8),
    FieldSchema("i16", DataType.INT16),
    FieldSchema("i32", DataType.INT32),
    FieldSchema("f", DataType.FLOAT),
    FieldSchema("d", DataType.DOUBLE),
    FieldSchema("s", DataType.VARCHAR, max_length=64),
    FieldSchema("j", DataType.JSON),
    FieldSchema("arr", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=8),
    FieldSchema("farr", DataType.ARRAY, element_type=DataType.FLOAT, max_capacity=4),
    FieldSchema("fv", DataType.FLOAT_VECTOR, dim=3),
    FieldSchema("bv", DataType.BINARY_VECTOR, dim=16),
    FieldSchema("hv", DataType.FLOAT16_VECTOR, dim=2),
    FieldSchema("bfv", DataType.BFLOAT16_VECTOR, dim=2),
    FieldSchema("i8v", DataType.INT8_VECTOR, dim=2),
    FieldSchema("sv", DataType.SPARSE_FLOAT_VECTOR),
    FieldSchema("n", DataType.INT32, nullable=True),
    FieldSchema("ns", DataType.VARCHAR, max_length=8, nullable=True),
    FieldSchema("dflt", DataType.VARCHAR, max_length=8, default_value="zz"),
]
NUMPY_UNSUPPORTED = {"arr", "farr", "sv", "n", "ns"}


def input_rows(n: int = 12) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        rows.append(
            {
                "id": 10**12 + i,
                "b": i % 2 == 0,
                "i8": -128 + i,
                "i16": 32767 - i,
                "i32": -(2**31) + i,
                "f": 0.1 * i,
                "d": 1e300 / (i + 1),
                "s": ["héllo 世界 🎉", 'say "hi", ok', "comma,semi;", "", "line\nbreak"][i % 5],
                "j": {"k": i, "nested": {"x": [1, "two", None]}, "é": True},
                "arr": ["a", "bb", "ccc"][: i % 4],
                "farr": [0.5, -1.25][: i % 3],
                "fv": [0.1 * i, -0.2, 3.5e-7],
                "bv": [i, 255 - i],
                "hv": [0.1 * i, -2.0],
                "bfv": [1.0 + i, -3.0],
                "i8v": [i, -i],
                "sv": {i: 0.5, 1000 + i: 2.0} if i % 3 else {},
                "n": None if i % 2 else i,
                "ns": None if i % 3 == 0 else f"v{i}",
                "dflt": None if i % 2 else "set",
                "color": ["red", "blue"][i % 2],  # dynamic key
            }
        )
    return rows


def expected(row: dict[str, Any], names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = row.get(name)
        if name == "f":
            value = float(np.float32(value))
        elif name in ("fv", "farr"):
            value = [float(np.float32(v)) for v in value]
        elif name == "hv":
            value = [float(np.float16(v)) for v in value]
        elif name == "bfv":
            value = [float(v) for v in value]  # exactly representable in bfloat16
        elif name == "sv":
            value = {int(k): float(np.float32(v)) for k, v in value.items()}
        elif name == "dflt" and value is None:
            value = "zz"
        out[name] = value
    out["$meta"] = {"color": row["color"]}
    return out


def decode_cell(name: str, value: Any) -> Any:
    """Bring one decoded value to the form of `expected` (JSON text parsed, bytes decoded)."""
    if value is None:
        return None
    if name in ("j", "$meta") and isinstance(value, str):
        return json.loads(value)
    if name == "sv":
        obj = json.loads(value) if isinstance(value, str) else value
        return {int(k): float(np.float32(v)) for k, v in obj.items()}
    if name in ("hv", "bfv") and len(value) == 4:  # 2 * dim little-endian bytes
        raw = np.array(value, dtype=np.uint8)
        if name == "hv":
            return [float(x) for x in raw.view("<f2")]
        return [float(x) for x in (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)]
    if name in ("fv", "farr", "hv", "bfv"):
        return [float(np.float32(v)) for v in value]
    if name == "f":
        return float(np.float32(value))
    return value


def read_back(fmt: str, path: Path, names: list[str]) -> list[dict[str, Any]]:
    rows = read_file_rows(fmt, path, _read_csv)
    return [{name: decode_cell(name, row.get(name)) for name in [*names, "$meta"]} for row in rows]


def _read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return _csv_rows(list(csv.DictReader(fh)))


def _csv_rows(raw: list[dict[str, str]]) -> list[dict[str, Any]]:
    typed = {"id", "i8", "i16", "i32", "f", "d", "n"}
    rows = []
    for r in raw:
        row: dict[str, Any] = {}
        for name, text in r.items():
            if text == "\\N":
                row[name] = None
            elif name == "b":
                row[name] = {"true": True, "false": False}[text]
            elif name in typed:
                row[name] = float(text) if name in ("f", "d") else int(text)
            elif name in ("arr", "farr", "fv", "bv", "hv", "bfv", "i8v", "sv", "j", "$meta"):
                row[name] = json.loads(text)
            else:
                row[name] = text
        rows.append(row)
    return rows


@pytest.mark.parametrize("fmt", ["parquet", "json", "jsonl", "csv", "numpy"])
def test_every_type_round_trips(tmp_path: Path, fmt: str) -> None:
    fields = [f for f in FIELDS if fmt != "numpy" or f.name not in NUMPY_UNSUPPORTED]
    schema = CollectionSchema(fields, enable_dynamic_field=True)
    rows = input_rows()
    if fmt == "numpy":
        rows = [{k: v for k, v in r.items() if k not in NUMPY_UNSUPPORTED} for r in rows]
    result = bulkwriter.write(rows, tmp_path / fmt, schema=schema, format=fmt, max_rows_per_file=5)
    assert [f.rows for f in result.files] == [5, 5, 2]
    names = [f.name for f in fields]
    got = [row for f in result.files for row in read_back(fmt, Path(f.path), names)]
    want = [expected(r, names) for r in rows]
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"row {i}: " + ", ".join(f"{k}: {g[k]!r} != {w[k]!r}" for k in w if g[k] != w[k])


def test_csv_nullkey_reaches_import_options(tmp_path: Path) -> None:
    schema = CollectionSchema(FIELDS)
    rows = [{k: v for k, v in r.items() if k != "color"} for r in input_rows(3)]
    result = bulkwriter.write(rows, tmp_path / "c", schema=schema, format="csv")
    assert result.import_options == {"nullkey": "\\N"}
    committed = bulkwriter.inspect(tmp_path / "c").committed
    assert committed is not None
    assert committed.import_options == {"nullkey": "\\N"}


def test_debian_sample_round_trips_as_parquet(tmp_path: Path) -> None:
    data = Path(bulkwriter.__file__).parent / "data"
    source = pq.read_table(data / "debian_packages_sample.parquet")
    result = bulkwriter.write(source, tmp_path / "d", schema=data / "debian_packages_schema.json")
    back = pq.read_table(result.files[0].path)
    assert back.num_rows == source.num_rows == 1988
    for name in source.column_names:
        a, b = source.column(name).to_pylist(), back.column(name).to_pylist()
        assert a == b, name
