"""The one-call API: write(), validate(), inspect() and clean()."""

from __future__ import annotations

from typing import Any, Unpack

import fsspec

from bulkwriter.errors import FieldError
from bulkwriter.formats import get_encoder
from bulkwriter.formats.base import FormatOptions
from bulkwriter.inputs import DEFAULT_BATCH_ROWS, to_batches
from bulkwriter.options import WriteKeywords, WriteOptions, parse_version
from bulkwriter.result import WriteResult
from bulkwriter.schema.load import SchemaLike, as_schema
from bulkwriter.storage.location import resolve
from bulkwriter.storage.recovery import CleanResult, Inspection, clean_destination, inspect_destination
from bulkwriter.storage.retry import RetryPolicy
from bulkwriter.validate.batch import BatchValidator
from bulkwriter.validate.checked import check
from bulkwriter.writer import Writer

__all__ = ["clean", "inspect", "validate", "write"]


def write(
    data: Any,
    path: Any,
    *,
    schema: SchemaLike,
    options: WriteOptions | None = None,
    **keywords: Unpack[WriteKeywords],
) -> WriteResult:
    """Validate ``data`` against ``schema`` and write import-ready files to ``path``.

    Everything is validated before it is committed: on any error nothing becomes visible
    at ``path`` (staged files are removed) and the error is raised.

    Parameters
    ----------
    data : rows, columns, Arrow, DataFrame, or an iterable of those
        A list of row dicts; a dict of columns (lists, 1-D NumPy arrays, 2-D NumPy arrays of
        shape (rows, dim) for vectors); a ``pyarrow.Table``, ``RecordBatch`` or
        ``RecordBatchReader``; a pandas or polars DataFrame; or any iterable of these
        (streamed batch by batch, never held whole).
    path : str or os.PathLike
        Destination folder (local path or fsspec URL).
    schema : CollectionSchema, dict, str or pymilvus.CollectionSchema
        As for :class:`~bulkwriter.Writer`.
    options : WriteOptions, optional
        Format, mode, caps, storage, error policy, threads (:class:`~bulkwriter.options.WriteOptions`).
    **keywords
        Any field of :class:`~bulkwriter.options.WriteOptions`, replacing that of ``options``.
        With ``on_error="skip"`` invalid rows are left out and reported in
        ``result.rows_rejected`` and the rejects file ``result.rejects_path``.

    Returns
    -------
    WriteResult
        The files written (path, rows, bytes) and ``import_batches``: the ``files`` lists
        to pass to Milvus ``bulk_import`` (one entry per file or NumPy chunk).

    Raises
    ------
    SchemaError, FormatError
        The schema is impossible, or the format cannot carry it.
    ValidationError
        Values break the schema; ``.errors`` names field, row (position in the whole input),
        what was expected and what came.
    DestinationExistsError
        ``mode="error"`` and ``path`` already holds files (subclasses:
        UncleanDestinationError, AppendMismatchError; see :class:`~bulkwriter.Writer`).
    ConcurrentWriteError
        Another writer has ``path`` open.
    StorageError, CommitError
        Writing or committing failed; nothing was made visible.
    CleanupError
        Committed (``.result``), but files of the previous output could not be removed.
    InputError
        ``data`` is of no accepted kind.
    """
    writer = Writer(path, schema=schema, options=options, **keywords)
    try:
        writer.write(data)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


