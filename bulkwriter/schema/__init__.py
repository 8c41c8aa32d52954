"""Collection schemas: types, fields, loading from RESTful v2 JSON and pymilvus, Arrow form."""

from bulkwriter.schema.arrow import canonical_schema, canonical_type
from bulkwriter.schema.collection import DYNAMIC_FIELD, CollectionSchema
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.load import as_schema, schema_from_dict, schema_from_pymilvus, schema_to_pymilvus
from bulkwriter.schema.types import DataType

__all__ = [
    "DYNAMIC_FIELD",
    "CollectionSchema",
    "DataType",
    "FieldSchema",
    "as_schema",
    "canonical_schema",
    "canonical_type",
    "schema_from_dict",
    "schema_from_pymilvus",
    "schema_to_pymilvus",
]
