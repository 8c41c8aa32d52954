"""Where output goes: a URL or path plus ``storage_options`` (or a filesystem) to one fsspec location.

This module owns three things:

* resolving a destination (:func:`resolve`): any fsspec URL (``s3://``, ``gs://``/``gcs://``,
  ``az://``/``abfs://``, ``file://``, a plain path) with ``storage_options`` passed to fsspec
  exactly as pandas and pyarrow pass them, or an ``fsspec.AbstractFileSystem`` instance;
  a missing backend raises :class:`~bulkwriter.errors.MissingDependencyError` naming the
  extra (``bulkwriter[s3]``, ``[gcs]``, ``[azure]``), an unknown scheme a
  :class:`~bulkwriter.errors.StorageError` listing the known ones;
* the path forms each import API wants (:meth:`Location.key_of`, :meth:`Location.uri_of`):
  bucket-relative object keys for Milvus / Zilliz ``bulk_import``, full URIs such as
  ``s3://bucket/key`` for Pinecone and Zilliz object URLs (target-formats §5 and §9);
* keeping credentials out of every message (:class:`Redactor`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.registry import known_implementations
from fsspec.registry import registry as fsspec_registry

from bulkwriter._deps import import_optional
from bulkwriter.errors import StorageError
from bulkwriter.result import WrittenFile
from bulkwriter.storage.posix import PosixFileSystem

__all__ = ["BUCKET_PROTOCOLS", "Location", "RedactedCause", "Redactor", "redact_url", "resolve"]

#: Schemes whose first path component is a bucket (S3 and compatibles, GCS) or container (Azure).
BUCKET_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss"})
#: Scheme -> (module that implements it, bulkwriter extra that installs the module).
_BACKENDS: dict[str, tuple[str, str]] = {
    "s3": ("s3fs", "s3"),
    "s3a": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "az": ("adlfs", "azure"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
}
#: storage_options keys (substrings, lower case) whose string values are secrets.
_SECRET_KEY_PARTS = (
    "key",
    "secret",
    "token",
    "password",
    "credential",
    "sas",
    "conn_str",
    "connection_string",
)
#: storage_options values that look secret by key but are not (e.g. gcsfs ``token="anon"``).
_NOT_SECRET = frozenset({"anon", "google_default", "cache", "cloud", "browser", "true", "false", "none"})
_MIN_SECRET_LEN = 4
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s]+@")
_CONN_STR_PART_RE = re.compile(r"(?i)(AccountKey|SharedAccessSignature|SharedAccessKey)=([^;]+)")


_AZURE_SCHEMES = frozenset({"az", "abfs", "abfss"})


def _blob_endpoint(fs: fsspec.AbstractFileSystem) -> str | None:
    """``scheme://host[/account]`` of an adlfs filesystem's blob service, without query."""
    url = getattr(getattr(fs, "service_client", None), "url", None)
    if not isinstance(url, str) or "://" not in url:
        return None
    parts = urlsplit(url)
    return redact_url(f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/"))


_URL_USERINFO_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?P<userinfo>[^/@\s]+)@")


def redact_url(url: str) -> str:
    """Remove user-info (``user:password@``) from every URL in ``url``."""
    return _USERINFO_RE.sub(lambda m: m.group("scheme") + "***@", url)


