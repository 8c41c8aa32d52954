"""Prove the Milvus 2.3.5 harness with hand-written import files, and pin down what 2.3.5 accepts.

No bulkwriter writer code is used here: every file is written by hand (json, pyarrow, numpy).
Each case imports one small file (or NumPy folder) into a collection shared by cases of the same
schema, with its own primary-key range; then each collection is loaded and read back ONCE, and
every case checks its own rows. That keeps the module at one load per schema.

A case states the expected outcome on 2.3.5:
  "ok"       - accepted, and every value reads back equal (floats as float32)
  "rejected" - the task fails; ``reason`` must appear in the server's failed_reason
  "altered"  - accepted, but values come back different from what the file says
Results are summarised in tests/MILVUS_2_3_5_FINDINGS.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from milvus_support import (
    QUERY_WINDOW,
    assert_rows_equal,
    binary_vector_bytes,
    f32,
    fetch_rows,
    fresh_collection,
    normalise_row,
    normalise_value,
    quiet_pymilvus,
    try_bulk_insert,
)

pytestmark = pytest.mark.milvus

N = 5  # rows per case

# --------------------------------------------------------------------------------------
# schemas (pymilvus): one vector field per collection on 2.3.5
# --------------------------------------------------------------------------------------


def _schema(*, pk: str = "int", arrays: bool = True, vec: str = "float", dynamic: bool = True) -> Any:
    from pymilvus import CollectionSchema, DataType, FieldSchema

    fields = [
        FieldSchema("id", DataType.INT64, is_primary=True)
        if pk == "int"
        else FieldSchema("id", DataType.VARCHAR, is_primary=True, max_length=64),
        FieldSchema("b", DataType.BOOL),
        FieldSchema("i8", DataType.INT8),
        FieldSchema("i16", DataType.INT16),
        FieldSchema("i32", DataType.INT32),
        FieldSchema("i64", DataType.INT64),
        FieldSchema("f", DataType.FLOAT),
        FieldSchema("d", DataType.DOUBLE),
        FieldSchema("s", DataType.VARCHAR, max_length=64),
        FieldSchema("j", DataType.JSON),
    ]
    if arrays:
        fields += [
            FieldSchema("a_s", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=8, max_length=32),
            FieldSchema("a_i", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8),
        ]
    if vec == "float":
        fields.append(FieldSchema("v", DataType.FLOAT_VECTOR, dim=4))
    else:
        fields.append(FieldSchema("v", DataType.BINARY_VECTOR, dim=16))
    return CollectionSchema(fields, enable_dynamic_field=dynamic)


SCHEMAS: dict[str, dict[str, Any]] = {
    "full": {},  # Int64 pk, all scalars, arrays, FloatVector, dynamic
    "numpy": {"arrays": False},
    "binary": {"vec": "binary", "arrays": False},
    "varchar_pk": {"pk": "str", "arrays": False},
    "static": {"dynamic": False},
}


def make_rows(
    base: int, *, pk: str = "int", arrays: bool = True, vec: str = "float", n: int = N
) -> list[dict[str, Any]]:
    """Rows hitting the edges: int extremes, non-ASCII, empty and quoted strings, nested JSON."""
    out = []
    for i in range(n):
        k = i % 5
        row: dict[str, Any] = {
            "id": base + i if pk == "int" else f"ключ-{base + i}",
            "b": bool(i % 2),
            "i8": [-128, 127, 0, 5, -1][k],
            "i16": [-32768, 32767, 1, 2, 3][k],
            "i32": [-(2**31), 2**31 - 1, 7, 8, 9][k],
            "i64": [-(2**63), 2**63 - 1, 10, 11, 12][k],
            "f": 0.1 * i + 1.5,
            "d": 1 / 3 + i,
            "s": ["héllo", "日本語", "", 'a"b\\c', "x\ny"][k],
            "j": {"n": i, "t": "ü", "l": [1, 2.5, None], "o": {"z": True}},
        }
        if arrays:
            row["a_s"] = ["α", "b", ""][: i % 4]
            row["a_i"] = [2**40, -i]
        row["v"] = [0.1 * i, -0.2, 0.3, 1e-3] if vec == "float" else [i, 255 - i]
        out.append(row)
    return out


def with_meta(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(r, **{"$meta": {"k": i, "name": "ü", "nested": {"x": [1, 2]}}}) for i, r in enumerate(rows)]


# --------------------------------------------------------------------------------------
# hand-written files
# --------------------------------------------------------------------------------------


class Bare(list):  # type: ignore[type-arg]
    """Rows to write as a bare JSON list instead of ``{"rows": [...]}``."""


def write_json(path: Path, rows: list[dict[str, Any]] | dict[str, Any]) -> list[str]:
    payload = rows if isinstance(rows, (dict, Bare)) else {"rows": rows}
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return [str(path)]


def arrow_columns(rows: list[dict[str, Any]], *, vec_type: Any = None) -> dict[str, pa.Array]:
    """Columns with the exact Arrow types 2.3.5 wants."""
    first = rows[0]
    types: dict[str, Any] = {
        "id": pa.int64() if isinstance(first["id"], int) else pa.string(),
        "b": pa.bool_(),
        "i8": pa.int8(),
        "i16": pa.int16(),
        "i32": pa.int32(),
        "i64": pa.int64(),
        "f": pa.float32(),
        "d": pa.float64(),
        "s": pa.string(),
        "a_s": pa.list_(pa.string()),
        "a_i": pa.list_(pa.int64()),
    }
    cols = {name: pa.array([r[name] for r in rows], typ) for name, typ in types.items() if name in first}
    cols["j"] = pa.array([json.dumps(r["j"], ensure_ascii=False) for r in rows], pa.string())
    is_binary = isinstance(first["v"][0], int)
    vt = vec_type or (pa.list_(pa.uint8()) if is_binary else pa.list_(pa.float32()))
    cols["v"] = pa.array([r["v"] for r in rows], vt)
    if "$meta" in first:
        cols["$meta"] = pa.array([json.dumps(r["$meta"], ensure_ascii=False) for r in rows], pa.string())
    return cols


def write_parquet(path: Path, cols: dict[str, pa.Array]) -> list[str]:
    pq.write_table(pa.table(cols), path)
    return [str(path)]


def numpy_arrays(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """One array per field: exact dtypes, `<U n` for VarChar/JSON/$meta, (N, dim) vectors."""
    first = rows[0]
    arrays = {
        "id": np.array([r["id"] for r in rows], np.int64 if isinstance(first["id"], int) else None),
        "b": np.array([r["b"] for r in rows], np.bool_),
        "i8": np.array([r["i8"] for r in rows], np.int8),
        "i16": np.array([r["i16"] for r in rows], np.int16),
        "i32": np.array([r["i32"] for r in rows], np.int32),
        "i64": np.array([r["i64"] for r in rows], np.int64),
        "f": np.array([r["f"] for r in rows], np.float32),
        "d": np.array([r["d"] for r in rows], np.float64),
        "s": np.array([r["s"] for r in rows], np.str_),
        "j": np.array([json.dumps(r["j"], ensure_ascii=False) for r in rows], np.str_),
    }
    is_binary = isinstance(first["v"][0], int)
    arrays["v"] = np.array([r["v"] for r in rows], np.uint8 if is_binary else np.float32)
    if "$meta" in first:
        arrays["$meta"] = np.array([json.dumps(r["$meta"], ensure_ascii=False) for r in rows], np.str_)
    return arrays


def write_numpy(folder: Path, arrays: dict[str, np.ndarray]) -> list[str]:
    folder.mkdir()
    paths = []
    for name, arr in arrays.items():
        np.save(folder / f"{name}.npy", arr, allow_pickle=arr.dtype.hasobject)
        paths.append(str(folder / f"{name}.npy"))
    return paths


# --------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------

Build = Callable[[Path, int], tuple[list[str], list[dict[str, Any]]]]


@dataclass
class Case:
    id: str
    schema: str
    build: Build  # (tmp dir, pk base) -> (files of one import task, rows expected back)
    expect: str = "ok"  # "ok" | "rejected" | "altered"
    reason: str = ""  # substring of failed_reason ("rejected") or of the value diff ("altered")


def _json(
    transform: Callable[[list[dict[str, Any]]], Any],
    expected: Callable[[list[dict[str, Any]]], Any] | None = None,
    **kw: Any,
) -> Build:
    def build(d: Path, base: int) -> tuple[list[str], list[dict[str, Any]]]:
        rows = make_rows(base, **kw)
        return write_json(d / "rows.json", transform(rows)), (expected or transform)(rows)

    return build


def _parquet(
    patch: Callable[[list[dict[str, Any]], dict[str, pa.Array]], None] | None = None,
    meta: bool = False,
    expected: Callable[[list[dict[str, Any]]], Any] | None = None,
    **kw: Any,
) -> Build:
    def build(d: Path, base: int) -> tuple[list[str], list[dict[str, Any]]]:
        rows = make_rows(base, **kw)
        if meta:
            rows = with_meta(rows)
        cols = arrow_columns(rows)
        if patch:
            patch(rows, cols)
        return write_parquet(d / "data.parquet", cols), (expected(rows) if expected else rows)

    return build


def _numpy(
    patch: Callable[[list[dict[str, Any]], dict[str, np.ndarray]], None] | None = None,
    meta: bool = False,
    expected: Callable[[list[dict[str, Any]]], Any] | None = None,
    **kw: Any,
) -> Build:
    def build(d: Path, base: int) -> tuple[list[str], list[dict[str, Any]]]:
        rows = make_rows(base, arrays=False, **kw)
        if meta:
            rows = with_meta(rows)
        arrays = numpy_arrays(rows)
        if patch:
            patch(rows, arrays)
        return write_numpy(d / "chunk", arrays), (expected(rows) if expected else rows)

    return build


def _set(
    name: str, fn: Callable[[list[dict[str, Any]]], Any]
) -> Callable[[list[dict[str, Any]], dict[str, Any]], None]:
    def patch(rows: list[dict[str, Any]], cols: dict[str, Any]) -> None:
        cols[name] = fn(rows)

    return patch


def _map(
    fn: Callable[[dict[str, Any]], dict[str, Any]],
) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    return lambda rows: [fn(dict(r)) for r in rows]


def _meta_text(r: dict[str, Any]) -> dict[str, Any]:
    return dict(r, **{"$meta": json.dumps({"k": r["id"], "name": "ü"}, ensure_ascii=False)})


def _meta_obj(r: dict[str, Any]) -> dict[str, Any]:
    return dict(r, **{"$meta": {"k": r["id"], "name": "ü"}})


CASES = [
    # ---- JSON rows: the baseline and the JSON field
    Case("json-all-types", "full", _json(lambda rows: rows)),
    Case("json-bare-list", "full", _json(Bare, expected=lambda rows: rows)),
    Case(
        "json-jsonfield-as-text",
        "full",
        _json(_map(lambda r: dict(r, j=json.dumps(r["j"]))), expected=lambda rows: rows),
    ),
    Case("json-jsonfield-array-as-text", "full", _json(_map(lambda r: dict(r, j=json.dumps([1, r["id"]]))))),
    Case(
        "json-jsonfield-bare-array",
        "full",
        _json(_map(lambda r: dict(r, j=[1, 2]))),
        "rejected",
        "illegal value",
    ),
    # ---- JSON rows: dynamic field
    Case("json-dyn-meta-object", "full", _json(_map(_meta_obj))),
    Case("json-dyn-extra-keys", "full", _json(_map(lambda r: dict(r, k=r["id"], name="ü")))),
    Case("json-dyn-meta-text", "full", _json(_map(_meta_text), expected=_map(_meta_obj))),
    Case(
        "json-dyn-meta-plus-extra",
        "full",
        _json(_map(lambda r: dict(r, **{"$meta": {"k": r["id"]}}, name="ü")), expected=_map(_meta_obj)),
    ),
    # same key in both: accepted, the $meta value wins and the top-level one is dropped silently
    Case(
        "json-dyn-key-clash",
        "full",
        _json(
            _map(lambda r: dict(r, **{"$meta": {"k": r["id"]}}, k=-1)),
            expected=_map(lambda r: dict(r, k=r["id"])),
        ),
    ),
    Case(
        "json-static-extra-key",
        "static",
        _json(_map(lambda r: dict(r, k=1))),
        "rejected",
        "is not defined in collection schema",
    ),
    # ---- JSON rows: integers written as floats
    Case(
        "json-int64-pk-as-float",
        "full",
        _json(_map(lambda r: dict(r, id=float(r["id"])))),
        "rejected",
        "failed to parse primary key",
    ),
    Case(
        "json-int32-as-float",
        "full",
        _json(_map(lambda r: dict(r, i32=float(r["i32"])))),
        "rejected",
        "for int32 field 'i32'",
    ),
    Case(
        "json-int64-as-float",
        "full",
        _json(_map(lambda r: dict(r, i64=12.0))),
        "rejected",
        "for int64 field 'i64'",
    ),
    Case(
        "json-int8-out-of-range",
        "full",
        _json(_map(lambda r: dict(r, i8=128))),
        "rejected",
        "int8 field 'i8'",
    ),
    # ---- Parquet
    Case("parquet-all-types", "full", _parquet()),
    Case("parquet-dyn-meta-column", "full", _parquet(meta=True)),
    Case(
        "parquet-jsonfield-array-as-text",
        "full",
        _parquet(
            _set("j", lambda rows: pa.array([json.dumps([1, r["id"]]) for r in rows])),
            expected=_map(lambda r: dict(r, j=[1, r["id"]])),
        ),
    ),
    Case(
        "parquet-dyn-extra-column",
        "full",
        _parquet(_set("k", lambda rows: pa.array([1] * len(rows), pa.int64()))),
        "rejected",
        "is not in schema",
    ),
    Case(
        "parquet-vector-fixed-size-list",
        "full",
        _parquet(_set("v", lambda rows: pa.array([r["v"] for r in rows], pa.list_(pa.float32(), 4)))),
        "rejected",
        "fixed_size_list",
    ),
    Case(
        "parquet-int8-as-int64",
        "full",
        _parquet(_set("i8", lambda rows: pa.array([r["i8"] for r in rows], pa.int64()))),
        "rejected",
        "dataType: Int8, file field dataType:int64",
    ),
    Case(
        "parquet-int32-as-int64",
        "full",
        _parquet(_set("i32", lambda rows: pa.array([r["i32"] for r in rows], pa.int64()))),
        "rejected",
        "dataType: Int32, file field dataType:int64",
    ),
    Case(
        "parquet-float-as-float64",
        "full",
        _parquet(_set("f", lambda rows: pa.array([r["f"] for r in rows], pa.float64()))),
        "rejected",
        "dataType: Float, file field dataType:float64",
    ),
    Case(
        "parquet-varchar-as-large-string",
        "full",
        _parquet(_set("s", lambda rows: pa.array([r["s"] for r in rows], pa.large_string()))),
        "rejected",
        "large_utf8",
    ),
    Case(
        "parquet-array-varchar-as-list-large-string",
        "full",
        _parquet(_set("a_s", lambda rows: pa.array([r["a_s"] for r in rows], pa.list_(pa.large_string())))),
        "rejected",
        "field schema is not match",
    ),
    # ---- NumPy
    Case("numpy-all-types", "numpy", _numpy()),
    Case("numpy-dyn-meta", "numpy", _numpy(meta=True)),
    Case(
        "numpy-jsonfield-array-as-text",
        "numpy",
        _numpy(
            _set("j", lambda rows: np.array([json.dumps([1, r["id"]]) for r in rows])),
            expected=_map(lambda r: dict(r, j=[1, r["id"]])),
        ),
    ),
    Case(
        "numpy-varchar-object-dtype",
        "numpy",
        _numpy(_set("s", lambda rows: np.array([r["s"] for r in rows], object))),
        "rejected",
        "dtype '|O' is not supported",
    ),
    Case(
        "numpy-int8-as-int64",
        "numpy",
        _numpy(_set("i8", lambda rows: np.array([r["i8"] for r in rows], np.int64))),
        "rejected",
        "illegal data type Int64",
    ),
    Case(
        "numpy-float-as-float64",
        "numpy",
        _numpy(_set("f", lambda rows: np.array([r["f"] for r in rows], np.float64))),
        "rejected",
        "illegal data type Double",
    ),
    # bytes (`S n`) strings are accepted, but an empty string comes back as NUL padding
    Case(
        "numpy-varchar-as-bytes",
        "numpy",
        _numpy(_set("s", lambda rows: np.array([r["s"].encode() for r in rows])), expected=lambda rows: rows),
        "altered",
        "'s': wrote '', read '\\x00",
    ),
    # ---- BinaryVector (dim 16 -> 2 bytes per row)
    Case("json-binary-vector", "binary", _json(lambda rows: rows, vec="binary", arrays=False)),
    Case("parquet-binary-vector-list-uint8", "binary", _parquet(vec="binary", arrays=False)),
    Case("numpy-binary-vector-uint8", "binary", _numpy(vec="binary")),
    # ---- VarChar primary key
    Case("json-varchar-pk", "varchar_pk", _json(lambda rows: rows, pk="str", arrays=False)),
    Case("parquet-varchar-pk", "varchar_pk", _parquet(pk="str", arrays=False)),
    Case("numpy-varchar-pk", "varchar_pk", _numpy(pk="str")),
]

BIG_ROWS = QUERY_WINDOW + 3_000  # more than one 2.3 query window: exercises fetch_rows' paging


@dataclass
class Outcome:
    accepted: bool
    reason: str
    rows: int
    seconds: float
    expected: list[dict[str, Any]]
    diff: str = ""  # "" when every value read back equals the expected one


@pytest.fixture(scope="module")
def outcomes(milvus_conn: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Run every case against the server: import each, then load and read back each collection once."""
    schemas = {key: _schema(**kw) for key, kw in SCHEMAS.items()}
    colls = {key: fresh_collection(f"harness_{key}", schema) for key, schema in schemas.items()}
    results: dict[str, Outcome] = {}
    imported: dict[str, list[str]] = {key: [] for key in schemas}
    for n, case in enumerate(CASES):
        folder = tmp_path_factory.mktemp(case.id)
        files, expected = case.build(folder, 1000 * (n + 1))
        t0 = time.monotonic()
        ok, reason, rows = try_bulk_insert(colls[case.schema].name, files)
        results[case.id] = Outcome(ok, reason, rows, time.monotonic() - t0, expected)
        if ok:
            imported[case.schema].append(case.id)
    # one bigger Parquet file for the paging path of fetch_rows
    big = make_rows(10_000_000, n=BIG_ROWS)
    big_file = write_parquet(tmp_path_factory.mktemp("big") / "big.parquet", arrow_columns(big))
    t0 = time.monotonic()
    ok, reason, rows = try_bulk_insert(colls["full"].name, big_file)
    results["parquet-big"] = Outcome(ok, reason, rows, time.monotonic() - t0, big)
    if ok:
        imported["full"].append("parquet-big")

    with quiet_pymilvus():  # start all loads at once (~4 s each); fetch_rows waits for its own
        for key, coll in colls.items():
            if imported[key]:
                coll.load(_async=True)
    for key, coll in colls.items():
        if not imported[key]:
            continue
        t0 = time.monotonic()
        got = fetch_rows(coll, "id")
        read_s = time.monotonic() - t0
        want_total = sum(results[c].rows for c in imported[key])
        assert len(got) == want_total, f"collection {key}: {len(got)} rows read, {want_total} imported"
        for case_id in imported[key]:
            out = results[case_id]
            keys = {r["id"] for r in out.expected}
            try:
                assert_rows_equal(
                    out.expected, {k: got[k] for k in keys if k in got}, schemas[key], pk_field="id"
                )
            except AssertionError as exc:
                out.diff = str(exc)
        print(f"\n{key}: read {len(got)} rows in {read_s:.1f}s (load + query)")
        with quiet_pymilvus():
            coll.drop()
    for key, coll in colls.items():
        if not imported[key]:
            with quiet_pymilvus():
                coll.drop()
    for case_id, out in results.items():
        print(f"{case_id}: accepted={out.accepted} rows={out.rows} {out.seconds:.1f}s {out.reason[:100]}")
    return results


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_form(outcomes: dict[str, Outcome], case: Case) -> None:
    out = outcomes[case.id]
    if case.expect == "rejected":
        assert not out.accepted, f"expected a rejection, but {out.rows} rows were imported"
        assert case.reason in out.reason, out.reason
        return
    assert out.accepted, f"import failed: {out.reason}"
    assert out.rows == len(out.expected)
    if case.expect == "ok":
        assert out.diff == "", out.diff
    else:
        assert out.diff, "values now read back unchanged: update the case and the findings"
        assert case.reason in out.diff, out.diff


