"""Build a CollectionSchema from Milvus's RESTful v2 JSON or a pymilvus schema, and back.

The JSON form is the one of Milvus's RESTful v2 "Create Collection" request
(``POST /v2/vectordb/collections/create``): a ``schema`` object with ``autoId``,
``enabledDynamicField`` and ``fields`` (``fieldName``, ``dataType``, ``isPrimary``,
``elementDataType``, ``elementTypeParams`` with ``dim``/``max_length``/``max_capacity``,
``nullable``, ``defaultValue``, ``isPartitionKey``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from bulkwriter._deps import import_optional
from bulkwriter.errors import SchemaError
from bulkwriter.schema.collection import CollectionSchema
from bulkwriter.schema.field import FieldSchema
from bulkwriter.schema.types import DataType

__all__ = ["SchemaLike", "as_schema", "schema_from_dict", "schema_from_pymilvus", "schema_to_pymilvus"]

#: What every ``schema=`` argument accepts.
SchemaLike = Any  # CollectionSchema | Mapping | str | os.PathLike | pymilvus.CollectionSchema


def as_schema(schema: SchemaLike) -> CollectionSchema:
    """Turn any accepted schema form into a :class:`CollectionSchema`.

    Parameters
    ----------
    schema : CollectionSchema, dict, str or path-like, or pymilvus.CollectionSchema
        A CollectionSchema is returned as is; a dict is read as RESTful v2 JSON (the
        ``schema`` object or a whole create-collection body); a str or path names a JSON file
        of that form; a pymilvus ``CollectionSchema`` is converted.

    Raises
    ------
    SchemaError
        The schema is impossible, malformed or of an unknown kind.
    """
    if isinstance(schema, CollectionSchema):
        return schema
    if isinstance(schema, Mapping):
        return schema_from_dict(schema)
    if isinstance(schema, (str, os.PathLike)):
        try:
            with open(schema, encoding="utf-8") as fh:
                data = json.load(fh)
        except OSError as exc:
            raise SchemaError(f"cannot read schema file {os.fspath(schema)!r}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise SchemaError(f"schema file {os.fspath(schema)!r} is not valid JSON: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise SchemaError(
                f"schema file {os.fspath(schema)!r} is not UTF-8 text (byte {exc.start}: {exc.reason})"
            ) from None
        if not isinstance(data, Mapping):
            raise SchemaError(f"schema file {os.fspath(schema)!r} must hold a JSON object")
        return schema_from_dict(data)
    if type(schema).__module__.startswith("pymilvus"):
        return schema_from_pymilvus(schema)
    raise SchemaError(
        "schema must be a bulkwriter.CollectionSchema, a RESTful v2 schema dict or JSON file, "
        f"or a pymilvus CollectionSchema; got {type(schema).__name__}"
    )


def schema_from_dict(data: Mapping[str, Any]) -> CollectionSchema:
    """Read Milvus's RESTful v2 schema JSON (already parsed).

    Parameters
    ----------
    data : mapping
        Either the ``schema`` object (with ``fields``) or a whole create-collection request
        body (``collectionName`` plus ``schema``).

    Raises
    ------
    SchemaError
        A key is missing or of the wrong type, or the schema is impossible.
    """
    name = str(data.get("collectionName", ""))
    body = data.get("schema", data)
    if not isinstance(body, Mapping) or not isinstance(body.get("fields"), list):
        raise SchemaError("a RESTful v2 schema needs a 'fields' list (or a 'schema' object holding one)")
    auto_id = body.get("autoId", data.get("autoId"))
    dynamic = body.get(
        "enabledDynamicField", body.get("enableDynamicField", data.get("enableDynamicField", False))
    )
    fields = [_field_from_dict(f, i) for i, f in enumerate(body["fields"])]
    if auto_id is not None:
        auto_id = _as_bool(auto_id, "autoId")
    return CollectionSchema(
        fields,
        auto_id=auto_id,
        enable_dynamic_field=_as_bool(dynamic, "enabledDynamicField"),
        description=str(body.get("description", data.get("description", ""))),
        name=name,
        function_output_fields=[
            str(n) for f in body.get("functions", []) for n in f.get("outputFieldNames", [])
        ],
    )


def _field_from_dict(item: object, index: int) -> FieldSchema:
    if not isinstance(item, Mapping):
        raise SchemaError(f"fields[{index}] must be an object, got {type(item).__name__}")
    name = item.get("fieldName", item.get("name"))
    dtype = item.get("dataType", item.get("type"))
    if name is None or dtype is None:
        raise SchemaError(f"fields[{index}] needs 'fieldName' and 'dataType'")
    raw_params = item.get("elementTypeParams") or item.get("params") or {}
    if not isinstance(raw_params, Mapping):
        raise SchemaError(
            f"field '{name}': elementTypeParams must be an object such as {{\"dim\": 128}}, "
            f"got {type(raw_params).__name__} {raw_params!r:.60}"
        )
    params = dict(raw_params)
    try:
        dtype = DataType.from_name(dtype)
        element = item.get("elementDataType", item.get("elementType"))
        element = DataType.from_name(element) if element not in (None, "") else None
    except ValueError as exc:
        raise SchemaError(f"field '{name}': {exc}") from None
    unknown = set(params) - {"max_length", "dim", "max_capacity"}
    if unknown - {"enable_analyzer", "analyzer_params", "enable_match", "mmap_enabled"}:
        raise SchemaError(f"field '{name}': unknown elementTypeParams {sorted(unknown)}")
    return FieldSchema(
        name=name,
        dtype=dtype,
        is_primary=_as_bool(item.get("isPrimary", item.get("is_primary", False)), "isPrimary"),
        auto_id=_as_bool(item.get("autoId", False), "autoId"),
        max_length=params.get("max_length"),
        dim=params.get("dim"),
        element_type=element,
        max_capacity=params.get("max_capacity"),
        nullable=_as_bool(item.get("nullable", False), "nullable"),
        default_value=item.get("defaultValue"),
        is_partition_key=_as_bool(item.get("isPartitionKey", False), "isPartitionKey"),
        description=str(item.get("description", "")),
    )


def _as_bool(value: object, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise SchemaError(f"'{key}' must be true or false, got {value!r}")


def schema_from_pymilvus(schema: Any) -> CollectionSchema:
    """Convert a ``pymilvus.CollectionSchema``, taken as is.

    Parameters
    ----------
    schema : pymilvus.CollectionSchema
        Its fields' ``dtype``, ``params`` (dim, max_length, max_capacity), ``element_type``,
        ``is_primary``, ``auto_id``, ``nullable``, ``default_value``, ``is_partition_key``
        and the schema's functions (their output fields are never written).

    Raises
    ------
    SchemaError
        The schema holds a type bulkwriter does not know, or is impossible.
    """
    fields = []
    for f in schema.fields:
        params = dict(getattr(f, "params", {}) or {})
        element = getattr(f, "element_type", None)
        try:
            dtype = DataType.from_name(int(f.dtype))
            element_type = DataType.from_name(int(element)) if element not in (None, 0) else None
        except (ValueError, TypeError) as exc:
            raise SchemaError(f"field '{f.name}': {exc}") from None
        fields.append(
            FieldSchema(
                name=f.name,
                dtype=dtype,
                is_primary=bool(f.is_primary),
                auto_id=bool(getattr(f, "auto_id", False)) and bool(f.is_primary),
                max_length=params.get("max_length"),
                dim=params.get("dim"),
                element_type=element_type,
                max_capacity=params.get("max_capacity"),
                nullable=bool(getattr(f, "nullable", False)),
                default_value=_pymilvus_default(getattr(f, "default_value", None)),
                is_partition_key=bool(getattr(f, "is_partition_key", False)),
                description=str(getattr(f, "description", "") or ""),
            )
        )
    outputs = [
        n for fn in getattr(schema, "functions", None) or [] for n in getattr(fn, "output_field_names", [])
    ]
    return CollectionSchema(
        fields,
        auto_id=bool(getattr(schema, "auto_id", False)) or None,
        enable_dynamic_field=bool(getattr(schema, "enable_dynamic_field", False)),
        description=str(getattr(schema, "description", "") or ""),
        function_output_fields=outputs,
    )


def _pymilvus_default(value: Any) -> Any:
    """Unwrap pymilvus's protobuf ``ValueField`` default into a Python value."""
    if value is None:
        return None
    which = getattr(value, "WhichOneof", None)
    if which is None:
        return value
    kind = which("data")
    return None if kind is None else getattr(value, kind)


