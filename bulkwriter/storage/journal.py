"""A write's commit journal ``<write folder>/_commit.json``: what its commit may change, written first.

Before a commit changes anything under the destination it writes this record into its
write folder in the staging area. If the writer then dies (or its rollback fails), the
journal and the manifest together say exactly what to undo or finish
(:mod:`bulkwriter.storage.recovery`):

* the manifest names this write (``write_id``): the commit happened; files the journal
  ``removes`` that are still there are leftovers of the old output, to be removed;
* it does not: the commit did not happen; files the journal ``places`` that are there are
  this write's, never listed by any manifest, to be removed; an old output the journal
  parked aside (``method="swap"``) goes back in place.

Paths are relative to the destination folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import orjson

__all__ = ["Journal", "Method"]

#: How a commit publishes (see :mod:`bulkwriter.storage`):
#: ``rename`` new local output, one folder rename; ``exchange`` local overwrite, one atomic
#: swap; ``swap`` local overwrite without an exchange (old output set aside, new one renamed
#: in); ``files`` local append, file renames then the manifest; ``copy`` object stores.
Method = Literal["rename", "exchange", "swap", "files", "copy"]


@dataclass(frozen=True)
class Journal:
    """The commit plan of one write.

    Attributes
    ----------
    write_id : str
        The write.
    method : str
        How it publishes (:data:`Method`).
    places : tuple of str
        Every path it creates under the destination (files, and folders of folder parts).
    removes : tuple of str
        Every path of the old output it removes once committed (object-store overwrite).
    base_write_id : str or None
        The write id of the manifest it replaces or extends (None: there was none).
    created : str
        When the commit started, UTC, ISO 8601.
    """

    write_id: str
    method: Method
    places: tuple[str, ...]
    removes: tuple[str, ...] = ()
    base_write_id: str | None = None
    created: str = ""

    @classmethod
    def new(
        cls,
        write_id: str,
        method: Method,
        places: tuple[str, ...],
        removes: tuple[str, ...] = (),
        base_write_id: str | None = None,
    ) -> Journal:
        """A journal stamped with the current time."""
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return cls(write_id, method, places, removes, base_write_id, created)

    def to_bytes(self) -> bytes:
        """The journal's JSON."""
        return orjson.dumps(
            {
                "write_id": self.write_id,
                "method": self.method,
                "places": list(self.places),
                "removes": list(self.removes),
                "base_write_id": self.base_write_id,
                "created": self.created,
            }
        )

    @classmethod
    def parse(cls, data: bytes) -> Journal | None:
        """The journal in ``data``, or None when it is not one (a cut write)."""
        try:
            body = orjson.loads(data)
            method = body["method"]
            if method not in ("rename", "exchange", "swap", "files", "copy"):
                return None
            return cls(
                str(body["write_id"]),
                method,
                tuple(str(p) for p in body["places"]),
                tuple(str(p) for p in body.get("removes", [])),
                None if body.get("base_write_id") is None else str(body["base_write_id"]),
                str(body.get("created", "")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
