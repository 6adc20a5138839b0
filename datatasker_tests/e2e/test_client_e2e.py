"""The client commands against a real webserver + daemon, over a temporary instance.

One stack (``dagster-webserver`` and ``dagster-daemon run`` on a free port,
temporary ``DAGSTER_HOME`` and ``DATATASKER_DATA_DIR``) serves the whole
module. The CLI runs as a separate process, exactly as a user types it, and
talks to the stack only over HTTP; the test checks what it prints, its exit
status and the files it leaves.

Also here: the raw GraphQL flow the README shows (``addDynamicPartition``,
``launchRun`` with run config, polling ``runOrError``), done with ``requests``.

Run alone with ``uv run pytest -m e2e datatasker_tests/test_client_e2e.py``.
Dagster processes start slowly on a small shared machine: waits are long,
every one bounded.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from datatasker_pipeline.testing.host import free_port
from datatasker_pipeline.testing.stack import (
    PROJECT_DAGSTER_YAML,
    REPO_ROOT,
    DagsterStack,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HOLD_TAG = "datatasker-test/hold"  # runs with this tag stay queued: the stack's queue allows 0 of them
MISSING_DISCOUNT = "missing required column(s): discount; found: region, product, revenue, quantity"

GOOD_CSV = (
    "region,revenue,quantity,discount,product\n"
    "East,100,2,0.1,Widget\n"
    "West,50,1,0,Gadget\n"
    "East,30,3,0.2,Widget\n"
    "North,999,1,0,Gizmo\n"
    "South,1,1,0,Gizmo\n"
    "South,abc,1,0,Gizmo\n"  # rejected: not_a_number
)
BAD_CSV = "region,product,revenue,quantity\nEast,Widget,100,2\n"

SUBMIT_TIMEOUT = "240"  # seconds for the sensor to launch the run
WAIT_TIMEOUT = "600"


def _dagster_yaml() -> str:
    config = yaml.safe_load(PROJECT_DAGSTER_YAML.read_text())
    config.setdefault("run_queue", {})["tag_concurrency_limits"] = [{"key": HOLD_TAG, "limit": 0}]
    return yaml.safe_dump(config)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("client_e2e")
    deployment = DagsterStack(base, daemon=True, dagster_yaml=_dagster_yaml())
    deployment.start(timeout=400)
    try:
        yield deployment
    except BaseException:
        print(deployment.all_log_tails())
        raise
    finally:
        deployment.stop()


def cli(stack: DagsterStack | None, *args: str, url: str | None = None, timeout: float = 900, env=None):
    """``datatasker ARGS`` as a separate process; stdout/stderr as text."""
    run_env = dict(env or (stack.client_env() if stack else os.environ))
    if url:
        run_env["DATATASKER_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "datatasker_pipeline.cli", *args],
        cwd=str(REPO_ROOT),
        env=run_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _explain(result: subprocess.CompletedProcess, stack: DagsterStack | None = None) -> str:
    text = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    if stack is not None:
        text += "\n" + stack.all_log_tails(3000)
    return text


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def good_run(stack, tmp_path_factory):
    """``submit --wait`` of a good file with --config: the run every read-only test below looks at."""
    client_dir = tmp_path_factory.mktemp("client_side")
    source = _write(client_dir, "good_sales.csv", GOOD_CSV)
    result = cli(stack, "submit", str(source), "--config", '{"anomaly_k": 1}', "--wait",
                 "--timeout", SUBMIT_TIMEOUT, "--wait-timeout", WAIT_TIMEOUT)
    assert result.returncode == 0, _explain(result, stack)
    run_id = result.stdout.splitlines()[0]
    assert UUID.match(run_id), _explain(result)
    return {"run_id": run_id, "source": source, "submit": result}


# ---------------------------------------------------------------------------
# submit, status, results on a good file
# ---------------------------------------------------------------------------


def test_submit_wait_drops_atomically_and_follows_the_run(stack, good_run):
    result = good_run["submit"]
    run_id = good_run["run_id"]
    # stdout: the run ID first, then the final status.
    assert f"run {run_id}: SUCCESS" in result.stdout
    assert "6 read, 5 clean, 1 rejected (not_a_number 1)" in result.stdout
    # Not a terminal: one plain progress line per change, ending with all four steps.
    progress = [line for line in result.stderr.splitlines() if line.startswith(f"run {run_id}:")]
    assert progress, result.stderr
    assert "\r" not in result.stderr
    assert progress[-1].startswith(f"run {run_id}: SUCCESS, 4/4 steps done")
    # The file and its sidecar (--config) went through incoming/ into the run's raw folder; no partial left.
    raw = stack.data_dir / "raw" / run_id
    assert not [p.name for p in stack.incoming.iterdir() if p.name.startswith(("good_sales", "."))]
    assert json.loads((raw / "good_sales.csv.json").read_text()) == {"anomaly_k": 1}
    assert (raw / "good_sales.csv").read_text() == GOOD_CSV
    # Outputs under outputs/<run_id>/.
    assert sorted(p.name for p in (stack.outputs / run_id).iterdir()) == [
        "anomalies.csv", "cleaned.parquet", "region_summary.csv", "rejected_rows.csv",
    ]


def test_status_reports_times_file_counts(stack, good_run):
    run_id = good_run["run_id"]
    result = cli(stack, "status", run_id, "--json")
    assert result.returncode == 0, _explain(result)
    status = json.loads(result.stdout)
    assert status["run_id"] == run_id
    assert status["status"] == "SUCCESS"
    assert status["file_name"] == status["partition"] == "good_sales.csv"
    assert (status["rows_read"], status["rows_clean"], status["rows_rejected"]) == (6, 5, 1)
    assert status["rejected_by_reason"]["not_a_number"] == 1
    assert status["anomalies"] == 1  # North at k=1 (the sidecar from --config applied)
    assert status["started_at"] and status["ended_at"] and status["duration_seconds"] > 0
    assert status["steps_done"] == 4 and status["error"] is None

    human = cli(stack, "status", run_id)
    assert human.returncode == 0
    assert human.stdout.splitlines()[0] == f"run {run_id}: SUCCESS"
    assert "file:      good_sales.csv" in human.stdout
    assert f"{stack.url}/runs/{run_id}" in human.stdout


def test_results_copies_the_four_files_and_prints_the_table(stack, good_run, tmp_path):
    run_id = good_run["run_id"]
    out = tmp_path / "results"
    result = cli(stack, "results", run_id, "--out", str(out))
    assert result.returncode == 0, _explain(result)
    assert sorted(p.name for p in out.iterdir()) == [
        "anomalies.csv", "cleaned.parquet", "region_summary.csv", "rejected_rows.csv",
    ]
    for name in ("region_summary.csv", "anomalies.csv", "rejected_rows.csv", "cleaned.parquet"):
        assert (out / name).read_bytes() == (stack.outputs / run_id / name).read_bytes()
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("region "))
    assert lines[header].split() == ["region", "row_count", "revenue_sum", "revenue_mean", "quantity_sum", "discount_mean"]
    table = lines[header + 2: header + 6]
    assert [row.split()[0] for row in table] == ["East", "North", "South", "West"]
    assert table[0].split()[1:3] == ["2", "130.00"]
    assert len({len(line) for line in lines[header: header + 6]}) == 1, "columns are aligned"
    with (out / "region_summary.csv").open(newline="", encoding="utf-8") as handle:
        assert [r["region"] for r in csv.DictReader(handle)] == ["East", "North", "South", "West"]

    as_json = cli(stack, "results", run_id, "--json")
    assert as_json.returncode == 0, _explain(as_json)
    payload = json.loads(as_json.stdout)
    assert payload["outputs"]["region_summary"] == str(stack.outputs / run_id / "region_summary.csv")
    assert set(payload["outputs"]) == {"region_summary", "anomalies", "rejected_rows", "cleaned"}
    assert [r["region"] for r in payload["region_summary"]] == ["East", "North", "South", "West"]
    assert payload["anomalies"] == 1


def test_resubmitting_the_same_bytes_gives_the_same_run(stack, good_run):
    result = cli(stack, "submit", str(good_run["source"]), "--config", '{"anomaly_k": 1}', "--timeout", "60")
    assert result.returncode == 0, _explain(result)
    assert result.stdout.strip() == good_run["run_id"]
    assert "processed before" in result.stderr


# ---------------------------------------------------------------------------
# A file that fails
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def failed_run(stack, tmp_path_factory):
    source = _write(tmp_path_factory.mktemp("client_bad"), "no_discount.csv", BAD_CSV)
    result = cli(stack, "submit", str(source), "--wait", "--json",
                 "--timeout", SUBMIT_TIMEOUT, "--wait-timeout", WAIT_TIMEOUT)
    return result


def test_failed_file_gives_the_persons_message_everywhere(stack, failed_run):
    result = failed_run
    assert result.returncode == 1, _explain(result, stack)
    payload = json.loads(result.stdout)
    assert payload["status"] == "FAILURE"
    assert payload["error"] == MISSING_DISCOUNT
    run_id = payload["run_id"]

    status = cli(stack, "status", run_id)
    assert status.returncode == 1, _explain(status)
    assert f"error:     {MISSING_DISCOUNT}" in status.stdout
    assert "dagster._core" not in status.stdout and "Traceback" not in status.stdout

    status_json = json.loads(cli(stack, "status", run_id, "--json").stdout)
    assert status_json["error"] == MISSING_DISCOUNT

    results = cli(stack, "results", run_id)
    assert results.returncode == 1
    assert results.stderr.strip() == f"datatasker: run {run_id} failed: {MISSING_DISCOUNT}"
    assert not (stack.outputs / run_id / "region_summary.csv").exists()


# ---------------------------------------------------------------------------
# Error cases: each a one-line message and its own exit status
# ---------------------------------------------------------------------------


def test_unknown_run_id_exits_4(stack):
    for command in ("status", "results"):
        result = cli(stack, command, "00000000-0000-0000-0000-000000000000")
        assert result.returncode == 4, _explain(result)
        assert result.stdout == ""
        assert result.stderr.strip() == f"datatasker: no run with ID 00000000-0000-0000-0000-000000000000 on {stack.url}"


def test_webserver_down_exits_3_and_drops_nothing(stack, tmp_path):
    nobody = f"http://127.0.0.1:{free_port()}"
    source = _write(tmp_path, "never_sent.csv", GOOD_CSV)
    for args in (("status", "abc"), ("results", "abc"), ("submit", str(source))):
        result = cli(stack, *args, url=nobody, timeout=120)
        assert result.returncode == 3, _explain(result)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "not answering" in lines[0] and nobody in lines[0], lines
    assert not (stack.incoming / "never_sent.csv").exists()


def test_run_still_going_exits_5(stack, good_run):
    """A run held in the queue (the stack's queue admits no run with HOLD_TAG) is 'still going'."""
    where = _repository(stack)
    launched = stack.graphql(
        LAUNCH_RUN,
        {"executionParams": {
            "selector": {**where, "jobName": "process_sales_file"},
            "executionMetadata": {"tags": [
                {"key": "dagster/partition", "value": "good_sales.csv"},
                {"key": HOLD_TAG, "value": "1"},
            ]},
        }},
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    result = cli(stack, "results", run_id)
    assert result.returncode == 5, _explain(result)
    assert result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line and "still QUEUED" in line and run_id in line

    status = cli(stack, "status", run_id, "--json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["status"] == "QUEUED"


def test_submit_times_out_when_no_sensor_watches_the_folder(stack, tmp_path):
    unwatched = tmp_path / "elsewhere"
    unwatched.mkdir()
    source = _write(tmp_path / "src", "lonely.csv", GOOD_CSV + "East,1,1,0,x\n")
    result = cli(stack, "submit", str(source), "--data-dir", str(unwatched), "--timeout", "3")
    assert result.returncode == 4, _explain(result)
    assert "no run appeared within 3 s" in result.stderr
    assert (unwatched / "incoming" / "lonely.csv").exists()


def test_bad_usage_exits_2(stack, tmp_path):
    source = _write(tmp_path, "x.csv", GOOD_CSV)
    result = cli(stack, "submit", str(source), "--config", "{not json")
    assert result.returncode == 2 and "--config is not valid JSON" in result.stderr
    result = cli(stack, "submit", str(tmp_path / "absent.csv"))
    assert result.returncode == 2 and "no such file" in result.stderr


# ---------------------------------------------------------------------------
# Remote mode and the README's raw GraphQL
# ---------------------------------------------------------------------------

REPOSITORIES = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } jobs { name } } } } }"

