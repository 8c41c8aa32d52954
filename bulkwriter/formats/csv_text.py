"""The CSV encoder: one RFC 4180 file per chunk, for Milvus 2.5+ CSV import.

Follows ``target-formats.md`` §2 (CSV cell), §3 and §4 (CSV); Milvus docs,
prepare-source-data: CSV; Milvus ``internal/util/importutilv2/csv`` (Go ``encoding/csv``
with ``sep`` as the comma, ``nullkey`` compared with each unquoted cell of a nullable or
default-value field).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from typing import BinaryIO, Final

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.errors import FieldError, FormatError, ValidationError, short_repr
from bulkwriter.formats._rows import ORJSON_OPTIONS, column_json_values, json_text_array, to_array
from bulkwriter.formats._slices import SLICE_BYTES, encode_in_slices, write_pieces
from bulkwriter.formats.base import EncodedPart, Encoder
from bulkwriter.formats.versions import check_format_version, check_version_support
from bulkwriter.schema.collection import DYNAMIC_FIELD
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType

__all__ = ["CSV_LINE_TERMINATOR", "DEFAULT_NULL_TOKEN", "CsvEncoder"]

#: Line end of every record, header included: CRLF, as RFC 4180 §2 writes it. Milvus's Go
#: reader accepts CRLF and LF alike.
CSV_LINE_TERMINATOR: Final = "\r\n"
#: Null token chosen when a field accepts nulls and no ``csv_null_token`` is given
#: (``target-formats.md`` §4, CSV: pick a distinct ``nullkey`` such as ``\N``).
DEFAULT_NULL_TOKEN: Final = "\\N"
#: Milvus's defaults for the import options ``sep`` and ``nullkey``.
_MILVUS_SEP: Final = ","
_MILVUS_NULLKEY: Final = ""
#: Separators Go's ``encoding/csv`` (and Milvus's ``sep`` option) refuse.
_BAD_SEPARATORS: Final = frozenset({"\0", "\r", "\n", '"', "\ufffd"})
#: Types whose cell is Arrow's cast to string: integers in base 10, floats in shortest form,
#: VarChar and JSON text unchanged.
_TEXT_CELLS: Final = frozenset(
    {
        DataType.INT8,
        DataType.INT16,
        DataType.INT32,
        DataType.INT64,
        DataType.FLOAT,
        DataType.DOUBLE,
        DataType.VARCHAR,
        DataType.JSON,
    }
)


class CsvEncoder(Encoder):
    """Encode chunks as CSV files (Milvus 2.5+; Milvus docs, prepare-source-data: CSV).

    File layout (RFC 4180, ``target-formats.md`` §4):

    - UTF-8 without BOM; a header row of the input field names in collection order, then
      ``$meta`` when the dynamic field is on; every row has the same number of fields.
    - Separator ``options.csv_separator`` (default ``,``). Records end in CRLF
      (:data:`CSV_LINE_TERMINATOR`), the last one too.
    - A field is enclosed in double quotes only when it contains the separator, a double
      quote, CR or LF ("minimal" quoting, as Python's ``csv.QUOTE_MINIMAL``); a double quote
      inside is doubled (``""``). No other escaping, no spaces added. A null cell is the null
      token, quoted only if the token itself needs it.

    Cells (``target-formats.md`` §2, CSV cell): Bool ``true``/``false``; integers in base 10;
    Float the shortest text of the ``float32``, Double of the ``float64`` (Arrow's float
    formatting, e.g. ``0.1``, ``5``, ``1e+20``; always finite); VarChar its raw text; JSON its
    stored text; Array, FloatVector, BinaryVector and Int8Vector a JSON list; Float16 and
    BFloat16Vector a JSON list of dim numbers (their exact values); SparseFloatVector the JSON
    object ``{"<index>": value}``; ``$meta`` its JSON object text.

    Null cells are written as the null token: ``options.csv_null_token`` when given, else
    ``\\N`` when any input field is nullable or has a default value (Milvus compares
    ``nullkey`` with the cells of those fields only), else the empty string (Milvus's
    default). :meth:`import_options` returns the ``nullkey`` and ``sep`` the import request
    must carry when they differ from Milvus's defaults.

    Raises
    ------
    FormatError
        (from the constructor) ``milvus_version`` is set and older than 2.5, or lacks a
        field type; the separator is not a single character Milvus accepts; or the null
        token holds a line break.
    ValidationError
        (from :meth:`encode`) a cell the server would misread; see there.
    """

    writes_to_stream = True
    name = "csv"
    suffix = ".csv"
    is_directory = False

    @property
    def null_token(self) -> str:
        """The text written for a null cell (the import request's ``nullkey``)."""
        if self.options.csv_null_token is not None:
            return self.options.csv_null_token
        if any(f.accepts_null for f in self.schema.input_fields):
            return DEFAULT_NULL_TOKEN
        return _MILVUS_NULLKEY

    def check_schema(self) -> None:
        """Refuse a ``milvus_version`` older than 2.5, a missing field type, a bad separator."""
        check_format_version(self.name, self.options)
        check_version_support(self.schema, self.options)
        sep = self.options.csv_separator
        if len(sep) != 1 or sep in _BAD_SEPARATORS:
            raise FormatError(
                f"csv_separator must be one character other than CR, LF, NUL, '\"' and U+FFFD, got {sep!r}"
            )
        token = self.null_token
        if "\r" in token or "\n" in token:
            raise FormatError(f"csv_null_token cannot contain a line break, got {token!r}")

    def import_options(self) -> dict[str, str]:
        """Import request options for these files: ``nullkey`` and ``sep`` when not default."""
        out: dict[str, str] = {}
        if self.null_token != _MILVUS_NULLKEY:
            out["nullkey"] = self.null_token
        if self.options.csv_separator != _MILVUS_SEP:
            out["sep"] = self.options.csv_separator
        return out

    @staticmethod
    def _cells(field: FieldSchema | None, column: pa.ChunkedArray) -> pa.Array:
        """One column as ``large_string`` cell texts (null for null), converted column-wise."""
        arr = to_array(column)
        dtype = None if field is None else field.dtype
        if dtype is DataType.BOOL:
            texts = pc.if_else(arr, "true", "false")
        elif dtype is None or dtype in _TEXT_CELLS:
            texts = arr
        else:  # Array, vectors, sparse: JSON text
            texts = json_text_array(column_json_values(field, arr), pa.large_string())
        return texts.cast(pa.large_string())

    def _always_quoted(self, field: FieldSchema, column: pa.ChunkedArray) -> bool:
        """True when every cell of ``column`` is a JSON list holding the separator: a dense
        vector of dim >= 2 with no null row, and a separator that is a comma (so quoted)."""
        return (
            self.options.csv_separator == ","
            and field.dtype.is_dense_vector
            and (field.dim or 0) >= 2
            and field.dtype is not DataType.BINARY_VECTOR
            and column.null_count == 0
        )

    def _check_cells(self, field: FieldSchema, cells: pa.Array) -> list[FieldError]:
        """Find cells the server would misread: the null token, or CR LF inside VarChar."""
        errors: list[FieldError] = []
        token = self.null_token
        if field.accepts_null:
            hits = pc.fill_null(pc.equal(cells, pa.scalar(token, pa.large_string())), False)
            errors.extend(
                FieldError(
                    "null_token_collision",
                    field.name,
                    row,
                    f"a value other than the CSV null token {token!r} (it would import as null)",
                    short_repr(token),
                )
                for row in _true_rows(hits)
            )
        if field.dtype is DataType.VARCHAR:
            crlf = pc.fill_null(pc.match_substring(cells, "\r\n"), False)
            errors.extend(
                FieldError(
                    "csv_crlf",
                    field.name,
                    row,
                    "text without CR LF (Milvus's CSV reader turns CR LF into LF)",
                    short_repr(cells[row].as_py()),
                )
                for row in _true_rows(crlf)
            )
        return errors

    def check_rows(self, batch: pa.RecordBatch) -> list[FieldError]:
        """Cells the server would misread: the null token in a field that accepts nulls
        (code ``null_token_collision``), or CR LF inside VarChar (code ``csv_crlf``).

        Source: target-formats.md §4 (Milvus CSV reader: ``nullkey``, LF line handling).
        """
        errors: list[FieldError] = []
        for field in self.schema.input_fields:
            if field.accepts_null or field.dtype is DataType.VARCHAR:
                errors.extend(self._check_cells(field, self._cells(field, batch.column(field.name))))
        errors.sort(key=lambda e: (e.row if e.row is not None else -1, e.field))
        return errors

    def _quoted(self, cells: pa.Array, *, quote_empty: bool, numeric_json: bool = False) -> pa.Array:
        """RFC 4180 minimal quoting, column-wise: quote cells holding sep, '"', CR or LF.

        ``numeric_json``: the cells are JSON lists of numbers (vectors, numeric arrays), which
        hold no '"', CR or LF, so only the separator is looked for and nothing is doubled.
        """
        if numeric_json:
            needs = pc.match_substring(cells, self.options.csv_separator)
        else:
            needs = pc.match_substring_regex(cells, self._special_re)
        if quote_empty:  # a lone empty field would be an empty line, which readers skip
            needs = pc.or_(needs, pc.equal(pc.binary_length(cells), 0))
        if not pc.any(needs).as_py():
            return cells
        quote = pa.scalar('"', pa.large_string())
        doubled = cells if numeric_json else pc.replace_substring(cells, '"', '""')
        wrapped = pc.binary_join_element_wise(quote, doubled, quote, pa.scalar("", pa.large_string()))
        if numeric_json and pc.all(needs).as_py():
            return wrapped
        return pc.if_else(needs, wrapped, cells)

    @property
    def _special_re(self) -> str:
        chars = self.options.csv_separator + '"\r\n'
        return "[" + "".join("\\" + c if c in "\\[]^-" else c for c in chars) + "]"

    def _header_line(self, header: list[str]) -> str:
        special = re.compile(self._special_re)
        cells = ['"' + h.replace('"', '""') + '"' if special.search(h) else h for h in header]
        return self.options.csv_separator.join(cells) + CSV_LINE_TERMINATOR

    def encode(self, table: pa.Table) -> EncodedPart:
        """Encode one canonical chunk into the bytes of one CSV file.

        Cells are built, checked, quoted and joined column-wise with Arrow compute
        functions, in slices of rows (:mod:`bulkwriter.formats._slices`); each slice's body
        is the data buffer of its joined ``large_string`` rows, a piece of the file.

        Parameters
        ----------
        table : pyarrow.Table
            Validated chunk in the canonical form (``bulkwriter.schema.arrow``).

        Returns
        -------
        EncodedPart
            One ``("", pieces)`` file (header plus one record per row) and the row count.

        Raises
        ------
        ValidationError
            A non-null cell of a nullable or default-value field equals the null token
            (code ``null_token_collision``), or a VarChar value holds CR LF, which Milvus's
            reader would change to LF (code ``csv_crlf``). Rows are indices within the table.
        """
        return EncodedPart(files=(("", tuple(self._pieces(table))),), rows=table.num_rows)

    def write_to(self, table: pa.Table, sink: BinaryIO) -> None:
        """Encode one canonical chunk as one CSV file written to ``sink`` slice by slice.

        Raises
        ------
        ValidationError
            As :meth:`encode` (bytes of earlier slices may have been written: the caller
            discards the file).
        """
        write_pieces(sink, self._pieces(table))

    def _header(self) -> list[str]:
        header = [f.name for f in self.schema.input_fields]
        return [*header, DYNAMIC_FIELD] if self.schema.enable_dynamic_field else header

    def _pieces(self, table: pa.Table) -> Iterator[bytes | memoryview]:
        yield self._header_line(self._header()).encode("utf-8")
        # 2 MiB slices: CSV's column-wise steps cost per slice (about 50 Arrow calls each)
        yield from encode_in_slices(table, self._slice, 2 * SLICE_BYTES)

    def _slice(self, table: pa.Table, first_row: int) -> bytes | memoryview:
        """The records of ``table`` (rows from ``first_row`` of the chunk), joined column-wise."""
        header = self._header()
        columns: list[pa.Array] = []
        errors: list[FieldError] = []
        ready: set[int] = set()  # columns whose cells are already quoted
        for field in self.schema.input_fields:
            column = table.column(field.name)
            if self._always_quoted(field, column):
                ready.add(len(columns))
                columns.append(_quoted_json_cells(field, column))
                continue
            cells = self._cells(field, column)
            errors.extend(e.shifted(first_row) for e in self._check_cells(field, cells))
            columns.append(cells)
        if self.schema.enable_dynamic_field:
            columns.append(self._cells(None, table.column(DYNAMIC_FIELD)))
        if errors:
            errors.sort(key=lambda e: (e.row if e.row is not None else -1, header.index(e.field)))
            raise ValidationError(errors, self.schema.name)
        token = pa.scalar(self.null_token, pa.large_string())
        single = len(columns) == 1
        numeric = [f is not None and _is_numeric_json(f) for f in self.schema.input_fields]
        numeric += [False] * (len(columns) - len(numeric))
        quoted = [
            c
            if i in ready
            else self._quoted(
                pc.fill_null(c, token), quote_empty=single, numeric_json=num and not c.null_count
            )
            for i, (c, num) in enumerate(zip(columns, numeric, strict=True))
        ]
        del columns  # each step's input is let go as soon as its output exists: about two
        sep = pa.scalar(self.options.csv_separator, pa.large_string())  # copies at a time
        end = pa.scalar(CSV_LINE_TERMINATOR, pa.large_string())
        rows = pc.binary_join_element_wise(*quoted, sep) if not single else quoted[0]
        del quoted
        lines = pc.binary_join_element_wise(rows, end, pa.scalar("", pa.large_string()))
        del rows
        return _string_data(lines)


def _quoted_json_cells(field: FieldSchema, column: pa.ChunkedArray) -> pa.Array:
    """Dense-vector cells as quoted JSON text, ``"[0.1,0.2]"``, dumped and quoted cell by cell in C.

    Only for columns where every cell needs the quotes anyway (see ``_always_quoted``): one
    pass of orjson and one Arrow array, instead of text cells scanned for the separator and
    joined with quotes column-wise (the same bytes).
    """
    values = column_json_values(field, to_array(column))
    quoted = list(map(_QUOTE, map(_DUMPS, values)))
    return pa.array(quoted, pa.large_binary()).view(pa.large_string())  # orjson writes UTF-8


_DUMPS = partial(orjson.dumps, option=ORJSON_OPTIONS)
_QUOTE = b'"%b"'.__mod__


def _is_numeric_json(field: FieldSchema) -> bool:
    """True when a field's CSV cells are JSON lists of numbers (dense vectors, numeric arrays)."""
    if field.dtype.is_dense_vector:
        return True
    return field.dtype is DataType.ARRAY and field.element_type not in (DataType.VARCHAR, DataType.BOOL, None)


def _true_rows(mask: pa.Array) -> list[int]:
    """Row indices where a bool array is true."""
    rows: list[int] = np.flatnonzero(mask.to_numpy(zero_copy_only=False)).tolist()
    return rows


def _string_data(lines: pa.Array) -> memoryview:
    """The concatenated UTF-8 bytes of a non-null ``large_string`` array, uncopied (a view of its data)."""
    _, offsets_buffer, data_buffer = lines.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)
    start = int(offsets[lines.offset])
    stop = int(offsets[lines.offset + len(lines)])
    return memoryview(data_buffer[start:stop]).cast("B")
