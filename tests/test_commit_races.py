"""Two writer processes commit to one destination at the same moment, many times over.

Each round, two processes (tests/commit_workers.py) meet at a barrier and write to the same
fresh destination: in mode "error" and in mode "append", on the local disk and on the moto
S3 server. Every round must end as "one failed with a typed error and the other is
complete" or (append) "both complete and both in the manifest"; a writer that reported
success always has all its rows in the committed output, and nothing else is there.
"""

from __future__ import annotations

import queue
import uuid
from pathlib import Path
from typing import Any

import pytest
from commit_checks import MATRIX_LINES, ids_of, read_output, staging_files
from commit_workers import context, make_fs, race
from emulators import moto_s3_fixture, s3_bucket_fixture  # noqa: F401 - fixtures

ROUNDS = 30
IDS = ([0, 1, 2, 3], [10, 11, 12])
#: Seconds one racer may start after the other: about a write's time on each store.
SPREAD = {"local": 0.08, "s3": 0.5}
TYPED = {"ConcurrentWriteError", "DestinationExistsError"}


@pytest.mark.parametrize("mode", ["error", "append"])
@pytest.mark.parametrize("kind", ["local", "s3"])
def test_two_writers_at_once(kind: str, mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if kind == "local":
        options: dict[str, Any] = {}
        roots = [str(tmp_path / f"r{i}" / "out") for i in range(ROUNDS)]
    else:
        options, bucket = request.getfixturevalue("s3_bucket")
        roots = [f"{bucket}/{uuid.uuid4().hex[:8]}/out" for _ in range(ROUNDS)]
    ctx = context()
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=race,
            args=(kind, options, roots, list(IDS[who]), mode, barrier, results, who, SPREAD[kind]),
        )
        for who in (0, 1)
    ]
    for p in procs:
        p.start()
    outcomes: dict[int, dict[int, tuple[Any, ...]]] = {i: {} for i in range(ROUNDS)}
    try:
        for _ in range(2 * ROUNDS):
            who, index, *rest = results.get(timeout=120)
            outcomes[index][who] = tuple(rest)
    except queue.Empty:
        pytest.fail(f"the racers stopped answering: {outcomes}")
    finally:
        for p in procs:
            p.join(30)
    assert [p.exitcode for p in procs] == [0, 0]
    fs = make_fs(kind, options)
    tally: dict[str, int] = {}
    for index, root in enumerate(roots):
        pair = outcomes[index]
        ctx_text = f"[{kind} {mode} round {index}: {pair}]"
        assert all(o[0] != "untyped" for o in pair.values()), ctx_text
        ok = {who: o for who, o in pair.items() if o[0] == "ok"}
        failed = {who: o for who, o in pair.items() if o[0] == "error"}
        assert ok, f"neither writer committed {ctx_text}"
        assert all(o[1] in TYPED for o in failed.values()), ctx_text
        if mode == "error":
            assert len(ok) == 1, ctx_text
        out = read_output(fs, root)
        assert out.manifest is not None, ctx_text
        assert not out.missing, ctx_text
        assert not out.unlisted, ctx_text
        committed_ids = {f["write_id"] for f in out.manifest["files"]}
        assert committed_ids == {o[1] for o in ok.values()}, f"a reported success is not all there {ctx_text}"
        assert sorted(ids_of(fs, root, out)) == sorted(i for who in ok for i in IDS[who]), ctx_text
        assert staging_files(fs, root) == [], ctx_text
        key = "both committed" if len(ok) == 2 else f"one committed, one {next(iter(failed.values()))[1]}"
        tally[key] = tally.get(key, 0) + 1
    MATRIX_LINES.append(
        f"race         {kind:6} {mode:9}: {ROUNDS} rounds of 2 writers, {ROUNDS} cases, "
        + ", ".join(f"{k} {v}" for k, v in sorted(tally.items()))
    )
