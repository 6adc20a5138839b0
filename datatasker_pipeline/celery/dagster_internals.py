"""The private Dagster names a run launcher cannot do without, in one place.

Why private: Dagster exports ``RunLauncher`` implementations' result types
(``CheckRunHealthResult``, ``WorkerStatus``) and the "user code unreachable"
error (which makes the run queue retry a launch instead of failing the run)
only from ``dagster._core``; dagster-celery itself imports them from there.
The launched run's arguments arrive packed with Dagster's serdes. When a
Dagster upgrade moves any of these, this module is the one to change
(``datatasker_tests/test_architecture.py`` allows private imports here only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._serdes import unpack_value

__all__ = ["CheckRunHealthResult", "DagsterUserCodeUnreachableError", "WorkerStatus", "run_id_of_packed_args"]


def run_id_of_packed_args(packed: Mapping[str, Any]) -> str:
    """The run ID inside the packed ``ExecuteRunArgs`` the launcher sends as the task's argument."""
    return unpack_value(packed).run_id
