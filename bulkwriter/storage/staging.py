"""Staged output: nothing a write produces is visible until commit, on disks and object stores.

The sequence, on any fsspec filesystem (local disks, S3 and S3-compatibles, GCS, Azure)::

    open      resolve the URL (storage.location); mode "error" refuses a destination with files
    stage     each object is uploaded whole, as soon as it is encoded, under
              <parent>/.bulkwriter-staging/<name>-<token>/        (retried per object)
    commit    1. overwrite: remove the old manifest (the old output stops being "committed")
              2. put every staged object in place:
                 local disks:   one rename per file (atomic)
                 object stores: fs.copy(list, list), then fs.rm(list) of the staged objects
                 (explicit lists: fs.mv(prefix, recursive=True) is broken on s3fs/adlfs/gcsfs)
              3. overwrite: remove what the old output left that the new one did not replace
              4. write the manifest ``_bulkwriter.json`` last: readers trust only what it lists
    abort     remove every staged object (and S3 multipart uploads pending under the
              staging prefix)

The staging folder sits beside the destination, never inside it, so an import of the
destination prefix cannot pick it up. Uploads use ``fs.pipe_file``, which makes an object
visible only once it is complete on every backend here (one PUT, or a multipart / resumable /
block upload that is committed at its end); filesystems without their own ``pipe_file`` are
written through ``open("wb")`` and, on error, the file is discarded and marked closed so a
partial object is never committed (gotcha 2 of the storage-emulator recipe).

A crash leaves only staged objects (and, on S3, pending multipart uploads, which are
invisible); the next ``mode="overwrite"`` write to the same destination removes them.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, BinaryIO, Literal, TypeVar

import fsspec
import orjson
from fsspec.asyn import AsyncFileSystem
from fsspec.implementations.local import LocalFileSystem

from bulkwriter.errors import BulkWriterError, CommitError, DestinationExistsError, StorageError
from bulkwriter.filedata import FileData, data_bytes, data_size, pieces
from bulkwriter.result import WrittenFile
from bulkwriter.storage.location import Location, resolve
from bulkwriter.storage.retry import RetryPolicy, call

__all__ = ["MANIFEST_NAME", "STAGING_DIR", "Mode", "StagedOutput", "read_manifest", "upload_bytes"]

#: File name of the manifest, written last at commit.
MANIFEST_NAME = "_bulkwriter.json"
#: Folder beside the destination that holds staged parts.
STAGING_DIR = ".bulkwriter-staging"
Mode = Literal["error", "overwrite", "append"]
_PART_RE = re.compile(r"^part-(\d+)")
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


def read_manifest(location: Location, retry: RetryPolicy | None = None) -> dict[str, Any]:
    """Read the manifest of a committed output at ``location``.

    Raises
    ------
    StorageError
        No manifest there (nothing committed), or it cannot be read or parsed; the message
        names the URL, never credentials.
    """
    path = location.join(MANIFEST_NAME)

    def read() -> dict[str, Any]:
        location.fs.invalidate_cache()
        data: dict[str, Any] = orjson.loads(location.fs.cat_file(path))
        return data

    try:
        return call(
            read,
            policy=retry or RetryPolicy(),
            url=location.uri,
            operation="read the manifest",
            redact=location.redact,
        )
    except StorageError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            raise StorageError(
                f"no committed output at {location.uri!r}: {MANIFEST_NAME} is missing"
            ) from exc
        raise
    except orjson.JSONDecodeError as exc:
        raise StorageError(f"cannot parse {location.uri_of(path)!r}: {exc}") from exc


class StagedOutput:
    """A destination folder whose new files stay invisible until :meth:`commit`.

    Parameters
    ----------
    path : str or os.PathLike
        Destination folder: a local path or any fsspec URL (``s3://bucket/prefix``, ...).
        On object stores it must be a prefix inside a bucket, not the bucket itself (the
        staging folder goes beside it).
    mode : {"error", "overwrite", "append"}
        ``"error"``: refuse a destination that already holds files (DestinationExistsError).
        ``"overwrite"``: replace what is there, but only once the new files are committed;
        also removes what crashed writes to this destination left in staging.
        ``"append"``: keep existing files; new parts get the next free numbers.
    storage_options : dict, optional
        Passed to fsspec, as in pandas and pyarrow.
    filesystem : fsspec.AbstractFileSystem, optional
        A filesystem instance to use instead of building one from the URL.
    retry : RetryPolicy, optional
        Retries of transient storage errors; default ``RetryPolicy()``.

    Raises
    ------
    DestinationExistsError
        ``mode="error"`` and the destination holds files.
    StorageError
        The destination cannot be read (no such bucket, access denied, unknown scheme, ...).
    MissingDependencyError
        The URL's backend is not installed.
    """

    def __init__(
        self,
        path: Any,
        *,
        mode: Mode = "error",
        storage_options: Mapping[str, Any] | None = None,
        filesystem: fsspec.AbstractFileSystem | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if mode not in ("error", "overwrite", "append"):
            raise ValueError(f"mode must be 'error', 'overwrite' or 'append', got {mode!r}")
        self.mode = mode
        self.location: Location = resolve(path, storage_options=storage_options, filesystem=filesystem)
        self.fs = self.location.fs
        self.root = self.location.root
        self.url = self.location.uri
        self.retry = retry or RetryPolicy()
        if self.location.has_buckets and "/" not in self.root.strip("/"):
            raise StorageError(
                f"{self.url!r} is a whole bucket: write to a prefix inside it, e.g. {self.url.rstrip('/')}/data "
                f"(the staging folder {STAGING_DIR}/ goes beside the destination)"
            )
        parent, name = posixpath.split(self.root)
        self._staging_parent = posixpath.join(parent, STAGING_DIR)
        self._prefix = f"{name}-"
        self.staging = posixpath.join(self._staging_parent, f"{name}-{uuid.uuid4().hex[:12]}")
        self._staged: list[str] = []  # part names, in order
        self._staged_files: list[str] = []  # paths relative to the staging folder
        self._failed: str | None = None
        self.old_manifest: dict[str, Any] | None = None
        existing: list[str] = self._call(self._list_root, "list the destination")
        if existing and mode == "error":
            raise DestinationExistsError(
                f"{self.url!r} already holds {len(existing)} entries; pass mode='overwrite' or mode='append'"
            )
        self._existing = existing
        if MANIFEST_NAME in existing:
            self.old_manifest = self._call(self._read_manifest, "read the manifest")

    def __repr__(self) -> str:
        return f"StagedOutput({self.url!r}, mode={self.mode!r})"

    def put_beside(self, suffix: str, data: bytes) -> str:
        """Store a report file next to the destination (``<root><suffix>``), with retries.

        Used for the rejects file: beside the destination, never inside it, so an import of
        the destination folder cannot pick it up. Returns its URI.
        """
        path = self.root.rstrip("/") + suffix
        self._call(lambda: upload_bytes(self.fs, path, data), f"write {posixpath.basename(path)}")
        return self.location.uri_of(path)

    # -- helpers ----------------------------------------------------------------------
    def _call(self, fn: Callable[[], T], operation: str, error: type[StorageError] = StorageError) -> T:
        return call(
            fn, policy=self.retry, url=self.url, operation=operation, redact=self.location.redact, error=error
        )

    def _list_root(self) -> list[str]:
        """Names directly under the root ([] when it does not exist); missing bucket: FileNotFoundError."""
        self.fs.invalidate_cache()
        try:
            entries = self.fs.ls(self.root, detail=True)
        except FileNotFoundError:
            if self.location.has_buckets:
                self._check_bucket()
            return []
        names = []
        for entry in entries:
            name = str(entry["name"]).rstrip("/")
            if name == self.root and entry.get("type") == "file":
                raise NotADirectoryError(f"{self.url} is a file, not a folder")
            names.append(posixpath.basename(name))
        return sorted(names)

    def _check_bucket(self) -> None:
        bucket = self.location.bucket or ""
        try:
            self.fs.info(bucket)
        except FileNotFoundError:
            raise FileNotFoundError(f"bucket or container {bucket!r} does not exist") from None
        except PermissionError:
            pass  # credentials may list and write objects without reading bucket metadata

    def _read_manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.fs.cat_file(posixpath.join(self.root, MANIFEST_NAME)))
        return data

    def _find(self, path: str) -> list[str]:
        self.fs.invalidate_cache()
        try:
            return [str(p) for p in self.fs.find(path)]
        except FileNotFoundError:
            return []

    # -- public -----------------------------------------------------------------------
    def next_part_index(self) -> int:
        """The first part number free in the destination (0 unless appending)."""
        if self.mode != "append":
            return 0
        numbers = [int(m.group(1)) for name in self._existing if (m := _PART_RE.match(name))]
        return max(numbers) + 1 if numbers else 0

    def final_path(self, name: str) -> str:
        """The path (on the filesystem) a part called ``name`` has once committed."""
        return posixpath.join(self.root, name)

    def written_file(self, name: str, inner: Iterable[str], rows: int, nbytes: int) -> WrittenFile:
        """Describe a part as :class:`~bulkwriter.result.WrittenFile`, in every path form.

        Parameters
        ----------
        name : str
            Part name (``part-00000.parquet``, or ``part-00000`` for a NumPy folder).
        inner : iterable of str
            File names inside a folder part; empty for a single file.
        rows, nbytes : int
            Rows and bytes of the part.
        """
        inner = list(inner)
        rel = [posixpath.join(name, i) for i in inner] if inner else [name]
        return self.location.written_file(name, rel, rows, nbytes)

    def stage(self, name: str, files: Iterable[tuple[str, FileData]]) -> None:
        """Upload one part (a file, or a folder of files) under the staging folder.

        Each object is uploaded whole as soon as it is given (memory: one object), retried
        as a whole on transient errors.

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
            The upload failed for good; everything staged so far is removed and this
            output can no longer be committed.
        """
        if self._failed is not None:
            raise StorageError(f"staging to {self.url!r} already failed: {self._failed}")
        for inner, data in files:
            rel = posixpath.join(name, inner) if inner else name
            path = posixpath.join(self.staging, rel)

            def put(path: str = path, data: FileData = data) -> None:
                if self.location.is_local:
                    self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
                upload_bytes(self.fs, path, data)

            try:
                self._call(put, f"upload {rel} ({data_size(data):,} bytes)")
            except StorageError as exc:
                self._failed = str(exc)
                self.abort()
                raise
            self._staged_files.append(rel)
        self._staged.append(name)

    @property
    def stages_locally(self) -> bool:
        """True when staged files go to a local disk (:meth:`stage_stream` can be used)."""
        return self.location.is_local

    def stage_stream(self, name: str, write: Callable[[BinaryIO], None]) -> int:
        """Stage a single-file part by letting ``write`` fill the staged file; return its size.

        Local destinations only (:attr:`stages_locally`): the file is opened in the staging
        folder and written as it is encoded, so the part is never held whole in memory.
        Staging ``name`` again replaces the file (how an over-cap file is rewritten shorter).
        A transient error of the disk (see :func:`~bulkwriter.storage.is_transient`) reopens
        the file and runs ``write`` again from the start, as :meth:`stage` retries a whole
        object; a permanent one removes everything staged, as :meth:`stage` does.

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
            Writing failed for good; everything staged so far is removed and this output can
            no longer be committed.
        Exception
            Whatever ``write`` raises that is not an ``OSError`` (an encoding error) propagates
            unchanged, without retries; the partial file stays in staging until
            :meth:`abort`.
        """
        if not self.stages_locally:
            raise StorageError(f"stage_stream writes local files only, not {self.url!r}")
        if self._failed is not None:
            raise StorageError(f"staging to {self.url!r} already failed: {self._failed}")
        path = posixpath.join(self.staging, name)

        def put() -> int:
            self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
            with self.fs.open(path, "wb") as sink:
                try:
                    write(sink)
                except OSError:
                    raise
                except Exception as exc:
                    raise _ProducerError(exc) from exc
                size: int = sink.tell()
            return size

        try:
            size = self._call(put, f"write {name}")
        except _ProducerError as exc:
            raise exc.error from None
        except StorageError as exc:
            self._failed = str(exc)
            self.abort()
            raise
        if name not in self._staged:
            self._staged_files.append(name)
            self._staged.append(name)
        return size

    def commit(self, manifest: dict[str, Any]) -> None:
        """Put staged parts in place, then write ``manifest`` last (see the module docstring).

        Raises
        ------
        CommitError
            Staging had failed, or a copy, move or the manifest write failed; what was put
            in place is removed again where possible, staged objects are removed, and no
            manifest is written.
        """
        if self._failed is not None:
            raise CommitError(f"cannot commit to {self.url!r}: staging failed earlier: {self._failed}")
        manifest_path = posixpath.join(self.root, MANIFEST_NAME)
        placed: list[str] = []
        try:
            if self.mode == "overwrite" and MANIFEST_NAME in self._existing:
                self._call(lambda: self._rm([manifest_path]), "remove the old manifest", CommitError)
            self._clear_targets()
            placed = self._place_staged()
            if self.mode == "overwrite":
                keep = set(self._staged)
                old = [self.final_path(n) for n in self._existing if n not in keep and n != MANIFEST_NAME]
                if old:
                    self._call(lambda: self._rm(old, recursive=True), "remove old files", CommitError)
            body = orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
            self._call(lambda: self._write_manifest(manifest_path, body), "write the manifest", CommitError)
        except CommitError as exc:
            self._rollback(placed)
            raise CommitError(
                f"commit to {self.url!r} failed, nothing of this write was made visible: {exc}"
            ) from exc
        self._remove_staging(cleanup_stale=self.mode == "overwrite")

    def _clear_targets(self) -> None:
        """Overwrite: remove finals about to be replaced; append: refuse to replace anything."""
        self.fs.invalidate_cache()
        targets = [self.final_path(n) for n in self._staged]
        clashing = [t for t in targets if posixpath.basename(t) in self._existing]
        if not clashing:
            return
        if self.mode == "append":
            raise CommitError(f"{self.location.uri_of(clashing[0])} exists; append never replaces files")
        self._call(lambda: self._rm(clashing, recursive=True), "remove replaced files", CommitError)

    def _place_staged(self) -> list[str]:
        srcs = [posixpath.join(self.staging, rel) for rel in self._staged_files]
        dsts = [posixpath.join(self.root, rel) for rel in self._staged_files]
        if not srcs:
            return []
        if self.location.is_local:
            placed: list[str] = []
            for src, dst in zip(srcs, dsts, strict=True):
                self._call(partial(self._rename, src, dst), f"move {posixpath.basename(dst)}", CommitError)
                placed.append(dst)
            return placed
        self._call(
            lambda: self.fs.copy(srcs, dsts), f"copy {len(srcs)} staged objects into place", CommitError
        )
        return dsts

    def _rename(self, src: str, dst: str) -> None:
        self.fs.makedirs(posixpath.dirname(dst), exist_ok=True)
        self.fs.mv(src, dst)

    def _write_manifest(self, manifest_path: str, body: bytes) -> None:
        if self.location.is_local:  # write beside, then rename: never a half-written manifest
            staged = posixpath.join(self.staging, MANIFEST_NAME)
            self.fs.makedirs(self.staging, exist_ok=True)
            self.fs.makedirs(self.root, exist_ok=True)  # an empty write has placed nothing yet
            self.fs.pipe_file(staged, body)
            self.fs.mv(staged, manifest_path)
        else:  # one PUT: visible only when complete
            upload_bytes(self.fs, manifest_path, body)

    def _rm(self, paths: list[str], *, recursive: bool = False) -> None:
        """Remove ``paths``; ones already gone count as removed (so a retry is harmless)."""
        self.fs.invalidate_cache()
        present = [p for p in paths if self.fs.exists(p)]
        if present:
            self.fs.rm(present, recursive=recursive)
        self.fs.invalidate_cache()

    def _rollback(self, placed: list[str]) -> None:
        with contextlib.suppress(Exception):
            if placed:
                self._rm(placed, recursive=True)
        self.abort()

    def abort(self) -> None:
        """Remove every staged object. Safe to call more than once; never raises."""
        self._remove_staging(cleanup_stale=False)
        self._staged = []
        self._staged_files = []

    def _remove_staging(self, *, cleanup_stale: bool) -> None:
        """Remove this write's staging folder; with ``cleanup_stale``, also older writes' ones."""
        with contextlib.suppress(Exception):  # best effort: leftovers are invisible
            if cleanup_stale:
                leftovers = [
                    p
                    for p in self._find(self._staging_parent)
                    if posixpath.relpath(p, self._staging_parent).startswith(self._prefix)
                ]
                self._abort_uploads(posixpath.join(self._staging_parent, self._prefix))
            else:
                leftovers = self._find(self.staging)
                self._abort_uploads(self.staging + "/")
            if leftovers:
                self._call(lambda: self._rm(leftovers), "remove staged objects")
            if self.location.is_local:
                for folder in (self.staging, self._staging_parent):
                    if self.fs.exists(folder) and not self._find(folder):
                        self.fs.rm(folder, recursive=True)

    def _abort_uploads(self, prefix: str) -> None:
        """S3: abort multipart uploads pending under ``prefix`` (left by failed or killed writes)."""
        list_uploads = getattr(self.fs, "list_multipart_uploads", None)
        abort_mpu = getattr(self.fs, "abort_mpu", None)
        bucket = self.location.bucket
        if list_uploads is None or abort_mpu is None or bucket is None:
            return
        key_prefix = self.location.key_of(prefix.rstrip("/")) + ("/" if prefix.endswith("/") else "")
        for upload in list_uploads(bucket) or []:
            key = str(upload.get("Key", ""))
            if key.startswith(key_prefix):
                with contextlib.suppress(Exception):
                    abort_mpu(bucket, key, upload["UploadId"])
