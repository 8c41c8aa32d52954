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

from bulkwriter.api import inspect, validate, write
from bulkwriter.formats.base import FormatOptions
from bulkwriter.storage.retry import RetryPolicy
from bulkwriter.writer import Writer

__all__ = [
    "BulkWriterError",
    "CollectionSchema",
    "CommitError",
    "DataType",
    "DestinationExistsError",
    "FieldError",
    "FieldSchema",
    "FormatError",
    "FormatOptions",
    "InputError",
    "MissingDependencyError",
    "RetryPolicy",
    "SchemaError",
    "StorageError",
    "ValidationError",
    "WriteResult",
    "Writer",
    "WriterClosedError",
    "WrittenFile",
    "__version__",
    "inspect",
    "validate",
    "write",
]
