"""Writer: validate batches as they come, cut them into files, commit atomically.

Read top to bottom, a write is: input to batches (:mod:`bulkwriter.inputs`), validate each
batch (:mod:`bulkwriter.validate`), buffer until a file's worth, encode it in memory
(:mod:`bulkwriter.formats`), cut it to the exact caps (:mod:`bulkwriter.rollover`), stage it,
and at commit publish everything with the manifest last (:mod:`bulkwriter.storage`: the
commit protocol, the lock, the journal).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from operator import attrgetter
from types import TracebackType
from typing import Any, Literal

import fsspec
import numpy as np
import pyarrow as pa

from bulkwriter.errors import CleanupError, FieldError, ValidationError, WriterClosedError
from bulkwriter.formats import get_encoder
from bulkwriter.formats.base import FormatOptions
from bulkwriter.inputs import DEFAULT_BATCH_ROWS, RejectedBatch, rows_to_batch, to_batches
from bulkwriter.progress import ProgressLike, make_progress
from bulkwriter.rejects import REJECTS_SUFFIX, RejectLog
from bulkwriter.result import WriteResult
from bulkwriter.rollover import (
    DEFAULT_MAX_BYTES_PER_FILE,
    MILVUS_MAX_FILE_BYTES,
    ChunkPolicy,
    fit_within_cap,
)
from bulkwriter.schema.load import SchemaLike, as_schema
from bulkwriter.storage.describe import describe
from bulkwriter.storage.manifest import Manifest, OutputSpec
from bulkwriter.storage.retry import RetryPolicy
from bulkwriter.storage.staging import StagedPart
from bulkwriter.storage.transaction import Mode, Transaction
from bulkwriter.validate.batch import BatchValidator

__all__ = ["DEFAULT_WORKERS", "Format", "OnError", "Writer"]

#: Threads a write uses by default: the caller's, and one that encodes and stages files.
DEFAULT_WORKERS = 2

Format = Literal["parquet", "json", "jsonl", "numpy", "csv"]
OnError = Literal["raise", "skip"]
_State = Literal["open", "committed", "aborted"]


def parse_version(version: str | tuple[int, ...] | None) -> tuple[int, ...] | None:
    """``"2.5"`` or ``(2, 5)`` to ``(2, 5)``; None stays None."""
    if version is None or isinstance(version, tuple):
        return version
    try:
        return tuple(int(p) for p in str(version).lstrip("v").split("."))
    except ValueError:
        raise ValueError(f"milvus_version must look like '2.5' or '2.6.18', got {version!r}") from None


class Writer:
    """Write data for one collection into import files, committed atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination folder: a local path, ``file://`` URL or any fsspec URL
        (``s3://bucket/prefix``, ``gs://`` / ``gcs://``, ``az://`` / ``abfs://``; S3-compatible
        stores such as MinIO through ``storage_options``' endpoint URL). On object stores a
        prefix inside a bucket. Files appear there only at commit, all at once (see the
        commit protocol in :mod:`bulkwriter.storage`); one writer at a time per destination.
    schema : CollectionSchema, dict, str or pymilvus.CollectionSchema
        The collection schema: a :class:`~bulkwriter.CollectionSchema`, Milvus RESTful v2
        schema JSON (dict or file path), or a pymilvus ``CollectionSchema``.
    format : {"parquet", "json", "jsonl", "numpy", "csv"}, default "parquet"
        Output format (see :mod:`bulkwriter.formats` for each one's rules and sources).
    mode : {"error", "overwrite", "append"}, default "error"
        ``"error"``: refuse a destination that already holds files.
        ``"overwrite"``: replace a bulkwriter output, once the new files are committed (a
        folder holding files and no bulkwriter manifest is refused).
        ``"append"``: add files (numbered after the existing ones) and extend the manifest;
        the output must have the same format, schema and import options, and no files its
        manifest does not list.
    max_rows_per_file : int, optional
        Most rows per file, exact. None: no row limit.
    max_bytes_per_file : int or None, default 256 MiB
        Most bytes per file on storage (for NumPy: per chunk folder), exact. None: only the
        Milvus limit of 16 GB per file (Milvus "Import Data" limits). Memory use is about
        two files' worth, since each file is built in memory before it is stored.
    milvus_version : str or tuple of int, optional
        Oldest Milvus server the files must import into, e.g. ``"2.3"`` or ``"2.6.18"``.
        None: every supported version (the safest forms). Newer forms need a newer version.
    format_options : FormatOptions, optional
        Per-format knobs (CSV null token and separator, Parquet row groups and compression).
    storage_options : dict, optional
        Passed to fsspec for the destination URL, exactly as pandas and pyarrow pass them
        (e.g. ``{"key": ..., "secret": ..., "client_kwargs": {"endpoint_url": ...}}`` for
        s3fs). Never shown in errors, logs, the manifest or reprs.
    filesystem : fsspec.AbstractFileSystem, optional
        A filesystem instance to write through instead of building one from ``path``;
        ``path`` is then a path on it. Not together with ``storage_options``.
    retry : RetryPolicy, optional
        Retries of transient storage errors (throttling, HTTP 5xx, connection resets,
        timeouts): attempts, total seconds and backoff per object. Default
        ``RetryPolicy()`` (5 attempts, at most 120 s per object).
    progress : None, bool, callable or Progress, optional
        True for a tqdm bar (shown only on a terminal); a callable receives rows done.
    batch_rows : int, default 8192
        Rows per batch when converting Python rows (``append_row``, lists of dicts).
    check_duplicates : bool, default True
        Reject primary keys repeated anywhere in this write (Milvus does not deduplicate on
        import). Costs at most 8 bytes of memory per row written; Int64 keys that count up
        (0, 1, 2, ...) are kept as ranges, next to nothing however many rows are written.
    on_error : {"raise", "skip"}, default "raise"
        ``"raise"``: the first invalid batch raises ValidationError and nothing is committed.
        ``"skip"``: invalid rows are left out and recorded in a rejects file beside the output
        (``<destination>.rejects.jsonl``, see :mod:`bulkwriter.rejects`); the result counts rows
        read, written and rejected (as Pinecone's ``error_mode`` "continue" and Weaviate's
        failed-object list do).
    max_errors : int, optional
        With ``on_error="skip"``: once more than this many rows are rejected, ValidationError
        is raised (holding every error so far) and nothing is committed. None: no limit.
    workers : int, default 2
        Threads doing the work. 1: everything happens in the calling thread. 2 or more: one
        background thread encodes and stages each file while the calling thread converts and
        validates the next rows (Arrow, NumPy and file I/O release the GIL). At most one
        file is in flight, so memory stays about three files' worth. Files, names and bytes
        are the same for every value. An error of the background work (e.g. storage) is
        raised by the next ``write``, ``append_row``, ``flush`` or ``commit``.

    Raises
    ------
    SchemaError
        The schema is impossible.
    FormatError
        The format cannot carry the schema (e.g. Array fields in NumPy).
    DestinationExistsError
        ``mode="error"`` and the destination holds files; ``"overwrite"`` or ``"append"``
        and it holds files but no bulkwriter manifest.
    UncleanDestinationError
        ``mode="error"`` or ``"append"`` and it holds files its manifest does not list, or
        an interrupted commit's state (``bulkwriter clean`` puts it right).
    AppendMismatchError
        ``mode="append"`` with another format, schema or import options than the output's.
    ConcurrentWriteError
        Another writer has the destination open.
    StorageError
        The destination cannot be read: no such bucket, access denied, unknown scheme.
    MissingDependencyError
        The URL's backend is not installed (``pip install 'bulkwriter[s3]'``, ``[gcs]``,
        ``[azure]``).

    Examples
    --------
    >>> import bulkwriter, tempfile
    >>> schema = {"fields": [
    ...     {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
    ...     {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}}]}
    >>> out = tempfile.mkdtemp() + "/out"
    >>> with bulkwriter.Writer(out, schema=schema, format="json") as w:
    ...     w.append_row({"id": 1, "vec": [0.5, 1.0]})
    >>> w.result.rows_written
    1
    """

    def __init__(
        self,
        path: Any,
        *,
        schema: SchemaLike,
        format: Format = "parquet",
        mode: Mode = "error",
        max_rows_per_file: int | None = None,
        max_bytes_per_file: int | None = DEFAULT_MAX_BYTES_PER_FILE,
        milvus_version: str | tuple[int, ...] | None = None,
        format_options: FormatOptions | None = None,
        storage_options: dict[str, Any] | None = None,
        filesystem: fsspec.AbstractFileSystem | None = None,
        retry: RetryPolicy | None = None,
        progress: ProgressLike = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        check_duplicates: bool = True,
        on_error: OnError = "raise",
        max_errors: int | None = None,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        for name, value in (
            ("max_rows_per_file", max_rows_per_file),
            ("max_bytes_per_file", max_bytes_per_file),
        ):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if max_errors is not None and (not isinstance(max_errors, int) or max_errors < 0):
            raise ValueError(f"max_errors must be a non-negative integer or None, got {max_errors!r}")
        self._on_error: OnError = on_error
        self._max_errors = max_errors
        self._rejects = RejectLog()
        self.schema = as_schema(schema)
        options = format_options or FormatOptions()
        version = parse_version(milvus_version)
        if version is not None:
            options = FormatOptions(**{**options.__dict__, "milvus_version": version})
        self._encoder = get_encoder(format, self.schema, options)
        self._validator = BatchValidator(
            self.schema, check_duplicates=check_duplicates, row_checks=self._encoder.check_rows
        )
        self._spec = OutputSpec(
            self._encoder.name, self.schema.name, self.schema.to_dict(), self._encoder.import_options()
        )
        self._txn = Transaction(
            path,
            spec=self._spec,
            mode=mode,
            storage_options=storage_options,
            filesystem=filesystem,
            retry=retry,
        )
        self._stager = self._txn.stager()
        self._policy = ChunkPolicy(max_rows_per_file, max_bytes_per_file or MILVUS_MAX_FILE_BYTES)
        self._progress = make_progress(progress)
        self._batch_rows = batch_rows
        self._rows_in = 0
        self._row_buffer: list[Mapping[str, Any]] = []
        self._pending: list[pa.RecordBatch] = []
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulkwriter-encode") if workers > 1 else None
        )
        self._failed: BaseException | None = None
        self._inflight: Future[tuple[StagedPart, pa.Table]] | None = None
        self._pending_rows = 0
        self._parts: list[StagedPart] = []
        self._part_index = 0
        self._state: _State = "open"
        self.result: WriteResult | None = None

    # -- feeding data -----------------------------------------------------------------
    def write(self, data: Any) -> None:
        """Validate and add data (any input :func:`bulkwriter.write` takes).

        Raises
        ------
        ValidationError
            Some values break the schema; row indices count from the first row this writer
            received. The batch holding them is not added.
        WriterClosedError
            The writer was committed or aborted.
        """
        self._check_open()
        self._flush_row_buffer()
        for batch in to_batches(data, self.schema, batch_rows=self._batch_rows):
            if isinstance(batch, RejectedBatch):
                self._add_rejected(batch)
            else:
                self._add_batch(batch)

    def append_row(self, row: Mapping[str, Any]) -> None:
        """Add one row (a dict of field name to value); rows are validated in batches.

        A bad row raises ValidationError when its batch is validated: at the latest at the
        next ``write``, ``flush`` or ``commit``. The caller's dict is never modified.
        """
        self._check_open()
        self._row_buffer.append(row)
        if len(self._row_buffer) >= self._batch_rows:
            self._flush_row_buffer()

    def flush(self) -> None:
        """Validate buffered rows now (files are still cut by the size caps)."""
        self._check_open()
        self._flush_row_buffer()

    def _flush_row_buffer(self) -> None:
        if not self._row_buffer:
            return
        rows, self._row_buffer = self._row_buffer, []
        try:
            batch = rows_to_batch(rows, self.schema)
        except ValidationError as exc:
            self._add_rejected(RejectedBatch(exc.errors, len(rows), rows))
            return
        self._add_batch(batch)

    def _add_rejected(self, rejected: RejectedBatch) -> None:
        """Python values Arrow could not convert: raise, or (skip) keep the rows that convert."""
        offset = self._rows_in
        if self._on_error == "raise":
            self._rows_in += rejected.num_rows
            raise ValidationError([e.shifted(offset) for e in rejected.errors], self.schema.name)
        positions = np.arange(rejected.num_rows)
        rows = rejected.rows
        errors = list(rejected.errors)
        while errors:
            if rows is None or any(e.row is None for e in errors):  # cannot tell good from bad
                self._reject(errors, None, positions, offset)
                self._rows_in += rejected.num_rows
                return
            self._reject(errors, None, positions, offset)
            bad = {e.row for e in errors}
            keep = [i for i in range(len(rows)) if i not in bad]
            positions, rows = positions[keep], [rows[i] for i in keep]
            try:
                batch = rows_to_batch(rows, self.schema)
            except ValidationError as exc:
                errors = list(exc.errors)
                continue
            self._add_batch_at(batch, offset, positions)
            break
        self._rows_in = offset + rejected.num_rows

    def _add_batch(self, batch: pa.RecordBatch) -> None:
        offset = self._rows_in
        self._rows_in += batch.num_rows
        self._add_batch_at(batch, offset, None)

    def _add_batch_at(self, batch: pa.RecordBatch, offset: int, positions: np.ndarray | None) -> None:
        """Validate ``batch``, whose rows sit at input rows ``offset + positions``."""
        valid, errors = self._validator.validate(batch)
        if errors:
            if self._on_error == "raise":
                if positions is not None:
                    errors = [_moved(e, positions) for e in errors]
                raise ValidationError([e.shifted(offset) for e in errors], self.schema.name)
            valid = self._skip_invalid(batch, errors, offset, positions)
        if valid.num_rows == 0:
            return
        self._pending.append(valid)
        self._pending_rows += valid.num_rows
        self._progress.update(valid.num_rows)
        if self._policy.bytes_per_row is None:
            self._policy.bytes_per_row = self._encoder.estimate_bytes_per_row(pa.Table.from_batches([valid]))
        self._emit(final=False)

    def _skip_invalid(
        self, batch: pa.RecordBatch, errors: list[FieldError], offset: int, positions: np.ndarray | None
    ) -> pa.RecordBatch:
        """Record the bad rows of ``batch``, then validate what is left (``on_error="skip"``)."""
        positions = np.arange(batch.num_rows) if positions is None else positions
        current = batch
        while errors:
            self._reject(errors, current, positions, offset)
            bad = {e.row for e in errors}
            keep = (
                np.zeros(current.num_rows, dtype=bool)
                if None in bad
                else np.ones(current.num_rows, dtype=bool)
            )
            keep[[r for r in bad if r is not None]] = False
            positions = positions[keep]
            current = current.filter(pa.array(keep))
            valid, errors = self._validator.validate(current)
        return valid

    def _reject(
        self, errors: list[FieldError], batch: pa.RecordBatch | None, positions: np.ndarray, offset: int
    ) -> None:
        values = {}
        if batch is not None:
            values = {int(positions[e.row]): batch.slice(e.row, 1) for e in errors if e.row is not None}
        mapped = [_moved(e, positions) for e in errors]
        if any(e.row is None for e in mapped):  # a column-level problem rejects every row of the batch
            mapped = [e for e in mapped if e.row is not None] + [
                FieldError(e.code, e.field, int(p), e.expected, e.got)
                for e in errors
                if e.row is None
                for p in positions
            ]
        self._rejects.add(mapped, offset, values)
        if self._max_errors is not None and len(self._rejects.rows) > self._max_errors:
            raise ValidationError(self._rejects.errors, self.schema.name)

    # -- cutting files ----------------------------------------------------------------
    def _emit(self, *, final: bool) -> None:
        """Cut full chunks off the pending rows and encode + stage them.

        With ``workers >= 2`` a chunk is encoded and staged on the background thread while
        this thread goes on validating; at most one chunk is in flight, and the next one is
        cut only once it is back (its leftover rows, when the byte cap cut it short, come
        first). So chunk boundaries, file names and bytes do not depend on ``workers``.
        """
        while True:
            if self._inflight is not None:
                target = self._policy.target_rows()
                full = target is not None and self._pending_rows >= target
                if not (final or full or self._inflight.done()):
                    return  # keep validating while the chunk in flight is encoded
                self._finish_inflight()
            if not self._pending_rows:
                return
            target = self._policy.target_rows()
            if target is None:
                target = self._pending_rows
            if self._pending_rows < target and not final:
                return
            chunk = self._cut(target)
            name = f"part-{self._part_index:05d}{self._encoder.suffix}"
            self._part_index += 1
            job = partial(self._encode_and_stage, chunk, name, self._rows_written())
            if self._executor is None:
                try:
                    done = job()
                except BaseException as exc:
                    self._failed = exc
                    raise
                self._record(done)
            else:
                self._inflight = self._executor.submit(job)

    def _cut(self, rows: int) -> pa.Table:
        """Take the first ``rows`` pending rows as one chunk.

        The chunk is a zero-copy slice of the pending batches (no second copy of up to a
        file's worth of rows); batches wholly inside it leave the pending list at once, so
        the memory they hold is the chunk's and is freed when the chunk has been encoded.
        Parquet writes the chunks as they are, NumPy writes fixed-width columns chunk by chunk,
        and the text formats combine each column's chunks themselves.
        """
        table = pa.Table.from_batches(self._pending, schema=self._pending[0].schema)
        self._pending = []
        rows = min(rows, table.num_rows)
        chunk = table.slice(0, rows)
        rest = table.slice(rows)
        del table
        self._pending = rest.to_batches()
        self._pending_rows = rest.num_rows
        return chunk

    def _encode_and_stage(self, chunk: pa.Table, name: str, first_row: int) -> tuple[StagedPart, pa.Table]:
        """Encode ``chunk`` within the caps and stage it as ``name`` (runs on the worker).

        Formats that can (Parquet) are written straight into a local staging folder as they
        are encoded: no in-memory copy of the file, no second write of it. Otherwise the
        chunk is encoded in memory and then staged.
        """
        suffix = self._encoder.suffix
        if self._encoder.writes_to_stream and self._stager.stages_locally:

            def stage_rows(rows: pa.Table) -> int:
                return self._stager.stage_stream(name, partial(self._encoder.write_to, rows))

            nbytes, rows, rest = fit_within_cap(stage_rows, int, chunk, self._policy, first_row)
            return self._stager.part(name, suffix=suffix, files=(), rows=rows, nbytes=nbytes), rest
        encoded, rows, rest = fit_within_cap(
            self._encoder.encode, attrgetter("nbytes"), chunk, self._policy, first_row
        )
        del chunk
        self._stager.stage(name, encoded.files)
        inner = [n for n, _ in encoded.files] if self._encoder.is_directory else []
        part = self._stager.part(name, suffix=suffix, files=inner, rows=rows, nbytes=encoded.nbytes)
        return part, rest

    def _finish_inflight(self) -> None:
        """Wait for the chunk in flight; record it (errors from the worker are raised here)."""
        future, self._inflight = self._inflight, None
        assert future is not None
        try:
            done = future.result()
        except BaseException as exc:
            self._failed = exc
            raise
        self._record(done)

    def _record(self, done: tuple[StagedPart, pa.Table]) -> None:
        """Record a staged part; its leftover rows go back to the head of the pending rows."""
        part, rest = done
        if rest.num_rows:
            self._pending = rest.to_batches() + self._pending
            self._pending_rows += rest.num_rows
        self._parts.append(part)

    def _drain(self) -> None:
        """Wait for the chunk in flight, if any, ignoring its errors (abort path)."""
        future, self._inflight = self._inflight, None
        if future is not None:
            with contextlib.suppress(BaseException):
                future.result()

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _rows_written(self) -> int:
        return sum(p.rows for p in self._parts)

    # -- ending -----------------------------------------------------------------------
    def commit(self) -> WriteResult:
        """Write what is buffered, then publish every file at once, manifest last.

        Returns
        -------
        WriteResult
            Files, rows, bytes and the import requests ready to submit.

        Raises
        ------
        ValidationError
            Buffered rows are invalid; nothing is committed (call :meth:`abort`).
        CommitError
            Publishing failed; nothing of this write was made visible, or the message says
            what is left and that ``bulkwriter clean`` removes it.
        ConcurrentWriteError
            This writer lost its lock, or another writer committed meanwhile.
        CleanupError
            Committed (``.result`` holds the result), but files of the previous output could
            not be removed.
        """
        self._check_open()
        self._flush_row_buffer()
        self._emit(final=True)
        self._shutdown()
        self._progress.close()
        rejects_path = self._write_rejects()  # a report, written before the data is published
        try:
            manifest = self._txn.commit(self._parts)
        except CleanupError as exc:
            if isinstance(exc.result, Manifest):
                exc.result = self._committed(exc.result, rejects_path)
            raise
        except BaseException:
            if self._txn.state != "open":
                self._state = "aborted"
            raise
        return self._committed(manifest, rejects_path)

    def _committed(self, manifest: Manifest, rejects_path: str | None) -> WriteResult:
        self._state = "committed"
        new_files = manifest.files[len(manifest.files) - len(self._parts) :]
        self.result = describe(
            self._txn.location,
            self._spec,
            new_files,
            rows_read=self.rows_received,
            rows_rejected=len(self._rejects.rows),
            rejects_path=rejects_path,
            write_id=self._txn.write_id,
        )
        return self.result

    @property
    def rejected(self) -> tuple[FieldError, ...]:
        """Errors of the rows left out so far (``on_error="skip"``), rows in input positions."""
        return tuple(self._rejects.errors)

    def _write_rejects(self) -> str | None:
        """Write the rejects file beside the destination; None when no row was rejected."""
        if not self._rejects.rows:
            return None
        return self._txn.put_beside(REJECTS_SUFFIX, self._rejects.render())

    def abort(self) -> None:
        """Drop everything staged; the destination stays as it was. Safe to call twice.

        With ``on_error="skip"``, the rejects file is still written (it is a report, not
        import data), so a write stopped by ``max_errors`` can be diagnosed.
        """
        if self._state != "open":
            return
        self._drain()  # the worker may be staging a file: let it finish, then remove everything
        self._shutdown()
        self._txn.abort()
        if self._rejects.rows:
            with contextlib.suppress(OSError):
                self._write_rejects()
        self._state = "aborted"
        self._progress.close()

    def _check_open(self) -> None:
        if self._state != "open":
            raise WriterClosedError(f"this Writer was already {self._state}")
        if self._failed is not None:
            # a chunk failed to encode or stage: its rows are gone, so nothing may be committed
            raise self._failed

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._state != "open":
            return
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.abort()  # no staged file, lock or encode thread outlives the block
                raise
        else:
            self.abort()

    @property
    def rows_received(self) -> int:
        """Rows received so far (valid or not), including rows still buffered."""
        return self._rows_in + len(self._row_buffer)


def _moved(error: FieldError, positions: np.ndarray) -> FieldError:
    """``error`` with its row mapped through ``positions`` (batch row -> input row)."""
    if error.row is None:
        return error
    row = int(positions[error.row])
    return FieldError(error.code, error.field, row, error.expected, error.got, error.element)
