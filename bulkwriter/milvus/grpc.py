"""Milvus 2.3 bulk insert over gRPC, through pymilvus (extra ``bulkwriter[milvus]``).

Milvus 2.3 has no REST import API: a bulk-insert task takes one row-based file (JSON,
Parquet) or one set of NumPy files (one ``.npy`` per field), and is watched with
``GetImportState`` (pymilvus ``utility.do_bulk_insert``, ``get_bulk_insert_state``,
``list_bulk_insert_tasks``; ``engines-and-targets.md`` §5.2). Task states:
``Pending``, ``Started``, ``Persisted``, ``Completed``, ``Failed``, ``Failed and cleaned``.

pymilvus is imported when a client is made, never at ``import bulkwriter``.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import tenacity

from bulkwriter._deps import import_optional
from bulkwriter.errors import MilvusRequestError
from bulkwriter.milvus.jobs import Api, ImportJob, normalise_state
from bulkwriter.storage.retry import RetryPolicy

__all__ = ["GrpcImportClient", "parse_version"]

T = TypeVar("T")

#: gRPC status names worth another try (the server restarting, a dropped connection).
_TRANSIENT_STATUS = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"})


def parse_version(text: str) -> tuple[int, int, int]:
    """``"v2.3.5"`` / ``"2.4.13-hotfix"`` -> ``(2, 3, 5)``; unknown parts count as 0."""
    parts = text.strip().lstrip("vV").split("-", 1)[0].split(".")
    major, minor, patch = ([int(p) if p.isdigit() else 0 for p in parts[:3]] + [0, 0, 0])[:3]
    return major, minor, patch


class GrpcImportClient:
    """One pymilvus connection (its own alias) for bulk-insert tasks; use as a context manager.

    Parameters
    ----------
    uri : str
        The server, e.g. ``http://127.0.0.1:19530`` (pymilvus ``connections.connect(uri=...)``).
    token : str, optional
        ``"user:password"`` or an API key; never logged or put into an error.
    db_name : str, optional
        The database (Milvus default ``default``).
    timeout_s : float, default 20.0
        Seconds per call.
    retry : RetryPolicy, optional
        Retries of transient gRPC failures (UNAVAILABLE, DEADLINE_EXCEEDED); default
        ``RetryPolicy()``.

    Raises
    ------
    MissingDependencyError
        pymilvus is not installed (``pip install 'bulkwriter[milvus]'``).
    MilvusRequestError
        The server cannot be reached or refuses the credentials.
    """

    api: Api = "grpc"

    def __init__(
        self,
        uri: str,
        *,
        token: str | None = None,
        db_name: str | None = None,
        timeout_s: float = 20.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.pymilvus = import_optional("pymilvus", extra="milvus")
        self.uri = uri
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.alias = f"bulkwriter-{uuid.uuid4().hex[:12]}"
        self._secrets = [s for s in (token,) if s]
        kwargs: dict[str, Any] = {"uri": uri, "timeout": timeout_s}
        if token:
            kwargs["token"] = token
        if db_name:
            kwargs["db_name"] = db_name
        with _quiet():
            self.call("connect", lambda: self.pymilvus.connections.connect(alias=self.alias, **kwargs))

    def __enter__(self) -> GrpcImportClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the connection (idempotent)."""
        with contextlib.suppress(Exception), _quiet():
            self.pymilvus.connections.disconnect(self.alias)

    # -- calls ------------------------------------------------------------------------------

    def server_version(self) -> tuple[int, int, int]:
        """The server's version, e.g. ``(2, 3, 5)``."""
        text = self.call("GetVersion", lambda: self._utility.get_server_version(using=self.alias))
        return parse_version(str(text))

    def has_collection(self, collection: str) -> bool:
        """Whether ``collection`` exists."""
        return bool(
            self.call("HasCollection", lambda: self._utility.has_collection(collection, using=self.alias))
        )

    def row_count(self, collection: str) -> int:
        """Rows in ``collection`` by its statistics (sealed and growing segments)."""

        def count() -> int:
            coll = self.pymilvus.Collection(collection, using=self.alias)
            return int(coll.num_entities)

        return self.call("GetCollectionStatistics", count)

    def create(
        self,
        collection: str,
        files: Sequence[Sequence[str]],
        *,
        partition: str | None = None,
        options: Mapping[str, str] | None = None,
    ) -> str:
        """Submit one bulk-insert task for one entry (``files`` holds exactly one entry).

        Returns
        -------
        str
            The task id, as text.

        Raises
        ------
        ValueError
            ``files`` holds no entry or more than one (Milvus 2.3 takes one per task).
        MilvusRequestError
            The server refused the task (missing collection, bad path, ...).
        """
        if len(files) != 1 or not files[0]:
            raise ValueError(f"a Milvus 2.3 bulk-insert task takes exactly one entry, got {len(files)}")
        entry = [str(p) for p in files[0]]
        extra = dict(options or {})
        task = self.call(
            "Import",
            lambda: self._utility.do_bulk_insert(
                collection,
                files=entry,
                partition_name=partition,
                timeout=self.timeout_s,
                using=self.alias,
                **extra,
            ),
            retry=False,  # a task may have been created: never submit it twice
        )
        return str(task)

    def describe(
        self, job_id: str, *, files: Sequence[Sequence[str]] = (), submitted_at: float | None = None
    ) -> ImportJob:
        """The task's state now (``GetImportState``)."""
        state = self.call(
            "GetImportState", lambda: self._utility.get_bulk_insert_state(int(job_id), using=self.alias)
        )
        return _job_of(state, files, submitted_at)

    def list_jobs(self, collection: str | None = None) -> list[ImportJob]:
        """Every task the server keeps, newest last (``ListImportTasks``)."""
        states = self.call(
            "ListImportTasks",
            lambda: self._utility.list_bulk_insert_tasks(
                limit=0, collection_name=collection, using=self.alias
            ),
        )
        return [_job_of(s, (), None) for s in states]

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _utility(self) -> Any:
        return self.pymilvus.utility

    def call(self, endpoint: str, fn: Callable[[], T], *, retry: bool = True) -> T:
        policy = self.retry if retry else RetryPolicy.none()
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts)
            | tenacity.stop_after_delay(policy.max_seconds),
            wait=tenacity.wait_exponential(multiplier=policy.initial_backoff, max=policy.max_backoff)
            + tenacity.wait_random(0, policy.jitter),
            retry=tenacity.retry_if_exception(_transient),
            reraise=True,
        )
        failure: BaseException | None = None
        try:
            with _quiet():
                return retrying(fn)
        except Exception as exc:  # noqa: BLE001 - every pymilvus/grpc error becomes ours
            failure = exc
        raise MilvusRequestError(
            f"Milvus {endpoint} at {self.uri} failed: {self._clean(_describe(failure))}",
            endpoint=endpoint,
            code=_code(failure),
        ) from None

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _job_of(state: Any, files: Sequence[Sequence[str]], submitted_at: float | None) -> ImportJob:
    name = str(state.state_name)
    infos = dict(getattr(state, "infos", {}) or {})
    try:
        progress = int(infos.get("progress_percent", getattr(state, "progress", 0)) or 0)
    except (TypeError, ValueError):
        progress = 0
    normalised = normalise_state(name)
    entries = tuple(tuple(e) for e in files) or (tuple(str(f) for f in getattr(state, "files", []) or []),)
    return ImportJob(
        job_id=str(state.task_id),
        api="grpc",
        files=entries if any(entries) else (),
        state=normalised,
        server_state=name,
        progress=100 if normalised == "completed" else progress,
        imported_rows=int(state.row_count) if normalised == "completed" else None,
        reason=str(getattr(state, "failed_reason", "") or ""),
        seconds=0.0 if submitted_at is None else time.monotonic() - submitted_at,
    )


def _transient(exc: BaseException) -> bool:
    code = getattr(exc, "code", None)
    name = getattr(code() if callable(code) else code, "name", "")
    if name in _TRANSIENT_STATUS:
        return True
    return type(exc).__name__ in ("MilvusUnavailableException",)


def _code(exc: BaseException | None) -> int | None:
    code = getattr(exc, "code", None)
    if callable(code):
        code = code()
    value = getattr(code, "value", code)
    if isinstance(value, tuple):
        value = value[0]
    return value if isinstance(value, int) else None


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    message = getattr(exc, "message", None)
    text = str(message) if message else str(exc)
    return f"{type(exc).__name__}: {text}"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pymilvus logs every failed RPC at ERROR before raising it: we raise it ourselves.

    pymilvus 3.0 also warns (``FutureWarning``) on every ORM call, the only calls a 2.3
    server understands: that notice is for code calling pymilvus, not for our users.
    """
    logger = logging.getLogger("pymilvus")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*ORM-style PyMilvus")
            yield
    finally:
        logger.setLevel(level)
