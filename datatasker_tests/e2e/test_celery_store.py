"""Warm Celery workers over an S3 data root: the deployment that needs no shared folder between machines.

Code server, webserver, daemon and two ``datatasker worker`` processes over
PostgreSQL, RabbitMQ, Redis and a real SeaweedFS; files are uploaded to the
bucket, never written to a folder the workers share.
"""

from __future__ import annotations

import json
import os
import time

import pytest
import redis

from datatasker_pipeline.testing.deployment import sales_csv
from datatasker_pipeline.testing.services import REDIS_URL
from datatasker_pipeline.testing.workers import running_celery_deployment
from datatasker_pipeline.vocabulary import (
    DATA_DIR_ENV,
    FINISHED_STATUSES,
    OUTPUT_FILE_NAMES,
    RUN_CLAIM_KEY_PREFIX,
    WORK_DIR_ENV,
)

from .test_faults import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.celery, pytest.mark.s3, pytest.mark.timeout(900)]


def test_workers_take_uploaded_files_from_the_store_and_publish_their_results_there(s3_server, tmp_path):
    url = s3_server.url(f"celery-{os.urandom(4).hex()}")
    env = {**s3_server.env(), DATA_DIR_ENV: url, WORK_DIR_ENV: str(tmp_path / "work")}
    store, root = s3_server.filesystem(), url.removeprefix("s3://")
    names = [f"upload_{i:02d}.csv" for i in range(20)]
    with running_celery_deployment(tmp_path, extra_env=env) as deployment:
        started = time.monotonic()
        for i, name in enumerate(names):
            store.pipe_file(f"{root}/incoming/{name}", sales_csv(i).encode())

        def uploads_finished():
            runs = [r for r in deployment.runs() if r["tagmap"].get("datatasker/file_name", "").startswith("upload_")]
            return len([r for r in runs if r["status"] in FINISHED_STATUSES]) >= len(names) and runs

        wait_until(uploads_finished, 400, "20 uploaded files' runs to finish", deployment, interval=2)
        print(f"\n[celery+s3] 20 uploads drained in {time.monotonic() - started:.1f} s")
        time.sleep(6)  # one more sensor tick: nothing launches twice
        runs = uploads_finished()
    by_file = {}
    for run in runs:
        by_file.setdefault(run["tagmap"]["datatasker/file_name"], []).append(run["status"])
    assert by_file == {name: ["SUCCESS"] for name in names}
    backend = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    workers = {backend.get(RUN_CLAIM_KEY_PREFIX + r["runId"]) for r in runs}
    assert workers == {deployment.node_name(w) for w in deployment.workers}, workers
    for run in runs:
        manifest = json.loads(store.cat(f"{root}/manifests/{run['runId']}.json"))
        assert set(manifest["files"]) == set(OUTPUT_FILE_NAMES)
        assert store.exists(f"{root}/raw/{run['runId']}/{run['tagmap']['datatasker/file_name']}")
    assert [k for k in store.find(f"{root}/incoming") if k.endswith(".csv")] == []  # all taken out of the inbox
