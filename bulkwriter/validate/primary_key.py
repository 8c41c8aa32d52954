"""Duplicate primary key detection across a whole write, in bounded time per batch.

Milvus does not deduplicate primary keys on import (target-formats.md §3: "duplicates become
separate entities"), so the writer checks them. Seen keys are kept as sorted NumPy runs merged
like a log-structured merge tree: a batch of ``b`` keys costs ``O(b log n)`` to check, and
memory is 8 bytes per key written (Int64 keys exactly; VarChar keys as a 64-bit hash, with
exact comparison inside a batch).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from bulkwriter.errors import FieldError, short_repr
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType

__all__ = ["PrimaryKeyTracker"]


class PrimaryKeyTracker:
    """Remembers the primary keys of a write and reports repeats.

    Parameters
    ----------
    field : FieldSchema
        The primary key field (Int64 or VarChar).
    """

    def __init__(self, field: FieldSchema) -> None:
        self.field = field
        self._runs: list[np.ndarray] = []

    def _keys(self, column: pa.Array) -> np.ndarray:
        if self.field.dtype is DataType.INT64:
            return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)
        return np.fromiter(map(hash, column.to_pylist()), dtype=np.int64, count=len(column))

    def check(self, column: pa.Array) -> tuple[list[FieldError], np.ndarray]:
        """Find keys repeated inside ``column`` or seen in earlier batches.

        Parameters
        ----------
        column : pyarrow.Array
            Validated, non-null primary keys of one batch (int64 or string).

        Returns
        -------
        errors : list of FieldError
            One ``duplicate_primary_key`` error per repeated row (rows relative to the batch).
        keys : numpy.ndarray of int64, shape (len(column),)
            The keys to pass to :meth:`add` once the rows are accepted.
        """
        keys = self._keys(column)
        errors: dict[int, FieldError] = {}
        if len(keys) > 1:
            order = np.argsort(keys, kind="stable")
            ordered = keys[order]
            same = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
            for dup in same:
                row = int(order[dup])
                start = int(dup)
                while start > 0 and ordered[start - 1] == ordered[start]:
                    start -= 1
                first = int(order[start])
                if self.field.dtype is DataType.VARCHAR and column[row].as_py() != column[first].as_py():
                    continue  # hash collision, not a duplicate
                errors[row] = self._error(column, row, f"a unique primary key (row {first} has it too)")
        for run in self._runs:
            pos = np.searchsorted(run, keys)
            hit = pos < len(run)
            hit[hit] = run[pos[hit]] == keys[hit]
            for hit_row in np.flatnonzero(hit):
                errors.setdefault(
                    int(hit_row), self._error(column, int(hit_row), "a primary key not written before")
                )
        return [errors[r] for r in sorted(errors)], keys

    def _error(self, column: pa.Array, row: int, expected: str) -> FieldError:
        return FieldError(
            "duplicate_primary_key", self.field.name, row, expected, short_repr(column[row].as_py())
        )

    def add(self, keys: np.ndarray) -> None:
        """Remember ``keys`` (from :meth:`check`) as written."""
        if len(keys) == 0:
            return
        self._runs.append(np.sort(keys))
        while len(self._runs) > 1 and len(self._runs[-1]) * 2 >= len(self._runs[-2]):
            last = self._runs.pop()
            self._runs[-1] = np.sort(np.concatenate([self._runs[-1], last]), kind="mergesort")
