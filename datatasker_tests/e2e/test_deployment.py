"""The production deployment: the compose file, and the same processes run plainly.

* `test_compose_file_*` (fast, no server): docker-compose.yml is parsed by a
  real compose implementation and wires the services (Celery broker, backend and workers included) the way the
  plain-process test below runs them.
* `test_plain_process_deployment` (e2e, postgres): starts exactly the three
  Dagster processes the compose file starts -- code server, webserver,
  daemon -- with the production dagster.yaml and workspace.yaml against a
  fresh PostgreSQL database, drops CSV files into incoming/ and reads the runs
  back over GraphQL.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from datatasker_pipeline.testing import deployment as prod
from datatasker_pipeline.testing import postgres as pgh
from datatasker_pipeline.testing.host import drop_atomically
from datatasker_pipeline.testing.stack import REPO_ROOT
from datatasker_pipeline.testing.workers import CELERY_DAGSTER_YAML, CeleryDeployment
from datatasker_pipeline.vocabulary import JOB_NAME

DAGSTER_SERVICES = ("user_code", "webserver", "daemon")
CONTAINER_DAGSTER_HOME = "/opt/dagster/dagster_home"
CONTAINER_WORKSPACE = "/opt/dagster/deploy/workspace.yaml"
CONTAINER_DATA_DIR = "/opt/dagster/data"
# The store's variables: the compose services get them, the plain-process test below
# (a local-folder data root) does not. Credentials are required from the environment.
STORE_ENV = {"AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}
STORE_SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
# What the compose checks set the required credentials to (a compose file must hold no secret of its own).
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "compose-test-key", "AWS_SECRET_ACCESS_KEY": "compose-test-secret"}


def _env_keys(node) -> set[str]:
    """Every `env: NAME` reference in a Dagster YAML document."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "env" and isinstance(value, str):
                found.add(value)
            else:
                found |= _env_keys(value)
    elif isinstance(node, list):
        for item in node:
            found |= _env_keys(item)
    return found


