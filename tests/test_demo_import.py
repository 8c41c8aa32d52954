"""``bulkwriter demo --import``: the main job end to end on the bundled sample, in a real Milvus.

The command starts its own Milvus 2.3.5 (the ``milvus`` wheel), so the session's server is
stopped first (one Milvus per machine: etcd's ports are fixed); a later test asking for
``milvus_server`` starts a new one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import milvus_support
import pytest

from bulkwriter.errors import MissingDependencyError
from bulkwriter.milvus.embedded import ETCD_PORTS, EmbeddedMilvus, _pid_alive, _port_open

pytestmark = pytest.mark.milvus

BULKWRITER = Path(sys.executable).with_name("bulkwriter")


def _milvus_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    cache = getattr(request.config, "cache", None)
    return Path(cache.mkdir("milvus-2.3.5")) if cache is not None else tmp_path / "milvus"


def test_demo_import_runs_the_main_job_end_to_end(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    milvus_support.stop_session_milvus(request)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILVUS_")}
    done = subprocess.run(
        [
            str(BULKWRITER),
            "demo",
            "--out",
            str(tmp_path / "demo"),
            "--import",
            "--milvus-dir",
            str(_milvus_dir(request, tmp_path)),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr + out
    assert "rows expected 1,988, imported 1,988" in out
    assert "collection row count: 0 -> 1,988" in out
    assert "read back 5 rows by primary key: every value of" in out
    assert "Milvus stopped" in out
    assert "Warning" not in done.stderr, done.stderr  # pymilvus' ORM notices stay inside
    pid = int(re.search(r"\(pid (\d+),", out).group(1))  # type: ignore[union-attr]
    assert not _pid_alive(pid)
    assert not any(_port_open(p) for p in ETCD_PORTS)
    # the five plain outputs are there too, and the import's own Parquet copy
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [
        "csv",
        "json",
        "jsonl",
        "milvus-2.3",
        "numpy",
        "parquet",
    ]


def test_a_missing_server_wheel_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "milvus", None)  # import milvus -> ImportError
    with pytest.raises(MissingDependencyError, match=r"bulkwriter\[milvus-server\]"):
        EmbeddedMilvus(tmp_path).start()


def test_busy_etcd_ports_fail_clearly_and_leave_nothing_running(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    import socket

    milvus_support.stop_session_milvus(request)
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", ETCD_PORTS[0]))
    holder.listen()
    server: Any = EmbeddedMilvus(_milvus_dir(request, tmp_path), lock_timeout_s=60)
    try:
        with pytest.raises(RuntimeError, match=r"ports \[2379\] are in use"):
            server.start()
    finally:
        holder.close()
    assert server.pid is None
    assert not server.running
