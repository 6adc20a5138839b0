"""Drop-to-result latency and small-file throughput against a running webserver + daemon.

    uv run python -m benchmarks.latency [--drops 10] [--burst 100]

Starts ``dagster-webserver`` and ``dagster-daemon`` over a temporary SQLite
instance configured like the project's ``dagster_home/dagster.yaml`` (the
harness the end-to-end tests use), then:

1. latency: drops a small file ``--drops`` times, one at a time (atomic rename),
   and measures from the rename to the run's end time as Dagster records it;
2. throughput: drops ``--burst`` small files at once and measures until every
   one has a finished run; reports runs per minute.
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

from datatasker_tests.webserver_harness import DagsterStack

RUNS = """
query { runsOrError(filter: {pipelineName: "process_sales_file"}) {
  ... on Runs { results { runId status startTime endTime creationTime tags { key value } } } } }
"""
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def small_file(i: int) -> str:
    rows = "".join(f"R{j % 4},{10 + (i + j) % 7},{1 + j % 3},0.1\n" for j in range(20))
    return "region,revenue,quantity,discount\n" + rows


def drop(incoming: Path, name: str, content: str) -> float:
    partial = incoming / f".{name}.part"
    partial.write_text(content)
    os.replace(partial, incoming / name)
    return time.time()


def runs_by_file(stack: DagsterStack) -> dict[str, dict]:
    result = {}
    for run in stack.graphql(RUNS)["runsOrError"]["results"]:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        result[tags.get("datatasker/file_name", run["runId"])] = run
    return result


def wait_finished(stack: DagsterStack, names: list[str], timeout: float) -> dict[str, dict]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        stack.check_alive()
        runs = runs_by_file(stack)
        if all(name in runs and runs[name]["status"] in FINISHED for name in names):
            return runs
        time.sleep(0.25)
    seen = {name: run["status"] for name, run in runs_by_file(stack).items()}
    raise SystemExit(f"timed out waiting for {len(names)} runs; runs seen: {seen}\n{stack.all_log_tails(3000)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drops", type=int, default=10)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as base, DagsterStack(Path(base), daemon=True) as stack:
        wait_finished(stack, [], 1)
        # warm-up: the first run also pays for first-time caches
        drop(stack.incoming, "warmup.csv", small_file(0))
        wait_finished(stack, ["warmup.csv"], 300)

        latencies, phases = [], []
        for i in range(args.drops):
            name = f"latency_{i}.csv"
            dropped = drop(stack.incoming, name, small_file(i))
            run = wait_finished(stack, [name], 300)[name]
            latencies.append(run["endTime"] - dropped)
            phases.append(
                {"to_created": run["creationTime"] - dropped, "queued_to_start": run["startTime"] - run["creationTime"],
                 "run": run["endTime"] - run["startTime"]}
            )
            time.sleep(1.5)  # let the sensor tick land at a different point each time

        names = [f"burst_{i:03}.csv" for i in range(args.burst)]
        started = time.time()
        for i, name in enumerate(names):
            drop(stack.incoming, name, small_file(1000 + i))
        runs = wait_finished(stack, names, 3600)
        drained = max(runs[n]["endTime"] for n in names) - started
        statuses = {runs[n]["status"] for n in names}

    def median(key):
        return statistics.median(p[key] for p in phases)

    report = {
        "latency_seconds": latencies,
        "latency_median": statistics.median(latencies),
        "latency_max": max(latencies),
        "median_drop_to_run_created": median("to_created"),
        "median_created_to_started": median("queued_to_start"),
        "median_run_duration": median("run"),
        "burst_files": args.burst,
        "burst_statuses": sorted(statuses),
        "burst_drain_seconds": drained,
        "burst_runs_per_minute": args.burst / drained * 60,
        "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"drop -> run end: median {report['latency_median']:.1f} s, max {report['latency_max']:.1f} s "
              f"over {args.drops} drops")
        print(f"  of which (medians): drop -> run created {report['median_drop_to_run_created']:.1f} s, "
              f"created -> started {report['median_created_to_started']:.1f} s, run {report['median_run_duration']:.1f} s")
        print(f"{args.burst} files at once: drained in {drained:.0f} s, {report['burst_runs_per_minute']:.1f} runs/min, "
              f"statuses {sorted(statuses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
