"""A real Dagster webserver (and optionally the daemon) over temporary folders.

    from datatasker_pipeline.testing.stack import DagsterStack

    with DagsterStack(tmp_path, daemon=True) as stack:   # waits for /server_info
        stack.graphql("{ version }")
        (stack.incoming / "a.csv").write_text(...)
        subprocess.run([..., "--url", stack.url], env=stack.env)

Each stack gets its own ``DAGSTER_HOME`` (a copy of the project's SQLite
``dagster_home/dagster.yaml``), its own data root (``DATATASKER_DATA_DIR``
with ``incoming/`` and ``outputs/``) and a free port. The processes run in
their own process groups, so teardown kills them together with whatever they
started (code-location servers, run workers). Logs are kept in
``<base>/logs/`` and their tails are shown when start-up fails.

The machine running the tests may be slow and shared: Dagster processes take
5-20 s to start, so every wait here is generous and bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from ..locations import project_root
from ..vocabulary import (
    CODE_LOCATION,
    DAGSTER_HOME_ENV,
    DATA_DIR_ENV,
    FILE_NAME_TAG,
    FINISHED_STATUSES,
    INCOMING_DIR,
    OUTPUTS_DIR,
    RAW_ASSET,
    URL_ENV,
)
from .host import executable, free_port

REPO_ROOT = project_root()
PROJECT_DAGSTER_YAML = REPO_ROOT / "dagster_home" / "dagster.yaml"
PROJECT_WORKSPACE_YAML = REPO_ROOT / "workspace.yaml"
RUNS_OF_FILE_QUERY = """
query RunsOfFile($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) {
    ... on Runs { results { runId status jobName creationTime startTime endTime tags { key value } } }
  }
}
"""


class StackError(AssertionError):
    """The stack did not come up (or died); the message carries the log tails."""


class DagsterStack:
    """``dagster-webserver`` (+ ``dagster-daemon run``) over a temporary instance and data root."""

    def __init__(
        self,
        base_dir: Path,
        *,
        daemon: bool = True,
        data_dir: Path | None = None,
        dagster_yaml: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        hide_community_popup: bool = True,
    ):
        self.base_dir = Path(base_dir)
        self.with_daemon = daemon
        self.dagster_home = self.base_dir / "dagster_home"
        self.data_dir = Path(data_dir) if data_dir else self.base_dir / "data"
        self.logs_dir = self.base_dir / "logs"
        for folder in (self.dagster_home, self.logs_dir, self.data_dir / INCOMING_DIR, self.data_dir / OUTPUTS_DIR):
            folder.mkdir(parents=True, exist_ok=True)
        (self.dagster_home / "dagster.yaml").write_text(
            dagster_yaml if dagster_yaml is not None else PROJECT_DAGSTER_YAML.read_text()
        )
        if hide_community_popup:
            # The UI greets a new localhost instance with a "Join the Dagster community"
            # dialog over the page; this is the file its "Skip" button writes.
            (self.dagster_home / ".nux").mkdir(exist_ok=True)
            (self.dagster_home / ".nux" / "nux.yaml").write_text("seen: 1\n")
        self.host = host
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        env = dict(os.environ)
        env.pop(URL_ENV, None)
        env.update(
            {
                DAGSTER_HOME_ENV: str(self.dagster_home),
                DATA_DIR_ENV: str(self.data_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra_env or {})
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: list[Any] = []

    # -- paths ---------------------------------------------------------------
    @property
    def incoming(self) -> Path:
        return self.data_dir / INCOMING_DIR

    @property
    def outputs(self) -> Path:
        return self.data_dir / OUTPUTS_DIR

    def client_env(self) -> dict[str, str]:
        """Environment for a client process talking to this stack."""
        env = dict(self.env)
        env[URL_ENV] = self.url
        return env

    # -- lifecycle -----------------------------------------------------------
    def commands(self) -> dict[str, list[str]]:
        workspace = str(PROJECT_WORKSPACE_YAML)
        commands = {
            "webserver": [executable("dagster-webserver"), "-h", self.host, "-p", str(self.port), "-w", workspace],
        }
        if self.with_daemon:
            commands["daemon"] = [executable("dagster-daemon"), "run", "-w", workspace]
        return commands

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.logs_dir / f"{name}.log", "ab")
        self._logs.append(log)
        self.procs[name] = subprocess.Popen(
            command,
            cwd=str(REPO_ROOT),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one at teardown
        )

    def create_storage(self) -> None:
        """Create the instance's SQLite databases before any process starts.

        Webserver, daemon and code server opening a fresh DAGSTER_HOME at once
        race to create the schema (seen here: "Version table 'alembic_version'
        has more than one head present").
        """
        import dagster as dg

        with dg.DagsterInstance.from_config(str(self.dagster_home)) as instance:
            instance.get_runs(limit=1)
            instance.all_instigator_state()
            instance.get_latest_materialization_event(dg.AssetKey(RAW_ASSET))

    def start(self, timeout: float = 300.0, wait_for_daemon: bool = True) -> "DagsterStack":
        self.create_storage()
        try:
            for name, command in self.commands().items():
                self._spawn(name, command)
            self.wait_for_webserver(timeout)
            self.wait_for_location(timeout)
            if self.with_daemon and wait_for_daemon:
                self.wait_for_daemon(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        # Anything left in the groups (gRPC code servers, run workers) goes hard.
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        for log in self._logs:
            log.close()
        self._logs.clear()

    def __enter__(self) -> "DagsterStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise StackError(f"{name} exited with code {proc.returncode}; log tail:\n{self.log_tail(name)}")

    # -- readiness -----------------------------------------------------------
    def _poll(self, what: str, timeout: float, probe: Callable[[], tuple[Any, Any]], interval: float = 1.0) -> Any:
        """Call ``probe() -> (result or None, what was seen)`` until it gives a result, or fail with the logs."""
        deadline = time.monotonic() + timeout
        seen: Any = "no answer yet"
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                result, seen = probe()
            except StackError:
                raise
            except Exception as error:  # not up yet: connection refused, a 5xx, a half-started server
                result, seen = None, repr(error)
            if result is not None:
                return result
            time.sleep(interval)
        raise StackError(f"{what} after {timeout:.0f} s ({seen}):\n{self.all_log_tails()}")

    def wait_for_webserver(self, timeout: float) -> dict:
        import requests

        def probe():
            response = requests.get(f"{self.url}/server_info", timeout=5)
            return (response.json() if response.status_code == 200 else None), f"HTTP {response.status_code}"

        return self._poll("webserver not up", timeout, probe)

    def wait_for_location(self, timeout: float) -> None:
        """The code location is loaded and has the job (not a load error)."""
        query = """
        { workspaceOrError { __typename ... on Workspace { locationEntries {
            name loadStatus
            locationOrLoadError { __typename ... on PythonError { message } }
        } } } }"""

        def probe():
            entries = self.graphql(query, timeout=30)["workspaceOrError"].get("locationEntries") or []
            for entry in entries:
                loaded = entry["locationOrLoadError"] or {}
                if entry["name"] == CODE_LOCATION and entry["loadStatus"] == "LOADED":
                    if loaded.get("__typename") == "PythonError":
                        raise StackError(f"code location failed to load: {loaded['message']}")
                    return True, entries
            return None, entries

        self._poll("code location not loaded", timeout, probe)

    def wait_for_daemon(self, timeout: float) -> None:
        """The daemon's sensor and run-queue loops have sent a heartbeat."""
        query = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"

        def probe():
            statuses = self.graphql(query, timeout=30)["instance"]["daemonHealth"]["allDaemonStatuses"]
            healthy = {s["daemonType"] for s in statuses if s["healthy"]}
            return ({"SENSOR", "QUEUED_RUN_COORDINATOR"} <= healthy or None), statuses

        self._poll("daemon not healthy", timeout, probe, interval=2.0)

    # -- GraphQL ---------------------------------------------------------------
    def graphql(self, query: str, variables: Mapping | None = None, timeout: float = 60) -> dict:
        import requests

        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=timeout
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def runs_of_file(self, file_name: str) -> list[dict]:
        """Runs tagged with this dropped file's name, newest first."""
        tags = [{"key": FILE_NAME_TAG, "value": file_name}]
        return self.graphql(RUNS_OF_FILE_QUERY, {"tags": tags})["runsOrError"]["results"]

    def wait_for_finished_run(self, file_name: str, timeout: float = 240) -> dict:
        """The newest finished run of this dropped file, once there is one."""
        finished = lambda: next((r for r in self.runs_of_file(file_name) if r["status"] in FINISHED_STATUSES), None)  # noqa: E731
        return self._poll(f"no finished run for {file_name}", timeout, lambda: (finished(), "not finished"))

    # -- logs ------------------------------------------------------------------
    def log_tail(self, name: str, chars: int = 6000) -> str:
        path = self.logs_dir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return path.read_bytes()[-chars:].decode("utf-8", "replace")

    def all_log_tails(self, chars: int = 6000) -> str:
        return "\n".join(f"===== {name} =====\n{self.log_tail(name, chars)}" for name in self.commands())
