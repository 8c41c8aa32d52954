"""Retries and error mapping for storage calls: transient errors retried, the rest fail fast.

Every storage call bulkwriter makes goes through :func:`call`, which

1. runs it under a :class:`RetryPolicy` with `tenacity <https://tenacity.readthedocs.io>`_:
   exponential backoff with jitter, bounded in attempts and in total time;
2. retries only *transient* errors (:func:`is_transient`): throttling (HTTP 429, S3
   ``SlowDown``), server errors (HTTP 500/502/503/504), connection resets/refusals and
   timeouts. Backends wrap these differently (botocore ``EndpointConnectionError``, aiohttp
   ``ClientOSError``, adlfs a plain ``RuntimeError`` around the Azure error), so the whole
   ``__cause__`` / ``__context__`` chain is walked and classes are matched by name (no
   backend is imported here);
3. turns what is left into a :class:`~bulkwriter.errors.StorageError` naming the URL and the
   operation, with credentials removed; missing buckets and denied access say so.

Retries are per whole object or per idempotent call (a put, a list copy, a list delete):
resumed uploads are not portable across backends (the GCS emulator cannot resume a cut
chunk), while re-sending an object is always correct.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from bulkwriter.errors import BulkWriterError, StorageError
from bulkwriter.storage.location import RedactedCause, Redactor

__all__ = [
    "RetryPolicy",
    "call",
    "caused_by",
    "exception_chain",
    "is_transient",
    "translate",
]

logger = logging.getLogger("bulkwriter.storage")
T = TypeVar("T")

#: HTTP statuses worth retrying: request timeout, throttling, server errors.
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Exception class names (any class in the MRO) that mean a transient network problem.
_TRANSIENT_NAMES = frozenset(
    {
        "EndpointConnectionError",  # botocore
        "ConnectionClosedError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ResponseStreamingError",
        "IncompleteReadError",
        "ClientOSError",  # aiohttp
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "ClientPayloadError",
        "ServiceRequestError",  # azure-core
        "ServiceResponseError",
        "IncompleteRead",  # http.client
        "RemoteDisconnected",
    }
)
#: S3 / Azure error codes that mean "try again".
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "ServerBusy",
        "OperationTimedOut",
        "RequestLimitExceeded",
        "TooManyRequests",
    }
)
_NOT_FOUND_NAMES = frozenset({"ResourceNotFoundError", "NoSuchBucket", "NoSuchKey"})
_DENIED_NAMES = frozenset(
    {"ClientAuthenticationError", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"}
)
_DENIED_STATUS = frozenset({401, 403})


@dataclass(frozen=True)
class RetryPolicy:
    """How transient storage errors are retried.

    Parameters
    ----------
    max_attempts : int, default 5
        Most tries of one call (1 = no retry).
    max_seconds : float, default 120.0
        Most seconds spent on one call, all tries and waits together; no new try starts
        after that.
    initial_backoff : float, default 0.25
        Seconds before the first retry; doubles each retry.
    max_backoff : float, default 10.0
        Longest wait between two tries, in seconds.
    jitter : float, default 0.25
        Up to this many random seconds added to each wait (spreads retries of parallel writers).

    Notes
    -----
    The filesystem's own client retries too (botocore, gcsfs, azure-core): a call counts as
    one try here however often its client retried inside it.
    """

    max_attempts: int = 5
    max_seconds: float = 120.0
    initial_backoff: float = 0.25
    max_backoff: float = 10.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.max_seconds <= 0 or self.initial_backoff < 0 or self.max_backoff < 0 or self.jitter < 0:
            raise ValueError("max_seconds must be > 0; backoffs and jitter must be >= 0")

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from or while handling, once each."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([current.__cause__, current.__context__])


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "status", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        meta = response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
        if isinstance(status, int):
            return status
    return None


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        code = err.get("Code") if isinstance(err, dict) else None
        if isinstance(code, str):
            return code
    code = getattr(exc, "error_code", None)
    return str(code) if code is not None else None


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or anything in its cause chain) is worth retrying.

    Transient: connection resets/refusals/aborts, timeouts, HTTP 408/429/5xx, S3 and Azure
    throttling codes, and the network errors of botocore, aiohttp and azure-core. A missing
    bucket or denied access anywhere in the chain makes it permanent.
    """
    if isinstance(exc, BulkWriterError):
        return False
    transient = False
    for e in exception_chain(exc):
        if isinstance(
            e, (FileNotFoundError, PermissionError, FileExistsError, IsADirectoryError, NotADirectoryError)
        ):
            return False
        names = _names(e)
        status = _status(e)
        code = _error_code(e)
        if names & (_NOT_FOUND_NAMES | _DENIED_NAMES) or status in _DENIED_STATUS or status == 404:
            return False
        if (
            isinstance(e, (ConnectionError, TimeoutError))
            or names & _TRANSIENT_NAMES
            or status in TRANSIENT_STATUS
            or code in _TRANSIENT_CODES
        ):
            transient = True
    return transient


