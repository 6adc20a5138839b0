"""End to end, as a new user meets it: webserver + daemon running, files dropped, runs read over GraphQL.

Marked ``e2e``: it starts real Dagster processes and waits for sensor ticks.
"""

from __future__ import annotations

import time

import pytest

from datatasker_pipeline.testing.host import drop_atomically
from datatasker_pipeline.testing.stack import DagsterStack
from datatasker_pipeline.vocabulary import FINISHED_STATUSES as FINISHED

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
    deadline = time.time() + timeout
    while time.time() < deadline:
        stack.check_alive()
        finished = [r for r in stack.runs_of_file(file_name) if r["status"] in FINISHED]
        if finished:
            return finished[0]
        time.sleep(1)
    raise AssertionError(f"no finished run for {file_name} in {timeout} s\n{stack.all_log_tails()}")


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

        # the same bytes dropped again under the same name start no run
        drop_atomically(stack.incoming, "sales.csv", GOOD)
        time.sleep(15)  # several sensor ticks
        assert len(stack.runs_of_file("sales.csv")) == 1

        # changed bytes do
        drop_atomically(stack.incoming, "sales.csv", GOOD + "North,5,1,0\n")
        deadline = time.time() + 240
        while len(stack.runs_of_file("sales.csv")) < 2 and time.time() < deadline:
            time.sleep(1)
        assert len(stack.runs_of_file("sales.csv")) == 2
