"""The NumPy encoder: one folder per chunk, one ``<field>.npy`` file per input field.

Follows ``target-formats.md`` §2 (NumPy column), §3 and §4 (NumPy); Milvus docs,
prepare-source-data: NumPy; Milvus ``internal/util/importutilv2/numpy``.
"""

from __future__ import annotations

import io
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.format import dtype_to_descr, write_array_header_1_0

from bulkwriter.errors import FieldError, FormatError, ValidationError
from bulkwriter.formats._rows import to_array, vector_matrix
from bulkwriter.formats.base import EncodedPart, Encoder
from bulkwriter.formats.versions import check_format_version, check_version_support
from bulkwriter.schema.collection import DYNAMIC_FIELD
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType
from bulkwriter.validate._util import error_rows

__all__ = ["NumpyEncoder", "numpy_dtype"]

#: Exact ``.npy`` dtype of each scalar type (``target-formats.md`` §2: no widening).
_SCALAR_DTYPES: Final[dict[DataType, np.dtype[Any]]] = {
    DataType.BOOL: np.dtype(np.bool_),
    DataType.INT8: np.dtype(np.int8),
    DataType.INT16: np.dtype(np.int16),
    DataType.INT32: np.dtype(np.int32),
    DataType.INT64: np.dtype(np.int64),
    DataType.FLOAT: np.dtype(np.float32),
    DataType.DOUBLE: np.dtype(np.float64),
}
_VECTOR_DTYPES: Final[dict[DataType, np.dtype[Any]]] = {
    DataType.FLOAT_VECTOR: np.dtype(np.float32),
    DataType.BINARY_VECTOR: np.dtype(np.uint8),
    DataType.FLOAT16_VECTOR: np.dtype(np.uint8),
    DataType.BFLOAT16_VECTOR: np.dtype(np.uint8),
    DataType.INT8_VECTOR: np.dtype(np.int8),
}
_TEXT_TYPES: Final = frozenset({DataType.VARCHAR, DataType.JSON})
_UNSUPPORTED: Final = frozenset({DataType.ARRAY, DataType.SPARSE_FLOAT_VECTOR})
#: Longest file name, bytes (ext4, XFS, APFS, NTFS: 255).
_MAX_FILE_NAME_BYTES = 255

#: Rough size of one ``.npy`` header, bytes (format 1.0 pads it to a multiple of 64).
_NPY_HEADER_BYTES: Final = 128


def numpy_dtype(field: FieldSchema, max_chars: int = 1) -> np.dtype[Any]:
    """Return the ``.npy`` dtype of ``field`` (``target-formats.md`` §2, NumPy column).

    Bool ``bool``; Int8-Int64 ``int8``-``int64``; Float ``float32``; Double ``float64``;
    VarChar and JSON ``<U{max_chars}`` (fixed-width unicode, never object); FloatVector
    ``float32``; BinaryVector, Float16Vector, BFloat16Vector ``uint8``; Int8Vector ``int8``.

    Parameters
    ----------
    field : FieldSchema
        An input field NumPy can carry (not Array or SparseFloatVector).
    max_chars : int, default 1
        For VarChar/JSON: the longest value of the chunk, in characters (code points).
    """
    if field.dtype in _SCALAR_DTYPES:
        return _SCALAR_DTYPES[field.dtype]
    if field.dtype in _VECTOR_DTYPES:
        return _VECTOR_DTYPES[field.dtype]
    if field.dtype in _TEXT_TYPES:
        return np.dtype(f"<U{max(1, max_chars)}")
    raise FormatError(f"field '{field.name}' ({field.dtype.value}) cannot be written as NumPy")


def _max_chars(arr: pa.Array) -> int:
    if len(arr) == 0:
        return 1
    longest = pc.max(pc.utf8_length(arr)).as_py()
    return max(1, int(longest or 0))


def _trailing_nul_errors(name: str, arr: pa.Array) -> list[FieldError]:
    """One ``numpy_trailing_nul`` error per text cell of ``arr`` ending in NUL (sorted by row)."""
    if not len(arr):
        return []
    ends = pc.ends_with(arr, "\x00")
    if not pc.any(ends).as_py():
        return []
    rows = error_rows(ends)
    return [
        FieldError(
            "numpy_trailing_nul",
            name,
            int(row),
            "text not ending in NUL (NumPy <U strings drop trailing NULs)",
            "a value ending in '\\x00'",
        )
        for row in rows
    ]


