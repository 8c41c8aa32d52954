"""Streaming readers for input files: Parquet, CSV, row JSON and JSON Lines.

This module owns turning files on local disk into the batches :func:`bulkwriter.write` and
:func:`bulkwriter.validate` take. Nothing here loads a whole file: Parquet is read row group
by row group, CSV block by block, JSON item by item (ijson) and JSON Lines line by line.

========  ==========================  =============================================
Format    Extensions                  Yields
========  ==========================  =============================================
parquet   ``.parquet``                ``pyarrow.RecordBatch`` (types as stored)
csv       ``.csv``                    ``pyarrow.RecordBatch`` (see "CSV" below)
json      ``.json``                   ``list`` of row dicts
jsonl     ``.jsonl``, ``.ndjson``     ``list`` of row dicts
========  ==========================  =============================================

CSV
---
The dialect is the one Milvus imports (RFC 4180): comma separator, header row first,
double-quote quoting with ``""`` escapes, quoted values may span lines.

- **Null is** ``\\N`` (the token bulkwriter writes and passes as the import ``nullkey``),
  quoted or not. The empty string is *not* null: it is a valid (empty) VarChar.
- **Vectors, arrays and JSON** stay as their JSON text (a ``string`` column); the validation
  layer parses JSON text for vector, Array and JSON fields.
- **Column types with a schema** (``schema=`` given, as the CLI does): every column is read
  as text and the columns of Bool, Int* and Float/Double fields are converted to ``bool``,
  ``int64`` and ``float64``. A cell that is not a literal of that type (``"1.5"`` or ``""``
  for an Int64 field) raises :class:`~bulkwriter.errors.InputError` naming the row, the
  column and the value; the range and finiteness checks are the validator's. Other columns
  (VarChar, JSON, Array, vectors, ``$meta``, unknown columns) stay text, so ``"007"`` stays
  ``"007"``.
- **Column types without a schema**: pyarrow infers them from the first block of the file
  (about 1 MiB) and keeps them for the rest. Inferred ``int64``, ``double``, ``bool`` and
  ``string`` are kept as inferred, even where reading them as numbers can lose text (a
  VarChar ``"007"`` read as ``7`` is then refused by the validator as a wrong type, never
  silently changed). Types Milvus has no field for (dates, times, timestamps, decimals) and
  columns whose first block holds only nulls are read as text instead. A later value that
  does not fit the inferred type raises InputError; pass ``schema=`` to avoid inference.
- A double quote that opens a value and is never closed would swallow the rest of the file
  into one cell (pyarrow reads it without complaint, and Milvus can stop reading early
  without an error); it raises InputError naming the line of the opening quote. A bare
  ``"`` inside an unquoted value is refused the same way.

Row JSON
--------
A ``{"rows": [...]}`` document (``rows`` must be the first key; keys after the ``rows``
array are ignored) or a bare list of row objects, streamed with ijson's C backend
(``use_float=True``: numbers with a fraction or exponent become ``float``, others ``int``).
Lines in error messages are found by re-reading the file up to the error with ijson's pure
Python parser, and only on the error path.

Errors
------
Every problem with an input file (missing, empty, truncated or corrupt Parquet, bad JSON,
unterminated CSV quote, invalid UTF-8, a JSON document of the wrong shape) raises
:class:`~bulkwriter.errors.InputError`, whose message names the file and, where it is known,
the line (JSON, JSON Lines, CSV), the CSV row or the Parquet row group; the library error is
chained (``raise ... from``).
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Literal, TypeAlias, get_args

import ijson  # no stubs; ijson is not in the mypy overrides
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bulkwriter.errors import InputError, short_repr
from bulkwriter.schema.arrow import READ_TYPES
from bulkwriter.schema.collection import CollectionSchema

__all__ = ["EXTENSIONS", "Batch", "InputFormat", "find_input_files", "iter_input"]

#: Input format names.
InputFormat: TypeAlias = Literal["parquet", "csv", "json", "jsonl"]
#: One item :func:`iter_input` yields: an Arrow batch, or a list of row dicts.
Batch: TypeAlias = pa.RecordBatch | list[dict[str, object]]
#: File extension (lower case, with the dot) -> input format.
EXTENSIONS: dict[str, InputFormat] = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_FORMAT_NAMES: dict[str, InputFormat] = {name: name for name in get_args(InputFormat)} | {"ndjson": "jsonl"}
#: The CSV null token (the ``nullkey`` bulkwriter passes with CSV imports).
CSV_NULL = "\\N"
_CSV_TRUE = ["true", "True", "TRUE"]
_CSV_FALSE = ["false", "False", "FALSE"]
#: Bytes read at a time by the error-path scanners.
_SCAN_CHUNK = 1 << 20
#: Largest JSON file re-read with the pure Python parser to find an error's line.
_MAX_LOCATE_BYTES = 256 << 20


def iter_input(
    paths: Sequence[str | os.PathLike[str]],
    *,
    batch_rows: int = 8192,
    input_format: str | None = None,
    schema: CollectionSchema | None = None,
) -> Iterator[Batch]:
    """Stream the rows of input files as batches, never holding a file whole.

    The files are found and checked (they exist, their format is known) when this is
    called; they are read as the returned iterator is consumed.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        Files or folders, read in the order given. A folder stands for every file inside
        it, recursively, in sorted path order, whose extension names a format (see
        :data:`EXTENSIONS`); names starting with ``.`` or ``_`` are skipped (hidden files,
        ``_bulkwriter.json`` manifests), and so are files of other extensions.
    batch_rows : int, default 8192
        Rows per batch, at least 1. Batches hold exactly ``batch_rows`` rows except the
        last of each file (a batch never spans two files).
    input_format : {"parquet", "csv", "json", "jsonl"}, optional
        Read every file as this format whatever its extension; in folders, every visible
        file is then read. None (default): the format comes from each file's extension.
    schema : CollectionSchema, optional
        Used by CSV only, to type the columns of Bool, Int and Float/Double fields exactly
        instead of inferring types (see the module docstring). Other formats carry their
        own types.

    Yields
    ------
    pyarrow.RecordBatch or list of dict
        RecordBatch for Parquet and CSV; a list of at most ``batch_rows`` row dicts for
        JSON and JSON Lines.

    Raises
    ------
    InputError
        A path does not exist, a folder holds no input file, a file has an unknown
        extension, or a file cannot be read (see the module docstring); the message names
        the file and where in it the problem is.
    ValueError
        ``batch_rows`` is not a positive integer or ``input_format`` is unknown.

    Examples
    --------
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> pq.write_table(pa.table({"id": [1, 2, 3]}), "ids.parquet")
    >>> [b.num_rows for b in iter_input(["ids.parquet"], batch_rows=2)]
    [2, 1]
    """
    if not isinstance(batch_rows, int) or isinstance(batch_rows, bool) or batch_rows < 1:
        raise ValueError(f"batch_rows must be a positive integer, got {batch_rows!r}")
    files = find_input_files(paths, input_format=input_format)
    return _iter_files(files, batch_rows, schema)


def find_input_files(
    paths: Sequence[str | os.PathLike[str]], *, input_format: str | None = None
) -> list[tuple[str, InputFormat]]:
    """Return the input files ``paths`` stands for, each with its format.

    Parameters
    ----------
    paths, input_format
        As for :func:`iter_input`.

    Returns
    -------
    list of (str, str)
        ``(path, format)`` pairs in reading order.

    Raises
    ------
    InputError
        A path does not exist, a folder holds no input file, or a file's extension is unknown.
    ValueError
        ``input_format`` is unknown.
    """
    forced = _check_format(input_format)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: list[tuple[str, InputFormat]] = []
    for item in paths:
        path = os.fspath(item)
        if os.path.isdir(path):
            inside = [(p, fmt) for p in _walk(path) if (fmt := forced or _format_of(p)) is not None]
            if not inside:
                raise InputError(
                    f"{path}: the folder holds no input file (extensions {', '.join(sorted(EXTENSIONS))})"
                )
            found.extend(inside)
        elif os.path.exists(path):
            fmt = forced or _format_of(path)
            if fmt is None:
                raise InputError(
                    f"{path}: unknown input file extension; use one of {', '.join(sorted(EXTENSIONS))} "
                    "or name the format (input_format / --input-format)"
                )
            found.append((path, fmt))
        else:
            raise InputError(f"{path}: no such file or folder")
    return found


def _check_format(input_format: str | None) -> InputFormat | None:
    if input_format is None:
        return None
    fmt = _FORMAT_NAMES.get(str(input_format).lower().lstrip("."))
    if fmt is None:
        raise ValueError(
            f"input_format must be one of {', '.join(get_args(InputFormat))}, got {input_format!r}"
        )
    return fmt


def _format_of(path: str) -> InputFormat | None:
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


def _walk(folder: str) -> list[str]:
    """Every visible file under ``folder``, recursively, sorted by path components."""
    out: list[tuple[tuple[str, ...], str]] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        rel = os.path.relpath(root, folder)
        parts = () if rel == os.curdir else tuple(rel.split(os.sep))
        for name in names:
            if not name.startswith((".", "_")):
                out.append(((*parts, name), os.path.join(root, name)))
    return [path for _, path in sorted(out)]


def _iter_files(
    files: list[tuple[str, InputFormat]], batch_rows: int, schema: CollectionSchema | None
) -> Iterator[Batch]:
    for path, fmt in files:
        _check_not_empty(path)
        if fmt == "parquet":
            yield from _rebatch(_read_parquet(path, batch_rows), batch_rows)
        elif fmt == "csv":
            yield from _rebatch(_read_csv(path, schema), batch_rows)
        elif fmt == "json":
            yield from _chunk_rows(_read_json(path), batch_rows)
        else:
            yield from _chunk_rows(_read_jsonl(path), batch_rows)


def _check_not_empty(path: str) -> None:
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    if size == 0:
        raise InputError(f"{path}: the file is empty")


def _open(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")  # closed by the reading generator
    except OSError as exc:
        raise InputError(f"{path}: cannot open the file: {exc.strerror or exc}") from exc


# -- batching ------------------------------------------------------------------------------


def _rebatch(batches: Iterable[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Regroup ``batches`` (of one schema) into batches of exactly ``batch_rows`` rows (last: fewer)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if not pending and batch.num_rows == batch_rows:
            yield batch
            continue
        pending.append(batch)
        count += batch.num_rows
        if count < batch_rows:
            continue
        table = pa.Table.from_batches(pending)
        start = 0
        while count - start >= batch_rows:
            yield table.slice(start, batch_rows).combine_chunks().to_batches()[0]
            start += batch_rows
        rest = table.slice(start)
        pending = rest.combine_chunks().to_batches() if rest.num_rows else []
        count = rest.num_rows
    if count:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def _chunk_rows(rows: Iterable[dict[str, object]], batch_rows: int) -> Iterator[list[dict[str, object]]]:
    chunk: list[dict[str, object]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == batch_rows:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- Parquet -------------------------------------------------------------------------------


def _read_parquet(path: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    with pf:
        for group in range(pf.num_row_groups):
            try:
                yield from pf.iter_batches(batch_size=batch_rows, row_groups=[group])
            except (pa.ArrowException, OSError) as exc:
                raise InputError(
                    f"{path}: row group {group} of {pf.num_row_groups} cannot be read ({exc})"
                ) from exc


# -- CSV -----------------------------------------------------------------------------------


class _QuoteCounter:
    """A binary file wrapper that counts the double quotes pyarrow reads through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.quotes = 0
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.quotes += data.count(b'"')
        return data

    def drain(self) -> None:
        """Read (and count) whatever pyarrow left unread."""
        while self.read(_SCAN_CHUNK):
            pass

    def close(self) -> None:
        self.closed = True
        self._raw.close()


