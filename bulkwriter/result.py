"""What a write produced: files, rows, bytes and the import requests to submit."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["WriteResult", "WrittenFile"]


@dataclass(frozen=True)
class WrittenFile:
    """One committed import file, or one NumPy chunk folder.

    Attributes
    ----------
    path : str
        Full path (local) or URL (``s3://bucket/key``) of the file or folder.
    rows : int
        Rows it holds.
    bytes : int
        Bytes on storage (for a NumPy folder, the sum of its ``.npy`` files).
    import_paths : tuple of str
        The paths one Milvus import entry takes: the file itself, or every ``.npy`` of the
        folder. Local destinations: absolute paths. Object stores: bucket-relative keys
        (``prefix/part-00000.parquet``), the form Milvus / Zilliz ``bulk_import`` ``files``
        and pymilvus ``utility.do_bulk_insert`` take (target-formats §5).
    uri : str
        Full URI of the file or folder (``s3://bucket/prefix/part-00000.parquet``,
        ``gs://...``, ``az://container/...``); local destinations: the absolute path.
    import_uris : tuple of str
        ``import_paths`` as full URIs: what Pinecone imports and Zilliz Cloud ``objectUrls``
        take (target-formats §9).
    """

    path: str
    rows: int
    bytes: int
    import_paths: tuple[str, ...]
    uri: str = ""
    import_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteResult:
    """The outcome of a committed write.

    Attributes
    ----------
    path : str
        The destination folder: absolute path (local) or URL (object stores), never with
        credentials.
    format : str
        Format name.
    files : tuple of WrittenFile
        Files written by this write, in order.
    rows_written : int
        Rows in those files.
    import_batches : list of list of list of str
        Import requests, each the ``files`` argument of one Milvus ``bulk_import`` request
        (a list of entries, each entry a list of paths: one file, or the ``.npy`` set of a
        chunk), at most ``files_per_request`` entries (1,024 on Milvus, Milvus "Import
        Data" limits). pymilvus ``utility.do_bulk_insert`` takes one entry at a time.
        Paths are absolute for local destinations and bucket-relative keys for object
        stores (the bucket is :attr:`bucket`).
    import_options : dict of str to str
        Options every import request must carry (e.g. CSV ``nullkey``).
    manifest_path : str
        Where the manifest ``_bulkwriter.json`` was written.
    rows_read : int
        Rows received, valid or not.
    rows_rejected : int
        Rows left out by ``on_error="skip"`` (0 otherwise).
    rejects_path : str or None
        The rejects file (JSON Lines, :mod:`bulkwriter.rejects`), when rows were rejected.
    uri : str
        The destination folder as a full URI (``s3://bucket/prefix``); local: the path.
    import_uris : list of list of list of str
        ``import_batches`` with full URIs instead of keys, same grouping: for Pinecone and
        Zilliz Cloud ``objectUrls``.
    bucket : str or None
        Bucket or container the keys of ``import_batches`` are relative to; None locally.
    write_id : str
        The id of the write that committed these files (part of every file name,
        ``part-<index>-<write id><suffix>``); for :func:`bulkwriter.inspect`, the last
        commit of the output.
    """

    path: str
    format: str
    files: tuple[WrittenFile, ...]
    rows_written: int
    import_batches: list[list[list[str]]]
    import_options: dict[str, str] = field(default_factory=dict)
    manifest_path: str = ""
    rows_read: int = 0
    rows_rejected: int = 0
    rejects_path: str | None = None
    uri: str = ""
    import_uris: list[list[list[str]]] = field(default_factory=list)
    bucket: str | None = None
    write_id: str = ""

    @property
    def bytes_written(self) -> int:
        """Bytes of all files written."""
        return sum(f.bytes for f in self.files)

    def summary(self) -> str:
        """A few human lines: files, rows, bytes and import requests."""
        lines = [
            f"{self.format}: {len(self.files)} file(s), {self.rows_written:,} rows, "
            f"{self.bytes_written:,} bytes -> {self.path}",
            f"  import requests: {len(self.import_batches)} "
            f"({sum(len(b) for b in self.import_batches)} entries)",
        ]
        if self.rows_rejected:
            lines.append(
                f"  rejected: {self.rows_rejected:,} of {self.rows_read:,} rows -> {self.rejects_path}"
            )
        if self.import_options:
            lines.append(f"  import options: {self.import_options}")
        return "\n".join(lines)
