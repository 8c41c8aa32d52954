"""The commit protocol, case by case: one writer per destination, orphans never silent, overwrite
only of bulkwriter output, checked appends, a transaction fed by many writers, clean.

Each test here failed on the commit of 0.1.0 (StagedOutput), which removed the staging of
sibling destinations by name prefix, overwrote folders that were not its own, appended to
another schema, let two writers both report success, and hid orphans behind an append.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from commit_checks import SCHEMA, assert_whole, columns, read_output, staging_files
from commit_workers import context, parquet_bytes, stage_shard
from emulators import (  # noqa: F401 - fixtures
    Store,
    azurite_fixture,
    gcs_emulator_fixture,
    make_store,
    moto_s3_fixture,
    remote_store_fixture,
    store_fixture,
)
from faults import FaultyStorage, NoExchangeFileSystem

import bulkwriter
from bulkwriter.schema.load import as_schema
from bulkwriter.storage import OutputSpec, Transaction, conditional
from bulkwriter.storage.lock import LockInfo
from bulkwriter.storage.posix import PosixFileSystem

OLD = [0, 1, 2, 3]


def _write(
    url: str, ids: list[int], *, fs: Any = None, options: Any = None, **kw: Any
) -> bulkwriter.WriteResult:
    kw.setdefault("max_rows_per_file", 2)
    return bulkwriter.write(
        columns(ids), url, schema=kw.pop("schema", SCHEMA), filesystem=fs, storage_options=options, **kw
    )


def _memory() -> tuple[Any, str]:
    return fsspec.filesystem("memory", skip_instance_cache=True), f"/p-{uuid.uuid4().hex[:12]}"


# -- sibling destinations, folders that are not ours -------------------------------------------


def test_overwrite_leaves_the_staging_of_a_sibling_destination_alone(store: Store) -> None:
    sibling = bulkwriter.Writer(
        store.url("o-v2"), schema=SCHEMA, storage_options=store.options, max_rows_per_file=2
    )
    sibling.write(columns([10, 11, 12]))  # two parts staged beside "o-v2"
    sibling.flush()
    _write(store.url("o"), OLD, options=store.options)
    _write(store.url("o"), [5, 6], options=store.options, mode="overwrite")  # cleans o's staging only
    result = sibling.commit()
    assert result.rows_written == 3
    assert_whole(store.fs, store.path("o-v2"), [10, 11, 12])
    assert_whole(store.fs, store.path("o"), [5, 6])


def test_overwrite_refuses_a_folder_that_is_not_bulkwriter_output(store: Store) -> None:
    store.fs.makedirs(store.path("mine", "sub"), exist_ok=True)
    store.fs.pipe_file(store.path("mine", "notes.txt"), b"keep me")
    store.fs.pipe_file(store.path("mine", "sub", "data.parquet"), b"not ours")
    for mode in ("overwrite", "append"):
        with pytest.raises(bulkwriter.DestinationExistsError, match="no bulkwriter manifest") as info:
            _write(store.url("mine"), OLD, options=store.options, mode=mode)
        assert "notes.txt" in str(info.value)
    assert read_output(store.fs, store.path("mine")).files == {
        "notes.txt": b"keep me",
        "sub/data.parquet": b"not ours",
    }
    assert staging_files(store.fs, store.path("mine")) == []
    done = bulkwriter.clean(store.url("mine"), storage_options=store.options)
    assert done.removed == ()
    assert len(done.kept) == 2  # clean never removes what nothing shows is bulkwriter's
    assert read_output(store.fs, store.path("mine")).files["notes.txt"] == b"keep me"


def test_a_destination_inside_a_staging_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(bulkwriter.StorageError, match=r"inside a \.bulkwriter-staging folder"):
        _write(str(tmp_path / ".bulkwriter-staging" / "o" / "x"), OLD)


def test_overwrite_through_a_symbolic_link_replaces_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    _write(str(tmp_path / "real" / "out"), OLD)
    os.symlink(tmp_path / "real" / "out", tmp_path / "link")
    _write(str(tmp_path / "link"), [7, 8], mode="overwrite")
    assert (tmp_path / "link").is_symlink()
    assert_whole(PosixFileSystem(), str(tmp_path / "real" / "out"), [7, 8])


# -- append is checked --------------------------------------------------------------------------


def _schema(**change: Any) -> dict[str, Any]:
    schema = json.loads(json.dumps(SCHEMA))
    if "dim" in change:
        schema["fields"][1]["elementTypeParams"]["dim"] = change["dim"]
    if "extra" in change:
        schema["fields"].append(change["extra"])
    if "dynamic" in change:
        schema["enabledDynamicField"] = change["dynamic"]
    if "pk" in change:
        schema["fields"][0].update(dataType=change["pk"], elementTypeParams={"max_length": 16})
    return schema


@pytest.mark.parametrize(
    ("change", "ids", "difference"),
    [
        ({"dim": 8}, None, "field 'vec' dim: the output has 4, this write has 8"),
        (
            {"extra": {"fieldName": "tag", "dataType": "VarChar", "elementTypeParams": {"max_length": 8}}},
            None,
            "field 'tag': in this write's schema, not in the output",
        ),
        ({"dynamic": True}, None, "schema enabledDynamicField: the output has False, this write has True"),
        ({"pk": "VarChar"}, None, "field 'id' dataType: the output has 'Int64', this write has 'VarChar'"),
    ],
)
def test_append_with_another_schema_is_refused_saying_what_differs(
    tmp_path: Path, change: dict[str, Any], ids: Any, difference: str
) -> None:
    out = str(tmp_path / "o")
    _write(out, OLD)
    before = read_output(PosixFileSystem(), out).files
    schema = _schema(**change)
    data: Any = columns([9])
    if "dim" in change:
        data["vec"] = data["vec"].repeat(2, axis=1)
    if "extra" in change:
        data["tag"] = ["x"]
    if "pk" in change:
        data["id"] = ["nine"]
    with pytest.raises(bulkwriter.AppendMismatchError) as info:
        bulkwriter.write(data, out, schema=schema, mode="append")
    assert difference in info.value.differences
    assert difference in str(info.value)
    assert read_output(PosixFileSystem(), out).files == before


def test_append_with_another_format_or_import_options_is_refused(store: Store) -> None:
    _write(store.url("o"), OLD, options=store.options)
    with pytest.raises(
        bulkwriter.AppendMismatchError, match="format: the output holds parquet, this write makes json"
    ):
        _write(store.url("o"), [9], options=store.options, mode="append", format="json")
    csv_url = store.url("c")
    _write(csv_url, OLD, options=store.options, format="csv")
    with pytest.raises(bulkwriter.AppendMismatchError, match="import options"):
        _write(
            csv_url,
            [9],
            options=store.options,
            mode="append",
            format="csv",
            format_options=bulkwriter.FormatOptions(csv_separator="\t"),
        )


def test_append_to_an_output_of_bulkwriter_0_1_continues_its_numbering(tmp_path: Path) -> None:
    out = tmp_path / "o"
    first = _write(str(out), OLD)
    # rewrite it as 0.1.0 left it: no write ids in names or manifest, no version
    manifest = json.loads((out / "_bulkwriter.json").read_text())
    for i, f in enumerate(manifest["files"]):
        legacy = f"part-{i:05d}.parquet"
        (out / f["path"]).rename(out / legacy)
        f.update(path=legacy, import_paths=[legacy])
        del f["write_id"]
    del manifest["version"], manifest["write_id"]
    (out / "_bulkwriter.json").write_text(json.dumps(manifest))
    appended = _write(str(out), [9], mode="append")
    assert [Path(f.path).name for f in appended.files] == [f"part-00002-{appended.write_id}.parquet"]
    assert_whole(PosixFileSystem(), str(out), [*OLD, 9])
    assert json.loads((out / "_bulkwriter.json").read_text())["version"] == 1
    assert first.write_id != appended.write_id


# -- one writer per destination -----------------------------------------------------------------


@pytest.fixture(params=["local", "s3", "az"])
def locking_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Stores whose emulators enforce the conditional create the lock is taken with.

    The GCS emulator ignores ``ifGenerationMatch=0`` (Cloud Storage itself enforces it), so
    there a second writer's lock replaces the first's: the first then fails its commit
    (test_a_commit_that_lost_its_lock_or_was_overtaken_fails_typed covers GCS).
    """
    yield from make_store(request.param, request, tmp_path)


