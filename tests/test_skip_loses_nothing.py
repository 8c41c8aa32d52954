"""Property: ``on_error="skip"`` loses nothing, whatever the mix of rows and the input form.

Random valid rows and just-invalid rows (each breaking one rule in one cell, from
:func:`strategies.invalid_cases`) are shuffled together and given as rows, a stream of rows,
a dict of columns, an Arrow table, a pandas or a polars DataFrame. Afterwards: the input rows
rejected are exactly the invalid ones (each named with one of its rule's codes), the rows
written are exactly the valid ones (compared by primary key, in input order), and
``rows_written + rows_rejected == rows_read``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROFILE, InvalidCase, invalid_cases, row_lists, schemas

import bulkwriter
from bulkwriter import CollectionSchema, DataType

FORMS = ("rows", "stream", "columns", "arrow", "pandas", "polars")


def _key(schema: CollectionSchema, i: int) -> Any:
    """The ``i``-th unique primary key for ``schema`` (fits any max_length of at least 1)."""
    pk = schema.primary_field
    return (
        i if pk.dtype is DataType.INT64 else chr(0x4E00 + i) if (pk.max_length or 0) >= 3 else chr(0x41 + i)
    )


@st.composite
def mixed_inputs(draw: st.DrawFn) -> tuple[CollectionSchema, list[dict[str, Any]], dict[int, InvalidCase]]:
    """A schema, rows, and the invalid ones by position (their pk kept only when it is the broken cell)."""
    schema = draw(schemas())
    valid = draw(row_lists(schema, min_rows=0, max_rows=6))
    cases = [
        c
        for c in draw(st.lists(invalid_cases(schema), min_size=1, max_size=3))
        if c.rule != "duplicate_primary_key"
    ]
    for c in cases:  # a dict of columns cannot tell a null cell from an absent key: give it a value
        if c.rule == "unknown_key" and c.rows[c.row][c.field] is None:
            c.rows[c.row][c.field] = 0
    bad_rows = [(c.rows[c.row], c) for c in cases]
    order = draw(st.permutations([("ok", r, None) for r in valid] + [("bad", r, c) for r, c in bad_rows]))
    rows: list[dict[str, Any]] = []
    invalid: dict[int, InvalidCase] = {}
    pk = schema.primary_field
    for i, (_, row, case) in enumerate(order):
        row = dict(row)
        if not pk.auto_id and not (case is not None and case.field == pk.name):
            row[pk.name] = _key(schema, i)
        if case is not None:
            invalid[i] = case
        rows.append(row)
    return schema, rows, invalid


def _as_form(form: str, rows: list[dict[str, Any]], schema: CollectionSchema) -> Any:
    if form == "rows":
        return rows
    if form == "stream":
        return iter(rows)
    names = list(dict.fromkeys(k for r in rows for k in r))
    columns = {k: [r.get(k) for r in rows] for k in names}
    if form == "columns":
        return columns
    for f in schema.fields:  # Arrow has no type for Python sparse dicts: give them as JSON text
        if f.dtype is DataType.SPARSE_FLOAT_VECTOR and f.name in columns:
            columns[f.name] = [None if v is None else _json_text(v) for v in columns[f.name]]
    try:
        table = pa.table(columns)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        return columns  # not expressible as Arrow: the same rows as columns
    if form == "arrow":
        return table
    if form == "pandas":
        return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
    if any("\x00" in name for name in table.column_names):
        return table  # polars cannot name a column with NUL (it panics)
    return pl.from_arrow(table)


def _json_text(value: Any) -> Any:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return value


@pytest.mark.parametrize("form", FORMS)
@PROFILE
@given(mixed_inputs())
def test_skip_mode_loses_nothing(
    form: str, case: tuple[CollectionSchema, list[dict[str, Any]], dict[int, InvalidCase]]
) -> None:
    schema, rows, invalid = case
    data = _as_form(form, rows, schema)
    # absent keys become nulls in column forms: a row may then break one more rule, but it
    # was invalid already, and a valid row stays valid (its absent cells accept null)
    with tempfile.TemporaryDirectory() as tmp:
        result = bulkwriter.write(data, Path(tmp) / "o", schema=schema, on_error="skip")
        rejected: dict[int, set[str]] = {}
        if result.rejects_path is not None:
            for line in Path(result.rejects_path).read_bytes().splitlines():
                record = json.loads(line)
                rejected.setdefault(record["row"], set()).add(record["code"])
        assert result.rows_read == len(rows)
        assert result.rows_written + result.rows_rejected == result.rows_read
        assert set(rejected) == set(invalid), (rejected, {i: c.rule for i, c in invalid.items()})
        for i, c in invalid.items():
            assert rejected[i] & c.codes or form not in ("rows", "stream"), (i, rejected[i], c)
        pk = schema.primary_field
        if not pk.auto_id:
            written = [k for f in result.files for k in pq.read_table(f.path).column(pk.name).to_pylist()]
            assert written == [r[pk.name] for i, r in enumerate(rows) if i not in invalid]
