"""The import side of the command line: ``bulkwriter import`` and ``convert --import-into``.

Connection settings come from flags or the environment: ``--uri`` / ``MILVUS_URI``,
``--token`` / ``MILVUS_TOKEN`` (``user:password`` or an API key), ``--db-name`` /
``MILVUS_DB_NAME``. Zilliz Cloud adds ``--cluster-id`` / ``ZILLIZ_CLUSTER_ID`` (or
``--project-id`` and ``--region-id``) with ``--uri https://api.cloud.zilliz.com`` and the API
key as the token; the bucket keys Zilliz reads the files with come only from the environment,
``ZILLIZ_ACCESS_KEY``, ``ZILLIZ_SECRET_KEY`` and ``ZILLIZ_SESSION_TOKEN`` (a flag would show
them to every ``ps``). No token or key is ever printed, whatever fails.

Exit status (on top of :mod:`bulkwriter.cli`'s): 0 every row imported; 1 a job failed (the
server's reason on stderr) or the server refused a request; 4 the jobs completed but the rows
imported differ from the rows written.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
from typing import Any

from bulkwriter.errors import BulkWriterError, ImportVerificationError, SchemaError
from bulkwriter.result import WriteResult
from bulkwriter.schema import CollectionSchema, as_schema

__all__ = [
    "EXIT_ROW_COUNT_MISMATCH",
    "add_connection_options",
    "add_import_command",
    "add_schema_server_options",
    "run_import",
    "schema_of",
]

#: Exit status when every job completed but the imported rows differ from the rows written.
EXIT_ROW_COUNT_MISMATCH = 4


def add_connection_options(parser: argparse.ArgumentParser, *, uri_flag: str = "--uri") -> None:
    """Add the server, collection and credential options to ``parser``."""
    parser.add_argument(
        uri_flag,
        dest="import_uri",
        default=None,
        metavar="URI",
        help="Milvus server, e.g. http://127.0.0.1:19530 (default: $MILVUS_URI)",
    )
    add_schema_server_options(parser, collection_help="the collection to import into (must exist)")
    parser.add_argument("--partition", default=None, metavar="P", help="partition to import into")
    parser.add_argument(
        "--api",
        choices=("auto", "grpc", "rest"),
        default="auto",
        help="import API (default: by server version)",
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="submit the jobs and return without watching them"
    )
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="seconds to wait for the jobs"
    )
    parser.add_argument(
        "--cluster-id",
        default=None,
        metavar="ID",
        help="Zilliz Cloud cluster (default: $ZILLIZ_CLUSTER_ID); the bucket keys come from "
        "$ZILLIZ_ACCESS_KEY, $ZILLIZ_SECRET_KEY (and $ZILLIZ_SESSION_TOKEN)",
    )
    parser.add_argument("--project-id", default=None, metavar="ID", help="Zilliz Cloud project database")
    parser.add_argument("--region-id", default=None, metavar="ID", help="Zilliz Cloud region of the project")


def add_schema_server_options(
    parser: argparse.ArgumentParser, *, collection_help: str = "the collection --schema-from reads"
) -> None:
    """``--collection``, ``--token`` and ``--db-name``: which collection, and how to reach it."""
    parser.add_argument("--collection", metavar="NAME", help=collection_help)
    parser.add_argument(
        "--token", default=None, metavar="TOKEN", help="user:password or API key (default: $MILVUS_TOKEN)"
    )
    parser.add_argument("--db-name", default=None, metavar="DB", help="database (default: $MILVUS_DB_NAME)")


def schema_of(args: argparse.Namespace) -> CollectionSchema:
    """The schema ``--schema`` / ``--schema-from`` name: a file, or a live collection's.

    ``--schema milvus://HOST:PORT/COLLECTION`` (or ``milvus://HOST:PORT/DB/COLLECTION``) and
    ``--schema-from URI --collection NAME`` read the schema of a live collection over gRPC
    (:func:`bulkwriter.milvus.fetch_schema`), with ``--token`` / ``$MILVUS_TOKEN``; anything
    else is a schema file (:func:`bulkwriter.schema.as_schema`).

    Raises
    ------
    SchemaError
        A ``milvus://`` address without a collection, or ``--schema-from`` without
        ``--collection``.
    MilvusRequestError
        The server refused, or has no such collection.
    """
    token = args.token or os.environ.get("MILVUS_TOKEN") or None
    db_name = args.db_name or os.environ.get("MILVUS_DB_NAME") or None
    source = getattr(args, "schema_from", None)
    if source:
        if not args.collection:
            raise SchemaError("--schema-from needs --collection NAME: the collection whose schema to read")
        from bulkwriter.milvus import fetch_schema

        return fetch_schema(source, args.collection, token=token, db_name=db_name)
    text = str(args.schema)
    if not text.startswith("milvus://"):
        return as_schema(args.schema)
    parts = urllib.parse.urlsplit(text)
    names = [p for p in parts.path.split("/") if p]
    if not parts.hostname or parts.username or not 1 <= len(names) <= 2:
        raise SchemaError(
            f"--schema {text!r}: expected milvus://HOST:PORT/COLLECTION or milvus://HOST:PORT/DB/COLLECTION "
            "(credentials go in --token or $MILVUS_TOKEN)"
        )
    from bulkwriter.milvus import fetch_schema

    if len(names) == 2:
        db_name = names[0]
    return fetch_schema(f"http://{parts.netloc}", names[-1], token=token, db_name=db_name)


def add_import_command(commands: Any) -> None:
    """Add ``bulkwriter import PATH --uri URI --collection NAME ...`` to the subcommands."""
    parser = commands.add_parser(
        "import",
        help="import a committed output into a Milvus collection and verify the row count",
        description="Submit every file of the output at PATH (read from its manifest) as Milvus import "
        "jobs, wait for them, and compare the rows imported with the rows written. Exit status: 0 all rows "
        "imported, 1 a job failed, 2 bad usage, 4 row count mismatch.",
    )
    parser.add_argument("path", metavar="PATH", help="an output folder committed by bulkwriter")
    add_connection_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=_cmd_import)


def run_import(args: argparse.Namespace, source: WriteResult | str) -> int:
    """Import ``source`` with the connection options in ``args``; print the summary.

    Returns
    -------
    int
        0; 2 for missing or contradictory settings (no server, no collection, a Zilliz
        project without its region); :data:`EXIT_ROW_COUNT_MISMATCH`. Other failures raise
        (a ``BulkWriterError``, which :func:`bulkwriter.cli.main` turns into exit status 1).
    """
    from bulkwriter.milvus import import_files

    uri = args.import_uri or os.environ.get("MILVUS_URI")
    if not uri:
        print(
            "bulkwriter: error: no server: give --uri (or --import-into) or set MILVUS_URI", file=sys.stderr
        )
        return 2
    if not args.collection:
        print("bulkwriter: error: --collection is needed to import", file=sys.stderr)
        return 2
    try:
        report = import_files(
            source,
            uri=uri,
            collection=args.collection,
            token=args.token or os.environ.get("MILVUS_TOKEN") or None,
            db_name=args.db_name or os.environ.get("MILVUS_DB_NAME") or None,
            partition=args.partition,
            api=args.api,
            wait=not args.no_wait,
            timeout=args.timeout,
            progress=False if getattr(args, "no_progress", False) else None,
            cluster_id=args.cluster_id or os.environ.get("ZILLIZ_CLUSTER_ID") or None,
            project_id=args.project_id,
            region_id=args.region_id,
            access_key=os.environ.get("ZILLIZ_ACCESS_KEY") or None,
            secret_key=os.environ.get("ZILLIZ_SECRET_KEY") or None,
            session_token=os.environ.get("ZILLIZ_SESSION_TOKEN") or None,
        )
    except ImportVerificationError as exc:
        print(f"bulkwriter: error: {exc}", file=sys.stderr)
        return EXIT_ROW_COUNT_MISMATCH
    except (TypeError, ValueError) as exc:
        if isinstance(exc, BulkWriterError):
            raise
        print(f"bulkwriter: error: {exc}", file=sys.stderr)  # bad settings: usage
        return 2
    print(report.summary())
    for job in report.jobs:
        print(f"  job {job.job_id}: {job.server_state} ({job.progress}%), {len(job.files)} file(s)")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    return run_import(args, args.path)
