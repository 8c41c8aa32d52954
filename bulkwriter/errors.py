"""The error tree of bulkwriter: every error it raises, and the per-value record.

::

    BulkWriterError
    ├── SchemaError (ValueError)                  bad or unsupported collection schema
    │   └── FormatError                           the chosen format cannot carry this schema
    ├── ValidationError (ValueError)              bad values; ``.errors`` holds FieldError records
    ├── InputError (ValueError)                   an input file or object cannot be read
    ├── DestinationExistsError (FileExistsError)  mode="error" and the destination holds output
    │   ├── UncleanDestinationError               files no commit lists, or an interrupted commit
    │   └── AppendMismatchError                   append with another format, schema or options
    ├── StorageError (OSError)                    reading or writing storage failed
    │   ├── CommitError                           commit failed; nothing of this write is visible
    │   │   └── ConcurrentWriteError              another writer holds or changed the destination
    │   └── CleanupError                          committed, but old files could not be removed
    ├── WriterClosedError (RuntimeError)          the Writer was already committed or aborted
    └── MissingDependencyError (ImportError)      an optional extra is not installed

Each class also inherits the builtin that fits, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "ERROR_CODES",
    "AppendMismatchError",
    "BulkWriterError",
    "CleanupError",
    "CommitError",
    "ConcurrentWriteError",
    "DestinationExistsError",
    "ErrorCode",
    "FieldError",
    "FormatError",
    "ImportJobError",
    "ImportVerificationError",
    "InputError",
    "MilvusRequestError",
    "MissingDependencyError",
    "SchemaError",
    "StorageError",
    "UncleanDestinationError",
    "ValidationError",
    "WriterClosedError",
]

#: How many FieldError lines ``str(ValidationError)`` shows.
_SHOWN_ERRORS = 10
#: Longest ``got`` text kept in a FieldError, in characters.
_MAX_GOT_CHARS = 60

#: The closed catalogue of FieldError codes: one slug per rule (README "Errors" lists them).
ErrorCode = Literal[
    # rows and keys
    "not_a_row",  # an item of a row list is not a dict
    "bad_key",  # a key is not a string
    "missing_field",  # a field that is neither nullable nor defaulted has no column or key
    "unknown_field",  # a key outside the schema while the dynamic field is off
    "auto_id_primary_key",  # a primary key value while auto_id is on
    "function_output_field",  # data for a field a function computes
    "dynamic_key_clash",  # a $meta key equal to a field name or "$meta", or given twice
    "invalid_meta",  # $meta that is not a JSON object
    "duplicate_primary_key",  # a primary key seen before in this write
    # types and shapes
    "wrong_type",  # a value of the wrong kind (a string for Int8, a set for a vector, ...)
    "null",  # null in a field that is neither nullable nor defaulted
    "null_element",  # null inside a vector, an Array or a sparse vector
    "wrong_dim",  # a vector with another number of elements (or bytes) than dim asks
    "too_many_elements",  # an Array over max_capacity
    "sparse_length_mismatch",  # sparse indices and values of different lengths
    # numbers
    "int_out_of_range",  # an integer outside its type (Int8..Int64, Int8Vector, BinaryVector bytes)
    "not_integral",  # a fractional number for an integer type
    "not_exact",  # an integer a float type cannot hold exactly
    "not_finite",  # NaN or an infinity
    "float_out_of_range",  # a finite number beyond the float type's range (float32, float16, bfloat16)
    "sparse_index_out_of_range",  # a sparse index outside [0, 2**32 - 2]
    "negative_sparse_value",  # a sparse value below 0
    "sparse_duplicate_index",  # a sparse index given twice in one row
    # text and JSON
    "too_long",  # VarChar over max_length UTF-8 bytes
    "invalid_utf8",  # text (or a key) that is not valid UTF-8, e.g. a lone surrogate
    "invalid_json",  # JSON text that does not parse, or a value JSON cannot hold
    "json_too_large",  # a JSON field or $meta over Milvus' size limit
    "json_too_deep",  # JSON nested deeper than 128 levels
    # what a format or file cap cannot carry
    "csv_crlf",  # CR LF inside a CSV VarChar cell
    "null_token_collision",  # a CSV cell equal to the null token
    "numpy_trailing_nul",  # text ending in NUL, which NumPy's fixed-width strings drop
    "row_too_large",  # one row bigger than max_bytes_per_file
]

#: Every code of :data:`ErrorCode`.
ERROR_CODES: frozenset[str] = frozenset(get_args(ErrorCode))


class BulkWriterError(Exception):
    """Base class of every error bulkwriter raises."""


class SchemaError(BulkWriterError, ValueError):
    """The collection schema is impossible, or a value of the schema is unsupported."""


class FormatError(SchemaError):
    """The chosen output format cannot carry this schema (e.g. an Array field in NumPy)."""


class InputError(BulkWriterError, ValueError):
    """An input (file, object or stream) cannot be read as data for the schema."""


class DestinationExistsError(BulkWriterError, FileExistsError):
    """``mode="error"`` and the destination already holds files."""


class UncleanDestinationError(DestinationExistsError):
    """The destination holds files its manifest does not list, or an interrupted commit's state.

    Left by a writer that was killed or failed while committing (or put there by hand): an
    import of the destination prefix would pick them up. ``mode="overwrite"`` replaces them;
    :func:`bulkwriter.clean` (``bulkwriter clean PATH``) removes them. ``paths`` lists them.
    """

    def __init__(self, message: str, paths: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.paths: tuple[str, ...] = tuple(paths)


class AppendMismatchError(DestinationExistsError):
    """``mode="append"`` with another format, schema or import options than the output holds.

    ``differences`` names each difference, one line each.
    """

    def __init__(self, message: str, differences: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.differences: tuple[str, ...] = tuple(differences)


class StorageError(BulkWriterError, OSError):
    """Reading, writing or moving files in storage failed.

    Parameters
    ----------
    message : str
        What failed, free of credentials.
    url : str, optional
        The URL (or path) the operation was on, free of credentials.
    operation : str, optional
        What was tried, e.g. ``"upload part-00003-<id>.parquet"``.
    cause_types : tuple of type, optional
        The classes of the exception chain this error was translated from (e.g.
        ``FileNotFoundError``), for callers that decide by kind; no text of it is kept.

    Attributes
    ----------
    url, operation, cause_types
        As given. The exception this one was translated from is chained as ``__cause__`` in
        a redacted copy (its type name and text, secrets replaced by ``***``), never as is.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        operation: str | None = None,
        cause_types: tuple[type[BaseException], ...] = (),
    ) -> None:
        super().__init__(message)
        self.url = url
        self.operation = operation
        self.cause_types = cause_types


