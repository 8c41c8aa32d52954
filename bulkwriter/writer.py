"""Writer: validate batches as they come, cut them into files, commit atomically.

Read top to bottom, a write is: input to batches (:mod:`bulkwriter.inputs`), validate each
batch (:mod:`bulkwriter.validate`), buffer until a file's worth, encode it in memory
(:mod:`bulkwriter.formats`), cut it to the exact caps (:mod:`bulkwriter.rollover`), stage it,
and at commit publish everything with the manifest last (:mod:`bulkwriter.storage`: the
commit protocol, the lock, the journal).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, Literal

import fsspec

from bulkwriter.errors import CleanupError, FieldError, InputError, ValidationError, WriterClosedError
from bulkwriter.formats import get_encoder
from bulkwriter.formats.base import FormatOptions
from bulkwriter.inputs import DEFAULT_BATCH_ROWS, Converted, rows_to_batch, to_batches
from bulkwriter.owned import RowOwner
from bulkwriter.policy import ErrorPolicy, OnError
from bulkwriter.progress import ProgressLike, make_progress
from bulkwriter.rejects import REJECTS_SUFFIX
from bulkwriter.result import WriteResult
from bulkwriter.roller import Roller, RowTooLarge
from bulkwriter.rollover import DEFAULT_MAX_BYTES_PER_FILE, MILVUS_MAX_FILE_BYTES, ChunkPolicy
from bulkwriter.schema.load import SchemaLike, as_schema
from bulkwriter.storage.describe import describe
from bulkwriter.storage.manifest import Manifest, OutputSpec
from bulkwriter.storage.retry import RetryPolicy
from bulkwriter.storage.transaction import Mode, Transaction
from bulkwriter.validate.batch import BatchValidator
from bulkwriter.validate.checked import check

__all__ = ["DEFAULT_WORKERS", "Format", "OnError", "Writer"]

#: Threads a write uses by default: the caller's, and one that encodes and stages files.
DEFAULT_WORKERS = 2

Format = Literal["parquet", "json", "jsonl", "numpy", "csv"]
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
        ``"raise"``: the first invalid batch raises ValidationError and nothing is committed;
        the writer is then failed (every later call but ``abort`` raises that error again),
        since rows it held are lost and no subset of the data may be committed.
        ``"skip"``: every invalid row, and only those, is left out (whatever the input form:
        a bad cell of a column, or a row bigger than the byte cap, rejects its own row) and
        recorded in a rejects file beside the output
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
        self._policy = ErrorPolicy(on_error, max_errors)
        self.schema = as_schema(schema)
        self._policy.collection = self.schema.name
        options = format_options or FormatOptions()
        version = parse_version(milvus_version)
        if version is not None:
            options = FormatOptions(**{**options.__dict__, "milvus_version": version})
        self._encoder = get_encoder(format, self.schema, options)
        self._validator = BatchValidator(
            self.schema, check_duplicates=check_duplicates, row_checks=self._encoder.check_rows
        )
        self._owner = RowOwner(self.schema)
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
        self._roller = Roller(
            self._encoder,
            self._txn.stager(),
            ChunkPolicy(max_rows_per_file, max_bytes_per_file or MILVUS_MAX_FILE_BYTES),
            self._row_too_large,
            workers=workers,
        )
        self._progress = make_progress(progress)
        self._batch_rows = batch_rows
        self._rows_in = 0
        self._row_buffer: list[Any] = []
        self._failed: BaseException | None = None
        self._state: _State = "open"
        self.result: WriteResult | None = None

    # -- feeding data -----------------------------------------------------------------
    def write(self, data: Any) -> None:
        """Validate and add data (any input :func:`bulkwriter.write` takes).

        Raises
        ------
        ValidationError
            ``on_error="raise"`` and some values break the schema (rows count from the
            first row this writer received), or ``"skip"`` and more than ``max_errors`` rows
            were rejected. The writer is then failed: every later call but :meth:`abort`
            raises the same error, so no subset of the data can be committed.
        InputError
            ``data`` is of no accepted kind (nothing of it was added; the writer stays open).
        WriterClosedError
            The writer was committed or aborted.
        """
        self._check_open()
        with self._failing():
            self._flush_row_buffer()
        with self._failing():
            for piece in to_batches(data, self.schema, batch_rows=self._batch_rows):
                self._add(piece)

    def append_row(self, row: Mapping[str, Any]) -> None:
        """Add one row (a dict of field name to value); rows are validated in batches.

        The row is copied as it is appended (:mod:`bulkwriter.owned`): changing the dict,
        its lists or arrays afterwards, or reusing them for the next row, does not change
        what is written. A bad row raises ValidationError when its batch is validated: at
        the latest at the next ``write``, ``flush`` or ``commit``; the writer is then failed
        (see :meth:`write`).
        """
        self._check_open()
        self._row_buffer.append(self._owner.own(row))
        if len(self._row_buffer) >= self._batch_rows:
            with self._failing():
                self._flush_row_buffer()

    def flush(self) -> None:
        """Validate buffered rows now (files are still cut by the size caps)."""
        self._check_open()
        with self._failing():
            self._flush_row_buffer()

    @contextlib.contextmanager
    def _failing(self) -> Iterator[None]:
        """An error inside fails the writer: rows it held may be lost, so nothing may commit.

        Only an InputError raised before any row of the call was taken leaves it open.
        """
        before = self._rows_in
        try:
            yield
        except InputError:
            if self._rows_in != before:
                self._failed = sys.exc_info()[1]
            raise
        except BaseException as exc:
            self._failed = exc
            raise

    def _flush_row_buffer(self) -> None:
        if not self._row_buffer:
            return
        rows, self._row_buffer = self._row_buffer, []
        self._add(rows_to_batch(rows, self.schema))

    def _add(self, piece: Converted) -> None:
        """Check one piece, apply the error policy, and hand its valid rows to the roller."""
        offset = self._rows_in
        self._rows_in += piece.num_rows
        checked = check(self._validator, piece, every_row=self._policy.skips)
        self._policy.apply(checked, offset, piece.values)
        if checked.valid.num_rows:
            self._progress.update(checked.valid.num_rows)
            self._roller.add(checked.valid, checked.positions + offset)

    def _row_too_large(self, found: RowTooLarge) -> None:
        """A row bigger than the byte cap: raise it, or (skip) leave it out as rejected."""
        if not self._policy.skips:
            raise ValidationError([found.error], self.schema.name)
        row = found.error.row or 0
        self._policy.reject([found.error], 0, {row: found.values})

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
            Buffered rows are invalid; nothing is committed, the writer is failed (every
            later call raises this error again; :meth:`abort` or the ``with`` block cleans up).
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
        with self._failing():
            self._flush_row_buffer()
            parts = self._roller.finish()
        self._progress.close()
        rejects_path = self._write_rejects()  # a report, written before the data is published
        try:
            manifest = self._txn.commit(parts)
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
        new_files = manifest.files[len(manifest.files) - len(self._roller.parts) :]
        self.result = describe(
            self._txn.location,
            self._spec,
            new_files,
            rows_read=self.rows_received,
            rows_rejected=self._policy.rows_rejected,
            rejects_path=rejects_path,
            write_id=self._txn.write_id,
        )
        return self.result

    @property
    def rejected(self) -> tuple[FieldError, ...]:
        """Errors of the rows left out so far (``on_error="skip"``), rows in input positions."""
        return tuple(self._policy.rejects.errors)

    def _write_rejects(self) -> str | None:
        """Write the rejects file beside the destination; None when no row was rejected."""
        if not self._policy.rows_rejected:
            return None
        return self._txn.put_beside(REJECTS_SUFFIX, self._policy.rejects.render())

    def abort(self) -> None:
        """Drop everything staged; the destination stays as it was. Safe to call twice.

        With ``on_error="skip"``, the rejects file is still written (it is a report, not
        import data), so a write stopped by ``max_errors`` can be diagnosed.
        """
        if self._state != "open":
            return
        self._roller.close()  # the worker may be staging a file: let it finish, then remove everything
        self._txn.abort()
        if self._policy.rows_rejected:
            with contextlib.suppress(OSError):
                self._write_rejects()
        self._state = "aborted"
        self._progress.close()

    def _check_open(self) -> None:
        if self._state != "open":
            raise WriterClosedError(f"this Writer was already {self._state}")
        if self._failed is not None:
            # rows were lost to an error (invalid, or a chunk failed to stage): never commit a subset
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
