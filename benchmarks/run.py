"""Benchmark bulkwriter against pymilvus's LocalBulkWriter and the raw limit.

One command runs every workload x format x input form, each case (and each repeat) in a fresh
subprocess (``benchmarks/case.py``), reads every output back to check its rows
(``benchmarks/verify.py``), prints a Markdown table and writes JSON::

    .venv/bin/python benchmarks/run.py                 # 100k rows, 3 repeats, everything
    .venv/bin/python benchmarks/run.py --quick         # small N, 1 repeat (CI)
    .venv/bin/python benchmarks/run.py --workloads standard --formats parquet,json --rows 1000000
    .venv/bin/python benchmarks/run.py --threads 1,2   # bulkwriter with workers=1 and 2: the speedup

Columns: ``rows/s`` is the median over repeats (min-max beside it); ``MB/s`` is output bytes
on disk per second; ``peak MiB`` is the case process's peak RSS (its input data included;
``base`` in the JSON is the RSS just before the timed part); ``x pymilvus`` is rows/s over
pymilvus's rows/s on the same workload and format (pymilvus only takes rows, so both input
forms are compared with its row input); ``x raw`` is time per row over the raw limit's
(1.00 = as fast as the floor, lower is better); ``x 1 thread`` is rows/s over the same case's
with ``--threads 1`` (bulkwriter's ``workers``); ``append µs/row`` is the time of the
``append_row`` loop alone per row (row input). A case whose files do not hold exactly its
rows (count and primary-key sum) fails, and the command exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from verify import read_back
from workloads import WORKLOADS, expected_id_sum, get_workload

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FORMATS = ("parquet", "json", "jsonl", "numpy", "csv")
INPUTS = ("rows", "columns", "stream")
WRITERS = ("bulkwriter", "pymilvus", "raw")
DEFAULT_JSON = HERE / "results" / "latest.json"


@dataclass
class Case:
    """One workload x format x writer x input form, and what its runs measured."""

    workload: str
    format: str
    writer: str
    input: str
    rows: int
    threads: int | None = None  # bulkwriter's ``workers``; None for the other writers
    status: str = "pending"  # ok | n/a | failed
    reason: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Short unique name (also the output folder name)."""
        base = f"{self.workload}-{self.format}-{self.writer}-{self.input}"
        return base if self.threads is None else f"{base}-{self.threads}t"

    def stat(self, name: str) -> list[float]:
        """The values of ``name`` over the verified runs."""
        return [float(r[name]) for r in self.runs if r.get("verified")]

    @property
    def rows_per_s(self) -> float | None:
        """Median rows per second over the verified runs."""
        values = self.stat("rows_per_s")
        return statistics.median(values) if values else None


# -- running ------------------------------------------------------------------------------------
def _bulkwriter_refuses(workload: str, fmt: str, scratch: Path) -> str | None:
    """bulkwriter's own verdict on whether ``fmt`` can carry the workload's schema."""
    import bulkwriter

    try:
        writer = bulkwriter.Writer(
            scratch / f"probe-{workload}-{fmt}", schema=get_workload(workload).schema, format=fmt
        )
    except bulkwriter.errors.FormatError as exc:
        return str(exc)
    writer.abort()
    return None


def _pymilvus_file_types() -> set[str]:
    try:
        from pymilvus.bulk_writer import BulkFileType
    except ImportError:
        return set()
    return {name.lower() for name in BulkFileType.__members__}