class Redactor:
    """Replace every credential of a set of storage options by ``***`` in a text.

    Parameters
    ----------
    options : mapping, optional
        ``storage_options`` (nested dicts allowed, e.g. ``client_kwargs``). String values
        under keys that name a key, secret, token, password, credential, SAS or connection
        string are secrets; so is each ``AccountKey=``/``SharedAccessSignature=`` part of
        an Azure connection string.
    """

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self._secrets: set[str] = set()
        if options:
            self._collect(options)

    def add(self, options: Mapping[str, Any]) -> None:
        """Also hide the secrets of ``options``."""
        self._collect(options)

    def add_url(self, url: str) -> None:
        """Also hide the user-info of ``url`` (``scheme://user:password@...``) wherever it appears,
        with or without its scheme (a backend may quote it as part of a bucket name)."""
        for match in _URL_USERINFO_RE.finditer(url):
            userinfo = match.group("userinfo")
            self._secrets.add(userinfo)
            for part in userinfo.split(":"):
                if len(part) >= _MIN_SECRET_LEN:
                    self._secrets.add(part)

    def _collect(self, options: Mapping[str, Any]) -> None:
        for key, value in options.items():
            if isinstance(value, Mapping):
                self._collect(value)
            elif isinstance(value, str) and any(p in str(key).lower() for p in _SECRET_KEY_PARTS):
                if len(value) >= _MIN_SECRET_LEN and value.lower() not in _NOT_SECRET:
                    self._secrets.add(value)
                self._secrets.update(m.group(2) for m in _CONN_STR_PART_RE.finditer(value))

    def __call__(self, text: str) -> str:
        """Return ``text`` with every secret and URL user-info replaced by ``***``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return redact_url(text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


class RedactedCause(Exception):
    """Stands in the ``__cause__`` chain for a third-party exception: its type and text, redacted.

    Attributes
    ----------
    type_name : str
        The original's qualified class name, e.g. ``"botocore.exceptions.ClientError"``.
    """

    def __init__(self, type_name: str, text: str) -> None:
        super().__init__(f"{type_name}: {text}" if text else type_name)
        self.type_name = type_name

    @classmethod
    def of(cls, exc: BaseException, redact: Redactor, depth: int = 0) -> RedactedCause:
        """A redacted copy of ``exc`` and (up to 8 levels) of its own causes."""
        kind = type(exc)
        copy = cls(f"{kind.__module__}.{kind.__qualname__}", redact(str(exc)))
        inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if inner is not None and depth < 8:
            copy.__cause__ = cls.of(inner, redact, depth + 1)
        copy.__suppress_context__ = True
        return copy


@dataclass(frozen=True, repr=False)
class Location:
    """A resolved destination: filesystem, root path on it, and the scheme users see.

    Attributes
    ----------
    fs : fsspec.AbstractFileSystem
        The filesystem (one instance, shared with fsspec's instance cache).
    root : str
        Destination folder as a path on ``fs``: absolute for local disks, ``bucket/prefix``
        for object stores; never a trailing ``/``.
    scheme : str
        URL scheme as the user wrote it (``"s3"``, ``"gs"``, ``"az"``, ...); ``""`` for local.
    redact : Redactor
        Hides the credentials of this location in messages.
    """

    fs: fsspec.AbstractFileSystem
    root: str
    scheme: str
    redact: Redactor = field(default_factory=Redactor)

    @property
    def is_local(self) -> bool:
        """True for the local filesystem (renames are atomic; paths are absolute)."""
        return isinstance(self.fs, LocalFileSystem)

    @property
    def has_buckets(self) -> bool:
        """True when the first path component is a bucket or container."""
        return self.scheme in BUCKET_PROTOCOLS

    @property
    def bucket(self) -> str | None:
        """The bucket or container name, or None when the store has none (local disks)."""
        return self.root.split("/", 1)[0] if self.has_buckets else None

    @property
    def uri(self) -> str:
        """The destination as a URL (local: the absolute path), credentials removed."""
        return self.uri_of(self.root)

    def join(self, *parts: str) -> str:
        """A path on ``fs`` under the root."""
        return posixpath.join(self.root, *parts)

    def uri_of(self, path: str) -> str:
        """Full URI of ``path`` (a path on ``fs``): ``s3://bucket/key``; local: the path.

        This is the form Pinecone imports and Zilliz Cloud ``objectUrls`` take.
        """
        if self.is_local or not self.scheme:
            return path
        return redact_url(f"{self.scheme}://{path.lstrip('/')}")

    def import_uri_of(self, path: str) -> str:
        """The URL an import service reads ``path`` from (Pinecone ``uri``, Zilliz ``objectUrls``).

        Azure Blob storage is named by its HTTPS blob endpoint,
        ``https://<account>.blob.core.windows.net/<container>/<key>`` (the form the Zilliz
        Cloud import API and Pinecone's ``start_import`` document; target-formats.md §5, §8),
        taken from the filesystem's service endpoint without its query (no SAS token).
        Every other store uses :meth:`uri_of` (``s3://bucket/key``, ``gs://bucket/key``).
        """
        if self.scheme in _AZURE_SCHEMES:
            endpoint = _blob_endpoint(self.fs)
            if endpoint is not None:
                return f"{endpoint}/{path.lstrip('/')}"
        return self.uri_of(path)

    def key_of(self, path: str) -> str:
        """Bucket-relative key of ``path``: the form Milvus ``bulk_import`` ``files`` take.

        Local paths stay absolute (a local Milvus reads absolute paths); stores without
        buckets keep the path as it is.
        """
        if self.has_buckets:
            parts = path.lstrip("/").split("/", 1)
            return parts[1] if len(parts) == 2 else ""
        return path

    def written_file(self, rel: str, rel_import_paths: Iterable[str], rows: int, nbytes: int) -> WrittenFile:
        """Describe one committed part in every path form (see :class:`~bulkwriter.result.WrittenFile`).

        Parameters
        ----------
        rel : str
            The part's path relative to the root (``part-00000.parquet``, ``part-00000``).
        rel_import_paths : iterable of str
            Its import entry's paths relative to the root (the file, or each ``.npy``).
        rows, nbytes : int
            Rows and bytes of the part.
        """
        final = self.join(rel)
        paths = [self.join(p) for p in rel_import_paths]
        return WrittenFile(
            path=self.uri_of(final),
            rows=rows,
            bytes=nbytes,
            import_paths=tuple(self.key_of(p) for p in paths),
            uri=self.uri_of(final),
            import_uris=tuple(self.import_uri_of(p) for p in paths),
        )

    def __repr__(self) -> str:
        return f"Location({self.uri!r})"


def _protocol_of(url: str) -> str | None:
    protocol, _ = fsspec.core.split_protocol(url)
    return None if protocol is None else str(protocol)


def _check_protocol(protocol: str, url: str) -> None:
    """Import the backend of ``protocol`` (MissingDependencyError) or refuse an unknown one."""
    if protocol in _BACKENDS:
        module, extra = _BACKENDS[protocol]
        import_optional(module, extra=extra)
        return
    if protocol in known_implementations or protocol in fsspec_registry:
        return
    known = ", ".join(f"{p}://" for p in ("s3", "gs", "gcs", "az", "abfs", "file", "memory"))
    raise StorageError(
        f"unknown storage scheme {protocol!r} in {redact_url(url)!r}: use a local path or one of {known} "
        "(or any scheme an installed fsspec backend registers)"
    )


def resolve(
    path: Any,
    *,
    storage_options: Mapping[str, Any] | None = None,
    filesystem: fsspec.AbstractFileSystem | None = None,
) -> Location:
    """Resolve a destination to a :class:`Location`.

    Parameters
    ----------
    path : str or os.PathLike
        Local path, ``file://`` URL or any fsspec URL (``s3://bucket/prefix``,
        ``gs://bucket/prefix``, ``az://container/prefix``, ...). With ``filesystem``, a path
        on that filesystem (a leading ``scheme://`` is stripped).
    storage_options : mapping, optional
        Passed to fsspec as keyword arguments, as pandas and pyarrow do (credentials,
        ``client_kwargs={"endpoint_url": ...}`` for MinIO and other S3-compatible stores).
    filesystem : fsspec.AbstractFileSystem, optional
        Use this filesystem instance instead of building one from the URL.

    Raises
    ------
    MissingDependencyError
        The scheme's backend (s3fs, gcsfs, adlfs) is not installed; names the extra.
    StorageError
        Unknown scheme, or fsspec cannot build the filesystem from these options.
    ValueError
        Both ``storage_options`` and ``filesystem`` were given.
    """
    url = str(path.__fspath__() if hasattr(path, "__fspath__") else path)
    redact = Redactor(storage_options)
    redact.add_url(url)
    if filesystem is not None:
        if storage_options:
            raise ValueError("pass either storage_options or filesystem, not both")
        redact.add(getattr(filesystem, "storage_options", {}) or {})
        protocols = filesystem.protocol if isinstance(filesystem.protocol, tuple) else (filesystem.protocol,)
        scheme = _protocol_of(url) or str(protocols[0])
        root = str(filesystem._strip_protocol(url))
        return Location(filesystem, _clean_root(root), "" if scheme in ("file", "local") else scheme, redact)
    protocol = _protocol_of(url)
    if protocol is not None:
        _check_protocol(protocol, url)
    failure: BaseException | None = None
    try:
        fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except (ImportError, ValueError, TypeError) as exc:  # ImportError: a chained backend is missing
        failure = exc
    if failure is not None:  # raised outside the except block: the original is not kept as context
        what = "a backend is missing: " if isinstance(failure, ImportError) else ""
        error = StorageError(
            f"cannot open {redact(url)!r}: {what}{redact(str(failure))}", url=redact(url), operation="open"
        )
        raise error from RedactedCause.of(failure, redact)
    scheme = "" if protocol in (None, "file", "local") else protocol
    if type(fs) is LocalFileSystem:  # the same disk, with the atomic renames the commit needs
        fs = PosixFileSystem()
    return Location(fs, _clean_root(str(root)), scheme, redact)


def _clean_root(root: str) -> str:
    return root.rstrip("/") or root