def test_a_second_writer_is_refused_while_the_first_is_open(locking_store: Store) -> None:
    store = locking_store
    first = bulkwriter.Writer(store.url("o"), schema=SCHEMA, storage_options=store.options)
    first.write(columns([1, 2]))
    with pytest.raises(bulkwriter.ConcurrentWriteError) as info:
        _write(store.url("o"), [3], options=store.options, mode="append")
    assert store.url("o") in str(info.value)
    assert f"write {first._txn.write_id}" in str(info.value)  # names the holder
    assert isinstance(info.value, bulkwriter.CommitError)
    found = bulkwriter.inspect(store.url("o"), storage_options=store.options)
    assert found.writing is not None
    assert found.is_clean  # a writer at work is not a leftover
    first.commit()
    _write(store.url("o"), [3], options=store.options, mode="append")  # the lock was released
    assert_whole(store.fs, store.path("o"), [1, 2, 3])


@pytest.fixture
def gcs_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from make_store("gcs", request, tmp_path)


def test_where_the_store_ignores_the_conditional_create_the_overtaken_writer_fails(gcs_store: Store) -> None:
    """The GCS emulator does not enforce ``ifGenerationMatch=0``: both writers "take" the lock.

    The later lock replaces the earlier one, so the first writer fails at commit (its lock
    check), typed, and leaves nothing; only the second writer's rows are committed.
    """
    store = gcs_store
    first = bulkwriter.Writer(store.url("o"), schema=SCHEMA, storage_options=store.options)
    first.write(columns([1, 2]))
    second = bulkwriter.Writer(store.url("o"), schema=SCHEMA, storage_options=store.options)
    second.write(columns([3]))
    with pytest.raises(bulkwriter.ConcurrentWriteError, match="lost its lock"):
        first.commit()
    second.commit()
    assert_whole(store.fs, store.path("o"), [3])
    assert staging_files(store.fs, store.path("o")) == []


