"""The benchmark command's quick mode runs end to end and every case's output verifies.

No timing assertions: only that ``benchmarks/run.py --quick`` exits 0, covers every
workload x format x writer, and that each case that can run read back exactly its rows.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run_script(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/<script>`` with ``args`` in a fresh interpreter; assert it exits 0."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_benchmark_runs_and_verifies(tmp_path: Path) -> None:
    results = tmp_path / "quick.json"
    proc = _run_script("run.py", "--quick", "--json", str(results), "--workdir", str(tmp_path), timeout=840)
    document = json.loads(results.read_text())
    cases = document["cases"]
    assert {c["status"] for c in cases} <= {"ok", "n/a"}
    combos = {(c["workload"], c["format"], c["writer"], c["input"]) for c in cases}
    for workload in ("standard", "narrow", "debian"):
        for fmt in ("parquet", "json", "jsonl", "numpy", "csv"):
            expected = {(workload, fmt, "bulkwriter", "rows"), (workload, fmt, "bulkwriter", "columns")}
            expected |= {(workload, fmt, "pymilvus", "rows"), (workload, fmt, "raw", "-")}
            assert expected <= combos
    ran = [c for c in cases if c["status"] == "ok"]
    for case in ran:
        assert case["runs"], case
        assert all(r["verified"] and r["rows_read"] == r["rows"] > 0 for r in case["runs"]), case
    # every format runs somewhere (NumPy only on the narrow workload: Array/nullable fields)
    assert {c["format"] for c in ran} == {"parquet", "json", "jsonl", "numpy", "csv"}
    writers = {c["writer"] for c in ran}
    assert {"bulkwriter", "raw"} <= writers
    if importlib.util.find_spec("pymilvus") is not None:
        assert "pymilvus" in writers
    assert "| workload | format | writer |" in proc.stdout
    # quick mode runs bulkwriter with workers=1 and 2 and reports the speedup
    assert {c["threads"] for c in ran if c["writer"] == "bulkwriter"} == {1, 2}
    assert any("x_1_thread" in c for c in ran if c["threads"] == 2)


@pytest.mark.timeout(300)
def test_parallel_ceiling_script_runs(tmp_path: Path) -> None:
    """The two-thread ceiling script (raw write_table, 2 files at once vs in turn) runs and reports."""
    results = tmp_path / "ceiling.json"
    proc = _run_script(
        "parallel_ceiling.py", "--rows", "2000", "--repeat", "1", "--json", str(results), timeout=240
    )
    document = json.loads(results.read_text())
    assert document["rows"] == 2000
    assert document["file_bytes"] > 2000 * 768 * 4  # a real file of 2,000 768-d vectors
    assert document["sequential_s"] > 0
    assert document["parallel_s"] > 0
    assert document["speedup"] == pytest.approx(document["sequential_s"] / document["parallel_s"])
    assert "speedup" in proc.stdout
