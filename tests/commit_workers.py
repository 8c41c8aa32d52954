"""Writer processes for the kill matrix and the race tests (run in forkserver children).

Each function builds its own filesystem (a fresh s3fs instance, never one inherited from
the parent) and writes with the public API. :func:`context` gives the multiprocessing
context: a fork server that has imported bulkwriter once, so each child starts in
milliseconds instead of importing pyarrow again.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.synchronize
import random
import time
from typing import Any

from commit_checks import SCHEMA, columns, write
from faults import FaultyStorage

import bulkwriter

_CONTEXT: list[multiprocessing.context.ForkServerContext] = []


def context() -> multiprocessing.context.ForkServerContext:
    """The fork-server context (started on first use, with bulkwriter preloaded)."""
    if not _CONTEXT:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["commit_workers", "s3fs"])
        _CONTEXT.append(ctx)
    return _CONTEXT[0]


def make_fs(kind: str, options: dict[str, Any]) -> Any:
    """A filesystem of ``kind`` (``local``, ``local-swap``: no atomic exchange, or ``s3``) of its own."""
    if kind == "local":
        from bulkwriter.storage.posix import PosixFileSystem

        return PosixFileSystem()
    if kind == "local-swap":
        from faults import NoExchangeFileSystem

        return NoExchangeFileSystem()
    import fsspec

    return fsspec.filesystem("s3", skip_instance_cache=True, **options)


def write_and_commit(
    kind: str, options: dict[str, Any], root: str, ids: list[int], mode: str, fmt: str, kill_at: int | None
) -> int:
    """Write ``ids`` to ``root``; count the commit's storage calls, or SIGKILL this process at call ``kill_at``.

    Returns the number of storage calls the commit made (when not killed).
    """
    fs = make_fs(kind, options)
    writer = bulkwriter.Writer(root, schema=SCHEMA, format=fmt, mode=mode, filesystem=fs, max_rows_per_file=2)
    writer.write(columns(ids))
    writer.flush()
    faulty = FaultyStorage(fs, kill_at=kill_at).install()  # counted from the commit on
    writer.commit()
    faulty.restore()
    return len(faulty.calls)


def race(
    kind: str,
    options: dict[str, Any],
    roots: list[str],
    ids: list[int],
    mode: str,
    barrier: multiprocessing.synchronize.Barrier,
    results: Any,
    who: int,
    spread: float,
) -> None:
    """For each root: meet the other racer, then write ``ids`` there; report each outcome.

    ``spread``: the most seconds one racer may start after the other (two rounds in three).
    Puts ``(who, index, "ok", write_id, rows)`` or ``(who, index, "error", class name, message)``.
    """
    fs = make_fs(kind, options)
    for index, root in enumerate(roots):
        barrier.wait()
        # every third round at the very same moment; the others a few ms apart, so that some
        # writers meet at the lock and some find the other's committed output
        if index % 3:
            time.sleep(random.Random(index * 2 + who).uniform(0, spread))
        try:
            result = write(fs, root, ids, mode)
        except bulkwriter.BulkWriterError as exc:
            results.put((who, index, "error", type(exc).__name__, str(exc)))
        except Exception as exc:  # noqa: BLE001 - an untyped failure is itself a finding
            results.put((who, index, "untyped", type(exc).__name__, repr(exc)))
        else:
            results.put((who, index, "ok", result.write_id, result.rows_written))


def parquet_bytes(ids: list[int]) -> bytes:
    """A Parquet file of ``ids`` (the rows of :func:`commit_checks.columns`)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = columns(ids)
    table = pa.table({"id": cols["id"], "vec": pa.array(list(cols["vec"]), type=pa.list_(pa.float32()))})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def stage_shard(stager: Any, ids: list[list[int]], results: Any) -> None:
    """Stage one Parquet part per list of ids with ``stager`` (sent here pickled); report the parts."""
    parts = []
    for i, part_ids in enumerate(ids):
        data = parquet_bytes(part_ids)
        name = f"part-{i:05d}.parquet"
        stager.stage(name, [("", data)])
        parts.append(stager.part(name, suffix=".parquet", files=(), rows=len(part_ids), nbytes=len(data)))
    results.put(parts)
