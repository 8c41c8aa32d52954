"""The manifest ``_bulkwriter.json``: the commit marker of an output, and what it holds.

An output is committed exactly when its manifest exists; readers (``inspect``, the import
helpers) trust only the files it lists. It names every data file of the output, and the
output's format, collection schema and import options, so that an append can be checked
against them (:meth:`OutputSpec.differences`). ``version`` counts the commits of the output
(1 for the first, one more for each append or overwrite) and ``write_id`` names the last
one: a writer that finds either changed at commit knows another writer committed
(:class:`~bulkwriter.errors.ConcurrentWriteError`).

Manifests written before version 0.2 carry no ``version``, ``write_id`` or per-file
``write_id``; they read as version 0.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from bulkwriter.errors import StorageError
from bulkwriter.storage.layout import MANIFEST_NAME, part_write_id

__all__ = ["Manifest", "ManifestFile", "OutputSpec"]

#: Schema keys of a field (Milvus RESTful v2 form) that change what an import accepts.
_FIELD_KEYS = ("dataType", "isPrimary", "isPartitionKey", "nullable", "defaultValue", "elementDataType")
#: Schema keys of a collection that change what an import accepts.
_COLLECTION_KEYS = ("autoId", "enabledDynamicField", "functionOutputFields")


@dataclass(frozen=True)
class OutputSpec:
    """What every file of an output shares: format, collection, schema and import options.

    Parameters
    ----------
    format : str
        Format name (``"parquet"``, ``"json"``, ...).
    collection : str
        Collection name (informational).
    schema : mapping
        The collection schema in Milvus's RESTful v2 form (``CollectionSchema.to_dict()``).
    import_options : mapping of str to str
        Options every import request of these files must carry (CSV ``sep``, ``nullkey``).
    """

    format: str
    collection: str
    schema: Mapping[str, Any]
    import_options: Mapping[str, str] = field(default_factory=dict)

    def differences(self, other: OutputSpec) -> list[str]:
        """What an append with ``other`` would change about this output, one line each.

        Compares the format, the import options, the collection's auto_id, dynamic field
        and function outputs, and each field's type, primary key, partition key, nullable,
        default value, element type and ``elementTypeParams`` (dim, max_length,
        max_capacity). Descriptions and field order do not matter to an import. Empty when
        the two describe files one import can read together.
        """
        out: list[str] = []
        if self.format != other.format:
            out.append(f"format: the output holds {self.format}, this write makes {other.format}")
        if dict(self.import_options) != dict(other.import_options):
            out.append(
                f"import options: the output needs {dict(self.import_options)}, "
                f"this write needs {dict(other.import_options)}"
            )
        for key in _COLLECTION_KEYS:
            a, b = self.schema.get(key), other.schema.get(key)
            if _norm(a) != _norm(b):
                out.append(f"schema {key}: the output has {a!r}, this write has {b!r}")
        mine = {str(f["fieldName"]): f for f in self.schema.get("fields", [])}
        theirs = {str(f["fieldName"]): f for f in other.schema.get("fields", [])}
        for name in mine.keys() - theirs.keys():
            out.append(f"field '{name}': in the output, not in this write's schema")
        for name in theirs.keys() - mine.keys():
            out.append(f"field '{name}': in this write's schema, not in the output")
        for name in sorted(mine.keys() & theirs.keys()):
            a_field, b_field = mine[name], theirs[name]
            for key in _FIELD_KEYS:
                a, b = a_field.get(key), b_field.get(key)
                if _norm(a) != _norm(b):
                    out.append(f"field '{name}' {key}: the output has {a!r}, this write has {b!r}")
            a_params, b_params = a_field.get("elementTypeParams", {}), b_field.get("elementTypeParams", {})
            for key in sorted(set(a_params) | set(b_params)):
                if a_params.get(key) != b_params.get(key):
                    out.append(
                        f"field '{name}' {key}: the output has {a_params.get(key)!r}, "
                        f"this write has {b_params.get(key)!r}"
                    )
        return sorted(out, key=lambda line: (not line.startswith("format"), line))


def _norm(value: Any) -> Any:
    """Absent and false are the same for flags (``isPrimary`` is written only when true)."""
    return None if value is False or value == [] else value


@dataclass(frozen=True)
class ManifestFile:
    """One data file (or NumPy chunk folder) of a committed output.

    Attributes
    ----------
    path : str
        Path relative to the output folder (``part-00000-<write id>.parquet``).
    rows : int
        Rows it holds.
    bytes : int
        Bytes on storage (a NumPy folder: the sum of its ``.npy`` files).
    import_paths : tuple of str
        Paths relative to the output folder that one import entry takes: the file, or each
        ``.npy`` of the folder.
    write_id : str
        The write that committed it (``""`` for manifests before version 0.2).
    """

    path: str
    rows: int
    bytes: int
    import_paths: tuple[str, ...]
    write_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The file's entry in the manifest's JSON."""
        return {
            "path": self.path,
            "rows": self.rows,
            "bytes": self.bytes,
            "import_paths": list(self.import_paths),
            "write_id": self.write_id,
        }


