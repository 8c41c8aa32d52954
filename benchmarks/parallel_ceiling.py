"""How much faster two Parquet files are written at once than one after the other, raw.

The ceiling for any two-thread Parquet writer on this machine: the standard workload's
already-valid output table (as ``case.py``'s raw writer uses it) is written twice with
``pyarrow.parquet.write_table`` (vector column without a dictionary, as bulkwriter writes it),
first one file after the other, then both at once on two threads (pyarrow releases the GIL
while encoding). Each timing starts after an untimed ``os.sync()``. Prints the medians and
the speedup ``sequential / parallel``; ``--json`` writes them.

Run (about a minute on 2 cores with the defaults: 80,000 rows is about one 256 MiB file)::

    .venv/bin/python benchmarks/parallel_ceiling.py
    .venv/bin/python benchmarks/parallel_ceiling.py --rows 2000 --repeat 1   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from case import _output_table
from workloads import get_workload


def _dictionary_columns(table: pa.Table, vector_field: str) -> list[str]:
    return [
        f"{name}.list.element" if pa.types.is_list(table.schema.field(name).type) else name
        for name in table.column_names
        if name != vector_field
    ]


def measure(rows: int, repeat: int, folder: Path) -> dict[str, float]:
    """Time two sequential and two concurrent ``write_table`` calls; return medians (seconds)."""
    wl = get_workload("standard")
    table = _output_table(wl, rows)
    dictionary = _dictionary_columns(table, wl.vector_field)

    def write(i: int) -> None:
        pq.write_table(table, folder / f"f{i}.parquet", use_dictionary=dictionary)

    sequential, parallel = [], []
    for _ in range(repeat):
        os.sync()
        t0 = time.perf_counter()
        write(0)
        write(1)
        sequential.append(time.perf_counter() - t0)
        os.sync()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(write, (0, 1)))
        parallel.append(time.perf_counter() - t0)
    seq, par = statistics.median(sequential), statistics.median(parallel)
    file_bytes = (folder / "f0.parquet").stat().st_size
    return {
        "rows": rows,
        "repeat": repeat,
        "file_bytes": file_bytes,
        "sequential_s": seq,
        "parallel_s": par,
        "speedup": seq / par,
        "sequential_runs": sequential,
        "parallel_runs": parallel,
        "cores": os.cpu_count() or 0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=80_000, help="rows per file (default 80,000)")
    p.add_argument("--repeat", type=int, default=3, help="timed rounds (default 3)")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bulkwriter-ceiling-") as tmp:
        result = measure(args.rows, args.repeat, Path(tmp))
    print(
        f"{result['rows']:,} rows/file ({result['file_bytes'] / 2**20:,.0f} MiB), {result['cores']} cores: "
        f"2 files one after the other {result['sequential_s']:.2f} s, at once {result['parallel_s']:.2f} s, "
        f"speedup {result['speedup']:.2f}x (median of {result['repeat']})"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
