"""Faults: a killed run worker, a restarted daemon, transient I/O errors, secrets in messages (issue 6).

* (a) kill -9 of the run worker mid-file (real webserver + daemon): the run
  becomes FAILURE within a bounded time, its run folder holds no result file
  (only hidden ``.partial`` temporaries may remain), and launching the same
  partition again succeeds.
* (b) the daemon is stopped (SIGTERM) and restarted while files keep
  arriving: every distinct file gets exactly one SUCCESS run, none twice.
* (c) in-process: a transient ``OSError`` while copying the file is retried
  with backoff and jitter and the run succeeds; bad data is never retried.
* (d) secrets in the environment (``DAGSTER_PG_PASSWORD``, a database URL)
  appear in no failure message, event log or stored file.

(a), (b) and (d)'s real-process part are marked ``e2e``: they start Dagster
processes (5-20 s each on a shared machine) and wait for sensor ticks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

import datatasker_pipeline.defs.sales.assets as assets_module
from datatasker_pipeline.defs.resources import DataRoot
from datatasker_pipeline.defs.sales.assets import sales_assets
from datatasker_pipeline.defs.sales.partitions import sales_files
from datatasker_pipeline.testing.host import cmdline, drop_atomically, pids_with_open_file_under
from datatasker_pipeline.testing.stack import REPO_ROOT, DagsterStack
from datatasker_pipeline.vocabulary import CODE_LOCATION as LOCATION_NAME
from datatasker_pipeline.vocabulary import FILE_NAME_TAG, JOB_NAME
from datatasker_pipeline.vocabulary import FINISHED_STATUSES as FINISHED

SECRET = "s3cr3t-value-7f3a"
SECRET_ENV = {
    "DAGSTER_PG_PASSWORD": SECRET,
    "DATATASKER_DB_URL": f"postgresql://datatasker:{SECRET}@db.internal:5432/dagster",
}
GOOD = "region,revenue,quantity,discount\nEast,10,2,0.1\nWest,n/a,1,0\n"
BAD = "region,product,revenue,quantity\nEast,x,1,1\n"

ALL_RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId status } } } }"
LOGS_QUERY = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message }
        ... on ExecutionStepFailureEvent { failureMetadata { description } error { message causes { message } } }
        ... on RunFailureEvent { error { message } }
        ... on EngineEvent { error { message } }
      }
    }
  }
}
"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def wait_until(predicate, timeout: float, what: str, stack: DagsterStack | None = None, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack is not None:
            stack.check_alive()
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tails = f"\n{stack.all_log_tails(3000)}" if stack is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tails}")


def run_status(stack: DagsterStack, run_id: str) -> str:
    query = "query R($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
    return stack.graphql(query, {"id": run_id})["runOrError"]["status"]


def result_files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def all_event_text(stack: DagsterStack) -> str:
    """Every message and error text of every run, as GraphQL serves them."""
    texts = []
    for run in stack.graphql(ALL_RUNS_QUERY)["runsOrError"]["results"]:
        texts.append(json.dumps(stack.graphql(LOGS_QUERY, {"runId": run["runId"]})))
    return "\n".join(texts)


def launch_partition(stack: DagsterStack, key: str, file_name: str) -> str:
    params = {
        "selector": {"repositoryLocationName": LOCATION_NAME, "repositoryName": "__repository__", "jobName": JOB_NAME},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": key}, {"key": FILE_NAME_TAG, "value": file_name}]},
        "runConfigData": {},
    }
    launched = stack.graphql(LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


# --------------------------------------------------------------------------
# (a) + (d): kill -9 of the run worker; secrets never in messages
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    """A file big enough that cleaning takes seconds (so there is a 'mid-file' to kill in)."""
    out = tmp_path_factory.mktemp("big") / "big.csv"
    rows = int(os.environ.get("DATATASKER_FAULT_ROWS") or 2_000_000)
    subprocess.run([sys.executable, "-m", "benchmarks.generate", "--rows", str(rows), "--seed", "3", "--out", str(out)],
                   cwd=REPO_ROOT, check=True, capture_output=True, timeout=600)
    return out


@pytest.mark.e2e
@pytest.mark.timeout(1500)
def test_kill_9_of_the_run_worker_fails_the_run_cleanly_and_a_rerun_succeeds(tmp_path, big_file):
    with DagsterStack(tmp_path, daemon=True, extra_env=SECRET_ENV) as stack:
        drop_atomically(stack.incoming, "big.csv", big_file)
        drop_atomically(stack.incoming, "bad.csv", BAD)  # (d): a failing file under the same secrets

        # Wait until this run is cleaning: its temporaries exist in its run folder.
        run_id = wait_until(lambda: next((r["runId"] for r in stack.runs_of_file("big.csv")), None), 300,
                            "the sensor to launch a run for big.csv", stack)
        out_dir = stack.outputs / run_id

        def partial_open():
            return out_dir.is_dir() and any(p.name.endswith(".partial") for p in out_dir.iterdir())

        wait_until(partial_open, 300, "cleaning to start writing .partial files", stack, interval=0.05)
        pids = wait_until(lambda: pids_with_open_file_under(out_dir), 30, "the worker's open file", stack, 0.05)
        assert len(pids) == 1, [(p, cmdline(p)) for p in pids]
        worker = pids[0]
        assert not any(worker == p.pid for p in stack.procs.values())  # a worker, not the daemon/webserver
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        print(f"\n[faults] killed run worker {worker} ({cmdline(worker)[:120]}) of run {run_id}")

        status = wait_until(lambda: run_status(stack, run_id) in FINISHED and run_status(stack, run_id), 180,
                            "the killed run to be marked finished", stack)
        print(f"[faults] run marked {status} {time.monotonic() - killed_at:.1f} s after kill -9")
        assert status == "FAILURE"
        # No half-written output is presented as a result.
        assert result_files_in(out_dir) == [], result_files_in(out_dir)
        assert all(p.name.startswith(".") and p.name.endswith(".partial") for p in out_dir.iterdir())

        # Re-execution of the same partition succeeds.
        rerun = launch_partition(stack, "big.csv", "big.csv")
        final = wait_until(lambda: run_status(stack, rerun) in FINISHED and run_status(stack, rerun), 600,
                           "the re-execution to finish", stack, interval=2)
        assert final == "SUCCESS"
        assert result_files_in(stack.outputs / rerun) == sorted(
            ["anomalies.csv", "cleaned.parquet", "region_summary.csv", "rejected_rows.csv"])

        # (d) the failing file failed with its message, and no secret appears anywhere.
        bad = wait_until(lambda: [r for r in stack.runs_of_file("bad.csv") if r["status"] in FINISHED], 180,
                         "bad.csv's run", stack)
        assert bad[0]["status"] == "FAILURE"
        wait_until(lambda: len(list((stack.data_dir / "failed").glob("*.json"))) >= 2, 120,
                   "failure records for the two failed runs", stack)
        text = all_event_text(stack)
        assert "missing required column(s): discount" in text
        assert SECRET not in text
        for folder in (stack.dagster_home, stack.data_dir, stack.logs_dir):
            for path in folder.rglob("*"):
                if path.is_file() and not path.is_symlink() and path.name != "big.csv" and "raw" not in path.parts:
                    assert SECRET.encode() not in path.read_bytes(), f"secret found in {path}"
        for record in (stack.data_dir / "failed").glob("*.json"):
            assert SECRET not in record.read_text()


# --------------------------------------------------------------------------
# (b) daemon stopped and restarted while files keep arriving
# --------------------------------------------------------------------------


def csv_for(i: int) -> str:
    return f"region,revenue,quantity,discount\nEast,{i + 1},1,0\nWest,{2 * i + 3},2,0.5\n"


@pytest.mark.e2e
@pytest.mark.timeout(1500)
def test_daemon_restart_while_files_arrive_loses_and_repeats_nothing(tmp_path):
    names = [f"{phase}-{i}.csv" for phase in ("before", "outage", "after") for i in range(3)]
    contents = {name: csv_for(i) for i, name in enumerate(names)}
    with DagsterStack(tmp_path, daemon=True) as stack:
        for name in names[:3]:
            drop_atomically(stack.incoming, name, contents[name])

        def finished(name):
            return [r for r in stack.runs_of_file(name) if r["status"] in FINISHED]

        wait_until(lambda: all(finished(n) for n in names[:3]), 300, "runs for the first files", stack)

        daemon = stack.procs["daemon"]
        os.kill(daemon.pid, signal.SIGTERM)  # the daemon only; a graceful stop
        try:
            daemon.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=30)
        del stack.procs["daemon"]  # check_alive must not report the stopped daemon
        for name in names[3:6]:
            drop_atomically(stack.incoming, name, contents[name])
        time.sleep(10)  # the outage: nobody is watching
        assert all(not stack.runs_of_file(n) for n in names[3:6]), "runs launched while the daemon was down?"

        stack._spawn("daemon", stack.commands()["daemon"])
        for name in names[6:]:
            drop_atomically(stack.incoming, name, contents[name])
        wait_until(lambda: all(finished(n) for n in names), 480, "a finished run for every file", stack, 2)
        time.sleep(20)  # several more sensor ticks: nothing may run twice

        counts = {}
        for name in names:
            runs = stack.runs_of_file(name)
            counts[name] = [r["status"] for r in runs]
        assert all(statuses == ["SUCCESS"] for statuses in counts.values()), counts
        total = stack.graphql(ALL_RUNS_QUERY)["runsOrError"]["results"]
        assert len(total) == len(names), [r["runId"] for r in total]


# --------------------------------------------------------------------------
# (c) transient errors are retried with backoff + jitter; bad data is not
# --------------------------------------------------------------------------


def materialize(instance, root: Path, name: str, content: str):
    (root / "incoming").mkdir(parents=True, exist_ok=True)
    (root / "incoming" / name).write_text(content)
    instance.add_dynamic_partitions(sales_files.name, [name])
    return dg.materialize(sales_assets, partition_key=name, instance=instance, raise_on_error=False,
                          resources={"data_root": DataRoot(path=str(root))})


def events_of(result, event_type):
    return [e for e in result.all_events if e.event_type == event_type]


def test_transient_os_error_is_retried_with_backoff_and_jitter(tmp_path, instance, monkeypatch):
    real_copy = assets_module.take_dropped_file
    calls = []

    def flaky_copy(*args, **kwargs):
        calls.append(time.monotonic())
        if len(calls) <= 2:
            raise OSError(5, "Input/output error (injected)")
        return real_copy(*args, **kwargs)

    monkeypatch.setattr(assets_module, "take_dropped_file", flaky_copy)
    result = materialize(instance, tmp_path / "root", "flaky.csv", GOOD)
    assert result.success
    retries = events_of(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert [e.step_key for e in retries] == ["raw_csv", "raw_csv"]
    waits = [e.event_specific_data.seconds_to_wait for e in retries]
    # exponential backoff 0.5 * 2**n with jitter in [0.5, 1.5)
    assert 0.25 <= waits[0] <= 0.75 and 0.5 <= waits[1] <= 1.5, waits
    assert calls[1] - calls[0] >= waits[0] * 0.9 and calls[2] - calls[1] >= waits[1] * 0.9
    warnings = [r.message for r in instance.all_logs(result.run_id) if "transient I/O error" in (r.message or "")]
    assert len(warnings) == 2, warnings


def test_jitter_differs_between_attempts(tmp_path, monkeypatch):
    """The wait for the same retry number is not a constant (jitter), and grows with the number."""
    import random

    seen = []
    monkeypatch.setattr(random, "uniform", lambda a, b: (seen.append((a, b)), b)[1])
    with dg.instance_for_test() as instance:
        monkeypatch.setattr(assets_module, "take_dropped_file", lambda *a, **k: (_ for _ in ()).throw(OSError("flaky")))
        result = materialize(instance, tmp_path / "root", "always.csv", GOOD)
    assert not result.success
    waits = [e.event_specific_data.seconds_to_wait for e in events_of(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)]
    assert waits == [0.75, 1.5, 3.0]  # 0.5 * 2**n * the (patched) upper jitter bound: exponential
    assert seen == [(0.5, 1.5)] * 3
    assert len(events_of(result, dg.DagsterEventType.STEP_FAILURE)) == 1  # gave up after 3 retries


def test_bad_data_is_not_retried(tmp_path, instance):
    result = materialize(instance, tmp_path / "root", "bad.csv", BAD)
    assert not result.success
    assert events_of(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    [failure] = events_of(result, dg.DagsterEventType.STEP_FAILURE)
    assert failure.step_key == "cleaned_sales"
    assert failure.step_failure_data.user_failure_data.description.startswith("missing required column(s): discount")


# --------------------------------------------------------------------------
# (d) in-process: secrets in the environment never reach messages or logs
# --------------------------------------------------------------------------


def test_secrets_never_reach_failure_messages_or_logs(tmp_path, instance, monkeypatch):
    for key, value in SECRET_ENV.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "root"
    failures = [materialize(instance, root, "bad.csv", BAD),
                materialize(instance, root, "nul.csv", GOOD + "\x00"),
                materialize(instance, root, "opt.csv", GOOD.replace("East", '"East'))]
    # an unexpected error (not a FileFailure) and exhausted transient retries
    monkeypatch.setattr(assets_module, "take_dropped_file", lambda *a, **k: (_ for _ in ()).throw(OSError("disk gone")))
    failures.append(materialize(instance, root, "io.csv", GOOD))
    monkeypatch.setattr(assets_module, "take_dropped_file", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    failures.append(materialize(instance, root, "boom.csv", GOOD))
    assert not any(r.success for r in failures)
    texts = []
    for run in instance.get_runs():
        for record in instance.all_logs(run.run_id):
            texts.append(record.message or "")
            if record.dagster_event is not None:
                texts.append(repr(record.dagster_event))
        texts.append(repr(run))
    joined = "\n".join(texts)
    assert "missing required column(s)" in joined and "disk gone" in joined
    assert SECRET not in joined
