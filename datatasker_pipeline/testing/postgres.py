"""A temporary PostgreSQL database on the local server, for deployment and load tests and benchmarks.

Connection of the *test* server (not the deployment's own settings):
  DATATASKER_TEST_PG_HOST (127.0.0.1), DATATASKER_TEST_PG_PORT (5432),
  DATATASKER_TEST_PG_USER (postgres), DATATASKER_TEST_PG_PASSWORD ("").
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

PG_HOST = os.environ.get("DATATASKER_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DATATASKER_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("DATATASKER_TEST_PG_USER", "postgres")
PG_PASSWORD = os.environ.get("DATATASKER_TEST_PG_PASSWORD", "")


def connect(dbname: str = "postgres"):
    import psycopg2

    conn = psycopg2.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        password=PG_PASSWORD,
        dbname=dbname,
        connect_timeout=5,
    )
    conn.autocommit = True
    return conn


def server_problem() -> str | None:
    """None when the server answers, otherwise why it does not."""
    try:
        conn = connect()
    except Exception as exc:  # psycopg2.OperationalError and friends
        return f"{type(exc).__name__}: {str(exc).strip()}"
    conn.close()
    return None


def server_description() -> str:
    return f"PostgreSQL at {PG_HOST}:{PG_PORT} as {PG_USER!r}"


def require_postgres() -> None:
    """A clear error when the server does not answer (tests skip or fail before getting here)."""
    problem = server_problem()
    if problem is not None:
        raise RuntimeError(f"{server_description()} is unreachable: {problem}")


@contextlib.contextmanager
def fresh_database(prefix: str = "dt_test") -> Iterator[str]:
    """Create an empty database `<prefix>_<uuid>` and drop it afterwards."""
    require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex}"
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    try:
        yield name
    finally:
        conn = connect()
        try:
            with conn.cursor() as cur:
                # FORCE (PostgreSQL 13+) ends connections a killed process left behind.
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


def database_exists(name: str) -> bool:
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def drop_every_connection(db_name: str) -> int:
    """End every session to ``db_name`` (but this one), as a server restart does; how many were ended.

    Done through the server's own ``pg_terminate_backend``, so it works on a
    test server this machine cannot restart.
    """
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (db_name,),
            )
            return cur.fetchone()[0]
    finally:
        conn.close()


def restart_local_server() -> bool:
    """Restart the PostgreSQL cluster on this machine (Debian's ``pg_ctlcluster``); False when it cannot.

    Only for a test server on this host: one at another address, or a machine
    without ``pg_ctlcluster``, is left alone.
    """
    import shutil
    import subprocess
    from pathlib import Path

    clusters = Path("/etc/postgresql")
    if PG_HOST not in ("127.0.0.1", "localhost") or shutil.which("pg_ctlcluster") is None or not clusters.is_dir():
        return False
    version = sorted(p.name for p in clusters.iterdir())[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True, timeout=120)
    return True


@contextlib.contextmanager
def connections_refused(db_name: str) -> Iterator[None]:
    """While inside, the server refuses every new connection to ``db_name`` and has ended the open ones.

    What clients of that database see while a server restarts or fails over,
    on a server shared with other databases (``ALLOW_CONNECTIONS``; it binds
    superusers too).
    """
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{db_name}" WITH ALLOW_CONNECTIONS false')
        drop_every_connection(db_name)
        yield
    finally:
        with conn.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{db_name}" WITH ALLOW_CONNECTIONS true')
        conn.close()
