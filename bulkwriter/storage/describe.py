"""A committed output's files as a :class:`~bulkwriter.result.WriteResult`, in every path form."""

from __future__ import annotations

from collections.abc import Sequence

from bulkwriter.result import WriteResult
from bulkwriter.rollover import group_import_entries
from bulkwriter.storage.layout import MANIFEST_NAME
from bulkwriter.storage.location import Location
from bulkwriter.storage.manifest import ManifestFile, OutputSpec

__all__ = ["describe"]


def describe(
    location: Location,
    spec: OutputSpec,
    files: Sequence[ManifestFile],
    *,
    rows_read: int | None = None,
    rows_rejected: int = 0,
    rejects_path: str | None = None,
    write_id: str = "",
) -> WriteResult:
    """The :class:`WriteResult` of ``files`` (manifest entries) of the output at ``location``.

    Parameters
    ----------
    location : Location
        The destination.
    spec : OutputSpec
        Format and import options of the files.
    files : sequence of ManifestFile
        The files to describe (a write's new files, or a whole manifest's).
    rows_read : int, optional
        Rows the write received; default: the rows of ``files``.
    rows_rejected : int, default 0
        Rows it left out (``on_error="skip"``).
    rejects_path : str, optional
        Its rejects file.
    write_id : str, optional
        The write that committed them.
    """
    written = tuple(location.written_file(f.path, f.import_paths, f.rows, f.bytes) for f in files)
    rows = sum(f.rows for f in written)
    return WriteResult(
        path=location.uri,
        format=spec.format,
        files=written,
        rows_written=rows,
        import_batches=group_import_entries([list(f.import_paths) for f in written]),
        import_options=dict(spec.import_options),
        manifest_path=location.uri_of(location.join(MANIFEST_NAME)),
        rows_read=rows if rows_read is None else rows_read,
        rows_rejected=rows_rejected,
        rejects_path=rejects_path,
        uri=location.uri,
        import_uris=group_import_entries([list(f.import_uris) for f in written]),
        bucket=location.bucket,
        write_id=write_id,
    )
