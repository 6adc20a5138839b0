"""End to end, as a new user meets it: webserver + daemon running, files dropped, runs read over GraphQL.

Marked ``e2e``: it starts real Dagster processes and waits for sensor ticks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from datatasker_pipeline.testing.host import drop_atomically
from datatasker_pipeline.testing.stack import DagsterStack
from datatasker_pipeline.vocabulary import CODE_LOCATION, FILE_SENSOR

pytestmark = pytest.mark.e2e

GOOD = "region,revenue,quantity,discount\nEast,10,2,0.1\nWest,n/a,1,0\n"
BAD = "region,product,revenue,quantity\nEast,x,1,1\n"

FAILURE_QUERY = """
query Failure($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent { stepKey failureMetadata { description } error { message } }
      }
    }
  }
}
"""


def wait_for_finished_run(stack: DagsterStack, file_name: str, timeout: float = 240) -> dict:
    return stack.wait_for_finished_run(file_name, timeout)


def test_dropped_files_become_runs_with_outputs_and_messages(tmp_path):
    with DagsterStack(tmp_path, daemon=True) as stack:
        drop_atomically(stack.incoming, "sales.csv", GOOD)
        dropped_at = time.time()
        drop_atomically(stack.incoming, "bad.csv", BAD)
        good = wait_for_finished_run(stack, "sales.csv")
        bad = wait_for_finished_run(stack, "bad.csv")

        assert good["status"] == "SUCCESS" and good["jobName"] == "process_sales_file"
        tags = {t["key"]: t["value"] for t in good["tags"]}
        assert tags["dagster/partition"] == "sales.csv"
        out = stack.outputs / good["runId"]
        assert sorted(p.name for p in out.iterdir()) == [
            "anomalies.csv", "cleaned.parquet", "region_summary.csv", "rejected_rows.csv"
        ]
        print(f"\n[e2e] drop to run end: {good['endTime'] - dropped_at:.1f} s (sensor tick + queue + run start + run)")

        assert bad["status"] == "FAILURE"
        events = stack.graphql(FAILURE_QUERY, {"runId": bad["runId"]})["logsForRun"]["events"]
        [failure] = [e for e in events if e["__typename"] == "ExecutionStepFailureEvent"]
        expected = "missing required column(s): discount; found: region, product, revenue, quantity"
        assert failure["failureMetadata"]["description"] == expected
        assert not (stack.outputs / bad["runId"]).exists()

        # the run took its file out of the inbox
        assert (stack.data_dir / "raw" / good["runId"] / "sales.csv").read_text() == GOOD
        assert not (stack.incoming / "sales.csv").exists() and not (stack.incoming / "bad.csv").exists()

        # the same bytes dropped again under the same name start no run: they are set aside
        drop_atomically(stack.incoming, "sales.csv", GOOD)
        set_aside = stack.data_dir / "duplicates" / good["runId"] / "sales.csv"
        deadline = time.time() + 120
        while not set_aside.exists() and time.time() < deadline:
            time.sleep(1)
        assert set_aside.read_text() == GOOD and not (stack.incoming / "sales.csv").exists()
        assert len(stack.runs_of_file("sales.csv")) == 1

        # changed bytes do
        drop_atomically(stack.incoming, "sales.csv", GOOD + "North,5,1,0\n")
        deadline = time.time() + 240
        while len(stack.runs_of_file("sales.csv")) < 2 and time.time() < deadline:
            time.sleep(1)
        assert len(stack.runs_of_file("sales.csv")) == 2


SENSOR_CURSOR_QUERY = """
query Cursor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { typeSpecificData { ... on SensorData { lastCursor } } ticks(limit: 1) { cursor } } }
  }
}
"""


def stored_cursor(stack: DagsterStack) -> str:
    selector = {"repositoryLocationName": CODE_LOCATION, "repositoryName": "__repository__", "sensorName": FILE_SENSOR}
    state = stack.graphql(SENSOR_CURSOR_QUERY, {"selector": selector})["sensorOrError"]["sensorState"]
    return state["typeSpecificData"]["lastCursor"] or ""


def test_the_stored_cursor_does_not_grow_with_the_files_processed(tmp_path):
    """Three batches of ten files: after each, the sensor's stored cursor is back to empty."""
    with DagsterStack(tmp_path, daemon=True) as stack:
        sizes = []
        for batch in range(3):
            names = [f"b{batch}-{i:02d}.csv" for i in range(10)]
            for name in names:
                drop_atomically(stack.incoming, name, GOOD + f"{name},1,1,0\n")
            runs = [wait_for_finished_run(stack, name) for name in names]
            assert all(run["status"] == "SUCCESS" for run in runs)
            deadline = time.time() + 60
            while (list(stack.incoming.iterdir()) or stored_cursor(stack) != '{"files":{}}') and time.time() < deadline:
                time.sleep(1)
            sizes.append(len(stored_cursor(stack)))
        assert list(stack.incoming.iterdir()) == []
        assert sizes == [len('{"files":{}}')] * 3, sizes
        status = subprocess.run(
            [sys.executable, "-m", "datatasker_pipeline.cli", "status", "--file", "b1-03.csv", "--json"],
            env=stack.client_env(), capture_output=True, text=True, timeout=120,
        )
        assert status.returncode == 0, status.stderr
        [run] = json.loads(status.stdout)["runs"]
        assert run["status"] == "SUCCESS" and run["origin"] == "sensor" and run["partition"] == "b1-03.csv"