def _compose_binary() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def _check_compose_model(compose: dict) -> None:
    services = compose["services"]
    assert set(services) >= {"postgres", *DAGSTER_SERVICES}, sorted(services)

    # Every service has a healthcheck.
    for name in ("postgres", "s3", *DAGSTER_SERVICES):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["postgres"]["image"].startswith("postgres:15")
    uc_health = services["user_code"]["healthcheck"]["test"]
    assert uc_health[-5:] == ["dagster", "api", "grpc-health-check", "-p", "4000"], uc_health

    # Start order: postgres healthy -> code server healthy -> webserver, daemon.
    def deps(name):
        dep = services[name].get("depends_on") or {}
        assert isinstance(dep, dict), f"{name}: depends_on must use conditions"
        return {k: v.get("condition") for k, v in dep.items()}

    # ... and the S3 store holding the data root healthy before any of them.
    assert deps("user_code") == {"postgres": "service_healthy", "s3": "service_healthy"}
    for name in ("webserver", "daemon"):
        assert deps(name) == {"postgres": "service_healthy", "s3": "service_healthy", "user_code": "service_healthy"}

    # Commands are the ones the plain-process test runs.
    cmd = {n: [str(c) for c in services[n]["command"]] for n in DAGSTER_SERVICES}
    assert cmd["user_code"] == [
        "dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000",
        "-m", "datatasker_pipeline.definitions",
    ]
    assert cmd["webserver"] == [
        "dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", CONTAINER_WORKSPACE,
    ]
    assert cmd["daemon"] == ["dagster-daemon", "run", "-w", CONTAINER_WORKSPACE]

    # Same image, same environment, same config files, same data volume.
    dagster_yaml = yaml.safe_load(CELERY_DAGSTER_YAML.read_text())
    workspace_yaml = yaml.safe_load(prod.DEPLOY_WORKSPACE_YAML.read_text())
    needed_env = _env_keys(dagster_yaml) | _env_keys(workspace_yaml) | {"DAGSTER_HOME", "DATATASKER_DATA_DIR"}
    envs = []
    for name in (*DAGSTER_SERVICES, "worker"):
        svc = services[name]
        assert svc.get("image") == services["user_code"]["image"], f"{name} uses another image"
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        env = {k: str(v) for k, v in env.items()}
        missing = needed_env - set(env)
        assert not missing, f"{name} lacks env {sorted(missing)}"
        assert env["DAGSTER_HOME"] == CONTAINER_DAGSTER_HOME
        assert env["DAGSTER_PG_HOST"] == "postgres"
        assert env["DATATASKER_CODE_SERVER_HOST"] == "user_code"
        assert env["DATATASKER_CODE_SERVER_PORT"] == "4000"
        envs.append(env)

        mounts = {}
        for vol in svc.get("volumes") or []:
            if isinstance(vol, dict):
                mounts[vol["target"]] = str(vol.get("source"))
            else:
                parts = vol.split(":")
                mounts[parts[1]] = parts[0]
        dy = mounts.get(f"{CONTAINER_DAGSTER_HOME}/dagster.yaml")
        ws = mounts.get(CONTAINER_WORKSPACE)
        # The Celery instance by default (deploy/celery/dagster.yaml); DATATASKER_INSTANCE_YAML swaps it.
        assert dy and Path(dy).name == "dagster.yaml" and Path(dy).parent.name == "celery", mounts
        assert ws and Path(ws).name == "workspace.yaml" and Path(ws).parent.name == "deploy", mounts
        # The data root is a prefix of the s3 service's bucket; the mounted folder stays the alternative.
        assert env["DATATASKER_DATA_DIR"].startswith("s3://"), f"{name}: data root {env['DATATASKER_DATA_DIR']}"
        assert CONTAINER_DATA_DIR in mounts, f"{name}: the local-folder data root is not a shared volume"
        assert f"{CONTAINER_DAGSTER_HOME}/storage" in mounts, f"{name}: $DAGSTER_HOME/storage not shared"
    assert envs[0] == envs[1] == envs[2] == envs[3], "the Dagster services and workers must share one environment"
    _check_celery_services(services)
    _check_store_service(services, envs[0])

    pg_env = services["postgres"]["environment"]
    if isinstance(pg_env, list):
        pg_env = dict(item.split("=", 1) for item in pg_env)
    assert envs[0]["DAGSTER_PG_USERNAME"] == pg_env["POSTGRES_USER"]
    assert envs[0]["DAGSTER_PG_PASSWORD"] == pg_env["POSTGRES_PASSWORD"]
    assert envs[0]["DAGSTER_PG_DB"] == pg_env["POSTGRES_DB"]