def test_clean_never_interrupts_a_live_writer(locking_store: Store) -> None:
    store = locking_store
    first = bulkwriter.Writer(store.url("o"), schema=SCHEMA, storage_options=store.options)
    try:
        with pytest.raises(bulkwriter.ConcurrentWriteError):
            bulkwriter.clean(store.url("o"), storage_options=store.options, break_lock=True)
    finally:
        first.abort()
    assert staging_files(store.fs, store.path("o")) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _plant_lock(fs: Any, root: str, info: LockInfo) -> None:
    area = f"{os.path.dirname(root)}/.bulkwriter-staging/{os.path.basename(root)}"
    fs.makedirs(area, exist_ok=True)
    fs.pipe_file(f"{area}/_lock.json", info.to_bytes())


def test_the_lock_of_a_dead_process_on_this_host_is_taken_over(store: Store) -> None:
    mine = LockInfo.mine("deadbeef0001", store.url("o"))
    _plant_lock(
        store.fs, store.path("o"), LockInfo(mine.write_id, mine.host, _dead_pid(), None, mine.created, "")
    )
    found = bulkwriter.inspect(store.url("o"), storage_options=store.options)
    assert found.stale_lock is not None
    assert found.writing is None
    _write(store.url("o"), OLD, options=store.options)
    assert_whole(store.fs, store.path("o"), OLD)
    assert staging_files(store.fs, store.path("o")) == []


def test_the_lock_of_another_host_is_broken_only_when_asked(tmp_path: Path) -> None:
    fs, base = _memory()
    root = f"{base}/o"
    _plant_lock(fs, root, LockInfo("deadbeef0002", "elsewhere", 4242, None, "2026-01-01T00:00:00Z", ""))
    with pytest.raises(bulkwriter.ConcurrentWriteError, match=r"pid 4242 on elsewhere.*--break-lock"):
        _write(root, OLD, fs=fs)
    with pytest.raises(bulkwriter.ConcurrentWriteError):
        bulkwriter.clean(root, filesystem=fs)
    done = bulkwriter.clean(root, filesystem=fs, break_lock=True)
    assert done.broken_lock is not None
    assert "elsewhere" in done.broken_lock
    _write(root, OLD, fs=fs)
    assert_whole(fs, root, OLD)


