"""``failed/<run_id>.json``: one record per failed run, where an operator looks (no Dagster here)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .files import write_text_atomically


def write_failure_record(failed_dir: Path, run_id: str, file_name: str, partition: str, message: str) -> Path:
    """Record why a file failed; the run ID must be one plain name (never a path)."""
    if not run_id or run_id.startswith(".") or "/" in run_id or "\\" in run_id:
        raise ValueError(f"not a run id: {run_id!r}")  # a path would write outside failed/
    record = {
        "run_id": run_id,
        "file_name": file_name,
        "partition": partition,
        "error": message,
        "failed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return write_text_atomically(failed_dir / f"{run_id}.json", json.dumps(record, ensure_ascii=False, indent=2) + "\n")
