"""bulkwriter.milvus against a real Milvus 2.3.5 (embedded, gRPC): import, watch, verify.

The Debian sample goes write -> ``import_files`` -> Completed with every row counted and a
sample of values read back; a collection of another dim makes the job fail with the
server's own reason; a committed path (its manifest) and NumPy entries import too;
``fetch_schema`` returns the schema the collection was created from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from milvus_support import fetch_rows, quiet_pymilvus

import bulkwriter
from bulkwriter import ImportJobError, ImportVerificationError, MilvusRequestError
from bulkwriter.milvus import (
    ImportJob,
    create_collection,
    describe_job,
    fetch_schema,
    import_files,
    list_jobs,
)
from bulkwriter.schema import CollectionSchema, as_schema

pytestmark = pytest.mark.milvus

DATA_DIR = Path(bulkwriter.__file__).resolve().parent / "data"


def _uri(server: Any) -> str:
    return f"http://{server.host}:{server.port}"


def _debian_23() -> tuple[CollectionSchema, Any]:
    """The bundled sample as Milvus 2.3 takes it (no nullable fields: nulls filled)."""
    raw = json.loads((DATA_DIR / "debian_packages_schema.json").read_text(encoding="utf-8"))
    for f in raw["fields"]:
        f.pop("nullable", None)
    table = pq.read_table(DATA_DIR / "debian_packages_sample.parquet")
    for name in ("homepage", "installed_size_kb"):
        i = table.schema.get_field_index(name)
        fill = "" if name == "homepage" else 0
        table = table.set_column(i, name, pc.fill_null(table[name], fill))
    return as_schema(raw), table


def _drop(name: str) -> None:
    from pymilvus import utility

    with quiet_pymilvus():
        if utility.has_collection(name):
            utility.drop_collection(name)


def test_debian_sample_write_import_verify(milvus_conn: Any, tmp_path: Path) -> None:
    schema, table = _debian_23()
    uri = _uri(milvus_conn)
    name = "bw_jobs_debian"
    _drop(name)
    create_collection(uri, schema, collection=name)
    try:
        result = bulkwriter.write(table, tmp_path / "out", schema=schema, max_rows_per_file=700)
        seen: list[list[ImportJob]] = []
        report = import_files(result, uri=uri, collection=name, poll_interval=0.2, progress=seen.append)
        assert report.api == "grpc"
        assert report.completed
        assert len(report.jobs) == len(result.files) == 3  # one gRPC task per file on 2.3
        assert report.expected_rows == report.imported_rows == table.num_rows == 1988
        assert report.row_count_before == 0
        assert report.row_count_after == 1988
        assert seen
        assert all(j.state == "completed" for j in seen[-1])
        assert {j.job_id for j in list_jobs(name, uri=uri)} >= {j.job_id for j in report.jobs}
        later = describe_job(report.jobs[0].job_id, uri=uri)
        assert (later.api, later.state, later.imported_rows) == (
            "grpc",
            "completed",
            report.jobs[0].imported_rows,
        )
        from pymilvus import Collection

        pks = table.column("id").to_pylist()[::97]
        got = fetch_rows(Collection(name), "id", ["package", "version"], pks=pks)
        by_pk = {r["id"]: r for r in table.select(["id", "package", "version"]).to_pylist()}
        assert {pk: {k: row[k] for k in ("package", "version")} for pk, row in got.items()} == {
            pk: {k: by_pk[pk][k] for k in ("package", "version")} for pk in pks
        }
    finally:
        _drop(name)


def test_import_from_a_committed_path_with_numpy_entries(milvus_conn: Any, tmp_path: Path) -> None:
    schema = as_schema(
        {
            "fields": [
                {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "title", "dataType": "VarChar", "elementTypeParams": {"max_length": 16}},
                {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}},
            ]
        }
    )
    rows = [{"id": i, "title": f"t{i}", "vec": [i / 10, 0.0, 1.0, 2.0]} for i in range(250)]
    uri = _uri(milvus_conn)
    name = "bw_jobs_numpy"
    _drop(name)
    create_collection(uri, schema, collection=name)
    try:
        bulkwriter.write(rows, tmp_path / "np", schema=schema, format="numpy", max_rows_per_file=100)
        report = import_files(
            str(tmp_path / "np"), uri=uri, collection=name, poll_interval=0.2, progress=False
        )
        assert [len(j.files[0]) for j in report.jobs] == [3, 3, 3]  # one .npy per field, per chunk
        assert report.imported_rows == report.expected_rows == 250
        assert report.row_count_after == 250
        # the same files again: the jobs complete, the count doubles, verification still holds
        again = import_files(
            str(tmp_path / "np"), uri=uri, collection=name, poll_interval=0.2, progress=False
        )
        assert (again.row_count_before, again.row_count_after) == (250, 500)
    finally:
        _drop(name)


def test_a_collection_of_another_dim_fails_with_the_servers_reason(milvus_conn: Any, tmp_path: Path) -> None:
    fields = [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}},
    ]
    written = as_schema({"fields": fields})
    other = as_schema({"fields": [fields[0], {**fields[1], "elementTypeParams": {"dim": 8}}]})
    uri = _uri(milvus_conn)
    name = "bw_jobs_wrong_dim"
    _drop(name)
    create_collection(uri, other, collection=name)
    try:
        result = bulkwriter.write(
            [{"id": i, "vec": [0.5] * 4} for i in range(10)], tmp_path / "o", schema=written, format="json"
        )
        with pytest.raises(ImportJobError) as raised:
            import_files(result, uri=uri, collection=name, poll_interval=0.2, progress=False)
        error = raised.value
        assert error.state in ("Failed", "Failed and cleaned")
        assert error.reason
        assert error.reason in str(error)
        assert "dim" in error.reason.lower() or "dimension" in error.reason.lower(), error.reason
        assert error.files == [list(result.files[0].import_paths)]
        assert error.job_id in str(error)
    finally:
        _drop(name)


def test_a_missing_collection_fails_fast(milvus_conn: Any, tmp_path: Path) -> None:
    schema = as_schema(
        {
            "fields": [
                {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
            ]
        }
    )
    result = bulkwriter.write([{"id": 1, "vec": [0.0, 1.0]}], tmp_path / "o", schema=schema)
    with pytest.raises(MilvusRequestError, match="bw_jobs_nowhere"):
        import_files(result, uri=_uri(milvus_conn), collection="bw_jobs_nowhere", progress=False)


def test_verification_compares_the_rows_of_the_files(milvus_conn: Any, tmp_path: Path) -> None:
    """Rows claimed for explicit entries that are not what the server imported -> mismatch."""
    schema = as_schema(
        {
            "fields": [
                {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
            ]
        }
    )
    uri = _uri(milvus_conn)
    name = "bw_jobs_verify"
    _drop(name)
    create_collection(uri, schema, collection=name)
    try:
        result = bulkwriter.write(
            [{"id": i, "vec": [0.0, 1.0]} for i in range(7)], tmp_path / "o", schema=schema
        )
        with pytest.raises(ImportVerificationError) as raised:
            import_files(
                result.import_batches,
                uri=uri,
                collection=name,
                expected_rows=8,
                poll_interval=0.2,
                progress=False,
            )
        assert (raised.value.expected_rows, raised.value.imported_rows) == (8, 7)
    finally:
        _drop(name)


def test_fetch_schema_returns_the_schema_the_collection_was_made_from(milvus_conn: Any) -> None:
    schema, _ = _debian_23()
    uri = _uri(milvus_conn)
    name = "bw_jobs_schema"
    _drop(name)
    create_collection(uri, schema, collection=name)
    try:
        fetched = fetch_schema(uri, name)
        assert fetched.name == name
        assert fetched.enable_dynamic_field == schema.enable_dynamic_field
        assert [
            (f.name, f.dtype, f.dim, f.max_length, f.max_capacity, f.element_type, f.is_primary)
            for f in fetched.fields
        ] == [
            (f.name, f.dtype, f.dim, f.max_length, f.max_capacity, f.element_type, f.is_primary)
            for f in schema.fields
        ]
        with pytest.raises(MilvusRequestError, match="does not exist"):
            fetch_schema(uri, "bw_jobs_no_such_collection")
    finally:
        _drop(name)


def test_cli_convert_import_into_end_to_end(
    milvus_conn: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bulkwriter.cli import main

    schema, table = _debian_23()
    source = tmp_path / "in.parquet"
    pq.write_table(table.slice(0, 300), source)
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema.to_dict()), encoding="utf-8")
    uri = _uri(milvus_conn)
    name = "bw_jobs_cli"
    _drop(name)
    create_collection(uri, schema, collection=name)
    try:
        status = main(
            [
                "convert", str(source), "--schema", str(schema_file), "--out", str(tmp_path / "out"),
                "--import-into", uri, "--collection", name, "--no-progress",
            ]
        )  # fmt: skip
        out = capsys.readouterr().out
        assert status == 0, out
        assert "rows expected 300, imported 300" in out
        # the same output again with `import`: a second copy of the rows arrives
        assert (
            main(["import", str(tmp_path / "out"), "--uri", uri, "--collection", name, "--no-progress"]) == 0
        )
        assert "rows expected 300, imported 300" in capsys.readouterr().out
        # a missing collection: exit 1, the token never printed
        secret = "root:s3cr3t-Pa55"
        status = main(
            ["import", str(tmp_path / "out"), "--uri", uri, "--collection", "bw_nope", "--token", secret]
        )
        captured = capsys.readouterr()
        assert status == 1
        assert secret not in captured.out + captured.err
        assert "bw_nope" in captured.err
    finally:
        _drop(name)


def test_cli_reads_the_schema_from_a_live_collection(
    milvus_conn: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bulkwriter.cli import main

    schema, table = _debian_23()
    source = tmp_path / "in.parquet"
    pq.write_table(table.slice(0, 50), source)
    uri = _uri(milvus_conn)
    name = "bw_jobs_schema_from"
    _drop(name)
    create_collection(uri, schema, collection=name)
    try:
        address = f"milvus://{milvus_conn.host}:{milvus_conn.port}/{name}"
        # --schema milvus://HOST:PORT/COLLECTION, then import with that same schema
        status = main(
            [
                "convert", str(source), "--schema", address, "--out", str(tmp_path / "a"),
                "--import-into", uri, "--collection", name, "--no-progress",
            ]
        )  # fmt: skip
        assert status == 0, capsys.readouterr()
        assert "rows expected 50, imported 50" in capsys.readouterr().out
        # --schema-from URI --collection NAME, for validate: a row of the wrong dim is refused
        bad = table.slice(0, 3).to_pylist()
        bad[1]["embedding"] = bad[1]["embedding"][:5]
        (tmp_path / "bad.jsonl").write_text("\n".join(json.dumps(r) for r in bad), encoding="utf-8")
        status = main(["validate", str(tmp_path / "bad.jsonl"), "--schema-from", uri, "--collection", name])
        captured = capsys.readouterr()
        assert status == 1
        assert "embedding" in captured.err + captured.out
        # a missing collection, and an address without one
        assert (
            main(
                [
                    "validate",
                    str(source),
                    "--schema",
                    f"milvus://{milvus_conn.host}:{milvus_conn.port}/bw_nope",
                ]
            )
            == 1
        )
        assert "bw_nope" in capsys.readouterr().err
        assert (
            main(["validate", str(source), "--schema", f"milvus://{milvus_conn.host}:{milvus_conn.port}"])
            == 1
        )
        assert "milvus://HOST:PORT/COLLECTION" in capsys.readouterr().err
    finally:
        _drop(name)


# --------------------------------------------------------------------------------------
# every type 2.3.5 supports, through the product API (create_collection -> write ->
# import_files -> fetch_schema), schema and rows from test_milvus_import
# --------------------------------------------------------------------------------------

ALL_TYPES_CASES = [
    # (format, vector kind, dynamic field): both vector kinds, dynamic on and off, every format
    pytest.param("parquet", "float", True, id="parquet-float-dynamic"),
    pytest.param("json", "binary", False, id="json-binary-static"),
    pytest.param("json", "float", True, id="json-float-dynamic"),
    pytest.param("numpy", "binary", True, id="numpy-binary-dynamic"),
]


@pytest.mark.parametrize(("fmt", "vector", "dynamic"), ALL_TYPES_CASES)
def test_every_type_write_import_verify(
    milvus_conn: Any, tmp_path: Path, fmt: str, vector: str, dynamic: bool
) -> None:
    from milvus_support import assert_rows_equal
    from pymilvus import Collection
    from test_milvus_import import ALL_TYPES_N, _all_types_rows, _all_types_schema, _as_read_back

    from bulkwriter.schema import DataType, schema_to_pymilvus

    arrays = fmt != "numpy"  # NumPy carries no Array fields
    schema = _all_types_schema(vector, dynamic, arrays=arrays)
    rows = _all_types_rows(ALL_TYPES_N, 0, vector=vector, dynamic=dynamic, arrays=arrays, seed=11)
    assert any(f.dtype is DataType.ARRAY for f in schema.fields) == arrays
    uri = _uri(milvus_conn)
    name = f"bw_jobs_all_{fmt}_{vector}_{int(dynamic)}"
    _drop(name)
    assert create_collection(uri, schema, collection=name) == name
    try:
        fetched = fetch_schema(uri, name)
        assert fetched.name == name
        assert fetched.enable_dynamic_field is dynamic
        assert list(fetched.fields) == list(schema.fields)  # every attribute, field by field

        result = bulkwriter.write(rows, tmp_path / fmt, schema=schema, format=fmt, max_rows_per_file=120)
        assert result.rows_written == len(rows) == ALL_TYPES_N
        assert [f.rows for f in result.files] == [120, 120, 60]  # files, or NumPy chunk folders
        report = import_files(result, uri=uri, collection=name, poll_interval=0.2, progress=False)
        assert report.completed, report.summary()
        assert report.api == "grpc"
        assert len(report.jobs) == 3  # one gRPC task per file / NumPy chunk on 2.3
        assert report.imported_rows == report.expected_rows == ALL_TYPES_N
        assert report.row_count_before == 0
        assert report.row_count_after is not None
        assert report.row_count_after - report.row_count_before == ALL_TYPES_N

        written = {r["id"]: r for r in _as_read_back(fmt, rows)}
        pks = sorted({*list(written)[::7], rows[-1]["id"]})
        assert pks[0] == rows[0]["id"]
        got = fetch_rows(Collection(name), "id", pks=pks)  # every field, dynamic keys flattened
        assert sorted(got) == pks
        assert_rows_equal({pk: written[pk] for pk in pks}, got, schema_to_pymilvus(schema), pk_field="id")
        dyn_keys = {"dyn_int", "dyn_text", "dyn_obj"}
        seen_keys = {k for r in got.values() for k in r} & dyn_keys
        assert seen_keys == (dyn_keys if dynamic else set())
    finally:
        _drop(name)