def test_a_dropped_writer_releases_its_lock(tmp_path: Path) -> None:
    fs, base = _memory()
    for root, kw in ((str(tmp_path / "o"), {}), (f"{base}/o", {"fs": fs})):
        w = bulkwriter.Writer(root, schema=SCHEMA, filesystem=kw.get("fs"))
        w.write(columns([1]))
        del w
        gc.collect()
        _write(root, OLD, mode="overwrite", **kw)  # neither the flock nor the lock object outlives it
        assert_whole(fs if kw else PosixFileSystem(), root, OLD)


def test_a_commit_that_lost_its_lock_or_was_overtaken_fails_typed(store: Store) -> None:
    url, root = store.url("o"), store.path("o")
    _write(url, OLD, options=store.options)
    area = f"{store.path('.bulkwriter-staging', 'o')}"
    # 1. the lock is removed under a live writer (by hand, or clean --break-lock elsewhere)
    first = bulkwriter.Writer(url, schema=SCHEMA, storage_options=store.options, mode="append")
    first.write(columns([50, 51]))
    first.flush()
    store.fs.rm_file(f"{area}/_lock.json")
    _write(url, [60], options=store.options, mode="append")  # another writer gets in and commits
    with pytest.raises(bulkwriter.ConcurrentWriteError):
        first.commit()
    assert_whole(store.fs, root, [*OLD, 60])
    # 2. the manifest changes under a writer that still holds its lock (a writer that ignores locks)
    second = bulkwriter.Writer(url, schema=SCHEMA, storage_options=store.options, mode="append")
    second.write(columns([70]))
    second.flush()
    manifest = json.loads(store.fs.cat_file(f"{root}/_bulkwriter.json"))
    manifest["version"] += 1
    manifest["write_id"] = "0123456789ab"
    store.fs.pipe_file(f"{root}/_bulkwriter.json", json.dumps(manifest).encode())
    with pytest.raises(bulkwriter.ConcurrentWriteError, match="another writer committed"):
        second.commit()
    assert not read_output(store.fs, root).unlisted  # the overtaken write left nothing behind
    assert staging_files(store.fs, root) == []


