"""bulkwriter.compat: pymilvus-style LocalBulkWriter / RemoteBulkWriter on our writer.

Constructor signatures are compared with the installed pymilvus 3.0.2; the remote writer is
run against moto S3 and Azurite; files are read back with independent readers.
"""

from __future__ import annotations

import inspect
import io
import json
import pathlib
import uuid
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from emulators import (  # noqa: F401 - fixtures (the conftest block registers them too)
    Emulator,
    az_options,
    azurite_fixture,
    moto_s3_fixture,
)

from bulkwriter.compat import BulkFileType, LocalBulkWriter, RemoteBulkWriter
from bulkwriter.errors import StorageError, ValidationError

pytestmark = pytest.mark.filterwarnings("ignore:.*ORM-style PyMilvus API:FutureWarning")


def pymilvus_schema() -> Any:
    from pymilvus import CollectionSchema, DataType, FieldSchema

    return CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("title", DataType.VARCHAR, max_length=32),
            FieldSchema("vector", DataType.FLOAT_VECTOR, dim=4),
        ],
        enable_dynamic_field=True,
    )


def rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"id": i, "title": f"t{i}", "vector": [float(i), 0.5, 0.25, 1.0], "color": "red"}
        for i in range(start, start + n)
    ]


def params(cls: Any) -> list[tuple[str, Any]]:
    return [(p.name, p.default) for p in inspect.signature(cls).parameters.values()]


def test_signatures_mirror_pymilvus() -> None:
    pytest.importorskip("pymilvus.bulk_writer")
    from pymilvus.bulk_writer import LocalBulkWriter as PL
    from pymilvus.bulk_writer import RemoteBulkWriter as PR

    assert [n for n, _ in params(LocalBulkWriter)] == [n for n, _ in params(PL)]
    assert [n for n, _ in params(RemoteBulkWriter)] == [n for n, _ in params(PR)]
    assert params(LocalBulkWriter)[2] == params(PL)[2]  # chunk_size default: 128 MB
    assert params(RemoteBulkWriter)[3] == params(PR)[3]  # 1024 MB
    assert params(RemoteBulkWriter.S3ConnectParam) == params(PR.S3ConnectParam)
    assert params(RemoteBulkWriter.AzureConnectParam) == params(PR.AzureConnectParam)
    assert RemoteBulkWriter.ConnectParam is RemoteBulkWriter.S3ConnectParam
    from pymilvus.bulk_writer import BulkFileType as PB

    assert {m.name: int(m) for m in BulkFileType} == {m.name: int(m) for m in PB}


def test_local_writer_parquet_two_commits(tmp_path: pathlib.Path) -> None:
    seen: list[list[str]] = []
    writer = LocalBulkWriter(
        schema=pymilvus_schema(), local_path=str(tmp_path), file_type=BulkFileType.PARQUET
    )
    assert writer.data_path == tmp_path / writer.uuid
    for row in rows(5):
        writer.append_row(row)
    writer.commit(call_back=seen.append)
    for row in rows(3, 100):
        writer.append_row(row)
    writer.commit()
    writer.commit()  # nothing pending: a no-op
    assert writer.total_row_count == 8
    assert len(writer.batch_files) == 2
    assert seen == writer.batch_files[:1]
    got = [r for files in writer.batch_files for r in pq.read_table(files[0]).to_pylist()]
    assert [r["id"] for r in got] == [0, 1, 2, 3, 4, 100, 101, 102]
    assert json.loads(got[0]["$meta"]) == {"color": "red"}


def test_local_writer_numpy_entries_are_npy_sets(tmp_path: pathlib.Path) -> None:
    with LocalBulkWriter(pymilvus_schema(), str(tmp_path), file_type=BulkFileType.NUMPY) as writer:
        for row in rows(4):
            writer.append_row(row)
    # leaving the block cleanly committed the pending rows
    (entry,) = writer.batch_files
    assert sorted(pathlib.Path(p).name for p in entry) == ["$meta.npy", "id.npy", "title.npy", "vector.npy"]
    ids = np.load(next(p for p in entry if p.endswith("/id.npy")))
    assert ids.tolist() == [0, 1, 2, 3]


def test_local_writer_csv_config(tmp_path: pathlib.Path) -> None:
    writer = LocalBulkWriter(
        pymilvus_schema(), str(tmp_path), file_type=BulkFileType.CSV, config={"sep": "|"}
    )
    writer.append_row(rows(1)[0])
    writer.commit()
    text = pathlib.Path(writer.batch_files[0][0]).read_text()
    assert text.splitlines()[0].startswith("id|title|vector")


def test_commit_raises_on_bad_rows_and_writes_nothing(tmp_path: pathlib.Path) -> None:
    writer = LocalBulkWriter(pymilvus_schema(), str(tmp_path))
    writer.append_row({"id": 1, "title": "x", "vector": [float("nan"), 0, 0, 0]})
    with pytest.raises(ValidationError, match="not_finite"):
        writer.commit()
    assert not any(tmp_path.rglob("*.parquet"))


def test_remote_writer_s3(moto_s3: Emulator) -> None:
    import fsspec

    bucket = f"compat-{uuid.uuid4().hex[:10]}"
    fs = fsspec.filesystem(
        "s3", key="testing", secret="testing", client_kwargs={"endpoint_url": moto_s3.endpoint}
    )
    fs.mkdir(bucket)
    param = RemoteBulkWriter.S3ConnectParam(
        endpoint=moto_s3.endpoint.removeprefix("http://"),
        access_key="testing",
        secret_key="testing",
        bucket_name=bucket,
        secure=False,
    )
    writer = RemoteBulkWriter(
        schema=pymilvus_schema(), remote_path="bulk_data", connect_param=param, file_type=BulkFileType.JSON
    )
    for row in rows(6):
        writer.append_row(row)
    writer.commit()
    assert str(writer.data_path) == f"/bulk_data/{writer.uuid}"
    write_id = writer.results[0].write_id
    assert writer.batch_files == [
        [f"bulk_data/{writer.uuid}/part-00000-{write_id}.json"]
    ]  # bucket-relative keys
    data = json.loads(fs.cat_file(f"{bucket}/{writer.batch_files[0][0]}"))
    assert [r["id"] for r in data["rows"]] == list(range(6))
    assert "testing" not in repr(param)


def test_remote_writer_missing_bucket_raises_at_once(moto_s3: Emulator) -> None:
    param = RemoteBulkWriter.S3ConnectParam(
        endpoint=moto_s3.endpoint.removeprefix("http://"),
        access_key="testing",
        secret_key="testing",
        bucket_name="no-such-bucket-x1",
    )
    with pytest.raises(StorageError, match="not found"):
        RemoteBulkWriter(schema=pymilvus_schema(), remote_path="bulk_data", connect_param=param)


def test_remote_writer_azure(azurite: Emulator) -> None:
    import fsspec

    container = f"c{uuid.uuid4().hex[:10]}"
    opts = az_options(azurite.endpoint)
    fs = fsspec.filesystem("az", **opts)
    fs.mkdir(container)
    param = RemoteBulkWriter.AzureConnectParam(container_name=container, conn_str=opts["connection_string"])
    writer = RemoteBulkWriter(pymilvus_schema(), "bulk_data", param, file_type=BulkFileType.PARQUET)
    for row in rows(3):
        writer.append_row(row)
    writer.commit()
    (entry,) = writer.batch_files
    table = pq.read_table(io.BytesIO(fs.cat_file(f"{container}/{entry[0]}")))
    assert table.column("id").to_pylist() == [0, 1, 2]