def plan(args: argparse.Namespace, scratch: Path) -> list[Case]:
    """Every case to run, with the ones that cannot run marked n/a (and why)."""
    cases: list[Case] = []
    pymilvus_types = _pymilvus_file_types() if "pymilvus" in args.writers else set()
    for workload in args.workloads:
        for fmt in args.formats:
            refused = _bulkwriter_refuses(workload, fmt, scratch)
            for writer in args.writers:
                inputs = args.inputs if writer == "bulkwriter" else ["rows" if writer == "pymilvus" else "-"]
                for form, threads in [
                    (f, t) for f in inputs for t in (args.threads if writer == "bulkwriter" else [None])
                ]:
                    rows = min(args.rows, args.pymilvus_rows) if writer == "pymilvus" else args.rows
                    case = Case(workload, fmt, writer, form, rows, threads)
                    if refused:
                        case.status, case.reason = "n/a", f"format cannot carry the schema: {refused}"
                    elif writer == "pymilvus" and fmt not in pymilvus_types:
                        case.status = "n/a"
                        case.reason = (
                            "pymilvus not installed" if not pymilvus_types else "no such BulkFileType"
                        )
                    cases.append(case)
    return cases


def run_once(case: Case, args: argparse.Namespace, scratch: Path, repeat: int) -> dict[str, Any]:
    """Run one repeat of ``case`` in a fresh process, then read its output back."""
    folder = scratch / f"{case.key}-{repeat}"
    spec = {
        "writer": case.writer,
        "input": case.input,
        "workload": case.workload,
        "format": case.format,
        "rows": case.rows,
        "out": str(folder / "out"),
        "budget_s": args.pymilvus_budget,
        "threads": case.threads,
    }
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(HERE / "case.py"), json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=args.case_timeout,
            cwd=HERE,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        result: dict[str, Any] = (
            json.loads(lines[-1]) if lines else {"status": "error", "error": proc.stderr[-2000:]}
        )
        if proc.returncode and result.get("status") == "ok":
            result = {"status": "error", "error": f"exit code {proc.returncode}: {proc.stderr[-2000:]}"}
        if result["status"] == "ok":
            _check(result, case, folder / "out")
    except subprocess.TimeoutExpired:
        result = {"status": "error", "error": f"timed out after {args.case_timeout} s"}
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    result["wall_s"] = time.perf_counter() - started
    return result


def _check(result: dict[str, Any], case: Case, out: Path) -> None:
    """Read the output back; fill rows/s and MB/s only when it holds exactly the rows claimed."""
    try:
        back = read_back(out, case.format)
    except Exception as exc:  # noqa: BLE001 - an unreadable output is a failed case
        result.update(verified=False, error=f"read-back failed: {type(exc).__name__}: {exc}")
        return
    claimed = int(result["rows"])
    result.update(rows_read=back.rows, id_sum=back.id_sum, bytes=back.bytes, files=back.files)
    if claimed == 0 or back.rows != claimed or back.id_sum != expected_id_sum(claimed):
        result.update(
            verified=False,
            error=f"read back {back.rows} rows (id sum {back.id_sum}); expected {claimed} "
            f"(id sum {expected_id_sum(claimed)})",
        )
        return
    seconds = float(result["seconds"])
    result.update(verified=True, rows_per_s=claimed / seconds, mb_per_s=back.bytes / 1e6 / seconds)


def run_all(cases: list[Case], args: argparse.Namespace, scratch: Path) -> None:
    """Run every repeat of every runnable case (repeats interleaved), ``args.jobs`` at a time."""
    runnable = [c for c in cases if c.status == "pending"]
    jobs = [(c, r) for r in range(args.repeat) for c in runnable]
    width = max((len(c.key) for c in runnable), default=0)

    def one(job: tuple[Case, int]) -> tuple[Case, dict[str, Any]]:
        case, repeat = job
        return case, run_once(case, args, scratch, repeat)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for done, (case, result) in enumerate(pool.map(one, jobs), 1):
            case.runs.append(result)
            if result.get("verified"):
                note = f"{result['rows']:>9,} rows {result['seconds']:8.2f} s {result['rows_per_s']:>12,.0f} rows/s"
            else:
                note = "FAILED: " + str(result.get("error", "?")).splitlines()[-1][:160]
            print(f"[{done}/{len(jobs)}] {case.key:<{width}}  {note}", file=sys.stderr, flush=True)
    for case in runnable:
        bad = [r for r in case.runs if not r.get("verified")]
        case.status = "failed" if bad else "ok"
        if bad:
            case.reason = str(bad[0].get("error", "?"))[:2000]


