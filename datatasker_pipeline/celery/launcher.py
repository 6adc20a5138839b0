"""``WarmCeleryRunLauncher``: each run is a task on a long-lived Celery worker, with dagster-celery's gaps closed.

dagster-celery 0.29's ``CeleryRunLauncher`` (read in its source) publishes
one ``execute_job`` task per run and maps the task state to the worker's
health. What it leaves open, and what this subclass does about it:

* a worker killed mid-run leaves the task STARTED, so the run stayed RUNNING
  forever: health here is the run's Redis heartbeat (:mod:`.liveness`); when
  it has lapsed the run FAILS with a message naming the worker that had it;
* a broker that is down during a launch failed the run ("unrecoverable error
  while dequeuing"): the publish error is raised as "user code unreachable",
  which the queued coordinator answers by putting the run back in the queue;
* terminating a run whose task has not started yet left it CANCELING until
  the monitoring timeout: the task is revoked and the run marked CANCELED now;
* a run not launched through Celery (e.g. ``datatasker process``) made the
  health check raise (no task-ID tag): it is reported as running, unmonitored.
"""

from __future__ import annotations

import time

import dagster as dg
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG
from kombu.exceptions import OperationalError

from . import liveness
from .dagster_internals import CheckRunHealthResult, DagsterUserCodeUnreachableError, WorkerStatus

DEFAULT_HEARTBEAT_SECONDS = 2
DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 10
# Well under run monitoring's start timeout (300 s in deploy/), which fails a run that never started.
DEFAULT_DATABASE_WAIT_SECONDS = 60


