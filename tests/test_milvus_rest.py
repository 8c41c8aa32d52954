"""The REST v2 / Zilliz Cloud import-job client against a local fake that checks every request.

The fake (``tests/rest_fake.py``) records each request that breaks the documented shape;
the ``rest_fake`` fixture fails the test at teardown if any was recorded.
"""

from __future__ import annotations

import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from rest_fake import (
    CREATE,
    DESCRIBE,
    GET_PROGRESS,
    LIST,
    FakeMilvusRest,
    JobPlan,
    Reply,
    all_text,
    assert_no_secret_in,
    entries,
)

from bulkwriter.errors import MilvusRequestError
from bulkwriter.milvus.rest import (
    MAX_FILES_PER_REQUEST,
    RestImportClient,
    split_requests,
)
from bulkwriter.storage.retry import RetryPolicy

TOKEN = "root:Milvus-pa55word-7f3c"
WRONG_TOKEN = "root:wrong-pa55word-91ab"
ACCESS_KEY = "AKIAFAKEACCESS7Q2Z"
SECRET_KEY = "s3cr3t/FAKE+secret+key+0042"
FAST = RetryPolicy(max_attempts=4, initial_backoff=0, jitter=0, max_backoff=0)


@pytest.fixture
def rest_fake() -> Iterator[FakeMilvusRest]:
    """A fake Milvus REST v2 server requiring ``TOKEN``; fails the test on any shape violation."""
    with FakeMilvusRest(token=TOKEN) as fake:
        yield fake
        assert not fake.violations, "requests broke the documented shape:\n" + "\n".join(fake.violations)


def client_of(fake: FakeMilvusRest, **kwargs: Any) -> RestImportClient:
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("retry", FAST)
    return RestImportClient(fake.uri, **kwargs)


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    assert_no_secret_in(all_text(exc), *secrets)


# ---------------------------------------------------------------------------- happy paths


def test_create_then_describe_until_completed(rest_fake: FakeMilvusRest) -> None:
    rest_fake.plans.append(JobPlan(rows=(100, 250, 650)))
    client = client_of(rest_fake, db_name="analytics")
    files = [["a/1.parquet"], ["a/2.parquet"], ["b/x.npy", "b/y.npy"]]
    submitted = time.monotonic()
    job_id = client.create("docs", files, partition="p1", options={"timeout": "300s", "nullkey": "\\N"})
    assert job_id in rest_fake.jobs

    seen = []
    for _ in range(10):
        job = client.describe(job_id, files=files, submitted_at=submitted)
        seen.append((job.state, job.server_state, job.progress))
        if job.done:
            break
    assert seen == [
        ("pending", "Pending", 0),
        ("importing", "Importing", 30),
        ("importing", "Importing", 80),
        ("completed", "Completed", 100),
    ]
    assert job.api == "rest"
    assert job.job_id == job_id
    assert job.imported_rows == 1000
    assert job.files == (("a/1.parquet",), ("a/2.parquet",), ("b/x.npy", "b/y.npy"))
    assert job.seconds >= 0
    assert [(d.file, d.state, d.imported_rows, d.total_rows) for d in job.details] == [
        ("a/1.parquet", "completed", 100, 100),
        ("a/2.parquet", "completed", 250, 250),
        ("b/x.npy,b/y.npy", "completed", 650, 650),
    ]

    path, headers, body = rest_fake.requests[0]
    assert path == CREATE
    assert body == {
        "collectionName": "docs",
        "files": files,
        "partitionName": "p1",
        "dbName": "analytics",
        "options": {"timeout": "300s", "nullkey": "\\N"},
    }
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"] == "application/json"
    assert headers["db-name"] == "analytics"
    assert rest_fake.bodies(DESCRIBE)[0] == {"jobId": job_id, "dbName": "analytics"}


def test_imported_rows_while_importing_is_the_sum_of_details(rest_fake: FakeMilvusRest) -> None:
    rest_fake.plans.append(JobPlan(rows=(100, 300)))
    client = client_of(rest_fake)
    job_id = client.create("docs", entries(2))
    client.describe(job_id)  # Pending
    job = client.describe(job_id)  # Importing 30
    assert job.imported_rows == 30 + 90


def test_imported_rows_fall_back_to_job_level_and_total_rows(rest_fake: FakeMilvusRest) -> None:
    client = client_of(rest_fake)
    rest_fake.plans.append(
        JobPlan(steps=(("Completed", 100),), rows=(7, 8), details=False, job_imported_rows=True)
    )
    rest_fake.plans.append(JobPlan(steps=(("Completed", 100),), rows=(5, 6), details=False))
    rest_fake.plans.append(JobPlan(steps=(("Importing", 50),), details=False))
    with_job_rows, with_total_only, importing = (client.create("docs", entries(2)) for _ in range(3))
    assert client.describe(with_job_rows).imported_rows == 15
    assert client.describe(with_total_only).imported_rows == 11  # totalRows once Completed
    assert client.describe(importing).imported_rows is None


