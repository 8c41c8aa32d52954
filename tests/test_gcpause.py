"""The garbage-collector pause used while row objects are built (bulkwriter.gcpause)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pyarrow as pa
import pytest

from bulkwriter.formats._rows import build_rows
from bulkwriter.gcpause import gc_paused
from bulkwriter.schema import CollectionSchema, DataType, FieldSchema


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("enabled", [True, False])
def test_state_is_restored_after_the_block_and_after_an_error(enabled: bool) -> None:
    gc.enable() if enabled else gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled() is enabled
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled() is enabled


def test_nested_and_overlapping_blocks_reenable_only_at_the_last_exit() -> None:
    gc.enable()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still runs
    assert gc.isenabled()
    # two threads whose blocks overlap, the first one leaving first
    entered, release_first, release_second = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with gc_paused():
            entered.set()
            release_first.wait(5)

    def second() -> None:
        entered.wait(5)
        with gc_paused():
            release_first.set()
            release_second.wait(5)
            seen.append(gc.isenabled())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    threads[0].join(5)
    assert not gc.isenabled()  # the second block is still inside
    release_second.set()
    threads[1].join(5)
    assert seen == [False]
    assert gc.isenabled()


def test_build_rows_pauses_the_collector_and_restores_it() -> None:
    """With a collection due every 500 container allocations, none runs while 5,000 rows
    (10,000 containers) are built; the same allocations outside the pause do trigger some."""
    n = 5_000
    schema = CollectionSchema(
        [FieldSchema("id", DataType.INT64, is_primary=True), FieldSchema("v", DataType.FLOAT_VECTOR, dim=2)]
    )
    vectors = pa.array([[float(i), 1.0] for i in range(n)], pa.list_(pa.float32(), 2))
    table = pa.table({"id": pa.array(range(n), pa.int64()), "v": vectors})
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    threshold = gc.get_threshold()
    gc.enable()
    gc.set_threshold(500, 10, 10)
    gc.callbacks.append(count)
    try:
        [{"id": i, "v": [i]} for i in range(n)]
        unpaused = len(collections)  # the same number of containers, collector running
        collections.clear()
        rows = build_rows(schema, table)
        during = list(collections)
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)
    assert unpaused >= 10
    assert len(during) <= 1  # at most the one already due as the block is entered
    assert gc.isenabled()
    assert len(rows) == n
    assert [(r["id"], r["v"].tolist()) for r in rows[:2]] == [(0, [0.0, 1.0]), (1, [1.0, 1.0])]
