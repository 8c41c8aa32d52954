"""Tests of the command line (bulkwriter.cli), run in-process through main() and once as a subprocess."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bulkwriter.cli import main, parse_size

SCHEMA = {
    "autoId": False,
    "enabledDynamicField": False,
    "fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
        {
            "fieldName": "name",
            "dataType": "VarChar",
            "nullable": True,
            "elementTypeParams": {"max_length": 8},
        },
        {"fieldName": "score", "dataType": "Float"},
        {"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
    ],
}


def part(out: Path, index: int) -> Path:
    """The committed file with part index ``index`` under ``out`` (its name carries the write id)."""
    (found,) = [p for p in out.iterdir() if p.name.startswith(f"part-{index:05d}-")]
    return found


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    return path


@pytest.fixture
def rows_csv(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "rows.csv"
    path.parent.mkdir()
    lines = (
        ["id,name,score,vec"] + [f'{i},n{i},{i / 2},"[{i}, 0.5]"' for i in range(10)] + ['10,\\N,1,"[1,2]"']
    )
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def bad_jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "bad.jsonl"
    rows = [
        {"id": 101, "name": "ok", "score": 1.0, "vec": [1, 2]},
        {"id": 102, "name": "much too long", "score": 1.0, "vec": [1, 2]},
        {"id": 103, "name": "ok", "score": 1.0, "vec": [1, 2, 3]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# -- usage ----------------------------------------------------------------------------------


def test_python_m_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bulkwriter", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: bulkwriter")
    for command in ("convert", "validate", "inspect", "demo"):
        assert command in proc.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("bulkwriter ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["convert", "x.csv", "--out", "o"], "one of the arguments --schema --schema-from is required"),
        (["convert", "x.csv", "--schema", "s", "--out", "o", "--format", "xml"], "invalid choice: 'xml'"),
        (
            ["convert", "x.csv", "--schema", "s", "--out", "o", "--max-bytes-per-file", "12 parsecs"],
            "invalid size",
        ),
        (
            ["convert", "x.csv", "--schema", "s", "--out", "o", "--max-rows-per-file", "0"],
            "invalid count '0'",
        ),
        (
            ["convert", "x.csv", "--schema", "s", "--out", "o", "--milvus-version", "two"],
            "invalid Milvus version",
        ),
        (["validate", "x.csv", "--schema", "s", "--max-errors", "-1"], "invalid count '-1'"),
    ],
)
def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4096", 4096),
        ("512MiB", 512 * 2**20),
        ("1GB", 10**9),
        ("1gb", 10**9),
        ("1.5 GiB", 3 * 2**29),
        ("10kB", 10_000),
        ("2KiB", 2048),
        ("7b", 7),
        ("1TiB", 2**40),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MiB", "-1", "1 M", "0", "0.1B", "1e3", "12 parsecs"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="invalid size"):
        parse_size(text)


# -- convert --------------------------------------------------------------------------------


def test_convert_csv_to_parquet(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema_file: Path, rows_csv: Path
) -> None:
    out = tmp_path / "out"
    status = main(
        ["convert", str(rows_csv), "--schema", str(schema_file), "--out", str(out), "--no-progress"]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert (
        captured.out
        == f"parquet: 1 file(s), 11 rows, {part(out, 0).stat().st_size:,} bytes -> {out}\n  import requests: 1 (1 entries)\n"
    )
    assert captured.err == ""
    table = pq.read_table(part(out, 0))
    assert table.column("name").to_pylist()[-2:] == ["n9", None]
    assert table.column("vec").to_pylist()[1] == pytest.approx([1.0, 0.5])


@pytest.mark.parametrize("fmt", ["parquet", "json", "jsonl", "numpy", "csv"])
def test_convert_every_format_with_rollover(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema_file: Path, rows_csv: Path, fmt: str
) -> None:
    schema = json.loads(schema_file.read_text())
    if fmt == "numpy":  # NumPy cannot carry nullable fields: give every row a name
        schema["fields"][1].pop("nullable")
        schema_file.write_text(json.dumps(schema))
        rows_csv.write_text(rows_csv.read_text().replace("\\N", "nobody"))
    out = tmp_path / fmt
    argv = ["convert", str(rows_csv.parent), "--schema", str(schema_file), "--out", str(out)]
    assert main([*argv, "--format", fmt, "--max-rows-per-file", "4"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.startswith(f"{fmt}: 3 file(s), 11 rows,")
    assert main(["inspect", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [f["rows"] for f in info["files"]] == [4, 4, 3]
    assert info["rows"] == 11
    assert info["format"] == fmt
    assert sum(len(batch) for batch in info["import_batches"]) == 3


def test_convert_modes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema_file: Path, rows_csv: Path
) -> None:
    out = tmp_path / "out"
    argv = ["convert", str(rows_csv), "--schema", str(schema_file), "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("bulkwriter: error: ")
    assert str(out) in err
    assert main([*argv, "--mode", "append"]) == 0
    assert main([*argv, "--mode", "overwrite"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 11


def test_convert_invalid_values_exit_1_and_write_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema_file: Path, bad_jsonl: Path
) -> None:
    out = tmp_path / "out"
    assert main(["convert", str(bad_jsonl), "--schema", str(schema_file), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0] == "bulkwriter: error: 2 invalid values; nothing was written:"
    assert lines[1].startswith("  row 1, field 'name': expected ")
    assert lines[2].startswith("  row 2, field 'vec': expected ")
    assert not out.exists() or not any(out.iterdir())


def test_convert_unreadable_input_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema_file: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n{"id": \n')
    assert main(["convert", str(bad), "--schema", str(schema_file), "--out", str(tmp_path / "o")]) == 1
    assert (
        capsys.readouterr().err
        == f"bulkwriter: error: {bad}: line 2: not valid JSON at column 8: unexpected end of data\n"
    )
    missing = tmp_path / "missing.csv"
    assert main(["convert", str(missing), "--schema", str(schema_file), "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err == f"bulkwriter: error: {missing}: no such file or folder\n"


def test_convert_bad_schema_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows_csv: Path
) -> None:
    schema = tmp_path / "s.json"
    schema.write_text('{"fields": [{"fieldName": "id", "dataType": "Int64"}]}')
    assert main(["convert", str(rows_csv), "--schema", str(schema), "--out", str(tmp_path / "o")]) == 1
    assert "bulkwriter: error: " in capsys.readouterr().err
    assert (
        main(
            ["convert", str(rows_csv), "--schema", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")]
        )
        == 1
    )
    assert "cannot read schema file" in capsys.readouterr().err


def test_convert_progress_callback_quiet_off_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema_file: Path, rows_csv: Path
) -> None:
    # the bar is on by default but tqdm stays quiet when stderr is not a terminal (as here)
    assert main(["convert", str(rows_csv), "--schema", str(schema_file), "--out", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().err == ""


# -- validate -------------------------------------------------------------------------------


def test_validate_valid(capsys: pytest.CaptureFixture[str], schema_file: Path, rows_csv: Path) -> None:
    assert main(["validate", str(rows_csv), "--schema", str(schema_file)]) == 0
    assert capsys.readouterr().out == "all 11 rows are valid\n"


def test_validate_lists_every_invalid_value(
    capsys: pytest.CaptureFixture[str], schema_file: Path, bad_jsonl: Path
) -> None:
    assert main(["validate", str(bad_jsonl), "--schema", str(schema_file)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("row 1, field 'name': expected a string of at most 8 UTF-8 bytes, got ")
    assert lines[1].startswith("row 2, field 'vec': ")
    assert lines[2] == "2 invalid values in 3 rows"


def test_validate_rows_per_file_and_max_errors(
    capsys: pytest.CaptureFixture[str], schema_file: Path, rows_csv: Path, bad_jsonl: Path
) -> None:
    assert main(["validate", str(rows_csv), str(bad_jsonl), "--schema", str(schema_file)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(
        f"{bad_jsonl}: row 1, field 'name': "
    )  # row 12 of the input, row 1 of its file
    assert lines[-1] == "2 invalid values in 14 rows"
    assert main(["validate", str(bad_jsonl), "--schema", str(schema_file), "--max-errors", "1"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[1] == "1 invalid value (stopped at --max-errors 1)"


def test_validate_with_an_output_format(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema_file: Path
) -> None:
    path = tmp_path / "crlf.jsonl"
    rows = [
        {"id": 1, "name": "a\r\nb", "score": 1.0, "vec": [1, 2]},
        {"id": 2, "name": "ok", "score": 1.0, "vec": [1, 2]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["validate", str(path), "--schema", str(schema_file)]) == 0  # fine for Parquet
    capsys.readouterr()
    assert main(["validate", str(path), "--schema", str(schema_file), "--format", "csv"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("row 0, field 'name': expected text without CR LF")
    assert lines[-1] == "1 invalid value in 2 rows"


# -- inspect --------------------------------------------------------------------------------


def test_inspect_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema_file: Path, rows_csv: Path
) -> None:
    out = tmp_path / "out"
    argv = ["convert", str(rows_csv), "--schema", str(schema_file), "--out", str(out), "--format", "csv"]
    assert main([*argv, "--max-rows-per-file", "6"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split() == ["path", "rows", "bytes"]
    assert lines[2].split()[:2] == [str(part(out, 0)), "6"]
    assert lines[3].split()[:2] == [str(part(out, 1)), "5"]
    assert lines[4].split()[:2] == ["total", "11"]
    assert f"csv: 2 file(s) in {out}; 1 import request(s), 2 entries" in text
    assert "request 1: 2 entries" in text
    assert 'import options: {"nullkey": "\\\\N"}' in text


def test_inspect_without_manifest(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["inspect", str(tmp_path)]) == 1
    assert capsys.readouterr().out == f"no committed output at {tmp_path}\n"


# -- demo -----------------------------------------------------------------------------------


def test_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "note: NumPy cannot carry Array or nullable fields" in text
    header = next(line for line in text.splitlines() if line.startswith("format"))
    assert header.split() == ["format", "files", "rows", "bytes", "seconds"]
    for fmt in ("parquet", "json", "jsonl", "numpy", "csv"):
        row = next(line for line in text.splitlines() if line.startswith(fmt + " "))
        assert row.split()[2] == "1,988"
        assert main(["inspect", str(out / fmt), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["rows"] == 1988
        assert info["format"] == fmt
    npy = {p.name for p in (out / "numpy").rglob("*.npy")}
    assert "depends.npy" not in npy
    assert "homepage.npy" in npy
    # again: mode overwrite replaces the earlier demo output
    assert main(["demo", "--out", str(out)]) == 0


def test_convert_on_error_skip_exit_status_and_rejects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "fields": [
                    {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                    {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
                ]
            }
        )
    )
    data = tmp_path / "in.jsonl"
    data.write_text('{"id": 1, "v": [1, 2]}\n{"id": 2, "v": [1]}\n{"id": 3, "v": [3, 4]}\n')
    out = tmp_path / "out"
    argv = [
        "convert",
        str(data),
        "--schema",
        str(schema),
        "--out",
        str(out),
        "--format",
        "json",
        "--no-progress",
    ]
    assert main(argv) == 1
    assert "row 1, field 'v'" in capsys.readouterr().err
    assert main([*argv, "--on-error", "skip"]) == 3
    assert "rejected: 1 of 3 rows" in capsys.readouterr().out
    assert [r["id"] for r in json.loads(part(out, 0).read_text())["rows"]] == [1, 3]
    assert json.loads((tmp_path / "out.rejects.jsonl").read_text())["row"] == 1
    assert main([*argv, "--on-error", "skip", "--max-errors", "0", "--mode", "overwrite"]) == 1


# -- never a traceback (issue 15, item 5) ----------------------------------------------------

_VECTOR_ROWS = '{"id": 1, "vec": [0.1, 0.2], "score": 1}\n{"id": 2, "vec": [0.1, 0.2], "score": 1}\n'


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return status, captured.out + captured.err


@pytest.mark.parametrize(
    ("schema_bytes", "message"),
    [
        (b'{"fields": [], "description": "\xff\xfe"}', "is not UTF-8 text"),
        (
            b'{"fields": [{"fieldName": "id", "dataType": "Int64", "isPrimary": true},'
            b'{"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": [2]}]}',
            "elementTypeParams must be an object",
        ),
    ],
    ids=["non-utf8", "params-list"],
)
def test_bad_schema_files_are_one_line_errors(
    schema_bytes: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = tmp_path / "s.json"
    schema.write_bytes(schema_bytes)
    data = tmp_path / "rows.jsonl"
    data.write_text(_VECTOR_ROWS)
    status, text = _run(["convert", str(data), "--schema", str(schema), "--out", str(tmp_path / "o")], capsys)
    assert status == 1
    assert message in text


def test_csv_with_a_duplicated_header_is_refused(
    tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "dup.csv"
    data.write_text('id,id,score,vec\n1,2,1,"[0.1,0.2]"\n')
    for command in ("convert", "validate"):
        argv = [command, str(data), "--schema", str(schema_file)]
        status, text = _run([*argv, "--out", str(tmp_path / "o")] if command == "convert" else argv, capsys)
        assert status == 1
        assert "column 'id' 2 times" in text


@pytest.mark.parametrize(
    "manifest", ["{}", "[]", '{"format": "parquet"}', '{"version": 1, "files": "x"}', '"text"', "nope"]
)
def test_a_broken_manifest_is_reported_not_raised(
    manifest: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "_bulkwriter.json").write_text(manifest)
    status, text = _run(["inspect", str(out)], capsys)
    assert status == 1
    assert "manifest" in text
    assert "KeyError" not in text
    assert "TypeError" not in text


def test_convert_of_several_inputs_names_each_errors_file_and_row(
    tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(_VECTOR_ROWS)
    second.write_text('{"id": 3, "vec": [0.1, 0.2], "score": 1}\n{"id": 4, "vec": [0.1], "score": 1}\n')
    status, text = _run(
        ["convert", str(first), str(second), "--schema", str(schema_file), "--out", str(tmp_path / "o")],
        capsys,
    )
    assert status == 1
    assert f"{second}: row 1, field 'vec'" in text


def test_jsonl_with_a_byte_order_mark_is_read(
    tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bom.jsonl"
    data.write_bytes(b"\xef\xbb\xbf" + _VECTOR_ROWS.encode())
    status, _ = _run(
        ["convert", str(data), "--schema", str(schema_file), "--out", str(tmp_path / "o")], capsys
    )
    assert status == 0
    assert pq.read_table(part(tmp_path / "o", 0)).column("id").to_pylist() == [1, 2]


def test_max_errors_without_skip_is_a_usage_error(
    tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text(_VECTOR_ROWS)
    argv = [
        "convert",
        str(data),
        "--schema",
        str(schema_file),
        "--out",
        str(tmp_path / "o"),
        "--max-errors",
        "3",
    ]
    status, text = _run(argv, capsys)
    assert status == 2
    assert "--max-errors needs --on-error skip" in text
    assert not (tmp_path / "o").exists()


def test_numpy_field_name_too_long_for_a_file_name_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_name = "f" * 252  # with ".npy" 256 bytes, over 255
    schema = tmp_path / "s.json"
    schema.write_text(
        json.dumps(
            {
                "fields": [
                    {"fieldName": "id", "dataType": "Int64", "isPrimary": True},
                    {"fieldName": long_name, "dataType": "FloatVector", "elementTypeParams": {"dim": 2}},
                ]
            }
        )
    )
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"id": 1, long_name: [0.1, 0.2]}) + "\n")
    argv = ["convert", str(data), "--schema", str(schema), "--out", str(tmp_path / "o"), "--format", "numpy"]
    status, text = _run(argv, capsys)
    assert status == 1
    assert "255-byte limit" in text
    assert not (tmp_path / "o").exists()
