"""Encoding a chunk in bounded slices of rows, so a text file is never built as one list of rows.

The text formats (JSON, JSON Lines, CSV) turn every row into Python objects or Arrow strings
before the bytes exist; done for a whole file's worth of rows at once that costs tens of
times the file size (measured: a 24 MiB JSONL cap peaked at 1.7 GB above the input). Here a
chunk is encoded slice by slice: each slice's bytes are handed on (written to the staging
file, or kept as one piece of the file) before the next slice is built, and the slice size
adapts to keep each slice near :data:`SLICE_BYTES` of output. Bytes are the same as encoding
the chunk whole: every format's rows are independent of each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO, TypeVar

import pyarrow as pa

_Data = TypeVar("_Data", bytes, memoryview, bytes | memoryview)

__all__ = ["FIRST_SLICE_ROWS", "SLICE_BYTES", "encode_in_slices", "write_pieces"]

#: Output bytes a slice aims at (its Python and Arrow intermediates cost a few times this).
SLICE_BYTES = 1024 * 1024
#: Rows of the first slice, before the bytes per row are known.
FIRST_SLICE_ROWS = 256


def encode_in_slices(
    table: pa.Table, encode: Callable[[pa.Table, int], _Data], slice_bytes: int = SLICE_BYTES
) -> Iterator[_Data]:
    """Yield the encoded bytes of ``table``, slice by slice, in row order.

    Parameters
    ----------
    table : pyarrow.Table
        The chunk (canonical form).
    encode : callable
        ``encode(rows, first_row)`` returns the bytes (or a memoryview of them) of the rows
        ``rows``, a zero-copy slice of ``table`` starting at row ``first_row``.
    slice_bytes : int, default SLICE_BYTES
        Output bytes a slice aims at.

    Yields
    ------
    bytes or memoryview
        Each slice's bytes (at least one row per slice); nothing for an empty table.
    """
    start, rows, n = 0, FIRST_SLICE_ROWS, table.num_rows
    while start < n:
        data = encode(table.slice(start, rows), start)
        done = min(rows, n - start)
        start += done
        per_row = max(1.0, len(data) / done)
        rows = max(1, int(slice_bytes / per_row))
        yield data
        del data  # not held while the next slice is built


def write_pieces(sink: BinaryIO, pieces: Iterator[bytes | memoryview]) -> None:
    """Write ``pieces`` to ``sink`` in order, letting go of each before the next is built.

    Raises
    ------
    Exception
        Whatever ``sink.write`` or the producer of ``pieces`` raises, unchanged.
    """
    for data in pieces:
        sink.write(data)
        del data  # not held while the next slice is built
