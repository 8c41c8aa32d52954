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
        Full path (local) or URL of the file or folder.
    rows : int
        Rows it holds.
    bytes : int
        Bytes on storage (for a NumPy folder, the sum of its ``.npy`` files).
    import_paths : tuple of str
        The paths one import entry takes: the file itself, or every ``.npy`` of the folder.
    """

    path: str
    rows: int
    bytes: int
    import_paths: tuple[str, ...]


@dataclass(frozen=True)
class WriteResult:
    """The outcome of a committed write.

    Attributes
    ----------
    path : str
        The destination folder.
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
            lines.append(f"  rejected: {self.rows_rejected:,} of {self.rows_read:,} rows -> {self.rejects_path}")
        if self.import_options:
            lines.append(f"  import options: {self.import_options}")
        return "\n".join(lines)
