"""The Parquet encoder: one ``.parquet`` file per chunk, with the exact Arrow types Milvus reads.

Follows ``target-formats.md`` §2 (Parquet column) and §4 (Parquet); Milvus docs,
prepare-source-data: Parquet; Milvus ``internal/util/importutilv2/parquet``.
"""

from __future__ import annotations

import io
from typing import BinaryIO, Final

import pyarrow as pa
import pyarrow.parquet as pq

from bulkwriter.errors import FormatError
from bulkwriter.formats._rows import json_texts, sparse_dicts, to_array
from bulkwriter.formats.base import EncodedPart, Encoder, FormatOptions
from bulkwriter.formats.versions import check_format_version, check_version_support
from bulkwriter.schema.arrow import SPARSE_TYPE, canonical_type
from bulkwriter.schema.collection import DYNAMIC_FIELD
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType

__all__ = ["MAX_ROWS_PER_ROW_GROUP", "PARQUET_CODECS", "ParquetEncoder", "parquet_type"]

#: Compression codecs the encoder accepts: ones Milvus's Go Parquet reader decodes.
PARQUET_CODECS: Final = ("snappy", "zstd", "gzip", "none")

#: Upper bound on rows per row group, whatever the byte target (the Milvus reference writer
#: keeps row groups between 1k and 1M rows; ``target-formats.md`` §4, Parquet).
MAX_ROWS_PER_ROW_GROUP: Final[int] = 1_048_576

#: First release reading ``fixed_size_list`` dense vectors (``target-formats.md`` §1).
_FIXED_SIZE_LIST_VERSION: Final = (2, 6, 18)
#: First release reading the ``struct<indices, values>`` sparse column (§1, §2).
_SPARSE_STRUCT_VERSION: Final = (2, 5, 8)

_VECTOR_ELEMENT: Final[dict[DataType, pa.DataType]] = {
    DataType.FLOAT_VECTOR: pa.float32(),
    DataType.BINARY_VECTOR: pa.uint8(),
    DataType.FLOAT16_VECTOR: pa.uint8(),
    DataType.BFLOAT16_VECTOR: pa.uint8(),
    DataType.INT8_VECTOR: pa.int8(),
}


def _vector_width(field: FieldSchema) -> int:
    dim = field.dim or 0
    if field.dtype is DataType.BINARY_VECTOR:
        return dim // 8
    if field.dtype in (DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR):
        return 2 * dim
    return dim


def parquet_type(field: FieldSchema, options: FormatOptions) -> pa.DataType:
    """Return the Arrow type a Parquet column of ``field`` is written with.

    ``target-formats.md`` §2, Parquet column (Milvus docs, prepare-source-data: Parquet):

    - Bool ``bool``; Int8-Int64 the same-width int; Float ``float32``; Double ``float64``;
      VarChar and JSON ``string`` (never ``large_string``); Array<T> ``list<T>``.
    - FloatVector ``list<float32>``; BinaryVector ``list<uint8>`` of dim/8 bytes;
      Float16/BFloat16Vector ``list<uint8>`` of 2·dim little-endian bytes; Int8Vector
      ``list<int8>``. With ``milvus_version`` 2.6.18+ these are ``fixed_size_list`` instead.
    - SparseFloatVector: ``string`` holding the JSON object ``{"<index>": value}``; with
      ``milvus_version`` 2.5.8+ ``struct<indices: list<uint32>, values: list<float32>>``.

    Parameters
    ----------
    field : FieldSchema
        An input field of the collection.
    options : FormatOptions
        ``milvus_version`` selects the newer forms above.
    """
    dtype = field.dtype
    if dtype is DataType.SPARSE_FLOAT_VECTOR:
        return SPARSE_TYPE if options.at_least(*_SPARSE_STRUCT_VERSION) else pa.string()
    if dtype in _VECTOR_ELEMENT:
        element = _VECTOR_ELEMENT[dtype]
        if options.at_least(*_FIXED_SIZE_LIST_VERSION):
            return pa.list_(element, _vector_width(field))
        return pa.list_(element)
    return canonical_type(field)


