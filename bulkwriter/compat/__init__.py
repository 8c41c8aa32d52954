"""pymilvus-style writers on bulkwriter: swap one import line of the Zilliz "Import Data via SDKs" flow.

::

    # from pymilvus.bulk_writer import LocalBulkWriter, RemoteBulkWriter, BulkFileType
    from bulkwriter.compat import LocalBulkWriter, RemoteBulkWriter, BulkFileType

    writer = RemoteBulkWriter(
        schema=schema,                  # pymilvus CollectionSchema (or any bulkwriter schema)
        remote_path="bulk_data",        # folder under the bucket; a uuid folder is added
        connect_param=RemoteBulkWriter.S3ConnectParam(
            endpoint="s3.amazonaws.com", access_key=AK, secret_key=SK, bucket_name="my-bucket",
        ),
        file_type=BulkFileType.PARQUET,
    )
    for row in rows:
        writer.append_row(row)
    writer.commit()                     # raises on any failure (pymilvus only logs)
    writer.batch_files                  # [["bulk_data/<uuid>/part-00000.parquet"], ...]

Constructor arguments mirror pymilvus 3.0.2 (``pymilvus/bulk_writer/local_bulk_writer.py``,
``remote_bulk_writer.py``). Differences, all on the safe side:

* ``commit()`` raises (:class:`~bulkwriter.errors.ValidationError`,
  :class:`~bulkwriter.errors.StorageError`, :class:`~bulkwriter.errors.CommitError`) instead
  of logging in a worker thread; it is synchronous (``_async`` is accepted and ignored).
* Files of one ``commit()`` appear atomically (staged, manifest last); the remote writer
  uploads each file as soon as it is encoded, with retries, and needs no local folder.
* Rows are validated in batches: a bad row raises at the latest at ``commit()``, naming the
  field, the row's position and the value. Unknown keys go to ``$meta`` only when the
  schema has the dynamic field; NaN, overflow and duplicate primary keys are rejected.
* ``chunk_size`` is an exact cap on bytes per file (pymilvus: an estimate of buffer size).
* Leaving a ``with`` block cleanly commits rows not yet committed (pymilvus drops them);
  an exception aborts them.
"""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Callable, Mapping
from enum import IntEnum
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

from bulkwriter.formats.base import FormatOptions
from bulkwriter.result import WriteResult
from bulkwriter.schema.load import SchemaLike
from bulkwriter.storage.retry import RetryPolicy
from bulkwriter.writer import Format, Writer

__all__ = ["BulkFileType", "LocalBulkWriter", "RemoteBulkWriter"]

MB = 1024 * 1024
#: pymilvus's default bucket name (``bulk_writer/constants.py``).
DEFAULT_BUCKET_NAME = "a-bucket"


class BulkFileType(IntEnum):
    """Output formats, numbered as pymilvus ``BulkFileType`` (its members compare equal)."""

    NUMPY = 1
    NPY = 1
    JSON = 2
    JSON_RB = 2
    PARQUET = 3
    CSV = 4
    JSONL = 5


_FORMATS: dict[int, Format] = {1: "numpy", 2: "json", 3: "parquet", 4: "csv", 5: "jsonl"}


def _format_of(file_type: Any) -> Format:
    try:
        return _FORMATS[int(file_type)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"unsupported file_type {file_type!r}: use BulkFileType.PARQUET/JSON/JSONL/NUMPY/CSV"
        ) from None


def _options_of(config: Mapping[str, Any] | None) -> FormatOptions:
    config = config or {}
    unknown = set(config) - {"sep", "nullkey"}
    if unknown:
        raise ValueError(
            f"unsupported config keys {sorted(unknown)}: only 'sep' and 'nullkey' (CSV) are known"
        )
    return FormatOptions(csv_separator=str(config.get("sep", ",")), csv_null_token=config.get("nullkey"))


