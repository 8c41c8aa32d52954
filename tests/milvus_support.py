"""Real-server test support for Milvus 2.3.5: start/stop the server, import files, read rows back.

Two halves:

* :class:`MilvusProcess` (the product's :class:`bulkwriter.milvus.embedded.EmbeddedMilvus`)
  starts the standalone server shipped in the ``milvus==2.3.5`` wheel (local storage) as a
  direct child of the test process and stops it again by its pid. The conftest fixture
  ``milvus_server`` wraps it; :func:`stop_session_milvus` frees the machine's one Milvus slot
  for a test that needs it.
* Helpers the import tests use: :func:`fresh_collection`, :func:`bulk_insert_entries`,
  :func:`fetch_rows`, and the normalisers (:func:`normalise_value`, :func:`normalise_row`,
  :func:`assert_rows_equal`) that put "what was written" and "what came back" into one
  comparable form.

Everything here talks to the connection alias ``"default"`` (the ``milvus_conn`` fixture
connects it). pymilvus 3.0.x flags every ORM call with a ``FutureWarning``
(``PyMilvusDeprecationWarning``); the helpers silence it, and the conftest adds a
``filterwarnings`` mark to every ``milvus``-marked test for direct calls.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bulkwriter.milvus.embedded import EmbeddedMilvus, EmbeddedServerError

#: Milvus 2.3 caps ``offset + limit`` of one query at this many rows.
QUERY_WINDOW = 16_384
_DONE_STATES = ("Completed", "Failed", "Failed and cleaned")

#: The server the fixtures start: the product's own embedded-server runner (one
#: implementation for ``bulkwriter demo --import`` and the tests).
MilvusProcess = EmbeddedMilvus
MilvusStartError = EmbeddedServerError


@contextlib.contextmanager
def quiet_pymilvus() -> Iterator[None]:
    """Silence pymilvus 3.0's ORM deprecation ``FutureWarning`` inside the block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*PyMilvus")
        yield


def stop_session_milvus(request: Any) -> None:
    """Finish the session's ``milvus_server`` fixture if it ran (its teardown stops the server).

    For a test that needs the machine's one Milvus slot itself (another storage mode, or a
    command that starts its own server); a later test asking for ``milvus_server`` starts
    a new one.
    """
    manager = request._fixturemanager
    found: list[Any] = []
    for attr in ("_arg2fixturedefs", "_arg2node2fixturedefs", "_arg2nodeid2fixturedefs"):  # pytest 8 / 9
        entry = getattr(manager, attr, {}).get("milvus_server")
        for item in (entry.values() if isinstance(entry, dict) else [entry]) if entry else []:
            found.extend(item if isinstance(item, (list, tuple)) else [item])
    for fixturedef in found:
        if getattr(fixturedef, "cached_result", None) is not None:
            fixturedef.finish(request)


# --------------------------------------------------------------------------------------
# collections and imports
# --------------------------------------------------------------------------------------


def _vector_field(pymilvus_schema: Any) -> Any:
    from pymilvus import DataType

    vectors = [
        f for f in pymilvus_schema.fields if f.dtype in (DataType.FLOAT_VECTOR, DataType.BINARY_VECTOR)
    ]
    if len(vectors) != 1:
        raise ValueError(f"Milvus 2.3 needs exactly one vector field, schema has {[f.name for f in vectors]}")
    return vectors[0]


def fresh_collection(name: str, pymilvus_schema: Any, *, using: str = "default") -> Any:
    """Create collection ``name`` anew (dropping any old one) with a FLAT index on its vector.

    The metric fits the vector type: L2 for FloatVector, HAMMING for BinaryVector
    (2.3.5 allows one vector field per collection). Returns the ``pymilvus.Collection``.
    The index exists before the import, so ``Completed`` means "indexed"; load after importing.
    """
    from pymilvus import Collection, DataType, utility

    vec = _vector_field(pymilvus_schema)
    if vec.dtype == DataType.BINARY_VECTOR:
        index = {"index_type": "BIN_FLAT", "metric_type": "HAMMING", "params": {}}
    else:
        index = {"index_type": "FLAT", "metric_type": "L2", "params": {}}
    with quiet_pymilvus():
        if utility.has_collection(name, using=using):
            utility.drop_collection(name, using=using)
        coll = Collection(name, pymilvus_schema, using=using)
        coll.create_index(vec.name, index)
    return coll


