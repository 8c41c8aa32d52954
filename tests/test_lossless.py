"""No row lost, no value altered: every input form, every error, through the public API.

Each test here failed on the code before issue 15 (the pipeline as stages).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bulkwriter
from bulkwriter import ValidationError, WriterClosedError

SCHEMA = {
    "enabledDynamicField": True,
    "fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {"fieldName": "x", "dataType": "Int8"},
        {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
    ],
}


def _rejects(result: bulkwriter.WriteResult) -> dict[int, set[str]]:
    """Input row -> codes, from the rejects file."""
    assert result.rejects_path is not None
    found: dict[int, set[str]] = {}
    for line in Path(result.rejects_path).read_bytes().splitlines():
        record = json.loads(line)
        found.setdefault(record["row"], set()).add(record["code"])
    return found


def _ids(result: bulkwriter.WriteResult) -> list[int]:
    return [i for f in result.files for i in pq.read_table(f.path).column("id").to_pylist()]


# -- skip mode keeps every valid row, whatever the input form ---------------------------------

_COLUMNS: dict[str, list[Any]] = {
    "id": [1, 2, 3, 4, 5],
    "x": [1, "a", 3, 300, 5],  # row 1: not a number (conversion), row 3: out of Int8 range
    "vec": [[0.1, 0.2], [0.1, 0.2], [0.1, "b"], [0.1, 0.2], [0.5]],  # row 2: bad element, row 4: dim
}
_BAD = {1: "wrong_type", 2: "wrong_type", 3: "int_out_of_range", 4: "wrong_dim"}


def _as_rows() -> list[dict[str, Any]]:
    return [dict(zip(_COLUMNS, values, strict=True)) for values in zip(*_COLUMNS.values(), strict=True)]


def _forms() -> dict[str, Any]:
    return {
        "rows": _as_rows(),
        "stream of rows": lambda: iter(_as_rows()),
        "columns": _COLUMNS,
        "numpy columns": {
            "id": np.arange(1, 6),
            "x": np.array(_COLUMNS["x"], dtype=object),
            "vec": _COLUMNS["vec"],
        },
        "pandas": pd.DataFrame(_COLUMNS),
        "stream of pieces": lambda: iter([{k: v[:2] for k, v in _COLUMNS.items()}, _as_rows()[2:]]),
    }


@pytest.mark.parametrize("form", list(_forms()))
def test_skip_keeps_every_valid_row_of_every_input_form(form: str, tmp_path: Path) -> None:
    data = _forms()[form]
    data = data() if callable(data) else data
    result = bulkwriter.write(data, tmp_path / "o", schema=SCHEMA, on_error="skip")
    assert (result.rows_read, result.rows_written, result.rows_rejected) == (5, 1, 4)
    assert _ids(result) == [1]
    assert {row: codes for row, codes in _rejects(result).items()} == {r: {c} for r, c in _BAD.items()}


@pytest.mark.parametrize("form", ["arrow", "polars", "reader"])
def test_skip_keeps_every_valid_row_of_arrow_inputs(form: str, tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "x": pa.array([1, 300, 3, -129], pa.int64()),
            "vec": pa.array([[0.1, 0.2], [0.1, float("nan")], [0.1], [0.3, 0.4]], pa.list_(pa.float64())),
        }
    )
    data: Any = {"arrow": table, "polars": pl.from_arrow(table), "reader": table.to_reader(max_chunksize=3)}[
        form
    ]
    result = bulkwriter.write(data, tmp_path / "o", schema=SCHEMA, on_error="skip")
    assert (result.rows_read, result.rows_written, result.rows_rejected) == (4, 1, 3)
    assert _ids(result) == [1]
    found = _rejects(result)
    assert set(found) == {1, 2, 3}  # each bad row named by (at least) one of its broken rules
    assert found[1] <= {"int_out_of_range", "not_finite"}
    assert found[2] == {"wrong_dim"}
    assert found[3] == {"int_out_of_range"}


def test_skip_with_mixed_pieces_counts_every_row(tmp_path: Path) -> None:
    """written + rejected == read across many pieces, with bad rows at piece edges."""
    rows = [{"id": i, "x": 200 if i % 7 == 0 else 1, "vec": [0.5, 0.5]} for i in range(1000)]
    result = bulkwriter.write(
        iter(rows), tmp_path / "o", schema=SCHEMA, on_error="skip", max_rows_per_file=64
    )
    bad = {i for i in range(1000) if i % 7 == 0}
    assert result.rows_read == 1000
    assert result.rows_written + result.rows_rejected == 1000
    assert set(_rejects(result)) == bad
    assert sorted(_ids(result)) == [i for i in range(1000) if i not in bad]


# -- after an error that lost buffered rows the writer is failed ----------------------------


def test_commit_after_a_failed_commit_raises_again(tmp_path: Path) -> None:
    w = bulkwriter.Writer(tmp_path / "o", schema=SCHEMA, format="jsonl")
    for i in range(101):
        w.append_row({"id": i, "x": 300 if i == 50 else 1, "vec": [0.1, 0.2]})
    with pytest.raises(ValidationError) as first:
        w.commit()
    with pytest.raises(ValidationError) as second:
        w.commit()
    assert second.value is first.value
    for call in (lambda: w.append_row({"id": 1, "x": 1, "vec": [0.1, 0.2]}), w.flush, lambda: w.write([])):
        with pytest.raises(ValidationError):
            call()
    w.abort()
    with pytest.raises(WriterClosedError):
        w.commit()
    assert not (tmp_path / "o").exists()
    assert (
        not list((tmp_path / ".bulkwriter-staging").glob("*/*"))
        if (tmp_path / ".bulkwriter-staging").exists()
        else True
    )


def test_flush_failure_fails_the_writer(tmp_path: Path) -> None:
    w = bulkwriter.Writer(tmp_path / "o", schema=SCHEMA)
    w.append_row({"id": 1, "x": 1, "vec": [0.1, 0.2]})
    w.append_row({"id": 2, "x": 999, "vec": [0.1, 0.2]})
    with pytest.raises(ValidationError):
        w.flush()
    with pytest.raises(ValidationError):
        w.commit()
    w.abort()
    assert not (tmp_path / "o").exists()


def test_write_failing_part_way_fails_the_writer(tmp_path: Path) -> None:
    """A write() whose second batch is bad has added its first: nothing of it may commit."""
    rows = [{"id": i, "x": 1 if i != 9000 else 500, "vec": [0.1, 0.2]} for i in range(10_000)]
    w = bulkwriter.Writer(tmp_path / "o", schema=SCHEMA)
    with pytest.raises(ValidationError):
        w.write(rows)
    with pytest.raises(ValidationError):
        w.commit()
    w.abort()


def test_input_error_before_any_row_leaves_the_writer_open(tmp_path: Path) -> None:
    w = bulkwriter.Writer(tmp_path / "o", schema=SCHEMA)
    w.write([{"id": 1, "x": 1, "vec": [0.1, 0.2]}])
    with pytest.raises(bulkwriter.InputError):
        w.write(42)
    assert w.commit().rows_written == 1


def test_max_errors_fails_the_writer(tmp_path: Path) -> None:
    w = bulkwriter.Writer(tmp_path / "o", schema=SCHEMA, on_error="skip", max_errors=1)
    w.append_row({"id": 0, "x": 300, "vec": [0.1, 0.2]})
    w.append_row({"id": 1, "x": 300, "vec": [0.1, 0.2]})
    with pytest.raises(ValidationError):
        w.flush()
    with pytest.raises(ValidationError):
        w.commit()
    w.abort()


# -- rows are owned at append_row time ------------------------------------------------------


def test_a_reused_dict_and_list_write_each_rows_values(tmp_path: Path) -> None:
    row: dict[str, Any] = {"id": 0, "x": 1, "vec": [0.0, 0.0], "tags": {"n": [0]}}
    array = np.zeros(2)
    with bulkwriter.Writer(tmp_path / "o", schema=SCHEMA, format="jsonl") as w:
        for i in range(3):
            row["id"] = i
            row["vec"][0] = float(i)
            row["tags"]["n"][0] = i
            w.append_row(row)
        for i in range(3, 5):
            array[1] = i
            w.append_row({"id": i, "x": 1, "vec": array})
    lines = [json.loads(line) for line in Path(w.result.files[0].path).read_text().splitlines()]  # type: ignore[union-attr]
    assert [(r["id"], r["vec"], r["$meta"]) for r in lines] == [
        (0, [0.0, 0.0], {"tags": {"n": [0]}}),
        (1, [1.0, 0.0], {"tags": {"n": [1]}}),
        (2, [2.0, 0.0], {"tags": {"n": [2]}}),
        (3, [0.0, 3.0], {}),
        (4, [0.0, 4.0], {}),
    ]


# -- a with block whose own commit fails cleans up ------------------------------------------


def _encode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("bulkwriter-encode")]


def test_with_block_whose_commit_fails_aborts_and_stops_its_thread(tmp_path: Path) -> None:
    before = len(_encode_threads())

    def fill() -> None:
        with bulkwriter.Writer(tmp_path / "o", schema=SCHEMA, max_rows_per_file=10) as w:
            for i in range(100):
                w.append_row({"id": i, "x": 1, "vec": [0.1, 0.2]})
            w.flush()  # files staged on the encode thread
            w.append_row({"id": 100, "x": 1000, "vec": [0.1, 0.2]})  # fails at the implicit commit

    with pytest.raises(ValidationError):
        fill()
    assert len(_encode_threads()) == before
    assert not (tmp_path / "o").exists()
    staging = tmp_path / ".bulkwriter-staging"
    assert not staging.exists() or not any(p.is_file() for p in staging.rglob("*"))
    assert bulkwriter.inspect(tmp_path / "o").is_clean


# -- JSON depth: the finite check and the serializer agree at every depth ------------------


def _nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [1, 63, 64, 65, 70, 127, 128, 129, 200, 300, 5000])
@pytest.mark.parametrize("where", ["dynamic key", "json field"])
def test_nan_at_any_depth_is_refused_never_written_as_null(depth: int, where: str, tmp_path: Path) -> None:
    schema = {
        "enabledDynamicField": True,
        "fields": [*SCHEMA["fields"], {"fieldName": "doc", "dataType": "JSON"}],  # type: ignore[list-item]
    }
    bad = _nested(float("nan"), depth)
    fine = _nested(1.5, depth)
    key = "k" if where == "dynamic key" else "doc"
    rows = [
        {"id": 0, "x": 1, "vec": [0.1, 0.2], "doc": {}, key: fine},
        {"id": 1, "x": 1, "vec": [0.1, 0.2], "doc": {}, key: bad},
    ]
    result = bulkwriter.write(rows, tmp_path / "o", schema=schema, format="jsonl", on_error="skip")
    deep = depth > 128
    assert _rejects(result) == ({0: {"json_too_deep"}, 1: {"json_too_deep"}} if deep else {1: {"not_finite"}})
    lines = Path(result.files[0].path).read_text().splitlines() if result.files else []
    assert "null" not in "".join(lines)
    assert len(lines) == (0 if deep else 1)


# -- sparse indices are integers, values real numbers ---------------------------------------

_SPARSE = {
    "fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {"fieldName": "sp", "dataType": "SparseFloatVector"},
    ]
}


@pytest.mark.parametrize(
    "cell",
    [
        {1.9: 0.5},
        {1.0: 0.5},
        {True: 0.5},
        {1: True},
        {"\uff11": 0.5},
        {"1.5": 0.5},
        {"-1x": 0.5},
        {1: "0.5"},
        {"indices": [1.9], "values": [0.5]},
        {"indices": [True], "values": [0.5]},
        {"indices": [1], "values": [False]},
    ],
    ids=repr,
)
def test_sparse_indices_must_be_integers(cell: dict[Any, Any]) -> None:
    errors = bulkwriter.validate([{"id": 1, "sp": cell}], schema=_SPARSE)
    assert [(e.code, e.field, e.row) for e in errors] == [("wrong_type", "sp", 0)]


@pytest.mark.parametrize(
    "cell",
    [
        {1: 0.5},
        {np.int64(1): 0.5},
        {"7": 1},
        {"indices": [np.uint32(3)], "values": [np.float32(0.5)]},
        '{"2": 0.25}',
    ],
)
def test_sparse_integer_indices_are_taken(cell: Any) -> None:
    assert bulkwriter.validate([{"id": 1, "sp": cell}], schema=_SPARSE) == []


# -- integers for float fields: exact per value, whatever the batch -------------------------


@pytest.mark.parametrize(
    "neighbour", [[0.5, 1.0], [2, 1], [16777216, 3]], ids=["floats", "ints", "exact-big-int"]
)
@pytest.mark.parametrize("position", [0, 1])
def test_an_inexact_integer_in_a_float_vector_is_refused_in_any_batch(
    neighbour: list[Any], position: int
) -> None:
    cells = [neighbour, neighbour]
    cells[position] = [16777217, 1.0] if position else [1.0, 16777217]
    errors = bulkwriter.validate({"id": [1, 2], "x": [1, 1], "vec": cells}, schema=SCHEMA)
    assert [(e.code, e.row, e.element) for e in errors] == [("not_exact", position, 0 if position else 1)]


@pytest.mark.parametrize("values", [[16777217, 0.5], [0.5, 16777217], [16777217, 3]])
def test_an_inexact_integer_for_a_float_field_is_refused_in_any_batch(values: list[Any]) -> None:
    schema = {"fields": [*SCHEMA["fields"], {"fieldName": "f", "dataType": "Float"}]}  # type: ignore[list-item]
    data = {"id": [1, 2], "x": [1, 1], "vec": [[0.1, 0.2]] * 2, "f": values}
    errors = bulkwriter.validate(data, schema=schema)
    assert [(e.code, e.row) for e in errors] == [("not_exact", values.index(16777217))]
    rows = [{"id": i, "x": 1, "vec": [0.1, 0.2], "f": v} for i, v in enumerate(values)]
    assert [(e.code, e.row) for e in bulkwriter.validate(rows, schema=schema)] == [
        ("not_exact", values.index(16777217))
    ]


def test_a_big_integer_for_a_double_field_is_refused_when_inexact() -> None:
    schema = {"fields": [*SCHEMA["fields"], {"fieldName": "d", "dataType": "Double"}]}  # type: ignore[list-item]
    data = {"id": [1, 2, 3], "x": [1, 1, 1], "vec": [[0.1, 0.2]] * 3, "d": [2**53 + 1, 0.5, 2**53]}
    assert [(e.code, e.row) for e in bulkwriter.validate(data, schema=schema)] == [("not_exact", 0)]


# -- $meta keys that clash with fields ------------------------------------------------------


@pytest.mark.parametrize("meta", [{"x": 5}, {"id": 1}, {"$meta": {"a": 1}}, '{"vec": 1}'], ids=repr)
def test_meta_keys_equal_to_a_field_or_meta_are_refused(meta: Any) -> None:
    errors = bulkwriter.validate([{"id": 1, "x": 1, "vec": [0.1, 0.2], "$meta": meta}], schema=SCHEMA)
    assert [(e.code, e.field, e.row) for e in errors] == [("dynamic_key_clash", "$meta", 0)]


# -- odd input gives typed errors or empty outputs, never a builtin exception ---------------


def test_lone_surrogate_in_a_dynamic_key_name_is_a_typed_error(tmp_path: Path) -> None:
    rows = [{"id": 1, "x": 1, "vec": [0.1, 0.2], "k\ud800": 1}, {"id": 2, "x": 1, "vec": [0.1, 0.2]}]
    with pytest.raises(ValidationError) as info:
        bulkwriter.write(rows, tmp_path / "a", schema=SCHEMA)
    assert [(e.code, e.row) for e in info.value.errors] == [("invalid_utf8", 0)]
    result = bulkwriter.write(rows, tmp_path / "b", schema=SCHEMA, on_error="skip")
    assert (result.rows_written, result.rows_rejected) == (1, 1)
    assert "\\ud800" in Path(result.rejects_path or "").read_text()
    with pytest.raises(bulkwriter.InputError):
        bulkwriter.write({"id\ud800": [1]}, tmp_path / "c", schema=SCHEMA)


def _zero_row_inputs() -> dict[str, Any]:
    return {
        "columns": {"id": [], "x": [], "vec": []},
        "numpy": {
            "id": np.array([], np.int64),
            "x": np.array([], np.int8),
            "vec": np.empty((0, 2), np.float32),
        },
        "pandas": pd.DataFrame({"id": [], "x": [], "vec": []}),
        "rows": [],
        "generator": iter([]),
        "arrow": pa.table({"id": pa.array([], pa.int64())}),
    }


@pytest.mark.parametrize("form", list(_zero_row_inputs()))
@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "numpy"])
def test_zero_rows_commit_an_empty_output(form: str, fmt: str, tmp_path: Path) -> None:
    result = bulkwriter.write(
        _zero_row_inputs()[form],
        tmp_path / "o",
        schema=SCHEMA if fmt != "numpy" else {**SCHEMA, "enabledDynamicField": False},
        format=fmt,
    )  # type: ignore[arg-type]
    assert (result.rows_read, result.rows_written, len(result.files)) == (0, 0, 0)
    assert bulkwriter.inspect(tmp_path / "o").committed is not None


def test_a_row_bigger_than_the_byte_cap_is_rejected_by_its_input_row(tmp_path: Path) -> None:
    rows = [
        {"id": i, "x": 1, "vec": [0.1, 0.2], "blob": "x" * (5000 if i in (3, 7) else 10)} for i in range(10)
    ]
    result = bulkwriter.write(
        rows, tmp_path / "o", schema=SCHEMA, format="jsonl", max_bytes_per_file=2000, on_error="skip"
    )
    assert (result.rows_read, result.rows_written, result.rows_rejected) == (10, 8, 2)
    assert _rejects(result) == {3: {"row_too_large"}, 7: {"row_too_large"}}
    ids = [json.loads(line)["id"] for f in result.files for line in Path(f.path).read_text().splitlines()]
    assert ids == [0, 1, 2, 4, 5, 6, 8, 9]
    with pytest.raises(ValidationError) as info:
        bulkwriter.write(rows, tmp_path / "p", schema=SCHEMA, format="jsonl", max_bytes_per_file=2000)
    assert [(e.code, e.row) for e in info.value.errors] == [("row_too_large", 3)]
    assert not (tmp_path / "p").exists()


def test_not_a_row_in_a_list_of_rows_is_skippable(tmp_path: Path) -> None:
    rows: list[Any] = [
        {"id": 1, "x": 1, "vec": [0.1, 0.2]},
        {"id": 2, "x": 1, "vec": [0.1, 0.2], 3: "int key"},
    ]

    def stream() -> Iterator[Any]:
        yield from rows

    result = bulkwriter.write(rows, tmp_path / "o", schema=SCHEMA, on_error="skip")
    assert (result.rows_written, result.rows_rejected) == (1, 1)
    assert _rejects(result) == {1: {"bad_key"}}
    assert bulkwriter.validate(stream(), schema=SCHEMA)[0].code == "bad_key"


# -- the error code catalogue ----------------------------------------------------------------


def test_readme_lists_exactly_the_error_code_catalogue() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = readme[readme.index("**Error codes.**") :].split("\n\n")[1]
    listed = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    assert listed == bulkwriter.ERROR_CODES


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ([1e39, 0.5], "float_out_of_range"),
        ([float("inf"), 0.5], "not_finite"),
        ([float("nan"), 0.5], "not_finite"),
    ],
)
def test_one_code_per_rule_for_floats_and_float_vectors(cell: list[float], code: str) -> None:
    """A too-large value is float_out_of_range in a Float field and in a vector alike."""
    schema = {"fields": [*SCHEMA["fields"], {"fieldName": "f", "dataType": "Float"}]}  # type: ignore[list-item]
    rows = [{"id": 1, "x": 1, "vec": cell, "f": 0.5}, {"id": 2, "x": 1, "vec": [0.5, 0.5], "f": cell[0]}]
    assert [(e.code, e.field, e.row) for e in bulkwriter.validate(rows, schema=schema)] == [
        (code, "vec", 0),
        (code, "f", 1),
    ]


# -- one options object for write() and Writer ----------------------------------------------


def test_write_and_writer_share_one_options_object(tmp_path: Path) -> None:
    from typing import get_type_hints

    from bulkwriter.options import WriteKeywords

    fields = {f.name for f in __import__("dataclasses").fields(bulkwriter.WriteOptions)}
    assert set(get_type_hints(WriteKeywords)) == fields
    options = bulkwriter.WriteOptions(format="jsonl", max_rows_per_file=2)
    rows = [{"id": i, "x": 1, "vec": [0.1, 0.2]} for i in range(5)]
    by_object = bulkwriter.write(rows, tmp_path / "a", schema=SCHEMA, options=options)
    by_keywords = bulkwriter.write(rows, tmp_path / "b", schema=SCHEMA, format="jsonl", max_rows_per_file=2)
    assert [f.rows for f in by_object.files] == [f.rows for f in by_keywords.files] == [2, 2, 1]
    overridden = bulkwriter.write(rows, tmp_path / "c", schema=SCHEMA, options=options, max_rows_per_file=5)
    assert [f.rows for f in overridden.files] == [5]
    with bulkwriter.Writer(tmp_path / "d", schema=SCHEMA, options=options) as w:
        assert w.options is options
        w.write(rows)
    with pytest.raises(TypeError, match="unknown write option"):
        bulkwriter.Writer(tmp_path / "e", schema=SCHEMA, colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="workers"):
        bulkwriter.WriteOptions(workers=0)
    assert "secret" not in repr(bulkwriter.WriteOptions(storage_options={"secret": "s3cr3t-value"}))


@pytest.mark.parametrize("bad", ["unknown key", "wrong column type"])
def test_a_whole_bad_column_rejects_every_row_in_one_step(bad: str, tmp_path: Path) -> None:
    """Every row of a wrong-typed (or unknown) column is named at once, not one per round."""
    n = 20_000
    schema = {**SCHEMA, "enabledDynamicField": False}
    table = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "x": pa.array(["a"] * n) if bad == "wrong column type" else pa.array([1] * n, pa.int8()),
            "vec": pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(2 * n, np.float32)), 2),
            **({"colour": pa.array(["red"] * n)} if bad == "unknown key" else {}),
        }
    )
    result = bulkwriter.write(table, tmp_path / "o", schema=schema, on_error="skip")
    assert (result.rows_read, result.rows_written, result.rows_rejected) == (n, 0, n)
    errors = bulkwriter.validate(table, schema=schema)
    assert len(errors) == n
    assert {e.code for e in errors} == {"unknown_field" if bad == "unknown key" else "wrong_type"}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
def test_a_too_large_last_row_leaves_no_staged_file_behind(fmt: str, tmp_path: Path) -> None:
    """The over-cap attempt of a streamed part is replaced or removed, never published or left."""
    rows = [{"id": i, "x": 1, "vec": [0.1, 0.2], "blob": "x" * (5000 if i == 9 else 10)} for i in range(10)]
    result = bulkwriter.write(
        rows, tmp_path / "o", schema=SCHEMA, format=fmt, max_bytes_per_file=2000, on_error="skip"
    )
    assert (result.rows_written, result.rows_rejected) == (9, 1)
    found = bulkwriter.inspect(tmp_path / "o")
    assert found.is_clean
    assert found.committed is not None
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(
        ["_bulkwriter.json", *(Path(f.path).name for f in result.files)]
    )
    assert not (tmp_path / ".bulkwriter-staging").exists()


# -- a JSON field or dynamic key holds any Arrow list kind --------------------------------------

_LIST_KINDS = {
    "list": pa.list_(pa.float64()),
    "large_list": pa.large_list(pa.float64()),
    "fixed_size_list": pa.list_(pa.float64(), 2),
    "list_view": pa.list_view(pa.float64()),
    "large_list_view": pa.large_list_view(pa.float64()),
}


@pytest.mark.parametrize("kind", list(_LIST_KINDS))
@pytest.mark.parametrize("where", ["json field", "dynamic key"])
def test_json_cells_of_any_arrow_list_kind_are_written_as_given(
    kind: str, where: str, tmp_path: Path
) -> None:
    schema = {
        "enabledDynamicField": True,
        "fields": [*SCHEMA["fields"], {"fieldName": "doc", "dataType": "JSON", "nullable": True}],  # type: ignore[list-item]
    }
    key = "doc" if where == "json field" else "k"
    cells = pa.array([[1.5, 2.0], None, [0.0, float("nan")], [3.0, 4.0]], _LIST_KINDS[kind])
    table = pa.table(
        {
            "id": pa.array([0, 1, 2, 3], pa.int64()),
            "x": pa.array([1, 1, 1, 1], pa.int8()),
            "vec": pa.array([[0.1, 0.2]] * 4, pa.list_(pa.float32())),
            key: cells,
        }
    )
    result = bulkwriter.write(table, tmp_path / "o", schema=schema, format="jsonl", on_error="skip")
    assert _rejects(result) == {2: {"not_finite"}}
    written = [json.loads(line) for line in Path(result.files[0].path).read_text().splitlines()]
    got = [r[key] if key in r else r.get("$meta", {}).get(key) for r in written]
    got = [json.loads(g) if isinstance(g, str) else g for g in got]  # a JSON field is written as text
    assert [r["id"] for r in written] == [0, 1, 3]
    assert got == [[1.5, 2.0], None, [3.0, 4.0]]


def test_polars_empty_list_in_a_json_field_is_valid(tmp_path: Path) -> None:
    """polars hands ``[[], None]`` over as ``large_list<null>`` (found by the skip property)."""
    schema = {"fields": [*SCHEMA["fields"], {"fieldName": "doc", "dataType": "JSON", "nullable": True}]}  # type: ignore[list-item]
    table = pa.table({"id": [0, 1], "x": [1, 1], "vec": [[0.1, 0.2]] * 2, "doc": [[], None]})
    result = bulkwriter.write(
        pl.from_arrow(table), tmp_path / "o", schema=schema, format="jsonl", on_error="skip"
    )
    assert (result.rows_written, result.rows_rejected) == (2, 0)
    written = [json.loads(line) for line in Path(result.files[0].path).read_text().splitlines()]
    assert [None if r["doc"] is None else json.loads(r["doc"]) for r in written] == [[], None]


@pytest.mark.parametrize("view", [pa.list_view, pa.large_list_view])
def test_vector_and_array_columns_given_as_list_views_are_checked_and_written(
    view: Any, tmp_path: Path
) -> None:
    schema = {
        "fields": [
            *SCHEMA["fields"],  # type: ignore[list-item]
            {
                "fieldName": "tags",
                "dataType": "Array",
                "elementType": "Int64",
                "nullable": True,
                "elementTypeParams": {"max_capacity": 2},
            },
        ]
    }
    table = pa.table(
        {
            "id": [9, 0, 1, 2, 3],
            "x": [1, 1, 1, 1, 1],
            "vec": pa.array([[9.0, 9.0], [0.1, 0.2], [0.3], [0.5, 0.6], [0.7, 0.8]], view(pa.float32())),
            "tags": pa.array([[9], [1], [2], None, [3, 4, 5]], view(pa.int64())),
        }
    ).slice(1)  # a view column with an offset
    result = bulkwriter.write(table, tmp_path / "o", schema=schema, on_error="skip")
    assert _rejects(result) == {1: {"wrong_dim"}, 3: {"too_many_elements"}}
    written = pq.read_table(result.files[0].path).select(["id", "tags"]).to_pylist()
    assert written == [{"id": 0, "tags": [1]}, {"id": 2, "tags": None}]


_VIEW_SCHEMA = {
    "enabledDynamicField": True,
    "fields": [
        {"fieldName": "id", "dataType": "VarChar", "isPrimary": True, "elementTypeParams": {"max_length": 8}},
        {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
        {"fieldName": "bv", "dataType": "BinaryVector", "elementTypeParams": {"dim": 8}},
        {
            "fieldName": "tags",
            "dataType": "Array",
            "elementType": "VarChar",
            "nullable": True,
            "elementTypeParams": {"max_capacity": 2, "max_length": 4},
        },
        {"fieldName": "doc", "dataType": "JSON", "nullable": True},
        {"fieldName": "sp", "dataType": "SparseFloatVector"},
    ],
}


def _view_table(view: bool) -> pa.Table:
    """The same rows with plain Arrow types, or with a view type at every level that has one."""
    s = pa.string_view() if view else pa.large_string()
    b = pa.binary_view() if view else pa.large_binary()
    lst = pa.large_list_view if view else pa.large_list
    return pa.table(
        {
            "id": pa.array(["z", "a", "b", "c", "d"], s),
            "vec": pa.array(
                [[9, 9], [0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7]],
                pa.list_view(pa.float32()) if view else pa.list_(pa.float32()),
            ),
            "bv": pa.array([b"\x00", b"\x01", b"\x02", b"\x03", b"\x04"], b),
            "tags": pa.array([["z"], ["x"], ["toolong"], None, ["y", "w"]], lst(s)),
            "doc": pa.array(
                [None, {"k": ["é", None]}, None, {"k": []}, {"k": ["q"]}], pa.struct([("k", lst(s))])
            ),
            "sp": pa.array(['{"1":1}'] * 5, s),
            "extra": pa.array(["m", "n", "o", None, "p"], s),
        }
    ).slice(1)


def test_view_typed_columns_are_read_like_plain_ones(tmp_path: Path) -> None:
    """string_view, binary_view and list views (polars' newest export) at any depth: the
    same rows rejected and the same bytes written as for the plain types."""
    written = []
    for view in (False, True):
        result = bulkwriter.write(
            _view_table(view), tmp_path / str(view), schema=_VIEW_SCHEMA, on_error="skip"
        )
        assert _rejects(result) == {1: {"too_long"}, 3: {"wrong_dim"}}
        written.append(pq.read_table(result.files[0].path).to_pylist())
    assert written[0] == written[1]
    assert [r["id"] for r in written[1]] == ["a", "c"]
    assert [r["$meta"] for r in written[1]] == ['{"extra":"n"}', "{}"]


def test_polars_newest_export_is_accepted(tmp_path: Path) -> None:
    df = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "vec": [[0.1, 0.2]] * 3,
            "bv": [b"\x01"] * 3,
            "tags": [["x"], [], ["toolong"]],
            "doc": ['{"a":1}', "[1]", None],
            "sp": ['{"1":0.5}'] * 3,
            "extra": ["m", None, "o"],
        }
    )
    table = df.to_arrow(compat_level=pl.CompatLevel.newest())
    assert pa.types.is_string_view(table.schema.field("id").type)
    result = bulkwriter.write(table, tmp_path / "o", schema=_VIEW_SCHEMA, on_error="skip")
    assert _rejects(result) == {2: {"too_long"}}
    assert pq.read_table(result.files[0].path).select(["id", "tags", "doc", "$meta"]).to_pylist() == [
        {"id": "a", "tags": ["x"], "doc": '{"a":1}', "$meta": '{"extra":"m"}'},
        {"id": "b", "tags": [], "doc": "[1]", "$meta": "{}"},
    ]


@pytest.mark.parametrize(
    ("cells", "arrow_type", "texts"),
    [
        ([0, -7], pa.int64(), ["0", "-7"]),
        ([2**64 - 1, 0], pa.uint64(), ["18446744073709551615", "0"]),
        ([1.5, 0.25], pa.float32(), ["1.5", "0.25"]),
        ([0.5, 2.0], pa.float16(), ["0.5", "2.0"]),
        ([True, False], pa.bool_(), ["true", "false"]),
    ],
    ids=str,
)
def test_an_arrow_number_or_boolean_column_for_a_json_field_is_taken_like_python_values(
    cells: list[Any], arrow_type: pa.DataType, texts: list[str], tmp_path: Path
) -> None:
    """A JSON field holds any JSON value: Arrow numbers and booleans are written as the same
    JSON text as these values in Python rows (found by the skip property: ``0`` in a row was
    taken, the same ``0`` in an Arrow int64 column refused)."""
    schema = {"fields": [*SCHEMA["fields"], {"fieldName": "doc", "dataType": "JSON"}]}  # type: ignore[list-item]
    base = {"id": [0, 1], "x": [1, 1], "vec": [[0.1, 0.2]] * 2}
    from_arrow = bulkwriter.write(
        pa.table({**base, "doc": pa.array(cells, arrow_type)}), tmp_path / "a", schema=schema
    )
    from_rows = bulkwriter.write(
        [{"id": i, "x": 1, "vec": [0.1, 0.2], "doc": c} for i, c in enumerate(cells)],
        tmp_path / "r",
        schema=schema,
    )
    got = [pq.read_table(r.files[0].path).column("doc").to_pylist() for r in (from_arrow, from_rows)]
    assert got == [texts, texts]


def test_nan_in_an_arrow_float_column_for_a_json_field_is_refused(tmp_path: Path) -> None:
    schema = {"fields": [*SCHEMA["fields"], {"fieldName": "doc", "dataType": "JSON"}]}  # type: ignore[list-item]
    table = pa.table(
        {"id": [0, 1, 2], "x": [1, 1, 1], "vec": [[0.1, 0.2]] * 3, "doc": [1.0, float("inf"), 2.5]}
    )
    result = bulkwriter.write(table, tmp_path / "o", schema=schema, on_error="skip")
    assert _rejects(result) == {1: {"not_finite"}}
    assert pq.read_table(result.files[0].path).column("doc").to_pylist() == ["1.0", "2.5"]
