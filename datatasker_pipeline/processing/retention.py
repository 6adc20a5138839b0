"""Deleting old results: what Dagster's own retention setting does not cover (no Dagster here).

Dagster's ``retention:`` purges only schedule and sensor ticks; what the
pipeline keeps per run grows until something deletes it
(dagster-io/dagster#4100): ``outputs/<run_id>/``, ``raw/<run_id>/`` (the
processed input files), ``duplicates/<run_id>/``, ``failed/<run_id>.json`` and
``manifests/<run_id>.json``, in a local folder or an object store alike.
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

from ..vocabulary import FAILED_DIR, MANIFESTS_DIR, RUN_FOLDER_KINDS
from .store import is_remote


@dataclass
class PurgeReport:
    removed_run_ids: list[str] = field(default_factory=list)
    removed_folders: list[Path] = field(default_factory=list)
    bytes_freed: int = 0


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not _is_link(p))


def _is_link(path: Path) -> bool:
    return not is_remote(path) and path.is_symlink()


def _last_modified(folder: Path) -> float:
    """A local folder's mtime; in a store (where folders are only key prefixes) its newest object's."""
    if not is_remote(folder):
        return folder.stat().st_mtime
    return max((p.stat().st_mtime for p in folder.rglob("*") if p.is_file()), default=0.0)


def _remove_tree(folder: Path) -> None:
    if is_remote(folder):
        folder.fs.rm(folder.path, recursive=True)
    else:
        shutil.rmtree(folder)


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
            if not folder.is_dir() or _is_link(folder) or folder.name.startswith("."):
                continue
            ended = run_end_time(folder.name)
            age_from = ended if ended is not None else _last_modified(folder)
            if now - age_from <= max_age_seconds:
                continue
            report.bytes_freed += _size(folder)
            _remove_tree(folder)
            report.removed_folders.append(folder)
            if folder.name not in report.removed_run_ids:
                report.removed_run_ids.append(folder.name)
    records = [data_root / FAILED_DIR, data_root / MANIFESTS_DIR]
    for record in sorted(r for folder in records if folder.is_dir() for r in folder.glob("*.json")):
        if _is_link(record) or record.name.startswith("."):
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
