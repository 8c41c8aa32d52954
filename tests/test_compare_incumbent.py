"""bulkwriter rejects every bad-input class of the README table, naming field and row."""

from __future__ import annotations

import pytest
from compare_incumbent import CASES, compare, markdown


# the incumbent's flush thread dies on the lone surrogate and commit() returns normally:
# that swallowed error is one of the things this test measures
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_every_bad_input_class_is_rejected_with_field_and_row() -> None:
    pytest.importorskip("pymilvus.bulk_writer")
    outcomes = compare()
    assert len(outcomes) == len(CASES)
    for outcome in outcomes:
        assert outcome.bulkwriter.startswith("ValidationError `"), outcome
        assert "row 2" in outcome.bulkwriter, outcome
    # the incumbent lets several of them through (measured, not assumed): keep the table honest
    accepted = [o.case for o in outcomes if o.pymilvus.startswith("accepted")]
    assert "NaN in a float vector" in accepted
    assert "duplicate primary key" in accepted
    assert markdown(outcomes).count("\n") == len(CASES) + 1
