"""Writer: a small state machine (open -> committed | aborted) over the stages of a write.

Each stage is its own module and passes values on:

1. input funnel (:mod:`bulkwriter.inputs`): any input -> :class:`~bulkwriter.inputs.Converted`
   pieces (an Arrow batch, the input row of each row, conversion errors; never raising for
   a bad value);
2. check (:mod:`bulkwriter.validate.checked`): a piece -> :class:`~bulkwriter.validate.checked.Checked`
   (the valid rows in canonical form, their positions, the errors of the others);
3. error policy (:mod:`bulkwriter.policy`): raise, or skip with rejects and ``max_errors``;
4. roller (:mod:`bulkwriter.roller`): owns the valid rows until they are files, cuts them to
   the caps, names and stages the parts (on a background thread with ``workers >= 2``);
5. commit (:mod:`bulkwriter.storage`): the transaction publishes every part at once, the
   manifest (:class:`~bulkwriter.storage.manifest.Manifest`) last.

Rows given to :meth:`Writer.append_row` are owned at once (:mod:`bulkwriter.owned`). Any
error after which rows are lost fails the writer: every later call but ``abort`` raises it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, Literal, Unpack

from bulkwriter.errors import CleanupError, FieldError, InputError, ValidationError, WriterClosedError
from bulkwriter.formats import get_encoder
from bulkwriter.inputs import Converted, rows_to_batch, to_batches
from bulkwriter.options import DEFAULT_WORKERS, Format, WriteKeywords, WriteOptions
from bulkwriter.owned import RowOwner
from bulkwriter.policy import ErrorPolicy, OnError
from bulkwriter.progress import make_progress
from bulkwriter.rejects import REJECTS_SUFFIX
from bulkwriter.result import WriteResult
from bulkwriter.roller import Roller, RowTooLarge
from bulkwriter.rollover import MILVUS_MAX_FILE_BYTES, ChunkPolicy
from bulkwriter.schema.load import SchemaLike, as_schema
from bulkwriter.storage.describe import describe
from bulkwriter.storage.manifest import Manifest, OutputSpec
from bulkwriter.storage.transaction import Transaction
from bulkwriter.validate.batch import BatchValidator
from bulkwriter.validate.checked import check

__all__ = ["DEFAULT_WORKERS", "Format", "OnError", "WriteOptions", "Writer"]

_State = Literal["open", "committed", "aborted"]


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
    options : WriteOptions, optional
        Format, mode, file caps, storage, error policy and threads, as one object
        (:class:`~bulkwriter.options.WriteOptions`, where each is documented).
    **keywords
        Any field of :class:`~bulkwriter.options.WriteOptions` (``format="json"``,
        ``mode="overwrite"``, ``max_bytes_per_file=...``, ``on_error="skip"``,
        ``workers=...``, ...); they replace the fields of ``options``.

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
        options: WriteOptions | None = None,
        **keywords: Unpack[WriteKeywords],
    ) -> None:
        opts = (options or WriteOptions()).replace(**keywords)
        self.options = opts
        self.schema = as_schema(schema)
        self._policy = ErrorPolicy(opts.on_error, opts.max_errors, self.schema.name)
        self._encoder = get_encoder(opts.format, self.schema, opts.format_options_for_version())
        self._validator = BatchValidator(
            self.schema, check_duplicates=opts.check_duplicates, row_checks=self._encoder.check_rows
        )
        self._owner = RowOwner(self.schema)
        self._spec = OutputSpec(
            self._encoder.name, self.schema.name, self.schema.to_dict(), self._encoder.import_options()
        )
        self._txn = Transaction(
            path,
            spec=self._spec,
            mode=opts.mode,
            storage_options=opts.storage_options,
            filesystem=opts.filesystem,
            retry=opts.retry,
        )
        self._roller = Roller(
            self._encoder,
            self._txn.stager(),
            ChunkPolicy(opts.max_rows_per_file, opts.max_bytes_per_file or MILVUS_MAX_FILE_BYTES),
            self._row_too_large,
            workers=opts.workers,
        )
        self._progress = make_progress(opts.progress)
        self._batch_rows = opts.batch_rows
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
