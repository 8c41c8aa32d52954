"""Committed file names in tests: ``part-00003-<write id>.parquet`` with the write id set aside.

Every committed name carries its write's id (12 hex digits, bulkwriter.storage.layout);
tests that check which parts exist compare the names without it, and check the id itself
where it matters (:func:`write_ids`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WRITE_ID = re.compile(r"^(part-\d{5,})-([0-9a-f]{12})(?=$|[./])")


def plain(name: str) -> str:
    """``part-00003-3f9a1c2b7d4e.parquet`` -> ``part-00003.parquet`` (any other name unchanged)."""
    return _WRITE_ID.sub(r"\1", name)


def plain_all(names: Iterable[str]) -> list[str]:
    """:func:`plain` of each name, sorted."""
    return sorted(plain(n) for n in names)


def write_ids(names: Iterable[str]) -> set[str]:
    """The write ids found in ``names``."""
    return {m.group(2) for n in names if (m := _WRITE_ID.match(n))}