class CommitError(StorageError):
    """Committing staged files failed; no file of this write was made visible.

    When even undoing the commit failed (the store went away), the message says what is
    left and that ``bulkwriter clean`` removes it; the output's manifest is never changed.
    """


class ConcurrentWriteError(CommitError):
    """Another writer holds the destination's lock, or committed to it while this write was open.

    The message names the destination and, when known, the other writer (write id, process,
    host, since when). Nothing of this write was made visible.
    """


class CleanupError(StorageError):
    """The write was committed, but files of the previous output could not be removed.

    The new manifest is in place and ``result`` holds the :class:`~bulkwriter.WriteResult`;
    the files named in ``paths`` are not listed by it (an import of the prefix would see
    them) until ``bulkwriter clean`` or the next ``mode="overwrite"`` removes them. Retrying
    the write is not needed.
    """

    def __init__(self, message: str, paths: Sequence[str] = (), result: object = None) -> None:
        super().__init__(message)
        self.paths: tuple[str, ...] = tuple(paths)
        self.result = result


class WriterClosedError(BulkWriterError, RuntimeError):
    """The Writer was already committed or aborted."""


class MissingDependencyError(BulkWriterError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class MilvusRequestError(BulkWriterError, ConnectionError):
    """A request to a Milvus server or Zilliz Cloud failed before any import job ran.

    Raised for a refused request (HTTP 4xx, a non-zero ``code`` in a REST v2 body, a gRPC
    error status), for a missing collection, and once retries of a transient failure (HTTP
    5xx, connection reset, gRPC UNAVAILABLE) are used up.

    Parameters
    ----------
    message : str
        What failed and the server's own message, free of credentials.
    endpoint : str, optional
        The REST path (``/v2/vectordb/jobs/import/create``) or gRPC call (``Import``).
    status : int, optional
        The HTTP status, when there was one.
    code : int, optional
        The ``code`` of a REST v2 body, or the gRPC error code.
    """

    def __init__(
        self, message: str, *, endpoint: str = "", status: int | None = None, code: int | None = None
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status
        self.code = code


class ImportJobError(BulkWriterError, RuntimeError):
    """A Milvus / Zilliz Cloud import job failed or did not finish in time.

    Parameters
    ----------
    message : str
        The job id, its files, its state and the server's reason, verbatim.
    job_id : str
        The job (REST v2 ``jobId``) or task (gRPC task id, as text).
    files : list of list of str
        The import entries the job was given.
    state : str
        The server's last state of the job (``Failed``, ``Importing``, ...).
    reason : str
        The server's ``reason`` / ``failed_reason``, verbatim; empty if it gave none.
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str,
        files: Sequence[Sequence[str]] = (),
        state: str = "",
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.files = [list(entry) for entry in files]
        self.state = state
        self.reason = reason


class ImportVerificationError(BulkWriterError, RuntimeError):
    """Every import job completed, but the rows that arrived differ from the rows written.

    Parameters
    ----------
    message : str
        Both counts and where each was read.
    expected_rows : int
        Rows of the imported files (the manifest's or the WriteResult's count).
    imported_rows : int
        Rows the server reports (its jobs' imported rows, or the collection's row count
        increase).
    """

    def __init__(self, message: str, *, expected_rows: int, imported_rows: int) -> None:
        super().__init__(message)
        self.expected_rows = expected_rows
        self.imported_rows = imported_rows


def short_repr(value: object, limit: int = _MAX_GOT_CHARS) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters, never a whole vector."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


@dataclass(frozen=True)
class FieldError:
    """One invalid value: where it is, what was expected and what came.

    Attributes
    ----------
    code : ErrorCode
        Stable slug naming the broken rule, one of :data:`ErrorCode` (e.g.
        ``"int_out_of_range"``, ``"not_finite"``, ``"too_long"``, ``"duplicate_primary_key"``).
    field : str
        Field name (``"$meta"`` for the dynamic field).
    row : int or None
        0-based position of the row in the whole input stream; None when the error is about
        a whole column (e.g. a missing column).
    expected : str
        What the rule asks for, in words.
    got : str
        A short text of what came (at most about 60 characters).
    element : int or None
        Index inside a vector or array, when the rule is about one element.
    """

    code: ErrorCode
    field: str
    row: int | None
    expected: str
    got: str
    element: int | None = None

    def __str__(self) -> str:
        where = f"field '{self.field}'" if self.element is None else f"field '{self.field}'[{self.element}]"
        prefix = f"row {self.row}, {where}" if self.row is not None else where
        return f"{prefix}: expected {self.expected}, got {self.got} [{self.code}]"

    def at(self, row: int) -> FieldError:
        """Return a copy naming row ``row``."""
        return FieldError(self.code, self.field, row, self.expected, self.got, self.element)

    def shifted(self, offset: int) -> FieldError:
        """Return a copy whose row index is moved by ``offset`` rows."""
        if self.row is None or offset == 0:
            return self
        return FieldError(self.code, self.field, self.row + offset, self.expected, self.got, self.element)


class ValidationError(BulkWriterError, ValueError):
    """Values that break the collection schema.

    Parameters
    ----------
    errors : sequence of FieldError
        Every invalid value found (at least one), in input order.
    collection : str, optional
        Collection name, used in the message.

    Attributes
    ----------
    errors : tuple of FieldError
        Every invalid value found, in input order.
    """

    def __init__(self, errors: Sequence[FieldError], collection: str = "") -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.collection = collection
        super().__init__(self._message())

    def _message(self) -> str:
        n = len(self.errors)
        where = f" in collection '{self.collection}'" if self.collection else ""
        head = f"{n} invalid value{'s' if n != 1 else ''}{where}"
        lines = [str(e) for e in self.errors[:_SHOWN_ERRORS]]
        if n > _SHOWN_ERRORS:
            lines.append(f"... and {n - _SHOWN_ERRORS} more")
        return head + ":\n  " + "\n  ".join(lines)

    def shifted(self, offset: int) -> ValidationError:
        """Return a copy whose row indices are moved by ``offset`` rows."""
        return ValidationError([e.shifted(offset) for e in self.errors], self.collection)
