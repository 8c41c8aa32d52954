"""How ``import_files`` judges the rows: the jobs' counts, and the collection's growth.

A scripted client (the ``client=`` seam) reports the jobs' rows and the row counts before
and after, so every combination is tried without a server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from bulkwriter.errors import ImportVerificationError
from bulkwriter.milvus import ImportJob, ImportReport, import_files
from bulkwriter.milvus.jobs import Api


class ScriptedClient:
    """One job per entry, completed at once with ``rows_per_job``; row counts from a list."""

    api: Api = "grpc"

    def __init__(self, rows_per_job: int | None, counts: Sequence[int]) -> None:
        self.rows_per_job = rows_per_job
        self.counts = list(counts)
        self.created: list[tuple[tuple[str, ...], ...]] = []

    def create(
        self,
        collection: str,
        files: Sequence[Sequence[str]],
        *,
        partition: str | None = None,
        options: Mapping[str, str] | None = None,
    ) -> str:
        self.created.append(tuple(tuple(e) for e in files))
        return str(len(self.created))

    def describe(
        self, job_id: str, *, files: Sequence[Sequence[str]] = (), submitted_at: float | None = None
    ) -> ImportJob:
        return ImportJob(
            job_id=job_id,
            api="grpc",
            files=tuple(tuple(e) for e in files),
            state="completed",
            server_state="Completed",
            progress=100,
            imported_rows=self.rows_per_job,
        )

    def list_jobs(self, collection: str | None = None) -> list[ImportJob]:
        return []

    def row_count(self, collection: str) -> int:
        return self.counts.pop(0)


def run(client: ScriptedClient) -> ImportReport:
    return import_files(
        [[["a.parquet"], ["b.parquet"]]],
        uri="http://unused",
        collection="docs",
        expected_rows=10,
        client=client,
        poll_interval=0,
        progress=False,
    )


def test_exact_counts_pass() -> None:
    report = run(ScriptedClient(5, [100, 110]))
    assert report.notes == ()


def test_more_growth_than_ours_with_exact_jobs_is_another_writer_noted() -> None:
    report = run(ScriptedClient(5, [100, 117]))
    assert report.notes == (
        "collection 'docs' grew by 17 rows, 7 more than these files hold, while the jobs imported exactly "
        "10: another writer inserted meanwhile",
    )
    assert "note: collection 'docs' grew by 17 rows" in report.summary()


@pytest.mark.parametrize(
    ("rows_per_job", "counts", "imported"),
    [
        (5, [100, 109], 9),  # a row short in the collection, though the jobs say all
        (4, [100, 110], 8),  # the jobs say 8
        (None, [100, 117], 17),  # the jobs do not say: more growth cannot be explained away
        (None, [100, 104], 4),
    ],
)
def test_a_shortfall_or_an_unexplained_count_raises(
    rows_per_job: int | None, counts: list[int], imported: int
) -> None:
    with pytest.raises(ImportVerificationError) as info:
        run(ScriptedClient(rows_per_job, counts))
    assert (info.value.expected_rows, info.value.imported_rows) == (10, imported)
