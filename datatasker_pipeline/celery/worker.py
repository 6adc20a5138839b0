"""The Celery app a ``datatasker worker`` serves: warm, one claimed and heartbeating run per task.

The worker's main process imports the pipeline (Dagster, pandas, pyarrow,
pandera, the definitions) and then forks its pool children, so a run starts
without an interpreter start-up or an import. Nothing stateful is made before
the fork: each child opens its Dagster instance on its first run and keeps it
for its later runs (``held_connections.ProcessInstance``; the deployment's
storage holds its database connections); the heartbeat thread is made per run.
"""

from __future__ import annotations

import os
import signal

from celery import Celery
from dagster_celery.config import TASK_EXECUTE_JOB_NAME
from dagster_celery.make_app import make_app

from ..held_connections import ProcessInstance
from . import liveness
from .dagster_internals import execute_launched_run, run_id_of_packed_args


def launcher_settings():
    """The instance's run launcher (same broker, backend and heartbeat as the daemon), read then let go."""
    import dagster as dg

    from .launcher import WarmCeleryRunLauncher

    with dg.DagsterInstance.get() as instance:
        launcher = instance.run_launcher
        if not isinstance(launcher, WarmCeleryRunLauncher):
            raise SystemExit(
                f"$DAGSTER_HOME/dagster.yaml must name run_launcher WarmCeleryRunLauncher "
                f"(deploy/celery/dagster.yaml); it names {type(launcher).__name__}"
            )
        return launcher


def _interrupt_on_sigterm(signum, frame):
    """``terminateRun`` revokes the task with SIGTERM: let Dagster see an interrupt and record CANCELED."""
    raise KeyboardInterrupt(f"signal {signum}: run terminated")


def interrupt_the_run_again() -> None:
    """The revoke's SIGTERM once more, to this process (its main thread runs the run)."""
    os.kill(os.getpid(), signal.SIGTERM)


def build_worker_app() -> Celery:
    """The worker's Celery app: dagster-celery's queues and routes, our ``execute_job``."""
    launcher = launcher_settings()
    app = make_app(launcher.app_args())
    # Opened in each pool process by its first run (after the fork), reused by its later runs.
    warm_instance = ProcessInstance()
    backend_url = launcher.backend
    beat, timeout = launcher.heartbeat_seconds, launcher.heartbeat_timeout_seconds
    database_wait = launcher.database_wait_seconds

    # shared=False: a shared task would be registered on every app under the same name.
    @app.task(bind=True, name=TASK_EXECUTE_JOB_NAME, track_started=True, shared=False)
    def execute_job(task, execute_job_args_packed):
        """Claim the run, heartbeat while it executes, run it with Dagster's own run body."""
        run_id = run_id_of_packed_args(execute_job_args_packed)
        worker = task.request.hostname
        client = liveness.redis_client(backend_url)
        other = liveness.claim_run(client, run_id, worker)
        if other is not None:
            # A redelivered message (broker restart): the run is already someone's.
            return f"run {run_id} was already taken by {other}; not run twice"
        previous = signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
        try:
            with liveness.RunHeartbeat(client, run_id, worker, interval=beat, ttl=timeout, interrupt=interrupt_the_run_again):
                instance = warm_instance.for_run(run_id, wait_seconds=database_wait)
                return execute_launched_run(instance, execute_job_args_packed)
        finally:
            signal.signal(signal.SIGTERM, previous)

    return app


def start_worker(name: str, concurrency: int, max_runs_per_child: int, queue: str, loglevel: str) -> None:
    """Serve runs until stopped (the Celery worker's own loop); import the pipeline first (``datatasker worker``)."""
    app = build_worker_app()
    app.worker_main([
        "worker",
        "--hostname", name,
        "--concurrency", str(concurrency),
        "--max-tasks-per-child", str(max_runs_per_child),
        "--queues", queue,
        "--pool", "prefork",
        "--loglevel", loglevel,
        # Task events for Flower's live view.
        "--task-events",
    ])
