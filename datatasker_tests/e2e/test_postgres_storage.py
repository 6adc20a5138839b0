"""The production instance config (deploy/dagster.yaml) against a real PostgreSQL.

Each test gets its own freshly created database, dropped afterwards. The
instance is built from the repository's deploy/dagster.yaml itself (copied
into a temporary DAGSTER_HOME): `storage: custom:` naming
`HeldConnectionsPostgresStorage` (the stock PostgreSQL storage, connections
held) with the `postgres_db: {username, password, hostname, db_name, port}`
config of `storage: postgres:`, every value read from environment variables.

Skips only when the server is unreachable and CI is not set; with CI set an
unreachable server fails the tests.
"""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest

from datatasker_pipeline.testing import deployment as prod
from datatasker_pipeline.testing import postgres as pgh
from datatasker_pipeline.testing.host import drop_atomically
from datatasker_pipeline.vocabulary import PARTITIONS_DEF_NAME

pytestmark = pytest.mark.postgres

ASSET_NAMES = ("raw_csv", "cleaned_sales", "region_summary", "anomaly_report")


@pytest.fixture
def pg_instance(pg_env):
    instance = dg.DagsterInstance.from_config(str(pg_env["home"]))
    try:
        yield instance
    finally:
        instance.dispose()


def _tables(db_name: str) -> set[str]:
    conn = pgh.connect(db_name)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def test_sqlalchemy_pin_keeps_psycopg2():
    """SQLAlchemy 2.1 maps postgresql:// to psycopg 3, and dagster-postgres then
    fails on its first NOTIFY. The project pins sqlalchemy<2.1 + psycopg2."""
    import sqlalchemy

    major, minor = (int(p) for p in sqlalchemy.__version__.split(".")[:2])
    assert (major, minor) < (2, 1), f"sqlalchemy {sqlalchemy.__version__}: dagster-postgres needs <2.1"
    engine = sqlalchemy.create_engine("postgresql://u@127.0.0.1/x")
    assert engine.dialect.driver == "psycopg2"


def test_instance_uses_postgres_for_every_storage(pg_env, pg_instance):
    import dagster_postgres

    assert isinstance(pg_instance.run_storage, dagster_postgres.PostgresRunStorage)
    assert isinstance(pg_instance.event_log_storage, dagster_postgres.PostgresEventLogStorage)
    assert isinstance(pg_instance.schedule_storage, dagster_postgres.PostgresScheduleStorage)
    assert type(pg_instance.run_coordinator).__name__ == "QueuedRunCoordinator"

    # The tables were created in *this* fresh database.
    tables = _tables(pg_env["db_name"])
    assert {"runs", "event_logs", "jobs", "job_ticks"} <= tables, sorted(tables)

    # Nothing fell back to SQLite under DAGSTER_HOME.
    assert not list(pg_env["home"].glob("**/*.db"))


def test_materialize_pipeline_partition_and_read_back(pg_env, pg_instance):
    from datatasker_pipeline.definitions import defs

    data_dir = pg_env["data_dir"]
    name = "pg_storage_sales.csv"
    dropped = drop_atomically(data_dir / "incoming", name, prod.sales_csv(seed=3))
    # The sensor waits until a file has been still for a moment (half-copied
    # files); age it instead of sleeping.
    past = time.time() - 120
    os.utime(dropped, (past, past))

    # Let the pipeline's own sensor name the partition (its key mapping is the
    # pipeline's business), then apply what it asked for, as the daemon would.
    (sensor,) = [s for s in defs.sensors if s.name == "incoming_csv_sensor"]
    resources = dict(defs.resources or {})
    with dg.build_sensor_context(instance=pg_instance, resources=resources) as ctx:
        result = sensor(ctx)
    assert isinstance(result, dg.SensorResult), result
    run_requests = list(result.run_requests or [])
    assert len(run_requests) == 1, run_requests
    request = run_requests[0]
    key = request.partition_key
    assert key, request
    pg_instance.add_dynamic_partitions(PARTITIONS_DEF_NAME, [key])
    assert key in pg_instance.get_dynamic_partitions(PARTITIONS_DEF_NAME)

    assets = [a for a in defs.assets if getattr(a, "key", None) is not None]
    assert {a.key.to_user_string() for a in assets} >= set(ASSET_NAMES)
    outcome = dg.materialize(
        assets,
        partition_key=key,
        instance=pg_instance,
        resources=resources,
        tags=dict(request.tags or {}),
    )
    assert outcome.success

    # Read it back -- from this instance and from a second one built from the
    # same config, as the webserver and daemon would.
    run = pg_instance.get_run_by_id(outcome.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags.get("dagster/partition") == key
    assert not prod.missing_outputs(data_dir, outcome.run_id), sorted((data_dir / "outputs").rglob("*"))

    other = dg.DagsterInstance.from_config(str(pg_env["home"]))
    try:
        runs = other.get_runs()
        assert [r.run_id for r in runs] == [outcome.run_id]
        event_types = {e.dagster_event.event_type for e in other.all_logs(outcome.run_id) if e.dagster_event}
        expected = {dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.ASSET_MATERIALIZATION}
        assert expected <= event_types, event_types
        for asset_name in ASSET_NAMES:
            records = other.fetch_materializations(dg.AssetKey(asset_name), limit=5).records
            assert [r.partition_key for r in records] == [key], asset_name
        assert key in other.get_dynamic_partitions(PARTITIONS_DEF_NAME)
    finally:
        other.dispose()

    # The rows live in the fresh PostgreSQL database.
    conn = pgh.connect(pg_env["db_name"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT run_id, status FROM runs")
            assert cur.fetchall() == [(outcome.run_id, "SUCCESS")]
            cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (outcome.run_id,))
            assert cur.fetchone()[0] > 0
    finally:
        conn.close()


def test_dynamic_partitions_shared_between_instances(pg_env, pg_instance):
    """What the sensor adds in the daemon is what the webserver and the run
    workers see: dynamic partitions persist in PostgreSQL across instances.
    (Schedule storage -- sensor ticks -- is checked by test_deployment.py,
    where the real daemon writes them.)"""
    pg_instance.add_dynamic_partitions(PARTITIONS_DEF_NAME, ["a_key", "b_key"])
    other = dg.DagsterInstance.from_config(str(pg_env["home"]))
    try:
        assert set(other.get_dynamic_partitions(PARTITIONS_DEF_NAME)) == {"a_key", "b_key"}
        other.delete_dynamic_partition(PARTITIONS_DEF_NAME, "a_key")
    finally:
        other.dispose()
    assert pg_instance.get_dynamic_partitions(PARTITIONS_DEF_NAME) == ["b_key"]
