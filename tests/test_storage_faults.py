"""Storage faults: transient failures retried, persistent ones clean, crashes recoverable, clear errors.

Runs against moto S3, the GCS emulator and Azurite (``remote_store``) and, where the fault is
local-disk agnostic, a local folder too. Faults are injected the deterministic way of the
storage-emulator recipe §4a, adapted to how bulkwriter stores files: whole objects with
``fs.pipe_file``, and local Parquet files through ``fs.open(path, "wb")`` as they are encoded,
so the flaky wrapper replaces both on the filesystem instance; a failing call first leaves a
truncated object at the target (the worst a cut upload can do) and then raises
``ConnectionResetError`` wrapped the way backends wrap it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from emulators import (  # noqa: F401 - fixtures (the conftest block registers them too)
    AZURITE_KEY,
    Emulator,
    Store,
    az_options,
    azurite_fixture,
    free_port,
    gcs_emulator_fixture,
    moto_s3_fixture,
    remote_store_fixture,
    s3_options,
    start_emulator,
    store_fixture,
    unavailable,
)
from test_storage import SCHEMA, columns, expected_rows, read_rows, visible

import bulkwriter
from bulkwriter.errors import MissingDependencyError, StorageError
from bulkwriter.storage import MANIFEST_NAME, STAGING_DIR, RetryPolicy, is_transient

FAST = RetryPolicy(max_attempts=4, max_seconds=30, initial_backoff=0.01, max_backoff=0.05, jitter=0.01)


class Flaky:
    """Make ``fs.pipe_file`` fail: for staged part objects, ``fail_first`` times, or every call after ``ok_calls``.

    Only the uploads of data files into staging (``.../shards/...``) are touched: the lock,
    the journal and the manifest go through (the fault matrix, test_commit_faults.py, fails
    those).
    """

    def __init__(
        self,
        fs: Any,
        *,
        fail_first: int = 0,
        ok_calls: int | None = None,
        error: Callable[[], BaseException] | None = None,
    ) -> None:
        self.fs = fs
        self.real = fs.pipe_file
        self.fail_first = fail_first
        self.ok_calls = ok_calls
        self.calls = 0
        self.failures = 0
        self.error = error or self._reset

    @staticmethod
    def _reset() -> BaseException:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as cause:
            err = OSError("upload interrupted")
            err.__cause__ = cause
            return err

    def _fails(self) -> bool:
        self.calls += 1
        fail = self.failures < self.fail_first if self.ok_calls is None else self.calls > self.ok_calls
        if fail:
            self.failures += 1
        return fail

    def __call__(self, path: str, value: bytes, **kwargs: Any) -> Any:
        if "/shards/" not in path:
            return self.real(path, value, **kwargs)
        self._inside = True  # fsspec's default pipe_file opens the file: count it once
        try:
            if self._fails():
                self.real(path, value[: len(value) // 2])  # a truncated object lands at the target
                raise self.error()
            return self.real(path, value, **kwargs)
        finally:
            self._inside = False

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Replace ``pipe_file`` and, for files written as they are encoded, ``open(.., "wb")``."""
        real_open = self.fs.open
        self._inside = False

        def flaky_open(path: str, mode: str = "rb", **kwargs: Any) -> Any:
            f = real_open(path, mode, **kwargs)
            if mode != "wb" or self._inside or "/shards/" not in path or not self._fails():
                return f
            return _CutAtFirstWrite(f, self.error)

        monkeypatch.setattr(self.fs, "pipe_file", self)
        monkeypatch.setattr(self.fs, "open", flaky_open)


