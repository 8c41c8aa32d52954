"""The pipelined writer (``workers=2``): same files as one thread, errors surface, abort is clean.

No timing assertions: only that the output does not depend on the number of threads and that
the background thread's failures reach the caller with nothing committed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import bulkwriter
from bulkwriter import CollectionSchema, DataType, FieldSchema, ValidationError, Writer, WriterClosedError

FORMATS = ["parquet", "json", "jsonl", "numpy", "csv"]
SCHEMA = CollectionSchema(
    [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("title", DataType.VARCHAR, max_length=64),
        FieldSchema("score", DataType.FLOAT),
        FieldSchema("attrs", DataType.JSON),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=16),
    ],
    enable_dynamic_field=True,
)


def batches(n: int, size: int = 333) -> list[pa.RecordBatch]:
    rng = np.random.default_rng(7)
    out = []
    for start in range(0, n, size):
        stop = min(n, start + size)
        ids = np.arange(start, stop, dtype=np.int64)
        vec = rng.standard_normal((stop - start, 16), dtype=np.float32)
        out.append(
            pa.record_batch(
                {
                    "id": ids,
                    "title": [f"title {i} é" for i in ids.tolist()],
                    "score": rng.random(stop - start, dtype=np.float32),
                    "attrs": [f'{{"k": {i}, "s": "v\\n{i}"}}' for i in ids.tolist()],
                    "vec": pa.FixedSizeListArray.from_arrays(pa.array(vec.reshape(-1)), 16),
                    "color": [["red", "blue"][i % 2] for i in ids.tolist()],
                    "rank": ids * 3,
                }
            )
        )
    return out


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by path, with the write's id (in names and the manifest) as ``W``."""
    write_id = json.loads((root / "_bulkwriter.json").read_bytes())["write_id"]
    return {
        str(p.relative_to(root)).replace(write_id, "W"): p.read_bytes().replace(write_id.encode(), b"W")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("caps", [{"max_bytes_per_file": 60_000}, {"max_rows_per_file": 700}, {}])
def test_one_and_two_threads_write_identical_files(tmp_path: Path, fmt: str, caps: dict[str, Any]) -> None:
    data = batches(3000)
    results = {}
    for workers in (1, 2):
        results[workers] = bulkwriter.write(
            iter(data), tmp_path / f"w{workers}", schema=SCHEMA, format=fmt, workers=workers, **caps
        )
    one, two = tree(tmp_path / "w1"), tree(tmp_path / "w2")
    assert one.keys() == two.keys()
    assert one == two
    assert [(f.rows, f.bytes) for f in results[1].files] == [(f.rows, f.bytes) for f in results[2].files]
    assert results[2].rows_written == 3000
    if caps:
        assert len(results[2].files) > 1
    if "max_bytes_per_file" in caps:
        assert all(f.bytes <= caps["max_bytes_per_file"] for f in results[2].files)


def test_append_row_with_two_threads_matches_one(tmp_path: Path) -> None:
    rows = pa.Table.from_batches(batches(1500)).to_pylist()
    for workers in (1, 2):
        with Writer(
            tmp_path / f"w{workers}", schema=SCHEMA, format="jsonl", workers=workers, max_rows_per_file=400
        ) as w:
            for row in rows:
                w.append_row(row)
    assert tree(tmp_path / "w1") == tree(tmp_path / "w2")


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_positive_integer(tmp_path: Path, workers: Any) -> None:
    with pytest.raises(ValueError, match="workers"):
        Writer(tmp_path / "o", schema=SCHEMA, workers=workers)


def test_background_error_is_raised_and_nothing_is_committed(tmp_path: Path) -> None:
    out = tmp_path / "o"
    w = Writer(out, schema=SCHEMA, format="json", workers=2, max_bytes_per_file=100)

    def write_and_commit() -> None:  # the worker's error comes from write() or commit()
        w.write(iter(batches(50)))
        w.commit()

    with pytest.raises(ValidationError, match="row_too_large"):
        write_and_commit()
    with pytest.raises(ValidationError, match="row_too_large"):  # the lost rows stay an error
        w.commit()
    w.abort()
    assert not out.exists() or list(out.iterdir()) == []
    assert not (tmp_path / ".bulkwriter-staging").exists()
    with pytest.raises(WriterClosedError):
        w.commit()


def test_abort_waits_for_the_file_in_flight(tmp_path: Path) -> None:
    out = tmp_path / "o"
    w = Writer(out, schema=SCHEMA, format="parquet", workers=2, max_rows_per_file=500)
    w.write(iter(batches(2000)))
    w.abort()
    assert not out.exists() or list(out.iterdir()) == []
    assert not (tmp_path / ".bulkwriter-staging").exists()


def test_storage_failure_on_the_worker_reaches_the_caller(tmp_path: Path) -> None:
    """A disk that fails every part file (through the public ``filesystem=`` seam)."""
    from bulkwriter.storage.posix import PosixFileSystem

    class FullDisk(PosixFileSystem):
        def open(self, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
            if "part-" in str(path) and any(c in mode for c in "wax+"):
                raise OSError("disk full (simulated)")
            return super().open(path, mode, *args, **kwargs)

        def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> None:
            if "part-" in str(path):
                raise OSError("disk full (simulated)")
            super().pipe_file(path, value, *args, **kwargs)

    fs = FullDisk(skip_instance_cache=True)
    with pytest.raises(bulkwriter.StorageError, match="disk full"):
        bulkwriter.write(
            iter(batches(2000)),
            str(tmp_path / "o"),
            schema=SCHEMA,
            workers=2,
            max_rows_per_file=300,
            filesystem=fs,
        )
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []
    assert not list(tmp_path.glob(".bulkwriter-staging/*"))