# -- reporting ----------------------------------------------------------------------------------
def summarize(cases: list[Case]) -> list[dict[str, Any]]:
    """One record per case: medians, ranges and ratios."""
    by_key = {(c.workload, c.format, c.writer): c for c in cases if c.writer != "bulkwriter"}
    one_thread = {(c.workload, c.format, c.input): c for c in cases if c.threads == 1}
    out = []
    for case in cases:
        record: dict[str, Any] = {k: v for k, v in asdict(case).items() if k != "runs"}
        record["runs"] = case.runs
        rps = case.rows_per_s
        if rps is not None:
            record.update(
                rows_per_s=rps,
                rows_per_s_min=min(case.stat("rows_per_s")),
                rows_per_s_max=max(case.stat("rows_per_s")),
                seconds_median=statistics.median(case.stat("seconds")),
                rows_done=int(statistics.median(case.stat("rows"))),
                us_per_row=1e6 / rps,
                mb_per_s=statistics.median(case.stat("mb_per_s")),
                peak_rss_mib=statistics.median(case.stat("peak_rss_mib")),
                base_rss_mib=statistics.median(case.stat("base_rss_mib")),
                output_bytes=int(statistics.median(case.stat("bytes"))),
            )
            if case.input == "rows" and case.stat("append_seconds"):
                record["append_us_per_row"] = 1e6 * statistics.median(
                    [r["append_seconds"] / r["rows"] for r in case.runs if r.get("verified")]
                )
            pm, raw = (
                by_key.get((case.workload, case.format, "pymilvus")),
                by_key.get((case.workload, case.format, "raw")),
            )
            if case.writer != "pymilvus" and pm is not None and pm.rows_per_s:
                record["x_pymilvus"] = rps / pm.rows_per_s
            if case.writer != "raw" and raw is not None and raw.rows_per_s:
                record["x_raw_time"] = raw.rows_per_s / rps
            single = one_thread.get((case.workload, case.format, case.input))
            if case.threads and case.threads > 1 and single is not None and single.rows_per_s:
                record["x_1_thread"] = rps / single.rows_per_s
        out.append(record)
    return out


