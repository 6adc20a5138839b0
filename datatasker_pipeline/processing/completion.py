"""A run's results are complete when its manifest exists (no Dagster here).

An object store has no rename, so a folder of results cannot appear at once:
each result file is placed whole (a local rename, or an upload), and after
the last of the four, ``manifests/<run_id>.json`` is written once, by
whoever completes the set (put-if-absent, so two steps finishing together
write it once). Readers (``datatasker results``, the tests) trust a run's
outputs only when its manifest is there; a failed or killed run never
writes one. The same code serves a local data root.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable

from ..vocabulary import OUTPUT_FILE_NAMES
from .files import staged_file
from .store import is_remote, put_if_absent, upload


def publish_results(
    work_dir: Path, outputs_dir: Any, manifest: Any, run_id: str, names: Iterable[str]
) -> bool:
    """Place the finished ``names`` in ``outputs_dir`` and write the manifest if all four are there.

    On a local data root the work folder is the outputs folder: nothing moves.
    On a store each file is uploaded, and the local work folder is removed
    once the manifest is written. True when the run's results are complete.
    """
    if is_remote(outputs_dir):
        for name in names:
            upload(work_dir / name, outputs_dir / name)
    complete = write_manifest_if_complete(outputs_dir, manifest, run_id)
    if complete and is_remote(outputs_dir):
        shutil.rmtree(work_dir, ignore_errors=True)
    return complete


def write_manifest_if_complete(outputs_dir: Any, manifest: Any, run_id: str) -> bool:
    """Write the manifest (file names and sizes) once all four result files exist; True when it exists."""
    sizes = {}
    for name in OUTPUT_FILE_NAMES:
        try:
            sizes[name] = (outputs_dir / name).stat().st_size
        except FileNotFoundError:
            return False
    document = {"run_id": run_id, "outputs": str(outputs_dir), "files": sizes}
    place_if_absent(manifest, json.dumps(document, indent=2).encode("utf-8"))
    return True


def place_if_absent(path: Any, data: bytes) -> bool:
    """Write ``path`` whole, only if it does not exist yet; False when it already did."""
    if is_remote(path):
        return put_if_absent(path, data)
    path.parent.mkdir(parents=True, exist_ok=True)
    with staged_file(path) as staged:
        staged.path.write_bytes(data)
        try:
            os.link(staged.path, path)  # a hard link fails when the name exists: put-if-absent
        except FileExistsError:
            return False
    return True


def read_manifest(path: Any) -> dict | None:
    """The manifest's content, None when the run's results are not complete."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
