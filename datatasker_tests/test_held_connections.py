"""The instance runs execute against holds its PostgreSQL connections, and is replaced when they die.

Connections are counted by the server itself (``pg_stat_database.sessions``,
which counts every session to the database once it ends).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid

import pytest

from datatasker_pipeline.definitions import defs
from datatasker_pipeline.defs.sales.partitions import sales_files
from datatasker_pipeline.held_connections import ProcessInstance
from datatasker_pipeline.testing import postgres as pgh
from datatasker_pipeline.vocabulary import JOB_NAME

pytestmark = pytest.mark.postgres

SMALL_FILE = "region,revenue,quantity,discount\n" + "".join(f"north,{i}.5,{i + 1},0.1\n" for i in range(16))


def sessions_ended(db_name: str) -> int:
    """Sessions to ``db_name`` that have ended, once the server's statistics have caught up."""
    conn = pgh.connect()
    try:
        with conn.cursor() as cur:
            last, settled_at = None, time.monotonic()
            while True:
                cur.execute("SELECT pg_stat_clear_snapshot()")
                cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (db_name,))
                count = cur.fetchone()[0]
                if count != last:
                    last, settled_at = count, time.monotonic()
                elif time.monotonic() - settled_at > 1.5:
                    return count
                time.sleep(0.25)
    finally:
        conn.close()


def drop_and_run(instance, data_dir) -> bool:
    key = f"small-{uuid.uuid4().hex[:8]}.csv"
    (data_dir / "incoming" / key).write_text(SMALL_FILE)
    instance.add_dynamic_partitions(sales_files.name, [key])
    return defs.resolve_job_def(JOB_NAME).execute_in_process(instance=instance, partition_key=key).success


def test_runs_through_a_kept_instance_open_a_handful_of_connections_not_one_per_statement(pg_env):
    held = ProcessInstance()
    instance = held.for_run("no-run-yet")
    assert drop_and_run(instance, pg_env["data_dir"])  # tables created, first run
    before = sessions_ended(pg_env["db_name"])
    for _ in range(3):
        assert held.for_run("no-run-yet") is instance
        assert drop_and_run(instance, pg_env["data_dir"])
    held.close()
    opened = sessions_ended(pg_env["db_name"]) - before
    # With Dagster's per-statement connections the same three runs opened 552 here (12 held).
    assert opened <= 15, f"{opened} connections for three runs"


def test_an_instance_whose_connections_died_is_replaced_by_a_working_one(pg_env):
    held = ProcessInstance()
    first = held.for_run("no-run-yet")
    assert drop_and_run(first, pg_env["data_dir"])
    assert pgh.drop_every_connection(pg_env["db_name"]) > 0  # what a server restart does to held connections
    second = held.for_run("no-run-yet")
    assert second is not first
    assert drop_and_run(second, pg_env["data_dir"])
    held.close()


def test_a_run_arriving_while_the_database_refuses_connections_waits_for_it(pg_env):
    held = ProcessInstance()
    first = held.for_run("no-run-yet")
    got = {}
    worker = threading.Thread(target=lambda: got.update(instance=held.for_run("no-run-yet", wait_seconds=60)))
    with pgh.connections_refused(pg_env["db_name"]):
        refused_at = time.monotonic()
        worker.start()
        time.sleep(3)
        assert worker.is_alive() and not got  # still trying, not failed
    worker.join(timeout=60)
    assert time.monotonic() - refused_at >= 3
    assert got["instance"] is not first
    assert drop_and_run(got["instance"], pg_env["data_dir"])
    held.close()


def test_a_database_that_stays_away_longer_than_the_wait_raises_its_error(pg_env):
    held = ProcessInstance()
    held.for_run("no-run-yet")
    with pgh.connections_refused(pg_env["db_name"]):
        started = time.monotonic()
        with pytest.raises(Exception) as raised:
            held.for_run("no-run-yet", wait_seconds=2)
        assert time.monotonic() - started < 20  # dagster-postgres's own retries (about 6 s), then one more try at most
    causes = []
    error = raised.value
    while error is not None:
        causes.append(str(error))
        error = error.__cause__
    assert any("not currently accepting connections" in cause for cause in causes), causes
    assert held.for_run("no-run-yet") is not None  # and it works again once the database answers
    held.close()


def _child_gets_its_own(held: ProcessInstance, parents: int, answer) -> None:
    mine = held.for_run("no-run-yet")
    answer.put((id(mine) != parents, mine.get_run_by_id("no-run-yet") is None))
    held.close()


def test_a_forked_worker_process_opens_its_own_instance_never_its_parents(pg_env):
    held = ProcessInstance()
    parents = held.for_run("no-run-yet")
    fork = multiprocessing.get_context("fork")
    answer = fork.Queue()
    child = fork.Process(target=_child_gets_its_own, args=(held, id(parents), answer))
    child.start()
    assert answer.get(timeout=60) == (True, True)
    child.join(timeout=60)
    assert held.for_run("no-run-yet") is parents  # the parent's is untouched by the child
    held.close()
