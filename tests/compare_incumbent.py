"""Measure what bulkwriter and pymilvus's LocalBulkWriter do with each class of bad input.

Run ``python tests/compare_incumbent.py`` (needs the ``test`` extra: pymilvus[bulk-writer])
to print the Markdown table the README shows. Each case feeds one bad row (among good ones)
to both writers, Parquet output, and records what happened: an error (type and the start of
its message) or which rows reached the files. ``tests/test_compare_incumbent.py`` runs it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

import bulkwriter
from bulkwriter import CollectionSchema, DataType, FieldSchema
from bulkwriter.schema import schema_to_pymilvus

SCHEMA = CollectionSchema(
    [
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("small", DataType.INT8),
        FieldSchema("title", DataType.VARCHAR, max_length=8),
        FieldSchema("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=2),
        FieldSchema("attrs", DataType.JSON),
        FieldSchema("vec", DataType.FLOAT_VECTOR, dim=4),
    ]
)


def good(i: int) -> dict[str, Any]:
    return {"id": i, "small": 1, "title": "ok", "tags": [1], "attrs": {"a": 1}, "vec": [0.1, 0.2, 0.3, 0.4]}


@dataclass(frozen=True)
class Case:
    name: str
    change: Callable[[dict[str, Any]], None]


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(row: dict[str, Any]) -> None:
        row[key] = value

    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def change(row: dict[str, Any]) -> None:
        del row[key]

    return change


CASES = [
    Case("NaN in a float vector", _set("vec", [0.1, float("nan"), 0.3, 0.4])),
    Case("Int8 overflow (300)", _set("small", 300)),
    Case("float with a fraction in Int64 (1.5)", _set("id", 1.5)),
    Case("bool in an Int8 field", _set("small", True)),
    Case("duplicate primary key", _set("id", 0)),
    Case("VarChar over max_length in UTF-8 bytes (5 chars, 10 bytes > 8)", _set("title", "ééééé")),
    Case("lone surrogate in VarChar", _set("title", "\ud800")),
    Case("unknown key, dynamic field off", _set("color", "red")),
    Case("vector of the wrong dimension", _set("vec", [0.1, 0.2, 0.3])),
    Case("array over max_capacity", _set("tags", [1, 2, 3])),
    Case("NaN inside a JSON value", _set("attrs", {"a": float("nan")})),
    Case("required field missing", _drop("small")),
    Case("null in a non-nullable field", _set("title", None)),
]


@dataclass(frozen=True)
class Outcome:
    case: str
    bulkwriter: str
    pymilvus: str


def _rows(case: Case) -> list[dict[str, Any]]:
    rows = [good(i) for i in range(4)]
    case.change(rows[2])
    return rows


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, bulkwriter.ValidationError) and exc.errors:
        e = exc.errors[0]
        return f"ValidationError `{e.code}`, row {e.row}, field '{e.field}'"
    text = str(exc)
    if "message=" in text:
        text = text.split("message=", 1)[1]
    text = " ".join(text.split())
    return f"{type(exc).__name__}: {text[:70]}"


def run_bulkwriter(case: Case, out: Path) -> str:
    try:
        result = bulkwriter.write(_rows(case), out, schema=SCHEMA)
    except bulkwriter.BulkWriterError as exc:
        return _describe_error(exc)
    return f"accepted: {result.rows_written} rows written"


def run_pymilvus(case: Case, out: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymilvus.bulk_writer import BulkFileType, LocalBulkWriter

        schema = schema_to_pymilvus(SCHEMA)
        log = io.StringIO()
        handler = logging.StreamHandler(log)
        logging.getLogger().addHandler(handler)
        try:
            writer = LocalBulkWriter(schema=schema, local_path=str(out), file_type=BulkFileType.PARQUET)
            try:
                for row in _rows(case):
                    writer.append_row(row)
            except Exception as exc:  # noqa: BLE001  (recording whatever the incumbent raises)
                return f"raises {_describe_error(exc)}"
            try:
                writer.commit()
            except Exception as exc:  # noqa: BLE001
                return f"commit raises {_describe_error(exc)}"
            files = [Path(p) for batch in writer.batch_files for p in batch]
        finally:
            logging.getLogger().removeHandler(handler)
        rows = sum(pq.read_metadata(p).num_rows for p in files if p.suffix == ".parquet")
        note = " (error only logged)" if "error" in log.getvalue().lower() else ""
        return f"accepted: {rows} rows written{note}" if files else f"accepted, but no file written{note}"


def compare() -> list[Outcome]:
    """Run every case through both writers."""
    outcomes = []
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            ours = run_bulkwriter(case, Path(tmp) / "ours")
            with contextlib.redirect_stderr(io.StringIO()):
                theirs = run_pymilvus(case, Path(tmp) / "theirs")
        outcomes.append(Outcome(case.name, ours, theirs))
    return outcomes


def markdown(outcomes: list[Outcome]) -> str:
    lines = [
        "| bad input (row 2 of 4) | bulkwriter | pymilvus LocalBulkWriter 3.0.2 |",
        "|---|---|---|",
    ]
    for o in outcomes:
        lines.append(f"| {o.case} | {o.bulkwriter.replace('|', '/')} | {o.pymilvus.replace('|', '/')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(compare()))
