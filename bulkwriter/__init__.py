"""bulkwriter: validate data against a collection schema and write import-ready files."""

from bulkwriter.errors import (
    ERROR_CODES,
    AppendMismatchError,
    BulkWriterError,
    CleanupError,
    CommitError,
    ConcurrentWriteError,
    DestinationExistsError,
    ErrorCode,
    FieldError,
    FormatError,
    ImportJobError,
    ImportVerificationError,
    InputError,
    MilvusRequestError,
    MissingDependencyError,
    SchemaError,
    StorageError,
    UncleanDestinationError,
    ValidationError,
    WriterClosedError,
)
from bulkwriter.result import WriteResult, WrittenFile
from bulkwriter.schema import CollectionSchema, DataType, FieldSchema

__version__ = "0.1.0"

from bulkwriter.api import clean, inspect, validate, write
from bulkwriter.formats.base import FormatOptions
from bulkwriter.options import WriteOptions
from bulkwriter.storage.recovery import CleanResult, Inspection
from bulkwriter.storage.retry import RetryPolicy
from bulkwriter.storage.transaction import Transaction
from bulkwriter.writer import Writer

__all__ = [
    "ERROR_CODES",
    "AppendMismatchError",
    "BulkWriterError",
    "CleanResult",
    "CleanupError",
    "CollectionSchema",
    "CommitError",
    "ConcurrentWriteError",
    "DataType",
    "DestinationExistsError",
    "ErrorCode",
    "FieldError",
    "FieldSchema",
    "FormatError",
    "FormatOptions",
    "ImportJobError",
    "ImportVerificationError",
    "InputError",
    "Inspection",
    "MilvusRequestError",
    "MissingDependencyError",
    "RetryPolicy",
    "SchemaError",
    "StorageError",
    "Transaction",
    "UncleanDestinationError",
    "ValidationError",
    "WriteOptions",
    "WriteResult",
    "Writer",
    "WriterClosedError",
    "WrittenFile",
    "__version__",
    "clean",
    "inspect",
    "validate",
    "write",
]
