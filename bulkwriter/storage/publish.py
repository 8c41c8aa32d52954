"""Publishing a write's staged parts: the steps of each commit method, and how each is undone.

The protocol these steps implement is drawn in :mod:`bulkwriter.storage`. A publisher runs
its steps up to and including the commit point in :meth:`publish` (after which the output
is the new one), undoes them in :meth:`rollback` when a step before the commit point
failed, and removes what the old output left in :meth:`finish`. Every step is one storage
call through the retry policy; undo steps are idempotent and retried whatever the error.
"""

from __future__ import annotations

import errno
import logging
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from bulkwriter.errors import BulkWriterError, CommitError, ConcurrentWriteError
from bulkwriter.storage import conditional, posix, retry
from bulkwriter.storage.journal import Method
from bulkwriter.storage.layout import MANIFEST_NAME, Layout
from bulkwriter.storage.location import Location
from bulkwriter.storage.manifest import Manifest
from bulkwriter.storage.retry import RetryPolicy, call

__all__ = ["LocalPublisher", "Move", "Publisher", "Steps", "StorePublisher"]

logger = logging.getLogger("bulkwriter.storage")
T = TypeVar("T")


@dataclass(frozen=True)
class Move:
    """One staged part and its committed place.

    Attributes
    ----------
    src : str
        The staged file or folder (a path on the filesystem).
    final : str
        Its committed name, relative to the destination.
    files : tuple of str
        File names inside a folder part; ``()`` for a single file.
    """

    src: str
    final: str
    files: tuple[str, ...]


