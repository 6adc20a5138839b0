"""Deleting old results: what Dagster's own retention setting does not cover (no Dagster here).

Dagster's ``retention:`` purges only schedule and sensor ticks; what the
pipeline keeps per run grows until something deletes it
(dagster-io/dagster#4100): ``outputs/<run_id>/``, ``raw/<run_id>/`` (the
processed input files), ``duplicates/<run_id>/`` and ``failed/<run_id>.json``.
A run's things are old when the run ended (or, with no run record, when they
were last modified) more than ``max_age`` seconds ago; anything younger is
never touched.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..vocabulary import FAILED_DIR, RUN_FOLDER_KINDS


@dataclass
class PurgeReport:
    removed_run_ids: list[str] = field(default_factory=list)
    removed_folders: list[Path] = field(default_factory=list)
    bytes_freed: int = 0


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def purge_old_run_folders(
    data_root: Path,
    max_age_seconds: float,
    run_end_time: Callable[[str], float | None],
    now: float | None = None,
) -> PurgeReport:
    """Remove the run folders and failure records of runs older than ``max_age_seconds``.

    ``run_end_time(run_id)`` gives the run's end (epoch seconds) from the run
    database, or None when unknown (then the folder's mtime counts). A run
    that has not ended is never old.
    """
    now = time.time() if now is None else now
    report = PurgeReport()
    for kind in RUN_FOLDER_KINDS:
        parent = data_root / kind
        if not parent.is_dir():
            continue
        for folder in sorted(parent.iterdir()):
            if not folder.is_dir() or folder.is_symlink() or folder.name.startswith("."):
                continue
            ended = run_end_time(folder.name)
            age_from = ended if ended is not None else folder.stat().st_mtime
            if now - age_from <= max_age_seconds:
                continue
            report.bytes_freed += _size(folder)
            shutil.rmtree(folder)
            report.removed_folders.append(folder)
            if folder.name not in report.removed_run_ids:
                report.removed_run_ids.append(folder.name)
    failed = data_root / FAILED_DIR
    for record in sorted(failed.glob("*.json")) if failed.is_dir() else []:
        if record.is_symlink() or record.name.startswith("."):
            continue
        ended = run_end_time(record.stem)
        if now - (ended if ended is not None else record.stat().st_mtime) <= max_age_seconds:
            continue
        report.bytes_freed += record.stat().st_size
        record.unlink()
        report.removed_folders.append(record)
        if record.stem not in report.removed_run_ids:
            report.removed_run_ids.append(record.stem)
    return report
