"""Rows owned at ``append_row`` time: later changes to the caller's objects never reach the output.

``Writer.append_row`` buffers rows until a batch is full. A loop that reuses one dict (or one
list for the vector, or one NumPy buffer) for every row is common in pymilvus code; keeping
references would write the last values N times. So each row is copied as it is appended, as
deep as its field needs and no deeper: scalars and ``bytes`` are immutable and kept as they
are; a vector or Array cell (a flat list of numbers or strings) is copied with one ``list()``;
NumPy arrays are copied; JSON cells, sparse vectors, ``$meta`` and dynamic keys (nested
dicts and lists) are copied recursively. Flat cells become tuples (see :func:`_own_flat`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from bulkwriter.schema.collection import CollectionSchema
from bulkwriter.schema.types import DataType

__all__ = ["MAX_JSON_DEPTH", "RowOwner", "TooDeep", "own_nested"]

#: Most levels of nested containers a JSON value (JSON field cell, dynamic key, ``$meta``)
#: may have; deeper values are refused with code ``json_too_deep``. orjson, the serializer,
#: refuses 255 levels ("Recursion limit reached"), and a value is written inside up to three
#: more (the row object, ``$meta``, the JSON format's ``rows`` list), so 128 leaves room.
MAX_JSON_DEPTH = 128

_IMMUTABLE: frozenset[type] = frozenset({str, int, float, bool, bytes, type(None)})


class TooDeep:
    """Stands for what lies deeper than :data:`MAX_JSON_DEPTH` in an owned row (refused later)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<nested deeper than {MAX_JSON_DEPTH} levels>"


def own_nested(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` sharing nothing mutable with it (dicts, lists, sets, arrays copied).

    Containers deeper than :data:`MAX_JSON_DEPTH` levels become :class:`TooDeep` (such a
    value is refused as ``json_too_deep`` whatever it holds), so the copy never recurses
    without bound.
    """
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, bytearray):
        return bytes(value)
    if depth >= MAX_JSON_DEPTH and isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return TooDeep()
    if kind is dict or isinstance(value, Mapping):
        return {k: own_nested(v, depth + 1) for k, v in value.items()}
    if kind is list:
        return [own_nested(v, depth + 1) for v in value]
    if kind is tuple:
        return tuple(own_nested(v, depth + 1) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(own_nested(v, depth + 1) for v in value)
    return value  # NumPy scalars, Decimal, ...: immutable, or refused later by the rules


def _own_flat(value: Any) -> Any:
    """A flat list of scalars (vector, Array): a shallow copy is a full one.

    The copy is a tuple: CPython's collector stops tracking a tuple of atoms after its first
    pass, so thousands of buffered 768-element vectors cost the collector nothing (as lists
    they were traversed again at every collection: 3x the copy's own cost, measured).
    """
    kind = type(value)
    if kind is list:
        return tuple(value)
    if kind in _IMMUTABLE:
        return value
    return own_nested(value)


def _own_scalar(value: Any) -> Any:
    return value if type(value) in _IMMUTABLE else own_nested(value)


class RowOwner:
    """Copies rows of one collection as deep as each field needs (see the module docstring).

    Parameters
    ----------
    schema : CollectionSchema
        The collection; keys outside it (dynamic keys, ``$meta``) are copied recursively.
    """

    def __init__(self, schema: CollectionSchema) -> None:
        copiers: dict[str, Callable[[Any], Any]] = {}
        for field in schema.fields:
            if field.dtype.is_dense_vector or field.dtype is DataType.ARRAY:
                copiers[field.name] = _own_flat
            elif field.dtype in (DataType.JSON, DataType.SPARSE_FLOAT_VECTOR):
                copiers[field.name] = own_nested
            else:
                copiers[field.name] = _own_scalar
        self._copiers = copiers

    def own(self, row: Any) -> Any:
        """A copy of ``row`` that later changes to the caller's objects cannot affect.

        Anything that is not a mapping is returned as it is (the check names it).
        """
        if not isinstance(row, Mapping):
            return row
        get = self._copiers.get
        return {key: get(key, own_nested)(value) for key, value in row.items()}
