"""A real Dagster webserver (and optionally the daemon) for tests, over temporary folders.

    from datatasker_tests.webserver_harness import DagsterStack

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
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT_DAGSTER_YAML = REPO_ROOT / "dagster_home" / "dagster.yaml"
PROJECT_WORKSPACE_YAML = REPO_ROOT / "workspace.yaml"
LOCATION_NAME = "datatasker"
JOB_NAME = "process_sales_file"
FINISHED = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
RUNS_OF_FILE_QUERY = """
query RunsOfFile($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) {
    ... on Runs { results { runId status jobName creationTime startTime endTime tags { key value } } }
  }
}
"""


def free_port() -> int:
    """A TCP port nothing listens on right now (also handy for "webserver down" tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def executable(name: str) -> str:
    """An entry point of the interpreter's own environment (the uv venv), else from PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"cannot find the {name!r} executable next to {sys.executable} or on PATH")
    return found


def drop_atomically(incoming: Path, name: str, content: str | bytes | Path) -> Path:
    """Write ``<name>.part``, then rename it to ``name``: the sensor never sees half a file."""
    incoming.mkdir(parents=True, exist_ok=True)
    partial = incoming / f"{name}.part"
    if isinstance(content, Path):
        shutil.copyfile(content, partial)
    else:
        partial.write_bytes(content.encode() if isinstance(content, str) else content)
    final = incoming / name
    os.replace(partial, final)
    return final


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
        for folder in (self.dagster_home, self.logs_dir, self.data_dir / "incoming", self.data_dir / "outputs"):
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
        env.pop("DATATASKER_URL", None)
        env.update(
            {
                "DAGSTER_HOME": str(self.dagster_home),
                "DATATASKER_DATA_DIR": str(self.data_dir),
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
        return self.data_dir / "incoming"

    @property
    def outputs(self) -> Path:
        return self.data_dir / "outputs"

    def client_env(self) -> dict[str, str]:
        """Environment for a client process talking to this stack."""
        env = dict(self.env)
        env["DATATASKER_URL"] = self.url
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
            instance.get_latest_materialization_event(dg.AssetKey("raw_csv"))

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
    def wait_for_webserver(self, timeout: float) -> dict:
        import requests

        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                response = requests.get(f"{self.url}/server_info", timeout=5)
                if response.status_code == 200:
                    return response.json()
                last = f"HTTP {response.status_code}"
            except requests.RequestException as error:
                last = repr(error)
            time.sleep(1)
        raise StackError(f"webserver not up after {timeout:.0f} s ({last}):\n{self.all_log_tails()}")

    def wait_for_location(self, timeout: float) -> None:
        """The code location is loaded and has the job (not a load error)."""
        query = """
        { workspaceOrError { __typename ... on Workspace { locationEntries {
            name loadStatus
            locationOrLoadError { __typename ... on PythonError { message } }
        } } } }"""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(Exception):
                data = self.graphql(query, timeout=30)
                entries = data["workspaceOrError"].get("locationEntries") or []
                last = entries
                for entry in entries:
                    loaded = entry["locationOrLoadError"] or {}
                    if entry["name"] == LOCATION_NAME and entry["loadStatus"] == "LOADED":
                        if loaded.get("__typename") == "PythonError":
                            raise StackError(f"code location failed to load: {loaded['message']}")
                        return
            time.sleep(1)
        raise StackError(f"code location not loaded after {timeout:.0f} s ({last}):\n{self.all_log_tails()}")

    def wait_for_daemon(self, timeout: float) -> None:
        """The daemon's sensor and run-queue loops have sent a heartbeat."""
        query = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
        needed = {"SENSOR", "QUEUED_RUN_COORDINATOR"}
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(Exception):
                statuses = self.graphql(query, timeout=30)["instance"]["daemonHealth"]["allDaemonStatuses"]
                last = statuses
                healthy = {s["daemonType"] for s in statuses if s["healthy"]}
                if needed <= healthy:
                    return
            time.sleep(2)
        raise StackError(f"daemon not healthy after {timeout:.0f} s ({last}):\n{self.all_log_tails()}")

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
        tags = [{"key": "datatasker/file_name", "value": file_name}]
        return self.graphql(RUNS_OF_FILE_QUERY, {"tags": tags})["runsOrError"]["results"]

    # -- logs ------------------------------------------------------------------
    def log_tail(self, name: str, chars: int = 6000) -> str:
        path = self.logs_dir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return path.read_bytes()[-chars:].decode("utf-8", "replace")

    def all_log_tails(self, chars: int = 6000) -> str:
        return "\n".join(f"===== {name} =====\n{self.log_tail(name, chars)}" for name in self.commands())
