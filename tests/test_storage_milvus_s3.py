"""A real Milvus 2.3.5 in S3 mode (on moto) imports what bulkwriter wrote to ``s3://``.

The Debian sample (1,988 packages, 384-d embeddings) is written straight to the moto bucket
Milvus uses (``common.storageType=minio``), the bucket-relative keys of
``WriteResult.import_batches`` go to ``utility.do_bulk_insert`` as they are, and every row and
value is read back and compared. 2.3.5 has no nullable fields, so the sample's nulls in
``homepage`` / ``installed_size_kb`` are filled and those fields made non-nullable.

Only one Milvus can run per machine (its etcd binds 2379/2380): this module stops the
session's local-storage server if one is running (pytest re-starts it on next use), starts
its own S3-mode server through the colleague's ``milvus_support.MilvusProcess`` (same
machine-wide lock, stale-server and port guards, same unpacked binary), and stops it when the
module ends.
"""

from __future__ import annotations

import importlib.util
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from emulators import Emulator, moto_s3_fixture, s3_options, unavailable  # noqa: F401 - fixture

import bulkwriter
from bulkwriter.schema import CollectionSchema, as_schema, schema_to_pymilvus

pytestmark = [pytest.mark.milvus, pytest.mark.filterwarnings("ignore:.*ORM-style PyMilvus API:FutureWarning")]

DATA_DIR = Path(bulkwriter.__file__).resolve().parent / "data"
ALIAS = "milvus_s3"


@dataclass
class _Started:
    process: Any
    bucket: str
    options: dict[str, Any]


@pytest.fixture(scope="module")
def milvus_s3(request: pytest.FixtureRequest, moto_s3: Emulator) -> Iterator[_Started]:
    """Milvus 2.3.5 with its storage on the moto bucket; module-scoped, stopped at the end."""
    if importlib.util.find_spec("milvus") is None or importlib.util.find_spec("pymilvus") is None:
        unavailable("needs the milvus==2.3.5 wheel and pymilvus (pip install -e .[test])")
    import fsspec
    import milvus_support
    from pymilvus import connections

    milvus_support.stop_session_milvus(request)
    bucket = f"milvus-{uuid.uuid4().hex[:10]}"
    options = s3_options(moto_s3.endpoint)
    fsspec.filesystem("s3", **options).mkdir(bucket)
    extra = {
        "common.storageType": "minio",
        "minio.address": "127.0.0.1",
        "minio.port": str(moto_s3.port),
        "minio.bucketName": bucket,
        "minio.accessKeyID": "testing",
        "minio.secretAccessKey": "testing",
        "minio.useSSL": "false",
    }

    cache = getattr(request.config, "cache", None)
    base = (
        Path(cache.mkdir("milvus-2.3.5"))
        if cache
        else Path(request.getfixturevalue("tmp_path_factory").mktemp("m"))
    )
    server = milvus_support.MilvusProcess(base, start_timeout_s=120, lock_timeout_s=300, extra_config=extra)
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - any start failure fails the test
        pytest.fail(f"Milvus 2.3.5 (S3 mode) did not start: {exc}", pytrace=False)
    try:
        with milvus_support.quiet_pymilvus():
            connections.connect(alias=ALIAS, host=server.host, port=str(server.port), timeout=10)
        yield _Started(server, bucket, options)
    finally:
        with milvus_support.quiet_pymilvus():
            connections.disconnect(ALIAS)
        server.stop()


def _debian() -> tuple[CollectionSchema, list[dict[str, Any]]]:
    raw = json.loads((DATA_DIR / "debian_packages_schema.json").read_text(encoding="utf-8"))
    for f in raw["fields"]:
        if f["fieldName"] in ("homepage", "installed_size_kb"):
            f["nullable"] = False
    table = pq.read_table(DATA_DIR / "debian_packages_sample.parquet")
    table = table.set_column(
        table.schema.get_field_index("homepage"), "homepage", pc.fill_null(table["homepage"], "")
    )
    table = table.set_column(
        table.schema.get_field_index("installed_size_kb"),
        "installed_size_kb",
        pc.fill_null(table["installed_size_kb"], pa.scalar(0, pa.int64())),
    )
    return as_schema(raw), table.to_pylist()


def test_milvus_on_s3_imports_the_debian_sample_written_to_s3(milvus_s3: _Started) -> None:
    from milvus_support import _wait_task, assert_rows_equal, fetch_rows, fresh_collection, quiet_pymilvus
    from pymilvus import utility

    schema, rows = _debian()
    assert len(rows) == 1988
    url = f"s3://{milvus_s3.bucket}/import/debian"
    result = bulkwriter.write(
        rows, url, schema=schema, format="parquet", max_rows_per_file=700, storage_options=milvus_s3.options
    )
    entries = [entry for request in result.import_batches for entry in request]
    # bucket-relative keys
    assert entries == [[f"import/debian/part-0000{i}-{result.write_id}.parquet"] for i in range(3)]
    pm_schema = schema_to_pymilvus(schema)
    coll = fresh_collection("s3_debian", pm_schema, using=ALIAS)
    try:
        imported = 0
        with quiet_pymilvus():
            for entry in entries:
                task = utility.do_bulk_insert("s3_debian", files=entry, using=ALIAS)
                state = _wait_task(task, time.monotonic() + 120, ALIAS)
                assert state.state_name == "Completed", state.failed_reason
                imported += int(state.row_count)
        assert imported == len(rows)
        got = fetch_rows(coll, "id")
        assert len(got) == len(rows)
        assert_rows_equal(rows, got, pm_schema, pk_field="id")
    finally:
        with quiet_pymilvus():
            coll.drop()
