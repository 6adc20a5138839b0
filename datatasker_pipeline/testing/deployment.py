"""The production processes (code server, webserver, daemon) over a temporary PostgreSQL database.

Nothing here is mocked: the helpers start the real Dagster processes the
compose file starts, over ``deploy/dagster.yaml``, and talk to the webserver
over plain HTTP.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..vocabulary import INCOMING_DIR, JOB_NAME, OUTPUT_FILE_NAMES, OUTPUTS_DIR
from .postgres import (
    PG_HOST,
    PG_PASSWORD,
    PG_PORT,
    PG_USER,
    fresh_database,
    require_postgres,
)
from .stack import REPO_ROOT, DagsterStack, executable, free_port

DEPLOY_DIR = REPO_ROOT / "deploy"
DEPLOY_DAGSTER_YAML = DEPLOY_DIR / "dagster.yaml"
DEPLOY_WORKSPACE_YAML = DEPLOY_DIR / "workspace.yaml"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


def deployment_pg_env(db_name: str) -> dict[str, str]:
    """The DAGSTER_PG_* variables deploy/dagster.yaml reads."""
    return {
        "DAGSTER_PG_USERNAME": PG_USER,
        "DAGSTER_PG_PASSWORD": PG_PASSWORD,
        "DAGSTER_PG_HOST": PG_HOST,
        "DAGSTER_PG_PORT": str(PG_PORT),
        "DAGSTER_PG_DB": db_name,
    }


def make_dagster_home(parent: Path) -> Path:
    """A DAGSTER_HOME holding the production dagster.yaml, byte for byte."""
    home = parent / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEPLOY_DAGSTER_YAML, home / "dagster.yaml")
    return home


def configured_max_concurrent_runs() -> int:
    import yaml

    cfg = yaml.safe_load(DEPLOY_DAGSTER_YAML.read_text())
    limit = (cfg.get("concurrency") or {}).get("runs", {}).get("max_concurrent_runs")
    if limit is None:
        limit = cfg["run_coordinator"]["config"]["max_concurrent_runs"]
    return int(limit)


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def sales_csv(seed: int, rows: int = 6) -> str:
    """A small valid sales file (plus one row the pipeline must reject)."""
    regions = ["north", "south", "east", "west"]
    lines = ["region,revenue,quantity,discount,note"]
    for i in range(rows):
        region = regions[(seed + i) % len(regions)]
        revenue = 100 + (seed * 7 + i * 13) % 900
        quantity = 1 + (seed + i) % 9
        discount = ((seed + i) % 5) / 10
        lines.append(f"{region},{revenue}.50,{quantity},{discount},row {i}")
    lines.append("north,not-a-number,3,0.1,bad row")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Processes: the same three the compose file starts
# --------------------------------------------------------------------------


class Deployment(DagsterStack):
    """Code server + webserver + daemon as plain processes (docker-compose.yml's
    user_code, webserver and daemon services), sharing one environment.

    Process handling, readiness, logs and GraphQL come from DagsterStack; what
    differs is the instance (deploy/dagster.yaml over PostgreSQL), the code
    server and the start order.
    """

    def __init__(
        self,
        workdir: Path,
        db_name: str,
        data_dir: Path,
        extra_env: Mapping[str, str] | None = None,
        module: str = "datatasker_pipeline.definitions",
    ):
        self.workdir = workdir
        self.module = module
        self.db_name = db_name
        self.data_dir = data_dir
        self.dagster_home = make_dagster_home(workdir)
        self.logs_dir = workdir / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.grpc_port = free_port()
        self.web_port = free_port()
        while self.web_port == self.grpc_port:
            self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs = []
        env = dict(os.environ)
        # The deployment's own DAGSTER_HOME / data root replace the caller's.
        env.update(deployment_pg_env(db_name))
        env.update(
            {
                "DAGSTER_HOME": str(self.dagster_home),
                "DATATASKER_DATA_DIR": str(data_dir),
                "DATATASKER_CODE_SERVER_HOST": "127.0.0.1",
                "DATATASKER_CODE_SERVER_PORT": str(self.grpc_port),
                "PYTHONUNBUFFERED": "1",
                # As in docker-compose.yml's x-dagster-env.
                "DAGSTER_GRPC_TIMEOUT_SECONDS": "180",
            }
        )
        env.update(extra_env or {})
        self.env = env

    # The commands are docker-compose.yml's `command:` lines with the
    # container host/ports replaced by local ones.
    def commands(self) -> dict[str, list[str]]:
        workspace = str(DEPLOY_WORKSPACE_YAML)
        return {
            "user_code": [
                executable("dagster"), "code-server", "start",
                "-h", "127.0.0.1", "-p", str(self.grpc_port),
                "-m", self.module,
            ],
            "webserver": [
                executable("dagster-webserver"),
                "-h", "127.0.0.1", "-p", str(self.web_port),
                "-w", workspace,
            ],
            "daemon": [executable("dagster-daemon"), "run", "-w", workspace],
        }

    def start(self, timeout: float = 240.0) -> None:
        self._trap_sigterm()
        cmds = self.commands()
        # Same order as the compose depends_on chain: code server healthy first.
        self._spawn("user_code", cmds["user_code"])
        self.wait_for_code_server(timeout)
        self._spawn("webserver", cmds["webserver"])
        self._spawn("daemon", cmds["daemon"])
        self.wait_for_webserver(timeout)

    def wait_for_code_server(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            res = subprocess.run(
                [executable("dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(self.grpc_port)],
                env=self.env,
                capture_output=True,
                timeout=60,
            )
            if res.returncode == 0:
                return
            time.sleep(2)
        raise AssertionError(f"code server not healthy after {timeout}s:\n{self.log_tail('user_code')}")

    _previous_sigterm = None

    def _trap_sigterm(self) -> None:
        """A SIGTERM to pytest (e.g. `timeout 900 pytest`) would skip every
        finally block and orphan the processes, which live in their own
        sessions: turn it into SystemExit so stop() still runs."""
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

            def _raise(signum, frame):
                raise SystemExit(128 + signum)

            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise)

    def stop(self) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None
        super().stop()

    # ------------------------------------------------------------------
    # GraphQL over plain HTTP
    # ------------------------------------------------------------------

    def runs(self, limit: int = 1000) -> list[dict]:
        data = self.graphql(RUNS_QUERY, {"limit": limit, "jobName": JOB_NAME})
        result = data["runsOrError"]
        if result["__typename"] != "Runs":
            raise AssertionError(f"runsOrError returned {result}")
        runs = result["results"]
        for run in runs:
            run["tagmap"] = {t["key"]: t["value"] for t in run["tags"]}
        return runs


RUNS_QUERY = """
query DataTaskerRuns($limit: Int, $jobName: String) {
  runsOrError(filter: {pipelineName: $jobName}, limit: $limit) {
    __typename
    ... on Runs {
      results {
        runId
        status
        jobName
        startTime
        endTime
        updateTime
        tags { key value }
      }
    }
    ... on PythonError { message stack }
    ... on InvalidPipelineRunsFilterError { message }
  }
}
"""

IN_PROGRESS = {"STARTING", "STARTED", "CANCELING"}
TERMINAL_BAD = {"FAILURE", "CANCELED"}


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Largest number of [start, end] intervals open at one instant; an end
    at the same instant as a start is counted first (slot freed, then reused)."""
    events = []
    for start, end in intervals:
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    cur = best = 0
    for _, delta in events:
        cur += delta
        best = max(best, cur)
    return best


def missing_outputs(data_dir: Path, run_id: str) -> list[str]:
    out = data_dir / OUTPUTS_DIR / run_id
    return [name for name in OUTPUT_FILE_NAMES if not (out / name).is_file()]


@contextlib.contextmanager
def started(dep: DagsterStack) -> Iterator[DagsterStack]:
    """Start a deployment's processes and stop them afterwards; their log tails when anything fails."""
    try:
        dep.start(timeout=300)
        yield dep
    except BaseException:
        print(dep.all_log_tails())
        raise
    finally:
        dep.stop()


@contextlib.contextmanager
def running_deployment(base: Path, database_prefix: str = "dt_test"):
    """A fresh database and the three production processes over it; log tails on failure."""
    require_postgres()
    with fresh_database(database_prefix) as db_name:
        data_dir = base / "data"
        (data_dir / INCOMING_DIR).mkdir(parents=True)
        with started(Deployment(base / "deploy", db_name, data_dir)) as dep:
            yield dep