def _fmt(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def table(records: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    head = (
        "| workload | format | writer | input | threads | rows | rows/s (median) | min-max | µs/row "
        "| append µs/row | MB/s | peak RSS MiB | x pymilvus | x raw time | x 1 thread | verified |"
    )
    lines = [head, "|" + "---|" * 16]
    for r in records:
        threads = "-" if r.get("threads") is None else r["threads"]
        if r["status"] != "ok":
            status = "n/a" if r["status"] == "n/a" else "**FAILED**"
            reason = r["reason"].splitlines()[0][:90] if r["reason"] else ""
            lines.append(
                f"| {r['workload']} | {r['format']} | {r['writer']} | {r['input']} | {threads} | {r['rows']:,} "
                f"| {status} | | | | | | | | | {reason} |"
            )
            continue
        rng = f"{r['rows_per_s_min']:,.0f}-{r['rows_per_s_max']:,.0f}"
        lines.append(
            f"| {r['workload']} | {r['format']} | {r['writer']} | {r['input']} | {threads} | {r['rows_done']:,} "
            f"| {r['rows_per_s']:,.0f} | {rng} | {r['us_per_row']:,.1f} | {_fmt(r.get('append_us_per_row'), ',.1f')} "
            f"| {r['mb_per_s']:,.0f} | {r['peak_rss_mib']:,.0f} | {_fmt(r.get('x_pymilvus'), '.1f')} "
            f"| {_fmt(r.get('x_raw_time'), '.2f')} | {_fmt(r.get('x_1_thread'), '.2f')} "
            f"| {len(r['runs'])}/{len(r['runs'])} |"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """Where and with what the benchmark ran."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(
            line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
        )
        mem_gib = round(int(mem.split()[1]) / 2**20, 1)
    except (OSError, StopIteration):
        mem_gib = None
    versions: dict[str, str | None] = {}
    for name in ("bulkwriter", "pyarrow", "numpy", "orjson", "pymilvus", "pandas"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "git_commit": commit.strip(),
    }


# -- command line -------------------------------------------------------------------------------
def _names(choices: tuple[str, ...]) -> Any:
    def parse(text: str) -> list[str]:
        names = [t.strip() for t in text.split(",") if t.strip()]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"choose from {', '.join(choices)} (comma-separated); got {text!r}"
            )
        return names

    return parse


def _counts(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"positive integers, comma-separated; got {text!r}")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (``--quick`` sets small defaults for anything not given)."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--rows", type=int, help="rows per case for bulkwriter and raw (default 100000; quick 1000)"
    )
    p.add_argument("--repeat", type=int, help="fresh-process runs per case (default 3; quick 1)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="1000 rows, 1 repeat, parallel jobs: a CI smoke run (timings not meaningful)",
    )
    p.add_argument("--workloads", type=_names(WORKLOADS), default=list(WORKLOADS), help="comma-separated")
    p.add_argument("--formats", type=_names(FORMATS), default=list(FORMATS), help="comma-separated")
    p.add_argument(
        "--inputs", type=_names(INPUTS), default=["rows", "columns"], help="bulkwriter input forms"
    )
    p.add_argument("--writers", type=_names(WRITERS), default=list(WRITERS), help="comma-separated")
    p.add_argument(
        "--threads",
        type=_counts,
        help="bulkwriter workers= values, comma-separated (default 2; quick 1,2); "
        "with 1 and another, 'x 1 thread' is the speedup",
    )
    p.add_argument("--pymilvus-rows", type=int, help="row cap for pymilvus (default 10000; quick 500)")
    p.add_argument(
        "--pymilvus-budget", type=float, default=60.0, help="seconds pymilvus may append before commit"
    )
    p.add_argument(
        "--jobs",
        type=int,
        help="cases run at once (default 1: timings need an idle machine; quick: cores, at least 2)",
    )
    p.add_argument("--case-timeout", type=float, default=1800.0, help="seconds per case process")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"results file (default {DEFAULT_JSON})")
    p.add_argument("--workdir", type=Path, help="scratch folder for outputs (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep every case's output files")
    args = p.parse_args(argv)
    quick = args.quick
    args.rows = args.rows or (1_000 if quick else 100_000)
    args.repeat = args.repeat or (1 if quick else 3)
    args.pymilvus_rows = args.pymilvus_rows or (500 if quick else 10_000)
    args.threads = args.threads or ([1, 2] if quick else [2])
    args.jobs = args.jobs or (max(2, os.cpu_count() or 1) if quick else 1)
    if min(args.rows, args.repeat, args.pymilvus_rows, args.jobs) < 1:
        p.error("--rows, --repeat, --pymilvus-rows and --jobs must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when any case failed or did not verify."""
    args = parse_args(argv)
    load_before = os.getloadavg()
    scratch = Path(tempfile.mkdtemp(prefix="bulkwriter-bench-", dir=args.workdir))
    started = time.perf_counter()
    try:
        cases = plan(args, scratch)
        run_all(cases, args, scratch)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    records = summarize(cases)
    text = table(records)
    print(text)
    failed = [c.key for c in cases if c.status == "failed"]
    ok = sum(c.status == "ok" for c in cases)
    na = sum(c.status == "n/a" for c in cases)
    print(
        f"\n{ok} cases verified, {na} n/a, {len(failed)} failed; {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    document = {
        "command": " ".join(
            [Path(sys.executable).name, "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {**machine(), "load_avg_before": load_before, "load_avg_after": os.getloadavg()},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cases": records,
        "table": text,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=1) + "\n")
    print(f"results: {args.json}", file=sys.stderr)
    if failed:
        print("FAILED: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
