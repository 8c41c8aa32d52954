"""The JSON Lines encoder: one row object per line.

Follows ``target-formats.md`` §1 (JSON Lines: Milvus 2.6.6+, Zilliz Cloud) and §4 (JSON
Lines); Milvus docs, prepare-source-data: JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa

from bulkwriter.formats._rows import build_rows, dumps_jsonl
from bulkwriter.formats._slices import encode_in_slices, write_pieces
from bulkwriter.formats.base import EncodedPart, Encoder
from bulkwriter.formats.versions import check_format_version, check_version_support

__all__ = ["JsonlEncoder"]


class JsonlEncoder(Encoder):
    """Encode chunks as JSON Lines files (``.jsonl``; Milvus 2.6.6+ and Zilliz Cloud).

    One row object per line, UTF-8, each line ending in ``\\n`` (the last one too), no blank
    lines and no wrapper. Rows are exactly those of :class:`~bulkwriter.formats.json_rows.JsonEncoder`
    (same value rules, ``target-formats.md`` §2); embedded JSON objects never contain a
    raw line break.

    Version rule: with ``options.milvus_version`` set below 2.6.6 the constructor raises
    FormatError (open-source Milvus reads JSON Lines from 2.6.6). With no version set the
    format is allowed, because Zilliz Cloud accepts it; an older self-hosted Milvus would
    then refuse the files at import time.

    Raises
    ------
    FormatError
        (from the constructor) ``milvus_version`` is set and older than 2.6.6, or lacks a
        field type of the schema.
    """

    name = "jsonl"
    suffix = ".jsonl"
    is_directory = False
    writes_to_stream = True

    def check_schema(self) -> None:
        """Refuse a ``milvus_version`` older than 2.6.6, or one lacking a field type."""
        check_format_version(self.name, self.options)
        check_version_support(self.schema, self.options)

    def encode(self, table: pa.Table) -> EncodedPart:
        """Encode one canonical chunk into the bytes of one JSON Lines file.

        The rows are encoded in slices (:mod:`bulkwriter.formats._slices`): the file is a
        tuple of pieces, never a list of every row's objects at once.

        Parameters
        ----------
        table : pyarrow.Table
            Validated chunk in the canonical form (``bulkwriter.schema.arrow``).

        Returns
        -------
        EncodedPart
            One ``("", pieces)`` file (no bytes for zero rows) and the row count.
        """
        return EncodedPart(files=(("", tuple(self._slices(table))),), rows=table.num_rows)

    def write_to(self, table: pa.Table, sink: BinaryIO) -> None:
        """Encode one canonical chunk as one JSON Lines file written to ``sink`` slice by slice."""
        write_pieces(sink, self._slices(table))

    def _slices(self, table: pa.Table) -> Iterator[bytes]:
        return encode_in_slices(table, lambda rows, _: dumps_jsonl(build_rows(self.schema, rows)))
