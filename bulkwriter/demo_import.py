"""``bulkwriter demo --import``: the whole main job on the bundled sample, into a real Milvus.

It starts the Milvus 2.3.5 server of the ``milvus`` wheel on this machine
(:class:`~bulkwriter.milvus.embedded.EmbeddedMilvus`, extra ``bulkwriter[milvus-server]``),
creates the collection from the bundled schema, writes the sample as Parquet, imports it with
:func:`~bulkwriter.milvus.import_files` (which verifies the row count), reads a few rows back
and compares them with the sample, prints the summary and stops the server. Milvus 2.3 has
no nullable fields, so the sample's nulls in ``homepage`` and ``installed_size_kb`` are filled
(``""``, ``0``) and those fields made non-nullable, as the demo prints.
"""

from __future__ import annotations

import os
from importlib import resources
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bulkwriter import api
from bulkwriter.demo_data import DEMO_DATA, DEMO_SCHEMA, NULL_FILL, batches_variant, schema_variant
from bulkwriter.errors import ImportVerificationError
from bulkwriter.schema import as_schema

__all__ = ["COLLECTION", "SAMPLE_FIELDS", "run_demo_import"]

#: The collection the demo creates (dropped first when it exists: the server is the demo's own).
COLLECTION = "debian_packages"
#: Fields read back and compared, for a few rows.
SAMPLE_FIELDS = ("package", "version", "section", "installed_size_kb", "depends")
#: How many rows are read back.
_SAMPLED = 5


def run_demo_import(out: str, *, milvus_dir: str | os.PathLike[str] | None = None) -> int:
    """Write the sample to ``out``/milvus-2.3, import it into an embedded Milvus, check it.

    Parameters
    ----------
    out : str
        The demo's output folder; the Parquet files go to ``out/milvus-2.3`` (replaced).
    milvus_dir : str or os.PathLike, optional
        Where the server's binary is unpacked and its data kept while it runs (default
        :func:`bulkwriter.milvus.embedded.default_base_dir`).

    Returns
    -------
    int
        0 when every row arrived and the rows read back equal the sample.

    Raises
    ------
    MissingDependencyError
        The ``milvus`` wheel or pymilvus is not installed (``bulkwriter[milvus-server]``).
    EmbeddedServerError
        The server did not start (e.g. another Milvus holds the etcd ports).
    ImportJobError, ImportVerificationError, MilvusRequestError
        The import failed, or the rows read back differ from the sample.
    """
    from bulkwriter.milvus import create_collection, import_files
    from bulkwriter.milvus.embedded import EmbeddedMilvus

    data_dir = resources.files("bulkwriter") / "data"
    with (
        resources.as_file(data_dir / DEMO_DATA) as data,
        resources.as_file(data_dir / DEMO_SCHEMA) as schema_path,
    ):
        schema = schema_variant(as_schema(schema_path))
        table = pa.Table.from_batches(batches_variant(pq.read_table(data).to_batches()))
    target = f"{out.rstrip('/')}/milvus-2.3"
    print(
        f"\nbulkwriter demo --import: {DEMO_DATA} -> {target} -> Milvus 2.3.5 (embedded), "
        f"collection {COLLECTION!r}"
    )
    print(
        "note: Milvus 2.3 has no nullable fields: the nulls of "
        + " and ".join(f"{name} (as {value!r})" for name, value in NULL_FILL.items())
        + " are filled and those fields made non-nullable."
    )
    result = api.write(
        table, target, schema=schema, format="parquet", mode="overwrite", milvus_version="2.3.5"
    )
    print(
        f"wrote {result.rows_written:,} rows in {len(result.files)} file(s), {result.bytes_written:,} bytes"
    )
    server = EmbeddedMilvus(milvus_dir)
    print(f"starting Milvus 2.3.5 in {server.base_dir} (the first start unpacks ~250 MB) ...")
    with server:
        print(f"Milvus 2.3.5 is up at {server.uri} (pid {server.pid}, {server.timings['start_s']:.1f} s)")
        create_collection(server.uri, schema, collection=COLLECTION)
        report = import_files(result, uri=server.uri, collection=COLLECTION, poll_interval=0.5)
        print(report.summary())
        print(f"collection row count: {report.row_count_before:,} -> {report.row_count_after:,}")
        checked = _compare_sample(server.uri, table, schema.primary_field.name)
        print(f"read back {checked} rows by primary key: every value of {', '.join(SAMPLE_FIELDS)} equal")
    print(f"Milvus stopped ({server.timings['stop_s']:.1f} s)")
    return 0


def _compare_sample(uri: str, table: pa.Table, pk: str) -> int:
    """Read a few rows back by primary key and compare them with the sample; the count."""
    from bulkwriter.milvus.grpc import GrpcImportClient

    ids = table.column(pk).to_pylist()
    step = max(1, len(ids) // (_SAMPLED - 1))
    wanted = sorted({*ids[::step], ids[-1]})
    picked = table.filter(pc.is_in(table.column(pk), value_set=pa.array(wanted, table.schema.field(pk).type)))
    expected = {
        row[pk]: {f: row[f] for f in SAMPLE_FIELDS} for row in picked.select([pk, *SAMPLE_FIELDS]).to_pylist()
    }

    def query() -> list[dict[str, Any]]:
        collection = client.pymilvus.Collection(COLLECTION, using=client.alias)
        collection.load()
        rows: list[dict[str, Any]] = collection.query(
            expr=f"{pk} in {wanted!r}", output_fields=[pk, *SAMPLE_FIELDS]
        )
        return rows

    with GrpcImportClient(uri) as client:
        got = client.call("Query", query)
    seen = {row[pk]: {f: _plain(row[f]) for f in SAMPLE_FIELDS} for row in got}
    if seen != expected:
        differ = sorted(k for k in expected if seen.get(k) != expected[k])
        raise ImportVerificationError(
            f"rows read back from {COLLECTION!r} differ from the sample at primary keys {differ[:5]}",
            expected_rows=len(expected),
            imported_rows=len(expected) - len(differ),
        )
    return len(seen)


def _plain(value: Any) -> Any:
    """A value pymilvus returns (e.g. a protobuf repeated field) as a plain Python value."""
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    return list(value)