def schema_to_pymilvus(schema: CollectionSchema) -> Any:
    """Build the equivalent ``pymilvus.CollectionSchema`` (needs the ``pymilvus`` extra).

    Raises
    ------
    MissingDependencyError
        pymilvus is not installed.
    """
    pymilvus = import_optional("pymilvus", extra="milvus")
    fields = []
    for f in schema.fields:
        kwargs: dict[str, Any] = {}
        for attr in ("max_length", "dim", "max_capacity"):
            if getattr(f, attr) is not None:
                kwargs[attr] = getattr(f, attr)
        if f.element_type is not None:
            kwargs["element_type"] = getattr(pymilvus.DataType, f.element_type.name)
        if f.nullable:
            kwargs["nullable"] = True
        if f.default_value is not None:
            kwargs["default_value"] = f.default_value
        if f.is_partition_key:
            kwargs["is_partition_key"] = True
        fields.append(
            pymilvus.FieldSchema(
                f.name,
                getattr(pymilvus.DataType, f.dtype.name),
                is_primary=f.is_primary,
                auto_id=f.auto_id if f.is_primary else False,
                description=f.description,
                **kwargs,
            )
        )
    return pymilvus.CollectionSchema(
        fields, description=schema.description, enable_dynamic_field=schema.enable_dynamic_field
    )
