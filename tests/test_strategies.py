"""Tests of the strategies in ``tests/strategies.py`` themselves, against an independent checker.

The checker below restates the rules of target-formats.md §3 and §6 in plain Python (no
bulkwriter code): "valid" rows must break none of them, and every just-invalid case must
break exactly one, in the field and row it says.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from strategies import (
    BF16_MAX,
    F32_MAX,
    INT_BOUNDS,
    PROFILE,
    PROFILE_ENV,
    SPARSE_INDEX_LIMIT,
    InvalidCase,
    bf16_round,
    invalid_cases,
    numpy_compatible,
    row_lists,
    schemas,
    text_of_bytes,
    utf8_len,
)

from bulkwriter import CollectionSchema, DataType, FieldSchema

# --------------------------------------------------------------------------------------
# An independent checker of the value and field-set rules
# --------------------------------------------------------------------------------------


def _is_int(v: Any, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _finite(v: Any, limit: float = math.inf) -> bool:
    return isinstance(v, float) and math.isfinite(v) and abs(v) <= limit


def _utf8_within(v: Any, limit: int) -> bool:
    if not isinstance(v, str):
        return False
    try:
        return len(v.encode("utf-8")) <= limit
    except UnicodeEncodeError:  # a lone surrogate is not UTF-8
        return False


def _refuse(_: str) -> None:
    raise ValueError("NaN/Infinity is not JSON")


def _json_value_ok(v: Any) -> bool:
    """A JSON-serialisable value with finite numbers and valid UTF-8 text (§6 rule 6)."""
    try:
        json.dumps(v, allow_nan=False).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError):
        return False
    return True


def _json_ok(v: Any) -> bool:
    """A JSON field value (§2 JSON): JSON text, or a JSON-serialisable value."""
    if not isinstance(v, str):
        return _json_value_ok(v)
    try:
        json.loads(v, parse_constant=_refuse)
    except ValueError:
        return False
    return True


def scalar_ok(dtype: DataType, v: Any, max_length: int | None) -> bool:
    """§6 rules 2-4 for one scalar value (also an Array element)."""
    if dtype is DataType.BOOL:
        return isinstance(v, bool)
    if dtype in INT_BOUNDS:
        return _is_int(v, *INT_BOUNDS[dtype])
    if dtype is DataType.FLOAT:
        return _finite(v, F32_MAX)
    if dtype is DataType.DOUBLE:
        return _finite(v)
    assert dtype is DataType.VARCHAR
    assert max_length is not None
    return _utf8_within(v, max_length)


def _vector_ok(f: FieldSchema, v: Any) -> bool:
    """§2/§6 rule 3: exact dim, finite values within the element type's range."""
    dim = f.dim or 0
    if f.dtype is DataType.BINARY_VECTOR:
        return isinstance(v, list) and len(v) == dim // 8 and all(_is_int(x, 0, 255) for x in v)
    if not isinstance(v, list) or len(v) != dim:
        return False
    if f.dtype is DataType.INT8_VECTOR:
        return all(_is_int(x, -128, 127) for x in v)
    if f.dtype is DataType.FLOAT_VECTOR:
        return all(_finite(x, F32_MAX) for x in v)
    if f.dtype is DataType.FLOAT16_VECTOR:
        with np.errstate(over="ignore"):  # a value beyond float16 becomes inf: the rule it breaks
            return all(_finite(x, F32_MAX) and math.isfinite(float(np.float16(x))) for x in v)
    return all(_finite(x, F32_MAX) and math.isfinite(bf16_round(x)) for x in v)


def value_ok(f: FieldSchema, v: Any) -> bool:
    """Every value rule of §2 and §6 for a non-null value of ``f``."""
    dtype = f.dtype
    if dtype in INT_BOUNDS or dtype in (DataType.BOOL, DataType.FLOAT, DataType.DOUBLE, DataType.VARCHAR):
        return scalar_ok(dtype, v, f.max_length)
    if dtype is DataType.JSON:
        return _json_ok(v)
    if dtype is DataType.ARRAY:
        assert f.element_type is not None
        assert f.max_capacity is not None
        return (
            isinstance(v, list)
            and len(v) <= f.max_capacity
            and all(x is not None and scalar_ok(f.element_type, x, f.max_length) for x in v)
        )
    if dtype is DataType.SPARSE_FLOAT_VECTOR:
        return isinstance(v, dict) and all(
            _is_int(k, 0, SPARSE_INDEX_LIMIT - 1) and _finite(x, F32_MAX) and x >= 0 for k, x in v.items()
        )
    return _vector_ok(f, v)


