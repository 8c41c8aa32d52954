"""Milvus and Zilliz Cloud import jobs: submit the files a write produced, watch, verify.

Milvus 2.3 takes imports over gRPC (pymilvus ``utility.do_bulk_insert``: one file, or one
NumPy file set, per task); Milvus 2.4+ and Zilliz Cloud over REST v2
(``/v2/vectordb/jobs/import/create``: up to 1,024 entries per job). See
``engines-and-targets.md`` §5 and the Milvus "Import data" guide. pymilvus (extra
``bulkwriter[milvus]``) is imported only when a gRPC call is made.
"""

from __future__ import annotations

from bulkwriter.milvus.collections import create_collection, fetch_schema
from bulkwriter.milvus.importer import ImportSource, describe_job, import_files, list_jobs, resolve_source
from bulkwriter.milvus.jobs import FileProgress, ImportJob, ImportReport, JobState

__all__ = [
    "FileProgress",
    "ImportJob",
    "ImportReport",
    "ImportSource",
    "JobState",
    "create_collection",
    "describe_job",
    "fetch_schema",
    "import_files",
    "list_jobs",
    "resolve_source",
]
