"""The canonical Arrow form of validated data: the one contract between validation and formats.

After validation every batch has exactly these column types (input fields in collection
order, then ``$meta`` when the dynamic field is on):

============================  ==================================================================
Milvus type                   canonical Arrow type
============================  ==================================================================
Bool                          ``bool``
Int8 / Int16 / Int32 / Int64  ``int8`` / ``int16`` / ``int32`` / ``int64``
Float / Double                ``float32`` / ``float64`` (always finite)
VarChar                       ``string`` (valid UTF-8, at most ``max_length`` bytes)
JSON                          ``string`` holding JSON text
Array<T>                      ``list<T canonical>``, no null elements
FloatVector                   ``fixed_size_list<float32>[dim]``
BinaryVector                  ``fixed_size_list<uint8>[dim / 8]`` (MSB first)
Float16Vector                 ``fixed_size_list<uint8>[2 * dim]`` (little-endian IEEE half)
BFloat16Vector                ``fixed_size_list<uint8>[2 * dim]`` (little-endian bfloat16)
Int8Vector                    ``fixed_size_list<int8>[dim]``
SparseFloatVector             ``struct<indices: list<uint32>, values: list<float32>>``
``$meta``                     ``string`` holding a JSON object
============================  ==================================================================

Nulls appear only in nullable fields; default values are already filled in.
"""

from __future__ import annotations

import pyarrow as pa

from bulkwriter.schema.collection import DYNAMIC_FIELD, CollectionSchema
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType

__all__ = ["READ_TYPES", "SPARSE_TYPE", "canonical_schema", "canonical_type"]

#: The wide Arrow type values of each numeric or Bool field are read as before validation
#: narrows them (text from CSV, Python values one by one on the error path): every integer
#: width as int64, Float and Double as float64, so range and exactness rules see the value.
READ_TYPES: dict[DataType, pa.DataType] = {
    DataType.BOOL: pa.bool_(),
    DataType.INT8: pa.int64(),
    DataType.INT16: pa.int64(),
    DataType.INT32: pa.int64(),
    DataType.INT64: pa.int64(),
    DataType.FLOAT: pa.float64(),
    DataType.DOUBLE: pa.float64(),
}

#: Canonical Arrow type of a SparseFloatVector cell.
SPARSE_TYPE = pa.struct([("indices", pa.list_(pa.uint32())), ("values", pa.list_(pa.float32()))])

_SCALARS: dict[DataType, pa.DataType] = {
    DataType.BOOL: pa.bool_(),
    DataType.INT8: pa.int8(),
    DataType.INT16: pa.int16(),
    DataType.INT32: pa.int32(),
    DataType.INT64: pa.int64(),
    DataType.FLOAT: pa.float32(),
    DataType.DOUBLE: pa.float64(),
    DataType.VARCHAR: pa.string(),
    DataType.JSON: pa.string(),
}


def canonical_type(field: FieldSchema) -> pa.DataType:
    """Return the Arrow type a validated column of ``field`` has (see the module table)."""
    dtype = field.dtype
    if dtype in _SCALARS:
        return _SCALARS[dtype]
    dim = field.dim or 0
    if dtype is DataType.ARRAY:
        assert field.element_type is not None
        return pa.list_(_SCALARS[field.element_type])
    if dtype is DataType.FLOAT_VECTOR:
        return pa.list_(pa.float32(), dim)
    if dtype is DataType.BINARY_VECTOR:
        return pa.list_(pa.uint8(), dim // 8)
    if dtype in (DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR):
        return pa.list_(pa.uint8(), 2 * dim)
    if dtype is DataType.INT8_VECTOR:
        return pa.list_(pa.int8(), dim)
    if dtype is DataType.SPARSE_FLOAT_VECTOR:
        return SPARSE_TYPE
    raise AssertionError(f"no canonical type for {dtype}")  # pragma: no cover


def canonical_schema(schema: CollectionSchema) -> pa.Schema:
    """Return the Arrow schema of validated batches for ``schema``.

    Columns are the input fields in collection order, then ``$meta`` (``string``) when the
    dynamic field is enabled. A field is marked nullable only when the Milvus field is.
    """
    fields = [pa.field(f.name, canonical_type(f), nullable=f.nullable) for f in schema.input_fields]
    if schema.enable_dynamic_field:
        fields.append(pa.field(DYNAMIC_FIELD, pa.string(), nullable=False))
    return pa.schema(fields)
