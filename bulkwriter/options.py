"""The options of a write, shared by :func:`bulkwriter.write` and :class:`bulkwriter.Writer`.

Both take the same keywords (the fields of :class:`WriteOptions`), or one ``options=``
object to reuse across writes; keywords given next to ``options`` replace its fields.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import fsspec

from bulkwriter.formats.base import FormatOptions
from bulkwriter.inputs import DEFAULT_BATCH_ROWS
from bulkwriter.policy import OnError
from bulkwriter.progress import ProgressLike
from bulkwriter.rollover import DEFAULT_MAX_BYTES_PER_FILE
from bulkwriter.storage.retry import RetryPolicy
from bulkwriter.storage.transaction import Mode

__all__ = ["DEFAULT_WORKERS", "Format", "WriteKeywords", "WriteOptions", "parse_version"]

#: Threads a write uses by default: the caller's, and one that encodes and stages files.
DEFAULT_WORKERS = 2

Format = Literal["parquet", "json", "jsonl", "numpy", "csv"]


def parse_version(version: str | tuple[int, ...] | None) -> tuple[int, ...] | None:
    """``"2.5"`` or ``(2, 5)`` to ``(2, 5)``; None stays None.

    Raises
    ------
    ValueError
        The text is not dot-separated integers.
    """
    if version is None or isinstance(version, tuple):
        return version
    try:
        return tuple(int(p) for p in str(version).lstrip("v").split("."))
    except ValueError:
        raise ValueError(f"milvus_version must look like '2.5' or '2.6.18', got {version!r}") from None


@dataclass(frozen=True)
class WriteOptions:
    """How a write is done: format, mode, file caps, storage, error policy, threads.

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
    ValueError
        A cap, ``workers``, ``batch_rows``, ``on_error``, ``max_errors`` or
        ``milvus_version`` is out of its domain (raised when the options are made).
    """

    format: Format = "parquet"
    mode: Mode = "error"
    max_rows_per_file: int | None = None
    max_bytes_per_file: int | None = DEFAULT_MAX_BYTES_PER_FILE
    milvus_version: str | tuple[int, ...] | None = None
    format_options: FormatOptions | None = None
    storage_options: dict[str, Any] | None = field(default=None, repr=False)  # may hold secrets
    filesystem: fsspec.AbstractFileSystem | None = None
    retry: RetryPolicy | None = None
    progress: ProgressLike = None
    batch_rows: int = DEFAULT_BATCH_ROWS
    check_duplicates: bool = True
    on_error: OnError = "raise"
    max_errors: int | None = None
    workers: int = DEFAULT_WORKERS

    def __post_init__(self) -> None:
        for name in ("max_rows_per_file", "max_bytes_per_file"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        for name in ("workers", "batch_rows"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {self.on_error!r}")
        if self.max_errors is not None and (
            not isinstance(self.max_errors, int) or isinstance(self.max_errors, bool) or self.max_errors < 0
        ):
            raise ValueError(f"max_errors must be a non-negative integer or None, got {self.max_errors!r}")
        parse_version(self.milvus_version)

    def replace(self, **keywords: Any) -> WriteOptions:
        """A copy with the given fields replaced (checked again).

        Raises
        ------
        TypeError
            A keyword is not a field of WriteOptions.
        """
        unknown = set(keywords) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown write option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **keywords) if keywords else self

    def format_options_for_version(self) -> FormatOptions:
        """``format_options`` with ``milvus_version`` applied."""
        options = self.format_options or FormatOptions()
        version = parse_version(self.milvus_version)
        if version is None:
            return options
        return dataclasses.replace(options, milvus_version=version)


class WriteKeywords(TypedDict, total=False):
    """The fields of :class:`WriteOptions` as keyword arguments (``**keywords``)."""

    format: Format
    mode: Mode
    max_rows_per_file: int | None
    max_bytes_per_file: int | None
    milvus_version: str | tuple[int, ...] | None
    format_options: FormatOptions | None
    storage_options: dict[str, Any] | None
    filesystem: fsspec.AbstractFileSystem | None
    retry: RetryPolicy | None
    progress: ProgressLike
    batch_rows: int
    check_duplicates: bool
    on_error: OnError
    max_errors: int | None
    workers: int
