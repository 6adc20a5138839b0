"""The handful of GraphQL calls the client commands make, over plain HTTP (requests).

Nothing here reads the instance's database, so the same calls work against a
deployment on another machine. Errors are :class:`~.errors.ClientError` s
whose ``exit_code`` is the command's exit status.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..vocabulary import (
    DEFAULT_URL,
    FAILED_STATUSES,
    FINISHED_STATUSES,
    JOB_NAME,
    OPTIONS_OP,
    PARTITIONS_DEF_NAME,
    URL_ENV,
)
from .answers import failure_message
from .documents import (
    ADD_PARTITION_MUTATION,
    LAUNCH_RUN_MUTATION,
    REPOSITORIES_QUERY,
    RUN_EVENTS_QUERY,
    RUN_PROGRESS_QUERY,
    RUN_QUERY,
    RUNS_BY_TAGS_QUERY,
)
from .errors import (
    RunFailed,
    RunNotFound,
    UsageProblem,
    WaitTimedOut,
    WebserverUnavailable,
)


def resolve_url(url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``--url``, else ``$DATATASKER_URL``, else the local default; no trailing slash."""
    environ = os.environ if environ is None else environ
    chosen = (url or environ.get(URL_ENV) or DEFAULT_URL).strip()
    if not re.match(r"^https?://", chosen):
        chosen = "http://" + chosen
    return chosen.rstrip("/")


@dataclass
class JobLocation:
    location: str
    repository: str
    job: str = JOB_NAME

    def repository_selector(self) -> dict[str, str]:
        return {"repositoryLocationName": self.location, "repositoryName": self.repository}

    def job_selector(self) -> dict[str, str]:
        return {**self.repository_selector(), "jobName": self.job}


