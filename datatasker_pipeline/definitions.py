"""The whole DataTasker system at a glance: one ``Definitions``."""

import dagster as dg

from .assets import sales_assets
from .jobs import process_sales_file
from .resources import DataRoot
from .schedules import nightly_retention, purge_old_results_job
from .sensors import failed_file_sensor, incoming_csv_sensor

defs = dg.Definitions(
    assets=sales_assets,
    jobs=[process_sales_file, purge_old_results_job],
    sensors=[incoming_csv_sensor, failed_file_sensor],
    schedules=[nightly_retention],
    resources={"data_root": DataRoot()},
    executor=dg.in_process_executor,
)