def test_failed_job_keeps_the_reason_verbatim(rest_fake: FakeMilvusRest) -> None:
    reason = "failed to parse row 17: field 'vec' dim 3 != 4 [file=a/1.parquet]"
    rest_fake.plans.append(JobPlan.failing(reason))
    client = client_of(rest_fake)
    job_id = client.create("docs", entries(1))
    states = [client.describe(job_id) for _ in range(3)]
    job = states[-1]
    assert [j.state for j in states] == ["pending", "importing", "failed"]
    assert job.done
    assert job.server_state == "Failed"
    assert job.reason == reason
    assert job.details[0].reason == reason


def test_get_progress_fallback_is_remembered() -> None:
    with FakeMilvusRest(token=TOKEN, describe_available=False) as fake:
        client = client_of(fake)
        job_id = client.create("docs", entries(1))
        assert client.describe(job_id).state == "pending"
        assert client.describe(job_id).state == "importing"
        assert fake.paths() == [CREATE, DESCRIBE, GET_PROGRESS, GET_PROGRESS]
        assert fake.bodies(GET_PROGRESS)[0] == {"jobId": job_id}
        assert not fake.violations


def test_list_pages_until_a_short_page(rest_fake: FakeMilvusRest) -> None:
    ids = rest_fake.add_jobs(250, "docs")
    rest_fake.add_jobs(3, "other")
    client = client_of(rest_fake)
    jobs = client.list_jobs("docs", page_size=100)
    assert [j.job_id for j in jobs] == ids
    assert {(j.state, j.server_state, j.progress, j.files) for j in jobs} == {
        ("completed", "Completed", 100, ())
    }
    assert rest_fake.bodies(LIST) == [
        {"collectionName": "docs", "pageSize": 100, "currentPage": page} for page in (1, 2, 3)
    ]


def test_list_of_a_server_that_ignores_paging_stops_on_repeated_jobs() -> None:
    with FakeMilvusRest(paging=False) as fake:
        ids = fake.add_jobs(150, "docs")
        jobs = RestImportClient(fake.uri, retry=FAST).list_jobs(page_size=100)
        assert [j.job_id for j in jobs] == ids
        assert len(fake.bodies(LIST)) == 2
        assert "authorization" not in fake.requests[0].headers
        assert not fake.violations


