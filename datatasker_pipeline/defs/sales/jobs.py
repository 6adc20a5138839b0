"""The job a dropped file launches: all four assets for the file's partition."""

import dagster as dg

from ...vocabulary import JOB_NAME
from .assets import sales_assets

# No executor here: the one set on the Definitions (in-process) applies.
process_sales_file = dg.define_asset_job(
    name=JOB_NAME,
    selection=dg.AssetSelection.assets(*sales_assets),
    description="Process one dropped file: raw copy, cleaning, region summary and anomaly report.",
)
