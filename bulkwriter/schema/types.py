"""Milvus data types, with the names used by Milvus's RESTful v2 API and by pymilvus."""

from __future__ import annotations

import enum

__all__ = ["DataType"]


class DataType(enum.Enum):
    """A Milvus field data type.

    The value is the RESTful v2 ``dataType`` name (Milvus "Create Collection" RESTful API);
    :meth:`from_name` also accepts pymilvus enum names (``"FLOAT_VECTOR"``) and codes (``101``).
    """

    BOOL = "Bool"
    INT8 = "Int8"
    INT16 = "Int16"
    INT32 = "Int32"
    INT64 = "Int64"
    FLOAT = "Float"
    DOUBLE = "Double"
    VARCHAR = "VarChar"
    JSON = "JSON"
    ARRAY = "Array"
    FLOAT_VECTOR = "FloatVector"
    BINARY_VECTOR = "BinaryVector"
    FLOAT16_VECTOR = "Float16Vector"
    BFLOAT16_VECTOR = "BFloat16Vector"
    SPARSE_FLOAT_VECTOR = "SparseFloatVector"
    INT8_VECTOR = "Int8Vector"

    @property
    def code(self) -> int:
        """The numeric code pymilvus and the Milvus protobuf use (e.g. 101 for FloatVector)."""
        return _CODES[self]

    @property
    def is_vector(self) -> bool:
        """True for every vector type, sparse included."""
        return self in _VECTORS

    @property
    def is_dense_vector(self) -> bool:
        """True for vector types with a fixed dimension (all but SparseFloatVector)."""
        return self in _VECTORS and self is not DataType.SPARSE_FLOAT_VECTOR

    @property
    def is_integer(self) -> bool:
        """True for Int8, Int16, Int32 and Int64."""
        return self in _INT_BITS

    @property
    def int_bits(self) -> int:
        """Width in bits of an integer type (8, 16, 32 or 64)."""
        return _INT_BITS[self]

    @classmethod
    def from_name(cls, name: str | int | DataType) -> DataType:
        """Look a type up by RESTful name, pymilvus name or numeric code.

        Parameters
        ----------
        name : str, int or DataType
            ``"FloatVector"``, ``"FLOAT_VECTOR"``, ``"floatvector"`` or ``101``.

        Raises
        ------
        ValueError
            The name matches no Milvus data type (the caller wraps it in a SchemaError).
        """
        if isinstance(name, DataType):
            return name
        if isinstance(name, int) and not isinstance(name, bool):
            for dtype, code in _CODES.items():
                if code == name:
                    return dtype
            raise ValueError(f"unknown Milvus data type code {name}")
        key = str(name).replace("_", "").lower()
        if key == "string":
            key = "varchar"
        for dtype in cls:
            if dtype.value.lower() == key:
                return dtype
        raise ValueError(f"unknown Milvus data type {name!r}")


_CODES = {
    DataType.BOOL: 1,
    DataType.INT8: 2,
    DataType.INT16: 3,
    DataType.INT32: 4,
    DataType.INT64: 5,
    DataType.FLOAT: 10,
    DataType.DOUBLE: 11,
    DataType.VARCHAR: 21,
    DataType.ARRAY: 22,
    DataType.JSON: 23,
    DataType.BINARY_VECTOR: 100,
    DataType.FLOAT_VECTOR: 101,
    DataType.FLOAT16_VECTOR: 102,
    DataType.BFLOAT16_VECTOR: 103,
    DataType.SPARSE_FLOAT_VECTOR: 104,
    DataType.INT8_VECTOR: 105,
}
_VECTORS = frozenset(
    {
        DataType.FLOAT_VECTOR,
        DataType.BINARY_VECTOR,
        DataType.FLOAT16_VECTOR,
        DataType.BFLOAT16_VECTOR,
        DataType.SPARSE_FLOAT_VECTOR,
        DataType.INT8_VECTOR,
    }
)
_INT_BITS = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64}