def _retry_any(exc: BaseException) -> bool:
    return isinstance(exc, Exception) and not isinstance(exc, BulkWriterError)


def _reason(exc: BaseException) -> str:
    for e in exception_chain(exc):
        names = _names(e)
        status = _status(e)
        if isinstance(e, FileNotFoundError) or names & _NOT_FOUND_NAMES or status == 404:
            return "not found (no such bucket, container or path)"
        if isinstance(e, PermissionError) or names & _DENIED_NAMES or status in _DENIED_STATUS:
            return "access denied (check the credentials and permissions in storage_options)"
    return ""


def translate(
    exc: BaseException,
    *,
    url: str,
    operation: str,
    redact: Redactor,
    attempts: int = 1,
    seconds: float = 0.0,
    error: type[StorageError] = StorageError,
) -> StorageError:
    """An ``error`` for ``exc`` that names ``url`` and ``operation``, secrets removed.

    The message says "not found" or "access denied" when the chain shows it, and how many
    attempts were made when a transient error persisted. ``exc`` is chained as a
    :class:`RedactedCause` (never as is: a third-party message may hold a credential); only
    the classes of its chain are kept, for :func:`caused_by`.
    """
    reason = _reason(exc)
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if is_transient(exc) and attempts > 1:
        reason = f"still failing after {attempts} attempts in {seconds:.1f}s"
    text = f"{operation} failed at {url}: " + (f"{reason}: " if reason else "") + detail
    mapped = error(
        redact(text),
        url=redact(url),
        operation=redact(operation),
        cause_types=tuple(type(e) for e in exception_chain(exc)),
    )
    mapped.__cause__ = RedactedCause.of(exc, redact)
    mapped.__suppress_context__ = True
    return mapped


def caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """True when the :class:`StorageError` ``exc`` was translated from a ``kind`` (or its chain holds one)."""
    return isinstance(exc, StorageError) and any(issubclass(t, kind) for t in exc.cause_types)


def call(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    url: str,
    operation: str,
    redact: Redactor,
    error: type[StorageError] = StorageError,
    idempotent: bool = False,
) -> T:
    """Run ``fn()``, retrying transient errors under ``policy``; map the rest to ``error``.

    Parameters
    ----------
    fn : callable
        One whole, idempotent storage call (upload of one object, a list copy, ...).
    policy : RetryPolicy
        Attempts, total time and backoff.
    url : str
        Shown in the error (already free of credentials).
    operation : str
        What was tried, e.g. ``"upload part-00003.parquet"``; shown in the error.
    redact : Redactor
        Removes credentials from the error text.
    error : type, default StorageError
        The class raised (e.g. :class:`~bulkwriter.errors.CommitError`).
    idempotent : bool, default False
        ``fn`` may be repeated whatever happened (removing listed objects, reading): every
        error but a :class:`~bulkwriter.errors.BulkWriterError` is retried, not only the
        transient ones. Used for the clean-up steps of a commit and its rollback, where one
        failed delete must not leave a file behind.

    Raises
    ------
    StorageError
        (or ``error``) A permanent error, or a transient one that outlived the policy;
        raised ``from`` the original exception.
    """
    start = time.monotonic()
    attempts = 0

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        return fn()

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.warning(
            "%s",
            redact(
                f"{operation} at {url}: {type(exc).__name__} (attempt {state.attempt_number}/"
                f"{policy.max_attempts}), retrying in {state.upcoming_sleep:.2f}s"
            ),
        )

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts) | tenacity.stop_after_delay(policy.max_seconds),
        # initial * 2**n capped at max_backoff, plus up to `jitter` random seconds
        wait=tenacity.wait_exponential(multiplier=policy.initial_backoff, min=0, max=policy.max_backoff)
        + tenacity.wait_random(0, policy.jitter),
        retry=tenacity.retry_if_exception(_retry_any if idempotent else is_transient),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except BulkWriterError:
        raise
    except Exception as exc:  # noqa: BLE001 - every other error becomes a StorageError, below
        failure = exc
    # raised outside the except block, so the original is not kept as __context__ either
    raise translate(
        failure,
        url=url,
        operation=operation,
        redact=redact,
        attempts=attempts,
        seconds=time.monotonic() - start,
        error=error,
    )
