"""Client of the Milvus REST v2 / Zilliz Cloud import-job API: create, describe, list.

The documented API (Milvus "Import data" guide and Zilliz Cloud "Create Import Jobs",
"Get Import Job Progress" and "List Import Jobs" v2 references; pymilvus
``bulk_writer/bulk_import.py`` for the headers; ``engines-and-targets.md`` §5.1 and
``target-formats.md`` §5 of this project):

* ``POST {uri}/v2/vectordb/jobs/import/create`` with ``{"collectionName", "files": [[path,
  ...], ...], "partitionName"?, "dbName"?, "options"?: {str: str}}`` on Milvus 2.4+; Zilliz
  Cloud (``https://api.cloud.zilliz.com``) takes ``clusterId`` (or ``projectId`` +
  ``regionId``) and ``objectUrls`` (a list of one-URL lists) with ``accessKey`` /
  ``secretKey`` instead of ``files``. Answer ``{"code": 0, "data": {"jobId": "..."}}``.
  At most 1,024 entries per request on Milvus (:data:`MAX_FILES_PER_REQUEST`), 1,000 on
  Zilliz Cloud (:data:`ZILLIZ_MAX_FILES_PER_REQUEST`); :func:`split_requests` splits.
* ``POST …/describe`` with ``{"jobId"}`` answers ``{"code": 0, "data": {"jobId", "state",
  "progress", "reason", "totalRows", "importedRows"?, "details": [{"fileName", "state",
  "progress", "reason", "importedRows", "totalRows", ...}]}}``. Milvus 2.4.0-2.4.12 only
  have ``…/get_progress`` (same body and answer): on HTTP 404 the client falls back to it
  and keeps using it.
* ``POST …/list`` with ``{"collectionName"?, "dbName"?, "pageSize", "currentPage"}``
  answers ``{"code": 0, "data": {"records": [{"collectionName", "jobId", "progress",
  "state"}]}}``.
* Every request carries ``Authorization: Bearer <token>`` (a Zilliz Cloud API key, or
  ``user:password`` on Milvus), ``Content-Type: application/json`` and, as pymilvus sends
  it, ``DB-Name`` when a database is named (also sent as ``dbName`` in the body).

A non-zero ``code`` (e.g. Milvus ``100`` "collection not found") and every HTTP 4xx are
permanent; HTTP 408/429/5xx, refused or reset connections and timeouts are retried under a
:class:`~bulkwriter.storage.retry.RetryPolicy`. Errors are
:class:`~bulkwriter.errors.MilvusRequestError` whose text, arguments and chain never hold
the token or the object-storage keys; request and response bodies are never logged.
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import tenacity

from bulkwriter.errors import MilvusRequestError
from bulkwriter.milvus.jobs import Api, FileProgress, ImportJob, normalise_state
from bulkwriter.storage.retry import TRANSIENT_STATUS, RetryPolicy

__all__ = [
    "CREATE_PATH",
    "DESCRIBE_PATH",
    "GET_PROGRESS_PATH",
    "LIST_PATH",
    "MAX_FILES_PER_REQUEST",
    "ZILLIZ_MAX_FILES_PER_REQUEST",
    "RestImportClient",
    "split_requests",
]

logger = logging.getLogger("bulkwriter.milvus")

#: Milvus/Zilliz: at most 1,024 entries per import job request.
MAX_FILES_PER_REQUEST = 1024
#: Zilliz Cloud documents 1,000 ``objectUrls`` entries per request.
ZILLIZ_MAX_FILES_PER_REQUEST = 1000

CREATE_PATH = "/v2/vectordb/jobs/import/create"
DESCRIBE_PATH = "/v2/vectordb/jobs/import/describe"
#: Milvus 2.4.0-2.4.12 name of ``/describe`` (same request and answer).
GET_PROGRESS_PATH = "/v2/vectordb/jobs/import/get_progress"
LIST_PATH = "/v2/vectordb/jobs/import/list"

_DENIED_STATUS = frozenset({401, 403})
#: Guard against a server that ignores ``currentPage`` and never sends a short page.
_MAX_PAGES = 10_000


class _Transient(Exception):
    """One attempt failed in a way worth retrying; ``text`` holds no credentials."""

    def __init__(self, text: str, status: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


class _Permanent(Exception):
    """One attempt failed in a way not worth retrying (e.g. a bad TLS certificate)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _RefuseRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it would send the token on, or turn the POST into a GET."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes


