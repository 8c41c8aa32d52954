"""The ``bulkwriter`` command line: convert, validate, inspect, clean and demo.

This module owns the command-line surface only; every command is a thin layer over the
library (:func:`bulkwriter.api.write`, :func:`~bulkwriter.api.validate`,
:func:`~bulkwriter.api.inspect`, :func:`~bulkwriter.api.clean`) and :func:`bulkwriter.readers.iter_input`, which streams
the input files.

Commands::

    bulkwriter convert INPUT... --schema SCHEMA --out PATH [--format FORMAT] [--mode MODE]
                       [--max-rows-per-file N] [--max-bytes-per-file SIZE] [--milvus-version V]
                       [--input-format FORMAT] [--no-progress]
    bulkwriter validate INPUT... --schema SCHEMA [--max-errors N] [--input-format FORMAT]
                        [--format FORMAT [--milvus-version V]]
    bulkwriter inspect PATH [--json]
    bulkwriter import PATH --uri URI --collection NAME [--token T] [--partition P] [--no-wait]
    bulkwriter convert ... --import-into URI --collection NAME   (convert, then import)
    bulkwriter clean PATH [--dry-run] [--break-lock] [--json]
    bulkwriter demo [--out DIR] [--import [--milvus-dir DIR]]

SCHEMA is a schema file (Milvus RESTful v2 JSON) or ``milvus://HOST:PORT/COLLECTION``, the
schema of a live collection; ``--schema-from URI --collection NAME`` reads one too.

Exit status: 0 success; 1 the data or the files are at fault (invalid values, unreadable
input, destination not empty, another writer at work, storage failure), with a message on
stderr, and for ``inspect`` nothing committed or something left to clean; 2 bad usage;
3 ``convert --on-error skip`` committed the valid rows but left some out (see the rejects file);
4 ``import`` (or ``convert --import-into``): the jobs completed but the rows imported differ
from the rows written (:mod:`bulkwriter.cli_import`).

The parser is :mod:`argparse` from the standard library: the CLI needs subcommands, typed
options and generated help, which argparse covers, and it adds no dependency to a package
that is mostly used as a library.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import resources
from typing import TextIO

import pyarrow as pa

from bulkwriter import __version__, api
from bulkwriter.cli_import import (
    add_connection_options,
    add_import_command,
    add_schema_server_options,
    run_import,
    schema_of,
)
from bulkwriter.demo_data import DEMO_DATA, DEMO_SCHEMA, NUMPY_DROP, batches_variant, schema_variant
from bulkwriter.errors import BulkWriterError, FieldError, ValidationError
from bulkwriter.readers import Batch, find_input_files, iter_input
from bulkwriter.result import WriteResult
from bulkwriter.rollover import DEFAULT_MAX_BYTES_PER_FILE
from bulkwriter.schema import CollectionSchema, as_schema
from bulkwriter.writer import Format

__all__ = ["EXIT_ROWS_REJECTED", "main", "parse_size"]

#: Exit status of ``convert --on-error skip`` when valid rows were committed and some left out.
EXIT_ROWS_REJECTED = 3

_FORMATS: tuple[Format, ...] = ("parquet", "json", "jsonl", "numpy", "csv")
_MODES = ("error", "overwrite", "append")
_INPUT_FORMATS = ("parquet", "csv", "json", "jsonl")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_VERSION_RE = re.compile(r"^v?\d+(\.\d+){0,2}$")
#: ValidationError lines shown on stderr by ``convert``.
_SHOWN_ERRORS = 10


def parse_size(text: str) -> int:
    """Parse a byte size: plain bytes (``"1000000"``) or a number with a unit.

    Parameters
    ----------
    text : str
        ``"512MiB"``, ``"1GB"``, ``"1.5 GiB"``, ``"4096"``. Units are case-insensitive:
        ``B``; ``kB``, ``MB``, ``GB``, ``TB`` (powers of 1000); ``KiB``, ``MiB``, ``GiB``,
        ``TiB`` (powers of 1024).

    Returns
    -------
    int
        Bytes, at least 1 (fractions of a byte are dropped).

    Raises
    ------
    argparse.ArgumentTypeError
        The text is not a size, or is below one byte.

    Examples
    --------
    >>> parse_size("512MiB"), parse_size("1GB"), parse_size("4096")
    (536870912, 1000000000, 4096)
    """
    match = _SIZE_RE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r}: use bytes or a number with a unit, e.g. 512MiB, 1GB, 1048576"
        )
    number, unit = match.groups()
    size = int(float(number) * _SIZE_UNITS[(unit or "b").lower()])
    if size < 1:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: must be at least 1 byte")
    return size


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected a positive integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected a positive integer")
    return value


def _milvus_version(text: str) -> str:
    if not _VERSION_RE.match(text.strip()):
        raise argparse.ArgumentTypeError(f"invalid Milvus version {text!r}: expected e.g. 2.5 or 2.6.18")
    return text.strip()


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``bulkwriter`` command."""
    parser = argparse.ArgumentParser(
        prog="bulkwriter",
        description="Validate data against a Milvus collection schema and write import-ready files.",
        epilog="Exit status: 0 ok, 1 invalid data or input/output failure, 2 bad usage, "
        "3 rows left out by --on-error skip, 4 imported row count differs from the rows written.",
    )
    parser.add_argument("--version", action="version", version=f"bulkwriter {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    convert = commands.add_parser(
        "convert",
        help="validate input files and write import files",
        description="Validate INPUT files against the collection schema and write import-ready files to --out. "
        "Nothing is written unless every value is valid.",
    )
    _add_inputs(convert)
    convert.add_argument(
        "--out", required=True, metavar="PATH", help="destination folder (local path or URL)"
    )
    convert.add_argument(
        "--format", choices=_FORMATS, default="parquet", help="output format (default: parquet)"
    )
    convert.add_argument(
        "--mode",
        choices=_MODES,
        default="error",
        help="error: refuse a destination that holds files (default); overwrite: replace them after "
        "the new files are committed; append: add files with new names",
    )
    convert.add_argument(
        "--max-rows-per-file", type=_positive_int, metavar="N", help="rows per file, at most"
    )
    convert.add_argument(
        "--max-bytes-per-file",
        type=parse_size,
        default=DEFAULT_MAX_BYTES_PER_FILE,
        metavar="SIZE",
        help="bytes per file, at most (exact): 512MiB, 1GB or plain bytes "
        f"(default: {DEFAULT_MAX_BYTES_PER_FILE // 2**20} MiB)",
    )
    convert.add_argument(
        "--milvus-version",
        type=_milvus_version,
        metavar="V",
        help="oldest Milvus server the files must import into, e.g. 2.5 (default: every supported version)",
    )
    convert.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="raise: stop at the first invalid batch, write nothing (default); skip: leave invalid rows "
        "out and list them in OUT.rejects.jsonl (exit status 3 when any row was left out)",
    )
    convert.add_argument(
        "--max-errors",
        type=_non_negative_int,
        metavar="N",
        help="with --on-error skip: give up (exit 1, nothing written) once more than N rows are invalid",
    )
    convert.add_argument(
        "--no-progress", action="store_true", help="no progress bar (it only shows on a terminal)"
    )
    add_connection_options(convert, uri_flag="--import-into")
    convert.set_defaults(run=_cmd_convert)

    validate = commands.add_parser(
        "validate",
        help="check input files against the schema, write nothing",
        description="Print every invalid value of INPUT files (one line each) and a count. "
        "Exit status 1 when any value is invalid.",
    )
    _add_inputs(validate)
    validate.add_argument("--max-errors", type=_positive_int, metavar="N", help="stop after N invalid values")
    validate.add_argument(
        "--format",
        choices=_FORMATS,
        help="also report values this output format cannot carry (csv: CR LF in VarChar, the null token; "
        "numpy: text ending in NUL), as convert would",
    )
    validate.add_argument(
        "--milvus-version", type=_milvus_version, metavar="V", help="with --format: as for convert"
    )
    add_schema_server_options(validate)
    validate.set_defaults(run=_cmd_validate)

    inspect = commands.add_parser(
        "inspect",
        help="show what an output folder holds, and what failed writes left there",
        description="Show the files (path, rows, bytes), totals and import requests of an output folder, "
        "from its manifest _bulkwriter.json, and every file under it the manifest does not list, leftover "
        "staging and locks. Exit status 1 when nothing is committed there or something is left to clean.",
    )
    inspect.add_argument("path", metavar="PATH", help="an output folder written by bulkwriter")
    inspect.add_argument("--json", action="store_true", help="print the result as JSON")
    inspect.set_defaults(run=_cmd_inspect)

    clean = commands.add_parser(
        "clean",
        help="remove what failed or killed writes left at an output folder",
        description="Put an output folder right after a failed or killed write: put back a previous output "
        "an interrupted commit had set aside, remove files the manifest does not list (without a manifest: "
        "only files a failed write's journal names), and remove the folder's leftover staging. Never runs "
        "while a writer is at work on the folder.",
    )
    clean.add_argument("path", metavar="PATH", help="an output folder written by bulkwriter")
    clean.add_argument("--dry-run", action="store_true", help="change nothing; print what would be done")
    clean.add_argument(
        "--break-lock",
        action="store_true",
        help="also take over a lock whose writer cannot be checked (another host's); "
        "a writer known to be alive is never interrupted",
    )
    clean.add_argument("--json", action="store_true", help="print the result as JSON")
    clean.set_defaults(run=_cmd_clean)

    add_import_command(commands)

    demo = commands.add_parser(
        "demo",
        help="convert the bundled sample into every format",
        description="Convert the bundled sample (1,988 Debian packages with 384-dim embeddings) into all "
        "five formats, one subfolder each, replacing earlier demo output.",
    )
    demo.add_argument(
        "--out", default="./bulkwriter-demo", metavar="DIR", help="output folder (default: ./bulkwriter-demo)"
    )
    demo.add_argument(
        "--import",
        dest="import_",
        action="store_true",
        help="then start the embedded Milvus 2.3.5 (pip install 'bulkwriter[milvus-server]'), create the "
        "collection, import the sample, read rows back, and stop the server",
    )
    demo.add_argument(
        "--milvus-dir",
        default=None,
        metavar="DIR",
        help="where --import unpacks the server (~250 MB, once; default ~/.cache/bulkwriter/milvus-2.3.5)",
    )
    demo.set_defaults(run=_cmd_demo)
    return parser


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="input files or folders (.parquet, .csv, .json, .jsonl/.ndjson; folders are read recursively)",
    )
    schema = parser.add_mutually_exclusive_group(required=True)
    schema.add_argument(
        "--schema",
        metavar="SCHEMA",
        help="collection schema: a Milvus RESTful v2 JSON file, or milvus://HOST:PORT/COLLECTION to read a "
        "live collection's",
    )
    schema.add_argument(
        "--schema-from",
        metavar="URI",
        help="read the schema of --collection from this server (e.g. http://127.0.0.1:19530)",
    )
    parser.add_argument(
        "--input-format",
        choices=_INPUT_FORMATS,
        help="read every input as this format, whatever its extension",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bulkwriter`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; None (default) takes ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 success, 1 invalid data or an input/output failure (message on
        stderr), 2 bad usage.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and bad usage
        return exc.code if isinstance(exc.code, int) else 2
    if args.run is _cmd_convert and args.max_errors is not None and args.on_error != "skip":
        print("bulkwriter convert: error: --max-errors needs --on-error skip", file=sys.stderr)
        return 2
    try:
        status: int = args.run(args)
    except ValidationError as exc:
        _print_validation_error(exc)
        return 1
    except BulkWriterError as exc:
        print(f"bulkwriter: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bulkwriter: interrupted; nothing was committed by an unfinished write", file=sys.stderr)
        return 130
    return status


def _print_validation_error(exc: ValidationError, locate: Callable[[FieldError], str] = str) -> None:
    n = len(exc.errors)
    where = f" in collection '{exc.collection}'" if exc.collection else ""
    lines = [f"bulkwriter: error: {n} invalid value{'s' if n != 1 else ''}{where}; nothing was written:"]
    lines += [f"  {locate(e)}" for e in exc.errors[:_SHOWN_ERRORS]]
    if n > _SHOWN_ERRORS:
        lines.append(f"  ... and {n - _SHOWN_ERRORS} more (run 'bulkwriter validate' to list them all)")
    print("\n".join(lines), file=sys.stderr)


# -- convert --------------------------------------------------------------------------------


def _cmd_convert(args: argparse.Namespace) -> int:
    schema = schema_of(args)
    stream = _FileOffsets(
        find_input_files(args.inputs, input_format=args.input_format), schema, args.input_format
    )
    try:
        result = _convert(args, schema, stream)
    except ValidationError as exc:  # each error named by its file and its row in that file
        _print_validation_error(exc, stream.locate)
        return 1
    print(result.summary())
    if args.import_uri:
        status = run_import(args, result)
        if status:
            return status
    return EXIT_ROWS_REJECTED if result.rows_rejected else 0


def _convert(args: argparse.Namespace, schema: CollectionSchema, stream: Iterable[Batch]) -> WriteResult:
    return api.write(
        stream,
        args.out,
        schema=schema,
        format=args.format,
        mode=args.mode,
        milvus_version=args.milvus_version,
        max_rows_per_file=args.max_rows_per_file,
        max_bytes_per_file=args.max_bytes_per_file,
        progress=not args.no_progress,
        on_error=args.on_error,
        max_errors=args.max_errors,
    )


# -- validate -------------------------------------------------------------------------------


class _FileOffsets:
    """Streams several files' batches and remembers where each file starts (global row)."""

    def __init__(
        self, files: Sequence[tuple[str, str]], schema: CollectionSchema, input_format: str | None
    ) -> None:
        self.files = files
        self.schema = schema
        self.input_format = input_format
        self.starts: list[tuple[int, str]] = []
        self.rows = 0

    def __iter__(self) -> Iterator[Batch]:
        for path, fmt in self.files:
            self.starts.append((self.rows, path))
            for batch in iter_input([path], input_format=fmt, schema=self.schema):
                self.rows += batch.num_rows if isinstance(batch, pa.RecordBatch) else len(batch)
                yield batch

    def locate(self, error: FieldError) -> str:
        """``error`` as one line, its row made relative to the file it comes from."""
        if error.row is None or len(self.files) == 1:
            return str(error)
        start, path = next((s for s in reversed(self.starts) if s[0] <= error.row), (0, self.files[0][0]))
        return f"{path}: {error.shifted(-start)}"


def _cmd_validate(args: argparse.Namespace) -> int:
    schema = schema_of(args)
    stream = _FileOffsets(
        find_input_files(args.inputs, input_format=args.input_format), schema, args.input_format
    )
    errors = api.validate(
        stream,
        schema=schema,
        format=args.format,
        milvus_version=args.milvus_version,
        max_errors=args.max_errors,
    )
    for error in errors:
        print(stream.locate(error))
    n = len(errors)
    if args.max_errors is not None and n >= args.max_errors:
        print(f"{n} invalid value{'s' if n != 1 else ''} (stopped at --max-errors {args.max_errors})")
    elif n:
        print(f"{n} invalid value{'s' if n != 1 else ''} in {stream.rows:,} rows")
    else:
        print(f"all {stream.rows:,} rows are valid")
    return 1 if n else 0


# -- inspect --------------------------------------------------------------------------------


def _cmd_inspect(args: argparse.Namespace) -> int:
    found = api.inspect(args.path)
    if args.json:
        body: dict[str, object] = {
            "path": found.path,
            "committed": found.committed is not None,
            **(_result_dict(found.committed) if found.committed is not None else {}),
            "orphans": list(found.orphans),
            "staging": list(found.staging),
            "writing": found.writing,
            "stale_lock": found.stale_lock,
            "notes": list(found.notes),
            "clean": found.is_clean,
        }
        print(json.dumps(body, indent=2))
    else:
        if found.committed is not None:
            _print_result(found.committed, sys.stdout)
        else:
            print(f"no committed output at {found.path}")
        for note in found.notes:
            print(f"! {note}")
        if not found.is_clean:
            print(f"run `bulkwriter clean {found.path}` to remove what failed writes left")
    return 0 if found.committed is not None and found.is_clean else 1


def _cmd_clean(args: argparse.Namespace) -> int:
    done = api.clean(args.path, dry_run=args.dry_run, break_lock=args.break_lock)
    if args.json:
        print(json.dumps({k: getattr(done, k) for k in done.__dataclass_fields__}, indent=2))
    else:
        print(done.summary())
    return 0


def _result_dict(result: WriteResult) -> dict[str, object]:
    return {
        "path": result.path,
        "format": result.format,
        "files": [
            {"path": f.path, "rows": f.rows, "bytes": f.bytes, "import_paths": list(f.import_paths)}
            for f in result.files
        ],
        "rows": result.rows_written,
        "bytes": result.bytes_written,
        "import_batches": result.import_batches,
        "import_options": result.import_options,
        "manifest_path": result.manifest_path,
    }


def _print_result(result: WriteResult, out: TextIO) -> None:
    table = [(f.path, f"{f.rows:,}", f"{f.bytes:,}") for f in result.files]
    table.append(("total", f"{result.rows_written:,}", f"{result.bytes_written:,}"))
    _print_table(("path", "rows", "bytes"), table, out, right=(1, 2))
    entries = sum(len(batch) for batch in result.import_batches)
    print(
        f"\n{result.format}: {len(result.files)} file(s) in {result.path}; "
        f"{len(result.import_batches)} import request(s), {entries} entries",
        file=out,
    )
    for i, batch in enumerate(result.import_batches, start=1):
        print(f"request {i}: {len(batch)} entries", file=out)
        for entry in batch:
            print(f"  {_entry_text(entry)}", file=out)
    if result.import_options:
        print(f"import options: {json.dumps(result.import_options)}", file=out)


def _entry_text(entry: Sequence[str]) -> str:
    """One import entry: its file, or a NumPy chunk folder with its ``.npy`` count."""
    if len(entry) == 1:
        return entry[0]
    folder = posixpath.dirname(entry[0])
    if all(posixpath.dirname(p) == folder for p in entry):
        return f"{folder}/ ({len(entry)} .npy files)"
    return ", ".join(entry)


def _print_table(
    head: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO, right: Sequence[int] = ()
) -> None:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    print(line(head), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print(line(row), file=out)


# -- demo -----------------------------------------------------------------------------------


def _numpy_batches(batches: Iterator[Batch]) -> Iterator[Batch]:
    for batch in batches:
        assert isinstance(batch, pa.RecordBatch)  # the sample is Parquet
        yield from batches_variant([batch], drop=NUMPY_DROP)


def _cmd_demo(args: argparse.Namespace) -> int:
    data_dir = resources.files("bulkwriter") / "data"
    with (
        resources.as_file(data_dir / DEMO_DATA) as data,
        resources.as_file(data_dir / DEMO_SCHEMA) as schema_path,
    ):
        schema = as_schema(schema_path)
        out = str(args.out).rstrip("/\\") or "."
        print(f"bulkwriter demo: {DEMO_DATA} -> {out}/<format>")
        print(
            f"note: NumPy cannot carry Array or nullable fields, so {out}/numpy is written without "
            f'{" and ".join(NUMPY_DROP)} and with the nulls of homepage (as "") and installed_size_kb '
            "(as 0) filled, those fields made non-nullable."
        )
        rows: list[tuple[str, str, str, str, str]] = []
        for fmt in _FORMATS:
            batches: Iterator[Batch] = iter_input([data])
            fmt_schema = schema
            if fmt == "numpy":
                batches, fmt_schema = _numpy_batches(batches), schema_variant(schema, drop=NUMPY_DROP)
            started = time.perf_counter()
            result = api.write(batches, f"{out}/{fmt}", schema=fmt_schema, format=fmt, mode="overwrite")
            seconds = time.perf_counter() - started
            rows.append(
                (
                    fmt,
                    str(len(result.files)),
                    f"{result.rows_written:,}",
                    f"{result.bytes_written:,}",
                    f"{seconds:.2f}",
                )
            )
    print()
    _print_table(("format", "files", "rows", "bytes", "seconds"), rows, sys.stdout, right=(1, 2, 3, 4))
    print(f"\ninspect one with: bulkwriter inspect {out}/parquet")
    if args.import_:
        from bulkwriter.demo_import import run_demo_import

        return run_demo_import(out, milvus_dir=args.milvus_dir)
    return 0
