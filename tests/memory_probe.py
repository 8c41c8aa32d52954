"""Peak memory of one write, above its input: run as ``python memory_probe.py FORMAT CAP_MIB OUT``.

Builds the input (an Arrow table: Int64 key, VarChar, JSON text, a 128-d FloatVector and two
dynamic keys), then resets the kernel's peak-RSS mark (``/proc/self/clear_refs``, Linux),
writes it with ``max_bytes_per_file=CAP_MIB`` MiB and prints one JSON line: the peak RSS
above the input, in bytes and in file caps, the files and bytes written.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pyarrow as pa

import bulkwriter


def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def main() -> None:
    fmt, cap, out = sys.argv[1], int(sys.argv[2]) * 2**20, sys.argv[3]
    n, dim = 80_000, 128
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "id": pa.array(np.arange(n)),
            "title": pa.array([f"package {i} title" for i in range(n)]),
            "attrs": pa.array([json.dumps({"n": i, "tags": ["a", "b"], "ok": True}) for i in range(n)]),
            "vec": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(n * dim, dtype=np.float32)), dim),
            "rank": pa.array(np.arange(n) % 97),
            "section": pa.array([f"s{i % 13}" for i in range(n)]),
        }
    )
    schema = {
        "enabledDynamicField": True,
        "fields": [
            {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
            {"fieldName": "title", "dataType": "VarChar", "elementTypeParams": {"max_length": 64}},
            {"fieldName": "attrs", "dataType": "JSON"},
            {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": dim}},
        ],
    }
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak-RSS mark to the current RSS
    base = _status("VmRSS:")
    result = bulkwriter.write(table, out, schema=schema, format=fmt, max_bytes_per_file=cap)
    peak = _status("VmHWM:") - base
    files = len(result.files)
    written = sum(f.bytes for f in result.files)
    print(
        json.dumps({"format": fmt, "peak_bytes": peak, "caps": peak / cap, "files": files, "bytes": written})
    )


if __name__ == "__main__":
    main()
