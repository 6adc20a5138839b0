"""Talking to a running DataTasker deployment over the Dagster webserver's GraphQL API.

Everything here goes through ``POST <url>/graphql`` with plain ``requests``;
nothing reads the instance's database, so the same calls work against a
deployment on another machine. The run ID is the key of a submitted file:
``submit`` prints it, ``status`` and ``results`` take it.

The module has two halves:

* pure functions that turn GraphQL answers into plain values and text
  (metadata entries, the person's failure message, the region table, the
  progress bar) -- unit-tested without a server;
* :class:`DataTaskerClient`, the handful of queries and mutations the CLI
  needs, raising :class:`ClientError` subclasses whose ``exit_code`` is the
  command's exit status.

Dagster has no "result of this run" query: results are read from the
materialization events' metadata of the run (``Run.assetMaterializations``),
and the error a person reads is the step failure's ``failureMetadata.description``
(what ``dg.Failure(description=...)`` carries), not ``error.message``, which
Dagster prefixes with the exception's class path.
"""

from __future__ import annotations

import json
import os
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

DEFAULT_URL = "http://127.0.0.1:3000"
URL_ENV = "DATATASKER_URL"

JOB_NAME = "process_sales_file"
PARTITIONS_DEF_NAME = "sales_files"
FILE_NAME_TAG = "datatasker/file_name"  # same values as datatasker_pipeline.assets
FINGERPRINT_TAG = "datatasker/fingerprint"
PARTITION_TAG = "dagster/partition"
STEP_KEYS = ("raw_csv", "cleaned_sales", "region_summary", "anomaly_report")

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_FOUND = 4
EXIT_IN_PROGRESS = 5

TERMINAL_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
FAILED_STATUSES = frozenset({"FAILURE", "CANCELED"})

# Result files: the names `datatasker process --json` uses, and the metadata
# entry (asset, label) each path is read from.
RESULT_FILES: dict[str, tuple[str, str]] = {
    "region_summary": ("region_summary", "region_summary_csv"),
    "anomalies": ("anomaly_report", "anomalies_csv"),
    "rejected_rows": ("cleaned_sales", "rejected_rows_csv"),
    "cleaned": ("cleaned_sales", "cleaned_parquet"),
}
SUMMARY_COLUMNS = ("region", "row_count", "revenue_sum", "revenue_mean", "quantity_sum", "discount_mean")


# ---------------------------------------------------------------------------
# Errors: each one is a one-line message and an exit status
# ---------------------------------------------------------------------------


class ClientError(Exception):
    exit_code = EXIT_RUN_FAILED

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UsageProblem(ClientError):
    exit_code = EXIT_USAGE


class WebserverUnavailable(ClientError):
    """No answer (or no usable answer) from the webserver."""

    exit_code = EXIT_UNREACHABLE


class RunNotFound(ClientError):
    exit_code = EXIT_NOT_FOUND


class WaitTimedOut(ClientError):
    exit_code = EXIT_NOT_FOUND


class RunInProgress(ClientError):
    exit_code = EXIT_IN_PROGRESS


class RunFailed(ClientError):
    exit_code = EXIT_RUN_FAILED


