"""Real-server test support for Milvus 2.3.5: start/stop the server, import files, read rows back.

Two halves:

* :class:`MilvusProcess` starts the standalone server shipped in the ``milvus==2.3.5`` wheel
  (local storage) as a direct child of the test process and stops it again by its pid. The
  conftest fixture ``milvus_server`` wraps it; tests never start servers themselves.
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
import ctypes
import fcntl
import gc
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Roles whose ``<role>.ip`` must be pinned to loopback: otherwise each registers "the first
#: unicastable address" and they cannot reach one another on an isolated host.
ROLES = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
#: The embedded etcd always binds these; one Milvus per machine.
ETCD_PORTS = (2379, 2380)
#: Milvus 2.3 caps ``offset + limit`` of one query at this many rows.
QUERY_WINDOW = 16_384
#: Machine-wide files: the etcd ports are machine-wide, so the lock is too.
LOCK_FILE = Path(tempfile.gettempdir()) / "bulkwriter-milvus-2.3.5.lock"
PID_FILE = Path(tempfile.gettempdir()) / "bulkwriter-milvus-2.3.5.pid"
_DONE_STATES = ("Completed", "Failed", "Failed and cleaned")
_PR_SET_PDEATHSIG = 1


class MilvusStartError(RuntimeError):
    """The server could not be started (ports busy, process died, timeout)."""


@contextlib.contextmanager
def quiet_pymilvus() -> Iterator[None]:
    """Silence pymilvus 3.0's ORM deprecation ``FutureWarning`` inside the block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*PyMilvus")
        yield


