"""Output formats: one encoder per Milvus import format, found by name.

=========  ============================  ==================  ==============================
name       encoder                       part                Milvus versions
=========  ============================  ==================  ==============================
parquet    :class:`ParquetEncoder`       ``.parquet`` file   2.3.4+
json       :class:`JsonEncoder`          ``.json`` file      all (``{"rows": [...]}``)
jsonl      :class:`JsonlEncoder`         ``.jsonl`` file     2.6.6+, Zilliz Cloud
numpy      :class:`NumpyEncoder`         folder of ``.npy``  all (no Array/Sparse/nullable)
csv        :class:`CsvEncoder`           ``.csv`` file       2.5+
=========  ============================  ==================  ==============================

(``target-formats.md`` §1 version matrix; Milvus docs, prepare-source-data.)
"""

from __future__ import annotations

from typing import Final

from bulkwriter.errors import FormatError
from bulkwriter.formats.base import EncodedPart, Encoder, FormatOptions
from bulkwriter.formats.csv_text import CsvEncoder
from bulkwriter.formats.json_rows import JsonEncoder
from bulkwriter.formats.jsonl import JsonlEncoder
from bulkwriter.formats.numpy_dir import NumpyEncoder
from bulkwriter.formats.parquet import ParquetEncoder
from bulkwriter.formats.versions import check_version_support
from bulkwriter.schema.collection import CollectionSchema

__all__ = [
    "FORMAT_NAMES",
    "CsvEncoder",
    "EncodedPart",
    "Encoder",
    "FormatOptions",
    "JsonEncoder",
    "JsonlEncoder",
    "NumpyEncoder",
    "ParquetEncoder",
    "check_version_support",
    "get_encoder",
]

#: Names accepted by ``format=``, in the order the docs list them.
FORMAT_NAMES: Final = ("parquet", "json", "jsonl", "numpy", "csv")

_ENCODERS: Final[dict[str, type[Encoder]]] = {
    "parquet": ParquetEncoder,
    "json": JsonEncoder,
    "jsonl": JsonlEncoder,
    "numpy": NumpyEncoder,
    "csv": CsvEncoder,
}


def get_encoder(name: str, schema: CollectionSchema, options: FormatOptions) -> Encoder:
    """Return the encoder for format ``name``, checked against ``schema``.

    Parameters
    ----------
    name : str
        One of :data:`FORMAT_NAMES`: ``"parquet"``, ``"json"``, ``"jsonl"``, ``"numpy"``,
        ``"csv"`` (exact, lower case).
    schema : CollectionSchema
        The collection the data follows.
    options : FormatOptions
        Shared options (target ``milvus_version``, CSV and Parquet knobs).

    Returns
    -------
    Encoder
        A new encoder instance.

    Raises
    ------
    FormatError
        ``name`` is not a known format (the message lists the names), or the format cannot
        carry the schema for the target version (see each encoder's ``check_schema``).
    """
    encoder_class = _ENCODERS.get(name)
    if encoder_class is None:
        raise FormatError(f"unknown format {name!r}; expected one of {', '.join(FORMAT_NAMES)}")
    return encoder_class(schema, options)
