"""Runs on warm Celery workers (deploy/celery/dagster.yaml), as plain processes over real services.

One deployment for the module: code server, webserver, daemon and two
``datatasker worker`` processes with different node names, over a fresh
PostgreSQL database, a fresh RabbitMQ vhost and the local Redis. The tests
then push it: a burst of 50 files, a worker killed with kill -9 mid-run,
``terminateRun``, a broker restart with runs queued; and one file's outputs
are compared byte for byte with the DefaultRunLauncher's.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
import requests
import yaml

from datatasker_pipeline.testing.deployment import max_overlap, sales_csv
from datatasker_pipeline.testing.host import drop_atomically
from datatasker_pipeline.testing.postgres import drop_every_connection, restart_local_server
from datatasker_pipeline.testing.services import REDIS_URL, broker_stopped, rabbitmqctl
from datatasker_pipeline.testing.stack import DagsterStack
from datatasker_pipeline.testing.workers import CELERY_DAGSTER_YAML, running_celery_deployment
from datatasker_pipeline.vocabulary import (
    CELERY_BROKER_URL_ENV,
    CELERY_QUEUE,
    FINISHED_STATUSES,
    OUTPUT_FILE_NAMES,
    RUN_CLAIM_KEY_PREFIX,
    RUN_HEARTBEAT_KEY_PREFIX,
)

from .test_faults import LOGS_QUERY, launch_partition, run_status, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.celery, pytest.mark.timeout(600)]

TERMINATE = """
mutation Terminate($runId: String!, $policy: TerminateRunPolicy) {
  terminateRun(runId: $runId, terminatePolicy: $policy) { __typename ... on PythonError { message } }
}
"""


def big_csv(rows: int) -> str:
    """A valid file of ``rows`` records."""
    regions = ("north", "south", "east", "west")
    body = "".join(f"{regions[i % 4]},{100 + i % 900}.5,{1 + i % 9},0.{i % 5}\n" for i in range(rows))
    return "region,revenue,quantity,discount\n" + body


def drop_slow_file(deployment, name: str, rows: int) -> None:
    """A valid file whose run lasts seconds, something to kill or terminate mid-run.

    Its sidecar names a latin-1 encoding, so the reference reader reads it
    (about 3x slower than the fast path): a run that finished before the
    terminate arrived once the fast path got faster must not recur.
    """
    drop_atomically(deployment.incoming, f"{name}.json", json.dumps({"encoding": "latin-1"}))
    drop_atomically(deployment.incoming, name, big_csv(rows))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    with running_celery_deployment(tmp_path_factory.mktemp("celery")) as dep:
        yield dep


@pytest.fixture(scope="module")
def backend():
    return redis.Redis.from_url(REDIS_URL, decode_responses=True)


def finished_runs_of(dep, name: str) -> list[dict]:
    return [r for r in dep.runs_of_file(name) if r["status"] in FINISHED_STATUSES]


def start_timeout_of(dep) -> float:
    """The deployment's ``run_monitoring.start_timeout_seconds``: how long a run may stay STARTING."""
    config = yaml.safe_load((dep.dagster_home / "dagster.yaml").read_text())
    return float(config["run_monitoring"]["start_timeout_seconds"])


def run_text(dep, run_id: str) -> str:
    return json.dumps(dep.graphql(LOGS_QUERY, {"runId": run_id}))


def started_on_a_worker(dep, backend, name: str):
    """(run ID, worker node name) once a worker has claimed the file's run and it is STARTED."""
    runs = dep.runs_of_file(name)
    if runs and runs[0]["status"] == "STARTED":
        worker = backend.get(RUN_CLAIM_KEY_PREFIX + runs[0]["runId"])
        if worker and backend.get(RUN_HEARTBEAT_KEY_PREFIX + runs[0]["runId"]):
            return runs[0]["runId"], worker
    return None


def test_the_instance_config_names_the_warm_launcher_and_the_services_from_the_environment():
    import yaml

    config = yaml.safe_load(CELERY_DAGSTER_YAML.read_text())
    assert config["run_launcher"]["class"] == "WarmCeleryRunLauncher"
    assert config["run_launcher"]["config"]["broker"] == {"env": "DATATASKER_CELERY_BROKER_URL"}
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_monitoring"]["max_resume_run_attempts"] == 0
    assert config["storage"]["custom"]["class"] == "HeldConnectionsPostgresStorage"


