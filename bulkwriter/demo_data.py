"""The bundled real sample of the demo, and its variants for targets that take less.

The sample is 1,988 Debian packages with 384-d embeddings (``data/``, the schema beside it).
NumPy files cannot carry Array or nullable fields (Milvus "Import data" NumPy rules), and
Milvus 2.3 has no nullable fields (``milvus-server.md``): :func:`schema_variant` and
:func:`batches_variant` leave out the given fields and fill the nulls of the others with a
value, making those fields non-nullable. Both say what they change; the CLI prints it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.schema import CollectionSchema

__all__ = ["DEMO_DATA", "DEMO_SCHEMA", "NULL_FILL", "NUMPY_DROP", "batches_variant", "schema_variant"]

#: Bundled demo data and schema (package ``bulkwriter``, folder ``data``).
DEMO_DATA = "debian_packages_sample.parquet"
DEMO_SCHEMA = "debian_packages_schema.json"
#: The sample's Array fields: what a NumPy copy leaves out.
NUMPY_DROP = ("depends", "tags")
#: The sample's nullable fields, and the value their nulls become where nulls cannot go.
NULL_FILL: Mapping[str, object] = {"homepage": "", "installed_size_kb": 0}


def schema_variant(
    schema: CollectionSchema, *, drop: Iterable[str] = (), fill: Mapping[str, object] = NULL_FILL
) -> CollectionSchema:
    """``schema`` without the ``drop`` fields, and the ``fill`` fields made non-nullable."""
    dropped = set(drop)
    fields = [
        dataclasses.replace(f, nullable=False) if f.name in fill else f
        for f in schema.fields
        if f.name not in dropped
    ]
    return CollectionSchema(
        fields,
        enable_dynamic_field=schema.enable_dynamic_field,
        description=schema.description,
        name=schema.name,
        function_output_fields=schema.function_output_fields,
    )


def batches_variant(
    batches: Iterable[pa.RecordBatch], *, drop: Iterable[str] = (), fill: Mapping[str, object] = NULL_FILL
) -> Iterator[pa.RecordBatch]:
    """The batches without the ``drop`` columns, and the nulls of the ``fill`` columns filled."""
    dropped = set(drop)
    for batch in batches:
        names = [n for n in batch.schema.names if n not in dropped]
        columns = [
            pc.fill_null(batch.column(n), pa.scalar(fill[n], batch.schema.field(n).type))
            if n in fill
            else batch.column(n)
            for n in names
        ]
        yield pa.RecordBatch.from_arrays(columns, names=names)
