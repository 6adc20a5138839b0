"""What the client reads for an object-store data root: where a run's recorded outputs put the root,
and the exit statuses of a store that refuses or does not answer (no server needed)."""

from __future__ import annotations

import pytest

from datatasker_pipeline.client.answers import data_root_of
from datatasker_pipeline.client.errors import StoreRefused, StoreUnavailable
from datatasker_pipeline.vocabulary import EXIT_UNREACHABLE, EXIT_USAGE

RUN = "6d1c4a52-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("recorded", "root"),
    [
        (f"s3://bucket/deployments/prod/outputs/{RUN}/cleaned.parquet", "s3://bucket/deployments/prod"),
        (f"s3://bucket/outputs/{RUN}/anomalies.csv", "s3://bucket"),
        (f"/srv/data/outputs/{RUN}/region_summary.csv", "/srv/data"),
        ("/srv/data/outputs/another-run/region_summary.csv", None),  # another run's folder
        (f"/srv/data/raw/{RUN}/sales.csv", None),  # not an output
        (f"s3://outputs/{RUN}/x.csv", None),  # no bucket left
        ("region_summary.csv", None),
    ],
)
def test_the_data_root_is_read_off_a_recorded_output_path(recorded, root):
    assert data_root_of(recorded, RUN) == root


def test_a_refusing_store_is_bad_usage_and_a_silent_one_is_unreachable():
    assert StoreRefused("x").exit_code == EXIT_USAGE
    assert StoreUnavailable("x").exit_code == EXIT_UNREACHABLE
