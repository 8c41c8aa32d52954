"""The content of one encoded file: whole bytes, or pieces written one after another.

Encoders hand their output to storage as :data:`FileData`. Pieces let an encoder pass column
buffers on without joining them into one more copy (NumPy ``.npy`` files: the header, then
each chunk's values): a local disk writes them in turn, an object store gets them joined once.
"""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["FileData", "data_bytes", "data_size", "pieces"]

#: The content of one encoded file: one ``bytes`` object, or pieces (``bytes`` or C-contiguous
#: byte ``memoryview`` s) that make the file when written one after another. Pieces let an
#: encoder hand over column buffers without joining them into one more copy (NumPy): a local
#: disk writes them in turn, an object store gets them joined once (:func:`data_bytes`).
FileData: TypeAlias = bytes | tuple[bytes | memoryview, ...]


def data_size(data: FileData) -> int:
    """Length of ``data`` in bytes (the file's size on storage)."""
    if isinstance(data, bytes):
        return len(data)
    return sum(memoryview(piece).nbytes for piece in data)


def data_bytes(data: FileData) -> bytes:
    """The whole file as one ``bytes`` object (pieces joined: one copy)."""
    return data if isinstance(data, bytes) else b"".join(data)


def pieces(data: FileData) -> tuple[bytes | memoryview, ...]:
    """``data`` as a tuple of pieces (a single ``bytes`` object is one piece)."""
    return (data,) if isinstance(data, bytes) else data
