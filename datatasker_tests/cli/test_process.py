"""The real `datatasker` and `dagster` commands, run as subprocesses the way people run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datatasker_pipeline.testing.host import executable
from datatasker_pipeline.testing.stack import REPO_ROOT

GOOD = "region,revenue,quantity,discount\nEast,10,2,0.1\nWest,n/a,1,0\n"
BAD = "region,product,revenue,quantity\nEast,x,1,1\n"


@pytest.fixture
def env(tmp_path):
    home, data = tmp_path / "dagster_home", tmp_path / "data"
    home.mkdir()
    return {**os.environ, "DAGSTER_HOME": str(home), "DATATASKER_DATA_DIR": str(data)}


def datatasker(env, *args, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "datatasker_pipeline.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / "elsewhere" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(content)
    return path


def test_process_json_success(tmp_path, env):
    source = write(tmp_path, "sales.csv", GOOD)
    done = datatasker(env, "process", str(source), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCESS" and result["error"] is None
    assert (result["rows_read"], result["rows_clean"], result["rows_rejected"], result["anomalies"]) == (2, 1, 1, 0)
    run_folder = Path(env["DATATASKER_DATA_DIR"]) / "outputs" / result["run_id"]
    assert set(result["outputs"]) == {"region_summary", "anomalies", "rejected_rows", "cleaned"}
    for path in result["outputs"].values():
        assert Path(path).is_absolute() and Path(path).parent == run_folder and Path(path).is_file()
    # copied once into the data root, where processed files live: the run's raw folder
    assert (Path(env["DATATASKER_DATA_DIR"]) / "raw" / result["run_id"] / "sales.csv").read_text() == GOOD
    assert not (Path(env["DATATASKER_DATA_DIR"]) / "incoming" / "sales.csv").exists()
    assert source.read_text() == GOOD  # the original is left alone


def test_process_json_failure_exit_1_with_the_message(tmp_path, env):
    done = datatasker(env, "process", str(write(tmp_path, "bad.csv", BAD)), "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "FAILURE" and result["run_id"]
    assert result["error"] == "missing required column(s): discount; found: region, product, revenue, quantity"
    assert not (Path(env["DATATASKER_DATA_DIR"]) / "outputs" / result["run_id"]).exists()


def test_config_overrides_the_sidecar(tmp_path, env):
    source = write(tmp_path, "opts.csv", "region;revenue;quantity;discount\nEast;10;2;\n")
    (source.parent / "opts.csv.json").write_text(json.dumps({"delimiter": ";", "fill_missing": {"discount": "x"}}))
    done = datatasker(env, "process", str(source), "--json", "--config", json.dumps({"fill_missing": {"discount": 0}}))
    result = json.loads(done.stdout)
    assert done.returncode == 0, result
    assert (result["rows_clean"], result["rows_rejected"]) == (1, 0)


def test_bad_option_fails_the_file_not_the_usage(tmp_path, env):
    done = datatasker(env, "process", str(write(tmp_path, "k.csv", GOOD)), "--json", "--config", '{"anomaly_k": "high"}')
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"] == 'option anomaly_k must be a number >= 0, got "high"'


@pytest.mark.parametrize(
    "args",
    [["process"], ["process", "/no/such/file.csv"], ["process", "{file}", "--config", "{not json"],
     ["process", "{file}", "--config", "[1]"], ["frobnicate"]],
)
def test_bad_usage_exits_2(tmp_path, env, args):
    source = write(tmp_path, "u.csv", GOOD)
    done = datatasker(env, *[a.replace("{file}", str(source)) for a in args])
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip()


def test_human_output(tmp_path, env):
    done = datatasker(env, "process", str(write(tmp_path, "h.csv", GOOD)))
    assert done.returncode == 0
    assert "SUCCESS" in done.stdout and "1 rejected (missing_value 1)" in done.stdout


def test_register_then_plain_dagster_asset_materialize(tmp_path, env):
    """The documented dagster CLI path: the partition must exist before `--partition` (dagster#15499)."""
    source = write(tmp_path, "plain.csv", GOOD)
    registered = datatasker(env, "register", str(source))
    assert registered.returncode == 0, registered.stderr
    key = registered.stdout.strip()
    assert key == "plain.csv"
    done = subprocess.run(
        [executable("dagster"), "asset", "materialize", "-m", "datatasker_pipeline.definitions", "--select", "*",
         "--partition", key],
        env=env, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = list((Path(env["DATATASKER_DATA_DIR"]) / "outputs").iterdir())
    assert len(runs) == 1 and (runs[0] / "region_summary.csv").read_text().startswith("region,row_count")