def _keep_inferred(type_: pa.DataType) -> bool:
    """Inferred CSV types kept as inferred; every other inferred type is read as text."""
    return bool(
        pa.types.is_int64(type_)
        or pa.types.is_float64(type_)
        or pa.types.is_boolean(type_)
        or pa.types.is_string(type_)
    )


def _csv_options(
    column_types: dict[str, pa.DataType] | None, on_invalid: Callable[[object], str]
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    read = pacsv.ReadOptions(use_threads=False)  # single thread: parse errors carry row numbers
    parse = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid)
    convert = pacsv.ConvertOptions(
        null_values=[CSV_NULL],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        true_values=_CSV_TRUE,
        false_values=_CSV_FALSE,
        column_types=column_types,
    )
    return read, parse, convert


def _open_csv(
    path: str, column_types: dict[str, pa.DataType] | None
) -> tuple[pacsv.CSVStreamingReader, _QuoteCounter, list[object]]:
    invalid: list[object] = []

    def on_invalid(row: object) -> str:
        invalid.append(row)
        return "error"

    counter = _QuoteCounter(_open(path))
    try:
        reader = pacsv.open_csv(counter, *_csv_options(column_types, on_invalid))
    except (pa.ArrowException, OSError) as exc:
        counter.close()
        raise _csv_error(path, exc, invalid) from exc
    except BaseException:
        counter.close()
        raise
    return reader, counter, invalid


