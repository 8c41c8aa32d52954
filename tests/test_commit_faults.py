"""The fault matrix: fail the Nth storage call of a write, for every N, and check the invariant.

For each backend (local disk, ``memory://``, the moto S3 server), mode (error, overwrite,
append) and part kind (Parquet files; NumPy folders on local and memory), a first run
counts the mutating storage calls of a small write (open, stage, commit, clean-up:
tests/faults.py). Then, for every N:

* **one fault** (call N fails, the store keeps working): the write raises a bulkwriter
  error and the destination is byte for byte the old output (nothing for mode "error"),
  or it succeeds and the destination is exactly the new output; either way no file under
  it is missing from the manifest or unlisted by it, the staging area is empty, and
  ``inspect`` calls it clean;
* **the store goes down** at call N (it and every later call fail): the manifest is the
  old one (its files byte-identical) or the new one (whole) - or, on a local disk without an
  atomic exchange, down between the swap's two renames, the old output is parked in
  staging and ``inspect`` says so; every file under the
  destination that the manifest does not list is one ``inspect`` reports, and so is what is
  left in staging; once the store is back, ``clean`` leaves exactly that old or new
  output and nothing else.

The number of cases of each run is printed at the end of the test session.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from commit_checks import (
    MANIFEST,
    MATRIX_LINES,
    assert_whole,
    read_output,
    staging_files,
    write,
)
from emulators import moto_s3_fixture, s3_bucket_fixture  # noqa: F401 - fixtures
from faults import FaultyStorage, NoExchangeFileSystem

import bulkwriter
from bulkwriter.storage import RetryPolicy
from bulkwriter.storage.posix import PosixFileSystem

FAST = RetryPolicy(max_attempts=3, max_seconds=10, initial_backoff=0.0, max_backoff=0.0, jitter=0.0)
OLD = [0, 1, 2, 3]
NEW = [100, 101, 102, 103]


@dataclass
class Backend:
    kind: str
    fs: Any
    make_root: Callable[[], str]


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param.startswith("local"):
        fs = PosixFileSystem() if request.param == "local" else NoExchangeFileSystem()
        return Backend(request.param, fs, lambda: str(tmp_path / uuid.uuid4().hex[:8] / "out"))
    if request.param == "memory":
        import fsspec

        fs = fsspec.filesystem("memory", skip_instance_cache=True)
        return Backend("memory", fs, lambda: f"/faults-{uuid.uuid4().hex[:12]}/out")
    import fsspec

    options, bucket = request.getfixturevalue("s3_bucket")
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
    return Backend("s3", fs, lambda: f"{bucket}/{uuid.uuid4().hex[:8]}/out")


def _prepare(backend: Backend, mode: str, fmt: str) -> tuple[str, dict[str, bytes]]:
    """A fresh destination; overwrite and append get an old output of two files first."""
    root = backend.make_root()
    if mode != "error":
        write(backend.fs, root, OLD, "error", fmt, retry=FAST)
    return root, read_output(backend.fs, root).files


def _run(backend: Backend, root: str, mode: str, fmt: str, **plan: int) -> tuple[Any, FaultyStorage]:
    faulty = FaultyStorage(backend.fs, **plan).install()
    try:
        return write(backend.fs, root, NEW, mode, fmt, retry=FAST), faulty
    except Exception as exc:  # noqa: BLE001 - every outcome is checked below
        return exc, faulty
    finally:
        faulty.restore()


def _expected_new(mode: str) -> list[int]:
    return OLD + NEW if mode == "append" else NEW


def _check_one_fault(
    backend: Backend, root: str, mode: str, old: dict[str, bytes], outcome: Any, ctx: str
) -> str:
    fs = backend.fs
    if isinstance(outcome, Exception):
        assert isinstance(outcome, bulkwriter.BulkWriterError), f"untyped {outcome!r} {ctx}"
        assert not isinstance(outcome, bulkwriter.CleanupError), f"{outcome} {ctx}"
        assert read_output(fs, root).files == old, f"the old output changed after {outcome!r} {ctx}"
        kind = "failed"
    else:
        out = assert_whole(fs, root, _expected_new(mode), ctx)
        assert out.write_id == outcome.write_id, ctx
        kind = "committed"
    assert staging_files(fs, root) == [], f"staging left: {staging_files(fs, root)} {ctx}"
    found = bulkwriter.inspect(root, filesystem=fs)
    assert found.is_clean, f"{found.notes} {ctx}"
    return kind


def _check_store_down(
    backend: Backend, root: str, mode: str, old: dict[str, bytes], outcome: Any, ctx: str
) -> str:
    fs = backend.fs
    out = read_output(fs, root)
    old_id = json.loads(old[MANIFEST])["write_id"] if old else None
    committed = out.manifest is not None and out.write_id != old_id
    if isinstance(outcome, Exception):
        assert isinstance(outcome, bulkwriter.BulkWriterError), f"untyped {outcome!r} {ctx}"
    if committed:  # the commit point had passed (success, or a failed clean-up after it)
        assert not out.missing, ctx
        if not isinstance(outcome, Exception):
            assert out.write_id == outcome.write_id, ctx
    found = bulkwriter.inspect(root, filesystem=fs)
    if not committed:
        assert not isinstance(outcome, bulkwriter.WriteResult), f"success reported, not committed {ctx}"
        if old and not out.files:  # down between the two renames of a swap: the old output is parked
            assert any("parked" in note for note in found.notes), f"{found.notes} {ctx}"
        else:
            for name, data in old.items():
                assert out.files.get(name) == data, f"old file {name} changed {ctx}"
    reported = {u.rsplit("/out/", 1)[1] for u in found.orphans}
    assert set(out.unlisted) <= reported, f"unreported orphans {set(out.unlisted) - reported} {ctx}"
    left = staging_files(fs, root)
    if left:
        assert found.staging or found.stale_lock, f"unreported staging {left} {ctx}"
    bulkwriter.clean(root, filesystem=fs, retry=FAST)
    if committed:
        assert_whole(fs, root, _expected_new(mode), ctx)
    elif old:
        assert read_output(fs, root).files == old, f"clean changed the old output {ctx}"
    else:
        assert read_output(fs, root).files == {}, ctx
    assert staging_files(fs, root) == [], ctx
    assert bulkwriter.inspect(root, filesystem=fs).is_clean, ctx
    return "committed" if committed else "failed"


#: Parquet (one file a part) everywhere; NumPy (a folder a part: moved whole on local disks,
#: copied file by file on object stores) on the local disk and memory://; and a local disk
#: whose OS has no atomic exchange (overwrite by the two-rename swap).
CASES = [
    ("local", "parquet"),
    ("memory", "parquet"),
    ("s3", "parquet"),
    ("local", "numpy"),
    ("memory", "numpy"),
    ("local-swap", "parquet"),
]


@pytest.mark.parametrize("mode", ["error", "overwrite", "append"])
@pytest.mark.parametrize(("backend", "fmt"), CASES, indirect=["backend"])
def test_fault_matrix(backend: Backend, mode: str, fmt: str) -> None:
    root, old = _prepare(backend, mode, fmt)
    clean_run, counter = _run(backend, root, mode, fmt)
    assert isinstance(clean_run, bulkwriter.WriteResult), clean_run
    calls = len(counter.calls)
    assert calls >= 6, counter.describe()
    outcomes: dict[str, int] = {}
    for model in ("fail_at", "down_from"):
        for n in range(1, calls + 1):
            root, old = _prepare(backend, mode, fmt)
            outcome, faulty = _run(backend, root, mode, fmt, **{model: n})
            ctx = f"[{backend.kind} {mode} {fmt} {model}={n}: {faulty.calls[n - 1] if n <= len(faulty.calls) else '?'}]"
            assert faulty.failed, f"call {n} was never made {ctx}\n{faulty.describe()}"
            check = _check_one_fault if model == "fail_at" else _check_store_down
            kind = check(backend, root, mode, old, outcome, ctx)
            outcomes[f"{model}:{kind}"] = outcomes.get(f"{model}:{kind}", 0) + 1
    MATRIX_LINES.append(
        f"fault matrix {backend.kind:6} {mode:9} {fmt:7}: {calls} storage calls, {2 * calls} cases "
        + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    )