def violations(schema: CollectionSchema, rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Every (field or key, row) that breaks a rule of §3 or §6."""
    out: list[tuple[str, int]] = []
    fields = {f.name: f for f in schema.fields}
    pk = schema.primary_field
    seen: set[Any] = set()
    for i, row in enumerate(rows):
        for f in schema.input_fields:
            value = row.get(f.name)
            if value is None:
                if not f.accepts_null:
                    out.append((f.name, i))
            elif not value_ok(f, value):
                out.append((f.name, i))
        for key, value in row.items():
            if key == pk.name and pk.auto_id:
                out.append((key, i))  # §3: no primary key values with auto_id
            elif key not in fields and (not schema.enable_dynamic_field or not _json_value_ok(value)):
                out.append((key, i))  # §3: unknown key with the dynamic field off
        if not pk.auto_id and row.get(pk.name) is not None:
            key_value = row[pk.name]
            if key_value in seen:
                out.append((pk.name, i))  # §3: duplicate primary key
            seen.add(key_value)
    return sorted(set(out), key=lambda e: (e[1], e[0]))


# --------------------------------------------------------------------------------------
# The strategies against the checker
# --------------------------------------------------------------------------------------


@PROFILE
@given(st.data())
def test_valid_rows_break_no_rule(data: st.DataObject) -> None:
    schema = data.draw(schemas())
    rows = data.draw(row_lists(schema))
    assert violations(schema, rows) == []
    assert any(f.dtype.is_vector for f in schema.fields)
    assert all(len(f.name) <= 255 for f in schema.fields)


@PROFILE
@given(st.data())
def test_just_invalid_cases_break_exactly_one_rule_where_they_say(data: st.DataObject) -> None:
    schema = data.draw(schemas())
    case: InvalidCase = data.draw(invalid_cases(schema))
    assert violations(schema, case.rows) == [(case.field, case.row)], case.rule
    assert case.codes


@PROFILE
@given(schemas(for_numpy=True))
def test_numpy_schemas_have_only_what_numpy_carries(schema: CollectionSchema) -> None:
    assert numpy_compatible(schema)
    assert all(len(f.name) + len(".npy") <= 255 for f in schema.fields)


@pytest.mark.parametrize("dtype", list(DataType))
def test_every_type_is_generated(dtype: DataType) -> None:
    schema = find(
        schemas(),
        lambda s: s.uses(dtype),
        settings=settings(max_examples=2000, database=None, phases=[Phase.generate]),
    )
    assert schema.uses(dtype)


@pytest.mark.parametrize(
    "wanted",
    [
        pytest.param(lambda s: any(f.nullable for f in s.input_fields), id="nullable"),
        pytest.param(lambda s: any(f.has_default for f in s.input_fields), id="default"),
        pytest.param(lambda s: s.enable_dynamic_field, id="dynamic"),
        pytest.param(lambda s: s.auto_id, id="auto_id"),
        pytest.param(lambda s: s.primary_field.dtype is DataType.VARCHAR, id="varchar_pk"),
        pytest.param(lambda s: any(len(f.name) == 255 for f in s.fields), id="255_char_name"),
    ],
)
def test_schema_features_are_generated(wanted: Any) -> None:
    assert wanted(
        find(schemas(), wanted, settings=settings(max_examples=2000, database=None, phases=[Phase.generate]))
    )


@PROFILE
@given(st.integers(0, 300), st.data())
def test_text_of_bytes_is_exact(n: int, data: st.DataObject) -> None:
    text = data.draw(text_of_bytes(n))
    assert utf8_len(text) == len(text.encode("utf-8")) == n


def test_non_bmp_text_is_generated() -> None:
    found = find(
        text_of_bytes(8),
        lambda t: any(ord(c) > 0xFFFF for c in t),
        settings=settings(database=None, phases=[Phase.generate]),
    )
    assert utf8_len(found) == 8


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (1.0, 1.0),
        (1 + 2**-8, 1.0),  # a tie rounds to the even neighbour
        (1 + 3 * 2**-8, 1 + 2**-6),
        (BF16_MAX, BF16_MAX),
        (F32_MAX, math.inf),
        (-F32_MAX, -math.inf),
    ],
)
def test_bf16_round(value: float, rounded: float) -> None:
    assert bf16_round(value) == rounded


def test_profiles() -> None:
    ci, slow = settings.get_profile("ci"), settings.get_profile("slow")
    assert ci.deadline is None
    assert slow.deadline is None
    assert slow.max_examples > ci.max_examples
    assert PROFILE.max_examples == settings.get_profile(os.environ.get(PROFILE_ENV, "ci")).max_examples