def test_a_burst_of_50_files_gives_every_file_exactly_one_success_run_within_the_queue_limit(deployment, backend):
    names = [f"burst_{i:02d}.csv" for i in range(50)]
    started = time.monotonic()
    for i, name in enumerate(names):
        drop_atomically(deployment.incoming, name, sales_csv(i))
    wait_until(lambda: len([r for r in deployment.runs() if r["status"] in FINISHED_STATUSES
                            and r["tagmap"].get("datatasker/file_name", "").startswith("burst_")]) >= 50,
               300, "50 burst runs to finish", deployment, interval=2)
    print(f"\n[celery] 50 files drained in {time.monotonic() - started:.1f} s")
    time.sleep(6)  # one more sensor tick: nothing launches twice
    runs = [r for r in deployment.runs() if r["tagmap"].get("datatasker/file_name", "").startswith("burst_")]
    by_file = {}
    for run in runs:
        by_file.setdefault(run["tagmap"]["datatasker/file_name"], []).append(run)
    assert sorted(by_file) == names
    assert {name: [r["status"] for r in rs] for name, rs in by_file.items()} == {name: ["SUCCESS"] for name in names}
    limit = 4  # deploy/celery/dagster.yaml max_concurrent_runs
    assert max_overlap([(r["startTime"], r["endTime"]) for r in runs]) <= limit
    workers = {backend.get(RUN_CLAIM_KEY_PREFIX + r["runId"]) for r in runs}
    assert workers == {deployment.node_name(w) for w in deployment.workers}, workers
    for run in runs:
        assert all((deployment.data_dir / "outputs" / run["runId"] / f).is_file() for f in OUTPUT_FILE_NAMES)


def test_kill_9_of_a_worker_mid_run_fails_the_run_naming_the_worker_and_the_file_runs_again(deployment, backend):
    drop_slow_file(deployment, "killed.csv", 300_000)
    run_id, worker_node = wait_until(lambda: started_on_a_worker(deployment, backend, "killed.csv"), 180,
                                     "a worker to start killed.csv's run", deployment, interval=0.2)
    worker = next(w for w in deployment.workers if deployment.node_name(w) == worker_node)
    deployment.kill_worker(worker)
    killed_at = time.monotonic()
    status = wait_until(lambda: (s := run_status(deployment, run_id)) in FINISHED_STATUSES and s, 120,
                        "the killed worker's run to be marked finished", deployment)
    detected = time.monotonic() - killed_at
    print(f"\n[celery] run marked {status} {detected:.1f} s after kill -9 of {worker_node}")
    assert status == "FAILURE"
    assert detected < 45  # heartbeat timeout 10 s + monitoring poll 5 s + recheck 4 s, plus daemon slack
    assert worker_node in run_text(deployment, run_id)

    deployment.start_worker(worker)
    rerun = launch_partition(deployment, "killed.csv", "killed.csv")
    final = wait_until(lambda: (s := run_status(deployment, rerun)) in FINISHED_STATUSES and s, 300,
                       "the re-run of killed.csv", deployment, interval=2)
    assert final == "SUCCESS"


def test_terminate_cancels_the_run_and_leaves_the_other_runs_alone(deployment, backend):
    # Rows enough that the run outlasts the revoke's trip through the broker on a busy machine
    # (1.2M rows, about 3 s, once finished first in a fresh-clone CI run).
    drop_slow_file(deployment, "terminated.csv", 3_000_000)
    for i in range(3):
        drop_atomically(deployment.incoming, f"bystander_{i}.csv", big_csv(100_000 + i))
    run_id, _ = wait_until(lambda: started_on_a_worker(deployment, backend, "terminated.csv"), 180,
                           "terminated.csv's run to start", deployment, interval=0.2)
    answer = deployment.graphql(TERMINATE, {"runId": run_id})["terminateRun"]
    assert answer["__typename"] == "TerminateRunSuccess", answer
    status = wait_until(lambda: (s := run_status(deployment, run_id)) in FINISHED_STATUSES and s, 60,
                        "the terminated run to end", deployment)
    assert status == "CANCELED"
    bystanders = wait_until(lambda: [r for i in range(3) for r in finished_runs_of(deployment, f"bystander_{i}.csv")]
                            if all(finished_runs_of(deployment, f"bystander_{i}.csv") for i in range(3)) else None,
                            300, "the other runs to finish", deployment, interval=2)
    assert [r["status"] for r in bystanders] == ["SUCCESS"] * 3