@dataclass
class DataTaskerClient:
    """The GraphQL calls the ``datatasker`` client commands make."""

    url: str = DEFAULT_URL
    timeout: float = 30.0
    session: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        import requests

        self._requests = requests
        if self.session is None:
            self.session = requests.Session()
            self.session.trust_env = True

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        requests = self._requests
        try:
            response = self.session.post(
                self.graphql_url, json={"query": query, "variables": dict(variables or {})}, timeout=self.timeout
            )
        except requests.Timeout:
            raise WebserverUnavailable(
                f"the Dagster webserver at {self.url} did not answer within {self.timeout:.0f} s"
            ) from None
        except requests.RequestException as error:
            reason = type(error).__name__
            if isinstance(error, requests.ConnectionError):
                reason = "connection refused or host unreachable"
            raise WebserverUnavailable(
                f"the Dagster webserver at {self.url} is not answering ({reason}); is it running? "
                f"(--url or ${URL_ENV})"
            ) from None
        if response.status_code != 200:
            raise WebserverUnavailable(
                f"{self.graphql_url} answered HTTP {response.status_code}: is this a Dagster webserver?"
            )
        try:
            body = response.json()
        except ValueError:
            raise WebserverUnavailable(f"{self.graphql_url} did not answer JSON: is this a Dagster webserver?") from None
        if body.get("errors"):
            first = body["errors"][0].get("message", body["errors"][0])
            raise WebserverUnavailable(f"the webserver rejected the query: {first}")
        return body.get("data") or {}

    def ping(self) -> None:
        """Raise :class:`WebserverUnavailable` unless the webserver answers GraphQL."""
        self.execute("query DataTaskerPing { version }")

    # -- runs ----------------------------------------------------------------
    def _run_or_error(self, query: str, run_id: str) -> dict[str, Any]:
        result = self.execute(query, {"runId": run_id})["runOrError"]
        kind = result.get("__typename")
        if kind == "Run":
            return result
        if kind == "RunNotFoundError":
            raise RunNotFound(f"no run with ID {run_id} on {self.url}")
        raise WebserverUnavailable(f"the webserver could not read run {run_id}: {result.get('message')}")

    def run(self, run_id: str) -> dict[str, Any]:
        """Status, tags, step stats and materialization metadata of one run."""
        return self._run_or_error(RUN_QUERY, run_id)

    def run_progress(self, run_id: str) -> dict[str, Any]:
        return self._run_or_error(RUN_PROGRESS_QUERY, run_id)

    def run_events(self, run_id: str, page: int = 1000, max_pages: int = 200) -> list[dict[str, Any]]:
        """The run's failure-related events (all pages of the event log, bounded)."""
        events: list[dict[str, Any]] = []
        cursor = None
        for _ in range(max_pages):
            result = self.execute(RUN_EVENTS_QUERY, {"runId": run_id, "cursor": cursor, "limit": page})["runOrError"]
            if result.get("__typename") != "Run":
                raise RunNotFound(f"no run with ID {run_id} on {self.url}")
            connection = result["eventConnection"]
            events.extend(e for e in connection["events"] if len(e) > 1)
            if not connection.get("hasMore") or connection.get("cursor") == cursor:
                break
            cursor = connection["cursor"]
        return events

    def run_error(self, run: Mapping[str, Any]) -> str | None:
        if run.get("status") not in FAILED_STATUSES:
            return None
        message = failure_message(self.run_events(run["runId"]))
        if message:
            return message
        return "the run was canceled" if run["status"] == "CANCELED" else "the run failed (no error recorded)"

    def runs_with_tags(self, tags: Mapping[str, str], limit: int = 10) -> list[dict[str, Any]]:
        """Runs carrying every tag given, newest first."""
        result = self.execute(
            RUNS_BY_TAGS_QUERY, {"tags": [{"key": k, "value": v} for k, v in tags.items()], "limit": limit}
        )["runsOrError"]
        if result.get("__typename") != "Runs":
            raise WebserverUnavailable(f"the webserver could not list runs: {result.get('message')}")
        return result["results"]

    def wait_for_run_with_tags(
        self,
        tags: Mapping[str, str],
        timeout: float,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> dict[str, Any]:
        deadline = clock() + timeout
        failures = 0
        while True:
            try:
                runs = self.runs_with_tags(tags, limit=1)
                failures = 0
                if runs:
                    return runs[0]
            except WebserverUnavailable:
                failures += 1  # a busy webserver may miss one poll; not five in a row
                if failures >= 5:
                    raise
            if clock() >= deadline:
                raise WaitTimedOut(
                    f"no run appeared within {timeout:.0f} s; is dagster-daemon running with the sensor "
                    "incoming_csv_sensor on, and is this the deployment's incoming folder?"
                )
            sleep(interval)

    def follow(
        self,
        run_id: str,
        on_update: Callable[[dict[str, Any], float], None],
        timeout: float,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> dict[str, Any]:
        """Poll a run until it ends; ``on_update(run, elapsed)`` after every poll."""
        started = clock()
        failures = 0
        while True:
            try:
                run = self.run_progress(run_id)
                failures = 0
                on_update(run, clock() - started)
                if run["status"] in FINISHED_STATUSES:
                    return run
            except WebserverUnavailable:
                failures += 1
                if failures >= 5:
                    raise
            if clock() - started >= timeout:
                raise WaitTimedOut(
                    f"run {run_id} had not finished after {timeout:.0f} s; it goes on: datatasker status {run_id}"
                )
            sleep(interval)

    # -- launching by partition (remote mode, and the README's raw GraphQL) ---
    def job_location(self, job_name: str = JOB_NAME) -> JobLocation:
        result = self.execute(REPOSITORIES_QUERY)["repositoriesOrError"]
        if result.get("__typename") != "RepositoryConnection":
            raise WebserverUnavailable(f"the webserver could not list code locations: {result.get('message')}")
        for node in result["nodes"]:
            if any(job["name"] == job_name for job in node["jobs"]):
                return JobLocation(node["location"]["name"], node["name"], job_name)
        raise RunNotFound(f"no code location on {self.url} has the job {job_name}")

    def add_partition(self, where: JobLocation, key: str, partitions_def: str = PARTITIONS_DEF_NAME) -> bool:
        """Add a dynamic partition; False when it existed already."""
        result = self.execute(
            ADD_PARTITION_MUTATION,
            {"selector": where.repository_selector(), "partitionsDefName": partitions_def, "partitionKey": key},
        )["addDynamicPartition"]
        kind = result.get("__typename")
        if kind == "AddDynamicPartitionSuccess":
            return True
        if kind == "DuplicateDynamicPartitionError":
            return False
        raise RunFailed(f"could not add partition {key!r}: {result.get('message') or kind}")

    def launch_run(
        self,
        where: JobLocation,
        tags: Mapping[str, str],
        run_config: Mapping[str, Any] | None = None,
    ) -> str:
        params: dict[str, Any] = {
            "selector": where.job_selector(),
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        if run_config:
            params["runConfigData"] = dict(run_config)
        result = self.execute(LAUNCH_RUN_MUTATION, {"executionParams": params})["launchRun"]
        kind = result.get("__typename")
        if kind == "LaunchRunSuccess":
            return result["run"]["runId"]
        if kind == "RunConfigValidationInvalid":
            detail = "; ".join(e["message"] for e in result.get("errors") or [])
            raise UsageProblem(f"the run config was rejected: {detail}")
        detail = result.get("message") or result.get("invalidStepKey") or result.get("invalidOutputName") or ""
        raise RunFailed(f"launchRun failed ({kind}){': ' + detail if detail else ''}")

def run_config_for(options: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """DataTasker options as the job's run config (the options are the ``cleaned_sales`` op config)."""
    if not options:
        return None
    return {"ops": {OPTIONS_OP: {"config": dict(options)}}}