def _check_celery_services(services: dict) -> None:
    """Broker, backend and scalable workers, as test_celery.py runs them; Flower only on request."""
    assert "rabbitmq" in services["rabbitmq"]["image"] and "redis" in services["redis"]["image"]
    for name in ("rabbitmq", "redis", "worker"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    worker = services["worker"]
    assert [str(c) for c in worker["command"]][:2] == ["datatasker", "worker"]
    assert "%h" in " ".join(str(c) for c in worker["command"]), "one node name per container"
    # Scalable (`--scale worker=N`): nothing that two containers could not share.
    assert "container_name" not in worker and "ports" not in worker
    conditions = {k: v.get("condition") for k, v in worker["depends_on"].items()}
    assert conditions == {name: "service_healthy" for name in ("postgres", "rabbitmq", "redis", "s3", "user_code")}
    assert services["flower"]["profiles"] == ["flower"]


def _check_store_service(services: dict, dagster_env: dict) -> None:
    """SeaweedFS as the shared data root: its bucket is the data root's, reached inside the network only."""
    s3 = services["s3"]
    assert s3["image"].split(":")[0] == "chrislusf/seaweedfs", s3["image"]
    command = [str(c) for c in (s3.get("entrypoint") or []) + s3["command"]]
    assert "mini" in command or "server" in command, command
    bucket = next(c.split("=", 1)[1] for c in command if c.startswith("-bucket="))
    assert dagster_env["DATATASKER_DATA_DIR"].removeprefix("s3://").split("/")[0] == bucket
    assert "-s3.port=8333" in command or not any(c.startswith("-s3.port=") for c in command)  # 8333 by default
    assert dagster_env["AWS_ENDPOINT_URL_S3"] == "http://s3:8333"
    assert not s3.get("ports"), "the store is reached inside the compose network only"
    targets = [v.get("target") if isinstance(v, dict) else str(v).split(":")[1] for v in s3.get("volumes") or []]
    assert "/data" in targets, "the store's data is not on a volume"
    assert "/healthz" in " ".join(s3["healthcheck"]["test"])
    store_env = s3.get("environment") or {}
    if isinstance(store_env, list):
        store_env = dict(item.split("=", 1) for item in store_env)
    # One identity: the store's credentials are the ones the services use, both from the environment.
    for key in STORE_SECRETS:
        assert str(store_env[key]) == dagster_env[key] == TEST_CREDENTIALS[key], key
    assert STORE_ENV <= set(dagster_env)


HOST_SPECIFIC_ENV = {
    "DATATASKER_CELERY_BROKER_URL", "DATATASKER_CELERY_BACKEND_URL",
    "DAGSTER_HOME", "DATATASKER_DATA_DIR", "DATATASKER_CODE_SERVER_HOST", "DATATASKER_CODE_SERVER_PORT",
    "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB",
}


def test_compose_file_structure(tmp_path):
    """Structure check with PyYAML alone (anchors resolved, no compose binary)."""
    # Unexpanded ${VAR:-default} values: substitute their defaults the way compose does;
    # ${VAR:?message} (required, no default): the value the environment gives.
    text = prod.COMPOSE_FILE.read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?[^}]*\}", text))
    assert required == set(STORE_SECRETS), f"required from the environment: {sorted(required)}"
    text = re.sub(r"\$\{([A-Z0-9_]+):\?[^}]*\}", lambda m: TEST_CREDENTIALS[m.group(1)], text)
    text = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", text)
    compose = yaml.safe_load(text)
    _check_compose_model(compose)

    # The plain-process test sets every variable the compose services get (the store's
    # aside: it runs on a local folder), with the same value wherever the value is not host-specific.
    compose_env = {k: str(v) for k, v in compose["services"]["daemon"]["environment"].items()}
    plain_env = CeleryDeployment(tmp_path, "dt_unused", tmp_path / "data", "pyamqp://unused//").env
    assert set(compose_env) - STORE_ENV <= set(plain_env), sorted(set(compose_env) - STORE_ENV - set(plain_env))
    compose_env = {k: v for k, v in compose_env.items() if k not in STORE_ENV}
    for key in set(compose_env) - HOST_SPECIFIC_ENV:
        assert plain_env[key] == compose_env[key], key

    # The workspace points at the code server by host and port.
    ws = yaml.safe_load(prod.DEPLOY_WORKSPACE_YAML.read_text())
    (entry,) = ws["load_from"]
    assert set(entry) == {"grpc_server"}
    assert {"host", "port", "location_name"} <= set(entry["grpc_server"])

    # The production instance config has what the deployment relies on.
    cfg = yaml.safe_load(prod.DEPLOY_DAGSTER_YAML.read_text())
    storage = cfg["storage"]["custom"]
    assert (storage["module"], storage["class"]) == ("datatasker_pipeline.held_connections", "HeldConnectionsPostgresStorage")
    assert set(storage["config"]["postgres_db"]) == {"username", "password", "hostname", "db_name", "port"}
    assert cfg["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert cfg["run_coordinator"]["config"]["dequeue_interval_seconds"] == 1
    assert prod.configured_max_concurrent_runs() > 0
    assert cfg["run_monitoring"]["enabled"] is True
    assert cfg["retention"]["sensor"] and cfg["retention"]["schedule"]

    # The image is the one the compose file builds.
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\s*$", dockerfile, re.M)
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "datatasker_pipeline.definitions" in dockerfile


def test_compose_file_parses_with_compose(tmp_path):
    """`docker-compose config` (Debian's docker-compose package) accepts the file."""
    binary = _compose_binary()
    if binary is None:
        pytest.skip("no docker-compose binary (apt-get install -y docker-compose) and no `docker compose` plugin")
    # Only this test's own variables: no .env of the checkout, no AWS_* of the caller.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATATASKER_", "SEAWEEDFS_"))}
    (tmp_path / "empty.env").write_text("")
    env_file = ("--env-file", str(tmp_path / "empty.env"))

    def config(extra: dict) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*binary, "-f", str(prod.COMPOSE_FILE), *env_file, "config"],
            cwd=str(REPO_ROOT), env={**env, **extra}, capture_output=True, text=True, timeout=120,
        )

    res = config(TEST_CREDENTIALS)
    assert res.returncode == 0, f"compose config failed:\n{res.stderr}\n{res.stdout}"
    _check_compose_model(yaml.safe_load(res.stdout))

    # The credentials have no default: without them compose refuses, naming the variable.
    refused = config({})
    assert refused.returncode != 0
    assert "AWS_ACCESS_KEY_ID" in refused.stderr + refused.stdout, refused.stderr

    # The documented alternative: the mounted folder as the data root.
    local = config({**TEST_CREDENTIALS, "DATATASKER_DATA_DIR": CONTAINER_DATA_DIR})
    assert local.returncode == 0, local.stderr
    daemon = yaml.safe_load(local.stdout)["services"]["daemon"]
    assert daemon["environment"]["DATATASKER_DATA_DIR"] == CONTAINER_DATA_DIR
    assert any(CONTAINER_DATA_DIR in str(v) for v in daemon["volumes"])


