"""Run folders as a run leaves them, aged on purpose, for the retention tests."""

from __future__ import annotations

import os
import time
from pathlib import Path

DAY = 86400


def make_run_folders(root: Path, run_id: str, age_days: float, kinds=("outputs", "raw")) -> None:
    """``<root>/<kind>/<run_id>/f.csv`` (10 bytes) for each kind, last modified ``age_days`` ago."""
    for kind in kinds:
        folder = root / kind / run_id
        folder.mkdir(parents=True)
        (folder / "f.csv").write_text("x" * 10)
        past = time.time() - age_days * DAY
        os.utime(folder, (past, past))
