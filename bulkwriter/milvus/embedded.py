"""Run the Milvus 2.3.5 standalone server shipped in the ``milvus`` wheel, on this machine.

PyPI ``milvus==2.3.5`` (extra ``bulkwriter[milvus-server]``) holds a full Milvus standalone
binary that runs offline with local storage and does bulk insert (``milvus-server.md`` of
this project: the recipe, the ports and the limits). :class:`EmbeddedMilvus` starts it as a
child of this process, waits until the proxy answers a real call, and stops it by its pid.

One server per machine: its embedded etcd always binds 127.0.0.1:2379 and 2380, so a
machine-wide lock (:data:`LOCK_FILE`) makes a second start wait for the first to stop, and
busy etcd ports held by a server not started here fail clearly. Every role is pinned to
127.0.0.1 (otherwise each registers "the first unicastable address" and they cannot reach
one another on an isolated host); the other ports move to free ones and are read back.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
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
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from bulkwriter._deps import import_optional
from bulkwriter.errors import BulkWriterError

__all__ = ["ETCD_PORTS", "LOCK_FILE", "PID_FILE", "EmbeddedMilvus", "EmbeddedServerError", "default_base_dir"]

#: Roles whose ``<role>.ip`` must be loopback (milvus-server.md).
ROLES = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
#: The embedded etcd always binds these; one Milvus per machine.
ETCD_PORTS = (2379, 2380)
#: Machine-wide: the etcd ports are machine-wide, so the lock is too.
LOCK_FILE = Path(tempfile.gettempdir()) / "bulkwriter-milvus-2.3.5.lock"
#: The pid and executable of the running server, to stop one a killed process left behind.
PID_FILE = Path(tempfile.gettempdir()) / "bulkwriter-milvus-2.3.5.pid"
_PR_SET_PDEATHSIG = 1


class EmbeddedServerError(BulkWriterError, RuntimeError):
    """The embedded Milvus server could not start (ports busy, it exited, it never answered)."""


def default_base_dir() -> Path:
    """Where the server's binary is unpacked (~250 MB, once): ``$XDG_CACHE_HOME/bulkwriter``."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "bulkwriter" / "milvus-2.3.5"


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
    try:  # a zombie is "alive" for kill(0); it is dead
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGKILL the server when the process that started it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _stop_pid(pid: int, grace_s: float = 2.0) -> None:
    """SIGTERM ``pid``, SIGKILL it after ``grace_s`` seconds; return once it is gone."""
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


def _stop_stale_server() -> str | None:
    """Stop a server a killed process left behind (the one :data:`PID_FILE` names).

    Only a process running the recorded executable is touched. Returns a note, or None.
    """
    try:
        pid_text, exe = PID_FILE.read_text(encoding="utf-8").split("\n", 1)
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    note = None
    try:
        running_exe: str | None = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        running_exe = None
    if running_exe is not None and os.path.realpath(running_exe) == os.path.realpath(exe.strip()):
        _stop_pid(pid, grace_s=1.0)
        note = f"stopped a stale Milvus (pid {pid}) an earlier process left running"
    PID_FILE.unlink(missing_ok=True)
    return note


