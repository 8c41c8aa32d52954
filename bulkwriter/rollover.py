"""Cutting validated rows into files with exact caps, and grouping files into import requests.

Caps are exact because each chunk is encoded in memory before it is staged: a chunk whose
encoding is larger than ``max_bytes_per_file`` is cut shorter and encoded again, so no file
on storage ever exceeds the cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from bulkwriter.errors import FieldError, ValidationError
from bulkwriter.formats.base import EncodedPart, Encoder

__all__ = [
    "DEFAULT_MAX_BYTES_PER_FILE",
    "MILVUS_FILES_PER_REQUEST",
    "MILVUS_MAX_FILE_BYTES",
    "ChunkPolicy",
    "encode_within_cap",
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

    def learn(self, part: EncodedPart) -> None:
        """Update the estimate from a chunk that was encoded."""
        if part.rows:
            self.bytes_per_row = part.nbytes / part.rows


def encode_within_cap(
    encoder: Encoder, table: pa.Table, policy: ChunkPolicy, first_row: int
) -> tuple[EncodedPart, pa.Table]:
    """Encode as many leading rows of ``table`` as fit under ``policy.max_bytes``.

    Returns
    -------
    part : EncodedPart
        The encoded chunk (at least one row).
    rest : pyarrow.Table
        The rows that did not fit (empty when all did).

    Raises
    ------
    ValidationError
        A single row encodes to more than ``max_bytes`` (code ``row_too_large``).
    """
    rows = table.num_rows
    part = encoder.encode(table)
    while policy.max_bytes is not None and part.nbytes > policy.max_bytes:
        if rows == 1:
            raise ValidationError(
                [
                    FieldError(
                        "row_too_large",
                        "*",
                        first_row,
                        f"a row that encodes to at most max_bytes_per_file={policy.max_bytes} bytes",
                        f"{part.nbytes} bytes",
                    )
                ]
            )
        rows = max(1, min(rows - 1, int(rows * policy.max_bytes / part.nbytes * _SHRINK_MARGIN)))
        part = encoder.encode(table.slice(0, rows))
    policy.learn(part)
    return part, table.slice(rows)


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
