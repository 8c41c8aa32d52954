"""A write to one destination: open, stage from any number of writers, then commit or abort.

::

    txn = Transaction("s3://bucket/out", spec=spec, mode="append")    # lock, checks
    stager = txn.stager("0")                                          # picklable; one per writer
    stager.stage("part-00000.parquet", [("", data)])                  # in any thread or process
    part = stager.part("part-00000.parquet", suffix=".parquet", files=(), rows=n, nbytes=len(data))
    manifest = txn.commit([part, ...])                                 # one manifest for all
    # or txn.abort()

:class:`~bulkwriter.Writer` is one writer on top of this; engines (Ray, Spark) hand a
stager to each task and commit the parts their tasks return. What each step makes visible,
and what each failure leaves, is the protocol in :mod:`bulkwriter.storage`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar

import fsspec

from bulkwriter import __version__
from bulkwriter.errors import (
    AppendMismatchError,
    BulkWriterError,
    CleanupError,
    CommitError,
    ConcurrentWriteError,
    DestinationExistsError,
    StorageError,
    UncleanDestinationError,
    WriterClosedError,
)
from bulkwriter.storage import conditional
from bulkwriter.storage.journal import Journal, Method
from bulkwriter.storage.layout import STAGING_DIR, new_write_id, part_name
from bulkwriter.storage.location import Location, RedactedCause, resolve
from bulkwriter.storage.lock import WriterLock
from bulkwriter.storage.manifest import Manifest, ManifestFile, OutputSpec
from bulkwriter.storage.publish import LocalPublisher, Move, Publisher, Steps, StorePublisher
from bulkwriter.storage.recovery import (
    DestinationState,
    check_root,
    few,
    layout_of,
    remove_empty_area,
    remove_tree,
    scan,
)
from bulkwriter.storage.retry import RetryPolicy, call
from bulkwriter.storage.staging import StagedPart, Stager, upload_bytes

__all__ = ["Mode", "Transaction"]

logger = logging.getLogger("bulkwriter.storage")
Mode = Literal["error", "overwrite", "append"]
T = TypeVar("T")


class Transaction:
    """One write to a destination folder; nothing of it is visible until :meth:`commit`.

    Parameters
    ----------
    path : str or os.PathLike
        Destination folder: a local path or any fsspec URL (``s3://bucket/prefix``, ...).
        On object stores a prefix inside a bucket, not the bucket itself (the staging area
        goes beside it). A local path that is a symbolic link is resolved first.
    spec : OutputSpec
        Format, collection, schema and import options of the files this write commits.
    mode : {"error", "overwrite", "append"}, default "error"
        ``"error"``: refuse a destination that holds any file (DestinationExistsError).
        ``"overwrite"``: replace a bulkwriter output (or a destination holding only what a
        failed bulkwriter write left); the old output goes only once the new one is
        committed. A folder with files and no bulkwriter manifest is refused.
        ``"append"``: add files to the output, which must have the same format, schema
        and import options (AppendMismatchError) and no orphans (UncleanDestinationError).
    storage_options : dict, optional
        Passed to fsspec, as in pandas and pyarrow.
    filesystem : fsspec.AbstractFileSystem, optional
        A filesystem instance to use instead of building one from the URL.
    retry : RetryPolicy, optional
        Retries of transient storage errors; default ``RetryPolicy()``.

    Raises
    ------
    ConcurrentWriteError
        Another writer has the destination open (its lock).
    DestinationExistsError
        ``mode="error"`` and the destination holds files; ``mode="overwrite"`` or
        ``"append"`` and it holds files but no bulkwriter manifest.
    UncleanDestinationError
        It holds files its manifest does not list, or an interrupted commit's state
        (``bulkwriter clean`` puts it right; ``mode="overwrite"`` replaces it).
    AppendMismatchError
        ``mode="append"`` with another format, schema or import options.
    StorageError
        The destination cannot be read or locked (no such bucket, access denied, ...).
    """

    def __init__(
        self,
        path: Any,
        *,
        spec: OutputSpec,
        mode: Mode = "error",
        storage_options: Mapping[str, Any] | None = None,
        filesystem: fsspec.AbstractFileSystem | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if mode not in ("error", "overwrite", "append"):
            raise ValueError(f"mode must be 'error', 'overwrite' or 'append', got {mode!r}")
        self.mode: Mode = mode
        self.spec = spec
        self.retry = retry or RetryPolicy()
        location = resolve(path, storage_options=storage_options, filesystem=filesystem)
        if location.is_local and os.path.islink(location.root):
            location = Location(
                location.fs, os.path.realpath(location.root), location.scheme, location.redact
            )
        if location.has_buckets and "/" not in location.root.strip("/"):
            raise StorageError(
                f"{location.uri!r} is a whole bucket: write to a prefix inside it, e.g. "
                f"{location.uri.rstrip('/')}/data (the staging folder {STAGING_DIR}/ goes beside the destination)"
            )
        self.layout = layout_of(location)
        self.location = location
        self.url = location.uri
        self.write_id = new_write_id()
        self.state: Literal["open", "committed", "aborted"] = "open"
        self._call(lambda: check_root(location), "list the destination")  # no bucket, a file: say so first
        self._lock = WriterLock.acquire(location, self.layout.lock, self.write_id, retry=self.retry)
        try:
            found = scan(location, self.layout, self.retry, check=False, lock=False)
            self._check_destination(found)
            self.base: Manifest | None = found.manifest
            self._base_token = found.manifest_token
            self._superseded = [w.write_id for w in found.leftovers if w.touches_output]
            stale = [w.write_id for w in found.leftovers if not w.touches_output]
            self._remove_write_folders(stale)
            _abort_uploads(location, self.layout.area + "/")  # we hold the lock: all pending are stale
        except BaseException:
            self._lock.release()
            remove_empty_area(location, self.layout)
            raise

    def __repr__(self) -> str:
        return f"Transaction({self.url!r}, mode={self.mode!r}, write_id={self.write_id!r}, {self.state})"

    # -- opening ----------------------------------------------------------------------------
    def _check_destination(self, found: DestinationState) -> None:
        """Refuse what ``mode`` may not write over (see the class docstring)."""
        uri = self.url
        hint = f"; `bulkwriter clean {uri}` removes what failed writes left"
        unfinished = [w for w in found.leftovers if w.touches_output]
        if self.mode == "error":
            if found.files:
                raise DestinationExistsError(
                    f"{uri!r} already holds {len(found.files)} file(s) ({few(found.files)}); "
                    "pass mode='overwrite' or mode='append'"
                    + (hint if found.orphans and found.manifest is None and not found.foreign else "")
                )
        elif self.mode == "overwrite":
            if found.manifest is None and found.foreign:
                raise DestinationExistsError(
                    f"{uri!r} holds {len(found.foreign)} file(s) and no bulkwriter manifest "
                    f"({few(found.foreign)}): it is not a bulkwriter output, and overwrite replaces only "
                    "bulkwriter output; choose another destination or remove the files yourself"
                )
            return
        else:  # append
            if found.manifest is None and found.foreign:
                raise DestinationExistsError(
                    f"{uri!r} holds {len(found.foreign)} file(s) and no bulkwriter manifest "
                    f"({few(found.foreign)}): it is not a bulkwriter output to append to"
                )
            if found.manifest is not None:
                differences = found.manifest.spec.differences(self.spec)
                if differences:
                    raise AppendMismatchError(
                        f"cannot append to {uri!r}: this write differs from the output there:\n  "
                        + "\n  ".join(differences),
                        differences,
                    )
            if found.orphans:
                orphans = [self.location.uri_of(self.location.join(p)) for p in found.orphans]
                raise UncleanDestinationError(
                    f"{uri!r} holds {len(orphans)} file(s) its manifest does not list ({few(found.orphans)}); "
                    "an import of the folder would read them, and an append would hide them"
                    + hint
                    + ", or write with mode='overwrite'",
                    orphans,
                )
        if unfinished:
            raise UncleanDestinationError(
                f"an interrupted commit of {uri!r} (write {unfinished[0].write_id}) must be put right first"
                + hint
                + ", or write with mode='overwrite'",
                [self.location.uri_of(self.layout.write_dir(w.write_id)) for w in unfinished],
            )

    # -- staging ----------------------------------------------------------------------------
    def stager(self, shard: str = "0") -> Stager:
        """A :class:`Stager` for one writer of this write (picklable).

        Parameters
        ----------
        shard : str, default "0"
            The writer's name, unique within this write (1-64 of ``A-Z a-z 0-9 _ . -``):
            each shard stages into its own folder.
        """
        self._require_open()
        return Stager(self.location, self.layout.shard_dir(self.write_id, shard), shard, self.retry)

    def put_beside(self, suffix: str, data: bytes) -> str:
        """Store a report file next to the destination (``<destination><suffix>``); return its URL.

        Used for the rejects file: beside the destination, never inside it, so an import of
        the destination folder cannot pick it up.
        """
        path = self.layout.root.rstrip("/") + suffix
        fs = self.location.fs
        self._call(lambda: upload_bytes(fs, path, data), f"write {posixpath.basename(path)}")
        return self.location.uri_of(path)

    # -- committing ---------------------------------------------------------------------------
    def next_index(self) -> int:
        """The index the first part of this write gets in its committed name."""
        if self.mode == "append" and self.base is not None:
            return self.base.next_index()
        return 0

    def commit(self, parts: Sequence[StagedPart]) -> Manifest:
        """Publish ``parts`` (from any of this write's stagers) with one manifest, atomically.

        Parts get the committed names ``part-<index>-<write id><suffix>`` in the order
        given. Returns the new manifest; this write's files are its last ``len(parts)``.

        Raises
        ------
        ConcurrentWriteError
            This write lost its lock, or another writer committed meanwhile; nothing of this
            write is visible.
        CommitError
            A step failed; nothing of this write is visible (the message says so, or says
            what could not be undone and that ``bulkwriter clean`` removes it).
        CleanupError
            The write was committed, but files of the previous output could not be removed.
        WriterClosedError
            Already committed or aborted.
        """
        self._require_open()
        manifest, moves = self._plan(parts)
        publisher = self._publisher(manifest, moves)
        journal = Journal.new(
            self.write_id,
            publisher.method,
            places=tuple(m.final for m in moves),
            removes=tuple(self.layout.relative(p) for p in getattr(publisher, "removes", [])),
            base_write_id=None if self.base is None else self.base.write_id,
        )
        fs = self.location.fs
        try:
            path = self.layout.journal(self.write_id)
            body = journal.to_bytes()
            self._call(lambda: upload_bytes(fs, path, body), "write the commit journal", CommitError)
            publisher.publish()
        except BaseException as exc:
            left = [] if publisher.committed else self._rollback(publisher)
            if not publisher.committed:
                self._fail(publisher, exc, left)
            done = self._after_commit(publisher, manifest)  # the manifest write had landed after all
            if not isinstance(exc, Exception):
                raise
            return done
        return self._after_commit(publisher, manifest)

    def _plan(self, parts: Sequence[StagedPart]) -> tuple[Manifest, list[Move]]:
        seen: set[tuple[str, str]] = set()
        files: list[ManifestFile] = []
        moves: list[Move] = []
        for i, part in enumerate(parts, start=self.next_index()):
            key = (part.shard, part.name)
            if key in seen:
                raise ValueError(f"part {part.name!r} of shard {part.shard!r} was given twice")
            seen.add(key)
            final = part_name(i, self.write_id, part.suffix)
            imports = tuple(posixpath.join(final, f) for f in part.files) if part.files else (final,)
            files.append(ManifestFile(final, part.rows, part.bytes, imports, self.write_id))
            src = posixpath.join(self.layout.shard_dir(self.write_id, part.shard), part.name)
            moves.append(Move(src, final, part.files))
        base = self.base
        if self.mode == "append" and base is not None:
            manifest = base.extended(files, write_id=self.write_id, bulkwriter_version=__version__)
        else:
            version = (base.version if base is not None else 0) + 1
            manifest = Manifest(self.spec, tuple(files), self.write_id, version, __version__)
        return manifest, moves

    def _publisher(self, manifest: Manifest, moves: list[Move]) -> Publisher:
        steps = Steps(self.location, self.layout, self.write_id, self.retry, self._verify, manifest)
        if self.location.is_local:
            method: Method
            if self.mode == "append" and self.base is not None:
                method = "files"
            elif self.mode == "overwrite":
                method = "exchange"
            else:
                method = "rename"
            return LocalPublisher(steps, method, moves)
        removes: list[str] = []
        if self.mode == "overwrite":
            manifest_path = self.layout.manifest
            removes = [p for p in steps.files_under(self.layout.root) if p != manifest_path]
        if self.base is None:
            expect: str | None = conditional.ABSENT
        else:
            expect = self._base_token
        return StorePublisher(steps, moves, removes, expect)

    def _verify(self) -> None:
        """Before the commit point: the lock is ours and the manifest is the one we opened on."""
        self._lock.check()
        uri = self.url

        def read() -> tuple[str, int] | None:
            try:
                data, _ = conditional.read(self.location.fs, self.layout.manifest)
            except FileNotFoundError:
                return None
            now = Manifest.from_bytes(data, uri)
            return now.write_id, now.version

        now = self._call(read, "read the manifest", CommitError)
        expected = None if self.base is None else (self.base.write_id, self.base.version)
        if now != expected:
            found = "no manifest" if now is None else f"the manifest of write {now[0]} (version {now[1]})"
            raise ConcurrentWriteError(
                f"another writer committed to {uri!r} while this write was open: it now holds {found}; "
                "nothing of this write was made visible"
            )

    def _after_commit(self, publisher: Publisher, manifest: Manifest) -> Manifest:
        """The commit point has passed: remove the old output's leftovers, staging, the lock."""
        self.state = "committed"
        left = publisher.finish()
        if not left:
            self._remove_write_folders([self.write_id, *self._superseded])
        self._lock.release()
        remove_empty_area(self.location, self.layout)
        if left:
            uris = [self.location.uri_of(p) for p in left]
            raise CleanupError(
                f"the write to {self.url!r} was committed, but {len(left)} file(s) of the previous output "
                f"could not be removed ({few([self.layout.relative(p) for p in left])}); they are not in the "
                f"manifest, but an import of the folder would read them: run `bulkwriter clean {self.url}`",
                uris,
                manifest,
            )
        return manifest

    @staticmethod
    def _rollback(publisher: Publisher) -> list[str]:
        """Undo the publisher's steps; what it could not undo (``["(unknown)"]`` if it crashed)."""
        try:
            return publisher.rollback()
        except Exception:
            logger.exception("rollback of a failed commit failed")
            return ["(unknown)"]

    def _fail(self, publisher: Publisher, exc: BaseException, left: list[str]) -> None:
        """Finish a commit that stopped before its commit point, and raise what happened."""
        self.state = "aborted"
        if not left:
            self._remove_write_folders([self.write_id])
        self._lock.release()
        remove_empty_area(self.location, self.layout)
        if not isinstance(exc, Exception):
            raise exc
        if publisher.uncertain:
            text = (
                f"commit to {self.url!r} failed and its outcome is unknown (the manifest could not be read "
                f"back): run `bulkwriter inspect {self.url}`; `bulkwriter clean` finishes or undoes it: {exc}"
            )
        elif left:
            text = (
                f"commit to {self.url!r} failed and could not be fully undone: {len(left)} file(s) of write "
                f"{self.write_id} are under the destination, not listed by its manifest (an import of the "
                f"folder would read them): run `bulkwriter clean {self.url}`: {exc}"
            )
        else:
            text = f"commit to {self.url!r} failed, nothing of this write was made visible: {exc}"
        error = ConcurrentWriteError if isinstance(exc, ConcurrentWriteError) else CommitError
        failure = error(self.location.redact(text), url=self.url, operation="commit")
        # our own errors are already free of secrets; anything else is chained redacted
        cause = exc if isinstance(exc, BulkWriterError) else RedactedCause.of(exc, self.location.redact)
        raise failure from cause

    # -- ending -----------------------------------------------------------------------------
    def abort(self) -> None:
        """Drop everything staged and release the lock; the destination stays as it was.

        Safe to call more than once, and after a failed commit; never raises.
        """
        if self.state != "open":
            return
        self.state = "aborted"
        with contextlib.suppress(Exception):
            self._remove_write_folders([self.write_id])
        self._lock.release()
        with contextlib.suppress(Exception):
            remove_empty_area(self.location, self.layout)

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()  # a transaction is committed explicitly; leaving the block drops the rest

    # -- helpers ----------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self.state != "open":
            raise WriterClosedError(f"this write to {self.url!r} was already {self.state}")

    def _call(self, fn: Callable[[], T], operation: str, error: type[StorageError] = StorageError) -> T:
        loc = self.location
        return call(fn, policy=self.retry, url=loc.uri, operation=operation, redact=loc.redact, error=error)

    def _remove_write_folders(self, write_ids: Sequence[str]) -> None:
        """Remove these writes' folders from the staging area (best effort; logged, never raised)."""
        for write_id in write_ids:
            folder = self.layout.write_dir(write_id)

            def rm(folder: str = folder) -> None:
                remove_tree(self.location, folder)
                _abort_uploads(self.location, folder + "/")

            try:
                call(
                    rm,
                    policy=self.retry,
                    url=self.url,
                    operation=f"remove the staging of write {write_id}",
                    redact=self.location.redact,
                    idempotent=True,
                )
            except BulkWriterError as exc:
                logger.warning("%s (invisible to imports; the next writer or clean removes it)", exc)


def _abort_uploads(location: Location, prefix: str) -> None:
    """S3: abort multipart uploads pending under ``prefix`` (left by failed or killed uploads)."""
    fs = location.fs
    list_uploads = getattr(fs, "list_multipart_uploads", None)
    abort_mpu = getattr(fs, "abort_mpu", None)
    bucket = location.bucket
    if list_uploads is None or abort_mpu is None or bucket is None:
        return
    key_prefix = location.key_of(prefix.rstrip("/")) + "/"
    for upload in list_uploads(bucket) or []:
        key = str(upload.get("Key", ""))
        if key.startswith(key_prefix):
            with contextlib.suppress(Exception):
                abort_mpu(bucket, key, upload["UploadId"])
