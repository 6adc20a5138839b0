"""Shared helpers for the PostgreSQL / deployment / load tests.

Nothing here is mocked: the helpers create real databases on the local
PostgreSQL server, start the real Dagster processes the compose file starts,
and talk to the webserver over plain HTTP.

Connection of the *test* server (not the deployment's own settings):
  DATATASKER_TEST_PG_HOST (127.0.0.1), DATATASKER_TEST_PG_PORT (5432),
  DATATASKER_TEST_PG_USER (postgres), DATATASKER_TEST_PG_PASSWORD ("").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from datatasker_tests.webserver_harness import DagsterStack, drop_atomically, executable, free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY_DIR = REPO_ROOT / "deploy"
DEPLOY_DAGSTER_YAML = DEPLOY_DIR / "dagster.yaml"
DEPLOY_WORKSPACE_YAML = DEPLOY_DIR / "workspace.yaml"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"

PG_HOST = os.environ.get("DATATASKER_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DATATASKER_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("DATATASKER_TEST_PG_USER", "postgres")
PG_PASSWORD = os.environ.get("DATATASKER_TEST_PG_PASSWORD", "")

OUTPUT_FILES = ("region_summary.csv", "anomalies.csv", "rejected_rows.csv", "cleaned.parquet")
JOB_NAME = "process_sales_file"
PARTITIONS_DEF_NAME = "sales_files"


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


def _connect(dbname: str = "postgres"):
    import psycopg2

    conn = psycopg2.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        password=PG_PASSWORD,
        dbname=dbname,
        connect_timeout=5,
    )
    conn.autocommit = True
    return conn


def server_problem() -> str | None:
    """None when the server answers, otherwise why it does not."""
    try:
        conn = _connect()
    except Exception as exc:  # psycopg2.OperationalError and friends
        return f"{type(exc).__name__}: {str(exc).strip()}"
    conn.close()
    return None


def require_postgres() -> None:
    """Skip (locally) or fail (CI set) when the test server is unreachable."""
    problem = server_problem()
    if problem is None:
        return
    where = f"PostgreSQL at {PG_HOST}:{PG_PORT} as {PG_USER!r}"
    if os.environ.get("CI"):
        pytest.fail(f"{where} is unreachable and CI is set, so this is a failure: {problem}")
    pytest.skip(f"{where} is unreachable (CI not set, so skipping): {problem}")


@contextlib.contextmanager
def fresh_database(prefix: str = "dt_test") -> Iterator[str]:
    """Create an empty database `<prefix>_<uuid>` and drop it afterwards."""
    require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex}"
    conn = _connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    try:
        yield name
    finally:
        conn = _connect()
        try:
            with conn.cursor() as cur:
                # FORCE (PostgreSQL 13+) ends connections a killed process left behind.
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


def database_exists(name: str) -> bool:
    conn = _connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


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
    out = data_dir / "outputs" / run_id
    return [name for name in OUTPUT_FILES if not (out / name).is_file()]


@contextlib.contextmanager
def running_deployment(base: Path, database_prefix: str = "dt_test"):
    """A fresh database and the three production processes over it; log tails on failure."""
    require_postgres()
    with fresh_database(database_prefix) as db_name:
        data_dir = base / "data"
        (data_dir / "incoming").mkdir(parents=True)
        dep = Deployment(base / "deploy", db_name, data_dir)
        try:
            dep.start(timeout=300)
            yield dep
        except BaseException:
            print(dep.all_log_tails())
            raise
        finally:
            dep.stop()
