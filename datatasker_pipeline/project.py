"""Where things live by default, and the environment variables that move them."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "DATATASKER_DATA_DIR"
MAX_FILE_BYTES_ENV = "DATATASKER_MAX_FILE_BYTES"


def project_root() -> Path:
    """The checkout this package runs from (uv installs it editable), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or project_root() / "data").resolve()


def default_dagster_home() -> Path:
    """The persistent SQLite instance home used when ``DAGSTER_HOME`` is not set."""
    return project_root() / "dagster_home"


def ensure_dagster_home() -> Path:
    """Point ``DAGSTER_HOME`` at the project-local instance unless it is already set."""
    home = Path(os.environ.get("DAGSTER_HOME") or default_dagster_home()).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
