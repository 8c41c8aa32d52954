"""Deterministic benchmark workloads: the same data as rows, as a table, or as a stream of batches.

Every workload builds its data in blocks of :data:`BLOCK_ROWS` rows, each from its own seeded
generator, so row ``i`` has the same values whatever the form or the row count. Primary keys
are ``1..n`` (the verifier checks their count and sum).

Vectors come from a pool of :data:`VECTOR_POOL` distinct seeded vectors (row ``i`` gets vector
``i % VECTOR_POOL``): the row form then holds ``n`` dicts but only ``VECTOR_POOL`` Python float
lists, so the input's own memory does not drown the writer's. Every other value is per row.

- ``standard``: id Int64 pk, 768-d FloatVector, VarChar(512) title (~60 characters, some
  non-ASCII), Float score, Array<VarChar(64)> tags (0-8 items, max_capacity 8), JSON attrs
  (small object), dynamic field on with two extra keys per row (``source``, ``rank``).
- ``narrow``: id Int64 pk + 128-d FloatVector.
- ``debian``: the real sample (``bulkwriter/data/debian_packages_sample.parquet``, 1,988 rows,
  384-d embeddings) tiled to ``n`` rows with new ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["BLOCK_ROWS", "VECTOR_POOL", "WORKLOADS", "Workload", "expected_id_sum", "get_workload"]

#: Rows generated per seeded block.
BLOCK_ROWS = 8_192
#: Distinct vectors per workload (row ``i`` uses vector ``i % VECTOR_POOL``).
VECTOR_POOL = 1_000
SEED = 20_240_605
DATA_DIR = Path(__file__).resolve().parent.parent / "bulkwriter" / "data"

_WORDS = (
    "vector",
    "search",
    "index",
    "import",
    "bulk",
    "milvus",
    "column",
    "parquet",
    "stream",
    "batch",
    "fast",
    "schema",
    "graph",
    "river",
    "mountain",
    "coffee",
    "paper",
    "signal",
    "engine",
    "harbor",
    "garden",
    "silver",
    "winter",
    "café",
    "naïve",
    "Zürich",
    "straße",
    "niño",
    "façade",
    "Ångström",
    "東京",
    "Москва",
    "Αθήνα",
    "数据",
    "ünïcödé",
)
_TAGS = [f"tag-{i:02d}" for i in range(56)] + [
    "café",
    "日本",
    "москва",
    "ελλάδα",
    "naïve",
    "straße",
    "中文",
    "ñ",
]
_LANGS = ("en", "de", "fr", "ja", "ru", "el", "zh", "es")
_SOURCES = ("crawler", "upload", "api", "import", "partner")


def expected_id_sum(rows: int) -> int:
    """Sum of the primary keys ``1..rows``."""
    return rows * (rows + 1) // 2


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([SEED, *key])


@dataclass
class Workload:
    """One workload: its collection schema and its data in every form.

    Attributes
    ----------
    name : str
        ``standard``, ``narrow`` or ``debian``.
    schema : dict
        The collection schema in Milvus RESTful v2 JSON form.
    dim : int
        Dimension of the FloatVector field ``vector_field``.
    """

    name: str
    schema: dict[str, Any]
    dim: int
    vector_field: str = "embedding"
    _kind: str = field(default="synthetic", repr=False)

    # -- building blocks ------------------------------------------------------------------
    @cached_property
    def _pool(self) -> npt.NDArray[np.float32]:
        vectors = _rng(0, self.dim).standard_normal((VECTOR_POOL, self.dim), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    @cached_property
    def _pool_lists(self) -> list[list[float]]:
        return self._pool.tolist()  # type: ignore[no-any-return]

    @cached_property
    def _debian(self) -> pa.Table:
        return pq.read_table(DATA_DIR / "debian_packages_sample.parquet")

    @cached_property
    def _debian_rows(self) -> list[dict[str, Any]]:
        return self._debian.to_pylist()  # type: ignore[no-any-return]

    def _block_columns(self, start: int, stop: int) -> dict[str, Any]:
        """Python/NumPy columns of rows ``start..stop`` (one block or less)."""
        n = stop - start
        ids = np.arange(start + 1, stop + 1, dtype=np.int64)
        index = np.arange(start, stop) % VECTOR_POOL
        columns: dict[str, Any] = {"id": ids, "embedding": index}
        if self.name == "narrow":
            return columns
        rng = _rng(1, start // BLOCK_ROWS)
        words = rng.integers(0, len(_WORDS), size=(n, 10))
        columns["title"] = [
            " ".join(_WORDS[w] for w in row)[:52] + f" #{i}"
            for i, row in zip(ids.tolist(), words.tolist(), strict=True)
        ]
        columns["score"] = rng.random(n, dtype=np.float32)
        counts = rng.integers(0, 9, size=n).tolist()
        picks = rng.integers(0, len(_TAGS), size=(n, 8)).tolist()
        columns["tags"] = [[_TAGS[t] for t in row[:c]] for row, c in zip(picks, counts, strict=True)]
        langs = rng.integers(0, len(_LANGS), size=n).tolist()
        views = rng.integers(0, 1_000_000, size=n).tolist()
        draft = (rng.random(n) < 0.1).tolist()
        columns["attrs"] = [
            {"lang": _LANGS[lang], "views": v, "draft": d}
            for lang, v, d in zip(langs, views, draft, strict=True)
        ]
        columns["source"] = [_SOURCES[s] for s in rng.integers(0, len(_SOURCES), size=n).tolist()]
        columns["rank"] = rng.integers(0, 10_000, size=n).tolist()
        return columns

    def _block_table(self, start: int, stop: int) -> pa.Table:
        if self._kind == "debian":
            base = self._debian
            table = base.take(pa.array(np.arange(start, stop) % base.num_rows))
            ids = pa.array(np.arange(start + 1, stop + 1, dtype=np.int64))
            return table.set_column(table.schema.get_field_index("id"), "id", ids)
        cols = self._block_columns(start, stop)
        matrix = self._pool[cols["embedding"]]
        arrays: dict[str, pa.Array] = {
            "id": pa.array(cols["id"]),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), self.dim),
        }
        if self.name == "standard":
            arrays["title"] = pa.array(cols["title"], pa.string())
            arrays["score"] = pa.array(cols["score"])
            arrays["tags"] = pa.array(cols["tags"], pa.list_(pa.string()))
            arrays["attrs"] = pa.array([orjson.dumps(a).decode() for a in cols["attrs"]], pa.string())
            arrays["source"] = pa.array(cols["source"], pa.string())
            arrays["rank"] = pa.array(cols["rank"], pa.int64())
        return pa.table(arrays)

    def _block_rows(self, start: int, stop: int) -> list[dict[str, Any]]:
        if self._kind == "debian":
            base = self._debian_rows
            return [{**base[i % len(base)], "id": i + 1} for i in range(start, stop)]
        cols = self._block_columns(start, stop)
        pool = self._pool_lists
        ids = cols["id"].tolist()
        vectors = [pool[i] for i in cols["embedding"].tolist()]
        if self.name == "narrow":
            return [{"id": i, "embedding": v} for i, v in zip(ids, vectors, strict=True)]
        return [
            {"id": i, "embedding": v, "title": t, "score": s, "tags": g, "attrs": a, "source": src, "rank": r}
            for i, v, t, s, g, a, src, r in zip(
                ids,
                vectors,
                cols["title"],
                cols["score"].tolist(),
                cols["tags"],
                cols["attrs"],
                cols["source"],
                cols["rank"],
                strict=True,
            )
        ]

    @staticmethod
    def _blocks(rows: int) -> Iterator[tuple[int, int]]:
        for start in range(0, rows, BLOCK_ROWS):
            yield start, min(rows, start + BLOCK_ROWS)

    # -- the forms ------------------------------------------------------------------------
    def rows(self, n: int) -> list[dict[str, Any]]:
        """``n`` row dicts (a pipeline's ``append_row`` input); dynamic keys at top level."""
        out: list[dict[str, Any]] = []
        for start, stop in self._blocks(n):
            out.extend(self._block_rows(start, stop))
        return out

    def table(self, n: int) -> pa.Table:
        """``n`` rows as one ``pyarrow.Table`` (vectors ``fixed_size_list<float32>``, JSON as text)."""
        blocks = [self._block_table(start, stop) for start, stop in self._blocks(n)]
        if not blocks:
            return self._block_table(0, 0)
        return pa.concat_tables(blocks).combine_chunks()

    def batches(self, n: int) -> Iterator[pa.RecordBatch]:
        """``n`` rows as record batches made on the fly (bounded input memory)."""
        for start, stop in self._blocks(n):
            yield from self._block_table(start, stop).to_batches()

    @property
    def has_dynamic(self) -> bool:
        """Whether the dynamic field is on."""
        return bool(self.schema.get("enabledDynamicField"))


def _standard_schema() -> dict[str, Any]:
    return {
        "collectionName": "bench_standard",
        "enabledDynamicField": True,
        "fields": [
            {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
            {"fieldName": "embedding", "dataType": "FloatVector", "elementTypeParams": {"dim": 768}},
            {"fieldName": "title", "dataType": "VarChar", "elementTypeParams": {"max_length": 512}},
            {"fieldName": "score", "dataType": "Float"},
            {
                "fieldName": "tags",
                "dataType": "Array",
                "elementDataType": "VarChar",
                "elementTypeParams": {"max_capacity": 8, "max_length": 64},
            },
            {"fieldName": "attrs", "dataType": "JSON"},
        ],
    }


def _narrow_schema() -> dict[str, Any]:
    return {
        "collectionName": "bench_narrow",
        "enabledDynamicField": False,
        "fields": [
            {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
            {"fieldName": "embedding", "dataType": "FloatVector", "elementTypeParams": {"dim": 128}},
        ],
    }


def _debian_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((DATA_DIR / "debian_packages_schema.json").read_text())
    schema.setdefault("collectionName", "bench_debian")
    return schema


WORKLOADS: tuple[str, ...] = ("standard", "narrow", "debian")


def get_workload(name: str) -> Workload:
    """Return the workload called ``name`` (one of :data:`WORKLOADS`)."""
    if name == "standard":
        return Workload("standard", _standard_schema(), 768)
    if name == "narrow":
        return Workload("narrow", _narrow_schema(), 128)
    if name == "debian":
        return Workload("debian", _debian_schema(), 384, _kind="debian")
    raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