def test_zilliz_cloud_body_passes_the_shape_check(rest_fake: FakeMilvusRest) -> None:
    client = client_of(rest_fake, cluster_id="in01-0123456789abcdef", db_name="default")
    urls = ["s3://bucket/out/part-00000.parquet", "s3://bucket/out/part-00001.parquet"]
    job_id = client.create("docs", (), object_urls=urls, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    client.describe(job_id)
    client.list_jobs("docs")
    assert rest_fake.bodies(CREATE) == [
        {
            "collectionName": "docs",
            "dbName": "default",
            "objectUrls": [[u] for u in urls],
            "accessKey": ACCESS_KEY,
            "secretKey": SECRET_KEY,
            "clusterId": "in01-0123456789abcdef",
        }
    ]
    assert rest_fake.bodies(DESCRIBE) == [
        {"jobId": job_id, "clusterId": "in01-0123456789abcdef", "dbName": "default"}
    ]
    assert rest_fake.bodies(LIST)[0]["clusterId"] == "in01-0123456789abcdef"
    assert ACCESS_KEY not in repr(client)
    assert TOKEN not in repr(client)


def test_project_database_ids_go_in_every_body(rest_fake: FakeMilvusRest) -> None:
    client = client_of(rest_fake, project_id="proj-1", region_id="aws-us-west-2")
    job_id = client.create(
        "docs", (), object_urls=[["gs://b/folder/"]], access_key=ACCESS_KEY, secret_key=SECRET_KEY
    )
    client.describe(job_id)
    for body in rest_fake.bodies(CREATE) + rest_fake.bodies(DESCRIBE):
        assert body["projectId"] == "proj-1"
        assert body["regionId"] == "aws-us-west-2"


# ---------------------------------------------------------------------------- limits and arguments


def test_split_requests_and_the_1024_limit(rest_fake: FakeMilvusRest) -> None:
    many = entries(1025)
    requests = split_requests(many)
    assert [len(r) for r in requests] == [MAX_FILES_PER_REQUEST, 1]
    assert [e for r in requests for e in r] == many
    client = client_of(rest_fake)
    with pytest.raises(ValueError, match="split_requests"):
        client.create("docs", many)
    assert rest_fake.requests == []
    for request in requests:
        client.create("docs", request)
    assert [len(b["files"]) for b in rest_fake.bodies(CREATE)] == [1024, 1]
    assert split_requests([]) == []
    assert [len(r) for r in split_requests(entries(5), limit=2)] == [2, 2, 1]


@pytest.mark.parametrize(
    ("files", "error"),
    [
        (["a.parquet"], TypeError),  # flat list of str
        ("a.parquet", TypeError),
        ([[1]], TypeError),
        ([[]], ValueError),
        ([[""]], ValueError),
        ([], ValueError),
    ],
)
def test_bad_files_are_refused_before_any_request(rest_fake: FakeMilvusRest, files: Any, error: type) -> None:
    with pytest.raises(error):
        client_of(rest_fake).create("docs", files)
    assert rest_fake.requests == []


def test_options_with_a_non_str_value_raise_type_error_before_any_request(rest_fake: FakeMilvusRest) -> None:
    client = client_of(rest_fake)
    with pytest.raises(TypeError, match="timeout"):
        client.create("docs", entries(1), options={"timeout": 300})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        client.create("docs", entries(1), options={1: "x"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="not both"):
        client.create("docs", entries(1), object_urls=["s3://b/k"])
    assert rest_fake.requests == []


def test_uri_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="token=") as info:
        RestImportClient("http://root:Milvus-pa55word-7f3c@127.0.0.1:19530")
    assert "pa55word" not in str(info.value)
    with pytest.raises(ValueError, match="uri"):
        RestImportClient("127.0.0.1:19530")


# ---------------------------------------------------------------------------- errors and retries


def test_nonzero_code_raises_with_code_and_message(rest_fake: FakeMilvusRest) -> None:
    rest_fake.script.append(Reply(code=100, message="collection not found[collection=x]"))
    with pytest.raises(MilvusRequestError) as info:
        client_of(rest_fake).create("x", entries(1))
    err = info.value
    assert err.code == 100
    assert err.status == 200
    assert err.endpoint == CREATE
    assert "collection not found[collection=x]" in str(err)
    assert len(rest_fake.requests) == 1  # not retried


def test_unknown_job_id_is_a_request_error(rest_fake: FakeMilvusRest) -> None:
    with pytest.raises(MilvusRequestError) as info:
        client_of(rest_fake).describe("12345")
    assert info.value.code == 2100
    assert "import job not found" in str(info.value)


def test_503_twice_then_success_is_retried(rest_fake: FakeMilvusRest) -> None:
    rest_fake.script.append(Reply(status=503, times=2))
    job_id = client_of(rest_fake).create("docs", entries(1))
    assert job_id in rest_fake.jobs
    assert rest_fake.paths() == [CREATE] * 3
    assert len(rest_fake.jobs) == 1


def test_429_is_retried(rest_fake: FakeMilvusRest) -> None:
    rest_fake.script.append(Reply(status=429, path=LIST))
    assert client_of(rest_fake).list_jobs() == []
    assert rest_fake.paths() == [LIST, LIST]


def test_503_forever_gives_up_after_max_attempts(
    rest_fake: FakeMilvusRest, caplog: pytest.LogCaptureFixture
) -> None:
    rest_fake.script.append(Reply(status=503, times=100))
    with (
        caplog.at_level(logging.DEBUG, logger="bulkwriter.milvus"),
        pytest.raises(MilvusRequestError) as info,
    ):
        client_of(rest_fake).create("docs", entries(1), access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    assert len(rest_fake.requests) == FAST.max_attempts
    assert info.value.status == 503
    assert "4 attempt(s)" in str(info.value)
    assert_no_secret(info.value, TOKEN, ACCESS_KEY, SECRET_KEY)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "retrying" in logged
    for secret in (TOKEN, "Milvus-pa55word-7f3c", ACCESS_KEY, SECRET_KEY, "collectionName"):
        assert secret not in logged


def test_401_fails_fast_and_leaks_no_secret(
    rest_fake: FakeMilvusRest, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_of(rest_fake, token=WRONG_TOKEN, cluster_id="in01-x")
    with caplog.at_level(logging.DEBUG), pytest.raises(MilvusRequestError) as info:
        client.create(
            "docs", (), object_urls=["s3://b/k.parquet"], access_key=ACCESS_KEY, secret_key=SECRET_KEY
        )
    err = info.value
    assert len(rest_fake.requests) == 1
    assert err.status == 401
    assert err.code == 1800
    assert "credentials were refused" in str(err)
    assert err.__cause__ is None
    assert err.__context__ is None
    assert_no_secret(err, WRONG_TOKEN, ACCESS_KEY, SECRET_KEY)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (WRONG_TOKEN, "wrong-pa55word-91ab", ACCESS_KEY, SECRET_KEY):
        assert secret not in logged


def test_403_fails_fast(rest_fake: FakeMilvusRest) -> None:
    rest_fake.script.append(Reply(status=403, code=65535, message="permission denied"))
    with pytest.raises(MilvusRequestError, match="credentials were refused") as info:
        client_of(rest_fake).describe("1")
    assert info.value.status == 403
    assert len(rest_fake.requests) == 1


def test_server_message_echoing_a_secret_is_redacted(rest_fake: FakeMilvusRest) -> None:
    rest_fake.script.append(Reply(code=65535, message=f"bad credential {ACCESS_KEY}/{SECRET_KEY} for bucket"))
    with pytest.raises(MilvusRequestError) as info:
        client_of(rest_fake, cluster_id="c").create(
            "docs", (), object_urls=["s3://b/k"], access_key=ACCESS_KEY, secret_key=SECRET_KEY
        )
    assert "bad credential ***/*** for bucket" in str(info.value)
    assert_no_secret(info.value, ACCESS_KEY, SECRET_KEY)


@pytest.mark.parametrize("status", [400, 404, 422])
def test_other_4xx_are_not_retried(rest_fake: FakeMilvusRest, status: int) -> None:
    rest_fake.script.append(Reply(status=status, times=5))
    with pytest.raises(MilvusRequestError) as info:
        client_of(rest_fake).create("docs", entries(1))
    assert info.value.status == status
    assert len(rest_fake.requests) == 1


def test_non_json_answer_is_a_request_error(rest_fake: FakeMilvusRest) -> None:
    rest_fake.script.append(Reply(raw=b"<html>gateway</html>"))
    with pytest.raises(MilvusRequestError, match="not a JSON object"):
        client_of(rest_fake).create("docs", entries(1))
    assert len(rest_fake.requests) == 1


def test_dropped_connection_is_retried(rest_fake: FakeMilvusRest) -> None:
    rest_fake.script.append(Reply(drop=True))
    assert client_of(rest_fake).list_jobs() == []
    assert rest_fake.paths() == [LIST, LIST]


def test_timeout_is_retried(rest_fake: FakeMilvusRest) -> None:
    rest_fake.script.append(Reply(delay=0.05))
    assert client_of(rest_fake, timeout_s=0.01).list_jobs() == []
    assert rest_fake.paths() == [LIST, LIST]


def test_connection_refused_is_retried_then_raised() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = RestImportClient(f"http://127.0.0.1:{port}", token=TOKEN, retry=FAST)
    with pytest.raises(MilvusRequestError, match="4 attempt") as info:
        client.describe("1")
    assert info.value.status is None
    assert "ConnectionRefusedError" in str(info.value)
    assert_no_secret(info.value, TOKEN)


# ---------------------------------------------------------------------------- the fake itself


def _raw_post(fake: FakeMilvusRest, path: str, body: Any, content_type: str = "application/json") -> int:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    request = urllib.request.Request(
        fake.uri + path,
        data=data,
        headers={"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


@pytest.mark.parametrize(
    ("path", "body", "violation"),
    [
        (CREATE, {"collectionName": "c", "files": ["a.parquet"]}, "files[0] must be a list"),
        (
            CREATE,
            {"collectionName": "c", "files": [["a"]], "options": {"timeout": 300}},
            "options['timeout']",
        ),
        (CREATE, {"collectionName": "c", "files": [["a"]], "partitionName": None}, "null"),
        (CREATE, {"collectionName": "c", "files": [["a"]], "partition": "p"}, "unknown key 'partition'"),
        (CREATE, {"files": [["a"]]}, "missing key 'collectionName'"),
        (CREATE, {"collectionName": "c", "files": [[f"{i}"] for i in range(1025)]}, "more than 1024"),
        (CREATE, {"collectionName": "c", "objectUrls": [["s3://b/k"]]}, "need clusterId"),
        (DESCRIBE, {"jobId": 17}, "jobId must be a str"),
        (LIST, {"pageSize": "100"}, "pageSize must be an int"),
        (LIST, b"not json", "body must be a JSON object"),
    ],
)
def test_the_fake_records_shape_violations(
    rest_fake: FakeMilvusRest, path: str, body: Any, violation: str
) -> None:
    assert _raw_post(rest_fake, path, body) == 400
    assert any(violation in v for v in rest_fake.violations), rest_fake.violations
    rest_fake.violations.clear()  # so the fixture's teardown passes


def test_the_fake_checks_content_type(rest_fake: FakeMilvusRest) -> None:
    assert _raw_post(rest_fake, LIST, {}, content_type="text/plain") == 400
    assert any("Content-Type" in v for v in rest_fake.violations)
    rest_fake.violations.clear()
    assert _raw_post(rest_fake, LIST, {}) == 200
    assert not rest_fake.violations
