"""Upload-to-result latency with the data root in an object store, beside the same through a local folder (issue 14).

    uv run python -m benchmarks.s3_latency [--drops 10] [--seed 7] [--sides store,local] [--json]

Starts SeaweedFS (``weed mini`` on 127.0.0.1, free ports:
``datatasker_pipeline.testing.s3.seaweedfs``), then for each side a real
``dagster-webserver`` + ``dagster-daemon`` over a temporary SQLite instance
(``testing.stack.DagsterStack``, the project's ``dagster_home/dagster.yaml``):

- store: ``DATATASKER_DATA_DIR=s3://<bucket>/latency-<random>`` with the
  standard AWS variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_ENDPOINT_URL_S3``, ``AWS_REGION``); a small file is uploaded with
  s3fs to ``<root>/incoming/<name>.csv``, and the clock starts when the
  upload returns (the object is complete and listed from then on);
- local: the stack's own data folder; the file is dropped by an atomic
  rename, as ``benchmarks.latency`` does.

One warm-up file, then ``--drops`` files one at a time, a seeded random
0-5 s apart (so they fall at every phase of the sensor daemon's 5 s loop);
each is measured from the upload's end to the run's end time as Dagster
records it (run status via GraphQL), split into phases as in
``benchmarks.latency``. On the store the run's manifest
(``manifests/<run_id>.json``) is checked to exist once the run succeeded.
Reports median, p90 and max per side, and the 1-minute load averages.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.latency import drops_then_burst, runs_by_file
from benchmarks.run import machine_facts
from datatasker_pipeline.testing.s3 import seaweedfs
from datatasker_pipeline.testing.stack import DagsterStack
from datatasker_pipeline.vocabulary import DATA_DIR_ENV, INCOMING_DIR, MANIFESTS_DIR, WORK_DIR_ENV


def p90(values: list[float]) -> float:
    """The 90th percentile, linear between the nearest ranks (the 9th of 10 values is 0.1 below the 10th)."""
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def side(name: str, base: Path, server, drops: int, seed: int) -> dict:
    extra_env: dict[str, str] = {}
    root = ""
    if name == "store":
        root = server.url(f"latency-{os.urandom(4).hex()}")
        # Runs write their results in a local work folder before uploading them.
        extra_env = {**server.env(), DATA_DIR_ENV: root, WORK_DIR_ENV: str(base / "work")}
        (base / "tmp").mkdir(parents=True)
    fs = server.filesystem()
    loads: list[float] = [os.getloadavg()[0]]
    started = time.perf_counter()
    with DagsterStack(base, daemon=True, extra_env=extra_env) as stack:
        startup = time.perf_counter() - started

        def upload(file_name: str, text: str) -> None:
            loads.append(os.getloadavg()[0])
            fs.pipe_file(f"{root.removeprefix('s3://')}/{INCOMING_DIR}/{file_name}", text.encode())

        measured = drops_then_burst(stack, drops, 0, seed, timeout=300, drop=upload if name == "store" else None)
        if name == "store":
            runs = runs_by_file(stack)
            missing = [f for f, run in runs.items() if run["status"] == "SUCCESS"
                       and not fs.exists(f"{root.removeprefix('s3://')}/{MANIFESTS_DIR}/{run['runId']}.json")]
            measured["runs_without_manifest"] = missing
        loads.append(os.getloadavg()[0])
    latencies = measured["latencies"]
    phases = measured["phases"]
    return {
        "data_root": root or "local folder",
        "stack_startup_seconds": startup,
        "latency_seconds": [round(x, 3) for x in latencies],
        "median": statistics.median(latencies),
        "p90": p90(latencies),
        "max": max(latencies),
        "statuses": measured["statuses"],
        "runs_without_manifest": measured.get("runs_without_manifest"),
        "phase_medians": {k: statistics.median(p[k] for p in phases) for k in phases[0]},
        "load_1min": [round(x, 2) for x in loads],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--drops", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7, help="seed of the random pauses between uploads")
    ap.add_argument("--sides", default="store,local", help="comma-separated: store, local (run in this order)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    facts = machine_facts()
    report: dict = {"drops": a.drops, "machine": facts, "sides": {}}
    with tempfile.TemporaryDirectory(prefix="s3latency_") as base, seaweedfs(Path(base) / "weed") as server:
        for name in a.sides.split(","):
            result = side(name, Path(base) / name, server, a.drops, a.seed)
            report["sides"][name] = result
            print(f"{name:<6} upload -> run end: median {result['median']:.2f} s, p90 {result['p90']:.2f} s, "
                  f"max {result['max']:.2f} s over {a.drops} ({', '.join(result['statuses'])}); load "
                  f"{min(result['load_1min']):.2f}-{max(result['load_1min']):.2f}; phases (median): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in result["phase_medians"].items()), file=sys.stderr)
    report["load_at_end"] = os.getloadavg()
    if a.json:
        print(json.dumps(report, indent=2))
    failed = any(r["statuses"] != ["SUCCESS"] or r["runs_without_manifest"] for r in report["sides"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
