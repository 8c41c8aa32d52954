"""Writer behaviour: exact caps, file names, import batches, modes, commit/abort, manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from names import plain, plain_all, write_ids

import bulkwriter
from bulkwriter import (
    CollectionSchema,
    DataType,
    DestinationExistsError,
    FieldSchema,
    StorageError,
    ValidationError,
    Writer,
    WriterClosedError,
)
from bulkwriter.storage import MANIFEST_NAME

FORMATS = ["parquet", "json", "jsonl", "numpy", "csv"]
SCHEMA = CollectionSchema(
    [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("title", DataType.VARCHAR, max_length=64),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=8),
    ]
)


def columns(n: int, start: int = 0) -> dict[str, object]:
    rng = np.random.default_rng(start)
    return {
        "id": np.arange(start, start + n, dtype=np.int64),
        "title": [f"title {i} ✓" for i in range(start, start + n)],
        "vec": rng.random((n, 8), dtype=np.float32),
    }


def visible(path: Path) -> list[str]:
    """Names directly under ``path``, write ids left out (tests/names.py)."""
    return plain_all(p.name for p in path.iterdir()) if path.exists() else []


@pytest.mark.parametrize("fmt", FORMATS)
def test_max_rows_per_file_is_exact(tmp_path: Path, fmt: str) -> None:
    result = bulkwriter.write(columns(1000), tmp_path / "o", schema=SCHEMA, format=fmt, max_rows_per_file=300)
    assert [f.rows for f in result.files] == [300, 300, 300, 100]
    assert result.rows_written == 1000
    suffix = "" if fmt == "numpy" else f".{fmt}"
    assert [plain(Path(f.path).name) for f in result.files] == [f"part-{i:05d}{suffix}" for i in range(4)]
    assert write_ids(Path(f.path).name for f in result.files) == {result.write_id}
    for f in result.files:
        on_disk = (
            sum(p.stat().st_size for p in Path(f.path).rglob("*"))
            if fmt == "numpy"
            else Path(f.path).stat().st_size
        )
        assert on_disk == f.bytes


@pytest.mark.parametrize("fmt", FORMATS)
def test_max_bytes_per_file_is_a_true_cap(tmp_path: Path, fmt: str) -> None:
    cap = 20_000
    result = bulkwriter.write(
        columns(2000), tmp_path / "o", schema=SCHEMA, format=fmt, max_bytes_per_file=cap
    )
    assert len(result.files) > 3
    assert all(f.bytes <= cap for f in result.files), [f.bytes for f in result.files]
    assert sum(f.rows for f in result.files) == 2000
    # files are not tiny either: every file but the last uses most of the cap
    assert all(f.bytes > cap * 0.5 for f in result.files[:-1]), [f.bytes for f in result.files]


@pytest.mark.parametrize(("fmt", "cap"), [("json", 50), ("parquet", 500)])
def test_single_row_larger_than_cap_is_an_error(tmp_path: Path, fmt: str, cap: int) -> None:
    with pytest.raises(ValidationError, match="row_too_large"):
        bulkwriter.write(columns(3), tmp_path / "o", schema=SCHEMA, format=fmt, max_bytes_per_file=cap)
    assert visible(tmp_path / "o") == []
    assert not list(tmp_path.glob(".bulkwriter-staging/*"))


class _WatchedLocalFS:
    """A local fsspec filesystem (the public ``filesystem=`` seam) that counts each file
    opened for writing and each whole-object ``pipe_file``; ``fail_writes_with`` makes
    every write into a staged part raise that exception."""

    def __init__(self, fail_writes_with: BaseException | None = None) -> None:
        import fsspec

        self.fs = fsspec.filesystem("file", skip_instance_cache=True)
        self.opened: dict[str, int] = {}
        self.piped: list[str] = []
        real_open, real_pipe = self.fs.open, self.fs.pipe_file

        def watched_open(path: str, mode: str = "rb", **kwargs: object) -> object:
            f = real_open(path, mode, **kwargs)
            if mode == "wb":
                self.opened[path] = self.opened.get(path, 0) + 1
                if fail_writes_with is not None and "/part-" in path:
                    f.close()
                    raise fail_writes_with
            return f

        def watched_pipe(path: str, value: bytes, **kwargs: object) -> object:
            self.piped.append(path)
            return real_pipe(path, value, **kwargs)

        self.fs.open = watched_open
        self.fs.pipe_file = watched_pipe


def _small_then_large_rows(n: int) -> dict[str, object]:
    """300 rows with empty titles, then rows with 1,000 incompressible letters: an estimate
    from the first rows is far too small for the rest."""
    rng = np.random.default_rng(7)
    letters = rng.integers(0, 26, (n, 1000), dtype=np.uint8) + ord("a")
    titles = [""] * 300 + [bytes(row).decode() for row in letters[300:]]
    return {"id": np.arange(n, dtype=np.int64), "title": titles, "vec": np.zeros((n, 8), np.float32)}


_WIDE = CollectionSchema(
    [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("title", DataType.VARCHAR, max_length=4000),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=8),
    ]
)


def test_local_parquet_is_written_as_encoded_and_rewritten_shorter_when_over_the_cap(tmp_path: Path) -> None:
    """Local Parquet goes straight into its staged file (opened for writing, never piped from
    memory); a file found over the cap is rewritten with fewer rows under the same name."""
    watched = _WatchedLocalFS()
    cap = 200_000
    result = bulkwriter.write(
        _small_then_large_rows(2000),
        tmp_path / "o",
        schema=_WIDE,
        max_bytes_per_file=cap,
        filesystem=watched.fs,
    )
    staged_parts = {p: n for p, n in watched.opened.items() if "/part-" in p}
    assert len(staged_parts) == len(result.files)
    assert max(staged_parts.values()) >= 2  # at least one part was written again, shorter
    assert not [p for p in watched.piped if "/part-" in p]  # no part was encoded in memory
    assert all(f.bytes <= cap for f in result.files), [f.bytes for f in result.files]
    assert [Path(f.path).stat().st_size for f in result.files] == [f.bytes for f in result.files]
    assert [pq.ParquetFile(f.path).metadata.num_rows for f in result.files] == [f.rows for f in result.files]
    assert visible(tmp_path / "o") == sorted(
        [MANIFEST_NAME] + [f"part-{i:05d}.parquet" for i in range(len(result.files))]
    )
    assert pq.read_table(tmp_path / "o").column("id").to_pylist() == list(range(2000))
    assert not list(tmp_path.glob(".bulkwriter-staging/*"))


def test_a_filesystem_failure_that_is_not_transient_is_tried_once(tmp_path: Path) -> None:
    """Opening a staged part raises something no retry can cure: one attempt, then a
    StorageError naming the operation and the cause's type; nothing is left behind."""
    watched = _WatchedLocalFS(fail_writes_with=ArithmeticError("filesystem bug (simulated)"))
    with pytest.raises(StorageError, match="filesystem bug") as raised:
        bulkwriter.write(columns(10), tmp_path / "o", schema=SCHEMA, filesystem=watched.fs)
    assert raised.value.operation == "write part-00000.parquet"
    assert raised.value.cause_types == (ArithmeticError,)
    assert [n for p, n in watched.opened.items() if "/part-" in p] == [1]  # tried once
    assert visible(tmp_path / "o") == []
    assert not list(tmp_path.glob(".bulkwriter-staging/*"))