class ParquetEncoder(Encoder):
    """Encode chunks as Parquet files (Milvus docs, prepare-source-data: Parquet).

    One file per chunk, written with ``pyarrow.parquet.ParquetWriter`` into memory
    (:meth:`encode`) or straight into an open file (:meth:`write_to`, used for local staging).
    Columns are the schema's input fields in collection order, then ``$meta`` (``string``,
    a JSON object per row) when the dynamic field is on (``target-formats.md`` §4: early 2.4
    releases matched columns by position). Column types: see :func:`parquet_type`.

    Dictionary encoding is used for every column but the vectors (see
    :meth:`_dictionary_columns`). Row groups hold about ``options.parquet_row_group_bytes``
    uncompressed bytes (estimated from the chunk's Arrow size per row), at most
    :data:`MAX_ROWS_PER_ROW_GROUP` rows; compression is ``options.parquet_compression``. The
    bytes depend only on the input (no timestamps), so encoding the same chunk twice gives
    identical files.

    Raises
    ------
    FormatError
        (from the constructor) ``milvus_version`` is older than 2.3.4 (first release with
        Parquet import) or lacks a field type of the schema (see ``versions``), or
        ``parquet_compression`` is not one of :data:`PARQUET_CODECS`.
    """

    name = "parquet"
    suffix = ".parquet"
    is_directory = False
    writes_to_stream = True

    def check_schema(self) -> None:
        """Refuse target versions without Parquet import or a field type, and unknown codecs."""
        check_format_version(self.name, self.options)
        check_version_support(self.schema, self.options)
        if self.options.parquet_compression.lower() not in PARQUET_CODECS:
            raise FormatError(
                f"parquet_compression must be one of {', '.join(PARQUET_CODECS)}, "
                f"got {self.options.parquet_compression!r}"
            )

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of the written files (column order and types as documented).

        Every column is declared nullable (Parquet ``OPTIONAL``), as in Milvus's own
        ``ConvertToArrowSchema`` and the pymilvus reference writer; Milvus matches columns by
        type only and rejects actual nulls in non-nullable fields, which validation excludes.
        """
        fields = [pa.field(f.name, parquet_type(f, self.options)) for f in self.schema.input_fields]
        if self.schema.enable_dynamic_field:
            fields.append(pa.field(DYNAMIC_FIELD, pa.string()))
        return pa.schema(fields)

    def _column(self, field: FieldSchema, target: pa.DataType, column: pa.ChunkedArray) -> pa.ChunkedArray:
        if field.dtype is DataType.SPARSE_FLOAT_VECTOR and pa.types.is_string(target):
            texts = json_texts(sparse_dicts(to_array(column)))
            return pa.chunked_array([pa.array(texts, type=pa.string())], type=pa.string())
        return column.cast(target) if column.type != target else column

    def to_arrow(self, table: pa.Table) -> pa.Table:
        """Convert a canonical chunk to the table written to Parquet (column-wise casts).

        Columns keep their chunks (no concatenation): the Parquet writer takes them as they
        are, so a chunk is never copied whole before encoding.
        """
        schema = self.arrow_schema()
        columns: list[pa.ChunkedArray] = []
        for field in self.schema.input_fields:
            target = schema.field(field.name).type
            columns.append(self._column(field, target, table.column(field.name)))
        if self.schema.enable_dynamic_field:
            columns.append(table.column(DYNAMIC_FIELD).cast(pa.string()))
        return pa.Table.from_arrays(columns, schema=schema)

    def _dictionary_columns(self) -> list[str]:
        """Leaf column paths that get dictionary encoding: all but vectors.

        Vector elements are (nearly) all distinct: trying a dictionary on them costs about half
        of the encoding time and the writer falls back to plain encoding anyway.
        """
        paths = []
        for field in self.schema.input_fields:
            if field.dtype in _VECTOR_ELEMENT or field.dtype is DataType.SPARSE_FLOAT_VECTOR:
                continue
            is_list = pa.types.is_list(parquet_type(field, self.options))
            paths.append(f"{field.name}.list.element" if is_list else field.name)
        if self.schema.enable_dynamic_field:
            paths.append(DYNAMIC_FIELD)
        return paths

    def _row_group_rows(self, table: pa.Table) -> int:
        rows = table.num_rows
        if rows == 0:
            return 1
        per_row = max(1.0, table.nbytes / rows)
        target = int(self.options.parquet_row_group_bytes // per_row)
        return max(1, min(target, MAX_ROWS_PER_ROW_GROUP))

    def write_to(self, table: pa.Table, sink: BinaryIO) -> None:
        """Encode one canonical chunk as one Parquet file written to ``sink`` page by page.

        Parameters
        ----------
        table : pyarrow.Table
            Validated chunk in the canonical form (``bulkwriter.schema.arrow``).
        sink : binary file object
            Open for writing; pyarrow calls its ``write`` as pages and row groups are done,
            and errors it raises propagate unchanged.
        """
        out = self.to_arrow(table)
        compression = self.options.parquet_compression.lower()
        with pq.ParquetWriter(
            pa.PythonFile(sink, mode="w"),
            out.schema,
            compression=compression,
            use_dictionary=self._dictionary_columns(),
        ) as writer:
            writer.write_table(out, row_group_size=self._row_group_rows(out))

    def encode(self, table: pa.Table) -> EncodedPart:
        """Encode one canonical chunk into the bytes of one Parquet file (in memory).

        Parameters
        ----------
        table : pyarrow.Table
            Validated chunk in the canonical form (``bulkwriter.schema.arrow``).

        Returns
        -------
        EncodedPart
            One ``("", bytes)`` file and the row count.
        """
        # io.BytesIO hands its buffer over on getvalue() (no copy): one file's bytes in memory
        buffer = io.BytesIO()
        self.write_to(table, buffer)
        return EncodedPart(files=(("", buffer.getvalue()),), rows=table.num_rows)
