"""What a destination holds, and putting it right after a failed or killed write.

:func:`scan` reads a destination and its staging area into a :class:`DestinationState`:
the manifest, every file under the output folder, the files no manifest lists (orphans),
each write folder left in the staging area with its journal, and the lock. Writers use it
when they open (:mod:`bulkwriter.storage.transaction`), :func:`inspect_destination` turns
it into the report ``bulkwriter inspect`` prints, and :func:`clean_destination` acts on it:

* an interrupted commit whose journal says it parked the old output aside (local disks,
  no atomic exchange) while the output folder is empty: the old output goes back;
* a committed output: every file under it that its manifest does not list is removed;
* no manifest: only the files a leftover journal names as its own are removed, never
  anything else (a folder that is not bulkwriter's is left alone and reported);
* every leftover write folder of this destination, and only of this destination, is
  removed.

Cleaning takes the destination's lock, so it never touches a destination a live writer has
open.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from bulkwriter.errors import StorageError
from bulkwriter.result import WriteResult
from bulkwriter.storage import conditional, posix
from bulkwriter.storage.describe import describe
from bulkwriter.storage.journal import Journal
from bulkwriter.storage.layout import WRITE_ID_RE, Layout, new_write_id
from bulkwriter.storage.location import Location
from bulkwriter.storage.lock import LockInfo, WriterLock, read_lock
from bulkwriter.storage.manifest import Manifest
from bulkwriter.storage.retry import RetryPolicy, call

__all__ = [
    "CleanResult",
    "DestinationState",
    "Inspection",
    "LeftoverWrite",
    "check_root",
    "clean_destination",
    "few",
    "inspect_destination",
    "layout_of",
    "remove_empty_area",
    "remove_tree",
    "scan",
]

T = TypeVar("T")
_SHOWN = 5


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "/")


@dataclass(frozen=True)
class LeftoverWrite:
    """A write folder found in the destination's staging area.

    Attributes
    ----------
    write_id : str
        Its write.
    journal : Journal or None
        Its commit journal; None when it never began to commit (only staged files).
    committed : bool
        The manifest names this write: its commit happened.
    placed : tuple of str
        Its files under the output folder that no manifest lists (an unfinished commit).
    old_left : tuple of str
        Committed overwrite: files of the old output still under the output folder.
    parked : bool
        It holds the old output, set aside by an unfinished local swap.
    live : bool
        It is the write holding the lock now (in progress, not a leftover).
    """

    write_id: str
    journal: Journal | None
    committed: bool
    placed: tuple[str, ...]
    old_left: tuple[str, ...]
    parked: bool
    live: bool

    @property
    def touches_output(self) -> bool:
        """True when putting this write right changes the output folder."""
        return bool(self.placed or self.old_left or (self.parked and not self.committed))


@dataclass(frozen=True)
class DestinationState:
    """A destination as :func:`scan` found it.

    Attributes
    ----------
    manifest : Manifest or None
        The committed output; None when nothing is committed.
    manifest_token : str or None
        The store's version token of the manifest (ETag, generation), where it has one.
    files : tuple of str
        Every file under the output folder, relative to it.
    orphans : tuple of str
        Files under the output folder the manifest does not list (all of them without one).
    leftovers : tuple of LeftoverWrite
        Write folders in the staging area.
    lock : tuple of (LockInfo or None, bool) or None
        The lock and whether its writer is alive; None without a lock.
    """

    manifest: Manifest | None
    manifest_token: str | None
    files: tuple[str, ...]
    orphans: tuple[str, ...]
    leftovers: tuple[LeftoverWrite, ...]
    lock: tuple[LockInfo | None, bool] | None

    @property
    def attributed(self) -> frozenset[str]:
        """Orphans that a leftover write's journal names as its own."""
        return frozenset(p for w in self.leftovers for p in (*w.placed, *w.old_left))

    @property
    def foreign(self) -> tuple[str, ...]:
        """Orphans no journal explains (with no manifest: files that are not bulkwriter's)."""
        mine = self.attributed
        return tuple(p for p in self.orphans if p not in mine)

    @property
    def parked(self) -> LeftoverWrite | None:
        """An unfinished local swap's parked old output, to be put back (output folder empty)."""
        if self.files:
            return None
        return next((w for w in self.leftovers if w.parked and not w.committed), None)


def _read_manifest(location: Location, layout: Layout) -> tuple[Manifest | None, str | None]:
    fs = location.fs
    try:
        data, token = conditional.read(fs, layout.manifest)
    except FileNotFoundError:
        return None, None
    return Manifest.from_bytes(data, location.uri_of(layout.manifest)), token


def _files_under(location: Location, path: str) -> list[str]:
    fs = location.fs
    fs.invalidate_cache()
    try:
        found: Any = fs.find(path)
    except FileNotFoundError:
        return []
    base = path.rstrip("/") + "/"
    return sorted(str(p)[len(base) :] for p in found if str(p).startswith(base))


