"""The job a dropped file launches: all four assets for the file's partition."""

import dagster as dg

from .assets import sales_assets

process_sales_file = dg.define_asset_job(
    name="process_sales_file",
    selection=dg.AssetSelection.assets(*sales_assets),
    # One process for the whole run: a subprocess per step would cost more
    # than the work itself on small files.
    executor_def=dg.in_process_executor,
    description="Process one dropped file: raw copy, cleaning, region summary and anomaly report.",
)
