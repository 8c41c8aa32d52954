"""Submit a write's files as Milvus / Zilliz Cloud import jobs, watch them, verify the rows.

One call goes from committed files to a loaded collection: the entries of the write (its
``import_batches``, the Milvus "files" grouping) are submitted over the API the server
speaks (gRPC bulk insert on Milvus 2.3: one entry per task; REST v2 on 2.4+ and Zilliz
Cloud: up to 1,024 entries per job, 1,000 on Zilliz Cloud), at most
``max_concurrent_jobs`` at a time (the servers queue at most 1,024 jobs); the jobs are
polled until they finish; a failed job raises :class:`~bulkwriter.ImportJobError` with the
server's reason verbatim; and the rows the server reports are compared with the rows the
files hold (``engines-and-targets.md`` §5 and §6 item 9; ``target-formats.md`` §5).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bulkwriter.errors import ImportJobError, ImportVerificationError, InputError, MilvusRequestError
from bulkwriter.milvus.jobs import Api, ImportJob, ImportReport
from bulkwriter.milvus.rest import MAX_FILES_PER_REQUEST, ZILLIZ_MAX_FILES_PER_REQUEST
from bulkwriter.result import WriteResult
from bulkwriter.storage.retry import RetryPolicy

__all__ = ["ImportSource", "check_present", "import_files", "resolve_source"]


class _Client(Protocol):
    api: Api

    def create(
        self,
        collection: str,
        files: Sequence[Sequence[str]],
        *,
        partition: str | None = None,
        options: Mapping[str, str] | None = None,
    ) -> str: ...

    def describe(
        self, job_id: str, *, files: Sequence[Sequence[str]] = (), submitted_at: float | None = None
    ) -> ImportJob: ...

    def list_jobs(self, collection: str | None = None) -> list[ImportJob]: ...


@dataclass(frozen=True)
class ImportSource:
    """What to import: entries (paths or keys), their full URIs, rows, and request options.

    Attributes
    ----------
    entries : tuple of tuple of str
        Import entries: the paths of one file, or of one NumPy chunk's ``.npy`` set.
    uris : tuple of tuple of str
        The same entries as full URIs (Zilliz Cloud ``objectUrls``); empty when unknown.
    expected_rows : int or None
        Rows the entries hold; None for explicit entries given without a count.
    options : dict of str to str
        Options every request must carry (e.g. CSV ``nullkey``, ``sep``).
    """

    entries: tuple[tuple[str, ...], ...]
    uris: tuple[tuple[str, ...], ...] = ()
    expected_rows: int | None = None
    options: tuple[tuple[str, str], ...] = ()


def resolve_source(
    source: WriteResult | str | os.PathLike[str] | Sequence[Sequence[Sequence[str]]],
    *,
    expected_rows: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> ImportSource:
    """Turn a :class:`WriteResult`, a committed output path, or import batches into entries.

    Parameters
    ----------
    source : WriteResult, str, os.PathLike or list of list of list of str
        A write's result; a destination bulkwriter committed (its manifest ``_bulkwriter.json``
        is read, with every appended write); or ``import_batches``-shaped requests of entries
        of paths.
    expected_rows : int, optional
        Rows of explicit batches (a WriteResult or a manifest knows its own).
    storage_options : dict, optional
        fsspec options to read a manifest on an object store.

    Raises
    ------
    InputError
        The path holds no committed output, or the batches are not lists of lists of str.
    """
    if isinstance(source, WriteResult):
        return _from_result(source)
    if isinstance(source, (str, os.PathLike)):
        from bulkwriter.api import inspect

        found = inspect(os.fspath(source), storage_options=storage_options)
        if found.committed is None:
            raise InputError(f"no committed bulkwriter output at {found.path}: nothing to import")
        return _from_result(found.committed)
    entries: list[tuple[str, ...]] = []
    for request in source:
        if isinstance(request, (str, bytes)):
            raise InputError("import batches must be requests (lists) of entries (lists of paths)")
        for entry in request:
            if (
                isinstance(entry, (str, bytes))
                or not entry
                or not all(isinstance(p, str) and p for p in entry)
            ):
                raise InputError(f"an import entry must be a non-empty list of paths, got {entry!r}")
            entries.append(tuple(entry))
    if not entries:
        raise InputError("no import entries given")
    return ImportSource(tuple(entries), expected_rows=expected_rows)


def check_present(what: ImportSource, *, storage_options: dict[str, Any] | None = None) -> None:
    """Raise InputError unless every file of ``what.uris`` exists (one listing per folder).

    Parameters
    ----------
    what : ImportSource
        Entries with their full URIs (local paths or ``s3://``, ``gs://``, ``az://`` URIs);
        nothing is checked when it has none.
    storage_options : dict, optional
        fsspec options for the bucket (e.g. ``key`` / ``secret``).

    Raises
    ------
    InputError
        A file is missing (the first few are named), or a folder cannot be listed (the
        message says to pass ``storage_options`` or ``check_files=False``).
    """
    import fsspec

    by_folder: dict[str, list[str]] = {}
    for entry in what.uris:
        for uri in entry:
            by_folder.setdefault(uri.rsplit("/", 1)[0], []).append(uri)
    missing: list[str] = []
    for folder, uris in by_folder.items():
        try:
            fs, path = fsspec.core.url_to_fs(folder, **(storage_options or {}))
            fs.invalidate_cache(path)  # a listing cached before a delete would say "there"
            present = {str(p).rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False)}
        except FileNotFoundError:
            present = set()
        except Exception as exc:  # noqa: BLE001 - credentials, network: say how to go on
            raise InputError(
                f"cannot list {folder} to check the files exist before importing ({type(exc).__name__}: "
                f"{exc}); pass storage_options= for that bucket, or check_files=False"
            ) from None
        missing.extend(u for u in uris if u.rsplit("/", 1)[-1] not in present)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(
            f"{len(missing)} file(s) to import are not there: {shown}; nothing was submitted "
            "(were they moved or deleted after the write?)"
        )


def _from_result(result: WriteResult) -> ImportSource:
    entries = tuple(tuple(e) for request in result.import_batches for e in request)
    uris = tuple(tuple(e) for request in result.import_uris for e in request)
    return ImportSource(
        entries,
        uris=uris,
        expected_rows=result.rows_written,
        options=tuple(sorted(result.import_options.items())),
    )


ProgressArg = bool | Callable[[Sequence[ImportJob]], None] | None


def import_files(
    source: WriteResult | str | os.PathLike[str] | Sequence[Sequence[Sequence[str]]],
    *,
    uri: str,
    collection: str,
    token: str | None = None,
    db_name: str | None = None,
    partition: str | None = None,
    api: Literal["auto", "grpc", "rest"] = "auto",
    wait: bool = True,
    timeout: float | None = None,
    poll_interval: float = 2.0,
    progress: ProgressArg = None,
    verify_rows: bool = True,
    expected_rows: int | None = None,
    max_concurrent_jobs: int = 8,
    options: dict[str, str] | None = None,
    storage_options: dict[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    cluster_id: str | None = None,
    project_id: str | None = None,
    region_id: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    session_token: str | None = None,
    check_files: bool = True,
    client: _Client | None = None,
) -> ImportReport:
    """Import committed files into a Milvus collection and wait until every row arrived.

    Parameters
    ----------
    source : WriteResult, str, os.PathLike or list of list of list of str
        What to import (see :func:`resolve_source`).
    uri : str
        The server, e.g. ``http://127.0.0.1:19530``.
    collection : str
        The collection to import into; it must exist.
    token : str, optional
        ``"user:password"`` or an API key. Never printed, logged or put into an error.
    db_name, partition : str, optional
        The database and the partition (none with a partition key: the server's rule).
    api : {"auto", "grpc", "rest"}, default "auto"
        ``auto`` asks the server its version over gRPC: 2.3 and older use gRPC bulk insert,
        2.4 and newer REST v2.
    wait : bool, default True
        Poll until every job finished. False returns after submitting (states as submitted).
    timeout : float, optional
        Seconds to wait for all jobs; None waits as long as the jobs run.
    poll_interval : float, default 2.0
        Seconds between two polls of the running jobs.
    progress : bool or callable, optional
        None: a tqdm bar of rows (quiet off a terminal); False: no bar; True: always a bar;
        a callable gets the list of jobs after every poll (and no bar is shown).
    verify_rows : bool, default True
        Compare the rows the jobs imported, and the collection's row count increase where
        the API gives it, with the rows of the files; raise if they differ.
    expected_rows : int, optional
        Rows of explicit batches (a WriteResult or a manifest brings its own).
    max_concurrent_jobs : int, default 8
        Jobs running or pending at once (Milvus queues at most 1,024).
    options : dict of str to str, optional
        Extra request options (``timeout``, ...); the output's own (``sep``, ``nullkey``) are
        always sent.
    storage_options : dict, optional
        fsspec options to read a manifest from an object store.
    retry : RetryPolicy, optional
        Retries of transient request failures.
    cluster_id : str, optional
        Zilliz Cloud: the cluster (``clusterId``). With it (or with ``project_id`` and
        ``region_id``, a project database) ``uri`` is the Zilliz Cloud controller
        (``https://api.cloud.zilliz.com``), ``token`` the API key, and the files go as
        ``objectUrls``: the full URIs of the write (``WriteResult.import_uris``; a NumPy
        chunk as its folder), at most 1,000 per job (Zilliz Cloud "Create Import Jobs").
        The files must be in a bucket; the REST API is used.
    project_id, region_id : str, optional
        Zilliz Cloud ``projectId`` and ``regionId``, instead of ``cluster_id``.
    access_key, secret_key : str, optional
        Zilliz Cloud: the keys Zilliz reads the bucket with (``accessKey``, ``secretKey``).
        Never printed, logged or put into an error.
    session_token : str, optional
        Zilliz Cloud: a temporary session token of the bucket (``token``), with temporary keys.
    check_files : bool, default True
        Before any request, list the folders of a WriteResult's or a manifest's files (one
        listing per folder, with ``storage_options``) and raise if a file is not there: a
        job would fail on the server with "NoSuchKey" after the others were submitted.
        Explicit batches carry no URIs and are not checked.
    client : object, optional
        A connected import client (gRPC or REST) to use instead of making one from ``uri``.

    Returns
    -------
    ImportReport
        Every job with its last state, the rows expected and imported, and the time taken.

    Raises
    ------
    ImportJobError
        A job failed (its id, files, state and the server's reason verbatim) or did not
        finish within ``timeout``. Jobs already submitted keep running on the server.
    ImportVerificationError
        Every job completed, but the imported rows differ from the rows of the files.
    MilvusRequestError
        The server is unreachable, refused the credentials, or has no such collection.
    InputError
        ``source`` holds nothing to import, a file it lists is missing (``check_files``),
        or (Zilliz Cloud) its files are not in a bucket.
    ValueError
        ``max_concurrent_jobs`` < 1, ``project_id`` without ``region_id`` (or the other way
        round), or ``api="grpc"`` with Zilliz Cloud ids. No request is sent.
    """
    if max_concurrent_jobs < 1:
        raise ValueError(f"max_concurrent_jobs must be >= 1, got {max_concurrent_jobs}")
    start = time.monotonic()
    what = resolve_source(source, expected_rows=expected_rows, storage_options=storage_options)
    if check_files:
        check_present(what, storage_options=storage_options)
    request_options = {**dict(what.options), **(options or {})}
    own_client = client is None
    cloud = _CloudIds(cluster_id, project_id, region_id)
    if cloud.given:
        if api == "grpc":
            raise ValueError("Zilliz Cloud imports go through its REST API: api='grpc' does not apply")
        what = _as_object_urls(what)
        if client is None:
            from bulkwriter.milvus.rest import RestImportClient

            client = RestImportClient(
                uri,
                token=token,
                db_name=db_name,
                cluster_id=cluster_id,
                project_id=project_id,
                region_id=region_id,
                retry=retry,
            )
        client = _ObjectUrlJobs(
            client, access_key=access_key, secret_key=secret_key, session_token=session_token
        )
    chosen = client if client is not None else _connect(uri, api, token=token, db_name=db_name, retry=retry)
    try:
        exists = getattr(chosen, "has_collection", None)
        if callable(exists) and not exists(collection):
            raise MilvusRequestError(
                f"collection {collection!r} does not exist at {uri}", endpoint="HasCollection"
            )
        before = _row_count(chosen, collection) if verify_rows and wait else None
        groups = _requests(what, chosen.api, chosen)
        jobs = _run(
            chosen,
            collection,
            groups,
            partition=partition,
            options=request_options,
            wait=wait,
            deadline=None if timeout is None else start + timeout,
            poll_interval=poll_interval,
            max_concurrent=max_concurrent_jobs,
            progress=progress,
            expected_rows=what.expected_rows,
        )
        after = _row_count(chosen, collection) if verify_rows and wait else None
    finally:
        if own_client:
            _close(chosen)
    imported = _imported(jobs) if wait else None
    report = ImportReport(
        collection=collection,
        api=chosen.api,
        jobs=tuple(jobs),
        expected_rows=what.expected_rows,
        imported_rows=imported,
        row_count_before=before,
        row_count_after=after,
        seconds=time.monotonic() - start,
    )
    if verify_rows and wait:
        notes = _verify(report, what.expected_rows)
        if notes:
            report = dataclasses.replace(report, notes=notes)
    return report


@dataclass(frozen=True)
class _CloudIds:
    cluster_id: str | None
    project_id: str | None
    region_id: str | None

    @property
    def given(self) -> bool:
        if self.cluster_id:
            return True
        if self.project_id or self.region_id:
            if not (self.project_id and self.region_id):
                raise ValueError("a Zilliz Cloud project database needs both project_id and region_id")
            return True
        return False


class _ObjectUrlJobs:
    """A REST client whose jobs name their files as Zilliz Cloud ``objectUrls``."""

    api: Api = "rest"
    entries_per_job = ZILLIZ_MAX_FILES_PER_REQUEST

    def __init__(
        self, inner: Any, *, access_key: str | None, secret_key: str | None, session_token: str | None
    ) -> None:
        self._inner = inner
        self._keys = {"access_key": access_key, "secret_key": secret_key, "session_token": session_token}

    def create(
        self,
        collection: str,
        files: Sequence[Sequence[str]],
        *,
        partition: str | None = None,
        options: Mapping[str, str] | None = None,
    ) -> str:
        job_id: str = self._inner.create(
            collection, (), partition=partition, options=options, object_urls=files, **self._keys
        )
        return job_id

    def describe(
        self, job_id: str, *, files: Sequence[Sequence[str]] = (), submitted_at: float | None = None
    ) -> ImportJob:
        job: ImportJob = self._inner.describe(job_id, files=files, submitted_at=submitted_at)
        return job

    def list_jobs(self, collection: str | None = None) -> list[ImportJob]:
        jobs: list[ImportJob] = self._inner.list_jobs(collection)
        return jobs

    def close(self) -> None:
        _close(self._inner)


def _as_object_urls(what: ImportSource) -> ImportSource:
    """The entries as Zilliz Cloud ``objectUrls``: one URL each (a NumPy chunk: its folder)."""
    if not what.uris or any("://" not in u for entry in what.uris for u in entry):
        raise InputError(
            "Zilliz Cloud imports files from a bucket: write to s3://, gs:// or az:// (or pass a "
            "WriteResult or committed bucket path), not to a local folder or bare entries"
        )
    urls: list[tuple[str, ...]] = []
    for entry in what.uris:
        if len(entry) == 1:
            urls.append(entry)
            continue
        folders = {u.rsplit("/", 1)[0] for u in entry}
        if len(folders) != 1:
            raise InputError(f"a NumPy entry's files are not in one folder: {entry!r}")
        urls.append((folders.pop() + "/",))
    return ImportSource(tuple(urls), uris=what.uris, expected_rows=what.expected_rows, options=what.options)


def _connect(
    uri: str, api: str, *, token: str | None, db_name: str | None, retry: RetryPolicy | None
) -> _Client:
    if api not in ("auto", "grpc", "rest"):
        raise ValueError(f"api must be 'auto', 'grpc' or 'rest', got {api!r}")
    if api in ("auto", "grpc"):
        from bulkwriter.milvus.grpc import GrpcImportClient

        grpc_client = GrpcImportClient(uri, token=token, db_name=db_name, retry=retry)
        if api == "grpc" or grpc_client.server_version() < (2, 4, 0):
            return grpc_client
        grpc_client.close()
    from bulkwriter.milvus.rest import RestImportClient

    client: _Client = RestImportClient(uri, token=token, db_name=db_name, retry=retry)
    return client


def _close(client: _Client) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        close()


def _row_count(client: _Client, collection: str) -> int | None:
    count = getattr(client, "row_count", None)
    return int(count(collection)) if callable(count) else None


def _requests(
    what: ImportSource, api: Api, client_limits: object = None
) -> list[tuple[tuple[str, ...], ...]]:
    """The groups of entries each job gets: one entry per gRPC task, up to 1,024 per REST job."""
    if api == "grpc":
        return [(entry,) for entry in what.entries]
    # a client may take fewer per job than Milvus (Zilliz Cloud ``objectUrls``: 1,000)
    size = int(getattr(client_limits, "entries_per_job", MAX_FILES_PER_REQUEST))
    return [what.entries[i : i + size] for i in range(0, len(what.entries), size)]


def _run(
    client: _Client,
    collection: str,
    groups: list[tuple[tuple[str, ...], ...]],
    *,
    partition: str | None,
    options: dict[str, str],
    wait: bool,
    deadline: float | None,
    poll_interval: float,
    max_concurrent: int,
    progress: ProgressArg,
    expected_rows: int | None,
) -> list[ImportJob]:
    """Submit the groups (at most ``max_concurrent`` unfinished at once) and poll them all."""
    jobs: list[ImportJob] = []
    submitted: list[float] = []
    bar = _bar(progress, expected_rows)
    pending = list(groups)
    try:
        while pending or (wait and any(not j.done for j in jobs)):
            running = sum(not j.done for j in jobs)
            while pending and (running < max_concurrent or not wait):
                files = pending.pop(0)
                at = time.monotonic()
                job_id = client.create(collection, files, partition=partition, options=options or None)
                jobs.append(
                    ImportJob(
                        job_id=job_id, api=client.api, files=files, state="pending", server_state="submitted"
                    )
                )
                submitted.append(at)
                running += 1
            if not wait:
                break
            if any(not j.done for j in jobs):
                time.sleep(poll_interval)
            for i, job in enumerate(jobs):
                if not job.done:
                    jobs[i] = client.describe(job.job_id, files=job.files, submitted_at=submitted[i])
                    if jobs[i].state == "failed":
                        raise _failed(jobs[i], jobs, len(pending))
            _show(bar, progress, jobs)
            if deadline is not None and time.monotonic() > deadline and any(not j.done for j in jobs):
                late = next(j for j in jobs if not j.done)
                raise ImportJobError(
                    f"import job {late.job_id} into {collection!r} still {late.server_state} "
                    f"({late.progress}%) when the timeout ran out; it keeps running on the server",
                    job_id=late.job_id,
                    files=late.files,
                    state=late.server_state,
                    reason="timeout",
                )
    finally:
        if bar is not None:
            bar.close()
    return jobs


def _failed(job: ImportJob, jobs: Sequence[ImportJob], unsent: int) -> ImportJobError:
    """The error of a failed job, saying what the other jobs of the call left in the collection.

    Milvus makes nothing of a failed job visible, but each job is its own transaction: rows of
    jobs that completed stay, and jobs still running go on (the server has no cancel in 2.3).
    """
    files = "; ".join(",".join(e) for e in job.files[:3]) + (" ..." if len(job.files) > 3 else "")
    completed = [j.job_id for j in jobs if j.state == "completed"]
    running = [j.job_id for j in jobs if not j.done]
    others = (
        f"; of the other jobs, {len(completed)} completed (their rows are in the collection"
        + (f": {', '.join(completed[:5])}{' ...' if len(completed) > 5 else ''}" if completed else "")
        + f"), {len(running)} still running on the server, {unsent} not submitted"
    )
    return ImportJobError(
        f"import job {job.job_id} {job.server_state}: {job.reason or '(the server gave no reason)'} "
        f"[files: {files}]" + (others if len(jobs) > 1 or unsent else ""),
        job_id=job.job_id,
        files=job.files,
        state=job.server_state,
        reason=job.reason,
    )


def _bar(progress: ProgressArg, expected_rows: int | None) -> Any:
    if progress is False or callable(progress):
        return None
    from tqdm import tqdm

    disable = None if progress is None else False
    if progress is None and not sys.stderr.isatty():
        disable = True
    return tqdm(total=expected_rows, unit="rows", desc="import", disable=disable, leave=False)


def _show(bar: Any, progress: ProgressArg, jobs: Sequence[ImportJob]) -> None:
    if callable(progress):
        progress(list(jobs))
    if bar is not None:
        done = _imported(jobs, partial=True) or 0
        bar.n = done
        bar.refresh()


def _imported(jobs: Sequence[ImportJob], *, partial: bool = False) -> int | None:
    counts = [j.imported_rows for j in jobs]
    if not partial and any(c is None for c in counts):
        return None
    return sum(c for c in counts if c is not None)


def _verify(report: ImportReport, expected: int | None) -> tuple[str, ...]:
    """Raise if rows are missing or extra; the notes of a count only others can explain."""
    if expected is None:
        return ()
    if report.imported_rows is not None and report.imported_rows != expected:
        raise ImportVerificationError(
            f"the import jobs into {report.collection!r} report {report.imported_rows:,} rows imported; "
            f"the files hold {expected:,}",
            expected_rows=expected,
            imported_rows=report.imported_rows,
        )
    if report.row_count_before is None or report.row_count_after is None:
        return ()
    grown = report.row_count_after - report.row_count_before
    if grown == expected:
        return ()
    if grown > expected and report.imported_rows == expected:
        # every job imported exactly our rows: the rest came from another writer meanwhile
        return (
            f"collection {report.collection!r} grew by {grown:,} rows, {grown - expected:,} more than "
            f"these files hold, while the jobs imported exactly {expected:,}: another writer inserted meanwhile",
        )
    raise ImportVerificationError(
        f"collection {report.collection!r} grew by {grown:,} rows "
        f"({report.row_count_before:,} -> {report.row_count_after:,}); the files hold {expected:,}",
        expected_rows=expected,
        imported_rows=grown,
    )


def describe_job(
    job_id: str,
    *,
    uri: str,
    token: str | None = None,
    db_name: str | None = None,
    api: Literal["auto", "grpc", "rest"] = "auto",
    retry: RetryPolicy | None = None,
) -> ImportJob:
    """The state of one import job (REST ``jobId``) or bulk-insert task (gRPC task id).

    Parameters are as for :func:`import_files`. Raises MilvusRequestError when the server
    does not know the job or refuses the request.
    """
    client = _connect(uri, api, token=token, db_name=db_name, retry=retry)
    try:
        return client.describe(str(job_id))
    finally:
        _close(client)


def list_jobs(
    collection: str | None = None,
    *,
    uri: str,
    token: str | None = None,
    db_name: str | None = None,
    api: Literal["auto", "grpc", "rest"] = "auto",
    retry: RetryPolicy | None = None,
) -> list[ImportJob]:
    """Every import job the server keeps (of ``collection`` when given), oldest first.

    Parameters are as for :func:`import_files`.
    """
    client = _connect(uri, api, token=token, db_name=db_name, retry=retry)
    try:
        return client.list_jobs(collection)
    finally:
        _close(client)
