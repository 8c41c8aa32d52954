"""Run ONE benchmark case in this (fresh) process and print its measurements as JSON.

Usage (run.py does this, one subprocess per case and repeat)::

    python benchmarks/case.py '{"writer": "bulkwriter", "input": "rows", "workload": "standard",
                                "format": "parquet", "rows": 100000, "out": "/tmp/x/out",
                                "budget_s": 30, "threads": 2}'

The data is built first (not timed); then only the write is timed, from creating the writer to
its last file being closed (for bulkwriter: ``commit()``); modules pyarrow imports lazily
(pandas, pyarrow.compute) are imported before. Every writer runs with its default settings
(pymilvus logs at INFO to stderr, as it does for its users). Peak RSS is this process's
``VmHWM`` (input data included); ``base_rss_mib`` is the resident size just before the
timed part, so ``peak - base`` is what the write added.

Writers
-------
bulkwriter (``threads``: its ``workers`` option, default 2)
    ``input="rows"``: ``Writer.append_row`` per row dict, then ``commit()``.
    ``input="columns"``: ``bulkwriter.write(table)`` of a ``pyarrow.Table``.
    ``input="stream"``: ``bulkwriter.write(batches)`` of record batches made on the fly
    (generation is inside the timed part; input memory stays bounded).
pymilvus
    ``LocalBulkWriter.append_row`` per row dict, then ``commit()``; it stops appending once
    ``budget_s`` seconds have passed, and reports the rows it actually wrote.
raw
    The floor on the same data: ``pyarrow.parquet.write_table`` of the already-valid output
    table; ``np.save`` of each column; ``orjson.dumps`` of the rows, vectors as float32 NumPy
    rows (``OPT_SERIALIZE_NUMPY``: the same shortest float32 text bulkwriter writes;
    ``{"rows": [...]}`` for JSON, one line per row for JSONL); ``pyarrow.csv.write_csv`` of the table with vector,
    array and JSON cells already as JSON text.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from workloads import Workload, get_workload

Result = dict[str, Any]
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mib() -> float:
    """Current resident set size, MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE / 2**20


def _peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this program's own
    memory. Not ``ru_maxrss``: that one survives ``fork`` + ``exec``, so a case process would
    report its parent's peak (run.py, after reading a large JSON output back) when larger.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _preload() -> None:
    """Import what pyarrow loads lazily on first use (pandas, compute), so no case pays for it."""
    import pyarrow.compute  # noqa: F401

    with contextlib.suppress(ImportError):
        import pandas  # noqa: F401


def _timed(prepare: Callable[[], Callable[[], Result]]) -> Result:
    """Prepare the data (untimed), then time the returned write function."""
    _preload()
    run = prepare()
    gc.collect()
    # flush what earlier cases wrote (and deleted: the disk is mounted with discard), so a
    # case does not pay for its predecessor's writeback
    os.sync()
    base, prep_peak = _rss_mib(), _peak_rss_mib()
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    result.update(
        seconds=seconds, base_rss_mib=base, prep_peak_rss_mib=prep_peak, peak_rss_mib=_peak_rss_mib()
    )
    return result


# -- bulkwriter --------------------------------------------------------------------------------
def _bulkwriter(spec: dict[str, Any], wl: Workload) -> Callable[[], Result]:
    import bulkwriter

    n, out, fmt = spec["rows"], spec["out"], spec["format"]
    workers = int(spec.get("threads") or 2)
    if spec["input"] == "rows":
        rows = wl.rows(n)

        def run_rows() -> Result:
            t0 = time.perf_counter()
            writer = bulkwriter.Writer(out, schema=wl.schema, format=fmt, workers=workers)
            append = writer.append_row
            for row in rows:
                append(row)
            t1 = time.perf_counter()
            result = writer.commit()
            return {
                "rows": result.rows_written,
                "append_seconds": t1 - t0,
                "commit_seconds": time.perf_counter() - t1,
            }

        return run_rows
    if spec["input"] == "columns":
        table = wl.table(n)

        def run_columns() -> Result:
            result = bulkwriter.write(table, out, schema=wl.schema, format=fmt, workers=workers)
            return {"rows": result.rows_written}

        return run_columns
    if spec["input"] == "stream":

        def run_stream() -> Result:
            result = bulkwriter.write(wl.batches(n), out, schema=wl.schema, format=fmt, workers=workers)
            return {"rows": result.rows_written}

        return run_stream
    raise ValueError(f"unknown input {spec['input']!r}")


# -- pymilvus ----------------------------------------------------------------------------------
def _pymilvus(spec: dict[str, Any], wl: Workload) -> Callable[[], Result]:
    from pymilvus.bulk_writer import BulkFileType, LocalBulkWriter

    from bulkwriter.schema.load import as_schema, schema_to_pymilvus

    rows = wl.rows(spec["rows"])
    schema = schema_to_pymilvus(as_schema(wl.schema))
    file_type = BulkFileType[spec["format"].upper()]
    budget = float(spec["budget_s"])
    Path(spec["out"]).mkdir(parents=True, exist_ok=True)

    def run() -> Result:
        t0 = time.perf_counter()
        writer = LocalBulkWriter(schema=schema, local_path=spec["out"], file_type=file_type)
        done = 0
        for done, row in enumerate(rows, 1):
            writer.append_row(row)
            if done % 256 == 0 and time.perf_counter() - t0 > budget:
                break
        t1 = time.perf_counter()
        writer.commit()
        return {
            "rows": done,
            "append_seconds": t1 - t0,
            "commit_seconds": time.perf_counter() - t1,
            "budget_hit": done < len(rows),
            "_keep": writer,  # LocalBulkWriter.__del__ touches the folder: keep it alive
        }

    return run


