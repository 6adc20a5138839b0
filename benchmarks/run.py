"""Benchmark: `datatasker process` against the DuckDB baseline (issue 13's targets).

    python -m benchmarks.run --rows 1000000 [--repeat 3] [--seed 42] [--json]
        [--shape narrow|wide] [--regions N] [--text-len L] [--quote-rate Q]
        [--extra-columns C] [--anomaly-rate A]

1. Generates the sales file (benchmarks.generate, the shape and knobs given)
   once per (rows, seed, shape, knobs, generator version), cached as
   benchmarks/work/sales_<rows>r_s<seed>[_<shape and knobs>]_<hash>.csv. A shape
   that needs options (wide: column_map {"Sales": "revenue"}) gets them on both
   sides: `--config JSON` for the pipeline, `--options JSON` for DuckDB.
2. Runs, alternately and each in its own subprocess, `repeat` times each:
     pipeline: uv run --no-sync datatasker process FILE --json
               (a fresh DATATASKER_DATA_DIR per run; one DAGSTER_HOME for the whole
               benchmark, as a user's dagster_home/ is and with its dagster.yaml,
               or a new one per run with --fresh-instance)
     duckdb:   uv run --no-sync python -m benchmarks.duckdb_job FILE --out-dir DIR
   The order flips every round (P D, D P, P D, ...) so neither tool always
   runs on a warmer page cache / quieter machine.
3. For every run it measures
     - wall seconds from spawn to exit (start-up, imports, the file copy into
       the incoming area: everything a user waits for);
     - peak RSS: the largest VmHWM (a process's own high-water RSS) of any
       process in the child's tree, sampled from /proc every 20 ms (ru_maxrss
       from os.wait4() is recorded as ru_maxrss_mb but not used: Linux keeps
       the high-water mark across fork and exec, so it includes the harness's
       own RSS at spawn time);
     - peak tree RSS: the largest sum of RSS over the whole process tree,
       sampled from /proc every 20 ms (counts shared pages once per process,
       so it over-states a multi-process run a bit and can miss short spikes);
   and checks the run's JSON: status SUCCESS, the four outputs exist, and the
   row counts agree between the two tools.
4. Prints one line per tool: median seconds, rows/s at the median, the peaks
   (max over repeats), and the pipeline/duckdb ratios. --json prints the
   same as one JSON object (the table then goes to stderr).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from datatasker_pipeline.locations import default_dagster_home

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
PAGE = os.sysconf("SC_PAGE_SIZE")

DEFAULT_PIPELINE = "uv run --no-sync datatasker process {file} --json"
DEFAULT_DUCKDB = "uv run --no-sync python -m benchmarks.duckdb_job {file} --out-dir {out}"
OUTPUT_KEYS = ("region_summary", "anomalies", "rejected_rows", "cleaned")
# Issue 13: at most DuckDB's time on large files, at most 1.5x where start-up is most of the run.
LARGE_FILE_ROWS = 2_000_000
PEAK_RSS_TARGET_MB = 512
# --deployed: the pipeline's environment made as the Dockerfile makes it.
DEPLOYED_VENV = WORK / "deployed-venv"


# ---------------------------------------------------------------- machine facts
def machine_facts() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    try:
        import duckdb

        duckdb_version = duckdb.__version__
    except Exception:  # pragma: no cover - duckdb is a dev dependency
        duckdb_version = None
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "mem_total_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "duckdb": duckdb_version,
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
    }


# ---------------------------------------------------------------- data file
def generator_hash() -> str:
    digest = hashlib.sha256()
    for name in ("generate.py", "shapes.py"):
        digest.update((ROOT / "benchmarks" / name).read_bytes())
    return digest.hexdigest()[:8]


def shape_tag(shape: str, knobs) -> str:
    """The shape and the knobs that differ from their defaults, for the file name."""
    from dataclasses import fields

    from benchmarks.shapes import Knobs

    default = Knobs()
    parts = [] if shape == "narrow" else [shape]
    parts += [f"{f.name}{getattr(knobs, f.name)}" for f in fields(Knobs) if getattr(knobs, f.name) != getattr(default, f.name)]
    return "".join(f"_{p}" for p in parts)


def data_file(rows: int, seed: int, crlf: bool, shape: str = "narrow", knobs=None) -> Path:
    from benchmarks.generate import generate
    from benchmarks.shapes import Knobs

    knobs = knobs or Knobs()
    name = f"sales_{rows}r_s{seed}{'_crlf' if crlf else ''}{shape_tag(shape, knobs)}_{generator_hash()}.csv"
    path = WORK / name
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        size = generate(rows, seed, str(path), crlf=crlf, shape=shape, knobs=knobs)
        print(
            f"generated {path.relative_to(ROOT)}: {rows:,} rows, {size / 1e6:.1f} MB "
            f"in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
    return path


# ---------------------------------------------------------------- measuring
def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def _tree_rss(root: int, hwm: dict[int, int] | None = None) -> int:
    """Sum of RSS over the tree; records each process's VmHWM (its own peak) in ``hwm``."""
    total, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        if hwm is not None:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            hwm[pid] = max(hwm.get(pid, 0), int(line.split()[1]) * 1024)
                            break
            except (OSError, IndexError, ValueError):
                pass
        stack.extend(_children(pid))
    return total