def queued_in_broker(deployment) -> int:
    """Messages waiting in the deployment's vhost's Celery queue."""
    vhost = deployment.env[CELERY_BROKER_URL_ENV].rsplit("/", 1)[1]
    for line in rabbitmqctl("list_queues", "-p", vhost, "--quiet", "--no-table-headers", "name", "messages").splitlines():
        name, _, count = line.partition("\t")
        if name.strip() == CELERY_QUEUE:
            return int(count)
    return 0


def test_a_broker_restart_with_runs_queued_loses_none_and_runs_none_twice(deployment, backend):
    """Both ways a run waits: in Dagster's queue while the broker is down (its launch fails and is
    retried), and as a message in the broker's queue while no worker is up (it must survive)."""
    for worker in deployment.workers:
        deployment.kill_worker(worker)  # idle: nothing of theirs is lost
    names = [f"restart_{i}.csv" for i in range(8)]
    limit = 4  # deploy/celery/dagster.yaml max_concurrent_runs
    with broker_stopped():
        for i, name in enumerate(names):
            drop_atomically(deployment.incoming, name, sales_csv(100 + i))
        wait_until(lambda: all(deployment.runs_of_file(n) for n in names), 120, "the sensor to queue every file",
                   deployment, interval=1)
        time.sleep(6)  # the queue tries to launch into the dead broker meanwhile
    wait_until(lambda: queued_in_broker(deployment) == limit, 120, "the runs' tasks to reach the broker", deployment)
    with broker_stopped():
        pass
    assert queued_in_broker(deployment) == limit  # durable queue, persistent messages: none lost
    # A run whose task waits in the broker: Dagster terminates only QUEUED and STARTED runs, so the UI
    # offers "mark as canceled" for it. Its message, when a worker takes it, must start nothing.
    waiting = next(r for n in names for r in deployment.runs_of_file(n) if r["status"] == "STARTING")
    variables = {"runId": waiting["runId"], "policy": "MARK_AS_CANCELED_IMMEDIATELY"}
    assert deployment.graphql(TERMINATE, variables)["terminateRun"]["__typename"] == "TerminateRunSuccess"
    assert run_status(deployment, waiting["runId"]) == "CANCELED"
    for worker in deployment.workers:
        deployment.start_worker(worker)
    wait_until(lambda: all(finished_runs_of(deployment, n) for n in names), 400,
               "every queued file to finish after the broker restarts", deployment, interval=2)
    time.sleep(6)
    runs = {name: deployment.runs_of_file(name) for name in names}
    expected = {name: ["CANCELED" if rs[0]["runId"] == waiting["runId"] else "SUCCESS"] for name, rs in runs.items()}
    assert {name: [r["status"] for r in rs] for name, rs in runs.items()} == expected
    assert list(expected.values()).count(["CANCELED"]) == 1
    canceled_text = run_text(deployment, waiting["runId"])
    assert "Not starting execution since the run was canceled" in canceled_text
    assert "RunStartEvent" not in canceled_text and "ExecutionStepStartEvent" not in canceled_text
    for rs in runs.values():
        if rs[0]["runId"] == waiting["runId"]:
            continue
        # One execution per run: a single "Started process for run" engine event.
        assert run_text(deployment, rs[0]["runId"]).count("Started process for run") == 1


def test_the_database_dropping_every_connection_loses_no_file_and_runs_none_twice(deployment):
    """What a PostgreSQL restart does to the connections every process holds (held_connections):
    the daemon's loops, the webserver and the workers each find theirs dead once, then reconnect."""
    before, after = [f"pg_before_{i}.csv" for i in range(3)], [f"pg_after_{i}.csv" for i in range(5)]
    for i, name in enumerate(before):
        drop_atomically(deployment.incoming, name, sales_csv(200 + i))
    wait_until(lambda: all(finished_runs_of(deployment, n) for n in before), 180, "the first files to finish", deployment)
    assert drop_every_connection(deployment.db_name) >= 3  # at least the daemon's, the webserver's, a worker's
    answers_after_failing_at_most_once(deployment)
    for i, name in enumerate(after):
        drop_atomically(deployment.incoming, name, sales_csv(210 + i))
    wait_until(lambda: all(finished_runs_of(deployment, n) for n in after), 240,
               "every file dropped after the connections died to finish", deployment, interval=2)
    time.sleep(6)  # one more sensor tick: nothing launches twice
    statuses = {name: [r["status"] for r in deployment.runs_of_file(name)] for name in before + after}
    assert statuses == {name: ["SUCCESS"] for name in before + after}