def _read_csv(path: str, schema: CollectionSchema | None) -> Iterator[pa.RecordBatch]:
    reader, counter, _ = _open_csv(path, None)
    names = reader.schema.names
    inferred = reader.schema
    counter.close()
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"{path}: the header names column '{repeated[0]}' {names.count(repeated[0])} times")
    if schema is not None:
        # Read everything as text; typed fields are converted batch by batch below.
        column_types = dict.fromkeys(names, pa.string())
        targets = {name: READ_TYPES[schema.field(name).dtype] for name in names if _typed(schema, name)}
    else:
        for field in inferred:
            if pa.types.is_binary(field.type):
                raise InputError(_csv_utf8_message(path, f"column '{field.name}'"))
        column_types = {f.name: pa.string() for f in inferred if not _keep_inferred(f.type)}
        targets = {}
    reader, counter, invalid = _open_csv(path, column_types)
    rows_before = 0
    held: pa.RecordBatch | None = None
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowException, OSError) as exc:
                raise _csv_error(path, exc, invalid, names) from exc
            if targets:
                batch = _convert_csv_batch(path, batch, targets, rows_before)
            rows_before += batch.num_rows
            if held is not None:
                yield held
            held = batch
        counter.drain()
        if counter.quotes % 2:
            raise InputError(_unbalanced_quote_message(path))
        if held is not None:
            yield held
    finally:
        counter.close()