def test_stage_stream_is_for_local_disks_only() -> None:
    import fsspec

    from bulkwriter.errors import StorageError
    from bulkwriter.storage import OutputSpec, Transaction

    spec = OutputSpec("parquet", "c", {"fields": []})
    with Transaction("memory://bucketless/o", spec=spec, filesystem=fsspec.filesystem("memory")) as txn:
        stager = txn.stager()
        assert not stager.stages_locally
        with pytest.raises(StorageError, match="local files only"):
            stager.stage_stream("part-00000.parquet", lambda sink: None)


def test_import_batches_group_entries(tmp_path: Path) -> None:
    result = bulkwriter.write(
        columns(50), tmp_path / "o", schema=SCHEMA, format="numpy", max_rows_per_file=20
    )
    assert len(result.import_batches) == 1
    entries = result.import_batches[0]
    assert len(entries) == 3
    assert [Path(p).name for p in entries[0]] == ["id.npy", "title.npy", "vec.npy"]
    assert all(Path(p).is_absolute() and Path(p).exists() for entry in entries for p in entry)
    parquet = bulkwriter.write(columns(50), tmp_path / "p", schema=SCHEMA, max_rows_per_file=20)
    assert parquet.import_batches == [[[f.path] for f in parquet.files]]


def test_import_requests_split_at_1024_entries() -> None:
    from bulkwriter.rollover import group_import_entries

    requests = group_import_entries([[f"f{i}"] for i in range(2050)])
    assert [len(r) for r in requests] == [1024, 1024, 2]