def resolve_url(url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``--url``, else ``$DATATASKER_URL``, else the local default; no trailing slash."""
    environ = os.environ if environ is None else environ
    chosen = (url or environ.get(URL_ENV) or DEFAULT_URL).strip()
    if not re.match(r"^https?://", chosen):
        chosen = "http://" + chosen
    return chosen.rstrip("/")


# ---------------------------------------------------------------------------
# GraphQL documents
# ---------------------------------------------------------------------------

_METADATA_ENTRY_FIELDS = """
  __typename label
  ... on IntMetadataEntry { intValue intRepr }
  ... on FloatMetadataEntry { floatValue floatRepr }
  ... on BoolMetadataEntry { boolValue }
  ... on TextMetadataEntry { text }
  ... on JsonMetadataEntry { jsonString }
  ... on PathMetadataEntry { path }
  ... on UrlMetadataEntry { url }
  ... on MarkdownMetadataEntry { mdStr }
  ... on TimestampMetadataEntry { timestamp }
  ... on TableMetadataEntry { table { records schema { columns { name type } } } }
"""

RUN_QUERY = (
    """
query DataTaskerRun($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId status jobName creationTime startTime endTime updateTime
      tags { key value }
      stepStats { stepKey status startTime endTime }
      assetMaterializations {
        assetKey { path }
        stepKey partition timestamp
        metadataEntries { %s }
      }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""
    % _METADATA_ENTRY_FIELDS
)

RUN_PROGRESS_QUERY = """
query DataTaskerRunProgress($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId status jobName creationTime startTime endTime updateTime
      tags { key value }
      stepStats { stepKey status startTime endTime }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

_ERROR_FIELDS = "message className cause { message className cause { message className } }"

RUN_EVENTS_QUERY = """
query DataTaskerRunEvents($runId: ID!, $cursor: String, $limit: Int) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      eventConnection(afterCursor: $cursor, limit: $limit) {
        cursor hasMore
        events {
          __typename
          ... on ExecutionStepFailureEvent {
            stepKey message
            error { %(error)s }
            failureMetadata { label description }
          }
          ... on RunFailureEvent { message error { %(error)s } }
          ... on RunCanceledEvent { message }
        }
      }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
""" % {"error": _ERROR_FIELDS}

RUNS_BY_TAGS_QUERY = """
query DataTaskerRunsByTags($tags: [ExecutionTag!], $limit: Int) {
  runsOrError(filter: {tags: $tags}, limit: $limit) {
    __typename
    ... on Runs { results { runId status creationTime tags { key value } } }
    ... on InvalidPipelineRunsFilterError { message }
    ... on PythonError { message }
  }
}
"""

REPOSITORIES_QUERY = """
query DataTaskerRepositories {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
    ... on PythonError { message }
  }
}
"""

ADD_PARTITION_MUTATION = """
mutation DataTaskerAddPartition($selector: RepositorySelector!, $partitionsDefName: String!, $partitionKey: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: $partitionsDefName, partitionKey: $partitionKey) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionsDefName partitionKey }
    ... on DuplicateDynamicPartitionError { partitionsDefName partitionName }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""

LAUNCH_RUN_MUTATION = """
mutation DataTaskerLaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConflict { message }
    ... on UnauthorizedError { message }
    ... on PresetNotFoundError { message }
    ... on ConflictingExecutionParamsError { message }
    ... on NoModeProvidedError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
    ... on PythonError { message }
  }
}
"""


# ---------------------------------------------------------------------------
# Pure functions: GraphQL answers -> plain values
# ---------------------------------------------------------------------------


def metadata_value(entry: Mapping[str, Any]) -> Any:
    """The plain Python value of one GraphQL ``MetadataEntry``."""
    kind = entry.get("__typename")
    if kind == "IntMetadataEntry":
        if entry.get("intValue") is not None:
            return entry["intValue"]
        return int(entry["intRepr"])  # beyond 32 bits GraphQL gives only the text
    if kind == "FloatMetadataEntry":
        if entry.get("floatValue") is not None:
            return entry["floatValue"]
        return float(entry.get("floatRepr") or "nan")
    if kind == "BoolMetadataEntry":
        return entry.get("boolValue")
    if kind == "TextMetadataEntry":
        return entry.get("text")
    if kind == "JsonMetadataEntry":
        try:
            return json.loads(entry.get("jsonString") or "null")
        except json.JSONDecodeError:
            return entry.get("jsonString")
    if kind == "PathMetadataEntry":
        return entry.get("path")
    if kind == "UrlMetadataEntry":
        return entry.get("url")
    if kind == "MarkdownMetadataEntry":
        return entry.get("mdStr")
    if kind == "TimestampMetadataEntry":
        return entry.get("timestamp")
    if kind == "TableMetadataEntry":
        table = entry.get("table") or {}
        columns = [c["name"] for c in ((table.get("schema") or {}).get("columns") or [])]
        return {"columns": columns, "records": [json.loads(r) for r in table.get("records") or []]}
    return None