class _CutAtFirstWrite:
    """A file whose first write stores half of its bytes, then fails (a cut upload)."""

    def __init__(self, f: Any, error: Callable[[], BaseException]) -> None:
        self.f, self.error = f, error

    def __enter__(self) -> _CutAtFirstWrite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()

    def __getattr__(self, name: str) -> Any:  # closed, tell, ...: the real file's
        return getattr(self.f, name)

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.f.write(view[: len(view) // 2])
        raise self.error()


def test_transient_failures_are_retried_to_a_complete_output(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = Flaky(store.fs, fail_first=2)
    flaky.install(monkeypatch)
    result = bulkwriter.write(
        columns(30), store.path("out"), schema=SCHEMA, filesystem=store.fs, max_rows_per_file=10, retry=FAST
    )
    assert flaky.failures == 2
    assert flaky.calls == 3 + 2  # three parts, two of them re-sent once
    assert read_rows(store, "parquet", result) == expected_rows(30)
    assert visible(store, "out") == [
        MANIFEST_NAME,
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert not [p for p in store.listing("") if STAGING_DIR in p]


def test_persistent_failure_raises_and_leaves_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = Flaky(store.fs, ok_calls=2)  # two parts staged, then the store "goes down"
    flaky.install(monkeypatch)
    t0 = time.monotonic()
    with pytest.raises(StorageError) as info:
        bulkwriter.write(
            columns(50),
            store.url("out"),
            schema=SCHEMA,
            filesystem=store.fs,
            max_rows_per_file=10,
            retry=FAST,
        )
    assert time.monotonic() - t0 < 10
    message = str(info.value)
    # "upload" an object; local Parquet is written ("write") into staging as it is encoded
    assert ("write" if store.kind == "local" else "upload") + " part-00002.parquet" in message
    assert "still failing after 4 attempts" in message
    assert "/out" in message
    assert flaky.failures == 4
    assert store.listing("") == []  # nothing visible, staged objects (and the truncated ones) removed


def test_permanent_error_is_not_retried(remote_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = Flaky(remote_store.fs, ok_calls=0, error=lambda: PermissionError("Access Denied"))
    monkeypatch.setattr(remote_store.fs, "pipe_file", flaky)
    with pytest.raises(StorageError, match="access denied"):
        bulkwriter.write(
            columns(5), remote_store.url("out"), schema=SCHEMA, filesystem=remote_store.fs, retry=FAST
        )
    assert flaky.calls == 1
    assert remote_store.listing("") == []


def test_transient_classification_walks_the_cause_chain() -> None:
    class HttpError(Exception):
        def __init__(self, code: int) -> None:
            super().__init__(f"HTTP {code}")
            self.code = code

    def wrapped(inner: BaseException) -> BaseException:
        try:
            try:
                raise inner
            except BaseException as exc:
                raise RuntimeError("upload failed") from exc  # adlfs wraps like this
        except RuntimeError as outer:
            return outer

    assert is_transient(wrapped(ConnectionResetError()))
    assert is_transient(wrapped(TimeoutError()))
    assert is_transient(wrapped(HttpError(503)))
    assert is_transient(wrapped(HttpError(429)))
    assert not is_transient(wrapped(HttpError(403)))
    assert not is_transient(wrapped(FileNotFoundError("NoSuchBucket")))
    assert not is_transient(ValueError("bad"))


# --------------------------------------------------------------------------------------
# crash: a writer process SIGKILLed mid-write
# --------------------------------------------------------------------------------------

CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import bulkwriter

    schema = {"fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {"fieldName": "title", "dataType": "VarChar", "elementTypeParams": {"max_length": 64}},
        {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}}]}
    url, endpoint = sys.argv[1], sys.argv[2]
    opts = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}
    with bulkwriter.Writer(url, schema=schema, storage_options=opts, max_rows_per_file=10) as w:
        for start in range(0, 1000, 10):
            ids = np.arange(start, start + 10)
            w.write({"id": ids, "title": [f"t{i}" for i in ids],
                     "vec": np.arange(40, dtype=np.float32).reshape(10, 4) + start})
            print("staged", start, flush=True)
            time.sleep(0.05)
    """
)


def test_sigkill_mid_write_then_overwrite_recovers(moto_s3: Emulator, tmp_path: Path) -> None:
    import fsspec

    opts = s3_options(moto_s3.endpoint)
    fs = fsspec.filesystem("s3", **opts)
    bucket = f"crash-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    url = f"s3://{bucket}/data/out"
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), url, moto_s3.endpoint],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    staged = 0
    deadline = time.monotonic() + 60
    while staged < 5 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        staged += line.startswith("staged")
    os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=10)
    assert staged == 5, err
    # a pending multipart upload under the staging prefix, as a killed large upload leaves
    pending_key = f"data/{STAGING_DIR}/out/deadbeef0000/shards/0/part-00099.parquet"
    fs.call_s3("create_multipart_upload", Bucket=bucket, Key=pending_key)
    fs.invalidate_cache()
    everything = [str(p) for p in fs.find(bucket)]
    assert everything
    assert all(f"/{STAGING_DIR}/" in p for p in everything)  # only staged objects
    assert not fs.exists(f"{bucket}/data/out/{MANIFEST_NAME}")

    result = bulkwriter.write(
        columns(25), url, schema=SCHEMA, mode="overwrite", storage_options=opts, max_rows_per_file=10
    )
    fs.invalidate_cache()
    assert sorted(str(p) for p in fs.find(bucket)) == sorted(
        [f"{bucket}/data/out/{MANIFEST_NAME}"]
        + [f"{bucket}/data/out/part-0000{i}-{result.write_id}.parquet" for i in range(3)]
    )  # the killed writer's staging and its stale lock are gone too
    assert [u["Key"] for u in fs.list_multipart_uploads(bucket)] == []
    store = Store("s3", "s3", bucket, opts, fs)
    assert read_rows(store, "parquet", result) == expected_rows(25)


# --------------------------------------------------------------------------------------
# clear errors, fast: wrong credentials, missing bucket, unknown scheme, missing extra
# --------------------------------------------------------------------------------------

SECRET = "S3cr3t-Do-Not-Leak-7f3a9c"


@pytest.fixture(scope="module")
def moto_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, dict[str, str]]]:
    """A second moto server that checks credentials (INITIAL_NO_AUTH_ACTION_COUNT=3)."""
    try:
        import boto3
    except ImportError:
        unavailable("boto3 / moto[server] are not installed")
    port = free_port()
    try:
        emu = start_emulator(
            "moto-auth",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            "/moto-api/",
            port,
            tmp_path_factory.mktemp("moto-auth"),
            env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"},
        )
    except RuntimeError as exc:
        pytest.fail(f"moto (auth) did not start: {exc}", pytrace=False)
    try:
        iam = boto3.client(
            "iam",
            endpoint_url=emu.endpoint,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        iam.create_user(UserName="writer")
        iam.put_user_policy(
            UserName="writer",
            PolicyName="all",
            PolicyDocument=orjson.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ).decode(),
        )
        key = iam.create_access_key(UserName="writer")["AccessKey"]
        yield emu, {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        emu.stop()


def test_wrong_credentials_s3_fail_fast_without_leaking(moto_auth: tuple[Emulator, dict[str, str]]) -> None:
    import fsspec

    emu, creds = moto_auth
    good = s3_options(emu.endpoint, creds["key"], creds["secret"])
    bucket = f"auth-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("s3", skip_instance_cache=True, **good).mkdir(bucket)
    ok = bulkwriter.write(columns(3), f"s3://{bucket}/out", schema=SCHEMA, storage_options=good)
    assert ok.rows_written == 3
    bad = s3_options(emu.endpoint, creds["key"], SECRET)
    t0 = time.monotonic()
    with pytest.raises(StorageError) as info:
        bulkwriter.write(columns(3), f"s3://{bucket}/out2", schema=SCHEMA, storage_options=bad, retry=FAST)
    assert time.monotonic() - t0 < 10
    message = str(info.value)
    assert "access denied" in message
    assert f"s3://{bucket}/out2" in message
    assert "list the destination" in message
    assert SECRET not in message


def test_wrong_key_azure_fails_fast(azurite: Emulator) -> None:
    import fsspec

    container = f"c{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("az", **az_options(azurite.endpoint)).mkdir(container)
    bad_key = AZURITE_KEY[:-8] + "AAAAAAA="
    t0 = time.monotonic()
    with pytest.raises(StorageError) as info:
        bulkwriter.write(
            columns(3),
            f"az://{container}/out",
            schema=SCHEMA,
            storage_options=az_options(azurite.endpoint, bad_key),
            retry=FAST,
        )
    assert time.monotonic() - t0 < 10
    assert bad_key not in str(info.value)
    assert f"az://{container}/out" in str(info.value)


def test_missing_bucket_fails_fast(remote_store: Store) -> None:
    url = f"{remote_store.scheme}://no-such-{uuid.uuid4().hex[:10]}/out"
    t0 = time.monotonic()
    with pytest.raises(StorageError, match="not found") as info:
        bulkwriter.write(columns(3), url, schema=SCHEMA, storage_options=remote_store.options, retry=FAST)
    assert time.monotonic() - t0 < 10
    assert url in str(info.value)


def test_secrets_appear_nowhere(
    moto_s3: Emulator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec

    opts = s3_options(moto_s3.endpoint, "AKIA-test-key-id", SECRET)  # moto without auth accepts any key
    bucket = f"sec-{uuid.uuid4().hex[:12]}"
    fs = fsspec.filesystem("s3", **opts)
    fs.mkdir(bucket)
    caplog.set_level(logging.DEBUG, logger="bulkwriter")
    flaky = Flaky(fs, fail_first=1)
    monkeypatch.setattr(fs, "pipe_file", flaky)
    result = bulkwriter.write(
        columns(4), f"s3://{bucket}/out", schema=SCHEMA, storage_options=opts, retry=FAST
    )
    assert flaky.failures == 1  # the library got the same (cached) fs instance and retried
    manifest = fs.cat_file(f"{bucket}/out/{MANIFEST_NAME}").decode()
    w = bulkwriter.Writer(f"s3://{bucket}/out3", schema=SCHEMA, storage_options=opts)
    texts = [manifest, repr(result), result.summary(), str(result), repr(w), repr(w._txn), caplog.text]
    w.abort()
    with pytest.raises(StorageError) as info:
        bulkwriter.write(
            columns(1),
            f"s3://no-bucket-{uuid.uuid4().hex[:8]}/out",
            schema=SCHEMA,
            storage_options=opts,
            retry=FAST,
        )
    texts.append(str(info.value))
    assert "retrying" in caplog.text
    for text in texts:
        assert SECRET not in text


def test_unknown_scheme_is_a_clear_error() -> None:
    t0 = time.monotonic()
    with pytest.raises(StorageError, match="unknown storage scheme 'nosuch'"):
        bulkwriter.write(columns(1), "nosuch://bucket/out", schema=SCHEMA)
    assert time.monotonic() - t0 < 2


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("s3://b/out", "s3fs", "s3"),
        ("gs://b/out", "gcsfs", "gcs"),
        ("gcs://b/out", "gcsfs", "gcs"),
        ("az://c/out", "adlfs", "azure"),
        ("abfs://c/out", "adlfs", "azure"),
    ],
)
def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch, url: str, module: str, extra: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    t0 = time.monotonic()
    with pytest.raises(MissingDependencyError, match=rf"pip install 'bulkwriter\[{extra}\]'"):
        bulkwriter.write(columns(1), url, schema=SCHEMA)
    assert time.monotonic() - t0 < 2


def test_whole_bucket_destination_is_refused(remote_store: Store) -> None:
    with pytest.raises(StorageError, match="whole bucket"):
        bulkwriter.write(
            columns(1),
            f"{remote_store.scheme}://{remote_store.bucket}",
            schema=SCHEMA,
            storage_options=remote_store.options,
        )


def test_storage_options_and_filesystem_together_are_refused(remote_store: Store) -> None:
    with pytest.raises(ValueError, match="not both"):
        bulkwriter.Writer(
            remote_store.url("o"),
            schema=SCHEMA,
            storage_options=remote_store.options,
            filesystem=remote_store.fs,
        )


def test_local_piecewise_write_failing_midway_is_retried_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NumPy files reach a local disk as pieces (header, then column buffers): a write that
    dies after the first piece leaves a truncated staged file, and the retry rewrites it whole."""
    import fsspec
    import numpy as np

    fs = fsspec.filesystem("file")
    real_open = fs.open
    failures: list[str] = []

    class DiesAfterOnePiece:
        def __init__(self, f: Any) -> None:
            self.f, self.pieces = f, 0

        def __enter__(self) -> DiesAfterOnePiece:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

        def write(self, piece: Any) -> int:
            self.pieces += 1
            if self.pieces > 1:
                raise Flaky._reset()  # a transient error (connection reset: e.g. a network mount)
            written: int = self.f.write(piece)
            return written

    def flaky_open(path: str, mode: str = "rb", **kwargs: Any) -> Any:
        f = real_open(path, mode, **kwargs)
        if mode == "wb" and path.endswith("vec.npy") and len(failures) < 2:
            failures.append(path)
            return DiesAfterOnePiece(f)
        return f

    monkeypatch.setattr(fs, "open", flaky_open)
    result = bulkwriter.write(
        columns(30), str(tmp_path / "out"), schema=SCHEMA, format="numpy", filesystem=fs, retry=FAST
    )
    assert len(failures) == 2
    assert result.rows_written == 30
    folder = Path(result.files[0].path)
    expected = columns(30)
    np.testing.assert_array_equal(np.load(folder / "vec.npy", allow_pickle=False), expected["vec"])
    np.testing.assert_array_equal(np.load(folder / "id.npy", allow_pickle=False), expected["id"])
    assert not list(tmp_path.glob(f"{STAGING_DIR}*"))
