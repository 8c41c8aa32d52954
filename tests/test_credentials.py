"""A credential never appears in an exception: text, repr, args, or anything chained to it.

Issue 15, item 3: a URL with user-info (``s3://KEY:SECRET@bucket/...``) or a secret in
``storage_options`` that a backend quotes in its own message must be redacted everywhere a
user (or a log) can see the exception.
"""

from __future__ import annotations

import socket
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fsspec.implementations.memory import MemoryFileSystem

import bulkwriter
from bulkwriter import RetryPolicy, StorageError

SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY"
KEY_ID = "AKIAEXAMPLEKEY1"
SCHEMA = {
    "fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 1}},
    ]
}
ONCE = RetryPolicy(max_attempts=1)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def _assert_clean(exc: BaseException, *secrets: str) -> None:
    shown = ["".join(traceback.format_exception(exc))]
    for e in _chain(exc):
        shown += [
            str(e),
            repr(e),
            repr(e.args),
            *map(str, vars(e).values() if hasattr(e, "__dict__") else ()),
        ]
    for text in shown:
        for secret in secrets:
            assert secret not in text, text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def s3_options() -> dict[str, Any]:
    return {"client_kwargs": {"endpoint_url": f"http://127.0.0.1:{_closed_port()}"}}


def _calls(url: str, options: dict[str, Any]) -> dict[str, Callable[[], object]]:
    rows = [{"id": 1, "v": [0.5]}]
    return {
        "write": lambda: bulkwriter.write(rows, url, schema=SCHEMA, storage_options=options, retry=ONCE),
        "inspect": lambda: bulkwriter.inspect(url, storage_options=options, retry=ONCE),
        "clean": lambda: bulkwriter.clean(url, storage_options=options, retry=ONCE),
    }


@pytest.mark.parametrize("call", ["write", "inspect", "clean"])
def test_user_info_in_an_s3_url_never_shows(call: str, s3_options: dict[str, Any]) -> None:
    url = f"s3://{KEY_ID}:{SECRET}@bucket/out"
    with pytest.raises(StorageError) as info:
        _calls(url, s3_options)[call]()
    _assert_clean(info.value, SECRET, KEY_ID)
    assert info.value.url is not None
    assert "***" in info.value.url
    assert info.value.operation


@pytest.mark.parametrize("call", ["write", "inspect"])
def test_storage_option_secrets_quoted_by_a_backend_never_show(call: str, s3_options: dict[str, Any]) -> None:
    options = {**s3_options, "key": KEY_ID, "secret": SECRET}
    with pytest.raises(StorageError) as info:
        _calls("s3://bucket/out", options)[call]()
    _assert_clean(info.value, SECRET)


class _Quoting(MemoryFileSystem):
    """A filesystem whose writes fail with a message that quotes its credential."""

    protocol = ("quoting",)

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        raise PermissionError(f"denied: signature of {self.storage_options['token']} rejected for {path}")

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if "w" in mode or "a" in mode or "x" in mode:
            raise PermissionError(f"denied: signature of {self.storage_options['token']} rejected for {path}")
        return super()._open(path, mode, **kwargs)


def test_a_backend_quoting_its_token_is_redacted_in_the_whole_chain() -> None:
    fs = _Quoting(token=SECRET, skip_instance_cache=True)
    with pytest.raises(StorageError) as info:
        bulkwriter.write([{"id": 1, "v": [0.5]}], "/quoted/out", schema=SCHEMA, filesystem=fs, retry=ONCE)
    _assert_clean(info.value, SECRET)
    assert "***" in str(info.value)
    cause = info.value.__cause__
    assert cause is not None
    assert "PermissionError" in str(cause)  # the original's type and (redacted) text are kept
