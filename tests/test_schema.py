"""Collection schemas: building, loading (RESTful v2 JSON, pymilvus), rejecting impossible ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bulkwriter
from bulkwriter import CollectionSchema, DataType, FieldSchema, SchemaError
from bulkwriter.schema import as_schema, canonical_schema, schema_from_pymilvus, schema_to_pymilvus

DATA = Path(bulkwriter.__file__).parent / "data"


def pk(**kw: object) -> FieldSchema:
    return FieldSchema("id", DataType.INT64, is_primary=True, **kw)  # type: ignore[arg-type]


def vec(dim: int = 4) -> FieldSchema:
    return FieldSchema("vec", DataType.FLOAT_VECTOR, dim=dim)


def test_debian_schema_file_loads() -> None:
    schema = as_schema(DATA / "debian_packages_schema.json")
    assert [f.name for f in schema.input_fields][:3] == ["id", "package", "version"]
    assert schema.field("homepage").nullable
    tags = schema.field("tags")
    assert tags.dtype is DataType.ARRAY
    assert tags.element_type is DataType.VARCHAR
    assert (tags.max_capacity, tags.max_length) == (128, 64)
    assert schema.field("embedding").dim == 384
    assert not schema.auto_id
    assert not schema.enable_dynamic_field


def test_whole_create_collection_body_and_round_trip() -> None:
    body = {
        "collectionName": "movies",
        "schema": {
            "autoId": True,
            "enabledDynamicField": True,
            "fields": [
                {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": "8"}},
                {
                    "fieldName": "genre",
                    "dataType": "VarChar",
                    "isPartitionKey": True,
                    "elementTypeParams": {"max_length": 32},
                },
                {"fieldName": "rating", "dataType": "Float", "nullable": True, "defaultValue": 1.5},
            ],
        },
    }
    schema = as_schema(body)
    assert schema.name == "movies"
    assert schema.auto_id
    assert schema.enable_dynamic_field
    assert schema.field("vec").dim == 8
    assert [f.name for f in schema.input_fields] == ["vec", "genre", "rating"]
    again = as_schema(schema.to_dict())
    assert again == schema


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([vec()], "exactly one primary key"),
        ([pk(), FieldSchema("id2", DataType.INT64, is_primary=True), vec()], "exactly one primary key"),
        ([pk(), FieldSchema("s", DataType.VARCHAR, max_length=3)], "at least one vector"),
        ([pk(), vec(), vec()], "appears twice"),
    ],
)
def test_impossible_collections(fields: list[FieldSchema], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        CollectionSchema(fields)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "v", "dtype": DataType.FLOAT_VECTOR}, "needs dim"),
        ({"name": "b", "dtype": DataType.BINARY_VECTOR, "dim": 12}, "multiple of 8"),
        ({"name": "s", "dtype": DataType.VARCHAR}, "max_length"),
        ({"name": "s", "dtype": DataType.VARCHAR, "max_length": 70000}, "above the limit"),
        ({"name": "a", "dtype": DataType.ARRAY, "max_capacity": 3}, "element_type"),
        ({"name": "a", "dtype": DataType.ARRAY, "element_type": DataType.INT64}, "max_capacity"),
        (
            {"name": "a", "dtype": DataType.ARRAY, "element_type": DataType.JSON, "max_capacity": 3},
            "cannot be",
        ),
        ({"name": "p", "dtype": DataType.FLOAT, "is_primary": True}, "Int64 or VarChar"),
        ({"name": "p", "dtype": DataType.INT64, "is_primary": True, "nullable": True}, "cannot be nullable"),
        ({"name": "x", "dtype": DataType.INT64, "auto_id": True}, "only for the primary key"),
        ({"name": "v", "dtype": DataType.FLOAT_VECTOR, "dim": 4, "nullable": True}, "cannot be nullable"),
        ({"name": "j", "dtype": DataType.JSON, "default_value": "{}"}, "cannot have a default"),
        ({"name": "i", "dtype": DataType.INT8, "default_value": 300}, "does not fit"),
        ({"name": "i", "dtype": DataType.INT8, "default_value": True}, "does not fit"),
        ({"name": "k", "dtype": DataType.FLOAT, "is_partition_key": True}, "partition key"),
        ({"name": "../etc", "dtype": DataType.BOOL}, "not a Milvus identifier"),
        ({"name": "a/b", "dtype": DataType.BOOL}, "not a Milvus identifier"),
        ({"name": "", "dtype": DataType.BOOL}, "non-empty"),
        ({"name": "x" * 256, "dtype": DataType.BOOL}, "longer than"),
        ({"name": "x", "dtype": "NoSuchType"}, "unknown Milvus data type"),
        ({"name": "v", "dtype": DataType.FLOAT_VECTOR, "dim": 0}, "positive integer"),
    ],
)
def test_impossible_fields(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        FieldSchema(**kwargs)  # type: ignore[arg-type]


def test_schema_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="needs dim"):
        FieldSchema("v", DataType.FLOAT_VECTOR)


def test_bad_schema_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{not json")
    with pytest.raises(SchemaError, match="not valid JSON"):
        as_schema(path)
    with pytest.raises(SchemaError, match="cannot read"):
        as_schema(tmp_path / "missing.json")
    path.write_text(json.dumps({"fields": "nope"}))
    with pytest.raises(SchemaError, match="'fields' list"):
        as_schema(path)
    with pytest.raises(SchemaError, match="must be a"):
        as_schema(42)


def test_type_names() -> None:
    assert DataType.from_name("FLOAT_VECTOR") is DataType.FLOAT_VECTOR
    assert DataType.from_name(101) is DataType.FLOAT_VECTOR
    assert DataType.from_name("bfloat16vector") is DataType.BFLOAT16_VECTOR
    assert DataType.INT8_VECTOR.code == 105


def test_pymilvus_schema_round_trip() -> None:
    pymilvus = pytest.importorskip("pymilvus")
    theirs = pymilvus.CollectionSchema(
        [
            pymilvus.FieldSchema("pk", pymilvus.DataType.VARCHAR, is_primary=True, max_length=64),
            pymilvus.FieldSchema("v", pymilvus.DataType.FLOAT16_VECTOR, dim=8),
            pymilvus.FieldSchema(
                "tags", pymilvus.DataType.ARRAY, element_type=pymilvus.DataType.INT32, max_capacity=4
            ),
            pymilvus.FieldSchema("n", pymilvus.DataType.INT16, nullable=True, default_value=7),
            pymilvus.FieldSchema("s", pymilvus.DataType.SPARSE_FLOAT_VECTOR),
        ],
        enable_dynamic_field=True,
    )
    ours = as_schema(theirs)
    assert ours.primary_field.name == "pk"
    assert ours.field("v").dtype is DataType.FLOAT16_VECTOR
    assert ours.field("tags").element_type is DataType.INT32
    assert ours.field("n").default_value == 7
    assert ours.enable_dynamic_field
    back = schema_from_pymilvus(schema_to_pymilvus(ours))
    assert back == ours


def test_canonical_schema_types() -> None:
    schema = CollectionSchema(
        [
            pk(auto_id=True),
            FieldSchema("b", DataType.BINARY_VECTOR, dim=16),
            FieldSchema("h", DataType.FLOAT16_VECTOR, dim=4),
            FieldSchema("s", DataType.SPARSE_FLOAT_VECTOR),
        ],
        enable_dynamic_field=True,
    )
    arrow = canonical_schema(schema)
    assert arrow.names == ["b", "h", "s", "$meta"]
    assert str(arrow.field("b").type) == "fixed_size_list<item: uint8>[2]"
    assert str(arrow.field("h").type) == "fixed_size_list<item: uint8>[8]"
