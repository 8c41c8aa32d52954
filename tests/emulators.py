"""Storage emulators for tests: moto S3, gcp-storage-emulator and Azurite, one each per run.

Recipe: shared/docs/storage-emulators.md. Each emulator is a session-scoped fixture that
starts the server on 127.0.0.1 (a free port), waits for its probe URL, yields an
:class:`Emulator`, and stops it by pid (SIGTERM to its process group, SIGKILL after 10 s).
A missing tool skips locally and fails when ``$CI`` is set, so CI never skips silently.

``store`` is a function-scoped fixture parametrized over ``local``, ``s3``, ``gcs`` and
``az``: a fresh uuid-named bucket (or tmp folder) per test, removed at teardown; it yields
a :class:`Store` with ``url(name)``, ``options`` and ``fs``.

Loaded into pytest by the block at the end of ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # gotcha 1: before gcsfs loads
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

REPO = Path(__file__).resolve().parent.parent
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_TIMEOUT_S = 60.0

__all__ = [
    "FIXTURES",
    "Emulator",
    "Store",
    "azurite_fixture",
    "free_port",
    "gcs_emulator_fixture",
    "make_store",
    "moto_s3_fixture",
    "remote_store_fixture",
    "s3_bucket_fixture",
    "start_emulator",
    "store_fixture",
    "unavailable",
]


def unavailable(reason: str) -> None:
    """Skip locally; fail when ``$CI`` is set (a server test must never skip silently in CI)."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and a storage emulator is unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Emulator:
    """A running emulator process: ``endpoint`` (``http://127.0.0.1:PORT``) and its pid."""

    name: str
    endpoint: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    start_s: float = 0.0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after 10 s; by pid only."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def start_emulator(
    name: str, cmd: list[str], probe_path: str, port: int, workdir: Path, env: dict[str, str] | None = None
) -> Emulator:
    """Start ``cmd`` in its own session and wait until ``probe_path`` answers (any HTTP status).

    Raises
    ------
    RuntimeError
        The process exited, or did not answer within 60 s (the log's tail is in the message).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    t0 = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            cmd,
            start_new_session=True,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env=full_env,
        )
    emu = Emulator(name, f"http://127.0.0.1:{port}", port, proc, log, env or {})
    url = emu.endpoint + probe_path
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            urllib.request.urlopen(url, timeout=2).close()  # loopback probe
            break
        except urllib.error.HTTPError:
            break  # any HTTP status: the server answers
        except OSError:
            if time.monotonic() - t0 > START_TIMEOUT_S:
                emu.stop()
                raise RuntimeError(f"{name} did not answer {url} within {START_TIMEOUT_S:.0f}s") from None
            time.sleep(0.05)
    emu.start_s = time.monotonic() - t0
    return emu


def _module_available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


#: Azurite release the tests run against (storage-emulators.md §1), installed from npm into
#: ``.ci/node`` on first use when it is not on the machine.
AZURITE_VERSION = "3.35.0"
_AZURITE_PREFIX = REPO / ".ci" / "node"


def _install_azurite() -> str | None:
    """``npm install azurite@AZURITE_VERSION`` into ``.ci/node``; the binary, or None without npm."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    cmd = [npm, "install", "--prefix", str(_AZURITE_PREFIX), "--save-exact", "--no-audit", "--no-fund"]
    done = subprocess.run(
        [*cmd, f"azurite@{AZURITE_VERSION}"], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        unavailable(f"npm install azurite@{AZURITE_VERSION} failed: {done.stderr.strip()[-500:]}")
    local = _AZURITE_PREFIX / "node_modules" / ".bin" / "azurite-blob"
    return str(local) if local.exists() else None


def _azurite_command() -> str | None:
    env = os.environ.get("AZURITE_BLOB")
    if env and Path(env).exists():
        return env
    found = shutil.which("azurite-blob")
    if found:
        return found
    local = _AZURITE_PREFIX / "node_modules" / ".bin" / "azurite-blob"
    return str(local) if local.exists() else _install_azurite()


#: Servers running in this process: a fixture registered twice (conftest and a test module)
#: still starts each emulator once.
_RUNNING: dict[str, Emulator] = {}


def _run(name: str, request: pytest.FixtureRequest, factory: Any) -> Iterator[Emulator]:
    emu = _RUNNING.get(name)
    if emu is None or emu.proc.poll() is not None:
        cache = getattr(request.config, "cache", None)
        workdir = (
            Path(cache.mkdir(f"emulator-{name}")) if cache else Path(tempfile.mkdtemp(prefix=f"{name}-"))
        )
        try:
            emu = factory(workdir)
        except RuntimeError as exc:
            pytest.fail(f"{name} did not start: {exc}", pytrace=False)
        _RUNNING[name] = emu
    try:
        yield emu
    finally:
        emu.stop()
        _RUNNING.pop(name, None)


@pytest.fixture(scope="session", name="moto_s3")
def moto_s3_fixture(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """moto's S3 server (no auth) on 127.0.0.1."""
    if not (_module_available("moto") and _module_available("s3fs")):
        unavailable("moto[server] and s3fs are not installed (pip install -e '.[test]')")

    def factory(workdir: Path) -> Emulator:
        port = free_port()
        return start_emulator(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            "/moto-api/",
            port,
            workdir,
        )

    yield from _run("moto", request, factory)


@pytest.fixture(scope="session", name="gcs_emulator")
def gcs_emulator_fixture(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """gcp-storage-emulator, in memory, on 127.0.0.1 (no auth)."""
    if not (_module_available("gcp_storage_emulator") and _module_available("gcsfs")):
        unavailable("gcp-storage-emulator and gcsfs are not installed (pip install -e '.[test]')")

    def factory(workdir: Path) -> Emulator:
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
            "-q",
        ]
        return start_emulator("gcs", cmd, "/storage/v1/b", port, workdir)

    yield from _run("gcs", request, factory)


@pytest.fixture(scope="session", name="azurite")
def azurite_fixture(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """Azurite's blob service, in memory, on 127.0.0.1 (shared-key auth with the dev account)."""
    exe = _azurite_command()
    if exe is None or not _module_available("adlfs"):
        unavailable(
            "azurite-blob (AZURITE_BLOB, PATH, .ci/node or npm to install it) or adlfs is not installed"
        )
    assert exe is not None

    def factory(workdir: Path) -> Emulator:
        port = free_port()
        cmd = [
            exe,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
            "--silent",
        ]
        return start_emulator("azurite", cmd, "/devstoreaccount1?comp=list", port, workdir)

    yield from _run("azurite", request, factory)


def s3_options(endpoint: str, key: str = "testing", secret: str = "testing") -> dict[str, Any]:
    """s3fs storage_options for a moto endpoint (no region: gotcha 6)."""
    return {"key": key, "secret": secret, "client_kwargs": {"endpoint_url": endpoint}}


def gcs_options(endpoint: str) -> dict[str, Any]:
    """gcsfs storage_options for the GCS emulator."""
    return {"endpoint_url": endpoint, "token": "anon", "project": "test"}


def az_options(endpoint: str, key: str = AZURITE_KEY) -> dict[str, Any]:
    """adlfs storage_options for Azurite's dev account."""
    return {
        "connection_string": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={key};BlobEndpoint={endpoint}/devstoreaccount1;"
    }


@dataclass
class Store:
    """One test's storage: ``kind`` (local/s3/gcs/az), a fresh bucket, options and fs."""

    kind: str
    scheme: str
    bucket: str
    options: dict[str, Any]
    fs: Any

    def url(self, *parts: str) -> str:
        """URL (or local path) of ``parts`` under the test's bucket."""
        tail = "/".join(parts)
        if self.kind == "local":
            return f"{self.bucket}/{tail}"
        return f"{self.scheme}://{self.bucket}/{tail}"

    def path(self, *parts: str) -> str:
        """The same as a path on ``fs`` (no scheme)."""
        tail = "/".join(parts)
        return f"{self.bucket}/{tail}"

    def listing(self, *parts: str) -> list[str]:
        """Every object under ``parts`` (relative to the bucket), fresh (cache invalidated)."""
        self.fs.invalidate_cache()
        base = self.path(*parts)
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        return sorted(
            str(p)[len(self.bucket.rstrip("/")) + 1 :] if str(p).startswith(self.bucket) else str(p)
            for p in found
        )


def make_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Create a fresh bucket (or folder) for ``kind``, yield the :class:`Store`, remove it."""
    import fsspec

    if kind == "local":
        fs = fsspec.filesystem("file")
        yield Store("local", "", str(tmp_path), {}, fs)
        return
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    if kind == "s3":
        emu = request.getfixturevalue("moto_s3")
        scheme, options = "s3", s3_options(emu.endpoint)
    elif kind == "gcs":
        emu = request.getfixturevalue("gcs_emulator")
        scheme, options = "gs", gcs_options(emu.endpoint)
    elif kind == "az":
        emu = request.getfixturevalue("azurite")
        scheme, options = "az", az_options(emu.endpoint)
    else:
        raise ValueError(kind)
    fs = fsspec.filesystem(scheme, **options)
    fs.mkdir(bucket)
    try:
        yield Store(kind, scheme, bucket, options, fs)
    finally:
        with contextlib.suppress(Exception):
            fs.invalidate_cache()
            fs.rm(bucket, recursive=True)


@pytest.fixture(params=["local", "s3", "gcs", "az"], name="store")
def store_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh bucket on each backend (local folder, moto S3, GCS emulator, Azurite)."""
    yield from make_store(request.param, request, tmp_path)


@pytest.fixture(params=["s3", "gcs", "az"], name="remote_store")
def remote_store_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh bucket on each object-store emulator."""
    yield from make_store(request.param, request, tmp_path)


@pytest.fixture(scope="module", name="s3_bucket")
def s3_bucket_fixture(moto_s3: Emulator) -> Iterator[tuple[dict[str, Any], str]]:
    """``(storage_options, bucket)``: one fresh moto bucket for a whole test module, removed after."""
    import fsspec

    options = s3_options(moto_s3.endpoint)
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
    bucket = f"m-{uuid.uuid4().hex[:16]}"
    fs.mkdir(bucket)
    try:
        yield options, bucket
    finally:
        with contextlib.suppress(Exception):
            fs.invalidate_cache()
            fs.rm(bucket, recursive=True)


#: Every fixture of this module, for ``from emulators import FIXTURES`` style registration.
FIXTURES = (
    moto_s3_fixture,
    gcs_emulator_fixture,
    azurite_fixture,
    store_fixture,
    remote_store_fixture,
    s3_bucket_fixture,
)