def _npy_pieces(parts: list[npt.NDArray[Any]]) -> tuple[bytes | memoryview, ...]:
    """The ``.npy`` file of the rows of ``parts`` stacked: what ``numpy.save`` writes, uncopied.

    Parameters
    ----------
    parts : list of numpy.ndarray
        Consecutive row blocks of one column, all of one fixed-width dtype and the same
        trailing shape (e.g. ``(rows_i, dim)`` float32 per chunk); at least one.

    Returns
    -------
    tuple of bytes and memoryview
        The format 1.0 header (``numpy.lib.format``) for the stacked shape, then each block's
        C-order bytes: no block is copied unless it was not C-contiguous. Never pickled
        (object arrays cannot reach here: every column has a fixed-width dtype).
    """
    first = parts[0]
    if first.dtype.hasobject:  # pragma: no cover - no schema type maps to an object dtype
        raise TypeError("object arrays are never written (they would need pickle)")
    shape = (sum(len(p) for p in parts), *first.shape[1:])
    header = io.BytesIO()
    write_array_header_1_0(
        header, {"descr": dtype_to_descr(first.dtype), "fortran_order": False, "shape": shape}
    )
    blocks = [np.ascontiguousarray(p).reshape(-1).view(np.uint8).data for p in parts if p.size]
    return (header.getvalue(), *blocks)


