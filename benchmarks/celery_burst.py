"""DefaultRunLauncher vs warm Celery workers, through the PostgreSQL deployment, in one benchmark run.

    uv run python -m benchmarks.celery_burst [--burst 100] [--drops 12] [--json]

For each launcher it starts the production processes as plain processes
(``datatasker_pipeline.testing``: ``deploy/dagster.yaml``, then
``deploy/celery/dagster.yaml`` with two ``datatasker worker`` processes, over
a fresh PostgreSQL database, a fresh RabbitMQ vhost and the local Redis), then:

1. latency: ``--drops`` small files, one at a time at random moments (seeded
   pauses of 0-5 s, so drops fall at every phase of the sensor's 5 s loop);
   drop -> SUCCESS, and launch (RUN_STARTING) -> RUN_START, with each drop's
   seconds split into phases;
2. throughput: ``--burst`` small files at once; runs per minute from the first
   drop to the last run's end.

Needs PostgreSQL, RabbitMQ and Redis on 127.0.0.1 (as the tests do).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from datatasker_pipeline.testing.deployment import running_deployment
from datatasker_pipeline.testing.workers import running_celery_deployment

from .latency import drops_then_burst

DEPLOYMENTS = {
    "default": running_deployment,  # each run a fresh process started by the code server
    "celery": running_celery_deployment,  # each run a task in a warm worker (2 workers x 2 processes)
}


def measure(deployment, drops: int, burst: int, seed: int) -> dict:
    """Latency of single drops, then the drain rate of a burst, on one running deployment."""
    measured = drops_then_burst(deployment, drops, burst, seed, timeout=600)
    latencies, phases, drained = measured["latencies"], measured["phases"], measured["burst_drain_seconds"]
    return {
        "drop_to_success_seconds": latencies,
        "drop_to_success_median": statistics.median(latencies),
        "launch_to_run_start_median": statistics.median(p["run_process_start"] for p in phases),
        "phase_medians": {key: statistics.median(p[key] for p in phases) for key in phases[0]},
        "burst_files": burst,
        "burst_statuses": measured["burst_statuses"],
        "burst_drain_seconds": drained,
        "burst_runs_per_minute": burst / drained * 60,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--drops", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7, help="seed of the random pauses between drops")
    parser.add_argument("--only", choices=sorted(DEPLOYMENTS), help="measure one launcher only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    report = {"nproc": os.cpu_count(), "load_average_before": os.getloadavg()}
    for name, running in DEPLOYMENTS.items():
        if args.only and name != args.only:
            continue
        with tempfile.TemporaryDirectory() as base, contextlib.ExitStack() as stack:
            deployment = stack.enter_context(running(Path(base), database_prefix="dt_bench"))
            report[name] = measure(deployment, args.drops, args.burst, args.seed)
        report[name]["load_average_after"] = os.getloadavg()
    report["load_average_after"] = os.getloadavg()

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"nproc {report['nproc']}, load average before {report['load_average_before']}")
    for name in DEPLOYMENTS:
        if name not in report:
            continue
        r = report[name]
        print(f"{name:8} {r['burst_files']} files: {r['burst_runs_per_minute']:.1f} runs/min "
              f"(drained in {r['burst_drain_seconds']:.0f} s, {r['burst_statuses']}); "
              f"drop->SUCCESS median {r['drop_to_success_median']:.2f} s; "
              f"launch->RUN_START median {r['launch_to_run_start_median']:.2f} s; "
              f"load after {r['load_average_after']}")
        print("         phases (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in r["phase_medians"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
