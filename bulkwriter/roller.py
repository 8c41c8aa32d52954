"""The roller: owns a write's valid rows until they are files, cuts them and names the parts.

Valid rows arrive in input order, each batch with the input row of each of its rows. When a
file's worth is pending (the row cap, or the byte cap by the learnt bytes per row) the roller
cuts a chunk, encodes it within the exact caps (:func:`~bulkwriter.rollover.fit_within_cap`)
and stages it as the next part (:mod:`bulkwriter.storage.staging`). With ``workers >= 2`` one
chunk at a time is encoded and staged on a background thread while the caller converts and
validates the next rows; chunk boundaries, part names and bytes do not depend on ``workers``.

A row that alone encodes to more than the byte cap is handed to ``on_row_too_large`` with
its input row (code ``row_too_large``): the error policy raises it or rejects that row, and
the roller goes on with the rest of the chunk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa

from bulkwriter.errors import FieldError, ValidationError
from bulkwriter.formats.base import Encoder
from bulkwriter.rollover import ChunkPolicy, fit_within_cap
from bulkwriter.storage.staging import StagedPart, Stager

__all__ = ["Roller", "RowTooLarge"]

#: The column carrying each pending row's input row; dropped before a chunk is encoded.
_ROW = "__bulkwriter_input_row"


@dataclass(frozen=True)
class RowTooLarge:
    """A row that alone encodes to more than the byte cap.

    Attributes
    ----------
    error : FieldError
        Code ``row_too_large``; ``row`` is the input row.
    values : dict
        The row's values (canonical form), for the rejects file.
    """

    error: FieldError
    values: dict[str, Any]


@dataclass(frozen=True)
class _Done:
    part: StagedPart | None
    rest: pa.Table
    too_large: RowTooLarge | None = None


class Roller:
    """Pending rows to staged parts for one write.

    Parameters
    ----------
    encoder : Encoder
        The output format.
    stager : Stager
        Where parts are staged.
    policy : ChunkPolicy
        The row and byte caps per file.
    on_row_too_large : callable
        Called (on the caller's thread) with a :class:`RowTooLarge`; raises to stop the
        write, or returns to leave that row out.
    workers : int, default 2
        1: encode and stage on the caller's thread; 2 or more: on one background thread.
    """

    def __init__(
        self,
        encoder: Encoder,
        stager: Stager,
        policy: ChunkPolicy,
        on_row_too_large: Callable[[RowTooLarge], None],
        *,
        workers: int = 2,
    ) -> None:
        self._encoder = encoder
        self._stager = stager
        self._policy = policy
        self._on_row_too_large = on_row_too_large
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulkwriter-encode") if workers > 1 else None
        )
        self._inflight: Future[_Done] | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._part_index = 0
        self.parts: list[StagedPart] = []

    @property
    def rows_written(self) -> int:
        """Rows in the parts staged so far."""
        return sum(p.rows for p in self.parts)

    def add(self, valid: pa.RecordBatch, input_rows: np.ndarray) -> None:
        """Take valid rows (canonical form) whose input rows are ``input_rows``; stage full files.

        Raises
        ------
        BaseException
            Whatever encoding or staging a chunk raised (storage errors), or what
            ``on_row_too_large`` raised.
        """
        if valid.num_rows == 0:
            return
        if self._policy.bytes_per_row is None:
            self._policy.bytes_per_row = self._encoder.estimate_bytes_per_row(pa.Table.from_batches([valid]))
        rows = pa.array(np.asarray(input_rows, dtype=np.int64))
        self._pending.append(valid.append_column(_ROW, rows))
        self._pending_rows += valid.num_rows
        self._emit(final=False)

    def finish(self) -> list[StagedPart]:
        """Stage every pending row, wait for the background work, and return all parts."""
        self._emit(final=True)
        self.close()
        return self.parts

    def close(self) -> None:
        """Wait for the chunk in flight (ignoring its errors) and stop the background thread."""
        future, self._inflight = self._inflight, None
        if future is not None:
            with contextlib.suppress(BaseException):
                future.result()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _emit(self, *, final: bool) -> None:
        """Cut full chunks off the pending rows and encode + stage them.

        At most one chunk is in flight; the next one is cut only once it is back (its
        leftover rows, when the byte cap cut it short, come first).
        """
        while True:
            if self._inflight is not None:
                target = self._policy.target_rows()
                full = target is not None and self._pending_rows >= target
                if not (final or full or self._inflight.done()):
                    return  # keep validating while the chunk in flight is encoded
                future, self._inflight = self._inflight, None
                self._record(future.result())
            if not self._pending_rows:
                return
            target = self._policy.target_rows()
            if target is None:
                target = self._pending_rows
            if self._pending_rows < target and not final:
                return
            chunk = self._cut(target)
            job = partial(self._encode_and_stage, chunk)
            if self._executor is None:
                self._record(job())
            else:
                self._inflight = self._executor.submit(job)

    def _cut(self, rows: int) -> pa.Table:
        """Take the first ``rows`` pending rows as one chunk (zero-copy slices of the batches)."""
        table = pa.Table.from_batches(self._pending, schema=self._pending[0].schema)
        self._pending = []
        rows = min(rows, table.num_rows)
        chunk = table.slice(0, rows)
        rest = table.slice(rows)
        del table
        self._pending = rest.to_batches()
        self._pending_rows = rest.num_rows
        return chunk

    def _encode_and_stage(self, chunk: pa.Table) -> _Done:
        """Encode ``chunk`` within the caps and stage it as the next part (runs on the worker)."""
        data = chunk.drop_columns([_ROW])
        first_row = int(chunk.column(_ROW)[0].as_py())
        name = f"part-{self._part_index:05d}{self._encoder.suffix}"
        try:
            part, rows = self._stage(name, data, first_row)
        except ValidationError as exc:
            if len(exc.errors) != 1 or exc.errors[0].code != "row_too_large":
                raise
            values = data.slice(0, 1).to_pylist()[0]
            return _Done(None, chunk.slice(1), RowTooLarge(exc.errors[0], values))
        self._part_index += 1
        return _Done(part, chunk.slice(rows))

    def _stage(self, name: str, data: pa.Table, first_row: int) -> tuple[StagedPart, int]:
        suffix = self._encoder.suffix
        if self._encoder.writes_to_stream and self._stager.stages_locally:

            def stage_rows(rows: pa.Table) -> int:
                return self._stager.stage_stream(name, partial(self._encoder.write_to, rows))

            nbytes, rows, _ = fit_within_cap(stage_rows, int, data, self._policy, first_row)
            return self._stager.part(name, suffix=suffix, files=(), rows=rows, nbytes=nbytes), rows
        encoded, rows, _ = fit_within_cap(
            self._encoder.encode, attrgetter("nbytes"), data, self._policy, first_row
        )
        self._stager.stage(name, encoded.files)
        inner = [n for n, _ in encoded.files] if self._encoder.is_directory else []
        return self._stager.part(name, suffix=suffix, files=inner, rows=rows, nbytes=encoded.nbytes), rows

    def _record(self, done: _Done) -> None:
        """Record a staged part; its leftover rows go back to the head of the pending rows."""
        if done.rest.num_rows:
            self._pending = done.rest.to_batches() + self._pending
            self._pending_rows += done.rest.num_rows
        if done.part is not None:
            self.parts.append(done.part)
        if done.too_large is not None:
            self._on_row_too_large(done.too_large)