# -- raw floor ---------------------------------------------------------------------------------
def _meta_texts(table: pa.Table, wl: Workload) -> pa.Array:
    """The ``$meta`` column (JSON object of the non-schema columns), built before timing."""
    names = {f["fieldName"] for f in wl.schema["fields"]}
    extras = [c for c in table.column_names if c not in names]
    columns = [table.column(c).to_pylist() for c in extras]
    return pa.array(
        [
            orjson.dumps(dict(zip(extras, values, strict=True))).decode()
            for values in zip(*columns, strict=True)
        ],
        pa.string(),
    )


def _output_table(wl: Workload, n: int) -> pa.Table:
    """The already-valid table as bulkwriter writes it to Parquet (vectors ``list<float32>``)."""
    table = wl.table(n)
    names = [f["fieldName"] for f in wl.schema["fields"]]
    columns = {name: table.column(name) for name in names}
    columns[wl.vector_field] = columns[wl.vector_field].cast(pa.list_(pa.float32()))
    if wl.has_dynamic:
        columns["$meta"] = _meta_texts(table, wl)
    return pa.table(columns)


def _numpy_columns(table: pa.Table) -> list[tuple[str, np.ndarray]]:
    arrays = []
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if pa.types.is_list(column.type):
            width = len(column[0]) if len(column) else 0
            values = column.flatten().to_numpy().reshape(len(column), width)
        elif pa.types.is_string(column.type):
            values = np.array(column.to_pylist(), dtype=str)
        else:
            values = column.to_numpy()
        arrays.append((name, values))
    return arrays


def _csv_table(table: pa.Table) -> pa.Table:
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_list(column.type):
            column = pa.array([orjson.dumps(v).decode() for v in column.to_pylist()], pa.string())
        columns[name] = column
    return pa.table(columns)


def _raw(spec: dict[str, Any], wl: Workload) -> Callable[[], Result]:
    import pyarrow.csv as pacsv

    n, fmt = spec["rows"], spec["format"]
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    if fmt in ("json", "jsonl"):
        rows = wl.rows(n)
        vectors = wl.table(n).column(wl.vector_field).combine_chunks()
        matrix = vectors.flatten().to_numpy().reshape(len(rows), wl.dim)
        for row, vector in zip(rows, matrix, strict=True):  # float32 NumPy rows: shortest float32 text
            row[wl.vector_field] = vector

        def run_json() -> Result:
            option = orjson.OPT_SERIALIZE_NUMPY
            if fmt == "json":
                data = orjson.dumps({"rows": rows}, option=option)
            else:
                option |= orjson.OPT_APPEND_NEWLINE
                data = b"".join(orjson.dumps(row, option=option) for row in rows)
            (out / f"part-00000.{fmt}").write_bytes(data)
            return {"rows": len(rows)}

        return run_json
    table = _output_table(wl, n)
    if fmt == "parquet":

        def run_parquet() -> Result:
            pq.write_table(table, out / "part-00000.parquet")
            return {"rows": table.num_rows}

        return run_parquet
    if fmt == "numpy":
        arrays = _numpy_columns(table)
        del table
        folder = out / "part-00000"
        folder.mkdir()

        def run_numpy() -> Result:
            for name, values in arrays:
                np.save(folder / f"{name}.npy", values, allow_pickle=False)
            return {"rows": len(arrays[0][1])}

        return run_numpy
    if fmt == "csv":
        csv_table = _csv_table(table)
        del table

        def run_csv() -> Result:
            pacsv.write_csv(csv_table, out / "part-00000.csv")
            return {"rows": csv_table.num_rows}

        return run_csv
    raise ValueError(f"unknown format {fmt!r}")


WRITERS: dict[str, Callable[[dict[str, Any], Workload], Callable[[], Result]]] = {
    "bulkwriter": _bulkwriter,
    "pymilvus": _pymilvus,
    "raw": _raw,
}


def run_case(spec: dict[str, Any]) -> Result:
    """Run the case described by ``spec`` and return its measurements."""
    wl = get_workload(spec["workload"])
    result = _timed(lambda: WRITERS[spec["writer"]](spec, wl))
    result.pop("_keep", None)
    result["status"] = "ok"
    return result


def main(argv: list[str]) -> int:
    """Entry point: one JSON spec argument; one JSON line on stdout."""
    spec = json.loads(argv[1])
    try:
        result = run_case(spec)
    except Exception as exc:  # noqa: BLE001 - any failure is reported as the case's result
        result = {
            "status": "error",
            "error": f"{type(exc).__name__}: {str(exc)[:500]}",
            "trace": traceback.format_exc(),
        }
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
