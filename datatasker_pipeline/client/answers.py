"""GraphQL answers turned into plain values: metadata, the person's failure message, run summaries.

Pure functions, unit-tested without a server. The error a person reads is
the step failure's ``failureMetadata.description`` (what
``dg.Failure(description=...)`` carries), not ``error.message``, which
Dagster prefixes with the exception's class path.
"""

from __future__ import annotations

import csv
import json
import os
import re
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from ..vocabulary import (
    ANOMALY_ASSET,
    CLEANED_ASSET,
    FILE_NAME_TAG,
    ORIGIN_TAG,
    OUTPUTS_DIR,
    PARTITION_TAG,
    RESULT_FILES,
    SHA256_TAG,
    STEP_KEYS,
    SUMMARY_ASSET,
    SUMMARY_COLUMNS,
)


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
    cleaned = assets.get(CLEANED_ASSET, {})
    report = assets.get(ANOMALY_ASSET, {})
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

def file_run_row(run: Mapping[str, Any]) -> dict[str, Any]:
    """One line of ``datatasker status --file``: a run that processed the file, and how it went."""
    tags = tags_dict(run)
    return {
        "run_id": run["runId"],
        "status": run["status"],
        "created_at": format_time(run.get("creationTime")),
        "ended_at": format_time(run.get("endTime")),
        "origin": tags.get(ORIGIN_TAG),
        "partition": tags.get(PARTITION_TAG),
        "sha256": tags.get(SHA256_TAG),
    }


def result_paths(run: Mapping[str, Any]) -> dict[str, str | None]:
    """``{region_summary, anomalies, rejected_rows, cleaned}`` -> path recorded by the run."""
    assets = materializations_by_asset(run)
    return {name: assets.get(asset, {}).get(label) for name, (_, asset, label) in RESULT_FILES.items()}


def data_root_of(recorded: str, run_id: str) -> str | None:
    """The data root a recorded output path lies under: ``<root>/outputs/<run_id>/<file>`` -> ``<root>``.

    Works for a local path and a store URL (``s3://bucket/prefix/...``) alike;
    None when the path does not have that layout.
    """
    head, _, name = recorded.rstrip("/").rpartition("/")
    head, _, folder = head.rpartition("/")
    root, _, kind = head.rpartition("/")
    if not name or folder != run_id or kind != OUTPUTS_DIR or not root or root.endswith(":/"):
        return None
    return root


def summary_rows(run: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]], int | None]:
    """Columns, rows and total region count of the region summary, from its metadata table."""
    meta = materializations_by_asset(run).get(SUMMARY_ASSET, {})
    table = meta.get("summary") or {}
    rows = list(table.get("records") or [])
    columns = list(table.get("columns") or [])
    if not columns:
        columns = list(SUMMARY_COLUMNS) if rows else []
    total = meta.get("regions")
    return columns, rows, total if isinstance(total, int) else len(rows)


def read_summary_csv(path: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The whole region_summary.csv, numbers parsed (it may hold more regions than the metadata table)."""
    # A region name can be longer than the csv module's default field limit (128 KiB); no field is
    # longer than the file.
    csv.field_size_limit(max(csv.field_size_limit(), os.path.getsize(path)))
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
