"""Tests of bulkwriter.readers: every input format, batch sizes, and every bad-input case."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bulkwriter.errors import InputError
from bulkwriter.readers import find_input_files, iter_input
from bulkwriter.schema import CollectionSchema, DataType, FieldSchema

SAMPLE = resources.files("bulkwriter") / "data" / "debian_packages_sample.parquet"


def rows_of(batches: list[pa.RecordBatch | list[dict[str, object]]]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for b in batches:
        out.extend(b.to_pylist() if isinstance(b, pa.RecordBatch) else b)
    return out


def sizes(batches: list[pa.RecordBatch | list[dict[str, object]]]) -> list[int]:
    return [b.num_rows if isinstance(b, pa.RecordBatch) else len(b) for b in batches]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def raises_input_error(paths: list[Path], match: str | None, **kwargs: object) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        list(iter_input(paths, **kwargs))  # type: ignore[arg-type]
    return info.value


@pytest.fixture
def schema() -> CollectionSchema:
    return CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("name", DataType.VARCHAR, max_length=32, nullable=True),
            FieldSchema("flag", DataType.BOOL),
            FieldSchema("score", DataType.FLOAT),
            FieldSchema("vec", DataType.FLOAT_VECTOR, dim=2),
        ]
    )


# -- Parquet --------------------------------------------------------------------------------


def test_parquet_sample_batches() -> None:
    with resources.as_file(SAMPLE) as path:
        batches = list(iter_input([path], batch_rows=500))
        expected = pq.read_table(path)
    assert sizes(batches) == [500, 500, 500, 488]
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert pa.Table.from_batches(batches).equals(expected)


def test_parquet_batches_cross_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": list(range(25))}), path, row_group_size=7)
    batches = list(iter_input([path], batch_rows=10))
    assert sizes(batches) == [10, 10, 5]
    assert rows_of(batches) == [{"id": i} for i in range(25)]


def test_parquet_truncated(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"id": list(range(100))}), good)
    bad = write(tmp_path / "bad.parquet", good.read_bytes()[:-20])
    err = raises_input_error([bad], r"bad\.parquet: not a readable Parquet file")
    assert err.__cause__ is not None


def test_parquet_corrupt_row_group(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    pq.write_table(
        pa.table({"s": [f"value-{i}" * 20 for i in range(2000)]}),
        path,
        row_group_size=1000,
        compression="snappy",
    )
    data = bytearray(path.read_bytes())
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(1).column(0)
    start = column.data_page_offset
    data[start + 20 : start + 400] = b"\xff" * 380  # garble the second row group's page
    write(path, bytes(data))
    err = raises_input_error([path], r"c\.parquet: row group 1 of 2 cannot be read")
    assert err.__cause__ is not None


# -- CSV ------------------------------------------------------------------------------------

CSV = 'id,name,flag,score,vec\n1,alice,true,0.5,"[1.0, 2.0]"\n2,\\N,false,1,"[3, 4]"\n3,,TRUE,2.25,"[5,6]"\n'


def test_csv_inferred_types_and_nulls(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", CSV)
    [batch] = list(iter_input([path]))
    assert isinstance(batch, pa.RecordBatch)
    assert batch.schema.types == [pa.int64(), pa.string(), pa.bool_(), pa.float64(), pa.string()]
    assert batch.column("name").to_pylist() == ["alice", None, ""]  # \N is null, "" is a string
    assert batch.column("vec").to_pylist() == ["[1.0, 2.0]", "[3, 4]", "[5,6]"]  # JSON text kept


def test_csv_with_schema_types_columns_exactly(tmp_path: Path, schema: CollectionSchema) -> None:
    path = write(tmp_path / "a.csv", CSV.replace("alice", "007"))
    [batch] = list(iter_input([path], schema=schema))
    assert isinstance(batch, pa.RecordBatch)
    assert batch.schema.types == [pa.int64(), pa.string(), pa.bool_(), pa.float64(), pa.string()]
    assert batch.column("name").to_pylist() == ["007", None, ""]
    assert batch.column("score").to_pylist() == [0.5, 1.0, 2.25]


def test_csv_without_schema_dates_stay_text(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "day,at,x\n2024-01-01,2024-01-01T10:00:00,\\N\n")
    [batch] = list(iter_input([path]))
    assert isinstance(batch, pa.RecordBatch)
    assert batch.to_pylist() == [{"day": "2024-01-01", "at": "2024-01-01T10:00:00", "x": None}]


def test_csv_multiline_values_and_batches(tmp_path: Path) -> None:
    lines = ["id,text"] + [f'{i},"line one\nline ""two"" {i}"' for i in range(1000)]
    path = write(tmp_path / "m.csv", "\n".join(lines) + "\n")
    batches = list(iter_input([path], batch_rows=300))
    assert sizes(batches) == [300, 300, 300, 100]
    rows = rows_of(batches)
    assert rows[999] == {"id": 999, "text": 'line one\nline "two" 999'}


def test_csv_many_blocks_rebatched(tmp_path: Path) -> None:
    body = "".join(f"{i},{'x' * 200}\n" for i in range(20_000))  # about 4 MB: several blocks
    path = write(tmp_path / "big.csv", "id,s\n" + body)
    batches = list(iter_input([path], batch_rows=8192))
    assert sizes(batches) == [8192, 8192, 3616]
    assert [r["id"] for r in rows_of(batches)] == list(range(20_000))


def test_csv_header_only(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "id,name\n")
    assert list(iter_input([path])) == []


def test_csv_unterminated_quote(tmp_path: Path) -> None:
    path = write(tmp_path / "q.csv", 'id,text\n1,"ok ""quoted"""\n2,"never closed\n3,x\n4,y\n')
    raises_input_error([path], r"q\.csv: line 3: a double-quoted value is never closed")