def _write_ids(location: Location, layout: Layout) -> list[str]:
    fs = location.fs
    fs.invalidate_cache()
    try:
        entries: Any = fs.ls(layout.area, detail=False)
    except FileNotFoundError:
        return []
    names = {posixpath.basename(str(e).rstrip("/")) for e in entries}
    return sorted(n for n in names if WRITE_ID_RE.match(n))


def _read_journal(location: Location, layout: Layout, write_id: str) -> Journal | None:
    try:
        data = location.fs.cat_file(layout.journal(write_id))
    except FileNotFoundError:
        return None
    return Journal.parse(bytes(data))


def layout_of(location: Location) -> Layout:
    """The :class:`Layout` of a destination; StorageError for a path that cannot be one."""
    try:
        return Layout(location.root)
    except ValueError as exc:
        raise StorageError(f"cannot write to {location.uri!r}: {exc}") from None


def check_root(location: Location) -> None:
    """Raise NotADirectoryError if the destination is a file, FileNotFoundError if its bucket is missing.

    Lists the destination, so that denied access shows here, before anything is written.
    """
    fs = location.fs
    fs.invalidate_cache()
    try:
        entries: Any = fs.ls(location.root, detail=True)
    except FileNotFoundError:
        entries = []
        if location.has_buckets:
            bucket = location.bucket or ""
            try:
                fs.info(bucket)
            except FileNotFoundError:
                raise FileNotFoundError(f"bucket or container {bucket!r} does not exist") from None
            except PermissionError:
                pass  # credentials may list and write objects without reading bucket metadata
    for entry in entries:
        if str(entry["name"]).rstrip("/") == location.root and entry.get("type") == "file":
            raise NotADirectoryError(f"{location.uri} is a file, not a folder")


def scan(
    location: Location, layout: Layout, retry: RetryPolicy, *, check: bool = True, lock: bool = True
) -> DestinationState:
    """Read the destination and its staging area (see :class:`DestinationState`).

    ``check=False`` skips :func:`check_root` (the caller just ran it); ``lock=False`` skips
    reading the lock (a writer holding it knows whose it is: ``state.lock`` is None then).

    Raises
    ------
    StorageError
        Storage cannot be read (no such bucket, access denied, ...), the destination is a
        file, or its manifest is not a bulkwriter manifest.
    """

    def run(fn: Callable[[], T], operation: str) -> T:
        return call(fn, policy=retry, url=location.uri, operation=operation, redact=location.redact)

    if check:
        run(lambda: check_root(location), "list the destination")
    manifest, token = run(lambda: _read_manifest(location, layout), "read the manifest")
    files = tuple(run(lambda: _files_under(location, layout.root), "list the destination"))
    listed = manifest.listed() if manifest is not None else frozenset()
    orphans = tuple(p for p in files if p not in listed)
    lock_state = run(lambda: read_lock(location, layout.lock), "read the lock") if lock else None
    holder = lock_state[0] if lock_state is not None and lock_state[1] else None
    live_id = holder.write_id if holder is not None else None
    leftovers = []
    for write_id in run(lambda: _write_ids(location, layout), "list the staging area"):
        journal = run(partial(_read_journal, location, layout, write_id), "read a commit journal")
        committed = manifest is not None and manifest.write_id == write_id
        placed: tuple[str, ...] = ()
        old_left: tuple[str, ...] = ()
        if journal is not None and not committed:
            placed = tuple(p for p in orphans if any(_under(p, top) for top in journal.places))
        if journal is not None and committed:
            old_left = tuple(p for p in orphans if any(_under(p, old) for old in journal.removes))
        parked = (
            location.is_local
            and journal is not None
            and bool(
                run(partial(_files_under, location, layout.aside_dir(write_id)), "list the staging area")
            )
        )
        leftovers.append(
            LeftoverWrite(write_id, journal, committed, placed, old_left, parked, live=write_id == live_id)
        )
    return DestinationState(manifest, token, files, orphans, tuple(leftovers), lock_state)


def remove_empty_area(location: Location, layout: Layout) -> None:
    """Local disks: remove the staging area and the staging folder when they are empty."""
    if not location.is_local:
        return
    for folder in (layout.area, posixpath.dirname(layout.area)):
        try:
            os.rmdir(folder)
        except OSError:
            return


def few(paths: tuple[str, ...] | list[str], shown: int = _SHOWN) -> str:
    """``'a', 'b', 'c' and 4 more``: a few of ``paths`` for a message."""
    head = ", ".join(repr(p) for p in paths[:shown])
    return head + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


