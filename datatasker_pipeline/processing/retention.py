"""Deleting old results: what Dagster's own retention setting does not cover (no Dagster here).

Dagster's ``retention:`` purges only schedule and sensor ticks; run folders
under ``outputs/`` and ``raw/`` grow until something deletes them
(dagster-io/dagster#4100). A run folder is old when its run ended (or, with
no run record, when the folder was last modified) more than ``max_age``
seconds ago; anything younger is never touched.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..vocabulary import RUN_FOLDER_KINDS


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
    """Remove ``outputs/<run_id>`` and ``raw/<run_id>`` of runs older than ``max_age_seconds``.

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
    return report