class EmbeddedMilvus:
    """A Milvus 2.3.5 standalone server (local storage) from the ``milvus`` wheel.

    Use it as a context manager, or call :meth:`start` and always :meth:`stop`::

        with EmbeddedMilvus() as server:
            import_files(result, uri=server.uri, collection="docs")

    Parameters
    ----------
    base_dir : str or os.PathLike, optional
        Keeps ``bin/`` (the unpacked binary, ~250 MB) between runs; ``data/``, ``logs/``
        and ``run/`` are wiped on every start, so each start is an empty server. Default
        :func:`default_base_dir`.
    start_timeout_s : float, default 120.0
        Seconds the server may take to answer (the first start unpacks the binary).
    lock_timeout_s : float, default 600.0
        Seconds to wait for another process's server on this machine to stop.
    extra_config : dict of str to str, optional
        ``milvus.yaml`` keys to set (e.g. ``{"common.storageType": "minio", ...}``); only
        keys of the wheel's config template take effect.

    Attributes
    ----------
    host : str
        ``"127.0.0.1"``.
    port : int
        The gRPC / REST proxy port (19530 unless busy); 0 before :meth:`start`.
    pid : int or None
        The server's pid once started.
    timings : dict of str to float
        ``start_s``, ``unpack_s``, ``stop_s`` in seconds.
    notes : list of str
        What start noticed (e.g. a stale server it stopped).

    Raises
    ------
    MissingDependencyError
        The ``milvus`` wheel (``bulkwriter[milvus-server]``) or pymilvus is not installed.
    EmbeddedServerError
        The etcd ports are held by a server not started here, the server exited while
        starting, another process's server held the machine lock for ``lock_timeout_s``,
        or it did not answer within ``start_timeout_s``. Whatever was started is stopped.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str] | None = None,
        *,
        start_timeout_s: float = 120.0,
        lock_timeout_s: float = 600.0,
        extra_config: dict[str, str] | None = None,
    ) -> None:
        self.base_dir = Path(base_dir) if base_dir is not None else default_base_dir()
        self.start_timeout_s = float(start_timeout_s)
        self.lock_timeout_s = float(lock_timeout_s)
        self.extra_config = dict(extra_config or {})
        self.host = "127.0.0.1"
        self.port = 0
        self.pid: int | None = None
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock_fh: IO[str] | None = None
        self._log_fhs: list[IO[bytes]] = []

    @property
    def uri(self) -> str:
        """``http://127.0.0.1:<port>``: what :func:`bulkwriter.milvus.import_files` takes."""
        return f"http://{self.host}:{self.port}"

    @property
    def logs_dir(self) -> Path:
        """The server's log folder (``milvus-stdout.log``, ``milvus-stderr.log``, ``etcd.log``)."""
        return self.base_dir / "logs"

    @property
    def running(self) -> bool:
        """Whether the server process started here is still running."""
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, n_chars: int = 3000) -> str:
        """The last ``n_chars`` characters of the server's stdout and stderr logs."""
        out = []
        for name in ("milvus-stderr.log", "milvus-stdout.log"):
            path = self.logs_dir / name
            with contextlib.suppress(OSError):
                text = path.read_text(encoding="utf-8", errors="replace")
                out.append(f"--- {path} (tail) ---\n{text[-n_chars:]}")
        return "\n".join(out)

    def __enter__(self) -> EmbeddedMilvus:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> EmbeddedMilvus:
        """Start the server and wait until its proxy answers; returns ``self``.

        Raises
        ------
        MissingDependencyError, EmbeddedServerError
            As the class says; on failure everything started so far is stopped again.
        """
        wheel = import_optional("milvus", extra="milvus-server")
        import_optional("pymilvus", extra="milvus-server")
        t0 = time.monotonic()
        self._acquire_lock()
        try:
            self._start(wheel, t0)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server by its pid (SIGTERM, then SIGKILL) and release the lock. Idempotent."""
        t0 = time.monotonic()
        if self._proc is not None:
            _stop_pid(self._proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
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

    def _acquire_lock(self) -> None:
        self._lock_fh = open(LOCK_FILE, "a+")  # noqa: SIM115 - held until stop()
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._lock_fh.close()
                    self._lock_fh = None
                    raise EmbeddedServerError(
                        f"another process has run its Milvus server on this machine ({LOCK_FILE}) "
                        f"for more than {self.lock_timeout_s:.0f}s"
                    ) from None
                time.sleep(0.5)

    def _start(self, wheel: Any, t0: float) -> None:
        note = _stop_stale_server()
        if note:
            self.notes.append(note)
        busy = [p for p in ETCD_PORTS if _port_open(p)]
        if busy:
            raise EmbeddedServerError(
                f"127.0.0.1 ports {busy} are in use: another Milvus or etcd runs on this machine, "
                "not one bulkwriter started; stop it first"
            )
        self.base_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("data", "logs", "run"):
            shutil.rmtree(self.base_dir / sub, ignore_errors=True)
        server = wheel.MilvusServer(wait_for_started=False, data_dir=str(self.base_dir))
        for role in ROLES:
            server.config.set(f"{role}.ip", "127.0.0.1")
        for key, value in self.extra_config.items():
            server.config.set(key, value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)  # the wheel's port probe leaks sockets
            server.config.resolve()  # free ports, configs/milvus.yaml, data/ and logs/
            web_port, sock = server.config.resolve_port(9091)
            sock.close()
            gc.collect()
        t_unpack = time.monotonic()
        wheel._initialize_data_files(str(self.base_dir))  # a no-op when bin/ is current
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
            start_new_session=True,  # a terminal's Ctrl+C reaches this process, which stops it
            preexec_fn=_set_pdeathsig if sys.platform.startswith("linux") else None,
        )
        self.pid = self._proc.pid
        PID_FILE.write_text(f"{self.pid}\n{exe}", encoding="utf-8")
        self._wait_healthy(web_port, t0)
        self.timings["start_s"] = time.monotonic() - t0

    def _wait_healthy(self, web_port: int, t0: float) -> None:
        proc = self._proc
        assert proc is not None
        deadline = t0 + self.start_timeout_s
        url = f"http://127.0.0.1:{web_port}/healthz"
        while True:
            code = proc.poll()
            if code is not None:
                raise EmbeddedServerError(f"milvus exited with code {code} while starting\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"Milvus not healthy after {self.start_timeout_s:.0f}s\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if b"OK" in resp.read():
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        self._wait_proxy(deadline)

    def _wait_proxy(self, deadline: float) -> None:
        """/healthz says OK before the proxy always serves: prove it with a real call."""
        from pymilvus import connections, utility

        alias = f"_bulkwriter_embedded_probe_{id(self)}"
        last: Exception | None = None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)  # pymilvus 3.0 ORM notice
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
        raise EmbeddedServerError(f"Milvus proxy never answered: {last}\n{self.log_tail()}")