class WarmCeleryRunLauncher(CeleryRunLauncher):
    """Runs each run as a Celery task on a warm ``datatasker worker``; the backend must be Redis."""

    def __init__(
        self,
        heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
        heartbeat_timeout_seconds: float = DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
        database_wait_seconds: float = DEFAULT_DATABASE_WAIT_SECONDS,
        **celery_launcher_config,
    ):
        super().__init__(**celery_launcher_config)
        if not (self.backend or "").startswith(("redis://", "rediss://")):
            raise dg.DagsterInvariantViolationError(
                f"WarmCeleryRunLauncher needs a Redis result backend (redis://...), got {self.backend!r}: "
                "run heartbeats and claims live there"
            )
        self.heartbeat_seconds = float(heartbeat_seconds)
        self.heartbeat_timeout_seconds = float(heartbeat_timeout_seconds)
        self.database_wait_seconds = float(database_wait_seconds)
        self._redis = None

    @classmethod
    def config_type(cls):
        """dagster-celery's settings plus the heartbeat's period and timeout and the worker's database wait."""
        return {
            **CeleryRunLauncher.config_type(),
            "heartbeat_seconds": dg.Field(
                float, is_required=False, default_value=float(DEFAULT_HEARTBEAT_SECONDS),
                description="How often the task running a run refreshes its heartbeat.",
            ),
            "heartbeat_timeout_seconds": dg.Field(
                float, is_required=False, default_value=float(DEFAULT_HEARTBEAT_TIMEOUT_SECONDS),
                description="A heartbeat older than this means the worker died: the run fails.",
            ),
            "database_wait_seconds": dg.Field(
                float, is_required=False, default_value=float(DEFAULT_DATABASE_WAIT_SECONDS),
                description="How long a worker whose run's task arrives while the Dagster database does not "
                "answer (a restart) keeps trying before it gives the run up to the start timeout.",
            ),
        }

    @property
    def redis(self):
        """The result backend's Redis, connected on first use (after any fork)."""
        if self._redis is None:
            self._redis = liveness.redis_client(self.backend)
        return self._redis

    # -- launching ---------------------------------------------------------------
    def launch_run(self, context) -> None:
        """Publish the run's task; if the broker cannot take it, let the queue retry the run later."""
        try:
            super().launch_run(context)
        except (OperationalError, OSError) as error:  # kombu's "cannot reach the broker", or a socket error
            raise DagsterUserCodeUnreachableError(
                f"the Celery broker did not take run {context.dagster_run.run_id} ({error}); "
                "the run goes back to the queue"
            ) from error

    # -- terminating ----------------------------------------------------------------
    def terminate(self, run_id: str) -> bool:
        """Revoke the run's task; kill it (SIGTERM to the one child running it) if it has started."""
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished or DAGSTER_CELERY_TASK_ID_TAG not in run.tags:
            return False
        # As the DefaultRunLauncher does: CANCELING first, so the interrupted run records CANCELED, not FAILURE.
        self._instance.report_run_canceling(run)
        result = self.celery.AsyncResult(run.tags[DAGSTER_CELERY_TASK_ID_TAG])
        worker = liveness.claimed_by(self.redis, run_id)
        if worker is not None:
            # Read by the run's heartbeat: it interrupts the run again if this SIGTERM is lost.
            liveness.request_termination(self.redis, run_id)
        result.revoke(terminate=worker is not None, signal="SIGTERM")
        if worker is None:
            # No worker took it: revoked, it will never start, so nobody else would end the run.
            self._instance.report_engine_event(
                "Celery task revoked before any worker started it.", run, cls=self.__class__
            )
            self._instance.report_run_canceled(run)
        return True

    # -- health ------------------------------------------------------------------------
    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        """RUNNING while the run's heartbeat is fresh; FAILED, naming the worker, once it has lapsed."""
        task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
        if task_id is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not launched through Celery: not monitored here")
        try:
            return self._health_from_heartbeat(run.run_id, task_id)
        except Exception as error:  # Redis unreachable: not knowing is no reason to fail a run
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"cannot read the run's heartbeat: {error}", transient=True)

    def _health_from_heartbeat(self, run_id: str, task_id: str) -> CheckRunHealthResult:
        if liveness.heartbeat_worker(self.redis, run_id):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        state = self.celery.AsyncResult(task_id).state
        worker = liveness.claimed_by(self.redis, run_id) or "no worker"
        if state == "SUCCESS":
            return self._health_of_a_returned_task(run_id, task_id, worker)
        if state == "FAILURE":
            return CheckRunHealthResult(WorkerStatus.FAILED, f"Celery task {task_id} failed on worker {worker}.")
        # A missed beat (Redis restarting) is not a death: look once more after two beats.
        time.sleep(2 * self.heartbeat_seconds)
        if liveness.heartbeat_worker(self.redis, run_id):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"Celery worker {worker} stopped sending the heartbeat of this run for over "
            f"{self.heartbeat_timeout_seconds:g} s (task {task_id} {state}): the worker died "
            "(killed, out of memory, or its machine was lost).",
        )

    def _health_of_a_returned_task(self, run_id: str, task_id: str, worker: str) -> CheckRunHealthResult:
        """The task returned: the run has ended, unless its last events never reached the database.

        Read after the task's state, so a run that recorded its end just before
        its task returned is seen finished. One that is still unfinished now
        never will be: Dagster's monitor leaves a run whose worker reports
        SUCCESS alone, so it would stay STARTED forever.
        """
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return CheckRunHealthResult(WorkerStatus.SUCCESS)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"Celery task {task_id} returned on worker {worker}, but the run never recorded its end: "
            "its last events could not be written (was the Dagster database unreachable?). "
            "The worker's log has the error.",
        )

    def get_run_worker_debug_info(self, run: dg.DagsterRun, include_container_logs: bool | None = True) -> str | None:
        """The task, its state and the worker that claimed the run."""
        task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
        if task_id is None:
            return None
        try:
            worker = liveness.claimed_by(self.redis, run.run_id)
            state = self.celery.AsyncResult(task_id).state
        except Exception as error:
            return f"celery task {task_id}: cannot read its state ({error})"
        return f"celery task {task_id}: state {state}, worker {worker or 'none'}"