def measure(cmd: list[str], env: dict, cwd: Path, log_dir: Path, timeout: float) -> dict:
    """Run cmd; return wall seconds, exit code, peak RSS figures, stdout text."""
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    load_before = os.getloadavg()[0]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        peak_tree = 0
        hwm: dict[int, int] = {}
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_tree
            while not done.is_set():
                peak_tree = max(peak_tree, _tree_rss(proc.pid, hwm))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        def kill() -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the session we started
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            done.set()
        wall = time.perf_counter() - t0
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    return {
        "seconds": wall,
        # 1-minute load average before and after the run (other work on the machine shows here).
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "exit_code": proc.returncode,
        # The largest VmHWM (a process's own peak RSS) of any process in the tree,
        # as last sampled (growth in a process's final 20 ms can be missed).
        # ru_maxrss is kept too, but Linux carries the high-water mark across
        # fork and exec, so it can never be below the harness's own RSS at spawn.
        "peak_rss_mb": max(hwm.values(), default=0) / 1024 / 1024 or usage.ru_maxrss / 1024,
        "ru_maxrss_mb": usage.ru_maxrss / 1024,  # Linux: kilobytes
        "peak_tree_rss_mb": peak_tree / 1024 / 1024,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "stdout": out_path.read_text(errors="replace"),
        "stderr_tail": err_path.read_text(errors="replace")[-2000:],
    }


def parse_result(stdout: str) -> dict | None:
    try:
        return json.loads(stdout)
    except ValueError:
        pass
    for line in reversed(stdout.splitlines()):  # tolerate log lines before the JSON
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


BYTECODE_CACHE = WORK / "pycache"


def deployed_pipeline_cmd() -> str:
    """``datatasker process`` from an environment without the dev tools, as the Docker image has it.

    The Dockerfile installs with ``uv sync --no-dev`` and runs ``datatasker``
    directly. The dev environment holds hypothesis, which pandera imports on
    its first validation of a run whenever it is installed (about 0.1 s a run
    here); a deployment never pays that.
    """
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(DEPLOYED_VENV))
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(["uv", "sync", "--locked", "--no-dev", "--quiet"], cwd=ROOT, env=env, check=True)
    return f"{shlex.quote(str(DEPLOYED_VENV / 'bin' / 'datatasker'))} process {{file}} --json"


def instance_home(folder: Path) -> Path:
    """A DAGSTER_HOME with the instance settings a user's `datatasker process` runs with.

    Those are the project's dagster_home/dagster.yaml (telemetry off among
    them): an empty DAGSTER_HOME would measure Dagster's defaults instead.
    """
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(default_dagster_home() / "dagster.yaml", folder / "dagster.yaml")
    return folder


