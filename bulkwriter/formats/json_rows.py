"""The row-JSON encoder: one ``{"rows": [...]}`` document per chunk.

Follows ``target-formats.md`` §2 (Row JSON value) and §4 (Row JSON); Milvus docs,
prepare-source-data: JSON; Milvus ``internal/util/importutilv2/json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa

from bulkwriter.errors import FormatError
from bulkwriter.formats._rows import build_rows, dumps_json_document
from bulkwriter.formats._slices import encode_in_slices, write_pieces
from bulkwriter.formats.base import EncodedPart, Encoder
from bulkwriter.formats.versions import check_format_version, check_version_support
from bulkwriter.schema.types import DataType

__all__ = ["JsonEncoder"]


class JsonEncoder(Encoder):
    """Encode chunks as row-JSON files (Milvus docs, prepare-source-data: JSON).

    Each file is the UTF-8 document ``{"rows": [row, ...]}`` with ``rows`` the first and
    only top-level key: the form every Milvus version reads (the bare-list form needs
    2.3.3+). A row is an object with the input fields in collection order; values follow
    ``target-formats.md`` §2:

    - Int8-Int64: integer literals (never ``5.0`` or strings); Float: the shortest text of
      the ``float32``; Double: the shortest text of the ``float64``; Bool: ``true``/``false``.
    - VarChar: string. JSON field: the object itself when the stored text is a JSON object,
      otherwise a string holding the JSON text (arrays and scalars).
    - Array: list. FloatVector: dim numbers. BinaryVector: dim/8 ints 0-255.
      Float16/BFloat16Vector: dim numbers (the exact values of the 16-bit floats).
      Int8Vector: dim ints. SparseFloatVector: ``{"<index>": value}``.
    - Null cells of nullable fields: ``null``.
    - Dynamic keys: one ``"$meta": {...}`` object per row (switch
      ``bulkwriter.formats._rows.DYNAMIC_KEYS_IN_META``).

    Raises
    ------
    FormatError
        (from the constructor) ``milvus_version`` lacks a field type of the schema.
    """

    name = "json"
    suffix = ".json"
    is_directory = False
    writes_to_stream = True

    def check_schema(self) -> None:
        """Refuse field types the target ``milvus_version`` lacks (JSON itself: all versions).

        Also refuses Array<Double> when the target is a 2.3 server: its row-JSON importer reads
        Array<Double> elements as float32 (measured on Milvus 2.3.5, see
        ``tests/MILVUS_2_3_5_FINDINGS.md``), so the values would silently lose precision;
        Parquet carries them exactly.
        """
        check_format_version(self.name, self.options)
        check_version_support(self.schema, self.options)
        version = self.options.milvus_version
        if version is not None and tuple(version) < (2, 4):
            for field in self.schema.input_fields:
                if field.dtype is DataType.ARRAY and field.element_type is DataType.DOUBLE:
                    raise FormatError(
                        f"field '{field.name}' (Array<Double>): Milvus 2.3 reads Array<Double> from row "
                        "JSON as float32, losing precision; write Parquet for a 2.3 server"
                    )

    def encode(self, table: pa.Table) -> EncodedPart:
        """Encode one canonical chunk into the bytes of one ``{"rows": [...]}`` file.

        The rows are encoded in slices (:mod:`bulkwriter.formats._slices`); the pieces make
        exactly the bytes of ``orjson.dumps({"rows": rows})``.

        Parameters
        ----------
        table : pyarrow.Table
            Validated chunk in the canonical form (``bulkwriter.schema.arrow``).

        Returns
        -------
        EncodedPart
            One ``("", pieces)`` file and the row count.
        """
        return EncodedPart(files=(("", tuple(self._pieces(table))),), rows=table.num_rows)

    def write_to(self, table: pa.Table, sink: BinaryIO) -> None:
        """Encode one canonical chunk as one ``{"rows": [...]}`` file written to ``sink`` slice by slice."""
        write_pieces(sink, self._pieces(table))

    def _pieces(self, table: pa.Table) -> Iterator[bytes]:
        yield _OPEN
        yield from encode_in_slices(table, self._slice)
        yield _CLOSE

    def _slice(self, rows: pa.Table, first_row: int) -> bytes:
        body = dumps_json_document(build_rows(self.schema, rows))[len(_OPEN) : -len(_CLOSE)]
        return body if first_row == 0 else b"," + body


#: The document around the rows: ``{"rows":[`` ... ``]}`` (orjson's compact form).
_OPEN = b'{"rows":['
_CLOSE = b"]}"
