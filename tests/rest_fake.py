"""A local fake of the Milvus REST v2 / Zilliz Cloud import-job API that checks every request.

Endpoints: ``/v2/vectordb/jobs/import/create``, ``/describe``, ``/get_progress`` and
``/list`` (POST only), answering the documented bodies (``engines-and-targets.md`` §5.1,
``target-formats.md`` §5; Zilliz Cloud "Create Import Jobs" v2 reference; Milvus
``internal/distributed/proxy/httpserver/request_v2.go`` ``ImportReq`` / ``JobIDReq``).

Every request is checked against the documented shape: POST, ``Content-Type:
application/json``, a JSON object body, the exact set of keys each endpoint allows, the
required keys, no ``null`` values and each key's type (``collectionName`` a non-empty str,
``files`` a list of 1..1,024 non-empty lists of non-empty str, ``options`` a str→str
object, ``pageSize`` / ``currentPage`` ints >= 1, ``jobId`` a non-empty str, ...), and
``DB-Name`` equal to ``dbName`` when both are sent. A request that breaks the shape is
recorded in :attr:`FakeMilvusRest.violations` and answered HTTP 400; the test fixture
asserts none were recorded, so a wrong body fails the test even if the client swallowed
the 400. With ``token`` set, ``Authorization: Bearer <token>`` is required (else HTTP 401,
code 1800, as Milvus answers).

Behaviours are scripted: :attr:`FakeMilvusRest.script` is a queue of :class:`Reply`
consumed one per request (HTTP status, a non-zero ``code``, a raw body, a dropped
connection, a delay), :attr:`FakeMilvusRest.plans` a queue of :class:`JobPlan` for the next
created jobs (states per describe call, rows per file, a failure reason).
"""

from __future__ import annotations

import collections
import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

CREATE = "/v2/vectordb/jobs/import/create"
DESCRIBE = "/v2/vectordb/jobs/import/describe"
GET_PROGRESS = "/v2/vectordb/jobs/import/get_progress"
LIST = "/v2/vectordb/jobs/import/list"

_CLOUD_KEYS = {"clusterId": str, "projectId": str, "regionId": str}
#: Allowed keys and their types, per endpoint (documented bodies; pymilvus 3.0.2 sends these).
ALLOWED: dict[str, dict[str, Any]] = {
    CREATE: {
        "collectionName": str,
        "dbName": str,
        "partitionName": str,
        "files": list,
        "options": dict,
        # Zilliz Cloud
        "objectUrl": str,
        "objectUrls": list,
        "accessKey": str,
        "secretKey": str,
        "token": str,
        "volumeName": str,
        "dataPaths": list,
        **_CLOUD_KEYS,
    },
    DESCRIBE: {"jobId": str, "dbName": str, **_CLOUD_KEYS},
    GET_PROGRESS: {"jobId": str, "dbName": str, **_CLOUD_KEYS},
    LIST: {"collectionName": str, "dbName": str, "pageSize": int, "currentPage": int, **_CLOUD_KEYS},
}
REQUIRED: dict[str, set[str]] = {
    CREATE: {"collectionName"},
    DESCRIBE: {"jobId"},
    GET_PROGRESS: {"jobId"},
    LIST: set(),
}
MAX_FILES = 1024
MAX_OBJECT_URLS = 1000

#: The default progression: one state per describe call, the last one repeated.
PROGRESSION: tuple[tuple[str, int], ...] = (
    ("Pending", 0),
    ("Importing", 30),
    ("Importing", 80),
    ("Completed", 100),
)


@dataclass
class Reply:
    """One scripted answer, used instead of the normal one for the next matching request.

    Attributes
    ----------
    status : int
        HTTP status to answer (200 with ``code`` for a Milvus error body).
    code : int or None
        A non-zero body ``code`` (answered with ``message``) when given.
    message : str
        The body ``message``.
    raw : bytes or None
        A raw body to send as is (``text/plain``), e.g. a non-JSON answer.
    drop : bool
        Close the connection without answering.
    delay : float
        Seconds to wait before answering.
    path : str or None
        Only a request to this path consumes the reply (None: any).
    times : int
        How many requests it answers.
    """

    status: int = 200
    code: int | None = None
    message: str = ""
    raw: bytes | None = None
    drop: bool = False
    delay: float = 0.0
    path: str | None = None
    times: int = 1


