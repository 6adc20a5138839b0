"""The private Dagster names a run launcher cannot do without, in one place.

Why private: Dagster exports ``RunLauncher`` implementations' result types
(``CheckRunHealthResult``, ``WorkerStatus``) and the "user code unreachable"
error (which makes the run queue retry a launch instead of failing the run)
only from ``dagster._core``; dagster-celery itself imports them from there.
The launched run's arguments arrive packed with Dagster's serdes, and the
body that executes a run in this process (what ``dagster api execute_run``
and dagster-celery's own task call) is private too. When a
Dagster upgrade moves any of these, this module is the one to change
(``datatasker_tests/test_architecture.py`` allows private imports here only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster._cli.api import _execute_run_command_body
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._serdes import unpack_value

__all__ = [
    "CheckRunHealthResult",
    "DagsterUserCodeUnreachableError",
    "WorkerStatus",
    "execute_launched_run",
    "run_id_of_packed_args",
]


def run_id_of_packed_args(packed: Mapping[str, Any]) -> str:
    """The run ID inside the packed ``ExecuteRunArgs`` the launcher sends as the task's argument."""
    return unpack_value(packed).run_id


def execute_launched_run(instance, packed: Mapping[str, Any]) -> int:
    """Execute the launched run in this process against ``instance``, as dagster-celery's task body does.

    The same call as dagster-celery's ``execute_job`` task, except that the
    instance is the caller's (kept warm, connections held) instead of a new
    one per run. Returns the exit code: 0, or 1 when the run failed.
    """
    args = unpack_value(packed)
    return _execute_run_command_body(
        run_id=args.run_id,
        instance=instance,
        write_stream_fn=lambda _event: None,  # events go to the instance's event log; nobody streams them
        set_exit_code_on_failure=args.set_exit_code_on_failure is not False,
    )
