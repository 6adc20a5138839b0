"""The whole DataTasker system at a glance: one ``Definitions``, assembled from ``defs/``."""

import dagster as dg

from .defs.resources import DataRoot
from .defs.retention.jobs import purge_old_results_job
from .defs.retention.schedules import nightly_retention
from .defs.sales.assets import sales_assets
from .defs.sales.jobs import process_sales_file
from .defs.sales.sensors import failed_file_sensor, incoming_csv_sensor

defs = dg.Definitions(
    assets=sales_assets,
    jobs=[process_sales_file, purge_old_results_job],
    sensors=[incoming_csv_sensor, failed_file_sensor],
    schedules=[nightly_retention],
    resources={"data_root": DataRoot()},
    # One process for the whole run: a subprocess per step would cost more
    # than the work itself on small files.
    executor=dg.in_process_executor,
)