def test_manifest_is_written_last_and_inspect_reads_it(tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = bulkwriter.write(columns(10), out, schema=SCHEMA, format="json")
    manifest = json.loads((out / "_bulkwriter.json").read_text())
    assert manifest["format"] == "json"
    assert manifest["rows"] == 10
    assert manifest["files"][0]["path"] == f"part-00000-{result.write_id}.json"
    assert manifest["files"][0]["write_id"] == manifest["write_id"] == result.write_id
    assert manifest["version"] == 1
    assert manifest["schema"]["fields"][0]["fieldName"] == "id"
    inspected = bulkwriter.inspect(out)
    assert inspected.is_clean
    assert inspected.committed is not None
    assert inspected.committed.files == result.files
    assert inspected.committed.import_batches == result.import_batches


def test_mode_error_overwrite_append(tmp_path: Path) -> None:
    out = tmp_path / "o"
    bulkwriter.write(columns(10), out, schema=SCHEMA, max_rows_per_file=4)
    assert visible(out) == [
        "_bulkwriter.json",
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    with pytest.raises(DestinationExistsError):
        bulkwriter.write(columns(10), out, schema=SCHEMA)
    with pytest.raises(FileExistsError):
        bulkwriter.write(columns(10), out, schema=SCHEMA)
    replaced = bulkwriter.write(columns(5, start=100), out, schema=SCHEMA, mode="overwrite")
    assert visible(out) == ["_bulkwriter.json", "part-00000.parquet"]
    assert pq.read_table(replaced.files[0].path).column("id").to_pylist() == list(range(100, 105))
    appended = bulkwriter.write(columns(5, start=200), out, schema=SCHEMA, mode="append")
    assert [plain(Path(f.path).name) for f in appended.files] == ["part-00001.parquet"]
    assert appended.write_id != replaced.write_id
    inspected = bulkwriter.inspect(out).committed
    assert inspected is not None
    assert inspected.rows_written == 10
    with pytest.raises(DestinationExistsError, match="cannot append"):
        bulkwriter.write(columns(5, start=300), out, schema=SCHEMA, mode="append", format="json")


def test_failed_overwrite_keeps_the_old_output(tmp_path: Path) -> None:
    out = tmp_path / "o"
    bulkwriter.write(columns(5), out, schema=SCHEMA)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = columns(5)
    bad["vec"][3, 2] = np.inf  # type: ignore[index]
    with pytest.raises(ValidationError, match="row 3, field 'vec'"):
        bulkwriter.write(bad, out, schema=SCHEMA, mode="overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_with_block_commits_on_success_and_aborts_on_error(tmp_path: Path) -> None:
    with Writer(tmp_path / "ok", schema=SCHEMA, format="jsonl") as w:
        for i in range(3):
            w.append_row({"id": i, "title": "t", "vec": [0.0] * 8})
    assert w.result is not None
    assert w.result.rows_written == 3
    assert Path(w.result.files[0].path).read_text().count("\n") == 3
    w2 = Writer(tmp_path / "bad", schema=SCHEMA)

    def fail_inside_with_block() -> None:
        with w2:
            w2.write(columns(100))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside_with_block()
    assert visible(tmp_path / "bad") == []
    assert not (tmp_path / ".bulkwriter-staging").exists()
    with pytest.raises(WriterClosedError):
        w2.append_row({"id": 1})


def test_append_row_errors_name_the_stream_position(tmp_path: Path) -> None:
    w = Writer(tmp_path / "o", schema=SCHEMA, batch_rows=4)
    for i in range(4):
        w.append_row({"id": i, "title": "t", "vec": [0.0] * 8})
    w.append_row({"id": 4, "title": "x" * 65, "vec": [0.0] * 8})
    with pytest.raises(ValidationError, match="row 4, field 'title'"):
        w.commit()
    w.abort()
    assert visible(tmp_path / "o") == []


def test_every_input_kind_gives_the_same_files(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    cols = columns(20)
    table = pa.table({"id": cols["id"], "title": cols["title"], "vec": list(cols["vec"])})  # type: ignore[call-overload]
    rows = table.to_pylist()
    inputs = {
        "rows": rows,
        "columns": cols,
        "table": table,
        "batches": iter(table.to_batches(max_chunksize=7)),
        "reader": pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=6)),
        "pandas": pd.DataFrame({"id": cols["id"], "title": cols["title"], "vec": list(cols["vec"])}),  # type: ignore[call-overload]
        "polars": pl.from_arrow(table),
        "list_of_tables": [table.slice(0, 10), table.slice(10)],
    }
    contents = {}
    for name, data in inputs.items():
        result = bulkwriter.write(data, tmp_path / name, schema=SCHEMA, format="json")
        contents[name] = Path(result.files[0].path).read_bytes()
    assert len(set(contents.values())) == 1, {k: v[:80] for k, v in contents.items()}


def test_unknown_input_kind(tmp_path: Path) -> None:
    with pytest.raises(bulkwriter.InputError, match="data must be"):
        bulkwriter.write(42, tmp_path / "o", schema=SCHEMA)


def test_generators_of_rows_and_of_column_dicts(tmp_path: Path) -> None:
    rows = ({"id": i, "title": f"t{i}", "vec": [0.5] * 8} for i in range(25))
    result = bulkwriter.write(rows, tmp_path / "r", schema=SCHEMA, format="jsonl")
    assert result.rows_written == 25
    chunks = (columns(10, start) for start in (0, 10, 20))
    result = bulkwriter.write(chunks, tmp_path / "c", schema=SCHEMA, format="jsonl")
    assert result.rows_written == 30
    lists = ({"id": [i], "title": ["t"], "vec": [[0.5] * 8]} for i in range(3))  # one-row column dicts
    assert bulkwriter.write(lists, tmp_path / "l", schema=SCHEMA).rows_written == 3


_CRLF_SCHEMA = CollectionSchema(
    [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("v", DataType.FLOAT_VECTOR, dim=1),
        FieldSchema("s", DataType.VARCHAR, max_length=9),
    ]
)


def _crlf_rows() -> list[dict[str, object]]:
    return [{"id": i, "v": [0.0], "s": "a\r\nb" if i in (3, 6) else "x"} for i in range(8)]


def test_format_rules_are_checked_with_the_input_row(tmp_path: Path) -> None:
    # CSV cannot carry CR LF in VarChar: an error at the input row, however files are cut
    with pytest.raises(ValidationError) as info:
        bulkwriter.write(_crlf_rows(), tmp_path / "o", schema=_CRLF_SCHEMA, format="csv", max_rows_per_file=2)
    assert [(e.field, e.row, e.code) for e in info.value.errors] == [
        ("s", 3, "csv_crlf"),
        ("s", 6, "csv_crlf"),
    ]
    assert not (tmp_path / "o").exists()
    found = bulkwriter.validate(_crlf_rows(), schema=_CRLF_SCHEMA, format="csv")
    assert [(e.field, e.row, e.code) for e in found] == [("s", 3, "csv_crlf"), ("s", 6, "csv_crlf")]
    assert bulkwriter.validate(_crlf_rows(), schema=_CRLF_SCHEMA) == []  # valid for other formats


def test_format_rule_violations_are_skipped_like_other_bad_rows(tmp_path: Path) -> None:
    result = bulkwriter.write(
        _crlf_rows(), tmp_path / "o", schema=_CRLF_SCHEMA, format="csv", max_rows_per_file=2, on_error="skip"
    )
    assert (result.rows_read, result.rows_written, result.rows_rejected) == (8, 6, 2)
    written = [line.split(",")[0] for f in result.files for line in Path(f.path).read_text().splitlines()[1:]]
    assert written == ["0", "1", "2", "4", "5", "7"]
    rejects = [json.loads(line) for line in Path(result.rejects_path).read_text().splitlines()]
    assert [(r["row"], r["field"], r["code"]) for r in rejects] == [
        (3, "s", "csv_crlf"),
        (6, "s", "csv_crlf"),
    ]
