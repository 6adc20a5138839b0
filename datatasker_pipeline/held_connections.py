"""PostgreSQL storage that keeps its connections open, and the instance a warm worker keeps between runs.

Outside the webserver, Dagster's PostgreSQL storages open a new connection
for every statement (SQLAlchemy's ``NullPool``), so that no idle process
keeps connections. Every process of a deployment pays for it: a run writes
about 50 events of a few statements each, and on the 2-core machine a
16-row run opened 182 connections (0.42 s of its 1.1 s, each also starting a
server backend on the same cores); the daemon's sensor, run queue and run
monitoring loops open more every second.

``HeldConnectionsPostgresStorage`` is the stock ``storage: postgres`` with
the webserver's connection handling in every process: one connection per
storage, held. The production instance configs (``deploy/*.yaml``) name it::

    storage:
      custom:
        module: datatasker_pipeline.held_connections
        class: HeldConnectionsPostgresStorage
        config:
          postgres_db: {...}   # exactly as under `storage: postgres:`

What it trades: each process holds up to three connections while it lives
(more only while its threads query at the same moment), and after a server
restart the first statement on a held connection fails once before the pool
reconnects -- the behaviour the webserver always had.
"""

from __future__ import annotations

import logging
import os
import time

import dagster as dg
from dagster_postgres import DagsterPostgresStorage

# No statement timeout: a run's writes are never cut off (as with Dagster's per-statement connections).
NO_STATEMENT_TIMEOUT_MS = 0
# A held connection is replaced after an hour, in case the server or a proxy drops idle ones.
POOL_RECYCLE_SECONDS = 3600
# While the database does not answer, a run's worker tries again after this, doubling up to the cap.
FIRST_RETRY_PAUSE_SECONDS = 0.5
MAX_RETRY_PAUSE_SECONDS = 5.0

log = logging.getLogger(__name__)

# Beyond the held one, while threads query at once (the daemon's loops, a run's cancellation
# watch); these are closed when returned. Past this a query waits for a connection.
POOL_MAX_OVERFLOW = 20


class HeldConnectionsPostgresStorage(DagsterPostgresStorage):
    """Dagster's PostgreSQL storage (runs, events, schedules in one database), connections held open.

    Configured exactly like ``storage: postgres:``.
    """

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> DagsterPostgresStorage:
        storage = DagsterPostgresStorage.from_config_value(inst_data, config_value)
        for part in (storage.run_storage, storage.event_log_storage, storage.schedule_storage):
            part.optimize_for_webserver(
                statement_timeout=NO_STATEMENT_TIMEOUT_MS,
                pool_recycle=POOL_RECYCLE_SECONDS,
                max_overflow=POOL_MAX_OVERFLOW,
            )
        return storage


def _first_cause(error: BaseException) -> str:
    """The first line of the innermost error: dagster-postgres wraps the driver's in "too many retries"."""
    while error.__cause__ is not None:
        error = error.__cause__
    return (str(error).strip() or type(error).__name__).splitlines()[0]


class ProcessInstance:
    """One worker process's instance, opened by its first run and kept for the next.

    A pool process that runs several runs (``datatasker worker
    --max-runs-per-child N`` above 1) would otherwise pay the storages' set-up
    (and their table checks and connections) for each of them.
    Nothing of a run lives in it (runs keep their state in the database), and
    it is opened in the process that uses it: an instance seen from a forked
    child is dropped, never shared. Each run first reads its own run record
    through it; if that fails (the database restarted since the last run, so
    held connections are dead) the instance is replaced by a new one.
    """

    def __init__(self) -> None:
        self._instance: dg.DagsterInstance | None = None
        self._owner_pid: int | None = None

    def for_run(self, run_id: str, wait_seconds: float = 0.0) -> dg.DagsterInstance:
        """The instance, checked usable by reading the run's record; a new one when it is not.

        While the database does not answer (a restart, a failover), tries again
        for up to ``wait_seconds``: a run whose task arrives in that moment
        starts late instead of being left STARTING until the run monitor's
        start timeout fails it. The last error is raised after that.
        """
        deadline = time.monotonic() + wait_seconds
        pause = FIRST_RETRY_PAUSE_SECONDS
        while True:
            try:
                return self._checked_for(run_id)
            except Exception as error:  # driver and SQLAlchemy errors differ by server and state
                self.close()
                if time.monotonic() + pause > deadline:
                    raise
                reason = _first_cause(error)
                log.warning("run %s: the Dagster database does not answer (%s); trying again in %.1f s",
                            run_id, reason, pause)
                time.sleep(pause)
                pause = min(2 * pause, MAX_RETRY_PAUSE_SECONDS)

    def _checked_for(self, run_id: str) -> dg.DagsterInstance:
        if self._instance is not None and self._owner_pid == os.getpid():
            try:
                self._instance.get_run_by_id(run_id)
                return self._instance
            except Exception:  # dead held connections: a new instance gets new ones
                self.close()
        self._instance = dg.DagsterInstance.get()
        self._owner_pid = os.getpid()
        self._instance.get_run_by_id(run_id)
        return self._instance

    def close(self) -> None:
        instance, owned = self._instance, self._owner_pid == os.getpid()
        self._instance = self._owner_pid = None
        if instance is not None and owned:
            try:
                instance.dispose()
            except Exception:  # disposing of dead connections may fail too; they are gone either way
                log.debug("disposing of the old instance failed", exc_info=True)