ADD_PARTITION = """
mutation AddPartition($selector: RepositorySelector!, $key: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: "sales_files", partitionKey: $key) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionKey }
    ... on DuplicateDynamicPartitionError { partitionName }
    ... on PythonError { message }
  }
}"""

LAUNCH_RUN = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
  }
}"""

RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      status
      assetMaterializations { assetKey { path } metadataEntries {
        label
        ... on IntMetadataEntry { intValue }
        ... on FloatMetadataEntry { floatValue }
        ... on JsonMetadataEntry { jsonString }
        ... on PathMetadataEntry { path }
      } }
    }
    ... on RunNotFoundError { message }
  }
}"""


def _copy_with_sidecar(stack: DagsterStack, good_run_id: str, name: str) -> None:
    """The good run's file and sidecar (from its raw folder) dropped under a new name.

    The sensor may launch its own run for it too; whichever run starts first
    takes the file, and the other reads that run's raw copy of the same bytes.
    """
    raw = stack.data_dir / "raw" / good_run_id
    shutil.copyfile(raw / "good_sales.csv.json", stack.incoming / f"{name}.json")
    shutil.copyfile(raw / "good_sales.csv", stack.incoming / f".{name}.part")
    (stack.incoming / f".{name}.part").rename(stack.incoming / name)


