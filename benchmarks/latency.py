"""Drop-to-result latency and small-file throughput against a running webserver + daemon.

    uv run python -m benchmarks.latency [--drops 10] [--burst 100]

Starts ``dagster-webserver`` and ``dagster-daemon`` over a temporary SQLite
instance configured like the project's ``dagster_home/dagster.yaml`` (the
harness the end-to-end tests use), then:

1. latency: drops a small file ``--drops`` times, one at a time (atomic rename),
   and measures from the rename to the run's end time as Dagster records it.
   Between drops it waits a random 0-5 s (seeded), so the drops fall at every
   point of the sensor daemon's 5 s loop rather than at one phase of it. Each
   drop's time is split into phases from the sensor tick and the run's events;
2. throughput: drops ``--burst`` small files at once and measures until every
   one has a finished run; reports runs per minute.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from datatasker_pipeline.testing.host import drop_atomically
from datatasker_pipeline.testing.stack import DagsterStack
from datatasker_pipeline.vocabulary import FINISHED_STATUSES as FINISHED

RUNS = """
query { runsOrError(filter: {pipelineName: "process_sales_file"}) {
  ... on Runs { results { runId status startTime endTime creationTime tags { key value } } } } }
"""
SENSOR_TICKS = """
query { sensorOrError(sensorSelector: {repositoryLocationName: "datatasker", repositoryName: "__repository__",
                                       sensorName: "incoming_csv_sensor"}) {
  ... on Sensor { sensorState { ticks(limit: 1000) { timestamp endTimestamp runIds } } } } }
"""
RUN_EVENTS = """
query($runId: ID!) { runOrError(runId: $runId) { ... on Run { eventConnection { events {
  __typename ... on MessageEvent { timestamp } } } } } }
"""
SENSOR_LOOP_SECONDS = 5  # Dagster's sensor daemon loop (MIN_INTERVAL_LOOP_TIME)


def small_file(i: int) -> str:
    rows = "".join(f"R{j % 4},{10 + (i + j) % 7},{1 + j % 3},0.1\n" for j in range(20))
    return "region,revenue,quantity,discount\n" + rows


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


def phases_of(stack: DagsterStack, run: dict, dropped: float) -> dict[str, float]:
    """Where one drop's seconds went, from the sensor tick that created the run and the run's events."""
    ticks = stack.graphql(SENSOR_TICKS)["sensorOrError"]["sensorState"]["ticks"]
    [tick] = [t for t in ticks if run["runId"] in t["runIds"]]
    events = stack.graphql(RUN_EVENTS, {"runId": run["runId"]})["runOrError"]["eventConnection"]["events"]
    at = {e["__typename"]: int(e["timestamp"]) / 1000 for e in events if e.get("timestamp")}
    # RUN_STARTING is written when the queue daemon takes the run and hands it to the run launcher;
    # RUN_START (the run's startTime) when the new run process has loaded the code location.
    return {
        "drop_to_sensor_tick": tick["timestamp"] - dropped,
        "tick_to_run_created": run["creationTime"] - tick["timestamp"],
        "queued": at["RunStartingEvent"] - run["creationTime"],
        "run_process_start": run["startTime"] - at["RunStartingEvent"],
        "run": run["endTime"] - run["startTime"],
    }


def drops_then_burst(
    stack: DagsterStack, drops: int, burst: int, seed: int, timeout: float,
    drop: Callable[[str, str], object] | None = None,
) -> dict:
    """A warm-up run, then ``drops`` single files at seeded random moments, then ``burst`` files at once.

    Gives each drop's drop -> run end seconds and phases, and the burst's
    statuses and drain time (first drop to the last run's end). ``drop(name,
    text)`` places a file, complete when it returns (default: an atomic
    rename into the stack's local ``incoming/``; benchmarks.s3_latency uploads
    it to a store).
    """
    drop = drop or (lambda name, text: drop_atomically(stack.incoming, name, text))
    # warm-up: the first run also pays for first-time caches
    drop("warmup.csv", small_file(0))
    wait_finished(stack, ["warmup.csv"], timeout)

    pauses = random.Random(seed)
    latencies, phases = [], []
    for i in range(drops):
        time.sleep(pauses.uniform(0, SENSOR_LOOP_SECONDS))
        name = f"latency_{i}.csv"
        drop(name, small_file(i))
        dropped = time.time()
        run = wait_finished(stack, [name], timeout)[name]
        latencies.append(run["endTime"] - dropped)
        phases.append(phases_of(stack, run, dropped))

    finished = runs_by_file(stack)
    measured = {
        "latencies": latencies,
        "phases": phases,
        "statuses": sorted({finished[f"latency_{i}.csv"]["status"] for i in range(drops)}),
    }
    if not burst:
        return measured
    names = [f"burst_{i:03}.csv" for i in range(burst)]
    started = time.time()
    for i, name in enumerate(names):
        drop(name, small_file(1000 + i))
    runs = wait_finished(stack, names, 3600)
    return {
        **measured,
        "burst_statuses": sorted({runs[n]["status"] for n in names}),
        "burst_drain_seconds": max(runs[n]["endTime"] for n in names) - started,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drops", type=int, default=10)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7, help="seed of the random pauses between drops")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as base, DagsterStack(Path(base), daemon=True) as stack:
        wait_finished(stack, [], 1)
        measured = drops_then_burst(stack, args.drops, args.burst, args.seed, timeout=300)
    latencies, phases = measured["latencies"], measured["phases"]
    drained, statuses = measured["burst_drain_seconds"], measured["burst_statuses"]

    report = {
        "latency_seconds": latencies,
        "latency_median": statistics.median(latencies),
        "latency_max": max(latencies),
        "phase_medians": {key: statistics.median(p[key] for p in phases) for key in phases[0]},
        "phase_means": {key: statistics.fmean(p[key] for p in phases) for key in phases[0]},
        "burst_files": args.burst,
        "burst_statuses": statuses,
        "burst_drain_seconds": drained,
        "burst_runs_per_minute": args.burst / drained * 60,
        "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"drop -> run end: median {report['latency_median']:.1f} s, max {report['latency_max']:.1f} s "
              f"over {args.drops} drops")
        print("  where it went (median, mean): " + ", ".join(
            f"{key} {report['phase_medians'][key]:.2f}/{report['phase_means'][key]:.2f} s" for key in phases[0]))
        print(f"{args.burst} files at once: drained in {drained:.0f} s, {report['burst_runs_per_minute']:.1f} runs/min, "
              f"statuses {statuses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