@dataclass
class JobPlan:
    """How a created job behaves over successive describe calls.

    Attributes
    ----------
    steps : tuple of (state, progress)
        One per describe call; the last one stays.
    rows : tuple of int
        Rows per entry (``importedRows`` / ``totalRows`` of its detail); entries beyond get
        ``default_rows``.
    reason : str
        The ``reason`` of a job whose last step is ``Failed`` (also on its first detail).
    job_imported_rows : bool
        Also send the job-level ``importedRows`` (newer Milvus).
    details : bool
        Send ``details`` at all.
    """

    steps: tuple[tuple[str, int], ...] = PROGRESSION
    rows: tuple[int, ...] = ()
    default_rows: int = 10
    reason: str = ""
    job_imported_rows: bool = False
    details: bool = True

    @classmethod
    def failing(cls, reason: str) -> JobPlan:
        """Pending → Importing(30) → Failed with ``reason``."""
        return cls(steps=(("Pending", 0), ("Importing", 30), ("Failed", 30)), reason=reason)


@dataclass
class FakeJob:
    job_id: str
    collection: str
    files: list[list[str]]
    plan: JobPlan
    calls: int = 0

    def describe(self) -> dict[str, Any]:
        state, progress = self.plan.steps[min(self.calls, len(self.plan.steps) - 1)]
        self.calls += 1
        rows = [
            self.plan.rows[i] if i < len(self.plan.rows) else self.plan.default_rows
            for i in range(len(self.files))
        ]
        failed = state == "Failed"
        reason = self.plan.reason if failed else ""
        details = []
        for i, (entry, n) in enumerate(zip(self.files, rows, strict=True)):
            done = n if state == "Completed" else n * progress // 100
            details.append(
                {
                    "fileName": ",".join(entry),
                    "fileSize": 1000 * n,
                    "state": state,
                    "progress": progress,
                    "completeTime": "2024-06-01T00:00:00Z" if state == "Completed" else "",
                    "reason": reason if i == 0 else "",
                    "importedRows": done,
                    "totalRows": n if state != "Pending" else 0,
                }
            )
        data: dict[str, Any] = {
            "jobId": self.job_id,
            "collectionName": self.collection,
            "fileName": ",".join(",".join(e) for e in self.files),
            "fileSize": sum(1000 * n for n in rows),
            "state": state,
            "progress": progress,
            "completeTime": "2024-06-01T00:00:00Z" if state == "Completed" else "",
            "reason": reason,
            "totalRows": sum(rows) if state != "Pending" else 0,
        }
        if self.plan.details:
            data["details"] = details
        if self.plan.job_imported_rows:
            data["importedRows"] = sum(d["importedRows"] for d in details)
        return data

    def record(self) -> dict[str, Any]:
        state, progress = self.plan.steps[min(max(self.calls - 1, 0), len(self.plan.steps) - 1)]
        return {"collectionName": self.collection, "jobId": self.job_id, "progress": progress, "state": state}


@dataclass(frozen=True)
class Seen:
    """One request as the fake received it."""

    path: str
    headers: dict[str, str]
    body: Any

    def __iter__(self) -> Iterator[Any]:  # (path, headers, body) unpacking
        return iter((self.path, self.headers, self.body))


def _entries_problem(key: str, value: object, limit: int) -> str | None:
    if not isinstance(value, list):
        return f"{key} must be a list of lists of str, got {type(value).__name__}"
    if not value:
        return f"{key} is empty"
    if len(value) > limit:
        return f"{key} has {len(value)} entries, more than {limit}"
    for i, entry in enumerate(value):
        if not isinstance(entry, list):
            return f"{key}[{i}] must be a list of str, got {type(entry).__name__}"
        if not entry:
            return f"{key}[{i}] is empty"
        for path in entry:
            if not isinstance(path, str) or not path:
                return f"{key}[{i}] holds {path!r}, not a non-empty str"
    return None


def _key_problems(path: str, body: dict[str, Any]) -> list[str]:
    """Unknown, missing, null and mistyped keys."""
    allowed = ALLOWED[path]
    problems = [f"unknown key {key!r}" for key in sorted(set(body) - set(allowed))]
    problems += [f"missing key {key!r}" for key in sorted(REQUIRED[path] - set(body))]
    for key, value in body.items():
        kind = allowed.get(key)
        if kind is None:
            continue
        if value is None:
            problems.append(f"{key} is null (omit absent keys)")
        elif kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"{key} must be an int, got {type(value).__name__}")
        elif not isinstance(value, kind):
            problems.append(f"{key} must be a {kind.__name__}, got {type(value).__name__}")
    return problems


