"""Atomic renames of local disks: exchange two folders, rename without replacing, replace a file.

The commit protocol publishes a local output with these (see :mod:`bulkwriter.storage`):

* :func:`exchange` swaps two paths in one step: Linux ``renameat2(RENAME_EXCHANGE)``
  (kernel 3.15+, glibc 2.28+; ext4, xfs, btrfs, tmpfs and others), macOS
  ``renamex_np(RENAME_SWAP)``. Where neither exists, or the filesystem refuses it,
  :class:`NotImplementedError` is raised and the caller falls back to two renames;
* :func:`rename_no_replace` renames a file or folder only if the target does not exist
  (``renameat2(RENAME_NOREPLACE)`` where available; elsewhere a check before ``rename``,
  which the writer lock makes safe);
* :func:`replace` replaces a file atomically (``os.replace``), for the manifest.

:class:`PosixFileSystem` is fsspec's local filesystem with these as methods. Local
destinations use it, so each of these calls goes through the filesystem object like every
other storage call (and a test can fail any of them); a plain ``LocalFileSystem`` given by
the caller gets the module functions instead (:func:`ops_of`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable
from typing import Any

from fsspec.implementations.local import LocalFileSystem

__all__ = ["PosixFileSystem", "exchange", "ops_of", "rename_no_replace", "replace"]

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_MACOS_RENAME_SWAP = 0x2
_UNSUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})


def _libc_function(name: str) -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    return getattr(libc, name, None)


_RENAMEAT2 = _libc_function("renameat2") if sys.platform.startswith("linux") else None
_RENAMEX_NP = _libc_function("renamex_np") if sys.platform == "darwin" else None


def _raise_errno(a: str, b: str) -> None:
    code = ctypes.get_errno()
    raise OSError(code, os.strerror(code), a, None, b)


def exchange(a: str, b: str) -> None:
    """Swap the paths ``a`` and ``b`` (files or folders) atomically.

    Raises
    ------
    NotImplementedError
        This OS or filesystem has no atomic exchange.
    OSError
        The exchange failed (a path is missing, permissions, ...); nothing changed.
    """
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        if ctypes.get_errno() in _UNSUPPORTED:
            raise NotImplementedError(f"this filesystem cannot exchange {a!r} and {b!r} atomically")
        _raise_errno(a, b)
    if _RENAMEX_NP is not None:
        if _RENAMEX_NP(os.fsencode(a), os.fsencode(b), _MACOS_RENAME_SWAP) == 0:
            return
        if ctypes.get_errno() in _UNSUPPORTED:
            raise NotImplementedError(f"this filesystem cannot exchange {a!r} and {b!r} atomically")
        _raise_errno(a, b)
    raise NotImplementedError(f"{sys.platform} has no atomic exchange of two paths")


def rename_no_replace(src: str, dst: str) -> None:
    """Rename ``src`` to ``dst``, refusing to replace anything at ``dst`` (FileExistsError)."""
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        if ctypes.get_errno() not in _UNSUPPORTED:
            _raise_errno(src, dst)
    if os.path.lexists(dst):  # no atomic no-replace here: the writer lock keeps others out
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    os.rename(src, dst)


def replace(src: str, dst: str) -> None:
    """Rename the file ``src`` over ``dst`` in one step (``os.replace``)."""
    os.replace(src, dst)


class PosixFileSystem(LocalFileSystem):  # type: ignore[misc]
    """fsspec's local filesystem with the atomic renames the commit protocol needs as methods."""

    def exchange(self, path1: str, path2: str) -> None:
        """Swap two paths atomically (:func:`exchange`)."""
        exchange(self._strip_protocol(path1), self._strip_protocol(path2))

    def rename_no_replace(self, path1: str, path2: str) -> None:
        """Rename without replacing (:func:`rename_no_replace`)."""
        rename_no_replace(self._strip_protocol(path1), self._strip_protocol(path2))

    def replace(self, path1: str, path2: str) -> None:
        """Replace a file atomically (:func:`replace`)."""
        replace(self._strip_protocol(path1), self._strip_protocol(path2))


def ops_of(
    fs: Any,
) -> tuple[Callable[[str, str], None], Callable[[str, str], None], Callable[[str, str], None]]:
    """``(exchange, rename_no_replace, replace)`` for a local filesystem: its methods, or the functions."""
    if isinstance(fs, PosixFileSystem):
        return fs.exchange, fs.rename_no_replace, fs.replace
    return exchange, rename_no_replace, replace
