"""A live collection's schema, and a collection made from a schema file (pymilvus, gRPC).

The Zilliz "Import data" guide writes with the schema of the live collection
(``collection.schema``); :func:`fetch_schema` does that and returns our
:class:`~bulkwriter.CollectionSchema`. :func:`create_collection` goes the other way, so a
schema JSON becomes a collection ready for an import.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from bulkwriter.errors import MilvusRequestError
from bulkwriter.milvus.grpc import GrpcImportClient
from bulkwriter.schema import CollectionSchema, DataType, as_schema
from bulkwriter.schema.load import schema_to_pymilvus

__all__ = ["create_collection", "fetch_schema"]

#: The index :func:`create_collection` builds on each vector field, by type: one a Milvus
#: 2.3 server builds for any dim without tuning (Milvus "Index" docs: FLAT, BIN_FLAT,
#: SPARSE_INVERTED_INDEX).
_INDEX: dict[DataType, dict[str, Any]] = {
    DataType.BINARY_VECTOR: {"index_type": "BIN_FLAT", "metric_type": "HAMMING", "params": {}},
    DataType.SPARSE_FLOAT_VECTOR: {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "IP", "params": {}},
}
_FLOAT_INDEX: dict[str, Any] = {"index_type": "FLAT", "metric_type": "L2", "params": {}}


def fetch_schema(
    uri: str, collection: str, *, token: str | None = None, db_name: str | None = None
) -> CollectionSchema:
    """The schema of a live collection.

    Parameters
    ----------
    uri : str
        The server, e.g. ``http://127.0.0.1:19530``.
    collection : str
        The collection's name.
    token, db_name : str, optional
        Credentials (``"user:password"`` or an API key) and database.

    Returns
    -------
    CollectionSchema
        Fields, types, dims, lengths, capacities, primary key, auto_id, partition key,
        nullable and default values and the dynamic field, as the server describes them;
        ``name`` is the collection's.

    Raises
    ------
    MilvusRequestError
        The server is unreachable, refuses the credentials, or has no such collection.
    MissingDependencyError
        pymilvus is not installed (``bulkwriter[milvus]``).
    """
    with GrpcImportClient(uri, token=token, db_name=db_name) as client:
        if not client.has_collection(collection):
            raise MilvusRequestError(
                f"collection {collection!r} does not exist at {uri}", endpoint="HasCollection"
            )
        pymilvus = client.pymilvus
        described = client.call(
            "DescribeCollection", lambda: pymilvus.Collection(collection, using=client.alias).schema
        )
    schema = as_schema(described)
    return CollectionSchema(
        list(schema.fields), enable_dynamic_field=schema.enable_dynamic_field, name=collection
    )


def create_collection(
    uri: str,
    schema: Any,
    *,
    collection: str | None = None,
    token: str | None = None,
    db_name: str | None = None,
    index: bool = True,
    exist_ok: bool = False,
) -> str:
    """Create a collection from a schema (ours, a pymilvus one, or RESTful v2 JSON / a file).

    Parameters
    ----------
    uri : str
        The server.
    schema : CollectionSchema, dict, str or os.PathLike
        Anything :func:`bulkwriter.schema.as_schema` takes.
    collection : str, optional
        The name; default the schema's own ``name``.
    token, db_name : str, optional
        Credentials and database.
    index : bool, default True
        Build an index on every vector field (FLAT / BIN_FLAT / SPARSE_INVERTED_INDEX), so the
        collection can be loaded and searched once the import completed.
    exist_ok : bool, default False
        Return quietly when the collection exists already (its schema is not compared).

    Returns
    -------
    str
        The collection's name.

    Raises
    ------
    ValueError
        No name was given and the schema has none.
    MilvusRequestError
        The collection exists (and ``exist_ok`` is false), or the server refused the schema.
    """
    ours = as_schema(schema)
    name = collection or ours.name
    if not name:
        raise ValueError("the schema has no name: pass collection=")
    with GrpcImportClient(uri, token=token, db_name=db_name) as client:
        if client.has_collection(name):
            if exist_ok:
                return name
            raise MilvusRequestError(
                f"collection {name!r} already exists at {uri}", endpoint="CreateCollection"
            )
        pymilvus = client.pymilvus
        created = client.call(
            "CreateCollection",
            lambda: pymilvus.Collection(name, schema_to_pymilvus(ours), using=client.alias),
        )
        if index:
            for f in ours.fields:
                if f.dtype.is_vector:
                    client.call(
                        "CreateIndex",
                        partial(created.create_index, f.name, _INDEX.get(f.dtype, _FLOAT_INDEX)),
                    )
    return name
