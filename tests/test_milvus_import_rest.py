"""``bulkwriter.milvus.import_files`` and ``bulkwriter import`` over REST v2 / Zilliz Cloud.

Against the local fake of the import-job API (``tests/rest_fake.py``), which records every
request that breaks the documented shape; the fixtures fail the test at teardown if any was
recorded. Zilliz Cloud cases write their files to the moto S3 emulator (``tests/emulators.py``)
so that ``objectUrls`` are the real URIs of a write.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rest_fake import CREATE, DESCRIBE, FakeMilvusRest, JobPlan, Reply, all_text, assert_no_secret_in, entries

import bulkwriter
import bulkwriter.milvus
from bulkwriter.cli import main
from bulkwriter.errors import ImportJobError, ImportVerificationError, InputError, MilvusRequestError
from bulkwriter.formats.base import FormatOptions
from bulkwriter.milvus import ImportJob, ImportReport, import_files
from bulkwriter.result import WriteResult
from bulkwriter.storage.retry import RetryPolicy
from bulkwriter.writer import Format

TOKEN = "root:Milvus-pa55word-7f3c"
WRONG_TOKEN = "root:wrong-pa55word-91ab"
API_KEY = "zilliz-api-key-0b7e5d2c9a41"
ACCESS_KEY = "AKIAFAKEACCESS7Q2Z"
SECRET_KEY = "s3cr3t/FAKE+secret+key+0042"
CLUSTER = "in01-0123456789abcdef"
FAST = RetryPolicy(max_attempts=4, initial_backoff=0, jitter=0, max_backoff=0)
#: A policy whose first retry would wait 2 s: a request answered within 1 s was not retried.
SLOW = RetryPolicy(max_attempts=5, initial_backoff=2, jitter=0, max_backoff=2)

SCHEMA: dict[str, list[dict[str, Any]]] = {
    "fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {
            "fieldName": "title",
            "dataType": "VarChar",
            "nullable": True,
            "elementTypeParams": {"max_length": 16},
        },
        {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}},
    ]
}
ROWS = [
    {"id": i, "title": None if i % 3 == 0 else f"t{i}", "vec": [i / 10, 0.0, 1.0, 2.0]} for i in range(25)
]
#: NumPy takes no nullable field.
NUMPY_SCHEMA = {"fields": [{k: v for k, v in f.items() if k != "nullable"} for f in SCHEMA["fields"]]}
NUMPY_ROWS = [{**row, "title": row["title"] or ""} for row in ROWS]
#: 25 rows, 10 per file: the row counts of the three files.
PER_FILE = (10, 10, 5)


@contextlib.contextmanager
def checked_fake(**kwargs: Any) -> Iterator[FakeMilvusRest]:
    """A started fake that fails the test if any request broke the documented shape."""
    with FakeMilvusRest(**kwargs) as fake:
        yield fake
        assert not fake.violations, "requests broke the documented shape:\n" + "\n".join(fake.violations)


@pytest.fixture
def rest_fake() -> Iterator[FakeMilvusRest]:
    """A fake Milvus REST v2 server requiring ``TOKEN``."""
    with checked_fake(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def zilliz_fake() -> Iterator[FakeMilvusRest]:
    """A fake Zilliz Cloud controller requiring ``API_KEY``."""
    with checked_fake(token=API_KEY) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _no_connection_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No connection setting of the machine leaks into a test (the CLI reads them)."""
    for name in (
        "MILVUS_URI",
        "MILVUS_TOKEN",
        "MILVUS_DB_NAME",
        "ZILLIZ_CLUSTER_ID",
        "ZILLIZ_ACCESS_KEY",
        "ZILLIZ_SECRET_KEY",
        "ZILLIZ_SESSION_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


def write_local(tmp_path: Path, fmt: Format = "parquet", **kwargs: Any) -> WriteResult:
    return bulkwriter.write(
        ROWS, tmp_path / f"out-{fmt}", schema=SCHEMA, format=fmt, max_rows_per_file=10, **kwargs
    )


def run(source: Any, fake: FakeMilvusRest, **kwargs: Any) -> ImportReport:
    """``import_files`` into ``docs`` of ``fake`` over REST, polling fast."""
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("progress", False)
    kwargs.setdefault("poll_interval", 0.01)
    return import_files(source, uri=fake.uri, collection="docs", api="rest", **kwargs)


def describes_of(fake: FakeMilvusRest, job_id: str) -> int:
    return sum(1 for body in fake.bodies(DESCRIBE) if body["jobId"] == job_id)


def unfinished_at_each_create(fake: FakeMilvusRest) -> list[int]:
    """Replay the requests: how many created jobs were not yet described as done at each create.

    The fake's jobs are in creation order, one per create (the client sends one request at a
    time); the state a describe answered is the plan's step for that call.
    """
    order = list(fake.jobs)
    created = 0
    calls: collections.Counter[str] = collections.Counter()
    unfinished: set[str] = set()
    at_create = []
    for seen in fake.requests:
        if seen.path == CREATE:
            at_create.append(len(unfinished))
            unfinished.add(order[created])
            created += 1
        elif seen.path == DESCRIBE:
            job_id = seen.body["jobId"]
            assert job_id in unfinished, f"job {job_id} described after it was done (or before created)"
            calls[job_id] += 1
            steps = fake.jobs[job_id].plan.steps
            state = steps[min(calls[job_id], len(steps)) - 1][0]
            if state in ("Completed", "Failed"):
                unfinished.discard(job_id)
    assert created == len(order)
    return at_create


# ---------------------------------------------------------------------------- happy path


def test_csv_write_imports_with_progress_and_its_options(rest_fake: FakeMilvusRest, tmp_path: Path) -> None:
    result = write_local(tmp_path, "csv", format_options=FormatOptions(csv_separator=";"))
    assert result.import_options == {"nullkey": "\\N", "sep": ";"}
    steps = (("Pending", 0), ("Importing", 40), ("Importing", 70), ("Completed", 100))
    rest_fake.plans.append(JobPlan(steps=steps, rows=PER_FILE))
    seen: list[list[ImportJob]] = []

    report = run(result, rest_fake, progress=seen.append, options={"timeout": "300s"})

    assert report.api == "rest"
    assert report.completed
    assert report.expected_rows == report.imported_rows == 25
    assert report.row_count_before is None  # REST has no row count to read
    (job,) = report.jobs
    assert job.job_id in rest_fake.jobs
    assert job.files == tuple(tuple(e) for e in result.import_batches[0])
    assert len(job.files) == 3
    assert job.state == "completed"
    assert job.server_state == "Completed"
    assert [j.files for j in report.jobs] == [job.files]

    # one callback per poll, each with the whole job list; progress rises to 100
    assert rest_fake.paths() == [CREATE, *[DESCRIBE] * 4]
    assert len(seen) == 4
    assert all(len(jobs) == 1 and jobs[0].job_id == job.job_id for jobs in seen)
    assert [(jobs[0].state, jobs[0].progress, jobs[0].imported_rows) for jobs in seen] == [
        ("pending", 0, 0),
        ("importing", 40, 4 + 4 + 2),
        ("importing", 70, 7 + 7 + 3),
        ("completed", 100, 25),
    ]

    assert rest_fake.bodies(CREATE) == [
        {
            "collectionName": "docs",
            "files": result.import_batches[0],
            "options": {"nullkey": "\\N", "sep": ";", "timeout": "300s"},
        }
    ]
    assert rest_fake.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert rest_fake.bodies(DESCRIBE) == [{"jobId": job.job_id}] * 4
    assert_no_secret_in(repr(report) + report.summary(), TOKEN)


def test_committed_path_imports_from_its_manifest(rest_fake: FakeMilvusRest, tmp_path: Path) -> None:
    result = write_local(tmp_path, "parquet")
    rest_fake.plans.append(JobPlan(steps=(("Completed", 100),), rows=PER_FILE))
    report = run(str(tmp_path / "out-parquet"), rest_fake)
    assert report.completed
    assert report.expected_rows == report.imported_rows == 25
    assert rest_fake.bodies(CREATE) == [{"collectionName": "docs", "files": result.import_batches[0]}]


# ---------------------------------------------------------------------------- failures


def test_failed_job_raises_with_the_servers_reason_verbatim(
    rest_fake: FakeMilvusRest, tmp_path: Path
) -> None:
    result = write_local(tmp_path)
    reason = "failed to parse row 17: field 'vec' dim 4 != 8 [file=part-00001.parquet]"
    rest_fake.plans.append(JobPlan.failing(reason))
    with pytest.raises(ImportJobError) as info:
        run(result, rest_fake)
    err = info.value
    (job_id,) = rest_fake.jobs
    assert err.job_id == job_id
    assert err.files == result.import_batches[0]
    assert err.state == "Failed"
    assert err.reason == reason
    assert reason in str(err)
    assert job_id in str(err)
    assert rest_fake.paths() == [CREATE, DESCRIBE, DESCRIBE, DESCRIBE]  # no poll after Failed


def test_a_failed_job_among_several_says_what_the_others_left(rest_fake: FakeMilvusRest) -> None:
    rest_fake.plans.append(JobPlan(steps=(("Completed", 100),)))
    rest_fake.plans.append(JobPlan.failing("row 7: bad dim"))
    with pytest.raises(ImportJobError) as failed:
        run([entries(3 * 1024)], rest_fake, max_concurrent_jobs=1, expected_rows=30_720)
    first, second = rest_fake.jobs
    assert failed.value.job_id == second
    assert failed.value.reason == "row 7: bad dim"
    assert (
        f"; of the other jobs, 1 completed (their rows are in the collection: {first}), "
        "0 still running on the server, 1 not submitted"
    ) in str(failed.value)
    assert rest_fake.paths().count(CREATE) == 2  # the third job was never sent


def test_nonzero_code_on_create_raises_without_polling(rest_fake: FakeMilvusRest, tmp_path: Path) -> None:
    rest_fake.script.append(Reply(code=100, message="collection not found[collection=docs]", path=CREATE))
    with pytest.raises(MilvusRequestError) as info:
        run(write_local(tmp_path), rest_fake)
    assert info.value.code == 100
    assert info.value.endpoint == CREATE
    assert "collection not found[collection=docs]" in str(info.value)
    assert rest_fake.paths() == [CREATE]
    assert rest_fake.jobs == {}


def test_5xx_is_retried_then_the_job_completes(rest_fake: FakeMilvusRest, tmp_path: Path) -> None:
    rest_fake.script.append(Reply(status=503, times=2, path=CREATE))
    rest_fake.script.append(Reply(status=502, path=DESCRIBE))
    rest_fake.plans.append(JobPlan(steps=(("Importing", 50), ("Completed", 100)), rows=PER_FILE))
    report = run(write_local(tmp_path), rest_fake)
    assert report.completed
    assert report.imported_rows == 25
    assert len(rest_fake.jobs) == 1
    # 2 refused creates, the created one; a 502'd describe retried, then Importing, Completed
    assert rest_fake.paths() == [CREATE] * 3 + [DESCRIBE] * 3


def test_401_fails_fast_and_leaks_no_token(rest_fake: FakeMilvusRest, tmp_path: Path) -> None:
    result = write_local(tmp_path)
    start = time.monotonic()
    with pytest.raises(MilvusRequestError) as info:
        run(result, rest_fake, token=WRONG_TOKEN, retry=SLOW)
    assert time.monotonic() - start < 1.5  # SLOW would have waited 2 s before a retry
    assert len(rest_fake.requests) == 1
    assert rest_fake.requests[0].headers["authorization"] == f"Bearer {WRONG_TOKEN}"
    assert info.value.status == 401
    assert info.value.code == 1800
    assert "credentials were refused" in str(info.value)
    assert_no_secret_in(all_text(info.value), WRONG_TOKEN, TOKEN)


def test_timeout_while_importing_raises_with_the_job_id(rest_fake: FakeMilvusRest, tmp_path: Path) -> None:
    rest_fake.plans.append(JobPlan(steps=(("Pending", 0), ("Importing", 20))))
    start = time.monotonic()
    with pytest.raises(ImportJobError) as info:
        run(write_local(tmp_path), rest_fake, timeout=0.3)
    elapsed = time.monotonic() - start
    (job_id,) = rest_fake.jobs
    assert info.value.reason == "timeout"
    assert info.value.job_id == job_id
    assert info.value.state == "Importing"
    assert job_id in str(info.value)
    assert 0.3 <= elapsed < 3
    assert describes_of(rest_fake, job_id) >= 3  # kept polling until the time ran out


def test_fewer_rows_imported_than_written(rest_fake: FakeMilvusRest, tmp_path: Path) -> None:
    result = write_local(tmp_path)
    short = JobPlan(steps=(("Completed", 100),), rows=(10, 10, 4))
    rest_fake.plans.extend([short, short])
    with pytest.raises(ImportVerificationError) as info:
        run(result, rest_fake)
    assert info.value.expected_rows == 25
    assert info.value.imported_rows == 24
    assert "24" in str(info.value)
    assert "25" in str(info.value)

    report = run(result, rest_fake, verify_rows=False)
    assert report.completed
    assert (report.expected_rows, report.imported_rows) == (25, 24)
    assert len(rest_fake.jobs) == 2


# ---------------------------------------------------------------------------- grouping


def test_more_than_1024_entries_go_in_three_jobs_in_order(rest_fake: FakeMilvusRest) -> None:
    given = entries(2100)
    batches = [given[:1500], given[1500:]]  # regrouped by 1,024, whatever the caller's grouping
    rest_fake.plans.extend(JobPlan(steps=(("Completed", 100),)) for _ in range(3))
    report = run(batches, rest_fake, expected_rows=21_000)
    sent = [body["files"] for body in rest_fake.bodies(CREATE)]
    assert [len(files) for files in sent] == [1024, 1024, 52]
    assert [entry for files in sent for entry in files] == given
    assert [len(j.files) for j in report.jobs] == [1024, 1024, 52]
    assert [j.job_id for j in report.jobs] == list(rest_fake.jobs)
    assert report.imported_rows == report.expected_rows == 21_000  # 10 rows per entry (fake default)


def test_at_most_max_concurrent_jobs_unfinished(rest_fake: FakeMilvusRest) -> None:
    given = entries(4 * 1024 + 3)  # 5 jobs
    done_after = (1, 3, 2, 1, 2)  # describe calls until each job is Completed
    rest_fake.plans.extend(
        JobPlan(steps=(("Importing", 50),) * (n - 1) + (("Completed", 100),)) for n in done_after
    )
    report = run([given], rest_fake, expected_rows=10 * len(given), max_concurrent_jobs=2)
    assert report.completed
    assert len(report.jobs) == 5
    assert [len(b["files"]) for b in rest_fake.bodies(CREATE)] == [1024] * 4 + [3]
    at_create = unfinished_at_each_create(rest_fake)
    assert max(at_create) == 1  # never a create while 2 jobs were unfinished
    assert at_create[:2] == [0, 1]  # the second job started before the first finished
    assert rest_fake.paths()[:2] == [CREATE, CREATE]
    for job_id, n in zip(rest_fake.jobs, done_after, strict=True):
        assert describes_of(rest_fake, job_id) == n  # no describe after Completed


def test_no_wait_returns_after_the_creates(rest_fake: FakeMilvusRest) -> None:
    report = run([entries(2000)], rest_fake, wait=False, max_concurrent_jobs=1, expected_rows=20_000)
    assert rest_fake.paths() == [CREATE, CREATE]  # every job submitted, none described
    assert [j.job_id for j in report.jobs] == list(rest_fake.jobs)
    assert [(j.state, j.server_state) for j in report.jobs] == [("pending", "submitted")] * 2
    assert report.imported_rows is None
    assert report.expected_rows == 20_000


def test_describe_job_and_list_jobs_later(rest_fake: FakeMilvusRest) -> None:
    rest_fake.plans.append(JobPlan(steps=(("Importing", 30), ("Completed", 100)), rows=(7, 3)))
    report = run([entries(2)], rest_fake, wait=False, expected_rows=10)
    (job_id,) = [j.job_id for j in report.jobs]
    connection = {"uri": rest_fake.uri, "token": TOKEN, "api": "rest", "retry": FAST}
    first = bulkwriter.milvus.describe_job(job_id, **connection)
    assert (first.job_id, first.state, first.progress) == (job_id, "importing", 30)
    second = bulkwriter.milvus.describe_job(job_id, **connection)
    assert (second.state, second.imported_rows) == ("completed", 10)
    assert [j.job_id for j in bulkwriter.milvus.list_jobs("docs", **connection)] == [job_id]
    assert bulkwriter.milvus.list_jobs("other", **connection) == []
    with pytest.raises(MilvusRequestError):
        bulkwriter.milvus.describe_job("no-such-job", **connection)


# ---------------------------------------------------------------------------- Zilliz Cloud


def run_zilliz(source: Any, fake: FakeMilvusRest, **kwargs: Any) -> ImportReport:
    kwargs.setdefault("token", API_KEY)
    kwargs.setdefault("cluster_id", CLUSTER)
    kwargs.setdefault("access_key", ACCESS_KEY)
    kwargs.setdefault("secret_key", SECRET_KEY)
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("progress", False)
    kwargs.setdefault("poll_interval", 0.01)
    return import_files(source, uri=fake.uri, collection="docs", **kwargs)


@pytest.fixture
def s3_parquet(s3_bucket: tuple[dict[str, Any], str], request: pytest.FixtureRequest) -> WriteResult:
    options, bucket = s3_bucket
    return bulkwriter.write(
        ROWS,
        f"s3://{bucket}/{request.node.name}/pq",
        schema=SCHEMA,
        max_rows_per_file=10,
        storage_options=options,
    )


def test_zilliz_parquet_in_s3_goes_as_object_urls(
    zilliz_fake: FakeMilvusRest, s3_parquet: WriteResult, s3_bucket: tuple[dict[str, Any], str]
) -> None:
    result = s3_parquet
    bucket = result.bucket
    assert bucket is not None
    zilliz_fake.plans.append(JobPlan(steps=(("Importing", 50), ("Completed", 100)), rows=PER_FILE))
    report = run_zilliz(result, zilliz_fake, storage_options=s3_bucket[0])
    assert report.completed
    assert report.api == "rest"
    assert report.imported_rows == report.expected_rows == 25
    urls = [[f.uri] for f in result.files]
    assert all(u.startswith(f"s3://{bucket}/") and u.endswith(".parquet") for [u] in urls)
    assert len(urls) == 3
    (job_id,) = zilliz_fake.jobs
    assert zilliz_fake.bodies(CREATE) == [
        {
            "collectionName": "docs",
            "objectUrls": urls,
            "accessKey": ACCESS_KEY,
            "secretKey": SECRET_KEY,
            "clusterId": CLUSTER,
        }
    ]
    assert zilliz_fake.bodies(DESCRIBE) == [{"jobId": job_id, "clusterId": CLUSTER}] * 2
    assert zilliz_fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert_no_secret_in(repr(report) + report.summary(), API_KEY, ACCESS_KEY, SECRET_KEY)


def test_zilliz_numpy_chunk_goes_as_its_folder(
    zilliz_fake: FakeMilvusRest, s3_bucket: tuple[dict[str, Any], str]
) -> None:
    options, bucket = s3_bucket
    result = bulkwriter.write(
        NUMPY_ROWS,
        f"s3://{bucket}/zz-numpy/np",
        schema=NUMPY_SCHEMA,
        format="numpy",
        max_rows_per_file=10,
        storage_options=options,
    )
    zilliz_fake.plans.append(JobPlan(steps=(("Completed", 100),), rows=PER_FILE))
    report = run_zilliz(result, zilliz_fake, storage_options=options)
    assert report.imported_rows == 25
    (body,) = zilliz_fake.bodies(CREATE)
    assert "files" not in body
    assert body["objectUrls"] == [
        [f"s3://{bucket}/zz-numpy/np/part-{i:05d}-{result.write_id}/"] for i in range(3)
    ]
    assert body["objectUrls"] == [[f.uri.rstrip("/") + "/"] for f in result.files]
    assert (body["accessKey"], body["secretKey"], body["clusterId"]) == (ACCESS_KEY, SECRET_KEY, CLUSTER)


def test_zilliz_errors_hold_no_secret(
    zilliz_fake: FakeMilvusRest, s3_parquet: WriteResult, s3_bucket: tuple[dict[str, Any], str]
) -> None:
    secrets = (API_KEY, ACCESS_KEY, SECRET_KEY)
    run_s3 = functools.partial(run_zilliz, storage_options=s3_bucket[0])
    # the server quotes the keys back
    zilliz_fake.script.append(
        Reply(code=65535, message=f"bucket refused key {ACCESS_KEY} / {SECRET_KEY}", path=CREATE)
    )
    with pytest.raises(MilvusRequestError) as refused:
        run_s3(s3_parquet, zilliz_fake)
    assert "bucket refused key *** / ***" in str(refused.value)
    # a failed job
    zilliz_fake.plans.append(JobPlan.failing("the bucket denied access to the object"))
    with pytest.raises(ImportJobError) as failed:
        run_s3(s3_parquet, zilliz_fake)
    assert failed.value.reason == "the bucket denied access to the object"
    assert failed.value.files == [[f.uri] for f in s3_parquet.files]
    # a wrong API key
    with pytest.raises(MilvusRequestError) as denied:
        run_s3(s3_parquet, zilliz_fake, token="zilliz-wrong-key-99")
    assert denied.value.status == 401
    for err in (refused.value, failed.value, denied.value):
        assert_no_secret_in(all_text(err), *secrets, "zilliz-wrong-key-99")
    assert zilliz_fake.paths() == [CREATE, CREATE, DESCRIBE, DESCRIBE, DESCRIBE, CREATE]


def test_a_failed_jobs_reason_quoting_the_bucket_keys_hides_them(
    zilliz_fake: FakeMilvusRest, s3_parquet: WriteResult, s3_bucket: tuple[dict[str, Any], str]
) -> None:
    zilliz_fake.plans.append(
        JobPlan.failing(f"access denied for {ACCESS_KEY} (secret {SECRET_KEY}) on the object")
    )
    with pytest.raises(ImportJobError) as failed:
        run_zilliz(s3_parquet, zilliz_fake, storage_options=s3_bucket[0])
    assert failed.value.reason == "access denied for *** (secret ***) on the object"  # else verbatim
    assert_no_secret_in(all_text(failed.value), API_KEY, ACCESS_KEY, SECRET_KEY)


def test_zilliz_needs_bucket_files_and_complete_ids(zilliz_fake: FakeMilvusRest, tmp_path: Path) -> None:
    local = write_local(tmp_path)
    with pytest.raises(InputError, match="bucket"):
        run_zilliz(local, zilliz_fake)
    with pytest.raises(InputError, match="bucket"):
        run_zilliz([entries(2)], zilliz_fake, expected_rows=20)  # bare entries have no URIs
    with pytest.raises(ValueError, match="region_id"):
        run_zilliz(local, zilliz_fake, cluster_id=None, project_id="proj-1")
    with pytest.raises(ValueError, match="grpc"):
        run_zilliz(local, zilliz_fake, api="grpc")
    assert zilliz_fake.requests == []


def test_zilliz_1000_entries_per_job(zilliz_fake: FakeMilvusRest) -> None:
    keys = [f"big/part-{i:05d}.parquet" for i in range(2001)]
    result = WriteResult(
        path="s3://bkt/big",
        format="parquet",
        files=(),
        rows_written=10 * len(keys),
        import_batches=[[[k] for k in keys[:1024]], [[k] for k in keys[1024:]]],
        import_uris=[[[f"s3://bkt/{k}"] for k in keys[:1024]], [[f"s3://bkt/{k}"] for k in keys[1024:]]],
        uri="s3://bkt/big",
        bucket="bkt",
    )
    zilliz_fake.plans.extend(JobPlan(steps=(("Completed", 100),)) for _ in range(3))
    report = run_zilliz(result, zilliz_fake, check_files=False)  # URIs of no real files
    sent = [body["objectUrls"] for body in zilliz_fake.bodies(CREATE)]
    assert [len(urls) for urls in sent] == [1000, 1000, 1]
    assert [u for urls in sent for u in urls] == [[f"s3://bkt/{k}"] for k in keys]
    assert report.imported_rows == report.expected_rows == 20_010
    assert all(body["clusterId"] == CLUSTER for body in zilliz_fake.bodies(DESCRIBE))


# ---------------------------------------------------------------------------- the command line


@pytest.fixture
def fast_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bulkwriter import`` polls every 10 ms and retries without waiting (the CLI has no flags)."""
    fast = functools.partial(import_files, poll_interval=0.01, retry=FAST)
    monkeypatch.setattr(bulkwriter.milvus, "import_files", fast)


def cli(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.usefixtures("fast_cli")
def test_cli_import_success_failure_and_shortfall(
    rest_fake: FakeMilvusRest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_local(tmp_path)
    out_dir = str(tmp_path / "out-parquet")
    argv = ["import", out_dir, "--uri", rest_fake.uri, "--api", "rest", "--collection", "docs"]
    argv += ["--token", TOKEN, "--no-progress"]

    rest_fake.plans.append(JobPlan(rows=PER_FILE))
    status, out, err = cli(capsys, argv)
    assert status == 0, err
    (job_id,) = rest_fake.jobs
    assert "import into 'docs' (rest): 1 job(s): 1 completed; rows expected 25, imported 25" in out
    assert f"job {job_id}: Completed (100%), 3 file(s)" in out

    reason = "failed to parse row 3: field 'vec' dim 4 != 8"
    rest_fake.plans.append(JobPlan.failing(reason))
    status, out2, err2 = cli(capsys, argv)
    assert status == 1
    assert reason in err2
    assert "import job" in err2

    rest_fake.plans.append(JobPlan(steps=(("Completed", 100),), rows=(10, 10, 1)))
    status, out3, err3 = cli(capsys, argv)
    assert status == 4
    assert "21" in err3
    assert "25" in err3

    assert len(rest_fake.jobs) == 3
    assert_no_secret_in(out + err + out2 + err2 + out3 + err3, TOKEN)


@pytest.mark.usefixtures("fast_cli")
def test_cli_import_reads_uri_and_token_from_the_environment(
    rest_fake: FakeMilvusRest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_local(tmp_path)
    monkeypatch.setenv("MILVUS_URI", rest_fake.uri)
    monkeypatch.setenv("MILVUS_TOKEN", TOKEN)
    rest_fake.plans.append(JobPlan(steps=(("Completed", 100),), rows=PER_FILE))
    argv = ["import", str(tmp_path / "out-parquet"), "--api", "rest", "--collection", "docs", "--no-progress"]
    status, out, err = cli(capsys, argv)
    assert status == 0, err
    assert "rows expected 25, imported 25" in out
    assert rest_fake.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert_no_secret_in(out + err, TOKEN)

    monkeypatch.setenv("MILVUS_TOKEN", WRONG_TOKEN)
    status, out, err = cli(capsys, argv)
    assert status == 1
    assert "credentials were refused" in err
    assert_no_secret_in(out + err, WRONG_TOKEN, TOKEN)


@pytest.mark.usefixtures("fast_cli")
def test_cli_zilliz_takes_the_bucket_keys_from_the_environment(
    zilliz_fake: FakeMilvusRest,
    s3_parquet: WriteResult,
    moto_s3: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import s3fs

    # the CLI reads the manifest with the machine's S3 settings: point them at moto
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("ZILLIZ_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("ZILLIZ_SECRET_KEY", SECRET_KEY)
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        argv = ["import", s3_parquet.path, "--uri", zilliz_fake.uri, "--collection", "docs"]
        argv += ["--token", API_KEY, "--cluster-id", CLUSTER, "--no-progress"]
        zilliz_fake.plans.append(JobPlan(steps=(("Completed", 100),), rows=PER_FILE))
        status, out, err = cli(capsys, argv)
        assert status == 0, err
        assert "rows expected 25, imported 25" in out
        (body,) = zilliz_fake.bodies(CREATE)
        assert body["objectUrls"] == [[f.uri] for f in s3_parquet.files]
        assert (body["accessKey"], body["secretKey"], body["clusterId"]) == (ACCESS_KEY, SECRET_KEY, CLUSTER)
        assert "files" not in body

        zilliz_fake.script.append(Reply(code=65535, message=f"denied {ACCESS_KEY}:{SECRET_KEY}", path=CREATE))
        status, out2, err2 = cli(capsys, argv)
        assert status == 1
        assert "denied ***:***" in err2
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
    assert_no_secret_in(out + err + out2 + err2, API_KEY, ACCESS_KEY, SECRET_KEY)


@pytest.mark.usefixtures("fast_cli")
def test_cli_a_project_without_a_region_is_a_usage_error(
    rest_fake: FakeMilvusRest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_local(tmp_path)
    argv = ["import", str(tmp_path / "out-parquet"), "--uri", rest_fake.uri, "--collection", "docs"]
    status, _, err = cli(capsys, [*argv, "--token", TOKEN, "--project-id", "proj-1", "--no-progress"])
    assert status == 2
    assert "needs both project_id and region_id" in err
    assert rest_fake.requests == []


def test_a_file_gone_since_the_write_stops_the_import_before_any_request(
    rest_fake: FakeMilvusRest, tmp_path: Path
) -> None:
    result = write_local(tmp_path)
    Path(result.files[1].path).unlink()
    with pytest.raises(InputError, match=r"1 file\(s\) to import are not there: .*part-00001"):
        run(result, rest_fake)
    with pytest.raises(InputError, match="not there"):
        run(str(tmp_path / "out-parquet"), rest_fake)  # the committed path: its manifest lists it
    assert rest_fake.requests == []
    rest_fake.plans.append(JobPlan(rows=(10, 5)))
    run(result, rest_fake, check_files=False, verify_rows=False)  # the caller's choice
    assert rest_fake.paths()[0] == CREATE


def test_a_bucket_file_gone_or_an_unlistable_bucket_stops_a_zilliz_import(
    zilliz_fake: FakeMilvusRest, s3_parquet: WriteResult, s3_bucket: tuple[dict[str, Any], str]
) -> None:
    import fsspec

    options = s3_bucket[0]
    fsspec.filesystem("s3", **options).rm(s3_parquet.files[0].uri)
    with pytest.raises(InputError, match="not there: " + s3_parquet.files[0].uri):
        run_zilliz(s3_parquet, zilliz_fake, storage_options=options)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    unreachable = {
        **options,
        "secret": "not-the-secret",
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
        "retries": 1,
    }
    with pytest.raises(InputError, match=r"cannot list .*storage_options") as refused:
        run_zilliz(s3_parquet, zilliz_fake, storage_options=unreachable)
    assert_no_secret_in(all_text(refused.value), "not-the-secret", SECRET_KEY, ACCESS_KEY)
    assert zilliz_fake.requests == []