# -- inspect ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inspection:
    """What a destination holds, as ``bulkwriter inspect`` shows it.

    Attributes
    ----------
    path : str
        The destination's URL (local: its path), no credentials.
    committed : WriteResult or None
        The committed output, from its manifest; None when nothing is committed there.
    orphans : tuple of str
        URLs of files under the destination that the manifest does not list (all of its
        files when there is no manifest). An import of the destination prefix would read them.
    staging : tuple of str
        URLs of write folders left in the destination's staging area by writes that failed
        or were killed (not the one of a writer at work now).
    writing : str or None
        The writer at work on the destination now, if any (from the lock).
    stale_lock : str or None
        A lock left by a writer that is gone.
    notes : tuple of str
        One line for each thing found, and what ``bulkwriter clean`` would do about it.
    """

    path: str
    committed: WriteResult | None
    orphans: tuple[str, ...]
    staging: tuple[str, ...]
    writing: str | None
    stale_lock: str | None
    notes: tuple[str, ...]

    @property
    def is_clean(self) -> bool:
        """True when nothing is left to clean: no orphans, leftover staging or stale lock."""
        return not (self.orphans or self.staging or self.stale_lock)

    def summary(self) -> str:
        """A few human lines: what is committed, and each note."""
        head = (
            self.committed.summary() if self.committed is not None else f"no committed output at {self.path}"
        )
        return "\n".join([head, *(f"  ! {n}" for n in self.notes)])


def inspect_destination(location: Location, retry: RetryPolicy) -> Inspection:
    """Report what the destination at ``location`` holds (see :class:`Inspection`)."""
    layout = layout_of(location)
    state = scan(location, layout, retry)
    committed = None
    if state.manifest is not None:
        committed = describe(
            location, state.manifest.spec, state.manifest.files, write_id=state.manifest.write_id
        )
    notes: list[str] = []
    writing = stale_lock = None
    if state.lock is not None:
        info, alive = state.lock
        text = info.describe() if info is not None else "an unreadable lock file"
        if alive:
            writing = text
            notes.append(f"a writer is at work on it: {text}")
        else:
            stale_lock = text
            notes.append(
                f"stale lock of a writer that is gone ({text}); the next writer or clean takes it over"
            )
    staging = []
    for w in state.leftovers:
        if w.live:
            continue
        staging.append(location.uri_of(layout.write_dir(w.write_id)))
        notes.append(_leftover_note(w))
    foreign = state.foreign
    if state.manifest is not None and foreign:
        notes.append(f"{len(foreign)} file(s) under it are not listed by its manifest: {few(foreign)}")
    elif state.manifest is None and foreign:
        notes.append(
            f"{len(foreign)} file(s) under it and no bulkwriter manifest: {few(foreign)} (clean leaves them)"
        )
    orphans = tuple(location.uri_of(location.join(p)) for p in state.orphans)
    return Inspection(location.uri, committed, orphans, tuple(staging), writing, stale_lock, tuple(notes))


def _leftover_note(w: LeftoverWrite) -> str:
    if w.journal is None:
        return f"write {w.write_id} failed or was killed before its commit: staged files only (invisible)"
    if w.committed and w.old_left:
        return f"write {w.write_id} committed, but {len(w.old_left)} file(s) of the previous output remain: {few(w.old_left)}"
    if w.committed:
        return f"write {w.write_id} committed; its staging folder was not removed (invisible)"
    if w.parked:
        return f"write {w.write_id} was killed while replacing the output: the previous output is parked in staging; clean puts it back"
    if w.placed:
        return f"write {w.write_id} was killed or failed while committing: {len(w.placed)} of its file(s) are under the output but not committed: {few(w.placed)}"
    return f"write {w.write_id} stopped while committing before anything was published (invisible)"


# -- clean ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanResult:
    """What :func:`bulkwriter.clean` did (or, with ``dry_run``, would do).

    Attributes
    ----------
    removed : tuple of str
        URLs of files removed from under the destination (orphans).
    restored : tuple of str
        URLs of outputs put back in place (a previous output an interrupted commit had parked).
    staging_removed : tuple of str
        URLs of leftover write folders removed from the staging area.
    kept : tuple of str
        URLs of files left alone because nothing shows they are bulkwriter's.
    broken_lock : str or None
        The stale lock that was taken over, if any.
    dry_run : bool
        Nothing was changed; the fields say what would be.
    """

    removed: tuple[str, ...]
    restored: tuple[str, ...]
    staging_removed: tuple[str, ...]
    kept: tuple[str, ...]
    broken_lock: str | None
    dry_run: bool

    def summary(self) -> str:
        """A few human lines."""
        verb = "would remove" if self.dry_run else "removed"
        lines = [
            f"{verb} {len(self.removed)} orphan file(s), {len(self.staging_removed)} staging folder(s)"
            + (
                f"; {'would restore' if self.dry_run else 'restored'} {', '.join(self.restored)}"
                if self.restored
                else ""
            )
        ]
        lines += [f"  {p}" for p in self.removed]
        if self.kept:
            lines.append(f"kept {len(self.kept)} file(s) that are not bulkwriter's: {few(list(self.kept))}")
        if self.broken_lock:
            lines.append(f"took over the stale lock of {self.broken_lock}")
        return "\n".join(lines)


