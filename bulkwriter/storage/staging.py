"""Staging: files a write produces go into its write folder, invisible until the commit publishes them.

A :class:`Stager` writes the files of one writer (a shard) of a write into
``<parent>/.bulkwriter-staging/<name>/<write id>/shards/<shard>/``, beside the destination
and never inside it, so an import of the destination cannot pick them up. Each file is
uploaded whole, as soon as it is given, with retries (:mod:`bulkwriter.storage.retry`), and
described by a :class:`StagedPart`. A stager is a small picklable value: a
:class:`~bulkwriter.storage.transaction.Transaction` can hand stagers to threads, processes
or engine tasks and commit all their parts with one manifest.

Uploads use ``fs.pipe_file``, which makes an object visible only once it is complete on
every backend here (one PUT, or a multipart / resumable / block upload committed at its
end); filesystems without their own ``pipe_file`` are written through ``open("wb")`` and,
on error, the file is discarded and marked closed so a partial object is never committed
(gotcha 2 of the storage-emulator recipe). Local disks can also be written as a file is
encoded (:meth:`Stager.stage_stream`).
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

import fsspec
from fsspec.asyn import AsyncFileSystem
from fsspec.implementations.local import LocalFileSystem

from bulkwriter.errors import BulkWriterError, StorageError
from bulkwriter.filedata import FileData, data_bytes, data_size, pieces
from bulkwriter.storage.layout import check_shard
from bulkwriter.storage.location import Location
from bulkwriter.storage.retry import RetryPolicy, call

__all__ = ["StagedPart", "Stager", "upload_bytes"]

T = TypeVar("T")


def _has_own_pipe_file(fs: fsspec.AbstractFileSystem) -> bool:
    """True when ``fs`` implements ``pipe_file`` itself (not the open/write/close default)."""
    cls = type(fs)
    if isinstance(fs, AsyncFileSystem):
        return getattr(cls, "_pipe_file", None) is not getattr(AsyncFileSystem, "_pipe_file", None)
    return getattr(cls, "pipe_file", None) is not getattr(fsspec.AbstractFileSystem, "pipe_file", None)


class _ProducerError(BulkWriterError):
    """Carries an error the file's producer raised (not its sink) through the retry loop."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def upload_bytes(fs: fsspec.AbstractFileSystem, path: str, data: FileData) -> None:
    """Store ``data`` as the object ``path`` so that it becomes visible only when complete.

    ``data`` is ``bytes`` or a tuple of pieces (``bulkwriter.filedata.FileData``). Local
    disks write the pieces in turn (no joined copy); object stores get one ``pipe_file`` of
    the joined bytes where the backend has its own (s3fs, gcsfs, adlfs, memory).
    Otherwise the file is opened and written, and on error ``discard()`` is called (best
    effort) and ``closed`` set so fsspec never commits the partial object, then re-raised.
    """
    if isinstance(fs, LocalFileSystem):
        # a partial file can only ever sit in staging, and a retry rewrites it whole
        fs.makedirs(posixpath.dirname(path), exist_ok=True)
        if isinstance(data, bytes):
            fs.pipe_file(path, data)
        else:
            with fs.open(path, "wb") as local:
                for piece in data:
                    local.write(piece)
        return
    if _has_own_pipe_file(fs):
        fs.pipe_file(path, data_bytes(data))
        return
    f = fs.open(path, "wb")
    try:
        for piece in pieces(data):
            f.write(piece)
    except BaseException:
        with contextlib.suppress(Exception):
            f.discard()
        with contextlib.suppress(Exception):
            f.closed = True
        raise
    f.close()


@dataclass(frozen=True)
class StagedPart:
    """One staged part (a file, or a folder of files), ready to be committed.

    Attributes
    ----------
    shard : str
        The stager that staged it.
    name : str
        Its name inside the shard's folder (``part-00003.parquet``, ``part-00003``).
    suffix : str
        The suffix its committed name gets (``".parquet"``), ``""`` for a folder part.
    files : tuple of str
        File names inside a folder part (``("id.npy", "vec.npy")``); ``()`` for a file.
    rows : int
        Rows it holds.
    bytes : int
        Bytes on storage (a folder: the sum of its files).
    """

    shard: str
    name: str
    suffix: str
    files: tuple[str, ...]
    rows: int
    bytes: int

    def staged_paths(self) -> list[str]:
        """Its files' paths relative to the shard folder."""
        if not self.files:
            return [self.name]
        return [posixpath.join(self.name, f) for f in self.files]


