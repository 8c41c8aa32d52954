"""Hypothesis strategies for Milvus collection schemas and rows: valid, and just-invalid.

Every strategy names the rule it follows in ``target-formats.md`` (project docs):
§2 per-type values and encodings, §3 which fields must (not) appear, §6 the writer's checks.
"Valid" rows satisfy every rule; an :class:`InvalidCase` breaks exactly one rule in exactly
one cell (or one key) of otherwise valid rows, by the smallest step that breaks it (an integer
bound plus or minus one, a string one UTF-8 byte too long, a vector one element short, ...).

Also here: the Hypothesis settings profiles (``ci`` bounded, ``slow`` many more examples),
chosen by the environment variable ``BULKWRITER_HYPOTHESIS_PROFILE`` (default ``ci``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bulkwriter import CollectionSchema, DataType, FieldSchema

__all__ = [
    "ALL_FORMATS",
    "BF16_MAX",
    "F16_MAX",
    "F32_MAX",
    "INT_BOUNDS",
    "PROFILE",
    "SPARSE_INDEX_LIMIT",
    "InvalidCase",
    "bf16_round",
    "field_names",
    "invalid_cases",
    "json_values",
    "numpy_compatible",
    "row_lists",
    "schemas",
    "text_of_bytes",
    "utf8_len",
    "valid_value",
]

# --------------------------------------------------------------------------------------
# Settings profiles
# --------------------------------------------------------------------------------------

PROFILE_ENV = "BULKWRITER_HYPOTHESIS_PROFILE"
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "slow",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: The profile of this run; use it as a decorator (``@PROFILE``) on every property test.
PROFILE = settings.get_profile(os.environ.get(PROFILE_ENV, "ci"))

# --------------------------------------------------------------------------------------
# Limits (target-formats.md §2 and §6)
# --------------------------------------------------------------------------------------

ALL_FORMATS = ("parquet", "json", "jsonl", "csv", "numpy")
F32_MAX = float(np.finfo(np.float32).max)
F16_MAX = 65504.0
#: Largest finite bfloat16 (0x7F7F): 3.3895313892515355e38.
BF16_MAX = float(np.array([0x7F7F0000], dtype=np.uint32).view(np.float32)[0])
SPARSE_INDEX_LIMIT = 2**32 - 1
INT_BOUNDS = {
    DataType.INT8: (-(2**7), 2**7 - 1),
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
}
SCALAR_TYPES = (
    DataType.BOOL,
    DataType.INT8,
    DataType.INT16,
    DataType.INT32,
    DataType.INT64,
    DataType.FLOAT,
    DataType.DOUBLE,
    DataType.VARCHAR,
)
DENSE_VECTORS = (
    DataType.FLOAT_VECTOR,
    DataType.BINARY_VECTOR,
    DataType.FLOAT16_VECTOR,
    DataType.BFLOAT16_VECTOR,
    DataType.INT8_VECTOR,
)
VECTOR_TYPES = (*DENSE_VECTORS, DataType.SPARSE_FLOAT_VECTOR)
#: Types NumPy import cannot carry (target-formats.md §4, NumPy).
NUMPY_UNSUPPORTED = frozenset({DataType.ARRAY, DataType.SPARSE_FLOAT_VECTOR})


def utf8_len(text: str) -> int:
    """Length of ``text`` in UTF-8 bytes: the unit of VarChar ``max_length`` (§2, §6 rule 4)."""
    return len(text.encode("utf-8", "surrogatepass"))


def bf16_round(value: float) -> float:
    """Round a float32-representable value to bfloat16, to nearest even (§2 BFloat16Vector)."""
    bits = int(np.array([value], dtype=np.float32).view(np.uint32)[0])
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return float(np.array([rounded & 0xFFFFFFFF], dtype=np.uint32).view(np.float32)[0])


def numpy_compatible(schema: CollectionSchema) -> bool:
    """True when NumPy can carry ``schema``: no Array, sparse or nullable field (§4 NumPy)."""
    return not any(f.dtype in NUMPY_UNSUPPORTED or f.nullable for f in schema.input_fields)


# --------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------

#: Characters the writers have to take care of: multi-byte and non-BMP UTF-8, CSV specials
#: (separator, quote, CR, LF), the CSV null token's characters, NUL, JSON escapes.
_SPECIAL_CHARS = [
    "a",
    "Z",
    " ",
    "é",
    "世",
    "🎉",
    "𝄞",
    '"',
    ",",
    ";",
    "\n",
    "\r",
    "\t",
    "\\",
    "N",
    "\x00",
    "\u2028",
]
#: Any Unicode scalar value: every code point but the surrogates (valid UTF-8, §6 rule 4).
_ANY_CHAR = st.characters(exclude_categories=("Cs",))
_CHARS = st.one_of(st.sampled_from(_SPECIAL_CHARS), _ANY_CHAR)


def _fit(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` UTF-8 bytes at a character boundary."""
    while utf8_len(text) > limit:
        text = text[:-1]
    return text