def check_shape(path: str, headers: dict[str, str], body: object) -> list[str]:
    """Every way ``body`` (and its headers) breaks the documented shape of ``path``."""
    problems: list[str] = []
    ctype = headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        problems.append(f"Content-Type must be application/json, got {ctype!r}")
    if not isinstance(body, dict):
        return [*problems, f"body must be a JSON object, got {type(body).__name__}"]
    problems += _key_problems(path, body)
    if problems:
        return problems
    if path == CREATE:
        problems += _create_problems(body)
    elif path in (DESCRIBE, GET_PROGRESS) and not body["jobId"]:
        problems.append("jobId is empty")
    elif path == LIST:
        problems += [
            f"{k} must be >= 1, got {body[k]}" for k in ("pageSize", "currentPage") if body.get(k, 1) < 1
        ]
    db_header = headers.get("db-name")
    if db_header is not None and "dbName" in body and db_header != body["dbName"]:
        problems.append(f"DB-Name header {db_header!r} differs from dbName {body['dbName']!r}")
    return problems


def _source_problems(body: dict[str, Any]) -> list[str]:
    """``files`` / ``objectUrls`` / ``dataPaths``: exactly one, each well formed."""
    problems: list[str] = []
    sources = [k for k in ("files", "objectUrls", "objectUrl", "dataPaths") if k in body]
    if len(sources) != 1:
        problems.append(
            f"exactly one of files / objectUrls / objectUrl / dataPaths must be given, got {sources}"
        )
    for key, limit in (("files", MAX_FILES), ("objectUrls", MAX_OBJECT_URLS), ("dataPaths", MAX_OBJECT_URLS)):
        if key in body:
            problem = _entries_problem(key, body[key], limit)
            if problem:
                problems.append(problem)
            elif key == "objectUrls":
                problems += [
                    f"objectUrls[{i}] must hold one URL" for i, e in enumerate(body[key]) if len(e) != 1
                ]
    if "dataPaths" in body and "volumeName" not in body:
        problems.append("dataPaths needs volumeName")
    return problems


