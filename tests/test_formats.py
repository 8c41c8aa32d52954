"""Round trips of every output format through an independent reader, plus format rules."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from format_helpers import Case, all_types_case, assert_rows_equal, build_case, numpy_case

from bulkwriter.errors import FieldError, FormatError, ValidationError
from bulkwriter.filedata import data_bytes
from bulkwriter.formats import FORMAT_NAMES, EncodedPart, FormatOptions, get_encoder
from bulkwriter.schema import DataType, FieldSchema
from bulkwriter.schema.collection import DYNAMIC_FIELD

DEFAULT = FormatOptions()


@pytest.fixture(scope="module")
def case() -> Case:
    return all_types_case()


@pytest.fixture(scope="module")
def np_case() -> Case:
    return numpy_case()


def _single_file(name: str, case: Case, options: FormatOptions = DEFAULT) -> bytes:
    part = get_encoder(name, case.schema, options).encode(case.table)
    assert part.rows == case.rows
    assert len(part.files) == 1
    assert part.files[0][0] == ""
    return data_bytes(part.files[0][1])


def _column_names(case: Case) -> list[str]:
    names = [f.name for f in case.schema.input_fields]
    return [*names, DYNAMIC_FIELD] if case.schema.enable_dynamic_field else names


def _decode_half(field: FieldSchema, value: Any) -> Any:
    """Float16/BFloat16 bytes (list of uint8) to their float values."""
    raw = np.asarray(value, dtype=np.uint8)
    if field.dtype is DataType.FLOAT16_VECTOR:
        return raw.view("<f2").astype(np.float32).tolist()
    return (raw.view("<u2").astype(np.uint32) << 16).view(np.float32).tolist()


# ----------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------


def test_registry_names_and_unknown(case: Case) -> None:
    assert FORMAT_NAMES == ("parquet", "json", "jsonl", "numpy", "csv")
    for name in ("parquet", "json", "jsonl", "csv"):
        encoder = get_encoder(name, case.schema, DEFAULT)
        assert encoder.name == name
        assert not encoder.is_directory
    with pytest.raises(FormatError, match="expected one of parquet, json, jsonl, numpy, csv"):
        get_encoder("xml", case.schema, DEFAULT)
    with pytest.raises(ValueError, match="unknown format"):
        get_encoder("Parquet", case.schema, DEFAULT)


# ----------------------------------------------------------------------------------------
# Parquet
# ----------------------------------------------------------------------------------------


def _read_parquet(case: Case, data: bytes) -> tuple[pa.Schema, dict[str, list[Any]]]:
    table = pq.read_table(io.BytesIO(data))
    decoded: dict[str, list[Any]] = {}
    for name in table.column_names:
        values = table.column(name).to_pylist()
        field = case.schema.field(name) if name != DYNAMIC_FIELD else None
        if field is not None and field.dtype in (DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR):
            values = [_decode_half(field, v) for v in values]
        elif field is not None and field.dtype is DataType.SPARSE_FLOAT_VECTOR:
            values = [
                json.loads(v) if isinstance(v, str) else dict(zip(v["indices"], v["values"], strict=True))
                for v in values
            ]
        decoded[name] = values
    return table.schema, decoded


def test_parquet_round_trip_and_types(case: Case) -> None:
    schema, decoded = _read_parquet(case, _single_file("parquet", case))
    assert_rows_equal(case, decoded)
    assert schema.names == _column_names(case)
    types = {f.name: f.type for f in schema}
    expected = {
        "id": pa.int64(),
        "b": pa.bool_(),
        "i8": pa.int8(),
        "i16": pa.int16(),
        "i32": pa.int32(),
        "f32": pa.float32(),
        "f64": pa.float64(),
        "text": pa.string(),
        "js": pa.string(),
        "fv": pa.list_(pa.float32()),
        "bv": pa.list_(pa.uint8()),
        "f16": pa.list_(pa.uint8()),
        "bf16": pa.list_(pa.uint8()),
        "i8v": pa.list_(pa.int8()),
        "sp": pa.string(),
        "arr_varchar": pa.list_(pa.string()),
        "arr_float": pa.list_(pa.float32()),
        "arr_int16": pa.list_(pa.int16()),
        DYNAMIC_FIELD: pa.string(),
    }
    for name, arrow_type in expected.items():
        # list item names differ between writers ("item"/"element"); compare value types
        got = types[name]
        if pa.types.is_list(arrow_type):
            assert pa.types.is_list(got), name
            assert got.value_type == arrow_type.value_type, name
        else:
            assert got == arrow_type, name
    for field in schema:
        assert not pa.types.is_large_string(field.type)
        assert not pa.types.is_fixed_size_list(field.type)
        assert not pa.types.is_large_list(field.type)
        assert not pa.types.is_dictionary(field.type)
    # Float16 bytes: 2 * dim per row
    assert all(
        len(v) == 6 for v in pq.read_table(io.BytesIO(_single_file("parquet", case)))["f16"].to_pylist()
    )


def test_parquet_newer_forms_behind_version(case: Case) -> None:
    data = _single_file("parquet", case, FormatOptions(milvus_version=(2, 6, 18)))
    schema, decoded = _read_parquet(case, data)
    assert_rows_equal(case, decoded)
    assert schema.field("fv").type == pa.list_(pa.float32(), 4)
    assert schema.field("bv").type == pa.list_(pa.uint8(), 2)
    assert schema.field("f16").type == pa.list_(pa.uint8(), 6)
    assert pa.types.is_struct(schema.field("sp").type)
    fields = [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("fv", DataType.FLOAT_VECTOR, dim=2),
        FieldSchema("sp", DataType.SPARSE_FLOAT_VECTOR),
    ]
    sparse = build_case(
        fields, {"id": [1, 2], "fv": [[1, 2], [3, 4]], "sp": [{5: 0.1, 2: 1.0}, {}]}, dynamic=False
    )
    with pytest.raises(FormatError, match="'sp'"):
        get_encoder("parquet", sparse.schema, FormatOptions(milvus_version=(2, 4, 2)))
    mid = _single_file("parquet", sparse, FormatOptions(milvus_version=(2, 5, 8)))
    mid_schema, mid_decoded = _read_parquet(sparse, mid)
    assert_rows_equal(sparse, mid_decoded)
    old_schema, old_decoded = _read_parquet(
        sparse, _single_file("parquet", sparse, FormatOptions(milvus_version=(2, 5, 7)))
    )
    assert_rows_equal(sparse, old_decoded)
    assert old_schema.field("sp").type == pa.string()
    assert pa.types.is_struct(mid_schema.field("sp").type)
    assert pa.types.is_list(mid_schema.field("fv").type)


def test_parquet_row_groups_and_compression(case: Case) -> None:
    options = FormatOptions(parquet_row_group_bytes=1, parquet_compression="zstd")
    data = _single_file("parquet", case, options)
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    assert meta.num_row_groups == case.rows
    assert meta.row_group(0).column(0).compression == "ZSTD"
    default_meta = pq.ParquetFile(io.BytesIO(_single_file("parquet", case))).metadata
    assert default_meta.num_row_groups == 1
    with pytest.raises(FormatError, match="parquet_compression"):
        get_encoder("parquet", case.schema, FormatOptions(parquet_compression="lzo"))
    plain = _single_file("parquet", case, FormatOptions(parquet_compression="none"))
    assert pq.ParquetFile(io.BytesIO(plain)).metadata.row_group(0).column(0).compression == "UNCOMPRESSED"


# ----------------------------------------------------------------------------------------
# JSON and JSON Lines
# ----------------------------------------------------------------------------------------


def _decode_rows(case: Case, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names = _column_names(case)
    for row in rows:
        assert list(row) == names
    return {name: [row[name] for row in rows] for name in names}


def test_json_round_trip(case: Case) -> None:
    data = _single_file("json", case)
    doc = json.loads(data.decode("utf-8"))
    assert list(doc) == ["rows"]
    assert data.startswith(b'{"rows":[')
    assert_rows_equal(case, _decode_rows(case, doc["rows"]))


def test_json_value_forms(case: Case) -> None:
    data = _single_file("json", case)
    text = data.decode("utf-8")
    rows = json.loads(text)["rows"]
    # Int64 stays an exact integer literal, never a float or string
    assert rows[3]["id"] == 2**63 - 1
    assert '"id":9223372036854775807' in text
    assert '"id":-9223372036854775808' in text
    # float32 shortest text
    assert '"f32":0.1,' in text
    assert "0.10000000149011612" not in text
    assert '"fv":[0.1,0.2,0.3,0.4]' in text
    # JSON field: object embedded, array / scalar texts as strings (spec §10 rule 7)
    assert rows[0]["js"] == {"a": 1, "b": [1, 2], "big": 9007199254740993}
    assert rows[1]["js"] == "[1, 2, 3]"
    assert rows[3]["js"] == '"just a string"'
    assert rows[4]["js"] == "12.5"
    assert isinstance(rows[2]["js"], dict)
    # vectors
    assert rows[0]["bv"] == [0, 255]
    assert rows[0]["i8v"] == [-128, 127, 0, 1]
    assert rows[0]["bf16"] == [1.0, -2.5, 0.15625]
    assert rows[0]["sp"] == {"3": 0.5, "1": 0.1}
    assert rows[1]["sp"] == {}
    # nulls are JSON null; $meta is an object
    assert rows[1]["n_text"] is None
    assert rows[0]["n_arr"] == [1, 2]
    assert rows[1]["n_arr"] is None
    assert rows[0][DYNAMIC_FIELD] == {"k": 1, "s": "x"}


def test_jsonl_round_trip(case: Case) -> None:
    data = _single_file("jsonl", case, FormatOptions(milvus_version=(2, 6, 6)))
    assert data.endswith(b"\n")
    assert b"\n\n" not in data
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == ""
    rows = [json.loads(line) for line in lines[:-1]]
    assert len(rows) == case.rows
    assert_rows_equal(case, _decode_rows(case, rows))
    # same rows as the JSON document
    assert rows == json.loads(_single_file("json", case))["rows"]


def test_jsonl_version_rules(case: Case) -> None:
    with pytest.raises(FormatError, match=r"format 'jsonl' needs Milvus 2\.6\.6"):
        get_encoder("jsonl", case.schema, FormatOptions(milvus_version=(2, 5)))
    with pytest.raises(FormatError, match=r"2\.6\.6"):
        get_encoder("jsonl", case.schema, FormatOptions(milvus_version=(2, 6, 5)))
    get_encoder("jsonl", case.schema, DEFAULT)  # no version: allowed (Zilliz Cloud)
    get_encoder("jsonl", case.schema, FormatOptions(milvus_version=(2, 6, 6)))


# ----------------------------------------------------------------------------------------
# NumPy
# ----------------------------------------------------------------------------------------


def test_numpy_round_trip_dtypes_shapes(np_case: Case) -> None:
    encoder = get_encoder("numpy", np_case.schema, DEFAULT)
    assert encoder.is_directory
    assert encoder.suffix == ""
    part = encoder.encode(np_case.table)
    assert part.rows == np_case.rows
    names = _column_names(np_case)
    assert [name for name, _ in part.files] == [f"{n}.npy" for n in names]
    arrays = {
        name[:-4]: np.load(io.BytesIO(data_bytes(data)), allow_pickle=False) for name, data in part.files
    }
    n = np_case.rows
    expected = {
        "id": ("int64", (n,)),
        "b": ("bool", (n,)),
        "i8": ("int8", (n,)),
        "i16": ("int16", (n,)),
        "i32": ("int32", (n,)),
        "f32": ("float32", (n,)),
        "f64": ("float64", (n,)),
        "fv": ("float32", (n, 4)),
        "bv": ("uint8", (n, 2)),
        "f16": ("uint8", (n, 6)),
        "bf16": ("uint8", (n, 6)),
        "i8v": ("int8", (n, 4)),
    }
    for name, (dtype, shape) in expected.items():
        assert arrays[name].dtype == np.dtype(dtype), name
        assert arrays[name].shape == shape, name
    longest = max(len(t) for t in np_case.values["text"])
    assert arrays["text"].dtype == np.dtype(f"<U{longest}")
    assert arrays["js"].dtype.kind == "U"
    assert arrays[DYNAMIC_FIELD].dtype.kind == "U"
    assert arrays["text"].shape == (n,)
    decoded: dict[str, list[Any]] = {}
    for name in names:
        values = arrays[name]
        field = np_case.schema.field(name) if name != DYNAMIC_FIELD else None
        if field is not None and field.dtype in (DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR):
            decoded[name] = [_decode_half(field, row) for row in values]
        elif field is not None and field.dtype is DataType.BINARY_VECTOR:
            decoded[name] = [row.tobytes() for row in values]
        else:
            decoded[name] = values.tolist()
    assert_rows_equal(np_case, decoded)
    for _, data in part.files:  # byte for byte what numpy.save writes
        whole = data_bytes(data)
        saved = io.BytesIO()
        np.save(saved, np.load(io.BytesIO(whole), allow_pickle=False), allow_pickle=False)
        assert saved.getvalue() == whole


@pytest.mark.parametrize("chunk_rows", [None, 1, 3])
def test_numpy_chunked_columns_are_written_uncopied_and_exact(np_case: Case, chunk_rows: int | None) -> None:
    """A table of several Arrow chunks gives the same files as one chunk; fixed-width columns
    go out as views of the Arrow buffers (no joined copy)."""
    table = np_case.table
    if chunk_rows is not None:
        batches = [
            b
            for start in range(0, table.num_rows, chunk_rows)
            for b in table.slice(start, chunk_rows).to_batches()
        ]
        table = pa.Table.from_batches(batches, schema=table.schema)
    encoder = get_encoder("numpy", np_case.schema, DEFAULT)
    whole = {name: data_bytes(data) for name, data in encoder.encode(np_case.table.combine_chunks()).files}
    part = encoder.encode(table)
    assert {name: data_bytes(data) for name, data in part.files} == whole
    assert part.nbytes == sum(len(b) for b in whole.values())
    pieces = dict(part.files)["fv.npy"]
    assert isinstance(pieces, tuple)
    assert len(pieces) == 1 + table.column("fv").num_chunks  # header, then one piece per chunk
    for piece, chunk in zip(pieces[1:], table.column("fv").chunks, strict=True):
        values = chunk.values.to_numpy(zero_copy_only=True)
        assert np.shares_memory(np.frombuffer(piece, dtype=np.uint8), values.view(np.uint8))


def test_numpy_zero_rows_gives_valid_empty_files(np_case: Case) -> None:
    encoder = get_encoder("numpy", np_case.schema, DEFAULT)
    part = encoder.encode(np_case.table.slice(0, 0))
    arrays = {
        name[:-4]: np.load(io.BytesIO(data_bytes(data)), allow_pickle=False) for name, data in part.files
    }
    assert arrays["fv"].shape == (0, 4)
    assert arrays["fv"].dtype == np.float32
    assert arrays["id"].shape == (0,)
    assert arrays["id"].dtype == np.int64


def test_numpy_empty_strings_and_estimate(np_case: Case) -> None:
    fields = [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("s", DataType.VARCHAR, max_length=10),
        FieldSchema("v", DataType.FLOAT_VECTOR, dim=2),
    ]
    empty = build_case(fields, {"id": [1, 2], "s": ["", ""], "v": [[1, 2], [3, 4]]}, dynamic=False)
    part = get_encoder("numpy", empty.schema, DEFAULT).encode(empty.table)
    s = np.load(io.BytesIO(data_bytes(dict(part.files)["s.npy"])), allow_pickle=False)
    assert s.dtype == np.dtype("<U1")
    assert s.tolist() == ["", ""]
    encoder = get_encoder("numpy", np_case.schema, DEFAULT)
    estimate = encoder.estimate_bytes_per_row(np_case.table)
    actual = encoder.encode(np_case.table).nbytes / np_case.rows
    assert estimate >= 4 * max(len(t) for t in np_case.values["text"])
    assert 0.5 * actual <= estimate <= 2 * actual


@pytest.mark.parametrize(
    ("field", "match"),
    [
        (FieldSchema("tags", DataType.ARRAY, element_type=DataType.INT32, max_capacity=4), "'tags'"),
        (FieldSchema("sparse", DataType.SPARSE_FLOAT_VECTOR), "'sparse'"),
        (FieldSchema("maybe", DataType.INT32, nullable=True), "'maybe' is nullable"),
    ],
)
def test_numpy_rejects(field: FieldSchema, match: str) -> None:
    from bulkwriter.schema import CollectionSchema

    schema = CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("v", DataType.FLOAT_VECTOR, dim=2),
            field,
        ]
    )
    with pytest.raises(FormatError, match=match):
        get_encoder("numpy", schema, DEFAULT)


def test_numpy_trailing_nul_rejected() -> None:
    fields = [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("s", DataType.VARCHAR, max_length=10),
        FieldSchema("v", DataType.FLOAT_VECTOR, dim=2),
    ]
    bad = build_case(fields, {"id": [1, 2], "s": ["ok", "bad\x00"], "v": [[1, 2], [3, 4]]}, dynamic=False)
    with pytest.raises(ValidationError) as info:
        get_encoder("numpy", bad.schema, DEFAULT).encode(bad.table)
    assert [(e.code, e.field, e.row) for e in info.value.errors] == [("numpy_trailing_nul", "s", 1)]


# ----------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------


def _read_csv(case: Case, data: bytes, token: str, sep: str = ",") -> dict[str, list[Any]]:
    text = data.decode("utf-8")
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True))
    header, body = records[0], records[1:]
    assert header == _column_names(case)
    assert all(len(r) == len(header) for r in body)
    decoded: dict[str, list[Any]] = {}
    for j, name in enumerate(header):
        field = case.schema.field(name) if name != DYNAMIC_FIELD else None
        cells = [r[j] for r in body]
        decoded[name] = [_parse_cell(field, c, token) for c in cells]
    return decoded


def _parse_cell(field: FieldSchema | None, cell: str, token: str) -> Any:
    if field is None:
        return cell
    if field.accepts_null and cell == token:
        return None
    dtype = field.dtype
    if dtype is DataType.BOOL:
        assert cell in ("true", "false")
        return cell == "true"
    if dtype.is_integer:
        assert cell.lstrip("-").isdigit()
        return int(cell)
    if dtype in (DataType.FLOAT, DataType.DOUBLE):
        return float(cell)
    if dtype in (DataType.VARCHAR, DataType.JSON):
        return cell
    if dtype is DataType.BINARY_VECTOR:
        return bytes(json.loads(cell))
    return json.loads(cell)


def test_csv_round_trip(case: Case) -> None:
    encoder = get_encoder("csv", case.schema, DEFAULT)
    assert encoder.import_options() == {"nullkey": "\\N"}
    data = _single_file("csv", case)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert_rows_equal(case, _read_csv(case, data, "\\N"))
    text = data.decode("utf-8")
    assert text.endswith("\r\n")
    assert text.startswith("id,b,i8,")
    assert ",\\N," in text  # null token written unquoted
    assert ",true," in text
    assert '"say ""hi"", ok"' in text  # RFC 4180 quote doubling
    assert ",0.1," in text  # float32 shortest
    assert "0.10000000149011612" not in text


def test_csv_separator_and_tokens(case: Case) -> None:
    options = FormatOptions(csv_separator=";", csv_null_token="NULL")
    encoder = get_encoder("csv", case.schema, options)
    assert encoder.import_options() == {"nullkey": "NULL", "sep": ";"}
    data = data_bytes(encoder.encode(case.table).files[0][1])
    assert_rows_equal(case, _read_csv(case, data, "NULL", sep=";"))
    assert '"semi;colon\ttab"' in data.decode("utf-8")


@pytest.mark.parametrize("sep", ["\t", "|", "-", "^", "e"])
def test_csv_other_separators(case: Case, sep: str) -> None:
    data = data_bytes(
        get_encoder("csv", case.schema, FormatOptions(csv_separator=sep)).encode(case.table).files[0][1]
    )
    assert_rows_equal(case, _read_csv(case, data, "\\N", sep=sep))


def test_csv_default_token_without_nullable(np_case: Case) -> None:
    fields = [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("s", DataType.VARCHAR, max_length=10),
        FieldSchema("v", DataType.FLOAT_VECTOR, dim=2),
    ]
    plain = build_case(fields, {"id": [1, 2], "s": ["", "a"], "v": [[1, 2], [3, 4]]}, dynamic=False)
    encoder = get_encoder("csv", plain.schema, DEFAULT)
    assert encoder.import_options() == {}
    data = data_bytes(encoder.encode(plain.table).files[0][1])
    assert data == b'id,s,v\r\n1,,"[1.0,2.0]"\r\n2,a,"[3.0,4.0]"\r\n'
    # default-value fields also get the distinct token
    assert get_encoder("csv", np_case.schema, DEFAULT).import_options() == {"nullkey": "\\N"}


def test_csv_null_token_collision() -> None:
    fields = [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("s", DataType.VARCHAR, max_length=10, nullable=True),
        FieldSchema("j", DataType.JSON, nullable=True),
        FieldSchema("plain", DataType.VARCHAR, max_length=10),
        FieldSchema("v", DataType.FLOAT_VECTOR, dim=2),
    ]
    values = {
        "id": [1, 2, 3],
        "s": ["ok", "\\N", None],
        "j": ['{"a": 1}', None, '"x"'],
        "plain": ["\\N", "", "z"],  # not nullable: Milvus never reads it as null
        "v": [[1, 2], [3, 4], [5, 6]],
    }
    bad = build_case(fields, values, dynamic=False)
    with pytest.raises(ValidationError) as info:
        get_encoder("csv", bad.schema, FormatOptions(milvus_version=(2, 5))).encode(bad.table)
    assert info.value.errors == (
        FieldError(
            "null_token_collision",
            "s",
            1,
            "a value other than the CSV null token '\\\\N' (it would import as null)",
            "'\\\\N'",
        ),
    )
    with pytest.raises(ValidationError) as info2:
        get_encoder("csv", bad.schema, FormatOptions(csv_null_token='"x"')).encode(bad.table)
    assert [(e.code, e.field, e.row) for e in info2.value.errors] == [("null_token_collision", "j", 2)]


def test_csv_crlf_in_varchar_rejected() -> None:
    fields = [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("s", DataType.VARCHAR, max_length=10),
        FieldSchema("v", DataType.FLOAT_VECTOR, dim=2),
    ]
    bad = build_case(fields, {"id": [1, 2], "s": ["a\nb", "a\r\nb"], "v": [[1, 2], [3, 4]]}, dynamic=False)
    with pytest.raises(ValidationError) as info:
        get_encoder("csv", bad.schema, DEFAULT).encode(bad.table)
    assert [(e.code, e.field, e.row) for e in info.value.errors] == [("csv_crlf", "s", 1)]


@pytest.mark.parametrize("sep", ["", ";;", '"', "\n"])
def test_csv_bad_separator(case: Case, sep: str) -> None:
    with pytest.raises(FormatError, match="csv_separator"):
        get_encoder("csv", case.schema, FormatOptions(csv_separator=sep))


# ----------------------------------------------------------------------------------------
# Versions
# ----------------------------------------------------------------------------------------


def _schema_with(field: FieldSchema) -> Any:
    from bulkwriter.schema import CollectionSchema

    return CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("v", DataType.FLOAT_VECTOR, dim=2),
            field,
        ]
    )


@pytest.mark.parametrize(
    ("name", "version", "match"),
    [
        ("csv", (2, 4), r"format 'csv' needs Milvus 2\.5"),
        ("csv", (2, 4, 99), r"format 'csv' needs Milvus 2\.5"),
        ("parquet", (2, 3, 3), r"format 'parquet' needs Milvus 2\.3\.4"),
    ],
)
def test_format_version_rules(name: str, version: tuple[int, ...], match: str) -> None:
    schema = _schema_with(FieldSchema("x", DataType.INT32))
    with pytest.raises(FormatError, match=match):
        get_encoder(name, schema, FormatOptions(milvus_version=version))


@pytest.mark.parametrize(
    ("field", "ok", "too_old"),
    [
        (FieldSchema("h", DataType.FLOAT16_VECTOR, dim=2), (2, 4, 1), (2, 3)),
        (FieldSchema("h", DataType.BFLOAT16_VECTOR, dim=2), (2, 4, 1), (2, 4)),
        (FieldSchema("h", DataType.SPARSE_FLOAT_VECTOR), (2, 4, 3), (2, 4, 2)),
        (FieldSchema("h", DataType.INT8_VECTOR, dim=2), (2, 6), (2, 5, 9)),
        (FieldSchema("h", DataType.INT32, nullable=True), (2, 5), (2, 4, 9)),
        (FieldSchema("h", DataType.INT32, default_value=3), (2, 5), (2, 4, 9)),
    ],
)
@pytest.mark.parametrize("fmt", ["parquet", "json"])
def test_type_version_rules(
    fmt: str, field: FieldSchema, ok: tuple[int, ...], too_old: tuple[int, ...]
) -> None:
    schema = _schema_with(field)
    get_encoder(fmt, schema, FormatOptions(milvus_version=ok))
    get_encoder(fmt, schema, DEFAULT)
    if fmt == "parquet" and too_old < (2, 3, 4):
        return  # parquet itself is refused first
    with pytest.raises(FormatError, match=r"field 'h'.*needs Milvus"):
        get_encoder(fmt, schema, FormatOptions(milvus_version=too_old))


# ----------------------------------------------------------------------------------------
# Every format: determinism, chunked input, empty input, alternate $meta form
# ----------------------------------------------------------------------------------------


@pytest.fixture(params=FORMAT_NAMES)
def fmt(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def _case_for(fmt: str, case: Case, np_case: Case) -> Case:
    return np_case if fmt == "numpy" else case


def _file_bytes(part: EncodedPart) -> list[tuple[str, bytes]]:
    return [(name, data_bytes(data)) for name, data in part.files]


def test_deterministic_and_chunk_independent(fmt: str, case: Case, np_case: Case) -> None:
    c = _case_for(fmt, case, np_case)
    encoder = get_encoder(fmt, c.schema, DEFAULT)
    first = _file_bytes(encoder.encode(c.table))
    again = _file_bytes(get_encoder(fmt, c.schema, DEFAULT).encode(c.table))
    assert first == again
    # chunked and sliced input gives the same bytes
    chunked = pa.concat_tables([c.table.slice(0, 2), c.table.slice(2, 1), c.table.slice(3)])
    assert chunked.column(0).num_chunks == 3
    assert _file_bytes(encoder.encode(chunked)) == first
    # a sliced chunk encodes the same as the equivalent fresh table
    tail = c.table.slice(2)
    fresh = pa.Table.from_pylist(tail.to_pylist(), schema=c.table.schema)
    assert _file_bytes(encoder.encode(tail)) == _file_bytes(encoder.encode(fresh))


def test_empty_table(fmt: str, case: Case, np_case: Case) -> None:
    c = _case_for(fmt, case, np_case)
    part = get_encoder(fmt, c.schema, DEFAULT).encode(c.table.slice(0, 0))
    assert part.rows == 0
    if fmt == "json":
        assert data_bytes(part.files[0][1]) == b'{"rows":[]}'
    elif fmt == "jsonl":
        assert data_bytes(part.files[0][1]) == b""
    elif fmt == "csv":
        assert data_bytes(part.files[0][1]).count(b"\r\n") == 1
    elif fmt == "parquet":
        assert pq.read_table(io.BytesIO(data_bytes(part.files[0][1]))).num_rows == 0
    else:
        assert all(np.load(io.BytesIO(d), allow_pickle=False).shape[0] == 0 for _, d in _file_bytes(part))


def test_meta_spread_switch(case: Case) -> None:
    from bulkwriter.formats._rows import build_rows

    rows = build_rows(case.schema, case.table, meta_object=False)
    assert DYNAMIC_FIELD not in rows[0]
    assert rows[0]["k"] == 1
    assert rows[0]["s"] == "x"
    assert "k" not in rows[1]


def test_json_array_double_refused_for_milvus_2_3() -> None:
    from bulkwriter import CollectionSchema, DataType, FieldSchema, FormatError
    from bulkwriter.formats import get_encoder
    from bulkwriter.formats.base import FormatOptions

    schema = CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True),
            FieldSchema("v", DataType.FLOAT_VECTOR, dim=2),
            FieldSchema("a", DataType.ARRAY, element_type=DataType.DOUBLE, max_capacity=2),
        ]
    )
    with pytest.raises(FormatError, match="Array<Double>"):
        get_encoder("json", schema, FormatOptions(milvus_version=(2, 3, 5)))
    get_encoder("json", schema, FormatOptions(milvus_version=(2, 4)))
    get_encoder("parquet", schema, FormatOptions(milvus_version=(2, 3, 5)))
