"""The kill matrix: SIGKILL a writer at every step of its commit, then check what is left.

A writer process (tests/commit_workers.py, forked from a fork server) stages a small write,
then commits with each storage call numbered (tests/faults.py); the run for ``N`` kills the
process just before call ``N``: before the first move or copy, between moves, before and
after the manifest, during the clean-up. Local disk and the moto S3 server, modes error,
overwrite and append. After each kill:

* ``inspect`` tells the truth: its committed output is the manifest on storage, its
  orphans are exactly the files under the destination the manifest does not list, its
  staging lists every write folder left, and it reports the dead writer's lock as stale;
* the destination holds the old output (byte for byte) or the new one (whole) - or, killed
  between the two renames of a local swap (no atomic exchange), nothing, with the old output
  parked in staging, which inspect reports;
* one copy of the killed state is put right by ``clean`` (old or new output, nothing else);
  another is written to again: ``append`` and ``error`` refuse a destination with orphans
  or files, and never produce a manifest that leaves a file unlisted; ``overwrite``
  restores a clean, complete output.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from commit_checks import (
    MANIFEST,
    MATRIX_LINES,
    assert_whole,
    ids_of,
    read_output,
    staging_files,
    write,
)
from commit_workers import context, make_fs, write_and_commit
from emulators import moto_s3_fixture, s3_bucket_fixture  # noqa: F401 - fixtures

import bulkwriter
from bulkwriter.storage.layout import WRITE_ID_RE

OLD = [0, 1, 2, 3]
NEW = [100, 101, 102, 103]
LATER = [200, 201]


def _place(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[dict[str, Any], Any]:
    if kind.startswith("local"):
        return {}, lambda: str(tmp_path / uuid.uuid4().hex[:8] / "out")
    options, bucket = request.getfixturevalue("s3_bucket")
    return options, lambda: f"{bucket}/{uuid.uuid4().hex[:8]}/out"


def _killed(kind: str, options: dict[str, Any], root: str, mode: str, fmt: str, n: int) -> None:
    proc = context().Process(target=write_and_commit, args=(kind, options, root, NEW, mode, fmt, n))
    proc.start()
    proc.join(60)
    assert proc.exitcode == -9, f"the writer was to be killed at call {n}, exit code {proc.exitcode}"


def _check_inspect(fs: Any, root: str, ctx: str) -> Any:
    """inspect must say exactly what storage holds."""
    out = read_output(fs, root)
    found = bulkwriter.inspect(root, filesystem=fs)
    if out.manifest is None:
        assert found.committed is None, ctx
    else:
        assert found.committed is not None, ctx
        assert found.committed.write_id == out.write_id, ctx
    assert sorted(u.rsplit("/out/", 1)[1] for u in found.orphans) == out.unlisted, ctx
    left = {p.split("/", 1)[0] for p in staging_files(fs, root)}
    assert {u.rsplit("/", 1)[1] for u in found.staging} == {w for w in left if WRITE_ID_RE.match(w)}, ctx
    assert found.writing is None, f"a dead writer reported as at work {ctx}"
    if "_lock.json" in left:
        assert found.stale_lock is not None, ctx
    assert found.is_clean == (not out.unlisted and not left), ctx
    return out


def _old_or_new(fs: Any, root: str, mode: str, old: dict[str, bytes], out: Any, ctx: str) -> str:
    old_id = json.loads(old[MANIFEST])["write_id"] if old else None
    if out.manifest is None or out.write_id == old_id:
        for name, data in old.items():
            assert out.files.get(name) == data, f"old file {name} changed {ctx}"
        return "old"
    assert not out.missing, ctx
    assert ids_of(fs, root, out) == (OLD + NEW if mode == "append" else NEW), ctx
    return "new"


def _then_clean(fs: Any, root: str, mode: str, state: str, ctx: str) -> None:
    bulkwriter.clean(root, filesystem=fs)
    if state == "new":
        assert_whole(fs, root, OLD + NEW if mode == "append" else NEW, ctx)  # "parked": put back
    elif mode == "error":
        assert read_output(fs, root).files == {}, ctx
    else:
        assert_whole(fs, root, OLD, ctx)
    assert staging_files(fs, root) == [], ctx
    assert bulkwriter.inspect(root, filesystem=fs).is_clean, ctx


def _thenwrite(fs: Any, root: str, ctx: str) -> None:
    out = read_output(fs, root)
    found = bulkwriter.inspect(root, filesystem=fs)
    if out.files:
        with pytest.raises(bulkwriter.DestinationExistsError):
            write(fs, root, LATER, "error", "parquet")
    try:
        write(fs, root, LATER, "append", "parquet")
    except bulkwriter.UncleanDestinationError:
        assert out.unlisted or not found.is_clean, f"append refused a clean destination {ctx}"
    else:
        after = read_output(fs, root)
        assert not after.unlisted, f"an append hid orphans {after.unlisted} {ctx}"
        assert not after.missing, ctx
    write(fs, root, LATER, "overwrite", "parquet")
    assert_whole(fs, root, LATER, ctx)
    assert staging_files(fs, root) == [], ctx
    assert bulkwriter.inspect(root, filesystem=fs).is_clean, ctx


@pytest.mark.parametrize(
    ("kind", "mode"),
    [(k, m) for k in ("local", "s3") for m in ("error", "overwrite", "append")]
    + [("local-swap", "overwrite")],
)
def test_kill_matrix(kind: str, mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    options, make_root = _place(kind, tmp_path, request)
    fs = make_fs(kind, options)

    def prepare() -> tuple[str, dict[str, bytes]]:
        root = make_root()
        if mode != "error":
            write(fs, root, OLD, "error", "parquet")
        return root, read_output(fs, root).files

    root, _ = prepare()
    calls = write_and_commit(kind, options, root, NEW, mode, "parquet", None)
    assert calls >= 3
    states: dict[str, int] = {}
    for n in range(1, calls + 1):
        for follow_up in ("clean", "write"):
            root, old = prepare()
            ctx = f"[{kind} {mode}: killed before commit call {n} of {calls}, then {follow_up}]"
            _killed(kind, options, root, mode, "parquet", n)
            out = _check_inspect(fs, root, ctx)
            if old and not out.files:  # the swap's moment between its two renames: D is absent
                notes = bulkwriter.inspect(root, filesystem=fs).notes
                assert any("parked" in note for note in notes), f"{notes} {ctx}"
                state = "parked"
            else:
                state = _old_or_new(fs, root, mode, old, out, ctx)
            states[state] = states.get(state, 0) + 1
            if follow_up == "clean":
                _then_clean(fs, root, mode, state, ctx)
            else:
                _thenwrite(fs, root, ctx)
    MATRIX_LINES.append(
        f"kill matrix  {kind:6} {mode:9}: {calls} commit calls, {2 * calls} cases, "
        + ", ".join(f"{k} output {v}" for k, v in sorted(states.items()))
    )