@dataclass
class ImportReport:
    """What :func:`bulk_insert_entries_report` saw for each task."""

    rows: int
    seconds: list[float]


def _wait_task(task_id: int, deadline: float, using: str) -> Any:
    from pymilvus import utility

    while True:
        state = utility.get_bulk_insert_state(task_id, using=using)
        if state.state_name in _DONE_STATES:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(
                f"bulk insert task {task_id} still {state.state_name!r} after its time budget "
                f"(progress {state.progress}%)"
            )
        time.sleep(0.2)


def bulk_insert_entries_report(
    collection_name: str,
    entries: Sequence[Sequence[str] | str],
    timeout_s: float = 180,
    *,
    using: str = "default",
) -> ImportReport:
    """Like :func:`bulk_insert_entries`, but also returns the seconds each task took."""
    from pymilvus import utility

    total = 0
    seconds = []
    deadline = time.monotonic() + timeout_s
    with quiet_pymilvus():
        for entry in entries:
            files = [entry] if isinstance(entry, (str, os.PathLike)) else list(entry)
            files = [os.path.abspath(os.fspath(f)) for f in files]  # local mode: absolute paths
            t0 = time.monotonic()
            task = utility.do_bulk_insert(collection_name, files=files, using=using)
            state = _wait_task(task, deadline, using)
            seconds.append(time.monotonic() - t0)
            if state.state_name != "Completed":
                raise AssertionError(
                    f"bulk insert of {files} into {collection_name!r} {state.state_name}: "
                    f"{state.failed_reason}"
                )
            total += int(state.row_count)
    return ImportReport(total, seconds)


def bulk_insert_entries(
    collection_name: str,
    entries: Sequence[Sequence[str] | str],
    timeout_s: float = 180,
    *,
    using: str = "default",
) -> int:
    """Import ``entries`` into ``collection_name``, one ``do_bulk_insert`` task per entry.

    Parameters
    ----------
    entries : list of list of str
        Each entry is one import unit: ``[path]`` of a .json or .parquet file (a bare str is
        taken as ``[str]``), or the ``.npy`` paths of one NumPy chunk folder.
    timeout_s : float
        Budget for all tasks together. Tasks run one at a time; each is awaited before the
        next is submitted, so the first failure is attributed to its own entry.

    Returns
    -------
    int
        Total rows the server reports as imported.

    Raises
    ------
    AssertionError
        A task failed (the message holds the server's ``failed_reason``) or ran out of time.
    """
    return bulk_insert_entries_report(collection_name, entries, timeout_s, using=using).rows


def try_bulk_insert(
    collection_name: str, files: Sequence[str], timeout_s: float = 120
) -> tuple[bool, str, int]:
    """One task; return ``(completed, failed_reason, row_count)`` instead of raising."""
    from pymilvus import utility

    with quiet_pymilvus():
        task = utility.do_bulk_insert(collection_name, files=[os.fspath(f) for f in files])
        state = _wait_task(task, time.monotonic() + timeout_s, "default")
    return state.state_name == "Completed", state.failed_reason, int(state.row_count)


def all_output_fields(pymilvus_schema: Any) -> list[str]:
    """Output fields that return every field of a 2.3 collection (and its dynamic keys).

    ``"*"`` covers the scalar fields and, on a dynamic collection, flattens ``$meta``'s keys
    into the row; vector fields have to be named explicitly.
    """
    from pymilvus import DataType

    vectors = [
        f.name for f in pymilvus_schema.fields if f.dtype in (DataType.FLOAT_VECTOR, DataType.BINARY_VECTOR)
    ]
    return ["*", *vectors]