def _entries(files: Sequence[Sequence[str]], what: str = "files") -> list[list[str]]:
    """``files`` as a list of lists of non-empty str, or TypeError / ValueError."""
    if isinstance(files, (str, bytes)) or not isinstance(files, Sequence):
        raise TypeError(
            f"{what} must be a sequence of entries (each a sequence of paths), got {type(files).__name__}"
        )
    out: list[list[str]] = []
    for i, entry in enumerate(files):
        if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence):
            raise TypeError(
                f"{what}[{i}] must be a sequence of paths (one file, or the .npy files of one chunk), "
                f"got {type(entry).__name__}"
            )
        paths = list(entry)
        if not paths:
            raise ValueError(f"{what}[{i}] is empty")
        for path in paths:
            if not isinstance(path, str):
                raise TypeError(f"{what}[{i}] holds a {type(path).__name__}, not a str path")
            if not path:
                raise ValueError(f"{what}[{i}] holds an empty path")
        out.append(paths)
    return out


def _check_str(name: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")


def _checked_entries(
    files: Sequence[Sequence[str]], object_urls: Sequence[str] | Sequence[Sequence[str]] | None
) -> tuple[list[list[str]], list[list[str]]]:
    """The ``files`` and ``objectUrls`` of a create request, checked against the limits."""
    entries = _entries(files)
    urls: list[list[str]] = []
    if object_urls is not None:
        if isinstance(object_urls, (str, bytes)) or not isinstance(object_urls, Sequence):
            raise TypeError(f"object_urls must be a sequence of URLs, got {type(object_urls).__name__}")
        urls = _entries([[u] if isinstance(u, str) else u for u in object_urls], "object_urls")
    if entries and urls:
        raise ValueError("give files (Milvus) or object_urls (Zilliz Cloud), not both")
    if not entries and not urls:
        raise ValueError("no import entries: files (or object_urls) is empty")
    if len(entries) > MAX_FILES_PER_REQUEST:
        raise ValueError(
            f"{len(entries):,} entries in one import request; at most {MAX_FILES_PER_REQUEST:,} "
            "are accepted: split them with split_requests() and create one job per request"
        )
    if len(urls) > ZILLIZ_MAX_FILES_PER_REQUEST:
        raise ValueError(
            f"{len(urls):,} object_urls in one import request; Zilliz Cloud accepts at most "
            f"{ZILLIZ_MAX_FILES_PER_REQUEST:,}: split them with "
            "split_requests(urls, ZILLIZ_MAX_FILES_PER_REQUEST)"
        )
    return entries, urls


def split_requests(
    entries: Sequence[Sequence[str]], limit: int = MAX_FILES_PER_REQUEST
) -> list[list[list[str]]]:
    """Split import entries into requests of at most ``limit`` entries each, in order.

    Parameters
    ----------
    entries : sequence of sequence of str
        Import entries: each the path of one file, or the ``.npy`` paths of one chunk.
    limit : int, default MAX_FILES_PER_REQUEST
        Most entries per request (1,024 on Milvus; use
        :data:`ZILLIZ_MAX_FILES_PER_REQUEST` for Zilliz Cloud ``objectUrls``).

    Returns
    -------
    list of list of list of str
        The requests, each a ``files`` value for :meth:`RestImportClient.create`; empty when
        ``entries`` is.

    Raises
    ------
    TypeError, ValueError
        ``entries`` is not a sequence of non-empty sequences of non-empty str, or
        ``limit < 1``.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an int >= 1, got {limit!r}")
    checked = _entries(entries, "entries")
    return [checked[i : i + limit] for i in range(0, len(checked), limit)]


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


class RestImportClient:
    """Submits and watches import jobs over the Milvus REST v2 / Zilliz Cloud API.

    Parameters
    ----------
    uri : str
        ``http(s)://host:port`` of Milvus 2.4+ (e.g. ``http://127.0.0.1:19530``), or the
        Zilliz Cloud controller ``https://api.cloud.zilliz.com``. No credentials in it.
    token : str, optional
        Sent as ``Authorization: Bearer <token>``: a Zilliz Cloud API key, or
        ``"user:password"`` for Milvus with authentication on.
    db_name : str, optional
        The database; sent as ``dbName`` in the create and list bodies (and describe) and
        as the ``DB-Name`` header.
    cluster_id, project_id, region_id : str, optional
        Zilliz Cloud ``clusterId`` (dedicated / serverless cluster) or ``projectId`` +
        ``regionId`` (project database); added to every body when given.
    timeout_s : float, default 20.0
        Seconds one HTTP request may take (as pymilvus).
    retry : RetryPolicy, optional
        How transient failures are retried; default ``RetryPolicy()``.

    Attributes
    ----------
    api : Api
        ``"rest"``.

    Notes
    -----
    A retried ``create`` whose first attempt did reach the server (a timeout or reset
    after sending) may leave a second job; :meth:`list_jobs` shows every job of a
    collection.
    """

    api: Api = "rest"

    def __init__(
        self,
        uri: str,
        *,
        token: str | None = None,
        db_name: str | None = None,
        cluster_id: str | None = None,
        project_id: str | None = None,
        region_id: str | None = None,
        timeout_s: float = 20.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(uri, str):
            raise TypeError(f"uri must be a str, got {type(uri).__name__}")
        parts = urllib.parse.urlsplit(uri.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("uri must be http://host:port or https://host (e.g. http://127.0.0.1:19530)")
        if "@" in parts.netloc:
            raise ValueError(
                "uri must not hold credentials: pass them as token='user:password' or an API key"
            )
        for name, value in (
            ("token", token),
            ("db_name", db_name),
            ("cluster_id", cluster_id),
            ("project_id", project_id),
            ("region_id", region_id),
        ):
            _check_str(name, value)
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self._base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self._token = token or None
        self._db_name = db_name or None
        self._cloud: dict[str, str] = {
            key: value
            for key, value in (("clusterId", cluster_id), ("projectId", project_id), ("regionId", region_id))
            if value
        }
        self._timeout = float(timeout_s)
        self._retry = retry if retry is not None else RetryPolicy()
        self._progress_path = DESCRIBE_PATH
        self._opener = urllib.request.build_opener(_RefuseRedirect())
        self._secrets: list[str] = []
        if token:
            self._add_secret(token)

    def __repr__(self) -> str:
        auth = "token=***" if self._token else "no token"
        return f"RestImportClient({self._base!r}, {auth})"

    @property
    def uri(self) -> str:
        """The server's base URI, as given (without a trailing ``/``)."""
        return self._base

    # ------------------------------------------------------------------ requests

    def create(
        self,
        collection: str,
        files: Sequence[Sequence[str]],
        *,
        partition: str | None = None,
        options: Mapping[str, str] | None = None,
        object_urls: Sequence[str] | Sequence[Sequence[str]] | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
    ) -> str:
        """Submit one import job (``POST /v2/vectordb/jobs/import/create``).

        Parameters
        ----------
        collection : str
            The target collection (``collectionName``).
        files : sequence of sequence of str
            Import entries (``files``): each one file, or the ``.npy`` files of one chunk,
            as paths relative to the server's bucket. At most
            :data:`MAX_FILES_PER_REQUEST`; :func:`split_requests` splits more. Pass ``()``
            with ``object_urls`` for Zilliz Cloud.
        partition : str, optional
            ``partitionName``.
        options : mapping of str to str, optional
            ``options`` (e.g. ``{"timeout": "300s", "sep": ",", "nullkey": "\\\\N"}``);
            every value must be a str.
        object_urls : sequence of str, or of sequences of str, optional
            Zilliz Cloud ``objectUrls``: ``s3://``, ``gs://`` or Azure URLs of files or
            folders. A flat list becomes one URL per entry, as documented. At most
            :data:`ZILLIZ_MAX_FILES_PER_REQUEST` entries.
        access_key, secret_key : str, optional
            Zilliz Cloud ``accessKey`` / ``secretKey`` of the bucket; never shown in errors.
        session_token : str, optional
            Zilliz Cloud ``token``: a temporary session token of the bucket (with temporary
            keys, e.g. AWS STS); never shown in errors.

        Returns
        -------
        str
            The ``jobId``.

        Raises
        ------
        TypeError
            A value of the wrong type (e.g. an ``options`` value that is not a str); no
            request is sent.
        ValueError
            No entries, more entries than a request takes, or ``files`` and
            ``object_urls`` both given; no request is sent.
        MilvusRequestError
            The server refused the request, or it kept failing.
        """
        for name, value in (
            ("partition", partition),
            ("access_key", access_key),
            ("secret_key", secret_key),
            ("session_token", session_token),
        ):
            _check_str(name, value)
        for value in (access_key, secret_key, session_token):
            if value:
                self._add_secret(value)
        if not isinstance(collection, str):
            raise TypeError(f"collection must be a str, got {type(collection).__name__}")
        if not collection:
            raise ValueError("collection must not be empty")
        entries, urls = _checked_entries(files, object_urls)
        body: dict[str, Any] = {"collectionName": collection}
        given = {
            "files": entries,
            "partitionName": partition,
            "dbName": self._db_name,
            "objectUrls": urls,
            "accessKey": access_key,
            "secretKey": secret_key,
            "token": session_token,
        }
        body.update((key, value) for key, value in given.items() if value)
        if options is not None:
            body["options"] = self._options(options)
        body.update(self._cloud)
        data = self._post(CREATE_PATH, body)
        job_id = data.get("jobId")
        if isinstance(job_id, bool) or not isinstance(job_id, (str, int)) or job_id == "":
            raise MilvusRequestError(
                f"{CREATE_PATH} at {self._base}: the answer holds no jobId", endpoint=CREATE_PATH, status=200
            )
        return str(job_id)

    def describe(
        self, job_id: str, *, files: Sequence[Sequence[str]] = (), submitted_at: float | None = None
    ) -> ImportJob:
        """The state of one job (``POST …/describe``, or ``…/get_progress`` on Milvus < 2.4.13).

        Parameters
        ----------
        job_id : str
            The ``jobId`` :meth:`create` returned.
        files : sequence of sequence of str, optional
            The job's entries, kept in the returned record.
        submitted_at : float, optional
            ``time.monotonic()`` when the job was submitted; gives ``seconds``.

        Returns
        -------
        ImportJob
            With ``api="rest"``, the normalised and the verbatim state, progress, rows
            imported (``importedRows`` summed over ``details``, else the job's
            ``importedRows``, else ``totalRows`` once completed), the server's reason
            verbatim and per-file details.

        Raises
        ------
        MilvusRequestError
            The server refused the request (e.g. an unknown job id), or it kept failing.
        """
        if not isinstance(job_id, str) or not job_id:
            raise TypeError("job_id must be a non-empty str")
        kept = tuple(tuple(entry) for entry in _entries(files)) if files else ()
        body: dict[str, Any] = {"jobId": job_id, **self._cloud}
        if self._db_name:
            body["dbName"] = self._db_name
        path = self._progress_path
        data = self._post(path, body, missing_ok=path == DESCRIBE_PATH)
        if data is _MISSING:
            logger.info(
                "%s is absent at %s (Milvus < 2.4.13): using %s", DESCRIBE_PATH, self._base, GET_PROGRESS_PATH
            )
            self._progress_path = GET_PROGRESS_PATH
            data = self._post(GET_PROGRESS_PATH, body)
        seconds = time.monotonic() - submitted_at if submitted_at is not None else 0.0
        job = _job_of(data, job_id, kept, seconds)
        # the reason stays verbatim, but for the keys a server may quote back
        details = tuple(dataclasses.replace(d, reason=self._redact(d.reason)) for d in job.details)
        return dataclasses.replace(job, reason=self._redact(job.reason), details=details)

    def list_jobs(self, collection: str | None = None, *, page_size: int = 100) -> list[ImportJob]:
        """Every import job the server lists (``POST …/list``), all pages.

        Parameters
        ----------
        collection : str, optional
            Only the jobs of this collection (``collectionName``).
        page_size : int, default 100
            ``pageSize``; pages are fetched until one comes back shorter (or repeats
            jobs already seen, as Milvus, which lists all jobs at once, does).

        Returns
        -------
        list of ImportJob
            In the server's order, without files or details.

        Raises
        ------
        MilvusRequestError
            The server refused the request, or it kept failing.
        """
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be an int >= 1, got {page_size!r}")
        if collection is not None and not isinstance(collection, str):
            raise TypeError(f"collection must be a str, got {type(collection).__name__}")
        jobs: list[ImportJob] = []
        seen: set[str] = set()
        for page in range(1, _MAX_PAGES + 1):
            body: dict[str, Any] = {}
            if collection:
                body["collectionName"] = collection
            if self._db_name:
                body["dbName"] = self._db_name
            body.update(self._cloud)
            body["pageSize"] = page_size
            body["currentPage"] = page
            data = self._post(LIST_PATH, body)
            records = data.get("records", data.get("tasks"))
            if records is None:
                records = []
            if not isinstance(records, list):
                raise MilvusRequestError(
                    f"{LIST_PATH} at {self._base}: 'records' is not a list", endpoint=LIST_PATH, status=200
                )
            fresh = 0
            for record in records:
                if not isinstance(record, dict):
                    continue
                job_id = _text(record.get("jobId"))
                if job_id in seen:
                    continue
                seen.add(job_id)
                fresh += 1
                state = _text(record.get("state"))
                jobs.append(
                    ImportJob(
                        job_id=job_id,
                        api="rest",
                        files=(),
                        state=normalise_state(state),
                        server_state=state,
                        progress=_int_or_none(record.get("progress")) or 0,
                    )
                )
            if len(records) < page_size or fresh == 0:
                break
        return jobs

    # ------------------------------------------------------------------ internals

    def _add_secret(self, value: str) -> None:
        for secret in (value, *value.split(":", 1)[1:]):
            if secret and secret not in self._secrets:
                self._secrets.append(secret)
        self._secrets.sort(key=len, reverse=True)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @staticmethod
    def _options(options: Mapping[str, str]) -> dict[str, str]:
        if not isinstance(options, Mapping):
            raise TypeError(f"options must be a mapping of str to str, got {type(options).__name__}")
        out: dict[str, str] = {}
        for key, value in options.items():
            if not isinstance(key, str):
                raise TypeError(f"options keys must be str, got {type(key).__name__} {key!r}")
            if not isinstance(value, str):
                raise TypeError(
                    f"options[{key!r}] must be a str (the API takes a string map, e.g. "
                    f"'timeout': '300s'), got {type(value).__name__}"
                )
            out[key] = value
        return out

    def _headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "bulkwriter",
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._db_name:
            headers["DB-Name"] = self._db_name
        return headers

    def _attempt(self, path: str, payload: bytes) -> _Answer:
        """One POST; HTTP answers are returned, transport failures raise :class:`_Transient`.

        A TLS certificate that does not verify raises :class:`_Permanent`.
        """
        request = urllib.request.Request(
            self._base + path, data=payload, headers=self._headers(), method="POST"
        )
        status: int | None = None
        body = b""
        failure = ""
        permanent = False
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return _Answer(response.status, response.read())
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                body = exc.read()
            except (OSError, http.client.HTTPException):
                body = b""
            finally:
                exc.close()
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                permanent = True
                failure = "TLS certificate verification failed"
            else:
                failure = type(reason).__name__ if isinstance(reason, BaseException) else "connection failed"
        except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, cut answers
            failure = type(exc).__name__
        if permanent:
            raise _Permanent(failure)
        if status is None:
            raise _Transient(failure)
        return _Answer(status, body)

    def _post(self, path: str, body: dict[str, Any], *, missing_ok: bool = False) -> dict[str, Any]:
        """POST ``body`` to ``path`` under the retry policy; the answer's ``data`` object.

        With ``missing_ok``, an HTTP 404 returns :data:`_MISSING` instead of raising.
        """
        payload = orjson.dumps(body)
        policy = self._retry
        start = time.monotonic()
        attempts = 0

        def attempt() -> _Answer:
            nonlocal attempts
            attempts += 1
            answer = self._attempt(path, payload)
            if answer.status in TRANSIENT_STATUS:
                raise _Transient(f"HTTP {answer.status}", answer.status)
            return answer

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            what = exc.text if isinstance(exc, _Transient) else type(exc).__name__
            logger.warning(
                "POST %s%s: %s (attempt %d/%d), retrying in %.2fs",
                self._base,
                path,
                what,
                state.attempt_number,
                policy.max_attempts,
                state.upcoming_sleep,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts)
            | tenacity.stop_after_delay(policy.max_seconds),
            wait=tenacity.wait_exponential(multiplier=policy.initial_backoff, min=0, max=policy.max_backoff)
            + tenacity.wait_random(0, policy.jitter),
            retry=tenacity.retry_if_exception_type(_Transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        logger.debug("POST %s%s", self._base, path)
        gave_up: _Transient | None = None
        refused = ""
        answer: _Answer | None = None
        try:
            answer = retrying(attempt)
        except _Transient as exc:
            gave_up = exc
        except _Permanent as exc:
            refused = exc.text
        # raised outside the except blocks: no urllib error (whose text may hold a URL or a
        # header) is kept as __context__
        if refused:
            raise MilvusRequestError(f"POST {self._base}{path}: {refused}", endpoint=path)
        if gave_up is not None or answer is None:
            last = gave_up.text if gave_up is not None else "no answer"
            raise MilvusRequestError(
                f"POST {self._base}{path} still failing after {attempts} attempt(s) in "
                f"{time.monotonic() - start:.1f}s: {last}",
                endpoint=path,
                status=gave_up.status if gave_up is not None else None,
            )
        return self._data_of(path, answer, missing_ok)

    def _data_of(self, path: str, answer: _Answer, missing_ok: bool) -> dict[str, Any]:
        where = f"POST {self._base}{path}"
        status = answer.status
        parsed: object = None
        try:
            parsed = orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            parsed = None
        code = _int_or_none(parsed.get("code")) if isinstance(parsed, dict) else None
        message = self._redact(_text(parsed.get("message"))) if isinstance(parsed, dict) else ""
        server = f": code {code}: {message}" if code is not None else (f": {message}" if message else "")
        if status in _DENIED_STATUS:
            raise MilvusRequestError(
                f"{where}: the credentials were refused (HTTP {status}){server}; check token= (a Zilliz "
                "Cloud API key, or 'user:password' for Milvus) and its privileges",
                endpoint=path,
                status=status,
                code=code,
            )
        if status == 404 and missing_ok:
            return _MISSING
        if status == 404:
            raise MilvusRequestError(
                f"{where}: not found (HTTP 404){server}; is this the REST port of Milvus 2.4+ "
                "(19530) or the Zilliz Cloud controller?",
                endpoint=path,
                status=status,
                code=code,
            )
        if 300 <= status < 400:
            raise MilvusRequestError(
                f"{where}: the server redirected (HTTP {status}); give the final URI as uri=",
                endpoint=path,
                status=status,
            )
        if status != 200:
            raise MilvusRequestError(
                f"{where}: refused (HTTP {status}){server}", endpoint=path, status=status, code=code
            )
        if not isinstance(parsed, dict):
            raise MilvusRequestError(
                f"{where}: the answer is not a JSON object (HTTP 200, {len(answer.body)} bytes)",
                endpoint=path,
                status=status,
            )
        if code is None:
            raise MilvusRequestError(f"{where}: the answer holds no 'code'", endpoint=path, status=status)
        if code != 0:
            raise MilvusRequestError(
                f"{where}: the server refused the request: code {code}: {message}",
                endpoint=path,
                status=status,
                code=code,
            )
        data = parsed.get("data", {})
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise MilvusRequestError(f"{where}: 'data' is not a JSON object", endpoint=path, status=status)
        return data


#: Returned by ``_post(missing_ok=True)`` for an HTTP 404 (compared by identity).
_MISSING: dict[str, Any] = {}


def _file_of(detail: Mapping[str, Any]) -> FileProgress:
    state = _text(detail.get("state"))
    return FileProgress(
        file=_text(detail.get("fileName")),
        state=normalise_state(state),
        progress=_int_or_none(detail.get("progress")) or 0,
        imported_rows=_int_or_none(detail.get("importedRows")),
        total_rows=_int_or_none(detail.get("totalRows")),
        reason=_text(detail.get("reason")),
    )


def _job_of(
    data: Mapping[str, Any], job_id: str, files: tuple[tuple[str, ...], ...], seconds: float
) -> ImportJob:
    server_state = _text(data.get("state"))
    state = normalise_state(server_state)
    raw_details = data.get("details")
    details = (
        tuple(_file_of(d) for d in raw_details if isinstance(d, dict))
        if isinstance(raw_details, list)
        else ()
    )
    imported: int | None
    detail_rows = [d.imported_rows for d in details]
    if details and all(rows is not None for rows in detail_rows):
        imported = sum(rows for rows in detail_rows if rows is not None)
    elif _int_or_none(data.get("importedRows")) is not None:
        imported = _int_or_none(data.get("importedRows"))
    elif state == "completed":
        imported = _int_or_none(data.get("totalRows"))
    else:
        imported = None
    return ImportJob(
        job_id=_text(data.get("jobId")) or job_id,
        api="rest",
        files=files,
        state=state,
        server_state=server_state,
        progress=_int_or_none(data.get("progress")) or 0,
        imported_rows=imported,
        reason=_text(data.get("reason")),
        seconds=seconds,
        details=details,
    )
