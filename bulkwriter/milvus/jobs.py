"""What the server says of an import job, in one shape for the gRPC and the REST v2 APIs.

Milvus 2.3 reports a gRPC bulk-insert task (pymilvus ``BulkInsertState``: states
``Pending``, ``Started``, ``Persisted``, ``Completed``, ``Failed``, ``Failed and cleaned``;
``row_count``, ``infos["failed_reason"]``, ``infos["progress_percent"]``). Milvus 2.4+ and
Zilliz Cloud report a REST v2 job (``/v2/vectordb/jobs/import/describe``: ``state``
``Pending`` | ``Importing`` | ``Completed`` | ``Failed``, ``progress`` 0-100, ``reason``,
``totalRows``, ``details[]`` per file with ``importedRows``). Both become an
:class:`ImportJob`; several jobs of one call make an :class:`ImportReport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Api", "FileProgress", "ImportJob", "ImportReport", "JobState", "normalise_state"]

#: Which API a job went through: gRPC ``Import`` (Milvus 2.3) or REST v2 (2.4+, Zilliz Cloud).
Api = Literal["grpc", "rest"]

#: A job's state, the same words for both APIs.
JobState = Literal["pending", "importing", "completed", "failed"]

_STATES: dict[str, JobState] = {
    # REST v2 (and finer states some versions report while importing)
    "pending": "pending",
    "importing": "importing",
    "preimporting": "importing",
    "indexbuilding": "importing",
    "completed": "completed",
    "failed": "failed",
    # gRPC BulkInsertState.state_name (Milvus 2.3)
    "started": "importing",
    "persisted": "importing",
    "failed and cleaned": "failed",
}


def normalise_state(server_state: str) -> JobState:
    """The :data:`JobState` of a server's state word (case and spaces as the server sends).

    An unknown word counts as still importing: the caller keeps polling until its timeout,
    rather than calling a job done or failed on a word it does not know.
    """
    return _STATES.get(server_state.strip().lower(), "importing")


@dataclass(frozen=True)
class FileProgress:
    """One file (or NumPy file set) of a job, as the server reports it.

    Attributes
    ----------
    file : str
        The server's ``fileName`` (REST) or the entry's paths joined by ``,`` (gRPC).
    state : JobState
        Its state.
    progress : int
        Percent done, 0-100.
    imported_rows : int or None
        Rows the server imported from it; None when the server does not say.
    total_rows : int or None
        Rows the server counted in it; None when the server does not say.
    reason : str
        The server's reason when it failed, verbatim.
    """

    file: str
    state: JobState
    progress: int = 0
    imported_rows: int | None = None
    total_rows: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class ImportJob:
    """One import job (REST v2) or bulk-insert task (gRPC) and its last known state.

    Attributes
    ----------
    job_id : str
        REST ``jobId``, or the gRPC task id as text.
    api : Api
        How it was submitted.
    files : tuple of tuple of str
        The import entries it was given (each the paths of one file or one NumPy chunk).
    state : JobState
        Normalised state (:func:`normalise_state`).
    server_state : str
        The state word the server sent, verbatim.
    progress : int
        Percent done, 0-100.
    imported_rows : int or None
        Rows imported, when the server says (gRPC ``row_count``; REST ``importedRows``
        summed over ``details``, else ``totalRows`` once completed).
    reason : str
        The server's failure reason, verbatim; empty if none.
    seconds : float
        From submission to the last state seen, in seconds.
    details : tuple of FileProgress
        Per-file progress (REST ``details``); empty when the server gives none.
    """

    job_id: str
    api: Api
    files: tuple[tuple[str, ...], ...]
    state: JobState
    server_state: str
    progress: int = 0
    imported_rows: int | None = None
    reason: str = ""
    seconds: float = 0.0
    details: tuple[FileProgress, ...] = ()

    @property
    def done(self) -> bool:
        """Whether the job reached a final state (completed or failed)."""
        return self.state in ("completed", "failed")


@dataclass(frozen=True)
class ImportReport:
    """What one :func:`bulkwriter.milvus.import_files` call submitted and saw.

    Attributes
    ----------
    collection : str
        The collection imported into.
    api : Api
        The API used.
    jobs : tuple of ImportJob
        Every job, in submission order, with its last state.
    expected_rows : int or None
        Rows of the imported files, from the manifest or the WriteResult; None for explicit
        entries given without a count.
    imported_rows : int or None
        Rows the server reports as imported (sum over jobs); None when a job did not say or
        the call did not wait.
    row_count_before, row_count_after : int or None
        The collection's row count before the first job and after the last one, when
        ``verify_rows`` read them.
    seconds : float
        Wall time of the whole call, in seconds.
    notes : tuple of str
        What verification saw that is not an error (e.g. the collection grew by more than
        the files hold while every job imported exactly their rows: another writer).
    """

    collection: str
    api: Api
    jobs: tuple[ImportJob, ...]
    expected_rows: int | None
    imported_rows: int | None = None
    row_count_before: int | None = None
    row_count_after: int | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def completed(self) -> bool:
        """Whether every job completed."""
        return all(j.state == "completed" for j in self.jobs)

    def summary(self) -> str:
        """A few lines for people: jobs, states, rows expected and imported, time."""
        states: dict[str, int] = {}
        for j in self.jobs:
            states[j.state] = states.get(j.state, 0) + 1
        shown = ", ".join(f"{n} {s}" for s, n in states.items()) or "none"
        imported = "unknown" if self.imported_rows is None else f"{self.imported_rows:,}"
        expected = "unknown" if self.expected_rows is None else f"{self.expected_rows:,}"
        text = (
            f"import into {self.collection!r} ({self.api}): {len(self.jobs)} job(s): {shown}; "
            f"rows expected {expected}, imported {imported}; {self.seconds:.1f} s"
        )
        return "\n".join((text, *(f"note: {n}" for n in self.notes)))
