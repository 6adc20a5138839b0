"""Is a run's worker alive? A Redis heartbeat written by the task running the run, and a one-time claim.

Celery alone cannot tell: a worker killed with ``kill -9`` (or an OOM kill, or
a lost machine) leaves its task STARTED in the result backend forever. So the
process executing a run refreshes a short-lived key while it runs; the run
launcher's health check reads it. The claim (``SET NX``) makes a task message
delivered twice (after a broker restart) execute its run once.
"""

from __future__ import annotations

import threading

from ..vocabulary import RUN_CLAIM_KEY_PREFIX, RUN_HEARTBEAT_KEY_PREFIX

# A claim outlives any run; it only has to outlive redeliveries of the message.
CLAIM_SECONDS = 7 * 24 * 3600


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


def heartbeat_worker(client, run_id: str) -> str | None:
    """The worker whose heartbeat for this run is fresh, or None when it has expired (or never existed)."""
    return client.get(RUN_HEARTBEAT_KEY_PREFIX + run_id)


class RunHeartbeat:
    """While the ``with`` block runs, a thread keeps ``<prefix><run_id> = worker`` alive for ``ttl`` seconds.

    Started inside the task (after the worker forked its child), so no thread
    ever crosses a fork. A failed refresh (Redis restarting) is retried on the
    next beat; ``ttl`` is several beats long so one miss is harmless.
    """

    def __init__(self, client, run_id: str, worker: str, interval: float, ttl: float):
        self.client, self.worker = client, worker
        self.key = RUN_HEARTBEAT_KEY_PREFIX + run_id
        self.interval, self.ttl = interval, ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat_until_stopped, name=f"heartbeat-{run_id}", daemon=True)

    def _beat(self) -> None:
        self.client.set(self.key, self.worker, px=int(self.ttl * 1000))

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
            self.client.delete(self.key)
        except Exception:  # it expires by itself within ttl
            pass