def _create_problems(body: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if not body["collectionName"]:
        problems.append("collectionName is empty")
    problems += _source_problems(body)
    cloud = any(k in body for k in ("objectUrls", "objectUrl", "dataPaths"))
    if cloud and "clusterId" not in body and not ("projectId" in body and "regionId" in body):
        problems.append("Zilliz Cloud imports need clusterId (or projectId and regionId)")
    if ("accessKey" in body) != ("secretKey" in body):
        problems.append("accessKey and secretKey go together")
    if ("projectId" in body) != ("regionId" in body):
        problems.append("projectId and regionId go together")
    options = body.get("options", {})
    problems += [
        f"options[{key!r}] must be a str, got {type(value).__name__}"
        for key, value in options.items()
        if not isinstance(value, str)
    ]
    return problems


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout test) leaves a broken pipe: expected, not shown."""


class FakeMilvusRest:
    """A fake Milvus REST v2 import API on ``127.0.0.1`` (see the module docstring).

    Parameters
    ----------
    token : str, optional
        When given, requests must carry ``Authorization: Bearer <token>``.
    describe_available : bool, default True
        False: ``/describe`` answers HTTP 404 (Milvus 2.4.0-2.4.12), only ``/get_progress``.
    paging : bool, default True
        False: ``/list`` ignores ``pageSize`` / ``currentPage`` and lists every job (as
        Milvus, whose ``/list`` takes no paging).

    Attributes
    ----------
    uri : str
        ``http://127.0.0.1:<port>``.
    requests : list of Seen
        Every request, ``(path, headers, body)``; headers with lower-case names.
    violations : list of str
        Every shape violation seen (the fixture asserts it is empty).
    script : deque of Reply
        Scripted answers, consumed first.
    plans : deque of JobPlan
        Plans of the next created jobs (default: :data:`PROGRESSION`, 10 rows per entry).
    jobs : dict of str to FakeJob
        Every job, by id, in creation order.
    """

    def __init__(
        self, *, token: str | None = None, describe_available: bool = True, paging: bool = True
    ) -> None:
        self.token = token
        self.describe_available = describe_available
        self.paging = paging
        self.requests: list[Seen] = []
        self.violations: list[str] = []
        self.script: collections.deque[Reply] = collections.deque()
        self.plans: collections.deque[JobPlan] = collections.deque()
        self.jobs: dict[str, FakeJob] = {}
        self._lock = threading.Lock()
        self._next_id = 450_000_000_000_000_000
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.uri = ""

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeMilvusRest:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._violation(f"GET {self.path}: the import API is POST only")
                fake._send(self, 405, b'{"code":1,"message":"method not allowed"}')

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = _Server(("127.0.0.1", 0), Handler)
        self._server = server
        self.uri = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # ------------------------------------------------------------------ helpers for tests

    def paths(self) -> list[str]:
        """The path of every request, in order."""
        return [r.path for r in self.requests]

    def bodies(self, path: str) -> list[Any]:
        """The body of every request to ``path``, in order."""
        return [r.body for r in self.requests if r.path == path]

    def add_jobs(self, n: int, collection: str, state: str = "Completed") -> list[str]:
        """Add ``n`` jobs of ``collection`` as if created earlier; their ids."""
        ids = []
        for _ in range(n):
            job = self._new_job(collection, [["preloaded.parquet"]], JobPlan(steps=((state, 100),)))
            ids.append(job.job_id)
        return ids

    # ------------------------------------------------------------------ request handling

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    def _new_job(self, collection: str, files: list[list[str]], plan: JobPlan) -> FakeJob:
        with self._lock:
            self._next_id += 1
            job = FakeJob(str(self._next_id), collection, files, plan)
            self.jobs[job.job_id] = job
        return job

    @staticmethod
    def _send(
        handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/json"
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _reply(
        self, handler: http.server.BaseHTTPRequestHandler, status: int, payload: dict[str, Any]
    ) -> None:
        self._send(handler, status, orjson.dumps(payload))

    def _scripted(self, path: str) -> Reply | None:
        with self._lock:
            for reply in self.script:
                if reply.path is None or reply.path == path:
                    reply.times -= 1
                    if reply.times <= 0:
                        self.script.remove(reply)
                    return reply
        return None

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        path = handler.path
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length", "0") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw
        with self._lock:
            self.requests.append(Seen(path, headers, body))
        if path not in ALLOWED:
            self._violation(f"POST {path}: no such endpoint")
            self._send(handler, 404, b"404 page not found", "text/plain")
            return
        # checked first, whatever is answered: a wrong body fails the test even when it
        # met a 401 or a 404
        problems = check_shape(path, headers, body)
        for problem in problems:
            self._violation(f"POST {path}: {problem}")
        if path == DESCRIBE and not self.describe_available:
            self._send(handler, 404, b"404 page not found", "text/plain")
            return
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            self._reply(handler, 401, {"code": 1800, "message": "user hasn't authenticated"})
            return
        if problems:
            self._reply(handler, 400, {"code": 1100, "message": "; ".join(problems)})
            return
        reply = self._scripted(path)
        if reply is not None:
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop:
                handler.close_connection = True
                return
            if reply.raw is not None:
                self._send(handler, reply.status, reply.raw, "text/plain")
            elif reply.code is not None:
                self._reply(handler, reply.status, {"code": reply.code, "message": reply.message})
            else:
                self._reply(
                    handler, reply.status, {"code": reply.status, "message": reply.message or "scripted"}
                )
            return
        self._reply(handler, 200, self._answer(path, body))

    def _answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path == CREATE:
            files = (
                body.get("files")
                or body.get("objectUrls")
                or body.get("dataPaths")
                or [[body.get("objectUrl")]]
            )
            with self._lock:
                plan = self.plans.popleft() if self.plans else JobPlan()
            job = self._new_job(body["collectionName"], files, plan)
            return {"code": 0, "data": {"jobId": job.job_id}}
        if path in (DESCRIBE, GET_PROGRESS):
            job = self.jobs.get(body["jobId"])
            if job is None:
                return {"code": 2100, "message": f"import job not found[jobID={body['jobId']}]"}
            with self._lock:
                return {"code": 0, "data": job.describe()}
        # LIST
        with self._lock:
            jobs = [
                j
                for j in self.jobs.values()
                if "collectionName" not in body or j.collection == body["collectionName"]
            ]
            records = [j.record() for j in jobs]
        if self.paging:
            size = body.get("pageSize", 10)
            page = body.get("currentPage", 1)
            records = records[(page - 1) * size : page * size]
        return {"code": 0, "data": {"records": records}}


# -------------------------------------------------------------- helpers of the REST tests


def entries(n: int) -> list[list[str]]:
    """``n`` one-file import entries, ``out/part-00000.parquet`` on."""
    return [[f"out/part-{i:05d}.parquet"] for i in range(n)]


def all_text(exc: BaseException) -> str:
    """Everything an error shows: str, repr, args and attributes of it and of its whole chain."""
    from bulkwriter.storage.retry import exception_chain

    parts = []
    for e in exception_chain(exc):
        parts += [str(e), repr(e), *(repr(a) for a in e.args)]
        parts += [repr(v) for v in vars(e).values()]
    return "\n".join(parts)


def assert_no_secret_in(text: str, *secrets: str) -> None:
    """No secret, nor the password half of a ``user:password`` token, is in ``text``."""
    for secret in secrets:
        for part in {secret, *secret.split(":", 1)[1:]}:
            assert part not in text, f"secret {part!r} leaked"