@pytest.fixture(params=["s3", "az"])
def conditional_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The stores whose conditional writes the emulators enforce (the GCS emulator does not)."""
    yield from make_store(request.param, request, tmp_path)


def test_conditional_writes_are_enforced_by_the_store(conditional_store: Store) -> None:
    fs, path = conditional_store.fs, conditional_store.path("obj")
    conditional.create_exclusive(fs, path, b"1")
    with pytest.raises(FileExistsError):
        conditional.create_exclusive(fs, path, b"2")
    data, token = conditional.read(fs, path)
    assert (data, token is not None) == (b"1", True)
    conditional.replace_if(fs, path, b"3", token)
    with pytest.raises(conditional.ConditionFailed):
        conditional.replace_if(fs, path, b"4", token)  # stale: the object changed since
    with pytest.raises(conditional.ConditionFailed):
        conditional.replace_if(fs, path, b"5", conditional.ABSENT)
    assert conditional.read(fs, path)[0] == b"3"


# -- orphans are never silent -------------------------------------------------------------------


def test_orphans_are_reported_refused_and_cleaned(store: Store) -> None:
    url, root = store.url("o"), store.path("o")
    _write(url, OLD, options=store.options)
    store.fs.pipe_file(f"{root}/part-00009-abcdefabcdef.parquet", parquet_bytes([99]))
    found = bulkwriter.inspect(url, storage_options=store.options)
    assert [u.rsplit("/", 1)[1] for u in found.orphans] == ["part-00009-abcdefabcdef.parquet"]
    assert not found.is_clean
    with pytest.raises(bulkwriter.UncleanDestinationError, match="does not list") as info:
        _write(url, [5], options=store.options, mode="append")
    assert info.value.paths == found.orphans
    preview = bulkwriter.clean(url, storage_options=store.options, dry_run=True)
    assert preview.removed == found.orphans
    assert read_output(store.fs, root).unlisted == ["part-00009-abcdefabcdef.parquet"]  # dry run
    done = bulkwriter.clean(url, storage_options=store.options)
    assert done.removed == found.orphans
    assert bulkwriter.inspect(url, storage_options=store.options).is_clean
    _write(url, [5], options=store.options, mode="append")
    assert_whole(store.fs, root, [*OLD, 5])


def test_a_commit_that_cannot_be_undone_says_so_and_clean_finishes_it(tmp_path: Path) -> None:
    fs, base = _memory()
    root = f"{base}/o"
    _write(root, OLD, fs=fs)
    counter = FaultyStorage(fs).install()
    _write(root, [5, 6, 7], fs=fs, mode="append")
    counter.restore()
    manifest_call = next(i for i, (n, p) in enumerate(counter.calls, 1) if p.endswith("_bulkwriter.json"))
    root2 = f"{base}/o2"
    _write(root2, OLD, fs=fs)
    down = FaultyStorage(fs, down_from=manifest_call).install()  # the store goes away at the manifest
    with pytest.raises(bulkwriter.CommitError, match=r"could not be fully undone.*bulkwriter clean") as info:
        _write(root2, [5, 6, 7], fs=fs, mode="append")
    down.restore()
    assert not isinstance(info.value, bulkwriter.CleanupError)
    placed = read_output(fs, root2).unlisted
    assert len(placed) == 2  # the two copies the store no longer let it remove
    found = bulkwriter.inspect(root2, filesystem=fs)
    assert sorted(u.rsplit("/o2/", 1)[1] for u in found.orphans) == placed
    assert any("not committed" in note for note in found.notes)
    bulkwriter.clean(root2, filesystem=fs)
    assert_whole(fs, root2, OLD)


def test_a_committed_overwrite_whose_old_files_cannot_be_removed_raises_cleanup_error() -> None:
    fs, base = _memory()
    root = f"{base}/o"
    _write(root, OLD, fs=fs)
    counter = FaultyStorage(fs).install()
    _write(root, [8, 9], fs=fs, mode="overwrite")
    counter.restore()
    old_files_rm = next(
        i
        for i, (n, p) in enumerate(counter.calls, 1)
        if n == "rm" and "/o/part-" in p and ".bulkwriter" not in p
    )
    root = f"{base}/o3"
    _write(root, OLD, fs=fs)
    down = FaultyStorage(fs, down_from=old_files_rm).install()
    with pytest.raises(bulkwriter.CleanupError, match="was committed") as info:
        _write(root, [8, 9], fs=fs, mode="overwrite")
    down.restore()
    result = info.value.result
    assert isinstance(result, bulkwriter.WriteResult)
    assert result.rows_written == 2
    out = read_output(fs, root)
    assert out.write_id == result.write_id
    assert len(out.unlisted) == 2 == len(info.value.paths)  # the old output's two files
    bulkwriter.clean(root, filesystem=fs)
    assert_whole(fs, root, [8, 9])


# -- one transaction, many writers ----------------------------------------------------------------


def test_a_transaction_commits_the_parts_of_many_writers_with_one_manifest(store: Store) -> None:
    spec = OutputSpec("parquet", "c", as_schema(SCHEMA).to_dict())
    with Transaction(store.url("o"), spec=spec, storage_options=store.options) as txn:
        results: Any = context().Queue()
        proc = context().Process(target=stage_shard, args=(txn.stager("proc"), [[20, 21], [22]], results))
        proc.start()
        threads = [
            threading.Thread(target=stage_shard, args=(txn.stager(name), ids, results))
            for name, ids in (("t0", [[0, 1]]), ("t1", [[10], [11, 12]]))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        parts = [p for _ in range(3) for p in results.get(timeout=60)]
        proc.join(30)
        assert proc.exitcode == 0
        parts.sort(key=lambda p: (p.shard, p.name))
        manifest = txn.commit(parts)
    assert txn.state == "committed"
    assert [f.path for f in manifest.files] == [f"part-{i:05d}-{txn.write_id}.parquet" for i in range(5)]
    assert_whole(store.fs, store.path("o"), [20, 21, 22, 0, 1, 10, 11, 12])
    assert staging_files(store.fs, store.path("o")) == []


def test_a_transaction_left_without_commit_publishes_nothing(store: Store) -> None:
    spec = OutputSpec("parquet", "c", {"fields": []})
    with Transaction(store.url("o"), spec=spec, storage_options=store.options) as txn:
        stager = txn.stager()
        stager.stage("a.parquet", [("", parquet_bytes([1]))])
        part = stager.part("a.parquet", suffix=".parquet", files=(), rows=1, nbytes=1)
        with pytest.raises(ValueError, match="given twice"):
            txn.commit([part, part])
    assert txn.state == "aborted"
    assert store.listing("") == []
    with pytest.raises(bulkwriter.WriterClosedError):
        txn.commit([])


# -- the command line -----------------------------------------------------------------------------


def test_cli_inspect_and_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bulkwriter.cli import main

    out = tmp_path / "o"
    _write(str(out), OLD)
    (out / "part-00007-abcdefabcdef.parquet").write_bytes(b"orphan")
    assert main(["inspect", str(out)]) == 1
    text = capsys.readouterr().out
    assert "1 file(s) under it are not listed by its manifest: 'part-00007-abcdefabcdef.parquet'" in text
    assert f"run `bulkwriter clean {out}`" in text
    assert main(["clean", str(out), "--dry-run"]) == 0
    assert "would remove 1 orphan file(s)" in capsys.readouterr().out
    assert (out / "part-00007-abcdefabcdef.parquet").exists()
    assert main(["clean", str(out), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["removed"] == [str(out / "part-00007-abcdefabcdef.parquet")]
    assert main(["inspect", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clean"] is True


# -- hostile inputs -------------------------------------------------------------------------------


def test_odd_destination_names_and_zero_row_writes_in_every_mode(store: Store) -> None:
    name = "out put ö-😀 (1)"
    url, root = store.url("deep", name), store.path("deep", name)
    for mode, ids, expected in (
        ("error", [], []),
        ("append", [], []),
        ("append", [1], [1]),
        ("overwrite", [], []),
        ("append", [2, 3], [2, 3]),
    ):
        result = _write(url, ids, options=store.options, mode=mode)
        assert result.rows_written == len(ids)
        out = assert_whole(store.fs, root, expected, f"[{mode} {ids}]")
        assert out.write_id == result.write_id
    assert json.loads(store.fs.cat_file(f"{root}/_bulkwriter.json"))["version"] == 5
    assert staging_files(store.fs, root) == []
    assert bulkwriter.inspect(url, storage_options=store.options).is_clean


def test_an_output_parked_by_an_interrupted_swap_is_reported_and_put_back(tmp_path: Path) -> None:
    """Without an atomic exchange, overwrite renames the old output aside, then the new one in;
    the store going away between the two leaves the destination absent, the old output parked."""
    fs = NoExchangeFileSystem()
    root = str(tmp_path / "o")
    _write(root, OLD, fs=fs)
    counter = FaultyStorage(fs).install()
    _write(root, [5], fs=fs, mode="overwrite")
    counter.restore()
    move_in = next(
        i
        for i, (name, path) in enumerate(counter.calls, 1)
        if name == "rename_no_replace" and path.endswith("/out")
    )
    _write(root, OLD, fs=fs, mode="overwrite")
    before = read_output(fs, root).files
    down = FaultyStorage(fs, down_from=move_in).install()
    with pytest.raises(bulkwriter.CommitError, match="could not be fully undone"):
        _write(root, [5], fs=fs, mode="overwrite")
    down.restore()
    assert read_output(fs, root).files == {}
    found = bulkwriter.inspect(root, filesystem=fs)
    assert any("parked" in note for note in found.notes)
    assert not found.is_clean
    for mode in ("error", "append"):
        with pytest.raises(bulkwriter.UncleanDestinationError, match="interrupted commit"):
            _write(root, [6], fs=fs, mode=mode)
    preview = bulkwriter.clean(root, filesystem=fs, dry_run=True)
    assert (preview.restored, preview.kept) == ((root,), ())
    assert read_output(fs, root).files == {}
    done = bulkwriter.clean(root, filesystem=fs)
    assert done.restored == (root,)
    assert read_output(fs, root).files == before
    assert bulkwriter.inspect(root, filesystem=fs).is_clean
