"""The README's first command, as a newcomer runs it: `datatasker dev` serves the UI and processes the sample file."""

from __future__ import annotations

import pytest

from datatasker_pipeline.testing.host import drop_atomically, executable
from datatasker_pipeline.testing.stack import DagsterStack

pytestmark = pytest.mark.e2e


class DevCommand(DagsterStack):
    """`datatasker dev` (it becomes `dagster dev`: webserver and daemon) over a temporary instance and data root."""

    def commands(self) -> dict[str, list[str]]:
        return {"dev": [executable("datatasker"), "dev", "--host", self.host, "--port", str(self.port)]}


def test_datatasker_dev_processes_the_sample_and_then_dropped_files(tmp_path):
    with DevCommand(tmp_path, daemon=True) as dev:
        sample = dev.wait_for_finished_run("sales_sample.csv")
        assert sample["status"] == "SUCCESS", dev.all_log_tails()
        assert sorted(p.name for p in (dev.outputs / sample["runId"]).iterdir()) == [
            "anomalies.csv", "cleaned.parquet", "region_summary.csv", "rejected_rows.csv"
        ]
        drop_atomically(dev.incoming, "mine.csv", "region,revenue,quantity,discount\nEast,10,2,0.1\n")
        assert dev.wait_for_finished_run("mine.csv")["status"] == "SUCCESS"
