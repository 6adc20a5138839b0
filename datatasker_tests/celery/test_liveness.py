"""The run heartbeat and claim against the local Redis, and the launcher's checks that need no broker."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid

import dagster as dg
import pytest
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

from datatasker_pipeline.celery import liveness
from datatasker_pipeline.celery.dagster_internals import WorkerStatus
from datatasker_pipeline.celery.launcher import WarmCeleryRunLauncher
from datatasker_pipeline.testing.services import REDIS_URL
from datatasker_pipeline.vocabulary import RUN_HEARTBEAT_KEY_PREFIX, RUN_TERMINATE_KEY_PREFIX

pytestmark = pytest.mark.celery


@pytest.fixture
def client():
    return liveness.redis_client(REDIS_URL)


def test_a_run_is_claimed_once_and_the_claim_names_the_first_worker(client):
    run_id = f"test-{uuid.uuid4().hex}"
    assert liveness.claim_run(client, run_id, "datatasker-a@host") is None
    assert liveness.claim_run(client, run_id, "datatasker-b@host") == "datatasker-a@host"
    assert liveness.claimed_by(client, run_id) == "datatasker-a@host"


def test_the_heartbeat_lives_while_the_run_does_and_lapses_when_its_process_stops_beating(client):
    run_id = f"test-{uuid.uuid4().hex}"
    with liveness.RunHeartbeat(client, run_id, "datatasker-a@host", interval=0.2, ttl=1.0):
        time.sleep(1.5)  # longer than the TTL: the thread kept it alive
        assert liveness.heartbeat_worker(client, run_id) == "datatasker-a@host"
    assert liveness.heartbeat_worker(client, run_id) is None  # a finished run removes it

    # A process killed mid-run cannot delete it: the key expires by itself.
    client.set(RUN_HEARTBEAT_KEY_PREFIX + run_id, "datatasker-a@host", px=300)
    time.sleep(0.5)
    assert liveness.heartbeat_worker(client, run_id) is None


def test_a_run_asked_to_stop_that_goes_on_is_interrupted_again_until_it_ends(client):
    """Celery's one SIGTERM can be lost (Dagster's interrupt raised inside a weakref callback)."""
    run_id = f"test-{uuid.uuid4().hex}"
    interrupts: list[float] = []
    with liveness.RunHeartbeat(
        client, run_id, "datatasker-a@host", interval=0.05, ttl=1.0,
        interrupt=lambda: interrupts.append(time.monotonic()), interrupt_again_after=0.3,
    ):
        time.sleep(0.5)
        assert interrupts == []  # nobody asked it to stop
        asked = time.monotonic()
        liveness.request_termination(client, run_id)
        time.sleep(1.25)
    sent = len(interrupts)
    assert interrupts[0] - asked >= 0.3  # the revoke's own SIGTERM is given its chance first
    assert 2 <= sent <= 5  # then again every 0.3 s while the run goes on
    assert client.exists(RUN_TERMINATE_KEY_PREFIX + run_id) == 0  # the ended run removes the request
    time.sleep(0.4)
    assert len(interrupts) == sent  # and is not interrupted after it ended


def test_the_launcher_needs_a_redis_backend():
    with pytest.raises(dg.DagsterInvariantViolationError, match="Redis result backend"):
        WarmCeleryRunLauncher(default_queue="dagster", broker="pyamqp://guest@127.0.0.1//", backend="rpc://")


def test_a_run_not_launched_through_celery_is_left_alone_by_monitoring():
    launcher = WarmCeleryRunLauncher(default_queue="dagster", broker="pyamqp://guest@127.0.0.1//", backend=REDIS_URL)
    health = launcher.check_run_worker_health(dg.DagsterRun(job_name="process_sales_file", run_id=uuid.uuid4().hex))
    assert health.status == WorkerStatus.RUNNING


def test_a_run_whose_task_returned_without_recording_its_end_fails_and_a_finished_one_is_left_alone():
    """A run's last events can fail to reach a restarting database while its task still returns normally."""
    launcher = WarmCeleryRunLauncher(default_queue="dagster", broker="pyamqp://guest@127.0.0.1//", backend=REDIS_URL)
    with dg.DagsterInstance.ephemeral() as instance:
        launcher.register_instance(instance)
        stranded, finished = (
            instance.add_run(dg.DagsterRun(job_name="process_sales_file", run_id=uuid.uuid4().hex, status=status,
                                           tags={DAGSTER_CELERY_TASK_ID_TAG: uuid.uuid4().hex}))
            for status in (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.SUCCESS)
        )
        for run in (stranded, finished):  # as the worker leaves them: task returned, heartbeat gone
            launcher.celery.backend.store_result(run.tags[DAGSTER_CELERY_TASK_ID_TAG], 1, "SUCCESS")
            liveness.claim_run(liveness.redis_client(REDIS_URL), run.run_id, "datatasker-a@host")

        health = launcher.check_run_worker_health(stranded)
        assert health.status == WorkerStatus.FAILED
        assert "datatasker-a@host" in health.msg and "never recorded its end" in health.msg
        assert launcher.check_run_worker_health(finished).status == WorkerStatus.SUCCESS


def test_a_worker_process_whose_first_interrupt_was_swallowed_is_interrupted_again(client):
    """The worker's own re-interrupt (a real SIGTERM to itself), in a process that loses the first one."""
    run_id = f"test-{uuid.uuid4().hex}"
    liveness.request_termination(client, run_id)
    script = textwrap.dedent(f"""
        import signal, time
        from datatasker_pipeline.celery import liveness
        from datatasker_pipeline.celery.worker import interrupt_the_run_again

        def interrupted(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupted)
        client = liveness.redis_client({REDIS_URL!r})
        heartbeat = liveness.RunHeartbeat(client, {run_id!r}, "datatasker-a@host", interval=0.05, ttl=1.0,
                                          interrupt=interrupt_the_run_again, interrupt_again_after=0.2)
        interrupts = 0
        with heartbeat:
            started = time.monotonic()
            while time.monotonic() - started < 20:
                try:
                    time.sleep(0.01)
                except KeyboardInterrupt:
                    interrupts += 1  # the first is lost, as inside a weakref callback
                    if interrupts == 2:
                        break
        print(interrupts)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2"]

