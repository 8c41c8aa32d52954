"""Conditional writes on object stores: create only if absent, replace only if unchanged.

The lock (:mod:`bulkwriter.storage.lock`) and the manifest write at commit use these, so
two writers can never both believe they own a destination or both commit on top of the
same manifest. What each store offers, and what is used:

=========  ==============================  ==================================================
store      create only if absent           replace only if unchanged
=========  ==============================  ==================================================
S3         ``If-None-Match: *``            ``If-Match: <ETag>`` (AWS since 2024-11; moto)
Azure      ``overwrite=False``             ``etag`` + ``MatchConditions.IfNotModified``
GCS        ``ifGenerationMatch=0``         not through gcsfs: the caller's version check
others     check, then write (exclusive    not available: the caller's version check
           only within this process)
=========  ==============================  ==================================================

Sources: Amazon S3 User Guide, "Conditional writes"; Azure Storage REST API, "Specifying
conditional headers for Blob service operations"; Google Cloud Storage, "Request
preconditions". fsspec spells the create as ``pipe_file(path, data, mode="create")`` on s3fs,
gcsfs and adlfs. A store that ignores the condition (some S3-compatible servers, the GCS
emulator) gets no protection from it; the version check at commit remains.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import fsspec
import fsspec.asyn

from bulkwriter.errors import BulkWriterError
from bulkwriter.storage.retry import exception_chain

__all__ = [
    "ABSENT",
    "ConditionFailed",
    "create_exclusive",
    "delete_if",
    "deletes_conditionally",
    "read",
    "replace_if",
    "token_of",
]

#: ``expect`` of :func:`replace_if` for "only if it does not exist yet".
ABSENT = "<absent>"
_GUARD = threading.Lock()  # makes check-then-create exclusive within this process
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "ConditionNotMet"})
_READ_ATTEMPTS = 5


class ConditionFailed(BulkWriterError):
    """The object changed (or appeared) since it was read: the conditional write was refused."""


def _kind(fs: fsspec.AbstractFileSystem) -> str:
    module = type(fs).__module__.split(".", 1)[0]
    return {"s3fs": "s3", "adlfs": "azure", "gcsfs": "gcs"}.get(module, "other")


def _is_precondition_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause chain) is a store's "precondition failed" (HTTP 412)."""
    for e in exception_chain(exc):
        response = getattr(e, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _PRECONDITION_CODES or status == 412:
                return True
        if getattr(e, "status_code", None) == 412 or type(e).__name__ == "ResourceModifiedError":
            return True
        if "pre-condition" in str(e) or "precondition" in str(e).lower():
            return True
    return False


def create_exclusive(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> str | None:
    """Create the object ``path`` holding ``data``; FileExistsError if it already exists.

    Returns the new object's version token when the store sends it back (S3's ETag), else None.
    """
    if _kind(fs) != "other":
        try:
            out: Any = fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            raise
        except Exception as exc:
            if _is_precondition_failure(exc):
                raise FileExistsError(path) from exc
            raise
        fs.invalidate_cache(path)
        token = out.get("ETag") if isinstance(out, dict) and _kind(fs) == "s3" else None
        return None if token is None else str(token)
    with _GUARD:
        fs.invalidate_cache(path)
        if fs.exists(path):
            raise FileExistsError(path)
        fs.pipe_file(path, data)
        fs.invalidate_cache(path)
    return None


def token_of(fs: fsspec.AbstractFileSystem, path: str) -> str | None:
    """The store's version token of ``path`` (ETag, generation), or None where it has none.

    Raises FileNotFoundError when ``path`` does not exist.
    """
    fs.invalidate_cache(path)
    info: dict[str, Any] = fs.info(path)
    kind = _kind(fs)
    value = {"s3": info.get("ETag"), "azure": info.get("etag"), "gcs": info.get("generation")}.get(kind)
    return None if value is None else str(value)


def read(fs: fsspec.AbstractFileSystem, path: str) -> tuple[bytes, str | None]:
    """The bytes of ``path`` and the version token they belong to (None where there is none).

    S3: one ``GetObject``, whose ETag belongs to the bytes it returns. Elsewhere the token
    is read before and after the bytes, until both agree.

    Raises FileNotFoundError when ``path`` does not exist.
    """
    kind = _kind(fs)
    if kind == "other":
        fs.invalidate_cache(path)
        return bytes(fs.cat_file(path)), None
    if kind == "s3":
        return _read_s3(fs, path)
    for _ in range(_READ_ATTEMPTS):
        before = token_of(fs, path)
        data = bytes(fs.cat_file(path))
        if token_of(fs, path) == before:
            return data, before
    raise ConditionFailed(f"{path} changed {_READ_ATTEMPTS} times while it was read")


def _read_s3(fs: Any, path: str) -> tuple[bytes, str | None]:
    bucket, key, _ = fs.split_path(path)

    async def get() -> tuple[bytes, str | None]:
        response = await fs._call_s3("get_object", Bucket=bucket, Key=key)
        body = response["Body"]
        try:
            data = await body.read()
        finally:
            body.close()
        etag = response.get("ETag")
        return bytes(data), None if etag is None else str(etag)

    result: tuple[bytes, str | None] = fsspec.asyn.sync(fs.loop, get)
    return result


def replace_if(fs: fsspec.AbstractFileSystem, path: str, data: bytes, expect: str | None) -> None:
    """Write ``data`` to ``path`` only if it is as the caller last read it.

    Parameters
    ----------
    expect : str or None
        :data:`ABSENT`: only if ``path`` does not exist. A version token from :func:`read`:
        only if ``path`` is still at that version (S3, Azure). None: unconditionally (the
        store has no tokens; the caller checked the version just before).

    Raises
    ------
    ConditionFailed
        The object changed, or exists when it should not.
    """
    kind = _kind(fs)
    try:
        if expect == ABSENT:
            create_exclusive(fs, path, data)
        elif expect is None:
            fs.pipe_file(path, data)
        elif kind == "s3":
            fs.pipe_file(path, data, IfMatch=expect)
        elif kind == "azure":
            from azure.core import MatchConditions

            fs.pipe_file(path, data, etag=expect, match_condition=MatchConditions.IfNotModified)
        else:
            fs.pipe_file(path, data)
    except FileExistsError:
        raise ConditionFailed(f"{path} exists") from None  # the store's reply may quote a credential
    except Exception as exc:
        if _is_precondition_failure(exc):
            raise ConditionFailed(f"{path} changed since it was read") from None
        raise
    finally:
        fs.invalidate_cache(path)


def deletes_conditionally(fs: fsspec.AbstractFileSystem) -> bool:
    """True when :func:`delete_if` with a token deletes only that version (S3 ``If-Match``)."""
    return _kind(fs) == "s3"


def delete_if(fs: fsspec.AbstractFileSystem, path: str, token: str | None) -> None:
    """Delete ``path`` if it is still at version ``token`` (S3 ``If-Match``); already gone is fine.

    Elsewhere (and for ``token=None``) the delete is unconditional: callers read the object
    just before, so only a writer racing in that moment could be affected.
    """
    fs.invalidate_cache(path)
    if _kind(fs) == "s3" and token is not None:
        bucket, key, _ = fs.split_path(path)
        try:
            fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=token)
        except FileNotFoundError:
            return
        except Exception as exc:
            if _is_precondition_failure(exc):
                return  # no longer the object we read: not ours to delete
            raise
        finally:
            fs.invalidate_cache(path)
        return
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(path)
    fs.invalidate_cache(path)
