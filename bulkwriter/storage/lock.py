"""One writer per destination: the lock ``<parent>/.bulkwriter-staging/<name>/_lock.json``.

A write takes the lock when it opens and checks it still holds it at commit; a second
writer fails at once with :class:`~bulkwriter.errors.ConcurrentWriteError` naming the
destination and the holder. The lock file holds the holder's write id, host, process id,
the process's start time and when it was taken (:class:`LockInfo`).

Local disks
    The lock file is created exclusively (written under a temporary name, then hard-linked
    to its name, which fails if it exists) and held with ``flock`` for as long as the write
    is open. The kernel drops a ``flock`` when its process dies, so a lock file nobody holds
    is stale and the next writer takes it over; the file's inode is checked after taking the
    ``flock`` so that two writers can never both take over the same stale lock. Where the
    filesystem has no ``flock``, a lock is stale when its process is gone from this host.

Object stores
    The lock object is created with the store's conditional create (``If-None-Match: *`` on
    S3, ``ifGenerationMatch=0`` on GCS, ``overwrite=False`` on Azure: fsspec's
    ``pipe_file(mode="create")``). A lock is stale when its host is this host and its process
    is gone (or, in this process, its write was dropped without commit or abort); a lock of
    another host is never taken over by itself, because nothing here can tell whether that
    writer lives: ``bulkwriter clean PATH --break-lock`` removes it. Stores that do not
    enforce the conditional create (the GCS emulator, fsspec's default ``pipe_file``) rely
    on the manifest check at commit instead (:mod:`bulkwriter.storage.transaction`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import fsspec
import orjson

from bulkwriter.errors import ConcurrentWriteError
from bulkwriter.storage import conditional, posix
from bulkwriter.storage.location import Location
from bulkwriter.storage.retry import RetryPolicy, call

try:  # POSIX only; elsewhere local locks fall back to the pid check
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LockInfo", "WriterLock", "process_start_time", "read_lock"]

#: Write ids of the writes open in this process (a lock of ours whose write is not here is stale).
_LIVE: set[str] = set()
_LIVE_GUARD = threading.Lock()
_TAKE_ATTEMPTS = 8


def process_start_time(pid: int) -> str | None:
    """When process ``pid`` started, as the kernel counts it (Linux ``/proc``); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


def _process_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    except OSError:
        return True
    return start is None or process_start_time(pid) in (None, start)


