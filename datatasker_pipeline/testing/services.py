"""The broker and result backend the Celery deployment needs: RabbitMQ and Redis on this machine.

Connection of the *test* servers (the deployment reads its own URLs from the
environment, see deploy/celery/dagster.yaml):
  DATATASKER_TEST_RABBITMQ (127.0.0.1:5672, guest/guest), DATATASKER_TEST_REDIS_URL (redis://127.0.0.1:6379/0).
Each test run gets its own RabbitMQ vhost, so leftover or parallel queues never meet.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

RABBITMQ_HOSTPORT = os.environ.get("DATATASKER_TEST_RABBITMQ", "127.0.0.1:5672")
REDIS_URL = os.environ.get("DATATASKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _port_problem(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as error:
        return f"{host}:{port}: {error}"


def services_problem() -> str | None:
    """None when RabbitMQ, Redis and rabbitmqctl are there, otherwise what is missing."""
    host, port = RABBITMQ_HOSTPORT.rsplit(":", 1)
    problem = _port_problem(host, int(port))
    if problem:
        return f"RabbitMQ unreachable at {problem}"
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as error:
        return f"Redis unreachable at {REDIS_URL}: {error}"
    if subprocess.run(["which", "rabbitmqctl"], capture_output=True).returncode != 0:
        return "rabbitmqctl is not on PATH (needed for a vhost per test run)"
    return None


def rabbitmqctl(*args: str, timeout: float = 120) -> str:
    """Run rabbitmqctl (an Erlang VM start: about a second) and return its output; raise if it failed."""
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def fresh_vhost(prefix: str = "dt_test") -> Iterator[str]:
    """A new RabbitMQ vhost ``<prefix>_<uuid>`` that guest may use; the broker URL for it; deleted afterwards."""
    vhost = f"{prefix}_{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"pyamqp://guest:guest@{RABBITMQ_HOSTPORT}/{vhost}"
    finally:
        with contextlib.suppress(Exception):
            rabbitmqctl("delete_vhost", vhost)


def broker_is_up() -> bool:
    """The AMQP port answers (after start_app it does once the broker takes connections)."""
    host, port = RABBITMQ_HOSTPORT.rsplit(":", 1)
    return _port_problem(host, int(port)) is None


@contextlib.contextmanager
def broker_stopped() -> Iterator[None]:
    """RabbitMQ's application stopped (queues kept on disk) for the ``with`` block, then started again.

    Started again whatever happens inside, so a failing test never leaves the
    machine without its broker.
    """
    rabbitmqctl("stop_app")
    try:
        yield
    finally:
        rabbitmqctl("start_app")
        deadline = time.monotonic() + 60
        while not broker_is_up() and time.monotonic() < deadline:
            time.sleep(0.5)