# --------------------------------------------------------------------------
# The same processes, plainly, against PostgreSQL
# --------------------------------------------------------------------------


@pytest.fixture
def deployment(tmp_path):
    with prod.running_deployment(tmp_path) as dep:
        yield dep


@pytest.mark.e2e
@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_plain_process_deployment(deployment):
    dep = deployment
    info = dep.wait_for_webserver(60)
    assert info.get("dagster_version"), info

    incoming = dep.data_dir / "incoming"
    names = [f"deploy_{i:02d}.csv" for i in range(3)]
    for i, name in enumerate(names):
        drop_atomically(incoming, name, prod.sales_csv(seed=i))

    deadline = time.monotonic() + 600
    runs: list[dict] = []
    while time.monotonic() < deadline:
        dep.check_alive()
        runs = dep.runs()
        bad = [r for r in runs if r["status"] in prod.TERMINAL_BAD]
        assert not bad, f"runs failed: {bad}\n{dep.all_log_tails()}"
        if len(runs) >= 3 and all(r["status"] == "SUCCESS" for r in runs):
            break
        time.sleep(3)
    else:
        pytest.fail(
            f"3 SUCCESS runs not seen in time; runs: "
            f"{[(r['runId'], r['status'], r['tagmap'].get('dagster/partition')) for r in runs]}\n"
            f"{dep.all_log_tails()}"
        )

    # Exactly one run per file, nothing extra.
    time.sleep(5)
    runs = dep.runs()
    assert len(runs) == 3, [(r["runId"], r["status"]) for r in runs]
    partitions = [r["tagmap"].get("dagster/partition") for r in runs]
    assert len(set(partitions)) == 3 and None not in partitions, partitions
    for name in names:
        stem = Path(name).stem
        matching = [p for p in partitions if stem in p]
        assert len(matching) == 1, (name, partitions)

    for run in runs:
        assert run["status"] == "SUCCESS"
        missing = prod.missing_outputs(dep.data_dir, run["runId"])
        assert not missing, f"run {run['runId']} lacks outputs {missing} under {dep.data_dir / 'outputs'}"

    # The runs live in the fresh PostgreSQL database, not in some SQLite file.
    import psycopg2

    conn = psycopg2.connect(
        host=pgh.PG_HOST, port=pgh.PG_PORT, user=pgh.PG_USER, password=pgh.PG_PASSWORD, dbname=dep.db_name
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT run_id, status FROM runs WHERE pipeline_name = %s", (JOB_NAME,))
            rows = dict(cur.fetchall())
            # Schedule storage: the daemon recorded the sensor's ticks here too.
            cur.execute("SELECT count(*) FROM job_ticks WHERE type = %s", ("SENSOR",))
            ticks = cur.fetchone()[0]
    finally:
        conn.close()
    assert rows == {r["runId"]: "SUCCESS" for r in runs}
    assert ticks > 0, "no sensor ticks in the PostgreSQL schedule storage"
    assert not list(dep.dagster_home.glob("**/*.db")), "a SQLite database appeared in DAGSTER_HOME"
