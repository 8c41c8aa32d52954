"""Where a destination's files live: the output folder, its staging area, lock, journal and part names.

For a destination ``<parent>/<name>`` (a local folder or an object-store prefix)::

    <parent>/<name>/                          the output: data files and _bulkwriter.json
    <parent>/.bulkwriter-staging/<name>/      this destination's staging area (never inside the output)
        _lock.json                            the writer lock (storage.lock)
        <write id>/                           one write's folder
            _commit.json                      its commit journal, written before anything is published
            shards/<shard>/<part>             files staged by each writer of the write (storage.staging)
            out/                              local disks: the new output, assembled for one rename
            old/                              local disks without an atomic exchange: the old output, set aside

Everything of a destination is found by its exact name and a write id, never by a name
prefix, so the staging of ``<parent>/o-v2`` is never mistaken for that of ``<parent>/o``.
Committed data files are named ``part-<index>-<write id><suffix>``: a write never reuses a
name an earlier write used, and a file left by a failed or killed commit names its write.
"""

from __future__ import annotations

import posixpath
import re
import uuid
from dataclasses import dataclass

__all__ = [
    "JOURNAL_NAME",
    "LOCK_NAME",
    "MANIFEST_NAME",
    "STAGING_DIR",
    "WRITE_ID_RE",
    "Layout",
    "check_shard",
    "new_write_id",
    "part_name",
    "part_write_id",
]

#: File name of the manifest: the commit marker, listing every data file of the output.
MANIFEST_NAME = "_bulkwriter.json"
#: Folder beside the destination that holds the staging areas of the destinations there.
STAGING_DIR = ".bulkwriter-staging"
#: File name of the writer lock inside a destination's staging area.
LOCK_NAME = "_lock.json"
#: File name of a write's commit journal inside its write folder.
JOURNAL_NAME = "_commit.json"
#: Characters of a write id: 12 lowercase hex digits (48 random bits).
WRITE_ID_RE = re.compile(r"^[0-9a-f]{12}$")
_PART_RE = re.compile(r"^part-(?P<index>\d{5,})-(?P<write_id>[0-9a-f]{12})(?:\.[A-Za-z0-9]+)?$")
_SHARD_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def new_write_id() -> str:
    """A fresh write id: 12 random hex digits (``uuid4``)."""
    return uuid.uuid4().hex[:12]


def part_name(index: int, write_id: str, suffix: str) -> str:
    """The committed name of part ``index`` of write ``write_id``, e.g. ``part-00003-3f9a1c2b7d4e.parquet``.

    ``suffix`` is the format's file suffix (``".parquet"``), or ``""`` for a folder part (NumPy).
    """
    return f"part-{index:05d}-{write_id}{suffix}"


def part_write_id(name: str) -> tuple[int, str] | None:
    """``(index, write id)`` of a committed part name, or None when ``name`` is not one."""
    m = _PART_RE.match(name)
    return None if m is None else (int(m.group("index")), m.group("write_id"))


def check_shard(shard: str) -> str:
    """Return ``shard`` if it can name a folder (1-64 of ``A-Z a-z 0-9 _ . -``); else ValueError."""
    if not isinstance(shard, str) or not _SHARD_RE.match(shard) or shard in (".", ".."):
        raise ValueError(f"a shard name is 1-64 characters of A-Z, a-z, 0-9, '_', '.', '-', got {shard!r}")
    return shard


@dataclass(frozen=True)
class Layout:
    """Every path of one destination, as paths on its filesystem (no scheme).

    Parameters
    ----------
    root : str
        The destination folder, no trailing ``/``.
    """

    root: str

    def __post_init__(self) -> None:
        parts = self.root.strip("/").split("/")
        if STAGING_DIR in parts:
            raise ValueError(f"{self.root!r} is inside a {STAGING_DIR} folder; write somewhere else")
        if not self.name or self.name in (".", ".."):
            raise ValueError(f"{self.root!r} does not name a folder")

    @property
    def parent(self) -> str:
        """The folder that holds the destination."""
        return posixpath.dirname(self.root)

    @property
    def name(self) -> str:
        """The destination's own name (last path component)."""
        return posixpath.basename(self.root)

    @property
    def manifest(self) -> str:
        """The manifest's path."""
        return posixpath.join(self.root, MANIFEST_NAME)

    @property
    def area(self) -> str:
        """This destination's staging area: ``<parent>/.bulkwriter-staging/<name>``."""
        return posixpath.join(self.parent, STAGING_DIR, self.name)

    @property
    def lock(self) -> str:
        """The writer lock's path."""
        return posixpath.join(self.area, LOCK_NAME)

    def write_dir(self, write_id: str) -> str:
        """The folder of write ``write_id`` in the staging area."""
        return posixpath.join(self.area, write_id)

    def journal(self, write_id: str) -> str:
        """The commit journal of write ``write_id``."""
        return posixpath.join(self.write_dir(write_id), JOURNAL_NAME)

    def shard_dir(self, write_id: str, shard: str) -> str:
        """Where writer ``shard`` of write ``write_id`` stages its files."""
        return posixpath.join(self.write_dir(write_id), "shards", shard)

    def publish_dir(self, write_id: str) -> str:
        """Local disks: where the new output is assembled before its one rename into place."""
        return posixpath.join(self.write_dir(write_id), "out")

    def aside_dir(self, write_id: str) -> str:
        """Local disks without an atomic exchange: where the old output waits while the new one moves in."""
        return posixpath.join(self.write_dir(write_id), "old")

    def relative(self, path: str) -> str:
        """``path`` (under the root) relative to the root."""
        return posixpath.relpath(path, self.root)
