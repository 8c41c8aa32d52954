"""Crash and fault safety on local disks: SIGKILL mid-write, a file-size limit, deterministic reruns."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import bulkwriter

WRITER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import bulkwriter

    schema = {"fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 64}}]}
    out, rows, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

    def batches():
        for start in range(0, rows, 1000):
            rng = np.random.default_rng(start)
            yield {"id": np.arange(start, start + 1000), "vec": rng.random((1000, 64), dtype=np.float32)}
            print(f"batch {start}", flush=True)
            time.sleep(pause)

    result = bulkwriter.write(batches(), out, schema=schema, format="%s", mode="overwrite",
                              max_rows_per_file=2000)
    print("committed", result.rows_written, flush=True)
    """
)


def run_writer(tmp_path: Path, out: Path, fmt: str, rows: int, pause: float) -> subprocess.Popen[str]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT % fmt)
    return subprocess.Popen(
        [sys.executable, str(script), str(out), str(rows), str(pause)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by path with the write id replaced by ``W``
    (names carry each write's own id, and the manifest counts commits in ``version``;
    everything else must be the same bytes)."""
    write_id = json.loads((folder / "_bulkwriter.json").read_text())["write_id"]

    def content(p: Path) -> bytes:
        data = p.read_bytes().replace(write_id.encode(), b"W")
        if p.name == "_bulkwriter.json":
            body = json.loads(data)
            body.pop("version")
            data = json.dumps(body, sort_keys=True).encode()
        return data

    return {
        str(p.relative_to(folder)).replace(write_id, "W"): hashlib.sha256(content(p)).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fmt", ["parquet", "numpy"])
def test_sigkill_mid_write_leaves_nothing_and_rerun_is_identical(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    proc = run_writer(tmp_path, out, fmt, rows=20_000, pause=0.05)
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 60
    while seen < 8 and time.monotonic() < deadline:  # several files staged by now
        if proc.stdout.readline().startswith("batch"):
            seen += 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)  # reaps the process and closes its pipes
    assert seen == 8
    # nothing an import could pick up: no manifest, no part file in the destination
    assert not out.exists() or list(out.iterdir()) == []
    staging = tmp_path / ".bulkwriter-staging"
    assert staging.exists()
    assert any(staging.rglob("part-*"))

    first = run_writer(tmp_path, out, fmt, rows=20_000, pause=0)
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert "committed 20000" in stdout
    assert not staging.exists()  # the overwrite run removed the crashed run's leftovers
    once = digest(out)
    second = run_writer(tmp_path, out, fmt, rows=20_000, pause=0)
    second.communicate(timeout=120)
    assert digest(out) == once  # deterministic names (but for the write id) and bytes
    found = bulkwriter.inspect(out)
    assert found.is_clean
    assert found.committed is not None
    assert found.committed.rows_written == 20_000


FSIZE_SCRIPT = textwrap.dedent(
    """
    import resource, signal, sys
    import numpy as np
    import bulkwriter

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # write() then fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    schema = {"fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 64}}]}
    try:
        bulkwriter.write({"id": np.arange(5000), "vec": np.ones((5000, 64), np.float32)}, sys.argv[1],
                         schema=schema, format="numpy", max_rows_per_file=1000)
    except bulkwriter.StorageError as exc:
        print("StorageError:", exc)
        sys.exit(3)
    """
)


def test_file_size_limit_gives_storage_error_and_cleans_up(tmp_path: Path) -> None:
    script = tmp_path / "fsize.py"
    script.write_text(FSIZE_SCRIPT)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.startswith("StorageError:")
    assert "part-00000" in proc.stdout
    assert not out.exists() or list(out.iterdir()) == []
    assert not (tmp_path / ".bulkwriter-staging").exists()
