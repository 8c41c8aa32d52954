"""What the commit proofs assert, read straight from storage (not through bulkwriter).

A destination is *whole* when its manifest lists files that all exist, nothing else is
under it, and the rows read back are the expected ones. :func:`outputs_equal` compares
byte for byte (the old output must survive a failed write unchanged).
"""

from __future__ import annotations

import io
import json
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow.parquet as pq

MANIFEST = "_bulkwriter.json"
STAGING = ".bulkwriter-staging"

#: Registered by the matrix tests, printed at the end of the run (conftest.py).
MATRIX_LINES: list[str] = []

SCHEMA = {
    "fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}},
    ]
}


def columns(ids: Iterable[int]) -> dict[str, Any]:
    """Rows with these primary keys (vectors derived from them)."""
    ids = np.asarray(list(ids), dtype=np.int64)
    return {"id": ids, "vec": np.repeat(ids.astype(np.float32)[:, None], 4, axis=1)}


def write(fs: Any, root: str, ids: list[int], mode: str, fmt: str = "parquet", **kw: Any) -> Any:
    """``bulkwriter.write`` of :func:`columns` ``(ids)`` to ``root`` on ``fs``, two rows a file."""
    import bulkwriter

    return bulkwriter.write(
        columns(ids), root, schema=SCHEMA, format=fmt, mode=mode, filesystem=fs, max_rows_per_file=2, **kw
    )


def files_under(fs: Any, path: str) -> dict[str, bytes]:
    """Every file under ``path`` (relative path -> bytes), fresh."""
    fs.invalidate_cache()
    try:
        found = fs.find(path)
    except FileNotFoundError:
        return {}
    base = path.rstrip("/") + "/"
    out = {}
    for p in map(str, found):
        assert p.startswith(base), (p, base)
        out[p[len(base) :]] = bytes(fs.cat_file(p))
    return out


def staging_files(fs: Any, root: str) -> list[str]:
    """Files in the destination's staging area ``<parent>/.bulkwriter-staging/<name>/``."""
    area = posixpath.join(posixpath.dirname(root), STAGING, posixpath.basename(root))
    return sorted(files_under(fs, area))


@dataclass
class Output:
    """A destination as found: its files, its manifest, and what the manifest does not cover."""

    files: dict[str, bytes]
    manifest: dict[str, Any] | None
    unlisted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def write_id(self) -> str | None:
        return None if self.manifest is None else str(self.manifest["write_id"])


def read_output(fs: Any, root: str) -> Output:
    """Read the destination ``root``: files, manifest, unlisted and missing files."""
    files = files_under(fs, root)
    manifest = json.loads(files[MANIFEST]) if MANIFEST in files else None
    listed = {MANIFEST}
    if manifest is not None:
        for f in manifest["files"]:
            listed.update(f["import_paths"])
    unlisted = sorted(set(files) - listed)
    missing = sorted(listed - set(files))
    return Output(files, manifest, unlisted, missing)


def ids_of(fs: Any, root: str, out: Output) -> list[int]:
    """The primary keys of every file the manifest lists, in order, read with pyarrow / numpy."""
    assert out.manifest is not None
    ids: list[int] = []
    for f in out.manifest["files"]:
        paths = f["import_paths"]
        if len(paths) == 1 and paths[0].endswith(".parquet"):
            ids += pq.read_table(io.BytesIO(out.files[paths[0]])).column("id").to_pylist()
        else:
            (id_path,) = [p for p in paths if p.endswith("/id.npy")]
            ids += np.load(io.BytesIO(out.files[id_path]), allow_pickle=False).tolist()
    return ids


def assert_whole(fs: Any, root: str, expected_ids: list[int], context: str = "") -> Output:
    """The destination is a complete output holding exactly ``expected_ids``, nothing else."""
    out = read_output(fs, root)
    assert out.manifest is not None, f"no manifest at {root} {context}"
    assert not out.missing, f"manifest lists missing files {out.missing} {context}"
    assert not out.unlisted, f"files no manifest lists: {out.unlisted} {context}"
    assert ids_of(fs, root, out) == expected_ids, context
    return out
