"""Load: 200 files dropped in bursts into the plain-process deployment over PostgreSQL.

Run it on its own:  uv run pytest -m load -s
(It is long: every run is a separate process; the drain time is printed.)

Asserts: exactly 200 runs, all SUCCESS; each file processed once (one run and
one partition per file, no partition twice, none missed); the queued run
coordinator's max_concurrent_runs (read from deploy/dagster.yaml) never
exceeded -- checked both by polling in-progress runs and, afterwards, from the
runs' start/end times; every run's outputs under outputs/<run_id>/.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from datatasker_pipeline.testing import deployment as prod
from datatasker_pipeline.testing.host import drop_atomically
from datatasker_pipeline.vocabulary import JOB_NAME

TOTAL_FILES = 200
# Uneven bursts with pauses between them: (files, pause after, seconds).
BURSTS = [(60, 3), (1, 1), (39, 8), (75, 0.5), (25, 0)]
assert sum(n for n, _ in BURSTS) == TOTAL_FILES

DRAIN_TIMEOUT_S = 3600

IN_PROGRESS_QUERY = """
query InProgress($jobName: String) {
  runsOrError(filter: {pipelineName: $jobName, statuses: [STARTING, STARTED, CANCELING]}) {
    __typename
    ... on Runs { results { runId status } }
    ... on PythonError { message }
  }
}
"""


@pytest.fixture
def deployment(request, tmp_path):
    # Tens of minutes on a small machine: only when asked for by marker, so a
    # plain `pytest datatasker_tests/` never starts it by accident.
    if "load" not in (request.config.getoption("markexpr") or "") or "not load" in request.config.getoption("markexpr"):
        pytest.skip("load test: run it on its own with `pytest -m load -s datatasker_tests/test_load.py`")
    with prod.running_deployment(tmp_path, "dt_load") as dep:
        yield dep


def _in_progress(dep) -> dict[str, str]:
    result = dep.graphql(IN_PROGRESS_QUERY, {"jobName": JOB_NAME})["runsOrError"]
    assert result["__typename"] == "Runs", result
    return {r["runId"]: r["status"] for r in result["results"]}


@pytest.mark.load
@pytest.mark.postgres
@pytest.mark.timeout(DRAIN_TIMEOUT_S + 900)
def test_200_files_in_bursts(deployment):
    dep = deployment
    limit = prod.configured_max_concurrent_runs()
    incoming = dep.data_dir / "incoming"
    names = [f"load_{i:04d}.csv" for i in range(TOTAL_FILES)]

    max_in_progress = 0
    max_started = 0
    samples = 0

    def sample() -> None:
        nonlocal max_in_progress, max_started, samples
        current = _in_progress(dep)
        samples += 1
        max_in_progress = max(max_in_progress, len(current))
        max_started = max(max_started, sum(1 for s in current.values() if s == "STARTED"))
        assert len(current) <= limit, f"{len(current)} runs in progress, limit {limit}: {current}"

    t0 = time.monotonic()
    it = iter(names)
    for burst, pause in BURSTS:
        for _ in range(burst):
            name = next(it)
            seed = int(name[5:9])
            drop_atomically(incoming, name, prod.sales_csv(seed=seed, rows=4 + seed % 7))
        end_pause = time.monotonic() + pause
        while time.monotonic() < end_pause:
            sample()
            time.sleep(0.5)
    dropped_at = time.monotonic()
    print(f"\n[load] dropped {TOTAL_FILES} files in {len(BURSTS)} bursts in {dropped_at - t0:.1f}s")

    runs: list[dict] = []
    last_full = 0.0
    last_report = 0.0
    while True:
        now = time.monotonic()
        assert now - t0 < DRAIN_TIMEOUT_S, (
            f"not drained after {DRAIN_TIMEOUT_S}s: "
            f"{collections.Counter(r['status'] for r in runs)}\n{dep.all_log_tails()}"
        )
        dep.check_alive()
        sample()
        if now - last_full >= 10:
            last_full = now
            runs = dep.runs(limit=5000)
            counts = collections.Counter(r["status"] for r in runs)
            bad = [r for r in runs if r["status"] in prod.TERMINAL_BAD]
            assert not bad, f"{len(bad)} runs ended badly, e.g. {bad[:3]}\n{dep.all_log_tails()}"
            if now - last_report >= 60:
                last_report = now
                print(f"[load] t={now - t0:.0f}s runs={len(runs)} {dict(counts)}", flush=True)
            if len(runs) >= TOTAL_FILES and counts.get("SUCCESS", 0) == len(runs):
                break
        time.sleep(1)
    drain_s = time.monotonic() - t0

    # Give the sensor a few more ticks to prove it does not launch extra runs.
    time.sleep(30)
    runs = dep.runs(limit=5000)

    print(
        f"[load] DRAIN TIME: {drain_s:.1f}s for {TOTAL_FILES} files "
        f"({drain_s / TOTAL_FILES:.2f}s/file, {TOTAL_FILES / drain_s * 60:.1f} files/min); "
        f"max_concurrent_runs={limit}, max in progress seen={max_in_progress}, "
        f"max STARTED seen={max_started}, {samples} samples"
    )

    # Exactly 200 runs, all SUCCESS.
    assert len(runs) == TOTAL_FILES, f"{len(runs)} runs for {TOTAL_FILES} files"
    statuses = collections.Counter(r["status"] for r in runs)
    assert statuses == {"SUCCESS": TOTAL_FILES}, statuses

    # No partition twice, none missed: one partition per file, one run per partition.
    partitions = [r["tagmap"].get("dagster/partition") for r in runs]
    assert None not in partitions
    dupes = [p for p, n in collections.Counter(partitions).items() if n > 1]
    assert not dupes, f"partitions processed more than once: {dupes}"
    for name in names:
        stem = Path(name).stem
        hits = [p for p in partitions if stem in p]
        assert len(hits) == 1, f"{name}: runs for partitions {hits}"

    # Concurrency limit: polled, and reconstructed from start/end times.
    assert max_in_progress <= limit
    intervals = [(r["startTime"], r["endTime"]) for r in runs]
    assert all(s is not None and e is not None for s, e in intervals)
    overlap = prod.max_overlap(intervals)
    print(f"[load] max overlapping runs by start/end time: {overlap} (limit {limit})")
    assert overlap <= limit, f"{overlap} runs overlapped, limit {limit}"

    # Every run's outputs under its own run id.
    lacking = {r["runId"]: m for r in runs if (m := prod.missing_outputs(dep.data_dir, r["runId"]))}
    assert not lacking, f"{len(lacking)} runs lack outputs, e.g. {list(lacking.items())[:3]}"
