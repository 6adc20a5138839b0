"""Is a run's worker alive? A Redis heartbeat written by the task running the run, and a one-time claim.

Celery alone cannot tell: a worker killed with ``kill -9`` (or an OOM kill, or
a lost machine) leaves its task STARTED in the result backend forever. So the
process executing a run refreshes a short-lived key while it runs; the run
launcher's health check reads it. The claim (``SET NX``) makes a task message
delivered twice (after a broker restart) execute its run once. A terminate
request is kept beside them, so the heartbeat can interrupt its run again if
the first SIGTERM was lost (see :class:`RunHeartbeat`).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from ..vocabulary import RUN_CLAIM_KEY_PREFIX, RUN_HEARTBEAT_KEY_PREFIX, RUN_TERMINATE_KEY_PREFIX

# A claim outlives any run; it only has to outlive redeliveries of the message.
CLAIM_SECONDS = 7 * 24 * 3600
# A terminate request outlives the run it stops (the run's heartbeat removes it when the run ends).
TERMINATE_REQUEST_SECONDS = 24 * 3600


def redis_client(url: str):
    """A client for the result backend's Redis (short timeouts: callers are health checks and tasks)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, decode_responses=True)


def claim_run(client, run_id: str, worker: str) -> str | None:
    """Claim the run for ``worker``: None if this worker has it now, else the worker that claimed it first."""
    key = RUN_CLAIM_KEY_PREFIX + run_id
    if client.set(key, worker, nx=True, ex=CLAIM_SECONDS):
        return None
    return client.get(key) or "an unknown worker"


def claimed_by(client, run_id: str) -> str | None:
    """The worker that took the run, if any did."""
    return client.get(RUN_CLAIM_KEY_PREFIX + run_id)


def request_termination(client, run_id: str) -> None:
    """Record that the run was asked to stop (its task's heartbeat acts on it if the run goes on)."""
    client.set(RUN_TERMINATE_KEY_PREFIX + run_id, "1", ex=TERMINATE_REQUEST_SECONDS)


def heartbeat_worker(client, run_id: str) -> str | None:
    """The worker whose heartbeat for this run is fresh, or None when it has expired (or never existed)."""
    return client.get(RUN_HEARTBEAT_KEY_PREFIX + run_id)


class RunHeartbeat:
    """While the ``with`` block runs, a thread keeps ``<prefix><run_id> = worker`` alive for ``ttl`` seconds.

    Started inside the task (after the worker forked its child), so no thread
    ever crosses a fork. A failed refresh (Redis restarting) is retried on the
    next beat; ``ttl`` is several beats long so one miss is harmless.

    Each beat also reads the run's terminate request. Celery's revoke sends
    SIGTERM once, and Dagster raises its interrupt wherever the main thread is:
    inside a weak-reference callback or a ``__del__`` Python prints
    "Exception ignored" and the run goes on to SUCCESS (seen in a CI run). So
    while a requested run still executes, ``interrupt`` is called again every
    ``interrupt_again_after`` seconds until the run ends.
    """

    def __init__(
        self,
        client,
        run_id: str,
        worker: str,
        interval: float,
        ttl: float,
        interrupt: Callable[[], None] | None = None,
        interrupt_again_after: float | None = None,
    ):
        self.client, self.worker = client, worker
        self.key = RUN_HEARTBEAT_KEY_PREFIX + run_id
        self.terminate_key = RUN_TERMINATE_KEY_PREFIX + run_id
        self.interval, self.ttl = interval, ttl
        self._interrupt = interrupt
        self._interrupt_again_after = ttl if interrupt_again_after is None else interrupt_again_after
        self._last_interrupt: float | None = None  # when the request was first seen, then when last acted on
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat_until_stopped, name=f"heartbeat-{run_id}", daemon=True)

    def _beat(self) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.key, self.worker, px=int(self.ttl * 1000))
        pipe.exists(self.terminate_key)
        _, requested = pipe.execute()
        if requested and self._interrupt is not None:
            self._interrupt_if_still_running()

    def _interrupt_if_still_running(self) -> None:
        now = time.monotonic()
        if self._last_interrupt is None:
            self._last_interrupt = now  # Celery's own SIGTERM is on its way or has landed
        elif now - self._last_interrupt >= self._interrupt_again_after and not self._stop.is_set():
            self._last_interrupt = now
            self._interrupt()

    def _beat_until_stopped(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._beat()
            except Exception:  # Redis briefly unreachable: the next beat tries again
                continue

    def __enter__(self) -> "RunHeartbeat":
        self._beat()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
        try:
            self.client.delete(self.key, self.terminate_key)
        except Exception:  # both expire by themselves
            pass
