"""Staged output: nothing a write produces is visible until commit.

The sequence, on any fsspec filesystem (local folders today)::

    open      resolve the URL; mode "error" refuses a destination that holds files
    stage     each part is written whole under   <parent>/.bulkwriter-staging/<name>-<token>/
    commit    1. overwrite: remove the old manifest (the old output stops being "committed")
              2. move every staged part into the destination (a rename on local disks)
              3. overwrite: remove what the old output left that the new one did not replace
              4. write the manifest ``_bulkwriter.json`` last: readers trust only what it lists
    abort     remove the staging folder

A crash leaves only the staging folder, which sits beside the destination (never inside it,
so an import of the destination folder cannot pick it up); the next ``mode="overwrite"``
write to the same destination removes such leftovers.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import uuid
from collections.abc import Iterable
from typing import Any, Literal

import fsspec
import orjson

from bulkwriter.errors import CommitError, DestinationExistsError, StorageError

__all__ = ["MANIFEST_NAME", "STAGING_DIR", "Mode", "StagedOutput"]

#: File name of the manifest, written last at commit.
MANIFEST_NAME = "_bulkwriter.json"
#: Folder beside the destination that holds staged parts.
STAGING_DIR = ".bulkwriter-staging"
Mode = Literal["error", "overwrite", "append"]
_PART_RE = re.compile(r"^part-(\d+)")


class StagedOutput:
    """A destination folder whose new files stay invisible until :meth:`commit`.

    Parameters
    ----------
    path : str or os.PathLike
        Destination folder: a local path or a URL fsspec understands.
    mode : {"error", "overwrite", "append"}
        ``"error"``: refuse a destination that already holds files (DestinationExistsError).
        ``"overwrite"``: replace what is there, but only once the new files are committed.
        ``"append"``: keep existing files; new parts get the next free numbers.
    storage_options : dict, optional
        Passed to fsspec, as in pandas and pyarrow.

    Raises
    ------
    DestinationExistsError
        ``mode="error"`` and the destination holds files.
    StorageError
        The destination cannot be read.
    """

    def __init__(self, path: Any, *, mode: Mode = "error", storage_options: dict[str, Any] | None = None) -> None:
        if mode not in ("error", "overwrite", "append"):
            raise ValueError(f"mode must be 'error', 'overwrite' or 'append', got {mode!r}")
        self.mode = mode
        self.url = str(path)
        try:
            self.fs, root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        except (ValueError, ImportError) as exc:
            raise StorageError(f"cannot open {self.url!r}: {exc}") from exc
        self.root = root.rstrip("/") or root
        parent, name = posixpath.split(self.root)
        self._staging_parent = posixpath.join(parent, STAGING_DIR)
        self._prefix = f"{name}-"
        self.staging = posixpath.join(self._staging_parent, f"{name}-{uuid.uuid4().hex[:12]}")
        self._staged: list[str] = []
        self.old_manifest: dict[str, Any] | None = None
        existing = self._guard(self._list_root, "list")
        if existing and mode == "error":
            raise DestinationExistsError(
                f"{self.url!r} already holds {len(existing)} entries; pass mode='overwrite' or mode='append'"
            )
        self._existing = existing
        if MANIFEST_NAME in existing:
            self.old_manifest = self._guard(self._read_manifest, "read manifest")

    def _guard(self, fn: Any, operation: str) -> Any:
        try:
            return fn()
        except (OSError, ValueError) as exc:
            raise StorageError(f"{operation} failed at {self.url!r}: {exc}") from exc

    def _list_root(self) -> list[str]:
        if not self.fs.exists(self.root):
            return []
        if not self.fs.isdir(self.root):
            raise NotADirectoryError(f"{self.root} is a file, not a folder")
        return sorted(posixpath.basename(p.rstrip("/")) for p in self.fs.ls(self.root, detail=False))

    def _read_manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.fs.cat_file(posixpath.join(self.root, MANIFEST_NAME)))
        return data

    def next_part_index(self) -> int:
        """The first part number free in the destination (0 unless appending)."""
        if self.mode != "append":
            return 0
        numbers = [int(m.group(1)) for name in self._existing if (m := _PART_RE.match(name))]
        return max(numbers) + 1 if numbers else 0

    def final_path(self, name: str) -> str:
        """The path a part called ``name`` has once committed."""
        return posixpath.join(self.root, name)

    def stage(self, name: str, files: Iterable[tuple[str, bytes]]) -> None:
        """Write one part (a file, or a folder of files) under the staging folder.

        Parameters
        ----------
        name : str
            Part name, e.g. ``part-00000.parquet`` or ``part-00000`` (NumPy folder).
        files : iterable of (str, bytes)
            ``("", data)`` for a single file; ``(file name, data)`` pairs for a folder.
        """
        target = posixpath.join(self.staging, name)

        def write() -> None:
            for inner, data in files:
                path = posixpath.join(target, inner) if inner else target
                self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
                self.fs.pipe_file(path, data)

        self._guard(write, f"staging {name}")
        self._staged.append(name)

    def commit(self, manifest: dict[str, Any]) -> None:
        """Move staged parts into place, then write ``manifest`` last (see the module docstring).

        Raises
        ------
        CommitError
            A move or the manifest write failed; what was moved is removed again where
            possible, and no manifest is written.
        """
        manifest_path = posixpath.join(self.root, MANIFEST_NAME)
        moved: list[str] = []
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            if self.mode == "overwrite" and MANIFEST_NAME in self._existing:
                self.fs.rm(manifest_path)
            for name in self._staged:
                final = self.final_path(name)
                if self.fs.exists(final):
                    if self.mode == "append":
                        raise FileExistsError(f"{final} exists; append never replaces files")
                    self.fs.rm(final, recursive=True)
                self.fs.mv(posixpath.join(self.staging, name), final, recursive=True)
                moved.append(final)
            if self.mode == "overwrite":
                keep = set(self._staged)
                for name in self._existing:
                    if name not in keep and name != MANIFEST_NAME:
                        self.fs.rm(posixpath.join(self.root, name), recursive=True)
            staged_manifest = posixpath.join(self.staging, MANIFEST_NAME)
            self.fs.pipe_file(staged_manifest, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
            self.fs.mv(staged_manifest, manifest_path)
        except (OSError, ValueError) as exc:
            for path in moved:
                with contextlib.suppress(OSError):
                    self.fs.rm(path, recursive=True)
            self.abort()
            raise CommitError(f"commit to {self.url!r} failed, nothing was made visible: {exc}") from exc
        self._remove_staging(cleanup_stale=self.mode == "overwrite")

    def abort(self) -> None:
        """Remove every staged file. Safe to call more than once."""
        self._remove_staging(cleanup_stale=False)
        self._staged = []

    def _remove_staging(self, *, cleanup_stale: bool) -> None:
        try:
            if self.fs.exists(self.staging):
                self.fs.rm(self.staging, recursive=True)
            if cleanup_stale and self.fs.exists(self._staging_parent):
                for path in self.fs.ls(self._staging_parent, detail=False):
                    if posixpath.basename(path.rstrip("/")).startswith(self._prefix):
                        self.fs.rm(path, recursive=True)
            if self.fs.exists(self._staging_parent) and not self.fs.ls(self._staging_parent, detail=False):
                self.fs.rmdir(self._staging_parent)
        except OSError:
            pass  # best effort: leftovers are invisible and the next overwrite removes them
