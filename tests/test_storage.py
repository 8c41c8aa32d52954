"""Storage contract: the same behaviour on a local folder, moto S3, the GCS emulator and Azurite.

Every test runs once per backend (the ``store`` fixture, tests/emulators.py): a fresh bucket,
written through the public API with ``storage_options``, read back with the backend's own
fsspec filesystem and independent readers (pyarrow, json, numpy, csv).
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from emulators import (  # noqa: F401 - fixtures (the conftest block registers them too)
    Store,
    azurite_fixture,
    gcs_emulator_fixture,
    moto_s3_fixture,
    store_fixture,
)
from names import plain, plain_all

import bulkwriter
from bulkwriter.errors import DestinationExistsError
from bulkwriter.storage import MANIFEST_NAME, STAGING_DIR

SCHEMA = {
    "fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {"fieldName": "title", "dataType": "VarChar", "elementTypeParams": {"max_length": 64}},
        {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}},
    ]
}
FORMATS = ["parquet", "json", "jsonl", "numpy", "csv"]


def columns(n: int, start: int = 0) -> dict[str, object]:
    ids = np.arange(start, start + n, dtype=np.int64)
    return {
        "id": ids,
        "title": [f"t{i}" for i in ids],
        "vec": (np.arange(n * 4, dtype=np.float32).reshape(n, 4) + start),
    }


def read_rows(store: Store, fmt: str, result: bulkwriter.WriteResult) -> list[dict[str, object]]:
    """Read every committed file back with independent readers; rows in file order."""
    rows: list[dict[str, object]] = []
    for f in result.files:
        if fmt == "numpy":
            cols = {}
            for key in f.import_paths:  # bucket-relative keys (local: absolute paths)
                name = key.rsplit("/", 1)[1][: -len(".npy")]
                path = key if store.kind == "local" else f"{store.bucket}/{key}"
                cols[name] = np.load(io.BytesIO(store.fs.cat_file(path)), allow_pickle=False)
            rows.extend(
                {"id": int(cols["id"][i]), "title": str(cols["title"][i]), "vec": cols["vec"][i].tolist()}
                for i in range(len(cols["id"]))
            )
            continue
        data = store.fs.cat_file(_fs_path(store, f.uri))
        if fmt == "parquet":
            rows.extend(pq.read_table(pa.BufferReader(data)).to_pylist())
        elif fmt == "json":
            rows.extend(json.loads(data)["rows"])
        elif fmt == "jsonl":
            rows.extend(json.loads(line) for line in data.decode().splitlines() if line)
        else:
            for rec in csv.DictReader(io.StringIO(data.decode())):
                rows.append({"id": int(rec["id"]), "title": rec["title"], "vec": json.loads(rec["vec"])})
    return [{"id": int(r["id"]), "title": r["title"], "vec": [float(x) for x in r["vec"]]} for r in rows]


def expected_rows(n: int, start: int = 0) -> list[dict[str, object]]:
    cols = columns(n, start)
    vec = np.asarray(cols["vec"])
    return [{"id": start + i, "title": f"t{start + i}", "vec": vec[i].tolist()} for i in range(n)]


def _fs_path(store: Store, uri: str) -> str:
    return uri.split("://", 1)[1] if "://" in uri else uri


def visible(store: Store, name: str) -> list[str]:
    """Names under the destination folder ``name`` (relative to it, write ids left out), fresh listing."""
    return plain_all(p[len(name) + 1 :] for p in store.listing(name))


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_every_format(store: Store, fmt: str) -> None:
    result = bulkwriter.write(
        columns(25),
        store.url("out"),
        schema=SCHEMA,
        format=fmt,
        storage_options=store.options,
        max_rows_per_file=10,
    )
    assert result.rows_written == 25
    assert len(result.files) == 3
    assert read_rows(store, fmt, result) == expected_rows(25)
    names = visible(store, "out")
    assert MANIFEST_NAME in names
    assert not any(STAGING_DIR in p for p in store.listing(""))  # staging removed
    manifest = orjson.loads(store.fs.cat_file(store.path("out", MANIFEST_NAME)))
    assert manifest["rows"] == 25
    assert [f["path"] for f in manifest["files"]] == [f.uri.rsplit("/", 1)[1] for f in result.files]


def test_import_paths_per_backend(store: Store) -> None:
    result = bulkwriter.write(
        columns(5), store.url("a", "out"), schema=SCHEMA, format="numpy", storage_options=store.options
    )
    entry = result.import_batches[0][0]
    part = f"part-00000-{result.write_id}"
    if store.kind == "local":
        assert result.bucket is None
        assert entry == [f"{store.bucket}/a/out/{part}/{n}.npy" for n in ("id", "title", "vec")]
        assert result.import_uris == result.import_batches
    else:
        assert result.bucket == store.bucket
        assert entry == [f"a/out/{part}/{n}.npy" for n in ("id", "title", "vec")]  # bucket-relative keys
        if store.kind == "az":  # the blob endpoint form Zilliz objectUrls and Pinecone take
            endpoint = store.options["connection_string"].split("BlobEndpoint=")[1].rstrip(";")
            assert endpoint.startswith("http://127.0.0.1:")
            assert result.import_uris[0][0] == [f"{endpoint}/{store.bucket}/{k}" for k in entry]
        else:
            assert result.import_uris[0][0] == [f"{store.scheme}://{store.bucket}/{k}" for k in entry]
        assert result.uri == f"{store.scheme}://{store.bucket}/a/out"
        assert result.files[0].uri == f"{store.scheme}://{store.bucket}/a/out/{part}"
    inspected = bulkwriter.inspect(store.url("a", "out"), storage_options=store.options).committed
    assert inspected is not None
    assert inspected.files == result.files
    assert inspected.import_batches == result.import_batches
    assert inspected.import_uris == result.import_uris


def test_modes_error_overwrite_append(store: Store) -> None:
    url, opts = store.url("out"), store.options
    bulkwriter.write(columns(10), url, schema=SCHEMA, max_rows_per_file=4, storage_options=opts)
    assert visible(store, "out") == [
        MANIFEST_NAME,
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    with pytest.raises(DestinationExistsError):
        bulkwriter.write(columns(1), url, schema=SCHEMA, storage_options=opts)
    r = bulkwriter.write(columns(3, 100), url, schema=SCHEMA, mode="overwrite", storage_options=opts)
    assert visible(store, "out") == [MANIFEST_NAME, "part-00000.parquet"]
    assert read_rows(store, "parquet", r) == expected_rows(3, 100)
    r2 = bulkwriter.write(columns(2, 200), url, schema=SCHEMA, mode="append", storage_options=opts)
    assert [plain(f.uri.rsplit("/", 1)[1]) for f in r2.files] == ["part-00001.parquet"]
    everything = bulkwriter.inspect(url, storage_options=opts).committed
    assert everything is not None
    assert everything.rows_written == 5
    assert read_rows(store, "parquet", everything) == expected_rows(3, 100) + expected_rows(2, 200)


def test_abort_leaves_nothing(store: Store) -> None:
    w = bulkwriter.Writer(store.url("out"), schema=SCHEMA, storage_options=store.options, max_rows_per_file=5)
    w.write(columns(20))  # four files staged
    assert any(STAGING_DIR in p for p in store.listing(""))
    w.abort()
    assert store.listing("") == []


def test_exception_in_with_block_leaves_nothing(store: Store) -> None:
    def run() -> None:
        with bulkwriter.Writer(
            store.url("out"), schema=SCHEMA, storage_options=store.options, max_rows_per_file=5
        ) as w:
            w.write(columns(12))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run()
    assert store.listing("") == []


def test_append_refuses_other_format(store: Store) -> None:
    bulkwriter.write(columns(2), store.url("out"), schema=SCHEMA, storage_options=store.options)
    with pytest.raises(DestinationExistsError):
        bulkwriter.write(
            columns(2, 10),
            store.url("out"),
            schema=SCHEMA,
            format="json",
            mode="append",
            storage_options=store.options,
        )
    assert visible(store, "out") == [MANIFEST_NAME, "part-00000.parquet"]


def test_filesystem_instance(store: Store) -> None:
    path = store.path("viafs")
    result = bulkwriter.write(columns(4), path, schema=SCHEMA, format="jsonl", filesystem=store.fs)
    assert read_rows(store, "jsonl", result) == expected_rows(4)
    if store.kind != "local":
        assert (
            result.uri
            == f"{store.fs.protocol[0] if isinstance(store.fs.protocol, tuple) else store.fs.protocol}://{path}"
        )


def test_rejects_file_lands_beside_the_output(store: Store) -> None:
    bad = columns(6)
    bad["id"][4] = 1  # type: ignore[index]  # a duplicate primary key
    result = bulkwriter.write(
        bad, store.url("out"), schema=SCHEMA, storage_options=store.options, on_error="skip"
    )
    assert (result.rows_written, result.rows_rejected) == (5, 1)
    assert result.rejects_path == store.url("out") + ".rejects.jsonl"
    assert "out.rejects.jsonl" in store.listing("")
    assert not any("rejects" in p for p in visible(store, "out"))


@pytest.mark.parametrize("scheme", ["az", "abfs"])
def test_azure_import_uris_are_https_blob_urls_without_the_sas_token(scheme: str) -> None:
    from bulkwriter.storage.location import resolve

    sas = "sv=2024-01-01&sig=TOPSECRETSIG"
    location = resolve(
        f"{scheme}://container/imports/run1", storage_options={"account_name": "myacct", "sas_token": sas}
    )
    written = location.written_file("part-00000.parquet", ["part-00000.parquet"], rows=1, nbytes=1)
    assert written.import_uris == (
        "https://myacct.blob.core.windows.net/container/imports/run1/part-00000.parquet",
    )
    assert written.import_paths == ("imports/run1/part-00000.parquet",)  # Milvus: bucket-relative keys
    assert "TOPSECRET" not in repr(written) + repr(location)
