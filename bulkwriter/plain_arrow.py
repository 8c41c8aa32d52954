"""Arrow view types given as input, turned into the plain types validation reads.

Arrow 1.4 added "view" layouts: ``string_view`` and ``binary_view`` (what polars uses inside
and hands over with ``to_arrow(compat_level=CompatLevel.newest())``), and ``list_view`` /
``large_list_view``. Validation and the encoders read strings through offsets and lists
through ``offsets``/``values``, and pyarrow kernels such as ``take`` have no view kernels, so
an input column of a view type, at any depth inside lists and structs, becomes the equal
plain column here, once, before validation: ``string_view`` -> ``large_string``,
``binary_view`` -> ``large_binary``, ``list_view`` -> ``list``, ``large_list_view`` ->
``large_list``. Values are not changed.

pyarrow 26 casts ``list_view`` to ``list`` into an invalid array (offsets buffer too short),
so list views are rebuilt from their sizes and flattened values instead of cast.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.errors import InputError

__all__ = ["has_views", "without_views"]


def _is_view(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_string_view(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    )


def has_views(t: pa.DataType) -> bool:
    """Whether ``t`` is, or holds at any depth, a view type."""
    if _is_view(t):
        return True
    return any(has_views(t.field(i).type) for i in range(t.num_fields))


def without_views(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with every view-typed column (at any depth) as the equal plain column.

    Parameters
    ----------
    batch : pyarrow.RecordBatch
        An input batch; returned as is when no column holds a view type.

    Returns
    -------
    pyarrow.RecordBatch
        The same rows, names and schema metadata; view types replaced as the module says.

    Raises
    ------
    InputError
        A map or dictionary column holds a view type pyarrow cannot cast correctly.
    """
    if not any(has_views(t) for t in batch.schema.types):
        return batch
    columns = [_plain(c) for c in batch.columns]
    fields = [
        pa.field(f.name, c.type, f.nullable, f.metadata) for f, c in zip(batch.schema, columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields, metadata=batch.schema.metadata))


def _plain(arr: pa.Array) -> pa.Array:
    t = arr.type
    if not has_views(t):
        return arr
    if pa.types.is_string_view(t):
        return arr.cast(pa.large_string())
    if pa.types.is_binary_view(t):
        return arr.cast(pa.large_binary())
    mask = arr.is_null() if arr.null_count else None
    if (
        pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
        or pa.types.is_list(t)
        or pa.types.is_large_list(t)
    ):
        large = pa.types.is_large_list_view(t) or pa.types.is_large_list(t)
        values = _plain(pc.list_flatten(arr))
        sizes = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
        offsets = pa.array(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64 if large else np.int32))
        item = pa.field(t.value_field.name, values.type, t.value_field.nullable)
        kind = pa.LargeListArray if large else pa.ListArray
        lists: pa.Array = kind.from_arrays(
            offsets, values, type=(pa.large_list if large else pa.list_)(item), mask=mask
        )
        return lists
    if pa.types.is_fixed_size_list(t):
        values = _plain(pc.list_flatten(arr))
        item = pa.field(t.value_field.name, values.type, t.value_field.nullable)
        fixed: pa.Array = pa.FixedSizeListArray.from_arrays(
            values, type=pa.list_(item, t.list_size), mask=mask
        )
        return fixed
    if pa.types.is_struct(t):
        children = [_plain(child) for child in arr.flatten()]
        fields = [pa.field(t.field(i).name, c.type, t.field(i).nullable) for i, c in enumerate(children)]
        struct: pa.Array = pa.StructArray.from_arrays(children, fields=fields, mask=mask)
        return struct
    # maps and dictionaries: a cast (pyarrow casts views inside them correctly), checked
    cast: pa.Array = arr.cast(_plain_type(t))
    try:
        cast.validate(full=True)
    except pa.ArrowInvalid as error:
        raise InputError(
            f"a column of Arrow type {t} cannot be read (convert its view types first): {error}"
        ) from None
    return cast


def _plain_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_string_view(t):
        return pa.large_string()
    if pa.types.is_binary_view(t):
        return pa.large_binary()
    if pa.types.is_list_view(t) or pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_plain_type(t.value_type)))
    if pa.types.is_large_list_view(t) or pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_plain_type(t.value_type)))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(t.value_field.with_type(_plain_type(t.value_type)), t.list_size)
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(_plain_type(t.field(i).type)) for i in range(t.num_fields)])
    if pa.types.is_map(t):
        return pa.map_(
            t.key_field.with_type(_plain_type(t.key_type)), t.item_field.with_type(_plain_type(t.item_type))
        )
    if pa.types.is_dictionary(t):
        return pa.dictionary(t.index_type, _plain_type(t.value_type), t.ordered)
    return t
