"""Cutting validated rows into files with exact caps, and grouping files into import requests.

Caps are exact because each chunk's size is known before it leaves staging: it is encoded in
memory before it is staged, or (local Parquet) written into staging and measured there. A
chunk larger than ``max_bytes_per_file`` is cut shorter and encoded again, so no file at the
destination ever exceeds the cap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pyarrow as pa

from bulkwriter.errors import FieldError, ValidationError

__all__ = [
    "DEFAULT_MAX_BYTES_PER_FILE",
    "MILVUS_FILES_PER_REQUEST",
    "MILVUS_MAX_FILE_BYTES",
    "ChunkPolicy",
    "fit_within_cap",
    "group_import_entries",
]

#: Default cap on one file (or NumPy chunk folder): 256 MiB. Milvus accepts up to 16 GB per
#: file (Milvus "Import Data" limits); smaller files keep the writer's memory low and let the
#: server import files in parallel.
DEFAULT_MAX_BYTES_PER_FILE = 256 * 2**20
#: Largest file (or NumPy chunk) a Milvus import takes, bytes (Milvus "Import Data": 16 GB).
MILVUS_MAX_FILE_BYTES = 16 * 2**30
#: Most entries one Milvus import request takes (Milvus "Import Data": 1,024 files).
MILVUS_FILES_PER_REQUEST = 1_024
_SHRINK_MARGIN = 0.97
T = TypeVar("T")


@dataclass
class ChunkPolicy:
    """When to cut a file.

    Parameters
    ----------
    max_rows : int or None
        Most rows per file (exact); None means no row limit.
    max_bytes : int or None
        Most bytes per file on storage (exact); None means no byte limit.
    """

    max_rows: int | None
    max_bytes: int | None
    bytes_per_row: float | None = None

    def target_rows(self) -> int | None:
        """Rows the next chunk should hold, from the row cap and the bytes-per-row estimate."""
        by_bytes = None
        if self.max_bytes is not None and self.bytes_per_row:
            by_bytes = max(1, int(self.max_bytes / self.bytes_per_row * _SHRINK_MARGIN))
        candidates = [x for x in (self.max_rows, by_bytes) if x is not None]
        return min(candidates) if candidates else None

    def learn(self, rows: int, nbytes: int) -> None:
        """Update the estimate from a chunk of ``rows`` rows that encoded to ``nbytes`` bytes."""
        if rows:
            self.bytes_per_row = nbytes / rows


def fit_within_cap(
    produce: Callable[[pa.Table], T],
    size: Callable[[T], int],
    table: pa.Table,
    policy: ChunkPolicy,
    first_row: int,
) -> tuple[T, int, pa.Table]:
    """Produce the file of as many leading rows of ``table`` as fit under ``policy.max_bytes``.

    ``produce`` encodes a table (in memory, or into staging, where a second call for fewer
    rows replaces the first file); when the result is over the cap, the rows are cut by the
    measured overshoot (less 3%) and produced again. The policy learns the final bytes per row.

    Parameters
    ----------
    produce : callable
        ``produce(rows_table) -> result``: encodes (and possibly stages) the given rows.
    size : callable
        ``size(result) -> int``: the bytes the result puts on storage.
    table : pyarrow.Table
        The chunk's rows, in the canonical form.
    policy : ChunkPolicy
        The caps; its estimate is updated.
    first_row : int
        Position of the chunk's first row in the whole write (for the error).

    Returns
    -------
    result : T
        What ``produce`` returned for the rows that fit (at least one row).
    rows : int
        How many leading rows of ``table`` it holds.
    rest : pyarrow.Table
        The rows that did not fit (empty when all did).

    Raises
    ------
    ValidationError
        A single row encodes to more than ``max_bytes`` (code ``row_too_large``).
    """
    rows = table.num_rows
    result = produce(table)
    nbytes = size(result)
    while policy.max_bytes is not None and nbytes > policy.max_bytes:
        if rows == 1:
            raise ValidationError(
                [
                    FieldError(
                        "row_too_large",
                        "*",
                        first_row,
                        f"a row that encodes to at most max_bytes_per_file={policy.max_bytes} bytes",
                        f"{nbytes} bytes",
                    )
                ]
            )
        rows = max(1, min(rows - 1, int(rows * policy.max_bytes / nbytes * _SHRINK_MARGIN)))
        result = produce(table.slice(0, rows))
        nbytes = size(result)
    policy.learn(rows, nbytes)
    return result, rows, table.slice(rows)


def group_import_entries(
    entries: Sequence[list[str]], per_request: int = MILVUS_FILES_PER_REQUEST
) -> list[list[list[str]]]:
    """Split import entries into requests of at most ``per_request`` entries each.

    Parameters
    ----------
    entries : sequence of list of str
        One entry per file (or per NumPy chunk: its ``.npy`` paths).
    per_request : int, default 1024
        Milvus takes at most 1,024 entries per import request (Zilliz Cloud: 1,000).
    """
    return [list(entries[i : i + per_request]) for i in range(0, len(entries), per_request)]