def metadata_dict(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {entry["label"]: metadata_value(entry) for entry in entries}


def materializations_by_asset(run: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{asset name: metadata}`` of the run's materializations (the last one of each asset wins)."""
    found: dict[str, dict[str, Any]] = {}
    for event in run.get("assetMaterializations") or []:
        name = "/".join(event["assetKey"]["path"])
        found[name] = metadata_dict(event.get("metadataEntries") or [])
    return found


def tags_dict(run: Mapping[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run.get("tags") or []}


_CLASS_PREFIX = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*): ", re.S)


def strip_class_path(message: str, class_name: str | None = None) -> str:
    """``dagster._core.definitions.events.Failure: text`` -> ``text``; ``builtins.KeyError: x`` -> ``KeyError: x``."""
    text = (message or "").strip()
    match = _CLASS_PREFIX.match(text)
    if match and (class_name is None or match.group(1) == class_name):
        rest = text[match.end():].strip()
        if match.group(1) == "Failure":
            return rest
        return f"{match.group(1)}: {rest}"
    return text


def _innermost(error: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    while error and error.get("cause"):
        error = error["cause"]
    return error


def failure_message(events: Iterable[Mapping[str, Any]]) -> str | None:
    """The message a person reads for a failed run, from its GraphQL events.

    1. A step failure raised as ``dg.Failure(description=...)``: that description,
       exactly (``failureMetadata.description``; the UI shows the same text).
    2. Any other step error: the innermost cause Dagster wrapped, as ``Class: message``.
    3. A run that failed outside any step (e.g. could not start): the run failure's text.
    """
    run_failure = None
    canceled = None
    for event in events:
        kind = event.get("__typename")
        if kind == "ExecutionStepFailureEvent":
            described = (event.get("failureMetadata") or {}).get("description")
            if described:
                return described.strip()
            error = _innermost(event.get("error"))
            if error and error.get("message"):
                return strip_class_path(error["message"], error.get("className"))
            return (event.get("message") or "").strip() or None
        if kind == "RunFailureEvent" and run_failure is None:
            error = _innermost(event.get("error"))
            if error and error.get("message"):
                run_failure = strip_class_path(error["message"], error.get("className"))
            else:
                run_failure = (event.get("message") or "").strip() or None
        if kind == "RunCanceledEvent" and canceled is None:
            canceled = (event.get("message") or "").strip() or "the run was canceled"
    return run_failure or canceled


def format_time(timestamp: float | None, tz: timezone | None = None) -> str | None:
    """Epoch seconds as ISO 8601 with its offset (local time unless ``tz``)."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, tz) if tz else datetime.fromtimestamp(timestamp).astimezone()
    return moment.isoformat(timespec="seconds")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def steps_done(run: Mapping[str, Any]) -> int:
    return sum(1 for step in run.get("stepStats") or [] if step.get("status") == "SUCCESS")


def current_step(run: Mapping[str, Any]) -> str | None:
    for step in run.get("stepStats") or []:
        if step.get("status") == "IN_PROGRESS":
            return step["stepKey"]
    return None


def run_summary(
    run: Mapping[str, Any], error: str | None = None, url: str | None = None
) -> dict[str, Any]:
    """What ``datatasker status --json`` prints for one run."""
    tags = tags_dict(run)
    assets = materializations_by_asset(run)
    cleaned = assets.get("cleaned_sales", {})
    report = assets.get("anomaly_report", {})
    start, end = run.get("startTime"), run.get("endTime")
    return {
        "run_id": run["runId"],
        "status": run["status"],
        "job": run.get("jobName"),
        "file_name": tags.get(FILE_NAME_TAG),
        "partition": tags.get(PARTITION_TAG),
        "created_at": format_time(run.get("creationTime")),
        "started_at": format_time(start),
        "ended_at": format_time(end),
        "duration_seconds": round(end - start, 3) if start is not None and end is not None else None,
        "steps_done": steps_done(run),
        "steps_total": len(STEP_KEYS),
        "rows_read": cleaned.get("rows_read"),
        "rows_clean": cleaned.get("rows_clean"),
        "rows_rejected": cleaned.get("rows_rejected"),
        "rejected_by_reason": cleaned.get("rejected_by_reason"),
        "anomalies": report.get("anomalies"),
        "error": error,
        "ui_url": f"{url}/runs/{run['runId']}" if url else None,
    }


def format_status(summary: Mapping[str, Any]) -> str:
    """The human form of :func:`run_summary`."""
    lines = [f"run {summary['run_id']}: {summary['status']}"]

    def add(label: str, value: Any) -> None:
        if value not in (None, ""):
            lines.append(f"  {label + ':':<11}{value}")

    file_name, partition = summary.get("file_name"), summary.get("partition")
    if file_name and partition and partition != file_name:
        add("file", f"{file_name} (partition {partition})")
    else:
        add("file", file_name or partition)
    add("created", summary.get("created_at"))
    add("started", summary.get("started_at"))
    ended = summary.get("ended_at")
    if ended:
        add("ended", f"{ended} ({format_duration(summary.get('duration_seconds'))})")
    add("steps", f"{summary.get('steps_done', 0)}/{summary.get('steps_total', len(STEP_KEYS))} done")
    if summary.get("rows_read") is not None:
        reasons = ", ".join(f"{k} {v}" for k, v in (summary.get("rejected_by_reason") or {}).items() if v)
        add(
            "rows",
            f"{summary['rows_read']} read, {summary['rows_clean']} clean, {summary['rows_rejected']} rejected"
            + (f" ({reasons})" if reasons else ""),
        )
    add("anomalies", summary.get("anomalies"))
    add("error", summary.get("error"))
    add("ui", summary.get("ui_url"))
    return "\n".join(lines)


def result_paths(run: Mapping[str, Any]) -> dict[str, str | None]:
    """``{region_summary, anomalies, rejected_rows, cleaned}`` -> path recorded by the run."""
    assets = materializations_by_asset(run)
    return {name: assets.get(asset, {}).get(label) for name, (asset, label) in RESULT_FILES.items()}


def summary_rows(run: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]], int | None]:
    """Columns, rows and total region count of the region summary, from its metadata table."""
    meta = materializations_by_asset(run).get("region_summary", {})
    table = meta.get("summary") or {}
    rows = list(table.get("records") or [])
    columns = list(table.get("columns") or [])
    if not columns:
        columns = list(SUMMARY_COLUMNS) if rows else []
    total = meta.get("regions")
    return columns, rows, total if isinstance(total, int) else len(rows)


def read_summary_csv(path: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The whole region_summary.csv, numbers parsed (it may hold more regions than the metadata table)."""
    import csv

    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        rows = []
        for record in reader:
            row: dict[str, Any] = {}
            for key, value in record.items():
                if key == "row_count":
                    row[key] = int(value)
                elif key in SUMMARY_COLUMNS and key != "region":
                    row[key] = float(value)
                else:
                    row[key] = value
            rows.append(row)
    return columns, rows


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide East Asian characters count 2, combining marks 0."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def format_cell(value: Any, column: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}" if column != "source_row" else str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if "discount" in column:
            return f"{value:.4f}"
        return f"{value:,.2f}"
    return str(value).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def format_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """An aligned plain-text table: numbers right-aligned, text left-aligned."""
    if not columns:
        return "(no columns)"
    cells = [[format_cell(row.get(c), c) for c in columns] for row in rows]
    numeric = [
        bool(rows) and all(isinstance(row.get(c), (int, float)) and not isinstance(row.get(c), bool) for row in rows)
        for c in columns
    ]
    widths = [display_width(c) for c in columns]
    for line in cells:
        widths = [max(w, display_width(cell)) for w, cell in zip(widths, line)]

    def render(values: Sequence[str]) -> str:
        parts = []
        for value, width, right in zip(values, widths, numeric):
            pad = " " * (width - display_width(value))
            parts.append(pad + value if right else value + pad)
        return "  ".join(parts).rstrip()

    out = [render(list(columns)), render(["-" * w for w in widths])]
    out.extend(render(line) for line in cells)
    if not rows:
        out.append("(no regions: the file had no clean rows)")
    return "\n".join(out)


def progress_bar(done: int, total: int, width: int = 24) -> str:
    """``[████████░░░░░░░░] 2/4 steps``"""
    total = max(total, 1)
    done = min(max(done, 0), total)
    filled = round(width * done / total)
    return f"[{'█' * filled}{'░' * (width - filled)}] {done}/{total} steps"


def progress_line(run: Mapping[str, Any], elapsed: float) -> str:
    """One plain line about a run in flight (for logs and pipes)."""
    step = current_step(run)
    return (
        f"run {run['runId']}: {run['status']}, {steps_done(run)}/{len(STEP_KEYS)} steps done"
        + (f", running {step}" if step else "")
        + f" ({elapsed:.0f} s)"
    )


# ---------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------


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
                if run["status"] in TERMINAL_STATUSES:
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
    return {"ops": {"cleaned_sales": {"config": dict(options)}}}
