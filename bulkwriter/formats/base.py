"""The encoder interface every output format implements.

An encoder turns one validated chunk (a ``pyarrow.Table`` in the canonical form of
:mod:`bulkwriter.schema.arrow`) into the bytes of one import file, or of one NumPy chunk
folder. Encoding happens in memory, so the writer knows the exact size of what would land on
storage before anything is written, and can make ``max_bytes_per_file`` an exact cap.
Encoders that set :attr:`Encoder.writes_to_stream` can also write their file straight into an
open binary file (:meth:`Encoder.write_to`): the writer uses that for local staging, where an
over-cap file is measured on disk and rewritten shorter before it ever leaves staging.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import BinaryIO

import pyarrow as pa

from bulkwriter.errors import FieldError
from bulkwriter.filedata import FileData, data_size
from bulkwriter.schema.collection import CollectionSchema

__all__ = ["ESTIMATE_SAMPLE_ROWS", "EncodedPart", "Encoder", "FormatOptions"]

#: Rows encoded to estimate bytes per row (see :meth:`Encoder.estimate_bytes_per_row`).
ESTIMATE_SAMPLE_ROWS = 256


@dataclass(frozen=True)
class FormatOptions:
    """Options shared by all formats.

    Parameters
    ----------
    milvus_version : tuple of int, optional
        Oldest Milvus server the files must import into, e.g. ``(2, 3)`` or ``(2, 6, 18)``.
        None (default) means every supported version (2.3.4 and later): the writer then emits
        only forms every version accepts (``target-formats.md``, version matrix). Newer forms
        (e.g. Parquet ``fixed_size_list`` vectors, 2.6.18+) are used only when this says so.
    csv_null_token : str, optional
        CSV only: the text written for a null cell (the import request's ``nullkey``).
        None picks ``\\N`` when a nullable field exists, else the empty string.
    csv_separator : str, default ","
        CSV only: the field separator (the import request's ``sep``).
    parquet_row_group_bytes : int, default 32 MiB
        Parquet only: target uncompressed bytes per row group (the Milvus reference writer
        aims at about 32 MB to bound the server's memory while reading).
    parquet_compression : str, default "snappy"
        Parquet only: the codec (``snappy``, ``zstd``, ``none``); Milvus reads all three.
    """

    milvus_version: tuple[int, ...] | None = None
    csv_null_token: str | None = None
    csv_separator: str = ","
    parquet_row_group_bytes: int = 32 * 2**20
    parquet_compression: str = "snappy"
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    def at_least(self, *version: int) -> bool:
        """True when the target server is ``version`` or newer (False if not set)."""
        return self.milvus_version is not None and tuple(self.milvus_version) >= version


@dataclass(frozen=True)
class EncodedPart:
    """The encoded bytes of one chunk.

    Attributes
    ----------
    files : tuple of (str, FileData)
        ``(name, data)`` pairs. For single-file formats one pair whose name is ``""`` (the
        part itself is the file); for NumPy one ``<field>.npy`` per column inside the part's
        folder. ``data`` is ``bytes`` or a tuple of pieces (see :data:`bulkwriter.filedata.FileData`).
    rows : int
        Rows in the chunk.
    """

    files: tuple[tuple[str, FileData], ...]
    rows: int

    @property
    def nbytes(self) -> int:
        """Total encoded bytes of the chunk (what lands on storage)."""
        return sum(data_size(data) for _, data in self.files)


class Encoder(ABC):
    """Encode validated chunks of one collection into one file format.

    Parameters
    ----------
    schema : CollectionSchema
        The collection the data follows.
    options : FormatOptions
        Shared options.

    Raises
    ------
    FormatError
        (from the constructor) the format cannot carry this schema, e.g. an Array field in
        NumPy or a nullable field in NumPy, or a type the target ``milvus_version`` lacks.
    """

    #: Format name used by ``format=`` (e.g. ``"parquet"``).
    name: str = ""
    #: File name suffix of a part (``".parquet"``); ``""`` for folder formats.
    suffix: str = ""
    #: True when a part is a folder of files (NumPy).
    is_directory: bool = False
    #: True when :meth:`write_to` writes the part's single file to a binary stream as it encodes.
    writes_to_stream: bool = False

    def __init__(self, schema: CollectionSchema, options: FormatOptions) -> None:
        self.schema = schema
        self.options = options
        self.check_schema()

    @abstractmethod
    def check_schema(self) -> None:
        """Raise FormatError if this format cannot carry the schema."""

    @abstractmethod
    def encode(self, table: pa.Table) -> EncodedPart:
        """Encode one validated chunk (canonical Arrow form) into file bytes."""

    def write_to(self, table: pa.Table, sink: BinaryIO) -> None:
        """Encode one validated chunk as one file written to ``sink`` as it is encoded.

        Only for encoders whose :attr:`writes_to_stream` is True: the bytes written are exactly
        those :meth:`encode` returns, without holding the whole file in memory.

        Parameters
        ----------
        table : pyarrow.Table
            Validated chunk in the canonical form (``bulkwriter.schema.arrow``).
        sink : binary file object
            Open for writing, at its start (``write`` and ``closed`` are used). Errors it
            raises (e.g. ``OSError``) propagate unchanged.

        Raises
        ------
        NotImplementedError
            The format cannot stream (:attr:`writes_to_stream` is False).
        """
        raise NotImplementedError(f"the {self.name} encoder does not write to a stream")

    def check_rows(self, batch: pa.RecordBatch) -> list[FieldError]:
        """Find valid values this format cannot carry faithfully (rows relative to ``batch``).

        Run on every validated batch before it is buffered, so such rows are reported with
        their input position and can be skipped like any other bad row. The base format
        carries every valid value.

        Parameters
        ----------
        batch : pyarrow.RecordBatch
            A validated batch in the canonical form (``bulkwriter.schema.arrow``).

        Returns
        -------
        list of FieldError
            One per bad cell, sorted by row; empty when every row can be encoded.
        """
        return []

    def import_options(self) -> dict[str, str]:
        """Options the import request must carry for these files (e.g. CSV ``nullkey``)."""
        return {}

    def estimate_bytes_per_row(self, table: pa.Table) -> float:
        """A first guess of encoded bytes per row, before any chunk was encoded.

        Encodes a sample of the first rows (at most :data:`ESTIMATE_SAMPLE_ROWS`) and adds
        5%: text formats write several times the Arrow size of a float vector, so the Arrow
        size alone would make the first file overshoot the byte cap and be encoded twice.
        Falls back to the Arrow size per row when the sample cannot be encoded.
        """
        rows = int(table.num_rows)
        arrow = max(1.0, float(table.nbytes) / max(1, rows))
        if rows == 0:
            return arrow
        sample = table.slice(0, min(rows, ESTIMATE_SAMPLE_ROWS))
        try:
            part = self.encode(sample)
        except Exception:  # noqa: BLE001 - only an estimate; encode() reports errors later
            return arrow
        return max(1.0, part.nbytes / int(sample.num_rows) * 1.05)
