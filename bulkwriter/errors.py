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

__all__ = [
    "AppendMismatchError",
    "BulkWriterError",
    "CleanupError",
    "CommitError",
    "ConcurrentWriteError",
    "DestinationExistsError",
    "FieldError",
    "FormatError",
    "InputError",
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
    """Reading, writing or moving files in storage failed."""


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
    code : str
        Stable slug naming the broken rule, e.g. ``"int_out_of_range"``, ``"not_finite"``,
        ``"too_long"``, ``"null"``, ``"duplicate_primary_key"``, ``"unknown_field"``.
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

    code: str
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