@dataclass
class Stager:
    """Stages the files of one writer of a write (see the module docstring).

    Get one from :meth:`Transaction.stager() <bulkwriter.storage.transaction.Transaction.stager>`.
    Picklable: send it to another thread, process or engine task, stage there, and hand
    the returned :class:`StagedPart` values back to the transaction's ``commit``.

    Attributes
    ----------
    location : Location
        The destination (its filesystem and URL).
    folder : str
        The shard's folder in the staging area.
    shard : str
        The shard's name.
    retry : RetryPolicy
        Retries of each upload.
    """

    location: Location
    folder: str
    shard: str
    retry: RetryPolicy

    def __post_init__(self) -> None:
        check_shard(self.shard)

    @property
    def stages_locally(self) -> bool:
        """True when staged files go to a local disk (:meth:`stage_stream` can be used)."""
        return self.location.is_local

    def _call(self, fn: Callable[[], T], operation: str) -> T:
        loc = self.location
        return call(fn, policy=self.retry, url=loc.uri, operation=operation, redact=loc.redact)

    def stage(self, name: str, files: Iterable[tuple[str, FileData]]) -> None:
        """Upload one part (a file, or a folder of files) into the shard's folder.

        Each object is uploaded whole as soon as it is given (memory: one object), retried
        as a whole on transient errors. Staging ``name`` again replaces it.

        Parameters
        ----------
        name : str
            Part name, e.g. ``part-00000.parquet`` or ``part-00000`` (NumPy folder).
        files : iterable of (str, FileData)
            ``("", data)`` for a single file; ``(file name, data)`` pairs for a folder;
            ``data`` is ``bytes`` or pieces written one after another.

        Raises
        ------
        StorageError
            The upload failed for good.
        """
        for inner, data in files:
            rel = posixpath.join(name, inner) if inner else name
            path = posixpath.join(self.folder, rel)
            fs = self.location.fs
            self._call(_uploader(fs, path, data), f"upload {rel} ({data_size(data):,} bytes)")

    def stage_stream(self, name: str, write: Callable[[BinaryIO], None]) -> int:
        """Stage a single-file part by letting ``write`` fill the staged file; return its size.

        Local destinations only (:attr:`stages_locally`): the file is opened in the staging
        folder and written as it is encoded, so the part is never held whole in memory.
        Staging ``name`` again replaces the file (how an over-cap file is rewritten shorter).
        A transient error of the disk reopens the file and runs ``write`` again from the
        start, as :meth:`stage` retries a whole object.

        Parameters
        ----------
        name : str
            Part name, e.g. ``part-00000.parquet``.
        write : callable
            ``write(sink)`` writes the whole file to the binary file object ``sink``; it may
            be called more than once (each call must write the same bytes).

        Returns
        -------
        int
            The size of the staged file, bytes.

        Raises
        ------
        StorageError
            Writing failed for good.
        Exception
            Whatever ``write`` raises that is not an ``OSError`` (an encoding error)
            propagates unchanged, without retries.
        """
        if not self.stages_locally:
            raise StorageError(f"stage_stream writes local files only, not {self.location.uri!r}")
        path = posixpath.join(self.folder, name)
        fs = self.location.fs

        def put() -> int:
            fs.makedirs(posixpath.dirname(path), exist_ok=True)
            with fs.open(path, "wb") as sink:
                try:
                    write(sink)
                except OSError:
                    raise
                except Exception as exc:
                    raise _ProducerError(exc) from exc
                size: int = sink.tell()
            return size

        try:
            return self._call(put, f"write {name}")
        except _ProducerError as exc:
            raise exc.error from None

    def part(self, name: str, *, suffix: str, files: Iterable[str], rows: int, nbytes: int) -> StagedPart:
        """Describe the staged part ``name`` for the commit.

        Parameters
        ----------
        name : str
            As given to :meth:`stage` or :meth:`stage_stream`.
        suffix : str
            Suffix of the committed name (``".parquet"``); ``""`` for a folder part.
        files : iterable of str
            File names inside a folder part; empty for a single file.
        rows, nbytes : int
            Rows and bytes of the part.
        """
        return StagedPart(self.shard, name, suffix, tuple(files), rows, nbytes)


def _uploader(fs: fsspec.AbstractFileSystem, path: str, data: FileData) -> Callable[[], None]:
    """A call that uploads ``data`` to ``path`` (:func:`upload_bytes`), for the retry loop."""

    def put() -> None:
        upload_bytes(fs, path, data)

    return put
