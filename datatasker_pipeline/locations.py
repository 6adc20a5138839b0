"""Where things live by default, and the environment variables that move them (standard library only)."""

from __future__ import annotations

import os
from pathlib import Path

from .vocabulary import (
    DAGSTER_HOME_ENV,
    DATA_DIR_ENV,
    DEFAULT_MAX_FILE_BYTES,
    MAX_FILE_BYTES_ENV,
)


def project_root() -> Path:
    """The checkout this package runs from (uv installs it editable), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def default_data_dir() -> Path:
    """``$DATATASKER_DATA_DIR``, else the checkout's ``data/`` folder."""
    return Path(os.environ.get(DATA_DIR_ENV) or project_root() / "data").resolve()


def default_max_file_bytes() -> int:
    """``$DATATASKER_MAX_FILE_BYTES``, else 2 GiB."""
    return int(os.environ.get(MAX_FILE_BYTES_ENV) or DEFAULT_MAX_FILE_BYTES)


def default_dagster_home() -> Path:
    """The persistent SQLite instance home used when ``DAGSTER_HOME`` is not set."""
    return project_root() / "dagster_home"


def ensure_dagster_home() -> Path:
    """Point ``DAGSTER_HOME`` at the project-local instance unless it is already set.

    A process-wide setting: only the commands that open the instance call it.
    """
    home = Path(os.environ.get(DAGSTER_HOME_ENV) or default_dagster_home()).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ[DAGSTER_HOME_ENV] = str(home)
    return home