def test_csv_wrong_column_count(tmp_path: Path) -> None:
    path = write(tmp_path / "w.csv", 'id,text\n1,a\n2,"b\nc"\n3\n')
    err = raises_input_error([path], r"w\.csv: row 4 \(the header is row 1\): Expected 2 columns, got 1")
    assert isinstance(err.__cause__, pa.ArrowInvalid)


def test_csv_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "u.csv", b"id,name\n1,a\n2,b\xff\n")
    raises_input_error([path], r"u\.csv: line 3: the text is not valid UTF-8")


def test_csv_invalid_utf8_in_later_block(tmp_path: Path, schema: CollectionSchema) -> None:
    body = b"".join(b"%d,name%d\n" % (i, i) for i in range(200_000))
    path = write(tmp_path / "u.csv", b"id,name\n" + body + b"7,\xc3\x28\n")
    raises_input_error([path], r"u\.csv: line 200002: the text is not valid UTF-8", schema=schema)
    raises_input_error([path], r"u\.csv: line 200002: the text is not valid UTF-8")


def test_csv_bad_integer_with_schema(tmp_path: Path, schema: CollectionSchema) -> None:
    path = write(tmp_path / "i.csv", "id,name,flag\n1,a,true\n2.5,b,false\n")
    err = raises_input_error([path], schema=schema, match=None)
    assert str(err) == f"{path}: row 3 (the header is row 1), column 'id': cannot read '2.5' as an integer"
    path = write(tmp_path / "e.csv", "id,name,flag\n1,a,true\n2,b,\n")
    err = raises_input_error([path], schema=schema, match=None)
    assert str(err) == (
        f"{path}: row 3 (the header is row 1), column 'flag': cannot read '' as a boolean (true or false); "
        "an empty cell is the empty string, write \\N for null"
    )


def test_csv_later_block_breaks_inferred_type(tmp_path: Path) -> None:
    body = "".join(f"{i},{'x' * 100}\n" for i in range(30_000))
    path = write(tmp_path / "late.csv", "id,s\n" + body + "oops,y\n")
    raises_input_error(
        [path],
        r"late\.csv: row 30002 \(the header is row 1\): column 'id': .*invalid value 'oops'.*pass the collection schema",
    )


# -- JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [True, False], ids=["rows-object", "bare-list"])
def test_json_streams_rows(tmp_path: Path, wrap: bool) -> None:
    rows = [{"id": i, "vec": [0.5, 1], "name": f"n{i}", "n": None} for i in range(7)]
    path = write(tmp_path / "r.json", json.dumps({"rows": rows} if wrap else rows, indent=1))
    batches = list(iter_input([path], batch_rows=3))
    assert sizes(batches) == [3, 3, 1]
    assert all(isinstance(b, list) for b in batches)
    assert rows_of(batches) == rows
    first = batches[0]
    assert isinstance(first, list)
    assert type(first[0]["id"]) is int
    assert first[0]["vec"] == [0.5, 1]
    assert [type(v) for v in first[0]["vec"]] == [float, int]  # use_float: no Decimal


def test_json_empty_list(tmp_path: Path) -> None:
    assert list(iter_input([write(tmp_path / "e.json", '{"rows": []}')])) == []


@pytest.mark.parametrize(
    "text",
    ['{"data": [{"id": 1}]}', '{"x": 1, "rows": []}', '{"rows": 5}', '"rows"', "12"],
)
def test_json_wrong_top_level(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "t.json", text)
    raises_input_error([path], r"t\.json: (a JSON object must hold the rows|expected a JSON array of rows)")


def test_json_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path / "s.json", '{"rows": [\n {"id": 1},\n {"id": 2},\n {"id": }\n]}\n')
    err = raises_input_error([path], r"s\.json: line 4 \(row 2\): not valid JSON")
    assert err.__cause__ is not None


