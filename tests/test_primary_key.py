"""The duplicate primary-key tracker: same answers as a set, and ranges for keys that count up."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkwriter import DataType, FieldSchema
from bulkwriter.validate.primary_key import PrimaryKeyTracker

PK = FieldSchema("id", DataType.INT64, is_primary=True)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def feed(tracker: PrimaryKeyTracker, batch: list[int]) -> list[int]:
    """Check one batch, remember its accepted rows (as the writer does), return the bad rows."""
    errors, keys = tracker.check(pa.array(batch, pa.int64()))
    bad = [e.row for e in errors]
    tracker.add(np.delete(keys, bad))
    return [r for r in bad if r is not None]


def oracle(batches: list[list[int]]) -> list[list[int]]:
    seen: set[int] = set()
    out = []
    for batch in batches:
        bad = []
        for row, key in enumerate(batch):
            if key in seen:
                bad.append(row)
            seen.add(key)
        out.append(bad)
    return out


keys = st.one_of(
    st.integers(-20, 60),  # dense: many ranges and repeats
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([INT64_MIN, INT64_MIN + 1, INT64_MAX - 1, INT64_MAX, -1, 0, 1]),
)
runs = st.builds(lambda start, n: list(range(start, start + n)), st.integers(-50, 50), st.integers(1, 40))
batches = st.lists(st.one_of(st.lists(keys, max_size=30), runs), max_size=12)


@settings(max_examples=300, deadline=None)
@given(batches)
def test_tracker_reports_exactly_the_repeats_a_set_would(batch_list: list[list[int]]) -> None:
    tracker = PrimaryKeyTracker(PK)
    assert [feed(tracker, b) for b in batch_list] == oracle(batch_list)


def test_keys_that_count_up_are_kept_as_one_range() -> None:
    tracker = PrimaryKeyTracker(PK)
    for start in range(0, 1_000_000, 8_192):
        assert feed(tracker, list(range(start, min(start + 8_192, 1_000_000)))) == []
    assert tracker.nbytes <= 16  # one range for a million keys, not 8 MB
    assert feed(tracker, [-1, 0, 500_000, 999_999, 1_000_000]) == [1, 2, 3]


def test_ranges_with_gaps_and_out_of_order_batches() -> None:
    tracker = PrimaryKeyTracker(PK)
    assert feed(tracker, list(range(100, 200))) == []
    assert feed(tracker, list(range(0, 50))) == []
    assert feed(tracker, list(range(50, 100))) == []  # fills the gap: ranges touch and merge
    assert tracker.nbytes <= 16
    assert feed(tracker, [200, 199, 0, -1, 49, 50]) == [1, 2, 4, 5]


def test_scattered_keys_cost_at_most_8_bytes_each() -> None:
    tracker = PrimaryKeyTracker(PK)
    rng = np.random.default_rng(3)
    values = rng.choice(10**12, size=50_000, replace=False)
    for chunk in np.array_split(values, 7):
        assert feed(tracker, chunk.tolist()) == []
    assert tracker.nbytes <= 8 * 50_000
    assert feed(tracker, [int(values[123]), -5]) == [0]  # all values are >= 0


def test_varchar_keys_still_exact() -> None:
    tracker = PrimaryKeyTracker(FieldSchema("key", DataType.VARCHAR, is_primary=True, max_length=16))
    errors, keys = tracker.check(pa.array(["a", "b", "a"]))
    assert [e.row for e in errors] == [2]
    tracker.add(keys[:2])
    errors, _ = tracker.check(pa.array(["c", "b"]))
    assert [e.row for e in errors] == [1]