@dataclass
class Steps:
    """What every publisher needs: where, which write, how to call storage, and the checks.

    Attributes
    ----------
    location : Location
        The destination.
    layout : Layout
        Its paths.
    write_id : str
        The write being published.
    retry : RetryPolicy
        Retries of each step.
    verify : callable
        Raises :class:`~bulkwriter.errors.ConcurrentWriteError` unless this write still holds
        the lock and the manifest is the one it opened on; run just before the commit point.
    manifest : Manifest
        The manifest to publish.
    """

    location: Location
    layout: Layout
    write_id: str
    retry: RetryPolicy
    verify: Callable[[], None]
    manifest: Manifest

    def call(self, fn: Callable[[], T], operation: str, *, idempotent: bool = False) -> T:
        """Run one storage step; errors become :class:`CommitError` naming the step."""
        loc = self.location
        return call(
            fn,
            policy=self.retry,
            url=loc.uri,
            operation=operation,
            redact=loc.redact,
            error=CommitError,
            idempotent=idempotent,
        )

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists (fresh, no listing cache)."""
        fs = self.location.fs
        fs.invalidate_cache()
        return bool(fs.exists(path))

    def files_under(self, path: str) -> list[str]:
        """Every file under ``path`` (fresh), as paths on the filesystem."""
        fs = self.location.fs
        fs.invalidate_cache()
        try:
            found: Any = fs.find(path)
        except FileNotFoundError:
            return []
        return [str(p) for p in found]

    def remove(self, paths: list[str], operation: str) -> list[str]:
        """Remove ``paths`` (files or folders) that exist; return those still there after retries."""
        fs = self.location.fs

        def rm() -> None:
            present = [p for p in paths if self.exists(p)]
            if present:
                fs.rm(present, recursive=True)
            fs.invalidate_cache()

        try:
            self.call(rm, operation, idempotent=True)
        except BulkWriterError:
            try:
                return [p for p in paths if self.exists(p)]
            except Exception:  # noqa: BLE001 - the store is gone: all may be left
                return list(paths)
        return []


class LocalPublisher:
    """Local disks: the new output appears by renames (``rename``, ``exchange``, ``swap``, ``files``).

    ``rename``: the parts are renamed into ``<write>/out/`` with the manifest, then that
    folder is renamed to the destination (new destination; an empty folder there is
    exchanged). ``exchange``: the same, then one atomic exchange with the old output, which
    ends up in the write folder and is deleted with it; where the OS has no exchange, the
    old output is renamed to ``<write>/old/`` first (``swap``). ``files`` (append): each part
    is renamed into the destination under its new name, then the merged manifest replaces
    the old one by rename.
    """

    def __init__(self, steps: Steps, method: Method, moves: list[Move]) -> None:
        self.steps = steps
        self.method: Method = method
        self.moves = moves
        self.committed = False
        self.uncertain = False
        self._placed: list[str] = []
        self._aside = False
        self._exchange, self._rename, self._replace = posix.ops_of(steps.location.fs)

    def publish(self) -> None:
        """Run every step up to the commit point (see the class docstring)."""
        if self.method == "files":
            self._publish_files()
        else:
            self._publish_folder()

    def _publish_files(self) -> None:
        s, layout = self.steps, self.steps.layout
        fs = s.location.fs
        for move in self.moves:
            dst = posixpath.join(layout.root, move.final)
            s.call(partial(self._rename, move.src, dst), f"move {move.final} into place")
            self._placed.append(dst)
        staged = posixpath.join(layout.write_dir(s.write_id), "_manifest.json")
        body = s.manifest.to_bytes()
        s.call(lambda: fs.pipe_file(staged, body), "write the manifest")
        s.verify()
        s.call(lambda: self._replace(staged, layout.manifest), "put the manifest in place")
        self.committed = True

    def _publish_folder(self) -> None:
        s, layout = self.steps, self.steps.layout
        fs = s.location.fs
        out = layout.publish_dir(s.write_id)
        s.call(lambda: fs.makedirs(out, exist_ok=True), "assemble the output")
        for move in self.moves:
            dst = posixpath.join(out, move.final)
            s.call(partial(self._rename, move.src, dst), f"assemble {move.final}")
        body = s.manifest.to_bytes()
        s.call(lambda: fs.pipe_file(posixpath.join(out, MANIFEST_NAME), body), "write the manifest")
        s.verify()
        s.call(lambda: fs.makedirs(layout.parent, exist_ok=True), "create the destination's parent")
        if self.method != "rename" and not s.call(lambda: s.exists(layout.root), "look at the destination"):
            self.method = "rename"  # overwrite of a destination that is not there (yet)
        if self.method == "rename" and self._rename_in(out):
            return
        if self.method != "swap":
            try:
                s.call(lambda: self._exchange(out, layout.root), "exchange the old output for the new one")
            except CommitError as exc:
                if not retry.caused_by(exc, NotImplementedError):
                    raise
                self.method = "swap"
            else:
                self.committed = True
                return
        s.call(lambda: self._rename(layout.root, layout.aside_dir(s.write_id)), "move the old output aside")
        self._aside = True
        s.call(lambda: self._rename(out, layout.root), "move the new output in")
        self.committed = True

    def _rename_in(self, out: str) -> bool:
        """New destination: rename ``out`` to it. False when a folder is there (to be exchanged)."""
        s, layout = self.steps, self.steps.layout

        def rename() -> bool:
            try:
                self._rename(out, layout.root)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                return False
            return True

        if s.call(rename, "move the new output into place"):
            self.committed = True
            return True
        if s.files_under(layout.root):
            raise ConcurrentWriteError(
                f"files appeared under {s.location.uri!r} while this write was open (not by a bulkwriter "
                "writer, which would have needed the lock); nothing of this write was made visible"
            )
        self.method = "exchange"  # an empty folder sits there: swap it out
        return False

    def rollback(self) -> list[str]:
        """Undo the steps that ran; return paths under the destination it could not undo."""
        s, layout = self.steps, self.steps.layout
        if self._aside:

            def put_back() -> None:
                if not s.exists(layout.root):
                    self._rename(layout.aside_dir(s.write_id), layout.root)

            try:
                s.call(put_back, "put the old output back", idempotent=True)
            except BulkWriterError:
                return [layout.root]
        return s.remove(self._placed, "remove the files this write had moved into place")

    def finish(self) -> list[str]:
        """After the commit: the old output sits in the write folder, removed with it. Nothing to do."""
        return []


class StorePublisher:
    """Object stores (no rename): copy each staged object to its final name, then write the manifest.

    The copies are recorded in the journal before they are made, and carry the write id in
    their names, so the ones of a failed or killed commit are known exactly. The manifest is
    written last, with the store's conditional write (only if it is still the one this write
    opened on, or only if there is none). Overwrite removes the old output's files only after
    that (:meth:`finish`).
    """

    def __init__(self, steps: Steps, moves: list[Move], removes: list[str], expect: str | None) -> None:
        self.steps = steps
        self.method: Method = "copy"
        self.moves = moves
        self.removes = removes
        self.expect = expect
        self.committed = False
        self.uncertain = False
        self._copied: list[str] = []
        self._manifest_tried = False

    def _pairs(self) -> tuple[list[str], list[str]]:
        root = self.steps.layout.root
        srcs: list[str] = []
        dsts: list[str] = []
        for move in self.moves:
            if move.files:
                srcs += [posixpath.join(move.src, f) for f in move.files]
                dsts += [posixpath.join(root, move.final, f) for f in move.files]
            else:
                srcs.append(move.src)
                dsts.append(posixpath.join(root, move.final))
        return srcs, dsts

    def publish(self) -> None:
        """Copy every staged object into place, check, write the manifest (the commit point)."""
        s = self.steps
        fs = s.location.fs
        srcs, dsts = self._pairs()
        if srcs:
            self._copied = dsts
            s.call(lambda: fs.copy(srcs, dsts), f"copy {len(srcs)} staged object(s) into place")
        s.verify()
        body = s.manifest.to_bytes()
        self._manifest_tried = True
        try:
            s.call(
                lambda: conditional.replace_if(fs, s.layout.manifest, body, self.expect), "write the manifest"
            )
        except conditional.ConditionFailed as exc:
            if self._manifest_is_ours() is True:  # a retried PUT whose first try had landed
                self.committed = True
                return
            raise ConcurrentWriteError(
                f"another writer committed to {s.location.uri!r} while this write was open ({exc}); "
                "nothing of this write was made visible"
            ) from exc
        except BulkWriterError:
            if self._manifest_is_ours() is True:
                self.committed = True
                return
            raise
        self.committed = True

    def _manifest_is_ours(self) -> bool | None:
        """Whether the manifest now names this write; None when it cannot be read."""
        s = self.steps
        try:
            data, _ = s.call(lambda: conditional.read(s.location.fs, s.layout.manifest), "read the manifest")
        except BulkWriterError as exc:
            if retry.caused_by(exc, FileNotFoundError):
                return False
            return None
        try:
            return Manifest.from_bytes(data, s.location.uri).write_id == s.write_id
        except BulkWriterError:
            return False

    def rollback(self) -> list[str]:
        """Remove the copies this write made; return those it could not remove.

        When the manifest write was tried and its outcome cannot be read back, nothing is
        removed (the commit may have happened) and :attr:`uncertain` is set.
        """
        if self._manifest_tried:
            ours = self._manifest_is_ours()
            if ours is None:
                self.uncertain = True
                return list(self._copied)
            if ours:
                self.committed = True
                return []
        return self.steps.remove(self._copied, "remove the objects this write had copied into place")

    def finish(self) -> list[str]:
        """Overwrite: remove the old output's files (they are no longer in the manifest)."""
        if not self.removes:
            return []
        return self.steps.remove(self.removes, f"remove {len(self.removes)} file(s) of the previous output")


#: Either publisher.
Publisher = LocalPublisher | StorePublisher