@dataclass(frozen=True)
class Manifest:
    """A committed output: its spec, files, and which commit wrote it.

    Attributes
    ----------
    spec : OutputSpec
        Format, collection, schema and import options of every file.
    files : tuple of ManifestFile
        Every data file of the output, in commit order.
    write_id : str
        The write that committed this manifest (``""`` before version 0.2).
    version : int
        Commits of this output so far (0 for manifests before version 0.2).
    bulkwriter_version : str
        The bulkwriter release that wrote it.
    """

    spec: OutputSpec
    files: tuple[ManifestFile, ...]
    write_id: str
    version: int
    bulkwriter_version: str

    @property
    def total_rows(self) -> int:
        """Rows in all files."""
        return sum(f.rows for f in self.files)

    @property
    def total_bytes(self) -> int:
        """Bytes of all files."""
        return sum(f.bytes for f in self.files)

    def listed(self) -> frozenset[str]:
        """Every path relative to the output folder that this manifest accounts for.

        The manifest itself, each file, and for a folder part its folder and every file in it.
        """
        names: set[str] = {MANIFEST_NAME}
        for f in self.files:
            names.add(f.path)
            names.update(f.import_paths)
            names.update(posixpath.dirname(p) for p in f.import_paths if posixpath.dirname(p))
        return frozenset(names)

    def next_index(self) -> int:
        """The first part index after every file of this output."""
        indices = [parsed for f in self.files if (parsed := _index_of(f.path)) is not None]
        return max(indices) + 1 if indices else len(self.files)

    def extended(self, files: Iterable[ManifestFile], *, write_id: str, bulkwriter_version: str) -> Manifest:
        """This manifest with ``files`` added, as committed by ``write_id`` (append)."""
        return Manifest(self.spec, self.files + tuple(files), write_id, self.version + 1, bulkwriter_version)

    def to_bytes(self) -> bytes:
        """The manifest's JSON (UTF-8, indented)."""
        body = {
            "bulkwriter_version": self.bulkwriter_version,
            "format": self.spec.format,
            "collection": self.spec.collection,
            "schema": dict(self.spec.schema),
            "rows": self.total_rows,
            "bytes": self.total_bytes,
            "import_options": dict(self.spec.import_options),
            "version": self.version,
            "write_id": self.write_id,
            "files": [f.to_dict() for f in self.files],
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Manifest:
        """Parse a manifest; ``where`` (its URL) names it in errors.

        Raises
        ------
        StorageError
            Not JSON, or not a bulkwriter manifest (a key is missing or of the wrong type).
        """
        try:
            body = orjson.loads(data)
            if not isinstance(body, dict):
                raise TypeError(f"the manifest is a JSON {type(body).__name__}, not an object")
            spec = OutputSpec(
                format=str(body["format"]),
                collection=str(body.get("collection", "")),
                schema=dict(body.get("schema", {})),
                import_options={str(k): str(v) for k, v in dict(body.get("import_options", {})).items()},
            )
            files = tuple(
                ManifestFile(
                    path=_relative(str(f["path"])),
                    rows=int(f["rows"]),
                    bytes=int(f["bytes"]),
                    import_paths=tuple(_relative(str(p)) for p in f.get("import_paths", [f["path"]])),
                    write_id=str(f.get("write_id", "")),
                )
                for f in body["files"]
            )
            return cls(
                spec,
                files,
                write_id=str(body.get("write_id", "")),
                version=int(body.get("version", 0)),
                bulkwriter_version=str(body.get("bulkwriter_version", "")),
            )
        except orjson.JSONDecodeError as exc:
            raise StorageError(f"cannot parse the manifest {where!r}: {exc}") from exc
        except KeyError as exc:
            raise StorageError(f"{where!r} is not a bulkwriter manifest: the key {exc} is missing") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise StorageError(f"{where!r} is not a bulkwriter manifest: {_shape_problem(exc)}") from None


def _shape_problem(exc: Exception) -> str:
    """Words for a manifest of the wrong shape (a list for an object, text for a number, ...)."""
    if isinstance(exc, ValueError) and "inside the output folder" in str(exc):
        return str(exc)
    return f"a value has the wrong shape (expected the object of format, schema and files it writes; {exc})"


def _relative(path: str) -> str:
    """Refuse a manifest path that would point outside the output folder."""
    norm = posixpath.normpath(path)
    if not path or path.startswith("/") or norm == ".." or norm.startswith("../") or "://" in path:
        raise ValueError(f"file path {path!r} is not inside the output folder")
    return norm


def _index_of(path: str) -> int | None:
    """The part index of a manifest file path (``part-00003-<id>.parquet``, or before write ids
    ``part-00003.parquet``); None for a name that is not a part's."""
    head = path.split("/", 1)[0]
    parsed = part_write_id(head)
    if parsed is not None:
        return parsed[0]
    legacy = head.split(".", 1)[0]
    if legacy.startswith("part-") and legacy[5:].isdigit():
        return int(legacy[5:])
    return None