def _typed(schema: CollectionSchema, name: str) -> bool:
    try:
        return schema.field(name).dtype in READ_TYPES
    except KeyError:
        return False


def _convert_csv_batch(
    path: str, batch: pa.RecordBatch, targets: dict[str, pa.DataType], rows_before: int
) -> pa.RecordBatch:
    columns = list(batch.columns)
    for i, name in enumerate(batch.schema.names):
        target = targets.get(name)
        if target is None:
            continue
        try:
            columns[i] = columns[i].cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            row, value = _first_uncastable(columns[i], target)
            hint = f"; an empty cell is the empty string, write {CSV_NULL} for null" if value == "" else ""
            raise InputError(
                f"{path}: row {rows_before + row + 2} (the header is row 1), column '{name}': "
                f"cannot read {short_repr(value)} as {_type_word(target)}{hint}"
            ) from exc
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _first_uncastable(column: pa.Array, target: pa.DataType) -> tuple[int, object]:
    for i, value in enumerate(column.to_pylist()):
        if value is None:
            continue
        try:
            pa.array([value], pa.string()).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return i, value
    return 0, None  # pragma: no cover - the whole-column cast failed, so one cell fails


def _type_word(type_: pa.DataType) -> str:
    if pa.types.is_boolean(type_):
        return "a boolean (true or false)"
    if pa.types.is_integer(type_):
        return "an integer"
    return "a number"


_ARROW_CSV_ROW = re.compile(r"Row #(\d+): ")
_ARROW_CSV_COLUMN = re.compile(r"In CSV column #(\d+): ")


def _csv_error(
    path: str, exc: BaseException, invalid: list[object], names: list[str] | None = None
) -> InputError:
    text = str(exc)
    if "invalid UTF8" in text:
        return InputError(_csv_utf8_message(path))
    if text.startswith("Empty CSV file"):
        return InputError(f"{path}: the CSV file holds no header row")
    where = ""
    row = getattr(invalid[-1], "number", None) if invalid else None
    match = _ARROW_CSV_ROW.search(text)
    if row is None and match:
        row = int(match.group(1))
    if row is not None:
        where = f"row {row} (the header is row 1): "
    text = _ARROW_CSV_ROW.sub("", text).removeprefix("CSV parse error: ")
    column = _ARROW_CSV_COLUMN.match(text)
    if column and names is not None and int(column.group(1)) < len(names):
        text = f"column '{names[int(column.group(1))]}': " + text[column.end() :]
        if "conversion error" in text:
            text += " (the column type was inferred from the first rows; pass the collection schema)"
    return InputError(f"{path}: {where}{text}")


def _csv_utf8_message(path: str, where: str = "") -> str:
    line = _find_invalid_utf8_line(path)
    at = f"line {line}" if line is not None else where
    return f"{path}: {at + ': ' if at else ''}the text is not valid UTF-8"


def _unbalanced_quote_message(path: str) -> str:
    line = _find_unclosed_quote_line(path)
    at = f"line {line}: " if line is not None else ""
    return (
        f"{path}: {at}a double-quoted value is never closed (or a bare '\"' stands in an "
        "unquoted value); the rest of the file would be read as one cell"
    )