class NumpyEncoder(Encoder):
    """Encode chunks as NumPy folders (Milvus docs, prepare-source-data: NumPy).

    A part is a folder (``is_directory``) holding one ``<field>.npy`` per input field, in
    collection order, plus ``$meta.npy`` when the dynamic field is on; every file has the
    chunk's N rows, byte for byte what ``numpy.save(..., allow_pickle=False)`` writes.
    Dtypes and shapes (``target-formats.md`` §2, exact, no widening):

    - Bool ``bool`` (N,); Int8/16/32/64 ``int8/16/32/64`` (N,); Float ``float32`` (N,);
      Double ``float64`` (N,).
    - VarChar, JSON (its text) and ``$meta`` (JSON object text): ``<U{n}`` (N,), n the
      longest value of the chunk in characters (at least 1); each cell costs 4·n bytes.
    - FloatVector ``float32`` (N, dim); BinaryVector ``uint8`` (N, dim/8);
      Float16/BFloat16Vector ``uint8`` (N, 2·dim) little-endian bytes; Int8Vector ``int8``
      (N, dim).

    Raises
    ------
    FormatError
        (from the constructor) the schema has an Array or SparseFloatVector field, or any
        nullable input field (Milvus rejects the whole NumPy import then;
        ``target-formats.md`` §3, §4), or ``milvus_version`` lacks a field type.
    """

    name = "numpy"
    suffix = ""
    is_directory = True

    def check_schema(self) -> None:
        """Refuse Array, SparseFloatVector and nullable fields, and unsupported versions."""
        check_format_version(self.name, self.options)
        for field in self.schema.input_fields:
            file_name = f"{field.name}.npy".encode()
            if len(file_name) > _MAX_FILE_NAME_BYTES:
                raise FormatError(
                    f"field '{field.name[:40]}...': its NumPy file name '<field>.npy' would be "
                    f"{len(file_name)} bytes, over the {_MAX_FILE_NAME_BYTES}-byte limit of file names "
                    "on common filesystems and object-store tools; use parquet or json, or a shorter name"
                )
            if field.dtype in _UNSUPPORTED:
                raise FormatError(
                    f"field '{field.name}' ({field.dtype.value}): NumPy import does not support "
                    f"{field.dtype.value} fields; use parquet or json"
                )
            if field.nullable:
                raise FormatError(
                    f"field '{field.name}' is nullable: Milvus rejects a NumPy import when any "
                    "field is nullable; use parquet or json"
                )
        check_version_support(self.schema, self.options)

    def check_rows(self, batch: pa.RecordBatch) -> list[FieldError]:
        """Text ending in NUL, which ``<U`` arrays cannot keep (code ``numpy_trailing_nul``).

        Checked on VarChar, JSON and ``$meta`` columns (NumPy's fixed-width unicode strips
        trailing NULs; numpy.org, "Data type objects", ``U`` type).
        """
        names = [f.name for f in self.schema.input_fields if f.dtype in _TEXT_TYPES]
        if self.schema.enable_dynamic_field:
            names.append(DYNAMIC_FIELD)
        errors = [e for name in names for e in _trailing_nul_errors(name, to_array(batch.column(name)))]
        errors.sort(key=lambda e: (e.row if e.row is not None else -1, e.field))
        return errors

    def _text_array(self, name: str, arr: pa.Array) -> npt.NDArray[Any]:
        """A string column as ``<U{n}``; trailing NUL characters would be lost, so refuse them."""
        errors = _trailing_nul_errors(name, arr)
        if errors:
            raise ValidationError(errors)
        dtype = np.dtype(f"<U{_max_chars(arr)}")
        return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=dtype).reshape(len(arr))

    def _field_parts(self, field: FieldSchema, column: pa.ChunkedArray) -> list[npt.NDArray[Any]]:
        """The column as NumPy row blocks, one per Arrow chunk where that needs no copy.

        Vectors and scalars stay per chunk (zero-copy views of the Arrow buffers where the
        dtype matches); text becomes one ``<U{n}`` array, as ``n`` is the longest value of
        the whole column.
        """
        if field.dtype in _TEXT_TYPES:
            return [self._text_array(field.name, to_array(column))]
        chunks = column.chunks or [pa.array([], type=column.type)]
        if field.dtype in _VECTOR_DTYPES:
            dtype = _VECTOR_DTYPES[field.dtype]
            return [np.asarray(vector_matrix(field, c, decode_half=False), dtype=dtype) for c in chunks]
        dtype = _SCALAR_DTYPES[field.dtype]
        return [np.asarray(c.to_numpy(zero_copy_only=False), dtype=dtype) for c in chunks]

    def column_parts(self, table: pa.Table) -> list[tuple[str, list[npt.NDArray[Any]]]]:
        """Return ``(file name, row blocks)`` pairs of a canonical chunk, before serialisation.

        Stacking a file's blocks gives its array: shape (N,) for scalars and text, (N, width)
        for vectors (see the class docstring for dtypes).
        """
        out = [
            (f"{field.name}.npy", self._field_parts(field, table.column(field.name)))
            for field in self.schema.input_fields
        ]
        if self.schema.enable_dynamic_field:
            meta = to_array(table.column(DYNAMIC_FIELD))
            out.append((f"{DYNAMIC_FIELD}.npy", [self._text_array(DYNAMIC_FIELD, meta)]))
        return out

    def encode(self, table: pa.Table) -> EncodedPart:
        """Encode one canonical chunk into the ``.npy`` files of one folder.

        Parameters
        ----------
        table : pyarrow.Table
            Validated chunk in the canonical form (``bulkwriter.schema.arrow``); no nulls.

        Returns
        -------
        EncodedPart
            One ``("<field>.npy", pieces)`` pair per input field, then ``("$meta.npy", ...)``;
            each file's pieces are its header and its column's buffers, uncopied where the
            Arrow chunk already holds the exact dtype (``bulkwriter.filedata``).

        Raises
        ------
        ValidationError
            A VarChar, JSON or ``$meta`` value ends in a NUL character, which ``<U`` arrays
            cannot keep (code ``numpy_trailing_nul``; row is the index within the table).
        """
        files = tuple((name, _npy_pieces(parts)) for name, parts in self.column_parts(table))
        return EncodedPart(files=files, rows=table.num_rows)

    def estimate_bytes_per_row(self, table: pa.Table) -> float:
        """Estimate encoded bytes per row, counting 4·n bytes per ``<U{n}`` text cell.

        Fixed-width fields count their itemsize times their width (dim, dim/8 or 2·dim);
        text fields count 4 bytes per character of the longest value in ``table``; each
        file's header (about 128 bytes) is spread over the rows.
        """
        rows = max(1, int(table.num_rows))
        total = 0.0
        files = 0
        for field in self.schema.input_fields:
            files += 1
            if field.dtype in _TEXT_TYPES:
                total += 4 * _max_chars(to_array(table.column(field.name)))
            elif field.dtype in _VECTOR_DTYPES:
                width = int(table.schema.field(field.name).type.list_size)
                total += _VECTOR_DTYPES[field.dtype].itemsize * width
            else:
                total += numpy_dtype(field).itemsize
        if self.schema.enable_dynamic_field:
            files += 1
            total += 4 * _max_chars(to_array(table.column(DYNAMIC_FIELD)))
        return max(1.0, total + files * _NPY_HEADER_BYTES / rows)