def _repository(stack: DagsterStack) -> dict:
    nodes = stack.graphql(REPOSITORIES)["repositoriesOrError"]["nodes"]
    node = next(n for n in nodes if any(j["name"] == "process_sales_file" for j in n["jobs"]))
    return {"repositoryLocationName": node["location"]["name"], "repositoryName": node["name"]}


def _poll_run(url: str, run_id: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.post(f"{url}/graphql", json={"query": RUN_STATUS, "variables": {"runId": run_id}}, timeout=60).json()
        run = body["data"]["runOrError"]
        if run.get("status") in ("SUCCESS", "FAILURE", "CANCELED"):
            return run
        time.sleep(2)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s")


def _metadata(run: dict, asset: str) -> dict:
    for event in run["assetMaterializations"]:
        if event["assetKey"]["path"] == [asset]:
            values = {}
            for entry in event["metadataEntries"]:
                for key in ("intValue", "floatValue", "path"):
                    if key in entry:
                        values[entry["label"]] = entry[key]
                if "jsonString" in entry:
                    values[entry["label"]] = json.loads(entry["jsonString"])
            return values
    raise AssertionError(f"no materialization of {asset}")


def test_readme_raw_graphql_flow(stack, good_run):
    """addDynamicPartition + launchRun with run config + poll runOrError, with plain requests.

    The file (and sidecar) are the good run's under a new name; the run
    config's anomaly_k 3 overrides the sidecar's 1.
    """
    _copy_with_sidecar(stack, good_run["run_id"], "graphql_flow.csv")
    url = stack.url
    selector = _repository(stack)

    def gql(query, variables):
        response = requests.post(f"{url}/graphql", json={"query": query, "variables": variables}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    added = gql(ADD_PARTITION, {"selector": selector, "key": "graphql_flow.csv"})["addDynamicPartition"]
    assert added == {"__typename": "AddDynamicPartitionSuccess", "partitionKey": "graphql_flow.csv"}
    again = gql(ADD_PARTITION, {"selector": selector, "key": "graphql_flow.csv"})["addDynamicPartition"]
    assert again["__typename"] == "DuplicateDynamicPartitionError"

    launched = gql(LAUNCH_RUN, {"executionParams": {
        "selector": {**selector, "jobName": "process_sales_file"},
        "runConfigData": {"ops": {"cleaned_sales": {"config": {"anomaly_k": 3}}}},
        "executionMetadata": {"tags": [
            {"key": "dagster/partition", "value": "graphql_flow.csv"},
            {"key": "datatasker/file_name", "value": "graphql_flow.csv"},
        ]},
    }})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    run = _poll_run(url, run_id)
    assert run["status"] == "SUCCESS", cli(stack, "status", run_id).stdout
    cleaned = _metadata(run, "cleaned_sales")
    assert cleaned["options"]["anomaly_k"] == 3  # the run config reached the asset
    assert cleaned["rows_read"] == 6
    assert _metadata(run, "anomaly_report")["anomalies"] == 0  # none above mean + 3 std
    assert Path(_metadata(run, "region_summary")["region_summary_csv"]).parent == stack.outputs / run_id

    # The client reads the same run.
    status = json.loads(cli(stack, "status", run_id, "--json").stdout)
    assert status["partition"] == "graphql_flow.csv" and status["status"] == "SUCCESS"


def test_submit_remote_launches_by_partition(stack, good_run):
    """--remote: the file is already in the deployment's incoming folder; launch it by partition key."""
    _copy_with_sidecar(stack, good_run["run_id"], "remote_copy.csv")
    result = cli(stack, "submit", "remote_copy.csv", "--remote", "--config", '{"anomaly_k": 0.5}', "--wait",
                 "--wait-timeout", WAIT_TIMEOUT)
    assert result.returncode == 0, _explain(result, stack)
    run_id = result.stdout.splitlines()[0]
    assert UUID.match(run_id)
    status = json.loads(cli(stack, "status", run_id, "--json").stdout)
    assert status["partition"] == status["file_name"] == "remote_copy.csv"
    assert status["status"] == "SUCCESS"

    bad = cli(stack, "submit", "x.csv", "--remote", "--config", '{"anomaly_k": "high"}', "--wait",
              "--wait-timeout", WAIT_TIMEOUT)
    assert bad.returncode == 1, _explain(bad)
    # Either the file is missing (it is) or the option is wrong: a person's message, not a traceback.
    assert "Traceback" not in bad.stdout + bad.stderr
    assert "error:" in bad.stdout
