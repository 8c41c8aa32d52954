"""Duplicate primary key detection across a whole write, in bounded time per batch.

Milvus does not deduplicate primary keys on import (target-formats.md §3: "duplicates become
separate entities"), so the writer checks them. Seen keys are kept as sorted NumPy runs merged
like a log-structured merge tree: a batch of ``b`` keys costs ``O(b log n)`` to check. A run
stores its keys as ranges of consecutive integers when that is smaller, so memory is at most
8 bytes per key written (Int64 keys exactly; VarChar keys as a 64-bit hash, with exact
comparison inside a batch) and next to nothing for keys that count up (0, 1, 2, ...), however
many rows the write has.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa

from bulkwriter.errors import FieldError, short_repr
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType

__all__ = ["PrimaryKeyTracker"]


class _Run(NamedTuple):
    """Sorted, unique keys as inclusive ranges ``[starts[i], ends[i]]``, ascending and disjoint.

    When ranges would not save memory, ``ends is starts`` (one key per range, 8 bytes a key).
    """

    starts: np.ndarray
    ends: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.starts.nbytes) + (0 if self.ends is self.starts else int(self.ends.nbytes))

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Boolean mask of the ``keys`` inside this run."""
        pos = np.searchsorted(self.ends, keys, side="left")  # first range ending at or after the key
        hit = pos < len(self.ends)
        hit[hit] = self.starts[pos[hit]] <= keys[hit]
        return hit


def _run_of(starts: np.ndarray, ends: np.ndarray) -> _Run:
    """Coalesce ascending, disjoint ranges that touch, and keep the smaller of ranges and keys."""
    if len(starts) > 1:
        opens = np.ones(len(starts), dtype=bool)
        opens[1:] = starts[1:] != ends[:-1] + 1  # int64 wrap-around cannot make a false match
        if not opens.all():
            first = np.flatnonzero(opens)
            last = np.append(first[1:] - 1, len(starts) - 1)
            starts, ends = starts[first], ends[last]
    keys = int(np.sum(ends - starts)) + len(starts)
    if 2 * len(starts) < keys:
        return _Run(starts, ends)
    if ends is not starts and not np.array_equal(starts, ends):  # expand to one entry per key
        lengths = ends - starts + 1
        offsets = np.arange(keys, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        starts = np.repeat(starts, lengths) + offsets
    return _Run(starts, starts)


def _merge(a: _Run, b: _Run) -> _Run:
    if a.ends is a.starts and b.ends is b.starts:  # two runs of keys: one linear merge sort
        keys = np.sort(np.concatenate([a.starts, b.starts]), kind="stable")
        return _run_of(keys, keys)
    starts = np.concatenate([a.starts, b.starts])
    ends = np.concatenate([a.ends, b.ends])
    order = np.argsort(starts, kind="stable")
    return _run_of(starts[order], ends[order])


class PrimaryKeyTracker:
    """Remembers the primary keys of a write and reports repeats.

    Parameters
    ----------
    field : FieldSchema
        The primary key field (Int64 or VarChar).
    """

    def __init__(self, field: FieldSchema) -> None:
        self.field = field
        self._runs: list[_Run] = []

    @property
    def nbytes(self) -> int:
        """Memory held for the keys seen so far, bytes (at most 8 per key; ranges: 16 each)."""
        return sum(run.nbytes for run in self._runs)

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
        order: np.ndarray | None = None  # None: the keys are ascending already (hence unique)
        ordered = keys
        if len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1])):
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
            # sorted needles: NumPy's binary search starts from the previous hit (cache friendly)
            hits = np.flatnonzero(run.contains(ordered))
            for hit_row in hits if order is None else order[hits]:
                errors.setdefault(
                    int(hit_row), self._error(column, int(hit_row), "a primary key not written before")
                )
        return [errors[r] for r in sorted(errors)], keys

    def _error(self, column: pa.Array, row: int, expected: str) -> FieldError:
        return FieldError(
            "duplicate_primary_key", self.field.name, row, expected, short_repr(column[row].as_py())
        )

    def add(self, keys: np.ndarray) -> None:
        """Remember ``keys`` (from :meth:`check`, unique and not seen before) as written."""
        if len(keys) == 0:
            return
        ordered = np.sort(keys)
        self._runs.append(_run_of(ordered, ordered))
        while len(self._runs) > 1 and len(self._runs[-1].starts) * 2 >= len(self._runs[-2].starts):
            last = self._runs.pop()
            self._runs[-1] = _merge(self._runs[-1], last)