@st.composite
def text_of_bytes(draw: st.DrawFn, n: int) -> str:
    """A valid UTF-8 string of exactly ``n`` bytes, mixing 1-4 byte characters (§6 rule 4)."""
    unit = draw(st.text(_CHARS, min_size=1, max_size=6))
    text = _fit(unit * (n // max(1, utf8_len(unit)) + 1), n)
    return text + "a" * (n - utf8_len(text))


def varchar_values(max_length: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """Valid VarChar values: UTF-8 strings of at most ``max_length`` bytes (§2, §6 rule 4).

    Short strings of any characters, and strings of exactly ``max_length`` bytes (the bound).
    """
    short = st.text(_CHARS, min_size=min_size, max_size=min(max_length, 12)).map(
        lambda t: _fit(t, max_length)
    )
    short = short.filter(lambda t: len(t) >= min_size)
    if max_length > 4096:
        return short
    return st.one_of(short, text_of_bytes(max_length))


def field_names(max_length: int = 255) -> st.SearchStrategy[str]:
    """Valid Milvus field names: ``[A-Za-z_][A-Za-z0-9_]*``, at most 255 characters (§3).

    Mostly short; sometimes exactly ``max_length`` characters (the bound).
    """
    first = st.sampled_from("abcXYZ_")
    rest = "abcxyzABCXYZ0123456789_"
    short = st.builds(str.__add__, first, st.text(rest, max_size=11))
    longest = st.builds(str.__add__, first, st.text(rest, min_size=max_length - 1, max_size=max_length - 1))
    return st.one_of(short, short, short, longest)


# --------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------

_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(_CHARS, max_size=8),
)


def json_values() -> st.SearchStrategy[Any]:
    """JSON values: objects, lists and scalars with finite numbers and 64-bit integers (§2 JSON)."""
    return st.recursive(
        _JSON_SCALARS,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(_CHARS, max_size=6), inner, max_size=3)
        ),
        max_leaves=8,
    )


def json_field_values() -> st.SearchStrategy[Any]:
    """Valid JSON field values (§2 JSON, §6 rule 6): a dict, a list or number, or JSON text."""
    objects = st.dictionaries(st.text(_CHARS, max_size=6), json_values(), max_size=4)
    others = st.lists(json_values(), max_size=3) | st.integers(-(2**53), 2**53) | st.booleans()
    as_text = st.one_of(objects, others).map(json.dumps)
    return st.one_of(objects, objects, others, as_text)


# --------------------------------------------------------------------------------------
# Values per field
# --------------------------------------------------------------------------------------


def _floats(limit: float, width: int = 64) -> st.SearchStrategy[float]:
    return st.floats(min_value=-limit, max_value=limit, width=width, allow_nan=False, allow_infinity=False)