def clean_destination(
    location: Location, retry: RetryPolicy, *, dry_run: bool = False, break_lock: bool = False
) -> CleanResult:
    """Put the destination right (see the module docstring); return what was done.

    Raises
    ------
    ConcurrentWriteError
        A writer is at work on the destination (its lock is alive).
    StorageError
        Storage failed; what was done so far stays done, and running clean again finishes.
    """
    layout = layout_of(location)
    fs = location.fs
    lock = WriterLock.acquire(location, layout.lock, new_write_id(), retry=retry, break_lock=break_lock)

    def run(fn: Callable[[], T], operation: str) -> T:
        return call(
            fn, policy=retry, url=location.uri, operation=operation, redact=location.redact, idempotent=True
        )

    try:
        state = scan(location, layout, retry)
        restored: list[str] = []
        parked = state.parked
        if parked is not None:
            restored.append(location.uri)
            if not dry_run:
                aside = layout.aside_dir(parked.write_id)

                def put_back() -> None:
                    with contextlib.suppress(FileNotFoundError, OSError):
                        fs.rmdir(layout.root)  # an empty folder left in its place
                    fs.makedirs(layout.parent, exist_ok=True)
                    posix.ops_of(fs)[1](aside, layout.root)

                run(put_back, "put the parked output back")
                state = scan(location, layout, retry)
        remove = list(state.orphans) if state.manifest is not None else sorted(state.attributed)
        kept = [] if state.manifest is not None else list(state.foreign)
        # a parked output that could not go back (something sits in its place) is never deleted
        stuck = [w for w in state.leftovers if w.parked and not w.committed and not (dry_run and w is parked)]
        leftovers = [w for w in state.leftovers if w.write_id != lock.info.write_id and w not in stuck]
        if not dry_run:
            if remove:
                paths = [location.join(p) for p in remove]
                run(lambda: _rm(fs, paths), f"remove {len(paths)} orphan file(s)")
                _remove_empty_folders(location, layout.root, remove)
            for w in leftovers:
                folder = layout.write_dir(w.write_id)
                run(partial(remove_tree, location, folder), f"remove staging of write {w.write_id}")
            run(lambda: _rm_area_debris(location, layout, lock.info.write_id), "remove staging debris")
        return CleanResult(
            removed=tuple(location.uri_of(location.join(p)) for p in remove),
            restored=tuple(restored),
            staging_removed=tuple(location.uri_of(layout.write_dir(w.write_id)) for w in leftovers),
            kept=tuple(location.uri_of(location.join(p)) for p in kept)
            + tuple(location.uri_of(layout.aside_dir(w.write_id)) for w in stuck),
            broken_lock=lock.broken.describe() if lock.broken is not None else None,
            dry_run=dry_run,
        )
    finally:
        lock.release()
        remove_empty_area(location, layout)


def _rm(fs: Any, paths: list[str]) -> None:
    """Remove ``paths``; ones already gone count as removed (so a retry is harmless)."""
    fs.invalidate_cache()
    present = [p for p in paths if fs.exists(p)]
    if present:
        fs.rm(present)
    fs.invalidate_cache()


def remove_tree(location: Location, folder: str) -> None:
    """Remove a folder and everything under it (object stores: every object under the prefix)."""
    fs = location.fs
    fs.invalidate_cache()
    if location.is_local:
        if fs.exists(folder):
            fs.rm(folder, recursive=True)
        return
    found: Any = fs.find(folder)
    if found:
        fs.rm(list(found))
    fs.invalidate_cache()


def _rm_area_debris(location: Location, layout: Layout, own_write_id: str) -> None:
    """Remove what killed lock takers left in the staging area (``_lock.json.<id>.tmp``)."""
    fs = location.fs
    fs.invalidate_cache()
    try:
        entries: Any = fs.ls(layout.area, detail=False)
    except FileNotFoundError:
        return
    debris = [
        str(e)
        for e in entries
        if posixpath.basename(str(e)).startswith("_lock.json.")
        and own_write_id not in posixpath.basename(str(e))
    ]
    if debris:
        fs.rm(debris)


def _remove_empty_folders(location: Location, root: str, removed: list[str]) -> None:
    """Local disks: remove folders of removed files that are now empty (a NumPy part's folder)."""
    if not location.is_local:
        return
    folders = sorted({posixpath.dirname(p) for p in removed if posixpath.dirname(p)}, key=len, reverse=True)
    for folder in folders:
        with contextlib.suppress(OSError):
            os.rmdir(posixpath.join(root, folder))