def _find_unclosed_quote_line(path: str) -> int | None:
    """Line (1-based) of the quote that opens a value never closed; error path only."""
    inside = False
    line = 1
    open_line: int | None = None
    last_close = -2  # absolute offset of the last closing quote
    offset = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_SCAN_CHUNK):
            pos = 0
            for match in re.finditer(b'"', chunk):
                line += chunk.count(b"\n", pos, match.start())
                pos = match.start()
                at = offset + match.start()
                if inside:
                    inside = False
                    last_close = at
                else:
                    inside = True
                    if at != last_close + 1:  # not the second quote of an escaped ""
                        open_line = line
            line += chunk.count(b"\n", pos)
            offset += len(chunk)
    return open_line if inside else None


def _find_invalid_utf8_line(path: str) -> int | None:
    """Line (1-based) of the first byte that is not valid UTF-8; error path only."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_SCAN_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # exc.start is relative to the decoder's pending bytes plus this chunk
                pending = len(exc.object) - len(chunk)
                return line + chunk.count(b"\n", 0, max(exc.start - pending, 0))
            if not chunk:
                return None
            line += chunk.count(b"\n")


# -- JSON Lines ----------------------------------------------------------------------------


def _read_jsonl(path: str) -> Iterator[dict[str, object]]:
    with _open(path) as fh:
        for number, line in enumerate(fh, start=1):
            if number == 1:
                line = line.removeprefix(codecs.BOM_UTF8)  # a byte order mark some editors write
            if not line.strip():
                continue
            try:
                row = orjson.loads(line.rstrip(b"\r\n"))
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{path}: line {number}: {_orjson_reason(exc)}") from exc
            if not isinstance(row, dict):
                raise InputError(
                    f"{path}: line {number}: expected one JSON object per line, got {_json_kind(row)}"
                )
            yield row


def _orjson_reason(exc: orjson.JSONDecodeError) -> str:
    if "UTF-8" in exc.msg:
        return "the text is not valid UTF-8"
    return f"not valid JSON at column {exc.colno}: {exc.msg}"


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


# -- row JSON ------------------------------------------------------------------------------

_JSON_LIST = re.compile(rb"\s*\[")
_JSON_ROWS = re.compile(rb'\s*\{\s*"rows"\s*:\s*\[')
_JSON_OPEN = re.compile(rb"\s*\{")
_PY_OFFSET = re.compile(r" at (\d+)$")


def _read_json(path: str) -> Iterator[dict[str, object]]:
    with _open(path) as fh:
        prefix = _json_prefix(path, fh.read(4096))
        fh.seek(0)
        row = 0
        try:
            for item in ijson.items(fh, prefix, use_float=True):
                if not isinstance(item, dict):
                    raise InputError(f"{path}: row {row}: expected a JSON object, got {_json_kind(item)}")
                yield item
                row += 1
        except ijson.JSONError as exc:
            raise InputError(_json_error_message(path, exc, row)) from exc


def _json_prefix(path: str, head: bytes) -> str:
    head = head.removeprefix(codecs.BOM_UTF8)
    if _JSON_LIST.match(head):
        return "item"
    if _JSON_ROWS.match(head):
        return "rows.item"
    if _JSON_OPEN.match(head):
        raise InputError(
            f'{path}: a JSON object must hold the rows as an array under its first key "rows": {{"rows": [...]}}'
        )
    raise InputError(f'{path}: expected a JSON array of rows or {{"rows": [...]}} at the top level')


def _json_error_message(path: str, exc: BaseException, rows_done: int) -> str:
    reason = exc.args[0] if exc.args else exc
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    first = str(reason).strip().splitlines()[0] if str(reason).strip() else type(exc).__name__
    if "UTF8" in first:
        line = _find_invalid_utf8_line(path)
        first = "the text is not valid UTF-8"
    else:
        line = _find_json_error_line(path)
        first = f"not valid JSON ({first.removeprefix('parse error: ').removeprefix('lexical error: ')})"
    where = f"line {line} (row {rows_done})" if line is not None else f"row {rows_done}"
    return f"{path}: {where}: {first}"


def _find_json_error_line(path: str) -> int | None:
    """Line (1-based) of a JSON syntax error, by re-reading with ijson's Python parser."""
    if os.path.getsize(path) > _MAX_LOCATE_BYTES:
        return None
    from ijson.backends import python as slow  # error path only

    try:
        with open(path, "rb") as fh:
            for _ in slow.basic_parse(fh):
                pass
    except ijson.JSONError as exc:
        match = _PY_OFFSET.search(str(exc))
        with open(path, encoding="utf-8", errors="replace") as text:
            if match:
                return text.read(int(match.group(1))).count("\n") + 1
            return sum(1 for _ in text) or 1  # premature end or trailing data: the last line
    return None
