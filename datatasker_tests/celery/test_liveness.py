"""The run heartbeat and claim against the local Redis, and the launcher's checks that need no broker."""

from __future__ import annotations

import time
import uuid

import dagster as dg
import pytest
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

from datatasker_pipeline.celery import liveness
from datatasker_pipeline.celery.dagster_internals import WorkerStatus
from datatasker_pipeline.celery.launcher import WarmCeleryRunLauncher
from datatasker_pipeline.testing.services import REDIS_URL
from datatasker_pipeline.vocabulary import RUN_HEARTBEAT_KEY_PREFIX

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
