"""The Celery deployment as plain processes: docker-compose.yml's code server, webserver, daemon and workers.

Same processes as :class:`~.deployment.Deployment` over ``deploy/celery/dagster.yaml``
instead of ``deploy/dagster.yaml``, plus ``datatasker worker`` processes with
distinct node names, each in its own process group (so a test can kill a
whole worker, pool children included, the way a container dies).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from ..vocabulary import CELERY_BACKEND_URL_ENV, CELERY_BROKER_URL_ENV, INCOMING_DIR
from .deployment import DEPLOY_DIR, Deployment, started
from .host import executable
from .postgres import fresh_database, require_postgres
from .services import REDIS_URL, fresh_vhost

CELERY_DAGSTER_YAML = DEPLOY_DIR / "celery" / "dagster.yaml"
WORKER_READY_LINE = b"ready."


class CeleryDeployment(Deployment):
    """Code server, webserver, daemon and ``workers`` warm Celery workers over PostgreSQL, RabbitMQ, Redis."""

    def __init__(self, workdir: Path, db_name: str, data_dir: Path, broker_url: str,
                 workers: tuple[str, ...] = ("worker-a", "worker-b"), concurrency: int = 2,
                 backend_url: str = REDIS_URL, extra_env: Mapping[str, str] | None = None):
        env = {CELERY_BROKER_URL_ENV: broker_url, CELERY_BACKEND_URL_ENV: backend_url, **(extra_env or {})}
        super().__init__(workdir, db_name, data_dir, extra_env=env)
        shutil.copyfile(CELERY_DAGSTER_YAML, self.dagster_home / "dagster.yaml")
        self.workers = workers
        self.concurrency = concurrency

    def node_name(self, worker: str) -> str:
        """The worker's Celery node name, as failure messages and Flower show it."""
        return f"datatasker-{worker}@{os.uname().nodename}"

    def commands(self) -> dict[str, list[str]]:
        commands = super().commands()
        for worker in self.workers:
            commands[worker] = [
                executable("datatasker"), "worker", "--name", self.node_name(worker),
                "--concurrency", str(self.concurrency), "--loglevel", "INFO",
            ]
        return commands

    def start(self, timeout: float = 240.0) -> None:
        super().start(timeout)
        for worker in self.workers:
            self.start_worker(worker, timeout)

    def start_worker(self, worker: str, timeout: float = 240.0) -> None:
        """Start (or restart) one worker and wait until Celery says it is ready."""
        self._spawn(worker, self.commands()[worker])
        self._poll(f"worker {worker} not ready", timeout,
                   lambda: (WORKER_READY_LINE in (self.logs_dir / f"{worker}.log").read_bytes() or None, "starting"))

    def kill_worker(self, worker: str) -> None:
        """kill -9 the whole worker (main process and pool children), as when its container or machine dies."""
        proc = self.procs.pop(worker)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        # Its log restarts clean, so a restarted worker's "ready." is its own.
        log = self.logs_dir / f"{worker}.log"
        log.rename(log.with_suffix(f".killed-{int(time.time())}.log"))


@contextlib.contextmanager
def running_celery_deployment(base: Path, database_prefix: str = "dt_test", **kwargs):
    """A fresh database and vhost, and the Celery deployment over them; log tails on failure."""
    require_postgres()
    with fresh_database(database_prefix) as db_name, fresh_vhost(database_prefix) as broker_url:
        data_dir = base / "data"
        (data_dir / INCOMING_DIR).mkdir(parents=True)
        with started(CeleryDeployment(base / "deploy", db_name, data_dir, broker_url, **kwargs)) as dep:
            yield dep
