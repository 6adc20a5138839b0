"""Benchmark: one file processed from an object store against the same file in a local folder (issue 14).

    uv run python -m benchmarks.s3_read --rows 10000000 [--shape narrow|wide] [--repeat 3]
        [--variant NAME=JSON ...] [--no-passes] [--json]

1. Generates the sales file as ``benchmarks.run`` does (cached in
   benchmarks/work/), starts SeaweedFS (``weed mini``, on 127.0.0.1, free
   ports: ``datatasker_pipeline.testing.s3.seaweedfs``) in a temporary
   folder and uploads the file once with s3fs (multipart above 50 MiB, as
   any S3 client does).
2. Processes it, ``--repeat`` rounds, each run in a fresh subprocess:
     local:  the stages the assets run (``clean_file``, then the region
             summary and the anomaly report) with the local file as the source;
     store:  the same with the object as the source: the UPath
             ``processing.store.location(url)`` gives, as a run on an s3://
             data root reads its raw copy;
     <variant>: the store with extra s3fs storage options (``--variant
             'bg8m={"default_cache_type": "background", "default_block_size": 8388608}'``);
   outputs go to a local folder in every case (a run on a store writes its
   results locally and uploads them afterwards: not measured here). The
   order rotates every round (local store ..., store ... local, ...) so no
   side always runs on a warmer cache or a quieter machine.
3. Per run: wall seconds from spawn to exit, peak RSS (largest VmHWM of the
   process tree) and CPU seconds, measured as ``benchmarks.run`` measures
   them, the 1-minute load average before and after, and the child's own
   seconds in the stages (imports excluded). The row counts must agree.
4. Unless ``--no-passes``: the cost of one plain pass over the bytes per
   source (``open("rb")`` + 4 MiB reads, what the NUL-byte check before
   parsing does; and the SHA-256 a run on a store computes of its raw copy),
   to show where a difference comes from.
5. Prints medians and the store/local ratios (goal: store <= 1.2x local).

SeaweedFS runs on the same cores as the pipeline: its CPU is part of the
store figures' wall, not of the child's CPU seconds; it is recorded apart
(server CPU s: the weed process's CPU seconds during each run, from /proc).
``--download`` adds a side whose child first copies the object to a local
file (``fs.get_file``) and processes that; ``--no-nul-scan`` (diagnosis
only) one that skips the NUL-byte pass, to show what folding that check
into the parsing pass would save on a store.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.run import ROOT, WORK, data_file, machine_facts, measure

READ_BYTES = 1 << 22  # processing.reading.reference.READ_BLOCK_BYTES: the NUL-byte check's reads


# ---------------------------------------------------------------- the child
def _source(spec: str, storage_options: dict):
    """A local Path, or the store path the data root would give (plus the extra s3fs options)."""
    from datatasker_pipeline.processing.store import is_location_url, location

    path = location(spec)
    if is_location_url(spec) and storage_options:
        from upath import UPath

        path = UPath(spec, **{**path.storage_options, **storage_options})
    return path


def child(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks.s3_read child")
    ap.add_argument("--source", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stage", choices=("process", "read", "hash"), default="process")
    ap.add_argument("--storage-options", default="{}")
    ap.add_argument("--options", default="null")
    ap.add_argument("--download", action="store_true", help="copy the object to the output folder first, read that")
    ap.add_argument("--no-nul-scan", action="store_true", help="diagnosis only: skip the NUL-byte pass before parsing")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    source = _source(a.source, json.loads(a.storage_options))
    download_seconds = 0.0
    if a.download:
        local = Path(a.out) / "download" / source.name
        local.parent.mkdir(parents=True)
        source.fs.get_file(source.path, str(local))
        source, download_seconds = local, time.perf_counter() - t0
    if a.no_nul_scan:
        from datatasker_pipeline.processing.reading import reference

        reference.find_nul_byte = lambda path: None  # what folding the check into the parsing pass would save
    if a.stage == "read":
        total = 0
        with source.open("rb") as f:
            while block := f.read(READ_BYTES):
                total += len(block)
        print(json.dumps({"bytes": total, "stage_seconds": time.perf_counter() - t0}))
        return 0
    if a.stage == "hash":
        from datatasker_pipeline.processing.intake import sha256_of

        digest = sha256_of(source)
        print(json.dumps({"sha256": digest, "stage_seconds": time.perf_counter() - t0}))
        return 0

    from datatasker_pipeline.processing.anomalies import write_anomaly_report
    from datatasker_pipeline.processing.options import parse_options
    from datatasker_pipeline.processing.pipeline import clean_file
    from datatasker_pipeline.processing.summary import write_region_summary

    # process_file() would do the same, but it makes its source a pathlib.Path, which a store path is not.
    out = Path(a.out) / "results"
    out.mkdir(parents=True, exist_ok=True)
    t1 = time.perf_counter()
    cleaning = clean_file(source, out, parse_options(json.loads(a.options)))
    t2 = time.perf_counter()
    write_region_summary(cleaning.cleaned_path, out)
    report = write_anomaly_report(cleaning.cleaned_path, out, cleaning.options.anomaly_k, basis=cleaning.anomaly_basis)
    t3 = time.perf_counter()
    print(json.dumps({
        "rows_read": cleaning.rows_read, "rows_clean": cleaning.rows_clean, "rows_rejected": cleaning.rows_rejected,
        "anomalies": report.count, "imports_seconds": t1 - t0, "clean_seconds": t2 - t1, "reports_seconds": t3 - t2,
        "stage_seconds": t3 - t1 + download_seconds, "download_seconds": download_seconds,
    }))
    return 0


# ---------------------------------------------------------------- the harness
SERVER_PID = 0  # the weed process, whose CPU seconds during each run are recorded beside the run's own


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 when it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_child(
    source: str, stage: str, env: dict, storage_options: dict, options: dict | None, timeout: float,
    flags: tuple[str, ...] = (),
) -> dict:
    server_before = cpu_seconds_of(SERVER_PID)
    tmp = Path(tempfile.mkdtemp(prefix="s3read_", dir=WORK / "runs"))
    cmd = [sys.executable, "-m", "benchmarks.s3_read", "child", "--source", source, "--out", str(tmp / "out"),
           "--stage", stage, "--storage-options", json.dumps(storage_options), "--options", json.dumps(options),
           *flags]
    m = measure(cmd, env, ROOT, tmp, timeout)
    m["server_cpu_seconds"] = cpu_seconds_of(SERVER_PID) - server_before
    try:
        m["result"] = json.loads(m.pop("stdout").strip().splitlines()[-1])
    except (ValueError, IndexError):
        m["result"] = None
    if m["exit_code"] != 0 or m["result"] is None:
        m["problem"] = f"exit {m['exit_code']}: {m.get('stderr_tail', '')[-1500:]}"
        print(f"  PROBLEM ({source}, {stage}): {m['problem']} (kept {tmp})", file=sys.stderr)
    else:
        m.pop("stderr_tail", None)
        shutil.rmtree(tmp, ignore_errors=True)
    return m


def summarize(runs: list[dict]) -> dict:
    ok = [r for r in runs if "problem" not in r]
    med = lambda values: statistics.median(values) if values else None  # noqa: E731
    return {
        "runs": len(runs),
        "ok": len(ok),
        "seconds_median": med([r["seconds"] for r in ok]),
        "seconds_all": [round(r["seconds"], 2) for r in ok],
        "stage_seconds_median": med([r["result"]["stage_seconds"] for r in ok]),
        "cpu_seconds_median": med([r["cpu_seconds"] for r in ok]),
        "server_cpu_seconds_median": med([r["server_cpu_seconds"] for r in ok]),
        "peak_rss_mb_median": med([r["peak_rss_mb"] for r in ok]),
        "peak_rss_mb_max": max((r["peak_rss_mb"] for r in ok), default=None),
        "load": [r["load"] for r in runs],
        "result": ok[-1]["result"] if ok else None,
    }


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, options = text.partition("=")
    if not name or not options:
        raise argparse.ArgumentTypeError(f"--variant NAME=JSON, got {text!r}")
    return name, json.loads(options)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        return child(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--shape", choices=("narrow", "wide"), default="narrow")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variant", type=parse_variant, action="append", default=[],
                    help="NAME=JSON: also the store with these s3fs storage options (repeatable)")
    ap.add_argument("--download", action="store_true",
                    help="also 'download': the object copied to a local file first (one GET), then processed locally")
    ap.add_argument("--no-nul-scan", action="store_true",
                    help="also 'store-nonul' (diagnosis): the store without the NUL-byte pass before parsing")
    ap.add_argument("--no-passes", action="store_true", help="skip the single-pass read and hash measures")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    from benchmarks.shapes import WIDE_OPTIONS, Knobs
    from datatasker_pipeline.testing.s3 import seaweedfs

    facts = machine_facts()
    options = WIDE_OPTIONS if a.shape == "wide" else None
    file = data_file(a.rows, a.seed, False, a.shape, Knobs())
    (WORK / "runs").mkdir(parents=True, exist_ok=True)
    sides: dict[str, tuple[str, dict, tuple[str, ...]]] = {}
    runs: dict[str, list[dict]] = {}
    passes: dict[str, dict[str, list[dict]]] = {}
    global SERVER_PID
    with tempfile.TemporaryDirectory(prefix="s3read_weed_", dir=WORK) as base, seaweedfs(Path(base)) as server:
        SERVER_PID = server.process.pid
        env = {**os.environ, **server.env()}
        env.pop("VIRTUAL_ENV", None)
        t0 = time.perf_counter()
        key = f"{server.bucket}/bench/{file.name}"
        server.filesystem().put_file(str(file), key)
        etag = server.filesystem().info(key)["ETag"]
        print(f"uploaded {file.name} ({file.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s, "
              f"ETag {etag}", file=sys.stderr)
        url = f"s3://{key}"
        sides = {"local": (str(file), {}, ()), "store": (url, {}, ())}
        sides.update({name: (url, extra, ()) for name, extra in a.variant})
        if a.download:
            sides["download"] = (url, {}, ("--download",))
        if a.no_nul_scan:
            sides["store-nonul"] = (url, {}, ("--no-nul-scan",))
        runs = {name: [] for name in sides}
        names = list(sides)
        for i in range(a.repeat):
            order = names[i % len(names):] + names[:i % len(names)]
            for name in order:
                source, extra, flags = sides[name]
                m = run_child(source, "process", env, extra, options, a.timeout, flags)
                runs[name].append(m)
                print(f"  round {i + 1}/{a.repeat} {name:<10} {m['seconds']:7.2f} s (stages "
                      f"{(m['result'] or {}).get('stage_seconds', 0):6.2f} s)  peak RSS {m['peak_rss_mb']:5.0f} MB  "
                      f"CPU {m['cpu_seconds']:5.1f} s  server CPU {m['server_cpu_seconds']:4.1f} s  load {m['load'][0]:.2f}->{m['load'][1]:.2f}", file=sys.stderr)
        if not a.no_passes:
            for name in names:
                source, extra, flags = sides[name]
                if flags:
                    continue
                for stage in ("read", "hash"):
                    ms = [run_child(source, stage, env, extra, None, a.timeout) for _ in range(2)]
                    passes.setdefault(name, {})[stage] = ms
                    print(f"  one {stage} pass {name:<10} " + ", ".join(
                        f"{(m['result'] or {}).get('stage_seconds', float('nan')):.2f} s" for m in ms)
                        + f"  load {ms[-1]['load'][1]:.2f}", file=sys.stderr)

    summary = {name: summarize(r) for name, r in runs.items()}
    local = summary["local"]
    ratios = {}
    for name, s in summary.items():
        if name != "local" and s["seconds_median"] and local["seconds_median"]:
            ratios[name] = {
                "seconds": s["seconds_median"] / local["seconds_median"],
                "stage_seconds": s["stage_seconds_median"] / local["stage_seconds_median"],
                "peak_rss": s["peak_rss_mb_median"] / local["peak_rss_mb_median"],
            }
    counts = {name: (s["result"] or {}).get("rows_read") for name, s in summary.items()}
    pass_medians = {name: {stage: statistics.median(m["result"]["stage_seconds"] for m in ms if m["result"])
                           for stage, ms in stages.items()} for name, stages in passes.items()}
    report = {
        "rows": a.rows, "shape": a.shape, "file": str(file), "file_bytes": file.stat().st_size, "etag": etag,
        "repeat": a.repeat, "machine": facts, "load_at_end": os.getloadavg(), "variants": dict(a.variant),
        "tools": summary, "ratio_to_local": ratios, "counts_agree": len(set(counts.values())) == 1,
        "one_pass_seconds": pass_medians, "runs": runs,
    }
    lines = [
        f"file {file.name} ({a.shape}): {a.rows:,} rows, {file.stat().st_size / 1e6:.1f} MB; machine: "
        f"{facts['nproc']} CPUs ({facts['cpu_model']}), {facts['mem_total_gb']} GB RAM, load at start "
        f"{facts['loadavg_at_start'][0]:.2f}, at end {os.getloadavg()[0]:.2f}",
        f"{'source':<11} {'wall s':>7} {'stages s':>9} {'CPU s':>6} {'server CPU s':>13} {'peak RSS MB':>12} {'ok':>5}"
        "  wall/local",
    ]
    for name, s in summary.items():
        ratio = ratios.get(name, {}).get("seconds")
        lines.append(
            f"{name:<11} {s['seconds_median'] or 0:7.2f} {s['stage_seconds_median'] or 0:9.2f} "
            f"{s['cpu_seconds_median'] or 0:6.1f} {s['server_cpu_seconds_median'] or 0:13.1f} "
            f"{s['peak_rss_mb_median'] or 0:12.0f} {s['ok']:>2}/{s['runs']:<2}  "
            + (f"{ratio:.2f}x" if ratio else "")
        )
    for name, stages in pass_medians.items():
        lines.append(f"one pass over the bytes, {name}: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))
    if not report["counts_agree"]:
        lines.append(f"WARNING: row counts differ: {counts}")
    if a.json:
        print("\n".join(lines), file=sys.stderr)
        print(json.dumps(report, indent=2, default=str))
    else:
        print("\n".join(lines))
    failed = not report["counts_agree"] or any(s["ok"] < s["runs"] for s in summary.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