class LocalBulkWriter:
    """pymilvus ``LocalBulkWriter`` on :class:`bulkwriter.Writer`.

    Parameters
    ----------
    schema : pymilvus.CollectionSchema or any bulkwriter schema
        The collection schema.
    local_path : str or os.PathLike
        Parent folder; files go to ``<local_path>/<uuid>/`` (:attr:`data_path`).
    chunk_size : int, default 128 MiB
        Most bytes per file, exact (NumPy: per chunk folder).
    file_type : BulkFileType, default PARQUET
        Output format (pymilvus's own ``BulkFileType`` members work too).
    config : dict, optional
        ``{"sep": ..., "nullkey": ...}`` for CSV, as in pymilvus.
    **kwargs
        ``segment_size`` (pymilvus's old name of ``chunk_size``); bulkwriter extras:
        ``retry`` (:class:`~bulkwriter.storage.RetryPolicy`), ``milvus_version``.

    Raises
    ------
    SchemaError, FormatError
        The schema is impossible or the format cannot carry it.
    """

    def __init__(
        self,
        schema: SchemaLike,
        local_path: Any,
        chunk_size: int = 128 * MB,
        file_type: Any = BulkFileType.PARQUET,
        config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._uuid = str(uuid.uuid4())
        self._data_path: Any = pathlib.Path(local_path) / self._uuid
        self._setup(schema, str(self._data_path), chunk_size, file_type, config, kwargs, storage_options=None)

    def _setup(
        self,
        schema: SchemaLike,
        url: str,
        chunk_size: int,
        file_type: Any,
        config: Mapping[str, Any] | None,
        kwargs: dict[str, Any],
        storage_options: dict[str, Any] | None,
    ) -> None:
        segment_size = kwargs.pop("segment_size", 0)
        self._chunk_size = int(segment_size) if segment_size and segment_size > 0 else int(chunk_size)
        self._retry: RetryPolicy | None = kwargs.pop("retry", None)
        self._milvus_version = kwargs.pop("milvus_version", None)
        if kwargs:
            raise TypeError(f"unexpected keyword arguments {sorted(kwargs)}")
        self._schema = schema
        self._url = url
        self._storage_options = storage_options
        self._format = _format_of(file_type)
        self._options = _options_of(config)
        self._writer: Writer | None = None
        self._batch_files: list[list[str]] = []
        self._results: list[WriteResult] = []
        self._total_rows = 0
        self._new_writer(mode="error")  # validates schema/format now, as pymilvus does

    def _new_writer(self, mode: Any) -> Writer:
        self._writer = Writer(
            self._url,
            schema=self._schema,
            format=self._format,
            mode=mode,
            max_bytes_per_file=self._chunk_size,
            milvus_version=self._milvus_version,
            format_options=self._options,
            storage_options=self._storage_options,
            retry=self._retry,
        )
        return self._writer

    # -- pymilvus API -----------------------------------------------------------------
    def append_row(self, row: dict[str, Any], **kwargs: Any) -> None:
        """Add one row (validated in batches; see the module notes). The dict is not modified."""
        writer = self._writer or self._new_writer(mode="append")
        writer.append_row(row)

    def commit(self, **kwargs: Any) -> None:
        """Write the rows appended since the last commit, atomically; raise on any failure.

        Parameters
        ----------
        **kwargs
            ``call_back``: called with the list of files of each new import entry, as in
            pymilvus. ``_async`` is ignored (commits are synchronous).

        Raises
        ------
        ValidationError
            Rows break the schema; nothing of this commit is written.
        StorageError, CommitError
            Writing failed (after retries); nothing of this commit is visible.
        """
        call_back: Callable[[list[str]], Any] | None = kwargs.get("call_back")
        writer = self._writer
        if writer is None or writer.rows_received == 0:
            return
        self._writer = None
        try:
            result = writer.commit()
        except BaseException:
            writer.abort()
            raise
        self._results.append(result)
        self._total_rows += result.rows_written
        for f in result.files:
            files = list(f.import_paths)
            self._batch_files.append(files)
            if call_back is not None:
                call_back(files)

    def __enter__(self) -> LocalBulkWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        elif self._writer is not None:
            self._writer.abort()
            self._writer = None

    @property
    def uuid(self) -> str:
        """The uuid folder name under the parent path."""
        return self._uuid

    @property
    def data_path(self) -> Any:
        """Folder the files go to: ``pathlib.Path`` ``<local_path>/<uuid>``."""
        return self._data_path

    @property
    def batch_files(self) -> list[list[str]]:
        """One list per import entry (a file, or a NumPy chunk's ``.npy`` files), in order."""
        return [list(b) for b in self._batch_files]

    @property
    def chunk_size(self) -> int:
        """Most bytes per file."""
        return self._chunk_size

    @property
    def total_row_count(self) -> int:
        """Rows committed so far."""
        return self._total_rows

    @property
    def buffer_row_count(self) -> int:
        """Rows appended since the last commit."""
        return self._writer.rows_received if self._writer is not None else 0

    @property
    def results(self) -> list[WriteResult]:
        """The :class:`~bulkwriter.WriteResult` of each commit (bulkwriter extra)."""
        return list(self._results)


class RemoteBulkWriter(LocalBulkWriter):
    """pymilvus ``RemoteBulkWriter`` on :class:`bulkwriter.Writer`: straight to a bucket.

    Parameters
    ----------
    schema : pymilvus.CollectionSchema or any bulkwriter schema
        The collection schema.
    remote_path : str
        Folder under the bucket; files go to ``<remote_path>/<uuid>/`` (:attr:`data_path`).
    connect_param : RemoteBulkWriter.S3ConnectParam or RemoteBulkWriter.AzureConnectParam
        The bucket and its credentials (S3 and S3-compatible stores such as MinIO or GCS
        with HMAC keys; Azure Blob). For native GCS use :class:`bulkwriter.Writer` with
        ``gs://``.
    chunk_size : int, default 1 GiB
        Most bytes per file, exact.
    file_type, config, **kwargs
        As for :class:`LocalBulkWriter`; ``local_path`` is accepted and ignored (nothing is
        written to local disk).

    Raises
    ------
    StorageError
        The bucket does not exist or the credentials are refused (checked at once).
    MissingDependencyError
        ``bulkwriter[s3]`` or ``bulkwriter[azure]`` is not installed.
    """

    class S3ConnectParam:
        """S3 / S3-compatible connection, arguments as pymilvus's (``endpoint`` is host[:port])."""

        def __init__(
            self,
            bucket_name: str = DEFAULT_BUCKET_NAME,
            endpoint: str | None = None,
            access_key: str | None = None,
            secret_key: str | None = None,
            secure: bool = False,
            enable_virtual_style_endpoint: bool = False,
            session_token: str | None = None,
            region: str | None = None,
            http_client: Any = None,
            credentials: Any = None,
        ) -> None:
            if http_client is not None or credentials is not None:
                raise ValueError(
                    "http_client and credentials (MinIO client objects) are not supported; pass keys"
                )
            self._bucket_name = bucket_name
            self._endpoint = endpoint
            self._access_key = access_key
            self._secret_key = secret_key
            self._secure = secure
            self._enable_virtual_style_endpoint = enable_virtual_style_endpoint
            self._session_token = session_token
            self._region = region

        def __repr__(self) -> str:  # never the keys
            return f"S3ConnectParam(bucket_name={self._bucket_name!r}, endpoint={self._endpoint!r})"

        def to_url_and_options(self, folder: str) -> tuple[str, dict[str, Any]]:
            """The ``s3://`` URL of ``folder`` and s3fs ``storage_options``."""
            options: dict[str, Any] = {}
            if self._access_key is not None:
                options["key"] = self._access_key
            if self._secret_key is not None:
                options["secret"] = self._secret_key
            if self._session_token is not None:
                options["token"] = self._session_token
            client: dict[str, Any] = {}
            if self._endpoint:
                endpoint = self._endpoint
                if "://" not in endpoint:
                    endpoint = f"{'https' if self._secure else 'http'}://{endpoint}"
                client["endpoint_url"] = endpoint
            if self._region:
                client["region_name"] = self._region
            if client:
                options["client_kwargs"] = client
            if self._enable_virtual_style_endpoint:
                options["config_kwargs"] = {"s3": {"addressing_style": "virtual"}}
            return f"s3://{self._bucket_name}/{folder}", options

    ConnectParam = S3ConnectParam  # pymilvus keeps this alias for legacy code

    class AzureConnectParam:
        """Azure Blob connection, arguments as pymilvus's."""

        def __init__(
            self,
            container_name: str,
            conn_str: str,
            account_url: str | None = None,
            credential: str | dict[str, str] | None = None,
            upload_chunk_size: int = 8 * 1024 * 1024,
            upload_concurrency: int = 4,
        ) -> None:
            self._container_name = container_name
            self._conn_str = conn_str
            self._account_url = account_url
            self._credential = credential
            self._upload_chunk_size = upload_chunk_size
            self._upload_concurrency = upload_concurrency

        def __repr__(self) -> str:  # never the connection string or key
            return f"AzureConnectParam(container_name={self._container_name!r})"

        def to_url_and_options(self, folder: str) -> tuple[str, dict[str, Any]]:
            """The ``az://`` URL of ``folder`` and adlfs ``storage_options``."""
            options: dict[str, Any] = {
                "blocksize": self._upload_chunk_size,
                "max_concurrency": self._upload_concurrency,
            }
            if self._conn_str:
                options["connection_string"] = self._conn_str
            elif self._account_url:
                host = urlparse(self._account_url).hostname or ""
                options["account_name"] = host.split(".", 1)[0]
                options["account_host"] = urlparse(self._account_url).netloc
                if isinstance(self._credential, str):
                    options["account_key"] = self._credential
                elif isinstance(self._credential, Mapping):
                    options.update(
                        {k: v for k, v in self._credential.items() if k in ("account_key", "sas_token")}
                    )
            else:
                raise ValueError("AzureConnectParam needs conn_str or account_url")
            return f"az://{self._container_name}/{folder}", options

    def __init__(
        self,
        schema: SchemaLike,
        remote_path: str,
        connect_param: S3ConnectParam | AzureConnectParam | None,
        chunk_size: int = 1024 * MB,
        file_type: Any = BulkFileType.PARQUET,
        config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("local_path", None)  # pymilvus stages locally; bulkwriter uploads directly
        if connect_param is None:
            raise ValueError("connect_param is required (S3ConnectParam or AzureConnectParam)")
        self._uuid = str(uuid.uuid4())
        folder = "/".join(p for p in (str(remote_path).strip("/"), self._uuid) if p)
        self._data_path = pathlib.PurePosixPath("/") / folder
        url, options = connect_param.to_url_and_options(folder)
        self._setup(schema, url, chunk_size, file_type, config, kwargs, storage_options=options)

    @property
    def data_path(self) -> Any:
        """Bucket-relative folder as pymilvus reports it: ``PurePosixPath('/<remote_path>/<uuid>')``."""
        return self._data_path

    @property
    def batch_files(self) -> list[list[str]]:
        """One list of bucket-relative keys per import entry: ``bulk_import`` ``files`` as they are."""
        return [list(b) for b in self._batch_files]