# --------------------------------------------------------------------------------------
# server process
# --------------------------------------------------------------------------------------


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is "alive" for kill(0); treat it as dead
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGKILL the child when the test process dies (e.g. pytest is SIGKILLed)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _stop_pid(pid: int, grace_s: float = 2.0) -> None:
    """SIGTERM ``pid``, SIGKILL it after ``grace_s``; return once it is gone (not for children)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.05)


def _kill_stale_server() -> str | None:
    """Stop a server a previous, killed test run left behind (recorded in ``PID_FILE``).

    Only a process whose executable is the recorded one is touched. Returns a note or None.
    """
    try:
        pid_text, exe = PID_FILE.read_text(encoding="utf-8").split("\n", 1)
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    note = None
    try:
        running_exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        running_exe = None
    if running_exe is not None and os.path.realpath(running_exe) == os.path.realpath(exe.strip()):
        _stop_pid(pid, grace_s=1.0)
        note = f"stopped a stale Milvus (pid {pid}) left by an earlier run"
    PID_FILE.unlink(missing_ok=True)
    return note


@dataclass
class MilvusProcess:
    """One Milvus 2.3.5 standalone server (local storage) run from the ``milvus`` wheel.

    ``base_dir`` keeps ``bin/`` (the ~250 MB unpacked binary) between runs; ``data/`` and
    ``logs/`` are wiped on every start. Start with :meth:`start`, always call :meth:`stop`.
    A machine-wide ``flock`` serialises concurrent test runs (etcd's 2379/2380 are fixed).
    """

    base_dir: Path
    start_timeout_s: float = 120.0
    lock_timeout_s: float = 600.0
    host: str = "127.0.0.1"
    port: int = 0
    pid: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _proc: subprocess.Popen[bytes] | None = None
    _lock_fh: Any = None
    _log_fhs: list[Any] = field(default_factory=list)

    @property
    def logs_dir(self) -> Path:
        return self.base_dir / "logs"

    def log_tail(self, n_chars: int = 3000) -> str:
        """The end of the server's stdout/stderr logs, for failure messages."""
        out = []
        for name in ("milvus-stderr.log", "milvus-stdout.log"):
            path = self.logs_dir / name
            with contextlib.suppress(OSError):
                text = path.read_text(encoding="utf-8", errors="replace")
                out.append(f"--- {path} (tail) ---\n{text[-n_chars:]}")
        return "\n".join(out)

    def _acquire_lock(self) -> None:
        self._lock_fh = open(LOCK_FILE, "a+")  # noqa: SIM115 - held for the whole session
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._lock_fh.close()
                    self._lock_fh = None
                    raise MilvusStartError(
                        f"another test run holds {LOCK_FILE} (its Milvus server) for more than "
                        f"{self.lock_timeout_s:.0f}s"
                    ) from None
                time.sleep(0.5)

    def start(self) -> MilvusProcess:
        """Start the server and wait until it answers; raise MilvusStartError on failure.

        On failure everything started so far is stopped again before the error propagates.
        """
        import milvus  # the wheel: config template, compressed binary

        t0 = time.monotonic()
        self._acquire_lock()
        try:
            self._start(milvus, t0)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, milvus: Any, t0: float) -> None:
        note = _kill_stale_server()
        if note:
            self.notes.append(note)
        busy = [p for p in ETCD_PORTS if _port_open(p)]
        if busy:
            raise MilvusStartError(
                f"127.0.0.1 ports {busy} are in use: another Milvus/etcd runs on this machine "
                "(not one this test harness started). Stop it and re-run."
            )
        self.base_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("data", "logs", "run"):
            shutil.rmtree(self.base_dir / sub, ignore_errors=True)

        server = milvus.MilvusServer(wait_for_started=False, data_dir=str(self.base_dir))
        for role in ROLES:
            server.config.set(f"{role}.ip", "127.0.0.1")
        with warnings.catch_warnings():
            # the wheel's port probe leaks a socket per busy port (ResourceWarning)
            warnings.simplefilter("ignore", ResourceWarning)
            server.config.resolve()  # picks free ports, writes configs/milvus.yaml, makes data/ logs/
            web_port, sock = server.config.resolve_port(9091)
            sock.close()
            gc.collect()
        t_unpack = time.monotonic()
        milvus._initialize_data_files(str(self.base_dir))  # no-op when bin/ is current (md5)
        self.timings["unpack_s"] = time.monotonic() - t_unpack
        self.port = int(server.config.get("proxy_port"))

        exe = self.base_dir / "bin" / "milvus"
        env = os.environ.copy()
        env.update(
            DEPLOY_MODE="STANDALONE",
            METRICS_PORT=str(web_port),
            MILVUS_RUN_DIR=str(self.base_dir / "run"),
            LD_LIBRARY_PATH=f"{exe.parent}:{os.environ.get('LD_LIBRARY_PATH', '')}",
        )
        self._log_fhs = [
            open(self.logs_dir / "milvus-stdout.log", "wb"),  # noqa: SIM115 - closed in stop()
            open(self.logs_dir / "milvus-stderr.log", "wb"),  # noqa: SIM115
        ]
        self._proc = subprocess.Popen(
            [str(exe), "run", "standalone"],
            cwd=self.base_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_fhs[0],
            stderr=self._log_fhs[1],
            start_new_session=True,  # a terminal Ctrl+C reaches pytest, which then stops us
            preexec_fn=_set_pdeathsig if sys.platform.startswith("linux") else None,
        )
        self.pid = self._proc.pid
        PID_FILE.write_text(f"{self.pid}\n{exe}", encoding="utf-8")
        self._wait_healthy(web_port, t0)
        self.timings["start_s"] = time.monotonic() - t0

    def _wait_healthy(self, web_port: int, t0: float) -> None:
        assert self._proc is not None
        url = f"http://127.0.0.1:{web_port}/healthz"
        deadline = t0 + self.start_timeout_s
        while True:
            code = self._proc.poll()
            if code is not None:
                raise MilvusStartError(f"milvus exited with code {code} while starting\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise MilvusStartError(
                    f"Milvus not healthy after {self.start_timeout_s:.0f}s\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if b"OK" in resp.read():
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        # healthz says OK before the proxy always serves requests: prove it with a real call
        from pymilvus import connections, utility

        alias = "_milvus_harness_probe"
        last: Exception | None = None
        with quiet_pymilvus():
            while time.monotonic() < deadline:
                try:
                    connections.connect(alias=alias, host=self.host, port=str(self.port), timeout=10)
                    utility.list_collections(using=alias)
                    return
                except Exception as exc:  # noqa: BLE001 - any error means "not yet"
                    last = exc
                    time.sleep(0.5)
                finally:
                    with contextlib.suppress(Exception):
                        connections.disconnect(alias)
        raise MilvusStartError(f"Milvus proxy never answered: {last}\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server by its pid (SIGTERM, then SIGKILL) and release the lock. Idempotent."""
        t0 = time.monotonic()
        if self._proc is not None:
            _stop_pid(self._proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)  # reap
            self._proc = None
            with contextlib.suppress(OSError):
                if PID_FILE.read_text(encoding="utf-8").split("\n", 1)[0] == str(self.pid):
                    PID_FILE.unlink()
        for fh in self._log_fhs:
            fh.close()
        self._log_fhs = []
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None
        self.timings["stop_s"] = time.monotonic() - t0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


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