def test_json_truncated(tmp_path: Path) -> None:
    path = write(tmp_path / "t.json", '[\n{"id": 1},\n{"id": 2')
    raises_input_error([path], r"t\.json: line 3 \(row 1\): not valid JSON \(premature EOF\)")


def test_json_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "u.json", b'[\n{"id": 1},\n{"name": "\xff"}\n]')
    raises_input_error([path], r"u\.json: line 3 \(row 1\): the text is not valid UTF-8")


def test_json_row_not_object(tmp_path: Path) -> None:
    path = write(tmp_path / "n.json", '[{"id": 1}, [1, 2]]')
    raises_input_error([path], r"n\.json: row 1: expected a JSON object, got an array")


# -- JSON Lines -----------------------------------------------------------------------------


def test_jsonl_rows_blank_lines_and_batches(tmp_path: Path) -> None:
    lines = [json.dumps({"id": i, "v": [1.5, 2]}) for i in range(5)]
    path = write(tmp_path / "r.jsonl", "\n".join(lines[:2]) + "\n\n  \n" + "\n".join(lines[2:]))
    batches = list(iter_input([path], batch_rows=2))
    assert sizes(batches) == [2, 2, 1]
    assert rows_of(batches) == [{"id": i, "v": [1.5, 2]} for i in range(5)]


def test_ndjson_extension(tmp_path: Path) -> None:
    path = write(tmp_path / "r.ndjson", '{"id": 1}\n')
    assert list(iter_input([path])) == [[{"id": 1}]]


def test_jsonl_bad_line(tmp_path: Path) -> None:
    path = write(tmp_path / "b.jsonl", '{"id": 1}\n\n{"id": 2,}\n')
    err = raises_input_error([path], r"b\.jsonl: line 3: not valid JSON at column 9: trailing comma")
    assert err.__cause__ is not None


def test_jsonl_not_object_and_bad_utf8(tmp_path: Path) -> None:
    raises_input_error(
        [write(tmp_path / "a.jsonl", '{"id": 1}\n[1]\n')],
        r"a\.jsonl: line 2: expected one JSON object per line",
    )
    raises_input_error(
        [write(tmp_path / "u.jsonl", b'{"id": 1}\n{"s": "\xff"}\n')],
        r"u\.jsonl: line 2: the text is not valid UTF-8",
    )


# -- files, folders, formats ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["e.parquet", "e.csv", "e.json", "e.jsonl"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, b"")
    raises_input_error([path], re.escape(f"{path}: the file is empty"))


def test_missing_file_fails_at_call(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape(f"{tmp_path / 'nope.csv'}: no such file or folder")):
        iter_input([tmp_path / "nope.csv"])


def test_unknown_extension_and_forced_format(tmp_path: Path) -> None:
    path = write(tmp_path / "rows.txt", '{"id": 1}\n')
    with pytest.raises(InputError, match=r"rows\.txt: unknown input file extension"):
        iter_input([path])
    assert list(iter_input([path], input_format="jsonl")) == [[{"id": 1}]]
    with pytest.raises(ValueError, match="input_format must be one of"):
        iter_input([path], input_format="xml")
    with pytest.raises(ValueError, match="batch_rows"):
        iter_input([path], batch_rows=0)


def test_folder_sorted_recursive_skipping_hidden(tmp_path: Path) -> None:
    write(tmp_path / "in" / "b.jsonl", '{"id": 2}\n')
    write(tmp_path / "in" / "a" / "z.json", '[{"id": 1}]')
    write(tmp_path / "in" / "c.csv", "id\n3\n")
    write(tmp_path / "in" / "_bulkwriter.json", "{}")
    write(tmp_path / "in" / ".hidden.jsonl", "garbage")
    write(tmp_path / "in" / "_staging" / "x.jsonl", "garbage")
    write(tmp_path / "in" / "README.md", "# not data")
    (tmp_path / "in" / "d").mkdir()
    pq.write_table(pa.table({"id": [4]}), tmp_path / "in" / "d" / "p.parquet")
    found = find_input_files([tmp_path / "in"])
    assert [(Path(p).relative_to(tmp_path / "in").as_posix(), f) for p, f in found] == [
        ("a/z.json", "json"),
        ("b.jsonl", "jsonl"),
        ("c.csv", "csv"),
        ("d/p.parquet", "parquet"),
    ]
    assert [r["id"] for r in rows_of(list(iter_input([tmp_path / "in"])))] == [1, 2, 3, 4]


def test_folder_without_inputs(tmp_path: Path) -> None:
    write(tmp_path / "x" / "notes.txt", "hi")
    with pytest.raises(InputError, match="the folder holds no input file"):
        iter_input([tmp_path / "x"])


def test_several_paths_in_order(tmp_path: Path) -> None:
    a = write(tmp_path / "a.jsonl", '{"id": 1}\n')
    b = write(tmp_path / "b.csv", "id\n2\n")
    assert [r["id"] for r in rows_of(list(iter_input([b, a])))] == [2, 1]
