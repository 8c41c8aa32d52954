"""Upload benchmark: bulkwriter to S3 (moto emulator) against a raw upload of the same bytes.

Starts moto's S3 server on 127.0.0.1 (a free port), then:

1. **Throughput** - writes ``--rows`` rows of a ``--dim``-d FloatVector schema as Parquet to
   ``s3://bench/...`` with bulkwriter (validate, encode, stage-upload, commit copy, manifest)
   and uploads the very same file bytes with a raw ``fs.pipe`` (from memory) and ``fs.put``
   (from a local file). MiB/s = file bytes / wall seconds.
2. **Memory** - in a fresh subprocess, writes ``--rss-rows`` rows (default 1,000,000) of a
   768-d schema to S3 from a generator (batches of 10,000 rows made on the fly) with
   ``max_bytes_per_file=--chunk-mib``, and reports the peak RSS (``VmHWM``) over the RSS
   before writing, as a multiple of the chunk size.

Run (about 3-4 minutes on 2 cores with the defaults)::

    .venv/bin/python benchmarks/bench_upload.py
    .venv/bin/python benchmarks/bench_upload.py --rows 50000 --rss-rows 100000   # quick

Needs the test extra (moto[server], s3fs): ``pip install -e '.[test]'``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np

MIB = 2**20


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Run ``python -m moto.server`` on a free loopback port; yield its endpoint; stop it by pid."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.05)
        yield endpoint
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def schema(dim: int) -> dict[str, Any]:
    return {
        "fields": [
            {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
            {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": dim}},
        ]
    }


def options(endpoint: str) -> dict[str, Any]:
    return {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}


def throughput(endpoint: str, rows: int, dim: int, chunk_mib: int) -> list[tuple[str, float, float]]:
    """(label, MiB, MiB/s) for bulkwriter and for raw pipe/put of the same bytes."""
    import fsspec

    import bulkwriter

    fs = fsspec.filesystem("s3", **options(endpoint))
    with contextlib.suppress(FileExistsError):
        fs.mkdir("bench")
    rng = np.random.default_rng(0)
    data = {"id": np.arange(rows, dtype=np.int64), "vec": rng.random((rows, dim), dtype=np.float32)}
    t0 = time.perf_counter()
    result = bulkwriter.write(
        data,
        "s3://bench/bw",
        schema=schema(dim),
        mode="overwrite",
        max_bytes_per_file=chunk_mib * MIB,
        storage_options=options(endpoint),
    )
    bw_s = time.perf_counter() - t0
    blobs = [fs.cat_file(f.uri.removeprefix("s3://")) for f in result.files]
    total = sum(len(b) for b in blobs) / MIB
    t0 = time.perf_counter()
    fs.pipe({f"bench/raw-pipe/part-{i:05d}.parquet": b for i, b in enumerate(blobs)})
    pipe_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, b in enumerate(blobs):
            path = os.path.join(tmp, f"part-{i:05d}.parquet")
            with open(path, "wb") as fh:
                fh.write(b)
            paths.append(path)
        t0 = time.perf_counter()
        fs.put(paths, [f"bench/raw-put/{os.path.basename(p)}" for p in paths])
        put_s = time.perf_counter() - t0
    return [
        (
            f"bulkwriter.write ({rows:,} rows, {len(blobs)} files, incl. validate+encode+commit)",
            total,
            total / bw_s,
        ),
        ("raw fs.pipe of the same bytes", total, total / pipe_s),
        ("raw fs.put of the same files", total, total / put_s),
    ]


RSS_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import bulkwriter

    endpoint, rows, dim, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    schema = {"fields": [{"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                         {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": dim}}]}
    opts = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}

    def rss(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024
        return 0

    def batches():
        rng = np.random.default_rng(1)
        for start in range(0, rows, 10_000):
            n = min(10_000, rows - start)
            yield {"id": np.arange(start, start + n, dtype=np.int64), "vec": rng.random((n, dim), dtype=np.float32)}

    base = rss("VmRSS")
    t0 = time.perf_counter()
    result = bulkwriter.write(batches(), "s3://bench/rss", schema=schema, mode="overwrite",
                              max_bytes_per_file=chunk, storage_options=opts)
    print(rss("VmHWM"), base, result.rows_written, result.bytes_written, len(result.files), time.perf_counter() - t0)
    """
)


def peak_rss(endpoint: str, rows: int, dim: int, chunk_mib: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, endpoint, str(rows), str(dim), str(chunk_mib * MIB)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    hwm, base, written, nbytes, files, secs = (float(x) for x in out)
    return {
        "peak_mib": hwm / MIB,
        "base_mib": base / MIB,
        "rows": written,
        "bytes_mib": nbytes / MIB,
        "files": files,
        "seconds": secs,
        "chunk_mib": chunk_mib,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=200_000, help="rows for the throughput run (default 200,000)"
    )
    parser.add_argument("--dim", type=int, default=768, help="vector dimension (default 768)")
    parser.add_argument("--chunk-mib", type=int, default=64, help="max_bytes_per_file in MiB (default 64)")
    parser.add_argument(
        "--rss-rows", type=int, default=1_000_000, help="rows for the memory run (default 1,000,000)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    with moto_server() as endpoint:
        runs = throughput(endpoint, args.rows, args.dim, args.chunk_mib)
        mem = peak_rss(endpoint, args.rss_rows, args.dim, args.chunk_mib)
    print(f"\n## Upload throughput to moto S3 ({args.dim}-d float32, Parquet, {args.chunk_mib} MiB files)\n")
    print("| what | MiB | MiB/s | vs raw pipe |")
    print("|---|---:|---:|---:|")
    raw = runs[1][2]
    for label, mib, rate in runs:
        print(f"| {label} | {mib:,.0f} | {rate:,.1f} | {rate / raw:.2f}x |")
    growth = mem["peak_mib"] - mem["base_mib"]
    print(f"\n## Peak memory writing {mem['rows']:,.0f} rows x {args.dim}-d to S3\n")
    print(
        "| rows | output MiB | files | seconds | RSS before MiB | peak RSS MiB | growth MiB | growth / chunk |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {mem['rows']:,.0f} | {mem['bytes_mib']:,.0f} | {mem['files']:.0f} | {mem['seconds']:.1f} | "
        f"{mem['base_mib']:.0f} | {mem['peak_mib']:.0f} | {growth:.0f} | {growth / mem['chunk_mib']:.1f}x |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
