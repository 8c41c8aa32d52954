"""Rows of an Arrow column that hold NaN or an infinity anywhere, nested values included.

JSON has no NaN or Infinity (RFC 8259 §6), and orjson writes them as ``null`` without a word,
so every column that becomes JSON text (a JSON field given as Arrow structs, maps or lists, and
the unknown-key columns that go into ``$meta``) is checked here first, column-wise.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.errors import FieldError
from bulkwriter.validate._util import error_rows, make_errors

__all__ = ["NOT_JSON_NUMBER", "nonfinite_errors", "nonfinite_rows"]

#: The ``expected`` text of a ``not_finite`` error in a value that becomes JSON.
NOT_JSON_NUMBER = "JSON numbers (NaN and Infinity are not JSON)"


def nonfinite_rows(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Indices of the rows of ``arr`` holding a non-finite float at any depth.

    Parameters
    ----------
    arr : pyarrow.Array or pyarrow.ChunkedArray
        Any Arrow column: floating, list / large list / fixed-size list / map, struct,
        dictionary-encoded, or anything else (which never holds floats).

    Returns
    -------
    numpy.ndarray of int64, shape (k,)
        Sorted, distinct row indices (positions in ``arr``); null cells never count.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_floating(t):
        if not len(arr):
            return np.empty(0, np.int64)
        return error_rows(pc.invert(pc.is_finite(arr)))
    if pa.types.is_dictionary(t):
        return nonfinite_rows(arr.dictionary_decode())
    if pa.types.is_map(t):  # the same rows as a list of (key, item) structs
        return nonfinite_rows(arr.cast(pa.list_(pa.struct([t.key_field, t.item_field]))))
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    ):
        inner = pc.list_flatten(arr)
        bad = nonfinite_rows(inner)
        if not len(bad):
            return bad
        parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
        return np.unique(parents[bad]).astype(np.int64)
    if pa.types.is_struct(t):
        found = [nonfinite_rows(child) for child in arr.flatten()]
        found = [rows for rows in found if len(rows)]
        return np.unique(np.concatenate(found)).astype(np.int64) if found else np.empty(0, np.int64)
    return np.empty(0, np.int64)


def nonfinite_errors(name: str, arr: pa.Array | pa.ChunkedArray) -> list[FieldError]:
    """One ``not_finite`` error per row of ``arr`` holding NaN or an infinity at any depth.

    Parameters
    ----------
    name : str
        The field (or dynamic key) the errors name.
    arr : pyarrow.Array or pyarrow.ChunkedArray
        A column that is about to become JSON text (see :func:`nonfinite_rows`).

    Returns
    -------
    list of FieldError
        Sorted by row (positions in ``arr``); ``got`` is the cell's value.
    """
    return make_errors(
        nonfinite_rows(arr),
        code="not_finite",
        field=name,
        expected=NOT_JSON_NUMBER,
        got=lambda r: arr[r].as_py(),
    )