def element_values(dtype: DataType, max_length: int | None) -> st.SearchStrategy[Any]:
    """Valid scalar values (Array elements too): ints in range, finite floats (§6 rules 2-4)."""
    if dtype is DataType.BOOL:
        return st.booleans()
    if dtype in INT_BOUNDS:
        lo, hi = INT_BOUNDS[dtype]
        return st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi]))
    if dtype is DataType.FLOAT:  # float32: the value must stay finite once narrowed
        return st.one_of(_floats(F32_MAX), st.sampled_from([F32_MAX, -F32_MAX, 1e-45, -0.0]))
    if dtype is DataType.DOUBLE:
        return st.floats(allow_nan=False, allow_infinity=False)
    assert dtype is DataType.VARCHAR
    assert max_length is not None
    return varchar_values(max_length)


def valid_value(f: FieldSchema) -> st.SearchStrategy[Any]:
    """A valid non-null value for field ``f`` (§2 value column, §6 rules 2-6)."""
    dtype = f.dtype
    if dtype in SCALAR_TYPES:
        return element_values(dtype, f.max_length)
    if dtype is DataType.JSON:
        return json_field_values()
    if dtype is DataType.ARRAY:
        assert f.element_type is not None
        assert f.max_capacity is not None
        return st.lists(element_values(f.element_type, f.max_length), max_size=min(f.max_capacity, 6))
    dim = f.dim or 0
    if dtype is DataType.FLOAT_VECTOR:
        return st.lists(_floats(F32_MAX), min_size=dim, max_size=dim)
    if dtype is DataType.BINARY_VECTOR:
        return st.lists(st.integers(0, 255), min_size=dim // 8, max_size=dim // 8)
    if dtype is DataType.FLOAT16_VECTOR:  # float32-exact inputs: one rounding step to float16
        return st.lists(_floats(F16_MAX, 32), min_size=dim, max_size=dim)
    if dtype is DataType.BFLOAT16_VECTOR:
        return st.lists(_floats(BF16_MAX, 32), min_size=dim, max_size=dim)
    if dtype is DataType.INT8_VECTOR:
        return st.lists(st.integers(-128, 127), min_size=dim, max_size=dim)
    assert dtype is DataType.SPARSE_FLOAT_VECTOR
    return st.dictionaries(
        st.integers(0, SPARSE_INDEX_LIMIT - 1) | st.just(SPARSE_INDEX_LIMIT - 1),
        st.floats(min_value=0.0, max_value=F32_MAX) | st.just(0.0),
        max_size=4,
    )


# --------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------


@st.composite
def field_schemas(draw: st.DrawFn, name: str, dtype: DataType, *, for_numpy: bool = False) -> FieldSchema:
    """A valid field of ``dtype`` (FieldSchema rules; nullable/default as Milvus allows, §3).

    VarChar ``max_length`` 1-65,535 bytes; Array ``max_capacity`` 1-4,096 of a scalar type;
    dense ``dim`` small (BinaryVector a multiple of 8). Vectors are never nullable or
    defaulted; JSON and Array never defaulted; NumPy schemas have no nullable field.
    """
    kwargs: dict[str, Any] = {}
    if dtype is DataType.VARCHAR:
        kwargs["max_length"] = draw(st.integers(1, 40) | st.just(65_535))
    elif dtype is DataType.ARRAY:
        element = draw(st.sampled_from(SCALAR_TYPES))
        kwargs["element_type"] = element
        kwargs["max_capacity"] = draw(st.integers(1, 5) | st.just(4096))
        if element is DataType.VARCHAR:
            kwargs["max_length"] = draw(st.integers(1, 20))
    elif dtype is DataType.BINARY_VECTOR:
        kwargs["dim"] = 8 * draw(st.integers(1, 4))
    elif dtype.is_dense_vector:
        kwargs["dim"] = draw(st.integers(1, 6))
    if not dtype.is_vector and not for_numpy:
        kwargs["nullable"] = draw(st.booleans())
    if dtype in SCALAR_TYPES and draw(st.booleans()):
        probe = FieldSchema(name, dtype, **kwargs)
        kwargs["default_value"] = draw(element_values(dtype, probe.max_length))
    return FieldSchema(name, dtype, **kwargs)


@st.composite
def schemas(draw: st.DrawFn, *, for_numpy: bool = False, max_fields: int = 6) -> CollectionSchema:
    """A random valid CollectionSchema (§3): an Int64 or VarChar primary key (Int64 maybe
    auto_id), at least one vector, up to ``max_fields`` more fields of any type, the
    dynamic field on or off. ``for_numpy``: only what NumPy import carries (§4 NumPy).
    """
    types = [
        t
        for t in (*SCALAR_TYPES, DataType.JSON, DataType.ARRAY, *VECTOR_TYPES)
        if not for_numpy or t not in NUMPY_UNSUPPORTED
    ]
    vectors = [t for t in VECTOR_TYPES if not for_numpy or t not in NUMPY_UNSUPPORTED]
    extra = draw(st.lists(st.sampled_from(types), max_size=max_fields))
    dtypes = [draw(st.sampled_from(vectors)), *extra]
    # NumPy names files "<field>.npy": keep that within the usual 255-byte file name limit
    # (see test_numpy_with_a_255_character_field_name in test_properties.py)
    name_limit = 251 if for_numpy else 255
    names = draw(
        st.lists(
            field_names(name_limit), min_size=len(dtypes) + 1, max_size=len(dtypes) + 1, unique_by=str.lower
        )
    )
    pk_type = draw(st.sampled_from([DataType.INT64, DataType.VARCHAR]))
    pk = FieldSchema(
        names[0],
        pk_type,
        is_primary=True,
        auto_id=pk_type is DataType.INT64 and draw(st.booleans()),
        max_length=draw(st.integers(1, 40)) if pk_type is DataType.VARCHAR else None,
    )
    fields = [draw(field_schemas(n, t, for_numpy=for_numpy)) for n, t in zip(names[1:], dtypes, strict=True)]
    position = draw(st.integers(0, len(fields)))
    fields.insert(position, pk)
    return CollectionSchema(fields, enable_dynamic_field=draw(st.booleans()))


# --------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------


def _dynamic_keys(schema: CollectionSchema) -> st.SearchStrategy[str]:
    """Keys outside the schema (they go to ``$meta`` when the dynamic field is on, §3)."""
    names = {f.name for f in schema.fields} | {"$meta"}
    return st.text(_CHARS, min_size=1, max_size=6).filter(lambda k: k not in names)


def _primary_keys(pk: FieldSchema, n: int) -> st.SearchStrategy[list[Any]]:
    """``n`` unique primary keys (§3: Milvus does not deduplicate, the writer must)."""
    if pk.dtype is DataType.INT64:
        lo, hi = INT_BOUNDS[DataType.INT64]
        return st.lists(st.integers(lo, hi), min_size=n, max_size=n, unique=True)
    assert pk.max_length is not None
    return st.lists(varchar_values(pk.max_length, min_size=1), min_size=n, max_size=n, unique=True)


@st.composite
def _cell(draw: st.DrawFn, f: FieldSchema, row: dict[str, Any]) -> None:
    """Set ``row[f.name]`` to a valid value, or to null / leave it out where allowed (§3)."""
    if f.accepts_null:
        choice = draw(st.sampled_from(["value", "value", "null", "absent"]))
        if choice == "absent":
            return
        if choice == "null":
            row[f.name] = None
            return
    row[f.name] = draw(valid_value(f))


@st.composite
def row_lists(
    draw: st.DrawFn, schema: CollectionSchema, min_rows: int = 1, max_rows: int = 6
) -> list[dict[str, Any]]:
    """Valid rows for ``schema``: every rule of §6 holds, primary keys unique, no auto_id key,
    nulls only in nullable or defaulted fields, dynamic keys only when the dynamic field is on.
    """
    n = draw(st.integers(min_rows, max_rows))
    pk = schema.primary_field
    keys = [] if pk.auto_id else draw(_primary_keys(pk, n))
    dynamic = (
        draw(st.lists(_dynamic_keys(schema), max_size=3, unique=True)) if schema.enable_dynamic_field else []
    )
    rows: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {}
        for f in schema.input_fields:
            if f.is_primary:
                row[f.name] = keys[i]
            else:
                draw(_cell(f, row))
        for key in dynamic:
            if draw(st.booleans()):
                row[key] = draw(json_values())
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------
# Just-invalid rows
# --------------------------------------------------------------------------------------


@dataclass
class InvalidCase:
    """Valid rows with exactly one rule broken in one place.

    Attributes: ``rows`` the input; ``field`` and ``row`` where the error must point;
    ``codes`` the FieldError codes that name the broken rule; ``element`` the index inside a
    vector or array when the rule is about one element (None: not checked); ``rule`` a label.
    """

    rows: list[dict[str, Any]]
    field: str
    row: int
    codes: frozenset[str]
    rule: str
    element: int | None = None
    value: Any = field(default=None, repr=False)

    def __repr__(self) -> str:  # hypothesis prints this on failure: keep the essentials
        return f"InvalidCase(rule={self.rule!r}, field={self.field!r}, row={self.row}, rows={self.rows!r})"


#: A breaker gets (draw, field, row dict) and returns (rule, codes, element) after
#: changing the row; None when the rule cannot be broken for this field.
Breaker = Any

_NON_FINITE = [math.nan, math.inf, -math.inf]


def _break_int(
    draw: st.DrawFn, f: FieldSchema, row: dict[str, Any]
) -> tuple[str, set[str], int | None] | None:
    """§6 rule 2: one past the integer bound of the width."""
    if f.dtype not in INT_BOUNDS:
        return None
    lo, hi = INT_BOUNDS[f.dtype]
    row[f.name] = draw(st.sampled_from([lo - 1, hi + 1]))
    return "int_bound", {"int_out_of_range"}, None


def _break_float(
    draw: st.DrawFn, f: FieldSchema, row: dict[str, Any]
) -> tuple[str, set[str], int | None] | None:
    """§6 rule 3: NaN or an infinity; for Float, the next double above the float32 range."""
    if f.dtype not in (DataType.FLOAT, DataType.DOUBLE):
        return None
    if f.dtype is DataType.FLOAT and draw(st.booleans()):
        row[f.name] = draw(st.sampled_from([1, -1])) * float(np.nextafter(F32_MAX, math.inf))
        return "float32_range", {"float_out_of_range"}, None
    row[f.name] = draw(st.sampled_from(_NON_FINITE))
    return "not_finite", {"not_finite"}, None


def _too_long(draw: st.DrawFn, limit: int) -> str:
    return draw(text_of_bytes(limit + 1))


def _lone_surrogate(draw: st.DrawFn, limit: int) -> str:
    surrogate = chr(draw(st.integers(0xD800, 0xDFFF)))
    return draw(varchar_values(max(0, limit - 3))) + surrogate


def _break_varchar(
    draw: st.DrawFn, f: FieldSchema, row: dict[str, Any]
) -> tuple[str, set[str], int | None] | None:
    """§6 rule 4: one UTF-8 byte over ``max_length``, or a lone surrogate (not UTF-8)."""
    if f.dtype is not DataType.VARCHAR:
        return None
    assert f.max_length is not None
    if draw(st.booleans()):
        row[f.name] = _too_long(draw, f.max_length)
        return "too_long", {"too_long"}, None
    row[f.name] = _lone_surrogate(draw, f.max_length)
    return "lone_surrogate", {"invalid_utf8"}, None


def _break_array(
    draw: st.DrawFn, f: FieldSchema, row: dict[str, Any]
) -> tuple[str, set[str], int | None] | None:
    """§6 rule 5: one element over ``max_capacity``, or one bad element (rules 2-4)."""
    if f.dtype is not DataType.ARRAY:
        return None
    assert f.element_type is not None
    assert f.max_capacity is not None
    element = element_values(f.element_type, f.max_length)
    if f.max_capacity <= 8 and draw(st.booleans()):
        row[f.name] = draw(st.lists(element, min_size=f.max_capacity + 1, max_size=f.max_capacity + 1))
        return "over_capacity", {"too_many_elements"}, None
    values = draw(st.lists(element, max_size=min(f.max_capacity, 4) - 1))
    at = draw(st.integers(0, len(values)))
    probe: dict[str, Any] = {}
    element_field = FieldSchema(f.name, f.element_type, max_length=f.max_length)
    broken = _break_scalar(draw, element_field, probe)
    if broken is None:  # Bool elements: a null element instead
        values.insert(at, None)
        row[f.name] = values
        return "null_element", {"null_element"}, at
    values.insert(at, probe[f.name])
    row[f.name] = values
    rule, codes, _ = broken
    # Int64 overflow and lone surrogates fail in the Python-to-Arrow step, which names the row only.
    exact = f.element_type is not DataType.INT64 and rule != "lone_surrogate"
    return "array_" + rule, codes, at if exact else None


def _break_scalar(
    draw: st.DrawFn, f: FieldSchema, row: dict[str, Any]
) -> tuple[str, set[str], int | None] | None:
    for breaker in (_break_int, _break_float, _break_varchar):
        out = breaker(draw, f, row)
        if out is not None:
            return out
    return None


def _break_dense(
    draw: st.DrawFn, f: FieldSchema, row: dict[str, Any]
) -> tuple[str, set[str], int | None] | None:
    """§2/§6 rule 3: dim off by one; NaN/Inf; out of the element type's range."""
    if not f.dtype.is_dense_vector:
        return None
    values = list(row.get(f.name) or draw(valid_value(f)))
    kind = draw(st.sampled_from(["dim", "element"]))
    if kind == "dim":
        if draw(st.booleans()) or len(values) == 1:
            values.append(values[0] if values else 0)
        else:
            values.pop()
        row[f.name] = values
        return "dim_off_by_one", {"wrong_dim"}, None
    at = draw(st.integers(0, len(values) - 1))
    if f.dtype is DataType.BINARY_VECTOR:
        values[at] = draw(st.sampled_from([-1, 256]))
        codes = {"int_out_of_range"}
    elif f.dtype is DataType.INT8_VECTOR:
        values[at] = draw(st.sampled_from([-129, 128]))
        codes = {"int_out_of_range"}
    else:
        overflow = {
            DataType.FLOAT_VECTOR: float(np.nextafter(F32_MAX, math.inf)) * 2,
            DataType.FLOAT16_VECTOR: 65520.0,  # the smallest value float16 rounds to infinity
            DataType.BFLOAT16_VECTOR: F32_MAX,  # finite float32, infinite once rounded to bfloat16
        }[f.dtype]
        values[at] = draw(st.sampled_from([*_NON_FINITE, overflow, -overflow]))
        codes = {"not_finite"} if not math.isfinite(values[at]) else {"float_out_of_range"}
    row[f.name] = values
    return "vector_element", codes, at


def _break_sparse(
    draw: st.DrawFn, f: FieldSchema, row: dict[str, Any]
) -> tuple[str, set[str], int | None] | None:
    """§2 sparse: a negative value, NaN/Inf, or an index outside ``[0, 2^32-1)``."""
    if f.dtype is not DataType.SPARSE_FLOAT_VECTOR:
        return None
    vector = dict(row.get(f.name) or {})
    kind = draw(st.sampled_from(["negative", "not_finite", "index"]))
    if kind == "index":
        vector[draw(st.sampled_from([-1, SPARSE_INDEX_LIMIT]))] = 1.0
        row[f.name] = vector
        return "sparse_index", {"sparse_index_out_of_range"}, None
    index = draw(st.integers(0, SPARSE_INDEX_LIMIT - 1))
    if kind == "negative":  # negative even after narrowing to float32
        vector[index] = draw(st.floats(min_value=-F32_MAX, max_value=-(2.0**-126)))
        codes = {"negative_sparse_value"}
    else:
        vector[index] = draw(st.sampled_from(_NON_FINITE))
        codes = {"not_finite"}
    row[f.name] = vector
    return "sparse_" + kind, codes, None


def _break_json(
    draw: st.DrawFn, f: FieldSchema, row: dict[str, Any]
) -> tuple[str, set[str], int | None] | None:
    """§6 rule 6 / §2 JSON: NaN and Infinity are not JSON numbers."""
    if f.dtype is not DataType.JSON:
        return None
    row[f.name] = {"k": draw(st.sampled_from(_NON_FINITE))}
    return "json_not_finite", {"not_finite"}, None


_BREAKERS = (_break_int, _break_float, _break_varchar, _break_array, _break_dense, _break_sparse, _break_json)


@st.composite
def invalid_cases(draw: st.DrawFn, schema: CollectionSchema) -> InvalidCase:
    """Valid rows for ``schema`` with exactly one rule broken (§3, §6), and where the error must point.

    Rules broken: a value rule of one cell (int bound ±1, NaN/Inf, float32/float16/bfloat16
    range, dim off by one, one UTF-8 byte too long, lone surrogate, one element over
    capacity, a bad array element, negative or non-finite sparse value, sparse index out of
    range, NaN in JSON); null in a field neither nullable nor defaulted; a duplicate
    primary key; an unknown key with the dynamic field off; a NaN dynamic value; a primary
    key value while auto_id is on.
    """
    rows = draw(row_lists(schema, min_rows=1, max_rows=5))
    r = draw(st.integers(0, len(rows) - 1))
    row = rows[r]
    kinds = ["value", "null"]
    pk = schema.primary_field
    if not pk.auto_id and len(rows) > 1 and r > 0:
        kinds.append("duplicate")
    if pk.auto_id:
        kinds.append("auto_id")
    kinds.append("dynamic_nan" if schema.enable_dynamic_field else "unknown_key")
    kind = draw(st.sampled_from(kinds))
    if kind == "duplicate":
        row[pk.name] = rows[draw(st.integers(0, r - 1))][pk.name]
        return InvalidCase(rows, pk.name, r, frozenset({"duplicate_primary_key"}), "duplicate_primary_key")
    if kind == "auto_id":
        row[pk.name] = draw(st.integers(0, 2**62))
        return InvalidCase(rows, pk.name, r, frozenset({"auto_id_primary_key"}), "auto_id_primary_key")
    if kind in ("unknown_key", "dynamic_nan"):
        key = draw(_dynamic_keys(schema))
        row[key] = draw(json_values()) if kind == "unknown_key" else draw(st.sampled_from(_NON_FINITE))
        code = "unknown_field" if kind == "unknown_key" else "not_finite"
        return InvalidCase(rows, key, r, frozenset({code}), kind)
    if kind == "null":
        required = [f for f in schema.input_fields if not f.accepts_null]
        f = draw(st.sampled_from(required))
        row[f.name] = None
        return InvalidCase(rows, f.name, r, frozenset({"null"}), "null_in_required_field")
    # every schema has a vector field, so there is always a value rule to break
    breakable = [f for f in schema.input_fields if any(_applies(b, f) for b in _BREAKERS)]
    f = draw(st.sampled_from(breakable))
    breaker = next(b for b in _BREAKERS if _applies(b, f))
    result = breaker(draw, f, row)
    assert result is not None
    rule, codes, element = result
    return InvalidCase(rows, f.name, r, frozenset(codes), rule, element)


def _applies(breaker: Breaker, f: FieldSchema) -> bool:
    """True when ``breaker`` handles fields of ``f``'s type (without drawing anything)."""
    handled = {
        _break_int: set(INT_BOUNDS),
        _break_float: {DataType.FLOAT, DataType.DOUBLE},
        _break_varchar: {DataType.VARCHAR},
        _break_array: {DataType.ARRAY},
        _break_dense: set(DENSE_VECTORS),
        _break_sparse: {DataType.SPARSE_FLOAT_VECTOR},
        _break_json: {DataType.JSON},
    }
    return f.dtype in handled[breaker]
