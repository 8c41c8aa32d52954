"""Which Milvus server versions can import which types and formats.

This module owns the version matrix of ``target-formats.md`` §1 as data, and the two checks
every encoder runs from ``check_schema``: :func:`check_version_support` (the schema's types)
and :func:`check_format_version` (the file format itself). Both do nothing when
``FormatOptions.milvus_version`` is None: the encoders then emit only forms every supported
version accepts, and the type checks are left to the server.

A version tuple means "this release and later": ``(2, 4)`` is 2.4.0, so a Float16Vector field
(2.4.1+) is refused for ``(2, 4)`` but accepted for ``(2, 4, 1)``.
"""

from __future__ import annotations

from typing import Final

from bulkwriter.errors import FormatError
from bulkwriter.formats.base import FormatOptions
from bulkwriter.schema.collection import CollectionSchema
from bulkwriter.schema.types import DataType

__all__ = [
    "FORMAT_MIN_VERSION",
    "NULLABLE_MIN_VERSION",
    "TYPE_MIN_VERSION",
    "check_format_version",
    "check_version_support",
    "version_text",
]

#: First Milvus release that imports each field type, for types newer than 2.3
#: (``target-formats.md`` §1; Milvus release notes 2.4.1, 2.4.3, 2.6.0).
TYPE_MIN_VERSION: Final[dict[DataType, tuple[int, ...]]] = {
    DataType.FLOAT16_VECTOR: (2, 4, 1),
    DataType.BFLOAT16_VECTOR: (2, 4, 1),
    DataType.SPARSE_FLOAT_VECTOR: (2, 4, 3),
    DataType.INT8_VECTOR: (2, 6),
}

#: First Milvus release with nullable and default-value fields (Milvus docs,
#: nullable-and-default; ``target-formats.md`` §1).
NULLABLE_MIN_VERSION: Final[tuple[int, ...]] = (2, 5)

#: First Milvus release whose bulk import reads each format (``target-formats.md`` §1:
#: Parquet 2.3.4+, CSV 2.5+, JSON Lines 2.6.6+; JSON and NumPy every version).
FORMAT_MIN_VERSION: Final[dict[str, tuple[int, ...]]] = {
    "parquet": (2, 3, 4),
    "csv": (2, 5),
    "jsonl": (2, 6, 6),
}


def version_text(version: tuple[int, ...]) -> str:
    """Return ``version`` as dotted text, e.g. ``(2, 4, 1)`` -> ``"2.4.1"``."""
    return ".".join(str(part) for part in version)


def check_version_support(schema: CollectionSchema, options: FormatOptions) -> None:
    """Refuse a schema whose field types the target Milvus version cannot import.

    Follows the version matrix of ``target-formats.md`` §1 (Milvus release notes 2.4-2.6):
    Float16Vector and BFloat16Vector need 2.4.1+, SparseFloatVector 2.4.3+, Int8Vector
    2.6+, and nullable or default-value fields 2.5+.

    Parameters
    ----------
    schema : CollectionSchema
        The collection; only its input fields (those written to files) are checked.
    options : FormatOptions
        ``milvus_version`` is the oldest target server; None skips every check.

    Raises
    ------
    FormatError
        A field needs a newer server than ``options.milvus_version``; the message names the
        field, its type and the first release that supports it.
    """
    if options.milvus_version is None:
        return
    target = version_text(tuple(options.milvus_version))
    for field in schema.input_fields:
        needed = TYPE_MIN_VERSION.get(field.dtype)
        if needed is not None and not options.at_least(*needed):
            raise FormatError(
                f"field '{field.name}' ({field.dtype.value}) needs Milvus {version_text(needed)} "
                f"or later, but the target version is {target}"
            )
        if (field.nullable or field.has_default) and not options.at_least(*NULLABLE_MIN_VERSION):
            kind = "nullable" if field.nullable else "default-value"
            raise FormatError(
                f"field '{field.name}' is {kind}, which needs Milvus "
                f"{version_text(NULLABLE_MIN_VERSION)} or later, but the target version is {target}"
            )


def check_format_version(format_name: str, options: FormatOptions) -> None:
    """Refuse a format the target Milvus version cannot import.

    Parameters
    ----------
    format_name : str
        One of the registry names (``"parquet"``, ``"json"``, ``"jsonl"``, ``"numpy"``,
        ``"csv"``); names missing from :data:`FORMAT_MIN_VERSION` are read by every version.
    options : FormatOptions
        ``milvus_version`` is the oldest target server; None skips the check.

    Raises
    ------
    FormatError
        The format needs a newer server (``target-formats.md`` §1: Parquet 2.3.4+, CSV 2.5+,
        JSON Lines 2.6.6+).
    """
    needed = FORMAT_MIN_VERSION.get(format_name)
    if options.milvus_version is None or needed is None or options.at_least(*needed):
        return
    raise FormatError(
        f"format '{format_name}' needs Milvus {version_text(needed)} or later, but the target "
        f"version is {version_text(tuple(options.milvus_version))}"
    )