def answers_after_failing_at_most_once(deployment) -> None:
    """The webserver has always held its connections (stock Dagster): its first query finds them dead, once."""
    failed_requests = 0
    while True:
        try:
            deployment.runs()
            return
        except requests.HTTPError:
            failed_requests += 1
            assert failed_requests <= 1


def test_a_postgresql_restart_mid_stream_strands_no_run_and_loses_no_file(deployment):
    """A real restart (a few seconds down): runs writing events across it fail and say why, none is left
    STARTING or STARTED past the start timeout, a file whose run failed is still there to run again, and
    every file dropped after it gets exactly one SUCCESS run."""
    during = [f"pg_restart_{i}.csv" for i in range(3)]
    for i, name in enumerate(during):
        drop_atomically(deployment.incoming, name, sales_csv(300 + i))
    wait_until(lambda: all(deployment.runs_of_file(n) for n in during), 120, "runs for the first files", deployment)
    if not restart_local_server():
        pytest.skip("the test PostgreSQL server is not a local cluster this test can restart")
    answers_after_failing_at_most_once(deployment)
    after = [f"pg_after_restart_{i}.csv" for i in range(4)]
    for i, name in enumerate(after):
        drop_atomically(deployment.incoming, name, sales_csv(310 + i))
    wait_until(lambda: all(finished_runs_of(deployment, n) for n in after), 300,
               "every file dropped after the restart to finish", deployment, interval=2)
    # Dagster's queue daemon marks a run STARTING before it hands it to the launcher; when the
    # database goes down between the two, the run is never launched and stays STARTING until
    # run monitoring's start timeout fails it (seen in CI). That timeout is the bound here.
    wait_until(lambda: all(finished_runs_of(deployment, n) for n in during), start_timeout_of(deployment) + 60,
               "every file dropped before the restart to finish", deployment, interval=2)
    time.sleep(6)  # one more sensor tick: nothing launches twice
    statuses = {name: [r["status"] for r in deployment.runs_of_file(name)] for name in during + after}
    assert {name: statuses[name] for name in after} == {name: ["SUCCESS"] for name in after}
    assert all(len(runs) == 1 and runs[0] in ("SUCCESS", "FAILURE") for runs in (statuses[n] for n in during)), statuses
    waiting = {p.name for p in deployment.incoming.iterdir()}
    assert not waiting & set(after)
    for name in during:
        (run,) = deployment.runs_of_file(name)
        raw_copy = deployment.data_dir / "raw" / run["runId"] / name
        if run["status"] == "SUCCESS":
            assert name not in waiting and raw_copy.is_file()
        else:  # failed before or after taking the file: it is still in incoming/ or in the run's raw copy
            assert name in waiting or raw_copy.is_file(), name


def test_a_runs_outputs_are_byte_identical_to_the_default_launchers(deployment, tmp_path):
    content = sales_csv(7, rows=40)
    drop_atomically(deployment.incoming, "same.csv", content)
    celery_run = wait_until(lambda: finished_runs_of(deployment, "same.csv"), 120, "same.csv on Celery", deployment)[0]
    with DagsterStack(tmp_path / "default", daemon=True) as stack:  # SQLite instance, DefaultRunLauncher
        drop_atomically(stack.incoming, "same.csv", content)
        default_run = wait_until(lambda: [r for r in stack.runs_of_file("same.csv") if r["status"] in FINISHED_STATUSES],
                                 240, "same.csv on the DefaultRunLauncher", stack)[0]
        assert celery_run["status"] == default_run["status"] == "SUCCESS"
        for name in OUTPUT_FILE_NAMES:
            ours = Path(deployment.data_dir / "outputs" / celery_run["runId"] / name).read_bytes()
            theirs = Path(stack.outputs / default_run["runId"] / name).read_bytes()
            assert ours == theirs, name
