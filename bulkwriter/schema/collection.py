"""CollectionSchema: the fields of a collection and the rules that bind them together."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from bulkwriter.errors import SchemaError
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType

__all__ = ["DYNAMIC_FIELD", "CollectionSchema"]

#: Name of the dynamic field that holds keys outside the schema (Milvus "Dynamic Field").
DYNAMIC_FIELD = "$meta"


class CollectionSchema:
    """The schema of a Milvus collection.

    Parameters
    ----------
    fields : iterable of FieldSchema
        The fields, in collection order. Exactly one is the primary key.
    auto_id : bool, optional
        Whether the server generates primary keys. None (default) takes the primary key's
        own ``auto_id``; True or False overrides it.
    enable_dynamic_field : bool, default False
        Keys outside the schema are kept in the dynamic field ``$meta``; when False they
        are an error.
    description : str, default ""
    name : str, default ""
        Collection name; only used in messages and the manifest.
    function_output_fields : iterable of str, optional
        Fields computed by the server (e.g. a BM25 sparse vector): never written.

    Raises
    ------
    SchemaError
        No primary key or more than one, duplicate field names, more than one partition key,
        no vector field, or an unknown function output field.

    Examples
    --------
    >>> from bulkwriter import CollectionSchema, DataType, FieldSchema
    >>> schema = CollectionSchema([
    ...     FieldSchema("id", DataType.INT64, is_primary=True),
    ...     FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4),
    ... ])
    >>> [f.name for f in schema.input_fields]
    ['id', 'vec']
    """

    def __init__(
        self,
        fields: Iterable[FieldSchema],
        *,
        auto_id: bool | None = None,
        enable_dynamic_field: bool = False,
        description: str = "",
        name: str = "",
        function_output_fields: Iterable[str] = (),
    ) -> None:
        field_list = list(fields)
        for f in field_list:
            if not isinstance(f, FieldSchema):
                raise SchemaError(f"fields must be FieldSchema objects, got {type(f).__name__}")
        primaries = [f for f in field_list if f.is_primary]
        if len(primaries) != 1:
            names = [f.name for f in primaries]
            raise SchemaError(
                f"a collection needs exactly one primary key field, got {len(primaries)} {names}"
            )
        if auto_id is not None and primaries[0].auto_id != auto_id:
            index = field_list.index(primaries[0])
            field_list[index] = dataclasses.replace(primaries[0], auto_id=auto_id)
        seen: set[str] = set()
        for f in field_list:
            if f.name in seen:
                raise SchemaError(f"field name '{f.name}' appears twice")
            seen.add(f.name)
        partition_keys = [f.name for f in field_list if f.is_partition_key]
        if len(partition_keys) > 1:
            raise SchemaError(f"at most one partition key field, got {partition_keys}")
        if not any(f.dtype.is_vector for f in field_list):
            raise SchemaError("a collection needs at least one vector field")
        outputs = tuple(function_output_fields)
        unknown = sorted(set(outputs) - seen)
        if unknown:
            raise SchemaError(f"function output fields {unknown} are not fields of the schema")
        self.fields: tuple[FieldSchema, ...] = tuple(field_list)
        self.enable_dynamic_field = bool(enable_dynamic_field)
        self.description = description
        self.name = name
        self.function_output_fields: frozenset[str] = frozenset(outputs)

    @property
    def primary_field(self) -> FieldSchema:
        """The primary key field."""
        return next(f for f in self.fields if f.is_primary)

    @property
    def auto_id(self) -> bool:
        """True when the server generates primary keys (they must not be in the data)."""
        return self.primary_field.auto_id

    @property
    def input_fields(self) -> tuple[FieldSchema, ...]:
        """The fields import files carry, in collection order.

        All fields but an auto_id primary key and function outputs (Milvus "Prepare Source
        Data": the AutoID field and function-output fields must be absent).
        """
        return tuple(
            f
            for f in self.fields
            if not (f.is_primary and f.auto_id) and f.name not in self.function_output_fields
        )

    def field(self, name: str) -> FieldSchema:
        """Return the field called ``name``; KeyError if there is none."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return the schema in Milvus's RESTful v2 ``schema`` form."""
        out: dict[str, Any] = {
            "autoId": self.auto_id,
            "enabledDynamicField": self.enable_dynamic_field,
            "fields": [f.to_dict() for f in self.fields],
        }
        if self.description:
            out["description"] = self.description
        if self.function_output_fields:
            out["functionOutputFields"] = sorted(self.function_output_fields)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CollectionSchema):
            return NotImplemented
        return (
            self.fields == other.fields
            and self.enable_dynamic_field == other.enable_dynamic_field
            and self.function_output_fields == other.function_output_fields
        )

    def __hash__(self) -> int:
        return hash((self.fields, self.enable_dynamic_field))

    def __repr__(self) -> str:
        names = ", ".join(f"{f.name}:{f.dtype.value}" for f in self.fields)
        return f"CollectionSchema([{names}], dynamic={self.enable_dynamic_field})"

    @property
    def has_nullable(self) -> bool:
        """True when an input field is nullable."""
        return any(f.nullable for f in self.input_fields)

    def uses(self, dtype: DataType) -> bool:
        """True when an input field (or an Array's elements) is of ``dtype``."""
        return any(f.dtype is dtype for f in self.input_fields)
