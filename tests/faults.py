"""Storage doubles for the commit proofs: fail, or SIGKILL the process at, the Nth storage call.

:class:`FaultyStorage` wraps one fsspec filesystem instance (local, memory, s3fs) by
replacing its mutating methods on the instance: every write, open for writing, rename /
move / exchange, copy, delete and folder creation is one numbered call. The library is
given the instance with ``filesystem=`` and sees the real class (its local / object-store
choice is unchanged); the calls reach the real methods unless the plan says otherwise:

* ``fail_at=N``: call N raises a permanent error (``PermissionError``), the others work;
* ``down_from=N``: call N and every later one raise, as a store that goes away, until
  :meth:`FaultyStorage.restore`;
* ``kill_at=N``: call N SIGKILLs the process before doing anything (the kill matrix).

Reads (``ls``, ``find``, ``info``, ``cat_file``) are not counted: a failed read changes
nothing. The ``open`` inside a ``pipe_file`` is part of that one call; the per-file calls
inside a list ``copy`` or ``rm`` (memory://) are numbered too, so a batch can fail half-way. On local disks the lock file is handled with ``os`` calls (``flock`` cannot go
through fsspec), so it is not counted either; it is released by the kernel when the
process dies, which the kill matrix covers.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bulkwriter.storage.posix import PosixFileSystem

#: Methods of a filesystem instance that change storage (each call is numbered).
MUTATING = (
    "pipe_file",
    "open",
    "mv",
    "copy",
    "cp_file",
    "rm",
    "rm_file",
    "rmdir",
    "makedirs",
    "mkdir",
    "exchange",
    "rename_no_replace",
    "replace",
    "call_s3",
)
_WRITE_MODES = ("w", "a", "x", "+")


class NoExchangeFileSystem(PosixFileSystem):
    """A local disk whose OS has no atomic exchange: overwrite takes the two-rename swap."""

    def exchange(self, path1: str, path2: str) -> None:
        raise NotImplementedError("no atomic exchange here (test double)")


class InjectedFault(PermissionError):
    """The failure a :class:`FaultyStorage` raises (permanent: never retried as transient)."""


@dataclass
class FaultyStorage:
    """Number the mutating calls of ``fs`` and act on the planned one (see the module docstring)."""

    fs: Any
    fail_at: int | None = None
    down_from: int | None = None
    kill_at: int | None = None
    calls: list[tuple[str, str]] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    _saved: dict[str, Any] = field(default_factory=dict)
    _local: threading.local = field(default_factory=threading.local)
    armed: bool = True

    def install(self) -> FaultyStorage:
        """Replace the methods on the instance (undone by :meth:`restore`)."""
        for name in MUTATING:
            real = getattr(self.fs, name, None)
            if real is None or not callable(real):
                continue
            self._saved[name] = real
            setattr(self.fs, name, self._wrap(name, real))
        return self

    def restore(self) -> None:
        """Put the real methods back."""
        for name, real in self._saved.items():
            setattr(self.fs, name, real)
        self._saved.clear()

    def _wrap(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name == "open":
                mode = kwargs.get("mode", args[1] if len(args) > 1 else "rb")
                if not any(c in mode for c in _WRITE_MODES):
                    return real(*args, **kwargs)
            if not self.armed or (name == "open" and getattr(self._local, "depth", 0)):
                return real(*args, **kwargs)  # pipe_file's own open is part of that one call
            n = len(self.calls) + 1
            self.calls.append((name, str(args[0]) if args else ""))
            if self.kill_at == n:
                os.kill(os.getpid(), signal.SIGKILL)
            if self.fail_at == n or (self.down_from is not None and n >= self.down_from):
                self.failed.append(n)
                raise InjectedFault(f"injected failure of call {n}: {name}({args[0] if args else ''})")
            depth = getattr(self._local, "depth", 0)
            self._local.depth = depth + 1
            try:
                return real(*args, **kwargs)
            finally:
                self._local.depth = depth

        return wrapper

    def describe(self) -> str:
        """The numbered calls, one per line (for a failing test's message)."""
        return "\n".join(f"{i}. {name} {path}" for i, (name, path) in enumerate(self.calls, 1))