def test_fetch_rows_pages_past_the_query_window(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["parquet-big"]
    assert out.accepted, out.reason
    assert out.rows == BIG_ROWS
    assert out.diff == "", out.diff


# --------------------------------------------------------------------------------------
# normalisers (no server needed, but kept next to the harness they belong to)
# --------------------------------------------------------------------------------------


def test_normalisers() -> None:
    assert normalise_value("BINARY_VECTOR", [b"\x01\xff"]) == b"\x01\xff"
    assert normalise_value("BINARY_VECTOR", [1, 255]) == binary_vector_bytes(np.array([1, 255], np.uint8))
    assert normalise_value("FLOAT_VECTOR", np.array([0.1], np.float64)) == [f32(0.1)]
    assert normalise_value("FLOAT", 0.1) == float(np.float32(0.1)) != 0.1
    assert normalise_value("JSON", '{"a": [1]}') == {"a": [1]}
    assert normalise_value("ARRAY", np.array([1, 2]), "INT64") == [1, 2]
    with pytest.raises(TypeError):
        normalise_value("INT64", 5.0)
    schema = _schema()
    written = {"id": 1, "$meta": '{"k": 1}', "x": 2}
    read = {"id": 1, "k": 1, "x": 2}
    assert (
        normalise_row(written, schema) == normalise_row(read, schema) == {"id": 1, "$meta": {"k": 1, "x": 2}}
    )
