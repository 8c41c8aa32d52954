"""Read a case's output back, independently of the writer: row count, primary-key sum, bytes.

A case counts only when the files on disk hold exactly the rows it claims (ids ``1..n``, so
the sum of the ``id`` column must be ``n(n+1)/2``): a fast writer that drops, repeats or
mangles rows cannot win. Readers are streaming (Parquet metadata and one column, NumPy
memory maps, JSON Lines line by line, CSV through pyarrow's streaming reader); a JSON document
is parsed whole (about 2-3x its size in memory, in the parent process, never in a timed case).
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["Readback", "read_back"]

#: Files a writer leaves next to its data that are not data (bulkwriter's manifest).
_NOT_DATA = {"_bulkwriter.json"}
_SUFFIX = {"parquet": ".parquet", "json": ".json", "jsonl": ".jsonl", "csv": ".csv", "numpy": ".npy"}


@dataclass(frozen=True)
class Readback:
    """What the files hold.

    Attributes
    ----------
    rows : int
        Rows read back.
    id_sum : int
        Sum of the primary key column ``id``.
    bytes : int
        Total size of the data files, bytes.
    files : int
        Data files (a NumPy chunk folder counts once).
    """

    rows: int
    id_sum: int
    bytes: int
    files: int


def _data_files(root: Path, fmt: str) -> list[Path]:
    suffix = _SUFFIX[fmt]
    found = [p for p in root.rglob(f"*{suffix}") if p.is_file() and p.name not in _NOT_DATA]
    return sorted(p for p in found if ".bulkwriter-staging" not in p.parts)


def _parquet(path: Path) -> tuple[int, int]:
    table = pq.read_table(path, columns=["id"])
    return table.num_rows, int(np.asarray(table.column("id").to_numpy(), dtype=np.int64).sum())


def _jsonl(path: Path) -> tuple[int, int]:
    rows = total = 0
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                rows += 1
                total += int(orjson.loads(line)["id"])
    return rows, total


def _json(path: Path) -> tuple[int, int]:
    """One document: parsed whole with orjson (ijson's event stream is ~20 MB/s on vectors)."""
    document = orjson.loads(path.read_bytes())
    rows = document["rows"] if isinstance(document, dict) else document
    return len(rows), sum(int(row["id"]) for row in rows)


def _csv(path: Path) -> tuple[int, int]:
    with path.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header}, include_columns=["id"]
    )
    parse = pacsv.ParseOptions(newlines_in_values=True)
    rows = total = 0
    with pacsv.open_csv(path, parse_options=parse, convert_options=convert) as reader:
        for batch in reader:
            ids = batch.column(0).cast(pa.int64())
            rows += batch.num_rows
            total += int(np.asarray(ids.to_numpy(), dtype=np.int64).sum())
    return rows, total


def _numpy(files: list[Path]) -> tuple[int, int, int]:
    """Each folder is one chunk: every ``.npy`` in it must have the same length."""
    folders: dict[Path, list[Path]] = defaultdict(list)
    for path in files:
        folders[path.parent].append(path)
    rows = total = 0
    for folder, members in folders.items():
        lengths = {len(np.load(p, mmap_mode="r", allow_pickle=False)) for p in members}
        if len(lengths) != 1:
            raise ValueError(f"{folder}: .npy files of different lengths {sorted(lengths)}")
        ids = np.load(folder / "id.npy", mmap_mode="r", allow_pickle=False)
        rows += lengths.pop()
        total += int(np.asarray(ids, dtype=np.int64).sum())
    return rows, total, len(folders)


def read_back(root: str | os.PathLike[str], fmt: str) -> Readback:
    """Read every data file of format ``fmt`` under ``root``.

    Raises
    ------
    ValueError
        A file cannot be read as its format (the case then fails verification).
    """
    files = _data_files(Path(root), fmt)
    nbytes = sum(p.stat().st_size for p in files)
    if fmt == "numpy":
        rows, total, count = _numpy(files)
        return Readback(rows, total, nbytes, count)
    reader = {"parquet": _parquet, "json": _json, "jsonl": _jsonl, "csv": _csv}[fmt]
    rows = total = 0
    for path in files:
        r, s = reader(path)
        rows += r
        total += s
    return Readback(rows, total, nbytes, len(files))