@dataclass(frozen=True)
class LockInfo:
    """Who holds a destination's lock.

    Attributes
    ----------
    write_id : str
        The holder's write id.
    host : str
        Host name of the holder's machine.
    pid : int
        The holder's process id on that host.
    pid_start : str or None
        The holder process's start time (Linux clock ticks since boot), to tell a reused pid.
    created : str
        When the lock was taken, UTC, ISO 8601.
    destination : str
        The destination's URL.
    """

    write_id: str
    host: str
    pid: int
    pid_start: str | None
    created: str
    destination: str

    @classmethod
    def mine(cls, write_id: str, destination: str) -> LockInfo:
        """A lock description for this process."""
        pid = os.getpid()
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return cls(write_id, socket.gethostname(), pid, process_start_time(pid), created, destination)

    def to_bytes(self) -> bytes:
        """The lock file's content (JSON)."""
        return orjson.dumps(asdict(self))

    @classmethod
    def parse(cls, data: bytes) -> LockInfo | None:
        """The lock described by ``data``, or None when it is not a lock file."""
        try:
            body = orjson.loads(data)
            return cls(
                str(body["write_id"]),
                str(body["host"]),
                int(body["pid"]),
                None if body.get("pid_start") is None else str(body["pid_start"]),
                str(body["created"]),
                str(body.get("destination", "")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def is_dead(self) -> bool:
        """True when this lock's writer certainly no longer runs (same host, process gone)."""
        if self.host != socket.gethostname():
            return False
        if self.pid == os.getpid() and self.pid_start in (None, process_start_time(self.pid)):
            with _LIVE_GUARD:
                return self.write_id not in _LIVE
        return not _process_alive(self.pid, self.pid_start)

    @property
    def checkable(self) -> bool:
        """True when :meth:`is_dead` can tell (the writer ran on this host)."""
        return self.host == socket.gethostname()

    def describe(self) -> str:
        """One line naming the holder."""
        return f"write {self.write_id}, pid {self.pid} on {self.host}, since {self.created}"


def _busy(destination: str, holder: LockInfo | None, hint: str = "") -> ConcurrentWriteError:
    who = holder.describe() if holder is not None else "a writer whose lock file cannot be read"
    return ConcurrentWriteError(
        f"{destination!r} is being written by another writer ({who}); only one writer may write to a "
        "destination at a time: wait for it to commit or abort"
        + (hint or f", or if it is gone for good run `bulkwriter clean {destination} --break-lock`")
    )


class WriterLock:
    """The lock of one destination, held by one write (see the module docstring).

    Use :meth:`acquire`; then :meth:`check` before the commit point and :meth:`release` at
    the end. Safe to release twice. Dropping the object without releasing it releases the
    local ``flock`` and marks the lock stale for this process.
    """

    def __init__(self, location: Location, path: str, info: LockInfo, retry: RetryPolicy) -> None:
        self.location = location
        self.path = path
        self.info = info
        self.retry = retry
        self.broken: LockInfo | None = None  # a stale lock this one replaced
        self._fd: int | None = None
        self._token: str | None = None
        self._released = False
        with _LIVE_GUARD:
            _LIVE.add(info.write_id)
        self._finalizer = weakref.finalize(self, _forget, info.write_id, None)

    # -- acquiring ----------------------------------------------------------------------
    @classmethod
    def acquire(
        cls, location: Location, path: str, write_id: str, *, retry: RetryPolicy, break_lock: bool = False
    ) -> WriterLock:
        """Take the lock at ``path`` for ``write_id``.

        Parameters
        ----------
        break_lock : bool, default False
            Also take over a lock whose holder cannot be checked (another host, an unreadable
            lock file). A lock known to be alive is never taken.

        Raises
        ------
        ConcurrentWriteError
            Another writer holds it.
        StorageError
            The lock cannot be written or read.
        """
        lock = cls(location, path, LockInfo.mine(write_id, location.uri), retry)
        try:
            if location.is_local and fcntl is not None:
                lock._acquire_local(break_lock)
            else:
                lock._acquire_store(break_lock)
        except BaseException:
            lock._finalizer()
            raise
        return lock

    def _call(self, fn: Callable[[], Any], operation: str, *, idempotent: bool = False) -> Any:
        loc = self.location
        return call(
            fn, policy=self.retry, url=loc.uri, operation=operation, redact=loc.redact, idempotent=idempotent
        )

    def _acquire_local(self, break_lock: bool) -> None:
        path = self.path
        body = self.info.to_bytes()
        for _ in range(_TAKE_ATTEMPTS):
            fd = self._call(
                lambda: _new_locked_file(f"{path}.{self.info.write_id}.tmp", body), "take the lock"
            )
            try:
                _link_exclusive(f"{path}.{self.info.write_id}.tmp", path)
            except FileExistsError:
                os.close(fd)
                taken = self._take_stale_local(body, break_lock)
                if taken is None:
                    continue
                fd = taken
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(f"{path}.{self.info.write_id}.tmp")
            self._fd = fd
            self._finalizer.detach()
            self._finalizer = weakref.finalize(self, _forget, self.info.write_id, fd)
            return
        raise _busy(self.location.uri, None, ": the lock kept changing hands")

    def _take_stale_local(self, body: bytes, break_lock: bool) -> int | None:
        """Take over the lock file at ``path`` if nobody holds it; None to start again."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            holder = LockInfo.parse(_read_fd(fd))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise _busy(self.location.uri, holder, " (its process still holds the lock)") from None
            except OSError as exc:  # no flock on this filesystem: fall back to the pid check
                if exc.errno not in (errno.ENOLCK, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                if not _may_take(holder, break_lock):
                    raise _busy(self.location.uri, holder) from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # released and taken again meanwhile: look again
                os.close(fd)
                return None
            self.broken = holder
            os.ftruncate(fd, 0)
            os.pwrite(fd, body, 0)
            os.fsync(fd)
            return fd
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise

    def _acquire_store(self, break_lock: bool) -> None:
        fs = self.location.fs
        body = self.info.to_bytes()

        def create() -> tuple[bool, str | None]:
            try:
                return True, conditional.create_exclusive(fs, self.path, body)
            except FileExistsError:
                return False, None

        for _ in range(_TAKE_ATTEMPTS):
            created, token = self._call(create, "take the lock")
            if created and token is not None:  # S3 enforces the create and returns its ETag
                self._token = token
                return
            if created:  # read it back: a store that ignores the condition may have let another win
                found = self._call(lambda: _read_or_none(fs, self.path), "read the lock")
                if found is not None and _write_id_of(found[0]) == self.info.write_id:
                    self._token = found[1]
                    return
                continue  # a store that did not enforce the create: someone else's lock won
            found = self._call(lambda: _read_or_none(fs, self.path), "read the lock")
            if found is None:
                continue
            data, token = found
            holder = LockInfo.parse(data)
            if holder is not None and holder.write_id == self.info.write_id:
                self._token = token
                return
            if holder is None and body.startswith(data):  # our own create, cut short: take it again
                self._call(
                    partial(conditional.delete_if, fs, self.path, token), "take the lock", idempotent=True
                )
                continue
            if not _may_take(holder, break_lock):
                raise _busy(self.location.uri, holder)
            self.broken = holder
            self._call(
                partial(conditional.delete_if, fs, self.path, token), "remove a stale lock", idempotent=True
            )
        raise _busy(self.location.uri, None, ": the lock kept changing hands")

    def _holder(self) -> str | None:
        found = _read_or_none(self.location.fs, self.path)
        return None if found is None else _write_id_of(found[0])

    # -- while held -----------------------------------------------------------------------
    def check(self) -> None:
        """Raise :class:`ConcurrentWriteError` unless this write still holds the lock."""
        if self._released:
            raise ConcurrentWriteError(f"the lock on {self.location.uri!r} was already released")
        if self._fd is not None:
            try:
                held = os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
            except FileNotFoundError:
                held = False
        else:
            held = self._call(self._holder, "read the lock") == self.info.write_id
        if not held:
            raise ConcurrentWriteError(
                f"this write ({self.info.write_id}) lost its lock on {self.location.uri!r}: it was removed "
                "(bulkwriter clean --break-lock, or by hand) and maybe taken by another writer"
            )

    def release(self) -> None:
        """Give the lock up (remove the lock file). Never raises; safe to call twice."""
        if self._released:
            return
        self._released = True
        with contextlib.suppress(Exception):
            if self._fd is not None:
                if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                    os.unlink(self.path)
            elif (self._token is not None and conditional.deletes_conditionally(self.location.fs)) or (
                self._holder() == self.info.write_id
            ):
                fs = self.location.fs
                self._call(
                    lambda: conditional.delete_if(fs, self.path, self._token),
                    "release the lock",
                    idempotent=True,
                )
        self._finalizer()


def _may_take(holder: LockInfo | None, break_lock: bool) -> bool:
    """A lock may be taken over when its writer is gone, or (``break_lock``) when nobody can tell."""
    if holder is not None and holder.is_dead():
        return True
    return break_lock and (holder is None or not holder.checkable)


def _new_locked_file(path: str, body: bytes) -> int:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a leftover of this very write id cannot exist, but be sure
    for _ in range(_TAKE_ATTEMPTS):
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileNotFoundError:  # a finishing writer removed the empty staging area just now
            continue
    else:
        raise FileNotFoundError(errno.ENOENT, "the staging area keeps disappearing", path)
    try:
        with contextlib.suppress(OSError):  # no flock here: the pid check stands in
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, body)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_or_none(fs: fsspec.AbstractFileSystem, path: str) -> tuple[bytes, str | None] | None:
    try:
        return conditional.read(fs, path)
    except FileNotFoundError:
        return None


def _write_id_of(data: bytes) -> str | None:
    info = LockInfo.parse(data)
    return None if info is None else info.write_id


def _link_exclusive(src: str, dst: str) -> None:
    """Give the file ``src`` the name ``dst`` too, failing with FileExistsError if ``dst`` exists."""
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError as exc:  # no hard links here (some network and FUSE filesystems)
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        posix.rename_no_replace(src, dst)


def _read_fd(fd: int) -> bytes:
    return os.pread(fd, 1 << 16, 0)


def _forget(write_id: str, fd: int | None) -> None:
    with _LIVE_GUARD:
        _LIVE.discard(write_id)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def read_lock(location: Location, path: str) -> tuple[LockInfo | None, bool] | None:
    """The lock at ``path`` and whether its writer is alive; None when there is no lock.

    Local disks answer "alive" from ``flock``; object stores from :meth:`LockInfo.is_dead`
    (a lock of another host counts as alive).
    """
    fs: fsspec.AbstractFileSystem = location.fs
    if location.is_local and fcntl is not None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            info = LockInfo.parse(_read_fd(fd))
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return info, True
            except OSError:
                return info, info is not None and not info.is_dead()
            return info, False
        finally:
            os.close(fd)
    found = _read_or_none(fs, path)
    if found is None:
        return None
    info = LockInfo.parse(found[0])
    return info, info is not None and not info.is_dead()