def run_once(
    tool: str, template: str, file: Path, keep: bool, timeout: float, bytecode_cache: bool = False,
    options: dict | None = None, dagster_home: Path | None = None,
) -> dict:
    """One measured run; the temp dir is deleted unless keep or a problem."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{tool}_", dir=WORK / "runs"))
    out_dir = tmp / "out"
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # let uv pick the project's .venv without warning
    if bytecode_cache:
        # As a deployment runs (the Dockerfile sets UV_COMPILE_BYTECODE=1): compiled
        # modules are reused. The cache lives in benchmarks/work/, not in .venv.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(BYTECODE_CACHE)
    if tool == "pipeline":
        if dagster_home is None:
            dagster_home = instance_home(tmp / "dagster_home")
        (tmp / "data").mkdir()
        env["DAGSTER_HOME"] = str(dagster_home)
        env["DATATASKER_DATA_DIR"] = str(tmp / "data")
    cmd = shlex.split(template.format(file=shlex.quote(str(file)), out=shlex.quote(str(out_dir))))
    if options:
        cmd += ["--config" if tool == "pipeline" else "--options", json.dumps(options)]
    m = measure(cmd, env, ROOT, tmp, timeout)
    res = parse_result(m.pop("stdout"))
    problems = []
    if m["exit_code"] != 0:
        problems.append(f"exit code {m['exit_code']}")
    if not res:
        problems.append("no JSON object on stdout")
    else:
        if res.get("status") != "SUCCESS":
            problems.append(f"status {res.get('status')}: {res.get('error')}")
        outs = res.get("outputs") or {}
        missing = [k for k in OUTPUT_KEYS if not (outs.get(k) and Path(outs[k]).exists())]
        if missing:
            problems.append(f"outputs missing: {', '.join(missing)}")
    m["result"] = {k: res.get(k) for k in ("status", "rows_read", "rows_clean",
                                           "rows_rejected", "anomalies", "error")} if res else None
    m["problems"] = problems
    m["outputs"] = (res or {}).get("outputs") or {}
    if problems:
        m["log_dir"] = str(tmp)
        print(f"  {tool}: PROBLEM: {'; '.join(problems)} (logs kept in {tmp})", file=sys.stderr)
        if m["stderr_tail"]:
            print("  stderr tail:\n    " + m["stderr_tail"][-800:].replace("\n", "\n    "),
                  file=sys.stderr)
    elif keep:
        m["log_dir"] = str(tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if not problems:
        m.pop("stderr_tail")
    return m


# ---------------------------------------------------------------- cross-check
def _csv_rows(path: str) -> tuple[list[str], list[list[str]]]:
    import csv

    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return (rows[0] if rows else []), rows[1:]


def _cells_equal(a: str, b: str, rel: float) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return x == y or abs(x - y) <= rel * max(abs(x), abs(y))


def compare_outputs(p: dict, d: dict) -> list[str]:
    """Differences between the pipeline's and DuckDB's four outputs.

    CSV cells are compared as text, or as numbers when both parse (sums and
    means may differ in the last bits: summation order; relative 1e-9 is
    allowed for region_summary and the anomaly statistics, exact elsewhere).
    cleaned.parquet: same columns, and every column equal (numbers as float64 /
    int64, text as text).
    """
    diffs: list[str] = []
    for key, rel in (("region_summary", 1e-9), ("rejected_rows", 0.0), ("anomalies", 1e-9)):
        (hp, rp), (hd, rd) = _csv_rows(p[key]), _csv_rows(d[key])
        if hp != hd:
            diffs.append(f"{key}: columns differ: pipeline {hp} vs duckdb {hd}")
            continue
        if len(rp) != len(rd):
            diffs.append(f"{key}: {len(rp)} rows (pipeline) vs {len(rd)} (duckdb)")
        for i, (a, b) in enumerate(zip(rp, rd)):
            bad = [c for c, x, y in zip(hp, a, b) if not _cells_equal(x, y, rel)]
            if bad or len(a) != len(b):
                diffs.append(f"{key} row {i + 1}: {bad or 'field count'}: pipeline {a} vs duckdb {b}")
                break
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tp, td = pq.read_table(p["cleaned"]), pq.read_table(d["cleaned"])
    if tp.column_names != td.column_names:
        diffs.append(f"cleaned: columns differ: {tp.column_names} vs {td.column_names}")
    if tp.num_rows != td.num_rows:
        diffs.append(f"cleaned: {tp.num_rows} rows (pipeline) vs {td.num_rows} (duckdb)")
    else:
        numbers = {"source_row": pa.int64(), "revenue": pa.float64(), "quantity": pa.float64(),
                   "discount": pa.float64(), "revenue_per_unit": pa.float64()}
        for col in tp.column_names:
            typ = numbers.get(col, pa.string())  # carried columns are text on both sides
            if col in td.column_names:
                a = tp.column(col).cast(typ)
                b = td.column(col).cast(typ)
                if not pc.all(pc.equal(a, b), min_count=0).as_py():  # min_count=0: no rows agree
                    diffs.append(f"cleaned: column {col} differs")
    return diffs


# ---------------------------------------------------------------- report
def summarize(rows: int, runs: list[dict]) -> dict:
    ok = [r for r in runs if not r["problems"]]
    secs = [r["seconds"] for r in ok]
    med = statistics.median(secs) if secs else None
    return {
        "rows": rows,
        "runs": len(runs),
        "ok_runs": len(ok),
        "seconds_median": med,
        "seconds_all": [round(s, 3) for s in secs],
        "rows_per_s": rows / med if med and rows else None,
        "peak_rss_mb": max((r["peak_rss_mb"] for r in ok), default=None),
        "peak_tree_rss_mb": max((r["peak_tree_rss_mb"] for r in ok), default=None),
        "cpu_seconds_median": statistics.median([r["cpu_seconds"] for r in ok]) if ok else None,
        "result": ok[-1]["result"] if ok else (runs[-1]["result"] if runs else None),
    }


def _fmt(v, spec: str) -> str:
    if v is not None:
        return format(v, spec)
    width = "".join(ch for ch in spec.split(".")[0].split(",")[0] if ch.isdigit())
    return "-".rjust(int(width or 0))


def table(rows: int, summary: dict, ratio: dict) -> str:
    head = (f"{'tool':<11} {'rows':>12} {'seconds':>9} {'rows/s':>11} {'peak RSS MB':>12} "
            f"{'tree RSS MB':>12} {'CPU s':>7} {'ok':>5}")
    lines = [head, "-" * len(head)]
    for tool, s in summary.items():
        lines.append(
            f"{tool:<11} {s['rows']:>12,} {_fmt(s['seconds_median'], '9.2f')} "
            f"{_fmt(s['rows_per_s'], '11,.0f')} {_fmt(s['peak_rss_mb'], '12.0f')} "
            f"{_fmt(s['peak_tree_rss_mb'], '12.0f')} {_fmt(s['cpu_seconds_median'], '7.1f')} "
            f"{s['ok_runs']:>2}/{s['runs']:<2}"
        )
    if ratio:
        lines.append(
            f"ratio pipeline/duckdb: time {_fmt(ratio.get('seconds'), '.2f')}x, "
            f"CPU {_fmt(ratio.get('cpu_seconds'), '.2f')}x, "
            f"peak RSS {_fmt(ratio.get('peak_rss'), '.2f')}x "
            f"({time_target(rows)}; pipeline peak RSS <= {PEAK_RSS_TARGET_MB} MB)"
        )
    return "\n".join(lines)


def time_target(rows: int) -> str:
    """The time target a file of ``rows`` rows is held to, as the report states it."""
    if rows >= LARGE_FILE_ROWS:
        return "target: time <= 1.0x, goal <= 0.8x"
    return "target: time <= 1.5x"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="DataTasker pipeline vs DuckDB benchmark")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool (median reported)")
    ap.add_argument("--crlf", action="store_true", help="generate the file with CRLF line ends")
    ap.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    ap.add_argument("--only", choices=("pipeline", "duckdb"), help="run one tool only")
    ap.add_argument("--pipeline-cmd", default=DEFAULT_PIPELINE,
                    help=f"command template, {{file}} is replaced (default: {DEFAULT_PIPELINE!r})")
    ap.add_argument("--duckdb-cmd", default=DEFAULT_DUCKDB,
                    help="command template, {file} and {out} are replaced")
    ap.add_argument("--keep", action="store_true", help="keep each run's temp dir (outputs, logs)")
    ap.add_argument("--no-verify", action="store_true",
                    help="skip comparing the two tools' outputs after round 1")
    ap.add_argument("--fixed-cost", action="store_true",
                    help="also time both tools on a header-only file (start-up cost), "
                         "reported as pipeline@0 / duckdb@0")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run before it is killed")
    ap.add_argument("--fresh-instance", action="store_true",
                    help="a new DAGSTER_HOME for every pipeline run (creates its SQLite databases each time); "
                         "by default one DAGSTER_HOME serves the whole benchmark, as a user's dagster_home/ does")
    ap.add_argument("--bytecode-cache", action="store_true",
                    help="let both tools reuse compiled modules (PYTHONPYCACHEPREFIX=benchmarks/work/pycache, "
                         "PYTHONDONTWRITEBYTECODE unset), warmed by one unmeasured run each on the "
                         "header-only file; without it, an environment with PYTHONDONTWRITEBYTECODE=1 "
                         "compiles every imported module on every run")
    ap.add_argument("--deployed", action="store_true",
                    help="run the pipeline from benchmarks/work/deployed-venv, made as the Dockerfile makes its "
                         "environment (uv sync --locked --no-dev; no dev tools) instead of the dev .venv")
    from benchmarks.generate import add_knob_flags, knobs_of
    from benchmarks.shapes import WIDE_OPTIONS

    add_knob_flags(ap)
    a = ap.parse_args(argv)
    if a.rows < 0 or a.repeat < 1:
        ap.error("--rows must be >= 0 and --repeat >= 1")

    facts = machine_facts()
    knobs = knobs_of(a)
    options = WIDE_OPTIONS if a.shape == "wide" else None
    file = data_file(a.rows, a.seed, a.crlf, a.shape, knobs)
    (WORK / "runs").mkdir(parents=True, exist_ok=True)
    if a.deployed and a.pipeline_cmd != DEFAULT_PIPELINE:
        ap.error("--deployed and --pipeline-cmd both name the pipeline's command: give one")
    tools = {"pipeline": deployed_pipeline_cmd() if a.deployed else a.pipeline_cmd, "duckdb": a.duckdb_cmd}
    if a.only:
        tools = {a.only: tools[a.only]}
    runs: dict[str, list[dict]] = {t: [] for t in tools}
    home = None if a.fresh_instance else instance_home(Path(tempfile.mkdtemp(prefix="dagster_home_", dir=WORK / "runs")))
    verify = None
    if a.bytecode_cache:
        warm = data_file(0, a.seed, a.crlf, a.shape, knobs)
        for tool in tools:
            w = run_once(tool, tools[tool], warm, False, a.timeout, True, options, home)
            print(f"  warm-up {tool:<8} {w['seconds']:8.2f} s (not counted)", file=sys.stderr)
    for i in range(a.repeat):
        order = list(tools) if i % 2 == 0 else list(reversed(tools))
        check = i == 0 and len(tools) == 2 and not a.no_verify
        for tool in order:
            m = run_once(tool, tools[tool], file, a.keep or check, a.timeout, a.bytecode_cache, options, home)
            runs[tool].append(m)
            print(
                f"  round {i + 1}/{a.repeat} {tool:<8} {m['seconds']:8.2f} s  "
                f"peak RSS {m['peak_rss_mb']:6.0f} MB  tree {m['peak_tree_rss_mb']:6.0f} MB  "
                f"CPU {m['cpu_seconds']:6.1f} s  load {m['load'][0]:.2f}->{m['load'][1]:.2f}"
                f"{'  PROBLEM' if m['problems'] else ''}",
                file=sys.stderr,
            )
        if check:
            p, d = runs["pipeline"][0], runs["duckdb"][0]
            if not p["problems"] and not d["problems"]:
                t0 = time.perf_counter()
                verify = compare_outputs(p["outputs"], d["outputs"])
                print(f"  outputs compared in {time.perf_counter() - t0:.1f} s: "
                      f"{'identical' if not verify else f'{len(verify)} difference(s)'}",
                      file=sys.stderr)
            if not a.keep:
                for m in (p, d):
                    if not m["problems"]:
                        shutil.rmtree(m.pop("log_dir"), ignore_errors=True)

    summary = {t: summarize(a.rows, r) for t, r in runs.items()}
    if a.fixed_cost:
        empty = data_file(0, a.seed, a.crlf, a.shape, knobs)
        for i in range(a.repeat):
            order = list(tools) if i % 2 == 0 else list(reversed(tools))
            for tool in order:
                m = run_once(tool, tools[tool], empty, a.keep, a.timeout, a.bytecode_cache, options, home)
                runs.setdefault(f"{tool}@0", []).append(m)
                print(f"  round {i + 1}/{a.repeat} {tool}@0 {m['seconds']:8.2f} s  load {m['load'][0]:.2f}",
                      file=sys.stderr)
        for tool in tools:
            summary[f"{tool}@0"] = summarize(0, runs[f"{tool}@0"])
    ratio = {}
    if "pipeline" in summary and "duckdb" in summary:
        p, d = summary["pipeline"], summary["duckdb"]
        if p["seconds_median"] and d["seconds_median"]:
            ratio["seconds"] = p["seconds_median"] / d["seconds_median"]
        if p["cpu_seconds_median"] and d["cpu_seconds_median"]:
            ratio["cpu_seconds"] = p["cpu_seconds_median"] / d["cpu_seconds_median"]
        if p["peak_rss_mb"] and d["peak_rss_mb"]:
            ratio["peak_rss"] = p["peak_rss_mb"] / d["peak_rss_mb"]
        keys = ("rows_read", "rows_clean", "rows_rejected", "anomalies")
        if p["result"] and d["result"] and p["ok_runs"] and d["ok_runs"]:
            ratio["counts_agree"] = all(p["result"][k] == d["result"][k] for k in keys)

    report = {
        "rows": a.rows,
        "seed": a.seed,
        "shape": a.shape,
        "knobs": knobs.__dict__,
        "options": options,
        "file": str(file),
        "file_bytes": file.stat().st_size,
        "repeat": a.repeat,
        "machine": facts,
        "tools": summary,
        "ratio": ratio,
        "outputs_differences": verify,
        "commands": tools,
        "bytecode_cache": a.bytecode_cache,
        "deployed": a.deployed,
        "fresh_instance": a.fresh_instance,
        "env_PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        "runs": runs,
    }
    text = table(a.rows, summary, ratio)
    if "counts_agree" in ratio and not ratio["counts_agree"]:
        text += "\nWARNING: the two tools disagree on row counts: " + json.dumps(
            {t: s["result"] for t, s in summary.items()})
    if verify:
        text += "\nWARNING: outputs differ (round 1):\n  " + "\n  ".join(verify[:10])
    elif verify is not None:
        text += "\noutputs of round 1: pipeline and duckdb agree (all four files)"
    header = (f"file {file.name} ({a.shape}): {a.rows:,} rows, {file.stat().st_size / 1e6:.1f} MB; "
              f"machine: {facts['nproc']} CPUs ({facts['cpu_model']}), "
              f"{facts['mem_total_gb']} GB RAM, load {facts['loadavg_at_start'][0]:.2f}; "
              f"bytecode cache {'on' if a.bytecode_cache else 'off'} "
              f"(PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE')}); "
              f"{'a new DAGSTER_HOME per run' if a.fresh_instance else 'one DAGSTER_HOME for all runs'}; "
              f"pipeline from {'the deployed (no-dev) environment' if a.deployed else 'the command given'}")
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)
    if a.json:
        print(header + "\n" + text, file=sys.stderr)
        print(json.dumps(report, indent=2))
    else:
        print(header)
        print(text)
    failed = any(s["ok_runs"] < s["runs"] for s in summary.values()) or bool(verify)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