def _pk_literal(values: Iterable[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def fetch_rows(
    collection: Any,
    pk_field: str,
    output_fields: Sequence[str] | None = None,
    *,
    pks: Iterable[Any] | None = None,
    chunk: int = 1000,
) -> dict[Any, dict[str, Any]]:
    """Load ``collection`` and return ALL its rows keyed by primary key (``Strong`` consistency).

    Parameters
    ----------
    output_fields : list of str, optional
        Default :func:`all_output_fields` (every field, vectors included, dynamic keys flattened).
    pks : iterable, optional
        The keys to read, queried ``pk in [...]`` in chunks of ``chunk``. Without it the rows are
        read in windows of at most 16,384 (the 2.3 query limit): one window when ``count(*)``
        allows, else (Int64 keys) pk ranges bisected until each fits.

    Consistency: ``count(*)`` is read with ``Strong`` consistency (it waits until everything
    imported before the call is visible, ~0.2 s per query on 2.3.5); the reads after it use
    ``Eventually``, which on a loaded collection with no concurrent writes sees the same
    snapshot without paying the wait again (a single window uses ``Strong``). The total is
    checked against the Strong count, so a stale read cannot pass unnoticed.

    Raises
    ------
    AssertionError
        A primary key comes back twice, or fewer/more rows come back than ``count(*)`` says.
    """
    output_fields = list(output_fields or all_output_fields(collection.schema))
    with quiet_pymilvus():
        collection.load()
        count = int(
            collection.query("", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]
        )
        pk_type = next(f for f in collection.schema.fields if f.name == pk_field).dtype
        from pymilvus import DataType

        batches: list[list[dict[str, Any]]] = []
        if pks is not None:
            keys = list(pks)
            for i in range(0, len(keys), chunk):
                expr = f"{pk_field} in {_pk_literal(keys[i : i + chunk])}"
                batches.append(
                    collection.query(expr, output_fields=output_fields, consistency_level="Eventually")
                )
        elif count <= QUERY_WINDOW:
            batches.append(
                collection.query(
                    "", output_fields=output_fields, limit=max(count, 1), consistency_level="Strong"
                )
            )
        elif pk_type == DataType.INT64:
            batches.extend(_query_int_ranges(collection, pk_field, output_fields, -(2**63), 2**63))
        else:
            raise ValueError(f"{count} rows with a {pk_type.name} key: pass pks= to read them")
    rows: dict[Any, dict[str, Any]] = {}
    for batch in batches:
        for row in batch:
            row = dict(row)
            key = row[pk_field]
            if key in rows:
                raise AssertionError(f"primary key {key!r} came back twice")
            rows[key] = row
    if len(rows) != count and (pks is None or len(rows) > count):
        raise AssertionError(f"read {len(rows)} rows but count(*) says {count}")
    return rows


def _query_int_ranges(coll: Any, pk: str, fields: list[str], lo: int, hi: int) -> list[list[dict[str, Any]]]:
    """Rows with ``lo <= pk < hi``, splitting the range until each part fits a query window.

    The expression parser cannot read -2**63 (it negates 2**63), so open ends are left out.
    """
    bounds = ([f"{pk} >= {lo}"] if lo > -(2**63) else []) + ([f"{pk} < {hi}"] if hi < 2**63 else [])
    expr = " and ".join(bounds)
    n = int(coll.query(expr, output_fields=["count(*)"], consistency_level="Eventually")[0]["count(*)"])
    if n == 0:
        return []
    if n <= QUERY_WINDOW or hi - lo <= 1:
        return [coll.query(expr, output_fields=fields, limit=max(n, 1), consistency_level="Eventually")]
    mid = (lo + hi) // 2
    return _query_int_ranges(coll, pk, fields, lo, mid) + _query_int_ranges(coll, pk, fields, mid, hi)


def count_rows(collection: Any) -> int:
    """``count(*)`` with Strong consistency (the collection must be loaded)."""
    with quiet_pymilvus():
        res = collection.query("", output_fields=["count(*)"], consistency_level="Strong")
    return int(res[0]["count(*)"])


# --------------------------------------------------------------------------------------
# value normalisers
# --------------------------------------------------------------------------------------


def f32(x: Any) -> float:
    """Round a number to float32 and back: what a Float/FloatVector value reads back as."""
    return float(np.float32(x))


def _type_name(dtype: Any) -> str:
    """``"FLOAT_VECTOR"`` etc. for a bulkwriter or pymilvus DataType (or a plain name)."""
    return dtype if isinstance(dtype, str) else dtype.name


def binary_vector_bytes(value: Any) -> bytes:
    """A BinaryVector as ``bytes``: from bytes, a list of 0-255 ints, a uint8 array, or the
    ``[b"..."]`` one-element list pymilvus 3.0.2 returns."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, np.ndarray):
        return value.astype(np.uint8).tobytes()
    value = list(value)
    if len(value) == 1 and isinstance(value[0], (bytes, bytearray)):
        return bytes(value[0])
    return bytes(int(v) for v in value)


def _scalar(name: str, value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if name == "BOOL":
        if not isinstance(value, bool):
            raise TypeError(f"expected bool, got {value!r}")
        return value
    if name in ("INT8", "INT16", "INT32", "INT64"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected int, got {value!r}")
        return value
    if name == "FLOAT":
        return f32(value)
    if name == "DOUBLE":
        return float(value)
    if name == "VARCHAR":
        if not isinstance(value, str):
            raise TypeError(f"expected str, got {value!r}")
        return value
    raise ValueError(f"not a scalar type: {name}")


def normalise_value(dtype: Any, value: Any, element_type: Any = None) -> Any:
    """Put one field value into the form used for comparisons, written or read back alike.

    Float and FloatVector -> float32-rounded Python floats; Double -> float; BinaryVector ->
    bytes; JSON -> parsed object (a str is parsed as JSON text); Array -> list of normalised
    elements; NumPy scalars/arrays -> Python values.
    """
    name = _type_name(dtype)
    if isinstance(value, np.ndarray) and name not in ("BINARY_VECTOR",):
        value = value.tolist()
    if name == "FLOAT_VECTOR":
        return [f32(v) for v in value]
    if name == "BINARY_VECTOR":
        return binary_vector_bytes(value)
    if name == "JSON":
        if isinstance(value, (bytes, bytearray)):
            value = value.decode("utf-8")
        return json.loads(value) if isinstance(value, str) else value
    if name == "ARRAY":
        return [_scalar(_type_name(element_type), v) for v in value]
    return _scalar(name, value)


def _fields(schema: Any) -> list[Any]:
    return list(schema.fields)


def _element_type(f: Any) -> Any:
    et = getattr(f, "element_type", None)
    return None if et is None or _type_name(et) in ("UNKNOWN", "NONE") else et


def normalise_row(row: Mapping[str, Any], schema: Any) -> dict[str, Any]:
    """Normalise a whole row (as written, or as returned by :func:`fetch_rows`).

    ``schema`` is a bulkwriter or pymilvus CollectionSchema. Schema fields are normalised by
    type; every other key, plus the content of a ``"$meta"`` key (a dict or JSON object text),
    goes into one ``"$meta"`` dict, present only when non-empty. So a written row
    ``{"id": 1, "$meta": {"k": 1}, "x": 2}`` and a returned ``{"id": 1, "k": 1, "x": 2}``
    normalise alike.
    """
    out: dict[str, Any] = {}
    known = set()
    for f in _fields(schema):
        known.add(f.name)
        if f.name in row:
            try:
                out[f.name] = normalise_value(f.dtype, row[f.name], _element_type(f))
            except (TypeError, ValueError) as exc:
                raise AssertionError(f"field {f.name!r}: {exc}") from exc
    meta: dict[str, Any] = {}
    raw_meta = row.get("$meta")
    if isinstance(raw_meta, (str, bytes)):
        raw_meta = json.loads(raw_meta)
    if raw_meta:
        meta.update(raw_meta)
    for key, value in row.items():
        if key not in known and key != "$meta":
            meta[key] = value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value
    if meta:
        out["$meta"] = meta
    return out


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def assert_rows_equal(
    expected: Mapping[Any, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
    actual: Mapping[Any, Mapping[str, Any]],
    schema: Any,
    *,
    pk_field: str | None = None,
    max_report: int = 10,
) -> None:
    """Assert the rows read back equal the rows written, field by field, after normalising.

    ``expected`` is a list of written rows (keyed here by ``pk_field``) or a dict keyed by
    primary key; ``actual`` is :func:`fetch_rows`' result. Reports up to ``max_report``
    differing values with their key and field.
    """
    if pk_field is None:
        pk_field = next(f.name for f in _fields(schema) if f.is_primary)
    if not isinstance(expected, Mapping):
        expected = {r[pk_field]: r for r in expected}
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    problems = []
    if missing:
        problems.append(f"{len(missing)} keys missing, e.g. {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} unexpected keys, e.g. {extra[:5]}")
    n_diff = 0
    for key, want_row in expected.items():
        if key not in actual:
            continue
        want = normalise_row(want_row, schema)
        got = normalise_row(actual[key], schema)
        for name in sorted(set(want) | set(got)):
            if name not in got or name not in want or not _close(want[name], got[name]):
                n_diff += 1
                if n_diff <= max_report:
                    problems.append(
                        f"pk={key!r} field {name!r}: wrote {want.get(name, '<absent>')!r}, "
                        f"read {got.get(name, '<absent>')!r}"
                    )
    if n_diff > max_report:
        problems.append(f"... {n_diff - max_report} more differing values")
    if problems:
        raise AssertionError(f"{len(expected)} rows compared:\n" + "\n".join(problems))
