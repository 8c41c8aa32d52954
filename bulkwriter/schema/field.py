"""FieldSchema: one field of a collection, checked on construction."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bulkwriter.errors import SchemaError
from bulkwriter.schema.types import DataType

__all__ = ["MAX_DIM", "MAX_VARCHAR_LENGTH", "FieldSchema"]

#: Largest VarChar ``max_length``, UTF-8 bytes (Milvus docs, "String Field").
MAX_VARCHAR_LENGTH = 65_535
#: Largest Array ``max_capacity``, elements (Milvus docs, "Array Field").
MAX_CAPACITY = 4_096
#: Largest dense vector ``dim`` (Milvus ``proxy.maxDimension``).
MAX_DIM = 32_768
#: Longest field name, characters (Milvus ``proxy.maxNameLength``).
MAX_NAME_LENGTH = 255
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ELEMENT_TYPES = frozenset(
    {
        DataType.BOOL,
        DataType.INT8,
        DataType.INT16,
        DataType.INT32,
        DataType.INT64,
        DataType.FLOAT,
        DataType.DOUBLE,
        DataType.VARCHAR,
    }
)
_NO_DEFAULT = frozenset({DataType.JSON, DataType.ARRAY})


def check_field_name(name: object) -> str:
    """Return ``name`` if it is a valid Milvus field name, else raise SchemaError.

    A valid name starts with a letter or ``_``, holds only ASCII letters, digits and ``_``,
    and has at most 255 characters (Milvus "Limits" page). Such a name can never act as a
    path (no ``/``, ``..`` or empty name), which matters because NumPy output names files
    after fields.
    """
    if not isinstance(name, str) or not name:
        raise SchemaError(f"field name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise SchemaError(f"field name {name[:40]!r}... is longer than {MAX_NAME_LENGTH} characters")
    if not _NAME_RE.match(name):
        raise SchemaError(
            f"field name {name!r} is not a Milvus identifier "
            "(a letter or '_' first, then letters, digits or '_')"
        )
    return name


@dataclass(frozen=True)
class FieldSchema:
    """One field of a Milvus collection.

    Parameters
    ----------
    name : str
        Field name: a Milvus identifier (letter or ``_`` first, then letters, digits, ``_``;
        at most 255 characters).
    dtype : DataType or str
        Milvus data type; a RESTful v2 name such as ``"FloatVector"`` is accepted.
    is_primary : bool, default False
        Primary key. Exactly one per collection, of type Int64 or VarChar.
    auto_id : bool, default False
        On the primary key: the server generates it, and imported data must not carry it.
    max_length : int, optional
        VarChar (and Array of VarChar elements): the limit in **UTF-8 bytes**, 1-65,535.
    dim : int, optional
        Dense vectors: dimensions per vector, 1-32,768. BinaryVector counts bits (a multiple
        of 8). Not used for SparseFloatVector.
    element_type : DataType or str, optional
        Array: the type of the elements (a scalar type).
    max_capacity : int, optional
        Array: the most elements per row, 1-4,096.
    nullable : bool, default False
        Null values allowed (Milvus 2.5+). Not for the primary key, vectors or partition keys.
    default_value : bool, int, float or str, optional
        Value taken for a null or missing cell (Milvus 2.5+). Not for JSON, Array, vectors
        or the primary key.
    is_partition_key : bool, default False
        The partition key field (Int64 or VarChar, at most one).
    description : str, default ""

    Raises
    ------
    SchemaError
        An impossible combination: vector without ``dim``, BinaryVector ``dim`` not a
        multiple of 8, VarChar without ``max_length``, Array without element type or
        capacity, a default value of the wrong type, a bad name, and so on.
    """

    name: str
    dtype: DataType
    is_primary: bool = False
    auto_id: bool = False
    max_length: int | None = None
    dim: int | None = None
    element_type: DataType | None = None
    max_capacity: int | None = None
    nullable: bool = False
    default_value: Any = None
    is_partition_key: bool = False
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        check_field_name(self.name)
        try:
            object.__setattr__(self, "dtype", DataType.from_name(self.dtype))
            if self.element_type is not None:
                object.__setattr__(self, "element_type", DataType.from_name(self.element_type))
        except ValueError as exc:
            raise SchemaError(f"field '{self.name}': {exc}") from None
        for attr in ("max_length", "dim", "max_capacity"):
            value = getattr(self, attr)
            if value is not None:
                object.__setattr__(self, attr, _positive_int(self.name, attr, value))
        self._check_params()
        self._check_flags()
        if self.default_value is not None:
            self._check_default()

    @property
    def has_default(self) -> bool:
        """True when a default value is set."""
        return self.default_value is not None

    @property
    def accepts_null(self) -> bool:
        """True when a null or missing cell is allowed (nullable, or filled by the default)."""
        return self.nullable or self.has_default

    def _fail(self, message: str) -> SchemaError:
        return SchemaError(f"field '{self.name}' ({self.dtype.value}): {message}")

    def _check_params(self) -> None:
        self._check_dim()
        self._check_array()
        needs_length = self.dtype is DataType.VARCHAR or (
            self.dtype is DataType.ARRAY and self.element_type is DataType.VARCHAR
        )
        if needs_length:
            if self.max_length is None:
                raise self._fail("VarChar needs max_length (UTF-8 bytes)")
            if self.max_length > MAX_VARCHAR_LENGTH:
                raise self._fail(f"max_length {self.max_length} is above the limit {MAX_VARCHAR_LENGTH}")
        elif self.max_length is not None:
            raise self._fail("max_length is only for VarChar and Array of VarChar")

    def _check_dim(self) -> None:
        dtype = self.dtype
        if not dtype.is_dense_vector:
            if self.dim is not None:
                raise self._fail("dim is only for dense vectors")
            return
        if self.dim is None:
            raise self._fail("a dense vector needs dim")
        if self.dim > MAX_DIM * (8 if dtype is DataType.BINARY_VECTOR else 1):
            raise self._fail(f"dim {self.dim} is above the limit {MAX_DIM}")
        if dtype is DataType.BINARY_VECTOR and self.dim % 8:
            raise self._fail(f"BinaryVector dim counts bits and must be a multiple of 8, got {self.dim}")

    def _check_array(self) -> None:
        if self.dtype is not DataType.ARRAY:
            if self.element_type is not None or self.max_capacity is not None:
                raise self._fail("element_type and max_capacity are only for Array fields")
            return
        if self.element_type is None:
            raise self._fail("an Array needs element_type")
        if self.element_type not in _ELEMENT_TYPES:
            raise self._fail(f"Array elements cannot be {self.element_type.value}")
        if self.max_capacity is None:
            raise self._fail("an Array needs max_capacity")
        if self.max_capacity > MAX_CAPACITY:
            raise self._fail(f"max_capacity {self.max_capacity} is above the limit {MAX_CAPACITY}")

    def _check_flags(self) -> None:
        dtype = self.dtype
        if self.is_primary:
            if dtype not in (DataType.INT64, DataType.VARCHAR):
                raise self._fail("a primary key must be Int64 or VarChar")
            if self.nullable or self.has_default:
                raise self._fail("a primary key cannot be nullable or have a default value")
        elif self.auto_id:
            raise self._fail("auto_id is only for the primary key")
        if self.is_partition_key:
            if dtype not in (DataType.INT64, DataType.VARCHAR):
                raise self._fail("a partition key must be Int64 or VarChar")
            if self.is_primary:
                raise self._fail("the primary key cannot be the partition key")
            if self.nullable:
                raise self._fail("a partition key cannot be nullable")
        if self.nullable and dtype.is_vector:
            raise self._fail("vector fields cannot be nullable")

    def _check_default(self) -> None:
        value = self.default_value
        dtype = self.dtype
        if dtype in _NO_DEFAULT or dtype.is_vector:
            raise self._fail("this type cannot have a default value")
        ok: bool
        if dtype is DataType.BOOL:
            ok = isinstance(value, bool)
        elif dtype.is_integer:
            bits = dtype.int_bits
            ok = (
                isinstance(value, int)
                and not isinstance(value, bool)
                and -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)
            )
        elif dtype in (DataType.FLOAT, DataType.DOUBLE):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if ok and dtype is DataType.FLOAT:  # stored as float32: must not round to inf
                with np.errstate(over="ignore"):
                    ok = bool(np.isfinite(np.float32(value)))
        else:  # VarChar
            ok = isinstance(value, str) and len(value.encode("utf-8")) <= (self.max_length or 0)
        if not ok:
            raise self._fail(f"default value {value!r} does not fit the type")

    def to_dict(self) -> dict[str, Any]:
        """Return the field in Milvus's RESTful v2 ``fields`` form."""
        out: dict[str, Any] = {"fieldName": self.name, "dataType": self.dtype.value}
        if self.is_primary:
            out["isPrimary"] = True
        if self.is_partition_key:
            out["isPartitionKey"] = True
        if self.nullable:
            out["nullable"] = True
        if self.default_value is not None:
            out["defaultValue"] = self.default_value
        if self.element_type is not None:
            out["elementDataType"] = self.element_type.value
        params = {
            k: v
            for k, v in (
                ("max_length", self.max_length),
                ("dim", self.dim),
                ("max_capacity", self.max_capacity),
            )
            if v is not None
        }
        if params:
            out["elementTypeParams"] = params
        if self.description:
            out["description"] = self.description
        return out


def _positive_int(name: str, attr: str, value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SchemaError(f"field '{name}': {attr} must be a positive integer, got {value!r}")
    return value
