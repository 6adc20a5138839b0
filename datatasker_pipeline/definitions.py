"""The whole DataTasker system at a glance: one ``Definitions``."""

import dagster as dg

from .assets import sales_assets
from .jobs import process_sales_file
from .resources import DataRoot
from .sensors import incoming_csv_sensor

defs = dg.Definitions(
    assets=sales_assets,
    jobs=[process_sales_file],
    sensors=[incoming_csv_sensor],
    resources={"data_root": DataRoot()},
    executor=dg.in_process_executor,
)
