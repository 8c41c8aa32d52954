"""bulkwriter: validate data against a collection schema and write import-ready files."""

from bulkwriter.errors import (
    BulkWriterError,
    CommitError,
    DestinationExistsError,
    FieldError,
    FormatError,
    InputError,
    MissingDependencyError,
    SchemaError,
    StorageError,
    ValidationError,
    WriterClosedError,
)
from bulkwriter.result import WriteResult, WrittenFile
from bulkwriter.schema import CollectionSchema, DataType, FieldSchema

__version__ = "0.1.0"

__all__ = [
    "BulkWriterError",
    "CollectionSchema",
    "CommitError",
    "DataType",
    "DestinationExistsError",
    "FieldError",
    "FieldSchema",
    "FormatError",
    "InputError",
    "MissingDependencyError",
    "SchemaError",
    "StorageError",
    "ValidationError",
    "WriteResult",
    "WriterClosedError",
    "WrittenFile",
    "__version__",
]