def validate(
    data: Any,
    *,
    schema: SchemaLike,
    format: str | None = None,
    milvus_version: str | tuple[int, ...] | None = None,
    max_errors: int | None = None,
    check_duplicates: bool = True,
) -> list[FieldError]:
    """Check ``data`` against ``schema`` without writing anything; return every problem.

    Parameters
    ----------
    data
        Any input :func:`write` takes.
    schema
        As for :func:`write`.
    format : str, optional
        Also check what this output format cannot carry (e.g. ``"csv"``: CR LF in VarChar
        or the null token as a value; ``"numpy"``: text ending in NUL), as :func:`write`
        would. None: the schema's rules only.
    milvus_version : str or tuple of int, optional
        As for :func:`write`; only used with ``format``.
    max_errors : int, optional
        Stop after this many errors. None: report all.
    check_duplicates : bool, default True
        Also report repeated primary keys.

    Returns
    -------
    list of FieldError
        Empty when the data is valid. Row indices are positions in the whole input.
    """
    collection = as_schema(schema)
    row_checks = None
    if format is not None:
        version = parse_version(milvus_version)
        options = FormatOptions() if version is None else FormatOptions(milvus_version=version)
        row_checks = get_encoder(format, collection, options).check_rows
    validator = BatchValidator(collection, check_duplicates=check_duplicates, row_checks=row_checks)
    errors: list[FieldError] = []
    offset = 0
    for piece in to_batches(data, collection, batch_rows=DEFAULT_BATCH_ROWS):
        errors.extend(e.shifted(offset) for e in check(validator, piece).errors)
        offset += piece.num_rows
        if max_errors is not None and len(errors) >= max_errors:
            break
    return errors if max_errors is None else errors[:max_errors]


def inspect(
    path: Any,
    *,
    storage_options: dict[str, Any] | None = None,
    filesystem: fsspec.AbstractFileSystem | None = None,
    retry: RetryPolicy | None = None,
) -> Inspection:
    """Tell what a destination holds: its committed output, and anything a failed write left.

    Parameters
    ----------
    path : str or os.PathLike
        A destination written by bulkwriter (local path or fsspec URL).
    storage_options : dict, optional
        Passed to fsspec, as for :func:`write`.
    filesystem : fsspec.AbstractFileSystem, optional
        A filesystem instance instead of ``storage_options``, as for :func:`write`.
    retry : RetryPolicy, optional
        Retries of transient storage errors.

    Returns
    -------
    Inspection
        ``committed``: every file the manifest lists (for appended outputs: all writes), with
        import batches and ``import_uris``; None when nothing is committed. ``orphans``:
        files under the destination that the manifest does not list (an import of the
        folder would read them). ``staging``: write folders failed or killed writes left.
        ``writing`` / ``stale_lock``: a writer at work, or the lock of one that is gone.
        ``notes``: one line for each, and ``is_clean``.

    Raises
    ------
    StorageError
        Storage cannot be read, or the manifest is not a bulkwriter manifest.
    """
    location = resolve(path, storage_options=storage_options, filesystem=filesystem)
    return inspect_destination(location, retry or RetryPolicy())


def clean(
    path: Any,
    *,
    storage_options: dict[str, Any] | None = None,
    filesystem: fsspec.AbstractFileSystem | None = None,
    retry: RetryPolicy | None = None,
    dry_run: bool = False,
    break_lock: bool = False,
) -> CleanResult:
    """Remove what failed or killed writes left at a destination, and only that.

    Takes the destination's lock (so never while a writer is at work), then: puts back a
    previous output an interrupted commit had set aside; under a committed output removes
    every file its manifest does not list; without a manifest removes only the files a
    failed write's journal names as its own (anything else is kept and reported); and
    removes the destination's leftover staging (matched by exact destination and write id).

    Parameters
    ----------
    path : str or os.PathLike
        The destination.
    storage_options, filesystem, retry
        As for :func:`write`.
    dry_run : bool, default False
        Change nothing; report what would be done.
    break_lock : bool, default False
        Also take over a lock whose writer cannot be checked (another host's, or an
        unreadable lock file). A lock whose writer is known to be alive is never taken.

    Returns
    -------
    CleanResult
        URLs removed, restored, and kept.

    Raises
    ------
    ConcurrentWriteError
        A writer is at work on the destination.
    StorageError
        Storage failed; running clean again finishes the job.
    """
    location = resolve(path, storage_options=storage_options, filesystem=filesystem)
    return clean_destination(location, retry or RetryPolicy(), dry_run=dry_run, break_lock=break_lock)
