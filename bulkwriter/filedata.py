"""The content of one encoded file: whole bytes, or pieces written one after another.

Encoders hand their output to storage as :data:`FileData`. Pieces let an encoder pass column
buffers on without joining them into one more copy (NumPy ``.npy`` files: the header, then
each chunk's values): a local disk writes them in turn, an object store gets them joined once.
"""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["FileData", "data_bytes", "data_size", "pieces"]

#: The content of one encoded file: one ``bytes`` object, or a tuple of pieces (``bytes`` or
#: C-contiguous ``memoryview`` s of unsigned bytes) that make the file when written one after
#: another, in order.
FileData: TypeAlias = bytes | tuple[bytes | memoryview, ...]


def pieces(data: FileData) -> tuple[bytes | memoryview, ...]:
    """Return ``data`` as its pieces, in file order.

    Parameters
    ----------
    data : FileData
        One file's content.

    Returns
    -------
    tuple of bytes or memoryview
        ``(data,)`` for a single ``bytes`` object, else ``data`` itself (nothing is copied).
    """
    return (data,) if isinstance(data, bytes) else data


def data_size(data: FileData) -> int:
    """Return the size of the file ``data`` makes, in bytes (its size on storage).

    Parameters
    ----------
    data : FileData
        One file's content.

    Returns
    -------
    int
        The sum of the pieces' lengths in bytes.
    """
    return sum(memoryview(piece).nbytes for piece in pieces(data))


def data_bytes(data: FileData) -> bytes:
    """Return the whole file as one ``bytes`` object.

    Parameters
    ----------
    data : FileData
        One file's content.

    Returns
    -------
    bytes
        ``data`` itself when it is already ``bytes``; otherwise the pieces joined (one copy of
        the file, for backends that take a single buffer, e.g. ``pipe_file`` on object stores).
    """
    return data if isinstance(data, bytes) else b"".join(data)
